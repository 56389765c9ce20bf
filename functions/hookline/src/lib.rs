//! hookline's shared library: everything the six Lambda functions and the CLI have in common,
//! so each binary is a thin `main` over one handler or verb.
//!
//! One controller seam runs through it: flows and handlers depend on the ports
//! ([`ports`]: [`ports::Lifecycle`], [`ports::TrafficRouter`] / [`ports::RouterFactory`],
//! [`ports::HealthFacts`], [`ports::MetricsSource`], [`ports::Executions`], [`ports::PlanStore`]),
//! never on SDK clients. Each `main` builds [`Clients`] once and makes the adapters from them;
//! tests use the in-memory fakes of `testing` (feature `test-util`). Only the adapters know an SDK
//! or a controller's words (`tests/controller_words.rs` checks it), and no production module
//! imports one that imports it back (`make module-graph`).
//!
//! ```text
//!   entries: functions/<fn> handlers, functions/hook/{codedeploy,ecs}.rs, cli verbs
//!                              |
//!   flows: flows::hook_start, flows::hook_executions, rollback::console
//!                              |
//!   ports.rs: Lifecycle  TrafficRouter/RouterFactory  HealthFacts  MetricsSource  Executions  PlanStore
//!            /                                                                        \
//!   domain (plain Rust): plan, judge, execution,            adapters: lifecycle::{codedeploy, ecs} (+ Controllers),
//!   lifecycle::deployment, traffic::split,                  traffic::alb, health::{gate, metrics},
//!   health::{facts, verdict}, deployfile, contract          aws::{step_functions, parameter_store}
//! ```
//!
//! Layout:
//! - [`plan`]: the rollout plan (parse, validate, worst case). Plain Rust.
//! - [`deployfile`]: the Route 53 controller's `<environment>.deploy.yml` (parse, templates, map onto a plan). Plain Rust.
//! - [`dns`]: what the Route 53 controller speaks (releases, weighted records, services, the release record,
//!   deployment ids). Plain data.
//! - [`contract`]: names and input shapes shared by functions, CLI and state machines (checked against the ASL).
//! - [`execution`]: the document each state machine execution carries, its execution names, [`execution::RunStatus`].
//! - [`lifecycle`]: the deployment controller's adapters (CodeDeploy, ECS-native); the typed statuses the
//!   [`ports::Lifecycle`] port speaks live in [`lifecycle::deployment`] (plain data, no port, no adapter).
//! - [`traffic`]: moving production traffic ([`traffic::TrafficRouter`] per route, ALB first); the split it
//!   speaks in [`traffic::split`].
//! - [`health`]: the health gate (plain verdicts, the gate over [`health::HealthFacts`], the AWS/HTTP source);
//!   the facts and series queries the health ports speak in [`health::facts`].
//! - [`judge`]: the statistical canary judge (Mann-Whitney U, Hodges–Lehmann, Kayenta-style score). Plain Rust.
//! - [`flows`]: what hookline does, once for every controller, over the ports (the hook's start, finding a
//!   deployment's hook executions).
//! - [`ports`]: every interface the flows reach the world through, in one file (traits only). Layers:
//!   domain types (the modules above marked plain data, [`execution`], [`plan`]) import no port and no
//!   adapter; `ports` imports only them; the adapters import ports and domain (`tools/module-graph`).
//! - [`rollback`]: the operator's rollback (console form), shared by the `rollback` function and the CLI.
//! - [`taskdef`]: task definition revisions and AppSpec content.
//! - [`error`]: the one error type and its stable `errorType` names.
//! - [`aws`]: the AWS adapters of [`ports::Executions`] (Step Functions) and [`ports::PlanStore`] (SSM).
//! - [`lazy_client`]: an SDK client built on first use, shared by its handles.
//! - [`clients`], [`runtime`]: AWS clients built once (the adapters' material), JSON logs, the Lambda loop.
//! - [`tls`]: the CA bundle the SDK's HTTPS client reads (one file, no certificate-directory walk).

pub mod aws;
pub mod clients;
pub mod contract;
pub mod deployfile;
pub mod dns;
pub mod error;
pub mod execution;
pub mod flows;
pub mod health;
pub mod judge;
pub mod lazy_client;
pub mod lifecycle;
pub mod plan;
pub mod ports;
pub mod rollback;
pub mod runtime;
pub mod taskdef;
pub mod tls;
pub mod traffic;

pub use clients::Clients;
pub use error::{Error, Result};

#[cfg(any(test, feature = "test-util"))]
pub mod testing;
