//! The biquad filter stages `lowpass`, `highpass`, `bandpass`: Butterworth cascades designed
//! from each node's measured sampling rate ([`crate::rate::RateEstimate::sampling_rate_hz`]:
//! frames lost on the way do not lower it), run in time per subcarrier and chain.

use std::str::FromStr;

use num_complex::Complex32;
use serde::{Deserialize, Serialize};
use wifi_sensing_core::{CsiFrame, Result as CoreResult, Stage};

use super::nodes::{PerNode, DEFAULT_MAX_NODES};
use super::spec::Spec;
use super::Notices;
use crate::biquad::{default_padlen, sosfiltfilt, Sos, SosState};
use crate::error::{Result, SignalError};
use crate::rate::RateEstimator;
use crate::stft::Span;

/// Filter type and corner frequencies in Hz.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FilterKind {
    /// Low-pass at `fc` Hz.
    Lowpass {
        /// Cut-off (−3 dB), Hz.
        fc: f64,
    },
    /// High-pass at `fc` Hz.
    Highpass {
        /// Cut-off (−3 dB), Hz.
        fc: f64,
    },
    /// Band-pass from `low` to `high` Hz (high-pass cascaded with low-pass).
    Bandpass {
        /// Lower edge, Hz.
        low: f64,
        /// Upper edge, Hz.
        high: f64,
    },
}

/// Zero-phase (offline / windowed) filtering: how many frames are filtered forward and backward
/// at once.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ZeroPhase {
    /// The node's whole stream (up to [`MAX_ZERO_PHASE_FRAMES`] frames, then blocks of that
    /// size): output comes at the end of the stream.
    All,
    /// Blocks of this length (seconds at the measured rate, or frames), each filtered on its own
    /// as `scipy.signal.sosfiltfilt` does (odd extension at both ends). Output is delayed by up
    /// to one block; block edges see the edge handling, so choose blocks much longer than the
    /// filter's impulse response.
    Block(Span),
}

/// Most frames a zero-phase filter stage holds per node.
pub const MAX_ZERO_PHASE_FRAMES: usize = 100_000;

/// Configuration of a filter stage:
/// `lowpass:fc=2hz[:order=4]`, `highpass:fc=0.1hz[:order=2]`,
/// `bandpass:low=0.1hz:high=0.6hz[:order=2]`, each with `[:warmup=32][:zero_phase=all|10s]`.
///
/// The filter works on the complex CSI (real and imaginary parts alike, a linear filter of the
/// complex signal). It is designed per node once `warmup` frame intervals have given a
/// measured rate; those first frames are held, then filtered and released together. The state
/// starts at the steady-state response to the first frame (no start-up transient).
///
/// With `zero_phase`, each node's frames are held and filtered forward then backward
/// ([`sosfiltfilt`], the same as `scipy.signal.sosfiltfilt` per value): no phase shift and the
/// squared magnitude response, for offline analysis (see [`ZeroPhase`]).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterConfig {
    /// Type and corners.
    pub kind: FilterKind,
    /// Butterworth order per edge, 1..=8. Default 4 (low/high-pass), 2 (band-pass).
    pub order: usize,
    /// Frames held to measure the rate before designing, 4..=1024. Default 32.
    pub warmup: usize,
    /// Zero-phase (forward-backward) filtering instead of causal streaming. Default `None`.
    #[serde(default)]
    pub zero_phase: Option<ZeroPhase>,
}

impl FilterConfig {
    fn name(&self) -> &'static str {
        match self.kind {
            FilterKind::Lowpass { .. } => "lowpass",
            FilterKind::Highpass { .. } => "highpass",
            FilterKind::Bandpass { .. } => "bandpass",
        }
    }

    /// Parses `lowpass:...`, `highpass:...` or `bandpass:...`.
    pub fn parse(s: &str) -> Result<Self> {
        let name = s.split(':').next().unwrap_or("").trim();
        let (stage, default_order): (&'static str, usize) = match name {
            "lowpass" => ("lowpass", 4),
            "highpass" => ("highpass", 4),
            "bandpass" => ("bandpass", 2),
            _ => {
                return Err(SignalError::Spec {
                    spec: s.into(),
                    reason: "a filter is lowpass, highpass or bandpass".into(),
                })
            }
        };
        let positional = if stage == "bandpass" {
            None
        } else {
            Some("fc")
        };
        let mut p = Spec::parse(stage, s, positional)?;
        let kind = match stage {
            "lowpass" => FilterKind::Lowpass {
                fc: p.f64("fc", "hz", 1e-6, 1e6, None)?,
            },
            "highpass" => FilterKind::Highpass {
                fc: p.f64("fc", "hz", 1e-6, 1e6, None)?,
            },
            _ => {
                let low = p.f64("low", "hz", 1e-6, 1e6, None)?;
                let high = p.f64("high", "hz", 1e-6, 1e6, None)?;
                FilterKind::Bandpass { low, high }
            }
        };
        let order = p.usize("order", 1, 8, default_order)?;
        let warmup = p.usize("warmup", 4, 1024, 32)?;
        let zero_phase = match p.text("zero_phase") {
            None => None,
            Some(v) if v.eq_ignore_ascii_case("all") => Some(ZeroPhase::All),
            Some(v) => match v.parse::<Span>() {
                Ok(span) => Some(ZeroPhase::Block(span)),
                Err(_) => {
                    return Err(SignalError::param(
                        stage,
                        "zero_phase",
                        v,
                        format!("`all`, seconds like `10s`, or 8..={MAX_ZERO_PHASE_FRAMES} frames"),
                    ))
                }
            },
        };
        let accepted: &[&str] = if stage == "bandpass" {
            &["low", "high", "order", "warmup", "zero_phase"]
        } else {
            &["fc", "order", "warmup", "zero_phase"]
        };
        p.finish(accepted)?;
        // the checks across fields (low below high) and of the block length: `validate`
        let cfg = FilterConfig {
            kind,
            order,
            warmup,
            zero_phase,
        };
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks the ranges [`FilterConfig::parse`] accepts (corners positive and at most 1 MHz,
    /// `low` below `high`, `order` 1..=8, `warmup` 4..=1024, a zero-phase block of 8 frames or
    /// more, or of positive seconds). Whether a corner lies below half the stream's rate can only
    /// be known from the stream: a stage that cannot design its filter passes frames unfiltered
    /// and says so through its [`Notices`].
    ///
    /// ```
    /// use wifi_sensing_signal::stages::{FilterConfig, FilterKind};
    /// let mut c: FilterConfig = "lowpass:fc=3hz".parse()?;
    /// assert!(c.validate().is_ok());
    /// c.kind = FilterKind::Lowpass { fc: -3.0 };
    /// assert!(c.validate().unwrap_err().to_string().contains("fc"));
    /// # Ok::<(), wifi_sensing_signal::SignalError>(())
    /// ```
    pub fn validate(&self) -> Result<()> {
        let stage = self.name();
        let corner = |name: &'static str, v: f64| {
            if v.is_finite() && v > 0.0 && v <= 1e6 {
                Ok(())
            } else {
                Err(SignalError::param(stage, name, v, "0 < f <= 1e6 Hz"))
            }
        };
        match self.kind {
            FilterKind::Lowpass { fc } | FilterKind::Highpass { fc } => corner("fc", fc)?,
            FilterKind::Bandpass { low, high } => {
                corner("low", low)?;
                corner("high", high)?;
                if low >= high {
                    return Err(SignalError::param(
                        stage,
                        "low",
                        low,
                        format!("below high = {high} Hz"),
                    ));
                }
            }
        }
        if !(1..=8).contains(&self.order) {
            return Err(SignalError::param(stage, "order", self.order, "1..=8"));
        }
        if !(4..=1024).contains(&self.warmup) {
            return Err(SignalError::param(stage, "warmup", self.warmup, "4..=1024"));
        }
        let bad_block = match self.zero_phase {
            Some(ZeroPhase::Block(Span::Frames(n)))
                if !(8..=MAX_ZERO_PHASE_FRAMES).contains(&n) =>
            {
                Some(format!("{n} frames"))
            }
            Some(ZeroPhase::Block(Span::Seconds(s))) if !(s.is_finite() && s > 0.0) => {
                Some(format!("{s}s"))
            }
            _ => None,
        };
        if let Some(v) = bad_block {
            return Err(SignalError::param(
                stage,
                "zero_phase",
                v,
                format!("`all`, seconds like `10s`, or 8..={MAX_ZERO_PHASE_FRAMES} frames"),
            ));
        }
        Ok(())
    }

    /// Designs the cascade for a sampling rate.
    pub fn design(&self, fs: f64) -> Result<Sos> {
        match self.kind {
            FilterKind::Lowpass { fc } => Sos::butter_lowpass(self.order, fc, fs),
            FilterKind::Highpass { fc } => Sos::butter_highpass(self.order, fc, fs),
            FilterKind::Bandpass { low, high } => Sos::butter_bandpass(self.order, low, high, fs),
        }
    }
}

impl FromStr for FilterConfig {
    type Err = SignalError;
    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

#[derive(Debug)]
enum Mode {
    Warmup,
    Filtering(SosState),
    /// Zero-phase: frames are held in `held` and filtered `block` frames at a time.
    ZeroPhase {
        sos: Sos,
        block: usize,
    },
    /// The design failed for the measured rate: frames pass unchanged.
    Bypass,
}

#[derive(Debug)]
struct Node {
    shape: (usize, usize, usize),
    rate: RateEstimator,
    held: Vec<CsiFrame>,
    mode: Mode,
    buf: Vec<f64>,
}

/// A biquad filter stage.
#[derive(Debug)]
pub struct FilterStage {
    cfg: FilterConfig,
    nodes: PerNode<Node>,
    notices: Notices,
}

impl FilterStage {
    /// A stage reporting to `notices`; errors: a configuration out of range
    /// ([`FilterConfig::validate`]).
    pub fn new(cfg: FilterConfig, notices: Notices) -> Result<Self> {
        cfg.validate()?;
        Ok(FilterStage {
            cfg,
            nodes: PerNode::new(DEFAULT_MAX_NODES),
            notices,
        })
    }
}

fn run(st: &mut SosState, buf: &mut Vec<f64>, frame: &mut CsiFrame) {
    buf.clear();
    for c in frame.csi.iter() {
        buf.push(f64::from(c.re));
        buf.push(f64::from(c.im));
    }
    st.process(buf);
    for (c, v) in frame.csi.iter_mut().zip(buf.chunks_exact(2)) {
        *c = Complex32::new(v[0] as f32, v[1] as f32);
    }
}

/// Filters held frames forward and backward, value by value (real and imaginary parts), and
/// moves them to `out`. Frames whose layout differs from the first pass unfiltered; a block too
/// short for the default padding uses a shorter one (at least 2 frames are needed).
fn zero_phase_block(sos: &Sos, held: &mut Vec<CsiFrame>, out: &mut Vec<CsiFrame>) {
    let Some(first) = held.first() else { return };
    let shape = first.shape();
    let idx: Vec<usize> = (0..held.len())
        .filter(|&i| held[i].shape() == shape)
        .collect();
    let n = idx.len();
    if n >= 2 {
        let pad = default_padlen(sos).min(n - 1);
        let values = shape.0 * shape.1 * shape.2;
        let mut series = vec![0.0; n];
        for v in 0..values {
            for part in 0..2 {
                for (s, &i) in series.iter_mut().zip(&idx) {
                    let c = held[i]
                        .csi
                        .as_slice_memory_order()
                        .map(|m| m[v])
                        .unwrap_or_default();
                    *s = if part == 0 {
                        f64::from(c.re)
                    } else {
                        f64::from(c.im)
                    };
                }
                if series.iter().any(|x| !x.is_finite()) {
                    continue;
                }
                if let Ok(y) = sosfiltfilt(sos, &series, Some(pad)) {
                    for (&i, y) in idx.iter().zip(y) {
                        if let Some(m) = held[i].csi.as_slice_memory_order_mut() {
                            if part == 0 {
                                m[v].re = y as f32;
                            } else {
                                m[v].im = y as f32;
                            }
                        }
                    }
                }
            }
        }
    }
    out.append(held);
}

impl Stage for FilterStage {
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
    fn name(&self) -> &str {
        self.cfg.name()
    }

    fn process(&mut self, frame: CsiFrame) -> CoreResult<Option<CsiFrame>> {
        let mut out = Vec::new();
        self.process_into(frame, &mut out)?;
        Ok(out.pop())
    }

    fn process_into(&mut self, mut frame: CsiFrame, out: &mut Vec<CsiFrame>) -> CoreResult<()> {
        let cfg = self.cfg;
        let shape = frame.shape();
        let id = frame.node_id;
        let node = self.nodes.get_or_insert_with(id, || Node {
            shape,
            rate: RateEstimator::new(64, cfg.warmup.min(64)),
            held: Vec::new(),
            mode: Mode::Warmup,
            buf: Vec::new(),
        })?;
        if node.shape != shape {
            // new layout: the filter state no longer matches; restart the node's filter
            node.shape = shape;
            if let Mode::Filtering(st) = &node.mode {
                node.mode = Mode::Filtering(SosState::new(
                    st.sos().clone(),
                    shape.0 * shape.1 * shape.2 * 2,
                ));
            }
        }
        node.rate.push(frame.timestamp_ns);
        match &mut node.mode {
            Mode::Filtering(st) => {
                run(st, &mut node.buf, &mut frame);
                out.push(frame);
            }
            Mode::ZeroPhase { sos, block } => {
                if node
                    .held
                    .first()
                    .is_some_and(|f| f.shape() != frame.shape())
                {
                    zero_phase_block(sos, &mut node.held, out);
                }
                node.held.push(frame);
                if node.held.len() >= *block {
                    zero_phase_block(sos, &mut node.held, out);
                }
            }
            Mode::Bypass => out.push(frame),
            Mode::Warmup => {
                node.held.push(frame);
                if node.held.len() > cfg.warmup {
                    let name = cfg.name();
                    match node.rate.sampling_rate_hz() {
                        None => {
                            self.notices.once(&format!("{name}/norate/{id}"), || format!(
                                "{name}: no frame rate measurable for node {id} from its first {} frames (no or equal timestamps); passed unfiltered",
                                cfg.warmup
                            ));
                            node.mode = Mode::Bypass;
                        }
                        Some(fs) => match cfg.design(fs) {
                            Ok(sos) => {
                                node.mode = match cfg.zero_phase {
                                    None => Mode::Filtering(SosState::new(
                                        sos,
                                        shape.0 * shape.1 * shape.2 * 2,
                                    )),
                                    Some(z) => Mode::ZeroPhase {
                                        sos,
                                        block: match z {
                                            ZeroPhase::All => MAX_ZERO_PHASE_FRAMES,
                                            ZeroPhase::Block(span) => {
                                                span.frames(fs).clamp(8, MAX_ZERO_PHASE_FRAMES)
                                            }
                                        },
                                    },
                                };
                            }
                            Err(e) => {
                                self.notices.once(&format!("{name}/design/{id}"), || format!(
                                    "{name}: cannot apply to node {id} at its measured rate {fs:.3} Hz ({e}); passed unfiltered"
                                ));
                                node.mode = Mode::Bypass;
                            }
                        },
                    }
                    if let Mode::ZeroPhase { .. } = node.mode {
                        // keep holding: the first block includes the warm-up frames
                        return Ok(());
                    }
                    let held = std::mem::take(&mut node.held);
                    for mut f in held {
                        if let Mode::Filtering(st) = &mut node.mode {
                            if f.shape() == node.shape {
                                run(st, &mut node.buf, &mut f);
                            }
                        }
                        out.push(f);
                    }
                }
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> CoreResult<Vec<CsiFrame>> {
        let mut out = Vec::new();
        let name = self.cfg.name();
        for (id, node) in self.nodes.iter_mut() {
            if let Mode::ZeroPhase { sos, .. } = &node.mode {
                zero_phase_block(sos, &mut node.held, &mut out);
                continue;
            }
            if !node.held.is_empty() {
                let n = node.held.len();
                self.notices.once(&format!("{name}/short/{id}"), || format!(
                    "{name}: node {id} ended after {n} frames, before its rate was measured; passed unfiltered"
                ));
                out.append(&mut node.held);
            }
        }
        Ok(out)
    }

    fn reset(&mut self) {
        self.nodes.clear();
    }
}
