//! `module-graph [--dot] [PACKAGE...]`: the production module graph of every lib and bin crate
//! of the workspace (or of the packages named), failing on any import cycle, which it names with
//! the references (file:line) that make it. `--dot` prints each graph in Graphviz's language.

use std::process::ExitCode;

use cargo_metadata::{MetadataCommand, TargetKind};
use module_graph::tree::Files;
use module_graph::Graph;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dot = args.iter().any(|a| a == "--dot");
    let only: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let metadata = match MetadataCommand::new().no_deps().exec() {
        Ok(m) => m,
        Err(e) => {
            eprintln!("module-graph: cargo metadata: {e}");
            return ExitCode::from(2);
        }
    };
    let mut cycles = 0;
    let mut crates = 0;
    for package in metadata.workspace_packages() {
        if !only.is_empty() && !only.iter().any(|o| **o == package.name.as_str()) {
            continue;
        }
        for target in &package.targets {
            if !target.kind.iter().any(|k| matches!(k, TargetKind::Lib | TargetKind::Bin | TargetKind::ProcMacro)) {
                continue;
            }
            crates += 1;
            let label = format!("{} ({} {})", package.name, kind_name(&target.kind), target.name);
            let graph = match Graph::build(&target.name, target.src_path.as_std_path(), &Files) {
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
            let summary = format!("{} modules, {} dependencies", graph.tree.modules.len(), graph.edges.len());
            if found.is_empty() {
                eprintln!("module-graph: {label}: {summary}, no cycle");
            }
            for cycle in &found {
                cycles += 1;
                eprintln!("module-graph: {label}: CYCLE among {}", cycle.members.join(", "));
                for (a, b, reference) in &cycle.steps {
                    let file = reference.file.strip_prefix(&metadata.workspace_root).unwrap_or(&reference.file);
                    eprintln!("    {a} -> {b}   {}:{}: {}", file.display(), reference.line, reference.text());
                }
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

fn kind_name(kinds: &[TargetKind]) -> &'static str {
    if kinds.contains(&TargetKind::Bin) {
        "bin"
    } else {
        "lib"
    }
}
