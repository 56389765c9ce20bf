//! [`Lifecycle`] for a release hookline itself runs (its own Route 53 controller,
//! docs/route53-controller.md): no controller waits for a hook, so the deployment is hookline's
//! release record ([`ReleaseRecord`], kept through [`PlanStore`] at
//! [`crate::contract::dns_release_parameter`]) plus its canary execution ([`Executions`]), and the
//! hook's answer is the release's end, done here on the release's ECS services ([`Services`]):
//!
//! - `Succeeded` (finalize, after the last bake at 100): the record is marked `Succeeded` FIRST, so a
//!   rollback racing in after it ([`Lifecycle::event_status`] says `Succeeded`) leaves DNS on green;
//!   then blue's service is scaled to 0 (removed with `remove_old`). When that part fails past the
//!   state machine's Retry (a denied `UpdateService`), finalize's error goes to the rollback, which
//!   finds the success and finishes it ([`Lifecycle::finish_end`]) instead of leaving blue
//!   running: the success stands, the record says so, and the services follow it. Likewise a
//!   failure's scale-down of green that failed is finished by the rollback after its report (the
//!   record already reads `Failed`, which the rollback took for "ended by someone else").
//! - `Failed` (rollback, after it restored DNS to blue 100 through the router): the record is marked
//!   `Failed` (kept `Stopped` when an operator stopped it) and its drain starts: green keeps its
//!   tasks for the records' TTL + the resolver grace (`drain_seconds`), because resolvers that
//!   cached green's answer before the restore send users there that long. A `Failed` report made
//!   after the drain ([`Lifecycle::drain_seconds`] says how long to wait) scales green to 0.
//!
//! Both are idempotent: the services' part is done until the record says so (`services_done`), and
//! the call after that answers [`Reported::Already`]. A crash between the restore and the scale
//! leaves the record `Failed` with `services_done` false: any later `Failed` report (the state
//! machine's retry, the safety net, `hookline rollback` run again) finishes it.

use std::sync::Arc;

use async_trait::async_trait;
use tracing::warn;

use super::deployment::{
    Admission, Controller, DeploymentStatus, DeploymentSummary, EventStatus, HookStatus, Phase, Reported, Resolved,
    Stop, DEPLOYMENT_NOT_FOUND,
};
use crate::contract::dns_release_parameter;
use crate::dns::{ReleaseRecord, ReleaseStatus};
use crate::execution::{now_epoch, DeploymentContext, HookEvent};
use crate::ports::{Executions, Lifecycle, PlanStore, RunStatus, Services};
use crate::{Error, Result};

/// hookline's own releases: the record in the plan store, the canary execution, the services.
#[derive(Clone)]
pub struct Route53Releases {
    pub plans: Arc<dyn PlanStore>,
    pub executions: Arc<dyn Executions>,
    pub services: Arc<dyn Services>,
    /// Where records live (`<prefix>/dns/<deployment id>`).
    pub plan_parameter_prefix: String,
}

impl std::fmt::Debug for Route53Releases {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Route53Releases").field("plan_parameter_prefix", &self.plan_parameter_prefix).finish()
    }
}

impl Route53Releases {
    fn parameter(&self, deployment_id: &str) -> String {
        dns_release_parameter(&self.plan_parameter_prefix, deployment_id)
    }

    /// The deployment's record; an unknown deployment is an error with code [`DEPLOYMENT_NOT_FOUND`].
    pub async fn record(&self, deployment_id: &str) -> Result<ReleaseRecord> {
        let parameter = self.parameter(deployment_id);
        let text = self.plans.release_record(&parameter).await?.ok_or_else(|| Error::AwsPermanent {
            operation: "GetParameter",
            code: Some(DEPLOYMENT_NOT_FOUND.into()),
            message: format!("deployment {deployment_id} has no release record ({parameter} not found)"),
        })?;
        serde_json::from_str(&text).map_err(|e| {
            Error::invalid(parameter, format!("a release record (JSON) of hookline's Route 53 controller: {e}"))
        })
    }

    /// Writes `record` at its parameter.
    pub async fn save(&self, record: &ReleaseRecord) -> Result<()> {
        let text = serde_json::to_string(record).map_err(|e| Error::invalid("release record", e.to_string()))?;
        self.plans.put_release_record(&self.parameter(&record.deployment_id), &text).await
    }

    /// The record's status (what the functions act on: one SSM read, no other permission).
    fn status_of(record: &ReleaseRecord) -> DeploymentStatus {
        match record.status {
            ReleaseStatus::InProgress => DeploymentStatus::Active,
            ReleaseStatus::Succeeded => DeploymentStatus::Succeeded,
            ReleaseStatus::Failed => DeploymentStatus::Failed,
            ReleaseStatus::Stopped => DeploymentStatus::Stopped,
        }
    }

    /// The record's status as readers show it, corrected by its execution: a record still
    /// `InProgress` whose canary execution ended without a report (a crash no rollback caught) is
    /// `Failed`.
    async fn status_read(&self, record: &ReleaseRecord) -> Result<DeploymentStatus> {
        if let (ReleaseStatus::InProgress, Some(arn)) = (record.status, &record.execution_arn) {
            if let Some(e) = self.executions.describe(arn).await? {
                if !e.status.is_running() && e.status != RunStatus::Succeeded {
                    return Ok(DeploymentStatus::Failed);
                }
            }
        }
        Ok(Self::status_of(record))
    }

    /// The services' part of the end, once: blue scaled down (or removed) after a success, green
    /// scaled to 0 after a failure or a stop.
    async fn finish_services(&self, record: &mut ReleaseRecord) -> Result<()> {
        if record.services_done {
            return Ok(());
        }
        let (blue, green) = record.services();
        match record.status {
            ReleaseStatus::Succeeded => {
                if let Some(blue) = blue {
                    if record.remove_old {
                        self.services.delete(blue).await?;
                    } else if self.services.describe(blue).await?.is_some() {
                        self.services.scale(blue, 0).await?;
                    }
                }
            }
            ReleaseStatus::Failed | ReleaseStatus::Stopped => {
                if drain_left(record, now_epoch()).is_some() {
                    return Ok(());
                }
                if let Some(green) = green {
                    if let Some(facts) = self.services.describe(green).await? {
                        match (&record.green_task_definition, &facts.task_definition) {
                            // A later `hookline deploy` put its own task definition on green (possible
                            // once this canary's execution ended, e.g. while `hookline rollback`
                            // waited the drain): green is that deployment's now.
                            (Some(ours), Some(running)) if ours != running => {
                                warn!(service = %green.service, ours, running, "green runs a later deployment's task definition; left as it is");
                            }
                            _ => self.services.scale(green, 0).await?,
                        }
                    }
                }
            }
            ReleaseStatus::InProgress => return Ok(()),
        }
        record.services_done = true;
        self.save(record).await
    }
}

/// Seconds of `record`'s drain left at `now` (epoch seconds): `None` when it has none, or it is over.
fn drain_left(record: &ReleaseRecord, now: i64) -> Option<u64> {
    let until = record.drain_until?;
    u64::try_from(until.saturating_sub(now)).ok().filter(|left| *left > 0)
}

/// Starts `record`'s drain at `now`, once: the first `Failed` report follows DNS's restore to blue.
fn start_drain(record: &mut ReleaseRecord, now: i64) {
    if record.drain_until.is_none() {
        let seconds = i64::try_from(record.drain_seconds.unwrap_or(0)).unwrap_or(i64::MAX);
        record.drain_until = Some(now.saturating_add(seconds));
    }
}

/// The record's status word (`in-progress`, `succeeded`, ...), as readers show it.
fn status_word(status: ReleaseStatus) -> String {
    serde_json::to_value(status).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

#[async_trait]
impl Lifecycle for Route53Releases {
    async fn describe(&self, deployment_id: &str) -> Result<DeploymentSummary> {
        let record = self.record(deployment_id).await?;
        let status = self.status_read(&record).await?;
        Ok(DeploymentSummary {
            deployment_id: deployment_id.to_string(),
            controller: Controller::Route53,
            phase: status.is_active().then_some(Phase::InProgress),
            status,
            // DNS goes back to blue in one batch; green's service is emptied after the drain, and
            // until then the rollback is not over (`hookline rollback` run again finishes it).
            rolling_back: matches!(record.status, ReleaseStatus::Failed | ReleaseStatus::Stopped)
                && !record.services_done,
            status_word: status_word(record.status),
            application: record.context.application.clone(),
            group: record.context.deployment_group.clone(),
            created_at: Some(record.created_at),
            ended_at: record.ended_at,
            message: record.message.clone(),
        })
    }

    async fn resolve(&self, deployment_id: &str, _execution_id: Option<&str>) -> Result<Resolved> {
        let record = self.record(deployment_id).await?;
        let active = record.status == ReleaseStatus::InProgress;
        Ok(Resolved {
            context: record.context,
            in_progress_event: active.then(|| HookEvent::PreTraffic.as_str().to_string()),
            in_progress_hook: active.then_some(HookEvent::PreTraffic),
            in_progress_started_at: Some(record.created_at),
            hook_expires_at: None,
        })
    }

    async fn status(&self, deployment_id: &str) -> Result<DeploymentStatus> {
        Ok(Self::status_of(&self.record(deployment_id).await?))
    }

    async fn report(&self, deployment_id: &str, _execution_id: &str, status: HookStatus) -> Result<Reported> {
        let mut record = self.record(deployment_id).await?;
        let reported = match (record.status, status) {
            (ReleaseStatus::InProgress, HookStatus::Succeeded) => {
                record.status = ReleaseStatus::Succeeded;
                record.ended_at = Some(now_epoch());
                self.save(&record).await?;
                Reported::Now
            }
            (ReleaseStatus::InProgress, HookStatus::Failed) => {
                record.status = ReleaseStatus::Failed;
                record.ended_at = Some(now_epoch());
                start_drain(&mut record, now_epoch());
                self.save(&record).await?;
                Reported::Now
            }
            // The same answer again (an earlier try got the record written): finish its services.
            (ReleaseStatus::Succeeded, HookStatus::Succeeded) => {
                if record.services_done {
                    Reported::Already
                } else {
                    Reported::Now
                }
            }
            (ReleaseStatus::Failed | ReleaseStatus::Stopped, HookStatus::Failed) => {
                if record.services_done {
                    Reported::Already
                } else {
                    // Stopped by an operator before DNS was restored: the drain starts at this
                    // report, the first after the console's restore.
                    if record.drain_until.is_none() {
                        start_drain(&mut record, now_epoch());
                        self.save(&record).await?;
                    }
                    Reported::Now
                }
            }
            // Closed the other way: not ours to change (finalize then reads event_status, rollback
            // after a success leaves green serving).
            (ReleaseStatus::Succeeded, HookStatus::Failed)
            | (ReleaseStatus::Failed | ReleaseStatus::Stopped, HookStatus::Succeeded) => return Ok(Reported::Already),
        };
        self.finish_services(&mut record).await?;
        Ok(reported)
    }

    async fn event_status(&self, ctx: &DeploymentContext, event: HookEvent) -> Result<Option<EventStatus>> {
        if event != HookEvent::PreTraffic {
            return Ok(None);
        }
        let record = self.record(&ctx.deployment_id).await?;
        Ok(Some(match record.status {
            ReleaseStatus::InProgress => EventStatus::InProgress,
            ReleaseStatus::Succeeded => EventStatus::Succeeded,
            ReleaseStatus::Failed | ReleaseStatus::Stopped => EventStatus::Failed,
        }))
    }

    /// Marks the record `Stopped`: the running canary's next step fails with `DeploymentStopped`,
    /// and the rollback that follows (the console's, or the execution's own) restores DNS and
    /// reports `Failed`, which scales green to 0.
    async fn stop_with_rollback(&self, deployment_id: &str) -> Result<Stop> {
        let mut record = self.record(deployment_id).await?;
        if record.status != ReleaseStatus::InProgress {
            return Ok(Stop::AlreadyEnded);
        }
        record.status = ReleaseStatus::Stopped;
        record.ended_at = Some(now_epoch());
        record.message = Some("stopped by an operator (hookline rollback)".into());
        self.save(&record).await?;
        Ok(Stop::Stopping("release stopped; DNS goes back to blue 100 and green is scaled to 0".into()))
    }

    async fn admission(&self, _deployment_id: &str) -> Result<Admission> {
        Ok(Admission::Serve)
    }

    /// What is left of green's drain after a `Failed` report whose scale it held back.
    async fn drain_seconds(&self, deployment_id: &str) -> Result<Option<u64>> {
        let record = self.record(deployment_id).await?;
        let failed = matches!(record.status, ReleaseStatus::Failed | ReleaseStatus::Stopped);
        Ok(if failed && !record.services_done { drain_left(&record, now_epoch()) } else { None })
    }

    async fn cut_drain_short(&self, deployment_id: &str) -> Result<()> {
        let mut record = self.record(deployment_id).await?;
        let now = now_epoch();
        if !record.services_done && drain_left(&record, now).is_some() {
            record.drain_until = Some(now);
            self.save(&record).await?;
        }
        Ok(())
    }

    /// An end whose services' part is not done (the report marked the record, then scaling a
    /// service down failed): done now, as the record's status says. DNS is not touched: where it
    /// is follows from the record (a success stays on green, a failure was restored before).
    async fn finish_end(&self, deployment_id: &str) -> Result<bool> {
        let mut record = self.record(deployment_id).await?;
        if record.status == ReleaseStatus::InProgress || record.services_done {
            return Ok(false);
        }
        // A failure's scale-down waits out green's drain: done only once that is over.
        self.finish_services(&mut record).await?;
        Ok(record.services_done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::execution::ServiceRef;
    use crate::testing::{FakeExecutions, FakePlanStore, FakeServices};

    const ID: &str = "dns-20261206-084016-abcd";

    fn svc(name: &str) -> ServiceRef {
        ServiceRef { cluster: "shop".into(), service: name.into(), region: None, role_arn: None }
    }

    fn record(remove_old: bool) -> ReleaseRecord {
        let mut context = crate::testing::context();
        context.deployment_id = ID.into();
        context.blue.service = Some(svc("shop-web-blue"));
        context.green.service = Some(svc("shop-web-green"));
        ReleaseRecord {
            deployment_id: ID.into(),
            environment: "prod".into(),
            status: ReleaseStatus::InProgress,
            context,
            execution_arn: None,
            remove_old,
            created_at: 1,
            ended_at: None,
            services_done: false,
            message: None,
            drain_seconds: None,
            drain_until: None,
            green_task_definition: None,
        }
    }

    fn releases(
        record: &ReleaseRecord,
        services: FakeServices,
    ) -> (Route53Releases, Arc<FakePlanStore>, Arc<FakeServices>) {
        let plans = Arc::new(
            FakePlanStore::default()
                .with(&dns_release_parameter("/hookline", ID), &serde_json::to_string(record).unwrap()),
        );
        let services = Arc::new(services);
        let adapter = Route53Releases {
            plans: plans.clone(),
            executions: Arc::new(FakeExecutions::default()),
            services: services.clone(),
            plan_parameter_prefix: "/hookline".into(),
        };
        (adapter, plans, services)
    }

    fn two_services() -> FakeServices {
        FakeServices::default().with("shop", "shop-web-blue", 2, "td:1").with("shop", "shop-web-green", 3, "td:2")
    }

    #[tokio::test]
    async fn success_scales_blue_to_zero_once_and_marks_the_record() {
        let (adapter, _, services) = releases(&record(false), two_services());
        assert_eq!(adapter.status(ID).await.unwrap(), DeploymentStatus::Active);
        assert_eq!(adapter.report(ID, "", HookStatus::Succeeded).await.unwrap(), Reported::Now);
        assert_eq!(services.get("shop", "shop-web-blue").map(|s| s.desired), Some(0));
        assert_eq!(services.get("shop", "shop-web-green").map(|s| s.desired), Some(3));
        assert_eq!(adapter.report(ID, "", HookStatus::Succeeded).await.unwrap(), Reported::Already);
        assert_eq!(services.changes(), vec!["scale shop/shop-web-blue 0"]);
        assert_eq!(adapter.status(ID).await.unwrap(), DeploymentStatus::Succeeded);
        let ctx = adapter.record(ID).await.unwrap().context;
        assert_eq!(adapter.event_status(&ctx, HookEvent::PreTraffic).await.unwrap(), Some(EventStatus::Succeeded));
        // A rollback's Failed after the success changes nothing.
        assert_eq!(adapter.report(ID, "", HookStatus::Failed).await.unwrap(), Reported::Already);
        assert_eq!(services.changes().len(), 1);
    }

    #[tokio::test]
    async fn a_success_whose_scale_down_failed_is_finished_not_undone() {
        // finalize marked the record succeeded, then UpdateService was denied (its error goes to
        // the rollback, which finds the hook Succeeded)...
        let (adapter, _, services) = releases(&record(false), two_services());
        services.fail(crate::testing::fakes::ServicesCall::Scale, crate::testing::denied("UpdateService"));
        assert!(adapter.report(ID, "", HookStatus::Succeeded).await.is_err());
        let ctx = adapter.record(ID).await.unwrap().context;
        assert_eq!(adapter.event_status(&ctx, HookEvent::PreTraffic).await.unwrap(), Some(EventStatus::Succeeded));
        assert_eq!(services.get("shop", "shop-web-blue").map(|s| s.desired), Some(2));
        // ...which finishes the success: blue scaled to 0, green kept, the record done.
        let (adapter, plans, services) = releases(&adapter.record(ID).await.unwrap(), two_services());
        assert!(adapter.finish_end(ID).await.unwrap());
        assert_eq!(services.changes(), vec!["scale shop/shop-web-blue 0"]);
        assert_eq!(services.get("shop", "shop-web-green").map(|s| s.desired), Some(3));
        assert!(plans.get(&dns_release_parameter("/hookline", ID)).unwrap().contains("\"services_done\":true"));
        assert_eq!(adapter.status(ID).await.unwrap(), DeploymentStatus::Succeeded);
        // Once done, or for a release still in progress, there is nothing to finish.
        assert!(!adapter.finish_end(ID).await.unwrap());
        let (running, _, untouched) = releases(&record(false), two_services());
        assert!(!running.finish_end(ID).await.unwrap());
        assert!(untouched.changes().is_empty());
    }

    #[tokio::test]
    async fn a_failure_whose_scale_down_failed_is_finished_by_finish_end() {
        let (adapter, _, services) = releases(&record(false), two_services());
        services.fail(crate::testing::fakes::ServicesCall::Scale, crate::testing::denied("UpdateService"));
        assert!(adapter.report(ID, "", HookStatus::Failed).await.is_err());
        assert_eq!(adapter.status(ID).await.unwrap(), DeploymentStatus::Failed);
        let (adapter, _, services) = releases(&adapter.record(ID).await.unwrap(), two_services());
        assert!(adapter.finish_end(ID).await.unwrap());
        assert_eq!(services.changes(), vec!["scale shop/shop-web-green 0"]);
        assert!(!adapter.finish_end(ID).await.unwrap());
    }

    #[tokio::test]
    async fn the_rollbacks_report_does_not_take_its_own_record_for_an_end_by_someone_else() {
        // report_failed: the report marks the record failed, then green's scale-down is denied. The
        // record now reads as ended, which is no reason to leave green's tasks running: the error
        // stays an error (the state machine's Retry repeats the rollback)...
        let (adapter, _, services) = releases(&record(false), two_services());
        services.fail(crate::testing::fakes::ServicesCall::Scale, crate::testing::denied("UpdateService"));
        assert!(crate::rollback::report_failed(&adapter, ID, "").await.is_err(), "green not scaled: an error");
        assert_eq!(services.get("shop", "shop-web-green").map(|s| s.desired), Some(3));
        // ...and the repeat, with the call allowed, scales green to 0.
        let (adapter, _, services) = releases(&adapter.record(ID).await.unwrap(), two_services());
        assert_eq!(crate::rollback::report_failed(&adapter, ID, "").await.unwrap(), Reported::Now);
        assert_eq!(services.changes(), vec!["scale shop/shop-web-green 0"]);
        assert_eq!(crate::rollback::report_failed(&adapter, ID, "").await.unwrap(), Reported::Already);
    }

    #[tokio::test]
    async fn success_with_remove_old_deletes_blue() {
        let (adapter, _, services) = releases(&record(true), two_services());
        adapter.report(ID, "", HookStatus::Succeeded).await.unwrap();
        assert_eq!(services.get("shop", "shop-web-blue"), None);
        assert_eq!(services.changes(), vec!["delete shop/shop-web-blue"]);
    }

    #[tokio::test]
    async fn a_failed_scale_is_finished_by_the_next_report() {
        let (adapter, _, services) = releases(&record(false), two_services());
        services.fail(crate::testing::fakes::ServicesCall::Scale, crate::testing::denied("UpdateService"));
        assert!(adapter.report(ID, "", HookStatus::Failed).await.is_err());
        // The record says Failed already (a racing finalize would not report Succeeded over it)...
        assert_eq!(adapter.status(ID).await.unwrap(), DeploymentStatus::Failed);
        assert_eq!(services.get("shop", "shop-web-green").map(|s| s.desired), Some(3));
        // ...and the retry scales green down.
        let services2 = two_services();
        let (adapter2, plans, services2) = {
            let rec = adapter.record(ID).await.unwrap();
            releases(&rec, services2)
        };
        assert_eq!(adapter2.report(ID, "", HookStatus::Failed).await.unwrap(), Reported::Now);
        assert_eq!(services2.changes(), vec!["scale shop/shop-web-green 0"]);
        assert_eq!(adapter2.report(ID, "", HookStatus::Failed).await.unwrap(), Reported::Already);
        assert!(plans.get(&dns_release_parameter("/hookline", ID)).unwrap().contains("\"services_done\":true"));
    }

    #[tokio::test]
    async fn stop_marks_stopped_and_the_failed_report_scales_green() {
        let (adapter, _, services) = releases(&record(false), two_services());
        assert!(matches!(adapter.stop_with_rollback(ID).await.unwrap(), Stop::Stopping(_)));
        assert_eq!(adapter.status(ID).await.unwrap(), DeploymentStatus::Stopped);
        assert_eq!(adapter.stop_with_rollback(ID).await.unwrap(), Stop::AlreadyEnded);
        assert_eq!(adapter.report(ID, "", HookStatus::Failed).await.unwrap(), Reported::Now);
        assert_eq!(services.changes(), vec!["scale shop/shop-web-green 0"]);
        // A finalize arriving after the stop is not ours: DNS must not stay on green.
        assert_eq!(adapter.report(ID, "", HookStatus::Succeeded).await.unwrap(), Reported::Already);
        let summary = adapter.describe(ID).await.unwrap();
        assert_eq!((summary.controller, summary.status_word.as_str()), (Controller::Route53, "stopped"));
    }

    /// A record as `deploy` writes it: a 70 s drain (TTL 60 s + grace 10 s), green's task definition.
    fn draining_record() -> ReleaseRecord {
        ReleaseRecord { drain_seconds: Some(70), green_task_definition: Some("td:2".into()), ..record(false) }
    }

    /// Moves the record's drain into the past, as the clock would after the `Wait`.
    async fn drain_over(adapter: &Route53Releases) {
        let mut rec = adapter.record(ID).await.unwrap();
        rec.drain_until = rec.drain_until.map(|until| until - 71);
        adapter.save(&rec).await.unwrap();
    }

    #[tokio::test]
    async fn a_failure_keeps_greens_tasks_for_the_ttl_and_grace_then_scales_it_to_zero() {
        let (adapter, _, services) = releases(&draining_record(), two_services());
        let before = now_epoch();
        assert_eq!(adapter.report(ID, "", HookStatus::Failed).await.unwrap(), Reported::Now);
        // Marked Failed at once (a racing finalize finds it), green untouched while resolvers cache it.
        assert_eq!(adapter.status(ID).await.unwrap(), DeploymentStatus::Failed);
        assert!(services.changes().is_empty(), "{:?}", services.changes());
        let rec = adapter.record(ID).await.unwrap();
        assert!(rec.drain_until.is_some_and(|u| u >= before + 70 && u <= now_epoch() + 70), "{rec:?}");
        let left = adapter.drain_seconds(ID).await.unwrap();
        assert!(left.is_some_and(|s| (69..=70).contains(&s)), "{left:?}");
        // Until green is emptied the rollback is not over (`hookline rollback` again finishes it).
        assert!(adapter.describe(ID).await.unwrap().rolling_back);
        // A report during the drain (a retry) neither scales nor restarts the drain.
        assert_eq!(adapter.report(ID, "", HookStatus::Failed).await.unwrap(), Reported::Now);
        assert!(services.changes().is_empty());
        assert_eq!(adapter.record(ID).await.unwrap().drain_until, rec.drain_until);

        drain_over(&adapter).await;
        assert_eq!(adapter.drain_seconds(ID).await.unwrap(), None);
        assert_eq!(adapter.report(ID, "", HookStatus::Failed).await.unwrap(), Reported::Now);
        assert_eq!(services.changes(), vec!["scale shop/shop-web-green 0"]);
        assert_eq!(adapter.report(ID, "", HookStatus::Failed).await.unwrap(), Reported::Already);
        assert_eq!(adapter.drain_seconds(ID).await.unwrap(), None);
        assert!(!adapter.describe(ID).await.unwrap().rolling_back);
    }

    #[tokio::test]
    async fn an_operators_stop_starts_the_drain_at_the_report_after_the_restore() {
        let (adapter, _, services) = releases(&draining_record(), two_services());
        adapter.stop_with_rollback(ID).await.unwrap();
        // Stopped, DNS not restored yet: no drain counts.
        assert_eq!(adapter.record(ID).await.unwrap().drain_until, None);
        assert_eq!(adapter.drain_seconds(ID).await.unwrap(), None);
        assert_eq!(adapter.report(ID, "", HookStatus::Failed).await.unwrap(), Reported::Now);
        assert!(adapter.drain_seconds(ID).await.unwrap().is_some_and(|s| s >= 69));
        assert!(services.changes().is_empty());
        assert_eq!(adapter.status(ID).await.unwrap(), DeploymentStatus::Stopped);
        drain_over(&adapter).await;
        adapter.report(ID, "", HookStatus::Failed).await.unwrap();
        assert_eq!(services.changes(), vec!["scale shop/shop-web-green 0"]);
    }

    #[tokio::test]
    async fn a_drain_cut_short_lets_the_next_report_scale_green_at_once() {
        let (adapter, _, services) = releases(&draining_record(), two_services());
        adapter.report(ID, "", HookStatus::Failed).await.unwrap();
        adapter.cut_drain_short(ID).await.unwrap();
        assert_eq!(adapter.drain_seconds(ID).await.unwrap(), None);
        adapter.report(ID, "", HookStatus::Failed).await.unwrap();
        assert_eq!(services.changes(), vec!["scale shop/shop-web-green 0"]);
        // Cutting a finished drain short changes nothing.
        adapter.cut_drain_short(ID).await.unwrap();
        assert_eq!(adapter.report(ID, "", HookStatus::Failed).await.unwrap(), Reported::Already);
    }

    #[tokio::test]
    async fn green_taken_over_by_a_later_deployment_during_the_drain_is_left_running() {
        // A later `hookline deploy` registered td:3 and put it on green while this drain ran.
        let services =
            FakeServices::default().with("shop", "shop-web-blue", 2, "td:1").with("shop", "shop-web-green", 2, "td:3");
        let (adapter, _, services) = releases(&draining_record(), services);
        adapter.report(ID, "", HookStatus::Failed).await.unwrap();
        drain_over(&adapter).await;
        assert_eq!(adapter.report(ID, "", HookStatus::Failed).await.unwrap(), Reported::Now);
        assert!(services.changes().is_empty(), "{:?}", services.changes());
        assert_eq!(services.get("shop", "shop-web-green").map(|s| s.desired), Some(2));
        assert_eq!(adapter.report(ID, "", HookStatus::Failed).await.unwrap(), Reported::Already);
    }

    #[tokio::test]
    async fn success_does_not_drain_its_last_bake_at_100_already_did() {
        let (adapter, _, services) = releases(&draining_record(), two_services());
        adapter.report(ID, "", HookStatus::Succeeded).await.unwrap();
        assert_eq!(services.changes(), vec!["scale shop/shop-web-blue 0"]);
        assert_eq!(adapter.drain_seconds(ID).await.unwrap(), None);
    }

    #[tokio::test]
    async fn readers_see_failed_when_the_execution_ended_without_a_report() {
        let executions = Arc::new(FakeExecutions::default());
        let arn = executions.insert("arn:machine", "dns-x-BeforeAllowTraffic", RunStatus::Aborted, None);
        let mut rec = record(false);
        rec.execution_arn = Some(arn);
        let (mut adapter, _, _) = releases(&rec, two_services());
        adapter.executions = executions;
        let summary = adapter.describe(ID).await.unwrap();
        assert_eq!((summary.status, summary.status_word.as_str()), (DeploymentStatus::Failed, "in-progress"));
        // What the functions act on is the record alone (no Step Functions permission needed).
        assert_eq!(adapter.status(ID).await.unwrap(), DeploymentStatus::Active);
    }

    #[tokio::test]
    async fn an_unknown_deployment_is_not_found() {
        let (adapter, _, _) = releases(&record(false), two_services());
        let err = adapter.status("dns-20000101-000000-0000").await.unwrap_err();
        assert_eq!(err.aws_code(), Some(DEPLOYMENT_NOT_FOUND));
    }
}
