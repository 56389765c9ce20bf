//! `hookline approve` / `hookline reject`: answer the waiting approval's task token.

use hookline::error::AwsResultExt;
use hookline::execution::HookEvent;
use serde_json::json;

use crate::aws::Aws;
use crate::history::Tracker;
use crate::{fail, R};

/// Approve (`reason` = None) or reject the approval the deployment's canary execution waits on.
pub async fn decide(aws: &Aws, deployment_id: &str, approve: bool, reason: Option<&str>) -> R<String> {
    let canary = aws.state_machine_name("canary");
    aws.require_state_machine("canary").await?;
    let exec = aws.execution(deployment_id, HookEvent::BeforeAllowTraffic).await?.ok_or_else(|| {
        let name = hookline::contract::execution_name(deployment_id, HookEvent::BeforeAllowTraffic);
        fail(format!(
            "nothing is waiting for approval: no execution {name} of state machine {canary} \
             (the canary's hook has not started it, or the deployment id is wrong)"
        ))
    })?;
    if exec.status != "RUNNING" {
        return Err(fail(format!(
            "nothing is waiting for approval: execution {} is {}, not RUNNING",
            exec.name, exec.status
        )));
    }
    let tracker = Tracker::over(&exec.events);
    let pending = tracker.pending.clone().ok_or_else(|| {
        fail(format!(
            "nothing is waiting for approval: execution {} is running{}, but no approval step is waiting \
             (hookline status {deployment_id} shows where it stands)",
            exec.name,
            tracker.last_state.as_deref().map(|s| format!(" (state {s})")).unwrap_or_default()
        ))
    })?;
    let who = aws.caller().await;
    let step = pending.step_index.map(|i| {
        let of = tracker.step_count().map(|n| format!("/{n}")).unwrap_or_default();
        format!("step {}{of}", i + 1)
    });
    let step = step.unwrap_or_else(|| "the approval step".into());
    if approve {
        let output = json!({ "approved_by": who }).to_string();
        aws.clients
            .sfn
            .send_task_success()
            .task_token(&pending.task_token)
            .output(output)
            .send()
            .await
            .aws("SendTaskSuccess")?;
        Ok(format!("approved {step} of {deployment_id} as {who}"))
    } else {
        let reason = reason.unwrap_or("rejected with hookline reject");
        let cause = rejection_cause(reason, &who);
        aws.clients
            .sfn
            .send_task_failure()
            .task_token(&pending.task_token)
            .error("ApprovalRejected")
            .cause(cause)
            .send()
            .await
            .aws("SendTaskFailure")?;
        Ok(format!("rejected {step} of {deployment_id} as {who}: {reason} (the canary rolls back to blue)"))
    }
}

/// The `SendTaskFailure` cause: the reason, and who rejected (history reads it back).
pub fn rejection_cause(reason: &str, who: &str) -> String {
    format!("{reason} (rejected by {who})")
}
