//! The ports: every interface through which hookline's flows reach the world, in one file.
//!
//! A flow (the hook's start, a step, a rollback, the CLI's verbs) depends on these traits only;
//! each has one AWS adapter per service that implements it and one in-memory fake in
//! `hookline::testing` (feature `test-util`) for handler and flow tests. No SDK type crosses a port: what comes back is
//! hookline's own vocabulary ([`crate::lifecycle::DeploymentStatus`], [`RunStatus`], ...).
//!
//! | Port | What it is | AWS adapter |
//! |---|---|---|
//! | [`Lifecycle`] | the deployment controller: context, status, hook answers, stop | `lifecycle::CodeDeploy`, `lifecycle::EcsNative`, `lifecycle::Route53Releases` (one per controller, picked by `lifecycle::Controllers`) |
//! | [`TrafficRouter`] / [`RouterFactory`] | moving production traffic on one route | `traffic::Routers` (`AlbRouter`, `Route53Router`) |
//! | [`HealthFacts`] | targets, alarms, HTTP probes of green | `health::HealthGate` |
//! | [`MetricsSource`] | the judge's samples | `health::metrics` (CloudWatch) |
//! | [`Executions`] | state machine executions: describe, event history, start, list, stop, task tokens | Step Functions |
//! | [`PlanStore`] | the plan's text and the release record | SSM Parameter Store |
//! | [`Services`] | a release's own ECS service (hookline's Route 53 controller) | `aws::EcsServices` |
//! | [`ReleaseDiscovery`] / [`RecordRemoval`] | a group's load balancer releases and the fqdn's weighted records; deleting an idle one | `aws::ReleaseFinder` (ELBv2 + Route 53) |

use async_trait::async_trait;

pub use crate::lifecycle::deployment::DeploymentSummary;

use crate::dns::{
    HostedZone, LoadBalancerRelease, Placement, ServiceFacts, ServiceSpec, TaskDefinitionSpec, WeightedRecord,
};
pub use crate::execution::RunStatus;
use crate::execution::{DeploymentContext, HookEvent, ServiceRef};
use crate::health::facts::{SeriesQuery, TargetFacts, TaskSetFacts};
use crate::lifecycle::deployment::{
    controller_of, Admission, DeploymentStatus, EventStatus, HookStatus, Pause, Phase, Reported, Resolved, Stop,
};
use crate::plan::HttpProbe;
use crate::traffic::split::{Change, Cohort, Weights};
use crate::{Error, Result};

/// The deployment controller, seen from hookline.
#[async_trait]
pub trait Lifecycle: Send + Sync {
    /// The deployment as readers show it ([`DeploymentSummary`]). By default only the status is
    /// read; adapters fill in the rest.
    async fn describe(&self, deployment_id: &str) -> Result<DeploymentSummary> {
        let status = self.status(deployment_id).await?;
        Ok(DeploymentSummary {
            deployment_id: deployment_id.to_string(),
            controller: controller_of(deployment_id),
            status_word: status.to_string(),
            phase: status.is_active().then_some(Phase::InProgress),
            status,
            rolling_back: false,
            application: String::new(),
            group: String::new(),
            created_at: None,
            ended_at: None,
            message: None,
        })
    }
    /// Resolves the deployment's context; `execution_id` is the hook's opaque id, if any.
    async fn resolve(&self, deployment_id: &str, execution_id: Option<&str>) -> Result<Resolved>;
    /// [`Lifecycle::resolve`] for a deployment whose context an earlier hook of it already
    /// resolved (`known`, from that hook's execution document): what is fixed for the deployment
    /// (its group, route, target groups, task sets) is taken from `known`, and only what moves
    /// (the event in progress, when it started) is read. By default, everything is read afresh.
    async fn resolve_known(&self, known: &DeploymentContext, execution_id: Option<&str>) -> Result<Resolved> {
        self.resolve(&known.deployment_id, execution_id).await
    }
    /// The deployment's current status.
    async fn status(&self, deployment_id: &str) -> Result<DeploymentStatus>;
    /// Reports the hook's outcome.
    async fn report(&self, deployment_id: &str, execution_id: &str, status: HookStatus) -> Result<Reported>;
    /// The status of `event` on the deployment's target, if listed.
    async fn event_status(&self, ctx: &DeploymentContext, event: HookEvent) -> Result<Option<EventStatus>>;
    /// Stops the deployment and asks the controller to roll back.
    async fn stop_with_rollback(&self, deployment_id: &str) -> Result<Stop>;
    /// Seconds a rollback must still wait before its `Failed` report can finish the end's work:
    /// hookline's own Route 53 releases keep green's tasks for the records' TTL + the resolver
    /// grace after DNS went back to blue (resolvers still answer green that long). The rollback
    /// reports `Failed` again after that wait, and that report scales green down. By default (a
    /// controller that empties nothing itself) there is none.
    async fn drain_seconds(&self, _deployment_id: &str) -> Result<Option<u64>> {
        Ok(None)
    }
    /// Ends a drain [`Lifecycle::drain_seconds`] still counts, so the next `Failed` report finishes
    /// the end's work at once: for a path with nothing to wait with (the rollback function's safety
    /// net, after an execution ended during its drain or without rolling back), where waiting would
    /// leave green's tasks running for good. By default there is no drain to end.
    async fn cut_drain_short(&self, _deployment_id: &str) -> Result<()> {
        Ok(())
    }
    /// Whether hookline runs its canary for this deployment ([`Admission`]), read from the
    /// deployment itself before [`Lifecycle::resolve`]: a deployment passed through is answered
    /// without resolving anything else.
    async fn admission(&self, deployment_id: &str) -> Result<Admission>;
    /// The controller's own pause the deployment waits on (an ECS `PAUSE` hook awaiting action), if
    /// any. By default a controller has none.
    async fn paused(&self, _deployment_id: &str) -> Result<Option<Pause>> {
        Ok(None)
    }
    /// Finishes the work a recorded end still owes after its report: hookline's own Route 53
    /// controller records the end first and then scales a release's service down (blue after a
    /// success, green after a failure or a stop); when that part failed, the call that recorded the
    /// end returned its error, and the deployment reads as ended. Called by the rollback after its
    /// `Failed` report, and when it finds the hook already `Succeeded` (it leaves traffic where the
    /// success put it); true when something was done. By default a controller owes nothing once
    /// its report is made.
    async fn finish_end(&self, _deployment_id: &str) -> Result<bool> {
        Ok(false)
    }
    /// Answers the controller's pause `hook_id`: go on (`go_on`) or roll back. By default a
    /// controller has no pauses to answer.
    async fn answer_pause(&self, deployment_id: &str, hook_id: &str, _go_on: bool) -> Result<()> {
        Err(Error::invalid("deployment", format!("{deployment_id} has no controller pause {hook_id} to answer")))
    }
}

/// Builds the [`TrafficRouter`] of a deployment's production route
/// (`context.production`); handlers hold one, built once in `main`.
pub trait RouterFactory: Send + Sync {
    fn router(&self, ctx: &DeploymentContext) -> Box<dyn TrafficRouter>;
}

/// A place production traffic is split between blue and green.
#[async_trait]
pub trait TrafficRouter: Send + Sync {
    /// The live split.
    async fn weights(&self) -> Result<Weights>;

    /// Sets the split. With `expect`, first checks the live split is what the
    /// previous step left and, if not, fails with [`Error::TrafficDrift`]
    /// without modifying anything. Reads once, writes only on a difference.
    async fn set_weights(&self, desired: Weights, expect: Option<Weights>) -> Result<Change>;

    /// Adds the header rule sending a cohort to green (kept if already there). It
    /// matches only requests that would reach this service's production route.
    async fn add_cohort(&self, cohort: &Cohort) -> Result<Change>;

    /// Removes this service's cohort rules (never another service's); returns how many went.
    async fn remove_cohorts(&self) -> Result<usize>;

    /// Checks the live split is `expected`.
    async fn verify_weights(&self, expected: Weights) -> Result<()> {
        let live = self.weights().await?;
        if live == expected {
            Ok(())
        } else {
            Err(Error::TrafficDrift {
                resource: "production route".into(),
                expected: expected.to_string(),
                found: live.to_string(),
            })
        }
    }

    /// Blue 100%, no cohort rules. Idempotent.
    async fn restore(&self) -> Result<()> {
        // Both halves are tried even when one fails: fewer cohort users on a
        // dying green is better than more, whatever happened to the weights.
        let weights = self.set_weights(Weights::BLUE_ONLY, None).await;
        let cohorts = self.remove_cohorts().await;
        weights?;
        cohorts?;
        Ok(())
    }
}

/// Where the gate reads its facts from: target health, green's task set, alarms,
/// HTTP probes. [`crate::health::HealthGate`] reads them from AWS and HTTP; a test may serve them itself.
#[async_trait]
pub trait HealthFacts: Send + Sync {
    /// Green's task set `task_set_arn` of `cluster`/`service`; `None` when it is gone.
    async fn task_set(&self, cluster: &str, service: &str, task_set_arn: &str) -> Result<Option<TaskSetFacts>>;
    /// How many of the target group's registered targets are healthy.
    async fn targets(&self, target_group_arn: &str, at: &Placement) -> Result<TargetFacts>;
    /// Green's own ECS service, when green is a whole service (hookline's Route 53 controller);
    /// `None` when it does not exist.
    async fn service(&self, service: &ServiceRef) -> Result<Option<ServiceFacts>>;
    /// The state (`OK`, `ALARM`, ...) of each alarm in `names`, in that order; `None` for an unknown alarm.
    async fn alarm_states(&self, names: &[String]) -> Result<Vec<Option<String>>>;
    /// The probe's HTTP status, or why there is none (never an error: a failed probe is a verdict).
    async fn probe(&self, probe: &HttpProbe) -> std::result::Result<u16, String>;
}

/// Where the judge's samples come from; a test may serve them itself.
#[async_trait]
pub trait MetricsSource: Send + Sync {
    /// The values (one per period with data) of each query over `[start, end)` epoch seconds, in the
    /// order of `queries`.
    async fn series(&self, queries: &[SeriesQuery], start: i64, end: i64) -> Result<Vec<Vec<f64>>>;
}

/// One execution as [`Executions::describe`] reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionInfo {
    pub execution_arn: String,
    pub state_machine_arn: String,
    pub name: String,
    pub status: RunStatus,
    /// The input it was started with (the execution document, for hookline's machines).
    pub input: Option<String>,
    pub output: Option<String>,
    /// Epoch seconds.
    pub started_at: Option<i64>,
    pub stopped_at: Option<i64>,
    /// How it failed, when it did.
    pub error: Option<String>,
    pub cause: Option<String>,
}

/// One event of an execution's history as [`Executions::history`] reads it: the event's kind,
/// and the details hookline reads whichever kind carries them (a state's name, input, output,
/// error, cause, a task's parameters).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecutionEvent {
    /// Grows with time within one execution: events come in this order.
    pub id: i64,
    /// Epoch seconds.
    pub timestamp: i64,
    /// The event type as Step Functions spells it (`ExecutionStarted`, `TaskStateEntered`,
    /// `TaskScheduled`, `LambdaFunctionSucceeded`, ...).
    pub kind: String,
    /// The state's name (state entered and exited events).
    pub state_name: Option<String>,
    /// The execution's, state's or Lambda function's input (started, entered, scheduled events).
    pub input: Option<String>,
    /// The execution's, state's, task's or Lambda function's output (succeeded and exited events).
    pub output: Option<String>,
    /// How the execution, task or Lambda function failed, timed out or was aborted.
    pub error: Option<String>,
    pub cause: Option<String>,
    /// A task's parameters as scheduled (`TaskScheduled`, JSON): for the approval step, the SNS
    /// publish whose `Message` carries the task token (`statemachine/README.md`).
    pub parameters: Option<String>,
}

/// What [`Executions::start`] came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartOutcome {
    /// Started now; its ARN.
    Started(String),
    /// An execution of that name already exists (started by an earlier try or a racing one); its
    /// ARN. Names are per deployment and hook event, so the caller looks at whom it answers.
    AlreadyExists(String),
}

/// What [`Executions::stop`] came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopOutcome {
    Stopped,
    /// It had ended (or never existed): nothing to stop.
    NotRunning,
}

/// State machine executions (Step Functions).
#[async_trait]
pub trait Executions: Send + Sync {
    /// The execution, or `None` when it does not exist.
    async fn describe(&self, execution_arn: &str) -> Result<Option<ExecutionInfo>>;
    /// The whole event history of the execution, oldest first (every page read); an error when
    /// it does not exist ([`Executions::describe`] tells that first).
    async fn history(&self, execution_arn: &str) -> Result<Vec<ExecutionEvent>>;
    /// Starts execution `name` of `state_machine_arn` with `input`.
    async fn start(&self, state_machine_arn: &str, name: &str, input: &str) -> Result<StartOutcome>;
    /// The ARNs of the running executions of `state_machine_arn` whose name starts with `name_prefix`.
    async fn list_running(&self, state_machine_arn: &str, name_prefix: &str) -> Result<Vec<String>>;
    /// Stops a running execution with `error` and `cause`.
    async fn stop(&self, execution_arn: &str, error: &str, cause: &str) -> Result<StopOutcome>;
    /// Answers a task token (an approval): success with `output` (JSON).
    async fn send_task_success(&self, task_token: &str, output: &str) -> Result<()>;
    /// Answers a task token (an approval): failure with `error` and `cause`.
    async fn send_task_failure(&self, task_token: &str, error: &str, cause: &str) -> Result<()>;
}

/// Where plans and release records live (SSM Parameter Store under the plan prefix:
/// `contract::plan_parameter`, `contract::ecs_plan_parameter`, `contract::last_release_parameter`).
#[async_trait]
pub trait PlanStore: Send + Sync {
    /// The text of the plan at `parameter`; `None` when there is none.
    async fn plan_text(&self, parameter: &str) -> Result<Option<String>>;
    /// Writes (overwrites) the plan text at `parameter`.
    async fn put_plan_text(&self, parameter: &str, text: &str) -> Result<()>;
    /// Writes the release record (JSON) at `parameter`, overwriting the previous one.
    async fn put_release_record(&self, parameter: &str, record: &str) -> Result<()>;
    /// The release record (JSON) at `parameter`; `None` when there is none.
    async fn release_record(&self, parameter: &str) -> Result<Option<String>>;
    /// Deletes the record at `parameter`; `false` when there was none.
    async fn delete_release_record(&self, parameter: &str) -> Result<bool>;
}

/// A release's own ECS service (hookline's Route 53 controller runs one service per release).
#[async_trait]
pub trait Services: Send + Sync {
    /// The service, or `None` when it does not exist (or was deleted).
    async fn describe(&self, service: &ServiceRef) -> Result<Option<ServiceFacts>>;
    /// Registers a task definition revision from `spec` in the placement `at`; its ARN.
    async fn register_task_definition(&self, spec: &TaskDefinitionSpec, at: &Placement) -> Result<String>;
    /// Creates the service with `spec`, or updates it (task definition, desired count) when it exists.
    async fn create_or_update(&self, service: &ServiceRef, spec: &ServiceSpec) -> Result<()>;
    /// Sets the desired count.
    async fn scale(&self, service: &ServiceRef, desired: u32) -> Result<()>;
    /// Deletes the service (scaled to 0 first, as ECS requires of a service with tasks); `false`
    /// when there was none.
    async fn delete(&self, service: &ServiceRef) -> Result<bool>;
}

/// Finds a group's two load balancer releases and the live weights of the fqdn's weighted records.
#[async_trait]
pub trait ReleaseDiscovery: Send + Sync {
    /// The load balancers tagged `CanaryGroup` = `group` in the placement `at` (its Region, read
    /// with its role), each with its `CanaryRelease` tag and the target group its listener
    /// forwards to.
    async fn load_balancers(&self, group: &str, at: &Placement) -> Result<Vec<LoadBalancerRelease>>;
    /// The hosted zone that holds `fqdn` (the longest suffix match among the account's zones).
    async fn hosted_zone(&self, fqdn: &str) -> Result<HostedZone>;
    /// The weighted records named `fqdn` in `zone_id`.
    async fn weighted_records(&self, zone_id: &str, fqdn: &str) -> Result<Vec<WeightedRecord>>;
}

/// Deleting an idle release's weighted record (only `hookline undeploy` deletes one).
#[async_trait]
pub trait RecordRemoval: Send + Sync {
    /// Deletes the weighted record `set_identifier` of `record_name` in `zone_id` when it exists at
    /// weight 0, repeating its listed values (Route 53 deletes only an exact match, so a record that
    /// took traffic meanwhile is kept and the call fails); `false` when there was none. A record
    /// with a weight above 0 is refused (`InvalidInput`) without a call.
    async fn delete_idle_record(&self, zone_id: &str, record_name: &str, set_identifier: &str) -> Result<bool>;
}
