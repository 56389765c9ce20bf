use super::*;

const DESIGN_EXAMPLE: &str = r#"{
  "steps": [
    {"cohort": {"header": "X-Canary", "values": ["internal"]}},
    {"weight": 10, "bake": "5m"},
    {"approval": {"timeout": "30m", "on_timeout": "rollback"}},
    {"weight": 50, "bake": "10m"},
    {"weight": 100, "bake": "2m"}
  ],
  "health": {
    "interval": "30s",
    "alarms": ["web-5xx", "web-p99"],
    "min_healthy_percent": 100,
    "http": [{"url": "http://test-listener.internal:8080/health", "expect_status": 200, "timeout": "2s"}]
  },
  "post_traffic": {"bake": "5m"},
  "hook_budget": "55m"
}"#;

#[test]
fn design_example_is_accepted_with_its_worst_case() {
    let plan = Plan::from_json(DESIGN_EXAMPLE).expect("valid");
    assert_eq!(plan.step_count, 5);
    assert_eq!(plan.steps[1], Step::Weight { weight: 10, bake_seconds: 300 });
    assert_eq!(plan.steps[2], Step::Approval { timeout_seconds: 1800, on_timeout: OnTimeout::Rollback });
    // 5m ready timeout + 5m + 30m + 10m + 2m
    assert_eq!(plan.worst_case_seconds(), (5 + 5 + 30 + 10 + 2) * 60);
    assert_eq!(plan.health.http[0].timeout_ms, 2000);
    assert_eq!(plan.post_traffic.bake_seconds, 300);
}

#[test]
fn good_plans_and_their_worst_cases() {
    let cases: &[(&str, u64)] = &[
        (r#"{"steps":[{"weight":100}]}"#, 300),
        (r#"{"steps":[{"weight":10,"bake":"90s"},{"weight":100}],"health":{"ready_timeout":"1m"}}"#, 150),
        (
            r#"{"steps":[{"approval":{"timeout":"10m","on_timeout":"continue"}},{"weight":50}],"hook_budget":"60m"}"#,
            900,
        ),
        ("steps:\n  - weight: 25\n    bake: 1m\n  - weight: 100\nhealth:\n  interval: 10s\n  ready_timeout: 30s\n", 90),
    ];
    for (text, worst) in cases {
        let plan = Plan::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(plan.worst_case_seconds(), *worst, "{text}");
    }
}

#[test]
fn bad_plans_are_rejected_naming_the_field() {
    let cases: &[(&str, &str, &str)] = &[
        (r#"{"steps":[]}"#, "steps", "at least one step"),
        (r#"{"steps":[{"weight":0}]}"#, "steps[0].weight", "from 1 to 100"),
        (r#"{"steps":[{"weight":150}]}"#, "steps[0].weight", "from 1 to 100"),
        (r#"{"steps":[{"weight":-5}]}"#, "steps[0].weight", "from 1 to 100"),
        (r#"{"steps":[{"weight":50},{"weight":20}]}"#, "steps[1].weight", "weights must increase"),
        (r#"{"steps":[{"weight":50},{"weight":50}]}"#, "steps[1].weight", "weights must increase"),
        (r#"{"steps":[{"weight":10,"colour":"red"}]}"#, "steps[0].colour", "unknown field `colour`"),
        (r#"{"steps":[{"weight":10}],"extra":1}"#, "extra", "unknown field `extra`"),
        (r#"{"steps":[{}]}"#, "steps[0]", "exactly one of weight, approval, cohort"),
        (r#"{"steps":[{"weight":10,"approval":{"timeout":"1m"}}]}"#, "steps[0]", "found several"),
        (r#"{"steps":[{"weight":10,"bake":"5 parsecs"}]}"#, "steps[0].bake", "a duration like"),
        (r#"{"steps":[{"weight":10,"bake":"soon"}]}"#, "steps[0].bake", "a duration like"),
        (r#"{"steps":[{"approval":{}}]}"#, "steps[0].approval.timeout", "a duration like"),
        (
            r#"{"steps":[{"approval":{"timeout":"1m","on_timeout":"maybe"}}]}"#,
            "steps[0].approval.on_timeout",
            "unknown variant `maybe`",
        ),
        (r#"{"steps":[{"bake":"1m"}]}"#, "steps[0]", "exactly one of"),
        (r#"{"steps":[{"weight":10,"bake":"51m"}]}"#, "hook_budget", "worst case"),
        (r#"{"steps":[{"approval":{"timeout":"58m"}}],"hook_budget":"60m"}"#, "hook_budget", "worst case"),
        (r#"{"steps":[{"weight":10}],"hook_budget":"2h"}"#, "hook_budget", "at most 60m"),
        (r#"{"steps":[{"weight":10}],"hook_budget":"ten"}"#, "hook_budget", "a duration like"),
        (r#"{"steps":[{"weight":10}],"health":{"alarms":["web-5xx", 5]}}"#, "health.alarms[1]", "expected a string"),
        (r#"{"steps":[{"weight":10}],"health":{"alarms":"web-5xx"}}"#, "health.alarms", "expected a sequence"),
        (r#"{"steps":[{"weight":10}],"health":{"interval":"0s"}}"#, "health.interval", "at least 1s"),
        (
            r#"{"steps":[{"weight":10}],"health":{"min_healthy_percent":120}}"#,
            "health.min_healthy_percent",
            "from 0 to 100",
        ),
        (
            r#"{"steps":[{"weight":10}],"health":{"http":[{"url":"ftp://x"}]}}"#,
            "health.http[0].url",
            "http:// or https://",
        ),
        (
            r#"{"steps":[{"weight":10}],"health":{"http":[{"url":"http://x","expect_status":999}]}}"#,
            "health.http[0].expect_status",
            "100 to 599",
        ),
        (
            r#"{"steps":[{"cohort":{"header":"X Canary","values":["a"]}}]}"#,
            "steps[0].cohort.header",
            "HTTP header name",
        ),
        (r#"{"steps":[{"cohort":{"header":"X-Canary","values":[]}}]}"#, "steps[0].cohort.values", "at least one"),
        (
            r#"{"steps":[{"cohort":{"header":"X-A","values":["a"]}},{"cohort":{"header":"X-B","values":["b"]}}]}"#,
            "steps[1].cohort",
            "at most one cohort",
        ),
        (r#"{"steps":[{"weight":"ten"}]}"#, "steps[0].weight", "invalid type"),
        (r#"{"steps":[{"weight":10}],"post_traffic":{"bake":"90m"}}"#, "post_traffic.bake", "at most hook_budget"),
        (
            r#"{"steps":[{"weight":10}],"traffic":{"production_rule_arn":"rule-1"}}"#,
            "traffic.production_rule_arn",
            "listener rule ARN",
        ),
        ("steps: [valid", "steps[0]", "invalid type: string \"valid\", expected a step object"),
        (r#"{"steps": "#, "steps", "EOF"),
    ];
    assert!(cases.len() >= 15);
    let mut misses = Vec::new();
    for (text, field, expected) in cases {
        let errs = Plan::parse(text).expect_err(text);
        let hit = errs.0.iter().find(|p| p.field == *field && p.expected.contains(expected));
        if hit.is_none() {
            misses.push(format!("{text}\n  wanted {field}: ..{expected}..\n  got {errs}"));
        }
    }
    assert!(misses.is_empty(), "{}", misses.join("\n"));
}

#[test]
fn every_problem_is_reported_not_just_the_first() {
    let errs = Plan::from_json(r#"{"steps":[{"weight":0},{"approval":{}}],"health":{"interval":"0s"}}"#).unwrap_err();
    let fields: Vec<&str> = errs.0.iter().map(|p| p.field.as_str()).collect();
    assert!(fields.contains(&"steps[0].weight"), "{fields:?}");
    assert!(fields.contains(&"steps[1].approval.timeout"), "{fields:?}");
    assert!(fields.contains(&"health.interval"), "{fields:?}");
}

#[test]
fn normalized_plan_round_trips_through_the_execution_document() {
    let plan = Plan::from_json(DESIGN_EXAMPLE).unwrap();
    let json = serde_json::to_value(&plan).unwrap();
    assert_eq!(json["steps"][1], serde_json::json!({"kind": "weight", "weight": 10, "bake_seconds": 300}));
    assert_eq!(json["steps"][0]["kind"], "cohort");
    assert_eq!(json["steps"][2]["on_timeout"], "rollback");
    let back: Plan = serde_json::from_value(json).unwrap();
    assert_eq!(back, plan);
}

#[test]
fn plan_errors_become_invalid_input_naming_the_field() {
    let err: crate::Error = Plan::from_json(r#"{"steps":[{"weight":0}]}"#).unwrap_err().into();
    assert_eq!(err.error_type(), "InvalidInput");
    assert!(err.to_string().contains("plan.steps[0].weight"), "{err}");
}

#[test]
fn history_sequences_are_the_state_counts_of_the_definitions() {
    use super::history::*;
    // canary: WaitBake + Bake + BakeDone; a zero-bake weight step is 8 states, 22 events.
    assert_eq!(BAKE_ITERATION, 9);
    assert_eq!(WEIGHT_STEP, 22);
    assert_eq!(JUDGEMENT_APPROVAL, 2 + 6 + 2);
    assert_eq!(COHORT_STEP, 13);
    assert_eq!(APPROVAL_STEP, 16);
    // 5 retries of the failing task, Rollback with 6 retries, RolledBack, ExecutionFailed
    assert_eq!(ROLLBACK_PATH, 15 + 2 + 5 + 18 + 1 + 1);
}

#[test]
fn worst_case_history_of_the_design_example() {
    use super::history::*;
    let plan = Plan::from_json(DESIGN_EXAMPLE).unwrap();
    // 30 s checks: ready 5m = 10 waits; bakes 5m, 10m, 2m = 10 + 20 + 4 bake iterations.
    let canary = EXECUTION_STARTED
        + READY_FIRST
        + 10 * READY_ITERATION
        + COHORT_STEP
        + 3 * WEIGHT_STEP
        + 34 * BAKE_ITERATION
        + APPROVAL_STEP
        + CANARY_END
        + ROLLBACK_PATH;
    assert_eq!(canary_events(&plan, 30), canary);
    assert_eq!(canary, 1 + 7 + 90 + 13 + 66 + 306 + 16 + 10 + 42);
    // post-traffic: 5m bake = 10 iterations
    assert_eq!(post_traffic_events(&plan, 30), 1 + 7 + 90 + 8 + 42);
    assert_eq!(worst_events(&plan, 30), (canary, "BeforeAllowTraffic (canary)"));
}

#[test]
fn one_second_checks_over_the_whole_budget_are_refused_naming_the_interval() {
    // 5m ready timeout + 50m of bake checked every second: about 3,300 checks of 9 events.
    let text = r#"{"steps":[{"weight":10,"bake":"25m"},{"weight":100,"bake":"25m"}],"health":{"interval":"1s"}}"#;
    let errs = Plan::from_json(text).unwrap_err();
    let [p] = errs.0.as_slice() else { panic!("{errs}") };
    assert_eq!(p.field, "health.interval");
    let min = super::history::min_interval(&Plan::from_json(&text.replace("1s", "30s")).unwrap());
    assert_eq!(min, Some(2));
    assert!(
        p.expected.starts_with("at least 2s: with a check every 1s the BeforeAllowTraffic (canary) execution"),
        "{p}"
    );
    // 1 + 7 + 300 * 9 + 2 * 22 + 3000 * 9 + 10 + 42 events
    assert!(p.expected.contains("can record 29804 history events, more than the 20000 hookline allows"), "{p}");
    assert!(p.expected.contains("fails an execution at 25000 events"), "{p}");
    // the interval it names is enough, one second less is not
    assert!(Plan::from_json(&text.replace("1s", "2s")).is_ok());
}

#[test]
fn the_post_traffic_bake_counts_too() {
    let text =
        r#"{"steps":[{"weight":100}],"health":{"interval":"1s","ready_timeout":"1m"},"post_traffic":{"bake":"50m"}}"#;
    let errs = Plan::from_json(text).unwrap_err();
    let [p] = errs.0.as_slice() else { panic!("{errs}") };
    assert_eq!(p.field, "health.interval");
    assert!(p.expected.contains("the AfterAllowTraffic (post-traffic) execution can record 27058"), "{p}");
}

#[test]
fn too_many_steps_for_any_interval_are_refused_naming_steps() {
    let approvals = |n| vec![r#"{"approval":{"timeout":"1s","on_timeout":"continue"}}"#; n].join(",");
    let errs = Plan::from_json(&format!(r#"{{"steps":[{}]}}"#, approvals(1300))).unwrap_err();
    let [p] = errs.0.as_slice() else { panic!("{errs}") };
    assert_eq!(p.field, "steps");
    assert!(p.expected.starts_with("fewer steps: even with one health check per hook_budget"), "{p}");
    assert!(Plan::from_json(&format!(r#"{{"steps":[{}]}}"#, approvals(1000))).is_ok());
}

const RULE: &str = r#""traffic":{"production_rule_arn":"arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/demo/1/80/9"}"#;

#[test]
fn rule_mode_plans_must_end_at_weight_100() {
    let split =
        Plan::from_json(&format!(r#"{{"steps":[{{"weight":10}},{{"weight":50,"bake":"1m"}}],{RULE}}}"#)).unwrap_err();
    let [p] = split.0.as_slice() else { panic!("{split}") };
    assert_eq!(p.field, "steps");
    assert!(p.expected.starts_with("with traffic.production_rule_arn the last weight step must be 100"), "{p}");
    assert!(p.expected.ends_with("would stay split when blue is terminated, got steps[1].weight 50"), "{p}");

    let blue = Plan::from_json(&format!(
        r#"{{"steps":[{{"cohort":{{"header":"X-Canary","values":["a"]}}}},{{"approval":{{"timeout":"1m"}}}}],{RULE}}}"#
    ))
    .unwrap_err();
    let [p] = blue.0.as_slice() else { panic!("{blue}") };
    assert_eq!(p.field, "steps");
    assert!(p.expected.ends_with("would stay on blue when blue is terminated, got no weight step"), "{p}");

    let ok = Plan::from_json(&format!(
        r#"{{"steps":[{{"weight":50}},{{"approval":{{"timeout":"1m"}}}},{{"weight":100}}],{RULE}}}"#
    ));
    assert!(ok.is_ok(), "{ok:?}");
    // the listener's default action: CodeDeploy's AllowTraffic moves it to green whatever the plan ends at
    assert!(Plan::from_json(r#"{"steps":[{"weight":10},{"weight":50}]}"#).is_ok());
    // the error becomes the InvalidInput the hook reports Failed with
    let err: crate::Error = split.into();
    assert_eq!(err.error_type(), "InvalidInput");
    assert!(err.to_string().contains("plan.steps"), "{err}");
}

/// The issue's acceptance case: a 2h approval needs a budget over CodeDeploy's hour.
const TWO_HOUR_APPROVAL: &str = "
steps:
  - weight: 10
    bake: 5m
  - approval: {timeout: 2h}
  - weight: 100
    bake: 5m
hook_budget: 3h
";

#[test]
fn a_two_hour_approval_is_valid_for_ecs_and_rejected_for_codedeploy_naming_hook_budget() {
    let plan = Plan::parse_for(TWO_HOUR_APPROVAL, Controller::Ecs).expect("valid in ECS mode");
    assert_eq!(plan.steps[1], Step::Approval { timeout_seconds: 2 * 3600, on_timeout: OnTimeout::Rollback });
    assert_eq!(plan.hook_budget_seconds, 3 * 3600);
    assert_eq!(plan.worst_case_seconds(), 5 * 60 + 5 * 60 + 2 * 3600 + 5 * 60);

    for errs in [Plan::parse_for(TWO_HOUR_APPROVAL, Controller::CodeDeploy), Plan::parse(TWO_HOUR_APPROVAL)] {
        let errs = errs.unwrap_err();
        let [p] = errs.0.as_slice() else { panic!("{errs}") };
        assert_eq!(p.field, "hook_budget");
        assert_eq!(p.expected, "at most 60m (CodeDeploy waits one hour for a hook), got 3h");
    }
    // The same plan without a budget: the default (55m) is kept in ECS mode, and the problem says why.
    let unbudgeted = TWO_HOUR_APPROVAL.replace("hook_budget: 3h\n", "");
    let errs = Plan::parse_for(&unbudgeted, Controller::Ecs).unwrap_err();
    let [p] = errs.0.as_slice() else { panic!("{errs}") };
    assert_eq!(p.field, "hook_budget");
    assert!(p.expected.starts_with("at least the worst case 2h 15m"), "{p}");
}

#[test]
fn the_ecs_budget_ends_at_24_hours() {
    let plan = |budget: &str| format!(r#"{{"steps":[{{"weight":100}}],"hook_budget":"{budget}"}}"#);
    assert_eq!(Plan::from_json_for(&plan("24h"), Controller::Ecs).map(|p| p.hook_budget_seconds), Ok(86_400));
    let errs = Plan::from_json_for(&plan("24h 1s"), Controller::Ecs).unwrap_err();
    let [p] = errs.0.as_slice() else { panic!("{errs}") };
    assert_eq!(p.field, "hook_budget");
    assert!(p.expected.starts_with("at most 24h (an ECS lifecycle hook times out after 24h"), "{p}");
    assert!(p.expected.ends_with("got 1day 1s"), "{p}");
    assert_eq!(Controller::Ecs.max_hook_budget_seconds(), 24 * 3600);
    assert_eq!(Controller::CodeDeploy.max_hook_budget_seconds(), MAX_HOOK_BUDGET_SECONDS);
    // A post-traffic bake of hours fits the ECS budget, names the ECS hook when it does not.
    let long_bake = r#"{"steps":[{"weight":100}],"hook_budget":"2h","post_traffic":{"bake":"3h"}}"#;
    let errs = Plan::from_json_for(long_bake, Controller::Ecs).unwrap_err();
    let [p] = errs.0.as_slice() else { panic!("{errs}") };
    assert_eq!(p.field, "post_traffic.bake");
    assert!(p.expected.contains("POST_PRODUCTION_TRAFFIC_SHIFT"), "{p}");
    assert!(Plan::from_json_for(&long_bake.replace("3h", "90m"), Controller::Ecs).is_ok());
}

#[test]
fn ecs_plans_must_end_at_weight_100_and_name_no_rule() {
    let split = Plan::from_json_for(r#"{"steps":[{"weight":10},{"weight":50}]}"#, Controller::Ecs).unwrap_err();
    let [p] = split.0.as_slice() else { panic!("{split}") };
    assert_eq!(p.field, "steps");
    assert!(p.expected.starts_with("in ECS mode the last weight step must be 100"), "{p}");
    assert!(p.expected.ends_with("got steps[1].weight 50"), "{p}");
    let none = Plan::from_json_for(r#"{"steps":[{"approval":{"timeout":"1m"}}]}"#, Controller::Ecs).unwrap_err();
    assert!(none.0.iter().any(|p| p.field == "steps" && p.expected.ends_with("got no weight step")), "{none}");
    // the same plans are fine for CodeDeploy, whose AllowTraffic moves the listener to green
    assert!(Plan::from_json(r#"{"steps":[{"weight":10},{"weight":50}]}"#).is_ok());

    let named = Plan::from_json_for(&format!(r#"{{"steps":[{{"weight":100}}],{RULE}}}"#), Controller::Ecs).unwrap_err();
    let [p] = named.0.as_slice() else { panic!("{named}") };
    assert_eq!(p.field, "traffic.production_rule_arn");
    assert!(p.expected.contains("advancedConfiguration.productionListenerRule"), "{p}");
}

#[test]
fn a_route53_plan_must_end_at_100_and_names_no_rule() {
    let split = Plan::from_json_for(r#"{"steps":[{"weight":10},{"weight":50}]}"#, Controller::Route53).unwrap_err();
    assert!(split.0.iter().any(|p| p.field == "steps" && p.expected.contains("route53")), "{split:?}");
    let named =
        Plan::from_json_for(&format!(r#"{{"steps":[{{"weight":100}}],{RULE}}}"#), Controller::Route53).unwrap_err();
    assert!(named.0.iter().any(|p| p.field == "traffic.production_rule_arn"), "{named:?}");
    assert!(Plan::from_json_for(r#"{"steps":[{"weight":10},{"weight":100}]}"#, Controller::Route53).is_ok());
}

#[test]
fn the_measured_split_minimum_is_the_route53_controllers_and_a_percent() {
    let plan = r#"{"steps":[{"weight":100}],"dns":{"min_observed_percent":80}}"#;
    let p = Plan::from_json_for(plan, Controller::Route53).expect("valid");
    assert_eq!(p.dns, Some(DnsPlan { min_observed_percent: Some(80) }));
    let json = serde_json::to_value(&p).unwrap();
    assert_eq!(json["dns"], serde_json::json!({"min_observed_percent": 80}));
    let errs = Plan::from_json_for(plan, Controller::Ecs).unwrap_err();
    assert!(errs.0.iter().any(|e| e.field == "dns" && e.expected.contains("route53")), "{errs:?}");
    let errs = Plan::from_json_for(&plan.replace("80", "0"), Controller::Route53).unwrap_err();
    assert!(errs.0.iter().any(|e| e.field == "dns.min_observed_percent"), "{errs:?}");
    let errs = Plan::from_json_for(&plan.replace("min_observed", "minimum_observed"), Controller::Route53).unwrap_err();
    assert!(errs.0.iter().any(|e| e.expected.contains("unknown field")), "{errs:?}");
    // Without it the plan is written as before.
    let none = Plan::from_json_for(r#"{"steps":[{"weight":100}]}"#, Controller::Route53).unwrap();
    assert!(serde_json::to_value(&none).unwrap().get("dns").is_none());
}

#[test]
fn controllers_parse_from_their_names() {
    assert_eq!("ecs".parse::<Controller>(), Ok(Controller::Ecs));
    assert_eq!("CodeDeploy".parse::<Controller>(), Ok(Controller::CodeDeploy));
    assert_eq!(Controller::default(), Controller::CodeDeploy);
    let err = "lambda".parse::<Controller>().unwrap_err();
    assert_eq!(err, r#"a controller, codedeploy, ecs or route53, got "lambda""#);
    assert_eq!(serde_json::to_value(Controller::Ecs).unwrap(), "ecs");
    assert_eq!("route53".parse::<Controller>(), Ok(Controller::Route53));
    assert_eq!(serde_json::to_value(Controller::Route53).unwrap(), "route53");
    assert_eq!(Controller::of_deployment("dns-20261206-084016-abcd"), Controller::Route53);
    assert_eq!(Controller::of_deployment("d-ABCDEF123"), Controller::CodeDeploy);
    assert_eq!(serde_json::from_value::<Controller>(serde_json::json!("codedeploy")).unwrap(), Controller::CodeDeploy);
}

#[test]
fn text_that_is_not_json_or_yaml_gets_its_line_and_column() {
    let one = |errs: PlanErrors| -> (String, String, Option<(usize, usize)>) {
        let [p] = errs.0.as_slice() else { panic!("{errs}") };
        (p.field.clone(), p.expected.clone(), p.location.map(|l| (l.line, l.column)))
    };
    let at =
        |field: &str, expected: &str, line, column| (field.to_string(), expected.to_string(), Some((line, column)));
    // JSON cut short after line 3: serde_json stops at the end of the text (its column 0 shown as 1).
    let cut = Plan::from_json("{\n  \"steps\": [\n    {\"weight\": 10},\n").unwrap_err();
    assert_eq!(one(cut), at("steps", "EOF while parsing a value", 4, 1));
    assert_eq!(one(Plan::from_json(r#"{"steps": "#).unwrap_err()), at("steps", "EOF while parsing a value", 1, 10));
    // a missing comma on line 2
    let comma = Plan::from_json("{\"steps\": [\n  {\"weight\": 10} {\"weight\": 100}]}").unwrap_err();
    assert_eq!(one(comma), at("steps", "expected `,` or `]`", 2, 18));
    // YAML: an unclosed flow sequence; the parser's own context stays, the position is not repeated
    let unclosed = Plan::from_yaml("health:\n  interval: 2s\nsteps: [{weight: 10}\n").unwrap_err();
    assert_eq!(
        one(unclosed),
        at("steps", "did not find expected ',' or ']', while parsing a flow sequence at line 3 column 8", 4, 1)
    );
    // YAML: a tab where indentation is expected; a key at the wrong indentation
    let tab = Plan::from_yaml("steps:\n\t- weight: 10\n").unwrap_err();
    assert_eq!(
        one(tab),
        at("steps", "found character that cannot start any token, while scanning for the next token", 2, 1)
    );
    let indent = Plan::from_yaml("steps:\n  - weight: 10\n  bake: 1m\n").unwrap_err();
    assert_eq!(one(indent).2, Some((3, 3)));
    // a wrong type has a position too; a problem of meaning has none
    let ten = Plan::from_yaml("steps:\n  - weight: ten\n").unwrap_err();
    assert_eq!(one(ten), at("steps[0].weight", "invalid type: string \"ten\", expected i64", 2, 13));
    assert_eq!(one(Plan::from_yaml("steps:\n  - weight: 0\n").unwrap_err()).2, None);
    // an unknown key: the message does not repeat the path of its map
    let typo = Plan::from_yaml("steps:\n  - weight: 50\n  - wieght: 60\n").unwrap_err();
    let (field, expected, location) = one(typo);
    assert_eq!((field.as_str(), location), ("steps[1].wieght", Some((3, 5))));
    assert!(expected.starts_with("unknown field `wieght`, expected one of `weight`"), "{expected}");
}

#[test]
fn a_deployment_id_is_valid_only_in_its_controllers_whole_form() {
    let arn = "arn:aws:ecs:us-east-1:123456789012:service-deployment/demo/api/Ab-9_xYz0123456789abcd";
    assert_eq!(Controller::of_valid_deployment(arn), Ok(Controller::Ecs));
    assert_eq!(Controller::of_valid_deployment("d-ABCDEF123"), Ok(Controller::CodeDeploy));
    assert_eq!(Controller::of_valid_deployment("dns-20261206-084016-abcd"), Ok(Controller::Route53));
    let refused = |id: &str, says: &str| {
        let why = Controller::of_valid_deployment(id).expect_err(id);
        assert!(why.contains(says), "{id}: {why}");
    };
    for bad in ["", "d-", "d-ABCDEF12", "d-ABCDEF1234", "d-ABC/EF123", "d-ABCDEF12%", "x-ABCDEF123", "ABCDEF123"] {
        refused(bad, "d- and 9 letters or digits");
    }
    for bad in [
        "arn:aws:ecs:us-east-1:123456789012:service-deployment/demo/api",
        "arn:aws:ecs:us-east-1:123456789012:service-deployment/demo/api/x/y",
        "arn:aws:ecs:us-east-1:123456789012:service-deployment//api/x",
        "arn:aws:ecs:us-east-1:123456789012:service-deployment/demo/api/x?y",
        "arn:aws:ecs:us-east-1:123456789012:service-deployment/demo/api/../x",
        "arn:aws:ecs:us-east-1:12345:service-deployment/demo/api/x",
        "arn:aws:sqs:us-east-1:123456789012:service-deployment/demo/api/x",
        "arn:aws:ecs::123456789012:service-deployment/demo/api/x",
        "arn:aws:ecs:us-east-1:123456789012:service-deployment/demo/api/x:y",
    ] {
        refused(bad, "not an ECS service deployment ARN");
    }
    for bad in ["dns-", "dns-2026120-084016-abcd", "dns-20261206-084016-ABCD", "dns-20261206-084016-abcd-1"] {
        refused(bad, "dns-<yyyymmdd>-<hhmmss>-<4 hex>");
    }
}

#[test]
fn a_last_weight_out_of_range_is_its_own_problem_only_in_every_mode_that_must_end_at_100() {
    for controller in [Controller::Ecs, Controller::Route53] {
        let errs = Plan::from_json_for(r#"{"steps":[{"weight":10},{"weight":150}]}"#, controller).unwrap_err();
        let [p] = errs.0.as_slice() else { panic!("{controller:?}: {errs}") };
        assert_eq!(p.field, "steps[1].weight", "{controller:?}: {p}");
        assert!(p.expected.ends_with("got 150"), "{p}");
    }
    let rule = format!(r#"{{"steps":[{{"weight":150}}],{RULE}}}"#);
    let errs = Plan::from_json(&rule).unwrap_err();
    let [p] = errs.0.as_slice() else { panic!("{errs}") };
    assert_eq!(p.field, "steps[0].weight", "{p}");
}
