//! Moving production traffic between blue and green.
//!
//! One small interface ([`TrafficRouter`]) for every traffic provider, after
//! Argo Rollouts' `trafficrouting`: compute the desired state, compare it with
//! the live one, and patch only on a difference, so every call is safe to
//! retry. The ALB listener ([`AlbRouter`]) is the first provider; Route 53
//! weighted records or ECS-native deployments would be others.

mod alb;
pub mod split;

pub use alb::{AlbRouter, DEPLOYMENT_TAG, MANAGED_TAG, SERVICE_TAG};
pub use split::{Change, Cohort, Weights};

use crate::execution::DeploymentContext;

pub use crate::ports::{RouterFactory, TrafficRouter};

/// ALB routes: every [`crate::execution::Route`] today is a listener or a rule of it.
#[derive(Clone, Debug)]
pub struct AlbRouters {
    pub elbv2: aws_sdk_elasticloadbalancingv2::Client,
}

impl RouterFactory for AlbRouters {
    fn router(&self, ctx: &DeploymentContext) -> Box<dyn TrafficRouter> {
        Box::new(AlbRouter::new(self.elbv2.clone(), ctx))
    }
}
