//! Hampel outlier filter: a sample farther than `k` scaled median absolute deviations (MAD)
//! from the median of the centred window around it is replaced by that median.
//!
//! The window is centred and holds `window` samples (odd, ≥ 3); the threshold is
//! `k · 1.4826 · MAD` (the MAD scaled to a Gaussian standard deviation, as the `hampel` PyPI
//! package and most references do). The first and last `window / 2` samples, which have no full
//! centred window, are passed unchanged (as pandas' centred rolling windows, which give `NaN`
//! there, and the `hampel` package do).
//!
//! [`HampelState`] is the streaming form: it keeps the window sorted incrementally (a binary
//! search and one shift per sample, never a sort), finds the MAD by merging the two sorted
//! halves of deviations around the median (`window / 2` steps), and outputs each sample
//! `window / 2` samples late. Offline [`hampel`] is the same code run over a slice.
//!
//! ```
//! use wifi_sensing_signal::hampel::{hampel, HampelConfig};
//! let mut x = vec![1.0, 1.1, 0.9, 1.0, 9.0, 1.05, 0.95, 1.0, 1.1];
//! let replaced = hampel(&mut x, &HampelConfig { window: 5, k: 3.0 })?;
//! assert_eq!(replaced, vec![4]);
//! assert!((x[4] - 1.0).abs() < 0.11);
//! # Ok::<(), wifi_sensing_signal::SignalError>(())
//! ```

use serde::{Deserialize, Serialize};

use crate::error::{Result, SignalError};

/// Scale turning a MAD into a Gaussian standard deviation.
pub const MAD_SCALE: f64 = 1.4826;

/// Hampel parameters.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HampelConfig {
    /// Window length in samples (frames), odd, 3..=1001. Default 15.
    pub window: usize,
    /// Threshold in scaled MADs, finite and ≥ 0. Default 3.
    pub k: f64,
}

impl Default for HampelConfig {
    fn default() -> Self {
        HampelConfig { window: 15, k: 3.0 }
    }
}

impl HampelConfig {
    /// Checks the ranges documented on the fields.
    pub fn validate(&self) -> Result<()> {
        if self.window < 3 || self.window > 1001 || self.window.is_multiple_of(2) {
            return Err(SignalError::param(
                "hampel",
                "window",
                self.window,
                "an odd number of frames in 3..=1001",
            ));
        }
        if !(self.k.is_finite() && self.k >= 0.0) {
            return Err(SignalError::param("hampel", "k", self.k, "a finite k >= 0"));
        }
        Ok(())
    }
}

/// Streaming Hampel filter of one channel.
///
/// ```
/// use wifi_sensing_signal::hampel::{HampelConfig, HampelState};
/// let mut h = HampelState::new(HampelConfig { window: 3, k: 2.0 })?;
/// let mut out = Vec::new();
/// for x in [1.0, 1.0, 50.0, 1.0, 1.0] {
///     if let Some((y, _replaced)) = h.push(x) { out.push(y); }
/// }
/// out.extend(h.drain().map(|(y, _)| y));
/// assert_eq!(out, vec![1.0, 1.0, 1.0, 1.0, 1.0]);
/// assert_eq!(h.replaced(), 1);
/// # Ok::<(), wifi_sensing_signal::SignalError>(())
/// ```
#[derive(Clone, Debug)]
pub struct HampelState {
    cfg: HampelConfig,
    threshold: f64,
    ring: Vec<f64>,
    head: usize,
    filled: usize,
    sorted: Vec<f64>,
    pushed: u64,
    replaced: u64,
}

impl HampelState {
    /// A filter with validated parameters.
    pub fn new(cfg: HampelConfig) -> Result<Self> {
        cfg.validate()?;
        Ok(HampelState {
            threshold: cfg.k * MAD_SCALE,
            ring: vec![0.0; cfg.window],
            head: 0,
            filled: 0,
            sorted: Vec::with_capacity(cfg.window),
            pushed: 0,
            replaced: 0,
            cfg,
        })
    }

    /// The parameters.
    pub fn config(&self) -> &HampelConfig {
        &self.cfg
    }

    /// Delay in samples between input and output (`window / 2`).
    pub fn delay(&self) -> usize {
        self.cfg.window / 2
    }

    /// Samples replaced so far.
    pub fn replaced(&self) -> u64 {
        self.replaced
    }

    /// Adds a sample; returns the sample `window / 2` places earlier, filtered, and whether it
    /// was replaced (`None` while the first `window / 2` samples fill the delay line).
    ///
    /// Non-finite samples enter the window as they are (`NaN` sorts last); a window holding a
    /// `NaN` never replaces anything, and a `NaN` is never produced from finite input.
    pub fn push(&mut self, x: f64) -> Option<(f64, bool)> {
        let w = self.cfg.window;
        let half = w / 2;
        if self.filled == w {
            // replace the oldest by the new value with one shift of the values between them
            let old = self.ring[self.head];
            match find(&self.sorted, old) {
                Some(pos) => replace_sorted(&mut self.sorted, pos, x),
                None => insert_sorted(&mut self.sorted, x),
            }
        } else {
            self.filled += 1;
            insert_sorted(&mut self.sorted, x);
        }
        self.ring[self.head] = x;
        self.head += 1;
        if self.head == w {
            self.head = 0;
        }
        self.pushed += 1;
        if self.pushed <= half as u64 {
            return None;
        }
        // the centre sample: `half` places before the newest
        let centre_idx = (self.head + w - 1 - half) % w;
        let c = self.ring[centre_idx];
        if self.filled < w {
            // warm-up: no full window around it yet
            return Some((c, false));
        }
        let (med, mad) = median_mad_sorted(&self.sorted);
        if (c - med).abs() > self.threshold * mad {
            self.replaced += 1;
            Some((med, true))
        } else {
            Some((c, false))
        }
    }

    /// At the end of a stream: the last `window / 2` samples (unfiltered, like the first
    /// ones: they have no full centred window). Resets the state afterwards.
    pub fn drain(&mut self) -> impl Iterator<Item = (f64, bool)> + '_ {
        let w = self.cfg.window;
        let pending = (self.pushed as usize).min(self.delay());
        let start = (self.head + w - pending) % w;
        let ring = &self.ring;
        let out: Vec<(f64, bool)> = (0..pending)
            .map(|i| (ring[(start + i) % w], false))
            .collect();
        self.clear_window();
        out.into_iter()
    }

    /// Forgets the window (keeps the replaced count), without returning the pending samples.
    pub fn reset_window(&mut self) {
        self.clear_window();
    }

    fn clear_window(&mut self) {
        self.head = 0;
        self.filled = 0;
        self.sorted.clear();
        self.pushed = 0;
    }

    /// Forgets the window and the replaced count.
    pub fn reset(&mut self) {
        self.clear_window();
        self.replaced = 0;
    }
}

fn insert_sorted(sorted: &mut Vec<f64>, x: f64) {
    let pos = sorted.partition_point(|v| v.total_cmp(&x).is_lt());
    sorted.insert(pos, x);
}

/// Replaces `sorted[pos]` by `x` and restores the order by shifting the values in between
/// (an insertion step: for the usual short windows, cheaper than two memmoves).
fn replace_sorted(sorted: &mut [f64], pos: usize, x: f64) {
    let n = sorted.len();
    let mut i = pos;
    while i + 1 < n && sorted[i + 1].total_cmp(&x).is_lt() {
        sorted[i] = sorted[i + 1];
        i += 1;
    }
    while i > 0 && x.total_cmp(&sorted[i - 1]).is_lt() {
        sorted[i] = sorted[i - 1];
        i -= 1;
    }
    sorted[i] = x;
}

fn find(sorted: &[f64], x: f64) -> Option<usize> {
    let pos = sorted.partition_point(|v| v.total_cmp(&x).is_lt());
    (pos < sorted.len() && sorted[pos].total_cmp(&x).is_eq()).then_some(pos)
}

/// Median and MAD of an odd-length sorted slice, without sorting: the deviations left of the
/// median (read outwards) and right of it are both ascending, so the MAD is the
/// `len / 2`-th element of their merge.
#[inline]
pub fn median_mad_sorted(s: &[f64]) -> (f64, f64) {
    let n = s.len();
    debug_assert!(n % 2 == 1);
    let mid = n / 2;
    let med = s[mid];
    // merge: left deviations med - s[mid-1], med - s[mid-2], ...; right s[mid+1]-med, ...
    // (the 0 deviation of the median itself is element 0 of the merge)
    // branch-free merge (the comparison outcome is data-dependent and unpredictable)
    let dev_l = |i: usize| {
        if i <= mid {
            med - s[mid - i]
        } else {
            f64::INFINITY
        }
    };
    let dev_r = |j: usize| {
        if j <= mid {
            s[mid + j] - med
        } else {
            f64::INFINITY
        }
    };
    let (mut i, mut j) = (1usize, 1usize);
    let mut cur = 0.0;
    for _ in 0..mid {
        let (l, r) = (dev_l(i), dev_r(j));
        let take_l = l <= r;
        cur = if take_l { l } else { r };
        i += usize::from(take_l);
        j += usize::from(!take_l);
    }
    (med, cur)
}

/// Filters a slice in place; returns the indices of the replaced samples. Inputs shorter than
/// the window are left unchanged (no sample has a full window).
pub fn hampel(x: &mut [f64], cfg: &HampelConfig) -> Result<Vec<usize>> {
    let mut st = HampelState::new(*cfg)?;
    let mut replaced = Vec::new();
    let mut out_i = 0usize;
    for i in 0..x.len() {
        let v = x[i];
        if let Some((y, r)) = st.push(v) {
            if r {
                replaced.push(out_i);
            }
            // out_i = i - half <= i: already read, safe to overwrite
            x[out_i] = y;
            out_i += 1;
        }
    }
    for (y, _) in st.drain() {
        x[out_i] = y;
        out_i += 1;
    }
    Ok(replaced)
}

/// Hampel filter over every column of a `(time, channels)` matrix in place (one independent
/// filter per column); returns the number of replaced samples.
pub fn hampel_columns(x: &mut ndarray::Array2<f64>, cfg: &HampelConfig) -> Result<usize> {
    cfg.validate()?;
    let mut total = 0;
    let mut col = Vec::with_capacity(x.nrows());
    for mut c in x.columns_mut() {
        col.clear();
        col.extend(c.iter().copied());
        total += hampel(&mut col, cfg)?.len();
        c.iter_mut().zip(&col).for_each(|(d, s)| *d = *s);
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn naive(x: &[f64], cfg: &HampelConfig) -> (Vec<f64>, Vec<usize>) {
        let half = cfg.window / 2;
        let mut y = x.to_vec();
        let mut rep = Vec::new();
        for i in half..x.len().saturating_sub(half) {
            let mut w: Vec<f64> = x[i - half..=i + half].to_vec();
            w.sort_by(f64::total_cmp);
            let med = w[half];
            let mut d: Vec<f64> = w.iter().map(|v| (v - med).abs()).collect();
            d.sort_by(f64::total_cmp);
            let mad = d[half];
            if (x[i] - med).abs() > cfg.k * MAD_SCALE * mad {
                y[i] = med;
                rep.push(i);
            }
        }
        (y, rep)
    }

    #[test]
    fn bad_config_refused() {
        for w in [0, 1, 2, 4, 1003] {
            assert!(HampelConfig { window: w, k: 3.0 }.validate().is_err());
        }
        assert!(HampelConfig { window: 5, k: -1.0 }.validate().is_err());
        assert!(HampelConfig {
            window: 5,
            k: f64::NAN
        }
        .validate()
        .is_err());
    }

    #[test]
    fn short_input_unchanged() {
        let mut x = vec![1.0, 100.0];
        assert!(hampel(&mut x, &HampelConfig::default()).unwrap().is_empty());
        assert_eq!(x, vec![1.0, 100.0]);
        let mut e: Vec<f64> = vec![];
        assert!(hampel(&mut e, &HampelConfig::default()).unwrap().is_empty());
    }

    #[test]
    fn nan_does_not_spread() {
        let mut x = vec![1.0, 1.0, f64::NAN, 1.0, 1.0, 1.0, 1.0, 1.0];
        hampel(&mut x, &HampelConfig { window: 3, k: 3.0 }).unwrap();
        assert_eq!(x.iter().filter(|v| v.is_nan()).count(), 1);
    }

    proptest! {
        #[test]
        fn streaming_equals_naive(
            x in proptest::collection::vec(-10.0f64..10.0, 0..200),
            half in 1usize..8,
            k in 0.0f64..5.0,
            spikes in proptest::collection::vec((0usize..200, -100.0f64..100.0), 0..10),
        ) {
            let mut x = x;
            let n = x.len();
            for (i, v) in spikes { if i < n { x[i] = v; } }
            let cfg = HampelConfig { window: 2 * half + 1, k };
            let (want, want_rep) = naive(&x, &cfg);
            let mut got = x.clone();
            let rep = hampel(&mut got, &cfg).unwrap();
            prop_assert_eq!(rep, want_rep);
            prop_assert_eq!(got, want);
        }
    }
}
