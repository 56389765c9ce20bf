//! Finding a deployment's hook executions through the [`Executions`] port: which exist, whom
//! each answers, and the execution document each was started with.

use serde::Deserialize;
use tracing::{info, warn};

use crate::execution::{
    execution_arn, execution_name, ExecutionDocument, HookEvent, HookRef, HookStateMachines, RunStatus,
};
use crate::ports::Executions;
use crate::Result;

/// A deployment's execution for one hook event, as Step Functions describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookExecution {
    pub event: HookEvent,
    pub execution_arn: String,
    pub state_machine_arn: String,
    pub status: RunStatus,
    /// The CodeDeploy hook execution id the execution answers (`context.hook.execution_id`
    /// of its input); `None` when its input does not say.
    pub hook_execution_id: Option<String>,
    /// The execution document it was started with, when its input reads as one: the context and
    /// plan `hook` resolved for the deployment, which the AfterAllowTraffic hook reuses.
    pub document: Option<Box<ExecutionDocument>>,
}

impl HookExecution {
    /// Still running: it will answer its hook itself.
    pub fn is_running(&self) -> bool {
        self.status.is_running()
    }

    /// It answers the hook execution `execution_id` (ids compared whole, never parsed).
    pub fn serves(&self, execution_id: &str) -> bool {
        self.hook_execution_id.as_deref() == Some(execution_id)
    }
}

/// The part of an execution's input that says which hook it answers.
#[derive(Deserialize)]
struct InputHook {
    context: InputHookContext,
}

#[derive(Deserialize)]
struct InputHookContext {
    #[serde(default)]
    hook: Option<HookRef>,
}

/// The deployment's hook executions that exist (`<deployment>-BeforeAllowTraffic` on the
/// canary machine, `<deployment>-AfterAllowTraffic` on post-traffic), running or ended.
///
/// An execution's name is per deployment and event, so it cannot say which hook
/// invocation started it; its input can. Closed executions stay describable for 90
/// days (Step Functions developer guide, "Quotas": execution history retention), far
/// longer than CodeDeploy's one-hour hook timeout.
pub async fn hook_executions(
    executions: &dyn Executions,
    machines: &HookStateMachines,
    deployment_id: &str,
) -> Result<Vec<HookExecution>> {
    let mut found = Vec::new();
    for event in [HookEvent::PreTraffic, HookEvent::PostTraffic] {
        let state_machine_arn = machines.for_event(event);
        if state_machine_arn.is_empty() {
            continue;
        }
        found.extend(hook_execution(executions, state_machine_arn, deployment_id, event).await?);
    }
    Ok(found)
}

/// The deployment's execution of `state_machine_arn` for `event`, if it exists (see
/// [`hook_executions`]): what the hook's start looks up when the controller names the event.
pub async fn hook_execution(
    executions: &dyn Executions,
    state_machine_arn: &str,
    deployment_id: &str,
    event: HookEvent,
) -> Result<Option<HookExecution>> {
    let arn = execution_arn(state_machine_arn, &execution_name(deployment_id, event));
    let Some(described) = executions.describe(&arn).await? else { return Ok(None) };
    let input = described.input.as_deref();
    let hook_execution_id = match input.map(serde_json::from_str::<InputHook>) {
        Some(Ok(input)) => input.context.hook.map(|h| h.execution_id),
        Some(Err(e)) => {
            warn!(execution = %arn, error = %e, "execution input has no readable context.hook; it serves no known hook");
            None
        }
        None => None,
    };
    // Not an error when it does not read as today's document (an execution started by an
    // older hookline): whoever wants the document resolves the deployment afresh instead.
    let document = match input.map(serde_json::from_str::<ExecutionDocument>) {
        Some(Ok(doc)) => Some(doc),
        Some(Err(e)) => {
            info!(execution = %arn, error = %e, "execution input is not today's execution document; not reused");
            None
        }
        None => None,
    };
    Ok(Some(HookExecution {
        event,
        execution_arn: arn,
        state_machine_arn: state_machine_arn.to_string(),
        status: described.status,
        hook_execution_id,
        document: document.map(Box::new),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    use aws_sdk_sfn::types::ExecutionStatus;

    use crate::execution::mocks;
    use crate::testing::{mocked_clients, DEPLOYMENT, HOOK_EXECUTION};

    #[tokio::test]
    async fn hook_executions_reads_whom_each_existing_execution_answers() {
        let canary = mocks::execution(HookEvent::PreTraffic, HOOK_EXECUTION, ExecutionStatus::Succeeded);
        let none = mocks::no_execution();
        let clients = mocked_clients(&[&canary, &none]);

        let found = hook_executions(&clients.executions(), &mocks::machines(), DEPLOYMENT).await.expect("lookup");

        assert_eq!(found.len(), 1, "{found:?}");
        let canary_execution = &found[0];
        assert_eq!(canary_execution.event, HookEvent::PreTraffic);
        assert_eq!(canary_execution.execution_arn, mocks::arn(HookEvent::PreTraffic));
        assert_eq!(
            canary_execution.execution_arn,
            "arn:aws:states:us-east-1:123456789012:execution:hookline-canary:d-TESTDEP01-BeforeAllowTraffic"
        );
        assert!(canary_execution.serves(HOOK_EXECUTION) && !canary_execution.serves("another-id"));
        assert!(!canary_execution.is_running());
        assert_eq!(none.num_calls(), 1, "the post-traffic execution was looked up too");
    }

    #[tokio::test]
    async fn an_execution_whose_input_names_no_hook_serves_no_id() {
        let odd = aws_smithy_mocks::mock!(aws_sdk_sfn::Client::describe_execution).then_output(|| {
            aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput::builder()
                .execution_arn("arn:x")
                .state_machine_arn("arn:y")
                .status(ExecutionStatus::Running)
                .start_date(aws_sdk_sfn::primitives::DateTime::from_secs(0))
                .input(r#"{"not": "a document"}"#)
                .build()
                .expect("output")
        });
        let clients = mocked_clients(&[&odd]);

        let found = hook_executions(&clients.executions(), &mocks::machines(), DEPLOYMENT).await.expect("lookup");

        assert_eq!(found.len(), 2);
        assert!(found.iter().all(|e| e.hook_execution_id.is_none() && e.is_running()));
    }
}
