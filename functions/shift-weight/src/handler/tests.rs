use aws_sdk_elasticloadbalancingv2::operation::create_rule::{CreateRuleInput, CreateRuleOutput};
use aws_sdk_elasticloadbalancingv2::operation::describe_rules::DescribeRulesOutput;
use aws_sdk_elasticloadbalancingv2::operation::modify_listener::{
    ModifyListenerError, ModifyListenerInput, ModifyListenerOutput,
};
use aws_sdk_elasticloadbalancingv2::Client as Elbv2;
use aws_smithy_mocks::{mock, Rule};
use hookline::testing::{
    access_denied, context, deployment, listener, mocked_clients, state, throttling_xml, weights_in, Sent, GREEN_TG,
    LISTENER,
};
use serde_json::json;

use super::*;

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

fn modify(sent: &Sent<ModifyListenerInput>) -> Rule {
    mock!(Elbv2::modify_listener)
        .match_requests(sent.recorder())
        .then_output(|| ModifyListenerOutput::builder().build())
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
    let sent = Sent::default();
    let (status, describe, modify) = (in_progress(), live(90, 10), modify(&sent));
    let event = weight_event(10, 25, 60);
    let before = hookline::execution::now_epoch();

    let out = handle(&mocked_clients(&[&status, &describe, &modify]), event.clone()).await.expect("shift");

    let req = sent.only();
    assert_eq!(req.listener_arn(), Some(LISTENER));
    assert_eq!(weights_in(req.default_actions()), Some((75, 25)));
    assert_eq!(out.weight, 25);
    let given: RolloutState = serde_json::from_value(event["state"].clone()).expect("state");
    assert_eq!((out.index, out.started_at), (given.index, given.started_at), "index and started_at are kept");
    let until = out.bake_until.expect("bake_until");
    assert!(until >= before + 60 && until <= hookline::execution::now_epoch() + 60, "bake_until {until}");
    assert_eq!((status.num_calls(), describe.num_calls(), modify.num_calls()), (1, 1, 1));
}

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

#[tokio::test]
async fn drift_refuses_without_modifying() {
    let sent = Sent::default();
    let (status, describe, modify) = (in_progress(), live(50, 50), modify(&sent));

    let err = handle(&mocked_clients(&[&status, &describe, &modify]), weight_event(10, 25, 0)).await.unwrap_err();

    assert_eq!(err.error_type(), "AwsPermanent", "{err}");
    assert!(err.to_string().contains("drift"), "{err}");
    assert!(err.to_string().contains("green 10%") && err.to_string().contains("green 50%"), "{err}");
    assert_eq!(modify.num_calls(), 0);
}

#[tokio::test]
async fn a_retry_after_success_changes_nothing() {
    let sent = Sent::default();
    let (status, describe, modify) = (in_progress(), live(75, 25), modify(&sent));

    let out = handle(&mocked_clients(&[&status, &describe, &modify]), weight_event(10, 25, 30)).await.expect("retry");

    assert_eq!(out.weight, 25);
    assert!(out.bake_until.is_some());
    assert_eq!(modify.num_calls(), 0);
}

#[tokio::test]
async fn a_stopped_deployment_touches_no_traffic() {
    let sent = Sent::default();
    let status = mock!(aws_sdk_codedeploy::Client::get_deployment).then_output(|| deployment("Stopped"));
    let (describe, modify) = (live(90, 10), modify(&sent));

    let err = handle(&mocked_clients(&[&status, &describe, &modify]), weight_event(10, 25, 0)).await.unwrap_err();

    assert_eq!(err.error_type(), "DeploymentStopped", "{err}");
    assert!(err.to_string().contains("Stopped"), "{err}");
    assert_eq!((describe.num_calls(), modify.num_calls()), (0, 0));
}

#[tokio::test]
async fn a_cohort_step_creates_one_header_rule_to_green() {
    let sent: Sent<CreateRuleInput> = Sent::default();
    let status = in_progress();
    let rules = mock!(Elbv2::describe_rules)
        .match_requests(|r| r.listener_arn() == Some(LISTENER))
        .then_output(|| DescribeRulesOutput::builder().build());
    let create =
        mock!(Elbv2::create_rule).match_requests(sent.recorder()).then_output(|| CreateRuleOutput::builder().build());
    let mut given = state(0, 30);
    given.bake_until = Some(given.started_at + 10);
    let event = json!({
        "context": context(),
        "state": given,
        "step": {"kind": "cohort", "header": "X-Canary", "values": ["internal"]},
    });

    let out = handle(&mocked_clients(&[&status, &rules, &create]), event).await.expect("cohort");

    assert_eq!(out, RolloutState { bake_until: None, ..given });
    let req = sent.only();
    assert_eq!(req.listener_arn(), Some(LISTENER));
    let header = req.conditions().first().and_then(|c| c.http_header_config()).expect("http-header condition");
    assert_eq!((header.http_header_name(), header.values()), (Some("X-Canary"), &["internal".to_string()][..]));
    let to = req.actions().first().and_then(|a| a.forward_config()).map(|f| f.target_groups().to_vec());
    assert_eq!(to.as_deref().map(|t| t[0].target_group_arn()), Some(Some(GREEN_TG)));
    assert_eq!(create.num_calls(), 1);
}

#[tokio::test]
async fn an_approval_step_is_invalid_input() {
    let status = in_progress();
    let event = json!({
        "context": context(),
        "state": state(10, 30),
        "step": {"kind": "approval", "timeout_seconds": 600, "on_timeout": "rollback"},
    });

    let err = handle(&mocked_clients(&[&status]), event).await.unwrap_err();

    assert_eq!(err.error_type(), "InvalidInput", "{err}");
    assert!(err.to_string().contains("step.kind"), "{err}");
}

#[tokio::test]
async fn a_malformed_event_names_the_field() {
    let mut event = weight_event(10, 25, 0);
    event["context"]["deployment_id"] = json!(42);
    let err = handle(&mocked_clients(&[]), event).await.unwrap_err();
    assert_eq!(err.error_type(), "InvalidInput", "{err}");
    assert!(err.to_string().contains("context.deployment_id"), "{err}");

    let mut event = weight_event(10, 25, 0);
    event["step"]["weight"] = json!("twenty");
    let err = handle(&mocked_clients(&[]), event).await.unwrap_err();
    assert_eq!(err.error_type(), "InvalidInput", "{err}");
    assert!(err.to_string().contains("step"), "{err}");
}
