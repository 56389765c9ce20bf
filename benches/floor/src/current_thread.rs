//! `bench-floor-current-thread`: the floor of `bench-floor` (a bare `lambda_runtime` echo) on a
//! current-thread tokio runtime, the runtime hookline's functions use since they stopped starting
//! worker threads (`hookline::runtime::main`). `make bench` measures it in the same rounds as the
//! canonical `#[tokio::main]` floor, so the hook's init above the floor can be read against both.
//! Never packaged or deployed.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move { Ok::<Value, Error>(event.payload) })).await
}
