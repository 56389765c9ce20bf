//! An SDK client built on first use ([`LazyClient`]), shared by the handles made from it: what
//! [`crate::Clients`] holds, and what an adapter made at init but perhaps never used keeps.

use std::sync::{Arc, OnceLock};

/// An SDK client built from the shared configuration the first time it is used (through `Deref`:
/// `clients.ssm.get_parameter()`, `&clients.ssm`, `clients.ssm.clone()` all reach the client), or
/// one built already (tests' mocks).
pub struct LazyClient<C> {
    source: Arc<Source<C>>,
}

/// How a client of `C` is made from a configuration (`aws_sdk_ecs::Client::new`, ...).
pub type Build<C> = fn(&aws_config::SdkConfig) -> C;

enum Source<C> {
    Built(C),
    Config { config: Arc<aws_config::SdkConfig>, build: Build<C>, client: OnceLock<C> },
}

impl<C> LazyClient<C> {
    /// A client built from `config` with `build` when first used.
    pub fn new(config: &Arc<aws_config::SdkConfig>, build: fn(&aws_config::SdkConfig) -> C) -> LazyClient<C> {
        LazyClient { source: Arc::new(Source::Config { config: Arc::clone(config), build, client: OnceLock::new() }) }
    }

    /// A client built already.
    pub fn built(client: C) -> LazyClient<C> {
        LazyClient { source: Arc::new(Source::Built(client)) }
    }

    /// The same lazy client, shared: built once, by whichever handle is used first (an adapter
    /// made at init that may never be used holds one without building it).
    pub fn share(&self) -> LazyClient<C> {
        LazyClient { source: Arc::clone(&self.source) }
    }

    /// The configuration and constructor it is built with (`None` for a client built already,
    /// tests' mocks): what a client of the same service for another Region or role is made from.
    pub fn recipe(&self) -> Option<(&Arc<aws_config::SdkConfig>, Build<C>)> {
        match self.source.as_ref() {
            Source::Built(_) => None,
            Source::Config { config, build, .. } => Some((config, *build)),
        }
    }

    /// Whether the client exists yet.
    pub fn is_built(&self) -> bool {
        match self.source.as_ref() {
            Source::Built(_) => true,
            Source::Config { client, .. } => client.get().is_some(),
        }
    }
}

impl<C> std::ops::Deref for LazyClient<C> {
    type Target = C;

    fn deref(&self) -> &C {
        match self.source.as_ref() {
            Source::Built(client) => client,
            Source::Config { config, build, client } => client.get_or_init(|| build(config)),
        }
    }
}

impl<C> std::fmt::Debug for LazyClient<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LazyClient").field("built", &self.is_built()).finish()
    }
}
