//! The dashboard's JSON endpoints. Everything is read through the CLI's verbs (`status`, `history`,
//! `deployments`, `plan`) and written through them (`approve`, `rollback`): no second reading of the
//! execution document here. Nothing returned carries a task token (`PendingApproval` skips it) or a credential.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use hookline::error::AwsResultExt;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::state::{AppState, Sample};
use crate::error::{fail, CliError, R};
use crate::execution_history::{marks, Mark, Tracker};
use crate::verbs::plan::{schedule, ScheduledStep};
use crate::verbs::status::{has_ended, Gathered, Status};

/// A row of the list page.
#[derive(Debug, Serialize)]
pub struct Summary {
    pub deployment_id: String,
    pub application: String,
    pub deployment_group: String,
    pub status: String,
    /// Over for good (the page counts the others as running).
    pub terminal: bool,
    pub created: Option<i64>,
    pub completed: Option<i64>,
    /// `2/4` and what the step does, while the canary runs.
    pub step: Option<String>,
    pub weights: Option<hookline::traffic::Weights>,
    pub waiting_for_approval: bool,
}

/// The plan as the deployment page shows it.
#[derive(Debug, Serialize)]
pub struct PlanView {
    /// When the canary execution started (epoch seconds): the windows count from here.
    pub started: Option<i64>,
    pub steps: Vec<ScheduledStep>,
    /// 0-based index of the step running now, while the canary runs.
    pub current: Option<u64>,
    /// Worst-case end of the canary (epoch seconds).
    pub worst_case_end: Option<i64>,
    pub hook_budget_seconds: u64,
    pub post_traffic_bake_seconds: u64,
}

/// The deployment page.
#[derive(Debug, Serialize)]
pub struct DeploymentView {
    pub status: Status,
    /// Canary then post-traffic marks, oldest first.
    pub marks: Vec<Mark>,
    pub plan: Option<PlanView>,
    /// Production weights over time as this server read them.
    pub samples: Vec<Sample>,
    /// The latest health verdict's checks.
    pub checks: Vec<Value>,
    pub terminal: bool,
    pub now: i64,
}

#[derive(Debug, Default, Deserialize)]
pub struct Reason {
    pub reason: Option<String>,
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

fn error(code: StatusCode, message: impl Into<String>) -> Response {
    (code, Json(json!({ "error": message.into() }))).into_response()
}

fn aws_error(e: CliError) -> Response {
    error(StatusCode::BAD_GATEWAY, e.0)
}

/// A refused request: status and message (a small error type; the response is built by [`error`]).
pub(super) type Refusal = (StatusCode, String);

pub(super) fn refused(r: Refusal) -> Response {
    error(r.0, r.1)
}

/// A deployment id of any controller, in its controller's whole form (`Controller::of_valid_deployment`:
/// `d-` + 9 letters or digits, an ECS service deployment ARN, `dns-<yyyymmdd>-<hhmmss>-<4 hex>`); anything
/// else is refused with 400 naming it, before it reaches AWS. The path carries an ARN percent-encoded
/// (`/` as `%2F`): the router matches the encoded path, so the ARN stays one segment, and `Path` decodes it.
fn valid_id(id: &str) -> Result<(), Refusal> {
    hookline::plan::Controller::of_valid_deployment(id)
        .map(|_| ())
        .map_err(|why| (StatusCode::BAD_REQUEST, format!("deployment {id:?}: {why}")))
}

/// `GET /api/identity`: who the dashboard acts as (STS GetCallerIdentity of its credentials).
pub async fn identity(State(state): State<Arc<AppState>>) -> Response {
    Json(json!({ "caller": state.aws.caller().await })).into_response()
}

/// `GET /api/deployments`: the 10 latest deployments of every group and of every ECS-native service with a
/// plan, and the 10 newest `hookline deploy`s (Route 53), newest first.
pub async fn list(State(state): State<Arc<AppState>>) -> Response {
    match gather_list(&state).await {
        Ok(rows) => Json(rows).into_response(),
        Err(e) => aws_error(e),
    }
}

async fn gather_list(state: &AppState) -> R<Vec<Summary>> {
    let aws = &state.aws;
    let mut out = Vec::new();
    for (application, group) in crate::codedeploy::groups(aws).await? {
        for row in crate::verbs::history::gather(aws, &application, &group, 10).await? {
            out.push(summary_of(aws, row, &application, &group).await?);
        }
    }
    // ECS-native services (hookline has their plan): each one's 10 latest service deployments.
    for (cluster, service) in ecs_services(aws).await? {
        for row in crate::verbs::history::gather_ecs(aws, &cluster, &service, 10).await? {
            out.push(summary_of(aws, row, &hookline::contract::ecs_application(&cluster), &service).await?);
        }
    }
    // hookline's own Route 53 deployments (their release records): the 10 newest, on any name.
    for record in crate::dns::records(aws.release_records()).await?.into_iter().take(10) {
        let row = crate::verbs::history::row_of(aws, aws.deployment(&record.deployment_id).await?).await?;
        out.push(summary_of(aws, row, &record.context.application, &record.context.deployment_group).await?);
    }
    out.sort_by_key(|s| std::cmp::Reverse(s.created.unwrap_or(0)));
    Ok(out)
}

/// The ECS-native services hookline has a plan for: every parameter named
/// `<prefix>/ecs/<cluster>/<service>` (`contract::ecs_plan_parameter`), as (cluster, service), sorted.
/// What hookline keeps beside a plan (`<plan>/last-release`) is not a service.
pub async fn ecs_services(aws: &crate::aws::Aws) -> R<Vec<(String, String)>> {
    let prefix = &aws.settings.plan_parameter_prefix;
    let root = format!("{}/ecs", prefix.trim_end_matches('/'));
    let mut services = Vec::new();
    let mut token = None;
    loop {
        let page = aws
            .clients
            .ssm
            .get_parameters_by_path()
            .path(&root)
            .recursive(true)
            .set_next_token(token)
            .send()
            .await
            .aws("GetParametersByPath")?;
        services.extend(page.parameters().iter().filter_map(|p| ecs_service_of(prefix, p.name()?)));
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    services.sort();
    services.dedup();
    Ok(services)
}

/// (cluster, service) when `name` is the plan parameter of an ECS-native service under `prefix`.
pub fn ecs_service_of(prefix: &str, name: &str) -> Option<(String, String)> {
    let rest = name.strip_prefix(&format!("{}/ecs/", prefix.trim_end_matches('/')))?;
    let (cluster, service) = rest.split_once('/')?;
    let parsed = (cluster.to_string(), service.to_string());
    (hookline::contract::ecs_plan_parameter(prefix, cluster, service) == name
        && !cluster.is_empty()
        && !service.is_empty()
        && !service.contains('/'))
    .then_some(parsed)
}

/// A row of the list page; while the deployment runs, its step, weights and pending approval.
async fn summary_of(
    aws: &crate::aws::Aws,
    row: crate::verbs::history::Row,
    application: &str,
    group: &str,
) -> R<Summary> {
    let mut summary = Summary {
        deployment_id: row.deployment_id.clone(),
        application: application.to_string(),
        deployment_group: group.to_string(),
        status: row.status.clone(),
        terminal: row.ended,
        created: row.created,
        completed: row.completed,
        step: None,
        weights: None,
        waiting_for_approval: false,
    };
    if !row.ended {
        let s = crate::verbs::status::gather(aws, &row.deployment_id).await?;
        summary.step = s.step.as_ref().map(|st| {
            let of = st.step_count.map(|n| format!("/{n}")).unwrap_or_default();
            let what = st
                .step
                .clone()
                .and_then(|v| serde_json::from_value::<hookline::plan::Step>(v).ok())
                .map(|x| format!(" {}", x.describe()))
                .unwrap_or_default();
            format!("{}{of}{what}", st.index + 1)
        });
        summary.weights = s.weights;
        summary.waiting_for_approval = s.pending_approval.is_some() || s.controller_pause.is_some();
    }
    Ok(summary)
}

/// `GET /api/deployments/{id}`: status, plan, marks, weights over time.
pub async fn detail(State(state): State<Arc<AppState>>, Path(id): Path<String>) -> Response {
    if let Err(r) = valid_id(&id) {
        return refused(r);
    }
    let gathered = match crate::verbs::status::gather_all(&state.aws, &id).await {
        Ok(g) => g,
        Err(e) => return aws_error(e),
    };
    if let Some(w) = &gathered.status.weights {
        state.record(&id, Sample { at_ms: now_ms(), blue: w.blue, green: w.green });
    }
    if has_ended(&gathered.summary) {
        state.unwatch(&id);
    } else {
        state.watch(&id);
    }
    Json(view(gathered, state.samples_of(&id), now_ms() / 1000)).into_response()
}

/// Reads the live weights of one deployment into its samples (the background sampler).
pub async fn sample(state: &AppState, id: &str) -> R<()> {
    let (weights, err) = crate::verbs::status::live_weights(&state.aws, id, None).await;
    match (weights, err) {
        (Some(w), _) => {
            state.record(id, Sample { at_ms: now_ms(), blue: w.blue, green: w.green });
            Ok(())
        }
        (None, Some(e)) => Err(fail(e)),
        (None, None) => Ok(()),
    }
}

/// The page's view of what `status` gathered (pure: unit-tested for what it must never contain).
pub fn view(g: Gathered, samples: Vec<Sample>, now: i64) -> DeploymentView {
    let mut all_marks = Vec::new();
    for exec in [&g.canary, &g.post].into_iter().flatten() {
        all_marks.extend(marks(&exec.events));
    }
    all_marks.sort_by_key(|m| m.at);
    let canary_tracker = g.canary.as_ref().map(|e| Tracker::over(&e.events));
    let started = g.canary.as_ref().and_then(|e| e.events.first()).map(|e| e.timestamp);
    let running = g.canary.as_ref().is_some_and(|e| e.status.is_running());
    let plan = g.document.as_ref().map(|doc| {
        let steps = schedule(&doc.plan);
        let worst = steps.last().map(|s| s.ends_by).unwrap_or(doc.plan.health.ready_timeout_seconds);
        PlanView {
            started,
            current: if running { canary_tracker.as_ref().and_then(|t| t.index) } else { None },
            worst_case_end: started.map(|s| s + i64::try_from(worst).unwrap_or(i64::MAX / 2)),
            hook_budget_seconds: doc.plan.hook_budget_seconds,
            post_traffic_bake_seconds: doc.plan.post_traffic.bake_seconds,
            steps,
        }
    });
    let checks = g.status.health.as_ref().map(|h| h.checks.clone()).unwrap_or_default();
    let terminal = has_ended(&g.summary);
    DeploymentView { status: g.status, marks: all_marks, plan, samples, checks, terminal, now }
}

fn acted(result: R<String>, by: String) -> Response {
    match result {
        Ok(message) => Json(json!({ "message": message, "by": by })).into_response(),
        Err(e) => error(StatusCode::CONFLICT, e.0),
    }
}

fn reason_of(body: &str) -> Result<Option<String>, Refusal> {
    if body.trim().is_empty() {
        return Ok(None);
    }
    let r: Reason = serde_json::from_str(body)
        .map_err(|e| (StatusCode::BAD_REQUEST, format!("body: expected {{\"reason\": \"...\"}} ({e})")))?;
    Ok(r.reason.map(|s| s.trim().to_string()).filter(|s| !s.is_empty()))
}

/// `POST /api/deployments/{id}/approve` (session and CSRF header checked by the router).
pub async fn approve(State(state): State<Arc<AppState>>, Path(id): Path<String>) -> Response {
    if let Err(r) = valid_id(&id) {
        return refused(r);
    }
    let by = state.aws.caller().await;
    acted(crate::verbs::approve::decide(&state.aws, &id, true, None).await, by)
}

/// `POST /api/deployments/{id}/reject` with `{"reason": "..."}` (session and CSRF header checked by the router).
pub async fn reject(State(state): State<Arc<AppState>>, Path(id): Path<String>, body: String) -> Response {
    let reason = match valid_id(&id).and_then(|()| reason_of(&body)) {
        Ok(r) => r,
        Err(r) => return refused(r),
    };
    let by = state.aws.caller().await;
    let reason = reason.unwrap_or_else(|| "rejected from hookline dashboard".into());
    acted(crate::verbs::approve::decide(&state.aws, &id, false, Some(&reason)).await, by)
}

/// `POST /api/deployments/{id}/rollback` with `{"reason": "..."}` (session and CSRF header checked by the
/// router; the page asked to confirm).
pub async fn rollback(State(state): State<Arc<AppState>>, Path(id): Path<String>, body: String) -> Response {
    let reason = match valid_id(&id).and_then(|()| reason_of(&body)) {
        Ok(r) => r,
        Err(r) => return refused(r),
    };
    let by = state.aws.caller().await;
    let reason = reason.unwrap_or_else(|| format!("rolled back from hookline dashboard by {by}"));
    let done = crate::verbs::rollback::roll_back(&state.aws, &id, true, Some(&reason)).await;
    if done.is_ok() {
        // A Route 53 release's green is emptied after its drain: waited here, not in the request.
        let state = state.clone();
        tokio::spawn(async move {
            if let Err(e) = crate::verbs::rollback::finish_drain(&state.aws, &id).await {
                eprintln!(
                    "{id}: green's scale-down after the drain failed ({}); hookline rollback {id} finishes it",
                    e.0
                );
            }
        });
    }
    acted(done, by)
}
