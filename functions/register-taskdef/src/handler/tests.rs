use aws_sdk_codedeploy::operation::create_deployment::{
    CreateDeploymentError, CreateDeploymentInput, CreateDeploymentOutput,
};
use aws_sdk_codedeploy::operation::get_deployment_group::GetDeploymentGroupOutput;
use aws_sdk_codedeploy::types::{DeploymentGroupInfo, EcsService};
use aws_sdk_ecs::operation::describe_services::DescribeServicesOutput;
use aws_sdk_ecs::operation::describe_task_definition::DescribeTaskDefinitionOutput;
use aws_sdk_ecs::operation::register_task_definition::{RegisterTaskDefinitionInput, RegisterTaskDefinitionOutput};
use aws_sdk_ecs::types::{
    Compatibility, ContainerDefinition, LoadBalancer, NetworkMode, PortMapping, Service, TaskDefinition, TaskSet,
};
use aws_smithy_mocks::{mock, Rule};
use hookline::testing::{access_denied, mocked_clients, throttling_json, Sent};
use serde_json::json;

use super::*;

const CURRENT: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:6";
const NEW: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:7";
const IMAGE: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/web:v2";

fn deps(rules: &[&Rule]) -> Deps {
    Deps::new(&mocked_clients(rules), "hookline-hook".into())
}

fn release(image: &str) -> Value {
    json!({"application": "web", "deployment_group": "web-prod", "image": image})
}

/// The deployment group's ECS service, what it runs, and its task definition.
fn service_rules() -> [Rule; 3] {
    [
        mock!(aws_sdk_codedeploy::Client::get_deployment_group)
            .match_requests(|r| r.application_name() == Some("web") && r.deployment_group_name() == Some("web-prod"))
            .then_output(|| {
                GetDeploymentGroupOutput::builder()
                    .deployment_group_info(
                        DeploymentGroupInfo::builder()
                            .ecs_services(EcsService::builder().cluster_name("demo").service_name("web").build())
                            .build(),
                    )
                    .build()
            }),
        mock!(aws_sdk_ecs::Client::describe_services)
            .match_requests(|r| r.cluster() == Some("demo") && r.services() == ["web"])
            .then_output(|| {
                DescribeServicesOutput::builder()
                    .services(
                        Service::builder()
                            .service_name("web")
                            .task_sets(TaskSet::builder().status("ACTIVE").task_definition("arn:old:5").build())
                            .task_sets(TaskSet::builder().status("PRIMARY").task_definition(CURRENT).build())
                            .load_balancers(LoadBalancer::builder().container_name("web").container_port(8080).build())
                            .build(),
                    )
                    .build()
            }),
        mock!(aws_sdk_ecs::Client::describe_task_definition)
            .match_requests(|r| r.task_definition() == Some(CURRENT))
            .then_output(|| DescribeTaskDefinitionOutput::builder().task_definition(current()).build()),
    ]
}

/// Revision 6: the app and a sidecar, with the fields a new revision must keep.
fn current() -> TaskDefinition {
    TaskDefinition::builder()
        .task_definition_arn(CURRENT)
        .family("web")
        .revision(6)
        .container_definitions(
            ContainerDefinition::builder()
                .name("web")
                .image("123456789012.dkr.ecr.us-east-1.amazonaws.com/web:v1")
                .essential(true)
                .port_mappings(PortMapping::builder().container_port(8080).build())
                .build(),
        )
        .container_definitions(ContainerDefinition::builder().name("envoy").image("envoy:1.30").build())
        .task_role_arn("arn:aws:iam::123456789012:role/web-task")
        .execution_role_arn("arn:aws:iam::123456789012:role/web-exec")
        .network_mode(NetworkMode::Awsvpc)
        .requires_compatibilities(Compatibility::Fargate)
        .cpu("256")
        .memory("512")
        .build()
}

fn register(sent: &Sent<RegisterTaskDefinitionInput>) -> Rule {
    mock!(aws_sdk_ecs::Client::register_task_definition).match_requests(sent.recorder()).then_output(registered)
}

fn registered() -> RegisterTaskDefinitionOutput {
    RegisterTaskDefinitionOutput::builder()
        .task_definition(TaskDefinition::builder().task_definition_arn(NEW).family("web").revision(7).build())
        .build()
}

fn create(sent: &Sent<CreateDeploymentInput>) -> Rule {
    mock!(aws_sdk_codedeploy::Client::create_deployment)
        .match_requests(sent.recorder())
        .then_output(|| CreateDeploymentOutput::builder().deployment_id("d-NEWDEPLOY").build())
}

#[tokio::test]
async fn registers_the_new_image_and_creates_the_deployment() {
    let (registrations, deployments) = (Sent::default(), Sent::default());
    let service = service_rules();
    let (reg, dep) = (register(&registrations), create(&deployments));
    let rules: Vec<&Rule> = service.iter().chain([&reg, &dep]).collect();

    let out = handle(&deps(&rules), release(IMAGE)).await.expect("release");

    let req = registrations.only();
    let was = current();
    assert_eq!(req.family(), Some("web"));
    let containers = req.container_definitions();
    assert_eq!(containers.len(), 2);
    assert_eq!(containers[0].image(), Some(IMAGE), "the load-balanced container gets the new image");
    let mut web_before = was.container_definitions()[0].clone();
    web_before.image = Some(IMAGE.into());
    assert_eq!(containers[0], web_before, "everything else about it is kept");
    assert_eq!(containers[1], was.container_definitions()[1], "the sidecar is untouched");
    assert_eq!(req.task_role_arn(), was.task_role_arn());
    assert_eq!(req.execution_role_arn(), was.execution_role_arn());
    assert_eq!(req.network_mode(), Some(&NetworkMode::Awsvpc));
    assert_eq!(req.requires_compatibilities(), [Compatibility::Fargate]);
    assert_eq!((req.cpu(), req.memory()), (Some("256"), Some("512")));

    let req = deployments.only();
    assert_eq!((req.application_name(), req.deployment_group_name()), (Some("web"), Some("web-prod")));
    let content = req.revision().and_then(|r| r.app_spec_content()).and_then(|c| c.content()).expect("AppSpec content");
    let spec: Value = serde_json::from_str(content).expect("AppSpec JSON");
    let props = &spec["Resources"][0]["TargetService"]["Properties"];
    assert_eq!(props["TaskDefinition"], NEW);
    assert_eq!(props["LoadBalancerInfo"], json!({"ContainerName": "web", "ContainerPort": 8080}));
    assert_eq!(spec["Hooks"], json!([{"BeforeAllowTraffic": "hookline-hook"}, {"AfterAllowTraffic": "hookline-hook"}]));
    assert_eq!(req.description(), Some(format!("hookline release of {IMAGE}").as_str()));

    assert_eq!(
        out,
        Output { task_definition_arn: NEW.into(), deployment_id: "d-NEWDEPLOY".into(), appspec: content.into() }
    );
    assert!(service.iter().all(|r| r.num_calls() == 1));
}

#[tokio::test]
async fn an_explicit_container_gets_the_image() {
    let (registrations, deployments) = (Sent::default(), Sent::default());
    let service = service_rules();
    let (reg, dep) = (register(&registrations), create(&deployments));
    let rules: Vec<&Rule> = service.iter().chain([&reg, &dep]).collect();
    let mut event = release("envoy:1.31");
    event["container"] = json!("envoy");

    handle(&deps(&rules), event).await.expect("release");

    let req = registrations.only();
    let images: Vec<Option<&str>> = req.container_definitions().iter().map(|c| c.image()).collect();
    assert_eq!(images, [Some("123456789012.dkr.ecr.us-east-1.amazonaws.com/web:v1"), Some("envoy:1.31")]);
}

#[tokio::test(start_paused = true)]
async fn a_throttled_registration_is_retried_by_the_sdk() {
    let deployments = Sent::default();
    let service = service_rules();
    let reg = mock!(aws_sdk_ecs::Client::register_task_definition)
        .sequence()
        .http_status(400, Some(throttling_json()))
        .times(2)
        .output(registered)
        .build();
    let dep = create(&deployments);
    let rules: Vec<&Rule> = service.iter().chain([&reg, &dep]).collect();
    let clock = tokio::time::Instant::now();

    let out = handle(&deps(&rules), release(IMAGE)).await.expect("retried to success");

    assert_eq!(out.task_definition_arn, NEW);
    assert_eq!(reg.num_calls(), 3);
    assert_eq!(dep.num_calls(), 1);
    assert!(clock.elapsed() > std::time::Duration::ZERO, "backoff slept on tokio's paused clock");
}

#[tokio::test]
async fn a_permanent_aws_error_is_aws_permanent() {
    let registrations = Sent::default();
    let service = service_rules();
    let reg = register(&registrations);
    let dep = mock!(aws_sdk_codedeploy::Client::create_deployment)
        .then_error(|| CreateDeploymentError::generic(access_denied()));
    let rules: Vec<&Rule> = service.iter().chain([&reg, &dep]).collect();

    let err = handle(&deps(&rules), release(IMAGE)).await.unwrap_err();

    assert_eq!(err.error_type(), "AwsPermanent", "{err}");
    assert!(err.to_string().contains("CreateDeployment"), "{err}");
    assert_eq!(dep.num_calls(), 1);
}

#[tokio::test]
async fn an_unknown_container_is_invalid_input_naming_container() {
    let registrations = Sent::default();
    let service = service_rules();
    let reg = register(&registrations);
    let rules: Vec<&Rule> = service.iter().chain([&reg]).collect();
    let mut event = release(IMAGE);
    event["container"] = json!("app");

    let err = handle(&deps(&rules), event).await.unwrap_err();

    assert_eq!(err.error_type(), "InvalidInput", "{err}");
    assert!(err.to_string().starts_with("invalid input: container:"), "{err}");
    assert!(err.to_string().contains(r#"["web", "envoy"]"#), "{err}");
    assert_eq!(reg.num_calls(), 0);
}

#[tokio::test]
async fn an_empty_image_is_invalid_input_naming_image() {
    // No rules: any AWS call would panic.
    let err = handle(&deps(&[]), release("  ")).await.unwrap_err();
    assert_eq!(err.error_type(), "InvalidInput", "{err}");
    assert!(err.to_string().starts_with("invalid input: image:"), "{err}");
}

#[tokio::test]
async fn malformed_events_are_invalid_input() {
    let mut event = release(IMAGE);
    event["application"] = json!(5);
    let err = handle(&deps(&[]), event).await.unwrap_err();
    assert_eq!(err.error_type(), "InvalidInput", "{err}");
    assert!(err.to_string().starts_with("invalid input: application:"), "{err}");

    let mut event = release(IMAGE);
    event["containr"] = json!("web");
    let err = handle(&deps(&[]), event).await.unwrap_err();
    assert_eq!(err.error_type(), "InvalidInput", "{err}");
    assert!(err.to_string().contains("containr"), "{err}");
}
