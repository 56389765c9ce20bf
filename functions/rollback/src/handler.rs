//! The one way back. From a state machine's Catch it restores production to
//! blue 100%, removes cohort rules and reports the hook `Failed`, in that
//! order, and is safe to run again. From the console (`{"deployment_id"}`)
//! it first stops the deployment's running executions, then does the same,
//! and stops the deployment with CodeDeploy's rollback.

use hookline::execution::{DeploymentContext, ExecutionDocument};
use hookline::lifecycle::{HookStatus, Lifecycle, Reported};
use hookline::plan::Plan;
use hookline::runtime::parse_event;
use hookline::traffic::TrafficRouter;
use hookline::{Clients, Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tracing::{error, info, info_span, warn, Instrument};

use hookline::error::AwsResultExt;

/// What rollback needs, built once per container.
pub struct Deps {
    pub clients: Clients,
    /// The state machines whose executions a console rollback stops.
    pub state_machine_arns: Vec<String>,
}

impl Deps {
    /// Reads `CANARY_STATE_MACHINE_ARN` and `POST_TRAFFIC_STATE_MACHINE_ARN`.
    pub fn from_env(clients: Clients) -> Deps {
        let state_machine_arns = ["CANARY_STATE_MACHINE_ARN", "POST_TRAFFIC_STATE_MACHINE_ARN"]
            .iter()
            .filter_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
            .collect();
        Deps { clients, state_machine_arns }
    }
}

/// The console form: `{"deployment_id", "reason"}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleInput {
    pub deployment_id: String,
    #[serde(default)]
    pub reason: Option<String>,
}

/// What the rollback did.
#[derive(Debug, Serialize, PartialEq, Eq, Default)]
pub struct Output {
    pub restored: bool,
    /// `Failed` when a hook was reported (now or earlier), `null` when there was none.
    pub reported: Option<&'static str>,
    pub already_reported: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stopped_executions: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deployment_status: Option<String>,
}

/// Rolls back from a state machine (execution document + `error`) or from the console.
pub async fn handle(deps: &Deps, event: Value) -> Result<Output> {
    if event.get("context").is_some() {
        let error = event.get("error").cloned().unwrap_or(Value::Null);
        let doc: ExecutionDocument = parse_event(event)?;
        let span = info_span!("rollback", deployment_id = %doc.context.deployment_id);
        from_execution(deps, &doc.context, &error).instrument(span).await
    } else {
        let input: ConsoleInput = parse_event(event)?;
        if input.deployment_id.is_empty() {
            return Err(Error::invalid("deployment_id", "a CodeDeploy deployment id like d-ABCDEF123"));
        }
        let span = info_span!("rollback", deployment_id = %input.deployment_id);
        from_console(deps, &input).instrument(span).await
    }
}

async fn from_execution(deps: &Deps, ctx: &DeploymentContext, error: &Value) -> Result<Output> {
    warn!(cause = %error, "rolling back");
    // Restore first, report second: CodeDeploy acts on the report at once.
    let restored = deps.clients.router(ctx).restore().await;
    if let Err(e) = &restored {
        error!(error = %e, "restoring traffic failed; reporting Failed anyway so CodeDeploy's own rollback can act");
    }
    let mut out = Output { restored: restored.is_ok(), ..Output::default() };
    if let Some(hook) = &ctx.hook {
        let reported = report_failed(deps, &ctx.deployment_id, &hook.execution_id).await?;
        out.reported = Some("Failed");
        out.already_reported = reported == Reported::Already;
    }
    // An error here makes the state machine retry; restore and report are both idempotent.
    restored?;
    info!(already_reported = out.already_reported, "production on blue 100%, hook reported Failed");
    Ok(out)
}

/// Reports `Failed`. When the deployment has already ended nobody waits for the
/// hook any more, so an error then counts as done.
async fn report_failed(deps: &Deps, deployment_id: &str, execution_id: &str) -> Result<Reported> {
    let lifecycle = deps.clients.lifecycle();
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

async fn from_console(deps: &Deps, input: &ConsoleInput) -> Result<Output> {
    let reason = input.reason.clone().unwrap_or_else(|| "rolled back by an operator".into());
    let lifecycle = deps.clients.lifecycle();
    let prefix = format!("{}-", input.deployment_id);

    // Stop the executions first, so none of them moves traffic after we restore it.
    let mut stopped = Vec::new();
    let mut running_contexts = Vec::new();
    for sm in &deps.state_machine_arns {
        let list = deps
            .clients
            .sfn
            .list_executions()
            .state_machine_arn(sm)
            .status_filter(aws_sdk_sfn::types::ExecutionStatus::Running)
            .send()
            .await
            .aws("ListExecutions")?;
        for exec in list.executions().iter().filter(|e| e.name().starts_with(&prefix)) {
            let described = deps
                .clients
                .sfn
                .describe_execution()
                .execution_arn(exec.execution_arn())
                .send()
                .await
                .aws("DescribeExecution")?;
            if let Some(doc) = described.input().and_then(|i| serde_json::from_str::<ExecutionDocument>(i).ok()) {
                running_contexts.push(doc.context);
            }
            match deps
                .clients
                .sfn
                .stop_execution()
                .execution_arn(exec.execution_arn())
                .error("RolledBack")
                .cause(&reason)
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
            let mut ctx = lifecycle.resolve(&input.deployment_id, None).await?.context;
            ctx.prod_rule_arn = production_rule(deps, &ctx).await;
            ctx
        }
    };
    deps.clients.router(&ctx).restore().await?;
    info!("production on blue 100%, cohort rules removed");

    let mut out = Output { restored: true, stopped_executions: stopped, ..Output::default() };
    for hook in running_contexts.iter().filter_map(|c| c.hook.as_ref()) {
        let reported = report_failed(deps, &input.deployment_id, &hook.execution_id).await?;
        out.reported = Some("Failed");
        out.already_reported |= reported == Reported::Already;
    }

    let status = lifecycle.status(&input.deployment_id).await?;
    out.deployment_status = Some(if status.is_active() {
        let stop = lifecycle.stop_with_rollback(&input.deployment_id).await?;
        info!(stop = %stop, "deployment stopped with rollback");
        "Stopped".to_string()
    } else {
        status.0
    });
    Ok(out)
}

/// The plan's production rule, when the plan can be read; the listener otherwise.
async fn production_rule(deps: &Deps, ctx: &DeploymentContext) -> Option<String> {
    let prefix = std::env::var("PLAN_PARAMETER_PREFIX").unwrap_or_else(|_| "/hookline".into());
    let name = format!("{}/{}/{}", prefix.trim_end_matches('/'), ctx.application, ctx.deployment_group);
    let out = deps.clients.ssm.get_parameter().name(name).send().await.ok()?;
    Plan::parse(out.parameter()?.value()?).ok()?.traffic.production_rule_arn
}

#[cfg(test)]
mod tests;
