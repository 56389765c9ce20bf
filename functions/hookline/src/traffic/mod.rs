//! Moving production traffic between blue and green.
//!
//! One small interface ([`TrafficRouter`]) for every traffic provider, after
//! Argo Rollouts' `trafficrouting`: compute the desired state, compare it with
//! the live one, and patch only on a difference, so every call is safe to
//! retry. Two providers: the ALB listener or rule ([`AlbRouter`]) and the Route 53
//! weighted alias records of hookline's own controller ([`Route53Router`]);
//! [`Routers`] is the one place that picks a provider by the deployment's route.

mod alb;
pub mod route53;
pub mod split;

pub use alb::{AlbRouter, DEPLOYMENT_TAG, MANAGED_TAG, SERVICE_TAG};
pub use route53::Route53Router;
pub use split::{Change, Cohort, Weights};

use crate::execution::{DeploymentContext, Route};
use crate::lazy_client::LazyClient;

pub use crate::ports::{RouterFactory, TrafficRouter};

/// Every production route: an ALB listener or rule ([`AlbRouter`]), or Route 53 weighted records
/// ([`Route53Router`], its client built the first time a Route 53 deployment is served).
#[derive(Debug)]
pub struct Routers {
    pub elbv2: aws_sdk_elasticloadbalancingv2::Client,
    pub route53: LazyClient<aws_sdk_route53::Client>,
}

impl RouterFactory for Routers {
    fn router(&self, ctx: &DeploymentContext) -> Box<dyn TrafficRouter> {
        match &ctx.production {
            Route::AlbListener { .. } | Route::AlbRule { .. } => Box::new(AlbRouter::new(self.elbv2.clone(), ctx)),
            Route::DnsWeighted { hosted_zone_id, record_name, record_type, blue, green } => {
                Box::new(Route53Router::of_records(
                    (*self.route53).clone(),
                    hosted_zone_id,
                    record_name,
                    record_type,
                    blue,
                    green,
                ))
            }
        }
    }
}
