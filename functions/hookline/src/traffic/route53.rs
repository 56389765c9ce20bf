//! [`TrafficRouter`] over two Route 53 weighted alias records (hookline's own controller,
//! docs/route53-controller.md): one record per release, same name and type, `SetIdentifier` = the
//! release. Green's record gets the green percentage, blue's the rest (`green = w`, `blue = 100 − w`:
//! decision 1), both written in ONE `ChangeResourceRecordSets` batch ("Change batches are considered
//! transactional changes. Route 53 validates the changes in the request and then either makes all or
//! none of the changes in the change batch request." — API reference, ChangeResourceRecordSets), so
//! the two weights never add up to anything but 100.
//!
//! A write is done when Route 53 says so: "INSYNC indicates that the changes have propagated to all
//! Route 53 DNS servers managing the hosted zone." (API reference, GetChange). The router polls
//! `GetChange` for at most [`Route53Router::insync_bound`] (20 s: shift-weight's Lambda timeout is
//! 30 s, and "Changes generally propagate to all Route 53 name servers within 60 seconds", Route 53
//! developer guide, *Editing records*). Still `PENDING` at the bound is `AwsTransient`, which every
//! state machine task retries. The retry finds the weights already written, and must not take that
//! for done: Route 53 has no call that lists a zone's changes in flight, so an "already there"
//! answer writes the same two records again (a confirmation batch) and waits for IT to be
//! `INSYNC`. Its content is the desired state, so its `INSYNC` means every Route 53 server answers
//! with the desired weights, whatever became of the first batch. Writes are otherwise only made on
//! a difference.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_route53::types::{
    AliasTarget, Change as R53Change, ChangeAction, ChangeBatch, ChangeStatus, ResourceRecordSet, RrType,
};

use super::split::{Change, Cohort, Weights};
use crate::dns::{normalize, WeightedRecord};
use crate::error::AwsResultExt;
use crate::execution::{DeploymentContext, DnsRelease, Route};
use crate::ports::TrafficRouter;
use crate::{Error, Result};

/// How long a write waits for `INSYNC` before answering `AwsTransient` (shift-weight's timeout is 30 s).
pub const INSYNC_BOUND: Duration = Duration::from_secs(20);
/// Between two `GetChange` calls (Route 53 allows five API requests per second per account).
pub const INSYNC_POLL: Duration = Duration::from_secs(2);

/// The weighted records of one deployment.
#[derive(Clone, Debug)]
pub struct Route53Router {
    route53: aws_sdk_route53::Client,
    zone_id: String,
    record_name: String,
    record_type: String,
    blue: DnsRelease,
    green: DnsRelease,
    /// How long a write waits for `INSYNC`.
    pub insync_bound: Duration,
    pub insync_poll: Duration,
}

impl Route53Router {
    /// The records of `ctx.production`; `InvalidInput` when it is not a Route 53 route.
    pub fn new(route53: aws_sdk_route53::Client, ctx: &DeploymentContext) -> Result<Route53Router> {
        match &ctx.production {
            Route::DnsWeighted { hosted_zone_id, record_name, record_type, blue, green } => {
                Ok(Route53Router::of_records(route53, hosted_zone_id, record_name, record_type, blue, green))
            }
            other => Err(Error::invalid("context.production", format!("a dns-weighted route, got {other:?}"))),
        }
    }

    /// The records `record_name`/`record_type` of zone `hosted_zone_id`, one per release.
    pub fn of_records(
        route53: aws_sdk_route53::Client,
        hosted_zone_id: &str,
        record_name: &str,
        record_type: &str,
        blue: &DnsRelease,
        green: &DnsRelease,
    ) -> Route53Router {
        Route53Router {
            route53,
            zone_id: hosted_zone_id.to_string(),
            record_name: record_name.to_string(),
            record_type: record_type.to_string(),
            blue: blue.clone(),
            green: green.clone(),
            insync_bound: INSYNC_BOUND,
            insync_poll: INSYNC_POLL,
        }
    }

    fn resource(&self) -> String {
        format!("Route 53 records {} {} in zone {}", self.record_name, self.record_type, self.zone_id)
    }

    fn record(&self, release: &DnsRelease, weight: u8) -> Result<ResourceRecordSet> {
        // An alias record has no TTL: "If you're creating or updating an alias resource record set,
        // omit TTL." (API reference, ResourceRecordSet).
        ResourceRecordSet::builder()
            .name(&self.record_name)
            .r#type(RrType::from(self.record_type.as_str()))
            .set_identifier(&release.set_identifier)
            .weight(i64::from(weight))
            .alias_target(
                AliasTarget::builder()
                    .hosted_zone_id(&release.alias_hosted_zone_id)
                    .dns_name(&release.alias_dns_name)
                    // docs/route53-controller.md: both records evaluate their load balancer's health.
                    .evaluate_target_health(true)
                    .build()
                    .map_err(|e| Error::invalid("context.production", e.to_string()))?,
            )
            .build()
            .map_err(|e| Error::invalid("context.production", e.to_string()))
    }

    /// Writes both records in one batch; the change's id.
    async fn write(&self, desired: Weights, why: &str) -> Result<String> {
        let upsert = |rrs| R53Change::builder().action(ChangeAction::Upsert).resource_record_set(rrs).build();
        let changes = vec![
            upsert(self.record(&self.green, desired.green)?).map_err(|e| Error::invalid("change", e.to_string()))?,
            upsert(self.record(&self.blue, desired.blue)?).map_err(|e| Error::invalid("change", e.to_string()))?,
        ];
        let batch = ChangeBatch::builder()
            .comment(format!("hookline: {desired} ({why})"))
            .set_changes(Some(changes))
            .build()
            .map_err(|e| Error::invalid("change batch", e.to_string()))?;
        let out = self
            .route53
            .change_resource_record_sets()
            .hosted_zone_id(&self.zone_id)
            .change_batch(batch)
            .send()
            .await
            .aws("ChangeResourceRecordSets")?;
        Ok(out.change_info().map(|c| c.id().to_string()).unwrap_or_default())
    }

    /// Polls `GetChange` until `INSYNC`, for at most [`Route53Router::insync_bound`].
    async fn wait_insync(&self, change_id: &str) -> Result<()> {
        if change_id.is_empty() {
            return Err(Error::AwsPermanent {
                operation: "ChangeResourceRecordSets",
                code: None,
                message: "the answer names no change id to wait for".into(),
            });
        }
        let deadline = tokio::time::Instant::now() + self.insync_bound;
        loop {
            let out = self.route53.get_change().id(change_id).send().await.aws("GetChange")?;
            if out.change_info().map(|c| c.status()) == Some(&ChangeStatus::Insync) {
                return Ok(());
            }
            if tokio::time::Instant::now() + self.insync_poll > deadline {
                return Err(Error::AwsTransient {
                    operation: "GetChange",
                    message: format!(
                        "change {change_id} still PENDING after {}s: Route 53 has not propagated the weights to \
                         all its servers yet; a retry waits again",
                        self.insync_bound.as_secs()
                    ),
                });
            }
            tokio::time::sleep(self.insync_poll).await;
        }
    }
}

/// The weighted records named `name` in `zone_id` (`ListResourceRecordSets` from `name`, every page
/// while the names match).
pub(crate) async fn weighted_records(
    route53: &aws_sdk_route53::Client,
    zone_id: &str,
    name: &str,
) -> Result<Vec<WeightedRecord>> {
    let wanted = normalize(name);
    let mut out = Vec::new();
    let mut start: Option<(String, Option<RrType>, Option<String>)> = Some((name.to_string(), None, None));
    while let Some((start_name, start_type, start_id)) = start.take() {
        let page = route53
            .list_resource_record_sets()
            .hosted_zone_id(zone_id)
            .start_record_name(start_name)
            .set_start_record_type(start_type)
            .set_start_record_identifier(start_id)
            .send()
            .await
            .aws("ListResourceRecordSets")?;
        let mut past = false;
        for rrs in page.resource_record_sets() {
            if normalize(rrs.name()) != wanted {
                past = true;
                break;
            }
            if let (Some(id), Some(weight)) = (rrs.set_identifier(), rrs.weight()) {
                out.push(WeightedRecord {
                    set_identifier: id.to_string(),
                    weight: u8::try_from(weight).unwrap_or(u8::MAX),
                    record_type: rrs.r#type().as_str().to_string(),
                    alias_dns_name: rrs.alias_target().map(|a| a.dns_name().to_string()),
                });
            }
        }
        if page.is_truncated() && !past {
            if let Some(next) = page.next_record_name() {
                start = Some((
                    next.to_string(),
                    page.next_record_type().cloned(),
                    page.next_record_identifier().map(str::to_string),
                ));
            }
        }
    }
    Ok(out)
}

#[async_trait]
impl TrafficRouter for Route53Router {
    async fn weights(&self) -> Result<Weights> {
        let records = weighted_records(&self.route53, &self.zone_id, &self.record_name).await?;
        let weight = |release: &DnsRelease| {
            records
                .iter()
                .find(|r| r.set_identifier == release.set_identifier && r.record_type == self.record_type)
                .map_or(0, |r| u32::from(r.weight))
        };
        Weights::from_raw(weight(&self.blue), weight(&self.green)).ok_or_else(|| Error::AwsPermanent {
            operation: "ListResourceRecordSets",
            code: None,
            message: format!(
                "{}: neither {} nor {} has a weight above 0, so hookline cannot tell where production is",
                self.resource(),
                self.blue.set_identifier,
                self.green.set_identifier
            ),
        })
    }

    async fn set_weights(&self, desired: Weights, expect: Option<Weights>) -> Result<Change> {
        let live = self.weights().await;
        if live.as_ref().ok() == Some(&desired) {
            // Already there: a retry of a call whose write may still be PENDING. Confirm it (module doc).
            let id = self.write(desired, "confirming").await?;
            self.wait_insync(&id).await?;
            return Ok(Change::AlreadyThere);
        }
        if let Some(expected) = expect {
            let live = live.clone()?;
            if live != expected {
                return Err(Error::TrafficDrift {
                    resource: self.resource(),
                    expected: expected.to_string(),
                    found: live.to_string(),
                });
            }
        }
        let id = self.write(desired, "canary step").await?;
        self.wait_insync(&id).await?;
        Ok(Change::Applied)
    }

    /// DNS cannot route by a header: the deployment file has no cohort step, so a plan asking for
    /// one is refused rather than ignored.
    async fn add_cohort(&self, cohort: &Cohort) -> Result<Change> {
        Err(Error::invalid(
            "step.cohort",
            format!(
                "no cohort step for the route53 controller (DNS cannot route by the header {}), \
                 use weight steps",
                cohort.header
            ),
        ))
    }

    async fn remove_cohorts(&self) -> Result<usize> {
        Ok(0)
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_route53::operation::change_resource_record_sets::ChangeResourceRecordSetsOutput;
    use aws_sdk_route53::operation::get_change::GetChangeOutput;
    use aws_sdk_route53::operation::list_resource_record_sets::ListResourceRecordSetsOutput;
    use aws_sdk_route53::primitives::DateTime;
    use aws_sdk_route53::types::ChangeInfo;
    use aws_smithy_mocks::mock;

    use super::*;
    use crate::testing::{dns_context, mocked_clients, Sent};

    fn listed(blue: i64, green: i64) -> ListResourceRecordSetsOutput {
        let rrs = |id: &str, w: i64| {
            ResourceRecordSet::builder()
                .name("web.shop.example.com.")
                .r#type(RrType::A)
                .set_identifier(id)
                .weight(w)
                .alias_target(
                    AliasTarget::builder()
                        .hosted_zone_id("Z35SXDOTRQ7X7K")
                        .dns_name(format!("{id}.elb"))
                        .evaluate_target_health(true)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap()
        };
        let other = ResourceRecordSet::builder().name("zzz.shop.example.com.").r#type(RrType::A).build().unwrap();
        ListResourceRecordSetsOutput::builder()
            .resource_record_sets(rrs("blue", blue))
            .resource_record_sets(rrs("green", green))
            .resource_record_sets(other)
            .is_truncated(false)
            .max_items(100)
            .build()
            .unwrap()
    }

    fn info(status: ChangeStatus) -> ChangeInfo {
        ChangeInfo::builder().id("/change/C1").status(status).submitted_at(DateTime::from_secs(0)).build().unwrap()
    }

    fn router(rules: &[&aws_smithy_mocks::Rule]) -> Route53Router {
        let clients = mocked_clients(rules);
        let mut r = Route53Router::new((*clients.route53).clone(), &dns_context()).unwrap();
        r.insync_poll = Duration::from_millis(1);
        r.insync_bound = Duration::from_millis(20);
        r
    }

    type Written = Vec<(String, Option<i64>, Option<i64>)>;

    fn change_rule(sent: &Sent<Written>) -> aws_smithy_mocks::Rule {
        let rec = sent.recorder();
        mock!(aws_sdk_route53::Client::change_resource_record_sets)
            .match_requests(move |r| {
                let changes = r.change_batch().map(|b| b.changes().to_vec()).unwrap_or_default();
                let written: Written = changes
                    .iter()
                    .map(|c| {
                        let rrs = c.resource_record_set();
                        (
                            format!("{} {}", c.action().as_str(), rrs.and_then(|r| r.set_identifier()).unwrap_or("")),
                            rrs.and_then(ResourceRecordSet::weight),
                            rrs.and_then(ResourceRecordSet::ttl),
                        )
                    })
                    .collect();
                rec(&written);
                true
            })
            .then_output(|| ChangeResourceRecordSetsOutput::builder().change_info(info(ChangeStatus::Pending)).build())
    }

    #[tokio::test]
    async fn weights_are_read_from_both_records() {
        let list = mock!(aws_sdk_route53::Client::list_resource_record_sets).then_output(|| listed(90, 10));
        assert_eq!(router(&[&list]).weights().await.unwrap(), Weights::green(10));
    }

    #[tokio::test]
    async fn set_weights_writes_both_records_in_one_batch_and_waits_for_insync() {
        let sent = Sent::default();
        let list = mock!(aws_sdk_route53::Client::list_resource_record_sets).then_output(|| listed(100, 0));
        let change = change_rule(&sent);
        let polls = Sent::<()>::default();
        let rec = polls.recorder();
        let get = mock!(aws_sdk_route53::Client::get_change)
            .match_requests(move |r| {
                rec(&());
                r.id() == Some("/change/C1") || r.id() == Some("C1")
            })
            .sequence()
            .output(|| GetChangeOutput::builder().change_info(info(ChangeStatus::Pending)).build())
            .output(|| GetChangeOutput::builder().change_info(info(ChangeStatus::Insync)).build())
            .build();
        let r = router(&[&list, &change, &get]);
        assert_eq!(r.set_weights(Weights::green(10), Some(Weights::BLUE_ONLY)).await.unwrap(), Change::Applied);
        // One batch, both records, UPSERT, green = w, blue = 100 - w, no TTL (alias).
        assert_eq!(sent.only(), vec![("UPSERT green".into(), Some(10), None), ("UPSERT blue".into(), Some(90), None)]);
        assert_eq!(polls.all().len(), 2, "polled until INSYNC");
    }

    #[tokio::test]
    async fn drift_fails_without_writing() {
        let sent = Sent::default();
        let list = mock!(aws_sdk_route53::Client::list_resource_record_sets).then_output(|| listed(50, 50));
        let change = change_rule(&sent);
        let err =
            router(&[&list, &change]).set_weights(Weights::green(60), Some(Weights::green(10))).await.unwrap_err();
        assert!(matches!(err, Error::TrafficDrift { .. }), "{err:?}");
        assert!(sent.all().is_empty());
    }

    #[tokio::test]
    async fn still_pending_at_the_bound_is_transient_and_the_retry_waits_for_a_confirmation() {
        let sent = Sent::default();
        let list = mock!(aws_sdk_route53::Client::list_resource_record_sets).then_output(|| listed(100, 0));
        let change = change_rule(&sent);
        let pending = mock!(aws_sdk_route53::Client::get_change)
            .then_output(|| GetChangeOutput::builder().change_info(info(ChangeStatus::Pending)).build());
        let err = router(&[&list, &change, &pending]).set_weights(Weights::BLUE_ONLY, None).await;
        // Already at blue 100 (a retried restore): confirmed by a batch of the same weights, waited for.
        assert!(matches!(err, Err(Error::AwsTransient { operation: "GetChange", .. })), "{err:?}");
        assert_eq!(sent.only(), vec![("UPSERT green".into(), Some(0), None), ("UPSERT blue".into(), Some(100), None)]);

        let sent = Sent::default();
        let list = mock!(aws_sdk_route53::Client::list_resource_record_sets).then_output(|| listed(90, 10));
        let change = change_rule(&sent);
        let insync = mock!(aws_sdk_route53::Client::get_change)
            .then_output(|| GetChangeOutput::builder().change_info(info(ChangeStatus::Insync)).build());
        let r = router(&[&list, &change, &insync]);
        assert_eq!(r.set_weights(Weights::green(10), Some(Weights::BLUE_ONLY)).await.unwrap(), Change::AlreadyThere);
        assert_eq!(sent.all().len(), 1, "the retry confirmed the weights once");
    }

    #[tokio::test]
    async fn cohorts_are_refused_and_none_to_remove() {
        let r = router(&[]);
        let err = r.add_cohort(&Cohort { header: "x-canary".into(), values: vec!["1".into()] }).await.unwrap_err();
        assert!(err.to_string().contains("DNS cannot route by the header x-canary"), "{err}");
        assert_eq!(r.remove_cohorts().await.unwrap(), 0);
    }
}
