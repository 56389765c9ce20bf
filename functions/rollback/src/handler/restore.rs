//! The rollback of one execution's deployment: restore production to blue 100% with no cohort
//! rule, then report the hook `Failed`. Shared by the state machines' Catch, the EventBridge safety
//! net (both in the handler) and the dead-letter consumer, which all take it from here.

use hookline::execution::DeploymentContext;
use hookline::lifecycle::{EventStatus, HookStatus, Reported};
use hookline::Result;
use serde::Serialize;
use serde_json::Value;
use tracing::{error, info, warn};

use super::deps::Deps;

/// What the rollback did.
#[derive(Debug, Serialize, PartialEq, Eq, Default)]
pub struct Output {
    pub restored: bool,
    /// `Failed` when a hook was reported (now or earlier), `null` when there was none.
    pub reported: Option<HookStatus>,
    pub already_reported: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stopped_executions: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployment_status: Option<String>,
    /// Seconds to wait before invoking the rollback again, which then finishes the end's work
    /// ([`hookline::contract::DRAIN_SECONDS`]; hookline's own Route 53 releases: green keeps its
    /// tasks while resolvers may still answer green). The state machines wait it out in a `Wait`
    /// state; absent when nothing is left to wait for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drain_seconds: Option<u64>,
}

/// When a rollback that could not restore production reports the hook anyway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReportWhen {
    /// Only once production is back on blue 100% with no cohort rule: another attempt
    /// follows, and CodeDeploy acts on a report at once (its own rollback does not undo
    /// hookline's weights or rules), so an early `Failed` would leave users on a green
    /// that is being torn down.
    Restored,
    /// Now, restored or not: no attempt follows, and an unanswered hook stalls the
    /// deployment for CodeDeploy's hour.
    Always,
}

pub(crate) async fn from_execution(
    deps: &Deps,
    ctx: &DeploymentContext,
    error: &Value,
    report: ReportWhen,
) -> Result<Output> {
    if let Some(hook) = &ctx.hook {
        // A hook that already reported Succeeded handed traffic back to
        // CodeDeploy, which may be terminating blue: restoring blue now would
        // send production to a dying task set. (finalize cannot fail after
        // its report, but a crash or a late retry could still land here.)
        // hookline's own controller's report is followed by work of its own (the old release's
        // scale-down): when that is what failed, the success is finished here, not undone; an
        // error makes the state machine retry this (docs/route53-controller.md, decision 19).
        if deps.lifecycle.event_status(ctx, hook.event).await? == Some(EventStatus::Succeeded) {
            let finished = deps.lifecycle.finish_end(&ctx.deployment_id).await?;
            warn!(cause = %error, event = hook.event.as_str(), finished,
                  "hook already Succeeded; leaving traffic where the success put it");
            return Ok(Output { already_reported: true, ..Output::default() });
        }
    }
    warn!(cause = %error, "rolling back");
    // Restore first, report second: CodeDeploy acts on the report at once.
    let restored = deps.routers.router(ctx).restore().await;
    match (&restored, report) {
        (Err(e), ReportWhen::Restored) => {
            warn!(error = %e, "restoring traffic failed; the hook is reported once a retry has restored it");
            return Err(e.clone());
        }
        (Err(e), ReportWhen::Always) => error!(error = %e, "restoring traffic failed; reporting Failed anyway"),
        (Ok(()), _) => {}
    }
    let mut out = Output { restored: restored.is_ok(), ..Output::default() };
    if let Some(hook) = &ctx.hook {
        let reported = report_failed(deps, &ctx.deployment_id, &hook.execution_id).await?;
        out.reported = Some(HookStatus::Failed);
        out.already_reported = reported == Reported::Already;
    }
    // An error here makes the state machine retry; restore and report are both idempotent.
    restored?;
    if ctx.hook.is_some() {
        out.drain_seconds = deps.lifecycle.drain_seconds(&ctx.deployment_id).await?;
    }
    info!(already_reported = out.already_reported, "production on blue 100%, hook reported Failed");
    Ok(out)
}

/// The rollback of a gate-mode execution (`plan.gate`, docs/design.md "ECS gate mode"): ECS shifted
/// production in its own steps and its rollback undoes them; hookline wrote no rule and restores
/// none (a write now would race ECS's). The hook is answered `Failed` (for ECS, by how the
/// execution ends), and ECS rolls back.
pub(crate) async fn gate_failed(deps: &Deps, ctx: &DeploymentContext, error: &Value) -> Result<Output> {
    warn!(cause = %error, "gate failed; production is ECS's to roll back, no rule touched");
    let mut out = Output::default();
    if let Some(hook) = &ctx.hook {
        let reported = report_failed(deps, &ctx.deployment_id, &hook.execution_id).await?;
        out.reported = Some(HookStatus::Failed);
        out.already_reported = reported == Reported::Already;
    }
    Ok(out)
}

pub(crate) async fn report_failed(deps: &Deps, deployment_id: &str, execution_id: &str) -> Result<Reported> {
    hookline::rollback::report_failed(deps.lifecycle.as_ref(), deployment_id, execution_id).await
}

/// For a path with nothing to wait with (the safety net, the dead-letter consumer): ends a drain the
/// rollback just started, or one an execution stopped during its `Wait` left behind, and finishes the
/// end's work with another `Failed` report. Scaling green down while resolvers may still answer it is
/// the lesser harm: nothing would ever scale it otherwise.
pub(crate) async fn finish_without_waiting(deps: &Deps, ctx: &DeploymentContext, out: &mut Output) -> Result<()> {
    let Some(hook) = &ctx.hook else { return Ok(()) };
    if hook.kind != hookline::lifecycle::Controller::Route53 {
        return Ok(());
    }
    if let Some(left) = deps.lifecycle.drain_seconds(&ctx.deployment_id).await? {
        warn!(left, "no state machine waits for this rollback: green is emptied now, not after the drain");
        deps.lifecycle.cut_drain_short(&ctx.deployment_id).await?;
    }
    report_failed(deps, &ctx.deployment_id, &hook.execution_id).await?;
    out.drain_seconds = None;
    Ok(())
}
