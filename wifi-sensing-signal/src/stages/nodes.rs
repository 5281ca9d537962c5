//! Per-node state with a bound on the number of nodes.

use crate::error::SignalError;

/// Default bound on distinct nodes per stage.
pub const DEFAULT_MAX_NODES: usize = 256;

/// State per node id, at most `max_nodes` of them (bad input cannot grow memory without
/// bound). Same API as `wifi_sensing_core::PerNode`, which replaces it once available.
#[derive(Clone, Debug)]
pub struct PerNode<S> {
    max: usize,
    items: Vec<(u32, S)>,
}

impl<S> PerNode<S> {
    /// Empty, for at most `max_nodes` nodes.
    pub fn new(max_nodes: usize) -> Self {
        PerNode {
            max: max_nodes,
            items: Vec::new(),
        }
    }

    /// The state of `node`, made by `f` on first use; an error past `max_nodes` nodes.
    pub fn get_or_insert_with(
        &mut self,
        node: u32,
        f: impl FnOnce() -> S,
    ) -> Result<&mut S, SignalError> {
        if let Some(i) = self.items.iter().position(|(n, _)| *n == node) {
            return Ok(&mut self.items[i].1);
        }
        if self.items.len() >= self.max {
            return Err(SignalError::TooManyNodes {
                component: "per-node state",
                limit: self.max,
            });
        }
        self.items.push((node, f()));
        Ok(&mut self.items.last_mut().expect("pushed").1)
    }

    /// Every `(node, state)`.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (u32, &mut S)> {
        self.items.iter_mut().map(|(n, s)| (*n, s))
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// `true` with no nodes.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Forgets every node.
    pub fn clear(&mut self) {
        self.items.clear();
    }
}
