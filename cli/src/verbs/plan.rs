//! `hookline plan validate` / `hookline plan preview` (no AWS calls) and `hookline plan push`
//! (validated for the target's controller, then stored in SSM where the hook reads it).

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use hookline::execution::HookEvent;
use hookline::plan::{human, Controller, Plan, PlanErrors, Step};

use crate::address::{target_of, Target};
use crate::aws::{Aws, Settings};
use crate::error::{fail, R};
use crate::execution_history::hook_name;
use crate::output::emit;

/// `hookline plan`'s arguments.
#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(subcommand)]
    pub command: PlanCommand,
}

#[derive(Debug, Subcommand)]
pub enum PlanCommand {
    /// Exit non-zero with one problem per line, each naming the field (and file:line:column when the
    /// text is not valid JSON/YAML).
    /// A deployment file (`*.deploy.yml`, or `-e ENV [-d DIR]`) is parsed, rendered and mapped onto
    /// its plan: problems print as `file:line:col: key: message`.
    Validate {
        #[command(flatten)]
        source: PlanSource,
        #[command(flatten)]
        controller: ControllerArg,
        /// The ECS service the plan is for, as `aws ecs describe-services` prints it (a JSON file;
        /// its `services[0].deploymentConfiguration`): the plan is also checked against the
        /// service's strategy and steps (gate mode: approvals at the weights ECS reaches, the hook at
        /// PRE_PRODUCTION_TRAFFIC_SHIFT and its timeout), each problem naming the plan's field and the
        /// service setting it conflicts with.
        #[arg(long, value_name = "FILE")]
        service_config: Option<PathBuf>,
    },
    /// The steps as a timeline with cumulative worst-case times against the hook budget (for a
    /// deployment file: the records' weights at each step, the bakes, the final 100 step when added).
    Preview {
        #[command(flatten)]
        source: PlanSource,
        #[command(flatten)]
        controller: ControllerArg,
    },
    /// Validate a plan for its target's controller, then store it in SSM where the hook reads it
    /// (<prefix>/<application>/<group>, or <prefix>/ecs/<cluster>/<service>). A bad plan writes nothing.
    Push(PushArgs),
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["file", "env"])))]
#[command(group(clap::ArgGroup::new("target").required(true).args(["application", "cluster"])))]
pub struct PushArgs {
    /// The plan file (JSON or YAML); or use --env.
    pub file: Option<PathBuf>,
    /// Push the environment's plan: <plans-dir>/<env>.plan.yaml, .plan.yml or .plan.json (exactly one).
    #[arg(long)]
    pub env: Option<String>,
    /// Where --env looks for plan files.
    #[arg(long, default_value = "plans", value_name = "DIR")]
    pub plans_dir: PathBuf,
    /// CodeDeploy application (with --group): the plan is validated for CodeDeploy (hook budget up to 60m).
    #[arg(long, requires = "group")]
    pub application: Option<String>,
    /// CodeDeploy deployment group.
    #[arg(long, requires = "application")]
    pub group: Option<String>,
    /// ECS cluster (with --service) of an ECS-native service: the plan is validated for ECS (up to 24h).
    #[arg(long, requires = "service", conflicts_with_all = ["application", "group"])]
    pub cluster: Option<String>,
    /// ECS service.
    #[arg(long, requires = "cluster", conflicts_with_all = ["application", "group"])]
    pub service: Option<String>,
    /// Validate and print what would be stored, without writing to SSM.
    #[arg(long)]
    pub dry_run: bool,
}

impl PushArgs {
    pub fn target(&self) -> R<Target> {
        target_of([&self.application, &self.group, &self.cluster, &self.service], "plan push: name the target")
    }
}

/// What `plan validate` / `preview` read: a plan file, or a deployment file of hookline's Route 53
/// controller (`*.deploy.yml`, or `-e ENV [-d DIR]`).
#[derive(Debug, Clone, Args)]
#[command(group(clap::ArgGroup::new("plan_source").required(true).args(["file", "env"])))]
pub struct PlanSource {
    /// The plan file (JSON or YAML), or a deployment file (`*.deploy.yml`).
    pub file: Option<PathBuf>,
    /// A deployment file by environment: <dir>/<env>.deploy.yml.
    #[arg(short = 'e', long = "env", value_name = "ENV", conflicts_with = "file")]
    pub env: Option<String>,
    /// Where -e looks for <env>.deploy.yml.
    #[arg(short = 'd', long = "dir", value_name = "DIR", conflicts_with = "file")]
    pub dir: Option<PathBuf>,
    /// A deployment file's {{account_id}} (default: the caller's, from STS GetCallerIdentity).
    /// Its {{region}} is --region (or AWS_REGION / the profile's).
    #[arg(long, value_name = "ID")]
    pub account_id: Option<String>,
}

impl PlanSource {
    /// The deployment file named, if these arguments name one (`-e`, or a `*.deploy.yml` file).
    pub fn deploy_file(&self) -> R<Option<PathBuf>> {
        match (&self.file, &self.env) {
            (Some(file), None) if crate::deploy_file::is_deploy_file(file) => Ok(Some(file.clone())),
            (Some(_), None) => Ok(None),
            (file, env) => crate::deploy_file::file_of(env.as_deref(), file.as_deref(), self.dir.as_deref()).map(Some),
        }
    }
}

#[derive(Debug, Clone, Copy, Args)]
pub struct ControllerArg {
    /// The deployment controller the plan is for: codedeploy (hook budget up to 60m) or ecs (up to 24h;
    /// the plan must end at weight 100).
    #[arg(long, default_value = "codedeploy", value_parser = parse_controller)]
    pub controller: Controller,
}

fn parse_controller(text: &str) -> Result<Controller, String> {
    text.parse()
}

/// `hookline plan ...`: validate and preview need no AWS (a deployment file: only for its account
/// id and Region when not given); push connects with `settings`.
pub async fn run(settings: Settings, args: &PlanArgs) -> R<u8> {
    let (source, preview) = match &args.command {
        PlanCommand::Push(push_args) => return push(settings, push_args).await,
        PlanCommand::Validate { source, .. } => (source, false),
        PlanCommand::Preview { source, .. } => (source, true),
    };
    match source.deploy_file()? {
        Some(path) => check_deploy_file(settings, source, &path, preview).await,
        None => Ok(check(&args.command)),
    }
}

/// `plan validate` / `preview` of a deployment file: exit 0 when it maps onto a valid plan, 1
/// otherwise (its problems one per line, `file:line:col: key: message`).
async fn check_deploy_file(settings: Settings, source: &PlanSource, path: &Path, preview: bool) -> R<u8> {
    use crate::deploy_file as df;
    let text = df::read(path)?;
    let given = source.account_id.as_deref().map(df::check_account_id).transpose()?;
    // Offline when both are given; AWS is asked only for what is missing.
    let (account_id, region) = match (given, &settings.region) {
        (Some(account_id), Some(region)) => (account_id, region.clone()),
        (given, _) => {
            let aws = Aws::connect(settings).await?;
            (df::account_id(&aws, given.as_deref()).await?, aws.region.clone())
        }
    };
    let ctx = hookline::deployfile::Context { account_id, region };
    match df::parse(path, &text, &ctx) {
        Err(errs) => {
            df::print_problems(path, &errs);
            Ok(1)
        }
        Ok(d) => {
            df::print_notes(&d.ignored);
            emit(&if preview { df::preview(&d) } else { df::valid_summary(path, &d) });
            Ok(0)
        }
    }
}

/// `plan validate` / `plan preview`: exit 0 for a valid plan, 1 otherwise.
fn check(command: &PlanCommand) -> u8 {
    let (source, preview, controller, service_config) = match command {
        PlanCommand::Validate { source, controller, service_config } => {
            (source, false, controller.controller, service_config.as_deref())
        }
        PlanCommand::Preview { source, controller } => (source, true, controller.controller, None),
        PlanCommand::Push(_) => return 1, // needs AWS: `run` sends it to `push`
    };
    let Some(file) = &source.file else {
        eprintln!("hookline: plan validate/preview: name the plan file");
        return 1;
    };
    let loaded = match (load(file, controller), service_config) {
        (Ok(Ok(plan)), Some(config)) => match service_steps_of(config) {
            Err(e) => Err(e),
            Ok(steps) => match plan.problems_on(&steps) {
                problems if problems.is_empty() => Ok(Ok(plan)),
                problems => Ok(Err(PlanErrors(problems))),
            },
        },
        (loaded, _) => loaded,
    };
    match loaded {
        Err(e) => {
            eprintln!("hookline: {}", e.0);
            1
        }
        Ok(Err(errs)) => {
            emit(&problems_in(file, &errs));
            let n = errs.0.len();
            eprintln!("{}: {n} problem{}", file.display(), if n == 1 { "" } else { "s" });
            1
        }
        Ok(Ok(plan)) => {
            if preview {
                emit(&preview_for(&plan, controller));
            } else {
                emit(&valid_summary_for(file, &plan, controller));
            }
            0
        }
    }
}

/// `plan push`: exit 0 once stored, 1 for a bad plan (nothing written) or an error.
async fn push(settings: Settings, args: &PushArgs) -> R<u8> {
    let target = args.target()?;
    let file = match (&args.file, &args.env) {
        (Some(file), None) => file.clone(),
        (None, Some(env)) => env_plan_file(&args.plans_dir, env)?,
        _ => return Err(fail("plan push: pass the plan file or --env NAME, not both")),
    };
    let parameter = target.parameter(&settings.plan_parameter_prefix);
    let text = read(&file)?;
    let stored = match stored(&file, &text, target.controller()) {
        Ok(stored) => stored,
        Err(NotStored::Invalid(errs)) => {
            emit(&problems_in(&file, &errs));
            let n = errs.0.len();
            eprintln!(
                "{}: {n} problem{} for {}; nothing written to {parameter}",
                file.display(),
                if n == 1 { "" } else { "s" },
                target.describe()
            );
            return Ok(1);
        }
        Err(NotStored::Other(e)) => return Err(e),
    };
    let summary = valid_summary_for(&file, &stored.plan, target.controller());
    if args.dry_run {
        emit(&summary);
        emit(&format!("would store in {parameter} ({}):", target.describe()));
        emit(&stored.value);
        return Ok(0);
    }
    let aws = Aws::connect(settings).await?;
    let description = format!("hookline plan for {} (hookline plan push {})", target.describe(), file.display());
    let version = put(&aws.clients.ssm, &parameter, &stored.value, &description).await?;
    emit(&summary);
    emit(&format!("stored in {parameter} (version {version}) for {}", target.describe()));
    Ok(0)
}

/// Reads and parses a plan file for `controller`: `.json` as JSON, `.yaml`/`.yml` as YAML, anything else by
/// its first character.
pub fn load(path: &Path, controller: Controller) -> R<Result<Plan, PlanErrors>> {
    let text = read(path)?;
    Ok(parse_for(path, &text, controller))
}

/// The plan file's text, or an error naming the file.
pub fn read(path: &Path) -> R<String> {
    std::fs::read_to_string(path).map_err(|e| fail(format!("cannot read plan {}: {e}", path.display())))
}

/// Parses plan text for CodeDeploy, choosing the format from the file name.
#[cfg(test)]
pub fn parse(path: &Path, text: &str) -> Result<Plan, PlanErrors> {
    parse_for(path, text, Controller::CodeDeploy)
}

/// Parses plan text for `controller`, choosing the format from the file name.
pub fn parse_for(path: &Path, text: &str, controller: Controller) -> Result<Plan, PlanErrors> {
    match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("json") => Plan::from_json_for(text, controller),
        Some("yaml" | "yml") => Plan::from_yaml_for(text, controller),
        _ => Plan::parse_for(text, controller),
    }
}

/// The step configuration of the service in `path`: `aws ecs describe-services` output
/// (`services[0].deploymentConfiguration`), a service object, or a deployment configuration.
pub fn service_steps_of(path: &Path) -> R<hookline::plan::gate::ServiceSteps> {
    let text = read(path)?;
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| fail(format!("{}: not JSON ({e})", path.display())))?;
    service_steps_from_json(&json).map_err(|e| fail(format!("{}: {e}", path.display())))
}

/// [`service_steps_of`] on parsed JSON; an error names what is missing.
pub fn service_steps_from_json(json: &serde_json::Value) -> Result<hookline::plan::gate::ServiceSteps, String> {
    use hookline::plan::gate::{ServiceSteps, DEFAULT_HOOK_TIMEOUT_MINUTES};
    let service = json.get("services").and_then(|s| s.get(0)).unwrap_or(json);
    let config = service.get("deploymentConfiguration").unwrap_or(service);
    if !config.is_object() {
        return Err("services[0].deploymentConfiguration: an object (aws ecs describe-services output)".into());
    }
    // Unset: not LINEAR or CANARY, which is all gate mode asks; named as such in problems.
    let strategy = config.get("strategy").and_then(|s| s.as_str()).unwrap_or("(unset)").to_string();
    let percent = match strategy.as_str() {
        "CANARY" => config.pointer("/canaryConfiguration/canaryPercent"),
        _ => config.pointer("/linearConfiguration/stepPercent"),
    }
    .and_then(serde_json::Value::as_f64);
    let timeouts: Vec<u64> = config
        .get("lifecycleHooks")
        .and_then(|h| h.as_array())
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter(|h| {
            h.get("lifecycleStages")
                .and_then(|s| s.as_array())
                .is_some_and(|s| s.iter().any(|x| x.as_str() == Some("PRE_PRODUCTION_TRAFFIC_SHIFT")))
        })
        .filter(|h| h.get("targetType").and_then(|t| t.as_str()).is_none_or(|t| t == "AWS_LAMBDA"))
        .map(|h| {
            h.pointer("/timeoutConfiguration/timeoutInMinutes")
                .and_then(serde_json::Value::as_u64)
                .unwrap_or(DEFAULT_HOOK_TIMEOUT_MINUTES)
        })
        .collect();
    Ok(ServiceSteps {
        strategy,
        // Multiples of 0.1 from 0.1 to 100 (ECS API reference, LinearConfiguration): in range.
        percent_tenths: percent.map(|p| (p * 10.0).round().clamp(0.0, 1000.0) as u16),
        pre_production_hook_timeouts_minutes: (!timeouts.is_empty()).then_some(timeouts),
    })
}

/// One problem per line, each naming the field, without positions.
#[cfg(test)]
pub fn problems(errs: &PlanErrors) -> String {
    errs.0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")
}

/// One problem per line, each starting with the field it names (scripts read that); a problem the
/// parser located (text that is not JSON/YAML, a value of the wrong type) ends with
/// ` (at <file>:<line>:<column>)`, the form editors and terminals jump to.
pub fn problems_in(path: &Path, errs: &PlanErrors) -> String {
    let line = |p: &hookline::plan::Problem| match p.location {
        Some(at) => format!("{p} (at {}:{}:{})", path.display(), at.line, at.column),
        None => p.to_string(),
    };
    errs.0.iter().map(line).collect::<Vec<_>>().join("\n")
}

/// The one-line verdict of a valid plan.
pub fn valid_summary(path: &Path, plan: &Plan) -> String {
    format!(
        "{}: valid ({} steps; worst case {} of the {} hook budget)",
        path.display(),
        plan.step_count,
        human(plan.worst_case_seconds()),
        human(plan.hook_budget_seconds)
    )
}

/// The verdict, naming the controller when it is not the default.
pub fn valid_summary_for(path: &Path, plan: &Plan, controller: Controller) -> String {
    let summary = valid_summary(path, plan);
    match controller {
        Controller::CodeDeploy => summary,
        Controller::Ecs => summary.replacen(": valid (", ": valid for ECS (", 1),
        Controller::Route53 => summary.replacen(": valid (", ": valid for Route 53 (", 1),
    }
}

/// The steps as a timeline with cumulative worst-case times (CodeDeploy's hooks).
#[cfg(test)]
pub fn preview(plan: &Plan) -> String {
    preview_for(plan, Controller::CodeDeploy)
}

/// The steps as a timeline with cumulative worst-case times, naming `controller`'s hooks.
pub fn preview_for(plan: &Plan, controller: Controller) -> String {
    let mut out = vec![format!("health gate: {}", plan.health.describe())];
    out.push(String::new());
    out.push(format!("{:>4}  {:>10}  {:>10}  {}", "STEP", "STARTS BY", "ENDS BY", "WHAT (worst case)"));
    let mut t = 0u64;
    let ready = plan.health.ready_timeout_seconds;
    let ready_line = format!("green ready behind the test listener (up to {})", human(ready));
    out.push(format!("{:>4}  {:>10}  {:>10}  {ready_line}", "-", at(t), at(t + ready)));
    t += ready;
    for (i, step) in plan.steps.iter().enumerate() {
        let d = step.worst_case_seconds();
        let extra = match step {
            Step::Weight { weight, .. } => {
                format!("   production blue {}% / green {weight}%", 100 - u16::from(*weight))
            }
            _ => String::new(),
        };
        out.push(format!("{:>4}  {:>10}  {:>10}  {}{extra}", i + 1, at(t), at(t + d), step.describe()));
        t += d;
    }
    out.push(format!(
        "{:>4}  {:>10}  {:>10}  {}",
        "-",
        at(t),
        at(t),
        match controller {
            Controller::CodeDeploy => "finalize: report BeforeAllowTraffic Succeeded; CodeDeploy moves production to green",
            Controller::Ecs => {
                "finalize: answer POST_TEST_TRAFFIC_SHIFT SUCCEEDED; ECS's PRODUCTION_TRAFFIC_SHIFT keeps production on green"
            }
            Controller::Route53 => "finalize: DNS stays on green 100; the old release's service is scaled down",
        }
    ));
    out.push(String::new());
    let budget = plan.hook_budget_seconds;
    let fits = if t <= budget {
        format!("fits, {} to spare", human(budget - t))
    } else {
        format!("DOES NOT FIT by {}", human(t - budget))
    };
    out.push(format!("worst case {} against the hook budget {} ({fits})", human(t), human(budget)));
    let post_traffic_hook = hook_name(controller, HookEvent::PostTraffic);
    out.push(format!(
        "after traffic: bake {} under full traffic ({post_traffic_hook}, same budget)",
        human(plan.post_traffic.bake_seconds)
    ));
    out.join("\n")
}

/// A plan step with its worst-case window, in seconds after the canary started (what `preview` prints).
#[derive(Debug, Clone, serde::Serialize)]
pub struct ScheduledStep {
    pub index: usize,
    pub step: Step,
    pub describe: String,
    pub starts_by: u64,
    pub ends_by: u64,
}

/// The steps' worst-case windows after the ready gate; the last `ends_by` is the worst-case end.
pub fn schedule(plan: &Plan) -> Vec<ScheduledStep> {
    let mut t = plan.health.ready_timeout_seconds;
    let mut out = Vec::new();
    for (index, step) in plan.steps.iter().enumerate() {
        let d = step.worst_case_seconds();
        out.push(ScheduledStep { index, step: step.clone(), describe: step.describe(), starts_by: t, ends_by: t + d });
        t += d;
    }
    out
}

fn at(seconds: u64) -> String {
    if seconds == 0 {
        "0s".into()
    } else {
        human(seconds)
    }
}

/// The plan files of an environment, in the order they are looked for.
pub const ENV_PLAN_EXTENSIONS: [&str; 3] = ["plan.yaml", "plan.yml", "plan.json"];

/// The plan file of environment `env` in `dir`: `<dir>/<env>.plan.yaml`, `.plan.yml` or `.plan.json`.
/// Exactly one must exist: two would leave it unclear which one is the environment's plan.
pub fn env_plan_file(dir: &Path, env: &str) -> R<std::path::PathBuf> {
    let valid = !env.is_empty() && env.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if !valid || env.starts_with('.') {
        return Err(fail(format!(
            "--env: an environment name (letters, digits, '-', '_', '.'; not starting with '.'), got {env:?}"
        )));
    }
    let candidates: Vec<std::path::PathBuf> =
        ENV_PLAN_EXTENSIONS.iter().map(|ext| dir.join(format!("{env}.{ext}"))).collect();
    let found: Vec<&std::path::PathBuf> = candidates.iter().filter(|p| p.is_file()).collect();
    let names = |paths: &[&std::path::PathBuf]| paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>();
    match found.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(fail(format!(
            "--env {env}: no plan file; looked for {} (pass the file itself to push another one)",
            names(&candidates.iter().collect::<Vec<_>>()).join(", ")
        ))),
        several => Err(fail(format!(
            "--env {env}: {} all exist; keep one plan file per environment, or pass the file itself",
            names(several).join(" and ")
        ))),
    }
}

/// AWS Systems Manager: a Standard-tier parameter holds at most 4096 characters (PutParameter
/// answers ValidationException beyond; User Guide, "Managing parameter tiers"). Plans are small;
/// hookline never switches a plan to the paid Advanced tier on its own.
pub const STANDARD_PARAMETER_MAX_CHARS: usize = 4096;

/// A plan ready to store: validated for its controller, as the JSON the hook reads.
#[derive(Debug, Clone)]
pub struct Stored {
    pub plan: Plan,
    /// The plan document as JSON (pretty when it fits a Standard parameter, else compact).
    pub value: String,
}

/// Why a plan cannot be stored: its problems (printed one per line), or something else.
#[derive(Debug)]
pub enum NotStored {
    Invalid(PlanErrors),
    Other(crate::error::CliError),
}

/// Validates `text` (the file at `path`) for `controller` and turns it into the JSON stored in SSM:
/// The plan is JSON (docs/design.md "The plan"), whatever the team writes in its repository. The JSON is validated again
/// and must give the same plan, so what the hook reads is exactly what was checked here.
pub fn stored(path: &Path, text: &str, controller: Controller) -> Result<Stored, NotStored> {
    let plan = parse_for(path, text, controller).map_err(NotStored::Invalid)?;
    let document: serde_json::Value = if is_json(path, text) {
        serde_json::from_str(text).map_err(|e| e.to_string())
    } else {
        serde_yaml::from_str(text).map_err(|e| e.to_string())
    }
    .map_err(|e| NotStored::Other(fail(format!("{}: cannot convert the plan to JSON: {e}", path.display()))))?;
    let pretty = serde_json::to_string_pretty(&document)
        .map_err(|e| NotStored::Other(fail(format!("{}: cannot print the plan as JSON: {e}", path.display()))))?;
    let value = if pretty.chars().count() <= STANDARD_PARAMETER_MAX_CHARS { pretty } else { document.to_string() };
    let size = value.chars().count();
    if size > STANDARD_PARAMETER_MAX_CHARS {
        return Err(NotStored::Other(fail(format!(
            "{}: the plan is {size} characters as JSON; an SSM Standard parameter holds at most \
             {STANDARD_PARAMETER_MAX_CHARS}",
            path.display()
        ))));
    }
    match Plan::from_json_for(&value, controller) {
        Ok(again) if again == plan => Ok(Stored { plan, value }),
        Ok(_) => Err(NotStored::Other(fail(format!(
            "{}: the plan reads differently as JSON (a YAML-only value?); write it as JSON",
            path.display()
        )))),
        Err(errs) => Err(NotStored::Invalid(errs)),
    }
}

/// The format [`parse_for`] reads the file in: by extension, else by the first character.
fn is_json(path: &Path, text: &str) -> bool {
    match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("json") => true,
        Some("yaml" | "yml") => false,
        _ => text.trim_start().starts_with('{'),
    }
}

/// Stores `value` as String parameter `parameter` (overwriting the previous plan): its new version.
pub async fn put(ssm: &aws_sdk_ssm::Client, parameter: &str, value: &str, description: &str) -> R<i64> {
    use hookline::error::AwsResultExt;
    let out = ssm
        .put_parameter()
        .name(parameter)
        .value(value)
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .overwrite(true)
        .description(description.chars().take(1024).collect::<String>())
        .send()
        .await
        .aws("PutParameter")?;
    Ok(out.version())
}
