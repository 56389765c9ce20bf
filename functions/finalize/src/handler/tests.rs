//! finalize's logic over the in-memory fakes of its ports (the adapters' wire-level behaviour is
//! tested in their own files; one test below keeps the SDK's retry of a throttled report).

use std::sync::Arc;

use aws_sdk_codedeploy::operation::put_lifecycle_event_hook_execution_status::PutLifecycleEventHookExecutionStatusOutput;
use aws_smithy_mocks::mock;
use hookline::execution::{HookEvent, HookRef};
use hookline::testing::{
    cohort_rules, context, denied, mocked_clients, plan, state, throttling_json, FakeLifecycle, FakePlanStore,
    FakeRouters, Journal, RouterCall, DEPLOYMENT, HOOK_EXECUTION,
};
use hookline::traffic::Cohort;

use super::*;

/// finalize's ports, each noting its calls in one journal.
struct World {
    lifecycle: Arc<FakeLifecycle>,
    routers: FakeRouters,
    plans: Arc<FakePlanStore>,
    journal: Journal,
}

impl World {
    fn new(lifecycle: FakeLifecycle, routers: FakeRouters, plans: FakePlanStore) -> World {
        let journal = Journal::default();
        World {
            lifecycle: Arc::new(lifecycle.journaling(&journal)),
            routers: routers.journaling(&journal),
            plans: Arc::new(plans.journaling(&journal)),
            journal,
        }
    }

    /// No cohort rule, every call answered.
    fn plain() -> World {
        World::new(FakeLifecycle::default(), FakeRouters::default(), FakePlanStore::default())
    }

    /// The service's route carries one cohort rule.
    fn with_cohort() -> World {
        let cohort = Cohort { header: "X-Canary".into(), values: vec!["internal".into()] };
        World::new(FakeLifecycle::default(), FakeRouters::default().with_cohort(cohort), FakePlanStore::default())
    }

    fn deps(&self) -> Deps {
        Deps {
            lifecycle: self.lifecycle.clone(),
            routers: Arc::new(self.routers.clone()),
            plans: self.plans.clone(),
            plan_parameter_prefix: "/hookline".into(),
        }
    }

    fn calls(&self) -> Vec<&'static str> {
        self.journal.lock().expect("journal").clone()
    }

    fn assert_reported_succeeded(&self) {
        assert_eq!(self.lifecycle.reports(), vec![(DEPLOYMENT.into(), HOOK_EXECUTION.into(), HookStatus::Succeeded)]);
    }
}

/// The execution document of the hook for `event`.
fn document(event: HookEvent) -> Value {
    let mut ctx = context();
    ctx.hook = Some(HookRef { kind: Default::default(), event, execution_id: HOOK_EXECUTION.into() });
    serde_json::to_value(ExecutionDocument { context: ctx, plan: plan(), state: state(100, 600) }).expect("document")
}

#[tokio::test]
async fn before_allow_traffic_removes_cohorts_and_reports_succeeded_once() {
    let world = World::with_cohort();

    let out = handle(&world.deps(), document(HookEvent::PreTraffic)).await.expect("finalize");

    assert_eq!(out, Output { reported: HookStatus::Succeeded, already_reported: false, cohort_rules_removed: 1 });
    world.assert_reported_succeeded();
    assert_eq!(world.calls(), ["remove_cohorts", "report"]);
    assert!(world.routers.cohorts().is_empty());
    assert!(world.plans.writes().is_empty(), "the release is recorded after AfterAllowTraffic only");
}

#[tokio::test]
async fn after_allow_traffic_records_the_release_after_reporting() {
    let world = World::plain();

    let out = handle(&world.deps(), document(HookEvent::PostTraffic)).await.expect("finalize");

    assert_eq!(out, Output { reported: HookStatus::Succeeded, already_reported: false, cohort_rules_removed: 0 });
    assert_eq!(
        world.calls(),
        ["remove_cohorts", "report", "put_release_record"],
        "only a release that passed is recorded"
    );
    let writes = world.plans.writes();
    assert_eq!(writes.len(), 1);
    let (name, value) = &writes[0];
    assert_eq!(name, "/hookline/web/web-prod/last-release");
    let record: Value = serde_json::from_str(value).expect("JSON record");
    assert_eq!(record["deployment_id"], DEPLOYMENT);
    assert_eq!(record["target_group"], "web-green");
    assert_eq!(record["task_set"], "ts-green");
    world.assert_reported_succeeded();
}

#[tokio::test]
async fn after_allow_traffic_whose_canary_removed_the_cohorts_does_not_look_again() {
    let world = World::with_cohort();
    let mut doc = document(HookEvent::PostTraffic);
    doc["context"]["cohort_rules_removed"] = Value::Bool(true);

    let out = handle(&world.deps(), doc).await.expect("finalize");

    assert_eq!(out, Output { reported: HookStatus::Succeeded, already_reported: false, cohort_rules_removed: 0 });
    world.assert_reported_succeeded();
    assert_eq!(world.calls(), ["report", "put_release_record"], "the route's rules are not read");
    assert_eq!(world.routers.cohorts().len(), 1);
}

#[tokio::test]
async fn after_allow_traffic_without_a_canary_that_removed_them_removes_leftover_cohorts() {
    // No canary execution removed them (its hook went elsewhere, or an older hookline started it):
    // a leftover of this service goes before the report, as at BeforeAllowTraffic.
    let world = World::with_cohort();

    let out = handle(&world.deps(), document(HookEvent::PostTraffic)).await.expect("finalize");

    assert_eq!(out.cohort_rules_removed, 1);
    assert_eq!(world.calls(), ["remove_cohorts", "report", "put_release_record"]);
}

#[tokio::test]
async fn before_allow_traffic_removes_cohorts_whatever_the_context_says() {
    let world = World::with_cohort();
    let mut doc = document(HookEvent::PreTraffic);
    doc["context"]["cohort_rules_removed"] = Value::Bool(true);

    let out = handle(&world.deps(), doc).await.expect("finalize");

    assert_eq!(out.cohort_rules_removed, 1);
    assert_eq!(world.calls(), ["remove_cohorts", "report"]);
}

#[tokio::test]
async fn a_hook_our_earlier_try_already_answered_is_done() {
    let lifecycle = FakeLifecycle::default()
        .reporting(Ok(Reported::Already))
        .with_event(HookEvent::PreTraffic, EventStatus::Succeeded);
    let world = World::new(lifecycle, FakeRouters::default(), FakePlanStore::default());

    let out = handle(&world.deps(), document(HookEvent::PreTraffic)).await.expect("done");

    assert_eq!(out, Output { reported: HookStatus::Succeeded, already_reported: true, cohort_rules_removed: 0 });
    assert_eq!(world.lifecycle.reports().len(), 1);
}

#[tokio::test]
async fn a_hook_closed_by_a_stop_before_the_report_goes_to_rollback() {
    // Found by make chaos: a console stop closed the hook while the canary had production on
    // green 100%; finalize took "already completed" for success and nobody put blue back.
    let lifecycle = FakeLifecycle::default()
        .reporting(Ok(Reported::Already))
        .with_event(HookEvent::PreTraffic, EventStatus::Failed);
    let world = World::new(lifecycle, FakeRouters::default(), FakePlanStore::default());

    let err = handle(&world.deps(), document(HookEvent::PreTraffic)).await.unwrap_err();

    assert_eq!(err.error_type(), "DeploymentStopped", "{err}");
}

#[tokio::test]
async fn a_failure_before_the_report_reports_nothing() {
    let world = World::with_cohort();
    world.routers.fail(RouterCall::RemoveCohorts, denied("DescribeTags"));

    let err = handle(&world.deps(), document(HookEvent::PostTraffic)).await.unwrap_err();

    assert_eq!(err.error_type(), "AwsPermanent", "{err}");
    assert!(world.lifecycle.reports().is_empty(), "rollback reports Failed instead");
}

#[tokio::test]
async fn a_release_record_that_cannot_be_written_does_not_fail_a_reported_hook() {
    let world = World::new(
        FakeLifecycle::default(),
        FakeRouters::default(),
        FakePlanStore::default().failing_writes(denied("PutParameter")),
    );

    let out = handle(&world.deps(), document(HookEvent::PostTraffic)).await.expect("a Succeeded report is final");

    assert_eq!(out, Output { reported: HookStatus::Succeeded, already_reported: false, cohort_rules_removed: 0 });
    assert_eq!(world.plans.writes().len(), 1);
    world.assert_reported_succeeded();
}

/// Kept wire-level: the CodeDeploy adapter's report has no throttling test of its own; this one
/// checks the SDK's standard retries answer a throttled report through the whole function.
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
    let deps = Deps::new(&mocked_clients(&[&rules, &tags, &rep]), "/hookline".into());

    let out = handle(&deps, document(HookEvent::PreTraffic)).await.expect("finalize");

    assert!(!out.already_reported);
    assert_eq!(rep.num_calls(), 3);
    assert!(clock.elapsed() > std::time::Duration::ZERO, "backoff slept on tokio's paused clock");
}

#[tokio::test]
async fn malformed_documents_are_invalid_input() {
    let world = World::plain();
    let mut doc = document(HookEvent::PreTraffic);
    doc["context"]["deployment_id"] = serde_json::json!(17);
    let err = handle(&world.deps(), doc).await.unwrap_err();
    assert_eq!(err.error_type(), "InvalidInput", "{err}");
    assert!(err.to_string().contains("context.deployment_id"), "{err}");

    let mut doc = document(HookEvent::PreTraffic);
    doc["context"]["hook"] = Value::Null;
    let err = handle(&world.deps(), doc).await.unwrap_err();
    assert_eq!(err.error_type(), "InvalidInput", "{err}");
    assert!(err.to_string().contains("context.hook"), "{err}");
    assert!(world.calls().is_empty(), "bad input changes nothing");
}
