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
fn a_plan_that_is_not_json_or_yaml_names_the_file_line_and_column() {
    let located = |name: &str, text: &str| {
        let errs = plan_cmd::parse(Path::new(name), text).expect_err(text);
        plan_cmd::problems_in(Path::new(name), &errs)
    };
    assert_eq!(
        located("plans/prod.plan.json", "{\n  \"steps\": [\n    {\"weight\": 10},\n"),
        "steps: EOF while parsing a value (at plans/prod.plan.json:4:1)"
    );
    assert_eq!(
        located("plans/prod.plan.json", "{\"steps\": [{\"weight\": 10}}"),
        "steps: expected `,` or `]` (at plans/prod.plan.json:1:26)"
    );
    assert_eq!(
        located("stage.plan.yaml", "steps:\n  - weight: 10\n  bake: 1m\n"),
        "steps: did not find expected '-' indicator, while parsing a block collection at line 2 column 3 \
         (at stage.plan.yaml:3:3)"
    );
    assert_eq!(
        located("stage.plan.yml", "steps: [{weight: 10}\nhook_budget: 5m\n"),
        "steps: did not find expected ',' or ']', while parsing a flow sequence at line 1 column 8 \
         (at stage.plan.yml:2:1)"
    );
    // problems of meaning have no position: the field is the address
    assert_eq!(located("p.yaml", "steps: [{weight: 0}]"), "steps[0].weight: an integer from 1 to 100, got 0");
}

/// A fresh directory under the system's temp dir (removed by the test).
fn scratch_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("hookline-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

#[test]
fn plan_push_finds_the_environment_s_one_plan_file() {
    let dir = scratch_dir("env-plans");
    std::fs::write(dir.join("prod.plan.yaml"), GOOD_YAML).unwrap();
    std::fs::write(dir.join("stage.plan.json"), "{}").unwrap();
    assert_eq!(plan_cmd::env_plan_file(&dir, "prod"), Ok(dir.join("prod.plan.yaml")));
    assert_eq!(plan_cmd::env_plan_file(&dir, "stage"), Ok(dir.join("stage.plan.json")));

    let missing = plan_cmd::env_plan_file(&dir, "dev").unwrap_err().0;
    assert!(missing.starts_with("--env dev: no plan file; looked for "), "{missing}");
    for ext in ["dev.plan.yaml", "dev.plan.yml", "dev.plan.json"] {
        assert!(missing.contains(&dir.join(ext).display().to_string()), "{missing}");
    }
    std::fs::write(dir.join("prod.plan.json"), "{}").unwrap();
    let two = plan_cmd::env_plan_file(&dir, "prod").unwrap_err().0;
    assert!(two.contains("prod.plan.yaml and ") && two.contains("prod.plan.json all exist"), "{two}");
    for bad in ["", "../prod", "a/b", ".hidden"] {
        let err = plan_cmd::env_plan_file(&dir, bad).unwrap_err().0;
        assert!(err.starts_with("--env: an environment name"), "{bad:?}: {err}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn plan_push_stores_the_json_document_validated_for_the_target_s_controller() {
    let ecs = plan_cmd::Target::Ecs { cluster: "demo".into(), service: "api".into() };
    let cd = plan_cmd::Target::CodeDeploy { application: "web".into(), group: "web-prod".into() };
    assert_eq!(ecs.parameter("/hookline"), "/hookline/ecs/demo/api");
    assert_eq!(ecs.parameter("/teams/a/"), "/teams/a/ecs/demo/api");
    assert_eq!(cd.parameter("/hookline"), "/hookline/web/web-prod");
    assert_eq!((ecs.controller(), cd.controller()), (Controller::Ecs, Controller::CodeDeploy));

    // YAML becomes the JSON document the hook parses, and reads back as the same plan.
    let yaml = "# long approval\nsteps:\n  - weight: 10\n    bake: 5m\n  - approval: {timeout: 2h}\n  - weight: 100\nhook_budget: 3h\n";
    let file = Path::new("plans/prod.plan.yaml");
    let stored = plan_cmd::stored(file, yaml, ecs.controller()).expect("valid for ECS");
    let json: serde_json::Value = serde_json::from_str(&stored.value).expect("JSON");
    assert_eq!(json["steps"][1]["approval"]["timeout"], "2h");
    assert_eq!(json["hook_budget"], "3h");
    assert_eq!(hookline::plan::Plan::parse_for(&stored.value, Controller::Ecs), Ok(stored.plan.clone()));
    // For CodeDeploy the same file is refused, naming the field; nothing to store.
    match plan_cmd::stored(file, yaml, cd.controller()) {
        Err(plan_cmd::NotStored::Invalid(errs)) => {
            assert_eq!(errs.0.len(), 1, "{errs}");
            assert_eq!(errs.0[0].field, "hook_budget");
        }
        other => panic!("expected the hook_budget problem, got {other:?}"),
    }
    // An ECS plan must end at 100.
    assert!(matches!(
        plan_cmd::stored(file, "steps: [{weight: 10}]", Controller::Ecs),
        Err(plan_cmd::NotStored::Invalid(_))
    ));
    // JSON stays JSON; a plan too large for a Standard parameter is refused before any call.
    let stored = plan_cmd::stored(Path::new("p.json"), r#"{"steps":[{"weight":100}]}"#, Controller::Ecs).unwrap();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&stored.value).unwrap(),
        serde_json::json!({"steps": [{"weight": 100}]})
    );
    let cohort_values: Vec<String> = (0..400).map(|i| format!("\"user-{i:05}\"")).collect();
    let big = format!(
        r#"{{"steps":[{{"cohort":{{"header":"X-User","values":[{}]}}}},{{"weight":100}}]}}"#,
        cohort_values.join(",")
    );
    match plan_cmd::stored(Path::new("big.json"), &big, Controller::Ecs) {
        Err(plan_cmd::NotStored::Other(e)) => {
            assert!(e.0.contains("an SSM Standard parameter holds at most 4096"), "{e:?}")
        }
        other => panic!("expected the size error, got {other:?}"),
    }
}

#[tokio::test]
async fn plan_push_puts_a_string_parameter_over_the_previous_plan() {
    use aws_smithy_mocks::mock;
    let put = mock!(aws_sdk_ssm::Client::put_parameter)
        .match_requests(|r| {
            r.name() == Some("/hookline/ecs/demo/api")
                && r.value() == Some("{}")
                && r.overwrite() == Some(true)
                && r.r#type() == Some(&aws_sdk_ssm::types::ParameterType::String)
                && r.description().is_some_and(|d| d.len() <= 1024)
        })
        .then_output(|| aws_sdk_ssm::operation::put_parameter::PutParameterOutput::builder().version(7).build());
    let clients = hookline::testing::mocked_clients(&[&put]);
    let long_description = "d".repeat(2000);
    assert_eq!(plan_cmd::put(&clients.ssm, "/hookline/ecs/demo/api", "{}", &long_description).await, Ok(7));
    assert_eq!(put.num_calls(), 1);
}

#[test]
fn plan_push_needs_one_source_and_one_target() {
    let parse = |args: &[&str]| Cli::try_parse_from(args.iter().copied()).map(|c| c.command);
    let push = |args: &[&str]| match parse(args) {
        Ok(Command::Plan { command: PlanCommand::Push(p) }) => Ok(p),
        Ok(other) => panic!("{other:?}"),
        Err(e) => Err(e.to_string()),
    };
    let p = push(&["hookline", "plan", "push", "--env", "prod", "--cluster", "demo", "--service", "api"]).unwrap();
    assert_eq!(p.target(), Ok(plan_cmd::Target::Ecs { cluster: "demo".into(), service: "api".into() }));
    assert_eq!(p.plans_dir, Path::new("plans"));
    let p = push(&["hookline", "plan", "push", "p.yaml", "--application", "web", "--group", "web-prod"]).unwrap();
    assert_eq!(p.target().map(|t| t.controller()), Ok(Controller::CodeDeploy));
    assert_eq!(p.file.as_deref(), Some(Path::new("p.yaml")));
    // no source, no target, half a target, two targets, two sources
    assert!(push(&["hookline", "plan", "push", "--cluster", "demo", "--service", "api"]).is_err());
    assert!(push(&["hookline", "plan", "push", "--env", "prod"]).is_err());
    assert!(push(&["hookline", "plan", "push", "--env", "prod", "--cluster", "demo"]).is_err());
    assert!(push(&[
        "hookline",
        "plan",
        "push",
        "--env",
        "prod",
        "--cluster",
        "demo",
        "--service",
        "api",
        "--application",
        "web",
        "--group",
        "g"
    ])
    .is_err());
    assert!(push(&["hookline", "plan", "push", "p.yaml", "--env", "prod", "--cluster", "demo", "--service", "api"])
        .is_err());
}
