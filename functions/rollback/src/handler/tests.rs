use std::sync::{Arc, Mutex};

use aws_sdk_codedeploy::operation::put_lifecycle_event_hook_execution_status::{
    PutLifecycleEventHookExecutionStatusError, PutLifecycleEventHookExecutionStatusInput,
    PutLifecycleEventHookExecutionStatusOutput,
};
use aws_sdk_codedeploy::operation::stop_deployment::{StopDeploymentInput, StopDeploymentOutput};
use aws_sdk_codedeploy::types::error::LifecycleEventAlreadyCompletedException;
use aws_sdk_codedeploy::types::{LifecycleEventStatus, StopStatus};
use aws_sdk_elasticloadbalancingv2::operation::delete_rule::{DeleteRuleError, DeleteRuleInput, DeleteRuleOutput};
use aws_sdk_elasticloadbalancingv2::operation::describe_listeners::DescribeListenersOutput;
use aws_sdk_elasticloadbalancingv2::operation::modify_listener::{
    ModifyListenerError, ModifyListenerInput, ModifyListenerOutput,
};
use aws_sdk_elasticloadbalancingv2::types::{Action, ActionTypeEnum, Listener};
use aws_sdk_elasticloadbalancingv2::Client as Elbv2;
use aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput;
use aws_sdk_sfn::operation::list_executions::ListExecutionsOutput;
use aws_sdk_sfn::operation::stop_execution::{StopExecutionInput, StopExecutionOutput};
use aws_sdk_sfn::primitives::DateTime;
use aws_sdk_sfn::types::{ExecutionListItem, ExecutionStatus};
use aws_smithy_mocks::{mock, Rule};
use hookline::execution::{HookEvent, HookRef};
use hookline::testing::{
    access_denied, cohort_rules, context, deployment, hook_event, listener, mocked_clients, plan, state,
    throttling_xml, weights_in, Sent, BLUE_TG, DEPLOYMENT, HOOK_EXECUTION, LISTENER,
};
use serde_json::json;

use hookline::lifecycle::{DeploymentStatus, Stop};
use hookline::ports::RunStatus;
use hookline::testing::{FakeExecutions, FakeLifecycle, FakePlanStore, FakeRouters, Journal};
use hookline::traffic::Weights;

use super::*;

const CANARY: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:hookline-canary";
const POST_TRAFFIC: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:hookline-post-traffic";
const RUNNING: &str = "arn:aws:states:us-east-1:123456789012:execution:hookline-canary:d-TESTDEP01-BeforeAllowTraffic";
const OTHER: &str = "arn:aws:states:us-east-1:123456789012:execution:hookline-canary:d-OTHER0001-BeforeAllowTraffic";

type Calls = Arc<Mutex<Vec<&'static str>>>;

/// Clients answering `rules`, plus (after them, so a test can override it) the hook still in progress.
fn deps(rules: &[&Rule]) -> Deps {
    let pending = mock!(aws_sdk_codedeploy::Client::get_deployment_target)
        .then_output(|| hook_event("BeforeAllowTraffic", "InProgress"));
    let mut all = rules.to_vec();
    all.push(&pending);
    let deps = Deps::new(&mocked_clients(&all), hookline::execution::mocks::machines(), "/hookline".into());
    assert_eq!(deps.state_machine_arns, [CANARY, POST_TRAFFIC], "the console form stops both machines' executions");
    deps
}

/// A `match_requests` filter logging `name` to `calls` and recording the request.
fn log<T: Clone + Send + 'static>(
    calls: &Calls,
    name: &'static str,
    sent: &Sent<T>,
) -> impl Fn(&T) -> bool + Send + Sync + 'static {
    let (calls, record) = (Arc::clone(calls), sent.recorder());
    move |r| {
        calls.lock().unwrap().push(name);
        record(r)
    }
}

fn execution_document() -> ExecutionDocument {
    let mut ctx = context();
    ctx.hook =
        Some(HookRef { kind: Default::default(), event: HookEvent::PreTraffic, execution_id: HOOK_EXECUTION.into() });
    ExecutionDocument { context: ctx, plan: plan(), state: state(10, 600) }
}

/// What a state machine's Catch sends: the document plus the error.
fn caught() -> Value {
    let mut doc = serde_json::to_value(execution_document()).expect("document");
    doc["error"] = json!({"Error": "HealthCheckFailed", "Cause": "alarm web-5xx: state ALARM"});
    doc
}

fn live(blue: i32, green: i32) -> Rule {
    mock!(Elbv2::describe_listeners).then_output(move || listener(blue, green))
}

fn modify(calls: &Calls, sent: &Sent<ModifyListenerInput>) -> Rule {
    mock!(Elbv2::modify_listener)
        .match_requests(log(calls, "ModifyListener", sent))
        .then_output(|| ModifyListenerOutput::builder().build())
}

fn delete(calls: &Calls, sent: &Sent<DeleteRuleInput>) -> Rule {
    mock!(Elbv2::delete_rule)
        .match_requests(log(calls, "DeleteRule", sent))
        .then_output(|| DeleteRuleOutput::builder().build())
}

fn report(calls: &Calls, sent: &Sent<PutLifecycleEventHookExecutionStatusInput>) -> Rule {
    mock!(aws_sdk_codedeploy::Client::put_lifecycle_event_hook_execution_status)
        .match_requests(log(calls, "Report", sent))
        .then_output(|| PutLifecycleEventHookExecutionStatusOutput::builder().build())
}

fn already_completed() -> Rule {
    mock!(aws_sdk_codedeploy::Client::put_lifecycle_event_hook_execution_status).then_error(|| {
        PutLifecycleEventHookExecutionStatusError::LifecycleEventAlreadyCompletedException(
            LifecycleEventAlreadyCompletedException::builder().build(),
        )
    })
}

fn assert_reported_failed_once(sent: &Sent<PutLifecycleEventHookExecutionStatusInput>) {
    let req = sent.only();
    assert_eq!(req.deployment_id(), Some(DEPLOYMENT));
    assert_eq!(req.lifecycle_event_hook_execution_id(), Some(HOOK_EXECUTION));
    assert_eq!(req.status(), Some(&LifecycleEventStatus::Failed));
}

#[tokio::test]
async fn restores_blue_removes_cohorts_then_reports_failed_once() {
    let (calls, modified, deleted, reports) = (Calls::default(), Sent::default(), Sent::default(), Sent::default());
    let [rules, tags] = cohort_rules(&["arn:rule/cohort"]);
    let (describe, m, d, rep) =
        (live(90, 10), modify(&calls, &modified), delete(&calls, &deleted), report(&calls, &reports));

    let out = handle(&deps(&[&describe, &m, &rules, &tags, &d, &rep]), caught()).await.expect("rollback");

    assert_eq!(out, Output { restored: true, reported: Some(HookStatus::Failed), ..Output::default() });
    assert_eq!(*calls.lock().unwrap(), ["ModifyListener", "DeleteRule", "Report"], "restore first, report last");
    let req = modified.only();
    assert_eq!(req.listener_arn(), Some(LISTENER));
    assert_eq!(weights_in(req.default_actions()), Some((100, 0)));
    assert_eq!(deleted.only().rule_arn(), Some("arn:rule/cohort"));
    assert_reported_failed_once(&reports);
}

#[tokio::test]
async fn a_second_call_changes_nothing_and_is_already_reported() {
    let (calls, modified, deleted) = (Calls::default(), Sent::default(), Sent::default());
    let [rules, tags] = cohort_rules(&[]);
    let (describe, m, d, rep) =
        (live(100, 0), modify(&calls, &modified), delete(&calls, &deleted), already_completed());

    let out = handle(&deps(&[&describe, &m, &rules, &tags, &d, &rep]), caught()).await.expect("rollback again");

    assert_eq!(
        out,
        Output { restored: true, reported: Some(HookStatus::Failed), already_reported: true, ..Output::default() }
    );
    assert_eq!((m.num_calls(), d.num_calls(), rep.num_calls()), (0, 0, 1));
}

#[tokio::test]
async fn green_already_gone_is_fine() {
    let (calls, modified, reports) = (Calls::default(), Sent::default(), Sent::default());
    let [rules, tags] = cohort_rules(&[]);
    let describe = mock!(Elbv2::describe_listeners).then_output(|| {
        DescribeListenersOutput::builder()
            .listeners(
                Listener::builder()
                    .listener_arn(LISTENER)
                    .default_actions(
                        Action::builder().r#type(ActionTypeEnum::Forward).target_group_arn(BLUE_TG).build(),
                    )
                    .build(),
            )
            .build()
    });
    let (m, rep) = (modify(&calls, &modified), report(&calls, &reports));

    let out = handle(&deps(&[&describe, &m, &rules, &tags, &rep]), caught()).await.expect("rollback");

    assert_eq!(out, Output { restored: true, reported: Some(HookStatus::Failed), ..Output::default() });
    assert_eq!(m.num_calls(), 0);
    assert_reported_failed_once(&reports);
}

/// What the state machine's Catch sends on attempt `attempt` (`$$.State.RetryCount`).
fn caught_on_attempt(attempt: u32) -> Value {
    let mut doc = caught();
    doc["attempt"] = json!(attempt);
    doc
}

#[tokio::test]
async fn a_failing_restore_reports_nothing_while_step_functions_will_retry() {
    let (calls, reports) = (Calls::default(), Sent::default());
    let [rules, tags] = cohort_rules(&["arn:rule/cohort"]);
    let describe = live(50, 50);
    let (m, rep) = (modify(&calls, &Sent::default()), report(&calls, &reports));
    let d = mock!(Elbv2::delete_rule).then_error(|| DeleteRuleError::generic(access_denied()));

    for attempt in 0..hookline::contract::ROLLBACK_RETRIES {
        let err =
            handle(&deps(&[&describe, &m, &rules, &tags, &d, &rep]), caught_on_attempt(attempt)).await.unwrap_err();
        assert_eq!(err.error_type(), "AwsPermanent", "attempt {attempt}: {err}");
        assert!(err.to_string().contains("DeleteRule"), "{err}");
    }
    assert_eq!(rep.num_calls(), 0, "a hook reported Failed while a cohort rule still sends users to green");
}

#[tokio::test]
async fn a_failing_restore_on_the_last_attempt_still_reports_failed_once_and_returns_the_error() {
    let (calls, reports) = (Calls::default(), Sent::default());
    let [rules, tags] = cohort_rules(&[]);
    let describe = live(50, 50);
    let m = mock!(Elbv2::modify_listener).then_error(|| ModifyListenerError::generic(access_denied()));
    let rep = report(&calls, &reports);

    let last = caught_on_attempt(hookline::contract::ROLLBACK_RETRIES);
    let err = handle(&deps(&[&describe, &m, &rules, &tags, &rep]), last).await.unwrap_err();

    assert_eq!(err.error_type(), "AwsPermanent", "{err}");
    assert_reported_failed_once(&reports);
}

#[tokio::test]
async fn a_failing_restore_still_reports_failed_once_and_returns_the_error() {
    // Without an attempt count (a state machine definition older than the field), as before.
    let (calls, reports) = (Calls::default(), Sent::default());
    let [rules, tags] = cohort_rules(&[]);
    let describe = live(50, 50);
    let m = mock!(Elbv2::modify_listener).then_error(|| ModifyListenerError::generic(access_denied()));
    let rep = report(&calls, &reports);

    let err = handle(&deps(&[&describe, &m, &rules, &tags, &rep]), caught()).await.unwrap_err();

    assert_eq!(err.error_type(), "AwsPermanent", "{err}");
    assert!(err.to_string().contains("ModifyListener"), "{err}");
    assert_eq!(m.num_calls(), 1);
    assert_reported_failed_once(&reports);
}

#[tokio::test(start_paused = true)]
async fn a_throttled_restore_is_retried_by_the_sdk() {
    let (calls, reports) = (Calls::default(), Sent::default());
    let [rules, tags] = cohort_rules(&[]);
    let describe = live(50, 50);
    let m = mock!(Elbv2::modify_listener)
        .sequence()
        .http_status(400, Some(throttling_xml()))
        .times(2)
        .output(|| ModifyListenerOutput::builder().build())
        .build();
    let rep = report(&calls, &reports);
    let clock = tokio::time::Instant::now();

    let out = handle(&deps(&[&describe, &m, &rules, &tags, &rep]), caught()).await.expect("rollback");

    assert!(out.restored);
    assert_eq!(m.num_calls(), 3);
    assert!(clock.elapsed() > std::time::Duration::ZERO, "backoff slept on tokio's paused clock");
    assert_reported_failed_once(&reports);
}

#[tokio::test]
async fn a_report_refused_after_the_deployment_ended_counts_as_done() {
    let [rules, tags] = cohort_rules(&[]);
    let describe = live(100, 0);
    let rep = mock!(aws_sdk_codedeploy::Client::put_lifecycle_event_hook_execution_status)
        .then_error(|| PutLifecycleEventHookExecutionStatusError::generic(access_denied()));
    let status = mock!(aws_sdk_codedeploy::Client::get_deployment).then_output(|| deployment("Stopped"));

    let out = handle(&deps(&[&describe, &rules, &tags, &rep, &status]), caught()).await.expect("ended");
    assert!(out.already_reported);

    // While the deployment is still running, the same refusal is an error to retry or surface.
    let status = mock!(aws_sdk_codedeploy::Client::get_deployment).then_output(|| deployment("InProgress"));
    let err = handle(&deps(&[&describe, &rules, &tags, &rep, &status]), caught()).await.unwrap_err();
    assert_eq!(err.error_type(), "AwsPermanent", "{err}");
}

/// A console rollback's world: the deployment's execution running on the canary state
/// machine (plus another deployment's), production at 90/10, no cohort rules.
struct Console {
    calls: Calls,
    stopped: Sent<StopExecutionInput>,
    list: Rule,
    describe_execution: Rule,
    stop_execution: Rule,
    rules: Rule,
    tags: Rule,
    describe: Rule,
}

impl Console {
    fn new() -> Console {
        let (calls, stopped) = (Calls::default(), Sent::default());
        let item = |arn: &str, name: &str| {
            ExecutionListItem::builder()
                .execution_arn(arn)
                .state_machine_arn(CANARY)
                .name(name)
                .status(ExecutionStatus::Running)
                .start_date(DateTime::from_secs(0))
                .build()
                .expect("execution list item")
        };
        let list = mock!(aws_sdk_sfn::Client::list_executions)
            .match_requests(|r| r.status_filter() == Some(&ExecutionStatus::Running))
            .then_compute_output(move |r| {
                let items = if r.state_machine_arn() == Some(CANARY) {
                    vec![item(RUNNING, "d-TESTDEP01-BeforeAllowTraffic"), item(OTHER, "d-OTHER0001-BeforeAllowTraffic")]
                } else {
                    vec![]
                };
                ListExecutionsOutput::builder().set_executions(Some(items)).build().expect("list output")
            });
        let describe_execution = mock!(aws_sdk_sfn::Client::describe_execution)
            .match_requests(|r| r.execution_arn() == Some(RUNNING))
            .then_output(|| {
                DescribeExecutionOutput::builder()
                    .execution_arn(RUNNING)
                    .state_machine_arn(CANARY)
                    .status(ExecutionStatus::Running)
                    .start_date(DateTime::from_secs(0))
                    .input(serde_json::to_string(&execution_document()).expect("input"))
                    .build()
                    .expect("describe output")
            });
        let stop_execution = mock!(aws_sdk_sfn::Client::stop_execution)
            .match_requests(log::<StopExecutionInput>(&calls, "StopExecution", &stopped))
            .then_output(|| {
                StopExecutionOutput::builder().stop_date(DateTime::from_secs(0)).build().expect("stop output")
            });
        let [rules, tags] = cohort_rules(&[]);
        Console { calls, stopped, list, describe_execution, stop_execution, rules, tags, describe: live(90, 10) }
    }

    /// Runs the console form with these rules added to the world's.
    async fn rollback(&self, extra: &[&Rule]) -> Result<Output> {
        let mut all =
            vec![&self.list, &self.describe_execution, &self.stop_execution, &self.rules, &self.tags, &self.describe];
        all.extend_from_slice(extra);
        handle(&deps(&all), json!({"deployment_id": DEPLOYMENT, "reason": "bad release"})).await
    }

    fn calls(&self) -> Vec<&'static str> {
        self.calls.lock().unwrap().clone()
    }
}

/// CodeDeploy's answer to StopDeployment on a deployment that has just ended.
fn stop_refused_already_completed() -> Rule {
    mock!(aws_sdk_codedeploy::Client::stop_deployment)
        .sequence()
        .http_status(
            400,
            Some(
                r#"{"__type":"DeploymentAlreadyCompletedException","message":"The deployment is already completed"}"#
                    .into(),
            ),
        )
        .build()
}

/// GetDeployment answering `first`, then `then` from the second call on.
fn status_changing(first: &'static str, then: &'static str) -> Rule {
    mock!(aws_sdk_codedeploy::Client::get_deployment)
        .sequence()
        .output(move || deployment(first))
        .output(move || deployment(then))
        .repeatedly()
        .build()
}

/// Kept wire-level: the console form end to end through the AWS adapters (ListExecutions of both
/// machines, StopExecution's cause, CodeDeploy's StopDeployment with autoRollbackEnabled, which the
/// CodeDeploy adapter has no test of); the logic's cases run on the fakes below.
#[tokio::test]
async fn the_console_form_stops_the_execution_and_the_deployment_then_restores_and_reports() {
    let world = Console::new();
    let (modified, reports, stops) = (Sent::default(), Sent::default(), Sent::default());
    let (m, rep) = (modify(&world.calls, &modified), report(&world.calls, &reports));
    let status = mock!(aws_sdk_codedeploy::Client::get_deployment).then_output(|| deployment("InProgress"));
    let stop_deployment = mock!(aws_sdk_codedeploy::Client::stop_deployment)
        .match_requests(log::<StopDeploymentInput>(&world.calls, "StopDeployment", &stops))
        .then_output(|| StopDeploymentOutput::builder().status(StopStatus::Pending).build());

    let out = world.rollback(&[&m, &rep, &status, &stop_deployment]).await.expect("rollback");

    assert_eq!(
        out,
        Output {
            restored: true,
            reported: Some(HookStatus::Failed),
            already_reported: false,
            stopped_executions: vec![RUNNING.to_string()],
            deployment_status: Some("Stopped".into()),
        }
    );
    // The deployment is stopped before any hook report, so it ends Stopped (a console stop), not Failed.
    assert_eq!(world.calls(), ["StopExecution", "StopDeployment", "ModifyListener", "Report"]);
    assert_eq!(world.list.num_calls(), 2, "both state machines are searched");
    let stop = world.stopped.only();
    assert_eq!((stop.execution_arn(), stop.cause()), (Some(RUNNING), Some("bad release")));
    assert_eq!(weights_in(modified.only().default_actions()), Some((100, 0)));
    assert_reported_failed_once(&reports);
    let stop = stops.only();
    assert_eq!((stop.deployment_id(), stop.auto_rollback_enabled()), (Some(DEPLOYMENT), Some(true)));
}

/// Kept wire-level: CodeDeploy's refusal of StopDeployment (DeploymentAlreadyCompletedException)
/// read as "already ended" by the CodeDeploy adapter (no test of its own there); the same case on
/// the fakes is `a_deployment_that_succeeds_just_before_the_console_stop_keeps_its_production_traffic`.
#[tokio::test]
async fn a_stop_refused_as_already_completed_leaves_a_succeeded_deployments_traffic_through_the_adapters() {
    let world = Console::new();
    let (modified, reports) = (Sent::default(), Sent::default());
    let (m, rep) = (modify(&world.calls, &modified), report(&world.calls, &reports));
    let (status, refused) = (status_changing("InProgress", "Succeeded"), stop_refused_already_completed());

    let out = world.rollback(&[&m, &rep, &status, &refused]).await.expect("rollback");

    assert_eq!(
        out,
        Output {
            restored: false,
            reported: None,
            already_reported: false,
            stopped_executions: vec![RUNNING.to_string()],
            deployment_status: Some("Succeeded".into()),
        }
    );
    assert_eq!(world.calls(), ["StopExecution"], "no listener change, no hook report");
    assert_eq!(refused.num_calls(), 1);
}

/// A console rollback's world over the in-memory fakes: the deployment's execution running on the
/// canary state machine (plus another deployment's), production at 90/10, every call journaled.
struct FakeConsole {
    lifecycle: Arc<FakeLifecycle>,
    routers: FakeRouters,
    executions: Arc<FakeExecutions>,
    journal: Journal,
}

impl FakeConsole {
    fn new(lifecycle: FakeLifecycle) -> FakeConsole {
        let journal = Journal::default();
        let executions = FakeExecutions::default().journaling(&journal);
        let input = serde_json::to_string(&execution_document()).expect("input");
        executions.insert(CANARY, "d-TESTDEP01-BeforeAllowTraffic", RunStatus::Running, Some(&input));
        executions.insert(CANARY, "d-OTHER0001-BeforeAllowTraffic", RunStatus::Running, Some(&input));
        FakeConsole {
            lifecycle: Arc::new(lifecycle.journaling(&journal)),
            routers: FakeRouters::with_weights(Weights::green(10)).journaling(&journal),
            executions: Arc::new(executions),
            journal,
        }
    }

    async fn rollback(&self) -> Result<Output> {
        let deps = Deps {
            lifecycle: self.lifecycle.clone(),
            routers: Arc::new(self.routers.clone()),
            executions: self.executions.clone(),
            plans: Arc::new(FakePlanStore::default()),
            state_machine_arns: vec![CANARY.into(), POST_TRAFFIC.into()],
            hook_state_machines: hookline::execution::mocks::machines(),
            plan_parameter_prefix: "/hookline".into(),
        };
        handle(&deps, json!({"deployment_id": DEPLOYMENT, "reason": "bad release"})).await
    }

    fn calls(&self) -> Vec<&'static str> {
        self.journal.lock().unwrap().clone()
    }
}

#[tokio::test]
async fn the_console_form_over_the_ports_stops_before_it_restores_and_reports() {
    let world = FakeConsole::new(FakeLifecycle::default());

    let out = world.rollback().await.expect("rollback");

    assert_eq!(
        out,
        Output {
            restored: true,
            reported: Some(HookStatus::Failed),
            already_reported: false,
            stopped_executions: vec![RUNNING.to_string()],
            deployment_status: Some("Stopped".into()),
        }
    );
    // The deployment is stopped before any hook report, so it ends Stopped (a console stop), not Failed.
    assert_eq!(world.calls(), ["stop_execution", "stop_with_rollback", "set_weights", "remove_cohorts", "report"]);
    assert_eq!(world.executions.stops(), vec![(RUNNING.into(), "RolledBack".into(), "bad release".into())]);
    assert!(world.executions.get(OTHER).is_some_and(|e| e.status.is_running()), "another deployment's runs on");
    assert_eq!(world.routers.weights(), Weights::BLUE_ONLY);
    assert_eq!(world.lifecycle.reports(), vec![(DEPLOYMENT.into(), HOOK_EXECUTION.into(), HookStatus::Failed)]);
    assert_eq!(world.lifecycle.stops(), vec![DEPLOYMENT.to_string()]);
}

#[tokio::test]
async fn a_deployment_that_succeeds_just_before_the_console_stop_keeps_its_production_traffic() {
    // After Succeeded, green is production and blue's tasks are being terminated:
    // moving traffic "back" would send every request to a dying task set.
    let lifecycle = FakeLifecycle::with_statuses([DeploymentStatus::Active, DeploymentStatus::Succeeded])
        .stopping(Ok(Stop::AlreadyEnded));
    let world = FakeConsole::new(lifecycle);

    let out = world.rollback().await.expect("rollback");

    assert_eq!(
        out,
        Output {
            restored: false,
            reported: None,
            already_reported: false,
            stopped_executions: vec![RUNNING.to_string()],
            deployment_status: Some("Succeeded".into()),
        }
    );
    assert_eq!(world.calls(), ["stop_execution", "stop_with_rollback"], "no listener change, no hook report");
    assert_eq!(world.routers.weights(), Weights::green(10));
}

#[tokio::test]
async fn a_deployment_that_fails_just_before_the_console_stop_is_still_restored_and_answered() {
    let lifecycle = FakeLifecycle::with_statuses([DeploymentStatus::Active, DeploymentStatus::Failed])
        .stopping(Ok(Stop::AlreadyEnded));
    let world = FakeConsole::new(lifecycle);

    let out = world.rollback().await.expect("rollback");

    assert_eq!((out.restored, out.deployment_status.as_deref()), (true, Some("Failed")));
    assert_eq!(world.calls(), ["stop_execution", "stop_with_rollback", "set_weights", "remove_cohorts", "report"]);
    assert_eq!(world.routers.weights(), Weights::BLUE_ONLY);
    assert_eq!(world.lifecycle.reports(), vec![(DEPLOYMENT.into(), HOOK_EXECUTION.into(), HookStatus::Failed)]);
}

#[tokio::test]
async fn a_console_rollback_of_a_succeeded_deployment_changes_nothing() {
    let world = FakeConsole::new(FakeLifecycle::with_statuses([DeploymentStatus::Succeeded]));

    let out = world.rollback().await.expect("rollback");

    assert_eq!((out.restored, out.deployment_status.as_deref()), (false, Some("Succeeded")));
    assert!(world.lifecycle.stops().is_empty(), "an ended deployment is not stopped");
    assert_eq!(world.calls(), ["stop_execution"], "only the stale execution is stopped; traffic untouched");
}

#[tokio::test]
async fn malformed_events_are_invalid_input() {
    let mut doc = caught();
    doc["context"]["deployment_id"] = json!(false);
    let err = handle(&deps(&[]), doc).await.unwrap_err();
    assert_eq!(err.error_type(), "InvalidInput", "{err}");
    assert!(err.to_string().contains("context.deployment_id"), "{err}");

    let err = handle(&deps(&[]), json!({"deploymentId": DEPLOYMENT})).await.unwrap_err();
    assert_eq!(err.error_type(), "InvalidInput", "{err}");
    assert!(err.to_string().contains("deploymentId"), "{err}");

    let err = handle(&deps(&[]), json!({"deployment_id": ""})).await.unwrap_err();
    assert_eq!(err.error_type(), "InvalidInput", "{err}");
    assert!(err.to_string().contains("deployment_id"), "{err}");
}

/// An EventBridge "Step Functions Execution Status Change" event for the canary execution.
fn status_change(status: &str, error: Option<&str>) -> Value {
    json!({
        "version": "0",
        "source": "aws.states",
        "detail-type": "Step Functions Execution Status Change",
        "detail": {
            "executionArn": RUNNING,
            "stateMachineArn": CANARY,
            "name": "d-TESTDEP01-BeforeAllowTraffic",
            "status": status,
            "error": error,
            "cause": "stopped by hand",
            "input": serde_json::to_string(&execution_document()).expect("input"),
        }
    })
}

#[tokio::test]
async fn an_execution_aborted_by_hand_gets_restored_and_its_hook_answered() {
    let (calls, modified, reports) = (Calls::default(), Sent::default(), Sent::default());
    let [rules, tags] = cohort_rules(&[]);
    let status = mock!(aws_sdk_codedeploy::Client::get_deployment).then_output(|| deployment("InProgress"));
    let (describe, m, rep) = (live(90, 10), modify(&calls, &modified), report(&calls, &reports));

    let out = handle(&deps(&[&status, &describe, &m, &rules, &tags, &rep]), status_change("ABORTED", None))
        .await
        .expect("safety net");

    assert_eq!(out, Output { restored: true, reported: Some(HookStatus::Failed), ..Output::default() });
    assert_eq!(*calls.lock().unwrap(), ["ModifyListener", "Report"]);
    assert_eq!(weights_in(modified.only().default_actions()), Some((100, 0)));
    assert_reported_failed_once(&reports);
}

#[tokio::test]
async fn the_safety_net_leaves_ended_deployments_and_self_rolled_back_executions_alone() {
    // Rolled back by the state machine itself, or succeeded: no AWS call at all (an unmatched call panics).
    for (status, error) in [("FAILED", Some("RolledBack")), ("SUCCEEDED", None)] {
        let out = handle(&deps(&[]), status_change(status, error)).await.expect("nothing to do");
        assert_eq!(out, Output::default(), "{status} {error:?}");
    }
    // The deployment already ended: traffic is CodeDeploy's again (maybe a newer deployment's).
    let status = mock!(aws_sdk_codedeploy::Client::get_deployment).then_output(|| deployment("Failed"));
    let out = handle(&deps(&[&status]), status_change("TIMED_OUT", Some("States.Timeout"))).await.expect("ended");
    assert_eq!(out, Output { deployment_status: Some("Failed".into()), ..Output::default() });
}

#[tokio::test]
async fn a_status_change_without_a_usable_input_is_invalid_input() {
    let mut event = status_change("ABORTED", None);
    event["detail"]["input"] = json!("{\"context\": 5}");
    let err = handle(&deps(&[]), event).await.unwrap_err();
    assert_eq!(err.error_type(), "InvalidInput");
    assert!(err.to_string().contains("context"), "{err}");
}

#[tokio::test]
async fn a_hook_that_already_succeeded_keeps_its_traffic() {
    // finalize reported Succeeded, then something failed: CodeDeploy owns traffic now.
    let succeeded = mock!(aws_sdk_codedeploy::Client::get_deployment_target)
        .then_output(|| hook_event("BeforeAllowTraffic", "Succeeded"));

    let out = handle(&deps(&[&succeeded]), caught()).await.expect("nothing to undo");

    assert_eq!(out, Output { already_reported: true, ..Output::default() });
    assert_eq!(succeeded.num_calls(), 1, "no ELBv2 call, no report: an unmatched call would panic");
}

// ----------------------------------------------------------------------------------------------
// The SQS form: the hook function's dead-letter queue.

mod dead_letter_queue {

    use aws_sdk_codedeploy::operation::get_deployment_target::GetDeploymentTargetOutput;
    use aws_sdk_codedeploy::types::{
        DeploymentTarget, EcsTarget, EcsTaskSet, LifecycleEvent, TargetGroupInfo, TargetLabel,
    };
    use aws_sdk_elasticloadbalancingv2::operation::describe_target_groups::DescribeTargetGroupsOutput;
    use aws_sdk_elasticloadbalancingv2::types::TargetGroup;
    use aws_sdk_sfn::operation::describe_execution::DescribeExecutionError;
    use aws_sdk_ssm::operation::get_parameter::GetParameterOutput;
    use hookline::execution::mocks::{execution, no_execution};
    use hookline::testing::{throttling_json, GREEN_TG};

    use super::*;

    const MESSAGE: &str = "059f36b4-87a3-44ab-83d2-661975830a7d";

    /// What Lambda's event source mapping delivers for one dead-lettered hook event.
    fn sqs_event(bodies: &[(&str, &str)]) -> Value {
        let records: Vec<Value> = bodies
            .iter()
            .map(|(id, body)| {
                json!({
                    "messageId": id, "receiptHandle": "AQEB...", "body": body,
                    "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1763776000000"},
                    "messageAttributes": {
                        "RequestID": {"stringValue": "8f5bdc27", "dataType": "String"},
                        "ErrorCode": {"stringValue": "200", "dataType": "Number"},
                    },
                    "md5OfBody": "x", "eventSource": "aws:sqs",
                    "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:hookline-hook-failures",
                    "awsRegion": "us-east-1",
                })
            })
            .collect();
        json!({ "Records": records })
    }

    fn hook_payload() -> String {
        json!({"DeploymentId": DEPLOYMENT, "LifecycleEventHookExecutionId": HOOK_EXECUTION}).to_string()
    }

    /// The demo service's target with `in_progress` waiting for its hook.
    fn target(in_progress: &'static str) -> GetDeploymentTargetOutput {
        let task_set = |label: TargetLabel, tg: &str| {
            EcsTaskSet::builder()
                .identifer(format!("ts-{tg}"))
                .task_set_label(label)
                .target_group(TargetGroupInfo::builder().name(tg).build())
                .build()
        };
        GetDeploymentTargetOutput::builder()
            .deployment_target(
                DeploymentTarget::builder()
                    .ecs_target(
                        EcsTarget::builder()
                            .lifecycle_events(
                                LifecycleEvent::builder()
                                    .lifecycle_event_name(in_progress)
                                    .status(LifecycleEventStatus::InProgress)
                                    .build(),
                            )
                            .task_sets_info(task_set(TargetLabel::Blue, "web-blue"))
                            .task_sets_info(task_set(TargetLabel::Green, "web-green"))
                            .build(),
                    )
                    .build(),
            )
            .build()
    }

    /// The deployment in progress with `in_progress` waiting, its plan (default-action mode), no cohort rules.
    fn world(in_progress: &'static str) -> Vec<Rule> {
        let [rules, tags] = cohort_rules(&[]);
        vec![
            mock!(aws_sdk_codedeploy::Client::get_deployment).then_output(|| deployment("InProgress")),
            mock!(aws_sdk_codedeploy::Client::get_deployment_group).then_output(hookline::testing::deployment_group),
            mock!(aws_sdk_codedeploy::Client::get_deployment_target).then_output(move || target(in_progress)),
            mock!(Elbv2::describe_target_groups).then_output(|| {
                DescribeTargetGroupsOutput::builder()
                    .target_groups(
                        TargetGroup::builder().target_group_name("web-blue").target_group_arn(BLUE_TG).build(),
                    )
                    .target_groups(
                        TargetGroup::builder().target_group_name("web-green").target_group_arn(GREEN_TG).build(),
                    )
                    .build()
            }),
            mock!(aws_sdk_ssm::Client::get_parameter)
                .match_requests(|r| r.name() == Some("/hookline/web/web-prod"))
                .then_output(|| {
                    GetParameterOutput::builder()
                        .parameter(
                            aws_sdk_ssm::types::Parameter::builder()
                                .name("/hookline/web/web-prod")
                                .value(r#"{"steps":[{"weight":10,"bake":"1m"},{"weight":100}]}"#)
                                .build(),
                        )
                        .build()
                }),
            rules,
            tags,
        ]
    }

    async fn consume(rules: &[&Rule], event: Value) -> Response {
        let none = no_execution();
        let mut all = rules.to_vec();
        all.push(&none);
        dispatch(&deps(&all), event).await.expect("a batch never fails as a whole")
    }

    fn handed_back(ids: &[&str]) -> Response {
        Response::Batch(BatchResponse {
            batch_item_failures: ids.iter().map(|id| BatchItemFailure { item_identifier: id.to_string() }).collect(),
        })
    }

    #[tokio::test]
    async fn a_hook_whose_every_invocation_failed_is_restored_then_reported_failed() {
        let (calls, modified, reports) = (Calls::default(), Sent::default(), Sent::default());
        // AfterAllowTraffic: CodeDeploy has moved production to green; no post-traffic execution exists.
        let (w, production, m, rep) =
            (world("AfterAllowTraffic"), live(0, 100), modify(&calls, &modified), report(&calls, &reports));
        let mut rules: Vec<&Rule> = w.iter().collect();
        rules.extend([&production, &m, &rep]);

        let out = consume(&rules, sqs_event(&[(MESSAGE, &hook_payload())])).await;

        assert_eq!(out, handed_back(&[]), "handled: deleted from the queue");
        assert_eq!(*calls.lock().unwrap(), ["ModifyListener", "Report"], "restore first, report last");
        assert_eq!(weights_in(modified.only().default_actions()), Some((100, 0)));
        assert_reported_failed_once(&reports);
    }

    #[tokio::test]
    async fn a_rollback_deployments_hook_is_reported_succeeded_without_touching_traffic() {
        // CodeDeploy's own rollback deployment invoked the hook (if it does) and every invocation
        // failed. Production is split as a failed canary might leave it: CodeDeploy reroutes it, the
        // hook's answer must not fail the rollback, and nothing here moves traffic.
        for in_progress in ["BeforeAllowTraffic", "AfterAllowTraffic"] {
            let (calls, modified, reports) = (Calls::default(), Sent::default(), Sent::default());
            let rollback = mock!(aws_sdk_codedeploy::Client::get_deployment).then_output(|| {
                hookline::testing::rollback_deployment(Some("codeDeployRollback"), Some("d-FAILED001"))
            });
            let (w, production, m, rep) =
                (world(in_progress), live(90, 10), modify(&calls, &modified), report(&calls, &reports));
            let mut rules: Vec<&Rule> = vec![&rollback];
            rules.extend(w.iter());
            rules.extend([&production, &m, &rep]);

            let out = consume(&rules, sqs_event(&[(MESSAGE, &hook_payload())])).await;

            assert_eq!(out, handed_back(&[]), "{in_progress}: handled");
            assert_eq!(*calls.lock().unwrap(), ["Report"], "{in_progress}: reported once, no listener change");
            let req = reports.only();
            assert_eq!(
                (req.lifecycle_event_hook_execution_id(), req.status()),
                (Some(HOOK_EXECUTION), Some(&LifecycleEventStatus::Succeeded)),
                "{in_progress}"
            );
        }
    }

    #[tokio::test]
    async fn a_hook_whose_execution_is_running_is_left_to_it() {
        let (calls, modified, reports) = (Calls::default(), Sent::default(), Sent::default());
        let running = execution(HookEvent::PreTraffic, HOOK_EXECUTION, ExecutionStatus::Running);
        let (w, production, m, rep) =
            (world("BeforeAllowTraffic"), live(90, 10), modify(&calls, &modified), report(&calls, &reports));
        let mut rules: Vec<&Rule> = vec![&running];
        rules.extend(w.iter());
        rules.extend([&production, &m, &rep]);

        let out = consume(&rules, sqs_event(&[(MESSAGE, &hook_payload())])).await;

        assert_eq!(out, handed_back(&[]));
        assert!(calls.lock().unwrap().is_empty(), "no restore, no report: {:?}", calls.lock().unwrap());
        assert_eq!(running.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_hook_of_a_deployment_that_succeeded_changes_nothing() {
        let (calls, modified, reports) = (Calls::default(), Sent::default(), Sent::default());
        let succeeded = mock!(aws_sdk_codedeploy::Client::get_deployment).then_output(|| deployment("Succeeded"));
        let (w, production, m, rep) =
            (world("AfterAllowTraffic"), live(0, 100), modify(&calls, &modified), report(&calls, &reports));
        let mut rules: Vec<&Rule> = vec![&succeeded];
        rules.extend(w.iter());
        rules.extend([&production, &m, &rep]);

        let out = consume(&rules, sqs_event(&[(MESSAGE, &hook_payload())])).await;

        assert_eq!(out, handed_back(&[]));
        assert!(calls.lock().unwrap().is_empty(), "green stays production: {:?}", calls.lock().unwrap());
    }

    #[tokio::test]
    async fn an_event_answered_by_another_hook_ids_execution_is_left_alone() {
        let (calls, modified, reports) = (Calls::default(), Sent::default(), Sent::default());
        let other = execution(HookEvent::PreTraffic, "another-hook-execution", ExecutionStatus::Running);
        let (w, production, m, rep) =
            (world("BeforeAllowTraffic"), live(90, 10), modify(&calls, &modified), report(&calls, &reports));
        let mut rules: Vec<&Rule> = vec![&other];
        rules.extend(w.iter());
        rules.extend([&production, &m, &rep]);

        let out = consume(&rules, sqs_event(&[(MESSAGE, &hook_payload())])).await;

        assert_eq!(out, handed_back(&[]));
        assert!(calls.lock().unwrap().is_empty(), "the running canary keeps its traffic: {:?}", calls.lock().unwrap());
    }

    #[tokio::test(start_paused = true)]
    async fn a_transient_failure_hands_only_that_message_back() {
        let (calls, modified, reports) = (Calls::default(), Sent::default(), Sent::default());
        // The second message's deployment cannot be read (throttled past the SDK's retries).
        let throttled = mock!(aws_sdk_codedeploy::Client::get_deployment)
            .match_requests(|r| r.deployment_id() == Some("d-THROTTLED"))
            .sequence()
            .http_status(400, Some(throttling_json()))
            .repeatedly()
            .build();
        let (w, production, m, rep) =
            (world("BeforeAllowTraffic"), live(100, 0), modify(&calls, &modified), report(&calls, &reports));
        let mut rules: Vec<&Rule> = vec![&throttled];
        rules.extend(w.iter());
        rules.extend([&production, &m, &rep]);
        let throttled_payload =
            json!({"DeploymentId": "d-THROTTLED", "LifecycleEventHookExecutionId": "x"}).to_string();

        let out = consume(&rules, sqs_event(&[(MESSAGE, &hook_payload()), ("m-2", &throttled_payload)])).await;

        assert_eq!(out, handed_back(&["m-2"]));
        assert_reported_failed_once(&reports);
    }

    #[tokio::test]
    async fn messages_that_can_never_succeed_are_dropped_without_a_call() {
        // No rules but the defaults: any AWS call would fail the test.
        let out = dispatch(
            &deps(&[]),
            json!({"Records": [
                {"messageId": "m-1", "body": "not json", "eventSource": "aws:sqs"},
                {"messageId": "m-2", "body": "{\"DeploymentId\": 7}", "eventSource": "aws:sqs"},
                {"messageId": "m-3", "body": "{\"DeploymentId\": \"d-1\", \"LifecycleEventHookExecutionId\": \"\"}"},
                {"messageId": "m-4", "eventSource": "aws:sqs"},
                {"body": "{}", "eventSource": "aws:sqs"},
                "not a record",
            ]}),
        )
        .await
        .expect("dropped, not failed");

        assert_eq!(out, handed_back(&[]));
    }

    #[tokio::test]
    async fn records_that_are_not_a_list_are_invalid_input() {
        let err = dispatch(&deps(&[]), json!({"Records": "nope"})).await.unwrap_err();
        assert_eq!(err.error_type(), "InvalidInput");
        assert!(err.to_string().contains("Records"), "{err}");
    }

    #[tokio::test]
    async fn a_failing_execution_lookup_hands_the_message_back() {
        let denied = mock!(aws_sdk_sfn::Client::describe_execution)
            .then_error(|| DescribeExecutionError::generic(access_denied()));
        let w = world("BeforeAllowTraffic");
        let mut rules: Vec<&Rule> = vec![&denied];
        rules.extend(w.iter());

        let out = consume(&rules, sqs_event(&[(MESSAGE, &hook_payload())])).await;

        assert_eq!(out, handed_back(&[MESSAGE]), "an operator may fix the grant within the hook's hour");
    }

    #[test]
    fn the_batch_response_has_lambdas_field_names() {
        let out = handed_back(&["m-1"]);
        assert_eq!(serde_json::to_value(out).expect("json"), json!({"batchItemFailures": [{"itemIdentifier": "m-1"}]}));
    }
}

/// A gate-mode execution's Catch (ECS shifted production in its own steps): no ELB call at all
/// (an unmatched mocked call would panic), the hook answered Failed.
#[tokio::test]
async fn a_gate_mode_rollback_touches_no_rule() {
    let mut doc = execution_document();
    doc.context.deployment_id = hookline::lifecycle::ecs::mocks::DEPLOYMENT.into();
    doc.context.hook = Some(HookRef {
        kind: hookline::plan::Controller::Ecs,
        event: HookEvent::PreTraffic,
        execution_id: "ecs".into(),
    });
    doc.plan = hookline::plan::Plan::parse_for(
        "mode: gate\nsteps: []\nhealth: {interval: 10s}\n",
        hookline::plan::Controller::Ecs,
    )
    .expect("gate plan")
    .at_gate(25);
    let mut event = serde_json::to_value(&doc).expect("document");
    event["error"] = json!({"Error": "HealthCheckFailed", "Cause": "alarm api-5xx: state ALARM"});

    let out = handle(&deps(&[]), event).await.expect("rolled back");

    assert_eq!(out, Output { restored: false, reported: Some(HookStatus::Failed), ..Output::default() });
}
