//! `hookline history`: recent deployments of a CodeDeploy deployment group or of an ECS-native
//! service, with who decided each approval.

use hookline::error::AwsResultExt;
use hookline::execution::HookEvent;
use hookline::plan::Controller;
use serde::Serialize;

use crate::aws::Aws;
use crate::history::{datetime, Decision, Tracker};
use crate::R;

/// One row of `history`.
#[derive(Debug, Serialize)]
pub struct Row {
    /// `codedeploy` or `ecs`.
    pub controller: Controller,
    /// A CodeDeploy deployment id, or an ECS service deployment ARN.
    pub deployment_id: String,
    pub status: String,
    pub created: Option<i64>,
    pub completed: Option<i64>,
    pub duration_seconds: Option<i64>,
    pub creator: Option<String>,
    pub description: Option<String>,
    pub error: Option<String>,
    /// The deployment that rolled this one back.
    pub rolled_back_by: Option<String>,
    /// For a rollback deployment: the one it rolled back.
    pub rollback_of: Option<String>,
    pub approvals: Vec<Decision>,
}

/// The `limit` most recent deployments of `application`/`group`, newest first.
pub async fn gather(aws: &Aws, application: &str, group: &str, limit: usize) -> R<Vec<Row>> {
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
    let mut rows = Vec::new();
    for info in infos {
        let id = info.deployment_id().unwrap_or_default().to_string();
        let approvals = match aws.execution(&id, HookEvent::BeforeAllowTraffic).await? {
            Some(exec) => Tracker::over(&exec.events).decisions,
            None => vec![],
        };
        let created = info.create_time().map(|t| t.secs());
        let completed = info.complete_time().map(|t| t.secs());
        rows.push(Row {
            controller: Controller::CodeDeploy,
            deployment_id: id,
            status: info.status().map(|s| s.as_str().to_string()).unwrap_or_else(|| "unknown".into()),
            created,
            completed,
            duration_seconds: created.zip(completed).map(|(c, d)| d - c),
            creator: info.creator().map(|c| c.as_str().to_string()),
            description: info.description().map(str::to_string),
            error: info.error_information().map(|e| {
                format!("{}: {}", e.code().map(|c| c.as_str()).unwrap_or("error"), e.message().unwrap_or_default())
            }),
            rolled_back_by: info.rollback_info().and_then(|r| r.rollback_deployment_id()).map(str::to_string),
            rollback_of: info.rollback_info().and_then(|r| r.rollback_triggering_deployment_id()).map(str::to_string),
            approvals,
        });
    }
    Ok(rows)
}

/// The `limit` most recent service deployments of the ECS-native `service` in `cluster`, newest first.
pub async fn gather_ecs(aws: &Aws, cluster: &str, service: &str, limit: usize) -> R<Vec<Row>> {
    // ListServiceDeployments documents no order: read a few pages, sort by time (as for CodeDeploy).
    let mut briefs = aws.service_deployments(cluster, service, Some(limit.max(1) * 4)).await?;
    let when = |b: &aws_sdk_ecs::types::ServiceDeploymentBrief| {
        b.created_at().or(b.started_at()).map(|t| t.as_nanos()).unwrap_or(0)
    };
    briefs.sort_by_key(|b| std::cmp::Reverse(when(b)));
    briefs.truncate(limit);
    let mut rows = Vec::new();
    for brief in briefs {
        let Some(arn) = brief.service_deployment_arn().map(str::to_string) else { continue };
        // DescribeServiceDeployments for the rollback details the brief lacks; the brief's fields otherwise.
        let info = crate::aws::deployment_info_of(&aws.service_deployment(&arn).await?);
        let approvals = match aws.execution(&arn, HookEvent::BeforeAllowTraffic).await? {
            Some(exec) => Tracker::over(&exec.events).decisions,
            None => vec![],
        };
        let created = info.create_time().map(|t| t.secs());
        let completed = info.complete_time().map(|t| t.secs());
        rows.push(Row {
            controller: Controller::Ecs,
            deployment_id: arn,
            status: brief.status().map_or_else(|| "unknown".into(), |s| s.as_str().to_string()),
            created,
            completed,
            duration_seconds: created.zip(completed).map(|(c, d)| d - c),
            creator: None,
            description: None,
            error: info.error_information().map(|e| {
                format!("{}: {}", e.code().map(|c| c.as_str()).unwrap_or("error"), e.message().unwrap_or_default())
            }),
            rolled_back_by: None,
            rollback_of: None,
            approvals,
        });
    }
    Ok(rows)
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

/// The table.
pub fn render(rows: &[Row]) -> String {
    if rows.is_empty() {
        return "no deployments".into();
    }
    // ECS's ids and status words (ROLLBACK_SUCCESSFUL) are longer than CodeDeploy's.
    let id_width = rows.iter().map(|r| short_id(&r.deployment_id).len()).max().unwrap_or(0).max(12);
    let status_width = rows.iter().map(|r| r.status.len()).max().unwrap_or(0).max(10);
    let mut out = vec![format!(
        "{:<id_width$} {:<status_width$} {:<21} {:>9}  {}",
        "DEPLOYMENT", "STATUS", "STARTED", "DURATION", "APPROVALS / ERROR"
    )];
    for r in rows {
        let duration = r
            .duration_seconds
            .map(|s| hookline::plan::human(u64::try_from(s).unwrap_or(0)))
            .unwrap_or_else(|| "-".into());
        let started = r.created.map(datetime).unwrap_or_else(|| "-".into());
        let mut notes: Vec<String> = r.approvals.iter().map(Decision::describe).collect();
        match &r.rollback_of {
            Some(of) => notes.push(format!("rollback of {of}")),
            None if r.creator.as_deref() == Some("codeDeployRollback") => notes.push("rollback deployment".into()),
            None => {}
        }
        if let Some(e) = &r.error {
            // The code only (unless the status already says it); `--json` has the message.
            let code = e.split(':').next().unwrap_or(e);
            if code != r.status {
                notes.push(code.to_string());
            }
        }
        if let Some(by) = &r.rolled_back_by {
            notes.push(format!("rolled back by {by}"));
        }
        let notes = if notes.is_empty() { "-".to_string() } else { notes.join("; ") };
        out.push(format!(
            "{:<id_width$} {:<status_width$} {:<21} {:>9}  {notes}",
            short_id(&r.deployment_id),
            r.status,
            started,
            duration
        ));
    }
    out.join("\n")
}

/// The table's name for a deployment: a CodeDeploy id as it is, a service deployment ARN by its last
/// segment (the service deployment's id; `--json` has the whole ARN, which the other verbs take).
pub fn short_id(deployment_id: &str) -> &str {
    if hookline::lifecycle::ecs::is_service_deployment_arn(deployment_id) {
        deployment_id.rsplit('/').next().unwrap_or(deployment_id)
    } else {
        deployment_id
    }
}
