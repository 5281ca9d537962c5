//! `wifi-sensing model dataset` (training windows from a capture with ground truth) and
//! `wifi-sensing model score` (accuracy of pose records against ground truth).
//!
//! Both use the pose crate's own windowing, so training inputs are exactly what the model sees
//! at inference, and both pair a window with the ground-truth line nearest to its end.
//!
//! `model score` first makes sure that each truth file can belong to its pose stream (see
//! [`SessionCheck`]): pose records name the times of the frames their windows ended on
//! (`data.window.last_frame_ns`), and a truth file lists every frame of its session, so the
//! poses of another session (another seed of the same length has the same time grid) are
//! refused instead of scored.

use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use wifi_sensing_core::sim::TruthReader;
use wifi_sensing_pose::eval::{self, Evaluation, Report, Skeleton};
use wifi_sensing_pose::{Manifest, WindowConfig, Windower};

use crate::input::{InputSpec, ReaderFlags};
use crate::Log;

/// Options of `model dataset`.
#[derive(clap::Args, Debug)]
pub(crate) struct DatasetArgs {
    /// The capture (for example from `wifi-sensing simulate`).
    pub input: String,
    /// Its ground truth (`simulate --truth`); the truth of another session (whose frames are
    /// not the capture's) is refused.
    #[arg(long)]
    pub truth: PathBuf,
    /// Manifest whose input section says how windows are prepared (its normalisation is
    /// applied; use mean 0 and std 1 to export raw channel values).
    #[arg(long)]
    pub manifest: PathBuf,
    /// Time between window ends (e.g. 0.1s).
    #[arg(long, default_value = "0.1s", value_parser = crate::pose::parse_hop)]
    pub hop: f64,
    /// Output folder: `x.npy`, `y.npy` and `windows.jsonl` (created if needed).
    #[arg(short, long)]
    pub output: PathBuf,
    // reader options: last, under their own help heading
    #[command(flatten)]
    pub reader: ReaderFlags,
}

/// Options of `model score`.
#[derive(clap::Args, Debug)]
pub(crate) struct ScoreArgs {
    /// Ground-truth file of a session (repeat, in the order of `--poses`).
    #[arg(long, required = true)]
    pub truth: Vec<PathBuf>,
    /// Pose records (JSON Lines, as `run --pose` prints) of the same session (repeat). A truth
    /// file that cannot be that session's is refused (non-zero exit, nothing scored): the pose
    /// windows must end on frames the truth lists (`data.window.last_frame_ns`), or, for records
    /// without those, on its time grid.
    #[arg(long, required = true)]
    pub poses: Vec<PathBuf>,
    /// Mean-pose file (`{"root_relative_m": [[x, y, z] x 17], "centre_root_m": [x, y, z]}`):
    /// also score the two baselines built from it (mean pose at the room centre, and at the true
    /// floor position).
    #[arg(long)]
    pub mean_pose: Option<PathBuf>,
    /// Smallest record confidence read as "a person is present" (0..=1).
    #[arg(long, default_value_t = 0.5, value_parser = crate::values::unit_interval)]
    pub presence_threshold: f64,
    /// Keep only the pose records of these nodes (`--keep-nodes 0`, `--keep-nodes 1,2`: those
    /// whose window's nodes, `data.window.nodes`, are all among them); those of other nodes are
    /// read, counted and left out (an ESP32 in passive mode takes every MAC it hears as a node,
    /// so a run without `--keep-nodes` also poses a stray transmitter). Records that name no
    /// node are kept.
    #[arg(long = "keep-nodes", value_name = "ID", value_delimiter = ',')]
    pub keep_nodes: Vec<u32>,
}

/// One truth instant.
struct TruthLine {
    t_ns: i64,
    activity: String,
    skeleton: Option<Skeleton>,
}

/// A truth file, sorted by time.
struct Truth {
    lines: Vec<TruthLine>,
    /// Largest distance between a window end and its truth line, ns.
    tolerance_ns: i64,
    /// The frame period, ns.
    period_ns: f64,
    /// Times of every frame of the session, sorted, per node id (`None`: a single receiver,
    /// whose frames take their node id only when written).
    frames: HashMap<Option<u32>, Vec<i64>>,
    /// What the header says the session is, for messages.
    about: String,
}

impl Truth {
    fn load(path: &Path) -> Result<Truth> {
        let f = std::fs::File::open(path)
            .with_context(|| format!("cannot open the truth file {}", path.display()))?;
        let reader = TruthReader::new(BufReader::new(f))
            .with_context(|| format!("{}: not a simulator truth file", path.display()))?;
        let h = reader.header();
        let size = h.room_size_m;
        let tolerance_ns = (1.5e9 / h.rate_hz).round() as i64;
        let period_ns = 1e9 / h.rate_hz;
        let about = format!(
            "simulator seed {}, scenario `{}`, simulator model version {}, {} s at {} Hz",
            h.seed, h.scenario.name, h.model_version, h.duration_s, h.rate_hz
        );
        let mut lines = Vec::new();
        let mut frames: HashMap<Option<u32>, Vec<i64>> = HashMap::new();
        for t in reader {
            let t = t.with_context(|| format!("{}", path.display()))?;
            if t.nodes.is_empty() {
                frames.entry(None).or_default().push(t.timestamp_ns);
            }
            for n in &t.nodes {
                frames
                    .entry(Some(n.node_id))
                    .or_default()
                    .push(n.timestamp_ns);
            }
            let activity = serde_json::to_value(t.activity)?
                .as_str()
                .unwrap_or("unknown")
                .to_string();
            let skeleton = t
                .keypoints
                .map(|k| k.map(|p| std::array::from_fn(|i| f64::from(p[i]) * size[i])));
            lines.push(TruthLine {
                t_ns: t.timestamp_ns,
                activity,
                skeleton,
            });
        }
        lines.sort_by_key(|l| l.t_ns);
        for times in frames.values_mut() {
            times.sort_unstable();
        }
        Ok(Truth {
            lines,
            tolerance_ns,
            period_ns,
            frames,
            about,
        })
    }

    /// The session has a frame of `node` at exactly `t_ns`.
    fn has_frame(&self, node: u32, t_ns: i64) -> bool {
        let key = if self.frames.contains_key(&None) {
            None
        } else {
            Some(node)
        };
        self.frames
            .get(&key)
            .is_some_and(|times| times.binary_search(&t_ns).is_ok())
    }

    /// Times of the first and the last line, ns.
    fn span_ns(&self) -> Option<(i64, i64)> {
        Some((self.lines.first()?.t_ns, self.lines.last()?.t_ns))
    }

    /// The line nearest to `t_ns`, if within the tolerance.
    fn at(&self, t_ns: i64) -> Option<&TruthLine> {
        let i = self.lines.partition_point(|l| l.t_ns < t_ns);
        [i.checked_sub(1), Some(i)]
            .into_iter()
            .flatten()
            .filter_map(|k| self.lines.get(k))
            .min_by_key(|l| (l.t_ns - t_ns).abs())
            .filter(|l| (l.t_ns - t_ns).abs() <= self.tolerance_ns)
    }
}

#[derive(Serialize)]
struct WindowInfo<'a> {
    end_ns: i64,
    present: bool,
    activity: &'a str,
    missing_frames: usize,
}

/// Writes a float32 `.npy` file (format 1.0, C order).
fn write_npy(path: &Path, shape: &[usize], data: &[f32], log: &Log) -> Result<()> {
    let dims: String = shape.iter().map(|d| format!("{d}, ")).collect();
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({dims}), }}");
    // Magic (6) + version (2) + length (2) + header + '\n', padded to a multiple of 64.
    let total = 10 + header.len() + 1;
    header.push_str(&" ".repeat(total.next_multiple_of(64) - total));
    header.push('\n');
    let mut w = crate::output::create_file(path, log)?;
    w.write_all(b"\x93NUMPY\x01\x00")?;
    w.write_all(&u16::try_from(header.len())?.to_le_bytes())?;
    w.write_all(header.as_bytes())?;
    for v in data {
        w.write_all(&v.to_le_bytes())?;
    }
    w.flush()
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// `model dataset`.
pub(crate) fn dataset(a: DatasetArgs, log: &Log) -> Result<()> {
    if a.output.exists() && !a.output.is_dir() {
        bail!(
            "-o {}: a file, not a folder; `model dataset` writes x.npy, y.npy and windows.jsonl \
             into a folder",
            a.output.display()
        );
    }
    let manifest = Manifest::load(&a.manifest)?;
    let truth = Truth::load(&a.truth)?;
    let cfg = WindowConfig {
        hop_s: a.hop,
        ..WindowConfig::default()
    };
    let mut windower = Windower::new(&manifest, cfg)?;
    let mut opened =
        InputSpec::File(PathBuf::from(&a.input)).open(&a.reader, None, None, None, log)?;
    let mut windows = Vec::new();
    // Frames of the capture that the truth file lists (node and exact time).
    let (mut frames, mut known) = (0u64, 0u64);
    for frame in opened.capture.by_ref() {
        let frame = frame.with_context(|| a.input.clone())?;
        frames += 1;
        known += u64::from(truth.has_frame(frame.node_id, frame.timestamp_ns));
        windower.push(&frame, &mut windows)?;
    }
    windower.finish(&mut windows);
    crate::report::other_nodes(opened.capture.stats(), frames, &opened.description, log);
    if frames > 0 && (known as f64) < MIN_FRAME_MATCH * frames as f64 {
        bail!(
            "refusing to pair {} with {} ({}): only {known} of its {frames} frames ({:.1} %) are \
             frames this truth file records; a capture of the truth's own session has every one, \
             so the two come from different sessions. Give the truth written with the capture \
             (`simulate --truth`)",
            a.input,
            a.truth.display(),
            truth.about,
            100.0 * known as f64 / frames as f64
        );
    }
    std::fs::create_dir_all(&a.output)
        .with_context(|| format!("cannot create {}", a.output.display()))?;
    let per = manifest.canonical_shape(1)[1..].iter().product::<usize>();
    let mut x = Vec::with_capacity(windows.len() * per);
    let mut y = Vec::with_capacity(windows.len() * 51);
    let mut info = crate::output::create_file(&a.output.join("windows.jsonl"), log)?;
    let mut unmatched = 0usize;
    let mut n = 0usize;
    for w in &windows {
        let Some(t) = truth.at(w.end_ns) else {
            unmatched += 1;
            continue;
        };
        n += 1;
        x.extend_from_slice(&w.data);
        match &t.skeleton {
            Some(s) => y.extend(s.iter().flatten().map(|&v| v as f32)),
            None => y.extend([f32::NAN; 51]),
        }
        serde_json::to_writer(
            &mut info,
            &WindowInfo {
                end_ns: w.end_ns,
                present: t.skeleton.is_some(),
                activity: &t.activity,
                missing_frames: w.missing,
            },
        )?;
        info.write_all(b"\n")?;
    }
    info.flush()?;
    let mut shape = manifest.canonical_shape(n).to_vec();
    write_npy(&a.output.join("x.npy"), &shape, &x, log)?;
    shape.truncate(1);
    shape.extend([17, 3]);
    write_npy(&a.output.join("y.npy"), &shape, &y, log)?;
    let st = windower.stats();
    log.info(format_args!(
        "{n} windows written to {} ({} skipped for missing frames, {unmatched} without a truth line)",
        a.output.display(),
        st.skipped_missing
    ));
    Ok(())
}

/// Mean-pose file of `model score --mean-pose`.
#[derive(Deserialize)]
struct MeanPose {
    root_relative_m: Skeleton,
    centre_root_m: [f64; 3],
}

#[derive(Serialize)]
struct ScoreReport {
    sessions: usize,
    records: u64,
    records_without_truth: u64,
    model: Report,
    #[serde(skip_serializing_if = "Option::is_none")]
    room_centre_baseline: Option<Report>,
    #[serde(skip_serializing_if = "Option::is_none")]
    true_position_baseline: Option<Report>,
}

/// What `model score` reads of a pose record.
struct PoseLine {
    t_ns: i64,
    skeleton: Skeleton,
    confidence: f64,
    /// `(node, time)` of the frame each node's window ended on (`data.window.nodes` and
    /// `last_frame_ns`), when the record names them.
    last_frames: Option<Vec<(u32, i64)>>,
    /// The nodes of the record's window (`data.window.nodes`), when it names them.
    nodes: Option<Vec<u32>>,
}

/// The frames a pose record's window ended on, if it names them.
fn last_frames(window: &serde_json::Value) -> Result<Option<Vec<(u32, i64)>>> {
    let (Some(nodes), Some(times)) = (
        window["nodes"].as_array(),
        window["last_frame_ns"].as_array(),
    ) else {
        return Ok(None);
    };
    if nodes.len() != times.len() || times.is_empty() {
        bail!(
            "data.window.last_frame_ns has {} values for {} nodes",
            times.len(),
            nodes.len()
        );
    }
    nodes
        .iter()
        .zip(times)
        .map(|(n, t)| {
            let n = n.as_u64().and_then(|n| u32::try_from(n).ok());
            match (n, t.as_i64()) {
                (Some(n), Some(t)) => Ok((n, t)),
                _ => bail!("data.window.nodes and last_frame_ns must be integers"),
            }
        })
        .collect::<Result<Vec<_>>>()
        .map(Some)
}

/// A pose record line (`None` for other records).
fn pose_of(line: &str) -> Result<Option<PoseLine>> {
    let v: serde_json::Value = serde_json::from_str(line).context("not JSON")?;
    if v["type"] != "pose" {
        return Ok(None);
    }
    let t = v["timestamp_ns"].as_i64().context("no timestamp_ns")?;
    let kp = v["data"]["keypoints"]
        .as_array()
        .filter(|k| k.len() == 17)
        .context("a pose record needs 17 keypoints")?;
    let mut s: Skeleton = [[0.0; 3]; 17];
    for (dst, k) in s.iter_mut().zip(kp) {
        for (i, axis) in ["x", "y", "z"].iter().enumerate() {
            dst[i] = k[axis].as_f64().context("keypoints need x, y and z")?;
        }
    }
    let c = v["data"]["confidence"].as_f64().context("no confidence")?;
    let nodes = match v["data"]["window"]["nodes"].as_array() {
        Some(ns) => Some(
            ns.iter()
                .map(|n| n.as_u64().and_then(|n| u32::try_from(n).ok()))
                .collect::<Option<Vec<u32>>>()
                .context("data.window.nodes must be integers")?,
        ),
        None => None,
    };
    Ok(Some(PoseLine {
        t_ns: t,
        skeleton: s,
        confidence: c,
        last_frames: last_frames(&v["data"]["window"])?,
        nodes,
    }))
}

/// Smallest share of a session's pose windows (within the truth's time span) that must end on
/// frames of the truth file: a stream of the truth's own session ends every window on one.
const MIN_FRAME_MATCH: f64 = 0.9;
/// Smallest share of the records without frame times (within the truth's span) that must have
/// a truth line within a quarter of a frame period (a window of the truth's own session ends
/// on its time grid, off only by the frames' jitter, about 1 ms in the simulator's default).
const MIN_ALIGNED: f64 = 0.5;

/// Whether a truth file can belong to a pose stream, from what both carry.
///
/// The strongest evidence is the frame times: every pose record of `run --pose` names the
/// newest frame of each node at or before its window's end (`data.window.last_frame_ns`), and
/// a truth file lists every frame of its session with its exact time (with jitter, so two
/// sessions share almost none). Records without them (older builds, other tools) can only be
/// checked by time alignment: their end within a quarter of a frame period of a truth line.
/// That catches another clock, length or time grid, but not another session of the same length
/// (the simulator puts every session's frames on the same grid).
#[derive(Debug, Default)]
struct SessionCheck {
    /// Pose records read.
    records: u64,
    /// Times of the first and the last record, ns.
    span_ns: Option<(i64, i64)>,
    /// Records within the truth's time span (the tolerance included).
    in_span: u64,
    /// Of those, records that name their windows' frames.
    framed: u64,
    /// Of those, records whose every frame is a frame of the truth file.
    framed_matched: u64,
    /// Records within the span that name no frames.
    unframed: u64,
    /// Of those, records with a truth line within a quarter of a frame period.
    aligned: u64,
}

impl SessionCheck {
    /// Counts one record.
    fn add(&mut self, truth: &Truth, p: &PoseLine) {
        self.records += 1;
        self.span_ns = Some(match self.span_ns {
            Some((a, b)) => (a.min(p.t_ns), b.max(p.t_ns)),
            None => (p.t_ns, p.t_ns),
        });
        let Some((first, last)) = truth.span_ns() else {
            return;
        };
        if p.t_ns < first - truth.tolerance_ns || p.t_ns > last + truth.tolerance_ns {
            return;
        }
        self.in_span += 1;
        match &p.last_frames {
            Some(frames) => {
                self.framed += 1;
                if frames.iter().all(|&(n, t)| truth.has_frame(n, t)) {
                    self.framed_matched += 1;
                }
            }
            None => {
                self.unframed += 1;
                let quarter = (0.25 * truth.period_ns) as i64;
                if truth
                    .at(p.t_ns)
                    .is_some_and(|l| (l.t_ns - p.t_ns).abs() <= quarter)
                {
                    self.aligned += 1;
                }
            }
        }
    }

    /// `Err` with what disagrees when the truth cannot belong to the records; otherwise a note
    /// on how the check was made.
    fn verdict(&self, truth: &Truth, tp: &Path, pp: &Path) -> Result<String> {
        let (tp, pp) = (tp.display(), pp.display());
        let refuse = |what: String| -> Result<String> {
            bail!(
                "refusing to score {pp} against {tp} ({}): {what}. Give the ground truth of the \
                 session the poses were made from (in the order of --poses)",
                truth.about
            )
        };
        let secs = |(a, b): (i64, i64)| format!("{:.3}-{:.3} s", a as f64 * 1e-9, b as f64 * 1e-9);
        if self.in_span == 0 {
            let truth_span = truth.span_ns().map_or("nothing".into(), secs);
            let pose_span = self.span_ns.map_or("nothing".into(), secs);
            return refuse(format!(
                "none of its {} pose records falls within the truth's time span (truth \
                 {truth_span}, pose records {pose_span}), so their clocks or sessions differ",
                self.records
            ));
        }
        let share = |m: u64, n: u64| m as f64 / n as f64;
        if self.framed > 0 && share(self.framed_matched, self.framed) < MIN_FRAME_MATCH {
            return refuse(format!(
                "only {} of its {} pose windows within the truth's time span ({:.1} %) ended on \
                 frames this truth file records (data.window.last_frame_ns); the windows of the \
                 truth's own session all do, so the poses come from another session",
                self.framed_matched,
                self.framed,
                100.0 * share(self.framed_matched, self.framed)
            ));
        }
        if self.unframed > 0 && share(self.aligned, self.unframed) < MIN_ALIGNED {
            return refuse(format!(
                "only {} of its {} pose records within the truth's time span ({:.1} %) have a \
                 truth line within a quarter of a frame period ({:.1} ms) of their time, so \
                 their time grid is not the truth's",
                self.aligned,
                self.unframed,
                100.0 * share(self.aligned, self.unframed),
                0.25e-6 * truth.period_ns
            ));
        }
        let mut note = String::new();
        if self.framed > 0 {
            note = format!(
                "{pp} matches {tp}: {} of {} pose windows ended on frames of the truth's session",
                self.framed_matched, self.framed
            );
        }
        if self.unframed > 0 {
            if !note.is_empty() {
                note.push_str("; ");
            }
            note.push_str(&format!(
                "{} pose records of {pp} name no frame times (data.window.last_frame_ns: an older \
                 build or another tool), so they were matched to {tp} by their time only ({} \
                 aligned), which cannot tell two sessions of the same length apart",
                self.unframed, self.aligned
            ));
        }
        Ok(note)
    }
}

/// `model score`.
pub(crate) fn score(a: ScoreArgs, log: &Log) -> Result<()> {
    if a.truth.len() != a.poses.len() {
        crate::usage!(
            "{} --truth files for {} --poses files (give one of each per session)",
            a.truth.len(),
            a.poses.len()
        );
    }
    let mean: Option<MeanPose> = match &a.mean_pose {
        Some(p) => Some(
            serde_json::from_str(
                &std::fs::read_to_string(p)
                    .with_context(|| format!("cannot read {}", p.display()))?,
            )
            .with_context(|| format!("{}: not a mean-pose file", p.display()))?,
        ),
        None => None,
    };
    let mut model = Evaluation::default();
    let mut centre = Evaluation::default();
    let mut oracle = Evaluation::default();
    let (mut records, mut without) = (0u64, 0u64);
    // records of nodes --keep-nodes leaves out, and those nodes
    let keep = (!a.keep_nodes.is_empty()).then_some(&a.keep_nodes);
    let (mut left_out, mut other_ids) = (0u64, BTreeSet::new());
    for (tp, pp) in a.truth.iter().zip(&a.poses) {
        let truth = Truth::load(tp)?;
        let f = std::fs::File::open(pp)
            .with_context(|| format!("cannot open the pose records {}", pp.display()))?;
        let mut check = SessionCheck::default();
        for (k, line) in BufReader::new(f).lines().enumerate() {
            let line = line.with_context(|| format!("cannot read {}", pp.display()))?;
            if line.trim().is_empty() {
                continue;
            }
            let Some(p) =
                pose_of(&line).with_context(|| format!("{} line {}", pp.display(), k + 1))?
            else {
                continue;
            };
            if let (Some(keep), Some(nodes)) = (keep, &p.nodes) {
                let others: Vec<u32> = nodes
                    .iter()
                    .copied()
                    .filter(|n| !keep.contains(n))
                    .collect();
                if !others.is_empty() {
                    left_out += 1;
                    other_ids.extend(others);
                    continue;
                }
            }
            check.add(&truth, &p);
            records += 1;
            let Some(t) = truth.at(p.t_ns) else {
                without += 1;
                continue;
            };
            let (guess, truth_s) = (&p.skeleton, t.skeleton.as_ref());
            model.add(
                &t.activity,
                truth_s,
                guess,
                p.confidence >= a.presence_threshold,
            );
            if let Some(m) = &mean {
                let c = eval::placed_at(&m.root_relative_m, m.centre_root_m);
                centre.add(&t.activity, truth_s, &c, true);
                let at = match truth_s {
                    Some(s) => {
                        let r = eval::mid_hip(s);
                        [r[0], r[1], m.centre_root_m[2]]
                    }
                    None => m.centre_root_m,
                };
                let o = eval::placed_at(&m.root_relative_m, at);
                oracle.add(&t.activity, truth_s, &o, truth_s.is_some());
            }
        }
        if check.records > 0 {
            let note = check.verdict(&truth, tp, pp)?;
            if check.unframed > 0 {
                log.warn(format_args!("{note}"));
            } else {
                log.info(format_args!("{note}"));
            }
        }
    }
    let other_ids = crate::report::id_list(&other_ids.into_iter().collect::<Vec<_>>());
    if records == 0 && left_out > 0 {
        bail!(
            "no pose record of the nodes --keep-nodes keeps is in the --poses files; their \
             other nodes: {other_ids} ({left_out} records left out)"
        );
    }
    if records == 0 {
        bail!("no pose records in the --poses files");
    }
    if left_out > 0 {
        log.info(format_args!(
            "{left_out} pose records of other nodes ({other_ids}) left out (--keep-nodes)"
        ));
    }
    if without > 0 {
        log.warn(format_args!(
            "{without} of {records} pose records have no truth line at their time and are not \
             scored: are the --poses and --truth files of the same sessions, in the same order?"
        ));
    }
    let report = ScoreReport {
        sessions: a.truth.len(),
        records,
        records_without_truth: without,
        model: model.report(),
        room_centre_baseline: mean.as_ref().map(|_| centre.report()),
        true_position_baseline: mean.as_ref().map(|_| oracle.report()),
    };
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, &report)?;
    out.write_all(b"\n")?;
    Ok(())
}
