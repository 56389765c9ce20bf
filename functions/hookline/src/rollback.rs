//! The operator's rollback (the console form of the `rollback` function, and
//! `hookline rollback`): one implementation, so a rollback does the same
//! thing whether Step Functions or a terminal asked for it, and works even
//! when Step Functions itself is impaired.
//!
//! Order: stop the deployment's running executions (so none of them moves
//! traffic after we restore it), stop the deployment with CodeDeploy's
//! rollback (so it ends `Stopped`, as a console stop does, rather than
//! `Failed` by a hook report), restore production to blue 100% with no
//! cohort rules, and answer the stopped executions' hooks `Failed` (once the
//! deployment has ended that counts as already done). A deployment that has
//! already `Succeeded` (before the call, or in a race with the stop) is left
//! alone: green is production then, and blue's tasks are going away.

use tracing::{info, warn};

use crate::execution::{DeploymentContext, ExecutionDocument};
use crate::lifecycle::{DeploymentStatus, HookStatus, Reported, Stop};
use crate::plan::Plan;
use crate::ports::{Executions, Lifecycle, PlanStore, RouterFactory, StopOutcome};
use crate::{Error, Result};

/// What a rollback reaches, through the ports: the deployment controller, the production routes,
/// the executions and the plans. Borrowed: the `rollback` function and the CLI each build theirs
/// once.
#[derive(Clone, Copy)]
pub struct Reach<'a> {
    pub lifecycle: &'a dyn Lifecycle,
    pub routers: &'a dyn RouterFactory,
    pub executions: &'a dyn Executions,
    pub plans: &'a dyn PlanStore,
}

/// What a console rollback did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConsoleOutcome {
    /// Production is on blue 100%, cohort rules removed (false: the deployment had `Succeeded`).
    pub restored: bool,
    /// Executions this call stopped.
    pub stopped_executions: Vec<String>,
    /// Hooks of those executions reported `Failed` (now or earlier).
    pub reported: bool,
    /// At least one hook had already been answered.
    pub already_reported: bool,
    /// `Stopped` when this call stopped the deployment; its status when it had already ended.
    pub deployment_status: String,
    /// Seconds before the end's work can be finished ([`Lifecycle::drain_seconds`]: hookline's own
    /// Route 53 release keeps green's tasks while resolvers may still answer green). The caller
    /// waits that long and rolls back again (the CLI, the rollback state machine's `Wait`).
    pub drain_seconds: Option<u64>,
}

/// Reports `Failed`. When the deployment has already ended nobody waits for the
/// hook any more, so an error then counts as done; what the recorded end still owes is
/// finished after it ([`Lifecycle::finish_end`]): with hookline's own controller, the report
/// itself records the end and then fails on green's scale-down, and the deployment then reads
/// as ended by that very record (found by the fault matrix's `dns-Rollback-denied` cell).
pub async fn report_failed(lifecycle: &dyn Lifecycle, deployment_id: &str, execution_id: &str) -> Result<Reported> {
    let reported = match lifecycle.report(deployment_id, execution_id, HookStatus::Failed).await {
        Ok(r) => r,
        Err(e @ (Error::Throttled { .. } | Error::AwsTransient { .. })) => return Err(e),
        Err(e) => {
            let status = lifecycle.status(deployment_id).await?;
            if status.is_active() {
                return Err(e);
            }
            info!(status = %status, error = %e, "deployment already ended; the hook needs no answer");
            Reported::Already
        }
    };
    if lifecycle.finish_end(deployment_id).await? {
        info!("the recorded end's remaining work done");
    }
    Ok(reported)
}

/// Rolls a deployment back as an operator asks: stops its running executions of
/// `state_machine_arns` (names `<deployment-id>-...`), restores traffic, reports
/// their hooks `Failed`, stops the deployment with rollback. Safe to repeat.
pub async fn console(
    reach: Reach<'_>,
    state_machine_arns: &[String],
    deployment_id: &str,
    reason: &str,
    plan_parameter_prefix: &str,
) -> Result<ConsoleOutcome> {
    let lifecycle = reach.lifecycle;
    // `<id>-`: an ECS service deployment's executions are named after its ARN's last segment.
    let prefix = crate::contract::execution_name_prefix(deployment_id);

    let mut stopped = Vec::new();
    let mut running_contexts = Vec::new();
    // Gate mode (ECS LINEAR / CANARY): ECS shifted production and its rollback undoes its steps;
    // hookline writes no rule (docs/design.md, ECS gate mode).
    let mut gate_mode = false;
    for sm in state_machine_arns {
        for arn in reach.executions.list_running(sm, &prefix).await? {
            let input = reach.executions.describe(&arn).await?.and_then(|e| e.input);
            if let Some(doc) = input.and_then(|i| serde_json::from_str::<ExecutionDocument>(&i).ok()) {
                gate_mode |= doc.plan.is_gate();
                running_contexts.push(doc.context);
            }
            match reach.executions.stop(&arn, crate::contract::state::ROLLED_BACK, reason).await? {
                StopOutcome::Stopped => stopped.push(arn),
                StopOutcome::NotRunning => {}
            }
        }
    }

    let ctx = match running_contexts.first() {
        Some(c) => c.clone(),
        None => {
            let mut ctx = lifecycle.resolve(deployment_id, None).await?.context;
            // A CodeDeploy deployment's route is its production listener unless the plan names a
            // rule; an ECS-native one is already the service's production listener rule (its plan
            // names none), which must not fall back to the listener's default action. Route 53
            // records (hookline's own controller) are no listener: nothing to look up.
            if ctx.production.is_alb() && ctx.production.rule_arn().is_none() {
                let rule = production_rule(reach.plans, &ctx, plan_parameter_prefix).await?;
                ctx.set_production_rule(rule);
            } else {
                // Between two gates no execution runs: the stored plan says whether this is gate
                // mode (a plan that cannot be read is not: production is restored, as before).
                let name =
                    crate::contract::plan_parameter(plan_parameter_prefix, &ctx.application, &ctx.deployment_group);
                if let Ok(Some(text)) = reach.plans.plan_text(&name).await {
                    gate_mode |= Plan::parse_for(&text, crate::plan::Controller::Ecs).is_ok_and(|p| p.is_gate());
                }
            }
            ctx
        }
    };
    let status = lifecycle.status(deployment_id).await?;
    let stop = if status.is_active() { Some(lifecycle.stop_with_rollback(deployment_id).await) } else { None };
    let (deployment_status, stop_error) = match stop {
        Some(Ok(Stop::Stopping(message))) => {
            info!(stop = %message, "deployment stopped with rollback");
            (DeploymentStatus::Stopped, None)
        }
        // It ended on its own between our status read and the stop: go by how it ended.
        Some(Ok(Stop::AlreadyEnded)) => (lifecycle.status(deployment_id).await?, None),
        // Traffic and hooks are still put right when the stop was refused; the error is returned after.
        Some(Err(e)) => (status.clone(), Some(e)),
        None => (status.clone(), None),
    };
    let succeeded = deployment_status == DeploymentStatus::Succeeded;
    let mut out = ConsoleOutcome {
        stopped_executions: stopped,
        deployment_status: deployment_status.to_string(),
        ..ConsoleOutcome::default()
    };
    if succeeded {
        // Green is production now and blue's tasks are being terminated:
        // "restoring" blue would send every request to a dying task set.
        warn!("deployment already Succeeded; production stays where it is (deploy the previous revision to go back)");
        return Ok(out);
    }

    if gate_mode {
        info!("gate mode: ECS's rollback puts production back on blue; hookline writes no rule");
    } else {
        reach.routers.router(&ctx).restore().await?;
        out.restored = true;
        info!("production on blue 100%, cohort rules removed");
    }
    // The stopped executions' hooks; with none running, the hook the resolved context names (only
    // hookline's own Route 53 releases name one without an execution: their report scales green
    // down, which must happen however the canary ended).
    let hooks: Vec<&crate::execution::HookRef> = if running_contexts.is_empty() {
        ctx.hook.iter().collect()
    } else {
        running_contexts.iter().filter_map(|c| c.hook.as_ref()).collect()
    };
    for hook in hooks {
        let reported = report_failed(lifecycle, deployment_id, &hook.execution_id).await?;
        out.reported = true;
        out.already_reported |= reported == Reported::Already;
    }
    if out.reported {
        out.drain_seconds = lifecycle.drain_seconds(deployment_id).await?;
    }
    match stop_error {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

/// The plan's production rule (`traffic.production_rule_arn`; `None`: the
/// production listener's default action), read from the plan parameter
/// `<prefix>/<application>/<group>` when no running execution carries the context.
///
/// Every failure is returned, never taken for "default action": restoring the
/// listener's default action for a service whose weights live on a rule would
/// leave that rule split and rewrite a default action that may be another
/// service's. A missing parameter is `InvalidInput` naming it: without the plan
/// nothing says where production lives, and a hook that found no plan reported
/// `Failed` before moving any traffic, so there is nothing hookline could restore.
pub async fn production_rule(plans: &dyn PlanStore, ctx: &DeploymentContext, prefix: &str) -> Result<Option<String>> {
    let name = crate::contract::plan_parameter(prefix, &ctx.application, &ctx.deployment_group);
    let text = plans.plan_text(&name).await?.ok_or_else(|| {
        Error::invalid(
            "plan",
            format!(
                "an SSM parameter {name} holding the deployment's plan (not found): without it hookline \
                 cannot tell whether production lives on the listener's default action or on a rule"
            ),
        )
    })?;
    Ok(Plan::production_rule_of(&text)?)
}

#[cfg(test)]
mod tests;
