//! [`SensingAnalyser`]: motion and presence events and vital signs of every node of a stream,
//! plus the fused state over nodes, as one pipeline analyser.
//!
//! ```
//! use wifi_sensing_core::sim::{DeviceProfile, Scenario, Simulator};
//! use wifi_sensing_signal::{Sensed, SensingAnalyser, SensingConfig};
//! use wifi_sensing_signal::events::EventKind;
//! let sim = Simulator::new(Scenario::preset("walk", 12.0)?, DeviceProfile::esp32(), 3)?;
//! let mut sensing = SensingAnalyser::new(SensingConfig::default(), None)?;
//! let mut out = Vec::new();
//! for (frame, _truth) in sim {
//!     sensing.push(&frame, &mut out)?;
//! }
//! let started = out.iter().filter(|s| matches!(s, Sensed::Event(e) if e.event == EventKind::MotionStarted)).count();
//! assert_eq!(started, 1, "one walk, one MotionStarted");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use serde::{Deserialize, Serialize};
use wifi_sensing_core::{Analyser, Analysis, CsiFrame, Device, PerNode};

use crate::calibration::Baseline;
use crate::error::{Result, SignalError as Error};
use crate::events::{Event, EventConfig, EventKind, NodeDetector, Scope};
use crate::features::{
    amplitudes, describe_layouts, layout_key, note_other_shape, shape, temporal_noise_for,
    ColumnSelector, Columns, IntervalMeter, Layout, LayoutKeeper, LevelTracker, MotionRatio,
    PROBE_FRAMES,
};
use crate::stages::Notices;
use crate::vitals::{PhaseFeatures, VitalSigns, VitalsConfig, VitalsEstimator};

/// Frame rate below which a smooth-noise node is told that fast movement can look like its
/// noise (a walk's Doppler at 2.4 GHz reaches about 16 Hz, half of this).
const SMOOTH_NOISE_SLOW_HZ: f64 = 32.0;

/// JSON record type of events.
pub const EVENT_KIND: &str = "event";
/// JSON record type of vital-sign estimates (distinct from the ESP32 nodes' own `vitals`).
pub const VITAL_SIGNS_KIND: &str = "vital_signs";
/// Analyser name in the records.
pub const ANALYSER_NAME: &str = "sensing";

/// Frames a node must have sent before it counts towards switching fused events on
/// ([`FusedEvents::Auto`]): the frames its ESP32 noise learning takes.
pub const FUSE_MIN_FRAMES: u64 = 32;

/// When fused (all-node) events are emitted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FusedEvents {
    /// Once at least two nodes of the stream have each sent [`FUSE_MIN_FRAMES`] frames (a
    /// few stray frames of another transmitter, which an ESP32 in passive mode reports as a
    /// node of its own, do not switch fusion on).
    #[default]
    Auto,
    /// Always (also for one node).
    Always,
    /// Never.
    Never,
}

/// Configuration of the [`SensingAnalyser`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SensingConfig {
    /// Motion and presence events; `None` switches them off.
    pub events: Option<EventConfig>,
    /// Vital signs; `None` switches them off.
    pub vitals: Option<VitalsConfig>,
    /// Most distinct nodes per stream. Default 64.
    pub max_nodes: usize,
    /// Fused events. Default `auto`.
    pub fused: FusedEvents,
    /// A node silent for this long no longer counts in the fused state, s. Default 5.
    pub node_timeout_s: f64,
}

impl Default for SensingConfig {
    fn default() -> Self {
        SensingConfig {
            events: Some(EventConfig::default()),
            vitals: Some(VitalsConfig::default()),
            max_nodes: 64,
            fused: FusedEvents::Auto,
            node_timeout_s: 5.0,
        }
    }
}

impl SensingConfig {
    /// Checks every field.
    pub fn validate(&self) -> Result<()> {
        if let Some(e) = &self.events {
            e.validate()?;
        }
        if let Some(v) = &self.vitals {
            v.validate()?;
        }
        if !(1..=65_536).contains(&self.max_nodes) {
            return Err(Error::Config(format!(
                "max_nodes must be in [1, 65536] (got {})",
                self.max_nodes
            )));
        }
        if !(self.node_timeout_s.is_finite() && self.node_timeout_s > 0.0) {
            return Err(Error::Config(format!(
                "node_timeout_s must be a positive number of seconds (got {})",
                self.node_timeout_s
            )));
        }
        Ok(())
    }
}

/// One output of the [`SensingAnalyser`].
#[derive(Clone, Debug, PartialEq)]
pub enum Sensed {
    /// A motion or presence event.
    Event(Event),
    /// A vital-sign estimate of one node.
    VitalSigns {
        /// The node.
        node_id: u32,
        /// The estimate.
        value: VitalSigns,
    },
}

/// Counters of frames the analyser could not use.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SensingStats {
    /// Frames used.
    pub frames: u64,
    /// Frames skipped for their CSI layout: another than the one their node keeps (a node that
    /// mixes layouts keeps its most common one in its first frames), or the old one's when a
    /// lasting change started the node over.
    pub layout_changes: u64,
    /// Frames without usable amplitude (all zero or not finite; skipped).
    pub unusable: u64,
    /// Frames whose timestamp did not advance (given the previous time plus the measured
    /// interval).
    pub untimed: u64,
}

struct NodeSensor {
    node_id: u32,
    layout: Layout,
    selector: ColumnSelector,
    cols: Option<Columns>,
    reference: Option<Vec<f32>>,
    motion: Option<MotionRatio>,
    interval: IntervalMeter,
    level: LevelTracker,
    detector: Option<NodeDetector>,
    vitals: Option<VitalsEstimator>,
    phase: Option<PhaseFeatures>,
    last_t: Option<i64>,
    /// Frames of this node seen, those of the kept layout since the node's (re)start, the
    /// layout kept (and the frames skipped for theirs), and the other shapes seen (the first
    /// few).
    seen: u64,
    kept: u64,
    /// Nexmon packets of one transmission taken as samples.
    nexmon: crate::spectral::NexmonMix,
    /// `vital_signs` records given.
    vitals_records: u64,
    layouts: LayoutKeeper<(usize, usize, usize, u64)>,
    other_shapes: Vec<(usize, usize, usize)>,
}

/// Motion and presence events and vital signs of every node; see the [module docs](self).
pub struct SensingAnalyser {
    cfg: SensingConfig,
    baseline: Option<Baseline>,
    nodes: PerNode<NodeSensor>,
    stats: SensingStats,
    amps: Vec<f32>,
    x: Vec<f32>,
    xl: Vec<f32>,
    events: Vec<Event>,
    vitals: Vec<VitalSigns>,
    sensed: Vec<Sensed>,
    fused_moving: bool,
    fused_present: bool,
    fused_on: bool,
    /// Every node moving or present during the current fused motion and presence (named by
    /// the events that end them), sorted.
    fused_moving_nodes: Vec<u32>,
    fused_present_nodes: Vec<u32>,
    notices: Option<Notices>,
}

impl std::fmt::Debug for SensingAnalyser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SensingAnalyser")
            .field("cfg", &self.cfg)
            .field("nodes", &self.nodes.len())
            .field("stats", &self.stats)
            .finish()
    }
}

impl SensingAnalyser {
    /// Validates the configuration; `baseline` is an explicit empty-room calibration.
    pub fn new(cfg: SensingConfig, baseline: Option<Baseline>) -> Result<Self> {
        cfg.validate()?;
        let fused_on = cfg.fused == FusedEvents::Always;
        Ok(SensingAnalyser {
            nodes: PerNode::new(cfg.max_nodes),
            cfg,
            baseline,
            stats: SensingStats::default(),
            amps: Vec::new(),
            x: Vec::new(),
            xl: Vec::new(),
            events: Vec::new(),
            vitals: Vec::new(),
            sensed: Vec::new(),
            fused_moving: false,
            fused_present: false,
            fused_on,
            fused_moving_nodes: Vec::new(),
            fused_present_nodes: Vec::new(),
            notices: None,
        })
    }

    /// Reports to `notices`, at the end of the stream, the frames it could not use: those of a
    /// node that mixes CSI layouts (each node keeps its most common layout in its first
    /// frames; another one lasting as long as the column probe starts it over; with a
    /// baseline, the baseline's layout).
    ///
    /// ```
    /// use wifi_sensing_signal::stages::Notices;
    /// use wifi_sensing_signal::{SensingAnalyser, SensingConfig};
    /// let notices = Notices::default();
    /// let analyser = SensingAnalyser::new(SensingConfig::default(), None)?.with_notices(notices.clone());
    /// # drop(analyser);
    /// assert!(notices.take().is_empty());
    /// # Ok::<(), wifi_sensing_signal::SignalError>(())
    /// ```
    pub fn with_notices(mut self, notices: Notices) -> Self {
        self.notices = Some(notices);
        self
    }

    /// Frame counters.
    pub fn stats(&self) -> &SensingStats {
        &self.stats
    }

    /// Current motion state of a node (`None` for an unknown node).
    pub fn moving(&self, node: u32) -> Option<bool> {
        self.nodes
            .get(node)
            .and_then(|n| n.detector.as_ref().map(|d| d.moving()))
    }

    /// The last motion statistic of a node: the excess change ratio over its quiet level (about
    /// 1 for a still scene; motion starts above `motion_enter`). `None` for an unknown node or
    /// during its first frames (the column probe).
    ///
    /// ```
    /// use wifi_sensing_signal::{SensingAnalyser, SensingConfig};
    /// let a = SensingAnalyser::new(SensingConfig::default(), None)?;
    /// assert_eq!(a.motion_statistic(0), None);
    /// # Ok::<(), wifi_sensing_signal::SignalError>(())
    /// ```
    pub fn motion_statistic(&self, node: u32) -> Option<f64> {
        self.nodes
            .get(node)
            .and_then(|n| n.detector.as_ref().map(|d| d.motion_ratio()))
    }

    /// Current presence of a node (`None` while unknown: warm-up, or an unknown node).
    pub fn present(&self, node: u32) -> Option<bool> {
        self.nodes
            .get(node)
            .and_then(|n| n.detector.as_ref().and_then(|d| d.present()))
    }

    fn make_node(&self, frame: &CsiFrame) -> Result<NodeSensor> {
        // with a baseline, the node is analysed in the baseline's layout whatever the layout
        // of its first frame (frames of other layouts are skipped and counted)
        let (cols, reference, layout) = match &self.baseline {
            Some(b) => {
                let nb = b.node_of(frame)?;
                let [r, t, k] = nb.shape;
                (
                    Some(nb.columns()),
                    Some(nb.reference.clone()),
                    Layout {
                        shape: (r, t, k),
                        subcarriers: nb.subcarriers.clone(),
                    },
                )
            }
            None => (None, None, Layout::of(frame)),
        };
        let mut n = NodeSensor {
            node_id: frame.node_id,
            layout,
            selector: ColumnSelector::new(),
            cols: None,
            reference,
            motion: None,
            interval: IntervalMeter::default(),
            level: LevelTracker::default(),
            detector: None,
            vitals: None,
            phase: None,
            last_t: None,
            seen: 0,
            kept: 0,
            nexmon: crate::spectral::NexmonMix::default(),
            vitals_records: 0,
            layouts: LayoutKeeper::default(),
            other_shapes: Vec::new(),
        };
        if let Some(c) = cols {
            init_node(&self.cfg, &mut n, c, frame.device);
        }
        Ok(n)
    }

    /// Analyses one frame, appending events and estimates to `out`.
    pub fn push(&mut self, frame: &CsiFrame, out: &mut Vec<Sensed>) -> Result<()> {
        if self.nodes.get(frame.node_id).is_none() {
            let n = self.make_node(frame)?;
            self.nodes
                .get_or_insert_with(frame.node_id, || n)
                .map_err(|_| Error::TooManyNodes {
                    component: ANALYSER_NAME,
                    limit: self.cfg.max_nodes,
                })?;
        }
        let Some(node) = self.nodes.get_mut(frame.node_id) else {
            return Ok(());
        };
        node.seen += 1;
        node.nexmon.observe(frame);
        if node.seen == FUSE_MIN_FRAMES && !self.fused_on && self.cfg.fused == FusedEvents::Auto {
            self.fused_on = self
                .nodes
                .iter()
                .filter(|(_, n)| n.seen >= FUSE_MIN_FRAMES)
                .count()
                >= 2;
            if self.fused_on {
                // a state already under way gets its fused start now, so that every fused
                // end has its start
                self.fused_moving = false;
                self.fused_present = false;
                self.fused_moving_nodes.clear();
                self.fused_present_nodes.clear();
            }
        }
        let Some(node) = self.nodes.get_mut(frame.node_id) else {
            return Ok(());
        };
        if !node.layout.matches(frame) {
            // Another layout: the node keeps one (see `LayoutKeeper`; the column probe is its
            // warm-up). With a baseline the node keeps the baseline's layout.
            let shape = frame.shape();
            note_other_shape(&mut node.other_shapes, shape);
            let (warming_up, warmup) = match &self.baseline {
                Some(b) => {
                    // a baseline of another layout altogether: said once enough frames show
                    // it, rather than skipping the whole stream
                    if node.kept == 0 && node.seen >= PROBE_FRAMES as u64 {
                        if let Ok(nb) = b.node_of(frame) {
                            nb.check_layout(frame)?;
                        }
                    }
                    (false, u64::MAX)
                }
                None => (node.cols.is_none(), PROBE_FRAMES as u64),
            };
            let before = node.layouts.skipped();
            let switch = node
                .layouts
                .other(layout_key(frame), node.kept, warming_up, warmup);
            self.stats.layout_changes += node.layouts.skipped() - before;
            if !switch {
                return Ok(());
            }
            // start the node over in the new layout, keeping its layout counts
            let old_shape = node.layout.shape;
            let (seen, layouts, mut other_shapes) = (
                node.seen,
                std::mem::take(&mut node.layouts),
                std::mem::take(&mut node.other_shapes),
            );
            let kept_over = (node.nexmon, node.vitals_records);
            note_other_shape(&mut other_shapes, old_shape);
            // every start gets its end: close what the old layout's analysis had open
            if let (Some(d), Some(last)) = (node.detector.as_mut(), node.last_t) {
                let mut closed = Vec::new();
                d.close_for_restart(last, &mut closed);
                out.extend(closed.into_iter().map(Sensed::Event));
            }
            let mut fresh = self.make_node(frame)?;
            fresh.seen = seen;
            fresh.layouts = layouts;
            fresh.other_shapes = other_shapes;
            (fresh.nexmon, fresh.vitals_records) = kept_over;
            let Some(node) = self.nodes.get_mut(frame.node_id) else {
                return Ok(());
            };
            *node = fresh;
        }
        let Some(node) = self.nodes.get_mut(frame.node_id) else {
            return Ok(());
        };
        node.layouts.kept();
        node.kept += 1;
        amplitudes(frame, &mut self.amps);
        // time: the frames' clock; a timestamp that does not advance gets the measured interval
        let mut t = frame.timestamp_ns;
        if let Some(l) = node.last_t {
            if t <= l {
                let step = (node.interval.interval_s() * 1e9).round() as i64;
                t = l + step.max(1_000_000);
                self.stats.untimed += 1;
            }
        }
        node.last_t = Some(t);
        node.interval.push(t);
        if node.cols.is_none() {
            if let Some(c) = node.selector.push(&self.amps, frame.n_subcarriers()) {
                init_node(&self.cfg, node, c, frame.device);
            }
            return Ok(());
        }
        let Some(cols) = &node.cols else {
            return Ok(());
        };
        let Some(mean) = shape(&self.amps, cols, &mut self.x) else {
            self.stats.unusable += 1;
            return Ok(());
        };
        self.stats.frames += 1;
        let level = node.level.push_frame(mean, &self.x, node.motion.as_ref());
        self.xl.clear();
        self.xl.extend_from_slice(&self.x);
        self.xl.push(level as f32);
        let ratio = node.motion.as_mut().and_then(|m| {
            m.push(
                t,
                &self.x,
                level,
                node.level.blind(),
                cols,
                node.interval.interval_s(),
            )
            .map(|r| {
                (
                    r,
                    m.hold_ratio(),
                    m.window_start_ns().unwrap_or(t),
                    m.window_frames() as u64,
                )
            })
        });
        self.events.clear();
        let moving = if let Some(d) = &mut node.detector {
            d.push(t, &self.xl, ratio, node.level.epoch(), &mut self.events);
            d.moving()
        } else {
            let thr = self.cfg.vitals.as_ref().map_or(2.0, |v| v.motion_ratio);
            ratio.is_some_and(|r| r.0 > thr)
        };
        if let Some(v) = &mut node.vitals {
            // The vital-sign estimator takes the compensated level (`xl` as built above) and
            // screens what is left of gain steps on its own grid (see the `vitals` docs).
            self.vitals.clear();
            if let Some(p) = &mut node.phase {
                p.push(frame, &mut self.xl);
            }
            v.push(t, &self.xl, moving, &mut self.vitals);
            node.vitals_records += self.vitals.len() as u64;
            for value in self.vitals.drain(..) {
                out.push(Sensed::VitalSigns {
                    node_id: frame.node_id,
                    value,
                });
            }
        }
        let fresh: Vec<Event> = self.events.drain(..).collect();
        for e in &fresh {
            out.push(Sensed::Event(e.clone()));
        }
        if self.cfg.events.is_some() {
            self.fuse(t, &fresh, out);
        }
        Ok(())
    }

    fn fuse(&mut self, t: i64, fresh: &[Event], out: &mut Vec<Sensed>) {
        let timeout = (self.cfg.node_timeout_s * 1e9) as i64;
        let live = |n: &NodeSensor| n.last_t.is_some_and(|l| t - l <= timeout);
        let moving = |n: &NodeSensor| live(n) && n.detector.as_ref().is_some_and(|d| d.moving());
        let present = |n: &NodeSensor| {
            live(n)
                && n.detector
                    .as_ref()
                    .is_some_and(|d| d.present() == Some(true))
        };
        // (no allocation per frame: node lists are only made for an event)
        let nodes = &self.nodes;
        let ids = |f: &dyn Fn(&NodeSensor) -> bool| -> Vec<u32> {
            nodes
                .iter()
                .filter(|(_, n)| f(n))
                .map(|(_, n)| n.node_id)
                .collect()
        };
        let now_moving = nodes.iter().any(|(_, n)| moving(n));
        let now_present = nodes.iter().any(|(_, n)| present(n));
        let on = self.fused_on;
        let mut emit = |kind: EventKind, nodes: Vec<u32>| {
            if !on {
                return;
            }
            let base = fresh.iter().find(|e| e.event == kind);
            let mut e = match base {
                Some(b) => b.clone(),
                None => Event {
                    event: kind,
                    scope: Scope::Fused,
                    timestamp_ns: t,
                    node_id: None,
                    confidence: 1.0,
                    statistic: crate::events::Statistic::FusedState,
                    value: 0.0,
                    threshold: 0.0,
                    evidence: crate::events::Evidence {
                        start_ns: t,
                        end_ns: t,
                        frames: 0,
                    },
                    nodes: Vec::new(),
                },
            };
            e.scope = Scope::Fused;
            e.node_id = None;
            e.timestamp_ns = t;
            e.nodes = nodes;
            out.push(Sensed::Event(e));
        };
        // the order of a node's own events at one frame: motion, then the presence it starts
        if now_moving && !self.fused_moving {
            emit(EventKind::MotionStarted, ids(&moving));
        }
        if now_present && !self.fused_present {
            emit(EventKind::PresenceStarted, ids(&present));
        }
        if !now_moving && self.fused_moving {
            emit(
                EventKind::MotionSettled,
                std::mem::take(&mut self.fused_moving_nodes),
            );
        }
        if !now_present && self.fused_present {
            emit(
                EventKind::PresenceEnded,
                std::mem::take(&mut self.fused_present_nodes),
            );
        }
        for (_, n) in self.nodes.iter() {
            for (is, episode) in [
                (moving(n), &mut self.fused_moving_nodes),
                (present(n), &mut self.fused_present_nodes),
            ] {
                if let (true, Err(i)) = (is, episode.binary_search(&n.node_id)) {
                    episode.insert(i, n.node_id);
                }
            }
        }
        self.fused_moving = now_moving;
        self.fused_present = now_present;
    }
}

fn init_node(cfg: &SensingConfig, n: &mut NodeSensor, cols: Columns, device: Device) {
    let k = cols.index.len();
    let d = EventConfig::default();
    let lag = cfg
        .events
        .as_ref()
        .map_or(d.motion_lag_s, |e| e.motion_lag_s);
    let win = cfg
        .events
        .as_ref()
        .map_or(d.motion_window_s, |e| e.motion_window_s);
    n.motion = Some(MotionRatio::new(k, win, lag, temporal_noise_for(device)));
    n.detector = cfg
        .events
        .as_ref()
        .map(|e| NodeDetector::new(e, n.node_id, k, n.reference.take()));
    n.phase = cfg
        .vitals
        .as_ref()
        .filter(|v| v.phase_features)
        .and_then(|_| PhaseFeatures::new(n.layout.shape, &cols));
    let extra = n.phase.as_ref().map_or(0, PhaseFeatures::len);
    // the receive link (antenna pair) of each selected value, for the smooth basis
    let n_sc = n.layout.shape.2.max(1);
    let link: Vec<usize> = cols.index.iter().map(|j| j / n_sc).collect();
    n.vitals = cfg
        .vitals
        .as_ref()
        .map(|v| VitalsEstimator::new(v, &link, extra));
    n.cols = Some(cols);
}

/// Wraps a sensed value in a pipeline [`Analysis`] record (type `event` or `vital_signs`).
pub fn to_analysis(s: Sensed) -> Analysis {
    match s {
        Sensed::Event(e) => Analysis::new(ANALYSER_NAME, EVENT_KIND, e.timestamp_ns, e.node_id, e),
        Sensed::VitalSigns { node_id, value } => Analysis::new(
            ANALYSER_NAME,
            VITAL_SIGNS_KIND,
            value.window_end_ns,
            Some(node_id),
            value,
        ),
    }
}

impl Analyser for SensingAnalyser {
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
    fn name(&self) -> &str {
        ANALYSER_NAME
    }

    fn analyse(
        &mut self,
        frame: &CsiFrame,
        out: &mut Vec<Analysis>,
    ) -> wifi_sensing_core::Result<()> {
        let mut sensed = std::mem::take(&mut self.sensed);
        let r = self.push(frame, &mut sensed);
        out.extend(sensed.drain(..).map(to_analysis));
        self.sensed = sensed;
        r.map_err(Into::into)
    }

    fn finish(&mut self, _out: &mut Vec<Analysis>) -> wifi_sensing_core::Result<()> {
        if self.baseline.is_some() {
            // a node none of whose frames had its baseline's layout was not analysed at all
            if let Some((id, n)) = self.nodes.iter().find(|(_, n)| n.kept == 0 && n.seen > 0) {
                let (r, t, k) = n.layout.shape;
                return Err(Error::BaselineMismatch {
                    what: format!("CSI layout of node {id}"),
                    baseline: format!("[{r}, {t}, {k}]"),
                    stream: format!(
                        "none of its {} frames in that layout (it has {})",
                        n.seen,
                        if n.other_shapes.iter().all(|s| *s == n.layout.shape) {
                            "other subcarrier indices".to_string()
                        } else {
                            n.other_shapes
                                .iter()
                                .filter(|s| **s != n.layout.shape)
                                .map(|(r, t, k)| format!("{r}x{t}x{k}"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        }
                    ),
                }
                .into());
            }
        }
        let Some(notices) = &self.notices else {
            return Ok(());
        };
        for (id, n) in self.nodes.iter() {
            if let (Some(v), 0, true) = (&self.cfg.vitals, n.vitals_records, n.seen > 0) {
                notices.push(format!(
                    "{ANALYSER_NAME} (--vitals): node {id}: no vital_signs record: its frames \
                     span less than the {} s between records (an estimate needs about {} s \
                     without motion)",
                    v.hop_s, v.min_window_s
                ));
            }
            if n.nexmon.mixed() {
                notices.push(format!(
                    "{ANALYSER_NAME} (--events/--vitals): node {id}: its Nexmon packets come from \
                     several (receive core, spatial stream) pairs of the same transmissions, \
                     read as successive samples of one series: the frame rate is too high and \
                     the series alternates between antennas, so its events and vital signs are \
                     not reliable; --nexmon-group reads each transmission as one frame"
                ));
            }
            // a smooth-noise node at a low frame rate: fast movement looks like its noise
            let smooth = n.motion.as_ref().is_some_and(MotionRatio::smooth_noise);
            if let (true, Some(rate)) = (smooth, n.interval.rate_hz()) {
                if rate < SMOOTH_NOISE_SLOW_HZ {
                    notices.push(format!(
                        "{ANALYSER_NAME} (--events/--vitals): node {id}: its noise is smooth \
                         across subcarriers (as on real ESP32 chips) and it sends {rate:.0} \
                         frames/s: a movement whose channel changes about as fast as that (a \
                         walk at 2.4 GHz, below about {SMOOTH_NOISE_SLOW_HZ:.0} frames/s) looks \
                         like that noise and is not reported as motion; a higher frame rate helps"
                    ));
                }
            }
            if n.layouts.skipped() == 0 {
                continue;
            }
            let how = describe_layouts(n.layout.shape, &n.other_shapes);
            let policy = if self.baseline.is_some() {
                "each node is analysed in its baseline's layout"
            } else {
                "a node that mixes layouts is analysed in its most common one in its first frames"
            };
            notices.push(format!(
                "{ANALYSER_NAME} (--events/--vitals): node {id}: {} of {} frames skipped for their \
                 subcarrier layout ({how}); {policy}",
                n.layouts.skipped(),
                n.seen,
            ));
        }
        Ok(())
    }

    fn reset(&mut self) {
        self.nodes.clear();
        self.stats = SensingStats::default();
        self.fused_moving = false;
        self.fused_present = false;
        self.fused_on = self.cfg.fused == FusedEvents::Always;
        self.fused_moving_nodes.clear();
        self.fused_present_nodes.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Statistic;
    use wifi_sensing_core::sim::{DeviceProfile, Scenario, Simulator};

    fn walk() -> Vec<CsiFrame> {
        let sim = Simulator::new(
            Scenario::preset("walk", 12.0).unwrap(),
            DeviceProfile::esp32(),
            3,
        )
        .unwrap();
        sim.map(|(f, _)| f).collect()
    }

    /// An ESP32 empty room at `rate` Hz whose common gain jitters from frame to frame (as real
    /// ESP32 chips do): the node's noise is learnt as smooth, and below 32 frames/s the end
    /// says that fast movement can look like it; at 50 frames/s it does not.
    #[test]
    fn a_slow_smooth_noise_node_is_told_about_fast_movement() {
        for (rate, told) in [(11.0, true), (50.0, false)] {
            let mut sc = Scenario::preset("empty", 30.0).unwrap();
            sc.rate_hz = rate;
            let sim = Simulator::new(sc, DeviceProfile::esp32(), 5).unwrap();
            let notices = Notices::default();
            let mut a = SensingAnalyser::new(SensingConfig::default(), None)
                .unwrap()
                .with_notices(notices.clone());
            let mut out = Vec::new();
            let mut s = 99u64;
            let mut moving = 0;
            for (mut f, _) in sim {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1);
                let g = 1.0 + 0.3 * (((s >> 33) as f32 / (1u64 << 31) as f32) - 0.5);
                f.csi.mapv_inplace(|c| c * g);
                a.push(&f, &mut out).unwrap();
                moving += u32::from(a.moving(f.node_id) == Some(true));
            }
            a.finish(&mut Vec::new()).unwrap();
            let said = notices.take();
            assert_eq!(moving, 0, "rate {rate}: the jitter is not motion");
            assert_eq!(
                said.iter()
                    .any(|n| n.contains("its noise is smooth across subcarriers")),
                told,
                "rate {rate}: {said:?}"
            );
        }
    }

    /// The `mixed` preset's frames on node 1, and the same frames as node 2 (all of them, or
    /// only `stray` of them, as an ESP32 in passive mode reports a few frames of another
    /// transmitter), through one analyser; its fused events.
    fn fused_events(stray: Option<usize>) -> Vec<Event> {
        let sim = Simulator::new(
            Scenario::preset("mixed", 40.0).unwrap(),
            DeviceProfile::esp32(),
            11,
        )
        .unwrap();
        let mut a = SensingAnalyser::new(SensingConfig::default(), None).unwrap();
        let mut out = Vec::new();
        for (i, (mut f, _)) in sim.enumerate() {
            f.node_id = 1;
            a.push(&f, &mut out).unwrap();
            if stray.is_none_or(|n| i % 200 == 100 && i / 200 < n) {
                f.node_id = 2;
                a.push(&f, &mut out).unwrap();
            }
        }
        a.finish(&mut Vec::new()).unwrap();
        out.into_iter()
            .filter_map(|s| match s {
                Sensed::Event(e) if e.scope == Scope::Fused => Some(e),
                _ => None,
            })
            .collect()
    }

    /// Fused events name their nodes: the ones that start a state, and every node that was in
    /// it by the event that ends it.
    #[test]
    fn fused_events_name_their_nodes() {
        let fused = fused_events(None);
        let kinds: Vec<_> = fused.iter().map(|e| e.event).collect();
        assert!(
            kinds.contains(&EventKind::MotionStarted) && kinds.contains(&EventKind::MotionSettled),
            "{kinds:?}"
        );
        for e in &fused {
            assert_eq!(e.node_id, None);
            match e.event {
                // the node whose frame came first starts the state
                EventKind::MotionStarted | EventKind::PresenceStarted => {
                    assert_eq!(e.nodes, [1], "{e:?}")
                }
                _ => assert_eq!(e.nodes, [1, 2], "{e:?}"),
            }
        }
    }

    /// Fused events at one instant come in the order of the node events that make them: a
    /// motion's start, then the presence it starts.
    #[test]
    fn fused_events_keep_the_order_of_node_events() {
        let frames = walk();
        let mut a = SensingAnalyser::new(SensingConfig::default(), None).unwrap();
        let mut out = Vec::new();
        for f in &frames {
            for node in [1, 2] {
                let mut f = f.clone();
                f.node_id = node;
                a.push(&f, &mut out).unwrap();
            }
        }
        let at = |scope: Scope, t: i64| -> Vec<EventKind> {
            out.iter()
                .filter_map(|s| match s {
                    Sensed::Event(e)
                        if e.scope == scope && e.timestamp_ns == t && e.node_id != Some(2) =>
                    {
                        Some(e.event)
                    }
                    _ => None,
                })
                .collect()
        };
        let mut both = 0;
        for s in &out {
            if let Sensed::Event(e) = s {
                if e.scope == Scope::Fused {
                    let (node, fused) = (
                        at(Scope::Node, e.timestamp_ns),
                        at(Scope::Fused, e.timestamp_ns),
                    );
                    if node.len() == 2 {
                        both += 1;
                        assert_eq!(node, fused, "{out:?}");
                    }
                }
            }
        }
        assert!(both > 0, "no instant with two node events: {out:?}");
    }

    /// A second node that joins while the first is moving: fusion starts with a fused start
    /// of the state under way, so every fused end has its start.
    #[test]
    fn a_late_node_gets_fused_starts_for_the_states_under_way() {
        let frames = walk();
        let mut a = SensingAnalyser::new(SensingConfig::default(), None).unwrap();
        let mut out = Vec::new();
        let join = frames.len() / 2;
        for (i, f) in frames.iter().enumerate() {
            let mut f = f.clone();
            f.node_id = 1;
            a.push(&f, &mut out).unwrap();
            if i >= join {
                f.node_id = 2;
                a.push(&f, &mut out).unwrap();
            }
        }
        assert_eq!(a.moving(1), Some(true), "node 1 walks when node 2 joins");
        // the fused start of the state under way names what fired it: no node statistic
        let late = out
            .iter()
            .find_map(|s| match s {
                Sensed::Event(e)
                    if e.scope == Scope::Fused && e.event == EventKind::MotionStarted =>
                {
                    Some(e.clone())
                }
                _ => None,
            })
            .unwrap();
        assert_eq!(late.statistic, Statistic::FusedState, "{late:?}");
        assert_eq!((late.value, late.evidence.frames), (0.0, 0), "{late:?}");
        let fused: Vec<EventKind> = out
            .iter()
            .filter_map(|s| match s {
                Sensed::Event(e) if e.scope == Scope::Fused => Some(e.event),
                _ => None,
            })
            .collect();
        for pair in [
            [EventKind::MotionStarted, EventKind::MotionSettled],
            [EventKind::PresenceStarted, EventKind::PresenceEnded],
        ] {
            let seq: Vec<_> = fused.iter().filter(|k| pair.contains(k)).collect();
            assert_eq!(seq.first(), Some(&&pair[0]), "{fused:?}");
            for (i, k) in seq.iter().enumerate() {
                assert_eq!(**k, pair[i % 2], "{fused:?}");
            }
        }
    }

    /// Five stray frames of a second node do not switch fused events on.
    #[test]
    fn stray_frames_of_another_node_do_not_switch_fusion_on() {
        let fused = fused_events(Some(5));
        assert!(fused.is_empty(), "{fused:?}");
    }

    /// The frame with only its first `k` subcarriers: another layout.
    fn narrow(f: &CsiFrame, k: usize) -> CsiFrame {
        let mut g = f.clone();
        let (r, t, _) = f.csi.dim();
        g.csi = ndarray::Array3::from_shape_fn((r, t, k), |(a, b, c)| f.csi[[a, b, c]]);
        g.subcarriers = f.subcarriers.as_ref().map(|v| v[..k].to_vec());
        g
    }

    fn started(out: &[Sensed]) -> usize {
        out.iter()
            .filter(|s| matches!(s, Sensed::Event(e) if e.event == EventKind::MotionStarted))
            .count()
    }

    /// A node that mixes layouts frame by frame (one frame in five narrower, the first one
    /// too, as RuView ESP32 nodes do) is analysed in its common layout: it was analysed in
    /// its first frame's and skipped the other four in five.
    #[test]
    fn a_node_that_mixes_layouts_keeps_its_common_one() {
        let frames = walk();
        let k = frames[0].n_subcarriers() / 2;
        let notices = Notices::default();
        let mut a = SensingAnalyser::new(SensingConfig::default(), None)
            .unwrap()
            .with_notices(notices.clone());
        let mut out = Vec::new();
        let mut rare = 0u64;
        for (i, f) in frames.iter().enumerate() {
            if i % 5 == 0 {
                rare += 1;
                a.push(&narrow(f, k), &mut out).unwrap();
            }
            a.push(f, &mut out).unwrap();
        }
        assert_eq!(started(&out), 1, "one walk, one MotionStarted");
        // every rare frame, and the first common one (seen while the rare layout still led)
        assert_eq!(a.stats().layout_changes, rare + 1);
        a.finish(&mut Vec::new()).unwrap();
        let said = notices.take();
        let n = frames.len() as u64 + rare;
        let full = frames[0].shape();
        let want = format!(
            "node {}: {} of {n} frames skipped for their subcarrier layout (also 1x1x{k}; analysed in {}x{}x{})",
            frames[0].node_id,
            rare + 1,
            full.0,
            full.1,
            full.2
        );
        assert!(
            said.len() == 1 && said[0].contains(&want),
            "{said:?}\n{want}"
        );
    }

    /// A change that lasts (as long as the column probe) starts the node over in the new
    /// layout, and it is analysed again.
    #[test]
    fn a_lasting_layout_change_starts_the_node_over() {
        let frames = walk();
        let k = frames[0].n_subcarriers() / 2;
        let mut a = SensingAnalyser::new(SensingConfig::default(), None).unwrap();
        let mut out = Vec::new();
        let half = frames.len() / 4;
        for f in &frames[..half] {
            a.push(f, &mut out).unwrap();
        }
        assert!(a.motion_statistic(frames[0].node_id).is_some());
        let before = out.len();
        for f in &frames[half..] {
            a.push(&narrow(f, k), &mut out).unwrap();
        }
        assert!(
            started(&out[before..]) >= 1,
            "the walk is seen in the new layout"
        );
        // the new layout's frames until the change had lasted (the old layout's were
        // analysed, so they are not counted as skipped)
        assert_eq!(a.stats().layout_changes, PROBE_FRAMES as u64 - 1);
        // the walk was under way at the change: the old layout's motion and presence are
        // closed at the change, so node events alternate start, end, start...
        let node: Vec<&Event> = out
            .iter()
            .filter_map(|s| match s {
                Sensed::Event(e) if e.scope == Scope::Node => Some(e),
                _ => None,
            })
            .collect();
        let restarted: Vec<_> = node
            .iter()
            .filter(|e| e.statistic == Statistic::NodeRestarted)
            .map(|e| e.event)
            .collect();
        assert_eq!(
            restarted,
            [EventKind::MotionSettled, EventKind::PresenceEnded],
            "{node:?}"
        );
        for pair in [
            [EventKind::MotionStarted, EventKind::MotionSettled],
            [EventKind::PresenceStarted, EventKind::PresenceEnded],
        ] {
            let seq: Vec<_> = node
                .iter()
                .map(|e| e.event)
                .filter(|k| pair.contains(k))
                .collect();
            for (i, k) in seq.iter().enumerate() {
                assert_eq!(*k, pair[i % 2], "{seq:?}");
            }
        }
    }
}
