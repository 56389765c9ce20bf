use super::*;
use crate::plan::{OnTimeout, Step};

const SEED: &str = include_str!("fixtures/seed.deploy.yml");
const PROD: &str = include_str!("fixtures/prod.deploy.yml");

fn ctx() -> Context {
    Context { account_id: "123456789012".into(), region: "eu-west-1".into() }
}

/// The 1-based line and column of the `nth` occurrence of `needle` in `text`, computed from the
/// text itself so the expected positions are not typed by hand.
fn pos(text: &str, needle: &str, nth: usize) -> Location {
    let at = text.match_indices(needle).nth(nth).unwrap_or_else(|| panic!("{needle:?} #{nth} not in the text")).0;
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |n| n + 1) + 1;
    Location { line, column }
}

fn problems(text: &str) -> Vec<FileProblem> {
    match DeployFile::parse("prod.deploy.yml", text, &ctx()) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.0,
    }
}

/// The one problem for `key`, failing with every problem found when there is none.
fn problem_at(text: &str, key: &str) -> FileProblem {
    let all = problems(text);
    all.iter().find(|p| p.key == key).cloned().unwrap_or_else(|| panic!("no problem for {key}: {all:#?}"))
}

#[test]
fn the_seed_canary_section_parses_and_its_50s_step_is_refused_for_the_ttl() {
    let all = problems(SEED);
    assert_eq!(all.len(), 1, "{all:#?}");
    let p = &all[0];
    assert_eq!(p.key, "canary.strategy[1].wait");
    // the value `50` of the second `wait`
    let at = pos(SEED, "wait: 50", 0);
    assert_eq!(p.location, Some(Location { line: at.line, column: at.column + "wait: ".len() }));
    assert!(p.expected.contains("at least 70 (the records' TTL 60s + the resolver grace 10s"), "{}", p.expected);
    assert!(p.expected.ends_with("got 50"), "{}", p.expected);
    assert!(p.to_string().starts_with(&format!(
        "prod.deploy.yml:{}:{}: canary.strategy[1].wait: ",
        at.line,
        at.column + 6
    )));
}

#[test]
fn the_seed_example_with_a_long_enough_second_wait_maps_onto_the_plan() {
    // 70s: exactly the TTL (60s) + the default resolver grace (10s), the shortest accepted.
    let text = SEED.replace("wait: 50", "wait: 70");
    let d = DeployFile::parse("dev.deploy.yml", &text, &ctx()).unwrap_or_else(|e| panic!("{e}"));
    // The format's example writes the tag values as numbers; they are tag values (strings).
    assert_eq!(d.canary.releases, Releases { blue: "1".into(), green: "2".into(), ..Releases::default() });
    assert_eq!(d.canary.group, "private");
    assert_eq!(d.canary.scale, Scale { wait_seconds: 60, desired: DEFAULT_DESIRED });
    assert_eq!(
        d.canary.strategy,
        vec![StrategyStep { weight: 10, wait_seconds: 70 }, StrategyStep { weight: 60, wait_seconds: 70 }]
    );
    // strategy → weight/bake steps, and the final step to 100 with the shortest TTL-aware bake
    assert_eq!(
        d.plan.steps,
        vec![
            Step::Weight { weight: 10, bake_seconds: 70 },
            Step::Weight { weight: 60, bake_seconds: 70 },
            Step::Weight { weight: 100, bake_seconds: 70 },
        ]
    );
    assert!(d.final_step_added);
    assert_eq!(d.plan.health.ready_timeout_seconds, 60, "scale.wait is green's ready timeout");
    // templates in the order the format defines them
    assert_eq!(d.service.name, "shop-web");
    assert_eq!(d.service.cluster, "shop-cluster");
    assert_eq!(d.service.fqdn, "shop-web.example.com");
    // the container's defaults, the default image from account, Region, name and version
    let c = &d.service.containers[0];
    assert_eq!(c.name, "default");
    assert_eq!(c.image, "123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop-web:1.4.2");
    assert_eq!((c.cpu, c.memory, c.memory_reservation), (128, 128, None));
    assert_eq!(c.port_mappings, vec![PortMapping { container_port: 8080, host_port: 0, protocol: "tcp".into() }]);
    assert_eq!(d.dns, Dns { ttl_seconds: 60, resolver_grace_seconds: 10, min_observed_percent: None });
    assert!(!d.remove_old);
    assert!(d.ignored.is_empty());
}

#[test]
fn the_full_example_maps_every_key() {
    let d = DeployFile::parse("prod.deploy.yml", PROD, &ctx()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        d.plan.steps,
        vec![
            Step::Weight { weight: 10, bake_seconds: 120 },
            Step::Approval { timeout_seconds: 1800, on_timeout: OnTimeout::Rollback },
            Step::Weight { weight: 50, bake_seconds: 300 },
            Step::Weight { weight: 100, bake_seconds: 90 },
        ]
    );
    assert!(!d.final_step_added, "the strategy already ends at 100");
    assert_eq!(d.plan.hook_budget_seconds, 7200);
    assert_eq!(d.plan.post_traffic.bake_seconds, 120);
    assert_eq!(d.plan.health.interval_seconds, 15);
    assert_eq!(d.plan.health.ready_timeout_seconds, 120);
    assert_eq!(d.plan.health.alarms, vec!["shop-web-5xx".to_string()]);
    assert_eq!(d.plan.health.http[0].url, "https://shop-web.shop.example.com/health");
    assert_eq!(d.canary.scale, Scale { wait_seconds: 120, desired: 3 });
    assert_eq!(d.dns, Dns { ttl_seconds: 60, resolver_grace_seconds: 30, min_observed_percent: Some(80) });
    // The plan carries it to validate-health's bake gate.
    assert_eq!(d.plan.dns, Some(crate::plan::DnsPlan { min_observed_percent: Some(80) }));
    assert!(d.remove_old);

    let s = &d.service;
    assert_eq!((s.project.as_str(), s.name.as_str(), s.cluster.as_str()), ("shop", "shop-web", "shop-eu-west-1"));
    assert_eq!(s.fqdn, "shop-web.shop.example.com");
    assert_eq!(s.scheduling_strategy.as_deref(), Some("REPLICA"));
    assert_eq!(s.platform_version.as_deref(), Some("LATEST"));
    assert_eq!(
        s.placement_constraints,
        vec![PlacementConstraint {
            kind: "memberOf".into(),
            expression: Some("attribute:ecs.availability-zone in [eu-west-1a, eu-west-1b]".into()),
        }]
    );
    assert_eq!(s.placement_strategies[0].field.as_deref(), Some("attribute:ecs.availability-zone"));
    let web = &s.containers[0];
    assert_eq!(web.image, "123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop-web:2.0.1");
    assert_eq!((web.cpu, web.memory, web.memory_reservation), (256, 512, Some(256)));
    assert_eq!(web.entry_point, vec!["/bin/web".to_string()]);
    assert_eq!(
        web.environment,
        vec![("SERVICE_VERSION".to_string(), "2.0.1".to_string()), ("PORT".to_string(), "8080".to_string())]
    );
    assert_eq!(web.command, vec!["--listen", ":8080", "--public-name", "shop-web.shop.example.com"]);
    assert_eq!(web.dns_search_domains, vec!["eu-west-1.compute.internal".to_string()]);
    assert_eq!(web.disable_networking, Some(false));
    assert_eq!(web.dns_servers, vec!["10.0.0.2".to_string()]);
    let router = &s.containers[1];
    assert_eq!(router.image, "public.ecr.aws/aws-observability/aws-for-fluent-bit:stable");
    assert_eq!((router.cpu, router.memory), (64, 128));
}

#[test]
fn an_approval_after_weight_0_waits_before_the_first_shift() {
    let text = PROD.replace("after_weight: 10", "after_weight: 0");
    let d = DeployFile::parse("prod.deploy.yml", &text, &ctx()).unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(d.plan.steps[0], Step::Approval { .. }), "{:?}", d.plan.steps);
    assert_eq!(d.plan.steps[1], Step::Weight { weight: 10, bake_seconds: 120 });
}

/// (replace this, with that, the key named, where: (needle, occurrence, column offset), message fragment)
type Case = (&'static str, &'static str, &'static str, (&'static str, usize, usize), &'static str);

#[test]
fn each_bad_file_gets_its_key_line_and_column() {
    let cases: &[Case] = &[
        // typos: unknown keys, named with the key's own position
        ("  group: private", "  gruop: private", "canary.gruop", ("gruop", 0, 0), "unknown field `gruop`"),
        ("    - weight: 10\n", "    - wieght: 10\n", "canary.strategy[0].wieght", ("wieght", 0, 0), "unknown field"),
        ("      cpu: 256", "      cpus: 256", "service.containers[0].cpus", ("cpus", 0, 0), "unknown field"),
        ("hookline:\n", "hooklin:\n", "hooklin", ("hooklin:\n", 0, 0), "unknown field `hooklin`"),
        ("    interval: 15s", "    intervall: 15s", "hookline.health.intervall", ("intervall", 0, 0), "unknown field"),
        ("  remove_old: true", "  remove_olds: true", "hookline.remove_olds", ("remove_olds", 0, 0), "unknown field"),
        // a missing required key: named, at the mapping it belongs in
        (
            "  cluster: \"{{project}}-{{region}}\"\n",
            "",
            "service.cluster",
            ("project", 0, 0),
            "missing field `cluster`",
        ),
        // wrong types
        ("    - weight: 10\n", "    - weight: ten\n", "canary.strategy[0].weight", ("ten", 0, 0), "expected i64"),
        ("  version: \"2.0.1\"", "  version: 2.10", "service.version", ("2.10", 0, 0), "quote it"),
        (
            "      wait: 120\n    - weight: 50",
            "      wait: -5\n    - weight: 50",
            "canary.strategy[0].wait",
            ("-5", 0, 0),
            "expected u64",
        ),
        // meaning: weights, bakes, scale
        (
            "    - weight: 50\n",
            "    - weight: 5\n",
            "canary.strategy[1].weight",
            ("weight: 5\n", 0, 8),
            "weights must increase",
        ),
        ("    - weight: 100\n", "    - weight: 150\n", "canary.strategy[2].weight", ("150", 0, 0), "from 1 to 100"),
        ("      wait: 300", "      wait: 60", "canary.strategy[1].wait", ("wait: 60", 0, 6), "at least 90"),
        ("    desired: 3", "    desired: 0", "canary.scale.desired", ("desired: 0", 0, 9), "from 1"),
        ("    green: green", "    green: blue", "canary.releases.green", ("green: blue", 0, 7), "other than blue's"),
        // a release's own placement (canary.releases.<name> as a mapping)
        (
            "    green: green",
            "    green:\n      region: eu-west-one",
            "canary.releases.green.region",
            ("eu-west-one", 0, 0),
            "an AWS Region code like eu-west-1, got \"eu-west-one\"",
        ),
        (
            "    green: green",
            "    green:\n      region: EU-WEST-1",
            "canary.releases.green.region",
            ("EU-WEST-1", 0, 0),
            "an AWS Region code",
        ),
        (
            "    green: green",
            "    green:\n      role_arn: \"arn:aws:iam::{{account_id}}:user/deployer\"",
            "canary.releases.green.role_arn",
            ("\"arn:aws:iam::{{account_id}}:user", 0, 0),
            "an IAM role ARN (arn:aws:iam::<12-digit account id>:role/<name>), got \"arn:aws:iam::123456789012:user/deployer\"",
        ),
        (
            "    green: green",
            "    green:\n      role_arn: arn:aws:iam::1234:role/hookline-release",
            "canary.releases.green.role_arn",
            ("arn:aws:iam::1234", 0, 0),
            "an IAM role ARN",
        ),
        (
            "    green: green",
            "    green:\n      regoin: eu-west-1",
            "canary.releases.green.regoin",
            ("regoin", 0, 0),
            "unknown field `regoin`, expected one of `tag`, `region`, `cluster`, `role_arn`",
        ),
        (
            "    green: green",
            "    green:\n      cluster: \"shop eu\"",
            "canary.releases.green.cluster",
            ("\"shop eu\"", 0, 0),
            "an ECS cluster name",
        ),
        (
            "    green: green",
            "    green:\n      tag: blue",
            "canary.releases.green.tag",
            ("blue\n  scale", 0, 0),
            "other than blue's",
        ),
        // DNS
        ("    ttl: 60s", "    ttl: 30s", "hookline.dns.ttl", ("30s", 0, 0), "at least 60s"),
        (
            "    resolver_grace: 30s",
            "    resolver_grace: soon",
            "hookline.dns.resolver_grace",
            ("soon", 0, 0),
            "a duration",
        ),
        (
            "    min_observed_percent: 80",
            "    min_observed_percent: 120",
            "hookline.dns.min_observed_percent",
            ("percent: 120", 0, 9),
            "from 1 to 100",
        ),
        // templates
        ("  fqdn: \"{{name}}", "  fqdn: \"{{nmae}}", "service.fqdn", ("\"{{nmae}}", 0, 0), "got {{nmae}}"),
        ("  project: shop", "  project: \"{{name}}\"", "service.project", ("\"{{name}}\"", 0, 0), "not available here"),
        (
            "\"{{version}}\"",
            "\"{{version}\"",
            "service.containers[0].environment[0].value",
            ("\"{{version}\"", 0, 0),
            "unclosed",
        ),
        (
            "\"https://{{fqdn}}/health\"",
            "\"https://{{fdqn}}/health\"",
            "hookline.health.http[0].url",
            ("\"https://", 0, 0),
            "{{fdqn}}",
        ),
        // the service and its containers
        (
            "      memory_reservation: 256",
            "      memory_reservation: 512",
            "service.containers[0].memory_reservation",
            ("512\n      port", 0, 0),
            "less than memory",
        ),
        (
            "          protocol: tcp",
            "          protocol: sctp",
            "service.containers[0].port_mappings[0].protocol",
            ("sctp", 0, 0),
            "tcp or udp",
        ),
        (
            "        - container_port: 8080",
            "        - container_port: 70000",
            "service.containers[0].port_mappings[0].container_port",
            ("70000", 0, 0),
            "from 1 to 65535",
        ),
        (
            "    - name: log-router",
            "    - name: web",
            "service.containers[1].name",
            ("name: web", 1, 6),
            "no other container has",
        ),
        (
            "  name: \"{{project}}-web\"",
            "  name: \"{{project}} web\"",
            "service.name",
            ("\"{{project}} web\"", 0, 0),
            "an ECS service name",
        ),
        (
            "  scheduling_strategy: REPLICA",
            "  scheduling_strategy: replica",
            "service.scheduling_strategy",
            ("replica", 0, 0),
            "REPLICA or DAEMON",
        ),
        (
            "    - type: spread",
            "    - type: spreads",
            "service.placement_strategies[0].type",
            ("spreads", 0, 0),
            "random, spread or binpack",
        ),
        // hookline's plan keys
        (
            "    - after_weight: 10",
            "    - after_weight: 30",
            "hookline.approvals[0].after_weight",
            ("30\n", 0, 0),
            "(10, 50, 100), got 30",
        ),
        ("      timeout: 30m\n", "", "hookline.approvals[0].timeout", ("after_weight", 0, 0), "a duration like"),
        (
            "      on_timeout: rollback",
            "      on_timeout: maybe",
            "hookline.approvals[0].on_timeout",
            ("maybe", 0, 0),
            "unknown variant `maybe`",
        ),
        ("  hook_budget: 2h", "  hook_budget: 20m", "hookline.hook_budget", ("20m", 0, 0), "worst case"),
        (
            "    interval: 15s",
            "    interval: 15s\n    ready_timeout: 5m",
            "hookline.health.ready_timeout",
            ("ready_timeout", 0, 0),
            "absent when canary.scale.wait",
        ),
    ];
    for (from, to, key, (needle, nth, offset), fragment) in cases {
        assert!(PROD.contains(from), "{from:?} is not in the fixture");
        let text = PROD.replacen(from, to, 1);
        let p = problem_at(&text, key);
        let at = pos(&text, needle, *nth);
        let want = Location { line: at.line, column: at.column + offset };
        assert_eq!(p.location, Some(want), "{key}: {p}");
        assert!(p.expected.contains(fragment), "{key}: {p}");
        assert!(p.to_string().starts_with(&format!("prod.deploy.yml:{}:{}: {key}: ", want.line, want.column)), "{p}");
    }
}

#[test]
fn every_problem_of_meaning_is_reported_at_once_in_file_order() {
    let text = PROD
        .replace("    - weight: 100\n      wait: 90", "    - weight: 100\n      wait: 30")
        .replace("  project: shop", "  project: \"{{region}}-{{fqdn}}\"")
        .replace("    ttl: 60s", "    ttl: 5s");
    let keys: Vec<String> = problems(&text).into_iter().map(|p| p.key).collect();
    assert_eq!(keys, vec!["canary.strategy[2].wait", "service.project", "hookline.dns.ttl"]);
}

#[test]
fn text_that_is_not_yaml_names_its_position() {
    let all = problems("canary:\n  group: [private\nservice: {}\n");
    assert_eq!(all.len(), 1);
    assert!(all[0].location.is_some(), "{:?}", all[0]);
    assert!(all[0].to_string().starts_with("prod.deploy.yml:"), "{}", all[0]);
}

#[test]
fn keys_the_format_lists_without_a_definition_are_read_and_noted() {
    let text = PROD.replace("  version: \"2.0.1\"\n", "  version: \"2.0.1\"\n  policies: []\n")
        + "target_group: {}\nlistener:\n";
    let d = DeployFile::parse("prod.deploy.yml", &text, &ctx()).unwrap_or_else(|e| panic!("{e}"));
    let noted: Vec<(&str, Option<Location>)> = d.ignored.iter().map(|n| (n.key.as_str(), n.location)).collect();
    assert_eq!(
        noted,
        vec![
            ("service.policies", Some(pos(&text, "policies", 0))),
            ("target_group", Some(pos(&text, "target_group", 0))),
            ("listener", Some(pos(&text, "listener", 0))),
        ]
    );
    assert!(d.ignored[0].to_string().contains("hookline ignores it"));
}

#[test]
fn the_environment_names_the_file() {
    assert_eq!(file_name("prod").as_deref(), Ok("prod.deploy.yml"));
    assert_eq!(file_name("pre-prod_2").as_deref(), Ok("pre-prod_2.deploy.yml"));
    for bad in ["", "../prod", "prod/x", "a b"] {
        assert!(file_name(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn green_percent_becomes_two_record_weights() {
    assert_eq!(record_weights(0), RecordWeights { blue: 100, green: 0 });
    assert_eq!(record_weights(10), RecordWeights { blue: 90, green: 10 });
    assert_eq!(record_weights(100), RecordWeights { blue: 0, green: 100 });
    assert_eq!(record_weights(200), RecordWeights { blue: 0, green: 100 });
}

#[test]
fn file_errors_are_invalid_input_naming_the_key() {
    let err: crate::Error = DeployFileErrors(problems(SEED)).into();
    assert_eq!(err.error_type(), "InvalidInput");
    assert!(err.to_string().contains("canary.strategy[1].wait"), "{err}");
}

#[test]
fn odd_texts_are_errors_naming_the_file_never_panics() {
    let texts = [
        "",
        "---\n",
        "[]\n",
        "canary: 5\n",
        "a: 1\n---\nb: 2\n",
        "canary:\n  strategy:\n    - weight: 99999999999999999999\n",
        "canary: &a\n  group: *a\n",
        "{{name}}: x\n",
    ];
    for text in texts {
        let all = problems(text);
        assert!(!all.is_empty(), "{text:?}");
        for p in &all {
            assert!(p.to_string().starts_with("prod.deploy.yml:"), "{text:?}: {p}");
            assert!(!p.key.is_empty(), "{text:?}: {p}");
        }
    }
}

const ANALYSIS: &str = "
  analysis:
    min_samples: 2
    metrics:
      - name: checkout-latency
        namespace: Shop
        metric: CheckoutLatency
        statistic: Average
        dimensions: {Service: \"{{name}}\"}
        version_dimension: Version
        blue: v1
        green: \"{{version}}\"
        period: 30s
        direction: increase
        tolerance: 0.5
";

#[test]
fn the_judge_section_is_the_plans_with_templates_rendered() {
    let text = PROD.replace("  hook_budget: 2h\n", &format!("  hook_budget: 2h\n{}", &ANALYSIS[1..]));
    let d = DeployFile::parse("prod.deploy.yml", &text, &ctx()).unwrap_or_else(|e| panic!("{e}"));
    let a = d.plan.analysis.expect("analysis");
    assert_eq!(a.min_samples, 2);
    let json = serde_json::to_value(&a.metrics[0]).expect("metric as JSON");
    assert_eq!(json["source"]["dimensions"]["Service"], "shop-web", "{json}");
    assert_eq!(json["source"]["green"], "2.0.1", "{json}");
}

#[test]
fn the_judges_problems_name_the_files_keys() {
    let with = |analysis: &str| PROD.replace("  hook_budget: 2h\n", &format!("  hook_budget: 2h\n{}", &analysis[1..]));
    // a typo inside the plan's own section: the plan's parser finds it, the file's key is named
    let text = with(&ANALYSIS.replace("        statistic: Average", "        statistik: Average"));
    let p = problem_at(&text, "hookline.analysis.metrics[0].statistik");
    assert_eq!(p.location, Some(pos(&text, "statistik", 0)));
    // a bake too short for the judge's samples is the strategy step's wait
    let text = with(&ANALYSIS.replace("min_samples: 2", "min_samples: 30"));
    let p = problem_at(&text, "canary.strategy[0].wait");
    assert!(p.expected.contains("min_samples 30"), "{p}");
    assert!(p.expected.starts_with("(plan steps[0]) "), "the plan's name of the step is given: {p}");
    let at = pos(&text, "wait: 120\n    - weight: 50", 0);
    assert_eq!(p.location, Some(Location { line: at.line, column: at.column + "wait: ".len() }));
}

#[test]
fn a_weight_out_of_range_is_one_problem_at_its_key_not_also_the_ends_at_100_or_approval_ones() {
    // The last step's weight mistyped: only its range is wrong (not "must end at 100").
    let text = PROD.replace("    - weight: 100\n", "    - weight: 150\n");
    let all = problems(&text);
    assert_eq!(all.len(), 1, "{all:#?}");
    assert_eq!((all[0].key.as_str(), all[0].location), ("canary.strategy[2].weight", Some(pos(&text, "150", 0))));
    assert!(all[0].expected.contains("from 1 to 100, got 150"), "{}", all[0]);
    // The step an approval follows mistyped: the approval is placed once the weight is fixed.
    let text = PROD.replace("    - weight: 10\n", "    - weight: 150\n");
    let keys: Vec<String> = problems(&text).into_iter().map(|p| p.key).collect();
    assert!(keys.contains(&"canary.strategy[0].weight".to_string()), "{keys:?}");
    assert!(!keys.iter().any(|k| k.starts_with("hookline.approvals")), "{keys:?}");
    assert!(!keys.iter().any(|k| k == "canary.strategy"), "{keys:?}");
}

#[test]
fn a_release_may_name_its_own_region_cluster_and_role() {
    let text = PROD.replacen(
        "    green: green",
        "    green:\n      tag: green\n      region: eu-west-1\n      cluster: \"{{project}}-eu\"\n      \
         role_arn: \"arn:aws:iam::{{account_id}}:role/ops/hookline-release\"",
        1,
    );
    let d = DeployFile::parse("prod.deploy.yml", &text, &ctx()).unwrap_or_else(|e| panic!("{e}"));
    let r = &d.canary.releases;
    assert_eq!((r.blue.as_str(), r.green.as_str()), ("blue", "green"));
    assert_eq!(r.blue_at, ReleasePlacement::default(), "a tag alone places nothing");
    assert_eq!(
        r.green_at,
        ReleasePlacement {
            region: Some("eu-west-1".into()),
            cluster: Some("shop-eu".into()),
            role_arn: Some("arn:aws:iam::123456789012:role/ops/hookline-release".into()),
        }
    );
    assert_eq!(r.placement_of("green"), Some(&r.green_at));
    // The tag defaults to the release's name in the file.
    let text = PROD.replacen("    blue: blue", "    blue:\n      region: us-east-1", 1);
    let d = DeployFile::parse("prod.deploy.yml", &text, &ctx()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(d.canary.releases.blue, "blue");
    assert_eq!(d.canary.releases.blue_at.region.as_deref(), Some("us-east-1"));
}
