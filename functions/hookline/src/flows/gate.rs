//! Gate mode's hook (docs/design.md, "ECS gate mode"): ECS shifts production itself in LINEAR or
//! CANARY steps and invokes the PRE_PRODUCTION_TRAFFIC_SHIFT hook before each one; hookline judges
//! the step just baked and never writes the production rule.
//!
//! One gate is one execution of hookline's canary state machine, so gate mode reuses its ready gate,
//! approvals (task tokens: `hookline approve` / `reject`, the dashboard), finalize and rollback:
//! - its name is `<id>-Gate<weight>` ([`gate_execution_name`]), the weight being the production
//!   rule's green share when ECS invoked the hook, read from the rule (ECS writes it; it does not
//!   move while the hook answers IN_PROGRESS). Every invocation of the same hook finds the same
//!   execution; the next step's hook, at a higher weight, starts the next one;
//! - its plan is [`Plan::at_gate`]: no weight step, the approvals asked at that weight. At weight 0
//!   the ready gate waits for green behind the test listener; past it, the ready gate runs the
//!   plan's health gates once (no ready timeout) and fails at the first unhealthy verdict;
//! - its `plan.gate` tells the rollback function not to restore traffic: ECS's rollback undoes its
//!   own shifts, and hookline wrote none.
//!
//! The `hook` function's ECS entry maps what this returns onto ECS's answer: running IN_PROGRESS,
//! succeeded SUCCEEDED, ended otherwise FAILED (ECS then rolls back).

use tracing::info;

use crate::contract::plan_parameter;
use crate::execution::{
    execution_arn, gate_execution_name, now_epoch, ExecutionDocument, HookEvent, HookRef, RolloutState,
};
use crate::flows::hook_start::{fits_before_expiry, HookDeps};
use crate::lifecycle::Admission;
use crate::plan::{Controller, Plan, PlanErrors};
use crate::ports::{RunStatus, StartOutcome};
use crate::{Error, Result};

/// What a gate hook's invocation came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GateStart {
    /// The gate's execution, started now (or by a racing invocation) or found.
    Execution(GateExecution),
    /// Not a gate: answered SUCCEEDED at once, nothing started; why.
    PassedThrough(String),
    /// hookline will not judge this deployment (no plan, a plan the service's steps cannot express,
    /// ...): answered FAILED, nothing started. hookline has moved nothing, and ECS's rollback undoes
    /// its own shifts. Why, naming the field.
    Refused(String),
}

/// The execution judging one gate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateExecution {
    pub execution_arn: String,
    pub status: RunStatus,
    /// The production weight (green percent) the gate judges.
    pub weight: u8,
    /// Started by this invocation.
    pub started_now: bool,
    /// The plan's health interval, seconds, when this invocation read the plan.
    pub health_interval_seconds: Option<u64>,
    /// Why it failed, when it ended without success and Step Functions says.
    pub cause: Option<String>,
}

/// Finds or starts the gate execution of the PRE_PRODUCTION_TRAFFIC_SHIFT hook of `deployment_id`.
pub async fn gate_hook(deps: &HookDeps, deployment_id: &str, execution_id: &str) -> Result<GateStart> {
    let steps = match deps.lifecycle.admission(deployment_id).await? {
        Admission::Gate(steps) => steps,
        Admission::Serve => {
            return Ok(GateStart::PassedThrough(
                "BLUE_GREEN: hookline's canary runs at POST_TEST_TRAFFIC_SHIFT and has moved production already".into(),
            ))
        }
        Admission::Strategy(strategy) => {
            return Ok(GateStart::PassedThrough(format!(
                "strategy {strategy}: ECS does not shift production in steps, so there is no step to judge"
            )))
        }
        passed @ (Admission::Creation | Admission::Rollback { .. }) => {
            return Ok(GateStart::PassedThrough(passed.pass_through().unwrap_or_default()))
        }
    };
    let resolved = deps.lifecycle.resolve(deployment_id, None).await?;
    let mut context = resolved.context;
    // Read only: the rule is ECS's in gate mode.
    let weight = deps.routers.router(&context).weights().await?.green;
    let machine = deps.state_machines.canary.as_str();
    if machine.is_empty() {
        return Err(Error::invalid("environment", "the canary state machine ARN"));
    }
    let name = gate_execution_name(deployment_id, weight);
    let arn = execution_arn(machine, &name);
    if let Some(found) = deps.executions.describe(&arn).await? {
        return Ok(GateStart::Execution(GateExecution {
            execution_arn: found.execution_arn,
            status: found.status,
            weight,
            started_now: false,
            health_interval_seconds: None,
            cause: found.cause.or(found.error),
        }));
    }

    let parameter = plan_parameter(&deps.plan_parameter_prefix, &context.application, &context.deployment_group);
    let Some(text) = deps.plans.plan_text(&parameter).await? else {
        return Ok(GateStart::Refused(format!(
            "no plan: the SSM parameter {parameter} holding the plan was not found"
        )));
    };
    let plan = match Plan::parse_for(&text, Controller::Ecs) {
        Ok(plan) => plan,
        Err(problems) => return Ok(GateStart::Refused(format!("plan {parameter}: {problems}"))),
    };
    let problems = plan.problems_on(&steps);
    if !problems.is_empty() {
        return Ok(GateStart::Refused(format!(
            "plan {parameter} does not fit the service deployment's steps: {}",
            PlanErrors(problems)
        )));
    }
    if let Some(expires_at) = resolved.hook_expires_at {
        if let Err(err) = fits_before_expiry(&plan, expires_at) {
            return Ok(GateStart::Refused(err.to_string()));
        }
    }
    context.hook =
        Some(HookRef { kind: Controller::Ecs, event: HookEvent::PreTraffic, execution_id: execution_id.to_string() });
    let mut gate_plan = plan.at_gate(weight);
    if gate_plan.analysis.is_some() && weight > 0 {
        // The judge's window starts when ECS took this step: right after the previous gate answered
        // SUCCEEDED, so at that execution's end (a few seconds early at most: ECS shifts at its
        // next invocation of the hook, within the callBackDelay).
        let previous = steps.gate_weights().into_iter().filter(|w| *w < weight).max();
        let ended = match previous {
            Some(w) => {
                deps.executions.describe(&execution_arn(machine, &gate_execution_name(deployment_id, w))).await?
            }
            None => None,
        };
        let started = ended.and_then(|e| e.stopped_at);
        if started.is_none() {
            info!(weight, "no previous gate's end to start the judge's window from; this step is not judged");
        }
        if let Some(gate) = gate_plan.gate.as_mut() {
            gate.step_started_at = started;
        }
    }
    let health_interval_seconds = gate_plan.health.interval_seconds;
    let state = RolloutState { index: 0, weight, started_at: now_epoch(), bake_until: None, judgements: Vec::new() };
    let doc = ExecutionDocument { context, plan: gate_plan, state };
    let input = serde_json::to_string(&doc).map_err(|e| Error::invalid("execution input", e.to_string()))?;
    let (execution_arn, started_now) = match deps.executions.start(machine, &name, &input).await? {
        StartOutcome::Started(arn) => (arn, true),
        StartOutcome::AlreadyExists(arn) => (arn, false),
    };
    info!(execution_arn = %execution_arn, weight, started_now, "gate execution");
    Ok(GateStart::Execution(GateExecution {
        execution_arn,
        status: RunStatus::Running,
        weight,
        started_now,
        health_interval_seconds: Some(health_interval_seconds),
        cause: None,
    }))
}

#[cfg(test)]
mod tests;
