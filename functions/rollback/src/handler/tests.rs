//! rollback's forms over the in-memory fakes of its ports: the Catch form, the console form, the
//! EventBridge safety net and the dead-letter queue consumer. The adapters' wire-level behaviour
//! (CodeDeploy's report and StopDeployment answers, ELBv2's reads and the SDK's retries of its
//! writes, Step Functions' listings) is tested in the adapters' own files.

use std::sync::Arc;

use hookline::execution::mocks::machines;
use hookline::execution::{HookEvent, HookRef};
use hookline::lifecycle::{Admission, DeploymentStatus, EventStatus, Reported, Resolved, Stop};
use hookline::ports::RunStatus;
use hookline::testing::{
    context, denied, plan, state, throttled, unbuilt_clients, ExecutionsCall, FakeExecutions, FakeLifecycle,
    FakePlanStore, FakeRouters, Journal, RouterCall, DEPLOYMENT, HOOK_EXECUTION,
};
use hookline::traffic::{Cohort, Weights};
use serde_json::json;

use super::*;

const CANARY: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:hookline-canary";
const POST_TRAFFIC: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:hookline-post-traffic";
const RUNNING: &str = "arn:aws:states:us-east-1:123456789012:execution:hookline-canary:d-TESTDEP01-BeforeAllowTraffic";
const OTHER: &str = "arn:aws:states:us-east-1:123456789012:execution:hookline-canary:d-OTHER0001-BeforeAllowTraffic";

fn cohort() -> Cohort {
    Cohort { header: "X-Canary".into(), values: vec!["internal".into()] }
}

/// rollback's ports, each noting its calls in one journal.
struct World {
    lifecycle: Arc<FakeLifecycle>,
    routers: FakeRouters,
    executions: Arc<FakeExecutions>,
    plans: Arc<FakePlanStore>,
    journal: Journal,
}

impl World {
    fn new(lifecycle: FakeLifecycle, routers: FakeRouters, plans: FakePlanStore) -> World {
        let journal = Journal::default();
        World {
            lifecycle: Arc::new(lifecycle.journaling(&journal)),
            routers: routers.journaling(&journal),
            executions: Arc::new(FakeExecutions::default().journaling(&journal)),
            plans: Arc::new(plans.journaling(&journal)),
            journal,
        }
    }

    /// The deployment in progress with its BeforeAllowTraffic hook still waiting, production at `routers`.
    fn pending(routers: FakeRouters) -> World {
        World::waiting(FakeLifecycle::default(), routers)
    }

    /// `lifecycle` with the BeforeAllowTraffic hook still waiting, production at `routers`.
    fn waiting(lifecycle: FakeLifecycle, routers: FakeRouters) -> World {
        let lifecycle = lifecycle.with_event(HookEvent::PreTraffic, EventStatus::InProgress);
        World::new(lifecycle, routers, FakePlanStore::default())
    }

    fn deps(&self) -> Deps {
        Deps {
            lifecycle: self.lifecycle.clone(),
            routers: Arc::new(self.routers.clone()),
            executions: self.executions.clone(),
            plans: self.plans.clone(),
            state_machine_arns: vec![CANARY.into(), POST_TRAFFIC.into()],
            hook_state_machines: machines(),
            plan_parameter_prefix: "/hookline".into(),
        }
    }

    async fn handle(&self, event: Value) -> Result<Output> {
        handle(&self.deps(), event).await
    }

    /// The calls made across the ports, in order.
    fn calls(&self) -> Vec<&'static str> {
        self.journal.lock().expect("journal").clone()
    }

    /// Production on blue 100% with no cohort rule, on the deployment's production listener.
    fn assert_restored(&self) {
        assert_eq!((self.routers.weights(), self.routers.cohorts()), (Weights::BLUE_ONLY, vec![]));
        assert_eq!(self.routers.routes().last(), Some(&context().production));
    }

    fn assert_reported_failed_once(&self) {
        assert_eq!(self.lifecycle.reports(), vec![(DEPLOYMENT.into(), HOOK_EXECUTION.into(), HookStatus::Failed)]);
    }

    /// No listener change, no cohort rule removed, no hook reported.
    fn assert_untouched(&self, weights: Weights) {
        assert_eq!(self.routers.weights(), weights, "production left where it was");
        assert!(self.routers.set_calls().is_empty(), "no listener change: {:?}", self.routers.set_calls());
        assert!(self.lifecycle.reports().is_empty(), "no report: {:?}", self.lifecycle.reports());
        assert!(!self.calls().contains(&"remove_cohorts"), "{:?}", self.calls());
    }
}

#[test]
fn the_console_form_stops_both_hook_machines_executions() {
    let deps = Deps::new(&unbuilt_clients(), machines(), "/hookline".into());
    assert_eq!(deps.state_machine_arns, [CANARY, POST_TRAFFIC], "the console form stops both machines' executions");
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

#[tokio::test]
async fn restores_blue_removes_cohorts_then_reports_failed_once() {
    let world = World::pending(FakeRouters::with_weights(Weights::green(10)).with_cohort(cohort()));

    let out = world.handle(caught()).await.expect("rollback");

    assert_eq!(out, Output { restored: true, reported: Some(HookStatus::Failed), ..Output::default() });
    assert_eq!(world.calls(), ["set_weights", "remove_cohorts", "report"], "restore first, report last");
    assert_eq!(world.routers.set_calls(), [(Weights::BLUE_ONLY, None)]);
    world.assert_restored();
    world.assert_reported_failed_once();
}

#[tokio::test]
async fn a_second_call_changes_nothing_and_is_already_reported() {
    let world = World::waiting(FakeLifecycle::default().reporting(Ok(Reported::Already)), FakeRouters::default());

    let out = world.handle(caught()).await.expect("rollback again");

    assert_eq!(
        out,
        Output { restored: true, reported: Some(HookStatus::Failed), already_reported: true, ..Output::default() }
    );
    world.assert_restored();
    assert_eq!(world.routers.restores(), 1, "restored again (idempotent), nothing to change");
    assert_eq!(world.lifecycle.reports().len(), 1, "reported once more, answered already");
}

#[tokio::test]
async fn production_already_on_blue_is_fine() {
    // Green already gone from the listener (a plain forward to blue reads as blue 100%: the ALB
    // adapter's `restore_of_a_plain_forward_to_blue_writes_nothing`).
    let world = World::pending(FakeRouters::with_weights(Weights::BLUE_ONLY));

    let out = world.handle(caught()).await.expect("rollback");

    assert_eq!(out, Output { restored: true, reported: Some(HookStatus::Failed), ..Output::default() });
    world.assert_restored();
    world.assert_reported_failed_once();
}

/// What the state machine's Catch sends on attempt `attempt` (`$$.State.RetryCount`).
fn caught_on_attempt(attempt: u32) -> Value {
    let mut doc = caught();
    doc["attempt"] = json!(attempt);
    doc
}

#[tokio::test]
async fn a_failing_restore_reports_nothing_while_step_functions_will_retry() {
    let world = World::pending(FakeRouters::with_weights(Weights::green(50)).with_cohort(cohort()));
    world.routers.fail(RouterCall::RemoveCohorts, denied("DeleteRule"));

    for attempt in 0..hookline::contract::ROLLBACK_RETRIES {
        let err = world.handle(caught_on_attempt(attempt)).await.unwrap_err();
        assert_eq!(err.error_type(), "AwsPermanent", "attempt {attempt}: {err}");
        assert!(err.to_string().contains("DeleteRule"), "{err}");
    }
    assert!(
        world.lifecycle.reports().is_empty(),
        "a hook reported Failed while a cohort rule still sends users to green"
    );
    assert_eq!(world.routers.cohorts(), [cohort()]);
}

#[tokio::test]
async fn a_failing_restore_on_the_last_attempt_still_reports_failed_once_and_returns_the_error() {
    let world = World::pending(FakeRouters::with_weights(Weights::green(50)));
    world.routers.fail(RouterCall::SetWeights, denied("ModifyListener"));

    let err = world.handle(caught_on_attempt(hookline::contract::ROLLBACK_RETRIES)).await.unwrap_err();

    assert_eq!(err.error_type(), "AwsPermanent", "{err}");
    world.assert_reported_failed_once();
}

#[tokio::test]
async fn a_failing_restore_still_reports_failed_once_and_returns_the_error() {
    // Without an attempt count (a state machine definition older than the field), as before.
    let world = World::pending(FakeRouters::with_weights(Weights::green(50)));
    world.routers.fail(RouterCall::SetWeights, denied("ModifyListener"));

    let err = world.handle(caught()).await.unwrap_err();

    assert_eq!(err.error_type(), "AwsPermanent", "{err}");
    assert!(err.to_string().contains("ModifyListener"), "{err}");
    assert_eq!(world.routers.set_calls().len(), 1);
    assert_eq!(world.routers.weights(), Weights::green(50));
    world.assert_reported_failed_once();
}

#[tokio::test]
async fn a_report_refused_after_the_deployment_ended_counts_as_done() {
    let refused = || Err(denied("PutLifecycleEventHookExecutionStatus"));
    let ended = FakeLifecycle::with_statuses([DeploymentStatus::Stopped]).reporting(refused());
    let world = World::waiting(ended, FakeRouters::default());

    let out = world.handle(caught()).await.expect("ended");
    assert!(out.already_reported);

    // While the deployment is still running, the same refusal is an error to retry or surface.
    let running = FakeLifecycle::with_statuses([DeploymentStatus::Active]).reporting(refused());
    let world = World::waiting(running, FakeRouters::default());
    let err = world.handle(caught()).await.unwrap_err();
    assert_eq!(err.error_type(), "AwsPermanent", "{err}");
}

/// A console rollback's world: the deployment's execution running on the canary state machine
/// (plus another deployment's), production at 90/10, every call journaled.
fn console(lifecycle: FakeLifecycle) -> World {
    let world = World::new(lifecycle, FakeRouters::with_weights(Weights::green(10)), FakePlanStore::default());
    let input = serde_json::to_string(&execution_document()).expect("input");
    world.executions.insert(CANARY, "d-TESTDEP01-BeforeAllowTraffic", RunStatus::Running, Some(&input));
    world.executions.insert(CANARY, "d-OTHER0001-BeforeAllowTraffic", RunStatus::Running, Some(&input));
    world
}

async fn console_rollback(world: &World) -> Result<Output> {
    world.handle(json!({"deployment_id": DEPLOYMENT, "reason": "bad release"})).await
}

#[tokio::test]
async fn the_console_form_over_the_ports_stops_before_it_restores_and_reports() {
    let world = console(FakeLifecycle::default());

    let out = console_rollback(&world).await.expect("rollback");

    assert_eq!(
        out,
        Output {
            restored: true,
            reported: Some(HookStatus::Failed),
            already_reported: false,
            stopped_executions: vec![RUNNING.to_string()],
            deployment_status: Some("Stopped".into()),
            drain_seconds: None,
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
    let world = console(lifecycle);

    let out = console_rollback(&world).await.expect("rollback");

    assert_eq!(
        out,
        Output {
            restored: false,
            reported: None,
            already_reported: false,
            stopped_executions: vec![RUNNING.to_string()],
            deployment_status: Some("Succeeded".into()),
            drain_seconds: None,
        }
    );
    assert_eq!(world.calls(), ["stop_execution", "stop_with_rollback"], "no listener change, no hook report");
    assert_eq!(world.routers.weights(), Weights::green(10));
}

#[tokio::test]
async fn a_deployment_that_fails_just_before_the_console_stop_is_still_restored_and_answered() {
    let lifecycle = FakeLifecycle::with_statuses([DeploymentStatus::Active, DeploymentStatus::Failed])
        .stopping(Ok(Stop::AlreadyEnded));
    let world = console(lifecycle);

    let out = console_rollback(&world).await.expect("rollback");

    assert_eq!((out.restored, out.deployment_status.as_deref()), (true, Some("Failed")));
    assert_eq!(world.calls(), ["stop_execution", "stop_with_rollback", "set_weights", "remove_cohorts", "report"]);
    assert_eq!(world.routers.weights(), Weights::BLUE_ONLY);
    assert_eq!(world.lifecycle.reports(), vec![(DEPLOYMENT.into(), HOOK_EXECUTION.into(), HookStatus::Failed)]);
}

#[tokio::test]
async fn a_console_rollback_of_a_succeeded_deployment_changes_nothing() {
    let world = console(FakeLifecycle::with_statuses([DeploymentStatus::Succeeded]));

    let out = console_rollback(&world).await.expect("rollback");

    assert_eq!((out.restored, out.deployment_status.as_deref()), (false, Some("Succeeded")));
    assert!(world.lifecycle.stops().is_empty(), "an ended deployment is not stopped");
    assert_eq!(world.calls(), ["stop_execution"], "only the stale execution is stopped; traffic untouched");
}

#[tokio::test]
async fn the_console_form_stops_the_deployments_executions_on_both_machines() {
    let world = console(FakeLifecycle::default());
    let mut post = execution_document();
    post.context.hook =
        Some(HookRef { kind: Default::default(), event: HookEvent::PostTraffic, execution_id: "after-hook".into() });
    let input = serde_json::to_string(&post).expect("input");
    let post_traffic =
        world.executions.insert(POST_TRAFFIC, "d-TESTDEP01-AfterAllowTraffic", RunStatus::Running, Some(&input));

    let out = console_rollback(&world).await.expect("rollback");

    assert_eq!(out.stopped_executions, vec![RUNNING.to_string(), post_traffic.clone()]);
    let stopped: Vec<String> = world.executions.stops().into_iter().map(|(arn, _, _)| arn).collect();
    assert_eq!(stopped, [RUNNING.to_string(), post_traffic]);
    assert!(world.executions.get(OTHER).is_some_and(|e| e.status.is_running()), "another deployment's runs on");
}

#[tokio::test]
async fn malformed_events_are_invalid_input() {
    let world = World::pending(FakeRouters::default());
    let mut doc = caught();
    doc["context"]["deployment_id"] = json!(false);
    let err = world.handle(doc).await.unwrap_err();
    assert_eq!(err.error_type(), "InvalidInput", "{err}");
    assert!(err.to_string().contains("context.deployment_id"), "{err}");

    let err = world.handle(json!({"deploymentId": DEPLOYMENT})).await.unwrap_err();
    assert_eq!(err.error_type(), "InvalidInput", "{err}");
    assert!(err.to_string().contains("deploymentId"), "{err}");

    let err = world.handle(json!({"deployment_id": ""})).await.unwrap_err();
    assert_eq!(err.error_type(), "InvalidInput", "{err}");
    assert!(err.to_string().contains("deployment_id"), "{err}");
    assert!(world.lifecycle.calls().is_empty() && world.calls().is_empty(), "no port asked");
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
    let world = World::pending(FakeRouters::with_weights(Weights::green(10)));

    let out = world.handle(status_change("ABORTED", None)).await.expect("safety net");

    assert_eq!(out, Output { restored: true, reported: Some(HookStatus::Failed), ..Output::default() });
    assert_eq!(world.calls(), ["set_weights", "remove_cohorts", "report"], "restore first, report last");
    world.assert_restored();
    world.assert_reported_failed_once();
}

#[tokio::test]
async fn the_safety_net_leaves_ended_deployments_and_self_rolled_back_executions_alone() {
    // Rolled back by the state machine itself, or succeeded: no port asked anything.
    for (status, error) in [("FAILED", Some("RolledBack")), ("SUCCEEDED", None)] {
        let world = World::pending(FakeRouters::with_weights(Weights::green(10)));
        let out = world.handle(status_change(status, error)).await.expect("nothing to do");
        assert_eq!(out, Output::default(), "{status} {error:?}");
        assert!(world.lifecycle.calls().is_empty(), "{status}: {:?}", world.lifecycle.calls());
        world.assert_untouched(Weights::green(10));
    }
    // The deployment already ended: traffic is CodeDeploy's again (maybe a newer deployment's).
    let world = World::waiting(FakeLifecycle::with_statuses([DeploymentStatus::Failed]), FakeRouters::default());
    let out = world.handle(status_change("TIMED_OUT", Some("States.Timeout"))).await.expect("ended");
    assert_eq!(out, Output { deployment_status: Some("Failed".into()), ..Output::default() });
    assert_eq!(world.lifecycle.calls(), ["status"]);
    world.assert_untouched(Weights::BLUE_ONLY);
}

#[tokio::test]
async fn a_status_change_without_a_usable_input_is_invalid_input() {
    let world = World::pending(FakeRouters::default());
    let mut event = status_change("ABORTED", None);
    event["detail"]["input"] = json!("{\"context\": 5}");
    let err = world.handle(event).await.unwrap_err();
    assert_eq!(err.error_type(), "InvalidInput");
    assert!(err.to_string().contains("context"), "{err}");
}

#[tokio::test]
async fn a_hook_that_already_succeeded_keeps_its_traffic() {
    // finalize reported Succeeded, then something failed: CodeDeploy owns traffic now.
    let succeeded = FakeLifecycle::default().with_event(HookEvent::PreTraffic, EventStatus::Succeeded);
    let world = World::new(succeeded, FakeRouters::with_weights(Weights::green(10)), FakePlanStore::default());

    let out = world.handle(caught()).await.expect("nothing to undo");

    assert_eq!(out, Output { already_reported: true, ..Output::default() });
    // The event's status read, and what the success still owes finished (nothing for CodeDeploy).
    assert_eq!(world.lifecycle.calls(), ["event_status", "finish_end"]);
    world.assert_untouched(Weights::green(10));
    assert!(world.routers.routes().is_empty(), "no router built");
}

// ----------------------------------------------------------------------------------------------
// The SQS form: the hook function's dead-letter queue.

mod dead_letter_queue {

    use hookline::execution::mocks::input;

    use super::*;

    const MESSAGE: &str = "059f36b4-87a3-44ab-83d2-661975830a7d";
    const PLAN_PARAMETER: &str = "/hookline/web/web-prod";

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

    /// The demo deployment as the controller resolves it for the dead-lettered hook, `in_progress`
    /// waiting for its hook (CodeDeploy's event names, as its adapter maps them).
    fn waiting_for(in_progress: &str) -> FakeLifecycle {
        let in_progress_hook = match in_progress {
            "BeforeAllowTraffic" => Some(HookEvent::PreTraffic),
            "AfterAllowTraffic" => Some(HookEvent::PostTraffic),
            _ => None,
        };
        let mut context = context();
        if let Some(hook) = context.hook.as_mut() {
            hook.event = in_progress_hook.unwrap_or(HookEvent::PreTraffic);
        }
        FakeLifecycle::default().resolving(Resolved {
            context,
            in_progress_event: Some(in_progress.into()),
            in_progress_hook,
            in_progress_started_at: None,
            hook_expires_at: None,
        })
    }

    /// `lifecycle`'s deployment with its plan stored (default-action mode), production at `weights`,
    /// no cohort rule, no execution.
    fn world(lifecycle: FakeLifecycle, weights: Weights) -> World {
        let plan =
            FakePlanStore::default().with(PLAN_PARAMETER, r#"{"steps":[{"weight":10,"bake":"1m"},{"weight":100}]}"#);
        World::new(lifecycle, FakeRouters::with_weights(weights), plan)
    }

    /// The demo deployment's `event` execution exists with `status`, answering `hook_execution_id`.
    fn existing(world: &World, event: HookEvent, hook_execution_id: &str, status: RunStatus) -> String {
        let name = hookline::execution::execution_name(DEPLOYMENT, event);
        world.executions.insert(machines().for_event(event), &name, status, Some(&input(event, hook_execution_id)))
    }

    async fn consume(world: &World, event: Value) -> Response {
        dispatch(&world.deps(), event).await.expect("a batch never fails as a whole")
    }

    fn handed_back(ids: &[&str]) -> Response {
        Response::Batch(BatchResponse {
            batch_item_failures: ids.iter().map(|id| BatchItemFailure { item_identifier: id.to_string() }).collect(),
        })
    }

    #[tokio::test]
    async fn a_hook_whose_every_invocation_failed_is_restored_then_reported_failed() {
        // AfterAllowTraffic: CodeDeploy has moved production to green; no post-traffic execution exists.
        let world = world(waiting_for("AfterAllowTraffic"), Weights::green(100));

        let out = consume(&world, sqs_event(&[(MESSAGE, &hook_payload())])).await;

        assert_eq!(out, handed_back(&[]), "handled: deleted from the queue");
        assert_eq!(world.calls(), ["set_weights", "remove_cohorts", "report"], "restore first, report last");
        world.assert_restored();
        world.assert_reported_failed_once();
        assert_eq!(world.plans.reads(), [PLAN_PARAMETER], "the plan says where production lives");
    }

    #[tokio::test]
    async fn a_rollback_deployments_hook_is_reported_succeeded_without_touching_traffic() {
        // CodeDeploy's own rollback deployment invoked the hook (if it does) and every invocation
        // failed. Production is split as a failed canary might leave it: CodeDeploy reroutes it, the
        // hook's answer must not fail the rollback, and nothing here moves traffic.
        for in_progress in ["BeforeAllowTraffic", "AfterAllowTraffic"] {
            let rollback = waiting_for(in_progress).admitting(Admission::Rollback { of: Some("d-FAILED001".into()) });
            let world = world(rollback, Weights::green(10));

            let out = consume(&world, sqs_event(&[(MESSAGE, &hook_payload())])).await;

            assert_eq!(out, handed_back(&[]), "{in_progress}: handled");
            assert_eq!(world.calls(), ["report"], "{in_progress}: reported once, no listener change");
            assert_eq!(
                world.lifecycle.reports(),
                [(DEPLOYMENT.to_string(), HOOK_EXECUTION.to_string(), HookStatus::Succeeded)],
                "{in_progress}"
            );
            assert_eq!(world.routers.weights(), Weights::green(10), "{in_progress}");
        }
    }

    #[tokio::test]
    async fn a_hook_whose_execution_is_running_is_left_to_it() {
        let world = world(waiting_for("BeforeAllowTraffic"), Weights::green(10));
        let running = existing(&world, HookEvent::PreTraffic, HOOK_EXECUTION, RunStatus::Running);

        let out = consume(&world, sqs_event(&[(MESSAGE, &hook_payload())])).await;

        assert_eq!(out, handed_back(&[]));
        assert!(world.calls().is_empty(), "no restore, no report: {:?}", world.calls());
        world.assert_untouched(Weights::green(10));
        assert_eq!(world.executions.described().iter().filter(|a| **a == running).count(), 1);
    }

    #[tokio::test]
    async fn a_hook_of_a_deployment_that_succeeded_changes_nothing() {
        let world = world(FakeLifecycle::with_statuses([DeploymentStatus::Succeeded]), Weights::green(100));

        let out = consume(&world, sqs_event(&[(MESSAGE, &hook_payload())])).await;

        assert_eq!(out, handed_back(&[]));
        assert!(world.calls().is_empty(), "green stays production: {:?}", world.calls());
        world.assert_untouched(Weights::green(100));
    }

    #[tokio::test]
    async fn an_event_answered_by_another_hook_ids_execution_is_left_alone() {
        let world = world(waiting_for("BeforeAllowTraffic"), Weights::green(10));
        existing(&world, HookEvent::PreTraffic, "another-hook-execution", RunStatus::Running);

        let out = consume(&world, sqs_event(&[(MESSAGE, &hook_payload())])).await;

        assert_eq!(out, handed_back(&[]));
        assert!(world.calls().is_empty(), "the running canary keeps its traffic: {:?}", world.calls());
        world.assert_untouched(Weights::green(10));
    }

    #[tokio::test]
    async fn a_transient_failure_hands_only_that_message_back() {
        // The second message's deployment cannot be read (throttled past the SDK's retries).
        let lifecycle = waiting_for("BeforeAllowTraffic").failing_status("d-THROTTLED", throttled("GetDeployment"));
        let world = world(lifecycle, Weights::BLUE_ONLY);
        let throttled_payload =
            json!({"DeploymentId": "d-THROTTLED", "LifecycleEventHookExecutionId": "x"}).to_string();

        let out = consume(&world, sqs_event(&[(MESSAGE, &hook_payload()), ("m-2", &throttled_payload)])).await;

        assert_eq!(out, handed_back(&["m-2"]));
        world.assert_reported_failed_once();
    }

    #[tokio::test]
    async fn messages_that_can_never_succeed_are_dropped_without_a_call() {
        let world = world(waiting_for("BeforeAllowTraffic"), Weights::green(10));
        let out = dispatch(
            &world.deps(),
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
        assert!(world.lifecycle.calls().is_empty(), "{:?}", world.lifecycle.calls());
        assert!(world.executions.described().is_empty() && world.plans.reads().is_empty());
        world.assert_untouched(Weights::green(10));
    }

    #[tokio::test]
    async fn records_that_are_not_a_list_are_invalid_input() {
        let world = world(waiting_for("BeforeAllowTraffic"), Weights::BLUE_ONLY);
        let err = dispatch(&world.deps(), json!({"Records": "nope"})).await.unwrap_err();
        assert_eq!(err.error_type(), "InvalidInput");
        assert!(err.to_string().contains("Records"), "{err}");
    }

    #[tokio::test]
    async fn a_failing_execution_lookup_hands_the_message_back() {
        let world = world(waiting_for("BeforeAllowTraffic"), Weights::green(10));
        world.executions.fail(ExecutionsCall::Describe, denied("DescribeExecution"));

        let out = consume(&world, sqs_event(&[(MESSAGE, &hook_payload())])).await;

        assert_eq!(out, handed_back(&[MESSAGE]), "an operator may fix the grant within the hook's hour");
        world.assert_untouched(Weights::green(10));
    }

    #[test]
    fn the_batch_response_has_lambdas_field_names() {
        let out = handed_back(&["m-1"]);
        assert_eq!(serde_json::to_value(out).expect("json"), json!({"batchItemFailures": [{"itemIdentifier": "m-1"}]}));
    }
}

/// A gate-mode execution's Catch (ECS shifted production in its own steps): no router call at all,
/// the hook answered Failed.
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
    let world = World::pending(FakeRouters::with_weights(Weights::green(25)));

    let out = world.handle(event).await.expect("rolled back");

    assert_eq!(out, Output { restored: false, reported: Some(HookStatus::Failed), ..Output::default() });
    assert!(world.routers.set_calls().is_empty() && world.routers.routes().is_empty(), "no rule touched");
    assert_eq!(world.routers.weights(), Weights::green(25), "ECS's rule left to ECS");
    assert_eq!(
        world.lifecycle.reports(),
        vec![(hookline::lifecycle::ecs::mocks::DEPLOYMENT.into(), "ecs".into(), HookStatus::Failed)]
    );
}

// ---------------------------------------------------------------------------------------------
// hookline's own Route 53 releases: green's drain (docs/route53-controller.md, decision 23)

mod drain {
    use hookline::dns::{ReleaseRecord, ReleaseStatus};
    use hookline::execution::ServiceRef;
    use hookline::lifecycle::{Controller, Lifecycle, Route53Releases};
    use hookline::testing::{dns_context, FakeServices};

    use super::*;

    const ID: &str = "dns-20261206-084016-abcd";

    fn svc(name: &str) -> ServiceRef {
        ServiceRef { cluster: "shop".into(), service: name.into(), region: None, role_arn: None }
    }

    fn document() -> ExecutionDocument {
        let mut ctx = dns_context();
        ctx.blue.service = Some(svc("shop-web-blue"));
        ctx.green.service = Some(svc("shop-web-green"));
        ctx.hook = Some(HookRef { kind: Controller::Route53, event: HookEvent::PreTraffic, execution_id: ID.into() });
        ExecutionDocument { context: ctx, plan: plan(), state: state(10, 600) }
    }

    /// The rollback's ports with the real Route 53 release adapter over an in-progress record with a
    /// 70 s drain, DNS at blue 50 / green 50, both services at 2 tasks.
    struct Release {
        deps: Deps,
        services: Arc<FakeServices>,
        routers: FakeRouters,
        releases: Route53Releases,
    }

    fn release() -> Release {
        let record = ReleaseRecord {
            deployment_id: ID.into(),
            environment: "shop".into(),
            status: ReleaseStatus::InProgress,
            context: document().context,
            execution_arn: None,
            remove_old: false,
            created_at: 1,
            ended_at: None,
            services_done: false,
            message: None,
            drain_seconds: Some(70),
            drain_until: None,
            green_task_definition: Some("td:2".into()),
        };
        let plans = Arc::new(FakePlanStore::default().with(
            &hookline::contract::dns_release_parameter("/hookline", ID),
            &serde_json::to_string(&record).expect("record"),
        ));
        let services = Arc::new(FakeServices::default().with("shop", "shop-web-blue", 2, "td:1").with(
            "shop",
            "shop-web-green",
            2,
            "td:2",
        ));
        let executions = Arc::new(FakeExecutions::default());
        let releases = Route53Releases {
            plans: plans.clone(),
            executions: executions.clone(),
            services: services.clone(),
            plan_parameter_prefix: "/hookline".into(),
        };
        let routers = FakeRouters::with_weights(Weights::green(50));
        let deps = Deps {
            lifecycle: Arc::new(releases.clone()),
            routers: Arc::new(routers.clone()),
            executions,
            plans,
            state_machine_arns: vec![CANARY.into(), POST_TRAFFIC.into()],
            hook_state_machines: machines(),
            plan_parameter_prefix: "/hookline".into(),
        };
        Release { deps, services, routers, releases }
    }

    impl Release {
        fn green_desired(&self) -> Option<u32> {
            self.services.get("shop", "shop-web-green").map(|s| s.desired)
        }

        /// The drain's `Wait` over: its end moved into the past.
        async fn drain_over(&self) {
            let mut rec = self.releases.record(ID).await.expect("record");
            rec.drain_until = rec.drain_until.map(|until| until - 71);
            self.releases.save(&rec).await.expect("saved");
        }
    }

    fn caught() -> Value {
        let mut doc = serde_json::to_value(document()).expect("document");
        doc["error"] = json!({"Error": "HealthCheckFailed", "Cause": "alarm shop-web-5xx: state ALARM"});
        doc["attempt"] = json!(0);
        doc
    }

    #[tokio::test]
    async fn the_catch_form_asks_its_machine_to_wait_the_drain_then_scales_green_on_the_next_invocation() {
        let r = release();
        let out = handle(&r.deps, caught()).await.expect("rollback");
        assert_eq!(r.routers.weights(), Weights::BLUE_ONLY, "DNS back on blue at once");
        assert_eq!(out.reported, Some(HookStatus::Failed));
        assert!(out.drain_seconds.is_some_and(|s| (69..=70).contains(&s)), "{out:?}");
        assert_eq!(r.green_desired(), Some(2), "green keeps its tasks while resolvers cache it");
        // The field the state machines' DrainDue Choice and WaitForResolvers read.
        let json = serde_json::to_value(&out).expect("output");
        assert_eq!(json[hookline::contract::DRAIN_SECONDS], json!(out.drain_seconds.unwrap_or_default()));

        // WaitForResolvers ran out: the same input again.
        r.drain_over().await;
        let again = handle(&r.deps, caught()).await.expect("rollback again");
        assert_eq!(again.drain_seconds, None);
        assert!(serde_json::to_value(&again).expect("output").get(hookline::contract::DRAIN_SECONDS).is_none());
        assert_eq!(r.green_desired(), Some(0));
        assert_eq!(r.services.changes(), vec!["scale shop/shop-web-green 0"]);
        assert_eq!(r.releases.status(ID).await.expect("status"), DeploymentStatus::Failed);
    }

    #[tokio::test]
    async fn the_safety_net_empties_green_at_once_when_the_execution_ended_during_its_drain() {
        let r = release();
        handle(&r.deps, caught()).await.expect("rollback");
        assert_eq!(r.green_desired(), Some(2));
        // Stopped by hand (or timed out) in WaitForResolvers: nothing would ever scale green otherwise.
        let mut event = status_change("ABORTED", None);
        event["detail"]["input"] = json!(serde_json::to_string(&document()).expect("input"));
        let out = handle(&r.deps, event).await.expect("safety net");
        assert_eq!(out.deployment_status.as_deref(), Some("Failed"));
        assert_eq!(r.green_desired(), Some(0));
        assert_eq!(r.releases.drain_seconds(ID).await.expect("drain"), None);
    }

    #[tokio::test]
    async fn the_safety_net_of_a_crashed_canary_restores_and_empties_green_at_once() {
        let r = release();
        let mut event = status_change("FAILED", Some("States.Runtime"));
        event["detail"]["input"] = json!(serde_json::to_string(&document()).expect("input"));
        let out = handle(&r.deps, event).await.expect("safety net");
        assert_eq!(r.routers.weights(), Weights::BLUE_ONLY);
        assert_eq!((out.reported, out.drain_seconds), (Some(HookStatus::Failed), None));
        assert_eq!(r.green_desired(), Some(0));
    }

    #[tokio::test]
    async fn the_console_form_returns_the_drain_and_its_second_call_scales_green() {
        let r = release();
        let console = json!({"deployment_id": ID, "reason": "operator"});
        let out = handle(&r.deps, console.clone()).await.expect("console rollback");
        assert_eq!(r.routers.weights(), Weights::BLUE_ONLY);
        assert!(out.drain_seconds.is_some_and(|s| s >= 69), "{out:?}");
        assert_eq!(out.deployment_status.as_deref(), Some("Stopped"));
        assert_eq!(r.green_desired(), Some(2));
        r.drain_over().await;
        let again = handle(&r.deps, console).await.expect("console rollback again");
        assert_eq!(again.drain_seconds, None);
        assert_eq!(r.green_desired(), Some(0));
    }
}
