//! Windowing: per-node frame buffers, resampling to the model's frame rate, channel
//! preparation, alignment of several nodes in time, and the missing-frame rule.
//!
//! Each frame is checked against the manifest when its node is first seen (device, antennas,
//! subcarriers, timestamps; a later change is an error too), turned into the manifest's
//! channels (normalised) and kept in a bounded per-node buffer. Windows end on a common time
//! grid (`first end + k × hop`) and are built once every node of the window has frames past the
//! window's end (or the stream ends): each of the `window_frames` grid points (spaced
//! `1 / frame_rate_hz`) is linearly interpolated between the two frames around it when they are
//! at most `max_gap_s` apart, else taken from a frame within half a model period, else counted
//! missing. A window with more than `max_missing_fraction` of its points missing on any node
//! yields no pose (counted in [`WindowStats::skipped_missing`]); fewer missing points are filled
//! with the nearest present point in time.
//!
//! Phase sanitising (unwrap along the subcarriers, remove the least-squares line over their
//! indices) is `wifi_sensing_signal::phase`'s. Resampling to the model's grid is point-wise
//! linear interpolation between the two frames around each grid point, done here because the
//! grid is the window's (no anti-alias filter when the stream is faster than the model rate;
//! put a `wifi-sensing-signal` low-pass or resample stage before the estimator for that).
//!
//! The measured frame rate of each node is checked once its frames span a whole window: below
//! `min_rate_fraction × frame_rate_hz` it is an error (the model would be fed invented data).

use std::collections::VecDeque;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use wifi_sensing_core::num_complex::Complex32;
use wifi_sensing_core::{Clock, CsiFrame, Device, PerNode};
use wifi_sensing_signal::phase::{sanitize_phase, LinearFit};

use crate::error::{PoseError, Result};
use crate::manifest::{Channel, Manifest};

/// Windowing configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WindowConfig {
    /// Time between the ends of consecutive windows, seconds (default 0.1).
    pub hop_s: f64,
    /// Largest share of a window's grid points that may be missing on a node before the
    /// window is skipped (default 0.1).
    pub max_missing_fraction: f64,
    /// Largest time between two frames that a grid point may be interpolated across, seconds
    /// (`None`: 2.5 model periods).
    pub max_gap_s: Option<f64>,
    /// How long to wait past a window's end for late frames of other nodes, seconds (`None`:
    /// one model period).
    pub latency_s: Option<f64>,
    /// Most distinct nodes kept (more is an error: bad input must not grow memory).
    pub max_nodes: usize,
    /// Most frames buffered per node (the oldest beyond it are dropped and counted).
    pub max_buffer_frames: usize,
}

impl Default for WindowConfig {
    fn default() -> Self {
        WindowConfig {
            hop_s: 0.1,
            max_missing_fraction: 0.1,
            max_gap_s: None,
            latency_s: None,
            max_nodes: 64,
            max_buffer_frames: 1 << 16,
        }
    }
}

/// Parses a duration in seconds: `0.1s`, `100ms`, `250us` or a bare number of seconds.
///
/// ```
/// use wifi_sensing_pose::window::parse_seconds;
/// assert_eq!(parse_seconds("100ms").unwrap(), 0.1);
/// assert_eq!(parse_seconds("0.5s").unwrap(), 0.5);
/// assert!(parse_seconds("-1s").is_err());
/// ```
pub fn parse_seconds(s: &str) -> Result<f64> {
    let t = s.trim();
    let (num, scale) = if let Some(n) = t.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = t.strip_suffix("us") {
        (n, 1e-6)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1.0)
    } else {
        (t, 1.0)
    };
    match num.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v * scale),
        _ => Err(PoseError::Config(format!(
            "`{s}` is not a positive duration (such as 0.1s or 100ms)"
        ))),
    }
}

impl FromStr for WindowConfig {
    type Err = PoseError;

    /// Parses `hop=0.1s:max_missing=0.2:max_gap=50ms:latency=0.2s:max_nodes=8`; every key is
    /// optional, the rest keep their defaults.
    ///
    /// ```
    /// let c: wifi_sensing_pose::WindowConfig = "hop=50ms:max_missing=0.25".parse().unwrap();
    /// assert_eq!((c.hop_s, c.max_missing_fraction), (0.05, 0.25));
    /// ```
    fn from_str(s: &str) -> Result<Self> {
        let mut c = WindowConfig::default();
        for part in s.split(':').filter(|p| !p.is_empty()) {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| PoseError::Config(format!("`{part}` is not key=value")))?;
            match k {
                "hop" => c.hop_s = parse_seconds(v)?,
                "max_gap" => c.max_gap_s = Some(parse_seconds(v)?),
                "latency" => c.latency_s = Some(parse_seconds(v)?),
                "max_missing" => {
                    c.max_missing_fraction = v.parse().map_err(|_| {
                        PoseError::Config(format!("max_missing `{v}` is not a number"))
                    })?
                }
                "max_nodes" => {
                    c.max_nodes = v
                        .parse()
                        .map_err(|_| PoseError::Config(format!("max_nodes `{v}` is not a count")))?
                }
                _ => {
                    return Err(PoseError::Config(format!(
                        "unknown window key `{k}` (hop, max_missing, max_gap, latency, max_nodes)"
                    )))
                }
            }
        }
        c.validate()?;
        Ok(c)
    }
}

impl WindowConfig {
    /// Checks ranges.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(PoseError::Config(m));
        if !(self.hop_s.is_finite() && self.hop_s > 0.0 && self.hop_s <= 3600.0) {
            return bad(format!("hop {} s is outside (0, 3600]", self.hop_s));
        }
        if !(0.0..=1.0).contains(&self.max_missing_fraction) {
            return bad(format!(
                "max_missing_fraction {} is outside [0, 1]",
                self.max_missing_fraction
            ));
        }
        for (name, v) in [("max_gap_s", self.max_gap_s), ("latency_s", self.latency_s)] {
            if let Some(v) = v {
                if !(v.is_finite() && v > 0.0 && v <= 3600.0) {
                    return bad(format!("{name} {v} is outside (0, 3600]"));
                }
            }
        }
        if self.max_nodes == 0 || self.max_nodes > 4096 {
            return bad(format!("max_nodes {} is outside 1..=4096", self.max_nodes));
        }
        if self.max_buffer_frames < 2 || self.max_buffer_frames > 1 << 24 {
            return bad(format!(
                "max_buffer_frames {} is outside 2..=16777216",
                self.max_buffer_frames
            ));
        }
        Ok(())
    }
}

/// Listed nodes whose frames [`WindowStats::listed_node_frames`] counts.
pub const LISTED_NODES: usize = 32;

/// Counters of the windower.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowStats {
    /// Frames looked at.
    pub frames: u64,
    /// Frames of nodes the model does not use (not in `input.node_ids`).
    pub frames_ignored: u64,
    /// Frames older than their node's previous frame (dropped).
    pub frames_out_of_order: u64,
    /// Frames dropped because a node's buffer was full.
    pub frames_dropped_buffer: u64,
    /// Windows built and handed to the model.
    pub windows: u64,
    /// Windows skipped because too many grid points were missing.
    pub skipped_missing: u64,
    /// Nodes that sent at least one frame the model uses.
    #[serde(default)]
    pub nodes_seen: u64,
    /// The first node that sent frames the model does not use (not in `input.node_ids`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_ignored_node: Option<u32>,
    /// With a manifest that lists its nodes (`input.node_ids`): the frames of each of the first
    /// [`LISTED_NODES`] it lists, in its order (0: the node sent none).
    #[serde(default)]
    pub listed_node_frames: [u64; LISTED_NODES],
}

/// One window ready for the model.
#[derive(Clone, Debug, PartialEq)]
pub struct Window {
    /// Nodes in the window, in the model's node order.
    pub nodes: Vec<u32>,
    /// Time of the first grid point, ns.
    pub start_ns: i64,
    /// Time of the last grid point, ns.
    pub end_ns: i64,
    /// Grid points that were missing (summed over nodes) and filled from neighbours.
    pub missing: usize,
    /// Time of each node's newest frame at or before `end_ns`, ns, in `nodes` order: the
    /// frames' own timestamps, which tie the window to the capture it came from.
    pub last_frame_ns: Vec<i64>,
    /// Values in `[frames][nodes][rx][tx][subcarriers][channels]` order, normalised.
    pub data: Vec<f32>,
}

/// Prepared, normalised values of one frame: `[rx][tx][subcarriers][channels]`.
struct NodeBuf {
    times: VecDeque<i64>,
    values: VecDeque<Vec<f32>>,
    spare: Vec<Vec<f32>>,
    /// Column of each model subcarrier in this node's frames.
    columns: Vec<usize>,
    /// Least-squares line over the selected subcarriers' indices (phase sanitising).
    fit: Option<LinearFit>,
    /// Subcarrier list of the first frame, to detect a change.
    subcarriers: Option<Vec<i16>>,
    shape: (usize, usize, usize),
    first_ns: i64,
    /// Frames taken since the first one (the buffer forgets old frames; this does not).
    seen: u64,
    rate_checked: bool,
}

/// Builds windows from frames of one or several nodes.
pub struct Windower {
    cfg: WindowConfig,
    channels: Vec<Channel>,
    mean: Vec<f32>,
    inv_std: Vec<f32>,
    rx: usize,
    tx: usize,
    sc: usize,
    frames: usize,
    rate_hz: f64,
    min_rate_fraction: f64,
    device: Option<Device>,
    indices: Option<Vec<i16>>,
    fixed_nodes: Option<Vec<u32>>,
    period_ns: f64,
    hop_ns: i64,
    max_gap_ns: f64,
    latency_ns: i64,
    nodes: PerNode<NodeBuf>,
    groups: Vec<Group>,
    stats: WindowStats,
    // Scratch, reused for every frame.
    phase: Vec<f64>,
}

struct Group {
    nodes: Vec<u32>,
    next_end: Option<i64>,
}

impl Windower {
    /// A windower for a model's manifest.
    pub fn new(manifest: &Manifest, cfg: WindowConfig) -> Result<Self> {
        cfg.validate()?;
        let i = &manifest.input;
        let period = 1e9 / i.frame_rate_hz;
        let device = match &i.device {
            Some(d) => Some(
                serde_json::from_value::<Device>(serde_json::Value::String(d.clone()))
                    .map_err(|_| PoseError::Config(format!("unknown device `{d}`")))?,
            ),
            None => None,
        };
        let fixed_nodes = i.node_ids.clone();
        let groups = match &fixed_nodes {
            Some(ids) => vec![Group {
                nodes: ids.clone(),
                next_end: None,
            }],
            None => Vec::new(),
        };
        let nodes = PerNode::new(cfg.max_nodes);
        Ok(Windower {
            nodes,
            hop_ns: (cfg.hop_s * 1e9).round().max(1.0) as i64,
            max_gap_ns: cfg.max_gap_s.map_or(2.5 * period, |g| g * 1e9),
            latency_ns: cfg.latency_s.map_or(period, |l| l * 1e9).round() as i64,
            cfg,
            channels: i.channels.clone(),
            mean: i.normalisation.mean.clone(),
            inv_std: i.normalisation.std.iter().map(|s| 1.0 / s).collect(),
            rx: i.rx,
            tx: i.tx,
            sc: i.subcarriers,
            frames: i.window_frames,
            rate_hz: i.frame_rate_hz,
            min_rate_fraction: i.min_rate_fraction,
            device,
            indices: i.subcarrier_indices.clone(),
            fixed_nodes,
            period_ns: period,
            groups,
            stats: WindowStats::default(),
            phase: vec![0.0; i.subcarriers],
        })
    }

    /// Counters so far.
    pub fn stats(&self) -> WindowStats {
        self.stats
    }

    /// Values per frame of one node (`rx × tx × subcarriers × channels`).
    fn frame_len(&self) -> usize {
        self.rx * self.tx * self.sc * self.channels.len()
    }

    /// Window span from first to last grid point, ns.
    fn span_ns(&self) -> i64 {
        ((self.frames - 1) as f64 * self.period_ns).round() as i64
    }

    /// Forgets all frames and state.
    pub fn reset(&mut self) {
        self.nodes.clear();
        for g in &mut self.groups {
            g.next_end = None;
        }
        if self.fixed_nodes.is_none() {
            self.groups.clear();
        }
        self.stats = WindowStats::default();
    }

    /// Takes one frame; windows that became complete are appended to `out`.
    pub fn push(&mut self, frame: &CsiFrame, out: &mut Vec<Window>) -> Result<()> {
        self.stats.frames += 1;
        let node = frame.node_id;
        if let Some(ids) = &self.fixed_nodes {
            match ids.iter().position(|&n| n == node) {
                Some(i) => {
                    if let Some(n) = self.stats.listed_node_frames.get_mut(i) {
                        *n += 1;
                    }
                }
                None => {
                    self.stats.frames_ignored += 1;
                    self.stats.first_ignored_node.get_or_insert(node);
                    return Ok(());
                }
            }
        }
        if self.nodes.get(node).is_none() {
            if self.nodes.len() >= self.nodes.max_nodes() {
                return Err(PoseError::Config(format!(
                    "more than {} nodes in the stream (window max_nodes)",
                    self.cfg.max_nodes
                )));
            }
            let buf = self.first_frame(frame)?;
            self.nodes
                .get_or_insert_with(node, || buf)
                .map_err(|e| PoseError::Config(e.to_string()))?;
            self.stats.nodes_seen += 1;
            if self.fixed_nodes.is_none() {
                self.groups.push(Group {
                    nodes: vec![node],
                    next_end: None,
                });
            }
        }
        let Some(buf) = self.nodes.get(node) else {
            return Ok(());
        };
        Self::check_same(buf, self.device, self.indices.is_some(), frame)?;
        let t = frame.timestamp_ns;
        if buf.times.back().is_some_and(|&last| t < last) {
            self.stats.frames_out_of_order += 1;
            return Ok(());
        }
        // Prepare the frame's values into a recycled buffer.
        let len = self.frame_len();
        let mut v = self
            .nodes
            .get_mut(node)
            .and_then(|b| b.spare.pop())
            .unwrap_or_default();
        v.clear();
        v.resize(len, 0.0);
        self.prepare(node, frame, &mut v);
        let max_buf = self.cfg.max_buffer_frames;
        let Some(buf) = self.nodes.get_mut(node) else {
            return Ok(());
        };
        if buf.times.len() >= max_buf {
            buf.times.pop_front();
            if let Some(old) = buf.values.pop_front() {
                buf.spare.push(old);
            }
            self.stats.frames_dropped_buffer += 1;
        }
        buf.times.push_back(t);
        buf.values.push_back(v);
        buf.seen += 1;
        self.check_rate(node)?;
        self.emit(false, out);
        Ok(())
    }

    /// Builds the windows still pending at the end of the stream.
    pub fn finish(&mut self, out: &mut Vec<Window>) {
        self.emit(true, out);
    }

    fn first_frame(&self, f: &CsiFrame) -> Result<NodeBuf> {
        let node_id = f.node_id;
        let bad = |field: &'static str, reason: String| PoseError::Stream {
            node_id,
            field,
            reason,
        };
        if f.clock == Clock::None {
            return Err(bad(
                "input.frame_rate_hz",
                format!(
                    "{} frames carry no timestamps, so they cannot be resampled to the model's rate",
                    f.format
                ),
            ));
        }
        if let Some(d) = self.device {
            if f.device != d {
                return Err(bad(
                    "input.device",
                    format!("the model expects {d} frames, this stream has {}", f.device),
                ));
            }
        }
        let (rx, tx, sc) = f.shape();
        if rx != self.rx || tx != self.tx {
            return Err(bad(
                "input.rx/input.tx",
                format!(
                    "the model expects {} rx x {} tx, the frames have {rx} x {tx}",
                    self.rx, self.tx
                ),
            ));
        }
        let columns: Vec<usize> = match &self.indices {
            None => {
                if sc != self.sc {
                    return Err(bad(
                        "input.subcarriers",
                        format!(
                            "the model expects {} subcarriers, the frames have {sc}",
                            self.sc
                        ),
                    ));
                }
                (0..sc).collect()
            }
            Some(want) => {
                let Some(have) = &f.subcarriers else {
                    return Err(bad(
                        "input.subcarrier_indices",
                        "the frames do not state their subcarrier indices".into(),
                    ));
                };
                want.iter()
                    .map(|w| {
                        have.iter().position(|h| h == w).ok_or_else(|| {
                            bad(
                                "input.subcarrier_indices",
                                format!("subcarrier {w} is not in the frames"),
                            )
                        })
                    })
                    .collect::<Result<_>>()?
            }
        };
        let fit = if self.channels.contains(&Channel::PhaseSanitised) {
            let xs: Vec<f64> = columns
                .iter()
                .map(|&c| {
                    f.subcarriers
                        .as_ref()
                        .and_then(|s| s.get(c))
                        .map_or(c as f64, |&i| f64::from(i))
                })
                .collect();
            Some(LinearFit::new(&xs).map_err(|e| {
                bad(
                    "input.channels",
                    format!("phase_sanitised needs 2 or more distinct subcarriers: {e}"),
                )
            })?)
        } else {
            None
        };
        Ok(NodeBuf {
            fit,
            times: VecDeque::new(),
            values: VecDeque::new(),
            spare: Vec::new(),
            columns,
            subcarriers: f.subcarriers.clone(),
            shape: (rx, tx, sc),
            first_ns: f.timestamp_ns,
            seen: 0,
            rate_checked: false,
        })
    }

    fn check_same(b: &NodeBuf, device: Option<Device>, indices: bool, f: &CsiFrame) -> Result<()> {
        let bad = |field: &'static str, reason: String| PoseError::Stream {
            node_id: f.node_id,
            field,
            reason,
        };
        if f.shape() != b.shape {
            return Err(bad(
                "input.subcarriers",
                format!("frame shape changed from {:?} to {:?}", b.shape, f.shape()),
            ));
        }
        if indices && f.subcarriers != b.subcarriers {
            return Err(bad(
                "input.subcarrier_indices",
                "the frames' subcarrier indices changed mid-stream".into(),
            ));
        }
        if let Some(d) = device {
            if f.device != d {
                return Err(bad(
                    "input.device",
                    format!("device changed to {:?}", f.device),
                ));
            }
        }
        if f.clock == Clock::None {
            return Err(bad(
                "input.frame_rate_hz",
                "a frame without timestamp".into(),
            ));
        }
        Ok(())
    }

    fn check_rate(&mut self, node: u32) -> Result<()> {
        let span = self.span_ns();
        let min = self.min_rate_fraction * self.rate_hz;
        let rate_hz = self.rate_hz;
        let Some(b) = self.nodes.get_mut(node) else {
            return Ok(());
        };
        if b.rate_checked {
            return Ok(());
        }
        let last = *b.times.back().unwrap_or(&b.first_ns);
        let elapsed = last.saturating_sub(b.first_ns);
        if elapsed < span.max(1) {
            return Ok(());
        }
        b.rate_checked = true;
        // Frames since the first one, counted as they came: the buffer may already have
        // forgotten the oldest ones when the group's other nodes completed a window first.
        let n = b.seen as f64;
        let measured = (n - 1.0) / (elapsed as f64 * 1e-9);
        if measured < min {
            return Err(PoseError::Stream {
                node_id: node,
                field: "input.frame_rate_hz",
                reason: format!(
                    "measured {measured:.2} frames/s over the first window, the model needs {rate_hz} Hz (at least {min:.2})"
                ),
            });
        }
        Ok(())
    }

    /// Computes the channels of one frame into `v` (`[rx][tx][sc][ch]`, normalised).
    fn prepare(&mut self, node: u32, f: &CsiFrame, v: &mut [f32]) {
        let nch = self.channels.len();
        let Some(buf) = self.nodes.get(node) else {
            return;
        };
        let columns = &buf.columns;
        for r in 0..self.rx {
            for t in 0..self.tx {
                if let Some(fit) = &buf.fit {
                    for (k, &c) in columns.iter().enumerate() {
                        self.phase[k] = f64::from(f.csi[[r, t, c]].arg());
                    }
                    sanitize_phase(&mut self.phase, fit);
                }
                for (k, &c) in columns.iter().enumerate() {
                    let h = f.csi[[r, t, c]];
                    let h0 = f.csi[[0, t, c]];
                    let base = ((r * self.tx + t) * self.sc + k) * nch;
                    for (ci, ch) in self.channels.iter().enumerate() {
                        let x = match ch {
                            Channel::Amplitude => h.norm(),
                            Channel::PhaseSanitised => self.phase[k] as f32,
                            Channel::RatioAmplitude => ratio(h, h0).norm(),
                            Channel::RatioPhase => ratio(h, h0).arg(),
                        };
                        let x = if x.is_finite() { x } else { 0.0 };
                        v[base + ci] = (x - self.mean[ci]) * self.inv_std[ci];
                    }
                }
            }
        }
    }

    fn emit(&mut self, at_end: bool, out: &mut Vec<Window>) {
        let span = self.span_ns();
        for g in 0..self.groups.len() {
            // Latest time every node of the group has reached, and the latest overall.
            let mut all_started = true;
            let mut start = i64::MIN;
            let mut newest = i64::MIN;
            let mut oldest_last = i64::MAX;
            for n in &self.groups[g].nodes {
                match self.nodes.get(*n) {
                    Some(b) if !b.times.is_empty() => {
                        start = start.max(b.first_ns);
                        let last = *b.times.back().unwrap_or(&b.first_ns);
                        newest = newest.max(last);
                        oldest_last = oldest_last.min(last);
                    }
                    _ => all_started = false,
                }
            }
            if !all_started {
                continue;
            }
            let next = *self.groups[g]
                .next_end
                .get_or_insert(start.saturating_add(span));
            let mut end = next;
            // A window is built when every node has passed its end (or waited `latency`), or
            // at the end of the stream when some node reached it.
            let ready = |end: i64| {
                if at_end {
                    end <= newest
                } else {
                    end <= oldest_last || end.saturating_add(self.latency_ns) <= newest
                }
            };
            // Skip far ahead over long silences arithmetically (a clock jump cannot loop for
            // ever): windows entirely in a gap are counted as skipped.
            let mut guard = 0u32;
            while ready(end) {
                guard += 1;
                if guard > 1000 {
                    let behind = newest.saturating_sub(end) / self.hop_ns;
                    let jump = behind.saturating_sub(1).max(0);
                    self.stats.skipped_missing += jump as u64;
                    end = end.saturating_add(jump.saturating_mul(self.hop_ns));
                    guard = 0;
                }
                if let Some(w) = self.build(g, end) {
                    out.push(w);
                    self.stats.windows += 1;
                } else {
                    self.stats.skipped_missing += 1;
                }
                end = end.saturating_add(self.hop_ns);
            }
            self.groups[g].next_end = Some(end);
            // Frames older than the next window's start minus the gap allowance are not needed.
            let keep_from = end - span - self.max_gap_ns.ceil() as i64;
            for n in &self.groups[g].nodes {
                if let Some(b) = self.nodes.get_mut(*n) {
                    while b.times.len() > 1 && b.times[1] < keep_from {
                        b.times.pop_front();
                        if let Some(old) = b.values.pop_front() {
                            b.spare.push(old);
                        }
                    }
                }
            }
        }
    }

    /// Builds the window of group `g` ending at `end`, or `None` when too much is missing.
    fn build(&self, g: usize, end: i64) -> Option<Window> {
        let len = self.frame_len();
        let nodes = &self.groups[g].nodes;
        let n_nodes = nodes.len();
        let mut data = vec![0.0f32; self.frames * n_nodes * len];
        let mut present = vec![false; self.frames];
        let max_missing = (self.cfg.max_missing_fraction * self.frames as f64).floor() as usize;
        let half = self.period_ns / 2.0;
        let mut missing_total = 0;
        let mut last_frame_ns = Vec::with_capacity(n_nodes);
        for (ni, n) in nodes.iter().enumerate() {
            let b = self.nodes.get(*n)?;
            // Old frames are dropped only while a newer one stays before the next window's
            // start, so a node has a frame at or before `end` (unless its buffer overflowed).
            let newest = b.times.partition_point(|&x| x <= end).checked_sub(1)?;
            last_frame_ns.push(b.times[newest]);
            let mut missing = 0;
            for (k, present_k) in present.iter_mut().enumerate() {
                let t = end as f64 - (self.frames - 1 - k) as f64 * self.period_ns;
                let dst = (k * n_nodes + ni) * len;
                let i = b.times.partition_point(|&x| (x as f64) < t);
                let prev = i.checked_sub(1);
                let next = (i < b.times.len()).then_some(i);
                let ok = match (prev, next) {
                    (_, Some(j)) if b.times[j] as f64 == t => {
                        data[dst..dst + len].copy_from_slice(&b.values[j]);
                        true
                    }
                    (Some(p), Some(j)) if ((b.times[j] - b.times[p]) as f64) <= self.max_gap_ns => {
                        let (t0, t1) = (b.times[p] as f64, b.times[j] as f64);
                        let w = ((t - t0) / (t1 - t0)) as f32;
                        for ((d, a), c) in data[dst..dst + len]
                            .iter_mut()
                            .zip(&b.values[p])
                            .zip(&b.values[j])
                        {
                            *d = a + (c - a) * w;
                        }
                        true
                    }
                    (Some(p), _) if t - b.times[p] as f64 <= half => {
                        data[dst..dst + len].copy_from_slice(&b.values[p]);
                        true
                    }
                    (_, Some(j)) if b.times[j] as f64 - t <= half => {
                        data[dst..dst + len].copy_from_slice(&b.values[j]);
                        true
                    }
                    _ => false,
                };
                *present_k = ok;
                if !ok {
                    missing += 1;
                }
            }
            if missing > max_missing || missing == self.frames {
                return None;
            }
            // Fill missing points from the nearest present one in time.
            for k in 0..self.frames {
                if present[k] {
                    continue;
                }
                let src = (1..self.frames)
                    .flat_map(|d| [k.checked_sub(d), (k + d < self.frames).then_some(k + d)])
                    .flatten()
                    .find(|&j| present[j])?;
                let (s, d) = ((src * n_nodes + ni) * len, (k * n_nodes + ni) * len);
                data.copy_within(s..s + len, d);
            }
            missing_total += missing;
        }
        Some(Window {
            nodes: nodes.clone(),
            start_ns: end - self.span_ns(),
            end_ns: end,
            missing: missing_total,
            last_frame_ns,
            data,
        })
    }
}

fn ratio(h: Complex32, h0: Complex32) -> Complex32 {
    if h0.norm_sqr() > 0.0 {
        h / h0
    } else {
        Complex32::new(f32::NAN, f32::NAN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_specs() {
        assert_eq!(parse_seconds("250us").unwrap(), 250e-6);
        assert_eq!(parse_seconds("2").unwrap(), 2.0);
        assert!(parse_seconds("").is_err());
        assert!(parse_seconds("NaNs").is_err());
        assert!("hop=0s".parse::<WindowConfig>().is_err());
        assert!("bogus=1".parse::<WindowConfig>().is_err());
        assert!("max_missing=2".parse::<WindowConfig>().is_err());
        assert!("max_nodes=0".parse::<WindowConfig>().is_err());
    }
}
