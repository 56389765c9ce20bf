//! In-memory fakes of every port ([`crate::ports`]), for handler and flow tests: each keeps its
//! world in memory, answers as the port's contract says, records what it was asked to do, and
//! fails on demand. No SDK type here: the wire-level behaviour of each AWS adapter is tested in
//! the adapter's own file.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;

use crate::dns::{
    HostedZone, LoadBalancerRelease, Placement, ServiceFacts, ServiceSpec, TaskDefinitionSpec, WeightedRecord,
};
use crate::execution::{execution_arn, now_epoch, DeploymentContext, HookEvent, Route, ServiceRef};
use crate::health::metrics::SeriesQuery;
use crate::health::{TargetFacts, TaskSetFacts};
use crate::lifecycle::{
    Admission, DeploymentStatus, DeploymentSummary, EventStatus, HookStatus, Reported, Resolved, Stop,
};
use crate::plan::HttpProbe;
use crate::ports::{
    ExecutionEvent, ExecutionInfo, Executions, HealthFacts, Lifecycle, MetricsSource, PlanStore, RecordRemoval,
    ReleaseDiscovery, RouterFactory, RunStatus, Services, StartOutcome, StopOutcome, TrafficRouter,
};
use crate::traffic::{Change, Cohort, Weights};
use crate::{Error, Result};

/// Locks a fake's state; a test that panicked while holding it has failed already.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// `Err(error)` when a failure was asked for `call`, else `Ok`.
fn check_failure<C: PartialEq>(failures: &Mutex<Vec<(C, Error)>>, call: C) -> Result<()> {
    match lock(failures).iter().find(|(c, _)| *c == call) {
        Some((_, e)) => Err(e.clone()),
        None => Ok(()),
    }
}

/// One log of the calls several fakes were asked to make, in order across them (e.g.
/// `["remove_cohorts", "report", "put_release_record"]`): give the same one to each fake with
/// its `journaling`.
pub type Journal = Arc<Mutex<Vec<&'static str>>>;

fn note(journal: &Mutex<Option<Journal>>, call: &'static str) {
    if let Some(j) = lock(journal).as_ref() {
        lock(j).push(call);
    }
}

/// A permanent AWS error of `operation`, for failing a fake on demand; its message starts with the
/// code, as the SDK's errors read through [`Error::from_sdk`].
pub fn denied(operation: &'static str) -> Error {
    Error::AwsPermanent {
        operation,
        code: Some("AccessDeniedException".into()),
        message: "AccessDeniedException: not authorized (fake)".into(),
    }
}

/// A throttling error of `operation`, as one left after the SDK's retries, for failing a fake on demand.
pub fn throttled(operation: &'static str) -> Error {
    Error::Throttled { operation, message: "ThrottlingException: Rate exceeded (fake)".into() }
}

// ---------------------------------------------------------------------------------------------
// Lifecycle

/// A deployment controller for one deployment at a time, scripted: each [`Lifecycle::status`]
/// call takes the next scripted status, the last one repeating (none scripted: `Active`). It
/// resolves to [`crate::testing::context`] unless told otherwise, and records every call
/// ([`FakeLifecycle::calls`]), report, stop and describe; watching a [`FakeRouters`], it also
/// records where production stood at each report.
#[derive(Default)]
pub struct FakeLifecycle {
    statuses: Mutex<VecDeque<DeploymentStatus>>,
    resolved: Mutex<Option<Resolved>>,
    admission: Mutex<Option<Admission>>,
    events: Mutex<Vec<(HookEvent, EventStatus)>>,
    report_answer: Mutex<Option<Result<Reported>>>,
    stop_answer: Mutex<Option<Result<Stop>>>,
    resolve_error: Mutex<Option<Error>>,
    reports: Mutex<Vec<(String, String, HookStatus)>>,
    stops: Mutex<Vec<String>>,
    described: Mutex<Vec<String>>,
    journal: Mutex<Option<Journal>>,
    calls: Mutex<Vec<&'static str>>,
    admission_error: Mutex<Option<Error>>,
    status_errors: Mutex<Vec<(String, Error)>>,
    production: Mutex<Option<FakeRouters>>,
    production_at_reports: Mutex<Vec<(Weights, Vec<Cohort>)>>,
}

impl FakeLifecycle {
    /// Notes `report` and `stop_with_rollback` calls in `journal`.
    pub fn journaling(self, journal: &Journal) -> FakeLifecycle {
        *lock(&self.journal) = Some(Arc::clone(journal));
        self
    }

    /// A deployment whose status calls answer `statuses` in order, the last one repeating.
    pub fn with_statuses(statuses: impl IntoIterator<Item = DeploymentStatus>) -> FakeLifecycle {
        let fake = FakeLifecycle::default();
        *lock(&fake.statuses) = statuses.into_iter().collect();
        fake
    }

    /// Resolves every deployment to `resolved`.
    pub fn resolving(self, resolved: Resolved) -> FakeLifecycle {
        *lock(&self.resolved) = Some(resolved);
        self
    }

    /// [`Lifecycle::resolve`] fails with `error`.
    pub fn failing_resolve(self, error: Error) -> FakeLifecycle {
        *lock(&self.resolve_error) = Some(error);
        self
    }

    /// [`Lifecycle::admission`] answers `admission` (default: [`Admission::Serve`]).
    pub fn admitting(self, admission: Admission) -> FakeLifecycle {
        *lock(&self.admission) = Some(admission);
        self
    }

    /// `event` has `status` on the deployment's target.
    pub fn with_event(self, event: HookEvent, status: EventStatus) -> FakeLifecycle {
        lock(&self.events).push((event, status));
        self
    }

    /// Every report answers `answer` (default: `Ok(Reported::Now)`); it is recorded either way.
    pub fn reporting(self, answer: Result<Reported>) -> FakeLifecycle {
        *lock(&self.report_answer) = Some(answer);
        self
    }

    /// Every stop answers `answer` (default: `Ok(Stop::Stopping(..))`); it is recorded either way.
    pub fn stopping(self, answer: Result<Stop>) -> FakeLifecycle {
        *lock(&self.stop_answer) = Some(answer);
        self
    }

    /// The hooks reported, in order: (deployment, hook execution id, status).
    pub fn reports(&self) -> Vec<(String, String, HookStatus)> {
        lock(&self.reports).clone()
    }

    /// The deployments asked to stop with rollback, in order.
    pub fn stops(&self) -> Vec<String> {
        lock(&self.stops).clone()
    }

    /// The deployments described, in order.
    pub fn described(&self) -> Vec<String> {
        lock(&self.described).clone()
    }

    /// [`Lifecycle::admission`] fails with `error` from now on.
    pub fn fail_admission(&self, error: Error) {
        *lock(&self.admission_error) = Some(error);
    }

    /// [`Lifecycle::status`] of `deployment_id` fails with `error` (other deployments answer as scripted).
    pub fn failing_status(self, deployment_id: &str, error: Error) -> FakeLifecycle {
        lock(&self.status_errors).push((deployment_id.to_string(), error));
        self
    }

    /// Records production's split and cohort rules on `routers` at each report
    /// ([`FakeLifecycle::production_at_reports`]).
    pub fn watching(self, routers: &FakeRouters) -> FakeLifecycle {
        *lock(&self.production) = Some(routers.clone());
        self
    }

    /// Every port call made, by the [`Lifecycle`] method's name (`admission`, `resolve`,
    /// `resolve_known`, `status`, `report`, `event_status`, `stop_with_rollback`, `describe`), in order.
    pub fn calls(&self) -> Vec<&'static str> {
        lock(&self.calls).clone()
    }

    /// How many times the [`Lifecycle`] method `call` was called.
    pub fn count(&self, call: &str) -> usize {
        lock(&self.calls).iter().filter(|c| **c == call).count()
    }

    /// Production's split and cohort rules when each report was made (see [`FakeLifecycle::watching`]).
    pub fn production_at_reports(&self) -> Vec<(Weights, Vec<Cohort>)> {
        lock(&self.production_at_reports).clone()
    }

    fn call(&self, call: &'static str) {
        lock(&self.calls).push(call);
    }

    fn resolved(&self, deployment_id: &str, execution_id: Option<&str>) -> Result<Resolved> {
        if let Some(e) = lock(&self.resolve_error).clone() {
            return Err(e);
        }
        if let Some(resolved) = lock(&self.resolved).clone() {
            return Ok(resolved);
        }
        let mut context = crate::testing::context();
        context.deployment_id = deployment_id.to_string();
        if let Some(hook) = context.hook.as_mut() {
            hook.execution_id = execution_id.unwrap_or_default().to_string();
        }
        if execution_id.is_none() {
            context.hook = None;
        }
        Ok(Resolved {
            context,
            in_progress_event: None,
            in_progress_hook: None,
            in_progress_started_at: None,
            hook_expires_at: None,
        })
    }

    fn next_status(&self, deployment_id: &str) -> Result<DeploymentStatus> {
        if let Some((_, e)) = lock(&self.status_errors).iter().find(|(d, _)| d == deployment_id) {
            return Err(e.clone());
        }
        let mut statuses = lock(&self.statuses);
        Ok(match statuses.len() {
            0 => DeploymentStatus::Active,
            1 => statuses[0].clone(),
            _ => statuses.pop_front().unwrap_or(DeploymentStatus::Active),
        })
    }
}

#[async_trait]
impl Lifecycle for FakeLifecycle {
    async fn describe(&self, deployment_id: &str) -> Result<DeploymentSummary> {
        self.call("describe");
        lock(&self.described).push(deployment_id.to_string());
        let status = self.next_status(deployment_id)?;
        let ctx = self.resolved(deployment_id, None).ok().map(|r| r.context);
        Ok(DeploymentSummary {
            deployment_id: deployment_id.to_string(),
            controller: crate::lifecycle::controller_of(deployment_id),
            status_word: status.to_string(),
            phase: status.is_active().then_some(crate::lifecycle::Phase::InProgress),
            status,
            rolling_back: false,
            application: ctx.as_ref().map(|c| c.application.clone()).unwrap_or_default(),
            group: ctx.map(|c| c.deployment_group).unwrap_or_default(),
            created_at: None,
            ended_at: None,
            message: None,
        })
    }

    async fn resolve(&self, deployment_id: &str, execution_id: Option<&str>) -> Result<Resolved> {
        self.call("resolve");
        self.resolved(deployment_id, execution_id)
    }

    /// As the adapters do: the deployment's fixed context from `known`, what moves read afresh.
    async fn resolve_known(&self, known: &DeploymentContext, execution_id: Option<&str>) -> Result<Resolved> {
        self.call("resolve_known");
        let read = self.resolved(&known.deployment_id, execution_id)?;
        let mut context = known.clone();
        context.hook = read.context.hook;
        Ok(Resolved { context, ..read })
    }

    async fn status(&self, deployment_id: &str) -> Result<DeploymentStatus> {
        self.call("status");
        self.next_status(deployment_id)
    }

    async fn report(&self, deployment_id: &str, execution_id: &str, status: HookStatus) -> Result<Reported> {
        self.call("report");
        note(&self.journal, "report");
        if let Some(routers) = lock(&self.production).as_ref() {
            lock(&self.production_at_reports).push((routers.weights(), routers.cohorts()));
        }
        lock(&self.reports).push((deployment_id.to_string(), execution_id.to_string(), status));
        lock(&self.report_answer).clone().unwrap_or(Ok(Reported::Now))
    }

    async fn event_status(&self, _ctx: &DeploymentContext, event: HookEvent) -> Result<Option<EventStatus>> {
        self.call("event_status");
        Ok(lock(&self.events).iter().find(|(e, _)| *e == event).map(|(_, s)| s.clone()))
    }

    async fn finish_end(&self, _deployment_id: &str) -> Result<bool> {
        self.call("finish_end");
        Ok(false)
    }

    async fn stop_with_rollback(&self, deployment_id: &str) -> Result<Stop> {
        self.call("stop_with_rollback");
        note(&self.journal, "stop_with_rollback");
        lock(&self.stops).push(deployment_id.to_string());
        lock(&self.stop_answer).clone().unwrap_or_else(|| Ok(Stop::Stopping("stopping (fake)".into())))
    }

    async fn admission(&self, _deployment_id: &str) -> Result<Admission> {
        self.call("admission");
        if let Some(e) = lock(&self.admission_error).clone() {
            return Err(e);
        }
        Ok(lock(&self.admission).clone().unwrap_or(Admission::Serve))
    }
}

// ---------------------------------------------------------------------------------------------
// Traffic

/// A [`TrafficRouter`] call, to fail on demand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouterCall {
    Weights,
    SetWeights,
    AddCohort,
    RemoveCohorts,
}

/// One production route held in memory (every router [`FakeRouters`] builds shares it): the live
/// split (blue 100 to begin with) and the cohort rules, with every write recorded.
#[derive(Debug)]
struct RouteState {
    weights: Weights,
    cohorts: Vec<Cohort>,
    set_calls: Vec<(Weights, Option<Weights>)>,
    restores: usize,
    routes: Vec<Route>,
}

/// A [`RouterFactory`] whose routers all act on one in-memory route. Clones share it.
#[derive(Clone)]
pub struct FakeRouters {
    state: Arc<Mutex<RouteState>>,
    failures: Arc<Mutex<Vec<(RouterCall, Error)>>>,
    journal: Arc<Mutex<Option<Journal>>>,
}

impl Default for FakeRouters {
    fn default() -> Self {
        FakeRouters::with_weights(Weights::BLUE_ONLY)
    }
}

impl FakeRouters {
    /// A route whose live split is `weights`.
    pub fn with_weights(weights: Weights) -> FakeRouters {
        FakeRouters {
            state: Arc::new(Mutex::new(RouteState {
                weights,
                cohorts: Vec::new(),
                set_calls: Vec::new(),
                restores: 0,
                routes: Vec::new(),
            })),
            failures: Arc::default(),
            journal: Arc::default(),
        }
    }

    /// Notes `set_weights`, `add_cohort` and `remove_cohorts` calls in `journal`.
    pub fn journaling(self, journal: &Journal) -> FakeRouters {
        *lock(&self.journal) = Some(Arc::clone(journal));
        self
    }

    /// The route already carries `cohort`'s rule.
    pub fn with_cohort(self, cohort: Cohort) -> FakeRouters {
        lock(&self.state).cohorts.push(cohort);
        self
    }

    /// Every `call` fails with `error` from now on (nothing changes).
    pub fn fail(&self, call: RouterCall, error: Error) {
        lock(&self.failures).push((call, error));
    }

    /// The live split.
    pub fn weights(&self) -> Weights {
        lock(&self.state).weights
    }

    /// The cohort rules on the route.
    pub fn cohorts(&self) -> Vec<Cohort> {
        lock(&self.state).cohorts.clone()
    }

    /// Every `set_weights` call: (desired, expected), in order.
    pub fn set_calls(&self) -> Vec<(Weights, Option<Weights>)> {
        lock(&self.state).set_calls.clone()
    }

    /// How many times a router restored the route.
    pub fn restores(&self) -> usize {
        lock(&self.state).restores
    }

    /// The production routes routers were built for, in order.
    pub fn routes(&self) -> Vec<Route> {
        lock(&self.state).routes.clone()
    }
}

impl RouterFactory for FakeRouters {
    fn router(&self, ctx: &DeploymentContext) -> Box<dyn TrafficRouter> {
        lock(&self.state).routes.push(ctx.production.clone());
        Box::new(FakeRouter { routers: self.clone() })
    }
}

/// A router over [`FakeRouters`]' route.
pub struct FakeRouter {
    routers: FakeRouters,
}

#[async_trait]
impl TrafficRouter for FakeRouter {
    async fn weights(&self) -> Result<Weights> {
        check_failure(&self.routers.failures, RouterCall::Weights)?;
        Ok(self.routers.weights())
    }

    async fn set_weights(&self, desired: Weights, expect: Option<Weights>) -> Result<Change> {
        note(&self.routers.journal, "set_weights");
        lock(&self.routers.state).set_calls.push((desired, expect));
        check_failure(&self.routers.failures, RouterCall::SetWeights)?;
        let mut state = lock(&self.routers.state);
        if let Some(expected) = expect {
            if state.weights != expected && state.weights != desired {
                return Err(Error::TrafficDrift {
                    resource: "production route (fake)".into(),
                    expected: expected.to_string(),
                    found: state.weights.to_string(),
                });
            }
        }
        if state.weights == desired {
            return Ok(Change::AlreadyThere);
        }
        state.weights = desired;
        Ok(Change::Applied)
    }

    async fn add_cohort(&self, cohort: &Cohort) -> Result<Change> {
        note(&self.routers.journal, "add_cohort");
        check_failure(&self.routers.failures, RouterCall::AddCohort)?;
        let mut state = lock(&self.routers.state);
        if state.cohorts.contains(cohort) {
            return Ok(Change::AlreadyThere);
        }
        state.cohorts.push(cohort.clone());
        Ok(Change::Applied)
    }

    async fn remove_cohorts(&self) -> Result<usize> {
        note(&self.routers.journal, "remove_cohorts");
        check_failure(&self.routers.failures, RouterCall::RemoveCohorts)?;
        Ok(std::mem::take(&mut lock(&self.routers.state).cohorts).len())
    }

    /// Recorded, then the trait's two halves, both tried even when one fails (as the default does).
    async fn restore(&self) -> Result<()> {
        lock(&self.routers.state).restores += 1;
        let weights = self.set_weights(Weights::BLUE_ONLY, None).await;
        let cohorts = self.remove_cohorts().await;
        weights?;
        cohorts?;
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Health

/// A [`HealthFacts`] call, to fail on demand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealthCall {
    TaskSet,
    Targets,
    Alarms,
    Service,
}

/// Health facts from memory: task sets, target groups, alarm states and probe answers by name.
/// Unknown task sets are gone, unknown target groups have no targets, unknown alarms `None`, an
/// unknown probe URL fails.
#[derive(Default)]
pub struct FakeHealth {
    task_sets: Mutex<BTreeMap<String, TaskSetFacts>>,
    targets: Mutex<BTreeMap<String, TargetFacts>>,
    alarms: Mutex<BTreeMap<String, String>>,
    probes: Mutex<BTreeMap<String, std::result::Result<u16, String>>>,
    services: Mutex<BTreeMap<String, ServiceFacts>>,
    failures: Mutex<Vec<(HealthCall, Error)>>,
    reads: Mutex<Vec<HealthCall>>,
}

impl FakeHealth {
    /// Green of [`crate::testing::context`] healthy: its task set steady with 2 tasks, 2 of 2
    /// targets healthy, `alarms` all `OK`.
    pub fn healthy(alarms: &[&str]) -> FakeHealth {
        let fake = FakeHealth::default()
            .task_set("ts-green", TaskSetFacts { desired: 2, stability: Some("STEADY_STATE".into()) })
            .targets(crate::testing::GREEN_TG, TargetFacts { healthy: 2, registered: 2 });
        for name in alarms {
            fake.set_alarm(name, "OK");
        }
        fake
    }

    pub fn task_set(self, arn: &str, facts: TaskSetFacts) -> FakeHealth {
        lock(&self.task_sets).insert(arn.to_string(), facts);
        self
    }

    pub fn targets(self, target_group_arn: &str, facts: TargetFacts) -> FakeHealth {
        lock(&self.targets).insert(target_group_arn.to_string(), facts);
        self
    }

    /// Green's own service `cluster/service` reads as `facts`, now or between calls.
    pub fn set_service(&self, cluster: &str, service: &str, facts: ServiceFacts) {
        lock(&self.services).insert(format!("{cluster}/{service}"), facts);
    }

    pub fn probe(self, url: &str, answer: std::result::Result<u16, String>) -> FakeHealth {
        lock(&self.probes).insert(url.to_string(), answer);
        self
    }

    /// Sets alarm `name`'s state (`OK`, `ALARM`, ...), now or between calls.
    pub fn set_alarm(&self, name: &str, state: &str) {
        lock(&self.alarms).insert(name.to_string(), state.to_string());
    }

    /// Every `call` fails with `error` from now on.
    pub fn fail(&self, call: HealthCall, error: Error) {
        lock(&self.failures).push((call, error));
    }

    /// The AWS reads made, in order.
    pub fn reads(&self) -> Vec<HealthCall> {
        lock(&self.reads).clone()
    }

    fn read(&self, call: HealthCall) -> Result<()> {
        lock(&self.reads).push(call);
        check_failure(&self.failures, call)
    }
}

#[async_trait]
impl HealthFacts for FakeHealth {
    async fn task_set(&self, _cluster: &str, _service: &str, task_set_arn: &str) -> Result<Option<TaskSetFacts>> {
        self.read(HealthCall::TaskSet)?;
        Ok(lock(&self.task_sets).get(task_set_arn).cloned())
    }

    async fn targets(&self, target_group_arn: &str, _at: &Placement) -> Result<TargetFacts> {
        self.read(HealthCall::Targets)?;
        Ok(lock(&self.targets).get(target_group_arn).copied().unwrap_or(TargetFacts { healthy: 0, registered: 0 }))
    }

    async fn service(&self, service: &ServiceRef) -> Result<Option<ServiceFacts>> {
        self.read(HealthCall::Service)?;
        Ok(lock(&self.services).get(&service_key(service)).cloned())
    }

    async fn alarm_states(&self, names: &[String]) -> Result<Vec<Option<String>>> {
        self.read(HealthCall::Alarms)?;
        let alarms = lock(&self.alarms);
        Ok(names.iter().map(|n| alarms.get(n).cloned()).collect())
    }

    async fn probe(&self, probe: &HttpProbe) -> std::result::Result<u16, String> {
        lock(&self.probes).get(&probe.url).cloned().unwrap_or_else(|| Err(format!("no answer from {}", probe.url)))
    }
}

// ---------------------------------------------------------------------------------------------
// Metrics

/// The judge's samples from memory, by query id (`m0_blue`, `m0_green`, ...; unknown ids: no
/// data). Records every window asked for.
#[derive(Default)]
pub struct FakeMetrics {
    series: Mutex<BTreeMap<String, Vec<f64>>>,
    failure: Mutex<Option<Error>>,
    windows: Mutex<Vec<(Vec<String>, i64, i64)>>,
}

impl FakeMetrics {
    /// Query `id` answers `values`.
    pub fn with_series(self, id: &str, values: Vec<f64>) -> FakeMetrics {
        lock(&self.series).insert(id.to_string(), values);
        self
    }

    /// Every read fails with `error`.
    pub fn failing(self, error: Error) -> FakeMetrics {
        *lock(&self.failure) = Some(error);
        self
    }

    /// The reads made: (query ids, start, end), in order.
    pub fn windows(&self) -> Vec<(Vec<String>, i64, i64)> {
        lock(&self.windows).clone()
    }
}

#[async_trait]
impl MetricsSource for FakeMetrics {
    async fn series(&self, queries: &[SeriesQuery], start: i64, end: i64) -> Result<Vec<Vec<f64>>> {
        lock(&self.windows).push((queries.iter().map(|q| q.id.clone()).collect(), start, end));
        if let Some(e) = lock(&self.failure).clone() {
            return Err(e);
        }
        let series = lock(&self.series);
        Ok(queries.iter().map(|q| series.get(&q.id).cloned().unwrap_or_default()).collect())
    }
}

// ---------------------------------------------------------------------------------------------
// Executions

/// An [`Executions`] call, to fail on demand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecutionsCall {
    Describe,
    History,
    Start,
    ListRunning,
    Stop,
    TaskToken,
}

/// A task token's answer, as [`FakeExecutions`] recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskAnswer {
    Success { task_token: String, output: String },
    Failure { task_token: String, error: String, cause: String },
}

/// State machine executions in memory, by ARN (`execution_arn(machine, name)`): a start of a name
/// that exists answers `AlreadyExists` and changes nothing; a stop ends a running one `Aborted`
/// with its error and cause; task-token answers are recorded. Histories hold what
/// [`FakeExecutions::record`] put there. Every describe is recorded too, and
/// a start can be raced by another invocation ([`FakeExecutions::race_next_start`]).
#[derive(Default)]
pub struct FakeExecutions {
    executions: Mutex<BTreeMap<String, ExecutionInfo>>,
    histories: Mutex<BTreeMap<String, Vec<ExecutionEvent>>>,
    starts: Mutex<Vec<(String, String, String)>>,
    stops: Mutex<Vec<(String, String, String)>>,
    answers: Mutex<Vec<TaskAnswer>>,
    failures: Mutex<Vec<(ExecutionsCall, Error)>>,
    journal: Mutex<Option<Journal>>,
    described: Mutex<Vec<String>>,
    racer: Mutex<Option<Racer>>,
}

/// An execution another invocation starts just before this one's next start.
struct Racer {
    state_machine_arn: String,
    name: String,
    status: RunStatus,
    input: String,
}

impl FakeExecutions {
    /// Notes `start_execution` and `stop_execution` calls in `journal`.
    pub fn journaling(self, journal: &Journal) -> FakeExecutions {
        *lock(&self.journal) = Some(Arc::clone(journal));
        self
    }

    /// Adds execution `name` of `state_machine_arn` with `status` and `input`; its ARN.
    pub fn insert(&self, state_machine_arn: &str, name: &str, status: RunStatus, input: Option<&str>) -> String {
        let arn = execution_arn(state_machine_arn, name);
        let ended = !status.is_running();
        lock(&self.executions).insert(
            arn.clone(),
            ExecutionInfo {
                execution_arn: arn.clone(),
                state_machine_arn: state_machine_arn.to_string(),
                name: name.to_string(),
                status,
                input: input.map(str::to_string),
                output: None,
                started_at: Some(now_epoch()),
                stopped_at: ended.then(now_epoch),
                error: None,
                cause: None,
            },
        );
        arn
    }

    /// Appends `events` to the history of the execution at `arn` (which [`FakeExecutions::insert`]
    /// adds; a history of an execution not there is an error, as on AWS).
    pub fn record(&self, arn: &str, events: impl IntoIterator<Item = ExecutionEvent>) {
        lock(&self.histories).entry(arn.to_string()).or_default().extend(events);
    }

    /// Every `call` fails with `error` from now on (nothing changes).
    pub fn fail(&self, call: ExecutionsCall, error: Error) {
        lock(&self.failures).push((call, error));
    }

    /// The execution at `arn`, as it stands.
    pub fn get(&self, arn: &str) -> Option<ExecutionInfo> {
        lock(&self.executions).get(arn).cloned()
    }

    /// Every start asked for: (state machine, name, input), in order, including refused ones.
    pub fn starts(&self) -> Vec<(String, String, String)> {
        lock(&self.starts).clone()
    }

    /// Every stop asked for: (execution, error, cause), in order.
    pub fn stops(&self) -> Vec<(String, String, String)> {
        lock(&self.stops).clone()
    }

    /// Every task-token answer, in order.
    pub fn task_answers(&self) -> Vec<TaskAnswer> {
        lock(&self.answers).clone()
    }

    /// Every execution described, in order, including failed describes.
    pub fn described(&self) -> Vec<String> {
        lock(&self.described).clone()
    }

    /// At the next start, another invocation has just started execution `name` of
    /// `state_machine_arn` with `status` and `input` (between this one's lookup and its start):
    /// the start finds it exists, as Step Functions' ExecutionAlreadyExists says.
    pub fn race_next_start(&self, state_machine_arn: &str, name: &str, status: RunStatus, input: &str) {
        *lock(&self.racer) = Some(Racer {
            state_machine_arn: state_machine_arn.to_string(),
            name: name.to_string(),
            status,
            input: input.to_string(),
        });
    }
}

#[async_trait]
impl Executions for FakeExecutions {
    async fn describe(&self, execution_arn: &str) -> Result<Option<ExecutionInfo>> {
        lock(&self.described).push(execution_arn.to_string());
        check_failure(&self.failures, ExecutionsCall::Describe)?;
        Ok(self.get(execution_arn))
    }

    async fn history(&self, execution_arn: &str) -> Result<Vec<ExecutionEvent>> {
        check_failure(&self.failures, ExecutionsCall::History)?;
        if self.get(execution_arn).is_none() {
            return Err(Error::AwsPermanent {
                operation: "GetExecutionHistory",
                code: Some("ExecutionDoesNotExist".into()),
                message: format!("execution {execution_arn} does not exist (fake)"),
            });
        }
        let mut events = lock(&self.histories).get(execution_arn).cloned().unwrap_or_default();
        events.sort_by_key(|e| e.id);
        Ok(events)
    }

    async fn start(&self, state_machine_arn: &str, name: &str, input: &str) -> Result<StartOutcome> {
        let racer = lock(&self.racer).take();
        if let Some(r) = racer {
            self.insert(&r.state_machine_arn, &r.name, r.status, Some(&r.input));
        }
        note(&self.journal, "start_execution");
        lock(&self.starts).push((state_machine_arn.to_string(), name.to_string(), input.to_string()));
        check_failure(&self.failures, ExecutionsCall::Start)?;
        let arn = execution_arn(state_machine_arn, name);
        if lock(&self.executions).contains_key(&arn) {
            return Ok(StartOutcome::AlreadyExists(arn));
        }
        Ok(StartOutcome::Started(self.insert(state_machine_arn, name, RunStatus::Running, Some(input))))
    }

    async fn list_running(&self, state_machine_arn: &str, name_prefix: &str) -> Result<Vec<String>> {
        check_failure(&self.failures, ExecutionsCall::ListRunning)?;
        Ok(lock(&self.executions)
            .values()
            .filter(|e| e.state_machine_arn == state_machine_arn && e.status.is_running())
            .filter(|e| e.name.starts_with(name_prefix))
            .map(|e| e.execution_arn.clone())
            .collect())
    }

    async fn stop(&self, execution_arn: &str, error: &str, cause: &str) -> Result<StopOutcome> {
        note(&self.journal, "stop_execution");
        lock(&self.stops).push((execution_arn.to_string(), error.to_string(), cause.to_string()));
        check_failure(&self.failures, ExecutionsCall::Stop)?;
        let mut executions = lock(&self.executions);
        match executions.get_mut(execution_arn) {
            Some(e) if e.status.is_running() => {
                e.status = RunStatus::Aborted;
                e.stopped_at = Some(now_epoch());
                e.error = Some(error.to_string());
                e.cause = Some(cause.to_string());
                Ok(StopOutcome::Stopped)
            }
            _ => Ok(StopOutcome::NotRunning),
        }
    }

    async fn send_task_success(&self, task_token: &str, output: &str) -> Result<()> {
        check_failure(&self.failures, ExecutionsCall::TaskToken)?;
        lock(&self.answers)
            .push(TaskAnswer::Success { task_token: task_token.to_string(), output: output.to_string() });
        Ok(())
    }

    async fn send_task_failure(&self, task_token: &str, error: &str, cause: &str) -> Result<()> {
        check_failure(&self.failures, ExecutionsCall::TaskToken)?;
        lock(&self.answers).push(TaskAnswer::Failure {
            task_token: task_token.to_string(),
            error: error.to_string(),
            cause: cause.to_string(),
        });
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Plans

/// Parameters in memory (name → text); every read recorded, every write recorded and kept.
#[derive(Default)]
pub struct FakePlanStore {
    parameters: Mutex<BTreeMap<String, String>>,
    writes: Mutex<Vec<(String, String)>>,
    read_failure: Mutex<Option<Error>>,
    write_failure: Mutex<Option<Error>>,
    journal: Mutex<Option<Journal>>,
    reads: Mutex<Vec<String>>,
}

impl FakePlanStore {
    /// Notes `put_plan_text` and `put_release_record` calls in `journal`.
    pub fn journaling(self, journal: &Journal) -> FakePlanStore {
        *lock(&self.journal) = Some(Arc::clone(journal));
        self
    }

    /// Parameter `name` holds `text`.
    pub fn with(self, name: &str, text: &str) -> FakePlanStore {
        lock(&self.parameters).insert(name.to_string(), text.to_string());
        self
    }

    /// Every read fails with `error`.
    pub fn failing_reads(self, error: Error) -> FakePlanStore {
        *lock(&self.read_failure) = Some(error);
        self
    }

    /// Every write fails with `error` (and is still recorded as asked for).
    pub fn failing_writes(self, error: Error) -> FakePlanStore {
        *lock(&self.write_failure) = Some(error);
        self
    }

    /// Every write asked for: (parameter, text), in order.
    pub fn writes(&self) -> Vec<(String, String)> {
        lock(&self.writes).clone()
    }

    /// The plan parameters read, in order (failed reads included).
    pub fn reads(&self) -> Vec<String> {
        lock(&self.reads).clone()
    }

    /// The text parameter `name` holds now.
    pub fn get(&self, name: &str) -> Option<String> {
        lock(&self.parameters).get(name).cloned()
    }

    fn write(&self, name: &str, text: &str) -> Result<()> {
        lock(&self.writes).push((name.to_string(), text.to_string()));
        if let Some(e) = lock(&self.write_failure).clone() {
            return Err(e);
        }
        lock(&self.parameters).insert(name.to_string(), text.to_string());
        Ok(())
    }
}

#[async_trait]
impl PlanStore for FakePlanStore {
    async fn plan_text(&self, parameter: &str) -> Result<Option<String>> {
        lock(&self.reads).push(parameter.to_string());
        if let Some(e) = lock(&self.read_failure).clone() {
            return Err(e);
        }
        Ok(self.get(parameter))
    }

    async fn put_plan_text(&self, parameter: &str, text: &str) -> Result<()> {
        note(&self.journal, "put_plan_text");
        self.write(parameter, text)
    }

    async fn put_release_record(&self, parameter: &str, record: &str) -> Result<()> {
        note(&self.journal, "put_release_record");
        self.write(parameter, record)
    }

    async fn release_record(&self, parameter: &str) -> Result<Option<String>> {
        self.plan_text(parameter).await
    }

    async fn delete_release_record(&self, parameter: &str) -> Result<bool> {
        note(&self.journal, "delete_release_record");
        if let Some(e) = lock(&self.write_failure).clone() {
            return Err(e);
        }
        Ok(lock(&self.parameters).remove(parameter).is_some())
    }
}

// ---------------------------------------------------------------------------------------------
// Services (hookline's Route 53 controller)

/// Which [`FakeServices`] call to fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServicesCall {
    Describe,
    Register,
    CreateOrUpdate,
    Scale,
    Delete,
}

/// ECS services in memory, keyed `<cluster>/<service>`. A created or scaled service runs as many
/// tasks as desired at once with one deployment (stable); every change is recorded. (Green's
/// settling is the health gate's business: `FakeHealth::set_service`.)
#[derive(Default)]
pub struct FakeServices {
    services: Mutex<BTreeMap<String, ServiceFacts>>,
    registered: Mutex<Vec<TaskDefinitionSpec>>,
    changes: Mutex<Vec<String>>,
    specs: Mutex<Vec<(String, ServiceSpec)>>,
    failures: Mutex<Vec<(ServicesCall, Error)>>,
}

fn service_key(s: &ServiceRef) -> String {
    format!("{}/{}", s.cluster, s.service)
}

impl FakeServices {
    /// Service `cluster/service` exists, stable, running `desired` tasks of `task_definition`.
    pub fn with(self, cluster: &str, service: &str, desired: u32, task_definition: &str) -> FakeServices {
        lock(&self.services).insert(
            format!("{cluster}/{service}"),
            ServiceFacts {
                desired,
                running: desired,
                task_definition: Some(task_definition.into()),
                deployments: 1,
                active: true,
            },
        );
        self
    }

    pub fn fail(&self, call: ServicesCall, error: Error) {
        lock(&self.failures).push((call, error));
    }

    /// The service now (`None`: none, or deleted).
    pub fn get(&self, cluster: &str, service: &str) -> Option<ServiceFacts> {
        lock(&self.services).get(&format!("{cluster}/{service}")).cloned()
    }

    /// Every change made, in order: `create <key> <desired>`, `update <key> <desired>`,
    /// `scale <key> <desired>`, `delete <key>`.
    pub fn changes(&self) -> Vec<String> {
        lock(&self.changes).clone()
    }

    /// Every task definition registered.
    pub fn registered(&self) -> Vec<TaskDefinitionSpec> {
        lock(&self.registered).clone()
    }

    /// Every create/update's spec, with the service's key.
    pub fn specs(&self) -> Vec<(String, ServiceSpec)> {
        lock(&self.specs).clone()
    }

    fn set_desired(&self, key: &str, desired: u32, task_definition: Option<String>) {
        let mut services = lock(&self.services);
        let entry = services.entry(key.to_string()).or_insert(ServiceFacts {
            desired: 0,
            running: 0,
            task_definition: None,
            deployments: 1,
            active: true,
        });
        entry.desired = desired;
        entry.running = desired;
        if task_definition.is_some() {
            entry.task_definition = task_definition;
        }
    }
}

#[async_trait]
impl Services for FakeServices {
    async fn describe(&self, service: &ServiceRef) -> Result<Option<ServiceFacts>> {
        check_failure(&self.failures, ServicesCall::Describe)?;
        Ok(lock(&self.services).get(&service_key(service)).cloned())
    }

    async fn register_task_definition(&self, spec: &TaskDefinitionSpec, _at: &Placement) -> Result<String> {
        check_failure(&self.failures, ServicesCall::Register)?;
        let mut registered = lock(&self.registered);
        registered.push(spec.clone());
        let revision = registered.iter().filter(|s| s.family == spec.family).count();
        Ok(format!("arn:aws:ecs:us-east-1:123456789012:task-definition/{}:{revision}", spec.family))
    }

    async fn create_or_update(&self, service: &ServiceRef, spec: &ServiceSpec) -> Result<()> {
        check_failure(&self.failures, ServicesCall::CreateOrUpdate)?;
        let key = service_key(service);
        let verb = if lock(&self.services).contains_key(&key) { "update" } else { "create" };
        lock(&self.changes).push(format!("{verb} {key} {}", spec.desired));
        lock(&self.specs).push((key.clone(), spec.clone()));
        self.set_desired(&key, spec.desired, Some(spec.task_definition_arn.clone()));
        Ok(())
    }

    async fn scale(&self, service: &ServiceRef, desired: u32) -> Result<()> {
        check_failure(&self.failures, ServicesCall::Scale)?;
        let key = service_key(service);
        if !lock(&self.services).contains_key(&key) {
            return Err(Error::AwsPermanent {
                operation: "UpdateService",
                code: Some("ServiceNotFoundException".into()),
                message: format!("service {key} not found (fake)"),
            });
        }
        lock(&self.changes).push(format!("scale {key} {desired}"));
        self.set_desired(&key, desired, None);
        Ok(())
    }

    async fn delete(&self, service: &ServiceRef) -> Result<bool> {
        check_failure(&self.failures, ServicesCall::Delete)?;
        let key = service_key(service);
        let existed = lock(&self.services).remove(&key).is_some();
        if existed {
            lock(&self.changes).push(format!("delete {key}"));
        }
        Ok(existed)
    }
}

// ---------------------------------------------------------------------------------------------
// Release discovery (hookline's Route 53 controller)

/// A group's load balancers and a zone's weighted records, in memory.
#[derive(Default)]
pub struct FakeDiscovery {
    load_balancers: Mutex<Vec<(String, LoadBalancerRelease)>>,
    zones: Mutex<Vec<HostedZone>>,
    records: Mutex<Vec<(String, String, WeightedRecord)>>,
    failure: Mutex<Option<Error>>,
    asked_at: Mutex<Vec<Placement>>,
}

impl FakeDiscovery {
    /// The placements load balancers were asked for, in order.
    pub fn asked_at(&self) -> Vec<Placement> {
        lock(&self.asked_at).clone()
    }

    /// `release` of `group`: its load balancer and target group.
    pub fn with_load_balancer(self, group: &str, release: LoadBalancerRelease) -> FakeDiscovery {
        lock(&self.load_balancers).push((group.to_string(), release));
        self
    }

    pub fn with_zone(self, id: &str, name: &str) -> FakeDiscovery {
        lock(&self.zones).push(HostedZone { id: id.into(), name: name.into() });
        self
    }

    /// A weighted `A` record of `fqdn` in zone `zone_id`.
    pub fn with_record(self, zone_id: &str, fqdn: &str, set_identifier: &str, weight: u8) -> FakeDiscovery {
        self.set_record(zone_id, fqdn, set_identifier, weight);
        self
    }

    /// Sets (or adds) a record's weight.
    pub fn set_record(&self, zone_id: &str, fqdn: &str, set_identifier: &str, weight: u8) {
        let mut records = lock(&self.records);
        records.retain(|(z, n, r)| !(z == zone_id && n == fqdn && r.set_identifier == set_identifier));
        records.push((
            zone_id.into(),
            fqdn.into(),
            WeightedRecord {
                set_identifier: set_identifier.into(),
                weight,
                record_type: "A".into(),
                alias_dns_name: None,
            },
        ));
    }

    /// Every call fails with `error`.
    pub fn failing(self, error: Error) -> FakeDiscovery {
        *lock(&self.failure) = Some(error);
        self
    }

    fn check(&self) -> Result<()> {
        match lock(&self.failure).clone() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl FakeDiscovery {
    /// The weight of record `set_identifier` of `fqdn` now (`None`: no record).
    pub fn record(&self, zone_id: &str, fqdn: &str, set_identifier: &str) -> Option<u8> {
        let name = crate::dns::normalize(fqdn);
        lock(&self.records)
            .iter()
            .find(|(z, n, r)| z == zone_id && crate::dns::normalize(n) == name && r.set_identifier == set_identifier)
            .map(|(_, _, r)| r.weight)
    }
}

#[async_trait]
impl RecordRemoval for FakeDiscovery {
    async fn delete_idle_record(&self, zone_id: &str, record_name: &str, set_identifier: &str) -> Result<bool> {
        self.check()?;
        match self.record(zone_id, record_name, set_identifier) {
            None => Ok(false),
            Some(0) => {
                let name = crate::dns::normalize(record_name);
                lock(&self.records).retain(|(z, n, r)| {
                    !(z == zone_id && crate::dns::normalize(n) == name && r.set_identifier == set_identifier)
                });
                Ok(true)
            }
            Some(w) => Err(Error::invalid("release", format!("an idle release, {set_identifier} has weight {w}"))),
        }
    }
}

#[async_trait]
impl ReleaseDiscovery for FakeDiscovery {
    async fn load_balancers(&self, group: &str, at: &Placement) -> Result<Vec<LoadBalancerRelease>> {
        self.check()?;
        lock(&self.asked_at).push(at.clone());
        // Each load balancer is in the Region its `region` names (`None`: the caller's).
        Ok(lock(&self.load_balancers)
            .iter()
            .filter(|(g, l)| g == group && l.region == at.region)
            .map(|(_, l)| LoadBalancerRelease { role_arn: at.role_arn.clone(), ..l.clone() })
            .collect())
    }

    async fn hosted_zone(&self, fqdn: &str) -> Result<HostedZone> {
        self.check()?;
        let zones = lock(&self.zones).clone();
        crate::dns::longest_suffix_zone(fqdn, &zones).cloned().ok_or_else(|| {
            Error::invalid("service.fqdn", format!("a name in one of the account's hosted zones, got {fqdn}"))
        })
    }

    async fn weighted_records(&self, zone_id: &str, fqdn: &str) -> Result<Vec<WeightedRecord>> {
        self.check()?;
        let name = crate::dns::normalize(fqdn);
        Ok(lock(&self.records)
            .iter()
            .filter(|(z, n, _)| z == zone_id && crate::dns::normalize(n) == name)
            .map(|(_, _, r)| r.clone())
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{context, plan};

    const MACHINE: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:hookline-canary";

    #[tokio::test]
    async fn lifecycle_statuses_play_in_order_and_the_last_repeats() {
        let lifecycle = FakeLifecycle::with_statuses([DeploymentStatus::Active, DeploymentStatus::Stopped]);
        assert_eq!(lifecycle.status("d").await, Ok(DeploymentStatus::Active));
        assert_eq!(lifecycle.status("d").await, Ok(DeploymentStatus::Stopped));
        assert_eq!(lifecycle.status("d").await, Ok(DeploymentStatus::Stopped));
    }

    #[tokio::test]
    async fn lifecycle_records_reports_stops_and_describes() {
        let lifecycle = FakeLifecycle::default().reporting(Ok(Reported::Already));
        assert_eq!(lifecycle.report("d", "hook-1", HookStatus::Failed).await, Ok(Reported::Already));
        assert!(matches!(lifecycle.stop_with_rollback("d").await, Ok(Stop::Stopping(_))));
        let summary = lifecycle.describe("d").await.expect("describe");
        assert_eq!((summary.status, summary.application.as_str()), (DeploymentStatus::Active, "web"));
        assert_eq!(lifecycle.reports(), vec![("d".into(), "hook-1".into(), HookStatus::Failed)]);
        assert_eq!((lifecycle.stops(), lifecycle.described()), (vec!["d".to_string()], vec!["d".to_string()]));
    }

    #[tokio::test]
    async fn lifecycle_records_every_call_by_name_and_fails_on_demand() {
        let lifecycle = FakeLifecycle::default().failing_status("d-DOWN", throttled("GetDeployment"));
        assert_eq!(lifecycle.admission("d").await, Ok(Admission::Serve));
        lifecycle.resolve("d", Some("hook-1")).await.expect("resolve");
        assert_eq!(lifecycle.status("d").await, Ok(DeploymentStatus::Active));
        assert_eq!(lifecycle.status("d-DOWN").await.map_err(|e| e.error_type()), Err("Throttled"));
        lifecycle.fail_admission(denied("GetDeployment"));
        assert_eq!(
            lifecycle.admission("d").await.map_err(|e| e.aws_code().map(str::to_string)),
            Err(Some("AccessDeniedException".into()))
        );
        lifecycle.describe("d").await.expect("describe");
        assert_eq!(lifecycle.calls(), ["admission", "resolve", "status", "status", "admission", "describe"]);
        assert_eq!((lifecycle.count("status"), lifecycle.count("report")), (2, 0));
    }

    #[tokio::test]
    async fn lifecycle_resolve_known_keeps_the_known_context_and_reads_what_moves() {
        let mut read = crate::testing::context();
        read.application = "read-afresh".into();
        let resolved = Resolved {
            context: read,
            in_progress_event: Some("AfterAllowTraffic".into()),
            in_progress_hook: Some(HookEvent::PostTraffic),
            in_progress_started_at: Some(42),
            hook_expires_at: None,
        };
        let lifecycle = FakeLifecycle::default().resolving(resolved);
        let known = context();

        let got = lifecycle.resolve_known(&known, None).await.expect("resolve_known");

        assert_eq!(got.context.application, "web", "the fixed context is the known one");
        assert_eq!((got.in_progress_hook, got.in_progress_started_at), (Some(HookEvent::PostTraffic), Some(42)));
        assert_eq!(lifecycle.calls(), ["resolve_known"]);
    }

    #[tokio::test]
    async fn lifecycle_watching_a_route_records_production_at_each_report() {
        let cohort = Cohort { header: "X-Canary".into(), values: vec!["internal".into()] };
        let routers = FakeRouters::with_weights(Weights::green(10)).with_cohort(cohort.clone());
        let lifecycle = FakeLifecycle::default().watching(&routers);
        lifecycle.report("d", "h", HookStatus::Failed).await.expect("report");
        routers.router(&context()).restore().await.expect("restore");
        lifecycle.report("d", "h", HookStatus::Failed).await.expect("report");
        assert_eq!(
            lifecycle.production_at_reports(),
            [(Weights::green(10), vec![cohort]), (Weights::BLUE_ONLY, vec![])]
        );
        assert!(FakeLifecycle::default().production_at_reports().is_empty(), "nothing watched, nothing recorded");
    }

    #[tokio::test]
    async fn a_router_checks_the_expected_split_and_writes_only_a_difference() {
        let routers = FakeRouters::default();
        let router = routers.router(&context());
        assert_eq!(router.set_weights(Weights::green(10), Some(Weights::BLUE_ONLY)).await, Ok(Change::Applied));
        assert_eq!(router.set_weights(Weights::green(10), Some(Weights::BLUE_ONLY)).await, Ok(Change::AlreadyThere));
        let drift = router.set_weights(Weights::green(50), Some(Weights::BLUE_ONLY)).await.unwrap_err();
        assert!(matches!(drift, Error::TrafficDrift { .. }), "{drift}");
        assert_eq!(routers.weights(), Weights::green(10), "a drift changes nothing");
        assert_eq!(routers.set_calls().len(), 3);
        assert_eq!(routers.routes(), vec![context().production]);
    }

    #[tokio::test]
    async fn restore_tries_both_halves_when_one_fails() {
        let cohort = Cohort { header: "X-Canary".into(), values: vec!["internal".into()] };
        let routers = FakeRouters::with_weights(Weights::green(10)).with_cohort(cohort);
        routers.fail(RouterCall::SetWeights, denied("ModifyListener"));
        let err = routers.router(&context()).restore().await.unwrap_err();
        assert_eq!(err.aws_code(), Some("AccessDeniedException"));
        assert!(routers.cohorts().is_empty(), "cohorts removed though the weights failed");
        assert_eq!((routers.weights(), routers.restores()), (Weights::green(10), 1));
    }

    #[tokio::test]
    async fn health_serves_its_facts_and_fails_on_demand() {
        let health = FakeHealth::healthy(&["web-5xx"]);
        let verdict = crate::health::gate::check(&health, &context(), &plan().health).await.expect("verdict");
        assert!(verdict.healthy(), "{verdict:?}");
        health.set_alarm("web-5xx", "ALARM");
        let verdict = crate::health::gate::check(&health, &context(), &plan().health).await.expect("verdict");
        assert!(!verdict.healthy());
        health.fail(HealthCall::Targets, denied("DescribeTargetHealth"));
        assert!(crate::health::gate::check(&health, &context(), &plan().health).await.is_err());
    }

    #[tokio::test]
    async fn metrics_answer_by_query_id_and_record_the_window() {
        let metrics = FakeMetrics::default().with_series("m0_blue", vec![1.0, 2.0]);
        let query = |id: &str| SeriesQuery {
            id: id.into(),
            side: crate::health::metrics::Side::Blue,
            inputs: Vec::new(),
            expression: None,
            period_seconds: 60,
            fill_zero: false,
            at: Placement::default(),
        };
        let got = metrics.series(&[query("m0_blue"), query("m0_green")], 0, 60).await.expect("series");
        assert_eq!(got, vec![vec![1.0, 2.0], vec![]]);
        assert_eq!(metrics.windows(), vec![(vec!["m0_blue".to_string(), "m0_green".to_string()], 0, 60)]);
    }

    #[tokio::test]
    async fn executions_start_once_per_name_list_by_prefix_and_stop() {
        let executions = FakeExecutions::default();
        let started = executions.start(MACHINE, "d-1-BeforeAllowTraffic", "{}").await.expect("start");
        let arn = execution_arn(MACHINE, "d-1-BeforeAllowTraffic");
        assert_eq!(started, StartOutcome::Started(arn.clone()));
        assert_eq!(
            executions.start(MACHINE, "d-1-BeforeAllowTraffic", "{}").await,
            Ok(StartOutcome::AlreadyExists(arn.clone()))
        );
        executions.start(MACHINE, "d-10-BeforeAllowTraffic", "{}").await.expect("start");
        assert_eq!(executions.list_running(MACHINE, "d-1-").await, Ok(vec![arn.clone()]));

        assert_eq!(executions.stop(&arn, "RolledBack", "operator").await, Ok(StopOutcome::Stopped));
        assert_eq!(executions.stop(&arn, "RolledBack", "operator").await, Ok(StopOutcome::NotRunning));
        let stopped = executions.describe(&arn).await.expect("describe").expect("exists");
        assert_eq!((stopped.status, stopped.error.as_deref()), (RunStatus::Aborted, Some("RolledBack")));
        assert_eq!(executions.list_running(MACHINE, "d-1-").await, Ok(vec![]));
        assert_eq!(executions.describe("arn:none").await, Ok(None));
    }

    #[tokio::test]
    async fn executions_record_describes_and_a_raced_start_finds_the_racers_execution() {
        let executions = FakeExecutions::default();
        let arn = execution_arn(MACHINE, "d-1-BeforeAllowTraffic");
        assert_eq!(executions.describe(&arn).await, Ok(None));
        executions.race_next_start(MACHINE, "d-1-BeforeAllowTraffic", RunStatus::Running, "{\"racer\":1}");

        let outcome = executions.start(MACHINE, "d-1-BeforeAllowTraffic", "{\"mine\":1}").await;

        assert_eq!(outcome, Ok(StartOutcome::AlreadyExists(arn.clone())));
        let found = executions.describe(&arn).await.expect("describe").expect("the racer's execution");
        assert_eq!((found.status, found.input.as_deref()), (RunStatus::Running, Some("{\"racer\":1}")));
        assert_eq!(executions.described(), [arn.clone(), arn.clone()]);
        assert_eq!(executions.starts().len(), 1, "the refused start is recorded");
        // The race is played once: the next start of another name starts.
        let other = executions.start(MACHINE, "d-2-BeforeAllowTraffic", "{}").await.expect("start");
        assert!(matches!(other, StartOutcome::Started(_)), "{other:?}");
        executions.fail(ExecutionsCall::Describe, denied("DescribeExecution"));
        assert!(executions.describe(&arn).await.is_err());
        assert_eq!(executions.described().len(), 3, "a failed describe is recorded too");
    }

    #[tokio::test]
    async fn executions_record_task_answers_and_fail_on_demand() {
        let executions = FakeExecutions::default();
        executions.send_task_failure("t", "ApprovalRejected", "no").await.expect("answer");
        assert_eq!(
            executions.task_answers(),
            vec![TaskAnswer::Failure { task_token: "t".into(), error: "ApprovalRejected".into(), cause: "no".into() }]
        );
        executions.fail(ExecutionsCall::Start, denied("StartExecution"));
        assert!(executions.start(MACHINE, "n", "{}").await.is_err());
        assert_eq!(executions.get(&execution_arn(MACHINE, "n")), None, "a failed start starts nothing");
    }

    #[tokio::test]
    async fn executions_serve_recorded_histories_oldest_first() {
        let executions = FakeExecutions::default();
        let arn = executions.insert(MACHINE, "d-1-BeforeAllowTraffic", RunStatus::Running, Some("{}"));
        let event = |id: i64, kind: &str| ExecutionEvent { id, timestamp: id, kind: kind.into(), ..Default::default() };
        assert_eq!(executions.history(&arn).await, Ok(vec![]), "an execution with nothing recorded");
        executions.record(&arn, [event(2, "TaskStateEntered")]);
        executions.record(&arn, [event(1, "ExecutionStarted")]);

        let kinds: Vec<String> = executions.history(&arn).await.expect("history").into_iter().map(|e| e.kind).collect();
        assert_eq!(kinds, ["ExecutionStarted", "TaskStateEntered"]);
        let missing = executions.history(&execution_arn(MACHINE, "d-2-BeforeAllowTraffic")).await.unwrap_err();
        assert_eq!(missing.aws_code(), Some("ExecutionDoesNotExist"));
        executions.fail(ExecutionsCall::History, denied("GetExecutionHistory"));
        assert_eq!(executions.history(&arn).await.unwrap_err().aws_code(), Some("AccessDeniedException"));
    }

    #[tokio::test]
    async fn one_journal_orders_calls_across_fakes() {
        let journal = Journal::default();
        let lifecycle = FakeLifecycle::default().journaling(&journal);
        let routers = FakeRouters::default().journaling(&journal);
        let plans = FakePlanStore::default().journaling(&journal);
        routers.router(&context()).remove_cohorts().await.expect("remove");
        lifecycle.report("d", "h", HookStatus::Succeeded).await.expect("report");
        plans.put_release_record("/r", "{}").await.expect("put");
        assert_eq!(*lock(&journal), ["remove_cohorts", "report", "put_release_record"]);
    }

    #[tokio::test]
    async fn the_plan_store_keeps_and_records_writes() {
        let plans = FakePlanStore::default().with("/hookline/web/web-prod", "{}");
        assert_eq!(plans.plan_text("/hookline/web/web-prod").await, Ok(Some("{}".into())));
        assert_eq!(plans.plan_text("/hookline/other").await, Ok(None));
        plans.put_release_record("/hookline/web/web-prod/last-release", "{\"a\":1}").await.expect("put");
        assert_eq!(plans.get("/hookline/web/web-prod/last-release").as_deref(), Some("{\"a\":1}"));
        assert_eq!(plans.writes().len(), 1);

        assert_eq!(plans.reads(), ["/hookline/web/web-prod", "/hookline/other"]);

        let refusing = FakePlanStore::default().failing_writes(denied("PutParameter"));
        assert!(refusing.put_plan_text("/p", "x").await.is_err());
        assert_eq!(refusing.get("/p"), None);
    }
}
