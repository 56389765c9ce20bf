//! The AWS adapters of the ports that are not a deployment controller, a traffic router or a
//! health source: [`StepFunctions`] serves [`crate::ports::Executions`], [`ParameterStore`] serves
//! [`crate::ports::PlanStore`], [`EcsServices`] serves [`crate::ports::Services`] and
//! [`ReleaseFinder`] serves [`crate::ports::ReleaseDiscovery`] (hookline's own Route 53
//! controller); [`Lazy`] makes any of them on first use; [`Placed`] holds one client per release
//! placement (Region, assumed role) for the adapters that act on a release's own resources. Each
//! maps its service's errors with [`crate::error::AwsResultExt`] and its words onto hookline's
//! ([`crate::ports::RunStatus`], ...); no SDK type leaves its file. Each file's tests are the wire-level ones (aws-smithy-mocks);
//! handler and flow tests use the in-memory fakes of `hookline::testing` (feature `test-util`).

mod ecs_services;
mod lazy;
mod parameter_store;
mod placed;
mod release_finder;
mod step_functions;

pub use ecs_services::EcsServices;
pub use lazy::Lazy;
pub use parameter_store::ParameterStore;
pub use placed::{placed_config, Placed, ROLE_SESSION_NAME};
pub use release_finder::ReleaseFinder;
pub use step_functions::StepFunctions;
