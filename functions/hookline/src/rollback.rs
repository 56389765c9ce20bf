//! The operator's rollback (the console form of the `rollback` function, and
//! `hookline rollback`): one implementation, so a rollback does the same
//! thing whether Step Functions or a terminal asked for it, and works even
//! when Step Functions itself is impaired.
//!
//! Order: stop the deployment's running executions (so none of them moves
//! traffic after we restore it), stop the deployment with CodeDeploy's
//! rollback (so it ends `Stopped`, as a console stop does, rather than
//! `Failed` by a hook report), restore production to blue 100% with no
//! cohort rules, and answer the stopped executions' hooks `Failed` (once the
//! deployment has ended that counts as already done). A deployment that has
//! already `Succeeded` (before the call, or in a race with the stop) is left
//! alone: green is production then, and blue's tasks are going away.

use aws_sdk_sfn::types::ExecutionStatus;
use tracing::{info, warn};

use crate::error::AwsResultExt;
use crate::execution::{DeploymentContext, ExecutionDocument};
use crate::lifecycle::{HookStatus, Lifecycle, Reported};
use crate::plan::Plan;
use crate::traffic::TrafficRouter;
use crate::{Clients, Error, Result};

/// What a console rollback did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConsoleOutcome {
    /// Production is on blue 100%, cohort rules removed (false: the deployment had `Succeeded`).
    pub restored: bool,
    /// Executions this call stopped.
    pub stopped_executions: Vec<String>,
    /// Hooks of those executions reported `Failed` (now or earlier).
    pub reported: bool,
    /// At least one hook had already been answered.
    pub already_reported: bool,
    /// `Stopped` when this call stopped the deployment; its status when it had already ended.
    pub deployment_status: String,
}

/// Reports `Failed`. When the deployment has already ended nobody waits for the
/// hook any more, so an error then counts as done.
pub async fn report_failed(clients: &Clients, deployment_id: &str, execution_id: &str) -> Result<Reported> {
    let lifecycle = clients.lifecycle();
    match lifecycle.report(deployment_id, execution_id, HookStatus::Failed).await {
        Ok(r) => Ok(r),
        Err(e @ (Error::Throttled { .. } | Error::AwsTransient { .. })) => Err(e),
        Err(e) => {
            let status = lifecycle.status(deployment_id).await?;
            if status.is_active() {
                Err(e)
            } else {
                info!(status = %status.0, error = %e, "deployment already ended; the hook needs no answer");
                Ok(Reported::Already)
            }
        }
    }
}

/// Rolls a deployment back as an operator asks: stops its running executions of
/// `state_machine_arns` (names `<deployment-id>-...`), restores traffic, reports
/// their hooks `Failed`, stops the deployment with rollback. Safe to repeat.
pub async fn console(
    clients: &Clients,
    state_machine_arns: &[String],
    deployment_id: &str,
    reason: &str,
    plan_parameter_prefix: &str,
) -> Result<ConsoleOutcome> {
    let lifecycle = clients.lifecycle();
    let prefix = format!("{deployment_id}-");

    let mut stopped = Vec::new();
    let mut running_contexts = Vec::new();
    for sm in state_machine_arns {
        let list = clients
            .sfn
            .list_executions()
            .state_machine_arn(sm)
            .status_filter(ExecutionStatus::Running)
            .send()
            .await
            .aws("ListExecutions")?;
        for exec in list.executions().iter().filter(|e| e.name().starts_with(&prefix)) {
            let described = clients
                .sfn
                .describe_execution()
                .execution_arn(exec.execution_arn())
                .send()
                .await
                .aws("DescribeExecution")?;
            if let Some(doc) = described.input().and_then(|i| serde_json::from_str::<ExecutionDocument>(i).ok()) {
                running_contexts.push(doc.context);
            }
            match clients
                .sfn
                .stop_execution()
                .execution_arn(exec.execution_arn())
                .error("RolledBack")
                .cause(reason)
                .send()
                .await
            {
                Ok(_) => stopped.push(exec.execution_arn().to_string()),
                Err(e) if e.as_service_error().is_some_and(|s| s.is_execution_does_not_exist()) => {}
                Err(e) => return Err(Error::from_sdk("StopExecution", e)),
            }
        }
    }

    let ctx = match running_contexts.first() {
        Some(c) => c.clone(),
        None => {
            let mut ctx = lifecycle.resolve(deployment_id, None).await?.context;
            ctx.prod_rule_arn = production_rule(clients, &ctx, plan_parameter_prefix).await;
            ctx
        }
    };
    let status = lifecycle.status(deployment_id).await?;
    let stop = if status.is_active() { Some(lifecycle.stop_with_rollback(deployment_id).await) } else { None };
    let (deployment_status, stop_error) = match stop {
        Some(Ok(message)) => {
            info!(stop = %message, "deployment stopped with rollback");
            ("Stopped".to_string(), None)
        }
        // It ended on its own between our status read and the stop: go by how it ended.
        Some(Err(e)) if e.aws_code() == Some("DeploymentAlreadyCompletedException") => {
            (lifecycle.status(deployment_id).await?.0, None)
        }
        // Traffic and hooks are still put right when the stop was refused; the error is returned after.
        Some(Err(e)) => (status.0.clone(), Some(e)),
        None => (status.0.clone(), None),
    };
    let mut out = ConsoleOutcome { stopped_executions: stopped, deployment_status, ..ConsoleOutcome::default() };
    if out.deployment_status == "Succeeded" {
        // Green is production now and blue's tasks are being terminated:
        // "restoring" blue would send every request to a dying task set.
        warn!("deployment already Succeeded; production stays where it is (deploy the previous revision to go back)");
        return Ok(out);
    }

    clients.router(&ctx).restore().await?;
    out.restored = true;
    info!("production on blue 100%, cohort rules removed");
    for hook in running_contexts.iter().filter_map(|c| c.hook.as_ref()) {
        let reported = report_failed(clients, deployment_id, &hook.execution_id).await?;
        out.reported = true;
        out.already_reported |= reported == Reported::Already;
    }
    match stop_error {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

/// The plan's production rule, when the plan can be read; the listener otherwise.
pub async fn production_rule(clients: &Clients, ctx: &DeploymentContext, prefix: &str) -> Option<String> {
    let name = format!("{}/{}/{}", prefix.trim_end_matches('/'), ctx.application, ctx.deployment_group);
    let out = clients.ssm.get_parameter().name(name).send().await.ok()?;
    Plan::parse(out.parameter()?.value()?).ok()?.traffic.production_rule_arn
}
