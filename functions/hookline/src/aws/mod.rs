//! The AWS adapters of the ports that are not a deployment controller, a traffic router or a
//! health source: [`StepFunctions`] serves [`crate::ports::Executions`], [`ParameterStore`] serves
//! [`crate::ports::PlanStore`]. Each maps its service's errors with [`crate::error::AwsResultExt`]
//! and its words onto hookline's ([`crate::ports::RunStatus`], ...); no SDK type leaves its file.
//! Each file's tests are the wire-level ones (aws-smithy-mocks); handler and flow tests use the
//! in-memory fakes of `hookline::testing` (feature `test-util`).

mod parameter_store;
mod step_functions;

pub use parameter_store::ParameterStore;
pub use step_functions::StepFunctions;
