//! The ECS entry over the in-memory fakes of the ports (`crate::fakes`).

use hookline::execution::mocks::machines;
use hookline::execution::{execution_arn, DeploymentContext, ExecutionDocument, HookEvent, HookRef, Route, Side};
use hookline::lifecycle::ecs::mocks::{DEPLOYMENT, PROD_RULE, TG_API_BLUE, TG_API_GREEN};
use hookline::lifecycle::{Admission, Resolved};
use hookline::plan::Controller;
use hookline::ports::RunStatus;
use hookline::testing::{plan, state, FakeLifecycle, FakePlanStore, RouterCall};
use hookline::traffic::Weights;
use serde_json::json;

use super::*;
use crate::fakes::{access_denied, throttled, World};

/// This deployment's blue is the source revision's group (`api-green` in the fixtures), green the target's.
const BLUE: &str = TG_API_GREEN;
const GREEN: &str = TG_API_BLUE;
const PROD_LISTENER: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/demo-api/50dc/f2f7";
const ECS_PLAN: &str = r#"{"steps":[{"weight":10,"bake":"1m"},{"approval":{"timeout":"2h"}},{"weight":100}],"health":{"interval":"7s","alarms":["api-5xx"]},"hook_budget":"4h"}"#;
const PLAN_PARAMETER: &str = "/hookline/ecs/demo/api";

fn payload(stage: &str, details: Option<Value>) -> Value {
    let mut p = json!({"executionId": "exec-fresh-each-time", "lifecycleStage": stage, "resourceArn": DEPLOYMENT,
                       "executionDetails": {"serviceArn": "arn:aws:ecs:us-east-1:123456789012:service/demo/api"}});
    if let Some(d) = details {
        p["hookDetails"] = d;
    }
    p
}

fn canary_execution_arn() -> String {
    execution_arn(machines().canary.as_str(), "r4nd0mId-BeforeAllowTraffic")
}

fn ecs_context() -> DeploymentContext {
    DeploymentContext {
        deployment_id: DEPLOYMENT.into(),
        application: "ecs/demo".into(),
        deployment_group: "api".into(),
        hook: Some(HookRef { kind: Controller::Ecs, event: HookEvent::PreTraffic, execution_id: "e0".into() }),
        cluster: "demo".into(),
        service: "api".into(),
        production: Route::AlbRule { listener_arn: PROD_LISTENER.into(), rule_arn: PROD_RULE.into() },
        test_listener_arn: None,
        blue: Side {
            target_group_arn: BLUE.into(),
            target_group_name: "api-green".into(),
            task_set_arn: None,
            service: None,
        },
        green: Side {
            target_group_arn: GREEN.into(),
            target_group_name: "api-blue".into(),
            task_set_arn: None,
            service: None,
        },
        cohort_rules_removed: false,
    }
}

/// The service deployment as ECS's adapter resolves it, its hook expiring at `hook_expires_at`.
fn resolved(hook_expires_at: Option<i64>) -> Resolved {
    let mut context = ecs_context();
    context.hook = None;
    Resolved { context, in_progress_event: None, in_progress_hook: None, in_progress_started_at: None, hook_expires_at }
}

/// The demo service deployment in progress with `plan` stored, production at `weights`.
fn world_with(lifecycle: FakeLifecycle, plan: &str, weights: Weights) -> World {
    World::new(lifecycle, FakePlanStore::default().with(PLAN_PARAMETER, plan), weights)
}

fn world(weights: Weights) -> World {
    world_with(FakeLifecycle::default().resolving(resolved(None)), ECS_PLAN, weights)
}

async fn answer_of(world: &World, payload: Value) -> Value {
    handle(&world.deps(machines()), payload).await
}

/// The canary execution exists with `status`, started with the ECS context.
fn execution_is(world: &World, status: RunStatus) {
    let doc = ExecutionDocument { context: ecs_context(), plan: plan(), state: state(10, 60) };
    let input = serde_json::to_string(&doc).expect("doc");
    world.executions.fake.insert(&machines().canary, "r4nd0mId-BeforeAllowTraffic", status, Some(&input));
}

/// Production was restored once, on the service's production rule: blue 100%, no cohort rule.
fn restored_on_the_production_rule(world: &World) {
    assert_eq!(world.routers.set_calls(), [(Weights::BLUE_ONLY, None)]);
    assert_eq!(
        world.routers.routes().last(),
        Some(&Route::AlbRule { listener_arn: PROD_LISTENER.into(), rule_arn: PROD_RULE.into() })
    );
    assert_eq!(world.routers.weights(), Weights::BLUE_ONLY);
}

#[tokio::test]
async fn the_first_invocation_starts_the_canary_keyed_on_the_service_deployment_and_answers_in_progress() {
    let world = world(Weights::BLUE_ONLY);

    let answer = answer_of(&world, payload("POST_TEST_TRAFFIC_SHIFT", Some(json!({"team": "api"})))).await;

    assert_eq!(answer["hookStatus"], "IN_PROGRESS", "{answer}");
    assert_eq!(answer["callBackDelay"], 7, "the plan's health interval");
    assert_eq!(answer["hookDetails"]["team"], "api", "configured details kept");
    assert_eq!(answer["hookDetails"]["hooklineExecutionArn"], canary_execution_arn());
    assert_eq!(answer["hookDetails"]["hooklineCallBackDelay"], 7);
    let starts = world.starts();
    assert_eq!(starts.len(), 1, "{starts:?}");
    let (_, name, input) = &starts[0];
    assert_eq!(name, "r4nd0mId-BeforeAllowTraffic");
    let doc: ExecutionDocument = serde_json::from_str(input).expect("document");
    assert_eq!(
        doc.context.production,
        Route::AlbRule { listener_arn: PROD_LISTENER.into(), rule_arn: PROD_RULE.into() }
    );
    assert_eq!(
        (doc.context.blue.target_group_arn.as_str(), doc.context.green.target_group_arn.as_str()),
        (BLUE, GREEN)
    );
    assert_eq!(doc.context.hook.as_ref().map(|h| h.kind), Some(Controller::Ecs));
    assert_eq!(doc.plan.hook_budget_seconds, 4 * 3600, "hours of budget are valid in ECS mode");
    assert_eq!(world.plans.reads(), [PLAN_PARAMETER]);
}

#[tokio::test]
async fn a_plan_not_ending_at_100_is_answered_failed_and_starts_nothing() {
    let plan = r#"{"steps":[{"weight":10,"bake":"1m"},{"weight":50}],"health":{"interval":"7s"}}"#;
    let world = world_with(FakeLifecycle::default().resolving(resolved(None)), plan, Weights::BLUE_ONLY);

    let answer = answer_of(&world, payload("POST_TEST_TRAFFIC_SHIFT", None)).await;

    assert_eq!(answer["hookStatus"], "FAILED", "{answer}");
    assert!(answer["hookDetails"]["hooklineError"].as_str().is_some_and(|e| e.contains("100")), "{answer}");
    assert!(world.starts().is_empty());
}

#[tokio::test]
async fn later_invocations_map_the_execution() {
    let world = world(Weights::green(10));
    execution_is(&world, RunStatus::Running);
    let answer = answer_of(&world, payload("POST_TEST_TRAFFIC_SHIFT", Some(json!({"hooklineCallBackDelay": 7})))).await;
    assert_eq!(answer["hookStatus"], "IN_PROGRESS", "{answer}");
    assert_eq!(answer["callBackDelay"], 7, "the delay carried in hookDetails");
    assert_eq!(answer["hookDetails"]["hooklineExecutionArn"], canary_execution_arn());

    let world = self::world(Weights::BLUE_ONLY);
    execution_is(&world, RunStatus::Succeeded);
    let answer = answer_of(&world, payload("POST_TEST_TRAFFIC_SHIFT", None)).await;
    assert_eq!(answer["hookStatus"], "SUCCEEDED", "{answer}");
    // Neither asked anything of the controller nor started anything.
    assert!(world.lifecycle.calls().is_empty() && world.starts().is_empty());
}

#[tokio::test]
async fn a_failed_execution_is_answered_failed_only_after_production_is_back_on_blue() {
    let world = world(Weights::green(50));
    execution_is(&world, RunStatus::Failed);

    let answer = answer_of(&world, payload("POST_TEST_TRAFFIC_SHIFT", None)).await;

    assert_eq!(answer["hookStatus"], "FAILED", "{answer}");
    restored_on_the_production_rule(&world);
}

#[tokio::test]
async fn a_failed_execution_whose_restore_fails_is_asked_again_never_failed() {
    let world = world(Weights::green(50));
    execution_is(&world, RunStatus::Failed);
    world.routers.fail(RouterCall::SetWeights, access_denied("ModifyRule"));

    let answer = answer_of(&world, payload("POST_TEST_TRAFFIC_SHIFT", None)).await;

    assert_eq!(answer["hookStatus"], "IN_PROGRESS", "production may be split: {answer}");
}

#[tokio::test]
async fn rollback_stage_invocations_succeed_at_once_without_a_call() {
    let world = world(Weights::BLUE_ONLY);
    for stage in ["TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT"] {
        let answer = answer_of(&world, payload(stage, None)).await;
        assert_eq!(answer, json!({"hookStatus": "SUCCEEDED"}), "{stage}");
    }
    assert!(world.lifecycle.calls().is_empty() && world.executions.described().is_empty(), "no port asked");
}

#[tokio::test]
async fn an_unreadable_payload_is_answered_not_raised() {
    let world = world(Weights::BLUE_ONLY);
    let answer = answer_of(&world, json!({"lifecycleStage": "POST_TEST_TRAFFIC_SHIFT", "resourceArn": "nope"})).await;
    assert_eq!(answer["hookStatus"], "FAILED", "{answer}");
    assert!(world.lifecycle.calls().is_empty() && world.executions.described().is_empty(), "no port asked");
}

#[tokio::test]
async fn dispatch_sends_ecs_payloads_to_the_ecs_entry() {
    let world = world(Weights::BLUE_ONLY);
    let reply = crate::dispatch::dispatch(&world.deps(machines()), payload("PRODUCTION_TRAFFIC_SHIFT", None))
        .await
        .expect("reply");
    assert_eq!(serde_json::to_value(reply).expect("json"), json!({"hookStatus": "SUCCEEDED"}));
}

#[tokio::test]
async fn a_transient_error_before_the_start_is_asked_again_a_permanent_one_answered_failed() {
    let world = world(Weights::BLUE_ONLY);
    world.lifecycle.fail_admission(throttled("DescribeServiceDeployments"));
    let answer = answer_of(&world, payload("POST_TEST_TRAFFIC_SHIFT", None)).await;
    assert_eq!(answer["hookStatus"], "IN_PROGRESS", "{answer}");
    assert_eq!(answer["callBackDelay"], 30, "ECS's default delay when no plan said otherwise");

    let world = self::world(Weights::BLUE_ONLY);
    world.lifecycle.fail_admission(access_denied("DescribeServiceDeployments"));
    let answer = answer_of(&world, payload("POST_TEST_TRAFFIC_SHIFT", None)).await;
    assert_eq!(answer["hookStatus"], "FAILED", "{answer}");
    assert!(answer["hookDetails"]["hooklineError"].as_str().is_some_and(|e| e.contains("AccessDenied")), "{answer}");
    assert!(world.starts().is_empty());
}

#[tokio::test]
async fn a_plan_that_cannot_end_before_the_hooks_timeout_is_refused_before_anything_moves() {
    // The hook's timeoutConfiguration ends it in an hour; the plan's budget is 4 h.
    let expiring = |left: i64| {
        let lifecycle = FakeLifecycle::default().resolving(resolved(Some(hookline::execution::now_epoch() + left)));
        world_with(lifecycle, ECS_PLAN, Weights::BLUE_ONLY)
    };
    let world = expiring(3600);

    let answer = answer_of(&world, payload("POST_TEST_TRAFFIC_SHIFT", None)).await;

    assert_eq!(answer["hookStatus"], "FAILED", "{answer}");
    let error = answer["hookDetails"]["hooklineError"].as_str().unwrap_or_default();
    assert!(error.contains("hook_budget") && error.contains("timeoutInMinutes"), "{answer}");
    assert!(world.starts().is_empty());
    assert!(world.routers.set_calls().is_empty(), "nothing moved");

    // With a day left it starts.
    let world = expiring(86_400);
    let answer = answer_of(&world, payload("POST_TEST_TRAFFIC_SHIFT", None)).await;
    assert_eq!(answer["hookStatus"], "IN_PROGRESS", "{answer}");
    assert_eq!(world.starts().len(), 1);
}

#[tokio::test]
async fn a_post_traffic_start_that_fails_puts_the_production_rule_back_on_blue_before_failed() {
    // ECS's PRODUCTION_TRAFFIC_SHIFT has put production on green 100%: FAILED (ECS rolls back at
    // once) only once the service's production rule is on blue again; a refused restore asks again.
    let on_green = || {
        let world = world(Weights::green(100));
        world.executions.fake.fail(hookline::testing::ExecutionsCall::Start, access_denied("StartExecution"));
        world
    };

    let world = on_green();
    let answer = answer_of(&world, payload("POST_PRODUCTION_TRAFFIC_SHIFT", None)).await;
    assert_eq!(answer["hookStatus"], "FAILED", "{answer}");
    restored_on_the_production_rule(&world);

    let world = on_green();
    world.routers.fail(RouterCall::SetWeights, access_denied("ModifyRule"));
    let answer = answer_of(&world, payload("POST_PRODUCTION_TRAFFIC_SHIFT", None)).await;
    assert_eq!(answer["hookStatus"], "IN_PROGRESS", "production still on green: {answer}");
}

#[tokio::test]
async fn a_service_creation_is_passed_through_succeeded_and_starts_nothing() {
    // ECS runs the hooks on CreateService: no source revision, nothing to canary against.
    for ecs_stage in ["POST_TEST_TRAFFIC_SHIFT", "POST_PRODUCTION_TRAFFIC_SHIFT"] {
        let creation = FakeLifecycle::default().resolving(resolved(None)).admitting(Admission::Creation);
        let world = world_with(creation, ECS_PLAN, Weights::BLUE_ONLY);

        let answer = answer_of(&world, payload(ecs_stage, Some(json!({"team": "api"})))).await;

        assert_eq!(answer, json!({"hookStatus": "SUCCEEDED", "hookDetails": {"team": "api"}}), "{ecs_stage}");
        assert!(world.starts().is_empty());
        assert!(world.routers.set_calls().is_empty());
    }
}

#[tokio::test]
async fn a_linear_service_is_answered_failed_naming_the_strategy_and_nothing_moves() {
    let linear = FakeLifecycle::default().resolving(resolved(None)).admitting(Admission::Strategy("LINEAR".into()));
    let world = world_with(linear, ECS_PLAN, Weights::BLUE_ONLY);

    let answer = answer_of(&world, payload("POST_TEST_TRAFFIC_SHIFT", None)).await;

    assert_eq!(answer["hookStatus"], "FAILED", "{answer}");
    let error = answer["hookDetails"]["hooklineError"].as_str().unwrap_or_default();
    assert!(error.contains("LINEAR") && error.contains("BLUE_GREEN") && error.contains("later issue"), "{error}");
    assert_eq!((world.starts().len(), world.routers.set_calls().len()), (0, 0));

    // ECS's rollback re-invokes the traffic-shift hooks: they pass, so the rollback proceeds.
    for stage in ["PRODUCTION_TRAFFIC_SHIFT", "TEST_TRAFFIC_SHIFT"] {
        assert_eq!(answer_of(&world, payload(stage, None)).await, json!({"hookStatus": "SUCCEEDED"}), "{stage}");
    }
}

#[tokio::test]
async fn revisions_and_live_rule_disagreeing_is_refused_naming_both_and_nothing_moves() {
    // The revisions say blue is api-green, but the production rule sends everything to api-blue.
    let world = world(Weights::green(100));

    let answer = answer_of(&world, payload("POST_TEST_TRAFFIC_SHIFT", None)).await;

    assert_eq!(answer["hookStatus"], "FAILED", "{answer}");
    let error = answer["hookDetails"]["hooklineError"].as_str().unwrap_or_default();
    assert!(error.contains(BLUE) && error.contains(GREEN) && error.contains(PROD_RULE), "{error}");
    assert!(error.contains("blue 0% / green 100%"), "the live reading: {error}");
    assert_eq!((world.starts().len(), world.routers.set_calls().len()), (0, 0));

    // After ECS's production shift green must serve 100%; blue at 100 there is the same refusal,
    // without the post-traffic restore (which would trust the disputed reading).
    let world = self::world(Weights::BLUE_ONLY);
    let answer = answer_of(&world, payload("POST_PRODUCTION_TRAFFIC_SHIFT", None)).await;
    assert_eq!(answer["hookStatus"], "FAILED", "{answer}");
    assert!(answer["hookDetails"]["hooklineError"].as_str().is_some_and(|e| e.contains("disagree")), "{answer}");
    assert_eq!((world.starts().len(), world.routers.set_calls().len()), (0, 0));
}

#[tokio::test]
async fn stages_hookline_does_not_serve_succeed_at_once_without_a_call() {
    let world = world(Weights::BLUE_ONLY);
    for stage in ["RECONCILE_SERVICE", "PRE_SCALE_UP", "POST_SCALE_UP", "PRE_PRODUCTION_TRAFFIC_SHIFT"] {
        let answer = answer_of(&world, payload(stage, Some(json!({"k": 1})))).await;
        assert_eq!(answer, json!({"hookStatus": "SUCCEEDED", "hookDetails": {"k": 1}}), "{stage}");
    }
    assert!(world.lifecycle.calls().is_empty() && world.executions.described().is_empty(), "no port asked");
}

/// A production route whose every call takes a minute (a restore retrying under throttling).
struct SlowRoutes;
struct SlowRouter;

impl hookline::traffic::RouterFactory for SlowRoutes {
    fn router(&self, _ctx: &DeploymentContext) -> Box<dyn hookline::traffic::TrafficRouter> {
        Box::new(SlowRouter)
    }
}

#[async_trait::async_trait]
impl hookline::traffic::TrafficRouter for SlowRouter {
    async fn weights(&self) -> Result<hookline::traffic::Weights> {
        tokio::time::sleep(std::time::Duration::from_secs(60)).await;
        Ok(hookline::traffic::Weights::BLUE_ONLY)
    }
    async fn set_weights(
        &self,
        _desired: hookline::traffic::Weights,
        _expect: Option<hookline::traffic::Weights>,
    ) -> Result<hookline::traffic::Change> {
        tokio::time::sleep(std::time::Duration::from_secs(60)).await;
        Ok(hookline::traffic::Change::Applied)
    }
    async fn add_cohort(&self, _cohort: &hookline::traffic::Cohort) -> Result<hookline::traffic::Change> {
        Ok(hookline::traffic::Change::AlreadyThere)
    }
    async fn remove_cohorts(&self) -> Result<usize> {
        tokio::time::sleep(std::time::Duration::from_secs(60)).await;
        Ok(0)
    }
}

#[tokio::test(start_paused = true)]
async fn a_slow_restore_is_answered_in_progress_before_the_functions_deadline() {
    // The execution failed; restoring production takes a minute, the function has 30 s. Lambda
    // would end the invocation (a function error: ECS rolls back with production maybe split);
    // hookline answers IN_PROGRESS before its deadline and the next invocation resumes.
    let world = world(Weights::green(50));
    execution_is(&world, RunStatus::Failed);
    let mut deps = world.deps(machines());
    deps.routers = std::sync::Arc::new(SlowRoutes);
    let began = tokio::time::Instant::now();
    let deadline = began + std::time::Duration::from_secs(30);

    let answer = handle_until(&deps, payload("POST_TEST_TRAFFIC_SHIFT", Some(json!({"k": 1}))), Some(deadline)).await;

    assert_eq!(
        answer,
        json!({"hookStatus": "IN_PROGRESS", "callBackDelay": DEADLINE_CALLBACK_DELAY_SECONDS, "hookDetails": {"k": 1}})
    );
    let answered = tokio::time::Instant::now();
    assert!(answered < deadline, "answered {:?} after the deadline", answered - deadline);
    assert_eq!(deadline - answered, DEADLINE_RESERVE);

    // A short deadline on the first invocation: the cross-check read is cut, nothing started.
    let world = self::world(Weights::BLUE_ONLY);
    let mut deps = world.deps(machines());
    deps.routers = std::sync::Arc::new(SlowRoutes);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    let answer = handle_until(&deps, payload("POST_TEST_TRAFFIC_SHIFT", None), Some(deadline)).await;
    assert_eq!(answer["hookStatus"], "IN_PROGRESS", "{answer}");
    assert!(world.starts().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_deadline_already_past_as_the_invocation_starts_is_not_a_deadline() {
    // The sandbox's Lambda emulator hands one; cutting at once would answer IN_PROGRESS forever.
    let world = world(Weights::green(10));
    execution_is(&world, RunStatus::Running);
    let past = tokio::time::Instant::now() - std::time::Duration::from_secs(1);
    let answer = handle_until(
        &world.deps(machines()),
        payload("POST_TEST_TRAFFIC_SHIFT", Some(json!({"hooklineCallBackDelay": 7}))),
        Some(past),
    )
    .await;
    assert_eq!(answer["hookStatus"], "IN_PROGRESS", "{answer}");
    assert_eq!(answer["callBackDelay"], 7, "the execution was looked at: {answer}");
}
