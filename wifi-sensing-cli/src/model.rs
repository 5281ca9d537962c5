//! `wifi-sensing model inspect MODEL.onnx`: the manifest, the graph's inputs and outputs, and
//! what disagrees between them.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Result};
use serde::Serialize;
use wifi_sensing_pose::manifest::manifest_path_for;
use wifi_sensing_pose::{backend, graph, BackendKind, GraphInfo, Manifest};

use crate::Log;

/// Model subcommands.
#[derive(clap::Subcommand, Debug)]
pub(crate) enum ModelCommand {
    /// Print a model's manifest and graph inputs/outputs, and what disagrees between them.
    Inspect(InspectArgs),
    /// Training windows from a capture with ground truth, prepared exactly as at inference:
    /// x.npy, y.npy (17 keypoints in metres at each window's end, NaN where nobody is present)
    /// and windows.jsonl. The truth file's `keypoints` are fractions of the room size (its
    /// `position_m` is in metres); y.npy holds them multiplied by the room size.
    Dataset(crate::model_data::DatasetArgs),
    /// Score pose records against ground truth: 3-D PCK@0.1/0.2, MPJPE, mid-hip error,
    /// root-relative PCK, presence accuracy, per activity (JSON on stdout). Per group:
    /// `windows` (scored pose records), `pose_windows` (those with the person present, over
    /// which the pose figures are averaged), `root_error_m` (the mid-hip error, metres);
    /// `records_without_truth`: pose records whose window end the truth does not cover (not
    /// scored).
    Score(crate::model_data::ScoreArgs),
}

/// Options of `model inspect`.
#[derive(clap::Args, Debug)]
pub(crate) struct InspectArgs {
    /// The `.onnx` file.
    pub model: PathBuf,
    /// Manifest file, if not MODEL.json.
    #[arg(long)]
    pub manifest: Option<PathBuf>,
    /// Backend that reads the graph (its operator support is checked).
    #[arg(long, default_value = "tract", value_parser = crate::pose::parse_backend)]
    pub backend: BackendKind,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct Report {
    model: String,
    sha256: String,
    manifest_path: String,
    manifest: Option<Manifest>,
    manifest_error: Option<String>,
    backend: BackendKind,
    graph: GraphInfo,
    problems: Vec<String>,
}

/// `wifi-sensing model ...`.
pub(crate) fn main(cmd: ModelCommand, log: &Log) -> Result<()> {
    match cmd {
        ModelCommand::Inspect(args) => inspect(args),
        ModelCommand::Dataset(args) => crate::model_data::dataset(args, log),
        ModelCommand::Score(args) => crate::model_data::score(args, log),
    }
}

fn inspect(args: InspectArgs) -> Result<()> {
    let (bytes, sha256) = wifi_sensing_pose::pose::read_model(&args.model)?;
    let graph = backend::inspect(args.backend, &bytes, &args.model)?;
    let mpath = args
        .manifest
        .clone()
        .unwrap_or_else(|| manifest_path_for(&args.model));
    let (manifest, manifest_error) = match Manifest::load(&mpath) {
        Ok(m) => (Some(m), None),
        Err(e) => (None, Some(e.to_string())),
    };
    let empty = graph::no_graph(&graph);
    let mut problems = match (&manifest, empty) {
        (_, Some(why)) => vec![why.to_string()],
        (Some(m), None) => graph::problems(m, &graph, 1),
        (None, None) => Vec::new(),
    };
    if manifest.is_none() && empty.is_none() {
        problems.extend(graph::unsupported(&graph));
        problems.push("no valid manifest, so the graph cannot be checked".into());
    }
    let report = Report {
        model: args.model.display().to_string(),
        sha256,
        manifest_path: mpath.display().to_string(),
        manifest,
        manifest_error,
        backend: args.backend,
        graph,
        problems,
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer(&mut out, &report)?;
        writeln!(out)?;
    } else {
        text(&mut out, &report)?;
    }
    out.flush()?;
    if let Some(e) = &report.manifest_error {
        bail!(
            "{}: no valid manifest ({e}), so the graph cannot be checked against one",
            report.model
        );
    }
    if !report.problems.is_empty() {
        // the problems are listed above: manifest mismatches, or operators the backend lacks
        let what = if let Some(why) = empty {
            why
        } else if report.graph.unsupported_operators.is_empty() {
            "the model and its manifest disagree"
        } else {
            "the model cannot run as it is"
        };
        bail!(
            "{}: {what} ({} problem{}, listed above)",
            report.model,
            report.problems.len(),
            if report.problems.len() == 1 { "" } else { "s" }
        );
    }
    Ok(())
}

fn text(out: &mut impl Write, r: &Report) -> std::io::Result<()> {
    writeln!(out, "model:     {}", r.model)?;
    writeln!(out, "sha256:    {}", r.sha256)?;
    writeln!(out, "manifest:  {}", r.manifest_path)?;
    match (&r.manifest, &r.manifest_error) {
        (Some(m), _) => {
            let i = &m.input;
            writeln!(out, "  id:        {} {}", m.model.id, m.model.version)?;
            let layout: Vec<&str> = i.layout.iter().map(|a| a.name()).collect();
            writeln!(
                out,
                "  input:     `{}` [{}] = {:?}",
                i.tensor,
                layout.join(", "),
                m.input_shape(1)
            )?;
            writeln!(
                out,
                "  window:    {} frames at {} Hz; {} node(s) x {} rx x {} tx x {} subcarriers; channels {:?}",
                i.window_frames, i.frame_rate_hz, i.nodes, i.rx, i.tx, i.subcarriers, i.channels
            )?;
            writeln!(out, "  device:    {}", i.device.as_deref().unwrap_or("any"))?;
            writeln!(
                out,
                "  output:    {:?} in `{}` ({})",
                m.output.tensors(),
                m.output.coordinate_frame(),
                match &m.output {
                    wifi_sensing_pose::manifest::OutputSpec::Keypoints { .. } => "keypoints",
                    wifi_sensing_pose::manifest::OutputSpec::Heatmaps { .. } => "heatmaps",
                }
            )?;
            writeln!(out, "  room:      {:?} m", m.sensing_layout.room_size_m)?;
            writeln!(out, "  data card: {}", m.data_card.description)?;
            writeln!(
                out,
                "             trained on: {}",
                m.data_card.training_data
            )?;
            writeln!(out, "             evaluation: {}", m.data_card.evaluation)?;
            writeln!(out, "             limitations: {}", m.data_card.limitations)?;
            writeln!(out, "             licence:    {}", m.data_card.license)?;
            if let Some(t) = m.track_heading() {
                writeln!(
                    out,
                    "  post-processing: heading from the track: a line fitted to the mid-hip \
                     estimates of the last {} s; from {} m/s the pose is turned to the direction \
                     of travel (fully from {} m/s{}); pose records say so in \
                     data.heading_from_track",
                    t.span_s,
                    t.min_speed_m_s,
                    t.full_speed_m_s,
                    if t.smooth_root {
                        "; mid-hip smoothed along the line"
                    } else {
                        ""
                    }
                )?;
            }
        }
        (None, Some(e)) => writeln!(out, "  INVALID: {e}")?,
        (None, None) => {}
    }
    writeln!(out, "graph ({}):", r.backend)?;
    if let Some(o) = r.graph.opset {
        writeln!(out, "  opset:     {o}")?;
    }
    for t in &r.graph.inputs {
        writeln!(out, "  input:     {t}")?;
    }
    for t in &r.graph.outputs {
        writeln!(out, "  output:    {t}")?;
    }
    if !r.graph.operators.is_empty() {
        writeln!(out, "  operators: {}", r.graph.operators.join(", "))?;
    }
    if r.problems.is_empty() {
        writeln!(out, "agreement: the manifest matches the graph")?;
    } else {
        writeln!(out, "problems:")?;
        for p in &r.problems {
            writeln!(out, "  - {p}")?;
        }
    }
    Ok(())
}
