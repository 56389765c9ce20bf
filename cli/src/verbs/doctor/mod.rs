//! `hookline doctor`: checks a service against everything hookline relies on, read-only, and says
//! what is wrong in words an operator acts on. Every AWS call here is a Describe/List/Get (or IAM's
//! policy simulator); the verdicts are pure functions in [`rules`] and [`policy`].

mod common;
pub mod dns_rules;
pub mod policy;
pub mod report;
mod route53;
pub mod rules;

use std::path::PathBuf;

use aws_sdk_codedeploy::types::DeploymentStatus as CdStatus;
use aws_sdk_ecs::types::ServiceDeploymentStatus as EcsStatus;
use hookline::error::AwsResultExt;
use hookline::plan::{analysis::MetricSource, Controller, Plan, Step};

use crate::address::{target_of, Target};
use crate::aws::Aws;
use crate::error::{fail, short_error, R};
use crate::output::{emit, to_json};
use common::{alarm_check, partition_of, push, role_checks, state_machine_checks, unreadable, Found};
use report::{Check, Report};
use rules::{Forward, RuleInfo};

/// `hookline doctor`'s arguments: a CodeDeploy deployment group, an ECS-native service, or a
/// deployment of hookline's own Route 53 controller (its file and/or its records' name).
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("subject").required(true).multiple(true)
    .args(["application", "cluster", "env", "file", "fqdn"])))]
pub struct DoctorArgs {
    /// CodeDeploy application (with --group).
    #[arg(long, requires = "group")]
    pub application: Option<String>,
    /// CodeDeploy deployment group.
    #[arg(long, requires = "application")]
    pub group: Option<String>,
    /// ECS cluster of an ECS-native service (with --service).
    #[arg(long, requires = "service", conflicts_with_all = ["application", "group"])]
    pub cluster: Option<String>,
    /// ECS service (with --cluster).
    #[arg(long, requires = "cluster", conflicts_with_all = ["application", "group"])]
    pub service: Option<String>,
    /// Route 53 controller: the environment whose <dir>/<env>.deploy.yml to check.
    #[arg(short = 'e', long = "env", value_name = "ENV", conflicts_with_all = ["application", "group", "cluster", "service"])]
    pub env: Option<String>,
    /// Route 53 controller: the deployment file itself (instead of <dir>/<env>.deploy.yml).
    #[arg(short = 'f', long = "file", value_name = "FILE", conflicts_with_all = ["dir", "application", "group", "cluster", "service"])]
    pub file: Option<PathBuf>,
    /// Route 53 controller: where <env>.deploy.yml is.
    #[arg(short = 'd', long = "dir", value_name = "DIR", requires = "env")]
    pub dir: Option<PathBuf>,
    /// Route 53 controller: the weighted records' name (with a file: must be its service.fqdn;
    /// alone: the newest `hookline deploy` on it names the group and services).
    #[arg(long, value_name = "NAME", conflicts_with_all = ["application", "group", "cluster", "service"])]
    pub fqdn: Option<String>,
    /// The hook function's name, as ECS lifecycle hooks must name it (default: <state-machine-prefix>-hook).
    #[arg(long, env = "HOOKLINE_HOOK_FUNCTION", value_name = "NAME")]
    pub hook_function: Option<String>,
    /// Warnings fail too (exit code 1).
    #[arg(long)]
    pub strict: bool,
    /// Print JSON for scripts.
    #[arg(long)]
    pub json: bool,
}

impl DoctorArgs {
    /// The Route 53 deployment named by `-e`/`-f`/`-d`/`--fqdn`, if that is what is checked.
    fn dns_target(&self) -> Option<route53::DnsTarget> {
        (self.env.is_some() || self.file.is_some() || self.fqdn.is_some()).then(|| route53::DnsTarget {
            env: self.env.clone(),
            file: self.file.clone(),
            dir: self.dir.clone(),
            fqdn: self.fqdn.clone(),
        })
    }

    /// The CodeDeploy group or ECS-native service named by `--application --group` / `--cluster --service`.
    fn target(&self) -> R<Target> {
        target_of([&self.application, &self.group, &self.cluster, &self.service], "name what to check")
            .map_err(|e| fail(format!("{} (or a Route 53 deployment: -e ENV [-f FILE | -d DIR], --fqdn NAME)", e.0)))
    }
}

/// `hookline doctor`: the report, exit code 0 when nothing FAILs (1 with --strict and a warning).
pub async fn run(aws: &Aws, args: &DoctorArgs) -> R<u8> {
    let report = match args.dns_target() {
        Some(target) => route53::examine(aws, &target, args.strict).await,
        None => {
            let opts = Options {
                target: args.target()?,
                hook_function: args
                    .hook_function
                    .clone()
                    .unwrap_or_else(|| format!("{}-hook", aws.settings.state_machine_prefix)),
                strict: args.strict,
            };
            examine(aws, &opts).await
        }
    };
    emit(&if args.json { to_json(&report)? } else { report.render() });
    Ok(report.exit_code())
}

/// What `doctor` was asked to check and how hookline is named there.
#[derive(Debug, Clone)]
pub struct Options {
    pub target: Target,
    /// The hook function's name (`<prefix>-hook` by default; the sandbox's is `hook`).
    pub hook_function: String,
    /// Warnings fail too.
    pub strict: bool,
}

/// Everything doctor reads about the service before it decides.
struct Seen {
    plan: Option<Plan>,
    /// The service's two target groups (ARNs).
    pair: Vec<String>,
    /// The production listener.
    listener: Option<String>,
    /// The production rule (ECS's productionListenerRule; CodeDeploy: the plan's rule), else the default action.
    production_rule: Option<String>,
    /// The group the controller says serves (CodeDeploy: the primary task set's).
    serving: Option<String>,
    /// A deployment in progress.
    in_progress: Option<String>,
    cluster: String,
    service: String,
}

/// Runs every check on `opts.target`.
pub async fn examine(aws: &Aws, opts: &Options) -> Report {
    let mut out: Found = Vec::new();
    let controller = opts.target.controller();
    let parameter = opts.target.parameter(&aws.settings.plan_parameter_prefix);
    state_machine_checks(aws, &mut out).await;
    let plan = plan_check(aws, &parameter, controller, &opts.target, &mut out).await;
    let seen = match &opts.target {
        Target::CodeDeploy { application, group } => {
            codedeploy_config(aws, application, group, plan.as_ref(), &mut out).await
        }
        Target::Ecs { cluster, service } => ecs_config(aws, cluster, service, opts, plan.as_ref(), &mut out).await,
    };
    if let Some(seen) = &seen {
        traffic_checks(aws, seen, &mut out).await;
    }
    if let Some(plan) = &plan {
        alarm_check(aws, plan, &mut out).await;
    }
    permission_checks(aws, opts, &parameter, seen.as_ref(), &mut out).await;
    if let (Some(plan), Some(seen)) = (&plan, &seen) {
        metric_check(aws, plan, seen, &mut out).await;
    }
    Report::new(opts.target.describe(), controller.as_str(), opts.strict, out)
}

// ------------------------------------------------------------------ plan

async fn plan_check(
    aws: &Aws,
    parameter: &str,
    controller: Controller,
    target: &Target,
    out: &mut Found,
) -> Option<Plan> {
    let got = aws.clients.ssm.get_parameter().name(parameter).send().await;
    let text = match got {
        Ok(o) => o.parameter().and_then(|p| p.value()).unwrap_or_default().to_string(),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_parameter_not_found()) => {
            let how = match target {
                Target::CodeDeploy { application, group } => format!("--application {application} --group {group}"),
                Target::Ecs { cluster, service } => format!("--cluster {cluster} --service {service}"),
            };
            push(
                out,
                "plan",
                [Check::fail(
                    format!("plan {parameter}"),
                    "no such SSM parameter: the hook fails every deployment without a plan",
                    format!("store one: hookline plan push PLAN_FILE {how}"),
                )],
            );
            return None;
        }
        Err(e) => {
            let e = hookline::Error::from_sdk("GetParameter", e);
            push(out, "plan", [unreadable(&format!("plan {parameter}"), "read the plan (ssm:GetParameter)", &e)]);
            return None;
        }
    };
    match Plan::parse_for(&text, controller) {
        Ok(plan) => {
            let summary = format!(
                "valid for {} ({} steps; worst case {} of the {} hook budget)",
                target.describe().split(' ').next().unwrap_or("the controller"),
                plan.step_count,
                hookline::plan::human(plan.worst_case_seconds()),
                hookline::plan::human(plan.hook_budget_seconds)
            );
            push(out, "plan", [Check::ok(format!("plan {parameter}"), summary)]);
            Some(plan)
        }
        Err(errs) => {
            let problems = errs.0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
            push(
                out,
                "plan",
                [Check::fail(
                    format!("plan {parameter}"),
                    format!("invalid for {}: {problems}", controller.as_str()),
                    "fix the named fields, check with hookline plan validate, store with hookline plan push",
                )],
            );
            None
        }
    }
}

// ------------------------------------------------------------------ CodeDeploy

async fn codedeploy_config(
    aws: &Aws,
    application: &str,
    group: &str,
    plan: Option<&Plan>,
    out: &mut Found,
) -> Option<Seen> {
    let c = "configuration";
    let got = aws
        .clients
        .codedeploy
        .get_deployment_group()
        .application_name(application)
        .deployment_group_name(group)
        .send()
        .await;
    let info = match got {
        Ok(o) => o.deployment_group_info().cloned(),
        Err(e) => {
            let e = hookline::Error::from_sdk("GetDeploymentGroup", e);
            let check = match e.aws_code() {
                Some("DeploymentGroupDoesNotExistException" | "ApplicationDoesNotExistException") => Check::fail(
                    "deployment group",
                    format!("{application}/{group} does not exist in CodeDeploy"),
                    "check --application and --group (and the region)",
                ),
                _ => unreadable("deployment group", "read the deployment group (codedeploy:GetDeploymentGroup)", &e),
            };
            push(out, c, [check]);
            return None;
        }
    };
    let Some(info) = info else {
        push(
            out,
            c,
            [Check::fail(
                "deployment group",
                format!("CodeDeploy returned no information for {application}/{group}"),
                "check --application and --group, then run doctor again",
            )],
        );
        return None;
    };
    let pairs = info.load_balancer_info().map(|lb| lb.target_group_pair_info_list().to_vec()).unwrap_or_default();
    let shape = rules::CodeDeployGroup {
        compute_platform: info.compute_platform().map(|p| p.as_str().to_string()),
        deployment_type: info.deployment_style().and_then(|s| s.deployment_type()).map(|t| t.as_str().to_string()),
        deployment_option: info.deployment_style().and_then(|s| s.deployment_option()).map(|t| t.as_str().to_string()),
        deployment_config: info.deployment_config_name().map(str::to_string),
        auto_rollback_enabled: info.auto_rollback_configuration().is_some_and(|a| a.enabled()),
        auto_rollback_events: info
            .auto_rollback_configuration()
            .map(|a| a.events().iter().map(|e| e.as_str().to_string()).collect())
            .unwrap_or_default(),
        alarms_enabled: info.alarm_configuration().is_some_and(|a| a.enabled()),
        ecs_services: info
            .ecs_services()
            .iter()
            .map(|s| {
                (s.cluster_name().unwrap_or_default().to_string(), s.service_name().unwrap_or_default().to_string())
            })
            .collect(),
        pairs: pairs
            .iter()
            .map(|p| p.target_groups().iter().filter_map(|t| t.name().map(str::to_string)).collect())
            .collect(),
        prod_listeners: pairs
            .first()
            .and_then(|p| p.prod_traffic_route())
            .map(|r| r.listener_arns().to_vec())
            .unwrap_or_default(),
        test_listeners: pairs
            .first()
            .and_then(|p| p.test_traffic_route())
            .map(|r| r.listener_arns().to_vec())
            .unwrap_or_default(),
    };
    push(out, c, [Check::ok("deployment group", format!("{application}/{group}"))]);
    push(out, c, rules::codedeploy_group_checks(&shape));
    let (cluster, service) = shape.ecs_services.first().cloned()?;
    let names = shape.pairs.first().cloned().unwrap_or_default();
    // The pair's ARNs (the deployment group names target groups by name).
    let mut pair = Vec::new();
    if !names.is_empty() {
        match aws.clients.elbv2.describe_target_groups().set_names(Some(names.clone())).send().await {
            Ok(o) => {
                for name in &names {
                    if let Some(tg) = o.target_groups().iter().find(|t| t.target_group_name() == Some(name)) {
                        pair.push(tg.target_group_arn().unwrap_or_default().to_string());
                    }
                }
                push(out, c, [Check::ok("target groups exist", names.join(", "))]);
            }
            Err(e) => {
                let e = hookline::Error::from_sdk("DescribeTargetGroups", e);
                let check = if e.aws_code() == Some("TargetGroupNotFound") {
                    Check::fail(
                        "target groups exist",
                        format!("{} not all found in ELBv2", names.join(", ")),
                        "create the target groups or fix the deployment group's pair",
                    )
                } else {
                    unreadable("target groups exist", "describe the target groups", &e)
                };
                push(out, c, [check]);
            }
        }
    }
    // The listeners the pair names (production, test) exist.
    let listeners: Vec<String> = shape.prod_listeners.iter().chain(&shape.test_listeners).cloned().collect();
    if !listeners.is_empty() {
        match aws.clients.elbv2.describe_listeners().set_listener_arns(Some(listeners.clone())).send().await {
            Ok(o) if o.listeners().len() == listeners.len() => {
                push(out, c, [Check::ok("listeners exist", format!("{} listener(s) of the pair", listeners.len()))])
            }
            Ok(o) => {
                let found: Vec<&str> = o.listeners().iter().filter_map(|l| l.listener_arn()).collect();
                let missing: Vec<&str> = listeners.iter().map(String::as_str).filter(|l| !found.contains(l)).collect();
                push(
                    out,
                    c,
                    [Check::fail(
                        "listeners exist",
                        format!("not found in ELBv2: {}", missing.join(", ")),
                        "fix the deployment group's prodTrafficRoute / testTrafficRoute listener ARNs",
                    )],
                );
            }
            Err(e) => {
                let e = hookline::Error::from_sdk("DescribeListeners", e);
                let check = if e.aws_code() == Some("ListenerNotFound") {
                    Check::fail(
                        "listeners exist",
                        format!("{} not all found in ELBv2", listeners.join(", ")),
                        "fix the deployment group's prodTrafficRoute / testTrafficRoute listener ARNs",
                    )
                } else {
                    unreadable("listeners exist", "describe the pair's listeners", &e)
                };
                push(out, c, [check]);
            }
        }
    }
    // The ECS service: CODE_DEPLOY controller; its primary task set is the group that serves.
    let mut serving = None;
    match aws.clients.ecs.describe_services().cluster(&cluster).services(&service).send().await {
        Ok(o) => match o.services().iter().find(|s| s.status() == Some("ACTIVE")) {
            Some(s) => {
                let ctl = s.deployment_controller().map(|d| d.r#type().as_str().to_string());
                if ctl.as_deref() == Some("CODE_DEPLOY") {
                    push(out, c, [Check::ok("service deployment controller", "CODE_DEPLOY")]);
                } else {
                    push(
                        out,
                        c,
                        [Check::fail(
                            "service deployment controller",
                            format!("{}: CodeDeploy cannot deploy this service", ctl.as_deref().unwrap_or("ECS")),
                            format!("for an ECS-native service run: hookline doctor --cluster {cluster} --service {service}"),
                        )],
                    );
                }
                serving = s
                    .task_sets()
                    .iter()
                    .find(|t| t.status() == Some("PRIMARY"))
                    .and_then(|t| t.load_balancers().first())
                    .and_then(|lb| lb.target_group_arn())
                    .map(str::to_string);
            }
            None => push(
                out,
                c,
                [Check::fail(
                    "ECS service exists",
                    format!("service {service} is not active in cluster {cluster}"),
                    "fix the deployment group's ecsServices or create the service",
                )],
            ),
        },
        Err(e) => {
            let e = hookline::Error::from_sdk("DescribeServices", e);
            push(out, c, [unreadable("ECS service exists", "describe the ECS service", &e)]);
        }
    }
    let in_progress = match aws
        .clients
        .codedeploy
        .list_deployments()
        .application_name(application)
        .deployment_group_name(group)
        .set_include_only_statuses(Some(vec![
            CdStatus::Created,
            CdStatus::Queued,
            CdStatus::InProgress,
            CdStatus::Ready,
            CdStatus::Baking,
        ]))
        .send()
        .await
    {
        Ok(o) => o.deployments().first().cloned(),
        Err(e) => {
            let e = hookline::Error::from_sdk("ListDeployments", e);
            push(out, "traffic", [unreadable("deployment in progress", "list the group's deployments", &e)]);
            None
        }
    };
    Some(Seen {
        plan: plan.cloned(),
        pair,
        listener: shape.prod_listeners.first().cloned(),
        production_rule: plan.and_then(|p| p.traffic.production_rule_arn.clone()),
        serving,
        in_progress,
        cluster,
        service,
    })
}

// ------------------------------------------------------------------ ECS

async fn ecs_config(
    aws: &Aws,
    cluster: &str,
    service: &str,
    opts: &Options,
    plan: Option<&Plan>,
    out: &mut Found,
) -> Option<Seen> {
    let c = "configuration";
    let found = match aws.clients.ecs.describe_services().cluster(cluster).services(service).send().await {
        Ok(o) => o.services().iter().find(|s| s.status() == Some("ACTIVE")).cloned(),
        Err(e) => {
            let e = hookline::Error::from_sdk("DescribeServices", e);
            let check = if e.aws_code() == Some("ClusterNotFoundException") {
                Check::fail(
                    "ECS service",
                    format!("cluster {cluster} does not exist"),
                    "check --cluster and the region",
                )
            } else {
                unreadable("ECS service", "describe the ECS service (ecs:DescribeServices)", &e)
            };
            push(out, c, [check]);
            return None;
        }
    };
    let Some(s) = found else {
        push(
            out,
            c,
            [Check::fail(
                "ECS service",
                format!("service {service} is not active in cluster {cluster}"),
                "check --cluster and --service (and the region)",
            )],
        );
        return None;
    };
    push(out, c, [Check::ok("ECS service", format!("{service} in cluster {cluster}"))]);
    let controller = s.deployment_controller().map(|d| d.r#type().as_str().to_string());
    let config = s.deployment_configuration();
    let strategy = config.and_then(|d| d.strategy()).map(|x| x.as_str().to_string());
    let controller_checks = rules::ecs_controller_checks(controller.as_deref(), strategy.as_deref());
    let blocked = controller_checks.iter().any(|x| x.check == "deployment controller" && x.fix.is_some());
    push(out, c, controller_checks);
    if blocked {
        return None;
    }
    let hooks: Vec<rules::EcsHook> = config
        .map(|d| d.lifecycle_hooks())
        .unwrap_or_default()
        .iter()
        .map(|h| rules::EcsHook {
            target_type: h.target_type().map(|t| t.as_str().to_string()),
            target_arn: h.hook_target_arn().map(str::to_string),
            role_arn: h.role_arn().map(str::to_string),
            stages: h.lifecycle_stages().iter().map(|x| x.as_str().to_string()).collect(),
            timeout_minutes: h.timeout_configuration().and_then(|t| t.timeout_in_minutes()).map(i64::from),
            timeout_action: h.timeout_configuration().and_then(|t| t.action()).map(|a| a.as_str().to_string()),
        })
        .collect();
    push(out, c, rules::ecs_hook_checks(&hooks, &opts.hook_function, plan));
    let lbs: Vec<rules::EcsLoadBalancer> = s
        .load_balancers()
        .iter()
        .map(|lb| {
            let adv = lb.advanced_configuration();
            rules::EcsLoadBalancer {
                target_group: lb.target_group_arn().map(str::to_string),
                alternate_target_group: adv.and_then(|a| a.alternate_target_group_arn()).map(str::to_string),
                production_rule: adv.and_then(|a| a.production_listener_rule()).map(str::to_string),
                test_rule: adv.and_then(|a| a.test_listener_rule()).map(str::to_string),
                role_arn: adv.and_then(|a| a.role_arn()).map(str::to_string),
            }
        })
        .collect();
    push(out, c, rules::ecs_load_balancer_checks(&lbs));
    let lb = lbs.first().cloned().unwrap_or_default();
    // The listener rules ECS shifts on exist (DescribeRules answers RuleNotFound for an unknown ARN).
    let named: Vec<String> = [lb.production_rule.clone(), lb.test_rule.clone()].into_iter().flatten().collect();
    if !named.is_empty() {
        let check = match aws.clients.elbv2.describe_rules().set_rule_arns(Some(named.clone())).send().await {
            Ok(o) if o.rules().len() == named.len() => {
                Check::ok("listener rules exist", format!("{} rule(s) of advancedConfiguration", named.len()))
            }
            Ok(_) => Check::fail(
                "listener rules exist",
                format!("not all of {} found in ELBv2", named.join(", ")),
                "point productionListenerRule / testListenerRule at existing rules",
            ),
            Err(e) => {
                let e = hookline::Error::from_sdk("DescribeRules", e);
                if e.aws_code() == Some("RuleNotFound") {
                    Check::fail(
                        "listener rules exist",
                        format!("not all of {} found in ELBv2", named.join(", ")),
                        "point productionListenerRule / testListenerRule at existing rules",
                    )
                } else {
                    unreadable("listener rules exist", "describe the service's listener rules", &e)
                }
            }
        };
        push(out, c, [check]);
    }
    let pair: Vec<String> =
        [lb.target_group.clone(), lb.alternate_target_group.clone()].into_iter().flatten().collect();
    let listener = match lb.production_rule.as_deref().map(hookline::lifecycle::ecs::listener_of_rule) {
        Some(Ok(l)) => Some(l),
        Some(Err(e)) => {
            push(
                out,
                c,
                [Check::fail(
                    "productionListenerRule",
                    short_error(&e),
                    "name a listener rule ARN of the production listener",
                )],
            );
            None
        }
        None => None,
    };
    let in_progress = match aws
        .clients
        .ecs
        .list_service_deployments()
        .cluster(cluster)
        .service(service)
        .set_status(Some(vec![
            EcsStatus::Pending,
            EcsStatus::InProgress,
            EcsStatus::RollbackRequested,
            EcsStatus::RollbackInProgress,
            EcsStatus::StopRequested,
        ]))
        .send()
        .await
    {
        Ok(o) => o.service_deployments().first().and_then(|d| d.service_deployment_arn()).map(str::to_string),
        Err(e) => {
            let e = hookline::Error::from_sdk("ListServiceDeployments", e);
            push(out, "traffic", [unreadable("deployment in progress", "list the service's deployments", &e)]);
            None
        }
    };
    Some(Seen {
        plan: plan.cloned(),
        pair,
        listener,
        production_rule: lb.production_rule,
        serving: None,
        in_progress,
        cluster: cluster.to_string(),
        service: service.to_string(),
    })
}

// ------------------------------------------------------------------ traffic

fn forward_of(actions: &[aws_sdk_elasticloadbalancingv2::types::Action]) -> Forward {
    use aws_sdk_elasticloadbalancingv2::types::ActionTypeEnum;
    let forward = actions.iter().find(|a| a.r#type() == Some(&ActionTypeEnum::Forward))?;
    match forward.forward_config().map(|c| c.target_groups()).filter(|t| !t.is_empty()) {
        Some(groups) => Some(
            groups
                .iter()
                .map(|t| {
                    (
                        t.target_group_arn().unwrap_or_default().to_string(),
                        u32::try_from(t.weight().unwrap_or(1)).unwrap_or(0),
                    )
                })
                .collect(),
        ),
        None => Some(vec![(forward.target_group_arn().unwrap_or_default().to_string(), 1)]),
    }
}

/// Every rule of `listener` (DescribeRules pages with `Marker`).
async fn listener_rules(
    aws: &Aws,
    listener: &str,
) -> Result<Vec<aws_sdk_elasticloadbalancingv2::types::Rule>, hookline::Error> {
    let mut rules = Vec::new();
    let mut marker = None;
    loop {
        let o = aws
            .clients
            .elbv2
            .describe_rules()
            .listener_arn(listener)
            .set_marker(marker)
            .send()
            .await
            .aws("DescribeRules")?;
        rules.extend(o.rules().iter().cloned());
        marker = o.next_marker().map(str::to_string);
        if marker.is_none() {
            return Ok(rules);
        }
    }
}

async fn traffic_checks(aws: &Aws, seen: &Seen, out: &mut Found) {
    let t = "traffic";
    let Some(listener) = &seen.listener else { return };
    let rules = match listener_rules(aws, listener).await {
        Ok(rules) => rules,
        Err(e) => {
            push(out, t, [unreadable("production listener", "describe the production listener's rules", &e)]);
            return;
        }
    };
    // Production's forward: the production rule's actions, else the listener's default action.
    let (route, forward) = match &seen.production_rule {
        Some(rule) => match rules.iter().find(|r| r.rule_arn() == Some(rule)) {
            Some(r) => (format!("production rule {rule}"), forward_of(r.actions())),
            None => {
                push(
                    out,
                    t,
                    [Check::fail(
                        "production rule",
                        format!("{rule} is not a rule of listener {listener}"),
                        "point the production rule at an existing rule of the production listener",
                    )],
                );
                return;
            }
        },
        None => match aws.clients.elbv2.describe_listeners().listener_arns(listener).send().await {
            Ok(o) => match o.listeners().first() {
                Some(l) => (format!("listener {listener}"), forward_of(l.default_actions())),
                None => {
                    push(
                        out,
                        t,
                        [Check::fail(
                            "production listener",
                            format!("{listener} not found"),
                            "fix the production listener ARN",
                        )],
                    );
                    return;
                }
            },
            Err(e) => {
                let e = hookline::Error::from_sdk("DescribeListeners", e);
                push(out, t, [unreadable("production listener", "describe the production listener", &e)]);
                return;
            }
        },
    };
    push(
        out,
        t,
        [rules::production_weights_check(
            &route,
            &forward,
            &seen.pair,
            seen.serving.as_deref(),
            seen.in_progress.as_deref(),
        )],
    );
    // This service's cohort rules, by their tag (traffic/alb.rs SERVICE_TAG).
    let own_value = format!("{}/{}", seen.cluster, seen.service);
    let arns: Vec<String> = rules
        .iter()
        .filter(|r| !r.is_default().unwrap_or(false))
        .filter_map(|r| r.rule_arn().map(str::to_string))
        .collect();
    let mut own = std::collections::HashSet::new();
    for chunk in arns.chunks(20) {
        match aws.clients.elbv2.describe_tags().set_resource_arns(Some(chunk.to_vec())).send().await {
            Ok(o) => {
                for d in o.tag_descriptions() {
                    let mine = d.tags().iter().any(|tag| {
                        tag.key() == Some(hookline::traffic::SERVICE_TAG) && tag.value() == Some(own_value.as_str())
                    });
                    if mine {
                        own.insert(d.resource_arn().unwrap_or_default().to_string());
                    }
                }
            }
            Err(e) => {
                let e = hookline::Error::from_sdk("DescribeTags", e);
                push(out, t, [unreadable("cohort rules", "read the listener rules' tags", &e)]);
                return;
            }
        }
    }
    let infos: Vec<RuleInfo> = rules
        .iter()
        .map(|r| RuleInfo {
            arn: r.rule_arn().unwrap_or_default().to_string(),
            priority: r.priority().and_then(|p| p.parse().ok()),
            own_cohort: r.rule_arn().is_some_and(|a| own.contains(a)),
        })
        .collect();
    let has_cohort = seen.plan.as_ref().is_some_and(|p| p.steps.iter().any(|s| matches!(s, Step::Cohort { .. })));
    push(out, t, rules::cohort_checks(&infos, seen.production_rule.as_deref(), has_cohort, seen.in_progress.is_some()));
}

// ------------------------------------------------------------------ metrics

/// One side of a judged metric: `(side, dimensions)`.
type Series = (String, Vec<(String, String)>);

async fn metric_check(aws: &Aws, plan: &Plan, seen: &Seen, out: &mut Found) {
    let Some(analysis) = &plan.analysis else { return };
    let mut seen_series = Vec::new();
    for m in &analysis.metrics {
        let sides: Vec<Series> = match &m.source {
            MetricSource::Alb => {
                let Some(listener) = &seen.listener else { continue };
                let mut sides = Vec::new();
                for tg in &seen.pair {
                    match hookline::health::metrics::alb_dimensions(tg, listener) {
                        Ok(dims) => sides.push((format!("target group {}", rules::target_group_name(tg)), dims)),
                        Err(e) => push(
                            out,
                            "metrics",
                            [Check::fail(format!("metric {}", m.name), short_error(&e), "fix the production route")],
                        ),
                    }
                }
                sides
            }
            MetricSource::Custom { dimensions, version_dimension, blue, green, .. } => [blue, green]
                .into_iter()
                .map(|version| {
                    let mut dims: Vec<(String, String)> =
                        dimensions.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                    dims.push((version_dimension.clone(), version.clone()));
                    (format!("{version_dimension} {version}"), dims)
                })
                .collect(),
        };
        let namespace = match &m.source {
            MetricSource::Alb => hookline::plan::analysis::ALB_NAMESPACE.to_string(),
            MetricSource::Custom { namespace, .. } => namespace.clone(),
        };
        // Every CloudWatch metric the judged metric reads (its expression's inputs, or itself), per
        // side. A count read with `missing: zero` is left out: ALB reports counts only when non-zero,
        // so a healthy group's 5XX count is rightly absent from CloudWatch.
        let series = sides.iter().flat_map(|(side, dims)| {
            m.inputs
                .iter()
                .filter(|input| input.missing != hookline::plan::analysis::Missing::Zero)
                .map(move |input| (side.clone(), input.metric_name.clone(), dims))
        });
        for (side, metric_name, dims) in series {
            let filters: Vec<aws_sdk_cloudwatch::types::DimensionFilter> = dims
                .iter()
                .map(|(k, v)| aws_sdk_cloudwatch::types::DimensionFilter::builder().name(k).value(v).build())
                .collect();
            let listed = aws
                .clients
                .cloudwatch
                .list_metrics()
                .namespace(&namespace)
                .metric_name(&metric_name)
                .set_dimensions(Some(filters))
                .send()
                .await
                .aws("ListMetrics");
            match listed {
                Ok(o) => seen_series.push(rules::SeriesSeen {
                    metric: if m.inputs.len() > 1 { format!("{} input {metric_name}", m.name) } else { m.name.clone() },
                    side,
                    exists: !o.metrics().is_empty(),
                }),
                Err(e) => push(
                    out,
                    "metrics",
                    [unreadable(&format!("metric {}", m.name), "list metrics (cloudwatch:ListMetrics)", &e)],
                ),
            }
        }
    }
    push(out, "metrics", rules::metric_checks(&seen_series));
}

// ------------------------------------------------------------------ permissions

async fn permission_checks(aws: &Aws, opts: &Options, parameter: &str, seen: Option<&Seen>, out: &mut Found) {
    let p = "permissions";
    let Some(seen) = seen else {
        push(
            out,
            p,
            [Check::warn(
                "function roles",
                "not checked: the service's configuration could not be read",
                "fix the configuration first",
            )],
        );
        return;
    };
    let Some(listener) = seen.listener.clone() else {
        push(
            out,
            p,
            [Check::warn("function roles", "not checked: no production listener", "fix the configuration first")],
        );
        return;
    };
    let account = match aws.sts.get_caller_identity().send().await {
        Ok(o) => o.account().unwrap_or_default().to_string(),
        Err(e) => {
            let e = hookline::Error::from_sdk("GetCallerIdentity", e);
            push(out, p, [unreadable("function roles", "tell the account (sts:GetCallerIdentity)", &e)]);
            return;
        }
    };
    let region = aws.region.clone();
    let partition = partition_of(&region);
    let plan = seen.plan.as_ref();
    let service = policy::Service {
        partition: partition.to_string(),
        region,
        account: account.clone(),
        cluster: seen.cluster.clone(),
        service: seen.service.clone(),
        kind: match &opts.target {
            Target::CodeDeploy { application, group } => {
                policy::Kind::CodeDeploy { application: application.clone(), group: group.clone() }
            }
            Target::Ecs { .. } => policy::Kind::Ecs,
        },
        listener,
        production_rule: seen.production_rule.clone(),
        plan_parameter: parameter.to_string(),
        state_machine_prefix: aws.settings.state_machine_prefix.clone(),
        alarms: plan.map(|p| p.health.alarms.clone()).unwrap_or_default(),
        cohort: plan.is_some_and(|p| p.steps.iter().any(|s| matches!(s, Step::Cohort { .. }))),
        analysis: plan.is_some_and(|p| p.analysis.is_some()),
    };
    let needs = policy::needs(&service);
    role_checks(aws, &needs, partition, &account, out).await;
}

#[cfg(test)]
mod tests;
