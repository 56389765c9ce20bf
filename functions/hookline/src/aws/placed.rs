//! [`Placed`]: one SDK client per [`Placement`] (a release's Region and the role its calls
//! assume), made from the caller's own configuration the first time a placement is used and kept
//! for the process. A release of hookline's own Route 53 controller may live in another Region or
//! account than the functions (docs/route53-controller.md, "Across Regions"); the handlers and
//! flows only pass the placement the release record names, and only this adapter speaks of
//! Regions and credentials.
//!
//! The role is assumed with aws-config's `AssumeRoleProvider` (STS `AssumeRole`, authorized by
//! the caller's own credentials); the client's identity cache keeps the temporary credentials
//! until they near expiry, so one `AssumeRole` serves every call of a warm function.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_config::sts::AssumeRoleProvider;
use aws_config::Region;
use aws_credential_types::provider::SharedCredentialsProvider;

use crate::dns::Placement;
use crate::lazy_client::LazyClient;

/// The session name of every role hookline assumes (CloudTrail shows it as the caller).
pub const ROLE_SESSION_NAME: &str = "hookline";

/// Clients of one AWS service, the caller's own and one per placement used.
pub struct Placed<C> {
    home: LazyClient<C>,
    made: Arc<Mutex<HashMap<Placement, C>>>,
}

impl<C> Clone for Placed<C> {
    fn clone(&self) -> Self {
        Placed { home: self.home.share(), made: Arc::clone(&self.made) }
    }
}

impl<C> std::fmt::Debug for Placed<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let placements = self.made.lock().map(|m| m.len()).unwrap_or(0);
        f.debug_struct("Placed").field("home", &self.home).field("placements", &placements).finish()
    }
}

impl<C: Clone> Placed<C> {
    /// The caller's client (built on first use) and, from its configuration, the others.
    pub fn new(home: LazyClient<C>) -> Placed<C> {
        Placed { home, made: Arc::default() }
    }

    /// One client built already for every placement (tests' mocks: a mock answers whatever Region
    /// the request is for).
    pub fn only(client: C) -> Placed<C> {
        Placed::new(LazyClient::built(client))
    }

    /// The caller's own client.
    pub fn home(&self) -> C {
        (*self.home).clone()
    }

    /// The client for `at`: the caller's own for the home placement; else one made from the
    /// caller's configuration with the placement's Region and, when it names a role, credentials
    /// from `AssumeRole` on it (made once per placement).
    pub async fn at(&self, at: &Placement) -> C {
        if at.is_home() {
            return self.home();
        }
        let Some((config, build)) = self.home.recipe() else { return self.home() };
        if let Some(client) = self.made.lock().ok().and_then(|m| m.get(at).cloned()) {
            return client;
        }
        let client = build(&placed_config(config, at).await);
        if let Ok(mut made) = self.made.lock() {
            made.entry(at.clone()).or_insert_with(|| client.clone());
        }
        client
    }
}

/// `config` with `at`'s Region and, when `at` names a role, that role's credentials (the STS
/// client that assumes it uses `config` itself: the caller's credentials, Region and endpoint).
pub async fn placed_config(config: &aws_config::SdkConfig, at: &Placement) -> aws_config::SdkConfig {
    let mut placed = config.to_builder();
    if let Some(region) = &at.region {
        placed = placed.region(Region::new(region.clone()));
    }
    if let Some(role_arn) = &at.role_arn {
        let provider = AssumeRoleProvider::builder(role_arn.clone())
            .session_name(ROLE_SESSION_NAME)
            .configure(config)
            .build()
            .await;
        placed = placed.credentials_provider(SharedCredentialsProvider::new(provider));
    }
    placed.build()
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex as StdMutex;

    use aws_config::BehaviorVersion;
    use aws_credential_types::Credentials;
    use aws_smithy_runtime_api::client::http::{
        HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
    };
    use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
    use aws_smithy_runtime_api::client::result::ConnectorError;
    use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;

    use super::*;

    /// An HTTP client that records each request (host and body) and answers none.
    #[derive(Clone, Debug, Default)]
    struct Recorder(Arc<StdMutex<Vec<(String, String)>>>);

    impl HttpConnector for Recorder {
        fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
            let body = request.body().bytes().map(|b| String::from_utf8_lossy(b).to_string()).unwrap_or_default();
            self.0.lock().expect("lock").push((request.uri().to_string(), body));
            HttpConnectorFuture::ready(Err(ConnectorError::other("no network in this test".into(), None)))
        }
    }

    impl HttpClient for Recorder {
        fn http_connector(&self, _: &HttpConnectorSettings, _: &RuntimeComponents) -> SharedHttpConnector {
            SharedHttpConnector::new(self.clone())
        }
    }

    /// A configuration as the functions and the CLI load theirs (the loader adds the time source
    /// the role's provider needs), with the recorder as HTTP client.
    async fn placed(recorder: &Recorder) -> Placed<aws_sdk_ecs::Client> {
        let config = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
            .http_client(recorder.clone())
            .retry_config(aws_config::retry::RetryConfig::disabled())
            .load()
            .await;
        Placed::new(LazyClient::new(&Arc::new(config), aws_sdk_ecs::Client::new))
    }

    async fn describe(client: &aws_sdk_ecs::Client) {
        let _no_network = client.describe_services().cluster("shop").services("web").send().await;
    }

    #[tokio::test]
    async fn a_placement_gets_its_regions_endpoint_and_the_home_one_the_callers() {
        let recorder = Recorder::default();
        let placed = placed(&recorder).await;
        describe(&placed.at(&Placement::default()).await).await;
        describe(&placed.at(&Placement::new(Some("eu-west-1"), None)).await).await;
        let hosts: Vec<String> = recorder.0.lock().expect("lock").iter().map(|(uri, _)| uri.clone()).collect();
        assert_eq!(hosts.len(), 2, "{hosts:?}");
        assert!(hosts[0].starts_with("https://ecs.us-east-1.amazonaws.com"), "{hosts:?}");
        assert!(hosts[1].starts_with("https://ecs.eu-west-1.amazonaws.com"), "{hosts:?}");
    }

    #[tokio::test]
    async fn a_placement_with_a_role_assumes_it_first_and_once_per_placement() {
        let recorder = Recorder::default();
        let placed = placed(&recorder).await;
        let role = "arn:aws:iam::210987654321:role/hookline-release";
        let at = Placement::new(Some("eu-west-1"), Some(role));
        describe(&placed.at(&at).await).await;
        let calls = recorder.0.lock().expect("lock").clone();
        // The ECS call never leaves: no credentials without the role's (AssumeRole answered nothing).
        assert_eq!(calls.len(), 1, "{calls:?}");
        let (uri, body) = &calls[0];
        assert!(uri.starts_with("https://sts.us-east-1.amazonaws.com"), "{uri}");
        assert!(body.contains("Action=AssumeRole"), "{body}");
        assert!(body.contains(&format!("RoleArn={}", urlencode(role))), "{body}");
        assert!(body.contains("RoleSessionName=hookline"), "{body}");
        assert_eq!(placed.made.lock().expect("lock").len(), 1);
        let _same = placed.at(&at).await;
        assert_eq!(placed.made.lock().expect("lock").len(), 1, "one client per placement");
    }

    fn urlencode(s: &str) -> String {
        s.replace(':', "%3A").replace('/', "%2F")
    }
}
