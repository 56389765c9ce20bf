//! The flow on the in-memory fakes; the entry points' tests (`functions/hook`) cover the rest.

use super::*;
use crate::execution::mocks::machines;
use crate::lifecycle::Resolved;
use crate::testing::{context, FakeExecutions, FakeLifecycle, FakePlanStore, FakeRouters, DEPLOYMENT};

const PLAN: &str = r#"{"steps":[{"weight":10,"bake":"1m"},{"weight":100}],"health":{"interval":"9s"}}"#;

/// The demo deployment, resolved with `hook` already set (as an adapter might), `in_progress` waiting.
fn world(hook: Option<HookRef>, in_progress: Option<HookEvent>) -> (HookDeps, Arc<FakeExecutions>) {
    let mut context = context();
    context.hook = hook;
    let resolved = Resolved {
        context,
        in_progress_event: in_progress.map(|e| e.as_str().to_string()),
        in_progress_hook: in_progress,
        in_progress_started_at: None,
        hook_expires_at: None,
    };
    let executions = Arc::new(FakeExecutions::default());
    let deps = HookDeps {
        lifecycle: Arc::new(FakeLifecycle::default().resolving(resolved)),
        executions: executions.clone(),
        plans: Arc::new(FakePlanStore::default().with("/hookline/web/web-prod", PLAN)),
        routers: Arc::new(FakeRouters::default()),
        state_machines: machines(),
        plan_parameter_prefix: "/hookline".into(),
    };
    (deps, executions)
}

fn invocation(event: Option<HookEvent>, controller: Controller) -> HookInvocation {
    HookInvocation {
        controller,
        deployment_id: DEPLOYMENT.into(),
        execution_id: "this-invocation".into(),
        event,
        cross_check_route: false,
    }
}

/// The hook the one started execution answers.
fn started_hook(executions: &FakeExecutions) -> Option<HookRef> {
    let starts = executions.starts();
    assert_eq!(starts.len(), 1, "{starts:?}");
    let doc: ExecutionDocument = serde_json::from_str(&starts[0].2).expect("execution document");
    doc.context.hook
}

#[tokio::test]
async fn the_flow_sets_the_hook_an_execution_answers_from_the_invocation_whatever_the_adapter_said() {
    let stale = HookRef { kind: Controller::CodeDeploy, event: HookEvent::PostTraffic, execution_id: "old".into() };
    // The controller names the event (ECS): the invocation's event, id and controller.
    let (deps, executions) = world(Some(stale.clone()), None);
    let started = start_hook(&deps, &invocation(Some(HookEvent::PreTraffic), Controller::Ecs)).await;
    assert!(matches!(started, Ok(HookStart::Started(StartedExecution { already_started: false, .. }))), "{started:?}");
    assert_eq!(
        started_hook(&executions),
        Some(HookRef { kind: Controller::Ecs, event: HookEvent::PreTraffic, execution_id: "this-invocation".into() })
    );

    // The controller does not (CodeDeploy): the event in progress, as resolved.
    let (deps, executions) = world(Some(stale), Some(HookEvent::PreTraffic));
    let started = start_hook(&deps, &invocation(None, Controller::CodeDeploy)).await;
    let Ok(HookStart::Started(started)) = started else { panic!("{started:?}") };
    assert_eq!(started.health_interval_seconds, 9, "the plan's health interval");
    assert_eq!(
        started_hook(&executions),
        Some(HookRef {
            kind: Controller::CodeDeploy,
            event: HookEvent::PreTraffic,
            execution_id: "this-invocation".into()
        })
    );
}

#[tokio::test]
async fn a_failure_before_the_event_is_known_establishes_nothing() {
    let (deps, executions) = world(None, Some(HookEvent::PostTraffic));
    executions.fail(crate::testing::ExecutionsCall::Describe, crate::testing::denied("DescribeExecution"));

    let Err(failure) = start_hook(&deps, &invocation(None, Controller::CodeDeploy)).await else {
        panic!("the lookup failed")
    };

    assert_eq!(failure.established, Established::default());
    assert_eq!(failure.make_production_safe(deps.routers.as_ref()).await, Ok(FailSafety::EventUnknown));
}

/// The demo deployment's canary execution, as a racing invocation started it for `hook_execution_id`.
fn racing_canary(executions: &FakeExecutions, hook_execution_id: &str) -> String {
    let name = execution_name(DEPLOYMENT, HookEvent::PreTraffic);
    let input = crate::execution::mocks::input(HookEvent::PreTraffic, hook_execution_id);
    executions.race_next_start(&machines().canary, &name, RunStatus::Running, &input);
    crate::execution::execution_arn(&machines().canary, &name)
}

#[tokio::test]
async fn a_start_that_already_exists_is_described_again_and_answered_from_what_is_found() {
    // This hook's own execution, started by a duplicate invocation between the lookup and the start.
    let (deps, executions) = world(None, Some(HookEvent::PreTraffic));
    let arn = racing_canary(&executions, "this-invocation");

    let started = start_hook(&deps, &invocation(None, Controller::CodeDeploy)).await;

    let Ok(HookStart::Started(started)) = started else { panic!("expected a started execution, got {started:?}") };
    assert_eq!((started.execution_arn.as_str(), started.already_started), (arn.as_str(), true));
    let lookups = executions.described().iter().filter(|a| **a == arn).count();
    assert_eq!(lookups, 2, "described before the start and again once it said the execution exists");

    // Another hook execution id's execution: served by it, nothing else started.
    let (deps, executions) = world(None, Some(HookEvent::PreTraffic));
    let arn = racing_canary(&executions, "someone-else");

    let started = start_hook(&deps, &invocation(None, Controller::CodeDeploy)).await;

    let Ok(HookStart::ServedByAnother(other)) = started else {
        panic!("expected another's execution, got {started:?}")
    };
    assert_eq!(
        (other.execution_arn.as_str(), other.hook_execution_id.as_deref()),
        (arn.as_str(), Some("someone-else"))
    );
    assert_eq!(executions.described().iter().filter(|a| **a == arn).count(), 2);
    assert_eq!(executions.starts().len(), 1);
}
