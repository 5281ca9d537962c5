//! `run --pose MODEL.onnx`: pose records from an ONNX model (crate `wifi-sensing-pose`).
//!
//! The flags map onto [`wifi_sensing_pose::LoadOptions`] and [`WindowConfig`]; the estimator is
//! one more analyser in `run`'s pipeline. At the end, a summary line on stderr says how many
//! poses were made and, when none, why.

use std::path::PathBuf;
use std::sync::OnceLock;

use anyhow::Result;
use wifi_sensing_pose::{
    BackendKind, LoadOptions, PoseEstimator, PoseModel, PoseStatsHandle, WindowConfig,
};

use crate::Log;

/// Parses `--pose-backend` / `--backend`: a known backend compiled into this binary.
pub(crate) fn parse_backend(s: &str) -> std::result::Result<BackendKind, String> {
    let kind: BackendKind = s
        .parse()
        .map_err(|e: wifi_sensing_pose::PoseError| e.to_string())?;
    if !kind.is_available() {
        return Err(format!(
            "the {kind} backend is not compiled into this binary (build wifi-sensing-cli with --features {kind})"
        ));
    }
    Ok(kind)
}

pub(crate) fn parse_hop(s: &str) -> std::result::Result<f64, String> {
    let v = wifi_sensing_pose::window::parse_seconds(s).map_err(|e| e.to_string())?;
    if v > 3600.0 {
        return Err(format!("hop {s} is longer than an hour"));
    }
    Ok(v)
}

/// Pose flags of `run`.
#[derive(clap::Args, Debug, Default)]
pub(crate) struct PoseArgs {
    /// Estimate poses with this ONNX model (its manifest is MODEL.json beside it). Each pose
    /// record says whether the manifest's heading-from-track step (meant for walking) turned
    /// it to the direction of travel (`data.heading_from_track`); when false the pose has no
    /// heading: the reference model then gives an activity's mean pose over all headings,
    /// left and right joints close to the body's vertical axis.
    #[arg(long, value_name = "MODEL.onnx")]
    pub pose: Option<PathBuf>,
    /// Pose inference backend: tract (pure Rust) or ort (ONNX Runtime from ORT_DYLIB_PATH;
    /// only in a binary built with the `ort` feature).
    #[arg(long, value_name = "tract|ort", default_value = "tract", value_parser = parse_backend, requires = "pose")]
    pub pose_backend: BackendKind,
    /// Time between pose windows (e.g. 0.1s, 100ms). A model whose manifest declares the
    /// heading-from-track step needs at least 3 windows in the step's span (the reference
    /// model: a hop of at most 0.5 s); a longer hop leaves every pose without a heading, with a
    /// warning.
    #[arg(long, value_name = "DURATION", default_value = "0.1s", value_parser = parse_hop, requires = "pose")]
    pub pose_hop: f64,
    /// Windows per model run (more is faster on files; 1 for live input).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=4096), requires = "pose")]
    pub pose_batch: u16,
    /// Manifest file, if not MODEL.json.
    #[arg(long, value_name = "PATH", requires = "pose")]
    pub pose_manifest: Option<PathBuf>,
    #[arg(skip)]
    loaded: OnceLock<(PoseStatsHandle, String, Option<Vec<u32>>)>,
    /// A warning about the flags and the model, given before the input is read.
    #[arg(skip)]
    hop_warning: OnceLock<String>,
}

impl PoseArgs {
    /// The estimator the flags ask for (`None` without `--pose`).
    /// A hop too long for the manifest's heading-from-track step is kept for
    /// [`PoseArgs::warn_before_input`].
    pub(crate) fn estimator(&self) -> Result<Option<PoseEstimator>> {
        let Some(path) = &self.pose else {
            return Ok(None);
        };
        let opts = LoadOptions {
            backend: self.pose_backend,
            batch: usize::from(self.pose_batch),
            manifest: self.pose_manifest.clone(),
        };
        let model = PoseModel::load(path, &opts).map_err(|e| {
            let hint = if self.pose_manifest.is_none()
                && path.exists()
                && !path.with_extension("json").exists()
            {
                " (its manifest is looked for beside it as MODEL.json; give another with \
                 --pose-manifest PATH)"
            } else {
                ""
            };
            // a bad manifest is said as such: the model file may be fine
            let lead = if matches!(e, wifi_sensing_pose::PoseError::Manifest { .. }) {
                format!(
                    "the manifest of the pose model {} is not valid",
                    path.display()
                )
            } else {
                format!("cannot load the pose model {}", path.display())
            };
            anyhow::Error::new(e).context(format!("no pose records: {lead}{hint}"))
        })?;
        // the step fits a line to at least 3 windows over at least half its span
        let step = model.manifest().track_heading();
        let hop_too_long = step.is_some_and(|spec| 2.0 * self.pose_hop > spec.span_s);
        if let Some(spec) = step.filter(|_| hop_too_long) {
            let _ = self.hop_warning.set(format!(
                "--pose-hop {} s leaves fewer than 3 windows in the {} s over which the \
                 model's heading-from-track step fits the track: no pose will get a heading \
                 from the track (a hop of at most {} s keeps the step)",
                self.pose_hop,
                spec.span_s,
                spec.span_s / 2.0
            ));
        }
        let node_ids = model.manifest().input.node_ids.clone();
        let what = format!(
            "model {} {} ({}, sha256 {}…, loaded in {:.0} ms{})",
            model.manifest().model.id,
            model.manifest().model.version,
            model.backend_name(),
            &model.sha256()[..12],
            model.load_time_s() * 1e3,
            match (step.is_some(), hop_too_long) {
                (true, false) => "; heading from the track",
                (true, true) => "; heading from the track not applied: --pose-hop too long",
                (false, _) => "",
            }
        );
        // what the model's own card says it reaches, beside what it produced
        let eval = model.manifest().data_card.evaluation.trim();
        let what = if eval.is_empty() {
            what
        } else {
            format!("{what}; its data card's evaluation: {eval}")
        };
        let cfg = WindowConfig {
            hop_s: self.pose_hop,
            ..WindowConfig::default()
        };
        let est = PoseEstimator::new(model, cfg)?;
        let _ = self.loaded.set((est.stats_handle(), what, node_ids));
        Ok(Some(est))
    }

    /// Logs what [`PoseArgs::estimator`] found wrong with the flags for this model, before the
    /// input is read (a `--pose-hop` too long for the heading-from-track step).
    pub(crate) fn warn_before_input(&self, log: &Log) {
        if let Some(w) = self.hop_warning.get() {
            log.warn(w);
        }
    }

    /// When the model lists its nodes and not all of them sent frames: which ones never came
    /// (every window needs all of them), and a node the model does not use that did.
    fn required_nodes_missing(&self, s: &wifi_sensing_pose::WindowStats) -> Option<String> {
        let (_, _, Some(ids)) = self.loaded.get()? else {
            return None;
        };
        // (the first `LISTED_NODES` listed nodes are counted)
        let missing: Vec<String> = ids
            .iter()
            .zip(s.listed_node_frames)
            .filter(|(_, frames)| *frames == 0)
            .map(|(n, _)| n.to_string())
            .collect();
        if missing.is_empty() {
            return None;
        }
        let others = s.first_ignored_node.map_or(String::new(), |n| {
            format!("; the input has frames of node {n}, which the model does not use")
        });
        Some(format!(
            "node{} {} of the {} the model's manifest lists (input.node_ids {ids:?}) sent no frame, and every window needs all of them{others}",
            if missing.len() == 1 { "" } else { "s" },
            missing.join(", "),
            ids.len()
        ))
    }

    /// Logs what the estimator did (stderr); says why when it made no pose. After a run that
    /// `failed`, the error says why and nothing is added. An input that does not fit the model
    /// (none of its nodes, or not all of them, sent frames) is an error: the run made no pose
    /// because of it, not because the input was short.
    pub(crate) fn report(&self, log: &Log, failed: bool) -> Result<()> {
        let Some((handle, what, _)) = self.loaded.get() else {
            return Ok(());
        };
        if failed {
            return Ok(());
        }
        let s = handle.get();
        log.info(format_args!(
            "pose: {} poses from {} windows; {} windows skipped (too many missing frames), {} with invalid model output; {what}",
            s.poses, s.window.windows, s.window.skipped_missing, s.invalid_output
        ));
        if s.poses == 0 {
            let why = if s.window.frames == 0 {
                "no frames reached the pose estimator".to_string()
            } else if s.window.frames == s.window.frames_ignored {
                let listed = match self.loaded.get() {
                    Some((_, _, Some(ids))) => format!(" {ids:?}"),
                    _ => String::new(),
                };
                anyhow::bail!(
                    "no pose records: none of the nodes the model's manifest lists (input.node_ids{listed}) sent a frame; the input's frames are of other nodes, the first of node {}",
                    s.window
                        .first_ignored_node
                        .map_or_else(|| "unknown".to_string(), |n| n.to_string())
                );
            } else if let Some(missing) = self.required_nodes_missing(&s.window) {
                anyhow::bail!("no pose records: {missing}");
            } else if s.window.windows == 0 && s.window.skipped_missing == 0 {
                "the input is shorter than one model window".to_string()
            } else if s.invalid_output > 0 {
                "the model's outputs were invalid (non-finite or confidence outside [0, 1])"
                    .to_string()
            } else {
                // which node's frames were missing: the frames of each listed node
                let per_node = match self.loaded.get() {
                    Some((_, _, Some(ids))) => {
                        let counts: Vec<String> = ids
                            .iter()
                            .zip(s.window.listed_node_frames)
                            .map(|(id, n)| format!("node {id}: {n}"))
                            .collect();
                        format!(" (frames of the model's nodes: {})", counts.join(", "))
                    }
                    _ => String::new(),
                };
                format!("every window had too many missing frames{per_node}")
            };
            log.warn(format_args!("no pose records: {why}"));
        }
        Ok(())
    }
}
