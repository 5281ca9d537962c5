//! [`PerNode`]: one state value per node id, created on first sight, with a bound on how many.
//!
//! Every stage and analyser that keeps state per node (a filter's memory, a detector's
//! baseline) uses this one helper, so a node's frames never mix with another's and a stream with
//! garbage node ids cannot grow memory without bound.

use crate::error::{Error, Result};

/// A map from node id to state `S`, created on first sight, holding at most `max_nodes` entries.
///
/// Lookups scan a small vector kept sorted by node id (deployments have a handful of nodes), so
/// a lookup allocates nothing; inserting a new node allocates once.
///
/// ```
/// use wifi_sensing_core::PerNode;
/// let mut counts: PerNode<u64> = PerNode::new(2);
/// *counts.get_or_insert_with(7, || 0)? += 1;
/// *counts.get_or_insert_with(7, || 0)? += 1;
/// *counts.get_or_insert_with(3, || 0)? += 1;
/// assert_eq!(counts.get(7), Some(&2));
/// assert_eq!(counts.iter().map(|(n, _)| n).collect::<Vec<_>>(), vec![3, 7]);
/// // a third node exceeds the bound: an error, no state created
/// assert!(counts.get_or_insert_with(9, || 0).is_err());
/// assert_eq!(counts.len(), 2);
/// # Ok::<(), wifi_sensing_core::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct PerNode<S> {
    entries: Vec<(u32, S)>,
    max_nodes: usize,
}

impl<S> PerNode<S> {
    /// The default bound on distinct nodes used by the family's analysers.
    pub const DEFAULT_MAX_NODES: usize = 256;

    /// An empty map that accepts at most `max_nodes` distinct nodes.
    pub fn new(max_nodes: usize) -> Self {
        PerNode {
            entries: Vec::new(),
            max_nodes,
        }
    }

    /// The maximum number of distinct nodes.
    pub fn max_nodes(&self) -> usize {
        self.max_nodes
    }

    fn position(&self, node: u32) -> std::result::Result<usize, usize> {
        self.entries.binary_search_by_key(&node, |(n, _)| *n)
    }

    /// The state of `node`, created with `make` on first sight.
    ///
    /// Fails with [`Error::TooManyNodes`] when `node` is new and the map is full.
    pub fn get_or_insert_with(&mut self, node: u32, make: impl FnOnce() -> S) -> Result<&mut S> {
        let i = match self.position(node) {
            Ok(i) => i,
            Err(i) => {
                if self.entries.len() >= self.max_nodes {
                    return Err(Error::TooManyNodes {
                        limit: self.max_nodes,
                        node,
                    });
                }
                self.entries.insert(i, (node, make()));
                i
            }
        };
        Ok(&mut self.entries[i].1)
    }

    /// The state of `node`, if it was seen.
    pub fn get(&self, node: u32) -> Option<&S> {
        self.position(node).ok().map(|i| &self.entries[i].1)
    }

    /// The state of `node` for mutation, if it was seen.
    pub fn get_mut(&mut self, node: u32) -> Option<&mut S> {
        match self.position(node) {
            Ok(i) => Some(&mut self.entries[i].1),
            Err(_) => None,
        }
    }

    /// Nodes and their states, in ascending node id.
    pub fn iter(&self) -> impl Iterator<Item = (u32, &S)> {
        self.entries.iter().map(|(n, s)| (*n, s))
    }

    /// Nodes and their states for mutation, in ascending node id.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (u32, &mut S)> {
        self.entries.iter_mut().map(|(n, s)| (*n, s))
    }

    /// Number of nodes seen.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// `true` when no node was seen.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Forgets every node.
    pub fn clear(&mut self) {
        self.entries.clear();
    }
}

impl<S> Default for PerNode<S> {
    /// An empty map bounded by [`PerNode::DEFAULT_MAX_NODES`].
    fn default() -> Self {
        PerNode::new(Self::DEFAULT_MAX_NODES)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_are_separate_and_sorted() {
        let mut m: PerNode<Vec<u32>> = PerNode::default();
        for node in [5u32, 1, 5, 9, 1, 1] {
            m.get_or_insert_with(node, Vec::new).unwrap().push(node);
        }
        let got: Vec<(u32, usize)> = m.iter().map(|(n, v)| (n, v.len())).collect();
        assert_eq!(got, vec![(1, 3), (5, 2), (9, 1)]);
        assert!(m.get(2).is_none());
        m.get_mut(9).unwrap().clear();
        assert_eq!(m.get(9).map(Vec::len), Some(0));
        m.clear();
        assert!(m.is_empty());
    }

    #[test]
    fn bound_refuses_new_nodes_but_serves_known_ones() {
        let mut m: PerNode<u8> = PerNode::new(1);
        m.get_or_insert_with(4, || 0).unwrap();
        let e = m.get_or_insert_with(5, || 0).unwrap_err();
        assert!(matches!(e, Error::TooManyNodes { limit: 1, node: 5 }));
        assert!(m.get_or_insert_with(4, || 0).is_ok());
        assert_eq!(m.len(), 1);
    }
}
