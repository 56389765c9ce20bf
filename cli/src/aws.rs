//! AWS access for the CLI: configuration as every AWS tool loads it
//! (aws-config: profiles, region, credentials, `AWS_ENDPOINT_URL`), the
//! library's clients, and the lookups several verbs share.

use aws_config::BehaviorVersion;
use aws_sdk_codedeploy::types::DeploymentInfo;
use aws_sdk_sfn::types::HistoryEvent;
use hookline::error::AwsResultExt;
use hookline::execution::{execution_name, DeploymentContext, ExecutionDocument, HookEvent};
use hookline::lifecycle::Lifecycle;
use hookline::Clients;

use crate::history::Event;
use crate::{fail, CliError, R};

/// Where to reach AWS and how hookline is named there.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub endpoint_url: Option<String>,
    pub region: Option<String>,
    pub profile: Option<String>,
    pub state_machine_prefix: String,
    pub plan_parameter_prefix: String,
}

/// Clients plus hookline's names.
pub struct Aws {
    pub clients: Clients,
    pub sts: aws_sdk_sts::Client,
    pub settings: Settings,
    /// State machine ARNs found so far (watch polls every second).
    machines: std::sync::Mutex<std::collections::HashMap<String, String>>,
}

/// A deployment's canary or post-traffic execution.
#[derive(Debug, Clone)]
pub struct Execution {
    pub name: String,
    pub arn: String,
    pub status: String,
    pub events: Vec<Event>,
}

impl Aws {
    /// Loads the configuration; fails when no region can be found.
    pub async fn connect(settings: Settings) -> R<Aws> {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(profile) = &settings.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(region) = &settings.region {
            loader = loader.region(aws_config::Region::new(region.clone()));
        }
        if let Some(url) = &settings.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        let config = loader.load().await;
        if config.region().is_none() {
            return Err(fail("no AWS region: pass --region, set AWS_REGION, or configure one in your profile"));
        }
        let clients = Clients::from_config(&config);
        Ok(Aws { clients, sts: aws_sdk_sts::Client::new(&config), settings, machines: Default::default() })
    }

    /// `<prefix>-<name>`, e.g. `hookline-canary`.
    pub fn state_machine_name(&self, name: &str) -> String {
        format!("{}-{name}", self.settings.state_machine_prefix)
    }

    /// The ARN of state machine `<prefix>-<name>`, found by listing state machines (no account id needed).
    pub async fn state_machine_arn(&self, name: &str) -> R<Option<String>> {
        let wanted = self.state_machine_name(name);
        if let Some(arn) = self.machines.lock().ok().and_then(|m| m.get(&wanted).cloned()) {
            return Ok(Some(arn));
        }
        let mut token = None;
        loop {
            let out = self
                .clients
                .sfn
                .list_state_machines()
                .set_next_token(token)
                .max_results(1000)
                .send()
                .await
                .aws("ListStateMachines")?;
            if let Some(sm) = out.state_machines().iter().find(|s| s.name() == wanted) {
                let arn = sm.state_machine_arn().to_string();
                if let Ok(mut m) = self.machines.lock() {
                    m.insert(wanted, arn.clone());
                }
                return Ok(Some(arn));
            }
            token = out.next_token().map(str::to_string);
            if token.is_none() {
                return Ok(None);
            }
        }
    }

    /// Like [`Aws::state_machine_arn`], but a missing state machine is an error naming what was expected.
    pub async fn require_state_machine(&self, name: &str) -> R<String> {
        self.state_machine_arn(name).await?.ok_or_else(|| {
            fail(format!(
                "state machine {} not found (hookline's state machines are named <prefix>-canary, \
                 <prefix>-post-traffic; set --state-machine-prefix or HOOKLINE_STATE_MACHINE_PREFIX)",
                self.state_machine_name(name)
            ))
        })
    }

    /// The deployment, or an error saying it does not exist.
    pub async fn deployment(&self, deployment_id: &str) -> R<DeploymentInfo> {
        let out = self.clients.codedeploy.get_deployment().deployment_id(deployment_id).send().await;
        match out {
            Ok(o) => o
                .deployment_info()
                .cloned()
                .ok_or_else(|| fail(format!("CodeDeploy returned no information for {deployment_id}"))),
            Err(e) => {
                let err = hookline::Error::from_sdk("GetDeployment", e);
                match err.aws_code() {
                    Some("DeploymentDoesNotExistException") => Err(fail(format!(
                        "deployment {deployment_id} not found in CodeDeploy (expected an id like d-ABCDEF123 of this account and region)"
                    ))),
                    Some("InvalidDeploymentIdException") => {
                        Err(fail(format!("{deployment_id:?} is not a CodeDeploy deployment id (expected d- and 9 characters)")))
                    }
                    _ => Err(err.into()),
                }
            }
        }
    }

    /// The execution `<deployment-id>-<event>` of the canary (BeforeAllowTraffic) or post-traffic
    /// (AfterAllowTraffic) state machine, with its history; `None` when it was never started.
    pub async fn execution(&self, deployment_id: &str, event: HookEvent) -> R<Option<Execution>> {
        let machine = match event {
            HookEvent::BeforeAllowTraffic => "canary",
            HookEvent::AfterAllowTraffic => "post-traffic",
        };
        let Some(sm) = self.state_machine_arn(machine).await? else {
            return Ok(None);
        };
        let name = execution_name(deployment_id, event);
        let arn = execution_arn(&sm, &name);
        let described = match self.clients.sfn.describe_execution().execution_arn(&arn).send().await {
            Ok(d) => d,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_execution_does_not_exist()) => return Ok(None),
            Err(e) => return Err(hookline::Error::from_sdk("DescribeExecution", e).into()),
        };
        let events = self.history(&arn).await?;
        Ok(Some(Execution { name, arn, status: described.status().as_str().to_string(), events }))
    }

    /// The whole history of an execution, oldest first.
    pub async fn history(&self, execution_arn: &str) -> R<Vec<Event>> {
        let mut events = Vec::new();
        let mut token = None;
        loop {
            let out = self
                .clients
                .sfn
                .get_execution_history()
                .execution_arn(execution_arn)
                .max_results(1000)
                .set_next_token(token)
                .send()
                .await
                .aws("GetExecutionHistory")?;
            events.extend(out.events().iter().map(event_from_sdk));
            token = out.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        events.sort_by_key(|e| e.id);
        Ok(events)
    }

    /// The deployment's context: from an execution's document, else resolved from CodeDeploy
    /// (with the plan's production rule, when the plan names one).
    pub async fn context(&self, deployment_id: &str, document: Option<&ExecutionDocument>) -> R<DeploymentContext> {
        if let Some(doc) = document {
            let mut ctx = doc.context.clone();
            if ctx.production.rule_arn().is_none() {
                ctx.set_production_rule(doc.plan.traffic.production_rule_arn.clone());
            }
            return Ok(ctx);
        }
        let mut ctx = self.clients.lifecycle().resolve(deployment_id, None).await?.context;
        let rule =
            hookline::rollback::production_rule(&self.clients.ssm, &ctx, &self.settings.plan_parameter_prefix).await?;
        ctx.set_production_rule(rule);
        Ok(ctx)
    }

    /// Who is calling: the caller identity's ARN, else `$USER`.
    pub async fn caller(&self) -> String {
        match self.sts.get_caller_identity().send().await {
            Ok(out) if out.arn().is_some() => out.arn().unwrap_or_default().to_string(),
            _ => std::env::var("USER").unwrap_or_else(|_| "unknown".into()),
        }
    }
}

/// `arn:aws:states:r:a:stateMachine:sm` + `name` → `arn:aws:states:r:a:execution:sm:name`.
pub fn execution_arn(state_machine_arn: &str, name: &str) -> String {
    format!("{}:{name}", state_machine_arn.replacen(":stateMachine:", ":execution:", 1))
}

fn event_from_sdk(e: &HistoryEvent) -> Event {
    let mut ev =
        Event { id: e.id(), ts: e.timestamp().secs(), kind: e.r#type().as_str().to_string(), ..Event::default() };
    if let Some(d) = e.state_entered_event_details() {
        ev.name = Some(d.name().to_string());
        ev.input = d.input().map(str::to_string);
    }
    if let Some(d) = e.state_exited_event_details() {
        ev.name = Some(d.name().to_string());
        ev.output = d.output().map(str::to_string);
    }
    if let Some(d) = e.execution_started_event_details() {
        ev.input = d.input().map(str::to_string);
    }
    if let Some(d) = e.execution_succeeded_event_details() {
        ev.output = d.output().map(str::to_string);
    }
    if let Some(d) = e.execution_failed_event_details() {
        ev.error = d.error().map(str::to_string);
        ev.cause = d.cause().map(str::to_string);
    }
    if let Some(d) = e.execution_aborted_event_details() {
        ev.error = d.error().map(str::to_string);
        ev.cause = d.cause().map(str::to_string);
    }
    if let Some(d) = e.execution_timed_out_event_details() {
        ev.error = d.error().map(str::to_string);
        ev.cause = d.cause().map(str::to_string);
    }
    if let Some(d) = e.task_scheduled_event_details() {
        ev.resource = Some(format!("{}:{}", d.resource_type(), d.resource()));
        ev.parameters = Some(d.parameters().to_string());
    }
    if let Some(d) = e.task_succeeded_event_details() {
        ev.output = d.output().map(str::to_string);
    }
    if let Some(d) = e.task_failed_event_details() {
        ev.error = d.error().map(str::to_string);
        ev.cause = d.cause().map(str::to_string);
    }
    if let Some(d) = e.task_timed_out_event_details() {
        ev.error = d.error().map(str::to_string);
        ev.cause = d.cause().map(str::to_string);
    }
    if let Some(d) = e.lambda_function_scheduled_event_details() {
        ev.resource = Some(d.resource().to_string());
        ev.input = d.input().map(str::to_string);
    }
    if let Some(d) = e.lambda_function_succeeded_event_details() {
        ev.output = d.output().map(str::to_string);
    }
    if let Some(d) = e.lambda_function_failed_event_details() {
        ev.error = d.error().map(str::to_string);
        ev.cause = d.cause().map(str::to_string);
    }
    if let Some(d) = e.lambda_function_timed_out_event_details() {
        ev.error = d.error().map(str::to_string);
        ev.cause = d.cause().map(str::to_string);
    }
    ev
}

impl From<hookline::Error> for CliError {
    fn from(e: hookline::Error) -> Self {
        CliError(short_error(&e))
    }
}

/// The SDK's error text without its debug dump, plus a hint when AWS could not be reached.
pub fn short_error(e: &hookline::Error) -> String {
    let text = e.to_string();
    let mut cut = text.as_str();
    for marker in
        [" (ServiceError(", " (DispatchFailure(", " (TimeoutError(", " (ResponseError(", " (ConstructionFailure("]
    {
        if let Some(i) = cut.find(marker) {
            cut = &cut[..i];
        }
    }
    if text.contains("loading credentials") || text.contains("no credentials") {
        format!(
            "{cut} (no AWS credentials: use --profile, AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or SSO)"
        )
    } else if text.contains("DispatchFailure") || text.contains("dispatch failure") {
        format!("{cut} (is AWS reachable? check --endpoint-url / AWS_ENDPOINT_URL and your network)")
    } else {
        cut.to_string()
    }
}
