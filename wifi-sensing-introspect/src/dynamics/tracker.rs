//! The streaming tracker: a bounded sliding window, a change-point detector run every few
//! frames, and the regime classifier on the samples since the last change point.

use serde::{Deserialize, Serialize};

use super::kdtree::KdTree;
use super::numeric::mean_std;
use super::regime::{classify, median, quantile, unit, Analyser, Regime, RegimeThresholds};
use super::rosenstein::RosensteinParams;
use super::DynamicsError;

/// The reference's typical neighbour distance is estimated from up to 128 evenly spaced
/// vectors split into this many interleaved parts; each update refreshes one part (all of them
/// after a change point), so the estimate follows the reference without a costly update.
const TYPICAL_PARTS: usize = 4;
/// Classifications between two correlation-dimension estimates.
const DIM_EVERY: usize = 4;

/// Largest window accepted, frames.
pub const MAX_WINDOW: usize = 1 << 16;

/// Configuration of a [`DynamicsTracker`]. Lengths are in frames (one scalar per frame).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DynamicsConfig {
    /// Longest analysis window, frames (memory bound: a few buffers of this length).
    pub window: usize,
    /// Frames a segment needs before its regime is classified (`Unknown` before the first one,
    /// `Transient` after a change point).
    pub min_window: usize,
    /// Frames between two change-detection runs; `push` only stores the sample on the other
    /// frames.
    pub update_every: usize,
    /// Frames between two classifications (exponent, dimension, regime label); a multiple of
    /// `update_every` in effect (classification runs on an update frame).
    pub classify_every: usize,
    /// Embedding and Rosenstein parameters (exponent, noise floor, change detector); the
    /// exponent is per `tau` (default 1: per frame).
    pub rosenstein: RosensteinParams,
    /// Embedding dimension of the correlation-dimension estimate (0 = do not estimate). The
    /// estimate uses the newest `CORR_DIM_MAX_LEN` (256) frames of the segment: its cost grows with
    /// the square of the length.
    pub corr_dim_emb: usize,
    /// Classifier thresholds.
    pub thresholds: RegimeThresholds,
    /// Newest frames tested for novelty against the rest of the segment.
    pub change_block: usize,
    /// Smallest reference (older part of the segment) before changes are looked for, frames.
    pub change_min_reference: usize,
    /// A new embedding vector is novel when its distance to the nearest reference vector is
    /// more than this many times the 90th percentile of the within-reference leave-out
    /// neighbour distances.
    pub change_threshold: f64,
    /// Consecutive analyses that must agree before the label of a classified segment changes.
    pub label_hysteresis: usize,
    /// Work the classification (exponent, noise floor, periodicity, dimension) may do per
    /// frame, in units of about one nearest-neighbour search: a classification is spread over
    /// the frames that follow the update that starts it, so no frame carries it whole. 0 runs
    /// each classification to its end on the update frame (one costly frame in
    /// `classify_every`).
    pub work_per_frame: usize,
}

impl Default for DynamicsConfig {
    fn default() -> Self {
        Self {
            window: 512,
            min_window: 128,
            update_every: 8,
            classify_every: 32,
            rosenstein: RosensteinParams::default(),
            corr_dim_emb: 3,
            thresholds: RegimeThresholds::default(),
            change_block: 16,
            change_min_reference: 112,
            change_threshold: 2.0,
            label_hysteresis: 2,
            work_per_frame: 48,
        }
    }
}

impl DynamicsConfig {
    /// Checks every field; the error names the first one at fault.
    pub fn validate(&self) -> Result<(), DynamicsError> {
        self.rosenstein.validate()?;
        self.thresholds.validate()?;
        if self.rosenstein.trajectory_len < 2 {
            return Err(DynamicsError::invalid(
                "rosenstein.trajectory_len",
                "must be at least 2 for the tracker",
            ));
        }
        if self.window > MAX_WINDOW {
            return Err(DynamicsError::invalid("window", "must be at most 65536"));
        }
        let need = self.rosenstein.min_len().max(4 * super::regime::BLOCKS);
        if self.min_window < need {
            return Err(DynamicsError::invalid(
                "min_window",
                "too short for the Rosenstein parameters (needs emb span + trajectory_len + 2 min_tsep + 1, and 32)",
            ));
        }
        if self.window < self.min_window {
            return Err(DynamicsError::invalid("window", "must be >= min_window"));
        }
        if self.update_every == 0 || self.update_every > self.window {
            return Err(DynamicsError::invalid(
                "update_every",
                "must be in 1..=window",
            ));
        }
        if self.classify_every == 0 || self.classify_every > self.window {
            return Err(DynamicsError::invalid(
                "classify_every",
                "must be in 1..=window",
            ));
        }
        if self.corr_dim_emb > super::rosenstein::MAX_EMB_DIM {
            return Err(DynamicsError::invalid("corr_dim_emb", "must be at most 64"));
        }
        if self.change_block < 4 || self.change_block > self.window / 2 {
            return Err(DynamicsError::invalid(
                "change_block",
                "must be in 4..=window/2",
            ));
        }
        let span = self.rosenstein.emb_dim * self.rosenstein.lag;
        if self.change_min_reference < 2 * self.rosenstein.min_tsep + span + 4
            || self.change_min_reference + self.change_block > self.window
        {
            return Err(DynamicsError::invalid(
                "change_min_reference",
                "must exceed 2 min_tsep + emb_dim * lag + 4 and leave change_block within window",
            ));
        }
        if !(self.change_threshold.is_finite() && self.change_threshold > 0.0) {
            return Err(DynamicsError::invalid(
                "change_threshold",
                "must be finite and > 0",
            ));
        }
        if self.label_hysteresis == 0 || self.label_hysteresis > 64 {
            return Err(DynamicsError::invalid(
                "label_hysteresis",
                "must be in 1..=64",
            ));
        }
        Ok(())
    }
}

/// What the tracker knows after a frame.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct DynamicsState {
    /// Current regime.
    pub regime: Regime,
    /// True on the frame where a change point was detected (the newest frames are novel with
    /// respect to the current segment). Label revisions of a classified segment and the first
    /// classification after a change point do not set it.
    pub regime_changed: bool,
    /// Largest Lyapunov exponent of the current segment (Rosenstein), per `tau`; `None` while
    /// warming up or when not finite (an exactly periodic orbit gives `-inf`).
    pub lyapunov_exponent: Option<f64>,
    /// Correlation dimension of the current segment; `None` while warming up or undefined.
    pub attractor_dim: Option<f64>,
    /// Confidence in `regime` in [0, 1] (a heuristic margin, 0 while warming up).
    pub confidence: f64,
}

impl Default for DynamicsState {
    fn default() -> Self {
        Self {
            regime: Regime::Unknown,
            regime_changed: false,
            lyapunov_exponent: None,
            attractor_dim: None,
            confidence: 0.0,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Warming,
    AfterChange,
    Classified,
}

/// Streaming dynamics of one scalar stream (one per node).
///
/// Memory is bounded by the window; `push` stores the sample and every `update_every` frames
/// runs the analysis (change detection on the newest `change_block` frames, then, once the
/// current segment holds `min_window` frames, the classifier, the exponent and the dimension).
/// No allocation happens after the buffers have grown to the window size.
///
/// ```
/// use wifi_sensing_introspect::dynamics::{DynamicsConfig, DynamicsTracker, Regime};
/// let mut t = DynamicsTracker::new(DynamicsConfig::default())?;
/// let mut v = 0.2;
/// for _ in 0..400 {
///     v = 4.0 * v * (1.0 - v);
///     t.push(v);
/// }
/// assert_eq!(t.state().regime, Regime::Chaotic);
/// assert!(t.state().lyapunov_exponent.unwrap() > 0.3);
/// # Ok::<(), wifi_sensing_introspect::dynamics::DynamicsError>(())
/// ```
#[derive(Clone, Debug)]
pub struct DynamicsTracker {
    cfg: DynamicsConfig,
    ring: Vec<f64>,
    head: usize,
    filled: usize,
    seg_len: usize,
    since_update: usize,
    since_classify: usize,
    /// Whether the parts of the typical-distance sample are valid, and updates since a change.
    typical: Option<(f64, usize)>,
    /// The reference's leave-out neighbour distances, in `TYPICAL_PARTS` interleaved parts.
    typical_parts: [Vec<f64>; TYPICAL_PARTS],
    /// A classification to start on the next frame (with the dimension or not).
    job_start: Option<bool>,
    /// Whether the classification in progress estimates the dimension.
    job_dim: bool,
    /// Classifications since the correlation dimension was last estimated.
    dim_age: usize,
    frames: u64,
    skipped: u64,
    phase: Phase,
    pending: Option<(Regime, usize)>,
    state: DynamicsState,
    buf: Vec<f64>,
    analyser: Analyser,
    emb: Vec<f64>,
    tree: KdTree,
    scratch: Vec<f64>,
    scores: Vec<f64>,
}

impl DynamicsTracker {
    /// New tracker; validates `cfg`.
    pub fn new(cfg: DynamicsConfig) -> Result<Self, DynamicsError> {
        cfg.validate()?;
        let analyser = Analyser::new(cfg.rosenstein, cfg.corr_dim_emb.max(1))?;
        Ok(Self {
            ring: vec![0.0; cfg.window],
            head: 0,
            filled: 0,
            seg_len: 0,
            since_update: 0,
            since_classify: 0,
            typical: None,
            typical_parts: std::array::from_fn(|_| Vec::with_capacity(128 / TYPICAL_PARTS + 1)),
            job_start: None,
            job_dim: false,
            dim_age: 0,
            frames: 0,
            skipped: 0,
            phase: Phase::Warming,
            pending: None,
            state: DynamicsState::default(),
            buf: Vec::with_capacity(cfg.window),
            analyser,
            emb: Vec::with_capacity(cfg.window * (cfg.rosenstein.emb_dim + 1)),
            tree: KdTree::default(),
            scratch: Vec::with_capacity(cfg.window),
            scores: Vec::with_capacity(cfg.change_block),
            cfg,
        })
    }

    /// The configuration in use.
    pub fn config(&self) -> &DynamicsConfig {
        &self.cfg
    }

    /// Adds one sample and returns the state. Non-finite samples are skipped (counted in
    /// [`skipped`](Self::skipped)) and leave the state unchanged except `regime_changed`.
    pub fn push(&mut self, x: f64) -> &DynamicsState {
        self.state.regime_changed = false;
        if !x.is_finite() {
            self.skipped += 1;
            return &self.state;
        }
        self.frames += 1;
        self.ring[self.head] = x;
        self.head = (self.head + 1) % self.cfg.window;
        self.filled = (self.filled + 1).min(self.cfg.window);
        self.seg_len = (self.seg_len + 1).min(self.cfg.window);
        self.since_update += 1;
        self.since_classify += 1;
        let mut did_update = false;
        if self.since_update >= self.cfg.update_every {
            self.since_update = 0;
            self.update();
            did_update = true;
        }
        // The classification steps run on the frames between updates (every frame when every
        // frame is an update, or when the work is not spread).
        if !did_update || self.cfg.update_every == 1 || self.cfg.work_per_frame == 0 {
            self.work();
        }
        &self.state
    }

    /// Starts a scheduled classification, or advances the one in progress by the frame's work
    /// budget, and applies its result when it completes.
    fn work(&mut self) {
        let unlimited = self.cfg.work_per_frame == 0;
        if let Some(with_dim) = self.job_start.take() {
            self.job_dim = with_dim;
            match self.analyser.begin(&self.buf, with_dim) {
                Ok(Some(f)) => return self.apply(&f),
                Ok(None) => {}
                Err(_) => return,
            }
            if !unlimited {
                // Starting costs an embedding and an index build: that is this frame's work.
                return;
            }
        }
        let mut budget = if unlimited {
            usize::MAX
        } else {
            self.cfg.work_per_frame
        };
        if let Some(Ok(f)) = self.analyser.step(&mut budget) {
            self.apply(&f);
        }
    }

    /// Applies the features of a finished classification.
    fn apply(&mut self, f: &super::regime::WindowFeatures) {
        let (c, conf) = classify(f, &self.cfg.thresholds);
        self.state.lyapunov_exponent = f.lyapunov;
        if self.job_dim {
            self.state.attractor_dim = f.attractor_dim;
            self.dim_age = 0;
        } else {
            self.dim_age += 1;
        }
        match self.phase {
            Phase::Warming | Phase::AfterChange => {
                self.phase = Phase::Classified;
                self.state.regime = c;
                self.state.confidence = conf;
                self.pending = None;
            }
            Phase::Classified => {
                if c == self.state.regime {
                    self.pending = None;
                    self.state.confidence = conf;
                } else {
                    let count = match self.pending {
                        Some((p, k)) if p == c => k + 1,
                        _ => 1,
                    };
                    if count >= self.cfg.label_hysteresis {
                        self.state.regime = c;
                        self.state.confidence = conf;
                        self.pending = None;
                    } else {
                        self.pending = Some((c, count));
                    }
                }
            }
        }
    }

    /// The state after the last frame.
    pub fn state(&self) -> &DynamicsState {
        &self.state
    }

    /// Frames accepted since creation or the last reset.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Non-finite samples skipped since creation or the last reset.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// Frames in the current segment (since the last change point, at most `window`).
    pub fn segment_len(&self) -> usize {
        self.seg_len
    }

    /// Forgets every sample and returns to `Unknown` (buffers are kept).
    pub fn reset(&mut self) {
        self.head = 0;
        self.filled = 0;
        self.seg_len = 0;
        self.since_update = 0;
        self.since_classify = 0;
        self.typical = None;
        self.job_start = None;
        self.analyser.abort();
        self.dim_age = 0;
        self.frames = 0;
        self.skipped = 0;
        self.phase = Phase::Warming;
        self.pending = None;
        self.state = DynamicsState::default();
    }

    fn update(&mut self) {
        // Copy the current segment, oldest first.
        let w = self.cfg.window;
        let n = self.seg_len;
        self.buf.clear();
        let start = (self.head + w - n) % w;
        for k in 0..n {
            self.buf.push(self.ring[(start + k) % w]);
        }
        // Every test below is scale-invariant: divide by the largest magnitude so that huge
        // inputs cannot overflow.
        let amax = self.buf.iter().fold(0.0f64, |a, v| a.max(v.abs()));
        if amax > 0.0 {
            for v in self.buf.iter_mut() {
                *v /= amax;
            }
        }
        if n >= self.cfg.change_min_reference + self.cfg.change_block {
            if let Some((cut, score)) = self.detect_change() {
                self.seg_len = n - cut;
                self.typical = None;
                self.job_start = None;
                self.analyser.abort();
                self.phase = Phase::AfterChange;
                self.pending = None;
                self.state = DynamicsState {
                    regime: Regime::Transient,
                    regime_changed: true,
                    lyapunov_exponent: None,
                    attractor_dim: None,
                    confidence: unit(score / (1.0 + score)),
                };
                return;
            }
        }
        if n < self.cfg.min_window {
            return;
        }
        // Classify as soon as a new segment is long enough, then every `classify_every` frames
        // (once the previous classification has finished).
        if self.phase == Phase::Classified && self.since_classify < self.cfg.classify_every {
            return;
        }
        if self.analyser.busy() || self.job_start.is_some() {
            return;
        }
        self.since_classify = 0;
        // The dimension is the costliest estimate: every 4th classification, and on the first
        // one of a segment.
        let with_dim = self.cfg.corr_dim_emb > 0
            && (self.phase != Phase::Classified || self.dim_age >= DIM_EVERY - 1);
        self.job_start = Some(with_dim);
    }

    /// Novelty of the newest `change_block` frames with respect to the older part of the
    /// segment: each new embedding vector (dimension `emb_dim + 1`, so it holds its successor)
    /// is scored by its distance to the nearest reference vector over the median
    /// leave-one-out neighbour distance within the reference (floored at 1e-3 reference
    /// standard deviations). A change is declared when at least 6 of the newest 8 scores exceed
    /// `change_threshold`; it starts at the earliest novel vector after which at least 3/4 are
    /// novel. Returns the cut (index in `buf` of the first frame of the new segment) and the
    /// median score of the newest 8.
    fn detect_change(&mut self) -> Option<(usize, f64)> {
        let p = self.cfg.rosenstein;
        let m = p.emb_dim + 1;
        let span = (m - 1) * p.lag;
        let n = self.buf.len();
        let s = self.cfg.change_block;
        if n < span + s + 2 * p.min_tsep + 4 {
            return None;
        }
        let nvec = n - span;
        // Vectors in a difference basis (level, first, second, ... difference at `lag`), each
        // coordinate divided by its spread over the reference vectors: a smooth reference then
        // gets small scales for its differences, so a rough newcomer (noise) is far away even
        // when its level sits inside the reference's range.
        self.emb.clear();
        for t in 0..nvec {
            for k in 0..m {
                self.emb.push(self.buf[t + k * p.lag]);
            }
            let row = &mut self.emb[t * m..(t + 1) * m];
            for order in 1..m {
                for k in (order..m).rev() {
                    row[k] -= row[k - 1];
                }
            }
        }
        let nref = n - s - span;
        let mut centre = [0.0f64; super::rosenstein::MAX_EMB_DIM + 1];
        let mut scale = [0.0f64; super::rosenstein::MAX_EMB_DIM + 1];
        let nf = nref as f64;
        let mut magnitude = 0.0f64;
        for k in 0..m {
            let mean = (0..nref).map(|t| self.emb[t * m + k]).sum::<f64>() / nf;
            let var = (0..nref)
                .map(|t| (self.emb[t * m + k] - mean).powi(2))
                .sum::<f64>()
                / nf;
            centre[k] = mean;
            scale[k] = var.sqrt();
            magnitude = magnitude.max(mean.abs());
        }
        // Coordinates without spread in the reference get a floor relative to the level's
        // spread and magnitude, so any real departure from a constant reference is novel.
        let floor = (1e-6 * scale[0]).max(1e-12 * magnitude).max(1e-300);
        for t in 0..nvec {
            for k in 0..m {
                let v = &mut self.emb[t * m + k];
                *v = (*v - centre[k]) / scale[k].max(floor);
            }
        }
        self.tree.build(&self.emb, m, nref);
        let tsep = p.min_tsep;
        // The reference's own leave-out neighbour distances, from at most ~128 evenly spaced
        // vectors in `TYPICAL_PARTS` interleaved parts: one part per update (every part after a
        // change point), so no update pays for all of them.
        let stride = nref.div_ceil(128).max(1);
        let parts = match self.typical {
            Some((_, age)) => {
                let q = age % TYPICAL_PARTS;
                q..q + 1
            }
            None => 0..TYPICAL_PARTS,
        };
        for q in parts {
            let out = &mut self.typical_parts[q];
            out.clear();
            for i in (q * stride..nref).step_by(TYPICAL_PARTS * stride) {
                let v = &self.emb[i * m..(i + 1) * m];
                if let Some((_, d)) = self.tree.nearest(&self.emb, v, |j| j.abs_diff(i) > tsep) {
                    out.push(d);
                }
            }
        }
        self.scratch.clear();
        for part in &self.typical_parts {
            self.scratch.extend_from_slice(part);
        }
        let typical = quantile(&mut self.scratch, 0.9).max(1e-3);
        let age = self.typical.map_or(0, |(_, a)| a + 1);
        self.typical = Some((typical, age));
        self.scores.clear();
        for t in nref..nvec {
            let q = &self.emb[t * m..(t + 1) * m];
            let d = self
                .tree
                .nearest(&self.emb, q, |j| j.abs_diff(t) > tsep)
                .map_or(f64::INFINITY, |(_, d)| d);
            let score = if typical > 0.0 {
                d / typical
            } else if d > 0.0 {
                f64::INFINITY
            } else {
                0.0
            };
            self.scores.push(score);
        }
        let k = self.scores.len();
        let newest = &self.scores[k.saturating_sub(8)..];
        let thr = self.cfg.change_threshold;
        let novel = newest.iter().filter(|&&u| u > thr).count();
        if novel * 4 < newest.len() * 3 {
            return self.spread_change(n - s);
        }
        // Onset: earliest novel vector after which at least 3/4 of the vectors are novel.
        let mut onset = k - 1;
        let mut count = 0usize;
        for t in (0..k).rev() {
            if self.scores[t] > thr {
                count += 1;
            }
            let len = k - t;
            if self.scores[t] > thr && count * 4 >= len * 3 {
                onset = t;
            }
        }
        let mut tail = [0.0f64; 8];
        let tl = newest.len();
        tail[..tl].copy_from_slice(newest);
        let med = median(&mut tail[..tl]);
        let cut = (nref + onset + span).min(n - 1);
        Some((cut, med))
    }

    /// Spread test: the standard deviation of the newest frames against those of every run of
    /// the same length in the reference (`buf[..nref_end]`, stride 2). A change when the newest
    /// 8 frames spread more than `SPREAD_FACTOR` times the largest 8-frame spread of the
    /// reference, or the newest 20 frames less than the smallest 20-frame spread over
    /// `SPREAD_FACTOR`. Catches a switch to or from a quiet regime whose levels sit inside the
    /// reference's range (which the neighbour test cannot see). The cut is the first frame of
    /// the run tested.
    fn spread_change(&self, nref_end: usize) -> Option<(usize, f64)> {
        const UP_BLOCK: usize = 8;
        const DOWN_BLOCK: usize = 20;
        const SPREAD_FACTOR: f64 = 2.0;
        let n = self.buf.len();
        let range = |len: usize| {
            let (mut lo, mut hi) = (f64::INFINITY, 0.0f64);
            let mut i = 0;
            while i + len <= nref_end {
                let (_, s) = mean_std(&self.buf[i..i + len]);
                lo = lo.min(s);
                hi = hi.max(s);
                i += 2;
            }
            (lo, hi)
        };
        if nref_end < 2 * DOWN_BLOCK {
            return None;
        }
        let (_, s_up) = mean_std(&self.buf[n - UP_BLOCK..]);
        let (_, hi) = range(UP_BLOCK);
        if s_up > SPREAD_FACTOR * hi {
            return Some((n - UP_BLOCK, (s_up / hi.max(f64::MIN_POSITIVE)).min(1e300)));
        }
        let (_, s_down) = mean_std(&self.buf[n - DOWN_BLOCK..]);
        let (lo, _) = range(DOWN_BLOCK);
        if s_down * SPREAD_FACTOR < lo {
            return Some((
                n - DOWN_BLOCK,
                (lo / s_down.max(f64::MIN_POSITIVE)).min(1e300),
            ));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn capacity_sum(t: &DynamicsTracker) -> usize {
        t.ring.capacity()
            + t.buf.capacity()
            + t.analyser.capacity_sum()
            + t.emb.capacity()
            + t.tree.capacity_sum()
            + t.scratch.capacity()
            + t.scores.capacity()
    }

    /// A stream that switches between noise, a sine and the logistic map every 700 frames.
    fn sample(i: usize, state: &mut (f64, u64)) -> f64 {
        state.1 = state
            .1
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let noise = (state.1 >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
        match (i / 700) % 3 {
            0 => 1.0 + 0.01 * noise,
            1 => (i as f64 * 0.3).sin() + 0.01 * noise,
            _ => {
                state.0 = 4.0 * state.0 * (1.0 - state.0);
                state.0
            }
        }
    }

    /// Spreading the classification over frames delays it but computes the same thing: the
    /// first estimate of a stream is identical, and the labels agree once both have settled.
    #[test]
    fn spread_classification_matches_the_whole_one() {
        let spread_cfg = DynamicsConfig::default();
        assert!(spread_cfg.work_per_frame > 0);
        let whole_cfg = DynamicsConfig {
            work_per_frame: 0,
            ..spread_cfg
        };
        let mut v = 0.3f64;
        let logistic: Vec<f64> = (0..1500)
            .map(|_| {
                v = 4.0 * v * (1.0 - v);
                v
            })
            .collect();
        let mut st = (0.0, 7u64);
        let sine: Vec<f64> = (0..1500).map(|i| sample(700 + i % 700, &mut st)).collect();
        for (x, want) in [(logistic, Regime::Chaotic), (sine, Regime::Periodic)] {
            let mut a = DynamicsTracker::new(spread_cfg).unwrap();
            let mut b = DynamicsTracker::new(whole_cfg).unwrap();
            let (mut first_a, mut first_b) = (None, None);
            let (mut at_a, mut at_b) = (0, 0);
            for (i, &s) in x.iter().enumerate() {
                let la = a.push(s).lyapunov_exponent;
                let lb = b.push(s).lyapunov_exponent;
                if first_a.is_none() && la.is_some() {
                    (first_a, at_a) = (la, i);
                }
                if first_b.is_none() && lb.is_some() {
                    (first_b, at_b) = (lb, i);
                }
            }
            assert_eq!(first_a, first_b);
            assert!(at_a > at_b && at_a <= at_b + 64, "{at_a} vs {at_b}");
            assert_eq!(a.state().regime, want);
            assert_eq!(b.state().regime, want);
        }
    }

    #[test]
    fn no_allocation_after_warm_up() {
        let mut t = DynamicsTracker::new(DynamicsConfig::default()).unwrap();
        let mut st = (0.3, 1u64);
        for i in 0..4200 {
            t.push(sample(i, &mut st));
        }
        let warm = capacity_sum(&t);
        for i in 4200..12600 {
            t.push(sample(i, &mut st));
        }
        assert_eq!(capacity_sum(&t), warm);
        // Memory is bounded by the window: a few buffers of `window` values.
        assert!(warm * 8 < 200 * 1024, "{warm} values");
    }
}
