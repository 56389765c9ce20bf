//! The one way back. From a state machine's Catch it restores production to
//! blue 100%, removes cohort rules and reports the hook `Failed`, in that
//! order, and is safe to run again. From the console (`{"deployment_id"}`)
//! it first stops the deployment's running executions, then does the same,
//! and stops the deployment with CodeDeploy's rollback.
//!
//! A third form is the safety net for the paths no state machine can catch
//! (an execution stopped by hand, a `States.Runtime` error, a timeout): an
//! EventBridge "Step Functions Execution Status Change" event for a canary or
//! post-traffic execution that ended without rolling back itself. While the
//! deployment still waits for that hook, it gets the same restore-and-report.
//!
//! A fourth form consumes the hook function's dead-letter queue (an SQS event
//! from an event source mapping): a hook whose every invocation failed is
//! answered `Failed` instead of waiting out CodeDeploy's hour (see
//! [`dead_letter`]).

use hookline::contract::{RollbackInput, ROLLBACK_RETRIES};
use hookline::execution::ExecutionDocument;
use hookline::lifecycle::{DeploymentStatus, HookStatus};
use hookline::runtime::parse_event;
use hookline::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tracing::{info, info_span, Instrument};

mod dead_letter;
mod deps;
mod restore;

#[cfg(test)]
use dead_letter::BatchItemFailure;
pub use dead_letter::BatchResponse;
pub use deps::Deps;
pub use restore::Output;
use restore::{finish_without_waiting, from_execution, gate_failed, ReportWhen};

/// What the function answers: a rollback's outcome, or the SQS form's partial batch response.
#[derive(Debug, Serialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum Response {
    Rollback(Output),
    Batch(BatchResponse),
}

/// Every form: the dead-letter queue's SQS events, and the rollbacks of [`handle`].
pub async fn dispatch(deps: &Deps, event: Value) -> Result<Response> {
    if dead_letter::is_sqs_event(&event) {
        return dead_letter::consume(deps, event).await.map(Response::Batch);
    }
    handle(deps, event).await.map(Response::Rollback)
}

/// The console form: `{"deployment_id", "reason"}`.
pub use hookline::contract::RollbackConsoleInput as ConsoleInput;

/// The part of an EventBridge Step Functions status-change event we read.
#[derive(Debug, Deserialize)]
pub struct StatusChange {
    pub detail: StatusChangeDetail,
}

/// `detail` of a "Step Functions Execution Status Change" event.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusChangeDetail {
    pub execution_arn: String,
    pub status: String,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub cause: Option<String>,
    /// The execution's input: the execution document, as JSON text.
    #[serde(default)]
    pub input: Option<String>,
}

const STATUS_CHANGE: &str = "Step Functions Execution Status Change";

/// Rolls back from a state machine (execution document + `error`), from the
/// console, or from an execution that ended without answering its hook.
pub async fn handle(deps: &Deps, event: Value) -> Result<Output> {
    if event.get("detail-type").and_then(Value::as_str) == Some(STATUS_CHANGE) {
        let change: StatusChange = parse_event(event)?;
        return from_status_change(deps, change.detail).await;
    }
    if event.get("context").is_some() {
        let input: RollbackInput = parse_event(event)?;
        // While Step Functions will still retry, a failed restore is not reported yet.
        let report = match input.attempt {
            Some(attempt) if attempt < ROLLBACK_RETRIES => ReportWhen::Restored,
            _ => ReportWhen::Always,
        };
        let span = info_span!("rollback", deployment_id = %input.context.deployment_id, attempt = ?input.attempt);
        if input.plan.is_gate() {
            return gate_failed(deps, &input.context, &input.error).instrument(span).await;
        }
        from_execution(deps, &input.context, &input.error, report).instrument(span).await
    } else {
        let input: ConsoleInput = parse_event(event)?;
        if input.deployment_id.is_empty() {
            return Err(Error::invalid("deployment_id", "a CodeDeploy deployment id like d-ABCDEF123"));
        }
        let span = info_span!("rollback", deployment_id = %input.deployment_id);
        from_console(deps, &input).instrument(span).await
    }
}

async fn from_status_change(deps: &Deps, detail: StatusChangeDetail) -> Result<Output> {
    let ended_badly = matches!(detail.status.as_str(), "FAILED" | "ABORTED" | "TIMED_OUT");
    // `RolledBack` is the state machines' own end after the rollback function ran.
    if !ended_badly || detail.error.as_deref() == Some(hookline::contract::state::ROLLED_BACK) {
        info!(execution = %detail.execution_arn, status = %detail.status, "execution ended on a path that answered its hook");
        return Ok(Output::default());
    }
    let text = detail.input.as_deref().ok_or_else(|| Error::invalid("detail.input", "the execution's input"))?;
    let doc: ExecutionDocument = serde_json::from_str::<Value>(text)
        .map_err(|e| Error::invalid("detail.input", format!("the execution document as JSON ({e})")))
        .and_then(parse_event)?;
    let gate = doc.plan.is_gate();
    let ctx = doc.context;
    async {
        // Once the deployment has ended nobody waits for the hook, and traffic
        // is CodeDeploy's again (maybe a newer deployment's): touch nothing.
        let status = deps.lifecycle.status(&ctx.deployment_id).await?;
        if !status.is_active() {
            info!(status = %status, "deployment already ended; nothing to answer");
            let mut out = Output { deployment_status: Some(status.to_string()), ..Output::default() };
            // hookline's own release stopped or timed out during its drain (the canary machine's
            // WaitForResolvers): green's scale-down is still to do, and nothing else will do it.
            if status != DeploymentStatus::Succeeded {
                finish_without_waiting(deps, &ctx, &mut out).await?;
            }
            return Ok(out);
        }
        let error =
            serde_json::json!({"Error": detail.error, "Cause": detail.cause, "Execution": detail.execution_arn});
        if gate {
            return gate_failed(deps, &ctx, &error).await;
        }
        // No retry of ours follows this invocation's error: report whatever happens.
        let mut out = from_execution(deps, &ctx, &error, ReportWhen::Always).await?;
        finish_without_waiting(deps, &ctx, &mut out).await?;
        Ok(out)
    }
    .instrument(info_span!("rollback", deployment_id = %ctx.deployment_id, safety_net = true))
    .await
}

async fn from_console(deps: &Deps, input: &ConsoleInput) -> Result<Output> {
    let reason = input.reason.clone().unwrap_or_else(|| "rolled back by an operator".into());
    let done = hookline::rollback::console(
        deps.reach(),
        &deps.state_machine_arns,
        &input.deployment_id,
        &reason,
        &deps.plan_parameter_prefix,
    )
    .await?;
    Ok(Output {
        restored: done.restored,
        reported: done.reported.then_some(HookStatus::Failed),
        already_reported: done.already_reported,
        stopped_executions: done.stopped_executions,
        deployment_status: Some(done.deployment_status),
        // The rollback state machine waits it out and invokes this form again.
        drain_seconds: done.drain_seconds,
    })
}

#[cfg(test)]
mod tests;
