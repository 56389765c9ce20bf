//! The operator's rollback (the console form of the `rollback` function, and
//! `hookline rollback`): one implementation, so a rollback does the same
//! thing whether Step Functions or a terminal asked for it, and works even
//! when Step Functions itself is impaired.
//!
//! Order: stop the deployment's running executions (so none of them moves
//! traffic after we restore it), stop the deployment with CodeDeploy's
//! rollback (so it ends `Stopped`, as a console stop does, rather than
//! `Failed` by a hook report), restore production to blue 100% with no
//! cohort rules, and answer the stopped executions' hooks `Failed` (once the
//! deployment has ended that counts as already done). A deployment that has
//! already `Succeeded` (before the call, or in a race with the stop) is left
//! alone: green is production then, and blue's tasks are going away.

use aws_sdk_sfn::types::ExecutionStatus;
use tracing::{info, warn};

use crate::error::AwsResultExt;
use crate::execution::{DeploymentContext, ExecutionDocument};
use crate::lifecycle::{DeploymentStatus, HookStatus, Lifecycle, Reported, Stop};
use crate::plan::Plan;
use crate::traffic::RouterFactory;
use crate::{Error, Result};

/// What a rollback reaches: the deployment controller, the production routes, the
/// executions (Step Functions) and the plans (SSM). Borrowed: the `rollback` function
/// and the CLI each build theirs once.
#[derive(Clone, Copy)]
pub struct Reach<'a> {
    pub lifecycle: &'a dyn Lifecycle,
    pub routers: &'a dyn RouterFactory,
    pub sfn: &'a aws_sdk_sfn::Client,
    pub ssm: &'a aws_sdk_ssm::Client,
}

/// What a console rollback did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConsoleOutcome {
    /// Production is on blue 100%, cohort rules removed (false: the deployment had `Succeeded`).
    pub restored: bool,
    /// Executions this call stopped.
    pub stopped_executions: Vec<String>,
    /// Hooks of those executions reported `Failed` (now or earlier).
    pub reported: bool,
    /// At least one hook had already been answered.
    pub already_reported: bool,
    /// `Stopped` when this call stopped the deployment; its status when it had already ended.
    pub deployment_status: String,
}

/// Reports `Failed`. When the deployment has already ended nobody waits for the
/// hook any more, so an error then counts as done.
pub async fn report_failed(lifecycle: &dyn Lifecycle, deployment_id: &str, execution_id: &str) -> Result<Reported> {
    match lifecycle.report(deployment_id, execution_id, HookStatus::Failed).await {
        Ok(r) => Ok(r),
        Err(e @ (Error::Throttled { .. } | Error::AwsTransient { .. })) => Err(e),
        Err(e) => {
            let status = lifecycle.status(deployment_id).await?;
            if status.is_active() {
                Err(e)
            } else {
                info!(status = %status, error = %e, "deployment already ended; the hook needs no answer");
                Ok(Reported::Already)
            }
        }
    }
}

/// Rolls a deployment back as an operator asks: stops its running executions of
/// `state_machine_arns` (names `<deployment-id>-...`), restores traffic, reports
/// their hooks `Failed`, stops the deployment with rollback. Safe to repeat.
pub async fn console(
    reach: Reach<'_>,
    state_machine_arns: &[String],
    deployment_id: &str,
    reason: &str,
    plan_parameter_prefix: &str,
) -> Result<ConsoleOutcome> {
    let lifecycle = reach.lifecycle;
    // `<id>-`: an ECS service deployment's executions are named after its ARN's last segment.
    let prefix = crate::contract::execution_name_prefix(deployment_id);

    let mut stopped = Vec::new();
    let mut running_contexts = Vec::new();
    for sm in state_machine_arns {
        let list = reach
            .sfn
            .list_executions()
            .state_machine_arn(sm)
            .status_filter(ExecutionStatus::Running)
            .send()
            .await
            .aws("ListExecutions")?;
        for exec in list.executions().iter().filter(|e| e.name().starts_with(&prefix)) {
            let described = reach
                .sfn
                .describe_execution()
                .execution_arn(exec.execution_arn())
                .send()
                .await
                .aws("DescribeExecution")?;
            if let Some(doc) = described.input().and_then(|i| serde_json::from_str::<ExecutionDocument>(i).ok()) {
                running_contexts.push(doc.context);
            }
            match reach
                .sfn
                .stop_execution()
                .execution_arn(exec.execution_arn())
                .error(crate::contract::state::ROLLED_BACK)
                .cause(reason)
                .send()
                .await
            {
                Ok(_) => stopped.push(exec.execution_arn().to_string()),
                Err(e) if e.as_service_error().is_some_and(|s| s.is_execution_does_not_exist()) => {}
                Err(e) => return Err(Error::from_sdk("StopExecution", e)),
            }
        }
    }

    let ctx = match running_contexts.first() {
        Some(c) => c.clone(),
        None => {
            let mut ctx = lifecycle.resolve(deployment_id, None).await?.context;
            // A CodeDeploy deployment's route is its production listener unless the plan names a
            // rule; an ECS-native one is already the service's production listener rule (its plan
            // names none), which must not fall back to the listener's default action.
            if ctx.production.rule_arn().is_none() {
                let rule = production_rule(reach.ssm, &ctx, plan_parameter_prefix).await?;
                ctx.set_production_rule(rule);
            }
            ctx
        }
    };
    let status = lifecycle.status(deployment_id).await?;
    let stop = if status.is_active() { Some(lifecycle.stop_with_rollback(deployment_id).await) } else { None };
    let (deployment_status, stop_error) = match stop {
        Some(Ok(Stop::Stopping(message))) => {
            info!(stop = %message, "deployment stopped with rollback");
            (DeploymentStatus::Stopped, None)
        }
        // It ended on its own between our status read and the stop: go by how it ended.
        Some(Ok(Stop::AlreadyEnded)) => (lifecycle.status(deployment_id).await?, None),
        // Traffic and hooks are still put right when the stop was refused; the error is returned after.
        Some(Err(e)) => (status.clone(), Some(e)),
        None => (status.clone(), None),
    };
    let succeeded = deployment_status == DeploymentStatus::Succeeded;
    let mut out = ConsoleOutcome {
        stopped_executions: stopped,
        deployment_status: deployment_status.to_string(),
        ..ConsoleOutcome::default()
    };
    if succeeded {
        // Green is production now and blue's tasks are being terminated:
        // "restoring" blue would send every request to a dying task set.
        warn!("deployment already Succeeded; production stays where it is (deploy the previous revision to go back)");
        return Ok(out);
    }

    reach.routers.router(&ctx).restore().await?;
    out.restored = true;
    info!("production on blue 100%, cohort rules removed");
    for hook in running_contexts.iter().filter_map(|c| c.hook.as_ref()) {
        let reported = report_failed(lifecycle, deployment_id, &hook.execution_id).await?;
        out.reported = true;
        out.already_reported |= reported == Reported::Already;
    }
    match stop_error {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

/// The plan's production rule (`traffic.production_rule_arn`; `None`: the
/// production listener's default action), read from the plan parameter
/// `<prefix>/<application>/<group>` when no running execution carries the context.
///
/// Every failure is returned, never taken for "default action": restoring the
/// listener's default action for a service whose weights live on a rule would
/// leave that rule split and rewrite a default action that may be another
/// service's. A missing parameter is `InvalidInput` naming it: without the plan
/// nothing says where production lives, and a hook that found no plan reported
/// `Failed` before moving any traffic, so there is nothing hookline could restore.
pub async fn production_rule(
    ssm: &aws_sdk_ssm::Client,
    ctx: &DeploymentContext,
    prefix: &str,
) -> Result<Option<String>> {
    let name = crate::contract::plan_parameter(prefix, &ctx.application, &ctx.deployment_group);
    let out = match ssm.get_parameter().name(&name).send().await {
        Ok(out) => out,
        Err(e) if e.as_service_error().is_some_and(|s| s.is_parameter_not_found()) => {
            return Err(Error::invalid(
                "plan",
                format!(
                    "an SSM parameter {name} holding the deployment's plan (not found): without it hookline \
                     cannot tell whether production lives on the listener's default action or on a rule"
                ),
            ));
        }
        Err(e) => return Err(e).aws("GetParameter"),
    };
    let text = out
        .parameter()
        .and_then(|p| p.value())
        .ok_or_else(|| Error::invalid("plan", format!("SSM parameter {name} with a value")))?;
    Ok(Plan::production_rule_of(text)?)
}

#[cfg(test)]
mod tests {
    use aws_sdk_ssm::operation::get_parameter::{GetParameterError, GetParameterOutput};
    use aws_sdk_ssm::types::error::ParameterNotFound;
    use aws_sdk_ssm::types::Parameter;
    use aws_smithy_mocks::mock;

    use super::*;
    use crate::testing::{access_denied, context, mocked_clients, throttling_json};

    const PLAN_PARAMETER: &str = "/hookline/web/web-prod";
    const RULE: &str = concat!(
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:",
        "listener-rule/app/demo/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee"
    );

    fn plan_parameter(value: &'static str) -> aws_smithy_mocks::Rule {
        mock!(aws_sdk_ssm::Client::get_parameter).match_requests(|r| r.name() == Some(PLAN_PARAMETER)).then_output(
            move || {
                GetParameterOutput::builder()
                    .parameter(Parameter::builder().name(PLAN_PARAMETER).value(value).build())
                    .build()
            },
        )
    }

    #[tokio::test]
    async fn reads_the_production_rule_from_the_plan() {
        let with_rule = plan_parameter(concat!(
            r#"{"steps":[{"weight":100}],"traffic":{"production_rule_arn":"#,
            r#""arn:aws:elasticloadbalancing:us-east-1:123456789012:"#,
            r#"listener-rule/app/demo/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee"}}"#
        ));
        let clients = mocked_clients(&[&with_rule]);
        assert_eq!(production_rule(&clients.ssm, &context(), "/hookline/").await, Ok(Some(RULE.to_string())));

        let listener_mode = plan_parameter(r#"{"steps":[{"weight":100}]}"#);
        let clients = mocked_clients(&[&listener_mode]);
        assert_eq!(production_rule(&clients.ssm, &context(), "/hookline").await, Ok(None));
    }

    #[tokio::test]
    async fn a_stored_plan_that_fails_todays_validation_still_names_the_production_rule() {
        // A rule-mode plan ending at 50 was accepted before rule-mode plans had to end at
        // 100; a rollback must still find production on the rule rather than refuse to restore.
        let stale = plan_parameter(concat!(
            r#"{"steps":[{"weight":50}],"bake":"forever","traffic":{"production_rule_arn":"#,
            r#""arn:aws:elasticloadbalancing:us-east-1:123456789012:"#,
            r#"listener-rule/app/demo/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee"}}"#
        ));
        let clients = mocked_clients(&[&stale]);
        assert_eq!(production_rule(&clients.ssm, &context(), "/hookline").await, Ok(Some(RULE.to_string())));

        let not_a_plan = plan_parameter(r#"{"traffic": {"production_rule_arn": 7}}"#);
        let clients = mocked_clients(&[&not_a_plan]);
        let err = production_rule(&clients.ssm, &context(), "/hookline").await.unwrap_err();
        assert_eq!(err.error_type(), "InvalidInput", "{err}");
        assert!(err.to_string().contains("traffic.production_rule_arn"), "{err}");
    }

    #[tokio::test]
    async fn access_denied_is_returned_not_taken_for_the_default_action() {
        let denied =
            mock!(aws_sdk_ssm::Client::get_parameter).then_error(|| GetParameterError::generic(access_denied()));
        let clients = mocked_clients(&[&denied]);
        let err = production_rule(&clients.ssm, &context(), "/hookline").await.unwrap_err();
        assert_eq!((err.error_type(), err.aws_code()), ("AwsPermanent", Some("AccessDeniedException")), "{err}");
    }

    #[tokio::test(start_paused = true)]
    async fn throttling_is_returned_as_throttled_once_the_sdk_gives_up() {
        let throttled = mock!(aws_sdk_ssm::Client::get_parameter)
            .sequence()
            .http_status(400, Some(throttling_json()))
            .times(10)
            .build();
        let clients = mocked_clients(&[&throttled]);
        let err = production_rule(&clients.ssm, &context(), "/hookline").await.unwrap_err();
        assert_eq!(err.error_type(), "Throttled", "{err}");
    }

    #[tokio::test]
    async fn a_missing_plan_is_invalid_input_naming_the_parameter() {
        let missing = mock!(aws_sdk_ssm::Client::get_parameter)
            .then_error(|| GetParameterError::ParameterNotFound(ParameterNotFound::builder().build()));
        let clients = mocked_clients(&[&missing]);
        let err = production_rule(&clients.ssm, &context(), "/hookline").await.unwrap_err();
        assert_eq!(err.error_type(), "InvalidInput", "{err}");
        assert!(err.to_string().contains(PLAN_PARAMETER), "{err}");
    }

    /// CodeDeploy and ELB answers that resolve the demo deployment (in progress, no execution running).
    fn resolvable_deployment() -> Vec<aws_smithy_mocks::Rule> {
        use aws_sdk_codedeploy::operation::get_deployment_target::GetDeploymentTargetOutput;
        use aws_sdk_codedeploy::types::{DeploymentTarget, EcsTarget, EcsTaskSet, TargetGroupInfo, TargetLabel};
        use aws_sdk_elasticloadbalancingv2::operation::describe_target_groups::DescribeTargetGroupsOutput;
        use aws_sdk_elasticloadbalancingv2::types::TargetGroup;
        use aws_sdk_sfn::operation::list_executions::ListExecutionsOutput;

        use crate::testing::{deployment, BLUE_TG, GREEN_TG};

        let tg = |name: &str| TargetGroupInfo::builder().name(name).build();
        let task_set = move |label: TargetLabel, name: &str| {
            EcsTaskSet::builder().task_set_label(label).target_group(tg(name)).build()
        };
        let target = move || {
            GetDeploymentTargetOutput::builder()
                .deployment_target(
                    DeploymentTarget::builder()
                        .ecs_target(
                            EcsTarget::builder()
                                .task_sets_info(task_set(TargetLabel::Blue, "web-blue"))
                                .task_sets_info(task_set(TargetLabel::Green, "web-green"))
                                .build(),
                        )
                        .build(),
                )
                .build()
        };
        vec![
            mock!(aws_sdk_sfn::Client::list_executions)
                .then_output(|| ListExecutionsOutput::builder().set_executions(Some(vec![])).build().expect("list")),
            mock!(aws_sdk_codedeploy::Client::get_deployment).then_output(|| deployment("InProgress")),
            mock!(aws_sdk_codedeploy::Client::get_deployment_group).then_output(crate::testing::deployment_group),
            mock!(aws_sdk_codedeploy::Client::get_deployment_target).then_output(target),
            mock!(aws_sdk_elasticloadbalancingv2::Client::describe_target_groups).then_output(|| {
                DescribeTargetGroupsOutput::builder()
                    .target_groups(
                        TargetGroup::builder().target_group_name("web-blue").target_group_arn(BLUE_TG).build(),
                    )
                    .target_groups(
                        TargetGroup::builder().target_group_name("web-green").target_group_arn(GREEN_TG).build(),
                    )
                    .build()
            }),
        ]
    }

    #[tokio::test]
    async fn a_console_rollback_that_cannot_read_the_plan_stops_nothing_and_moves_no_traffic() {
        use aws_sdk_codedeploy::operation::stop_deployment::StopDeploymentOutput;
        use aws_sdk_elasticloadbalancingv2::operation::modify_listener::ModifyListenerOutput;

        let denied =
            mock!(aws_sdk_ssm::Client::get_parameter).then_error(|| GetParameterError::generic(access_denied()));
        let stop =
            mock!(aws_sdk_codedeploy::Client::stop_deployment).then_output(|| StopDeploymentOutput::builder().build());
        let modify = mock!(aws_sdk_elasticloadbalancingv2::Client::modify_listener)
            .then_output(|| ModifyListenerOutput::builder().build());
        let world = resolvable_deployment();
        let mut rules: Vec<&aws_smithy_mocks::Rule> = world.iter().collect();
        rules.extend([&denied, &stop, &modify]);
        let clients = mocked_clients(&rules);
        let machines = ["arn:aws:states:us-east-1:123456789012:stateMachine:hookline-canary".to_string()];

        let (lifecycle, routers) = (clients.lifecycle(), clients.routers());
        let reach = Reach { lifecycle: &lifecycle, routers: &routers, sfn: &clients.sfn, ssm: &clients.ssm };

        let err = console(reach, &machines, crate::testing::DEPLOYMENT, "bad release", "/hookline").await.unwrap_err();

        assert_eq!(err.aws_code(), Some("AccessDeniedException"), "{err}");
        assert_eq!(denied.num_calls(), 1);
        assert_eq!((stop.num_calls(), modify.num_calls()), (0, 0), "no stop, no listener rewrite");
    }

    #[tokio::test]
    async fn an_ecs_native_console_rollback_stops_its_execution_restores_the_rule_and_stops_with_rollback() {
        use aws_sdk_ecs::operation::stop_service_deployment::StopServiceDeploymentOutput;
        use aws_sdk_elasticloadbalancingv2::operation::describe_rules::DescribeRulesOutput;
        use aws_sdk_elasticloadbalancingv2::operation::describe_tags::DescribeTagsOutput;
        use aws_sdk_elasticloadbalancingv2::operation::modify_rule::{ModifyRuleInput, ModifyRuleOutput};
        use aws_sdk_elasticloadbalancingv2::types::{Rule as ListenerRule, TargetGroupTuple};
        use aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput;
        use aws_sdk_sfn::operation::list_executions::ListExecutionsOutput;
        use aws_sdk_sfn::operation::stop_execution::{StopExecutionInput, StopExecutionOutput};
        use aws_sdk_sfn::types::ExecutionListItem;

        use crate::lifecycle::ecs::mocks::{
            described, revisions, EcsStatus, Stage, DEPLOYMENT, PROD_RULE, TG_API_BLUE, TG_API_GREEN,
        };
        use crate::testing::{plan, state, Sent};

        const MACHINE: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:hookline-canary";
        const EXECUTION: &str =
            "arn:aws:states:us-east-1:123456789012:execution:hookline-canary:r4nd0mId-BeforeAllowTraffic";
        // The context `hook` resolved (blue = the source revision's group, named api-green here).
        let ctx = {
            let world = [described(EcsStatus::InProgress, Some(Stage::PostTestTrafficShift)), revisions()];
            let refs: Vec<&aws_smithy_mocks::Rule> = world.iter().collect();
            let clients = mocked_clients(&refs);
            clients.lifecycle().resolve(DEPLOYMENT, Some("e1")).await.expect("resolved").context
        };
        let input = serde_json::to_string(&ExecutionDocument { context: ctx, plan: plan(), state: state(10, 60) })
            .expect("document");
        let list = mock!(aws_sdk_sfn::Client::list_executions).then_output(|| {
            ListExecutionsOutput::builder()
                .executions(
                    ExecutionListItem::builder()
                        .execution_arn(EXECUTION)
                        .state_machine_arn(MACHINE)
                        .name("r4nd0mId-BeforeAllowTraffic")
                        .status(ExecutionStatus::Running)
                        .start_date(aws_sdk_sfn::primitives::DateTime::from_secs(0))
                        .build()
                        .expect("item"),
                )
                .build()
                .expect("list")
        });
        let describe = mock!(aws_sdk_sfn::Client::describe_execution).then_output(move || {
            DescribeExecutionOutput::builder()
                .execution_arn(EXECUTION)
                .state_machine_arn(MACHINE)
                .status(ExecutionStatus::Running)
                .start_date(aws_sdk_sfn::primitives::DateTime::from_secs(0))
                .input(input.clone())
                .build()
                .expect("output")
        });
        let stopped: Sent<StopExecutionInput> = Sent::default();
        let stop_execution =
            mock!(aws_sdk_sfn::Client::stop_execution).match_requests(stopped.recorder()).then_output(|| {
                StopExecutionOutput::builder()
                    .stop_date(aws_sdk_sfn::primitives::DateTime::from_secs(1))
                    .build()
                    .expect("stop")
            });
        let status = described(EcsStatus::InProgress, Some(Stage::PostTestTrafficShift));
        let stop = mock!(aws_sdk_ecs::Client::stop_service_deployment)
            .match_requests(|r| r.service_deployment_arn() == Some(DEPLOYMENT))
            .then_output(|| StopServiceDeploymentOutput::builder().service_deployment_arn(DEPLOYMENT).build());
        let split = ListenerRule::builder()
            .rule_arn(PROD_RULE)
            .priority("1")
            .actions(
                aws_sdk_elasticloadbalancingv2::types::Action::builder()
                    .r#type(aws_sdk_elasticloadbalancingv2::types::ActionTypeEnum::Forward)
                    .forward_config(
                        aws_sdk_elasticloadbalancingv2::types::ForwardActionConfig::builder()
                            .target_groups(
                                TargetGroupTuple::builder().target_group_arn(TG_API_GREEN).weight(90).build(),
                            )
                            .target_groups(TargetGroupTuple::builder().target_group_arn(TG_API_BLUE).weight(10).build())
                            .build(),
                    )
                    .build(),
            )
            .build();
        let rules = mock!(aws_sdk_elasticloadbalancingv2::Client::describe_rules)
            .then_output(move || DescribeRulesOutput::builder().rules(split.clone()).build());
        let tags = mock!(aws_sdk_elasticloadbalancingv2::Client::describe_tags)
            .then_output(|| DescribeTagsOutput::builder().build());
        let modified: Sent<ModifyRuleInput> = Sent::default();
        let modify = mock!(aws_sdk_elasticloadbalancingv2::Client::modify_rule)
            .match_requests(modified.recorder())
            .then_output(|| ModifyRuleOutput::builder().build());
        let clients = mocked_clients(&[&list, &describe, &stop_execution, &status, &stop, &rules, &tags, &modify]);
        let (lifecycle, routers) = (clients.lifecycle(), clients.routers());
        let reach = Reach { lifecycle: &lifecycle, routers: &routers, sfn: &clients.sfn, ssm: &clients.ssm };

        let done = console(reach, &[MACHINE.to_string()], DEPLOYMENT, "operator", "/hookline").await.expect("rollback");

        assert_eq!(done.stopped_executions, vec![EXECUTION.to_string()], "found by the ARN's id, not the ARN");
        assert!(done.restored && done.reported);
        assert_eq!(stop.num_calls(), 1, "StopServiceDeployment(ROLLBACK)");
        let request = modified.only();
        assert_eq!(request.rule_arn(), Some(PROD_RULE), "the ECS production rule, not a listener default action");
        let weights: Vec<(String, i32)> = request.actions()[0]
            .forward_config()
            .expect("forward")
            .target_groups()
            .iter()
            .map(|t| (t.target_group_arn().unwrap_or_default().to_string(), t.weight().unwrap_or(-1)))
            .collect();
        assert_eq!(weights, vec![(TG_API_GREEN.to_string(), 100), (TG_API_BLUE.to_string(), 0)]);
    }

    #[tokio::test]
    async fn an_ecs_native_console_rollback_without_an_execution_restores_the_services_rule_not_the_plans_route() {
        use aws_sdk_ecs::operation::stop_service_deployment::StopServiceDeploymentOutput;
        use aws_sdk_elasticloadbalancingv2::operation::describe_rules::DescribeRulesOutput;
        use aws_sdk_elasticloadbalancingv2::operation::describe_tags::DescribeTagsOutput;
        use aws_sdk_elasticloadbalancingv2::operation::modify_rule::{ModifyRuleInput, ModifyRuleOutput};
        use aws_sdk_elasticloadbalancingv2::types::Rule as ListenerRule;
        use aws_sdk_sfn::operation::list_executions::ListExecutionsOutput;

        use crate::lifecycle::ecs::mocks::{described, revisions, EcsStatus, Stage, DEPLOYMENT, PROD_RULE};
        use crate::testing::{forward, Sent};

        let none = mock!(aws_sdk_sfn::Client::list_executions)
            .then_output(|| ListExecutionsOutput::builder().set_executions(Some(vec![])).build().expect("list"));
        let status = described(EcsStatus::InProgress, Some(Stage::PostTestTrafficShift));
        let revisions = revisions();
        let stop = mock!(aws_sdk_ecs::Client::stop_service_deployment)
            .then_output(|| StopServiceDeploymentOutput::builder().service_deployment_arn(DEPLOYMENT).build());
        // A forward to other groups: the router rewrites the rule to the deployment's pair, blue 100.
        let rules = mock!(aws_sdk_elasticloadbalancingv2::Client::describe_rules).then_output(|| {
            DescribeRulesOutput::builder()
                .rules(ListenerRule::builder().rule_arn(PROD_RULE).priority("1").actions(forward(100, 0)).build())
                .build()
        });
        let tags = mock!(aws_sdk_elasticloadbalancingv2::Client::describe_tags)
            .then_output(|| DescribeTagsOutput::builder().build());
        let modified: Sent<ModifyRuleInput> = Sent::default();
        let modify = mock!(aws_sdk_elasticloadbalancingv2::Client::modify_rule)
            .match_requests(modified.recorder())
            .then_output(|| ModifyRuleOutput::builder().build());
        // No SSM rule: reading the plan (whose route would be the listener's default action) panics.
        let clients = mocked_clients(&[&none, &status, &revisions, &stop, &rules, &tags, &modify]);
        let (lifecycle, routers) = (clients.lifecycle(), clients.routers());
        let reach = Reach { lifecycle: &lifecycle, routers: &routers, sfn: &clients.sfn, ssm: &clients.ssm };
        let machines = ["arn:aws:states:us-east-1:123456789012:stateMachine:hookline-canary".to_string()];

        let done = console(reach, &machines, DEPLOYMENT, "operator", "/hookline").await.expect("rollback");

        assert!(done.restored && done.stopped_executions.is_empty());
        assert_eq!(stop.num_calls(), 1);
        assert_eq!(modified.only().rule_arn(), Some(PROD_RULE), "the ECS production rule, rewritten to blue 100");
    }

    #[tokio::test]
    async fn a_plan_whose_route_cannot_be_read_is_invalid_input() {
        // Only the route matters to a rollback (see the test above); a route that is not
        // even an object cannot be taken for "the default action".
        let broken = plan_parameter(r#"{"steps":[],"traffic":"rule-1"}"#);
        let clients = mocked_clients(&[&broken]);
        let err = production_rule(&clients.ssm, &context(), "/hookline").await.unwrap_err();
        assert_eq!(err.error_type(), "InvalidInput", "{err}");
    }
}
