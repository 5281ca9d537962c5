//! Short-time Fourier transform with FFT plans made once (`realfft` / `rustfft`).
//!
//! [`StftPlan`] computes one windowed spectrum per call with no allocation (streaming use), and
//! [`StftPlan::stft`] a whole spectrogram laid out like `scipy.signal.stft` (same window
//! definitions, `boundary="zeros"`, `padded=True`, `scaling="spectrum"`, one-sided for real
//! input; checked within 1e-6 relative by `benches/compare/dsp.py`).
//!
//! Frequencies are `k · fs / nperseg` where `fs` is the stream's measured rate: a tone of
//! `f` Hz lands in bin `round(f · nperseg / fs)` at any frame rate.
//!
//! ```
//! use wifi_sensing_signal::stft::{StftConfig, StftPlan, WindowFn};
//! let fs = 37.0; // any measured rate
//! let x: Vec<f64> = (0..400).map(|i| (2.0 * std::f64::consts::PI * 5.0 * i as f64 / fs).sin()).collect();
//! let mut plan = StftPlan::new(StftConfig { nperseg: 64, hop: 16, window: WindowFn::Hann, ..Default::default() })?;
//! let s = plan.stft(&x, fs)?;
//! let col = s.values.column(10);
//! let peak = (0..col.len()).max_by(|&a, &b| col[a].norm().total_cmp(&col[b].norm())).unwrap();
//! assert!((s.freqs[peak] - 5.0).abs() <= fs / 64.0 / 2.0);
//! # Ok::<(), wifi_sensing_signal::SignalError>(())
//! ```

use std::str::FromStr;
use std::sync::Arc;

use ndarray::{Array2, ShapeBuilder};
use num_complex::Complex64;
use realfft::{RealFftPlanner, RealToComplex};
use rustfft::{Fft, FftPlanner};
use serde::{Deserialize, Serialize};

use crate::error::{Result, SignalError};

/// Largest segment length accepted.
pub const MAX_NPERSEG: usize = 1 << 16;

/// Window functions (periodic forms, as `scipy.signal.get_window` builds them for spectra).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WindowFn {
    /// Hann, `0.5 − 0.5 cos(2πn/N)`.
    #[default]
    Hann,
    /// Hamming, `0.54 − 0.46 cos(2πn/N)`.
    Hamming,
    /// Blackman, `0.42 − 0.5 cos(2πn/N) + 0.08 cos(4πn/N)`.
    Blackman,
    /// Rectangular (scipy's `boxcar`).
    Rect,
}

impl WindowFn {
    /// The `n` window coefficients.
    pub fn coefficients(self, n: usize) -> Vec<f64> {
        let nn = n as f64;
        (0..n)
            .map(|i| {
                let x = 2.0 * std::f64::consts::PI * i as f64 / nn;
                match self {
                    WindowFn::Hann => 0.5 - 0.5 * x.cos(),
                    WindowFn::Hamming => 0.54 - 0.46 * x.cos(),
                    WindowFn::Blackman => 0.42 - 0.5 * x.cos() + 0.08 * (2.0 * x).cos(),
                    WindowFn::Rect => 1.0,
                }
            })
            .collect()
    }

    /// Name as used in specs (`hann`, `hamming`, `blackman`, `rect`).
    pub fn name(self) -> &'static str {
        match self {
            WindowFn::Hann => "hann",
            WindowFn::Hamming => "hamming",
            WindowFn::Blackman => "blackman",
            WindowFn::Rect => "rect",
        }
    }
}

impl FromStr for WindowFn {
    type Err = SignalError;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "hann" | "hanning" => WindowFn::Hann,
            "hamming" => WindowFn::Hamming,
            "blackman" => WindowFn::Blackman,
            "rect" | "boxcar" | "rectangular" => WindowFn::Rect,
            _ => {
                return Err(SignalError::param(
                    "stft",
                    "window_fn",
                    s,
                    "hann, hamming, blackman or rect",
                ))
            }
        })
    }
}

/// A length given in seconds (`1s`, `250ms`) or in frames (`64`, `64f`), resolved against the
/// measured frame rate.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Span {
    /// Seconds.
    Seconds(f64),
    /// Frames.
    Frames(usize),
}

impl Span {
    /// Frames at `rate_hz` (rounded, at least 1).
    pub fn frames(self, rate_hz: f64) -> usize {
        match self {
            Span::Frames(n) => n.max(1),
            Span::Seconds(s) => {
                let f = (s * rate_hz).round();
                if f.is_finite() && f >= 1.0 {
                    (f as usize).min(MAX_NPERSEG)
                } else {
                    1
                }
            }
        }
    }
}

impl FromStr for Span {
    type Err = SignalError;
    fn from_str(s: &str) -> Result<Self> {
        let t = s.trim();
        let bad = || {
            SignalError::param(
                "span",
                "length",
                s,
                "seconds like `1s`/`250ms` or frames like `64`/`64f`",
            )
        };
        let num = |v: &str| {
            v.parse::<f64>()
                .ok()
                .filter(|x| x.is_finite() && *x > 0.0 && *x <= 86_400.0)
        };
        if let Some(v) = t.strip_suffix("ms") {
            return num(v).map(|x| Span::Seconds(x / 1000.0)).ok_or_else(bad);
        }
        if let Some(v) = t.strip_suffix('s') {
            return num(v).map(Span::Seconds).ok_or_else(bad);
        }
        let v = t.strip_suffix('f').unwrap_or(t);
        match v.parse::<usize>() {
            Ok(n) if (1..=MAX_NPERSEG).contains(&n) => Ok(Span::Frames(n)),
            _ => Err(bad()),
        }
    }
}

/// STFT parameters in frames.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StftConfig {
    /// Segment (window) length in frames, 2..=65536. Default 256.
    pub nperseg: usize,
    /// Hop between segments in frames, 1..=nperseg. Default 128.
    pub hop: usize,
    /// Window function. Default Hann.
    pub window: WindowFn,
    /// Pad `nperseg / 2` zeros at both ends (scipy `boundary="zeros"`). Default true.
    pub boundary: bool,
    /// Zero-pad the end to a whole number of hops (scipy `padded=True`). Default true.
    pub padded: bool,
}

impl Default for StftConfig {
    fn default() -> Self {
        StftConfig {
            nperseg: 256,
            hop: 128,
            window: WindowFn::Hann,
            boundary: true,
            padded: true,
        }
    }
}

impl StftConfig {
    /// Checks the documented ranges.
    pub fn validate(&self) -> Result<()> {
        if !(2..=MAX_NPERSEG).contains(&self.nperseg) {
            return Err(SignalError::param(
                "stft",
                "window",
                self.nperseg,
                format!("2..={MAX_NPERSEG} frames"),
            ));
        }
        if self.hop == 0 || self.hop > self.nperseg {
            return Err(SignalError::param(
                "stft",
                "hop",
                self.hop,
                format!("1..={} frames (the window)", self.nperseg),
            ));
        }
        Ok(())
    }
}

fn check_lens(n: usize, seg: usize, out: usize, bins: usize) -> Result<()> {
    if seg == n && out == bins {
        return Ok(());
    }
    Err(SignalError::Shape {
        component: "stft",
        detail: format!("segment {seg} / output {out} for nperseg {n} ({bins} bins)"),
    })
}

/// A spectrogram laid out like scipy's: `values[[freq, time]]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Spectrogram {
    /// Frequency of each row, Hz (one-sided: `0..=fs/2`; two-sided: FFT order, negative
    /// frequencies in the second half, like `numpy.fft.fftfreq`).
    pub freqs: Vec<f64>,
    /// Time of each column, seconds from the first sample (segment centre).
    pub times: Vec<f64>,
    /// Complex spectra, `(freqs, times)` (stored column-major: one segment's spectrum is
    /// contiguous).
    pub values: Array2<Complex64>,
}

/// FFT plans, window and buffers for one segment length, made once.
pub struct StftPlan {
    cfg: StftConfig,
    win: Vec<f64>,
    scale: f64,
    real: Arc<dyn RealToComplex<f64>>,
    complex: Arc<dyn Fft<f64>>,
    rin: Vec<f64>,
    scratch: Vec<Complex64>,
}

impl std::fmt::Debug for StftPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StftPlan").field("cfg", &self.cfg).finish()
    }
}

impl Clone for StftPlan {
    fn clone(&self) -> Self {
        StftPlan::new(self.cfg).expect("validated config")
    }
}

impl StftPlan {
    /// Plans the FFTs for a validated configuration.
    pub fn new(cfg: StftConfig) -> Result<Self> {
        cfg.validate()?;
        let n = cfg.nperseg;
        let win = cfg.window.coefficients(n);
        let s: f64 = win.iter().sum();
        let real = RealFftPlanner::<f64>::new().plan_fft_forward(n);
        let complex = FftPlanner::<f64>::new().plan_fft_forward(n);
        let scratch_len = real
            .get_scratch_len()
            .max(complex.get_inplace_scratch_len());
        Ok(StftPlan {
            cfg,
            scale: if s > 0.0 { 1.0 / s } else { 1.0 },
            win,
            rin: vec![0.0; n],
            scratch: vec![Complex64::default(); scratch_len],
            real,
            complex,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &StftConfig {
        &self.cfg
    }

    /// One-sided bins of a real segment: `nperseg / 2 + 1`.
    pub fn n_bins(&self) -> usize {
        self.cfg.nperseg / 2 + 1
    }

    /// Window, FFT and scale one real segment of `nperseg` samples into `out`
    /// (`nperseg / 2 + 1` bins). Errors on wrong lengths.
    pub fn segment(&mut self, seg: &[f64], out: &mut [Complex64]) -> Result<()> {
        check_lens(self.cfg.nperseg, seg.len(), out.len(), self.n_bins())?;
        for ((d, s), w) in self.rin.iter_mut().zip(seg).zip(&self.win) {
            *d = s * w;
        }
        self.real
            .process_with_scratch(&mut self.rin, out, &mut self.scratch)
            .map_err(|e| SignalError::Numerical {
                component: "stft",
                reason: e.to_string(),
            })?;
        let sc = self.scale;
        out.iter_mut().for_each(|v| *v *= sc);
        Ok(())
    }

    /// Window, FFT and scale one complex segment into `out` (`nperseg` bins, FFT order).
    pub fn segment_complex(&mut self, seg: &[Complex64], out: &mut [Complex64]) -> Result<()> {
        check_lens(self.cfg.nperseg, seg.len(), out.len(), self.cfg.nperseg)?;
        for ((d, s), w) in out.iter_mut().zip(seg).zip(&self.win) {
            *d = s * (w * self.scale);
        }
        self.complex.process_with_scratch(out, &mut self.scratch);
        Ok(())
    }

    fn layout(&self, len: usize) -> Result<(usize, usize, usize)> {
        let n = self.cfg.nperseg;
        let hop = self.cfg.hop;
        let pad = if self.cfg.boundary { n / 2 } else { 0 };
        let mut total = len + 2 * pad;
        if total < n {
            return Err(SignalError::TooShort {
                component: "stft",
                len,
                needed: n - 2 * pad,
            });
        }
        if self.cfg.padded {
            let nadd = (hop - (total - n) % hop) % hop;
            total += nadd % n;
        }
        let noverlap = n - hop;
        let nseg = (total - noverlap) / hop;
        Ok((pad, total, nseg))
    }

    fn times(&self, pad: usize, nseg: usize, fs: f64) -> Vec<f64> {
        let n = self.cfg.nperseg as f64;
        (0..nseg)
            .map(|k| (n / 2.0 + (k * self.cfg.hop) as f64 - pad as f64) / fs)
            .collect()
    }

    fn check_fs(fs: f64) -> Result<()> {
        if fs.is_finite() && fs > 0.0 {
            Ok(())
        } else {
            Err(SignalError::param(
                "stft",
                "fs",
                fs,
                "a measured rate > 0 Hz",
            ))
        }
    }

    /// Zero-extends `x` (boundary and end padding) and runs `seg` over every segment.
    fn run<T: Copy + Default>(
        &mut self,
        x: &[T],
        bins: usize,
        fs: f64,
        seg: fn(&mut Self, &[T], &mut [Complex64]) -> Result<()>,
    ) -> Result<(Array2<Complex64>, usize, usize)> {
        Self::check_fs(fs)?;
        let (pad, total, nseg) = self.layout(x.len())?;
        let n = self.cfg.nperseg;
        let mut ext = vec![T::default(); total];
        ext[pad..pad + x.len()].copy_from_slice(x);
        // column-major: each segment's spectrum is written in place, contiguously
        let mut values = Array2::zeros((bins, nseg).f());
        for (k, mut col) in values.columns_mut().into_iter().enumerate() {
            let s = k * self.cfg.hop;
            let col = col.as_slice_mut().ok_or(SignalError::Numerical {
                component: "stft",
                reason: "column not contiguous".into(),
            })?;
            seg(self, &ext[s..s + n], col)?;
        }
        Ok((values, pad, nseg))
    }

    /// Spectrogram of a real series sampled at `fs` Hz (see the module docs). Output size is
    /// bounded by the input: about `len / hop` columns of `nperseg / 2 + 1` bins.
    pub fn stft(&mut self, x: &[f64], fs: f64) -> Result<Spectrogram> {
        let nb = self.n_bins();
        let (values, pad, nseg) = self.run(x, nb, fs, Self::segment)?;
        let n = self.cfg.nperseg;
        Ok(Spectrogram {
            freqs: (0..nb).map(|k| k as f64 * fs / n as f64).collect(),
            times: self.times(pad, nseg, fs),
            values,
        })
    }

    /// Two-sided spectrogram of a complex series (FFT order, like scipy with
    /// `return_onesided=False`).
    pub fn stft_complex(&mut self, x: &[Complex64], fs: f64) -> Result<Spectrogram> {
        let n = self.cfg.nperseg;
        let (values, pad, nseg) = self.run(x, n, fs, Self::segment_complex)?;
        let freqs = (0..n)
            .map(|k| {
                let kk = if k < n.div_ceil(2) {
                    k as f64
                } else {
                    k as f64 - n as f64
                };
                kk * fs / n as f64
            })
            .collect();
        Ok(Spectrogram {
            freqs,
            times: self.times(pad, nseg, fs),
            values,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn spans_parse() {
        assert_eq!("1s".parse::<Span>().unwrap(), Span::Seconds(1.0));
        assert_eq!("250ms".parse::<Span>().unwrap(), Span::Seconds(0.25));
        assert_eq!("64".parse::<Span>().unwrap(), Span::Frames(64));
        assert_eq!("64f".parse::<Span>().unwrap(), Span::Frames(64));
        for bad in ["", "s", "-1s", "0", "nan s", "1e9s", "x"] {
            assert!(bad.parse::<Span>().is_err(), "{bad}");
        }
        assert_eq!(Span::Seconds(0.5).frames(100.0), 50);
    }

    #[test]
    fn layout_matches_scipy_counts() {
        // scipy.signal.stft(np.zeros(1000), nperseg=256) -> 9 columns; (100, nperseg=64, noverlap=48) -> 8
        let mut p = StftPlan::new(StftConfig::default()).unwrap();
        assert_eq!(p.stft(&[0.0; 1000], 1.0).unwrap().times.len(), 9);
        let mut p = StftPlan::new(StftConfig {
            nperseg: 64,
            hop: 16,
            ..Default::default()
        })
        .unwrap();
        let s = p.stft(&[0.0; 100], 10.0).unwrap();
        assert_eq!(s.times.len(), 8);
        assert_eq!(s.times[1], 1.6);
    }

    #[test]
    fn too_short_and_bad_config() {
        let mut p = StftPlan::new(StftConfig {
            nperseg: 64,
            hop: 8,
            boundary: false,
            ..Default::default()
        })
        .unwrap();
        assert!(p.stft(&[1.0; 10], 10.0).is_err());
        assert!(p.stft(&[1.0; 100], 0.0).is_err());
        assert!(StftConfig {
            nperseg: 1,
            ..Default::default()
        }
        .validate()
        .is_err());
        assert!(StftConfig {
            nperseg: 8,
            hop: 9,
            ..Default::default()
        }
        .validate()
        .is_err());
    }

    #[test]
    fn complex_tone_sign() {
        let fs = 50.0;
        let n = 64;
        let f = -5.0 * fs / n as f64; // negative frequency: bin n - 5
        let x: Vec<Complex64> = (0..256)
            .map(|i| Complex64::from_polar(1.0, 2.0 * std::f64::consts::PI * f * i as f64 / fs))
            .collect();
        let mut p = StftPlan::new(StftConfig {
            nperseg: n,
            hop: 16,
            ..Default::default()
        })
        .unwrap();
        let s = p.stft_complex(&x, fs).unwrap();
        let col = s.values.column(8);
        let peak = (0..n)
            .max_by(|&a, &b| col[a].norm().total_cmp(&col[b].norm()))
            .unwrap();
        assert_eq!(peak, n - 5);
        assert!((s.freqs[peak] - f).abs() < 1e-9);
    }

    proptest! {
        /// A tone lands in bin round(f·N/fs) at any frame rate, with the window's coherent gain.
        #[test]
        fn tone_in_right_bin(fs in 5.0f64..2000.0, frac in 0.05f64..0.45, nexp in 5u32..9) {
            let n = 1usize << nexp;
            let k = ((frac * n as f64).round() as usize).max(1);
            let f = k as f64 * fs / n as f64;
            let x: Vec<f64> = (0..4 * n).map(|i| (2.0 * std::f64::consts::PI * f * i as f64 / fs).cos()).collect();
            let mut p = StftPlan::new(StftConfig { nperseg: n, hop: n / 4, ..Default::default() }).unwrap();
            let s = p.stft(&x, fs).unwrap();
            let col = s.values.column(s.times.len() / 2);
            let peak = (0..col.len()).max_by(|&a, &b| col[a].norm().total_cmp(&col[b].norm())).unwrap();
            prop_assert_eq!(peak, k);
            prop_assert!((s.freqs[peak] - f).abs() < 1e-9 * fs);
            // 'spectrum' scaling: a unit cosine's bin has magnitude 1/2
            prop_assert!((col[k].norm() - 0.5).abs() < 1e-9);
        }
    }
}
