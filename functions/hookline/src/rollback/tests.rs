//! The console rollback and the plan's production rule over the in-memory fakes of the ports
//! (the adapters' wire-level behaviour is tested in their own files).

use super::*;
use crate::execution::Route;
use crate::lifecycle::Resolved;
use crate::ports::RunStatus;
use crate::testing::{context, denied, plan, state, FakeExecutions, FakeLifecycle, FakePlanStore, FakeRouters};
use crate::traffic::Weights;

const PLAN_PARAMETER: &str = "/hookline/web/web-prod";
const RULE: &str = concat!(
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:",
    "listener-rule/app/demo/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee"
);
const MACHINE: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:hookline-canary";
/// An ECS service deployment: its executions are named after the ARN's last segment.
const ECS_DEPLOYMENT: &str = "arn:aws:ecs:us-east-1:123456789012:service-deployment/demo/api/r4nd0mId";

fn plans(value: &str) -> FakePlanStore {
    FakePlanStore::default().with(PLAN_PARAMETER, value)
}

/// Ports for a console rollback.
struct World {
    lifecycle: FakeLifecycle,
    routers: FakeRouters,
    executions: FakeExecutions,
    plans: FakePlanStore,
}

impl World {
    fn new(lifecycle: FakeLifecycle, plans: FakePlanStore) -> World {
        World {
            lifecycle,
            routers: FakeRouters::with_weights(Weights::green(10)),
            executions: FakeExecutions::default(),
            plans,
        }
    }

    fn reach(&self) -> Reach<'_> {
        Reach { lifecycle: &self.lifecycle, routers: &self.routers, executions: &self.executions, plans: &self.plans }
    }
}

/// The context `hook` resolved for the ECS deployment: production on the service's rule.
fn ecs_context() -> DeploymentContext {
    let mut ctx = context();
    ctx.deployment_id = ECS_DEPLOYMENT.into();
    ctx.production = Route::AlbRule { listener_arn: crate::testing::LISTENER.into(), rule_arn: RULE.into() };
    if let Some(hook) = ctx.hook.as_mut() {
        hook.execution_id = "e1".into();
    }
    ctx
}

#[tokio::test]
async fn reads_the_production_rule_from_the_plan() {
    let with_rule = plans(concat!(
        r#"{"steps":[{"weight":100}],"traffic":{"production_rule_arn":"#,
        r#""arn:aws:elasticloadbalancing:us-east-1:123456789012:"#,
        r#"listener-rule/app/demo/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee"}}"#
    ));
    assert_eq!(production_rule(&with_rule, &context(), "/hookline/").await, Ok(Some(RULE.to_string())));

    let listener_mode = plans(r#"{"steps":[{"weight":100}]}"#);
    assert_eq!(production_rule(&listener_mode, &context(), "/hookline").await, Ok(None));
}

#[tokio::test]
async fn a_stored_plan_that_fails_todays_validation_still_names_the_production_rule() {
    // A rule-mode plan ending at 50 was accepted before rule-mode plans had to end at
    // 100; a rollback must still find production on the rule rather than refuse to restore.
    let stale = plans(concat!(
        r#"{"steps":[{"weight":50}],"bake":"forever","traffic":{"production_rule_arn":"#,
        r#""arn:aws:elasticloadbalancing:us-east-1:123456789012:"#,
        r#"listener-rule/app/demo/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee"}}"#
    ));
    assert_eq!(production_rule(&stale, &context(), "/hookline").await, Ok(Some(RULE.to_string())));

    let not_a_plan = plans(r#"{"traffic": {"production_rule_arn": 7}}"#);
    let err = production_rule(&not_a_plan, &context(), "/hookline").await.unwrap_err();
    assert_eq!(err.error_type(), "InvalidInput", "{err}");
    assert!(err.to_string().contains("traffic.production_rule_arn"), "{err}");
}

#[tokio::test]
async fn access_denied_is_returned_not_taken_for_the_default_action() {
    let refusing = FakePlanStore::default().failing_reads(denied("GetParameter"));
    let err = production_rule(&refusing, &context(), "/hookline").await.unwrap_err();
    assert_eq!((err.error_type(), err.aws_code()), ("AwsPermanent", Some("AccessDeniedException")), "{err}");
}

#[tokio::test]
async fn throttling_is_returned_as_throttled() {
    // The SSM adapter classifies throttling once the SDK's retries give up
    // (`aws::parameter_store`'s tests); it is returned, never taken for "no rule".
    let throttled = FakePlanStore::default()
        .failing_reads(Error::Throttled { operation: "GetParameter", message: "Rate exceeded".into() });
    let err = production_rule(&throttled, &context(), "/hookline").await.unwrap_err();
    assert_eq!(err.error_type(), "Throttled", "{err}");
}

#[tokio::test]
async fn a_missing_plan_is_invalid_input_naming_the_parameter() {
    let err = production_rule(&FakePlanStore::default(), &context(), "/hookline").await.unwrap_err();
    assert_eq!(err.error_type(), "InvalidInput", "{err}");
    assert!(err.to_string().contains(PLAN_PARAMETER), "{err}");
}

#[tokio::test]
async fn a_plan_whose_route_cannot_be_read_is_invalid_input() {
    // Only the route matters to a rollback (see the test above); a route that is not
    // even an object cannot be taken for "the default action".
    let broken = plans(r#"{"steps":[],"traffic":"rule-1"}"#);
    let err = production_rule(&broken, &context(), "/hookline").await.unwrap_err();
    assert_eq!(err.error_type(), "InvalidInput", "{err}");
}

#[tokio::test]
async fn a_console_rollback_that_cannot_read_the_plan_stops_nothing_and_moves_no_traffic() {
    // The resolved CodeDeploy deployment's route is its listener: the plan must say whether a rule holds production.
    let world = World::new(FakeLifecycle::default(), FakePlanStore::default().failing_reads(denied("GetParameter")));

    let err = console(world.reach(), &[MACHINE.to_string()], crate::testing::DEPLOYMENT, "bad release", "/hookline")
        .await
        .unwrap_err();

    assert_eq!(err.aws_code(), Some("AccessDeniedException"), "{err}");
    assert!(world.lifecycle.stops().is_empty(), "no stop");
    assert!(world.routers.set_calls().is_empty() && world.routers.restores() == 0, "no listener rewrite");
    assert_eq!(world.routers.weights(), Weights::green(10));
}

#[tokio::test]
async fn an_ecs_native_console_rollback_stops_its_execution_restores_the_rule_and_stops_with_rollback() {
    let world = World::new(FakeLifecycle::default(), FakePlanStore::default());
    let input =
        serde_json::to_string(&ExecutionDocument { context: ecs_context(), plan: plan(), state: state(10, 60) })
            .expect("document");
    let execution = world.executions.insert(MACHINE, "r4nd0mId-BeforeAllowTraffic", RunStatus::Running, Some(&input));
    let another = world.executions.insert(MACHINE, "0therId-BeforeAllowTraffic", RunStatus::Running, Some(&input));

    let done = console(world.reach(), &[MACHINE.to_string()], ECS_DEPLOYMENT, "operator", "/hookline")
        .await
        .expect("rollback");

    assert_eq!(done.stopped_executions, vec![execution.clone()], "found by the ARN's id, not the ARN");
    assert!(done.restored && done.reported);
    let stopped = world.executions.get(&execution).expect("execution");
    assert_eq!(
        (stopped.status, stopped.error.as_deref(), stopped.cause.as_deref()),
        (RunStatus::Aborted, Some(crate::contract::state::ROLLED_BACK), Some("operator"))
    );
    assert!(world.executions.get(&another).is_some_and(|e| e.status.is_running()), "another deployment's runs on");
    assert_eq!(world.lifecycle.stops(), vec![ECS_DEPLOYMENT.to_string()], "stopped with rollback once");
    assert_eq!(
        world.routers.routes(),
        vec![ecs_context().production],
        "the ECS production rule, not a listener default action"
    );
    assert_eq!(world.routers.weights(), Weights::BLUE_ONLY);
    assert_eq!(world.lifecycle.reports(), vec![(ECS_DEPLOYMENT.to_string(), "e1".to_string(), HookStatus::Failed)]);
    assert!(world.plans.writes().is_empty());
}

#[tokio::test]
async fn an_ecs_native_console_rollback_without_an_execution_restores_the_services_rule_not_the_plans_route() {
    let mut ctx = ecs_context();
    ctx.hook = None;
    let resolved = Resolved {
        context: ctx.clone(),
        in_progress_event: None,
        in_progress_hook: None,
        in_progress_started_at: None,
        hook_expires_at: None,
    };
    // Reading the plan (whose route would be the listener's default action) fails: it must not be read.
    let world = World::new(
        FakeLifecycle::default().resolving(resolved),
        FakePlanStore::default().failing_reads(denied("GetParameter")),
    );

    let done = console(world.reach(), &[MACHINE.to_string()], ECS_DEPLOYMENT, "operator", "/hookline")
        .await
        .expect("rollback");

    assert!(done.restored && done.stopped_executions.is_empty());
    assert_eq!(world.lifecycle.stops().len(), 1);
    assert_eq!(world.routers.routes(), vec![ctx.production], "the ECS production rule, rewritten to blue 100");
    assert_eq!(world.routers.weights(), Weights::BLUE_ONLY);
}

#[tokio::test]
async fn a_deployment_that_succeeded_is_left_where_it_is() {
    let world =
        World::new(FakeLifecycle::with_statuses([DeploymentStatus::Succeeded]), plans(r#"{"steps":[{"weight":100}]}"#));

    let done = console(world.reach(), &[MACHINE.to_string()], crate::testing::DEPLOYMENT, "late", "/hookline")
        .await
        .expect("rollback");

    assert!(!done.restored);
    assert_eq!(done.deployment_status, "Succeeded");
    assert!(world.lifecycle.stops().is_empty() && world.routers.set_calls().is_empty());
    assert_eq!(world.routers.weights(), Weights::green(10), "green is production: not moved");
}

/// hookline's own Route 53 controller: `hookline rollback` of a DNS deployment stops its canary
/// execution, marks the release record stopped, puts DNS back on blue 100 and, reporting Failed,
/// scales green's service to 0; with no execution running it still does all but the stop of one
/// (no plan parameter is read: the records are no listener).
#[tokio::test]
async fn a_dns_release_is_rolled_back_through_its_record() {
    use std::sync::Arc;

    use crate::dns::{ReleaseRecord, ReleaseStatus};
    use crate::execution::{ExecutionDocument, ServiceRef};
    use crate::lifecycle::Route53Releases;
    use crate::testing::FakeServices;

    for running in [true, false] {
        let mut ctx = crate::testing::dns_context();
        ctx.green.service =
            Some(ServiceRef { cluster: "shop".into(), service: "shop-web-green".into(), region: None, role_arn: None });
        ctx.blue.service =
            Some(ServiceRef { cluster: "shop".into(), service: "shop-web-blue".into(), region: None, role_arn: None });
        let id = ctx.deployment_id.clone();
        let record = ReleaseRecord {
            deployment_id: id.clone(),
            environment: "prod".into(),
            status: ReleaseStatus::InProgress,
            context: ctx.clone(),
            execution_arn: None,
            remove_old: false,
            created_at: 1,
            ended_at: None,
            services_done: false,
            message: None,
            drain_seconds: None,
            drain_until: None,
            green_task_definition: None,
        };
        let parameter = crate::contract::dns_release_parameter("/hookline", &id);
        let plans = Arc::new(FakePlanStore::default().with(&parameter, &serde_json::to_string(&record).unwrap()));
        let services = Arc::new(FakeServices::default().with("shop", "shop-web-blue", 2, "td:1").with(
            "shop",
            "shop-web-green",
            2,
            "td:2",
        ));
        let executions = Arc::new(FakeExecutions::default());
        if running {
            let doc = ExecutionDocument { context: ctx.clone(), plan: plan(), state: state(50, 60) };
            executions.insert(
                MACHINE,
                &crate::contract::execution_name(&id, crate::execution::HookEvent::PreTraffic),
                RunStatus::Running,
                Some(&serde_json::to_string(&doc).unwrap()),
            );
        }
        let lifecycle = Route53Releases {
            plans: plans.clone(),
            executions: executions.clone(),
            services: services.clone(),
            plan_parameter_prefix: "/hookline".into(),
        };
        let routers = FakeRouters::with_weights(Weights::green(50));
        let reach =
            Reach { lifecycle: &lifecycle, routers: &routers, executions: executions.as_ref(), plans: plans.as_ref() };
        let out = console(reach, &[MACHINE.to_string()], &id, "operator", "/hookline").await.expect("rolled back");
        assert!(out.restored, "running={running}");
        assert_eq!(routers.weights(), Weights::BLUE_ONLY);
        assert_eq!(out.stopped_executions.len(), usize::from(running));
        assert_eq!(out.deployment_status, "Stopped");
        let record: ReleaseRecord = serde_json::from_str(&plans.get(&parameter).unwrap()).unwrap();
        assert_eq!(record.status, ReleaseStatus::Stopped);
        // The stopped execution's hook (or, with none running, the record's) reported Failed:
        // green scaled to 0, blue untouched.
        assert_eq!(services.changes(), vec!["scale shop/shop-web-green 0"], "running={running}");
        assert!(record.services_done && out.reported);
        assert_eq!(services.get("shop", "shop-web-blue").map(|s| s.desired), Some(2));
    }
}

/// Gate mode (ECS LINEAR / CANARY): ECS's rollback undoes its own steps; the console rollback stops
/// the gate execution and the deployment and writes no rule, whether a gate runs or not.
#[tokio::test]
async fn a_gate_mode_console_rollback_stops_the_gate_and_the_deployment_and_writes_no_rule() {
    let gate_plan = "mode: gate\nsteps: []\nhealth: {interval: 5s}\n";
    let parsed = Plan::parse_for(gate_plan, crate::plan::Controller::Ecs).expect("gate plan").at_gate(25);
    let world = World::new(FakeLifecycle::default(), FakePlanStore::default());
    let input = serde_json::to_string(&ExecutionDocument { context: ecs_context(), plan: parsed, state: state(25, 5) })
        .expect("document");
    let gate = world.executions.insert(MACHINE, "r4nd0mId-Gate25", RunStatus::Running, Some(&input));

    let done = console(world.reach(), &[MACHINE.to_string()], ECS_DEPLOYMENT, "operator", "/hookline")
        .await
        .expect("rollback");

    assert_eq!(done.stopped_executions, vec![gate]);
    assert!(!done.restored && done.reported);
    assert_eq!(world.lifecycle.stops(), vec![ECS_DEPLOYMENT.to_string()]);
    assert!(world.routers.set_calls().is_empty() && world.routers.restores() == 0, "no rule written");

    // Between two gates: the stored plan says gate mode.
    let mut ctx = ecs_context();
    ctx.hook = None;
    let resolved = Resolved {
        context: ctx.clone(),
        in_progress_event: None,
        in_progress_hook: None,
        in_progress_started_at: None,
        hook_expires_at: None,
    };
    let parameter = crate::contract::plan_parameter("/hookline", &ctx.application, &ctx.deployment_group);
    let world =
        World::new(FakeLifecycle::default().resolving(resolved), FakePlanStore::default().with(&parameter, gate_plan));
    let done = console(world.reach(), &[MACHINE.to_string()], ECS_DEPLOYMENT, "operator", "/hookline")
        .await
        .expect("rollback");
    assert!(!done.restored && world.lifecycle.stops().len() == 1);
    assert!(world.routers.set_calls().is_empty() && world.routers.restores() == 0, "no rule written");
}
