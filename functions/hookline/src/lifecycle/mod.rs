//! What is specific to the deployment controller that calls our hooks:
//! reading the deployment context, its status, and reporting the hook.
//!
//! Two implementations: CodeDeploy ([`CodeDeploy`]) and ECS-native blue/green
//! ([`EcsNative`]); [`Controllers`] picks one per deployment from its id, so every
//! function drives both with the same state machines and code.
//!
//! Everything here is controller-neutral: each adapter maps its controller's
//! status words onto [`DeploymentStatus`], [`EventStatus`] and [`HookStatus`],
//! so no controller's spelling leaves its adapter (a test greps for it).

pub mod codedeploy;
pub mod deployment;
pub mod ecs;
pub mod route53;

use async_trait::async_trait;

pub use crate::plan::Controller;

pub use codedeploy::CodeDeploy;
pub use deployment::{
    controller_of, Admission, DeploymentStatus, DeploymentSummary, EventStatus, HookStatus, Invocation, Pause, Phase,
    Reported, Resolved, Stop, DEPLOYMENT_NOT_FOUND,
};
pub use ecs::EcsNative;
pub use route53::Route53Releases;

/// Every controller behind one [`Lifecycle`]: each call goes to the controller of the deployment
/// it names ([`controller_of`]: an ECS service deployment ARN, a `dns-` id of hookline's own Route 53
/// controller, else a CodeDeploy id), so functions built once per container serve all three.
#[derive(Clone, Debug)]
pub struct Controllers {
    pub code_deploy: CodeDeploy,
    pub ecs: EcsNative,
    pub route53: Route53Releases,
}

impl Controllers {
    fn of(&self, deployment_id: &str) -> &dyn Lifecycle {
        match controller_of(deployment_id) {
            Controller::Ecs => &self.ecs,
            Controller::CodeDeploy => &self.code_deploy,
            Controller::Route53 => &self.route53,
        }
    }
}

#[async_trait]
impl Lifecycle for Controllers {
    async fn describe(&self, deployment_id: &str) -> Result<DeploymentSummary> {
        self.of(deployment_id).describe(deployment_id).await
    }
    async fn resolve(&self, deployment_id: &str, execution_id: Option<&str>) -> Result<Resolved> {
        self.of(deployment_id).resolve(deployment_id, execution_id).await
    }
    async fn resolve_known(&self, known: &DeploymentContext, execution_id: Option<&str>) -> Result<Resolved> {
        self.of(&known.deployment_id).resolve_known(known, execution_id).await
    }
    async fn status(&self, deployment_id: &str) -> Result<DeploymentStatus> {
        self.of(deployment_id).status(deployment_id).await
    }
    async fn report(&self, deployment_id: &str, execution_id: &str, status: HookStatus) -> Result<Reported> {
        self.of(deployment_id).report(deployment_id, execution_id, status).await
    }
    async fn event_status(&self, ctx: &DeploymentContext, event: HookEvent) -> Result<Option<EventStatus>> {
        self.of(&ctx.deployment_id).event_status(ctx, event).await
    }
    async fn stop_with_rollback(&self, deployment_id: &str) -> Result<Stop> {
        self.of(deployment_id).stop_with_rollback(deployment_id).await
    }
    async fn drain_seconds(&self, deployment_id: &str) -> Result<Option<u64>> {
        self.of(deployment_id).drain_seconds(deployment_id).await
    }
    async fn cut_drain_short(&self, deployment_id: &str) -> Result<()> {
        self.of(deployment_id).cut_drain_short(deployment_id).await
    }
    async fn admission(&self, deployment_id: &str) -> Result<Admission> {
        self.of(deployment_id).admission(deployment_id).await
    }
    async fn paused(&self, deployment_id: &str) -> Result<Option<Pause>> {
        self.of(deployment_id).paused(deployment_id).await
    }
    async fn answer_pause(&self, deployment_id: &str, hook_id: &str, go_on: bool) -> Result<()> {
        self.of(deployment_id).answer_pause(deployment_id, hook_id, go_on).await
    }
    async fn finish_end(&self, deployment_id: &str) -> Result<bool> {
        self.of(deployment_id).finish_end(deployment_id).await
    }
}

use crate::execution::{DeploymentContext, HookEvent};
use crate::Result;

/// The deployment controller, seen from hookline: defined with the other ports.
pub use crate::ports::Lifecycle;

/// Fails with `DeploymentStopped` unless the deployment is still active.
pub async fn ensure_active(lifecycle: &dyn Lifecycle, deployment_id: &str) -> Result<DeploymentStatus> {
    let status = lifecycle.status(deployment_id).await?;
    if status.is_active() {
        Ok(status)
    } else {
        Err(crate::Error::DeploymentStopped { deployment_id: deployment_id.to_string(), status: status.to_string() })
    }
}

#[cfg(test)]
mod tests;
