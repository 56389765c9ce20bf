//! Can hookline's function roles make the calls a deployment of this service needs?
//!
//! [`needs`] lists them: each function's actions on this service's resources, as the functions make
//! them (the grants of infra/template.yaml and their table in docs/deploy.md section 9). doctor asks
//! IAM's policy simulator (`iam:SimulatePrincipalPolicy`) when the caller may use it; otherwise it reads
//! the roles' policies and [`evaluate`]s them here: a deliberately small evaluator of identity
//! policies, documented in docs/cli.md:
//! - an explicit `Deny` that matches wins; else an `Allow` that matches allows; else denied;
//! - `Action` / `NotAction` match case-insensitively with `*` and `?` wildcards, `Resource` /
//!   `NotResource` case-sensitively with the same wildcards;
//! - a `Condition` applies only with operators `StringEquals`, `StringLike`, `ArnEquals`, `ArnLike`
//!   (and their `IfExists` forms) on keys hookline's call sets (e.g. `elasticloadbalancing:CreateAction`
//!   for CreateRule with tags); any other condition makes the statement not apply. Resource policies,
//!   permission boundaries, session policies and SCPs are not evaluated (the simulator evaluates
//!   boundaries).

use serde_json::Value;

/// A function of hookline's, with the template's logical id of its role.
pub const FUNCTIONS: [(&str, &str); 5] = [
    ("hook", "HookRole"),
    ("shift-weight", "ShiftWeightRole"),
    ("validate-health", "ValidateHealthRole"),
    ("finalize", "FinalizeRole"),
    ("rollback", "RollbackRole"),
];

/// One call a function makes for this service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Need {
    pub function: &'static str,
    pub action: &'static str,
    pub resource: String,
    /// Condition keys the call carries, e.g. `("elasticloadbalancing:CreateAction", "CreateRule")`.
    pub context: Vec<(&'static str, &'static str)>,
    /// Why the function makes it, for the message.
    pub why: &'static str,
}

/// The controller and resources of the service doctor checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub partition: String,
    pub region: String,
    pub account: String,
    pub cluster: String,
    pub service: String,
    pub kind: Kind,
    /// The production listener.
    pub listener: String,
    /// The production rule hookline moves weights on (ECS: `productionListenerRule`; CodeDeploy: the
    /// plan's `traffic.production_rule_arn`), else `None` (the listener's default action).
    pub production_rule: Option<String>,
    /// The SSM parameter of the plan.
    pub plan_parameter: String,
    pub state_machine_prefix: String,
    pub alarms: Vec<String>,
    pub cohort: bool,
    pub analysis: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    CodeDeploy { application: String, group: String },
    Ecs,
}

impl Service {
    fn arn(&self, service: &str, rest: &str) -> String {
        format!("arn:{}:{service}:{}:{}:{rest}", self.partition, self.region, self.account)
    }

    /// A rule of the production listener (the cohort rules hookline adds and removes).
    fn listener_rule(&self) -> String {
        format!("{}/doctor", self.listener.replacen(":listener/", ":listener-rule/", 1))
    }

    fn state_machine(&self, name: &str) -> String {
        self.arn("states", &format!("stateMachine:{}-{name}", self.state_machine_prefix))
    }

    fn execution(&self, name: &str) -> String {
        self.arn("states", &format!("execution:{}-{name}:doctor", self.state_machine_prefix))
    }

    fn parameter(&self, name: &str) -> String {
        self.arn("ssm", &format!("parameter/{}", name.trim_start_matches('/')))
    }
}

/// Every call hookline's functions make for `s`, per function.
pub fn needs(s: &Service) -> Vec<Need> {
    let mut out = Vec::new();
    let mut add = |function: &'static str, action: &'static str, resource: String, why: &'static str| {
        out.push(Need { function, action, resource, context: vec![], why })
    };
    let star = || "*".to_string();
    let weights_action = if s.production_rule.is_some() {
        "elasticloadbalancing:ModifyRule"
    } else {
        "elasticloadbalancing:ModifyListener"
    };
    let weights_resource = s.production_rule.clone().unwrap_or_else(|| s.listener.clone());
    let plan = s.parameter(&s.plan_parameter);
    let last_release = s.parameter(&format!("{}/last-release", s.plan_parameter));
    for describe in ["DescribeListeners", "DescribeRules", "DescribeTags"] {
        let action = match describe {
            "DescribeListeners" => "elasticloadbalancing:DescribeListeners",
            "DescribeRules" => "elasticloadbalancing:DescribeRules",
            _ => "elasticloadbalancing:DescribeTags",
        };
        for f in ["hook", "shift-weight", "rollback"] {
            add(f, action, star(), "reads production's weights and cohort rules");
        }
    }
    add("finalize", "elasticloadbalancing:DescribeRules", star(), "finds the cohort rules to remove");
    add("finalize", "elasticloadbalancing:DescribeTags", star(), "finds the cohort rules to remove");
    add("rollback", "elasticloadbalancing:DescribeTargetGroups", star(), "resolves the target groups");
    add("validate-health", "elasticloadbalancing:DescribeTargetHealth", star(), "checks green's targets");
    for f in ["hook", "shift-weight", "rollback"] {
        add(f, weights_action, weights_resource.clone(), "sets production's weights (blue back to 100%)");
    }
    if s.cohort {
        add("shift-weight", "elasticloadbalancing:CreateRule", s.listener.clone(), "adds the cohort rule");
        out.push(Need {
            function: "shift-weight",
            action: "elasticloadbalancing:AddTags",
            resource: s.listener_rule(),
            context: vec![("elasticloadbalancing:CreateAction", "CreateRule")],
            why: "tags the cohort rule it creates",
        });
        let mut add = |function: &'static str, action: &'static str, resource: String, why: &'static str| {
            out.push(Need { function, action, resource, context: vec![], why })
        };
        for f in ["hook", "shift-weight", "finalize", "rollback"] {
            add(f, "elasticloadbalancing:DeleteRule", s.listener_rule(), "removes the cohort rules");
        }
    }
    let mut add = |function: &'static str, action: &'static str, resource: String, why: &'static str| {
        out.push(Need { function, action, resource, context: vec![], why })
    };
    add("hook", "ssm:GetParameter", plan.clone(), "reads the plan");
    add("rollback", "ssm:GetParameter", plan, "reads the plan (console rollback)");
    add("finalize", "ssm:PutParameter", last_release, "records the release");
    for machine in ["canary", "post-traffic"] {
        add("hook", "states:StartExecution", s.state_machine(machine), "starts the canary and post-traffic");
        add("hook", "states:DescribeExecution", s.execution(machine), "tells its own executions apart");
        add("rollback", "states:ListExecutions", s.state_machine(machine), "finds the running executions");
        add("rollback", "states:DescribeExecution", s.execution(machine), "reads the running executions");
        add("rollback", "states:StopExecution", s.execution(machine), "stops the running executions");
    }
    for alarm in &s.alarms {
        add(
            "validate-health",
            "cloudwatch:DescribeAlarms",
            s.arn("cloudwatch", &format!("alarm:{alarm}")),
            "reads the plan's alarms",
        );
    }
    if s.analysis {
        add("validate-health", "cloudwatch:GetMetricData", star(), "reads the judge's metrics");
    }
    match &s.kind {
        Kind::CodeDeploy { application, group } => {
            let group = s.arn("codedeploy", &format!("deploymentgroup:{application}/{group}"));
            for f in ["hook", "shift-weight", "validate-health", "rollback"] {
                add(f, "codedeploy:GetDeployment", group.clone(), "reads the deployment");
            }
            add("hook", "codedeploy:GetDeploymentGroup", group.clone(), "resolves the deployment group");
            add("rollback", "codedeploy:GetDeploymentGroup", group, "resolves the deployment group");
            for f in ["hook", "finalize", "rollback"] {
                add(f, "codedeploy:GetDeploymentTarget", star(), "reads the lifecycle event");
                add(f, "codedeploy:PutLifecycleEventHookExecutionStatus", star(), "reports the hook");
            }
            add("rollback", "codedeploy:StopDeployment", star(), "stops the deployment with rollback");
            let task_sets = s.arn("ecs", &format!("task-set/{}/{}/doctor", s.cluster, s.service));
            add("validate-health", "ecs:DescribeTaskSets", task_sets, "checks green's task set");
        }
        Kind::Ecs => {
            let deployments = s.arn("ecs", &format!("service-deployment/{}/{}/doctor", s.cluster, s.service));
            let revisions = s.arn("ecs", &format!("service-revision/{}/{}/doctor", s.cluster, s.service));
            for f in ["hook", "shift-weight", "validate-health", "rollback"] {
                add(f, "ecs:DescribeServiceDeployments", deployments.clone(), "reads the service deployment");
            }
            add("hook", "ecs:DescribeServiceRevisions", revisions, "resolves blue and green");
            add("rollback", "ecs:StopServiceDeployment", deployments, "stops the deployment with rollback");
            let service = s.arn("ecs", &format!("service/{}/{}", s.cluster, s.service));
            add("rollback", "ecs:StopServiceDeployment", service, "stops the deployment with rollback");
        }
    }
    out
}

/// The resources of a Route 53 controller deployment doctor checks (docs/route53-controller.md,
/// "IAM"): the functions act on the release record, the hosted zone's weighted records and the
/// releases' ECS services; `hookline deploy` and `undeploy` run with the operator's credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsService {
    pub partition: String,
    pub region: String,
    pub account: String,
    /// The hosted zone id (without `/hostedzone/`).
    pub zone_id: String,
    /// The cluster's name.
    pub cluster: String,
    /// Both releases' ECS services.
    pub services: Vec<String>,
    pub plan_parameter_prefix: String,
    pub alarms: Vec<String>,
    /// Finalize deletes the old release's service rather than scaling it to 0.
    pub remove_old: bool,
}

/// Every call hookline's functions make for a Route 53 deployment of `s`, per function (the
/// grants of infra/template.yaml's Route 53 statements). The hook takes no part: `hookline deploy`
/// starts the canary itself.
pub fn dns_needs(s: &DnsService) -> Vec<Need> {
    let arn = |service: &str, rest: &str| format!("arn:{}:{service}:{}:{}:{rest}", s.partition, s.region, s.account);
    let record = hookline::contract::dns_release_parameter(&s.plan_parameter_prefix, "doctor");
    let record = arn("ssm", &format!("parameter/{}", record.trim_start_matches('/')));
    let zone = format!("arn:{}:route53:::hostedzone/{}", s.partition, s.zone_id);
    let change = format!("arn:{}:route53:::change/doctor", s.partition);
    let services: Vec<String> = s.services.iter().map(|n| arn("ecs", &format!("service/{}/{n}", s.cluster))).collect();
    let mut out = Vec::new();
    let mut add = |function: &'static str, action: &'static str, resource: String, why: &'static str| {
        out.push(Need { function, action, resource, context: vec![], why })
    };
    for f in ["shift-weight", "rollback"] {
        add(f, "route53:ListResourceRecordSets", zone.clone(), "reads the two weighted records");
        add(f, "route53:ChangeResourceRecordSets", zone.clone(), "writes the two weights in one batch");
        add(f, "route53:GetChange", change.clone(), "waits for the change to be INSYNC");
    }
    add("shift-weight", "ssm:GetParameter", record.clone(), "reads the release record (the deployment)");
    add("validate-health", "ssm:GetParameter", record.clone(), "reads the release record (the deployment)");
    add("finalize", "ssm:GetParameter", record.clone(), "reads the release record");
    add("finalize", "ssm:PutParameter", record.clone(), "marks the release succeeded");
    add("rollback", "ssm:GetParameter", record.clone(), "reads the release record");
    add("rollback", "ssm:PutParameter", record, "marks the release failed");
    add("validate-health", "elasticloadbalancing:DescribeTargetHealth", "*".into(), "checks green's targets");
    add("validate-health", "cloudwatch:GetMetricData", "*".into(), "reads both load balancers' RequestCount");
    for service in &services {
        add("validate-health", "ecs:DescribeServices", service.clone(), "checks green's service is stable");
        for f in ["finalize", "rollback"] {
            add(f, "ecs:DescribeServices", service.clone(), "reads the release's service");
            add(f, "ecs:UpdateService", service.clone(), "scales the release no longer served to 0");
        }
        if s.remove_old {
            add("finalize", "ecs:DeleteService", service.clone(), "removes the old release (remove_old)");
        }
    }
    for alarm in &s.alarms {
        add(
            "validate-health",
            "cloudwatch:DescribeAlarms",
            arn("cloudwatch", &format!("alarm:{alarm}")),
            "reads the plan's alarms",
        );
    }
    out
}

/// What the policies say about one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    /// No statement allows it.
    ImplicitDeny,
    /// A statement denies it.
    ExplicitDeny,
}

/// `pattern` (IAM wildcards `*` and `?`) against `text`.
pub fn wildcard(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0usize, 0usize, None::<usize>, 0usize);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// A string or a list of strings (IAM's JSON allows both).
fn strings(v: Option<&Value>) -> Option<Vec<String>> {
    match v? {
        Value::String(s) => Some(vec![s.clone()]),
        Value::Array(items) => Some(items.iter().filter_map(|i| i.as_str().map(str::to_string)).collect()),
        _ => None,
    }
}

fn matches_any(patterns: &[String], value: &str, case_insensitive: bool) -> bool {
    patterns.iter().any(|p| {
        if case_insensitive {
            wildcard(&p.to_ascii_lowercase(), &value.to_ascii_lowercase())
        } else {
            wildcard(p, value)
        }
    })
}

/// Whether the statement's `Condition` holds for `context` (see the module's rules).
fn condition_holds(condition: Option<&Value>, context: &[(&str, &str)]) -> bool {
    let Some(condition) = condition.and_then(Value::as_object) else {
        return true;
    };
    condition.iter().all(|(operator, keys)| {
        let (base, if_exists) = match operator.strip_suffix("IfExists") {
            Some(base) => (base, true),
            None => (operator.as_str(), false),
        };
        let Some(keys) = keys.as_object() else { return false };
        keys.iter().all(|(key, wanted)| {
            let wanted = strings(Some(wanted)).unwrap_or_default();
            let Some((_, value)) = context.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)) else {
                return if_exists;
            };
            match base {
                "StringEquals" | "ArnEquals" => wanted.iter().any(|w| w == value),
                "StringLike" | "ArnLike" => matches_any(&wanted, value, false),
                _ => false,
            }
        })
    })
}

fn statement_matches(st: &Value, action: &str, resource: &str, context: &[(&str, &str)]) -> bool {
    let action_ok = match (strings(st.get("Action")), strings(st.get("NotAction"))) {
        (Some(a), _) => matches_any(&a, action, true),
        (None, Some(na)) => !matches_any(&na, action, true),
        (None, None) => false,
    };
    let resource_ok = match (strings(st.get("Resource")), strings(st.get("NotResource"))) {
        (Some(r), _) => matches_any(&r, resource, false),
        (None, Some(nr)) => !matches_any(&nr, resource, false),
        (None, None) => false,
    };
    action_ok && resource_ok && condition_holds(st.get("Condition"), context)
}

/// Statements of a policy document (`Statement` may be one object or a list).
fn statements(doc: &Value) -> Vec<&Value> {
    match doc.get("Statement") {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(one @ Value::Object(_)) => vec![one],
        _ => vec![],
    }
}

/// The decision of identity policies `docs` on one call.
pub fn evaluate(docs: &[Value], action: &str, resource: &str, context: &[(&str, &str)]) -> Decision {
    let mut allowed = false;
    for doc in docs {
        for st in statements(doc) {
            if !statement_matches(st, action, resource, context) {
                continue;
            }
            match st.get("Effect").and_then(Value::as_str) {
                Some("Deny") => return Decision::ExplicitDeny,
                Some("Allow") => allowed = true,
                _ => {}
            }
        }
    }
    if allowed {
        Decision::Allowed
    } else {
        Decision::ImplicitDeny
    }
}

/// A policy document as IAM returns it: URL-encoded JSON (RFC 3986; IAM API reference,
/// GetRolePolicy `PolicyDocument`), or plain JSON.
pub fn parse_document(text: &str) -> Option<Value> {
    if let Ok(v) = serde_json::from_str(text) {
        return Some(v);
    }
    let decoded = percent_encoding::percent_decode_str(text).decode_utf8().ok()?;
    serde_json::from_str(&decoded).ok()
}

/// The role among `names` that holds `logical_id`'s role: the name itself, or the name CloudFormation
/// gives a role without `RoleName`: "CloudFormation might name an Amazon S3 bucket with the following
/// physical ID MyStack-MyBucket-abcdefghijk1" (CloudFormation User Guide, "Name type"), i.e.
/// `<stack>-<logical id>-<suffix>`, matched here without regard to case; with several, the one whose
/// stack is named `prefix`. `Err` lists the candidates when none or several fit.
pub fn role_for<'a>(names: &'a [String], logical_id: &str, prefix: &str) -> Result<&'a str, Vec<&'a str>> {
    if let Some(exact) = names.iter().find(|n| *n == logical_id) {
        return Ok(exact);
    }
    let infix = format!("-{logical_id}-").to_ascii_lowercase();
    let candidates: Vec<&str> =
        names.iter().filter(|n| n.to_ascii_lowercase().contains(&infix)).map(String::as_str).collect();
    match candidates.as_slice() {
        [one] => Ok(one),
        [] => Err(vec![]),
        many => {
            let stack = format!("{prefix}-{logical_id}-").to_ascii_lowercase();
            let of_prefix: Vec<&str> =
                many.iter().copied().filter(|n| n.to_ascii_lowercase().starts_with(&stack)).collect();
            match of_prefix.as_slice() {
                [one] => Ok(one),
                _ => Err(candidates),
            }
        }
    }
}
