//! The dashboard API: the session token guard (refused/accepted, through the real router), and no task token
//! in any JSON it returns.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Request, StatusCode};
use serde_json::json;
use tower::ServiceExt;

use super::*;
use crate::history::{Event, Tracker};

const TOKEN: &str = "0123456789abcdef0123456789abcdef";
const SECRET_TASK_TOKEN: &str = "AQCEAAAAKgAAAAMAAAAAAAAAAZsecret-task-token";

fn hosts() -> Vec<String> {
    vec!["127.0.0.1:7788".into(), "localhost:7788".into()]
}

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.insert(*k, HeaderValue::from_str(v).expect("test header"));
    }
    h
}

#[test]
fn a_post_needs_the_session_token() {
    let h = hosts();
    assert!(check_post(&headers(&[("host", "127.0.0.1:7788")]), TOKEN, &h).unwrap_err().contains("no session token"));
    let wrong = headers(&[("host", "127.0.0.1:7788"), (TOKEN_HEADER, "0123456789abcdef0123456789abcdeX")]);
    assert!(check_post(&wrong, TOKEN, &h).unwrap_err().contains("wrong session token"));
    let short = headers(&[("host", "127.0.0.1:7788"), (TOKEN_HEADER, "0123")]);
    assert!(check_post(&short, TOKEN, &h).is_err());
    let good = headers(&[("host", "127.0.0.1:7788"), (TOKEN_HEADER, TOKEN), ("origin", "http://127.0.0.1:7788")]);
    assert_eq!(check_post(&good, TOKEN, &h), Ok(()));
    let no_origin = headers(&[("host", "localhost:7788"), (TOKEN_HEADER, TOKEN)]);
    assert_eq!(check_post(&no_origin, TOKEN, &h), Ok(()));
}

#[test]
fn cross_site_and_rebound_hosts_are_refused_even_with_the_token() {
    let h = hosts();
    let other_origin =
        headers(&[("host", "127.0.0.1:7788"), (TOKEN_HEADER, TOKEN), ("origin", "https://evil.example")]);
    assert!(check_post(&other_origin, TOKEN, &h).unwrap_err().contains("cross-site"));
    let rebound = headers(&[("host", "evil.example:7788"), (TOKEN_HEADER, TOKEN)]);
    assert!(check_post(&rebound, TOKEN, &h).unwrap_err().contains("Host"));
    let cross = headers(&[("host", "127.0.0.1:7788"), (TOKEN_HEADER, TOKEN), ("sec-fetch-site", "cross-site")]);
    assert!(check_post(&cross, TOKEN, &h).unwrap_err().contains("Sec-Fetch-Site"));
}

#[test]
fn constant_time_eq_compares_whole_strings() {
    assert!(constant_time_eq(b"abc", b"abc"));
    assert!(!constant_time_eq(b"abc", b"abd"));
    assert!(!constant_time_eq(b"abc", b"abcd"));
    assert!(!constant_time_eq(b"", b"a"));
}

#[test]
fn session_tokens_are_random_256_bit_hex() {
    let a = session_token().expect("token");
    let b = session_token().expect("token");
    assert_eq!(a.len(), 64);
    assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
    assert_ne!(a, b);
}

/// A state whose AWS endpoint answers nothing: a request that passes the guard fails at AWS (502/409), one that
/// does not is refused (403) before any AWS call.
async fn state() -> Arc<AppState> {
    let aws = crate::aws::Aws::connect(crate::aws::Settings {
        endpoint_url: Some("http://127.0.0.1:9".into()),
        region: Some("us-east-1".into()),
        state_machine_prefix: "hookline".into(),
        plan_parameter_prefix: "/hookline".into(),
        ..Default::default()
    })
    .await
    .expect("config");
    let addr: SocketAddr = "127.0.0.1:7788".parse().expect("addr");
    Arc::new(AppState::new(aws, TOKEN.into(), addr))
}

fn post(path: &str, token: Option<&str>, origin: Option<&str>) -> Request<Body> {
    let mut b = Request::builder().method("POST").uri(path).header("host", "127.0.0.1:7788");
    if let Some(t) = token {
        b = b.header(TOKEN_HEADER, t);
    }
    if let Some(o) = origin {
        b = b.header("origin", o);
    }
    b.header("content-type", "application/json").body(Body::from("{}")).expect("request")
}

#[tokio::test]
async fn the_router_refuses_posts_without_the_token_and_accepts_them_with_it() {
    std::env::set_var("AWS_ACCESS_KEY_ID", "test");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "test");
    let s = state().await;
    for verb in ["approve", "reject", "rollback"] {
        let path = format!("/api/deployments/d-ABCDEF123/{verb}");
        let r = router(s.clone()).oneshot(post(&path, None, None)).await.expect("response");
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{verb} without token");
        let r = router(s.clone()).oneshot(post(&path, Some("nope"), None)).await.expect("response");
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{verb} with a wrong token");
        let r = router(s.clone()).oneshot(post(&path, Some(TOKEN), Some("http://evil.example"))).await.expect("resp");
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{verb} cross-site");
        // With the token the request reaches the verb, which fails at the unreachable AWS endpoint.
        let r = router(s.clone()).oneshot(post(&path, Some(TOKEN), Some("http://127.0.0.1:7788"))).await.expect("r");
        assert_ne!(r.status(), StatusCode::FORBIDDEN, "{verb} with the token");
        assert!(r.status().is_client_error() || r.status().is_server_error());
    }
    // GET is not a way around it.
    let r = router(s.clone())
        .oneshot(Request::builder().uri("/api/deployments/d-ABCDEF123/approve").body(Body::empty()).expect("req"))
        .await
        .expect("response");
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn the_page_embeds_the_session_token() {
    let s = state().await;
    let r = router(s).oneshot(Request::builder().uri("/").body(Body::empty()).expect("req")).await.expect("resp");
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers().get("content-security-policy").is_some());
    let body = axum::body::to_bytes(r.into_body(), 1 << 20).await.expect("body");
    let page = String::from_utf8_lossy(&body);
    assert!(page.contains(&format!("content=\"{TOKEN}\"")), "token not embedded");
    assert!(!page.contains("{{SESSION_TOKEN}}"));
}

fn ev(id: i64, kind: &str) -> Event {
    Event { id, ts: 1_700_000_000 + id, kind: kind.into(), ..Event::default() }
}

/// A canary history waiting on an approval whose task token is [`SECRET_TASK_TOKEN`], then one decided.
fn waiting_history() -> Vec<Event> {
    let message = json!({
        "task_token": SECRET_TASK_TOKEN, "step_index": 1, "step": {"kind": "approval", "timeout_seconds": 120,
        "on_timeout": "rollback"}, "approve": "hookline approve d-ABCDEF123", "reject": "hookline reject d-ABCDEF123"
    });
    let params = json!({ "TopicArn": "arn:aws:sns:us-east-1:123456789012:t", "Message": message.to_string() });
    let mut entered = ev(2, "TaskStateEntered");
    entered.name = Some("RequestApproval".into());
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
    let status = crate::status::Status {
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
        pending_approval: Some(crate::status::Pending {
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
        status: "RUNNING".into(),
        events,
    };
    let g = crate::status::Gathered { status, canary: Some(canary), post: None, document: None };
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
    shift.name = Some("ShiftWeight".into());
    shift.input = Some(json!({"state": {"index": 0}, "step": step}).to_string());
    let mut bake = ev(3, "TaskStateEntered");
    bake.name = Some("Bake".into());
    bake.input = Some(json!({"state": {"index": 0}, "step": step}).to_string());
    let mut failed = ev(4, "LambdaFunctionFailed");
    failed.error = Some("HealthCheckFailed".into());
    failed.cause = Some(json!({"errorMessage": "health check failed: alarm web-5xx: state ALARM"}).to_string());
    let mut rollback = ev(5, "TaskStateEntered");
    rollback.name = Some("Rollback".into());
    rollback.input = Some(json!({"error": {"Error": "HealthCheckFailed", "Cause": "alarm"}}).to_string());
    let marks = crate::history::marks(&[ev(1, "ExecutionStarted"), shift, bake, failed, rollback]);
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
