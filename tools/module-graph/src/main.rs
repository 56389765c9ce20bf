//! `module-graph [--dot] [PACKAGE...]`: the production module graph of every lib and bin crate
//! of the workspace (or of the packages named), failing on any import cycle, which it names with
//! the references (file:line) that make it. `--dot` prints each graph in Graphviz's language.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use module_graph::tree::Files;
use module_graph::Graph;
use serde_json::Value;

/// A lib or bin target of a workspace package.
struct Target {
    package: String,
    kind: &'static str,
    name: String,
    root: PathBuf,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dot = args.iter().any(|a| a == "--dot");
    let only: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let (workspace_root, targets) = match workspace_targets() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("module-graph: cargo metadata: {e}");
            return ExitCode::from(2);
        }
    };
    let mut cycles = 0;
    let mut crates = 0;
    for target in targets.iter().filter(|t| only.is_empty() || only.iter().any(|o| **o == t.package)) {
        crates += 1;
        let label = format!("{} ({} {})", target.package, target.kind, target.name);
        let graph = match Graph::build(&target.name, &target.root, &Files) {
            Ok(g) => g,
            Err(e) => {
                eprintln!("module-graph: {label}: {e}");
                return ExitCode::from(2);
            }
        };
        if dot {
            print!("{}", graph.dot());
        }
        let found = graph.cycles();
        if found.is_empty() {
            eprintln!(
                "module-graph: {label}: {} modules, {} dependencies, no cycle",
                graph.tree.modules.len(),
                graph.edges.len()
            );
        }
        for cycle in &found {
            cycles += 1;
            eprintln!("module-graph: {label}: CYCLE among {}", cycle.members.join(", "));
            for (a, b, reference) in &cycle.steps {
                let file = reference.file.strip_prefix(&workspace_root).unwrap_or(&reference.file);
                eprintln!("    {a} -> {b}   {}:{}: {}", file.display(), reference.line, reference.text());
            }
        }
    }
    if crates == 0 {
        eprintln!("module-graph: no lib or bin crate matched {only:?}");
        return ExitCode::from(2);
    }
    if cycles > 0 {
        eprintln!("module-graph: {cycles} cycle(s) among production modules");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// The workspace root and the lib/bin targets of its packages (`cargo metadata --no-deps`).
fn workspace_targets() -> Result<(PathBuf, Vec<Target>), String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .output()
        .map_err(|e| e.to_string())?;
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).into_owned());
    }
    let metadata: Value = serde_json::from_slice(&output.stdout).map_err(|e| e.to_string())?;
    let text = |v: &Value, field: &str| v[field].as_str().map(str::to_string).ok_or(format!("no `{field}` in {v}"));
    let root = PathBuf::from(text(&metadata, "workspace_root")?);
    let mut targets = Vec::new();
    for package in metadata["packages"].as_array().ok_or("no `packages`")? {
        for target in package["targets"].as_array().ok_or("no `targets`")? {
            let kinds: Vec<&str> = target["kind"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
            let kind = if kinds.contains(&"bin") {
                "bin"
            } else if kinds.iter().any(|k| matches!(*k, "lib" | "rlib" | "proc-macro")) {
                "lib"
            } else {
                continue; // tests, benches, examples, build scripts: not production modules
            };
            targets.push(Target {
                package: text(package, "name")?,
                kind,
                name: text(target, "name")?,
                root: Path::new(&text(target, "src_path")?).to_path_buf(),
            });
        }
    }
    Ok((root, targets))
}
