//! The hook's dependencies (ports only) and the dispatch of an invocation to its controller's
//! entry: ECS's hook payload (`lifecycleStage`, `resourceArn`) to [`crate::ecs`], anything else
//! to [`crate::codedeploy`].

use std::sync::Arc;

use hookline::execution::HookStateMachines;
use hookline::lifecycle::EcsNative;
use hookline::{Clients, Result};
use serde::Serialize;
use serde_json::Value;

/// What the hook function needs, built once per container: the ports of the hook's start (the
/// deployment controller, the executions, the plans, the production routes), the state machine
/// ARNs and the plan prefix.
pub type Deps = hookline::flows::hook_start::HookDeps;

/// The AWS adapters, for `state_machines` and plans under `plan_parameter_prefix`.
pub fn deps(clients: &Clients, state_machines: HookStateMachines, plan_parameter_prefix: String) -> Deps {
    Deps {
        lifecycle: Arc::new(clients.lifecycle()),
        executions: Arc::new(clients.executions()),
        plans: Arc::new(clients.plans()),
        routers: Arc::new(clients.routers()),
        state_machines,
        plan_parameter_prefix,
    }
}

/// Reads the state machine ARNs and the plan prefix from the environment.
pub fn deps_from_env(clients: &Clients) -> Deps {
    let state_machines = HookStateMachines {
        canary: std::env::var("CANARY_STATE_MACHINE_ARN").unwrap_or_default(),
        post_traffic: std::env::var("POST_TRAFFIC_STATE_MACHINE_ARN").unwrap_or_default(),
    };
    deps(clients, state_machines, hookline::contract::plan_parameter_prefix_from_env())
}

/// What an invocation answers Lambda with.
#[derive(Debug, Serialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum Reply {
    /// CodeDeploy's invocation: the execution, or how the hook was answered.
    CodeDeploy(crate::codedeploy::Reply),
    /// An ECS-native hook's answer (its `hookStatus` and more): ECS reads it from the return value.
    Ecs(Value),
}

/// Serves both controllers; see the module documentation.
#[cfg(test)]
pub async fn dispatch(deps: &Deps, event: Value) -> Result<Reply> {
    dispatch_until(deps, event, None).await
}

/// [`dispatch`] with the invocation's deadline: an ECS answer is given before it (ECS takes a
/// function that times out as FAILED and rolls back).
pub async fn dispatch_until(deps: &Deps, event: Value, deadline: Option<tokio::time::Instant>) -> Result<Reply> {
    if EcsNative::is_invocation(&event) {
        return Ok(Reply::Ecs(crate::ecs::handle_until(deps, event, deadline).await));
    }
    Ok(Reply::CodeDeploy(crate::codedeploy::handle(deps, event).await?))
}
