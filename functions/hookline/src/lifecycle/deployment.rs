//! The deployment as hookline speaks of it, whatever its controller: typed statuses, the
//! resolved hook invocation, admission, the summary readers show. What the [`Lifecycle`] port
//! speaks; plain data, no port and no adapter here, so the port and both adapters build on it.
//!
//! [`Lifecycle`]: crate::ports::Lifecycle

use serde::Serialize;

pub use crate::plan::Controller;

use crate::execution::{DeploymentContext, HookEvent};

/// The controller that runs `deployment_id`: an ECS service deployment ARN is ECS-native, anything
/// else CodeDeploy's. Its hook timeout ([`Controller::max_hook_budget_seconds`]: one hour, 24 hours)
/// bounds every deadline computed for the deployment.
pub fn controller_of(deployment_id: &str) -> Controller {
    Controller::of_deployment(deployment_id)
}

/// Whether `deployment_id` names an ECS service deployment rather than a CodeDeploy deployment id
/// ([`Controller::of_deployment`]).
pub fn is_service_deployment_arn(deployment_id: &str) -> bool {
    Controller::of_deployment(deployment_id) == Controller::Ecs
}

/// One invocation of the hook function by a deployment controller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    pub deployment_id: String,
    /// The hook's opaque id, answered exactly once.
    pub execution_id: String,
}

/// The answer a hook gets (serialized by its variant name in the functions' outputs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum HookStatus {
    Succeeded,
    Failed,
}

/// What reporting a hook came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reported {
    /// This call delivered the status.
    Now,
    /// The hook had already been answered (by an earlier try, or the deployment ended):
    /// done, not an error to retry.
    Already,
}

/// A deployment's status, reduced to what hookline acts on; each adapter maps its controller's words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum DeploymentStatus {
    /// Under way (created, queued, in progress, waiting, baking): hooks may run and traffic may move.
    Active,
    /// Ended with green serving production.
    Succeeded,
    /// Ended in failure (rolled back or not).
    Failed,
    /// Stopped by an operator or the controller.
    Stopped,
    /// A word of the controller's hookline has no meaning for: neither active nor ended.
    Unrecognized(String),
}

impl DeploymentStatus {
    /// Still worth working on: hooks may run and traffic may move.
    pub fn is_active(&self) -> bool {
        *self == DeploymentStatus::Active
    }

    /// Ended one way or another.
    pub fn is_terminal(&self) -> bool {
        matches!(self, DeploymentStatus::Succeeded | DeploymentStatus::Failed | DeploymentStatus::Stopped)
    }
}

impl std::fmt::Display for DeploymentStatus {
    /// The variant's name (hookline's word, in outputs and logs); an unrecognized status as the controller said it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeploymentStatus::Unrecognized(word) => f.write_str(word),
            known => write!(f, "{known:?}"),
        }
    }
}

/// Where an active deployment stands, as readers show it (`status`, `watch`, the dashboard): the
/// phases deployments go through whatever their controller, each adapter mapping its own words
/// onto them. Only [`DeploymentStatus::Active`] deployments have one; hookline acts on the
/// status, never on the phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Phase {
    /// Accepted, not started yet.
    Created,
    /// Waiting behind another deployment of the same target.
    Queued,
    /// Running: replacement tasks, hooks, traffic moving.
    InProgress,
    /// Green is up and waits for traffic to be rerouted to it.
    Ready,
    /// Traffic is on green; the old revision is kept for a while before it is removed.
    Baking,
}

impl std::fmt::Display for Phase {
    /// The variant's name: the word `status` and `watch` print.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

/// The status of one lifecycle event (hook) on the deployment's target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventStatus {
    /// Not reached yet.
    Pending,
    /// Its hook is waiting for an answer.
    InProgress,
    /// Answered `Succeeded`: the controller has moved on.
    Succeeded,
    /// Answered `Failed`, or timed out.
    Failed,
    /// Skipped by the controller.
    Skipped,
    /// A word of the controller's hookline has no meaning for.
    Unrecognized(String),
}

/// A pause of the controller's own that the deployment waits on (an ECS `PAUSE` lifecycle hook):
/// an operator answers it to go on or roll back ([`Lifecycle::answer_pause`](crate::ports::Lifecycle::answer_pause)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pause {
    /// The controller's id of the paused hook (ECS's `hookId`).
    pub hook_id: String,
    /// Where the deployment waits, in the controller's words (ECS's `lifecycleStage`), if it says.
    pub stage: Option<String>,
    /// When the controller takes the timeout action (epoch seconds), if it says.
    pub expires_at: Option<i64>,
    /// What the controller does then, in its words (`ROLLBACK`, `CONTINUE`), if it says.
    pub timeout_action: Option<String>,
}

/// What asking the controller to stop with rollback came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// Stopping; the controller's status message.
    Stopping(String),
    /// The deployment had already ended on its own: nothing to stop.
    AlreadyEnded,
}

/// Whether hookline runs its canary for a deployment, read by [`Lifecycle::admission`](crate::ports::Lifecycle::admission) from the
/// deployment itself before anything is started for one of its hooks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// A deployment hookline serves: its hooks start the canary / post-traffic executions.
    Serve,
    /// The deployment creates the service (it has no source revision): there is no blue to canary
    /// against. Passed through: every hook answered `Succeeded` at once, nothing started or moved.
    Creation,
    /// The deployment is the controller's own rollback of another one (`of`, when it says which):
    /// the controller moves traffic back itself. Passed through like [`Admission::Creation`]: every
    /// hook answered `Succeeded` at once, nothing started, no traffic moved.
    Rollback { of: Option<String> },
    /// The deployment's strategy is one under which the controller shifts production in its own
    /// steps, which hookline's shifting would fight; its name. Refused (`Failed`), nothing started.
    Strategy(String),
    /// The controller shifts production in its own steps (ECS's LINEAR, CANARY) and invokes hookline
    /// before each one: gate mode ([`crate::plan::gate`]). Served at the stage before each step
    /// (hookline judges the step just baked and never moves production); refused like
    /// [`Admission::Strategy`] at the stages where hookline's own canary would shift production.
    Gate(crate::plan::gate::ServiceSteps),
}

impl Admission {
    /// Why every hook of the deployment is answered `Succeeded` at once without starting or moving
    /// anything, when it is passed through (a creation or the controller's own rollback).
    pub fn pass_through(&self) -> Option<String> {
        match self {
            Admission::Creation => {
                Some("service creation (the deployment has no source revision): no blue to canary against".into())
            }
            Admission::Rollback { of } => Some(format!(
                "the deployment is the controller's own rollback{}: the controller moves traffic back itself, and \
                 its target is the revision production ran before",
                of.as_deref().map(|id| format!(" of {id}")).unwrap_or_default()
            )),
            Admission::Serve | Admission::Strategy(_) | Admission::Gate(_) => None,
        }
    }
}

/// A resolved hook invocation: the context, plus which event is waiting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub context: DeploymentContext,
    /// The lifecycle event that is in progress on the target, as the controller names it (for messages).
    pub in_progress_event: Option<String>,
    /// That event, when it is one hookline answers.
    pub in_progress_hook: Option<HookEvent>,
    /// When the controller started that event (epoch seconds), if it says: the hook's
    /// deadline counts from here, not from when the hook function got to run.
    pub in_progress_started_at: Option<i64>,
    /// When the controller times that hook out (epoch seconds), if it says so sooner than its
    /// general limit: an ECS hook's `timeoutConfiguration` may be shorter than 24 hours.
    pub hook_expires_at: Option<i64>,
}

/// A deployment as every reader shows it (CLI verbs, dashboard), whatever its controller:
/// [`Lifecycle::describe`](crate::ports::Lifecycle::describe). The controller's own words stay in `status_word` and `message`, for
/// operators; everything hookline acts on is typed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeploymentSummary {
    pub deployment_id: String,
    pub controller: Controller,
    pub status: DeploymentStatus,
    /// Where it stands while [`DeploymentStatus::Active`]; `None` otherwise.
    pub phase: Option<Phase>,
    /// The controller is rolling the deployment back (not ended yet: production may still move).
    pub rolling_back: bool,
    /// The controller's own status word, as it said it (`InProgress`, `ROLLBACK_IN_PROGRESS`, ...).
    pub status_word: String,
    /// Where the plan lives: CodeDeploy's application and deployment group, or `ecs/<cluster>` and
    /// the service (`contract::ecs_application`).
    pub application: String,
    pub group: String,
    /// Epoch seconds.
    pub created_at: Option<i64>,
    pub ended_at: Option<i64>,
    /// Why it failed or stopped, in the controller's words (code and message), when it says.
    pub message: Option<String>,
}

/// The error code ([`crate::Error::aws_code`]) of a [`Lifecycle::describe`](crate::ports::Lifecycle::describe) whose deployment its
/// controller does not know; the message says so in the operator's words.
pub const DEPLOYMENT_NOT_FOUND: &str = "DeploymentNotFound";
