//! `hookline dashboard`: a local web page (served on loopback by default) to watch deployments, approve,
//! reject and roll back. The page is plain HTML/CSS/JS embedded in the binary; it polls the JSON API.
//!
//! Safety: every state-changing request is a POST carrying the per-session token (random at start,
//! embedded in the served page only), compared in constant time; `Host` must be the address served and
//! `Origin`, when a browser sends one, must be that same origin, so another site cannot drive the page's API
//! (a cross-site form cannot set the token header, and DNS rebinding fails the `Host` check).

pub mod api;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::aws::Aws;
use crate::{fail, R};

const INDEX_HTML: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const STYLE_CSS: &str = include_str!("assets/style.css");

/// The header the page sends its session token in.
pub const TOKEN_HEADER: &str = "x-hookline-token";

/// How long a deployment page keeps the server sampling its weights after the last view.
const WATCH_FOR: Duration = Duration::from_secs(300);
/// Samples kept per deployment (one a second: an hour).
const MAX_SAMPLES: usize = 3600;

/// One reading of production's weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Sample {
    /// Epoch milliseconds.
    pub at_ms: i64,
    pub blue: u8,
    pub green: u8,
}

/// What the handlers share.
pub struct AppState {
    pub aws: Aws,
    pub token: String,
    /// `Host` values this server answers to (`127.0.0.1:7788`, `localhost:7788`).
    pub hosts: Vec<String>,
    /// Weights read so far, per deployment.
    pub samples: Mutex<HashMap<String, Vec<Sample>>>,
    /// Deployments whose page was viewed, and when last.
    pub watched: Mutex<HashMap<String, Instant>>,
}

impl AppState {
    pub fn new(aws: Aws, token: String, addr: SocketAddr) -> AppState {
        let port = addr.port();
        let mut hosts = vec![format!("{addr}"), format!("localhost:{port}")];
        if addr.ip().is_loopback() {
            hosts.push(format!("127.0.0.1:{port}"));
            hosts.push(format!("[::1]:{port}"));
        }
        hosts.dedup();
        AppState { aws, token, hosts, samples: Mutex::default(), watched: Mutex::default() }
    }

    /// Records a reading (a repeat of the last one within the same second is dropped).
    pub fn record(&self, deployment_id: &str, sample: Sample) {
        let Ok(mut all) = self.samples.lock() else { return };
        let list = all.entry(deployment_id.to_string()).or_default();
        if list.last().is_some_and(|l| l.at_ms / 1000 == sample.at_ms / 1000) {
            return;
        }
        list.push(sample);
        if list.len() > MAX_SAMPLES {
            let extra = list.len() - MAX_SAMPLES;
            list.drain(..extra);
        }
    }

    pub fn samples_of(&self, deployment_id: &str) -> Vec<Sample> {
        self.samples.lock().map(|m| m.get(deployment_id).cloned().unwrap_or_default()).unwrap_or_default()
    }

    pub fn watch(&self, deployment_id: &str) {
        if let Ok(mut w) = self.watched.lock() {
            w.insert(deployment_id.to_string(), Instant::now());
        }
    }

    /// Stops sampling a deployment (it ended: its weights no longer move).
    pub fn unwatch(&self, deployment_id: &str) {
        if let Ok(mut w) = self.watched.lock() {
            w.remove(deployment_id);
        }
    }
}

/// A random 256-bit session token, hex.
pub fn session_token() -> R<String> {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).map_err(|e| fail(format!("cannot draw a session token: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Equal strings in time independent of where they differ (the token must not leak through timing).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Why a state-changing request is refused, or `Ok` when it carries the token from our own page.
pub fn check_post(headers: &HeaderMap, token: &str, hosts: &[String]) -> Result<(), String> {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default();
    if !hosts.iter().any(|h| h.eq_ignore_ascii_case(host)) {
        return Err(format!("refused: Host {host:?} is not this dashboard"));
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or_default();
        if !hosts.iter().any(|h| origin.eq_ignore_ascii_case(&format!("http://{h}"))) {
            return Err(format!("refused: cross-site request from Origin {origin:?}"));
        }
    }
    if let Some(site) = headers.get("sec-fetch-site").and_then(|s| s.to_str().ok()) {
        if !matches!(site, "same-origin" | "none") {
            return Err(format!("refused: Sec-Fetch-Site {site}"));
        }
    }
    let sent = headers.get(TOKEN_HEADER).map(|v| v.as_bytes()).unwrap_or_default();
    if sent.is_empty() {
        return Err(format!("refused: no session token ({TOKEN_HEADER} header)"));
    }
    if !constant_time_eq(sent, token.as_bytes()) {
        return Err("refused: wrong session token".into());
    }
    Ok(())
}

/// The routes.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/app.js", get(|| async { asset("text/javascript; charset=utf-8", APP_JS) }))
        .route("/style.css", get(|| async { asset("text/css; charset=utf-8", STYLE_CSS) }))
        .route("/api/identity", get(api::identity))
        .route("/api/deployments", get(api::list))
        .route("/api/deployments/{id}", get(api::detail))
        .route("/api/deployments/{id}/approve", post(api::approve))
        .route("/api/deployments/{id}/reject", post(api::reject))
        .route("/api/deployments/{id}/rollback", post(api::rollback))
        .with_state(state)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "no-store")], body).into_response()
}

async fn index(axum::extract::State(state): axum::extract::State<Arc<AppState>>) -> Response {
    let page = INDEX_HTML.replace("{{SESSION_TOKEN}}", &state.token);
    let csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
               connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
    (
        StatusCode::OK,
        [
            (header::CONTENT_SECURITY_POLICY, csp),
            (header::X_FRAME_OPTIONS, "DENY"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        Html(page),
    )
        .into_response()
}

/// Reads the weights of recently viewed, running deployments every second (the chart's points).
async fn sample_loop(state: Arc<AppState>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        let ids: Vec<String> = match state.watched.lock() {
            Ok(mut w) => {
                w.retain(|_, at| at.elapsed() < WATCH_FOR);
                w.keys().cloned().collect()
            }
            Err(_) => vec![],
        };
        for id in ids {
            if let Err(e) = api::sample(&state, &id).await {
                // Keep sampling the others; the page shows the error of its own request.
                eprintln!("dashboard: weights of {id}: {}", e.0);
            }
        }
    }
}

/// Serves until Ctrl-C.
pub async fn serve(aws: Aws, bind: IpAddr, port: u16, open: bool) -> R<()> {
    let listener = tokio::net::TcpListener::bind((bind, port))
        .await
        .map_err(|e| fail(format!("cannot listen on {bind}:{port}: {e} (pick another --port)")))?;
    let addr = listener.local_addr().map_err(|e| fail(format!("cannot read the bound address: {e}")))?;
    let state = Arc::new(AppState::new(aws, session_token()?, addr));
    let url = format!("http://{addr}/");
    crate::emit(&format!("hookline dashboard: {url}  (Ctrl-C to stop)"));
    if open {
        open_browser(&url);
    }
    tokio::spawn(sample_loop(state.clone()));
    axum::serve(listener, router(state))
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
        eprintln!("hookline dashboard: cannot open a browser with {opener} ({e}); open {url} yourself");
    }
}

#[cfg(test)]
mod tests;
