//! The `resample` stage: each node's frames on a uniform time grid.

use std::str::FromStr;

use num_complex::Complex32;
use wifi_sensing_core::{Clock, CsiFrame, Result as CoreResult, Stage};

use super::nodes::{PerNode, DEFAULT_MAX_NODES};
use super::spec::Spec;
use super::Notices;
use crate::error::{Result, SignalError};
use crate::resample::{ResampleConfig, Resampler};

impl FromStr for ResampleConfig {
    type Err = SignalError;
    /// `resample:100hz[:max_gap=0.5s]` (or `resample:rate=100hz`).
    fn from_str(s: &str) -> Result<Self> {
        let mut p = Spec::parse("resample", s, Some("rate"))?;
        let rate_hz = p.f64("rate", "hz", 0.01, 100_000.0, None)?;
        let max_gap_s = match p.span("max_gap", crate::stft::Span::Seconds(0.5))? {
            crate::stft::Span::Seconds(x) => x,
            crate::stft::Span::Frames(n) => n as f64 / rate_hz,
        };
        p.finish(&["rate", "max_gap"])?;
        let c = ResampleConfig { rate_hz, max_gap_s };
        c.validate()?;
        Ok(c)
    }
}

#[derive(Debug)]
struct Node {
    shape: (usize, usize, usize),
    r: Resampler<Complex32>,
    vals: Vec<Complex32>,
    gaps: u64,
    missing: u64,
}

/// The `resample` stage. Interpolated frames take the metadata of the later of the two input
/// frames around them, with the grid timestamp and no sequence number. Frames without a
/// timestamp (clock `none`) pass unchanged (said once).
#[derive(Debug)]
pub struct ResampleStage {
    cfg: ResampleConfig,
    nodes: PerNode<Node>,
    notices: Notices,
}

impl ResampleStage {
    /// A stage reporting to `notices`.
    pub fn new(cfg: ResampleConfig, notices: Notices) -> Result<Self> {
        cfg.validate()?;
        Ok(ResampleStage {
            cfg,
            nodes: PerNode::new(DEFAULT_MAX_NODES),
            notices,
        })
    }
}

impl Stage for ResampleStage {
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
    fn name(&self) -> &str {
        "resample"
    }

    fn process(&mut self, frame: CsiFrame) -> CoreResult<Option<CsiFrame>> {
        let mut out = Vec::new();
        self.process_into(frame, &mut out)?;
        Ok(out.pop())
    }

    fn process_into(&mut self, frame: CsiFrame, out: &mut Vec<CsiFrame>) -> CoreResult<()> {
        let id = frame.node_id;
        if frame.clock == Clock::None {
            self.notices.once(&format!("resample/noclock/{id}"), || {
                format!("resample: frames of node {id} carry no timestamps; passed unchanged")
            });
            out.push(frame);
            return Ok(());
        }
        let cfg = self.cfg;
        let shape = frame.shape();
        let node = self.nodes.get_or_insert_with(id, || Node {
            shape,
            r: Resampler::new(cfg).expect("validated"),
            vals: Vec::new(),
            gaps: 0,
            missing: 0,
        })?;
        if node.shape != shape {
            node.shape = shape;
            node.r.reset();
        }
        node.vals.clear();
        node.vals.extend(frame.csi.iter().copied());
        let mut err = None;
        let gap = node.r.push(frame.timestamp_ns, &node.vals, |t, v| {
            if v.len() != frame.csi.len() {
                err = Some(format!("{} values for shape {shape:?}", v.len()));
                return;
            }
            let mut f = frame.clone();
            f.csi.iter_mut().zip(v).for_each(|(d, s)| *d = *s);
            if t != frame.timestamp_ns {
                f.sequence = None;
            }
            f.timestamp_ns = t;
            out.push(f);
        })?;
        if let Some(e) = err {
            return Err(SignalError::Numerical {
                component: "resample",
                reason: e,
            }
            .into());
        }
        if let Some(g) = gap {
            node.gaps += 1;
            node.missing += g.missing;
            let max_gap = cfg.max_gap_s;
            self.notices.once(&format!("resample/gap/{id}"), || format!(
                "resample: node {id}: {:.3} s without frames at t={} ns (longer than max_gap {max_gap} s); not bridged, the grid restarts after it (further gaps counted)",
                (g.end_ns - g.start_ns) as f64 * 1e-9, g.start_ns
            ));
        }
        Ok(())
    }

    fn flush(&mut self) -> CoreResult<Vec<CsiFrame>> {
        for (id, n) in self.nodes.iter_mut() {
            if n.gaps > 0 || n.r.dropped() > 0 {
                self.notices.push(format!(
                    "resample: node {id}: {} gaps not bridged ({} grid points missing), {} out-of-order frames dropped",
                    n.gaps, n.missing, n.r.dropped()
                ));
            }
        }
        Ok(Vec::new())
    }

    fn reset(&mut self) {
        self.nodes.clear();
    }
}
