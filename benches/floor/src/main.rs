//! `bench-floor`: the least a Rust Lambda function can do, for `make bench` to measure beside `hook`.
//!
//! It answers every event with the event itself: the `lambda_runtime` loop and a tokio runtime, no
//! AWS SDK, no TLS, no logging. Built by `make build-release` with the same release profile as the
//! six functions, its init is the floor against which the hook's own init cost is read
//! (issue 13: hook init at most 2 ms above it). Never packaged or deployed.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move { Ok::<Value, Error>(event.payload) })).await
}
