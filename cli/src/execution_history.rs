//! Reading a canary/post-traffic execution's history (Step Functions' event history, not the
//! `history` verb): where it stands, the last health verdict, the pending approval (and its task
//! token), who approved or rejected, and the timeline lines `watch` prints. Pure: events come in
//! as the [`Executions`](hookline::ports::Executions) port's [`ExecutionEvent`]s (or from JSON fixtures).

use hookline::contract::state;
use hookline::execution::{ExecutionDocument, HookEvent};
use hookline::plan::{human, Controller, Step};
use hookline::ports::{ExecutionEvent, RunStatus};
use serde::Serialize;
use serde_json::Value;

/// The hook `event` as `controller` names it: ECS's stage (the ECS adapter's
/// [`hookline::lifecycle::ecs::stage_of`]), or CodeDeploy's lifecycle event, which hookline's own
/// event names follow ([`HookEvent::as_str`]).
pub fn hook_name(controller: Controller, event: HookEvent) -> &'static str {
    match controller {
        Controller::Ecs => hookline::lifecycle::ecs::stage_of(event),
        Controller::CodeDeploy => hookline::lifecycle::codedeploy::event_name(event),
        // hookline's own controller has no hook: its events are hookline's words.
        Controller::Route53 => event.as_str(),
    }
}

/// An execution's status as Step Functions spells it (`RUNNING`, `TIMED_OUT`, ...: API reference,
/// DescribeExecution `status`), as `status` and `approve` have always shown it.
pub fn run_word(status: &RunStatus) -> &str {
    match status {
        RunStatus::Running => "RUNNING",
        RunStatus::Succeeded => "SUCCEEDED",
        RunStatus::Failed => "FAILED",
        RunStatus::TimedOut => "TIMED_OUT",
        RunStatus::Aborted => "ABORTED",
        RunStatus::Unrecognized(word) => word,
    }
}

/// The health-gate states of the canary and post-traffic definitions.
const HEALTH_STATES: [&str; 2] = [state::VALIDATE_GREEN, state::BAKE];

/// From the AWS JSON form of a history event (`{"id", "type", "timestamp", "<x>EventDetails": {...}}`),
/// as boto3 or the aws CLI print it, for fixtures. Timestamps may be epoch numbers or absent.
#[cfg(test)]
pub fn event_from_aws_json(v: &Value) -> Option<ExecutionEvent> {
    let details = v.as_object()?.iter().find(|(k, _)| k.ends_with("EventDetails")).map(|(_, d)| d);
    let field = |name: &str| details.and_then(|d| d.get(name)).and_then(Value::as_str).map(str::to_string);
    Some(ExecutionEvent {
        id: v.get("id")?.as_i64()?,
        timestamp: v.get("timestamp").and_then(Value::as_f64).map_or(0, |t| t as i64),
        kind: v.get("type")?.as_str()?.to_string(),
        state_name: field("name"),
        input: field("input"),
        output: field("output"),
        error: field("error"),
        cause: field("cause"),
        parameters: field("parameters"),
    })
}

/// An event's input or output, when it parses as JSON.
fn json_of(text: Option<&str>) -> Option<Value> {
    text.and_then(|s| serde_json::from_str(s).ok())
}

/// A health gate run as the history shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HealthVerdict {
    /// `ValidateGreen` (ready gate) or `Bake`.
    pub state: String,
    pub healthy: bool,
    pub at: i64,
    /// One line: the checks passed, or what failed.
    pub summary: String,
    /// The checks as `validate-health` returned them (empty when it failed with an error).
    pub checks: Vec<Value>,
    /// hookline's own Route 53 controller: green's observed share of both load balancers'
    /// requests next to the weight the records were set to (DNS weights are not the split).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observed: Option<hookline::dns::ObservedSplit>,
}

/// Green's observed share next to the set weight: `observed green 45.7% of 1234 requests (set 50%)`,
/// or `observed no requests (set 50%)` for a minute without any.
pub fn observed_text(split: &hookline::dns::ObservedSplit) -> String {
    let total = split.blue_requests + split.green_requests;
    match split.green_percent {
        Some(p) => format!("observed green {p:.1}% of {total:.0} requests (set {}%)", split.set_weight),
        None => format!("observed no requests (set {}%)", split.set_weight),
    }
}

/// An approval waiting for `hookline approve`/`reject`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PendingApproval {
    #[serde(skip)]
    pub task_token: String,
    pub step_index: Option<u64>,
    pub step: Option<Value>,
    pub since: i64,
    pub timeout_seconds: Option<u64>,
}

/// How an approval step ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub step_index: Option<u64>,
    /// `approved`, `rejected` or `timed out`.
    pub outcome: String,
    /// `approved_by` of the task output.
    pub by: Option<String>,
    /// The rejection's cause, or the timeout/failure message.
    pub reason: Option<String>,
    pub at: i64,
}

impl Decision {
    /// `step 2: approved by arn:...`.
    pub fn describe(&self) -> String {
        let step = self.step_index.map(|i| format!("step {}: ", i + 1)).unwrap_or_default();
        let by = self.by.as_deref().map(|b| format!(" by {b}")).unwrap_or_default();
        let reason = self.reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default();
        format!("{step}{}{by}{reason}", self.outcome)
    }
}

/// Feeds on history events in order; keeps where the execution stands and
/// returns one timeline line for each event worth showing.
#[derive(Debug, Clone, Default)]
pub struct Tracker {
    /// The execution's input, when it parses as the execution document.
    pub document: Option<ExecutionDocument>,
    /// The last state entered.
    pub last_state: Option<String>,
    /// `$.state.index` of the last state entered.
    pub index: Option<u64>,
    /// `$.step` of the last state entered, when it carries one.
    pub step: Option<Value>,
    pub health: Option<HealthVerdict>,
    /// hookline's own Route 53 controller: the last observed split read at each weight, in order.
    pub observed: Vec<hookline::dns::ObservedSplit>,
    pub pending: Option<PendingApproval>,
    pub decisions: Vec<Decision>,
    /// Plan steps completed.
    pub steps_done: u64,
    /// `ExecutionSucceeded`, `ExecutionFailed`, ... once it ended.
    pub ended: Option<String>,
    /// Id of the last event fed.
    pub last_id: i64,
    bake_announced: bool,
}

impl Tracker {
    /// A tracker over a whole history.
    pub fn over(events: &[ExecutionEvent]) -> Tracker {
        let mut t = Tracker::default();
        for e in events {
            t.feed(e);
        }
        t
    }

    /// Plan steps, when the document is known.
    pub fn step_count(&self) -> Option<u64> {
        self.document.as_ref().map(|d| d.plan.step_count as u64)
    }

    /// "2/4" for a 0-based index.
    fn step_label(&self, index: u64) -> String {
        match self.step_count() {
            Some(n) => format!("step {}/{n}", index + 1),
            None => format!("step {}", index + 1),
        }
    }

    /// Takes one event (in id order; older ids are ignored) and returns the timeline text for it, if any.
    pub fn feed(&mut self, e: &ExecutionEvent) -> Option<String> {
        if e.id <= self.last_id {
            return None;
        }
        self.last_id = e.id;
        match e.kind.as_str() {
            "ExecutionStarted" => {
                self.document = e.input.as_deref().and_then(|i| serde_json::from_str(i).ok());
                let doc = self.document.as_ref()?;
                // The hook as its controller names it: ECS's stages, or CodeDeploy's lifecycle events.
                let controller = self.controller();
                if controller == Controller::Route53 {
                    // No controller's hook: `hookline deploy` started the canary itself.
                    return Some(format!("hookline deploy: canary started, {} plan steps", doc.plan.step_count));
                }
                match doc.context.hook.as_ref().map(|h| h.event) {
                    Some(HookEvent::PostTraffic) => Some(format!(
                        "{} hook: post-traffic execution started",
                        hook_name(controller, HookEvent::PostTraffic)
                    )),
                    _ => Some(format!(
                        "{} hook: canary started, {} plan steps",
                        hook_name(controller, HookEvent::PreTraffic),
                        doc.plan.step_count
                    )),
                }
            }
            k if k.ends_with("StateEntered") => self.entered(e),
            "LambdaFunctionSucceeded" => self.health_output(e),
            "LambdaFunctionFailed" | "LambdaFunctionTimedOut" => self.health_failure(e),
            "TaskScheduled" => self.scheduled(e),
            "TaskSucceeded" | "TaskFailed" | "TaskTimedOut" | "TaskStartFailed" | "TaskSubmitFailed" => {
                self.task_ended(e)
            }
            "ExecutionSucceeded" | "ExecutionFailed" | "ExecutionAborted" | "ExecutionTimedOut" => {
                self.ended = Some(e.kind.clone());
                self.pending = None;
                let error = e.error.clone().filter(|s| !s.is_empty());
                let detail = match (&error, &e.cause) {
                    (Some(err), Some(cause)) if !cause.is_empty() => {
                        format!(": {err} ({})", short(&fail_cause(cause), 200))
                    }
                    (Some(err), _) => format!(": {err}"),
                    _ => String::new(),
                };
                Some(format!("execution {}{detail}", e.kind.trim_start_matches("Execution").to_lowercase()))
            }
            _ => None,
        }
    }

    fn entered(&mut self, e: &ExecutionEvent) -> Option<String> {
        let name = e.state_name.clone()?;
        let input = json_of(e.input.as_deref());
        let before = self.last_state.replace(name.clone());
        if let Some(input) = &input {
            if let Some(i) = input.pointer("/state/index").and_then(Value::as_u64) {
                self.index = Some(i);
            }
            self.step = input.get("step").cloned();
        }
        let index = self.index.unwrap_or(0);
        let step: Option<Step> = self.step.clone().and_then(|s| serde_json::from_value(s).ok());
        match name.as_str() {
            state::VALIDATE_GREEN if !self.bake_announced => {
                self.bake_announced = true;
                Some(match self.controller() {
                    // Green is a release of its own with no traffic yet (weight 0).
                    Controller::Route53 => "checking green's service: stable, targets healthy".into(),
                    _ => "checking green through the test listener".into(),
                })
            }
            state::SHIFT_WEIGHT | state::ROUTE_COHORT | state::REQUEST_APPROVAL => {
                let what = step.map(|s| s.describe()).unwrap_or_else(|| name.clone());
                Some(format!("{}  {what}", self.step_label(index)))
            }
            state::ADVANCE => {
                self.steps_done = self.steps_done.max(index + 1);
                None
            }
            state::BAKE if self.step.is_none() && !self.bake_announced => {
                // post-traffic: one bake under full traffic.
                self.bake_announced = true;
                let bake = self.document.as_ref().map(|d| d.plan.post_traffic.bake_seconds).unwrap_or(0);
                Some(format!("bake under full traffic for {}", human(bake)))
            }
            state::FINALIZE => {
                if let Some(n) = self.step_count() {
                    if self
                        .document
                        .as_ref()
                        .and_then(|d| d.context.hook.as_ref())
                        .is_none_or(|h| h.event == hookline::execution::HookEvent::PreTraffic)
                    {
                        self.steps_done = n;
                    }
                }
                Some(match self.controller() {
                    Controller::Route53 => {
                        "finalize: the release Succeeded, DNS stays on green; blue's service scaled down".into()
                    }
                    _ => "finalize: remove cohort rules, report the hook Succeeded".into(),
                })
            }
            state::ROLLBACK => {
                let why = input
                    .as_ref()
                    .and_then(|i| i.get("error"))
                    .map(|err| {
                        let kind = err.get("Error").and_then(Value::as_str).unwrap_or("error");
                        let cause = err.get("Cause").and_then(Value::as_str).map(cause_message).unwrap_or_default();
                        if cause.is_empty() {
                            kind.to_string()
                        } else {
                            format!("{kind}: {}", short(&cause, 200))
                        }
                    })
                    .unwrap_or_default();
                let after_drain = before.as_deref() == Some(state::WAIT_FOR_RESOLVERS);
                Some(match self.controller() {
                    Controller::Route53 if after_drain => {
                        "green's service scaled to 0: resolvers' cached answers have expired".into()
                    }
                    Controller::Route53 => format!(
                        "ROLLBACK  DNS back to blue 100%, the release Failed ({why}); green's service scaled to 0 \
                         once resolvers' cached answers expire"
                    ),
                    _ => format!("ROLLBACK  restoring blue 100%, reporting the hook Failed ({why})"),
                })
            }
            state::WAIT_FOR_RESOLVERS => {
                let seconds = input.as_ref().and_then(|i| i.pointer("/rollback/drain_seconds")).and_then(Value::as_u64);
                Some(match seconds {
                    Some(s) => format!("green keeps its tasks {}: resolvers may still answer green", human(s)),
                    None => "green keeps its tasks while resolvers may still answer green".into(),
                })
            }
            _ => None,
        }
    }

    /// The controller of the execution's deployment (its document's hook; CodeDeploy for documents
    /// written before hooks named one).
    fn controller(&self) -> Controller {
        self.document.as_ref().and_then(|d| d.context.hook.as_ref()).map_or(Controller::CodeDeploy, |h| h.kind)
    }

    fn in_health_state(&self) -> bool {
        self.last_state.as_deref().is_some_and(|s| HEALTH_STATES.contains(&s))
    }

    fn health_output(&mut self, e: &ExecutionEvent) -> Option<String> {
        if !self.in_health_state() {
            return None;
        }
        let out = json_of(e.output.as_deref())?;
        let healthy = out.get("healthy").and_then(Value::as_bool).unwrap_or(false);
        let checks: Vec<Value> = out.get("checks").and_then(Value::as_array).cloned().unwrap_or_default();
        let ok = checks.iter().filter(|c| c.get("ok").and_then(Value::as_bool) == Some(true)).count();
        let failed: Vec<String> = checks
            .iter()
            .filter(|c| c.get("ok").and_then(Value::as_bool) != Some(true))
            .map(|c| {
                format!(
                    "{}: {}",
                    c.get("name").and_then(Value::as_str).unwrap_or("check"),
                    c.get("reason").and_then(Value::as_str).unwrap_or("failed")
                )
            })
            .collect();
        let mut summary = if healthy {
            format!("healthy ({ok}/{} checks ok)", checks.len())
        } else {
            format!("not healthy yet: {}", failed.join("; "))
        };
        let observed: Option<hookline::dns::ObservedSplit> =
            out.get("observed").cloned().and_then(|o| serde_json::from_value(o).ok());
        if let Some(split) = &observed {
            summary = format!("{summary}; {}", observed_text(split));
            match self.observed.last_mut() {
                Some(last) if last.set_weight == split.set_weight => *last = split.clone(),
                _ => self.observed.push(split.clone()),
            }
        }
        let state = self.last_state.clone().unwrap_or_default();
        self.health = Some(HealthVerdict {
            state: state.clone(),
            healthy,
            at: e.timestamp,
            summary: summary.clone(),
            checks,
            observed,
        });
        Some(format!("health  {summary} [{}]", gate_name(&state)))
    }

    fn health_failure(&mut self, e: &ExecutionEvent) -> Option<String> {
        if !self.in_health_state() {
            return None;
        }
        let error = e.error.clone().unwrap_or_else(|| "error".into());
        let cause = e.cause.as_deref().map(cause_message).unwrap_or_default();
        let summary = format!("UNHEALTHY {error}: {}", short(&cause, 300));
        let state = self.last_state.clone().unwrap_or_default();
        self.health = Some(HealthVerdict {
            state: state.clone(),
            healthy: false,
            at: e.timestamp,
            summary: summary.clone(),
            checks: vec![],
            observed: None,
        });
        Some(format!("health  {summary} [{}]", gate_name(&state)))
    }

    fn scheduled(&mut self, e: &ExecutionEvent) -> Option<String> {
        let message = approval_message(e.parameters.as_deref()?)?;
        let task_token = message.get("task_token").and_then(Value::as_str)?.to_string();
        let step = message.get("step").cloned();
        let pending = PendingApproval {
            task_token,
            step_index: message.get("step_index").and_then(Value::as_u64),
            timeout_seconds: step.as_ref().and_then(|s| s.get("timeout_seconds")).and_then(Value::as_u64),
            step,
            since: e.timestamp,
        };
        let approve = message.get("approve").and_then(Value::as_str).unwrap_or("hookline approve <deployment>");
        let reject = message.get("reject").and_then(Value::as_str).unwrap_or("hookline reject <deployment>");
        let timeout = pending.timeout_seconds.map(|t| format!(" (up to {})", human(t))).unwrap_or_default();
        self.pending = Some(pending);
        Some(format!("approval  WAITING{timeout}: `{approve}` or `{reject}`"))
    }

    fn task_ended(&mut self, e: &ExecutionEvent) -> Option<String> {
        let pending = self.pending.take()?;
        let decision = match e.kind.as_str() {
            "TaskSucceeded" => Decision {
                step_index: pending.step_index,
                outcome: "approved".into(),
                by: json_of(e.output.as_deref())
                    .and_then(|o| o.get("approved_by").and_then(Value::as_str).map(str::to_string)),
                reason: None,
                at: e.timestamp,
            },
            "TaskFailed" if e.error.as_deref() == Some("ApprovalRejected") => Decision {
                step_index: pending.step_index,
                outcome: "rejected".into(),
                by: None,
                reason: e.cause.clone().filter(|c| !c.is_empty()),
                at: e.timestamp,
            },
            "TaskTimedOut" => Decision {
                step_index: pending.step_index,
                outcome: "timed out".into(),
                by: None,
                reason: None,
                at: e.timestamp,
            },
            _ => Decision {
                step_index: pending.step_index,
                outcome: "failed".into(),
                by: None,
                reason: Some(
                    format!("{} {}", e.error.clone().unwrap_or_default(), e.cause.clone().unwrap_or_default())
                        .trim()
                        .to_string(),
                ),
                at: e.timestamp,
            },
        };
        let line = format!("approval  {}", decision.describe());
        self.decisions.push(decision);
        Some(line)
    }
}

/// A moment worth marking on a time axis (the dashboard's chart): what `watch` would print, classified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mark {
    pub at: i64,
    /// `start`, `step`, `bake`, `info`, `health`, `alarm` (an unhealthy verdict naming an alarm), `approval`,
    /// `rollback` or `end`.
    pub kind: String,
    pub label: String,
    /// For `health`/`alarm`: the verdict.
    pub healthy: Option<bool>,
    /// Green % the canary set here (a weight step: the step's weight; a rollback: 0), as the history says.
    pub green: Option<u8>,
}

/// The marks of a whole history, oldest first (same reading as [`Tracker::feed`], no task token).
pub fn marks(events: &[ExecutionEvent]) -> Vec<Mark> {
    let mut t = Tracker::default();
    let mut out = Vec::new();
    for e in events {
        let before = t.last_state.clone();
        let line = t.feed(e);
        let entered_bake = t.last_state.as_deref() == Some(state::BAKE) && before.as_deref() != Some(state::BAKE);
        if entered_bake && e.kind.ends_with("StateEntered") {
            let bake =
                t.step.clone().and_then(|v| serde_json::from_value::<Step>(v).ok()).map(|s| s.worst_case_seconds());
            let label = match bake {
                Some(secs) => format!("bake {}", human(secs)),
                None => "bake".to_string(),
            };
            out.push(Mark { at: e.timestamp, kind: "bake".into(), label, healthy: None, green: None });
        }
        let Some(line) = line else { continue };
        let (kind, healthy) = if line.starts_with("health") {
            let verdict = t.health.as_ref();
            let healthy = verdict.map(|h| h.healthy);
            let alarm = verdict.is_some_and(|h| {
                !h.healthy
                    && (h.summary.to_ascii_lowercase().contains("alarm")
                        || h.checks.iter().any(|c| {
                            c.get("ok").and_then(Value::as_bool) != Some(true)
                                && c.get("name").and_then(Value::as_str).is_some_and(|n| n.contains("alarm"))
                        }))
            });
            (if alarm { "alarm" } else { "health" }, healthy)
        } else if line.starts_with("step ") {
            ("step", None)
        } else if line.starts_with("approval") {
            ("approval", None)
        } else if line.starts_with("ROLLBACK") {
            ("rollback", None)
        } else if line.starts_with("execution ") {
            ("end", None)
        } else if line.contains("started") {
            ("start", None)
        } else if line.starts_with("bake") {
            ("bake", None)
        } else {
            ("info", None)
        };
        let green = match kind {
            "step" if t.last_state.as_deref() == Some(state::SHIFT_WEIGHT) => {
                match t.step.clone().and_then(|v| serde_json::from_value::<Step>(v).ok()) {
                    Some(Step::Weight { weight, .. }) => Some(weight),
                    _ => None,
                }
            }
            "rollback" => Some(0),
            _ => None,
        };
        out.push(Mark { at: e.timestamp, kind: kind.into(), label: line, healthy, green });
    }
    out
}

fn gate_name(state_name: &str) -> &'static str {
    if state_name == state::VALIDATE_GREEN {
        "ready gate"
    } else {
        "bake gate"
    }
}

/// The approval message of a `TaskScheduled` event's parameters: `Message` as an object or a JSON string.
pub fn approval_message(parameters: &str) -> Option<Value> {
    let params: Value = serde_json::from_str(parameters).ok()?;
    let message = params.get("Message")?;
    let message = match message {
        Value::String(s) => serde_json::from_str(s).ok()?,
        Value::Object(_) => message.clone(),
        _ => return None,
    };
    message.get("task_token").and_then(Value::as_str).filter(|t| !t.is_empty())?;
    Some(message)
}

/// The pending approval's task token of a history: the latest `TaskScheduled` carrying an
/// approval message with no `TaskSucceeded`/`TaskFailed`/`TaskTimedOut` after it.
#[cfg(test)]
pub fn pending_approval(events: &[ExecutionEvent]) -> Option<PendingApproval> {
    Tracker::over(events).pending
}

/// A Lambda error's cause is often `{"errorType", "errorMessage"}` (or a Fail state's JSON); show the message.
fn cause_message(cause: &str) -> String {
    match serde_json::from_str::<Value>(cause) {
        Ok(v) => {
            for key in ["errorMessage", "Cause", "message"] {
                if let Some(m) = v.get(key).and_then(Value::as_str) {
                    return cause_message(m);
                }
            }
            cause.to_string()
        }
        Err(_) => cause.to_string(),
    }
}

/// A Fail state's cause (`{"Error", "Cause"}` as JSON, see the RolledBack state) as one line.
fn fail_cause(cause: &str) -> String {
    match serde_json::from_str::<Value>(cause) {
        Ok(v) if v.get("Error").is_some() => {
            let err = v.get("Error").and_then(Value::as_str).unwrap_or("error");
            match v.get("Cause").and_then(Value::as_str).map(cause_message).filter(|c| !c.is_empty()) {
                Some(c) => format!("{err}: {c}"),
                None => err.to_string(),
            }
        }
        _ => cause_message(cause),
    }
}

fn short(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let cut: String = s.chars().take(max).collect();
        format!("{cut}…")
    }
}

/// `HH:MM:SS` (UTC) of epoch seconds, for timeline lines.
pub fn clock(epoch: i64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(u64::try_from(epoch).unwrap_or(0));
    let s = humantime::format_rfc3339_seconds(t).to_string();
    s.get(11..19).unwrap_or(&s).to_string()
}

/// `2026-11-22 02:24:26Z` of epoch seconds.
pub fn datetime(epoch: i64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(u64::try_from(epoch).unwrap_or(0));
    humantime::format_rfc3339_seconds(t).to_string().replacen('T', " ", 1)
}

#[cfg(test)]
mod tests;
