//! An adapter built on first use: [`Lazy`] holds a not-yet-built SDK client ([`LazyClient`]) and
//! the adapter's constructor, and serves the port once a call needs it. The deployment controllers
//! are made at every function's init, but hookline's own Route 53 releases need SSM, Step Functions
//! and ECS only when one of their deployments is served: a CodeDeploy hook must not build them.

use std::sync::{Arc, OnceLock};

use async_trait::async_trait;

use crate::dns::{Placement, ServiceFacts, ServiceSpec, TaskDefinitionSpec};
use crate::execution::ServiceRef;
use crate::lazy_client::LazyClient;
use crate::ports::{ExecutionEvent, ExecutionInfo, Executions, PlanStore, Services, StartOutcome, StopOutcome};
use crate::Result;

/// The adapter `make(client)`, made the first time a port's method is called.
pub struct Lazy<C, A> {
    client: LazyClient<C>,
    make: fn(C) -> A,
    adapter: Arc<OnceLock<A>>,
}

impl<C: Clone, A> Lazy<C, A> {
    pub fn new(client: LazyClient<C>, make: fn(C) -> A) -> Lazy<C, A> {
        Lazy { client, make, adapter: Arc::new(OnceLock::new()) }
    }

    fn get(&self) -> &A {
        self.adapter.get_or_init(|| (self.make)((*self.client).clone()))
    }
}

#[async_trait]
impl<C: Clone + Send + Sync, A: PlanStore> PlanStore for Lazy<C, A> {
    async fn plan_text(&self, parameter: &str) -> Result<Option<String>> {
        self.get().plan_text(parameter).await
    }
    async fn put_plan_text(&self, parameter: &str, text: &str) -> Result<()> {
        self.get().put_plan_text(parameter, text).await
    }
    async fn put_release_record(&self, parameter: &str, record: &str) -> Result<()> {
        self.get().put_release_record(parameter, record).await
    }
    async fn release_record(&self, parameter: &str) -> Result<Option<String>> {
        self.get().release_record(parameter).await
    }
    async fn delete_release_record(&self, parameter: &str) -> Result<bool> {
        self.get().delete_release_record(parameter).await
    }
}

#[async_trait]
impl<C: Clone + Send + Sync, A: Executions> Executions for Lazy<C, A> {
    async fn describe(&self, execution_arn: &str) -> Result<Option<ExecutionInfo>> {
        self.get().describe(execution_arn).await
    }
    async fn start(&self, state_machine_arn: &str, name: &str, input: &str) -> Result<StartOutcome> {
        self.get().start(state_machine_arn, name, input).await
    }
    async fn list_running(&self, state_machine_arn: &str, name_prefix: &str) -> Result<Vec<String>> {
        self.get().list_running(state_machine_arn, name_prefix).await
    }
    async fn stop(&self, execution_arn: &str, error: &str, cause: &str) -> Result<StopOutcome> {
        self.get().stop(execution_arn, error, cause).await
    }
    async fn send_task_success(&self, task_token: &str, output: &str) -> Result<()> {
        self.get().send_task_success(task_token, output).await
    }
    async fn send_task_failure(&self, task_token: &str, error: &str, cause: &str) -> Result<()> {
        self.get().send_task_failure(task_token, error, cause).await
    }
    async fn history(&self, execution_arn: &str) -> Result<Vec<ExecutionEvent>> {
        self.get().history(execution_arn).await
    }
}

#[async_trait]
impl<C: Clone + Send + Sync, A: Services> Services for Lazy<C, A> {
    async fn describe(&self, service: &ServiceRef) -> Result<Option<ServiceFacts>> {
        self.get().describe(service).await
    }
    async fn register_task_definition(&self, spec: &TaskDefinitionSpec, at: &Placement) -> Result<String> {
        self.get().register_task_definition(spec, at).await
    }
    async fn create_or_update(&self, service: &ServiceRef, spec: &ServiceSpec) -> Result<()> {
        self.get().create_or_update(service, spec).await
    }
    async fn scale(&self, service: &ServiceRef, desired: u32) -> Result<()> {
        self.get().scale(service, desired).await
    }
    async fn delete(&self, service: &ServiceRef) -> Result<bool> {
        self.get().delete(service).await
    }
}
