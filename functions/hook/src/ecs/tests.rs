use aws_sdk_elasticloadbalancingv2::operation::describe_rules::{DescribeRulesError, DescribeRulesOutput};
use aws_sdk_elasticloadbalancingv2::operation::describe_tags::DescribeTagsOutput;
use aws_sdk_elasticloadbalancingv2::operation::modify_rule::{ModifyRuleInput, ModifyRuleOutput};
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, ForwardActionConfig, Rule as ListenerRule, TargetGroupTuple,
};
use aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput;
use aws_sdk_sfn::operation::start_execution::{StartExecutionInput, StartExecutionOutput};
use aws_sdk_sfn::types::ExecutionStatus;
use aws_sdk_ssm::operation::get_parameter::GetParameterOutput;
use aws_smithy_mocks::{mock, Rule};
use hookline::execution::mocks::{machines, no_execution};
use hookline::execution::{
    execution_arn, DeploymentContext, ExecutionDocument, HookEvent, HookKind, HookRef, Route, Side,
};
use hookline::lifecycle::ecs::mocks::{
    described, revisions, EcsStatus, Stage, DEPLOYMENT, PROD_RULE, TG_API_BLUE, TG_API_GREEN,
};
use hookline::testing::{access_denied, mocked_clients, plan, state, Sent};
use serde_json::json;

use super::*;

/// This deployment's blue is the source revision's group (`api-green` in the fixtures), green the target's.
const BLUE: &str = TG_API_GREEN;
const GREEN: &str = TG_API_BLUE;
const PROD_LISTENER: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/demo-api/50dc/f2f7";
const ECS_PLAN: &str = r#"{"steps":[{"weight":10,"bake":"1m"},{"approval":{"timeout":"2h"}},{"weight":100}],"health":{"interval":"7s","alarms":["api-5xx"]},"hook_budget":"4h"}"#;

fn deps(rules: &[&Rule]) -> Deps {
    crate::dispatch::deps(&mocked_clients(rules), machines(), "/hookline".into())
}

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
        hook: Some(HookRef { kind: HookKind::Ecs, event: HookEvent::BeforeAllowTraffic, execution_id: "e0".into() }),
        cluster: "demo".into(),
        service: "api".into(),
        production: Route::AlbRule { listener_arn: PROD_LISTENER.into(), rule_arn: PROD_RULE.into() },
        test_listener_arn: None,
        blue: Side { target_group_arn: BLUE.into(), target_group_name: "api-green".into(), task_set_arn: None },
        green: Side { target_group_arn: GREEN.into(), target_group_name: "api-blue".into(), task_set_arn: None },
        cohort_rules_removed: false,
    }
}

fn execution_is(status: ExecutionStatus) -> Rule {
    mock!(aws_sdk_sfn::Client::describe_execution)
        .match_requests(|r| r.execution_arn() == Some(canary_execution_arn().as_str()))
        .then_output(move || {
            let doc = ExecutionDocument { context: ecs_context(), plan: plan(), state: state(10, 60) };
            DescribeExecutionOutput::builder()
                .execution_arn(canary_execution_arn())
                .state_machine_arn(machines().canary)
                .status(status.clone())
                .start_date(aws_sdk_sfn::primitives::DateTime::from_secs(0))
                .input(serde_json::to_string(&doc).expect("doc"))
                .build()
                .expect("output")
        })
}

fn ecs_plan(text: &'static str) -> Rule {
    mock!(aws_sdk_ssm::Client::get_parameter)
        .match_requests(|r| r.name() == Some("/hookline/ecs/demo/api"))
        .then_output(move || {
            GetParameterOutput::builder()
                .parameter(aws_sdk_ssm::types::Parameter::builder().name("/hookline/ecs/demo/api").value(text).build())
                .build()
        })
}

fn started(sent: &Sent<StartExecutionInput>) -> Rule {
    mock!(aws_sdk_sfn::Client::start_execution).match_requests(sent.recorder()).then_output(|| {
        StartExecutionOutput::builder()
            .execution_arn(canary_execution_arn())
            .start_date(aws_sdk_sfn::primitives::DateTime::from_secs(0))
            .build()
            .expect("output")
    })
}

/// The production rule forwarding `blue`/`green` (by rule ARN), and the listener's rules (by listener).
fn production_rule(blue: i32, green: i32) -> [Rule; 2] {
    let rule = move || {
        ListenerRule::builder()
            .rule_arn(PROD_RULE)
            .priority("1")
            .is_default(false)
            .actions(
                Action::builder()
                    .r#type(ActionTypeEnum::Forward)
                    .forward_config(
                        ForwardActionConfig::builder()
                            .target_groups(TargetGroupTuple::builder().target_group_arn(BLUE).weight(blue).build())
                            .target_groups(TargetGroupTuple::builder().target_group_arn(GREEN).weight(green).build())
                            .build(),
                    )
                    .build(),
            )
            .build()
    };
    [
        mock!(aws_sdk_elasticloadbalancingv2::Client::describe_rules)
            .then_output(move || DescribeRulesOutput::builder().rules(rule()).build()),
        mock!(aws_sdk_elasticloadbalancingv2::Client::describe_tags)
            .then_output(|| DescribeTagsOutput::builder().build()),
    ]
}

/// The (target group, weight) pairs a ModifyRule request forwards to.
fn forwarded(request: &ModifyRuleInput) -> Vec<(String, i32)> {
    request.actions()[0]
        .forward_config()
        .expect("forward")
        .target_groups()
        .iter()
        .map(|t| (t.target_group_arn().unwrap_or_default().to_string(), t.weight().unwrap_or(-1)))
        .collect()
}

#[tokio::test]
async fn the_first_invocation_starts_the_canary_keyed_on_the_service_deployment_and_answers_in_progress() {
    let none = no_execution();
    let deployment = described(EcsStatus::InProgress, Some(Stage::PostTestTrafficShift));
    let revisions = revisions();
    let plan = ecs_plan(ECS_PLAN);
    let sent = Sent::default();
    let start = started(&sent);
    let [rules, tags] = production_rule(100, 0);
    let deps = deps(&[&none, &deployment, &revisions, &plan, &start, &rules, &tags]);

    let answer = handle(&deps, payload("POST_TEST_TRAFFIC_SHIFT", Some(json!({"team": "api"})))).await;

    assert_eq!(answer["hookStatus"], "IN_PROGRESS", "{answer}");
    assert_eq!(answer["callBackDelay"], 7, "the plan's health interval");
    assert_eq!(answer["hookDetails"]["team"], "api", "configured details kept");
    assert_eq!(answer["hookDetails"]["hooklineExecutionArn"], canary_execution_arn());
    let input = sent.only();
    assert_eq!(input.name(), Some("r4nd0mId-BeforeAllowTraffic"));
    let doc: ExecutionDocument = serde_json::from_str(input.input().expect("input")).expect("document");
    assert_eq!(
        doc.context.production,
        Route::AlbRule { listener_arn: PROD_LISTENER.into(), rule_arn: PROD_RULE.into() }
    );
    assert_eq!(
        (doc.context.blue.target_group_arn.as_str(), doc.context.green.target_group_arn.as_str()),
        (BLUE, GREEN)
    );
    assert_eq!(doc.context.hook.as_ref().map(|h| h.kind), Some(HookKind::Ecs));
    assert_eq!(doc.plan.hook_budget_seconds, 4 * 3600, "hours of budget are valid in ECS mode");
}

#[tokio::test]
async fn a_plan_not_ending_at_100_is_answered_failed_and_starts_nothing() {
    let none = no_execution();
    let deployment = described(EcsStatus::InProgress, Some(Stage::PostTestTrafficShift));
    let revisions = revisions();
    let plan = ecs_plan(r#"{"steps":[{"weight":10,"bake":"1m"},{"weight":50}],"health":{"interval":"7s"}}"#);
    let sent = Sent::default();
    let start = started(&sent);
    let [rules, tags] = production_rule(100, 0);
    let deps = deps(&[&none, &deployment, &revisions, &plan, &start, &rules, &tags]);

    let answer = handle(&deps, payload("POST_TEST_TRAFFIC_SHIFT", None)).await;

    assert_eq!(answer["hookStatus"], "FAILED", "{answer}");
    assert!(answer["hookDetails"]["hooklineError"].as_str().is_some_and(|e| e.contains("100")), "{answer}");
    assert_eq!(start.num_calls(), 0);
}

#[tokio::test]
async fn later_invocations_map_the_execution() {
    let running = execution_is(ExecutionStatus::Running);
    let answer =
        handle(&deps(&[&running]), payload("POST_TEST_TRAFFIC_SHIFT", Some(json!({"hooklineCallBackDelay": 7})))).await;
    assert_eq!(answer["hookStatus"], "IN_PROGRESS", "{answer}");
    assert_eq!(answer["callBackDelay"], 7, "the delay carried in hookDetails");

    let succeeded = execution_is(ExecutionStatus::Succeeded);
    let answer = handle(&deps(&[&succeeded]), payload("POST_TEST_TRAFFIC_SHIFT", None)).await;
    assert_eq!(answer["hookStatus"], "SUCCEEDED", "{answer}");
}

#[tokio::test]
async fn a_failed_execution_is_answered_failed_only_after_production_is_back_on_blue() {
    let failed = execution_is(ExecutionStatus::Failed);
    let [rules, tags] = production_rule(50, 50);
    let modified: Sent<ModifyRuleInput> = Sent::default();
    let modify = mock!(aws_sdk_elasticloadbalancingv2::Client::modify_rule)
        .match_requests(modified.recorder())
        .then_output(|| ModifyRuleOutput::builder().build());

    let answer = handle(&deps(&[&failed, &rules, &tags, &modify]), payload("POST_TEST_TRAFFIC_SHIFT", None)).await;

    assert_eq!(answer["hookStatus"], "FAILED", "{answer}");
    let request = modified.only();
    assert_eq!(request.rule_arn(), Some(PROD_RULE));
    assert_eq!(forwarded(&request), vec![(BLUE.to_string(), 100), (GREEN.to_string(), 0)]);
}

#[tokio::test]
async fn a_failed_execution_whose_restore_fails_is_asked_again_never_failed() {
    let failed = execution_is(ExecutionStatus::Failed);
    let denied = mock!(aws_sdk_elasticloadbalancingv2::Client::describe_rules)
        .then_error(|| DescribeRulesError::generic(access_denied()));

    let answer = handle(&deps(&[&failed, &denied]), payload("POST_TEST_TRAFFIC_SHIFT", None)).await;

    assert_eq!(answer["hookStatus"], "IN_PROGRESS", "production may be split: {answer}");
}

#[tokio::test]
async fn rollback_stage_invocations_succeed_at_once_without_a_call() {
    // No rule at all: any AWS call would panic.
    let deps = deps(&[]);
    for stage in ["TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT"] {
        let answer = handle(&deps, payload(stage, None)).await;
        assert_eq!(answer, json!({"hookStatus": "SUCCEEDED"}), "{stage}");
    }
}

#[tokio::test]
async fn an_unreadable_payload_is_answered_not_raised() {
    let answer = handle(&deps(&[]), json!({"lifecycleStage": "POST_TEST_TRAFFIC_SHIFT", "resourceArn": "nope"})).await;
    assert_eq!(answer["hookStatus"], "FAILED", "{answer}");
}

#[tokio::test]
async fn dispatch_sends_ecs_payloads_to_the_ecs_entry() {
    let reply = crate::dispatch::dispatch(&deps(&[]), payload("PRODUCTION_TRAFFIC_SHIFT", None)).await.expect("reply");
    assert_eq!(serde_json::to_value(reply).expect("json"), json!({"hookStatus": "SUCCEEDED"}));
}

#[tokio::test(start_paused = true)]
async fn a_transient_error_before_the_start_is_asked_again_a_permanent_one_answered_failed() {
    use aws_sdk_ecs::operation::describe_service_deployments::DescribeServiceDeploymentsError;

    let none = no_execution();
    let throttled = mock!(aws_sdk_ecs::Client::describe_service_deployments)
        .sequence()
        .http_status(400, Some(hookline::testing::throttling_json()))
        .times(10)
        .build();
    let answer = handle(&deps(&[&none, &throttled]), payload("POST_TEST_TRAFFIC_SHIFT", None)).await;
    assert_eq!(answer["hookStatus"], "IN_PROGRESS", "{answer}");
    assert_eq!(answer["callBackDelay"], 30, "ECS's default delay when no plan said otherwise");

    let none = no_execution();
    let denied = mock!(aws_sdk_ecs::Client::describe_service_deployments)
        .then_error(|| DescribeServiceDeploymentsError::generic(access_denied()));
    let answer = handle(&deps(&[&none, &denied]), payload("POST_TEST_TRAFFIC_SHIFT", None)).await;
    assert_eq!(answer["hookStatus"], "FAILED", "{answer}");
    assert!(answer["hookDetails"]["hooklineError"].as_str().is_some_and(|e| e.contains("AccessDenied")), "{answer}");
}

#[tokio::test]
async fn a_plan_that_cannot_end_before_the_hooks_timeout_is_refused_before_anything_moves() {
    use hookline::lifecycle::ecs::mocks::described_with_hook_expiring;

    // The hook's timeoutConfiguration ends it in an hour; the plan's budget is 4 h.
    let none = no_execution();
    let deployment = described_with_hook_expiring(hookline::execution::now_epoch() + 3600);
    let revisions = revisions();
    let plan = ecs_plan(ECS_PLAN);
    let sent = Sent::default();
    let start = started(&sent);
    let [rules, tags] = production_rule(100, 0);
    let deps = deps(&[&none, &deployment, &revisions, &plan, &start, &rules, &tags]);

    let answer = handle(&deps, payload("POST_TEST_TRAFFIC_SHIFT", None)).await;

    assert_eq!(answer["hookStatus"], "FAILED", "{answer}");
    let error = answer["hookDetails"]["hooklineError"].as_str().unwrap_or_default();
    assert!(error.contains("hook_budget") && error.contains("timeoutInMinutes"), "{answer}");
    assert_eq!(start.num_calls(), 0);

    // With a day left it starts.
    let none = no_execution();
    let deployment = described_with_hook_expiring(hookline::execution::now_epoch() + 86_400);
    let sent = Sent::default();
    let start = started(&sent);
    let deps = self::deps(&[&none, &deployment, &revisions, &plan, &start, &rules, &tags]);
    let answer = handle(&deps, payload("POST_TEST_TRAFFIC_SHIFT", None)).await;
    assert_eq!(answer["hookStatus"], "IN_PROGRESS", "{answer}");
    assert_eq!(start.num_calls(), 1);
}

#[tokio::test]
async fn a_post_traffic_start_that_fails_puts_the_production_rule_back_on_blue_before_failed() {
    // ECS's PRODUCTION_TRAFFIC_SHIFT has put production on green 100%: FAILED (ECS rolls back at
    // once) only once the service's production rule is on blue again; a refused restore asks again.
    use aws_sdk_elasticloadbalancingv2::operation::modify_rule::ModifyRuleError;
    use aws_sdk_sfn::operation::start_execution::StartExecutionError;
    let run = |modify: Rule| async move {
        let none = no_execution();
        let deployment = described(EcsStatus::InProgress, Some(Stage::PostProductionTrafficShift));
        let revisions = revisions();
        let plan = ecs_plan(ECS_PLAN);
        let denied =
            mock!(aws_sdk_sfn::Client::start_execution).then_error(|| StartExecutionError::generic(access_denied()));
        let [rules, tags] = production_rule(0, 100);
        let deps = deps(&[&none, &deployment, &revisions, &plan, &denied, &rules, &tags, &modify]);
        handle(&deps, payload("POST_PRODUCTION_TRAFFIC_SHIFT", None)).await
    };

    let modified: Sent<ModifyRuleInput> = Sent::default();
    let modify = mock!(aws_sdk_elasticloadbalancingv2::Client::modify_rule)
        .match_requests(modified.recorder())
        .then_output(|| ModifyRuleOutput::builder().build());
    let answer = run(modify).await;
    assert_eq!(answer["hookStatus"], "FAILED", "{answer}");
    let request = modified.only();
    assert_eq!(request.rule_arn(), Some(PROD_RULE));
    assert_eq!(forwarded(&request), vec![(BLUE.to_string(), 100), (GREEN.to_string(), 0)]);

    let refused = mock!(aws_sdk_elasticloadbalancingv2::Client::modify_rule)
        .then_error(|| ModifyRuleError::generic(access_denied()));
    let answer = run(refused).await;
    assert_eq!(answer["hookStatus"], "IN_PROGRESS", "production still on green: {answer}");
}

/// Fails the test if ECS-mode code calls it: nothing may start.
fn no_start() -> Rule {
    mock!(aws_sdk_sfn::Client::start_execution)
        .then_error(|| aws_sdk_sfn::operation::start_execution::StartExecutionError::generic(access_denied()))
}

/// Records ModifyRule requests (nothing may move).
fn modify_recorded(sent: &Sent<ModifyRuleInput>) -> Rule {
    mock!(aws_sdk_elasticloadbalancingv2::Client::modify_rule)
        .match_requests(sent.recorder())
        .then_output(|| ModifyRuleOutput::builder().build())
}

#[tokio::test]
async fn a_service_creation_is_passed_through_succeeded_and_starts_nothing() {
    use hookline::lifecycle::ecs::mocks::{creation, described_as};
    // ECS runs the hooks on CreateService: no source revision, nothing to canary against.
    for (stage, ecs_stage) in [
        (Stage::PostTestTrafficShift, "POST_TEST_TRAFFIC_SHIFT"),
        (Stage::PostProductionTrafficShift, "POST_PRODUCTION_TRAFFIC_SHIFT"),
    ] {
        let none = no_execution();
        let deployment = described_as(stage, creation);
        let start = no_start();
        let modified = Sent::default();
        let modify = modify_recorded(&modified);
        let deps = deps(&[&none, &deployment, &start, &modify]);

        let answer = handle(&deps, payload(ecs_stage, Some(json!({"team": "api"})))).await;

        assert_eq!(answer, json!({"hookStatus": "SUCCEEDED", "hookDetails": {"team": "api"}}), "{ecs_stage}");
        assert_eq!(start.num_calls(), 0);
        assert_eq!(modify.num_calls(), 0);
    }
}

#[tokio::test]
async fn a_linear_service_is_answered_failed_naming_the_strategy_and_nothing_moves() {
    use hookline::lifecycle::ecs::mocks::{described_as, linear};
    let none = no_execution();
    let deployment = described_as(Stage::PostTestTrafficShift, linear);
    let start = no_start();
    let modified = Sent::default();
    let modify = modify_recorded(&modified);
    let deps = deps(&[&none, &deployment, &start, &modify]);

    let answer = handle(&deps, payload("POST_TEST_TRAFFIC_SHIFT", None)).await;

    assert_eq!(answer["hookStatus"], "FAILED", "{answer}");
    let error = answer["hookDetails"]["hooklineError"].as_str().unwrap_or_default();
    assert!(error.contains("LINEAR") && error.contains("BLUE_GREEN") && error.contains("later issue"), "{error}");
    assert_eq!((start.num_calls(), modify.num_calls()), (0, 0));

    // ECS's rollback re-invokes the traffic-shift hooks: they pass, so the rollback proceeds.
    for stage in ["PRODUCTION_TRAFFIC_SHIFT", "TEST_TRAFFIC_SHIFT"] {
        assert_eq!(handle(&deps, payload(stage, None)).await, json!({"hookStatus": "SUCCEEDED"}), "{stage}");
    }
}

#[tokio::test]
async fn revisions_and_live_rule_disagreeing_is_refused_naming_both_and_nothing_moves() {
    // The revisions say blue is api-green, but the production rule sends everything to api-blue.
    let none = no_execution();
    let deployment = described(EcsStatus::InProgress, Some(Stage::PostTestTrafficShift));
    let revisions = revisions();
    let plan = ecs_plan(ECS_PLAN);
    let start = no_start();
    let [rules, tags] = production_rule(0, 100);
    let modified = Sent::default();
    let modify = modify_recorded(&modified);
    let deps = deps(&[&none, &deployment, &revisions, &plan, &start, &rules, &tags, &modify]);

    let answer = handle(&deps, payload("POST_TEST_TRAFFIC_SHIFT", None)).await;

    assert_eq!(answer["hookStatus"], "FAILED", "{answer}");
    let error = answer["hookDetails"]["hooklineError"].as_str().unwrap_or_default();
    assert!(error.contains(BLUE) && error.contains(GREEN) && error.contains(PROD_RULE), "{error}");
    assert!(error.contains("blue 0% / green 100%"), "the live reading: {error}");
    assert_eq!((start.num_calls(), modify.num_calls()), (0, 0));

    // After ECS's production shift green must serve 100%; blue at 100 there is the same refusal,
    // without the post-traffic restore (which would trust the disputed reading).
    let none = no_execution();
    let deployment = described(EcsStatus::InProgress, Some(Stage::PostProductionTrafficShift));
    let [rules, tags] = production_rule(100, 0);
    let deps = self::deps(&[&none, &deployment, &revisions, &plan, &start, &rules, &tags, &modify]);
    let answer = handle(&deps, payload("POST_PRODUCTION_TRAFFIC_SHIFT", None)).await;
    assert_eq!(answer["hookStatus"], "FAILED", "{answer}");
    assert!(answer["hookDetails"]["hooklineError"].as_str().is_some_and(|e| e.contains("disagree")), "{answer}");
    assert_eq!((start.num_calls(), modify.num_calls()), (0, 0));
}

#[tokio::test]
async fn stages_hookline_does_not_serve_succeed_at_once_without_a_call() {
    let deps = deps(&[]);
    for stage in ["RECONCILE_SERVICE", "PRE_SCALE_UP", "POST_SCALE_UP", "PRE_PRODUCTION_TRAFFIC_SHIFT"] {
        let answer = handle(&deps, payload(stage, Some(json!({"k": 1})))).await;
        assert_eq!(answer, json!({"hookStatus": "SUCCEEDED", "hookDetails": {"k": 1}}), "{stage}");
    }
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
    let failed = execution_is(ExecutionStatus::Failed);
    let mut deps = deps(&[&failed]);
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
    let none = no_execution();
    let deployment = described(EcsStatus::InProgress, Some(Stage::PostTestTrafficShift));
    let revisions = revisions();
    let start = no_start();
    let mut deps = self::deps(&[&none, &deployment, &revisions, &start]);
    deps.routers = std::sync::Arc::new(SlowRoutes);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    let answer = handle_until(&deps, payload("POST_TEST_TRAFFIC_SHIFT", None), Some(deadline)).await;
    assert_eq!(answer["hookStatus"], "IN_PROGRESS", "{answer}");
    assert_eq!(start.num_calls(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_deadline_already_past_as_the_invocation_starts_is_not_a_deadline() {
    // The sandbox's Lambda emulator hands one; cutting at once would answer IN_PROGRESS forever.
    let running = execution_is(ExecutionStatus::Running);
    let past = tokio::time::Instant::now() - std::time::Duration::from_secs(1);
    let answer = handle_until(
        &deps(&[&running]),
        payload("POST_TEST_TRAFFIC_SHIFT", Some(json!({"hooklineCallBackDelay": 7}))),
        Some(past),
    )
    .await;
    assert_eq!(answer["hookStatus"], "IN_PROGRESS", "{answer}");
    assert_eq!(answer["callBackDelay"], 7, "the execution was looked at: {answer}");
}
