use std::sync::{Arc, Mutex};

use aws_sdk_codedeploy::operation::put_lifecycle_event_hook_execution_status::{
    PutLifecycleEventHookExecutionStatusError, PutLifecycleEventHookExecutionStatusInput,
    PutLifecycleEventHookExecutionStatusOutput,
};
use aws_sdk_codedeploy::types::error::LifecycleEventAlreadyCompletedException;
use aws_sdk_codedeploy::types::LifecycleEventStatus;
use aws_sdk_elasticloadbalancingv2::operation::delete_rule::DeleteRuleOutput;
use aws_sdk_ssm::operation::put_parameter::{PutParameterError, PutParameterInput, PutParameterOutput};
use aws_smithy_mocks::{mock, Rule};
use hookline::execution::{HookEvent, HookRef};
use hookline::testing::{
    access_denied, cohort_rules, context, mocked_clients, plan, state, throttling_json, Sent, DEPLOYMENT,
    HOOK_EXECUTION,
};

use super::*;

type Calls = Arc<Mutex<Vec<&'static str>>>;

fn deps(rules: &[&Rule]) -> Deps {
    Deps::new(&mocked_clients(rules), "/hookline".into())
}

/// The execution document of the hook for `event`.
fn document(event: HookEvent) -> Value {
    let mut ctx = context();
    ctx.hook = Some(HookRef { kind: Default::default(), event, execution_id: HOOK_EXECUTION.into() });
    serde_json::to_value(ExecutionDocument { context: ctx, plan: plan(), state: state(100, 600) }).expect("document")
}

fn delete(calls: &Calls) -> Rule {
    let calls = Arc::clone(calls);
    mock!(aws_sdk_elasticloadbalancingv2::Client::delete_rule)
        .match_requests(move |r| {
            calls.lock().unwrap().push("DeleteRule");
            r.rule_arn() == Some("arn:rule/cohort")
        })
        .then_output(|| DeleteRuleOutput::builder().build())
}

fn put_parameter(sent: &Sent<PutParameterInput>, calls: &Calls) -> Rule {
    let (record, calls) = (sent.recorder(), Arc::clone(calls));
    mock!(aws_sdk_ssm::Client::put_parameter)
        .match_requests(move |r| {
            calls.lock().unwrap().push("PutParameter");
            record(r)
        })
        .then_output(|| PutParameterOutput::builder().version(2).build())
}

fn report(sent: &Sent<PutLifecycleEventHookExecutionStatusInput>, calls: &Calls) -> Rule {
    let (record, calls) = (sent.recorder(), Arc::clone(calls));
    mock!(aws_sdk_codedeploy::Client::put_lifecycle_event_hook_execution_status)
        .match_requests(move |r| {
            calls.lock().unwrap().push("Report");
            record(r)
        })
        .then_output(|| PutLifecycleEventHookExecutionStatusOutput::builder().build())
}

fn assert_reported_succeeded(sent: &Sent<PutLifecycleEventHookExecutionStatusInput>) {
    let req = sent.only();
    assert_eq!(req.deployment_id(), Some(DEPLOYMENT));
    assert_eq!(req.lifecycle_event_hook_execution_id(), Some(HOOK_EXECUTION));
    assert_eq!(req.status(), Some(&LifecycleEventStatus::Succeeded));
}

#[tokio::test]
async fn before_allow_traffic_removes_cohorts_and_reports_succeeded_once() {
    let (calls, params, reports) = (Calls::default(), Sent::default(), Sent::default());
    let [rules, tags] = cohort_rules(&["arn:rule/cohort"]);
    let (del, put, rep) = (delete(&calls), put_parameter(&params, &calls), report(&reports, &calls));

    let out = handle(&deps(&[&rules, &tags, &del, &put, &rep]), document(HookEvent::BeforeAllowTraffic))
        .await
        .expect("finalize");

    assert_eq!(out, Output { reported: HookStatus::Succeeded, already_reported: false, cohort_rules_removed: 1 });
    assert_reported_succeeded(&reports);
    assert_eq!(*calls.lock().unwrap(), ["DeleteRule", "Report"]);
    assert_eq!(put.num_calls(), 0, "the release is recorded after AfterAllowTraffic only");
}

#[tokio::test]
async fn after_allow_traffic_records_the_release_after_reporting() {
    let (calls, params, reports) = (Calls::default(), Sent::default(), Sent::default());
    let [rules, tags] = cohort_rules(&[]);
    let (put, rep) = (put_parameter(&params, &calls), report(&reports, &calls));

    let out =
        handle(&deps(&[&rules, &tags, &put, &rep]), document(HookEvent::AfterAllowTraffic)).await.expect("finalize");

    assert_eq!(out, Output { reported: HookStatus::Succeeded, already_reported: false, cohort_rules_removed: 0 });
    assert_eq!(*calls.lock().unwrap(), ["Report", "PutParameter"], "only a release that passed is recorded");
    let req = params.only();
    assert_eq!(req.name(), Some("/hookline/web/web-prod/last-release"));
    assert_eq!(req.overwrite(), Some(true));
    let record: Value = serde_json::from_str(req.value().expect("value")).expect("JSON record");
    assert_eq!(record["deployment_id"], DEPLOYMENT);
    assert_eq!(record["target_group"], "web-green");
    assert_eq!(record["task_set"], "ts-green");
    assert_reported_succeeded(&reports);
}

#[tokio::test]
async fn after_allow_traffic_whose_canary_removed_the_cohorts_does_not_look_again() {
    let (calls, params, reports) = (Calls::default(), Sent::default(), Sent::default());
    let [rules, tags] = cohort_rules(&["arn:rule/cohort"]);
    let (del, put, rep) = (delete(&calls), put_parameter(&params, &calls), report(&reports, &calls));
    let mut doc = document(HookEvent::AfterAllowTraffic);
    doc["context"]["cohort_rules_removed"] = Value::Bool(true);

    let out = handle(&deps(&[&rules, &tags, &del, &put, &rep]), doc).await.expect("finalize");

    assert_eq!(out, Output { reported: HookStatus::Succeeded, already_reported: false, cohort_rules_removed: 0 });
    assert_reported_succeeded(&reports);
    assert_eq!(*calls.lock().unwrap(), ["Report", "PutParameter"]);
    assert_eq!((rules.num_calls(), tags.num_calls()), (0, 0), "no DescribeRules, no DescribeTags");
}

#[tokio::test]
async fn after_allow_traffic_without_a_canary_that_removed_them_removes_leftover_cohorts() {
    // No canary execution removed them (its hook went elsewhere, or an older hookline started it):
    // a leftover of this service goes before the report, as at BeforeAllowTraffic.
    let (calls, params, reports) = (Calls::default(), Sent::default(), Sent::default());
    let [rules, tags] = cohort_rules(&["arn:rule/cohort"]);
    let (del, put, rep) = (delete(&calls), put_parameter(&params, &calls), report(&reports, &calls));

    let out = handle(&deps(&[&rules, &tags, &del, &put, &rep]), document(HookEvent::AfterAllowTraffic))
        .await
        .expect("finalize");

    assert_eq!(out.cohort_rules_removed, 1);
    assert_eq!(*calls.lock().unwrap(), ["DeleteRule", "Report", "PutParameter"]);
}

#[tokio::test]
async fn before_allow_traffic_removes_cohorts_whatever_the_context_says() {
    let (calls, reports) = (Calls::default(), Sent::default());
    let [rules, tags] = cohort_rules(&["arn:rule/cohort"]);
    let (del, rep) = (delete(&calls), report(&reports, &calls));
    let mut doc = document(HookEvent::BeforeAllowTraffic);
    doc["context"]["cohort_rules_removed"] = Value::Bool(true);

    let out = handle(&deps(&[&rules, &tags, &del, &rep]), doc).await.expect("finalize");

    assert_eq!(out.cohort_rules_removed, 1);
    assert_eq!(*calls.lock().unwrap(), ["DeleteRule", "Report"]);
}

fn already_completed() -> Rule {
    mock!(aws_sdk_codedeploy::Client::put_lifecycle_event_hook_execution_status).then_error(|| {
        PutLifecycleEventHookExecutionStatusError::LifecycleEventAlreadyCompletedException(
            LifecycleEventAlreadyCompletedException::builder().message("already completed").build(),
        )
    })
}

fn event_now(status: &'static str) -> Rule {
    mock!(aws_sdk_codedeploy::Client::get_deployment_target)
        .then_output(move || hookline::testing::hook_event("BeforeAllowTraffic", status))
}

#[tokio::test]
async fn a_hook_our_earlier_try_already_answered_is_done() {
    let [rules, tags] = cohort_rules(&[]);
    let (rep, event) = (already_completed(), event_now("Succeeded"));

    let out =
        handle(&deps(&[&rules, &tags, &rep, &event]), document(HookEvent::BeforeAllowTraffic)).await.expect("done");

    assert_eq!(out, Output { reported: HookStatus::Succeeded, already_reported: true, cohort_rules_removed: 0 });
    assert_eq!(rep.num_calls(), 1);
}

#[tokio::test]
async fn a_hook_closed_by_a_stop_before_the_report_goes_to_rollback() {
    // Found by make chaos: a console stop closed the hook while the canary had production on
    // green 100%; finalize took "already completed" for success and nobody put blue back.
    let [rules, tags] = cohort_rules(&[]);
    let (rep, event) = (already_completed(), event_now("Failed"));

    let err = handle(&deps(&[&rules, &tags, &rep, &event]), document(HookEvent::BeforeAllowTraffic)).await.unwrap_err();

    assert_eq!(err.error_type(), "DeploymentStopped", "{err}");
    assert_eq!(event.num_calls(), 1);
}

#[tokio::test]
async fn a_failure_before_the_report_reports_nothing() {
    let (calls, reports) = (Calls::default(), Sent::default());
    let [rules, _] = cohort_rules(&["arn:rule/cohort"]);
    let tags = mock!(aws_sdk_elasticloadbalancingv2::Client::describe_tags).then_error(|| {
        aws_sdk_elasticloadbalancingv2::operation::describe_tags::DescribeTagsError::generic(access_denied())
    });
    let rep = report(&reports, &calls);

    let err = handle(&deps(&[&rules, &tags, &rep]), document(HookEvent::AfterAllowTraffic)).await.unwrap_err();

    assert_eq!(err.error_type(), "AwsPermanent", "{err}");
    assert_eq!(rep.num_calls(), 0, "rollback reports Failed instead");
}

#[tokio::test]
async fn a_release_record_that_cannot_be_written_does_not_fail_a_reported_hook() {
    let (calls, reports) = (Calls::default(), Sent::default());
    let [rules, tags] = cohort_rules(&[]);
    let put = mock!(aws_sdk_ssm::Client::put_parameter).then_error(|| PutParameterError::generic(access_denied()));
    let rep = report(&reports, &calls);

    let out = handle(&deps(&[&rules, &tags, &put, &rep]), document(HookEvent::AfterAllowTraffic))
        .await
        .expect("a Succeeded report is final");

    assert_eq!(out, Output { reported: HookStatus::Succeeded, already_reported: false, cohort_rules_removed: 0 });
    assert_eq!(put.num_calls(), 1);
    assert_reported_succeeded(&reports);
}

#[tokio::test(start_paused = true)]
async fn a_throttled_report_is_retried_by_the_sdk() {
    let [rules, tags] = cohort_rules(&[]);
    let rep = mock!(aws_sdk_codedeploy::Client::put_lifecycle_event_hook_execution_status)
        .sequence()
        .http_status(400, Some(throttling_json()))
        .times(2)
        .output(|| PutLifecycleEventHookExecutionStatusOutput::builder().build())
        .build();
    let clock = tokio::time::Instant::now();

    let out = handle(&deps(&[&rules, &tags, &rep]), document(HookEvent::BeforeAllowTraffic)).await.expect("finalize");

    assert!(!out.already_reported);
    assert_eq!(rep.num_calls(), 3);
    assert!(clock.elapsed() > std::time::Duration::ZERO, "backoff slept on tokio's paused clock");
}

#[tokio::test]
async fn malformed_documents_are_invalid_input() {
    let mut doc = document(HookEvent::BeforeAllowTraffic);
    doc["context"]["deployment_id"] = serde_json::json!(17);
    let err = handle(&deps(&[]), doc).await.unwrap_err();
    assert_eq!(err.error_type(), "InvalidInput", "{err}");
    assert!(err.to_string().contains("context.deployment_id"), "{err}");

    let mut doc = document(HookEvent::BeforeAllowTraffic);
    doc["context"]["hook"] = Value::Null;
    let err = handle(&deps(&[]), doc).await.unwrap_err();
    assert_eq!(err.error_type(), "InvalidInput", "{err}");
    assert!(err.to_string().contains("context.hook"), "{err}");
}
