//! What hookline's own Route 53 controller speaks (docs/route53-controller.md): a group's two load
//! balancer releases, the weighted records that pick the live one, a release's ECS service, the
//! release record that is the deployment, and the deployment ids. Plain data and pure rules, no
//! port and no adapter here: the ports ([`crate::ports::Services`], [`crate::ports::ReleaseDiscovery`])
//! and their adapters build on it.

use serde::{Deserialize, Serialize};

use crate::execution::{DeploymentContext, ServiceRef};
use crate::plan::DNS_DEPLOYMENT_PREFIX;
use crate::{Error, Result};

/// The tag naming a load balancer's group (the same value on both releases).
pub const GROUP_TAG: &str = "CanaryGroup";
/// The tag naming a load balancer's release (one value each, e.g. `blue` and `green`).
pub const RELEASE_TAG: &str = "CanaryRelease";

pub use crate::execution::Placement;

/// One load balancer of a group, as discovery found it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadBalancerRelease {
    /// Its `CanaryRelease` tag value (the record's `SetIdentifier`).
    pub release: String,
    pub load_balancer_arn: String,
    pub dns_name: String,
    pub canonical_hosted_zone_id: String,
    /// The target group its listener forwards to (`None`: no listener or no forward action).
    pub target_group_arn: Option<String>,
    pub target_group_name: Option<String>,
    /// `None`: the functions' own Region.
    pub region: Option<String>,
    /// The role its calls were made with (`None`: the caller's own credentials).
    pub role_arn: Option<String>,
}

/// A hosted zone as `ListHostedZonesByName` names it (the id without `/hostedzone/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostedZone {
    pub id: String,
    /// With the trailing dot, as Route 53 writes it.
    pub name: String,
}

/// One weighted record of the fqdn, as Route 53 lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeightedRecord {
    pub set_identifier: String,
    /// 0–255.
    pub weight: u8,
    pub record_type: String,
    /// The alias target's DNS name, when it is an alias.
    pub alias_dns_name: Option<String>,
}

/// The zone whose name is the longest suffix of `fqdn` (labels compared whole, case-insensitive,
/// trailing dots ignored): Route 53 answers a name from the most specific zone that holds it.
pub fn longest_suffix_zone<'a>(fqdn: &str, zones: &'a [HostedZone]) -> Option<&'a HostedZone> {
    let name = normalize(fqdn);
    zones
        .iter()
        .filter(|z| {
            let zone = normalize(&z.name);
            name == zone || name.ends_with(&format!(".{zone}"))
        })
        .max_by_key(|z| normalize(&z.name).len())
}

/// A DNS name in lower case without its trailing dot.
pub fn normalize(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// The two releases of a group, green being the idle one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleasePair {
    pub zone: HostedZone,
    pub record_name: String,
    pub record_type: String,
    /// Taking traffic (nonzero weight).
    pub blue: LoadBalancerRelease,
    /// Idle (weight 0 or no record): the one deployed to.
    pub green: LoadBalancerRelease,
    /// The live weights, blue's and green's (green's 0).
    pub blue_weight: u8,
}

/// Picks blue and green among the group's load balancers from the fqdn's weighted records: the
/// release whose record has weight 0, or no record, is green. Errors name the group and the tags.
pub fn pick_releases(
    group: &str,
    load_balancers: &[LoadBalancerRelease],
    zone: HostedZone,
    record_name: &str,
    record_type: &str,
    records: &[WeightedRecord],
) -> Result<ReleasePair> {
    if load_balancers.len() != 2 {
        let found: Vec<&str> = load_balancers.iter().map(|l| l.release.as_str()).collect();
        return Err(Error::invalid(
            "canary.group",
            format!(
                "exactly two load balancers tagged {GROUP_TAG}={group}, each with its own {RELEASE_TAG}, \
                 found {} ({})",
                load_balancers.len(),
                found.join(", ")
            ),
        ));
    }
    if load_balancers[0].release == load_balancers[1].release {
        return Err(Error::invalid(
            "canary.group",
            format!(
                "two different {RELEASE_TAG} values on the load balancers tagged {GROUP_TAG}={group}, both are {:?}",
                load_balancers[0].release
            ),
        ));
    }
    let weight_of = |release: &str| {
        records.iter().find(|r| r.set_identifier == release && r.record_type == record_type).map(|r| r.weight)
    };
    let (a, b) = (&load_balancers[0], &load_balancers[1]);
    let (wa, wb) = (weight_of(&a.release).unwrap_or(0), weight_of(&b.release).unwrap_or(0));
    let (blue, green, blue_weight) = match (wa, wb) {
        (0, 0) => {
            return Err(Error::invalid(
                "canary.group",
                format!(
                    "one release of {GROUP_TAG}={group} taking traffic: neither {RELEASE_TAG}={} nor {RELEASE_TAG}={} \
                     has a {record_type} record of {record_name} with a weight above 0",
                    a.release, b.release
                ),
            ))
        }
        (w, 0) => (a, b, w),
        (0, w) => (b, a, w),
        (x, y) => {
            return Err(Error::invalid(
                "canary.group",
                format!(
                    "one idle release of {GROUP_TAG}={group}: both {RELEASE_TAG}={} (weight {x}) and {RELEASE_TAG}={} \
                     (weight {y}) take traffic on {record_name}; a canary is under way or was left split",
                    a.release, b.release
                ),
            ))
        }
    };
    Ok(ReleasePair {
        zone,
        record_name: record_name.to_string(),
        record_type: record_type.to_string(),
        blue: blue.clone(),
        green: green.clone(),
        blue_weight,
    })
}

/// The measured split at one bake check: both load balancers' `RequestCount` over the last
/// whole period, next to the weight the records were set to (DNS weights are not the traffic
/// split: resolvers keep the previous answer for up to the TTL).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObservedSplit {
    /// Green's weight as set on the records, in percent.
    pub set_weight: u8,
    /// Green's share of the requests of both load balancers, in percent (`None`: no requests).
    pub green_percent: Option<f64>,
    pub blue_requests: f64,
    pub green_requests: f64,
    /// `[start, end)` epoch seconds.
    pub window: [i64; 2],
}

impl ObservedSplit {
    /// From the two load balancers' request counts.
    pub fn new(set_weight: u8, blue_requests: f64, green_requests: f64, window: [i64; 2]) -> ObservedSplit {
        let total = blue_requests + green_requests;
        let green_percent = (total > 0.0).then(|| green_requests * 100.0 / total);
        ObservedSplit { set_weight, green_percent, blue_requests, green_requests, window }
    }

    /// Whether green's observed share reached `min_percent` percent of the set weight (no
    /// requests at all: not reached).
    pub fn reaches(&self, min_percent: u8) -> bool {
        let needed = f64::from(self.set_weight) * f64::from(min_percent) / 100.0;
        self.green_percent.is_some_and(|observed| observed + 1e-9 >= needed)
    }
}

/// A release's ECS service as hookline reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceFacts {
    pub desired: u32,
    pub running: u32,
    /// The task definition ARN it runs.
    pub task_definition: Option<String>,
    /// How many deployments it has (one when nothing is rolling out).
    pub deployments: usize,
    /// `false` once deleted (draining or inactive).
    pub active: bool,
}

impl ServiceFacts {
    /// Stable as the AWS SDKs' `services_stable` waiter says: one deployment, and as many tasks
    /// running as desired (botocore's ECS waiters-2.json, `ServicesStable`:
    /// `length(services[?!(length(deployments) == `1` && runningCount == desiredCount)]) == `0``).
    pub fn stable(&self) -> bool {
        self.active && self.deployments == 1 && self.running == self.desired
    }
}

/// The task definition hookline registers for a release (from the deployment file's containers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskDefinitionSpec {
    pub family: String,
    pub containers: Vec<crate::deployfile::Container>,
    /// A task definition (the live release's) to take what the file does not say from: network
    /// mode, launch type compatibilities, execution and task roles.
    pub like: Option<String>,
    /// Where `like` is (the live release's placement; green's may differ).
    pub like_at: Placement,
    /// Without `like`: register for Fargate (`awsvpc`, `FARGATE`) rather than ECS's defaults.
    pub fargate: bool,
}

/// What green's service is created or updated with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceSpec {
    pub task_definition_arn: String,
    pub desired: u32,
    pub target_group_arn: String,
    pub container_name: String,
    pub container_port: u16,
    /// A service to copy what the deployment file does not say from (launch type, network
    /// configuration, capacity providers): blue's service, when it exists.
    pub like: Option<ServiceRef>,
    pub scheduling_strategy: Option<String>,
    pub platform_version: Option<String>,
    pub placement_constraints: Vec<crate::deployfile::PlacementConstraint>,
    pub placement_strategies: Vec<crate::deployfile::PlacementStrategy>,
}

/// Where a release record stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReleaseStatus {
    /// The canary execution runs (or is about to).
    InProgress,
    /// Green serves 100%; blue's service scaled down (or removed).
    Succeeded,
    /// Rolled back: DNS on blue 100, green's service scaled to 0.
    Failed,
    /// Stopped by an operator (`hookline rollback`): as failed, by request.
    Stopped,
}

/// The deployment itself for hookline's own controller: written by `deploy`, moved to its end by
/// the canary execution's report, read by every reader (`Lifecycle::describe`). Kept at
/// [`crate::contract::dns_release_parameter`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseRecord {
    pub deployment_id: String,
    /// The environment of the deployment file.
    pub environment: String,
    pub status: ReleaseStatus,
    /// The context the canary execution runs with.
    pub context: DeploymentContext,
    /// The canary execution's ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_arn: Option<String>,
    /// Remove blue's service after a success (rather than scale it to 0).
    #[serde(default)]
    pub remove_old: bool,
    /// Epoch seconds.
    pub created_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<i64>,
    /// The end's work on the services is done (the old release scaled down or removed after a
    /// success; green scaled to 0 after a failure): a repeated report is `Already`.
    #[serde(default)]
    pub services_done: bool,
    /// Why it failed or stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// How long the release DNS moved away from keeps its tasks after the move (the records' TTL +
    /// the resolver grace, `hookline.dns`): resolvers that cached its answer before the move keep
    /// sending users there that long (docs/route53-controller.md, decision 23). Absent: no wait.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drain_seconds: Option<u64>,
    /// Epoch seconds before which green's service is not scaled to 0 after a failure or a stop:
    /// set by the first `Failed` report, which every rollback path makes after DNS is back on
    /// blue, to that moment + `drain_seconds`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drain_until: Option<i64>,
    /// The task definition `hookline deploy` put on green's service: after the drain green is
    /// scaled to 0 only while it still runs it (a later deployment may have taken green over).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub green_task_definition: Option<String>,
}

impl ReleaseRecord {
    /// Blue's and green's services, from the context.
    pub fn services(&self) -> (Option<&ServiceRef>, Option<&ServiceRef>) {
        (self.context.blue.service.as_ref(), self.context.green.service.as_ref())
    }
}

/// A new deployment id: `dns-<yyyymmdd>-<hhmmss>-<4 hex>` at `epoch_seconds` (UTC), `salt`'s low
/// 16 bits as the hex (two deployments in one second differ there).
pub fn deployment_id(epoch_seconds: i64, salt: u32) -> String {
    let secs = u64::try_from(epoch_seconds.max(0)).unwrap_or(0);
    let stamp = humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs));
    // `2026-12-06T08:40:16Z` → `20261206-084016`
    let digits: String = stamp.to_string().chars().filter(char::is_ascii_digit).collect();
    let (date, time) = digits.split_at(8.min(digits.len()));
    format!("{DNS_DEPLOYMENT_PREFIX}{date}-{time}-{:04x}", salt & 0xffff)
}

/// The ECS service of `release` under the deployment file's `service.name` (decision: one
/// service per release, `<service.name>-<release tag>`, in `service.cluster`).
pub fn release_service_name(service_name: &str, release: &str) -> String {
    format!("{service_name}-{release}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lb(release: &str) -> LoadBalancerRelease {
        LoadBalancerRelease {
            release: release.into(),
            load_balancer_arn: format!("arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/r53-{release}/1"),
            dns_name: format!("{release}.elb"),
            canonical_hosted_zone_id: "Z35SXDOTRQ7X7K".into(),
            target_group_arn: None,
            target_group_name: None,
            region: None,
            role_arn: None,
        }
    }

    fn record(id: &str, weight: u8) -> WeightedRecord {
        WeightedRecord { set_identifier: id.into(), weight, record_type: "A".into(), alias_dns_name: None }
    }

    fn zone() -> HostedZone {
        HostedZone { id: "Z1".into(), name: "shop.example.com.".into() }
    }

    #[test]
    fn green_is_the_release_at_weight_zero_or_without_a_record() {
        let lbs = [lb("blue"), lb("green")];
        let pair =
            pick_releases("private", &lbs, zone(), "web", "A", &[record("blue", 100), record("green", 0)]).unwrap();
        assert_eq!((pair.blue.release.as_str(), pair.green.release.as_str(), pair.blue_weight), ("blue", "green", 100));
        let pair = pick_releases("private", &lbs, zone(), "web", "A", &[record("green", 255)]).unwrap();
        assert_eq!((pair.blue.release.as_str(), pair.green.release.as_str()), ("green", "blue"));
    }

    #[test]
    fn both_live_or_none_live_is_an_error_naming_the_group() {
        let lbs = [lb("blue"), lb("green")];
        let both = pick_releases("private", &lbs, zone(), "web", "A", &[record("blue", 50), record("green", 50)]);
        let msg = both.unwrap_err().to_string();
        assert!(msg.contains("CanaryGroup=private") && msg.contains("weight 50"), "{msg}");
        let none = pick_releases("private", &lbs, zone(), "web", "A", &[]).unwrap_err().to_string();
        assert!(none.contains("CanaryGroup=private") && none.contains("CanaryRelease=blue"), "{none}");
        let one = pick_releases("private", &lbs[..1], zone(), "web", "A", &[]).unwrap_err().to_string();
        assert!(one.contains("exactly two") && one.contains("found 1"), "{one}");
    }

    #[test]
    fn the_zone_is_the_longest_suffix() {
        let zones = [
            HostedZone { id: "Z1".into(), name: "example.com.".into() },
            HostedZone { id: "Z2".into(), name: "shop.example.com.".into() },
            HostedZone { id: "Z3".into(), name: "hop.example.com.".into() },
        ];
        assert_eq!(longest_suffix_zone("web.shop.example.com", &zones).map(|z| z.id.as_str()), Some("Z2"));
        assert_eq!(longest_suffix_zone("Web.Other.Example.com.", &zones).map(|z| z.id.as_str()), Some("Z1"));
        assert_eq!(longest_suffix_zone("web.example.org", &zones), None);
    }

    #[test]
    fn deployment_ids_are_recognized_and_dated() {
        // 2026-12-06T08:40:16Z
        let id = deployment_id(1_796_546_416, 0x1_abcd);
        assert_eq!(id, "dns-20261206-084016-abcd");
        assert_eq!(crate::plan::Controller::of_deployment(&id), crate::plan::Controller::Route53);
        assert!(crate::execution::execution_name(&id, crate::execution::HookEvent::PreTraffic).len() <= 80);
    }

    #[test]
    fn the_observed_share_against_a_percent_of_the_set_weight() {
        let lagging = ObservedSplit::new(50, 80.0, 20.0, [0, 60]);
        assert_eq!(lagging.green_percent, Some(20.0));
        assert!(!lagging.reaches(80), "20% observed < 80% of 50");
        assert!(lagging.reaches(40), "20% observed = 40% of 50");
        let converged = ObservedSplit::new(50, 52.0, 48.0, [0, 60]);
        assert!(converged.reaches(80));
        let silent = ObservedSplit::new(50, 0.0, 0.0, [0, 60]);
        assert_eq!(silent.green_percent, None);
        assert!(!silent.reaches(1));
    }

    #[test]
    fn stable_is_the_waiters_rule() {
        let f = ServiceFacts { desired: 2, running: 2, task_definition: None, deployments: 1, active: true };
        assert!(f.stable());
        assert!(!ServiceFacts { deployments: 2, ..f.clone() }.stable());
        assert!(!ServiceFacts { running: 1, ..f.clone() }.stable());
        assert!(!ServiceFacts { active: false, ..f }.stable());
    }
}
