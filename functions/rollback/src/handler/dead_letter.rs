//! The hook function's dead-letter queue consumer (SQS form of `rollback`).
//!
//! CodeDeploy invokes `hook` asynchronously. When every attempt fails (a
//! function that crashes, times out, or cannot reach AWS), Lambda sends the
//! event to the function's dead-letter queue, the message body being the
//! original event payload ("Asynchronous invocation", dead-letter queues, AWS
//! Lambda developer guide). Nobody would answer that hook: CodeDeploy would
//! wait its full hour. An SQS event source mapping hands the queue to this
//! consumer, which answers such a hook `Failed` (production restored first),
//! unless something else answers it.
//!
//! For each message `{"DeploymentId", "LifecycleEventHookExecutionId"}`:
//! - the deployment has ended: nobody waits for the hook, and traffic belongs
//!   to CodeDeploy again (maybe a newer deployment's): nothing;
//! - an execution answering this hook execution id exists (running or ended):
//!   it answers the hook itself (finalize, its Catch's rollback, or the
//!   EventBridge safety net): nothing;
//! - the deployment is CodeDeploy's own rollback of another (`creator:
//!   codeDeployRollback`, or `rollbackInfo.rollbackTriggeringDeploymentId` set):
//!   `hook` answers its hooks `Succeeded` without a canary, so the consumer does
//!   the same, touching no traffic (CodeDeploy reroutes it; a `Failed` would fail
//!   the rollback itself; see `hook`'s `passed_through`);
//! - no lifecycle event is in progress: no hook waits: nothing;
//! - the event in progress is one hookline serves and already has its
//!   execution, for another hook execution id: this id cannot be told apart from
//!   a stale invocation of a hook already answered, and restoring would break the
//!   running execution: nothing (logged as an error; the queue's alarm fired);
//! - the event in progress is one hookline serves, with no execution: this is its
//!   hook, never started: restore production (blue 100%, no cohort rules, on the
//!   plan's production rule if it has one), then report `Failed`;
//! - another event is in progress (the hook function named for an event hookline
//!   does not serve): report `Failed`, as `hook` itself would have; hookline
//!   moved no traffic then.
//!
//! A message that can never succeed (not JSON, no ids) is logged and dropped;
//! one that failed on an AWS error is returned in `batchItemFailures`, so SQS
//! hands it back after the queue's visibility timeout (the event source mapping
//! has `ReportBatchItemFailures`; "Handling errors for an SQS event source in
//! Lambda", AWS Lambda developer guide).

use hookline::flows::hook_executions::hook_executions;
use hookline::lifecycle::{CodeDeploy, HookStatus, Invocation, Reported};
use hookline::{Error, Result};
use serde::Serialize;
use serde_json::Value;
use tracing::{error, info, info_span, warn, Instrument};

use super::deps::Deps;
use super::restore::{from_execution, report_failed, ReportWhen};

/// An event source mapping's SQS event: it has `Records`, every other form of `rollback` does not.
pub fn is_sqs_event(event: &Value) -> bool {
    event.get("Records").is_some()
}

/// The partial batch response (`ReportBatchItemFailures`): the messages to hand back.
#[derive(Debug, Serialize, PartialEq, Eq, Default)]
pub struct BatchResponse {
    #[serde(rename = "batchItemFailures")]
    pub batch_item_failures: Vec<BatchItemFailure>,
}

/// One message to hand back, by its `messageId`.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct BatchItemFailure {
    #[serde(rename = "itemIdentifier")]
    pub item_identifier: String,
}

/// What one dead-lettered hook event came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handled {
    /// Nothing to do, and why.
    Left(String),
    /// The hook was reported `Failed` (or had been answered already), after restoring production if `restored`.
    ReportedFailed { restored: bool, already_reported: bool },
    /// The deployment is passed through (the controller's own rollback, and why): the hook was
    /// reported `Succeeded` (or had been answered already), no traffic touched.
    ReportedSucceeded { reason: String, already_reported: bool },
}

/// Handles a batch of dead-lettered hook events; never fails as a whole for one bad message.
pub async fn consume(deps: &Deps, event: Value) -> Result<BatchResponse> {
    let records = match event.get("Records") {
        Some(Value::Array(records)) => records,
        _ => return Err(Error::invalid("Records", "an array of SQS messages")),
    };
    let mut out = BatchResponse::default();
    for (index, record) in records.iter().enumerate() {
        // A failure naming no valid messageId would fail the whole batch: drop such a record instead.
        let Some(message_id) = record.get("messageId").and_then(Value::as_str).filter(|id| !id.is_empty()) else {
            error!(index, "SQS record without a messageId: dropped (it cannot be handed back)");
            continue;
        };
        let span = info_span!("dead-letter", message_id);
        match handle_record(deps, record).instrument(span.clone()).await {
            Ok(handled) => span.in_scope(|| info!(?handled, "dead-lettered hook event handled")),
            Err(e @ Error::InvalidInput { .. }) => span.in_scope(|| {
                error!(error = %e, "dead-lettered message can never be handled: dropped");
            }),
            Err(e) => {
                span.in_scope(|| warn!(error = %e, error_type = e.error_type(), "handing the message back to retry"));
                out.batch_item_failures.push(BatchItemFailure { item_identifier: message_id.to_string() });
            }
        }
    }
    Ok(out)
}

async fn handle_record(deps: &Deps, record: &Value) -> Result<Handled> {
    let body = record
        .get("body")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::invalid("Records[].body", "the dead-lettered hook event, as JSON text"))?;
    let payload: Value = serde_json::from_str(body)
        .map_err(|e| Error::invalid("Records[].body", format!("the hook event as JSON ({e})")))?;
    let Invocation { deployment_id, execution_id } = CodeDeploy::invocation(payload).map_err(|e| match e {
        Error::InvalidInput { field, expected } => Error::invalid(format!("Records[].body.{field}"), expected),
        other => other,
    })?;
    answer_unserved_hook(deps, &deployment_id, &execution_id)
        .instrument(info_span!("rollback", deployment_id = %deployment_id, dead_letter = true))
        .await
}

async fn answer_unserved_hook(deps: &Deps, deployment_id: &str, execution_id: &str) -> Result<Handled> {
    let lifecycle = deps.lifecycle.as_ref();
    let status = lifecycle.status(deployment_id).await?;
    if !status.is_active() {
        return Ok(Handled::Left(format!("deployment is {status}: nobody waits for the hook")));
    }
    let executions = hook_executions(deps.executions.as_ref(), &deps.hook_state_machines, deployment_id).await?;
    if let Some(own) = executions.iter().find(|e| e.serves(execution_id)) {
        return Ok(Handled::Left(format!("execution {} ({}) answers this hook", own.execution_arn, own.status)));
    }
    // Before resolving anything else, as `hook` does: such a hook is answered even when the rest
    // of the deployment cannot be resolved, and no route is read or restored for it.
    if let Some(reason) = lifecycle.admission(deployment_id).await?.pass_through() {
        let reported = lifecycle.report(deployment_id, execution_id, HookStatus::Succeeded).await?;
        info!(reason = %reason, ?reported, "hook reported Succeeded: nothing restored, no traffic moved");
        return Ok(Handled::ReportedSucceeded { reason, already_reported: reported == Reported::Already });
    }
    let resolved = lifecycle.resolve(deployment_id, Some(execution_id)).await?;
    let Some(in_progress) = resolved.in_progress_event else {
        return Ok(Handled::Left("no lifecycle event in progress: no hook waits".into()));
    };
    let Some(event) = resolved.in_progress_hook else {
        warn!(event = %in_progress, "the hook function was invoked for an event hookline does not serve; reporting Failed");
        let reported = report_failed(deps, deployment_id, execution_id).await?;
        return Ok(Handled::ReportedFailed { restored: false, already_reported: reported == Reported::Already });
    };
    if let Some(other) = executions.iter().find(|e| e.event == event) {
        error!(
            execution = %other.execution_arn,
            execution_status = %other.status,
            "the {} event is answered by another hook execution id's execution; this one is left alone",
            event.as_str()
        );
        return Ok(Handled::Left(format!(
            "the {} event is answered by execution {} for another hook execution id",
            event.as_str(),
            other.execution_arn
        )));
    }

    let mut ctx = resolved.context;
    match hookline::rollback::production_rule(deps.plans.as_ref(), &ctx, &deps.plan_parameter_prefix).await {
        Ok(rule) => ctx.set_production_rule(rule),
        // Without a plan `hook` would have answered Failed before any execution moved traffic, and
        // nothing says whether production lives on the listener or on a rule: answer, restore nothing.
        Err(e @ Error::InvalidInput { .. }) => {
            error!(error = %e, "cannot tell where production lives; reporting Failed without restoring");
            let reported = report_failed(deps, deployment_id, execution_id).await?;
            return Ok(Handled::ReportedFailed { restored: false, already_reported: reported == Reported::Already });
        }
        Err(e) => return Err(e),
    }
    let cause = serde_json::json!({
        "Error": "HookFunctionFailed",
        "Cause": "every invocation of the hook function failed; its event reached the dead-letter queue",
    });
    // A message handed back returns only after the queue's visibility timeout (minutes): report now.
    let out = from_execution(deps, &ctx, &cause, ReportWhen::Always).await?;
    Ok(Handled::ReportedFailed { restored: out.restored, already_reported: out.already_reported })
}
