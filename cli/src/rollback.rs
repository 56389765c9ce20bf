//! `hookline rollback`: the console rollback, done from here with the library
//! (works even when Step Functions is impaired).

use std::io::{BufRead, IsTerminal, Write};

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
    let reach = hookline::rollback::Reach {
        lifecycle: &lifecycle,
        routers: &routers,
        sfn: &aws.clients.sfn,
        ssm: &aws.clients.ssm,
    };
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
