//! The model contract: a JSON manifest beside the `.onnx` file, and its loader.
//!
//! The manifest says what the model expects (input tensor, window, antennas, subcarriers,
//! channels, frame rate, device, normalisation, the room it was trained in) and what it returns
//! (keypoints, heatmaps, optionally DensePose-style parts and UV). [`Manifest::load`] refuses a
//! manifest with a missing or out-of-range field, naming the file and the field;
//! [`crate::graph::check`] then compares it with the ONNX graph.
//!
//! The manifest of `model.onnx` is `model.json` in the same folder ([`manifest_path_for`]).
//! A complete example is `fixtures/models/linear_keypoints.json` in the repository.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{PoseError, Result};
use crate::track::TrackHeadingSpec;

/// The manifest format version this build reads.
pub const MANIFEST_VERSION: u32 = 1;

/// Largest manifest file read (bytes): a manifest is a few kilobytes.
pub const MAX_MANIFEST_BYTES: u64 = 4 << 20;

/// Upper bound on any one input dimension (frames, subcarriers, ...), so that a manifest cannot
/// make the windower allocate without bound.
pub const MAX_DIM: usize = 1 << 16;

/// Upper bound on the number of values in one input window (all axes but the batch).
pub const MAX_WINDOW_VALUES: usize = 1 << 24;

/// The 17 COCO keypoint names in COCO order (the simulator's ground truth uses the same list).
pub use wifi_sensing_core::sim::COCO_KEYPOINTS;

/// DensePose body parts: 24 parts plus background (channel 0).
pub const DENSEPOSE_CHANNELS: usize = 25;

/// A model manifest (format version [`MANIFEST_VERSION`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Format version; must be [`MANIFEST_VERSION`].
    pub manifest_version: u32,
    /// Which model this is.
    pub model: ModelId,
    /// The input tensor and how windows of CSI are prepared for it.
    pub input: InputSpec,
    /// The sensing layout the model was trained for.
    pub sensing_layout: SensingLayout,
    /// What the model returns and how to decode it.
    pub output: OutputSpec,
    /// Where the model comes from and what it is fit for.
    pub data_card: DataCard,
    /// Steps applied to the decoded keypoints across windows (absent: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_processing: Option<PostProcessing>,
}

/// Steps a [`crate::PoseEstimator`] applies to the decoded keypoints, in time order, because
/// they need state across windows (a model graph sees one window).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostProcessing {
    /// Turn the pose to the direction of travel ([`crate::track`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub track_heading: Option<TrackHeadingSpec>,
}

/// Model identity.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelId {
    /// Stable identifier (`wifi-pose-ref`).
    pub id: String,
    /// Version of the trained weights (`1.0.0`).
    pub version: String,
}

/// An axis of the model's input tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Axis {
    /// Windows in one batch.
    Batch,
    /// Time steps of a window, at [`InputSpec::frame_rate_hz`].
    Frames,
    /// Receiving nodes, in [`InputSpec::node_ids`] order.
    Nodes,
    /// Receive antennas.
    Rx,
    /// Transmit antennas (spatial streams).
    Tx,
    /// Subcarriers, in [`InputSpec::subcarrier_indices`] order.
    Subcarriers,
    /// Feature channels, in [`InputSpec::channels`] order.
    Channels,
}

impl Axis {
    /// The seven axes in the order windows are assembled internally.
    pub const CANONICAL: [Axis; 7] = [
        Axis::Batch,
        Axis::Frames,
        Axis::Nodes,
        Axis::Rx,
        Axis::Tx,
        Axis::Subcarriers,
        Axis::Channels,
    ];

    /// Name as written in the manifest.
    pub fn name(self) -> &'static str {
        match self {
            Axis::Batch => "batch",
            Axis::Frames => "frames",
            Axis::Nodes => "nodes",
            Axis::Rx => "rx",
            Axis::Tx => "tx",
            Axis::Subcarriers => "subcarriers",
            Axis::Channels => "channels",
        }
    }
}

/// A feature channel computed from each frame's CSI.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// `|H|`.
    Amplitude,
    /// Phase in radians, unwrapped along the subcarriers with its linear trend (timing and
    /// carrier frequency offsets) removed.
    PhaseSanitised,
    /// `|H_rx / H_0|`: amplitude of the CSI ratio of each receive antenna to antenna 0 (same
    /// transmit antenna). Antenna 0's own ratio is 1.
    RatioAmplitude,
    /// `arg(H_rx / H_0)` in radians (antenna 0's own is 0).
    RatioPhase,
}

/// The model's input tensor and how windows are prepared.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    /// Name of the input tensor in the ONNX graph.
    pub tensor: String,
    /// Axes of the input tensor in order. `batch`, `frames`, `subcarriers` and `channels` are
    /// required; `nodes`, `rx` and `tx` may be left out when their size is 1.
    pub layout: Vec<Axis>,
    /// Window length in frames (time steps at `frame_rate_hz`).
    pub window_frames: usize,
    /// Number of receiving nodes in one window.
    pub nodes: usize,
    /// Receive antennas per node.
    pub rx: usize,
    /// Transmit antennas.
    pub tx: usize,
    /// Subcarriers per antenna pair.
    pub subcarriers: usize,
    /// Feature channels, in the order of the `channels` axis.
    pub channels: Vec<Channel>,
    /// Frame rate (Hz) the model was trained at; streams are resampled to it.
    pub frame_rate_hz: f64,
    /// Lowest measured stream frame rate accepted, as a fraction of `frame_rate_hz` (a slower
    /// stream would have to be invented by interpolation). Default 0.8.
    #[serde(default = "default_min_rate_fraction")]
    pub min_rate_fraction: f64,
    /// Device profile the model expects (a `wifi_sensing_core::Device` name in snake case,
    /// such as `esp32` or `iwl5300`); `None` accepts any device.
    #[serde(default)]
    pub device: Option<String>,
    /// Subcarrier indices (relative to the channel centre) to take from each frame, in order;
    /// `None` takes every column as it comes, and then frames must have exactly `subcarriers`
    /// columns.
    #[serde(default)]
    pub subcarrier_indices: Option<Vec<i16>>,
    /// Node ids of the `nodes` axis, in order. Required when `nodes` > 1; with one node and no
    /// list, every node of the stream gets its own windows and poses.
    #[serde(default)]
    pub node_ids: Option<Vec<u32>>,
    /// Per-channel normalisation applied after the channels are computed.
    pub normalisation: Normalisation,
}

fn default_min_rate_fraction() -> f64 {
    0.8
}

/// Per-channel normalisation `(x - mean) / std`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Normalisation {
    /// Mean of each channel (one value per entry of [`InputSpec::channels`]).
    pub mean: Vec<f32>,
    /// Standard deviation of each channel (positive).
    pub std: Vec<f32>,
}

/// A point in the room frame, metres.
pub type Position = [f64; 3];

/// The sensing layout the model was trained for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SensingLayout {
    /// Room size (x, y, z) in metres; the room frame has its origin at a floor corner, z up.
    pub room_size_m: [f64; 3],
    /// Transmitters.
    pub transmitters: Vec<Transmitter>,
    /// Receivers (nodes).
    pub receivers: Vec<Receiver>,
}

/// A transmitter of the training layout.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Transmitter {
    /// Free-form name.
    pub id: String,
    /// Position in the room frame, metres.
    pub position_m: Position,
}

/// A receiver (node) of the training layout.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Receiver {
    /// Node id the receiver's frames carry.
    pub node_id: u32,
    /// Position in the room frame, metres.
    pub position_m: Position,
}

/// How confidences come out of the model.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// Already probabilities in `[0, 1]`.
    #[default]
    None,
    /// Logits: the decoder applies the logistic function.
    Sigmoid,
}

/// The 2-D area a heatmap covers, in the output coordinate frame.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Extent {
    /// Coordinate of the left edge of column 0.
    pub x_min: f64,
    /// Coordinate of the right edge of the last column.
    pub x_max: f64,
    /// Coordinate of the top edge of row 0.
    pub y_min: f64,
    /// Coordinate of the bottom edge of the last row.
    pub y_max: f64,
}

/// What the model returns.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum OutputSpec {
    /// Direct regression: a tensor of `[batch, 17, dims + 1]` values (x, y, z where `dims` is 3,
    /// then confidence), COCO order. Any shape with that many values per batch item is read
    /// row-major.
    Keypoints {
        /// Output tensor name.
        tensor: String,
        /// Coordinate frame of x, y (, z), such as `room_m`.
        coordinate_frame: String,
        /// 2 or 3.
        dims: usize,
        /// How the confidence column is to be read.
        #[serde(default)]
        confidence_activation: Activation,
        /// Optional DensePose-style outputs.
        #[serde(default)]
        densepose: Option<DensePoseSpec>,
    },
    /// Keypoint heatmaps `[batch, 17, height, width]`: the decoder takes each map's argmax,
    /// refines it to sub-pixel precision with a 3-point parabola per axis, and maps it into
    /// `extent`. The confidence is the (activated) peak value. 2-D only.
    Heatmaps {
        /// Output tensor name.
        tensor: String,
        /// Coordinate frame of the extent, such as `room_m` (a top view: x, y on the floor).
        coordinate_frame: String,
        /// Area covered by the heatmap.
        extent: Extent,
        /// How heatmap values are to be read as confidences.
        #[serde(default)]
        confidence_activation: Activation,
        /// Optional DensePose-style outputs.
        #[serde(default)]
        densepose: Option<DensePoseSpec>,
    },
}

/// DensePose-style outputs: part logits and per-part U, V coordinates, each
/// `[batch, 25, height, width]` (channel 0 = background, 1..=24 the body parts).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DensePoseSpec {
    /// Part logits tensor.
    pub parts_tensor: String,
    /// U coordinate tensor.
    pub u_tensor: String,
    /// V coordinate tensor.
    pub v_tensor: String,
}

impl OutputSpec {
    /// The coordinate frame keypoints are reported in.
    pub fn coordinate_frame(&self) -> &str {
        match self {
            OutputSpec::Keypoints {
                coordinate_frame, ..
            }
            | OutputSpec::Heatmaps {
                coordinate_frame, ..
            } => coordinate_frame,
        }
    }

    /// The keypoint (or heatmap) tensor name.
    pub fn tensor(&self) -> &str {
        match self {
            OutputSpec::Keypoints { tensor, .. } | OutputSpec::Heatmaps { tensor, .. } => tensor,
        }
    }

    /// The DensePose outputs, if any.
    pub fn densepose(&self) -> Option<&DensePoseSpec> {
        match self {
            OutputSpec::Keypoints { densepose, .. } | OutputSpec::Heatmaps { densepose, .. } => {
                densepose.as_ref()
            }
        }
    }

    /// Every output tensor the decoder reads, keypoints first.
    pub fn tensors(&self) -> Vec<&str> {
        let mut v = vec![self.tensor()];
        if let Some(d) = self.densepose() {
            v.extend([
                d.parts_tensor.as_str(),
                d.u_tensor.as_str(),
                d.v_tensor.as_str(),
            ]);
        }
        v
    }
}

/// Where a model comes from and what it is fit for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataCard {
    /// What the model does.
    pub description: String,
    /// What it was trained on (data set, size, subjects, rooms).
    pub training_data: String,
    /// How it was evaluated and with what result (or `not evaluated`).
    pub evaluation: String,
    /// Known limitations.
    pub limitations: String,
    /// Licence of the weights.
    pub license: String,
}

/// The manifest path of a model: the same path with the extension `.json`.
///
/// ```
/// use std::path::Path;
/// assert_eq!(
///     wifi_sensing_pose::manifest::manifest_path_for(Path::new("m/pose.onnx")),
///     Path::new("m/pose.json")
/// );
/// ```
pub fn manifest_path_for(model: &Path) -> PathBuf {
    model.with_extension("json")
}

impl Manifest {
    /// The `post_processing.track_heading` step this manifest asks for, if any.
    ///
    /// ```
    /// let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/models");
    /// let reference = wifi_sensing_pose::Manifest::load(format!("{dir}/wifi-pose-ref.json"))?;
    /// assert!(reference.track_heading().unwrap().span_s > 0.0);
    /// let plain = wifi_sensing_pose::Manifest::load(format!("{dir}/linear_keypoints.json"))?;
    /// assert!(plain.track_heading().is_none());
    /// # Ok::<(), wifi_sensing_pose::PoseError>(())
    /// ```
    pub fn track_heading(&self) -> Option<&TrackHeadingSpec> {
        self.post_processing
            .as_ref()
            .and_then(|p| p.track_heading.as_ref())
    }

    /// Reads and validates a manifest file.
    ///
    /// ```
    /// let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/models/linear_keypoints.json");
    /// let m = wifi_sensing_pose::Manifest::load(path).unwrap();
    /// assert_eq!(m.model.id, "test-linear-keypoints");
    /// ```
    pub fn load(path: impl AsRef<Path>) -> Result<Manifest> {
        let path = path.as_ref();
        let io = |source| PoseError::Io {
            path: path.to_path_buf(),
            source,
        };
        let len = std::fs::metadata(path).map_err(io)?.len();
        if len > MAX_MANIFEST_BYTES {
            return Err(PoseError::Manifest {
                path: path.into(),
                field: "(file)".into(),
                reason: format!(
                    "{len} bytes, more than the {MAX_MANIFEST_BYTES} a manifest may have"
                ),
            });
        }
        let bytes = std::fs::read(path).map_err(io)?;
        let text = String::from_utf8(bytes).map_err(|_| PoseError::Manifest {
            path: path.into(),
            field: "(file)".into(),
            reason: "not a text (JSON) file; a manifest is the MODEL.json beside the .onnx \
                     model, not the model itself"
                .into(),
        })?;
        Manifest::from_json(&text, path)
    }

    /// Parses and validates a manifest; `path` is only used in error messages.
    pub fn from_json(text: &str, path: &Path) -> Result<Manifest> {
        let bad = |field: String, e: serde_json::Error| PoseError::Manifest {
            path: path.into(),
            field,
            reason: e.to_string(),
        };
        let mut de = serde_json::Deserializer::from_str(text);
        let m: Manifest = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let at = e.path().to_string();
            let inner = e.into_inner();
            bad(serde_field(&at, &inner), inner)
        })?;
        de.end().map_err(|e| bad("(file)".into(), e))?;
        m.validate(path)?;
        Ok(m)
    }

    /// Checks every field's range and the fields' agreement with each other.
    pub fn validate(&self, path: &Path) -> Result<()> {
        let bad = |field: &str, reason: String| PoseError::Manifest {
            path: path.into(),
            field: field.into(),
            reason,
        };
        if self.manifest_version != MANIFEST_VERSION {
            return Err(bad(
                "manifest_version",
                format!(
                    "{} is not supported (this build reads version {MANIFEST_VERSION})",
                    self.manifest_version
                ),
            ));
        }
        if self.model.id.trim().is_empty() {
            return Err(bad("model.id", "empty".into()));
        }
        if self.model.version.trim().is_empty() {
            return Err(bad("model.version", "empty".into()));
        }
        let i = &self.input;
        if i.tensor.is_empty() {
            return Err(bad("input.tensor", "empty".into()));
        }
        // Layout: each axis at most once; required axes present; omitted axes of size 1.
        for (k, a) in i.layout.iter().enumerate() {
            if i.layout[..k].contains(a) {
                return Err(bad(
                    "input.layout",
                    format!("axis `{}` appears twice", a.name()),
                ));
            }
        }
        for a in [Axis::Batch, Axis::Frames, Axis::Subcarriers, Axis::Channels] {
            if !i.layout.contains(&a) {
                return Err(bad(
                    "input.layout",
                    format!("axis `{}` is missing", a.name()),
                ));
            }
        }
        for (name, size) in [
            ("window_frames", i.window_frames),
            ("nodes", i.nodes),
            ("rx", i.rx),
            ("tx", i.tx),
            ("subcarriers", i.subcarriers),
        ] {
            if size == 0 || size > MAX_DIM {
                return Err(bad(
                    &format!("input.{name}"),
                    format!("{size} is outside 1..={MAX_DIM}"),
                ));
            }
        }
        for (a, size) in [(Axis::Nodes, i.nodes), (Axis::Rx, i.rx), (Axis::Tx, i.tx)] {
            if size != 1 && !i.layout.contains(&a) {
                return Err(bad(
                    "input.layout",
                    format!(
                        "axis `{}` is left out but input.{} is {size} (only size-1 axes may be left out)",
                        a.name(),
                        a.name()
                    ),
                ));
            }
        }
        if i.channels.is_empty() || i.channels.len() > 16 {
            return Err(bad("input.channels", "needs 1 to 16 channels".into()));
        }
        let values = [
            i.window_frames,
            i.nodes,
            i.rx,
            i.tx,
            i.subcarriers,
            i.channels.len(),
        ]
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .filter(|&n| n <= MAX_WINDOW_VALUES);
        if values.is_none() {
            return Err(bad(
                "input",
                format!("one window would hold more than {MAX_WINDOW_VALUES} values"),
            ));
        }
        if i.channels
            .iter()
            .any(|c| matches!(c, Channel::RatioAmplitude | Channel::RatioPhase))
            && i.rx < 2
        {
            return Err(bad(
                "input.channels",
                "CSI-ratio channels need at least 2 receive antennas (input.rx)".into(),
            ));
        }
        if !(i.frame_rate_hz.is_finite() && i.frame_rate_hz > 0.0 && i.frame_rate_hz <= 100_000.0) {
            return Err(bad(
                "input.frame_rate_hz",
                format!("{} is not a rate in (0, 100000] Hz", i.frame_rate_hz),
            ));
        }
        if !(i.min_rate_fraction.is_finite()
            && i.min_rate_fraction > 0.0
            && i.min_rate_fraction <= 1.0)
        {
            return Err(bad(
                "input.min_rate_fraction",
                format!("{} is outside (0, 1]", i.min_rate_fraction),
            ));
        }
        if let Some(d) = &i.device {
            if serde_json::from_value::<wifi_sensing_core::Device>(serde_json::Value::String(
                d.clone(),
            ))
            .is_err()
            {
                return Err(bad(
                    "input.device",
                    format!(
                        "`{d}` is not a known device name (esp32, iwl5300, ax210, simulator, ...)"
                    ),
                ));
            }
        }
        if let Some(sc) = &i.subcarrier_indices {
            if sc.len() != i.subcarriers {
                return Err(bad(
                    "input.subcarrier_indices",
                    format!(
                        "{} indices but input.subcarriers is {}",
                        sc.len(),
                        i.subcarriers
                    ),
                ));
            }
            for (k, s) in sc.iter().enumerate() {
                if sc[..k].contains(s) {
                    return Err(bad(
                        "input.subcarrier_indices",
                        format!("index {s} appears twice"),
                    ));
                }
            }
        }
        match &i.node_ids {
            Some(ids) => {
                if ids.len() != i.nodes {
                    return Err(bad(
                        "input.node_ids",
                        format!("{} ids but input.nodes is {}", ids.len(), i.nodes),
                    ));
                }
                for (k, n) in ids.iter().enumerate() {
                    if ids[..k].contains(n) {
                        return Err(bad("input.node_ids", format!("node {n} appears twice")));
                    }
                }
            }
            None if i.nodes > 1 => {
                return Err(bad(
                    "input.node_ids",
                    format!(
                        "required when input.nodes is {} (which node is which?)",
                        i.nodes
                    ),
                ))
            }
            None => {}
        }
        let n = &i.normalisation;
        if n.mean.len() != i.channels.len() {
            return Err(bad(
                "input.normalisation.mean",
                format!("{} values for {} channels", n.mean.len(), i.channels.len()),
            ));
        }
        if n.std.len() != i.channels.len() {
            return Err(bad(
                "input.normalisation.std",
                format!("{} values for {} channels", n.std.len(), i.channels.len()),
            ));
        }
        if let Some(k) = n.mean.iter().position(|v| !v.is_finite()) {
            return Err(bad(
                "input.normalisation.mean",
                format!("value {k} is not finite"),
            ));
        }
        if let Some(k) = n.std.iter().position(|v| !(v.is_finite() && *v > 0.0)) {
            return Err(bad(
                "input.normalisation.std",
                format!("value {k} is not a positive finite number"),
            ));
        }
        let l = &self.sensing_layout;
        if !l.room_size_m.iter().all(|v| v.is_finite() && *v > 0.0) {
            return Err(bad(
                "sensing_layout.room_size_m",
                "each size must be a positive number of metres".into(),
            ));
        }
        for (k, t) in l.transmitters.iter().enumerate() {
            if !t.position_m.iter().all(|v| v.is_finite()) {
                return Err(bad(
                    &format!("sensing_layout.transmitters[{k}].position_m"),
                    "not finite".into(),
                ));
            }
        }
        for (k, r) in l.receivers.iter().enumerate() {
            if !r.position_m.iter().all(|v| v.is_finite()) {
                return Err(bad(
                    &format!("sensing_layout.receivers[{k}].position_m"),
                    "not finite".into(),
                ));
            }
        }
        // the layout's receivers are the nodes the model reads, when both are stated
        if let (Some(ids), false) = (&i.node_ids, l.receivers.is_empty()) {
            for (k, r) in l.receivers.iter().enumerate() {
                if !ids.contains(&r.node_id) {
                    return Err(bad(
                        &format!("sensing_layout.receivers[{k}].node_id"),
                        format!("node {} is not in input.node_ids {ids:?}", r.node_id),
                    ));
                }
                if l.receivers[..k].iter().any(|x| x.node_id == r.node_id) {
                    return Err(bad(
                        &format!("sensing_layout.receivers[{k}].node_id"),
                        format!("node {} has two receivers", r.node_id),
                    ));
                }
            }
            if let Some(n) = ids
                .iter()
                .find(|n| !l.receivers.iter().any(|r| r.node_id == **n))
            {
                return Err(bad(
                    "sensing_layout.receivers",
                    format!("input.node_ids lists node {n}, which has no receiver here"),
                ));
            }
        }
        // single-antenna devices: one receive and one transmit chain per frame
        if let Some(d) = &i.device {
            if matches!(d.as_str(), "esp32" | "esp32_c5_c6") && (i.rx != 1 || i.tx != 1) {
                return Err(bad(
                    "input.rx",
                    format!(
                        "{} x {} chains, but {d} frames have 1 x 1 (one antenna)",
                        i.rx, i.tx
                    ),
                ));
            }
        }
        let o = &self.output;
        if o.coordinate_frame().trim().is_empty() {
            return Err(bad("output.coordinate_frame", "empty".into()));
        }
        let names = o.tensors();
        for (k, t) in names.iter().enumerate() {
            if t.is_empty() {
                return Err(bad("output", "an output tensor name is empty".into()));
            }
            if names[..k].contains(t) {
                return Err(bad("output", format!("tensor `{t}` is named twice")));
            }
        }
        match o {
            OutputSpec::Keypoints { dims, .. } => {
                if !(2..=3).contains(dims) {
                    return Err(bad("output.dims", format!("{dims} is not 2 or 3")));
                }
            }
            OutputSpec::Heatmaps { extent, .. } => {
                let ok = [extent.x_min, extent.x_max, extent.y_min, extent.y_max]
                    .iter()
                    .all(|v| v.is_finite())
                    && extent.x_max != extent.x_min
                    && extent.y_max != extent.y_min;
                if !ok {
                    return Err(bad(
                        "output.extent",
                        "bounds must be finite and span a non-empty area".into(),
                    ));
                }
            }
        }
        if let Some(t) = self.track_heading() {
            if !matches!(o, OutputSpec::Keypoints { dims: 3, .. }) {
                return Err(bad(
                    "post_processing.track_heading",
                    "needs 3-D keypoints (output kind keypoints, dims 3)".into(),
                ));
            }
            // its speeds are metres per second in the room
            if o.coordinate_frame() != "room_m" {
                return Err(bad(
                    "post_processing.track_heading",
                    format!(
                        "needs keypoints in metres in the room (output.coordinate_frame room_m), not {}",
                        o.coordinate_frame()
                    ),
                ));
            }
            t.validate()
                .map_err(|(f, r)| bad(&format!("post_processing.track_heading.{f}"), r))?;
        }
        Ok(())
    }

    /// Size of each internal axis ([`Axis::CANONICAL`] order, batch = `batch`).
    pub fn canonical_shape(&self, batch: usize) -> [usize; 7] {
        let i = &self.input;
        [
            batch,
            i.window_frames,
            i.nodes,
            i.rx,
            i.tx,
            i.subcarriers,
            i.channels.len(),
        ]
    }

    /// Shape of the input tensor for `batch` windows, in the manifest's layout order.
    pub fn input_shape(&self, batch: usize) -> Vec<usize> {
        let c = self.canonical_shape(batch);
        self.input
            .layout
            .iter()
            .map(|a| c[Axis::CANONICAL.iter().position(|x| x == a).unwrap_or(0)])
            .collect()
    }
}

/// The field a serde error is about: the path to the value (`input.channels[0]`), and for an
/// unknown, missing or duplicate field the field's own name under it (`input.foo`).
fn serde_field(at: &str, e: &serde_json::Error) -> String {
    let msg = e.to_string();
    let parent = if at == "." { "" } else { at };
    for marker in ["missing field `", "unknown field `", "duplicate field `"] {
        if let Some(rest) = msg.split(marker).nth(1) {
            if let Some(name) = rest.split('`').next() {
                // the path of an unknown field already ends with it; of a missing one, not
                return if parent.is_empty() {
                    name.to_string()
                } else if parent == name || parent.ends_with(&format!(".{name}")) {
                    parent.to_string()
                } else {
                    format!("{parent}.{name}")
                };
            }
        }
    }
    if parent.is_empty() {
        format!("(line {}, column {})", e.line(), e.column())
    } else {
        parent.to_string()
    }
}
