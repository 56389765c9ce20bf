//! The ports: every interface through which hookline's flows reach the world, in one file.
//!
//! A flow (the hook's start, a step, a rollback, the CLI's verbs) depends on these traits only;
//! each has one AWS adapter per service that implements it and one in-memory fake in
//! [`crate::testing`] for handler and flow tests. No SDK type crosses a port: what comes back is
//! hookline's own vocabulary ([`crate::lifecycle::DeploymentStatus`], [`RunStatus`], ...).
//!
//! | Port | What it is | AWS adapter |
//! |---|---|---|
//! | [`Lifecycle`] | the deployment controller: context, status, hook answers, stop | `lifecycle::CodeDeploy`, `lifecycle::EcsNative` (one per controller, picked by `lifecycle::Controllers`) |
//! | [`TrafficRouter`] / [`RouterFactory`] | moving production traffic on one route | `traffic::AlbRouters` |
//! | [`HealthFacts`] | targets, alarms, HTTP probes of green | `health::HealthGate` |
//! | [`MetricsSource`] | the judge's samples | `health::metrics` (CloudWatch) |
//! | [`Executions`] | state machine executions: describe, start, list, stop, task tokens | Step Functions |
//! | [`PlanStore`] | the plan's text and the release record | SSM Parameter Store |

use async_trait::async_trait;

pub use crate::health::{HealthFacts, MetricsSource};
pub use crate::lifecycle::{DeploymentSummary, Lifecycle};
pub use crate::traffic::{RouterFactory, TrafficRouter};

use crate::Result;

/// How a state machine execution stands, in hookline's words (Step Functions' `ExecutionStatus`
/// stays in its adapter).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunStatus {
    Running,
    Succeeded,
    Failed,
    TimedOut,
    Aborted,
    /// A word hookline has no meaning for (a newer service status), as the service said it.
    Unrecognized(String),
}

impl RunStatus {
    pub fn is_running(&self) -> bool {
        *self == RunStatus::Running
    }
}

/// One execution as [`Executions::describe`] reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionInfo {
    pub execution_arn: String,
    pub state_machine_arn: String,
    pub name: String,
    pub status: RunStatus,
    /// The input it was started with (the execution document, for hookline's machines).
    pub input: Option<String>,
    pub output: Option<String>,
    /// Epoch seconds.
    pub started_at: Option<i64>,
    pub stopped_at: Option<i64>,
    /// How it failed, when it did.
    pub error: Option<String>,
    pub cause: Option<String>,
}

/// What [`Executions::start`] came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartOutcome {
    /// Started now; its ARN.
    Started(String),
    /// An execution of that name already exists (started by an earlier try or a racing one); its
    /// ARN. Names are per deployment and hook event, so the caller looks at whom it answers.
    AlreadyExists(String),
}

/// What [`Executions::stop`] came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopOutcome {
    Stopped,
    /// It had ended (or never existed): nothing to stop.
    NotRunning,
}

/// State machine executions (Step Functions).
#[async_trait]
pub trait Executions: Send + Sync {
    /// The execution, or `None` when it does not exist.
    async fn describe(&self, execution_arn: &str) -> Result<Option<ExecutionInfo>>;
    /// Starts execution `name` of `state_machine_arn` with `input`.
    async fn start(&self, state_machine_arn: &str, name: &str, input: &str) -> Result<StartOutcome>;
    /// The ARNs of the running executions of `state_machine_arn` whose name starts with `name_prefix`.
    async fn list_running(&self, state_machine_arn: &str, name_prefix: &str) -> Result<Vec<String>>;
    /// Stops a running execution with `error` and `cause`.
    async fn stop(&self, execution_arn: &str, error: &str, cause: &str) -> Result<StopOutcome>;
    /// Answers a task token (an approval): success with `output` (JSON).
    async fn send_task_success(&self, task_token: &str, output: &str) -> Result<()>;
    /// Answers a task token (an approval): failure with `error` and `cause`.
    async fn send_task_failure(&self, task_token: &str, error: &str, cause: &str) -> Result<()>;
}

/// Where plans and release records live (SSM Parameter Store under the plan prefix:
/// `contract::plan_parameter`, `contract::ecs_plan_parameter`, `contract::last_release_parameter`).
#[async_trait]
pub trait PlanStore: Send + Sync {
    /// The text of the plan at `parameter`; `None` when there is none.
    async fn plan_text(&self, parameter: &str) -> Result<Option<String>>;
    /// Writes (overwrites) the plan text at `parameter`.
    async fn put_plan_text(&self, parameter: &str, text: &str) -> Result<()>;
    /// Writes the release record (JSON) at `parameter`, overwriting the previous one.
    async fn put_release_record(&self, parameter: &str, record: &str) -> Result<()>;
}
