//! `hookline plan validate` / `hookline plan preview`: no AWS calls.

use std::path::Path;

use hookline::plan::{human, Controller, Plan, PlanErrors, Step};

use crate::{fail, R};

/// Reads and parses a plan file for `controller`: `.json` as JSON, `.yaml`/`.yml` as YAML, anything else by
/// its first character.
pub fn load(path: &Path, controller: Controller) -> R<Result<Plan, PlanErrors>> {
    let text = read(path)?;
    Ok(parse_for(path, &text, controller))
}

/// The plan file's text, or an error naming the file.
pub fn read(path: &Path) -> R<String> {
    std::fs::read_to_string(path).map_err(|e| fail(format!("cannot read plan {}: {e}", path.display())))
}

/// Parses plan text for CodeDeploy, choosing the format from the file name.
#[cfg(test)]
pub fn parse(path: &Path, text: &str) -> Result<Plan, PlanErrors> {
    parse_for(path, text, Controller::CodeDeploy)
}

/// Parses plan text for `controller`, choosing the format from the file name.
pub fn parse_for(path: &Path, text: &str, controller: Controller) -> Result<Plan, PlanErrors> {
    match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("json") => Plan::from_json_for(text, controller),
        Some("yaml" | "yml") => Plan::from_yaml_for(text, controller),
        _ => Plan::parse_for(text, controller),
    }
}

/// One problem per line, each naming the field, without positions.
#[cfg(test)]
pub fn problems(errs: &PlanErrors) -> String {
    errs.0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")
}

/// One problem per line, each naming the field; a problem the parser located starts with
/// `<file>:<line>:<column>: ` (the form editors and CI annotations jump to).
pub fn problems_in(path: &Path, errs: &PlanErrors) -> String {
    let line = |p: &hookline::plan::Problem| match p.location {
        Some(at) => format!("{}:{}:{}: {p}", path.display(), at.line, at.column),
        None => p.to_string(),
    };
    errs.0.iter().map(line).collect::<Vec<_>>().join("\n")
}

/// The one-line verdict of a valid plan.
pub fn valid_summary(path: &Path, plan: &Plan) -> String {
    format!(
        "{}: valid ({} steps; worst case {} of the {} hook budget)",
        path.display(),
        plan.step_count,
        human(plan.worst_case_seconds()),
        human(plan.hook_budget_seconds)
    )
}

/// The verdict, naming the controller when it is not the default.
pub fn valid_summary_for(path: &Path, plan: &Plan, controller: Controller) -> String {
    let summary = valid_summary(path, plan);
    match controller {
        Controller::CodeDeploy => summary,
        Controller::Ecs => summary.replacen(": valid (", ": valid for ECS (", 1),
    }
}

/// The steps as a timeline with cumulative worst-case times (CodeDeploy's hooks).
#[cfg(test)]
pub fn preview(plan: &Plan) -> String {
    preview_for(plan, Controller::CodeDeploy)
}

/// The steps as a timeline with cumulative worst-case times, naming `controller`'s hooks.
pub fn preview_for(plan: &Plan, controller: Controller) -> String {
    let mut out = Vec::new();
    let h = &plan.health;
    let mut gates = vec![format!("every {}", human(h.interval_seconds))];
    if !h.alarms.is_empty() {
        gates.push(format!("alarms {}", h.alarms.join(", ")));
    }
    for p in &h.http {
        gates.push(format!("GET {} = {}", p.url, p.expect_status));
    }
    gates.push(format!("targets >= {}% healthy", h.min_healthy_percent));
    out.push(format!("health gate: {}", gates.join("; ")));
    out.push(String::new());
    out.push(format!("{:>4}  {:>10}  {:>10}  {}", "STEP", "STARTS BY", "ENDS BY", "WHAT (worst case)"));
    let mut t = 0u64;
    let ready = h.ready_timeout_seconds;
    let ready_line = format!("green ready behind the test listener (up to {})", human(ready));
    out.push(format!("{:>4}  {:>10}  {:>10}  {ready_line}", "-", at(t), at(t + ready)));
    t += ready;
    for (i, step) in plan.steps.iter().enumerate() {
        let d = step.worst_case_seconds();
        let extra = match step {
            Step::Weight { weight, .. } => {
                format!("   production blue {}% / green {weight}%", 100 - u16::from(*weight))
            }
            _ => String::new(),
        };
        out.push(format!("{:>4}  {:>10}  {:>10}  {}{extra}", i + 1, at(t), at(t + d), step.describe()));
        t += d;
    }
    out.push(format!(
        "{:>4}  {:>10}  {:>10}  {}",
        "-",
        at(t),
        at(t),
        match controller {
            Controller::CodeDeploy => "finalize: report BeforeAllowTraffic Succeeded; CodeDeploy moves production to green",
            Controller::Ecs => {
                "finalize: answer POST_TEST_TRAFFIC_SHIFT SUCCEEDED; ECS's PRODUCTION_TRAFFIC_SHIFT keeps production on green"
            }
        }
    ));
    out.push(String::new());
    let budget = plan.hook_budget_seconds;
    let fits = if t <= budget {
        format!("fits, {} to spare", human(budget - t))
    } else {
        format!("DOES NOT FIT by {}", human(t - budget))
    };
    out.push(format!("worst case {} against the hook budget {} ({fits})", human(t), human(budget)));
    let post_traffic_hook = match controller {
        Controller::CodeDeploy => "AfterAllowTraffic",
        Controller::Ecs => "POST_PRODUCTION_TRAFFIC_SHIFT",
    };
    out.push(format!(
        "after traffic: bake {} under full traffic ({post_traffic_hook}, same budget)",
        human(plan.post_traffic.bake_seconds)
    ));
    out.join("\n")
}

/// A plan step with its worst-case window, in seconds after the canary started (what `preview` prints).
#[derive(Debug, Clone, serde::Serialize)]
pub struct ScheduledStep {
    pub index: usize,
    pub step: Step,
    pub describe: String,
    pub starts_by: u64,
    pub ends_by: u64,
}

/// The steps' worst-case windows after the ready gate; the last `ends_by` is the worst-case end.
pub fn schedule(plan: &Plan) -> Vec<ScheduledStep> {
    let mut t = plan.health.ready_timeout_seconds;
    let mut out = Vec::new();
    for (index, step) in plan.steps.iter().enumerate() {
        let d = step.worst_case_seconds();
        out.push(ScheduledStep { index, step: step.clone(), describe: step.describe(), starts_by: t, ends_by: t + d });
        t += d;
    }
    out
}

fn at(seconds: u64) -> String {
    if seconds == 0 {
        "0s".into()
    } else {
        human(seconds)
    }
}
