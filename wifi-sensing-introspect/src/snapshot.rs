//! The `introspection` analyser: one typed [`IntrospectionSnapshot`] per accepted frame and
//! node, saying which signatures the stream is matching right now (and how far into them) and
//! what dynamical regime it is in.
//!
//! It is a tap parallel to the windowed event path (ADR-099): it never waits for a window; each
//! frame updates the node's feature extractor, every signature's streaming matcher
//! ([`SpringMatcher`]) and the dynamics tracker, then emits a snapshot (every frame, or every
//! `every`-th frame for consumers that want fewer lines; the matching itself runs on every
//! frame either way). Frames without usable features (no amplitude, a chain missing) are
//! counted in [`IntrospectionAnalyser::skipped`] and produce no snapshot. A stream whose feature
//! kind or dimension differs from the signatures' ends the run with an error naming the
//! signature.
//!
//! A node that mixes CSI layouts frame by frame (RuView ESP32 nodes: 64, 128 and 192 subcarrier
//! pairs) is analysed in one, chosen as the sensing analyser of `wifi-sensing-signal` chooses it
//! ([`LayoutKeeper`]): during the node's first [`PROBE_FRAMES`] frames of its layout the more
//! common one (a node whose first frame is of a rare layout starts over in the common one as
//! soon as that one leads), afterwards the current one unless another lasts [`PROBE_FRAMES`]
//! frames in a row. Frames of the other layouts are skipped, counted
//! ([`IntrospectionAnalyser::layout_skipped`]) and reported at the end
//! ([`IntrospectionAnalyser::with_notices`]). Starting a node over gives it a fresh feature
//! extractor, matchers, dynamics tracker and early-labelling state in the new layout: an open
//! early episode or match ends there (the node's next snapshot is its first in the new
//! layout, as a fresh node's), what the old layout's analysis reported since the node's last
//! snapshot (labels committed, an onset, a regime change) is still reported in its next one,
//! and the node's frame counts go on. This holds when the signatures' dimension does not
//! follow the layout (`motion_*` kinds, or no signatures besides early labelling): `amp_*`
//! signatures fit one subcarrier count, so with them a node keeps the first layout whose
//! features fit the signatures and never starts over. Frames of a layout that does not fit,
//! before the node has one that does, are skipped and counted (a node whose first frames are
//! strays of a rare layout); [`PROBE_FRAMES`] of them in a row, or a node that never had a
//! fitting layout by the end of the stream, are the dimension error (the signatures were made
//! with other settings or hardware).
//!
//! With early labelling ([`IntrospectionAnalyser::with_early`]: a second library of
//! `motion_lags_v1` signatures, one or more per label), each node also runs an
//! [`EarlyDecider`] on its own features of that kind, and every snapshot carries an
//! [`EarlySnapshot`] (`early` in JSON): whether a motion episode is open, how many frames since
//! its onset estimate, the provisional label and its confidence, and the label committed for the
//! episode. With [`IntrospectionAnalyser::with_event_onset`], stage 1 also opens on the event
//! path's `MotionStarted` for the node (the project's windowed motion detector, run on the same
//! frames inside the analyser), so an episode never opens later than that event. What it reaches
//! on simulated sessions is in the crate README.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use wifi_sensing_core::{Analyser, Analysis, CsiFrame, PerNode};
use wifi_sensing_signal::calibration::Baseline;
use wifi_sensing_signal::events::{EventConfig, EventKind};
use wifi_sensing_signal::features::{
    describe_layouts, layout_key, note_other_shape, LayoutKeeper, PROBE_FRAMES,
};
use wifi_sensing_signal::stages::Notices;
use wifi_sensing_signal::{FusedEvents, Sensed, SensingAnalyser, SensingConfig};

use crate::dtw::SpringMatcher;
use crate::dynamics::{DynamicsConfig, DynamicsTracker};
use crate::early::{EarlyConfig, EarlyDecider};
use crate::error::{Error, Result};
use crate::features::{FeatureConfig, FeatureExtractor};
use crate::signature::SignatureLibrary;

/// Name of the analyser and JSON `type` of its records.
pub const KIND: &str = "introspection";

pub use crate::dynamics::Regime;

/// One signature's standing at this frame.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Similarity {
    /// Signature id.
    pub signature_id: Arc<str>,
    /// Its label.
    pub label: Arc<str>,
    /// Score of the reported match in `[0, 1]` (1 = identical; see [`crate::dtw::spring`]).
    pub score: f64,
    /// `true` when a prefix of at least the signature's `min_prefix` frames reached its
    /// promotion threshold at this frame.
    pub above_threshold: bool,
    /// Signature frames covered by the reported match (the whole signature's `length`, or less
    /// when a prefix is reported).
    pub matched_frames: usize,
}

/// Early labelling at one frame (see [`crate::early`]): stage 1 says whether something started
/// moving, stage 2 which labelled activity it looks like so far.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EarlySnapshot {
    /// A motion episode is open (stage 1: the onset detector fired and the scene has not been
    /// still for `close_after` frames since; see
    /// [`EarlyState::moving`](crate::early::EarlyState::moving) for what that means during a
    /// long wave).
    pub moving: bool,
    /// The episode opened at this frame (with `every > 1`: since the previous snapshot).
    pub onset: bool,
    /// Frames since the episode's onset estimate, this one included (0 when not moving). The
    /// estimate is the first of the `persist` frames that opened the episode.
    pub frames_since_onset: u64,
    /// Provisional label: the label whose signatures are nearest to the episode so far
    /// (`None` when not moving).
    pub label: Option<Arc<str>>,
    /// Confidence of `label`: `second-best cost / best cost − 1` (≥ 0; 0 when not moving).
    pub confidence: f64,
    /// The label committed for this episode (the first provisional label reaching the margin
    /// after `min_frames`; one per episode, kept until the episode closes).
    pub committed_label: Option<Arc<str>>,
    /// The label was committed at this frame (with `every > 1`: since the previous snapshot;
    /// the labels are in `commits`, as the episode may have closed since).
    pub committed_now: bool,
    /// Every label committed since the node's previous snapshot, this frame included, oldest
    /// first, each with the time of its frame: with `every > 1` an episode can open, commit and
    /// close between two snapshots, and `committed_label` (the open episode's) is then `None`
    /// while its label is here. Empty when `committed_now` is `false` (and absent from the
    /// JSON); at most [`MAX_COMMITS`], the latest.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub commits: Vec<EarlyCommit>,
    /// The episode was decided as none of the labels (a model of other motion was nearest
    /// when the decision was due, see [`IntrospectionAnalyser::with_early_other`]); no label
    /// is committed in it. Always `false` without models of other motion.
    pub rejected: bool,
}

/// Most labels an [`EarlySnapshot`] lists in `commits` (the latest are kept): an episode
/// commits at most one label and lasts at least `min_frames` frames, so only a long `every`
/// sees more.
pub const MAX_COMMITS: usize = 8;

/// A label committed by early labelling (see [`EarlySnapshot::commits`]).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EarlyCommit {
    /// The label.
    pub label: Arc<str>,
    /// Timestamp of the frame it was committed at, ns.
    pub timestamp_ns: i64,
}

/// What the stream of one node looks like at one frame.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct IntrospectionSnapshot {
    /// Timestamp of the frame, ns.
    pub timestamp_ns: i64,
    /// Node of the frame.
    pub node_id: u32,
    /// Frames of this node accepted so far, this one included.
    pub frame_count: u64,
    /// Dynamical regime.
    pub regime: Regime,
    /// `true` on the frame where the dynamics tracker detected a change point in the scalar
    /// summary (its newest frames novel against the current segment; `regime` is then
    /// `Transient` until the new segment is classified); label revisions do not set it (see
    /// [`DynamicsState::regime_changed`](crate::dynamics::DynamicsState::regime_changed)).
    /// With `every > 1`: on the first snapshot after a change.
    pub regime_changed: bool,
    /// Largest Lyapunov exponent per frame, when estimated.
    pub lyapunov_exponent: Option<f64>,
    /// Correlation dimension, when estimated.
    pub attractor_dim: Option<f64>,
    /// Confidence of the regime in `[0, 1]`, a heuristic margin and not a probability: 0 while
    /// warming up; after a classification, how far the deciding feature lies from its
    /// threshold, squashed as `m / (1 + m)`; after a change point, the change's novelty score
    /// squashed the same way. Unrelated to the signatures' scores and to
    /// [`EarlySnapshot::confidence`].
    pub confidence: f64,
    /// The best `top_k` signatures: those above threshold first, then by score.
    pub top_k_similarity: Vec<Similarity>,
    /// Early labelling, when the analyser runs it (absent from the JSON otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub early: Option<EarlySnapshot>,
}

/// Settings of the [`IntrospectionAnalyser`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IntrospectionConfig {
    /// Feature extraction; its kind must match the signatures'.
    pub features: FeatureConfig,
    /// Signatures listed per snapshot (at most the library's size).
    pub top_k: usize,
    /// Emit a snapshot every this many accepted frames of a node (≥ 1). Regime changes, onsets
    /// and commits between two snapshots are carried into the next one, and into one more at
    /// the end of the stream when it ends before the next
    /// ([`IntrospectionAnalyser::end_of_stream`]).
    pub every: u64,
    /// Most distinct nodes tracked.
    pub max_nodes: usize,
    /// The dynamics tracker (fed the features' scalar summary, one value per frame).
    pub dynamics: DynamicsConfig,
    /// Early labelling settings, used when early signatures are given
    /// ([`IntrospectionAnalyser::with_early`]).
    pub early: EarlyConfig,
}

impl Default for IntrospectionConfig {
    fn default() -> Self {
        IntrospectionConfig {
            features: FeatureConfig::default(),
            top_k: 3,
            every: 1,
            max_nodes: PerNode::<()>::DEFAULT_MAX_NODES,
            dynamics: DynamicsConfig::default(),
            early: EarlyConfig::default(),
        }
    }
}

impl IntrospectionConfig {
    /// Checks every value.
    pub fn validate(&self) -> Result<()> {
        self.features.validate()?;
        self.dynamics.validate()?;
        self.early.validate()?;
        if self.every == 0 {
            return Err(Error::config("every", "must be at least 1 frame"));
        }
        if self.max_nodes == 0 {
            return Err(Error::config("max_nodes", "must be at least 1"));
        }
        Ok(())
    }
}

#[derive(Clone, Debug)]
struct NodeState {
    fx: FeatureExtractor,
    matchers: Vec<SpringMatcher<f32>>,
    dynamics: DynamicsTracker,
    /// A regime change since the last emitted snapshot (so `every > 1` does not lose it).
    changed: bool,
    frames: u64,
    /// Time of the last analysed frame, ns (the time of a snapshot made at the stream's end).
    last_ns: i64,
    checked: bool,
    order: Vec<usize>,
    early: Option<EarlyNode>,
    /// Frames of the node seen, analysed or not.
    seen: u64,
    /// The layout the node is analysed in (set by its first frame; see [`LayoutKeeper`]).
    layout: Option<LayoutKey>,
    /// Frames of `layout` since the node's (re)start (its warm-up is the first
    /// [`PROBE_FRAMES`]).
    kept: u64,
    /// Which layout the node keeps, and the frames skipped for theirs.
    layouts: LayoutKeeper<LayoutKey>,
    /// The shapes of the other layouts seen (the first few).
    other_shapes: Vec<(usize, usize, usize)>,
    /// Frames skipped before the node had a layout whose feature dimension fits `amp_*`
    /// signatures, and the dimension of the last of them.
    unfit: (u64, usize),
}

/// A frame's layout ([`layout_key`]): its shape and a hash of its subcarrier indices.
type LayoutKey = (usize, usize, usize, u64);

impl NodeState {
    /// Frames skipped for their layout: of another layout than the kept one, or, before the
    /// node had a layout that fits `amp_*` signatures, of one that does not.
    fn layout_skipped(&self) -> u64 {
        self.layouts.skipped() + self.unfit.0
    }

    /// Notes `shape` among the other shapes the node has seen.
    fn note_shape(&mut self, shape: (usize, usize, usize)) {
        note_other_shape(&mut self.other_shapes, shape);
    }

    /// Starts the node over in layout `key` ([`LayoutKeeper::other`] said so): the fresh state
    /// of `proto`, keeping the node's frame counts and layout counts, and what the old layout's
    /// analysis reported since the node's last snapshot (so `every > 1` does not lose a label
    /// committed, an onset or a regime change). Nothing else of the old analysis goes on: an
    /// open early episode or match ends here, as at the end of a stream.
    fn start_over(&mut self, proto: &NodeState, key: LayoutKey) {
        let old = std::mem::replace(self, proto.clone());
        self.seen = old.seen;
        self.frames = old.frames;
        self.last_ns = old.last_ns;
        self.layout = Some(key);
        self.layouts = old.layouts;
        self.other_shapes = old.other_shapes;
        self.unfit = old.unfit;
        if let Some(k) = old.layout {
            self.note_shape((k.0, k.1, k.2));
        }
        self.changed = old.changed;
        if let (Some(e), Some(o)) = (self.early.as_mut(), old.early) {
            e.onset = o.onset;
            e.commits = o.commits;
        }
    }
}

/// A node's early labelling: its features of the early kind, its decider, and the edges seen
/// since the last emitted snapshot.
#[derive(Clone, Debug)]
struct EarlyNode {
    /// Its own extractor, or `None` when the early kind is the stream's (whose features are
    /// then reused rather than computed twice).
    fx: Option<FeatureExtractor>,
    decider: EarlyDecider,
    onset: bool,
    /// Labels committed since the last emitted snapshot (at most [`MAX_COMMITS`]).
    commits: Vec<EarlyCommit>,
    /// The event path's `MotionStarted` fired for this node on a frame not yet given to the
    /// decider (a frame without features).
    event_onset: bool,
}

/// The per-frame introspection tap (see the module docs).
///
/// ```
/// use wifi_sensing_core::sim::{DeviceProfile, Scenario, Simulator};
/// use wifi_sensing_core::{Analyser, Analysis};
/// use wifi_sensing_introspect::signature::SignatureLibrary;
/// use wifi_sensing_introspect::snapshot::{IntrospectionAnalyser, IntrospectionConfig, IntrospectionSnapshot};
/// let mut a = IntrospectionAnalyser::new(IntrospectionConfig::default(), SignatureLibrary::default())?;
/// let mut out: Vec<Analysis> = Vec::new();
/// for (frame, _) in Simulator::new(Scenario::preset("walk", 0.1)?, DeviceProfile::esp32(), 1)? {
///     a.analyse(&frame, &mut out)?;
/// }
/// let last = out.last().unwrap().downcast_ref::<IntrospectionSnapshot>().unwrap();
/// assert_eq!(last.frame_count, out.len() as u64);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct IntrospectionAnalyser {
    cfg: IntrospectionConfig,
    library: SignatureLibrary,
    names: Vec<(Arc<str>, Arc<str>)>,
    prototype: NodeState,
    nodes: PerNode<NodeState>,
    skipped: u64,
    /// Frames that gave no features (part of `skipped`), and why the last one did not.
    unusable: (u64, Option<String>),
    early_labels: Vec<Arc<str>>,
    /// The event path whose `MotionStarted` also opens early episodes, and its output buffer.
    events: Option<(SensingAnalyser, Vec<Sensed>)>,
    notices: Option<Notices>,
    /// The stages before the analyser, for the error of a dimension mismatch.
    stages: Option<String>,
    /// Whether a node may start over in another subcarrier layout: the signatures' dimension
    /// does not follow the layout (a `motion_*` kind, or no signatures).
    layout_free: bool,
}

impl IntrospectionAnalyser {
    /// An analyser matching the stream against `library` (which may be empty: snapshots then
    /// carry only the dynamics).
    pub fn new(cfg: IntrospectionConfig, library: SignatureLibrary) -> Result<Self> {
        cfg.validate()?;
        for s in library.signatures() {
            s.check_feature(cfg.features.kind, None, "the stream")?;
        }
        let matchers = library
            .signatures()
            .iter()
            .map(|s| s.matcher())
            .collect::<Result<Vec<_>>>()?;
        let names = library
            .signatures()
            .iter()
            .map(|s| (Arc::from(s.id.as_str()), Arc::from(s.label.as_str())))
            .collect();
        let prototype = NodeState {
            fx: FeatureExtractor::new(cfg.features.clone())?,
            order: (0..matchers.len()).collect(),
            matchers,
            dynamics: DynamicsTracker::new(cfg.dynamics)?,
            changed: false,
            frames: 0,
            last_ns: 0,
            checked: false,
            early: None,
            seen: 0,
            layout: None,
            kept: 0,
            layouts: LayoutKeeper::default(),
            other_shapes: Vec::new(),
            unfit: (0, 0),
        };
        let layout_free =
            library.signatures().is_empty() || cfg.features.kind.fixed_dim().is_some();
        Ok(IntrospectionAnalyser {
            layout_free,
            nodes: PerNode::new(cfg.max_nodes),
            cfg,
            library,
            names,
            prototype,
            skipped: 0,
            unusable: (0, None),
            early_labels: Vec::new(),
            events: None,
            notices: None,
            stages: None,
        })
    }

    /// Names the stages the frames went through before the analyser (as given, e.g.
    /// `select:top=10`), so that a stream whose dimension differs from the signatures' is put
    /// down to them ([`SignatureLibrary::check_stream_after`]).
    pub fn with_stages(mut self, stages: impl Into<String>) -> Self {
        self.stages = Some(stages.into());
        self
    }

    /// Reports to `notices` at the end of the stream ([`Analyser::finish`]): per node, the
    /// frames skipped for their subcarrier layout (a node that mixes layouts is analysed in
    /// its most common one in its first frames; see the [module docs](self)), as the sensing
    /// analyser of `wifi-sensing-signal` does.
    pub fn with_notices(mut self, notices: Notices) -> Self {
        self.notices = Some(notices);
        self
    }

    /// Adds early labelling against `signatures` (kind `motion_lags_v1` or `motion_doppler_v1`,
    /// at least two distinct labels; see [`crate::early`]) with the settings of the configuration's `early`. Every
    /// snapshot then carries [`IntrospectionSnapshot::early`]. The node computes its own
    /// features of the early signatures' kind (same chain and columns as the stream's
    /// features), whatever the kind of the shape-matching signatures.
    ///
    /// ```
    /// use wifi_sensing_introspect::signature::SignatureLibrary;
    /// use wifi_sensing_introspect::snapshot::{IntrospectionAnalyser, IntrospectionConfig};
    /// let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/signatures/early");
    /// let a = IntrospectionAnalyser::new(IntrospectionConfig::default(), SignatureLibrary::default())?
    ///     .with_early(SignatureLibrary::load_dir(dir)?)?;
    /// assert_eq!(a.early_labels().len(), 4);
    /// # Ok::<(), wifi_sensing_introspect::Error>(())
    /// ```
    pub fn with_early(mut self, signatures: SignatureLibrary) -> Result<Self> {
        let decider = EarlyDecider::new(self.cfg.early, signatures.signatures())?;
        self.early_labels = decider
            .labels()
            .iter()
            .map(|l| Arc::from(l.as_str()))
            .collect();
        let fx = if decider.kind() == self.cfg.features.kind {
            None
        } else {
            Some(FeatureExtractor::new(FeatureConfig {
                kind: decider.kind(),
                ..self.cfg.features.clone()
            })?)
        };
        self.prototype.early = Some(EarlyNode {
            fx,
            decider,
            onset: false,
            commits: Vec::new(),
            event_onset: false,
        });
        self.nodes.clear();
        Ok(self)
    }

    /// Adds models of other motion to early labelling (after [`with_early`](Self::with_early)):
    /// signatures of motions that are none of the labels (standing up, lowering an arm,
    /// stopping; `fixtures/signatures/early/other/`), see [`EarlyDecider::with_other`]. An
    /// episode nearest one of them is decided as none of the labels
    /// ([`EarlySnapshot::rejected`]) and commits no label.
    ///
    /// ```
    /// use wifi_sensing_introspect::signature::SignatureLibrary;
    /// use wifi_sensing_introspect::snapshot::{IntrospectionAnalyser, IntrospectionConfig};
    /// let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/signatures/early");
    /// let a = IntrospectionAnalyser::new(IntrospectionConfig::default(), SignatureLibrary::default())?
    ///     .with_early(SignatureLibrary::load_dir(dir)?)?
    ///     .with_early_other(SignatureLibrary::load_dir(format!("{dir}/other"))?)?;
    /// assert_eq!(a.early_labels().len(), 4); // the labels only
    /// # Ok::<(), wifi_sensing_introspect::Error>(())
    /// ```
    pub fn with_early_other(mut self, other: SignatureLibrary) -> Result<Self> {
        let Some(early) = self.prototype.early.take() else {
            return Err(Error::config(
                "early_other",
                "needs early labelling (with_early) first",
            ));
        };
        let decider = early.decider.with_other(other.signatures())?;
        self.prototype.early = Some(EarlyNode { decider, ..early });
        self.nodes.clear();
        Ok(self)
    }

    /// Lets the event path's `MotionStarted` open early episodes too (after
    /// [`with_early`](Self::with_early)): the analyser runs the motion and presence detector of
    /// `wifi-sensing-signal` (`events`, and the empty-room `baseline` if any: the settings of
    /// the run's own `--events`, so that it sees the same events) on every frame, and a node's
    /// `MotionStarted` opens its episode when the gate has not
    /// ([`EarlyDecider::push_with_onset`]). An episode then never opens later than that event,
    /// and earlier whenever the gate is earlier. Vital signs and fused events are not computed.
    ///
    /// ```
    /// use wifi_sensing_introspect::signature::SignatureLibrary;
    /// use wifi_sensing_introspect::snapshot::{IntrospectionAnalyser, IntrospectionConfig};
    /// use wifi_sensing_signal::events::EventConfig;
    /// let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/signatures/early");
    /// let a = IntrospectionAnalyser::new(IntrospectionConfig::default(), SignatureLibrary::default())?
    ///     .with_early(SignatureLibrary::load_dir(dir)?)?
    ///     .with_event_onset(EventConfig::default(), None)?;
    /// assert!(a.has_event_onset());
    /// # Ok::<(), wifi_sensing_introspect::Error>(())
    /// ```
    pub fn with_event_onset(
        mut self,
        events: EventConfig,
        baseline: Option<Baseline>,
    ) -> Result<Self> {
        if self.prototype.early.is_none() {
            return Err(Error::config(
                "event_onset",
                "needs early labelling (with_early) first",
            ));
        }
        let cfg = SensingConfig {
            events: Some(events),
            vitals: None,
            max_nodes: self.cfg.max_nodes,
            fused: FusedEvents::Never,
            ..SensingConfig::default()
        };
        let sensing = SensingAnalyser::new(cfg, baseline)
            .map_err(|e| Error::config("event_onset", e.to_string()))?;
        self.events = Some((sensing, Vec::new()));
        self.nodes.clear();
        Ok(self)
    }

    /// Whether `MotionStarted` of the event path opens early episodes
    /// ([`with_event_onset`](Self::with_event_onset)).
    pub fn has_event_onset(&self) -> bool {
        self.events.is_some()
    }

    /// The labels of early labelling (empty without it), in the order of the signatures that
    /// first named them.
    pub fn early_labels(&self) -> &[Arc<str>] {
        &self.early_labels
    }

    /// Frames that had no usable features, and frames skipped for their subcarrier layout
    /// ([`layout_skipped`](Self::layout_skipped)).
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// Frames of node `node_id` skipped for their subcarrier layout (part of
    /// [`skipped`](Self::skipped)): those of another layout than the one the node is analysed
    /// in, and, when the node started over in another layout during its first frames, those
    /// it had analysed in the old one (their snapshots were emitted; that analysis was
    /// dropped), as the sensing analyser counts them. See the [module docs](self).
    pub fn layout_skipped(&self, node_id: u32) -> u64 {
        self.nodes.get(node_id).map_or(0, NodeState::layout_skipped)
    }

    /// The signatures.
    pub fn library(&self) -> &SignatureLibrary {
        &self.library
    }

    /// Updates the node's state with `frame`; returns its snapshot when one is due.
    pub fn push(&mut self, frame: &CsiFrame) -> Result<Option<IntrospectionSnapshot>> {
        let mut event_onset = false;
        if let Some((ev, out)) = self.events.as_mut() {
            out.clear();
            ev.push(frame, out)
                .map_err(|e| Error::InvalidInput(format!("event path: {e}")))?;
            event_onset = motion_started(out, frame.node_id);
        }
        self.push_frame(frame, event_onset)
    }

    /// [`push`](Self::push) with the event path run by the caller: `motion_started` says
    /// whether its `MotionStarted` fired for this frame's node at this frame (see
    /// [`motion_started`]). For a caller that runs the motion and presence detector anyway (a
    /// run with `--events`), so that it is computed once per frame instead of twice; given
    /// what [`with_event_onset`](Self::with_event_onset) would compute (the same event
    /// settings and baseline), the snapshots are the same. Needs early labelling and refuses
    /// an analyser that runs its own event path.
    ///
    /// ```
    /// use wifi_sensing_core::sim::{DeviceProfile, Scenario, Simulator};
    /// use wifi_sensing_introspect::signature::SignatureLibrary;
    /// use wifi_sensing_introspect::snapshot::{motion_started, IntrospectionAnalyser, IntrospectionConfig};
    /// use wifi_sensing_signal::{SensingAnalyser, SensingConfig};
    /// let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/signatures/early");
    /// let mut a = IntrospectionAnalyser::new(IntrospectionConfig::default(), SignatureLibrary::default())?
    ///     .with_early(SignatureLibrary::load_dir(dir)?)?;
    /// let mut events = SensingAnalyser::new(SensingConfig::default(), None)?;
    /// let (mut sensed, mut opened) = (Vec::new(), 0);
    /// for (frame, _) in Simulator::new(Scenario::preset("walk", 12.0)?, DeviceProfile::esp32(), 3)? {
    ///     sensed.clear();
    ///     events.push(&frame, &mut sensed)?;
    ///     let s = a.push_with_event_onset(&frame, motion_started(&sensed, frame.node_id))?;
    ///     opened += usize::from(s.and_then(|s| s.early).is_some_and(|e| e.onset));
    /// }
    /// assert!(opened >= 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn push_with_event_onset(
        &mut self,
        frame: &CsiFrame,
        motion_started: bool,
    ) -> Result<Option<IntrospectionSnapshot>> {
        if self.events.is_some() {
            return Err(Error::config(
                "event_onset",
                "the analyser runs its own event path (with_event_onset): use push",
            ));
        }
        if self.prototype.early.is_none() {
            return Err(Error::config(
                "event_onset",
                "needs early labelling (with_early) first",
            ));
        }
        self.push_frame(frame, motion_started)
    }

    /// [`push`](Self::push) once the event onset of this frame is known.
    fn push_frame(
        &mut self,
        frame: &CsiFrame,
        event_onset: bool,
    ) -> Result<Option<IntrospectionSnapshot>> {
        let proto = &self.prototype;
        let st = self
            .nodes
            .get_or_insert_with(frame.node_id, || proto.clone())
            .map_err(|e| Error::InvalidInput(e.to_string()))?;
        st.seen += 1;
        let key = layout_key(frame);
        if *st.layout.get_or_insert(key) != key {
            // Another layout: the node keeps one (see `LayoutKeeper`; its warm-up is its first
            // PROBE_FRAMES frames, as the sensing analyser's column probe). Signatures whose
            // dimension follows the subcarrier count (`amp_*` kinds) fit one layout only: the
            // node then keeps its first layout and never starts over in another.
            st.note_shape(frame.shape());
            let (warming_up, warmup) = if self.layout_free {
                (st.kept < PROBE_FRAMES as u64, PROBE_FRAMES as u64)
            } else {
                (false, u64::MAX)
            };
            let before = st.layouts.skipped();
            let switch = st.layouts.other(key, st.kept, warming_up, warmup);
            self.skipped += st.layouts.skipped() - before;
            if !switch {
                if let Some(e) = st.early.as_mut() {
                    e.event_onset |= event_onset;
                }
                return Ok(None);
            }
            st.start_over(proto, key);
        }
        st.layouts.kept();
        st.kept += 1;
        if let Some(e) = st.early.as_mut() {
            e.event_onset |= event_onset;
        }
        let x = match st.fx.extract(frame) {
            Ok(x) => x,
            Err(e) => {
                self.skipped += 1;
                note_unusable(&mut self.unusable, &e);
                return Ok(None);
            }
        };
        if !st.checked {
            if let Err(e) = self.library.check_stream_after(
                self.cfg.features.kind,
                x.len(),
                self.stages.as_deref(),
            ) {
                // `amp_*` signatures fit one subcarrier count: a layout of another is skipped
                // until one that fits comes (a node whose first frames are strays of a rare
                // layout), and is an error once PROBE_FRAMES frames came without one (or at
                // the end, see `finish`). For other kinds the dimension does not depend on the
                // layout, so a mismatch is an error at once.
                if self.layout_free || st.unfit.0 + 1 >= PROBE_FRAMES as u64 {
                    return Err(e);
                }
                let unfit = (st.unfit.0 + 1, x.len());
                self.skipped += 1;
                st.start_over(proto, key);
                st.layout = None;
                st.unfit = unfit;
                return Ok(None);
            }
            st.checked = true;
        }
        if let Some(e) = st.early.as_mut() {
            let m = match e.fx.as_mut() {
                None => x,
                // Same columns and amplitudes as `x`: it fails only where `x` did.
                Some(fx) => match fx.extract(frame) {
                    Ok(m) => m,
                    Err(e) => {
                        self.skipped += 1;
                        note_unusable(&mut self.unusable, &e);
                        return Ok(None);
                    }
                },
            };
            let s = e
                .decider
                .push_with_onset(m, std::mem::take(&mut e.event_onset))?;
            e.onset |= s.opened;
            if let (true, Some(l)) = (s.decided_now, s.decided) {
                if e.commits.len() == MAX_COMMITS {
                    e.commits.remove(0);
                }
                e.commits.push(EarlyCommit {
                    label: self.early_labels[l].clone(),
                    timestamp_ns: frame.timestamp_ns,
                });
            }
        }
        // Features are finite and of the checked dimension; a refusal would be a bug, and is
        // reported rather than ignored.
        SpringMatcher::push_all(&mut st.matchers, x)?;
        st.changed |= st.dynamics.push(st.fx.scalar()).regime_changed;
        st.frames += 1;
        st.last_ns = frame.timestamp_ns;
        if st.frames % self.cfg.every != 0 {
            return Ok(None);
        }
        Ok(Some(snapshot_of(
            st,
            frame.node_id,
            &self.names,
            &self.early_labels,
            self.cfg.top_k,
        )))
    }

    /// The snapshots due at the end of a stream: with [`every`](IntrospectionConfig::every)
    /// above 1, a node whose frames since its last snapshot hold something a snapshot carries
    /// once (an early commit, an onset, a regime change) gets one more snapshot, of its last
    /// analysed frame, so that nothing is lost when the stream ends between two snapshots.
    /// Call it once the stream has ended (the pipeline's `finish` does); the nodes' state is
    /// kept, and a second call gives nothing new.
    ///
    /// ```
    /// use wifi_sensing_core::sim::{DeviceProfile, Scenario, Simulator};
    /// use wifi_sensing_introspect::snapshot::{IntrospectionAnalyser, IntrospectionConfig};
    /// let cfg = IntrospectionConfig { every: 1000, ..IntrospectionConfig::default() };
    /// let mut a = IntrospectionAnalyser::new(cfg, Default::default())?;
    /// for (frame, _) in Simulator::new(Scenario::preset("walk", 2.0)?, DeviceProfile::esp32(), 1)? {
    ///     assert!(a.push(&frame)?.is_none());
    /// }
    /// // whatever is pending comes now, at most once per node
    /// let last = a.end_of_stream();
    /// assert!(last.len() <= 1);
    /// assert!(a.end_of_stream().is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn end_of_stream(&mut self) -> Vec<IntrospectionSnapshot> {
        let mut out = Vec::new();
        if self.cfg.every <= 1 {
            return out;
        }
        for (id, st) in self.nodes.iter_mut() {
            let pending = st.changed
                || st
                    .early
                    .as_ref()
                    .is_some_and(|e| e.onset || !e.commits.is_empty());
            if st.frames > 0 && st.frames % self.cfg.every != 0 && pending {
                out.push(snapshot_of(
                    st,
                    id,
                    &self.names,
                    &self.early_labels,
                    self.cfg.top_k,
                ));
            }
        }
        out
    }
}

/// The snapshot of node `node_id` now (its last analysed frame): takes the edges kept since
/// its last snapshot (regime change, onset, commits).
fn snapshot_of(
    st: &mut NodeState,
    node_id: u32,
    names: &[(Arc<str>, Arc<str>)],
    labels: &[Arc<str>],
    top_k: usize,
) -> IntrospectionSnapshot {
    let ms = &st.matchers;
    st.order.sort_by(|&a, &b| {
        let (sa, sb) = (ms[a].state(), ms[b].state());
        sb.above_threshold
            .cmp(&sa.above_threshold)
            .then(sb.score.total_cmp(&sa.score))
    });
    let top_k_similarity = st
        .order
        .iter()
        .take(top_k)
        .map(|&i| {
            let s = ms[i].state();
            Similarity {
                signature_id: names[i].0.clone(),
                label: names[i].1.clone(),
                score: s.score,
                above_threshold: s.above_threshold,
                matched_frames: s.matched_frames,
            }
        })
        .collect();
    let early = st.early.as_mut().map(|e| {
        let s = e.decider.state();
        let commits = std::mem::take(&mut e.commits);
        EarlySnapshot {
            moving: s.moving,
            onset: std::mem::take(&mut e.onset),
            frames_since_onset: s.episode_frames as u64,
            label: s.best.map(|l| labels[l].clone()),
            confidence: s.confidence,
            committed_label: s.decided.map(|l| labels[l].clone()),
            committed_now: !commits.is_empty(),
            commits,
            rejected: s.rejected,
        }
    });
    let d = st.dynamics.state();
    IntrospectionSnapshot {
        timestamp_ns: st.last_ns,
        node_id,
        frame_count: st.frames,
        regime: d.regime,
        regime_changed: std::mem::take(&mut st.changed),
        lyapunov_exponent: d.lyapunov_exponent,
        attractor_dim: d.attractor_dim,
        confidence: d.confidence,
        top_k_similarity,
        early,
    }
}

/// Whether the event path's output of one frame (`sensed`, from
/// [`SensingAnalyser::push`]) holds a `MotionStarted` of node `node_id`: what opens an early
/// episode with [`IntrospectionAnalyser::with_event_onset`], and what
/// [`IntrospectionAnalyser::push_with_event_onset`] takes from a caller's own event path.
///
/// ```
/// use wifi_sensing_introspect::snapshot::motion_started;
/// assert!(!motion_started(&[], 0));
/// ```
pub fn motion_started(sensed: &[Sensed], node_id: u32) -> bool {
    sensed.iter().any(|s| {
        matches!(s, Sensed::Event(e) if e.event == EventKind::MotionStarted
            && e.node_id == Some(node_id))
    })
}

/// A snapshot as the pipeline record the analyser emits (type `introspection`).
///
/// ```
/// use wifi_sensing_core::sim::{DeviceProfile, Scenario, Simulator};
/// use wifi_sensing_introspect::snapshot::{to_analysis, IntrospectionAnalyser, IntrospectionConfig, KIND};
/// let mut a = IntrospectionAnalyser::new(IntrospectionConfig::default(), Default::default())?;
/// let (frame, _) = Simulator::new(Scenario::preset("walk", 0.1)?, DeviceProfile::esp32(), 1)?.next().unwrap();
/// let record = to_analysis(a.push(&frame)?.unwrap());
/// assert_eq!(record.kind, KIND);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn to_analysis(s: IntrospectionSnapshot) -> Analysis {
    Analysis::new(KIND, KIND, s.timestamp_ns, Some(s.node_id), s)
}

impl Analyser for IntrospectionAnalyser {
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
    fn name(&self) -> &str {
        KIND
    }

    fn analyse(
        &mut self,
        frame: &CsiFrame,
        out: &mut Vec<Analysis>,
    ) -> wifi_sensing_core::Result<()> {
        if let Some(s) = self.push(frame)? {
            out.push(to_analysis(s));
        }
        Ok(())
    }

    /// Says, through the notices of [`with_notices`](IntrospectionAnalyser::with_notices),
    /// how many frames of each node were skipped for their subcarrier layout.
    fn finish(&mut self, out: &mut Vec<Analysis>) -> wifi_sensing_core::Result<()> {
        // what the thinning (`every`) would otherwise lose at the end of the stream
        let last = self.end_of_stream();
        let ended: Vec<u32> = last.iter().map(|s| s.node_id).collect();
        out.extend(last.into_iter().map(to_analysis));
        // A node that never had a layout fitting `amp_*` signatures: the dimension error
        // (skipping its frames quietly would hide a wrong signature directory).
        if let Some(n) = self
            .nodes
            .iter()
            .map(|(_, n)| n)
            .find(|n| !n.checked && n.unfit.0 > 0)
        {
            self.library.check_stream_after(
                self.cfg.features.kind,
                n.unfit.1,
                self.stages.as_deref(),
            )?;
        }
        let Some(notices) = &self.notices else {
            return Ok(());
        };
        if self.unusable.0 > 0 {
            notices.push(format!(
                "{KIND} (--introspect): {} frame{} gave no features and got no snapshot (the \
                 first: {})",
                self.unusable.0,
                if self.unusable.0 == 1 { "" } else { "s" },
                self.unusable.1.as_deref().unwrap_or("no reason given")
            ));
        }
        for (id, n) in self.nodes.iter() {
            // a thinning longer than the node's stream: no snapshot at all, said so
            if self.cfg.every > 1
                && n.frames > 0
                && n.frames < self.cfg.every
                && !ended.contains(&id)
            {
                notices.push(format!(
                    "{KIND} (--introspect-every {}): node {id}: no snapshot: its {} analysed \
                     frames are fewer than the {} of one snapshot",
                    self.cfg.every, n.frames, self.cfg.every
                ));
            }
            let (Some(key), true) = (n.layout, n.layout_skipped() > 0) else {
                continue;
            };
            let how = describe_layouts((key.0, key.1, key.2), &n.other_shapes);
            let rule = if self.layout_free {
                "a node that mixes layouts is analysed in its most common one in its first frames"
            } else {
                "signatures of this feature kind fit one subcarrier count, so a node is analysed \
                 in the first of its layouts that fits them"
            };
            notices.push(format!(
                "{KIND} (--introspect): node {id}: {} of {} frames skipped for their subcarrier \
                 layout ({how}); {rule}",
                n.layout_skipped(),
                n.seen,
            ));
        }
        Ok(())
    }

    fn reset(&mut self) {
        self.nodes.clear();
        self.skipped = 0;
        self.unusable = (0, None);
        if let Some((ev, _)) = self.events.as_mut() {
            ev.reset();
        }
    }
}

/// Counts a frame that gave no features, keeping the first reason.
fn note_unusable(unusable: &mut (u64, Option<String>), e: &crate::Error) {
    unusable.0 += 1;
    unusable.1.get_or_insert_with(|| e.to_string());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signature::Signature;
    use wifi_sensing_core::{CaptureFormat, Device};

    fn frame(node: u32, cols: usize, v: f32) -> CsiFrame {
        let mut f = CsiFrame::new(
            CaptureFormat::Simulated,
            Device::Simulator,
            ndarray::Array3::from_shape_fn((1, 1, cols), |(_, _, k)| {
                num_complex::Complex32::new(v + k as f32, 0.0)
            }),
        );
        f.node_id = node;
        f
    }

    fn library(dim: usize) -> SignatureLibrary {
        let sig = Signature {
            id: "s".into(),
            label: "l".into(),
            captured_at: "2026-12-05T15:00:00Z".into(),
            feature_kind: crate::features::FeatureKind::AmpBaselineV1,
            length: 2,
            dtw: Default::default(),
            vectors: vec![vec![0.1; dim], vec![0.2; dim]],
            promotion_threshold: 0.9,
            prefix_thresholds: None,
            min_prefix: None,
            provenance: None,
            spread: None,
        };
        SignatureLibrary::from_signatures(vec![sig], Vec::new()).unwrap()
    }

    #[test]
    fn nodes_are_separate_skips_are_counted_and_mismatch_is_an_error() {
        let mut a = IntrospectionAnalyser::new(IntrospectionConfig::default(), library(4)).unwrap();
        let s1 = a.push(&frame(1, 4, 1.0)).unwrap().unwrap();
        let s2 = a.push(&frame(2, 4, 1.0)).unwrap().unwrap();
        let s1b = a.push(&frame(1, 4, 1.0)).unwrap().unwrap();
        assert_eq!((s1.frame_count, s2.frame_count, s1b.frame_count), (1, 1, 2));
        assert_eq!(s1.top_k_similarity.len(), 1);
        assert_eq!(&*s1.top_k_similarity[0].label, "l");
        // All-zero CSI has no features: counted, no snapshot.
        let mut zero = frame(1, 4, 0.0);
        zero.csi.fill(num_complex::Complex32::new(0.0, 0.0));
        assert!(a.push(&zero).unwrap().is_none());
        assert_eq!(a.skipped(), 1);
        // A stream of 6 features against 4-dimensional signatures: its frames are skipped
        // while the node may still get a fitting layout, then the mismatch is an error.
        let mut b = IntrospectionAnalyser::new(IntrospectionConfig::default(), library(4)).unwrap();
        for _ in 1..PROBE_FRAMES {
            assert!(b.push(&frame(0, 6, 1.0)).unwrap().is_none());
        }
        let e = b.push(&frame(0, 6, 1.0)).unwrap_err().to_string();
        assert!(e.contains("4 dimensions") && e.contains("6"), "{e}");
        // Shorter than that: the error comes at the end.
        let mut b = IntrospectionAnalyser::new(IntrospectionConfig::default(), library(4)).unwrap();
        let mut out = Vec::new();
        for _ in 0..3 {
            b.analyse(&frame(0, 6, 1.0), &mut out).unwrap();
        }
        let e = b.finish(&mut out).unwrap_err().to_string();
        assert!(
            out.is_empty() && e.contains("4 dimensions") && e.contains("6"),
            "{e}"
        );
        // Too many nodes is an error, not unbounded growth.
        let mut c = IntrospectionAnalyser::new(
            IntrospectionConfig {
                max_nodes: 1,
                ..IntrospectionConfig::default()
            },
            library(4),
        )
        .unwrap();
        c.push(&frame(0, 4, 1.0)).unwrap();
        assert!(c.push(&frame(1, 4, 1.0)).is_err());
        // Dimension mismatch after stages: the stages are named, not the device's layout.
        let mut d = IntrospectionAnalyser::new(IntrospectionConfig::default(), library(4))
            .unwrap()
            .with_stages("select:top=6");
        for _ in 1..PROBE_FRAMES {
            d.push(&frame(0, 6, 1.0)).unwrap();
        }
        let e = d.push(&frame(0, 6, 1.0)).unwrap_err().to_string();
        assert!(
            e.contains("after the stages `select:top=6`") && e.contains("without these stages"),
            "{e}"
        );
        assert!(!e.contains("cut new ones from input like this one"), "{e}");
        assert!(IntrospectionAnalyser::new(
            IntrospectionConfig {
                every: 0,
                ..IntrospectionConfig::default()
            },
            library(4)
        )
        .is_err());
    }

    /// Frames that give no features (all-zero CSI) get no snapshot, and the end says how many.
    #[test]
    fn frames_without_features_are_counted_and_reported() {
        let notices = Notices::default();
        let mut a = IntrospectionAnalyser::new(IntrospectionConfig::default(), library(4))
            .unwrap()
            .with_notices(notices.clone());
        let mut out = Vec::new();
        let mut zero = frame(1, 4, 0.0);
        zero.csi.fill(num_complex::Complex32::new(0.0, 0.0));
        for _ in 0..5 {
            a.analyse(&zero, &mut out).unwrap();
        }
        assert!(out.is_empty());
        assert_eq!(a.skipped(), 5);
        a.finish(&mut out).unwrap();
        let said = notices.take();
        assert!(
            said.iter()
                .any(|n| n.contains("5 frames gave no features and got no snapshot")),
            "{said:?}"
        );
    }

    /// A node that switches subcarrier layout keeps its first one; the frames of the others
    /// are skipped, counted per node and reported at the end (as the sensing analyser does).
    #[test]
    fn frames_of_another_layout_are_counted_and_reported() {
        let notices = Notices::default();
        let mut a = IntrospectionAnalyser::new(IntrospectionConfig::default(), library(4))
            .unwrap()
            .with_notices(notices.clone());
        let mut out = Vec::new();
        for i in 0..10 {
            a.analyse(&frame(1, 4, 1.0 + i as f32), &mut out).unwrap();
            if i % 3 == 0 {
                a.analyse(&frame(1, 6, 1.0), &mut out).unwrap();
            }
            a.analyse(&frame(2, 4, 1.0), &mut out).unwrap();
        }
        assert_eq!(out.len(), 20);
        assert_eq!((a.layout_skipped(1), a.layout_skipped(2)), (4, 0));
        assert_eq!(a.skipped(), 4);
        assert!(notices.take().is_empty(), "said at the end only");
        a.finish(&mut out).unwrap();
        let said = notices.take();
        assert_eq!(
            said,
            ["introspection (--introspect): node 1: 4 of 14 frames skipped for their subcarrier \
              layout (also 1x1x6; analysed in 1x1x4); signatures of this feature kind fit one \
              subcarrier count, so a node is analysed in the first of its layouts that fits them"]
        );
    }

    /// Signatures whose dimension follows the layout (`amp_*` kinds) fit one layout: a node
    /// keeps its first one, even through a lasting change, and skips the others (no dimension
    /// error in the middle of the stream).
    #[test]
    fn amp_signatures_keep_the_first_layout_through_a_lasting_change() {
        let mut a = IntrospectionAnalyser::new(IntrospectionConfig::default(), library(4)).unwrap();
        let mut out = Vec::new();
        for i in 0..30 {
            a.analyse(&frame(1, 4, 1.0 + i as f32), &mut out).unwrap();
        }
        for _ in 0..40 {
            a.analyse(&frame(1, 6, 1.0), &mut out).unwrap();
        }
        assert_eq!(out.len(), 30);
        assert_eq!(a.layout_skipped(1), 40);
        let notices = Notices::default();
        a = a.with_notices(notices.clone());
        a.finish(&mut out).unwrap();
        let said = notices.take();
        assert!(
            said.len() == 1
                && said[0].contains("40 of 70 frames skipped")
                && said[0].contains("analysed in the first of its layouts that fits them"),
            "{said:?}"
        );
    }

    /// A node whose first frames are strays of a layout that does not fit `amp_*` signatures
    /// skips them and is analysed in the first layout that fits; the strays are counted and
    /// reported as frames of another layout.
    #[test]
    fn amp_signatures_skip_stray_first_frames_of_an_unfit_layout() {
        let notices = Notices::default();
        let mut a = IntrospectionAnalyser::new(IntrospectionConfig::default(), library(4))
            .unwrap()
            .with_notices(notices.clone());
        let mut out = Vec::new();
        for _ in 0..5 {
            a.analyse(&frame(1, 6, 1.0), &mut out).unwrap();
        }
        assert!(out.is_empty());
        for i in 0..30 {
            a.analyse(&frame(1, 4, 1.0 + i as f32), &mut out).unwrap();
            if i % 10 == 0 {
                a.analyse(&frame(1, 6, 1.0), &mut out).unwrap();
            }
        }
        assert_eq!(out.len(), 30);
        let last = out
            .last()
            .unwrap()
            .downcast_ref::<IntrospectionSnapshot>()
            .unwrap();
        assert_eq!(last.frame_count, 30);
        assert_eq!((a.layout_skipped(1), a.skipped()), (8, 8));
        a.finish(&mut out).unwrap();
        let said = notices.take();
        assert!(
            said.len() == 1
                && said[0].contains("8 of 38 frames skipped")
                && said[0].contains("also 1x1x6; analysed in 1x1x4"),
            "{said:?}"
        );
    }

    /// A thinning longer than a node's stream gives it no snapshot, and the end says so; a
    /// node with a snapshot is not named.
    #[test]
    fn a_thinning_longer_than_the_stream_is_reported() {
        let notices = Notices::default();
        let cfg = IntrospectionConfig {
            every: 8,
            ..IntrospectionConfig::default()
        };
        let mut a = IntrospectionAnalyser::new(cfg, library(4))
            .unwrap()
            .with_notices(notices.clone());
        let mut out = Vec::new();
        for i in 0..10 {
            a.analyse(&frame(1, 4, 1.0 + i as f32), &mut out).unwrap();
            if i < 5 {
                a.analyse(&frame(2, 4, 1.0), &mut out).unwrap();
            }
        }
        assert_eq!(out.len(), 1, "node 1's eighth frame");
        a.finish(&mut out).unwrap();
        assert_eq!(
            notices.take(),
            [
                "introspection (--introspect-every 8): node 2: no snapshot: its 5 analysed frames \
              are fewer than the 8 of one snapshot"
            ]
        );
    }

    /// `f` in another layout: its first 32 columns.
    fn rare(f: &CsiFrame) -> CsiFrame {
        let mut g = f.clone();
        g.csi = f
            .csi
            .slice_axis(ndarray::Axis(2), ndarray::Slice::from(0..32))
            .to_owned();
        g.subcarriers = f.subcarriers.as_ref().map(|s| s[..32].to_vec());
        g
    }

    /// A fresh analyser with early labelling, matching against nothing.
    fn early_analyser() -> IntrospectionAnalyser {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/signatures/early");
        IntrospectionAnalyser::new(IntrospectionConfig::default(), SignatureLibrary::default())
            .unwrap()
            .with_early(SignatureLibrary::load_dir(dir).unwrap())
            .unwrap()
    }

    /// Starting a node over keeps its counts and what its old layout's analysis has not
    /// reported yet (with `every > 1`: a committed label, an onset, a regime change), and
    /// nothing else of that analysis.
    #[test]
    fn a_start_over_keeps_the_counts_and_what_is_not_yet_reported() {
        let a = early_analyser();
        let mut st = a.prototype.clone();
        (st.seen, st.frames, st.kept, st.changed, st.checked) = (30, 25, 25, true, true);
        st.layout = Some((1, 1, 64, 7));
        let e = st.early.as_mut().unwrap();
        (e.onset, e.event_onset) = (true, true);
        e.commits.push(EarlyCommit {
            label: "walk".into(),
            timestamp_ns: 5,
        });
        st.start_over(&a.prototype, (1, 1, 32, 9));
        assert_eq!(
            (st.seen, st.frames, st.kept, st.changed, st.checked),
            (30, 25, 0, true, false)
        );
        assert_eq!(st.layout, Some((1, 1, 32, 9)));
        assert_eq!(st.other_shapes, [(1, 1, 64)]);
        let e = st.early.as_ref().unwrap();
        assert!(e.onset && !e.event_onset);
        assert_eq!(e.commits.len(), 1);
        assert_eq!(
            e.decider.state(),
            a.prototype.early.as_ref().unwrap().decider.state()
        );
    }

    /// A node that mixes layouts frame by frame (as RuView ESP32 nodes do) and whose first
    /// frame is of the rare one is analysed in its common one, as the sensing analyser does: it
    /// starts over in it once it leads, and from then on its snapshots are those of a node that
    /// only ever sent that layout. A lasting change of layout starts it over again: an early
    /// episode open at the switch ends, and nothing of the old layout's analysis goes on.
    #[test]
    fn mixed_layouts_keep_the_common_one_and_a_lasting_change_starts_over() {
        let sim: Vec<CsiFrame> = wifi_sensing_core::sim::Simulator::new(
            wifi_sensing_core::sim::Scenario::preset("walk", 20.0).unwrap(),
            wifi_sensing_core::sim::DeviceProfile::esp32(),
            3,
        )
        .unwrap()
        .map(|(f, _)| f)
        .collect();
        let (common_end, lasting) = (600, 40);
        assert!(sim.len() >= common_end + lasting);
        let notices = Notices::default();
        let mut a = early_analyser().with_notices(notices.clone());
        // Frame 0 and every fifth frame are of the rare layout, then `lasting` frames of it
        // in a row.
        let mut out = Vec::new();
        for (i, f) in sim[..common_end + lasting].iter().enumerate() {
            let f = if i % 5 == 0 || i >= common_end {
                rare(f)
            } else {
                f.clone()
            };
            out.push((i, a.push(&f).unwrap()));
        }
        // Frame 0 is analysed in its layout; frame 1 is skipped, frame 2 (the second of the
        // common layout) starts the node over: frame 0 counts as skipped, as in the sensing
        // analyser. The rare frames after it are skipped, and so are the first 19 of the
        // lasting change; its 20th starts the node over in the rare layout.
        let rare_after = (2..common_end).filter(|i| i % 5 == 0).count() as u64;
        assert_eq!(a.layout_skipped(1), 2 + rare_after + 19);
        assert_eq!(a.skipped(), a.layout_skipped(1));
        let analysed: Vec<usize> = out
            .iter()
            .filter(|(_, s)| s.is_some())
            .map(|(i, _)| *i)
            .collect();
        let mut want: Vec<usize> = (0..common_end)
            .filter(|&i| i != 1 && (i == 0 || i % 5 != 0))
            .collect();
        want.extend(common_end + 19..common_end + lasting);
        assert_eq!(analysed, want);
        // frame counts go on across the start-overs
        let snaps: Vec<&IntrospectionSnapshot> =
            out.iter().filter_map(|(_, s)| s.as_ref()).collect();
        assert!(snaps
            .iter()
            .enumerate()
            .all(|(k, s)| s.frame_count == k as u64 + 1));
        // From frame 2 on the node is one that only sent the common layout ...
        let mut b = early_analyser();
        let mut k = 1;
        for (i, f) in sim[..common_end].iter().enumerate() {
            if i < 2 || i % 5 == 0 {
                continue;
            }
            let mut s = b.push(f).unwrap().unwrap();
            s.frame_count += 1;
            assert_eq!(&s, snaps[k], "frame {i}");
            k += 1;
        }
        // ... and an early episode is open when the lasting change comes ...
        assert!(snaps[k - 1].early.as_ref().unwrap().moving);
        // ... after which it is one that only sent the rare layout: the episode ended.
        let (mut c, before) = (early_analyser(), k as u64);
        for f in &sim[common_end + 19..common_end + lasting] {
            let mut s = c.push(&rare(f)).unwrap().unwrap();
            s.frame_count += before;
            assert_eq!(&s, snaps[k]);
            k += 1;
        }
        assert_eq!(k, snaps.len());
        assert!(
            !snaps[snaps.len() - lasting + 19]
                .early
                .as_ref()
                .unwrap()
                .moving
        );
        let shape = |f: &CsiFrame| {
            let (r, t, n) = f.shape();
            format!("{r}x{t}x{n}")
        };
        a.finish(&mut Vec::new()).unwrap();
        assert_eq!(
            notices.take(),
            [format!(
                "introspection (--introspect): node 1: {} of {} frames skipped for their \
                 subcarrier layout (also {}; analysed in {}); a node that mixes layouts is \
                 analysed in its most common one in its first frames",
                2 + rare_after + 19,
                common_end + lasting,
                shape(&sim[1]),
                shape(&rare(&sim[0])),
            )]
        );
    }
}
