//! What the dashboard's handlers share ([`AppState`]: the AWS clients, the session, the weights read so
//! far): the router in the parent module and the JSON endpoints in [`super::api`] both take it from here,
//! and it takes nothing from either.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Instant;

use axum::http::{header, HeaderMap};
use serde::Serialize;
use subtle::ConstantTimeEq;

use crate::aws::Aws;

/// Samples kept per deployment (one a second: an hour).
const MAX_SAMPLES: usize = 3600;

/// One reading of production's weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Sample {
    /// Epoch milliseconds.
    pub at_ms: i64,
    pub blue: u8,
    pub green: u8,
}

/// What the handlers share.
pub struct AppState {
    pub aws: Aws,
    /// The session secret: in the printed sign-in link and in the session cookie, nowhere else.
    pub(super) secret: String,
    /// `hookline_session_<port>`: cookies are not scoped by port, so two dashboards on one host keep theirs apart.
    cookie_name: String,
    /// Weights read so far, per deployment.
    pub samples: Mutex<HashMap<String, Vec<Sample>>>,
    /// Deployments whose page was viewed, and when last.
    pub watched: Mutex<HashMap<String, Instant>>,
}

impl AppState {
    pub fn new(aws: Aws, secret: String, addr: SocketAddr) -> AppState {
        let cookie_name = format!("hookline_session_{}", addr.port());
        AppState { aws, secret, cookie_name, samples: Mutex::default(), watched: Mutex::default() }
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

    /// Whether the request carries this dashboard's session cookie (any of its `Cookie` pairs of our name:
    /// another page on the same host can add a decoy of the same name, which must not lock the operator out).
    pub fn signed_in(&self, headers: &HeaderMap) -> bool {
        cookie_values(headers, &self.cookie_name).any(|v| constant_time_eq(v.as_bytes(), self.secret.as_bytes()))
    }

    /// The `Set-Cookie` value that signs a browser in: the secret, kept from scripts (`HttpOnly`) and from
    /// every request another site starts (`SameSite=Strict`), for the whole dashboard (`Path=/`), until the
    /// browser closes (no `Max-Age`: the secret dies with the server anyway).
    pub fn session_cookie(&self) -> String {
        format!("{}={}; Path=/; HttpOnly; SameSite=Strict", self.cookie_name, self.secret)
    }
}

/// The values of the cookies named `name` in the request's `Cookie` headers (`a=1; b=2`, RFC 6265 §4.2).
fn cookie_values<'a>(headers: &'a HeaderMap, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(move |(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Equal strings in time independent of where they differ (the secret must not leak through timing).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}
