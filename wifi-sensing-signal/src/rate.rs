//! Measured frame-rate estimation from frame timestamps.
//!
//! Every rate-dependent computation of this crate (filter design, STFT frequency axes, Doppler
//! velocities) uses the rate *measured* from the stream's own timestamps, never an assumed one.
//! The estimate is the number of frames received per second over the stream, leaving out
//! gaps: intervals longer than both 10 median intervals and 0.5 s. The mean (not the median)
//! keeps jitter and host-side batching (bursts of near-zero intervals, seen with Nexmon) from
//! biasing it; dropped frames lower it (it is the rate actually received, which is what a
//! uniform grid at that rate represents without inventing frames). Non-positive intervals
//! (duplicates, reordering) and intervals longer than [`RateEstimator::MAX_INTERVAL_NS`] are
//! skipped and counted.

use serde::{Deserialize, Serialize};

/// A frame-rate estimate.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RateEstimate {
    /// Frames per second: `1e9 / mean_interval_ns`.
    pub rate_hz: f64,
    /// Median interval between consecutive frames, nanoseconds.
    pub median_interval_ns: f64,
    /// Mean interval over the intervals that are not gaps, nanoseconds.
    pub mean_interval_ns: f64,
    /// Jitter: median absolute deviation of the intervals, nanoseconds.
    pub jitter_ns: f64,
    /// Intervals the estimate is based on.
    pub intervals: usize,
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
            median_mad_i64(&mut self.scratch)
        };
        self.cached = Some(est);
        est
    }

    /// The current rate in Hz, if known.
    pub fn rate_hz(&mut self) -> Option<f64> {
        self.estimate().map(|e| e.rate_hz)
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

fn median_mad_i64(v: &mut [i64]) -> Option<RateEstimate> {
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
    Some(RateEstimate {
        rate_hz: 1e9 / mean,
        median_interval_ns: med,
        mean_interval_ns: mean,
        jitter_ns: mad,
        intervals: n,
    })
}

/// Estimates the frame rate of a whole sequence of timestamps (nanoseconds, in arrival order):
/// the median of all positive intervals up to [`RateEstimator::MAX_INTERVAL_NS`]. `None` with
/// fewer than 2 usable timestamps.
///
/// ```
/// let t: Vec<i64> = (0..20).map(|i| i * 10_000_000).collect();
/// let est = wifi_sensing_signal::rate::estimate_rate(&t).unwrap();
/// assert!((est.rate_hz - 100.0).abs() < 1e-9);
/// ```
pub fn estimate_rate(timestamps_ns: &[i64]) -> Option<RateEstimate> {
    let mut d: Vec<i64> = timestamps_ns
        .windows(2)
        .map(|w| w[1].saturating_sub(w[0]))
        .filter(|&d| d > 0 && d <= RateEstimator::MAX_INTERVAL_NS)
        .collect();
    median_mad_i64(&mut d)
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
    }
}
