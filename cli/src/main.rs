//! `hookline`: what operators run during a deployment (status, watch,
//! approve/reject, rollback, history, dashboard) and before one (doctor, plan
//! validate/preview/push, judge two metric samples).
//!
//! Layout (nothing reaches up into `main`):
//!
//! ```text
//! main.rs               parse, run the verb, exit code
//! error.rs              CliError, R, fail, how the library's errors read
//! output.rs             emit (stdout), to_json
//! address.rs            how a verb is pointed at a deployment or a target (shared clap args)
//! aws.rs                configuration, clients, deployments through Lifecycle::describe, executions
//! codedeploy.rs         CodeDeploy listings no port offers (groups, a group's deployments, target events)
//! deploy_file.rs        deployment files (Route 53 controller): -e/-f/-d, account and Region, problems, preview
//! dns.rs                hookline's own Route 53 deployments: their release records (--fqdn, history, dashboard)
//! execution_history.rs  reading an execution's event history (Executions::history): steps, health, approvals
//! verbs/
//!   mod.rs              Cli, Global, Command, run (dispatch)
//!   status.rs           status       (+ how a deployment's status is shown)
//!   watch.rs            watch
//!   approve.rs          approve, reject
//!   rollback.rs         rollback     (hookline::rollback::console, both controllers)
//!   history.rs          history
//!   dashboard/          dashboard    (web page and JSON API over the verbs above)
//!   doctor/             doctor
//!   plan.rs             plan validate | preview | push
//!   judge.rs            judge
//! ```

mod address;
mod aws;
mod codedeploy;
mod deploy_file;
mod dns;
mod error;
mod execution_history;
mod output;
mod verbs;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = verbs::Cli::parse();
    let error_exit_code = cli.command.error_exit_code();
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("hookline: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(verbs::run(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("hookline: {}", e.0);
            ExitCode::from(error_exit_code)
        }
    }
}
