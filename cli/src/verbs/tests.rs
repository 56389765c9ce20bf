use std::path::Path;

use hookline::plan::Controller;

use super::approve::RejectArgs;
use super::history::HistoryArgs;
use super::plan::{PlanArgs, PlanCommand};
use super::rollback::RollbackArgs;
use super::status::StatusArgs;
use super::*;
use crate::verbs::watch::Outcome;

/// A CodeDeploy deployment in `word` as its adapter describes it.
fn codedeploy(word: &str) -> hookline::lifecycle::DeploymentSummary {
    use aws_sdk_codedeploy::types::{DeploymentInfo, DeploymentStatus};
    let info = DeploymentInfo::builder().deployment_id("d-1").status(DeploymentStatus::from(word)).build();
    hookline::lifecycle::CodeDeploy::summary("d-1", &info)
}

#[test]
fn watch_exit_codes_follow_the_deployment_outcome() {
    assert_eq!(Outcome::of(&codedeploy("Succeeded")).map(Outcome::exit_code), Some(0));
    assert_eq!(Outcome::of(&codedeploy("Failed")).map(Outcome::exit_code), Some(1));
    assert_eq!(Outcome::of(&codedeploy("Stopped")).map(Outcome::exit_code), Some(2));
    for running in ["Created", "Queued", "InProgress", "Ready", "Baking"] {
        assert_eq!(Outcome::of(&codedeploy(running)), None);
    }
}

#[test]
fn status_and_watch_show_where_an_active_deployment_stands() {
    // CodeDeploy's words, as the CLI has always printed them
    for word in ["Created", "Queued", "InProgress", "Ready", "Baking", "Succeeded", "Failed", "Stopped"] {
        assert_eq!(status::shown(&codedeploy(word)), word);
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
    plan::parse(Path::new(name), text).map_err(|e| plan::problems(&e).lines().map(str::to_string).collect())
}

#[test]
fn good_plans_are_accepted_in_yaml_and_json() {
    let plan = validate("plan.yaml", GOOD_YAML).expect("valid");
    assert_eq!(plan.step_count, 5);
    let json = r#"{"steps": [{"weight": 10, "bake": "5m"}, {"weight": 100}], "health": {"alarms": ["web-5xx"]}}"#;
    assert!(validate("plan.json", json).is_ok());
    assert!(validate("plan", json).is_ok(), "no extension: JSON by its first character");
    assert_eq!(
        plan::valid_summary(Path::new("plan.yaml"), &plan),
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
    let text = plan::preview(&plan);
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
    assert!(matches!(
        parse(&["hookline", "status", "d-1", "--json"]),
        Ok(Command::Status(StatusArgs { json: true, .. }))
    ));
    assert!(matches!(
        parse(&["hookline", "reject", "d-1", "--reason", "no"]),
        Ok(Command::Reject(RejectArgs { reason: Some(_), .. }))
    ));
    assert!(matches!(
        parse(&["hookline", "rollback", "d-1", "--yes"]),
        Ok(Command::Rollback(RollbackArgs { yes: true, .. }))
    ));
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
        Ok(Command::History(HistoryArgs { limit: 3, .. }))
    ));
    assert!(matches!(parse(&["hookline", "watch", "d-1", "--interval", "500ms"]), Ok(Command::Watch(_))));
    assert!(parse(&["hookline", "watch", "d-1", "--interval", "soon"]).is_err());
    assert!(parse(&["hookline", "history", "--application", "web"]).is_err(), "--group is required");
}

#[test]
fn plan_validate_takes_a_controller_and_a_two_hour_approval_needs_ecs() {
    let parse = |args: &[&str]| Cli::try_parse_from(args.iter().copied()).map(|c| c.command);
    let controller_of = |args: &[&str]| match parse(args) {
        Ok(Command::Plan(PlanArgs { command: PlanCommand::Validate { controller, .. } })) => {
            Some(controller.controller)
        }
        _ => None,
    };
    assert_eq!(controller_of(&["hookline", "plan", "validate", "p.yaml"]), Some(Controller::CodeDeploy));
    assert_eq!(
        controller_of(&["hookline", "plan", "validate", "p.yaml", "--controller", "ecs"]),
        Some(Controller::Ecs)
    );
    assert!(matches!(
        parse(&["hookline", "plan", "preview", "--controller", "ecs", "p.yaml"]),
        Ok(Command::Plan(PlanArgs { command: PlanCommand::Preview { .. } }))
    ));
    let bad = parse(&["hookline", "plan", "validate", "p.yaml", "--controller", "lambda"]).unwrap_err().to_string();
    assert!(bad.contains("a controller, codedeploy, ecs or route53, got \"lambda\""), "{bad}");

    let text = "steps:\n  - weight: 10\n    bake: 5m\n  - approval: {timeout: 2h}\n  - weight: 100\nhook_budget: 3h\n";
    let plan = plan::parse_for(Path::new("prod.plan.yaml"), text, Controller::Ecs).expect("valid for ECS");
    assert_eq!(
        plan::valid_summary_for(Path::new("prod.plan.yaml"), &plan, Controller::Ecs),
        "prod.plan.yaml: valid for ECS (3 steps; worst case 2h 10m of the 3h hook budget)"
    );
    let preview = plan::preview_for(&plan, Controller::Ecs);
    assert!(preview.contains("answer POST_TEST_TRAFFIC_SHIFT SUCCEEDED"), "{preview}");
    assert!(preview.contains("(POST_PRODUCTION_TRAFFIC_SHIFT, same budget)"), "{preview}");
    let problems = validate("prod.plan.yaml", text).expect_err("2h budget for CodeDeploy");
    assert_eq!(problems, ["hook_budget: at most 60m (CodeDeploy waits one hour for a hook), got 3h"]);
}

#[test]
fn a_plan_that_is_not_json_or_yaml_names_the_file_line_and_column() {
    let located = |name: &str, text: &str| {
        let errs = plan::parse(Path::new(name), text).expect_err(text);
        plan::problems_in(Path::new(name), &errs)
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
    assert_eq!(plan::env_plan_file(&dir, "prod"), Ok(dir.join("prod.plan.yaml")));
    assert_eq!(plan::env_plan_file(&dir, "stage"), Ok(dir.join("stage.plan.json")));

    let missing = plan::env_plan_file(&dir, "dev").unwrap_err().0;
    assert!(missing.starts_with("--env dev: no plan file; looked for "), "{missing}");
    for ext in ["dev.plan.yaml", "dev.plan.yml", "dev.plan.json"] {
        assert!(missing.contains(&dir.join(ext).display().to_string()), "{missing}");
    }
    std::fs::write(dir.join("prod.plan.json"), "{}").unwrap();
    let two = plan::env_plan_file(&dir, "prod").unwrap_err().0;
    assert!(two.contains("prod.plan.yaml and ") && two.contains("prod.plan.json all exist"), "{two}");
    for bad in ["", "../prod", "a/b", ".hidden"] {
        let err = plan::env_plan_file(&dir, bad).unwrap_err().0;
        assert!(err.starts_with("--env: an environment name"), "{bad:?}: {err}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn plan_push_stores_the_json_document_validated_for_the_target_s_controller() {
    let ecs = crate::address::Target::Ecs { cluster: "demo".into(), service: "api".into() };
    let cd = crate::address::Target::CodeDeploy { application: "web".into(), group: "web-prod".into() };
    assert_eq!(ecs.parameter("/hookline"), "/hookline/ecs/demo/api");
    assert_eq!(ecs.parameter("/teams/a/"), "/teams/a/ecs/demo/api");
    assert_eq!(cd.parameter("/hookline"), "/hookline/web/web-prod");
    assert_eq!((ecs.controller(), cd.controller()), (Controller::Ecs, Controller::CodeDeploy));

    // YAML becomes the JSON document the hook parses, and reads back as the same plan.
    let yaml = "# long approval\nsteps:\n  - weight: 10\n    bake: 5m\n  - approval: {timeout: 2h}\n  - weight: 100\nhook_budget: 3h\n";
    let file = Path::new("plans/prod.plan.yaml");
    let stored = plan::stored(file, yaml, ecs.controller()).expect("valid for ECS");
    let json: serde_json::Value = serde_json::from_str(&stored.value).expect("JSON");
    assert_eq!(json["steps"][1]["approval"]["timeout"], "2h");
    assert_eq!(json["hook_budget"], "3h");
    assert_eq!(hookline::plan::Plan::parse_for(&stored.value, Controller::Ecs), Ok(stored.plan.clone()));
    // For CodeDeploy the same file is refused, naming the field; nothing to store.
    match plan::stored(file, yaml, cd.controller()) {
        Err(plan::NotStored::Invalid(errs)) => {
            assert_eq!(errs.0.len(), 1, "{errs}");
            assert_eq!(errs.0[0].field, "hook_budget");
        }
        other => panic!("expected the hook_budget problem, got {other:?}"),
    }
    // An ECS plan must end at 100.
    assert!(matches!(plan::stored(file, "steps: [{weight: 10}]", Controller::Ecs), Err(plan::NotStored::Invalid(_))));
    // JSON stays JSON; a plan too large for a Standard parameter is refused before any call.
    let stored = plan::stored(Path::new("p.json"), r#"{"steps":[{"weight":100}]}"#, Controller::Ecs).unwrap();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&stored.value).unwrap(),
        serde_json::json!({"steps": [{"weight": 100}]})
    );
    let cohort_values: Vec<String> = (0..400).map(|i| format!("\"user-{i:05}\"")).collect();
    let big = format!(
        r#"{{"steps":[{{"cohort":{{"header":"X-User","values":[{}]}}}},{{"weight":100}}]}}"#,
        cohort_values.join(",")
    );
    match plan::stored(Path::new("big.json"), &big, Controller::Ecs) {
        Err(plan::NotStored::Other(e)) => {
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
    assert_eq!(plan::put(&clients.ssm, "/hookline/ecs/demo/api", "{}", &long_description).await, Ok(7));
    assert_eq!(put.num_calls(), 1);
}

#[test]
fn plan_push_needs_one_source_and_one_target() {
    let parse = |args: &[&str]| Cli::try_parse_from(args.iter().copied()).map(|c| c.command);
    let push = |args: &[&str]| match parse(args) {
        Ok(Command::Plan(PlanArgs { command: PlanCommand::Push(p) })) => Ok(p),
        Ok(other) => panic!("{other:?}"),
        Err(e) => Err(e.to_string()),
    };
    let p = push(&["hookline", "plan", "push", "--env", "prod", "--cluster", "demo", "--service", "api"]).unwrap();
    assert_eq!(p.target(), Ok(crate::address::Target::Ecs { cluster: "demo".into(), service: "api".into() }));
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

mod ecs_addressing {
    use aws_sdk_ecs::operation::describe_service_deployments::DescribeServiceDeploymentsOutput;
    use aws_sdk_ecs::operation::list_service_deployments::{ListServiceDeploymentsError, ListServiceDeploymentsOutput};
    use aws_sdk_ecs::primitives::DateTime;
    use aws_sdk_ecs::types::error::ServiceNotFoundException;
    use aws_sdk_ecs::types::{Rollback, ServiceDeployment, ServiceDeploymentBrief, ServiceDeploymentStatus as Ecs};
    use aws_smithy_mocks::{mock, Rule};
    use hookline::lifecycle::ecs::summary;

    use crate::address::Address;
    use crate::aws::{latest, Aws};
    use crate::verbs::status::shown;
    use crate::verbs::{Cli, Command};
    use clap::Parser;

    const ARN: &str = "arn:aws:ecs:us-east-1:123456789012:service-deployment/demo/api/";

    fn brief(id: &str, created: i64) -> ServiceDeploymentBrief {
        ServiceDeploymentBrief::builder()
            .service_deployment_arn(format!("{ARN}{id}"))
            .created_at(DateTime::from_secs(created))
            .status(Ecs::Successful)
            .build()
    }

    /// Two pages, the newest deployment on the first, in no particular order.
    fn listed() -> [Rule; 2] {
        let first = mock!(aws_sdk_ecs::Client::list_service_deployments)
            .match_requests(|r| r.cluster() == Some("demo") && r.service() == Some("api") && r.next_token().is_none())
            .then_output(|| {
                ListServiceDeploymentsOutput::builder()
                    .service_deployments(brief("older", 1_000))
                    .service_deployments(brief("newest", 3_000))
                    .next_token("page-2")
                    .build()
            });
        let second = mock!(aws_sdk_ecs::Client::list_service_deployments)
            .match_requests(|r| r.next_token() == Some("page-2"))
            .then_output(|| {
                ListServiceDeploymentsOutput::builder().service_deployments(brief("middle", 2_000)).build()
            });
        [first, second]
    }

    #[tokio::test]
    async fn cluster_and_service_address_the_latest_service_deployment_over_every_page() {
        let [first, second] = listed();
        let aws = Aws::with_clients(hookline::testing::mocked_clients(&[&first, &second]));
        let service = Address::Service { cluster: "demo".into(), service: "api".into() };
        assert_eq!(aws.deployment_id_of(&service).await, Ok(format!("{ARN}newest")));
        assert_eq!((first.num_calls(), second.num_calls()), (1, 1));
        // an id or ARN is taken as given, with no call
        let given = Address::Id(format!("{ARN}given"));
        assert_eq!(aws.deployment_id_of(&given).await, Ok(format!("{ARN}given")));
        assert_eq!(first.num_calls(), 1);
    }

    #[tokio::test]
    async fn an_unknown_service_or_one_never_deployed_is_a_clear_error() {
        let missing = mock!(aws_sdk_ecs::Client::list_service_deployments)
            .match_requests(|r| r.service() == Some("nope"))
            .then_error(|| {
                ListServiceDeploymentsError::ServiceNotFoundException(ServiceNotFoundException::builder().build())
            });
        let empty = mock!(aws_sdk_ecs::Client::list_service_deployments)
            .match_requests(|r| r.service() == Some("fresh"))
            .then_output(|| ListServiceDeploymentsOutput::builder().build());
        let aws = Aws::with_clients(hookline::testing::mocked_clients(&[&missing, &empty]));
        let err = aws.latest_service_deployment("demo", "nope").await.unwrap_err();
        assert_eq!(err.0, "service nope not found in ECS cluster demo");
        let err = aws.latest_service_deployment("demo", "fresh").await.unwrap_err();
        assert!(err.0.starts_with("service fresh in cluster demo has no service deployment"), "{}", err.0);
    }

    #[test]
    fn the_latest_is_by_creation_time_not_by_position() {
        assert_eq!(latest(&[brief("b", 5), brief("a", 9), brief("c", 7)]), Some(format!("{ARN}a")));
        let started_only = ServiceDeploymentBrief::builder()
            .service_deployment_arn(format!("{ARN}started"))
            .started_at(DateTime::from_secs(10))
            .build();
        assert_eq!(latest(&[brief("a", 9), started_only]), Some(format!("{ARN}started")));
        assert_eq!(latest(&[]), None);
    }

    fn deployment(status: Ecs, reason: Option<&str>) -> ServiceDeployment {
        ServiceDeployment::builder()
            .service_deployment_arn(format!("{ARN}r4nd0m"))
            .service_arn("arn:aws:ecs:us-east-1:123456789012:service/demo/api")
            .cluster_arn("arn:aws:ecs:us-east-1:123456789012:cluster/demo")
            .status(status)
            .set_status_reason(reason.map(str::to_string))
            .created_at(DateTime::from_secs(100))
            .finished_at(DateTime::from_secs(460))
            .build()
    }

    #[test]
    fn a_service_deployment_reads_like_a_deployment_with_ecs_s_word_kept() {
        // As the verbs show it: the ECS adapter's summary, the status as `status` and `watch` print it,
        // ECS's own word kept in the error (`message`).
        let shown_of = |status: Ecs| {
            let info = summary("", &deployment(status, Some("hook FAILED")));
            let code = info.message.as_deref().map(|m| m.split(':').next().unwrap_or(m).to_string());
            (Some(shown(&info)), code)
        };
        let s = |w: &str| Some(w.to_string());
        assert_eq!(shown_of(Ecs::Pending), (s("Created"), None));
        assert_eq!(shown_of(Ecs::InProgress), (s("InProgress"), None));
        assert_eq!(shown_of(Ecs::Successful), (s("Succeeded"), None));
        assert_eq!(shown_of(Ecs::Stopped), (s("Stopped"), s("STOPPED")));
        // a rollback ECS has not finished is still under way: `watch` keeps watching
        assert_eq!(shown_of(Ecs::StopRequested), (s("InProgress"), s("STOP_REQUESTED")));
        assert_eq!(shown_of(Ecs::RollbackRequested), (s("InProgress"), s("ROLLBACK_REQUESTED")));
        assert_eq!(shown_of(Ecs::RollbackInProgress), (s("InProgress"), s("ROLLBACK_IN_PROGRESS")));
        assert_eq!(shown_of(Ecs::RollbackSuccessful), (s("Failed"), s("ROLLBACK_SUCCESSFUL")));
        assert_eq!(shown_of(Ecs::RollbackFailed), (s("Failed"), s("ROLLBACK_FAILED")));
        for status in [Ecs::StopRequested, Ecs::RollbackRequested, Ecs::RollbackInProgress] {
            assert_eq!(
                crate::verbs::watch::Outcome::of(&summary("", &deployment(status.clone(), None))),
                None,
                "{status:?}"
            );
        }
        for (status, exit) in [(Ecs::Successful, 0), (Ecs::RollbackSuccessful, 1), (Ecs::Stopped, 2)] {
            let info = summary("", &deployment(status, None));
            assert_eq!(
                crate::verbs::watch::Outcome::of(&info).map(crate::verbs::watch::Outcome::exit_code),
                Some(exit)
            );
        }

        let info = summary("", &deployment(Ecs::RollbackSuccessful, Some("hook FAILED")));
        assert_eq!(info.deployment_id, format!("{ARN}r4nd0m"));
        assert_eq!((info.application.as_str(), info.group.as_str()), ("ecs/demo", "api"));
        assert_eq!(info.created_at, Some(100));
        assert_eq!(info.ended_at, Some(460));
        assert_eq!(info.message.as_deref(), Some("ROLLBACK_SUCCESSFUL: hook FAILED"));
        // no reason: the rollback's, else ECS's word
        let mut rolled = deployment(Ecs::RollbackSuccessful, None);
        rolled.rollback = Some(Rollback::builder().reason("alarm api-5xx").build());
        assert_eq!(summary("", &rolled).message.as_deref(), Some("ROLLBACK_SUCCESSFUL: alarm api-5xx"));
    }

    #[tokio::test]
    async fn status_and_watch_read_a_service_deployment_arn_through_describe_service_deployments() {
        let arn = format!("{ARN}r4nd0m");
        let described = mock!(aws_sdk_ecs::Client::describe_service_deployments)
            .match_requests(|r| r.service_deployment_arns() == [format!("{ARN}r4nd0m")])
            .then_output(|| {
                DescribeServiceDeploymentsOutput::builder()
                    .service_deployments(deployment(Ecs::InProgress, None))
                    .build()
            });
        let aws = Aws::with_clients(hookline::testing::mocked_clients(&[&described]));
        let info = aws.deployment(&arn).await.expect("found");
        assert_eq!(shown(&info), "InProgress");
        assert_eq!(described.num_calls(), 1);

        let unknown = mock!(aws_sdk_ecs::Client::describe_service_deployments).then_output(|| {
            DescribeServiceDeploymentsOutput::builder()
                .failures(aws_sdk_ecs::types::Failure::builder().reason("MISSING").build())
                .build()
        });
        let aws = Aws::with_clients(hookline::testing::mocked_clients(&[&unknown]));
        let err = aws.deployment(&format!("{ARN}gone")).await.unwrap_err();
        assert_eq!(err.0, format!("service deployment {ARN}gone not found in ECS (MISSING)"));
    }

    #[test]
    fn every_verb_takes_an_id_or_cluster_and_service() {
        let parse = |args: &[&str]| Cli::try_parse_from(args.iter().copied()).map(|c| c.command);
        let address = |args: &[&str]| -> Result<Address, String> {
            let deployment = match parse(args).map_err(|e| e.to_string())? {
                Command::Status(a) => a.deployment,
                Command::Watch(a) => a.deployment,
                Command::Approve(a) => a.deployment,
                Command::Reject(a) => a.deployment,
                Command::Rollback(a) => a.deployment,
                other => panic!("{other:?}"),
            };
            deployment.address().map_err(|e| e.0)
        };
        let service = Address::Service { cluster: "demo".into(), service: "api".into() };
        for verb in ["status", "watch", "approve", "reject", "rollback"] {
            assert_eq!(address(&["hookline", verb, "--cluster", "demo", "--service", "api"]), Ok(service.clone()));
            assert_eq!(address(&["hookline", verb, "d-ABCDEF123"]), Ok(Address::Id("d-ABCDEF123".into())));
            let arn = format!("{ARN}x");
            assert_eq!(address(&["hookline", verb, &arn]), Ok(Address::Id(arn.clone())));
            assert!(address(&["hookline", verb]).is_err(), "{verb}: nothing named");
            assert!(address(&["hookline", verb, "--cluster", "demo"]).is_err(), "{verb}: half a service");
            assert!(address(&["hookline", verb, "--service", "api"]).is_err(), "{verb}: half a service");
            assert!(address(&["hookline", verb, "d-1", "--cluster", "demo", "--service", "api"]).is_err(), "{verb}");
        }
        let target = |args: &[&str]| match parse(args) {
            Ok(Command::History(a)) => a.target.target().map_err(|e| e.0),
            Ok(other) => panic!("{other:?}"),
            Err(e) => Err(e.to_string()),
        };
        assert_eq!(
            target(&["hookline", "history", "--cluster", "demo", "--service", "api"]),
            Ok(crate::address::Target::Ecs { cluster: "demo".into(), service: "api".into() })
        );
        assert!(target(&["hookline", "history", "--application", "web", "--group", "web-prod"]).is_ok());
        assert!(target(&["hookline", "history"]).is_err());
        assert!(
            target(&["hookline", "history", "--cluster", "demo", "--service", "api", "--application", "w"]).is_err()
        );
    }

    #[test]
    fn history_shows_a_dns_deployment_with_its_observed_split_per_weight() {
        use crate::verbs::history::{render, Row};
        use hookline::dns::ObservedSplit;
        let row = Row {
            controller: hookline::plan::Controller::Route53,
            deployment_id: "dns-20261206-092359-ab10".into(),
            status: "succeeded".into(),
            created: Some(1_763_776_000),
            completed: Some(1_763_776_150),
            duration_seconds: Some(150),
            creator: None,
            description: None,
            error: None,
            rolled_back_by: None,
            rollback_of: None,
            ended: true,
            is_rollback: false,
            approvals: vec![],
            observed: vec![
                ObservedSplit::new(50, 1300.0, 1100.0, [0, 60]),
                ObservedSplit::new(100, 0.0, 0.0, [60, 120]),
            ],
            controller_pause: None,
        };
        let text = render(std::slice::from_ref(&row));
        let line = text.lines().nth(1).expect("a row");
        assert!(line.starts_with("dns-20261206-092359-ab10 succeeded "), "{text}");
        assert!(line.ends_with("2m 30s  observed green 45.8% at 50%, no requests at 100%"), "{text}");
        let json = serde_json::to_value(&row).expect("json");
        assert_eq!(json["observed"][0]["set_weight"], 50);
        assert_eq!(json["controller"], "route53");
    }

    #[tokio::test]
    async fn history_shows_a_deployment_held_by_a_pause_hook_as_waiting_with_its_hook_and_timeout() {
        use aws_sdk_ecs::types::{
            DeploymentLifecycleHookDetail, DeploymentLifecycleHookStatus, DeploymentLifecycleHookTargetType,
            ServiceDeploymentLifecycleStage,
        };
        use aws_sdk_sfn::operation::list_state_machines::ListStateMachinesOutput;
        // ECS's IN_PROGRESS deployment held at POST_TEST_TRAFFIC_SHIFT by a PAUSE hook awaiting action
        // (DescribeServiceDeployments' lifecycleHookDetails), and no hookline canary execution.
        let mut paused = deployment(Ecs::InProgress, None);
        paused.finished_at = None;
        paused.lifecycle_stage = Some(ServiceDeploymentLifecycleStage::PostTestTrafficShift);
        paused.lifecycle_hook_details = Some(vec![DeploymentLifecycleHookDetail::builder()
            .hook_id("ecs-pause-1234")
            .target_type(DeploymentLifecycleHookTargetType::Pause)
            .status(DeploymentLifecycleHookStatus::AwaitingAction)
            .expires_at(DateTime::from_secs(1_763_779_600))
            .timeout_action(aws_sdk_ecs::types::DeploymentLifecycleHookAction::Rollback)
            .build()]);
        let described = mock!(aws_sdk_ecs::Client::describe_service_deployments).then_output(move || {
            DescribeServiceDeploymentsOutput::builder().service_deployments(paused.clone()).build()
        });
        let machines = mock!(aws_sdk_sfn::Client::list_state_machines)
            .then_output(|| ListStateMachinesOutput::builder().set_state_machines(Some(vec![])).build().expect("out"));
        let aws = Aws::with_clients(hookline::testing::mocked_clients(&[&described, &machines]));
        let info = aws.deployment(&format!("{ARN}r4nd0m")).await.expect("described");
        let row = crate::verbs::history::row_of(&aws, info).await.expect("row");
        let pause = row.controller_pause.as_ref().expect("the pause, as status reads it");
        assert_eq!(pause.hook_id, "ecs-pause-1234");
        let text = crate::verbs::history::render(std::slice::from_ref(&row));
        let line = text.lines().nth(1).expect("a row");
        assert!(
            line.contains(&format!(
                "WAITING FOR APPROVAL: ECS pause hook ecs-pause-1234 at POST_TEST_TRAFFIC_SHIFT, times out at {} (then ROLLBACK)",
                crate::execution_history::datetime(1_763_779_600)
            )),
            "{text}"
        );
        let json = serde_json::to_value(&row).expect("json");
        assert_eq!(json["controller_pause"]["hook_id"], "ecs-pause-1234");

        // once ECS has finished, nothing waits (and ECS is not asked again)
        let calls = described.num_calls();
        let done = crate::verbs::history::row_of(
            &aws,
            hookline::lifecycle::ecs::summary("", &deployment(Ecs::Successful, None)),
        )
        .await
        .expect("row");
        assert!(done.controller_pause.is_none());
        assert_eq!(described.num_calls(), calls);
        assert!(!crate::verbs::history::render(&[done]).contains("WAITING"));
    }

    #[test]
    fn history_shows_a_service_deployment_by_its_id_and_ecs_s_status_word() {
        use crate::verbs::history::{render, Row};
        let row = |id: &str, status: &str, error: Option<&str>| Row {
            controller: hookline::plan::Controller::Ecs,
            deployment_id: format!("{ARN}{id}"),
            status: status.into(),
            created: Some(1_763_776_000),
            completed: Some(1_763_776_300),
            duration_seconds: Some(300),
            creator: None,
            description: None,
            error: error.map(str::to_string),
            rolled_back_by: None,
            rollback_of: None,
            ended: true,
            is_rollback: false,
            approvals: vec![],
            observed: vec![],
            controller_pause: None,
        };
        let text = render(&[
            row("aaaa1111", "SUCCESSFUL", None),
            row("bbbb2222", "ROLLBACK_SUCCESSFUL", Some("ROLLBACK_SUCCESSFUL: alarm api-5xx")),
        ]);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("DEPLOYMENT   STATUS              STARTED"), "{text}");
        assert!(lines[1].starts_with("aaaa1111     SUCCESSFUL          "), "{text}");
        assert!(lines[2].starts_with("bbbb2222     ROLLBACK_SUCCESSFUL "), "{text}");
        assert!(lines[2].ends_with("5m  -"), "the status word is not repeated as the error: {text}");
        let json = serde_json::to_value(row("aaaa1111", "SUCCESSFUL", None)).unwrap();
        assert_eq!(
            (json["controller"].as_str(), json["deployment_id"].as_str()),
            (Some("ecs"), Some(&*format!("{ARN}aaaa1111")))
        );
    }
}

#[test]
fn plan_validate_reads_the_service_steps_from_describe_services_output() {
    let describe = serde_json::json!({"services": [{"serviceName": "api", "deploymentConfiguration": {
    "strategy": "LINEAR",
    "linearConfiguration": {"stepPercent": 20.0, "stepBakeTimeInMinutes": 5},
    "lifecycleHooks": [
        {"hookTargetArn": "arn:aws:lambda:us-east-1:123456789012:function:hookline-hook",
         "lifecycleStages": ["PRE_PRODUCTION_TRAFFIC_SHIFT"], "timeoutConfiguration": {"timeoutInMinutes": 20}},
        {"targetType": "PAUSE", "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT"]}
    ]}}]});
    let steps = super::plan::service_steps_from_json(&describe).expect("steps");
    assert_eq!(steps.strategy, "LINEAR");
    assert_eq!(steps.percent_tenths, Some(200));
    assert_eq!(steps.pre_production_hook_timeouts_minutes, Some(vec![20]), "the PAUSE hook is not hookline's");

    let plan = hookline::plan::Plan::parse_for(
        "mode: gate\nsteps:\n  - approval: {timeout: 5m, after_weight: 25}\nhook_budget: 30m\n",
        Controller::Ecs,
    )
    .expect("valid on its own");
    let fields: Vec<String> = plan.problems_on(&steps).into_iter().map(|p| p.field).collect();
    assert_eq!(fields, ["steps[0].approval.after_weight", "hook_budget"]);

    // The CLI takes the file.
    let cli = Cli::try_parse_from([
        "hookline",
        "plan",
        "validate",
        "p.yaml",
        "--controller",
        "ecs",
        "--service-config",
        "svc.json",
    ]);
    assert!(
        matches!(
            cli.map(|c| c.command),
            Ok(Command::Plan(PlanArgs { command: PlanCommand::Validate { service_config: Some(_), .. } }))
        ),
        "--service-config parses"
    );
}
