//! Resampling an irregular stream onto a uniform time grid, with gap reporting.
//!
//! The grid starts at the first sample's timestamp and steps by `1 / rate_hz`. Grid points
//! between two consecutive input samples are linearly interpolated between them. When two
//! consecutive samples are farther apart than `max_gap_s`, nothing is invented across the gap:
//! a [`Gap`] is reported and the grid restarts at the first sample after it. Samples whose
//! timestamp is not later than the previous one are dropped and counted.
//!
//! ```
//! use wifi_sensing_signal::resample::{resample_uniform, ResampleConfig};
//! // 10 Hz samples with one missing second in the middle
//! let mut t: Vec<i64> = (0..10).map(|i| i * 100_000_000).collect();
//! t.extend((25..35).map(|i| i * 100_000_000));
//! let x: Vec<f64> = t.iter().map(|&t| t as f64 * 1e-9).collect();
//! let out = resample_uniform(&t, &x, &ResampleConfig { rate_hz: 20.0, max_gap_s: 0.5 })?;
//! assert_eq!(out.gaps.len(), 1);
//! assert_eq!(out.t_ns[1], 50_000_000);
//! assert!((out.values[1] - 0.05).abs() < 1e-12);
//! # Ok::<(), wifi_sensing_signal::SignalError>(())
//! ```

use num_complex::{Complex32, Complex64};
use serde::{Deserialize, Serialize};

use crate::error::{Result, SignalError};

/// Resampling parameters.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResampleConfig {
    /// Output rate in Hz, 0.01..=100000.
    pub rate_hz: f64,
    /// Largest interval between input samples, in seconds, that is interpolated across;
    /// longer ones are reported as gaps. Must be > 0. Default 0.5 s.
    pub max_gap_s: f64,
}

impl Default for ResampleConfig {
    fn default() -> Self {
        ResampleConfig {
            rate_hz: 100.0,
            max_gap_s: 0.5,
        }
    }
}

impl ResampleConfig {
    /// Checks the documented ranges.
    pub fn validate(&self) -> Result<()> {
        if !(self.rate_hz.is_finite() && (0.01..=100_000.0).contains(&self.rate_hz)) {
            return Err(SignalError::param(
                "resample",
                "rate",
                self.rate_hz,
                "0.01..=100000 Hz",
            ));
        }
        if !(self.max_gap_s.is_finite() && self.max_gap_s > 0.0 && self.max_gap_s <= 3600.0) {
            return Err(SignalError::param(
                "resample",
                "max_gap",
                self.max_gap_s,
                "0 < max_gap <= 3600 s",
            ));
        }
        Ok(())
    }
}

/// An interval the resampler refused to bridge.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gap {
    /// Timestamp of the last sample before the gap, ns.
    pub start_ns: i64,
    /// Timestamp of the first sample after it, ns.
    pub end_ns: i64,
    /// Grid points that fall inside it and were not produced.
    pub missing: u64,
}

/// Values that can be linearly interpolated.
pub trait Lerp: Copy {
    /// `a + (b - a) * t`.
    fn lerp(a: Self, b: Self, t: f64) -> Self;
}

impl Lerp for f64 {
    #[inline]
    fn lerp(a: Self, b: Self, t: f64) -> Self {
        a + (b - a) * t
    }
}

impl Lerp for f32 {
    #[inline]
    fn lerp(a: Self, b: Self, t: f64) -> Self {
        a + (b - a) * t as f32
    }
}

impl Lerp for Complex32 {
    #[inline]
    fn lerp(a: Self, b: Self, t: f64) -> Self {
        a + (b - a) * t as f32
    }
}

impl Lerp for Complex64 {
    #[inline]
    fn lerp(a: Self, b: Self, t: f64) -> Self {
        a + (b - a) * t
    }
}

/// Streaming resampler of one node's vector-valued samples (all samples of a stream must have
/// the same length).
///
/// ```
/// use wifi_sensing_signal::resample::{Resampler, ResampleConfig};
/// let mut r = Resampler::<f64>::new(ResampleConfig { rate_hz: 2.0, max_gap_s: 2.0 })?;
/// let mut out = Vec::new();
/// r.push(0, &[0.0], |t, v| out.push((t, v[0])))?;
/// r.push(1_000_000_000, &[1.0], |t, v| out.push((t, v[0])))?;
/// assert_eq!(out, vec![(0, 0.0), (500_000_000, 0.5), (1_000_000_000, 1.0)]);
/// # Ok::<(), wifi_sensing_signal::SignalError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Resampler<T> {
    cfg: ResampleConfig,
    period_ns: f64,
    max_gap_ns: f64,
    anchor: i64,
    n: u64,
    prev_t: Option<i64>,
    prev: Vec<T>,
    scratch: Vec<T>,
    gaps: u64,
    dropped: u64,
    produced: u64,
}

impl<T: Lerp> Resampler<T> {
    /// A resampler with validated parameters.
    pub fn new(cfg: ResampleConfig) -> Result<Self> {
        cfg.validate()?;
        Ok(Resampler {
            period_ns: 1e9 / cfg.rate_hz,
            max_gap_ns: cfg.max_gap_s * 1e9,
            cfg,
            anchor: 0,
            n: 0,
            prev_t: None,
            prev: Vec::new(),
            scratch: Vec::new(),
            gaps: 0,
            dropped: 0,
            produced: 0,
        })
    }

    /// The parameters.
    pub fn config(&self) -> &ResampleConfig {
        &self.cfg
    }

    fn grid(&self, n: u64) -> i64 {
        self.anchor + (n as f64 * self.period_ns).round() as i64
    }

    /// Adds a sample at `t_ns`; calls `emit(t, values)` for every grid point up to `t_ns`.
    /// Returns the gap before this sample, if it ended one. Errors when `values` changes
    /// length within a stream.
    pub fn push(
        &mut self,
        t_ns: i64,
        values: &[T],
        mut emit: impl FnMut(i64, &[T]),
    ) -> Result<Option<Gap>> {
        let Some(pt) = self.prev_t else {
            self.restart(t_ns, values);
            emit(t_ns, values);
            self.produced += 1;
            return Ok(None);
        };
        if values.len() != self.prev.len() {
            return Err(SignalError::Shape {
                component: "resample",
                detail: format!(
                    "{} values after {} in the same stream",
                    values.len(),
                    self.prev.len()
                ),
            });
        }
        if t_ns <= pt {
            self.dropped += 1;
            return Ok(None);
        }
        let dt = (t_ns - pt) as f64;
        if dt > self.max_gap_ns {
            // grid points from the next one up to (not including) the restart at t_ns
            let span = ((t_ns - self.grid(self.n)).max(0) as f64 / self.period_ns).ceil();
            let missing = if span.is_finite() { span as u64 } else { 0 };
            let gap = Gap {
                start_ns: pt,
                end_ns: t_ns,
                missing,
            };
            self.gaps += 1;
            self.restart(t_ns, values);
            emit(t_ns, values);
            self.produced += 1;
            return Ok(Some(gap));
        }
        loop {
            let g = self.grid(self.n);
            if g > t_ns {
                break;
            }
            let a = ((g - pt) as f64 / dt).clamp(0.0, 1.0);
            self.scratch.clear();
            self.scratch.extend(
                self.prev
                    .iter()
                    .zip(values)
                    .map(|(&p, &v)| T::lerp(p, v, a)),
            );
            emit(g, &self.scratch);
            self.produced += 1;
            self.n += 1;
        }
        self.prev.clear();
        self.prev.extend_from_slice(values);
        self.prev_t = Some(t_ns);
        Ok(None)
    }

    fn restart(&mut self, t_ns: i64, values: &[T]) {
        self.anchor = t_ns;
        self.n = 1;
        self.prev_t = Some(t_ns);
        self.prev.clear();
        self.prev.extend_from_slice(values);
    }

    /// Gaps reported so far.
    pub fn gaps(&self) -> u64 {
        self.gaps
    }

    /// Samples dropped for not being later than the previous one.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Grid points produced so far.
    pub fn produced(&self) -> u64 {
        self.produced
    }

    /// Forgets the stream.
    pub fn reset(&mut self) {
        self.prev_t = None;
        self.prev.clear();
        self.n = 0;
        self.gaps = 0;
        self.dropped = 0;
        self.produced = 0;
    }
}

/// The output of [`resample_uniform`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Resampled {
    /// Grid timestamps, ns.
    pub t_ns: Vec<i64>,
    /// Values on the grid.
    pub values: Vec<f64>,
    /// Gaps not bridged.
    pub gaps: Vec<Gap>,
    /// Input samples dropped for not being later than the previous one.
    pub dropped: u64,
}

/// Resamples a scalar series `(t_ns[i], x[i])` onto a uniform grid (see the module docs).
///
/// The output length is bounded by the input's time span: an input spanning more than
/// 10⁸ grid points is refused.
pub fn resample_uniform(t_ns: &[i64], x: &[f64], cfg: &ResampleConfig) -> Result<Resampled> {
    if t_ns.len() != x.len() {
        return Err(SignalError::Shape {
            component: "resample",
            detail: format!("{} timestamps for {} values", t_ns.len(), x.len()),
        });
    }
    let mut r = Resampler::<f64>::new(*cfg)?;
    if let (Some(&a), Some(&b)) = (t_ns.iter().min(), t_ns.iter().max()) {
        let pts = (b as f64 - a as f64) * cfg.rate_hz / 1e9;
        if pts > 1e8 {
            return Err(SignalError::param(
                "resample",
                "rate",
                cfg.rate_hz,
                format!(
                    "a rate giving at most 1e8 points over {:.0} s",
                    (b - a) as f64 * 1e-9
                ),
            ));
        }
    }
    let mut out = Resampled {
        t_ns: Vec::new(),
        values: Vec::new(),
        gaps: Vec::new(),
        dropped: 0,
    };
    for (&t, &v) in t_ns.iter().zip(x) {
        let (ts, vs) = (&mut out.t_ns, &mut out.values);
        if let Some(g) = r.push(t, &[v], |t, v| {
            ts.push(t);
            vs.push(v[0]);
        })? {
            out.gaps.push(g);
        }
    }
    out.dropped = r.dropped();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn refuses_bad_config_and_shapes() {
        assert!(ResampleConfig {
            rate_hz: 0.0,
            max_gap_s: 1.0
        }
        .validate()
        .is_err());
        assert!(ResampleConfig {
            rate_hz: 10.0,
            max_gap_s: f64::NAN
        }
        .validate()
        .is_err());
        assert!(resample_uniform(&[0, 1], &[1.0], &ResampleConfig::default()).is_err());
        let mut r = Resampler::<f64>::new(ResampleConfig::default()).unwrap();
        r.push(0, &[1.0, 2.0], |_, _| {}).unwrap();
        assert!(r.push(10, &[1.0], |_, _| {}).is_err());
    }

    #[test]
    fn drops_out_of_order() {
        let out = resample_uniform(
            &[0, 100, 50, 200],
            &[0.0; 4],
            &ResampleConfig {
                rate_hz: 1e4,
                max_gap_s: 1.0,
            },
        )
        .unwrap();
        assert_eq!(out.dropped, 1);
    }

    #[test]
    fn gap_reported_not_bridged() {
        let mut t: Vec<i64> = (0..10).map(|i| i * 10_000_000).collect();
        t.extend((100..110).map(|i| i * 10_000_000));
        let x = vec![1.0; t.len()];
        let out = resample_uniform(
            &t,
            &x,
            &ResampleConfig {
                rate_hz: 100.0,
                max_gap_s: 0.1,
            },
        )
        .unwrap();
        assert_eq!(out.gaps.len(), 1);
        assert_eq!(out.gaps[0].start_ns, 90_000_000);
        assert_eq!(out.gaps[0].end_ns, 1_000_000_000);
        assert_eq!(out.gaps[0].missing, 90);
        // no grid point inside the gap
        assert!(out
            .t_ns
            .iter()
            .all(|&t| t <= 90_000_000 || t >= 1_000_000_000));
        assert_eq!(out.t_ns.len(), 20);
    }

    proptest! {
        /// A 1.3 Hz sine sampled at ~50 Hz with ±30 % timing jitter and random drops,
        /// resampled to 40 Hz, stays within the linear-interpolation error bound.
        #[test]
        fn jittered_sine_reproduced(
            jitter in proptest::collection::vec(-0.3f64..0.3, 300),
            drops in proptest::collection::vec(0.0f64..1.0, 300),
        ) {
            let f = 1.3;
            let sine = |t: f64| (2.0 * std::f64::consts::PI * f * t).sin();
            let mut t = Vec::new();
            let mut x = Vec::new();
            let mut dropped_prev = false;
            for i in 0..300 {
                // isolated drops only (a run of drops is a gap, tested elsewhere)
                if drops[i] < 0.1 && i > 0 && !dropped_prev { dropped_prev = true; continue; }
                dropped_prev = false;
                let ts = (i as f64 + jitter[i]) / 50.0;
                t.push((ts * 1e9) as i64);
                x.push(sine(ts));
            }
            let out = resample_uniform(&t, &x, &ResampleConfig { rate_hz: 40.0, max_gap_s: 0.5 }).unwrap();
            prop_assert!(out.gaps.is_empty());
            for w in out.t_ns.windows(2) {
                prop_assert!((w[1] - w[0] - 25_000_000).abs() <= 1);
            }
            // linear interpolation error bound: h^2 * max|x''| / 8 over the longest interval
            let h = t.windows(2).map(|w| (w[1] - w[0]) as f64 * 1e-9).fold(0.0, f64::max);
            let w2 = (2.0 * std::f64::consts::PI * f).powi(2);
            let bound = h * h * w2 / 8.0 + 1e-6;
            prop_assert!(bound < 0.06);
            for (&tn, &v) in out.t_ns.iter().zip(&out.values) {
                prop_assert!((v - sine(tn as f64 * 1e-9)).abs() <= bound, "t={} v={}", tn, v);
            }
        }
    }
}
