//! Streaming spectrogram and Doppler analysers: pipeline [`Analyser`]s that emit one typed
//! record per hop and per node while the stream runs.
//!
//! Per node, the analyser measures the sampling rate from the node's first `warmup` frames
//! ([`crate::rate::RateEstimate::sampling_rate_hz`]: frames lost in between do not lower it),
//! then resolves the window and hop (seconds or frames) at that rate, puts
//! the chosen [`Component`] of each frame on a uniform grid at the measured rate
//! ([`crate::resample`]; gaps longer than `max_gap` are not bridged: the window restarts after
//! them and the gap is counted), and every `hop` grid samples computes the spectrum of the last
//! `window` samples (segment mean removed, window function, one real FFT planned once,
//! [`crate::stft`]; power in dB of the STFT scaled as scipy's `spectrum`).
//!
//! [`SpectralAnalyser`] is one of two kinds ([`SpectralKind`]):
//! - `spectrogram` emits a [`SpectrogramColumn`] (record type `spectrogram`): one
//!   spectrogram column, power per frequency bin.
//! - `doppler` emits a [`DopplerProfile`] (record type `doppler`): the same column on
//!   a speed axis (bin frequency `f` ↔ path-length rate `f · λ` m/s, λ from the frame's carrier,
//!   [`crate::fresnel`]) with a summary: the peak speed, the power-weighted mean speed and the
//!   fraction of the (non-DC) power at speeds of at least `min_speed`.
//!
//! The series is an amplitude, so the spectrum is one-sided: speeds are magnitudes (the
//! direction of a path change is not observable from amplitudes alone).
//!
//! Cost: per frame, the component (one `|H|` per value used) and a resampler step; per hop, one
//! FFT of `window` samples, plus for `pcaN` a PCA of the window's amplitude matrix (which
//! allocates; choose `mean` or subcarriers for the cheapest path). Nothing is allocated per frame
//! once a node is warm.
//!
//! ```
//! use ndarray::Array3;
//! use num_complex::Complex32;
//! use wifi_sensing_core::{Analyser, CaptureFormat, CsiFrame, Device};
//! use wifi_sensing_signal::spectral::{SpectralAnalyser, SpectralConfig, SpectrogramColumn};
//! // 64 Hz frames whose amplitude oscillates at 5 Hz
//! let cfg: SpectralConfig = "window=64:hop=32".parse()?;
//! let mut a = SpectralAnalyser::spectrogram(cfg)?;
//! let mut out = Vec::new();
//! for i in 0..400i64 {
//!     let amp = 1.0 + 0.3 * (2.0 * std::f32::consts::PI * 5.0 * i as f32 / 64.0).sin();
//!     let mut f = CsiFrame::new(CaptureFormat::Simulated, Device::Simulator,
//!         Array3::from_elem((1, 1, 8), Complex32::new(amp, 0.0)));
//!     f.timestamp_ns = i * 1_000_000_000 / 64;
//!     a.analyse(&f, &mut out)?;
//! }
//! let col = out.last().unwrap().downcast_ref::<SpectrogramColumn>().unwrap();
//! assert!((col.peak_hz() - 5.0).abs() <= col.freq_step_hz);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::str::FromStr;

use ndarray::{Array2, Axis};
use num_complex::Complex64;
use serde::{Deserialize, Serialize};
use wifi_sensing_core::{Analyser, Analysis, CsiFrame, PerNode};

use crate::error::{Result, SignalError};
use crate::features::{describe_layouts, note_other_shape, LayoutKeeper};
use crate::pca::Pca;
use crate::rate::RateEstimator;
use crate::resample::{ResampleConfig, Resampler};
use crate::spectrogram::Component;
use crate::stages::spec::Spec;
use crate::stages::{Notices, DEFAULT_MAX_NODES};
use crate::stft::{Span, StftConfig, StftPlan, WindowFn};

/// Largest window in frames the streaming analysers accept once resolved at the measured rate
/// (a bound on per-node memory).
pub const MAX_WINDOW_FRAMES: usize = 8192;

/// Configuration of the streaming spectrogram and Doppler analysers, compact form
/// `window=1s:hop=0.25s:component=mean:fn=hann:max_gap=0.5s:warmup=32:min_speed=0.2`
/// (every parameter optional).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpectralConfig {
    /// Series analysed: `mean` (default: mean amplitude of every column), `subcarrier:K`,
    /// `subcarriers:K1+K2` or `pcaN` (PCA of the window's amplitude matrix, refitted per hop).
    pub component: Component,
    /// Segment length, seconds or frames. Default 1 s. At most [`MAX_WINDOW_FRAMES`] frames at
    /// the measured rate (longer is clamped, with a notice).
    pub window: Span,
    /// Hop between records, seconds or frames (at most the window; with mixed units clamped to
    /// it). Default 0.25 s.
    pub hop: Span,
    /// Window function. Default Hann.
    pub window_fn: WindowFn,
    /// Longest interval bridged by interpolation, seconds (0.001..=3600). Default 0.5 s.
    pub max_gap_s: f64,
    /// Frames used to measure the rate before the first record, 4..=1024. Default 32.
    pub warmup: usize,
    /// Doppler only: lowest speed counted as motion, m/s (0..=100). Default 0.2 m/s.
    pub min_speed_mps: f64,
    /// Doppler only: carrier frequency in MHz when frames do not state it (100..=100000).
    pub carrier_mhz: Option<u32>,
}

impl Default for SpectralConfig {
    fn default() -> Self {
        SpectralConfig {
            component: Component::Mean,
            window: Span::Seconds(1.0),
            hop: Span::Seconds(0.25),
            window_fn: WindowFn::Hann,
            max_gap_s: 0.5,
            warmup: 32,
            min_speed_mps: 0.2,
            carrier_mhz: None,
        }
    }
}

impl SpectralConfig {
    /// Checks the documented ranges.
    pub fn validate(&self) -> Result<()> {
        crate::error::check_range("spectral max_gap_s", self.max_gap_s, 0.001, 3600.0, "s")?;
        crate::error::check_range(
            "spectral min_speed_mps",
            self.min_speed_mps,
            0.0,
            100.0,
            "m/s",
        )?;
        if !(4..=1024).contains(&self.warmup) {
            return Err(SignalError::param(
                "spectral",
                "warmup",
                self.warmup,
                "4..=1024 frames",
            ));
        }
        if let Some(m) = self.carrier_mhz {
            if !(100..=100_000).contains(&m) {
                return Err(SignalError::param(
                    "spectral",
                    "carrier",
                    m,
                    "100..=100000 MHz",
                ));
            }
        }
        if let Span::Frames(w) = self.window {
            if !(2..=MAX_WINDOW_FRAMES).contains(&w) {
                return Err(SignalError::param(
                    "spectral",
                    "window",
                    w,
                    format!("2..={MAX_WINDOW_FRAMES} frames"),
                ));
            }
        }
        Span::check_hop(self.window, self.hop, "spectral")
    }
}

impl FromStr for SpectralConfig {
    type Err = SignalError;
    fn from_str(s: &str) -> Result<Self> {
        // `component=subcarrier:K` holds the list separator: protect it
        let text = s
            .replace("=subcarriers:", "=subcarriers=")
            .replace("=subcarrier:", "=subcarrier=");
        let mut p = Spec::parse("spectral", &text, None)?;
        let d = SpectralConfig::default();
        let component = match p.text("component") {
            None => d.component,
            Some(c) => c.replacen('=', ":", 1).parse()?,
        };
        let window = p.span("window", d.window)?;
        let hop = p.span("hop", d.hop)?;
        let window_fn = match p.text("fn") {
            None => d.window_fn,
            // named as the user wrote it (`fn`), not as the STFT calls it
            Some(w) => w.parse().map_err(|_| {
                SignalError::param("spectral", "fn", w, "hann, hamming, blackman or rect")
            })?,
        };
        let max_gap_s = match p.span("max_gap", Span::Seconds(d.max_gap_s))? {
            Span::Seconds(s) => s,
            Span::Frames(_) => {
                return Err(SignalError::param(
                    "spectral",
                    "max_gap",
                    s,
                    "seconds like `0.5s` or `500ms`",
                ))
            }
        };
        let warmup = p.usize("warmup", 4, 1024, d.warmup)?;
        let min_speed_mps = p.f64("min_speed", "m/s", 0.0, 100.0, Some(d.min_speed_mps))?;
        let carrier = p.f64("carrier", "mhz", 100.0, 100_000.0, Some(0.0));
        let carrier_mhz = match carrier {
            Ok(c) if c > 0.0 => Some(c.round() as u32),
            Ok(_) => None,
            Err(e) => return Err(e),
        };
        p.finish(&[
            "window",
            "hop",
            "component",
            "fn",
            "max_gap",
            "warmup",
            "min_speed",
            "carrier",
        ])?;
        let cfg = SpectralConfig {
            component,
            window,
            hop,
            window_fn,
            max_gap_s,
            warmup,
            min_speed_mps,
            carrier_mhz,
        };
        cfg.validate()?;
        Ok(cfg)
    }
}

/// One spectrogram column of one node (record type `spectrogram`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SpectrogramColumn {
    /// Series analysed (`mean`, `subcarrier:K`, `subcarriers:..`, `pcaN`).
    pub component: String,
    /// Measured sampling rate of the node the grid uses, Hz (dropped frames do not lower it).
    pub rate_hz: f64,
    /// Window length, frames (grid samples).
    pub nperseg: usize,
    /// Hop between records, frames.
    pub hop: usize,
    /// Window function name.
    pub window_fn: WindowFn,
    /// Grid time of the first sample of the segment, ns (the stream's clock).
    pub start_ns: i64,
    /// Grid time of the last sample of the segment, ns.
    pub end_ns: i64,
    /// Frequency of bin `k` is `k · freq_step_hz` (`rate_hz / nperseg`), `k = 0..=nperseg/2`.
    pub freq_step_hz: f64,
    /// Power per bin in dB (`10 log10 |X|²`, one-sided STFT scaled as scipy's `spectrum`, the
    /// segment mean removed).
    pub power_db: Vec<f64>,
    /// Carrier wavelength, m, when the frames state their carrier.
    pub wavelength_m: Option<f64>,
    /// Path-length rate per bin, m/s (`freq_step_hz · λ`), with the wavelength.
    pub velocity_step_mps: Option<f64>,
    /// Gaps (longer than `max_gap`) seen on this node so far.
    pub gaps: u64,
    /// Explained-variance ratio of the PCA component over this window (`pcaN` only).
    pub explained_variance_ratio: Option<f64>,
}

impl SpectrogramColumn {
    /// Frequency of the strongest bin above DC, Hz.
    pub fn peak_hz(&self) -> f64 {
        peak_bin(&self.power_db) as f64 * self.freq_step_hz
    }
}

fn peak_bin(p: &[f64]) -> usize {
    (1..p.len())
        .max_by(|&a, &b| p[a].total_cmp(&p[b]))
        .unwrap_or(0)
}

/// One Doppler (speed) profile of one node (record type `doppler`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DopplerProfile {
    /// Series analysed.
    pub component: String,
    /// Measured sampling rate, Hz (dropped frames do not lower it).
    pub rate_hz: f64,
    /// Window length, frames.
    pub nperseg: usize,
    /// Grid time of the first sample of the segment, ns.
    pub start_ns: i64,
    /// Grid time of the last sample of the segment, ns.
    pub end_ns: i64,
    /// Carrier wavelength, m.
    pub wavelength_m: f64,
    /// Speed of bin `k` is `k · velocity_step_mps` (path-length rate, m/s; `k = 0..=nperseg/2`,
    /// up to `rate/2 · λ`).
    pub velocity_step_mps: f64,
    /// Power per speed bin, dB (as [`SpectrogramColumn::power_db`]).
    pub power_db: Vec<f64>,
    /// Speed of the strongest bin at or above `min_speed_mps`, m/s (`null` when no bin is).
    pub peak_speed_mps: Option<f64>,
    /// Power-weighted mean speed over the bins at or above `min_speed_mps`, m/s.
    pub mean_speed_mps: Option<f64>,
    /// Fraction of the power of the non-DC bins that lies at or above `min_speed_mps`, 0..=1.
    pub motion_fraction: f64,
    /// The `min_speed_mps` used, m/s.
    pub min_speed_mps: f64,
    /// Gaps seen on this node so far.
    pub gaps: u64,
}

impl DopplerProfile {
    fn from_column(c: &SpectrogramColumn, lambda: f64, min_speed: f64) -> Self {
        let step = c.freq_step_hz * lambda;
        let lin: Vec<f64> = c.power_db.iter().map(|d| 10f64.powf(d / 10.0)).collect();
        let first = if step > 0.0 {
            ((min_speed / step).ceil() as usize).max(1)
        } else {
            lin.len()
        };
        let total: f64 = lin.iter().skip(1).sum();
        let (mut moving, mut weighted) = (0.0, 0.0);
        for (k, p) in lin.iter().enumerate().skip(first) {
            moving += p;
            weighted += p * k as f64 * step;
        }
        let peak = (first..lin.len()).max_by(|&a, &b| lin[a].total_cmp(&lin[b]));
        DopplerProfile {
            component: c.component.clone(),
            rate_hz: c.rate_hz,
            nperseg: c.nperseg,
            start_ns: c.start_ns,
            end_ns: c.end_ns,
            wavelength_m: lambda,
            velocity_step_mps: step,
            power_db: c.power_db.clone(),
            peak_speed_mps: peak.map(|k| k as f64 * step),
            mean_speed_mps: (moving > 0.0).then(|| weighted / moving),
            motion_fraction: if total > 0.0 {
                (moving / total).clamp(0.0, 1.0)
            } else {
                0.0
            },
            min_speed_mps: min_speed,
            gaps: c.gaps,
        }
    }
}

/// The (receive core, spatial stream) of a Nexmon frame read one per packet (shape `1x1xN`),
/// `None` for other frames (grouped Nexmon frames, other formats). Packets of one transmission
/// from several pairs, taken as successive samples, inflate the measured rate: the spectral
/// analysers and the `spectrogram` command say so when a node's frames carry more than one.
pub fn nexmon_slot(frame: &CsiFrame) -> Option<(u8, u8)> {
    match (&frame.meta, frame.shape()) {
        (wifi_sensing_core::FormatMeta::Nexmon(m), (1, 1, _)) => Some((m.core, m.spatial)),
        _ => None,
    }
}

/// Whether a node's frames are Nexmon packets of several (receive core, spatial stream) pairs
/// of the same transmissions, read one frame per packet (see [`nexmon_slot`]).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct NexmonMix {
    first: Option<(u8, u8)>,
    mixed: bool,
}

impl NexmonMix {
    /// Notes `frame`; `true` on the frame that first shows a second pair.
    pub(crate) fn observe(&mut self, frame: &CsiFrame) -> bool {
        match (nexmon_slot(frame), self.mixed) {
            (Some(slot), false) if *self.first.get_or_insert(slot) != slot => {
                self.mixed = true;
                true
            }
            _ => false,
        }
    }

    /// Whether a second pair has come.
    pub(crate) fn mixed(&self) -> bool {
        self.mixed
    }
}

/// Per-node streaming state.
#[derive(Debug)]
struct Node {
    ncols: usize,
    rate: RateEstimator,
    /// Frames' component rows held until the rate is measured: `(t, row)`.
    held_t: Vec<i64>,
    held: Vec<f64>,
    run: Option<Running>,
    row: Vec<f64>,
    lambda: Option<f64>,
    /// Usable frames since the node's analysis (re)started.
    frames: u64,
    /// Columns made for this node so far.
    columns: u64,
    /// The layout kept and the frames skipped for theirs.
    layouts: LayoutKeeper<usize>,
    /// The shape of the frames analysed, and of the others seen (the first few).
    shape: (usize, usize, usize),
    other_shapes: Vec<(usize, usize, usize)>,
    /// Frames of the node seen, analysed or not.
    seen: u64,
    /// Nexmon packets of one transmission taken as samples.
    nexmon: NexmonMix,
}

#[derive(Debug)]
struct Running {
    rate_hz: f64,
    n: usize,
    hop: usize,
    width: usize,
    resampler: Resampler<f64>,
    plan: StftPlan,
    /// `n × width` ring of grid rows.
    ring: Vec<f64>,
    ring_t: Vec<i64>,
    head: usize,
    filled: usize,
    since: usize,
    seg: Vec<f64>,
    spec: Vec<Complex64>,
    gaps: u64,
    /// Grid rows produced by the current `push`, copied out of the resampler callback.
    pending: Vec<f64>,
    pending_t: Vec<i64>,
}

/// What the shared engine found at the end of a segment.
type Columns = Vec<(u32, SpectrogramColumn, Option<f64>)>;

/// The engine both analysers share.
#[derive(Debug)]
struct Engine {
    cfg: SpectralConfig,
    nodes: PerNode<Node>,
    notices: Notices,
    cols: Vec<usize>,
    label: String,
    name: &'static str,
}

impl Engine {
    fn new(cfg: SpectralConfig, name: &'static str, notices: Notices) -> Result<Self> {
        cfg.validate()?;
        let cols = match &cfg.component {
            Component::Subcarrier(k) => vec![*k],
            Component::Selection(v) => v.clone(),
            _ => Vec::new(),
        };
        Ok(Engine {
            label: cfg.component.to_string(),
            cfg,
            nodes: PerNode::new(DEFAULT_MAX_NODES),
            notices,
            cols,
            name,
        })
    }

    /// The component row of a frame into `row` (`false`: not usable, skipped).
    fn row(cfg: &SpectralConfig, cols: &[usize], frame: &CsiFrame, row: &mut Vec<f64>) -> bool {
        let (r, t, n) = frame.csi.dim();
        let chains = (r * t).max(1) as f64;
        row.clear();
        match cfg.component {
            Component::Pca(_) => {
                row.resize(n, 0.0);
                for lane in frame.csi.lanes(Axis(2)) {
                    for (d, c) in row.iter_mut().zip(lane.iter()) {
                        *d += f64::from(c.norm_sqr()).sqrt();
                    }
                }
                row.iter_mut().for_each(|v| *v /= chains);
            }
            Component::Mean => {
                let s: f64 = frame
                    .csi
                    .iter()
                    .map(|c| f64::from(c.norm_sqr()).sqrt())
                    .sum();
                row.push(s / (chains * n.max(1) as f64));
            }
            _ => {
                if cols.iter().any(|&k| k >= n) {
                    return false;
                }
                let mut s = 0.0;
                for lane in frame.csi.lanes(Axis(2)) {
                    for &k in cols {
                        s += f64::from(lane[k].norm_sqr()).sqrt();
                    }
                }
                row.push(s / (chains * cols.len().max(1) as f64));
            }
        }
        row.iter().all(|v| v.is_finite())
    }

    fn start(
        cfg: &SpectralConfig,
        notices: &Notices,
        name: &str,
        ncols: usize,
        fs: f64,
        id: u32,
    ) -> Result<Running> {
        let mut n = cfg.window.frames(fs).max(2);
        if n > MAX_WINDOW_FRAMES {
            notices.once(&format!("{name}/window/{id}"), || {
                format!(
                    "{name}: node {id}: the window is {n} frames at the measured {fs:.1} Hz; clamped to {MAX_WINDOW_FRAMES}"
                )
            });
            n = MAX_WINDOW_FRAMES;
        }
        let hop = cfg.hop.frames(fs).clamp(1, n);
        let width = match cfg.component {
            Component::Pca(_) => ncols,
            _ => 1,
        };
        let plan = StftPlan::new(StftConfig {
            nperseg: n,
            hop,
            window: cfg.window_fn,
            boundary: false,
            padded: false,
        })?;
        Ok(Running {
            rate_hz: fs,
            n,
            hop,
            width,
            resampler: Resampler::new(ResampleConfig {
                rate_hz: fs,
                max_gap_s: cfg.max_gap_s,
            })?,
            spec: vec![Complex64::default(); plan.n_bins()],
            plan,
            ring: vec![0.0; n * width],
            ring_t: vec![0; n],
            head: 0,
            filled: 0,
            since: 0,
            seg: vec![0.0; n],
            gaps: 0,
            pending: Vec::with_capacity(4 * width),
            pending_t: Vec::with_capacity(4),
        })
    }

    fn push(&mut self, frame: &CsiFrame, out: &mut Columns) -> wifi_sensing_core::Result<()> {
        let before = out.len();
        let r = self.push_frame(frame, out);
        if out.len() > before {
            if let Some(node) = self.nodes.get_mut(frame.node_id) {
                node.columns += (out.len() - before) as u64;
            }
        }
        r
    }

    /// Says, once per node, how many frames of another layout were skipped and that a node's
    /// stream ended before its first column.
    fn finish(&self) {
        let (name, warmup) = (self.name, self.cfg.warmup);
        for (id, node) in self.nodes.iter() {
            if node.layouts.skipped() > 0 {
                let (k, seen) = (node.layouts.skipped(), node.seen);
                let how = describe_layouts(node.shape, &node.other_shapes);
                self.notices.once(&format!("{name}/skipped/{id}"), || {
                    format!("{name}: node {id}: {k} of {seen} frames skipped for their subcarrier layout ({how}); a node that mixes layouts is analysed in its most common one in its first frames")
                });
            }
            if node.columns > 0 || node.frames == 0 {
                continue;
            }
            let frames = node.frames;
            let plural = if frames == 1 { "" } else { "s" };
            self.notices.once(&format!("{name}/norecord/{id}"), || match &node.run {
                Some(run) => format!(
                    "{name}: node {id} ended after {frames} frame{}, before a window of {} samples ({:.2} s at the measured {:.1} Hz) was filled without a gap; no {name} record",
                    plural,
                    run.n,
                    run.n as f64 / run.rate_hz,
                    run.rate_hz
                ),
                None => format!(
                    "{name}: node {id} ended after {frames} frame{}, before the {warmup} warm-up frames that measure its rate; no {name} record",
                    plural
                ),
            });
        }
    }

    fn push_frame(&mut self, frame: &CsiFrame, out: &mut Columns) -> wifi_sensing_core::Result<()> {
        let id = frame.node_id;
        let ncols = frame.n_subcarriers();
        let warmup = self.cfg.warmup;
        let node = self.nodes.get_or_insert_with(id, || Node {
            ncols,
            rate: RateEstimator::new(warmup.max(8), warmup - 1),
            held_t: Vec::with_capacity(warmup),
            held: Vec::new(),
            run: None,
            row: Vec::new(),
            lambda: None,
            frames: 0,
            columns: 0,
            layouts: LayoutKeeper::default(),
            shape: frame.shape(),
            other_shapes: Vec::new(),
            seen: 0,
            nexmon: NexmonMix::default(),
        })?;
        node.seen += 1;
        if node.nexmon.observe(frame) {
            let name = self.name;
            self.notices.once(&format!("{name}/nexmon/{id}"), || {
                format!("{name}: node {id}: its Nexmon packets come from several (receive core, spatial stream) pairs of the same transmissions, read as successive samples: the measured rate and the frequency axis are too high; --nexmon-group reads each transmission as one frame")
            });
        }
        if node.ncols != ncols {
            // Another layout: the node keeps one (see `LayoutKeeper`); a switch loses the old
            // layout's frames of this (re)start.
            let warming_up = node.run.is_none();
            if !node
                .layouts
                .other(ncols, node.frames, warming_up, warmup as u64)
            {
                note_other_shape(&mut node.other_shapes, frame.shape());
                return Ok(());
            }
            note_other_shape(&mut node.other_shapes, node.shape);
            node.shape = frame.shape();
            if node.run.is_some() {
                let name = self.name;
                self.notices.once(&format!("{name}/layout/{id}"), || {
                    format!("{name}: node {id} changed from {} to {ncols} subcarriers; its analysis restarted", node.ncols)
                });
            }
            node.ncols = ncols;
            node.frames = 0;
            node.rate.reset();
            node.held.clear();
            node.held_t.clear();
            node.run = None;
        } else {
            node.layouts.kept();
        }
        if node.lambda.is_none() {
            node.lambda = crate::fresnel::frame_wavelength_m(frame).or_else(|| {
                self.cfg
                    .carrier_mhz
                    .map(|m| crate::fresnel::wavelength_m(f64::from(m) * 1e6))
            });
        }
        if !Self::row(&self.cfg, &self.cols, frame, &mut node.row) {
            let name = self.name;
            let label = &self.label;
            self.notices.once(&format!("{name}/component/{id}"), || {
                format!("{name}: node {id}: component {label} is not available in frames of {ncols} subcarriers (or not finite); those frames are skipped")
            });
            return Ok(());
        }
        node.frames += 1;
        let t = frame.timestamp_ns;
        if node.run.is_none() {
            node.rate.push(t);
            node.held_t.push(t);
            node.held.extend_from_slice(&node.row);
            if node.held_t.len() <= warmup {
                return Ok(());
            }
            let Some(fs) = node.rate.sampling_rate_hz() else {
                let name = self.name;
                self.notices.once(&format!("{name}/norate/{id}"), || {
                    format!("{name}: node {id}: no frame rate measurable from its first {warmup} frames; waiting for more")
                });
                node.held.clear();
                node.held_t.clear();
                return Ok(());
            };
            node.run = Some(Self::start(
                &self.cfg,
                &self.notices,
                self.name,
                ncols,
                fs,
                id,
            )?);
            let held_t = std::mem::take(&mut node.held_t);
            let held = std::mem::take(&mut node.held);
            let w = node.row.len();
            for (i, &ht) in held_t.iter().enumerate() {
                Self::feed(
                    node,
                    &self.cfg,
                    &self.label,
                    id,
                    ht,
                    &held[i * w..(i + 1) * w],
                    out,
                )?;
            }
            node.held_t = held_t;
            node.held_t.clear();
            node.held = held;
            node.held.clear();
            return Ok(());
        }
        let row = std::mem::take(&mut node.row);
        let r = Self::feed(node, &self.cfg, &self.label, id, t, &row, out);
        node.row = row;
        Ok(r?)
    }

    fn feed(
        node: &mut Node,
        cfg: &SpectralConfig,
        label: &str,
        id: u32,
        t: i64,
        row: &[f64],
        out: &mut Columns,
    ) -> Result<()> {
        let lambda = node.lambda;
        let Some(run) = node.run.as_mut() else {
            return Ok(());
        };
        run.pending.clear();
        run.pending_t.clear();
        let (pending, pending_t) = (&mut run.pending, &mut run.pending_t);
        let gap = run.resampler.push(t, row, |gt, v| {
            pending_t.push(gt);
            pending.extend_from_slice(v);
        })?;
        if gap.is_some() {
            // do not let a segment span the gap: the window restarts at the new sample
            run.gaps += 1;
            run.filled = 0;
            run.since = 0;
        }
        let w = run.width;
        for i in 0..run.pending_t.len() {
            let h = run.head;
            run.ring[h * w..(h + 1) * w].copy_from_slice(&run.pending[i * w..(i + 1) * w]);
            run.ring_t[h] = run.pending_t[i];
            run.head = (h + 1) % run.n;
            run.filled = (run.filled + 1).min(run.n);
            run.since += 1;
            if run.filled == run.n && run.since >= run.hop {
                run.since = 0;
                if let Some(col) = Self::column(run, cfg, label)? {
                    out.push((id, col, lambda));
                }
            }
        }
        Ok(())
    }

    /// The spectrum of the ring's current window.
    fn column(
        run: &mut Running,
        cfg: &SpectralConfig,
        label: &str,
    ) -> Result<Option<SpectrogramColumn>> {
        let (n, w) = (run.n, run.width);
        let mut evr = None;
        if w == 1 {
            for i in 0..n {
                run.seg[i] = run.ring[(run.head + i) % n];
            }
        } else {
            let k = match cfg.component {
                Component::Pca(k) => k.min(w),
                _ => 1,
            };
            let m = Array2::from_shape_fn((n, w), |(i, j)| run.ring[((run.head + i) % n) * w + j]);
            let p = match Pca::fit(m.view(), k) {
                Ok(p) => p,
                // a degenerate window (constant, non-finite): no record
                Err(_) => return Ok(None),
            };
            let proj = p.transform(m.view())?;
            run.seg
                .iter_mut()
                .zip(proj.column(k - 1))
                .for_each(|(d, v)| *d = *v);
            evr = p.explained_variance_ratio.get(k - 1).copied();
        }
        let mean = run.seg.iter().sum::<f64>() / n as f64;
        run.seg.iter_mut().for_each(|v| *v -= mean);
        run.plan.segment(&run.seg, &mut run.spec)?;
        let power_db = run
            .spec
            .iter()
            .map(|c| 10.0 * (c.norm_sqr() + 1e-30).log10())
            .collect();
        let first = run.ring_t[run.head % n];
        let last = run.ring_t[(run.head + n - 1) % n];
        Ok(Some(SpectrogramColumn {
            component: label.to_string(),
            rate_hz: run.rate_hz,
            nperseg: n,
            hop: run.hop,
            window_fn: cfg.window_fn,
            start_ns: first,
            end_ns: last,
            freq_step_hz: run.rate_hz / n as f64,
            power_db,
            wavelength_m: None,
            velocity_step_mps: None,
            gaps: run.gaps,
            explained_variance_ratio: evr,
        }))
    }
}

/// Which record a [`SpectralAnalyser`] emits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpectralKind {
    /// [`SpectrogramColumn`] records (type and analyser `spectrogram`).
    Spectrogram,
    /// [`DopplerProfile`] records (type and analyser `doppler`). Nodes whose frames state no
    /// carrier (and no `carrier` configured) get no profile, with a notice.
    Doppler,
}

impl SpectralKind {
    /// Analyser name and record type.
    pub fn name(self) -> &'static str {
        match self {
            SpectralKind::Spectrogram => "spectrogram",
            SpectralKind::Doppler => "doppler",
        }
    }
}

/// Streaming spectrogram or Doppler analyser: one record per hop and node. See the
/// [module docs](self).
#[derive(Debug)]
pub struct SpectralAnalyser {
    kind: SpectralKind,
    engine: Engine,
    cols: Columns,
}

impl SpectralAnalyser {
    /// A spectrogram analyser ([`SpectralKind::Spectrogram`]) with its own notices.
    pub fn spectrogram(cfg: SpectralConfig) -> Result<Self> {
        Self::new(SpectralKind::Spectrogram, cfg, Notices::default())
    }

    /// A Doppler analyser ([`SpectralKind::Doppler`]) with its own notices.
    pub fn doppler(cfg: SpectralConfig) -> Result<Self> {
        Self::new(SpectralKind::Doppler, cfg, Notices::default())
    }

    /// An analyser with a validated configuration, reporting what it cannot do (once per
    /// node) to `notices`.
    pub fn new(kind: SpectralKind, cfg: SpectralConfig, notices: Notices) -> Result<Self> {
        Ok(SpectralAnalyser {
            kind,
            engine: Engine::new(cfg, kind.name(), notices)?,
            cols: Vec::new(),
        })
    }
}

impl Analyser for SpectralAnalyser {
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
    fn name(&self) -> &str {
        self.kind.name()
    }

    fn analyse(
        &mut self,
        frame: &CsiFrame,
        out: &mut Vec<Analysis>,
    ) -> wifi_sensing_core::Result<()> {
        self.cols.clear();
        self.engine.push(frame, &mut self.cols)?;
        let name = self.kind.name();
        let min = self.engine.cfg.min_speed_mps;
        for (id, mut col, lambda) in self.cols.drain(..) {
            match self.kind {
                SpectralKind::Spectrogram => {
                    col.wavelength_m = lambda;
                    col.velocity_step_mps = lambda.map(|l| col.freq_step_hz * l);
                    out.push(Analysis::new(name, name, col.end_ns, Some(id), col));
                }
                SpectralKind::Doppler => {
                    let Some(l) = lambda else {
                        self.engine.notices.once(&format!("doppler/carrier/{id}"), || {
                            format!("doppler: node {id}: frames state no carrier frequency; no Doppler profile (give carrier=MHZ)")
                        });
                        continue;
                    };
                    let d = DopplerProfile::from_column(&col, l, min);
                    out.push(Analysis::new(name, name, d.end_ns, Some(id), d));
                }
            }
        }
        Ok(())
    }

    fn finish(&mut self, _out: &mut Vec<Analysis>) -> wifi_sensing_core::Result<()> {
        self.engine.finish();
        Ok(())
    }

    fn reset(&mut self) {
        self.engine.nodes.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spectrogram::{spectrogram_of_series, SpectrogramConfig};
    use ndarray::Array3;
    use num_complex::Complex32;
    use proptest::prelude::*;
    use wifi_sensing_core::{CaptureFormat, Device};

    fn frame(node: u32, t_ns: i64, amp: impl Fn(usize) -> Complex32, n: usize) -> CsiFrame {
        let csi = Array3::from_shape_fn((1, 1, n), |(_, _, k)| amp(k));
        let mut f = CsiFrame::new(CaptureFormat::Simulated, Device::Simulator, csi);
        f.timestamp_ns = t_ns;
        f.node_id = node;
        f
    }

    fn run(a: &mut dyn Analyser, frames: &[CsiFrame]) -> Vec<Analysis> {
        let mut out = Vec::new();
        for f in frames {
            a.analyse(f, &mut out).unwrap();
        }
        out
    }

    fn tone_frames(node: u32, rate: f64, f0: f64, secs: f64) -> Vec<CsiFrame> {
        let n = (secs * rate) as usize;
        (0..n)
            .map(|i| {
                let t = i as f64 / rate;
                let a = 1.0 + 0.2 * (2.0 * std::f64::consts::PI * f0 * t).sin();
                frame(
                    node,
                    (t * 1e9).round() as i64,
                    |_| Complex32::new(a as f32, 0.0),
                    8,
                )
            })
            .collect()
    }

    #[test]
    fn specs_parse_and_refuse() {
        let c: SpectralConfig =
            "window=2s:hop=0.5s:component=subcarrier:3:fn=hamming:min_speed=0.3"
                .parse()
                .unwrap();
        assert_eq!(c.component, Component::Subcarrier(3));
        assert_eq!(c.window, Span::Seconds(2.0));
        assert_eq!(c.window_fn, WindowFn::Hamming);
        assert_eq!(c.min_speed_mps, 0.3);
        let c: SpectralConfig = "component=subcarriers:1+2:carrier=5180".parse().unwrap();
        assert_eq!(c.component, Component::Selection(vec![1, 2]));
        assert_eq!(c.carrier_mhz, Some(5180));
        assert_eq!(
            "".parse::<SpectralConfig>().unwrap(),
            SpectralConfig::default()
        );
        for bad in [
            "window=0",
            "window=64:hop=65",
            "hop=-1s",
            "component=foo",
            "fn=kaiser",
            "warmup=2",
            "max_gap=10",
            "bogus=1",
            "carrier=5",
        ] {
            let e = bad.parse::<SpectralConfig>();
            assert!(e.is_err(), "{bad}");
        }
    }

    proptest! {
        /// A tone at f Hz lands in the right bin at any measured rate, node by node.
        #[test]
        fn tone_in_right_bin_any_rate(rate in 10.0f64..500.0, frac in 0.1f64..0.4) {
            let f0 = frac * rate;
            let frames = tone_frames(3, rate, f0, 400.0 / rate);
            let mut a = SpectralAnalyser::spectrogram("window=64:hop=16".parse().unwrap()).unwrap();
            let out = run(&mut a, &frames);
            prop_assert!(out.len() >= 10);
            for r in &out {
                prop_assert_eq!(r.node_id, Some(3));
                let c = r.downcast_ref::<SpectrogramColumn>().unwrap();
                prop_assert!((c.rate_hz - rate).abs() < 1e-6 * rate);
                prop_assert!((c.peak_hz() - f0).abs() <= c.freq_step_hz, "{} vs {}", c.peak_hz(), f0);
                prop_assert_eq!(c.power_db.len(), 33);
            }
        }
    }

    /// Frames lost on the way (here 4 of the first 32, then one in 13) do not lower the grid's
    /// rate: a 22 Hz tone sampled at 50 Hz stays at 22 Hz (a grid at the 43 Hz received in the
    /// warm-up put it at 21.2 Hz, folded about its 21.6 Hz Nyquist), at full power, in both the
    /// streaming and the offline spectrogram.
    #[test]
    fn dropped_frames_keep_the_sampling_rate() {
        let (rate, f0) = (50.0, 22.0);
        let frames: Vec<CsiFrame> = tone_frames(2, rate, f0, 30.0)
            .into_iter()
            .enumerate()
            .filter(|(i, _)| ![3, 9, 10, 20].contains(i) && i % 13 != 12)
            .map(|(_, f)| f)
            .collect();
        let mut a = SpectralAnalyser::spectrogram("window=5s:hop=1s".parse().unwrap()).unwrap();
        let out = run(&mut a, &frames);
        assert!(out.len() >= 20, "{}", out.len());
        for r in &out {
            let c = r.downcast_ref::<SpectrogramColumn>().unwrap();
            assert!((c.rate_hz - rate).abs() < 1e-6, "{}", c.rate_hz);
            assert!((c.peak_hz() - f0).abs() < 1e-6, "{}", c.peak_hz());
        }
        let t: Vec<i64> = frames.iter().map(|f| f.timestamp_ns).collect();
        let x: Vec<f64> = frames
            .iter()
            .map(|f| f64::from(f.csi[[0, 0, 0]].re))
            .collect();
        let cfg = SpectrogramConfig {
            window: Span::Seconds(5.0),
            hop: Span::Seconds(1.0),
            ..Default::default()
        };
        let off = spectrogram_of_series(&t, &x, &cfg, None).unwrap();
        assert!((off.rate_hz - rate).abs() < 1e-6, "{}", off.rate_hz);
        for k in 0..off.times_s.len() {
            let col = off.power_db.column(k);
            let peak = (1..col.len())
                .max_by(|&a, &b| col[a].total_cmp(&col[b]))
                .unwrap();
            assert!(
                (off.freqs_hz[peak] - f0).abs() < 1e-6,
                "{}",
                off.freqs_hz[peak]
            );
        }
    }

    /// A node whose stream ends before its first record (too short for the warm-up, or for
    /// one window) says so once at the end instead of printing nothing without a word; a node
    /// that gave records says nothing.
    #[test]
    fn stream_too_short_for_a_record_says_so_at_the_end() {
        let notices = Notices::default();
        let mut a = SpectralAnalyser::new(
            SpectralKind::Doppler,
            "window=4s:carrier=2437".parse().unwrap(),
            notices.clone(),
        )
        .unwrap();
        let mut frames = tone_frames(1, 50.0, 3.0, 3.0); // 150 frames: warm, not one window
        frames.extend(tone_frames(2, 50.0, 3.0, 0.4)); // 20 frames: not even warm
        frames.extend(tone_frames(3, 50.0, 3.0, 10.0)); // records
        let mut out = run(&mut a, &frames);
        assert!(out.iter().all(|r| r.node_id == Some(3)) && !out.is_empty());
        a.finish(&mut out).unwrap();
        let said = notices.take();
        assert_eq!(said.len(), 2, "{said:?}");
        assert!(
            said.iter().any(|m| m.contains("node 1")
                && m.contains("150 frames")
                && m.contains("window of 200")
                && m.contains("no doppler record")),
            "{said:?}"
        );
        assert!(
            said.iter().any(|m| m.contains("node 2")
                && m.contains("20 frames")
                && m.contains("32 warm-up")),
            "{said:?}"
        );
        // said once
        a.finish(&mut out).unwrap();
        assert!(notices.take().is_empty());
    }

    /// A node that mixes layouts frame by frame (as RuView ESP32 nodes do: one frame in five
    /// of 16 subcarriers here, the rest of 8) keeps the more common one, skipping and counting
    /// the others: records at the 50 Hz the frames are sampled at, with the tone in its bin
    /// (restarting at every change gave no record at all). A lasting change (a
    /// reconfiguration) still starts the node over.
    #[test]
    fn mixed_layouts_keep_the_common_one_and_a_lasting_change_restarts() {
        let notices = Notices::default();
        let mut a = SpectralAnalyser::new(
            SpectralKind::Spectrogram,
            "window=1s:hop=0.5s".parse().unwrap(),
            notices.clone(),
        )
        .unwrap();
        let rate = 50.0;
        let t_ns = |i: usize| (i as f64 / rate * 1e9).round() as i64;
        let tone = |i: usize| {
            let a = 1.0 + 0.2 * (2.0 * std::f64::consts::PI * 5.0 * i as f64 / rate).sin();
            move |_| Complex32::new(a as f32, 0.0)
        };
        // the first frame is of the rare layout
        let mixed: Vec<CsiFrame> = (0..500)
            .map(|i| frame(4, t_ns(i), tone(i), if i % 5 == 0 { 16 } else { 8 }))
            .collect();
        let out = run(&mut a, &mixed);
        assert!(out.len() >= 15, "{}", out.len());
        for r in &out {
            let c = r.downcast_ref::<SpectrogramColumn>().unwrap();
            assert!((c.rate_hz - rate).abs() < 1e-6, "{}", c.rate_hz);
            assert!((c.peak_hz() - 5.0).abs() < 1e-6, "{}", c.peak_hz());
        }
        let mut end = Vec::new();
        a.finish(&mut end).unwrap();
        let said = notices.take();
        assert!(
            said.iter().any(|m| m
                == "spectrogram: node 4: 101 of 500 frames skipped for their subcarrier layout \
                    (also 1x1x16; analysed in 1x1x8); a node that mixes layouts is analysed in \
                    its most common one in its first frames"),
            "{said:?}"
        );
        // a lasting change to 16 subcarriers: the node starts over and gives records again
        let later: Vec<CsiFrame> = (500..1000)
            .map(|i| frame(4, t_ns(i), tone(i), 16))
            .collect();
        let out = run(&mut a, &later);
        assert!(out.len() >= 15, "{}", out.len());
        assert!(notices
            .take()
            .iter()
            .any(|m| m.contains("changed from 8 to 16 subcarriers")));
    }

    /// The streaming columns equal the offline spectrogram's columns on the same grid.
    #[test]
    fn streaming_equals_offline() {
        let rate = 100.0;
        let frames = tone_frames(0, rate, 7.0, 10.0);
        let mut a = SpectralAnalyser::spectrogram("window=128:hop=32".parse().unwrap()).unwrap();
        let out = run(&mut a, &frames);
        let t: Vec<i64> = frames.iter().map(|f| f.timestamp_ns).collect();
        let x: Vec<f64> = frames
            .iter()
            .map(|f| f64::from(f.csi[[0, 0, 0]].re))
            .collect();
        let off = spectrogram_of_series(
            &t,
            &x,
            &SpectrogramConfig {
                window: Span::Frames(128),
                hop: Span::Frames(32),
                ..Default::default()
            },
            None,
        )
        .unwrap();
        assert_eq!(out.len(), off.times_s.len());
        for (k, r) in out.iter().enumerate() {
            let c = r.downcast_ref::<SpectrogramColumn>().unwrap();
            // linear power within 1e-6 of the column's peak (amplitudes are f32 |H| on one
            // side and the f32 real part on the other: near-cancelling bins differ in dB)
            let lin = |d: f64| 10f64.powf(d / 10.0);
            let peak = c.power_db.iter().copied().map(lin).fold(0.0, f64::max);
            for (i, p) in c.power_db.iter().enumerate() {
                let q = off.power_db[[i, k]];
                assert!(
                    (lin(*p) - lin(q)).abs() <= 1e-6 * peak,
                    "col {k} bin {i}: {p} vs {q}"
                );
            }
            assert_eq!(c.start_ns, t[k * 32]);
            assert_eq!(c.end_ns, t[k * 32 + 127]);
        }
    }

    /// A reflected path changing at walking speed shows up at that speed (m/s), and the
    /// summary says it is motion.
    #[test]
    fn walking_speed_maps_to_m_per_s() {
        let f_c = 5.18e9;
        let v = 1.2;
        let frames = crate::test_support::walking_frames(1, v, f_c);
        let mut a = SpectralAnalyser::doppler("window=1s:hop=0.25s".parse().unwrap()).unwrap();
        let out = run(&mut a, &frames);
        assert!(out.len() >= 30, "{}", out.len());
        for r in &out {
            assert_eq!(r.kind, "doppler");
            let d = r.downcast_ref::<DopplerProfile>().unwrap();
            let peak = d.peak_speed_mps.unwrap();
            assert!((peak - v).abs() <= d.velocity_step_mps, "{peak}");
            assert!(d.motion_fraction > 0.9, "{}", d.motion_fraction);
        }
        // a static channel: no motion power (only numerical floor)
        let still: Vec<CsiFrame> = (0..600)
            .map(|i| {
                let mut f = frame(0, i * 4_000_000, |_| Complex32::new(1.0, 0.0), 16);
                f.center_freq_mhz = Some(5180);
                f
            })
            .collect();
        let mut a = SpectralAnalyser::doppler("window=1s:hop=0.5s".parse().unwrap()).unwrap();
        let out = run(&mut a, &still);
        assert!(!out.is_empty());
        for r in &out {
            let d = r.downcast_ref::<DopplerProfile>().unwrap();
            assert!(d.power_db.iter().all(|p| *p < -200.0), "{:?}", d.power_db);
        }
    }

    #[test]
    fn no_carrier_no_doppler_but_a_notice() {
        let notices = Notices::default();
        let mut a = SpectralAnalyser::new(
            SpectralKind::Doppler,
            "window=32:hop=16".parse().unwrap(),
            notices.clone(),
        )
        .unwrap();
        let out = run(&mut a, &tone_frames(0, 50.0, 5.0, 4.0));
        assert!(out.is_empty());
        let n = notices.take();
        assert_eq!(n.len(), 1, "{n:?}");
        assert!(n[0].contains("carrier"));
        let mut a =
            SpectralAnalyser::doppler("window=32:hop=16:carrier=2412".parse().unwrap()).unwrap();
        assert!(!run(&mut a, &tone_frames(0, 50.0, 5.0, 4.0)).is_empty());
    }

    /// Gaps are counted and no segment spans one; nodes are independent.
    #[test]
    fn gaps_restart_the_window_and_nodes_are_independent() {
        let mut frames = tone_frames(0, 50.0, 5.0, 4.0);
        let later: Vec<CsiFrame> = tone_frames(0, 50.0, 5.0, 4.0)
            .into_iter()
            .map(|mut f| {
                f.timestamp_ns += 10_000_000_000;
                f
            })
            .collect();
        frames.extend(later);
        // node 7 at another rate and tone, interleaved
        let other = tone_frames(7, 80.0, 20.0, 8.0);
        let mut all: Vec<CsiFrame> = frames.into_iter().chain(other).collect();
        all.sort_by_key(|f| f.timestamp_ns);
        let mut a = SpectralAnalyser::spectrogram("window=32:hop=8".parse().unwrap()).unwrap();
        let out = run(&mut a, &all);
        let (mut n0, mut n7) = (0, 0);
        for r in &out {
            let c = r.downcast_ref::<SpectrogramColumn>().unwrap();
            assert!(c.end_ns - c.start_ns < 1_000_000_000, "spans a gap");
            match r.node_id {
                Some(0) => {
                    n0 += 1;
                    assert!((c.peak_hz() - 5.0).abs() <= c.freq_step_hz);
                    assert!((c.rate_hz - 50.0).abs() < 1e-6);
                }
                Some(7) => {
                    n7 += 1;
                    assert!((c.peak_hz() - 20.0).abs() <= c.freq_step_hz);
                }
                _ => panic!("node"),
            }
        }
        assert!(n0 > 0 && n7 > 0);
        let last0 = out
            .iter()
            .rev()
            .find(|r| r.node_id == Some(0))
            .unwrap()
            .downcast_ref::<SpectrogramColumn>()
            .unwrap();
        assert_eq!(last0.gaps, 1);
    }

    #[test]
    fn pca_component_and_bad_column() {
        let frames: Vec<CsiFrame> = (0..400)
            .map(|i| {
                let t = i as f64 / 40.0;
                let s = (2.0 * std::f64::consts::PI * 6.0 * t).sin();
                frame(
                    0,
                    (t * 1e9) as i64,
                    |k| Complex32::new((2.0 + s * (k as f64 / 8.0)) as f32, 0.0),
                    8,
                )
            })
            .collect();
        let mut a =
            SpectralAnalyser::spectrogram("window=64:hop=32:component=pca1".parse().unwrap())
                .unwrap();
        let out = run(&mut a, &frames);
        assert!(!out.is_empty());
        for r in &out {
            let c = r.downcast_ref::<SpectrogramColumn>().unwrap();
            assert!((c.peak_hz() - 6.0).abs() <= c.freq_step_hz);
            assert!(c.explained_variance_ratio.unwrap() > 0.99);
        }
        let notices = Notices::default();
        let mut a = SpectralAnalyser::new(
            SpectralKind::Spectrogram,
            "component=subcarrier:99".parse().unwrap(),
            notices.clone(),
        )
        .unwrap();
        assert!(run(&mut a, &frames).is_empty());
        assert_eq!(notices.take().len(), 1);
    }

    #[test]
    fn hostile_input_does_not_panic() {
        let mut a =
            SpectralAnalyser::spectrogram("window=8:hop=2:warmup=4".parse().unwrap()).unwrap();
        let mut out = Vec::new();
        for (i, v) in [
            f32::NAN,
            1.0,
            f32::INFINITY,
            2.0,
            0.0,
            1.0,
            3.0,
            1.0,
            1.0,
            1.0,
        ]
        .iter()
        .cycle()
        .take(200)
        .enumerate()
        {
            // timestamps going backwards now and then, equal ones, huge jumps
            let t = match i % 17 {
                3 => 0,
                5 => i64::MAX / 2,
                _ => i as i64 * 1_000_000,
            };
            let f = frame(0, t, |_| Complex32::new(*v, 0.0), 4);
            a.analyse(&f, &mut out).unwrap();
        }
        for r in &out {
            let c = r.downcast_ref::<SpectrogramColumn>().unwrap();
            assert!(c.power_db.iter().all(|p| p.is_finite()));
        }
    }
}
