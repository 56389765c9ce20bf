//! The seams hold (issue 11 A): no CodeDeploy status word, lifecycle event name
//! or SDK type appears in the library or the functions outside the adapters, so a
//! second deployment controller plugs in without touching the canary logic. The same
//! holds for the second controller, ECS-native blue/green: its service deployment
//! statuses, stage names, hook answer words and service deployment SDK types stay in
//! `lifecycle/ecs.rs`.
//!
//! The CLI reads deployments through the same adapters (`Lifecycle::describe`, issue 21), so
//! the same words stay out of `cli/` too, and its dashboard's page: what must stay is allowed
//! per file below, each with its reason.
//!
//! Scanned: every `.rs` file under `functions/` and `cli/src/` (and the dashboard's `.js`),
//! without its unit tests (`tests.rs` files, `tests/` folders, and the trailing
//! `#[cfg(test)] mod tests` block).

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

/// Files of the CLI (paths from the repository root) allowed to use some of CodeDeploy's words, and why.
const CLI_CODEDEPLOY: [(&str, &[&str], &str); 3] = [
    (
        "cli/src/codedeploy.rs",
        &["aws_sdk_codedeploy", ".codedeploy", "LifecycleEventStatus"],
        "what the CLI reads from CodeDeploy that no port offers: the account's applications and groups, a \
         group's deployments with their rollback links (history), the ECS target's lifecycle events (watch); \
         each deployment's status is still the adapter's (CodeDeploy::summary)",
    ),
    (
        "cli/src/verbs/doctor/mod.rs",
        &["aws_sdk_codedeploy", ".codedeploy"],
        "doctor checks the deployment group's own CodeDeploy configuration and lists its deployments in \
         progress (ListDeployments' includeOnlyStatuses takes CodeDeploy's words)",
    ),
    (
        "cli/src/verbs/status.rs",
        &["\"InProgress\""],
        "the word status, watch and the dashboard show for an active deployment (or one its controller is \
         still rolling back), as `status --json` always printed it: shown from hookline's status, never read \
         from a controller",
    ),
];

/// Files of the CLI allowed to use some of the ECS words, and why.
const CLI_ECS: [(&str, &[&str], &str); 1] = [(
    "cli/src/verbs/doctor/mod.rs",
    &["ServiceDeploymentStatus"],
    "doctor lists the service's deployments in progress (ListServiceDeployments' status filter takes ECS's words)",
)];

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

/// What only the Route 53 adapters of hookline's own controller may say: the SDK, its change
/// status and record types, its status words.
const ROUTE53_WORDS: [&str; 5] = ["aws_sdk_route53", "ChangeStatus", "RrType", "\"INSYNC\"", "\"PENDING\""];

/// Files allowed to use some of the Route 53 words, and why.
const ROUTE53_ADAPTERS: [(&str, &[&str], &str); 5] = [
    ("hookline/src/traffic/route53.rs", &ROUTE53_WORDS, "the router over the weighted records"),
    ("hookline/src/aws/release_finder.rs", &["aws_sdk_route53"], "hosted zones and records for deploy and undeploy"),
    ("hookline/src/clients.rs", &["aws_sdk_route53"], "builds the SDK clients the adapters hold"),
    ("hookline/src/traffic/mod.rs", &["aws_sdk_route53"], "the router factory holds the (lazily built) client"),
    ("hookline/src/testing.rs", &["aws_sdk_route53"], "aws-smithy-mocks answers for the adapters' tests"),
];

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    source_files(dir, &[".rs"], found);
}

/// The files under `dir` whose names end with one of `extensions`, unit tests left out.
fn source_files(dir: &Path, extensions: &[&str], found: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.unwrap_or_else(|e| panic!("{}: {e}", dir.display())).path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if path.is_dir() {
            if name != "tests" && name != "target" {
                source_files(&path, extensions, found);
            }
        } else if extensions.iter().any(|ext| name.ends_with(ext)) && name != "tests.rs" {
            found.push(path);
        }
    }
}

/// The CLI's sources (`.rs`, and the dashboard's `.js`), as paths from the repository root.
fn cli_files() -> (PathBuf, Vec<PathBuf>) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut files = Vec::new();
    source_files(&root.join("cli/src"), &[".rs", ".js"], &mut files);
    assert!(files.len() > 15, "scanned too few CLI files: {files:?}");
    (root, files)
}

/// Every line of `files` (paths shown from `base`) that says one of `words` its file is not allowed.
fn leaks(base: &Path, files: &[PathBuf], words: &[&str], allowed: &[(&str, &[&str], &str)]) -> Vec<String> {
    let mut found = Vec::new();
    for file in files {
        let relative = file.strip_prefix(base).unwrap_or(file).to_string_lossy().replace('\\', "/");
        let allowed: Vec<&str> = allowed
            .iter()
            .filter(|(path, _, _)| *path == relative)
            .flat_map(|(_, words, _)| words.iter().copied())
            .collect();
        let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{relative}: {e}"));
        for (number, line) in without_tests(&text).lines().enumerate() {
            for word in words.iter().filter(|w| !allowed.contains(w)) {
                if line.contains(word) {
                    found.push(format!("{relative}:{}: {word}: {}", number + 1, line.trim()));
                }
            }
        }
    }
    found
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
fn no_route53_word_outside_its_adapters() {
    let functions = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    rust_files(&functions, &mut files);
    let found = leaks(&functions, &files, &ROUTE53_WORDS, &ROUTE53_ADAPTERS);
    assert!(found.is_empty(), "Route 53's words outside its adapters:\n{}", found.join("\n"));
    // Guards the scan itself, and every allowance is still needed.
    for (path, words, why) in ROUTE53_ADAPTERS {
        let text = std::fs::read_to_string(functions.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
        for word in words.iter().filter(|w| **w == "aws_sdk_route53") {
            assert!(without_tests(&text).contains(word), "{path} no longer says {word}: drop it ({why})");
        }
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

#[test]
fn no_controller_word_in_the_cli_outside_what_is_allowed() {
    let (root, files) = cli_files();
    let codedeploy = leaks(&root, &files, &CODEDEPLOY_WORDS, &CLI_CODEDEPLOY);
    assert!(codedeploy.is_empty(), "CodeDeploy's words in the CLI:\n{}", codedeploy.join("\n"));
    let ecs = leaks(&root, &files, &ECS_WORDS, &CLI_ECS);
    assert!(ecs.is_empty(), "ECS's words in the CLI:\n{}", ecs.join("\n"));
    // Every allowance is still needed (a stale one would let the word back in unnoticed).
    for (path, words, why) in CLI_CODEDEPLOY.iter().chain(CLI_ECS.iter()) {
        let text = std::fs::read_to_string(root.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
        for word in *words {
            assert!(without_tests(&text).contains(word), "{path} no longer says {word}: drop it ({why})");
        }
    }
}

#[test]
fn the_cli_scan_sees_a_leak() {
    // Guards the scan itself: a status word compared by hand in a verb is caught.
    let dir = std::env::temp_dir().join(format!("hookline-controller-words-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("cli/src/verbs")).expect("scratch dir");
    let file = dir.join("cli/src/verbs/watch.rs");
    std::fs::write(&file, "fn ended(s: &str) -> bool {\n    s == \"Succeeded\" || s == \"ROLLBACK_SUCCESSFUL\"\n}\n")
        .expect("write");
    let files = vec![file];
    assert_eq!(leaks(&dir, &files, &CODEDEPLOY_WORDS, &CLI_CODEDEPLOY).len(), 1);
    assert_eq!(leaks(&dir, &files, &ECS_WORDS, &CLI_ECS).len(), 1);
    std::fs::remove_dir_all(&dir).expect("cleanup");
}
