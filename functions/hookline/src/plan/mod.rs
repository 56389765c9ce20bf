//! The rollout plan: parsing (JSON or YAML), validation and the worst-case
//! duration. Plain Rust, no AWS types.
//!
//! Parsing is two passes: serde reads the wire format (rejecting unknown keys
//! and wrong types with the field's path), then `validate` checks the
//! meaning and reports *every* problem, each naming its field, so `hookline
//! plan validate` can print one per line.

pub mod analysis;
mod duration;
pub mod gate;
pub mod history;
mod model;
mod problem;
mod step;
pub(crate) mod wire;

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use duration::human;
pub use model::{DnsPlan, Health, HttpProbe, Plan, PostTraffic, Traffic};
use problem::Problems;
pub use problem::{Location, PlanErrors, Problem};
pub use step::{OnTimeout, Step};
use wire::{WirePlan, WireStep};

/// CodeDeploy waits one hour for a hook; the plan must fit inside it.
pub const MAX_HOOK_BUDGET_SECONDS: u64 = 60 * 60;
/// An ECS lifecycle hook may answer IN_PROGRESS until its `timeoutConfiguration.timeoutInMinutes`,
/// 1440 (24 hours) unless the service sets another (Amazon ECS API reference,
/// "DeploymentLifecycleHookTimeoutConfiguration"; the API accepts up to 20160). A plan does not
/// know the service's setting, so it must fit the default: a longer budget could outlive the hook.
pub const MAX_ECS_HOOK_BUDGET_SECONDS: u64 = 24 * 60 * 60;
/// The same default in both modes: a budget of hours is a decision the plan states (`hook_budget`).
const DEFAULT_HOOK_BUDGET: u64 = 55 * 60;
const DEFAULT_INTERVAL: u64 = 30;
const DEFAULT_READY_TIMEOUT: u64 = 5 * 60;
const DEFAULT_PROBE_TIMEOUT_MS: u64 = 2000;

/// Which deployment controller runs the hooks a plan is validated for: it sets the hook's
/// deadline and where production traffic ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Controller {
    /// A CodeDeploy ECS blue/green deployment group (BeforeAllowTraffic / AfterAllowTraffic hooks).
    #[default]
    #[serde(rename = "codedeploy")]
    CodeDeploy,
    /// An ECS service with deployment controller `ECS` and Lambda lifecycle hooks.
    #[serde(rename = "ecs")]
    Ecs,
    /// hookline's own controller: two load balancer releases moved by Route 53 weighted alias
    /// records (docs/route53-controller.md). No hook waits for it: hookline starts the canary
    /// execution itself (`hookline deploy`) and its release record is the deployment.
    #[serde(rename = "route53")]
    Route53,
}

/// What every deployment id of hookline's own Route 53 controller starts with
/// (`dns-<yyyymmdd>-<hhmmss>-<4 hex>`): neither a CodeDeploy id (`d-`) nor an ARN.
pub const DNS_DEPLOYMENT_PREFIX: &str = "dns-";

/// Whether `arn` has the whole form of an ECS service deployment ARN (see
/// [`Controller::of_valid_deployment`]).
fn service_deployment_arn_formed(arn: &str) -> bool {
    let name =
        |s: &str| (1..=255).contains(&s.len()) && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    let word = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [prefix, partition, service, region, account, resource] = parts.as_slice() else { return false };
    let Some(path) = resource.strip_prefix("service-deployment/") else { return false };
    let segments: Vec<&str> = path.split('/').collect();
    *prefix == "arn"
        && word(partition)
        && *service == "ecs"
        && word(region)
        && account.len() == 12
        && account.chars().all(|c| c.is_ascii_digit())
        && matches!(segments.as_slice(), [cluster, svc, id] if name(cluster) && name(svc) && name(id))
}

impl Controller {
    /// The controller that runs `deployment_id`, from the id's form: an ECS service deployment ARN
    /// (`arn:aws:ecs:<region>:<account>:service-deployment/<cluster>/<service>/<id>`, ECS API
    /// reference, ServiceDeployment) is ECS-native, an id starting with [`DNS_DEPLOYMENT_PREFIX`]
    /// hookline's own Route 53 controller's, anything else (`d-` + 9 characters) CodeDeploy's.
    /// The one place hookline tells controllers apart by an id (`lifecycle::controller_of`).
    pub fn of_deployment(deployment_id: &str) -> Controller {
        if deployment_id.starts_with("arn:") && deployment_id.contains(":service-deployment/") {
            Controller::Ecs
        } else if deployment_id.starts_with(DNS_DEPLOYMENT_PREFIX) {
            Controller::Route53
        } else {
            Controller::CodeDeploy
        }
    }

    /// The controller of `deployment_id` ([`Controller::of_deployment`]) when the id also has that
    /// controller's whole form; otherwise the form it lacks, for an error that names the id. What
    /// takes an id from outside (the dashboard's API) checks it here before any AWS call:
    /// - CodeDeploy: `d-` and 9 letters or digits (the form `execution_name` relies on).
    /// - ECS: `arn:<partition>:ecs:<region>:<account>:service-deployment/<cluster>/<service>/<id>`
    ///   (ECS API reference, ServiceDeployment), each part present; cluster, service and id of
    ///   letters, digits, `-` and `_` ("Up to 255 letters (uppercase and lowercase), numbers,
    ///   underscores, and hyphens are allowed", ECS API reference, CreateCluster / CreateService).
    /// - Route 53: `dns-<yyyymmdd>-<hhmmss>-<4 hex>` (`dns::deployment_id`).
    pub fn of_valid_deployment(deployment_id: &str) -> Result<Controller, String> {
        let controller = Controller::of_deployment(deployment_id);
        let formed = match controller {
            Controller::CodeDeploy => deployment_id
                .strip_prefix("d-")
                .is_some_and(|rest| rest.len() == 9 && rest.chars().all(|c| c.is_ascii_alphanumeric())),
            Controller::Ecs => service_deployment_arn_formed(deployment_id),
            Controller::Route53 => deployment_id.strip_prefix(DNS_DEPLOYMENT_PREFIX).is_some_and(|rest| {
                let parts: Vec<&str> = rest.split('-').collect();
                let digits = |s: &str, n: usize| s.len() == n && s.chars().all(|c| c.is_ascii_digit());
                let hex = |s: &str| s.len() == 4 && s.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f'));
                matches!(parts.as_slice(), [date, time, salt] if digits(date, 8) && digits(time, 6) && hex(salt))
            }),
        };
        if formed {
            return Ok(controller);
        }
        Err(match controller {
            Controller::CodeDeploy => "not a deployment id: a CodeDeploy deployment id is d- and 9 letters or digits, \
                                       an ECS service deployment ARN arn:aws:ecs:<region>:<account>:service-deployment/\
                                       <cluster>/<service>/<id>, a Route 53 one dns-<yyyymmdd>-<hhmmss>-<4 hex>"
                .into(),
            Controller::Ecs => {
                "not an ECS service deployment ARN: arn:<partition>:ecs:<region>:<account>:\
                                service-deployment/<cluster>/<service>/<id>, the last three of letters, digits, - and _"
                    .into()
            }
            Controller::Route53 => "not a Route 53 deployment id of hookline's: dns-<yyyymmdd>-<hhmmss>-<4 hex>".into(),
        })
    }

    /// Every controller, in the order `--controller` lists them.
    pub const ALL: [Controller; 3] = [Controller::CodeDeploy, Controller::Ecs, Controller::Route53];

    /// The longest `hook_budget` a plan may have under this controller.
    pub const fn max_hook_budget_seconds(self) -> u64 {
        match self {
            Controller::CodeDeploy => MAX_HOOK_BUDGET_SECONDS,
            // No hook deadline: the budget bounds the canary execution hookline starts itself;
            // the ECS limit is kept (docs/route53-controller.md, decision 11).
            Controller::Ecs | Controller::Route53 => MAX_ECS_HOOK_BUDGET_SECONDS,
        }
    }

    /// The name `--controller` takes and plans are stored under.
    pub const fn as_str(self) -> &'static str {
        match self {
            Controller::CodeDeploy => "codedeploy",
            Controller::Ecs => "ecs",
            Controller::Route53 => "route53",
        }
    }

    /// The limit as plans write it.
    const fn max_hook_budget_text(self) -> &'static str {
        match self {
            Controller::CodeDeploy => "60m",
            Controller::Ecs | Controller::Route53 => "24h",
        }
    }

    /// Why the budget has its limit (the end of the `hook_budget` problem).
    const fn budget_limit_reason(self) -> &'static str {
        match self {
            Controller::CodeDeploy => "CodeDeploy waits one hour for a hook",
            Controller::Ecs => {
                "an ECS lifecycle hook times out after 24h unless its timeoutConfiguration says otherwise"
            }
            Controller::Route53 => "hookline's own controller keeps the ECS limit for its canary execution",
        }
    }

    /// The hook the post-traffic bake runs in, as plan problems name it.
    const fn post_traffic_hook(self) -> &'static str {
        match self {
            Controller::CodeDeploy => "the AfterAllowTraffic hook",
            Controller::Ecs => "the POST_PRODUCTION_TRAFFIC_SHIFT hook",
            Controller::Route53 => "the canary execution",
        }
    }
}

impl fmt::Display for Controller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Controller {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Controller::ALL
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| format!("a controller, codedeploy, ecs or route53, got {s:?}"))
    }
}

impl Plan {
    /// Parses and validates a plan written as JSON, for CodeDeploy.
    pub fn from_json(text: &str) -> Result<Plan, PlanErrors> {
        Plan::from_json_for(text, Controller::CodeDeploy)
    }

    /// Parses and validates a plan written as YAML (JSON is YAML too), for CodeDeploy.
    pub fn from_yaml(text: &str) -> Result<Plan, PlanErrors> {
        Plan::from_yaml_for(text, Controller::CodeDeploy)
    }

    /// JSON if it looks like JSON, YAML otherwise; for CodeDeploy.
    pub fn parse(text: &str) -> Result<Plan, PlanErrors> {
        Plan::parse_for(text, Controller::CodeDeploy)
    }

    /// Parses and validates a plan written as JSON, for `controller`.
    pub fn from_json_for(text: &str, controller: Controller) -> Result<Plan, PlanErrors> {
        validate(wire_from_json(text)?, controller)
    }

    /// Parses and validates a plan written as YAML (JSON is YAML too), for `controller`.
    pub fn from_yaml_for(text: &str, controller: Controller) -> Result<Plan, PlanErrors> {
        validate(wire_from_yaml(text)?, controller)
    }

    /// JSON if it looks like JSON, YAML otherwise; for `controller`.
    pub fn parse_for(text: &str, controller: Controller) -> Result<Plan, PlanErrors> {
        if text.trim_start().starts_with('{') {
            Plan::from_json_for(text, controller)
        } else {
            Plan::from_yaml_for(text, controller)
        }
    }

    /// Only where production lives (`traffic.production_rule_arn`), without validating
    /// the rest of the plan. A rollback must find production even when the stored plan
    /// no longer passes today's validation (stored before a rule was added, or edited
    /// by hand): refusing to restore traffic because of a bake length would be worse.
    pub fn production_rule_of(text: &str) -> Result<Option<String>, PlanErrors> {
        #[derive(Deserialize)]
        struct RouteOnly {
            #[serde(default)]
            traffic: Option<TrafficOnly>,
        }
        #[derive(Deserialize)]
        struct TrafficOnly {
            #[serde(default)]
            production_rule_arn: Option<String>,
        }
        // JSON by the JSON parser, as `parse` does: YAML would take `7` for the string "7".
        let route: RouteOnly =
            if text.trim_start().starts_with('{') { wire_from_json(text)? } else { wire_from_yaml(text)? };
        Ok(route.traffic.and_then(|t| t.production_rule_arn))
    }
}

fn wire_from_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, PlanErrors> {
    let de = &mut serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        // serde_json counts both from 1; line 0 means it has no position. At the end of a text that
        // ends with a newline it reports column 0: shown as 1, the start of that (empty) line.
        let at = e.inner();
        let location = (at.line() > 0).then(|| Location { line: at.line(), column: at.column().max(1) });
        structural(e.path(), at, location)
    })
}

fn wire_from_yaml<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, PlanErrors> {
    let de = serde_yaml::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let location = e.inner().location().map(|l| Location { line: l.line(), column: l.column() });
        structural(e.path(), e.inner(), location)
    })
}

fn structural(path: &serde_path_to_error::Path, err: &impl fmt::Display, location: Option<Location>) -> PlanErrors {
    let field = path.to_string();
    let field = if field == "." { "plan".to_string() } else { field };
    // serde's message already says what it expected ("unknown field `x`, expected one of ...").
    let msg = without_position(&err.to_string());
    let msg = msg.as_str();
    // serde_yaml repeats the path, or the path of the map an unknown key is in (`steps[1]: unknown
    // field ...` for field `steps[1].wieght`); the wire structs' names mean nothing to users.
    let msg = match msg.split_once(": ") {
        Some((head, rest)) if !head.is_empty() && !head.contains(' ') && field.starts_with(head) => rest,
        _ => msg,
    };
    let msg = msg
        .replace("struct WireStep", "a step object")
        .replace("struct WirePlan", "a plan object")
        .replace("struct WireHealth", "a health object")
        .replace("struct WireApproval", "an approval object")
        .replace("struct WireCohort", "a cohort object")
        .replace("struct WireHttpProbe", "an http probe object")
        .replace("struct WirePostTraffic", "a post_traffic object")
        .replace("struct WireTraffic", "a traffic object")
        .replace("struct WireAnalysis", "an analysis object")
        .replace("struct WireMetric", "an analysis metric object")
        .replace("struct WireInput", "an analysis input object")
        .replace("struct WireDns", "a dns object");
    PlanErrors(vec![Problem { field, expected: msg, location }])
}

/// The parser's message without its first " at line L column C" (the problem's `location` has it);
/// what follows stays (serde_yaml's ", while parsing a flow sequence at line 3 column 8").
fn without_position(msg: &str) -> String {
    let Some(start) = msg.find(" at line ") else {
        return msg.to_string();
    };
    let rest = &msg[start + " at line ".len()..];
    let rest = rest.trim_start_matches(|c: char| c.is_ascii_digit());
    let rest = rest.strip_prefix(" column ").map_or(rest, |r| r.trim_start_matches(|c: char| c.is_ascii_digit()));
    format!("{}{rest}", &msg[..start])
}

fn validate(wire: WirePlan, controller: Controller) -> Result<Plan, PlanErrors> {
    let mut p = Problems::default();
    let gate = match wire.mode.as_deref() {
        None | Some("shift") => None,
        Some("gate") => Some(validate_gate(&mut p, &wire, controller)),
        Some(other) => {
            p.add("mode", format!("shift (hookline moves production, the default) or gate, got {other:?}"));
            None
        }
    };
    let steps_wire: &[WireStep] = if gate.is_some() { &[] } else { &wire.steps };
    if gate.is_none() && wire.steps.is_empty() {
        p.add("steps", "at least one step");
    }
    let mut steps = Vec::with_capacity(wire.steps.len());
    let mut last_weight: Option<(usize, i64)> = None;
    let mut cohorts = 0;
    for (i, ws) in steps_wire.iter().enumerate() {
        if let Some(step) = validate_step(&mut p, i, ws, &mut last_weight) {
            if matches!(step, Step::Cohort { .. }) {
                cohorts += 1;
                if cohorts > 1 {
                    p.add(format!("steps[{i}].cohort"), "at most one cohort step per plan (one header rule)");
                }
            }
            steps.push(step);
        }
    }

    let health = validate_health(&mut p, wire.health);
    let post_traffic = PostTraffic {
        bake_seconds: p.duration("post_traffic.bake", wire.post_traffic.as_ref().and_then(|t| t.bake.as_deref()), 0),
    };
    let hook_budget_seconds = p.duration("hook_budget", wire.hook_budget.as_deref(), DEFAULT_HOOK_BUDGET);
    let max_budget = controller.max_hook_budget_seconds();
    if hook_budget_seconds > max_budget {
        p.add(
            "hook_budget",
            format!(
                "at most {} ({}), got {}",
                controller.max_hook_budget_text(),
                controller.budget_limit_reason(),
                human(hook_budget_seconds)
            ),
        );
    } else if hook_budget_seconds == 0 {
        p.add("hook_budget", "a positive duration");
    }
    let traffic = Traffic { production_rule_arn: wire.traffic.and_then(|t| t.production_rule_arn) };
    match controller {
        Controller::CodeDeploy => {
            if let Some(arn) = &traffic.production_rule_arn {
                if !arn.starts_with("arn:") || !arn.contains(":listener-rule/") {
                    p.add("traffic.production_rule_arn", format!("an ELBv2 listener rule ARN, got {arn:?}"));
                }
                check_rule_mode_ends_at_100(&mut p, last_weight);
            }
        }
        Controller::Ecs => {
            if traffic.production_rule_arn.is_some() {
                p.add(
                    "traffic.production_rule_arn",
                    "absent in ECS mode: production is the rule the service names \
                     (loadBalancers[].advancedConfiguration.productionListenerRule), and a second name could disagree",
                );
            }
            if gate.is_none() {
                check_ecs_ends_at_100(&mut p, last_weight);
            }
        }
        Controller::Route53 => {
            if traffic.production_rule_arn.is_some() {
                p.add(
                    "traffic.production_rule_arn",
                    "absent for the route53 controller: production is the fqdn's weighted records",
                );
            }
            check_dns_ends_at_100(&mut p, last_weight);
        }
    }

    let analysis = wire.analysis.map(|a| analysis::validate(&mut p, a, &steps));
    let dns = wire.dns.map(|d| {
        if controller != Controller::Route53 {
            p.add("dns", "absent: only the route53 controller moves DNS weights");
        }
        let min_observed_percent = d.min_observed_percent.and_then(|m| match u8::try_from(m) {
            Ok(m) if (1..=100).contains(&m) => Some(m),
            _ => {
                p.add("dns.min_observed_percent", format!("an integer from 1 to 100, got {m}"));
                None
            }
        });
        DnsPlan { min_observed_percent }
    });
    if let (Some(_), Some(a)) = (&gate, &analysis) {
        // A gate hands a marginal or no-data judgement to nobody: its approvals are the plan's.
        if a.on_marginal == analysis::OnMarginal::Approval {
            p.add("analysis.on_marginal", "rollback or pass in gate mode (ask with an approval step's after_weight)");
        }
        if a.on_no_data == analysis::OnNoData::Approval {
            p.add("analysis.on_no_data", "rollback or pass in gate mode (ask with an approval step's after_weight)");
        }
    }
    let plan = Plan {
        step_count: steps.len(),
        steps,
        health,
        post_traffic,
        hook_budget_seconds,
        traffic,
        analysis,
        dns,
        gate,
    };
    let worst = plan.worst_case_seconds();
    if hook_budget_seconds <= max_budget && worst > hook_budget_seconds {
        p.add(
            "hook_budget",
            format!(
                "at least the worst case {} (ready timeout + bakes + approval timeouts), got {}",
                human(worst),
                human(hook_budget_seconds)
            ),
        );
    }
    check_history(&mut p, &plan);
    if plan.post_traffic.bake_seconds > hook_budget_seconds.min(max_budget) {
        p.add(
            "post_traffic.bake",
            format!("at most hook_budget ({} has the same deadline)", controller.post_traffic_hook()),
        );
    }
    if p.0.is_empty() {
        Ok(plan)
    } else {
        Err(PlanErrors(p.0))
    }
}

/// In rule mode hookline's weights live on a listener rule, and no AWS document says CodeDeploy's
/// AllowTraffic rewrites a listener rule (only the production listener is named). A plan ending
/// below 100 would leave that rule split, and one without a weight step would leave it on blue,
/// when CodeDeploy terminates blue: the canary itself must end on green 100.
fn check_rule_mode_ends_at_100(p: &mut Problems, last_weight: Option<(usize, i64)>) {
    let why = "with traffic.production_rule_arn the last weight step must be 100: CodeDeploy's AllowTraffic \
               is not documented to rewrite a listener rule, so production would stay";
    match last_weight {
        Some((_, 100)) => {}
        // Out of 1–100: the weight's own problem names it; "must end at 100" would be a second,
        // misleading one for the same mistake.
        Some((_, w)) if !(1..=100).contains(&w) => {}
        Some((i, w)) => p.add("steps", format!("{why} split when blue is terminated, got steps[{i}].weight {w}")),
        None => p.add("steps", format!("{why} on blue when blue is terminated, got no weight step")),
    }
}

/// In ECS mode the canary hook runs at POST_TEST_TRAFFIC_SHIFT, and ECS's PRODUCTION_TRAFFIC_SHIFT
/// that follows moves the production rule to green 100% without looking at the weights hookline
/// left (Amazon ECS developer guide, "blue/green deployment how it works"; containers-roadmap
/// #2853). A plan ending below 100 would hand ECS an unwatched jump to 100%: the canary must
/// take production to green 100% itself, under its health gates.
fn check_ecs_ends_at_100(p: &mut Problems, last_weight: Option<(usize, i64)>) {
    let why = "in ECS mode the last weight step must be 100: ECS's PRODUCTION_TRAFFIC_SHIFT moves production \
               to green 100% after the canary, unwatched by any health gate, so the canary must get there itself";
    match last_weight {
        Some((_, 100)) => {}
        // Out of 1–100: the weight's own problem names it; "must end at 100" would be a second,
        // misleading one for the same mistake.
        Some((_, w)) if !(1..=100).contains(&w) => {}
        Some((i, w)) => p.add("steps", format!("{why}, got steps[{i}].weight {w}")),
        None => p.add("steps", format!("{why}, got no weight step")),
    }
}

/// hookline's own controller scales the old release down after the canary: a plan ending below 100
/// would leave users on a release being emptied (the deployment file adds the last step itself,
/// docs/route53-controller.md decision 2).
fn check_dns_ends_at_100(p: &mut Problems, last_weight: Option<(usize, i64)>) {
    let why = "for the route53 controller the last weight step must be 100: the old release is scaled down \
               after the canary";
    match last_weight {
        Some((_, 100)) => {}
        // Out of 1–100: the weight's own problem names it; "must end at 100" would be a second,
        // misleading one for the same mistake.
        Some((_, w)) if !(1..=100).contains(&w) => {}
        Some((i, w)) => p.add("steps", format!("{why}, got steps[{i}].weight {w}")),
        None => p.add("steps", format!("{why}, got no weight step")),
    }
}

/// Step Functions fails an execution whose history reaches 25,000 events, outside every Catch
/// (see [`history`]): refuse a plan whose checks are too frequent for its durations.
fn check_history(p: &mut Problems, plan: &Plan) {
    let interval = plan.health.interval_seconds;
    if interval == 0 || plan.hook_budget_seconds == 0 {
        return; // reported already
    }
    let (events, execution) = history::worst_events(plan, interval);
    if events <= history::HISTORY_LIMIT {
        return;
    }
    let why = format!(
        "more than the {} hookline allows (Step Functions fails an execution at {} events, \
         with no rollback and no hook report)",
        history::HISTORY_LIMIT,
        history::HISTORY_QUOTA
    );
    match history::min_interval(plan) {
        Some(min) => p.add(
            "health.interval",
            format!(
                "at least {}: with a check every {} the {execution} execution can record {events} history events, {why}",
                human(min),
                human(interval)
            ),
        ),
        None => {
            let (events, execution) = history::worst_events(plan, plan.hook_budget_seconds);
            p.add(
                "steps",
                format!(
                    "fewer steps: even with one health check per hook_budget the {execution} execution can record \
                     {events} history events, {why}"
                ),
            );
        }
    }
}

/// The steps of a gate-mode plan: approvals only, each at the production weight ECS has reached
/// (`after_weight`, 0 to 99: ECS's steps set the weights, the plan only says where to stop and ask).
fn validate_gate(p: &mut Problems, wire: &WirePlan, controller: Controller) -> gate::Gate {
    if controller != Controller::Ecs {
        p.add("mode", "gate only with the ecs controller (--controller ecs): it judges ECS's LINEAR and CANARY steps");
    }
    if wire.post_traffic.is_some() {
        p.add(
            "post_traffic",
            "absent in gate mode: hookline answers only the PRE_PRODUCTION_TRAFFIC_SHIFT hook, and the bake after \
             the last step is ECS's (deploymentConfiguration.bakeTimeInMinutes)",
        );
    }
    let mut approvals = Vec::new();
    let mut last = None;
    for (i, ws) in wire.steps.iter().enumerate() {
        let at = format!("steps[{i}]");
        if ws.weight.is_some() || ws.bake.is_some() {
            let field = if ws.weight.is_some() { "weight" } else { "bake" };
            p.add(
                format!("{at}.{field}"),
                "absent in gate mode: ECS sets the weights and bakes (deploymentConfiguration.linearConfiguration / \
                 canaryConfiguration); name the weight an approval waits at with approval.after_weight",
            );
            continue;
        }
        if ws.cohort.is_some() {
            p.add(format!("{at}.cohort"), "absent in gate mode: hookline writes no listener rule in gate mode");
            continue;
        }
        let Some(a) = &ws.approval else {
            p.add(&at, "an approval step (gate mode has no other kind)");
            continue;
        };
        let timeout_seconds = approval_timeout(p, &at, a);
        let weight_field = format!("{at}.approval.after_weight");
        let after_weight = match a.after_weight {
            None => {
                p.add(&weight_field, "the production weight (0 to 99) at whose step the approval is asked");
                continue;
            }
            Some(w) if !(0..=99).contains(&w) => {
                p.add(&weight_field, format!("an integer from 0 to 99 (after 100 ECS asks no more), got {w}"));
                continue;
            }
            Some(w) => u8::try_from(w).unwrap_or(0),
        };
        if let Some(prev) = last {
            if after_weight < prev {
                p.add(
                    &weight_field,
                    format!("at least the previous approval's {prev} (in the order ECS reaches them)"),
                );
            }
        }
        last = Some(after_weight);
        approvals.push(gate::GateApproval {
            after_weight,
            timeout_seconds,
            on_timeout: a.on_timeout.unwrap_or_default(),
            step: i,
        });
    }
    gate::Gate { approvals, step_started_at: None }
}

/// An approval step's `timeout` (at `at`): required, a positive duration; 0 once a problem is noted.
fn approval_timeout(p: &mut Problems, at: &str, a: &wire::WireApproval) -> u64 {
    let field = format!("{at}.approval.timeout");
    let timeout_seconds = match a.timeout.as_deref() {
        None => {
            p.add(&field, "a duration like \"30m\" (an approval must end before the hook deadline)");
            0
        }
        Some(t) => p.duration(&field, Some(t), 0),
    };
    if a.timeout.is_some() && timeout_seconds == 0 {
        p.add(&field, "a positive duration");
    }
    timeout_seconds
}

fn validate_step(p: &mut Problems, i: usize, ws: &WireStep, last_weight: &mut Option<(usize, i64)>) -> Option<Step> {
    let at = format!("steps[{i}]");
    let kinds = [ws.weight.is_some(), ws.approval.is_some(), ws.cohort.is_some()];
    match kinds.iter().filter(|k| **k).count() {
        0 => {
            p.add(&at, "exactly one of weight, approval, cohort");
            return None;
        }
        1 => {}
        _ => {
            p.add(&at, "exactly one of weight, approval, cohort, found several");
            return None;
        }
    }
    if ws.bake.is_some() && ws.weight.is_none() {
        p.add(format!("{at}.bake"), "bake only on a weight step");
    }
    if let Some(w) = ws.weight {
        let field = format!("{at}.weight");
        if !(1..=100).contains(&w) {
            p.add(&field, format!("an integer from 1 to 100, got {w}"));
        } else if let Some((_, prev)) = *last_weight {
            if w <= prev {
                p.add(&field, format!("more than the previous weight {prev} (weights must increase), got {w}"));
            }
        }
        *last_weight = Some((i, w));
        let bake_seconds = p.duration(&format!("{at}.bake"), ws.bake.as_deref(), 0);
        return u8::try_from(w)
            .ok()
            .filter(|w| (1..=100).contains(w))
            .map(|weight| Step::Weight { weight, bake_seconds });
    }
    if let Some(a) = &ws.approval {
        if a.after_weight.is_some() {
            p.add(format!("{at}.approval.after_weight"), "only in gate mode (mode: gate)");
        }
        let timeout_seconds = approval_timeout(p, &at, a);
        return Some(Step::Approval { timeout_seconds, on_timeout: a.on_timeout.unwrap_or_default() });
    }
    let c = ws.cohort.as_ref()?;
    let valid_header = !c.header.is_empty()
        && c.header.len() <= 40
        && c.header.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_!#$%&'*+.^`|~".contains(&b));
    if !valid_header {
        p.add(
            format!("{at}.cohort.header"),
            format!("an HTTP header name (token characters, at most 40), got {:?}", c.header),
        );
    }
    if c.values.is_empty() {
        p.add(format!("{at}.cohort.values"), "at least one header value");
    }
    for (j, v) in c.values.iter().enumerate() {
        if v.is_empty() || v.len() > 128 {
            p.add(format!("{at}.cohort.values[{j}]"), "a non-empty string of at most 128 characters");
        }
    }
    Some(Step::Cohort { header: c.header.clone(), values: c.values.clone() })
}

fn validate_health(p: &mut Problems, wire: Option<wire::WireHealth>) -> Health {
    let Some(h) = wire else {
        return Health {
            interval_seconds: DEFAULT_INTERVAL,
            alarms: vec![],
            min_healthy_percent: 100,
            http: vec![],
            ready_timeout_seconds: DEFAULT_READY_TIMEOUT,
        };
    };
    let interval_seconds = p.duration("health.interval", h.interval.as_deref(), DEFAULT_INTERVAL);
    if interval_seconds == 0 {
        p.add("health.interval", "at least 1s");
    }
    let ready_timeout_seconds = p.duration("health.ready_timeout", h.ready_timeout.as_deref(), DEFAULT_READY_TIMEOUT);
    let min = h.min_healthy_percent.unwrap_or(100);
    if !(0..=100).contains(&min) {
        p.add("health.min_healthy_percent", format!("an integer from 0 to 100, got {min}"));
    }
    for (i, a) in h.alarms.iter().enumerate() {
        if a.is_empty() || a.len() > 255 {
            p.add(format!("health.alarms[{i}]"), "an alarm name (1 to 255 characters)");
        }
    }
    let mut http = Vec::with_capacity(h.http.len());
    for (i, probe) in h.http.iter().enumerate() {
        let at = format!("health.http[{i}]");
        if !(probe.url.starts_with("http://") || probe.url.starts_with("https://")) {
            p.add(format!("{at}.url"), format!("an http:// or https:// URL, got {:?}", probe.url));
        }
        let status = probe.expect_status.unwrap_or(200);
        if !(100..=599).contains(&status) {
            p.add(format!("{at}.expect_status"), format!("an HTTP status from 100 to 599, got {status}"));
        }
        let timeout = match probe.timeout.as_deref() {
            None => Duration::from_millis(DEFAULT_PROBE_TIMEOUT_MS),
            Some(t) => match humantime::parse_duration(t.trim()) {
                Ok(d) => d,
                Err(e) => {
                    p.add(format!("{at}.timeout"), format!("a duration like \"2s\", got {t:?} ({e})"));
                    Duration::from_millis(DEFAULT_PROBE_TIMEOUT_MS)
                }
            },
        };
        let timeout_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        if timeout_ms == 0 || timeout_ms > 30_000 {
            p.add(format!("{at}.timeout"), "from 1ms to 30s");
        }
        http.push(HttpProbe {
            url: probe.url.clone(),
            expect_status: u16::try_from(status).unwrap_or(200),
            timeout_ms,
        });
    }
    Health {
        interval_seconds,
        alarms: h.alarms,
        min_healthy_percent: u8::try_from(min.clamp(0, 100)).unwrap_or(100),
        http,
        ready_timeout_seconds,
    }
}

#[cfg(test)]
mod tests;
