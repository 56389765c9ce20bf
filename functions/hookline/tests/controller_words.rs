//! The seams hold (issue 11 A): no CodeDeploy status word, lifecycle event name
//! or SDK type appears in the library or the functions outside the adapters, so a
//! second deployment controller plugs in without touching the canary logic. The same
//! holds for the second controller, ECS-native blue/green: its service deployment
//! statuses, stage names, hook answer words and service deployment SDK types stay in
//! `lifecycle/ecs.rs`.
//!
//! Scanned: every `.rs` file under `functions/`, without its unit tests (`tests.rs`
//! files, `tests/` folders, and the trailing `#[cfg(test)] mod tests` block).

use std::path::{Path, PathBuf};

/// What only CodeDeploy's adapter may say.
const CODEDEPLOY_WORDS: [&str; 18] = [
    "aws_sdk_codedeploy",
    "aws_lambda_events::codedeploy",
    "DeploymentAlreadyCompleted",
    "LifecycleEventAlreadyCompleted",
    "LifecycleEventStatus",
    ".codedeploy",
    "\"Created\"",
    "\"Queued\"",
    "\"InProgress\"",
    "\"Ready\"",
    "\"Baking\"",
    "\"Succeeded\"",
    "\"Failed\"",
    "\"Stopped\"",
    "\"Pending\"",
    "\"Skipped\"",
    "\"BeforeAllowTraffic\"",
    "\"AfterAllowTraffic\"",
];

/// Files allowed to use some of those words, and why.
const ADAPTERS: [(&str, &[&str], &str); 6] = [
    (
        "hookline/src/plan/mod.rs",
        &["\"AfterAllowTraffic\""],
        "plan validation names the hook a plan's post-traffic bake runs in, per controller, in its messages",
    ),
    ("hookline/src/lifecycle/codedeploy.rs", &CODEDEPLOY_WORDS, "the CodeDeploy adapter"),
    ("hookline/src/clients.rs", &["aws_sdk_codedeploy", ".codedeploy"], "builds the SDK clients the adapters hold"),
    ("hookline/src/testing.rs", &CODEDEPLOY_WORDS, "aws-smithy-mocks answers for the adapters' tests"),
    (
        "hookline/src/taskdef.rs",
        &["\"BeforeAllowTraffic\"", "\"AfterAllowTraffic\""],
        "writes CodeDeploy's AppSpec (the release path creates a CodeDeploy deployment)",
    ),
    (
        "register-taskdef/src/handler.rs",
        &["aws_sdk_codedeploy", ".codedeploy"],
        "the release path's CreateDeployment, CodeDeploy's by nature",
    ),
];

/// hookline's own names of the two hook events, in execution names and the document
/// (`HookEvent::as_str`); the adapter maps CodeDeploy's event names onto them.
const HOOK_EVENT_NAMES: (&str, &[&str]) =
    ("hookline/src/execution.rs", &["\"BeforeAllowTraffic\"", "\"AfterAllowTraffic\""]);

/// What only the ECS-native adapter may say (service deployment statuses, the stage names
/// of the hooks hookline answers and ECS's rollback re-runs, the hook answer, the SDK types).
const ECS_WORDS: [&str; 17] = [
    "ServiceDeploymentStatus",
    "ServiceDeploymentLifecycleStage",
    "StopServiceDeploymentStopType",
    ".describe_service_deployments",
    ".stop_service_deployment",
    "\"SUCCESSFUL\"",
    "\"STOP_REQUESTED\"",
    "\"ROLLBACK_REQUESTED\"",
    "\"ROLLBACK_IN_PROGRESS\"",
    "\"ROLLBACK_SUCCESSFUL\"",
    "\"ROLLBACK_FAILED\"",
    "\"POST_TEST_TRAFFIC_SHIFT\"",
    "\"POST_PRODUCTION_TRAFFIC_SHIFT\"",
    "\"TEST_TRAFFIC_SHIFT\"",
    "\"PRODUCTION_TRAFFIC_SHIFT\"",
    "\"hookStatus\"",
    "\"IN_PROGRESS\"",
];

/// Files allowed to use some of the ECS words, and why.
const ECS_ADAPTERS: [(&str, &[&str], &str); 2] = [
    ("hookline/src/lifecycle/ecs.rs", &ECS_WORDS, "the ECS-native adapter"),
    (
        "hookline/src/plan/mod.rs",
        &["\"POST_PRODUCTION_TRAFFIC_SHIFT\""],
        "plan validation names the hook a plan's post-traffic bake runs in, per controller, in its messages",
    ),
];

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.unwrap_or_else(|e| panic!("{}: {e}", dir.display())).path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if path.is_dir() {
            if name != "tests" && name != "target" {
                rust_files(&path, found);
            }
        } else if name.ends_with(".rs") && name != "tests.rs" {
            found.push(path);
        }
    }
}

/// The file's text without its trailing unit-test module.
fn without_tests(text: &str) -> &str {
    match text.find("#[cfg(test)]\nmod tests {") {
        Some(at) => &text[..at],
        None => text,
    }
}

#[test]
fn no_codedeploy_word_outside_the_adapters() {
    let functions = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    rust_files(&functions, &mut files);
    assert!(files.len() > 20, "scanned too few files: {files:?}");

    let mut leaks = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&functions).unwrap_or(file).to_string_lossy().replace('\\', "/");
        let allowed: Vec<&str> = ADAPTERS
            .iter()
            .chain(std::iter::once(&(HOOK_EVENT_NAMES.0, HOOK_EVENT_NAMES.1, "")))
            .filter(|(path, _, _)| *path == relative)
            .flat_map(|(_, words, _)| words.iter().copied())
            .collect();
        let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{relative}: {e}"));
        for (number, line) in without_tests(&text).lines().enumerate() {
            for word in CODEDEPLOY_WORDS.iter().filter(|w| !allowed.contains(w)) {
                if line.contains(word) {
                    leaks.push(format!("{relative}:{}: {word}: {}", number + 1, line.trim()));
                }
            }
        }
    }
    assert!(leaks.is_empty(), "CodeDeploy's words outside its adapter:\n{}", leaks.join("\n"));
}

#[test]
fn no_ecs_word_outside_the_ecs_adapter() {
    let functions = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    rust_files(&functions, &mut files);
    assert!(files.len() > 20, "scanned too few files: {files:?}");

    let mut leaks = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&functions).unwrap_or(file).to_string_lossy().replace('\\', "/");
        let allowed: Vec<&str> = ECS_ADAPTERS
            .iter()
            .filter(|(path, _, _)| *path == relative)
            .flat_map(|(_, words, _)| words.iter().copied())
            .collect();
        let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{relative}: {e}"));
        for (number, line) in without_tests(&text).lines().enumerate() {
            for word in ECS_WORDS.iter().filter(|w| !allowed.contains(w)) {
                if line.contains(word) {
                    leaks.push(format!("{relative}:{}: {word}: {}", number + 1, line.trim()));
                }
            }
        }
    }
    assert!(leaks.is_empty(), "ECS's words outside its adapter:\n{}", leaks.join("\n"));
    // Guards the scan itself: the words it looks for are really in the adapter.
    let adapter = functions.join("hookline/src/lifecycle/ecs.rs");
    let text = std::fs::read_to_string(&adapter).unwrap_or_else(|e| panic!("{}: {e}", adapter.display()));
    for word in ["ServiceDeploymentStatus", "\"POST_TEST_TRAFFIC_SHIFT\"", "\"IN_PROGRESS\""] {
        assert!(text.contains(word), "{word} not in {}", adapter.display());
    }
}

#[test]
fn the_scan_sees_the_adapter() {
    // Guards the scan itself: the words it looks for are really in the adapter.
    let adapter = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lifecycle/codedeploy.rs");
    let text = std::fs::read_to_string(&adapter).unwrap_or_else(|e| panic!("{}: {e}", adapter.display()));
    for word in ["aws_sdk_codedeploy", "LifecycleEventStatus", "\"BeforeAllowTraffic\""] {
        assert!(text.contains(word), "{word} not in {}", adapter.display());
    }
}
