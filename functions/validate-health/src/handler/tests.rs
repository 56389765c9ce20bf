//! validate-health's gates over the in-memory fakes of its ports (FakeLifecycle's statuses,
//! FakeHealth's facts and probe answers, FakeMetrics' samples). Two tests stay wire-level, for
//! what they check of the adapters through the gate: CodeDeploy's status words as the deployment
//! gate answers them, and the SDK's retries of CloudWatch's DescribeAlarms; the probes' HTTP is
//! the HealthGate adapter's own test (hookline's health/gate.rs).

use aws_sdk_cloudwatch::operation::describe_alarms::DescribeAlarmsOutput;
use aws_sdk_cloudwatch::types::{MetricAlarm, StateValue};
use aws_sdk_ecs::operation::describe_task_sets::DescribeTaskSetsOutput;
use aws_sdk_ecs::types::{StabilityStatus, TaskSet};
use aws_sdk_elasticloadbalancingv2::operation::describe_target_health::DescribeTargetHealthOutput;
use aws_sdk_elasticloadbalancingv2::types::{TargetHealth, TargetHealthDescription, TargetHealthStateEnum};
use aws_smithy_mocks::{mock, Rule};
use hookline::testing::{context, deployment, mocked_clients, plan, state, throttling_cbor, GREEN_TG};
use serde_json::json;

use std::sync::Arc;

use hookline::health::TargetFacts;
use hookline::lifecycle::DeploymentStatus;
use hookline::testing::{denied, FakeHealth, FakeLifecycle, FakeMetrics, HealthCall};

use super::*;

/// The handler over the AWS adapters of `clients` (aws-smithy-mocks answer their calls).
async fn handle(clients: &hookline::Clients, event: Value) -> Result<Output> {
    super::handle(&Deps::new(clients), event).await
}

fn status(status: &'static str) -> Rule {
    mock!(aws_sdk_codedeploy::Client::get_deployment).then_output(move || deployment(status))
}

/// Green's task set, steady with two tasks desired.
fn task_set() -> Rule {
    mock!(aws_sdk_ecs::Client::describe_task_sets)
        .match_requests(|r| r.task_sets() == ["ts-green"] && r.cluster() == Some("demo"))
        .then_output(|| {
            DescribeTaskSetsOutput::builder()
                .task_sets(
                    TaskSet::builder()
                        .id("ts-green")
                        .computed_desired_count(2)
                        .stability_status(StabilityStatus::SteadyState)
                        .build(),
                )
                .build()
        })
}

/// Green's target group with `healthy` of two targets healthy.
fn targets(healthy: usize) -> Rule {
    mock!(aws_sdk_elasticloadbalancingv2::Client::describe_target_health)
        .match_requests(|r| r.target_group_arn() == Some(GREEN_TG))
        .then_output(move || targets_output(healthy))
}

fn targets_output(healthy: usize) -> DescribeTargetHealthOutput {
    let target = |state: TargetHealthStateEnum| {
        TargetHealthDescription::builder().target_health(TargetHealth::builder().state(state).build()).build()
    };
    let states =
        (0..2).map(|i| if i < healthy { TargetHealthStateEnum::Healthy } else { TargetHealthStateEnum::Unhealthy });
    DescribeTargetHealthOutput::builder().set_target_health_descriptions(Some(states.map(target).collect())).build()
}

fn alarms_output(state: StateValue) -> DescribeAlarmsOutput {
    DescribeAlarmsOutput::builder()
        .metric_alarms(MetricAlarm::builder().alarm_name("web-5xx").state_value(state).build())
        .build()
}

/// A `gate` event whose execution started `ago` seconds before now.
fn gate_event(gate: &str, ago: i64, bake_until_in: Option<i64>) -> Value {
    let mut s = state(10, ago);
    s.bake_until = bake_until_in.map(|d| hookline::execution::now_epoch() + d);
    json!({"gate": gate, "context": context(), "plan": plan(), "state": s})
}

fn health(out: Output) -> (bool, bool, u64, Vec<hookline::health::Check>) {
    match out {
        Output::Health { healthy, done, wait_seconds, checks, .. } => (healthy, done, wait_seconds, checks),
        other => panic!("expected a health answer, got {other:?}"),
    }
}

/// The handler over the in-memory fakes: the deployment answering `statuses`, green's facts from
/// `facts`, no metrics.
async fn handle_fakes(statuses: &[DeploymentStatus], facts: &Arc<FakeHealth>, event: Value) -> Result<Output> {
    handle_judged(statuses, facts, &Arc::new(FakeMetrics::default()), event).await
}

/// [`handle_fakes`] with the judge's samples from `metrics`.
async fn handle_judged(
    statuses: &[DeploymentStatus],
    facts: &Arc<FakeHealth>,
    metrics: &Arc<FakeMetrics>,
    event: Value,
) -> Result<Output> {
    let deps = Deps {
        lifecycle: Arc::new(FakeLifecycle::with_statuses(statuses.to_vec())),
        health: facts.clone(),
        metrics: metrics.clone(),
    };
    super::handle(&deps, event).await
}

const ACTIVE: &[DeploymentStatus] = &[DeploymentStatus::Active];

/// Green steady with two tasks, `healthy` of two targets healthy, the plan's alarm `web-5xx` in `alarm`.
fn green(healthy: usize, alarm: &str) -> Arc<FakeHealth> {
    let facts = FakeHealth::healthy(&[]).targets(GREEN_TG, TargetFacts { healthy, registered: 2 });
    facts.set_alarm("web-5xx", alarm);
    Arc::new(facts)
}

const EVERY_READ: [HealthCall; 3] = [HealthCall::TaskSet, HealthCall::Targets, HealthCall::Alarms];

#[tokio::test]
async fn ready_gate_passes_when_green_is_healthy() {
    let facts = green(2, "OK");

    let out = handle_fakes(ACTIVE, &facts, gate_event("ready", 30, None)).await.expect("gate");

    let (healthy, done, wait, checks) = health(out);
    assert_eq!((healthy, done, wait), (true, true, 0));
    let names: Vec<&str> = checks.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["task set ts-green", "targets web-green", "alarm web-5xx"]);
    assert_eq!(facts.reads(), EVERY_READ, "one read each");
}

#[tokio::test]
async fn ready_gate_waits_while_green_is_unhealthy_within_the_ready_timeout() {
    let out = handle_fakes(ACTIVE, &green(1, "OK"), gate_event("ready", 30, None)).await.expect("not yet a failure");

    let (healthy, done, wait, checks) = health(out);
    assert_eq!((healthy, done, wait), (false, false, 10), "wait one health interval (10s)");
    assert!(checks.iter().any(|c| !c.ok && c.name == "targets web-green"), "{checks:?}");
}

#[tokio::test]
async fn ready_gate_fails_once_the_ready_timeout_passed() {
    // The default ready timeout is 5m.
    let err = handle_fakes(ACTIVE, &green(1, "OK"), gate_event("ready", 301, None)).await.unwrap_err();

    assert_eq!(err.error_type(), "HealthCheckFailed", "{err}");
    assert!(err.to_string().contains("not healthy within 5m"), "{err}");
    assert!(err.to_string().contains("targets web-green: 1 healthy of 2 desired"), "{err}");
}

#[tokio::test]
async fn bake_gate_fails_on_an_alarm_naming_it() {
    let err = handle_fakes(ACTIVE, &green(2, "ALARM"), gate_event("bake", 30, Some(100))).await.unwrap_err();

    assert_eq!(err.error_type(), "HealthCheckFailed", "{err}");
    assert!(err.to_string().contains("alarm web-5xx: state ALARM"), "{err}");
}

#[tokio::test]
async fn a_healthy_bake_waits_at_most_one_interval_until_bake_until() {
    let out = handle_fakes(ACTIVE, &green(2, "OK"), gate_event("bake", 30, Some(100))).await.expect("gate");

    let (healthy, done, wait, _) = health(out);
    assert!(healthy && !done, "healthy, still baking");
    assert!((1..=10).contains(&wait), "wait_seconds {wait} within the 10s interval");
}

#[tokio::test]
async fn a_healthy_bake_past_bake_until_is_done() {
    let out = handle_fakes(ACTIVE, &green(2, "OK"), gate_event("bake", 300, Some(-1))).await.expect("gate");

    let (healthy, done, wait, _) = health(out);
    assert_eq!((healthy, done, wait), (true, true, 0));
}

#[tokio::test]
async fn a_spent_hook_budget_fails_without_checking_health() {
    let facts = green(2, "OK");

    // The plan's default budget is 55m.
    let err = handle_fakes(ACTIVE, &facts, gate_event("bake", 55 * 60 + 1, Some(100))).await.unwrap_err();

    assert_eq!(err.error_type(), "HealthCheckFailed", "{err}");
    assert!(err.to_string().contains("hook budget"), "{err}");
    assert!(facts.reads().is_empty());
}

#[tokio::test]
async fn a_budget_beyond_the_rollback_reserve_is_capped() {
    let mut event = gate_event("bake", 3500, Some(100));
    event["plan"]["hook_budget_seconds"] = json!(3600);

    let err = handle_fakes(ACTIVE, &green(2, "OK"), event).await.unwrap_err();

    assert_eq!(err.error_type(), "HealthCheckFailed", "{err}");
    assert!(err.to_string().contains("hook budget of 55m"), "{err}");
}

#[tokio::test]
async fn a_stopped_deployment_is_deployment_stopped() {
    let facts = green(2, "OK");

    let err = handle_fakes(&[DeploymentStatus::Stopped], &facts, gate_event("bake", 30, Some(100))).await.unwrap_err();

    assert_eq!(err.error_type(), "DeploymentStopped", "{err}");
    assert!(facts.reads().is_empty());
}

#[tokio::test]
async fn a_permanent_aws_error_is_aws_permanent() {
    let facts = green(2, "OK");
    facts.fail(HealthCall::Targets, denied("DescribeTargetHealth"));

    let err = handle_fakes(ACTIVE, &facts, gate_event("ready", 30, None)).await.unwrap_err();

    assert_eq!(err.error_type(), "AwsPermanent", "{err}");
    assert!(err.to_string().contains("DescribeTargetHealth"), "{err}");
    assert_eq!(facts.reads().iter().filter(|r| **r == HealthCall::Targets).count(), 1);
}

/// Kept wire-level: the CodeDeploy adapter's status words as the deployment gate answers them.
#[tokio::test]
async fn the_deployment_gate_answers_status_and_done() {
    // CodeDeploy's words (the mock) come out as hookline's (`DeploymentStatus`): every active one is `Active`.
    for (s, word, done) in [
        ("InProgress", "Active", false),
        ("Ready", "Active", false),
        ("Succeeded", "Succeeded", true),
        ("Failed", "Failed", true),
        ("Stopped", "Stopped", true),
    ] {
        let rule = status(s);
        let out = handle(&mocked_clients(&[&rule]), json!({"gate": "deployment", "deployment_id": "d-TESTDEP01"}))
            .await
            .expect("status");
        assert_eq!(out, Output::Deployment { status: word.into(), done }, "{s}");
        assert_eq!(rule.num_calls(), 1);
    }
}

/// Kept wire-level: the SDK's retries of CloudWatch's DescribeAlarms (CBOR protocol) through the gate.
#[tokio::test(start_paused = true)]
async fn throttled_alarms_are_retried_by_the_sdk() {
    let alarms = mock!(aws_sdk_cloudwatch::Client::describe_alarms)
        .sequence()
        .http_response(throttling_cbor)
        .times(2)
        .output(|| alarms_output(StateValue::Ok))
        .build();
    let rules = [status("InProgress"), task_set(), targets(2)];
    let refs: Vec<&Rule> = rules.iter().chain([&alarms]).collect();
    let clock = tokio::time::Instant::now();

    let out = handle(&mocked_clients(&refs), gate_event("ready", 30, None)).await.expect("retried to success");

    assert!(health(out).0);
    assert_eq!(alarms.num_calls(), 3);
    assert!(clock.elapsed() > std::time::Duration::ZERO, "backoff slept on tokio's paused clock");
}

#[tokio::test]
async fn malformed_events_are_invalid_input() {
    let facts = green(2, "OK");
    let mut event = gate_event("ready", 30, None);
    event["context"]["deployment_id"] = json!(["d-1"]);
    let err = handle_fakes(ACTIVE, &facts, event).await.unwrap_err();
    assert_eq!(err.error_type(), "InvalidInput", "{err}");
    assert!(err.to_string().contains("context.deployment_id"), "{err}");

    let err = handle_fakes(ACTIVE, &facts, json!({"gate": "canary", "deployment_id": "d-1"})).await.unwrap_err();
    assert_eq!(err.error_type(), "InvalidInput", "{err}");
    assert!(err.to_string().contains("gate: unknown variant `canary`"), "{err}");
    assert!(facts.reads().is_empty(), "nothing read");
}

#[tokio::test]
async fn http_probes_judge_green_by_their_status() {
    // The probes' HTTP itself (a real server, one client built on first use) is the HealthGate
    // adapter's test: `probes_answer_the_http_status_with_one_client_built_on_first_use`.
    let base = "http://green.internal:8080";
    let facts = Arc::new(
        FakeHealth::healthy(&[]).probe(&format!("{base}/ok"), Ok(200)).probe(&format!("{base}/broken"), Ok(503)),
    );
    let mut plan = hookline::plan::Plan::from_json(&format!(
        r#"{{"steps":[{{"weight":100}}],"health":{{"interval":"10s","http":[
            {{"url":"{base}/ok"}},{{"url":"{base}/broken","expect_status":200,"timeout":"2s"}}]}}}}"#
    ))
    .expect("plan");
    let event = |plan: &hookline::plan::Plan| json!({"gate": "bake", "context": context(), "plan": plan, "state": state(100, 30)});

    let err = handle_fakes(ACTIVE, &facts, event(&plan)).await.unwrap_err();

    assert_eq!(err.error_type(), "HealthCheckFailed", "{err}");
    assert!(err.to_string().contains(&format!("http {base}/broken: status 503, expected 200")), "{err}");
    assert!(!err.to_string().contains(&format!("{base}/ok:")), "the healthy probe passed: {err}");

    plan.health.http.truncate(1);
    let out = handle_fakes(ACTIVE, &facts, event(&plan)).await.expect("healthy");
    let (healthy, _, _, checks) = health(out);
    assert!(healthy, "{checks:?}");
    assert!(checks.iter().any(|c| c.ok && c.name == format!("http {base}/ok")), "{checks:?}");
}

mod judgement {
    use hookline::judge::Outcome;

    use super::*;

    /// The plan of [`plan`] plus an analysis judging ALB latency, one critical metric.
    fn judged_plan(on_no_data: &str) -> Plan {
        Plan::from_json(&format!(
            r#"{{"steps":[{{"weight":10,"bake":"13m"}},{{"weight":100}}],
                "health":{{"interval":"10s","alarms":["web-5xx"]}},
                "analysis":{{"min_samples":10,"on_no_data":"{on_no_data}","metrics":[
                  {{"metric":"TargetResponseTime","direction":"increase","tolerance":0.1,"critical":true}}]}}}}"#
        ))
        .unwrap_or_else(|e| panic!("{e}"))
    }

    /// A bake event at step 0 (weight 10) whose bake ended a second ago.
    fn bake_over(plan: &Plan) -> Value {
        let mut s = state(10, 700);
        s.bake_until = Some(hookline::execution::now_epoch() - 1);
        json!({"gate": "bake", "context": context(), "plan": plan, "state": s})
    }

    fn latency(n: u32, scale: f64) -> Vec<f64> {
        (0..n).map(|i| (0.100 + f64::from(i) * 0.001) * scale).collect()
    }

    /// The judge's samples: blue's and green's latency (query ids `m0_blue`, `m0_green`).
    fn samples(blue: Vec<f64>, green: Vec<f64>) -> Arc<FakeMetrics> {
        Arc::new(FakeMetrics::default().with_series("m0_blue", blue).with_series("m0_green", green))
    }

    /// The gate over green healthy (its alarm `OK`) and `metrics`.
    async fn gate(metrics: &Arc<FakeMetrics>, event: Value) -> Result<Output> {
        handle_judged(ACTIVE, &green(2, "OK"), metrics, event).await
    }

    fn judged(out: Output) -> (Option<Box<StepJudgement>>, Option<Step>) {
        match out {
            Output::Health { judgement, approval, done: true, .. } => (judgement, approval),
            other => panic!("expected a finished bake, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_forty_percent_slower_green_fails_the_bake_naming_the_metric() {
        let metrics = samples(latency(10, 1.0), latency(10, 1.4));

        let err = gate(&metrics, bake_over(&judged_plan("rollback"))).await.unwrap_err();

        assert_eq!(err.error_type(), "HealthCheckFailed", "{err}");
        let msg = err.to_string();
        assert!(
            msg.contains("canary judgement at 10% failed: critical metric failed: TargetResponseTime Average High: +"),
            "{msg}"
        );
        assert!(msg.contains("(CI +") && msg.contains("p="), "{msg}");
        // The window is the step's 13m bake less ALB's 2m lag, on whole minutes: GetMetricData would
        // round an unaligned start down into the previous step, and the last 2 minutes are not
        // published yet. 10 or 11 whole minutes, depending on where the bake started.
        let windows = metrics.windows();
        assert_eq!(windows.len(), 1, "one read: {windows:?}");
        let (ids, start, end) = windows.into_iter().next().expect("one window");
        assert_eq!(ids, ["m0_blue", "m0_green"]);
        let bake_until = hookline::execution::now_epoch() - 1;
        assert_eq!((start % 60, end % 60), (0, 0), "{start}..{end}");
        assert!(end <= bake_until - 120 && end > bake_until - 182, "{end} vs {bake_until}");
        assert!(start >= bake_until - 13 * 60 - 2 && start < bake_until - 12 * 60, "{start} vs {bake_until}");
    }

    #[tokio::test]
    async fn an_unchanged_green_passes_with_the_judgement_in_the_output() {
        let metrics = samples(latency(10, 1.0), latency(10, 1.0));

        let out = gate(&metrics, bake_over(&judged_plan("rollback"))).await.expect("passes");

        let (judgement, approval) = judged(out.clone());
        let j = judgement.expect("judged");
        assert_eq!((j.judgement.outcome, j.action, j.step, j.weight), (Outcome::Pass, Action::Continue, 0, 10));
        assert_eq!(approval, None);
        assert_eq!(metrics.windows().len(), 1, "one read of the samples (one GetMetricData call)");
        let json = serde_json::to_value(&out).expect("json");
        assert_eq!(json["judgement"]["metrics"][0]["verdict"], "Pass", "{json}");
        assert_eq!(json["judgement"]["metrics"][0]["u"], 50.0, "{json}");
        assert_eq!(json["judgement"]["action"], "continue", "{json}");
        assert!(json.get("approval").is_none(), "{json}");
        // The finished bake hands on the state's judgements with this one appended (the canary
        // machine keeps them in $.state.judgements for the execution's output).
        assert_eq!(json["judgements"], serde_json::json!([json["judgement"]]), "{json}");
    }

    #[tokio::test]
    async fn too_few_samples_follow_the_plans_no_data_rule() {
        let few = || samples(latency(3, 1.0), latency(3, 1.0));
        // rollback (the default)
        let err = gate(&few(), bake_over(&judged_plan("rollback"))).await.unwrap_err();
        assert_eq!(err.error_type(), "HealthCheckFailed", "{err}");
        assert!(err.to_string().contains("no data: rolled back (analysis.on_no_data: rollback)"), "{err}");

        // pass: only because the plan says so, and the output says so
        let out = gate(&few(), bake_over(&judged_plan("pass"))).await.expect("passes by rule");
        let j = judged(out).0.expect("judged");
        assert_eq!((j.judgement.outcome, j.action), (Outcome::NoData, Action::Continue));
        assert!(j.note.as_deref().is_some_and(|n| n.contains("NOT judged")), "{j:?}");

        // approval: the approval step the canary runs next, within the hook budget
        let out = gate(&few(), bake_over(&judged_plan("approval"))).await.expect("asks");
        let (j, approval) = judged(out);
        assert_eq!(j.map(|j| j.action), Some(Action::Approval));
        match approval {
            // 55m budget started 700 s ago
            Some(Step::Approval { timeout_seconds, on_timeout: OnTimeout::Rollback }) => {
                assert!((55 * 60 - 702..=55 * 60 - 700).contains(&timeout_seconds), "{timeout_seconds}")
            }
            other => panic!("expected an approval step, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_bake_still_running_or_a_plan_without_analysis_reads_no_metrics() {
        let metrics = samples(latency(10, 1.0), latency(10, 2.0));
        let mut running = bake_over(&judged_plan("rollback"));
        running["state"]["bake_until"] = json!(hookline::execution::now_epoch() + 100);
        let out = gate(&metrics, running).await.expect("still baking");
        assert_eq!(judged_or_none(out), None);
        let out = gate(&metrics, bake_over(&plan())).await.expect("no analysis");
        assert_eq!(judged_or_none(out), None);
        assert!(metrics.windows().is_empty(), "no read of the samples (no GetMetricData call)");
    }

    fn judged_or_none(out: Output) -> Option<Outcome> {
        match out {
            Output::Health { judgement, .. } => judgement.map(|j| j.judgement.outcome),
            other => panic!("{other:?}"),
        }
    }
}

/// The bake gate of an ECS-native deployment whose execution started `ago` seconds ago with `budget`.
fn ecs_bake_event(ago: i64, budget: u64) -> Value {
    let mut event = gate_event("bake", ago, Some(100));
    event["context"]["deployment_id"] = json!(hookline::lifecycle::ecs::mocks::DEPLOYMENT);
    event["plan"]["hook_budget_seconds"] = json!(budget);
    event
}

#[tokio::test]
async fn an_ecs_native_budget_runs_for_hours_within_ecs_hook_timeout() {
    // Two hours into a four-hour budget: CodeDeploy's hour would have ended it, ECS's 24 h does not.
    let out = handle_fakes(ACTIVE, &green(2, "OK"), ecs_bake_event(2 * 3600, 4 * 3600)).await.expect("gate");
    assert!(health(out).0, "healthy");

    // Still capped: the reserve is kept inside ECS's 24 hours.
    let facts = green(2, "OK");
    let err = handle_fakes(ACTIVE, &facts, ecs_bake_event(24 * 3600 - 299, 24 * 3600)).await.unwrap_err();
    assert_eq!(err.error_type(), "HealthCheckFailed", "{err}");
    assert!(err.to_string().contains("hook budget"), "{err}");
    assert!(facts.reads().is_empty(), "a spent budget reads nothing");
}

/// hookline's own Route 53 controller: green is a whole service (no task set), and the ready gate
/// waits for it to be stable (the `services_stable` rule) with its targets healthy, up to
/// `health.ready_timeout` (the file's `canary.scale.wait`), then fails naming the service.
#[tokio::test]
async fn the_ready_gate_waits_for_greens_own_service_to_be_stable_and_healthy() {
    use hookline::dns::ServiceFacts;
    let mut ctx = hookline::testing::dns_context();
    ctx.green.service = Some(hookline::execution::ServiceRef {
        cluster: "shop".into(),
        service: "shop-web-green".into(),
        region: None,
        role_arn: None,
    });
    ctx.green.task_set_arn = None;
    let facts = Arc::new(FakeHealth::default().targets(GREEN_TG, TargetFacts { healthy: 1, registered: 1 }));
    let settling = ServiceFacts { desired: 2, running: 1, task_definition: None, deployments: 1, active: true };
    facts.set_service("shop", "shop-web-green", settling.clone());
    let event = |ago: i64| json!({"gate": "ready", "context": ctx, "plan": plan(), "state": state(0, ago)});

    // Inside the ready timeout: not yet, check again.
    let out = handle_fakes(ACTIVE, &facts, event(10)).await.expect("waits");
    let Output::Health { healthy, done, checks, .. } = out else { panic!("health output") };
    assert!(!healthy && !done);
    assert!(
        checks.iter().any(|c| c.name == "service shop-web-green" && !c.ok && c.reason.contains("1 of 2")),
        "{checks:?}"
    );
    assert!(facts.reads().contains(&HealthCall::Service));

    // Past it: failed, naming the service.
    let past = i64::try_from(plan().health.ready_timeout_seconds).unwrap() + 5;
    let err = handle_fakes(ACTIVE, &facts, event(past)).await.unwrap_err().to_string();
    assert!(err.contains("service shop-web-green") && err.contains("green not healthy within"), "{err}");

    // Stable, and as many healthy targets as desired tasks: ready.
    facts.set_service("shop", "shop-web-green", ServiceFacts { running: 2, ..settling });
    let facts2 =
        Arc::new(FakeHealth::healthy(&["web-5xx"]).targets(GREEN_TG, TargetFacts { healthy: 2, registered: 2 }));
    facts2.set_service(
        "shop",
        "shop-web-green",
        ServiceFacts { running: 2, desired: 2, task_definition: None, deployments: 1, active: true },
    );
    let out = handle_fakes(ACTIVE, &facts2, event(10)).await.expect("ready");
    assert!(matches!(out, Output::Health { healthy: true, done: true, .. }), "{out:?}");
}

/// hookline's own Route 53 controller: every bake check reports green's observed share of the two
/// load balancers' requests next to the set weight, and with `dns.min_observed_percent` a bake
/// whose time is up does not end before the share reached that percent of the weight.
#[tokio::test]
async fn a_dns_bake_reports_the_observed_split_and_waits_for_the_plans_minimum() {
    use hookline::plan::Controller;
    let plan = Plan::from_json_for(
        r#"{"steps":[{"weight":50,"bake":"1m"},{"weight":100}],"health":{"interval":"10s"},"dns":{"min_observed_percent":80}}"#,
        Controller::Route53,
    )
    .expect("plan");
    let mut s = state(50, 120);
    s.bake_until = Some(hookline::execution::now_epoch() - 1);
    let event = json!({"gate": "bake", "context": hookline::testing::dns_context(), "plan": plan, "state": s});
    let run = |blue: f64, green: f64| {
        let event = event.clone();
        async move {
            let deps = Deps {
                lifecycle: Arc::new(FakeLifecycle::with_statuses(vec![DeploymentStatus::Active])),
                health: Arc::new(FakeHealth::healthy(&[])),
                metrics: Arc::new(
                    FakeMetrics::default()
                        .with_series("requests_blue", vec![blue])
                        .with_series("requests_green", vec![green]),
                ),
            };
            super::handle(&deps, event).await
        }
    };
    // Resolvers still cache blue: 20% observed of 50% set, the plan wants 80% of it (40%).
    let lagging = run(80.0, 20.0).await.expect("healthy");
    let Output::Health { done, wait_seconds, observed, .. } = lagging else { panic!("health output") };
    assert!(!done, "the bake's time is up but the observed share is short");
    assert_eq!(wait_seconds, 10);
    let observed = observed.expect("reported");
    assert_eq!((observed.set_weight, observed.green_percent), (50, Some(20.0)));
    // Converged: done, and still reported.
    let converged = run(55.0, 45.0).await.expect("healthy");
    let Output::Health { done, observed, .. } = converged else { panic!("health output") };
    assert!(done);
    assert_eq!(observed.and_then(|o| o.green_percent), Some(45.0));
    // The output carries it for status, watch and history.
    let json = serde_json::to_value(run(55.0, 45.0).await.expect("healthy")).expect("json");
    assert_eq!(json["observed"]["set_weight"], 50);
}

/// Gate mode (ECS LINEAR / CANARY): the ready gate of a gate past ECS's first step waits until the
/// step's window holds what the judge needs, then judges it; a slower green fails the gate.
#[tokio::test]
async fn a_gate_waits_for_its_steps_window_then_judges_it() {
    let mut plan = Plan::parse_for(
        "mode: gate\nsteps: []\nhealth: {interval: 2s, alarms: [web-5xx]}\nanalysis: {min_samples: 5, metrics: \
         [{metric: TargetResponseTime, direction: increase, tolerance: 0.1, critical: true, period: 1m, lag: 0s}]}\n",
        hookline::plan::Controller::Ecs,
    )
    .expect("gate plan")
    .at_gate(25);
    let now = hookline::execution::now_epoch();
    let event = |plan: &Plan| json!({"gate": "ready", "context": context(), "plan": plan, "state": state(25, 1)});
    let judge_of = |metrics: FakeMetrics| Deps {
        lifecycle: Arc::new(FakeLifecycle::with_statuses(vec![DeploymentStatus::Active])),
        health: green(2, "OK"),
        metrics: Arc::new(metrics),
    };

    // ECS took the step 10 s ago: the window (5 whole minutes) is not there yet.
    plan.gate.as_mut().expect("gate").step_started_at = Some(now - 10);
    let metrics = FakeMetrics::default();
    let out = super::handle(&judge_of(metrics), event(&plan)).await.expect("waits");
    let (healthy, done, wait, _) = health(out);
    assert!(!healthy && !done && (1..=2).contains(&wait), "waits at most an interval, re-checking health");

    // 10 minutes ago: judged over the window; green 40 % slower fails the gate naming the metric.
    plan.gate.as_mut().expect("gate").step_started_at = Some(now - 600);
    let slower = FakeMetrics::default()
        .with_series("m0_blue", (0..8).map(|i| 0.100 + f64::from(i) * 0.001).collect())
        .with_series("m0_green", (0..8).map(|i| (0.100 + f64::from(i) * 0.001) * 1.4).collect());
    let deps = judge_of(slower);
    let err = super::handle(&deps, event(&plan)).await.expect_err("judged");
    assert_eq!(err.error_type(), "HealthCheckFailed");
    assert!(err.to_string().contains("canary judgement at 25% failed"), "{err}");

    // An unchanged green passes with the judgement in the output.
    let same = FakeMetrics::default()
        .with_series("m0_blue", (0..8).map(|i| 0.100 + f64::from(i) * 0.001).collect())
        .with_series("m0_green", (0..8).map(|i| 0.100 + f64::from(i) * 0.001).collect());
    let metrics = Arc::new(same);
    let deps = Deps { metrics: metrics.clone(), ..judge_of(FakeMetrics::default()) };
    match super::handle(&deps, event(&plan)).await.expect("passes") {
        Output::Health { healthy: true, done: true, judgement: Some(j), judgements: Some(all), .. } => {
            assert_eq!((j.weight, all.len()), (25, 1));
        }
        other => panic!("{other:?}"),
    }
    let (_, start, _) = metrics.windows()[0].clone();
    assert!(start >= now - 600 && start < now - 540, "the window starts at ECS's step, on a period boundary");
}
