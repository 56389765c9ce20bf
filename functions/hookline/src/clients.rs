//! AWS clients, built once per Lambda container in `main`: the adapters behind the
//! handlers' interfaces ([`crate::lifecycle::Lifecycle`], [`crate::traffic::RouterFactory`],
//! [`crate::health::HealthFacts`]) are made from them.

use aws_config::BehaviorVersion;

/// One client per service hookline calls, sharing one configuration.
#[derive(Clone, Debug)]
pub struct Clients {
    pub codedeploy: aws_sdk_codedeploy::Client,
    pub ecs: aws_sdk_ecs::Client,
    pub elbv2: aws_sdk_elasticloadbalancingv2::Client,
    pub sfn: aws_sdk_sfn::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub ssm: aws_sdk_ssm::Client,
    /// Built on first use (only validate-health with HTTP probes needs it).
    pub http: crate::health::gate::ProbeClient,
}

impl Clients {
    /// Loads region, credentials and endpoint overrides (`AWS_ENDPOINT_URL`) from the environment.
    /// The SDK's standard retry mode handles throttling and transient faults with backoff.
    pub async fn from_env() -> Clients {
        Clients::from_config(&aws_config::defaults(BehaviorVersion::latest()).load().await)
    }

    /// Clients for an already loaded configuration (the CLI adds profile, region and endpoint).
    pub fn from_config(config: &aws_config::SdkConfig) -> Clients {
        Clients {
            codedeploy: aws_sdk_codedeploy::Client::new(config),
            ecs: aws_sdk_ecs::Client::new(config),
            elbv2: aws_sdk_elasticloadbalancingv2::Client::new(config),
            sfn: aws_sdk_sfn::Client::new(config),
            cloudwatch: aws_sdk_cloudwatch::Client::new(config),
            ssm: aws_sdk_ssm::Client::new(config),
            http: Default::default(),
        }
    }
}

impl Clients {
    /// The deployment controllers (CodeDeploy and ECS-native), each deployment served by its own.
    pub fn lifecycle(&self) -> crate::lifecycle::Controllers {
        crate::lifecycle::Controllers {
            code_deploy: crate::lifecycle::CodeDeploy {
                codedeploy: self.codedeploy.clone(),
                elbv2: self.elbv2.clone(),
            },
            ecs: crate::lifecycle::EcsNative { ecs: self.ecs.clone() },
        }
    }

    /// Builds the production route of each deployment (ALB listener or rule).
    pub fn routers(&self) -> crate::traffic::AlbRouters {
        crate::traffic::AlbRouters { elbv2: self.elbv2.clone() }
    }

    /// The production route of a deployment (ALB listener or rule).
    pub fn router(&self, ctx: &crate::execution::DeploymentContext) -> crate::traffic::AlbRouter {
        crate::traffic::AlbRouter::new(self.elbv2.clone(), ctx)
    }

    /// The health gate.
    pub fn health_gate(&self) -> crate::health::HealthGate {
        crate::health::HealthGate {
            ecs: self.ecs.clone(),
            elbv2: self.elbv2.clone(),
            cloudwatch: self.cloudwatch.clone(),
            http: self.http.clone(),
        }
    }
}
