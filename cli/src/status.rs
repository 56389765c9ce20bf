//! `hookline status`: where a deployment stands.

use hookline::execution::HookEvent;
use hookline::traffic::{TrafficRouter, Weights};
use serde::Serialize;
use serde_json::Value;

use crate::aws::{Aws, Execution};
use crate::history::{clock, datetime, HealthVerdict, PendingApproval, Tracker};
use crate::R;

/// Everything `status` reports (`--json` prints this).
#[derive(Debug, Serialize)]
pub struct Status {
    pub deployment_id: String,
    pub application: Option<String>,
    pub deployment_group: Option<String>,
    pub status: String,
    pub error: Option<String>,
    pub created: Option<i64>,
    pub completed: Option<i64>,
    /// The execution the step, state and health come from (post-traffic once it exists).
    pub execution: Option<ExecutionStatus>,
    pub step: Option<StepStatus>,
    pub weights: Option<Weights>,
    pub weights_error: Option<String>,
    pub health: Option<HealthVerdict>,
    pub pending_approval: Option<Pending>,
    pub approvals: Vec<crate::history::Decision>,
}

#[derive(Debug, Serialize)]
pub struct ExecutionStatus {
    pub name: String,
    pub arn: String,
    pub status: String,
    /// The last state entered.
    pub state: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct StepStatus {
    /// 0-based `$.state.index`.
    pub index: u64,
    pub step_count: Option<u64>,
    pub steps_done: u64,
    /// `$.step` of the last state entered, when it carries one.
    pub step: Option<Value>,
}

#[derive(Debug, Serialize)]
pub struct Pending {
    #[serde(flatten)]
    pub approval: PendingApproval,
    pub approve: String,
    pub reject: String,
}

/// Gathers the status of `deployment_id`.
pub async fn gather(aws: &Aws, deployment_id: &str) -> R<Status> {
    Ok(gather_all(aws, deployment_id).await?.status)
}

/// The status plus what it was read from (the dashboard draws the executions' timelines and the plan).
pub struct Gathered {
    pub status: Status,
    pub canary: Option<Execution>,
    pub post: Option<Execution>,
    /// The execution document (plan, context) of the canary, else of the post-traffic execution.
    pub document: Option<hookline::execution::ExecutionDocument>,
}

/// Production's live weights (listener or rule of the deployment), or why they could not be read.
pub async fn live_weights(
    aws: &Aws,
    deployment_id: &str,
    document: Option<&hookline::execution::ExecutionDocument>,
) -> (Option<Weights>, Option<String>) {
    match aws.context(deployment_id, document).await {
        Ok(ctx) => match aws.clients.router(&ctx).weights().await {
            Ok(w) => (Some(w), None),
            Err(e) => (None, Some(crate::aws::short_error(&e))),
        },
        Err(e) => (None, Some(e.0)),
    }
}

/// Like [`gather`], keeping the executions and the document.
pub async fn gather_all(aws: &Aws, deployment_id: &str) -> R<Gathered> {
    let info = aws.deployment(deployment_id).await?;
    let canary = aws.execution(deployment_id, HookEvent::BeforeAllowTraffic).await?;
    let post = aws.execution(deployment_id, HookEvent::AfterAllowTraffic).await?;
    let canary_t = canary.as_ref().map(|e| Tracker::over(&e.events));
    let post_t = post.as_ref().map(|e| Tracker::over(&e.events));

    let (current, current_t): (Option<&Execution>, Option<&Tracker>) = match (&post, &post_t) {
        (Some(p), Some(t)) => (Some(p), Some(t)),
        _ => (canary.as_ref(), canary_t.as_ref()),
    };
    let document =
        canary_t.as_ref().and_then(|t| t.document.clone()).or_else(|| post_t.as_ref().and_then(|t| t.document.clone()));

    let (weights, weights_error) = live_weights(aws, deployment_id, document.as_ref()).await;

    let health = [canary_t.as_ref(), post_t.as_ref()]
        .into_iter()
        .flatten()
        .filter_map(|t| t.health.clone())
        .max_by_key(|h| h.at);
    let step = canary_t.as_ref().map(|t| StepStatus {
        index: t.index.unwrap_or(0),
        step_count: t.step_count(),
        steps_done: t.steps_done,
        step: t.step.clone(),
    });
    let pending_approval =
        canary.as_ref().filter(|e| e.status == "RUNNING").and(canary_t.as_ref()).and_then(|t| t.pending.clone()).map(
            |approval| Pending {
                approval,
                approve: format!("hookline approve {deployment_id}"),
                reject: format!("hookline reject {deployment_id}"),
            },
        );
    let error = info
        .error_information()
        .map(|e| format!("{}: {}", e.code().map(|c| c.as_str()).unwrap_or("error"), e.message().unwrap_or_default()));
    let status = Status {
        deployment_id: deployment_id.to_string(),
        application: info.application_name().map(str::to_string),
        deployment_group: info.deployment_group_name().map(str::to_string),
        status: info.status().map(|s| s.as_str().to_string()).unwrap_or_else(|| "unknown".into()),
        error,
        created: info.create_time().map(|t| t.secs()),
        completed: info.complete_time().map(|t| t.secs()),
        execution: current.map(|e| ExecutionStatus {
            name: e.name.clone(),
            arn: e.arn.clone(),
            status: e.status.clone(),
            state: current_t.and_then(|t| t.last_state.clone()),
        }),
        step,
        weights,
        weights_error,
        health,
        pending_approval,
        approvals: canary_t.map(|t| t.decisions).unwrap_or_default(),
    };
    Ok(Gathered { status, canary, post, document })
}

/// The human form.
pub fn render(s: &Status) -> String {
    let mut out = Vec::new();
    let app = match (&s.application, &s.deployment_group) {
        (Some(a), Some(g)) => format!("  ({a} / {g})"),
        _ => String::new(),
    };
    out.push(format!("deployment  {}{app}", s.deployment_id));
    out.push(format!("status      {}", s.status));
    if let Some(e) = &s.error {
        out.push(format!("error       {e}"));
    }
    if let Some(c) = s.created {
        let took = s
            .completed
            .map(|d| format!(", ended {} ({})", datetime(d), hookline::plan::human(u64::try_from(d - c).unwrap_or(0))))
            .unwrap_or_default();
        out.push(format!("started     {}{took}", datetime(c)));
    }
    match &s.execution {
        Some(e) => out.push(format!(
            "execution   {} {}{}",
            e.name,
            e.status,
            e.state.as_ref().map(|st| format!(", in state {st}")).unwrap_or_default()
        )),
        None => out.push("execution   none yet (the BeforeAllowTraffic hook has not started one)".into()),
    }
    if let Some(step) = &s.step {
        let of = step.step_count.map(|n| format!("/{n}")).unwrap_or_default();
        let what = step
            .step
            .clone()
            .and_then(|v| serde_json::from_value::<hookline::plan::Step>(v).ok())
            .map(|st| format!("  {}", st.describe()))
            .unwrap_or_default();
        let done = step.step_count.map(|n| format!("  ({} of {n} done)", step.steps_done)).unwrap_or_default();
        out.push(format!("step        {}{of}{what}{done}", step.index + 1));
    }
    match (&s.weights, &s.weights_error) {
        (Some(w), _) => out.push(format!("weights     {w}")),
        (None, Some(e)) => out.push(format!("weights     unknown ({e})")),
        _ => {}
    }
    match &s.health {
        Some(h) => out.push(format!("health      {} at {} [{}]", h.summary, clock(h.at), h.state)),
        None => out.push("health      no verdict yet".into()),
    }
    match &s.pending_approval {
        Some(p) => {
            let timeout = p
                .approval
                .timeout_seconds
                .map(|t| format!(", times out after {}", hookline::plan::human(t)))
                .unwrap_or_default();
            let step = p.approval.step_index.map(|i| format!("step {} ", i + 1)).unwrap_or_default();
            out.push(format!("approval    {step}WAITING since {}{timeout}", clock(p.approval.since)));
            out.push(format!("            {}   |   {}", p.approve, p.reject));
        }
        None => out.push("approval    none pending".into()),
    }
    for d in &s.approvals {
        out.push(format!("decided     {}", d.describe()));
    }
    out.join("\n")
}
