//! The execution document: what `hook` starts each state machine execution
//! with and what every task passes along (docs/contracts.md).

use serde::{Deserialize, Serialize};

use crate::plan::{Controller, Plan};

/// Which lifecycle hook an execution answers, in hookline's words: before production traffic
/// moves, or after. Each controller's adapter maps its own stage names onto these (CodeDeploy's
/// `BeforeAllowTraffic`/`AfterAllowTraffic`, ECS's `POST_TEST_TRAFFIC_SHIFT`/`POST_PRODUCTION_TRAFFIC_SHIFT`).
/// Documents written by hookline versions that used CodeDeploy's names still parse (aliases).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HookEvent {
    /// Before production traffic moves: the canary runs here.
    #[serde(alias = "BeforeAllowTraffic")]
    PreTraffic,
    /// After production traffic moved: bake under full traffic, finalize.
    #[serde(alias = "AfterAllowTraffic")]
    PostTraffic,
}

impl HookEvent {
    /// The event's word in logs and messages (`pre-traffic`, `post-traffic`).
    pub fn as_str(self) -> &'static str {
        match self {
            HookEvent::PreTraffic => "pre-traffic",
            HookEvent::PostTraffic => "post-traffic",
        }
    }

    /// The event's suffix in execution names (`<deployment>-<suffix>`, `contract::execution_name`):
    /// kept from hookline's first version, which named events after CodeDeploy's, so that an
    /// execution started before an upgrade is still found (by name) after it.
    pub fn execution_suffix(self) -> &'static str {
        match self {
            HookEvent::PreTraffic => "BeforeAllowTraffic",
            HookEvent::PostTraffic => "AfterAllowTraffic",
        }
    }
}

/// The lifecycle hook invocation an execution must answer exactly once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookRef {
    /// Who waits for the answer (serialized `codedeploy` / `ecs`, as before).
    #[serde(default)]
    pub kind: Controller,
    pub event: HookEvent,
    /// Opaque; never parsed.
    pub execution_id: String,
}

/// One side of the blue/green pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Side {
    pub target_group_arn: String,
    pub target_group_name: String,
    pub task_set_arn: Option<String>,
    /// The side's own ECS service, when the side is a whole service rather than a task set of one
    /// (hookline's own Route 53 controller: one service per release). Absent in documents written
    /// before it, and for CodeDeploy and ECS-native deployments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<ServiceRef>,
}

/// Where a release's own AWS resources are (its load balancer, target group, ECS service and
/// their metrics) and who acts on them: the deployment file's `canary.releases.<name>.region` and
/// `.role_arn`. Plain strings; adapters build a client per placement (`aws::Placed`). Route 53 is
/// global and is always reached with the caller's own client.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Placement {
    /// `None`: the caller's own Region (the functions' stack, or the CLI's `--region`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// An IAM role to assume for the release's calls (`None`: the caller's own credentials).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
}

impl Placement {
    pub fn new(region: Option<&str>, role_arn: Option<&str>) -> Placement {
        Placement { region: region.map(str::to_string), role_arn: role_arn.map(str::to_string) }
    }

    /// The caller's own Region and credentials.
    pub fn is_home(&self) -> bool {
        self.region.is_none() && self.role_arn.is_none()
    }
}

/// An ECS service by cluster and name, and the Region it runs in (`None`: the functions' own).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceRef {
    pub cluster: String,
    pub service: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The role the release's calls assume (`None`: the caller's own credentials).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
}

impl ServiceRef {
    /// Where the service is and who acts on it.
    pub fn placement(&self) -> Placement {
        Placement::new(self.region.as_deref(), self.role_arn.as_deref())
    }
}

/// One release of a Route 53 weighted pair: its record and the load balancer the record aliases.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsRelease {
    /// The record's `SetIdentifier` (the release's `CanaryRelease` tag value).
    pub set_identifier: String,
    pub load_balancer_arn: String,
    /// The alias target: the load balancer's `DNSName` and `CanonicalHostedZoneId`.
    pub alias_dns_name: String,
    pub alias_hosted_zone_id: String,
    /// The load balancer's Region (`None`: the functions' own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The role the release's calls assume (`None`: the caller's own credentials).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
}

impl DnsRelease {
    /// Where the release's load balancer (and its metrics) are, and who reads them.
    pub fn placement(&self) -> Placement {
        Placement::new(self.region.as_deref(), self.role_arn.as_deref())
    }
}

/// Where production traffic lives: the weights [`crate::traffic::TrafficRouter`] moves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Route {
    /// The listener's default action forwards to blue and green.
    AlbListener { listener_arn: String },
    /// A rule of the listener forwards to blue and green (the default action may serve others).
    AlbRule { listener_arn: String, rule_arn: String },
    /// Two weighted alias records of one name and type in a hosted zone, one per release (hookline's
    /// own Route 53 controller): green's record gets the green weight, blue's the rest.
    DnsWeighted {
        hosted_zone_id: String,
        record_name: String,
        /// `A` (or `AAAA`).
        record_type: String,
        /// Boxed: a release is five strings, and routes are moved around by value.
        blue: Box<DnsRelease>,
        green: Box<DnsRelease>,
    },
}

impl Route {
    /// The listener's default action, or `rule_arn` on it when there is one.
    pub fn alb(listener_arn: String, rule_arn: Option<String>) -> Route {
        match rule_arn {
            Some(rule_arn) => Route::AlbRule { listener_arn, rule_arn },
            None => Route::AlbListener { listener_arn },
        }
    }

    /// The production listener (`None` for a route that is not a load balancer's listener).
    pub fn listener_arn(&self) -> Option<&str> {
        match self {
            Route::AlbListener { listener_arn } | Route::AlbRule { listener_arn, .. } => Some(listener_arn),
            Route::DnsWeighted { .. } => None,
        }
    }

    /// The rule the weights live on, if they are not on the default action.
    pub fn rule_arn(&self) -> Option<&str> {
        match self {
            Route::AlbListener { .. } | Route::DnsWeighted { .. } => None,
            Route::AlbRule { rule_arn, .. } => Some(rule_arn),
        }
    }

    /// Whether the weights live on a load balancer listener (a listener's default action or a rule).
    pub fn is_alb(&self) -> bool {
        matches!(self, Route::AlbListener { .. } | Route::AlbRule { .. })
    }
}

/// Everything about the deployment a function needs, resolved once by `hook`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "wire::Context")]
pub struct DeploymentContext {
    pub deployment_id: String,
    pub application: String,
    pub deployment_group: String,
    pub hook: Option<HookRef>,
    pub cluster: String,
    pub service: String,
    /// Where production traffic lives.
    pub production: Route,
    pub test_listener_arn: Option<String>,
    pub blue: Side,
    pub green: Side,
    /// Set by `hook` on an AfterAllowTraffic document when the deployment's BeforeAllowTraffic
    /// execution succeeded: that execution's `finalize` removed the service's cohort rules before
    /// it reported `Succeeded` (a failed removal fails the execution instead), and only a canary
    /// step creates one, so the post-traffic `finalize` has none to remove. Absent (false) on
    /// every other document; a rollback removes cohort rules whatever it says.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cohort_rules_removed: bool,
}

impl DeploymentContext {
    /// Production stays on the same listener, on `rule_arn` (`None`: its default action). A route
    /// that is not a listener's (Route 53 records) has no rule and is left as it is.
    pub fn set_production_rule(&mut self, rule_arn: Option<String>) {
        if let Some(listener_arn) = self.production.listener_arn() {
            self.production = Route::alb(listener_arn.to_string(), rule_arn);
        }
    }
}

/// The context as documents carry it, today's shape or the one before [`Route`]
/// (`prod_listener_arn` + `prod_rule_arn`): executions started before an upgrade,
/// and their histories the CLI reads for 90 days, still parse.
mod wire {
    use serde::Deserialize;

    use super::{HookRef, Route, Side};

    #[derive(Deserialize)]
    pub(super) struct Context {
        deployment_id: String,
        application: String,
        deployment_group: String,
        hook: Option<HookRef>,
        cluster: String,
        service: String,
        #[serde(default)]
        production: Option<Route>,
        #[serde(default)]
        prod_listener_arn: Option<String>,
        #[serde(default)]
        prod_rule_arn: Option<String>,
        test_listener_arn: Option<String>,
        blue: Side,
        green: Side,
        #[serde(default)]
        cohort_rules_removed: bool,
    }

    impl TryFrom<Context> for super::DeploymentContext {
        type Error = String;

        fn try_from(c: Context) -> Result<Self, String> {
            let production = match (c.production, c.prod_listener_arn) {
                (Some(route), _) => route,
                (None, Some(listener_arn)) => Route::alb(listener_arn, c.prod_rule_arn),
                (None, None) => return Err("missing field `production`".into()),
            };
            Ok(super::DeploymentContext {
                deployment_id: c.deployment_id,
                application: c.application,
                deployment_group: c.deployment_group,
                hook: c.hook,
                cluster: c.cluster,
                service: c.service,
                production,
                test_listener_arn: c.test_listener_arn,
                blue: c.blue,
                green: c.green,
                cohort_rules_removed: c.cohort_rules_removed,
            })
        }
    }
}

/// Where the rollout stands; rewritten by `shift-weight` and the Advance state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct RolloutState {
    #[serde(default)]
    pub index: u64,
    /// Green's share of production traffic, as the previous step left it.
    #[serde(default)]
    pub weight: u8,
    /// Epoch seconds when the execution started (hook budget and ready timeout count from here).
    pub started_at: i64,
    /// Epoch seconds when the current bake ends.
    #[serde(default)]
    pub bake_until: Option<i64>,
    /// The canary judge's result for each judged weight step so far, in step order, as
    /// `validate-health` gave it (`health::verdict::StepJudgement`): carried in the state so that
    /// the execution's output holds every judgement. Always serialized (the canary machine's
    /// Advance state copies `$.state.judgements`).
    #[serde(default)]
    pub judgements: Vec<serde_json::Value>,
}

/// Input of the `canary` and `post-traffic` state machines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutionDocument {
    pub context: DeploymentContext,
    pub plan: Plan,
    pub state: RolloutState,
}

/// The two state machines that answer hooks, one per event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookStateMachines {
    /// Answers BeforeAllowTraffic.
    pub canary: String,
    /// Answers AfterAllowTraffic.
    pub post_traffic: String,
}

impl HookStateMachines {
    /// The state machine that answers `event`.
    pub fn for_event(&self, event: HookEvent) -> &str {
        match event {
            HookEvent::PreTraffic => &self.canary,
            HookEvent::PostTraffic => &self.post_traffic,
        }
    }
}

/// The execution name for a deployment's hook: a duplicate invocation maps to the same one.
///
/// CodeDeploy: `<deployment-id>-<event>`. ECS-native: the deployment id is the service deployment
/// ARN; its last segment (the service deployment's own id) stands for it, so the name stays short
/// and the event suffix is never cut. ECS gives every invocation a fresh `executionId`, so the
/// name never depends on it: ECS's repeated invocations of one stage find the same execution.
pub fn execution_name(deployment_id: &str, event: HookEvent) -> String {
    let mut name = format!("{}{}", execution_name_prefix(deployment_id), event.execution_suffix());
    name.truncate(80);
    name
}

/// The name of a gate-mode execution (`docs/design.md`, ECS gate mode): `<id>-Gate<weight>`, one per
/// PRE_PRODUCTION_TRAFFIC_SHIFT hook, told apart by the production weight ECS had reached when it
/// invoked the hook (the weight does not move while the hook runs). It starts with
/// [`execution_name_prefix`], so a console rollback finds it with the deployment's other executions.
pub fn gate_execution_name(deployment_id: &str, weight: u8) -> String {
    let mut name = format!("{}Gate{weight}", execution_name_prefix(deployment_id));
    name.truncate(80);
    name
}

/// What every hook execution name of `deployment_id` starts with (`<id>-`): how a console rollback
/// finds the deployment's running executions among a state machine's.
pub fn execution_name_prefix(deployment_id: &str) -> String {
    let id = match Controller::of_deployment(deployment_id) {
        // ECS: the service deployment ARN's last segment, the service deployment's own id.
        Controller::Ecs => deployment_id.rsplit('/').next().unwrap_or(deployment_id),
        // Route 53: hookline's own id, `dns-<yyyymmdd>-<hhmmss>-<4 hex>` (24 characters).
        Controller::CodeDeploy | Controller::Route53 => deployment_id,
    };
    // Step Functions names allow 80 characters of [A-Za-z0-9-_]; deployment ids are `d-` + 9 alphanumerics.
    let safe: String = id.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect();
    format!("{safe}-")
}

/// The ARN Step Functions gives the execution `name` of `state_machine_arn`
/// (`arn:...:stateMachine:<machine>` becomes `arn:...:execution:<machine>:<name>`).
pub fn execution_arn(state_machine_arn: &str, name: &str) -> String {
    format!("{}:{name}", state_machine_arn.replacen(":stateMachine:", ":execution:", 1))
}

/// How a state machine execution stands, in hookline's words (Step Functions' `ExecutionStatus`
/// stays in its adapter).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunStatus {
    Running,
    Succeeded,
    Failed,
    TimedOut,
    Aborted,
    /// A word hookline has no meaning for (a newer service status), as the service said it.
    Unrecognized(String),
}

impl RunStatus {
    pub fn is_running(&self) -> bool {
        *self == RunStatus::Running
    }
}

impl std::fmt::Display for RunStatus {
    /// The variant's name (hookline's word, in logs and outputs); an unrecognized status as the service said it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunStatus::Unrecognized(word) => f.write_str(word),
            known => write!(f, "{known:?}"),
        }
    }
}

/// Now, in epoch seconds.
pub fn now_epoch() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// DescribeExecution answers for the demo deployment's hook executions (unit tests).
#[cfg(any(test, feature = "test-util"))]
pub mod mocks {
    use aws_sdk_sfn::operation::describe_execution::{DescribeExecutionError, DescribeExecutionOutput};
    use aws_sdk_sfn::primitives::DateTime;
    use aws_sdk_sfn::types::error::ExecutionDoesNotExist;
    use aws_sdk_sfn::types::ExecutionStatus;
    use aws_smithy_mocks::{mock, Rule};

    use super::*;
    use crate::testing::{context, plan, state, DEPLOYMENT};

    pub const CANARY_MACHINE: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:hookline-canary";
    pub const POST_TRAFFIC_MACHINE: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:hookline-post-traffic";

    /// The sandbox's two hook state machines.
    pub fn machines() -> HookStateMachines {
        HookStateMachines { canary: CANARY_MACHINE.into(), post_traffic: POST_TRAFFIC_MACHINE.into() }
    }

    /// The ARN of the demo deployment's execution for `event`.
    pub fn arn(event: HookEvent) -> String {
        execution_arn(machines().for_event(event), &execution_name(DEPLOYMENT, event))
    }

    /// The execution document `hook` starts `event`'s execution with, answering `hook_execution_id`.
    pub fn input(event: HookEvent, hook_execution_id: &str) -> String {
        let mut ctx = context();
        ctx.hook = Some(HookRef { kind: Controller::CodeDeploy, event, execution_id: hook_execution_id.into() });
        let doc = ExecutionDocument {
            context: ctx,
            plan: plan(),
            state: state(if event == HookEvent::PostTraffic { 100 } else { 0 }, 60),
        };
        serde_json::to_string(&doc).unwrap_or_else(|e| panic!("execution document: {e}"))
    }

    /// The demo deployment's `event` execution exists with `status`, answering `hook_execution_id`.
    pub fn execution(event: HookEvent, hook_execution_id: &'static str, status: ExecutionStatus) -> Rule {
        mock!(aws_sdk_sfn::Client::describe_execution)
            .match_requests(move |r| r.execution_arn() == Some(arn(event).as_str()))
            .then_output(move || described(event, hook_execution_id, status.clone()))
    }

    /// DescribeExecution's answer for the demo deployment's `event` execution.
    pub fn described(event: HookEvent, hook_execution_id: &str, status: ExecutionStatus) -> DescribeExecutionOutput {
        DescribeExecutionOutput::builder()
            .execution_arn(arn(event))
            .state_machine_arn(machines().for_event(event))
            .status(status)
            .start_date(DateTime::from_secs(0))
            .input(input(event, hook_execution_id))
            .build()
            .unwrap_or_else(|e| panic!("describe execution output: {e}"))
    }

    /// Step Functions' answer for an execution that does not exist.
    pub fn does_not_exist() -> DescribeExecutionError {
        DescribeExecutionError::ExecutionDoesNotExist(ExecutionDoesNotExist::builder().message("not found").build())
    }

    /// Every other execution does not exist (list it after the rules for executions that do).
    pub fn no_execution() -> Rule {
        mock!(aws_sdk_sfn::Client::describe_execution).then_error(does_not_exist)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn production_route_is_tagged_data() {
        let mut ctx = crate::testing::context();
        let listener = ctx.production.listener_arn().map(str::to_string).unwrap_or_default();
        let json = serde_json::to_value(&ctx).expect("serialize");
        assert_eq!(json["production"], serde_json::json!({"kind": "alb-listener", "listener_arn": listener}));
        assert!(json.get("prod_listener_arn").is_none() && json.get("prod_rule_arn").is_none());

        ctx.set_production_rule(Some("arn:rule".into()));
        assert_eq!(ctx.production, Route::AlbRule { listener_arn: listener.clone(), rule_arn: "arn:rule".into() });
        let back: DeploymentContext =
            serde_json::from_value(serde_json::to_value(&ctx).expect("serialize")).expect("today's shape parses");
        assert_eq!(back, ctx);
    }

    #[test]
    fn a_dns_weighted_route_and_a_side_with_its_service_round_trip_and_old_sides_parse() {
        let release = |name: &str| DnsRelease {
            set_identifier: name.into(),
            load_balancer_arn: format!("arn:lb/{name}"),
            alias_dns_name: format!("{name}.elb"),
            alias_hosted_zone_id: "Z35".into(),
            region: Some("eu-west-1".into()),
            role_arn: None,
        };
        let mut ctx = crate::testing::context();
        ctx.production = Route::DnsWeighted {
            hosted_zone_id: "Z1".into(),
            record_name: "web.shop.example.com".into(),
            record_type: "A".into(),
            blue: Box::new(release("blue")),
            green: Box::new(release("green")),
        };
        ctx.green.service =
            Some(ServiceRef { cluster: "shop".into(), service: "shop-web-green".into(), region: None, role_arn: None });
        let json = serde_json::to_value(&ctx).expect("serialize");
        assert_eq!(json["production"]["kind"], "dns-weighted");
        assert_eq!(json["production"]["green"]["set_identifier"], "green");
        assert_eq!(json["green"]["service"], serde_json::json!({"cluster": "shop", "service": "shop-web-green"}));
        assert!(json["blue"].get("service").is_none(), "absent, not null: old readers see the shape they know");
        assert_eq!(serde_json::from_value::<DeploymentContext>(json).expect("parses"), ctx);
        assert_eq!(
            (ctx.production.listener_arn(), ctx.production.rule_arn(), ctx.production.is_alb()),
            (None, None, false)
        );
        // A route that is not a listener's keeps no rule.
        let before = ctx.production.clone();
        ctx.set_production_rule(Some("arn:rule".into()));
        assert_eq!(ctx.production, before);
        // A side written before `service` existed parses.
        let old: Side = serde_json::from_value(serde_json::json!(
            {"target_group_arn": "arn:tg", "target_group_name": "tg", "task_set_arn": null}
        ))
        .expect("old side");
        assert_eq!(old.service, None);
    }

    #[test]
    fn a_document_of_the_shape_before_route_still_parses() {
        let mut json = serde_json::to_value(crate::testing::context()).expect("serialize");
        let map = json.as_object_mut().expect("object");
        let listener = map.remove("production").expect("production")["listener_arn"].clone();
        map.insert("prod_listener_arn".into(), listener.clone());
        map.insert("prod_rule_arn".into(), serde_json::json!("arn:rule"));
        let ctx: DeploymentContext = serde_json::from_value(json.clone()).expect("legacy shape parses");
        assert_eq!(ctx.production.rule_arn(), Some("arn:rule"));
        assert_eq!(ctx.production.listener_arn(), listener.as_str());

        json.as_object_mut().expect("object").remove("prod_listener_arn");
        let err = serde_json::from_value::<DeploymentContext>(json).expect_err("no route at all");
        assert!(err.to_string().contains("production"), "{err}");
    }

    #[test]
    fn hook_refs_written_by_older_versions_still_parse() {
        let old: HookRef = serde_json::from_str(r#"{"event":"BeforeAllowTraffic","execution_id":"x"}"#).unwrap();
        assert_eq!((old.kind, old.event), (Controller::CodeDeploy, HookEvent::PreTraffic));
        let old: HookRef =
            serde_json::from_str(r#"{"kind":"ecs","event":"AfterAllowTraffic","execution_id":"x"}"#).unwrap();
        assert_eq!((old.kind, old.event), (Controller::Ecs, HookEvent::PostTraffic));
        let new = serde_json::to_value(HookRef {
            kind: Controller::Ecs,
            event: HookEvent::PreTraffic,
            execution_id: "x".into(),
        })
        .unwrap();
        assert_eq!(new, serde_json::json!({"kind": "ecs", "event": "pre-traffic", "execution_id": "x"}));
        assert_eq!(crate::contract::execution_name("d-1", HookEvent::PostTraffic), "d-1-AfterAllowTraffic");
    }
}
