//! The hook's dependencies (ports only), shared by both controllers' entries ([`crate::codedeploy`],
//! [`crate::ecs`]) and built once per container by `main`; the entries depend on this module, never
//! on [`crate::dispatch`], which depends on them.

use std::sync::Arc;

use hookline::execution::HookStateMachines;
use hookline::Clients;

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
