//! Short-time Fourier transform with FFT plans made once (`realfft` / `rustfft`).
//!
//! [`StftPlan`] computes one windowed spectrum per call with no allocation (streaming use), and
//! [`StftPlan::stft`] a whole spectrogram laid out like `scipy.signal.stft` (same window
//! definitions, `boundary="zeros"`, `padded=True`, `scaling="spectrum"`, one-sided for real
//! input; checked within 1e-6 relative by `benches/compare/dsp.py`).
//! [`StftPlan::stft_into`] and [`StftPlan::stft_channels_into`] write the same values into a
//! spectrogram the caller keeps, without allocating once its shape matches. An empty series
//! has no segment (no column), as scipy's result for it is empty; a series shorter than one
//! segment after the padding is refused ([`SignalError::TooShort`]).
//!
//! A real series is transformed two segments per complex FFT (segment `k` in the real parts,
//! segment `k + 1` in the imaginary parts, the two spectra split by conjugate symmetry), the
//! window and scaling applied while the segments are copied in, and the two spectra appended
//! to the output with one copy; the result equals one real FFT per segment within 1e-12 of the
//! largest magnitude (property test). These loops are compiled for the best instruction set
//! the CPU offers, chosen at run time (`pulp`: AVX2 or AVX-512 on x86-64 where present);
//! rustfft picks its own AVX kernels the same way.
//!
//! A plan computes in `f64` ([`StftPlan::new`], the default) or in `f32`
//! ([`StftPlan::new_f32`], a `StftPlan<f32>`; see
//! [`Sample`]): the precision CSI comes in (a [`CsiFrame`] holds `Complex32`) and the one
//! scipy uses for `float32` input. The `f32` plan takes `f32` series and returns `complex64`
//! spectra, within about 2e-7 of the largest magnitude of the `f64` result (checked within
//! 1e-6 by a property test, and against scipy on both precisions by `dsp.py`), in about half
//! the time and half the memory:
//!
//! ```
//! use wifi_sensing_signal::stft::{StftConfig, StftPlan};
//! // amplitudes of one subcarrier of 500 frames at 100 Hz, in the frames' own precision
//! let amp: Vec<f32> = (0..500).map(|i| 1.0 + (i as f32 * 0.6).sin()).collect();
//! let mut plan = StftPlan::new_f32(StftConfig { nperseg: 64, hop: 16, ..Default::default() })?;
//! let s = plan.stft(&amp, 100.0)?;
//! let wide = StftPlan::new(*plan.config())?
//!     .stft(&amp.iter().map(|&v| v as f64).collect::<Vec<_>>(), 100.0)?;
//! assert_eq!((s.freqs.len(), s.times.len()), wide.values.dim());
//! for (a, b) in s.values.iter().zip(&wide.values) {
//!     assert!((a.re as f64 - b.re).abs() < 1e-6 && (a.im as f64 - b.im).abs() < 1e-6);
//! }
//! # Ok::<(), wifi_sensing_signal::SignalError>(())
//! ```
//!
//! [`CsiFrame`]: wifi_sensing_core::CsiFrame
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

use ndarray::{Array2, Array3, ArrayView2, ShapeBuilder};
use num_complex::Complex;
#[cfg(test)]
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
    /// Checks that a hop is at most the window when both are in the same unit (seconds or
    /// frames); with mixed units the hop is clamped to the window once both are resolved at the
    /// measured rate. `component` names the caller in the error.
    ///
    /// ```
    /// use wifi_sensing_signal::stft::Span;
    /// assert!(Span::check_hop(Span::Seconds(1.0), Span::Seconds(0.25), "spectrogram").is_ok());
    /// assert!(Span::check_hop(Span::Frames(50), Span::Frames(150), "spectrogram").is_err());
    /// assert!(Span::check_hop(Span::Seconds(1.0), Span::Seconds(3.0), "spectrogram").is_err());
    /// ```
    pub fn check_hop(window: Span, hop: Span, component: &'static str) -> Result<()> {
        match (window, hop) {
            (Span::Frames(w), Span::Frames(h)) if h > w => Err(SignalError::param(
                component,
                "hop",
                h,
                format!("at most the window ({w} frames)"),
            )),
            (Span::Seconds(w), Span::Seconds(h)) if h > w => Err(SignalError::param(
                component,
                "hop",
                format!("{h}s"),
                format!("at most the window ({w} s)"),
            )),
            _ => Ok(()),
        }
    }

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

/// The floating-point types an STFT computes in (sealed): `f64`, the default and scipy's
/// precision for `float64` input, and `f32`, the precision of a [`CsiFrame`]'s CSI and of
/// scipy's result for `float32` input (`complex64`): half the memory and about twice the
/// speed, within about 2e-7 of the largest magnitude of the `f64` result. [`StftPlan::new`]
/// makes an `f64` plan, [`StftPlan::new_f32`] an `f32` one, [`StftPlan::with_config`] either.
///
/// [`CsiFrame`]: wifi_sensing_core::CsiFrame
pub trait Sample: rustfft::FftNum + bytemuck::Pod + Default + PartialOrd + sealed::Sealed {
    /// Largest magnitude the paired paths take, so that no FFT of up to [`MAX_NPERSEG`]
    /// points overflows: a segment's non-finite spectrum would otherwise spill into its
    /// partner's.
    const PAIR_LIMIT: Self;
    /// `v` rounded to this type.
    fn of(v: f64) -> Self;
}

impl Sample for f64 {
    const PAIR_LIMIT: f64 = 1e300;
    fn of(v: f64) -> f64 {
        v
    }
}

impl Sample for f32 {
    // `f32::MAX / MAX_NPERSEG` is about 5e33
    const PAIR_LIMIT: f32 = 1e33;
    fn of(v: f64) -> f32 {
        v as f32
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// Deserialisers of the spectrogram arrays: ndarray's own form (`{"v": 1, "dim": [..], "data":
/// [..]}`, each complex value `[re, im]`), in which a human-readable format may hold `null` for a
/// non-finite part (what `serde_json` writes for NaN and infinity), read back as NaN. The arrays
/// come back in the layouts the STFT makes: each segment's spectrum contiguous.
mod nan_null {
    use super::Sample;
    use ndarray::{Array, Array2, Array3, Dimension, ShapeBuilder};
    use num_complex::Complex;
    use serde::de::{Deserialize, Deserializer, Error};

    #[derive(serde::Deserialize)]
    #[serde(bound(deserialize = "P: Deserialize<'de>"), deny_unknown_fields)]
    struct Wire<P> {
        v: u8,
        dim: Vec<usize>,
        data: Vec<[P; 2]>,
    }

    /// Values in logical (row-major) order, and the shape.
    type Flat<T> = (Vec<Complex<T>>, Vec<usize>);

    /// The values and the shape, from a human-readable format.
    fn read<'de, D, T>(d: D, rank: usize) -> Result<Flat<T>, D::Error>
    where
        D: Deserializer<'de>,
        T: Sample + Deserialize<'de>,
    {
        let w = Wire::<Option<T>>::deserialize(d)?;
        if w.v != 1 {
            return Err(D::Error::custom(format!(
                "unknown array format version {}, expected 1",
                w.v
            )));
        }
        if w.dim.len() != rank {
            return Err(D::Error::custom(format!(
                "array of {} dimensions, expected {rank}",
                w.dim.len()
            )));
        }
        let n = w.dim.iter().try_fold(1usize, |a, &b| a.checked_mul(b));
        if n != Some(w.data.len()) {
            return Err(D::Error::custom(format!(
                "array shape {:?} does not match its {} values",
                w.dim,
                w.data.len()
            )));
        }
        let data = w
            .data
            .into_iter()
            .map(|[re, im]| {
                let nan = T::of(f64::NAN);
                Complex::new(re.unwrap_or(nan), im.unwrap_or(nan))
            })
            .collect();
        Ok((data, w.dim))
    }

    fn relayout<T: Sample, E: ndarray::Dimension>(
        logical: Array<Complex<T>, E>,
        mut out: Array<Complex<T>, E>,
    ) -> Array<Complex<T>, E> {
        out.assign(&logical);
        out
    }

    pub(super) fn array2<'de, D, T>(d: D) -> Result<Array2<Complex<T>>, D::Error>
    where
        D: Deserializer<'de>,
        T: Sample + Deserialize<'de>,
    {
        let logical = if d.is_human_readable() {
            let (data, dim) = read::<D, T>(d, 2)?;
            Array2::from_shape_vec((dim[0], dim[1]), data).map_err(D::Error::custom)?
        } else {
            Array2::deserialize(d)?
        };
        let zero = Complex::<T>::default();
        let out = Array2::from_elem(logical.raw_dim().into_pattern().f(), zero);
        Ok(relayout(logical, out))
    }

    pub(super) fn array3<'de, D, T>(d: D) -> Result<Array3<Complex<T>>, D::Error>
    where
        D: Deserializer<'de>,
        T: Sample + Deserialize<'de>,
    {
        let logical = if d.is_human_readable() {
            let (data, dim) = read::<D, T>(d, 3)?;
            Array3::from_shape_vec((dim[0], dim[1], dim[2]), data).map_err(D::Error::custom)?
        } else {
            Array3::deserialize(d)?
        };
        let (c, f, t) = logical.dim();
        let zero = Complex::<T>::default();
        let out = Array3::from_elem((c, t, f), zero).permuted_axes([0, 2, 1]);
        Ok(relayout(logical, out))
    }
}

/// A spectrogram laid out like scipy's: `values[[freq, time]]`, complex values of `T`
/// (`f64` unless an `f32` plan made it).
///
/// It serialises with serde; in JSON, which has no NaN or infinity, a non-finite part is written
/// as `null` and read back as NaN:
///
/// ```
/// use wifi_sensing_signal::stft::{Spectrogram, StftConfig, StftPlan};
/// let mut plan = StftPlan::new(StftConfig { nperseg: 8, hop: 4, ..StftConfig::default() })?;
/// let mut x = vec![1.0; 32];
/// x[5] = f64::NAN;
/// let s = plan.stft(&x, 10.0)?;
/// let json = serde_json::to_string(&s).unwrap();
/// let back: Spectrogram = serde_json::from_str(&json).unwrap();
/// assert_eq!(back.values.dim(), s.values.dim());
/// assert!(back.values[[0, 1]].re.is_nan() && s.values[[0, 1]].re.is_nan());
/// assert_eq!(back.values[[0, 7]], s.values[[0, 7]]);
/// # Ok::<(), wifi_sensing_signal::SignalError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(bound(deserialize = "T: Sample + Deserialize<'de>"))]
pub struct Spectrogram<T = f64> {
    /// Frequency of each row, Hz (one-sided: `0..=fs/2`; two-sided: FFT order, negative
    /// frequencies in the second half, like `numpy.fft.fftfreq`).
    pub freqs: Vec<f64>,
    /// Time of each column, seconds from the first sample (segment centre).
    pub times: Vec<f64>,
    /// Complex spectra, `(freqs, times)` (stored column-major: one segment's spectrum is
    /// contiguous).
    #[serde(deserialize_with = "nan_null::array2")]
    pub values: Array2<Complex<T>>,
}

/// Spectrograms of several channels (subcarriers, antennas) on one time and frequency grid,
/// from [`StftPlan::stft_channels`].
///
/// Serialised like [`Spectrogram`]: a non-finite part is `null` in JSON and read back as NaN.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(bound(deserialize = "T: Sample + Deserialize<'de>"))]
pub struct SpectrogramBatch<T = f64> {
    /// Frequency of each bin, Hz (one-sided, `0..=fs/2`).
    pub freqs: Vec<f64>,
    /// Time of each segment, seconds from the first sample (segment centre).
    pub times: Vec<f64>,
    /// Complex spectra, `values[[channel, freq, time]]`: channel `c` is the spectrogram
    /// [`StftPlan::stft`] gives for column `c`. In memory, channel after channel, each
    /// segment's spectrum contiguous.
    #[serde(deserialize_with = "nan_null::array3")]
    pub values: Array3<Complex<T>>,
}

/// FFT plans, window and buffers for one segment length, made once, computing in `f64` (the
/// default) or `f32` (see [`Sample`]).
pub struct StftPlan<T: Sample = f64> {
    cfg: StftConfig,
    /// window coefficients times the spectrum scaling `1 / sum(window)`
    wsc: Vec<T>,
    /// `wsc / 2`: the window of the paired path, whose split doubles every bin
    whalf: Vec<T>,
    real: Arc<dyn RealToComplex<T>>,
    complex: Arc<dyn Fft<T>>,
    rin: Vec<T>,
    /// complex FFT input and output of the paired path, [`PAIRS`] segments of `nperseg`
    zin: Vec<Complex<T>>,
    zout: Vec<Complex<T>>,
    /// the columns of a matrix, each contiguous (`stft_channels`)
    cols: Vec<T>,
    /// a few segments' spectra, before they are copied out
    split: Vec<Complex<T>>,
    scratch: Vec<Complex<T>>,
}

impl<T: Sample> std::fmt::Debug for StftPlan<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StftPlan").field("cfg", &self.cfg).finish()
    }
}

impl<T: Sample> Clone for StftPlan<T> {
    fn clone(&self) -> Self {
        StftPlan::with_config(self.cfg).expect("validated config")
    }
}

impl StftPlan<f64> {
    /// Plans the FFTs for a validated configuration, computing in `f64`.
    ///
    /// ```
    /// use wifi_sensing_signal::stft::{StftConfig, StftPlan};
    /// let plan = StftPlan::new(StftConfig { nperseg: 64, hop: 16, ..Default::default() })?;
    /// assert_eq!(plan.n_bins(), 33);
    /// # Ok::<(), wifi_sensing_signal::SignalError>(())
    /// ```
    pub fn new(cfg: StftConfig) -> Result<Self> {
        Self::with_config(cfg)
    }
}

impl StftPlan<f32> {
    /// Plans the FFTs for a validated configuration, computing in `f32` (see [`Sample`]).
    ///
    /// ```
    /// use wifi_sensing_signal::stft::{StftConfig, StftPlan};
    /// let mut plan = StftPlan::new_f32(StftConfig { nperseg: 64, hop: 16, ..Default::default() })?;
    /// let s = plan.stft(&[1.0f32; 500], 100.0)?;
    /// assert_eq!(s.values[[0, 10]].re, 1.0);
    /// # Ok::<(), wifi_sensing_signal::SignalError>(())
    /// ```
    pub fn new_f32(cfg: StftConfig) -> Result<Self> {
        Self::with_config(cfg)
    }
}

impl<T: Sample> StftPlan<T> {
    /// Plans the FFTs for a validated configuration in `T`'s precision: the constructor for
    /// code generic over the sample type ([`StftPlan::new`] is the `f64` one and
    /// [`StftPlan::new_f32`] the `f32` one, each naming its type, so that `StftPlan::new(cfg)`
    /// needs no annotation).
    pub fn with_config(cfg: StftConfig) -> Result<Self> {
        cfg.validate()?;
        let n = cfg.nperseg;
        let win = cfg.window.coefficients(n);
        let s: f64 = win.iter().sum();
        let scale = if s > 0.0 { 1.0 / s } else { 1.0 };
        let real = RealFftPlanner::<T>::new().plan_fft_forward(n);
        let complex = FftPlanner::<T>::new().plan_fft_forward(n);
        let scratch_len = real
            .get_scratch_len()
            .max(complex.get_inplace_scratch_len())
            .max(complex.get_outofplace_scratch_len());
        let wsc: Vec<T> = win.iter().map(|w| T::of(w * scale)).collect();
        let whalf = win.iter().map(|w| T::of(0.5 * w * scale)).collect();
        let batch = pairs_per_call::<T>(n);
        Ok(StftPlan {
            cfg,
            whalf,
            wsc,
            rin: vec![T::zero(); n],
            zin: vec![Complex::<T>::default(); batch * n],
            zout: vec![Complex::<T>::default(); batch * n],
            cols: Vec::new(),
            split: Vec::new(),
            scratch: vec![Complex::<T>::default(); scratch_len],
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
    pub fn segment(&mut self, seg: &[T], out: &mut [Complex<T>]) -> Result<()> {
        check_lens(self.cfg.nperseg, seg.len(), out.len(), self.n_bins())?;
        windowed(&mut self.rin, seg, 0, &self.wsc, 0);
        self.fft_real(out)
    }

    /// Real FFT of the windowed segment in `rin` into `out`.
    fn fft_real(&mut self, out: &mut [Complex<T>]) -> Result<()> {
        self.real
            .process_with_scratch(&mut self.rin, out, &mut self.scratch)
            .map_err(|e| SignalError::Numerical {
                component: "stft",
                reason: e.to_string(),
            })
    }

    /// Window, FFT and scale one complex segment into `out` (`nperseg` bins, FFT order).
    pub fn segment_complex(&mut self, seg: &[Complex<T>], out: &mut [Complex<T>]) -> Result<()> {
        check_lens(self.cfg.nperseg, seg.len(), out.len(), self.cfg.nperseg)?;
        windowed(out, seg, 0, &self.wsc, 0);
        self.complex.process_with_scratch(out, &mut self.scratch);
        Ok(())
    }

    fn layout(&self, len: usize) -> Result<(usize, usize)> {
        let n = self.cfg.nperseg;
        let hop = self.cfg.hop;
        let pad = if self.cfg.boundary { n / 2 } else { 0 };
        if len == 0 {
            // no segment: the padding alone would make one all-zero column
            return Ok((pad, 0));
        }
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
        Ok((pad, nseg))
    }

    fn freqs(&self, fs: f64) -> Vec<f64> {
        self.freqs_iter(fs).collect()
    }

    fn freqs_iter(&self, fs: f64) -> impl Iterator<Item = f64> {
        let n = self.cfg.nperseg as f64;
        (0..self.n_bins()).map(move |k| k as f64 * fs / n)
    }

    fn times(&self, pad: usize, nseg: usize, fs: f64) -> Vec<f64> {
        self.times_iter(pad, nseg, fs).collect()
    }

    fn times_iter(&self, pad: usize, nseg: usize, fs: f64) -> impl Iterator<Item = f64> {
        let (n, hop) = (self.cfg.nperseg as f64, self.cfg.hop);
        (0..nseg).map(move |k| (n / 2.0 + (k * hop) as f64 - pad as f64) / fs)
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

    /// Appends the one-sided spectra of every segment of `x` (`nseg` segments, the first
    /// starting `pad` samples before `x[0]`, zeros outside `x`) to `out`, one segment's bins
    /// after the other. Each output value is written once (no zeroing pass over the output);
    /// the window (with the scaling folded in) is applied while the segment is copied in.
    ///
    /// Pairs of segments go through [`StftPlan::spectra_pairs`]; a pair that reads a value
    /// that is not moderate (NaN, infinite or beyond [`Sample::PAIR_LIMIT`]) and an odd last segment
    /// have one real FFT per segment, so a NaN or infinity reaches exactly the segments that
    /// cover it, as in scipy.
    #[inline(always)]
    fn spectra_real(
        &mut self,
        x: &[T],
        pad: usize,
        nseg: usize,
        out: &mut Vec<Complex<T>>,
    ) -> Result<()> {
        out.reserve(nseg * self.n_bins());
        self.spectra_to(x, pad, nseg, |s, _| out.extend_from_slice(s))
    }

    /// [`StftPlan::spectra_real`] over `dst` (`nseg · (nperseg/2+1)` values) instead of
    /// appending: the same computation, each value copied once to its place.
    #[inline(always)]
    fn fill_real(
        &mut self,
        x: &[T],
        pad: usize,
        nseg: usize,
        dst: &mut [Complex<T>],
    ) -> Result<()> {
        self.spectra_to(x, pad, nseg, |s, off| {
            dst[off..off + s.len()].copy_from_slice(s)
        })
    }

    /// The spectra of [`StftPlan::spectra_real`], handed to `sink` a few at a time with their
    /// offset in the whole output.
    #[inline(always)]
    fn spectra_to(
        &mut self,
        x: &[T],
        pad: usize,
        nseg: usize,
        mut sink: impl FnMut(&[Complex<T>], usize),
    ) -> Result<()> {
        let done = self.spectra_pairs(x, pad, nseg, &mut sink)?;
        self.spectra_single(x, pad, done, nseg, &mut sink)
    }

    /// Segment `k` of `x` through its own real FFT into `out`.
    #[inline(always)]
    fn single(&mut self, x: &[T], pad: usize, k: usize, out: &mut [Complex<T>]) -> Result<()> {
        windowed(&mut self.rin, x, k * self.cfg.hop, &self.wsc[..], pad);
        self.fft_real(out)
    }

    /// Segments `k0..nseg` of [`StftPlan::spectra_real`], one real FFT each.
    #[inline(always)]
    fn spectra_single(
        &mut self,
        x: &[T],
        pad: usize,
        k0: usize,
        nseg: usize,
        sink: &mut impl FnMut(&[Complex<T>], usize),
    ) -> Result<()> {
        let bins = self.n_bins();
        let mut one = std::mem::take(&mut self.split);
        one.resize(bins, Complex::<T>::default());
        let mut done = Ok(());
        for k in k0..nseg {
            done = self.single(x, pad, k, &mut one);
            if done.is_err() {
                break;
            }
            sink(&one, k * bins);
        }
        self.split = one;
        done
    }

    /// Two real segments per complex FFT: segment `k` windowed into the real parts and segment
    /// `k + 1` into the imaginary parts, [`PAIRS`] such pairs per FFT call, then each spectrum
    /// split out of the shared one by conjugate symmetry (`A[f] = (Z[f] + conj Z[N-f]) / 2`,
    /// `B[f] = (Z[f] - conj Z[N-f]) / 2i`, the `1/2` folded into the window). Hands the
    /// spectra of segments `0..2·⌊nseg/2⌋` to `sink` and returns how many that is. Whether a
    /// pair's values are all moderate is checked while they are windowed (no separate pass
    /// over the input); a pair that is not goes through one real FFT per segment instead, so
    /// that a NaN or an infinity does not spill into its partner segment.
    ///
    /// The two spectra of a pair are split into a small buffer (in the L1 cache) by plain
    /// indexed loops and handed on with one copy per pair: measured faster than splitting
    /// straight into the output (whose cache misses then stall the split), than copying
    /// several pairs at once, and than a half-length complex FFT per segment with realfft's
    /// post-processing done in our own vectorised loop.
    #[inline(always)]
    fn spectra_pairs(
        &mut self,
        x: &[T],
        pad: usize,
        nseg: usize,
        sink: &mut impl FnMut(&[Complex<T>], usize),
    ) -> Result<usize> {
        let (n, hop, nb) = (self.cfg.nperseg, self.cfg.hop, self.n_bins());
        let pairs = nseg / 2;
        let mut split = std::mem::take(&mut self.split);
        split.resize(2 * nb, Complex::<T>::default());
        let per_call = (self.zin.len() / n).max(1);
        let mut fine = [true; PAIRS];
        let mut i = 0;
        while i < pairs {
            let batch = (pairs - i).min(per_call);
            for ((j, z), ok) in self
                .zin
                .chunks_exact_mut(n)
                .take(batch)
                .enumerate()
                .zip(&mut fine)
            {
                *ok = windowed_pair(z, x, 2 * (i + j) * hop, hop, &self.whalf, pad);
            }
            let len = batch * n;
            self.complex.process_outofplace_with_scratch(
                &mut self.zin[..len],
                &mut self.zout[..len],
                &mut self.scratch,
            );
            for (j, &ok) in fine.iter().enumerate().take(batch) {
                let k = 2 * (i + j);
                if ok {
                    split_pair(&self.zout[j * n..(j + 1) * n], &mut split);
                } else {
                    // a value that is not moderate: each segment through its own real FFT
                    let (a, b) = split.split_at_mut(nb);
                    let done = self.single(x, pad, k, a).and(self.single(x, pad, k + 1, b));
                    if done.is_err() {
                        self.split = split;
                        return done.map(|_| 0);
                    }
                }
                sink(&split, k * nb);
            }
            i += batch;
        }
        self.split = split;
        Ok(2 * pairs)
    }

    /// [`StftPlan::spectra_real`] for a complex series (`nperseg` bins per segment).
    fn spectra_complex(
        &mut self,
        x: &[Complex<T>],
        pad: usize,
        nseg: usize,
        out: &mut Vec<Complex<T>>,
    ) {
        let n = self.cfg.nperseg;
        out.reserve(n * nseg);
        for k in 0..nseg {
            let off = out.len();
            out.resize(off + n, Complex::<T>::default());
            let seg = &mut out[off..];
            windowed(seg, x, k * self.cfg.hop, &self.wsc[..], pad);
            self.complex.process_with_scratch(seg, &mut self.scratch);
        }
    }

    fn shaped(values: Vec<Complex<T>>, bins: usize, nseg: usize) -> Result<Array2<Complex<T>>> {
        // column-major: each segment's spectrum is contiguous
        Array2::from_shape_vec((bins, nseg).f(), values).map_err(|e| SignalError::Shape {
            component: "stft",
            detail: e.to_string(),
        })
    }

    /// Spectrogram of a real series sampled at `fs` Hz (see the module docs). Output size is
    /// bounded by the input: about `len / hop` columns of `nperseg / 2 + 1` bins. Allocates the
    /// result; [`StftPlan::stft_into`] refills one instead.
    pub fn stft(&mut self, x: &[T], fs: f64) -> Result<Spectrogram<T>> {
        Self::check_fs(fs)?;
        let (pad, nseg) = self.layout(x.len())?;
        let nb = self.n_bins();
        let mut v = Vec::new();
        // compiled for the best instruction set the CPU has (AVX2 or AVX-512 where present),
        // chosen at run time: the windowing and the spectra's split vectorise wider
        pulp::Arch::new().dispatch(RealSpectra {
            plan: self,
            x,
            pad,
            nseg,
            dest: Dest::Append(&mut v),
        })?;
        Ok(Spectrogram {
            freqs: self.freqs(fs),
            times: self.times(pad, nseg, fs),
            values: Self::shaped(v, nb, nseg)?,
        })
    }

    /// [`StftPlan::stft`] into an existing spectrogram (from an earlier call, or
    /// [`Spectrogram::default`]), reusing its memory: no allocation when `out` already has this
    /// call's shape (same input length and configuration), which is the streaming and
    /// benchmark case. The values are written in place, once each. Equal to [`StftPlan::stft`]
    /// bit for bit.
    ///
    /// ```
    /// use wifi_sensing_signal::stft::{Spectrogram, StftConfig, StftPlan};
    /// let mut plan = StftPlan::new(StftConfig { nperseg: 32, hop: 8, ..Default::default() })?;
    /// let mut s = Spectrogram::default();
    /// for k in 1..4 {
    ///     let x: Vec<f64> = (0..500).map(|i| ((i * k) % 7) as f64).collect();
    ///     plan.stft_into(&x, 10.0, &mut s)?;
    ///     assert_eq!(s, plan.stft(&x, 10.0)?);
    /// }
    /// # Ok::<(), wifi_sensing_signal::SignalError>(())
    /// ```
    pub fn stft_into(&mut self, x: &[T], fs: f64, out: &mut Spectrogram<T>) -> Result<()> {
        Self::check_fs(fs)?;
        let (pad, nseg) = self.layout(x.len())?;
        let nb = self.n_bins();
        refill(&mut out.freqs, self.freqs_iter(fs));
        refill(&mut out.times, self.times_iter(pad, nseg, fs));
        let v = &mut out.values;
        if v.dim() != (nb, nseg) || v.t().as_slice().is_none() {
            *v = Array2::zeros((nb, nseg).f());
        }
        let mut view = v.view_mut().reversed_axes();
        let Some(dst) = view.as_slice_mut() else {
            return Err(SignalError::Shape {
                component: "stft",
                detail: "output not contiguous".into(),
            });
        };
        pulp::Arch::new().dispatch(RealSpectra {
            plan: self,
            x,
            pad,
            nseg,
            dest: Dest::Fill(dst),
        })
    }

    /// Spectrograms of every column of a `(time, channels)` matrix sampled at `fs` Hz (every
    /// subcarrier of a window of frames, for example), with the plans, window and output
    /// allocation shared: channel `c` of the result equals [`StftPlan::stft`] of column `c` up to
    /// rounding (within 1e-12 of the largest magnitude; property test).
    ///
    /// Any memory layout is accepted. Contiguous columns (column-major input) are read in
    /// place; otherwise (row-major frames, the usual layout of a window of CSI frames, or any
    /// other strides) the matrix is first copied column by column into a buffer the plan keeps
    /// (one pass over the input in memory order), so that each series is then read
    /// contiguously. Each series goes two segments per complex FFT, as in [`StftPlan::stft`]; a
    /// value that is not finite or is beyond [`Sample::PAIR_LIMIT`] (1e300 in `f64`, 1e33 in
    /// `f32`) sends the pair of segments that reads it through one real FFT each instead, so
    /// that it reaches only the segments of its own channel that cover it. Single-threaded.
    /// Output size is bounded by the input: `channels` times the size of one column's
    /// spectrogram.
    ///
    /// ```
    /// use ndarray::Array2;
    /// use wifi_sensing_signal::stft::{StftConfig, StftPlan};
    /// let fs = 20.0;
    /// // 400 frames of 3 subcarriers, each a tone at 1, 2 and 3 Hz
    /// let x = Array2::from_shape_fn((400, 3), |(t, c)| {
    ///     (2.0 * std::f64::consts::PI * (c + 1) as f64 * t as f64 / fs).cos()
    /// });
    /// let mut plan = StftPlan::new(StftConfig { nperseg: 40, hop: 10, ..Default::default() })?;
    /// let b = plan.stft_channels(x.view(), fs)?;
    /// assert_eq!(b.values.dim(), (3, 21, b.times.len()));
    /// for c in 0..3 {
    ///     let col = b.values.index_axis(ndarray::Axis(0), c).column(20).to_owned();
    ///     let peak = (0..21).max_by(|&i, &j| col[i].norm().total_cmp(&col[j].norm())).unwrap();
    ///     assert_eq!(b.freqs[peak], (c + 1) as f64);
    /// }
    /// # Ok::<(), wifi_sensing_signal::SignalError>(())
    /// ```
    pub fn stft_channels(&mut self, x: ArrayView2<T>, fs: f64) -> Result<SpectrogramBatch<T>> {
        Self::check_fs(fs)?;
        let (len, channels) = x.dim();
        let (pad, nseg) = self.layout(len)?;
        let nb = self.n_bins();
        let mut v = Vec::with_capacity(channels * nb * nseg);
        self.channels_dispatch(x, pad, nseg, Dest::Append(&mut v))?;
        let shaped = if v.is_empty() {
            Array3::from_shape_vec((channels, nb, nseg), v)
        } else {
            Array3::from_shape_vec((channels, nb, nseg).strides((nb * nseg, 1, nb)), v)
        };
        let values = shaped.map_err(|e| SignalError::Shape {
            component: "stft",
            detail: e.to_string(),
        })?;
        Ok(SpectrogramBatch {
            freqs: self.freqs(fs),
            times: self.times(pad, nseg, fs),
            values,
        })
    }

    /// [`StftPlan::stft_channels`] into an existing batch (from an earlier call, or
    /// [`SpectrogramBatch::default`]), reusing its memory: no allocation when `out` already has
    /// this call's shape. Equal to [`StftPlan::stft_channels`] bit for bit.
    ///
    /// ```
    /// use ndarray::Array2;
    /// use wifi_sensing_signal::stft::{SpectrogramBatch, StftConfig, StftPlan};
    /// let mut plan = StftPlan::new(StftConfig { nperseg: 16, hop: 4, ..Default::default() })?;
    /// let mut b = SpectrogramBatch::default();
    /// for k in 1..4 {
    ///     let x = Array2::from_shape_fn((100, 5), |(t, c)| ((t * k + c) % 9) as f64);
    ///     plan.stft_channels_into(x.view(), 20.0, &mut b)?;
    ///     assert_eq!(b, plan.stft_channels(x.view(), 20.0)?);
    /// }
    /// # Ok::<(), wifi_sensing_signal::SignalError>(())
    /// ```
    pub fn stft_channels_into(
        &mut self,
        x: ArrayView2<T>,
        fs: f64,
        out: &mut SpectrogramBatch<T>,
    ) -> Result<()> {
        Self::check_fs(fs)?;
        let (len, channels) = x.dim();
        let (pad, nseg) = self.layout(len)?;
        let nb = self.n_bins();
        refill(&mut out.freqs, self.freqs_iter(fs));
        refill(&mut out.times, self.times_iter(pad, nseg, fs));
        let v = &mut out.values;
        // channel after channel, each segment's spectrum contiguous: (channel, time, freq) in
        // row-major order, seen as (channel, freq, time)
        if v.dim() != (channels, nb, nseg) || v.view().permuted_axes([0, 2, 1]).as_slice().is_none()
        {
            *v = Array3::zeros((channels, nseg, nb)).permuted_axes([0, 2, 1]);
        }
        let mut view = v.view_mut().permuted_axes([0, 2, 1]);
        let Some(dst) = view.as_slice_mut() else {
            return Err(SignalError::Shape {
                component: "stft",
                detail: "output not contiguous".into(),
            });
        };
        self.channels_dispatch(x, pad, nseg, Dest::Fill(dst))
    }

    fn channels_dispatch(
        &mut self,
        x: ArrayView2<T>,
        pad: usize,
        nseg: usize,
        dest: Dest<'_, T>,
    ) -> Result<()> {
        let mut cols = std::mem::take(&mut self.cols);
        let done = pulp::Arch::new().dispatch(ChannelSpectra {
            plan: self,
            x,
            cols: &mut cols,
            pad,
            nseg,
            dest,
        });
        self.cols = cols;
        done
    }

    /// The spectra of channel `channel` (the series `x`, `nseg` segments) into `dest`:
    /// appended, or over that channel's part of the slice.
    #[inline(always)]
    fn emit(
        &mut self,
        x: &[T],
        pad: usize,
        nseg: usize,
        channel: usize,
        dest: &mut Dest<'_, T>,
    ) -> Result<()> {
        match dest {
            Dest::Append(v) => self.spectra_real(x, pad, nseg, v),
            Dest::Fill(d) => {
                let size = nseg * self.n_bins();
                let d = &mut d[channel * size..(channel + 1) * size];
                self.fill_real(x, pad, nseg, d)
            }
        }
    }

    /// The body of [`StftPlan::stft_channels`] (inlined into its run-time dispatch): every
    /// column's spectra into `dest`. Contiguous columns are read in place; otherwise the
    /// matrix is first copied column by column into `cols` (one pass in memory order), and each
    /// copied column then goes through the 1-D path. Copying a group of 8 or 16 columns at a
    /// time (a buffer that stays in the L2 cache) was measured no faster.
    #[inline(always)]
    fn channels_wide(
        &mut self,
        x: ArrayView2<T>,
        cols: &mut Vec<T>,
        pad: usize,
        nseg: usize,
        mut dest: Dest<'_, T>,
    ) -> Result<()> {
        let (len, channels) = x.dim();
        if x.t().as_slice().is_some() || len == 0 || channels == 0 {
            // column-major (or empty): every column contiguous, read in place
            for (c, col) in x.columns().into_iter().enumerate() {
                if let Some(s) = col.as_slice() {
                    self.emit(s, pad, nseg, c, &mut dest)?;
                }
            }
            return Ok(());
        }
        if cols.len() < len * channels {
            cols.resize(len * channels, T::zero());
        }
        let dst = &mut cols[..len * channels];
        match x.as_slice() {
            // row-major: read in memory order, each value to its column
            Some(s) => {
                for (r, row) in s.chunks_exact(channels).enumerate() {
                    for (d, v) in dst[r..].iter_mut().step_by(len).zip(row) {
                        *d = *v;
                    }
                }
            }
            None => {
                for (d, c) in dst.chunks_exact_mut(len).zip(x.columns()) {
                    for (d, v) in d.iter_mut().zip(c.iter()) {
                        *d = *v;
                    }
                }
            }
        }
        for (c, col) in dst.chunks_exact(len).enumerate() {
            self.emit(col, pad, nseg, c, &mut dest)?;
        }
        Ok(())
    }

    /// Two-sided spectrogram of a complex series (FFT order, like scipy with
    /// `return_onesided=False`).
    pub fn stft_complex(&mut self, x: &[Complex<T>], fs: f64) -> Result<Spectrogram<T>> {
        Self::check_fs(fs)?;
        let (pad, nseg) = self.layout(x.len())?;
        let n = self.cfg.nperseg;
        let mut v = Vec::new();
        self.spectra_complex(x, pad, nseg, &mut v);
        let values = Self::shaped(v, n, nseg)?;
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

/// Where spectra go: appended to a vector (the allocating calls) or written over a slice
/// (the `_into` calls), channel `c` at `c · nseg · bins`.
enum Dest<'a, T> {
    Append(&'a mut Vec<Complex<T>>),
    Fill(&'a mut [Complex<T>]),
}

/// `v` emptied and refilled from `it` (its memory reused).
fn refill(v: &mut Vec<f64>, it: impl Iterator<Item = f64>) {
    v.clear();
    v.extend(it);
}

/// [`StftPlan::stft`]'s spectra as an operation for `pulp`'s run-time dispatch, which compiles
/// it (everything inlined into it) with the best instruction set the CPU has, AVX2 or AVX-512
/// where present.
struct RealSpectra<'a, T: Sample> {
    plan: &'a mut StftPlan<T>,
    x: &'a [T],
    pad: usize,
    nseg: usize,
    dest: Dest<'a, T>,
}

impl<T: Sample> pulp::WithSimd for RealSpectra<'_, T> {
    type Output = Result<()>;
    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) -> Result<()> {
        let (plan, x, pad, nseg) = (self.plan, self.x, self.pad, self.nseg);
        match self.dest {
            Dest::Append(v) => plan.spectra_real(x, pad, nseg, v),
            Dest::Fill(d) => plan.fill_real(x, pad, nseg, d),
        }
    }
}

/// [`StftPlan::stft_channels`]'s spectra, dispatched like [`RealSpectra`].
struct ChannelSpectra<'a, T: Sample> {
    plan: &'a mut StftPlan<T>,
    x: ArrayView2<'a, T>,
    cols: &'a mut Vec<T>,
    pad: usize,
    nseg: usize,
    dest: Dest<'a, T>,
}

impl<T: Sample> pulp::WithSimd for ChannelSpectra<'_, T> {
    type Output = Result<()>;
    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) -> Result<()> {
        self.plan
            .channels_wide(self.x, self.cols, self.pad, self.nseg, self.dest)
    }
}

/// Segments of `n` points per paired FFT call: a few, so that the inputs and outputs of one
/// call stay in the L1 cache.
fn pairs_per_call<T>(n: usize) -> usize {
    (PAIRS_BYTES / (std::mem::size_of::<Complex<T>>() * n)).clamp(1, PAIRS)
}

/// At most this many segments per paired FFT call.
const PAIRS: usize = 4;
/// Bytes of one call's input (and of its output).
const PAIRS_BYTES: usize = 8 * 1024;

/// The two one-sided spectra packed in the complex FFT `z` of a pair of real segments (the
/// window's `1/2` already applied), into `dst` (`2 · nb` bins, `nb = dst.len() / 2`): first the
/// real parts' segment, `Z[f] + conj Z[N-f]`, then the imaginary parts', `(Z[f] - conj Z[N-f])
/// / i`.
#[inline(always)]
fn split_pair<T: Sample>(z: &[Complex<T>], dst: &mut [Complex<T>]) {
    let (n, nb) = (z.len(), dst.len() / 2);
    // interleaved (re, im) views; bins 1..nb pair with bins n-1 down to n+1-nb
    let zf: &[T] = bytemuck::cast_slice(z);
    let (a, b) = bytemuck::cast_slice_mut::<Complex<T>, T>(dst).split_at_mut(2 * nb);
    let (Some((a0, a)), Some((b0, b))) = (
        a.split_first_chunk_mut::<2>(),
        b.split_first_chunk_mut::<2>(),
    ) else {
        return;
    };
    *a0 = [zf[0] + zf[0], T::zero()];
    *b0 = [zf[1] + zf[1], T::zero()];
    let pos = &zf[2..2 * nb];
    let neg = &zf[2 * (n + 1 - nb)..];
    // four bins at a time (one 512-bit vector of each where the CPU has them): u = Z[f..f+4]
    // in order, v = Z[N-f-3..=N-f] from the end, paired in reverse
    let (mut ac, mut bc) = (a.chunks_exact_mut(8), b.chunks_exact_mut(8));
    let (pc, nc) = (pos.chunks_exact(8), neg.rchunks_exact(8));
    let (pr, nr) = (pc.remainder(), nc.remainder());
    for (((a, b), u), v) in (&mut ac).zip(&mut bc).zip(pc).zip(nc) {
        let (u, v): (&[T; 8], &[T; 8]) = match (u.try_into(), v.try_into()) {
            (Ok(u), Ok(v)) => (u, v),
            _ => continue, // unreachable: exact chunks of 8
        };
        a.copy_from_slice(&[
            u[0] + v[6],
            u[1] - v[7],
            u[2] + v[4],
            u[3] - v[5],
            u[4] + v[2],
            u[5] - v[3],
            u[6] + v[0],
            u[7] - v[1],
        ]);
        b.copy_from_slice(&[
            u[1] + v[7],
            v[6] - u[0],
            u[3] + v[5],
            v[4] - u[2],
            u[5] + v[3],
            v[2] - u[4],
            u[7] + v[1],
            v[0] - u[6],
        ]);
    }
    // the last bins (fewer than four): bin i of `pr` pairs with bin r-1-i of `nr`
    let (ar, br) = (ac.into_remainder(), bc.into_remainder());
    for (((a, b), u), v) in ar
        .chunks_exact_mut(2)
        .zip(br.chunks_exact_mut(2))
        .zip(pr.chunks_exact(2))
        .zip(nr.rchunks_exact(2))
    {
        a.copy_from_slice(&[u[0] + v[0], u[1] - v[1]]);
        b.copy_from_slice(&[u[1] + v[1], v[0] - u[0]]);
    }
}

/// `dst[i] = (x[a + i] + i·x[a + hop + i]) · w[i]` with `a = start - pad`, zero where an index
/// falls outside `x`: two segments `hop` apart, in the real and imaginary parts. Returns
/// whether every value read is moderate (finite and at most [`Sample::PAIR_LIMIT`] in magnitude), the
/// condition for the pair to share one complex FFT; checked while reading, branch-free.
#[inline(always)]
fn windowed_pair<T: Sample>(
    dst: &mut [Complex<T>],
    x: &[T],
    start: usize,
    hop: usize,
    w: &[T],
    pad: usize,
) -> bool {
    let n = dst.len();
    // NaN fails the comparison
    let fine = |v: T| v.abs() <= T::PAIR_LIMIT;
    if start >= pad && start - pad + hop + n <= x.len() {
        let s = start - pad;
        let mut ok = true;
        for (((d, a), b), w) in dst
            .iter_mut()
            .zip(&x[s..s + n])
            .zip(&x[s + hop..s + hop + n])
            .zip(w)
        {
            ok &= fine(*a) & fine(*b);
            *d = Complex::<T>::new(*a * *w, *b * *w);
        }
        return ok;
    }
    let get = |i: usize| i.checked_sub(pad).and_then(|j| x.get(j)).copied();
    let mut ok = true;
    for (i, (d, w)) in dst.iter_mut().zip(w).enumerate() {
        let (a, b) = (
            get(start + i).unwrap_or(T::zero()),
            get(start + hop + i).unwrap_or(T::zero()),
        );
        ok &= fine(a) & fine(b);
        *d = Complex::<T>::new(a * *w, b * *w);
    }
    ok
}

/// `dst[i] = x[start + i - pad] · w[i]`, zero where that index falls outside `x` (the boundary
/// and end padding, without building a padded copy of `x`).
#[inline(always)]
fn windowed<V, T>(dst: &mut [V], x: &[V], start: usize, w: &[T], pad: usize)
where
    V: Copy + Default + std::ops::Mul<T, Output = V>,
    T: Copy,
{
    let n = dst.len();
    if start >= pad && start - pad + n <= x.len() {
        let s = start - pad;
        for ((d, v), w) in dst.iter_mut().zip(&x[s..s + n]).zip(w) {
            *d = *v * *w;
        }
        return;
    }
    for (i, (d, w)) in dst.iter_mut().zip(w).enumerate() {
        *d = (start + i)
            .checked_sub(pad)
            .and_then(|j| x.get(j))
            .map_or(V::default(), |v| *v * *w);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// `back` equals `orig` value for value, NaN for NaN (and for an infinity when
    /// `nan_for_non_finite`, as JSON reads it back)
    fn same_bits<T: Sample + Into<f64>>(
        back: &[Complex<T>],
        orig: &[Complex<T>],
        nan_for_non_finite: bool,
    ) {
        let (a, b) = (orig, back);
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(b) {
            for (p, q) in [(x.re, y.re), (x.im, y.im)] {
                let (p, q): (f64, f64) = (p.into(), q.into());
                if p.is_nan() || (nan_for_non_finite && !p.is_finite()) {
                    assert!(q.is_nan(), "{q:?} should be NaN");
                } else {
                    assert!(p == q, "{p:?} != {q:?}");
                }
            }
        }
    }

    fn serde_round_trip<T>(x: Vec<T>, nan_at: usize, inf_at: usize)
    where
        T: Sample + Into<f64> + Serialize + for<'de> Deserialize<'de>,
    {
        let cfg = StftConfig {
            nperseg: 16,
            hop: 8,
            ..StftConfig::default()
        };
        let mut plan = StftPlan::<T>::with_config(cfg).unwrap();
        let mut x = x;
        x[nan_at] = T::of(f64::NAN);
        x[inf_at] = T::of(f64::INFINITY);
        let s = plan.stft(&x, 50.0).unwrap();
        let n = x.len();
        let cols = ndarray::Array2::from_shape_fn((n, 3), |(i, c)| x[(i + 11 * c) % n]);
        let b = plan.stft_channels(cols.view(), 50.0).unwrap();
        assert!(s.values.iter().any(|v| Into::<f64>::into(v.re).is_nan()));
        // JSON: null for a non-finite part, read back as NaN; the STFT's layouts come back
        let json = serde_json::to_string(&s).unwrap();
        assert!(json.contains("null"));
        let back: Spectrogram<T> = serde_json::from_str(&json).unwrap();
        assert_eq!(
            (back.freqs.clone(), back.times.clone()),
            (s.freqs.clone(), s.times.clone())
        );
        assert_eq!(back.values.dim(), s.values.dim());
        assert_eq!(back.values.strides(), s.values.strides());
        same_bits(
            back.values.as_slice_memory_order().unwrap(),
            s.values.as_slice_memory_order().unwrap(),
            true,
        );
        let json = serde_json::to_string(&b).unwrap();
        let back: SpectrogramBatch<T> = serde_json::from_str(&json).unwrap();
        assert_eq!(back.values.dim(), b.values.dim());
        assert_eq!(back.values.strides(), b.values.strides());
        same_bits(
            back.values.as_slice_memory_order().unwrap(),
            b.values.as_slice_memory_order().unwrap(),
            true,
        );
        // a binary format keeps every value, infinities included
        let cfg = bincode::config::standard();
        let bytes = bincode::serde::encode_to_vec(&s, cfg).unwrap();
        let (back, _): (Spectrogram<T>, usize) =
            bincode::serde::decode_from_slice(&bytes, cfg).unwrap();
        assert_eq!(back.values.strides(), s.values.strides());
        same_bits(
            back.values.as_slice_memory_order().unwrap(),
            s.values.as_slice_memory_order().unwrap(),
            false,
        );
    }

    #[test]
    fn spectrograms_with_non_finite_values_round_trip() {
        let x: Vec<f64> = (0..90).map(|i| (i as f64 * 0.37).sin()).collect();
        serde_round_trip(x.clone(), 7, 50);
        serde_round_trip(x.iter().map(|&v| v as f32).collect(), 3, 61);
    }

    #[test]
    fn malformed_spectrogram_json_is_refused() {
        let cases = [
            (r#"{"v":2,"dim":[1,1],"data":[[0,0]]}"#, "version 2"),
            (r#"{"v":1,"dim":[2,1],"data":[[0,0]]}"#, "does not match"),
            (r#"{"v":1,"dim":[1,1,1],"data":[[0,0]]}"#, "3 dimensions"),
            (
                r#"{"v":1,"dim":[4611686018427387904,4],"data":[[0,0]]}"#,
                "does not match",
            ),
        ];
        for (values, want) in cases {
            let json = format!(r#"{{"freqs":[0],"times":[0],"values":{values}}}"#);
            let err = serde_json::from_str::<Spectrogram>(&json)
                .unwrap_err()
                .to_string();
            assert!(err.contains(want), "{err}");
        }
        let ok =
            r#"{"freqs":[0],"times":[0,1],"values":{"v":1,"dim":[1,2],"data":[[1,null],[2,3]]}}"#;
        let s: Spectrogram = serde_json::from_str(ok).unwrap();
        assert_eq!(s.values[[0, 1]], Complex::new(2.0, 3.0));
        assert!(s.values[[0, 0]].im.is_nan());
    }

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

    fn empty_input_has_no_column<T: Sample>() {
        for boundary in [true, false] {
            let cfg = StftConfig {
                nperseg: 8,
                hop: 4,
                boundary,
                ..StftConfig::default()
            };
            let mut p = StftPlan::<T>::with_config(cfg).unwrap();
            let s = p.stft(&[], 10.0).unwrap();
            assert_eq!(s.values.dim(), (5, 0));
            assert!(s.times.is_empty());
            assert_eq!(s.freqs.len(), 5);
            let c = p.stft_complex(&[], 10.0).unwrap();
            assert_eq!(c.values.dim(), (8, 0));
            // a refilled output from an earlier, longer series is emptied
            let mut out = p.stft(&[T::default(); 40], 10.0).unwrap();
            p.stft_into(&[], 10.0, &mut out).unwrap();
            assert_eq!(out, s);
            let m = ndarray::Array2::<T>::zeros((0, 3));
            let b = p.stft_channels(m.view(), 10.0).unwrap();
            assert_eq!(b.values.dim(), (3, 5, 0));
            let mut bo = p
                .stft_channels(ndarray::Array2::<T>::zeros((40, 3)).view(), 10.0)
                .unwrap();
            p.stft_channels_into(m.view(), 10.0, &mut bo).unwrap();
            assert_eq!(bo, b);
            // one sample is a segment (boundary) or too short (no boundary)
            assert_eq!(p.stft(&[T::default()], 10.0).is_ok(), boundary);
        }
    }

    #[test]
    fn empty_input_gives_an_empty_spectrogram() {
        empty_input_has_no_column::<f64>();
        empty_input_has_no_column::<f32>();
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
        // and the same errors from the `_into` calls
        let mut s = Spectrogram::default();
        assert!(p.stft_into(&[1.0; 10], 10.0, &mut s).is_err());
        assert!(p.stft_into(&[1.0; 100], 0.0, &mut s).is_err());
        let mut b = SpectrogramBatch::default();
        let m = ndarray::Array2::zeros((10, 2));
        assert!(p.stft_channels_into(m.view(), 10.0, &mut b).is_err());
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

    /// The straightforward STFT: a zero-padded copy of the input (scipy's `boundary="zeros"`,
    /// `padded=True`), then per segment the window, a direct O(N²) DFT and the scaling.
    fn naive_stft(x: &[Complex64], cfg: &StftConfig, bins: usize) -> Vec<Vec<Complex64>> {
        if x.is_empty() {
            // documented: an empty series has no segment (the padding alone is not one)
            return Vec::new();
        }
        let n = cfg.nperseg;
        let pad = if cfg.boundary { n / 2 } else { 0 };
        let mut ext = vec![Complex64::default(); pad];
        ext.extend_from_slice(x);
        ext.extend(std::iter::repeat_n(Complex64::default(), pad));
        if ext.len() < n {
            return Vec::new();
        }
        if cfg.padded {
            let nadd = (cfg.hop - (ext.len() - n) % cfg.hop) % cfg.hop;
            ext.extend(std::iter::repeat_n(Complex64::default(), nadd));
        }
        let w = cfg.window.coefficients(n);
        let sum: f64 = w.iter().sum();
        (0..=(ext.len() - n) / cfg.hop)
            .map(|k| {
                let seg = &ext[k * cfg.hop..k * cfg.hop + n];
                (0..bins)
                    .map(|f| {
                        seg.iter()
                            .zip(&w)
                            .enumerate()
                            .map(|(i, (v, wi))| {
                                let ang =
                                    -2.0 * std::f64::consts::PI * ((f * i) % n) as f64 / n as f64;
                                v * *wi * Complex64::from_polar(1.0, ang)
                            })
                            .sum::<Complex64>()
                            / sum
                    })
                    .collect()
            })
            .collect()
    }

    fn window_strategy() -> impl Strategy<Value = WindowFn> {
        prop_oneof![
            Just(WindowFn::Hann),
            Just(WindowFn::Hamming),
            Just(WindowFn::Blackman),
            Just(WindowFn::Rect)
        ]
    }

    fn assert_close(got: ndarray::ArrayView2<Complex64>, want: &[Vec<Complex64>], what: &str) {
        assert_eq!(got.ncols(), want.len(), "{what}: segments");
        let scale = want
            .iter()
            .flatten()
            .fold(1e-300f64, |m, v| m.max(v.norm()));
        for (k, col) in want.iter().enumerate() {
            for (f, w) in col.iter().enumerate() {
                let g = got[[f, k]];
                assert!(
                    (g - w).norm() <= 1e-9 * scale,
                    "{what}: bin {f} segment {k}: {g} vs {w}"
                );
            }
        }
    }

    #[test]
    fn empty_and_single_sample_inputs() {
        let cfg = StftConfig {
            nperseg: 16,
            hop: 4,
            ..Default::default()
        };
        let mut p = StftPlan::new(cfg).unwrap();
        // an empty series has no segment (the padding alone would be one all-zero column)
        assert_eq!(p.stft(&[], 10.0).unwrap().values.dim(), (9, 0));
        assert_eq!(p.stft_complex(&[], 10.0).unwrap().values.dim(), (16, 0));
        {
            let x = [2.5];
            let s = p.stft(&x, 10.0).unwrap();
            let xc: Vec<Complex64> = x.iter().map(|v| Complex64::new(*v, 0.0)).collect();
            assert_close(s.values.view(), &naive_stft(&xc, &cfg, 9), "real");
            assert!(s
                .values
                .iter()
                .all(|v| v.re.is_finite() && v.im.is_finite()));
            let c = p.stft_complex(&xc, 10.0).unwrap();
            assert_close(c.values.view(), &naive_stft(&xc, &cfg, 16), "complex");
        }
        // without the boundary padding, shorter than a segment is an error
        let mut p = StftPlan::new(StftConfig {
            boundary: false,
            ..cfg
        })
        .unwrap();
        assert!(p.stft(&[1.0], 10.0).is_err());
        assert!(p
            .stft_channels(ndarray::Array2::zeros((1, 3)).view(), 10.0)
            .is_err());
    }

    #[test]
    fn nan_poisons_only_its_segments_and_channel() {
        let cfg = StftConfig {
            nperseg: 32,
            hop: 8,
            ..Default::default()
        };
        let mut p = StftPlan::new(cfg).unwrap();
        let mut x = ndarray::Array2::from_shape_fn((300, 4), |(t, c)| ((t * (c + 3)) % 11) as f64);
        x[[150, 1]] = f64::NAN;
        let b = p.stft_channels(x.view(), 5.0).unwrap();
        for ((c, _, k), v) in b.values.indexed_iter() {
            // segment k covers samples k * hop - 16 .. k * hop + 16
            let covers = (k * 8..k * 8 + 32).contains(&(150 + 16));
            assert_eq!(v.re.is_nan(), c == 1 && covers, "channel {c} segment {k}");
        }
    }

    #[test]
    fn channels_every_layout_equals_one_by_one() {
        use ndarray::{Array2, Axis, ShapeBuilder, Slice};
        let cfg = StftConfig {
            nperseg: 24,
            hop: 5,
            window: WindowFn::Blackman,
            ..Default::default()
        };
        let mut p = StftPlan::new(cfg).unwrap();
        let (t, c) = (203, 5);
        let c_order =
            Array2::from_shape_fn((t, c), |(i, j)| ((i * 31 + j * 17) % 23) as f64 - 11.0);
        let mut f_order = Array2::zeros((t, c).f());
        f_order.assign(&c_order);
        let big = Array2::from_shape_fn((2 * t, 2 * c), |(i, j)| c_order[[i / 2, j / 2]]);
        let strided = big.slice_each_axis(|_| Slice::new(0, None, 2));
        for (name, x) in [
            ("row-major", c_order.view()),
            ("column-major", f_order.view()),
            ("strided", strided),
        ] {
            let b = p.stft_channels(x, 7.0).unwrap();
            assert_eq!(b.values.dim(), (c, 13, b.times.len()), "{name}");
            for j in 0..c {
                let one = p.stft(&c_order.column(j).to_vec(), 7.0).unwrap();
                assert_eq!(one.times, b.times);
                assert_eq!(one.freqs, b.freqs);
                // equal (both pair segments of the same column); asserted up to rounding
                let d = max_rel_diff(b.values.index_axis(Axis(0), j).iter(), one.values.iter());
                assert!(d <= 1e-12, "{name} channel {j}: {d}");
            }
        }
        let none = p.stft_channels(Array2::zeros((t, 0)).view(), 7.0).unwrap();
        assert_eq!(none.values.dim().0, 0);
    }

    /// The plan of a property test's draws (`hop` a fraction of the segment), and a uniform
    /// `[-1, 1)` generator seeded by `seed`.
    fn drawn_plan(
        n: usize,
        hop_frac: f64,
        window: WindowFn,
        boundary: bool,
        padded: bool,
        seed: u64,
    ) -> (StftConfig, StftPlan, impl FnMut() -> f64) {
        let hop = 1 + ((n - 1) as f64 * hop_frac) as usize;
        let cfg = StftConfig {
            nperseg: n,
            hop,
            window,
            boundary,
            padded,
        };
        let mut rng = seed;
        let next = move || {
            rng = rng
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (rng >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
        };
        (cfg, StftPlan::new(cfg).unwrap(), next)
    }

    /// Every segment through its own real FFT (the path for inputs that are not moderate).
    fn one_by_one<T: Sample>(p: &mut StftPlan<T>, x: &[T]) -> Vec<Complex<T>> {
        let (pad, nseg) = p.layout(x.len()).unwrap();
        let mut v = vec![Complex::<T>::default(); nseg * p.n_bins()];
        p.spectra_single(x, pad, 0, nseg, &mut |s, off| {
            v[off..off + s.len()].copy_from_slice(s)
        })
        .unwrap();
        v
    }

    fn max_rel_diff<'a>(
        a: impl IntoIterator<Item = &'a Complex64>,
        b: impl IntoIterator<Item = &'a Complex64>,
    ) -> f64 {
        let (mut d, mut m) = (0.0f64, 1e-300f64);
        for (x, y) in a.into_iter().zip(b) {
            d = d.max((x - y).norm());
            m = m.max(y.norm());
        }
        d / m
    }

    #[test]
    fn non_finite_and_huge_values_stay_in_their_segments() {
        let cfg = StftConfig {
            nperseg: 32,
            hop: 8,
            ..Default::default()
        };
        let mut p = StftPlan::new(cfg).unwrap();
        for bad in [f64::NAN, f64::INFINITY, 1e305] {
            let mut x: Vec<f64> = (0..300).map(|i| ((i * 7) % 13) as f64 - 6.0).collect();
            x[150] = bad;
            let s = p.stft(&x, 5.0).unwrap();
            // the pairs of segments that read x[150] are exactly the per-segment result (a
            // partner segment is not disturbed); the other pairs equal it up to rounding
            let want = one_by_one(&mut p, &x);
            let covers = |k: usize| (k * 8..k * 8 + 32).contains(&(150 + 16));
            let got: Vec<Complex64> = s.values.t().iter().copied().collect();
            // and a column of a batch of channels the same
            let m = ndarray::Array2::from_shape_fn(
                (x.len(), 3),
                |(t, c)| if c == 1 { x[t] } else { 1.0 },
            );
            assert_eq!(
                p.stft_channels(m.view(), 5.0)
                    .unwrap()
                    .values
                    .index_axis(ndarray::Axis(0), 1)
                    .iter()
                    .filter(|v| v.re.is_nan())
                    .count(),
                s.values.iter().filter(|v| v.re.is_nan()).count()
            );
            assert_eq!(got.len(), want.len());
            let mut singles = 0;
            for (k, (g, w)) in got.chunks(17).zip(want.chunks(17)).enumerate() {
                let pair = k - k % 2;
                if covers(pair) || covers(pair + 1) {
                    singles += 1;
                    for (g, w) in g.iter().zip(w) {
                        assert!(
                            g == w || (g.re.is_nan() && w.re.is_nan()),
                            "{bad}: segment {k}: {g} vs {w}"
                        );
                    }
                } else {
                    assert!(max_rel_diff(g, w) <= 1e-12, "{bad}: segment {k}");
                }
            }
            // 4 segments cover the sample; their pairs, and no more, went one by one
            assert!((4..=6).contains(&singles), "{singles}");
            for ((_, k), v) in s.values.indexed_iter() {
                if !covers(k) {
                    assert!(v.re.is_finite() && v.im.is_finite(), "{bad}: segment {k}");
                }
            }
        }
    }

    /// In `f32` too, a NaN, an infinity or a value beyond `f32`'s pair limit (1e35 here, whose
    /// paired FFT could overflow) reaches exactly the segments that cover it, in a series and
    /// in a column of a batch, and every other value stays finite.
    #[test]
    fn f32_non_finite_and_huge_values_stay_in_their_segments() {
        let cfg = StftConfig {
            nperseg: 32,
            hop: 8,
            ..Default::default()
        };
        let mut p = StftPlan::new_f32(cfg).unwrap();
        let covers = |k: usize| (k * 8..k * 8 + 32).contains(&(150 + 16));
        for bad in [f32::NAN, f32::INFINITY, 1e35] {
            let mut x: Vec<f32> = (0..300).map(|i| ((i * 7) % 13) as f32 - 6.0).collect();
            x[150] = bad;
            let s = p.stft(&x, 5.0).unwrap();
            let m = ndarray::Array2::from_shape_fn(
                (x.len(), 3),
                |(t, c)| {
                    if c == 1 {
                        x[t]
                    } else {
                        1.0
                    }
                },
            );
            let b = p.stft_channels(m.view(), 5.0).unwrap();
            for ((_, k), v) in s.values.indexed_iter() {
                assert_eq!(
                    v.re.is_finite() && v.im.is_finite(),
                    !covers(k) || bad == 1e35,
                    "{bad}: segment {k}: {v}"
                );
            }
            for ((c, _, k), v) in b.values.indexed_iter() {
                let hit = c == 1 && covers(k) && bad != 1e35;
                assert_eq!(v.re.is_finite() && v.im.is_finite(), !hit, "{bad}: {c} {k}");
            }
            // the huge value's own segments are large, their partners are not disturbed
            if bad == 1e35 {
                let want = one_by_one(&mut p, &x);
                let got: Vec<Complex<f32>> = s.values.t().iter().copied().collect();
                for (k, (g, w)) in got.chunks(17).zip(want.chunks(17)).enumerate() {
                    let pair = k - k % 2;
                    if covers(pair) || covers(pair + 1) {
                        assert_eq!(g, w, "segment {k}");
                    }
                }
            }
        }
    }

    #[test]
    fn into_reuses_a_matching_output() {
        let mut p = StftPlan::new(StftConfig {
            nperseg: 16,
            hop: 4,
            ..Default::default()
        })
        .unwrap();
        let x: Vec<f64> = (0..200).map(|i| ((i * 5) % 11) as f64).collect();
        let mut s = Spectrogram::default();
        p.stft_into(&x, 10.0, &mut s).unwrap();
        let at = s.values.as_ptr();
        let y: Vec<f64> = x.iter().map(|v| v * 2.0 - 1.0).collect();
        p.stft_into(&y, 10.0, &mut s).unwrap();
        // same shape: written in place, no new array
        assert_eq!(s.values.as_ptr(), at);
        assert_eq!(s, p.stft(&y, 10.0).unwrap());
        let m = ndarray::Array2::from_shape_fn((120, 3), |(t, c)| x[t + c]);
        let mut b = SpectrogramBatch::default();
        p.stft_channels_into(m.view(), 4.0, &mut b).unwrap();
        let at = b.values.as_ptr();
        let m2 = m.mapv(|v| v - 3.0);
        p.stft_channels_into(m2.view(), 4.0, &mut b).unwrap();
        assert_eq!(b.values.as_ptr(), at);
        assert_eq!(b, p.stft_channels(m2.view(), 4.0).unwrap());
    }

    proptest! {
        /// The `_into` calls equal the allocating ones bit for bit, whatever output they are
        /// given (empty, another shape, or a transposed layout), for every input layout.
        #[test]
        fn into_equals_allocating(
            n in 2usize..40,
            hop_frac in 0.0f64..1.0,
            window in window_strategy(),
            boundary in any::<bool>(),
            padded in any::<bool>(),
            lens in (0usize..150, 0usize..150),
            channels in 0usize..5,
            row_major in any::<bool>(),
            seed in any::<u64>(),
        ) {
            let (_, mut p, mut next) = drawn_plan(n, hop_frac, window, boundary, padded, seed);
            let mut s = Spectrogram::default();
            let mut b = SpectrogramBatch::default();
            for (round, len) in [lens.0, lens.1, lens.1].into_iter().enumerate() {
                let x: Vec<f64> = (0..len).map(|_| next()).collect();
                match p.stft(&x, 3.0) {
                    Ok(want) => {
                        p.stft_into(&x, 3.0, &mut s).unwrap();
                        prop_assert_eq!(&s, &want);
                    }
                    Err(_) => prop_assert!(p.stft_into(&x, 3.0, &mut s).is_err()),
                }
                let m = ndarray::Array2::from_shape_fn((len, channels), |_| next());
                let mut f = ndarray::Array2::zeros((len, channels).f());
                f.assign(&m);
                let view = if row_major { m.view() } else { f.view() };
                if round == 1 {
                    // an output of the right shape in another memory layout
                    b.values = b.values.as_standard_layout().into_owned();
                }
                match p.stft_channels(view, 3.0) {
                    Ok(want) => {
                        p.stft_channels_into(view, 3.0, &mut b).unwrap();
                        prop_assert_eq!(&b, &want);
                    }
                    Err(_) => prop_assert!(p.stft_channels_into(view, 3.0, &mut b).is_err()),
                }
            }
        }

        /// Two segments per complex FFT (the paired path) equals one real FFT per segment
        /// within 1e-12 of the largest magnitude, for odd and even segment lengths, every
        /// window, hop and padding choice; and so does the channel-pair path of
        /// `stft_channels` for each column.
        #[test]
        fn paired_equals_one_by_one(
            n in 2usize..80,
            hop_frac in 0.0f64..1.0,
            window in window_strategy(),
            boundary in any::<bool>(),
            padded in any::<bool>(),
            len in 0usize..400,
            channels in 1usize..6,
            seed in any::<u64>(),
        ) {
            let (_, mut p, mut next) = drawn_plan(n, hop_frac, window, boundary, padded, seed);
            let x = ndarray::Array2::from_shape_fn((len, channels), |_| next());
            let Ok(b) = p.stft_channels(x.view(), 2.0) else {
                prop_assert!(p.layout(len).is_err());
                return Ok(());
            };
            for c in 0..channels {
                let col = x.column(c).to_vec();
                let want = one_by_one(&mut p, &col);
                let one = p.stft(&col, 2.0).unwrap();
                prop_assert!(max_rel_diff(one.values.t().iter(), &want) <= 1e-12);
                let got = b.values.index_axis(ndarray::Axis(0), c);
                prop_assert!(max_rel_diff(got.t().iter(), &want) <= 1e-12);
            }
        }

        /// An `f32` plan on `f32` data equals the `f64` plan on the same values (widened) within
        /// 1e-6 of the largest magnitude, for every call (series, into, batch of channels,
        /// complex), any segment length, hop, window and padding; and the time and frequency
        /// grids are identical.
        #[test]
        fn f32_equals_f64_within_single_precision(
            n in 2usize..300,
            hop_frac in 0.0f64..1.0,
            window in window_strategy(),
            boundary in any::<bool>(),
            padded in any::<bool>(),
            len in 0usize..1200,
            channels in 1usize..4,
            seed in any::<u64>(),
        ) {
            let (cfg, mut p64, mut next) = drawn_plan(n, hop_frac, window, boundary, padded, seed);
            let mut p32 = StftPlan::new_f32(cfg).unwrap();
            let x32: Vec<f32> = (0..len).map(|_| next() as f32 * 100.0).collect();
            let x64: Vec<f64> = x32.iter().map(|&v| v as f64).collect();
            let wide = |v: &Complex<f32>| Complex64::new(v.re as f64, v.im as f64);
            match (p32.stft(&x32, 7.0), p64.stft(&x64, 7.0)) {
                (Ok(a), Ok(b)) => {
                    prop_assert_eq!(&a.freqs, &b.freqs);
                    prop_assert_eq!(&a.times, &b.times);
                    let aw: Vec<Complex64> = a.values.iter().map(wide).collect();
                    prop_assert!(max_rel_diff(&aw, b.values.iter()) <= 1e-6);
                    let mut into = Spectrogram::default();
                    p32.stft_into(&x32, 7.0, &mut into).unwrap();
                    prop_assert_eq!(&into, &a);
                }
                (a, b) => {
                    prop_assert!(a.is_err() && b.is_err());
                    return Ok(());
                }
            }
            let m32 = ndarray::Array2::from_shape_fn((len, channels), |(t, c)| x32[t] * (c + 1) as f32);
            let m64 = m32.mapv(|v| v as f64);
            let (a, b) = (p32.stft_channels(m32.view(), 7.0).unwrap(), p64.stft_channels(m64.view(), 7.0).unwrap());
            let aw: Vec<Complex64> = a.values.iter().map(wide).collect();
            prop_assert!(max_rel_diff(&aw, b.values.iter()) <= 1e-6);
            let mut into = SpectrogramBatch::default();
            p32.stft_channels_into(m32.view(), 7.0, &mut into).unwrap();
            prop_assert_eq!(&into, &a);
            let c32: Vec<Complex<f32>> = x32.iter().map(|&v| Complex::new(v, -v * 0.5)).collect();
            let c64: Vec<Complex64> = c32.iter().map(wide).collect();
            let (a, b) = (p32.stft_complex(&c32, 7.0).unwrap(), p64.stft_complex(&c64, 7.0).unwrap());
            let aw: Vec<Complex64> = a.values.iter().map(wide).collect();
            prop_assert!(max_rel_diff(&aw, b.values.iter()) <= 1e-6);
        }

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

        /// The FFT path (no padded copy, window and scaling fused, realfft / rustfft) equals
        /// the straightforward zero-padded copy + direct DFT within 1e-9 relative, for any
        /// segment length (odd ones too), hop, window, padding choice and input length.
        #[test]
        fn equals_naive_dft(
            n in 2usize..40,
            hop_frac in 0.0f64..1.0,
            window in window_strategy(),
            boundary in any::<bool>(),
            padded in any::<bool>(),
            len in 0usize..200,
            seed in any::<u64>(),
        ) {
            let (cfg, mut p, mut next) = drawn_plan(n, hop_frac, window, boundary, padded, seed);
            let x: Vec<f64> = (0..len).map(|_| next()).collect();
            let xc: Vec<Complex64> = x.iter().map(|&v| Complex64::new(v, next())).collect();
            let want_r = naive_stft(
                &x.iter().map(|&v| Complex64::new(v, 0.0)).collect::<Vec<_>>(),
                &cfg,
                n / 2 + 1,
            );
            match p.stft(&x, 3.0) {
                Ok(s) => assert_close(s.values.view(), &want_r, "real"),
                Err(_) => prop_assert!(want_r.is_empty()),
            }
            match p.stft_complex(&xc, 3.0) {
                Ok(s) => assert_close(s.values.view(), &naive_stft(&xc, &cfg, n), "complex"),
                Err(_) => prop_assert!(want_r.is_empty()),
            }
        }
    }
}
