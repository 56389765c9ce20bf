//! hookline's own Route 53 controller's verbs (docs/route53-controller.md), over the ports:
//! [`deploy`] (find the group's releases, put the new version on the idle one, start the canary
//! state machine on it) and [`undeploy`] (remove an idle release's service and its record). The
//! CLI's `hookline deploy` / `undeploy` parse the deployment file and call these; status, watch and
//! rollback read the deployment through `Lifecycle` like any other (`lifecycle::Route53Releases`).

use serde::Serialize;

use crate::contract::{dns_release_parameter, execution_name};
use crate::deployfile::DeployFile;
use crate::dns::{
    self, pick_releases, release_service_name, LoadBalancerRelease, Placement, ReleasePair, ReleaseRecord,
    ReleaseStatus, ServiceSpec, TaskDefinitionSpec, GROUP_TAG, RELEASE_TAG,
};
use crate::execution::{
    DeploymentContext, DnsRelease, ExecutionDocument, HookEvent, HookRef, RolloutState, Route, ServiceRef, Side,
};
use crate::plan::Controller;
use crate::ports::{Executions, PlanStore, RecordRemoval, ReleaseDiscovery, Services, StartOutcome};
use crate::{Error, Result};

/// The record type of the weighted alias records hookline moves.
pub const RECORD_TYPE: &str = "A";

/// What deploy and undeploy reach, through the ports.
#[derive(Clone, Copy)]
pub struct Reach<'a> {
    pub discovery: &'a dyn ReleaseDiscovery,
    pub services: &'a dyn Services,
    pub plans: &'a dyn PlanStore,
    pub executions: &'a dyn Executions,
}

/// One `hookline deploy`.
#[derive(Debug, Clone)]
pub struct DeployRequest<'a> {
    /// The parsed, rendered and mapped deployment file.
    pub file: &'a DeployFile,
    pub environment: &'a str,
    /// The canary state machine's ARN.
    pub canary_state_machine_arn: &'a str,
    /// Where release records live (`<prefix>/dns/<deployment id>`).
    pub plan_parameter_prefix: &'a str,
    /// The Region deployed to (`--region`), when not the clients' own.
    pub region: Option<&'a str>,
    /// `--remove-old` (or the file's `hookline.remove_old`).
    pub remove_old: bool,
    /// Epoch seconds now, and a salt for the id's last four hex digits.
    pub now: i64,
    pub salt: u32,
}

/// What a deploy started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Deployed {
    pub deployment_id: String,
    pub execution_arn: String,
    /// The release taking traffic, and the one deployed to.
    pub blue: String,
    pub green: String,
    pub green_service: ServiceRef,
    pub task_definition_arn: String,
    pub hosted_zone_id: String,
    pub record_name: String,
}

/// Where the release tagged `release` is: the file's `canary.releases.<name>.region` and
/// `.role_arn` for it, else `region` (`--region`; `None`: the caller's) and the caller's
/// credentials.
pub fn release_placement(file: &DeployFile, release: &str, region: Option<&str>) -> Placement {
    let placed = file.canary.releases.placement_of(release);
    Placement {
        region: placed.and_then(|p| p.region.clone()).or_else(|| region.map(str::to_string)),
        role_arn: placed.and_then(|p| p.role_arn.clone()),
    }
}

/// The load balancers of `group` for the releases `placed` (each release's tag and placement):
/// each placement is searched once, and a load balancer found in a placement that is not its
/// release's (a release moved to another Region leaves its old one behind) is not it. A load
/// balancer of another release tag is kept, for the caller to name.
pub async fn group_load_balancers(
    discovery: &dyn ReleaseDiscovery,
    group: &str,
    placed: &[(&str, Placement)],
) -> Result<Vec<LoadBalancerRelease>> {
    let tags: Vec<&str> = placed.iter().map(|(tag, _)| *tag).collect();
    let mut placements: Vec<(&Placement, Vec<&str>)> = Vec::new();
    for (tag, at) in placed {
        match placements.iter_mut().find(|(p, _)| *p == at) {
            Some((_, mine)) => mine.push(tag),
            None => placements.push((at, vec![tag])),
        }
    }
    let mut load_balancers = Vec::new();
    for (at, mine) in &placements {
        for lb in discovery.load_balancers(group, at).await? {
            if mine.contains(&lb.release.as_str()) || !tags.contains(&lb.release.as_str()) {
                load_balancers.push(lb);
            }
        }
    }
    Ok(load_balancers)
}

/// The group's two releases, blue (taking traffic) and green (idle), from the load balancers'
/// tags and the fqdn's weighted records. Each release's load balancer is looked for in its own
/// placement (one search per placement): a load balancer of the group found in a placement that
/// is not its release's (a release moved to another Region leaves its old one behind) is not it.
pub async fn discover(
    discovery: &dyn ReleaseDiscovery,
    file: &DeployFile,
    region: Option<&str>,
) -> Result<ReleasePair> {
    let group = &file.canary.group;
    let placed = [file.canary.releases.blue.as_str(), file.canary.releases.green.as_str()]
        .map(|tag| (tag, release_placement(file, tag, region)));
    let load_balancers = group_load_balancers(discovery, group, &placed).await?;
    let mut tags: Vec<&str> = load_balancers.iter().map(|l| l.release.as_str()).collect();
    tags.sort_unstable();
    let mut expected = [file.canary.releases.blue.as_str(), file.canary.releases.green.as_str()];
    expected.sort_unstable();
    if load_balancers.len() == 2 && tags != expected {
        return Err(Error::invalid(
            "canary.releases",
            format!(
                "the {RELEASE_TAG} values of the load balancers tagged {GROUP_TAG}={group}, {} and {}, got {}",
                expected[0],
                expected[1],
                tags.join(" and ")
            ),
        ));
    }
    let zone = discovery.hosted_zone(&file.service.fqdn).await?;
    let records = discovery.weighted_records(&zone.id, &file.service.fqdn).await?;
    pick_releases(group, &load_balancers, zone, &file.service.fqdn, RECORD_TYPE, &records)
}

fn dns_release(lb: &LoadBalancerRelease) -> DnsRelease {
    DnsRelease {
        set_identifier: lb.release.clone(),
        load_balancer_arn: lb.load_balancer_arn.clone(),
        alias_dns_name: lb.dns_name.clone(),
        alias_hosted_zone_id: lb.canonical_hosted_zone_id.clone(),
        region: lb.region.clone(),
        role_arn: lb.role_arn.clone(),
    }
}

/// The target group a release's listener forwards to; an error naming the release without one.
fn target_group(lb: &LoadBalancerRelease, group: &str) -> Result<(String, String)> {
    match (&lb.target_group_arn, &lb.target_group_name) {
        (Some(arn), Some(name)) => Ok((arn.clone(), name.clone())),
        _ => Err(Error::invalid(
            "canary.group",
            format!(
                "a listener forwarding to one target group on the load balancer tagged {GROUP_TAG}={group}, \
                 {RELEASE_TAG}={} ({}), found none",
                lb.release, lb.load_balancer_arn
            ),
        )),
    }
}

/// A release's service: `<service.name>-<release tag>` in the release's own `cluster`, else
/// `service.cluster`, in its placement ([`release_placement`]).
pub fn release_service(file: &DeployFile, release: &str, region: Option<&str>) -> ServiceRef {
    let at = release_placement(file, release, region);
    let cluster = file.canary.releases.placement_of(release).and_then(|p| p.cluster.clone());
    ServiceRef {
        cluster: cluster.unwrap_or_else(|| file.service.cluster.clone()),
        service: release_service_name(&file.service.name, release),
        region: at.region,
        role_arn: at.role_arn,
    }
}

/// A canary execution of `hookline`'s own controller already running on the same records, if any.
async fn running_on_the_same_records(
    reach: Reach<'_>,
    state_machine_arn: &str,
    pair: &ReleasePair,
) -> Result<Option<String>> {
    for arn in reach.executions.list_running(state_machine_arn, crate::plan::DNS_DEPLOYMENT_PREFIX).await? {
        let input = reach.executions.describe(&arn).await?.and_then(|e| e.input);
        let Some(doc) = input.and_then(|i| serde_json::from_str::<ExecutionDocument>(&i).ok()) else { continue };
        if let Route::DnsWeighted { hosted_zone_id, record_name, .. } = &doc.context.production {
            if *hosted_zone_id == pair.zone.id && dns::normalize(record_name) == dns::normalize(&pair.record_name) {
                return Ok(Some(doc.context.deployment_id));
            }
        }
    }
    Ok(None)
}

/// `hookline deploy`: finds the releases, registers the task definition, creates or updates green's
/// service (`canary.scale.desired` tasks behind green's target group), writes the release record and
/// starts the canary state machine on it. Refuses (changing nothing) when the releases cannot be
/// told apart or a canary already runs on the same records. If the execution cannot be started,
/// green's service is scaled back to 0 and the record marked failed: nothing is left half-done.
pub async fn deploy(reach: Reach<'_>, req: &DeployRequest<'_>) -> Result<Deployed> {
    let file = req.file;
    let pair = discover(reach.discovery, file, req.region).await?;
    let (green_tg, green_tg_name) = target_group(&pair.green, &file.canary.group)?;
    let (blue_tg, blue_tg_name) = target_group(&pair.blue, &file.canary.group)?;
    let (container_name, container_port) = file
        .service
        .containers
        .iter()
        .find_map(|c| c.port_mappings.first().map(|p| (c.name.clone(), p.container_port)))
        .ok_or_else(|| {
            Error::invalid(
                "service.containers",
                "a container with a port mapping (the port green's target group sends traffic to)",
            )
        })?;
    if let Some(running) = running_on_the_same_records(reach, req.canary_state_machine_arn, &pair).await? {
        return Err(Error::invalid(
            "service.fqdn",
            format!(
                "no canary running on {} already, {running} is (wait for it, or hookline rollback {running})",
                pair.record_name
            ),
        ));
    }

    let blue_service = release_service(file, &pair.blue.release, req.region);
    let green_service = release_service(file, &pair.green.release, req.region);
    let blue_live = reach.services.describe(&blue_service).await?;
    let task_definition_arn = reach
        .services
        .register_task_definition(
            &TaskDefinitionSpec {
                family: file.service.name.clone(),
                containers: file.service.containers.clone(),
                like: blue_live.as_ref().and_then(|b| b.task_definition.clone()),
                like_at: blue_service.placement(),
                fargate: false,
            },
            &green_service.placement(),
        )
        .await?;
    reach
        .services
        .create_or_update(
            &green_service,
            &ServiceSpec {
                task_definition_arn: task_definition_arn.clone(),
                desired: file.canary.scale.desired,
                target_group_arn: green_tg.clone(),
                container_name,
                container_port,
                like: blue_live.is_some().then(|| blue_service.clone()),
                scheduling_strategy: file.service.scheduling_strategy.clone(),
                platform_version: file.service.platform_version.clone(),
                placement_constraints: file.service.placement_constraints.clone(),
                placement_strategies: file.service.placement_strategies.clone(),
            },
        )
        .await?;

    let deployment_id = dns::deployment_id(req.now, req.salt);
    let context = DeploymentContext {
        deployment_id: deployment_id.clone(),
        application: format!("dns/{}", req.environment),
        deployment_group: file.service.name.clone(),
        hook: Some(HookRef {
            kind: Controller::Route53,
            event: HookEvent::PreTraffic,
            execution_id: deployment_id.clone(),
        }),
        cluster: file.service.cluster.clone(),
        service: file.service.name.clone(),
        production: Route::DnsWeighted {
            hosted_zone_id: pair.zone.id.clone(),
            record_name: pair.record_name.clone(),
            record_type: pair.record_type.clone(),
            blue: Box::new(dns_release(&pair.blue)),
            green: Box::new(dns_release(&pair.green)),
        },
        test_listener_arn: None,
        blue: Side {
            target_group_arn: blue_tg,
            target_group_name: blue_tg_name,
            task_set_arn: None,
            service: blue_live.is_some().then(|| blue_service.clone()),
        },
        green: Side {
            target_group_arn: green_tg,
            target_group_name: green_tg_name,
            task_set_arn: None,
            service: Some(green_service.clone()),
        },
        cohort_rules_removed: false,
    };
    let mut record = ReleaseRecord {
        deployment_id: deployment_id.clone(),
        environment: req.environment.to_string(),
        status: ReleaseStatus::InProgress,
        context: context.clone(),
        execution_arn: None,
        remove_old: req.remove_old || file.remove_old,
        created_at: req.now,
        ended_at: None,
        services_done: false,
        message: None,
        drain_seconds: Some(file.dns.min_bake_seconds()),
        drain_until: None,
        green_task_definition: Some(task_definition_arn.clone()),
    };
    let parameter = dns_release_parameter(req.plan_parameter_prefix, &deployment_id);
    save(reach.plans, &parameter, &record).await?;

    let document = ExecutionDocument {
        context,
        plan: file.plan.clone(),
        state: RolloutState { started_at: req.now, ..RolloutState::default() },
    };
    let input = serde_json::to_string(&document).map_err(|e| Error::invalid("execution document", e.to_string()))?;
    let name = execution_name(&deployment_id, HookEvent::PreTraffic);
    let started = reach.executions.start(req.canary_state_machine_arn, &name, &input).await;
    let execution_arn = match started {
        Ok(StartOutcome::Started(arn) | StartOutcome::AlreadyExists(arn)) => arn,
        Err(e) => {
            // Nothing runs the canary: green goes back to 0 tasks and the record says why.
            record.status = ReleaseStatus::Failed;
            record.ended_at = Some(req.now);
            record.message = Some(format!("the canary execution could not be started: {e}"));
            if reach.services.scale(&green_service, 0).await.is_ok() {
                record.services_done = true;
            }
            save(reach.plans, &parameter, &record).await?;
            return Err(e);
        }
    };
    record.execution_arn = Some(execution_arn.clone());
    save(reach.plans, &parameter, &record).await?;
    Ok(Deployed {
        deployment_id,
        execution_arn,
        blue: pair.blue.release,
        green: pair.green.release,
        green_service,
        task_definition_arn,
        hosted_zone_id: pair.zone.id,
        record_name: pair.record_name,
    })
}

async fn save(plans: &dyn PlanStore, parameter: &str, record: &ReleaseRecord) -> Result<()> {
    let text = serde_json::to_string(record).map_err(|e| Error::invalid("release record", e.to_string()))?;
    plans.put_release_record(parameter, &text).await
}

/// What an undeploy removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Undeployed {
    /// The idle release.
    pub release: String,
    pub service: ServiceRef,
    /// The service existed and was deleted.
    pub service_deleted: bool,
    /// The idle release's weighted record existed (at weight 0) and was deleted.
    pub record_deleted: bool,
}

/// `hookline undeploy`: removes the idle release's ECS service and its weighted record (weight 0).
/// `release` names the release to remove (its `CanaryRelease` value); `None` takes the idle one.
/// Refuses, naming it, the release taking traffic, and changes nothing then.
pub async fn undeploy(
    reach: Reach<'_>,
    records: &dyn RecordRemoval,
    file: &DeployFile,
    release: Option<&str>,
    region: Option<&str>,
) -> Result<Undeployed> {
    let pair = discover(reach.discovery, file, region).await?;
    let idle = &pair.green;
    if let Some(asked) = release {
        if asked == pair.blue.release {
            return Err(Error::invalid(
                "release",
                format!(
                    "an idle release: {RELEASE_TAG}={asked} takes the traffic of {} (weight {}), undeploy {} instead",
                    pair.record_name, pair.blue_weight, idle.release
                ),
            ));
        }
        if asked != idle.release {
            return Err(Error::invalid(
                "release",
                format!(
                    "{} or {} (the {RELEASE_TAG} values of {GROUP_TAG}={}), got {asked}",
                    pair.blue.release, idle.release, file.canary.group
                ),
            ));
        }
    }
    let service = release_service(file, &idle.release, region);
    let service_deleted = reach.services.delete(&service).await?;
    let record_deleted = records.delete_idle_record(&pair.zone.id, &pair.record_name, &idle.release).await?;
    Ok(Undeployed { release: idle.release.clone(), service, service_deleted, record_deleted })
}

#[cfg(test)]
mod tests;
