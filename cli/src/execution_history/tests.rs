use serde_json::json;

use super::*;

fn fixture(name: &str) -> Vec<ExecutionEvent> {
    let path = format!("{}/tests/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let raw: Vec<Value> = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    raw.iter().map(|v| event_from_aws_json(v).unwrap_or_else(|| panic!("not an event: {v}"))).collect()
}

fn ev(id: i64, kind: &str) -> ExecutionEvent {
    ExecutionEvent { id, timestamp: 1_763_776_000 + id, kind: kind.into(), ..ExecutionEvent::default() }
}

fn scheduled(id: i64, message: Value) -> ExecutionEvent {
    ExecutionEvent {
        parameters: Some(
            json!({"TopicArn": "arn:aws:sns:us-east-1:123456789012:hookline-approvals", "Subject": "s", "Message": message})
                .to_string(),
        ),
        ..ev(id, "TaskScheduled")
    }
}

fn message(token: &str, index: u64) -> Value {
    json!({"deployment_id": "d-ABC", "step_index": index, "task_token": token,
           "step": {"kind": "approval", "timeout_seconds": 120, "on_timeout": "rollback"},
           "approve": "hookline approve d-ABC", "reject": "hookline reject d-ABC"})
}

#[test]
fn the_token_of_a_waiting_execution_is_found_in_a_real_history() {
    let events = fixture("canary-waiting");
    let pending = pending_approval(&events).expect("a pending approval");
    assert_eq!(pending.task_token, "c3e3c224-21d8-41a8-98bc-b2df8219667b");
    assert_eq!(pending.step_index, Some(1));
    assert_eq!(pending.timeout_seconds, Some(120));
    let t = Tracker::over(&events);
    assert_eq!(t.last_state.as_deref(), Some("RequestApproval"));
    assert_eq!(t.index, Some(1));
    assert_eq!(t.step_count(), Some(4));
    assert_eq!(t.steps_done, 1);
    assert!(t.health.as_ref().is_some_and(|h| h.healthy && h.state == "Bake"));
}

#[test]
fn an_answered_approval_is_no_longer_pending_and_names_the_approver() {
    let events = fixture("canary-approved");
    let t = Tracker::over(&events);
    assert_eq!(t.pending, None);
    assert_eq!(t.decisions.len(), 1);
    assert_eq!(t.decisions[0].outcome, "approved");
    assert_eq!(t.decisions[0].by.as_deref(), Some("test"));
    assert_eq!(t.decisions[0].describe(), "step 2: approved by test");
    assert_eq!(t.steps_done, 4);
    assert_eq!(t.ended.as_deref(), Some("ExecutionSucceeded"));
    assert_eq!(t.last_state.as_deref(), Some("Done"));
}

#[test]
fn the_message_may_be_a_json_string_and_the_latest_unanswered_one_wins() {
    let events = vec![
        scheduled(10, message("old", 1)),
        ExecutionEvent { output: Some(r#"{"approved_by": "alice"}"#.into()), ..ev(11, "TaskSucceeded") },
        scheduled(20, Value::String(message("new", 3).to_string())),
        ev(21, "TaskStarted"),
        ev(22, "TaskSubmitted"),
    ];
    let pending = pending_approval(&events).expect("pending");
    assert_eq!(pending.task_token, "new");
    assert_eq!(pending.step_index, Some(3));
}

#[test]
fn failed_timed_out_or_foreign_tasks_leave_nothing_pending() {
    for end in ["TaskFailed", "TaskTimedOut", "TaskStartFailed", "TaskSubmitFailed", "ExecutionAborted"] {
        let events = vec![scheduled(1, message("t", 0)), ev(2, end)];
        assert_eq!(pending_approval(&events), None, "{end}");
    }
    // A task whose Message has no token (another SNS publish) is not an approval.
    let events = vec![scheduled(1, json!({"hello": "world"})), scheduled(2, json!("not json"))];
    assert_eq!(pending_approval(&events), None);
    assert_eq!(approval_message(r#"{"Message": {"task_token": ""}}"#), None);
    assert_eq!(approval_message("not json"), None);
}

#[test]
fn a_rejection_is_recorded_with_its_cause() {
    let events = vec![
        scheduled(1, message("t", 2)),
        ExecutionEvent {
            error: Some("ApprovalRejected".into()),
            cause: Some("error rate too high (rejected by bob)".into()),
            ..ev(2, "TaskFailed")
        },
    ];
    let t = Tracker::over(&events);
    assert_eq!(t.decisions[0].outcome, "rejected");
    assert_eq!(t.decisions[0].describe(), "step 3: rejected (error rate too high (rejected by bob))");
}

#[test]
fn the_timeline_names_steps_weights_health_and_rollback() {
    let doc_input =
        std::fs::read_to_string(format!("{}/tests/fixtures/canary-approved.json", env!("CARGO_MANIFEST_DIR")))
            .ok()
            .and_then(|t| serde_json::from_str::<Vec<Value>>(&t).ok())
            .and_then(|v| {
                v[0].pointer("/executionStartedEventDetails/input").and_then(Value::as_str).map(str::to_string)
            })
            .expect("ExecutionStarted input");
    let mut t = Tracker::default();
    let state_input = |index: u64, step: Value| json!({"state": {"index": index}, "step": step}).to_string();
    let lines: Vec<Option<String>> = vec![
        t.feed(&ExecutionEvent { input: Some(doc_input), ..ev(1, "ExecutionStarted") }),
        t.feed(&ExecutionEvent {
            state_name: Some("ShiftWeight".into()),
            input: Some(state_input(0, json!({"kind": "weight", "weight": 10, "bake_seconds": 3}))),
            ..ev(2, "TaskStateEntered")
        }),
        t.feed(&ExecutionEvent {
            state_name: Some("Bake".into()),
            input: Some(state_input(0, json!({"kind": "weight", "weight": 10, "bake_seconds": 3}))),
            ..ev(3, "TaskStateEntered")
        }),
        t.feed(&ExecutionEvent {
            output: Some(r#"{"healthy": true, "done": false, "wait_seconds": 2, "checks": [{"name": "alarm web-5xx", "ok": true, "reason": "OK"}]}"#.into()),
            ..ev(4, "LambdaFunctionSucceeded")
        }),
        t.feed(&ExecutionEvent {
            error: Some("HealthCheckFailed".into()),
            cause: Some(r#"{"errorType": "HealthCheckFailed", "errorMessage": "health check failed: alarm web-5xx: ALARM"}"#.into()),
            ..ev(5, "LambdaFunctionFailed")
        }),
        t.feed(&ExecutionEvent {
            state_name: Some("Rollback".into()),
            input: Some(json!({"state": {"index": 0}, "error": {"Error": "HealthCheckFailed", "Cause": "{\"errorMessage\": \"alarm web-5xx: ALARM\"}"}}).to_string()),
            ..ev(6, "TaskStateEntered")
        }),
        t.feed(&ExecutionEvent {
            error: Some("RolledBack".into()),
            cause: Some(r#"{"Error":"HealthCheckFailed","Cause":"{\"errorType\":\"HealthCheckFailed\",\"errorMessage\":\"alarm web-5xx: state ALARM\"}"}"#.into()),
            ..ev(7, "ExecutionFailed")
        }),
        // An event seen before is ignored (watch re-reads the whole history).
        t.feed(&ev(3, "TaskStateEntered")),
    ];
    let lines: Vec<String> = lines.into_iter().flatten().collect();
    assert_eq!(
        lines,
        vec![
            "BeforeAllowTraffic hook: canary started, 4 plan steps",
            "step 1/4  shift green to 10%, bake 3s",
            "health  healthy (1/1 checks ok) [bake gate]",
            "health  UNHEALTHY HealthCheckFailed: health check failed: alarm web-5xx: ALARM [bake gate]",
            "ROLLBACK  restoring blue 100%, reporting the hook Failed (HealthCheckFailed: alarm web-5xx: ALARM)",
            "execution failed: RolledBack (HealthCheckFailed: alarm web-5xx: state ALARM)",
        ]
    );
    assert!(t.health.as_ref().is_some_and(|h| !h.healthy));
}

#[test]
fn clock_and_datetime_format_utc() {
    assert_eq!(clock(0), "00:00:00");
    assert_eq!(clock(1_763_776_000 + 3661), "02:47:41");
    assert_eq!(datetime(0), "1970-01-01 00:00:00Z");
    assert_eq!(clock(-5), "00:00:00");
}

#[test]
fn an_ecs_native_execution_is_named_by_its_ecs_stage() {
    // The same document with the hook of an ECS-native deployment: ECS's stage names, not CodeDeploy's events.
    let mut doc: Value =
        std::fs::read_to_string(format!("{}/tests/fixtures/canary-approved.json", env!("CARGO_MANIFEST_DIR")))
            .ok()
            .and_then(|t| serde_json::from_str::<Vec<Value>>(&t).ok())
            .and_then(|v| {
                v[0].pointer("/executionStartedEventDetails/input").and_then(Value::as_str).map(str::to_string)
            })
            .and_then(|i| serde_json::from_str(&i).ok())
            .expect("ExecutionStarted input");
    doc["context"]["hook"]["kind"] = json!("ecs");
    let canary = Tracker::default().feed(&ExecutionEvent { input: Some(doc.to_string()), ..ev(1, "ExecutionStarted") });
    assert_eq!(canary.as_deref(), Some("POST_TEST_TRAFFIC_SHIFT hook: canary started, 4 plan steps"));
    doc["context"]["hook"]["event"] = json!("AfterAllowTraffic");
    let post = Tracker::default().feed(&ExecutionEvent { input: Some(doc.to_string()), ..ev(1, "ExecutionStarted") });
    assert_eq!(post.as_deref(), Some("POST_PRODUCTION_TRAFFIC_SHIFT hook: post-traffic execution started"));
}

/// A real canary execution of hookline's own Route 53 controller (`hookline deploy` in the sandbox:
/// 50% with an approval, the added final 100 step; its finalize failed, so it rolled back), reduced
/// to the events the timeline reads.
#[test]
fn a_route53_canary_reads_in_its_own_words() {
    let events = fixture("dns-canary");
    let mut t = Tracker::default();
    let lines: Vec<String> = events.iter().filter_map(|e| t.feed(e)).collect();
    assert_eq!(lines[0], "hookline deploy: canary started, 3 plan steps", "{lines:#?}");
    assert_eq!(lines[1], "checking green's service: stable, targets healthy", "{lines:#?}");
    assert!(lines.iter().any(|l| l.ends_with("shift green to 50%, bake 1m 10s")), "{lines:#?}");
    assert!(
        lines.iter().any(|l| l == "finalize: the release Succeeded, DNS stays on green; blue's service scaled down"),
        "{lines:#?}"
    );
    let rollback = lines.iter().find(|l| l.starts_with("ROLLBACK")).expect("the rollback line");
    assert!(rollback.starts_with("ROLLBACK  DNS back to blue 100%, the release Failed"), "{rollback}");
    assert!(rollback.ends_with("green's service scaled to 0 once resolvers' cached answers expire"), "{rollback}");
    assert!(!lines.iter().any(|l| l.contains("BeforeAllowTraffic") || l.contains("test listener")), "{lines:#?}");
    assert_eq!(t.decisions.len(), 1, "the approval was decided");
}

#[test]
fn a_dns_bake_check_shows_the_observed_split_next_to_the_set_weight() {
    let bake = |id: i64| ExecutionEvent { state_name: Some("Bake".into()), ..ev(id, "TaskStateEntered") };
    let check = |id: i64, observed: Value| ExecutionEvent {
        output: Some(
            json!({"healthy": true, "done": false, "wait_seconds": 2, "checked_at": 1,
                   "checks": [{"name": "alarm shop-web-5xx", "ok": true}], "observed": observed})
            .to_string(),
        ),
        ..ev(id, "LambdaFunctionSucceeded")
    };
    let split = |green: Value| {
        json!({"set_weight": 50, "green_percent": green, "blue_requests": 1300.0, "green_requests": 1100.0,
               "window": [1_796_549_040, 1_796_549_100]})
    };
    let mut t = Tracker::default();
    t.feed(&bake(1));
    let line = t.feed(&check(2, split(json!(45.833)))).expect("a health line");
    assert_eq!(line, "health  healthy (1/1 checks ok); observed green 45.8% of 2400 requests (set 50%) [bake gate]");
    let verdict = t.health.clone().expect("the verdict");
    assert_eq!(verdict.observed.map(|o| o.set_weight), Some(50));
    t.feed(&bake(3));
    let none = json!({"set_weight": 50, "green_percent": null, "blue_requests": 0.0, "green_requests": 0.0,
                      "window": [1_796_549_100, 1_796_549_160]});
    let line = t.feed(&check(4, none)).expect("a health line");
    assert!(line.ends_with("observed no requests (set 50%) [bake gate]"), "{line}");
    // history keeps the last split read at each weight.
    assert_eq!(t.observed.len(), 1);
    assert_eq!(t.observed[0].green_percent, None);
    // Other controllers' checks have no observed split.
    t.feed(&bake(5));
    let line = t.feed(&check(6, Value::Null)).expect("a health line");
    assert_eq!(line, "health  healthy (1/1 checks ok) [bake gate]");
}

#[test]
fn status_after_finalize_shows_the_last_step_never_one_past_it() {
    // The fixture's Finalize input carries `$.state.index` 3 of a 3-step plan.
    let t = Tracker::over(&fixture("dns-canary"));
    assert_eq!((t.index, t.step_count()), (Some(3), Some(3)), "the history is past its last step");
    let step = crate::verbs::status::StepStatus::of(&t);
    assert_eq!((step.index + 1, step.step_count, step.steps_done), (3, Some(3), 3));
}

#[test]
fn a_route53_rollback_names_the_drain_and_the_scale_after_it() {
    let state = |id: i64, name: &str, input: Value| ExecutionEvent {
        state_name: Some(name.into()),
        input: Some(input.to_string()),
        ..ev(id, "TaskStateEntered")
    };
    // The fixture's ExecutionStarted: a Route 53 release's document.
    let mut t = Tracker::over(&fixture("dns-canary")[..1]);
    assert!(t.document.is_some());
    let error = json!({"error": {"Error": "HealthCheckFailed", "Cause": "alarm"}});
    let first = t.feed(&state(1000, state::ROLLBACK, error.clone())).expect("a line");
    assert!(first.starts_with("ROLLBACK  DNS back to blue 100%"), "{first}");
    let wait = t.feed(&state(1001, state::WAIT_FOR_RESOLVERS, json!({"rollback": {"drain_seconds": 70}})));
    assert_eq!(wait.as_deref(), Some("green keeps its tasks 1m 10s: resolvers may still answer green"));
    let last = t.feed(&state(1002, state::ROLLBACK, error)).expect("a line");
    assert_eq!(last, "green's service scaled to 0: resolvers' cached answers have expired");
}
