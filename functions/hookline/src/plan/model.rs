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
    /// Gate mode (`mode: gate`): ECS shifts production in its LINEAR / CANARY steps and hookline
    /// judges each one (`plan::gate`); `None` when hookline shifts production itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<Gate>,
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

impl Health {
    /// `every 5s; alarms a, b; GET url = 200; targets >= 100% healthy`: what every check of the gate
    /// looks at, as previews print it.
    pub fn describe(&self) -> String {
        let mut gates = vec![format!("every {}", super::human(self.interval_seconds))];
        if !self.alarms.is_empty() {
            gates.push(format!("alarms {}", self.alarms.join(", ")));
        }
        for p in &self.http {
            gates.push(format!("GET {} = {}", p.url, p.expect_status));
        }
        gates.push(format!("targets >= {}% healthy", self.min_healthy_percent));
        gates.join("; ")
    }
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
        // A judged gate waits for its window before it judges (and may then ask its approvals).
        let judge_wait = match (&self.gate, &self.analysis) {
            (Some(_), Some(analysis)) => analysis.needed_bake_seconds(),
            _ => 0,
        };
        let gate_approvals = self.gate.as_ref().map_or(0, Gate::worst_case_seconds) + judge_wait;
        self.health.ready_timeout_seconds
            + self.steps.iter().map(Step::worst_case_seconds).sum::<u64>()
            + gate_approvals
    }
}

/// What a gate-mode plan asks beyond the health gates, which run at every gate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Gate {
    /// The approvals, each asked at the gate of its weight, in the plan's order.
    pub approvals: Vec<GateApproval>,
    /// In one gate's execution document: when ECS took the step the gate judges (epoch seconds; the
    /// previous gate's end), the start of the judge's window. Absent in stored plans.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_started_at: Option<i64>,
}

/// An approval asked at the `PRE_PRODUCTION_TRAFFIC_SHIFT` hook that finds production at
/// `after_weight` percent green (0: before the first production shift).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateApproval {
    pub after_weight: u8,
    pub timeout_seconds: u64,
    pub on_timeout: super::step::OnTimeout,
    /// Its index in the plan's `steps`, for problems that name it.
    pub step: usize,
}

impl Gate {
    /// The longest one gate can wait: the largest sum of approval timeouts asked at one weight.
    pub fn worst_case_seconds(&self) -> u64 {
        let mut weights: Vec<u8> = self.approvals.iter().map(|a| a.after_weight).collect();
        weights.dedup();
        weights
            .into_iter()
            .map(|w| self.approvals.iter().filter(|a| a.after_weight == w).map(|a| a.timeout_seconds).sum::<u64>())
            .max()
            .unwrap_or(0)
    }
}
