//! `hookline status`: where a deployment stands; and how every verb shows a deployment's status.

use hookline::execution::HookEvent;
use hookline::lifecycle::{DeploymentSummary, Lifecycle, Phase};
use hookline::ports::ExecutionEvent;
use hookline::traffic::Weights;
use serde::Serialize;
use serde_json::Value;

use crate::address::DeploymentArg;
use crate::aws::{Aws, Execution};
use crate::error::{short_error, R};
use crate::execution_history::{clock, datetime, run_word, Decision, HealthVerdict, PendingApproval, Tracker};
use crate::output::{emit, to_json};

/// `hookline status`'s arguments.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub deployment: DeploymentArg,
    /// Print JSON for scripts.
    #[arg(long)]
    pub json: bool,
}

/// `hookline status`: prints where the deployment stands.
pub async fn run(aws: &Aws, args: &StatusArgs) -> R<u8> {
    let deployment_id = aws.deployment_id_of(&args.deployment.address()?).await?;
    let s = gather(aws, &deployment_id).await?;
    emit(&if args.json { to_json(&s)? } else { render(&s) });
    Ok(0)
}

/// How `status`, `watch` and the dashboard show a deployment its controller is still rolling back
/// (production may still move), as `status --json` always has.
const SHOWN_ROLLING_BACK: Phase = Phase::InProgress;

/// The deployment's status as the verbs show it: while it is active, its [`Phase`] (`Created`,
/// `Queued`, `InProgress`, `Ready`, `Baking`: each adapter maps its controller's words onto them);
/// `InProgress` while its controller is still rolling it back; once ended, hookline's
/// [`DeploymentStatus`]. The controller's own word is the summary's `status_word` (`history` shows it).
///
/// [`DeploymentStatus`]: hookline::lifecycle::DeploymentStatus
pub fn shown(s: &DeploymentSummary) -> String {
    if s.rolling_back {
        SHOWN_ROLLING_BACK.to_string()
    } else if s.status.is_active() {
        s.phase.unwrap_or(Phase::InProgress).to_string()
    } else {
        s.status.to_string()
    }
}

/// Over for good: ended, and not still being rolled back by its controller.
pub fn has_ended(s: &DeploymentSummary) -> bool {
    s.status.is_terminal() && !s.rolling_back
}

/// Everything `status` reports (`--json` prints this).
#[derive(Debug, Serialize)]
pub struct Status {
    /// The controller's own pause the deployment waits on (an ECS PAUSE hook awaiting action):
    /// `hookline approve` / `reject` answer it with ContinueServiceDeployment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub controller_pause: Option<hookline::lifecycle::Pause>,
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
    pub approvals: Vec<Decision>,
    /// The canary judge's judgements (plans with `analysis`), oldest first.
    pub judgements: Vec<JudgementSeen>,
}

/// A canary judgement as the canary execution's history shows it: validate-health's
/// `judgement` (a judged bake that went on, or asked an operator), or the `HealthCheckFailed`
/// it failed with.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JudgementSeen {
    /// Epoch seconds of the event.
    pub at: i64,
    /// One line: step, weight, outcome, score, action; or the failure's message.
    pub summary: String,
    /// One line per metric: verdict, n, U, p, shift and its interval.
    pub metrics: Vec<String>,
    /// validate-health's `judgement` object (`None` for a failed judgement: the message is all there is).
    pub detail: Option<Value>,
}

impl JudgementSeen {
    /// From one history event, when it carries a judgement.
    pub fn from_event(e: &ExecutionEvent) -> Option<JudgementSeen> {
        match e.kind.as_str() {
            "LambdaFunctionSucceeded" => {
                let out: Value = serde_json::from_str(e.output.as_deref()?).ok()?;
                let j = out.get("judgement")?.clone();
                let num = |v: &Value| v.as_f64().map(|x| format!("{x:.1}")).unwrap_or_else(|| "none".into());
                let step = j.get("step").and_then(Value::as_u64).map_or("?".into(), |i| (i + 1).to_string());
                let note = j.get("note").and_then(Value::as_str).map(|n| format!("; {n}")).unwrap_or_default();
                let summary = format!(
                    "step {step} at {}%: {}, score {} -> {}{note}",
                    j.get("weight").and_then(Value::as_u64).unwrap_or(0),
                    j.get("outcome").and_then(Value::as_str).unwrap_or("?"),
                    num(&j["score"]),
                    j.get("action").and_then(Value::as_str).unwrap_or("?"),
                );
                let metrics = j.get("metrics").and_then(Value::as_array).map(|ms| ms.iter().map(metric_line).collect());
                Some(JudgementSeen { at: e.timestamp, summary, metrics: metrics.unwrap_or_default(), detail: Some(j) })
            }
            "LambdaFunctionFailed" if e.error.as_deref() == Some("HealthCheckFailed") => {
                let cause = e.cause.as_deref()?;
                // Lambda's cause is {"errorType", "errorMessage"}; the message names the metric and effect.
                let message = serde_json::from_str::<Value>(cause)
                    .ok()
                    .and_then(|v| v.get("errorMessage").and_then(Value::as_str).map(str::to_string))
                    .unwrap_or_else(|| cause.to_string());
                let at = message.find("canary judgement")?;
                Some(JudgementSeen {
                    at: e.timestamp,
                    summary: message[at..].to_string(),
                    metrics: vec![],
                    detail: None,
                })
            }
            _ => None,
        }
    }
}

/// "TargetResponseTime High: n 15/15, U 225, p=1.70e-6, shift +0.041 (CI +0.036..+0.047), +41%".
fn metric_line(m: &Value) -> String {
    let f = |k: &str| m.get(k).and_then(Value::as_f64);
    let n = |k: &str| m.get(k).and_then(Value::as_u64).unwrap_or(0);
    let mut parts = vec![format!("n {}/{}", n("baseline_n"), n("canary_n"))];
    if let Some(u) = f("u") {
        parts.push(format!("U {u}"));
    }
    if let Some(p) = f("p_value") {
        parts.push(format!("p={p:.2e}"));
    }
    if let Some(shift) = f("hodges_lehmann") {
        let ci = m.get("ci").and_then(Value::as_array).and_then(|c| Some((c.first()?.as_f64()?, c.get(1)?.as_f64()?)));
        // Three significant digits of the largest of shift and interval: metrics come in seconds and in counts.
        let largest = ci.map_or(shift.abs(), |(lo, hi)| shift.abs().max(lo.abs()).max(hi.abs()));
        let decimals = if largest > 0.0 { (2 - largest.log10().floor() as i32).clamp(0, 9) as usize } else { 0 };
        let ci = ci.map(|(lo, hi)| format!(" (CI {lo:+.decimals$}..{hi:+.decimals$})")).unwrap_or_default();
        parts.push(format!("shift {shift:+.decimals$}{ci}"));
    }
    if let Some(r) = f("relative_effect") {
        parts.push(format!("{:+.0}%", r * 100.0));
    }
    format!(
        "{} {}: {}",
        m.get("name").and_then(Value::as_str).unwrap_or("?"),
        m.get("verdict").and_then(Value::as_str).unwrap_or("?"),
        parts.join(", ")
    )
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

impl StepStatus {
    /// The step a canary's history is at. Past its last step (Finalize's `$.state.index` is the
    /// step count) it is the last one: "step 3/3 (3 of 3 done)", never "step 4/3".
    pub fn of(t: &Tracker) -> StepStatus {
        let step_count = t.step_count();
        let index = t.index.unwrap_or(0);
        StepStatus {
            index: step_count.filter(|n| *n > 0).map_or(index, |n| index.min(n - 1)),
            step_count,
            steps_done: t.steps_done,
            step: t.step.clone(),
        }
    }
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
    /// The deployment as its controller's adapter described it.
    pub summary: DeploymentSummary,
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
        Ok(ctx) => match aws.router(&ctx).weights().await {
            Ok(w) => (Some(w), None),
            Err(e) => (None, Some(short_error(&e))),
        },
        Err(e) => (None, Some(e.0)),
    }
}

/// Like [`gather`], keeping the executions and the document.
pub async fn gather_all(aws: &Aws, deployment_id: &str) -> R<Gathered> {
    let info = aws.deployment(deployment_id).await?;
    let canary = aws.execution(deployment_id, HookEvent::PreTraffic).await?;
    let post = aws.execution(deployment_id, HookEvent::PostTraffic).await?;
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
    let step = canary_t.as_ref().map(StepStatus::of);
    let pending_approval =
        canary.as_ref().filter(|e| e.status.is_running()).and(canary_t.as_ref()).and_then(|t| t.pending.clone()).map(
            |approval| Pending {
                approval,
                approve: format!("hookline approve {deployment_id}"),
                reject: format!("hookline reject {deployment_id}"),
            },
        );
    let known = |s: &str| Some(s.to_string()).filter(|s| !s.is_empty());
    let controller_pause = controller_pause(aws, &info).await?;
    let status = Status {
        controller_pause,
        deployment_id: deployment_id.to_string(),
        application: known(&info.application),
        deployment_group: known(&info.group),
        status: shown(&info),
        error: info.message.clone(),
        created: info.created_at,
        completed: info.ended_at,
        execution: current.map(|e| ExecutionStatus {
            name: e.name.clone(),
            arn: e.arn.clone(),
            status: run_word(&e.status).to_string(),
            state: current_t.and_then(|t| t.last_state.clone()),
        }),
        step,
        weights,
        weights_error,
        health,
        pending_approval,
        approvals: canary_t.map(|t| t.decisions).unwrap_or_default(),
        judgements: canary
            .as_ref()
            .map(|e| e.events.iter().filter_map(JudgementSeen::from_event).collect())
            .unwrap_or_default(),
    };
    Ok(Gathered { status, summary: info, canary, post, document })
}

/// The controller's own pause an active deployment waits on (an ECS `PAUSE` hook awaiting action,
/// `Lifecycle::paused`): the one reading `status`, `history` and the dashboard show as waiting for approval.
pub async fn controller_pause(aws: &Aws, info: &DeploymentSummary) -> R<Option<hookline::lifecycle::Pause>> {
    if !info.status.is_active() {
        return Ok(None);
    }
    Ok(aws.clients.lifecycle().paused(&info.deployment_id).await?)
}

/// A controller pause in one line: the hook id, where it waits, when and how it times out.
pub fn pause_line(p: &hookline::lifecycle::Pause) -> String {
    let at = p.stage.as_deref().map(|s| format!(" at {s}")).unwrap_or_default();
    let until = p.expires_at.map(|t| format!(", times out at {}", datetime(t))).unwrap_or_default();
    let then = p.timeout_action.as_deref().map(|a| format!(" (then {a})")).unwrap_or_default();
    format!("WAITING FOR APPROVAL: ECS pause hook {}{at}{until}{then}", p.hook_id)
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
    if let Some(p) = &s.controller_pause {
        out.push(format!("paused      {}", pause_line(p)));
        out.push(format!("            hookline approve {id}   |   hookline reject {id}", id = s.deployment_id));
    }
    for d in &s.approvals {
        out.push(format!("decided     {}", d.describe()));
    }
    for j in &s.judgements {
        out.push(format!("judged      {} at {}", j.summary, clock(j.at)));
        for m in &j.metrics {
            out.push(format!("              {m}"));
        }
    }
    out.join("\n")
}

#[cfg(test)]
mod judgement_tests {
    use serde_json::json;

    use super::*;

    fn event(kind: &str, details: Value) -> ExecutionEvent {
        crate::execution_history::event_from_aws_json(
            &json!({"id": 7, "type": kind, "timestamp": 1_763_776_000, "x_EventDetails": details}),
        )
        .expect("event")
    }

    #[test]
    fn a_judged_bake_reads_as_a_summary_and_one_line_per_metric() {
        let output = json!({"healthy": true, "done": true, "wait_seconds": 0, "checked_at": 1, "checks": [],
            "judgement": {"step": 0, "weight": 10, "window": [0, 600], "outcome": "Pass", "score": 100.0,
              "reason": "score 100.0", "action": "continue", "metrics": [{"name": "TargetResponseTime",
              "verdict": "Pass", "baseline_n": 15, "canary_n": 15, "u": 120.0, "p_value": 0.4,
              "hodges_lehmann": 0.001, "ci": [-0.002, 0.004], "relative_effect": 0.01}]}});
        let seen = JudgementSeen::from_event(&event("LambdaFunctionSucceeded", json!({"output": output.to_string()})))
            .expect("a judgement");
        assert_eq!(seen.summary, "step 1 at 10%: Pass, score 100.0 -> continue");
        assert_eq!(
            seen.metrics,
            ["TargetResponseTime Pass: n 15/15, U 120, p=4.00e-1, shift +0.00100 (CI -0.00200..+0.00400), +1%"]
        );
        let plain = json!({"healthy": true, "done": true, "wait_seconds": 0, "checked_at": 1, "checks": []});
        assert_eq!(
            JudgementSeen::from_event(&event("LambdaFunctionSucceeded", json!({"output": plain.to_string()}))),
            None
        );
    }

    #[test]
    fn a_failed_judgement_reads_as_its_message() {
        let cause = json!({"errorType": "HealthCheckFailed", "errorMessage": "health check failed: canary judgement at 10% \
            failed: critical metric failed: TargetResponseTime High: +41% (CI +36%..+47%), p=1.70e-6"});
        let seen = JudgementSeen::from_event(&event(
            "LambdaFunctionFailed",
            json!({"error": "HealthCheckFailed", "cause": cause.to_string()}),
        ))
        .expect("a judgement");
        assert!(seen.summary.starts_with("canary judgement at 10% failed: critical metric failed: TargetResponseTime"));
        let alarm = json!({"errorType": "HealthCheckFailed", "errorMessage": "health check failed: alarm web-5xx: state ALARM"});
        let e = event("LambdaFunctionFailed", json!({"error": "HealthCheckFailed", "cause": alarm.to_string()}));
        assert_eq!(JudgementSeen::from_event(&e), None, "other health failures are not judgements");
    }
}

#[cfg(test)]
mod pause_tests {
    use super::*;

    #[test]
    fn a_controller_pause_reads_as_waiting_for_approval_with_its_hook_and_timeout() {
        let pause = hookline::lifecycle::Pause {
            hook_id: "ecs-pause-abc".into(),
            stage: Some("WAITING_STAGE".into()),
            expires_at: Some(0),
            timeout_action: Some("ROLLBACK".into()),
        };
        let line = pause_line(&pause);
        assert!(line.starts_with("WAITING FOR APPROVAL: ECS pause hook ecs-pause-abc at WAITING_STAGE"));
        assert!(line.contains(&format!("times out at {}", datetime(0))) && line.ends_with("(then ROLLBACK)"), "{line}");
    }
}
