//! The execution document: what `hook` starts each state machine execution
//! with and what every task passes along (docs/contracts.md).

use serde::{Deserialize, Serialize};

use crate::plan::Plan;

/// Which lifecycle hook an execution answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum HookEvent {
    /// Before production traffic moves: the canary runs here.
    BeforeAllowTraffic,
    /// After production traffic moved: bake under full traffic, finalize.
    AfterAllowTraffic,
}

impl HookEvent {
    /// The event's name as CodeDeploy spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            HookEvent::BeforeAllowTraffic => "BeforeAllowTraffic",
            HookEvent::AfterAllowTraffic => "AfterAllowTraffic",
        }
    }

    /// Parses CodeDeploy's lifecycle event name.
    pub fn from_name(name: &str) -> Option<HookEvent> {
        match name {
            "BeforeAllowTraffic" => Some(HookEvent::BeforeAllowTraffic),
            "AfterAllowTraffic" => Some(HookEvent::AfterAllowTraffic),
            _ => None,
        }
    }
}

/// Who is waiting for the hook's answer, so it can be reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum HookKind {
    /// CodeDeploy's `PutLifecycleEventHookExecutionStatus`.
    #[default]
    Codedeploy,
}

/// The lifecycle hook invocation an execution must answer exactly once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookRef {
    #[serde(default)]
    pub kind: HookKind,
    pub event: HookEvent,
    /// Opaque; never parsed.
    pub execution_id: String,
}

/// One side of the blue/green pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Side {
    pub target_group_arn: String,
    pub target_group_name: String,
    pub task_set_arn: Option<String>,
}

/// Everything about the deployment a function needs, resolved once by `hook`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentContext {
    pub deployment_id: String,
    pub application: String,
    pub deployment_group: String,
    pub hook: Option<HookRef>,
    pub cluster: String,
    pub service: String,
    pub prod_listener_arn: String,
    pub test_listener_arn: Option<String>,
    /// Weights live on this listener rule instead of the default action.
    pub prod_rule_arn: Option<String>,
    pub blue: Side,
    pub green: Side,
}

/// Where the rollout stands; rewritten by `shift-weight` and the Advance state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct RolloutState {
    #[serde(default)]
    pub index: u64,
    /// Green's share of production traffic, as the previous step left it.
    #[serde(default)]
    pub weight: u8,
    /// Epoch seconds when the execution started (hook budget and ready timeout count from here).
    pub started_at: i64,
    /// Epoch seconds when the current bake ends.
    #[serde(default)]
    pub bake_until: Option<i64>,
}

/// Input of the `canary` and `post-traffic` state machines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutionDocument {
    pub context: DeploymentContext,
    pub plan: Plan,
    pub state: RolloutState,
}

/// The execution name for a deployment's hook: a duplicate invocation maps to the same one.
pub fn execution_name(deployment_id: &str, event: HookEvent) -> String {
    // Step Functions names allow 80 characters of [A-Za-z0-9-_]; deployment ids are `d-` + 9 alphanumerics.
    let safe: String = deployment_id.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect();
    let mut name = format!("{safe}-{}", event.as_str());
    name.truncate(80);
    name
}

/// Now, in epoch seconds.
pub fn now_epoch() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn execution_name_is_stable_and_valid() {
        assert_eq!(execution_name("d-ABC123XYZ", HookEvent::BeforeAllowTraffic), "d-ABC123XYZ-BeforeAllowTraffic");
        assert_eq!(execution_name("d-ABC123XYZ", HookEvent::AfterAllowTraffic), "d-ABC123XYZ-AfterAllowTraffic");
        assert_eq!(execution_name("d-A B/C", HookEvent::AfterAllowTraffic), "d-ABC-AfterAllowTraffic");
    }
}
