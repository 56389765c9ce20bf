//! shift-weight's logic over the in-memory fakes of its ports; two tests stay wire-level: the
//! SDK's retries of the ALB adapter's write, which the adapter has no test of.

use std::sync::Arc;

use aws_sdk_elasticloadbalancingv2::operation::modify_listener::{ModifyListenerError, ModifyListenerOutput};
use aws_sdk_elasticloadbalancingv2::Client as Elbv2;
use aws_smithy_mocks::{mock, Rule};
use hookline::lifecycle::DeploymentStatus;
use hookline::testing::{
    access_denied, context, deployment, listener, mocked_clients, state, throttling_xml, FakeLifecycle, FakeRouters,
    LISTENER,
};
use serde_json::json;

use super::*;

/// The handler over fakes: the deployment answering `statuses`, the route at `routers`.
async fn handle_fakes(lifecycle: FakeLifecycle, routers: &FakeRouters, event: Value) -> Result<RolloutState> {
    let deps = Deps { lifecycle: Arc::new(lifecycle), routers: Arc::new(routers.clone()) };
    super::handle(&deps, event).await
}

/// The handler over the AWS adapters of `clients` (aws-smithy-mocks answer their calls).
async fn handle(clients: &hookline::Clients, event: Value) -> Result<RolloutState> {
    super::handle(&Deps::new(clients), event).await
}

fn in_progress() -> Rule {
    mock!(aws_sdk_codedeploy::Client::get_deployment).then_output(|| deployment("InProgress"))
}

/// The production listener forwarding `blue`/`green`.
fn live(blue: i32, green: i32) -> Rule {
    mock!(Elbv2::describe_listeners)
        .match_requests(|r| r.listener_arns() == [LISTENER])
        .then_output(move || listener(blue, green))
}

/// A shift from `from`% (the previous step) to `to`% green, baking `bake` seconds.
fn weight_event(from: u8, to: u8, bake: u64) -> Value {
    json!({
        "context": context(),
        "state": state(from, 120),
        "step": {"kind": "weight", "weight": to, "bake_seconds": bake},
    })
}

#[tokio::test]
async fn a_weight_step_sets_the_new_split_once_and_starts_the_bake() {
    let routers = FakeRouters::with_weights(Weights::green(10));
    let event = weight_event(10, 25, 60);
    let before = hookline::execution::now_epoch();

    let out = handle_fakes(FakeLifecycle::default(), &routers, event.clone()).await.expect("shift");

    assert_eq!(routers.routes(), vec![context().production], "the deployment's production route");
    assert_eq!(routers.set_calls(), vec![(Weights::green(25), Some(Weights::green(10)))]);
    assert_eq!(routers.weights(), Weights { blue: 75, green: 25 });
    assert_eq!(out.weight, 25);
    let given: RolloutState = serde_json::from_value(event["state"].clone()).expect("state");
    assert_eq!((out.index, out.started_at), (given.index, given.started_at), "index and started_at are kept");
    let until = out.bake_until.expect("bake_until");
    assert!(until >= before + 60 && until <= hookline::execution::now_epoch() + 60, "bake_until {until}");
}

#[tokio::test]
async fn drift_refuses_without_modifying() {
    let routers = FakeRouters::with_weights(Weights::green(50));

    let err = handle_fakes(FakeLifecycle::default(), &routers, weight_event(10, 25, 0)).await.unwrap_err();

    assert_eq!(err.error_type(), "AwsPermanent", "{err}");
    assert!(err.to_string().contains("drift"), "{err}");
    assert!(err.to_string().contains("green 10%") && err.to_string().contains("green 50%"), "{err}");
    assert_eq!(routers.weights(), Weights::green(50));
}

#[tokio::test]
async fn a_retry_after_success_changes_nothing() {
    let routers = FakeRouters::with_weights(Weights::green(25));

    let out = handle_fakes(FakeLifecycle::default(), &routers, weight_event(10, 25, 30)).await.expect("retry");

    assert_eq!(out.weight, 25);
    assert!(out.bake_until.is_some());
    assert_eq!(routers.weights(), Weights::green(25));
}

#[tokio::test]
async fn a_stopped_deployment_touches_no_traffic() {
    let routers = FakeRouters::with_weights(Weights::green(10));

    let err =
        handle_fakes(FakeLifecycle::with_statuses([DeploymentStatus::Stopped]), &routers, weight_event(10, 25, 0))
            .await
            .unwrap_err();

    assert_eq!(err.error_type(), "DeploymentStopped", "{err}");
    assert!(err.to_string().contains("Stopped"), "{err}");
    assert!(routers.routes().is_empty() && routers.set_calls().is_empty(), "no router built, nothing set");
}

#[tokio::test]
async fn a_cohort_step_creates_one_header_rule_to_green() {
    let routers = FakeRouters::default();
    let mut given = state(0, 30);
    given.bake_until = Some(given.started_at + 10);
    let event = json!({
        "context": context(),
        "state": given,
        "step": {"kind": "cohort", "header": "X-Canary", "values": ["internal"]},
    });

    let out = handle_fakes(FakeLifecycle::default(), &routers, event).await.expect("cohort");

    assert_eq!(out, RolloutState { bake_until: None, ..given });
    assert_eq!(routers.cohorts(), vec![Cohort { header: "X-Canary".into(), values: vec!["internal".into()] }]);
    assert_eq!(routers.routes(), vec![context().production]);
    assert!(routers.set_calls().is_empty(), "a cohort step moves no weight");
}

#[tokio::test]
async fn an_approval_step_is_invalid_input() {
    let routers = FakeRouters::default();
    let event = json!({
        "context": context(),
        "state": state(10, 30),
        "step": {"kind": "approval", "timeout_seconds": 600, "on_timeout": "rollback"},
    });

    let err = handle_fakes(FakeLifecycle::default(), &routers, event).await.unwrap_err();

    assert_eq!(err.error_type(), "InvalidInput", "{err}");
    assert!(err.to_string().contains("step.kind"), "{err}");
    assert!(routers.routes().is_empty());
}

#[tokio::test]
async fn a_malformed_event_names_the_field() {
    let routers = FakeRouters::default();
    let mut event = weight_event(10, 25, 0);
    event["context"]["deployment_id"] = json!(42);
    let err = handle_fakes(FakeLifecycle::default(), &routers, event).await.unwrap_err();
    assert_eq!(err.error_type(), "InvalidInput", "{err}");
    assert!(err.to_string().contains("context.deployment_id"), "{err}");

    let mut event = weight_event(10, 25, 0);
    event["step"]["weight"] = json!("twenty");
    let err = handle_fakes(FakeLifecycle::default(), &routers, event).await.unwrap_err();
    assert_eq!(err.error_type(), "InvalidInput", "{err}");
    assert!(err.to_string().contains("step"), "{err}");
    assert!(routers.set_calls().is_empty());
}

// Wire-level: the SDK's retries of the ALB adapter's write (no test of its own in the adapter).

#[tokio::test(start_paused = true)]
async fn a_throttled_modify_is_retried_by_the_sdk() {
    let (status, describe) = (in_progress(), live(90, 10));
    let modify = mock!(Elbv2::modify_listener)
        .sequence()
        .http_status(400, Some(throttling_xml()))
        .times(2)
        .output(|| ModifyListenerOutput::builder().build())
        .build();
    let clock = tokio::time::Instant::now();

    let out = handle(&mocked_clients(&[&status, &describe, &modify]), weight_event(10, 25, 0)).await.expect("shift");

    assert_eq!(out.weight, 25);
    assert_eq!(modify.num_calls(), 3);
    assert_eq!(describe.num_calls(), 1, "the SDK retries the write only");
    assert!(clock.elapsed() > std::time::Duration::ZERO, "backoff slept on tokio's paused clock");
}

#[tokio::test]
async fn a_permanent_aws_error_is_aws_permanent() {
    let (status, describe) = (in_progress(), live(90, 10));
    let modify = mock!(Elbv2::modify_listener).then_error(|| ModifyListenerError::generic(access_denied()));

    let err = handle(&mocked_clients(&[&status, &describe, &modify]), weight_event(10, 25, 0)).await.unwrap_err();

    assert_eq!(err.error_type(), "AwsPermanent", "{err}");
    assert_eq!(err.aws_code(), Some("AccessDeniedException"));
    assert_eq!(modify.num_calls(), 1, "a permanent error is not retried");
}
