//! `hookline doctor -e ENV [-f FILE | -d DIR] [--fqdn NAME]`: hookline's own Route 53 controller
//! (docs/route53-controller.md). Reads only (Describe/List/Get, STS, IAM's simulator or the
//! roles' policies); the verdicts are [`super::dns_rules`]'.

use std::path::PathBuf;

use hookline::deployfile::{Context, DeployFile};
use hookline::dns::{normalize, HostedZone, LoadBalancerRelease};
use hookline::error::AwsResultExt;
use hookline::execution::ServiceRef;
use hookline::flows::dns_release::{group_load_balancers, release_service};
use hookline::health::TargetFacts;
use hookline::plan::Controller;
use hookline::ports::{Executions, ReleaseDiscovery, Services};

use super::common::{self, push, unreadable, Found};
use super::dns_rules::{self, AliasSeen, Live, RecordSeen, ReleaseSeen, ServiceSeen};
use super::report::{Check, Report};
use crate::aws::Aws;
use crate::deploy_file as df;
use crate::error::short_error;

/// How the operator named the deployment: its file (`-e ENV`, `-f`, `-d`) and/or its records' name.
#[derive(Debug, Clone)]
pub struct DnsTarget {
    pub env: Option<String>,
    pub file: Option<PathBuf>,
    pub dir: Option<PathBuf>,
    pub fqdn: Option<String>,
}

/// What the checks run on: from the deployment file, or without one from the newest release
/// record on `--fqdn` (then the file's own checks are not made).
struct Subject {
    fqdn: String,
    group: String,
    /// The two `CanaryRelease` values (`canary.releases`: blue's, green's as written).
    releases: [String; 2],
    /// Each release's service, in the release's own cluster, Region and role (the same order).
    services: [ServiceRef; 2],
    file: Option<DeployFile>,
    environment: Option<String>,
}

/// Every check of a Route 53 controller deployment.
pub async fn examine(aws: &Aws, target: &DnsTarget, strict: bool) -> Report {
    let mut out: Found = Vec::new();
    common::state_machine_checks(aws, &mut out).await;
    let subject = match subject(aws, target, &mut out).await {
        Some(s) => s,
        None => return Report::new(describe(target, None), Controller::Route53.as_str(), strict, out),
    };
    let c = "configuration";
    // The hosted zone and the group's load balancers, as the controller finds them.
    let discovery = aws.clients.release_discovery();
    let zone = match discovery.hosted_zone(&subject.fqdn).await {
        Ok(z) => {
            push(&mut out, c, [Check::ok("hosted zone", format!("{} ({}) holds {}", z.name, z.id, subject.fqdn))]);
            Some(z)
        }
        Err(hookline::Error::InvalidInput { .. }) => {
            push(
                &mut out,
                c,
                [Check::fail(
                    "hosted zone",
                    format!("no hosted zone of this account holds {}", subject.fqdn),
                    "create the hosted zone, or fix service.fqdn",
                )],
            );
            None
        }
        Err(e) => {
            push(&mut out, c, [unreadable("hosted zone", "list hosted zones (route53:ListHostedZonesByName)", &e)]);
            None
        }
    };
    let wanted = [subject.releases[0].as_str(), subject.releases[1].as_str()];
    let placed = [0, 1].map(|i| (wanted[i], subject.services[i].placement()));
    let load_balancers = match group_load_balancers(&discovery, &subject.group, &placed).await {
        Ok(found) => {
            push(&mut out, c, dns_rules::load_balancer_checks(&subject.group, wanted, &found));
            found
        }
        Err(e @ hookline::Error::InvalidInput { .. }) => {
            // A load balancer of the group without its CanaryRelease tag: the controller's own words.
            push(
                &mut out,
                c,
                [Check::fail(
                    "load balancers",
                    short_error(&e),
                    "tag every load balancer of the group with its CanaryRelease",
                )],
            );
            Vec::new()
        }
        Err(e) => {
            push(
                &mut out,
                c,
                [unreadable("load balancers", "find the group's load balancers (elasticloadbalancing:Describe*)", &e)],
            );
            Vec::new()
        }
    };
    let ours: Vec<&LoadBalancerRelease> =
        load_balancers.iter().filter(|l| wanted.contains(&l.release.as_str())).collect();

    // The release records: a deployment in progress, or one left in progress.
    let t = "traffic";
    let in_progress = match release_records(aws, &subject.fqdn).await {
        Ok(seen) => {
            let (checks, running) = dns_rules::release_record_checks(&subject.fqdn, &seen);
            push(&mut out, t, checks);
            running
        }
        Err(e) => {
            push(
                &mut out,
                t,
                [unreadable("release records", "read the release records (ssm:GetParametersByPath, states)", &e)],
            );
            None
        }
    };

    // The weighted records.
    let mut records_ttl = None;
    let mut live = Live::None;
    if let Some(zone) = &zone {
        match weighted_records(aws, &zone.id, &subject.fqdn).await {
            Ok(records) => {
                let owned: Vec<LoadBalancerRelease> = ours.iter().map(|l| (*l).clone()).collect();
                push(
                    &mut out,
                    t,
                    dns_rules::record_checks(&subject.fqdn, wanted, &owned, &records, in_progress.as_deref()),
                );
                records_ttl = records
                    .iter()
                    .filter(|r| wanted.contains(&r.set_identifier.as_str()))
                    .map(RecordSeen::effective_ttl)
                    .max();
                live = dns_rules::live_release(wanted, &records);
            }
            Err(e) => push(
                &mut out,
                t,
                [unreadable("weighted records", "list the records (route53:ListResourceRecordSets)", &e)],
            ),
        }
    }

    // The releases' services.
    match &live {
        Live::One(live_release, idle_release) => {
            let live_seen = service_seen(aws, &subject, live_release, &load_balancers, true, &mut out).await;
            let idle_seen = service_seen(aws, &subject, idle_release, &load_balancers, false, &mut out).await;
            if let (Some(l), Some(i)) = (live_seen, idle_seen) {
                let env = subject.environment.as_deref();
                push(&mut out, c, dns_rules::service_checks(&l, &i, in_progress.as_deref(), env));
            }
        }
        // Both take traffic: both must serve.
        Live::Split => {
            for release in wanted {
                if let Some(s) = service_seen(aws, &subject, release, &load_balancers, true, &mut out).await {
                    push(&mut out, c, dns_rules::serving_checks(&s));
                }
            }
        }
        Live::None => {}
    }

    // The plan: bakes against the records' TTL, alarms.
    if let Some(file) = &subject.file {
        push(&mut out, "plan", dns_rules::bake_checks(&file.plan, &file.dns, records_ttl));
        common::alarm_check(aws, &file.plan, &mut out).await;
    }

    // The function roles.
    if let Some(zone) = &zone {
        permissions(aws, &subject, zone, &mut out).await;
    } else {
        push(
            &mut out,
            "permissions",
            [Check::warn("function roles", "not checked: the hosted zone was not found", "fix the hosted zone first")],
        );
    }
    Report::new(describe(target, Some(&subject)), Controller::Route53.as_str(), strict, out)
}

/// `Route 53 web.shop.example.com (shop.deploy.yml)`.
fn describe(target: &DnsTarget, subject: Option<&Subject>) -> String {
    let fqdn = subject.map(|s| s.fqdn.clone()).or_else(|| target.fqdn.clone()).unwrap_or_default();
    match df::file_of(target.env.as_deref(), target.file.as_deref(), target.dir.as_deref()) {
        Ok(path) => format!("Route 53 {fqdn} ({})", path.display()),
        Err(_) => format!("Route 53 {fqdn}"),
    }
}

/// The deployment file's check (parsed and rendered as `hookline deploy` does, for the caller's
/// account), or without a file the newest release record on `--fqdn`.
async fn subject(aws: &Aws, target: &DnsTarget, out: &mut Found) -> Option<Subject> {
    let p = "plan";
    if target.env.is_none() && target.file.is_none() {
        return subject_of_record(aws, target, out).await;
    }
    let path = match df::file_of(target.env.as_deref(), target.file.as_deref(), target.dir.as_deref()) {
        Ok(path) => path,
        Err(e) => {
            push(out, p, [Check::fail("deployment file", e.0, "name it: -e ENV [-d DIR], or -f FILE")]);
            return None;
        }
    };
    let check = "deployment file";
    let text = match df::read(&path) {
        Ok(t) => t,
        Err(e) => {
            push(out, p, [Check::fail(check, e.0, "run doctor where the file is, or name it with -d DIR / -f FILE")]);
            return None;
        }
    };
    let account = match df::account_id(aws, None).await {
        Ok(a) => a,
        Err(e) => {
            push(
                out,
                p,
                [Check::fail(
                    check,
                    format!("cannot tell the account for {{{{account_id}}}}: {}", e.0),
                    "allow your credentials sts:GetCallerIdentity",
                )],
            );
            return None;
        }
    };
    let ctx = Context { account_id: account, region: aws.region.clone() };
    let file = match df::parse(&path, &text, &ctx) {
        Ok(file) => file,
        Err(errs) => {
            let problems: Vec<String> = errs.0.iter().map(ToString::to_string).collect();
            push(
                out,
                p,
                [Check::fail(
                    check,
                    format!("{} problem(s): {}", problems.len(), problems.join("; ")),
                    format!(
                        "fix the named keys; hookline plan validate -e ENV (or {}) checks it without AWS",
                        path.display()
                    ),
                )],
            );
            return None;
        }
    };
    push(out, p, [Check::ok(check, df::valid_summary(&path, &file))]);
    if let Some(fqdn) = &target.fqdn {
        if normalize(fqdn) != normalize(&file.service.fqdn) {
            push(
                out,
                p,
                [Check::fail(
                    "fqdn",
                    format!("--fqdn {fqdn}, but {} renders service.fqdn {}", path.display(), file.service.fqdn),
                    "name the file of that name's deployments, or drop --fqdn",
                )],
            );
            return None;
        }
    }
    let releases = [file.canary.releases.blue.clone(), file.canary.releases.green.clone()];
    Some(Subject {
        fqdn: file.service.fqdn.clone(),
        group: file.canary.group.clone(),
        services: [0, 1].map(|i| release_service(&file, &releases[i], None)),
        releases,
        environment: target.env.clone(),
        file: Some(file),
    })
}

/// Without a file: the newest release record on `--fqdn` names the releases, their services and
/// load balancers; the group is the live load balancer's `CanaryGroup` tag.
async fn subject_of_record(aws: &Aws, target: &DnsTarget, out: &mut Found) -> Option<Subject> {
    let p = "plan";
    let Some(fqdn) = &target.fqdn else {
        push(
            out,
            p,
            [Check::fail("deployment file", "none named", "name it: -e ENV [-d DIR] or -f FILE (and/or --fqdn NAME)")],
        );
        return None;
    };
    let records = match crate::dns::records(aws.release_records()).await {
        Ok(r) => r,
        Err(e) => {
            push(
                out,
                p,
                [Check::fail(
                    "release records",
                    format!("cannot read them: {}", e.0),
                    "allow your credentials ssm:GetParametersByPath",
                )],
            );
            return None;
        }
    };
    let wanted = normalize(fqdn);
    let Some(record) = records.into_iter().find(|r| crate::dns::fqdn_of(r).map(normalize) == Some(wanted.clone()))
    else {
        push(
            out,
            p,
            [Check::fail(
                "deployment file",
                format!("none named, and no release record names {fqdn}: nothing tells the group and its services"),
                "name the deployment file: -e ENV [-d DIR] or -f FILE",
            )],
        );
        return None;
    };
    let (Some(blue), Some(green)) = (record.context.blue.service.clone(), record.context.green.service.clone()) else {
        push(out, p, [Check::fail("release records", "the newest names no services", "name the file: -e ENV")]);
        return None;
    };
    let hookline::execution::Route::DnsWeighted { blue: blue_release, green: green_release, .. } =
        &record.context.production
    else {
        push(
            out,
            p,
            [Check::fail(
                "release records",
                format!("{} names no weighted records", record.deployment_id),
                "name the deployment file: -e ENV",
            )],
        );
        return None;
    };
    let group = match group_tag(aws, &blue_release.load_balancer_arn).await {
        Ok(Some(g)) => g,
        Ok(None) => {
            push(
                out,
                p,
                [Check::fail(
                    "load balancers",
                    format!("{} carries no CanaryGroup tag", blue_release.load_balancer_arn),
                    "name the deployment file: -e ENV",
                )],
            );
            return None;
        }
        Err(e) => {
            push(out, p, [unreadable("load balancers", "read the load balancer's tags (DescribeTags)", &e)]);
            return None;
        }
    };
    push(
        out,
        p,
        [Check::warn(
            "deployment file",
            format!(
                "not checked: none named; the checks follow release record {} (environment {})",
                record.deployment_id, record.environment
            ),
            format!("name it (-e {} [-d DIR]) to check the file and the bakes against the TTL", record.environment),
        )],
    );
    Some(Subject {
        fqdn: fqdn.clone(),
        group,
        releases: [blue_release.set_identifier.clone(), green_release.set_identifier.clone()],
        services: [blue, green],
        file: None,
        environment: Some(record.environment.clone()),
    })
}

async fn group_tag(aws: &Aws, load_balancer_arn: &str) -> Result<Option<String>, hookline::Error> {
    let o = aws.clients.elbv2.describe_tags().resource_arns(load_balancer_arn).send().await.aws("DescribeTags")?;
    Ok(o.tag_descriptions()
        .iter()
        .flat_map(|d| d.tags())
        .find(|t| t.key() == Some(hookline::dns::GROUP_TAG))
        .and_then(|t| t.value())
        .map(str::to_string))
}

/// The fqdn's weighted `A` records, as listed (every page while the name is the fqdn's).
async fn weighted_records(aws: &Aws, zone_id: &str, fqdn: &str) -> Result<Vec<RecordSeen>, hookline::Error> {
    use aws_sdk_route53::types::RrType;
    let wanted = normalize(fqdn);
    let mut out = Vec::new();
    let mut start: Option<(String, Option<RrType>, Option<String>)> = None;
    loop {
        let (name, kind, id) = start.take().unwrap_or_else(|| (format!("{wanted}."), None, None));
        let page = aws
            .clients
            .route53
            .list_resource_record_sets()
            .hosted_zone_id(zone_id)
            .start_record_name(name)
            .set_start_record_type(kind)
            .set_start_record_identifier(id)
            .send()
            .await
            .aws("ListResourceRecordSets")?;
        let mut past = false;
        for r in page.resource_record_sets() {
            if normalize(r.name()) != wanted {
                past = true;
                break;
            }
            let (Some(id), Some(weight), RrType::A) = (r.set_identifier(), r.weight(), r.r#type()) else { continue };
            out.push(RecordSeen {
                set_identifier: id.to_string(),
                weight: u8::try_from(weight).unwrap_or(u8::MAX),
                ttl_seconds: r.ttl().and_then(|t| u64::try_from(t).ok()),
                alias: r.alias_target().map(|a| AliasSeen {
                    dns_name: a.dns_name().to_string(),
                    hosted_zone_id: a.hosted_zone_id().to_string(),
                }),
            });
        }
        match (past, page.is_truncated(), page.next_record_name()) {
            (false, true, Some(n)) => {
                start = Some((
                    n.to_string(),
                    page.next_record_type().cloned(),
                    page.next_record_identifier().map(str::to_string),
                ))
            }
            _ => return Ok(out),
        }
    }
}

/// The release records on `fqdn` and their canary executions.
async fn release_records(aws: &Aws, fqdn: &str) -> Result<Vec<ReleaseSeen>, hookline::Error> {
    let wanted = normalize(fqdn);
    let all = crate::dns::records(aws.release_records()).await.map_err(|e| hookline::Error::invalid("records", e.0))?;
    let executions = aws.clients.executions();
    let mut out = Vec::new();
    for r in all.into_iter().filter(|r| crate::dns::fqdn_of(r).map(normalize) == Some(wanted.clone())) {
        let execution = match (&r.execution_arn, r.status) {
            (Some(arn), hookline::dns::ReleaseStatus::InProgress) => executions.describe(arn).await?.map(|e| e.status),
            _ => None,
        };
        out.push(ReleaseSeen {
            parameter: hookline::contract::dns_release_parameter(&aws.settings.plan_parameter_prefix, &r.deployment_id),
            deployment_id: r.deployment_id,
            status: r.status,
            execution_arn: r.execution_arn,
            execution,
            end_unfinished: r.status != hookline::dns::ReleaseStatus::InProgress
                && !r.services_done
                && r.drain_until.is_none_or(|until| until <= hookline::execution::now_epoch()),
        });
    }
    Ok(out)
}

/// A release's service (and, for the live one, its target group's targets).
async fn service_seen(
    aws: &Aws,
    subject: &Subject,
    release: &str,
    load_balancers: &[LoadBalancerRelease],
    targets: bool,
    out: &mut Found,
) -> Option<ServiceSeen> {
    let i = subject.releases.iter().position(|r| r == release)?;
    let service = subject.services[i].clone();
    let name = format!("{}/{}", cluster_name(&service.cluster), service.service);
    let facts = match aws.clients.services().describe(&service).await {
        Ok(f) => f,
        Err(e) => {
            push(
                out,
                "configuration",
                [unreadable(&format!("service of {release}"), "describe the service (ecs:DescribeServices)", &e)],
            );
            return None;
        }
    };
    let tg = load_balancers.iter().find(|l| l.release == release).and_then(|l| l.target_group_arn.clone());
    let mut seen_targets = None;
    if let (true, Some(tg)) = (targets, &tg) {
        // The target group is in the release's placement (its Region, read as its role).
        let elbv2 = hookline::aws::Placed::new(aws.clients.elbv2.share()).at(&service.placement()).await;
        match elbv2.describe_target_health().target_group_arn(tg).send().await {
            Ok(o) => {
                let registered = o.target_health_descriptions().len();
                let healthy = o
                    .target_health_descriptions()
                    .iter()
                    .filter(|d| d.target_health().and_then(|h| h.state()).map(|s| s.as_str()) == Some("healthy"))
                    .count();
                seen_targets = Some(TargetFacts { healthy, registered });
            }
            Err(e) => {
                let e = hookline::Error::from_sdk("DescribeTargetHealth", e);
                push(
                    out,
                    "configuration",
                    [unreadable(
                        &format!("targets of {release}"),
                        "describe target health (elasticloadbalancing:DescribeTargetHealth)",
                        &e,
                    )],
                );
            }
        }
    }
    Some(ServiceSeen {
        release: release.to_string(),
        name,
        facts,
        targets: seen_targets,
        target_group: tg.as_deref().map(|a| super::rules::target_group_name(a).to_string()),
    })
}

/// A cluster's name from its name or ARN (`arn:...:cluster/<name>`).
fn cluster_name(cluster: &str) -> &str {
    cluster.rsplit('/').next().unwrap_or(cluster)
}

async fn permissions(aws: &Aws, subject: &Subject, zone: &HostedZone, out: &mut Found) {
    let account = match aws.sts.get_caller_identity().send().await {
        Ok(o) => o.account().unwrap_or_default().to_string(),
        Err(e) => {
            let e = hookline::Error::from_sdk("GetCallerIdentity", e);
            push(out, "permissions", [unreadable("function roles", "tell the account (sts:GetCallerIdentity)", &e)]);
            return;
        }
    };
    let partition = common::partition_of(&aws.region);
    let file = subject.file.as_ref();
    let at_home = |s: &&ServiceRef| s.role_arn.is_none() && s.region.as_deref().is_none_or(|r| r == aws.region);
    let home: Vec<&ServiceRef> = subject.services.iter().filter(at_home).collect();
    if home.is_empty() {
        return;
    }
    let service = super::policy::DnsService {
        partition: partition.to_string(),
        region: aws.region.clone(),
        account: account.clone(),
        zone_id: zone.id.clone(),
        // The functions' own role reaches the releases at home; a release placed elsewhere is
        // reached as its role (`sts:AssumeRole`), whose policy is that account's to check.
        cluster: cluster_name(&home[0].cluster).to_string(),
        services: home.iter().map(|s| s.service.clone()).collect(),
        plan_parameter_prefix: aws.settings.plan_parameter_prefix.clone(),
        alarms: file.map(|f| f.plan.health.alarms.clone()).unwrap_or_default(),
        remove_old: file.is_some_and(|f| f.remove_old),
    };
    let needs = super::policy::dns_needs(&service);
    common::role_checks(aws, &needs, partition, &account, out).await;
}
