//! Empty-room calibration: the [`Baseline`] file, made by a [`Calibrator`] from an empty-room
//! capture, saved and loaded as versioned JSON.
//!
//! A baseline holds, per node, the CSI layout it was made for (shape and subcarrier indices),
//! the columns that carry signal, the mean amplitude shape of the empty room (the reference of
//! the static presence path, see [`crate::events`]) and how quiet the capture was. It is
//! refused, with an error naming the mismatch, on a stream from another device, with another
//! CSI layout, or with a node it does not know. A corrupt file is refused with an error naming
//! the field. A [`Calibrator`] refuses a capture too short to show that the room is empty
//! ([`Calibrator::min_duration_s`]: 10.8 s at 50 Hz) and one whose own motion or breathing
//! statistics show activity ([`Calibrator::activity`]).
//!
//! ```
//! use wifi_sensing_core::sim::{DeviceProfile, Scenario, Simulator};
//! use wifi_sensing_signal::calibration::{Baseline, Calibrator};
//! use wifi_sensing_signal::events::EventConfig;
//! let sim = Simulator::new(Scenario::preset("empty", 12.0)?, DeviceProfile::esp32(), 1)?;
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
    amplitudes, describe_layouts, layout_key, note_other_shape, shape, temporal_noise_for,
    BlockStats, ColumnSelector, Columns, IntervalMeter, Layout, LayoutKeeper, LevelTracker,
    MotionRatio, PROBE_FRAMES,
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
    /// Noise standard deviation of one shape value in one frame. Recorded for inspection (how
    /// noisy the empty room was), like the fields below; the detector measures its noise from
    /// the stream itself and uses only `columns` and `reference` of a baseline.
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
                            format!(
                                "{} indices, but `shape` says {} subcarriers ({}): one index per subcarrier",
                                a.len(),
                                shape[2],
                                join(&p, "shape")
                            ),
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
            // the statistics are checked for range too: a hand-edited value out of its range
            // is named, not carried into a run
            let ranged = |key: &str, v: f64, lo: f64, hi: f64, what: &str| -> Result<f64> {
                if (lo..=hi).contains(&v) {
                    Ok(v)
                } else {
                    Err(corrupt(name, join(&p, key), format!("{v} is not {what}")))
                }
            };
            let positive = |key: &str, v: Option<f64>| -> Result<Option<f64>> {
                match v {
                    Some(x) if !(x > 0.0 && x.is_finite()) => Err(corrupt(
                        name,
                        join(&p, key),
                        format!("{x} is not a positive number"),
                    )),
                    _ => Ok(v),
                }
            };
            nodes.push(NodeBaseline {
                node_id,
                shape,
                subcarriers,
                columns,
                reference,
                noise_sd: ranged(
                    "noise_sd",
                    num("noise_sd")?,
                    0.0,
                    100.0,
                    "a noise level in [0, 100] (of an amplitude shape normalised to mean 1)",
                )?,
                frames: f.u64(n, &p, "frames", u64::MAX)?,
                duration_s: ranged(
                    "duration_s",
                    num("duration_s")?,
                    0.0,
                    f64::MAX,
                    "a duration (0 or more seconds)",
                )?,
                frame_rate_hz: positive("frame_rate_hz", opt("frame_rate_hz")?)?,
                motion_fraction: ranged(
                    "motion_fraction",
                    num("motion_fraction")?,
                    0.0,
                    1.0,
                    "a fraction in [0, 1]",
                )?,
                max_breathing_ratio: match opt("max_breathing_ratio")? {
                    Some(x) => Some(ranged(
                        "max_breathing_ratio",
                        x,
                        0.0,
                        f64::MAX,
                        "a ratio (0 or more)",
                    )?),
                    None => None,
                },
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
        let node = self.node_of(frame)?;
        node.check_layout(frame)?;
        Ok(node)
    }

    /// The calibration of `frame`'s node, whatever the frame's layout: an error only for
    /// another device or a node the baseline does not cover. A node that mixes layouts is
    /// analysed in its baseline's; [`NodeBaseline::check_layout`] tells whether a frame has it.
    pub fn node_of(&self, frame: &CsiFrame) -> Result<&NodeBaseline> {
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
                stream: format!(
                    "a frame of node {}, which the baseline does not cover (calibrate that node \
                     too, or leave its frames out: the CLI's --keep-nodes)",
                    frame.node_id
                ),
            })?;
        Ok(node)
    }
}

impl NodeBaseline {
    /// `Ok` when `frame` has this node's CSI shape and subcarrier layout, else an error naming
    /// the difference.
    pub fn check_layout(&self, frame: &CsiFrame) -> Result<()> {
        let node = self;
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
                None => "no subcarrier indices (its format does not state them)".to_string(),
                Some(s) => format!("{} subcarrier indices ({})", s.len(), index_runs(s)),
            };
            return Err(Error::BaselineMismatch {
                what: format!("subcarrier layout of node {}", node.node_id),
                baseline: show(node.subcarriers.as_deref()),
                stream: show(frame.subcarriers.as_deref()),
            });
        }
        Ok(())
    }
}

/// Subcarrier indices as runs of consecutive values, `0..=31, -32..=-1` (at most four runs,
/// then how many more).
fn index_runs(s: &[i16]) -> String {
    let mut runs: Vec<(i16, i16)> = Vec::new();
    for &i in s {
        match runs.last_mut() {
            Some((_, end)) if i32::from(*end) + 1 == i32::from(i) => *end = i,
            _ => runs.push((i, i)),
        }
    }
    let mut out: Vec<String> = runs
        .iter()
        .take(4)
        .map(|&(a, b)| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}..={b}")
            }
        })
        .collect();
    if runs.len() > 4 {
        out.push(format!("and {} more runs", runs.len() - 4));
    }
    out.join(", ")
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
    seen_motion: Watch,
    seen_breathing: Watch,
    motion_run: u32,
    windows: u64,
    first_ns: i64,
    last_ns: i64,
    skipped: u64,
    /// Every frame of the node, the column probe's included.
    seen: u64,
    /// Which layout the node keeps when its frames mix layouts (the sensing analyser's rule).
    layouts: LayoutKeeper<(usize, usize, usize, u64)>,
    /// Frames of the kept layout.
    kept: u64,
    /// Shapes of the frames of other layouts (a bounded list, for the report).
    other_shapes: Vec<(usize, usize, usize)>,
}

impl CalNode {
    fn new(frame: &CsiFrame) -> CalNode {
        CalNode {
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
            seen_motion: Watch::default(),
            seen_breathing: Watch::default(),
            motion_run: 0,
            windows: 0,
            first_ns: frame.timestamp_ns,
            last_ns: frame.timestamp_ns,
            skipped: 0,
            seen: 0,
            layouts: LayoutKeeper::default(),
            kept: 0,
            other_shapes: Vec::new(),
        }
    }
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
                self.nodes.push(CalNode::new(frame));
                self.nodes.len() - 1
            }
        };
        let node = &mut self.nodes[idx];
        node.seen += 1;
        if frame.csi.len() > MAX_VALUES {
            node.skipped += 1;
            return Ok(());
        }
        if !node.layout.matches(frame) {
            // a node that mixes layouts keeps one, as the sensing analyser decides (the more
            // common in the column probe, then a lasting change starts it over), so that the
            // baseline has the layout `run --events` analyses the node in
            note_other_shape(&mut node.other_shapes, frame.shape());
            let switch = node.layouts.other(
                layout_key(frame),
                node.kept,
                node.cols.is_none(),
                PROBE_FRAMES as u64,
            );
            if !switch {
                return Ok(());
            }
            let mut fresh = CalNode::new(frame);
            fresh.seen = node.seen;
            fresh.skipped = node.skipped;
            fresh.layouts = std::mem::take(&mut node.layouts);
            fresh.other_shapes = std::mem::take(&mut node.other_shapes);
            note_other_shape(&mut fresh.other_shapes, node.layout.shape);
            *node = fresh;
        }
        node.layouts.kept();
        node.kept += 1;
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
                    temporal_noise_for(frame.device),
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
                let above = r > self.cfg.motion_enter;
                node.motion_run = if above { node.motion_run + 1 } else { 0 };
                // the detector's start rule (`motion_confirm_frames` in a row above
                // `motion_enter`), at the quiet level of an empty room (1)
                let started = node.motion_run >= self.cfg.motion_confirm_frames;
                node.seen_motion.push(t - node.first_ns, r, started);
                if above {
                    node.moving_frames += 1;
                }
            }
        }
        if let Some(b) = &mut node.blocks {
            if b.push(t, &node.xl, node.level.epoch()) && b.full() {
                node.windows += 1;
                let all = b.blocks().len();
                if let Some(r) = b.breathing_ratio(
                    k,
                    all,
                    self.cfg.breathing_enter / self.cfg.breathing_level_enter,
                ) {
                    node.max_breathing = Some(node.max_breathing.map_or(r, |m: f64| m.max(r)));
                    let above = r > self.cfg.breathing_enter;
                    node.seen_breathing.push(t - node.first_ns, r, above);
                }
            }
        }
        Ok(())
    }

    /// The shortest capture a baseline accepts at a steady frame interval of `interval_s`,
    /// s, and what it is made of: the [`PROBE_FRAMES`]-frame
    /// column probe, then one full breathing-band window ([`EventConfig::breathing_window_s`]
    /// in blocks of [`EventConfig::block_s`]), the window over which the event detector
    /// declares a room without motion absent; without it the capture cannot show that nobody
    /// breathes in it. A block closes on the first frame at least `block_s` after its own
    /// first frame, so it holds up to `⌊block_s / interval⌋ + 1` frames when the timestamps
    /// jitter (counted with a 2 % margin on the interval, so that an interval measured a little
    /// long from a few lost frames does not understate it); more dropped frames make it longer
    /// still. 10.8 s at 50 Hz, 13 s at 20 Hz with the defaults.
    ///
    /// ```
    /// # use wifi_sensing_signal::calibration::Calibrator;
    /// # use wifi_sensing_signal::events::EventConfig;
    /// # let cal = Calibrator::new(&EventConfig::default())?;
    /// // 20 Hz, and 20 Hz measured with one frame in 240 lost: 13 s either way
    /// assert!((cal.min_duration_s(0.05).0 - 13.0).abs() < 1e-9);
    /// assert!(cal.min_duration_s(12.0 / 238.0).0 >= 13.0);
    /// # Ok::<(), wifi_sensing_signal::SignalError>(())
    /// ```
    ///
    /// ```
    /// use wifi_sensing_signal::calibration::Calibrator;
    /// use wifi_sensing_signal::events::EventConfig;
    /// let cal = Calibrator::new(&EventConfig::default())?;
    /// let (need_s, _) = cal.min_duration_s(0.02);
    /// assert!((need_s - 10.8).abs() < 1e-9);
    /// # Ok::<(), wifi_sensing_signal::SignalError>(())
    /// ```
    pub fn min_duration_s(&self, interval_s: f64) -> (f64, String) {
        let probe = crate::features::PROBE_FRAMES;
        let blocks = ((self.cfg.breathing_window_s / self.cfg.block_s).round() as usize).max(3);
        let window = blocks as f64 * self.cfg.block_s;
        // a block holds the frames less than `block_s` after its first one: `block_s / interval`
        // or one more when the timestamps jitter around a whole number of intervals (20 Hz:
        // 5 or 6 frames of 0.25 s blocks). A measured interval a little above the nominal
        // one (a few frames lost) must not drop the count below that, hence the 2 % margin.
        let per_block = (1.02 * self.cfg.block_s / interval_s).floor() + 1.0;
        (
            (probe as f64 + blocks as f64 * per_block) * interval_s,
            format!(
                "the {probe}-frame column probe, then one full {window} s breathing-band \
                 window of {blocks} blocks of at least {} s (what shows that nobody breathes \
                 in the room)",
                self.cfg.block_s
            ),
        )
    }

    /// The activity seen so far: per node, motion (the motion ratio above
    /// [`EventConfig::motion_enter`] on [`EventConfig::motion_confirm_frames`] frames in a
    /// row, the event detector's start rule at an empty room's quiet level) and breathing (a
    /// full breathing-band window above [`EventConfig::breathing_enter`]). Empty for a
    /// capture of an empty, still room.
    pub fn activity(&self) -> Vec<Activity> {
        let mut seen = Vec::new();
        for n in &self.nodes {
            for (w, statistic, threshold) in [
                (&n.seen_motion, "motion_ratio", self.cfg.motion_enter),
                (
                    &n.seen_breathing,
                    "breathing_band_ratio",
                    self.cfg.breathing_enter,
                ),
            ] {
                if let Some(first_ns) = w.first_ns {
                    seen.push(Activity {
                        node_id: n.node_id,
                        statistic,
                        threshold,
                        first_s: first_ns as f64 * 1e-9,
                        peak: w.peak,
                        peak_s: w.peak_ns as f64 * 1e-9,
                        fraction: w.above as f64 / w.count.max(1) as f64,
                    });
                }
            }
        }
        seen.sort_by_key(|a| a.node_id);
        seen
    }

    /// The baseline. Refused, with an error naming the node and the numbers, when a node's
    /// capture is shorter than [`min_duration_s`](Self::min_duration_s)
    /// ([`SignalError::CalibrationTooShort`](crate::SignalError::CalibrationTooShort)), or
    /// when its statistics show activity (see [`activity`](Self::activity);
    /// [`SignalError::CalibrationActivity`](crate::SignalError::CalibrationActivity)): a
    /// baseline of an occupied room would later make the static presence path wrong.
    /// [`finish_accepting_activity`](Self::finish_accepting_activity) writes it anyway.
    pub fn finish(self) -> Result<Baseline> {
        let (baseline, seen) = self.finish_accepting_activity()?;
        if !seen.is_empty() {
            return Err(Error::CalibrationActivity { seen });
        }
        Ok(baseline)
    }

    /// Per node (in order of its first frame): the frames skipped because their subcarrier
    /// layout was not the one the node keeps, the node's frames, and how the layouts mixed
    /// (`"also 1x1x128; analysed in 1x1x64"`). Nodes that skipped none are left out.
    ///
    /// ```
    /// use wifi_sensing_signal::calibration::Calibrator;
    /// use wifi_sensing_signal::events::EventConfig;
    /// let cal = Calibrator::new(&EventConfig::default())?;
    /// assert!(cal.layout_skips().is_empty());
    /// # Ok::<(), wifi_sensing_signal::SignalError>(())
    /// ```
    pub fn layout_skips(&self) -> Vec<(u32, u64, u64, String)> {
        self.nodes
            .iter()
            .filter(|n| n.layouts.skipped() > 0)
            .map(|n| {
                (
                    n.node_id,
                    n.layouts.skipped(),
                    n.seen,
                    describe_layouts(n.layout.shape, &n.other_shapes),
                )
            })
            .collect()
    }

    /// The nodes seen so far, in order of their first frame.
    ///
    /// ```
    /// use wifi_sensing_signal::calibration::Calibrator;
    /// use wifi_sensing_signal::events::EventConfig;
    /// let cal = Calibrator::new(&EventConfig::default())?;
    /// assert!(cal.node_ids().is_empty());
    /// # Ok::<(), wifi_sensing_signal::SignalError>(())
    /// ```
    pub fn node_ids(&self) -> Vec<u32> {
        self.nodes.iter().map(|n| n.node_id).collect()
    }

    /// The baseline even when the capture shows activity, with what it showed; still refused
    /// when too short.
    pub fn finish_accepting_activity(self) -> Result<(Baseline, Vec<Activity>)> {
        let seen = self.activity();
        for n in &self.nodes {
            if n.windows == 0 {
                let measured = n.interval.interval_s();
                let (need_s, mut need) =
                    self.min_duration_s(if measured > 0.0 { measured } else { 0.02 });
                if measured <= 0.0 {
                    // one frame (or none timed) has no rate: the figure is for 50 Hz
                    need.push_str("; its frame rate is not measurable, so this is at 50 Hz");
                }
                return Err(Error::CalibrationTooShort {
                    node_id: n.node_id,
                    have_s: (n.last_ns - n.first_ns) as f64 * 1e-9,
                    frames: n.seen,
                    need_s,
                    need,
                });
            }
        }
        let mut nodes = Vec::new();
        for n in self.nodes {
            let Some(cols) = n.cols else { continue };
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
            return Err(Error::Config(
                "calibration capture without a usable frame".to_string(),
            ));
        }
        Ok((
            Baseline {
                format: BASELINE_FORMAT.to_string(),
                version: BASELINE_VERSION,
                created_by: format!("wifi-sensing-signal {}", crate::VERSION),
                device: self.device.unwrap_or_default(),
                nodes,
            },
            seen,
        ))
    }
}

/// One statistic of a calibration capture: how often it was evaluated and above threshold,
/// when first, and its peak (times from the node's first frame, ns).
#[derive(Default)]
struct Watch {
    count: u64,
    above: u64,
    first_ns: Option<i64>,
    peak: f64,
    peak_ns: i64,
}

impl Watch {
    fn push(&mut self, at_ns: i64, value: f64, above: bool) {
        self.count += 1;
        if above {
            self.above += 1;
            self.first_ns.get_or_insert(at_ns);
        }
        if value > self.peak {
            self.peak = value;
            self.peak_ns = at_ns;
        }
    }
}

/// Activity seen in a calibration capture by its own statistics (see
/// [`Calibrator::activity`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Activity {
    /// Node id.
    pub node_id: u32,
    /// The statistic, named as in event records: `motion_ratio` or `breathing_band_ratio`.
    pub statistic: &'static str,
    /// Its threshold ([`EventConfig::motion_enter`] or [`EventConfig::breathing_enter`]).
    pub threshold: f64,
    /// When it first showed activity, s from the node's first frame.
    pub first_s: f64,
    /// Its largest value in the capture.
    pub peak: f64,
    /// When it peaked, s from the node's first frame.
    pub peak_s: f64,
    /// Share of its values above the threshold (per frame for motion, per block for the
    /// breathing window).
    pub fraction: f64,
}

impl Activity {
    /// The findings joined for a message.
    pub(crate) fn list(seen: &[Activity]) -> String {
        seen.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    }
}

impl std::fmt::Display for Activity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = if self.statistic == "motion_ratio" {
            "motion"
        } else {
            "a breathing person"
        };
        write!(
            f,
            "node {}: {what}: {} above its threshold {} from {:.1} s into the capture \
             (peak {:.1} at {:.1} s; {:.0} % of its values above)",
            self.node_id,
            self.statistic,
            self.threshold,
            self.first_s,
            self.peak,
            self.peak_s,
            100.0 * self.fraction
        )
    }
}
