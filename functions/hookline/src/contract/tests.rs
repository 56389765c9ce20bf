//! The contract against the state machines as written in `statemachine/*.asl.json`.

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::Value;

use super::*;
use crate::execution::HookEvent;
use crate::plan::Step;
use crate::testing::{context, plan, state as rollout_state};

const CANARY: &str = include_str!("../../../../statemachine/canary.asl.json");
const POST_TRAFFIC: &str = include_str!("../../../../statemachine/post-traffic.asl.json");
const RELEASE: &str = include_str!("../../../../statemachine/release.asl.json");
const ROLLBACK: &str = include_str!("../../../../statemachine/rollback.asl.json");

fn machines() -> Vec<(&'static str, Value)> {
    [("canary", CANARY), ("post-traffic", POST_TRAFFIC), ("release", RELEASE), ("rollback", ROLLBACK)]
        .into_iter()
        .map(|(name, text)| (name, serde_json::from_str(text).unwrap_or_else(|e| panic!("{name}.asl.json: {e}"))))
        .collect()
}

fn states(machine: &Value) -> &serde_json::Map<String, Value> {
    machine["States"].as_object().unwrap_or_else(|| panic!("no States in {machine}"))
}

/// The field names `value` serializes to: the names a state must pass.
fn fields_of(value: &impl Serialize) -> BTreeSet<String> {
    match serde_json::to_value(value) {
        Ok(Value::Object(map)) => map.keys().cloned().collect(),
        other => panic!("not an object: {other:?}"),
    }
}

/// A state's Parameters' field names, `.$` (a path) removed.
fn parameter_fields(parameters: &Value) -> BTreeSet<String> {
    parameters
        .as_object()
        .unwrap_or_else(|| panic!("Parameters is not an object: {parameters}"))
        .keys()
        .map(|k| k.trim_end_matches(".$").to_string())
        .collect()
}

#[test]
fn every_state_the_cli_reads_exists_with_its_type() {
    let expected: [(&str, &[(&str, &str)]); 2] = [
        (
            "canary",
            &[
                (state::VALIDATE_GREEN, "Task"),
                (state::BAKE, "Task"),
                (state::SHIFT_WEIGHT, "Task"),
                (state::ROUTE_COHORT, "Task"),
                (state::REQUEST_APPROVAL, "Task"),
                (state::ADVANCE, "Pass"),
                (state::FINALIZE, "Task"),
                (state::ROLLBACK, "Task"),
                (state::DRAIN_DUE, "Choice"),
                (state::WAIT_FOR_RESOLVERS, "Wait"),
                (state::ROLLED_BACK, "Fail"),
            ],
        ),
        (
            "post-traffic",
            &[
                (state::BAKE, "Task"),
                (state::FINALIZE, "Task"),
                (state::ROLLBACK, "Task"),
                (state::ROLLED_BACK, "Fail"),
            ],
        ),
    ];
    let machines = machines();
    for (machine, wanted) in expected {
        let (_, asl) = machines.iter().find(|(name, _)| *name == machine).expect("machine loaded");
        for (name, kind) in wanted {
            let found = states(asl).get(*name).unwrap_or_else(|| panic!("{machine} has no state {name}"));
            assert_eq!(found["Type"], *kind, "{machine}.{name}");
        }
    }
}

#[test]
fn rolled_back_fails_with_its_own_name_as_error() {
    // The rollback function's status-change form tells "rolled back already" by this error name.
    for (machine, asl) in machines().iter().filter(|(m, _)| matches!(*m, "canary" | "post-traffic")) {
        assert_eq!(states(asl)[state::ROLLED_BACK]["Error"], state::ROLLED_BACK, "{machine}");
    }
}

#[test]
fn every_function_task_passes_exactly_its_input_fields() {
    let step = Step::Weight { weight: 10, bake_seconds: 60 };
    let shift_weight = fields_of(&ShiftWeightInput { context: context(), state: rollout_state(0, 0), step });
    let health = fields_of(&HealthGateInput { context: context(), plan: plan(), state: rollout_state(0, 0) });
    let deployment_gate = fields_of(&DeploymentGateInput { deployment_id: "d-1".into() });
    let finalize: BTreeSet<String> =
        fields_of(&FinalizeInput { context: context(), plan: plan(), state: rollout_state(0, 0) });
    let rollback = fields_of(&RollbackInput {
        context: context(),
        plan: plan(),
        state: rollout_state(0, 0),
        error: Value::Null,
        attempt: Some(0),
    });
    let console = fields_of(&RollbackConsoleInput { deployment_id: "d-1".into(), reason: Some("why".into()) });

    let mut checked = 0;
    for (machine, asl) in machines() {
        for (name, st) in states(&asl) {
            let Some(resource) = st["Resource"].as_str().filter(|r| r.ends_with("FunctionArn}")) else { continue };
            let at = format!("{machine}.{name} ({resource})");
            let params = &st["Parameters"];
            match resource {
                "${ShiftWeightFunctionArn}" => assert_eq!(parameter_fields(params), shift_weight, "{at}"),
                "${FinalizeFunctionArn}" => assert_eq!(parameter_fields(params), finalize, "{at}"),
                "${ValidateHealthFunctionArn}" => {
                    let gate: Gate = serde_json::from_value(params["gate"].clone())
                        .unwrap_or_else(|e| panic!("{at}: gate {}: {e}", params["gate"]));
                    let mut fields = parameter_fields(params);
                    fields.remove("gate");
                    let wanted = if gate == Gate::Deployment { &deployment_gate } else { &health };
                    assert_eq!(&fields, wanted, "{at}");
                }
                "${RollbackFunctionArn}" => {
                    let wanted = if params.get("context.$").is_some() { &rollback } else { &console };
                    assert_eq!(&parameter_fields(params), wanted, "{at}");
                }
                "${RegisterTaskdefFunctionArn}" => {
                    // The whole merged request is the input; ApplyDefaults names the optional fields.
                    assert_eq!(st["InputPath"], "$.request", "{at}");
                    let all = fields_of(&RegisterTaskdefInput {
                        application: "a".into(),
                        deployment_group: "g".into(),
                        image: "i".into(),
                        container: Some("c".into()),
                        cluster: Some("c".into()),
                        service: Some("s".into()),
                        description: Some("d".into()),
                    });
                    let defaults = parameter_fields(&states(&asl)["ApplyDefaults"]["Parameters"]["defaults"]);
                    assert!(defaults.is_subset(&all), "{at}: defaults {defaults:?} not all in {all:?}");
                }
                other => panic!("{at}: a function Task the contract does not know: {other}"),
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 12, "function Tasks checked");
}

#[test]
fn advance_rebuilds_the_whole_document() {
    let canary = machines().remove(0).1;
    let advance = &states(&canary)[state::ADVANCE]["Parameters"];
    assert_eq!(
        parameter_fields(advance),
        fields_of(&ExecutionDocument { context: context(), plan: plan(), state: rollout_state(0, 0) })
    );
    assert_eq!(
        parameter_fields(&advance["state"]),
        fields_of(&RolloutState { bake_until: Some(1), ..rollout_state(0, 0) })
    );
}

#[test]
fn names_are_stable() {
    assert_eq!(plan_parameter("/hookline/", "web", "web-prod"), "/hookline/web/web-prod");
    assert_eq!(last_release_parameter("/hookline", "web", "web-prod"), "/hookline/web/web-prod/last-release");
    assert_eq!(execution_name("d-ABC123XYZ", HookEvent::PreTraffic), "d-ABC123XYZ-BeforeAllowTraffic");
    assert_eq!(execution_name("d-ABC123XYZ", HookEvent::PostTraffic), "d-ABC123XYZ-AfterAllowTraffic");
    assert_eq!(execution_name("d-A B/C", HookEvent::PostTraffic), "d-ABC-AfterAllowTraffic");
    // ECS-native: the service deployment ARN's own id, whatever the cluster and service names' length.
    let long =
        format!("arn:aws:ecs:us-east-1:123456789012:service-deployment/{}/{}/Ab3dEf", "c".repeat(60), "s".repeat(60));
    assert_eq!(execution_name(&long, HookEvent::PostTraffic), "Ab3dEf-AfterAllowTraffic");
    assert_eq!(ecs_plan_parameter("/hookline/", "demo", "api"), "/hookline/ecs/demo/api");
}

/// Every string in `value`, recursively (Choice variables, `SecondsPath`, `.$` parameters, intrinsics).
fn strings<'a>(value: &'a Value, found: &mut Vec<&'a str>) {
    match value {
        Value::String(s) => found.push(s),
        Value::Array(items) => items.iter().for_each(|v| strings(v, found)),
        Value::Object(map) => map.values().for_each(|v| strings(v, found)),
        _ => {}
    }
}

/// The field names read under `result_path` (`$.health.done` -> `done`) anywhere in `text`.
fn fields_read(text: &str, result_path: &str) -> Vec<String> {
    let prefix = format!("{result_path}.");
    text.match_indices(&prefix)
        .map(|(at, _)| {
            text[at + prefix.len()..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect()
        })
        .collect()
}

#[test]
fn every_path_read_from_a_function_result_names_a_field_of_its_output() {
    let health = fields_of(&GateOutput::Health {
        healthy: true,
        done: true,
        wait_seconds: 1,
        checked_at: 0,
        checks: Vec::new(),
        judgement: None,
        // Present only when a judgement asks an operator; the canary machine reads it then.
        approval: Some(Step::Approval { timeout_seconds: 60, on_timeout: crate::plan::OnTimeout::Rollback }),
        // Present when a bake is done; the canary machine keeps it (KeepJudgements).
        judgements: Some(Vec::new()),
        // Route 53 controller's bake checks: reported, read by no state.
        observed: None,
    });
    let deployment = fields_of(&GateOutput::Deployment { status: "Succeeded".into(), done: true });
    let rollout = fields_of(&RolloutState { bake_until: Some(1), ..rollout_state(0, 0) });

    let mut checked = 0;
    for (machine, asl) in machines() {
        for (name, st) in states(&asl) {
            let outputs = match (st["Resource"].as_str(), st["Parameters"]["gate"].as_str()) {
                (Some("${ValidateHealthFunctionArn}"), Some("deployment")) => &deployment,
                (Some("${ValidateHealthFunctionArn}"), _) => &health,
                (Some("${ShiftWeightFunctionArn}"), _) => &rollout,
                _ => continue,
            };
            let result_path = st["ResultPath"].as_str().unwrap_or_else(|| panic!("{machine}.{name}: no ResultPath"));
            let mut texts = Vec::new();
            strings(&asl, &mut texts);
            for field in texts.iter().flat_map(|t| fields_read(t, result_path)) {
                assert!(outputs.contains(&field), "{machine} reads {result_path}.{field}, not in {outputs:?} ({name})");
                checked += 1;
            }
        }
    }
    assert!(checked > 10, "only {checked} reads checked");
}

#[test]
fn the_rollback_task_retries_as_often_as_the_contract_says_and_passes_its_attempt() {
    for (machine, asl) in machines().into_iter().filter(|(m, _)| matches!(*m, "canary" | "post-traffic")) {
        let rollback = &states(&asl)[state::ROLLBACK];
        let retry_all = rollback["Retry"]
            .as_array()
            .and_then(|r| r.iter().find(|r| r["ErrorEquals"] == serde_json::json!(["States.ALL"])))
            .unwrap_or_else(|| panic!("{machine}: Rollback has no States.ALL retrier"));
        assert_eq!(retry_all["MaxAttempts"], ROLLBACK_RETRIES, "{machine}");
        assert_eq!(rollback["Parameters"]["attempt.$"], "$$.State.RetryCount", "{machine}");
    }
}

#[test]
fn the_drain_waits_the_rollbacks_drain_seconds_then_rolls_back_again() {
    // canary: the rollback's result is `$.rollback`; the console rollback machine's is `$.result`.
    for (machine, result_path, end) in [("canary", "$.rollback", "Fail"), ("rollback", "$.result", "Succeed")] {
        let machines = machines();
        let (_, asl) = machines.iter().find(|(name, _)| *name == machine).expect("machine loaded");
        let st = states(asl);
        let field = format!("{result_path}.{DRAIN_SECONDS}");
        assert_eq!(st[state::ROLLBACK]["Next"], state::DRAIN_DUE, "{machine}");
        let due = &st[state::DRAIN_DUE];
        assert_eq!(due["Choices"][0]["Next"], state::WAIT_FOR_RESOLVERS, "{machine}");
        let conditions = due["Choices"][0]["And"].as_array().expect("an And rule");
        assert!(conditions.iter().all(|c| c["Variable"] == field.as_str()), "{machine}: {conditions:?}");
        assert_eq!(st[due["Default"].as_str().expect("a Default")]["Type"], end, "{machine}");
        let wait = &st[state::WAIT_FOR_RESOLVERS];
        assert_eq!((&wait["SecondsPath"], &wait["Next"]), (&Value::from(field.clone()), &Value::from(state::ROLLBACK)));
    }
}
