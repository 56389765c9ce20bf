//! A lifecycle hook's start, for every controller: find the state machine execution that answers
//! the hook, or resolve the deployment, read its plan and start it ([`start_hook`]).
//!
//! The controller's entry point (the `hook` function's CodeDeploy and ECS modules) translates its
//! payload into a [`HookInvocation`] and the [`HookStart`] (or [`StartFailure`]) into its answer:
//! CodeDeploy's is a report through [`Lifecycle::report`], ECS's the function's return value.
//!
//! An invocation is matched to the hook it carries, not to whichever event happens to be in
//! progress: controllers deliver hook invocations at least once and retry them, so a
//! BeforeAllowTraffic invocation may arrive again after the deployment moved on. Before starting
//! anything the flow looks up the deployment's executions (found by name: deployment and event);
//! one that answers this invocation means "already started" ([`HookStart::Found`]).
//!
//! A failure reports what it had established ([`Established`]): whether production was moved by
//! the controller for the event, and where production's route is. A `Failed` answer makes the
//! controller roll back at once, so production must be on blue 100% with no cohort rule before it
//! lands: [`StartFailure::make_production_safe`] restores it when it can, and says when it cannot.

use std::sync::Arc;

use tracing::{info, warn};

use crate::contract::{plan_parameter, ROLLBACK_RESERVE_SECONDS};
use crate::execution::{
    execution_name, now_epoch, DeploymentContext, ExecutionDocument, HookEvent, HookRef, HookStateMachines,
    RolloutState,
};
use crate::flows::hook_executions::{hook_execution, hook_executions, HookExecution};
use crate::lifecycle::Admission;
use crate::plan::{human, Controller, Plan};
use crate::ports::{Executions, Lifecycle, PlanStore, RouterFactory, RunStatus, StartOutcome};
use crate::traffic::Weights;
use crate::{Error, Result};

/// What a hook's start reaches the world through: the ports, the two hook state machines and
/// where plans live.
pub struct HookDeps {
    /// The deployment controller (admission, context, status, reports).
    pub lifecycle: Arc<dyn Lifecycle>,
    /// The state machine executions that answer hooks.
    pub executions: Arc<dyn Executions>,
    /// Where the plans are stored.
    pub plans: Arc<dyn PlanStore>,
    /// Production's routes: read for the cross-check, restored before a `Failed` answer.
    pub routers: Arc<dyn RouterFactory>,
    pub state_machines: HookStateMachines,
    pub plan_parameter_prefix: String,
}

/// One hook invocation, in hookline's words (the entry point's translation of its payload).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookInvocation {
    pub controller: Controller,
    pub deployment_id: String,
    /// The controller's opaque id of the invocation (never parsed).
    pub execution_id: String,
    /// The event the invocation names, when the controller names it (ECS's `lifecycleStage`);
    /// `None`: the event in progress, as [`Lifecycle::resolve`] reads it (CodeDeploy).
    ///
    /// It also says how an invocation is matched to its execution. A controller that names the
    /// event gives every invocation a fresh id (ECS's `executionId` changes on each call, retries
    /// included): the event's execution, found by name, is this hook's. One that does not gives
    /// each hook one id, which the execution's document carries (`context.hook.execution_id`).
    pub event: Option<HookEvent>,
    /// Check the controller's reading of blue and green against the live production route before
    /// anything starts (ECS reads them from the service revisions' `resolvedConfiguration`, which
    /// can disagree with the rule ECS actually shifts): a disagreement is [`Refusal::SidesDisagree`].
    pub cross_check_route: bool,
}

impl HookInvocation {
    /// `execution` answers this invocation (see [`HookInvocation::event`]).
    fn answered_by(&self, execution: &HookExecution) -> bool {
        match self.event {
            Some(event) => execution.event == event,
            None => execution.serves(&self.execution_id),
        }
    }
}

/// What a hook's start came to, short of an error.
#[derive(Debug, Clone, PartialEq)]
pub enum HookStart {
    /// The execution answering this hook: started now, or started by a racing invocation of the
    /// same hook between the lookup and the start.
    Started(StartedExecution),
    /// This hook's execution existed before this invocation (running or ended).
    Found(HookExecution),
    /// The event already has its execution, answering another hook execution id: this one is most
    /// likely a stale invocation of a hook already answered. Nothing started; not to be answered
    /// `Failed` (that execution may have production split).
    ServedByAnother(HookExecution),
    /// The deployment is passed through ([`Admission::pass_through`]: a creation, the controller's
    /// own rollback): the hook is answered `Succeeded` without starting anything; why.
    ///
    /// A deployment the controller created to roll another back ([`Admission::Rollback`]) is
    /// answered `Succeeded` at every hook, BeforeAllowTraffic and AfterAllowTraffic alike, never
    /// `Failed`:
    /// - its target is the revision production ran before the failed deployment ("CodeDeploy rolls
    ///   back deployments by redeploying a previously deployed revision of an application as a new
    ///   deployment", CodeDeploy user guide, Redeploy and roll back a deployment with CodeDeploy),
    ///   and the controller reroutes production to it itself: there is no new revision to canary,
    ///   and the deployment's other side is the one that just failed, which a canary would send
    ///   users to;
    /// - `Failed` would fail the rollback deployment itself, and nothing rolls a rollback back:
    ///   production would stay wherever the failed rollback left it (on the failed revision, or
    ///   split between the two), worse than letting the controller finish putting it back;
    /// - at AfterAllowTraffic the rerouting is done and production is on the old revision: a bake
    ///   that judged it bad could only answer `Failed`, with the same effect.
    ///
    /// A deployment creating a service ([`Admission::Creation`]) is answered the same way: there
    /// is no blue to canary against.
    PassedThrough(String),
    /// hookline will not run this deployment; nothing started, nothing moved by hookline.
    Refused(Refusal),
}

/// The execution a hook's start began (or found begun by a racing invocation of the same hook).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartedExecution {
    pub execution_arn: String,
    pub state_machine_arn: String,
    pub event: HookEvent,
    /// Started by another invocation of the same hook between the lookup and the start.
    pub already_started: bool,
    /// The plan's health interval, seconds: how often the execution looks at green.
    pub health_interval_seconds: u64,
}

/// Why hookline refuses a deployment before starting or moving anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The deployment's strategy shifts production in the controller's own steps
    /// ([`Admission::Strategy`]); its name.
    Strategy(String),
    /// The controller's blue and green disagree with the live production route: at `event`, the
    /// route should forward `expected` and forwards `found`.
    SidesDisagree { context: Box<DeploymentContext>, event: HookEvent, expected: Weights, found: String },
}

/// Where production stood, for the event this invocation answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProductionAtEvent {
    /// Nobody has moved production for it (BeforeAllowTraffic, or an event hookline does not serve).
    Untouched,
    /// The controller has put production on green before the event (CodeDeploy's AllowTraffic,
    /// ECS's PRODUCTION_TRAFFIC_SHIFT): AfterAllowTraffic.
    OnGreen,
}

impl ProductionAtEvent {
    fn of(event: HookEvent) -> ProductionAtEvent {
        match event {
            HookEvent::PreTraffic => ProductionAtEvent::Untouched,
            HookEvent::PostTraffic => ProductionAtEvent::OnGreen,
        }
    }
}

/// What a start established before it failed: how far a `Failed` answer may go.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Established {
    /// Set once the event this invocation answers is known and no execution answers it for
    /// another id.
    pub event: Option<ProductionAtEvent>,
    /// The context with production's route, once known: from the deployment when it names the
    /// route's rule itself, else once the plan has been read.
    pub routed: Option<DeploymentContext>,
}

/// A start that failed, with what it had established.
#[derive(Debug)]
pub struct StartFailure {
    pub error: Error,
    pub established: Established,
}

/// Whether a `Failed` answer may land now ([`StartFailure::make_production_safe`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailSafety {
    /// Nobody has moved production for this event.
    Untouched,
    /// The controller had put production on green; it is back on blue 100% with no cohort rule.
    Restored,
    /// The controller has put production on green and its route is unknown: nothing restored.
    RouteUnknown,
    /// Which event this is, or whether an execution already answers it, is unknown.
    EventUnknown,
}

impl StartFailure {
    /// Puts production on blue 100% with no cohort rule when the controller had moved it and its
    /// route is known, and says whether a `Failed` answer finds production safe. A failed restore
    /// is its error (the answer waits: the caller tries again).
    pub async fn make_production_safe(&self, routers: &dyn RouterFactory) -> Result<FailSafety> {
        match &self.established {
            Established { event: None, .. } => Ok(FailSafety::EventUnknown),
            Established { event: Some(ProductionAtEvent::Untouched), .. } => Ok(FailSafety::Untouched),
            Established { event: Some(ProductionAtEvent::OnGreen), routed: None } => Ok(FailSafety::RouteUnknown),
            Established { event: Some(ProductionAtEvent::OnGreen), routed: Some(ctx) } => {
                routers.router(ctx).restore().await?;
                info!("production restored to blue 100% with no cohort rule");
                Ok(FailSafety::Restored)
            }
        }
    }
}

/// Finds or starts the execution that answers `invocation`.
pub async fn start_hook(deps: &HookDeps, invocation: &HookInvocation) -> std::result::Result<HookStart, StartFailure> {
    let mut established = Established::default();
    match start(deps, invocation, &mut established).await {
        Ok(started) => Ok(started),
        Err(error) => Err(StartFailure { error, established }),
    }
}

/// The state machine answering `event`; an unset one is a configuration error.
fn machine(deps: &HookDeps, event: HookEvent) -> Result<&str> {
    let machine = deps.state_machines.for_event(event);
    if machine.is_empty() {
        return Err(Error::invalid("environment", format!("the {} state machine ARN", event.as_str())));
    }
    Ok(machine)
}

/// The deployment's hook executions that exist: the named event's only, else both.
async fn lookup(deps: &HookDeps, invocation: &HookInvocation) -> Result<Vec<HookExecution>> {
    let executions = deps.executions.as_ref();
    match invocation.event {
        Some(event) => {
            let found = hook_execution(executions, machine(deps, event)?, &invocation.deployment_id, event).await?;
            Ok(found.into_iter().collect())
        }
        None => hook_executions(executions, &deps.state_machines, &invocation.deployment_id).await,
    }
}

/// Starts (or finds) the execution, recording in `established` what a failure may rely on.
async fn start(deps: &HookDeps, invocation: &HookInvocation, established: &mut Established) -> Result<HookStart> {
    let deployment_id = invocation.deployment_id.as_str();
    // First, before anything that needs the deployment still in progress: a duplicate or a
    // late retry of an invocation whose execution exists (running or ended) is done.
    let existing = lookup(deps, invocation).await?;
    if let Some(found) = existing.iter().find(|e| invocation.answered_by(e)) {
        info!(execution_arn = %found.execution_arn, event = found.event.as_str(), "this hook already has its execution");
        return Ok(HookStart::Found(found.clone()));
    }
    if let Some(event) = invocation.event {
        // Named by the controller, and no execution of it exists.
        established.event = Some(ProductionAtEvent::of(event));
    }

    // The deployment's BeforeAllowTraffic execution was started with the context and plan this
    // deployment runs with: the AfterAllowTraffic hook reuses them rather than resolving the
    // deployment again (CodeDeploy: one read of the target instead of four plus the plan's), and
    // both events then run one plan. Running counts too: the controller may invoke the
    // AfterAllowTraffic hook before Step Functions has closed the canary execution whose Finalize
    // task answered BeforeAllowTraffic. A canary that failed or was stopped is not trusted with
    // anything: the deployment is resolved afresh. (Only found when the lookup covered both events.)
    let canary = existing
        .iter()
        .find(|e| e.event == HookEvent::PreTraffic && matches!(e.status, RunStatus::Running | RunStatus::Succeeded))
        .and_then(|e| e.document.as_deref())
        .filter(|doc| doc.context.deployment_id == deployment_id)
        .cloned();
    // `None`: the adapter sets no hook reference; this flow sets it, below, once the event is known.
    let resolved = match &canary {
        Some(doc) => deps.lifecycle.resolve_known(&doc.context, None).await?,
        None => {
            // Only a deployment with no running or succeeded canary can be one hookline passes
            // through or refuses: read before resolving anything else, so such a hook is answered
            // even when the rest of the deployment cannot be resolved.
            match deps.lifecycle.admission(deployment_id).await? {
                Admission::Serve => {}
                Admission::Strategy(strategy) => return Ok(HookStart::Refused(Refusal::Strategy(strategy))),
                // Gate mode is served at the stage before each of the controller's steps
                // (`flows::gate`), never at the stages where hookline's canary shifts production.
                Admission::Gate(steps) => return Ok(HookStart::Refused(Refusal::Strategy(steps.strategy))),
                passed @ (Admission::Creation | Admission::Rollback { .. }) => {
                    if let Admission::Rollback { of } = &passed {
                        info!(rollback_of = of.as_deref().unwrap_or("unknown"), "rollback deployment: no canary");
                    }
                    return Ok(HookStart::PassedThrough(passed.pass_through().unwrap_or_default()));
                }
            }
            deps.lifecycle.resolve(deployment_id, None).await?
        }
    };
    let mut context = resolved.context;
    // A rule the deployment names is production's route whatever the plan says (an ECS plan may
    // not name one); a listener alone may be narrowed to a rule by the plan, read below.
    if context.production.rule_arn().is_some() {
        established.routed = Some(context.clone());
    }
    let event = match (invocation.event, resolved.in_progress_hook) {
        (Some(event), _) | (None, Some(event)) => event,
        (None, None) => {
            // Not an event hookline serves: it started nothing and moved no traffic for it.
            established.event = Some(ProductionAtEvent::Untouched);
            return Err(Error::invalid(
                "lifecycle event",
                format!(
                    "hookline answers BeforeAllowTraffic and AfterAllowTraffic; the event in progress is {}",
                    resolved.in_progress_event.as_deref().unwrap_or("none")
                ),
            ));
        }
    };
    // The controller gives each lifecycle event one hook execution id. An execution of the event
    // in progress that answers another id was started by that id's invocation, while the event was
    // in progress: this id is then most likely a stale invocation of an event answered without a
    // hookline execution. Which one is which cannot be told from the opaque ids, so nothing starts.
    if let Some(other) = existing.into_iter().find(|e| e.event == event) {
        return Ok(HookStart::ServedByAnother(other));
    }
    established.event = Some(ProductionAtEvent::of(event));
    // The one place the hook an execution answers is set.
    context.hook = Some(HookRef { kind: invocation.controller, event, execution_id: invocation.execution_id.clone() });
    if invocation.cross_check_route {
        if let Some(refusal) = sides_disagree(deps, &context, event).await? {
            return Ok(HookStart::Refused(refusal));
        }
    }

    let plan = match (canary, event) {
        (Some(doc), HookEvent::PostTraffic) => {
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
        _ => read_plan(deps, invocation.controller, &mut context, established).await?,
    };
    if let Some(rule) = &plan.traffic.production_rule_arn {
        context.set_production_rule(Some(rule.clone()));
    }
    established.routed = Some(context.clone());
    if let Some(expires_at) = resolved.hook_expires_at {
        fits_before_expiry(&plan, expires_at)?;
    }

    // The hook's time runs from when the controller started the lifecycle event, not from when
    // this invocation got to run: queueing and the controller's retries spend it too, and the
    // plan's budget (with the rollback reserve) must fit inside it.
    let now = now_epoch();
    let started_at = match resolved.in_progress_started_at {
        // Never later than now: a clock ahead of ours must not lengthen the budget.
        Some(event_started_at) => event_started_at.min(now),
        None => {
            info!(
                event = event.as_str(),
                "the controller gives no start time for the event; the budget counts from now"
            );
            now
        }
    };
    let state = RolloutState {
        index: 0,
        weight: match event {
            HookEvent::PreTraffic => 0,
            HookEvent::PostTraffic => 100,
        },
        started_at,
        // The post-traffic bake counts from the event's start too: production has been on green
        // since the controller moved it, before this event began (and a bake past the budget
        // would only end in a rollback).
        bake_until: (event == HookEvent::PostTraffic)
            .then(|| started_at + i64::try_from(plan.post_traffic.bake_seconds).unwrap_or(0)),
        judgements: Vec::new(),
    };
    let state_machine_arn = machine(deps, event)?;
    let health_interval_seconds = plan.health.interval_seconds;
    let name = execution_name(deployment_id, event);
    let doc = ExecutionDocument { context, plan, state };
    let input = serde_json::to_string(&doc).map_err(|e| Error::invalid("execution input", e.to_string()))?;
    let started = |execution_arn: String, state_machine_arn: String, already_started: bool| {
        HookStart::Started(StartedExecution {
            execution_arn,
            state_machine_arn,
            event,
            already_started,
            health_interval_seconds,
        })
    };
    match deps.executions.start(state_machine_arn, &name, &input).await? {
        StartOutcome::Started(arn) => {
            info!(execution_arn = %arn, event = event.as_str(), "execution started");
            Ok(started(arn, state_machine_arn.to_string(), false))
        }
        // Another invocation started it between our lookup and now: look at whom it answers.
        StartOutcome::AlreadyExists(arn) => {
            match hook_execution(deps.executions.as_ref(), state_machine_arn, deployment_id, event).await? {
                Some(found) if invocation.answered_by(&found) => {
                    Ok(started(found.execution_arn, found.state_machine_arn, true))
                }
                Some(other) => Ok(HookStart::ServedByAnother(other)),
                None => Err(Error::AwsPermanent {
                    operation: "StartExecution",
                    code: Some("ExecutionAlreadyExists".into()),
                    message: format!("{arn} exists, yet cannot be described"),
                }),
            }
        }
    }
}

/// The plan of the deployment's service (`<prefix>/<application>/<group>`), validated for the
/// controller; when it does not validate but still names production's route, `context` and
/// `established` get the route (a failure restores it first), unless the deployment named it.
async fn read_plan(
    deps: &HookDeps,
    controller: Controller,
    context: &mut DeploymentContext,
    established: &mut Established,
) -> Result<Plan> {
    let parameter = plan_parameter(&deps.plan_parameter_prefix, &context.application, &context.deployment_group);
    let text =
        deps.plans.plan_text(&parameter).await?.ok_or_else(|| {
            Error::invalid("plan", format!("an SSM parameter {parameter} holding the plan (not found)"))
        })?;
    match Plan::parse_for(&text, controller) {
        Ok(plan) => Ok(plan),
        Err(problems) => {
            // A plan that no longer validates still says where production lives (as rollback reads it).
            if established.routed.is_none() {
                if let Ok(rule) = Plan::production_rule_of(&text) {
                    context.set_production_rule(rule);
                    established.routed = Some(context.clone());
                }
            }
            Err(problems.into())
        }
    }
}

/// The controller may time the hook out sooner than its general limit (an ECS hook's
/// `timeoutConfiguration`): a plan that cannot end (with the rollback reserve) before then would be
/// rolled back by the controller mid-canary, which undoes only its own shifts. Refused as invalid
/// input before anything moves.
pub(crate) fn fits_before_expiry(plan: &Plan, expires_at: i64) -> Result<()> {
    let left = u64::try_from(expires_at - now_epoch()).unwrap_or(0);
    let needed = plan.hook_budget_seconds.saturating_add(ROLLBACK_RESERVE_SECONDS);
    if needed <= left {
        return Ok(());
    }
    Err(Error::invalid(
        "hook_budget",
        format!(
            "at most {} for this hook ({} s left before its timeoutConfiguration ends it, less the {} s \
             rollback reserve), got {}: shorten the plan or raise timeoutInMinutes",
            human(left.saturating_sub(ROLLBACK_RESERVE_SECONDS)),
            left,
            ROLLBACK_RESERVE_SECONDS,
            human(plan.hook_budget_seconds)
        ),
    ))
}

/// Cross-checks the controller's reading of blue and green against the live production route:
/// when the canary starts, blue serves 100%; after the controller's production shift, green does.
/// A refusal naming the live reading when they disagree (or the route forwards to a group of
/// neither side); an error when the route cannot be read (the caller tries again).
async fn sides_disagree(deps: &HookDeps, ctx: &DeploymentContext, event: HookEvent) -> Result<Option<Refusal>> {
    let expected = match event {
        HookEvent::PreTraffic => Weights::BLUE_ONLY,
        HookEvent::PostTraffic => Weights::green(100),
    };
    let found = match deps.routers.router(ctx).weights().await {
        Ok(live) if live == expected => return Ok(None),
        Ok(live) => live.to_string(),
        Err(Error::TrafficDrift { found, .. }) => found,
        Err(other) => return Err(other),
    };
    warn!(expected = %expected, found = %found, "the controller's blue and green disagree with the live route");
    Ok(Some(Refusal::SidesDisagree { context: Box::new(ctx.clone()), event, expected, found }))
}

#[cfg(test)]
mod tests;
