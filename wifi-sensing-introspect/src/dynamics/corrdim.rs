//! Correlation dimension by Grassberger and Procaccia, computed the way nolds 0.6.3
//! `corr_dim(..., fit="poly")` computes it, with pair counting through a k-d tree range search
//! (only pairs closer than the largest radius are visited; no distance matrix).

use super::kdtree::KdTree;
use super::numeric::{ls_slope, pairwise_sum};
use super::rosenstein::{delay_embed, MAX_EMB_DIM};
use super::DynamicsError;

/// Largest number of radii accepted.
pub const MAX_RADII: usize = 4096;

/// nolds' `logarithmic_r(min, max, factor)`: `min * factor^i` for `i = 0..=floor(ln(max/min) /
/// ln(factor))`, written into `out`. Nothing is written unless `0 < min < max` and `factor > 1`.
pub fn logarithmic_r(min: f64, max: f64, factor: f64, out: &mut Vec<f64>) {
    out.clear();
    if !(min > 0.0 && max > min && factor > 1.0 && max.is_finite()) {
        return;
    }
    let max_i = ((max / min).ln() / factor.ln()).floor();
    if max_i.is_nan() || max_i < 0.0 || max_i >= MAX_RADII as f64 {
        return;
    }
    for i in 0..=(max_i as usize) {
        out.push(min * factor.powf(i as f64));
    }
}

/// Reusable Grassberger-Procaccia estimator.
///
/// The default radii are nolds': `logarithmic_r(0.1 * sd, 0.5 * sd, 1.03)` with `sd` the sample
/// standard deviation (ddof = 1) of the series. `C(r)` counts ordered pairs at distance `<= r`
/// including the `M` self-pairs, over `M (M - 1)`, as nolds does; the dimension is the slope of
/// `ln C(r)` against `ln r` over the radii where `C(r) > 0`.
///
/// ```
/// use wifi_sensing_introspect::dynamics::CorrDim;
/// let mut x = vec![0.1f64];
/// for _ in 0..999 { let v = *x.last().unwrap(); x.push(4.0 * v * (1.0 - v)); }
/// let d = CorrDim::new(2, 1)?.estimate(&x, None)?;
/// assert!(d > 0.7 && d < 1.2);
/// # Ok::<(), wifi_sensing_introspect::dynamics::DynamicsError>(())
/// ```
#[derive(Clone, Debug)]
pub struct CorrDim {
    emb_dim: usize,
    lag: usize,
    emb: Vec<f64>,
    tree: KdTree,
    radii: Vec<f64>,
    hist: Vec<u64>,
    tmp: Vec<f64>,
    lr: Vec<f64>,
    lc: Vec<f64>,
    /// Embedding vectors of the estimate in progress, and those whose pairs are counted.
    n: usize,
    counted: usize,
}

impl CorrDim {
    /// Sum of buffer capacities (tests check that it stops growing).
    #[cfg(test)]
    pub(crate) fn capacity_sum(&self) -> usize {
        self.emb.capacity()
            + self.tree.capacity_sum()
            + self.radii.capacity()
            + self.hist.capacity()
            + self.tmp.capacity()
            + self.lr.capacity()
            + self.lc.capacity()
    }

    /// New estimator for embedding dimension `emb_dim` (1..=64) and delay `lag` (>= 1), samples.
    pub fn new(emb_dim: usize, lag: usize) -> Result<Self, DynamicsError> {
        if emb_dim == 0 || emb_dim > MAX_EMB_DIM {
            return Err(DynamicsError::invalid("emb_dim", "must be in 1..=64"));
        }
        if lag == 0 || lag > 1 << 20 {
            return Err(DynamicsError::invalid("lag", "must be in 1..=1048576"));
        }
        Ok(Self {
            emb_dim,
            lag,
            emb: Vec::new(),
            tree: KdTree::default(),
            radii: Vec::new(),
            hist: Vec::new(),
            tmp: Vec::new(),
            lr: Vec::new(),
            lc: Vec::new(),
            n: 0,
            counted: 0,
        })
    }

    /// Correlation dimension of `x`. `rvals`: radii in increasing order, or `None` for the
    /// default. NaN when no radius holds a pair; errors on non-finite input, a series shorter
    /// than two embedding vectors, a constant series with default radii, or bad radii.
    pub fn estimate(&mut self, x: &[f64], rvals: Option<&[f64]>) -> Result<f64, DynamicsError> {
        let n = self.begin(x, rvals)?;
        self.count_until(n);
        Ok(self.finish())
    }

    /// First stage of an estimate (the tracker spreads the stages over frames): checks the
    /// input, embeds it, sets the radii and builds the index. Returns the number of vectors.
    pub(crate) fn begin(
        &mut self,
        x: &[f64],
        rvals: Option<&[f64]>,
    ) -> Result<usize, DynamicsError> {
        if let Some(i) = x.iter().position(|v| !v.is_finite()) {
            return Err(DynamicsError::NonFinite { index: i });
        }
        let m = self.emb_dim;
        let n = delay_embed(x, m, self.lag, &mut self.emb);
        if n < 2 {
            return Err(DynamicsError::TooShort {
                what: "correlation dimension",
                needed: (m - 1) * self.lag + 2,
                got: x.len(),
            });
        }
        match rvals {
            Some(r) => {
                if r.is_empty()
                    || r.len() > MAX_RADII
                    || r.iter().any(|v| !(v.is_finite() && *v > 0.0))
                    || r.windows(2).any(|w| w[1] <= w[0])
                {
                    return Err(DynamicsError::invalid(
                        "rvals",
                        "must be 1..=4096 finite positive radii in increasing order",
                    ));
                }
                self.radii.clear();
                self.radii.extend_from_slice(r);
            }
            None => {
                // numpy: std(ddof=1) = sqrt(sum((x - mean)^2) / (n - 1)), pairwise sums.
                let mean = pairwise_sum(x) / x.len() as f64;
                self.tmp.clear();
                self.tmp.extend(x.iter().map(|&v| (v - mean) * (v - mean)));
                let sd = (pairwise_sum(&self.tmp) / (x.len() - 1) as f64).sqrt();
                let mut radii = std::mem::take(&mut self.radii);
                logarithmic_r(0.1 * sd, 0.5 * sd, 1.03, &mut radii);
                self.radii = radii;
                if self.radii.is_empty() {
                    return Err(DynamicsError::Degenerate {
                        what: "correlation dimension of a constant series",
                    });
                }
            }
        }
        self.tree.build(&self.emb, m, n);
        self.hist.clear();
        self.hist.resize(self.radii.len(), 0);
        self.n = n;
        self.counted = 0;
        Ok(n)
    }

    /// Counts the pairs of the embedding vectors not yet counted, up to vector `end`
    /// (exclusive).
    pub(crate) fn count_until(&mut self, end: usize) {
        let m = self.emb_dim;
        let n = self.n;
        let rmax = *self.radii.last().unwrap_or(&0.0);
        let (emb, radii, hist, tree) = (&self.emb, &self.radii, &mut self.hist, &self.tree);
        for i in self.counted..end.min(n) {
            let q = &emb[i * m..(i + 1) * m];
            tree.within(
                emb,
                q,
                rmax,
                |j| j > i,
                |_, d| {
                    // First radius with d <= r.
                    let b = radii.partition_point(|&r| r < d);
                    if b < hist.len() {
                        hist[b] += 1;
                    }
                },
            );
        }
        self.counted = self.counted.max(end.min(n));
    }

    /// Last stage: the slope of log C(r) against log r.
    pub(crate) fn finish(&mut self) -> f64 {
        let n = self.n;
        let norm = 1.0 / (n as f64 * (n as f64 - 1.0));
        self.lr.clear();
        self.lc.clear();
        let mut cum = 0u64;
        for (r, h) in self.radii.iter().zip(&self.hist) {
            cum += h;
            let c = norm * (n as u64 + 2 * cum) as f64;
            if c != 0.0 {
                self.lr.push(r.ln());
                self.lc.push(c.ln());
            }
        }
        ls_slope(&self.lr, &self.lc).unwrap_or(f64::NAN)
    }
}
