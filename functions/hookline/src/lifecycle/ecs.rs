//! [`Lifecycle`] for Amazon ECS-native blue/green deployments (deployment controller `ECS`,
//! strategy `BLUE_GREEN`): the one place that knows ECS's service deployment statuses,
//! lifecycle stage names and hook answer words, and maps them onto hookline's
//! [`DeploymentStatus`], [`EventStatus`] and [`HookEvent`].
//!
//! Sources: Amazon ECS Developer Guide, "Lambda hooks for Amazon ECS service deployments"
//! (lambda-lifecycle-hooks), "Lifecycle hooks for Amazon ECS service deployments"
//! (deployment-lifecycle-hooks), "Amazon ECS blue/green deployments" (blue-green-deployment-how-it-works);
//! ECS API reference: DescribeServiceDeployments, DescribeServiceRevisions, StopServiceDeployment.
//!
//! How a hook is answered differs from CodeDeploy: ECS takes the hook's answer as the Lambda
//! function's *return value* (`{"hookStatus", "callBackDelay", "hookDetails"}`) and invokes the
//! hook again after `callBackDelay` while it answers `IN_PROGRESS`. There is no API call to
//! report with, so [`Lifecycle::report`] reports nothing: the answer is carried by how the
//! hook's state machine execution ends, which the `hook` function's next invocation maps
//! ([`EcsAnswer`]).

use async_trait::async_trait;
use aws_sdk_ecs::types::{
    DeploymentLifecycleHookStatus, DeploymentStrategy, ServiceDeployment, ServiceDeploymentStatus as EcsStatus,
    StopServiceDeploymentStopType,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use super::deployment::{is_service_deployment_arn, Admission};
use super::deployment::{
    Controller, DeploymentStatus, DeploymentSummary, EventStatus, HookStatus, Reported, Resolved, Stop,
    DEPLOYMENT_NOT_FOUND,
};
use crate::error::AwsResultExt;
use crate::execution::{DeploymentContext, HookEvent, HookRef, Route, Side};
use crate::ports::Lifecycle;
use crate::{Error, Result};

/// The `callBackDelay` hookline answers with while its execution runs, in seconds: the plan's
/// health interval, bounded. ECS's default is 30 s (lambda-lifecycle-hooks); AWS documents no
/// bound, so hookline keeps it between 1 s (no busy loop) and 5 minutes (an execution's end is
/// noticed within 5 minutes at worst; the hook budget is hours).
pub const MIN_CALLBACK_DELAY_SECONDS: u64 = 1;
/// See [`MIN_CALLBACK_DELAY_SECONDS`].
pub const MAX_CALLBACK_DELAY_SECONDS: u64 = 300;
/// The delay when hookline knows no plan yet (ECS's own default).
pub const DEFAULT_CALLBACK_DELAY_SECONDS: u64 = 30;

/// ECS-native deployments: the service deployment and its revisions.
#[derive(Clone, Debug)]
pub struct EcsNative {
    pub ecs: aws_sdk_ecs::Client,
}

fn missing(what: &str) -> Error {
    Error::AwsPermanent {
        operation: "ResolveServiceDeployment",
        code: Some("IncompleteServiceDeployment".into()),
        message: format!("service deployment has no {what}"),
    }
}

/// The last `/`-separated segment of an ARN (a cluster's, service's or target group's name part).
fn last_segment(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// A target group's name from its ARN (`...:targetgroup/<name>/<id>`).
fn target_group_name(arn: &str) -> String {
    arn.split(":targetgroup/").nth(1).and_then(|rest| rest.split('/').next()).unwrap_or(arn).to_string()
}

/// The listener a listener rule belongs to, from the rule's ARN: ELB's ARN formats put the listener's
/// path in the rule's (`listener-rule/app/<lb>/<lb-id>/<listener-id>/<rule-id>` belongs to
/// `listener/app/<lb>/<lb-id>/<listener-id>`; Service Authorization Reference, "Resource types defined
/// by Elastic Load Balancing V2"). DescribeRules does not name a rule's listener.
pub fn listener_of_rule(rule_arn: &str) -> Result<String> {
    let bad = || Error::invalid("productionListenerRule", format!("a listener rule ARN, got {rule_arn}"));
    if !rule_arn.contains(":listener-rule/") {
        return Err(bad());
    }
    let (listener_path, _rule_id) = rule_arn.rsplit_once('/').ok_or_else(bad)?;
    Ok(listener_path.replacen(":listener-rule/", ":listener/", 1))
}

/// ECS's service deployment status as hookline acts on it. A rollback requested or under way
/// (a console or API `StopServiceDeployment`, a failed hook, an alarm) is `Failed`: the
/// deployment will not go to green, and hookline must put production back on blue itself (ECS's
/// rollback restores only what ECS shifted).
fn deployment_status(status: &EcsStatus) -> DeploymentStatus {
    match status {
        EcsStatus::Pending | EcsStatus::InProgress => DeploymentStatus::Active,
        EcsStatus::Successful => DeploymentStatus::Succeeded,
        EcsStatus::RollbackRequested
        | EcsStatus::RollbackInProgress
        | EcsStatus::RollbackSuccessful
        | EcsStatus::RollbackFailed => DeploymentStatus::Failed,
        EcsStatus::StopRequested | EcsStatus::Stopped => DeploymentStatus::Stopped,
        other => DeploymentStatus::Unrecognized(other.as_str().to_string()),
    }
}

/// A service deployment as readers show it: the one mapping of ECS's status ([`deployment_status`]),
/// ECS's own word in `status_word`, and, once the deployment is more than pending, running or
/// successful, `message` = `<ECS's word>: <statusReason, else the rollback's reason, else the word>`.
/// Where the plan lives: application `ecs/<cluster>` and group `<service>` (`contract::ecs_application`).
///
/// `rolling_back` while ECS is still stopping or rolling back: "Ongoing: A service deployment is
/// in-progress: IN_PROGRESS, STOP_REQUESTED, ROLLBACK_REQUESTED, ROLLBACK_IN_PROGRESS" (Amazon ECS
/// Developer Guide, "View service history using Amazon ECS service deployments"). Those are `Failed`
/// or `Stopped` to hookline (the deployment will not go to green), but production may still move,
/// so a reader watching it keeps watching until ECS says it ended.
pub fn summary(deployment_id: &str, d: &ServiceDeployment) -> DeploymentSummary {
    let status = d.status().map_or(DeploymentStatus::Unrecognized("unknown".into()), deployment_status);
    let word = d.status().map_or("unknown", |s| s.as_str());
    let noteworthy = !matches!(d.status(), Some(EcsStatus::Pending | EcsStatus::InProgress | EcsStatus::Successful));
    let reason = d.status_reason().or(d.rollback().and_then(|r| r.reason())).unwrap_or(word);
    let service_arn = d.service_arn().unwrap_or_default();
    let cluster = d.cluster_arn().map(last_segment).unwrap_or_else(|| cluster_of_service(service_arn));
    DeploymentSummary {
        deployment_id: d.service_deployment_arn().unwrap_or(deployment_id).to_string(),
        controller: Controller::Ecs,
        rolling_back: matches!(
            d.status(),
            Some(EcsStatus::StopRequested | EcsStatus::RollbackRequested | EcsStatus::RollbackInProgress)
        ),
        status,
        status_word: word.to_string(),
        application: crate::contract::ecs_application(cluster),
        group: last_segment(service_arn).to_string(),
        created_at: d.created_at().or(d.started_at()).map(|t| t.secs()),
        ended_at: d.finished_at().or(d.stopped_at()).map(|t| t.secs()),
        message: noteworthy.then(|| format!("{word}: {reason}")),
    }
}

/// `arn:aws:ecs:r:a:service/demo/api` → `demo` (a service ARN's cluster, for a deployment that names no cluster ARN).
fn cluster_of_service(service_arn: &str) -> &str {
    let path = service_arn.split_once(":service/").map_or(service_arn, |(_, rest)| rest);
    path.split('/').next().unwrap_or(path)
}

/// The stages of a service deployment in the order ECS runs them (deployment-lifecycle-hooks).
const STAGE_ORDER: [&str; 10] = [
    "RECONCILE_SERVICE",
    "PRE_SCALE_UP",
    "SCALE_UP",
    "POST_SCALE_UP",
    "TEST_TRAFFIC_SHIFT",
    "POST_TEST_TRAFFIC_SHIFT",
    "PRODUCTION_TRAFFIC_SHIFT",
    "POST_PRODUCTION_TRAFFIC_SHIFT",
    "BAKE_TIME",
    "CLEAN_UP",
];

/// ECS's stage whose hook answers `event`: the canary runs at POST_TEST_TRAFFIC_SHIFT (green has
/// all test traffic, blue all production), the post-traffic bake at POST_PRODUCTION_TRAFFIC_SHIFT
/// (production on green).
pub fn stage_of(event: HookEvent) -> &'static str {
    match event {
        HookEvent::PreTraffic => "POST_TEST_TRAFFIC_SHIFT",
        HookEvent::PostTraffic => "POST_PRODUCTION_TRAFFIC_SHIFT",
    }
}

/// The hook event of ECS's stage `name`, when hookline answers it.
fn hook_event(name: &str) -> Option<HookEvent> {
    [HookEvent::PreTraffic, HookEvent::PostTraffic].into_iter().find(|e| stage_of(*e) == name)
}

fn stage_index(name: &str) -> Option<usize> {
    STAGE_ORDER.iter().position(|s| *s == name)
}

/// Where the deployment stands relative to `event`'s stage.
fn event_status_of(deployment: &ServiceDeployment, event: HookEvent) -> Option<EventStatus> {
    let status = deployment.status()?;
    match deployment_status(status) {
        DeploymentStatus::Succeeded => return Some(EventStatus::Succeeded),
        // Rolling back or stopped: a rollback re-runs TEST_/PRODUCTION_TRAFFIC_SHIFT, so the stage
        // it reports does not tell which hooks were answered before; none counts as Succeeded, and
        // whoever asks (rollback) puts production back on blue.
        DeploymentStatus::Failed | DeploymentStatus::Stopped => return Some(EventStatus::Failed),
        DeploymentStatus::Unrecognized(word) => return Some(EventStatus::Unrecognized(word)),
        DeploymentStatus::Active => {}
    }
    let current = stage_index(deployment.lifecycle_stage()?.as_str())?;
    let own = stage_index(stage_of(event))?;
    Some(match current.cmp(&own) {
        std::cmp::Ordering::Less => EventStatus::Pending,
        std::cmp::Ordering::Equal => EventStatus::InProgress,
        std::cmp::Ordering::Greater => EventStatus::Succeeded,
    })
}

impl EcsNative {
    async fn service_deployment(&self, deployment_arn: &str) -> Result<ServiceDeployment> {
        self.find(deployment_arn).await?.map_err(|reason| Error::AwsPermanent {
            operation: "DescribeServiceDeployments",
            code: Some("ServiceDeploymentNotFound".into()),
            message: format!("service deployment {deployment_arn}: {reason}"),
        })
    }

    /// The service deployment, or why ECS did not return it: unknown ARNs come back in `failures`
    /// (reason MISSING), not as an error (API reference).
    async fn find(&self, deployment_arn: &str) -> Result<std::result::Result<ServiceDeployment, String>> {
        let out = self
            .ecs
            .describe_service_deployments()
            .service_deployment_arns(deployment_arn)
            .send()
            .await
            .aws("DescribeServiceDeployments")?;
        if let Some(found) =
            out.service_deployments().iter().find(|d| d.service_deployment_arn() == Some(deployment_arn))
        {
            return Ok(Ok(found.clone()));
        }
        Ok(Err(out.failures().first().and_then(|f| f.reason()).unwrap_or("not returned").to_string()))
    }

    /// The routes of each revision, in the order asked.
    ///
    /// The target group a revision serves is `resolvedConfiguration.loadBalancers[].targetGroupArn`:
    /// "The resolved configuration for a service revision, which contains the actual resources your
    /// service revision uses, such as which target groups serve traffic" (ECS API reference,
    /// ResolvedConfiguration), and AWS's own canary hook reads it there
    /// (aws-samples/sample-amazon-ecs-blue-green-deployment-patterns,
    /// ecs-bluegreen-lifecycle-hooks/src/canaryFunction/app.py, `get_load_balancer_config`).
    /// A revision's `loadBalancers` is the service's *configured* load balancer, the same on every
    /// revision (`targetGroupArn` never swaps), so it cannot tell blue from green.
    async fn revisions(&self, arns: &[&str]) -> Result<Vec<RevisionRoutes>> {
        let out = self
            .ecs
            .describe_service_revisions()
            .set_service_revision_arns(Some(arns.iter().map(|a| a.to_string()).collect()))
            .send()
            .await
            .aws("DescribeServiceRevisions")?;
        let mut found = Vec::new();
        for arn in arns {
            let revision = out
                .service_revisions()
                .iter()
                .find(|r| r.service_revision_arn() == Some(arn))
                .ok_or_else(|| missing(&format!("service revision {arn} (DescribeServiceRevisions)")))?;
            // The sample notes the resolved configuration "is only available for an active service
            // revision": both are active while the hooks hookline serves run.
            let resolved = revision
                .resolved_configuration()
                .and_then(|c| c.load_balancers().first())
                .ok_or_else(|| missing(&format!("resolvedConfiguration.loadBalancers on service revision {arn}")))?;
            let target_group = resolved
                .target_group_arn()
                .ok_or_else(|| {
                    missing(&format!("resolvedConfiguration.loadBalancers[0].targetGroupArn on service revision {arn}"))
                })?
                .to_string();
            let advanced = revision.load_balancers().first().and_then(|lb| lb.advanced_configuration());
            found.push(RevisionRoutes {
                production_rule: resolved
                    .production_listener_rule()
                    .or_else(|| advanced.and_then(|a| a.production_listener_rule()))
                    .map(str::to_string),
                test_rule: advanced.and_then(|a| a.test_listener_rule()).map(str::to_string),
                target_group,
            });
        }
        Ok(found)
    }

    /// Whether hookline serves this service deployment's hooks, read from the deployment itself
    /// (one DescribeServiceDeployments, the call `resolve` makes anyway: no further IAM grant).
    ///
    /// - No source revision: ECS runs the lifecycle hooks on CreateService too; AWS's canary hook
    ///   detects it ("Detect if this is a createService or an updateService. If its a createService
    ///   then we dont want the manual approval flow", aws-samples/sample-amazon-ecs-blue-green-deployment-patterns,
    ///   ecs-bluegreen-lifecycle-hooks/src/canaryFunction/app.py, `check_service_revision`) and answers
    ///   SUCCEEDED. There is no blue to canary against, so there is nothing for hookline to do.
    /// - The strategy: `ServiceDeployment.deploymentConfiguration` is the configuration this deployment
    ///   runs with (ECS API reference, ServiceDeployment: "Optional deployment parameters that control
    ///   how many tasks run during a deployment"), `strategy` one of ROLLING, BLUE_GREEN, LINEAR, CANARY
    ///   (DeploymentConfiguration). Read here rather than from DescribeServices: an UpdateService after
    ///   the deployment started changes the service's, not this deployment's. Under LINEAR and CANARY
    ///   ECS shifts production in its own steps, which hookline's shifting would fight.
    pub async fn admission(&self, deployment_arn: &str) -> Result<Admission> {
        let deployment = self.service_deployment(deployment_arn).await?;
        Ok(admission_of(&deployment))
    }
}

fn admission_of(deployment: &ServiceDeployment) -> Admission {
    if deployment.source_service_revisions().iter().all(|r| r.arn().is_none()) {
        return Admission::Creation;
    }
    match deployment.deployment_configuration().and_then(|c| c.strategy()) {
        // Absent: the deployment does not say; `resolve` and the live rule's cross-check decide.
        None | Some(DeploymentStrategy::BlueGreen) => Admission::Serve,
        Some(other) => Admission::Strategy(other.as_str().to_string()),
    }
}

/// The routes of one service revision (see [`EcsNative::revisions`]).
struct RevisionRoutes {
    production_rule: Option<String>,
    test_rule: Option<String>,
    /// `resolvedConfiguration.loadBalancers[0].targetGroupArn`: the group this revision's tasks serve.
    target_group: String,
}

#[async_trait]
impl Lifecycle for EcsNative {
    /// One DescribeServiceDeployments ([`summary`]); an ARN ECS does not return is an error saying
    /// so (code [`DEPLOYMENT_NOT_FOUND`]) with ECS's reason.
    async fn describe(&self, deployment_id: &str) -> Result<DeploymentSummary> {
        match self.find(deployment_id).await? {
            Ok(found) => Ok(summary(deployment_id, &found)),
            Err(reason) => Err(Error::AwsPermanent {
                operation: "DescribeServiceDeployments",
                code: Some(DEPLOYMENT_NOT_FOUND.into()),
                message: format!("service deployment {deployment_id} not found in ECS ({reason})"),
            }),
        }
    }

    async fn resolve(&self, deployment_id: &str, execution_id: Option<&str>) -> Result<Resolved> {
        let deployment = self.service_deployment(deployment_id).await?;
        let cluster = last_segment(deployment.cluster_arn().ok_or_else(|| missing("clusterArn"))?).to_string();
        let service = last_segment(deployment.service_arn().ok_or_else(|| missing("serviceArn"))?).to_string();
        let target = deployment
            .target_service_revision()
            .and_then(|r| r.arn())
            .ok_or_else(|| missing("targetServiceRevision"))?;
        let source = deployment
            .source_service_revisions()
            .first()
            .and_then(|r| r.arn())
            .ok_or_else(|| missing("sourceServiceRevisions (a first deployment has no blue to canary against)"))?;
        let revisions = self.revisions(&[source, target]).await?;
        let [blue, green] =
            <[_; 2]>::try_from(revisions).map_err(|_| missing("source and target service revisions"))?;
        let (source_prod, source_test, blue_tg) = (blue.production_rule, blue.test_rule, blue.target_group);
        let (target_prod, target_test, green_tg) = (green.production_rule, green.test_rule, green.target_group);
        if blue_tg == green_tg {
            return Err(missing(&format!(
                "second target group (resolvedConfiguration of both revisions serves {blue_tg})"
            )));
        }
        // `advancedConfiguration.productionListenerRule`: the rule ECS shifts production on
        // (blue-green-deployment-how-it-works); the target revision's, else the source's.
        let production_rule =
            target_prod.or(source_prod).ok_or_else(|| missing("advancedConfiguration.productionListenerRule"))?;
        let listener_arn = listener_of_rule(&production_rule)?;
        let test_listener_arn = match target_test.or(source_test) {
            Some(rule) => Some(listener_of_rule(&rule)?),
            None => None,
        };
        let stage = deployment.lifecycle_stage().map(|s| s.as_str().to_string());
        let in_progress_hook = stage.as_deref().and_then(hook_event);
        let hook = match (execution_id, in_progress_hook) {
            (Some(id), Some(event)) => Some(HookRef { kind: Controller::Ecs, event, execution_id: id.to_string() }),
            _ => None,
        };
        Ok(Resolved {
            context: DeploymentContext {
                deployment_id: deployment_id.to_string(),
                application: crate::contract::ecs_application(&cluster),
                deployment_group: service.clone(),
                hook,
                cluster,
                service,
                production: Route::AlbRule { listener_arn, rule_arn: production_rule },
                test_listener_arn,
                blue: Side {
                    target_group_name: target_group_name(&blue_tg),
                    target_group_arn: blue_tg,
                    task_set_arn: None,
                    service: None,
                },
                green: Side {
                    target_group_name: target_group_name(&green_tg),
                    target_group_arn: green_tg,
                    task_set_arn: None,
                    service: None,
                },
                cohort_rules_removed: false,
            },
            in_progress_event: stage,
            in_progress_hook,
            // DescribeServiceDeployments gives no stage start time: the budget counts from
            // the first invocation (seconds later; the hook timeout is 24 hours).
            in_progress_started_at: None,
            // `lifecycleHookDetails[].expiresAt`: when ECS takes the hook's timeout action
            // (DescribeServiceDeployments, DeploymentLifecycleHookDetail); the earliest of the
            // running stage's Lambda hooks still in progress.
            hook_expires_at: deployment
                .lifecycle_hook_details()
                .iter()
                .filter(|h| h.status() == Some(&DeploymentLifecycleHookStatus::InProgress))
                .filter_map(|h| h.expires_at().map(|t| t.secs()))
                .min(),
        })
    }

    async fn status(&self, deployment_id: &str) -> Result<DeploymentStatus> {
        let deployment = self.service_deployment(deployment_id).await?;
        let status = deployment.status().ok_or_else(|| missing("status"))?;
        Ok(deployment_status(status))
    }

    /// Reports nothing: ECS reads the hook's answer from the function's return value, which
    /// the hook function's next invocation derives from how the execution ended
    /// (lambda-lifecycle-hooks). `Now`: this execution's outcome is the answer.
    async fn report(&self, _deployment_id: &str, _execution_id: &str, _status: HookStatus) -> Result<Reported> {
        Ok(Reported::Now)
    }

    async fn event_status(&self, ctx: &DeploymentContext, event: HookEvent) -> Result<Option<EventStatus>> {
        let deployment = self.service_deployment(&ctx.deployment_id).await?;
        Ok(event_status_of(&deployment, event))
    }

    /// `StopServiceDeployment` with `stopType` ROLLBACK: the console's rollback
    /// (ECS developer guide, stop-service-deployment). A deployment that has ended answers
    /// `ConflictException`.
    async fn stop_with_rollback(&self, deployment_id: &str) -> Result<Stop> {
        let sent = self
            .ecs
            .stop_service_deployment()
            .service_deployment_arn(deployment_id)
            .stop_type(StopServiceDeploymentStopType::Rollback)
            .send()
            .await;
        match sent {
            Ok(_) => Ok(Stop::Stopping("ROLLBACK_REQUESTED".into())),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conflict_exception()) => Ok(Stop::AlreadyEnded),
            Err(e) => Err(Error::from_sdk("StopServiceDeployment", e)),
        }
    }

    /// [`EcsNative::admission`]. Never [`Admission::Rollback`]: ECS rolls back inside the same
    /// service deployment, re-invoking its rollback stages, which pass through as
    /// [`EcsStage::PassThrough`].
    async fn admission(&self, deployment_id: &str) -> Result<Admission> {
        EcsNative::admission(self, deployment_id).await
    }
}

/// One invocation of the hook function by ECS (lambda-lifecycle-hooks, "Lifecycle payloads"):
/// `{"executionId", "lifecycleStage", "resourceArn", "executionDetails", "hookDetails"}`.
#[derive(Debug, Clone, PartialEq)]
pub struct EcsInvocation {
    /// `resourceArn`: the service deployment ARN (the deployment id hookline keys on).
    pub deployment_arn: String,
    /// `executionId`: fresh on every invocation, re-invocations included: never a key.
    pub execution_id: String,
    /// What the invoked stage asks of hookline.
    pub stage: EcsStage,
    /// `hookDetails` as ECS passed them (the configured ones merged with the last answer's).
    pub hook_details: Option<Value>,
}

/// What an invoked stage asks of hookline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EcsStage {
    /// A stage whose hook a hookline execution answers.
    Hook(HookEvent),
    /// Any other stage (RECONCILE_SERVICE, PRE_SCALE_UP, POST_SCALE_UP, PRE_PRODUCTION_TRAFFIC_SHIFT,
    /// ...), the rollback's re-invocations of TEST_/PRODUCTION_TRAFFIC_SHIFT included: answered
    /// SUCCEEDED at once (hookline never blocks ECS's own rollback); the stage's name.
    PassThrough(String),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Payload {
    execution_id: String,
    lifecycle_stage: String,
    resource_arn: String,
    #[serde(default)]
    hook_details: Option<Value>,
}

impl EcsNative {
    /// Whether `event` is ECS's hook payload (it has `lifecycleStage` and `resourceArn`;
    /// CodeDeploy's has `DeploymentId`).
    pub fn is_invocation(event: &Value) -> bool {
        event.get("lifecycleStage").is_some() && event.get("resourceArn").is_some()
    }

    /// Reads ECS's hook payload; `resourceArn` must be a service deployment ARN.
    pub fn invocation(event: Value) -> Result<EcsInvocation> {
        let payload: Payload = crate::runtime::parse_event(event)?;
        if !is_service_deployment_arn(&payload.resource_arn) {
            return Err(Error::invalid(
                "resourceArn",
                format!(
                    "a service deployment ARN (arn:aws:ecs:...:service-deployment/...), got {:?}",
                    payload.resource_arn
                ),
            ));
        }
        let stage = match hook_event(&payload.lifecycle_stage) {
            Some(event) => EcsStage::Hook(event),
            None => EcsStage::PassThrough(payload.lifecycle_stage),
        };
        Ok(EcsInvocation {
            deployment_arn: payload.resource_arn,
            execution_id: payload.execution_id,
            stage,
            hook_details: payload.hook_details.filter(|d| !d.is_null()),
        })
    }
}

/// The hook's answer, the function's return value (lambda-lifecycle-hooks, "hookStatus values").
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EcsAnswer {
    pub hook_status: EcsHookStatus,
    /// Seconds until ECS invokes the hook again (only with `IN_PROGRESS`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call_back_delay: Option<u64>,
    /// Passed back to the next invocation, merged over the configured ones.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hook_details: Option<Value>,
}

/// `hookStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EcsHookStatus {
    /// The deployment goes on to the next stage.
    Succeeded,
    /// ECS rolls the deployment back.
    Failed,
    /// ECS invokes the hook again after `callBackDelay`.
    InProgress,
}

impl EcsAnswer {
    /// The answer as the function returns it: `{"hookStatus", "callBackDelay"?, "hookDetails"?}`.
    pub fn to_json(&self) -> Value {
        let mut answer = serde_json::Map::new();
        let status = match self.hook_status {
            EcsHookStatus::Succeeded => "SUCCEEDED",
            EcsHookStatus::Failed => "FAILED",
            EcsHookStatus::InProgress => "IN_PROGRESS",
        };
        answer.insert("hookStatus".into(), Value::from(status));
        if let Some(delay) = self.call_back_delay {
            answer.insert("callBackDelay".into(), Value::from(delay));
        }
        if let Some(details) = &self.hook_details {
            answer.insert("hookDetails".into(), details.clone());
        }
        Value::Object(answer)
    }

    /// Still working: ask again in `delay_seconds` (bounded, see [`MIN_CALLBACK_DELAY_SECONDS`]).
    pub fn in_progress(delay_seconds: u64, hook_details: Option<Value>) -> EcsAnswer {
        EcsAnswer {
            hook_status: EcsHookStatus::InProgress,
            call_back_delay: Some(delay_seconds.clamp(MIN_CALLBACK_DELAY_SECONDS, MAX_CALLBACK_DELAY_SECONDS)),
            hook_details,
        }
    }

    /// The hook's final answer.
    pub fn done(status: HookStatus, hook_details: Option<Value>) -> EcsAnswer {
        EcsAnswer {
            hook_status: match status {
                HookStatus::Succeeded => EcsHookStatus::Succeeded,
                HookStatus::Failed => EcsHookStatus::Failed,
            },
            call_back_delay: None,
            hook_details,
        }
    }
}

/// DescribeServiceDeployments / DescribeServiceRevisions answers for a demo ECS-native
/// deployment (unit tests here and in the functions).
#[cfg(any(test, feature = "test-util"))]
pub mod mocks {
    use aws_sdk_ecs::operation::describe_service_deployments::DescribeServiceDeploymentsOutput;
    use aws_sdk_ecs::operation::describe_service_revisions::DescribeServiceRevisionsOutput;
    pub use aws_sdk_ecs::types::ServiceDeploymentLifecycleStage as Stage;
    pub use aws_sdk_ecs::types::ServiceDeploymentStatus as EcsStatus;
    use aws_sdk_ecs::types::{
        AdvancedConfiguration, LoadBalancer, ResolvedConfiguration, ServiceDeployment, ServiceRevision,
        ServiceRevisionLoadBalancer, ServiceRevisionSummary,
    };
    use aws_smithy_mocks::{mock, Rule};

    pub const DEPLOYMENT: &str = "arn:aws:ecs:us-east-1:123456789012:service-deployment/demo/api/r4nd0mId";
    pub const SOURCE: &str = "arn:aws:ecs:us-east-1:123456789012:service-revision/demo/api/1111";
    pub const TARGET: &str = "arn:aws:ecs:us-east-1:123456789012:service-revision/demo/api/2222";
    // Named so that a name-based guess gets it wrong: this deployment's blue is `api-green`.
    pub const TG_API_GREEN: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/api-green/aaaa";
    pub const TG_API_BLUE: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/api-blue/bbbb";
    pub const PROD_RULE: &str =
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/demo-api/50dc/f2f7/9a9a";
    pub const TEST_RULE: &str =
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/demo-api/50dc/e3e3/8b8b";

    pub fn deployment(status: EcsStatus, stage: Option<Stage>) -> ServiceDeployment {
        ServiceDeployment::builder()
            .service_deployment_arn(DEPLOYMENT)
            .service_arn("arn:aws:ecs:us-east-1:123456789012:service/demo/api")
            .cluster_arn("arn:aws:ecs:us-east-1:123456789012:cluster/demo")
            .status(status)
            .set_lifecycle_stage(stage)
            .source_service_revisions(ServiceRevisionSummary::builder().arn(SOURCE).build())
            .target_service_revision(ServiceRevisionSummary::builder().arn(TARGET).build())
            .deployment_configuration(
                aws_sdk_ecs::types::DeploymentConfiguration::builder()
                    .strategy(aws_sdk_ecs::types::DeploymentStrategy::BlueGreen)
                    .bake_time_in_minutes(5)
                    .build(),
            )
            .build()
    }

    pub fn described(status: EcsStatus, stage: Option<Stage>) -> Rule {
        mock!(aws_sdk_ecs::Client::describe_service_deployments)
            .match_requests(|r| r.service_deployment_arns() == [DEPLOYMENT.to_string()])
            .then_output(move || {
                DescribeServiceDeploymentsOutput::builder()
                    .service_deployments(deployment(status.clone(), stage.clone()))
                    .build()
            })
    }

    /// The deployment at POST_TEST_TRAFFIC_SHIFT whose Lambda hook times out at `expires_at` (epoch seconds).
    pub fn described_with_hook_expiring(expires_at: i64) -> Rule {
        use aws_sdk_ecs::types::{DeploymentLifecycleHookDetail, DeploymentLifecycleHookStatus};
        mock!(aws_sdk_ecs::Client::describe_service_deployments).then_output(move || {
            let mut deployment = deployment(EcsStatus::InProgress, Some(Stage::PostTestTrafficShift));
            deployment.lifecycle_hook_details = Some(vec![DeploymentLifecycleHookDetail::builder()
                .status(DeploymentLifecycleHookStatus::InProgress)
                .expires_at(aws_sdk_ecs::primitives::DateTime::from_secs(expires_at))
                .build()]);
            DescribeServiceDeploymentsOutput::builder().service_deployments(deployment).build()
        })
    }

    /// A service revision as AWS describes it: `loadBalancers` is the service's configured load
    /// balancer, the same on every revision (configured `targetGroupArn` api-blue, alternate
    /// api-green, never swapped); `resolvedConfiguration.loadBalancers` names the group this
    /// revision's tasks serve, `serving`.
    pub fn revision(arn: &str, serving: &str) -> ServiceRevision {
        ServiceRevision::builder()
            .service_revision_arn(arn)
            .load_balancers(
                LoadBalancer::builder()
                    .target_group_arn(TG_API_BLUE)
                    .advanced_configuration(
                        AdvancedConfiguration::builder()
                            .alternate_target_group_arn(TG_API_GREEN)
                            .production_listener_rule(PROD_RULE)
                            .test_listener_rule(TEST_RULE)
                            .build(),
                    )
                    .build(),
            )
            .resolved_configuration(
                ResolvedConfiguration::builder()
                    .load_balancers(
                        ServiceRevisionLoadBalancer::builder()
                            .target_group_arn(serving)
                            .production_listener_rule(PROD_RULE)
                            .build(),
                    )
                    .build(),
            )
            .build()
    }

    /// This deployment's revisions: the source serves api-green (blue), the target api-blue (green).
    pub fn revisions() -> Rule {
        mock!(aws_sdk_ecs::Client::describe_service_revisions).then_output(|| {
            // Answered target first: the adapter matches by ARN, not by position.
            DescribeServiceRevisionsOutput::builder()
                .service_revisions(revision(TARGET, TG_API_BLUE))
                .service_revisions(revision(SOURCE, TG_API_GREEN))
                .build()
        })
    }

    /// DescribeServiceDeployments of a deployment with `edit` applied (a strategy, no source...).
    pub fn described_as(stage: Stage, edit: fn(&mut ServiceDeployment)) -> Rule {
        mock!(aws_sdk_ecs::Client::describe_service_deployments).then_output(move || {
            let mut deployment = deployment(EcsStatus::InProgress, Some(stage.clone()));
            edit(&mut deployment);
            DescribeServiceDeploymentsOutput::builder().service_deployments(deployment).build()
        })
    }

    /// The deployment CreateService starts: no source revision.
    pub fn creation(deployment: &mut ServiceDeployment) {
        deployment.source_service_revisions = None;
    }

    /// A deployment whose `deploymentConfiguration.strategy` is LINEAR.
    pub fn linear(deployment: &mut ServiceDeployment) {
        deployment.deployment_configuration = Some(
            aws_sdk_ecs::types::DeploymentConfiguration::builder()
                .strategy(aws_sdk_ecs::types::DeploymentStrategy::Linear)
                .build(),
        );
    }
}

#[cfg(test)]
mod tests;
