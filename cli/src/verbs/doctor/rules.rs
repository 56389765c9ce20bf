//! The pure part of `hookline doctor`: each check decided from plain values the AWS adapter
//! (`doctor/mod.rs`) read. No SDK types here, so every verdict is unit-tested.

use hookline::contract::ROLLBACK_RESERVE_SECONDS;
use hookline::execution::HookEvent;
use hookline::lifecycle::ecs::stage_of;
use hookline::plan::{human, Plan};

use super::report::Check;

/// The ECS stages hookline's hook answers (docs/deploy.md section 11), as the ECS adapter names
/// them: the canary at POST_TEST_TRAFFIC_SHIFT, the post-traffic bake at POST_PRODUCTION_TRAFFIC_SHIFT.
pub fn ecs_hook_stages() -> [&'static str; 2] {
    [stage_of(HookEvent::PreTraffic), stage_of(HookEvent::PostTraffic)]
}

/// ECS's hook timeout when `timeoutConfiguration` is absent: "Default: 1440 (24 hours)" (ECS API
/// reference, DeploymentLifecycleHookTimeoutConfiguration `timeoutInMinutes`).
pub const ECS_DEFAULT_HOOK_TIMEOUT_MINUTES: i64 = 1440;

/// ALB rule priorities run from 1 to 50,000 (ELBv2 API reference, CreateRule `Priority`).
pub const MAX_RULE_PRIORITY: i32 = 50_000;

/// The last path segment of an ARN, or its name after `:function:` for Lambda.
pub fn function_name_of(arn: &str) -> &str {
    match arn.split_once(":function:") {
        // `arn:aws:lambda:r:a:function:name[:qualifier]`
        Some((_, rest)) => rest.split(':').next().unwrap_or(rest),
        None => arn,
    }
}

/// A target group's name from its ARN (`...:targetgroup/<name>/<id>`), for messages.
pub fn target_group_name(arn: &str) -> &str {
    arn.split(":targetgroup/").nth(1).and_then(|rest| rest.split('/').next()).unwrap_or(arn)
}

// ------------------------------------------------------------------ CodeDeploy group

/// A CodeDeploy deployment group as doctor reads it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CodeDeployGroup {
    pub compute_platform: Option<String>,
    pub deployment_type: Option<String>,
    pub deployment_option: Option<String>,
    pub deployment_config: Option<String>,
    pub auto_rollback_enabled: bool,
    pub auto_rollback_events: Vec<String>,
    pub alarms_enabled: bool,
    /// `(cluster, service)` of each ECS service of the group.
    pub ecs_services: Vec<(String, String)>,
    /// Target group names of each pair.
    pub pairs: Vec<Vec<String>>,
    pub prod_listeners: Vec<String>,
    pub test_listeners: Vec<String>,
}

/// The deployment group's shape: ECS blue/green with traffic control, one service, one target group
/// pair with a production and a test listener (what `lifecycle/codedeploy.rs` resolves a deployment
/// from), the all-at-once configuration (hookline moves the weights; docs/deploy.md section 4).
pub fn codedeploy_group_checks(g: &CodeDeployGroup) -> Vec<Check> {
    let mut out = Vec::new();
    let style = format!(
        "{} / {} on {}",
        g.deployment_type.as_deref().unwrap_or("no deployment type"),
        g.deployment_option.as_deref().unwrap_or("no deployment option"),
        g.compute_platform.as_deref().unwrap_or("no compute platform")
    );
    if g.compute_platform.as_deref() == Some("ECS")
        && g.deployment_type.as_deref() == Some("BLUE_GREEN")
        && g.deployment_option.as_deref() == Some("WITH_TRAFFIC_CONTROL")
    {
        out.push(Check::ok("deployment style", style));
    } else {
        out.push(Check::fail(
            "deployment style",
            format!("{style}; hookline needs an ECS blue/green group with traffic control"),
            "recreate the deployment group for compute platform ECS with deploymentStyle BLUE_GREEN / \
             WITH_TRAFFIC_CONTROL (infra/ecs-service-example.yaml)",
        ));
    }
    match g.ecs_services.as_slice() {
        [(cluster, service)] => out.push(Check::ok("ECS service", format!("{service} in cluster {cluster}"))),
        [] => out.push(Check::fail(
            "ECS service",
            "the deployment group names no ECS service",
            "set ecsServices to the service's cluster and name",
        )),
        more => out.push(Check::fail(
            "ECS service",
            format!("the deployment group names {} ECS services; hookline resolves one", more.len()),
            "keep one service per deployment group",
        )),
    }
    match g.pairs.as_slice() {
        [pair] if pair.len() == 2 => out.push(Check::ok("target group pair", pair.join(" / "))),
        _ => out.push(Check::fail(
            "target group pair",
            format!("loadBalancerInfo.targetGroupPairInfoList holds {:?}; hookline needs one pair of two", g.pairs),
            "set one targetGroupPairInfo with the blue and green target groups",
        )),
    }
    match g.prod_listeners.as_slice() {
        [one] => out.push(Check::ok("production listener", one.clone())),
        [] => out.push(Check::fail(
            "production listener",
            "the target group pair has no prodTrafficRoute listener",
            "set prodTrafficRoute.listenerArns to the production listener",
        )),
        more => out.push(Check::fail(
            "production listener",
            format!("{} production listeners; hookline moves the weights of the first only", more.len()),
            "keep one production listener per deployment group",
        )),
    }
    if g.test_listeners.is_empty() {
        out.push(Check::warn(
            "test listener",
            "the target group pair has no testTrafficRoute: green is not reachable before it takes production \
             traffic, so HTTP probes of the ready gate cannot test it",
            "set testTrafficRoute.listenerArns to a test listener (:8080 in infra/ecs-service-example.yaml)",
        ));
    } else {
        out.push(Check::ok("test listener", g.test_listeners.join(", ")));
    }
    let has = |e: &str| g.auto_rollback_events.iter().any(|x| x == e);
    if !g.auto_rollback_enabled || !has("DEPLOYMENT_FAILURE") {
        out.push(Check::fail(
            "auto-rollback on failure",
            if g.auto_rollback_enabled {
                format!("enabled for {:?} but not DEPLOYMENT_FAILURE", g.auto_rollback_events)
            } else {
                "automatic rollback is disabled".to_string()
            },
            "enable autoRollbackConfiguration with DEPLOYMENT_FAILURE (and DEPLOYMENT_STOP_ON_REQUEST): a Failed \
             hook then removes green; without it the failed deployment leaves green's task set behind",
        ));
    } else {
        out.push(Check::ok("auto-rollback on failure", "DEPLOYMENT_FAILURE rolls back"));
    }
    if g.auto_rollback_enabled && !has("DEPLOYMENT_STOP_ON_REQUEST") {
        out.push(Check::warn(
            "auto-rollback on stop",
            "a deployment stopped from the console or API without a rollback flag keeps green",
            "add DEPLOYMENT_STOP_ON_REQUEST to autoRollbackConfiguration.events",
        ));
    } else if g.auto_rollback_enabled {
        out.push(Check::ok("auto-rollback on stop", "DEPLOYMENT_STOP_ON_REQUEST rolls back"));
    }
    if g.alarms_enabled && g.auto_rollback_enabled && !has("DEPLOYMENT_STOP_ON_ALARM") {
        out.push(Check::warn(
            "auto-rollback on alarm",
            "the group's alarms stop deployments but DEPLOYMENT_STOP_ON_ALARM does not roll them back",
            "add DEPLOYMENT_STOP_ON_ALARM to autoRollbackConfiguration.events",
        ));
    }
    match g.deployment_config.as_deref() {
        Some("CodeDeployDefault.ECSAllAtOnce") => {
            out.push(Check::ok("deployment configuration", "CodeDeployDefault.ECSAllAtOnce"))
        }
        other => out.push(Check::warn(
            "deployment configuration",
            format!(
                "{}: CodeDeploy would shift production a second time after hookline's canary",
                other.unwrap_or("none")
            ),
            "use CodeDeployDefault.ECSAllAtOnce: hookline moves the weights itself during BeforeAllowTraffic",
        )),
    }
    out
}

// ------------------------------------------------------------------ ECS service

/// An ECS lifecycle hook as doctor reads it (`deploymentConfiguration.lifecycleHooks[]`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EcsHook {
    pub target_type: Option<String>,
    pub target_arn: Option<String>,
    pub role_arn: Option<String>,
    pub stages: Vec<String>,
    pub timeout_minutes: Option<i64>,
    pub timeout_action: Option<String>,
}

/// The deployment controller and strategy hookline's ECS mode runs on.
pub fn ecs_controller_checks(controller: Option<&str>, strategy: Option<&str>) -> Vec<Check> {
    let mut out = Vec::new();
    match controller.unwrap_or("ECS") {
        "ECS" => out.push(Check::ok("deployment controller", "ECS")),
        "CODE_DEPLOY" => {
            out.push(Check::fail(
                "deployment controller",
                "CODE_DEPLOY: CodeDeploy runs this service's deployments",
                "check it as a CodeDeploy service: hookline doctor --application A --group G",
            ));
            return out;
        }
        other => {
            out.push(Check::fail(
                "deployment controller",
                format!("{other}: hookline's ECS mode needs deployment controller ECS"),
                "create the service with deploymentController type ECS (a service's controller cannot change)",
            ));
            return out;
        }
    }
    match strategy {
        Some("BLUE_GREEN") => out.push(Check::ok("deployment strategy", "BLUE_GREEN")),
        Some(s @ ("LINEAR" | "CANARY")) => out.push(Check::fail(
            "deployment strategy",
            format!(
                "{s}: ECS shifts production in its own steps, so hookline's weight steps cannot run there \
                 (gate mode judges those steps instead: mode: gate in the plan, the hook at \
                 PRE_PRODUCTION_TRAFFIC_SHIFT; hookline plan validate --service-config checks that setup, \
                 doctor does not yet)"
            ),
            "set deploymentConfiguration.strategy BLUE_GREEN and let the plan's steps move the weights",
        )),
        other => out.push(Check::fail(
            "deployment strategy",
            format!("{}: hookline needs BLUE_GREEN", other.unwrap_or("ROLLING (the default)")),
            "set deploymentConfiguration.strategy BLUE_GREEN with loadBalancers[].advancedConfiguration",
        )),
    }
    out
}

/// The lifecycle hooks: each stage hookline needs runs hookline's hook function (a Lambda hook with a
/// role), no other stage does, and each timeout fits the plan's hook budget plus the rollback reserve
/// (the hook refuses a plan that does not fit: `functions/hook/src/ecs.rs`).
pub fn ecs_hook_checks(hooks: &[EcsHook], hook_function: &str, plan: Option<&Plan>) -> Vec<Check> {
    let mut out = Vec::new();
    let ours: Vec<&EcsHook> =
        hooks.iter().filter(|h| h.target_arn.as_deref().map(function_name_of) == Some(hook_function)).collect();
    for stage in ecs_hook_stages() {
        let check = format!("lifecycle hook {stage}");
        let mine: Vec<&&EcsHook> = ours.iter().filter(|h| h.stages.iter().any(|s| s == stage)).collect();
        let Some(hook) = mine.first() else {
            let elsewhere: Vec<&str> = hooks
                .iter()
                .filter(|h| h.stages.iter().any(|s| s == stage))
                .filter_map(|h| h.target_arn.as_deref())
                .collect();
            let found = if elsewhere.is_empty() {
                format!("no lifecycle hook runs {hook_function} at {stage}")
            } else {
                format!("{stage} runs {} but not hookline's hook {hook_function}", elsewhere.join(", "))
            };
            let what = if stage == stage_of(HookEvent::PreTraffic) {
                "the canary never runs: ECS shifts production straight to green"
            } else {
                "the post-traffic bake never runs"
            };
            out.push(Check::fail(
                check,
                format!("{found}: {what}"),
                format!(
                    "add {stage} to the lifecycleStages of the hook whose hookTargetArn is {hook_function} \
                     (aws ecs update-service ... --deployment-configuration, docs/deploy.md section 11)"
                ),
            ));
            continue;
        };
        let target_type = hook.target_type.as_deref().unwrap_or("AWS_LAMBDA");
        if target_type != "AWS_LAMBDA" {
            out.push(Check::fail(
                check,
                format!("targetType {target_type}: hookline's hook must be invoked as a Lambda function"),
                "set targetType AWS_LAMBDA",
            ));
            continue;
        }
        if hook.role_arn.as_deref().is_none_or(str::is_empty) {
            out.push(Check::fail(
                check,
                "the hook has no roleArn: ECS cannot invoke the function",
                "set roleArn to a role ECS assumes with lambda:InvokeFunction on the hook function",
            ));
            continue;
        }
        out.push(Check::ok(
            check,
            format!("{} (role {})", hook.target_arn.as_deref().unwrap_or(""), hook.role_arn.as_deref().unwrap_or("")),
        ));
        out.push(hook_timeout_check(stage, hook, plan));
    }
    for hook in &ours {
        let extra: Vec<&str> =
            hook.stages.iter().map(String::as_str).filter(|s| !ecs_hook_stages().contains(s)).collect();
        if !extra.is_empty() {
            out.push(Check::warn(
                "other lifecycle stages",
                format!(
                    "{hook_function} also runs at {}: hookline answers SUCCEEDED there at once and runs nothing",
                    extra.join(", ")
                ),
                "remove those stages from the hook (ECS's rollback re-invokes TEST_/PRODUCTION_TRAFFIC_SHIFT hooks)",
            ));
        }
    }
    out
}

fn hook_timeout_check(stage: &str, hook: &EcsHook, plan: Option<&Plan>) -> Check {
    let check = format!("hook timeout {stage}");
    let minutes = hook.timeout_minutes.unwrap_or(ECS_DEFAULT_HOOK_TIMEOUT_MINUTES);
    let source = if hook.timeout_minutes.is_some() { "timeoutConfiguration" } else { "ECS's default" };
    let timeout = u64::try_from(minutes).unwrap_or(0).saturating_mul(60);
    let action = hook.timeout_action.as_deref().unwrap_or("ROLLBACK");
    let Some(plan) = plan else {
        return Check::warn(
            check,
            format!("{} ({source}); no valid plan to compare it with", human(timeout)),
            "fix the plan (see the plan group), then run doctor again",
        );
    };
    let needed = plan.hook_budget_seconds.saturating_add(ROLLBACK_RESERVE_SECONDS);
    let fits = format!(
        "{} ({source}) against the plan's hook_budget {} + {} rollback reserve (worst case {})",
        human(timeout),
        human(plan.hook_budget_seconds),
        human(ROLLBACK_RESERVE_SECONDS),
        human(plan.worst_case_seconds())
    );
    if timeout < needed {
        let at_least = needed.div_ceil(60);
        return Check::fail(
            check,
            format!("{fits}: ECS would time the hook out before the plan can end, and the hook refuses the plan"),
            format!(
                "raise timeoutConfiguration.timeoutInMinutes to at least {at_least}, or shorten the plan's hook_budget"
            ),
        );
    }
    if action != "ROLLBACK" {
        return Check::warn(
            check,
            format!("{fits}; action {action}: a timed-out hook lets ECS go on to production"),
            "set timeoutConfiguration.action ROLLBACK",
        );
    }
    Check::ok(check, fits)
}

/// `loadBalancers[0].advancedConfiguration` as doctor reads it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EcsLoadBalancer {
    pub target_group: Option<String>,
    pub alternate_target_group: Option<String>,
    pub production_rule: Option<String>,
    pub test_rule: Option<String>,
    pub role_arn: Option<String>,
}

/// The blue/green load balancer configuration ECS shifts on and hookline reads its route from.
pub fn ecs_load_balancer_checks(lbs: &[EcsLoadBalancer]) -> Vec<Check> {
    let Some(lb) = lbs.first() else {
        return vec![Check::fail(
            "load balancer",
            "the service has no loadBalancers",
            "attach the service to an Application Load Balancer target group with advancedConfiguration",
        )];
    };
    let mut out = Vec::new();
    let field = |name: &str, value: &Option<String>, why: &str| match value {
        Some(v) if !v.is_empty() => Check::ok(name.to_string(), v.clone()),
        _ => Check::fail(
            name.to_string(),
            format!("loadBalancers[0].advancedConfiguration has no {name}: {why}"),
            format!("set loadBalancers[0].advancedConfiguration.{name}"),
        ),
    };
    out.push(field("alternateTargetGroupArn", &lb.alternate_target_group, "green has no target group"));
    out.push(field("productionListenerRule", &lb.production_rule, "hookline moves production's weights on this rule"));
    out.push(match &lb.test_rule {
        Some(v) if !v.is_empty() => Check::ok("testListenerRule", v.clone()),
        _ => Check::warn(
            "testListenerRule",
            "no test listener rule: green is not reachable before it takes production traffic",
            "set loadBalancers[0].advancedConfiguration.testListenerRule",
        ),
    });
    out.push(field("roleArn", &lb.role_arn, "ECS cannot change the listener rules"));
    if lb.target_group.is_some() && lb.target_group == lb.alternate_target_group {
        out.push(Check::fail(
            "target group pair",
            "targetGroupArn and alternateTargetGroupArn are the same group",
            "use two target groups",
        ));
    }
    out
}

// ------------------------------------------------------------------ traffic

/// Production's live forward: `(target group ARN, weight)`; `None` when the route has no forward action.
pub type Forward = Option<Vec<(String, u32)>>;

/// Production's weights against what the controller reports as live. With no deployment in progress,
/// all of production goes to one group of the service's pair, and (when the controller names it:
/// CodeDeploy's primary task set) the group that serves.
pub fn production_weights_check(
    route: &str,
    forward: &Forward,
    pair: &[String],
    serving: Option<&str>,
    in_progress: Option<&str>,
) -> Check {
    let check = "production weights";
    let Some(groups) = forward else {
        return Check::fail(
            check,
            format!("{route} has no forward action"),
            "make production forward to the service's target groups",
        );
    };
    let shown = |groups: &[(String, u32)]| {
        let total: u32 = groups.iter().map(|(_, w)| *w).sum();
        groups
            .iter()
            .map(|(tg, w)| {
                let pct = if total == 0 { 0 } else { (u64::from(*w) * 100 / u64::from(total)) as u32 };
                format!("{} {pct}%", target_group_name(tg))
            })
            .collect::<Vec<_>>()
            .join(" / ")
    };
    let foreign: Vec<&(String, u32)> = groups.iter().filter(|(tg, w)| *w > 0 && !pair.contains(tg)).collect();
    if let Some((tg, _)) = foreign.first() {
        return Check::fail(
            check,
            format!(
                "{route} sends traffic to {}, which is not one of the service's target groups ({})",
                target_group_name(tg),
                pair.iter().map(|t| target_group_name(t)).collect::<Vec<_>>().join(", ")
            ),
            "forward production only to the service's blue/green pair",
        );
    }
    let live: Vec<&(String, u32)> = groups.iter().filter(|(_, w)| *w > 0).collect();
    if let Some(id) = in_progress {
        return Check::warn(
            check,
            format!("{} ({}): deployment {id} is in progress, so a split is expected", shown(groups), route),
            "run doctor again once the deployment has ended to check the weights",
        );
    }
    match live.as_slice() {
        [] => Check::fail(check, format!("{route} forwards with weight 0 on every group"), "give one group weight 100"),
        [(tg, _)] => match serving {
            Some(s) if s != tg => Check::fail(
                check,
                format!(
                    "{route} sends 100% to {} but the controller's live group is {}",
                    target_group_name(tg),
                    target_group_name(s)
                ),
                format!(
                    "forward production 100% to {} (the group the controller serves from) before the next deployment",
                    target_group_name(s)
                ),
            ),
            _ => Check::ok(check, format!("100% to {} on {route}", target_group_name(tg))),
        },
        _ => {
            let to = serving.map(target_group_name).unwrap_or("the group that serves");
            Check::fail(
                check,
                format!("{} on {route} with no deployment in progress: production is left split", shown(groups)),
                format!(
                    "forward production 100% to {to} (aws elbv2 modify-listener / modify-rule), or roll back with \
                     hookline rollback if a deployment left it so"
                ),
            )
        }
    }
}

/// A listener rule as doctor reads it: its ARN, priority (`None`: the default rule) and whether it is
/// one of this service's cohort rules (tagged `hookline:service=<cluster>/<service>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleInfo {
    pub arn: String,
    pub priority: Option<i32>,
    pub own_cohort: bool,
}

/// Cohort rules: none of this service left over with no deployment in progress; no foreign rule
/// between an own cohort rule and the production rule (the cohort would shadow it); and, when the
/// plan has a cohort step, a free priority where `traffic/alb.rs` puts the cohort rule (right before
/// the production rule in rule mode, after every rule in default-action mode).
pub fn cohort_checks(
    rules: &[RuleInfo],
    production_rule: Option<&str>,
    plan_has_cohort: bool,
    in_progress: bool,
) -> Vec<Check> {
    let mut out = Vec::new();
    let own: Vec<&RuleInfo> = rules.iter().filter(|r| r.own_cohort).collect();
    if !own.is_empty() && !in_progress {
        out.push(Check::warn(
            "leftover cohort rules",
            format!(
                "{} of this service's cohort rules remain with no deployment in progress: {}",
                own.len(),
                own.iter().map(|r| r.arn.as_str()).collect::<Vec<_>>().join(", ")
            ),
            "delete them (aws elbv2 delete-rule): a cohort rule sends its header's requests to a group that no \
             longer is green",
        ));
    }
    let production_priority =
        production_rule.and_then(|arn| rules.iter().find(|r| r.arn == arn)).and_then(|r| r.priority);
    if let Some(p) = production_priority {
        for cohort in &own {
            let Some(c) = cohort.priority else { continue };
            let between: Vec<&RuleInfo> =
                rules.iter().filter(|r| !r.own_cohort && r.priority.is_some_and(|q| q > c && q < p)).collect();
            if let Some(foreign) = between.first() {
                out.push(Check::fail(
                    "rules between cohort and production",
                    format!(
                        "rule {} (priority {}) sits between cohort rule {} (priority {c}) and the production rule \
                         (priority {p}): the cohort takes requests that rule was meant to serve",
                        foreign.arn,
                        foreign.priority.unwrap_or(0),
                        cohort.arn
                    ),
                    "move that rule above the cohort rule or below the production rule",
                ));
            }
        }
    }
    if !plan_has_cohort {
        return out;
    }
    let check = "cohort rule priority";
    match (production_rule, production_priority) {
        (None, _) => {
            let highest = rules.iter().filter_map(|r| r.priority).max().unwrap_or(0);
            if highest >= MAX_RULE_PRIORITY {
                out.push(Check::fail(
                    check,
                    format!("priority {MAX_RULE_PRIORITY} is taken: no room after every rule for the cohort rule"),
                    "free the highest priorities of the production listener",
                ));
            } else {
                out.push(Check::ok(check, format!("the cohort rule goes at priority {}", highest + 1)));
            }
        }
        (Some(arn), None) => out.push(Check::fail(
            check,
            format!("production rule {arn} not found on its listener, or it has no numeric priority"),
            "point the production rule at an existing, non-default rule",
        )),
        (Some(_), Some(p)) => {
            let mut candidate = p - 1;
            let verdict = loop {
                if candidate < 1 {
                    break Check::fail(
                        check,
                        format!(
                            "no free priority below the production rule's {p}: the plan's cohort step cannot add \
                             its rule"
                        ),
                        format!(
                            "move the production rule to a higher priority (aws elbv2 set-rule-priorities), leaving \
                             {p} free below it, or drop the cohort step"
                        ),
                    );
                }
                match rules.iter().find(|r| r.priority == Some(candidate)) {
                    None => break Check::ok(check, format!("the cohort rule goes at priority {candidate}")),
                    Some(r) if r.own_cohort => candidate -= 1,
                    Some(r) => {
                        break Check::fail(
                            check,
                            format!(
                                "priority {candidate}, right before the production rule ({p}), is taken by rule {}, \
                                 which the cohort rule would shadow",
                                r.arn
                            ),
                            "leave a free priority right before the production rule, or drop the cohort step",
                        )
                    }
                }
            };
            out.push(verdict);
        }
    }
    out
}

// ------------------------------------------------------------------ alarms, metrics

/// The plan's alarms against the ones CloudWatch has (`found`: name and state).
pub fn alarm_checks(wanted: &[String], found: &[(String, String)]) -> Vec<Check> {
    if wanted.is_empty() {
        return vec![Check::warn(
            "alarms",
            "the plan names no alarm: the health gate checks target health and HTTP probes only",
            "add the service's error-rate alarm to health.alarms",
        )];
    }
    wanted
        .iter()
        .map(|name| {
            let check = format!("alarm {name}");
            match found.iter().find(|(n, _)| n == name) {
                None => Check::fail(
                    check,
                    "does not exist in CloudWatch: the health gate fails on a missing alarm",
                    format!("create alarm {name}, or remove it from the plan's health.alarms"),
                ),
                Some((_, state)) if state == "ALARM" => Check::warn(
                    check,
                    "exists, state ALARM: a deployment now fails its first health gate",
                    "find out why it is in ALARM before deploying",
                ),
                Some((_, state)) => Check::ok(check, format!("exists, state {state}")),
            }
        })
        .collect()
}

/// One judged metric's series for one side, and whether CloudWatch lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesSeen {
    pub metric: String,
    /// `blue target group web-blue`, `version v1`, ...
    pub side: String,
    pub exists: bool,
}

/// The judge's metrics: a series CloudWatch does not list has had no data point for two weeks, so the
/// judge would see no samples (and `on_no_data` decides). "ListMetrics doesn't return information about
/// metrics if those metrics haven't reported data in the past two weeks." (CloudWatch API reference,
/// ListMetrics); a new metric takes up to 15 minutes to appear there.
pub fn metric_checks(seen: &[SeriesSeen]) -> Vec<Check> {
    seen.iter()
        .map(|s| {
            let check = format!("metric {} ({})", s.metric, s.side);
            if s.exists {
                Check::ok(check, "listed in CloudWatch")
            } else {
                Check::warn(
                    check,
                    "not in CloudWatch (no data point in the last two weeks): the judge would have no samples",
                    "check the metric's name and dimensions in the plan's analysis, or send traffic through the \
                     group once",
                )
            }
        })
        .collect()
}
