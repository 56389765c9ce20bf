//! The hook's tests' world: hookline's in-memory fakes of the ports ([`hookline::testing`]), with
//! what these tests also count or script around them (which `Lifecycle` calls were made, where
//! production stood when a hook was reported, an admission that fails, a start raced by another
//! invocation, how often a plan was read).

use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use hookline::execution::{DeploymentContext, HookEvent, HookStateMachines};
use hookline::lifecycle::{Admission, DeploymentStatus, EventStatus, HookStatus, Reported, Resolved, Stop};
use hookline::ports::{ExecutionInfo, Executions, Lifecycle, PlanStore, RunStatus, StartOutcome, StopOutcome};
use hookline::testing::{FakeExecutions, FakeLifecycle, FakePlanStore, FakeRouters};
use hookline::traffic::{Cohort, Weights};
use hookline::{Error, Result};

use crate::deps::Deps;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A permanent error of `operation` as the SDK's access denial reads.
pub fn access_denied(operation: &'static str) -> Error {
    Error::AwsPermanent {
        operation,
        code: Some("AccessDeniedException".into()),
        message: "AccessDeniedException: not authorized".into(),
    }
}

/// A throttling error of `operation`, as one left after the SDK's retries.
pub fn throttled(operation: &'static str) -> Error {
    Error::Throttled { operation, message: "Rate exceeded".into() }
}

/// [`FakeLifecycle`], recording which calls were made and where production stood (on `routers`)
/// at each report; its admission may fail.
pub struct RecordingLifecycle {
    pub fake: FakeLifecycle,
    routers: FakeRouters,
    calls: Mutex<Vec<&'static str>>,
    admission_error: Mutex<Option<Error>>,
    production_at_reports: Mutex<Vec<(Weights, Vec<Cohort>)>>,
}

impl RecordingLifecycle {
    pub fn new(fake: FakeLifecycle, routers: &FakeRouters) -> RecordingLifecycle {
        RecordingLifecycle {
            fake,
            routers: routers.clone(),
            calls: Mutex::default(),
            admission_error: Mutex::default(),
            production_at_reports: Mutex::default(),
        }
    }

    /// [`Lifecycle::admission`] fails with `error`.
    pub fn fail_admission(&self, error: Error) {
        *lock(&self.admission_error) = Some(error);
    }

    /// The calls made, in order (`admission`, `resolve`, `resolve_known`, `status`, `report`).
    pub fn calls(&self) -> Vec<&'static str> {
        lock(&self.calls).clone()
    }

    /// How many times `call` was made.
    pub fn count(&self, call: &str) -> usize {
        self.calls().iter().filter(|c| **c == call).count()
    }

    /// The hooks reported: (deployment, hook execution id, status).
    pub fn reports(&self) -> Vec<(String, String, HookStatus)> {
        self.fake.reports()
    }

    /// Production's split and cohort rules when each report was made.
    pub fn production_at_reports(&self) -> Vec<(Weights, Vec<Cohort>)> {
        lock(&self.production_at_reports).clone()
    }

    fn call(&self, call: &'static str) {
        lock(&self.calls).push(call);
    }
}

#[async_trait]
impl Lifecycle for RecordingLifecycle {
    async fn resolve(&self, deployment_id: &str, execution_id: Option<&str>) -> Result<Resolved> {
        self.call("resolve");
        self.fake.resolve(deployment_id, execution_id).await
    }
    /// As the adapters do: the deployment's fixed context from `known`, what moves read afresh.
    async fn resolve_known(&self, known: &DeploymentContext, execution_id: Option<&str>) -> Result<Resolved> {
        self.call("resolve_known");
        let read = self.fake.resolve(&known.deployment_id, execution_id).await?;
        let mut context = known.clone();
        context.hook = read.context.hook;
        Ok(Resolved { context, ..read })
    }
    async fn status(&self, deployment_id: &str) -> Result<DeploymentStatus> {
        self.call("status");
        self.fake.status(deployment_id).await
    }
    async fn report(&self, deployment_id: &str, execution_id: &str, status: HookStatus) -> Result<Reported> {
        self.call("report");
        lock(&self.production_at_reports).push((self.routers.weights(), self.routers.cohorts()));
        self.fake.report(deployment_id, execution_id, status).await
    }
    async fn event_status(&self, ctx: &DeploymentContext, event: HookEvent) -> Result<Option<EventStatus>> {
        self.fake.event_status(ctx, event).await
    }
    async fn stop_with_rollback(&self, deployment_id: &str) -> Result<Stop> {
        self.fake.stop_with_rollback(deployment_id).await
    }
    async fn admission(&self, deployment_id: &str) -> Result<Admission> {
        self.call("admission");
        if let Some(error) = lock(&self.admission_error).clone() {
            return Err(error);
        }
        self.fake.admission(deployment_id).await
    }
}

/// [`FakeExecutions`], recording every execution described, and able to have another invocation
/// start an execution between this one's lookup and its start.
#[derive(Default)]
pub struct RecordingExecutions {
    pub fake: FakeExecutions,
    described: Mutex<Vec<String>>,
    racer: Mutex<Option<(String, String, RunStatus, String)>>,
}

impl RecordingExecutions {
    /// At the next start, another invocation has just started execution `name` of `machine` with
    /// `input` (so the start finds it exists).
    pub fn race_next_start(&self, machine: &str, name: &str, status: RunStatus, input: String) {
        *lock(&self.racer) = Some((machine.into(), name.into(), status, input));
    }

    /// The executions described, in order.
    pub fn described(&self) -> Vec<String> {
        lock(&self.described).clone()
    }
}

#[async_trait]
impl Executions for RecordingExecutions {
    async fn describe(&self, execution_arn: &str) -> Result<Option<ExecutionInfo>> {
        lock(&self.described).push(execution_arn.to_string());
        self.fake.describe(execution_arn).await
    }
    async fn start(&self, state_machine_arn: &str, name: &str, input: &str) -> Result<StartOutcome> {
        let racer = lock(&self.racer).take();
        if let Some((machine, racing_name, status, racing_input)) = racer {
            self.fake.insert(&machine, &racing_name, status, Some(&racing_input));
        }
        self.fake.start(state_machine_arn, name, input).await
    }
    async fn list_running(&self, state_machine_arn: &str, name_prefix: &str) -> Result<Vec<String>> {
        self.fake.list_running(state_machine_arn, name_prefix).await
    }
    async fn stop(&self, execution_arn: &str, error: &str, cause: &str) -> Result<StopOutcome> {
        self.fake.stop(execution_arn, error, cause).await
    }
    async fn send_task_success(&self, task_token: &str, output: &str) -> Result<()> {
        self.fake.send_task_success(task_token, output).await
    }
    async fn send_task_failure(&self, task_token: &str, error: &str, cause: &str) -> Result<()> {
        self.fake.send_task_failure(task_token, error, cause).await
    }
}

/// [`FakePlanStore`], counting the plan reads.
pub struct CountingPlans {
    pub fake: FakePlanStore,
    reads: Mutex<Vec<String>>,
}

impl CountingPlans {
    pub fn new(fake: FakePlanStore) -> CountingPlans {
        CountingPlans { fake, reads: Mutex::default() }
    }

    /// The plan parameters read, in order.
    pub fn reads(&self) -> Vec<String> {
        lock(&self.reads).clone()
    }
}

#[async_trait]
impl PlanStore for CountingPlans {
    async fn plan_text(&self, parameter: &str) -> Result<Option<String>> {
        lock(&self.reads).push(parameter.to_string());
        self.fake.plan_text(parameter).await
    }
    async fn put_plan_text(&self, parameter: &str, text: &str) -> Result<()> {
        self.fake.put_plan_text(parameter, text).await
    }
    async fn put_release_record(&self, parameter: &str, record: &str) -> Result<()> {
        self.fake.put_release_record(parameter, record).await
    }
    async fn release_record(&self, parameter: &str) -> Result<Option<String>> {
        self.fake.release_record(parameter).await
    }
    async fn delete_release_record(&self, parameter: &str) -> Result<bool> {
        self.fake.delete_release_record(parameter).await
    }
}

/// One scenario's ports, kept for assertions once the hook has answered.
pub struct World {
    pub lifecycle: Arc<RecordingLifecycle>,
    pub executions: Arc<RecordingExecutions>,
    pub plans: Arc<CountingPlans>,
    pub routers: FakeRouters,
}

impl World {
    /// The controller `lifecycle`, the plans `plans`, production at `weights`, no execution yet.
    pub fn new(lifecycle: FakeLifecycle, plans: FakePlanStore, weights: Weights) -> World {
        let routers = FakeRouters::with_weights(weights);
        World {
            lifecycle: Arc::new(RecordingLifecycle::new(lifecycle, &routers)),
            executions: Arc::default(),
            plans: Arc::new(CountingPlans::new(plans)),
            routers,
        }
    }

    /// The hook's dependencies over this world, with the two hook state machines `machines`.
    pub fn deps(&self, machines: HookStateMachines) -> Deps {
        Deps {
            lifecycle: self.lifecycle.clone(),
            executions: self.executions.clone(),
            plans: self.plans.clone(),
            routers: Arc::new(self.routers.clone()),
            state_machines: machines,
            plan_parameter_prefix: "/hookline".into(),
        }
    }

    /// The executions started: (state machine, name, input).
    pub fn starts(&self) -> Vec<(String, String, String)> {
        self.executions.fake.starts()
    }
}
