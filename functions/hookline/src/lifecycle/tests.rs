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
