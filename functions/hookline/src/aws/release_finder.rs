//! [`ReleaseDiscovery`] over ELBv2 and Route 53: a group's load balancers by their tags
//! (`DescribeLoadBalancers`, then `DescribeTags` 20 ARNs at a time, its documented maximum), each
//! one's target group read off its listener's forward action (`DescribeListeners`), the hosted zone
//! of the fqdn (`ListHostedZonesByName`, every page, the longest suffix), and the fqdn's weighted
//! records (`ListResourceRecordSets`). ELBv2 is asked in each release's placement (its Region and
//! role, [`Placed`]); Route 53 is global and asked with the caller's client.

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{Action, ActionTypeEnum};

use super::Placed;
use crate::dns::{
    longest_suffix_zone, HostedZone, LoadBalancerRelease, Placement, WeightedRecord, GROUP_TAG, RELEASE_TAG,
};
use crate::error::AwsResultExt;
use crate::ports::{RecordRemoval, ReleaseDiscovery};
use crate::{Error, Result};
use aws_sdk_route53::types::{Change, ChangeAction, ChangeBatch};

/// DescribeTags takes at most 20 resource ARNs (ELBv2 API reference, DescribeTags, ResourceArns).
const TAGS_PER_CALL: usize = 20;

/// Reads the releases of a group with the caller's clients.
#[derive(Clone, Debug)]
pub struct ReleaseFinder {
    pub elbv2: Placed<aws_sdk_elasticloadbalancingv2::Client>,
    pub route53: aws_sdk_route53::Client,
}

/// The target group a listener's default actions forward to, when it is one.
fn forwarded_target_group(actions: &[Action]) -> Option<String> {
    let forward = actions.iter().find(|a| a.r#type() == Some(&ActionTypeEnum::Forward))?;
    if let Some(arn) = forward.target_group_arn() {
        return Some(arn.to_string());
    }
    let groups = forward.forward_config()?.target_groups();
    match groups {
        [one] => one.target_group_arn().map(str::to_string),
        _ => None,
    }
}

/// `targetgroup/<name>/<id>` → `<name>`.
fn target_group_name(arn: &str) -> Option<String> {
    arn.split(":targetgroup/").nth(1).and_then(|r| r.split('/').next()).map(str::to_string)
}

#[async_trait]
impl ReleaseDiscovery for ReleaseFinder {
    async fn load_balancers(&self, group: &str, at: &Placement) -> Result<Vec<LoadBalancerRelease>> {
        let elbv2 = self.elbv2.at(at).await;
        let mut all = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let page =
                elbv2.describe_load_balancers().set_marker(marker.take()).send().await.aws("DescribeLoadBalancers")?;
            all.extend(page.load_balancers().iter().cloned());
            match page.next_marker() {
                Some(m) if !m.is_empty() => marker = Some(m.to_string()),
                _ => break,
            }
        }
        let arns: Vec<String> = all.iter().filter_map(|lb| lb.load_balancer_arn().map(str::to_string)).collect();
        let mut releases = Vec::new();
        for chunk in arns.chunks(TAGS_PER_CALL) {
            let tags =
                elbv2.describe_tags().set_resource_arns(Some(chunk.to_vec())).send().await.aws("DescribeTags")?;
            for desc in tags.tag_descriptions() {
                let tag = |key: &str| desc.tags().iter().find(|t| t.key() == Some(key)).and_then(|t| t.value());
                if tag(GROUP_TAG) != Some(group) {
                    continue;
                }
                let Some(arn) = desc.resource_arn() else { continue };
                let release = tag(RELEASE_TAG).ok_or_else(|| {
                    Error::invalid(
                        "canary.group",
                        format!(
                            "a {RELEASE_TAG} tag on every load balancer tagged {GROUP_TAG}={group}, {arn} has none"
                        ),
                    )
                })?;
                let Some(lb) = all.iter().find(|lb| lb.load_balancer_arn() == Some(arn)) else { continue };
                releases.push(LoadBalancerRelease {
                    release: release.to_string(),
                    load_balancer_arn: arn.to_string(),
                    dns_name: lb.dns_name().unwrap_or_default().to_string(),
                    canonical_hosted_zone_id: lb.canonical_hosted_zone_id().unwrap_or_default().to_string(),
                    target_group_arn: None,
                    target_group_name: None,
                    region: at.region.clone(),
                    role_arn: at.role_arn.clone(),
                });
            }
        }
        for release in &mut releases {
            let listeners = elbv2
                .describe_listeners()
                .load_balancer_arn(&release.load_balancer_arn)
                .send()
                .await
                .aws("DescribeListeners")?;
            let mut listeners = listeners.listeners().to_vec();
            listeners.sort_by_key(|l| l.port());
            release.target_group_arn = listeners.iter().find_map(|l| forwarded_target_group(l.default_actions()));
            release.target_group_name = release.target_group_arn.as_deref().and_then(target_group_name);
        }
        releases.sort_by(|a, b| a.release.cmp(&b.release));
        Ok(releases)
    }

    async fn hosted_zone(&self, fqdn: &str) -> Result<HostedZone> {
        let mut zones = Vec::new();
        let mut next: Option<(String, Option<String>)> = None;
        loop {
            let (dns_name, zone_id) = match next.take() {
                Some((n, z)) => (Some(n), z),
                None => (None, None),
            };
            let page = self
                .route53
                .list_hosted_zones_by_name()
                .set_dns_name(dns_name)
                .set_hosted_zone_id(zone_id)
                .send()
                .await
                .aws("ListHostedZonesByName")?;
            zones.extend(page.hosted_zones().iter().map(|z| HostedZone {
                id: z.id().trim_start_matches("/hostedzone/").to_string(),
                name: z.name().to_string(),
            }));
            match (page.is_truncated(), page.next_dns_name()) {
                (true, Some(n)) => next = Some((n.to_string(), page.next_hosted_zone_id().map(str::to_string))),
                _ => break,
            }
        }
        longest_suffix_zone(fqdn, &zones).cloned().ok_or_else(|| {
            Error::invalid("service.fqdn", format!("a name in one of the account's hosted zones, got {fqdn}"))
        })
    }

    async fn weighted_records(&self, zone_id: &str, fqdn: &str) -> Result<Vec<WeightedRecord>> {
        crate::traffic::route53::weighted_records(&self.route53, zone_id, fqdn).await
    }
}

#[async_trait]
impl RecordRemoval for ReleaseFinder {
    async fn delete_idle_record(&self, zone_id: &str, record_name: &str, set_identifier: &str) -> Result<bool> {
        let wanted = crate::dns::normalize(record_name);
        let listed = self
            .route53
            .list_resource_record_sets()
            .hosted_zone_id(zone_id)
            .start_record_name(record_name)
            .send()
            .await
            .aws("ListResourceRecordSets")?;
        let found = listed
            .resource_record_sets()
            .iter()
            .take_while(|r| crate::dns::normalize(r.name()) == wanted)
            .find(|r| r.set_identifier() == Some(set_identifier))
            .cloned();
        let Some(record) = found else { return Ok(false) };
        if record.weight().unwrap_or(0) != 0 {
            return Err(Error::invalid(
                "release",
                format!(
                    "an idle release: the record {record_name} {set_identifier} has weight {}",
                    record.weight().unwrap_or(0)
                ),
            ));
        }
        // "To delete a resource record set, you must specify all the same values that you specified
        // when you created it." (API reference, ChangeResourceRecordSets): the record as listed.
        let change = Change::builder()
            .action(ChangeAction::Delete)
            .resource_record_set(record)
            .build()
            .map_err(|e| Error::invalid("change", e.to_string()))?;
        let batch = ChangeBatch::builder()
            .comment(format!("hookline undeploy: {set_identifier}"))
            .changes(change)
            .build()
            .map_err(|e| Error::invalid("change batch", e.to_string()))?;
        self.route53
            .change_resource_record_sets()
            .hosted_zone_id(zone_id)
            .change_batch(batch)
            .send()
            .await
            .aws("ChangeResourceRecordSets")?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_elasticloadbalancingv2::operation::describe_listeners::DescribeListenersOutput;
    use aws_sdk_elasticloadbalancingv2::operation::describe_load_balancers::DescribeLoadBalancersOutput;
    use aws_sdk_elasticloadbalancingv2::operation::describe_tags::DescribeTagsOutput;
    use aws_sdk_elasticloadbalancingv2::types::{Listener, LoadBalancer, Tag, TagDescription};
    use aws_sdk_route53::operation::list_hosted_zones_by_name::ListHostedZonesByNameOutput;
    use aws_smithy_mocks::mock;

    use super::*;
    use crate::testing::mocked_clients;

    fn lb_arn(name: &str) -> String {
        format!("arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/{name}/1")
    }

    fn tg_arn(name: &str) -> String {
        format!("arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/{name}/2")
    }

    #[tokio::test]
    async fn the_groups_load_balancers_by_tag_with_their_listeners_target_group() {
        let lbs = mock!(aws_sdk_elasticloadbalancingv2::Client::describe_load_balancers).then_output(|| {
            let lb = |n: &str| {
                LoadBalancer::builder()
                    .load_balancer_arn(lb_arn(n))
                    .dns_name(format!("{n}.elb"))
                    .canonical_hosted_zone_id("Z35")
                    .build()
            };
            DescribeLoadBalancersOutput::builder()
                .load_balancers(lb("r53-private-blue"))
                .load_balancers(lb("r53-private-green"))
                .load_balancers(lb("other"))
                .build()
        });
        let tags = mock!(aws_sdk_elasticloadbalancingv2::Client::describe_tags).then_output(|| {
            let desc = |n: &str, group: &str, release: &str| {
                TagDescription::builder()
                    .resource_arn(lb_arn(n))
                    .tags(Tag::builder().key("CanaryGroup").value(group).build())
                    .tags(Tag::builder().key("CanaryRelease").value(release).build())
                    .build()
            };
            DescribeTagsOutput::builder()
                .tag_descriptions(desc("r53-private-green", "private", "green"))
                .tag_descriptions(desc("r53-private-blue", "private", "blue"))
                .tag_descriptions(desc("other", "public", "blue"))
                .build()
        });
        let listeners = mock!(aws_sdk_elasticloadbalancingv2::Client::describe_listeners).then_output(|| {
            // The load balancer is in the request; answer for either by reading nothing: both
            // listeners forward to the target group named after... the mock cannot see the request
            // here, so one target group stands for both.
            DescribeListenersOutput::builder()
                .listeners(
                    Listener::builder()
                        .port(80)
                        .default_actions(
                            Action::builder()
                                .r#type(ActionTypeEnum::Forward)
                                .target_group_arn(tg_arn("r53-private-x"))
                                .build(),
                        )
                        .build(),
                )
                .build()
        });
        let clients = mocked_clients(&[&lbs, &tags, &listeners]);
        let finder =
            ReleaseFinder { elbv2: Placed::only((*clients.elbv2).clone()), route53: (*clients.route53).clone() };
        let found = finder.load_balancers("private", &Placement::default()).await.unwrap();
        let names: Vec<(&str, &str, Option<&str>)> =
            found.iter().map(|r| (r.release.as_str(), r.dns_name.as_str(), r.target_group_name.as_deref())).collect();
        assert_eq!(
            names,
            vec![
                ("blue", "r53-private-blue.elb", Some("r53-private-x")),
                ("green", "r53-private-green.elb", Some("r53-private-x"))
            ]
        );
    }

    #[tokio::test]
    async fn the_hosted_zone_is_the_longest_suffix_of_the_fqdn() {
        let zones = mock!(aws_sdk_route53::Client::list_hosted_zones_by_name).then_output(|| {
            let z = |id: &str, name: &str| {
                aws_sdk_route53::types::HostedZone::builder()
                    .id(format!("/hostedzone/{id}"))
                    .name(name)
                    .caller_reference("x")
                    .build()
                    .unwrap()
            };
            ListHostedZonesByNameOutput::builder()
                .hosted_zones(z("Z1", "example.com."))
                .hosted_zones(z("Z2", "shop.example.com."))
                .is_truncated(false)
                .max_items(100)
                .build()
                .unwrap()
        });
        let clients = mocked_clients(&[&zones]);
        let finder =
            ReleaseFinder { elbv2: Placed::only((*clients.elbv2).clone()), route53: (*clients.route53).clone() };
        assert_eq!(finder.hosted_zone("web.shop.example.com").await.unwrap().id, "Z2");
        let err = finder.hosted_zone("web.example.org").await.unwrap_err();
        assert!(err.to_string().contains("service.fqdn"), "{err}");
    }

    #[tokio::test]
    async fn an_idle_record_is_deleted_with_its_listed_values_and_a_live_one_is_refused() {
        use aws_sdk_route53::operation::change_resource_record_sets::ChangeResourceRecordSetsOutput;
        use aws_sdk_route53::operation::list_resource_record_sets::ListResourceRecordSetsOutput;
        use aws_sdk_route53::primitives::DateTime;
        use aws_sdk_route53::types::{AliasTarget, ChangeInfo, ChangeStatus, ResourceRecordSet, RrType};

        use crate::testing::Sent;

        let listed = |green: i64| {
            let rrs = |id: &str, w: i64| {
                ResourceRecordSet::builder()
                    .name("web.shop.example.com.")
                    .r#type(RrType::A)
                    .set_identifier(id)
                    .weight(w)
                    .alias_target(
                        AliasTarget::builder()
                            .hosted_zone_id("Z35")
                            .dns_name(format!("{id}.elb"))
                            .evaluate_target_health(true)
                            .build()
                            .unwrap(),
                    )
                    .build()
                    .unwrap()
            };
            ListResourceRecordSetsOutput::builder()
                .resource_record_sets(rrs("blue", 100 - green))
                .resource_record_sets(rrs("green", green))
                .is_truncated(false)
                .max_items(100)
                .build()
                .unwrap()
        };
        type Deleted = Vec<(String, Option<String>, Option<i64>, Option<String>)>;
        let sent: Sent<Deleted> = Sent::default();
        let rec = sent.recorder();
        let change = mock!(aws_sdk_route53::Client::change_resource_record_sets)
            .match_requests(move |r| {
                let changes = r.change_batch().map(|b| b.changes().to_vec()).unwrap_or_default();
                rec(&changes
                    .iter()
                    .map(|c| {
                        let rrs = c.resource_record_set();
                        (
                            c.action().as_str().to_string(),
                            rrs.and_then(|r| r.set_identifier()).map(str::to_string),
                            rrs.and_then(ResourceRecordSet::weight),
                            rrs.and_then(|r| r.alias_target()).map(|a| a.dns_name().to_string()),
                        )
                    })
                    .collect());
                true
            })
            .then_output(|| {
                ChangeResourceRecordSetsOutput::builder()
                    .change_info(
                        ChangeInfo::builder()
                            .id("C1")
                            .status(ChangeStatus::Pending)
                            .submitted_at(DateTime::from_secs(0))
                            .build()
                            .unwrap(),
                    )
                    .build()
            });
        let idle = mock!(aws_sdk_route53::Client::list_resource_record_sets).then_output(move || listed(0));
        let clients = mocked_clients(&[&idle, &change]);
        let finder =
            ReleaseFinder { elbv2: Placed::only((*clients.elbv2).clone()), route53: (*clients.route53).clone() };
        assert!(finder.delete_idle_record("Z1", "web.shop.example.com", "green").await.unwrap());
        assert_eq!(sent.only(), vec![("DELETE".into(), Some("green".into()), Some(0), Some("green.elb".into()))]);
        assert!(!finder.delete_idle_record("Z1", "web.shop.example.com", "purple").await.unwrap());

        let live = mock!(aws_sdk_route53::Client::list_resource_record_sets).then_output(move || listed(10));
        let clients = mocked_clients(&[&live]);
        let finder =
            ReleaseFinder { elbv2: Placed::only((*clients.elbv2).clone()), route53: (*clients.route53).clone() };
        let err = finder.delete_idle_record("Z1", "web.shop.example.com", "green").await.unwrap_err();
        // Refused before any change: no ChangeResourceRecordSets rule here, so a call would fail
        // with the mock's own error instead of naming the weight.
        assert!(err.to_string().contains("weight 10"), "{err}");
    }
}
