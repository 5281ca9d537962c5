//! Spectrograms and Doppler (velocity) profiles of one node's CSI, as typed matrices.
//!
//! The series analysed is a [`Component`] of the frames: the amplitude of one subcarrier
//! column, the mean amplitude of a selection of columns, or a principal component of the
//! amplitude matrix (PCA over the whole series, [`crate::pca`]); amplitudes are averaged over
//! the rx/tx chains. The series is put on a uniform grid at the node's **measured** sampling
//! rate ([`crate::rate::RateEstimate::sampling_rate_hz`]: dropped frames do not lower it, so a
//! tone below half the rate the frames were sent at stays in its bin; [`crate::resample`]); grid points inside gaps longer than `max_gap` are
//! left empty, and spectrogram columns that touch them are `NaN` (shown blank), never filled.
//! Each segment's mean is removed (the amplitude's DC would dominate), then the STFT
//! ([`crate::stft`]) gives power in dB. With a carrier wavelength λ, each frequency `f` maps to a
//! path-length rate `f · λ` m/s ([`crate::fresnel`]).
//!
//! ```
//! use wifi_sensing_signal::spectrogram::{spectrogram_of_series, SpectrogramConfig};
//! use wifi_sensing_signal::stft::Span;
//! // 3 Hz amplitude oscillation sampled at a measured ~40 Hz
//! let t: Vec<i64> = (0..800).map(|i| i * 25_000_000).collect();
//! let x: Vec<f64> = t.iter().map(|&t| 1.0 + 0.2 * (2.0 * std::f64::consts::PI * 3.0 * t as f64 * 1e-9).sin()).collect();
//! let cfg = SpectrogramConfig { window: Span::Seconds(2.0), hop: Span::Seconds(0.5), ..Default::default() };
//! let s = spectrogram_of_series(&t, &x, &cfg, None)?;
//! let col = s.power_db.column(10);
//! let peak = (0..col.len()).max_by(|&a, &b| col[a].total_cmp(&col[b])).unwrap();
//! assert!((s.freqs_hz[peak] - 3.0).abs() <= 0.5);
//! # Ok::<(), wifi_sensing_signal::SignalError>(())
//! ```

use std::str::FromStr;

use ndarray::{Array2, Axis};
use serde::{Deserialize, Serialize};
use wifi_sensing_core::CsiFrame;

use crate::error::{Result, SignalError};
use crate::pca::Pca;
use crate::rate::{estimate_rate, RateEstimate};
use crate::resample::{ResampleConfig, Resampler};
use crate::stft::{Span, StftConfig, StftPlan, WindowFn};

/// Which series of the frames is analysed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Component {
    /// Amplitude of one subcarrier column (0-based column index).
    Subcarrier(usize),
    /// Mean amplitude of these columns.
    Selection(Vec<usize>),
    /// The `n`-th principal component (1-based) of the amplitude matrix.
    Pca(usize),
    /// Mean amplitude over every column.
    Mean,
}

impl Default for Component {
    fn default() -> Self {
        Component::Pca(1)
    }
}

impl std::fmt::Display for Component {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Component::Subcarrier(k) => write!(f, "subcarrier:{k}"),
            Component::Selection(v) => {
                let s: Vec<String> = v.iter().map(|k| k.to_string()).collect();
                write!(f, "subcarriers:{}", s.join("+"))
            }
            Component::Pca(n) => write!(f, "pca{n}"),
            Component::Mean => f.write_str("mean"),
        }
    }
}

impl FromStr for Component {
    type Err = SignalError;
    /// `subcarrier:K`, `subcarriers:K1+K2+...`, `pcaN` (1..=16) or `mean`.
    fn from_str(s: &str) -> Result<Self> {
        let bad = || {
            SignalError::param(
                "spectrogram",
                "component",
                s,
                "subcarrier:K, subcarriers:K1+K2+..., pca1..pca16 or mean",
            )
        };
        let t = s.trim();
        if t == "mean" {
            return Ok(Component::Mean);
        }
        if let Some(n) = t.strip_prefix("pca") {
            let n = n.trim_start_matches(':');
            return match n.parse::<usize>() {
                Ok(n) if (1..=16).contains(&n) => Ok(Component::Pca(n)),
                _ => Err(bad()),
            };
        }
        if let Some(k) = t.strip_prefix("subcarriers:") {
            let v: std::result::Result<Vec<usize>, _> =
                k.split('+').map(|x| x.trim().parse::<usize>()).collect();
            return match v {
                Ok(v) if !v.is_empty() && v.len() <= 4096 => Ok(Component::Selection(v)),
                _ => Err(bad()),
            };
        }
        if let Some(k) = t.strip_prefix("subcarrier:") {
            return k
                .trim()
                .parse()
                .map(Component::Subcarrier)
                .map_err(|_| bad());
        }
        Err(bad())
    }
}

/// Spectrogram parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpectrogramConfig {
    /// Series analysed. Default `pca1`.
    pub component: Component,
    /// Segment length. Default 1 s.
    pub window: Span,
    /// Hop between segments. Default 0.1 s.
    pub hop: Span,
    /// Window function. Default Hann.
    pub window_fn: WindowFn,
    /// Longest interval bridged by interpolation, seconds. Default 0.5 s.
    pub max_gap_s: f64,
}

impl Default for SpectrogramConfig {
    fn default() -> Self {
        SpectrogramConfig {
            component: Component::Pca(1),
            window: Span::Seconds(1.0),
            hop: Span::Seconds(0.1),
            window_fn: WindowFn::Hann,
            max_gap_s: 0.5,
        }
    }
}

/// A spectrogram as a matrix.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpectrogramMatrix {
    /// Measured sampling rate the grid uses, Hz ([`crate::rate::RateEstimate::sampling_rate_hz`]).
    pub rate_hz: f64,
    /// Segment length and hop in frames (resolved from the configuration at `rate_hz`).
    pub nperseg: usize,
    /// Hop in frames.
    pub hop: usize,
    /// Time of each column (segment centre), seconds from the first frame.
    pub times_s: Vec<f64>,
    /// Frequency of each row, Hz (`0..=rate/2`).
    pub freqs_hz: Vec<f64>,
    /// Path-length rate of each row, m/s (`f · λ`), when a wavelength was given.
    pub velocity_mps: Option<Vec<f64>>,
    /// Power in dB (`10 log10 |X|²`, STFT scaled as scipy's `spectrum`), `(freqs, times)`;
    /// `NaN` where a segment overlaps a gap.
    pub power_db: Array2<f64>,
    /// Gaps (longer than `max_gap_s`) in the input.
    pub gaps: u64,
    /// Explained-variance ratio of the PCA component, when one was analysed.
    pub explained_variance_ratio: Option<f64>,
    /// Frames left out for their subcarrier count ([`spectrogram`] analyses the most common
    /// one of the frames given; 0 from [`spectrogram_of_series`]).
    pub frames_skipped_layout: u64,
    /// The rate estimate of the series' timestamps `rate_hz` comes from (its
    /// `sampling_rate_hz`; [`RateEstimate::is_regular`] says whether that is a sampling rate
    /// or, on an irregular stream, the received rate).
    pub rate_estimate: RateEstimate,
}

/// The subcarrier count most of `frames` have (the first seen on a tie; 0 without frames),
/// and how many frames have another.
///
/// ```
/// use wifi_sensing_core::{CaptureFormat, CsiFrame, Device};
/// use wifi_sensing_signal::spectrogram::common_subcarriers;
/// let f = |k| CsiFrame::new(CaptureFormat::Simulated, Device::Simulator, ndarray::Array3::zeros((1, 1, k)));
/// let frames = [f(128), f(64), f(64), f(192)];
/// let refs: Vec<&CsiFrame> = frames.iter().collect();
/// assert_eq!(common_subcarriers(&refs), (64, 2));
/// ```
pub fn common_subcarriers(frames: &[&CsiFrame]) -> (usize, u64) {
    let mut counts: Vec<(usize, u64)> = Vec::new();
    for f in frames {
        let n = f.n_subcarriers();
        if let Some((_, c)) = counts.iter_mut().find(|(k, _)| *k == n) {
            *c += 1;
        } else if counts.len() < 64 {
            counts.push((n, 1));
        }
    }
    // the first of the most common: max_by_key keeps the last maximum, so search in reverse
    let best = counts
        .iter()
        .rev()
        .max_by_key(|(_, c)| *c)
        .map_or(0, |&(k, _)| k);
    let kept = counts.iter().find(|(k, _)| *k == best).map_or(0, |c| c.1);
    (best, frames.len() as u64 - kept)
}

/// Extracts the component series of a node's frames: `(timestamps, values)`. Frames whose
/// column count differs from the most common one ([`common_subcarriers`]) are skipped, as the
/// streaming analysers and the `spectrogram` command skip them ([`spectrogram`] counts them in
/// [`SpectrogramMatrix::frames_skipped_layout`]).
pub fn component_series(
    frames: &[&CsiFrame],
    component: &Component,
) -> Result<(Vec<i64>, Vec<f64>, Option<f64>)> {
    component_series_of(frames, component, common_subcarriers(frames).0)
}

/// [`component_series`] of the frames with `n` subcarriers.
fn component_series_of(
    frames: &[&CsiFrame],
    component: &Component,
    n: usize,
) -> Result<(Vec<i64>, Vec<f64>, Option<f64>)> {
    if frames.is_empty() {
        return Err(SignalError::TooShort {
            component: "spectrogram",
            len: 0,
            needed: 2,
        });
    }
    let cols: Vec<usize> = match component {
        Component::Subcarrier(k) => vec![*k],
        Component::Selection(v) => v.clone(),
        Component::Pca(_) | Component::Mean => (0..n).collect(),
    };
    if let Some(&bad) = cols.iter().find(|&&k| k >= n) {
        return Err(SignalError::param(
            "spectrogram",
            "component",
            component,
            match n {
                0 => format!("no subcarrier column: the frames have none (got {bad})"),
                _ => format!("subcarrier columns 0..={} (got {bad})", n - 1),
            },
        ));
    }
    let mut t = Vec::with_capacity(frames.len());
    let mut amp = Array2::<f64>::zeros((0, cols.len()));
    let mut row = vec![0.0; cols.len()];
    for f in frames {
        if f.n_subcarriers() != n {
            continue;
        }
        let chains = (f.csi.dim().0 * f.csi.dim().1).max(1) as f64;
        for (j, &k) in cols.iter().enumerate() {
            row[j] = f
                .csi
                .index_axis(Axis(2), k)
                .iter()
                .map(|c| f64::from(c.norm()))
                .sum::<f64>()
                / chains;
        }
        if row.iter().any(|v| !v.is_finite()) {
            continue;
        }
        amp.push_row(ndarray::ArrayView1::from(&row))
            .map_err(|e| SignalError::Numerical {
                component: "spectrogram",
                reason: e.to_string(),
            })?;
        t.push(f.timestamp_ns);
    }
    match component {
        Component::Subcarrier(_) | Component::Selection(_) | Component::Mean => Ok((
            t,
            amp.mean_axis(Axis(1))
                .map(|m| m.to_vec())
                .unwrap_or_default(),
            None,
        )),
        Component::Pca(c) => {
            let p = Pca::fit(amp.view(), (*c).min(n))?;
            let proj = p.transform(amp.view())?;
            let k = (*c).min(n) - 1;
            Ok((
                t,
                proj.column(k).to_vec(),
                p.explained_variance_ratio.get(k).copied(),
            ))
        }
    }
}

/// Spectrogram of a series `(t_ns, x)` (see the module docs); `wavelength_m` adds the velocity
/// axis.
pub fn spectrogram_of_series(
    t_ns: &[i64],
    x: &[f64],
    cfg: &SpectrogramConfig,
    wavelength_m: Option<f64>,
) -> Result<SpectrogramMatrix> {
    if t_ns.len() != x.len() {
        return Err(SignalError::Shape {
            component: "spectrogram",
            detail: format!("{} timestamps for {} values", t_ns.len(), x.len()),
        });
    }
    Span::check_hop(cfg.window, cfg.hop, "spectrogram")?;
    let rate_estimate = estimate_rate(t_ns).ok_or_else(|| {
        SignalError::param(
            "spectrogram",
            "timestamps",
            format!("{} frames", t_ns.len()),
            "at least 2 frames with increasing timestamps (no frame rate is measurable)",
        )
    })?;
    let rate = rate_estimate.sampling_rate_hz;
    let nperseg = cfg.window.frames(rate).max(2);
    let hop = cfg.hop.frames(rate).clamp(1, nperseg);
    // uniform grid at the measured rate; NaN inside gaps
    let mut rs = Resampler::<f64>::new(ResampleConfig {
        rate_hz: rate,
        max_gap_s: cfg.max_gap_s,
    })?;
    let span_s = (t_ns.iter().max().copied().unwrap_or(0) - t_ns.iter().min().copied().unwrap_or(0))
        as f64
        * 1e-9;
    if span_s * rate > 5e7 {
        return Err(SignalError::param(
            "spectrogram",
            "input",
            format!("{span_s:.0} s at {rate:.1} Hz"),
            "at most 5e7 grid points",
        ));
    }
    let t0 = t_ns.first().copied().unwrap_or(0);
    let period = 1e9 / rate;
    let mut grid: Vec<f64> = Vec::new();
    let mut gaps = 0u64;
    for (&t, &v) in t_ns.iter().zip(x) {
        let g = rs.push(t, &[v], |gt, gv| {
            let idx = ((gt - t0) as f64 / period).round();
            if idx >= 0.0 {
                let idx = idx as usize;
                if idx >= grid.len() {
                    grid.resize(idx, f64::NAN);
                    grid.push(gv[0]);
                }
            }
        })?;
        if g.is_some() {
            gaps += 1;
        }
    }
    let mut plan = StftPlan::new(StftConfig {
        nperseg,
        hop,
        window: cfg.window_fn,
        boundary: false,
        padded: false,
    })?;
    if grid.len() < nperseg {
        return Err(SignalError::TooShort {
            component: "spectrogram",
            len: grid.len(),
            needed: nperseg,
        });
    }
    let nseg = (grid.len() - nperseg) / hop + 1;
    let nb = plan.n_bins();
    let mut power = Array2::from_elem((nb, nseg), f64::NAN);
    let mut seg = vec![0.0; nperseg];
    let mut out = vec![num_complex::Complex64::default(); nb];
    for k in 0..nseg {
        let s = &grid[k * hop..k * hop + nperseg];
        if s.iter().any(|v| !v.is_finite()) {
            continue;
        }
        let mean = s.iter().sum::<f64>() / nperseg as f64;
        seg.iter_mut().zip(s).for_each(|(d, v)| *d = v - mean);
        plan.segment(&seg, &mut out)?;
        for (i, c) in out.iter().enumerate() {
            power[[i, k]] = 10.0 * (c.norm_sqr() + 1e-30).log10();
        }
    }
    let freqs_hz: Vec<f64> = (0..nb).map(|i| i as f64 * rate / nperseg as f64).collect();
    Ok(SpectrogramMatrix {
        rate_hz: rate,
        nperseg,
        hop,
        times_s: (0..nseg)
            .map(|k| (k * hop) as f64 / rate + nperseg as f64 / 2.0 / rate)
            .collect(),
        velocity_mps: wavelength_m.map(|l| freqs_hz.iter().map(|f| f * l).collect()),
        freqs_hz,
        power_db: power,
        gaps,
        explained_variance_ratio: None,
        frames_skipped_layout: 0,
        rate_estimate,
    })
}

/// Spectrogram of one node's frames: [`component_series`] then [`spectrogram_of_series`];
/// the wavelength comes from the first frame ([`crate::fresnel::frame_wavelength_m`]) unless
/// given.
pub fn spectrogram(
    frames: &[&CsiFrame],
    cfg: &SpectrogramConfig,
    wavelength_m: Option<f64>,
) -> Result<SpectrogramMatrix> {
    let (n, skipped) = common_subcarriers(frames);
    let (t, x, evr) = component_series_of(frames, &cfg.component, n)?;
    let lambda = wavelength_m.or_else(|| {
        frames
            .first()
            .and_then(|f| crate::fresnel::frame_wavelength_m(f))
    });
    let mut s = spectrogram_of_series(&t, &x, cfg, lambda)?;
    s.explained_variance_ratio = evr;
    s.frames_skipped_layout = skipped;
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn peak_row(col: ndarray::ArrayView1<f64>) -> usize {
        (0..col.len())
            .max_by(|&a, &b| col[a].total_cmp(&col[b]))
            .unwrap()
    }

    #[test]
    fn components_parse() {
        assert_eq!("pca1".parse::<Component>().unwrap(), Component::Pca(1));
        assert_eq!(
            "subcarrier:12".parse::<Component>().unwrap(),
            Component::Subcarrier(12)
        );
        assert_eq!(
            "subcarriers:1+3".parse::<Component>().unwrap(),
            Component::Selection(vec![1, 3])
        );
        for bad in ["pca0", "pca17", "subcarrier:x", "subcarriers:", "foo"] {
            assert!(bad.parse::<Component>().is_err(), "{bad}");
        }
    }

    /// A node whose first frame is a stray of a rare layout (RuView nodes mix 64, 128 and 192
    /// pairs) is analysed in its most common layout, the strays counted; the first frame's
    /// layout was kept before, and most of the frames dropped without a word.
    #[test]
    fn the_most_common_layout_is_analysed_and_the_others_counted() {
        let frames = crate::test_support::walking_frames(0, 1.2, 5.18e9);
        let plain = {
            let refs: Vec<&CsiFrame> = frames.iter().collect();
            spectrogram(&refs, &SpectrogramConfig::default(), None).unwrap()
        };
        assert_eq!(plain.frames_skipped_layout, 0);
        // every 10th frame (the first among them) widened to 32 subcarriers
        let mixed: Vec<CsiFrame> = frames
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let mut f = f.clone();
                if i % 10 == 0 {
                    f.csi = ndarray::Array3::from_elem(
                        (1, 1, 32),
                        num_complex::Complex32::new(1.0, 0.0),
                    );
                }
                f
            })
            .collect();
        let refs: Vec<&CsiFrame> = mixed.iter().collect();
        let s = spectrogram(&refs, &SpectrogramConfig::default(), None).unwrap();
        assert_eq!(s.frames_skipped_layout, 250);
        assert!(
            (s.rate_hz - plain.rate_hz).abs() < 1.0,
            "{} vs {}",
            s.rate_hz,
            plain.rate_hz
        );
        assert_eq!(s.power_db.dim().0, plain.power_db.dim().0);
    }

    #[test]
    fn a_column_past_the_last_names_the_last_valid_one() {
        let frames = crate::test_support::walking_frames(0, 1.0, 5.18e9);
        let refs: Vec<&CsiFrame> = frames.iter().collect();
        let e = component_series(&refs, &Component::Subcarrier(16)).unwrap_err();
        assert!(e.to_string().contains("columns 0..=15 (got 16)"), "{e}");
        assert!(component_series(&refs, &Component::Subcarrier(15)).is_ok());
    }

    /// A person walking so that a reflected path changes at 1.2 m/s at 5.18 GHz (about 20.7 Hz)
    /// shows up in the velocity axis at 1.2 m/s, from frames at a jittered ~250 Hz and a
    /// static path interfering with it (amplitude oscillation).
    #[test]
    fn walking_doppler_maps_to_m_per_s() {
        let f_c = 5.18e9;
        let v = 1.2;
        let frames = crate::test_support::walking_frames(0, v, f_c);
        let refs: Vec<&CsiFrame> = frames.iter().collect();
        let cfg = SpectrogramConfig {
            window: Span::Seconds(1.0),
            hop: Span::Seconds(0.25),
            ..Default::default()
        };
        let s = spectrogram(&refs, &cfg, None).unwrap();
        let vel = s.velocity_mps.as_ref().unwrap();
        let res = vel[1];
        for k in 0..s.times_s.len() {
            let p = peak_row(s.power_db.column(k));
            assert!((vel[p] - v).abs() <= res, "column {k}: {} m/s", vel[p]);
        }
        assert!((s.rate_hz - 250.0).abs() < 1.0);
    }

    /// Frames whose timestamps never increase give no rate: the error says so (it said
    /// "input of 100 samples is too short; at least 2 needed").
    #[test]
    fn timestamps_that_do_not_increase_are_named() {
        let x = vec![1.0; 100];
        for t in [vec![5i64; 100], (0..100).rev().collect::<Vec<i64>>()] {
            let e = spectrogram_of_series(&t, &x, &SpectrogramConfig::default(), None)
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("100 frames") && e.contains("increasing timestamps"),
                "{e}"
            );
        }
    }

    #[test]
    fn gaps_leave_nan_columns() {
        let mut t: Vec<i64> = (0..400).map(|i| i * 10_000_000).collect();
        t.extend((700..1100).map(|i| i * 10_000_000));
        let x: Vec<f64> = t.iter().map(|&t| (t as f64 * 1e-9 * 20.0).sin()).collect();
        let s = spectrogram_of_series(
            &t,
            &x,
            &SpectrogramConfig {
                window: Span::Frames(64),
                hop: Span::Frames(32),
                ..Default::default()
            },
            None,
        )
        .unwrap();
        assert_eq!(s.gaps, 1);
        let nan_cols = (0..s.times_s.len())
            .filter(|&k| s.power_db[[0, k]].is_nan())
            .count();
        assert!(nan_cols >= 8, "{nan_cols}");
        assert!(nan_cols < s.times_s.len() / 2);
    }

    proptest! {
        /// A tone at f Hz lands in the right row at any measured frame rate.
        #[test]
        fn tone_in_right_row_any_rate(rate in 8.0f64..1000.0, frac in 0.05f64..0.45) {
            let f = frac * rate;
            let t: Vec<i64> = (0..600).map(|i| (i as f64 * 1e9 / rate) as i64).collect();
            let x: Vec<f64> = t.iter().map(|&t| (2.0 * std::f64::consts::PI * f * t as f64 * 1e-9).sin()).collect();
            let s = spectrogram_of_series(&t, &x, &SpectrogramConfig { window: Span::Frames(128), hop: Span::Frames(64), ..Default::default() }, None).unwrap();
            let df = s.freqs_hz[1];
            for k in 0..s.times_s.len() {
                let p = peak_row(s.power_db.column(k));
                prop_assert!((s.freqs_hz[p] - f).abs() <= df, "rate {} f {} got {}", rate, f, s.freqs_hz[p]);
            }
        }
    }
}
