//! One canary step. An enum, so a step with two kinds (or none) cannot exist
//! past validation.

use serde::{Deserialize, Serialize};

/// What to do when an approval is not answered in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum OnTimeout {
    /// Restore blue and report the hook `Failed` (the default: silence is not consent).
    #[default]
    Rollback,
    /// Go on with the next step.
    Continue,
}

/// A step of the plan, normalized: durations in whole seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Step {
    /// Send `weight`% of production to green, then bake with the health gate running.
    Weight { weight: u8, bake_seconds: u64 },
    /// Wait for an operator's approval (task token), at most `timeout_seconds`.
    Approval { timeout_seconds: u64, on_timeout: OnTimeout },
    /// Route requests whose `header` has one of `values` to green.
    Cohort { header: String, values: Vec<String> },
}

impl Step {
    /// The longest this step can take (bake or approval timeout).
    pub fn worst_case_seconds(&self) -> u64 {
        match self {
            Step::Weight { bake_seconds, .. } => *bake_seconds,
            Step::Approval { timeout_seconds, .. } => *timeout_seconds,
            Step::Cohort { .. } => 0,
        }
    }

    /// One line for timelines and logs.
    pub fn describe(&self) -> String {
        match self {
            Step::Weight { weight, bake_seconds } => {
                format!("shift green to {weight}%, bake {}", super::duration::human(*bake_seconds))
            }
            Step::Approval { timeout_seconds, on_timeout } => format!(
                "wait for approval, up to {} (then {})",
                super::duration::human(*timeout_seconds),
                match on_timeout {
                    OnTimeout::Rollback => "roll back",
                    OnTimeout::Continue => "continue",
                }
            ),
            Step::Cohort { header, values } => {
                format!("route {header}: {} to green", values.join(", "))
            }
        }
    }
}
