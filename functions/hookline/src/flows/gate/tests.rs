//! Gate mode's flow on the in-memory fakes.

use std::sync::Arc;

use super::*;
use crate::execution::mocks::machines;
use crate::flows::hook_start::HookDeps;
use crate::lifecycle::Resolved;
use crate::plan::gate::ServiceSteps;
use crate::testing::{context, FakeExecutions, FakeLifecycle, FakePlanStore, FakeRouters, DEPLOYMENT};
use crate::traffic::Weights;

const PLAN: &str = "mode: gate\nsteps:\n  - approval: {timeout: 5m, after_weight: 25}\nhealth: {interval: 7s}\n";

fn linear() -> ServiceSteps {
    ServiceSteps {
        strategy: "LINEAR".into(),
        percent_tenths: Some(250),
        pre_production_hook_timeouts_minutes: Some(vec![60]),
    }
}

/// The demo deployment under `admission`, production at `green`% green, the plan `plan`.
fn world(admission: Admission, green: u8, plan: &str) -> (HookDeps, Arc<FakeExecutions>, Arc<FakeRouters>) {
    let resolved = Resolved {
        context: context(),
        in_progress_event: Some("PRODUCTION_TRAFFIC_SHIFT".into()),
        in_progress_hook: None,
        in_progress_started_at: None,
        hook_expires_at: None,
    };
    let executions = Arc::new(FakeExecutions::default());
    let routers = Arc::new(FakeRouters::with_weights(Weights::green(green)));
    let ctx = context();
    let parameter = plan_parameter("/hookline", &ctx.application, &ctx.deployment_group);
    let deps = HookDeps {
        lifecycle: Arc::new(FakeLifecycle::default().resolving(resolved).admitting(admission)),
        executions: executions.clone(),
        plans: Arc::new(FakePlanStore::default().with(&parameter, plan)),
        routers: routers.clone(),
        state_machines: machines(),
        plan_parameter_prefix: "/hookline".into(),
    };
    (deps, executions, routers)
}

#[tokio::test]
async fn each_step_gets_its_own_gate_execution_named_after_the_weight_ecs_reached() {
    let (deps, executions, routers) = world(Admission::Gate(linear()), 25, PLAN);

    let started = gate_hook(&deps, DEPLOYMENT, "ecs-1").await.expect("gate");

    let GateStart::Execution(gate) = started else { panic!("{started:?}") };
    assert!(gate.started_now && gate.weight == 25 && gate.health_interval_seconds == Some(7), "{gate:?}");
    let starts = executions.starts();
    assert_eq!(starts.len(), 1, "{starts:?}");
    assert_eq!(starts[0].0, machines().canary);
    assert_eq!(starts[0].1, "d-TESTDEP01-Gate25");
    let doc: ExecutionDocument = serde_json::from_str(&starts[0].2).expect("document");
    assert_eq!(doc.state.weight, 25);
    assert_eq!(doc.plan.step_count, 1, "the approval asked at 25%");
    assert_eq!(doc.plan.health.ready_timeout_seconds, 0, "past the first step: one check, no waiting");
    assert!(doc.plan.is_gate(), "the rollback reads gate mode from the plan");
    assert_eq!(doc.context.hook.map(|h| h.execution_id), Some("ecs-1".into()));
    assert!(routers.set_calls().is_empty() && routers.restores() == 0, "the production rule is only read");

    // A later invocation of the same hook finds it; nothing else starts.
    let again = gate_hook(&deps, DEPLOYMENT, "ecs-2").await.expect("gate");
    assert!(matches!(again, GateStart::Execution(GateExecution { started_now: false, weight: 25, .. })), "{again:?}");
    assert_eq!(executions.starts().len(), 1);
}

#[tokio::test]
async fn the_first_gate_waits_for_green_behind_the_test_listener_and_asks_nothing_else() {
    let (deps, executions, _) = world(Admission::Gate(linear()), 0, PLAN);
    gate_hook(&deps, DEPLOYMENT, "ecs-1").await.expect("gate");
    let doc: ExecutionDocument = serde_json::from_str(&executions.starts()[0].2).expect("document");
    assert_eq!(executions.starts()[0].1, "d-TESTDEP01-Gate0");
    assert_eq!(doc.plan.step_count, 0);
    assert!(doc.plan.health.ready_timeout_seconds > 0, "the ready gate waits for green");
}

#[tokio::test]
async fn a_plan_the_steps_cannot_express_is_refused_naming_field_and_setting() {
    let shift = r#"{"steps":[{"weight":100}]}"#;
    let (deps, executions, _) = world(Admission::Gate(linear()), 0, shift);
    let refused = gate_hook(&deps, DEPLOYMENT, "ecs-1").await.expect("answer");
    let GateStart::Refused(why) = refused else { panic!("{refused:?}") };
    assert!(why.contains("mode") && why.contains("LINEAR"), "{why}");

    let thirds = ServiceSteps { percent_tenths: Some(300), ..linear() };
    let (deps, _, _) = world(Admission::Gate(thirds), 0, PLAN);
    let GateStart::Refused(why) = gate_hook(&deps, DEPLOYMENT, "ecs-1").await.expect("answer") else { panic!() };
    assert!(why.contains("steps[0].approval.after_weight") && why.contains("stepPercent"), "{why}");
    assert!(executions.starts().is_empty());
}

#[tokio::test]
async fn blue_green_and_creations_pass_through() {
    for admission in [Admission::Serve, Admission::Creation] {
        let (deps, executions, _) = world(admission, 0, PLAN);
        let answer = gate_hook(&deps, DEPLOYMENT, "ecs-1").await.expect("answer");
        assert!(matches!(answer, GateStart::PassedThrough(_)), "{answer:?}");
        assert!(executions.starts().is_empty());
    }
}

#[tokio::test]
async fn a_judged_gate_starts_its_window_when_the_previous_gate_ended() {
    let judged = "mode: gate\nsteps: []\nhealth: {interval: 7s}\nanalysis: {min_samples: 3, metrics: \
                  [{metric: TargetResponseTime, direction: increase, tolerance: 0.1, period: 1m}]}\n";
    let (deps, executions, _) = world(Admission::Gate(linear()), 25, judged);
    executions.insert(&machines().canary, "d-TESTDEP01-Gate0", crate::ports::RunStatus::Succeeded, None);
    let ended = executions.get(&execution_arn(&machines().canary, "d-TESTDEP01-Gate0")).and_then(|e| e.stopped_at);
    assert!(ended.is_some());

    let answer = gate_hook(&deps, DEPLOYMENT, "ecs-1").await.expect("gate");
    assert!(matches!(answer, GateStart::Execution(_)), "{answer:?}");

    let doc: ExecutionDocument = serde_json::from_str(&executions.starts()[0].2).expect("document");
    assert_eq!(doc.plan.gate.and_then(|g| g.step_started_at), ended, "the window starts at ECS's step");
}
