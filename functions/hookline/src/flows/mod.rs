//! The flows: what hookline does, written once over the [`crate::ports`] and driven by every
//! controller's entry point, which only translates its payload into a flow's input and the flow's
//! outcome into its answer.
//!
//! - [`hook_executions`]: a deployment's hook executions, read through the `Executions` port.
//! - [`hook_start`]: a lifecycle hook's start: find or start the state machine execution that
//!   answers it (the `hook` function, for CodeDeploy and ECS-native alike).

//! - [`dns_release`]: hookline's own Route 53 controller's `deploy` and `undeploy`.

pub mod dns_release;
pub mod hook_executions;
pub mod hook_start;
