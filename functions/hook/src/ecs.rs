//! The ECS-native entry: Amazon ECS invokes `hook` at POST_TEST_TRAFFIC_SHIFT (the canary) and
//! POST_PRODUCTION_TRAFFIC_SHIFT (the post-traffic bake) and reads the answer from the function's
//! return value, invoking it again after `callBackDelay` while it answers IN_PROGRESS (ECS
//! developer guide, lambda-lifecycle-hooks). This module translates ECS's payload into the hook's
//! start ([`hookline::flows::hook_start`]) and its outcome into that return value.
//!
//! Each invocation maps the stage's execution, found by name (service deployment id + event, never
//! ECS's `executionId`, which changes on every call):
//! - none yet: the flow resolves the deployment, loads the plan, starts the execution; IN_PROGRESS;
//! - running: IN_PROGRESS;
//! - succeeded: SUCCEEDED (finalize has removed the cohort rules; the canary ended at 100);
//! - failed, aborted, timed out: FAILED, but only once production is blue 100% with no cohort rule
//!   (restored here if it is not): ECS does not check live weights before it shifts or rolls back
//!   (containers-roadmap #2853), and its rollback only undoes its own shifts.
//!
//! Before anything starts (first invocation of a stage):
//! - a deployment with no source revision (ECS runs the hooks on CreateService too) is answered
//!   SUCCEEDED: there is no blue to canary against;
//! - a deployment whose strategy is not BLUE_GREEN (LINEAR, CANARY: ECS shifts production in its
//!   own steps) is answered FAILED naming the strategy;
//! - blue and green read from the revisions' `resolvedConfiguration` must agree with the live
//!   production rule (blue at 100 when the canary starts, green at 100 after ECS's production
//!   shift); when they do not, FAILED naming both readings, nothing started, nothing moved.
//!
//! Every path ends in an answer, never in a function error: ECS takes a function error as FAILED
//! and rolls back at once, while hookline may have production split ("If your function doesn't
//! return a valid hookStatus, or if it fails, Amazon ECS rolls back the deployment",
//! lambda-lifecycle-hooks). A function timeout is such a failure, so the work is cut short
//! [`DEADLINE_RESERVE`] before the invocation's deadline and answered IN_PROGRESS with a short
//! `callBackDelay`: every step is resumable (the execution is found by name, a second
//! StartExecution of that name is `ExecutionAlreadyExists`, a restore is idempotent), so the next
//! invocation finishes the work. An error with an execution that may still be running is answered
//! IN_PROGRESS (the next invocation looks again); FAILED only when production is known to be on
//! blue.

use hookline::flows::hook_executions::HookExecution;
use hookline::flows::hook_start::{
    start_hook, FailSafety, HookInvocation, HookStart, Refusal, StartFailure, StartedExecution,
};
use hookline::lifecycle::ecs::{stage_of, EcsAnswer, EcsInvocation, EcsStage, DEFAULT_CALLBACK_DELAY_SECONDS};
use hookline::lifecycle::{EcsNative, HookStatus};
use hookline::plan::Controller;
use hookline::ports::RunStatus;
use hookline::{Error, Result};
use serde_json::{json, Value};
use tracing::{debug, error, info, info_span, warn, Instrument};

use crate::deps::Deps;

/// The `hookDetails` key hookline keeps its callback delay under (passed back by ECS on the next
/// invocation, so later invocations need not read the plan again).
const DELAY_DETAIL: &str = "hooklineCallBackDelay";
/// The `hookDetails` key naming the execution that answers the hook (for operators reading
/// DescribeServiceDeployments or the function's logs).
const EXECUTION_DETAIL: &str = "hooklineExecutionArn";
/// The `hookDetails` key of why the hook was answered FAILED.
const ERROR_DETAIL: &str = "hooklineError";

/// How long before the invocation's deadline hookline stops working and answers: the answer
/// itself and Lambda's reply must fit in it, with room for an SDK call that ignores cancellation.
pub const DEADLINE_RESERVE: std::time::Duration = std::time::Duration::from_secs(3);
/// The `callBackDelay` of an answer cut short by the deadline: the work resumes soon.
pub const DEADLINE_CALLBACK_DELAY_SECONDS: u64 = 2;

/// Answers one ECS invocation; never fails (see the module documentation).
#[cfg(test)]
pub async fn handle(deps: &Deps, event: Value) -> Value {
    handle_until(deps, event, None).await
}

/// [`handle`], answered IN_PROGRESS [`DEADLINE_RESERVE`] (at most a quarter of the time left) before
/// `deadline` if the work is not done.
pub async fn handle_until(deps: &Deps, event: Value, deadline: Option<tokio::time::Instant>) -> Value {
    let answer = match EcsNative::invocation(event) {
        Ok(invocation) => {
            let span = info_span!("hook", deployment_id = %invocation.deployment_arn, controller = "ecs");
            let work = answer(deps, &invocation).instrument(span.clone());
            let now = tokio::time::Instant::now();
            match deadline.map(|d| (d, d.saturating_duration_since(now))) {
                // No deadline, or one already past as the invocation starts: not a real one (the
                // sandbox's cargo-lambda emulator hands such a deadline; Lambda's is the function's
                // timeout from the invocation's start), so nothing to answer before.
                None => work.await,
                Some((_, time_left)) if time_left.is_zero() => {
                    span.in_scope(|| debug!("the invocation's deadline has passed as it starts; working without one"));
                    work.await
                }
                Some((deadline, time_left)) => {
                    // A quarter of a short timeout, so even a function given a few seconds works.
                    let cut = deadline - DEADLINE_RESERVE.min(time_left / 4);
                    match tokio::time::timeout_at(cut, work).await {
                        Ok(answer) => answer,
                        Err(_) => {
                            // Cancelled at an await: whatever was sent is idempotent, whatever was
                            // not is sent by the next invocation, which reads AWS afresh.
                            span.in_scope(|| {
                                warn!(
                                    call_back_delay = DEADLINE_CALLBACK_DELAY_SECONDS,
                                    time_left_at_start_ms = time_left.as_millis(),
                                    "the invocation's deadline is near; IN_PROGRESS, the next invocation resumes"
                                )
                            });
                            EcsAnswer::in_progress(DEADLINE_CALLBACK_DELAY_SECONDS, invocation.hook_details.clone())
                        }
                    }
                }
            }
        }
        // Nothing can have been started for a payload that cannot be read, and at the stages
        // hookline answers production is ECS's (blue at the canary's stage): FAILED is safe.
        Err(err) => {
            error!(error = %err, "not a readable ECS hook payload; answering FAILED");
            EcsAnswer::done(HookStatus::Failed, Some(json!({ERROR_DETAIL: err.to_string()})))
        }
    };
    answer.to_json()
}

/// `hookDetails` as ECS passed them (the configured ones merged with the last answer's), with
/// `entries` set over them.
fn details(invocation: &EcsInvocation, entries: &[(&str, Value)]) -> Option<Value> {
    let mut details = invocation.hook_details.clone().unwrap_or_else(|| json!({}));
    if let Some(map) = details.as_object_mut() {
        for (key, value) in entries {
            map.insert((*key).to_string(), value.clone());
        }
    }
    Some(details)
}

/// FAILED with `message` in `hookDetails.hooklineError`.
fn failed(invocation: &EcsInvocation, message: String) -> EcsAnswer {
    EcsAnswer::done(HookStatus::Failed, details(invocation, &[(ERROR_DETAIL, json!(message))]))
}

async fn answer(deps: &Deps, invocation: &EcsInvocation) -> EcsAnswer {
    let event = match &invocation.stage {
        EcsStage::Hook(event) => *event,
        // The rollback's re-invocations (TEST_/PRODUCTION_TRAFFIC_SHIFT) and any stage hookline has
        // no work at: SUCCEEDED at once, hookline never blocks ECS's own rollback.
        EcsStage::PassThrough(stage) => {
            info!(stage = %stage, "hookline has nothing to do at this stage; SUCCEEDED");
            return EcsAnswer::done(HookStatus::Succeeded, invocation.hook_details.clone());
        }
    };
    // The delay the first invocation's answer carried (the plan's health interval), if any.
    let delay = invocation.hook_details.as_ref().and_then(|d| d.get(DELAY_DETAIL)).and_then(Value::as_u64);
    let look_again =
        || EcsAnswer::in_progress(delay.unwrap_or(DEFAULT_CALLBACK_DELAY_SECONDS), invocation.hook_details.clone());
    // ECS names the stage (so the event) and gives every invocation a fresh `executionId`; its
    // reading of blue and green comes from the revisions, checked against the live rule.
    let hook = HookInvocation {
        controller: Controller::Ecs,
        deployment_id: invocation.deployment_arn.clone(),
        execution_id: invocation.execution_id.clone(),
        event: Some(event),
        cross_check_route: true,
    };
    match start_hook(deps, &hook).await {
        Ok(HookStart::Started(started)) => started_answer(invocation, &started),
        Ok(HookStart::Found(found)) => match found_answer(deps, invocation, found, delay).await {
            Ok(answer) => answer,
            Err(err) => {
                // Production may be split: look again later.
                warn!(error = %err, error_type = err.error_type(), "could not map the execution; asking ECS to call again");
                look_again()
            }
        },
        Ok(HookStart::PassedThrough(reason)) => {
            info!(stage = stage_of(event), "{reason}; nothing started, nothing moved; SUCCEEDED");
            EcsAnswer::done(HookStatus::Succeeded, invocation.hook_details.clone())
        }
        // The stage's execution is this hook's whatever id it carries (ECS's ids are fresh at every
        // call), so none answers another; were it to, the next invocation looks again.
        Ok(HookStart::ServedByAnother(other)) => {
            warn!(execution_arn = %other.execution_arn, "the stage's execution answers another id; asking ECS to call again");
            look_again()
        }
        Ok(HookStart::Refused(refusal)) => {
            let message = refusal_message(&refusal);
            error!("{message}; FAILED, nothing started, nothing moved");
            failed(invocation, message)
        }
        Err(failure) => failure_answer(deps, invocation, failure, look_again).await,
    }
}

/// The execution is started: IN_PROGRESS, called again every health interval of the plan.
fn started_answer(invocation: &EcsInvocation, started: &StartedExecution) -> EcsAnswer {
    let delay = started.health_interval_seconds;
    info!(execution_arn = %started.execution_arn, event = started.event.as_str(), callback_delay = delay, "execution started; IN_PROGRESS");
    let entries = [(EXECUTION_DETAIL, json!(started.execution_arn)), (DELAY_DETAIL, json!(delay))];
    EcsAnswer::in_progress(delay, details(invocation, &entries))
}

/// What the stage's execution says: running, IN_PROGRESS; succeeded, SUCCEEDED; ended otherwise,
/// FAILED once production is on blue 100% with no cohort rule.
async fn found_answer(
    deps: &Deps,
    invocation: &EcsInvocation,
    found: HookExecution,
    delay: Option<u64>,
) -> Result<EcsAnswer> {
    let mut entries = vec![(EXECUTION_DETAIL, json!(found.execution_arn))];
    entries.extend(delay.map(|delay| (DELAY_DETAIL, json!(delay))));
    let details = details(invocation, &entries);
    match &found.status {
        // A status hookline has no word for (PENDING_REDRIVE, a newer one) is not known to have
        // ended: production may be split, so look again rather than answer.
        RunStatus::Running | RunStatus::Unrecognized(_) => {
            Ok(EcsAnswer::in_progress(delay.unwrap_or(DEFAULT_CALLBACK_DELAY_SECONDS), details))
        }
        RunStatus::Succeeded => {
            info!(execution_arn = %found.execution_arn, "execution succeeded; SUCCEEDED");
            Ok(EcsAnswer::done(HookStatus::Succeeded, details))
        }
        status @ (RunStatus::Failed | RunStatus::TimedOut | RunStatus::Aborted) => {
            // Put production on blue 100% with no cohort rule first (idempotent: the rollback
            // function normally did it already); an error here is answered IN_PROGRESS by the
            // caller, and the next invocation tries again.
            let doc =
                found.document.as_deref().ok_or_else(|| Error::invalid("execution input", "the execution document"))?;
            deps.routers.router(&doc.context).restore().await?;
            warn!(execution_arn = %found.execution_arn, ?status, "execution ended without success; production on blue 100%; FAILED");
            Ok(EcsAnswer::done(HookStatus::Failed, details))
        }
    }
}

/// The start failed. Whatever failed, an execution may exist and hold production split unless the
/// flow knows none does: then FAILED, but only once production is on blue (ECS's
/// PRODUCTION_TRAFFIC_SHIFT has put it on green 100% at the post-traffic stage: restored first).
async fn failure_answer(
    deps: &Deps,
    invocation: &EcsInvocation,
    failure: StartFailure,
    look_again: impl Fn() -> EcsAnswer,
) -> EcsAnswer {
    let err = &failure.error;
    // Transient: nothing started yet, the next invocation tries again.
    if matches!(err, Error::Throttled { .. } | Error::AwsTransient { .. }) {
        warn!(error = %err, error_type = err.error_type(), "could not start the execution (transient); asking ECS to call again");
        return look_again();
    }
    match failure.make_production_safe(deps.routers.as_ref()).await {
        Ok(FailSafety::Untouched | FailSafety::Restored) => {}
        // The deployment itself could not be read: where its rule is is unknown. Production is
        // entirely on green (not split), and ECS's rollback undoes its own shift.
        Ok(FailSafety::RouteUnknown) => {
            warn!("production rule unknown (deployment unreadable); FAILED without a restore")
        }
        Ok(FailSafety::EventUnknown) => {
            warn!(error = %err, error_type = err.error_type(), "could not map the execution; asking ECS to call again");
            return look_again();
        }
        Err(restore_err) => {
            warn!(error = %restore_err, start_error = %err, "could not restore production to blue; asking ECS to call again");
            return look_again();
        }
    }
    error!(error = %err, error_type = err.error_type(), "could not start the execution; FAILED");
    failed(invocation, err.to_string())
}

/// Why hookline refuses the deployment, in ECS's words.
fn refusal_message(refusal: &Refusal) -> String {
    match refusal {
        Refusal::Strategy(strategy) => format!(
            "deploymentConfiguration.strategy is {strategy}: hookline shifts production only under BLUE_GREEN \
             (under {strategy} ECS shifts production in its own steps, which hookline would fight); set the \
             service's strategy to BLUE_GREEN to use hookline's canary. A gate mode for LINEAR and CANARY \
             (hookline judging ECS's steps without moving traffic) is a later issue."
        ),
        Refusal::SidesDisagree { context: ctx, event, expected, found } => format!(
            "blue and green disagree: the service revisions' resolvedConfiguration.loadBalancers say blue is {} \
             (source revision) and green is {} (target revision), so at {} the production listener rule {} should \
             forward {expected}; it forwards {found}. hookline started nothing and moved nothing",
            ctx.blue.target_group_arn,
            ctx.green.target_group_arn,
            stage_of(*event),
            ctx.production.rule_arn().or(ctx.production.listener_arn()).unwrap_or("(none)"),
        ),
    }
}

#[cfg(test)]
mod tests;
