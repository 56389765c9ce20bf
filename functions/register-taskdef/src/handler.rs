//! The `release` entry: a new task definition revision for an image, and the
//! CodeDeploy deployment that rolls it out through hookline's hooks.

use aws_sdk_codedeploy::types::{AppSpecContent, RevisionLocation, RevisionLocationType};
use hookline::error::AwsResultExt;
use hookline::runtime::parse_event;
use hookline::taskdef::{register_with_image, render_appspec, service_target};
use hookline::{Clients, Error, Result};
use serde::Serialize;
use serde_json::Value;
use tracing::{info, info_span, Instrument};

/// What register-taskdef needs, built once per container.
pub struct Deps {
    pub codedeploy: aws_sdk_codedeploy::Client,
    pub ecs: aws_sdk_ecs::Client,
    /// The hook function named in the AppSpec.
    pub hook_function: String,
}

impl Deps {
    /// Reads `HOOK_FUNCTION_NAME` (default `hook`).
    /// Builds the two clients this function uses (at init, from `main`).
    pub fn from_env(clients: Clients) -> Deps {
        Deps::new(&clients, std::env::var("HOOK_FUNCTION_NAME").unwrap_or_else(|_| "hook".into()))
    }

    pub fn new(clients: &Clients, hook_function: String) -> Deps {
        Deps { codedeploy: clients.codedeploy.clone(), ecs: clients.ecs.clone(), hook_function }
    }
}

/// `{"application", "deployment_group", "image"}` plus optional overrides.
pub use hookline::contract::RegisterTaskdefInput as Input;

/// The revision and the deployment created for it.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Output {
    pub task_definition_arn: String,
    pub deployment_id: String,
    pub appspec: String,
}

/// Registers the revision and creates the deployment.
pub async fn handle(deps: &Deps, event: Value) -> Result<Output> {
    let input: Input = parse_event(event)?;
    for (field, value) in
        [("application", &input.application), ("deployment_group", &input.deployment_group), ("image", &input.image)]
    {
        if value.trim().is_empty() {
            return Err(Error::invalid(field, "a non-empty string"));
        }
    }
    let span =
        info_span!("register-taskdef", application = %input.application, deployment_group = %input.deployment_group);
    release(deps, &input).instrument(span).await
}

async fn release(deps: &Deps, input: &Input) -> Result<Output> {
    let codedeploy = &deps.codedeploy;
    let (cluster, service) = match (&input.cluster, &input.service) {
        (Some(c), Some(s)) => (c.clone(), s.clone()),
        _ => {
            let group = codedeploy
                .get_deployment_group()
                .application_name(&input.application)
                .deployment_group_name(&input.deployment_group)
                .send()
                .await
                .aws("GetDeploymentGroup")?;
            let svc = group.deployment_group_info().and_then(|g| g.ecs_services().first()).ok_or_else(|| {
                Error::invalid("deployment_group", "an ECS blue/green deployment group with a service")
            })?;
            (
                input.cluster.clone().or_else(|| svc.cluster_name().map(str::to_string)).unwrap_or_default(),
                input.service.clone().or_else(|| svc.service_name().map(str::to_string)).unwrap_or_default(),
            )
        }
    };
    let target = service_target(&deps.ecs, &cluster, &service).await?;
    let registered = register_with_image(&deps.ecs, &target, input.container.as_deref(), &input.image).await?;
    info!(task_definition = %registered.task_definition_arn, image = %input.image, "task definition registered");
    let appspec = render_appspec(&registered, &deps.hook_function);
    let created = codedeploy
        .create_deployment()
        .application_name(&input.application)
        .deployment_group_name(&input.deployment_group)
        .revision(
            RevisionLocation::builder()
                .revision_type(RevisionLocationType::AppSpecContent)
                .app_spec_content(AppSpecContent::builder().content(&appspec).build())
                .build(),
        )
        .set_description(input.description.clone().or_else(|| Some(format!("hookline release of {}", input.image))))
        .send()
        .await
        .aws("CreateDeployment")?;
    let deployment_id = created.deployment_id().unwrap_or_default().to_string();
    info!(deployment_id = %deployment_id, "deployment created");
    Ok(Output { task_definition_arn: registered.task_definition_arn, deployment_id, appspec })
}

#[cfg(test)]
mod tests;
