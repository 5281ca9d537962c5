//! Empty-room calibration: the [`Baseline`] file, made by a [`Calibrator`] from an empty-room
//! capture, saved and loaded as versioned JSON.
//!
//! A baseline holds, per node, the CSI layout it was made for (shape and subcarrier indices),
//! the columns that carry signal, the mean amplitude shape of the empty room (the reference of
//! the static presence path, see [`crate::events`]) and how quiet the capture was. It is
//! refused, with an error naming the mismatch, on a stream from another device, with another
//! CSI layout, or with a node it does not know. A corrupt file is refused with an error naming
//! the field.
//!
//! ```
//! use wifi_sensing_core::sim::{DeviceProfile, Scenario, Simulator};
//! use wifi_sensing_signal::calibration::{Baseline, Calibrator};
//! use wifi_sensing_signal::events::EventConfig;
//! let sim = Simulator::new(Scenario::preset("empty", 5.0)?, DeviceProfile::esp32(), 1)?;
//! let mut cal = Calibrator::new(&EventConfig::default())?;
//! for (frame, _) in sim {
//!     cal.push(&frame)?;
//! }
//! let baseline = cal.finish()?;
//! let text = baseline.to_json();
//! let back = Baseline::from_json_str(&text, "baseline.json")?;
//! assert_eq!(back, baseline);
//! assert_eq!(back.nodes[0].node_id, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use wifi_sensing_core::CsiFrame;

use crate::error::{Result, SignalError as Error};
use crate::events::EventConfig;
use crate::features::{
    amplitudes, shape, BlockStats, ColumnSelector, Columns, IntervalMeter, Layout, LevelTracker,
    MotionRatio,
};

/// Value of [`Baseline::format`].
pub const BASELINE_FORMAT: &str = "wifi-sensing-baseline";
/// Version of the baseline file layout.
pub const BASELINE_VERSION: u32 = 1;
/// Most nodes in one baseline.
pub const MAX_NODES: usize = 256;
/// Most values per node (CSI values of one frame).
pub const MAX_VALUES: usize = 65_536;

/// An empty-room calibration of every node of a stream.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    /// Always [`BASELINE_FORMAT`].
    pub format: String,
    /// Always [`BASELINE_VERSION`].
    pub version: u32,
    /// Software that made it (`wifi-sensing-signal <version>`).
    pub created_by: String,
    /// The device of the capture (its JSON name, e.g. `esp32`, `iwl5300`).
    pub device: String,
    /// One entry per node, ordered by node id.
    pub nodes: Vec<NodeBaseline>,
}

/// The calibration of one node.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeBaseline {
    /// Node id.
    pub node_id: u32,
    /// CSI shape `[rx, tx, subcarriers]` of its frames.
    pub shape: [usize; 3],
    /// Subcarrier index of each column, when the format states them.
    pub subcarriers: Option<Vec<i16>>,
    /// Flat indices (in `[rx][tx][subcarrier]` order) of the values that carry signal.
    pub columns: Vec<usize>,
    /// Mean amplitude shape of the empty room over `columns` (each value over the frame mean).
    pub reference: Vec<f32>,
    /// Noise standard deviation of one shape value in one frame.
    pub noise_sd: f64,
    /// Frames used.
    pub frames: u64,
    /// Duration of the capture, s.
    pub duration_s: f64,
    /// Measured frame rate, Hz.
    pub frame_rate_hz: Option<f64>,
    /// Fraction of frames whose motion ratio exceeded the motion threshold (should be 0 in an
    /// empty room).
    pub motion_fraction: f64,
    /// Largest breathing-band ratio seen (should stay below the breathing threshold).
    pub max_breathing_ratio: Option<f64>,
}

impl NodeBaseline {
    pub(crate) fn columns(&self) -> Columns {
        Columns::new(self.columns.clone(), self.shape[2])
    }
}

fn corrupt(name: &str, field: impl Into<String>, reason: impl Into<String>) -> Error {
    Error::BaselineCorrupt {
        source_name: name.to_string(),
        field: field.into(),
        reason: reason.into(),
    }
}

struct Fields<'a> {
    name: &'a str,
}

impl Fields<'_> {
    fn get<'v>(&self, obj: &'v Value, path: &str, key: &str) -> Result<&'v Value> {
        obj.get(key)
            .ok_or_else(|| corrupt(self.name, join(path, key), "missing"))
    }

    fn u64(&self, obj: &Value, path: &str, key: &str, max: u64) -> Result<u64> {
        let v = self.get(obj, path, key)?;
        let n = v.as_u64().ok_or_else(|| {
            corrupt(
                self.name,
                join(path, key),
                format!("expected a non-negative integer, found {v}"),
            )
        })?;
        if n > max {
            return Err(corrupt(
                self.name,
                join(path, key),
                format!("{n} exceeds the limit {max}"),
            ));
        }
        Ok(n)
    }

    fn f64(&self, v: &Value, field: &str) -> Result<f64> {
        let x = v
            .as_f64()
            .ok_or_else(|| corrupt(self.name, field, format!("expected a number, found {v}")))?;
        if !x.is_finite() {
            return Err(corrupt(self.name, field, "not finite"));
        }
        Ok(x)
    }

    fn string(&self, obj: &Value, path: &str, key: &str) -> Result<String> {
        let v = self.get(obj, path, key)?;
        v.as_str().map(str::to_string).ok_or_else(|| {
            corrupt(
                self.name,
                join(path, key),
                format!("expected a string, found {v}"),
            )
        })
    }

    fn array<'v>(
        &self,
        obj: &'v Value,
        path: &str,
        key: &str,
        max: usize,
    ) -> Result<&'v Vec<Value>> {
        let v = self.get(obj, path, key)?;
        let a = v
            .as_array()
            .ok_or_else(|| corrupt(self.name, join(path, key), "expected an array"))?;
        if a.len() > max {
            return Err(corrupt(
                self.name,
                join(path, key),
                format!("{} entries exceed the limit {max}", a.len()),
            ));
        }
        Ok(a)
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

impl Baseline {
    /// Pretty JSON text of the baseline.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Writes the baseline to `path`.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let p = path.as_ref();
        std::fs::write(p, self.to_json() + "\n").map_err(|e| Error::Io {
            context: format!("cannot write baseline {}", p.display()),
            reason: e.to_string(),
        })
    }

    /// Reads and checks a baseline file.
    pub fn load(path: impl AsRef<Path>) -> Result<Baseline> {
        let p = path.as_ref();
        let meta = std::fs::metadata(p).map_err(|e| Error::Io {
            context: format!("cannot read baseline {}", p.display()),
            reason: e.to_string(),
        })?;
        if meta.len() > 64 << 20 {
            return Err(corrupt(
                &p.display().to_string(),
                "<file>",
                "larger than 64 MiB",
            ));
        }
        let text = std::fs::read_to_string(p).map_err(|e| Error::Io {
            context: format!("cannot read baseline {}", p.display()),
            reason: e.to_string(),
        })?;
        Baseline::from_json_str(&text, &p.display().to_string())
    }

    /// Parses and checks baseline JSON; `name` is used in errors. Every error names the field.
    pub fn from_json_str(text: &str, name: &str) -> Result<Baseline> {
        let root: Value = serde_json::from_str(text)
            .map_err(|e| corrupt(name, "<file>", format!("not JSON: {e}")))?;
        let f = Fields { name };
        if !root.is_object() {
            return Err(corrupt(name, "<file>", "expected a JSON object"));
        }
        let format = f.string(&root, "", "format")?;
        if format != BASELINE_FORMAT {
            return Err(corrupt(
                name,
                "format",
                format!("expected {BASELINE_FORMAT:?}, found {format:?}"),
            ));
        }
        let version = f.u64(&root, "", "version", u64::from(u32::MAX))? as u32;
        if version != BASELINE_VERSION {
            return Err(corrupt(
                name,
                "version",
                format!("version {version} is not supported (this build reads {BASELINE_VERSION})"),
            ));
        }
        let created_by = f.string(&root, "", "created_by")?;
        let device = f.string(&root, "", "device")?;
        let list = f.array(&root, "", "nodes", MAX_NODES)?;
        if list.is_empty() {
            return Err(corrupt(name, "nodes", "no node"));
        }
        let mut nodes: Vec<NodeBaseline> = Vec::with_capacity(list.len());
        for (i, n) in list.iter().enumerate() {
            let p = format!("nodes[{i}]");
            if !n.is_object() {
                return Err(corrupt(name, p, "expected an object"));
            }
            let node_id = f.u64(n, &p, "node_id", u64::from(u32::MAX))? as u32;
            if nodes.iter().any(|m| m.node_id == node_id) {
                return Err(corrupt(
                    name,
                    join(&p, "node_id"),
                    format!("node {node_id} appears twice"),
                ));
            }
            let sh = f.array(n, &p, "shape", 3)?;
            if sh.len() != 3 {
                return Err(corrupt(
                    name,
                    join(&p, "shape"),
                    "expected [rx, tx, subcarriers]",
                ));
            }
            let mut shape = [0usize; 3];
            for (j, v) in sh.iter().enumerate() {
                shape[j] = v
                    .as_u64()
                    .filter(|&x| x > 0 && x <= MAX_VALUES as u64)
                    .ok_or_else(|| {
                        corrupt(
                            name,
                            format!("{p}.shape[{j}]"),
                            format!("expected a count in [1, {MAX_VALUES}], found {v}"),
                        )
                    })? as usize;
            }
            let total = shape.iter().product::<usize>();
            if total > MAX_VALUES {
                return Err(corrupt(
                    name,
                    join(&p, "shape"),
                    format!("{total} values exceed the limit {MAX_VALUES}"),
                ));
            }
            let subcarriers = match f.get(n, &p, "subcarriers")? {
                Value::Null => None,
                Value::Array(a) => {
                    if a.len() != shape[2] {
                        return Err(corrupt(
                            name,
                            join(&p, "subcarriers"),
                            format!("{} indices for {} columns", a.len(), shape[2]),
                        ));
                    }
                    let mut s = Vec::with_capacity(a.len());
                    for (j, v) in a.iter().enumerate() {
                        s.push(v.as_i64().and_then(|x| i16::try_from(x).ok()).ok_or_else(
                            || {
                                corrupt(
                                    name,
                                    format!("{p}.subcarriers[{j}]"),
                                    format!("expected a subcarrier index, found {v}"),
                                )
                            },
                        )?);
                    }
                    Some(s)
                }
                other => {
                    return Err(corrupt(
                        name,
                        join(&p, "subcarriers"),
                        format!("expected an array or null, found {other}"),
                    ))
                }
            };
            let cols = f.array(n, &p, "columns", total)?;
            let mut columns = Vec::with_capacity(cols.len());
            for (j, v) in cols.iter().enumerate() {
                let c = v
                    .as_u64()
                    .filter(|&x| (x as usize) < total)
                    .ok_or_else(|| {
                        corrupt(
                            name,
                            format!("{p}.columns[{j}]"),
                            format!("expected an index below {total}, found {v}"),
                        )
                    })? as usize;
                if columns.last().is_some_and(|&l| l >= c) {
                    return Err(corrupt(
                        name,
                        format!("{p}.columns[{j}]"),
                        "columns must be increasing",
                    ));
                }
                columns.push(c);
            }
            if columns.is_empty() {
                return Err(corrupt(name, join(&p, "columns"), "no column"));
            }
            let refs = f.array(n, &p, "reference", total)?;
            if refs.len() != columns.len() {
                return Err(corrupt(
                    name,
                    join(&p, "reference"),
                    format!("{} values for {} columns", refs.len(), columns.len()),
                ));
            }
            let mut reference = Vec::with_capacity(refs.len());
            for (j, v) in refs.iter().enumerate() {
                let x = f.f64(v, &format!("{p}.reference[{j}]"))?;
                if x < 0.0 {
                    return Err(corrupt(
                        name,
                        format!("{p}.reference[{j}]"),
                        "negative amplitude",
                    ));
                }
                reference.push(x as f32);
            }
            let num = |key: &str| f.f64(f.get(n, &p, key)?, &join(&p, key));
            let opt = |key: &str| -> Result<Option<f64>> {
                match n.get(key) {
                    None | Some(Value::Null) => Ok(None),
                    Some(v) => f.f64(v, &join(&p, key)).map(Some),
                }
            };
            nodes.push(NodeBaseline {
                node_id,
                shape,
                subcarriers,
                columns,
                reference,
                noise_sd: num("noise_sd")?,
                frames: f.u64(n, &p, "frames", u64::MAX)?,
                duration_s: num("duration_s")?,
                frame_rate_hz: opt("frame_rate_hz")?,
                motion_fraction: num("motion_fraction")?,
                max_breathing_ratio: opt("max_breathing_ratio")?,
            });
        }
        Ok(Baseline {
            format,
            version,
            created_by,
            device,
            nodes,
        })
    }

    /// The node's calibration for `frame`, or an error naming the mismatch (device, node set,
    /// CSI shape, subcarrier layout).
    pub fn node_for(&self, frame: &CsiFrame) -> Result<&NodeBaseline> {
        let dev = device_name(frame);
        if dev != self.device {
            return Err(Error::BaselineMismatch {
                what: "device".to_string(),
                baseline: self.device.clone(),
                stream: dev,
            });
        }
        let node = self
            .nodes
            .iter()
            .find(|n| n.node_id == frame.node_id)
            .ok_or_else(|| Error::BaselineMismatch {
                what: "node set".to_string(),
                baseline: format!(
                    "nodes {}",
                    self.nodes
                        .iter()
                        .map(|n| n.node_id.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                stream: format!("node {}", frame.node_id),
            })?;
        let (r, t, s) = frame.shape();
        if node.shape != [r, t, s] {
            return Err(Error::BaselineMismatch {
                what: format!("CSI shape of node {}", node.node_id),
                baseline: format!("{:?}", node.shape),
                stream: format!("{:?}", [r, t, s]),
            });
        }
        if node.subcarriers.as_deref() != frame.subcarriers.as_deref() {
            let show = |s: Option<&[i16]>| match s {
                None => "no subcarrier indices".to_string(),
                Some(s) => format!(
                    "subcarriers {}..{} ({} columns)",
                    s.first().copied().unwrap_or(0),
                    s.last().copied().unwrap_or(0),
                    s.len()
                ),
            };
            return Err(Error::BaselineMismatch {
                what: format!("subcarrier layout of node {}", node.node_id),
                baseline: show(node.subcarriers.as_deref()),
                stream: show(frame.subcarriers.as_deref()),
            });
        }
        Ok(node)
    }
}

/// The JSON name of a frame's device (`esp32`, `iwl5300`, ...).
pub(crate) fn device_name(frame: &CsiFrame) -> String {
    serde_json::to_value(frame.device)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{:?}", frame.device))
}

struct CalNode {
    node_id: u32,
    layout: Layout,
    selector: ColumnSelector,
    cols: Option<Columns>,
    motion: Option<MotionRatio>,
    blocks: Option<BlockStats>,
    interval: IntervalMeter,
    level: LevelTracker,
    xl: Vec<f32>,
    sum: Vec<f64>,
    diff2: f64,
    prev: Vec<f32>,
    n: u64,
    n_diff: u64,
    moving_frames: u64,
    max_breathing: Option<f64>,
    first_ns: i64,
    last_ns: i64,
    skipped: u64,
}

/// Builds a [`Baseline`] from the frames of an empty-room capture.
pub struct Calibrator {
    cfg: EventConfig,
    device: Option<String>,
    nodes: Vec<CalNode>,
    amps: Vec<f32>,
    x: Vec<f32>,
}

impl std::fmt::Debug for Calibrator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Calibrator")
            .field("device", &self.device)
            .field("nodes", &self.nodes.len())
            .finish()
    }
}

impl Calibrator {
    /// A calibrator using the event detector's statistics settings.
    pub fn new(cfg: &EventConfig) -> Result<Self> {
        cfg.validate()?;
        Ok(Calibrator {
            cfg: cfg.clone(),
            device: None,
            nodes: Vec::new(),
            amps: Vec::new(),
            x: Vec::new(),
        })
    }

    /// Adds one frame. Frames of a second device, or frames whose layout differs from the
    /// node's first frame, are refused with an error (a baseline is for one set-up).
    pub fn push(&mut self, frame: &CsiFrame) -> Result<()> {
        let dev = device_name(frame);
        match &self.device {
            None => self.device = Some(dev),
            Some(d) if *d != dev => {
                return Err(Error::BaselineMismatch {
                    what: "device (within the calibration capture)".to_string(),
                    baseline: d.clone(),
                    stream: dev,
                })
            }
            _ => {}
        }
        let idx = match self.nodes.iter().position(|n| n.node_id == frame.node_id) {
            Some(i) => i,
            None => {
                if self.nodes.len() >= MAX_NODES {
                    return Err(Error::TooManyNodes {
                        component: "calibration",
                        limit: MAX_NODES,
                    });
                }
                self.nodes.push(CalNode {
                    node_id: frame.node_id,
                    layout: Layout::of(frame),
                    selector: ColumnSelector::new(),
                    cols: None,
                    motion: None,
                    blocks: None,
                    interval: IntervalMeter::default(),
                    level: LevelTracker::default(),
                    xl: Vec::new(),
                    sum: Vec::new(),
                    diff2: 0.0,
                    prev: Vec::new(),
                    n: 0,
                    n_diff: 0,
                    moving_frames: 0,
                    max_breathing: None,
                    first_ns: frame.timestamp_ns,
                    last_ns: frame.timestamp_ns,
                    skipped: 0,
                });
                self.nodes.len() - 1
            }
        };
        let node = &mut self.nodes[idx];
        if !node.layout.matches(frame) || frame.csi.len() > MAX_VALUES {
            node.skipped += 1;
            return Ok(());
        }
        amplitudes(frame, &mut self.amps);
        let t = frame.timestamp_ns;
        node.interval.push(t);
        node.last_ns = t;
        let Some(cols) = &node.cols else {
            if let Some(c) = node.selector.push(&self.amps, frame.n_subcarriers()) {
                let k = c.index.len();
                node.motion = Some(MotionRatio::new(
                    k,
                    self.cfg.motion_window_s,
                    self.cfg.motion_lag_s,
                ));
                node.blocks = Some(BlockStats::new(
                    k + 1,
                    self.cfg.block_s,
                    self.cfg.breathing_window_s,
                ));
                node.sum = vec![0.0; k];
                node.prev = vec![0.0; k];
                node.cols = Some(c);
            }
            return Ok(());
        };
        let Some(mean) = shape(&self.amps, cols, &mut self.x) else {
            node.skipped += 1;
            return Ok(());
        };
        let k = self.x.len();
        let level = node.level.push_frame(mean, &self.x, node.motion.as_ref());
        node.xl.clear();
        node.xl.extend_from_slice(&self.x);
        node.xl.push(level as f32);
        if node.n > 0 {
            for (p, v) in node.prev.iter().zip(&self.x) {
                node.diff2 += f64::from(v - p).powi(2);
            }
            node.n_diff += 1;
        }
        for ((s, p), v) in node.sum.iter_mut().zip(node.prev.iter_mut()).zip(&self.x) {
            *s += f64::from(*v);
            *p = *v;
        }
        node.n += 1;
        if let Some(m) = &mut node.motion {
            if let Some(r) = m.push(
                t,
                &self.x,
                level,
                node.level.blind(),
                cols,
                node.interval.interval_s(),
            ) {
                if r > self.cfg.motion_enter {
                    node.moving_frames += 1;
                }
            }
        }
        if let Some(b) = &mut node.blocks {
            if b.push(t, &node.xl, node.level.epoch()) && b.full() {
                let all = b.blocks().len();
                if let Some(r) = b.breathing_ratio(
                    k,
                    all,
                    self.cfg.breathing_enter / self.cfg.breathing_level_enter,
                ) {
                    node.max_breathing = Some(node.max_breathing.map_or(r, |m: f64| m.max(r)));
                }
            }
        }
        Ok(())
    }

    /// The baseline; an error when no node had enough frames (at least
    /// [`PROBE_FRAMES`](crate::features::PROBE_FRAMES) + 10).
    pub fn finish(self) -> Result<Baseline> {
        let mut nodes = Vec::new();
        for n in self.nodes {
            let Some(cols) = n.cols else { continue };
            if n.n < 10 {
                continue;
            }
            let k = cols.index.len();
            let reference = n.sum.iter().map(|s| (*s / n.n as f64) as f32).collect();
            let noise_sd = if n.n_diff > 0 {
                (n.diff2 / (2.0 * n.n_diff as f64 * k as f64)).sqrt()
            } else {
                0.0
            };
            let (r, t, s) = n.layout.shape;
            nodes.push(NodeBaseline {
                node_id: n.node_id,
                shape: [r, t, s],
                subcarriers: n.layout.subcarriers,
                columns: cols.index,
                reference,
                noise_sd,
                frames: n.n,
                duration_s: (n.last_ns - n.first_ns) as f64 * 1e-9,
                frame_rate_hz: n.interval.rate_hz(),
                motion_fraction: n.moving_frames as f64 / n.n as f64,
                max_breathing_ratio: n.max_breathing,
            });
        }
        nodes.sort_by_key(|n| n.node_id);
        if nodes.is_empty() {
            return Err(Error::Config(format!(
                "calibration capture too short: no node had {} usable frames",
                crate::features::PROBE_FRAMES + 10
            )));
        }
        Ok(Baseline {
            format: BASELINE_FORMAT.to_string(),
            version: BASELINE_VERSION,
            created_by: format!("wifi-sensing-signal {}", crate::VERSION),
            device: self.device.unwrap_or_default(),
            nodes,
        })
    }
}
