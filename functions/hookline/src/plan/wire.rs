//! The plan as users write it (docs/design.md "The plan"): durations as strings, a
//! step as an object with exactly one kind key. Unknown keys are rejected here,
//! by serde, with the path of the offending field.

use serde::Deserialize;

use super::step::OnTimeout;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WirePlan {
    pub steps: Vec<WireStep>,
    pub health: Option<WireHealth>,
    pub post_traffic: Option<WirePostTraffic>,
    pub hook_budget: Option<String>,
    pub traffic: Option<WireTraffic>,
    pub analysis: Option<super::analysis::WireAnalysis>,
    pub dns: Option<WireDns>,
}

/// `dns` (hookline's Route 53 controller; the deployment file's `hookline.dns.min_observed_percent`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WireDns {
    pub min_observed_percent: Option<i64>,
}

/// Argo-style struct of optional fields; [`super::Step`] is what it becomes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WireStep {
    pub weight: Option<i64>,
    pub bake: Option<String>,
    pub approval: Option<WireApproval>,
    pub cohort: Option<WireCohort>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WireApproval {
    pub timeout: Option<String>,
    pub on_timeout: Option<OnTimeout>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WireCohort {
    pub header: String,
    pub values: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WireHealth {
    pub interval: Option<String>,
    #[serde(default)]
    pub alarms: Vec<String>,
    pub min_healthy_percent: Option<i64>,
    #[serde(default)]
    pub http: Vec<WireHttpProbe>,
    pub ready_timeout: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WireHttpProbe {
    pub url: String,
    pub expect_status: Option<i64>,
    pub timeout: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
/// Also the deployment file's `hookline.post_traffic` (`deployfile::wire`).
pub(crate) struct WirePostTraffic {
    pub bake: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WireTraffic {
    pub production_rule_arn: Option<String>,
}
