//! [`Services`] over Amazon ECS: a release's own service (hookline's Route 53 controller).
//!
//! A release may name its own Region and role ([`ServiceRef::placement`]): each call is made with
//! that placement's client ([`Placed`]).

use async_trait::async_trait;
use aws_sdk_ecs::types::{
    Compatibility, ContainerDefinition, KeyValuePair, LoadBalancer, NetworkMode, PlacementConstraint,
    PlacementConstraintType, PlacementStrategy, PlacementStrategyType, PortMapping, SchedulingStrategy,
    TransportProtocol,
};

use super::Placed;
use crate::dns::{Placement, ServiceFacts, ServiceSpec, TaskDefinitionSpec};
use crate::error::AwsResultExt;
use crate::execution::ServiceRef;
use crate::ports::Services;
use crate::{Error, Result};

/// ECS services of the releases.
#[derive(Clone, Debug)]
pub struct EcsServices {
    pub ecs: Placed<aws_sdk_ecs::Client>,
}

/// ECS's service status words: `ACTIVE`, `DRAINING` (being deleted), `INACTIVE` (deleted).
const ACTIVE: &str = "ACTIVE";
const INACTIVE: &str = "INACTIVE";

impl EcsServices {
    /// The raw description: `None` when ECS lists the service among `failures` (reason `MISSING`)
    /// or as `INACTIVE` (deleted: "INACTIVE services can still be described", DescribeServices).
    /// UpdateService of `service` in its Region: its desired count, and its task definition when given.
    async fn update(&self, service: &ServiceRef, task_definition: Option<&str>, desired: i32) -> Result<()> {
        self.ecs
            .at(&service.placement())
            .await
            .update_service()
            .cluster(&service.cluster)
            .service(&service.service)
            .set_task_definition(task_definition.map(str::to_string))
            .desired_count(desired)
            .send()
            .await
            .aws("UpdateService")?;
        Ok(())
    }

    async fn find(&self, service: &ServiceRef) -> Result<Option<aws_sdk_ecs::types::Service>> {
        let out = self
            .ecs
            .at(&service.placement())
            .await
            .describe_services()
            .cluster(&service.cluster)
            .services(&service.service)
            .send()
            .await
            .aws("DescribeServices")?;
        Ok(out.services().iter().find(|s| s.status() != Some(INACTIVE)).cloned())
    }
}

#[async_trait]
impl Services for EcsServices {
    async fn describe(&self, service: &ServiceRef) -> Result<Option<ServiceFacts>> {
        Ok(self.find(service).await?.map(|s| ServiceFacts {
            desired: u32::try_from(s.desired_count()).unwrap_or(0),
            running: u32::try_from(s.running_count()).unwrap_or(0),
            task_definition: s.task_definition().map(str::to_string),
            deployments: s.deployments().len(),
            active: s.status() == Some(ACTIVE),
        }))
    }

    async fn register_task_definition(&self, spec: &TaskDefinitionSpec, at: &Placement) -> Result<String> {
        let containers = spec.containers.iter().map(container).collect::<Result<Vec<_>>>()?;
        // The task's size is the containers' sum (the file states the containers' own: decision 7).
        let cpu: u32 = spec.containers.iter().map(|c| c.cpu).sum();
        let memory: u32 = spec.containers.iter().map(|c| c.memory).sum();
        let mut req = self
            .ecs
            .at(at)
            .await
            .register_task_definition()
            .family(&spec.family)
            .set_container_definitions(Some(containers))
            .cpu(cpu.to_string())
            .memory(memory.to_string());
        // What the file does not say (network mode, launch type compatibility, roles) is the live
        // release's: its task definition, when there is one.
        if let Some(like) = &spec.like {
            let live = self
                .ecs
                .at(&spec.like_at)
                .await
                .describe_task_definition()
                .task_definition(like)
                .send()
                .await
                .aws("DescribeTaskDefinition")?;
            if let Some(td) = live.task_definition() {
                req = req
                    .set_network_mode(td.network_mode().cloned())
                    .set_requires_compatibilities(
                        (!td.requires_compatibilities().is_empty()).then(|| td.requires_compatibilities().to_vec()),
                    )
                    .set_execution_role_arn(td.execution_role_arn().map(str::to_string))
                    .set_task_role_arn(td.task_role_arn().map(str::to_string));
            }
        } else if spec.fargate {
            req = req.network_mode(NetworkMode::Awsvpc).requires_compatibilities(Compatibility::Fargate);
        }
        let out = req.send().await.aws("RegisterTaskDefinition")?;
        out.task_definition().and_then(|t| t.task_definition_arn()).map(str::to_string).ok_or_else(|| {
            Error::AwsPermanent {
                operation: "RegisterTaskDefinition",
                code: None,
                message: "the answer names no task definition ARN".into(),
            }
        })
    }

    async fn create_or_update(&self, service: &ServiceRef, spec: &ServiceSpec) -> Result<()> {
        let desired = i32::try_from(spec.desired).map_err(|_| {
            Error::invalid("canary.scale.desired", format!("at most {}, got {}", i32::MAX, spec.desired))
        })?;
        if self.find(service).await?.is_some() {
            return self.update(service, Some(&spec.task_definition_arn), desired).await;
        }
        let port = i32::from(spec.container_port);
        let mut req = self
            .ecs
            .at(&service.placement())
            .await
            .create_service()
            .cluster(&service.cluster)
            .service_name(&service.service)
            .task_definition(&spec.task_definition_arn)
            .desired_count(desired)
            .load_balancers(
                LoadBalancer::builder()
                    .target_group_arn(&spec.target_group_arn)
                    .container_name(&spec.container_name)
                    .container_port(port)
                    .build(),
            )
            .set_platform_version(spec.platform_version.clone())
            .set_placement_constraints(unless_empty(&spec.placement_constraints, |c| {
                PlacementConstraint::builder()
                    .r#type(PlacementConstraintType::from(c.kind.as_str()))
                    .set_expression(c.expression.clone())
                    .build()
            }))
            .set_placement_strategy(unless_empty(&spec.placement_strategies, |s| {
                PlacementStrategy::builder()
                    .r#type(PlacementStrategyType::from(s.kind.as_str()))
                    .set_field(s.field.clone())
                    .build()
            }))
            .set_scheduling_strategy(spec.scheduling_strategy.as_deref().map(SchedulingStrategy::from));
        // What the file does not say (launch type, network configuration, capacity providers) is
        // the live release's service's. Subnets and security groups belong to one Region's (and
        // account's) VPC: a service in another placement cannot take them, and is refused rather
        // than created without them (decision "Across Regions").
        if let Some(like) = &spec.like {
            if let Some(live) = self.find(like).await? {
                let network = live.network_configuration().cloned();
                if network.is_some() && like.placement() != service.placement() {
                    return Err(Error::invalid(
                        "canary.releases",
                        format!(
                            "an existing service {} in cluster {} ({}): {} runs in {} with subnets and security \
                             groups of its own VPC, which a service in another Region or account cannot use; \
                             create it there with its network configuration (desired count 0), and hookline \
                             updates it",
                            service.service,
                            service.cluster,
                            placement_name(&service.placement()),
                            like.service,
                            placement_name(&like.placement()),
                        ),
                    ));
                }
                req = req
                    .set_launch_type(live.launch_type().cloned())
                    .set_network_configuration(network)
                    .set_capacity_provider_strategy(
                        (!live.capacity_provider_strategy().is_empty())
                            .then(|| live.capacity_provider_strategy().to_vec()),
                    );
            }
        }
        req.send().await.aws("CreateService")?;
        Ok(())
    }

    async fn scale(&self, service: &ServiceRef, desired: u32) -> Result<()> {
        self.update(service, None, i32::try_from(desired).unwrap_or(i32::MAX)).await
    }

    async fn delete(&self, service: &ServiceRef) -> Result<bool> {
        // `force`: "If true, allows you to delete a service even if it wasn't scaled down to zero
        // tasks." (Amazon ECS API reference, DeleteService).
        let sent = self
            .ecs
            .at(&service.placement())
            .await
            .delete_service()
            .cluster(&service.cluster)
            .service(&service.service)
            .force(true)
            .send()
            .await;
        match sent {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error().is_some_and(
                    aws_sdk_ecs::operation::delete_service::DeleteServiceError::is_service_not_found_exception,
                ) =>
            {
                Ok(false)
            }
            Err(e) => Err(e).aws("DeleteService"),
        }
    }
}

/// A placement as an error names it: its Region (or "the caller's Region") and its role.
fn placement_name(at: &Placement) -> String {
    let region = at.region.as_deref().unwrap_or("the caller's Region");
    match &at.role_arn {
        Some(role) => format!("{region}, as {role}"),
        None => region.to_string(),
    }
}

/// One container definition from the deployment file's container.
/// `items` mapped by `f`, or `None` when there are none: the file did not set them, so the request
/// leaves them out (an empty list would be a setting of its own).
fn unless_empty<T, U>(items: &[T], f: impl Fn(&T) -> U) -> Option<Vec<U>> {
    (!items.is_empty()).then(|| items.iter().map(f).collect())
}

fn container(c: &crate::deployfile::Container) -> Result<ContainerDefinition> {
    let ports = c
        .port_mappings
        .iter()
        .map(|p| {
            PortMapping::builder()
                .container_port(i32::from(p.container_port))
                .host_port(i32::from(p.host_port))
                .protocol(TransportProtocol::from(p.protocol.as_str()))
                .build()
        })
        .collect::<Vec<_>>();
    let env = c.environment.iter().map(|(k, v)| KeyValuePair::builder().name(k).value(v).build()).collect::<Vec<_>>();
    let int = |field: &str, v: u32| {
        i32::try_from(v)
            .map_err(|_| Error::invalid(format!("service.containers[{}].{field}", c.name), "at most 2147483647"))
    };
    Ok(ContainerDefinition::builder()
        .name(&c.name)
        .image(&c.image)
        .cpu(int("cpu", c.cpu)?)
        .memory(int("memory", c.memory)?)
        .set_memory_reservation(c.memory_reservation.map(|m| int("memory_reservation", m)).transpose()?)
        .set_port_mappings((!ports.is_empty()).then_some(ports))
        .set_entry_point((!c.entry_point.is_empty()).then(|| c.entry_point.clone()))
        .set_environment((!env.is_empty()).then_some(env))
        .set_command((!c.command.is_empty()).then(|| c.command.clone()))
        .set_dns_search_domains((!c.dns_search_domains.is_empty()).then(|| c.dns_search_domains.clone()))
        .set_dns_servers((!c.dns_servers.is_empty()).then(|| c.dns_servers.clone()))
        .set_disable_networking(c.disable_networking)
        .essential(true)
        .build())
}

#[cfg(test)]
mod tests {
    use aws_sdk_ecs::operation::create_service::CreateServiceOutput;
    use aws_sdk_ecs::operation::delete_service::DeleteServiceError;
    use aws_sdk_ecs::operation::describe_services::DescribeServicesOutput;
    use aws_sdk_ecs::operation::update_service::UpdateServiceOutput;
    use aws_sdk_ecs::types::error::ServiceNotFoundException;
    use aws_sdk_ecs::types::{Deployment, Failure, Service};
    use aws_smithy_mocks::{mock, RuleMode};

    use super::*;
    use crate::testing::Sent;

    fn adapter(rules: &[&aws_smithy_mocks::Rule]) -> EcsServices {
        let client = aws_smithy_mocks::mock_client!(aws_sdk_ecs, RuleMode::MatchAny, rules);
        EcsServices { ecs: Placed::only(client) }
    }

    fn svc(name: &str) -> ServiceRef {
        ServiceRef { cluster: "shop".into(), service: name.into(), region: None, role_arn: None }
    }

    /// Green's service behind its target group, `like` another service of the cluster.
    fn green_spec(task_definition_arn: &str, desired: u32, like: Option<&str>) -> ServiceSpec {
        ServiceSpec {
            task_definition_arn: task_definition_arn.into(),
            desired,
            target_group_arn: "arn:tg/green".into(),
            container_name: "web".into(),
            container_port: 8080,
            like: like.map(svc),
            scheduling_strategy: None,
            platform_version: None,
            placement_constraints: vec![],
            placement_strategies: vec![],
        }
    }

    fn service(name: &str, status: &str, desired: i32, running: i32, deployments: usize) -> Service {
        Service::builder()
            .service_name(name)
            .status(status)
            .desired_count(desired)
            .running_count(running)
            .task_definition("arn:td:1")
            .set_deployments(Some((0..deployments).map(|_| Deployment::builder().build()).collect()))
            .build()
    }

    #[tokio::test]
    async fn describe_reads_counts_and_a_missing_or_inactive_service_is_none() {
        let rules = [
            mock!(aws_sdk_ecs::Client::describe_services)
                .match_requests(|r| r.services() == ["shop-web-blue"])
                .then_output(|| {
                    DescribeServicesOutput::builder().services(service("shop-web-blue", "ACTIVE", 2, 1, 2)).build()
                }),
            mock!(aws_sdk_ecs::Client::describe_services).match_requests(|r| r.services() == ["gone"]).then_output(
                || DescribeServicesOutput::builder().services(service("gone", "INACTIVE", 0, 0, 1)).build(),
            ),
            mock!(aws_sdk_ecs::Client::describe_services).then_output(|| {
                DescribeServicesOutput::builder().failures(Failure::builder().reason("MISSING").build()).build()
            }),
        ];
        let a = adapter(&rules.iter().collect::<Vec<_>>());
        let facts = a.describe(&svc("shop-web-blue")).await.unwrap().unwrap();
        assert_eq!((facts.desired, facts.running, facts.deployments, facts.stable()), (2, 1, 2, false));
        assert_eq!(a.describe(&svc("gone")).await.unwrap(), None);
        assert_eq!(a.describe(&svc("never")).await.unwrap(), None);
    }

    #[tokio::test]
    async fn create_when_missing_copies_the_live_services_network_and_sets_the_target_group() {
        type Created = (Option<String>, Option<i32>, Option<String>, Option<i32>);
        let created: Sent<Created> = Sent::default();
        let rec = created.recorder();
        let rules = [
            mock!(aws_sdk_ecs::Client::describe_services)
                .match_requests(|r| r.services() == ["shop-web-blue"])
                .then_output(|| {
                    DescribeServicesOutput::builder()
                        .services({
                            let mut s = service("shop-web-blue", "ACTIVE", 2, 2, 1);
                            s.launch_type = Some(aws_sdk_ecs::types::LaunchType::Fargate);
                            s
                        })
                        .build()
                }),
            mock!(aws_sdk_ecs::Client::describe_services).then_output(|| DescribeServicesOutput::builder().build()),
            mock!(aws_sdk_ecs::Client::create_service)
                .match_requests(move |r| {
                    let lb = r.load_balancers().first();
                    rec(&(
                        r.service_name().map(str::to_string),
                        r.desired_count(),
                        lb.and_then(|l| l.target_group_arn()).map(str::to_string),
                        lb.and_then(|l| l.container_port()),
                    ));
                    r.launch_type() == Some(&aws_sdk_ecs::types::LaunchType::Fargate)
                })
                .then_output(|| CreateServiceOutput::builder().build()),
        ];
        let a = adapter(&rules.iter().collect::<Vec<_>>());
        let spec = green_spec("arn:td:2", 3, Some("shop-web-blue"));
        a.create_or_update(&svc("shop-web-green"), &spec).await.unwrap();
        assert_eq!(created.only(), (Some("shop-web-green".into()), Some(3), Some("arn:tg/green".into()), Some(8080)));
    }

    #[tokio::test]
    async fn update_when_present_and_delete_of_a_missing_service_is_false() {
        let updated: Sent<(Option<String>, Option<i32>)> = Sent::default();
        let rec = updated.recorder();
        let rules = [
            mock!(aws_sdk_ecs::Client::describe_services).then_output(|| {
                DescribeServicesOutput::builder().services(service("shop-web-green", "ACTIVE", 0, 0, 1)).build()
            }),
            mock!(aws_sdk_ecs::Client::update_service)
                .match_requests(move |r| {
                    rec(&(r.task_definition().map(str::to_string), r.desired_count()));
                    true
                })
                .then_output(|| UpdateServiceOutput::builder().build()),
            mock!(aws_sdk_ecs::Client::delete_service).then_error(|| {
                DeleteServiceError::ServiceNotFoundException(ServiceNotFoundException::builder().build())
            }),
        ];
        let a = adapter(&rules.iter().collect::<Vec<_>>());
        let spec = green_spec("arn:td:3", 2, None);
        a.create_or_update(&svc("shop-web-green"), &spec).await.unwrap();
        a.scale(&svc("shop-web-green"), 0).await.unwrap();
        assert_eq!(updated.all(), vec![(Some("arn:td:3".into()), Some(2)), (None, Some(0))]);
        assert!(!a.delete(&svc("shop-web-green")).await.unwrap());
    }

    #[tokio::test]
    async fn a_service_in_another_region_is_not_created_with_the_live_ones_subnets() {
        let rules = [
            mock!(aws_sdk_ecs::Client::describe_services)
                .match_requests(|r| r.services() == ["shop-web-blue"])
                .then_output(|| {
                    let mut s = service("shop-web-blue", "ACTIVE", 2, 2, 1);
                    s.network_configuration = Some(
                        aws_sdk_ecs::types::NetworkConfiguration::builder()
                            .awsvpc_configuration(
                                aws_sdk_ecs::types::AwsVpcConfiguration::builder()
                                    .subnets("subnet-use1a")
                                    .build()
                                    .expect("subnets set"),
                            )
                            .build(),
                    );
                    DescribeServicesOutput::builder().services(s).build()
                }),
            mock!(aws_sdk_ecs::Client::describe_services).then_output(|| DescribeServicesOutput::builder().build()),
            mock!(aws_sdk_ecs::Client::create_service).then_output(|| CreateServiceOutput::builder().build()),
        ];
        let a = adapter(&rules.iter().collect::<Vec<_>>());
        let green = ServiceRef { region: Some("eu-west-1".into()), ..svc("shop-web-green") };
        let spec = green_spec("arn:td:2", 2, Some("shop-web-blue"));
        let err = a.create_or_update(&green, &spec).await.expect_err("refused").to_string();
        assert!(
            err.contains("canary.releases") && err.contains("eu-west-1") && err.contains("shop-web-green"),
            "{err}"
        );
        assert_eq!(rules[2].num_calls(), 0, "nothing created");
    }
}
