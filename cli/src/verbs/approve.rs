//! `hookline approve` / `hookline reject`: answer the waiting approval's task token (through the
//! [`Executions`] port).

use hookline::execution::HookEvent;
use hookline::ports::{Executions, Lifecycle};
use serde_json::json;

use crate::address::DeploymentArg;
use crate::aws::{Aws, Execution};
use crate::error::{fail, R};
use crate::execution_history::{run_word, Tracker};
use crate::output::emit;

/// `hookline approve`'s arguments.
#[derive(Debug, clap::Args)]
pub struct ApproveArgs {
    #[command(flatten)]
    pub deployment: DeploymentArg,
}

/// `hookline reject`'s arguments.
#[derive(Debug, clap::Args)]
pub struct RejectArgs {
    #[command(flatten)]
    pub deployment: DeploymentArg,
    /// Why (recorded in the execution history).
    #[arg(long)]
    pub reason: Option<String>,
}

/// `hookline approve`.
pub async fn run_approve(aws: &Aws, args: &ApproveArgs) -> R<u8> {
    let deployment_id = aws.deployment_id_of(&args.deployment.address()?).await?;
    emit(&decide(aws, &deployment_id, true, None).await?);
    Ok(0)
}

/// `hookline reject`.
pub async fn run_reject(aws: &Aws, args: &RejectArgs) -> R<u8> {
    let deployment_id = aws.deployment_id_of(&args.deployment.address()?).await?;
    emit(&decide(aws, &deployment_id, false, args.reason.as_deref()).await?);
    Ok(0)
}

/// Approve (`reason` = None) or reject the approval the deployment's canary execution waits on; when
/// none waits, the controller's own pause (an ECS `PAUSE` hook awaiting action), answered with
/// ContinueServiceDeployment CONTINUE / ROLLBACK.
pub async fn decide(aws: &Aws, deployment_id: &str, approve: bool, reason: Option<&str>) -> R<String> {
    match decide_approval(aws, deployment_id, approve, reason).await {
        Ok(done) => Ok(done),
        Err(nothing_waits) => {
            let lifecycle = aws.clients.lifecycle();
            let Some(pause) = lifecycle.paused(deployment_id).await? else { return Err(nothing_waits) };
            let who = aws.caller().await;
            lifecycle.answer_pause(deployment_id, &pause.hook_id, approve).await?;
            let at = pause.stage.as_deref().map(|s| format!(" at {s}")).unwrap_or_default();
            Ok(if approve {
                format!(
                    "continued pause hook {}{at} of {deployment_id} as {who} (ContinueServiceDeployment CONTINUE)",
                    pause.hook_id
                )
            } else {
                format!(
                    "rolled back pause hook {}{at} of {deployment_id} as {who}: {} (ContinueServiceDeployment \
                     ROLLBACK: ECS rolls the deployment back)",
                    pause.hook_id,
                    reason.unwrap_or("rejected with hookline reject")
                )
            })
        }
    }
}

/// The approval a hookline execution waits on, answered; an error saying nothing waits otherwise.
async fn decide_approval(aws: &Aws, deployment_id: &str, approve: bool, reason: Option<&str>) -> R<String> {
    let canary = aws.state_machine_name("canary");
    aws.require_state_machine("canary").await?;
    let canary_exec = aws.execution(deployment_id, HookEvent::PreTraffic).await?;
    // Gate mode (ECS LINEAR / CANARY): the running gate execution of the step ECS waits on.
    let exec = match canary_exec {
        Some(exec) if exec.status.is_running() => Some(exec),
        other => gate_execution(aws, deployment_id).await?.or(other),
    };
    let exec = exec.ok_or_else(|| {
        let name = hookline::contract::execution_name(deployment_id, HookEvent::PreTraffic);
        fail(format!(
            "nothing is waiting for approval: no execution {name} of state machine {canary} \
             (the canary's hook has not started it, or the deployment id is wrong)"
        ))
    })?;
    if !exec.status.is_running() {
        return Err(fail(format!(
            "nothing is waiting for approval: execution {} is {}, not RUNNING",
            exec.name,
            run_word(&exec.status)
        )));
    }
    let tracker = Tracker::over(&exec.events);
    let pending = tracker.pending.clone().ok_or_else(|| {
        fail(format!(
            "nothing is waiting for approval: execution {} is running{}, but no approval step is waiting \
             (hookline status {deployment_id} shows where it stands)",
            exec.name,
            tracker.last_state.as_deref().map(|s| format!(" (state {s})")).unwrap_or_default()
        ))
    })?;
    let who = aws.caller().await;
    let step = pending.step_index.map(|i| {
        let of = tracker.step_count().map(|n| format!("/{n}")).unwrap_or_default();
        format!("step {}{of}", i + 1)
    });
    let step = step.unwrap_or_else(|| "the approval step".into());
    if approve {
        let output = json!({ "approved_by": who }).to_string();
        aws.clients.executions().send_task_success(&pending.task_token, &output).await?;
        Ok(format!("approved {step} of {deployment_id} as {who}"))
    } else {
        let reason = reason.unwrap_or("rejected with hookline reject");
        let cause = rejection_cause(reason, &who);
        aws.clients.executions().send_task_failure(&pending.task_token, "ApprovalRejected", &cause).await?;
        Ok(format!("rejected {step} of {deployment_id} as {who}: {reason} (the canary rolls back to blue)"))
    }
}

/// The deployment's running gate execution (`<id>-Gate<weight>` on the canary machine, gate mode:
/// docs/design.md "ECS gate mode"), with its history; `None` when none runs. ECS waits on one step's
/// hook at a time, so at most one runs; were there more, the highest weight's is ECS's current step.
async fn gate_execution(aws: &Aws, deployment_id: &str) -> R<Option<Execution>> {
    let Some(canary) = aws.state_machine_arn("canary").await? else { return Ok(None) };
    let prefix = format!("{}Gate", hookline::contract::execution_name_prefix(deployment_id));
    let running = aws.clients.executions().list_running(&canary, &prefix).await?;
    let weight_of = |arn: &str| arn.rsplit_once("Gate").and_then(|(_, w)| w.parse::<u8>().ok()).unwrap_or(0);
    let Some(arn) = running.into_iter().max_by_key(|arn| weight_of(arn)) else { return Ok(None) };
    let name = arn.rsplit(':').next().unwrap_or(&arn).to_string();
    crate::aws::read_execution(&aws.clients.executions(), name, arn).await
}

/// The `SendTaskFailure` cause: the reason, and who rejected (history reads it back).
pub fn rejection_cause(reason: &str, who: &str) -> String {
    format!("{reason} (rejected by {who})")
}
