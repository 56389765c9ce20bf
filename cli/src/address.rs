//! How an operator names what a verb acts on: one deployment (`DEPLOYMENT_ID`, or
//! `--cluster C --service S` for an ECS-native service's latest, or `--fqdn NAME` for the newest
//! `hookline deploy` on a name), or the deployments of one target (`--application A --group G`,
//! `--cluster C --service S`, or for `history` `--fqdn NAME`). The clap arguments the verbs share.

use clap::Args;
use hookline::plan::Controller;

use crate::error::{fail, R};

/// How an operator names a deployment on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// A CodeDeploy deployment id (`d-...`) or an ECS service deployment ARN.
    Id(String),
    /// An ECS-native service: its latest service deployment.
    Service { cluster: String, service: String },
    /// The weighted records of hookline's own Route 53 controller: the newest deployment on them.
    Fqdn(String),
}

/// Which deployment a verb acts on: a CodeDeploy deployment id, an ECS service deployment ARN, or the
/// latest service deployment of an ECS-native service.
#[derive(Debug, Clone, Args)]
#[group(id = "deployment", required = true, multiple = true)]
pub struct DeploymentArg {
    /// CodeDeploy deployment id (d-...) or ECS service deployment ARN (arn:aws:ecs:...:service-deployment/...).
    #[arg(group = "deployment")]
    pub deployment_id: Option<String>,
    /// ECS cluster of an ECS-native service (with --service): its latest service deployment.
    #[arg(long, requires = "service", conflicts_with = "deployment_id", group = "deployment")]
    pub cluster: Option<String>,
    /// ECS service (with --cluster).
    #[arg(long, requires = "cluster", conflicts_with = "deployment_id")]
    pub service: Option<String>,
    /// The name of the weighted records of a `hookline deploy` (Route 53): its newest deployment.
    #[arg(long, value_name = "NAME", conflicts_with_all = ["deployment_id", "cluster", "service"], group = "deployment")]
    pub fqdn: Option<String>,
}

impl DeploymentArg {
    pub fn address(&self) -> R<Address> {
        match (&self.deployment_id, &self.cluster, &self.service, &self.fqdn) {
            (Some(id), None, None, None) => Ok(Address::Id(id.clone())),
            (None, Some(cluster), Some(service), None) => {
                Ok(Address::Service { cluster: cluster.clone(), service: service.clone() })
            }
            (None, None, None, Some(fqdn)) => Ok(Address::Fqdn(fqdn.clone())),
            _ => Err(fail(
                "name the deployment: DEPLOYMENT_ID (d-..., a service deployment ARN or dns-...), --cluster C \
                 --service S, or --fqdn NAME",
            )),
        }
    }
}

/// Whose deployments a verb reads (`history`, `doctor`): a CodeDeploy deployment group, or an ECS-native service.
#[derive(Debug, Clone, Args)]
#[group(id = "target", required = true, multiple = true)]
pub struct TargetArg {
    /// CodeDeploy application (with --group).
    #[arg(long, requires = "group", group = "target")]
    pub application: Option<String>,
    /// CodeDeploy deployment group.
    #[arg(long, requires = "application")]
    pub group: Option<String>,
    /// ECS cluster of an ECS-native service (with --service).
    #[arg(long, requires = "service", conflicts_with_all = ["application", "group"], group = "target")]
    pub cluster: Option<String>,
    /// ECS service (with --cluster).
    #[arg(long, requires = "cluster", conflicts_with_all = ["application", "group"])]
    pub service: Option<String>,
}

impl TargetArg {
    pub fn target(&self) -> R<Target> {
        target_of([&self.application, &self.group, &self.cluster, &self.service], "name the deployments")
    }
}

/// The target named by `--application A --group G` or `--cluster C --service S`; `what` leads the error.
pub fn target_of([application, group, cluster, service]: [&Option<String>; 4], what: &str) -> R<Target> {
    match (application, group, cluster, service) {
        (Some(application), Some(group), None, None) => {
            Ok(Target::CodeDeploy { application: application.clone(), group: group.clone() })
        }
        (None, None, Some(cluster), Some(service)) => {
            Ok(Target::Ecs { cluster: cluster.clone(), service: service.clone() })
        }
        _ => Err(fail(format!("{what}: --application A --group G, or --cluster C --service S"))),
    }
}

/// A CodeDeploy deployment group or an ECS-native service: where `plan push` stores a plan (the
/// target decides the controller the plan is validated for), whose deployments `history` lists,
/// what `doctor` checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A CodeDeploy deployment group: `<prefix>/<application>/<group>`.
    CodeDeploy { application: String, group: String },
    /// An ECS-native service: `<prefix>/ecs/<cluster>/<service>`.
    Ecs { cluster: String, service: String },
}

impl Target {
    /// The controller whose hook runs the plan.
    pub fn controller(&self) -> Controller {
        match self {
            Target::CodeDeploy { .. } => Controller::CodeDeploy,
            Target::Ecs { .. } => Controller::Ecs,
        }
    }

    /// The SSM parameter the hook reads the plan from (the `contract` helpers the functions use).
    pub fn parameter(&self, prefix: &str) -> String {
        match self {
            Target::CodeDeploy { application, group } => hookline::contract::plan_parameter(prefix, application, group),
            Target::Ecs { cluster, service } => hookline::contract::ecs_plan_parameter(prefix, cluster, service),
        }
    }

    /// `CodeDeploy web/web-prod`, `ECS demo/api`.
    pub fn describe(&self) -> String {
        match self {
            Target::CodeDeploy { application, group } => format!("CodeDeploy {application}/{group}"),
            Target::Ecs { cluster, service } => format!("ECS {cluster}/{service}"),
        }
    }
}
