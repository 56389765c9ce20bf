//! The validated plan's types: what a parsed plan holds, durations in whole seconds.

use serde::{Deserialize, Serialize};

use super::analysis::Analysis;
use super::step::Step;

/// A validated, normalized plan (the `plan` of the execution document).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub steps: Vec<Step>,
    /// `steps.len()`, carried for the state machine's loop test.
    pub step_count: usize,
    pub health: Health,
    pub post_traffic: PostTraffic,
    pub hook_budget_seconds: u64,
    #[serde(default)]
    pub traffic: Traffic,
    /// The canary judge's metrics and rules; absent in plans (and documents) without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis: Option<Analysis>,
    /// hookline's own Route 53 controller's rules on the measured split; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns: Option<DnsPlan>,
}

/// The measured split under hookline's Route 53 controller (DNS weights are not the traffic split:
/// resolvers cache answers for the TTL).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct DnsPlan {
    /// A bake counts only once green's observed share of requests (both load balancers'
    /// `RequestCount`) reaches this percent of the step's set weight; `None`: reported only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_observed_percent: Option<u8>,
}

/// How green's health is judged, at every gate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    pub interval_seconds: u64,
    pub alarms: Vec<String>,
    pub min_healthy_percent: u8,
    pub http: Vec<HttpProbe>,
    /// How long green may take to become healthy behind the test listener.
    pub ready_timeout_seconds: u64,
}

/// An HTTP GET that must answer `expect_status` within `timeout_ms`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpProbe {
    pub url: String,
    pub expect_status: u16,
    pub timeout_ms: u64,
}

/// The AfterAllowTraffic bake under full traffic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct PostTraffic {
    pub bake_seconds: u64,
}

/// Where production weights live: the listener's default action, or a rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Traffic {
    pub production_rule_arn: Option<String>,
}

impl Plan {
    /// The longest the BeforeAllowTraffic hook can take: green's ready
    /// timeout, every bake and every approval timeout.
    pub fn worst_case_seconds(&self) -> u64 {
        self.health.ready_timeout_seconds + self.steps.iter().map(Step::worst_case_seconds).sum::<u64>()
    }
}
