//! [`PoseModel`] (a loaded, checked model), [`Pose`] (the record a window yields) and
//! [`PoseEstimator`] (the pipeline analyser that windows frames, runs the model and decodes).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use ndarray::{ArrayD, ArrayView3, IxDyn};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use wifi_sensing_core::{Analyser, Analysis, CsiFrame};

use crate::backend::{self, Backend, BackendKind};
use crate::decode::{self, DensePose, Keypoint, Rejected};
use crate::error::{PoseError, Result};
use crate::manifest::{manifest_path_for, Axis, Manifest, OutputSpec};
use crate::track::TrackHeading;
use crate::window::{Window, WindowConfig, WindowStats, Windower};

/// Largest model file read, bytes (1 GiB).
pub const MAX_MODEL_BYTES: u64 = 1 << 30;

/// How to load a model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoadOptions {
    /// Which backend runs the model.
    pub backend: BackendKind,
    /// Windows per model run (1 for live streams; more for offline files).
    pub batch: usize,
    /// Manifest path; `None` uses the model path with the extension `.json`.
    pub manifest: Option<PathBuf>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            backend: BackendKind::Tract,
            batch: 1,
            manifest: None,
        }
    }
}

/// A model with its manifest, checked against each other, ready to run.
pub struct PoseModel {
    manifest: Manifest,
    path: PathBuf,
    sha256: String,
    backend: Box<dyn Backend>,
    load_time_s: f64,
}

impl std::fmt::Debug for PoseModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PoseModel")
            .field("model", &self.manifest.model)
            .field("path", &self.path)
            .field("sha256", &self.sha256)
            .field("backend", &self.backend.name())
            .finish()
    }
}

/// Reads a model file (bounded) and returns its bytes and SHA-256 (hex). An empty file and a
/// JSON file (a manifest given as the model) are refused as not ONNX.
pub fn read_model(path: &Path) -> Result<(Vec<u8>, String)> {
    let io = |source| PoseError::Io {
        path: path.into(),
        source,
    };
    let len = std::fs::metadata(path).map_err(io)?.len();
    if len > MAX_MODEL_BYTES {
        return Err(PoseError::Graph {
            model: path.into(),
            reason: format!("{len} bytes, more than the {MAX_MODEL_BYTES} this build reads"),
        });
    }
    let bytes = std::fs::read(path).map_err(io)?;
    sniff_model(&bytes, path)?;
    let sha = Sha256::digest(&bytes);
    let hex = sha.iter().map(|b| format!("{b:02x}")).collect();
    Ok((bytes, hex))
}

/// Refuses what cannot be an ONNX model before a backend reads it: an empty file, and a text
/// (JSON) file such as a manifest given as the model.
fn sniff_model(bytes: &[u8], path: &Path) -> Result<()> {
    let reason = if bytes.is_empty() {
        "the file is empty (0 bytes), not an ONNX model"
    } else if matches!(
        bytes.iter().find(|b| !b.is_ascii_whitespace()),
        Some(b'{' | b'[')
    ) {
        "this is a JSON file, not an ONNX model (a model is MODEL.onnx; its manifest is the \
         JSON file beside it, MODEL.json)"
    } else {
        return Ok(());
    };
    Err(PoseError::Graph {
        model: path.into(),
        reason: reason.into(),
    })
}

impl PoseModel {
    /// Loads `model.onnx` with its manifest `model.json`, checks them against each other and
    /// compiles the model.
    ///
    /// ```
    /// use wifi_sensing_pose::{LoadOptions, PoseModel};
    /// let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/models/linear_keypoints.onnx");
    /// let model = PoseModel::load(path, &LoadOptions::default()).unwrap();
    /// assert_eq!(model.manifest().input.window_frames, 4);
    /// assert_eq!(model.sha256().len(), 64);
    /// ```
    pub fn load(path: impl AsRef<Path>, options: &LoadOptions) -> Result<PoseModel> {
        let path = path.as_ref();
        if options.batch == 0 || options.batch > 4096 {
            return Err(PoseError::Config(format!(
                "batch {} is outside 1..=4096",
                options.batch
            )));
        }
        let t0 = Instant::now();
        // a missing model is named as such, not as its missing manifest
        std::fs::metadata(path).map_err(|source| PoseError::Io {
            path: path.into(),
            source,
        })?;
        let manifest_path = options
            .manifest
            .clone()
            .unwrap_or_else(|| manifest_path_for(path));
        let manifest = Manifest::load(&manifest_path)?;
        let (bytes, sha256) = read_model(path)?;
        let backend = backend::load(options.backend, &bytes, path, &manifest, options.batch)?;
        Ok(PoseModel {
            manifest,
            path: path.into(),
            sha256,
            backend,
            load_time_s: t0.elapsed().as_secs_f64(),
        })
    }

    /// Wraps an already built backend (for backends configured by hand, such as ONNX Runtime
    /// with execution providers). The manifest must be the one the backend was checked with.
    pub fn from_backend(
        manifest: Manifest,
        path: impl Into<PathBuf>,
        sha256: String,
        backend: Box<dyn Backend>,
    ) -> PoseModel {
        PoseModel {
            manifest,
            path: path.into(),
            sha256,
            backend,
            load_time_s: 0.0,
        }
    }

    /// The manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// SHA-256 of the `.onnx` file, lower-case hex.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// The model file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The backend's name.
    pub fn backend_name(&self) -> &'static str {
        self.backend.name()
    }

    /// Windows per run.
    pub fn batch(&self) -> usize {
        self.backend.batch()
    }

    /// Seconds [`PoseModel::load`] took (reading, checking, compiling).
    pub fn load_time_s(&self) -> f64 {
        self.load_time_s
    }

    /// Runs the model on a raw input tensor in the manifest's layout (shape
    /// [`Manifest::input_shape`] for [`PoseModel::batch`] windows) and returns the output
    /// tensors the manifest names, in order.
    pub fn run_raw(&mut self, input: ndarray::ArrayViewD<'_, f32>) -> Result<Vec<ArrayD<f32>>> {
        let want = self.manifest.input_shape(self.batch());
        if input.shape() != want.as_slice() {
            return Err(PoseError::Config(format!(
                "input shape {:?}, the model takes {want:?}",
                input.shape()
            )));
        }
        let out = self.backend.run(input)?;
        backend::expect_outputs(self.backend.name(), out.len(), &self.manifest)?;
        Ok(out)
    }

    /// Runs the model on up to [`PoseModel::batch`] windows (a short batch is padded with
    /// copies of its last window, whose results are dropped) and decodes each.
    pub fn infer(
        &mut self,
        windows: &[Window],
    ) -> Result<Vec<std::result::Result<Decoded, Rejected>>> {
        let b = self.batch();
        if windows.is_empty() || windows.len() > b {
            return Err(PoseError::Config(format!(
                "{} windows for a batch of {b}",
                windows.len()
            )));
        }
        let input = assemble(&self.manifest, windows, b)?;
        let outputs = self.run_raw(input.view())?;
        (0..windows.len())
            .map(|k| decode_item(&self.manifest, &outputs, k))
            .collect()
    }
}

/// Builds the input tensor for `batch` windows (padding with the last one) in the manifest's
/// layout.
pub fn assemble(manifest: &Manifest, windows: &[Window], batch: usize) -> Result<ArrayD<f32>> {
    let canon = manifest.canonical_shape(batch);
    let per = canon[1..].iter().product::<usize>();
    let mut data = Vec::with_capacity(per * batch);
    for k in 0..batch {
        let w = &windows[k.min(windows.len() - 1)];
        if w.data.len() != per {
            return Err(PoseError::Config(format!(
                "window of {} values, the model takes {per}",
                w.data.len()
            )));
        }
        data.extend_from_slice(&w.data);
    }
    let a = ArrayD::from_shape_vec(IxDyn(&canon), data)
        .map_err(|e| PoseError::Config(e.to_string()))?;
    // Present axes in layout order, then the left-out (size-1) axes; permute and drop those.
    let layout = &manifest.input.layout;
    let mut perm: Vec<usize> = layout
        .iter()
        .map(|ax| Axis::CANONICAL.iter().position(|c| c == ax).unwrap_or(0))
        .collect();
    perm.extend((0..7).filter(|i| !layout.contains(&Axis::CANONICAL[*i])));
    let shape = manifest.input_shape(batch);
    let permuted = a.permuted_axes(IxDyn(&perm));
    let std = permuted.as_standard_layout().into_owned();
    std.into_shape_with_order(IxDyn(&shape))
        .map_err(|e| PoseError::Config(e.to_string()))
}

/// A decoded window: keypoints and, where the model has them, DensePose outputs.
#[derive(Clone, Debug, PartialEq)]
pub struct Decoded {
    /// 17 COCO keypoints.
    pub keypoints: Vec<Keypoint>,
    /// DensePose-style parts, if the model has them.
    pub densepose: Option<DensePose>,
}

fn item<'a>(out: &'a ArrayD<f32>, k: usize, name: &str) -> Result<ndarray::ArrayViewD<'a, f32>> {
    if out.ndim() == 0 || k >= out.shape()[0] {
        return Err(PoseError::Output {
            tensor: name.into(),
            reason: format!("shape {:?} has no batch item {k}", out.shape()),
        });
    }
    Ok(out.index_axis(ndarray::Axis(0), k))
}

fn view3<'a>(v: ndarray::ArrayViewD<'a, f32>, name: &str) -> Result<ArrayView3<'a, f32>> {
    let shape = v.shape().to_vec();
    v.into_dimensionality().map_err(|_| PoseError::Output {
        tensor: name.into(),
        reason: format!("per-window shape {shape:?}, expected 3 dimensions"),
    })
}

fn decode_item(
    m: &Manifest,
    outputs: &[ArrayD<f32>],
    k: usize,
) -> Result<std::result::Result<Decoded, Rejected>> {
    let name = m.output.tensor();
    let main = item(&outputs[0], k, name)?;
    let kp = match &m.output {
        OutputSpec::Keypoints {
            dims,
            confidence_activation,
            ..
        } => {
            let flat: Vec<f32> = main.iter().copied().collect();
            decode::decode_keypoints(&flat, *dims, *confidence_activation)
        }
        OutputSpec::Heatmaps {
            extent,
            confidence_activation,
            ..
        } => decode::decode_heatmaps(view3(main, name)?, extent, *confidence_activation),
    };
    let keypoints = match kp {
        Ok(k) => k,
        Err(r) => return Ok(Err(r)),
    };
    let densepose = match m.output.densepose() {
        None => None,
        Some(d) => {
            let p = view3(item(&outputs[1], k, &d.parts_tensor)?, &d.parts_tensor)?;
            let u = view3(item(&outputs[2], k, &d.u_tensor)?, &d.u_tensor)?;
            let v = view3(item(&outputs[3], k, &d.v_tensor)?, &d.v_tensor)?;
            match decode::decode_densepose(p, u, v) {
                Ok(d) => Some(d),
                Err(r) => return Ok(Err(r)),
            }
        }
    };
    Ok(Ok(Decoded {
        keypoints,
        densepose,
    }))
}

/// Which model produced a pose.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelRef {
    /// Model id from the manifest.
    pub id: String,
    /// Model version from the manifest.
    pub version: String,
    /// SHA-256 of the `.onnx` file.
    pub sha256: String,
    /// Backend that ran it (`tract` or `ort`).
    pub backend: String,
}

/// The time span of the window a pose comes from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WindowSpan {
    /// Time of the first grid point, ns (the frames' clock).
    pub start_ns: i64,
    /// Time of the last grid point, ns.
    pub end_ns: i64,
    /// Grid points (model frames) in the window.
    pub frames: usize,
    /// The model's frame rate, Hz.
    pub frame_rate_hz: f64,
    /// Grid points that had no frame near them and were filled from neighbours (summed over
    /// nodes).
    pub missing_frames: usize,
    /// Nodes in the window, in the model's order.
    pub nodes: Vec<u32>,
    /// Time of each node's newest frame at or before `end_ns`, ns, in `nodes` order: the
    /// capture's own frame times, so a pose can be tied to the session it came from (`model
    /// score` checks them against the ground truth's frames). Empty in records written before
    /// the field existed.
    #[serde(default)]
    pub last_frame_ns: Vec<i64>,
}

/// One pose estimate (JSON record type `pose`, schema `docs/schema/pose-v1.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pose {
    /// Always `model`: every pose comes from running a model.
    pub source: String,
    /// The model.
    pub model: ModelRef,
    /// The window.
    pub window: WindowSpan,
    /// Coordinate frame of the keypoints (from the manifest, such as `room_m`).
    pub coordinate_frame: String,
    /// 17 keypoints in COCO order.
    pub keypoints: Vec<Keypoint>,
    /// Confidence of each keypoint, COCO order (the same values as in `keypoints`).
    pub joint_confidence: Vec<f64>,
    /// Mean of the joint confidences.
    pub confidence: f64,
    /// The manifest's heading-from-track step ([`crate::track`]) turned this pose to the
    /// direction of travel (fully, or blended with the model's pose between the step's two
    /// speeds). `false` for every other pose: then the root-relative pose is the model's own,
    /// and one window of CSI carries little or no heading (the reference model then gives an
    /// activity's mean pose averaged over all headings, whose left and right joints nearly
    /// meet on the body's vertical axis).
    #[serde(default)]
    pub heading_from_track: bool,
    /// DensePose-style part summaries, for models that have them.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub densepose: Option<DensePose>,
}

/// Counters of a [`PoseEstimator`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoseStats {
    /// Windowing counters.
    pub window: WindowStats,
    /// Model runs.
    pub runs: u64,
    /// Poses produced.
    pub poses: u64,
    /// Windows whose model output could not be decoded (non-finite values, confidences out of
    /// range): no pose.
    pub invalid_output: u64,
}

/// A handle to read a [`PoseEstimator`]'s counters from outside the pipeline.
#[derive(Clone, Debug, Default)]
pub struct PoseStatsHandle(Arc<Mutex<PoseStats>>);

impl PoseStatsHandle {
    /// The counters now.
    pub fn get(&self) -> PoseStats {
        self.0.lock().map(|s| *s).unwrap_or_default()
    }
}

/// The pipeline analyser: windows frames, runs the model, emits [`Pose`] records (kind `pose`).
///
/// ```
/// use wifi_sensing_pose::{LoadOptions, PoseEstimator, PoseModel, WindowConfig};
/// let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/models/linear_keypoints.onnx");
/// let model = PoseModel::load(path, &LoadOptions::default()).unwrap();
/// let est = PoseEstimator::new(model, WindowConfig::default()).unwrap();
/// assert_eq!(est.stats().poses, 0);
/// ```
pub struct PoseEstimator {
    model: PoseModel,
    windower: Windower,
    pending: Vec<Window>,
    windows: Vec<Window>,
    stats: PoseStats,
    shared: PoseStatsHandle,
    last_error: Option<String>,
    /// The manifest's `post_processing.track_heading` step, if it asks for one.
    track: Option<TrackHeading>,
}

/// The model, the windows under way and the counts (the backend's inner state is not shown).
impl std::fmt::Debug for PoseEstimator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PoseEstimator")
            .field("model", &self.model)
            .field("pending_windows", &self.pending.len())
            .field("stats", &self.stats)
            .field("last_error", &self.last_error)
            .field("track_heading", &self.track.is_some())
            .finish_non_exhaustive()
    }
}

/// Analyser name of pose records.
pub const ANALYSER: &str = "pose";

/// Record kind (JSON `type`) of pose records.
pub const KIND: &str = "pose";

impl PoseEstimator {
    /// An estimator for a loaded model.
    pub fn new(model: PoseModel, window: WindowConfig) -> Result<Self> {
        let windower = Windower::new(model.manifest(), window)?;
        let track = model
            .manifest()
            .track_heading()
            .map(|spec| TrackHeading::new(spec.clone()))
            .transpose()?;
        Ok(PoseEstimator {
            model,
            windower,
            pending: Vec::new(),
            windows: Vec::new(),
            stats: PoseStats::default(),
            shared: PoseStatsHandle::default(),
            last_error: None,
            track,
        })
    }

    /// The model.
    pub fn model(&self) -> &PoseModel {
        &self.model
    }

    /// Counters so far.
    pub fn stats(&self) -> PoseStats {
        self.stats
    }

    /// A handle that reads the counters while the estimator sits in a pipeline.
    pub fn stats_handle(&self) -> PoseStatsHandle {
        self.shared.clone()
    }

    /// Feeds one frame; poses of windows completed by it are appended to `out`.
    pub fn push(&mut self, frame: &CsiFrame, out: &mut Vec<Pose>) -> Result<()> {
        let mut ready = std::mem::take(&mut self.windows);
        let r = self.windower.push(frame, &mut ready);
        let r2 = self.take(&mut ready, false, out);
        self.windows = ready;
        self.sync();
        r.and(r2)
    }

    /// Ends the stream: builds the last windows and runs any partial batch.
    pub fn finish(&mut self, out: &mut Vec<Pose>) -> Result<()> {
        let mut ready = std::mem::take(&mut self.windows);
        self.windower.finish(&mut ready);
        let r = self.take(&mut ready, true, out);
        self.windows = ready;
        self.sync();
        r
    }

    fn sync(&mut self) {
        self.stats.window = self.windower.stats();
        if let Ok(mut s) = self.shared.0.lock() {
            *s = self.stats;
        }
    }

    fn take(&mut self, ready: &mut Vec<Window>, flush: bool, out: &mut Vec<Pose>) -> Result<()> {
        self.pending.append(ready);
        let b = self.model.batch();
        while self.pending.len() >= b || (flush && !self.pending.is_empty()) {
            let n = self.pending.len().min(b);
            let batch: Vec<Window> = self.pending.drain(..n).collect();
            let decoded = self.model.infer(&batch)?;
            self.stats.runs += 1;
            for (w, d) in batch.into_iter().zip(decoded) {
                match d {
                    Ok(mut d) => {
                        let turned = match &mut self.track {
                            Some(t) => t.apply(w.end_ns, &mut d.keypoints).is_some(),
                            None => false,
                        };
                        out.push(self.make_pose(w, d, turned));
                        self.stats.poses += 1;
                    }
                    Err(Rejected(reason)) => {
                        self.stats.invalid_output += 1;
                        self.last_error = Some(reason);
                    }
                }
            }
        }
        Ok(())
    }

    /// Why the last rejected window's output was not decoded, if any was.
    pub fn last_rejection(&self) -> Option<&str> {
        self.last_error.as_deref()
    }

    fn make_pose(&self, w: Window, d: Decoded, heading_from_track: bool) -> Pose {
        let m = self.model.manifest();
        let joint_confidence: Vec<f64> = d.keypoints.iter().map(|k| k.confidence).collect();
        let confidence =
            joint_confidence.iter().sum::<f64>() / joint_confidence.len().max(1) as f64;
        Pose {
            source: "model".into(),
            model: ModelRef {
                id: m.model.id.clone(),
                version: m.model.version.clone(),
                sha256: self.model.sha256().to_string(),
                backend: self.model.backend_name().to_string(),
            },
            window: WindowSpan {
                start_ns: w.start_ns,
                end_ns: w.end_ns,
                frames: m.input.window_frames,
                frame_rate_hz: m.input.frame_rate_hz,
                missing_frames: w.missing,
                nodes: w.nodes,
                last_frame_ns: w.last_frame_ns,
            },
            coordinate_frame: m.output.coordinate_frame().to_string(),
            keypoints: d.keypoints,
            joint_confidence,
            confidence,
            heading_from_track,
            densepose: d.densepose,
        }
    }

    fn to_analysis(pose: Pose) -> Analysis {
        let node_id = match pose.window.nodes.as_slice() {
            [n] => Some(*n),
            _ => None,
        };
        Analysis::new(ANALYSER, KIND, pose.window.end_ns, node_id, pose)
    }
}

impl Analyser for PoseEstimator {
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
    fn name(&self) -> &str {
        ANALYSER
    }

    fn analyse(
        &mut self,
        frame: &CsiFrame,
        out: &mut Vec<Analysis>,
    ) -> wifi_sensing_core::Result<()> {
        let mut poses = Vec::new();
        self.push(frame, &mut poses)?;
        out.extend(poses.into_iter().map(Self::to_analysis));
        Ok(())
    }

    fn finish(&mut self, out: &mut Vec<Analysis>) -> wifi_sensing_core::Result<()> {
        let mut poses = Vec::new();
        PoseEstimator::finish(self, &mut poses)?;
        out.extend(poses.into_iter().map(Self::to_analysis));
        Ok(())
    }

    fn reset(&mut self) {
        self.windower.reset();
        self.pending.clear();
        if let Some(t) = &mut self.track {
            t.reset();
        }
        self.stats = PoseStats::default();
        self.sync();
    }
}
