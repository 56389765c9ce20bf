//! The pure part of `hookline doctor` for hookline's own Route 53 controller
//! (docs/route53-controller.md): each check decided from plain values the adapter
//! (`doctor/route53.rs`) read. No SDK types here, so every verdict is unit-tested.

use hookline::deployfile::{Dns, ALIAS_TTL_SECONDS};
use hookline::dns::{normalize, LoadBalancerRelease, ReleaseStatus, ServiceFacts, GROUP_TAG, RELEASE_TAG};
use hookline::execution::RunStatus;
use hookline::health::TargetFacts;
use hookline::plan::{human, Plan, Step};

use super::report::Check;

/// A load balancer's name from its ARN (`...:loadbalancer/app/<name>/<id>`), for messages.
pub fn load_balancer_name(arn: &str) -> &str {
    arn.split(":loadbalancer/").nth(1).and_then(|rest| rest.split('/').nth(1)).unwrap_or(arn)
}

// ------------------------------------------------------------------ load balancers

/// The group's load balancers: exactly two, distinct `CanaryRelease` values, the two the
/// deployment file names (`canary.releases`), each with a listener forwarding to a target group.
/// `found` is every load balancer tagged `CanaryGroup=group` (the controller's own discovery).
pub fn load_balancer_checks(group: &str, wanted: [&str; 2], found: &[LoadBalancerRelease]) -> Vec<Check> {
    let mut out = Vec::new();
    let list = |lbs: &[LoadBalancerRelease]| {
        lbs.iter()
            .map(|l| format!("{} ({RELEASE_TAG}={})", load_balancer_name(&l.load_balancer_arn), l.release))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut releases: Vec<&str> = found.iter().map(|l| l.release.as_str()).collect();
    releases.sort_unstable();
    let distinct = {
        let mut d = releases.clone();
        d.dedup();
        d.len() == releases.len()
    };
    let check = "load balancers";
    if found.len() != 2 {
        out.push(Check::fail(
            check,
            format!(
                "exactly two load balancers tagged {GROUP_TAG}={group} (one per release), found {}{}{}",
                found.len(),
                if found.is_empty() { "" } else { ": " },
                list(found)
            ),
            if found.len() > 2 {
                format!(
                    "take the {GROUP_TAG} tag off every load balancer that is not release {} or {} of this group \
                     (hookline deploy refuses a group of {})",
                    wanted[0],
                    wanted[1],
                    found.len()
                )
            } else {
                format!(
                    "tag each release's load balancer {GROUP_TAG}={group} and {RELEASE_TAG}={} / {} \
                     (infra/route53-canary-example.yaml)",
                    wanted[0], wanted[1]
                )
            },
        ));
    } else if !distinct {
        out.push(Check::fail(
            check,
            format!(
                "both load balancers tagged {GROUP_TAG}={group} carry {RELEASE_TAG}={}: {}",
                releases[0],
                list(found)
            ),
            format!("tag one {RELEASE_TAG}={} and the other {RELEASE_TAG}={}", wanted[0], wanted[1]),
        ));
    } else {
        let mut expected = wanted.to_vec();
        expected.sort_unstable();
        if releases != expected {
            out.push(Check::fail(
                check,
                format!(
                    "{GROUP_TAG}={group}: {}; the deployment file's canary.releases are {} and {}",
                    list(found),
                    wanted[0],
                    wanted[1]
                ),
                "make canary.releases the two CanaryRelease tag values, or retag the load balancers",
            ));
        } else {
            out.push(Check::ok(check, format!("{GROUP_TAG}={group}: {}", list(found))));
        }
    }
    for lb in found.iter().filter(|l| wanted.contains(&l.release.as_str())) {
        let name = load_balancer_name(&lb.load_balancer_arn);
        let check = format!("listener of {}", lb.release);
        out.push(match &lb.target_group_name {
            Some(tg) => Check::ok(check, format!("{name} forwards to target group {tg}")),
            None => Check::fail(
                check,
                format!("{name} has no listener forwarding to a target group: release {} cannot serve", lb.release),
                format!("add a listener to {name} whose default action forwards to the release's target group"),
            ),
        });
    }
    out
}

// ------------------------------------------------------------------ records

/// One weighted record of the fqdn (type `A`), as Route 53 lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordSeen {
    pub set_identifier: String,
    pub weight: u8,
    /// The record's own TTL (a record with values; alias records have none).
    pub ttl_seconds: Option<u64>,
    pub alias: Option<AliasSeen>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AliasSeen {
    pub dns_name: String,
    pub hosted_zone_id: String,
}

impl RecordSeen {
    /// The TTL resolvers cache the answer for: the record's own, or for an alias the load
    /// balancer's, 60 seconds ("Values other than 60 seconds (the TTL for load balancers) will
    /// change the effect of the values that you specify for Weight": Route 53 API reference,
    /// ResourceRecordSet, TTL; `deployfile::ALIAS_TTL_SECONDS`).
    pub fn effective_ttl(&self) -> u64 {
        match (&self.alias, self.ttl_seconds) {
            (Some(_), _) => ALIAS_TTL_SECONDS,
            (None, Some(ttl)) => ttl,
            (None, None) => 0,
        }
    }

    fn ttl_words(&self) -> String {
        match self.alias {
            Some(_) => format!("{}s (alias: the load balancer's)", self.effective_ttl()),
            None => format!("{}s", self.effective_ttl()),
        }
    }
}

/// Which release takes the traffic, from the records' weights (a release without a record has weight 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Live {
    /// One release above 0: `(live, idle)`.
    One(String, String),
    /// Both above 0.
    Split,
    /// Neither.
    None,
}

fn weight_of(records: &[RecordSeen], release: &str) -> Option<u8> {
    records.iter().find(|r| r.set_identifier == release).map(|r| r.weight)
}

/// The live release among `releases` (the file's two tag values).
pub fn live_release(releases: [&str; 2], records: &[RecordSeen]) -> Live {
    let [a, b] = releases;
    match (weight_of(records, a).unwrap_or(0), weight_of(records, b).unwrap_or(0)) {
        (0, 0) => Live::None,
        (_, 0) => Live::One(a.to_string(), b.to_string()),
        (0, _) => Live::One(b.to_string(), a.to_string()),
        _ => Live::Split,
    }
}

/// The fqdn's weighted records against the group's releases: exactly one record per release
/// (`SetIdentifier` = its tag value; the idle release may have none, as after `hookline undeploy`),
/// no other weighted record, one TTL, each an alias of its release's load balancer, and the
/// weights on one release only unless a deployment (`in_progress`) is moving them.
pub fn record_checks(
    fqdn: &str,
    releases: [&str; 2],
    load_balancers: &[LoadBalancerRelease],
    records: &[RecordSeen],
    in_progress: Option<&str>,
) -> Vec<Check> {
    let mut out = Vec::new();
    let live = live_release(releases, records);
    // Which records there are.
    let foreign: Vec<&RecordSeen> = records.iter().filter(|r| !releases.contains(&r.set_identifier.as_str())).collect();
    let doubled: Vec<&str> = releases
        .iter()
        .copied()
        .filter(|rel| records.iter().filter(|r| r.set_identifier == *rel).count() > 1)
        .collect();
    let missing: Vec<&str> = releases.iter().copied().filter(|rel| weight_of(records, rel).is_none()).collect();
    let check = "weighted records";
    if !foreign.is_empty() {
        let names: Vec<String> =
            foreign.iter().map(|r| format!("{} (weight {})", r.set_identifier, r.weight)).collect();
        out.push(Check::fail(
            check,
            format!(
                "{fqdn} has weighted A records of no release of the group: {}; Route 53 gives them their share",
                names.join(", ")
            ),
            format!("delete them: the records are one per release, SetIdentifier {} and {}", releases[0], releases[1]),
        ));
    } else if !doubled.is_empty() {
        out.push(Check::fail(
            check,
            format!("several records of {fqdn} with SetIdentifier {}", doubled.join(", ")),
            "keep one record per release",
        ));
    } else {
        match (missing.as_slice(), &live) {
            ([], _) => out.push(Check::ok(
                check,
                format!("{fqdn}: two weighted A records, SetIdentifier {} and {}", releases[0], releases[1]),
            )),
            ([idle], Live::One(live, _)) => out.push(Check::warn(
                check,
                format!(
                    "{fqdn}: no record with SetIdentifier {idle} (the idle release; as after hookline undeploy), \
                     {live}'s only"
                ),
                format!("nothing to do: the next hookline deploy writes {idle}'s record at its first weight step"),
            )),
            _ => out.push(Check::fail(
                check,
                format!(
                    "{fqdn}: no weighted A record with SetIdentifier {}: no release takes the traffic",
                    missing.join(", ")
                ),
                format!(
                    "write the live release's record (alias to its load balancer, weight 100); the records are one \
                     per release, SetIdentifier {} and {}",
                    releases[0], releases[1]
                ),
            )),
        }
    }
    // The releases' records, in the file's order of the releases (Route 53 lists them by SetIdentifier).
    let ours: Vec<&RecordSeen> =
        releases.iter().flat_map(|rel| records.iter().filter(move |r| r.set_identifier == *rel)).collect();
    // One TTL for the weighted set.
    let mut ttls: Vec<u64> = ours.iter().map(|r| r.effective_ttl()).collect();
    ttls.sort_unstable();
    ttls.dedup();
    if ttls.len() > 1 {
        let each: Vec<String> = ours.iter().map(|r| format!("{} {}", r.set_identifier, r.ttl_words())).collect();
        out.push(Check::fail(
            "record TTL",
            format!(
                "the weighted records of {fqdn} have different TTLs: {} (\"All of the resource record sets in a \
                 group of weighted resource record sets must have the same value for TTL\", Route 53 API reference)",
                each.join(", ")
            ),
            "make every release's record an alias to its load balancer, as hookline writes them (one TTL, the load \
             balancer's 60s)",
        ));
    } else if let Some(one) = ours.first() {
        out.push(Check::ok("record TTL", format!("{} on every record", one.ttl_words())));
    }
    // Each record an alias of its release's load balancer.
    for r in &ours {
        let check = format!("record {} target", r.set_identifier);
        let Some(lb) = load_balancers.iter().find(|l| l.release == r.set_identifier) else {
            out.push(Check::fail(
                check,
                format!("no load balancer of the group carries {RELEASE_TAG}={}", r.set_identifier),
                "tag the release's load balancer (see load balancers)",
            ));
            continue;
        };
        let name = load_balancer_name(&lb.load_balancer_arn);
        match &r.alias {
            Some(a) if alias_matches(a, lb) => {
                out.push(Check::ok(check, format!("alias to {name} ({})", lb.dns_name)));
            }
            Some(a) => out.push(Check::fail(
                check,
                format!(
                    "alias to {} (zone {}), not to {name}, the load balancer tagged {RELEASE_TAG}={} ({}, zone {})",
                    a.dns_name, a.hosted_zone_id, r.set_identifier, lb.dns_name, lb.canonical_hosted_zone_id
                ),
                format!(
                    "point the record at its load balancer: AliasTarget DNSName {}, HostedZoneId {}",
                    lb.dns_name, lb.canonical_hosted_zone_id
                ),
            )),
            None => out.push(Check::fail(
                check,
                format!("not an alias record (TTL {}s, its own values): it does not follow {name}", r.effective_ttl()),
                format!(
                    "replace it by an alias record: AliasTarget DNSName {}, HostedZoneId {}, EvaluateTargetHealth true",
                    lb.dns_name, lb.canonical_hosted_zone_id
                ),
            )),
        }
    }
    // The weights.
    let shown: Vec<String> = releases
        .iter()
        .map(|rel| match weight_of(records, rel) {
            Some(w) => format!("{rel} {w}"),
            None => format!("{rel} (no record)"),
        })
        .collect();
    let shown = shown.join(" / ");
    out.push(match (&live, in_progress) {
        (Live::One(live, idle), _) => {
            Check::ok("weights", format!("{shown}: {live} takes the traffic, {idle} is idle"))
        }
        (Live::Split, Some(id)) => Check::warn(
            "weights",
            format!("{shown}: split by deployment {id}, in progress"),
            format!("follow it: hookline watch {id}"),
        ),
        (Live::Split, None) => Check::fail(
            "weights",
            format!(
                "{shown} with no deployment in progress: a split left behind (hookline deploy needs an idle release \
                 at weight 0)"
            ),
            "put the traffic on one release: the one that should serve at 100 and the other at 0, both records \
             in one ChangeResourceRecordSets batch",
        ),
        (Live::None, _) => Check::fail(
            "weights",
            format!("{shown}: no release has a weight above 0"),
            "give the release that should serve weight 100 (and the other 0)",
        ),
    });
    out
}

/// An alias names its load balancer: the same DNS name (case and trailing dot aside, with or
/// without the `dualstack.` prefix Route 53 accepts for load balancers) in its canonical zone.
fn alias_matches(alias: &AliasSeen, lb: &LoadBalancerRelease) -> bool {
    let name = normalize(&alias.dns_name);
    let name = name.strip_prefix("dualstack.").unwrap_or(&name);
    name == normalize(&lb.dns_name) && alias.hosted_zone_id == lb.canonical_hosted_zone_id
}

// ------------------------------------------------------------------ bakes

/// The plan's bakes against the TTL the records really carry: every weight step's bake at least
/// that TTL plus the resolver grace, by the deployment file's own rule
/// ([`Dns::short_bake`]), with the larger of the file's `hookline.dns.ttl` and the records' TTL.
pub fn bake_checks(plan: &Plan, dns: &Dns, records_ttl: Option<u64>) -> Vec<Check> {
    let ttl = dns.ttl_seconds.max(records_ttl.unwrap_or(0));
    let rule = Dns { ttl_seconds: ttl, ..dns.clone() };
    let short: Vec<String> = plan
        .steps
        .iter()
        .enumerate()
        .filter_map(|(i, step)| match step {
            Step::Weight { weight, bake_seconds } => {
                rule.short_bake(*bake_seconds).map(|p| format!("step {} (weight {weight}): {p}", i + 1))
            }
            _ => None,
        })
        .collect();
    let whose = match records_ttl {
        Some(t) if t > dns.ttl_seconds => {
            format!("the records' TTL in Route 53 is {t}s, above the file's hookline.dns.ttl {}s", dns.ttl_seconds)
        }
        _ => format!("hookline.dns.ttl {}s", dns.ttl_seconds),
    };
    if short.is_empty() {
        return vec![Check::ok(
            "bakes",
            format!(
                "every weight step bakes at least {} (TTL {}s + resolver grace {}s; {whose})",
                human(rule.min_bake_seconds()),
                ttl,
                dns.resolver_grace_seconds
            ),
        )];
    }
    vec![Check::fail(
        "bakes",
        format!("{whose}: {}", short.join("; ")),
        format!(
            "make every canary.strategy wait at least {} and hookline.dns.ttl {ttl}s, or give the records the \
             load balancer's TTL again (alias records)",
            rule.min_bake_seconds()
        ),
    )]
}

// ------------------------------------------------------------------ services

/// A release's ECS service as doctor read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceSeen {
    pub release: String,
    /// `cluster/service`.
    pub name: String,
    /// `None`: no such service (or not ACTIVE).
    pub facts: Option<ServiceFacts>,
    /// Its release's target group's targets (the live release only).
    pub targets: Option<TargetFacts>,
    pub target_group: Option<String>,
}

/// The live release's service exists, is stable (the `services_stable` waiter's rule) with at
/// least one task, and its targets are healthy; the idle release's service, if any, runs nothing
/// unless a deployment is under way.
pub fn service_checks(
    live: &ServiceSeen,
    idle: &ServiceSeen,
    in_progress: Option<&str>,
    environment: Option<&str>,
) -> Vec<Check> {
    let mut out = serving_checks(live);
    out.extend(idle_checks(idle, in_progress, environment));
    out
}

/// A release that takes traffic (the live one; both while the records are split): its service
/// exists, wants at least one task, is stable, and its targets are healthy.
pub fn serving_checks(live: &ServiceSeen) -> Vec<Check> {
    let mut out = Vec::new();
    let check = format!("service of {} (live)", live.release);
    match live.facts.as_ref().filter(|f| f.active) {
        None => out.push(Check::fail(
            check,
            format!("{} does not exist: release {} takes the traffic with no task behind it", live.name, live.release),
            format!("create {} behind its target group, or put the traffic back on a release that runs", live.name),
        )),
        Some(f) if f.desired == 0 => out.push(Check::fail(
            check,
            format!("{} wants 0 tasks while release {} takes the traffic", live.name, live.release),
            format!("scale {} up", live.name),
        )),
        Some(f) if !f.stable() => out.push(Check::fail(
            check,
            format!(
                "{} is not stable: {} of {} tasks running, {} deployment(s)",
                live.name, f.running, f.desired, f.deployments
            ),
            "see the service's events (aws ecs describe-services); run doctor again once it is stable",
        )),
        Some(f) => {
            out.push(Check::ok(check, format!("{} stable, {} of {} tasks running", live.name, f.running, f.desired)))
        }
    }
    let tg = live.target_group.as_deref().unwrap_or("(none)");
    let check = format!("targets of {}", live.release);
    match (&live.targets, live.facts.as_ref()) {
        (Some(t), Some(f)) if t.healthy > 0 && t.healthy >= t.registered.min(f.desired as usize) => {
            out.push(Check::ok(check, format!("{} of {} targets healthy in {tg}", t.healthy, t.registered)))
        }
        (Some(t), _) => out.push(Check::fail(
            check,
            format!("{} of {} targets healthy in {tg}", t.healthy, t.registered),
            "see the target group's health check reasons (aws elbv2 describe-target-health)",
        )),
        (None, _) => {}
    }
    out
}

/// The idle release's service runs nothing, unless a deployment is under way.
fn idle_checks(idle: &ServiceSeen, in_progress: Option<&str>, environment: Option<&str>) -> Vec<Check> {
    let mut out = Vec::new();
    let check = format!("service of {} (idle)", idle.release);
    match idle.facts.as_ref().filter(|f| f.active) {
        None => out.push(Check::ok(check, format!("{} does not exist (hookline deploy creates it)", idle.name))),
        Some(f) if f.desired == 0 && f.running == 0 => out.push(Check::ok(check, format!("{} at 0 tasks", idle.name))),
        Some(f) => match in_progress {
            Some(id) => out.push(Check::ok(
                check,
                format!(
                    "{} wants {} tasks ({} running): deployment {id} is under way",
                    idle.name, f.desired, f.running
                ),
            )),
            None => out.push(Check::fail(
                check,
                format!(
                    "{} wants {} tasks ({} running) with no deployment in progress: a release left up",
                    idle.name, f.desired, f.running
                ),
                format!(
                    "scale {} to 0, or remove it: hookline undeploy -e {} --release {}",
                    idle.name,
                    environment.unwrap_or("ENV"),
                    idle.release
                ),
            )),
        },
    }
    out
}

// ------------------------------------------------------------------ release records

/// A release record of the fqdn (`<prefix>/dns/<id>`) and its canary execution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseSeen {
    pub deployment_id: String,
    pub parameter: String,
    pub status: ReleaseStatus,
    pub execution_arn: Option<String>,
    /// `None`: the execution does not exist (or the record names none).
    pub execution: Option<RunStatus>,
    /// Ended, its drain (if any) over, and its services' part still not done: the release that
    /// lost is still running (a `hookline rollback` interrupted while it waited the drain, or a
    /// scale-down that failed past every retry).
    pub end_unfinished: bool,
}

/// No release record left `in-progress` without a running canary execution (nothing would end
/// it: DNS stays where it is and green keeps its tasks). Returns the checks and the deployment in
/// progress, if one is.
pub fn release_record_checks(fqdn: &str, records: &[ReleaseSeen]) -> (Vec<Check>, Option<String>) {
    let mut out = Vec::new();
    let mut running = None;
    for r in records.iter().filter(|r| r.status == ReleaseStatus::InProgress) {
        let check = format!("release record {}", r.deployment_id);
        match (&r.execution_arn, &r.execution) {
            (Some(_), Some(RunStatus::Running)) => {
                out.push(Check::ok(check, "in progress, its canary execution is running"));
                running.get_or_insert_with(|| r.deployment_id.clone());
            }
            (arn, status) => {
                let why = match (arn, status) {
                    (None, _) => "names no canary execution".to_string(),
                    (Some(arn), None) => format!("names canary execution {arn}, which does not exist"),
                    (Some(_), Some(s)) => format!("but its canary execution ended {}", run_word(s)),
                };
                out.push(Check::fail(
                    check,
                    format!(
                        "{} is in-progress {why}: nothing will end this deployment (DNS stays as it is, green keeps \
                         its tasks)",
                        r.parameter
                    ),
                    format!(
                        "hookline rollback {}: DNS back on blue 100, the record marked stopped, green scaled to 0",
                        r.deployment_id
                    ),
                ));
            }
        }
    }
    for r in records.iter().filter(|r| r.end_unfinished && r.status != ReleaseStatus::InProgress) {
        let (lost, fix) = if r.status == ReleaseStatus::Succeeded {
            (
                "blue's service still has its tasks",
                "hookline rollback {id}: it finds the success and finishes its scale-down",
            )
        } else {
            ("green's service still has its tasks", "hookline rollback {id}: DNS stays on blue, green scaled to 0")
        };
        out.push(Check::fail(
            format!("release record {}", r.deployment_id),
            format!("{} ended {:?} but its end is unfinished: {lost}", r.parameter, r.status),
            fix.replace("{id}", &r.deployment_id),
        ));
    }
    if out.is_empty() {
        out.push(Check::ok(
            "release records",
            format!("no deployment in progress on {fqdn} ({} release record(s))", records.len()),
        ));
    }
    (out, running)
}

fn run_word(s: &RunStatus) -> String {
    match s {
        RunStatus::Running => "RUNNING".into(),
        RunStatus::Succeeded => "SUCCEEDED".into(),
        RunStatus::Failed => "FAILED".into(),
        RunStatus::TimedOut => "TIMED_OUT".into(),
        RunStatus::Aborted => "ABORTED".into(),
        RunStatus::Unrecognized(w) => w.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verbs::doctor::report::Status;
    use hookline::plan::Controller;

    fn lb(release: &str) -> LoadBalancerRelease {
        LoadBalancerRelease {
            release: release.into(),
            load_balancer_arn: format!(
                "arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/r53-private-{release}/abc"
            ),
            dns_name: format!("r53-private-{release}-1.us-east-1.elb.amazonaws.com"),
            canonical_hosted_zone_id: "Z35SXDOTRQ7X7K".into(),
            target_group_arn: Some(format!("arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/r53-{release}/1")),
            target_group_name: Some(format!("r53-{release}")),
            region: None,
            role_arn: None,
        }
    }

    fn alias_record(release: &str, weight: u8) -> RecordSeen {
        let lb = lb(release);
        RecordSeen {
            set_identifier: release.into(),
            weight,
            ttl_seconds: None,
            alias: Some(AliasSeen {
                dns_name: format!("{}.", lb.dns_name),
                hosted_zone_id: lb.canonical_hosted_zone_id,
            }),
        }
    }

    fn plain_record(release: &str, weight: u8, ttl: u64) -> RecordSeen {
        RecordSeen { set_identifier: release.into(), weight, ttl_seconds: Some(ttl), alias: None }
    }

    const FQDN: &str = "web.shop.example.com";
    const RELEASES: [&str; 2] = ["blue", "green"];

    fn failing(checks: &[Check]) -> Vec<&Check> {
        checks.iter().filter(|c| c.status == Status::Fail).collect()
    }

    fn named<'a>(checks: &'a [Check], name: &str) -> &'a Check {
        checks.iter().find(|c| c.check == name).unwrap_or_else(|| panic!("no check {name}: {checks:#?}"))
    }

    #[test]
    fn two_tagged_load_balancers_with_listeners_pass_and_a_third_is_named() {
        let ok = load_balancer_checks("private", RELEASES, &[lb("blue"), lb("green")]);
        assert!(failing(&ok).is_empty(), "{ok:#?}");
        assert_eq!(ok.len(), 3, "the group, then a listener per release: {ok:#?}");

        let three = load_balancer_checks("private", RELEASES, &[lb("blue"), lb("green"), lb("canary")]);
        let f = failing(&three);
        assert_eq!(f.len(), 1, "{three:#?}");
        assert_eq!(f[0].check, "load balancers");
        assert!(f[0].detail.contains("exactly two load balancers tagged CanaryGroup=private"), "{}", f[0].detail);
        assert!(f[0].detail.contains("found 3") && f[0].detail.contains("r53-private-canary (CanaryRelease=canary)"));
        assert!(f[0].fix.as_deref().is_some_and(|x| x.contains("take the CanaryGroup tag off")));

        let same = load_balancer_checks("private", RELEASES, &[lb("blue"), lb("blue")]);
        assert!(named(&same, "load balancers").detail.contains("both load balancers tagged CanaryGroup=private carry"));

        let mut deaf = lb("green");
        deaf.target_group_arn = None;
        deaf.target_group_name = None;
        let no_listener = load_balancer_checks("private", RELEASES, &[lb("blue"), deaf]);
        let f = failing(&no_listener);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].check, "listener of green");
        assert!(f[0].detail.contains("r53-private-green has no listener forwarding to a target group"));
    }

    #[test]
    fn healthy_records_pass() {
        let checks = record_checks(
            FQDN,
            RELEASES,
            &[lb("blue"), lb("green")],
            &[alias_record("blue", 100), alias_record("green", 0)],
            None,
        );
        assert!(checks.iter().all(|c| c.status == Status::Ok), "{checks:#?}");
        assert!(named(&checks, "weights").detail.contains("blue takes the traffic, green is idle"));
        assert!(named(&checks, "record TTL").detail.contains("60s (alias: the load balancer's)"));
    }

    #[test]
    fn a_split_left_behind_fails_and_a_split_by_a_running_deployment_warns() {
        let lbs = [lb("blue"), lb("green")];
        let records = [alias_record("blue", 90), alias_record("green", 10)];
        let left = record_checks(FQDN, RELEASES, &lbs, &records, None);
        let f = failing(&left);
        assert_eq!(f.len(), 1, "{left:#?}");
        assert_eq!(f[0].check, "weights");
        assert!(f[0].detail.contains("blue 90 / green 10 with no deployment in progress: a split left behind"));
        let running = record_checks(FQDN, RELEASES, &lbs, &records, Some("dns-20261206-100000-abcd"));
        assert!(failing(&running).is_empty());
        assert_eq!(named(&running, "weights").status, Status::Warn);
        assert_eq!(live_release(RELEASES, &records), Live::Split);
    }

    #[test]
    fn records_with_different_ttls_fail_naming_each_ttl() {
        let lbs = [lb("blue"), lb("green")];
        let checks =
            record_checks(FQDN, RELEASES, &lbs, &[alias_record("blue", 100), plain_record("green", 0, 300)], None);
        let ttl = named(&checks, "record TTL");
        assert_eq!(ttl.status, Status::Fail);
        assert!(ttl.detail.contains("blue 60s (alias: the load balancer's), green 300s"), "{}", ttl.detail);
        // The record with its own values does not follow green's load balancer either.
        let target = named(&checks, "record green target");
        assert_eq!(target.status, Status::Fail);
        assert!(target.detail.contains("not an alias record (TTL 300s"), "{}", target.detail);
        // Same TTL on both (both plain): only the targets fail.
        let same =
            record_checks(FQDN, RELEASES, &lbs, &[plain_record("blue", 100, 60), plain_record("green", 0, 60)], None);
        assert_eq!(named(&same, "record TTL").status, Status::Ok);
    }

    #[test]
    fn a_missing_live_record_fails_and_a_missing_idle_record_only_warns() {
        let lbs = [lb("blue"), lb("green")];
        let live_gone = record_checks(FQDN, RELEASES, &lbs, &[alias_record("green", 0)], None);
        let records = named(&live_gone, "weighted records");
        assert_eq!(records.status, Status::Fail);
        assert!(records.detail.contains("no weighted A record with SetIdentifier blue: no release takes the traffic"));
        assert_eq!(named(&live_gone, "weights").status, Status::Fail);

        let idle_gone = record_checks(FQDN, RELEASES, &lbs, &[alias_record("blue", 100)], None);
        assert!(failing(&idle_gone).is_empty(), "{idle_gone:#?}");
        assert_eq!(named(&idle_gone, "weighted records").status, Status::Warn);
    }

    #[test]
    fn an_alias_to_another_load_balancer_and_a_foreign_record_fail() {
        let lbs = [lb("blue"), lb("green")];
        let mut crossed = alias_record("green", 0);
        crossed.alias = alias_record("blue", 0).alias;
        let checks = record_checks(FQDN, RELEASES, &lbs, &[alias_record("blue", 100), crossed], None);
        let f = failing(&checks);
        assert_eq!(f.len(), 1, "{checks:#?}");
        assert!(f[0].detail.contains("not to r53-private-green"), "{}", f[0].detail);
        // `dualstack.` names the same load balancer.
        let mut dual = alias_record("green", 0);
        if let Some(a) = dual.alias.as_mut() {
            a.dns_name = format!("dualstack.{}", a.dns_name.to_uppercase());
        }
        assert!(failing(&record_checks(FQDN, RELEASES, &lbs, &[alias_record("blue", 100), dual], None)).is_empty());

        let foreign = record_checks(
            FQDN,
            RELEASES,
            &lbs,
            &[alias_record("blue", 100), alias_record("green", 0), plain_record("old", 5, 60)],
            None,
        );
        assert!(named(&foreign, "weighted records").detail.contains("old (weight 5)"));
    }

    fn plan(bakes: &[u64]) -> Plan {
        let steps: Vec<String> = bakes
            .iter()
            .enumerate()
            .map(|(i, b)| format!(r#"{{"weight": {}, "bake": "{b}s"}}"#, if i + 1 == bakes.len() { 100 } else { 50 }))
            .collect();
        let json = format!(r#"{{"steps": [{}], "hook_budget": "30m"}}"#, steps.join(","));
        Plan::from_json_for(&json, Controller::Route53).expect("a valid plan")
    }

    fn dns() -> Dns {
        Dns { ttl_seconds: 60, resolver_grace_seconds: 10, min_observed_percent: None }
    }

    #[test]
    fn bakes_are_checked_against_the_ttl_the_records_carry() {
        let p = plan(&[70, 70]);
        let ok = bake_checks(&p, &dns(), Some(60));
        assert_eq!(ok[0].status, Status::Ok, "{ok:#?}");
        assert!(ok[0].detail.contains("at least 1m 10s (TTL 60s + resolver grace 10s"), "{}", ok[0].detail);

        let long = bake_checks(&p, &dns(), Some(300));
        assert_eq!(long[0].status, Status::Fail);
        assert!(long[0]
            .detail
            .starts_with("the records' TTL in Route 53 is 300s, above the file's hookline.dns.ttl 60s"));
        // The deployment file's own rule and words (Dns::short_bake), per step.
        assert!(long[0]
            .detail
            .contains("step 1 (weight 50): at least 310 (the records' TTL 300s + the resolver grace 10s"));
        assert!(long[0].detail.contains("step 2 (weight 100)"));
        assert!(long[0].fix.as_deref().is_some_and(|f| f.contains("wait at least 310")));
    }

    fn facts(desired: u32, running: u32, deployments: usize) -> ServiceFacts {
        ServiceFacts { desired, running, task_definition: None, deployments, active: true }
    }

    fn seen(release: &str, facts: Option<ServiceFacts>, targets: Option<TargetFacts>) -> ServiceSeen {
        ServiceSeen {
            release: release.into(),
            name: format!("shop/shop-web-{release}"),
            facts,
            targets,
            target_group: Some(format!("r53-{release}")),
        }
    }

    #[test]
    fn the_live_service_must_be_stable_and_healthy_and_the_idle_one_at_zero() {
        let healthy = Some(TargetFacts { healthy: 2, registered: 2 });
        let live = seen("blue", Some(facts(2, 2, 1)), healthy);
        let ok = service_checks(&live, &seen("green", None, None), None, Some("shop"));
        assert!(failing(&ok).is_empty(), "{ok:#?}");
        assert!(service_checks(&live, &seen("green", Some(facts(0, 0, 1)), None), None, None)
            .iter()
            .all(|c| c.status == Status::Ok));

        let rolling =
            service_checks(&seen("blue", Some(facts(2, 1, 2)), healthy), &seen("green", None, None), None, None);
        assert!(named(&rolling, "service of blue (live)")
            .detail
            .contains("not stable: 1 of 2 tasks running, 2 deployment"));
        let gone = service_checks(&seen("blue", None, None), &seen("green", None, None), None, None);
        assert!(named(&gone, "service of blue (live)").detail.contains("shop/shop-web-blue does not exist"));
        let sick = service_checks(
            &seen("blue", Some(facts(2, 2, 1)), Some(TargetFacts { healthy: 0, registered: 2 })),
            &seen("green", None, None),
            None,
            None,
        );
        assert!(named(&sick, "targets of blue").detail.contains("0 of 2 targets healthy in r53-blue"));

        let up = seen("green", Some(facts(2, 2, 1)), None);
        let left = service_checks(&live, &up, None, Some("shop"));
        let idle = named(&left, "service of green (idle)");
        assert_eq!(idle.status, Status::Fail);
        assert!(idle.fix.as_deref().is_some_and(|f| f.contains("hookline undeploy -e shop --release green")));
        let deploying = service_checks(&live, &up, Some("dns-1"), None);
        assert_eq!(named(&deploying, "service of green (idle)").status, Status::Ok);
        // While split, both releases serve: each is checked as the live one is.
        let serving = serving_checks(&seen("green", None, None));
        assert_eq!(named(&serving, "service of green (live)").status, Status::Fail);
    }

    fn release(id: &str, status: ReleaseStatus, execution: Option<RunStatus>) -> ReleaseSeen {
        ReleaseSeen {
            deployment_id: id.into(),
            parameter: format!("/hookline/dns/{id}"),
            status,
            execution_arn: Some(format!(
                "arn:aws:states:us-east-1:1:execution:hookline-canary:{id}-BeforeAllowTraffic"
            )),
            execution,
            end_unfinished: false,
        }
    }

    #[test]
    fn a_release_record_in_progress_without_a_running_execution_fails() {
        let (ok, running) = release_record_checks(
            FQDN,
            &[
                release("dns-1", ReleaseStatus::Succeeded, None),
                release("dns-2", ReleaseStatus::InProgress, Some(RunStatus::Running)),
            ],
        );
        assert_eq!(running.as_deref(), Some("dns-2"));
        assert!(failing(&ok).is_empty());

        let (left, running) =
            release_record_checks(FQDN, &[release("dns-3", ReleaseStatus::InProgress, Some(RunStatus::Failed))]);
        assert_eq!(running, None);
        let f = failing(&left);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].check, "release record dns-3");
        assert!(f[0].detail.contains("/hookline/dns/dns-3 is in-progress but its canary execution ended FAILED"));
        assert!(f[0].fix.as_deref().is_some_and(|x| x.starts_with("hookline rollback dns-3")));

        let (gone, _) = release_record_checks(FQDN, &[release("dns-4", ReleaseStatus::InProgress, None)]);
        assert!(failing(&gone)[0].detail.contains("which does not exist"));
        let (quiet, _) = release_record_checks(FQDN, &[]);
        assert_eq!(quiet[0].check, "release records");
    }
}

#[cfg(test)]
mod unfinished_end_tests {
    use super::*;

    #[test]
    fn an_ended_release_whose_losing_service_was_never_scaled_fails_with_rollback_as_the_fix() {
        let seen = |status, end_unfinished| ReleaseSeen {
            deployment_id: "dns-1".into(),
            parameter: "/hookline/dns/dns-1".into(),
            status,
            execution_arn: None,
            execution: None,
            end_unfinished,
        };
        let (checks, running) = release_record_checks("web.shop.example.com", &[seen(ReleaseStatus::Failed, true)]);
        assert_eq!(running, None);
        let [c] = checks.as_slice() else { panic!("{checks:?}") };
        assert_eq!(c.status, crate::verbs::doctor::report::Status::Fail, "{c:?}");
        assert!(c.detail.contains("green's service still has its tasks"), "{c:?}");
        assert!(c.fix.as_deref().is_some_and(|f| f.starts_with("hookline rollback dns-1")), "{c:?}");
        let (checks, _) = release_record_checks("web.shop.example.com", &[seen(ReleaseStatus::Failed, false)]);
        assert!(checks.iter().all(|c| c.status != crate::verbs::doctor::report::Status::Fail), "{checks:?}");
    }
}
