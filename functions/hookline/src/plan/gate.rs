//! Gate mode (`mode: gate`): the plan of a service whose deployment strategy is ECS's `LINEAR` or
//! `CANARY`. ECS shifts production in its own steps and invokes the service's
//! `PRE_PRODUCTION_TRAFFIC_SHIFT` hook "before every traffic shift step" (ECS API reference,
//! DeploymentLifecycleHook: "PRE_PRODUCTION_TRAFFIC_SHIFT: Occurs before production traffic shift.
//! For linear and canary deployments, this stage is invoked before every traffic shift step.").
//! hookline answers that hook: before the first shift (production weight 0) with the ready gate
//! against green behind the test listener, before each later one with the plan's health gates at
//! the weight ECS has reached, then the approvals the plan asks at that weight. The weights are
//! ECS's (`linearConfiguration.stepPercent`, `canaryConfiguration.canaryPercent`), never the plan's,
//! and hookline never writes the production rule.
//!
//! Plain Rust: the ECS adapter and the CLI read the service's step configuration into
//! [`ServiceSteps`]; [`Plan::problems_on`] says what of the plan those steps cannot express, and
//! [`Plan::at_gate`] is the plan one gate's execution runs.

use super::duration::human;
use super::problem::{Problem, Problems};
use super::step::Step;
use super::Plan;

pub use super::model::{Gate, GateApproval};

/// ECS's deployment strategies that shift production in steps (gate mode serves them).
pub const GATE_STRATEGIES: [&str; 2] = ["LINEAR", "CANARY"];

/// A service's (or a service deployment's) step configuration, as gate mode needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceSteps {
    /// `deploymentConfiguration.strategy` (`BLUE_GREEN`, `LINEAR`, `CANARY`, `ROLLING`).
    pub strategy: String,
    /// `linearConfiguration.stepPercent` or `canaryConfiguration.canaryPercent` in tenths of a
    /// percent ("Valid values are multiples of 0.1", ECS API reference, LinearConfiguration), when set.
    pub percent_tenths: Option<u16>,
    /// The `PRE_PRODUCTION_TRAFFIC_SHIFT` Lambda hooks' `timeoutConfiguration.timeoutInMinutes`
    /// (1440 where unset); `None` when the service has no such hook. Unknown (`Some(vec![])` is
    /// not used): a deployment read at run time has the hook that invoked hookline.
    pub pre_production_hook_timeouts_minutes: Option<Vec<u64>>,
}

/// The `timeoutInMinutes` ECS uses when a hook sets none (ECS API reference,
/// DeploymentLifecycleHookTimeoutConfiguration: "The default value is 1440").
pub const DEFAULT_HOOK_TIMEOUT_MINUTES: u64 = 1440;

impl ServiceSteps {
    /// Whether ECS shifts production in steps under this strategy.
    pub fn is_stepped(&self) -> bool {
        GATE_STRATEGIES.contains(&self.strategy.as_str())
    }

    /// The field that sets the step size, as problems name it.
    pub fn percent_field(&self) -> &'static str {
        if self.strategy == "CANARY" {
            "deploymentConfiguration.canaryConfiguration.canaryPercent"
        } else {
            "deploymentConfiguration.linearConfiguration.stepPercent"
        }
    }

    /// The production weights (green percent, rounded as a listener rule's percentages are) ECS
    /// has reached when it invokes each `PRE_PRODUCTION_TRAFFIC_SHIFT` hook, in order: 0 before the
    /// first shift, then every step below 100. LINEAR shifts `stepPercent` (default 10.0) at a time
    /// until 100 ("shifts production traffic in equal percentage increments ... until 100% of
    /// traffic is shifted", ECS API reference, LinearConfiguration); CANARY `canaryPercent`
    /// (default 5.0), then the rest ("shifts a fixed percentage of traffic to the new service
    /// revision, waits for a specified bake time, then shifts the remaining traffic", ECS API
    /// reference, CanaryConfiguration).
    pub fn gate_weights(&self) -> Vec<u8> {
        let mut out = vec![0u8];
        let given = self.percent_tenths.filter(|p| *p > 0);
        match self.strategy.as_str() {
            "LINEAR" => {
                let step = u32::from(given.unwrap_or(100));
                let mut reached = step;
                while reached < 1000 {
                    out.push(percent(reached));
                    reached += step;
                }
            }
            "CANARY" => {
                let canary = u32::from(given.unwrap_or(50));
                if canary < 1000 {
                    out.push(percent(canary));
                }
            }
            _ => {}
        }
        out.dedup();
        out
    }

    /// The step size as the service writes it (`25.0`), or that it is unset.
    fn percent_text(&self) -> String {
        self.percent_tenths.map_or("unset (the default)".into(), |t| format!("{}.{}", t / 10, t % 10))
    }
}

/// Tenths of a percent, rounded to a whole percent (half up), as a listener rule's shares read.
fn percent(tenths: u32) -> u8 {
    u8::try_from(((tenths + 5) / 10).min(100)).unwrap_or(100)
}

impl Plan {
    /// Whether this is a gate-mode plan.
    pub fn is_gate(&self) -> bool {
        self.gate.is_some()
    }

    /// What of this plan the service's steps cannot express, each problem naming the plan's field
    /// and the service's setting it conflicts with (`hookline plan validate --service-config`, and
    /// the hook before a gate starts).
    pub fn problems_on(&self, service: &ServiceSteps) -> Vec<Problem> {
        let mut p = Problems::default();
        match (&self.gate, service.is_stepped()) {
            (None, false) | (Some(_), true) => {}
            (None, true) => p.add(
                "mode",
                format!(
                    "gate for a service whose deploymentConfiguration.strategy is {}: ECS shifts production in its own \
                     steps, which hookline's weight steps would fight (or change the service's strategy to BLUE_GREEN)",
                    service.strategy
                ),
            ),
            (Some(_), false) => p.add(
                "mode",
                format!(
                    "shift (absent) for a service whose deploymentConfiguration.strategy is {}: gate mode needs LINEAR \
                     or CANARY, where ECS shifts production in steps",
                    service.strategy
                ),
            ),
        }
        if let (Some(gate), true) = (&self.gate, service.is_stepped()) {
            let weights = service.gate_weights();
            let listed: Vec<String> = weights.iter().map(u8::to_string).collect();
            for a in &gate.approvals {
                if !weights.contains(&a.after_weight) {
                    p.add(
                        format!("steps[{}].approval.after_weight", a.step),
                        format!(
                            "one of {} (the production weights ECS has reached before a step under {} {}), got {}",
                            listed.join(", "),
                            service.percent_field(),
                            service.percent_text(),
                            a.after_weight
                        ),
                    );
                }
            }
            match &service.pre_production_hook_timeouts_minutes {
                None => p.add(
                    "mode",
                    "a lifecycle hook at PRE_PRODUCTION_TRAFFIC_SHIFT (deploymentConfiguration.lifecycleHooks[].\
                     lifecycleStages): the service has none, so hookline would never be asked",
                ),
                Some(timeouts) => {
                    if let Some(shortest) = timeouts.iter().min() {
                        let limit = shortest.saturating_mul(60);
                        if self.hook_budget_seconds > limit {
                            p.add(
                                "hook_budget",
                                format!(
                                    "at most {} (deploymentConfiguration.lifecycleHooks[].timeoutConfiguration.\
                                     timeoutInMinutes of the PRE_PRODUCTION_TRAFFIC_SHIFT hook is {shortest}), got {}",
                                    human(limit),
                                    human(self.hook_budget_seconds)
                                ),
                            );
                        }
                    }
                }
            }
        }
        p.0
    }

    /// The plan the gate execution at production weight `weight` runs on hookline's canary state
    /// machine: no weight step (ECS moves production), the approvals the plan asks at `weight` as
    /// approval steps, and, past the first gate, no ready timeout: the ready gate then checks the
    /// plan's health gates once and fails at the first unhealthy verdict, as a bake does.
    pub fn at_gate(&self, weight: u8) -> Plan {
        let mut plan = self.clone();
        let approvals = self.gate.as_ref().map(|g| g.approvals.as_slice()).unwrap_or_default();
        plan.steps = approvals
            .iter()
            .filter(|a| a.after_weight == weight)
            .map(|a| Step::Approval { timeout_seconds: a.timeout_seconds, on_timeout: a.on_timeout })
            .collect();
        plan.step_count = plan.steps.len();
        if weight > 0 {
            plan.health.ready_timeout_seconds = 0;
        }
        plan
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Controller, OnTimeout};

    fn linear(tenths: u16, timeout: u64) -> ServiceSteps {
        ServiceSteps {
            strategy: "LINEAR".into(),
            percent_tenths: Some(tenths),
            pre_production_hook_timeouts_minutes: Some(vec![timeout]),
        }
    }

    const GATE_PLAN: &str = "mode: gate\nsteps:\n  - approval: {timeout: 10m, after_weight: 25}\nhook_budget: 30m\n";

    #[test]
    fn ecs_steps_give_the_gate_weights() {
        assert_eq!(linear(250, 60).gate_weights(), vec![0, 25, 50, 75]);
        assert_eq!(linear(300, 60).gate_weights(), vec![0, 30, 60, 90]);
        let canary = ServiceSteps { strategy: "CANARY".into(), percent_tenths: Some(100), ..linear(0, 60) };
        assert_eq!(canary.gate_weights(), vec![0, 10]);
        let defaults = ServiceSteps { percent_tenths: None, ..linear(0, 60) };
        assert_eq!(defaults.gate_weights(), vec![0, 10, 20, 30, 40, 50, 60, 70, 80, 90]);
    }

    #[test]
    fn a_gate_plan_fits_a_linear_service() {
        let plan = Plan::parse_for(GATE_PLAN, Controller::Ecs).expect("valid");
        assert!(plan.problems_on(&linear(250, 60)).is_empty());
        let at_25 = plan.at_gate(25);
        assert_eq!(at_25.steps, vec![Step::Approval { timeout_seconds: 600, on_timeout: OnTimeout::Rollback }]);
        assert_eq!(at_25.health.ready_timeout_seconds, 0, "past the first gate: one check, no waiting");
        let at_0 = plan.at_gate(0);
        assert!(at_0.steps.is_empty() && at_0.step_count == 0);
        assert_eq!(at_0.health.ready_timeout_seconds, plan.health.ready_timeout_seconds);
    }

    #[test]
    fn what_the_service_cannot_express_is_named_with_its_setting() {
        let plan = Plan::parse_for(GATE_PLAN, Controller::Ecs).expect("valid");
        let problems = plan.problems_on(&linear(200, 20));
        let fields: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["steps[0].approval.after_weight", "hook_budget"], "{problems:?}");
        assert!(problems[0].expected.contains("0, 20, 40, 60, 80"), "{}", problems[0].expected);
        assert!(problems[0].expected.contains("linearConfiguration.stepPercent"), "{}", problems[0].expected);
        assert!(problems[1].expected.contains("timeoutInMinutes"), "{}", problems[1].expected);

        let blue_green = ServiceSteps { strategy: "BLUE_GREEN".into(), ..linear(250, 60) };
        let problems = plan.problems_on(&blue_green);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].field == "mode" && problems[0].expected.contains("BLUE_GREEN"), "{problems:?}");

        let no_hook = ServiceSteps { pre_production_hook_timeouts_minutes: None, ..linear(250, 60) };
        let problems = plan.problems_on(&no_hook);
        assert!(problems.iter().any(|p| p.field == "mode" && p.expected.contains("PRE_PRODUCTION_TRAFFIC_SHIFT")));

        let shift = Plan::parse_for("steps:\n  - weight: 100\n", Controller::Ecs).expect("valid");
        let problems = shift.problems_on(&linear(250, 60));
        assert!(problems.len() == 1 && problems[0].field == "mode" && problems[0].expected.contains("LINEAR"));
    }

    #[test]
    fn gate_mode_refuses_what_only_hooklines_shifting_has_naming_the_field() {
        let cases: &[(&str, Controller, &str, &str)] = &[
            ("mode: gate\nsteps:\n  - weight: 50\n", Controller::Ecs, "steps[0].weight", "ECS sets the weights"),
            (
                "mode: gate\nsteps:\n  - cohort: {header: X, values: [a]}\n",
                Controller::Ecs,
                "steps[0].cohort",
                "no listener rule",
            ),
            (
                "mode: gate\nsteps:\n  - approval: {timeout: 5m}\n",
                Controller::Ecs,
                "steps[0].approval.after_weight",
                "0 to 99",
            ),
            (
                "mode: gate\nsteps:\n  - approval: {timeout: 5m, after_weight: 100}\n",
                Controller::Ecs,
                "steps[0].approval.after_weight",
                "after 100",
            ),
            ("mode: gate\nsteps: []\npost_traffic: {bake: 1m}\n", Controller::Ecs, "post_traffic", "bakeTimeInMinutes"),
            ("mode: gate\nsteps: []\n", Controller::CodeDeploy, "mode", "--controller ecs"),
            ("mode: sideways\nsteps: []\n", Controller::Ecs, "mode", "shift"),
            (
                "steps:\n  - approval: {timeout: 5m, after_weight: 10}\n  - weight: 100\n",
                Controller::Ecs,
                "steps[0].approval.after_weight",
                "only in gate mode",
            ),
            (
                "mode: gate\nsteps: []\nanalysis: {on_marginal: approval, metrics: [{name: x, metric: TargetResponseTime, statistic: p99}]}\n",
                Controller::Ecs,
                "analysis.on_marginal",
                "gate mode",
            ),
        ];
        for (text, controller, field, expected) in cases {
            let errs = Plan::parse_for(text, *controller).expect_err(text);
            assert!(
                errs.0.iter().any(|p| p.field == *field && p.expected.contains(expected)),
                "{text}: wanted {field} ~ {expected}, got {errs}"
            );
        }
        let empty = Plan::parse_for("mode: gate\nsteps: []\n", Controller::Ecs).expect("health gates only");
        assert!(empty.is_gate() && empty.steps.is_empty());
        let worst = Plan::parse_for(
            "mode: gate\nsteps:\n  - approval: {timeout: 5m, after_weight: 0}\n  - approval: {timeout: 20m, after_weight: 50}\n",
            Controller::Ecs,
        )
        .expect("valid");
        assert_eq!(worst.worst_case_seconds(), worst.health.ready_timeout_seconds + 20 * 60, "one gate's longest wait");
    }
}
