//! Per-frame stages: phase sanitising, CSI ratio / conjugate multiplication between rx
//! chains, amplitude normalisation with AGC-step compensation, DC removal.

use std::str::FromStr;

use ndarray::Array3;
use num_complex::{Complex32, Complex64};
use serde::{Deserialize, Serialize};
use wifi_sensing_core::{Clock, CsiFrame, Result as CoreResult, Stage};

use super::nodes::{PerNode, DEFAULT_MAX_NODES};
use super::spec::Spec;
use super::Notices;
use crate::error::{Result, SignalError};
use crate::phase::PhaseSanitizer;
use crate::stft::Span;

// ---------------------------------------------------------------- sanitize

/// Configuration of the `sanitize` stage (no parameters): phase sanitising per rx/tx chain
/// over the frame's own subcarrier indices ([`crate::phase`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SanitizeConfig {}

impl FromStr for SanitizeConfig {
    type Err = SignalError;
    /// `sanitize`.
    fn from_str(s: &str) -> Result<Self> {
        Spec::parse("sanitize", s, None)?.finish(&[])?;
        Ok(SanitizeConfig {})
    }
}

/// The `sanitize` stage. Frames with fewer than 2 subcarriers pass unchanged (said once).
#[derive(Debug)]
pub struct SanitizeStage {
    nodes: PerNode<PhaseSanitizer>,
    notices: Notices,
}

impl SanitizeStage {
    /// A stage reporting to `notices`.
    pub fn new(_cfg: SanitizeConfig, notices: Notices) -> Self {
        SanitizeStage {
            nodes: PerNode::new(DEFAULT_MAX_NODES),
            notices,
        }
    }
}

impl Stage for SanitizeStage {
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
    fn name(&self) -> &str {
        "sanitize"
    }
    fn process(&mut self, mut frame: CsiFrame) -> CoreResult<Option<CsiFrame>> {
        let s = self
            .nodes
            .get_or_insert_with(frame.node_id, PhaseSanitizer::new)?;
        if let Err(e) = s.sanitize(&mut frame.csi, frame.subcarriers.as_deref()) {
            let node = frame.node_id;
            self.notices.once(&format!("sanitize/{node}"), || {
                format!("sanitize: cannot apply to frames of node {node} ({e}); passed unchanged")
            });
        }
        Ok(Some(frame))
    }
    fn reset(&mut self) {
        self.nodes.clear();
    }
}

// ---------------------------------------------------------------- ratio

/// How two rx chains are combined.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RatioMode {
    /// `H_r / H_ref`: cancels the common phase and timing offsets and the common gain.
    #[default]
    Ratio,
    /// `H_r · conj(H_ref)`: cancels the common phase and timing offsets, keeps amplitude
    /// products (no division, so no blow-up near zero).
    Conj,
}

/// Configuration of the `ratio` stage: `ratio[:ref=0][:mode=ratio|conj]`.
///
/// Each output chain `r` (every rx chain but the reference) is `H_r ∘ H_ref` per tx chain and
/// subcarrier, so the output has `rx − 1` rx chains.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RatioConfig {
    /// Reference rx chain, 0..=7. Default 0.
    pub reference: usize,
    /// Ratio or conjugate multiplication. Default ratio.
    pub mode: RatioMode,
}

impl FromStr for RatioConfig {
    type Err = SignalError;
    fn from_str(s: &str) -> Result<Self> {
        let mut p = Spec::parse("ratio", s, None)?;
        let reference = p.usize("ref", 0, 7, 0)?;
        let mode = match p.choice("mode", &["ratio", "conj"], "ratio")? {
            "conj" => RatioMode::Conj,
            _ => RatioMode::Ratio,
        };
        p.finish(&["ref", "mode"])?;
        Ok(RatioConfig { reference, mode })
    }
}

/// The `ratio` stage. Frames with a single rx chain, or without the reference chain, pass
/// unchanged (said once per node). A zero reference value gives 0 in ratio mode (counted).
#[derive(Debug)]
pub struct RatioStage {
    cfg: RatioConfig,
    notices: Notices,
    row: Vec<Complex32>,
    zero_refs: u64,
}

impl RatioStage {
    /// A stage reporting to `notices`.
    pub fn new(cfg: RatioConfig, notices: Notices) -> Self {
        RatioStage {
            cfg,
            notices,
            row: Vec::new(),
            zero_refs: 0,
        }
    }
}

impl Stage for RatioStage {
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
    fn name(&self) -> &str {
        "ratio"
    }
    fn process(&mut self, mut frame: CsiFrame) -> CoreResult<Option<CsiFrame>> {
        let (rx, tx, sc) = frame.shape();
        let rf = self.cfg.reference;
        if rx < 2 || rf >= rx {
            let node = frame.node_id;
            self.notices.once(&format!("ratio/{node}/{rx}"), || {
                format!(
                    "ratio: frames of node {node} have {rx} rx chain(s), reference chain {rf} needs at least {}; passed unchanged",
                    (rf + 1).max(2)
                )
            });
            return Ok(Some(frame));
        }
        let csi = std::mem::replace(&mut frame.csi, Array3::zeros((0, 0, 0)));
        let csi = if csi.is_standard_layout() {
            csi
        } else {
            csi.as_standard_layout().to_owned()
        };
        let (mut v, off) = csi.into_raw_vec_and_offset();
        let off = off.unwrap_or(0);
        let plane = tx * sc;
        self.row.clear();
        self.row
            .extend_from_slice(&v[off + rf * plane..off + (rf + 1) * plane]);
        let mut w = 0usize;
        for r in 0..rx {
            if r == rf {
                continue;
            }
            for i in 0..plane {
                let h = v[off + r * plane + i];
                let hr = self.row[i];
                v[w] = match self.cfg.mode {
                    RatioMode::Conj => h * hr.conj(),
                    RatioMode::Ratio => {
                        let d = hr.norm_sqr();
                        if d > 0.0 && d.is_finite() {
                            h * hr.conj() / d
                        } else {
                            self.zero_refs += 1;
                            Complex32::new(0.0, 0.0)
                        }
                    }
                };
                w += 1;
            }
        }
        v.truncate(w);
        frame.csi =
            Array3::from_shape_vec((rx - 1, tx, sc), v).map_err(|e| SignalError::Numerical {
                component: "ratio",
                reason: e.to_string(),
            })?;
        if !frame.chain_rssi.is_empty() && frame.chain_rssi.len() == rx {
            frame.chain_rssi.remove(rf);
        }
        Ok(Some(frame))
    }
    fn flush(&mut self) -> CoreResult<Vec<CsiFrame>> {
        if self.zero_refs > 0 {
            self.notices.push(format!(
                "ratio: {} values had a zero reference and were set to 0",
                self.zero_refs
            ));
        }
        Ok(Vec::new())
    }
    fn reset(&mut self) {
        self.zero_refs = 0;
    }
}

// ---------------------------------------------------------------- normalize

/// Normalisation mode.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NormalizeMode {
    /// Every rx/tx chain of every frame scaled to unit RMS amplitude over its subcarriers
    /// (removes any common gain, AGC included, and also genuine whole-band attenuation).
    Rms,
    /// AGC-step compensation: a chain whose RMS amplitude jumps by more than `step_db` from one
    /// frame to the next is taken to have had an AGC step, and the jump is undone from then on;
    /// slower changes pass.
    Agc {
        /// Smallest frame-to-frame change in dB treated as an AGC step (0.1..=60).
        step_db: f64,
    },
}

/// Configuration of the `normalize` stage: `normalize[:mode=rms|agc][:step=3db]`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NormalizeConfig {
    /// Mode. Default [`NormalizeMode::Rms`].
    pub mode: NormalizeMode,
}

impl Default for NormalizeConfig {
    fn default() -> Self {
        NormalizeConfig {
            mode: NormalizeMode::Rms,
        }
    }
}

impl FromStr for NormalizeConfig {
    type Err = SignalError;
    fn from_str(s: &str) -> Result<Self> {
        let mut p = Spec::parse("normalize", s, None)?;
        let mode = p.choice("mode", &["rms", "agc"], "rms")?;
        let step_db = p.f64("step", "db", 0.1, 60.0, Some(3.0))?;
        p.finish(&["mode", "step"])?;
        Ok(NormalizeConfig {
            mode: if mode == "agc" {
                NormalizeMode::Agc { step_db }
            } else {
                NormalizeMode::Rms
            },
        })
    }
}

#[derive(Debug, Default)]
struct AgcNode {
    shape: (usize, usize, usize),
    prev_rms: Vec<f64>,
    comp: Vec<f64>,
}

/// The `normalize` stage.
#[derive(Debug)]
pub struct NormalizeStage {
    cfg: NormalizeConfig,
    nodes: PerNode<AgcNode>,
    notices: Notices,
    steps: u64,
}

impl NormalizeStage {
    /// A stage reporting to `notices`.
    pub fn new(cfg: NormalizeConfig, notices: Notices) -> Self {
        NormalizeStage {
            cfg,
            nodes: PerNode::new(DEFAULT_MAX_NODES),
            notices,
            steps: 0,
        }
    }
}

/// RMS amplitude of one chain.
#[inline]
fn rms(row: ndarray::ArrayView1<Complex32>) -> f64 {
    let n = row.len().max(1) as f64;
    (row.iter().map(|c| f64::from(c.norm_sqr())).sum::<f64>() / n).sqrt()
}

impl Stage for NormalizeStage {
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
    fn name(&self) -> &str {
        "normalize"
    }
    fn process(&mut self, mut frame: CsiFrame) -> CoreResult<Option<CsiFrame>> {
        let shape = frame.shape();
        match self.cfg.mode {
            NormalizeMode::Rms => {
                for mut plane in frame.csi.outer_iter_mut() {
                    for mut row in plane.outer_iter_mut() {
                        let r = rms(row.view());
                        if r > 0.0 && r.is_finite() {
                            let g = (1.0 / r) as f32;
                            row.iter_mut().for_each(|c| *c *= g);
                        }
                    }
                }
            }
            NormalizeMode::Agc { step_db } => {
                let st = self
                    .nodes
                    .get_or_insert_with(frame.node_id, AgcNode::default)?;
                let chains = shape.0 * shape.1;
                if st.shape != shape {
                    st.shape = shape;
                    st.prev_rms = vec![0.0; chains];
                    st.comp = vec![1.0; chains];
                }
                let lim = 10f64.powf(step_db / 20.0);
                let mut i = 0;
                for mut plane in frame.csi.outer_iter_mut() {
                    for mut row in plane.outer_iter_mut() {
                        let r = rms(row.view());
                        if r > 0.0 && r.is_finite() {
                            let prev = st.prev_rms[i];
                            if prev > 0.0 {
                                let ratio = r / prev;
                                if ratio > lim || ratio < 1.0 / lim {
                                    st.comp[i] /= ratio;
                                    self.steps += 1;
                                }
                            }
                            st.prev_rms[i] = r;
                            let g = st.comp[i] as f32;
                            if g != 1.0 {
                                row.iter_mut().for_each(|c| *c *= g);
                            }
                        }
                        i += 1;
                    }
                }
            }
        }
        Ok(Some(frame))
    }
    fn flush(&mut self) -> CoreResult<Vec<CsiFrame>> {
        if let NormalizeMode::Agc { step_db } = self.cfg.mode {
            self.notices.push(format!(
                "normalize: {} AGC steps (> {step_db} dB between frames) compensated",
                self.steps
            ));
        }
        Ok(Vec::new())
    }
    fn reset(&mut self) {
        self.nodes.clear();
        self.steps = 0;
    }
}

// ---------------------------------------------------------------- dc

/// Configuration of the `dc` stage: `dc[:tau=2s]` — removes each subcarrier's slowly moving
/// mean (complex exponential moving average with time constant `tau`, in seconds from the frame
/// timestamps or in frames).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DcConfig {
    /// Time constant. Default 2 s.
    pub tau: Span,
}

impl Default for DcConfig {
    fn default() -> Self {
        DcConfig {
            tau: Span::Seconds(2.0),
        }
    }
}

impl FromStr for DcConfig {
    type Err = SignalError;
    fn from_str(s: &str) -> Result<Self> {
        let mut p = Spec::parse("dc", s, Some("tau"))?;
        let tau = p.span("tau", Span::Seconds(2.0))?;
        p.finish(&["tau"])?;
        Ok(DcConfig { tau })
    }
}

#[derive(Debug, Default)]
struct DcNode {
    shape: (usize, usize, usize),
    mean: Vec<Complex64>,
    last_ts: Option<i64>,
}

/// The `dc` stage.
#[derive(Debug)]
pub struct DcStage {
    cfg: DcConfig,
    nodes: PerNode<DcNode>,
    notices: Notices,
}

impl DcStage {
    /// A stage reporting to `notices`.
    pub fn new(cfg: DcConfig, notices: Notices) -> Self {
        DcStage {
            cfg,
            nodes: PerNode::new(DEFAULT_MAX_NODES),
            notices,
        }
    }
}

impl Stage for DcStage {
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
    fn name(&self) -> &str {
        "dc"
    }
    fn process(&mut self, mut frame: CsiFrame) -> CoreResult<Option<CsiFrame>> {
        let node = frame.node_id;
        let st = self.nodes.get_or_insert_with(node, DcNode::default)?;
        let shape = frame.shape();
        let first = st.shape != shape || st.mean.is_empty();
        if first {
            st.shape = shape;
            st.mean.clear();
            st.mean.extend(
                frame
                    .csi
                    .iter()
                    .map(|c| Complex64::new(c.re.into(), c.im.into())),
            );
            st.last_ts = Some(frame.timestamp_ns);
        }
        let alpha = match self.cfg.tau {
            Span::Frames(n) => 1.0 - (-1.0 / n.max(1) as f64).exp(),
            Span::Seconds(tau) => {
                if frame.clock == Clock::None {
                    self.notices.once(&format!("dc/noclock/{node}"), || {
                        format!("dc: frames of node {node} carry no timestamps, so tau in seconds cannot apply; passed unchanged (give tau in frames, e.g. dc:tau=50)")
                    });
                    return Ok(Some(frame));
                }
                let dt = st
                    .last_ts
                    .map(|t| (frame.timestamp_ns.saturating_sub(t)) as f64 * 1e-9)
                    .unwrap_or(0.0)
                    .max(0.0);
                1.0 - (-dt / tau).exp()
            }
        };
        st.last_ts = Some(frame.timestamp_ns);
        for (c, m) in frame.csi.iter_mut().zip(st.mean.iter_mut()) {
            let x = Complex64::new(c.re.into(), c.im.into());
            if x.re.is_finite() && x.im.is_finite() {
                *m += (x - *m) * alpha;
            }
            let y = x - *m;
            *c = Complex32::new(y.re as f32, y.im as f32);
        }
        Ok(Some(frame))
    }
    fn reset(&mut self) {
        self.nodes.clear();
    }
}
