//! Cycles of a directed graph over `0..n`: its strongly connected components of two or more
//! nodes (Tarjan), and one shortest cycle through each to show.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Edges as adjacency sets: `edges[a]` holds every `b` with `a -> b`.
pub type Adjacency = Vec<BTreeSet<usize>>;

/// The strongly connected components with more than one node, each sorted, in order of their
/// smallest node.
pub fn components(edges: &Adjacency) -> Vec<Vec<usize>> {
    let mut state = Tarjan { edges, index: vec![None; edges.len()], low: vec![0; edges.len()], ..Tarjan::default() };
    for node in 0..edges.len() {
        if state.index[node].is_none() {
            state.visit(node);
        }
    }
    let mut found: Vec<Vec<usize>> = state.found.into_iter().filter(|c| c.len() > 1).collect();
    for c in &mut found {
        c.sort_unstable();
    }
    found.sort();
    found
}

#[derive(Default)]
struct Tarjan<'a> {
    edges: &'a [BTreeSet<usize>],
    index: Vec<Option<usize>>,
    low: Vec<usize>,
    next: usize,
    stack: Vec<usize>,
    on_stack: BTreeSet<usize>,
    found: Vec<Vec<usize>>,
}

impl Tarjan<'_> {
    // Recursive: module graphs are a few dozen nodes deep at most.
    fn visit(&mut self, node: usize) {
        self.index[node] = Some(self.next);
        self.low[node] = self.next;
        self.next += 1;
        self.stack.push(node);
        self.on_stack.insert(node);
        for &succ in &self.edges[node] {
            match self.index[succ] {
                None => {
                    self.visit(succ);
                    self.low[node] = self.low[node].min(self.low[succ]);
                }
                Some(i) if self.on_stack.contains(&succ) => self.low[node] = self.low[node].min(i),
                Some(_) => {}
            }
        }
        if Some(self.low[node]) == self.index[node] {
            let mut component = Vec::new();
            while let Some(top) = self.stack.pop() {
                self.on_stack.remove(&top);
                component.push(top);
                if top == node {
                    break;
                }
            }
            self.found.push(component);
        }
    }
}

/// A shortest cycle through `start` inside `component` (breadth-first), as the nodes in order,
/// `start` first and not repeated at the end; empty when there is none.
pub fn cycle_through(edges: &Adjacency, component: &[usize], start: usize) -> Vec<usize> {
    let inside: BTreeSet<usize> = component.iter().copied().collect();
    let mut came_from: BTreeMap<usize, usize> = BTreeMap::new();
    let mut queue = VecDeque::from([start]);
    while let Some(node) = queue.pop_front() {
        for &succ in &edges[node] {
            if !inside.contains(&succ) {
                continue;
            }
            if succ == start {
                let mut cycle = vec![node];
                let mut at = node;
                while at != start {
                    at = came_from[&at];
                    cycle.push(at);
                }
                cycle.reverse();
                return cycle;
            }
            if succ != start && !came_from.contains_key(&succ) {
                came_from.insert(succ, node);
                queue.push_back(succ);
            }
        }
    }
    Vec::new()
}
