//! The `hampel` stage: Hampel outlier filter in time, per subcarrier and chain, per node.

use std::collections::VecDeque;
use std::str::FromStr;

use num_complex::Complex32;
use serde::{Deserialize, Serialize};
use wifi_sensing_core::{CsiFrame, Result as CoreResult, Stage};

use super::nodes::{PerNode, DEFAULT_MAX_NODES};
use super::spec::Spec;
use super::Notices;
use crate::error::{Result, SignalError};
use crate::hampel::{HampelConfig, HampelState};

/// Which values the filter looks at.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HampelOn {
    /// Amplitude `|H|`; a replaced value keeps its phase.
    #[default]
    Amplitude,
    /// Real and imaginary parts, each filtered on its own.
    Iq,
}

/// Configuration of the `hampel` stage: `hampel[:window=15][:k=3][:on=amplitude|iq]`.
///
/// Output is delayed by `window / 2` frames per node (a centred window); the first and last
/// `window / 2` frames of a node pass unfiltered.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HampelStageConfig {
    /// Window and threshold ([`HampelConfig`]: odd window 3..=1001 frames, k ≥ 0).
    pub hampel: HampelConfig,
    /// Which values are filtered. Default amplitude.
    pub on: HampelOn,
}

impl Default for HampelStageConfig {
    fn default() -> Self {
        HampelStageConfig {
            hampel: HampelConfig::default(),
            on: HampelOn::Amplitude,
        }
    }
}

impl FromStr for HampelStageConfig {
    type Err = SignalError;
    fn from_str(s: &str) -> Result<Self> {
        let mut p = Spec::parse("hampel", s, Some("window"))?;
        let d = HampelConfig::default();
        let window = p.usize("window", 3, 1001, d.window)?;
        let k = p.f64("k", "", 0.0, 1e6, Some(d.k))?;
        let on = match p.choice("on", &["amplitude", "iq"], "amplitude")? {
            "iq" => HampelOn::Iq,
            _ => HampelOn::Amplitude,
        };
        p.finish(&["window", "k", "on"])?;
        let hampel = HampelConfig { window, k };
        hampel.validate()?;
        Ok(HampelStageConfig { hampel, on })
    }
}

#[derive(Debug)]
struct Node {
    shape: (usize, usize, usize),
    filters: Vec<HampelState>,
    held: VecDeque<CsiFrame>,
    seen: u64,
    filtered_frames: u64,
    replaced: u64,
    samples: u64,
}

/// The `hampel` stage.
#[derive(Debug)]
pub struct HampelStage {
    cfg: HampelStageConfig,
    nodes: PerNode<Node>,
    notices: Notices,
}

impl HampelStage {
    /// A stage reporting to `notices`.
    pub fn new(cfg: HampelStageConfig, notices: Notices) -> Result<Self> {
        cfg.hampel.validate()?;
        Ok(HampelStage {
            cfg,
            nodes: PerNode::new(DEFAULT_MAX_NODES),
            notices,
        })
    }

    /// Samples replaced so far, over every node.
    pub fn replaced(&self) -> u64 {
        self.nodes.iter().map(|(_, n)| n.replaced).sum()
    }
}

fn release(node: &mut Node, out: &mut Vec<CsiFrame>) {
    out.extend(node.held.drain(..));
    node.filters.iter_mut().for_each(|f| f.reset_window());
}

impl Stage for HampelStage {
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
    fn name(&self) -> &str {
        "hampel"
    }

    fn process(&mut self, frame: CsiFrame) -> CoreResult<Option<CsiFrame>> {
        let mut out = Vec::with_capacity(1);
        self.process_into(frame, &mut out)?;
        // process_into emits more than one frame only on a shape change; keep the last
        Ok(out.pop())
    }

    fn process_into(&mut self, frame: CsiFrame, out: &mut Vec<CsiFrame>) -> CoreResult<()> {
        let cfg = self.cfg;
        let shape = frame.shape();
        let per = if cfg.on == HampelOn::Iq { 2 } else { 1 };
        let node = self.nodes.get_or_insert_with(frame.node_id, || Node {
            shape,
            filters: Vec::new(),
            held: VecDeque::with_capacity(cfg.hampel.window),
            seen: 0,
            filtered_frames: 0,
            replaced: 0,
            samples: 0,
        })?;
        let n = shape.0 * shape.1 * shape.2 * per;
        if node.shape != shape || node.filters.len() != n {
            release(node, out);
            node.shape = shape;
            node.filters.clear();
            for _ in 0..n {
                node.filters.push(HampelState::new(cfg.hampel)?);
            }
        }
        node.seen += 1;
        let delay = cfg.hampel.window / 2;
        // push the new frame's values; each filter returns the value `delay` frames back
        let ready = node.held.len() >= delay;
        let mut centre = if ready { node.held.pop_front() } else { None };
        let mut replaced = 0u64;
        {
            let mut cvals = centre.as_mut().map(|f| f.csi.iter_mut());
            let mut fi = node.filters.iter_mut();
            for c in frame.csi.iter() {
                let target = cvals.as_mut().and_then(|it| it.next());
                match cfg.on {
                    HampelOn::Amplitude => {
                        let f = fi.next().expect("one filter per value");
                        if let (Some((y, true)), Some(t)) =
                            (f.push(f64::from(c.norm_sqr()).sqrt()), target)
                        {
                            let a = t.norm_sqr().sqrt();
                            *t = if a > 0.0 {
                                *t * (y as f32 / a)
                            } else {
                                Complex32::new(y as f32, 0.0)
                            };
                            replaced += 1;
                        }
                    }
                    HampelOn::Iq => {
                        let fr = fi.next().expect("filter");
                        let fim = fi.next().expect("filter");
                        let r = fr.push(f64::from(c.re));
                        let i = fim.push(f64::from(c.im));
                        if let Some(t) = target {
                            if let Some((y, true)) = r {
                                t.re = y as f32;
                                replaced += 1;
                            }
                            if let Some((y, true)) = i {
                                t.im = y as f32;
                                replaced += 1;
                            }
                        }
                    }
                }
            }
        }
        node.held.push_back(frame);
        if let Some(c) = centre.take() {
            if node.seen as usize >= cfg.hampel.window {
                node.filtered_frames += 1;
                node.samples += n as u64;
            }
            node.replaced += replaced;
            out.push(c);
        }
        Ok(())
    }

    fn flush(&mut self) -> CoreResult<Vec<CsiFrame>> {
        let mut out = Vec::new();
        let w = self.cfg.hampel.window;
        for (id, node) in self.nodes.iter_mut() {
            if node.seen < w as u64 {
                let seen = node.seen;
                self.notices.once(&format!("hampel/short/{id}"), || {
                    format!("hampel: node {id} had only {seen} frames, fewer than the window of {w}; passed unfiltered")
                });
            } else {
                self.notices.push(format!(
                    "hampel: node {id}: replaced {} of {} samples",
                    node.replaced, node.samples
                ));
            }
            release(node, &mut out);
            node.seen = 0;
        }
        Ok(out)
    }

    fn reset(&mut self) {
        self.nodes.clear();
    }
}
