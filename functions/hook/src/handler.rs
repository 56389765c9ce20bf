//! Starts the `canary` (BeforeAllowTraffic) or `post-traffic`
//! (AfterAllowTraffic) execution for a CodeDeploy hook invocation. If anything
//! fails before the execution exists, the hook is reported `Failed` at once:
//! a hook nobody answers stalls the deployment for an hour.
//!
//! An invocation is matched to the hook execution it carries, not to whichever
//! event happens to be in progress: Lambda delivers asynchronous events at
//! least once and retries them, so a BeforeAllowTraffic invocation may arrive
//! again after the deployment moved on to AfterAllowTraffic. Before starting
//! anything, `hook` looks up the deployment's executions; one whose input
//! answers this `LifecycleEventHookExecutionId` means "already started".
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
//! `rollbackInfo.rollbackTriggeringDeploymentId` set: [`Lifecycle::admission`]) gets no canary: if
//! CodeDeploy invokes its hooks (AWS does not document whether it does), each is answered
//! `Succeeded` at once, nothing started, no traffic moved. See [`Started::PassedThrough`].

use std::sync::Arc;

use hookline::aws::StepFunctions;
use hookline::error::AwsResultExt;
use hookline::execution::{
    execution_name, hook_executions, now_epoch, DeploymentContext, ExecutionDocument, HookEvent, HookExecution,
    HookKind, HookRef, HookStateMachines, RolloutState,
};
use hookline::lifecycle::{Admission, CodeDeploy, HookStatus, Invocation, Lifecycle, Reported};
use hookline::plan::Plan;
use hookline::ports::RunStatus;
use hookline::traffic::RouterFactory;
use hookline::{Clients, Error, Result};
use serde::Serialize;
use serde_json::Value;
use tracing::{error, info, info_span, warn, Instrument};

/// What the hook function needs, built once per container: the deployment controller,
/// the production routes (restored before a `Failed` report), the executions (Step
/// Functions) and the plans (SSM).
pub struct Deps {
    pub lifecycle: Arc<dyn Lifecycle>,
    /// The ECS-native controller, for what only ECS mode asks (`EcsNative::admission`).
    pub ecs: hookline::lifecycle::EcsNative,
    pub routers: Arc<dyn RouterFactory>,
    pub sfn: aws_sdk_sfn::Client,
    pub ssm: aws_sdk_ssm::Client,
    pub state_machines: HookStateMachines,
    pub plan_parameter_prefix: String,
}

impl Deps {
    /// The AWS adapters, for `state_machines` and plans under `plan_parameter_prefix`.
    pub fn new(clients: &Clients, state_machines: HookStateMachines, plan_parameter_prefix: String) -> Deps {
        let lifecycle = clients.lifecycle();
        Deps {
            ecs: lifecycle.ecs.clone(),
            lifecycle: Arc::new(lifecycle),
            routers: Arc::new(clients.routers()),
            sfn: clients.sfn.clone(),
            ssm: clients.ssm.clone(),
            state_machines,
            plan_parameter_prefix,
        }
    }

    /// Reads the state machine ARNs and the plan prefix from the environment.
    pub fn from_env(clients: Clients) -> Deps {
        let state_machines = HookStateMachines {
            canary: std::env::var("CANARY_STATE_MACHINE_ARN").unwrap_or_default(),
            post_traffic: std::env::var("POST_TRAFFIC_STATE_MACHINE_ARN").unwrap_or_default(),
        };
        Deps::new(&clients, state_machines, hookline::contract::plan_parameter_prefix_from_env())
    }
}

/// The execution this invocation started (or found already started).
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Output {
    pub execution_arn: String,
    pub state_machine_arn: String,
    pub event: HookEvent,
    pub already_started: bool,
}

/// What an invocation answers Lambda with.
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
    /// An ECS-native hook's answer (its `hookStatus` and more): ECS reads it from the return value.
    Ecs(Value),
}

/// Serves both controllers: ECS's hook payload (`lifecycleStage`, `resourceArn`) goes to
/// [`crate::ecs::handle`], which always answers; anything else is CodeDeploy's ([`handle`]).
#[cfg(test)]
pub async fn dispatch(deps: &Deps, event: Value) -> Result<Reply> {
    dispatch_until(deps, event, None).await
}

/// [`dispatch`] with the invocation's deadline: an ECS answer is given before it (ECS takes a
/// function that times out as FAILED and rolls back).
pub async fn dispatch_until(deps: &Deps, event: Value, deadline: Option<tokio::time::Instant>) -> Result<Reply> {
    if hookline::lifecycle::EcsNative::is_invocation(&event) {
        return Ok(Reply::Ecs(crate::ecs::handle_until(deps, event, deadline).await));
    }
    handle(deps, event).await
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
    async {
        let mut established = Established::default();
        match start(deps, &deployment_id, &execution_id, &mut established).await {
            Ok(Started::Execution(out)) => {
                info!(execution_arn = %out.execution_arn, event = out.event.as_str(), already_started = out.already_started, "execution started");
                Ok(Reply::Started(out))
            }
            Ok(Started::PassedThrough(reason)) => {
                // An error here (the report failed) leaves the hook unanswered: Lambda retries, then
                // the dead-letter consumer (`rollback`) reads the same admission and reports Succeeded.
                let reported = deps.lifecycle.report(&deployment_id, &execution_id, HookStatus::Succeeded).await?;
                info!(?reported, reason = %reason, "hook reported Succeeded: nothing started, no traffic moved");
                Ok(Reply::PassedThrough(PassedThrough {
                    reported: HookStatus::Succeeded,
                    already_reported: reported == Reported::Already,
                    reason,
                }))
            }
            Ok(Started::EventServedByAnother(other)) => {
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
                error!(error = %err, execution_status = %other.status, "invocation matches no hookline execution; not started, not reported");
                Err(err)
            }
            Err(err) => {
                error!(error = %err, error_type = err.error_type(), "could not start the execution; reporting the hook Failed");
                let lifecycle = deps.lifecycle.as_ref();
                // A late retry or duplicate delivery for a deployment that has ended: nobody waits for
                // the hook any more (the controller would refuse the answer as already given): no report.
                match lifecycle.status(&deployment_id).await {
                    Ok(status) if !status.is_active() => {
                        info!(status = %status, "deployment already ended; the hook needs no answer");
                        return Ok(Reply::ReportedFailed(ReportedFailed {
                            reported: HookStatus::Failed,
                            already_reported: true,
                            error_type: err.error_type(),
                            error: err.to_string(),
                        }));
                    }
                    Ok(_) => {}
                    Err(status_err) => warn!(error = %status_err, "deployment status unknown; reporting Failed anyway"),
                }
                match &established {
                    Established { event: Some(EventInProgress::Untouched), .. } => {
                        info!("production untouched for this event (before AllowTraffic, nothing started)");
                    }
                    Established { event: Some(EventInProgress::AfterAllowTraffic), routed: Some(ctx) } => {
                        // Blue 100%, no cohort rule, before the report makes CodeDeploy roll back.
                        if let Err(restore_err) = deps.routers.router(ctx).restore().await {
                            error!(error = %restore_err, "could not restore production to blue; the hook is not reported (Lambda retries, then the dead-letter consumer restores and reports)");
                            return Err(err);
                        }
                        info!("production restored to blue 100% with no cohort rule");
                    }
                    Established { event: Some(EventInProgress::AfterAllowTraffic), routed: None } => {
                        error!("AllowTraffic has moved production and its route is unknown (no plan read); the hook is not reported (Lambda retries, then the dead-letter consumer restores and reports)");
                        return Err(err);
                    }
                    Established { event: None, .. } => {
                        error!("which event is in progress, or whether an execution already serves it, is unknown; the hook is not reported (Lambda retries, then the dead-letter consumer checks, restores and reports)");
                        return Err(err);
                    }
                }
                match lifecycle.report(&deployment_id, &execution_id, HookStatus::Failed).await {
                    Ok(reported) => {
                        info!(?reported, "hook reported Failed");
                        Ok(Reply::ReportedFailed(ReportedFailed {
                            reported: HookStatus::Failed,
                            already_reported: reported == Reported::Already,
                            error_type: err.error_type(),
                            error: err.to_string(),
                        }))
                    }
                    Err(report_err) => {
                        error!(error = %report_err, "reporting the hook Failed failed too; the hook is unanswered");
                        Err(err)
                    }
                }
            }
        }
    }
    .instrument(span)
    .await
}

/// What an invocation came to, short of an error (which is reported `Failed`).
enum Started {
    /// The execution answering this hook execution id: started now or found.
    Execution(Output),
    /// The event in progress already has its execution, answering another hook execution id.
    EventServedByAnother(HookExecution),
    /// The deployment is passed through (the controller's own rollback): the hook is answered
    /// `Succeeded` without starting anything; why.
    PassedThrough(String),
}

fn already_started(found: &HookExecution) -> Started {
    Started::Execution(Output {
        execution_arn: found.execution_arn.clone(),
        state_machine_arn: found.state_machine_arn.clone(),
        event: found.event,
        already_started: true,
    })
}

/// What an invocation established before it failed: how far `hook` may go in answering `Failed`.
#[derive(Default)]
struct Established {
    /// The event in progress, once no execution serves it and this invocation carries its id.
    event: Option<EventInProgress>,
    /// The context with production's route, once the plan named it.
    routed: Option<DeploymentContext>,
}

/// The event in progress, as far as production's traffic goes.
#[derive(Clone, Copy)]
enum EventInProgress {
    /// BeforeAllowTraffic, or an event hookline does not serve: nobody has moved production for it.
    Untouched,
    /// AfterAllowTraffic: CodeDeploy's AllowTraffic has put production on green.
    AfterAllowTraffic,
}

/// Starts (or finds) the execution, recording in `established` what a failure may rely on.
async fn start(deps: &Deps, deployment_id: &str, execution_id: &str, established: &mut Established) -> Result<Started> {
    // First, before anything that needs the deployment still in progress: a duplicate or a
    // late retry of an invocation whose execution exists (running or ended) is done.
    let existing = hook_executions(&StepFunctions::new(deps.sfn.clone()), &deps.state_machines, deployment_id).await?;
    if let Some(found) = existing.iter().find(|e| e.serves(execution_id)) {
        info!(execution_arn = %found.execution_arn, event = found.event.as_str(), "this hook execution id already has its execution");
        return Ok(already_started(found));
    }

    // The deployment's BeforeAllowTraffic execution was started with the context and plan this
    // deployment runs with: the AfterAllowTraffic hook reuses them rather than resolving the
    // deployment group, the target groups and the plan again (one read of the target instead of
    // four reads plus the plan's), and both events then run one plan. Running counts too: CodeDeploy
    // may invoke the AfterAllowTraffic hook before Step Functions has closed the canary execution
    // whose Finalize task answered BeforeAllowTraffic. A canary that failed or was stopped is not
    // trusted with anything: the deployment is resolved afresh.
    let canary = existing
        .iter()
        .find(|e| {
            e.event == HookEvent::BeforeAllowTraffic && matches!(e.status, RunStatus::Running | RunStatus::Succeeded)
        })
        .and_then(|e| e.document.as_deref())
        .filter(|doc| doc.context.deployment_id == deployment_id)
        .cloned();
    let resolved = match &canary {
        Some(doc) => deps.lifecycle.resolve_known(&doc.context, Some(execution_id)).await?,
        None => {
            // Only a deployment with no running or succeeded canary can be one hookline passes
            // through: hookline starts nothing for those. Read before resolving anything else, so
            // such a hook is answered even when the rest of the deployment cannot be resolved.
            if let Some(reason) = passed_through(deps, deployment_id).await? {
                return Ok(Started::PassedThrough(reason));
            }
            deps.lifecycle.resolve(deployment_id, Some(execution_id)).await?
        }
    };
    let mut context = resolved.context;
    if resolved.in_progress_hook.is_none() {
        // Not an event hookline serves: it started nothing and moved no traffic for it.
        established.event = Some(EventInProgress::Untouched);
    }
    let event = resolved.in_progress_hook.ok_or_else(|| {
        Error::invalid(
            "lifecycle event",
            format!(
                "hookline answers BeforeAllowTraffic and AfterAllowTraffic; the event in progress is {}",
                resolved.in_progress_event.as_deref().unwrap_or("none")
            ),
        )
    })?;
    // CodeDeploy gives each lifecycle event one hook execution id. An execution of the event in
    // progress that answers another id was started by that id's invocation, while the event was in
    // progress: this id is then most likely a stale invocation of an event answered without a
    // hookline execution. Which one is which cannot be told from the opaque ids, so nothing starts.
    if let Some(other) = existing.into_iter().find(|e| e.event == event) {
        return Ok(Started::EventServedByAnother(other));
    }
    established.event = Some(match event {
        HookEvent::BeforeAllowTraffic => EventInProgress::Untouched,
        HookEvent::AfterAllowTraffic => EventInProgress::AfterAllowTraffic,
    });
    context.hook = Some(HookRef { kind: HookKind::Codedeploy, event, execution_id: execution_id.to_string() });

    let plan = match (canary, event) {
        (Some(doc), HookEvent::AfterAllowTraffic) => {
            // AfterAllowTraffic in progress means BeforeAllowTraffic was answered Succeeded, which in
            // hookline only the canary's finalize does, after removing the service's cohort rules
            // (a failed removal reports nothing and rolls back). After Finalize the canary machine
            // runs no task, and only canary steps make cohort rules: the post-traffic finalize has
            // none to look for. (A Succeeded given by hand mid-canary could leave one behind; it
            // forwards to green, now production, and the next deployment's canary finalize removes
            // it before its AllowTraffic.)
            context.cohort_rules_removed = true;
            doc.plan
        }
        _ => read_plan(deps, &mut context, established).await?,
    };
    context.set_production_rule(plan.traffic.production_rule_arn.clone());
    established.routed = Some(context.clone());

    // The hook's hour runs from when CodeDeploy started the lifecycle event, not from when
    // this invocation got to run: queueing and Lambda's async retries spend that hour too,
    // and the plan's budget (with the rollback reserve) must fit inside it.
    let now = now_epoch();
    let started_at = match resolved.in_progress_started_at {
        // Never later than now: a clock ahead of ours must not lengthen the budget.
        Some(event_started_at) => event_started_at.min(now),
        None => {
            warn!(
                event = event.as_str(),
                "the controller gives no start time for the event; the budget counts from now"
            );
            now
        }
    };
    let state_machine_arn = deps.state_machines.for_event(event);
    let state = match event {
        HookEvent::BeforeAllowTraffic => {
            RolloutState { index: 0, weight: 0, started_at, bake_until: None, judgements: Vec::new() }
        }
        // The post-traffic bake counts from the event's start too: production has been on
        // green since AllowTraffic ended, before this event began (and a bake past the
        // budget would only end in a rollback).
        HookEvent::AfterAllowTraffic => RolloutState {
            index: 0,
            weight: 100,
            started_at,
            bake_until: Some(started_at + i64::try_from(plan.post_traffic.bake_seconds).unwrap_or(0)),
            judgements: Vec::new(),
        },
    };
    if state_machine_arn.is_empty() {
        return Err(Error::invalid("environment", format!("the {} state machine ARN", event.as_str())));
    }
    let name = execution_name(deployment_id, event);
    let doc = ExecutionDocument { context, plan, state };
    let input = serde_json::to_string(&doc).map_err(|e| Error::invalid("execution input", e.to_string()))?;
    let started = deps.sfn.start_execution().state_machine_arn(state_machine_arn).name(&name).input(input).send().await;
    match started {
        Ok(out) => Ok(Started::Execution(Output {
            execution_arn: out.execution_arn().to_string(),
            state_machine_arn: state_machine_arn.to_string(),
            event,
            already_started: false,
        })),
        // Another invocation started it between our lookup and now: look at whom it answers.
        Err(e) if e.as_service_error().is_some_and(|s| s.is_execution_already_exists()) => {
            let existing =
                hook_executions(&StepFunctions::new(deps.sfn.clone()), &deps.state_machines, deployment_id).await?;
            match existing.into_iter().find(|e| e.event == event) {
                Some(found) if found.serves(execution_id) => Ok(already_started(&found)),
                Some(other) => Ok(Started::EventServedByAnother(other)),
                None => Err(Error::from_sdk("StartExecution", e)),
            }
        }
        Err(e) => Err(Error::from_sdk("StartExecution", e)),
    }
}

/// Why every hook of `deployment_id` is answered `Succeeded` without a canary, if it is.
///
/// A deployment CodeDeploy created to roll another back ([`Admission::Rollback`]) is answered
/// `Succeeded` at every hook, BeforeAllowTraffic and AfterAllowTraffic alike (and any other event
/// the function were named for), never `Failed`:
/// - its target is the revision production ran before the failed deployment ("CodeDeploy rolls back
///   deployments by redeploying a previously deployed revision of an application as a new
///   deployment", CodeDeploy user guide, Redeploy and roll back a deployment with CodeDeploy), and
///   CodeDeploy reroutes production to it itself: there is no new revision to canary, and the
///   deployment's other side is the one that just failed, which a canary would send users to;
/// - `Failed` would fail the rollback deployment itself, and nothing rolls a rollback back:
///   production would stay wherever the failed rollback left it (on the failed revision, or split
///   between the two), worse than letting CodeDeploy finish putting it back;
/// - at AfterAllowTraffic the rerouting is done and production is on the old revision: a bake that
///   judged it bad could only answer `Failed`, with the same effect.
///
/// A deployment creating a service ([`Admission::Creation`]) is answered the same way. Only ECS's
/// adapter says Creation or [`Admission::Strategy`]; a Strategy reaching this CodeDeploy path is
/// served as usual (the plan and routes decide).
async fn passed_through(deps: &Deps, deployment_id: &str) -> Result<Option<String>> {
    let admission = deps.lifecycle.admission(deployment_id).await?;
    if let Admission::Rollback { of } = &admission {
        info!(rollback_of = of.as_deref().unwrap_or("unknown"), "rollback deployment: no canary");
    }
    Ok(admission.pass_through())
}

/// The deployment's plan from SSM; when it does not validate but still names production's route,
/// `context` and `established` get the route (a failure report restores it first).
async fn read_plan(deps: &Deps, context: &mut DeploymentContext, established: &mut Established) -> Result<Plan> {
    let text = load_plan_text(deps, &context.application, &context.deployment_group).await?;
    match Plan::parse(&text) {
        Ok(plan) => Ok(plan),
        Err(problems) => {
            // A plan that no longer validates still says where production lives (as rollback reads it).
            if let Ok(rule) = Plan::production_rule_of(&text) {
                context.set_production_rule(rule);
                established.routed = Some(context.clone());
            }
            Err(problems.into())
        }
    }
}

async fn load_plan_text(deps: &Deps, application: &str, group: &str) -> Result<String> {
    plan_text(deps, &hookline::contract::plan_parameter(&deps.plan_parameter_prefix, application, group)).await
}

/// The text of the plan parameter `name` (either controller's path); a missing one is `InvalidInput`.
pub(crate) async fn plan_text(deps: &Deps, name: &str) -> Result<String> {
    let got = deps.ssm.get_parameter().name(name).send().await;
    let out = match got {
        Ok(out) => out,
        Err(e) if e.as_service_error().is_some_and(|s| s.is_parameter_not_found()) => {
            return Err(Error::invalid("plan", format!("an SSM parameter {name} holding the plan (not found)")));
        }
        Err(e) => return Err(e).aws("GetParameter"),
    };
    Ok(out.parameter().and_then(|p| p.value()).unwrap_or_default().to_string())
}

#[cfg(test)]
mod tests;
