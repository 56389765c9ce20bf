//! The CodeDeploy entry over the in-memory fakes of the ports (`hookline::testing`).

use hookline::execution::mocks::{input, machines};
use hookline::execution::{ExecutionDocument, HookRef, HookStateMachines};
use hookline::lifecycle::{Admission, DeploymentStatus, Resolved};
use hookline::plan::Controller;
use hookline::plan::Plan;
use hookline::ports::RunStatus;
use hookline::testing::{
    context, denied, throttled, ExecutionsCall, FakeLifecycle, FakePlanStore, HookWorld, RouterCall, DEPLOYMENT,
    HOOK_EXECUTION, LISTENER,
};
use hookline::traffic::{Cohort, Weights};
use serde_json::json;

use super::*;

const CANARY: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:hookline-canary";
const POST_TRAFFIC: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:hookline-post-traffic";
const TEST_LISTENER: &str =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/demo/50dc6c495c0c9188/0000000000000001";
const PLAN_JSON: &str = r#"{"steps":[{"weight":10,"bake":"1m"},{"weight":100}],"health":{"interval":"10s","alarms":["web-5xx"]},"post_traffic":{"bake":"5m"}}"#;
const PLAN_PARAMETER: &str = "/hookline/web/web-prod";

/// The BeforeAllowTraffic hook's execution id, once its invocation turns stale.
const BEFORE_HOOK: &str = HOOK_EXECUTION;
/// The AfterAllowTraffic hook's execution id.
const AFTER_HOOK: &str = "eyJhZnRlciI6ImFsbG93LXRyYWZmaWMifQ==";

/// When CodeDeploy started the event in progress (epoch seconds, in the past).
const EVENT_STARTED_AT: i64 = 1_763_776_000;

const CANARY_EXECUTION: &str =
    "arn:aws:states:us-east-1:123456789012:execution:hookline-canary:d-TESTDEP01-BeforeAllowTraffic";
const POST_TRAFFIC_EXECUTION: &str =
    "arn:aws:states:us-east-1:123456789012:execution:hookline-post-traffic:d-TESTDEP01-AfterAllowTraffic";

fn event() -> Value {
    event_for(HOOK_EXECUTION)
}

fn event_for(hook_execution_id: &str) -> Value {
    json!({"DeploymentId": DEPLOYMENT, "LifecycleEventHookExecutionId": hook_execution_id})
}

/// The demo deployment resolved (with its test listener), `in_progress` waiting for its hook since `started_at`.
fn resolved_started(in_progress: &str, started_at: Option<i64>) -> Resolved {
    let mut context = context();
    context.test_listener_arn = Some(TEST_LISTENER.into());
    // CodeDeploy's names of the two events hookline answers (its adapter maps them the same way).
    let in_progress_hook = match in_progress {
        "BeforeAllowTraffic" => Some(HookEvent::PreTraffic),
        "AfterAllowTraffic" => Some(HookEvent::PostTraffic),
        _ => None,
    };
    Resolved {
        context,
        in_progress_event: Some(in_progress.into()),
        in_progress_hook,
        in_progress_started_at: started_at,
        hook_expires_at: None,
    }
}

/// The demo deployment in progress, `in_progress` waiting since [`EVENT_STARTED_AT`].
fn deployment(in_progress: &str) -> FakeLifecycle {
    FakeLifecycle::default().resolving(resolved_started(in_progress, Some(EVENT_STARTED_AT)))
}

fn plan_stored(text: &str) -> FakePlanStore {
    FakePlanStore::default().with(PLAN_PARAMETER, text)
}

/// The demo deployment with `in_progress` waiting, [`PLAN_JSON`] stored, production at `weights`.
fn world_at(in_progress: &str, weights: Weights) -> HookWorld {
    HookWorld::new(deployment(in_progress), plan_stored(PLAN_JSON), weights)
}

fn world(in_progress: &str) -> HookWorld {
    world_at(in_progress, Weights::BLUE_ONLY)
}

/// Production on green 100% (AllowTraffic has run) with one of this service's cohort rules.
fn world_on_green(in_progress: &str, plan: FakePlanStore) -> HookWorld {
    let world = HookWorld::new(deployment(in_progress), plan, Weights::green(100));
    let routers = world.routers.clone().with_cohort(cohort());
    HookWorld { routers, ..world }
}

fn cohort() -> Cohort {
    Cohort { header: "X-Canary".into(), values: vec!["internal".into()] }
}

async fn run(world: &HookWorld, event: Value) -> Result<Reply> {
    handle(&world.deps(machines()), event).await
}

/// The execution a reply says is started; panics on anything else.
fn started_output(reply: Result<Reply>) -> Output {
    match reply {
        Ok(Reply::Started(out)) => out,
        other => panic!("expected a started execution, got {other:?}"),
    }
}

/// The `Failed` answer a reply says this invocation gave; panics on anything else.
fn reported_failed(reply: Result<Reply>) -> ReportedFailed {
    match reply {
        Ok(Reply::ReportedFailed(failed)) => {
            assert_eq!(failed.reported, HookStatus::Failed);
            failed
        }
        other => panic!("expected the hook answered Failed (and success for Lambda), got {other:?}"),
    }
}

/// The one execution started: (state machine, name, document).
fn only_start(world: &HookWorld) -> (String, String, ExecutionDocument) {
    let starts = world.starts();
    assert_eq!(starts.len(), 1, "expected exactly one start: {starts:?}");
    let (machine, name, input) = starts.into_iter().next().expect("one start");
    let doc = serde_json::from_str(&input).expect("execution input is an execution document");
    (machine, name, doc)
}

/// The one status reported, checking it went to this deployment's hook.
fn only_status(world: &HookWorld) -> HookStatus {
    let reports = world.lifecycle.reports();
    assert_eq!(reports.len(), 1, "expected exactly one report: {reports:?}");
    let (deployment, hook, status) = reports.into_iter().next().expect("one report");
    assert_eq!((deployment.as_str(), hook.as_str()), (DEPLOYMENT, HOOK_EXECUTION));
    status
}

/// The demo deployment's `event` execution exists with `status`, answering `hook_execution_id`.
fn existing(world: &HookWorld, event: HookEvent, hook_execution_id: &str, status: RunStatus) {
    let name = hookline::execution::execution_name(DEPLOYMENT, event);
    world.executions.insert(machines().for_event(event), &name, status, Some(&input(event, hook_execution_id)));
}

#[tokio::test]
async fn before_allow_traffic_starts_the_canary_execution_with_the_resolved_document() {
    let world = world("BeforeAllowTraffic");

    let out = started_output(run(&world, event()).await);

    assert_eq!(out.state_machine_arn, CANARY);
    assert_eq!(out.event, HookEvent::PreTraffic);
    assert!(!out.already_started);
    assert!(out.execution_arn.ends_with(":d-TESTDEP01-BeforeAllowTraffic"), "{}", out.execution_arn);
    let (machine, name, doc) = only_start(&world);
    assert_eq!((machine.as_str(), name.as_str()), (CANARY, "d-TESTDEP01-BeforeAllowTraffic"));
    let mut expected = context();
    expected.test_listener_arn = Some(TEST_LISTENER.into());
    assert_eq!(doc.context, expected);
    assert_eq!(doc.plan, Plan::from_json(PLAN_JSON).expect("plan"));
    assert_eq!((doc.state.index, doc.state.weight, doc.state.bake_until), (0, 0, None));
    assert_eq!(doc.state.started_at, EVENT_STARTED_AT, "the budget counts from the event's startTime");
    assert_eq!(world.plans.reads(), [PLAN_PARAMETER]);
    assert!(world.lifecycle.reports().is_empty(), "the execution reports the hook, not the hook function");
}

#[tokio::test]
async fn after_allow_traffic_starts_post_traffic_at_weight_100_with_the_bake_clock() {
    let world = world("AfterAllowTraffic");

    let out = started_output(run(&world, event()).await);

    assert_eq!(out.state_machine_arn, POST_TRAFFIC);
    assert_eq!(out.event, HookEvent::PostTraffic);
    let (machine, name, doc) = only_start(&world);
    assert_eq!((machine.as_str(), name.as_str()), (POST_TRAFFIC, "d-TESTDEP01-AfterAllowTraffic"));
    assert_eq!(doc.context.hook.as_ref().map(|h| h.event), Some(HookEvent::PostTraffic));
    assert_eq!(doc.state.weight, 100);
    assert_eq!(doc.state.started_at, EVENT_STARTED_AT, "the budget counts from the event's startTime");
    assert_eq!(doc.state.bake_until, Some(EVENT_STARTED_AT + 300), "the event's start + post_traffic.bake (5m)");
    assert!(world.lifecycle.reports().is_empty());
}

#[tokio::test]
async fn without_an_event_start_time_the_budget_counts_from_now() {
    let lifecycle = FakeLifecycle::default().resolving(resolved_started("BeforeAllowTraffic", None));
    let world = HookWorld::new(lifecycle, plan_stored(PLAN_JSON), Weights::BLUE_ONLY);
    let before = hookline::execution::now_epoch();

    run(&world, event()).await.expect("hook");

    let started_at = only_start(&world).2.state.started_at;
    assert!(started_at >= before, "started_at {started_at} < {before}");
}

#[tokio::test]
async fn an_event_start_time_ahead_of_our_clock_counts_from_now() {
    let ahead = hookline::execution::now_epoch() + 3600;
    let lifecycle = FakeLifecycle::default().resolving(resolved_started("BeforeAllowTraffic", Some(ahead)));
    let world = HookWorld::new(lifecycle, plan_stored(PLAN_JSON), Weights::BLUE_ONLY);

    run(&world, event()).await.expect("hook");

    let started_at = only_start(&world).2.state.started_at;
    assert!(started_at < ahead, "started_at {started_at} must not be in the future");
}

#[tokio::test]
async fn a_duplicate_invocation_is_already_started_and_touches_nothing() {
    let world = world("BeforeAllowTraffic");
    existing(&world, HookEvent::PreTraffic, HOOK_EXECUTION, RunStatus::Running);

    let out = started_output(run(&world, event()).await);

    assert_eq!(
        out,
        Output {
            execution_arn: CANARY_EXECUTION.into(),
            state_machine_arn: CANARY.into(),
            event: HookEvent::PreTraffic,
            already_started: true
        }
    );
    // The execution lookup alone answers a duplicate: nothing asked of the controller.
    assert!(world.lifecycle.calls().is_empty(), "{:?}", world.lifecycle.calls());
    assert_eq!((world.starts().len(), world.plans.reads().len()), (0, 0));
}

#[tokio::test]
async fn a_start_raced_by_a_duplicate_of_the_same_hook_is_already_started() {
    // Not there at the first lookup, there (answering this hook) once StartExecution says it exists.
    let world = world("BeforeAllowTraffic");
    let racing = input(HookEvent::PreTraffic, HOOK_EXECUTION);
    world.executions.race_next_start(CANARY, "d-TESTDEP01-BeforeAllowTraffic", RunStatus::Running, &racing);

    let out = started_output(run(&world, event()).await);

    assert!(out.already_started);
    assert_eq!(out.execution_arn, CANARY_EXECUTION);
    assert_eq!(world.starts().len(), 1);
    let canary_lookups = world.executions.described().iter().filter(|a| *a == CANARY_EXECUTION).count();
    assert_eq!(canary_lookups, 2, "looked up before the start and again once it existed");
    assert!(world.lifecycle.reports().is_empty());
}

#[tokio::test]
async fn a_start_raced_by_another_hook_id_starts_nothing_and_reports_nothing() {
    let world = world("BeforeAllowTraffic");
    let racing = input(HookEvent::PreTraffic, "someone-else");
    world.executions.race_next_start(CANARY, "d-TESTDEP01-BeforeAllowTraffic", RunStatus::Running, &racing);

    let err = run(&world, event()).await.unwrap_err();

    assert_eq!(err.error_type(), "InvalidInput", "{err}");
    assert!(err.to_string().contains("LifecycleEventHookExecutionId"), "{err}");
    assert!(
        world.lifecycle.reports().is_empty(),
        "a Failed report could land while the other execution has traffic split"
    );
}

/// The deployment has moved on to AfterAllowTraffic; the canary execution answered BeforeAllowTraffic.
fn after_moved_on(canary_status: RunStatus) -> HookWorld {
    let world = world("AfterAllowTraffic");
    existing(&world, HookEvent::PreTraffic, BEFORE_HOOK, canary_status);
    world
}

#[tokio::test]
async fn a_stale_before_allow_traffic_invocation_while_after_allow_traffic_is_in_progress_starts_nothing() {
    let world = after_moved_on(RunStatus::Succeeded);

    let out = started_output(run(&world, event_for(BEFORE_HOOK)).await);

    assert_eq!(out.event, HookEvent::PreTraffic, "matched to the hook it carries, not the event in progress");
    assert!(out.already_started);
    assert_eq!(out.execution_arn, CANARY_EXECUTION);
    assert!(world.starts().is_empty(), "no post-traffic execution for the BeforeAllowTraffic hook id");
    assert!(world.lifecycle.reports().is_empty());
}

#[tokio::test]
async fn after_a_stale_invocation_the_genuine_after_allow_traffic_one_starts_post_traffic_with_its_own_id() {
    // Step Functions: the first start of the name succeeds, any later one finds it exists.
    let world = after_moved_on(RunStatus::Succeeded);
    let deps = world.deps(machines());

    let stale = started_output(handle(&deps, event_for(BEFORE_HOOK)).await);
    let genuine = started_output(handle(&deps, event_for(AFTER_HOOK)).await);

    assert!(stale.already_started && stale.event == HookEvent::PreTraffic, "{stale:?}");
    assert_eq!(
        genuine,
        Output {
            execution_arn: POST_TRAFFIC_EXECUTION.into(),
            state_machine_arn: POST_TRAFFIC.into(),
            event: HookEvent::PostTraffic,
            already_started: false
        }
    );
    let (machine, name, doc) = only_start(&world);
    assert_eq!((machine.as_str(), name.as_str()), (POST_TRAFFIC, "d-TESTDEP01-AfterAllowTraffic"));
    let hook = doc.context.hook.expect("hook");
    assert_eq!((hook.event, hook.execution_id.as_str()), (HookEvent::PostTraffic, AFTER_HOOK));
    assert!(world.lifecycle.reports().is_empty());
}

#[tokio::test]
async fn after_allow_traffic_reuses_the_succeeded_canary_executions_context_and_plan() {
    // The canary execution of this deployment succeeded: its document already holds the context
    // (deployment group, listener, target group ARNs, task sets) and the plan. Only what moves is
    // read again (which event is in progress, since when); the stored plan is not, even if it changed.
    let world = after_moved_on(RunStatus::Succeeded);

    let out = started_output(run(&world, event_for(AFTER_HOOK)).await);

    assert_eq!((out.event, out.already_started), (HookEvent::PostTraffic, false));
    assert_eq!(
        world.lifecycle.calls(),
        ["resolve_known"],
        "the event in progress and its start are read; the deployment is not resolved again"
    );
    assert!(world.plans.reads().is_empty(), "the plan is the canary's");
    let (_, _, doc) = only_start(&world);
    let mut expected = context();
    expected.hook =
        Some(HookRef { kind: Controller::CodeDeploy, event: HookEvent::PostTraffic, execution_id: AFTER_HOOK.into() });
    expected.cohort_rules_removed = true;
    assert_eq!(doc.context, expected);
    assert_eq!(doc.plan, hookline::testing::plan());
    assert_eq!((doc.state.weight, doc.state.started_at), (100, EVENT_STARTED_AT));
    assert!(world.lifecycle.reports().is_empty());
}

#[tokio::test]
async fn after_allow_traffic_reuses_a_canary_execution_not_yet_closed_after_its_finalize() {
    // CodeDeploy moved on as soon as Finalize reported; Step Functions has not closed the canary yet.
    let world = after_moved_on(RunStatus::Running);

    started_output(run(&world, event_for(AFTER_HOOK)).await);

    assert_eq!(world.lifecycle.calls(), ["resolve_known"]);
    assert!(world.plans.reads().is_empty());
    let (_, _, doc) = only_start(&world);
    assert!(doc.context.cohort_rules_removed);
    assert_eq!(doc.plan, hookline::testing::plan());
}

#[tokio::test]
async fn after_allow_traffic_after_a_failed_canary_resolves_afresh_and_leaves_cohorts_to_finalize() {
    // Only a canary that succeeded removed the cohort rules (its finalize did, before reporting).
    let world = after_moved_on(RunStatus::Failed);

    started_output(run(&world, event_for(AFTER_HOOK)).await);

    // The admission (is this CodeDeploy's own rollback?), then the resolve.
    assert_eq!(world.lifecycle.calls(), ["admission", "resolve"], "resolved afresh");
    assert_eq!(world.plans.reads(), [PLAN_PARAMETER]);
    let (_, _, doc) = only_start(&world);
    assert!(!doc.context.cohort_rules_removed);
    assert_eq!(doc.plan, Plan::from_json(PLAN_JSON).expect("plan"));
}

#[tokio::test]
async fn an_unknown_id_for_an_event_already_served_starts_nothing_and_reports_nothing() {
    let world = after_moved_on(RunStatus::Succeeded);
    existing(&world, HookEvent::PostTraffic, AFTER_HOOK, RunStatus::Running);

    let err = run(&world, event_for("an-id-no-execution-answers")).await.unwrap_err();

    // Not done blindly: an error (Lambda retries it, then the alarmed dead-letter queue and its
    // consumer take over), no second execution, no report while post-traffic runs.
    assert_eq!(err.error_type(), "InvalidInput", "{err}");
    assert!(err.to_string().contains("LifecycleEventHookExecutionId"), "{err}");
    assert!(err.to_string().contains(POST_TRAFFIC_EXECUTION), "{err}");
    assert!(world.starts().is_empty(), "no start attempted");
    assert!(world.lifecycle.reports().is_empty());
}

#[tokio::test]
async fn a_failing_execution_lookup_is_left_unreported_for_lambda_to_retry() {
    // Whether an execution already serves this hook is unknown: a Failed report could land while
    // that execution has production split (or after AllowTraffic moved it). The error goes back to
    // Lambda (retries, then the dead-letter consumer, which checks the same facts).
    let world = world("BeforeAllowTraffic");
    world.executions.fail(ExecutionsCall::Describe, denied("DescribeExecution"));

    let err = run(&world, event()).await.unwrap_err();

    assert!(err.to_string().contains("AccessDeniedException"), "{err}");
    assert!(world.lifecycle.reports().is_empty(), "not reported");
    assert!(world.starts().is_empty());
}

#[tokio::test]
async fn a_failure_before_the_route_is_known_after_allow_traffic_is_left_unreported() {
    // AllowTraffic has put production on green, and without the plan hook cannot tell where
    // production lives: no report (CodeDeploy would roll back at once with production on green).
    let plans_down = FakePlanStore::default().failing_reads(denied("GetParameter"));
    let world = world_on_green("AfterAllowTraffic", plans_down);

    let err = run(&world, event()).await.unwrap_err();

    assert!(err.to_string().contains("GetParameter"), "{err}");
    assert_eq!((world.routers.restores(), world.routers.set_calls().len()), (0, 0), "nothing changed");
    assert!(world.lifecycle.reports().is_empty(), "nothing reported");
    assert!(world.starts().is_empty());
}

#[tokio::test]
async fn a_failing_start_after_allow_traffic_restores_blue_before_reporting_failed() {
    // AllowTraffic has put production on green 100%: the Failed report (CodeDeploy rolls back
    // at once) must find it on blue 100% with no cohort rule, as on every other path.
    let world = world_on_green("AfterAllowTraffic", plan_stored(PLAN_JSON));
    world.executions.fail(ExecutionsCall::Start, denied("StartExecution"));

    let failed = reported_failed(run(&world, event()).await);

    assert!(failed.error.contains("AccessDeniedException"), "{failed:?}");
    assert_eq!(world.routers.restores(), 1);
    assert_eq!(
        world.lifecycle.production_at_reports(),
        [(Weights::BLUE_ONLY, vec![])],
        "restore first, then exactly one Failed report"
    );
    assert_eq!(only_status(&world), HookStatus::Failed);
}

#[tokio::test]
async fn a_start_failure_whose_restore_fails_is_left_unreported_for_lambda_to_retry() {
    // Reporting now would make CodeDeploy roll back with production still on green: the error
    // goes back to Lambda instead (retries, then the dead-letter consumer restores and reports).
    let world = world_on_green("AfterAllowTraffic", plan_stored(PLAN_JSON));
    world.routers.fail(RouterCall::SetWeights, denied("ModifyListener"));
    world.executions.fail(ExecutionsCall::Start, denied("StartExecution"));

    let err = run(&world, event()).await.unwrap_err();

    assert!(err.to_string().contains("StartExecution"), "the original error: {err}");
    assert!(world.lifecycle.reports().is_empty(), "no report");
}

#[tokio::test]
async fn a_failing_start_reports_failed_exactly_once() {
    let world = world("BeforeAllowTraffic");
    world.executions.fail(ExecutionsCall::Start, denied("StartExecution"));

    // Before AllowTraffic nobody has moved production: reported at once, no listener change.
    let err = reported_failed(run(&world, event()).await);

    assert_eq!(err.error_type, "AwsPermanent", "{err:?}");
    assert!(err.error.contains("AccessDeniedException"), "{err:?}");
    assert_eq!(only_status(&world), HookStatus::Failed);
    assert_eq!((world.routers.restores(), world.routers.set_calls().len()), (0, 0));
}

#[tokio::test]
async fn a_hook_answered_failed_is_done_for_lambda_but_an_unanswered_one_is_an_error() {
    // Answered (now or already): success, so Lambda neither retries (each retry would report again,
    // on a deployment that already failed) nor dead-letters an answered hook.
    let no_plan = |lifecycle: FakeLifecycle| HookWorld::new(lifecycle, FakePlanStore::default(), Weights::BLUE_ONLY);
    let world = no_plan(deployment("BeforeAllowTraffic"));
    let failed = reported_failed(run(&world, event()).await);
    assert!(!failed.already_reported);
    assert_eq!(world.lifecycle.reports().len(), 1);

    let world = no_plan(deployment("BeforeAllowTraffic").reporting(Ok(Reported::Already)));
    let failed = reported_failed(run(&world, event()).await);
    assert!(failed.already_reported);

    // The report itself failed: the hook is unanswered, the error goes back to Lambda to retry.
    let refused = Err(denied("PutLifecycleEventHookExecutionStatus"));
    let world = no_plan(deployment("BeforeAllowTraffic").reporting(refused));
    let err = run(&world, event()).await.unwrap_err();
    assert_eq!(err.error_type(), "InvalidInput", "the original error: {err}");
    assert_eq!(world.lifecycle.reports().len(), 1);
}

#[tokio::test]
async fn a_late_delivery_for_a_deployment_that_ended_reports_nothing() {
    // The first delivery answered Failed (no plan) and the deployment failed; a duplicate arrives.
    let ended = FakeLifecycle::with_statuses([DeploymentStatus::Failed])
        .resolving(resolved_started("BeforeAllowTraffic", Some(EVENT_STARTED_AT)));
    let world = HookWorld::new(ended, FakePlanStore::default(), Weights::BLUE_ONLY);

    let failed = reported_failed(run(&world, event()).await);

    assert!(failed.already_reported, "{failed:?}");
    assert!(world.lifecycle.reports().is_empty(), "nobody waits for the hook of an ended deployment");
    assert!(world.starts().is_empty());
}

#[tokio::test]
async fn a_missing_plan_reports_failed_and_is_invalid_input() {
    let world = HookWorld::new(deployment("BeforeAllowTraffic"), FakePlanStore::default(), Weights::BLUE_ONLY);

    let err = reported_failed(run(&world, event()).await);

    assert_eq!(err.error_type, "InvalidInput", "{err:?}");
    assert!(err.error.contains("plan") && err.error.contains(PLAN_PARAMETER), "{err:?}");
    assert_eq!(only_status(&world), HookStatus::Failed);
    assert!(world.starts().is_empty());
}

#[tokio::test]
async fn an_invalid_plan_reports_failed_and_names_the_field() {
    let world = HookWorld::new(
        deployment("BeforeAllowTraffic"),
        plan_stored(r#"{"steps":[{"weight":"ten"}]}"#),
        Weights::BLUE_ONLY,
    );

    let err = reported_failed(run(&world, event()).await);

    assert_eq!(err.error_type, "InvalidInput", "{err:?}");
    assert!(err.error.contains("plan.steps[0].weight"), "{err:?}");
    assert_eq!(only_status(&world), HookStatus::Failed);
    assert!(world.starts().is_empty());
}

#[tokio::test]
async fn a_plan_that_is_not_json_reports_failed() {
    let world = HookWorld::new(
        deployment("BeforeAllowTraffic"),
        plan_stored(r#"{"steps": [{"weight": 10},"#),
        Weights::BLUE_ONLY,
    );

    let err = reported_failed(run(&world, event()).await);

    assert_eq!(err.error_type, "InvalidInput", "{err:?}");
    assert!(err.error.contains("invalid input: plan"), "{err:?}");
    assert_eq!(only_status(&world), HookStatus::Failed);
}

#[tokio::test]
async fn another_lifecycle_event_in_progress_reports_failed() {
    let world = world("AfterInstall");

    let err = reported_failed(run(&world, event()).await);

    assert_eq!(err.error_type, "InvalidInput", "{err:?}");
    assert!(err.error.contains("AfterInstall"), "{err:?}");
    assert_eq!(only_status(&world), HookStatus::Failed);
    assert!(world.starts().is_empty());
}

#[tokio::test]
async fn an_invalid_plan_after_allow_traffic_restores_its_route_before_reporting() {
    // The plan no longer validates but still names the route (as rollback reads it).
    let invalid = plan_stored(r#"{"steps":[{"weight":10}],"hook_budget":"2h"}"#);
    let world = world_on_green("AfterAllowTraffic", invalid);

    let failed = reported_failed(run(&world, event()).await);

    assert_eq!(failed.error_type, "InvalidInput", "{failed:?}");
    assert_eq!(
        world.routers.routes().last(),
        Some(&hookline::execution::Route::AlbListener { listener_arn: LISTENER.into() })
    );
    assert_eq!(world.lifecycle.production_at_reports(), [(Weights::BLUE_ONLY, vec![])]);
    assert_eq!(only_status(&world), HookStatus::Failed);
}

#[tokio::test]
async fn a_malformed_event_is_invalid_input_naming_the_field() {
    // Nothing scripted: no port is asked anything.
    let world = world("BeforeAllowTraffic");
    let err =
        run(&world, json!({"DeploymentId": 7, "LifecycleEventHookExecutionId": HOOK_EXECUTION})).await.unwrap_err();
    assert_eq!(err.error_type(), "InvalidInput", "{err}");
    assert!(err.to_string().contains("DeploymentId"), "{err}");

    let err = run(&world, json!({"DeploymentId": DEPLOYMENT, "LifecycleEventHookExecutionId": ""})).await.unwrap_err();
    assert_eq!(err.error_type(), "InvalidInput", "{err}");
    assert!(err.to_string().contains("LifecycleEventHookExecutionId"), "{err}");
    assert!(world.lifecycle.calls().is_empty() && world.executions.described().is_empty());
}

#[test]
fn init_builds_the_clients_the_hook_uses_and_not_cloudwatchs() {
    let clients = hookline::testing::unbuilt_clients();
    let machines = HookStateMachines { canary: CANARY.into(), post_traffic: POST_TRAFFIC.into() };
    let _deps = crate::deps::deps(&clients, machines, "/hookline".into());
    let built = [
        clients.codedeploy.is_built(),
        clients.ecs.is_built(),
        clients.elbv2.is_built(),
        clients.sfn.is_built(),
        clients.ssm.is_built(),
    ];
    assert_eq!(built, [true; 5]);
    assert!(!clients.cloudwatch.is_built());
}

#[tokio::test]
async fn a_rollback_deployments_hooks_are_answered_succeeded_and_start_and_move_nothing() {
    // CodeDeploy's own rollback deployment (a new deployment: creator codeDeployRollback,
    // rollbackInfo.rollbackTriggeringDeploymentId set) invoking the AppSpec's hooks, if it does:
    // its BeforeAllowTraffic is no canary (its other side is the revision that just failed) and
    // its AfterAllowTraffic no bake.
    for (in_progress, hook) in [("BeforeAllowTraffic", BEFORE_HOOK), ("AfterAllowTraffic", AFTER_HOOK)] {
        let rollback = deployment(in_progress).admitting(Admission::Rollback { of: Some("d-FAILED001".into()) });
        let world = HookWorld::new(rollback, plan_stored(PLAN_JSON), Weights::BLUE_ONLY);

        let reply = run(&world, event_for(hook)).await;

        let Ok(Reply::PassedThrough(passed)) = reply else {
            panic!("{in_progress}: expected the hook answered Succeeded without a canary, got {reply:?}")
        };
        assert_eq!((passed.reported, passed.already_reported), (HookStatus::Succeeded, false), "{in_progress}");
        assert!(passed.reason.contains("rollback of d-FAILED001"), "{in_progress}: {}", passed.reason);
        assert_eq!(
            world.lifecycle.reports(),
            [(DEPLOYMENT.to_string(), hook.to_string(), HookStatus::Succeeded)],
            "{in_progress}: reported once"
        );
        assert_eq!(
            (world.starts().len(), world.routers.set_calls().len(), world.routers.cohorts().len()),
            (0, 0, 0),
            "{in_progress}: no execution started, no traffic moved, no rule made"
        );
        assert!(world.plans.reads().is_empty(), "{in_progress}: no plan read");
        assert_eq!(world.lifecycle.count("resolve"), 0, "{in_progress}: nothing else resolved");
    }
}

#[tokio::test]
async fn a_rollback_deployments_hook_already_answered_is_done() {
    // A second delivery of the same invocation: CodeDeploy says the hook is answered.
    let rollback = FakeLifecycle::default()
        .admitting(Admission::Rollback { of: Some("d-FAILED001".into()) })
        .reporting(Ok(Reported::Already));
    let world = HookWorld::new(rollback, FakePlanStore::default(), Weights::BLUE_ONLY);

    let reply = run(&world, event()).await;

    let Ok(Reply::PassedThrough(passed)) = reply else { panic!("expected a pass-through, got {reply:?}") };
    assert_eq!((passed.reported, passed.already_reported), (HookStatus::Succeeded, true));
    assert_eq!((world.lifecycle.reports().len(), world.starts().len()), (1, 0));
}

#[tokio::test]
async fn an_unreadable_deployment_reports_nothing_before_its_admission_is_known() {
    // The deployment unreadable (throttled past the SDK's retries): whether this is CodeDeploy's
    // rollback is unknown, and a Failed report would fail a rollback. Nothing is reported: Lambda
    // retries, then the dead-letter consumer.
    let world = world("BeforeAllowTraffic");
    world.lifecycle.fail_admission(throttled("GetDeployment"));

    let err = run(&world, event()).await.unwrap_err();

    assert_eq!(err.error_type(), "Throttled", "{err}");
    assert_eq!((world.lifecycle.reports().len(), world.starts().len()), (0, 0));
}
