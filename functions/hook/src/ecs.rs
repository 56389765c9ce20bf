//! The ECS-native entry: Amazon ECS invokes `hook` at POST_TEST_TRAFFIC_SHIFT (the canary) and
//! POST_PRODUCTION_TRAFFIC_SHIFT (the post-traffic bake) and reads the answer from the function's
//! return value, invoking it again after `callBackDelay` while it answers IN_PROGRESS (ECS
//! developer guide, lambda-lifecycle-hooks).
//!
//! Each invocation maps the stage's execution, found by name (service deployment id + event, never
//! ECS's `executionId`, which changes on every call):
//! - none yet: resolve the deployment, load the plan, start the execution, IN_PROGRESS;
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

use aws_sdk_sfn::types::ExecutionStatus;
use hookline::contract::ROLLBACK_RESERVE_SECONDS;
use hookline::error::AwsResultExt;
use hookline::execution::{
    execution_arn, execution_name, now_epoch, DeploymentContext, ExecutionDocument, HookEvent, HookKind, HookRef,
    RolloutState,
};
use hookline::lifecycle::ecs::{
    stage_of, Admission, EcsAnswer, EcsInvocation, EcsStage, DEFAULT_CALLBACK_DELAY_SECONDS,
};
use hookline::lifecycle::{EcsNative, HookStatus};
use hookline::plan::{human, Controller, Plan};
use hookline::traffic::Weights;
use hookline::{Error, Result};
use serde_json::{json, Value};
use tracing::{debug, error, info, info_span, warn, Instrument};

use crate::handler::Deps;

/// The `hookDetails` key hookline keeps its callback delay under (passed back by ECS on the next
/// invocation, so later invocations need not read the plan again).
const DELAY_DETAIL: &str = "hooklineCallBackDelay";
/// The `hookDetails` key naming the execution that answers the hook (for operators reading
/// DescribeServiceDeployments or the function's logs).
const EXECUTION_DETAIL: &str = "hooklineExecutionArn";

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
            EcsAnswer::done(HookStatus::Failed, Some(json!({"hooklineError": err.to_string()})))
        }
    };
    answer.to_json()
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
    let delay = invocation
        .hook_details
        .as_ref()
        .and_then(|d| d.get(DELAY_DETAIL))
        .and_then(Value::as_u64)
        .unwrap_or(DEFAULT_CALLBACK_DELAY_SECONDS);
    match step(deps, invocation, event).await {
        Ok(answer) => answer,
        Err(err) => {
            // Whatever failed, an execution may exist and hold production split: look again
            // later unless we know nothing was started (`start` failing before StartExecution).
            warn!(error = %err, error_type = err.error_type(), "could not map the execution; asking ECS to call again");
            EcsAnswer::in_progress(delay, invocation.hook_details.clone())
        }
    }
}

/// The execution of `event` for this deployment, and what it says.
async fn step(deps: &Deps, invocation: &EcsInvocation, event: HookEvent) -> Result<EcsAnswer> {
    let machine = deps.state_machines.for_event(event);
    if machine.is_empty() {
        return Err(Error::invalid("environment", format!("the {} state machine ARN", event.as_str())));
    }
    let arn = execution_arn(machine, &execution_name(&invocation.deployment_arn, event));
    let described = match deps.sfn.describe_execution().execution_arn(&arn).send().await {
        Ok(out) => Some(out),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_execution_does_not_exist()) => None,
        Err(e) => return Err(e).aws("DescribeExecution"),
    };
    let Some(described) = described else {
        let mut resolved = None;
        return match start(deps, invocation, event, machine, &mut resolved).await {
            Ok(answer) => Ok(answer),
            // Transient: nothing started yet, the next invocation tries again.
            Err(err @ (Error::Throttled { .. } | Error::AwsTransient { .. })) => Err(err),
            // Nothing was started and hookline moved nothing. At the canary's stage production is
            // on blue. At the post-traffic stage ECS's PRODUCTION_TRAFFIC_SHIFT has put it on green
            // 100%: FAILED only once it is blue again, as on every other path, so restore the
            // service's production rule (known from the resolved deployment, whatever the plan
            // says); a failed restore is answered IN_PROGRESS by the caller and tried again.
            Err(err) => {
                if event == HookEvent::AfterAllowTraffic {
                    match &resolved {
                        Some(ctx) => {
                            deps.routers.router(ctx).restore().await?;
                            info!("production restored to blue 100% with no cohort rule");
                        }
                        // The deployment itself could not be read: where its rule is is unknown.
                        // Production is entirely on green (not split), and ECS's rollback undoes
                        // its own shift.
                        None => warn!("production rule unknown (deployment unreadable); FAILED without a restore"),
                    }
                }
                error!(error = %err, error_type = err.error_type(), "could not start the execution; FAILED");
                let mut details = invocation.hook_details.clone().unwrap_or_else(|| json!({}));
                if let Some(map) = details.as_object_mut() {
                    map.insert("hooklineError".into(), json!(err.to_string()));
                }
                Ok(EcsAnswer::done(HookStatus::Failed, Some(details)))
            }
        };
    };
    let details = |delay: Option<u64>| {
        let mut details = invocation.hook_details.clone().unwrap_or_else(|| json!({}));
        if let Some(map) = details.as_object_mut() {
            map.insert(EXECUTION_DETAIL.into(), json!(arn));
            if let Some(delay) = delay {
                map.insert(DELAY_DETAIL.into(), json!(delay));
            }
        }
        Some(details)
    };
    let delay = invocation.hook_details.as_ref().and_then(|d| d.get(DELAY_DETAIL)).and_then(Value::as_u64);
    match described.status() {
        ExecutionStatus::Running | ExecutionStatus::PendingRedrive => {
            Ok(EcsAnswer::in_progress(delay.unwrap_or(DEFAULT_CALLBACK_DELAY_SECONDS), details(delay)))
        }
        ExecutionStatus::Succeeded => {
            info!(execution_arn = %arn, "execution succeeded; SUCCEEDED");
            Ok(EcsAnswer::done(HookStatus::Succeeded, details(delay)))
        }
        status => {
            // FAILED / ABORTED / TIMED_OUT: put production on blue 100% with no cohort rule first
            // (idempotent: the rollback function normally did it already); an error here is
            // answered IN_PROGRESS by the caller, and the next invocation tries again.
            let text = described.input().ok_or_else(|| Error::invalid("execution input", "the execution document"))?;
            let doc: ExecutionDocument = serde_json::from_str(text)
                .map_err(|e| Error::invalid("execution input", format!("the execution document ({e})")))?;
            deps.routers.router(&doc.context).restore().await?;
            warn!(execution_arn = %arn, status = status.as_str(), "execution ended without success; production on blue 100%; FAILED");
            Ok(EcsAnswer::done(HookStatus::Failed, details(delay)))
        }
    }
}

/// First invocation of the stage: resolve, load and check the plan, start the execution. Once the
/// deployment is resolved, `resolved` holds its context (production's route), for the error path.
async fn start(
    deps: &Deps,
    invocation: &EcsInvocation,
    event: HookEvent,
    machine: &str,
    resolved: &mut Option<DeploymentContext>,
) -> Result<EcsAnswer> {
    match deps.ecs.admission(&invocation.deployment_arn).await? {
        Admission::Serve => {}
        // ECS's adapter never says Rollback (ECS rolls back inside the deployment: its rollback
        // stages pass through above); answered the same way as CodeDeploy's rollback if it did.
        passed @ (Admission::Creation | Admission::Rollback { .. }) => {
            info!(
                stage = stage_of(event),
                "{}; nothing started, nothing moved; SUCCEEDED",
                passed.pass_through().unwrap_or_default()
            );
            return Ok(EcsAnswer::done(HookStatus::Succeeded, invocation.hook_details.clone()));
        }
        Admission::Strategy(strategy) => {
            let message = format!(
                "deploymentConfiguration.strategy is {strategy}: hookline shifts production only under BLUE_GREEN \
                 (under {strategy} ECS shifts production in its own steps, which hookline would fight); set the \
                 service's strategy to BLUE_GREEN to use hookline's canary. A gate mode for LINEAR and CANARY \
                 (hookline judging ECS's steps without moving traffic) is a later issue."
            );
            error!(strategy = %strategy, "{message}; FAILED, nothing started");
            return Ok(refused(invocation, message));
        }
    }
    let found = deps.lifecycle.resolve(&invocation.deployment_arn, Some(&invocation.execution_id)).await?;
    let hook_expires_at = found.hook_expires_at;
    let mut context = found.context;
    *resolved = Some(context.clone());
    context.hook = Some(HookRef { kind: HookKind::Ecs, event, execution_id: invocation.execution_id.clone() });
    if let Some(message) = disagreement(deps, &context, event).await? {
        error!("{message}; FAILED, nothing started, nothing moved");
        return Ok(refused(invocation, message));
    }
    let plan = load_plan(deps, &context.cluster, &context.service).await?;
    // The hook's `timeoutConfiguration` may be shorter than ECS's 24 hours: a plan that cannot end
    // (with the rollback reserve) before ECS times the hook out would be rolled back by ECS mid-canary,
    // which undoes only ECS's own shifts. Refused before anything moves.
    if let Some(expires_at) = hook_expires_at {
        let left = u64::try_from(expires_at - now_epoch()).unwrap_or(0);
        let needed = plan.hook_budget_seconds.saturating_add(ROLLBACK_RESERVE_SECONDS);
        if needed > left {
            return Err(Error::invalid(
                "hook_budget",
                format!(
                    "at most {} for this hook ({} s left before its timeoutConfiguration ends it, less the {} s \
                     rollback reserve), got {}: shorten the plan or raise timeoutInMinutes",
                    human(left.saturating_sub(ROLLBACK_RESERVE_SECONDS)),
                    left,
                    ROLLBACK_RESERVE_SECONDS,
                    human(plan.hook_budget_seconds)
                ),
            ));
        }
    }
    let now = now_epoch();
    let state = match event {
        HookEvent::BeforeAllowTraffic => {
            RolloutState { index: 0, weight: 0, started_at: now, bake_until: None, judgements: Vec::new() }
        }
        // Production is on green 100% since PRODUCTION_TRAFFIC_SHIFT: bake from now.
        HookEvent::AfterAllowTraffic => RolloutState {
            index: 0,
            weight: 100,
            started_at: now,
            bake_until: Some(now + i64::try_from(plan.post_traffic.bake_seconds).unwrap_or(0)),
            judgements: Vec::new(),
        },
    };
    let delay = plan.health.interval_seconds;
    let name = execution_name(&invocation.deployment_arn, event);
    let doc = ExecutionDocument { context, plan, state };
    let input = serde_json::to_string(&doc).map_err(|e| Error::invalid("execution input", e.to_string()))?;
    let started = deps.sfn.start_execution().state_machine_arn(machine).name(&name).input(input).send().await;
    let arn = match started {
        Ok(out) => out.execution_arn().to_string(),
        // Another invocation started it meanwhile: same execution, same answer.
        Err(e) if e.as_service_error().is_some_and(|s| s.is_execution_already_exists()) => {
            execution_arn(machine, &name)
        }
        Err(e) => return Err(e).aws("StartExecution"),
    };
    info!(execution_arn = %arn, event = event.as_str(), callback_delay = delay, "execution started; IN_PROGRESS");
    let mut details = invocation.hook_details.clone().unwrap_or_else(|| json!({}));
    if let Some(map) = details.as_object_mut() {
        map.insert(EXECUTION_DETAIL.into(), json!(arn));
        map.insert(DELAY_DETAIL.into(), json!(delay));
    }
    Ok(EcsAnswer::in_progress(delay, Some(details)))
}

/// FAILED with `message` in `hookDetails.hooklineError`; nothing was started or moved.
fn refused(invocation: &EcsInvocation, message: String) -> EcsAnswer {
    let mut details = invocation.hook_details.clone().unwrap_or_else(|| json!({}));
    if let Some(map) = details.as_object_mut() {
        map.insert("hooklineError".into(), json!(message));
    }
    EcsAnswer::done(HookStatus::Failed, Some(details))
}

/// Cross-checks the revisions' reading of blue and green against the live production rule: when
/// the canary starts, blue (the source revision's group) serves 100%; after ECS's production
/// shift, green (the target revision's) does. `Some(message naming both readings)` when they
/// disagree (or the rule forwards to a group of neither revision); an error when the rule cannot
/// be read (the next invocation tries again).
async fn disagreement(deps: &Deps, ctx: &DeploymentContext, event: HookEvent) -> Result<Option<String>> {
    let expected = match event {
        HookEvent::BeforeAllowTraffic => Weights::BLUE_ONLY,
        HookEvent::AfterAllowTraffic => Weights::green(100),
    };
    let found = match deps.routers.router(ctx).weights().await {
        Ok(live) if live == expected => return Ok(None),
        Ok(live) => live.to_string(),
        Err(Error::TrafficDrift { found, .. }) => found,
        Err(other) => return Err(other),
    };
    Ok(Some(format!(
        "blue and green disagree: the service revisions' resolvedConfiguration.loadBalancers say blue is {} \
         (source revision) and green is {} (target revision), so at {} the production listener rule {} should \
         forward {expected}; it forwards {found}. hookline started nothing and moved nothing",
        ctx.blue.target_group_arn,
        ctx.green.target_group_arn,
        stage_of(event),
        ctx.production.rule_arn().unwrap_or_else(|| ctx.production.listener_arn()),
    )))
}

/// The plan at `<prefix>/ecs/<cluster>/<service>`, validated for ECS mode (`Plan::parse_for`): a
/// hook budget up to 24 hours, and a last weight step of 100 (ECS moves production to green 100%
/// itself right after the canary's hook succeeds, so a plan ending lower would jump to 100 unobserved).
async fn load_plan(deps: &Deps, cluster: &str, service: &str) -> Result<Plan> {
    let name = hookline::contract::ecs_plan_parameter(&deps.plan_parameter_prefix, cluster, service);
    let text = crate::handler::plan_text(deps, &name).await?;
    Ok(Plan::parse_for(&text, Controller::Ecs)?)
}

#[cfg(test)]
mod tests;
