//! `hookline dashboard`: a local web page (served on loopback by default) to watch deployments, approve,
//! reject and roll back. The page is plain HTML/CSS/JS embedded in the binary; it polls the JSON API.
//!
//! Access (each rule is enforced by the router built in [`router`], for every route):
//! - `Host` must name the address the connection arrived on (`127.0.0.1:7788`; `localhost:7788` too when
//!   that address is loopback), or the request is refused with 421 before any handler runs: a DNS-rebinding
//!   page (`Host: evil.example:7788`) and a remote client claiming `Host: localhost:7788` get nothing.
//! - A session secret (random 256 bits at start) is printed once, inside the sign-in link
//!   `http://<address>/login?secret=<hex>`. Opening it sets a `SameSite=Strict; HttpOnly` cookie and
//!   redirects to `/` without the secret. Only the holder of that cookie gets the page's script and the API
//!   (compared in constant time); the page never sees the secret (HttpOnly), so no script can read it.
//! - A request from another origin is refused: `Sec-Fetch-Site` must be same-origin (or none) and `Origin`,
//!   when sent, must be this very origin (other ports of 127.0.0.1 are the same *site*, so SameSite alone
//!   would let them through). A POST must also carry [`CSRF_HEADER`], which a cross-origin page can only
//!   send after a CORS preflight this server never grants.
//! - A non-loopback `--bind` needs `--allow-remote` ([`check_bind`]).

pub mod api;
mod state;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::connect_info::Connected;
use axum::extract::{ConnectInfo, Query, Request, State};
use axum::handler::Handler;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::MethodRouter;
use axum::serve::IncomingStream;
use axum::Router;
use tokio::net::TcpListener;

use crate::aws::Aws;
use crate::error::{fail, R};
use crate::output::emit;
#[cfg(test)]
use state::Sample;
pub use state::{constant_time_eq, AppState};

/// `hookline dashboard`'s arguments.
#[derive(Debug, clap::Args)]
pub struct DashboardArgs {
    /// Port to listen on (0 picks a free one; the URL is printed).
    #[arg(long, default_value_t = 7788)]
    pub port: u16,
    /// Address to listen on; a non-loopback one needs --allow-remote.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: std::net::IpAddr,
    /// Allow a non-loopback --bind: whoever reaches the port with the printed sign-in link acts with
    /// your AWS credentials, over plain HTTP.
    #[arg(long)]
    pub allow_remote: bool,
    /// Open the sign-in link in the default browser.
    #[arg(long)]
    pub open: bool,
}

impl DashboardArgs {
    /// [`check_bind`]: run before anything, AWS included, starts.
    pub fn check_bind(&self) -> R<()> {
        check_bind(self.bind, self.allow_remote)
    }
}

/// `hookline dashboard`: serves until Ctrl-C.
pub async fn run(aws: Aws, args: &DashboardArgs) -> R<u8> {
    serve(aws, args.bind, args.port, args.open, args.allow_remote).await?;
    Ok(0)
}

const INDEX_HTML: &str = include_str!("assets/index.html");
const SIGN_IN_HTML: &str = include_str!("assets/sign-in.html");
const APP_JS: &str = include_str!("assets/app.js");
const STYLE_CSS: &str = include_str!("assets/style.css");

/// The header every POST of the page carries (any value). Not a secret: a cross-origin script cannot send a
/// custom header without a CORS preflight, which this server answers with no `Access-Control-Allow-*`.
pub const CSRF_HEADER: &str = "x-hookline-csrf";

/// The sign-in path; the printed link is `<origin>/login?secret=<hex>`.
pub const LOGIN_PATH: &str = "/login";

/// How long a deployment page keeps the server sampling its weights after the last view.
const WATCH_FOR: Duration = Duration::from_secs(300);
/// A random 256-bit session secret, hex.
pub fn session_token() -> R<String> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).map_err(|e| fail(format!("cannot draw a session secret: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The address a connection arrived on (the connect info of every request; `None` if the OS did not say).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Served(pub Option<SocketAddr>);

impl Connected<IncomingStream<'_, TcpListener>> for Served {
    fn connect_info(stream: IncomingStream<'_, TcpListener>) -> Served {
        Served(stream.io().local_addr().ok())
    }
}

/// The `Host` values a request that arrived on `local` may carry: that IP and port (an IPv4 client of an
/// IPv6 socket as the IPv4 address it used) and, on loopback, `localhost` at that port. Without a port
/// only when it is 80 (browsers leave the default port out). Never a DNS name other than `localhost`: a
/// rebinding attack needs its own name in `Host`.
pub fn hosts_for(local: SocketAddr) -> Vec<String> {
    let ip = local.ip().to_canonical();
    let mut names = vec![match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    }];
    if ip.is_loopback() {
        names.push("localhost".into());
    }
    let port = local.port();
    let mut hosts: Vec<String> = names.iter().map(|n| format!("{n}:{port}")).collect();
    if port == 80 {
        hosts.extend(names);
    }
    hosts
}

/// The host a request names: its `Host` header, or the authority of an absolute-form target; `None` when it
/// names none, several, or two different ones (no way to tell which one a proxy or the browser meant).
fn named_host(req: &Request) -> Option<&str> {
    let mut headers = req.headers().get_all(header::HOST).iter();
    let header = headers.next();
    if headers.next().is_some() {
        return None;
    }
    let header = match header {
        Some(v) => Some(v.to_str().ok()?),
        None => None,
    };
    let authority = req.uri().authority().map(|a| a.as_str());
    match (header, authority) {
        (Some(h), Some(a)) if !h.eq_ignore_ascii_case(a) => None,
        (Some(h), _) => Some(h),
        (None, a) => a,
    }
}

/// Refuses (421, no data) a request whose `Host` is not the address it arrived on. Runs before every route,
/// the fallback included.
async fn check_host(req: Request, next: Next) -> Response {
    let local = req.extensions().get::<ConnectInfo<Served>>().and_then(|c| c.0 .0);
    let ok = match (local, named_host(&req)) {
        (Some(local), Some(host)) => hosts_for(local).iter().any(|h| h.eq_ignore_ascii_case(host)),
        _ => false,
    };
    if ok {
        next.run(req).await
    } else {
        (
            StatusCode::MISDIRECTED_REQUEST,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8"), (header::CACHE_CONTROL, "no-store")],
            "refused: this dashboard answers only to the address it printed at start (Host header)\n",
        )
            .into_response()
    }
}

/// Why an API request is refused, or `Ok` for one from our own signed-in page. `host` is the (already
/// checked) `Host` of the request: `Origin` must be exactly `http://<host>`.
pub fn check_api(state: &AppState, method: &Method, headers: &HeaderMap, host: &str) -> Result<(), String> {
    if !state.signed_in(headers) {
        return Err("refused: not signed in (open the link `hookline dashboard` printed at start)".into());
    }
    if let Some(site) = headers.get("sec-fetch-site") {
        let site = site.to_str().unwrap_or_default();
        if !matches!(site, "same-origin" | "none") {
            return Err(format!("refused: Sec-Fetch-Site {site}"));
        }
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or_default();
        if !origin.eq_ignore_ascii_case(&format!("http://{host}")) {
            return Err(format!("refused: cross-origin request from Origin {origin:?}"));
        }
    }
    if !matches!(*method, Method::GET | Method::HEAD) && !headers.contains_key(CSRF_HEADER) {
        return Err(format!("refused: no {CSRF_HEADER} header (sent by the dashboard's own page)"));
    }
    Ok(())
}

/// The guard in front of every `/api/` route (after [`check_host`]).
async fn require_session(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let host = named_host(&req).unwrap_or_default().to_string();
    if let Err(why) = check_api(&state, req.method(), req.headers(), &host) {
        return api::refused((StatusCode::FORBIDDEN, why));
    }
    let mut response = next.run(req).await;
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// One route: its method, its path and its handler, built together so the tests can enumerate them.
pub struct Route {
    /// The method `handler` answers (the router reads the handler; the tests read this).
    #[cfg_attr(not(test), allow(dead_code))]
    pub method: Method,
    pub path: &'static str,
    handler: MethodRouter<Arc<AppState>>,
}

impl Route {
    fn get<H: Handler<T, Arc<AppState>>, T: 'static>(path: &'static str, handler: H) -> Route {
        Route { method: Method::GET, path, handler: axum::routing::get(handler) }
    }
    fn post<H: Handler<T, Arc<AppState>>, T: 'static>(path: &'static str, handler: H) -> Route {
        Route { method: Method::POST, path, handler: axum::routing::post(handler) }
    }
    /// Routes under `/api/` need the session ([`require_session`]); the others are the sign-in, the page
    /// (which serves the app only to a signed-in browser) and the static assets (no data in them).
    pub fn is_api(&self) -> bool {
        self.path.starts_with("/api/")
    }
}

/// Every route the dashboard serves; [`router`] is built from this list and nothing else.
pub fn routes() -> Vec<Route> {
    vec![
        Route::get("/", index),
        Route::get(LOGIN_PATH, login),
        Route::get("/app.js", || async { asset("text/javascript; charset=utf-8", APP_JS) }),
        Route::get("/style.css", || async { asset("text/css; charset=utf-8", STYLE_CSS) }),
        Route::get("/api/identity", api::identity),
        Route::get("/api/deployments", api::list),
        Route::get("/api/deployments/{id}", api::detail),
        Route::post("/api/deployments/{id}/approve", api::approve),
        Route::post("/api/deployments/{id}/reject", api::reject),
        Route::post("/api/deployments/{id}/rollback", api::rollback),
    ]
}

/// The routes behind the guards: [`check_host`] on everything (fallback included), [`require_session`] on
/// `/api/`. The server must be started with connect info [`Served`] (`into_make_service_with_connect_info`);
/// without it every request is refused.
pub fn router(state: Arc<AppState>) -> Router {
    let (mut public, mut api) = (Router::new(), Router::new());
    for route in routes() {
        if route.is_api() {
            api = api.route(route.path, route.handler);
        } else {
            public = public.route(route.path, route.handler);
        }
    }
    public
        .merge(api.route_layer(middleware::from_fn_with_state(state.clone(), require_session)))
        .fallback(|| async { (StatusCode::NOT_FOUND, "not found\n") })
        .layer(middleware::from_fn(check_host))
        .with_state(state)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "no-store")], body).into_response()
}

/// Headers of the HTML pages: a strict CSP (scripts and styles from here only, no framing), no referrer (a
/// sign-in URL must not travel), never cached.
fn page(status: StatusCode, html: &'static str) -> Response {
    let csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
               connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
    (
        status,
        [
            (header::CONTENT_SECURITY_POLICY, csp),
            (header::X_FRAME_OPTIONS, "DENY"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        Html(html),
    )
        .into_response()
}

/// `/`: the app for a signed-in browser; otherwise a page that says to open the printed link (no script,
/// no data, no secret).
async fn index(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if state.signed_in(&headers) {
        page(StatusCode::OK, INDEX_HTML)
    } else {
        page(StatusCode::FORBIDDEN, SIGN_IN_HTML)
    }
}

#[derive(Debug, serde::Deserialize)]
struct SignIn {
    secret: Option<String>,
}

/// `GET /login?secret=<hex>`: the right secret sets the session cookie and redirects to `/` (303, so the
/// secret leaves the address bar); a wrong or missing one gets the sign-in page.
async fn login(State(state): State<Arc<AppState>>, Query(q): Query<SignIn>) -> Response {
    let right = q.secret.is_some_and(|s| constant_time_eq(s.as_bytes(), state.secret.as_bytes()));
    if !right {
        return page(StatusCode::FORBIDDEN, SIGN_IN_HTML);
    }
    let mut response = Redirect::to("/").into_response();
    let headers = response.headers_mut();
    match HeaderValue::from_str(&state.session_cookie()) {
        Ok(cookie) => headers.insert(header::SET_COOKIE, cookie),
        Err(e) => return api::refused((StatusCode::INTERNAL_SERVER_ERROR, format!("session cookie: {e}"))),
    };
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Refuses a non-loopback `--bind` unless `--allow-remote` says the operator means it.
pub fn check_bind(bind: IpAddr, allow_remote: bool) -> R<()> {
    if bind.to_canonical().is_loopback() || allow_remote {
        return Ok(());
    }
    Err(fail(format!(
        "--bind {bind} is not a loopback address: anyone who can reach that port and gets the sign-in link \
         could approve, reject and roll back deployments with your AWS credentials, over plain HTTP. \
         Pass --allow-remote to do so anyway, or keep the default --bind 127.0.0.1"
    )))
}

/// The origin to print for a server bound to `addr`: itself, or loopback for an unspecified (any) address.
fn printed_origin(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, addr.port()))
}

/// Reads the weights of recently viewed, running deployments every second (the chart's points).
async fn sample_loop(state: Arc<AppState>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        sample_round(&state).await;
    }
}

/// One round of the sampler over the watched deployments. A deployment whose weights cannot be
/// read is no longer sampled: an ECS deployment that ended under the page (rolled back, its
/// revision without load balancers) would print the same error every second until the page's
/// next read unwatched it. The page's next read watches it again while it runs; the others are
/// sampled meanwhile, and the page shows the error of its own request.
async fn sample_round(state: &AppState) {
    let ids: Vec<String> = match state.watched.lock() {
        Ok(mut w) => {
            w.retain(|_, at| at.elapsed() < WATCH_FOR);
            w.keys().cloned().collect()
        }
        Err(_) => vec![],
    };
    for id in ids {
        if let Err(e) = api::sample(state, &id).await {
            state.unwatch(&id);
            eprintln!("dashboard: weights of {id}: {} (not sampled until its page reads it again)", e.0);
        }
    }
}

/// Serves until Ctrl-C. A non-loopback `bind` needs `allow_remote` (refused before anything listens).
pub async fn serve(aws: Aws, bind: IpAddr, port: u16, open: bool, allow_remote: bool) -> R<()> {
    check_bind(bind, allow_remote)?;
    let listener = TcpListener::bind((bind, port))
        .await
        .map_err(|e| fail(format!("cannot listen on {bind}:{port}: {e} (pick another --port)")))?;
    let addr = listener.local_addr().map_err(|e| fail(format!("cannot read the bound address: {e}")))?;
    let state = Arc::new(AppState::new(aws, session_token()?, addr));
    let origin = printed_origin(addr);
    let link = format!("{origin}{LOGIN_PATH}?secret={}", state.secret);
    if !addr.ip().to_canonical().is_loopback() {
        let elsewhere = if addr.ip().is_unspecified() {
            format!(
                " From another machine, open the link with one of this machine's IP addresses in place of {} \
                 (the dashboard answers to IP addresses, not to host names).",
                if addr.is_ipv4() { "127.0.0.1" } else { "[::1]" }
            )
        } else {
            String::new()
        };
        eprintln!(
            "hookline dashboard: WARNING: listening on {addr} (--allow-remote), plain HTTP. Anyone who can reach \
             this port and has the sign-in link below can see your deployments and approve, reject and roll \
             them back with your AWS credentials; the link and the session cookie cross the network \
             unencrypted.{elsewhere}"
        );
    }
    emit(&format!("hookline dashboard: open {link}  (Ctrl-C to stop)"));
    emit("  This link signs a browser in (the secret changes at every start); do not share it.");
    if open {
        open_browser(&link);
    }
    tokio::spawn(sample_loop(state.clone()));
    axum::serve(listener, router(state).into_make_service_with_connect_info::<Served>())
        .with_graceful_shutdown(async {
            if let Err(e) = tokio::signal::ctrl_c().await {
                eprintln!("hookline dashboard: cannot wait for Ctrl-C ({e}); stop it with a signal");
                std::future::pending::<()>().await;
            }
        })
        .await
        .map_err(|e| fail(format!("dashboard server: {e}")))
}

fn open_browser(url: &str) {
    let opener = if cfg!(target_os = "macos") { "open" } else { "xdg-open" };
    if let Err(e) = std::process::Command::new(opener).arg(url).spawn() {
        eprintln!("hookline dashboard: cannot open a browser with {opener} ({e}); open the link printed above");
    }
}

#[cfg(test)]
mod tests;
