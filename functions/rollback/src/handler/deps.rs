//! What every form of `rollback` needs ([`Deps`], all ports): the handler, the restore and the
//! dead-letter consumer take it from here, so none of them depends on another for it.

use std::sync::Arc;

use hookline::execution::HookStateMachines;
use hookline::lifecycle::Lifecycle;
use hookline::ports::{Executions, PlanStore};
use hookline::rollback::Reach;
use hookline::traffic::RouterFactory;
use hookline::Clients;

/// What rollback needs, built once per container, all ports: the deployment controller, the
/// production routes, the executions and the plans.
pub struct Deps {
    pub lifecycle: Arc<dyn Lifecycle>,
    pub routers: Arc<dyn RouterFactory>,
    pub executions: Arc<dyn Executions>,
    pub plans: Arc<dyn PlanStore>,
    /// The state machines whose executions a console rollback stops.
    pub state_machine_arns: Vec<String>,
    /// The same two machines by event: the dead-letter consumer looks up a hook's execution.
    pub hook_state_machines: HookStateMachines,
    /// Where plans live (`PLAN_PARAMETER_PREFIX`, default `/hookline`).
    pub plan_parameter_prefix: String,
}

impl Deps {
    /// The AWS adapters, for `hook_state_machines` and plans under `plan_parameter_prefix`.
    pub fn new(clients: &Clients, hook_state_machines: HookStateMachines, plan_parameter_prefix: String) -> Deps {
        let state_machine_arns = [&hook_state_machines.canary, &hook_state_machines.post_traffic]
            .into_iter()
            .filter(|arn| !arn.is_empty())
            .cloned()
            .collect();
        Deps {
            lifecycle: Arc::new(clients.lifecycle()),
            routers: Arc::new(clients.routers()),
            executions: Arc::new(clients.executions()),
            plans: Arc::new(clients.plans()),
            state_machine_arns,
            hook_state_machines,
            plan_parameter_prefix,
        }
    }

    /// What the shared rollback reaches, borrowed from these.
    pub fn reach(&self) -> Reach<'_> {
        Reach {
            lifecycle: self.lifecycle.as_ref(),
            routers: self.routers.as_ref(),
            executions: self.executions.as_ref(),
            plans: self.plans.as_ref(),
        }
    }

    /// Reads `CANARY_STATE_MACHINE_ARN`, `POST_TRAFFIC_STATE_MACHINE_ARN` and `PLAN_PARAMETER_PREFIX`.
    pub fn from_env(clients: Clients) -> Deps {
        let env = |name: &str| std::env::var(name).ok().filter(|s| !s.is_empty());
        let hook_state_machines = HookStateMachines {
            canary: env("CANARY_STATE_MACHINE_ARN").unwrap_or_default(),
            post_traffic: env("POST_TRAFFIC_STATE_MACHINE_ARN").unwrap_or_default(),
        };
        Deps::new(&clients, hook_state_machines, hookline::contract::plan_parameter_prefix_from_env())
    }
}
