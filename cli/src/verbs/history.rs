//! `hookline history`: recent deployments of a CodeDeploy deployment group, of an ECS-native
//! service, or on the weighted records of hookline's own Route 53 controller, with who decided
//! each approval.

use hookline::execution::HookEvent;
use hookline::lifecycle::DeploymentSummary;
use hookline::plan::Controller;
use serde::Serialize;

use super::status::has_ended;
use crate::address::{Target, TargetArg};
use crate::aws::Aws;
use crate::error::R;
use crate::execution_history::{datetime, Decision, Tracker};
use crate::output::{emit, to_json};

/// `hookline history`'s arguments.
#[derive(Debug, clap::Args)]
pub struct HistoryArgs {
    #[command(flatten)]
    pub target: TargetArg,
    /// The name of the weighted records of `hookline deploy` (Route 53): the deployments on it.
    #[arg(long, value_name = "NAME", group = "target", conflicts_with_all = ["application", "group", "cluster", "service"])]
    pub fqdn: Option<String>,
    #[arg(long, default_value_t = 10)]
    pub limit: usize,
    /// Print JSON for scripts.
    #[arg(long)]
    pub json: bool,
}

/// `hookline history`: the table (or JSON) of the target's recent deployments.
pub async fn run(aws: &Aws, args: &HistoryArgs) -> R<u8> {
    let rows = match (&args.fqdn, args.target.target()) {
        (Some(fqdn), _) => gather_dns(aws, Some(fqdn), args.limit).await?,
        (None, target) => match target? {
            Target::CodeDeploy { application, group } => gather(aws, &application, &group, args.limit).await?,
            Target::Ecs { cluster, service } => gather_ecs(aws, &cluster, &service, args.limit).await?,
        },
    };
    emit(&if args.json { to_json(&rows)? } else { render(&rows) });
    Ok(0)
}

/// One row of `history`.
#[derive(Debug, Serialize)]
pub struct Row {
    /// `codedeploy` or `ecs`.
    pub controller: Controller,
    /// A CodeDeploy deployment id, or an ECS service deployment ARN.
    pub deployment_id: String,
    /// The controller's own status word (`Succeeded`, `ROLLBACK_SUCCESSFUL`, ...).
    pub status: String,
    /// Over for good (the dashboard samples only the others).
    #[serde(skip)]
    pub ended: bool,
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
    /// The controller created it to roll another back.
    #[serde(skip)]
    pub is_rollback: bool,
    pub approvals: Vec<Decision>,
    /// hookline's own Route 53 controller: green's observed share as last read at each weight.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub observed: Vec<hookline::dns::ObservedSplit>,
    /// The controller's own pause the deployment waits on (an ECS `PAUSE` hook awaiting action), as
    /// `status` reads it ([`super::status::controller_pause`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub controller_pause: Option<hookline::lifecycle::Pause>,
}

/// The `limit` most recent deployments of `application`/`group`, newest first.
pub async fn gather(aws: &Aws, application: &str, group: &str, limit: usize) -> R<Vec<Row>> {
    let mut rows = Vec::new();
    for listed in crate::codedeploy::recent(aws, application, group, limit).await? {
        let mut row = row_of(aws, listed.summary).await?;
        row.creator = listed.creator;
        row.description = listed.description;
        row.rolled_back_by = listed.rolled_back_by;
        row.rollback_of = listed.rollback_of;
        row.is_rollback = listed.is_rollback;
        rows.push(row);
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
        let Some(arn) = brief.service_deployment_arn() else { continue };
        // DescribeServiceDeployments, through the ECS adapter, for the reason and times the brief lacks.
        rows.push(row_of(aws, aws.deployment(arn).await?).await?);
    }
    Ok(rows)
}

/// The `limit` newest deployments of hookline's own Route 53 controller on `fqdn` (`None`: on any
/// name), newest first, each read through `Lifecycle::describe`.
pub async fn gather_dns(aws: &Aws, fqdn: Option<&str>, limit: usize) -> R<Vec<Row>> {
    let mut rows = Vec::new();
    for id in crate::dns::recent(aws.release_records(), fqdn, limit).await? {
        rows.push(row_of(aws, aws.deployment(&id).await?).await?);
    }
    Ok(rows)
}

/// The row of one deployment: its summary, and who decided its canary's approvals.
pub async fn row_of(aws: &Aws, summary: DeploymentSummary) -> R<Row> {
    let (approvals, observed) = match aws.execution(&summary.deployment_id, HookEvent::PreTraffic).await? {
        Some(exec) => {
            let t = Tracker::over(&exec.events);
            (t.decisions, t.observed)
        }
        None => (vec![], vec![]),
    };
    let controller_pause = super::status::controller_pause(aws, &summary).await?;
    Ok(Row {
        controller_pause,
        controller: summary.controller,
        ended: has_ended(&summary),
        duration_seconds: summary.created_at.zip(summary.ended_at).map(|(c, d)| d - c),
        created: summary.created_at,
        completed: summary.ended_at,
        error: summary.message,
        status: summary.status_word,
        deployment_id: summary.deployment_id,
        creator: None,
        description: None,
        rolled_back_by: None,
        rollback_of: None,
        is_rollback: false,
        approvals,
        observed,
    })
}

/// The table.
pub fn render(rows: &[Row]) -> String {
    if rows.is_empty() {
        return "no deployments".into();
    }
    // ECS's ids and status words (ROLLBACK_SUCCESSFUL) are longer than CodeDeploy's.
    let id_width = rows.iter().map(|r| short_id(r).len()).max().unwrap_or(0).max(12);
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
        if let Some(p) = &r.controller_pause {
            notes.push(super::status::pause_line(p));
        }
        match &r.rollback_of {
            Some(of) => notes.push(format!("rollback of {of}")),
            None if r.is_rollback => notes.push("rollback deployment".into()),
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
        if !r.observed.is_empty() {
            let at = |o: &hookline::dns::ObservedSplit| match o.green_percent {
                Some(p) => format!("{p:.1}% at {}%", o.set_weight),
                None => format!("no requests at {}%", o.set_weight),
            };
            notes.push(format!("observed green {}", r.observed.iter().map(at).collect::<Vec<_>>().join(", ")));
        }
        let notes = if notes.is_empty() { "-".to_string() } else { notes.join("; ") };
        out.push(format!(
            "{:<id_width$} {:<status_width$} {:<21} {:>9}  {notes}",
            short_id(r),
            r.status,
            started,
            duration
        ));
    }
    out.join("\n")
}

/// The table's name for a deployment: a CodeDeploy id as it is, a service deployment ARN by its last
/// segment (the service deployment's id; `--json` has the whole ARN, which the other verbs take).
pub fn short_id(row: &Row) -> &str {
    match row.controller {
        Controller::Ecs => row.deployment_id.rsplit('/').next().unwrap_or(&row.deployment_id),
        Controller::CodeDeploy | Controller::Route53 => &row.deployment_id,
    }
}
