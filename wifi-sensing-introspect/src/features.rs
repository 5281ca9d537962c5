//! Per-frame feature vectors for shape matching, and a scalar summary for the dynamics path.
//!
//! Features are computed from the frame's CSI with plain code (no DSP stage needed). Each
//! definition is a named, versioned [`FeatureKind`]; a signature records the kind and the
//! dimension it was captured with, and the matcher refuses a signature whose kind or dimension
//! differs from the stream's.
//!
//! # Definitions
//!
//! For the chosen receive and transmit chain, with `a_k = |H[rx][tx][c_k]|` over the selected
//! columns `c_1..c_D` and `ā` their mean:
//!
//! * **`amp_norm_v1`**: `x_k = a_k / ā`, the amplitude profile across subcarriers with the frame's
//!   gain divided out (AGC steps and transmit-power changes cancel). Says *where* things are.
//! * **`amp_baseline_v1`** (the default): `x_k = (a_k / ā) / b_k − 1`, the relative change of that
//!   profile against a running baseline `b_k`, an exponential mean of `a_k / ā` with a time
//!   constant of `baseline_tau_frames` frames, initialised on the first frame and updated after
//!   each frame. A still room gives values near 0 whatever its layout; motion gives structured
//!   departures. Says *what is moving*.
//! * **`amp_dev_sorted_v1`**: the absolute values of `amp_baseline_v1` sorted in decreasing
//!   order: how much the profile moves and how the change spreads over subcarriers, whatever
//!   subcarriers it falls on (the per-subcarrier pattern of a motion depends on the phases of
//!   the body's reflections, which differ between people and sessions; this does not).
//! * **`motion_lags_v1`**: how much the channel's common level moves, at six time scales, in
//!   units of the stream's own receiver noise: the features of early motion detection that
//!   carry over between sessions. A moving body's reflection has a path delay close to the line
//!   of sight's, so what it does to a 20 MHz channel is nearly flat across subcarriers: it
//!   moves the level `c = ln ā` far more than the profile's shape (which the three kinds above
//!   see). With `p = a / ā` the gain-normalised profile:
//!   - noise: `d_k = p_k(t) − p_k(t − 1)`, `e_k = d_{k−1} − 2 d_k + d_{k+1}`; receiver noise is
//!     independent between subcarriers, so `s²(t) = Σ_k e_k² / (6 D (D − 2))` estimates the
//!     variance of a difference of `c` (the body's smooth change barely enters `e_k`); `σ²` is
//!     its running mean (first value, then an exponential mean with weight 0.02);
//!   - gain steps: `c` is compensated: a one-frame jump of more than 10 `σ` after at least 8
//!     quiet frames (each within 3 `σ` of its predecessor) is taken for an AGC or transmit-power
//!     step and subtracted from then on (a body starting to move does not jump 10 `σ` in one
//!     frame out of stillness);
//!   - for each lag `ℓ ∈ {1, 2, 4, 8, 16, 32}` frames, `z_ℓ = (c(t) − c(t − ℓ)) / σ` and
//!     `x_ℓ = ln(1 + z_ℓ²)` (0 while fewer than `ℓ + 1` frames were seen).
//!
//!   6 values whatever the number of subcarriers (at least 3 needed for the noise estimate,
//!   else `s²` is the mean `d_k²` over `D`). A still scene gives small values in every session
//!   whatever the receiver noise, the gain and the room (about 0.6 on average: `ln(1 + χ²₁)`);
//!   a moving body gives large values whose growth over the lags says how fast and how steadily
//!   the level moves. The sign of the change, which depends on the phase of the body's
//!   reflection and so differs between sessions, is dropped.
//!
//! * **`motion_doppler_v1`**: the six values of `motion_lags_v1`, then a short-time Doppler
//!   spectrum of the level: with `Δc(t) = c(t) − c(t − 1)` over the last `W = 8` frames,
//!   `X_m = Σ_{n<W} Δc(t − n) e^{−2πi m n / W}` for `m = 1..=4` (at 50 Hz: 6.25, 12.5, 18.75
//!   and 25 Hz) and `x = ln(1 + |X_m|² / E_m)` with `E_m = σ² (W − (W − 1) cos(2π m / W))`, the
//!   value `|X_m|²` has for receiver noise alone (the `Δc` of white noise are correlated −½ at
//!   one frame). 10 values, 0 until `W + 1` frames were seen. A body moving a path by `v` m/s
//!   makes the level oscillate at its Doppler frequency `v / λ` (λ ≈ 12 cm at 2.4 GHz): this
//!   says how fast, where `motion_lags_v1` says how much. The phase of the CSI, which would give
//!   the Doppler's sign, is random per frame on a single receive chain and is not used.
//!
//! A frame whose selected amplitudes are all zero (or not finite) has no features: the
//! extractor returns an error for it, and the analyser counts it as skipped.
//!
//! The scalar summary for the dynamics path is `ā`, the mean amplitude of the selected columns
//! in the frame's own units (the regime classifier is scale-invariant).
//!
//! # Column selection
//!
//! [`SubcarrierSelection::Active`] keeps the columns whose subcarrier index carries signal, from
//! the frame's `subcarriers` (when known): `1 ≤ |k| ≤ 26` for 64 columns (HT20, as ESP32 reports
//! it: 52 columns), `2 ≤ |k| ≤ 58` for 128 (HT40), `2 ≤ |k| ≤ 122` for 256 (VHT80), `k ≠ 0`
//! otherwise; every column when the indices are unknown. The choice is fixed by the first frame
//! of the stream; a later frame with a different column count is refused.
//!
//! PCA reduction is not implemented here yet (it belongs with the DSP crate's PCA).

use serde::{Deserialize, Serialize};
use wifi_sensing_core::CsiFrame;

use crate::error::{Error, Result};

/// A named, versioned feature definition (see the module docs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FeatureKind {
    /// Gain-normalised amplitude profile.
    #[serde(rename = "amp_norm_v1")]
    AmpNormV1,
    /// Relative change of the gain-normalised profile against a running baseline.
    #[default]
    #[serde(rename = "amp_baseline_v1")]
    AmpBaselineV1,
    /// The absolute values of `amp_baseline_v1`, sorted in decreasing order.
    #[serde(rename = "amp_dev_sorted_v1")]
    AmpDevSortedV1,
    /// Log motion energy at six time lags, relative to each lag's own noise floor.
    #[serde(rename = "motion_lags_v1")]
    MotionLagsV1,
    /// `motion_lags_v1` followed by a short-time Doppler spectrum of the channel's level.
    #[serde(rename = "motion_doppler_v1")]
    MotionDopplerV1,
}

impl FeatureKind {
    /// Every kind this build knows.
    pub const ALL: [FeatureKind; 5] = [
        FeatureKind::AmpNormV1,
        FeatureKind::AmpBaselineV1,
        FeatureKind::AmpDevSortedV1,
        FeatureKind::MotionLagsV1,
        FeatureKind::MotionDopplerV1,
    ];

    /// The kind's name in files and specs.
    pub fn name(self) -> &'static str {
        match self {
            FeatureKind::AmpNormV1 => "amp_norm_v1",
            FeatureKind::AmpBaselineV1 => "amp_baseline_v1",
            FeatureKind::AmpDevSortedV1 => "amp_dev_sorted_v1",
            FeatureKind::MotionLagsV1 => "motion_lags_v1",
            FeatureKind::MotionDopplerV1 => "motion_doppler_v1",
        }
    }

    /// Values per frame when the kind fixes it (`motion_*` kinds), whatever the columns.
    pub fn fixed_dim(self) -> Option<usize> {
        match self {
            FeatureKind::MotionLagsV1 => Some(MOTION_LAGS.len()),
            FeatureKind::MotionDopplerV1 => Some(MOTION_LAGS.len() + DOPPLER_BINS),
            _ => None,
        }
    }

    /// A `motion_*` kind: its first six values are `motion_lags_v1`'s.
    pub fn is_motion(self) -> bool {
        self.fixed_dim().is_some()
    }
}

impl std::fmt::Display for FeatureKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for FeatureKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        FeatureKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                Error::config(
                    "feature_kind",
                    format!(
                        "unknown feature kind {s:?} (known: {})",
                        FeatureKind::ALL.map(|k| k.name()).join(", ")
                    ),
                )
            })
    }
}

/// Which CSI columns make the feature vector.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubcarrierSelection {
    /// The columns that carry signal (see the module docs).
    #[default]
    Active,
    /// These column positions (0-based, in the frame's column order).
    Columns(Vec<usize>),
}

/// Settings of a [`FeatureExtractor`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FeatureConfig {
    /// Feature definition.
    pub kind: FeatureKind,
    /// Columns used.
    pub subcarriers: SubcarrierSelection,
    /// Receive chain (0-based).
    pub rx: usize,
    /// Transmit chain (0-based).
    pub tx: usize,
    /// Time constant of the running baseline of `amp_baseline_v1`, in frames (≥ 1).
    pub baseline_tau_frames: f64,
}

impl Default for FeatureConfig {
    fn default() -> Self {
        FeatureConfig {
            kind: FeatureKind::default(),
            subcarriers: SubcarrierSelection::default(),
            rx: 0,
            tx: 0,
            baseline_tau_frames: 32.0,
        }
    }
}

/// Most columns a feature vector may have (bounds memory whatever the input says).
pub const MAX_DIM: usize = 4096;

impl FeatureConfig {
    /// Checks every value.
    pub fn validate(&self) -> Result<()> {
        if !(self.baseline_tau_frames >= 1.0 && self.baseline_tau_frames <= 1e9) {
            return Err(Error::config(
                "baseline_tau_frames",
                format!(
                    "must be in [1, 1e9] frames (got {})",
                    self.baseline_tau_frames
                ),
            ));
        }
        if let SubcarrierSelection::Columns(c) = &self.subcarriers {
            if c.is_empty() || c.len() > MAX_DIM {
                return Err(Error::config(
                    "subcarriers",
                    format!("needs 1..={MAX_DIM} columns (got {})", c.len()),
                ));
            }
        }
        Ok(())
    }
}

/// Turns frames into feature vectors (one extractor per node: it holds the baseline).
///
/// ```
/// use wifi_sensing_core::sim::{DeviceProfile, Scenario, Simulator};
/// use wifi_sensing_introspect::features::{FeatureConfig, FeatureExtractor};
/// let mut sim = Simulator::new(Scenario::preset("walk", 1.0)?, DeviceProfile::esp32(), 1)?;
/// let mut fx = FeatureExtractor::new(FeatureConfig::default())?;
/// let (frame, _) = sim.next().unwrap();
/// let x = fx.extract(&frame)?;
/// assert_eq!(x.len(), 52); // the 52 active subcarriers of an ESP32 HT20 frame
/// assert!(fx.scalar() > 0.0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct FeatureExtractor {
    cfg: FeatureConfig,
    columns: Option<Vec<usize>>,
    n_columns: usize,
    out: Vec<f32>,
    baseline: Vec<f64>,
    scalar: f64,
    frames: u64,
    /// `motion_lags_v1` state.
    motion: MotionState,
}

/// Lags of `motion_lags_v1`, frames.
pub const MOTION_LAGS: [usize; 6] = [1, 2, 4, 8, 16, 32];
/// Frames of the short-time Doppler window of `motion_doppler_v1`.
pub const DOPPLER_WINDOW: usize = 8;
/// Doppler bins of `motion_doppler_v1` (`1..=DOPPLER_WINDOW / 2`).
pub const DOPPLER_BINS: usize = DOPPLER_WINDOW / 2;
/// Values of the `motion_*` kinds at most.
const MOTION_DIM: usize = MOTION_LAGS.len() + DOPPLER_BINS;
/// Levels held for `motion_lags_v1` (the longest lag plus the current frame).
const LEVEL_HISTORY: usize = 33;
/// Weight of a new noise estimate in the running mean.
const NOISE_WEIGHT: f64 = 0.02;
/// A one-frame level jump of more than this many noise deviations out of stillness is a gain
/// step.
const GAIN_STEP_Z: f64 = 10.0;
/// Quiet frames (within `QUIET_Z`) needed before a jump counts as a gain step.
const GAIN_STEP_QUIET: usize = 8;
/// A frame is quiet when its level is within this many noise deviations of the previous one.
const QUIET_Z: f64 = 3.0;

/// State of `motion_lags_v1` (see the module docs).
#[derive(Clone, Debug)]
struct MotionState {
    prev: Vec<f32>,
    levels: [f64; LEVEL_HISTORY],
    head: usize,
    seen: usize,
    noise: f64,
    offset: f64,
    quiet: usize,
    out: [f32; MOTION_DIM],
}

impl Default for MotionState {
    fn default() -> Self {
        MotionState {
            prev: Vec::new(),
            levels: [0.0; LEVEL_HISTORY],
            head: 0,
            seen: 0,
            noise: 0.0,
            offset: 0.0,
            quiet: 0,
            out: [0.0; MOTION_DIM],
        }
    }
}

impl MotionState {
    fn reset(&mut self) {
        self.prev.clear();
        self.head = 0;
        self.seen = 0;
        self.noise = 0.0;
        self.offset = 0.0;
        self.quiet = 0;
    }

    /// Updates with the profile `p` and mean amplitude `mean`; the six lag values go to `out`,
    /// and with `doppler` the Doppler bins after them.
    fn push(&mut self, p: &[f32], mean: f64, doppler: bool) {
        let d = p.len();
        if self.prev.len() == d {
            let mut den = 0.0f64;
            if d >= 3 {
                let diff = |k: usize| f64::from(p[k]) - f64::from(self.prev[k]);
                let (mut a, mut b) = (diff(0), diff(1));
                for k in 2..d {
                    let c = diff(k);
                    let e = a - 2.0 * b + c;
                    den += e * e;
                    a = b;
                    b = c;
                }
                den /= 6.0 * (d * (d - 2)) as f64;
            } else {
                den = p
                    .iter()
                    .zip(&self.prev)
                    .map(|(a, b)| (f64::from(*a) - f64::from(*b)).powi(2))
                    .sum::<f64>()
                    / (d * d) as f64;
            }
            if den.is_finite() {
                self.noise = if self.seen <= 1 {
                    den
                } else {
                    self.noise + NOISE_WEIGHT * (den - self.noise)
                };
            }
        }
        self.prev.clear();
        self.prev.extend_from_slice(p);
        let sd = self.noise.sqrt().max(1e-12);
        let mut c = mean.ln() - self.offset;
        if self.seen > 0 {
            let last = self.levels[self.head];
            let z1 = (c - last) / sd;
            if z1.abs() > GAIN_STEP_Z && self.quiet >= GAIN_STEP_QUIET {
                self.offset += c - last;
                c = last;
            }
            if ((c - last) / sd).abs() < QUIET_Z {
                self.quiet += 1;
            } else {
                self.quiet = 0;
            }
        }
        self.head = (self.head + 1) % LEVEL_HISTORY;
        self.levels[self.head] = c;
        self.seen = self.seen.saturating_add(1);
        for (o, &lag) in self.out.iter_mut().zip(&MOTION_LAGS) {
            *o = if self.seen > lag {
                let then = self.levels[(self.head + LEVEL_HISTORY - lag) % LEVEL_HISTORY];
                let z = (c - then) / sd;
                (1.0 + z * z).ln() as f32
            } else {
                0.0
            };
        }
        if doppler {
            self.doppler();
        }
    }

    /// The Doppler bins of `motion_doppler_v1` (see the module docs) into `out[6..]`.
    fn doppler(&mut self) {
        let bins = &mut self.out[MOTION_LAGS.len()..];
        if self.seen <= DOPPLER_WINDOW {
            bins.fill(0.0);
            return;
        }
        let level = |back: usize| self.levels[(self.head + LEVEL_HISTORY - back) % LEVEL_HISTORY];
        let w = DOPPLER_WINDOW as f64;
        for (m, o) in bins.iter_mut().enumerate() {
            let step = std::f64::consts::TAU * (m + 1) as f64 / w;
            let (mut re, mut im) = (0.0f64, 0.0f64);
            for n in 0..DOPPLER_WINDOW {
                let d = level(n) - level(n + 1);
                let (s, c) = (step * n as f64).sin_cos();
                re += d * c;
                im -= d * s;
            }
            let expected = self.noise.max(1e-24) * (w - (w - 1.0) * step.cos());
            *o = (1.0 + (re * re + im * im) / expected).ln() as f32;
        }
    }
}

/// The active columns of a frame (see the module docs).
pub fn active_columns(frame: &CsiFrame) -> Vec<usize> {
    let n = frame.n_subcarriers();
    match &frame.subcarriers {
        Some(idx) if idx.len() == n => {
            let keep = |k: i16| {
                let a = k.unsigned_abs();
                match n {
                    64 => (1..=26).contains(&a),
                    128 => (2..=58).contains(&a),
                    256 => (2..=122).contains(&a),
                    _ => a != 0,
                }
            };
            (0..n).filter(|&c| keep(idx[c])).collect()
        }
        _ => (0..n).collect(),
    }
}

impl FeatureExtractor {
    /// An extractor with these settings (validated).
    pub fn new(cfg: FeatureConfig) -> Result<Self> {
        cfg.validate()?;
        Ok(FeatureExtractor {
            cfg,
            columns: None,
            n_columns: 0,
            out: Vec::new(),
            baseline: Vec::new(),
            scalar: 0.0,
            frames: 0,
            motion: MotionState::default(),
        })
    }

    /// The settings.
    pub fn config(&self) -> &FeatureConfig {
        &self.cfg
    }

    /// The feature dimension, once the first frame fixed it.
    pub fn dim(&self) -> Option<usize> {
        let cols = self.columns.as_ref()?;
        Some(self.cfg.kind.fixed_dim().unwrap_or(cols.len()))
    }

    /// Scalar summary of the last accepted frame (mean amplitude of the selected columns).
    pub fn scalar(&self) -> f64 {
        self.scalar
    }

    /// Frames accepted so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Forgets the baseline and the column choice.
    pub fn reset(&mut self) {
        self.columns = None;
        self.baseline.clear();
        self.frames = 0;
        self.scalar = 0.0;
        self.motion.reset();
    }

    /// The feature vector of `frame` (valid until the next call). Refuses a frame without the
    /// configured chain or columns, a frame whose column count differs from the first one, and
    /// a frame with no usable amplitude; the state is then unchanged.
    pub fn extract(&mut self, frame: &CsiFrame) -> Result<&[f32]> {
        let (n_rx, n_tx, n_sc) = frame.shape();
        if self.cfg.rx >= n_rx || self.cfg.tx >= n_tx {
            return Err(Error::InvalidInput(format!(
                "frame has {n_rx} rx x {n_tx} tx chains; features use rx {} tx {}",
                self.cfg.rx, self.cfg.tx
            )));
        }
        if self.columns.is_none() {
            let cols = match &self.cfg.subcarriers {
                SubcarrierSelection::Active => active_columns(frame),
                SubcarrierSelection::Columns(c) => c.clone(),
            };
            if let Some(&c) = cols.iter().find(|&&c| c >= n_sc) {
                return Err(Error::InvalidInput(format!(
                    "column {c} selected but the frame has {n_sc} columns"
                )));
            }
            if cols.is_empty() || cols.len() > MAX_DIM {
                return Err(Error::InvalidInput(format!(
                    "{} feature columns (need 1..={MAX_DIM})",
                    cols.len()
                )));
            }
            self.out = vec![0.0; cols.len()];
            self.n_columns = n_sc;
            self.columns = Some(cols);
        } else if n_sc != self.n_columns {
            return Err(Error::InvalidInput(format!(
                "frame has {n_sc} columns, the stream started with {}",
                self.n_columns
            )));
        }
        let cols = self.columns.as_deref().unwrap_or(&[]);
        let (rx, tx) = (self.cfg.rx, self.cfg.tx);
        let mut sum = 0.0f64;
        for (o, &c) in self.out.iter_mut().zip(cols) {
            let a = frame.csi[[rx, tx, c]].norm();
            *o = a;
            sum += a as f64;
        }
        let mean = sum / cols.len() as f64;
        if !(mean.is_finite() && mean > 0.0) {
            return Err(Error::InvalidInput(
                "no usable amplitude in the selected columns".into(),
            ));
        }
        let inv = (1.0 / mean) as f32;
        for o in self.out.iter_mut() {
            *o *= inv;
        }
        if self.cfg.kind.is_motion() {
            let doppler = self.cfg.kind == FeatureKind::MotionDopplerV1;
            self.motion.push(&self.out, mean, doppler);
        } else if self.cfg.kind != FeatureKind::AmpNormV1 {
            if self.baseline.len() != self.out.len() {
                self.baseline = self.out.iter().map(|&v| v as f64).collect();
            }
            let alpha = 1.0 / self.cfg.baseline_tau_frames;
            for (o, b) in self.out.iter_mut().zip(self.baseline.iter_mut()) {
                let s = *o as f64;
                // A column that is zero in the baseline (a dead subcarrier) contributes 0.
                *o = if *b > 1e-9 {
                    (s / *b - 1.0) as f32
                } else {
                    0.0
                };
                *b += alpha * (s - *b);
            }
            if self.cfg.kind == FeatureKind::AmpDevSortedV1 {
                for o in self.out.iter_mut() {
                    *o = o.abs();
                }
                self.out.sort_unstable_by(|a, b| b.total_cmp(a));
            }
        }
        self.scalar = mean;
        self.frames += 1;
        if let Some(d) = self.cfg.kind.fixed_dim() {
            return Ok(&self.motion.out[..d]);
        }
        Ok(&self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wifi_sensing_core::sim::{DeviceProfile, Scenario, Simulator};

    #[test]
    fn kinds_parse_and_refuse_unknown() {
        for k in FeatureKind::ALL {
            assert_eq!(k.name().parse::<FeatureKind>().unwrap(), k);
        }
        let e = "amp_v9".parse::<FeatureKind>().unwrap_err().to_string();
        assert!(e.contains("amp_v9") && e.contains("amp_norm_v1"), "{e}");
    }

    #[test]
    fn gain_invariant_and_still_room_is_quiet() {
        let mut sim = Simulator::new(
            Scenario::preset("empty", 2.0).unwrap(),
            DeviceProfile::esp32(),
            3,
        )
        .unwrap();
        let mut a = FeatureExtractor::new(FeatureConfig {
            kind: FeatureKind::AmpNormV1,
            ..FeatureConfig::default()
        })
        .unwrap();
        let mut b = a.clone();
        let mut base = FeatureExtractor::new(FeatureConfig::default()).unwrap();
        let mut energy = 0.0f64;
        let mut n = 0;
        for (frame, _) in sim.by_ref().take(150) {
            let mut scaled = frame.clone();
            scaled.csi.mapv_inplace(|c| c * 3.0);
            let xa = a.extract(&frame).unwrap().to_vec();
            let xb = b.extract(&scaled).unwrap();
            for (p, q) in xa.iter().zip(xb) {
                assert!((p - q).abs() < 1e-5);
            }
            let x = base.extract(&frame).unwrap();
            energy += x.iter().map(|v| (*v as f64).powi(2)).sum::<f64>();
            n += x.len();
        }
        // An empty room: the profile stays within a few percent of its baseline.
        assert!(
            (energy / n as f64).sqrt() < 0.05,
            "rms {}",
            (energy / n as f64).sqrt()
        );
    }

    fn motion_features(preset: &str, seed: u64, gain_step_at: Option<usize>) -> Vec<Vec<f32>> {
        let sim = Simulator::new(
            Scenario::preset(preset, 8.0).unwrap(),
            DeviceProfile::esp32(),
            seed,
        )
        .unwrap();
        let mut fx = FeatureExtractor::new(FeatureConfig {
            kind: FeatureKind::MotionLagsV1,
            ..FeatureConfig::default()
        })
        .unwrap();
        sim.enumerate()
            .map(|(i, (mut frame, _))| {
                if gain_step_at.is_some_and(|g| i >= g) {
                    frame.csi.mapv_inplace(|c| c * 1.5);
                }
                let x = fx.extract(&frame).unwrap().to_vec();
                assert_eq!(x.len(), MOTION_LAGS.len());
                assert_eq!(fx.dim(), Some(MOTION_LAGS.len()));
                x
            })
            .collect()
    }

    fn mean_lag(x: &[Vec<f32>], lag: usize) -> f64 {
        let v: Vec<f64> = x[40..].iter().map(|r| f64::from(r[lag])).collect();
        v.iter().sum::<f64>() / v.len() as f64
    }

    #[test]
    fn motion_lags_are_small_when_still_and_large_when_walking() {
        for seed in [3, 4] {
            let empty = motion_features("empty", seed, None);
            let walk = motion_features("walk", seed, None);
            for lag in 0..MOTION_LAGS.len() {
                // Receiver noise alone: ln(1 + chi2_1) averages about 0.6.
                assert!(
                    mean_lag(&empty, lag) < 1.5,
                    "empty lag {lag}: {}",
                    mean_lag(&empty, lag)
                );
            }
            // Walking moves the level by many noise deviations at the longer lags.
            assert!(mean_lag(&walk, 3) > 3.0, "walk: {}", mean_lag(&walk, 3));
        }
    }

    #[test]
    fn motion_doppler_extends_motion_lags_and_is_at_noise_level_when_still() {
        let run = |preset: &str, kind: FeatureKind| -> Vec<Vec<f32>> {
            let sim = Simulator::new(
                Scenario::preset(preset, 8.0).unwrap(),
                DeviceProfile::esp32(),
                11,
            )
            .unwrap();
            let mut fx = FeatureExtractor::new(FeatureConfig {
                kind,
                ..FeatureConfig::default()
            })
            .unwrap();
            sim.map(|(f, _)| fx.extract(&f).unwrap().to_vec()).collect()
        };
        let lags = run("walk", FeatureKind::MotionLagsV1);
        let dop = run("walk", FeatureKind::MotionDopplerV1);
        assert_eq!(dop[0].len(), 10);
        assert_eq!(FeatureKind::MotionDopplerV1.fixed_dim(), Some(10));
        for (a, b) in lags.iter().zip(&dop) {
            assert_eq!(a[..], b[..6]);
        }
        // Before the window is full: zeros.
        assert!(dop[..DOPPLER_WINDOW]
            .iter()
            .all(|x| x[6..].iter().all(|&v| v == 0.0)));
        let mean_bins = |x: &[Vec<f32>]| -> f64 {
            let v: Vec<f64> = x[40..]
                .iter()
                .flat_map(|r| r[6..].iter().map(|&v| f64::from(v)))
                .collect();
            v.iter().sum::<f64>() / v.len() as f64
        };
        // Receiver noise alone: |X|² / E is about exponential with mean 1, ln(1 + ·) ≈ 0.6.
        let still = mean_bins(&run("empty", FeatureKind::MotionDopplerV1));
        assert!((0.3..1.0).contains(&still), "empty: {still}");
        let walk = mean_bins(&dop);
        assert!(walk > still + 1.0, "walk {walk}, empty {still}");
    }

    #[test]
    fn motion_lags_ignore_a_gain_step_out_of_stillness() {
        // Without the compensation the step would give z ≈ ln 1.5 / σ, tens of deviations, at
        // every lag for up to 32 frames; with it the values stay at the noise level (z < 12).
        let plain = motion_features("empty", 5, None);
        let stepped = motion_features("empty", 5, Some(200));
        for (i, (a, b)) in plain.iter().zip(&stepped).enumerate() {
            let top = b.iter().fold(0.0f32, |m, v| m.max(*v));
            assert!(top < 5.0, "frame {i}: {a:?} vs {b:?}");
        }
    }

    #[test]
    fn motion_lags_with_few_columns() {
        for cols in [vec![0usize], vec![0, 1], vec![0, 1, 2, 3]] {
            let mut fx = FeatureExtractor::new(FeatureConfig {
                kind: FeatureKind::MotionLagsV1,
                subcarriers: SubcarrierSelection::Columns(cols),
                ..FeatureConfig::default()
            })
            .unwrap();
            let mut g = 1u32;
            for _ in 0..50 {
                let mut f = CsiFrame::new(
                    wifi_sensing_core::CaptureFormat::Simulated,
                    wifi_sensing_core::Device::Simulator,
                    ndarray::Array3::zeros((1, 1, 8)),
                );
                for c in f.csi.iter_mut() {
                    g = g.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    *c = num_complex::Complex32::new(1.0 + (g >> 16) as f32 / 65536.0, 0.0);
                }
                let x = fx.extract(&f).unwrap();
                assert_eq!(x.len(), 6);
                assert!(x.iter().all(|v| v.is_finite() && *v >= 0.0));
            }
        }
    }

    #[test]
    fn bad_frames_are_refused_not_panicking() {
        let mut fx = FeatureExtractor::new(FeatureConfig::default()).unwrap();
        let zero = CsiFrame::new(
            wifi_sensing_core::CaptureFormat::Simulated,
            wifi_sensing_core::Device::Simulator,
            ndarray::Array3::zeros((1, 1, 8)),
        );
        assert!(fx.extract(&zero).is_err());
        let mut nan = zero.clone();
        nan.csi[[0, 0, 1]] = num_complex::Complex32::new(f32::NAN, 0.0);
        assert!(fx.extract(&nan).is_err());
        let mut ok = zero.clone();
        ok.csi.fill(num_complex::Complex32::new(1.0, 0.0));
        assert_eq!(fx.extract(&ok).unwrap().len(), 8);
        let wider = CsiFrame::new(
            wifi_sensing_core::CaptureFormat::Simulated,
            wifi_sensing_core::Device::Simulator,
            ndarray::Array3::from_elem((1, 1, 9), num_complex::Complex32::new(1.0, 0.0)),
        );
        assert!(fx
            .extract(&wider)
            .unwrap_err()
            .to_string()
            .contains("started with 8"));
        let mut fx = FeatureExtractor::new(FeatureConfig {
            rx: 2,
            ..FeatureConfig::default()
        })
        .unwrap();
        assert!(fx.extract(&ok).is_err());
        assert!(FeatureExtractor::new(FeatureConfig {
            baseline_tau_frames: f64::NAN,
            ..FeatureConfig::default()
        })
        .is_err());
    }
}
