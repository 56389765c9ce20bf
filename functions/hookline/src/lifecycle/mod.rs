//! What is specific to the deployment controller that calls our hooks:
//! reading the deployment context, its status, and reporting the hook.
//!
//! CodeDeploy is the only implementation today ([`CodeDeploy`]). An entry for
//! ECS-native blue/green lifecycle hooks would implement [`Lifecycle`] too and
//! drive the same state machines and functions unchanged.

mod codedeploy;

use async_trait::async_trait;

pub use codedeploy::CodeDeploy;

use crate::execution::{DeploymentContext, HookEvent};
use crate::Result;

/// The answer a hook gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookStatus {
    Succeeded,
    Failed,
}

impl HookStatus {
    /// As CodeDeploy spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            HookStatus::Succeeded => "Succeeded",
            HookStatus::Failed => "Failed",
        }
    }
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

/// A deployment's status, reduced to what hookline acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentStatus(pub String);

impl DeploymentStatus {
    /// Still worth working on: hooks may run and traffic may move.
    pub fn is_active(&self) -> bool {
        matches!(self.0.as_str(), "Created" | "Queued" | "InProgress" | "Ready" | "Baking")
    }

    /// Ended one way or another.
    pub fn is_terminal(&self) -> bool {
        matches!(self.0.as_str(), "Succeeded" | "Failed" | "Stopped")
    }
}

/// A resolved hook invocation: the context, plus which event is waiting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub context: DeploymentContext,
    /// The lifecycle event that is in progress on the target, as the controller names it.
    pub in_progress_event: Option<String>,
    /// When the controller started that event (epoch seconds), if it says: the hook's
    /// deadline counts from here, not from when the hook function got to run.
    pub in_progress_started_at: Option<i64>,
}

/// The deployment controller, seen from hookline.
#[async_trait]
pub trait Lifecycle: Send + Sync {
    /// Resolves the deployment's context; `execution_id` is the hook's opaque id, if any.
    async fn resolve(&self, deployment_id: &str, execution_id: Option<&str>) -> Result<Resolved>;
    /// The deployment's current status.
    async fn status(&self, deployment_id: &str) -> Result<DeploymentStatus>;
    /// Reports the hook's outcome.
    async fn report(&self, deployment_id: &str, execution_id: &str, status: HookStatus) -> Result<Reported>;
    /// The status of `event` on the deployment's target (`Pending`, `InProgress`, `Succeeded`, ...), if listed.
    async fn event_status(&self, ctx: &DeploymentContext, event: HookEvent) -> Result<Option<String>>;
    /// Stops the deployment and asks the controller to roll back; returns its status message.
    async fn stop_with_rollback(&self, deployment_id: &str) -> Result<String>;
}

/// Fails with `DeploymentStopped` unless the deployment is still active.
pub async fn ensure_active(lifecycle: &dyn Lifecycle, deployment_id: &str) -> Result<DeploymentStatus> {
    let status = lifecycle.status(deployment_id).await?;
    if status.is_active() {
        Ok(status)
    } else {
        Err(crate::Error::DeploymentStopped { deployment_id: deployment_id.to_string(), status: status.0 })
    }
}

#[cfg(test)]
mod tests;
