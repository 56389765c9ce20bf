use aws_sdk_codedeploy::operation::get_deployment_group::GetDeploymentGroupOutput;
use aws_sdk_codedeploy::operation::get_deployment_target::GetDeploymentTargetOutput;
use aws_sdk_codedeploy::operation::put_lifecycle_event_hook_execution_status::{
    PutLifecycleEventHookExecutionStatusError, PutLifecycleEventHookExecutionStatusInput,
    PutLifecycleEventHookExecutionStatusOutput,
};
use aws_sdk_codedeploy::types::error::LifecycleEventAlreadyCompletedException;
use aws_sdk_codedeploy::types::{
    DeploymentGroupInfo, DeploymentTarget, EcsService, EcsTarget, EcsTaskSet, LifecycleEvent, LifecycleEventStatus,
    LoadBalancerInfo, TargetGroupInfo, TargetGroupPairInfo, TargetLabel, TrafficRoute,
};
use aws_sdk_elasticloadbalancingv2::operation::describe_target_groups::DescribeTargetGroupsOutput;
use aws_sdk_elasticloadbalancingv2::types::TargetGroup;
use aws_sdk_sfn::operation::describe_execution::DescribeExecutionError;
use aws_sdk_sfn::operation::start_execution::{StartExecutionError, StartExecutionInput, StartExecutionOutput};
use aws_sdk_sfn::types::error::ExecutionAlreadyExists;
use aws_sdk_sfn::types::ExecutionStatus;
use aws_sdk_ssm::operation::get_parameter::{GetParameterError, GetParameterOutput};
use aws_sdk_ssm::types::error::ParameterNotFound;
use aws_smithy_mocks::{mock, Rule};
use hookline::execution::mocks::{described, does_not_exist, execution, machines, no_execution};
use std::sync::Arc;

use hookline::execution::{ExecutionDocument, HookKind, HookRef, HookStateMachines};
use hookline::plan::Plan;
use hookline::testing::{
    access_denied, cohort_rules, context, deployment, listener, mocked_clients, throttling_json, weights_in, Sent,
    BLUE_TG, DEPLOYMENT, GREEN_TG, HOOK_EXECUTION, LISTENER,
};
use serde_json::json;

use super::*;

const CANARY: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:hookline-canary";
const POST_TRAFFIC: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:hookline-post-traffic";
const TEST_LISTENER: &str =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/demo/50dc6c495c0c9188/0000000000000001";
const PLAN_JSON: &str = r#"{"steps":[{"weight":10,"bake":"1m"},{"weight":100}],"health":{"interval":"10s","alarms":["web-5xx"]},"post_traffic":{"bake":"5m"}}"#;

/// The BeforeAllowTraffic hook's execution id, once its invocation turns stale.
const BEFORE_HOOK: &str = HOOK_EXECUTION;
/// The AfterAllowTraffic hook's execution id.
const AFTER_HOOK: &str = "eyJhZnRlciI6ImFsbG93LXRyYWZmaWMifQ==";

/// Clients answering `rules`, then (unless a rule before says otherwise) no hookline execution exists.
fn deps(rules: &[&Rule]) -> Deps {
    let none = no_execution();
    let all: Vec<&Rule> = rules.iter().copied().chain([&none]).collect();
    crate::dispatch::deps(&mocked_clients(&all), machines(), "/hookline".into())
}

fn event() -> Value {
    event_for(HOOK_EXECUTION)
}

fn event_for(hook_execution_id: &str) -> Value {
    json!({"DeploymentId": DEPLOYMENT, "LifecycleEventHookExecutionId": hook_execution_id})
}

fn group() -> GetDeploymentGroupOutput {
    let tg = |name: &str| TargetGroupInfo::builder().name(name).build();
    GetDeploymentGroupOutput::builder()
        .deployment_group_info(
            DeploymentGroupInfo::builder()
                .application_name("web")
                .deployment_group_name("web-prod")
                .load_balancer_info(
                    LoadBalancerInfo::builder()
                        .target_group_pair_info_list(
                            TargetGroupPairInfo::builder()
                                .target_groups(tg("web-blue"))
                                .target_groups(tg("web-green"))
                                .prod_traffic_route(TrafficRoute::builder().listener_arns(LISTENER).build())
                                .test_traffic_route(TrafficRoute::builder().listener_arns(TEST_LISTENER).build())
                                .build(),
                        )
                        .build(),
                )
                .ecs_services(EcsService::builder().cluster_name("demo").service_name("web").build())
                .build(),
        )
        .build()
}

/// When CodeDeploy started the event in progress (epoch seconds, in the past).
const EVENT_STARTED_AT: i64 = 1_763_776_000;

/// The ECS target with `in_progress` as the lifecycle event waiting for its hook, started at [`EVENT_STARTED_AT`].
fn target(in_progress: &str) -> GetDeploymentTargetOutput {
    target_started(in_progress, Some(EVENT_STARTED_AT))
}

/// The ECS target with `in_progress` waiting for its hook since `started_at` (none: no `startTime`).
fn target_started(in_progress: &str, started_at: Option<i64>) -> GetDeploymentTargetOutput {
    let task_set = |id: &str, label: TargetLabel, tg: &str| {
        EcsTaskSet::builder()
            .identifer(id)
            .task_set_label(label)
            .target_group(TargetGroupInfo::builder().name(tg).build())
            .build()
    };
    let event = |name: &str, status: LifecycleEventStatus| {
        LifecycleEvent::builder().lifecycle_event_name(name).status(status).build()
    };
    GetDeploymentTargetOutput::builder()
        .deployment_target(
            DeploymentTarget::builder()
                .ecs_target(
                    EcsTarget::builder()
                        .deployment_id(DEPLOYMENT)
                        .target_id("demo:web")
                        .lifecycle_events(event("Install", LifecycleEventStatus::Succeeded))
                        .lifecycle_events(
                            LifecycleEvent::builder()
                                .lifecycle_event_name(in_progress)
                                .status(LifecycleEventStatus::InProgress)
                                .set_start_time(started_at.map(aws_sdk_codedeploy::primitives::DateTime::from_secs))
                                .build(),
                        )
                        .task_sets_info(task_set("ts-blue", TargetLabel::Blue, "web-blue"))
                        .task_sets_info(task_set("ts-green", TargetLabel::Green, "web-green"))
                        .build(),
                )
                .build(),
        )
        .build()
}

/// The four calls that resolve the deployment's context, with `in_progress` waiting.
fn resolve_rules(in_progress: &'static str) -> Vec<Rule> {
    vec![
        mock!(aws_sdk_codedeploy::Client::get_deployment)
            .match_requests(|r| r.deployment_id() == Some(DEPLOYMENT))
            .then_output(|| deployment("InProgress")),
        mock!(aws_sdk_codedeploy::Client::get_deployment_group)
            .match_requests(|r| r.application_name() == Some("web") && r.deployment_group_name() == Some("web-prod"))
            .then_output(group),
        mock!(aws_sdk_codedeploy::Client::get_deployment_target)
            .match_requests(|r| r.target_id() == Some("demo:web"))
            .then_output(move || target(in_progress)),
        mock!(aws_sdk_elasticloadbalancingv2::Client::describe_target_groups).then_output(|| {
            DescribeTargetGroupsOutput::builder()
                .target_groups(TargetGroup::builder().target_group_name("web-blue").target_group_arn(BLUE_TG).build())
                .target_groups(TargetGroup::builder().target_group_name("web-green").target_group_arn(GREEN_TG).build())
                .build()
        }),
    ]
}

fn plan_parameter(text: &'static str) -> Rule {
    mock!(aws_sdk_ssm::Client::get_parameter)
        .match_requests(|r| r.name() == Some("/hookline/web/web-prod"))
        .then_output(move || {
            GetParameterOutput::builder()
                .parameter(aws_sdk_ssm::types::Parameter::builder().name("/hookline/web/web-prod").value(text).build())
                .build()
        })
}

fn started(sent: &Sent<StartExecutionInput>) -> Rule {
    mock!(aws_sdk_sfn::Client::start_execution).match_requests(sent.recorder()).then_output(|| {
        StartExecutionOutput::builder()
            .execution_arn(format!(
                "arn:aws:states:us-east-1:123456789012:execution:hookline-canary:{DEPLOYMENT}-BeforeAllowTraffic"
            ))
            .start_date(aws_sdk_sfn::primitives::DateTime::from_secs(0))
            .build()
            .expect("start execution output")
    })
}

fn report(sent: &Sent<PutLifecycleEventHookExecutionStatusInput>) -> Rule {
    mock!(aws_sdk_codedeploy::Client::put_lifecycle_event_hook_execution_status)
        .match_requests(sent.recorder())
        .then_output(|| PutLifecycleEventHookExecutionStatusOutput::builder().build())
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

/// Runs the hook with the resolve rules for `in_progress` plus `more`.
async fn run(in_progress: &'static str, more: &[&Rule]) -> Result<Reply> {
    let resolve = resolve_rules(in_progress);
    let rules: Vec<&Rule> = resolve.iter().chain(more.iter().copied()).collect();
    handle(&deps(&rules), event()).await
}

fn document(input: &StartExecutionInput) -> ExecutionDocument {
    serde_json::from_str(input.input().expect("execution input")).expect("execution input is an execution document")
}

/// The one status reported, checking it went to this deployment's hook.
fn only_status(sent: &Sent<PutLifecycleEventHookExecutionStatusInput>) -> LifecycleEventStatus {
    let req = sent.only();
    assert_eq!(req.deployment_id(), Some(DEPLOYMENT));
    assert_eq!(req.lifecycle_event_hook_execution_id(), Some(HOOK_EXECUTION));
    req.status().cloned().expect("status")
}

#[tokio::test]
async fn before_allow_traffic_starts_the_canary_execution_with_the_resolved_document() {
    let (starts, reports) = (Sent::default(), Sent::default());
    let (start, rep, plan_rule) = (started(&starts), report(&reports), plan_parameter(PLAN_JSON));

    let out = started_output(run("BeforeAllowTraffic", &[&plan_rule, &start, &rep]).await);

    assert_eq!(out.state_machine_arn, CANARY);
    assert_eq!(out.event, HookEvent::BeforeAllowTraffic);
    assert!(!out.already_started);
    assert!(out.execution_arn.ends_with(":d-TESTDEP01-BeforeAllowTraffic"), "{}", out.execution_arn);
    let req = starts.only();
    assert_eq!(req.state_machine_arn(), Some(CANARY));
    assert_eq!(req.name(), Some("d-TESTDEP01-BeforeAllowTraffic"));
    let doc = document(&req);
    let mut expected = context();
    expected.test_listener_arn = Some(TEST_LISTENER.into());
    assert_eq!(doc.context, expected);
    assert_eq!(doc.plan, Plan::from_json(PLAN_JSON).expect("plan"));
    assert_eq!((doc.state.index, doc.state.weight, doc.state.bake_until), (0, 0, None));
    assert_eq!(doc.state.started_at, EVENT_STARTED_AT, "the budget counts from the event's startTime");
    assert_eq!(plan_rule.num_calls(), 1);
    assert_eq!(start.num_calls(), 1);
    assert_eq!(rep.num_calls(), 0, "the execution reports the hook, not the hook function");
}

#[tokio::test]
async fn after_allow_traffic_starts_post_traffic_at_weight_100_with_the_bake_clock() {
    let (starts, reports) = (Sent::default(), Sent::default());
    let (start, rep, plan_rule) = (started(&starts), report(&reports), plan_parameter(PLAN_JSON));

    let out = started_output(run("AfterAllowTraffic", &[&plan_rule, &start, &rep]).await);

    assert_eq!(out.state_machine_arn, POST_TRAFFIC);
    assert_eq!(out.event, HookEvent::AfterAllowTraffic);
    let req = starts.only();
    assert_eq!(req.state_machine_arn(), Some(POST_TRAFFIC));
    assert_eq!(req.name(), Some("d-TESTDEP01-AfterAllowTraffic"));
    let doc = document(&req);
    assert_eq!(doc.context.hook.as_ref().map(|h| h.event), Some(HookEvent::AfterAllowTraffic));
    assert_eq!(doc.state.weight, 100);
    assert_eq!(doc.state.started_at, EVENT_STARTED_AT, "the budget counts from the event's startTime");
    assert_eq!(doc.state.bake_until, Some(EVENT_STARTED_AT + 300), "the event's start + post_traffic.bake (5m)");
    assert_eq!(rep.num_calls(), 0);
}

#[tokio::test]
async fn without_an_event_start_time_the_budget_counts_from_now() {
    let (starts, reports) = (Sent::default(), Sent::default());
    let (start, rep, plan_rule) = (started(&starts), report(&reports), plan_parameter(PLAN_JSON));
    let mut rules = resolve_rules("BeforeAllowTraffic");
    rules[2] = mock!(aws_sdk_codedeploy::Client::get_deployment_target)
        .then_output(|| target_started("BeforeAllowTraffic", None));
    let all: Vec<&Rule> = rules.iter().chain([&plan_rule, &start, &rep]).collect();
    let before = hookline::execution::now_epoch();

    handle(&deps(&all), event()).await.expect("hook");

    let started_at = document(&starts.only()).state.started_at;
    assert!(started_at >= before, "started_at {started_at} < {before}");
}

#[tokio::test]
async fn an_event_start_time_ahead_of_our_clock_counts_from_now() {
    let (starts, reports) = (Sent::default(), Sent::default());
    let (start, rep, plan_rule) = (started(&starts), report(&reports), plan_parameter(PLAN_JSON));
    let ahead = hookline::execution::now_epoch() + 3600;
    let mut rules = resolve_rules("BeforeAllowTraffic");
    rules[2] = mock!(aws_sdk_codedeploy::Client::get_deployment_target)
        .then_output(move || target_started("BeforeAllowTraffic", Some(ahead)));
    let all: Vec<&Rule> = rules.iter().chain([&plan_rule, &start, &rep]).collect();

    handle(&deps(&all), event()).await.expect("hook");

    let started_at = document(&starts.only()).state.started_at;
    assert!(started_at < ahead, "started_at {started_at} must not be in the future");
}

fn already_exists() -> StartExecutionError {
    StartExecutionError::ExecutionAlreadyExists(ExecutionAlreadyExists::builder().message("exists").build())
}

const CANARY_EXECUTION: &str =
    "arn:aws:states:us-east-1:123456789012:execution:hookline-canary:d-TESTDEP01-BeforeAllowTraffic";
const POST_TRAFFIC_EXECUTION: &str =
    "arn:aws:states:us-east-1:123456789012:execution:hookline-post-traffic:d-TESTDEP01-AfterAllowTraffic";

#[tokio::test]
async fn a_duplicate_invocation_is_already_started_and_touches_nothing() {
    let reports = Sent::default();
    let (rep, plan_rule, start) = (report(&reports), plan_parameter(PLAN_JSON), started(&Sent::default()));
    let running = execution(HookEvent::BeforeAllowTraffic, HOOK_EXECUTION, ExecutionStatus::Running);

    // No CodeDeploy rules: the execution lookup alone answers a duplicate (any other call panics).
    let out = started_output(handle(&deps(&[&running, &plan_rule, &start, &rep]), event()).await);

    assert_eq!(
        out,
        Output {
            execution_arn: CANARY_EXECUTION.into(),
            state_machine_arn: CANARY.into(),
            event: HookEvent::BeforeAllowTraffic,
            already_started: true
        }
    );
    assert_eq!((start.num_calls(), plan_rule.num_calls(), rep.num_calls()), (0, 0, 0));
}

#[tokio::test]
async fn a_start_raced_by_a_duplicate_of_the_same_hook_is_already_started() {
    let reports = Sent::default();
    let (rep, plan_rule) = (report(&reports), plan_parameter(PLAN_JSON));
    let start = mock!(aws_sdk_sfn::Client::start_execution).then_error(already_exists);
    // Not there at the first lookup, there (answering this hook) once StartExecution says it exists.
    let canary = mock!(aws_sdk_sfn::Client::describe_execution)
        .match_requests(|r| r.execution_arn() == Some(CANARY_EXECUTION))
        .sequence()
        .error(does_not_exist)
        .output(|| described(HookEvent::BeforeAllowTraffic, HOOK_EXECUTION, ExecutionStatus::Running))
        .build();

    let out = started_output(run("BeforeAllowTraffic", &[&canary, &plan_rule, &start, &rep]).await);

    assert!(out.already_started);
    assert_eq!(out.execution_arn, CANARY_EXECUTION);
    assert_eq!((start.num_calls(), canary.num_calls(), rep.num_calls()), (1, 2, 0));
}

#[tokio::test]
async fn a_start_raced_by_another_hook_id_starts_nothing_and_reports_nothing() {
    let reports = Sent::default();
    let (rep, plan_rule) = (report(&reports), plan_parameter(PLAN_JSON));
    let start = mock!(aws_sdk_sfn::Client::start_execution).then_error(already_exists);
    let canary = mock!(aws_sdk_sfn::Client::describe_execution)
        .match_requests(|r| r.execution_arn() == Some(CANARY_EXECUTION))
        .sequence()
        .error(does_not_exist)
        .output(|| described(HookEvent::BeforeAllowTraffic, "someone-else", ExecutionStatus::Running))
        .build();

    let err = run("BeforeAllowTraffic", &[&canary, &plan_rule, &start, &rep]).await.unwrap_err();

    assert_eq!(err.error_type(), "InvalidInput", "{err}");
    assert!(err.to_string().contains("LifecycleEventHookExecutionId"), "{err}");
    assert_eq!(rep.num_calls(), 0, "a Failed report could land while the other execution has traffic split");
}

/// The deployment has moved on to AfterAllowTraffic; the canary execution answered BeforeAllowTraffic.
fn after_moved_on(canary_status: ExecutionStatus) -> Rule {
    execution(HookEvent::BeforeAllowTraffic, BEFORE_HOOK, canary_status)
}

#[tokio::test]
async fn a_stale_before_allow_traffic_invocation_while_after_allow_traffic_is_in_progress_starts_nothing() {
    let (starts, reports) = (Sent::default(), Sent::default());
    let (start, rep, plan_rule) = (started(&starts), report(&reports), plan_parameter(PLAN_JSON));
    let canary = after_moved_on(ExecutionStatus::Succeeded);

    let out = started_output(run("AfterAllowTraffic", &[&canary, &plan_rule, &start, &rep]).await);

    assert_eq!(out.event, HookEvent::BeforeAllowTraffic, "matched to the hook it carries, not the event in progress");
    assert!(out.already_started);
    assert_eq!(out.execution_arn, CANARY_EXECUTION);
    assert_eq!(start.num_calls(), 0, "no post-traffic execution for the BeforeAllowTraffic hook id");
    assert_eq!(rep.num_calls(), 0);
}

#[tokio::test]
async fn after_a_stale_invocation_the_genuine_after_allow_traffic_one_starts_post_traffic_with_its_own_id() {
    let (starts, reports) = (Sent::default(), Sent::default());
    let (rep, plan_rule) = (report(&reports), plan_parameter(PLAN_JSON));
    // Step Functions: the first start of the name succeeds, any later one finds it exists.
    let start = mock!(aws_sdk_sfn::Client::start_execution)
        .match_requests(starts.recorder())
        .sequence()
        .output(|| {
            StartExecutionOutput::builder()
                .execution_arn(POST_TRAFFIC_EXECUTION)
                .start_date(aws_sdk_sfn::primitives::DateTime::from_secs(0))
                .build()
                .expect("start execution output")
        })
        .error(already_exists)
        .repeatedly()
        .build();
    let canary = after_moved_on(ExecutionStatus::Succeeded);
    let resolve = resolve_rules("AfterAllowTraffic");
    let mut rules: Vec<&Rule> = resolve.iter().collect();
    rules.extend([&canary, &plan_rule, &start, &rep]);
    let deps = deps(&rules);

    let stale = started_output(handle(&deps, event_for(BEFORE_HOOK)).await);
    let genuine = started_output(handle(&deps, event_for(AFTER_HOOK)).await);

    assert!(stale.already_started && stale.event == HookEvent::BeforeAllowTraffic, "{stale:?}");
    assert_eq!(
        genuine,
        Output {
            execution_arn: POST_TRAFFIC_EXECUTION.into(),
            state_machine_arn: POST_TRAFFIC.into(),
            event: HookEvent::AfterAllowTraffic,
            already_started: false
        }
    );
    let req = starts.only();
    assert_eq!(req.state_machine_arn(), Some(POST_TRAFFIC));
    assert_eq!(req.name(), Some("d-TESTDEP01-AfterAllowTraffic"));
    let hook = document(&req).context.hook.expect("hook");
    assert_eq!((hook.event, hook.execution_id.as_str()), (HookEvent::AfterAllowTraffic, AFTER_HOOK));
    assert_eq!(rep.num_calls(), 0);
}

#[tokio::test]
async fn after_allow_traffic_reuses_the_succeeded_canary_executions_context_and_plan() {
    // The canary execution of this deployment succeeded: its document already holds the context
    // (deployment group, listener, target group ARNs, task sets) and the plan. Only the target is
    // read again (which event is in progress, since when); the plan in SSM is not, even if it changed.
    let (starts, reports) = (Sent::default(), Sent::default());
    let (start, rep, changed_plan) = (started(&starts), report(&reports), plan_parameter(PLAN_JSON));
    let canary = after_moved_on(ExecutionStatus::Succeeded);
    let resolve = resolve_rules("AfterAllowTraffic");
    let mut rules: Vec<&Rule> = resolve.iter().collect();
    rules.extend([&canary, &changed_plan, &start, &rep]);

    let out = started_output(handle(&deps(&rules), event_for(AFTER_HOOK)).await);

    assert_eq!((out.event, out.already_started), (HookEvent::AfterAllowTraffic, false));
    let [get_deployment, get_group, get_target, describe_target_groups] = &resolve[..] else {
        panic!("four resolve rules")
    };
    assert_eq!(get_target.num_calls(), 1, "the event in progress and its start are read");
    assert_eq!(
        (get_deployment.num_calls(), get_group.num_calls(), describe_target_groups.num_calls()),
        (0, 0, 0),
        "GetDeployment, GetDeploymentGroup and DescribeTargetGroups are not called again"
    );
    assert_eq!(changed_plan.num_calls(), 0, "the plan is the canary's");
    let doc = document(&starts.only());
    let mut expected = context();
    expected.hook = Some(HookRef {
        kind: HookKind::Codedeploy,
        event: HookEvent::AfterAllowTraffic,
        execution_id: AFTER_HOOK.into(),
    });
    expected.cohort_rules_removed = true;
    assert_eq!(doc.context, expected);
    assert_eq!(doc.plan, hookline::testing::plan());
    assert_eq!((doc.state.weight, doc.state.started_at), (100, EVENT_STARTED_AT));
    assert_eq!(rep.num_calls(), 0);
}

#[tokio::test]
async fn after_allow_traffic_reuses_a_canary_execution_not_yet_closed_after_its_finalize() {
    // CodeDeploy moved on as soon as Finalize reported; Step Functions has not closed the canary yet.
    let (starts, reports) = (Sent::default(), Sent::default());
    let (start, rep, changed_plan) = (started(&starts), report(&reports), plan_parameter(PLAN_JSON));
    let canary = after_moved_on(ExecutionStatus::Running);
    let resolve = resolve_rules("AfterAllowTraffic");
    let mut rules: Vec<&Rule> = resolve.iter().collect();
    rules.extend([&canary, &changed_plan, &start, &rep]);

    started_output(handle(&deps(&rules), event_for(AFTER_HOOK)).await);

    let calls: Vec<usize> = resolve.iter().map(Rule::num_calls).collect();
    assert_eq!(calls, [0, 0, 1, 0], "GetDeploymentTarget only");
    assert_eq!(changed_plan.num_calls(), 0);
    let doc = document(&starts.only());
    assert!(doc.context.cohort_rules_removed);
    assert_eq!(doc.plan, hookline::testing::plan());
}

#[tokio::test]
async fn after_allow_traffic_after_a_failed_canary_resolves_afresh_and_leaves_cohorts_to_finalize() {
    // Only a canary that succeeded removed the cohort rules (its finalize did, before reporting).
    let (starts, reports) = (Sent::default(), Sent::default());
    let (start, rep, plan_rule) = (started(&starts), report(&reports), plan_parameter(PLAN_JSON));
    let canary = after_moved_on(ExecutionStatus::Failed);
    let resolve = resolve_rules("AfterAllowTraffic");
    let mut rules: Vec<&Rule> = resolve.iter().collect();
    rules.extend([&canary, &plan_rule, &start, &rep]);

    started_output(handle(&deps(&rules), event_for(AFTER_HOOK)).await);

    let calls: Vec<usize> = resolve.iter().map(Rule::num_calls).collect();
    // GetDeployment twice: the admission (is this CodeDeploy's own rollback?), then the resolve.
    assert_eq!(calls, [2, 1, 1, 1], "resolved afresh");
    assert_eq!(plan_rule.num_calls(), 1);
    let doc = document(&starts.only());
    assert!(!doc.context.cohort_rules_removed);
    assert_eq!(doc.plan, Plan::from_json(PLAN_JSON).expect("plan"));
}

#[tokio::test]
async fn an_unknown_id_for_an_event_already_served_starts_nothing_and_reports_nothing() {
    let (starts, reports) = (Sent::default(), Sent::default());
    let (rep, plan_rule) = (report(&reports), plan_parameter(PLAN_JSON));
    let start =
        mock!(aws_sdk_sfn::Client::start_execution).match_requests(starts.recorder()).then_error(already_exists);
    let canary = after_moved_on(ExecutionStatus::Succeeded);
    let post = execution(HookEvent::AfterAllowTraffic, AFTER_HOOK, ExecutionStatus::Running);

    let resolve = resolve_rules("AfterAllowTraffic");
    let mut rules: Vec<&Rule> = resolve.iter().collect();
    rules.extend([&canary, &post, &plan_rule, &start, &rep]);

    let err = handle(&deps(&rules), event_for("an-id-no-execution-answers")).await.unwrap_err();

    // Not done blindly: an error (Lambda retries it, then the alarmed dead-letter queue and its
    // consumer take over), no second execution, no report while post-traffic runs.
    assert_eq!(err.error_type(), "InvalidInput", "{err}");
    assert!(err.to_string().contains("LifecycleEventHookExecutionId"), "{err}");
    assert!(err.to_string().contains(POST_TRAFFIC_EXECUTION), "{err}");
    assert_eq!(starts.all().len(), 0, "no start attempted");
    assert_eq!(rep.num_calls(), 0);
}

#[tokio::test]
async fn a_failing_execution_lookup_is_left_unreported_for_lambda_to_retry() {
    // Whether an execution already serves this hook is unknown: a Failed report could land while
    // that execution has production split (or after AllowTraffic moved it). The error goes back to
    // Lambda (retries, then the dead-letter consumer, which checks the same facts).
    let reports = Sent::default();
    let (rep, start) = (report(&reports), started(&Sent::default()));
    let lookup =
        mock!(aws_sdk_sfn::Client::describe_execution).then_error(|| DescribeExecutionError::generic(access_denied()));

    let in_progress = mock!(aws_sdk_codedeploy::Client::get_deployment).then_output(|| deployment("InProgress"));

    let err = handle(&deps(&[&lookup, &in_progress, &start, &rep]), event()).await.unwrap_err();

    assert!(err.to_string().contains("AccessDeniedException"), "{err}");
    assert_eq!(rep.num_calls(), 0, "not reported");
    assert_eq!(start.num_calls(), 0);
}

#[tokio::test]
async fn a_failure_before_the_route_is_known_after_allow_traffic_is_left_unreported() {
    // AllowTraffic has put production on green, and without the plan hook cannot tell where
    // production lives: no report (CodeDeploy would roll back at once with production on green).
    let calls = Arc::new(std::sync::Mutex::new(Vec::new()));
    let live = production(0, 100, &calls);
    let ssm_down = mock!(aws_sdk_ssm::Client::get_parameter).then_error(|| GetParameterError::generic(access_denied()));
    let start = started(&Sent::default());
    let more: Vec<&Rule> = [&ssm_down, &start].into_iter().chain(live.iter()).collect();

    let err = run("AfterAllowTraffic", &more).await.unwrap_err();

    assert!(err.to_string().contains("GetParameter"), "{err}");
    let calls = calls.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone();
    assert!(calls.is_empty(), "nothing changed, nothing reported: {calls:?}");
    assert_eq!(start.num_calls(), 0);
}

#[tokio::test]
async fn an_invalid_plan_after_allow_traffic_restores_its_route_before_reporting() {
    // The plan no longer validates but still names the route (as rollback reads it).
    let calls = Arc::new(std::sync::Mutex::new(Vec::new()));
    let live = production(0, 100, &calls);
    let plan_rule = plan_parameter(r#"{"steps":[{"weight":10}],"hook_budget":"2h"}"#);
    let more: Vec<&Rule> = [&plan_rule].into_iter().chain(live.iter()).collect();

    let failed = reported_failed(run("AfterAllowTraffic", &more).await);

    assert_eq!(failed.error_type, "InvalidInput", "{failed:?}");
    let calls = calls.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone();
    assert_eq!(calls, ["ModifyListener Some((100, 0))", "DeleteRule arn:cohort/1", "Report Some(Failed)"]);
}

#[tokio::test(start_paused = true)]
async fn a_throttled_start_is_retried_by_the_sdk() {
    let (reports, plan_rule) = (Sent::default(), plan_parameter(PLAN_JSON));
    let rep = report(&reports);
    let start = mock!(aws_sdk_sfn::Client::start_execution)
        .sequence()
        .http_status(400, Some(throttling_json()))
        .times(2)
        .output(|| {
            StartExecutionOutput::builder()
                .execution_arn("arn:aws:states:us-east-1:123456789012:execution:hookline-canary:x")
                .start_date(aws_sdk_sfn::primitives::DateTime::from_secs(0))
                .build()
                .expect("start execution output")
        })
        .build();
    let clock = tokio::time::Instant::now();

    let out = started_output(run("BeforeAllowTraffic", &[&plan_rule, &start, &rep]).await);

    assert!(!out.already_started);
    assert_eq!(start.num_calls(), 3);
    assert!(clock.elapsed() > std::time::Duration::ZERO, "the SDK's backoff sleeps on tokio's (paused) clock");
    assert_eq!(rep.num_calls(), 0);
}

/// Production at `blue`/`green` with one of this service's cohort rules; every call that
/// changes it, and the report, appended to `calls` in order.
fn production(blue: i32, green: i32, calls: &Arc<std::sync::Mutex<Vec<String>>>) -> Vec<Rule> {
    use aws_sdk_elasticloadbalancingv2::operation::delete_rule::DeleteRuleOutput;
    use aws_sdk_elasticloadbalancingv2::operation::modify_listener::ModifyListenerOutput;
    let [rules, tags] = cohort_rules(&["arn:cohort/1"]);
    let (on_modify, on_delete, on_report) = (calls.clone(), calls.clone(), calls.clone());
    let log = |calls: &Arc<std::sync::Mutex<Vec<String>>>, call: String| {
        calls.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(call)
    };
    vec![
        mock!(aws_sdk_elasticloadbalancingv2::Client::describe_listeners).then_output(move || listener(blue, green)),
        rules,
        tags,
        mock!(aws_sdk_elasticloadbalancingv2::Client::modify_listener)
            .match_requests(move |r| {
                log(&on_modify, format!("ModifyListener {:?}", weights_in(r.default_actions())));
                true
            })
            .then_output(|| ModifyListenerOutput::builder().build()),
        mock!(aws_sdk_elasticloadbalancingv2::Client::delete_rule)
            .match_requests(move |r| {
                log(&on_delete, format!("DeleteRule {}", r.rule_arn().unwrap_or_default()));
                true
            })
            .then_output(|| DeleteRuleOutput::builder().build()),
        mock!(aws_sdk_codedeploy::Client::put_lifecycle_event_hook_execution_status)
            .match_requests(move |r| {
                log(&on_report, format!("Report {:?}", r.status()));
                true
            })
            .then_output(|| PutLifecycleEventHookExecutionStatusOutput::builder().build()),
    ]
}

#[tokio::test]
async fn a_failing_start_after_allow_traffic_restores_blue_before_reporting_failed() {
    // AllowTraffic has put production on green 100%: the Failed report (CodeDeploy rolls back
    // at once) must find it on blue 100% with no cohort rule, as on every other path.
    let calls = Arc::new(std::sync::Mutex::new(Vec::new()));
    let live = production(0, 100, &calls);
    let plan_rule = plan_parameter(PLAN_JSON);
    let start =
        mock!(aws_sdk_sfn::Client::start_execution).then_error(|| StartExecutionError::generic(access_denied()));
    let more: Vec<&Rule> = [&plan_rule, &start].into_iter().chain(live.iter()).collect();

    let failed = reported_failed(run("AfterAllowTraffic", &more).await);

    assert!(failed.error.contains("AccessDeniedException"), "{failed:?}");
    let calls = calls.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone();
    assert_eq!(
        calls,
        ["ModifyListener Some((100, 0))", "DeleteRule arn:cohort/1", "Report Some(Failed)"],
        "restore first, then exactly one Failed report"
    );
}

#[tokio::test]
async fn a_start_failure_whose_restore_fails_is_left_unreported_for_lambda_to_retry() {
    // Reporting now would make CodeDeploy roll back with production still on green: the error
    // goes back to Lambda instead (retries, then the dead-letter consumer restores and reports).
    let calls = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut live = production(0, 100, &calls);
    live[3] = mock!(aws_sdk_elasticloadbalancingv2::Client::modify_listener).then_error(|| {
        aws_sdk_elasticloadbalancingv2::operation::modify_listener::ModifyListenerError::generic(access_denied())
    });
    let plan_rule = plan_parameter(PLAN_JSON);
    let start =
        mock!(aws_sdk_sfn::Client::start_execution).then_error(|| StartExecutionError::generic(access_denied()));
    let more: Vec<&Rule> = [&plan_rule, &start].into_iter().chain(live.iter()).collect();

    let err = run("AfterAllowTraffic", &more).await.unwrap_err();

    assert!(err.to_string().contains("StartExecution"), "the original error: {err}");
    let calls = calls.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone();
    assert!(!calls.iter().any(|c| c.starts_with("Report")), "no report: {calls:?}");
}

#[tokio::test]
async fn a_failing_start_reports_failed_exactly_once() {
    let (reports, plan_rule) = (Sent::default(), plan_parameter(PLAN_JSON));
    let rep = report(&reports);
    let start =
        mock!(aws_sdk_sfn::Client::start_execution).then_error(|| StartExecutionError::generic(access_denied()));

    // Before AllowTraffic nobody has moved production: reported at once, no listener call (none mocked).
    let err = reported_failed(run("BeforeAllowTraffic", &[&plan_rule, &start, &rep]).await);

    assert_eq!(err.error_type, "AwsPermanent", "{err:?}");
    assert!(err.error.contains("AccessDeniedException"), "{err:?}");
    assert_eq!(only_status(&reports), LifecycleEventStatus::Failed);
    assert_eq!(rep.num_calls(), 1);
}

#[tokio::test]
async fn a_hook_answered_failed_is_done_for_lambda_but_an_unanswered_one_is_an_error() {
    // Answered (now or already): success, so Lambda neither retries (each retry would report again,
    // on a deployment that already failed) nor dead-letters an answered hook.
    let reports = Sent::default();
    let (rep, start) = (report(&reports), started(&Sent::default()));
    let plan_rule = mock!(aws_sdk_ssm::Client::get_parameter)
        .then_error(|| GetParameterError::ParameterNotFound(ParameterNotFound::builder().build()));
    let failed = reported_failed(run("BeforeAllowTraffic", &[&plan_rule, &start, &rep]).await);
    assert!(!failed.already_reported);
    assert_eq!(rep.num_calls(), 1);

    let already = mock!(aws_sdk_codedeploy::Client::put_lifecycle_event_hook_execution_status).then_error(|| {
        PutLifecycleEventHookExecutionStatusError::LifecycleEventAlreadyCompletedException(
            LifecycleEventAlreadyCompletedException::builder().build(),
        )
    });
    let failed = reported_failed(run("BeforeAllowTraffic", &[&plan_rule, &start, &already]).await);
    assert!(failed.already_reported);

    // The report itself failed: the hook is unanswered, the error goes back to Lambda to retry.
    let refused = mock!(aws_sdk_codedeploy::Client::put_lifecycle_event_hook_execution_status)
        .then_error(|| PutLifecycleEventHookExecutionStatusError::generic(access_denied()));
    let err = run("BeforeAllowTraffic", &[&plan_rule, &start, &refused]).await.unwrap_err();
    assert_eq!(err.error_type(), "InvalidInput", "the original error: {err}");
    assert_eq!(refused.num_calls(), 1);
}

#[tokio::test]
async fn a_late_delivery_for_a_deployment_that_ended_reports_nothing() {
    // The first delivery answered Failed (no plan) and the deployment failed; a duplicate arrives.
    let reports = Sent::default();
    let (rep, start) = (report(&reports), started(&Sent::default()));
    let ended = mock!(aws_sdk_codedeploy::Client::get_deployment).then_output(|| deployment("Failed"));
    let plan_rule = mock!(aws_sdk_ssm::Client::get_parameter)
        .then_error(|| GetParameterError::ParameterNotFound(ParameterNotFound::builder().build()));

    let resolve = resolve_rules("BeforeAllowTraffic");
    let rules: Vec<&Rule> = [&ended].into_iter().chain(resolve.iter()).chain([&plan_rule, &start, &rep]).collect();

    let failed = reported_failed(handle(&deps(&rules), event()).await);

    assert!(failed.already_reported, "{failed:?}");
    assert_eq!(rep.num_calls(), 0, "nobody waits for the hook of an ended deployment");
    assert_eq!(start.num_calls(), 0);
}

#[tokio::test]
async fn a_missing_plan_reports_failed_and_is_invalid_input() {
    let reports = Sent::default();
    let (rep, start) = (report(&reports), started(&Sent::default()));
    let plan_rule = mock!(aws_sdk_ssm::Client::get_parameter)
        .then_error(|| GetParameterError::ParameterNotFound(ParameterNotFound::builder().build()));

    let err = reported_failed(run("BeforeAllowTraffic", &[&plan_rule, &start, &rep]).await);

    assert_eq!(err.error_type, "InvalidInput", "{err:?}");
    assert!(err.error.contains("plan") && err.error.contains("/hookline/web/web-prod"), "{err:?}");
    assert_eq!(only_status(&reports), LifecycleEventStatus::Failed);
    assert_eq!(start.num_calls(), 0);
}

#[tokio::test]
async fn an_invalid_plan_reports_failed_and_names_the_field() {
    let reports = Sent::default();
    let (rep, start) = (report(&reports), started(&Sent::default()));
    let plan_rule = plan_parameter(r#"{"steps":[{"weight":"ten"}]}"#);

    let err = reported_failed(run("BeforeAllowTraffic", &[&plan_rule, &start, &rep]).await);

    assert_eq!(err.error_type, "InvalidInput", "{err:?}");
    assert!(err.error.contains("plan.steps[0].weight"), "{err:?}");
    assert_eq!(only_status(&reports), LifecycleEventStatus::Failed);
    assert_eq!(start.num_calls(), 0);
}

#[tokio::test]
async fn a_plan_that_is_not_json_reports_failed() {
    let reports = Sent::default();
    let (rep, start) = (report(&reports), started(&Sent::default()));
    let plan_rule = plan_parameter(r#"{"steps": [{"weight": 10},"#);

    let err = reported_failed(run("BeforeAllowTraffic", &[&plan_rule, &start, &rep]).await);

    assert_eq!(err.error_type, "InvalidInput", "{err:?}");
    assert!(err.error.contains("invalid input: plan"), "{err:?}");
    assert_eq!(only_status(&reports), LifecycleEventStatus::Failed);
}

#[tokio::test]
async fn another_lifecycle_event_in_progress_reports_failed() {
    let reports = Sent::default();
    let (rep, start, plan_rule) = (report(&reports), started(&Sent::default()), plan_parameter(PLAN_JSON));

    let err = reported_failed(run("AfterInstall", &[&plan_rule, &start, &rep]).await);

    assert_eq!(err.error_type, "InvalidInput", "{err:?}");
    assert!(err.error.contains("AfterInstall"), "{err:?}");
    assert_eq!(only_status(&reports), LifecycleEventStatus::Failed);
    assert_eq!(start.num_calls(), 0);
}

#[tokio::test]
async fn a_malformed_event_is_invalid_input_naming_the_field() {
    // No rules: any AWS call would panic.
    let err = handle(&deps(&[]), json!({"DeploymentId": 7, "LifecycleEventHookExecutionId": HOOK_EXECUTION}))
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "InvalidInput", "{err}");
    assert!(err.to_string().contains("DeploymentId"), "{err}");

    let err =
        handle(&deps(&[]), json!({"DeploymentId": DEPLOYMENT, "LifecycleEventHookExecutionId": ""})).await.unwrap_err();
    assert_eq!(err.error_type(), "InvalidInput", "{err}");
    assert!(err.to_string().contains("LifecycleEventHookExecutionId"), "{err}");
}

#[test]
fn init_builds_the_clients_the_hook_uses_and_not_cloudwatchs() {
    let clients = hookline::testing::unbuilt_clients();
    let machines = HookStateMachines { canary: CANARY.into(), post_traffic: POST_TRAFFIC.into() };
    let _deps = crate::dispatch::deps(&clients, machines, "/hookline".into());
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
    // its AfterAllowTraffic no bake. Everything a canary would call is there to be called.
    use aws_sdk_elasticloadbalancingv2::operation::create_rule::CreateRuleOutput;
    use aws_sdk_elasticloadbalancingv2::operation::modify_rule::ModifyRuleOutput;
    for (in_progress, hook) in [("BeforeAllowTraffic", BEFORE_HOOK), ("AfterAllowTraffic", AFTER_HOOK)] {
        let calls = Arc::new(std::sync::Mutex::new(Vec::new()));
        let traffic = production(100, 0, &calls);
        let modify_rule = mock!(aws_sdk_elasticloadbalancingv2::Client::modify_rule)
            .then_output(|| ModifyRuleOutput::builder().build());
        let create_rule = mock!(aws_sdk_elasticloadbalancingv2::Client::create_rule)
            .then_output(|| CreateRuleOutput::builder().build());
        let (starts, plan_rule) = (Sent::default(), plan_parameter(PLAN_JSON));
        let start = started(&starts);
        let mut resolve = resolve_rules(in_progress);
        resolve[0] = mock!(aws_sdk_codedeploy::Client::get_deployment)
            .then_output(|| hookline::testing::rollback_deployment(Some("codeDeployRollback"), Some("d-FAILED001")));
        let rules: Vec<&Rule> =
            resolve.iter().chain(traffic.iter()).chain([&modify_rule, &create_rule, &plan_rule, &start]).collect();

        let reply = handle(&deps(&rules), event_for(hook)).await;

        let Ok(Reply::PassedThrough(passed)) = reply else {
            panic!("{in_progress}: expected the hook answered Succeeded without a canary, got {reply:?}")
        };
        assert_eq!((passed.reported, passed.already_reported), (HookStatus::Succeeded, false), "{in_progress}");
        assert!(passed.reason.contains("rollback of d-FAILED001"), "{in_progress}: {}", passed.reason);
        let calls = calls.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone();
        assert_eq!(calls, ["Report Some(Succeeded)"], "{in_progress}: reported once, no listener change");
        assert_eq!(
            (start.num_calls(), modify_rule.num_calls(), create_rule.num_calls(), plan_rule.num_calls()),
            (0, 0, 0, 0),
            "{in_progress}: no execution started, no rule changed, no plan read"
        );
    }
}

#[tokio::test]
async fn a_rollback_deployments_hook_already_answered_is_done() {
    // A second delivery of the same invocation: CodeDeploy says the hook is answered.
    let reported = mock!(aws_sdk_codedeploy::Client::put_lifecycle_event_hook_execution_status).then_error(|| {
        PutLifecycleEventHookExecutionStatusError::LifecycleEventAlreadyCompletedException(
            LifecycleEventAlreadyCompletedException::builder().message("completed").build(),
        )
    });
    let rollback = mock!(aws_sdk_codedeploy::Client::get_deployment)
        .then_output(|| hookline::testing::rollback_deployment(None, Some("d-FAILED001")));
    let start = started(&Sent::default());

    let reply = handle(&deps(&[&rollback, &reported, &start]), event()).await;

    let Ok(Reply::PassedThrough(passed)) = reply else { panic!("expected a pass-through, got {reply:?}") };
    assert_eq!((passed.reported, passed.already_reported), (HookStatus::Succeeded, true));
    assert_eq!((reported.num_calls(), start.num_calls()), (1, 0));
}

#[tokio::test(start_paused = true)]
async fn an_unreadable_deployment_reports_nothing_before_its_admission_is_known() {
    // GetDeployment throttled past the SDK's retries: whether this is CodeDeploy's rollback is
    // unknown, and a Failed report would fail a rollback. Nothing is reported: Lambda retries,
    // then the dead-letter consumer.
    let reports = Sent::default();
    let rep = report(&reports);
    let throttled = mock!(aws_sdk_codedeploy::Client::get_deployment)
        .sequence()
        .http_status(400, Some(throttling_json()))
        .repeatedly()
        .build();
    let start = started(&Sent::default());

    let err = handle(&deps(&[&throttled, &rep, &start]), event()).await.unwrap_err();

    assert_eq!(err.error_type(), "Throttled", "{err}");
    assert_eq!((rep.num_calls(), start.num_calls()), (0, 0));
}
