use hookline::plan::{Controller, Plan};
use serde_json::json;

use super::policy::{self, Decision};
use super::report::{Check, Report, Status};
use super::rules::{self, EcsHook, RuleInfo};

const BLUE: &str = "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/api-blue/1";
const GREEN: &str = "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/api-green/2";
const OTHER: &str = "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/other/3";

fn pair() -> Vec<String> {
    vec![BLUE.to_string(), GREEN.to_string()]
}

fn plan(budget: &str) -> Plan {
    let text = format!("steps: [{{weight: 10, bake: 1m}}, {{weight: 100}}]\nhook_budget: {budget}\n");
    Plan::parse_for(&text, Controller::Ecs).expect("valid plan")
}

fn hook(stages: &[&str], timeout_minutes: Option<i64>) -> EcsHook {
    EcsHook {
        target_type: None,
        target_arn: Some("arn:aws:lambda:us-east-1:1:function:hookline-hook".into()),
        role_arn: Some("arn:aws:iam::1:role/ecs-invoke".into()),
        stages: stages.iter().map(|s| s.to_string()).collect(),
        timeout_minutes,
        timeout_action: None,
    }
}

fn status_of<'a>(checks: &'a [Check], name: &str) -> Option<&'a Check> {
    checks.iter().find(|c| c.check == name)
}

#[test]
fn weights_on_one_group_of_the_pair_hold_and_a_split_without_deployment_fails() {
    let route = "production rule R";
    let one = Some(vec![(BLUE.to_string(), 100), (GREEN.to_string(), 0)]);
    assert_eq!(rules::production_weights_check(route, &one, &pair(), None, None).status, Status::Ok);
    assert_eq!(rules::production_weights_check(route, &one, &pair(), Some(BLUE), None).status, Status::Ok);

    let wrong = rules::production_weights_check(route, &one, &pair(), Some(GREEN), None);
    assert_eq!(wrong.status, Status::Fail);
    assert!(wrong.detail.contains("100% to api-blue but the controller's live group is api-green"), "{wrong:?}");

    let split = Some(vec![(BLUE.to_string(), 90), (GREEN.to_string(), 10)]);
    let c = rules::production_weights_check(route, &split, &pair(), None, None);
    assert_eq!(c.status, Status::Fail);
    assert!(c.detail.contains("api-blue 90% / api-green 10%") && c.detail.contains("left split"), "{c:?}");
    let during = rules::production_weights_check(route, &split, &pair(), None, Some("d-1"));
    assert_eq!(during.status, Status::Warn, "a split is expected while a deployment runs");

    let foreign = Some(vec![(BLUE.to_string(), 50), (OTHER.to_string(), 50)]);
    let f = rules::production_weights_check(route, &foreign, &pair(), None, Some("d-1"));
    assert_eq!(f.status, Status::Fail, "a foreign group is wrong even during a deployment");
    assert!(f.detail.contains("other"), "{f:?}");
    assert_eq!(rules::production_weights_check(route, &None, &pair(), None, None).status, Status::Fail);
}

#[test]
fn a_missing_hook_stage_names_the_stage_and_the_function() {
    let checks = rules::ecs_hook_checks(&[hook(&["POST_PRODUCTION_TRAFFIC_SHIFT"], None)], "hookline-hook", None);
    let missing = status_of(&checks, "lifecycle hook POST_TEST_TRAFFIC_SHIFT").expect("checked");
    assert_eq!(missing.status, Status::Fail);
    assert!(missing.detail.contains("no lifecycle hook runs hookline-hook at POST_TEST_TRAFFIC_SHIFT"), "{missing:?}");
    assert!(missing.fix.as_deref().unwrap_or("").contains("add POST_TEST_TRAFFIC_SHIFT"), "{missing:?}");
    assert_eq!(status_of(&checks, "lifecycle hook POST_PRODUCTION_TRAFFIC_SHIFT").map(|c| c.status), Some(Status::Ok));

    // A hook on another function does not count.
    let mut other = hook(&rules::ecs_hook_stages(), None);
    other.target_arn = Some("arn:aws:lambda:us-east-1:1:function:someone-else:live".into());
    let checks = rules::ecs_hook_checks(&[other], "hookline-hook", None);
    let c = status_of(&checks, "lifecycle hook POST_TEST_TRAFFIC_SHIFT").expect("checked");
    assert_eq!(c.status, Status::Fail);
    assert!(c.detail.contains("someone-else"), "{c:?}");

    // Extra stages on hookline's hook are a warning.
    let checks = rules::ecs_hook_checks(
        &[hook(&["PRE_SCALE_UP", "POST_TEST_TRAFFIC_SHIFT", "POST_PRODUCTION_TRAFFIC_SHIFT"], None)],
        "hookline-hook",
        None,
    );
    assert_eq!(status_of(&checks, "other lifecycle stages").map(|c| c.status), Some(Status::Warn));
}

#[test]
fn the_hook_timeout_must_hold_the_budget_and_the_rollback_reserve() {
    let p = plan("10m");
    // ECS's default (1440 minutes) holds any budget CodeDeploy or ECS validation allows.
    let checks = rules::ecs_hook_checks(&[hook(&rules::ecs_hook_stages(), None)], "hookline-hook", Some(&p));
    let c = status_of(&checks, "hook timeout POST_TEST_TRAFFIC_SHIFT").expect("checked");
    assert_eq!(c.status, Status::Ok, "{c:?}");
    assert!(c.detail.contains("1d") && c.detail.contains("ECS's default"), "{c:?}");
    // 14 minutes < 10m + 5m reserve.
    let checks = rules::ecs_hook_checks(&[hook(&rules::ecs_hook_stages(), Some(14))], "hookline-hook", Some(&p));
    let c = status_of(&checks, "hook timeout POST_TEST_TRAFFIC_SHIFT").expect("checked");
    assert_eq!(c.status, Status::Fail, "{c:?}");
    assert!(c.detail.contains("14m (timeoutConfiguration)") && c.detail.contains("hook_budget 10m"), "{c:?}");
    assert!(c.fix.as_deref().unwrap_or("").contains("at least 15"), "{c:?}");
    let checks = rules::ecs_hook_checks(&[hook(&rules::ecs_hook_stages(), Some(15))], "hookline-hook", Some(&p));
    assert_eq!(status_of(&checks, "hook timeout POST_TEST_TRAFFIC_SHIFT").map(|c| c.status), Some(Status::Ok));
    let mut cont = hook(&rules::ecs_hook_stages(), Some(60));
    cont.timeout_action = Some("CONTINUE".into());
    let checks = rules::ecs_hook_checks(&[cont], "hookline-hook", Some(&p));
    assert_eq!(status_of(&checks, "hook timeout POST_TEST_TRAFFIC_SHIFT").map(|c| c.status), Some(Status::Warn));
}

#[test]
fn linear_and_canary_strategies_are_refused_with_the_reason() {
    let c = rules::ecs_controller_checks(Some("ECS"), Some("LINEAR"));
    let s = status_of(&c, "deployment strategy").expect("checked");
    assert_eq!(s.status, Status::Fail);
    assert!(s.detail.contains("hookline's weight steps cannot run there"), "{s:?}");
    assert_eq!(
        status_of(&rules::ecs_controller_checks(None, Some("BLUE_GREEN")), "deployment strategy").map(|c| c.status),
        Some(Status::Ok)
    );
    let cd = rules::ecs_controller_checks(Some("CODE_DEPLOY"), None);
    assert_eq!(cd.len(), 1);
    assert!(cd[0].fix.as_deref().unwrap_or("").contains("--application"), "{cd:?}");
}

#[test]
fn auto_rollback_needs_deployment_failure_and_warns_without_stop_on_request() {
    let mut g = rules::CodeDeployGroup {
        compute_platform: Some("ECS".into()),
        deployment_type: Some("BLUE_GREEN".into()),
        deployment_option: Some("WITH_TRAFFIC_CONTROL".into()),
        deployment_config: Some("CodeDeployDefault.ECSAllAtOnce".into()),
        auto_rollback_enabled: true,
        auto_rollback_events: vec!["DEPLOYMENT_FAILURE".into(), "DEPLOYMENT_STOP_ON_REQUEST".into()],
        alarms_enabled: false,
        ecs_services: vec![("demo".into(), "web".into())],
        pairs: vec![vec!["web-blue".into(), "web-green".into()]],
        prod_listeners: vec!["L80".into()],
        test_listeners: vec!["L8080".into()],
    };
    assert!(rules::codedeploy_group_checks(&g).iter().all(|c| c.status == Status::Ok));
    g.auto_rollback_events = vec!["DEPLOYMENT_FAILURE".into()];
    let c = rules::codedeploy_group_checks(&g);
    assert_eq!(status_of(&c, "auto-rollback on stop").map(|c| c.status), Some(Status::Warn));
    g.auto_rollback_enabled = false;
    let c = rules::codedeploy_group_checks(&g);
    assert_eq!(status_of(&c, "auto-rollback on failure").map(|c| c.status), Some(Status::Fail));
    g.deployment_config = Some("CodeDeployDefault.ECSCanary10Percent5Minutes".into());
    g.deployment_option = Some("WITHOUT_TRAFFIC_CONTROL".into());
    let c = rules::codedeploy_group_checks(&g);
    assert_eq!(status_of(&c, "deployment configuration").map(|c| c.status), Some(Status::Warn));
    assert_eq!(status_of(&c, "deployment style").map(|c| c.status), Some(Status::Fail));
}

fn rule(arn: &str, priority: i32, own: bool) -> RuleInfo {
    RuleInfo { arn: arn.into(), priority: Some(priority), own_cohort: own }
}

#[test]
fn cohort_room_follows_where_shift_weight_puts_the_rule() {
    // Rule mode: the highest free priority below the production rule, over own cohort rules only.
    let rules_ = vec![
        rule("prod", 10, false),
        rule("mine", 9, true),
        RuleInfo { arn: "default".into(), priority: None, own_cohort: false },
    ];
    let c = rules::cohort_checks(&rules_, Some("prod"), true, true);
    assert_eq!(
        status_of(&c, "cohort rule priority").map(|c| c.detail.as_str()),
        Some("the cohort rule goes at priority 8")
    );
    let blocked = vec![rule("prod", 10, false), rule("admin", 9, false)];
    let c = rules::cohort_checks(&blocked, Some("prod"), true, false);
    let room = status_of(&c, "cohort rule priority").expect("checked");
    assert_eq!(room.status, Status::Fail);
    assert!(room.detail.contains("taken by rule admin"), "{room:?}");
    let first = vec![rule("prod", 1, false)];
    let c = rules::cohort_checks(&first, Some("prod"), true, false);
    assert_eq!(status_of(&c, "cohort rule priority").map(|c| c.status), Some(Status::Fail));
    // Default-action mode: after every rule.
    let c = rules::cohort_checks(&[rule("admin", 10, false)], None, true, false);
    assert_eq!(
        status_of(&c, "cohort rule priority").map(|c| c.detail.as_str()),
        Some("the cohort rule goes at priority 11")
    );
    // No cohort step: no room needed.
    assert!(rules::cohort_checks(&first, Some("prod"), false, false).is_empty());
}

#[test]
fn a_foreign_rule_between_a_cohort_and_production_fails_and_leftovers_warn() {
    let rules_ = vec![rule("prod", 10, false), rule("foreign", 8, false), rule("mine", 5, true)];
    let c = rules::cohort_checks(&rules_, Some("prod"), false, false);
    let between = status_of(&c, "rules between cohort and production").expect("checked");
    assert_eq!(between.status, Status::Fail);
    assert!(between.detail.starts_with("rule foreign (priority 8) sits between cohort rule mine"), "{between:?}");
    assert_eq!(status_of(&c, "leftover cohort rules").map(|c| c.status), Some(Status::Warn));
    let during = rules::cohort_checks(&rules_, Some("prod"), false, true);
    assert!(status_of(&during, "leftover cohort rules").is_none(), "a running deployment owns its cohort rule");
}

#[test]
fn alarms_named_by_the_plan_must_exist() {
    let wanted = vec!["web-5xx".to_string(), "web-latency".to_string()];
    let c = rules::alarm_checks(&wanted, &[("web-5xx".into(), "OK".into())]);
    assert_eq!(c[0].status, Status::Ok);
    assert_eq!(c[1].status, Status::Fail);
    assert_eq!(c[1].check, "alarm web-latency");
    assert!(c[1].detail.contains("does not exist"));
    let c = rules::alarm_checks(&wanted[..1], &[("web-5xx".into(), "ALARM".into())]);
    assert_eq!(c[0].status, Status::Warn);
}

#[test]
fn the_evaluator_allows_with_wildcards_and_lets_an_explicit_deny_win() {
    let docs = vec![json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["elasticloadbalancing:Describe*"], "Resource": "*"},
        {"Effect": "Allow", "Action": "elasticloadbalancing:ModifyRule",
         "Resource": "arn:aws:elasticloadbalancing:us-east-1:1:listener-rule/app/demo-*/*"},
        {"Effect": "Allow", "Action": "elasticloadbalancing:AddTags", "Resource": "*",
         "Condition": {"StringEquals": {"elasticloadbalancing:CreateAction": "CreateRule"}}},
        {"Effect": "Deny", "Action": "ssm:*", "Resource": "arn:aws:ssm:us-east-1:1:parameter/secret/*"},
        {"Effect": "Allow", "Action": "ssm:GetParameter", "Resource": "*"}
    ]})];
    let rule = "arn:aws:elasticloadbalancing:us-east-1:1:listener-rule/app/demo-api/a/b/c";
    assert_eq!(policy::evaluate(&docs, "elasticloadbalancing:DescribeRules", "*", &[]), Decision::Allowed);
    assert_eq!(
        policy::evaluate(&docs, "ElasticLoadBalancing:describerules", "*", &[]),
        Decision::Allowed,
        "actions are case-insensitive"
    );
    assert_eq!(policy::evaluate(&docs, "elasticloadbalancing:ModifyRule", rule, &[]), Decision::Allowed);
    let other_lb = "arn:aws:elasticloadbalancing:us-east-1:1:listener-rule/app/web/a/b/c";
    assert_eq!(policy::evaluate(&docs, "elasticloadbalancing:ModifyRule", other_lb, &[]), Decision::ImplicitDeny);
    assert_eq!(policy::evaluate(&docs, "elasticloadbalancing:ModifyListener", rule, &[]), Decision::ImplicitDeny);
    let create = [("elasticloadbalancing:CreateAction", "CreateRule")];
    assert_eq!(policy::evaluate(&docs, "elasticloadbalancing:AddTags", rule, &create), Decision::Allowed);
    assert_eq!(
        policy::evaluate(&docs, "elasticloadbalancing:AddTags", rule, &[]),
        Decision::ImplicitDeny,
        "condition key absent"
    );
    let secret = "arn:aws:ssm:us-east-1:1:parameter/secret/x";
    assert_eq!(policy::evaluate(&docs, "ssm:GetParameter", secret, &[]), Decision::ExplicitDeny);
    assert_eq!(
        policy::evaluate(&docs, "ssm:GetParameter", "arn:aws:ssm:us-east-1:1:parameter/hookline/x", &[]),
        Decision::Allowed
    );
    assert!(policy::wildcard("a?c*", "abcdef") && !policy::wildcard("a?c", "abcd") && policy::wildcard("*", ""));
}

#[test]
fn policy_documents_come_url_encoded_or_plain() {
    let plain = r#"{"Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}}"#;
    let encoded = "%7B%22Statement%22%3A%20%7B%22Effect%22%3A%20%22Allow%22%2C%20%22Action%22%3A%20%22s3%3A%2A%22%2C%20%22Resource%22%3A%20%22%2A%22%7D%7D";
    let a = policy::parse_document(plain).expect("plain");
    let b = policy::parse_document(encoded).expect("encoded");
    assert_eq!(a, b);
    assert_eq!(
        policy::evaluate(&[b], "s3:GetObject", "arn:aws:s3:::x", &[]),
        Decision::Allowed,
        "one statement object"
    );
}

#[test]
fn roles_are_found_by_the_template_name_or_cloudformation_s() {
    let names: Vec<String> =
        ["HookRole", "prod-shiftweightrole-abc", "hookline-FinalizeRole-1", "staging-FinalizeRole-2", "x"]
            .iter()
            .map(|s| s.to_string())
            .collect();
    assert_eq!(policy::role_for(&names, "HookRole", "hookline"), Ok("HookRole"));
    assert_eq!(policy::role_for(&names, "ShiftWeightRole", "hookline"), Ok("prod-shiftweightrole-abc"));
    assert_eq!(policy::role_for(&names, "FinalizeRole", "hookline"), Ok("hookline-FinalizeRole-1"));
    assert_eq!(
        policy::role_for(&names, "FinalizeRole", "other"),
        Err(vec!["hookline-FinalizeRole-1", "staging-FinalizeRole-2"])
    );
    assert_eq!(policy::role_for(&names, "RollbackRole", "hookline"), Err(vec![]));
}

fn service(kind: policy::Kind, rule: Option<&str>, cohort: bool) -> policy::Service {
    policy::Service {
        partition: "aws".into(),
        region: "us-east-1".into(),
        account: "123456789012".into(),
        cluster: "demo".into(),
        service: "api".into(),
        kind,
        listener: "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/demo-api/1/2".into(),
        production_rule: rule.map(str::to_string),
        plan_parameter: "/hookline/ecs/demo/api".into(),
        state_machine_prefix: "hookline".into(),
        alarms: vec!["api-5xx".into()],
        cohort,
        analysis: false,
    }
}

#[test]
fn needs_follow_the_controller_and_the_plan() {
    let rule = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/demo-api/1/2/3";
    let ecs = policy::needs(&service(policy::Kind::Ecs, Some(rule), false));
    let has = |needs: &[policy::Need], f: &str, a: &str, r: &str| {
        needs.iter().any(|n| n.function == f && n.action == a && (r.is_empty() || n.resource == r))
    };
    assert!(has(&ecs, "shift-weight", "elasticloadbalancing:ModifyRule", rule));
    assert!(!has(&ecs, "shift-weight", "elasticloadbalancing:ModifyListener", ""));
    assert!(has(
        &ecs,
        "hook",
        "ssm:GetParameter",
        "arn:aws:ssm:us-east-1:123456789012:parameter/hookline/ecs/demo/api"
    ));
    assert!(has(
        &ecs,
        "finalize",
        "ssm:PutParameter",
        "arn:aws:ssm:us-east-1:123456789012:parameter/hookline/ecs/demo/api/last-release"
    ));
    assert!(has(
        &ecs,
        "validate-health",
        "cloudwatch:DescribeAlarms",
        "arn:aws:cloudwatch:us-east-1:123456789012:alarm:api-5xx"
    ));
    assert!(has(&ecs, "rollback", "ecs:StopServiceDeployment", "arn:aws:ecs:us-east-1:123456789012:service/demo/api"));
    assert!(!has(&ecs, "shift-weight", "elasticloadbalancing:CreateRule", ""), "no cohort step, no CreateRule");
    let cd = policy::needs(&service(
        policy::Kind::CodeDeploy { application: "web".into(), group: "web-prod".into() },
        None,
        true,
    ));
    assert!(has(&cd, "shift-weight", "elasticloadbalancing:ModifyListener", ""));
    assert!(has(&cd, "shift-weight", "elasticloadbalancing:CreateRule", ""));
    assert!(cd.iter().any(|n| n.action == "elasticloadbalancing:AddTags"
        && n.context == vec![("elasticloadbalancing:CreateAction", "CreateRule")]));
    assert!(has(
        &cd,
        "hook",
        "codedeploy:GetDeploymentGroup",
        "arn:aws:codedeploy:us-east-1:123456789012:deploymentgroup:web/web-prod"
    ));
    assert!(!has(&cd, "hook", "ecs:DescribeServiceRevisions", ""));
}

#[test]
fn the_report_groups_checks_and_sets_the_exit_code() {
    let checks = vec![
        ("plan", Check::ok("plan /p", "valid")),
        ("configuration", Check::warn("test listener", "none", "add one")),
        ("alarms", Check::fail("alarm x", "does not exist in CloudWatch", "create alarm x")),
    ];
    let r = Report::new("ECS demo/api".into(), "ecs", false, checks.clone());
    assert_eq!((r.exit_code(), r.counts.ok, r.counts.warn, r.counts.fail), (1, 1, 1, 1));
    assert_eq!(r.groups.iter().map(|g| g.name.as_str()).collect::<Vec<_>>(), ["configuration", "alarms", "plan"]);
    let text = r.render();
    assert!(text.contains("\n  FAIL  alarm x: does not exist in CloudWatch\n        -> create alarm x"), "{text}");
    assert!(text.ends_with("1 ok, 1 warn, 1 FAIL: not ready for hookline"), "{text}");
    let warn_only = Report::new("t".into(), "ecs", false, checks[..2].to_vec());
    assert_eq!(warn_only.exit_code(), 0, "warnings alone pass");
    assert_eq!(Report::new("t".into(), "ecs", true, checks[..2].to_vec()).exit_code(), 1, "--strict");
    let json = serde_json::to_value(&r).expect("json");
    assert_eq!(json["groups"][1]["checks"][0]["status"], "fail");
    assert_eq!(json["ok"], false);
}

#[test]
fn doctor_takes_either_controller_like_history() {
    use clap::Parser;
    let parse = |args: &[&str]| crate::verbs::Cli::try_parse_from(args.iter().copied()).map(|c| c.command);
    match parse(&["hookline", "doctor", "--cluster", "demo", "--service", "api", "--json", "--strict"]) {
        Ok(crate::verbs::Command::Doctor(a)) => {
            assert!(a.json && a.strict && a.hook_function.is_none());
            assert_eq!(a.target(), Ok(crate::address::Target::Ecs { cluster: "demo".into(), service: "api".into() }));
            assert!(a.dns_target().is_none());
        }
        other => panic!("{other:?}"),
    }
    match parse(&["hookline", "doctor", "--application", "web", "--group", "web-prod", "--hook-function", "hook"]) {
        Ok(crate::verbs::Command::Doctor(a)) => assert_eq!(a.hook_function.as_deref(), Some("hook")),
        other => panic!("{other:?}"),
    }
    assert!(parse(&["hookline", "doctor", "--application", "web"]).is_err(), "--group is required");
    assert!(parse(&["hookline", "doctor"]).is_err(), "a target is required");
    assert!(parse(&["hookline", "doctor", "--application", "web", "--group", "g", "--cluster", "c", "--service", "s"])
        .is_err());
    // hookline's own Route 53 controller: addressed as deploy (-e, -f, -d) and the other verbs (--fqdn).
    match parse(&["hookline", "doctor", "-e", "shop", "-d", "deployfiles", "--fqdn", "web.shop.example.com"]) {
        Ok(crate::verbs::Command::Doctor(a)) => {
            let t = a.dns_target().expect("a Route 53 deployment");
            assert_eq!(t.env.as_deref(), Some("shop"));
            assert_eq!(t.dir.as_deref(), Some(std::path::Path::new("deployfiles")));
            assert_eq!(t.fqdn.as_deref(), Some("web.shop.example.com"));
        }
        other => panic!("{other:?}"),
    }
    match parse(&["hookline", "doctor", "--fqdn", "web.shop.example.com"]) {
        Ok(crate::verbs::Command::Doctor(a)) => assert!(a.dns_target().is_some_and(|t| t.env.is_none())),
        other => panic!("{other:?}"),
    }
    assert!(parse(&["hookline", "doctor", "-e", "shop", "--cluster", "c", "--service", "s"]).is_err());
    assert!(parse(&["hookline", "doctor", "-f", "a.deploy.yml", "-d", "dir"]).is_err());
}

mod iam_calls {
    use aws_sdk_iam::operation::get_policy::GetPolicyOutput;
    use aws_sdk_iam::operation::get_policy_version::GetPolicyVersionOutput;
    use aws_sdk_iam::operation::get_role_policy::GetRolePolicyOutput;
    use aws_sdk_iam::operation::list_attached_role_policies::ListAttachedRolePoliciesOutput;
    use aws_sdk_iam::operation::list_role_policies::ListRolePoliciesOutput;
    use aws_sdk_iam::operation::simulate_principal_policy::SimulatePrincipalPolicyOutput;
    use aws_sdk_iam::types::{AttachedPolicy, EvaluationResult, PolicyEvaluationDecisionType as D, PolicyVersion};
    use aws_smithy_mocks::{mock, mock_client, RuleMode};

    use super::super::common::{role_documents, simulate};
    use super::super::policy;
    use crate::aws::Aws;

    fn need(action: &'static str) -> policy::Need {
        policy::Need { function: "shift-weight", action, resource: "*".into(), context: vec![], why: "test" }
    }

    fn answer(action: &str, decision: D) -> SimulatePrincipalPolicyOutput {
        SimulatePrincipalPolicyOutput::builder()
            .evaluation_results(
                EvaluationResult::builder().eval_action_name(action).eval_decision(decision).build().expect("result"),
            )
            .build()
    }

    #[tokio::test]
    async fn the_simulator_s_decisions_map_one_to_one_onto_the_needs() {
        let rules = [
            ("elasticloadbalancing:DescribeRules", D::Allowed),
            ("elasticloadbalancing:ModifyListener", D::ImplicitDeny),
            ("ssm:GetParameter", D::ExplicitDeny),
        ]
        .map(|(action, decision)| {
            mock!(aws_sdk_iam::Client::simulate_principal_policy)
                .match_requests(move |r| {
                    r.action_names() == [action.to_string()]
                        && r.policy_source_arn() == Some("arn:aws:iam::1:role/ShiftWeightRole")
                })
                .then_output(move || answer(action, decision.clone()))
        });
        let mut aws = Aws::with_clients(hookline::testing::mocked_clients(&[]));
        aws.iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, &[&rules[0], &rules[1], &rules[2]]);
        let needs = [
            need("elasticloadbalancing:DescribeRules"),
            need("elasticloadbalancing:ModifyListener"),
            need("ssm:GetParameter"),
        ];
        let refs: Vec<&policy::Need> = needs.iter().collect();
        let got = simulate(&aws, "arn:aws:iam::1:role/ShiftWeightRole", &refs).await.expect("simulated");
        assert_eq!(got, [policy::Decision::Allowed, policy::Decision::ImplicitDeny, policy::Decision::ExplicitDeny]);
    }

    #[tokio::test]
    async fn a_role_s_inline_and_attached_policies_are_read_and_decoded() {
        let inline =
            r#"{"Statement": [{"Effect": "Allow", "Action": "elasticloadbalancing:ModifyListener", "Resource": "*"}]}"#;
        let managed = r#"{"Statement": [{"Effect": "Deny", "Action": "ssm:*", "Resource": "*"}]}"#;
        let encode = |t: &str| percent_encoding::utf8_percent_encode(t, percent_encoding::NON_ALPHANUMERIC).to_string();
        let (inline_doc, managed_doc) = (encode(inline), encode(managed));
        let list = mock!(aws_sdk_iam::Client::list_role_policies)
            .match_requests(|r| r.role_name() == Some("ShiftWeightRole"))
            .then_output(|| {
                ListRolePoliciesOutput::builder().policy_names("shift-weight").is_truncated(false).build().expect("out")
            });
        let get = mock!(aws_sdk_iam::Client::get_role_policy)
            .match_requests(|r| r.policy_name() == Some("shift-weight"))
            .then_output(move || {
                GetRolePolicyOutput::builder()
                    .role_name("ShiftWeightRole")
                    .policy_name("shift-weight")
                    .policy_document(&inline_doc)
                    .build()
                    .expect("out")
            });
        let attached = mock!(aws_sdk_iam::Client::list_attached_role_policies).then_output(|| {
            ListAttachedRolePoliciesOutput::builder()
                .attached_policies(AttachedPolicy::builder().policy_arn("arn:aws:iam::1:policy/guard").build())
                .build()
        });
        let policy_ = mock!(aws_sdk_iam::Client::get_policy).then_output(|| {
            GetPolicyOutput::builder()
                .policy(aws_sdk_iam::types::Policy::builder().default_version_id("v3").build())
                .build()
        });
        let version = mock!(aws_sdk_iam::Client::get_policy_version)
            .match_requests(|r| r.version_id() == Some("v3"))
            .then_output(move || {
                GetPolicyVersionOutput::builder()
                    .policy_version(PolicyVersion::builder().document(&managed_doc).build())
                    .build()
            });
        let mut aws = Aws::with_clients(hookline::testing::mocked_clients(&[]));
        aws.iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, &[&list, &get, &attached, &policy_, &version]);
        let docs = role_documents(&aws, "ShiftWeightRole").await.expect("read");
        assert_eq!(docs.len(), 2);
        assert_eq!(
            policy::evaluate(&docs, "elasticloadbalancing:ModifyListener", "arn:x", &[]),
            policy::Decision::Allowed
        );
        assert_eq!(policy::evaluate(&docs, "ssm:GetParameter", "arn:x", &[]), policy::Decision::ExplicitDeny);
    }
}

#[test]
fn a_route53_deployment_needs_the_zone_the_change_and_the_release_services() {
    let s = policy::DnsService {
        partition: "aws".into(),
        region: "us-east-1".into(),
        account: "123456789012".into(),
        zone_id: "Z1ABC".into(),
        cluster: "shop".into(),
        services: vec!["shop-web-blue".into(), "shop-web-green".into()],
        plan_parameter_prefix: "/hookline".into(),
        alarms: vec!["shop-web-5xx".into()],
        remove_old: false,
    };
    let needs = policy::dns_needs(&s);
    let has = |function: &str, action: &str, resource: &str| {
        needs.iter().any(|n| n.function == function && n.action == action && n.resource == resource)
    };
    for f in ["shift-weight", "rollback"] {
        assert!(has(f, "route53:ChangeResourceRecordSets", "arn:aws:route53:::hostedzone/Z1ABC"), "{f}");
        assert!(has(f, "route53:GetChange", "arn:aws:route53:::change/doctor"), "{f}");
    }
    let green = "arn:aws:ecs:us-east-1:123456789012:service/shop/shop-web-green";
    assert!(has("finalize", "ecs:UpdateService", green) && has("rollback", "ecs:UpdateService", green));
    assert!(has("finalize", "ssm:PutParameter", "arn:aws:ssm:us-east-1:123456789012:parameter/hookline/dns/doctor"));
    assert!(!needs.iter().any(|n| n.action == "ecs:DeleteService"), "only with remove_old");
    assert!(!needs.iter().any(|n| n.function == "hook"), "hookline deploy starts the canary, not the hook");
    let removing = policy::dns_needs(&policy::DnsService { remove_old: true, ..s });
    assert!(removing
        .iter()
        .any(|n| n.function == "finalize" && n.action == "ecs:DeleteService" && n.resource == green));

    // The template's grant (hosted zone pattern) allows it; a role without it is denied on the zone.
    let granted = vec![json!({"Statement": [
        {"Effect": "Allow", "Action": ["route53:ListResourceRecordSets", "route53:ChangeResourceRecordSets"],
         "Resource": "arn:aws:route53:::hostedzone/*"},
        {"Effect": "Allow", "Action": "route53:GetChange", "Resource": "arn:aws:route53:::change/*"}]})];
    let zone = "arn:aws:route53:::hostedzone/Z1ABC";
    assert_eq!(policy::evaluate(&granted, "route53:ChangeResourceRecordSets", zone, &[]), Decision::Allowed);
    assert_eq!(
        policy::evaluate(&granted, "route53:GetChange", "arn:aws:route53:::change/doctor", &[]),
        Decision::Allowed
    );
    let reads_only = vec![json!({"Statement": [
        {"Effect": "Allow", "Action": "route53:ListResourceRecordSets", "Resource": "arn:aws:route53:::hostedzone/*"}]})];
    assert_eq!(policy::evaluate(&reads_only, "route53:ChangeResourceRecordSets", zone, &[]), Decision::ImplicitDeny);
}
