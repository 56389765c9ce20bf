//! What every function binary shares: JSON logs, reading the event, and the
//! Lambda runtime loop that reports errors with the `errorType`s of docs/design.md.

use std::future::Future;

use lambda_runtime::tower::util::MapRequestLayer;
use lambda_runtime::{service_fn, LambdaEvent, LambdaInvocation, Runtime};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::{Error, Result};

/// Key under which a payload that is not JSON at all reaches the handler.
const NOT_JSON: &str = "hookline.not-json";

/// JSON logs, one object per line, with the current span's fields (the
/// deployment id) on every line. `RUST_LOG` filters, default `info`.
pub fn init_logging() {
    let spec = std::env::var("RUST_LOG").unwrap_or_default();
    let logs = tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .flatten_event(true)
        .with_target(false)
        .without_time();
    // A second init (tests) is harmless: keep the first subscriber.
    let _already_set = match plain_level(&spec) {
        // The template's `LogLevel` is usually one word: a level filter does, without the directive
        // parser `EnvFilter` builds (and its regex) at init.
        Some(level) => logs.with_max_level(level).try_init().is_err(),
        None => {
            let filter = tracing_subscriber::EnvFilter::try_new(&spec)
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
            logs.with_env_filter(filter).try_init().is_err()
        }
    };
}

/// `RUST_LOG` that is one level for every target (`info`, `WARN`, `off`), or nothing (`info`).
fn plain_level(spec: &str) -> Option<tracing_subscriber::filter::LevelFilter> {
    let spec = spec.trim();
    if spec.is_empty() {
        return Some(tracing_subscriber::filter::LevelFilter::INFO);
    }
    spec.parse().ok()
}

/// Reads the event into `T`; a mismatch is `InvalidInput` naming the field's path.
pub fn parse_event<T: DeserializeOwned>(event: Value) -> Result<T> {
    if let Some(reason) = event.get(NOT_JSON).and_then(Value::as_str) {
        return Err(Error::invalid("event", format!("a JSON document ({reason})")));
    }
    if !event.is_object() {
        return Err(Error::invalid("event", format!("a JSON object, got {}", kind_of(&event))));
    }
    serde_path_to_error::deserialize(event).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." { "event".to_string() } else { path };
        Error::invalid(field, e.inner().to_string())
    })
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// lambda_runtime answers a body that is not JSON before our handler runs,
/// with a Rust type name as `errorType`. Wrap such a body so the handler sees
/// it and answers `InvalidInput` like any other malformed event.
fn json_or_marker(mut invocation: LambdaInvocation) -> LambdaInvocation {
    if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(&invocation.body) {
        let marked = serde_json::json!({ NOT_JSON: e.to_string() });
        invocation.body = serde_json::to_vec(&marked).unwrap_or_default().into();
    }
    invocation
}

/// Every function's `main`: the process-wide setup that must happen while the process has one
/// thread ([`crate::tls::prefer_bundle_file`] sets an environment variable), then `body` on the
/// current-thread tokio runtime `function_runtime` builds.
pub fn main<F>(body: F) -> std::result::Result<(), lambda_runtime::Error>
where
    F: Future<Output = std::result::Result<(), lambda_runtime::Error>>,
{
    crate::tls::prefer_bundle_file();
    function_runtime()?.block_on(body)
}

/// A current-thread runtime, not the multi-threaded one `#[tokio::main]` builds: Lambda hands a
/// function one event at a time and every function waits on AWS, never on its own CPU, so worker
/// threads would only be started (one per core) at init and then sit idle. Concurrent calls
/// (the health gate's) still overlap on the one thread, and blocking work (DNS lookups) still goes
/// to tokio's blocking pool. The bench measured the difference on `hook`'s init (BENCHMARKS.md §4).
fn function_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread().enable_all().build()
}

/// Runs the Lambda loop with `handler`, which gets the raw event
/// (`main` closes over the function's dependencies: `|event| handle(&deps, event)`).
pub async fn run<F, Fut, O>(handler: F) -> std::result::Result<(), lambda_runtime::Error>
where
    F: Fn(Value) -> Fut,
    Fut: Future<Output = Result<O>>,
    O: Serialize,
{
    let handler = &handler;
    let service = service_fn(move |event: LambdaEvent<Value>| handler(event.payload));
    Runtime::new(service).layer(MapRequestLayer::new(json_or_marker)).run().await
}

/// Like [`run`], and `handler` also gets the invocation's deadline (the Lambda `Context`'s
/// `deadline`, when the function times out), so a handler can answer before Lambda ends it.
pub async fn run_with_deadline<F, Fut, O>(handler: F) -> std::result::Result<(), lambda_runtime::Error>
where
    F: Fn(Value, tokio::time::Instant) -> Fut,
    Fut: Future<Output = Result<O>>,
    O: Serialize,
{
    let handler = &handler;
    let service = service_fn(move |event: LambdaEvent<Value>| {
        let deadline = deadline_instant(event.context.deadline(), std::time::SystemTime::now());
        handler(event.payload, deadline)
    });
    Runtime::new(service).layer(MapRequestLayer::new(json_or_marker)).run().await
}

/// The tokio instant of a wall-clock `deadline` seen at `now` (an instant in the past is now).
///
/// Lambda's deadline is the function's timeout from the invocation's start, so it is in the
/// future when an invocation starts; a past one is still mapped to now, not an error, because
/// the wall clock and Lambda's may disagree (`SystemTime::duration_since` fails on a past
/// instant). The sandbox used to hand one always (cargo-lambda 1.9.2 sends a constant
/// `Lambda-Runtime-Deadline-Ms` of 600000, in 1970); `tests/sandbox/sim/lambda_emul.py`'s
/// `RuntimeApiProxy` now hands the template's timeout instead.
pub fn deadline_instant(deadline: std::time::SystemTime, now: std::time::SystemTime) -> tokio::time::Instant {
    tokio::time::Instant::now() + deadline.duration_since(now).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[test]
    fn a_one_word_rust_log_is_a_level_and_anything_else_a_directive() {
        use tracing_subscriber::filter::LevelFilter;
        assert_eq!(plain_level(""), Some(LevelFilter::INFO));
        assert_eq!(plain_level("warn"), Some(LevelFilter::WARN));
        assert_eq!(plain_level(" DEBUG "), Some(LevelFilter::DEBUG));
        assert_eq!(plain_level("off"), Some(LevelFilter::OFF));
        assert_eq!(plain_level("hookline=debug"), None);
        assert_eq!(plain_level("info,hook=trace"), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_deadline_is_the_time_left_from_now() {
        use std::time::{Duration, SystemTime};
        let now = SystemTime::now();
        let start = tokio::time::Instant::now();
        assert_eq!(deadline_instant(now + Duration::from_secs(30), now) - start, Duration::from_secs(30));
        assert_eq!(deadline_instant(now - Duration::from_secs(5), now), start, "a past deadline is now");
    }

    #[test]
    fn functions_run_on_one_thread() {
        let runtime = function_runtime().expect("runtime");
        let flavor = runtime.block_on(async { tokio::runtime::Handle::current().runtime_flavor() });
        assert_eq!(flavor, tokio::runtime::RuntimeFlavor::CurrentThread);
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Input {
        #[allow(dead_code)]
        context: Inner,
    }
    #[derive(Debug, Deserialize)]
    struct Inner {
        #[allow(dead_code)]
        deployment_id: String,
    }

    #[test]
    fn malformed_events_name_the_field() {
        let err = parse_event::<Input>(serde_json::json!({"context": {"deployment_id": 5}})).unwrap_err();
        assert_eq!(err.error_type(), "InvalidInput");
        assert!(err.to_string().contains("context.deployment_id"), "{err}");

        let err = parse_event::<Input>(serde_json::json!("hello")).unwrap_err();
        assert!(err.to_string().contains("event: a JSON object, got a string"), "{err}");

        let err = parse_event::<Input>(serde_json::json!({})).unwrap_err();
        assert!(err.to_string().contains("missing field `context`"), "{err}");
    }

    #[test]
    fn a_body_that_is_not_json_reaches_the_handler_as_invalid_input() {
        let body = br#"{"DeploymentId": "#;
        assert!(serde_json::from_slice::<Value>(body).is_err());
        let marked: Value = serde_json::from_slice(&{
            let e = serde_json::from_slice::<serde::de::IgnoredAny>(body).unwrap_err();
            serde_json::to_vec(&serde_json::json!({ NOT_JSON: e.to_string() })).unwrap()
        })
        .unwrap();
        let err = parse_event::<Input>(marked).unwrap_err();
        assert_eq!(err.error_type(), "InvalidInput");
        assert!(err.to_string().starts_with("invalid input: event: a JSON document"), "{err}");
    }
}
