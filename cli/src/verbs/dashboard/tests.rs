//! The dashboard's access rules through the real router (every route enumerated from [`routes`], so a new
//! one cannot escape): `Host` checked everywhere, the session cookie on the API, the sign-in link and its
//! cookie, CSRF on POSTs, the remote-bind refusal; and no task token in any JSON it returns.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use clap::Parser;
use serde_json::json;
use tower::ServiceExt;

use super::*;
use crate::execution_history::Tracker;
use hookline::ports::ExecutionEvent;

const SECRET: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const SECRET_TASK_TOKEN: &str = "AQCEAAAAKgAAAAMAAAAAAAAAAZsecret-task-token";
const LOCAL: &str = "127.0.0.1:7788";
const ID: &str = "d-ABCDEF123";
/// Every method a client could send (the router answers only some; the guards must run for all).
const METHODS: [Method; 7] =
    [Method::GET, Method::HEAD, Method::POST, Method::PUT, Method::DELETE, Method::OPTIONS, Method::PATCH];

fn session() -> String {
    format!("hookline_session_7788={SECRET}")
}

fn concrete(path: &str) -> String {
    path.replace("{id}", ID)
}

/// A request as the server would see it: arrived on `local` (its connect info), with `headers`.
fn request(method: Method, uri: &str, local: Option<&str>, headers: &[(&str, &str)]) -> Request<Body> {
    let mut b = Request::builder().method(method).uri(uri);
    if let Some(local) = local {
        b = b.extension(ConnectInfo(Served(Some(local.parse().expect("address")))));
    }
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(Body::from("{}")).expect("request")
}

/// What our own signed-in page sends (so that only the thing a test changes is wrong).
fn own_page(host: &str, cookie: &str) -> Vec<(&'static str, String)> {
    vec![
        ("host", host.to_string()),
        ("cookie", cookie.to_string()),
        ("origin", format!("http://{host}")),
        ("sec-fetch-site", "same-origin".into()),
        (CSRF_HEADER, "1".into()),
        ("content-type", "application/json".into()),
    ]
}

fn pairs<'a>(v: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    v.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

async fn send(s: &Arc<AppState>, req: Request<Body>) -> (StatusCode, HeaderMap, String) {
    let r = router(s.clone()).oneshot(req).await.expect("response");
    let (status, headers) = (r.status(), r.headers().clone());
    let body = axum::body::to_bytes(r.into_body(), 1 << 20).await.expect("body");
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

/// A state whose AWS endpoint answers nothing: a request that passes the guards fails at AWS (502/409), one
/// that does not is refused (421/403) before any AWS call.
async fn state() -> Arc<AppState> {
    state_at("http://127.0.0.1:9").await
}

/// A state whose AWS calls go to `endpoint`.
async fn state_at(endpoint: &str) -> Arc<AppState> {
    std::env::set_var("AWS_ACCESS_KEY_ID", "test");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "test");
    let aws = crate::aws::Aws::connect(crate::aws::Settings {
        endpoint_url: Some(endpoint.into()),
        region: Some("us-east-1".into()),
        state_machine_prefix: "hookline".into(),
        plan_parameter_prefix: "/hookline".into(),
        ..Default::default()
    })
    .await
    .expect("config");
    Arc::new(AppState::new(aws, SECRET.into(), LOCAL.parse().expect("addr")))
}

#[test]
fn constant_time_eq_compares_whole_strings() {
    assert!(constant_time_eq(b"abc", b"abc"));
    assert!(!constant_time_eq(b"abc", b"abd"));
    assert!(!constant_time_eq(b"abc", b"abcd"));
    assert!(!constant_time_eq(b"", b"a"));
}

#[test]
fn session_secrets_are_random_256_bit_hex() {
    let a = session_token().expect("secret");
    let b = session_token().expect("secret");
    assert_eq!(a.len(), 64);
    assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
    assert_ne!(a, b);
}

#[test]
fn hosts_are_the_address_the_connection_arrived_on() {
    let at = |a: &str| hosts_for(a.parse().expect("addr"));
    assert_eq!(at("127.0.0.1:7788"), ["127.0.0.1:7788", "localhost:7788"]);
    assert_eq!(at("[::1]:7788"), ["[::1]:7788", "localhost:7788"]);
    // A remote connection: its IP only, never `localhost` (the `--bind 0.0.0.0` + `Host: localhost` attack).
    assert_eq!(at("10.0.0.5:7788"), ["10.0.0.5:7788"]);
    // An IPv4 client of an IPv6 socket names the IPv4 address.
    assert_eq!(at("[::ffff:10.0.0.5]:7788"), ["10.0.0.5:7788"]);
    assert_eq!(at("127.0.0.1:80"), ["127.0.0.1:80", "localhost:80", "127.0.0.1", "localhost"]);
}

#[tokio::test]
async fn every_route_refuses_a_foreign_host_before_anything_else() {
    let s = state().await;
    let mut paths: Vec<String> = routes().iter().map(|r| concrete(r.path)).collect();
    paths.push("/no-such-page".into());
    paths.push(format!("{LOGIN_PATH}?secret={SECRET}"));
    // (the address the connection arrived on, the Host it names, the request target)
    let foreign: Vec<(Option<&str>, Option<&str>, Option<&str>)> = vec![
        (Some(LOCAL), Some("evil.example:7788"), None), // DNS rebinding
        (Some(LOCAL), Some("evil.example"), None),
        (Some(LOCAL), Some("127.0.0.1:7789"), None), // another port
        (Some(LOCAL), Some("localhost.:7788"), None),
        (Some(LOCAL), None, None),                             // no Host at all
        (Some("10.0.0.5:7788"), Some("localhost:7788"), None), // --bind 0.0.0.0, a remote client lying
        (Some("10.0.0.5:7788"), Some("127.0.0.1:7788"), None),
        (Some(LOCAL), Some(LOCAL), Some("http://evil.example:7788")), // absolute-form target elsewhere
        (None, Some(LOCAL), None),                                    // no connect info: refuse rather than guess
    ];
    for path in &paths {
        for method in METHODS {
            for (local, host, target) in &foreign {
                let uri = format!("{}{path}", target.unwrap_or(""));
                // Everything else is what the signed-in page sends: the Host alone must refuse it.
                let mut headers = own_page(host.unwrap_or(LOCAL), &session());
                if host.is_none() {
                    headers.retain(|(k, _)| *k != "host");
                }
                let (status, _, body) = send(&s, request(method.clone(), &uri, *local, &pairs(&headers))).await;
                let what = format!("{method} {uri} arriving on {local:?} with Host {host:?}");
                assert_eq!(status, StatusCode::MISDIRECTED_REQUEST, "{what}: {body}");
                assert!(!body.contains(SECRET) && !body.contains('{'), "{what}: {body}");
            }
        }
    }
    // Two Host headers, one of them ours.
    let mut req = request(Method::GET, "/", Some(LOCAL), &[("host", LOCAL), ("cookie", &session())]);
    req.headers_mut().append("host", "evil.example:7788".parse().expect("value"));
    assert_eq!(send(&s, req).await.0, StatusCode::MISDIRECTED_REQUEST);
}

#[tokio::test]
async fn every_route_answers_its_own_host() {
    let s = state().await;
    for route in routes() {
        let hosts: &[(&str, &str)] = if route.is_api() {
            &[(LOCAL, "localhost:7788")] // each API call waits for the unreachable AWS endpoint: one host
        } else {
            &[(LOCAL, LOCAL), (LOCAL, "localhost:7788"), (LOCAL, "LOCALHOST:7788"), ("10.0.0.5:7788", "10.0.0.5:7788")]
        };
        for (local, host) in hosts {
            let mut uri = concrete(route.path);
            if route.path == LOGIN_PATH {
                uri = format!("{uri}?secret={SECRET}");
            }
            let (status, _, body) =
                send(&s, request(route.method.clone(), &uri, Some(local), &pairs(&own_page(host, &session())))).await;
            let what = format!("{} {uri} Host {host}", route.method);
            assert!(
                ![StatusCode::MISDIRECTED_REQUEST, StatusCode::FORBIDDEN, StatusCode::NOT_FOUND].contains(&status)
                    && status != StatusCode::METHOD_NOT_ALLOWED,
                "{what}: {status} {body}"
            );
        }
    }
}

#[tokio::test]
async fn the_page_without_the_session_shows_no_secret_and_no_data() {
    let s = state().await;
    let wrong = format!("hookline_session_7788={}", "f".repeat(64));
    let other_port = format!("hookline_session_7789={SECRET}");
    for cookie in [None, Some(wrong.as_str()), Some(other_port.as_str())] {
        let mut headers = vec![("host", LOCAL)];
        headers.extend(cookie.map(|c| ("cookie", c)));
        let (status, h, page) = send(&s, request(Method::GET, "/", Some(LOCAL), &headers)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{cookie:?}");
        assert!(!page.contains(SECRET), "{cookie:?}: the secret is on the page");
        assert!(!page.contains("<script") && !page.contains("app.js"), "{cookie:?}: the app is served: {page}");
        assert!(page.contains("/login?secret="), "{cookie:?}: the page says what to open: {page}");
        assert!(h.get("set-cookie").is_none());
    }
    // A wrong or missing secret signs nobody in.
    for uri in [format!("{LOGIN_PATH}?secret={}", "f".repeat(64)), LOGIN_PATH.into(), format!("{LOGIN_PATH}?secret=")] {
        let (status, h, page) = send(&s, request(Method::GET, &uri, Some(LOCAL), &[("host", LOCAL)])).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{uri}");
        assert!(h.get("set-cookie").is_none(), "{uri}");
        assert!(!page.contains(SECRET));
    }
}

#[tokio::test]
async fn the_sign_in_link_sets_a_strict_http_only_cookie_and_leaves_the_address_bar() {
    let s = state().await;
    let uri = format!("{LOGIN_PATH}?secret={SECRET}");
    let (status, h, _) = send(&s, request(Method::GET, &uri, Some(LOCAL), &[("host", LOCAL)])).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(h.get("location").and_then(|v| v.to_str().ok()), Some("/"), "back to / without the secret");
    let cookie = h.get("set-cookie").and_then(|v| v.to_str().ok()).expect("a session cookie");
    let mut parts = cookie.split(';').map(str::trim);
    assert_eq!(parts.next(), Some(session().as_str()));
    let attrs: Vec<&str> = parts.collect();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(attrs.contains(&attr), "{attr} missing from {cookie}");
    }
    assert_eq!(h.get("referrer-policy").and_then(|v| v.to_str().ok()), Some("no-referrer"));
    // With that cookie, `/` is the app, which still does not carry the secret (the script never needs it).
    let (status, h, page) =
        send(&s, request(Method::GET, "/", Some(LOCAL), &[("host", LOCAL), ("cookie", &session())])).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("<script src=\"/app.js\">"), "{page}");
    assert!(!page.contains(SECRET));
    assert!(h.get("content-security-policy").is_some());
}

#[tokio::test]
async fn every_api_route_needs_the_session_and_our_own_origin() {
    let s = state().await;
    let api_routes: Vec<Route> = routes().into_iter().filter(Route::is_api).collect();
    assert!(api_routes.len() >= 6, "the API routes are enumerated");
    let wrong = format!("hookline_session_7788={}", "0".repeat(64));
    let other_port = format!("hookline_session_7789={SECRET}");
    for route in &api_routes {
        let uri = concrete(route.path);
        let own = own_page(LOCAL, &session());
        let variants: Vec<(&str, Vec<(&'static str, String)>)> = vec![
            ("no cookie", own.iter().filter(|(k, _)| *k != "cookie").cloned().collect()),
            ("a wrong secret", own_page(LOCAL, &wrong)),
            ("another port's cookie", own_page(LOCAL, &other_port)),
            ("a same-site page on another port", {
                let mut h = own.clone();
                h.retain(|(k, _)| *k != "origin" && *k != "sec-fetch-site");
                h.push(("origin", "http://127.0.0.1:8000".into()));
                h.push(("sec-fetch-site", "same-site".into()));
                h
            }),
            ("Sec-Fetch-Site cross-site", {
                let mut h: Vec<_> = own.iter().filter(|(k, _)| *k != "sec-fetch-site").cloned().collect();
                h.push(("sec-fetch-site", "cross-site".into()));
                h
            }),
            ("another Origin", {
                let mut h: Vec<_> = own.iter().filter(|(k, _)| *k != "origin").cloned().collect();
                h.push(("origin", "http://localhost:7788".into()));
                h
            }),
        ];
        for (what, headers) in variants {
            let (status, _, body) = send(&s, request(route.method.clone(), &uri, Some(LOCAL), &pairs(&headers))).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{} {uri} with {what}: {body}", route.method);
            let json: serde_json::Value = serde_json::from_str(&body).expect("a JSON error");
            assert_eq!(json.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>()), Some(vec!["error".into()]));
            assert!(json["error"].as_str().is_some_and(|e| e.starts_with("refused:")), "{body}");
        }
    }
}

#[tokio::test]
async fn posts_need_the_csrf_header_and_reach_the_verb_with_it() {
    let s = state().await;
    for verb in ["approve", "reject", "rollback"] {
        let path = format!("/api/deployments/{ID}/{verb}");
        let without: Vec<_> = own_page(LOCAL, &session()).into_iter().filter(|(k, _)| *k != CSRF_HEADER).collect();
        let (status, _, body) = send(&s, request(Method::POST, &path, Some(LOCAL), &pairs(&without))).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{verb} without {CSRF_HEADER}");
        assert!(body.contains(CSRF_HEADER), "{body}");
        // With everything the page sends, the request reaches the verb, which fails at the unreachable AWS.
        let (status, _, body) =
            send(&s, request(Method::POST, &path, Some(LOCAL), &pairs(&own_page(LOCAL, &session())))).await;
        assert!(status.is_client_error() || status.is_server_error(), "{verb}: {status}");
        assert_ne!(status, StatusCode::FORBIDDEN, "{verb} from our own page: {body}");
        // A client without Origin / Sec-Fetch-Site (curl with the cookie) is not a browser page: accepted.
        let bare: Vec<_> = without.iter().filter(|(k, _)| *k == "host" || *k == "cookie").cloned().collect();
        let mut bare = bare;
        bare.push((CSRF_HEADER, "1".into()));
        let (status, _, _) = send(&s, request(Method::POST, &path, Some(LOCAL), &pairs(&bare))).await;
        assert_ne!(status, StatusCode::FORBIDDEN, "{verb} from curl with the cookie");
    }
    // GET is not a way around it.
    let (status, _, _) = send(
        &s,
        request(
            Method::GET,
            &format!("/api/deployments/{ID}/approve"),
            Some(LOCAL),
            &pairs(&own_page(LOCAL, &session())),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}

/// The deployment routes take every controller's id, an ECS service deployment ARN percent-encoded the way
/// the page sends it (`encodeURIComponent`: `/` as `%2F`, `:` as `%3A`), or with `:` left as it is.
#[tokio::test]
async fn the_deployment_routes_take_every_controllers_id() {
    let s = state().await;
    let arn = "arn:aws:ecs:us-east-1:123456789012:service-deployment/demo/api/Ab-9_xYz0123456789abcd";
    let slash_only = arn.replace('/', "%2F");
    let ids = [ID.to_string(), "dns-20261206-084016-abcd".into(), encoded(arn), slash_only];
    // All at once: each one waits out the SDK's retries against the closed port.
    let mut requests = tokio::task::JoinSet::new();
    for route in routes().iter().filter(|r| r.path.contains("{id}")) {
        for id in &ids {
            let (s, method, uri) = (s.clone(), route.method.clone(), route.path.replace("{id}", id));
            requests.spawn(async move {
                let req = request(method.clone(), &uri, Some(LOCAL), &pairs(&own_page(LOCAL, &session())));
                let (status, _, body) = send(&s, req).await;
                (method, uri, status, body)
            });
        }
    }
    let mut answered = 0;
    while let Some(answer) = requests.join_next().await {
        let (method, uri, status, body) = answer.expect("a request task");
        // Past the id check, the verb fails at the unreachable AWS endpoint (502 reading, 409 acting).
        assert!(matches!(status, StatusCode::BAD_GATEWAY | StatusCode::CONFLICT), "{method} {uri}: {status} {body}");
        answered += 1;
    }
    assert_eq!(answered, 4 * ids.len(), "every deployment route, every id");
}

/// A malformed id on any deployment route: 400 with the id named, and no connection to AWS at all (the
/// endpoint is a listener that would see one).
#[tokio::test]
async fn a_malformed_deployment_id_is_a_400_naming_it_before_any_aws_call() {
    let aws = std::net::TcpListener::bind("127.0.0.1:0").expect("a listener");
    aws.set_nonblocking(true).expect("nonblocking");
    let s = state_at(&format!("http://{}", aws.local_addr().expect("addr"))).await;
    let malformed = [
        "d-ABC",
        "d-ABCDEF123x",
        "D-ABCDEF123",
        "arn:aws:ecs:us-east-1:123456789012:service-deployment/demo/api",
        "arn:aws:ecs:us-east-1:123456789012:service-deployment/demo/api/x/../y",
        "arn:aws:ecs:us-east-1:123456789012:service/demo/api",
        "dns-20261206-0840-abcd",
        "../../etc/passwd",
        "d-ABCDEF123 ",
    ];
    for route in routes().iter().filter(|r| r.path.contains("{id}")) {
        for id in malformed {
            let uri = route.path.replace("{id}", &encoded(id));
            let req = request(route.method.clone(), &uri, Some(LOCAL), &pairs(&own_page(LOCAL, &session())));
            // The listener never answers: a request that reached it would wait, so waiting is failing.
            let answered = tokio::time::timeout(Duration::from_secs(10), send(&s, req)).await;
            let Ok((status, _, body)) = answered else { panic!("{} {uri} reached AWS", route.method) };
            assert_eq!(status, StatusCode::BAD_REQUEST, "{} {uri}: {body}", route.method);
            let json: serde_json::Value = serde_json::from_str(&body).expect("a JSON error");
            let error = json["error"].as_str().unwrap_or_default();
            assert!(error.contains(&format!("{id:?}")), "the error names {id:?}: {error}");
        }
    }
    match aws.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("a malformed id reached AWS: {other:?}"),
    }
}

/// `encodeURIComponent` of `id` (what the page's script sends).
fn encoded(id: &str) -> String {
    const COMPONENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'!')
        .remove(b'~')
        .remove(b'*')
        .remove(b'\'')
        .remove(b'(')
        .remove(b')');
    percent_encoding::utf8_percent_encode(id, COMPONENT).to_string()
}

#[test]
fn a_non_loopback_bind_needs_allow_remote() {
    for bind in ["0.0.0.0", "::", "192.168.1.5", "10.0.0.5"] {
        let ip: IpAddr = bind.parse().expect("ip");
        let e = check_bind(ip, false).expect_err(bind);
        assert!(e.0.contains("--allow-remote") && e.0.contains("AWS credentials"), "{}", e.0);
        assert_eq!(check_bind(ip, true), Ok(()));
    }
    for bind in ["127.0.0.1", "127.0.0.2", "::1", "::ffff:127.0.0.1"] {
        assert_eq!(check_bind(bind.parse().expect("ip"), false), Ok(()), "{bind}");
    }
}

/// `hookline dashboard --bind 0.0.0.0` through the CLI's own entry point: an error, and nothing listening.
#[tokio::test]
async fn the_cli_refuses_a_remote_bind_without_the_flag_and_starts_nothing() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
    let args = ["hookline", "--region", "us-east-1", "--endpoint-url", "http://127.0.0.1:9", "dashboard"];
    let cli =
        crate::verbs::Cli::try_parse_from(args.into_iter().chain(["--bind", "0.0.0.0", "--port", &port.to_string()]))
            .expect("arguments");
    let outcome = tokio::time::timeout(Duration::from_secs(10), crate::verbs::run(cli)).await;
    let Ok(Err(e)) = outcome else { panic!("expected an error at once, got {outcome:?}") };
    assert!(e.0.contains("--allow-remote"), "{}", e.0);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    assert!(std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err(), "something listens");
}

fn ev(id: i64, kind: &str) -> ExecutionEvent {
    ExecutionEvent { id, timestamp: 1_700_000_000 + id, kind: kind.into(), ..ExecutionEvent::default() }
}

/// A canary history waiting on an approval whose task token is [`SECRET_TASK_TOKEN`], then one decided.
fn waiting_history() -> Vec<ExecutionEvent> {
    let message = json!({
        "task_token": SECRET_TASK_TOKEN, "step_index": 1, "step": {"kind": "approval", "timeout_seconds": 120,
        "on_timeout": "rollback"}, "approve": "hookline approve d-ABCDEF123", "reject": "hookline reject d-ABCDEF123"
    });
    let params = json!({ "TopicArn": "arn:aws:sns:us-east-1:123456789012:t", "Message": message.to_string() });
    let mut entered = ev(2, "TaskStateEntered");
    entered.state_name = Some("RequestApproval".into());
    entered.input = Some(json!({"state": {"index": 1}, "step": message["step"]}).to_string());
    let mut scheduled = ev(3, "TaskScheduled");
    scheduled.parameters = Some(params.to_string());
    vec![ev(1, "ExecutionStarted"), entered, scheduled]
}

#[test]
fn no_task_token_in_the_deployment_json() {
    let events = waiting_history();
    let tracker = Tracker::over(&events);
    let pending = tracker.pending.clone().expect("the history waits on an approval");
    assert_eq!(pending.task_token, SECRET_TASK_TOKEN);
    let status = crate::verbs::status::Status {
        controller_pause: None,
        deployment_id: "d-ABCDEF123".into(),
        application: Some("web".into()),
        deployment_group: Some("web-prod".into()),
        status: "InProgress".into(),
        error: None,
        created: Some(1_700_000_000),
        completed: None,
        execution: None,
        step: None,
        weights: Some(hookline::traffic::Weights { blue: 90, green: 10 }),
        weights_error: None,
        health: None,
        pending_approval: Some(crate::verbs::status::Pending {
            approval: pending,
            approve: "hookline approve d-ABCDEF123".into(),
            reject: "hookline reject d-ABCDEF123".into(),
        }),
        approvals: vec![],
        judgements: vec![],
    };
    let canary = crate::aws::Execution {
        name: "d-ABCDEF123-BeforeAllowTraffic".into(),
        arn: "arn:aws:states:us-east-1:123456789012:execution:hookline-canary:d-ABCDEF123-BeforeAllowTraffic".into(),
        status: hookline::ports::RunStatus::Running,
        events,
    };
    let summary = hookline::lifecycle::DeploymentSummary {
        deployment_id: "d-ABCDEF123".into(),
        controller: hookline::plan::Controller::CodeDeploy,
        status: hookline::lifecycle::DeploymentStatus::Active,
        phase: Some(hookline::lifecycle::Phase::InProgress),
        rolling_back: false,
        status_word: "InProgress".into(),
        application: "web".into(),
        group: "web-prod".into(),
        created_at: Some(1_700_000_000),
        ended_at: None,
        message: None,
    };
    let g = crate::verbs::status::Gathered { status, summary, canary: Some(canary), post: None, document: None };
    let samples = vec![Sample { at_ms: 1_700_000_001_000, blue: 90, green: 10 }];
    let text = serde_json::to_string(&api::view(g, samples, 1_700_000_010)).expect("json");
    assert!(!text.contains(SECRET_TASK_TOKEN), "task token leaked: {text}");
    assert!(!text.contains("task_token"), "task_token field leaked: {text}");
    // The view does carry the approval and the marks (the test would pass vacuously otherwise).
    assert!(text.contains("\"pending_approval\":{"), "{text}");
    assert!(text.contains("approval  WAITING"), "{text}");
}

#[test]
fn marks_classify_step_bake_alarm_and_rollback_for_the_chart() {
    let step = json!({"kind": "weight", "weight": 10, "bake_seconds": 3});
    let mut shift = ev(2, "TaskStateEntered");
    shift.state_name = Some("ShiftWeight".into());
    shift.input = Some(json!({"state": {"index": 0}, "step": step}).to_string());
    let mut bake = ev(3, "TaskStateEntered");
    bake.state_name = Some("Bake".into());
    bake.input = Some(json!({"state": {"index": 0}, "step": step}).to_string());
    let mut failed = ev(4, "LambdaFunctionFailed");
    failed.error = Some("HealthCheckFailed".into());
    failed.cause = Some(json!({"errorMessage": "health check failed: alarm web-5xx: state ALARM"}).to_string());
    let mut rollback = ev(5, "TaskStateEntered");
    rollback.state_name = Some("Rollback".into());
    rollback.input = Some(json!({"error": {"Error": "HealthCheckFailed", "Cause": "alarm"}}).to_string());
    let marks = crate::execution_history::marks(&[ev(1, "ExecutionStarted"), shift, bake, failed, rollback]);
    let kinds: Vec<(&str, i64)> = marks.iter().map(|m| (m.kind.as_str(), m.at)).collect();
    assert_eq!(
        kinds,
        vec![("step", 1_700_000_002), ("bake", 1_700_000_003), ("alarm", 1_700_000_004), ("rollback", 1_700_000_005)],
        "{marks:?}"
    );
    assert_eq!(marks[1].label, "bake 3s");
    assert_eq!(marks[2].healthy, Some(false));
    assert_eq!((marks[0].green, marks[1].green, marks[3].green), (Some(10), None, Some(0)));
}

#[tokio::test]
async fn the_list_finds_the_ecs_native_services_by_their_plans_and_nothing_kept_beside_them() {
    use aws_sdk_ssm::operation::get_parameters_by_path::GetParametersByPathOutput;
    use aws_sdk_ssm::types::Parameter;
    use aws_smithy_mocks::mock;
    let param = |name: &str| Parameter::builder().name(name).value("{}").build();
    let first = mock!(aws_sdk_ssm::Client::get_parameters_by_path)
        .match_requests(|r| {
            r.path() == Some("/hookline/ecs") && r.recursive() == Some(true) && r.next_token().is_none()
        })
        .then_output(move || {
            GetParametersByPathOutput::builder()
                .parameters(param("/hookline/ecs/demo/web"))
                .parameters(param("/hookline/ecs/demo/api/last-release"))
                .next_token("page-2")
                .build()
        });
    let second = mock!(aws_sdk_ssm::Client::get_parameters_by_path)
        .match_requests(|r| r.next_token() == Some("page-2"))
        .then_output(move || {
            GetParametersByPathOutput::builder()
                .parameters(param("/hookline/ecs/demo/api"))
                .parameters(param("/hookline/ecs/orphan"))
                .build()
        });
    let aws = crate::aws::Aws::with_clients(hookline::testing::mocked_clients(&[&first, &second]));
    let services = api::ecs_services(&aws).await.expect("listed");
    assert_eq!(services, [("demo".to_string(), "api".to_string()), ("demo".to_string(), "web".to_string())]);
    assert_eq!((first.num_calls(), second.num_calls()), (1, 1));
    assert_eq!(api::ecs_service_of("/hookline/", "/hookline/ecs/c/s"), Some(("c".into(), "s".into())));
    assert_eq!(api::ecs_service_of("/hookline", "/other/ecs/c/s"), None);
    assert_eq!(api::ecs_service_of("/hookline", "/hookline/ecs//s"), None);
}

#[tokio::test]
async fn a_deployment_whose_weights_cannot_be_read_is_no_longer_sampled() {
    let s = state().await;
    s.watch("d-ABCDEF123");
    super::sample_round(&s).await;
    let watched = s.watched.lock().expect("lock").contains_key("d-ABCDEF123");
    assert!(!watched, "still sampled every second after its read failed");
}
