//! Dynamics of a scalar stream: delay embedding, the largest Lyapunov exponent (Rosenstein),
//! the correlation dimension (Grassberger-Procaccia), a window regime classifier and a streaming
//! tracker with change-point detection.
//!
//! # Batch estimators
//!
//! [`lyap_r`] / [`Rosenstein`] compute Rosenstein's largest Lyapunov exponent exactly as nolds
//! 0.6.3 `lyap_r(..., fit="poly")` does:
//!
//! 1. delay-embed `x` into `M = N - (emb_dim - 1) lag` vectors;
//! 2. for each of the first `ntraj = M - trajectory_len + 1` vectors, find its nearest neighbour
//!    among those same vectors with `|i - j| > min_tsep` (Euclidean; lowest index on ties);
//! 3. `div_traj[k]` = mean over pairs of `ln dist(X[i+k], X[nb(i)+k])`, exact zeros skipped, for
//!    `k < trajectory_len`; non-finite entries are dropped (all zero: the exponent is `-inf`);
//! 4. the exponent is the least-squares slope of `div_traj[fit_offset..]` against `k`, over `tau`.
//!
//! The neighbours come from an exact k-d tree (no `M x M` matrix): O(M log M) typical instead of
//! nolds' O(M^2) time and memory. Distances are summed in numpy's order and the mean log uses
//! numpy's pairwise summation, so on the stored oracle (`fixtures/oracles/lyap_vectors.json`:
//! 9 series x 4 parameter sets, divergence curves included) the largest relative difference is
//! 9e-16, well inside the 1e-9 tolerance; exact ties (an exactly periodic orbit, where nolds
//! picks the first index) resolve the same way. The only arithmetic difference is the final
//! line fit (closed-form least squares instead of numpy's SVD), which agrees to ~1e-15.
//! nolds' automatic `lag` / `min_tsep` choice is not reimplemented: pass them explicitly.
//!
//! [`CorrDim`] is nolds' `corr_dim(..., fit="poly")`: radii `0.1 sd * 1.03^i` up to `0.5 sd`
//! (sample sd, ddof 1), `C(r)` = ordered pairs at distance `<= r` plus the `M` self-pairs over
//! `M (M - 1)`, slope of `ln C` against `ln r`. Pairs are counted through a k-d tree range search
//! up to the largest radius and binned once, instead of comparing a full matrix per radius.
//! Oracle agreement: 18 cases, largest relative difference 2e-15.
//!
//! Accuracy on known systems (2000 points, `emb_dim = 2, lag = 1, min_tsep = 10,
//! trajectory_len = 6`): logistic map r = 4 gives 0.6936 (ln 2 = 0.6931), Henon 0.4006 (0.4193).
//!
//! # Regime classifier
//!
//! [`RegimeClassifier`] labels a window `idle | periodic | transient | chaotic` from four
//! scale-invariant features: the noise floor (robust scale of the nearest-neighbour one-step
//! prediction error, reusing Rosenstein's neighbours), the spread of each eighth of the window
//! against that floor (non-stationarity), the best autocorrelation after the first zero crossing
//! (periodicity) and the Rosenstein exponent; see [`RegimeClassifier`] for the decision rules and
//! [`RegimeThresholds`] for the thresholds. On seeded synthetic families the thresholds were not
//! tuned on (300 windows per class; generators in `tests/dynamics_support`), recall per class is
//! 100 / 99.7 / 100 / 100 % (idle / periodic / transient / chaotic) at 256 samples and
//! 100 / 99.7 / 100 / 95.3 % at 128; the confusion matrices are printed by
//! `cargo test -p wifi-sensing-introspect --test dynamics_regime -- --nocapture`.
//! "Chaotic" means sustained, aperiodic activity with a positive exponent: without surrogate
//! tests the classifier does not tell deterministic chaos from coloured noise.
//!
//! # Streaming tracker
//!
//! [`DynamicsTracker`] keeps the last `window` samples in a ring (bounded memory; no allocation
//! once its buffers have grown). Every `update_every` frames it tests the newest `change_block`
//! frames for a change point against the rest of the current segment:
//!
//! - novelty: embedding vectors in a difference basis (level, first, second, ... difference),
//!   each coordinate scaled by its spread in the reference; a new vector is novel when its
//!   nearest reference vector is farther than `change_threshold` times the 90th percentile of
//!   the reference's own leave-out neighbour distances; 6 of the newest 8 novel = change;
//! - spread: the newest 8 frames spread more than twice the largest 8-frame spread of the
//!   reference, or the newest 20 less than half the smallest 20-frame spread.
//!
//! A change point sets `regime_changed` for that frame, starts a new segment at the estimated
//! onset and reports `Transient` until the new segment has `min_window` frames; then (and every
//! `classify_every` frames) the segment (at most `window` frames) is classified, with a
//! `label_hysteresis` on later label changes. `regime_changed` marks change points only; label
//! revisions do not set it.
//!
//! The classification is the costly part (a neighbour search per embedding vector for the
//! exponent and the noise floor, the autocorrelation, and on every 4th classification the
//! correlation dimension's pair counts). It does not run whole on the frame that starts it: the
//! update frame only schedules it, the next frame copies the segment and builds the neighbour
//! index, and each following frame that is not an update frame does at most `work_per_frame`
//! units of it (one unit is about one nearest-neighbour search; default 48), so the new label
//! and estimates arrive some frames later (about 10 to 30 with the defaults) and no single frame
//! carries the whole cost. A change point drops a classification in progress. The change test
//! itself stays on the update frame (its latency matters); the reference's typical neighbour
//! distance it needs is refreshed a quarter at a time, one quarter per update (all of it after
//! a change point). `work_per_frame = 0` runs each classification to its end on its update
//! frame instead.
//!
//! Measured with the `regime_changed_fires_within_32_frames_of_switches` test of
//! `tests/dynamics_regime.rs` run on 40 instead of 8 streams per family (seeds 900 000.. and
//! 910 000.., not used for tuning). The streams have 300-600-frame idle / periodic / chaotic
//! segments, with active segments 1.7 to 40 times the idle noise.
//! - Plain streams: 263 of 280 switches (93.9 %) flagged within 32 frames; median latency 9
//!   frames, max 29. 7 of 270 flags false (2.6 %, 0.05 per 1000 frames).
//! - With steps and bursts added to idle segments: 297 of 326 (91.1 %); median 8, max 32.
//!   10 of 307 flags false (3.3 %, 0.07 per 1000 frames).
//! - Stationary streams: no flag in 27 000 frames.
//!
//! The previous pass measured 91 % and 88 % with 5.2 % and 4.4 % false flags. The change detector
//! is the same; the typical distance it compares with is now refreshed a quarter per update
//! instead of whole every 4th update.
//! Misses are mostly switches between a chaotic flow (Lorenz) and a periodic or idle regime
//! whose values stay inside the flow's range, and switches shortly after a burst (the burst
//! stays in the reference). The target is every switch within 32 frames; this is not
//! met.
//!
//! Cost: see the crate README (per-frame p50 / p99 of the tracker alone, spread and not
//! spread). Under load a batch Rosenstein estimate on 2000 points took 2.6 ms, against 0.7 ms
//! in the quieter `benches/compare/lyap.py` run.
//!
//! Differences from the batch method: the tracker estimates the exponent on the current segment
//! only (at most `window` frames, default 512) with the configured parameters (default:
//! `emb_dim = 3, lag = 1, min_tsep = 10, trajectory_len = 10`, per frame), so values on short
//! segments are noisier than on 2000 points, and non-finite values (an exactly periodic orbit)
//! are reported as `None`.

mod corrdim;
mod kdtree;
mod numeric;
mod regime;
mod rosenstein;
mod tracker;

pub use corrdim::{logarithmic_r, CorrDim, MAX_RADII};
pub use regime::{
    Classification, Regime, RegimeClassifier, RegimeThresholds, WindowFeatures, BLOCKS,
};
pub use rosenstein::{
    delay_embed, lyap_r, LyapunovEstimate, Rosenstein, RosensteinParams, MAX_EMB_DIM,
};
pub use tracker::{DynamicsConfig, DynamicsState, DynamicsTracker, MAX_WINDOW};

/// Errors of the dynamics module.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum DynamicsError {
    /// A configuration value is out of range.
    #[error("invalid dynamics setting `{field}`: {reason}")]
    InvalidConfig {
        /// The field at fault.
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The input holds a NaN or an infinity.
    #[error("non-finite input value at index {index}")]
    NonFinite {
        /// Position of the first non-finite value.
        index: usize,
    },
    /// The series is too short for the requested estimate.
    #[error("{what} needs at least {needed} samples, got {got}")]
    TooShort {
        /// The estimate asked for.
        what: &'static str,
        /// Samples needed.
        needed: usize,
        /// Samples given.
        got: usize,
    },
    /// The input has no spread, so the estimate is undefined.
    #[error("{what} is undefined")]
    Degenerate {
        /// The estimate asked for.
        what: &'static str,
    },
}

impl DynamicsError {
    pub(crate) fn invalid(field: &'static str, reason: &'static str) -> Self {
        Self::InvalidConfig { field, reason }
    }
}
