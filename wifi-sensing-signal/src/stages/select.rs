//! The `select` stage: subcarrier selection by motion sensitivity against a calibration
//! baseline, and the plain functions behind it.
//!
//! Sensitivity of a subcarrier is the ratio of its amplitude variance over a recent window to
//! its variance during a calibration baseline (a quiet period): subcarriers that a person's
//! movement disturbs most stand out. The top `k`, or those above a ratio threshold, are kept.

use std::str::FromStr;

use ndarray::{ArrayView2, Axis};
use serde::{Deserialize, Serialize};
use wifi_sensing_core::{Clock, CsiFrame, Result as CoreResult, Stage};

use super::nodes::{PerNode, DEFAULT_MAX_NODES};
use super::spec::Spec;
use super::Notices;
use crate::error::{Result, SignalError};
use crate::stft::Span;

/// How subcarriers are chosen from their variance ratios.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SelectMode {
    /// The `k` subcarriers with the largest ratio.
    Top(usize),
    /// Every subcarrier whose ratio is at least this (at least one is kept: the largest).
    Threshold(f64),
}

/// Variance of each column of a `(time, subcarrier)` window over `baseline` rows vs `window`
/// rows: `var(window) / var(baseline)` per column (a baseline variance of 0 counts as the
/// smallest positive baseline variance, or 1e-12).
///
/// ```
/// use ndarray::Array2;
/// use wifi_sensing_signal::stages::select::{variance_ratio, select_columns, SelectMode};
/// let base = Array2::from_shape_fn((50, 3), |(t, _)| (t % 2) as f64);
/// let win = Array2::from_shape_fn((50, 3), |(t, j)| (t % 2) as f64 * if j == 1 { 5.0 } else { 1.0 });
/// let r = variance_ratio(base.view(), win.view())?;
/// assert_eq!(select_columns(&r, SelectMode::Top(1)), vec![1]);
/// # Ok::<(), wifi_sensing_signal::SignalError>(())
/// ```
pub fn variance_ratio(baseline: ArrayView2<f64>, window: ArrayView2<f64>) -> Result<Vec<f64>> {
    if baseline.ncols() != window.ncols() || baseline.nrows() < 2 || window.nrows() < 2 {
        return Err(SignalError::Shape {
            component: "select",
            detail: format!(
                "baseline {:?} vs window {:?} (same columns, at least 2 rows each)",
                baseline.dim(),
                window.dim()
            ),
        });
    }
    let vb = baseline.var_axis(Axis(0), 1.0);
    let vw = window.var_axis(Axis(0), 1.0);
    Ok(ratios(vb.iter().copied(), vw.iter().copied()))
}

fn ratios(vb: impl Iterator<Item = f64> + Clone, vw: impl Iterator<Item = f64>) -> Vec<f64> {
    let floor = vb
        .clone()
        .filter(|v| *v > 0.0 && v.is_finite())
        .fold(f64::INFINITY, f64::min);
    let floor = if floor.is_finite() { floor } else { 1e-12 };
    vb.zip(vw)
        .map(|(b, w)| {
            let b = if b > 0.0 && b.is_finite() { b } else { floor };
            if w.is_finite() {
                w / b
            } else {
                0.0
            }
        })
        .collect()
}

/// Column indices (ascending) chosen from `ratios` by `mode`.
pub fn select_columns(ratios: &[f64], mode: SelectMode) -> Vec<usize> {
    let mut order: Vec<usize> = (0..ratios.len()).collect();
    order.sort_by(|&a, &b| ratios[b].total_cmp(&ratios[a]).then(a.cmp(&b)));
    let mut v: Vec<usize> = match mode {
        SelectMode::Top(k) => order.into_iter().take(k.max(1)).collect(),
        SelectMode::Threshold(t) => {
            let mut v: Vec<usize> = order.iter().copied().filter(|&i| ratios[i] >= t).collect();
            if v.is_empty() {
                v.extend(order.first());
            }
            v
        }
    };
    v.sort_unstable();
    v
}

/// Configuration of the `select` stage:
/// `select[:top=10 | :threshold=2][:baseline=5s][:window=2s][:reselect=false]`.
///
/// Per node, the first `baseline` (seconds from the frame timestamps, or frames) is the
/// calibration: the node should be quiet then. The first `window` after it gives the selection
/// from the variance ratio over that window. The frames of the baseline and the first window
/// are held (at most [`MAX_HELD_FRAMES`] per node) and released with the selection applied, so
/// every frame a node emits has the same layout and analysers that keep a node's layout (events,
/// vital signs, pose windows) see all of them. With `reselect=true` the selection is recomputed
/// every `window`, and the layout changes whenever the chosen subcarriers do.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SelectConfig {
    /// Selection rule. Default top 10.
    pub mode: SelectMode,
    /// Calibration length. Default 5 s.
    pub baseline: Span,
    /// Window the selection is computed over. Default 2 s.
    pub window: Span,
    /// Recompute the selection every `window` (the layout may change). Default `false`.
    #[serde(default)]
    pub reselect: bool,
}

/// Frames a node holds while its selection is made; beyond this, the oldest held frames are
/// passed on with every subcarrier (said once).
pub const MAX_HELD_FRAMES: usize = 1 << 14;

impl Default for SelectConfig {
    fn default() -> Self {
        SelectConfig {
            mode: SelectMode::Top(10),
            baseline: Span::Seconds(5.0),
            window: Span::Seconds(2.0),
            reselect: false,
        }
    }
}

impl FromStr for SelectConfig {
    type Err = SignalError;
    fn from_str(s: &str) -> Result<Self> {
        let mut p = Spec::parse("select", s, Some("top"))?;
        let top = p.usize("top", 1, 4096, 0)?;
        let thr = p.f64("threshold", "", 0.0, 1e12, Some(-1.0))?;
        let baseline = p.span("baseline", Span::Seconds(5.0))?;
        let window = p.span("window", Span::Seconds(2.0))?;
        let reselect = p.choice("reselect", &["false", "true"], "false")? == "true";
        p.finish(&["top", "threshold", "baseline", "window", "reselect"])?;
        let mode = match (top, thr >= 0.0) {
            (0, false) => SelectMode::Top(10),
            (k, false) => SelectMode::Top(k),
            (0, true) => SelectMode::Threshold(thr),
            _ => {
                return Err(SignalError::param(
                    "select",
                    "top",
                    top,
                    "either top or threshold, not both",
                ))
            }
        };
        Ok(SelectConfig {
            mode,
            baseline,
            window,
            reselect,
        })
    }
}

#[derive(Clone, Debug, Default)]
struct Welford {
    n: Vec<f64>,
    mean: Vec<f64>,
    m2: Vec<f64>,
}

impl Welford {
    fn reset(&mut self, cols: usize) {
        self.n = vec![0.0; cols];
        self.mean = vec![0.0; cols];
        self.m2 = vec![0.0; cols];
    }
    fn add(&mut self, j: usize, x: f64) {
        if !x.is_finite() {
            return;
        }
        self.n[j] += 1.0;
        let d = x - self.mean[j];
        self.mean[j] += d / self.n[j];
        self.m2[j] += d * (x - self.mean[j]);
    }
    fn var(&self) -> impl Iterator<Item = f64> + Clone + '_ {
        self.n
            .iter()
            .zip(&self.m2)
            .map(|(n, m)| if *n > 1.0 { m / (n - 1.0) } else { 0.0 })
    }
}

#[derive(Debug, Default)]
struct Node {
    shape: (usize, usize, usize),
    start: Option<(i64, u64)>,
    frames: u64,
    calibrated: bool,
    base: Welford,
    win: Welford,
    win_start: (i64, u64),
    selection: Option<Vec<usize>>,
    held: std::collections::VecDeque<CsiFrame>,
}

/// The `select` stage.
#[derive(Debug)]
pub struct SelectStage {
    cfg: SelectConfig,
    nodes: PerNode<Node>,
    notices: Notices,
}

impl SelectStage {
    /// A stage reporting to `notices`.
    pub fn new(cfg: SelectConfig, notices: Notices) -> Self {
        SelectStage {
            cfg,
            nodes: PerNode::new(DEFAULT_MAX_NODES),
            notices,
        }
    }
}

/// `frame` with only the columns `sel` (and their subcarrier indices).
fn apply(mut frame: CsiFrame, sel: &[usize]) -> CsiFrame {
    frame.csi = frame.csi.select(Axis(2), sel);
    if let Some(sc) = &frame.subcarriers {
        frame.subcarriers = Some(sel.iter().filter_map(|&j| sc.get(j).copied()).collect());
    }
    frame
}

fn elapsed(span: Span, from: (i64, u64), now: (i64, u64)) -> bool {
    match span {
        Span::Seconds(s) => (now.0.saturating_sub(from.0)) as f64 * 1e-9 >= s,
        Span::Frames(n) => now.1.saturating_sub(from.1) >= n as u64,
    }
}

impl Stage for SelectStage {
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
    fn name(&self) -> &str {
        "select"
    }

    fn process(&mut self, frame: CsiFrame) -> CoreResult<Option<CsiFrame>> {
        let mut out = Vec::new();
        self.process_into(frame, &mut out)?;
        Ok(out.pop())
    }

    fn process_into(&mut self, frame: CsiFrame, out: &mut Vec<CsiFrame>) -> CoreResult<()> {
        let id = frame.node_id;
        let cfg = self.cfg;
        if frame.clock == Clock::None
            && (matches!(cfg.baseline, Span::Seconds(_)) || matches!(cfg.window, Span::Seconds(_)))
        {
            self.notices.once(&format!("select/noclock/{id}"), || format!(
                "select: frames of node {id} carry no timestamps, so spans in seconds cannot apply; passed unchanged (give baseline and window in frames)"
            ));
            out.push(frame);
            return Ok(());
        }
        let shape = frame.shape();
        let node = self.nodes.get_or_insert_with(id, Node::default)?;
        if node.shape != shape {
            // a new layout starts over; what was held for the old one goes on whole
            out.extend(node.held.drain(..));
            *node = Node {
                shape,
                ..Node::default()
            };
            node.base.reset(shape.2);
            node.win.reset(shape.2);
        }
        node.frames += 1;
        let now = (frame.timestamp_ns, node.frames);
        let start = *node.start.get_or_insert(now);
        let measuring = node.selection.is_none() || cfg.reselect;
        if measuring {
            let acc = if node.calibrated {
                &mut node.win
            } else {
                &mut node.base
            };
            for plane in frame.csi.outer_iter() {
                for row in plane.outer_iter() {
                    for (j, c) in row.iter().enumerate() {
                        acc.add(j, f64::from(c.norm()));
                    }
                }
            }
            if !node.calibrated {
                if elapsed(cfg.baseline, start, now) {
                    node.calibrated = true;
                    node.win_start = now;
                }
            } else if elapsed(cfg.window, node.win_start, now) {
                let r = ratios(node.base.var(), node.win.var());
                node.selection = Some(select_columns(&r, cfg.mode));
                node.win.reset(shape.2);
                node.win_start = now;
            }
        }
        match &node.selection {
            None => {
                if node.held.len() == MAX_HELD_FRAMES {
                    self.notices.once(&format!("select/held/{id}"), || format!(
                        "select: node {id} has held {MAX_HELD_FRAMES} frames without a selection (baseline + window too long for its rate); the oldest pass on with every subcarrier"
                    ));
                    out.extend(node.held.pop_front());
                }
                node.held.push_back(frame);
            }
            Some(sel) => {
                for f in node.held.drain(..).chain(std::iter::once(frame)) {
                    out.push(apply(f, sel));
                }
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> CoreResult<Vec<CsiFrame>> {
        let mut out = Vec::new();
        for (id, n) in self.nodes.iter_mut() {
            if n.selection.is_none() {
                self.notices.once(&format!("select/none/{id}"), || format!(
                    "select: node {id} ended before a baseline and one window were complete; its frames kept every subcarrier"
                ));
            }
            out.extend(n.held.drain(..));
        }
        Ok(out)
    }

    fn reset(&mut self) {
        self.nodes.clear();
    }
}
