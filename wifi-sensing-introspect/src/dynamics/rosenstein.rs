//! Delay embedding and the largest Lyapunov exponent by Rosenstein's method, computed the way
//! nolds 0.6.3 `lyap_r(..., fit="poly")` computes it, with the neighbour search through a k-d tree
//! instead of a full distance matrix.

use serde::{Deserialize, Serialize};

use super::kdtree::KdTree;
use super::numeric::{ls_slope, pairwise_sum};
use super::DynamicsError;

/// Largest embedding dimension accepted (guards memory and run time against bad configs).
pub const MAX_EMB_DIM: usize = 64;

/// Parameters of Rosenstein's method. Every length is in samples.
///
/// The defaults are nolds' "uniform" oracle set: `emb_dim = 3`, `lag = 1`, `min_tsep = 10`,
/// `trajectory_len = 10`, `fit_offset = 0`, `tau = 1` (exponent per sample).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RosensteinParams {
    /// Embedding dimension m (1..=64).
    pub emb_dim: usize,
    /// Embedding delay, samples (>= 1).
    pub lag: usize,
    /// Temporal exclusion: vectors with `|i - j| <= min_tsep` are never neighbours, samples.
    pub min_tsep: usize,
    /// Number of divergence steps followed (>= 1), samples.
    pub trajectory_len: usize,
    /// Divergence steps skipped before the line fit (counted after non-finite steps are dropped).
    pub fit_offset: usize,
    /// Sampling step; the exponent is the fitted slope divided by `tau` (1 = per sample).
    pub tau: f64,
}

impl Default for RosensteinParams {
    fn default() -> Self {
        Self {
            emb_dim: 3,
            lag: 1,
            min_tsep: 10,
            trajectory_len: 10,
            fit_offset: 0,
            tau: 1.0,
        }
    }
}

impl RosensteinParams {
    /// Checks ranges; the error names the field.
    pub fn validate(&self) -> Result<(), DynamicsError> {
        if self.emb_dim == 0 || self.emb_dim > MAX_EMB_DIM {
            return Err(DynamicsError::invalid("emb_dim", "must be in 1..=64"));
        }
        if self.lag == 0 || self.lag > 1 << 20 {
            return Err(DynamicsError::invalid("lag", "must be in 1..=1048576"));
        }
        if self.min_tsep > 1 << 20 {
            return Err(DynamicsError::invalid(
                "min_tsep",
                "must be at most 1048576",
            ));
        }
        if self.trajectory_len == 0 || self.trajectory_len > 1 << 16 {
            return Err(DynamicsError::invalid(
                "trajectory_len",
                "must be in 1..=65536",
            ));
        }
        if self.fit_offset >= self.trajectory_len {
            return Err(DynamicsError::invalid(
                "fit_offset",
                "must be smaller than trajectory_len",
            ));
        }
        if !(self.tau.is_finite() && self.tau > 0.0) {
            return Err(DynamicsError::invalid("tau", "must be finite and > 0"));
        }
        Ok(())
    }

    /// Shortest series these parameters accept (nolds' `lyap_r_len`).
    pub fn min_len(&self) -> usize {
        (self.emb_dim - 1) * self.lag + 1 + self.trajectory_len - 1 + 2 * self.min_tsep + 1
    }
}

/// Result of [`lyap_r`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LyapunovEstimate {
    /// Largest Lyapunov exponent, per unit of `tau`. `-inf` when every neighbour distance is
    /// exactly zero (an exactly periodic orbit), NaN when fewer than two divergence steps are
    /// left for the fit.
    pub exponent: f64,
    /// Steps k of the finite divergence entries (nolds' `div_traj_ks`).
    pub div_traj_ks: Vec<usize>,
    /// Mean log distance of neighbour pairs after k steps, finite entries only.
    pub div_traj: Vec<f64>,
}

/// Writes the delay embedding of `x` into `out` (row-major, `emb_dim` values per vector) and
/// returns the number of vectors `M = N - (emb_dim - 1) * lag` (0 when `x` is too short).
pub fn delay_embed(x: &[f64], emb_dim: usize, lag: usize, out: &mut Vec<f64>) -> usize {
    out.clear();
    let span = (emb_dim.max(1) - 1) * lag;
    if x.len() <= span {
        return 0;
    }
    let m = x.len() - span;
    out.reserve(m * emb_dim);
    for i in 0..m {
        for k in 0..emb_dim {
            out.push(x[i + k * lag]);
        }
    }
    m
}

/// Reusable Rosenstein estimator: after the first call on a series of a given length, further
/// calls on series no longer than that allocate nothing.
///
/// ```
/// use wifi_sensing_introspect::dynamics::{Rosenstein, RosensteinParams};
/// let mut x = vec![0.1f64];
/// for _ in 0..1999 { let v = *x.last().unwrap(); x.push(4.0 * v * (1.0 - v)); }
/// let p = RosensteinParams { emb_dim: 2, min_tsep: 10, trajectory_len: 6, ..Default::default() };
/// let mut r = Rosenstein::new(p)?;
/// let l = r.estimate(&x)?;
/// assert!((l - std::f64::consts::LN_2).abs() < 0.02);
/// # Ok::<(), wifi_sensing_introspect::dynamics::DynamicsError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Rosenstein {
    params: RosensteinParams,
    emb: Vec<f64>,
    tree: KdTree,
    nb: Vec<u32>,
    nb_dist: Vec<f64>,
    logs: Vec<f64>,
    div: Vec<f64>,
    ks: Vec<usize>,
    ksf: Vec<f64>,
    /// Reference vectors of the estimate in progress.
    ntraj: usize,
}

impl Rosenstein {
    /// Sum of buffer capacities (tests check that it stops growing).
    #[cfg(test)]
    pub(crate) fn capacity_sum(&self) -> usize {
        self.emb.capacity()
            + self.tree.capacity_sum()
            + self.nb.capacity()
            + self.nb_dist.capacity()
            + self.logs.capacity()
            + self.div.capacity()
            + self.ks.capacity()
            + self.ksf.capacity()
    }

    /// New estimator; validates the parameters.
    pub fn new(params: RosensteinParams) -> Result<Self, DynamicsError> {
        params.validate()?;
        Ok(Self {
            params,
            emb: Vec::new(),
            tree: KdTree::default(),
            nb: Vec::new(),
            nb_dist: Vec::new(),
            logs: Vec::new(),
            div: Vec::new(),
            ks: Vec::new(),
            ksf: Vec::new(),
            ntraj: 0,
        })
    }

    /// The parameters in use.
    pub fn params(&self) -> &RosensteinParams {
        &self.params
    }

    /// Largest Lyapunov exponent of `x` (see [`LyapunovEstimate::exponent`] for `-inf`/NaN).
    /// Errors on non-finite input and on series too short for the parameters (the same two
    /// conditions nolds raises on).
    pub fn estimate(&mut self, x: &[f64]) -> Result<f64, DynamicsError> {
        let ntraj = self.begin(x)?;
        self.neighbours_until(ntraj);
        for k in 0..self.params.trajectory_len {
            self.divergence(k);
        }
        Ok(self.finish())
    }

    /// First stage of an estimate (the tracker spreads the stages over frames): checks `x`,
    /// embeds it and builds the neighbour index. Returns the number of reference vectors.
    pub(crate) fn begin(&mut self, x: &[f64]) -> Result<usize, DynamicsError> {
        if let Some(i) = x.iter().position(|v| !v.is_finite()) {
            return Err(DynamicsError::NonFinite { index: i });
        }
        let p = self.params;
        let m = p.emb_dim;
        let n_vec = delay_embed(x, m, p.lag, &mut self.emb);
        let needed = p.min_len();
        if n_vec < p.trajectory_len || n_vec - p.trajectory_len + 1 < 2 * p.min_tsep + 2 {
            return Err(DynamicsError::TooShort {
                what: "Rosenstein exponent",
                needed,
                got: x.len(),
            });
        }
        let ntraj = n_vec - p.trajectory_len + 1;
        // Nearest neighbour of every vector i < ntraj among j < ntraj, |i - j| > min_tsep.
        self.tree.build(&self.emb, m, ntraj);
        self.nb.clear();
        self.nb_dist.clear();
        self.div.clear();
        self.ks.clear();
        self.ntraj = ntraj;
        Ok(ntraj)
    }

    /// Neighbour searches of the reference vectors not yet searched, up to vector `end`
    /// (exclusive, at most the count [`begin`](Self::begin) returned).
    pub(crate) fn neighbours_until(&mut self, end: usize) {
        let m = self.params.emb_dim;
        let tsep = self.params.min_tsep;
        let ntraj = self.ntraj;
        for i in self.nb.len()..end.min(ntraj) {
            let q = &self.emb[i * m..(i + 1) * m];
            // ntraj >= 2 * min_tsep + 2 guarantees an accepted point exists.
            let (j, d) = self
                .tree
                .nearest(&self.emb, q, |j| j.abs_diff(i) > tsep)
                .unwrap_or((i, f64::INFINITY));
            self.nb.push(j as u32);
            self.nb_dist.push(d);
        }
    }

    /// Mean log divergence after `k` steps (every neighbour searched; `k` in increasing order),
    /// skipping exact zeros.
    pub(crate) fn divergence(&mut self, k: usize) {
        let m = self.params.emb_dim;
        self.logs.clear();
        for i in 0..self.nb.len() {
            let a = &self.emb[(i + k) * m..(i + k + 1) * m];
            let j = self.nb[i] as usize + k;
            let d = super::numeric::euclid(a, &self.emb[j * m..(j + 1) * m]);
            if d != 0.0 {
                self.logs.push(d.ln());
            }
        }
        if !self.logs.is_empty() {
            let v = pairwise_sum(&self.logs) / self.logs.len() as f64;
            if v.is_finite() {
                self.div.push(v);
                self.ks.push(k);
            }
        }
    }

    /// Last stage: the line fit over the divergence curve.
    pub(crate) fn finish(&mut self) -> f64 {
        let p = self.params;
        if self.div.is_empty() {
            return f64::NEG_INFINITY;
        }
        let off = p.fit_offset.min(self.div.len());
        self.ksf.clear();
        self.ksf.extend(self.ks[off..].iter().map(|&k| k as f64));
        match ls_slope(&self.ksf, &self.div[off..]) {
            Some(s) => s / p.tau,
            None => f64::NAN,
        }
    }

    /// Finite divergence entries of the last [`estimate`](Self::estimate).
    pub fn div_traj(&self) -> &[f64] {
        &self.div
    }

    /// Steps of [`div_traj`](Self::div_traj).
    pub fn div_traj_ks(&self) -> &[usize] {
        &self.ks
    }

    /// Neighbour index and distance of every reference vector of the last estimate.
    pub(crate) fn neighbours(&self) -> (&[u32], &[f64]) {
        (&self.nb, &self.nb_dist)
    }
}

/// One-shot Rosenstein estimate with the divergence curve (allocates; use [`Rosenstein`] in
/// loops).
///
/// ```
/// use wifi_sensing_introspect::dynamics::{lyap_r, RosensteinParams};
/// let x: Vec<f64> = (0..500).map(|i| (i as f64 * 0.3).sin()).collect();
/// let est = lyap_r(&x, &RosensteinParams::default())?;
/// assert_eq!(est.div_traj.len(), est.div_traj_ks.len());
/// # Ok::<(), wifi_sensing_introspect::dynamics::DynamicsError>(())
/// ```
pub fn lyap_r(x: &[f64], params: &RosensteinParams) -> Result<LyapunovEstimate, DynamicsError> {
    let mut r = Rosenstein::new(*params)?;
    let exponent = r.estimate(x)?;
    Ok(LyapunovEstimate {
        exponent,
        div_traj_ks: r.ks.clone(),
        div_traj: r.div.clone(),
    })
}
