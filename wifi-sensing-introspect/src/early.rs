//! Two-stage early labelling: "something is moving" first, then "which activity", with a
//! confidence, as the motion goes on.
//!
//! An [`EarlyDecider`] reads `motion_lags_v1` features (see [`crate::features`]), or
//! `motion_doppler_v1` (the same six values followed by a short-time Doppler spectrum), one
//! frame at a time:
//!
//! 1. **Stage 1, unlabelled onset.** The lag-1 value `x₁` (a step of the channel's level, in
//!    receiver-noise deviations, as `ln(1 + z²)`) above `gate` on `persist` consecutive frames
//!    opens a motion *episode*; its onset estimate is the first of those frames. `close_after`
//!    frames with the lag-1, lag-2 and lag-4 values all at or below `gate` close it.
//! 2. **Stage 2, the label.** In an open episode, `n` frames after its onset estimate, each
//!    signature's cost is the squared distance between the episode's `n` frames and the
//!    signature's frames `δ..δ + n`, divided by `n`, the lowest over the offsets
//!    `δ ∈ 0..=max_offset` with `δ + n` within the signature (stage 1 opens a few frames after
//!    the true onset, the signature starts at it). A label's cost is the lowest of its
//!    signatures' (several signatures per label are allowed). The *confidence* is
//!    `second-best label cost / best − 1`. The best label is *decided* on the first frame with
//!    `n ≥ min_frames` and confidence at least `margin`, and stays decided until the episode
//!    closes (one decision per episode).
//!
//! Each frame costs `O(signatures · (max_offset + 1) · dim)` and allocates nothing.
//!
//! What it reaches on simulated sessions (latency, right label first, false firings), and why
//! the first frames cannot name an activity there, is measured by the `early_detection`
//! example and recorded in the crate README: with signatures averaged over many sessions
//! (one per label), `gate` 3 on 2 frames, `margin` 0.3 and `min_frames` 32 (the defaults), the
//! right label came first in 66 % of test onsets, a median 38 frames after the onset. The
//! `introspection` analyser runs one per node
//! ([`IntrospectionAnalyser::with_early`](crate::snapshot::IntrospectionAnalyser::with_early)).
//!
//! ```
//! use wifi_sensing_introspect::early::{EarlyConfig, EarlyDecider};
//! use wifi_sensing_introspect::features::FeatureKind;
//! use wifi_sensing_introspect::signature::Signature;
//! // Two 8-frame signatures of 6 values: a small and a large level change.
//! let sig = |label: &str, v: f32| Signature {
//!     id: label.into(),
//!     label: label.into(),
//!     captured_at: "2026-12-05T15:00:00Z".into(),
//!     feature_kind: FeatureKind::MotionLagsV1,
//!     length: 8,
//!     dtw: Default::default(),
//!     vectors: vec![vec![f64::from(v); 6]; 8],
//!     promotion_threshold: 0.5,
//!     prefix_thresholds: None,
//!     min_prefix: None,
//!     provenance: None,
//! };
//! let cfg = EarlyConfig { min_frames: 4, ..EarlyConfig::default() };
//! let mut d = EarlyDecider::new(cfg, &[sig("slow", 4.0), sig("fast", 8.0)])?;
//! for _ in 0..20 {
//!     assert!(!d.push(&[0.6; 6])?.moving); // receiver noise only
//! }
//! let mut decided = None;
//! for i in 0..8 {
//!     let s = *d.push(&[7.5; 6])?;
//!     assert_eq!(s.moving, i > 0); // the gate needs 2 frames (`persist`)
//!     decided = decided.or(s.decided);
//! }
//! assert_eq!(decided.map(|l| d.labels()[l].as_str()), Some("fast"));
//! # Ok::<(), wifi_sensing_introspect::Error>(())
//! ```

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::features::{FeatureKind, MOTION_LAGS};
use crate::signature::Signature;

/// Settings of an [`EarlyDecider`] (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EarlyConfig {
    /// Stage-1 gate on the lag-1 value of `motion_lags_v1` (`ln(1 + z²)`; 3 is a level step of
    /// 4.4 noise deviations). Positive.
    pub gate: f64,
    /// Consecutive frames above `gate` that open an episode (1..=64).
    pub persist: usize,
    /// Still frames that close an episode (≥ 1).
    pub close_after: usize,
    /// Largest offset, in frames, between the episode's onset estimate and the signatures'
    /// first frame (0..=1024).
    pub max_offset: usize,
    /// Confidence needed to decide (`second-best / best − 1`, ≥ 0).
    pub margin: f64,
    /// Frames of the episode before a decision may be taken (≥ 1).
    pub min_frames: usize,
}

impl Default for EarlyConfig {
    fn default() -> Self {
        EarlyConfig {
            gate: 3.0,
            persist: 2,
            close_after: 50,
            max_offset: 16,
            margin: 0.3,
            min_frames: 32,
        }
    }
}

impl EarlyConfig {
    /// Checks every value.
    pub fn validate(&self) -> Result<()> {
        if !(self.gate.is_finite() && self.gate > 0.0) {
            return Err(Error::config(
                "gate",
                format!("must be positive (got {})", self.gate),
            ));
        }
        if !(1..=64).contains(&self.persist) {
            return Err(Error::config(
                "persist",
                format!("must be in 1..=64 frames (got {})", self.persist),
            ));
        }
        if self.close_after == 0 {
            return Err(Error::config("close_after", "must be at least 1 frame"));
        }
        if self.max_offset > 1024 {
            return Err(Error::config(
                "max_offset",
                format!("must be at most 1024 frames (got {})", self.max_offset),
            ));
        }
        if !(self.margin.is_finite() && self.margin >= 0.0) {
            return Err(Error::config(
                "margin",
                format!("must be finite and ≥ 0 (got {})", self.margin),
            ));
        }
        if self.min_frames == 0 {
            return Err(Error::config("min_frames", "must be at least 1 frame"));
        }
        Ok(())
    }
}

/// What an [`EarlyDecider`] says after a frame.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EarlyState {
    /// A motion episode is open (stage 1).
    pub moving: bool,
    /// `true` on the frame the episode opened.
    pub opened: bool,
    /// Frames since the episode's onset estimate, this one included (0 when not moving).
    pub episode_frames: usize,
    /// The label with the lowest cost so far in this episode (index into
    /// [`EarlyDecider::labels`]), once costs exist.
    pub best: Option<usize>,
    /// Confidence of `best`: `second-best cost / best cost − 1` (0 without a second label).
    pub confidence: f64,
    /// The label decided in this episode, if any.
    pub decided: Option<usize>,
    /// `true` on the frame the decision was taken (the label's rising edge).
    pub decided_now: bool,
}

impl EarlyState {
    fn idle() -> Self {
        EarlyState {
            moving: false,
            opened: false,
            episode_frames: 0,
            best: None,
            confidence: 0.0,
            decided: None,
            decided_now: false,
        }
    }
}

/// The two-stage early labeller (see the module docs).
#[derive(Clone, Debug)]
pub struct EarlyDecider {
    cfg: EarlyConfig,
    kind: FeatureKind,
    labels: Vec<String>,
    dim: usize,
    /// Per signature: label index, length, vectors row-major.
    sigs: Vec<(usize, usize, Vec<f32>)>,
    /// Running distance per signature and offset.
    acc: Vec<f64>,
    /// Per label cost (scratch).
    costs: Vec<f64>,
    /// The last `persist` frames (ring), for the frames before the opening.
    recent: Vec<f32>,
    frames: u64,
    run: usize,
    still: usize,
    state: EarlyState,
}

/// Lags of `motion_lags_v1` read for stillness: 1, 2 and 4 frames (its first three values).
const STILL_LAGS: usize = 3;

impl EarlyDecider {
    /// A decider over `signatures` (all of kind `motion_lags_v1`, or all of
    /// `motion_doppler_v1`; at least two distinct labels).
    pub fn new(cfg: EarlyConfig, signatures: &[Signature]) -> Result<Self> {
        cfg.validate()?;
        let first = signatures
            .first()
            .ok_or_else(|| Error::config("signatures", "needs at least one signature"))?;
        // The kind of the first signature when it is a motion kind, else the reference kind (so
        // that the error names what is expected).
        let kind = Some(first.feature_kind)
            .filter(|k| k.is_motion())
            .unwrap_or(FeatureKind::MotionLagsV1);
        let dim = kind.fixed_dim().unwrap_or(MOTION_LAGS.len());
        let mut labels: Vec<String> = Vec::new();
        let mut sigs = Vec::with_capacity(signatures.len());
        for s in signatures {
            s.check_feature(kind, Some(dim), "early labelling")?;
            let flat: Vec<f32> = s.vectors.iter().flatten().map(|&v| v as f32).collect();
            if s.length == 0 || flat.len() != s.length * dim || !flat.iter().all(|v| v.is_finite())
            {
                return Err(Error::Mismatch {
                    signature: s.id.clone(),
                    reason: format!("vectors must be {} frames of {dim} finite values", s.length),
                });
            }
            let l = match labels.iter().position(|l| *l == s.label) {
                Some(l) => l,
                None => {
                    labels.push(s.label.clone());
                    labels.len() - 1
                }
            };
            sigs.push((l, s.length, flat));
        }
        if labels.len() < 2 {
            return Err(Error::config(
                "signatures",
                "needs at least two distinct labels (the confidence compares the best two)",
            ));
        }
        Ok(EarlyDecider {
            kind,
            acc: vec![0.0; sigs.len() * (cfg.max_offset + 1)],
            costs: vec![0.0; labels.len()],
            recent: vec![0.0; cfg.persist * dim],
            cfg,
            labels,
            dim,
            sigs,
            frames: 0,
            run: 0,
            still: 0,
            state: EarlyState::idle(),
        })
    }

    /// The settings.
    pub fn config(&self) -> &EarlyConfig {
        &self.cfg
    }

    /// The feature kind it reads (its signatures').
    pub fn kind(&self) -> FeatureKind {
        self.kind
    }

    /// The distinct labels, in the order of the signatures that first named them.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// The latest state.
    pub fn state(&self) -> &EarlyState {
        &self.state
    }

    /// Forgets the stream.
    pub fn reset(&mut self) {
        self.frames = 0;
        self.run = 0;
        self.still = 0;
        self.state = EarlyState::idle();
    }

    /// Adds frame `x` (episode frame `i`, 0-based) to every signature's running distances.
    fn accumulate(&mut self, x: &[f32], i: usize) {
        let d = self.dim;
        let offsets = self.cfg.max_offset + 1;
        for (si, (_, len, v)) in self.sigs.iter().enumerate() {
            for off in 0..offsets {
                let j = off + i;
                if j < *len {
                    let dist: f64 = x
                        .iter()
                        .zip(&v[j * d..(j + 1) * d])
                        .map(|(a, b)| f64::from(a - b).powi(2))
                        .sum();
                    self.acc[si * offsets + off] += dist;
                }
            }
        }
    }

    /// Pushes one frame of features of [`kind`](Self::kind). Refuses a wrong length or a non-finite
    /// value (the state is then unchanged).
    pub fn push(&mut self, x: &[f32]) -> Result<&EarlyState> {
        if x.len() != self.dim {
            return Err(Error::InvalidInput(format!(
                "frame of {} values for {}-dimensional signatures",
                x.len(),
                self.dim
            )));
        }
        if !x.iter().all(|v| v.is_finite()) {
            return Err(Error::InvalidInput("non-finite feature value".into()));
        }
        let gate = self.cfg.gate as f32;
        let p = self.cfg.persist;
        let d = self.dim;
        let slot = (self.frames % p as u64) as usize;
        self.recent[slot * d..(slot + 1) * d].copy_from_slice(x);
        self.frames += 1;
        self.run = if x[0] > gate { self.run + 1 } else { 0 };
        self.still = if x[..STILL_LAGS].iter().all(|&v| v <= gate) {
            self.still + 1
        } else {
            0
        };
        self.state.opened = false;
        self.state.decided_now = false;
        if self.state.moving && self.still >= self.cfg.close_after {
            self.state = EarlyState::idle();
        }
        if self.state.moving {
            self.state.episode_frames += 1;
            let i = self.state.episode_frames - 1;
            self.accumulate(x, i);
        } else if self.run >= p {
            self.state.moving = true;
            self.state.opened = true;
            self.state.episode_frames = p;
            self.acc.fill(0.0);
            // The persistence run's frames, oldest first (the newest is `x`, in the ring too).
            for k in 0..p {
                let s = ((self.frames - p as u64 + k as u64) % p as u64) as usize;
                self.accumulate_row(s, k);
            }
        }
        self.decide();
        Ok(&self.state)
    }

    /// Accumulates the frame held in ring slot `slot` as episode frame `i`.
    fn accumulate_row(&mut self, slot: usize, i: usize) {
        let d = self.dim;
        let x = std::mem::take(&mut self.recent);
        self.accumulate(&x[slot * d..(slot + 1) * d], i);
        self.recent = x;
    }

    /// Stage 2 on the current episode.
    fn decide(&mut self) {
        let st = &mut self.state;
        if !st.moving {
            return;
        }
        let n = st.episode_frames;
        let offsets = self.cfg.max_offset + 1;
        self.costs.fill(f64::INFINITY);
        for (si, (l, len, _)) in self.sigs.iter().enumerate() {
            for off in 0..offsets {
                if off + n <= *len {
                    let c = self.acc[si * offsets + off] / n as f64;
                    if c < self.costs[*l] {
                        self.costs[*l] = c;
                    }
                }
            }
        }
        let (mut b, mut s) = (usize::MAX, usize::MAX);
        for (l, &c) in self.costs.iter().enumerate() {
            if !c.is_finite() {
                continue;
            }
            if b == usize::MAX || c < self.costs[b] {
                s = b;
                b = l;
            } else if s == usize::MAX || c < self.costs[s] {
                s = l;
            }
        }
        if b == usize::MAX {
            // The episode outlasted every signature: keep the last standing.
            return;
        }
        st.best = Some(b);
        st.confidence = if s == usize::MAX {
            0.0
        } else {
            self.costs[s] / self.costs[b].max(1e-12) - 1.0
        };
        if st.decided.is_none()
            && s != usize::MAX
            && n >= self.cfg.min_frames
            && st.confidence >= self.cfg.margin
        {
            st.decided = Some(b);
            st.decided_now = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sig(id: &str, label: &str, rows: Vec<Vec<f64>>) -> Signature {
        Signature {
            id: id.into(),
            label: label.into(),
            captured_at: "2026-12-05T15:00:00Z".into(),
            feature_kind: FeatureKind::MotionLagsV1,
            length: rows.len(),
            dtw: Default::default(),
            vectors: rows,
            promotion_threshold: 0.5,
            prefix_thresholds: None,
            min_prefix: None,
            provenance: None,
        }
    }

    /// A ramp signature: value `a · (i + 1)` in every dimension at frame `i`.
    fn ramp(id: &str, label: &str, a: f64) -> Signature {
        sig(
            id,
            label,
            (0..16).map(|i| vec![a * (i + 1) as f64; 6]).collect(),
        )
    }

    #[test]
    fn refuses_bad_settings_and_signatures() {
        let two = [ramp("a", "a", 1.0), ramp("b", "b", 2.0)];
        for cfg in [
            EarlyConfig {
                gate: f64::NAN,
                ..EarlyConfig::default()
            },
            EarlyConfig {
                persist: 0,
                ..EarlyConfig::default()
            },
            EarlyConfig {
                margin: -1.0,
                ..EarlyConfig::default()
            },
            EarlyConfig {
                min_frames: 0,
                ..EarlyConfig::default()
            },
        ] {
            assert!(EarlyDecider::new(cfg, &two).is_err(), "{cfg:?}");
        }
        let cfg = EarlyConfig::default();
        assert!(EarlyDecider::new(cfg, &[]).is_err());
        let one_label = [ramp("a", "a", 1.0), ramp("b", "a", 2.0)];
        assert!(EarlyDecider::new(cfg, &one_label)
            .unwrap_err()
            .to_string()
            .contains("two distinct labels"));
        let mut wrong_kind = two.clone();
        wrong_kind[1].feature_kind = FeatureKind::AmpBaselineV1;
        let e = EarlyDecider::new(cfg, &wrong_kind).unwrap_err().to_string();
        assert!(
            e.contains("signature b") && e.contains("amp_baseline_v1"),
            "{e}"
        );
        // Kinds are not mixed; an all-`motion_doppler_v1` set reads 10 values per frame.
        let mut mixed = two.clone();
        mixed[1].feature_kind = FeatureKind::MotionDopplerV1;
        mixed[1].vectors = vec![vec![1.0; 10]; 16];
        let e = EarlyDecider::new(cfg, &mixed).unwrap_err().to_string();
        assert!(e.contains("motion_doppler_v1"), "{e}");
        let mut dop = mixed.clone();
        dop[0] = Signature {
            id: "a".into(),
            label: "a".into(),
            ..mixed[1].clone()
        };
        let mut d = EarlyDecider::new(cfg, &dop).unwrap();
        assert_eq!(d.kind(), FeatureKind::MotionDopplerV1);
        assert!(d.push(&[0.0; 6]).is_err());
        assert!(d.push(&[0.0; 10]).is_ok());
        let mut ragged = two.clone();
        ragged[0].vectors[3].pop();
        assert!(EarlyDecider::new(cfg, &ragged).is_err());
        let mut d = EarlyDecider::new(cfg, &two).unwrap();
        assert!(d.push(&[0.0; 5]).is_err());
        assert!(d.push(&[f32::NAN; 6]).is_err());
        assert_eq!(d.state().episode_frames, 0);
    }

    #[test]
    fn opens_after_persistence_names_the_nearer_label_and_closes() {
        let cfg = EarlyConfig {
            gate: 3.0,
            persist: 2,
            close_after: 5,
            max_offset: 2,
            margin: 0.5,
            min_frames: 4,
        };
        let sigs = [
            ramp("slow-1", "slow", 1.0),
            ramp("fast-1", "fast", 3.0),
            ramp("fast-2", "fast", 3.5),
        ];
        let mut d = EarlyDecider::new(cfg, &sigs).unwrap();
        assert_eq!(d.labels(), ["slow", "fast"]);
        for _ in 0..10 {
            assert!(!d.push(&[0.5; 6]).unwrap().moving);
        }
        // One frame above the gate is not enough.
        assert!(!d.push(&[4.0; 6]).unwrap().moving);
        for _ in 0..3 {
            d.push(&[0.5; 6]).unwrap();
        }
        // A fast ramp that starts 1 frame before the signature's frame 1 (offset 1).
        let mut decided_at = None;
        for i in 0..10 {
            let v = 3.0 * (i + 2) as f32;
            let s = *d.push(&[v; 6]).unwrap();
            if i == 0 {
                assert!(!s.moving);
            } else {
                assert!(s.moving);
                assert_eq!(s.opened, i == 1);
                assert_eq!(s.episode_frames, i + 1);
            }
            if s.decided_now {
                assert!(decided_at.is_none());
                decided_at = Some(i);
            }
            if s.episode_frames >= 4 {
                assert_eq!(s.decided, Some(1));
            }
        }
        // Decided on the first frame allowed (4 episode frames), with a clear margin.
        assert_eq!(decided_at, Some(3));
        assert!(d.state().confidence > 0.5);
        // Stillness closes the episode after close_after frames.
        for k in 0..5 {
            let s = *d.push(&[0.5; 6]).unwrap();
            assert_eq!(s.moving, k < 4, "still frame {k}");
        }
        assert_eq!(d.state().decided, None);
        d.reset();
        assert!(!d.state().moving);
    }

    proptest::proptest! {
        /// Whatever the frames, the state stays consistent and nothing panics.
        #[test]
        fn state_is_consistent(frames in proptest::collection::vec(
            proptest::collection::vec(0.0f32..12.0, 6), 0..200),
            persist in 1usize..4, min_frames in 1usize..20) {
            let cfg = EarlyConfig { persist, min_frames, close_after: 5, ..EarlyConfig::default() };
            let sigs = [ramp("a", "a", 0.5), ramp("b", "b", 0.7), ramp("c", "c", 1.0)];
            let mut d = EarlyDecider::new(cfg, &sigs).unwrap();
            let mut decided = None;
            for x in &frames {
                let s = *d.push(x).unwrap();
                proptest::prop_assert_eq!(s.moving, s.episode_frames > 0);
                proptest::prop_assert!(!s.opened || s.episode_frames == persist);
                proptest::prop_assert!(s.confidence >= 0.0 && !s.confidence.is_nan());
                if s.decided_now {
                    proptest::prop_assert!(decided.is_none());
                    proptest::prop_assert!(s.episode_frames >= min_frames);
                    decided = s.decided;
                }
                if !s.moving {
                    proptest::prop_assert_eq!(s.decided, None);
                    decided = None;
                } else if s.opened {
                    decided = s.decided;
                }
                proptest::prop_assert_eq!(s.decided, decided);
            }
        }
    }

    #[test]
    fn no_decision_without_a_clear_margin() {
        let cfg = EarlyConfig {
            persist: 1,
            min_frames: 2,
            margin: 0.5,
            ..EarlyConfig::default()
        };
        let sigs = [ramp("a", "a", 3.0), ramp("b", "b", 3.2)];
        let mut d = EarlyDecider::new(cfg, &sigs).unwrap();
        // Halfway between the two ramps: both costs alike.
        for i in 0..16 {
            let s = *d.push(&[3.1 * (i + 1) as f32; 6]).unwrap();
            assert!(s.moving);
            assert_eq!(s.decided, None, "frame {i}: {s:?}");
        }
    }
}
