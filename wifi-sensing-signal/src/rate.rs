//! Measured frame-rate estimation from frame timestamps.
//!
//! Every rate-dependent computation of this crate (filter design, STFT frequency axes, Doppler
//! velocities) uses the rate *measured* from the stream's own timestamps, never an assumed one.
//! The estimate is the number of frames received per second over the stream, leaving out
//! gaps: intervals longer than both 10 median intervals and 0.5 s. The mean (not the median)
//! keeps jitter and host-side batching (bursts of near-zero intervals, seen with Nexmon) from
//! biasing it; dropped frames lower it (it is the rate actually received). Non-positive intervals
//! (duplicates, reordering) and intervals longer than [`RateEstimator::MAX_INTERVAL_NS`] are
//! skipped and counted.
//!
//! A uniform grid that resamples the stream (spectrograms, Doppler) and a filter designed for
//! the stream need the rate the frames were *sent* at instead: a grid at the received rate of
//! a 50 Hz stream that lost 1 frame in 8 has its Nyquist frequency at 21.9 Hz and folds a
//! 22 Hz tone to 21.8 Hz. [`RateEstimate::sampling_rate_hz`] counts an interval about k median
//! intervals long (k - 1 frames lost in between) as k sampling intervals, so drops do not lower
//! it (up to 9 lost in a row), on regular streams (jitter at most [`REGULAR_JITTER`] of the
//! median interval). On irregular streams (host batching, bursts) it is the received rate; it
//! is never below the received rate.

use serde::{Deserialize, Serialize};

/// A frame-rate estimate.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RateEstimate {
    /// Frames per second received: `1e9 / mean_interval_ns` (dropped frames lower it).
    pub rate_hz: f64,
    /// Frames per second the stream samples at: dropped frames (intervals that are whole
    /// multiples of the median interval) do not lower it; the received rate `rate_hz` on an
    /// irregular stream. The rate of a uniform grid that resamples the stream.
    ///
    /// ```
    /// // 50 Hz, every 5th frame lost: 40 frames received per second, sampled at 50 Hz
    /// let t: Vec<i64> = (0..200i64).filter(|i| i % 5 != 4).map(|i| i * 20_000_000).collect();
    /// let est = wifi_sensing_signal::rate::estimate_rate(&t).unwrap();
    /// assert!((est.rate_hz - 40.0).abs() < 0.5, "{}", est.rate_hz);
    /// assert!((est.sampling_rate_hz - 50.0).abs() < 1e-9, "{}", est.sampling_rate_hz);
    /// ```
    pub sampling_rate_hz: f64,
    /// Median interval between consecutive frames, nanoseconds.
    pub median_interval_ns: f64,
    /// Mean interval over the intervals that are not gaps, nanoseconds.
    pub mean_interval_ns: f64,
    /// Jitter: median absolute deviation of the intervals, nanoseconds.
    pub jitter_ns: f64,
    /// Intervals the estimate is based on.
    pub intervals: usize,
    /// Frames lost on the way that the sampling rate counts (an interval about k median
    /// intervals long counts k - 1), over the intervals that are not gaps; 0 on an irregular
    /// stream, where the sampling rate is the received rate.
    ///
    /// ```
    /// // 50 Hz, every 5th frame lost: 40 of 200 frames
    /// let t: Vec<i64> = (0..200i64).filter(|i| i % 5 != 4).map(|i| i * 20_000_000).collect();
    /// let est = wifi_sensing_signal::rate::estimate_rate(&t).unwrap();
    /// assert_eq!(est.frames_lost, 39); // the 40th is after the last frame received
    /// ```
    #[serde(default)]
    pub frames_lost: u64,
}

impl RateEstimate {
    /// Whether the intervals are regular enough for a sampling rate: jitter at most
    /// [`REGULAR_JITTER`] of the median interval. On an irregular stream `sampling_rate_hz` is
    /// the received rate and `frames_lost` is 0.
    ///
    /// ```
    /// let t: Vec<i64> = (0..50).map(|i| i * 20_000_000).collect();
    /// assert!(wifi_sensing_signal::rate::estimate_rate(&t).unwrap().is_regular());
    /// // intervals of 5 to 35 ms in no order (host batching)
    /// let mut t = vec![0i64];
    /// for i in 0..50i64 {
    ///     t.push(t[t.len() - 1] + (5 + i * 7919 % 31) * 1_000_000);
    /// }
    /// assert!(!wifi_sensing_signal::rate::estimate_rate(&t).unwrap().is_regular());
    /// ```
    pub fn is_regular(&self) -> bool {
        self.jitter_ns <= REGULAR_JITTER * self.median_interval_ns
    }
}

/// Streaming frame-rate estimator for one node (use one per node, e.g. in a
/// `wifi_sensing_core::PerNode`).
///
/// ```
/// use wifi_sensing_signal::rate::RateEstimator;
/// let mut r = RateEstimator::default();
/// for i in 0..100i64 {
///     // 50 Hz with +-1 ms jitter
///     r.push(i * 20_000_000 + (i % 3 - 1) * 1_000_000);
/// }
/// let est = r.estimate().unwrap();
/// assert!((est.rate_hz - 50.0).abs() < 1.0, "{}", est.rate_hz);
/// ```
#[derive(Clone, Debug)]
pub struct RateEstimator {
    ring: Vec<i64>,
    head: usize,
    filled: usize,
    last_ts: Option<i64>,
    scratch: Vec<i64>,
    min_intervals: usize,
    skipped: u64,
    cached: Option<Option<RateEstimate>>,
}

impl Default for RateEstimator {
    fn default() -> Self {
        Self::new(64, 4)
    }
}

impl RateEstimator {
    /// Intervals longer than this (10 s) are gaps, not a rate.
    pub const MAX_INTERVAL_NS: i64 = 10_000_000_000;

    /// An estimator over the last `capacity` intervals (at least 1; capped at 4096) that gives
    /// an estimate once `min_intervals` (at least 1) were seen.
    pub fn new(capacity: usize, min_intervals: usize) -> Self {
        let capacity = capacity.clamp(1, 4096);
        RateEstimator {
            ring: vec![0; capacity],
            head: 0,
            filled: 0,
            last_ts: None,
            scratch: Vec::with_capacity(capacity),
            min_intervals: min_intervals.clamp(1, capacity),
            skipped: 0,
            cached: None,
        }
    }

    /// Adds one frame timestamp (nanoseconds, any origin).
    pub fn push(&mut self, timestamp_ns: i64) {
        if let Some(prev) = self.last_ts {
            let d = timestamp_ns.saturating_sub(prev);
            if d > 0 && d <= Self::MAX_INTERVAL_NS {
                self.ring[self.head] = d;
                self.head = (self.head + 1) % self.ring.len();
                self.filled = (self.filled + 1).min(self.ring.len());
                self.cached = None;
            } else {
                self.skipped += 1;
            }
            if d <= 0 {
                // keep the later of the two as the reference
                return;
            }
        }
        self.last_ts = Some(timestamp_ns);
    }

    /// Intervals skipped (non-positive or longer than [`Self::MAX_INTERVAL_NS`]).
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// The current estimate, `None` until `min_intervals` intervals were seen.
    pub fn estimate(&mut self) -> Option<RateEstimate> {
        if let Some(c) = self.cached {
            return c;
        }
        let est = if self.filled < self.min_intervals {
            None
        } else {
            self.scratch.clear();
            self.scratch.extend_from_slice(&self.ring[..self.filled]);
            // the intervals in arrival order: the ring from its oldest entry once it wrapped
            let (newer, older) =
                self.ring[..self.filled].split_at(if self.filled == self.ring.len() {
                    self.head
                } else {
                    0
                });
            median_mad_i64(&mut self.scratch, older.iter().chain(newer).copied())
        };
        self.cached = Some(est);
        est
    }

    /// The current rate in Hz (frames received per second), if known.
    pub fn rate_hz(&mut self) -> Option<f64> {
        self.estimate().map(|e| e.rate_hz)
    }

    /// The current sampling rate in Hz ([`RateEstimate::sampling_rate_hz`]: dropped frames
    /// do not lower it), if known.
    pub fn sampling_rate_hz(&mut self) -> Option<f64> {
        self.estimate().map(|e| e.sampling_rate_hz)
    }

    /// Forgets everything.
    pub fn reset(&mut self) {
        self.head = 0;
        self.filled = 0;
        self.last_ts = None;
        self.skipped = 0;
        self.cached = None;
    }
}

/// Largest jitter (median absolute deviation of the intervals, as a share of the median
/// interval) of a stream whose dropped frames [`RateEstimate::sampling_rate_hz`] counts.
pub const REGULAR_JITTER: f64 = 0.15;

/// An interval shorter than this share of the median interval (a frame early, late or
/// delivered with the next one) is added to the next one by [`RateEstimate::sampling_rate_hz`].
const SHORT: f64 = 0.7;

/// Longest interval, in median intervals, that [`RateEstimate::sampling_rate_hz`] counts as
/// several sampling intervals (at most 9 frames lost in a row); a longer one counts as one, as
/// in the received rate (which the sampling rate is never below), so that host batching (bursts of frames microseconds apart, then a
/// long pause) is not taken for a fast stream with drops.
const MAX_SLOTS: f64 = 10.0;

/// The estimate from the intervals `v` (any order; sorted here) and the same intervals in
/// arrival order (`chrono`, for the sampling rate).
fn median_mad_i64(v: &mut [i64], chrono: impl Iterator<Item = i64>) -> Option<RateEstimate> {
    let n = v.len();
    if n == 0 {
        return None;
    }
    v.sort_unstable();
    let med = if n % 2 == 1 {
        v[n / 2] as f64
    } else {
        (v[n / 2 - 1] as f64 + v[n / 2] as f64) / 2.0
    };
    if med <= 0.0 {
        return None;
    }
    // MAD without allocating: deviations are ascending outwards from the median on both sides
    let mad = {
        let lo = (n - 1) / 2;
        let (mut i, mut j) = (lo as isize, lo + 1);
        let mut devs = [0.0f64; 2];
        let want = n / 2; // index (0-based) of the upper median of the deviations
        let mut k = 0;
        let mut last = 0.0;
        while k <= want {
            let l = if i >= 0 {
                med - v[i as usize] as f64
            } else {
                f64::INFINITY
            };
            let r = if j < n {
                v[j] as f64 - med
            } else {
                f64::INFINITY
            };
            if l <= r {
                last = l;
                i -= 1;
            } else {
                last = r;
                j += 1;
            }
            if k + 1 == want {
                devs[0] = last;
            }
            k += 1;
        }
        devs[1] = last;
        if n % 2 == 1 {
            last
        } else {
            (devs[0] + devs[1]) / 2.0
        }
    };
    // Received frames per second over the intervals that are not gaps (longer than both
    // 10 median intervals and 0.5 s): the mean keeps jitter and host-side batching (bursts of
    // near-zero intervals) from biasing the rate, the gap rule keeps pauses out.
    let gap = (10.0 * med).max(5e8);
    let (mut time, mut n_int) = (0.0, 0.0);
    for &x in v.iter() {
        let x = x as f64;
        if x <= gap {
            time += x;
            n_int += 1.0;
        }
    }
    let mean = if n_int > 0.0 && time > 0.0 {
        time / n_int
    } else {
        med
    };
    // Sampling interval: on a regular stream an interval about k median intervals long is k
    // sampling intervals with k - 1 frames lost. An interval shorter than SHORT medians (a frame
    // early, late or delivered with the next) is added to the next one, so that a late frame's
    // long interval and the short one after it count as the two sampling intervals they span.
    // the rule of `RateEstimate::is_regular`
    let (sampling, frames_lost) = if mad <= REGULAR_JITTER * med && time > 0.0 {
        let (mut slots, mut acc) = (0.0, 0.0);
        for x in chrono {
            let x = x as f64;
            if x > gap {
                continue;
            }
            acc += x;
            if acc < SHORT * med {
                continue;
            }
            let k = (acc / med).round();
            slots += if k <= MAX_SLOTS { k } else { 1.0 };
            acc = 0.0;
        }
        if acc > 0.0 {
            slots += 1.0;
        }
        if slots > n_int {
            // slots and n_int are whole numbers
            (time / slots, (slots - n_int).round() as u64)
        } else {
            (mean, 0)
        }
    } else {
        (mean, 0)
    };
    Some(RateEstimate {
        rate_hz: 1e9 / mean,
        sampling_rate_hz: 1e9 / sampling,
        median_interval_ns: med,
        mean_interval_ns: mean,
        jitter_ns: mad,
        intervals: n,
        frames_lost,
    })
}

/// Estimates the frame rate of a whole sequence of timestamps (nanoseconds, in arrival order)
/// from all positive intervals up to [`RateEstimator::MAX_INTERVAL_NS`], as
/// [`RateEstimator`] does (the mean interval leaving out gaps; the sampling rate counting
/// dropped frames). `None` with fewer than 2 usable timestamps.
///
/// ```
/// let t: Vec<i64> = (0..20).map(|i| i * 10_000_000).collect();
/// let est = wifi_sensing_signal::rate::estimate_rate(&t).unwrap();
/// assert!((est.rate_hz - 100.0).abs() < 1e-9);
/// ```
pub fn estimate_rate(timestamps_ns: &[i64]) -> Option<RateEstimate> {
    // the usable intervals in arrival order (made twice rather than copied: sorted, then in order)
    let intervals = || {
        timestamps_ns
            .windows(2)
            .map(|w| w[1].saturating_sub(w[0]))
            .filter(|&d| d > 0 && d <= RateEstimator::MAX_INTERVAL_NS)
    };
    let mut d: Vec<i64> = intervals().collect();
    median_mad_i64(&mut d, intervals())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_estimate_without_intervals() {
        let mut r = RateEstimator::default();
        assert!(r.estimate().is_none());
        r.push(5);
        assert!(r.estimate().is_none());
        assert!(estimate_rate(&[]).is_none());
        assert!(estimate_rate(&[0, 0, 0]).is_none());
    }

    #[test]
    fn robust_to_drops_duplicates_and_gaps() {
        let mut r = RateEstimator::new(64, 4);
        let mut t = 0i64;
        for i in 0..200 {
            t += if i % 7 == 0 {
                2 * 12_500_000
            } else {
                12_500_000
            };
            r.push(t);
            if i % 13 == 0 {
                r.push(t); // duplicate
            }
        }
        r.push(t + 60_000_000_000); // a minute gap
        let e = r.estimate().unwrap();
        // one drop in 7 frames: 80 Hz nominal, 70 Hz received
        assert!((e.rate_hz - 70.0).abs() < 0.5, "{e:?}");
        assert!((e.median_interval_ns - 12_500_000.0).abs() < 1.0);
        assert!(r.skipped() > 0);
        // ... but it samples at 80 Hz
        assert!((e.sampling_rate_hz - 80.0).abs() < 1e-6, "{e:?}");
    }

    #[test]
    fn sampling_rate_counts_drops_on_jittered_streams() {
        // 50 Hz with +-1 ms jitter, frames 3, 10, 11 and 12 of every 17 lost
        let t: Vec<i64> = (0..1000i64)
            .filter(|i| ![3, 10, 11, 12].contains(&(i % 17)))
            .map(|i| i * 20_000_000 + (i * 7 % 3 - 1) * 1_000_000)
            .collect();
        let e = estimate_rate(&t).unwrap();
        assert!((e.rate_hz - 50.0 * 13.0 / 17.0).abs() < 0.5, "{e:?}");
        assert!((e.sampling_rate_hz - 50.0).abs() < 0.05, "{e:?}");
        // every frame missing between the first and the last received one is counted
        let last = (0..1000i64)
            .rev()
            .find(|i| ![3, 10, 11, 12].contains(&(i % 17)))
            .unwrap();
        let lost = (0..last)
            .filter(|i| [3, 10, 11, 12].contains(&(i % 17)))
            .count();
        assert_eq!(e.frames_lost, lost as u64, "{e:?}");
    }

    #[test]
    fn sampling_rate_is_the_received_rate_on_bursty_streams() {
        // host batching: bursts of 4 frames 0.1 ms apart (or 0.1-0.3 ms) every 40 ms
        for spread in [0, 1] {
            let mut t = Vec::new();
            for b in 0..300i64 {
                for j in 0..4i64 {
                    t.push(b * 40_000_000 + j * (100_000 + 100_000 * (b % 3) * spread));
                }
            }
            let e = estimate_rate(&t).unwrap();
            assert!((e.rate_hz - 100.0).abs() < 0.5, "{e:?}");
            assert_eq!(e.sampling_rate_hz, e.rate_hz);
            assert_eq!(e.frames_lost, 0);
        }
    }
}
