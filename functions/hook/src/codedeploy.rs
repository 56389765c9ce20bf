//! The CodeDeploy entry: translates a hook invocation into the hook's start
//! ([`hookline::flows::hook_start`], which starts the `canary` (BeforeAllowTraffic) or
//! `post-traffic` (AfterAllowTraffic) execution) and its outcome into CodeDeploy's answer,
//! a report through [`hookline::lifecycle::Lifecycle::report`]. If anything fails before
//! the execution exists, the hook is reported `Failed` at once: a hook nobody answers stalls
//! the deployment for an hour.
//!
//! An invocation is matched to the hook execution it carries, not to whichever
//! event happens to be in progress: Lambda delivers asynchronous events at
//! least once and retries them, so a BeforeAllowTraffic invocation may arrive
//! again after the deployment moved on to AfterAllowTraffic. The flow looks up the
//! deployment's executions first; one whose input answers this
//! `LifecycleEventHookExecutionId` means "already started".
//!
//! A `Failed` report makes CodeDeploy roll back at once, so production must be
//! on blue 100% with no cohort rule before it lands. `hook` answers `Failed`
//! itself only from established facts: no execution serves the event in
//! progress and this is its id, and either production is untouched (the event
//! is BeforeAllowTraffic, or one hookline does not serve) or the plan named
//! production's route and `hook` restored it first. At AfterAllowTraffic,
//! CodeDeploy's AllowTraffic has already put production on green, so a failure
//! before the route is known (a throttled GetDeploymentTarget, an SSM error), or
//! a failed restore, leaves the hook unreported: the error makes Lambda retry
//! the whole invocation (a transient fault then usually starts the execution),
//! then the dead-letter queue's consumer (`rollback`) checks the same facts,
//! restores and reports.
//!
//! A deployment CodeDeploy created to roll another back (`creator: codeDeployRollback`, or
//! `rollbackInfo.rollbackTriggeringDeploymentId` set: `Lifecycle::admission`) gets no canary: if
//! CodeDeploy invokes its hooks (AWS does not document whether it does), each is answered
//! `Succeeded` at once, nothing started, no traffic moved ([`HookStart::PassedThrough`]).

use hookline::execution::HookEvent;
use hookline::flows::hook_start::{start_hook, FailSafety, HookInvocation, HookStart, StartFailure};
use hookline::lifecycle::{CodeDeploy, HookStatus, Invocation, Reported};
use hookline::plan::Controller;
use hookline::{Error, Result};
use serde::Serialize;
use serde_json::Value;
use tracing::{error, info, info_span, warn, Instrument};

use crate::deps::Deps;

/// The execution this invocation started (or found already started).
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Output {
    pub execution_arn: String,
    pub state_machine_arn: String,
    pub event: HookEvent,
    pub already_started: bool,
}

/// What a CodeDeploy invocation answers Lambda with.
#[derive(Debug, Serialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum Reply {
    /// The execution answering this hook exists (started now, or found already started).
    Started(Output),
    /// The execution could not be started, and this invocation answered the hook `Failed` itself.
    ReportedFailed(ReportedFailed),
    /// A deployment hookline has nothing to do for (the controller's own rollback): the hook was
    /// answered `Succeeded` at once, nothing started, no traffic moved.
    PassedThrough(PassedThrough),
}

/// The hook answered `Failed` by `hook` itself, and why.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct ReportedFailed {
    pub reported: HookStatus,
    /// The hook had already been answered (the deployment ended, or another path answered it).
    pub already_reported: bool,
    pub error_type: &'static str,
    pub error: String,
}

/// The hook of a deployment passed through, answered `Succeeded` by `hook` itself, and why.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct PassedThrough {
    pub reported: HookStatus,
    /// The hook had already been answered (an earlier delivery of this invocation).
    pub already_reported: bool,
    pub reason: String,
}

/// Handles one `{"DeploymentId", "LifecycleEventHookExecutionId"}` invocation.
///
/// Once this invocation has answered the hook `Failed`, it succeeds: the hook is answered, and an
/// error would only make Lambda retry the event (each retry answering again, on a deployment that
/// has already failed) and then dead-letter it. It fails when the hook is left unanswered: the
/// report itself failed (Lambda's retries, then the dead-letter queue's consumer, try again), or
/// the event in progress is answered by another hook execution id's execution.
pub async fn handle(deps: &Deps, event: Value) -> Result<Reply> {
    let Invocation { deployment_id, execution_id } = CodeDeploy::invocation(event)?;
    let span = info_span!("hook", deployment_id = %deployment_id);
    // CodeDeploy names no event in its invocation: the flow reads the one in progress.
    let invocation = HookInvocation {
        controller: Controller::CodeDeploy,
        deployment_id,
        execution_id,
        event: None,
        cross_check_route: false,
    };
    async {
        match start_hook(deps, &invocation).await {
            Ok(HookStart::Started(started)) => Ok(Reply::Started(Output {
                execution_arn: started.execution_arn,
                state_machine_arn: started.state_machine_arn,
                event: started.event,
                already_started: started.already_started,
            })),
            Ok(HookStart::Found(found)) => Ok(Reply::Started(Output {
                execution_arn: found.execution_arn,
                state_machine_arn: found.state_machine_arn,
                event: found.event,
                already_started: true,
            })),
            Ok(HookStart::PassedThrough(reason)) => {
                // An error here (the report failed) leaves the hook unanswered: Lambda retries, then
                // the dead-letter consumer (`rollback`) reads the same admission and reports Succeeded.
                let reported = deps
                    .lifecycle
                    .report(&invocation.deployment_id, &invocation.execution_id, HookStatus::Succeeded)
                    .await?;
                info!(?reported, reason = %reason, "hook reported Succeeded: nothing started, no traffic moved");
                Ok(Reply::PassedThrough(PassedThrough {
                    reported: HookStatus::Succeeded,
                    already_reported: reported == Reported::Already,
                    reason,
                }))
            }
            Ok(HookStart::ServedByAnother(other)) => {
                // Not reported: this id may be a stale invocation of a hook already answered, and a
                // Failed report must never land while the running execution may have traffic split.
                // The error makes Lambda retry, then the dead-letter queue (alarmed) hands the event
                // to `rollback`, which leaves it alone too while another execution answers the event.
                let err = Error::invalid(
                    "LifecycleEventHookExecutionId",
                    format!(
                        "the hook execution id of the {} event in progress; that event is already answered by {} \
                         for another hook execution id, so this invocation starts nothing",
                        other.event.as_str(),
                        other.execution_arn
                    ),
                );
                error!(error = %err, execution_status = ?other.status, "invocation matches no hookline execution; not started, not reported");
                Err(err)
            }
            // CodeDeploy's adapter admits every deployment it does not pass through and this entry
            // asks for no cross-check, so no refusal is expected; if one came, nothing is reported
            // (Lambda retries, then the dead-letter consumer checks, restores and reports).
            Ok(HookStart::Refused(refusal)) => {
                let err = Error::invalid("deployment", format!("one hookline runs, refused: {refusal:?}"));
                error!(error = %err, "refused; nothing started, not reported");
                Err(err)
            }
            Err(failure) => answer_failed(deps, &invocation, failure).await,
        }
    }
    .instrument(span)
    .await
}

fn reported_failed(err: &Error, already_reported: bool) -> Reply {
    Reply::ReportedFailed(ReportedFailed {
        reported: HookStatus::Failed,
        already_reported,
        error_type: err.error_type(),
        error: err.to_string(),
    })
}

/// Answers the hook `Failed` when the start failed and production is safe (restored first when
/// AllowTraffic had moved it); otherwise leaves it unanswered with the start's error.
async fn answer_failed(deps: &Deps, invocation: &HookInvocation, failure: StartFailure) -> Result<Reply> {
    let err = &failure.error;
    error!(error = %err, error_type = err.error_type(), "could not start the execution; reporting the hook Failed");
    let lifecycle = deps.lifecycle.as_ref();
    // A late retry or duplicate delivery for a deployment that has ended: nobody waits for
    // the hook any more (the controller would refuse the answer as already given): no report.
    match lifecycle.status(&invocation.deployment_id).await {
        Ok(status) if !status.is_active() => {
            info!(status = %status, "deployment already ended; the hook needs no answer");
            return Ok(reported_failed(err, true));
        }
        Ok(_) => {}
        Err(status_err) => warn!(error = %status_err, "deployment status unknown; reporting Failed anyway"),
    }
    match failure.make_production_safe(deps.routers.as_ref()).await {
        Ok(FailSafety::Untouched) => {
            info!("production untouched for this event (before AllowTraffic, nothing started)")
        }
        // Blue 100%, no cohort rule, before the report makes CodeDeploy roll back.
        Ok(FailSafety::Restored) => {}
        Ok(FailSafety::RouteUnknown) => {
            error!("AllowTraffic has moved production and its route is unknown (no plan read); the hook is not reported (Lambda retries, then the dead-letter consumer restores and reports)");
            return Err(failure.error);
        }
        Ok(FailSafety::EventUnknown) => {
            error!("which event is in progress, or whether an execution already serves it, is unknown; the hook is not reported (Lambda retries, then the dead-letter consumer checks, restores and reports)");
            return Err(failure.error);
        }
        Err(restore_err) => {
            error!(error = %restore_err, "could not restore production to blue; the hook is not reported (Lambda retries, then the dead-letter consumer restores and reports)");
            return Err(failure.error);
        }
    }
    match lifecycle.report(&invocation.deployment_id, &invocation.execution_id, HookStatus::Failed).await {
        Ok(reported) => {
            info!(?reported, "hook reported Failed");
            Ok(reported_failed(&failure.error, reported == Reported::Already))
        }
        Err(report_err) => {
            error!(error = %report_err, "reporting the hook Failed failed too; the hook is unanswered");
            Err(failure.error)
        }
    }
}

#[cfg(test)]
mod tests;
