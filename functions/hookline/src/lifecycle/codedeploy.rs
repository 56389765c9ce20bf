//! [`Lifecycle`] for CodeDeploy ECS blue/green deployments: the one place that
//! knows CodeDeploy's status words and lifecycle event names, and maps them onto
//! hookline's [`DeploymentStatus`], [`EventStatus`], [`HookStatus`] and [`HookEvent`].

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_codedeploy::types::{
    DeploymentCreator, DeploymentInfo, DeploymentStatus as CodeDeployStatus, LifecycleEventStatus, TargetLabel,
};

use aws_lambda_events::codedeploy::CodeDeployLifecycleEvent;

use super::deployment::{
    Admission, Controller, DeploymentStatus, DeploymentSummary, EventStatus, HookStatus, Invocation, Reported,
    Resolved, Stop, DEPLOYMENT_NOT_FOUND,
};
use crate::error::AwsResultExt;
use crate::execution::{DeploymentContext, HookEvent, HookRef, Route, Side};
use crate::ports::Lifecycle;
use crate::{Error, Result};

/// CodeDeploy, plus ELBv2 to turn the deployment group's target group names into ARNs.
#[derive(Clone, Debug)]
pub struct CodeDeploy {
    pub codedeploy: aws_sdk_codedeploy::Client,
    pub elbv2: aws_sdk_elasticloadbalancingv2::Client,
}

fn missing(what: &str) -> Error {
    Error::AwsPermanent {
        operation: "ResolveDeployment",
        code: Some("IncompleteDeployment".into()),
        message: format!("deployment has no {what}"),
    }
}

#[async_trait]
impl Lifecycle for CodeDeploy {
    /// One GetDeployment ([`CodeDeploy::summary`]). An id CodeDeploy does not know, or one that is
    /// not an id, is an error saying so (code [`DEPLOYMENT_NOT_FOUND`]) in the operator's words.
    async fn describe(&self, deployment_id: &str) -> Result<DeploymentSummary> {
        let out = match self.codedeploy.get_deployment().deployment_id(deployment_id).send().await {
            Ok(out) => out,
            Err(e) => {
                let message = match e.as_service_error() {
                    Some(s) if s.is_deployment_does_not_exist_exception() => format!(
                        "deployment {deployment_id} not found in CodeDeploy (expected an id like d-ABCDEF123 of this \
                         account and region)"
                    ),
                    Some(s) if s.is_invalid_deployment_id_exception() => {
                        format!("{deployment_id:?} is not a CodeDeploy deployment id (expected d- and 9 characters)")
                    }
                    _ => return Err(Error::from_sdk("GetDeployment", e)),
                };
                return Err(Error::AwsPermanent {
                    operation: "GetDeployment",
                    code: Some(DEPLOYMENT_NOT_FOUND.into()),
                    message,
                });
            }
        };
        let info = out.deployment_info().ok_or_else(|| missing("deploymentInfo"))?;
        Ok(CodeDeploy::summary(deployment_id, info))
    }

    async fn resolve(&self, deployment_id: &str, execution_id: Option<&str>) -> Result<Resolved> {
        let deployment =
            self.codedeploy.get_deployment().deployment_id(deployment_id).send().await.aws("GetDeployment")?;
        let info = deployment.deployment_info().ok_or_else(|| missing("deploymentInfo"))?;
        let application = info.application_name().ok_or_else(|| missing("applicationName"))?.to_string();
        let group_name = info.deployment_group_name().ok_or_else(|| missing("deploymentGroupName"))?.to_string();

        let group = self
            .codedeploy
            .get_deployment_group()
            .application_name(&application)
            .deployment_group_name(&group_name)
            .send()
            .await
            .aws("GetDeploymentGroup")?;
        let group = group.deployment_group_info().ok_or_else(|| missing("deploymentGroupInfo"))?;
        let pair = group
            .load_balancer_info()
            .and_then(|lb| lb.target_group_pair_info_list().first())
            .ok_or_else(|| missing("target group pair (loadBalancerInfo.targetGroupPairInfoList)"))?;
        let prod_listener_arn = pair
            .prod_traffic_route()
            .and_then(|r| r.listener_arns().first())
            .ok_or_else(|| missing("production listener"))?
            .clone();
        let test_listener_arn = pair.test_traffic_route().and_then(|r| r.listener_arns().first()).cloned();
        let tg_names: Vec<String> = pair.target_groups().iter().filter_map(|t| t.name().map(str::to_string)).collect();
        if tg_names.len() != 2 {
            return Err(missing("pair of target groups"));
        }
        let service = group.ecs_services().first().ok_or_else(|| missing("ECS service"))?;
        let cluster = service.cluster_name().ok_or_else(|| missing("ECS cluster"))?.to_string();
        let service = service.service_name().ok_or_else(|| missing("ECS service name"))?.to_string();

        let target = self.deployment_target(deployment_id, &cluster, &service).await?;
        let ecs = target.deployment_target().and_then(|t| t.ecs_target()).ok_or_else(|| missing("ECS target"))?;
        let InProgress { event: in_progress_event, started_at: in_progress_started_at } = in_progress_of(ecs);
        let mut labelled: HashMap<&str, (String, Option<String>)> = HashMap::new();
        for ts in ecs.task_sets_info() {
            let label = match ts.task_set_label() {
                Some(TargetLabel::Blue) => "blue",
                Some(TargetLabel::Green) => "green",
                _ => continue,
            };
            if let Some(tg) = ts.target_group().and_then(|t| t.name()) {
                labelled.insert(label, (tg.to_string(), ts.identifer().map(str::to_string)));
            }
        }
        // Without task set labels (green already gone), the pair still tells
        // the groups apart: blue is the one we know, green the other.
        let (blue_tg, blue_ts) = match labelled.get("blue") {
            Some(b) => b.clone(),
            None => match labelled.get("green") {
                Some((g, _)) => (other_of(&tg_names, g), None),
                None => return Err(missing("blue task set")),
            },
        };
        let (green_tg, green_ts) =
            labelled.get("green").cloned().unwrap_or_else(|| (other_of(&tg_names, &blue_tg), None));

        let arns = self.target_group_arns(&[blue_tg.clone(), green_tg.clone()]).await?;
        let arn_of = |name: &str| arns.get(name).cloned().ok_or_else(|| missing(&format!("target group {name}")));
        let in_progress_hook = in_progress_event.as_deref().and_then(hook_event);
        let hook = hook_ref(execution_id, in_progress_hook);
        Ok(Resolved {
            context: DeploymentContext {
                deployment_id: deployment_id.to_string(),
                application,
                deployment_group: group_name,
                hook,
                cluster,
                service,
                // The deployment group names the listener; a rule, if the weights live on one,
                // comes from the plan (`traffic.production_rule_arn`).
                production: Route::AlbListener { listener_arn: prod_listener_arn },
                test_listener_arn,
                blue: Side {
                    target_group_arn: arn_of(&blue_tg)?,
                    target_group_name: blue_tg,
                    task_set_arn: blue_ts,
                    service: None,
                },
                green: Side {
                    target_group_arn: arn_of(&green_tg)?,
                    target_group_name: green_tg,
                    task_set_arn: green_ts,
                    service: None,
                },
                cohort_rules_removed: false,
            },
            in_progress_event,
            in_progress_hook,
            in_progress_started_at,
            // The hour counts from `in_progress_started_at`; CodeDeploy has no per-hook timeout.
            hook_expires_at: None,
        })
    }

    /// One call (GetDeploymentTarget) instead of four: within one deployment, the deployment group,
    /// its listener and target group pair, the ECS service, the target groups' ARNs and which task
    /// set is blue or green do not change (CodeDeploy labels the original task set BLUE and the
    /// replacement GREEN for the whole deployment: API reference, ECSTaskSet `taskSetLabel`), so
    /// the context the BeforeAllowTraffic hook resolved answers the AfterAllowTraffic one too.
    async fn resolve_known(&self, known: &DeploymentContext, execution_id: Option<&str>) -> Result<Resolved> {
        let target = self.deployment_target(&known.deployment_id, &known.cluster, &known.service).await?;
        let ecs = target.deployment_target().and_then(|t| t.ecs_target()).ok_or_else(|| missing("ECS target"))?;
        let InProgress { event: in_progress_event, started_at: in_progress_started_at } = in_progress_of(ecs);
        let in_progress_hook = in_progress_event.as_deref().and_then(hook_event);
        let mut context = known.clone();
        context.hook = hook_ref(execution_id, in_progress_hook);
        Ok(Resolved { context, in_progress_event, in_progress_hook, in_progress_started_at, hook_expires_at: None })
    }

    async fn status(&self, deployment_id: &str) -> Result<DeploymentStatus> {
        let out = self.codedeploy.get_deployment().deployment_id(deployment_id).send().await.aws("GetDeployment")?;
        let status = out.deployment_info().and_then(|i| i.status()).ok_or_else(|| missing("status"))?;
        Ok(deployment_status(status))
    }

    async fn report(&self, deployment_id: &str, execution_id: &str, status: HookStatus) -> Result<Reported> {
        let sent = self
            .codedeploy
            .put_lifecycle_event_hook_execution_status()
            .deployment_id(deployment_id)
            .lifecycle_event_hook_execution_id(execution_id)
            .status(match status {
                HookStatus::Succeeded => LifecycleEventStatus::Succeeded,
                HookStatus::Failed => LifecycleEventStatus::Failed,
            })
            .send()
            .await;
        match sent {
            Ok(_) => Ok(Reported::Now),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_lifecycle_event_already_completed_exception()) => {
                Ok(Reported::Already)
            }
            Err(e) => Err(Error::from_sdk("PutLifecycleEventHookExecutionStatus", e)),
        }
    }

    async fn event_status(&self, ctx: &DeploymentContext, event: HookEvent) -> Result<Option<EventStatus>> {
        let target = self.deployment_target(&ctx.deployment_id, &ctx.cluster, &ctx.service).await?;
        Ok(target
            .deployment_target()
            .and_then(|t| t.ecs_target())
            .and_then(|t| t.lifecycle_events().iter().find(|e| e.lifecycle_event_name() == Some(event_name(event))))
            .and_then(|e| e.status())
            .map(event_status))
    }

    async fn stop_with_rollback(&self, deployment_id: &str) -> Result<Stop> {
        let sent =
            self.codedeploy.stop_deployment().deployment_id(deployment_id).auto_rollback_enabled(true).send().await;
        let out = match sent {
            Ok(out) => out,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_deployment_already_completed_exception()) => {
                return Ok(Stop::AlreadyEnded);
            }
            Err(e) => return Err(Error::from_sdk("StopDeployment", e)),
        };
        Ok(Stop::Stopping(format!(
            "{}{}",
            out.status().map(|s| s.as_str()).unwrap_or("Pending"),
            out.status_message().map(|m| format!(": {m}")).unwrap_or_default()
        )))
    }

    /// [`Admission::Rollback`] for a deployment CodeDeploy created to roll another back, else
    /// [`Admission::Serve`] (one GetDeployment, the call `resolve` and `status` make: no further
    /// IAM grant). See [`admission_of`].
    async fn admission(&self, deployment_id: &str) -> Result<Admission> {
        let out = self.codedeploy.get_deployment().deployment_id(deployment_id).send().await.aws("GetDeployment")?;
        let info = out.deployment_info().ok_or_else(|| missing("deploymentInfo"))?;
        Ok(admission_of(info))
    }
}

/// Whether `info` is a deployment CodeDeploy created to roll another back.
///
/// "CodeDeploy rolls back deployments by redeploying a previously deployed revision of an
/// application as a new deployment. These rolled-back deployments are technically new deployments,
/// with new deployment IDs, rather than restored versions of a previous deployment." (CodeDeploy
/// user guide, Redeploy and roll back a deployment with CodeDeploy). Such a deployment says so in
/// two places (CodeDeploy API reference): `DeploymentInfo.creator` "`codeDeployRollback`: A
/// rollback process created the deployment." and `RollbackInfo.rollbackTriggeringDeploymentId`
/// "The deployment ID of the deployment that was underway and triggered a rollback deployment
/// because it failed or was stopped." Either one is enough. `CloudFormationRollback` is in the same
/// enum (botocore's model lists it without describing it); by its name a rollback created it, and
/// it is passed through the same way: failing a rollback is worse than not watching it (below).
///
/// AWS does not document whether a rollback deployment invokes the AppSpec's BeforeAllowTraffic /
/// AfterAllowTraffic hooks (the sandbox's switch `rollback_runs_hooks`, row CD-ROLLBACK-HOOKS). If
/// it does, hookline must not take them for a new canary: the rollback's replacement is the revision
/// production ran before, the deployment's "green" side is the one that just failed, and CodeDeploy
/// reroutes production itself.
pub(crate) fn admission_of(info: &DeploymentInfo) -> Admission {
    let triggered_by = info.rollback_info().and_then(|r| r.rollback_triggering_deployment_id());
    let by_rollback = matches!(
        info.creator(),
        Some(DeploymentCreator::CodeDeployRollback | DeploymentCreator::CloudFormationRollback)
    );
    if by_rollback || triggered_by.is_some() {
        Admission::Rollback { of: triggered_by.map(str::to_string) }
    } else {
        Admission::Serve
    }
}

impl CodeDeploy {
    /// A deployment as readers show it, from CodeDeploy's `DeploymentInfo` (GetDeployment, or one of
    /// BatchGetDeployments' answers, which `history` lists): the one mapping of CodeDeploy's status,
    /// its own word kept in `status_word` and its `errorInformation` as `code: message`. CodeDeploy
    /// rolls back by a new deployment ("These rolled-back deployments are technically new deployments,
    /// with new deployment IDs", see [`admission_of`]): the deployment rolled back has ended
    /// (Failed or Stopped), so none is ever `rolling_back`.
    pub fn summary(deployment_id: &str, info: &DeploymentInfo) -> DeploymentSummary {
        let status = info.status().map_or(DeploymentStatus::Unrecognized("unknown".into()), deployment_status);
        DeploymentSummary {
            deployment_id: info.deployment_id().unwrap_or(deployment_id).to_string(),
            controller: Controller::CodeDeploy,
            status,
            rolling_back: false,
            status_word: info.status().map_or("unknown", |s| s.as_str()).to_string(),
            application: info.application_name().unwrap_or_default().to_string(),
            group: info.deployment_group_name().unwrap_or_default().to_string(),
            created_at: info.create_time().map(|t| t.secs()),
            ended_at: info.complete_time().map(|t| t.secs()),
            message: info
                .error_information()
                .map(|e| format!("{}: {}", e.code().map_or("error", |c| c.as_str()), e.message().unwrap_or_default())),
        }
    }

    /// Reads CodeDeploy's hook payload `{"DeploymentId", "LifecycleEventHookExecutionId"}`;
    /// both must be non-empty.
    pub fn invocation(event: serde_json::Value) -> Result<Invocation> {
        let event: CodeDeployLifecycleEvent = crate::runtime::parse_event(event)?;
        if event.deployment_id.is_empty() {
            return Err(Error::invalid("DeploymentId", "a non-empty string"));
        }
        if event.lifecycle_event_hook_execution_id.is_empty() {
            return Err(Error::invalid("LifecycleEventHookExecutionId", "a non-empty string"));
        }
        Ok(Invocation { deployment_id: event.deployment_id, execution_id: event.lifecycle_event_hook_execution_id })
    }

    async fn deployment_target(
        &self,
        deployment_id: &str,
        cluster: &str,
        service: &str,
    ) -> Result<aws_sdk_codedeploy::operation::get_deployment_target::GetDeploymentTargetOutput> {
        self.codedeploy
            .get_deployment_target()
            .deployment_id(deployment_id)
            .target_id(format!("{cluster}:{service}"))
            .send()
            .await
            .aws("GetDeploymentTarget")
    }

    async fn target_group_arns(&self, names: &[String]) -> Result<HashMap<String, String>> {
        let out = self
            .elbv2
            .describe_target_groups()
            .set_names(Some(names.to_vec()))
            .send()
            .await
            .aws("DescribeTargetGroups")?;
        Ok(out
            .target_groups()
            .iter()
            .filter_map(|tg| Some((tg.target_group_name()?.to_string(), tg.target_group_arn()?.to_string())))
            .collect())
    }
}

/// CodeDeploy's deployment status as hookline acts on it.
fn deployment_status(status: &CodeDeployStatus) -> DeploymentStatus {
    match status {
        CodeDeployStatus::Created
        | CodeDeployStatus::Queued
        | CodeDeployStatus::InProgress
        | CodeDeployStatus::Ready
        | CodeDeployStatus::Baking => DeploymentStatus::Active,
        CodeDeployStatus::Succeeded => DeploymentStatus::Succeeded,
        CodeDeployStatus::Failed => DeploymentStatus::Failed,
        CodeDeployStatus::Stopped => DeploymentStatus::Stopped,
        other => DeploymentStatus::Unrecognized(other.as_str().to_string()),
    }
}

/// A lifecycle event's status as hookline acts on it.
fn event_status(status: &LifecycleEventStatus) -> EventStatus {
    match status {
        LifecycleEventStatus::Pending => EventStatus::Pending,
        LifecycleEventStatus::InProgress => EventStatus::InProgress,
        LifecycleEventStatus::Succeeded => EventStatus::Succeeded,
        LifecycleEventStatus::Failed => EventStatus::Failed,
        LifecycleEventStatus::Skipped => EventStatus::Skipped,
        other => EventStatus::Unrecognized(other.as_str().to_string()),
    }
}

/// CodeDeploy's name of the lifecycle event whose hook an execution answers (what operators see).
pub fn event_name(event: HookEvent) -> &'static str {
    match event {
        HookEvent::PreTraffic => "BeforeAllowTraffic",
        HookEvent::PostTraffic => "AfterAllowTraffic",
    }
}

/// The hook event of CodeDeploy's lifecycle event `name`, when hookline answers it.
fn hook_event(name: &str) -> Option<HookEvent> {
    [HookEvent::PreTraffic, HookEvent::PostTraffic].into_iter().find(|e| event_name(*e) == name)
}

/// The lifecycle event in progress on an ECS target, and when CodeDeploy started it.
struct InProgress {
    event: Option<String>,
    started_at: Option<i64>,
}

fn in_progress_of(ecs: &aws_sdk_codedeploy::types::EcsTarget) -> InProgress {
    let in_progress = ecs.lifecycle_events().iter().find(|e| e.status() == Some(&LifecycleEventStatus::InProgress));
    InProgress {
        event: in_progress.and_then(|e| e.lifecycle_event_name()).map(str::to_string),
        // `lifecycleEvents[].startTime`: when CodeDeploy started the event, i.e. when its
        // one-hour hook timeout began (CodeDeploy API reference, LifecycleEvent).
        started_at: in_progress.and_then(|e| e.start_time()).map(|t| t.secs()),
    }
}

/// The hook `execution_id` answers, when hookline serves the event in progress.
fn hook_ref(execution_id: Option<&str>, in_progress_hook: Option<HookEvent>) -> Option<HookRef> {
    match (execution_id, in_progress_hook) {
        (Some(id), Some(event)) => Some(HookRef { kind: Controller::CodeDeploy, event, execution_id: id.to_string() }),
        _ => None,
    }
}

fn other_of(pair: &[String], one: &str) -> String {
    pair.iter().find(|n| n.as_str() != one).cloned().unwrap_or_default()
}
