//! What the CLI reads from CodeDeploy that no port offers: the account's applications and
//! deployment groups (the dashboard's list), a group's recent deployments with CodeDeploy's own
//! rollback links (`history`), and the lifecycle events of a deployment's ECS target (`watch`'s
//! `lifecycle` lines). Read-only. A deployment's status, times and error are still the CodeDeploy
//! adapter's ([`CodeDeploy::summary`], the mapping `Lifecycle::describe` uses), never mapped here.

use aws_sdk_codedeploy::types::{DeploymentCreator, LifecycleEventStatus};
use hookline::error::AwsResultExt;
use hookline::lifecycle::{CodeDeploy, DeploymentSummary};

use crate::aws::Aws;
use crate::error::R;

/// One of a group's recent deployments: the adapter's summary plus what only CodeDeploy records.
pub struct Listed {
    pub summary: DeploymentSummary,
    /// `creator` as CodeDeploy says it (`user`, `codeDeployRollback`, ...).
    pub creator: Option<String>,
    pub description: Option<String>,
    /// CodeDeploy created it to roll another deployment back (`creator` `codeDeployRollback`).
    pub is_rollback: bool,
    /// The deployment that rolled this one back.
    pub rolled_back_by: Option<String>,
    /// For a rollback deployment: the one it rolled back.
    pub rollback_of: Option<String>,
}

/// The `limit` most recent deployments of `application`/`group`, newest first.
pub async fn recent(aws: &Aws, application: &str, group: &str, limit: usize) -> R<Vec<Listed>> {
    let mut ids = Vec::new();
    let mut token = None;
    loop {
        let out = aws
            .clients
            .codedeploy
            .list_deployments()
            .application_name(application)
            .deployment_group_name(group)
            .set_next_token(token)
            .send()
            .await
            .aws("ListDeployments")?;
        ids.extend(out.deployments().iter().cloned());
        token = out.next_token().map(str::to_string);
        // Ids come newest first from CodeDeploy, but that is not documented: read a few pages, sort by time.
        if token.is_none() || ids.len() >= limit.max(1) * 4 {
            break;
        }
    }
    let mut infos = Vec::new();
    for chunk in ids.chunks(25) {
        let out = aws
            .clients
            .codedeploy
            .batch_get_deployments()
            .set_deployment_ids(Some(chunk.to_vec()))
            .send()
            .await
            .aws("BatchGetDeployments")?;
        infos.extend(out.deployments_info().iter().cloned());
    }
    infos.sort_by_key(|i| std::cmp::Reverse(i.create_time().map(|t| t.secs()).unwrap_or(0)));
    infos.truncate(limit);
    Ok(infos
        .iter()
        .map(|info| Listed {
            summary: CodeDeploy::summary(info.deployment_id().unwrap_or_default(), info),
            creator: info.creator().map(|c| c.as_str().to_string()),
            description: info.description().map(str::to_string),
            is_rollback: info.creator() == Some(&DeploymentCreator::CodeDeployRollback),
            rolled_back_by: info.rollback_info().and_then(|r| r.rollback_deployment_id()).map(str::to_string),
            rollback_of: info.rollback_info().and_then(|r| r.rollback_triggering_deployment_id()).map(str::to_string),
        })
        .collect())
}

/// Every (application, deployment group) pair of the account and region, applications in name order.
pub async fn groups(aws: &Aws) -> R<Vec<(String, String)>> {
    let mut applications = Vec::new();
    let mut token = None;
    loop {
        let out =
            aws.clients.codedeploy.list_applications().set_next_token(token).send().await.aws("ListApplications")?;
        applications.extend(out.applications().iter().cloned());
        token = out.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    applications.sort();
    let mut pairs = Vec::new();
    for application in applications {
        let mut token = None;
        loop {
            let out = aws
                .clients
                .codedeploy
                .list_deployment_groups()
                .application_name(&application)
                .set_next_token(token)
                .send()
                .await
                .aws("ListDeploymentGroups")?;
            pairs.extend(out.deployment_groups().iter().map(|g| (application.clone(), g.clone())));
            token = out.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
    }
    Ok(pairs)
}

/// One lifecycle event of a deployment's ECS target, as `watch` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetEvent {
    /// CodeDeploy's name (`Install`, `BeforeAllowTraffic`, ...).
    pub name: String,
    /// CodeDeploy's status word (`InProgress`, `Succeeded`, ...).
    pub status_word: String,
    /// When it started (in progress) or ended, epoch seconds.
    pub at: Option<i64>,
    /// Not reached yet: nothing to print.
    pub pending: bool,
}

/// The lifecycle events of the deployment's ECS target; `target_id` is found once (ListDeploymentTargets)
/// and kept. Unreadable (not listed yet, or any error): none, `watch` tries again at its next poll.
pub async fn target_events(aws: &Aws, deployment_id: &str, target_id: &mut Option<String>) -> Vec<TargetEvent> {
    if target_id.is_none() {
        if let Ok(t) = aws.clients.codedeploy.list_deployment_targets().deployment_id(deployment_id).send().await {
            *target_id = t.target_ids().first().cloned();
        }
    }
    let Some(tid) = target_id.as_deref() else { return vec![] };
    let Ok(t) = aws.clients.codedeploy.get_deployment_target().deployment_id(deployment_id).target_id(tid).send().await
    else {
        return vec![];
    };
    let events = t.deployment_target().and_then(|t| t.ecs_target()).map(|e| e.lifecycle_events().to_vec());
    events
        .unwrap_or_default()
        .iter()
        .filter_map(|ev| {
            let (name, status) = (ev.lifecycle_event_name()?, ev.status()?);
            let in_progress = *status == LifecycleEventStatus::InProgress;
            let at = if in_progress { ev.start_time() } else { ev.end_time() };
            Some(TargetEvent {
                name: name.to_string(),
                status_word: status.as_str().to_string(),
                at: at.map(|t| t.secs()),
                pending: *status == LifecycleEventStatus::Pending,
            })
        })
        .collect()
}
