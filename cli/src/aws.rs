//! AWS access for the CLI: configuration as every AWS tool loads it
//! (aws-config: profiles, region, credentials, `AWS_ENDPOINT_URL`), the
//! library's clients, and the lookups several verbs share. A deployment is read
//! through the library's [`Lifecycle::describe`] (the adapter of its controller:
//! `lifecycle::Controllers`), never from a controller's own types here.

use aws_config::BehaviorVersion;
use aws_sdk_ecs::types::ServiceDeploymentBrief;
use hookline::error::AwsResultExt;
use hookline::execution::{execution_name, DeploymentContext, ExecutionDocument, HookEvent};
use hookline::lifecycle::{DeploymentSummary, Lifecycle};
use hookline::ports::{ExecutionEvent, Executions, RunStatus};
use hookline::Clients;

use crate::address::Address;
use crate::error::{fail, R};

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
    /// IAM (`doctor` reads the function roles' policies).
    pub iam: aws_sdk_iam::Client,
    /// The region the clients call.
    pub region: String,
    pub settings: Settings,
    /// State machine ARNs found so far (watch polls every second).
    machines: std::sync::Mutex<std::collections::HashMap<String, String>>,
}

/// A deployment's canary or post-traffic execution, described and its event history read through
/// the [`Executions`] port.
#[derive(Debug, Clone)]
pub struct Execution {
    pub name: String,
    pub arn: String,
    /// How it stands ([`Executions::describe`]); `execution_history::run_word` shows it.
    pub status: RunStatus,
    /// Its whole event history, oldest first ([`Executions::history`]).
    pub events: Vec<ExecutionEvent>,
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
        let region = config.region().map(|r| r.to_string()).unwrap_or_default();
        Ok(Aws {
            clients,
            sts: aws_sdk_sts::Client::new(&config),
            iam: aws_sdk_iam::Client::new(&config),
            region,
            settings,
            machines: Default::default(),
        })
    }

    /// Every controller's [`Lifecycle`], hookline's own Route 53 releases read under
    /// `--plan-parameter-prefix` (where `hookline deploy` wrote their records).
    pub fn lifecycle(&self) -> hookline::lifecycle::Controllers {
        self.clients.lifecycle_with_prefix(&self.settings.plan_parameter_prefix)
    }

    /// The router of the deployment's production route, whatever it is (a load balancer's listener
    /// or rule, or hookline's own Route 53 records): the functions' [`hookline::traffic::Routers`].
    pub fn router(&self, ctx: &DeploymentContext) -> Box<dyn hookline::traffic::TrafficRouter> {
        use hookline::ports::RouterFactory;
        self.clients.routers().router(ctx)
    }

    /// Where hookline's own Route 53 deployments keep their release records.
    pub fn release_records(&self) -> crate::dns::Records<'_> {
        crate::dns::Records { ssm: &self.clients.ssm, prefix: &self.settings.plan_parameter_prefix }
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

    /// The deployment an operator named: a CodeDeploy deployment id or an ECS service deployment ARN as
    /// given, or the latest service deployment of an ECS service (`--cluster C --service S`).
    pub async fn deployment_id_of(&self, address: &Address) -> R<String> {
        match address {
            Address::Id(id) => Ok(id.clone()),
            Address::Service { cluster, service } => self.latest_service_deployment(cluster, service).await,
            Address::Fqdn(fqdn) => crate::dns::latest(self.release_records(), fqdn).await,
        }
    }

    /// The ARN of the most recently created service deployment of `service` in `cluster`.
    pub async fn latest_service_deployment(&self, cluster: &str, service: &str) -> R<String> {
        let briefs = self.service_deployments(cluster, service, None).await?;
        latest(&briefs).ok_or_else(|| {
            fail(format!(
                "service {service} in cluster {cluster} has no service deployment (ListServiceDeployments is empty: \
                 is its deployment controller ECS, and has it been updated since it was created?)"
            ))
        })
    }

    /// Every service deployment of `service` in `cluster` (all pages, or until `enough` are read), as
    /// ListServiceDeployments lists them: ECS documents no order, so callers sort.
    pub async fn service_deployments(
        &self,
        cluster: &str,
        service: &str,
        enough: Option<usize>,
    ) -> R<Vec<ServiceDeploymentBrief>> {
        let mut briefs = Vec::new();
        let mut token = None;
        loop {
            let out = self
                .clients
                .ecs
                .list_service_deployments()
                .cluster(cluster)
                .service(service)
                .set_next_token(token)
                .send()
                .await;
            let out = match out {
                Ok(out) => out,
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_service_not_found_exception() || s.is_cluster_not_found_exception()) =>
                {
                    return Err(fail(format!("service {service} not found in ECS cluster {cluster}")));
                }
                Err(e) => return Err(hookline::Error::from_sdk("ListServiceDeployments", e).into()),
            };
            briefs.extend(out.service_deployments().iter().cloned());
            token = out.next_token().map(str::to_string);
            if token.is_none() || enough.is_some_and(|n| briefs.len() >= n) {
                return Ok(briefs);
            }
        }
    }

    /// The deployment as readers show it, whatever its controller ([`Lifecycle::describe`]), or an
    /// error saying it does not exist.
    pub async fn deployment(&self, deployment_id: &str) -> R<DeploymentSummary> {
        Ok(self.lifecycle().describe(deployment_id).await?)
    }

    /// The execution `execution_name(deployment-id, event)` of the canary (BeforeAllowTraffic) or post-traffic
    /// (AfterAllowTraffic) state machine, with its history; `None` when it was never started.
    pub async fn execution(&self, deployment_id: &str, event: HookEvent) -> R<Option<Execution>> {
        let machine = match event {
            HookEvent::PreTraffic => "canary",
            HookEvent::PostTraffic => "post-traffic",
        };
        let Some(sm) = self.state_machine_arn(machine).await? else {
            return Ok(None);
        };
        let name = execution_name(deployment_id, event);
        let arn = execution_arn(&sm, &name);
        read_execution(&self.clients.executions(), name, arn).await
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
        let mut ctx = self.lifecycle().resolve(deployment_id, None).await?.context;
        // A CodeDeploy deployment's route is its production listener unless the plan names a rule; an
        // ECS-native one is already the service's production listener rule, which no plan overrides.
        if ctx.production.rule_arn().is_none() {
            let prefix = &self.settings.plan_parameter_prefix;
            let rule = hookline::rollback::production_rule(&self.clients.plans(), &ctx, prefix).await?;
            ctx.set_production_rule(rule);
        }
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

#[cfg(test)]
impl Aws {
    /// Mocked clients (hookline::testing) and the default names, for the verbs' unit tests.
    pub fn with_clients(clients: Clients) -> Aws {
        let sts = aws_sdk_sts::Client::from_conf(
            aws_sdk_sts::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .region(aws_config::Region::new("us-east-1"))
                .build(),
        );
        let iam = aws_sdk_iam::Client::from_conf(
            aws_sdk_iam::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .region(aws_config::Region::new("us-east-1"))
                .build(),
        );
        let settings = Settings {
            state_machine_prefix: "hookline".into(),
            plan_parameter_prefix: "/hookline".into(),
            ..Settings::default()
        };
        Aws { clients, sts, iam, region: "us-east-1".into(), settings, machines: Default::default() }
    }
}

/// The most recently created (else started) of `briefs`.
pub fn latest(briefs: &[ServiceDeploymentBrief]) -> Option<String> {
    let when = |b: &ServiceDeploymentBrief| b.created_at().or(b.started_at()).map(|t| t.as_nanos()).unwrap_or(0);
    briefs.iter().max_by_key(|b| when(b)).and_then(|b| b.service_deployment_arn()).map(str::to_string)
}

/// Execution `name` at `arn`, described and with its whole history; `None` when it does not exist.
pub async fn read_execution(executions: &dyn Executions, name: String, arn: String) -> R<Option<Execution>> {
    let Some(described) = executions.describe(&arn).await? else {
        return Ok(None);
    };
    let events = executions.history(&arn).await?;
    Ok(Some(Execution { name, arn, status: described.status, events }))
}

/// `arn:aws:states:r:a:stateMachine:sm` + `name` → `arn:aws:states:r:a:execution:sm:name`.
pub fn execution_arn(state_machine_arn: &str, name: &str) -> String {
    format!("{}:{name}", state_machine_arn.replacen(":stateMachine:", ":execution:", 1))
}

#[cfg(test)]
mod tests {
    use hookline::testing::{denied, ExecutionsCall, FakeExecutions};

    use super::*;

    const MACHINE: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:hookline-canary";

    fn event(id: i64, kind: &str) -> ExecutionEvent {
        ExecutionEvent { id, timestamp: 1_763_776_000 + id, kind: kind.into(), ..ExecutionEvent::default() }
    }

    #[tokio::test]
    async fn an_execution_is_read_with_its_whole_history_through_the_port() {
        let executions = FakeExecutions::default();
        let name = "d-1-BeforeAllowTraffic";
        let arn = executions.insert(MACHINE, name, RunStatus::Running, Some("{}"));
        let entered = ExecutionEvent { state_name: Some("ShiftWeight".into()), ..event(2, "TaskStateEntered") };
        executions.record(&arn, [event(1, "ExecutionStarted"), entered.clone()]);

        let read = read_execution(&executions, name.into(), arn.clone()).await.expect("read").expect("exists");

        assert_eq!((read.name.as_str(), read.arn.as_str(), &read.status), (name, arn.as_str(), &RunStatus::Running));
        assert_eq!(read.events, vec![event(1, "ExecutionStarted"), entered]);
    }

    #[tokio::test]
    async fn an_execution_never_started_is_none_and_a_failed_history_read_is_the_error() {
        let executions = FakeExecutions::default();
        let never = execution_arn(MACHINE, "d-2-BeforeAllowTraffic");
        assert_eq!(
            read_execution(&executions, "d-2-BeforeAllowTraffic".into(), never).await.map(|e| e.is_none()),
            Ok(true)
        );

        let arn = executions.insert(MACHINE, "d-1-BeforeAllowTraffic", RunStatus::Running, None);
        executions.fail(ExecutionsCall::History, denied("GetExecutionHistory"));
        let err = read_execution(&executions, "d-1-BeforeAllowTraffic".into(), arn).await.unwrap_err();
        assert!(err.0.contains("GetExecutionHistory"), "{}", err.0);
    }
}
