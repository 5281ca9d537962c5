//! Window features and the regime classifier.

use serde::{Deserialize, Serialize};

use super::corrdim::CorrDim;
use super::numeric::mean_std;
use super::rosenstein::{Rosenstein, RosensteinParams};
use super::DynamicsError;

/// Dynamical regime of a window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Regime {
    /// Not enough samples yet (warming up after start or reset).
    Unknown,
    /// Nothing above the noise floor: a constant plus noise.
    Idle,
    /// Sustained activity that repeats: one lag brings the window back onto itself, or the
    /// exponent is not positive (quasi-periodic).
    Periodic,
    /// Activity confined to part of the window (a step, a burst), or a level change; also
    /// reported by the tracker right after a change point until the new regime is classified.
    Transient,
    /// Sustained, aperiodic activity with a positive largest Lyapunov exponent.
    Chaotic,
}

/// Thresholds of the regime classifier. All are ratios, so the classifier is scale-invariant.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegimeThresholds {
    /// A window whose standard deviation is at most this many noise floors is idle when no block
    /// stands out.
    pub idle_snr: f64,
    /// A block is quiet when its standard deviation is at most this many noise floors.
    pub quiet_factor: f64,
    /// Periodic when the best autocorrelation after the first zero crossing reaches this.
    pub periodicity: f64,
    /// Chaotic needs a Rosenstein exponent above this (per sample); below it, sustained
    /// aperiodic activity counts as periodic (quasi-periodic).
    pub chaos_lyapunov: f64,
}

impl Default for RegimeThresholds {
    fn default() -> Self {
        Self {
            idle_snr: 2.0,
            quiet_factor: 2.5,
            periodicity: 0.8,
            chaos_lyapunov: 0.0,
        }
    }
}

impl RegimeThresholds {
    pub(crate) fn validate(&self) -> Result<(), DynamicsError> {
        let pos = |v: f64| v.is_finite() && v > 0.0;
        if !pos(self.idle_snr) {
            return Err(DynamicsError::invalid("idle_snr", "must be finite and > 0"));
        }
        if !pos(self.quiet_factor) {
            return Err(DynamicsError::invalid(
                "quiet_factor",
                "must be finite and > 0",
            ));
        }
        if !(self.periodicity.is_finite() && self.periodicity > 0.0 && self.periodicity <= 1.0) {
            return Err(DynamicsError::invalid("periodicity", "must be in (0, 1]"));
        }
        if !self.chaos_lyapunov.is_finite() {
            return Err(DynamicsError::invalid("chaos_lyapunov", "must be finite"));
        }
        Ok(())
    }
}

/// Features of one window (all scale-invariant).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WindowFeatures {
    /// Samples in the window.
    pub len: usize,
    /// Standard deviation over the noise floor (the robust scale of the nearest-neighbour
    /// one-step prediction error, which is the noise standard deviation for white noise and
    /// near zero for a deterministic signal).
    pub snr: f64,
    /// Standard deviation of each eighth of the window (oldest first) over the noise floor.
    pub block_snr: [f64; BLOCKS],
    /// Best Pearson autocorrelation at a lag after the first zero crossing, up to half the
    /// window (0 when there is no crossing); over the newest 256 samples of longer windows.
    pub periodicity: f64,
    /// Lag of that best autocorrelation, samples.
    pub period: usize,
    /// Largest Lyapunov exponent (Rosenstein), per unit of `tau`; `None` if not finite.
    pub lyapunov: Option<f64>,
    /// Correlation dimension (Grassberger-Procaccia); `None` if undefined.
    pub attractor_dim: Option<f64>,
    /// The window is numerically constant.
    pub constant: bool,
}

/// Reusable window analyser (no allocation once warmed up on the largest window).
#[derive(Clone, Debug)]
pub(crate) struct Analyser {
    ros: Rosenstein,
    cd: CorrDim,
    z: Vec<f64>,
    resid: Vec<f64>,
    prefix: Vec<f64>,
    prefix2: Vec<f64>,
    /// The job in progress (see [`Analyser::begin`]).
    stage: Stage,
    f: WindowFeatures,
    with_dim: bool,
    ntraj: usize,
    dim_n: usize,
    cd_counted: usize,
}

/// Stage of the features job of an [`Analyser`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    Idle,
    Neighbours,
    Divergence(usize),
    Rest,
    Dim,
}

/// Divergence distances that cost about one work unit.
const DISTANCES_PER_UNIT: usize = 16;
/// Work units of the exponent fit, noise floor, blocks and periodicity together.
const REST_UNITS: usize = 32;
/// Work units of one fixed-radius pair search of the correlation dimension.
const PAIR_SEARCH_UNITS: usize = 2;

/// Longest tail of a window used for the periodicity feature.
pub const ACF_MAX_LEN: usize = 256;

/// Longest tail of a window used for the correlation dimension in the regime features.
pub const CORR_DIM_MAX_LEN: usize = 256;

/// Number of blocks the window is split into for the non-stationarity test.
pub const BLOCKS: usize = 8;

impl Analyser {
    /// Sum of buffer capacities (tests check that it stops growing).
    #[cfg(test)]
    pub(crate) fn capacity_sum(&self) -> usize {
        self.ros.capacity_sum()
            + self.cd.capacity_sum()
            + self.z.capacity()
            + self.resid.capacity()
            + self.prefix.capacity()
            + self.prefix2.capacity()
    }

    pub(crate) fn new(params: RosensteinParams, dim_emb: usize) -> Result<Self, DynamicsError> {
        if params.trajectory_len < 2 {
            return Err(DynamicsError::invalid(
                "trajectory_len",
                "must be at least 2 for the regime features",
            ));
        }
        Ok(Self {
            ros: Rosenstein::new(params)?,
            cd: CorrDim::new(dim_emb, params.lag)?,
            z: Vec::new(),
            resid: Vec::new(),
            prefix: Vec::new(),
            prefix2: Vec::new(),
            stage: Stage::Idle,
            f: WindowFeatures::default(),
            with_dim: false,
            ntraj: 0,
            dim_n: 0,
            cd_counted: 0,
        })
    }

    pub(crate) fn min_len(&self) -> usize {
        self.ros.params().min_len().max(4 * BLOCKS)
    }

    /// Features of `x`; `with_dim` also estimates the correlation dimension.
    pub(crate) fn features(
        &mut self,
        x: &[f64],
        with_dim: bool,
    ) -> Result<WindowFeatures, DynamicsError> {
        if let Some(done) = self.begin(x, with_dim)? {
            return Ok(done);
        }
        let mut budget = usize::MAX;
        loop {
            if let Some(f) = self.step(&mut budget) {
                return f;
            }
        }
    }

    /// Starts the features of `x` as a job run by [`step`](Self::step) (the tracker spreads
    /// the work over frames; a job in progress is dropped). Returns the features at once when
    /// there is nothing to compute (a constant window).
    pub(crate) fn begin(
        &mut self,
        x: &[f64],
        with_dim: bool,
    ) -> Result<Option<WindowFeatures>, DynamicsError> {
        self.stage = Stage::Idle;
        if let Some(i) = x.iter().position(|v| !v.is_finite()) {
            return Err(DynamicsError::NonFinite { index: i });
        }
        let n = x.len();
        if n < self.min_len() {
            return Err(DynamicsError::TooShort {
                what: "regime features",
                needed: self.min_len(),
                got: n,
            });
        }
        self.f = WindowFeatures {
            len: n,
            ..Default::default()
        };
        // Divide by the largest magnitude first so that huge or tiny inputs cannot overflow or
        // underflow (every feature is scale-invariant).
        let amax = x.iter().fold(0.0f64, |a, v| a.max(v.abs()));
        if amax == 0.0 {
            self.f.constant = true;
            return Ok(Some(self.f));
        }
        self.z.clear();
        self.z.extend(x.iter().map(|&v| v / amax));
        let (mu, sd) = mean_std(&self.z);
        if sd.is_nan() || sd <= 1e-12 * mu.abs() || sd == 0.0 {
            self.f.constant = true;
            return Ok(Some(self.f));
        }
        for v in self.z.iter_mut() {
            *v = (*v - mu) / sd;
        }
        self.ntraj = self.ros.begin(&self.z)?;
        self.with_dim = with_dim;
        self.stage = Stage::Neighbours;
        Ok(None)
    }

    /// `true` while a job started by [`begin`](Self::begin) is not finished.
    pub(crate) fn busy(&self) -> bool {
        self.stage != Stage::Idle
    }

    /// Drops the job in progress.
    pub(crate) fn abort(&mut self) {
        self.stage = Stage::Idle;
    }

    /// Runs the job until its end or until `budget` work units are spent (one unit is about one
    /// nearest-neighbour search; a stage that has started runs to its end, so the budget may
    /// go negative by one stage's cost, floored at 0). Returns the features when done.
    pub(crate) fn step(
        &mut self,
        budget: &mut usize,
    ) -> Option<Result<WindowFeatures, DynamicsError>> {
        let p = *self.ros.params();
        while *budget > 0 {
            match self.stage {
                Stage::Idle => return None,
                Stage::Neighbours => {
                    let done = self.ros.neighbours().0.len();
                    let end = done.saturating_add(*budget).min(self.ntraj);
                    self.ros.neighbours_until(end);
                    *budget -= end - done;
                    if end == self.ntraj {
                        self.stage = Stage::Divergence(0);
                    }
                }
                Stage::Divergence(k) => {
                    self.ros.divergence(k);
                    *budget = budget.saturating_sub(self.ntraj / DISTANCES_PER_UNIT + 1);
                    self.stage = if k + 1 < p.trajectory_len {
                        Stage::Divergence(k + 1)
                    } else {
                        Stage::Rest
                    };
                }
                Stage::Rest => {
                    self.rest();
                    *budget = budget.saturating_sub(REST_UNITS);
                    if self.with_dim {
                        let from = self.z.len().saturating_sub(CORR_DIM_MAX_LEN);
                        match self.cd.begin(&self.z[from..], None) {
                            Ok(n) => {
                                self.dim_n = n;
                                self.cd_counted = 0;
                                self.stage = Stage::Dim;
                            }
                            Err(_) => {
                                self.stage = Stage::Idle;
                                return Some(Ok(self.f));
                            }
                        }
                    } else {
                        self.stage = Stage::Idle;
                        return Some(Ok(self.f));
                    }
                }
                Stage::Dim => {
                    let done = self.cd_counted;
                    let end = done
                        .saturating_add(budget.div_ceil(PAIR_SEARCH_UNITS))
                        .min(self.dim_n);
                    self.cd.count_until(end);
                    self.cd_counted = end;
                    *budget = budget.saturating_sub((end - done) * PAIR_SEARCH_UNITS);
                    if end == self.dim_n {
                        self.cd_counted = 0;
                        let d = self.cd.finish();
                        self.f.attractor_dim = d.is_finite().then_some(d);
                        self.stage = Stage::Idle;
                        return Some(Ok(self.f));
                    }
                }
            }
        }
        None
    }

    /// The exponent, noise floor, block spreads and periodicity, once every neighbour is known.
    fn rest(&mut self) {
        let lyap = self.ros.finish();
        let f = &mut self.f;
        f.lyapunov = lyap.is_finite().then_some(lyap);
        let n = self.z.len();
        let p = *self.ros.params();
        let ahead = (p.emb_dim - 1) * p.lag + 1;
        let (nb, _) = self.ros.neighbours();
        self.resid.clear();
        for (i, &j) in nb.iter().enumerate() {
            let (a, b) = (i + ahead, j as usize + ahead);
            if a < n && b < n {
                self.resid.push((self.z[a] - self.z[b]).abs());
            }
        }
        let med = median(&mut self.resid);
        // For white noise the one-step error is the difference of two independent samples:
        // median |e| = 0.6745 * sqrt(2) * sigma.
        let floor = med / (0.674_489_75 * std::f64::consts::SQRT_2);
        f.snr = if floor > 0.0 {
            1.0 / floor
        } else {
            f64::INFINITY
        };
        // Blocks aligned to the newest sample.
        let b = n / BLOCKS;
        for k in 0..BLOCKS {
            let end = n - k * b;
            let start = if k == BLOCKS - 1 { 0 } else { end - b };
            let (_, s) = mean_std(&self.z[start..end]);
            f.block_snr[BLOCKS - 1 - k] = if floor > 0.0 {
                s / floor
            } else if s > 0.0 {
                f64::INFINITY
            } else {
                0.0
            };
        }
        let (pv, lag) = self.periodicity();
        self.f.periodicity = pv;
        self.f.period = lag;
    }

    /// Best Pearson autocorrelation after the first zero crossing, lags up to n/2, over the
    /// newest `ACF_MAX_LEN` samples (the cost grows with the square of the length).
    fn periodicity(&mut self) -> (f64, usize) {
        let z = &self.z[self.z.len().saturating_sub(ACF_MAX_LEN)..];
        let n = z.len();
        self.prefix.clear();
        self.prefix2.clear();
        self.prefix.push(0.0);
        self.prefix2.push(0.0);
        let (mut s, mut s2) = (0.0, 0.0);
        for &v in z {
            s += v;
            s2 += v * v;
            self.prefix.push(s);
            self.prefix2.push(s2);
        }
        let (p, p2) = (&self.prefix, &self.prefix2);
        let corr = |lag: usize| {
            let m = n - lag;
            let mf = m as f64;
            let mut sab = 0.0;
            for i in 0..m {
                sab += z[i] * z[i + lag];
            }
            let (sa, sb) = (p[m], p[n] - p[lag]);
            let (saa, sbb) = (p2[m], p2[n] - p2[lag]);
            let cov = sab - sa * sb / mf;
            let va = saa - sa * sa / mf;
            let vb = sbb - sb * sb / mf;
            if va > 0.0 && vb > 0.0 {
                cov / (va * vb).sqrt()
            } else {
                0.0
            }
        };
        let max_lag = n / 2;
        let mut crossed = false;
        let mut best = (0.0, 0);
        for lag in 1..=max_lag {
            let c = corr(lag);
            if !crossed {
                crossed = c <= 0.0;
                continue;
            }
            if c > best.0 {
                best = (c, lag);
            }
        }
        best
    }
}

/// Classifies window features with `t`; returns the regime and a confidence in [0, 1] (how far
/// the deciding feature is from its threshold, squashed; a heuristic, not a probability).
pub(crate) fn classify(f: &WindowFeatures, t: &RegimeThresholds) -> (Regime, f64) {
    let squash = |margin: f64| unit(margin.abs() / (1.0 + margin.abs()));
    if f.constant {
        return (Regime::Idle, 1.0);
    }
    let quiet = f.block_snr.iter().filter(|&&r| r <= t.quiet_factor).count();
    let active = BLOCKS - quiet;
    if active == 0 {
        // Every block looks like noise: idle, unless the level differs between blocks.
        let m = (f.snr / t.idle_snr).ln();
        return if f.snr <= t.idle_snr {
            (Regime::Idle, squash(m))
        } else {
            (Regime::Transient, squash(m))
        };
    }
    if quiet > 0 {
        let frac = quiet.min(active) as f64 / BLOCKS as f64;
        return (Regime::Transient, (0.5 + frac).min(1.0));
    }
    if f.periodicity >= t.periodicity {
        return (
            Regime::Periodic,
            squash((f.periodicity - t.periodicity) * 20.0),
        );
    }
    match f.lyapunov {
        Some(l) if l > t.chaos_lyapunov => (
            Regime::Chaotic,
            squash((t.periodicity - f.periodicity) * 10.0)
                .min(squash((l - t.chaos_lyapunov) * 20.0)),
        ),
        _ => (Regime::Periodic, 0.3),
    }
}

/// Median of `v` (reorders it); 0 for an empty slice.
pub(crate) fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let mid = v.len() / 2;
    let (_, m, _) = v.select_nth_unstable_by(mid, f64::total_cmp);
    *m
}

/// Result of [`RegimeClassifier::classify`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Classification {
    /// The regime.
    pub regime: Regime,
    /// Margin of the deciding feature from its threshold, squashed to [0, 1] (a heuristic, not
    /// a calibrated probability).
    pub confidence: f64,
    /// The features it was decided on.
    pub features: WindowFeatures,
}

/// Batch regime classifier for one window of a scalar series.
///
/// Decision, on the window normalised to zero mean and unit variance:
/// 1. numerically constant: idle;
/// 2. the noise floor is the robust scale of the nearest-neighbour one-step prediction error
///    (the neighbours of Rosenstein's method); each eighth of the window is *quiet* when its
///    spread is at most `quiet_factor` floors;
/// 3. all blocks quiet: idle if the whole window's spread is at most `idle_snr` floors, else
///    transient (a level change);
/// 4. some blocks quiet, some not: transient (a burst, a step, an onset);
/// 5. all blocks active: periodic when the best autocorrelation after the first zero crossing
///    reaches `periodicity`; otherwise chaotic when the Rosenstein exponent exceeds
///    `chaos_lyapunov`, else periodic (quasi-periodic).
///
/// ```
/// use wifi_sensing_introspect::dynamics::{Regime, RegimeClassifier};
/// let mut c = RegimeClassifier::new(Default::default(), Default::default())?;
/// let sine: Vec<f64> = (0..256).map(|i| (i as f64 * 0.4).sin()).collect();
/// assert_eq!(c.classify(&sine)?.regime, Regime::Periodic);
/// let mut v = 0.3;
/// let logistic: Vec<f64> = (0..256).map(|_| { v = 4.0 * v * (1.0 - v); v }).collect();
/// assert_eq!(c.classify(&logistic)?.regime, Regime::Chaotic);
/// # Ok::<(), wifi_sensing_introspect::dynamics::DynamicsError>(())
/// ```
#[derive(Clone, Debug)]
pub struct RegimeClassifier {
    analyser: Analyser,
    thresholds: RegimeThresholds,
}

impl RegimeClassifier {
    /// New classifier; `params` sets the embedding and Rosenstein estimate used for the noise
    /// floor and the exponent (its `trajectory_len` must be at least 2).
    pub fn new(
        params: RosensteinParams,
        thresholds: RegimeThresholds,
    ) -> Result<Self, DynamicsError> {
        thresholds.validate()?;
        Ok(Self {
            analyser: Analyser::new(params, params.emb_dim)?,
            thresholds,
        })
    }

    /// Shortest window accepted.
    pub fn min_len(&self) -> usize {
        self.analyser.min_len()
    }

    /// Classifies `x` (errors on non-finite values and windows shorter than
    /// [`min_len`](Self::min_len)).
    pub fn classify(&mut self, x: &[f64]) -> Result<Classification, DynamicsError> {
        let features = self.analyser.features(x, false)?;
        let (regime, confidence) = classify(&features, &self.thresholds);
        Ok(Classification {
            regime,
            confidence,
            features,
        })
    }
}

/// The `q` quantile (0..=1, nearest rank) of `v` (reorders it); 0 for an empty slice.
pub(crate) fn quantile(v: &mut [f64], q: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let k = ((v.len() - 1) as f64 * q.clamp(0.0, 1.0)).round() as usize;
    let (_, m, _) = v.select_nth_unstable_by(k, f64::total_cmp);
    *m
}

/// `v` clamped to [0, 1], with NaN mapped to 0.
pub(crate) fn unit(v: f64) -> f64 {
    if v.is_nan() {
        0.0
    } else {
        v.clamp(0.0, 1.0)
    }
}
