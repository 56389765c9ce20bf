//! A new task definition revision for a new image, and the ECS AppSpec that
//! deploys it.

use aws_sdk_ecs::types::TaskDefinition;
use serde_json::json;

use crate::error::AwsResultExt;
use crate::{Error, Result};

/// What the service runs today and where its load balancer sends traffic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceTarget {
    pub task_definition_arn: String,
    pub container_name: String,
    pub container_port: i32,
}

/// The registered revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registered {
    pub task_definition_arn: String,
    pub container_name: String,
    pub container_port: i32,
}

/// Reads the service's current task definition and load-balanced container.
pub async fn service_target(ecs: &aws_sdk_ecs::Client, cluster: &str, service: &str) -> Result<ServiceTarget> {
    let out = ecs.describe_services().cluster(cluster).services(service).send().await.aws("DescribeServices")?;
    let svc = out.services().first().ok_or_else(|| {
        Error::invalid("service", format!("an ECS service in cluster {cluster}, {service:?} not found"))
    })?;
    // A CODE_DEPLOY service runs what its PRIMARY task set runs.
    let task_definition_arn = svc
        .task_sets()
        .iter()
        .find(|ts| ts.status() == Some("PRIMARY"))
        .and_then(|ts| ts.task_definition())
        .or(svc.task_definition())
        .ok_or_else(|| Error::invalid("service", format!("service {service} has no task definition")))?
        .to_string();
    let lb = svc.load_balancers().first().ok_or_else(|| {
        Error::invalid("service", format!("service {service} has no load balancer (blue/green needs one)"))
    })?;
    Ok(ServiceTarget {
        task_definition_arn,
        container_name: lb.container_name().unwrap_or_default().to_string(),
        container_port: lb.container_port().unwrap_or(80),
    })
}

/// Registers a revision of `current` with `container`'s image set to `image`.
/// Read-only fields (ARN, revision, status, registeredAt, ...) are left behind by
/// copying only what RegisterTaskDefinition accepts.
pub async fn register_with_image(
    ecs: &aws_sdk_ecs::Client,
    target: &ServiceTarget,
    container: Option<&str>,
    image: &str,
) -> Result<Registered> {
    let out = ecs
        .describe_task_definition()
        .task_definition(&target.task_definition_arn)
        .send()
        .await
        .aws("DescribeTaskDefinition")?;
    let td = out.task_definition().ok_or_else(|| Error::invalid("service", "a task definition"))?;
    let container_name = container.unwrap_or(&target.container_name).to_string();
    let containers = with_image(td, &container_name, image)?;
    let registered = ecs
        .register_task_definition()
        .family(td.family().unwrap_or_default())
        .set_container_definitions(Some(containers))
        .set_task_role_arn(td.task_role_arn().map(str::to_string))
        .set_execution_role_arn(td.execution_role_arn().map(str::to_string))
        .set_network_mode(td.network_mode().cloned())
        .set_volumes(Some(td.volumes().to_vec()))
        .set_placement_constraints(Some(td.placement_constraints().to_vec()))
        .set_requires_compatibilities(Some(td.requires_compatibilities().to_vec()))
        .set_cpu(td.cpu().map(str::to_string))
        .set_memory(td.memory().map(str::to_string))
        .set_pid_mode(td.pid_mode().cloned())
        .set_ipc_mode(td.ipc_mode().cloned())
        .set_proxy_configuration(td.proxy_configuration().cloned())
        .set_ephemeral_storage(td.ephemeral_storage().cloned())
        .set_runtime_platform(td.runtime_platform().cloned())
        .send()
        .await
        .aws("RegisterTaskDefinition")?;
    let arn = registered.task_definition().and_then(|t| t.task_definition_arn()).ok_or_else(|| {
        Error::AwsPermanent { operation: "RegisterTaskDefinition", code: None, message: "no ARN returned".into() }
    })?;
    Ok(Registered { task_definition_arn: arn.to_string(), container_name, container_port: target.container_port })
}

fn with_image(
    td: &TaskDefinition,
    container: &str,
    image: &str,
) -> Result<Vec<aws_sdk_ecs::types::ContainerDefinition>> {
    let mut found = false;
    let containers = td
        .container_definitions()
        .iter()
        .map(|c| {
            if c.name() == Some(container) {
                found = true;
                let mut c = c.clone();
                c.image = Some(image.to_string());
                c
            } else {
                c.clone()
            }
        })
        .collect();
    if found {
        Ok(containers)
    } else {
        let names: Vec<&str> = td.container_definitions().iter().filter_map(|c| c.name()).collect();
        Err(Error::invalid(
            "container",
            format!("one of the task definition's containers {names:?}, got {container:?}"),
        ))
    }
}

/// The ECS AppSpec (JSON text) for `registered`, with both traffic hooks on `hook_function`.
pub fn render_appspec(registered: &Registered, hook_function: &str) -> String {
    json!({
        "version": 0.0,
        "Resources": [{
            "TargetService": {
                "Type": "AWS::ECS::Service",
                "Properties": {
                    "TaskDefinition": registered.task_definition_arn,
                    "LoadBalancerInfo": {
                        "ContainerName": registered.container_name,
                        "ContainerPort": registered.container_port
                    }
                }
            }
        }],
        "Hooks": [
            {"BeforeAllowTraffic": hook_function},
            {"AfterAllowTraffic": hook_function}
        ]
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appspec_names_the_revision_container_and_hooks() {
        let r = Registered {
            task_definition_arn: "arn:td:web:7".into(),
            container_name: "web".into(),
            container_port: 8080,
        };
        let spec: serde_json::Value = serde_json::from_str(&render_appspec(&r, "hookline-hook")).unwrap();
        let props = &spec["Resources"][0]["TargetService"]["Properties"];
        assert_eq!(props["TaskDefinition"], "arn:td:web:7");
        assert_eq!(props["LoadBalancerInfo"]["ContainerName"], "web");
        assert_eq!(props["LoadBalancerInfo"]["ContainerPort"], 8080);
        assert_eq!(spec["Hooks"][0]["BeforeAllowTraffic"], "hookline-hook");
        assert_eq!(spec["Hooks"][1]["AfterAllowTraffic"], "hookline-hook");
    }
}
