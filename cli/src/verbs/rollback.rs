//! `hookline rollback`: the console rollback, done from here with the library's
//! [`hookline::rollback::console`] for either controller (works even when Step Functions is impaired).

use std::io::{BufRead, IsTerminal, Write};

use hookline::execution::HookEvent;
use hookline::lifecycle::{Controller, DeploymentStatus, Lifecycle};

use crate::address::DeploymentArg;
use crate::aws::Aws;
use crate::error::{fail, short_error, R};
use crate::execution_history::Tracker;
use crate::output::emit;

/// `hookline rollback`'s arguments.
#[derive(Debug, clap::Args)]
pub struct RollbackArgs {
    #[command(flatten)]
    pub deployment: DeploymentArg,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Why (recorded as the executions' stop cause).
    #[arg(long)]
    pub reason: Option<String>,
}

/// `hookline rollback`.
pub async fn run(aws: &Aws, args: &RollbackArgs) -> R<u8> {
    let deployment_id = aws.deployment_id_of(&args.deployment.address()?).await?;
    emit(&roll_back(aws, &deployment_id, args.yes, args.reason.as_deref()).await?);
    // hookline's own Route 53 release: green keeps its tasks while resolvers may still answer it.
    if let Some(line) = finish_drain(aws, &deployment_id).await? {
        emit(&line);
    }
    Ok(0)
}

/// Waits out green's drain after a Route 53 release's rollback (the records' TTL + the resolver
/// grace from DNS's restore, [`hookline::ports::Lifecycle::drain_seconds`]), then reports `Failed`
/// again, which scales green to 0. Interrupted, it leaves the release `RollingBack`: `hookline
/// rollback` run again waits what is left and finishes. `None` when there was no drain.
pub async fn finish_drain(aws: &Aws, deployment_id: &str) -> R<Option<String>> {
    let lifecycle = aws.lifecycle();
    let mut waited = 0;
    // The report after the wait ends the drain; a second round only if the clock said otherwise.
    for _ in 0..3 {
        let Some(seconds) = lifecycle.drain_seconds(deployment_id).await? else { break };
        emit(&format!(
            "  green       keeps its tasks {seconds}s more: resolvers may still answer green (records' TTL + resolver grace)"
        ));
        tokio::time::sleep(std::time::Duration::from_secs(seconds)).await;
        waited += seconds;
        let hook = lifecycle.resolve(deployment_id, None).await?.context.hook;
        let execution_id = hook.map(|h| h.execution_id).unwrap_or_else(|| deployment_id.to_string());
        hookline::rollback::report_failed(&lifecycle, deployment_id, &execution_id).await?;
    }
    Ok((waited > 0).then(|| format!("  green       service scaled to 0 after {waited}s (cached answers expired)")))
}

/// Asks on the terminal unless `yes`; refuses without a terminal.
pub fn confirm(deployment_id: &str, summary: &str, yes: bool) -> R<()> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(fail(format!(
            "refusing to roll back {deployment_id} without confirmation: stdin is not a terminal; pass --yes"
        )));
    }
    eprint!("Roll back {deployment_id} ({summary})? Production goes back to blue 100%. [y/N] ");
    std::io::stderr().flush().ok();
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer).map_err(|e| fail(format!("reading the answer: {e}")))?;
    if matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
        Ok(())
    } else {
        Err(fail("not rolled back (answer y to confirm)"))
    }
}

/// Whether the deployment is over, so `rollback` refuses it. A deployment its controller is still
/// rolling back is not over: production may still move. Nor is a Route 53 release whose record is
/// still `in-progress` though its canary execution ended without a report (stopped in Step
/// Functions, say: `describe` then says Failed): nothing else will put DNS back on blue and scale
/// green to 0, which is what the console's rollback does for it (docs/route53-controller.md,
/// decision 20; `hookline doctor` names such a record and gives this command as the fix).
fn nothing_to_roll_back(info: &hookline::ports::DeploymentSummary) -> bool {
    let record_open = info.controller == Controller::Route53 && info.status_word == "in-progress";
    info.status.is_terminal() && !info.rolling_back && !record_open
}

/// Stops the executions, restores traffic, reports the hooks Failed, stops the deployment with its
/// controller's rollback ([`hookline::rollback::console`]).
///
/// An ECS-native service deployment is stopped with `StopServiceDeployment` `stopType: ROLLBACK`
/// (the console's "Roll back"; Amazon ECS API reference, StopServiceDeployment). No hook is reported
/// there: ECS reads a hook's answer from the hook function's return value, and the hook's next
/// invocation finds its execution aborted and answers FAILED once blue is restored. ECS's rollback
/// re-invokes the traffic-shift hooks, which hookline answers SUCCEEDED at once.
pub async fn roll_back(aws: &Aws, deployment_id: &str, yes: bool, reason: Option<&str>) -> R<String> {
    let info = aws.deployment(deployment_id).await?;
    // The controller's own word (ROLLBACK_IN_PROGRESS, Baking, ...) for the operator.
    let word = &info.status_word;
    let known = |s: &str| if s.is_empty() { "?".to_string() } else { s.to_string() };
    let (what, summary) = match info.controller {
        Controller::CodeDeploy => {
            ("deployment", format!("{} / {}, {word}", known(&info.application), known(&info.group)))
        }
        Controller::Ecs => (
            "service deployment",
            format!(
                "ECS service {} in cluster {}, {word}",
                known(&info.group),
                info.application.strip_prefix("ecs/").map_or_else(|| "?".to_string(), known)
            ),
        ),
        Controller::Route53 => {
            ("release", format!("Route 53 release {} / {}, {word}", known(&info.application), known(&info.group)))
        }
    };
    if nothing_to_roll_back(&info) {
        return Err(fail(format!(
            "{what} {deployment_id} is already {word}: nothing to roll back \
             (to go back after a success, deploy the previous revision)"
        )));
    }
    confirm(deployment_id, &summary, yes)?;

    let mut machines = Vec::new();
    for name in ["canary", "post-traffic"] {
        if let Some(arn) = aws.state_machine_arn(name).await? {
            machines.push(arn);
        }
    }
    let who = aws.caller().await;
    let reason = reason.map(str::to_string).unwrap_or_else(|| format!("rolled back with hookline rollback by {who}"));
    let (lifecycle, routers) = (aws.lifecycle(), aws.clients.routers());
    let (executions, plans) = (aws.clients.executions(), aws.clients.plans());
    let reach =
        hookline::rollback::Reach { lifecycle: &lifecycle, routers: &routers, executions: &executions, plans: &plans };
    let done =
        hookline::rollback::console(reach, &machines, deployment_id, &reason, &aws.settings.plan_parameter_prefix)
            .await;
    // A refused stop comes back after traffic and executions were put right (the console's order).
    let done = done?;
    // Not restored: the deployment had succeeded, or (gate mode) ECS's own rollback moves production.
    let succeeded = done.deployment_status == hookline::lifecycle::DeploymentStatus::Succeeded.to_string();
    if !done.restored && (succeeded || info.controller == Controller::CodeDeploy) {
        let ended = match info.controller {
            Controller::CodeDeploy | Controller::Route53 => done.deployment_status.clone(),
            Controller::Ecs => "succeeded".to_string(),
        };
        return Err(fail(format!(
            "{what} {deployment_id} {ended} before the rollback reached it: production left as it is \
             (to go back, deploy the previous revision)"
        )));
    }
    let mut lines = vec![format!("rolled back {deployment_id}: {reason}")];
    if done.stopped_executions.is_empty() {
        lines.push("  executions  none running".into());
    }
    for arn in &done.stopped_executions {
        lines.push(format!("  stopped     {}", arn.rsplit(':').next().unwrap_or(arn)));
    }
    // Production's weights now, on the route the executions moved (their document's context), else as resolved.
    let mut document = None;
    for event in [HookEvent::PreTraffic, HookEvent::PostTraffic] {
        if let Some(exec) = aws.execution(deployment_id, event).await? {
            document = document.or_else(|| Tracker::over(&exec.events).document);
        }
    }
    let weights = match aws.context(deployment_id, document.as_ref()).await {
        Ok(ctx) => aws.router(&ctx).weights().await.map(|w| w.to_string()).unwrap_or_else(|e| short_error(&e)),
        Err(_) => "blue 100% / green 0%".into(),
    };
    if done.restored {
        lines.push(format!("  traffic     {weights}, cohort rules removed"));
    } else {
        lines.push(format!("  traffic     {weights} (gate mode: ECS's rollback puts production back on blue)"));
    }
    match info.controller {
        Controller::CodeDeploy => {
            if done.reported {
                let already = if done.already_reported { " (already answered)" } else { "" };
                lines.push(format!("  hook        reported Failed{already}"));
            }
            lines.push(format!(
                "  deployment  {} (CodeDeploy rolls back: green removed, blue primary)",
                done.deployment_status
            ));
        }
        // The console stopped it when it was active and is now Stopped; else ECS had already ended or
        // was already stopping it.
        Controller::Ecs
            if info.status.is_active() && done.deployment_status == DeploymentStatus::Stopped.to_string() =>
        {
            lines.push(
                "  deployment  StopServiceDeployment(ROLLBACK) accepted (ECS rolls back to the previous revision)"
                    .into(),
            )
        }
        Controller::Route53 => lines.push(format!(
            "  release     {} (DNS on blue 100; green's service scaled to 0 {})",
            done.deployment_status,
            match done.drain_seconds {
                Some(seconds) => format!("in {seconds}s, when resolvers no longer answer green"),
                None => "by the rollback's report".into(),
            }
        )),
        Controller::Ecs => {
            lines.push(format!("  deployment  already {} (nothing for ECS to stop)", done.deployment_status))
        }
    }
    Ok(lines.join("\n"))
}

#[cfg(test)]
mod tests {
    use hookline::lifecycle::deployment::DeploymentStatus;
    use hookline::plan::Controller;
    use hookline::ports::DeploymentSummary;

    use super::nothing_to_roll_back;

    fn summary(controller: Controller, status: DeploymentStatus, word: &str) -> DeploymentSummary {
        DeploymentSummary {
            deployment_id: "dns-20261206-120000-abcd".into(),
            controller,
            status,
            phase: None,
            rolling_back: false,
            status_word: word.into(),
            application: "dns/shop".into(),
            group: "shop-web".into(),
            created_at: None,
            ended_at: None,
            message: None,
        }
    }

    #[test]
    fn a_route53_release_left_in_progress_by_an_ended_execution_can_still_be_rolled_back() {
        // The record says in-progress, its execution ended without a report: describe says Failed.
        assert!(!nothing_to_roll_back(&summary(Controller::Route53, DeploymentStatus::Failed, "in-progress")));
        assert!(nothing_to_roll_back(&summary(Controller::Route53, DeploymentStatus::Failed, "failed")));
        assert!(nothing_to_roll_back(&summary(Controller::Route53, DeploymentStatus::Succeeded, "succeeded")));
        assert!(nothing_to_roll_back(&summary(Controller::CodeDeploy, DeploymentStatus::Failed, "Failed")));
        assert!(!nothing_to_roll_back(&summary(Controller::Route53, DeploymentStatus::Active, "in-progress")));
    }
}
