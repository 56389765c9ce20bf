//! The command line: [`Cli`] (global options and one [`Command`] per verb) and [`run`], which
//! hands each verb its own arguments. Every verb's module owns its clap arguments and its `run`.

pub mod approve;
pub mod dashboard;
pub mod deploy;
pub mod doctor;
pub mod history;
pub mod judge;
pub mod plan;
pub mod rollback;
pub mod status;
pub mod watch;

use clap::{Args, Parser, Subcommand};

use crate::aws::{Aws, Settings};
use crate::error::R;

#[derive(Debug, Parser)]
#[command(name = "hookline", version, about = "Progressive delivery for Amazon ECS: watch, approve, roll back")]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct Global {
    /// AWS endpoint (e.g. the sandbox, http://127.0.0.1:4566); AWS_ENDPOINT_URL works too.
    #[arg(long, global = true, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// AWS region (default: AWS_REGION or the profile's).
    #[arg(long, global = true)]
    pub region: Option<String>,
    /// Named profile from ~/.aws/config (default: AWS_PROFILE).
    #[arg(long, global = true)]
    pub profile: Option<String>,
    /// State machines are named <prefix>-canary, <prefix>-post-traffic.
    #[arg(long, global = true, env = "HOOKLINE_STATE_MACHINE_PREFIX", default_value = "hookline")]
    pub state_machine_prefix: String,
    /// SSM prefix of plans (/<prefix>/<application>/<deployment-group>).
    #[arg(long, global = true, env = "PLAN_PARAMETER_PREFIX", default_value = "/hookline")]
    pub plan_parameter_prefix: String,
}

impl Global {
    pub fn settings(&self) -> Settings {
        Settings {
            endpoint_url: self.endpoint_url.clone(),
            region: self.region.clone(),
            profile: self.profile.clone(),
            state_machine_prefix: self.state_machine_prefix.clone(),
            plan_parameter_prefix: self.plan_parameter_prefix.clone(),
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Deployment status, current step, live weights, last health verdict, pending approval.
    Status(status::StatusArgs),
    /// Live timeline until the deployment ends. Exit code: 0 Succeeded, 1 Failed, 2 Stopped, 3 error.
    Watch(watch::WatchArgs),
    /// Approve the approval step the deployment's canary is waiting on.
    Approve(approve::ApproveArgs),
    /// Reject the waiting approval step: the canary rolls back.
    Reject(approve::RejectArgs),
    /// Stop the executions, restore production to blue 100%, report the hooks Failed, stop the deployment with rollback.
    Rollback(rollback::RollbackArgs),
    /// Recent deployments of a CodeDeploy group or an ECS-native service: outcome, duration, who approved or
    /// rejected.
    History(history::HistoryArgs),
    /// A local web page: deployments, live weights chart, plan, health, Approve / Reject / Roll back.
    Dashboard(dashboard::DashboardArgs),
    /// Check a service against everything hookline relies on (read-only): controller configuration,
    /// production weights and rules, alarms, the plan in SSM, the function roles' permissions, the
    /// judge's metrics. One line per check; exit code 0 when nothing FAILs (warnings allowed unless
    /// --strict), 1 otherwise.
    Doctor(doctor::DoctorArgs),
    /// Deploy with hookline's own Route 53 controller: read <env>.deploy.yml (or -f FILE), check it
    /// (a bad file changes nothing), start the canary between the group's two load balancer
    /// releases; prints the deployment id (dns-...). With --wait, follows it (exit code as watch's).
    Deploy(deploy::DeployArgs),
    /// Remove a release of a Route 53 deployment file (its ECS service and weighted record): the idle
    /// one by default or --release TAG; the release taking traffic is refused.
    Undeploy(deploy::UndeployArgs),
    /// Check or preview a rollout plan (JSON or YAML) without AWS.
    Plan(plan::PlanArgs),
    /// Judge a canary sample against a baseline sample (JSON arrays of numbers) without AWS: prints one
    /// JSON object (U, p-value, Hodges-Lehmann shift and CI, relative effect, verdict). Exit code 2 for bad input.
    Judge(judge::JudgeArgs),
}

impl Command {
    /// The exit code when the verb fails with an error: 3 for `watch` (0-2 are the deployment's outcome), else 1.
    pub fn error_exit_code(&self) -> u8 {
        match self {
            Command::Watch(_) => 3,
            Command::Deploy(args) if args.wait => 3,
            _ => 1,
        }
    }
}

/// Runs the verb; its exit code.
pub async fn run(cli: Cli) -> R<u8> {
    let Cli { global, command } = cli;
    match command {
        Command::Plan(args) => return plan::run(global.settings(), &args).await,
        Command::Judge(args) => return Ok(judge::run(&args)),
        Command::Dashboard(ref args) => args.check_bind()?, // before anything, AWS included, starts
        _ => {}
    }
    let aws = Aws::connect(global.settings()).await?;
    match command {
        Command::Status(args) => status::run(&aws, &args).await,
        Command::Watch(args) => watch::run(&aws, &args).await,
        Command::Approve(args) => approve::run_approve(&aws, &args).await,
        Command::Reject(args) => approve::run_reject(&aws, &args).await,
        Command::Rollback(args) => rollback::run(&aws, &args).await,
        Command::History(args) => history::run(&aws, &args).await,
        Command::Dashboard(args) => dashboard::run(aws, &args).await,
        Command::Doctor(args) => doctor::run(&aws, &args).await,
        Command::Deploy(args) => deploy::run_deploy(&aws, &args).await,
        Command::Undeploy(args) => deploy::run_undeploy(&aws, &args).await,
        Command::Plan(_) | Command::Judge(_) => Ok(0),
    }
}

#[cfg(test)]
mod tests;
