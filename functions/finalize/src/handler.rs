//! Ends a hook that went well: removes cohort rules, reports `Succeeded`,
//! and for AfterAllowTraffic records the release. Anything failing before
//! the report goes to the rollback path and is reported `Failed`; nothing
//! after it can fail.

use std::sync::Arc;

use hookline::contract::last_release_parameter;
use hookline::execution::{now_epoch, DeploymentContext, ExecutionDocument, HookEvent};
use hookline::lifecycle::{EventStatus, HookStatus, Lifecycle, Reported};
use hookline::ports::PlanStore;
use hookline::runtime::parse_event;
use hookline::traffic::RouterFactory;
use hookline::{Clients, Error, Result};
use serde::Serialize;
use serde_json::{json, Value};
use tracing::{info, info_span, warn, Instrument};

/// What finalize needs, built once per container, all ports: the deployment controller, the
/// production routes, and the plan store the release record goes to.
pub struct Deps {
    pub lifecycle: Arc<dyn Lifecycle>,
    pub routers: Arc<dyn RouterFactory>,
    pub plans: Arc<dyn PlanStore>,
    pub plan_parameter_prefix: String,
}

impl Deps {
    /// The AWS adapters, with plans under `plan_parameter_prefix`.
    pub fn new(clients: &Clients, plan_parameter_prefix: String) -> Deps {
        Deps {
            lifecycle: Arc::new(clients.lifecycle()),
            routers: Arc::new(clients.routers()),
            plans: Arc::new(clients.plans()),
            plan_parameter_prefix,
        }
    }

    /// Reads `PLAN_PARAMETER_PREFIX` (default `/hookline`).
    pub fn from_env(clients: Clients) -> Deps {
        Deps::new(&clients, hookline::contract::plan_parameter_prefix_from_env())
    }
}

/// The report made.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Output {
    pub reported: HookStatus,
    pub already_reported: bool,
    pub cohort_rules_removed: usize,
}

/// Finalizes the execution document's hook.
pub async fn handle(deps: &Deps, event: Value) -> Result<Output> {
    let doc: ExecutionDocument = parse_event(event)?;
    let ctx = &doc.context;
    let hook = ctx.hook.clone().ok_or_else(|| Error::invalid("context.hook", "the lifecycle hook to report"))?;
    async {
        // A failure up to the report still goes to rollback and reports Failed.
        // After AllowTraffic, `hook` marks the context when this deployment's canary execution
        // succeeded: its finalize removed the cohort rules before reporting, and only a canary
        // step creates one, so the listener's rules need no second look (DescribeRules, and
        // DescribeTags when it has rules, share ELBv2's Describe* quota with every deployment).
        let removed = if hook.event == HookEvent::PostTraffic && ctx.cohort_rules_removed {
            0
        } else {
            deps.routers.router(ctx).remove_cohorts().await?
        };
        let reported = deps.lifecycle.report(&ctx.deployment_id, &hook.execution_id, HookStatus::Succeeded).await?;
        if reported == Reported::Already {
            // "Already answered" is success only when the answer was ours (an earlier try of this
            // call got through). A hook closed by a stop or a failure was not: production is where
            // the canary left it (green, perhaps 100%) while the controller tears green down, so
            // this goes to the rollback path, which puts blue back.
            let event = deps.lifecycle.event_status(ctx, hook.event).await?;
            if event != Some(EventStatus::Succeeded) {
                warn!(event = hook.event.as_str(), status = ?event, "the hook was closed without our Succeeded");
                return Err(Error::DeploymentStopped {
                    deployment_id: ctx.deployment_id.clone(),
                    status: format!("{} closed as {event:?} before finalize reported", hook.event.as_str()),
                });
            }
        }
        info!(event = hook.event.as_str(), ?reported, cohort_rules_removed = removed, "hook reported Succeeded");
        // Nothing after a Succeeded report may fail: a rollback now would move
        // production back to a task set CodeDeploy is about to terminate. So
        // the release record is written only for a release that passed, and
        // best effort.
        if hook.event == HookEvent::PostTraffic {
            record_release(deps, ctx).await;
        }
        Ok(Output {
            reported: HookStatus::Succeeded,
            already_reported: reported == Reported::Already,
            cohort_rules_removed: removed,
        })
    }
    .instrument(info_span!("finalize", deployment_id = %ctx.deployment_id))
    .await
}

#[cfg(test)]
mod tests;

/// Writes `<prefix>/<application>/<group>/last-release`; a failure is logged, not returned.
async fn record_release(deps: &Deps, ctx: &DeploymentContext) {
    let name = last_release_parameter(&deps.plan_parameter_prefix, &ctx.application, &ctx.deployment_group);
    let record = json!({
        "deployment_id": ctx.deployment_id,
        "finished_at": now_epoch(),
        "target_group": ctx.green.target_group_name,
        "task_set": ctx.green.task_set_arn,
    });
    match deps.plans.put_release_record(&name, &record.to_string()).await {
        Ok(_) => info!(parameter = %name, "release recorded"),
        Err(e) => warn!(parameter = %name, error = %e, "release not recorded (the deployment itself succeeded)"),
    }
}
