//! A small exact k-d tree over points stored row-major in one flat slice.
//!
//! Built for the dynamics code: a few hundred to a few thousand points in 2 to 16 dimensions,
//! rebuilt often, with queries that exclude points by index (temporal neighbours). Buffers are
//! kept between builds, so rebuilding a tree of the same size allocates nothing.
//!
//! Exactness: distances are computed with [`euclid`](super::numeric::euclid) (numpy's order of
//! operations), candidates are compared as `(distance, index)` so ties go to the lowest index, and
//! a subtree is skipped only when `sqrt(fl(plane_gap^2))` is strictly greater than the current
//! best distance. A rounded sum of non-negative terms is never below any one rounded term, so a
//! skipped subtree can hold no point that is closer or tied: the result is the same as a scan of
//! all points.

use super::numeric::euclid;

const LEAF: usize = 8;

#[derive(Clone, Copy, Debug)]
struct Node {
    lo: u32,
    hi: u32,
    /// Split axis, or `u32::MAX` for a leaf.
    axis: u32,
    split: f64,
    left: u32,
    right: u32,
}

/// Exact k-d tree; see the module docs.
#[derive(Clone, Debug, Default)]
pub(crate) struct KdTree {
    dim: usize,
    idx: Vec<u32>,
    nodes: Vec<Node>,
}

impl KdTree {
    /// Sum of buffer capacities (tests check that it stops growing).
    #[cfg(test)]
    pub(crate) fn capacity_sum(&self) -> usize {
        self.idx.capacity() + self.nodes.capacity()
    }

    /// Builds the tree over the first `n` points of `pts` (row-major, `dim` values per point).
    /// All coordinates must be finite (callers check).
    pub(crate) fn build(&mut self, pts: &[f64], dim: usize, n: usize) {
        debug_assert!(dim > 0 && pts.len() >= n * dim);
        self.dim = dim;
        self.idx.clear();
        self.idx.extend(0..n as u32);
        self.nodes.clear();
        if n > 0 {
            self.build_node(pts, 0, n);
        }
    }

    fn build_node(&mut self, pts: &[f64], lo: usize, hi: usize) -> u32 {
        let id = self.nodes.len() as u32;
        self.nodes.push(Node {
            lo: lo as u32,
            hi: hi as u32,
            axis: u32::MAX,
            split: 0.0,
            left: 0,
            right: 0,
        });
        if hi - lo <= LEAF {
            return id;
        }
        let dim = self.dim;
        // Split on the axis with the largest spread.
        let mut best_axis = 0;
        let mut best_spread = -1.0;
        for a in 0..dim {
            let (mut mn, mut mx) = (f64::INFINITY, f64::NEG_INFINITY);
            for &i in &self.idx[lo..hi] {
                let v = pts[i as usize * dim + a];
                mn = mn.min(v);
                mx = mx.max(v);
            }
            if mx - mn > best_spread {
                best_spread = mx - mn;
                best_axis = a;
            }
        }
        let mid = lo + (hi - lo) / 2;
        self.idx[lo..hi].select_nth_unstable_by(mid - lo, |&a, &b| {
            pts[a as usize * dim + best_axis].total_cmp(&pts[b as usize * dim + best_axis])
        });
        let split = pts[self.idx[mid] as usize * dim + best_axis];
        let left = self.build_node(pts, lo, mid);
        let right = self.build_node(pts, mid, hi);
        let node = &mut self.nodes[id as usize];
        node.axis = best_axis as u32;
        node.split = split;
        node.left = left;
        node.right = right;
        id
    }

    /// Nearest accepted point to `q` as `(index, distance)`, lowest index on ties; `None` when no
    /// point is accepted.
    pub(crate) fn nearest(
        &self,
        pts: &[f64],
        q: &[f64],
        accept: impl Fn(usize) -> bool,
    ) -> Option<(usize, f64)> {
        if self.nodes.is_empty() {
            return None;
        }
        let mut s = Nearest((usize::MAX, f64::INFINITY));
        self.search(0, pts, q, &accept, &mut s);
        (s.0 .0 != usize::MAX).then_some(s.0)
    }

    /// Calls `f(index, distance)` for every accepted point with distance `<= r`.
    pub(crate) fn within(
        &self,
        pts: &[f64],
        q: &[f64],
        r: f64,
        accept: impl Fn(usize) -> bool,
        f: impl FnMut(usize, f64),
    ) {
        if !self.nodes.is_empty() {
            self.search(0, pts, q, &accept, &mut Within { r, f });
        }
    }

    /// Offers every accepted point of the leaves below `node` that may lie within the search's
    /// radius of `q`, the side of `q` first (points on the left have coordinate <= split, on
    /// the right >= split).
    fn search(
        &self,
        node: u32,
        pts: &[f64],
        q: &[f64],
        accept: &impl Fn(usize) -> bool,
        s: &mut impl Search,
    ) {
        let nd = self.nodes[node as usize];
        let dim = self.dim;
        if nd.axis == u32::MAX {
            for &j in &self.idx[nd.lo as usize..nd.hi as usize] {
                let j = j as usize;
                if accept(j) {
                    s.offer(j, euclid(q, &pts[j * dim..(j + 1) * dim]));
                }
            }
            return;
        }
        let gap = q[nd.axis as usize] - nd.split;
        let (near, far) = if gap <= 0.0 {
            (nd.left, nd.right)
        } else {
            (nd.right, nd.left)
        };
        self.search(near, pts, q, accept, s);
        if (gap * gap).sqrt() <= s.radius() {
            self.search(far, pts, q, accept, s);
        }
    }
}

/// A search of [`KdTree::search`]: how far it still looks, and what it does with a point.
trait Search {
    fn radius(&self) -> f64;
    fn offer(&mut self, j: usize, d: f64);
}

/// The nearest point so far, `(index, distance)`.
struct Nearest((usize, f64));

impl Search for Nearest {
    fn radius(&self) -> f64 {
        self.0 .1
    }
    fn offer(&mut self, j: usize, d: f64) {
        let best = &mut self.0;
        if d < best.1 || (d == best.1 && j < best.0) {
            *best = (j, d);
        }
    }
}

/// Every point within `r`, handed to `f`.
struct Within<F> {
    r: f64,
    f: F,
}

impl<F: FnMut(usize, f64)> Search for Within<F> {
    fn radius(&self) -> f64 {
        self.r
    }
    fn offer(&mut self, j: usize, d: f64) {
        if d <= self.r {
            (self.f)(j, d);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lcg(seed: &mut u64) -> f64 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (*seed >> 11) as f64 / (1u64 << 53) as f64
    }

    #[test]
    fn nearest_and_within_match_brute_force() {
        let mut s = 7u64;
        for dim in [1usize, 2, 3, 5] {
            let n = 300;
            // Coarse grid values make many exact ties.
            let pts: Vec<f64> = (0..n * dim).map(|_| (lcg(&mut s) * 6.0).floor()).collect();
            let mut t = KdTree::default();
            t.build(&pts, dim, n);
            for i in 0..n {
                let q = &pts[i * dim..(i + 1) * dim];
                let acc = |j: usize| j.abs_diff(i) > 3;
                let got = t.nearest(&pts, q, acc).unwrap();
                let mut want = (usize::MAX, f64::INFINITY);
                for j in 0..n {
                    if acc(j) {
                        let d = euclid(q, &pts[j * dim..(j + 1) * dim]);
                        if d < want.1 {
                            want = (j, d);
                        }
                    }
                }
                assert_eq!(got, want);
                let mut c = 0;
                t.within(&pts, q, 2.0, acc, |_, _| c += 1);
                let bc = (0..n)
                    .filter(|&j| acc(j) && euclid(q, &pts[j * dim..(j + 1) * dim]) <= 2.0)
                    .count();
                assert_eq!(c, bc);
            }
        }
    }

    #[test]
    fn empty_tree() {
        let mut t = KdTree::default();
        t.build(&[], 2, 0);
        assert!(t.nearest(&[], &[0.0, 0.0], |_| true).is_none());
    }
}
