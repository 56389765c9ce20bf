//! Runs the health gate. The `ready` gate waits (up to the plan's ready
//! timeout) for green to become healthy behind the test listener; the `bake`
//! gate fails at the first unhealthy verdict. Both stop at once when the
//! deployment is no longer in progress or the hook budget is spent, so the
//! hook is always answered before CodeDeploy's deadline.

use std::sync::Arc;

use hookline::contract::{DeploymentGateInput, Gate, HealthGateInput};
use hookline::execution::{now_epoch, DeploymentContext, RolloutState};
use hookline::health::{bake_progress, HealthFacts};
use hookline::lifecycle::{ensure_active, Lifecycle};
use hookline::plan::{human, Plan, MAX_HOOK_BUDGET_SECONDS};
use hookline::runtime::parse_event;
use hookline::{Clients, Error, Result};
use serde::Deserialize;
use serde_json::Value;
use tracing::{info, info_span, warn, Instrument};

/// Time kept back from the hook's hour for rolling back and reporting.
pub const ROLLBACK_RESERVE_SECONDS: u64 = 300;

/// What validate-health needs: the deployment controller and where health facts come from, built once in `main`.
pub struct Deps {
    pub lifecycle: Arc<dyn Lifecycle>,
    pub health: Arc<dyn HealthFacts>,
}

impl Deps {
    /// The AWS adapters.
    pub fn new(clients: &Clients) -> Deps {
        Deps { lifecycle: Arc::new(clients.lifecycle()), health: Arc::new(clients.health_gate()) }
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

async fn gate(deps: &Deps, ctx: &DeploymentContext, plan: &Plan, state: &RolloutState, ready: bool) -> Result<Output> {
    ensure_active(deps.lifecycle.as_ref(), &ctx.deployment_id).await?;
    let now = now_epoch();
    // Keep a reserve for the rollback path (its retries included) inside
    // CodeDeploy's hour, however large the plan's budget.
    let budget = plan.hook_budget_seconds.min(MAX_HOOK_BUDGET_SECONDS - ROLLBACK_RESERVE_SECONDS);
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
            return Ok(Output::Health {
                healthy: false,
                done: false,
                wait_seconds: interval,
                checked_at: now,
                checks: verdict.checks,
            });
        }
        warn!(failures = %verdict.failures(), "health gate failed");
        let prefix = if ready {
            format!("green not healthy within {}: ", human(plan.health.ready_timeout_seconds))
        } else {
            String::new()
        };
        return Err(Error::HealthCheckFailed(format!("{prefix}{}", verdict.failures())));
    }
    let (done, wait_seconds) = if ready { (true, 0) } else { bake_progress(now, state.bake_until, interval) };
    info!(done, wait_seconds, checks = verdict.checks.len(), "healthy");
    Ok(Output::Health { healthy: true, done, wait_seconds, checked_at: now, checks: verdict.checks })
}

#[cfg(test)]
mod tests;
