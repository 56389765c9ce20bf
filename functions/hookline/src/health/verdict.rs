//! Health verdicts from observed facts. No I/O here.

use serde::{Deserialize, Serialize};

use crate::judge::Judgement;

/// One check and why it passed or failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    pub name: String,
    pub ok: bool,
    pub reason: String,
}

impl Check {
    fn new(name: impl Into<String>, ok: bool, reason: impl Into<String>) -> Check {
        Check { name: name.into(), ok, reason: reason.into() }
    }
}

/// Every check of one gate run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Verdict {
    pub checks: Vec<Check>,
}

impl Verdict {
    /// Healthy when every check passed.
    pub fn healthy(&self) -> bool {
        self.checks.iter().all(|c| c.ok)
    }

    /// The failed checks, one per clause, for error messages.
    pub fn failures(&self) -> String {
        let failed: Vec<String> =
            self.checks.iter().filter(|c| !c.ok).map(|c| format!("{}: {}", c.name, c.reason)).collect();
        failed.join("; ")
    }
}

/// Green's registered healthy targets against `min_healthy_percent` of the task set's desired count.
pub fn targets(
    target_group: &str,
    healthy: usize,
    registered: usize,
    desired: Option<i64>,
    min_healthy_percent: u8,
) -> Check {
    let name = format!("targets {target_group}");
    // Without a task set (or its desired count) every registered target must be healthy.
    let desired = desired.map_or(registered, |d| usize::try_from(d).unwrap_or(0));
    if desired == 0 {
        return Check::new(name, false, format!("no tasks desired ({registered} registered)"));
    }
    let needed = (desired * usize::from(min_healthy_percent)).div_ceil(100);
    let ok = healthy >= needed && healthy > 0;
    Check::new(name, ok, format!("{healthy} healthy of {desired} desired, need {needed} ({min_healthy_percent}%)"))
}

/// The task set has reached steady state.
pub fn steady(task_set: &str, stability: Option<&str>) -> Check {
    let status = stability.unwrap_or("unknown");
    Check::new(format!("task set {task_set}"), status == "STEADY_STATE", format!("stability {status}"))
}

/// Green's own service is stable as the `services_stable` waiter says (one deployment, as many
/// tasks running as desired, at least one); a missing service fails.
pub fn service_stable(service: &str, facts: Option<&crate::dns::ServiceFacts>) -> Check {
    let name = format!("service {service}");
    match facts {
        None => Check::new(name, false, "service does not exist"),
        Some(f) => Check::new(
            name,
            f.stable() && f.desired > 0,
            format!("{} of {} tasks running, {} deployment(s)", f.running, f.desired, f.deployments),
        ),
    }
}

/// A CloudWatch alarm is not firing. A missing alarm fails: a gate that
/// watches nothing must not pass silently.
pub fn alarm(name: &str, state: Option<&str>) -> Check {
    match state {
        None => Check::new(format!("alarm {name}"), false, "alarm does not exist"),
        Some(s) => Check::new(format!("alarm {name}"), s != "ALARM", format!("state {s}")),
    }
}

/// An HTTP probe's outcome.
pub fn http(url: &str, expect_status: u16, got: Result<u16, String>) -> Check {
    let name = format!("http {url}");
    match got {
        Ok(s) => Check::new(name, s == expect_status, format!("status {s}, expected {expect_status}")),
        Err(e) => Check::new(name, false, e),
    }
}

/// Where a bake stands at `now`: done, or how long to wait before the next check.
pub fn bake_progress(now: i64, bake_until: Option<i64>, interval_seconds: u64) -> (bool, u64) {
    match bake_until {
        None => (true, 0),
        Some(until) if now >= until => (true, 0),
        Some(until) => {
            let left = u64::try_from(until - now).unwrap_or(1);
            (false, left.clamp(1, interval_seconds.max(1)))
        }
    }
}

/// What the canary does after a judgement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// On to the next step.
    Continue,
    /// Restore blue and report the hook `Failed` (`HealthCheckFailed`).
    Rollback,
    /// Ask an operator through the canary's approval state.
    Approval,
}

/// A judgement at the end of a weight step's bake, as `validate-health` reports it under
/// `$.health.judgement`: the step, the window judged, every metric's statistics, the score and outcome,
/// and what the canary does about it (with a note when a rule of the plan decided).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepJudgement {
    /// 0-based index of the weight step in `plan.steps`.
    pub step: u64,
    /// Green's share of production during the window.
    pub weight: u8,
    /// `[start, end)` epoch seconds.
    pub window: [i64; 2],
    #[serde(flatten)]
    pub judgement: Judgement,
    pub action: Action,
    /// Why the action is not the outcome's own (a `Marginal` or `NoData` ruled by the plan).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_need_min_healthy_percent_of_desired() {
        assert!(targets("g", 2, 2, Some(2), 100).ok);
        assert!(!targets("g", 1, 2, Some(2), 100).ok);
        assert!(targets("g", 1, 2, Some(2), 50).ok);
        assert!(!targets("g", 0, 0, Some(0), 100).ok, "nothing desired is not healthy");
        assert!(!targets("g", 0, 3, None, 0).ok, "zero healthy never passes");
        assert!(targets("g", 3, 3, None, 100).ok);
        assert_eq!(targets("g", 1, 3, Some(3), 100).reason, "1 healthy of 3 desired, need 3 (100%)");
    }

    #[test]
    fn alarms_steady_and_http() {
        assert!(alarm("a", Some("OK")).ok);
        assert!(alarm("a", Some("INSUFFICIENT_DATA")).ok);
        assert!(!alarm("a", Some("ALARM")).ok);
        assert!(!alarm("a", None).ok);
        assert!(steady("ts", Some("STEADY_STATE")).ok);
        assert!(!steady("ts", Some("STABILIZING")).ok);
        assert!(http("u", 200, Ok(200)).ok);
        assert!(!http("u", 200, Ok(500)).ok);
        assert!(!http("u", 200, Err("timed out after 2s".into())).ok);
    }

    #[test]
    fn verdict_lists_failures() {
        let v = Verdict { checks: vec![alarm("a", Some("OK")), alarm("b", Some("ALARM"))] };
        assert!(!v.healthy());
        assert_eq!(v.failures(), "alarm b: state ALARM");
    }

    #[test]
    fn bake_waits_at_most_one_interval() {
        assert_eq!(bake_progress(100, None, 30), (true, 0));
        assert_eq!(bake_progress(100, Some(100), 30), (true, 0));
        assert_eq!(bake_progress(100, Some(400), 30), (false, 30));
        assert_eq!(bake_progress(100, Some(110), 30), (false, 10));
    }
}
