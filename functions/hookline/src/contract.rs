//! The names and shapes shared by the functions, the CLI and the state
//! machines, in one place so none of them can drift alone.
//!
//! Layout:
//! - plan parameters: where plans live in SSM ([`plan_parameter`], [`last_release_parameter`]);
//! - execution names: `<deployment-id>-<event>` ([`execution_name`]);
//! - [`state`]: the state names the CLI reads from execution history;
//! - each function's input ([`ShiftWeightInput`], [`HealthGateInput`], [`DeploymentGateInput`],
//!   [`FinalizeInput`], [`RollbackInput`], [`RollbackConsoleInput`], [`RegisterTaskdefInput`]),
//!   and the outputs the state machines read back ([`GateOutput`]; `shift-weight` answers a
//!   [`RolloutState`]).
//!
//! The tests at the bottom load `statemachine/*.asl.json` and check that every
//! state named here exists with the expected type, that each function Task
//! passes exactly the fields of its function's input type, and that every path
//! the machines read from a function's result names a field of its output.

use serde::{Deserialize, Serialize};

use crate::execution::{DeploymentContext, ExecutionDocument, RolloutState};
use crate::health::Check;
use crate::plan::{Plan, Step};

/// The environment variable that overrides where plans live.
pub const PLAN_PARAMETER_PREFIX_ENV: &str = "PLAN_PARAMETER_PREFIX";

/// Where plans live unless [`PLAN_PARAMETER_PREFIX_ENV`] says otherwise.
pub const DEFAULT_PLAN_PARAMETER_PREFIX: &str = "/hookline";

/// The plan prefix from the environment, or the default.
pub fn plan_parameter_prefix_from_env() -> String {
    std::env::var(PLAN_PARAMETER_PREFIX_ENV)
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| DEFAULT_PLAN_PARAMETER_PREFIX.into())
}

/// The SSM parameter holding the plan of `application`'s deployment group `group`:
/// `<prefix>/<application>/<group>`.
pub fn plan_parameter(prefix: &str, application: &str, group: &str) -> String {
    format!("{}/{application}/{group}", prefix.trim_end_matches('/'))
}

/// The SSM parameter `finalize` records the last release in: `<plan parameter>/last-release`.
pub fn last_release_parameter(prefix: &str, application: &str, group: &str) -> String {
    format!("{}/last-release", plan_parameter(prefix, application, group))
}

/// The application an ECS-native service deployment's context names: `ecs/<cluster>`, so that
/// [`plan_parameter`] of (application, service) is `<prefix>/ecs/<cluster>/<service>` on every path
/// that reads the plan or writes the release record, for both controllers alike.
pub fn ecs_application(cluster: &str) -> String {
    format!("ecs/{cluster}")
}

/// The SSM parameter holding the plan of the ECS-native service `service` in `cluster`:
/// `<prefix>/ecs/<cluster>/<service>`.
pub fn ecs_plan_parameter(prefix: &str, cluster: &str, service: &str) -> String {
    plan_parameter(prefix, &ecs_application(cluster), service)
}

/// The SSM parameter holding the release record of hookline's own Route 53 controller's
/// deployment `deployment_id` (`dns-...`): `<prefix>/dns/<deployment id>` ([`crate::dns::ReleaseRecord`]).
pub fn dns_release_parameter(prefix: &str, deployment_id: &str) -> String {
    format!("{}/dns/{deployment_id}", prefix.trim_end_matches('/'))
}

pub use crate::execution::{execution_name, execution_name_prefix, gate_execution_name};

/// State names of the `canary` and `post-traffic` state machines that the CLI
/// reads from execution history (`hookline history`, `watch`).
pub mod state {
    /// canary: green behind the test listener (the `ready` health gate).
    pub const VALIDATE_GREEN: &str = "ValidateGreen";
    /// canary and post-traffic: the `bake` health gate.
    pub const BAKE: &str = "Bake";
    /// canary: a weight step.
    pub const SHIFT_WEIGHT: &str = "ShiftWeight";
    /// canary: a cohort step.
    pub const ROUTE_COHORT: &str = "RouteCohort";
    /// canary: an approval step (task token).
    pub const REQUEST_APPROVAL: &str = "RequestApproval";
    /// canary: on to the next step.
    pub const ADVANCE: &str = "Advance";
    /// canary and post-traffic: report the hook `Succeeded`.
    pub const FINALIZE: &str = "Finalize";
    /// canary and post-traffic: the one way back.
    pub const ROLLBACK: &str = "Rollback";
    /// canary and post-traffic: the Fail state after a rollback; its error name is also
    /// what the rollback function's status-change form recognizes.
    pub const ROLLED_BACK: &str = "RolledBack";
    /// canary and rollback: after the rollback function, whether it asked for a drain.
    pub const DRAIN_DUE: &str = "DrainDue";
    /// canary and rollback: the drain itself (`Wait` of the rollback's `drain_seconds`), then the
    /// rollback function again, which finishes the end's work.
    pub const WAIT_FOR_RESOLVERS: &str = "WaitForResolvers";
}

/// The rollback function's output field asking its state machine to wait that many seconds and
/// invoke it again (hookline's own Route 53 releases: green keeps its tasks for the records' TTL +
/// the resolver grace after DNS went back to blue; docs/route53-controller.md, decision 23).
pub const DRAIN_SECONDS: &str = "drain_seconds";

/// `shift-weight`'s input: `{"context", "state", "step"}` (ShiftWeight, RouteCohort).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShiftWeightInput {
    pub context: DeploymentContext,
    pub state: RolloutState,
    pub step: Step,
}

/// Which health gate `validate-health` runs (its `gate` field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Gate {
    /// Green behind the test listener, before any production traffic.
    Ready,
    /// During a bake: health plus the bake clock.
    Bake,
    /// The deployment's status only (the `release` state machine waits on it).
    Deployment,
}

/// `validate-health`'s input for the `ready` and `bake` gates, besides `gate`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthGateInput {
    pub context: DeploymentContext,
    pub plan: Plan,
    pub state: RolloutState,
}

/// `validate-health`'s input for the `deployment` gate, besides `gate`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeploymentGateInput {
    pub deployment_id: String,
}

/// `validate-health`'s answer (written to `$.health` by the canary and post-traffic
/// machines, to `$.outcome` by `release`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum GateOutput {
    /// The `ready` and `bake` gates. `judgement`: the canary judge's result at the end of a weight
    /// step's bake when the plan has an `analysis`; `approval`: present when the judgement asks an
    /// operator (the canary machine passes it to its approval state as the step).
    Health {
        healthy: bool,
        done: bool,
        wait_seconds: u64,
        checked_at: i64,
        checks: Vec<Check>,
        #[serde(skip_serializing_if = "Option::is_none")]
        judgement: Option<Box<crate::health::verdict::StepJudgement>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        approval: Option<Step>,
        /// When a bake is done: the state's judgements plus this step's, if judged. The canary
        /// machine keeps them in `$.state.judgements` (KeepJudgements) for the execution's output.
        #[serde(skip_serializing_if = "Option::is_none")]
        judgements: Option<Vec<serde_json::Value>>,
        /// hookline's Route 53 controller, at each bake check: green's observed share of requests
        /// next to the set weight (`dns::ObservedSplit`).
        #[serde(skip_serializing_if = "Option::is_none")]
        observed: Option<crate::dns::ObservedSplit>,
    },
    /// The `deployment` gate: hookline's deployment status word and whether it has ended.
    Deployment { status: String, done: bool },
}

/// `finalize`'s input: the execution document.
pub type FinalizeInput = ExecutionDocument;

/// `rollback`'s input from a state machine's Catch: the execution document plus the caught `error`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RollbackInput {
    pub context: DeploymentContext,
    pub plan: Plan,
    pub state: RolloutState,
    /// `{"Error", "Cause"}` as the Catch recorded it; `null` when absent.
    #[serde(default)]
    pub error: serde_json::Value,
    /// How many times Step Functions has already retried this Task (`$$.State.RetryCount`).
    /// While retries remain, a rollback that could not restore production does not report
    /// the hook yet; on the last attempt it reports anyway. Absent (a definition older than
    /// this field): reported at once, as before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
}

/// Time kept back from the hook's deadline for rolling back and reporting (its retries included):
/// `validate-health` fails the budget this long before the controller's hook timeout, and the ECS
/// entry refuses a plan whose budget plus this reserve does not fit the hook's configured timeout.
pub const ROLLBACK_RESERVE_SECONDS: u64 = 300;

/// The `Rollback` Task's `States.ALL` retries in the canary and post-traffic machines: its
/// attempt number `ROLLBACK_RETRIES` is the last one.
pub const ROLLBACK_RETRIES: u32 = 6;

/// `rollback`'s console form (and the `rollback` state machine's): `{"deployment_id", "reason"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RollbackConsoleInput {
    pub deployment_id: String,
    #[serde(default)]
    pub reason: Option<String>,
}

/// `register-taskdef`'s input: `{"application", "deployment_group", "image"}` plus optional overrides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterTaskdefInput {
    pub application: String,
    pub deployment_group: String,
    pub image: String,
    #[serde(default)]
    pub container: Option<String>,
    #[serde(default)]
    pub cluster: Option<String>,
    #[serde(default)]
    pub service: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

#[cfg(test)]
mod tests;
