//! Runs the health gate. The `ready` gate waits (up to the plan's ready
//! timeout) for green to become healthy behind the test listener; the `bake`
//! gate fails at the first unhealthy verdict. Both stop at once when the
//! deployment is no longer in progress or the hook budget is spent, so the
//! hook is always answered before CodeDeploy's deadline.
//!
//! When the plan has an `analysis`, the bake gate that ends a weight step's bake also runs the
//! canary judge over the bake's window (less the metrics' publication lag, on period boundaries;
//! green against blue, one GetMetricData call): a failed
//! judgement is `HealthCheckFailed` naming the metric and its effect; a marginal or no-data one
//! follows the plan's rule (roll back, continue, or ask an operator through the approval state).

use std::sync::Arc;

use hookline::contract::{DeploymentGateInput, Gate, HealthGateInput};
use hookline::execution::{now_epoch, DeploymentContext, RolloutState};
use hookline::health::metrics::{self, Action, StepJudgement};
use hookline::health::{bake_progress, CloudWatchMetrics, HealthFacts, MetricsSource};
use hookline::lifecycle::{ensure_active, Lifecycle};
use hookline::plan::{human, OnTimeout, Plan, Step};
use hookline::runtime::parse_event;
use hookline::{Clients, Error, Result};
use serde::Deserialize;
use serde_json::Value;
use tracing::{info, info_span, warn, Instrument};

/// Time kept back from the hook's deadline for rolling back and reporting (one value for every function).
pub use hookline::contract::ROLLBACK_RESERVE_SECONDS;

/// What validate-health needs: the deployment controller and where health facts come from, built once in `main`.
pub struct Deps {
    pub lifecycle: Arc<dyn Lifecycle>,
    pub health: Arc<dyn HealthFacts>,
    /// The canary judge's samples.
    pub metrics: Arc<dyn MetricsSource>,
}

impl Deps {
    /// The AWS adapters.
    pub fn new(clients: &Clients) -> Deps {
        Deps {
            lifecycle: Arc::new(clients.lifecycle()),
            health: Arc::new(clients.health_gate()),
            metrics: Arc::new(CloudWatchMetrics { client: hookline::aws::Placed::new(clients.cloudwatch.share()) }),
        }
    }
}

/// Which gate to run.
#[derive(Debug)]
pub enum Input {
    /// Green behind the test listener, before any production traffic.
    Ready { context: DeploymentContext, plan: Plan, state: RolloutState },
    /// During a bake: health plus the bake clock.
    Bake { context: DeploymentContext, plan: Plan, state: RolloutState },
    /// The deployment's status only (the `release` state machine waits on it).
    Deployment { deployment_id: String },
}

#[derive(Debug, Deserialize)]
struct Tagged {
    gate: Gate,
}

impl Input {
    /// Reads the event in two passes, `gate` first, so a malformed field is
    /// named by its path (`context.deployment_id`): serde's internally tagged
    /// enums buffer the content and lose it.
    pub fn parse(event: Value) -> Result<Input> {
        let Tagged { gate } = parse_event(event.clone())?;
        Ok(match gate {
            Gate::Ready | Gate::Bake => {
                let HealthGateInput { context, plan, state } = parse_event(event)?;
                if matches!(gate, Gate::Ready) {
                    Input::Ready { context, plan, state }
                } else {
                    Input::Bake { context, plan, state }
                }
            }
            Gate::Deployment => {
                let DeploymentGateInput { deployment_id } = parse_event(event)?;
                Input::Deployment { deployment_id }
            }
        })
    }
}

/// A gate's answer (written to `$.health` / `$.outcome`).
pub use hookline::contract::GateOutput as Output;

/// Runs the gate named by `gate`.
pub async fn handle(deps: &Deps, event: Value) -> Result<Output> {
    match Input::parse(event)? {
        Input::Deployment { deployment_id } => {
            let status = deps
                .lifecycle
                .status(&deployment_id)
                .instrument(info_span!("release", deployment_id = %deployment_id))
                .await?;
            Ok(Output::Deployment { done: status.is_terminal(), status: status.to_string() })
        }
        Input::Ready { context, plan, state } => {
            let span = info_span!("validate-health", deployment_id = %context.deployment_id, gate = "ready");
            gate(deps, &context, &plan, &state, true).instrument(span).await
        }
        Input::Bake { context, plan, state } => {
            let span = info_span!("validate-health", deployment_id = %context.deployment_id, gate = "bake");
            gate(deps, &context, &plan, &state, false).instrument(span).await
        }
    }
}

/// Not healthy (yet) or not judged yet: the gate asks to be called again in `wait_seconds`.
fn check_again(now: i64, wait_seconds: u64, checks: Vec<hookline::health::Check>) -> Output {
    Output::Health {
        healthy: false,
        done: false,
        wait_seconds,
        checked_at: now,
        checks,
        judgement: None,
        approval: None,
        judgements: None,
        observed: None,
    }
}

async fn gate(deps: &Deps, ctx: &DeploymentContext, plan: &Plan, state: &RolloutState, ready: bool) -> Result<Output> {
    ensure_active(deps.lifecycle.as_ref(), &ctx.deployment_id).await?;
    let now = now_epoch();
    // Keep a reserve for the rollback path (its retries included) inside the controller's
    // hook timeout (CodeDeploy's hour, ECS's 24 hours), however large the plan's budget.
    let hook_timeout = hookline::lifecycle::controller_of(&ctx.deployment_id).max_hook_budget_seconds();
    let budget = plan.hook_budget_seconds.min(hook_timeout.saturating_sub(ROLLBACK_RESERVE_SECONDS));
    let budget_end = state.started_at + i64::try_from(budget).unwrap_or(i64::MAX / 2);
    if now >= budget_end {
        return Err(Error::HealthCheckFailed(format!("hook budget of {} spent", human(budget))));
    }
    let verdict = hookline::health::gate::check(deps.health.as_ref(), ctx, &plan.health).await?;
    let interval = plan.health.interval_seconds;
    if !verdict.healthy() {
        let ready_end = state.started_at + i64::try_from(plan.health.ready_timeout_seconds).unwrap_or(0);
        if ready && now < ready_end {
            warn!(failures = %verdict.failures(), "green not healthy yet; checking again");
            return Ok(check_again(now, interval, verdict.checks));
        }
        warn!(failures = %verdict.failures(), "health gate failed");
        // A gate past ECS's first step runs the ready gate with no ready timeout (one check, as a
        // bake's): nothing was waited for.
        let prefix = if ready && plan.health.ready_timeout_seconds > 0 {
            format!("green not healthy within {}: ", human(plan.health.ready_timeout_seconds))
        } else {
            String::new()
        };
        return Err(Error::HealthCheckFailed(format!("{prefix}{}", verdict.failures())));
    }
    // Gate mode past ECS's first step (docs/design.md, ECS gate mode): with an analysis, the step is
    // judged over its window once that window holds what the judge needs, health re-checked every
    // interval until then (a bake of its own); a failed judgement fails the gate.
    let gate_window = plan.gate.as_ref().and_then(|g| g.step_started_at).filter(|_| ready && state.weight > 0);
    if let (Some(analysis), Some(step_start)) = (&plan.analysis, gate_window) {
        let judge_at = step_start + i64::try_from(analysis.needed_bake_seconds()).unwrap_or(i64::MAX / 2);
        if now < judge_at {
            let wait = u64::try_from(judge_at - now).unwrap_or(1).clamp(1, interval.max(1));
            info!(wait_seconds = wait, "gate: healthy; waiting for the step's window to fill before judging it");
            return Ok(check_again(now, wait, verdict.checks));
        }
        let window = analysis.window(step_start, now);
        let (judgement, _) = judge(deps, ctx, plan, state, window, budget_end - now).await?;
        let judgements = judgement
            .as_ref()
            .map(|j| serde_json::to_value(j).map_err(|e| Error::invalid("judgement", e.to_string())))
            .transpose()?
            .map(|j| vec![j]);
        return Ok(Output::Health {
            healthy: true,
            done: true,
            wait_seconds: 0,
            checked_at: now,
            checks: verdict.checks,
            judgement,
            approval: None,
            judgements,
            observed: None,
        });
    }
    let (mut done, mut wait_seconds) = if ready { (true, 0) } else { bake_progress(now, state.bake_until, interval) };
    // Route 53 records: the weights are not the split (resolvers cache for the TTL). Each bake
    // check reads the observed share; with `dns.min_observed_percent` a bake whose time is up
    // does not end before green's share reached that percent of the set weight (the hook budget
    // above still bounds it).
    let observed =
        if ready { None } else { metrics::observed_split(deps.metrics.as_ref(), ctx, now, state.weight).await? };
    if let (Some(split), Some(min)) = (&observed, plan.dns.as_ref().and_then(|d| d.min_observed_percent)) {
        if done && !split.reaches(min) {
            info!(
                observed = ?split.green_percent,
                set_weight = split.set_weight,
                min_observed_percent = min,
                "bake time is up but green's observed share has not reached the plan's minimum yet"
            );
            (done, wait_seconds) = (false, interval.max(1));
        }
    }
    info!(done, wait_seconds, checks = verdict.checks.len(), observed = ?observed.as_ref().and_then(|o| o.green_percent), "healthy");
    let (judgement, approval) = match (done && !ready).then(|| metrics::bake_window(plan, state)).flatten() {
        Some(window) => judge(deps, ctx, plan, state, window, budget_end - now).await?,
        None => (None, None),
    };
    // A finished bake hands the state's judgements on, this step's appended (the canary machine
    // keeps them in `$.state.judgements`, so the execution's output holds every judgement).
    let judgements = if done && !ready {
        let mut all = state.judgements.clone();
        if let Some(step) = &judgement {
            all.push(serde_json::to_value(step).map_err(|e| Error::invalid("judgement", e.to_string()))?);
        }
        Some(all)
    } else {
        None
    };
    Ok(Output::Health {
        healthy: true,
        done,
        wait_seconds,
        checked_at: now,
        checks: verdict.checks,
        judgement,
        approval,
        judgements,
        observed,
    })
}

/// The shortest approval worth asking for: less hook budget than this left rolls back instead.
pub const MIN_APPROVAL_SECONDS: i64 = 60;

/// Judges the bake `window` of the current weight step. A failed judgement (or a marginal / no-data
/// one the plan rolls back) is `HealthCheckFailed`; an approval is the approval step the canary
/// machine runs next, timing out (and rolling back) when the hook budget would run out.
async fn judge(
    deps: &Deps,
    ctx: &DeploymentContext,
    plan: &Plan,
    state: &RolloutState,
    window: [i64; 2],
    budget_left: i64,
) -> Result<(Option<Box<StepJudgement>>, Option<Step>)> {
    let Some(analysis) = &plan.analysis else { return Ok((None, None)) };
    let judgement = metrics::judge_window(deps.metrics.as_ref(), analysis, ctx, window[0], window[1]).await?;
    let (mut action, mut note) = metrics::action(judgement.outcome, analysis);
    if action == Action::Approval && budget_left < MIN_APPROVAL_SECONDS {
        action = Action::Rollback;
        note = Some(format!(
            "{}; but only {budget_left}s of the hook budget are left for an approval, so rolled back",
            note.unwrap_or_default()
        ));
    }
    let step = StepJudgement { step: state.index, weight: state.weight, window, judgement, action, note };
    info!(
        outcome = ?step.judgement.outcome,
        score = ?step.judgement.score,
        action = ?step.action,
        reason = %step.judgement.reason,
        "canary judged"
    );
    match step.action {
        Action::Continue => Ok((Some(Box::new(step)), None)),
        Action::Approval => {
            let timeout_seconds = u64::try_from(budget_left).unwrap_or(0);
            let approval = Step::Approval { timeout_seconds, on_timeout: OnTimeout::Rollback };
            Ok((Some(Box::new(step)), Some(approval)))
        }
        Action::Rollback => {
            let note = step.note.as_deref().map(|n| format!(" ({n})")).unwrap_or_default();
            warn!(reason = %step.judgement.reason, "canary judgement failed");
            Err(Error::HealthCheckFailed(format!(
                "canary judgement at {}% failed: {}{note}",
                step.weight, step.judgement.reason
            )))
        }
    }
}

#[cfg(test)]
mod tests;
