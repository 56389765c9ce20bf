use aws_sdk_codedeploy::operation::get_deployment_target::GetDeploymentTargetOutput;
use aws_sdk_codedeploy::primitives::DateTime;
use aws_sdk_codedeploy::types::{
    DeploymentTarget, EcsTarget, EcsTaskSet, LifecycleEvent, LifecycleEventStatus, TargetGroupInfo, TargetLabel,
};
use aws_sdk_elasticloadbalancingv2::operation::describe_target_groups::DescribeTargetGroupsOutput;
use aws_sdk_elasticloadbalancingv2::types::TargetGroup;
use aws_smithy_mocks::{mock, Rule};

use super::*;
use crate::testing::{deployment, mocked_clients, rollback_deployment, BLUE_TG, DEPLOYMENT, GREEN_TG, HOOK_EXECUTION};

/// Install done at 100, BeforeAllowTraffic in progress since `started` (none: no startTime), AfterAllowTraffic pending.
fn target(started: Option<i64>) -> GetDeploymentTargetOutput {
    let task_set = |label: TargetLabel, tg: &str| {
        EcsTaskSet::builder().task_set_label(label).target_group(TargetGroupInfo::builder().name(tg).build()).build()
    };
    GetDeploymentTargetOutput::builder()
        .deployment_target(
            DeploymentTarget::builder()
                .ecs_target(
                    EcsTarget::builder()
                        .lifecycle_events(
                            LifecycleEvent::builder()
                                .lifecycle_event_name("Install")
                                .status(LifecycleEventStatus::Succeeded)
                                .start_time(DateTime::from_secs(100))
                                .build(),
                        )
                        .lifecycle_events(
                            LifecycleEvent::builder()
                                .lifecycle_event_name("BeforeAllowTraffic")
                                .status(LifecycleEventStatus::InProgress)
                                .set_start_time(started.map(DateTime::from_secs))
                                .build(),
                        )
                        .lifecycle_events(
                            LifecycleEvent::builder()
                                .lifecycle_event_name("AfterAllowTraffic")
                                .status(LifecycleEventStatus::Pending)
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

fn rules(started: Option<i64>) -> Vec<Rule> {
    vec![
        mock!(aws_sdk_codedeploy::Client::get_deployment).then_output(|| deployment("InProgress")),
        mock!(aws_sdk_codedeploy::Client::get_deployment_group).then_output(crate::testing::deployment_group),
        mock!(aws_sdk_codedeploy::Client::get_deployment_target).then_output(move || target(started)),
        mock!(aws_sdk_elasticloadbalancingv2::Client::describe_target_groups).then_output(|| {
            DescribeTargetGroupsOutput::builder()
                .target_groups(TargetGroup::builder().target_group_name("web-blue").target_group_arn(BLUE_TG).build())
                .target_groups(TargetGroup::builder().target_group_name("web-green").target_group_arn(GREEN_TG).build())
                .build()
        }),
    ]
}

#[tokio::test]
async fn resolve_gives_the_in_progress_event_and_when_codedeploy_started_it() {
    let rules = rules(Some(1_763_776_042));
    let clients = mocked_clients(&rules.iter().collect::<Vec<_>>());

    let resolved = clients.lifecycle().resolve(DEPLOYMENT, Some(HOOK_EXECUTION)).await.expect("resolve");

    assert_eq!(resolved.in_progress_event.as_deref(), Some("BeforeAllowTraffic"));
    assert_eq!(
        resolved.in_progress_started_at,
        Some(1_763_776_042),
        "the in-progress event's startTime, not Install's"
    );
    assert_eq!(resolved.context.hook.map(|h| h.execution_id), Some(HOOK_EXECUTION.to_string()));
}

#[tokio::test]
async fn resolve_without_a_start_time_says_so() {
    let rules = rules(None);
    let clients = mocked_clients(&rules.iter().collect::<Vec<_>>());

    let resolved = clients.lifecycle().resolve(DEPLOYMENT, None).await.expect("resolve");

    assert_eq!(resolved.in_progress_event.as_deref(), Some("BeforeAllowTraffic"));
    assert_eq!(resolved.in_progress_started_at, None);
}

#[test]
fn statuses_keep_their_words_in_outputs() {
    // The functions' outputs and the release state machine (`$.outcome.status`) read these words.
    assert_eq!(serde_json::to_value(HookStatus::Succeeded).ok(), Some(serde_json::json!("Succeeded")));
    assert_eq!(serde_json::to_value(HookStatus::Failed).ok(), Some(serde_json::json!("Failed")));
    assert_eq!(DeploymentStatus::Succeeded.to_string(), "Succeeded");
    assert_eq!(DeploymentStatus::Stopped.to_string(), "Stopped");
    assert_eq!(DeploymentStatus::Unrecognized("Odd".into()).to_string(), "Odd");
    assert!(DeploymentStatus::Active.is_active() && !DeploymentStatus::Active.is_terminal());
}

#[tokio::test]
async fn admission_passes_codedeploys_rollback_deployments_through() {
    // Either sign is enough: the creator, or the deployment it rolls back.
    let cases = [
        (rollback_deployment(Some("codeDeployRollback"), Some("d-FAILED001")), Some("d-FAILED001")),
        (rollback_deployment(Some("codeDeployRollback"), None), None),
        (rollback_deployment(None, Some("d-FAILED001")), Some("d-FAILED001")),
        (rollback_deployment(Some("CloudFormationRollback"), None), None),
    ];
    for (described, of) in cases {
        let expected = described.clone();
        let get = mock!(aws_sdk_codedeploy::Client::get_deployment).then_output(move || expected.clone());
        let admission = mocked_clients(&[&get]).lifecycle().admission(DEPLOYMENT).await.expect("admission");
        assert_eq!(admission, Admission::Rollback { of: of.map(str::to_string) }, "{described:?}");
        assert!(admission.pass_through().is_some_and(|why| why.contains("rollback")));
    }
    for creator in [None, Some("user"), Some("CodeDeploy")] {
        let get =
            mock!(aws_sdk_codedeploy::Client::get_deployment).then_output(move || rollback_deployment(creator, None));
        let admission = mocked_clients(&[&get]).lifecycle().admission(DEPLOYMENT).await.expect("admission");
        assert_eq!(admission, Admission::Serve, "creator {creator:?}");
        assert_eq!(admission.pass_through(), None);
    }
    let plain = mock!(aws_sdk_codedeploy::Client::get_deployment).then_output(|| deployment("InProgress"));
    assert_eq!(mocked_clients(&[&plain]).lifecycle().admission(DEPLOYMENT).await.ok(), Some(Admission::Serve));
}

#[tokio::test]
async fn describe_reads_a_codedeploy_deployment_once_with_its_own_word_and_error_kept() {
    use aws_sdk_codedeploy::operation::get_deployment::{GetDeploymentError, GetDeploymentOutput};
    use aws_sdk_codedeploy::types::{DeploymentInfo, ErrorCode, ErrorInformation};
    let failed = mock!(aws_sdk_codedeploy::Client::get_deployment)
        .match_requests(|r| r.deployment_id() == Some(DEPLOYMENT))
        .then_output(|| {
            GetDeploymentOutput::builder()
                .deployment_info(
                    DeploymentInfo::builder()
                        .deployment_id(DEPLOYMENT)
                        .application_name("web")
                        .deployment_group_name("web-prod")
                        .status(aws_sdk_codedeploy::types::DeploymentStatus::Failed)
                        .create_time(DateTime::from_secs(100))
                        .complete_time(DateTime::from_secs(460))
                        .error_information(
                            ErrorInformation::builder().code(ErrorCode::HookExecutionFailure).message("hook").build(),
                        )
                        .build(),
                )
                .build()
        });
    let summary = mocked_clients(&[&failed]).lifecycle().describe(DEPLOYMENT).await.expect("described");
    assert_eq!(failed.num_calls(), 1);
    assert_eq!(
        summary,
        DeploymentSummary {
            deployment_id: DEPLOYMENT.into(),
            controller: Controller::CodeDeploy,
            status: DeploymentStatus::Failed,
            phase: None,
            rolling_back: false,
            status_word: "Failed".into(),
            application: "web".into(),
            group: "web-prod".into(),
            created_at: Some(100),
            ended_at: Some(460),
            message: Some("HOOK_EXECUTION_FAILURE: hook".into()),
        }
    );
    // Every in-progress word is Active, its own word kept for operators.
    for word in ["Created", "Queued", "InProgress", "Ready", "Baking"] {
        let get = mock!(aws_sdk_codedeploy::Client::get_deployment).then_output(move || deployment(word));
        let summary = mocked_clients(&[&get]).lifecycle().describe(DEPLOYMENT).await.expect("described");
        assert_eq!(
            (summary.status, summary.status_word.as_str(), summary.message),
            (DeploymentStatus::Active, word, None)
        );
        // ... and its phase is the same word in hookline's vocabulary
        assert_eq!(summary.phase.map(|p| p.to_string()).as_deref(), Some(word));
    }
    // An id CodeDeploy does not know is an error saying so, with hookline's code.
    let missing = mock!(aws_sdk_codedeploy::Client::get_deployment).then_error(|| {
        GetDeploymentError::DeploymentDoesNotExistException(
            aws_sdk_codedeploy::types::error::DeploymentDoesNotExistException::builder().build(),
        )
    });
    let err = mocked_clients(&[&missing]).lifecycle().describe("d-NOPE12345").await.expect_err("missing");
    assert_eq!(err.aws_code(), Some(DEPLOYMENT_NOT_FOUND));
    assert!(err.to_string().contains("deployment d-NOPE12345 not found in CodeDeploy"), "{err}");
}

#[tokio::test]
async fn report_sends_the_hooks_status_and_an_event_already_completed_is_reported_already() {
    use crate::testing::{access_denied, Sent};
    use aws_sdk_codedeploy::operation::put_lifecycle_event_hook_execution_status::{
        PutLifecycleEventHookExecutionStatusError, PutLifecycleEventHookExecutionStatusInput,
        PutLifecycleEventHookExecutionStatusOutput,
    };
    use aws_sdk_codedeploy::types::error::LifecycleEventAlreadyCompletedException;

    let sent: Sent<PutLifecycleEventHookExecutionStatusInput> = Sent::default();
    let ok = mock!(aws_sdk_codedeploy::Client::put_lifecycle_event_hook_execution_status)
        .match_requests(sent.recorder())
        .then_output(|| PutLifecycleEventHookExecutionStatusOutput::builder().build());
    let reported = mocked_clients(&[&ok]).lifecycle().report(DEPLOYMENT, HOOK_EXECUTION, HookStatus::Failed).await;
    assert_eq!(reported, Ok(Reported::Now));
    let req = sent.only();
    assert_eq!(
        (req.deployment_id(), req.lifecycle_event_hook_execution_id(), req.status()),
        (Some(DEPLOYMENT), Some(HOOK_EXECUTION), Some(&LifecycleEventStatus::Failed))
    );

    // CodeDeploy's answer to a second report of the same hook.
    let already = mock!(aws_sdk_codedeploy::Client::put_lifecycle_event_hook_execution_status).then_error(|| {
        PutLifecycleEventHookExecutionStatusError::LifecycleEventAlreadyCompletedException(
            LifecycleEventAlreadyCompletedException::builder().build(),
        )
    });
    let lifecycle = mocked_clients(&[&already]).lifecycle();
    assert_eq!(lifecycle.report(DEPLOYMENT, HOOK_EXECUTION, HookStatus::Failed).await, Ok(Reported::Already));

    let refused = mock!(aws_sdk_codedeploy::Client::put_lifecycle_event_hook_execution_status)
        .then_error(|| PutLifecycleEventHookExecutionStatusError::generic(access_denied()));
    let err = mocked_clients(&[&refused])
        .lifecycle()
        .report(DEPLOYMENT, HOOK_EXECUTION, HookStatus::Failed)
        .await
        .expect_err("refused");
    assert_eq!((err.error_type(), err.aws_code()), ("AwsPermanent", Some("AccessDeniedException")));
}

#[tokio::test]
async fn stop_with_rollback_asks_codedeploy_to_roll_back_and_a_deployment_already_completed_has_ended() {
    use crate::testing::Sent;
    use aws_sdk_codedeploy::operation::stop_deployment::{StopDeploymentInput, StopDeploymentOutput};
    use aws_sdk_codedeploy::types::StopStatus;

    let sent: Sent<StopDeploymentInput> = Sent::default();
    let stop = mock!(aws_sdk_codedeploy::Client::stop_deployment)
        .match_requests(sent.recorder())
        .then_output(|| StopDeploymentOutput::builder().status(StopStatus::Pending).build());
    let stopped = mocked_clients(&[&stop]).lifecycle().stop_with_rollback(DEPLOYMENT).await;
    assert_eq!(stopped, Ok(Stop::Stopping("Pending".into())));
    let req = sent.only();
    assert_eq!((req.deployment_id(), req.auto_rollback_enabled()), (Some(DEPLOYMENT), Some(true)));

    // CodeDeploy's refusal of a deployment that has just ended, as its JSON protocol sends it.
    let refused = mock!(aws_sdk_codedeploy::Client::stop_deployment)
        .sequence()
        .http_status(
            400,
            Some(
                r#"{"__type":"DeploymentAlreadyCompletedException","message":"The deployment is already completed"}"#
                    .into(),
            ),
        )
        .build();
    let lifecycle = mocked_clients(&[&refused]).lifecycle();
    assert_eq!(lifecycle.stop_with_rollback(DEPLOYMENT).await, Ok(Stop::AlreadyEnded));
    assert_eq!(refused.num_calls(), 1);
}

#[tokio::test]
async fn event_status_reads_the_event_on_the_services_target() {
    use crate::testing::{context, hook_event};
    for (word, status) in [("InProgress", EventStatus::InProgress), ("Succeeded", EventStatus::Succeeded)] {
        let target = mock!(aws_sdk_codedeploy::Client::get_deployment_target)
            .match_requests(|r| r.deployment_id() == Some(DEPLOYMENT) && r.target_id() == Some("demo:web"))
            .then_output(move || hook_event("BeforeAllowTraffic", word));
        let lifecycle = mocked_clients(&[&target]).lifecycle();
        assert_eq!(lifecycle.event_status(&context(), HookEvent::PreTraffic).await, Ok(Some(status)), "{word}");
        assert_eq!(lifecycle.event_status(&context(), HookEvent::PostTraffic).await, Ok(None), "not listed");
    }
}
