//! [`Executions`] over AWS Step Functions.

use async_trait::async_trait;
use aws_sdk_sfn::types::{ExecutionStatus, HistoryEvent};
use aws_smithy_types::DateTime;

use crate::error::AwsResultExt;
use crate::execution::execution_arn;
use crate::ports::{ExecutionEvent, ExecutionInfo, Executions, RunStatus, StartOutcome, StopOutcome};
use crate::{Error, Result};

/// The state machine executions of one account and region, through Step Functions' API.
#[derive(Clone, Debug)]
pub struct StepFunctions {
    pub sfn: aws_sdk_sfn::Client,
}

impl StepFunctions {
    pub fn new(sfn: aws_sdk_sfn::Client) -> StepFunctions {
        StepFunctions { sfn }
    }
}

/// Step Functions' execution status in hookline's words (`PENDING_REDRIVE` and newer words are
/// kept as the service said them).
fn run_status(status: &ExecutionStatus) -> RunStatus {
    match status {
        ExecutionStatus::Running => RunStatus::Running,
        ExecutionStatus::Succeeded => RunStatus::Succeeded,
        ExecutionStatus::Failed => RunStatus::Failed,
        ExecutionStatus::TimedOut => RunStatus::TimedOut,
        ExecutionStatus::Aborted => RunStatus::Aborted,
        other => RunStatus::Unrecognized(other.as_str().to_string()),
    }
}

fn epoch(date: &DateTime) -> i64 {
    date.secs()
}

/// One history event in hookline's words: its kind, and the fields of whichever
/// `<kind>EventDetails` it carries that hookline reads.
fn event_of(e: &HistoryEvent) -> ExecutionEvent {
    let mut event = ExecutionEvent {
        id: e.id(),
        timestamp: epoch(e.timestamp()),
        kind: e.r#type().as_str().to_string(),
        ..ExecutionEvent::default()
    };
    let text = |s: Option<&str>| s.map(str::to_string);
    let mut failed = |error: Option<&str>, cause: Option<&str>| {
        event.error = text(error);
        event.cause = text(cause);
    };
    if let Some(d) = e.execution_failed_event_details() {
        failed(d.error(), d.cause());
    }
    if let Some(d) = e.execution_aborted_event_details() {
        failed(d.error(), d.cause());
    }
    if let Some(d) = e.execution_timed_out_event_details() {
        failed(d.error(), d.cause());
    }
    if let Some(d) = e.task_failed_event_details() {
        failed(d.error(), d.cause());
    }
    if let Some(d) = e.task_timed_out_event_details() {
        failed(d.error(), d.cause());
    }
    if let Some(d) = e.lambda_function_failed_event_details() {
        failed(d.error(), d.cause());
    }
    if let Some(d) = e.lambda_function_timed_out_event_details() {
        failed(d.error(), d.cause());
    }
    if let Some(d) = e.state_entered_event_details() {
        event.state_name = Some(d.name().to_string());
        event.input = text(d.input());
    }
    if let Some(d) = e.state_exited_event_details() {
        event.state_name = Some(d.name().to_string());
        event.output = text(d.output());
    }
    if let Some(d) = e.execution_started_event_details() {
        event.input = text(d.input());
    }
    if let Some(d) = e.execution_succeeded_event_details() {
        event.output = text(d.output());
    }
    if let Some(d) = e.task_scheduled_event_details() {
        event.parameters = Some(d.parameters().to_string());
    }
    if let Some(d) = e.task_succeeded_event_details() {
        event.output = text(d.output());
    }
    if let Some(d) = e.lambda_function_scheduled_event_details() {
        event.input = text(d.input());
    }
    if let Some(d) = e.lambda_function_succeeded_event_details() {
        event.output = text(d.output());
    }
    event
}

#[async_trait]
impl Executions for StepFunctions {
    async fn describe(&self, execution_arn: &str) -> Result<Option<ExecutionInfo>> {
        let out = match self.sfn.describe_execution().execution_arn(execution_arn).send().await {
            Ok(out) => out,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_execution_does_not_exist()) => return Ok(None),
            Err(e) => return Err(e).aws("DescribeExecution"),
        };
        Ok(Some(ExecutionInfo {
            execution_arn: out.execution_arn().to_string(),
            state_machine_arn: out.state_machine_arn().to_string(),
            name: out.name().unwrap_or_default().to_string(),
            status: run_status(out.status()),
            input: out.input().map(str::to_string),
            output: out.output().map(str::to_string),
            started_at: Some(epoch(out.start_date())),
            stopped_at: out.stop_date().map(epoch),
            error: out.error().map(str::to_string),
            cause: out.cause().map(str::to_string),
        }))
    }

    async fn history(&self, execution_arn: &str) -> Result<Vec<ExecutionEvent>> {
        // "By default, the results are returned in ascending order of the timeStamp of the events
        // [...] If nextToken is returned, there are more results available." (API reference,
        // GetExecutionHistory): every page, 1000 events a page (the maximum), oldest first.
        let mut pages =
            self.sfn.get_execution_history().execution_arn(execution_arn).max_results(1000).into_paginator().send();
        let mut events = Vec::new();
        while let Some(page) = pages.next().await {
            events.extend(page.aws("GetExecutionHistory")?.events().iter().map(event_of));
        }
        // Ids grow with time; sorting keeps the port's order whatever the pages' order.
        events.sort_by_key(|e| e.id);
        Ok(events)
    }

    async fn start(&self, state_machine_arn: &str, name: &str, input: &str) -> Result<StartOutcome> {
        let started =
            self.sfn.start_execution().state_machine_arn(state_machine_arn).name(name).input(input).send().await;
        match started {
            Ok(out) => Ok(StartOutcome::Started(out.execution_arn().to_string())),
            // Names are unique per state machine for 90 days: the existing one has the ARN this
            // name gives (`execution_arn`).
            Err(e) if e.as_service_error().is_some_and(|s| s.is_execution_already_exists()) => {
                Ok(StartOutcome::AlreadyExists(execution_arn(state_machine_arn, name)))
            }
            Err(e) => Err(Error::from_sdk("StartExecution", e)),
        }
    }

    async fn list_running(&self, state_machine_arn: &str, name_prefix: &str) -> Result<Vec<String>> {
        // Every page: a machine may run more executions than one page lists.
        let mut pages = self
            .sfn
            .list_executions()
            .state_machine_arn(state_machine_arn)
            .status_filter(ExecutionStatus::Running)
            .into_paginator()
            .send();
        let mut running = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.aws("ListExecutions")?;
            running.extend(
                page.executions()
                    .iter()
                    .filter(|e| e.name().starts_with(name_prefix))
                    .map(|e| e.execution_arn().to_string()),
            );
        }
        Ok(running)
    }

    async fn stop(&self, execution_arn: &str, error: &str, cause: &str) -> Result<StopOutcome> {
        match self.sfn.stop_execution().execution_arn(execution_arn).error(error).cause(cause).send().await {
            Ok(_) => Ok(StopOutcome::Stopped),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_execution_does_not_exist()) => {
                Ok(StopOutcome::NotRunning)
            }
            Err(e) => Err(Error::from_sdk("StopExecution", e)),
        }
    }

    async fn send_task_success(&self, task_token: &str, output: &str) -> Result<()> {
        self.sfn.send_task_success().task_token(task_token).output(output).send().await.aws("SendTaskSuccess")?;
        Ok(())
    }

    async fn send_task_failure(&self, task_token: &str, error: &str, cause: &str) -> Result<()> {
        self.sfn
            .send_task_failure()
            .task_token(task_token)
            .error(error)
            .cause(cause)
            .send()
            .await
            .aws("SendTaskFailure")?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_sfn::operation::describe_execution::{DescribeExecutionError, DescribeExecutionOutput};
    use aws_sdk_sfn::operation::get_execution_history::{
        GetExecutionHistoryError, GetExecutionHistoryInput, GetExecutionHistoryOutput,
    };
    use aws_sdk_sfn::operation::list_executions::{ListExecutionsInput, ListExecutionsOutput};
    use aws_sdk_sfn::operation::send_task_failure::{SendTaskFailureInput, SendTaskFailureOutput};
    use aws_sdk_sfn::operation::send_task_success::{SendTaskSuccessInput, SendTaskSuccessOutput};
    use aws_sdk_sfn::operation::start_execution::{StartExecutionError, StartExecutionInput, StartExecutionOutput};
    use aws_sdk_sfn::operation::stop_execution::{StopExecutionError, StopExecutionInput, StopExecutionOutput};
    use aws_sdk_sfn::types::error::{ExecutionAlreadyExists, ExecutionDoesNotExist};
    use aws_sdk_sfn::types::{
        ExecutionFailedEventDetails, ExecutionListItem, ExecutionStartedEventDetails, HistoryEventType,
        LambdaFunctionFailedEventDetails, LambdaFunctionScheduledEventDetails, LambdaFunctionSucceededEventDetails,
        StateEnteredEventDetails, StateExitedEventDetails, TaskFailedEventDetails, TaskScheduledEventDetails,
        TaskSucceededEventDetails,
    };
    use aws_smithy_mocks::mock;

    use super::*;
    use crate::testing::{access_denied, mocked_clients, throttling_json, Sent};

    const MACHINE: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:hookline-canary";
    const EXECUTION: &str = "arn:aws:states:us-east-1:123456789012:execution:hookline-canary:d-1-BeforeAllowTraffic";

    fn adapter(rules: &[&aws_smithy_mocks::Rule]) -> StepFunctions {
        mocked_clients(rules).executions()
    }

    fn item(name: &str) -> ExecutionListItem {
        ExecutionListItem::builder()
            .execution_arn(format!("{MACHINE}:{name}").replace(":stateMachine:", ":execution:"))
            .state_machine_arn(MACHINE)
            .name(name)
            .status(ExecutionStatus::Running)
            .start_date(DateTime::from_secs(0))
            .build()
            .expect("item")
    }

    #[tokio::test]
    async fn describe_maps_the_execution_and_a_missing_one_is_none() {
        let found = mock!(aws_sdk_sfn::Client::describe_execution)
            .match_requests(|r| r.execution_arn() == Some(EXECUTION))
            .then_output(|| {
                DescribeExecutionOutput::builder()
                    .execution_arn(EXECUTION)
                    .state_machine_arn(MACHINE)
                    .name("d-1-BeforeAllowTraffic")
                    .status(ExecutionStatus::Failed)
                    .start_date(DateTime::from_secs(100))
                    .stop_date(DateTime::from_secs(160))
                    .input(r#"{"a":1}"#)
                    .error("RolledBack")
                    .cause("operator")
                    .build()
                    .expect("output")
            });
        let missing = mock!(aws_sdk_sfn::Client::describe_execution).then_error(|| {
            DescribeExecutionError::ExecutionDoesNotExist(ExecutionDoesNotExist::builder().message("no").build())
        });
        let sfn = adapter(&[&found, &missing]);

        let info = sfn.describe(EXECUTION).await.expect("describe").expect("exists");
        assert_eq!(info.status, RunStatus::Failed);
        assert_eq!((info.started_at, info.stopped_at), (Some(100), Some(160)));
        assert_eq!(info.input.as_deref(), Some(r#"{"a":1}"#));
        assert_eq!((info.error.as_deref(), info.cause.as_deref()), (Some("RolledBack"), Some("operator")));
        assert_eq!(info.name, "d-1-BeforeAllowTraffic");

        assert_eq!(sfn.describe("arn:other").await, Ok(None));
    }

    #[tokio::test]
    async fn describe_returns_other_errors_classified() {
        let denied = mock!(aws_sdk_sfn::Client::describe_execution)
            .then_error(|| DescribeExecutionError::generic(access_denied()));
        let err = adapter(&[&denied]).describe(EXECUTION).await.unwrap_err();
        assert_eq!((err.error_type(), err.aws_code()), ("AwsPermanent", Some("AccessDeniedException")), "{err}");
    }

    #[test]
    fn a_status_hookline_has_no_word_for_is_kept_as_said() {
        assert_eq!(run_status(&ExecutionStatus::PendingRedrive), RunStatus::Unrecognized("PENDING_REDRIVE".into()));
        assert_eq!(run_status(&ExecutionStatus::Running), RunStatus::Running);
        assert_eq!(run_status(&ExecutionStatus::TimedOut), RunStatus::TimedOut);
    }

    fn history_event(id: i64, kind: HistoryEventType) -> aws_sdk_sfn::types::builders::HistoryEventBuilder {
        HistoryEvent::builder().id(id).timestamp(DateTime::from_secs_f64(1_763_776_000.75 + id as f64)).r#type(kind)
    }

    /// The approval step's SNS publish as Step Functions records it (statemachine/README.md).
    const APPROVAL_PARAMETERS: &str =
        r#"{"TopicArn":"arn:aws:sns:us-east-1:123456789012:hookline-approvals","Message":{"task_token":"t-1"}}"#;

    /// A canary's history in two pages: what each kind of event carries, in the details of its kind.
    fn first_page() -> GetExecutionHistoryOutput {
        GetExecutionHistoryOutput::builder()
            .events(
                history_event(1, HistoryEventType::ExecutionStarted)
                    .execution_started_event_details(
                        ExecutionStartedEventDetails::builder().input(r#"{"doc":1}"#).build(),
                    )
                    .build()
                    .expect("event"),
            )
            .events(
                history_event(2, HistoryEventType::TaskStateEntered)
                    .state_entered_event_details(
                        StateEnteredEventDetails::builder()
                            .name("RequestApproval")
                            .input(r#"{"step":{}}"#)
                            .build()
                            .expect("details"),
                    )
                    .build()
                    .expect("event"),
            )
            .events(
                history_event(3, HistoryEventType::TaskScheduled)
                    .task_scheduled_event_details(
                        TaskScheduledEventDetails::builder()
                            .resource_type("sns")
                            .resource("publish.waitForTaskToken")
                            .region("us-east-1")
                            .parameters(APPROVAL_PARAMETERS)
                            .build()
                            .expect("details"),
                    )
                    .build()
                    .expect("event"),
            )
            .events(
                history_event(4, HistoryEventType::TaskSucceeded)
                    .task_succeeded_event_details(
                        TaskSucceededEventDetails::builder()
                            .resource_type("sns")
                            .resource("publish.waitForTaskToken")
                            .output(r#"{"approved_by":"alice"}"#)
                            .build()
                            .expect("details"),
                    )
                    .build()
                    .expect("event"),
            )
            .next_token("page-2")
            .build()
            .expect("page")
    }

    fn second_page() -> GetExecutionHistoryOutput {
        GetExecutionHistoryOutput::builder()
            .events(
                history_event(5, HistoryEventType::LambdaFunctionScheduled)
                    .lambda_function_scheduled_event_details(
                        LambdaFunctionScheduledEventDetails::builder()
                            .resource("arn:aws:lambda:us-east-1:123456789012:function:validate-health")
                            .input(r#"{"gate":"bake"}"#)
                            .build()
                            .expect("details"),
                    )
                    .build()
                    .expect("event"),
            )
            .events(
                history_event(6, HistoryEventType::LambdaFunctionSucceeded)
                    .lambda_function_succeeded_event_details(
                        LambdaFunctionSucceededEventDetails::builder().output(r#"{"healthy":true}"#).build(),
                    )
                    .build()
                    .expect("event"),
            )
            .events(
                history_event(7, HistoryEventType::LambdaFunctionFailed)
                    .lambda_function_failed_event_details(
                        LambdaFunctionFailedEventDetails::builder().error("HealthCheckFailed").cause("5xx").build(),
                    )
                    .build()
                    .expect("event"),
            )
            .events(
                history_event(8, HistoryEventType::TaskFailed)
                    .task_failed_event_details(
                        TaskFailedEventDetails::builder()
                            .resource_type("sns")
                            .resource("publish.waitForTaskToken")
                            .error("ApprovalRejected")
                            .cause("no")
                            .build()
                            .expect("details"),
                    )
                    .build()
                    .expect("event"),
            )
            .events(
                history_event(9, HistoryEventType::TaskStateExited)
                    .state_exited_event_details(
                        StateExitedEventDetails::builder().name("Bake").output("{}").build().expect("details"),
                    )
                    .build()
                    .expect("event"),
            )
            .events(
                history_event(10, HistoryEventType::ExecutionFailed)
                    .execution_failed_event_details(
                        ExecutionFailedEventDetails::builder().error("RolledBack").cause(r#"{"Error":"x"}"#).build(),
                    )
                    .build()
                    .expect("event"),
            )
            .build()
            .expect("page")
    }

    #[tokio::test]
    async fn history_reads_every_page_oldest_first_with_each_kinds_details() {
        let sent: Sent<GetExecutionHistoryInput> = Sent::default();
        let first = mock!(aws_sdk_sfn::Client::get_execution_history)
            .match_requests(|r| r.next_token().is_none())
            .then_output(first_page);
        let second =
            mock!(aws_sdk_sfn::Client::get_execution_history).match_requests(sent.recorder()).then_output(second_page);

        let events = adapter(&[&first, &second]).history(EXECUTION).await.expect("history");

        let request = sent.only();
        assert_eq!(
            (request.execution_arn(), request.next_token(), request.max_results(), request.reverse_order()),
            (Some(EXECUTION), Some("page-2"), Some(1000), None),
            "the next page of the same execution, oldest first"
        );
        let event = |id: i64, kind: &str| ExecutionEvent {
            id,
            timestamp: 1_763_776_000 + id,
            kind: kind.into(),
            ..ExecutionEvent::default()
        };
        let text = |s: &str| Some(s.to_string());
        assert_eq!(
            events,
            vec![
                ExecutionEvent { input: text(r#"{"doc":1}"#), ..event(1, "ExecutionStarted") },
                ExecutionEvent {
                    state_name: text("RequestApproval"),
                    input: text(r#"{"step":{}}"#),
                    ..event(2, "TaskStateEntered")
                },
                ExecutionEvent { parameters: text(APPROVAL_PARAMETERS), ..event(3, "TaskScheduled") },
                ExecutionEvent { output: text(r#"{"approved_by":"alice"}"#), ..event(4, "TaskSucceeded") },
                ExecutionEvent { input: text(r#"{"gate":"bake"}"#), ..event(5, "LambdaFunctionScheduled") },
                ExecutionEvent { output: text(r#"{"healthy":true}"#), ..event(6, "LambdaFunctionSucceeded") },
                ExecutionEvent {
                    error: text("HealthCheckFailed"),
                    cause: text("5xx"),
                    ..event(7, "LambdaFunctionFailed")
                },
                ExecutionEvent { error: text("ApprovalRejected"), cause: text("no"), ..event(8, "TaskFailed") },
                ExecutionEvent { state_name: text("Bake"), output: text("{}"), ..event(9, "TaskStateExited") },
                ExecutionEvent {
                    error: text("RolledBack"),
                    cause: text(r#"{"Error":"x"}"#),
                    ..event(10, "ExecutionFailed")
                },
            ]
        );
    }

    #[tokio::test]
    async fn history_fails_with_the_classified_error_of_any_page() {
        let missing = mock!(aws_sdk_sfn::Client::get_execution_history).then_error(|| {
            GetExecutionHistoryError::ExecutionDoesNotExist(ExecutionDoesNotExist::builder().message("no").build())
        });
        let err = adapter(&[&missing]).history(EXECUTION).await.unwrap_err();
        assert_eq!(err.error_type(), "AwsPermanent", "{err}");

        // A failure after the first page is the answer: no half history.
        let first = mock!(aws_sdk_sfn::Client::get_execution_history)
            .match_requests(|r| r.next_token().is_none())
            .then_output(first_page);
        let denied = mock!(aws_sdk_sfn::Client::get_execution_history)
            .then_error(|| GetExecutionHistoryError::generic(access_denied()));
        let err = adapter(&[&first, &denied]).history(EXECUTION).await.unwrap_err();
        assert_eq!((err.error_type(), err.aws_code()), ("AwsPermanent", Some("AccessDeniedException")), "{err}");
    }

    #[tokio::test(start_paused = true)]
    async fn history_throttled_past_the_sdks_retries_is_throttled() {
        let throttled = mock!(aws_sdk_sfn::Client::get_execution_history)
            .sequence()
            .http_status(400, Some(throttling_json()))
            .times(10)
            .build();
        let err = adapter(&[&throttled]).history(EXECUTION).await.unwrap_err();
        assert_eq!(err.error_type(), "Throttled", "{err}");
    }

    #[tokio::test]
    async fn start_sends_name_and_input_and_an_existing_name_is_already_exists_with_its_arn() {
        let sent: Sent<StartExecutionInput> = Sent::default();
        let started = mock!(aws_sdk_sfn::Client::start_execution).match_requests(sent.recorder()).then_output(|| {
            StartExecutionOutput::builder()
                .execution_arn(EXECUTION)
                .start_date(DateTime::from_secs(0))
                .build()
                .expect("out")
        });
        let sfn = adapter(&[&started]);
        assert_eq!(
            sfn.start(MACHINE, "d-1-BeforeAllowTraffic", "{}").await,
            Ok(StartOutcome::Started(EXECUTION.into()))
        );
        let request = sent.only();
        assert_eq!(
            (request.state_machine_arn(), request.name(), request.input()),
            (Some(MACHINE), Some("d-1-BeforeAllowTraffic"), Some("{}"))
        );

        let exists = mock!(aws_sdk_sfn::Client::start_execution).then_error(|| {
            StartExecutionError::ExecutionAlreadyExists(ExecutionAlreadyExists::builder().message("exists").build())
        });
        assert_eq!(
            adapter(&[&exists]).start(MACHINE, "d-1-BeforeAllowTraffic", "{}").await,
            Ok(StartOutcome::AlreadyExists(EXECUTION.into()))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn start_throttled_past_the_sdks_retries_is_throttled() {
        let throttled = mock!(aws_sdk_sfn::Client::start_execution)
            .sequence()
            .http_status(400, Some(throttling_json()))
            .times(10)
            .build();
        let err = adapter(&[&throttled]).start(MACHINE, "n", "{}").await.unwrap_err();
        assert_eq!(err.error_type(), "Throttled", "{err}");
    }

    /// Moved from the hook's handler tests (`a_throttled_start_is_retried_by_the_sdk`): the SDK's
    /// standard retries take a throttled StartExecution, backing off on tokio's clock.
    #[tokio::test(start_paused = true)]
    async fn a_throttled_start_is_retried_by_the_sdk() {
        let start = mock!(aws_sdk_sfn::Client::start_execution)
            .sequence()
            .http_status(400, Some(throttling_json()))
            .times(2)
            .output(|| {
                StartExecutionOutput::builder()
                    .execution_arn(EXECUTION)
                    .start_date(aws_sdk_sfn::primitives::DateTime::from_secs(0))
                    .build()
                    .expect("start execution output")
            })
            .build();
        let clock = tokio::time::Instant::now();

        let started = adapter(&[&start]).start(MACHINE, "d-1-BeforeAllowTraffic", "{}").await;

        assert_eq!(started, Ok(StartOutcome::Started(EXECUTION.into())));
        assert_eq!(start.num_calls(), 3);
        assert!(clock.elapsed() > std::time::Duration::ZERO, "the SDK's backoff sleeps on tokio's (paused) clock");
    }

    #[tokio::test]
    async fn list_running_asks_for_running_ones_follows_pages_and_keeps_the_prefix() {
        let sent: Sent<ListExecutionsInput> = Sent::default();
        let first = mock!(aws_sdk_sfn::Client::list_executions)
            .match_requests(|r| r.next_token().is_none())
            .then_output(|| {
                ListExecutionsOutput::builder()
                    .executions(item("d-1-BeforeAllowTraffic"))
                    .executions(item("d-10-BeforeAllowTraffic"))
                    .next_token("page-2")
                    .build()
                    .expect("list")
            });
        let second = mock!(aws_sdk_sfn::Client::list_executions).match_requests(sent.recorder()).then_output(|| {
            ListExecutionsOutput::builder().executions(item("d-1-AfterAllowTraffic")).build().expect("list")
        });
        let running = adapter(&[&first, &second]).list_running(MACHINE, "d-1-").await.expect("list");

        assert_eq!(
            running,
            vec![item("d-1-BeforeAllowTraffic").execution_arn, item("d-1-AfterAllowTraffic").execution_arn]
        );
        let request = sent.only();
        assert_eq!(request.next_token(), Some("page-2"));
        assert_eq!(request.status_filter(), Some(&ExecutionStatus::Running));
        assert_eq!(request.state_machine_arn(), Some(MACHINE));
    }

    #[tokio::test]
    async fn stop_sends_error_and_cause_and_a_missing_execution_is_not_running() {
        let sent: Sent<StopExecutionInput> = Sent::default();
        let stopped = mock!(aws_sdk_sfn::Client::stop_execution)
            .match_requests(sent.recorder())
            .then_output(|| StopExecutionOutput::builder().stop_date(DateTime::from_secs(1)).build().expect("out"));
        assert_eq!(adapter(&[&stopped]).stop(EXECUTION, "RolledBack", "why").await, Ok(StopOutcome::Stopped));
        let request = sent.only();
        assert_eq!(
            (request.execution_arn(), request.error(), request.cause()),
            (Some(EXECUTION), Some("RolledBack"), Some("why"))
        );

        let gone = mock!(aws_sdk_sfn::Client::stop_execution).then_error(|| {
            StopExecutionError::ExecutionDoesNotExist(ExecutionDoesNotExist::builder().message("no").build())
        });
        assert_eq!(adapter(&[&gone]).stop(EXECUTION, "RolledBack", "why").await, Ok(StopOutcome::NotRunning));

        let denied =
            mock!(aws_sdk_sfn::Client::stop_execution).then_error(|| StopExecutionError::generic(access_denied()));
        let err = adapter(&[&denied]).stop(EXECUTION, "RolledBack", "why").await.unwrap_err();
        assert_eq!(err.aws_code(), Some("AccessDeniedException"), "{err}");
    }

    #[tokio::test]
    async fn task_tokens_are_answered_with_what_was_given() {
        let success: Sent<SendTaskSuccessInput> = Sent::default();
        let failure: Sent<SendTaskFailureInput> = Sent::default();
        let ok = mock!(aws_sdk_sfn::Client::send_task_success)
            .match_requests(success.recorder())
            .then_output(|| SendTaskSuccessOutput::builder().build());
        let no = mock!(aws_sdk_sfn::Client::send_task_failure)
            .match_requests(failure.recorder())
            .then_output(|| SendTaskFailureOutput::builder().build());
        let sfn = adapter(&[&ok, &no]);

        sfn.send_task_success("token-1", r#"{"approved_by":"me"}"#).await.expect("success");
        sfn.send_task_failure("token-2", "ApprovalRejected", "no").await.expect("failure");

        let s = success.only();
        assert_eq!((s.task_token(), s.output()), (Some("token-1"), Some(r#"{"approved_by":"me"}"#)));
        let f = failure.only();
        assert_eq!((f.task_token(), f.error(), f.cause()), (Some("token-2"), Some("ApprovalRejected"), Some("no")));
    }
}
