//! One hook's start's world over the in-memory fakes ([`HookWorld`]): the ports of
//! [`HookDeps`], kept for assertions once the hook has answered.

use std::sync::Arc;

use crate::execution::HookStateMachines;
use crate::flows::hook_start::HookDeps;
use crate::traffic::Weights;

use super::fakes::{FakeExecutions, FakeLifecycle, FakePlanStore, FakeRouters};

/// The ports a hook's start reaches, each a fake: the controller (watching production, so each
/// report says where production stood), the executions, the plans and production's route.
pub struct HookWorld {
    pub lifecycle: Arc<FakeLifecycle>,
    pub executions: Arc<FakeExecutions>,
    pub plans: Arc<FakePlanStore>,
    pub routers: FakeRouters,
}

impl HookWorld {
    /// The controller `lifecycle`, the plans `plans`, production at `weights`, no execution yet.
    pub fn new(lifecycle: FakeLifecycle, plans: FakePlanStore, weights: Weights) -> HookWorld {
        let routers = FakeRouters::with_weights(weights);
        HookWorld {
            lifecycle: Arc::new(lifecycle.watching(&routers)),
            executions: Arc::default(),
            plans: Arc::new(plans),
            routers,
        }
    }

    /// The hook's dependencies over this world, with the two hook state machines `machines` and
    /// plans under `/hookline`.
    pub fn deps(&self, machines: HookStateMachines) -> HookDeps {
        HookDeps {
            lifecycle: self.lifecycle.clone(),
            executions: self.executions.clone(),
            plans: self.plans.clone(),
            routers: Arc::new(self.routers.clone()),
            state_machines: machines,
            plan_parameter_prefix: "/hookline".into(),
        }
    }

    /// The executions started: (state machine, name, input), including refused ones.
    pub fn starts(&self) -> Vec<(String, String, String)> {
        self.executions.starts()
    }
}
