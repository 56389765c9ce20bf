//! The one way back. From a state machine's Catch it restores production to
//! blue 100%, removes cohort rules and reports the hook `Failed`, in that
//! order, and is safe to run again. From the console (`{"deployment_id"}`)
//! it first stops the deployment's running executions, then does the same,
//! and stops the deployment with CodeDeploy's rollback.

use hookline::execution::{DeploymentContext, ExecutionDocument};
use hookline::lifecycle::Reported;
use hookline::runtime::parse_event;
use hookline::traffic::TrafficRouter;
use hookline::{Clients, Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tracing::{error, info, info_span, warn, Instrument};

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

async fn report_failed(deps: &Deps, deployment_id: &str, execution_id: &str) -> Result<Reported> {
    hookline::rollback::report_failed(&deps.clients, deployment_id, execution_id).await
}

async fn from_console(deps: &Deps, input: &ConsoleInput) -> Result<Output> {
    let reason = input.reason.clone().unwrap_or_else(|| "rolled back by an operator".into());
    let prefix = std::env::var("PLAN_PARAMETER_PREFIX").unwrap_or_else(|_| "/hookline".into());
    let done =
        hookline::rollback::console(&deps.clients, &deps.state_machine_arns, &input.deployment_id, &reason, &prefix)
            .await?;
    Ok(Output {
        restored: done.restored,
        reported: done.reported.then_some("Failed"),
        already_reported: done.already_reported,
        stopped_executions: done.stopped_executions,
        deployment_status: Some(done.deployment_status),
    })
}

#[cfg(test)]
mod tests;
