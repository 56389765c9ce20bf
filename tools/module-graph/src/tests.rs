use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::tree::Source;
use super::Graph;

/// A crate in memory: relative path -> text, rooted at `src/lib.rs`.
struct Crate(BTreeMap<PathBuf, String>);

impl Source for Crate {
    fn read(&self, path: &Path) -> std::io::Result<String> {
        self.0.get(path).cloned().ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "not in the crate"))
    }
    fn exists(&self, path: &Path) -> bool {
        self.0.contains_key(path)
    }
}

fn graph(files: &[(&str, &str)]) -> Graph {
    let source = Crate(files.iter().map(|(p, t)| (PathBuf::from(p), t.to_string())).collect());
    Graph::build("demo", Path::new("src/lib.rs"), &source).unwrap_or_else(|e| panic!("{e}"))
}

fn edges(g: &Graph) -> Vec<String> {
    g.edges.keys().map(|&(a, b)| format!("{} -> {}", g.tree.name(a), g.tree.name(b))).collect()
}

fn cycle_names(g: &Graph) -> Vec<Vec<String>> {
    g.cycles().into_iter().map(|c| c.members).collect()
}

#[test]
fn a_synthetic_cycle_is_found_and_named_with_its_references() {
    let g = graph(&[
        ("src/lib.rs", "mod a;\nmod b;\nmod c;\n"),
        ("src/a.rs", "use crate::b::Bee;\npub struct Ay(Bee);\n"),
        // The way back is a path in an expression, not a `use`.
        ("src/b.rs", "pub struct Bee;\npub fn make() -> u8 {\n    crate::a::helper()\n}\n"),
        ("src/c.rs", "use crate::a::Ay;\n"),
    ]);
    assert_eq!(cycle_names(&g), vec![vec!["demo::a".to_string(), "demo::b".to_string()]]);
    let cycle = &g.cycles()[0];
    let steps: Vec<String> = cycle
        .steps
        .iter()
        .map(|(a, b, r)| format!("{a} -> {b} {}:{} {}", r.file.display(), r.line, r.text()))
        .collect();
    assert_eq!(
        steps,
        vec!["demo::a -> demo::b src/a.rs:1 crate::b::Bee", "demo::b -> demo::a src/b.rs:3 crate::a::helper"]
    );
}

#[test]
fn an_acyclic_crate_passes_with_re_exports_followed_to_their_module() {
    let g = graph(&[
        ("src/lib.rs", "pub mod error;\npub mod plan;\npub use error::Error;\n"),
        ("src/error.rs", "pub struct Error;\n"),
        // `crate::Error` is error's item re-exported by the root: plan depends on error, not on the root.
        ("src/plan.rs", "pub fn parse() -> Result<(), crate::Error> { Ok(()) }\n"),
    ]);
    assert_eq!(edges(&g), vec!["demo -> demo::error", "demo::plan -> demo::error"]);
    assert!(g.cycles().is_empty());
}

#[test]
fn test_code_is_not_in_the_graph() {
    let g = graph(&[
        ("src/lib.rs", "mod a;\nmod b;\n#[cfg(any(test, feature = \"test-util\"))]\npub mod testing;\n"),
        ("src/a.rs", "pub fn f() {}\n#[cfg(test)]\nmod tests;\n#[cfg(test)]\nmod more { use crate::b::g; }\n"),
        ("src/a/tests.rs", "use crate::b::g;\n"),
        // A `tests.rs` is test code even where its `mod` line has no cfg.
        (
            "src/b.rs",
            "pub fn g() { crate::a::f() }\n#[cfg(test)]\nfn only_in_tests() { crate::testing::x() }\nmod tests;\n",
        ),
        ("src/b/tests.rs", "use crate::a::f;\n"),
        ("src/testing.rs", "pub fn x() { crate::b::g() }\n"),
    ]);
    assert_eq!(edges(&g), vec!["demo::b -> demo::a"]);
    assert!(g.cycles().is_empty());
    // Without the cfg, the same reference closes a cycle.
    let g = graph(&[
        ("src/lib.rs", "mod a;\nmod b;\n"),
        ("src/a.rs", "pub fn f() { crate::b::g() }\n"),
        ("src/b.rs", "pub fn g() { crate::a::f() }\n"),
    ]);
    assert_eq!(cycle_names(&g), vec![vec!["demo::a", "demo::b"]]);
}

#[test]
fn super_self_child_and_glob_paths_resolve_to_their_modules() {
    let g = graph(&[
        ("src/lib.rs", "pub mod flows;\npub mod ports;\n"),
        ("src/ports.rs", "pub trait Lifecycle {}\npub mod fake { pub struct Fake; }\n"),
        // `fake::Fake` comes through the glob import of ports; `super::super` is the root.
        (
            "src/flows.rs",
            "mod start;\npub use self::start::run;\nuse super::ports::*;\npub fn go(_: &dyn Lifecycle) -> fake::Fake { fake::Fake }\n",
        ),
        ("src/flows/start.rs", "pub fn run() { let _ = super::super::ports::fake::Fake; }\n"),
    ]);
    assert_eq!(
        edges(&g),
        vec![
            "demo::flows -> demo::flows::start",
            "demo::flows -> demo::ports",
            "demo::flows -> demo::ports::fake",
            "demo::flows::start -> demo::ports::fake"
        ]
    );
    assert!(g.cycles().is_empty());
}

#[test]
fn a_child_using_its_parent_that_uses_it_is_a_cycle() {
    let g = graph(&[
        ("src/lib.rs", "pub mod hook;\n"),
        ("src/hook.rs", "mod ecs;\npub struct Deps;\npub fn dispatch() { ecs::handle() }\n"),
        ("src/hook/ecs.rs", "use super::Deps;\npub fn handle() {}\n"),
    ]);
    assert_eq!(cycle_names(&g), vec![vec!["demo::hook", "demo::hook::ecs"]]);
}

#[test]
fn paths_inside_macros_count() {
    let g = graph(&[
        ("src/lib.rs", "mod a;\nmod b;\n"),
        ("src/a.rs", "pub fn name() -> &'static str { \"a\" }\npub fn show() { let _ = crate::b::NAME; }\n"),
        ("src/b.rs", "pub const NAME: &str = \"b\";\npub fn log() { println!(\"{}\", crate::a::name()); }\n"),
    ]);
    assert_eq!(cycle_names(&g), vec![vec!["demo::a", "demo::b"]]);
}

#[test]
fn other_crates_and_local_names_are_not_modules() {
    let g = graph(&[
        ("src/lib.rs", "mod a;\nmod b;\n"),
        (
            "src/a.rs",
            "use std::sync::Arc;\npub(crate) fn f<T: Default>() -> Arc<T> { let b = T::default(); Arc::new(b) }\n",
        ),
        // `pub(crate)` and `pub(super)` restrict visibility; they name no dependency.
        (
            "src/b.rs",
            "pub(crate) fn g() -> u8 { serde_json::Value::Null; crate::a::f::<u8>(); 1 }\npub(super) struct S;\n",
        ),
    ]);
    assert_eq!(edges(&g), vec!["demo::b -> demo::a"]);
}

#[test]
fn a_missing_module_file_is_an_error_naming_it() {
    let source = Crate([(PathBuf::from("src/lib.rs"), "mod gone;\n".to_string())].into_iter().collect());
    let err = Graph::build("demo", Path::new("src/lib.rs"), &source).err().map(|e| e.to_string());
    assert_eq!(err.as_deref(), Some("src/lib.rs: `mod gone;` has no file (tried src/gone.rs, src/gone/mod.rs)"));
}
