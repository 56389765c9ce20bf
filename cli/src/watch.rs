//! `hookline watch`: a live timeline until the deployment ends.

use std::collections::BTreeMap;
use std::time::Duration;

use hookline::execution::{DeploymentContext, HookEvent};
use hookline::traffic::{TrafficRouter, Weights};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::aws::Aws;
use crate::history::{clock, Tracker};
use crate::status::JudgementSeen;
use crate::R;

/// How a deployment ended, and the exit code `watch` answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Succeeded,
    Failed,
    Stopped,
}

impl Outcome {
    /// CodeDeploy's terminal status, or `None` while it runs.
    pub fn from_status(status: &str) -> Option<Outcome> {
        match status {
            "Succeeded" => Some(Outcome::Succeeded),
            "Failed" => Some(Outcome::Failed),
            "Stopped" => Some(Outcome::Stopped),
            _ => None,
        }
    }

    /// 0 succeeded, 1 failed, 2 stopped.
    pub fn exit_code(self) -> u8 {
        match self {
            Outcome::Succeeded => 0,
            Outcome::Failed => 1,
            Outcome::Stopped => 2,
        }
    }
}

/// One timeline line: `HH:MM:SS  text`.
pub fn line(epoch: i64, text: &str) -> String {
    format!("{}  {text}", clock(epoch))
}

/// Prints lines above the bar, or plainly when the bar is hidden (no terminal).
struct Out {
    bar: ProgressBar,
}

impl Out {
    fn print(&self, text: String) {
        // suspend() clears the bar, prints to stdout, redraws; a hidden bar just runs the closure,
        // so the lines print in CI and through pipes too.
        self.bar.suspend(|| crate::emit(&text));
    }
}

/// Watches until the deployment is Succeeded, Failed or Stopped (or `timeout` passes).
pub async fn run(aws: &Aws, deployment_id: &str, interval: Duration, timeout: Option<Duration>) -> R<Outcome> {
    let info = aws.deployment(deployment_id).await?;
    let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} steps  {msg}")
        .map(|s| s.progress_chars("=> "))
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.enable_steady_tick(Duration::from_millis(200));
    let out = Out { bar: bar.clone() };
    out.print(format!(
        "watching {deployment_id} ({} / {})",
        info.application_name().unwrap_or("?"),
        info.deployment_group_name().unwrap_or("?")
    ));

    let started = std::time::Instant::now();
    let mut status = String::new();
    let mut lifecycle: BTreeMap<String, String> = BTreeMap::new();
    let mut trackers: BTreeMap<&'static str, Tracker> = BTreeMap::new();
    // The last history event of each execution read for canary judgements.
    let mut judged_upto: BTreeMap<&'static str, i64> = BTreeMap::new();
    let mut context: Option<DeploymentContext> = None;
    let mut weights: Option<Weights> = None;
    let mut target_id: Option<String> = None;
    let mut ending_polls = 0;
    loop {
        let now = hookline::execution::now_epoch();
        let info = aws.deployment(deployment_id).await?;
        let new_status = info.status().map(|s| s.as_str().to_string()).unwrap_or_else(|| "unknown".into());
        // This poll's lines, printed in time order at the end of it.
        let mut lines: Vec<(i64, String)> = Vec::new();

        // Lifecycle events of the ECS target (printed after the executions' events of the same second,
        // which usually caused them).
        let mut lifecycle_lines: Vec<(i64, String)> = Vec::new();
        // Lifecycle events of the ECS target.
        if target_id.is_none() {
            if let Ok(t) = aws.clients.codedeploy.list_deployment_targets().deployment_id(deployment_id).send().await {
                target_id = t.target_ids().first().cloned();
            }
        }
        if let Some(tid) = &target_id {
            if let Ok(t) =
                aws.clients.codedeploy.get_deployment_target().deployment_id(deployment_id).target_id(tid).send().await
            {
                let events = t.deployment_target().and_then(|t| t.ecs_target()).map(|e| e.lifecycle_events().to_vec());
                for ev in events.unwrap_or_default() {
                    let (Some(name), Some(st)) = (ev.lifecycle_event_name(), ev.status()) else { continue };
                    let st = st.as_str().to_string();
                    if lifecycle.get(name) != Some(&st) {
                        let at = if st == "InProgress" { ev.start_time() } else { ev.end_time() };
                        let at = at.map_or(now, |t| t.secs());
                        if st != "Pending" {
                            lifecycle_lines.push((at, format!("lifecycle  {name} {st}")));
                        }
                        lifecycle.insert(name.to_string(), st);
                    }
                }
            }
        }

        // The executions' histories.
        for (key, event) in [("1-canary", HookEvent::BeforeAllowTraffic), ("2-post", HookEvent::AfterAllowTraffic)] {
            if let Some(exec) = aws.execution(deployment_id, event).await? {
                let tracker = trackers.entry(key).or_default();
                let upto = judged_upto.entry(key).or_insert(0);
                for e in &exec.events {
                    if let Some(text) = tracker.feed(e) {
                        lines.push((e.ts, text));
                    }
                    if e.id > *upto {
                        *upto = e.id;
                        if let Some(j) = JudgementSeen::from_event(e) {
                            lines.push((e.ts, format!("judged  {}", j.summary)));
                            lines.extend(j.metrics.into_iter().map(|m| (e.ts, format!("        {m}"))));
                        }
                    }
                }
                if context.is_none() {
                    if let Some(doc) = &tracker.document {
                        context = aws.context(deployment_id, Some(doc)).await.ok();
                    }
                }
                if let Some(n) = tracker.step_count().filter(|_| event == HookEvent::BeforeAllowTraffic) {
                    bar.set_length(n);
                    bar.set_position(tracker.steps_done);
                }
            }
        }
        if context.is_none() {
            context = aws.context(deployment_id, None).await.ok();
        }
        lines.append(&mut lifecycle_lines);

        // Live production weights.
        if let Some(ctx) = &context {
            if let Ok(w) = aws.clients.router(ctx).weights().await {
                if weights != Some(w) {
                    lines.push((now, format!("weights  {w}")));
                    weights = Some(w);
                }
            }
        }

        if new_status != status {
            let at = if status.is_empty() { info.create_time().map_or(now, |t| t.secs()) } else { now };
            let at = if Outcome::from_status(&new_status).is_some() {
                info.complete_time().map_or(now, |t| t.secs())
            } else {
                at
            };
            lines.push((at, format!("deployment  {new_status}")));
            status = new_status;
        }
        lines.sort_by_key(|(at, _)| *at);
        for (at, text) in lines {
            out.print(line(at, &text));
        }
        let state = trackers.values().last().and_then(|t| t.last_state.clone()).unwrap_or_default();
        bar.set_message(format!("{status}  {state}  {}", weights.map(|w| w.to_string()).unwrap_or_default()));

        if let Some(outcome) = Outcome::from_status(&status) {
            // One more poll after the end so the executions' last events (rollback, report) show.
            ending_polls += 1;
            if ending_polls > 1 {
                bar.finish_and_clear();
                let took = match (info.create_time(), info.complete_time()) {
                    (Some(c), Some(d)) => {
                        format!(" in {}", hookline::plan::human(u64::try_from(d.secs() - c.secs()).unwrap_or(0)))
                    }
                    _ => String::new(),
                };
                let err = info
                    .error_information()
                    .map(|e| {
                        format!(" ({}: {})", e.code().map(|c| c.as_str()).unwrap_or("error"), e.message().unwrap_or(""))
                    })
                    .unwrap_or_default();
                crate::emit(&format!("{deployment_id} {status}{took}{err}"));
                return Ok(outcome);
            }
        }
        if timeout.is_some_and(|t| started.elapsed() > t) {
            bar.finish_and_clear();
            return Err(crate::fail(format!("{deployment_id} still {status} after the --timeout; stopped watching")));
        }
        tokio::time::sleep(interval).await;
    }
}
