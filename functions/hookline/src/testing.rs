//! Test material (feature `test-util`): in-memory fakes of every port ([`fakes`], re-exported
//! here) for handler and flow tests, one hook's start's world over them ([`HookWorld`]), and
//! mocked AWS clients for the adapters' wire-level tests.
//!
//! Every client gets every rule: a rule only matches requests of its own
//! operation, so one list describes a whole scenario. An unmatched call panics.

use crate::plan::Controller;
use std::sync::{Arc, Mutex};

use aws_smithy_mocks::{mock_client, Rule, RuleMode};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::error::ErrorMetadata;

use crate::clients::LazyClient;
use crate::Clients;

pub mod fakes;
pub mod hook_world;
pub use fakes::{
    denied, throttled, ExecutionsCall, FakeDiscovery, FakeExecutions, FakeHealth, FakeLifecycle, FakeMetrics,
    FakePlanStore, FakeRouter, FakeRouters, FakeServices, HealthCall, Journal, RouterCall, ServicesCall, TaskAnswer,
};
pub use hook_world::HookWorld;

/// Clients whose calls are answered by `rules`, with the SDK's standard retries on.
pub fn mocked_clients(rules: &[&Rule]) -> Clients {
    let rules = rules.to_vec();
    Clients {
        codedeploy: LazyClient::built(mock_client!(aws_sdk_codedeploy, RuleMode::MatchAny, rules.clone())),
        ecs: LazyClient::built(mock_client!(aws_sdk_ecs, RuleMode::MatchAny, rules.clone())),
        elbv2: LazyClient::built(mock_client!(aws_sdk_elasticloadbalancingv2, RuleMode::MatchAny, rules.clone())),
        sfn: LazyClient::built(mock_client!(aws_sdk_sfn, RuleMode::MatchAny, rules.clone())),
        cloudwatch: LazyClient::built(mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, rules.clone())),
        ssm: LazyClient::built(mock_client!(aws_sdk_ssm, RuleMode::MatchAny, rules.clone())),
        route53: LazyClient::built(mock_client!(aws_sdk_route53, RuleMode::MatchAny, rules)),
        http: Default::default(),
    }
}

/// Clients on a real (never used) configuration, none built yet: for checking which ones a
/// function's dependencies build at init.
pub fn unbuilt_clients() -> Clients {
    let config = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .build();
    Clients::from_config(&config)
}

/// An HTTP error body the SDKs classify as throttling, for `.sequence().http_status(400, Some(..))`.
pub fn throttling_json() -> String {
    r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#.to_string()
}

/// The CloudWatch throttling response: aws-sdk-cloudwatch 1.140 speaks Smithy
/// RPCv2 CBOR, so the body is the CBOR map `{"__type": "ThrottlingException"}`
/// (not valid UTF-8, hence a whole response for `.sequence().http_response(..)`).
pub fn throttling_cbor() -> HttpResponse {
    let mut body = vec![0xa1, 0x66];
    body.extend_from_slice(b"__type");
    body.push(0x73);
    body.extend_from_slice(b"ThrottlingException");
    let mut response = HttpResponse::new(StatusCode::try_from(400).expect("status"), SdkBody::from(body));
    response.headers_mut().insert("smithy-protocol", "rpc-v2-cbor");
    response
}

/// A permanent error's metadata, for `XError::generic(..)` in `.then_error(..)`.
pub fn access_denied() -> ErrorMetadata {
    ErrorMetadata::builder().code("AccessDeniedException").message("not authorized").build()
}

/// Records every request a rule answers, for assertions once the handler returned:
/// `mock!(..).match_requests(sent.recorder())`.
#[derive(Debug)]
pub struct Sent<T>(Arc<Mutex<Vec<T>>>);

impl<T> Default for Sent<T> {
    fn default() -> Self {
        Sent(Arc::new(Mutex::new(Vec::new())))
    }
}

impl<T: Clone + Send + 'static> Sent<T> {
    /// A `match_requests` filter that matches every request and records it.
    pub fn recorder(&self) -> impl Fn(&T) -> bool + Send + Sync + 'static {
        let sent = Arc::clone(&self.0);
        move |req: &T| {
            sent.lock().expect("sent").push(req.clone());
            true
        }
    }

    /// Every request recorded, in order.
    pub fn all(&self) -> Vec<T> {
        self.0.lock().expect("sent").clone()
    }

    /// The one request recorded; panics unless there was exactly one.
    pub fn only(&self) -> T {
        let all = self.all();
        assert_eq!(all.len(), 1, "expected exactly one request");
        all.into_iter().next().expect("one request")
    }
}

/// The query-protocol (ELBv2) throttling body.
pub fn throttling_xml() -> String {
    "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>r</RequestId></ErrorResponse>".to_string()
}

use aws_sdk_codedeploy::types::{DeploymentInfo, DeploymentStatus};
use aws_sdk_elasticloadbalancingv2::types::{Action, ActionTypeEnum, ForwardActionConfig, Listener, TargetGroupTuple};

use crate::execution::{DeploymentContext, HookEvent, HookRef, RolloutState, Route, Side};
use crate::plan::Plan;

pub const LISTENER: &str =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/demo/50dc6c495c0c9188/f2f7dc8efc522ab2";
pub const BLUE_TG: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-blue/6d0ecf831eec9f09";
pub const GREEN_TG: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-green/1e2f3a4b5c6d7e8f";
pub const DEPLOYMENT: &str = "d-TESTDEP01";
pub const HOOK_EXECUTION: &str = "eyJvcGFxdWUiOiJ0b2tlbiJ9";

/// The demo deployment's context, answering BeforeAllowTraffic.
pub fn context() -> DeploymentContext {
    DeploymentContext {
        deployment_id: DEPLOYMENT.into(),
        application: "web".into(),
        deployment_group: "web-prod".into(),
        hook: Some(HookRef {
            kind: Controller::CodeDeploy,
            event: HookEvent::PreTraffic,
            execution_id: HOOK_EXECUTION.into(),
        }),
        cluster: "demo".into(),
        service: "web".into(),
        production: Route::AlbListener { listener_arn: LISTENER.into() },
        test_listener_arn: None,
        blue: Side {
            target_group_arn: BLUE_TG.into(),
            target_group_name: "web-blue".into(),
            task_set_arn: Some("ts-blue".into()),
            service: None,
        },
        green: Side {
            target_group_arn: GREEN_TG.into(),
            target_group_name: "web-green".into(),
            task_set_arn: Some("ts-green".into()),
            service: None,
        },
        cohort_rules_removed: false,
    }
}

/// A small valid plan.
pub fn plan() -> Plan {
    Plan::from_json(
        r#"{"steps":[{"weight":10,"bake":"1m"},{"weight":100}],"health":{"interval":"10s","alarms":["web-5xx"]}}"#,
    )
    .unwrap_or_else(|e| panic!("test plan: {e}"))
}

/// A rollout state started `ago` seconds before now.
pub fn state(weight: u8, ago: i64) -> RolloutState {
    RolloutState {
        index: 0,
        weight,
        started_at: crate::execution::now_epoch() - ago,
        bake_until: None,
        judgements: Vec::new(),
    }
}

/// A weighted forward to the demo pair.
pub fn forward(blue: i32, green: i32) -> Action {
    Action::builder()
        .r#type(ActionTypeEnum::Forward)
        .forward_config(
            ForwardActionConfig::builder()
                .target_groups(TargetGroupTuple::builder().target_group_arn(BLUE_TG).weight(blue).build())
                .target_groups(TargetGroupTuple::builder().target_group_arn(GREEN_TG).weight(green).build())
                .build(),
        )
        .build()
}

/// DescribeListeners answering with the production listener forwarding `blue`/`green`.
pub fn listener(
    blue: i32,
    green: i32,
) -> aws_sdk_elasticloadbalancingv2::operation::describe_listeners::DescribeListenersOutput {
    aws_sdk_elasticloadbalancingv2::operation::describe_listeners::DescribeListenersOutput::builder()
        .listeners(Listener::builder().listener_arn(LISTENER).port(80).default_actions(forward(blue, green)).build())
        .build()
}

/// GetDeployment answering with `status`.
/// GetDeploymentGroup of the demo group: the web-blue/web-green pair on [`LISTENER`], service demo/web.
pub fn deployment_group() -> aws_sdk_codedeploy::operation::get_deployment_group::GetDeploymentGroupOutput {
    use aws_sdk_codedeploy::types::{
        DeploymentGroupInfo, EcsService, LoadBalancerInfo, TargetGroupInfo, TargetGroupPairInfo, TrafficRoute,
    };
    let tg = |name: &str| TargetGroupInfo::builder().name(name).build();
    let pair = TargetGroupPairInfo::builder()
        .target_groups(tg("web-blue"))
        .target_groups(tg("web-green"))
        .prod_traffic_route(TrafficRoute::builder().listener_arns(LISTENER).build())
        .build();
    aws_sdk_codedeploy::operation::get_deployment_group::GetDeploymentGroupOutput::builder()
        .deployment_group_info(
            DeploymentGroupInfo::builder()
                .load_balancer_info(LoadBalancerInfo::builder().target_group_pair_info_list(pair).build())
                .ecs_services(EcsService::builder().cluster_name("demo").service_name("web").build())
                .build(),
        )
        .build()
}

/// The demo deployment of `web` / `web-prod`, for GetDeployment answers to build on.
fn web_deployment() -> aws_sdk_codedeploy::types::builders::DeploymentInfoBuilder {
    DeploymentInfo::builder().deployment_id(DEPLOYMENT).application_name("web").deployment_group_name("web-prod")
}

pub fn deployment(status: &str) -> aws_sdk_codedeploy::operation::get_deployment::GetDeploymentOutput {
    aws_sdk_codedeploy::operation::get_deployment::GetDeploymentOutput::builder()
        .deployment_info(web_deployment().status(DeploymentStatus::from(status)).build())
        .build()
}

/// GetDeployment of a deployment CodeDeploy created to roll `triggered_by` back, as CodeDeploy
/// describes one: `creator` (e.g. `codeDeployRollback`; none: not said) and, when `triggered_by` is
/// given, `rollbackInfo.rollbackTriggeringDeploymentId`.
pub fn rollback_deployment(
    creator: Option<&str>,
    triggered_by: Option<&str>,
) -> aws_sdk_codedeploy::operation::get_deployment::GetDeploymentOutput {
    use aws_sdk_codedeploy::types::{DeploymentCreator, RollbackInfo};
    aws_sdk_codedeploy::operation::get_deployment::GetDeploymentOutput::builder()
        .deployment_info(
            web_deployment()
                .status(DeploymentStatus::InProgress)
                .set_creator(creator.map(DeploymentCreator::from))
                .set_rollback_info(
                    triggered_by.map(|id| RollbackInfo::builder().rollback_triggering_deployment_id(id).build()),
                )
                .build(),
        )
        .build()
}

/// The green/blue weights a ModifyListener request sets, if it is one.
pub fn weights_in(actions: &[Action]) -> Option<(i32, i32)> {
    let groups = actions.iter().find_map(|a| a.forward_config())?.target_groups();
    let of =
        |arn: &str| groups.iter().find(|t| t.target_group_arn() == Some(arn)).and_then(|t| t.weight()).unwrap_or(0);
    Some((of(BLUE_TG), of(GREEN_TG)))
}

/// The production listener's rules: the default rule plus one `X-Canary`
/// header rule per ARN in `cohorts`, each tagged as this deployment's (service
/// `demo/web`) cohort rule (DescribeRules and DescribeTags, in that order).
pub fn cohort_rules(cohorts: &'static [&'static str]) -> [Rule; 2] {
    use aws_sdk_elasticloadbalancingv2::operation::describe_rules::DescribeRulesOutput;
    use aws_sdk_elasticloadbalancingv2::operation::describe_tags::DescribeTagsOutput;
    use aws_sdk_elasticloadbalancingv2::types::{
        HttpHeaderConditionConfig, Rule as ListenerRule, RuleCondition, Tag, TagDescription,
    };
    use aws_sdk_elasticloadbalancingv2::Client;
    use aws_smithy_mocks::mock;

    let describe =
        mock!(Client::describe_rules).match_requests(|r| r.listener_arn() == Some(LISTENER)).then_output(move || {
            let default = ListenerRule::builder().rule_arn("arn:rule/default").priority("default").is_default(true);
            let rules = cohorts.iter().enumerate().map(|(i, arn)| {
                ListenerRule::builder()
                    .rule_arn(*arn)
                    .priority((i + 1).to_string())
                    .is_default(false)
                    .conditions(
                        RuleCondition::builder()
                            .field("http-header")
                            .http_header_config(
                                HttpHeaderConditionConfig::builder()
                                    .http_header_name("X-Canary")
                                    .values("internal")
                                    .build(),
                            )
                            .build(),
                    )
                    .build()
            });
            DescribeRulesOutput::builder()
                .set_rules(Some(std::iter::once(default.build()).chain(rules).collect()))
                .build()
        });
    let tags = mock!(Client::describe_tags).then_compute_output(|req| {
        let descs = req
            .resource_arns()
            .iter()
            .map(|arn| {
                TagDescription::builder()
                    .resource_arn(arn)
                    .tags(Tag::builder().key(crate::traffic::MANAGED_TAG).value("cohort").build())
                    .tags(Tag::builder().key(crate::traffic::SERVICE_TAG).value("demo/web").build())
                    .tags(Tag::builder().key(crate::traffic::DEPLOYMENT_TAG).value(DEPLOYMENT).build())
                    .build()
            })
            .collect();
        DescribeTagsOutput::builder().set_tag_descriptions(Some(descs)).build()
    });
    [describe, tags]
}

/// GetDeploymentTarget answering with the demo service's target where `event` has `status`.
pub fn hook_event(
    event: &str,
    status: &str,
) -> aws_sdk_codedeploy::operation::get_deployment_target::GetDeploymentTargetOutput {
    use aws_sdk_codedeploy::types::{
        DeploymentTarget, DeploymentTargetType, EcsTarget, LifecycleEvent, LifecycleEventStatus,
    };
    aws_sdk_codedeploy::operation::get_deployment_target::GetDeploymentTargetOutput::builder()
        .deployment_target(
            DeploymentTarget::builder()
                .deployment_target_type(DeploymentTargetType::EcsTarget)
                .ecs_target(
                    EcsTarget::builder()
                        .deployment_id(DEPLOYMENT)
                        .target_id("demo:web")
                        .lifecycle_events(
                            LifecycleEvent::builder()
                                .lifecycle_event_name(event)
                                .status(LifecycleEventStatus::from(status))
                                .build(),
                        )
                        .build(),
                )
                .build(),
        )
        .build()
}

/// [`context`] as hookline's own Route 53 controller writes it: a `dns-` id, production on the
/// weighted records `web.shop.example.com` A of zone `Z1`, releases `blue` and `green`.
pub fn dns_context() -> DeploymentContext {
    let mut ctx = context();
    ctx.deployment_id = "dns-20261206-084016-abcd".into();
    let release = |name: &str| crate::execution::DnsRelease {
        set_identifier: name.into(),
        load_balancer_arn: format!(
            "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/r53-private-{name}/1"
        ),
        alias_dns_name: format!("r53-private-{name}.elb.amazonaws.com"),
        alias_hosted_zone_id: "Z35SXDOTRQ7X7K".into(),
        region: None,
        role_arn: None,
    };
    ctx.production = crate::execution::Route::DnsWeighted {
        hosted_zone_id: "Z1".into(),
        record_name: "web.shop.example.com".into(),
        record_type: "A".into(),
        blue: Box::new(release("blue")),
        green: Box::new(release("green")),
    };
    ctx
}
