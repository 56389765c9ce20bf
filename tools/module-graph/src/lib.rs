//! The import graph of a crate's production modules, and its cycles.
//!
//! Module `a` depends on module `b` when `a`'s code names an item of `b`: `use crate::b::X`,
//! `super::X` (for `b` the parent), `b::f()` from `b`'s parent, or a re-export of `b`'s item
//! (followed to `b`). A cycle (`a -> b -> ... -> a`) means neither side can be read, moved or
//! tested without the other; `make module-graph` fails on one and names its references.
//! Test code is not in the graph (`#[cfg(test)]` items and modules, `tests.rs` files), nor are
//! intra-doc links.
//!
//! ```text
//! main.rs ──> lib.rs ──> tree      (syn: the module tree, each module's names and paths)
//!                   ├──> resolve   (a path -> the module it points into) ──> tree
//!                   └──> cycles    (strongly connected components, a shortest cycle)
//! ```

pub mod cycles;
pub mod resolve;
pub mod tree;

use std::collections::BTreeMap;
use std::path::Path;

use tree::{ModId, Reference, Source, Tree};

/// A crate's module graph: `edges[(a, b)]` is the first reference in `a` that points into `b`.
pub struct Graph {
    pub tree: Tree,
    pub edges: BTreeMap<(ModId, ModId), Reference>,
}

/// One cycle to show: the modules in order and the reference behind each step.
pub struct Cycle {
    /// All modules of the strongly connected component.
    pub members: Vec<String>,
    /// `a -> b` steps of one shortest cycle, each with the reference that makes it.
    pub steps: Vec<(String, String, Reference)>,
}

impl Graph {
    pub fn build(crate_name: &str, root: &Path, source: &dyn Source) -> Result<Graph, tree::LoadError> {
        let tree = tree::load(crate_name, root, source)?;
        let mut edges = BTreeMap::new();
        for (from, module) in tree.modules.iter().enumerate() {
            for reference in &module.references {
                if let Some(to) = resolve::resolve(&tree, from, &reference.path) {
                    if to != from {
                        edges.entry((from, to)).or_insert_with(|| reference.clone());
                    }
                }
            }
        }
        Ok(Graph { tree, edges })
    }

    pub fn adjacency(&self) -> cycles::Adjacency {
        let mut adjacency: cycles::Adjacency = vec![Default::default(); self.tree.modules.len()];
        for &(a, b) in self.edges.keys() {
            adjacency[a].insert(b);
        }
        adjacency
    }

    pub fn cycles(&self) -> Vec<Cycle> {
        let adjacency = self.adjacency();
        cycles::components(&adjacency)
            .into_iter()
            .map(|component| {
                let path = cycles::cycle_through(&adjacency, &component, component[0]);
                let steps = path
                    .iter()
                    .zip(path.iter().cycle().skip(1))
                    .filter_map(|(&a, &b)| {
                        let reference = self.edges.get(&(a, b))?;
                        Some((self.tree.name(a), self.tree.name(b), reference.clone()))
                    })
                    .collect();
                Cycle { members: component.iter().map(|&m| self.tree.name(m)).collect(), steps }
            })
            .collect()
    }

    /// The graph in Graphviz's dot language, for drawing the layout.
    pub fn dot(&self) -> String {
        let mut out = format!("digraph \"{}\" {{\n", self.tree.crate_name);
        for id in 0..self.tree.modules.len() {
            out.push_str(&format!("  \"{}\";\n", self.tree.name(id)));
        }
        for &(a, b) in self.edges.keys() {
            out.push_str(&format!("  \"{}\" -> \"{}\";\n", self.tree.name(a), self.tree.name(b)));
        }
        out.push_str("}\n");
        out
    }
}

#[cfg(test)]
mod tests;
