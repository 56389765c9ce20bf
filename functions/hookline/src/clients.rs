//! AWS clients, made once per Lambda container in `main` (each SDK client built when its function
//! first uses it, which `main` does while it makes the dependencies): the adapters behind the
//! handlers' interfaces ([`crate::lifecycle::Lifecycle`], [`crate::traffic::RouterFactory`],
//! [`crate::health::HealthFacts`]) are made from them.

use std::sync::{Arc, OnceLock};

use aws_config::environment::{EnvironmentVariableCredentialsProvider, EnvironmentVariableRegionProvider};
use aws_config::BehaviorVersion;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector};
use aws_smithy_runtime_api::client::runtime_components::{RuntimeComponents, RuntimeComponentsBuilder};
use aws_smithy_runtime_api::client::runtime_plugin::RuntimePlugin;
use aws_smithy_types::config_bag::ConfigBag;

/// One client per service hookline calls, sharing one configuration. Each is built when first
/// used: a function's `main` makes its dependencies at init, which builds the clients that
/// function uses there and leaves the others unbuilt (the hook never builds CloudWatch's, shift-weight
/// only CodeDeploy's, ECS's and ELBv2's). A client costs its SDK crate's endpoint tables at
/// construction (~60–80 µs each on the bench machine, BENCHMARKS.md §4).
#[derive(Debug)]
pub struct Clients {
    pub codedeploy: LazyClient<aws_sdk_codedeploy::Client>,
    pub ecs: LazyClient<aws_sdk_ecs::Client>,
    pub elbv2: LazyClient<aws_sdk_elasticloadbalancingv2::Client>,
    pub sfn: LazyClient<aws_sdk_sfn::Client>,
    pub cloudwatch: LazyClient<aws_sdk_cloudwatch::Client>,
    pub ssm: LazyClient<aws_sdk_ssm::Client>,
    /// hookline's own Route 53 controller's weighted records.
    pub route53: LazyClient<aws_sdk_route53::Client>,
    /// Built on first use (only validate-health with HTTP probes needs it).
    pub http: crate::health::gate::ProbeClient,
}

pub use crate::lazy_client::LazyClient;

impl Clients {
    /// Loads region, credentials and endpoint overrides (`AWS_ENDPOINT_URL`) from the environment.
    /// The SDK's standard retry mode handles throttling and transient faults with backoff.
    ///
    /// Lambda hands every function its role's credentials and its region in the environment
    /// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`: the reserved
    /// variables of <https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html>), so the
    /// credentials and region providers are the environment's alone, as AWS's Lambda guidance advises
    /// (configure region and credential provider up front rather than let the SDK discover them).
    /// The SDK's default chains would find the same values, but building them constructs an STS
    /// client (web identity) and an IMDS client first: about a quarter of the hook's init CPU in the
    /// bench's profile (BENCHMARKS.md §4).
    pub async fn from_env() -> Clients {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .credentials_provider(EnvironmentVariableCredentialsProvider::new())
            .region(EnvironmentVariableRegionProvider::new());
        if let Some(http) = ValidatedOnce::sdk_default() {
            loader = loader.http_client(http);
        }
        Clients::from_config(&loader.load().await)
    }

    /// Clients for an already loaded configuration (the CLI adds profile, region and endpoint).
    pub fn from_config(config: &aws_config::SdkConfig) -> Clients {
        let config = Arc::new(config.clone());
        let config = &config;
        Clients {
            codedeploy: LazyClient::new(config, aws_sdk_codedeploy::Client::new),
            ecs: LazyClient::new(config, aws_sdk_ecs::Client::new),
            elbv2: LazyClient::new(config, aws_sdk_elasticloadbalancingv2::Client::new),
            sfn: LazyClient::new(config, aws_sdk_sfn::Client::new),
            cloudwatch: LazyClient::new(config, aws_sdk_cloudwatch::Client::new),
            ssm: LazyClient::new(config, aws_sdk_ssm::Client::new),
            route53: LazyClient::new(config, aws_sdk_route53::Client::new),
            http: Default::default(),
        }
    }
}

impl Clients {
    /// The deployment controllers (CodeDeploy, ECS-native, hookline's own Route 53 releases with
    /// their records under `PLAN_PARAMETER_PREFIX`), each deployment served by its own.
    pub fn lifecycle(&self) -> crate::lifecycle::Controllers {
        self.lifecycle_with_prefix(&crate::contract::plan_parameter_prefix_from_env())
    }

    /// [`Clients::lifecycle`] with the Route 53 releases' records under `plan_parameter_prefix`.
    /// The Route 53 releases' SDK clients (SSM, Step Functions, ECS) are built only when one of
    /// their deployments is served.
    pub fn lifecycle_with_prefix(&self, plan_parameter_prefix: &str) -> crate::lifecycle::Controllers {
        crate::lifecycle::Controllers {
            code_deploy: crate::lifecycle::CodeDeploy {
                codedeploy: self.codedeploy.clone(),
                elbv2: self.elbv2.clone(),
            },
            ecs: crate::lifecycle::EcsNative { ecs: self.ecs.clone() },
            route53: self.route53_releases(plan_parameter_prefix),
        }
    }

    /// hookline's own Route 53 releases alone (records under `plan_parameter_prefix`).
    pub fn route53_releases(&self, plan_parameter_prefix: &str) -> crate::lifecycle::Route53Releases {
        crate::lifecycle::Route53Releases {
            plans: Arc::new(crate::aws::Lazy::new(self.ssm.share(), crate::aws::ParameterStore::new)),
            executions: Arc::new(crate::aws::Lazy::new(self.sfn.share(), crate::aws::StepFunctions::new)),
            // Built on first use: `Placed` holds the lazy client.
            services: Arc::new(crate::aws::EcsServices { ecs: crate::aws::Placed::new(self.ecs.share()) }),
            plan_parameter_prefix: plan_parameter_prefix.to_string(),
        }
    }

    /// Builds the production route of each deployment (ALB listener or rule, Route 53 records).
    pub fn routers(&self) -> crate::traffic::Routers {
        crate::traffic::Routers { elbv2: self.elbv2.clone(), route53: self.route53.share() }
    }

    /// A release's own ECS services (hookline's Route 53 controller).
    pub fn services(&self) -> crate::aws::EcsServices {
        crate::aws::EcsServices { ecs: crate::aws::Placed::new(self.ecs.share()) }
    }

    /// Finds a group's load balancer releases and the fqdn's weighted records.
    pub fn release_discovery(&self) -> crate::aws::ReleaseFinder {
        crate::aws::ReleaseFinder { elbv2: crate::aws::Placed::new(self.elbv2.share()), route53: self.route53.clone() }
    }

    /// The production route of a deployment (ALB listener or rule).
    pub fn router(&self, ctx: &crate::execution::DeploymentContext) -> crate::traffic::AlbRouter {
        crate::traffic::AlbRouter::new(self.elbv2.clone(), ctx)
    }

    /// The state machine executions (Step Functions).
    pub fn executions(&self) -> crate::aws::StepFunctions {
        crate::aws::StepFunctions::new(self.sfn.clone())
    }

    /// The plans and release records (SSM Parameter Store).
    pub fn plans(&self) -> crate::aws::ParameterStore {
        crate::aws::ParameterStore::new(self.ssm.clone())
    }

    /// The health gate.
    pub fn health_gate(&self) -> crate::health::HealthGate {
        crate::health::HealthGate {
            ecs: crate::aws::Placed::new(self.ecs.share()),
            elbv2: crate::aws::Placed::new(self.elbv2.share()),
            cloudwatch: self.cloudwatch.clone(),
            http: self.http.clone(),
        }
    }
}

/// The SDK's default HTTPS client, one for all of a function's clients, whose check at client
/// construction runs for the first client only.
///
/// Without it every SDK client gets its own default HTTPS client, and each one's
/// `validate_base_client_config` builds (and drops) a TLS connector so that the CA roots are read
/// at init rather than on the first request: six clients, six rustls configurations built from
/// every root certificate. Doing it once keeps the roots read at init (where Lambda gives an
/// on-demand function a full, unthrottled vCPU, unlike an invocation at 128 MB: AWS's serverless
/// guide, <https://serverlessland.com/content/service/lambda/guides/effectively-running-java-on-serverless/init-heavy-lifting>)
/// without paying for it six times. The
/// check takes neither the components nor the configuration into account (`HyperClient` ignores
/// both), so the first client's check stands for all. One client also means one connector cache
/// and one connection pool for the process.
#[derive(Debug)]
struct ValidatedOnce {
    inner: SharedHttpClient,
    validated: OnceLock<()>,
}

impl ValidatedOnce {
    /// The client the SDK's clients would each build by default, for the latest behavior version.
    fn sdk_default() -> Option<ValidatedOnce> {
        let plugin = aws_smithy_runtime::client::defaults::default_http_client_plugin_v2(BehaviorVersion::latest())?;
        let inner = plugin.runtime_components(&RuntimeComponentsBuilder::new("hookline")).http_client()?;
        Some(ValidatedOnce::new(inner))
    }

    fn new(inner: SharedHttpClient) -> ValidatedOnce {
        ValidatedOnce { inner, validated: OnceLock::new() }
    }
}

impl HttpClient for ValidatedOnce {
    fn http_connector(&self, settings: &HttpConnectorSettings, components: &RuntimeComponents) -> SharedHttpConnector {
        self.inner.http_connector(settings, components)
    }

    fn validate_base_client_config(
        &self,
        components: &RuntimeComponentsBuilder,
        cfg: &ConfigBag,
    ) -> Result<(), BoxError> {
        if self.validated.get().is_none() {
            self.inner.validate_base_client_config(components, cfg)?;
            let _first_check_recorded = self.validated.set(());
        }
        Ok(())
    }

    fn validate_final_config(&self, components: &RuntimeComponents, cfg: &ConfigBag) -> Result<(), BoxError> {
        self.inner.validate_final_config(components, cfg)
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        self.inner.connector_metadata()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use aws_config::Region;
    use aws_smithy_runtime_api::client::http::{HttpConnector, HttpConnectorFuture};
    use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
    use aws_smithy_runtime_api::client::result::ConnectorError;

    use super::*;

    /// An HTTP client that only counts the SDK's checks of it (no request is made here).
    #[derive(Clone, Debug, Default)]
    struct CountingClient {
        validations: Arc<AtomicUsize>,
    }

    impl HttpConnector for CountingClient {
        fn call(&self, _request: HttpRequest) -> HttpConnectorFuture {
            HttpConnectorFuture::ready(Err(ConnectorError::other("no network in this test".into(), None)))
        }
    }

    impl HttpClient for CountingClient {
        fn http_connector(&self, _: &HttpConnectorSettings, _: &RuntimeComponents) -> SharedHttpConnector {
            SharedHttpConnector::new(self.clone())
        }

        fn validate_base_client_config(&self, _: &RuntimeComponentsBuilder, _: &ConfigBag) -> Result<(), BoxError> {
            self.validations.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    }

    fn build_all(clients: &Clients) {
        let _ = (clients.codedeploy.config(), clients.ecs.config(), clients.elbv2.config());
        let _ = (clients.sfn.config(), clients.cloudwatch.config(), clients.ssm.config());
    }

    fn config_with(http: impl HttpClient + 'static) -> aws_config::SdkConfig {
        aws_config::SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .http_client(http)
            .build()
    }

    #[test]
    fn the_six_clients_check_their_shared_http_client_once() {
        let inner = CountingClient::default();
        let clients = Clients::from_config(&config_with(ValidatedOnce::new(SharedHttpClient::new(inner.clone()))));
        build_all(&clients);
        assert_eq!(inner.validations.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn each_client_checks_an_unwrapped_http_client() {
        // What `ValidatedOnce` saves: the SDK checks the HTTP client once per client it builds.
        let inner = CountingClient::default();
        let clients = Clients::from_config(&config_with(inner.clone()));
        build_all(&clients);
        assert_eq!(inner.validations.load(Ordering::SeqCst), 6);
    }

    #[test]
    fn a_client_is_built_when_first_used() {
        let clients = Clients::from_config(&config_with(CountingClient::default()));
        assert!(!clients.ssm.is_built() && !clients.cloudwatch.is_built());
        let _ssm: aws_sdk_ssm::Client = clients.ssm.clone();
        assert!(clients.ssm.is_built());
        assert!(!clients.cloudwatch.is_built());
    }

    #[test]
    fn the_sdk_default_client_is_available_to_share() {
        assert!(ValidatedOnce::sdk_default().is_some());
    }
}
