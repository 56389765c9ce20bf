//! hookline's shared library: everything the six Lambda functions have in
//! common, so each binary is a thin `main` over one handler.
//!
//! Layout:
//! - [`plan`]: the rollout plan (parse, validate, worst case). Plain Rust.
//! - [`contract`]: names and input shapes shared by functions, CLI and state machines (checked against the ASL).
//! - [`execution`]: the document each state machine execution carries.
//! - [`lifecycle`]: the deployment controller (CodeDeploy): context, status, hook reports.
//! - [`traffic`]: moving production traffic ([`traffic::TrafficRouter`], ALB first).
//! - [`health`]: the health gate (plain verdicts, plus the AWS/HTTP fact gathering).
//! - [`judge`]: the statistical canary judge (Mann-Whitney U, Hodges–Lehmann, Kayenta-style score). Plain Rust.
//! - [`rollback`]: the operator's rollback (console form), shared by the `rollback` function and the CLI.
//! - [`taskdef`]: task definition revisions and AppSpec content.
//! - [`error`]: the one error type and its stable `errorType` names.
//! - [`clients`], [`runtime`]: AWS clients built once, JSON logs, the Lambda loop.

pub mod clients;
pub mod contract;
pub mod error;
pub mod execution;
pub mod health;
pub mod judge;
pub mod lifecycle;
pub mod plan;
pub mod rollback;
pub mod runtime;
pub mod taskdef;
pub mod traffic;

pub use clients::Clients;
pub use error::{Error, Result};

#[cfg(any(test, feature = "test-util"))]
pub mod testing;
