//! `hookline`: what operators run during a deployment (status, watch,
//! approve/reject, rollback, history) and before one (plan validate/preview,
//! judge two metric samples).

mod approve;
mod aws;
mod dashboard;
mod deployments;
mod doctor;
mod history;
mod judge;
mod plan_cmd;
mod rollback;
mod status;
mod watch;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use hookline::plan::Controller;

/// An error for the operator: one clear message, exit code 1 (3 for `watch`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliError(pub String);

/// Shorthand.
pub type R<T> = Result<T, CliError>;

/// Prints a line on stdout; a closed pipe (`hookline status | grep -q ...`) is not an error.
pub fn emit(text: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout().lock(), "{text}");
}

/// A [`CliError`] from a message.
pub fn fail(msg: impl Into<String>) -> CliError {
    CliError(msg.into())
}

#[derive(Debug, Parser)]
#[command(name = "hookline", version, about = "Progressive delivery for Amazon ECS: watch, approve, roll back")]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Args)]
struct Global {
    /// AWS endpoint (e.g. the sandbox, http://127.0.0.1:4566); AWS_ENDPOINT_URL works too.
    #[arg(long, global = true, value_name = "URL")]
    endpoint_url: Option<String>,
    /// AWS region (default: AWS_REGION or the profile's).
    #[arg(long, global = true)]
    region: Option<String>,
    /// Named profile from ~/.aws/config (default: AWS_PROFILE).
    #[arg(long, global = true)]
    profile: Option<String>,
    /// State machines are named <prefix>-canary, <prefix>-post-traffic.
    #[arg(long, global = true, env = "HOOKLINE_STATE_MACHINE_PREFIX", default_value = "hookline")]
    state_machine_prefix: String,
    /// SSM prefix of plans (/<prefix>/<application>/<deployment-group>).
    #[arg(long, global = true, env = "PLAN_PARAMETER_PREFIX", default_value = "/hookline")]
    plan_parameter_prefix: String,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Deployment status, current step, live weights, last health verdict, pending approval.
    Status {
        #[command(flatten)]
        deployment: DeploymentArg,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Live timeline until the deployment ends. Exit code: 0 Succeeded, 1 Failed, 2 Stopped, 3 error.
    Watch {
        #[command(flatten)]
        deployment: DeploymentArg,
        /// Poll interval.
        #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
        interval: Duration,
        /// Give up after this long (exit 3).
        #[arg(long, value_parser = humantime::parse_duration)]
        timeout: Option<Duration>,
    },
    /// Approve the approval step the deployment's canary is waiting on.
    Approve {
        #[command(flatten)]
        deployment: DeploymentArg,
    },
    /// Reject the waiting approval step: the canary rolls back.
    Reject {
        #[command(flatten)]
        deployment: DeploymentArg,
        /// Why (recorded in the execution history).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Stop the executions, restore production to blue 100%, report the hooks Failed, stop the deployment with rollback.
    Rollback {
        #[command(flatten)]
        deployment: DeploymentArg,
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
        /// Why (recorded as the executions' stop cause).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Recent deployments of a CodeDeploy group or an ECS-native service: outcome, duration, who approved or
    /// rejected.
    History {
        #[command(flatten)]
        target: TargetArg,
        #[arg(long, default_value_t = 10)]
        limit: usize,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// A local web page: deployments, live weights chart, plan, health, Approve / Reject / Roll back.
    Dashboard {
        /// Port to listen on (0 picks a free one; the URL is printed).
        #[arg(long, default_value_t = 7788)]
        port: u16,
        /// Address to listen on; a non-loopback one needs --allow-remote.
        #[arg(long, default_value = "127.0.0.1")]
        bind: std::net::IpAddr,
        /// Allow a non-loopback --bind: whoever reaches the port with the printed sign-in link acts with
        /// your AWS credentials, over plain HTTP.
        #[arg(long)]
        allow_remote: bool,
        /// Open the sign-in link in the default browser.
        #[arg(long)]
        open: bool,
    },
    /// Check a service against everything hookline relies on (read-only): controller configuration,
    /// production weights and rules, alarms, the plan in SSM, the function roles' permissions, the
    /// judge's metrics. One line per check; exit code 0 when nothing FAILs (warnings allowed unless
    /// --strict), 1 otherwise.
    Doctor(DoctorArgs),
    /// Check or preview a rollout plan (JSON or YAML) without AWS.
    Plan {
        #[command(subcommand)]
        command: PlanCommand,
    },
    /// Judge a canary sample against a baseline sample (JSON arrays of numbers) without AWS: prints one
    /// JSON object (U, p-value, Hodges-Lehmann shift and CI, relative effect, verdict). Exit code 2 for bad input.
    Judge(judge::JudgeArgs),
}

/// Which deployment a verb acts on: a CodeDeploy deployment id, an ECS service deployment ARN, or the
/// latest service deployment of an ECS-native service.
#[derive(Debug, Clone, Args)]
#[group(id = "deployment", required = true, multiple = true)]
struct DeploymentArg {
    /// CodeDeploy deployment id (d-...) or ECS service deployment ARN (arn:aws:ecs:...:service-deployment/...).
    #[arg(group = "deployment")]
    deployment_id: Option<String>,
    /// ECS cluster of an ECS-native service (with --service): its latest service deployment.
    #[arg(long, requires = "service", conflicts_with = "deployment_id", group = "deployment")]
    cluster: Option<String>,
    /// ECS service (with --cluster).
    #[arg(long, requires = "cluster", conflicts_with = "deployment_id")]
    service: Option<String>,
}

impl DeploymentArg {
    fn address(&self) -> R<aws::Address> {
        match (&self.deployment_id, &self.cluster, &self.service) {
            (Some(id), None, None) => Ok(aws::Address::Id(id.clone())),
            (None, Some(cluster), Some(service)) => {
                Ok(aws::Address::Service { cluster: cluster.clone(), service: service.clone() })
            }
            _ => {
                Err(fail("name the deployment: DEPLOYMENT_ID (or service deployment ARN), or --cluster C --service S"))
            }
        }
    }
}

/// Whose deployments `history` lists: a CodeDeploy deployment group, or an ECS-native service.
#[derive(Debug, Clone, Args)]
#[group(id = "target", required = true, multiple = true)]
struct TargetArg {
    /// CodeDeploy application (with --group).
    #[arg(long, requires = "group", group = "target")]
    application: Option<String>,
    /// CodeDeploy deployment group.
    #[arg(long, requires = "application")]
    group: Option<String>,
    /// ECS cluster of an ECS-native service (with --service).
    #[arg(long, requires = "service", conflicts_with_all = ["application", "group"], group = "target")]
    cluster: Option<String>,
    /// ECS service (with --cluster).
    #[arg(long, requires = "cluster", conflicts_with_all = ["application", "group"])]
    service: Option<String>,
}

impl TargetArg {
    fn target(&self) -> R<plan_cmd::Target> {
        target_of([&self.application, &self.group, &self.cluster, &self.service], "name the deployments")
    }
}

/// The target named by `--application A --group G` or `--cluster C --service S`; `what` leads the error.
fn target_of([application, group, cluster, service]: [&Option<String>; 4], what: &str) -> R<plan_cmd::Target> {
    match (application, group, cluster, service) {
        (Some(application), Some(group), None, None) => {
            Ok(plan_cmd::Target::CodeDeploy { application: application.clone(), group: group.clone() })
        }
        (None, None, Some(cluster), Some(service)) => {
            Ok(plan_cmd::Target::Ecs { cluster: cluster.clone(), service: service.clone() })
        }
        _ => Err(fail(format!("{what}: --application A --group G, or --cluster C --service S"))),
    }
}

/// `hookline doctor`'s arguments.
#[derive(Debug, Args)]
struct DoctorArgs {
    #[command(flatten)]
    target: TargetArg,
    /// The hook function's name, as ECS lifecycle hooks must name it (default: <state-machine-prefix>-hook).
    #[arg(long, env = "HOOKLINE_HOOK_FUNCTION", value_name = "NAME")]
    hook_function: Option<String>,
    /// Warnings fail too (exit code 1).
    #[arg(long)]
    strict: bool,
    /// Print JSON for scripts.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum PlanCommand {
    /// Exit non-zero with one problem per line, each naming the field (and file:line:column when the
    /// text is not valid JSON/YAML).
    Validate {
        file: PathBuf,
        #[command(flatten)]
        controller: ControllerArg,
    },
    /// The steps as a timeline with cumulative worst-case times against the hook budget.
    Preview {
        file: PathBuf,
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
struct PushArgs {
    /// The plan file (JSON or YAML); or use --env.
    file: Option<PathBuf>,
    /// Push the environment's plan: <plans-dir>/<env>.plan.yaml, .plan.yml or .plan.json (exactly one).
    #[arg(long)]
    env: Option<String>,
    /// Where --env looks for plan files.
    #[arg(long, default_value = "plans", value_name = "DIR")]
    plans_dir: PathBuf,
    /// CodeDeploy application (with --group): the plan is validated for CodeDeploy (hook budget up to 60m).
    #[arg(long, requires = "group")]
    application: Option<String>,
    /// CodeDeploy deployment group.
    #[arg(long, requires = "application")]
    group: Option<String>,
    /// ECS cluster (with --service) of an ECS-native service: the plan is validated for ECS (up to 24h).
    #[arg(long, requires = "service", conflicts_with_all = ["application", "group"])]
    cluster: Option<String>,
    /// ECS service.
    #[arg(long, requires = "cluster", conflicts_with_all = ["application", "group"])]
    service: Option<String>,
    /// Validate and print what would be stored, without writing to SSM.
    #[arg(long)]
    dry_run: bool,
}

impl PushArgs {
    fn target(&self) -> R<plan_cmd::Target> {
        target_of([&self.application, &self.group, &self.cluster, &self.service], "plan push: name the target")
    }
}

#[derive(Debug, Clone, Copy, Args)]
struct ControllerArg {
    /// The deployment controller the plan is for: codedeploy (hook budget up to 60m) or ecs (up to 24h;
    /// the plan must end at weight 100).
    #[arg(long, default_value = "codedeploy", value_parser = parse_controller)]
    controller: Controller,
}

fn parse_controller(text: &str) -> Result<Controller, String> {
    text.parse()
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let is_watch = matches!(cli.command, Command::Watch { .. });
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("hookline: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("hookline: {}", e.0);
            ExitCode::from(if is_watch { 3 } else { 1 })
        }
    }
}

fn settings(g: &Global) -> aws::Settings {
    aws::Settings {
        endpoint_url: g.endpoint_url.clone(),
        region: g.region.clone(),
        profile: g.profile.clone(),
        state_machine_prefix: g.state_machine_prefix.clone(),
        plan_parameter_prefix: g.plan_parameter_prefix.clone(),
    }
}

fn to_json<T: serde::Serialize>(v: &T) -> R<String> {
    serde_json::to_string_pretty(v).map_err(|e| fail(format!("cannot print JSON: {e}")))
}

async fn run(cli: Cli) -> R<u8> {
    if let Command::Plan { command } = &cli.command {
        if let PlanCommand::Push(args) = command {
            return push(&cli.global, args).await;
        }
        return Ok(plan(command));
    }
    if let Command::Judge(args) = &cli.command {
        return Ok(judge::run(args));
    }
    if let Command::Dashboard { bind, allow_remote, .. } = &cli.command {
        dashboard::check_bind(*bind, *allow_remote)?; // before anything, AWS included, starts
    }
    let aws = aws::Aws::connect(settings(&cli.global)).await?;
    match cli.command {
        Command::Status { deployment, json } => {
            let deployment_id = aws.deployment_id_of(&deployment.address()?).await?;
            let s = status::gather(&aws, &deployment_id).await?;
            emit(&if json { to_json(&s)? } else { status::render(&s) });
            Ok(0)
        }
        Command::Watch { deployment, interval, timeout } => {
            let deployment_id = aws.deployment_id_of(&deployment.address()?).await?;
            let outcome = watch::run(&aws, &deployment_id, interval, timeout).await?;
            Ok(outcome.exit_code())
        }
        Command::Approve { deployment } => {
            let deployment_id = aws.deployment_id_of(&deployment.address()?).await?;
            emit(&approve::decide(&aws, &deployment_id, true, None).await?);
            Ok(0)
        }
        Command::Reject { deployment, reason } => {
            let deployment_id = aws.deployment_id_of(&deployment.address()?).await?;
            emit(&approve::decide(&aws, &deployment_id, false, reason.as_deref()).await?);
            Ok(0)
        }
        Command::Rollback { deployment, yes, reason } => {
            let deployment_id = aws.deployment_id_of(&deployment.address()?).await?;
            emit(&rollback::run(&aws, &deployment_id, yes, reason.as_deref()).await?);
            Ok(0)
        }
        Command::Dashboard { port, bind, allow_remote, open } => {
            dashboard::serve(aws, bind, port, open, allow_remote).await?;
            Ok(0)
        }
        Command::History { target, limit, json } => {
            let rows = match target.target()? {
                plan_cmd::Target::CodeDeploy { application, group } => {
                    deployments::gather(&aws, &application, &group, limit).await?
                }
                plan_cmd::Target::Ecs { cluster, service } => {
                    deployments::gather_ecs(&aws, &cluster, &service, limit).await?
                }
            };
            emit(&if json { to_json(&rows)? } else { deployments::render(&rows) });
            Ok(0)
        }
        Command::Doctor(args) => {
            let opts = doctor::Options {
                target: args.target.target()?,
                hook_function: args
                    .hook_function
                    .clone()
                    .unwrap_or_else(|| format!("{}-hook", cli.global.state_machine_prefix)),
                strict: args.strict,
            };
            let report = doctor::run(&aws, &opts).await;
            emit(&if args.json { to_json(&report)? } else { report.render() });
            Ok(report.exit_code())
        }
        Command::Plan { .. } | Command::Judge(_) => Ok(0),
    }
}

/// `plan validate` / `plan preview`: exit 0 for a valid plan, 1 otherwise.
fn plan(command: &PlanCommand) -> u8 {
    let (file, preview, controller) = match command {
        PlanCommand::Validate { file, controller } => (file, false, controller.controller),
        PlanCommand::Preview { file, controller } => (file, true, controller.controller),
        PlanCommand::Push(_) => return 1, // needs AWS: `run` sends it to `push`
    };
    match plan_cmd::load(file, controller) {
        Err(e) => {
            eprintln!("hookline: {}", e.0);
            1
        }
        Ok(Err(errs)) => {
            emit(&plan_cmd::problems_in(file, &errs));
            let n = errs.0.len();
            eprintln!("{}: {n} problem{}", file.display(), if n == 1 { "" } else { "s" });
            1
        }
        Ok(Ok(plan)) => {
            if preview {
                emit(&plan_cmd::preview_for(&plan, controller));
            } else {
                emit(&plan_cmd::valid_summary_for(file, &plan, controller));
            }
            0
        }
    }
}

/// `plan push`: exit 0 once stored, 1 for a bad plan (nothing written) or an error.
async fn push(global: &Global, args: &PushArgs) -> R<u8> {
    let target = args.target()?;
    let file = match (&args.file, &args.env) {
        (Some(file), None) => file.clone(),
        (None, Some(env)) => plan_cmd::env_plan_file(&args.plans_dir, env)?,
        _ => return Err(fail("plan push: pass the plan file or --env NAME, not both")),
    };
    let parameter = target.parameter(&global.plan_parameter_prefix);
    let text = plan_cmd::read(&file)?;
    let stored = match plan_cmd::stored(&file, &text, target.controller()) {
        Ok(stored) => stored,
        Err(plan_cmd::NotStored::Invalid(errs)) => {
            emit(&plan_cmd::problems_in(&file, &errs));
            let n = errs.0.len();
            eprintln!(
                "{}: {n} problem{} for {}; nothing written to {parameter}",
                file.display(),
                if n == 1 { "" } else { "s" },
                target.describe()
            );
            return Ok(1);
        }
        Err(plan_cmd::NotStored::Other(e)) => return Err(e),
    };
    let summary = plan_cmd::valid_summary_for(&file, &stored.plan, target.controller());
    if args.dry_run {
        emit(&summary);
        emit(&format!("would store in {parameter} ({}):", target.describe()));
        emit(&stored.value);
        return Ok(0);
    }
    let aws = aws::Aws::connect(settings(global)).await?;
    let description = format!("hookline plan for {} (hookline plan push {})", target.describe(), file.display());
    let version = plan_cmd::put(&aws.clients.ssm, &parameter, &stored.value, &description).await?;
    emit(&summary);
    emit(&format!("stored in {parameter} (version {version}) for {}", target.describe()));
    Ok(0)
}

#[cfg(test)]
mod tests;
