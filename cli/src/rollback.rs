//! `hookline rollback`: the console rollback, done from here with the library
//! (works even when Step Functions is impaired).

use std::io::{BufRead, IsTerminal, Write};

use hookline::contract::state::ROLLED_BACK;
use hookline::execution::HookEvent;
use hookline::lifecycle::ecs::is_service_deployment_arn;
use hookline::lifecycle::{Lifecycle, Stop};
use hookline::traffic::TrafficRouter;

use crate::aws::Aws;
use crate::{fail, R};

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

/// Stops the executions, restores traffic, reports the hooks Failed, stops the deployment.
pub async fn run(aws: &Aws, deployment_id: &str, yes: bool, reason: Option<&str>) -> R<String> {
    if is_service_deployment_arn(deployment_id) {
        return run_ecs(aws, deployment_id, yes, reason).await;
    }
    let info = aws.deployment(deployment_id).await?;
    let status = info.status().map(|s| s.as_str().to_string()).unwrap_or_else(|| "unknown".into());
    if matches!(status.as_str(), "Succeeded" | "Failed" | "Stopped") {
        return Err(fail(format!(
            "deployment {deployment_id} is already {status}: nothing to roll back \
             (to go back after a success, deploy the previous revision)"
        )));
    }
    let summary = format!(
        "{} / {}, {status}",
        info.application_name().unwrap_or("?"),
        info.deployment_group_name().unwrap_or("?")
    );
    confirm(deployment_id, &summary, yes)?;

    let mut machines = Vec::new();
    for name in ["canary", "post-traffic"] {
        if let Some(arn) = aws.state_machine_arn(name).await? {
            machines.push(arn);
        }
    }
    let who = aws.caller().await;
    let reason = reason.map(str::to_string).unwrap_or_else(|| format!("rolled back with hookline rollback by {who}"));
    let (lifecycle, routers) = (aws.clients.lifecycle(), aws.clients.routers());
    let (executions, plans) = (aws.clients.executions(), aws.clients.plans());
    let reach =
        hookline::rollback::Reach { lifecycle: &lifecycle, routers: &routers, executions: &executions, plans: &plans };
    let done =
        hookline::rollback::console(reach, &machines, deployment_id, &reason, &aws.settings.plan_parameter_prefix)
            .await?;
    if !done.restored {
        return Err(fail(format!(
            "deployment {deployment_id} {} before the rollback reached it: production left as it is \
             (to go back, deploy the previous revision)",
            done.deployment_status
        )));
    }
    let mut lines = vec![format!("rolled back {deployment_id}: {reason}")];
    if done.stopped_executions.is_empty() {
        lines.push("  executions  none running".into());
    }
    for arn in &done.stopped_executions {
        lines.push(format!("  stopped     {}", arn.rsplit(':').next().unwrap_or(arn)));
    }
    let weights = match aws.context(deployment_id, None).await {
        Ok(ctx) => aws
            .clients
            .router(&ctx)
            .weights()
            .await
            .map(|w| w.to_string())
            .unwrap_or_else(|e| crate::aws::short_error(&e)),
        Err(_) => "blue 100% / green 0%".into(),
    };
    lines.push(format!("  traffic     {weights}, cohort rules removed"));
    if done.reported {
        let already = if done.already_reported { " (already answered)" } else { "" };
        lines.push(format!("  hook        reported Failed{already}"));
    }
    lines
        .push(format!("  deployment  {} (CodeDeploy rolls back: green removed, blue primary)", done.deployment_status));
    Ok(lines.join("\n"))
}

/// The rollback of an ECS-native service deployment: stop its executions (so none of them moves traffic
/// after the restore), `StopServiceDeployment` with `stopType: ROLLBACK` (the console's "Roll back";
/// Amazon ECS API reference, StopServiceDeployment), then production's listener rule to blue 100% with
/// no cohort rule. No hook is reported: ECS reads a hook's answer from the hook function's return value,
/// and the hook's next invocation finds its execution aborted and answers FAILED once blue is restored.
/// ECS's rollback re-invokes the traffic-shift hooks, which hookline answers SUCCEEDED at once.
async fn run_ecs(aws: &Aws, deployment_id: &str, yes: bool, reason: Option<&str>) -> R<String> {
    let info = aws.deployment(deployment_id).await?;
    let status = info.status().map(|s| s.as_str().to_string()).unwrap_or_else(|| "unknown".into());
    // ECS's own word (ROLLBACK_IN_PROGRESS, ...) when it says more than the shared one.
    let ecs_status = info.error_information().and_then(|e| e.code()).map(|c| c.as_str().to_string());
    if matches!(status.as_str(), "Succeeded" | "Failed" | "Stopped") {
        return Err(fail(format!(
            "service deployment {deployment_id} is already {}: nothing to roll back \
             (to go back after a success, deploy the previous revision)",
            ecs_status.unwrap_or(status)
        )));
    }
    let summary = format!(
        "ECS service {} in cluster {}, {}",
        info.deployment_group_name().unwrap_or("?"),
        info.application_name().and_then(|a| a.strip_prefix("ecs/")).unwrap_or("?"),
        ecs_status.as_deref().unwrap_or(&status)
    );
    confirm(deployment_id, &summary, yes)?;
    let who = aws.caller().await;
    let reason = reason.map(str::to_string).unwrap_or_else(|| format!("rolled back with hookline rollback by {who}"));

    let mut stopped = Vec::new();
    let mut document = None;
    for event in [HookEvent::BeforeAllowTraffic, HookEvent::AfterAllowTraffic] {
        let Some(exec) = aws.execution(deployment_id, event).await? else { continue };
        document = document.or_else(|| crate::history::Tracker::over(&exec.events).document);
        if exec.status != "RUNNING" {
            continue;
        }
        match aws.clients.sfn.stop_execution().execution_arn(&exec.arn).error(ROLLED_BACK).cause(&reason).send().await {
            Ok(_) => stopped.push(exec.name),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_execution_does_not_exist()) => {}
            Err(e) => return Err(hookline::Error::from_sdk("StopExecution", e).into()),
        }
    }

    let lifecycle = aws.clients.lifecycle();
    let stop = if lifecycle.status(deployment_id).await?.is_active() {
        Some(lifecycle.stop_with_rollback(deployment_id).await)
    } else {
        None
    };
    let after = lifecycle.status(deployment_id).await?;
    if after == hookline::lifecycle::DeploymentStatus::Succeeded {
        return Err(fail(format!(
            "service deployment {deployment_id} succeeded before the rollback reached it: production left as it is \
             (to go back, deploy the previous revision)"
        )));
    }
    // Traffic is put right even when ECS refused the stop; that error is returned after.
    let ctx = aws.context(deployment_id, document.as_ref()).await?;
    let router = aws.clients.router(&ctx);
    router.restore().await?;
    let weights = router.weights().await.map(|w| w.to_string()).unwrap_or_else(|e| crate::aws::short_error(&e));

    let mut lines = vec![format!("rolled back {deployment_id}: {reason}")];
    if stopped.is_empty() {
        lines.push("  executions  none running".into());
    }
    for name in &stopped {
        lines.push(format!("  stopped     {name}"));
    }
    lines.push(format!("  traffic     {weights}, cohort rules removed"));
    match stop {
        Some(Ok(Stop::Stopping(_))) => lines.push(
            "  deployment  StopServiceDeployment(ROLLBACK) accepted (ECS rolls back to the previous revision)".into(),
        ),
        Some(Ok(Stop::AlreadyEnded)) | None => {
            lines.push(format!("  deployment  already {after} (nothing for ECS to stop)"))
        }
        Some(Err(e)) => return Err(fail(format!("{}\n{}", lines.join("\n"), crate::aws::short_error(&e)))),
    }
    Ok(lines.join("\n"))
}
