//! `wifi-sensing model dataset` (training windows from a capture with ground truth) and
//! `wifi-sensing model score` (accuracy of pose records against ground truth).
//!
//! Both use the pose crate's own windowing, so training inputs are exactly what the model sees
//! at inference, and both pair a window with the ground-truth line nearest to its end.

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
    /// Its ground truth (`simulate --truth`).
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
}

/// Options of `model score`.
#[derive(clap::Args, Debug)]
pub(crate) struct ScoreArgs {
    /// Ground-truth file of a session (repeat, in the order of `--poses`).
    #[arg(long, required = true)]
    pub truth: Vec<PathBuf>,
    /// Pose records (JSON Lines, as `run --pose` prints) of the same session (repeat).
    #[arg(long, required = true)]
    pub poses: Vec<PathBuf>,
    /// Mean-pose file (`{"root_relative_m": [[x, y, z] x 17], "centre_root_m": [x, y, z]}`):
    /// also score the two baselines built from it (mean pose at the room centre, and at the true
    /// floor position).
    #[arg(long)]
    pub mean_pose: Option<PathBuf>,
    /// Smallest record confidence read as "a person is present".
    #[arg(long, default_value_t = 0.5)]
    pub presence_threshold: f64,
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
}

impl Truth {
    fn load(path: &Path) -> Result<Truth> {
        let f = std::fs::File::open(path)
            .with_context(|| format!("cannot open the truth file {}", path.display()))?;
        let reader = TruthReader::new(BufReader::new(f))
            .with_context(|| format!("{}: not a simulator truth file", path.display()))?;
        let size = reader.header().room_size_m;
        let tolerance_ns = (1.5e9 / reader.header().rate_hz).round() as i64;
        let mut lines = Vec::new();
        for t in reader {
            let t = t.with_context(|| format!("{}", path.display()))?;
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
        Ok(Truth {
            lines,
            tolerance_ns,
        })
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
    let manifest = Manifest::load(&a.manifest)?;
    let truth = Truth::load(&a.truth)?;
    let cfg = WindowConfig {
        hop_s: a.hop,
        ..WindowConfig::default()
    };
    let mut windower = Windower::new(&manifest, cfg)?;
    let mut opened = InputSpec::File(PathBuf::from(&a.input)).open(
        &ReaderFlags::default(),
        None,
        None,
        None,
        log,
    )?;
    let mut windows = Vec::new();
    for frame in opened.capture.by_ref() {
        let frame = frame.with_context(|| a.input.clone())?;
        windower.push(&frame, &mut windows)?;
    }
    windower.finish(&mut windows);
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

/// Keypoints and confidence of a pose record line (`None` for other records).
fn pose_of(line: &str) -> Result<Option<(i64, Skeleton, f64)>> {
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
    Ok(Some((t, s, c)))
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
    for (tp, pp) in a.truth.iter().zip(&a.poses) {
        let truth = Truth::load(tp)?;
        let f = std::fs::File::open(pp)
            .with_context(|| format!("cannot open the pose records {}", pp.display()))?;
        for (k, line) in BufReader::new(f).lines().enumerate() {
            let line = line.with_context(|| format!("cannot read {}", pp.display()))?;
            if line.trim().is_empty() {
                continue;
            }
            let Some((t_ns, guess, conf)) =
                pose_of(&line).with_context(|| format!("{} line {}", pp.display(), k + 1))?
            else {
                continue;
            };
            records += 1;
            let Some(t) = truth.at(t_ns) else {
                without += 1;
                continue;
            };
            let truth_s = t.skeleton.as_ref();
            model.add(&t.activity, truth_s, &guess, conf >= a.presence_threshold);
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
    }
    if records == 0 {
        bail!("no pose records in the --poses files");
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
