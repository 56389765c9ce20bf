use std::path::Path;

use hookline::plan::Controller;

use super::*;
use crate::watch::Outcome;

#[test]
fn watch_exit_codes_follow_the_deployment_outcome() {
    assert_eq!(Outcome::from_status("Succeeded").map(Outcome::exit_code), Some(0));
    assert_eq!(Outcome::from_status("Failed").map(Outcome::exit_code), Some(1));
    assert_eq!(Outcome::from_status("Stopped").map(Outcome::exit_code), Some(2));
    for running in ["Created", "Queued", "InProgress", "Ready", "Baking"] {
        assert_eq!(Outcome::from_status(running), None);
    }
}

#[test]
fn timeline_lines_start_with_the_utc_time() {
    assert_eq!(watch::line(1_763_776_000, "weights  blue 90% / green 10%"), "01:46:40  weights  blue 90% / green 10%");
}

#[test]
fn the_rejection_cause_carries_reason_and_who() {
    assert_eq!(
        approve::rejection_cause("p99 too high", "arn:aws:iam::1:user/bob"),
        "p99 too high (rejected by arn:aws:iam::1:user/bob)"
    );
}

const GOOD_YAML: &str = "
steps:
  - cohort: {header: X-Canary, values: [internal]}
  - weight: 10
    bake: 3s
  - approval: {timeout: 2m}
  - weight: 50
    bake: 3s
  - weight: 100
    bake: 2s
health:
  interval: 2s
  alarms: [web-5xx]
  http: [{url: 'http://127.0.0.1:4566/_sandbox/alb/8080/health'}]
  ready_timeout: 1m
post_traffic: {bake: 2s}
hook_budget: 10m
";

fn validate(name: &str, text: &str) -> Result<hookline::plan::Plan, Vec<String>> {
    plan_cmd::parse(Path::new(name), text).map_err(|e| plan_cmd::problems(&e).lines().map(str::to_string).collect())
}

#[test]
fn good_plans_are_accepted_in_yaml_and_json() {
    let plan = validate("plan.yaml", GOOD_YAML).expect("valid");
    assert_eq!(plan.step_count, 5);
    let json = r#"{"steps": [{"weight": 10, "bake": "5m"}, {"weight": 100}], "health": {"alarms": ["web-5xx"]}}"#;
    assert!(validate("plan.json", json).is_ok());
    assert!(validate("plan", json).is_ok(), "no extension: JSON by its first character");
    assert_eq!(
        plan_cmd::valid_summary(Path::new("plan.yaml"), &plan),
        "plan.yaml: valid (5 steps; worst case 3m 8s of the 10m hook budget)"
    );
}

#[test]
fn each_bad_plan_is_rejected_with_the_field_named() {
    let cases = [
        ("steps: []", "steps: "),
        ("steps: [{weight: 0}]", "steps[0].weight: "),
        ("steps: [{weight: 50}, {weight: 20}]", "steps[1].weight: more than the previous weight 50"),
        ("steps: [{weight: 10, bake: soon}]", "steps[0].bake: a duration"),
        ("steps: [{approval: {}}]", "steps[0].approval.timeout: "),
        ("steps: [{weight: 10, approval: {timeout: 1m}}]", "steps[0]: exactly one of weight, approval, cohort"),
        ("steps: [{cohort: {header: 'bad header', values: [a]}}]", "steps[0].cohort.header: "),
        ("steps: [{weight: 10}]\nhealth: {interval: 0s}", "health.interval: "),
        ("steps: [{weight: 10}]\nhealth: {http: [{url: 'ftp://x'}]}", "health.http[0].url: "),
        ("steps: [{weight: 10}]\nhook_budget: 2h", "hook_budget: at most 60m"),
        ("steps: [{weight: 10, bake: 50m}]\nhook_budget: 30m", "hook_budget: at least the worst case"),
        ("steps: [{weight: 10}]\ncolour: blue", "colour"),
        ("steps: [{wieght: 10}]", "steps[0]"),
        ("steps: [{weight: ten}]", "steps[0].weight: "),
    ];
    for (text, expected) in cases {
        let problems = validate("plan.yaml", text).expect_err(text);
        assert!(
            problems.iter().any(|p| p.starts_with(expected) || (expected.len() < 12 && p.contains(expected))),
            "{text:?}: expected a problem starting with {expected:?}, got {problems:?}"
        );
    }
    // Every problem, one per line.
    let problems =
        validate("plan.yaml", "steps: [{weight: 0}, {approval: {}}]\nhealth: {interval: 0s}").expect_err("bad");
    assert_eq!(problems.len(), 3, "{problems:?}");
    assert!(problems.iter().all(|p| p.contains(": ")));
}

#[test]
fn preview_shows_cumulative_worst_case_times_against_the_budget() {
    let plan = validate("plan.yaml", GOOD_YAML).expect("valid");
    let text = plan_cmd::preview(&plan);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.iter().any(|l| l.contains("1m") && l.contains("green ready")), "{text}");
    assert!(
        lines.iter().any(|l| l.trim_start().starts_with("3 ")
            && l.contains("1m 3s")
            && l.contains("3m 3s")
            && l.contains("approval")),
        "{text}"
    );
    assert!(lines.iter().any(|l| l.contains("production blue 50% / green 50%")), "{text}");
    assert!(text.contains("worst case 3m 8s against the hook budget 10m (fits, 6m 52s to spare)"), "{text}");
    assert!(text.contains("bake 2s under full traffic"), "{text}");
}

#[test]
fn the_cli_parses_every_verb() {
    use clap::CommandFactory;
    Cli::command().debug_assert();
    let parse = |args: &[&str]| Cli::try_parse_from(args.iter().copied()).map(|c| c.command);
    assert!(matches!(parse(&["hookline", "status", "d-1", "--json"]), Ok(Command::Status { json: true, .. })));
    assert!(matches!(
        parse(&["hookline", "reject", "d-1", "--reason", "no"]),
        Ok(Command::Reject { reason: Some(_), .. })
    ));
    assert!(matches!(parse(&["hookline", "rollback", "d-1", "--yes"]), Ok(Command::Rollback { yes: true, .. })));
    assert!(matches!(
        parse(&[
            "hookline",
            "--endpoint-url",
            "http://127.0.0.1:4566",
            "history",
            "--application",
            "web",
            "--group",
            "web-prod",
            "--limit",
            "3"
        ]),
        Ok(Command::History { limit: 3, .. })
    ));
    assert!(matches!(parse(&["hookline", "watch", "d-1", "--interval", "500ms"]), Ok(Command::Watch { .. })));
    assert!(parse(&["hookline", "watch", "d-1", "--interval", "soon"]).is_err());
    assert!(parse(&["hookline", "history", "--application", "web"]).is_err(), "--group is required");
}

#[test]
fn plan_validate_takes_a_controller_and_a_two_hour_approval_needs_ecs() {
    let parse = |args: &[&str]| Cli::try_parse_from(args.iter().copied()).map(|c| c.command);
    let controller_of = |args: &[&str]| match parse(args) {
        Ok(Command::Plan { command: PlanCommand::Validate { controller, .. } }) => Some(controller.controller),
        _ => None,
    };
    assert_eq!(controller_of(&["hookline", "plan", "validate", "p.yaml"]), Some(Controller::CodeDeploy));
    assert_eq!(
        controller_of(&["hookline", "plan", "validate", "p.yaml", "--controller", "ecs"]),
        Some(Controller::Ecs)
    );
    assert!(matches!(
        parse(&["hookline", "plan", "preview", "--controller", "ecs", "p.yaml"]),
        Ok(Command::Plan { command: PlanCommand::Preview { .. } })
    ));
    let bad = parse(&["hookline", "plan", "validate", "p.yaml", "--controller", "lambda"]).unwrap_err().to_string();
    assert!(bad.contains("a controller, codedeploy or ecs, got \"lambda\""), "{bad}");

    let text = "steps:\n  - weight: 10\n    bake: 5m\n  - approval: {timeout: 2h}\n  - weight: 100\nhook_budget: 3h\n";
    let plan = plan_cmd::parse_for(Path::new("prod.plan.yaml"), text, Controller::Ecs).expect("valid for ECS");
    assert_eq!(
        plan_cmd::valid_summary_for(Path::new("prod.plan.yaml"), &plan, Controller::Ecs),
        "prod.plan.yaml: valid for ECS (3 steps; worst case 2h 10m of the 3h hook budget)"
    );
    let preview = plan_cmd::preview_for(&plan, Controller::Ecs);
    assert!(preview.contains("answer POST_TEST_TRAFFIC_SHIFT SUCCEEDED"), "{preview}");
    assert!(preview.contains("(POST_PRODUCTION_TRAFFIC_SHIFT, same budget)"), "{preview}");
    let problems = validate("prod.plan.yaml", text).expect_err("2h budget for CodeDeploy");
    assert_eq!(problems, ["hook_budget: at most 60m (CodeDeploy waits one hour for a hook), got 3h"]);
}

#[test]
fn a_plan_that_is_not_json_or_yaml_is_named_with_file_line_and_column() {
    let located = |name: &str, text: &str| {
        let errs = plan_cmd::parse(Path::new(name), text).expect_err(text);
        plan_cmd::problems_in(Path::new(name), &errs)
    };
    assert_eq!(
        located("plans/prod.plan.json", "{\n  \"steps\": [\n    {\"weight\": 10},\n"),
        "plans/prod.plan.json:4:1: steps: EOF while parsing a value"
    );
    assert_eq!(
        located("plans/prod.plan.json", "{\"steps\": [{\"weight\": 10}}"),
        "plans/prod.plan.json:1:26: steps: expected `,` or `]`"
    );
    assert_eq!(
        located("stage.plan.yaml", "steps:\n  - weight: 10\n  bake: 1m\n"),
        "stage.plan.yaml:3:3: steps: did not find expected '-' indicator, while parsing a block collection at line 2 column 3"
    );
    assert_eq!(
        located("stage.plan.yml", "steps: [{weight: 10}\nhook_budget: 5m\n"),
        "stage.plan.yml:2:1: steps: did not find expected ',' or ']', while parsing a flow sequence at line 1 column 8"
    );
    // problems of meaning have no position: the field is the address
    assert_eq!(located("p.yaml", "steps: [{weight: 0}]"), "steps[0].weight: an integer from 1 to 100, got 0");
}
