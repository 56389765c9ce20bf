//! `hookline watch`: a live timeline until the deployment ends.

use std::collections::BTreeMap;
use std::time::Duration;

use hookline::execution::{DeploymentContext, HookEvent};
use hookline::lifecycle::{controller_of, Controller, DeploymentStatus, DeploymentSummary, Lifecycle};
use hookline::traffic::Weights;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::status::{shown, JudgementSeen};
use crate::address::DeploymentArg;
use crate::aws::Aws;
use crate::error::{fail, R};
use crate::execution_history::{clock, Tracker};
use crate::output::emit;

/// `hookline watch`'s arguments.
#[derive(Debug, clap::Args)]
pub struct WatchArgs {
    #[command(flatten)]
    pub deployment: DeploymentArg,
    /// Poll interval.
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    pub interval: Duration,
    /// Give up after this long (exit 3).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub timeout: Option<Duration>,
}

/// `hookline watch`: the timeline until the deployment ends; exit code by its outcome.
pub async fn run(aws: &Aws, args: &WatchArgs) -> R<u8> {
    let deployment_id = aws.deployment_id_of(&args.deployment.address()?).await?;
    let outcome = follow(aws, &deployment_id, args.interval, args.timeout).await?;
    Ok(outcome.exit_code())
}

/// How a deployment ended, and the exit code `watch` answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Succeeded,
    Failed,
    Stopped,
}

impl Outcome {
    /// How the deployment ended, or `None` while it runs, or while its controller is still rolling
    /// it back (production may still move: `watch` shows blue restored before it exits).
    pub fn of(deployment: &DeploymentSummary) -> Option<Outcome> {
        if deployment.rolling_back {
            return None;
        }
        match deployment.status {
            DeploymentStatus::Succeeded => Some(Outcome::Succeeded),
            DeploymentStatus::Failed => Some(Outcome::Failed),
            DeploymentStatus::Stopped => Some(Outcome::Stopped),
            DeploymentStatus::Active | DeploymentStatus::Unrecognized(_) => None,
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
        self.bar.suspend(|| emit(&text));
    }
}

/// Watches until the deployment is Succeeded, Failed or Stopped (or `timeout` passes).
pub async fn follow(aws: &Aws, deployment_id: &str, interval: Duration, timeout: Option<Duration>) -> R<Outcome> {
    let info = aws.deployment(deployment_id).await?;
    let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} steps  {msg}")
        .map(|s| s.progress_chars("=> "))
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.enable_steady_tick(Duration::from_millis(200));
    let out = Out { bar: bar.clone() };
    let known = |s: &str| if s.is_empty() { "?".to_string() } else { s.to_string() };
    out.print(format!("watching {deployment_id} ({} / {})", known(&info.application), known(&info.group)));
    // Only a CodeDeploy deployment has a deployment target with lifecycle events.
    let has_target_events = controller_of(deployment_id) == Controller::CodeDeploy;

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
    let mut paused_seen = std::collections::BTreeSet::new();
    loop {
        let now = hookline::execution::now_epoch();
        let info = aws.deployment(deployment_id).await?;
        let new_status = shown(&info);
        // This poll's lines, printed in time order at the end of it.
        let mut lines: Vec<(i64, String)> = Vec::new();

        // Lifecycle events of the ECS target (printed after the executions' events of the same second,
        // which usually caused them).
        let mut lifecycle_lines: Vec<(i64, String)> = Vec::new();
        if has_target_events {
            for ev in crate::codedeploy::target_events(aws, deployment_id, &mut target_id).await {
                if lifecycle.get(&ev.name) != Some(&ev.status_word) {
                    if !ev.pending {
                        lifecycle_lines
                            .push((ev.at.unwrap_or(now), format!("lifecycle  {} {}", ev.name, ev.status_word)));
                    }
                    lifecycle.insert(ev.name, ev.status_word);
                }
            }
        }

        // The executions' histories.
        for (key, event) in [("1-canary", HookEvent::PreTraffic), ("2-post", HookEvent::PostTraffic)] {
            if let Some(exec) = aws.execution(deployment_id, event).await? {
                let tracker = trackers.entry(key).or_default();
                let upto = judged_upto.entry(key).or_insert(0);
                for e in &exec.events {
                    if let Some(text) = tracker.feed(e) {
                        lines.push((e.timestamp, text));
                    }
                    if e.id > *upto {
                        *upto = e.id;
                        if let Some(j) = JudgementSeen::from_event(e) {
                            lines.push((e.timestamp, format!("judged  {}", j.summary)));
                            lines.extend(j.metrics.into_iter().map(|m| (e.timestamp, format!("        {m}"))));
                        }
                    }
                }
                if context.is_none() {
                    if let Some(doc) = &tracker.document {
                        context = aws.context(deployment_id, Some(doc)).await.ok();
                    }
                }
                if let Some(n) = tracker.step_count().filter(|_| event == HookEvent::PreTraffic) {
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
            if let Ok(w) = aws.router(ctx).weights().await {
                if weights != Some(w) {
                    lines.push((now, format!("weights  {w}")));
                    weights = Some(w);
                }
            }
        }

        // The controller's own pause (an ECS PAUSE hook awaiting action), once per hook.
        if info.status.is_active() {
            if let Ok(Some(p)) = aws.clients.lifecycle().paused(deployment_id).await {
                if paused_seen.insert(p.hook_id.clone()) {
                    lines.push((now, format!("paused  {}", super::status::pause_line(&p))));
                }
            }
        }

        if new_status != status {
            let at = if status.is_empty() { info.created_at.unwrap_or(now) } else { now };
            let at = if Outcome::of(&info).is_some() { info.ended_at.unwrap_or(now) } else { at };
            lines.push((at, format!("deployment  {new_status}")));
            status = new_status;
        }
        lines.sort_by_key(|(at, _)| *at);
        for (at, text) in lines {
            out.print(line(at, &text));
        }
        let state = trackers.values().last().and_then(|t| t.last_state.clone()).unwrap_or_default();
        bar.set_message(format!("{status}  {state}  {}", weights.map(|w| w.to_string()).unwrap_or_default()));

        if let Some(outcome) = Outcome::of(&info) {
            // One more poll after the end so the executions' last events (rollback, report) show.
            ending_polls += 1;
            if ending_polls > 1 {
                bar.finish_and_clear();
                let took = match (info.created_at, info.ended_at) {
                    (Some(c), Some(d)) => format!(" in {}", hookline::plan::human(u64::try_from(d - c).unwrap_or(0))),
                    _ => String::new(),
                };
                let err = info.message.as_ref().map(|m| format!(" ({m})")).unwrap_or_default();
                emit(&format!("{deployment_id} {status}{took}{err}"));
                return Ok(outcome);
            }
        }
        if timeout.is_some_and(|t| started.elapsed() > t) {
            bar.finish_and_clear();
            return Err(fail(format!("{deployment_id} still {status} after the --timeout; stopped watching")));
        }
        tokio::time::sleep(interval).await;
    }
}
