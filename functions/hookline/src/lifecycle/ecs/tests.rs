use aws_sdk_ecs::operation::describe_service_deployments::DescribeServiceDeploymentsOutput;
use aws_sdk_ecs::operation::describe_service_revisions::DescribeServiceRevisionsOutput;
use aws_sdk_ecs::operation::stop_service_deployment::{StopServiceDeploymentError, StopServiceDeploymentOutput};
use aws_sdk_ecs::types::error::ConflictException;
use aws_smithy_mocks::{mock, Rule};
use serde_json::json;

use super::mocks::*;
use super::*;
use crate::testing::mocked_clients;

fn ecs(rules: &[&Rule]) -> EcsNative {
    EcsNative { ecs: mocked_clients(rules).ecs.clone() }
}

#[tokio::test]
async fn resolve_reads_blue_and_green_from_the_revisions_and_the_route_from_the_production_rule() {
    let deployment = described(EcsStatus::InProgress, Some(Stage::PostTestTrafficShift));
    let revisions = revisions();
    let resolved = ecs(&[&deployment, &revisions]).resolve(DEPLOYMENT, Some("exec-1")).await.expect("resolved");
    let ctx = resolved.context;

    // Blue is the source revision's group even though it is called api-green.
    assert_eq!(ctx.blue.target_group_arn, TG_API_GREEN);
    assert_eq!(ctx.blue.target_group_name, "api-green");
    assert_eq!(ctx.green.target_group_arn, TG_API_BLUE);
    assert_eq!(
        ctx.production,
        Route::AlbRule {
            listener_arn: "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/demo-api/50dc/f2f7".into(),
            rule_arn: PROD_RULE.into(),
        }
    );
    assert_eq!(
        ctx.test_listener_arn.as_deref(),
        Some("arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/demo-api/50dc/e3e3")
    );
    assert_eq!((ctx.cluster.as_str(), ctx.service.as_str()), ("demo", "api"));
    assert_eq!(
        crate::contract::plan_parameter("/hookline", &ctx.application, &ctx.deployment_group),
        "/hookline/ecs/demo/api"
    );
    assert_eq!(resolved.in_progress_hook, Some(HookEvent::PreTraffic));
    assert_eq!(
        ctx.hook,
        Some(HookRef { kind: Controller::Ecs, event: HookEvent::PreTraffic, execution_id: "exec-1".into() })
    );
}

#[tokio::test]
async fn blue_and_green_come_from_the_resolved_configuration_not_the_configured_load_balancer() {
    // As on AWS: both revisions carry the same configured loadBalancers (targetGroupArn api-blue);
    // only resolvedConfiguration says which group each serves. Reading loadBalancers[0] gives
    // api-blue for both and no deployment can be resolved.
    let deployment = described(EcsStatus::InProgress, Some(Stage::PostTestTrafficShift));
    let revisions = revisions();
    let ctx = ecs(&[&deployment, &revisions]).resolve(DEPLOYMENT, None).await.expect("resolved").context;
    assert_eq!((ctx.blue.target_group_arn.as_str(), ctx.green.target_group_arn.as_str()), (TG_API_GREEN, TG_API_BLUE));

    // A revision without a resolved configuration (AWS gives it only for an active revision) is
    // named, never guessed from the configured load balancer.
    let bare = mock!(aws_sdk_ecs::Client::describe_service_revisions).then_output(|| {
        let mut source = revision(SOURCE, TG_API_GREEN);
        source.resolved_configuration = None;
        DescribeServiceRevisionsOutput::builder()
            .service_revisions(revision(TARGET, TG_API_BLUE))
            .service_revisions(source)
            .build()
    });
    let err = ecs(&[&deployment, &bare]).resolve(DEPLOYMENT, None).await.expect_err("no resolved configuration");
    assert!(err.to_string().contains("resolvedConfiguration") && err.to_string().contains(SOURCE), "{err}");
}

#[tokio::test]
async fn admission_passes_a_creation_and_reads_a_stepped_strategy_for_gate_mode() {
    let blue_green = described(EcsStatus::InProgress, Some(Stage::PostTestTrafficShift));
    assert_eq!(ecs(&[&blue_green]).admission(DEPLOYMENT).await.expect("admission"), Admission::Serve);
    let created = described_as(Stage::PostTestTrafficShift, creation);
    assert_eq!(ecs(&[&created]).admission(DEPLOYMENT).await.expect("admission"), Admission::Creation);
    let linear = described_as(Stage::PostTestTrafficShift, linear);
    let expected = crate::plan::gate::ServiceSteps {
        strategy: "LINEAR".into(),
        percent_tenths: Some(250),
        pre_production_hook_timeouts_minutes: Some(vec![30]),
    };
    assert_eq!(ecs(&[&linear]).admission(DEPLOYMENT).await.expect("admission"), Admission::Gate(expected));
    let rolling = described_as(Stage::PostTestTrafficShift, |d| {
        d.deployment_configuration = Some(
            aws_sdk_ecs::types::DeploymentConfiguration::builder()
                .strategy(aws_sdk_ecs::types::DeploymentStrategy::Rolling)
                .build(),
        );
    });
    assert_eq!(ecs(&[&rolling]).admission(DEPLOYMENT).await.expect("admission"), Admission::Strategy("ROLLING".into()));
}

#[tokio::test]
async fn resolve_of_an_unknown_deployment_names_it() {
    let none = mock!(aws_sdk_ecs::Client::describe_service_deployments).then_output(|| {
        DescribeServiceDeploymentsOutput::builder()
            .failures(aws_sdk_ecs::types::Failure::builder().arn(DEPLOYMENT).reason("MISSING").build())
            .build()
    });
    let err = ecs(&[&none]).resolve(DEPLOYMENT, None).await.expect_err("missing");
    assert!(err.to_string().contains("MISSING") && err.to_string().contains(DEPLOYMENT), "{err}");
}

#[tokio::test]
async fn statuses_map_onto_hooklines() {
    for (status, expected) in [
        (EcsStatus::Pending, DeploymentStatus::Active),
        (EcsStatus::InProgress, DeploymentStatus::Active),
        (EcsStatus::Successful, DeploymentStatus::Succeeded),
        (EcsStatus::RollbackRequested, DeploymentStatus::Failed),
        (EcsStatus::RollbackInProgress, DeploymentStatus::Failed),
        (EcsStatus::RollbackSuccessful, DeploymentStatus::Failed),
        (EcsStatus::StopRequested, DeploymentStatus::Stopped),
        (EcsStatus::Stopped, DeploymentStatus::Stopped),
    ] {
        let rule = described(status.clone(), None);
        assert_eq!(ecs(&[&rule]).status(DEPLOYMENT).await.expect("status"), expected, "{status:?}");
    }
}

#[tokio::test]
async fn event_status_follows_the_stage_and_a_rollback_is_never_succeeded() {
    let ctx = {
        let deployment = described(EcsStatus::InProgress, Some(Stage::PostTestTrafficShift));
        let revisions = revisions();
        ecs(&[&deployment, &revisions]).resolve(DEPLOYMENT, None).await.expect("resolved").context
    };
    for (status, stage, canary, post) in [
        (EcsStatus::InProgress, Stage::PostScaleUp, EventStatus::Pending, EventStatus::Pending),
        (EcsStatus::InProgress, Stage::PostTestTrafficShift, EventStatus::InProgress, EventStatus::Pending),
        (EcsStatus::InProgress, Stage::BakeTime, EventStatus::Succeeded, EventStatus::Succeeded),
        (EcsStatus::RollbackInProgress, Stage::ProductionTrafficShift, EventStatus::Failed, EventStatus::Failed),
        (EcsStatus::Successful, Stage::CleanUp, EventStatus::Succeeded, EventStatus::Succeeded),
    ] {
        let rule = described(status.clone(), Some(stage.clone()));
        let adapter = ecs(&[&rule]);
        assert_eq!(adapter.event_status(&ctx, HookEvent::PreTraffic).await.expect("s"), Some(canary));
        assert_eq!(adapter.event_status(&ctx, HookEvent::PostTraffic).await.expect("s"), Some(post));
    }
}

#[tokio::test]
async fn report_makes_no_call_and_stop_asks_for_a_rollback() {
    let stop = mock!(aws_sdk_ecs::Client::stop_service_deployment)
        .match_requests(|r| {
            r.service_deployment_arn() == Some(DEPLOYMENT)
                && r.stop_type() == Some(&StopServiceDeploymentStopType::Rollback)
        })
        .then_output(|| StopServiceDeploymentOutput::builder().service_deployment_arn(DEPLOYMENT).build());
    let adapter = ecs(&[&stop]);
    assert_eq!(adapter.report(DEPLOYMENT, "x", HookStatus::Failed).await.expect("report"), Reported::Now);
    assert!(matches!(adapter.stop_with_rollback(DEPLOYMENT).await.expect("stop"), Stop::Stopping(_)));
    assert_eq!(stop.num_calls(), 1);

    let ended = mock!(aws_sdk_ecs::Client::stop_service_deployment).then_error(|| {
        StopServiceDeploymentError::ConflictException(ConflictException::builder().message("ended").build())
    });
    assert_eq!(ecs(&[&ended]).stop_with_rollback(DEPLOYMENT).await.expect("stop"), Stop::AlreadyEnded);
}

#[test]
fn the_payload_is_read_and_rollback_stages_pass_through() {
    let payload = |stage: &str| {
        json!({"executionId": "e1", "lifecycleStage": stage, "resourceArn": DEPLOYMENT,
               "executionDetails": {"productionTrafficWeights": {}}, "hookDetails": {"k": 1}})
    };
    assert!(EcsNative::is_invocation(&payload("POST_TEST_TRAFFIC_SHIFT")));
    assert!(!EcsNative::is_invocation(&json!({"DeploymentId": "d-1", "LifecycleEventHookExecutionId": "x"})));

    let canary = EcsNative::invocation(payload("POST_TEST_TRAFFIC_SHIFT")).expect("canary");
    assert_eq!(canary.stage, EcsStage::Hook(HookEvent::PreTraffic));
    assert_eq!(canary.deployment_arn, DEPLOYMENT);
    assert_eq!(canary.hook_details, Some(json!({"k": 1})));
    let post = EcsNative::invocation(payload("POST_PRODUCTION_TRAFFIC_SHIFT")).expect("post");
    assert_eq!(post.stage, EcsStage::Hook(HookEvent::PostTraffic));
    for stage in ["TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT"] {
        assert_eq!(EcsNative::invocation(payload(stage)).expect("rb").stage, EcsStage::PassThrough(stage.into()));
    }

    let mut bad = payload("POST_TEST_TRAFFIC_SHIFT");
    bad["resourceArn"] = json!("arn:aws:ecs:us-east-1:123456789012:service/demo/api");
    let err = EcsNative::invocation(bad).expect_err("not a service deployment");
    assert!(err.to_string().contains("resourceArn"), "{err}");
}

#[test]
fn answers_serialize_as_ecs_reads_them() {
    assert_eq!(
        serde_json::to_value(EcsAnswer::in_progress(2, Some(json!({"a": 1})))).expect("json"),
        json!({"hookStatus": "IN_PROGRESS", "callBackDelay": 2, "hookDetails": {"a": 1}})
    );
    assert_eq!(
        serde_json::to_value(EcsAnswer::in_progress(0, None)).expect("json"),
        json!({"hookStatus": "IN_PROGRESS", "callBackDelay": MIN_CALLBACK_DELAY_SECONDS})
    );
    assert_eq!(
        serde_json::to_value(EcsAnswer::in_progress(86_400, None)).expect("json")["callBackDelay"],
        json!(MAX_CALLBACK_DELAY_SECONDS)
    );
    assert_eq!(
        serde_json::to_value(EcsAnswer::done(HookStatus::Failed, None)).expect("json"),
        json!({"hookStatus": "FAILED"})
    );
    assert_eq!(
        serde_json::to_value(EcsAnswer::done(HookStatus::Succeeded, None)).expect("json"),
        json!({"hookStatus": "SUCCEEDED"})
    );
    for answer in [
        EcsAnswer::in_progress(7, Some(json!({"a": 1}))),
        EcsAnswer::done(HookStatus::Failed, None),
        EcsAnswer::done(HookStatus::Succeeded, Some(json!({}))),
    ] {
        assert_eq!(answer.to_json(), serde_json::to_value(&answer).expect("json"), "{answer:?}");
    }
}

#[test]
fn the_controller_is_told_by_the_deployment_id() {
    assert!(is_service_deployment_arn(DEPLOYMENT));
    assert!(!is_service_deployment_arn("d-ABC123XYZ"));
    assert!(!is_service_deployment_arn("arn:aws:ecs:us-east-1:123456789012:service/demo/api"));
    assert_eq!(crate::contract::execution_name(DEPLOYMENT, HookEvent::PreTraffic), "r4nd0mId-BeforeAllowTraffic");
    assert_eq!(listener_of_rule("arn:x:listener/app/a/b/c").unwrap_err().error_type(), "InvalidInput");
}

/// The summary of a service deployment in `status` with `reason` (and the demo's times).
fn summary_of(status: EcsStatus, reason: Option<&str>) -> DeploymentSummary {
    let mut d = deployment(status, None);
    d.status_reason = reason.map(str::to_string);
    d.created_at = Some(aws_sdk_ecs::primitives::DateTime::from_secs(100));
    d.finished_at = Some(aws_sdk_ecs::primitives::DateTime::from_secs(460));
    summary(DEPLOYMENT, &d)
}

#[tokio::test]
async fn describe_maps_with_the_one_mapping_and_keeps_ecs_s_word_and_reason() {
    let rule = described(EcsStatus::RollbackSuccessful, None);
    let described = ecs(&[&rule]).describe(DEPLOYMENT).await.expect("described");
    assert_eq!(rule.num_calls(), 1);
    assert_eq!(
        (described.controller, described.application.as_str(), described.group.as_str()),
        (Controller::Ecs, "ecs/demo", "api")
    );
    assert_eq!(described.deployment_id, DEPLOYMENT);

    let seen = |status: EcsStatus| {
        let s = summary_of(status, Some("hook FAILED"));
        (s.status, s.rolling_back, s.status_word, s.message)
    };
    let word = |w: &str| w.to_string();
    let said = |w: &str| Some(format!("{w}: hook FAILED"));
    assert_eq!(seen(EcsStatus::Pending), (DeploymentStatus::Active, false, word("PENDING"), None));
    assert_eq!(seen(EcsStatus::InProgress), (DeploymentStatus::Active, false, word("IN_PROGRESS"), None));
    assert_eq!(seen(EcsStatus::Successful), (DeploymentStatus::Succeeded, false, word("SUCCESSFUL"), None));
    assert_eq!(seen(EcsStatus::Stopped), (DeploymentStatus::Stopped, false, word("STOPPED"), said("STOPPED")));
    // Not ended yet: ECS is still stopping or rolling back, production may still move.
    assert_eq!(
        seen(EcsStatus::StopRequested),
        (DeploymentStatus::Stopped, true, word("STOP_REQUESTED"), said("STOP_REQUESTED"))
    );
    assert_eq!(
        seen(EcsStatus::RollbackRequested),
        (DeploymentStatus::Failed, true, word("ROLLBACK_REQUESTED"), said("ROLLBACK_REQUESTED"))
    );
    assert_eq!(
        seen(EcsStatus::RollbackInProgress),
        (DeploymentStatus::Failed, true, word("ROLLBACK_IN_PROGRESS"), said("ROLLBACK_IN_PROGRESS"))
    );
    assert_eq!(
        seen(EcsStatus::RollbackSuccessful),
        (DeploymentStatus::Failed, false, word("ROLLBACK_SUCCESSFUL"), said("ROLLBACK_SUCCESSFUL"))
    );
    assert_eq!(
        seen(EcsStatus::RollbackFailed),
        (DeploymentStatus::Failed, false, word("ROLLBACK_FAILED"), said("ROLLBACK_FAILED"))
    );
    let s = summary_of(EcsStatus::RollbackSuccessful, None);
    assert_eq!((s.created_at, s.ended_at), (Some(100), Some(460)));
    assert_eq!(s.message.as_deref(), Some("ROLLBACK_SUCCESSFUL: ROLLBACK_SUCCESSFUL"), "no reason: ECS's word");
    // no reason: the rollback's
    let mut rolled = deployment(EcsStatus::RollbackSuccessful, None);
    rolled.rollback = Some(aws_sdk_ecs::types::Rollback::builder().reason("alarm api-5xx").build());
    assert_eq!(summary(DEPLOYMENT, &rolled).message.as_deref(), Some("ROLLBACK_SUCCESSFUL: alarm api-5xx"));

    let none = mock!(aws_sdk_ecs::Client::describe_service_deployments).then_output(|| {
        DescribeServiceDeploymentsOutput::builder()
            .failures(aws_sdk_ecs::types::Failure::builder().arn(DEPLOYMENT).reason("MISSING").build())
            .build()
    });
    let err = ecs(&[&none]).describe(DEPLOYMENT).await.expect_err("missing");
    assert_eq!(err.aws_code(), Some(crate::lifecycle::DEPLOYMENT_NOT_FOUND));
    assert!(err.to_string().ends_with(&format!("service deployment {DEPLOYMENT} not found in ECS (MISSING)")), "{err}");
}

#[tokio::test]
async fn controllers_describe_through_the_deployment_s_own_adapter() {
    let rule = described(EcsStatus::InProgress, None);
    let summary = crate::testing::mocked_clients(&[&rule]).lifecycle().describe(DEPLOYMENT).await.expect("described");
    assert_eq!((summary.controller, summary.status_word.as_str()), (Controller::Ecs, "IN_PROGRESS"));
    assert_eq!(rule.num_calls(), 1, "not the default describe (status only)");
}

/// A deployment IN_PROGRESS at POST_TEST_TRAFFIC_SHIFT held by a PAUSE hook (and a Lambda hook done).
fn paused_deployment() -> Rule {
    use aws_sdk_ecs::types::{DeploymentLifecycleHookAction, DeploymentLifecycleHookDetail};
    mock!(aws_sdk_ecs::Client::describe_service_deployments).then_output(|| {
        let mut d = deployment(EcsStatus::InProgress, Some(Stage::PostTestTrafficShift));
        d.lifecycle_hook_details = Some(vec![
            DeploymentLifecycleHookDetail::builder()
                .target_type(DeploymentLifecycleHookTargetType::AwsLambda)
                .hook_id("lambda-1")
                .status(DeploymentLifecycleHookStatus::Succeeded)
                .build(),
            DeploymentLifecycleHookDetail::builder()
                .target_type(DeploymentLifecycleHookTargetType::Pause)
                .hook_id("ecs-pause-abc")
                .status(DeploymentLifecycleHookStatus::AwaitingAction)
                .expires_at(aws_sdk_ecs::primitives::DateTime::from_secs(1_900_000_000))
                .timeout_action(DeploymentLifecycleHookAction::Rollback)
                .build(),
        ]);
        DescribeServiceDeploymentsOutput::builder().service_deployments(d).build()
    })
}

#[tokio::test]
async fn a_pause_hook_awaiting_action_is_read_and_answered_with_continue_service_deployment() {
    use aws_sdk_ecs::operation::continue_service_deployment::ContinueServiceDeploymentOutput;
    let paused = paused_deployment();
    let pause = ecs(&[&paused]).paused(DEPLOYMENT).await.expect("read");
    assert_eq!(
        pause,
        Some(Pause {
            hook_id: "ecs-pause-abc".into(),
            stage: Some("POST_TEST_TRAFFIC_SHIFT".into()),
            expires_at: Some(1_900_000_000),
            timeout_action: Some("ROLLBACK".into()),
        })
    );
    let running = described(EcsStatus::InProgress, Some(Stage::PostTestTrafficShift));
    assert_eq!(ecs(&[&running]).paused(DEPLOYMENT).await.expect("read"), None, "no pause hook, no pause");

    for (go_on, action) in
        [(true, DeploymentLifecycleHookAction::Continue), (false, DeploymentLifecycleHookAction::Rollback)]
    {
        let answered = mock!(aws_sdk_ecs::Client::continue_service_deployment)
            .match_requests(move |r| {
                r.service_deployment_arn() == Some(DEPLOYMENT)
                    && r.hook_id() == Some("ecs-pause-abc")
                    && r.action() == Some(&action)
            })
            .then_output(|| ContinueServiceDeploymentOutput::builder().service_deployment_arn(DEPLOYMENT).build());
        ecs(&[&answered]).answer_pause(DEPLOYMENT, "ecs-pause-abc", go_on).await.expect("answered");
        assert_eq!(answered.num_calls(), 1);
    }
}
