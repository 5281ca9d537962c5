//! Events and vital signs on the capture kit's real, labelled recordings (the README's real-data
//! table). Needs the kit (`$WIFI_SENSING_KIT`, else `../../shared/captures` beside the
//! workspace), so the tests are `#[ignore]`d; CI runs them with `--include-ignored`.
//! Run `cargo test -p wifi-sensing-signal --test sensing_real -- --include-ignored --nocapture`
//! for the table.
//!
//! Labels come from the file names only (the kit's README): a whole file is one activity.
//! Frame-level truth used here: every frame of a file is "present"; every frame of a `walk`,
//! `brushteeth`, `cook`, `washingdishes` or `getintobed` file is "moving", every frame of the
//! `sleeping` file is "not moving" (a coarse reading of a file-level label, stated as such).

use std::path::{Path, PathBuf};

use wifi_sensing_core::CsiFrame;
use wifi_sensing_signal::vitals::VitalsConfig;
use wifi_sensing_signal::{Sensed, SensingAnalyser, SensingConfig};

fn kit() -> PathBuf {
    let p = std::env::var_os("WIFI_SENSING_KIT")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/captures"));
    assert!(
        p.join("labelled").is_dir(),
        "capture kit with labelled/ not found at {} (set WIFI_SENSING_KIT)",
        p.display()
    );
    p
}

fn frames(path: &Path) -> Vec<CsiFrame> {
    wifi_sensing_core::open(path)
        .unwrap_or_else(|e| panic!("{path:?}: {e}"))
        .filter_map(Result::ok)
        .collect()
}

/// Per-file figures of the event detector.
#[derive(Debug)]
struct FileResult {
    name: String,
    label: String,
    frames: usize,
    span_s: f64,
    /// Frames after the column probe (the detector's first frames) scored.
    scored: usize,
    moving_frac: f64,
    present_frac: f64,
    median_stat: f64,
    p90_stat: f64,
    skipped_layout: u64,
}

fn run_events(path: &Path) -> FileResult {
    let fr = frames(path);
    let mut a = SensingAnalyser::new(
        SensingConfig {
            vitals: None,
            ..SensingConfig::default()
        },
        None,
    )
    .unwrap();
    let mut out = Vec::new();
    let (mut scored, mut moving, mut present) = (0usize, 0usize, 0usize);
    let mut stats = Vec::new();
    for f in &fr {
        a.push(f, &mut out).unwrap();
        if let Some(s) = a.motion_statistic(f.node_id) {
            scored += 1;
            stats.push(s);
            moving += usize::from(a.moving(f.node_id) == Some(true));
            present += usize::from(a.present(f.node_id) == Some(true));
        }
    }
    stats.sort_by(f64::total_cmp);
    let q = |p: f64| {
        stats
            .get(((stats.len() as f64 - 1.0) * p).round() as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    let label = name.split('_').next().unwrap_or("").to_string();
    let span_s = match (fr.first(), fr.last()) {
        (Some(a), Some(b)) => (b.timestamp_ns - a.timestamp_ns) as f64 * 1e-9,
        _ => 0.0,
    };
    FileResult {
        name,
        label,
        frames: fr.len(),
        span_s,
        scored,
        moving_frac: moving as f64 / scored.max(1) as f64,
        present_frac: present as f64 / scored.max(1) as f64,
        median_stat: q(0.5),
        p90_stat: q(0.9),
        skipped_layout: a.stats().layout_changes,
    }
}

fn activity_files() -> Vec<PathBuf> {
    let root = kit().join("labelled/intel5300_activity");
    let mut v = Vec::new();
    for d in ["activity", "activity_august", "activity_may"] {
        for e in std::fs::read_dir(root.join(d)).unwrap() {
            v.push(e.unwrap().path());
        }
    }
    v.sort();
    v
}

#[test]
#[ignore = "needs the capture kit (WIFI_SENSING_KIT)"]
fn intel5300_activity_recordings() {
    let files = activity_files();
    assert_eq!(files.len(), 24);
    println!("| file | label | frames | span s | scored | moving frames | present frames | motion statistic median / p90 | frames skipped (layout) |");
    println!("|---|---|---|---|---|---|---|---|---|");
    let (mut tp, mut fp, mut fneg, mut tn) = (0.0, 0.0, 0.0, 0.0);
    let (mut ptp, mut pfn) = (0.0, 0.0);
    let mut by_label: std::collections::BTreeMap<String, Vec<f64>> = Default::default();
    for p in &files {
        let r = run_events(p);
        println!(
            "| {} | {} | {} | {:.2} | {} | {:.1}% | {:.1}% | {:.2} / {:.2} | {} |",
            r.name,
            r.label,
            r.frames,
            r.span_s,
            r.scored,
            100.0 * r.moving_frac,
            100.0 * r.present_frac,
            r.median_stat,
            r.p90_stat,
            r.skipped_layout
        );
        assert!(r.scored > 0, "{}: nothing scored", r.name);
        let n = r.scored as f64;
        let m = r.moving_frac * n;
        if r.label == "sleeping" {
            fp += m;
            tn += n - m;
        } else {
            tp += m;
            fneg += n - m;
        }
        ptp += r.present_frac * n;
        pfn += (1.0 - r.present_frac) * n;
        by_label
            .entry(r.label.clone())
            .or_default()
            .push(r.median_stat);
    }
    let f1 = 2.0 * tp / (2.0 * tp + fp + fneg);
    let pf1 = 2.0 * ptp / (2.0 * ptp + pfn);
    println!(
        "\npooled motion F1 {f1:.3} (moving-labelled frames detected {:.1}%, sleeping frames called moving {:.1}%); presence F1 {pf1:.3} (every frame labelled present; always-present F1 1.000)",
        100.0 * tp / (tp + fneg),
        100.0 * fp / (fp + tn).max(1.0)
    );
    for (l, v) in &by_label {
        println!("{l}: median motion statistic per file {v:.2?}");
    }
    // what the figures show and this test pins: walking moves the statistic more than sleeping
    let walk_min = by_label["walk"]
        .iter()
        .copied()
        .fold(f64::INFINITY, f64::min);
    let sleep = by_label["sleeping"][0];
    assert!(
        walk_min > sleep,
        "walk median statistics {:?} vs sleeping {sleep}",
        by_label["walk"]
    );
}

#[test]
#[ignore = "needs the capture kit (WIFI_SENSING_KIT)"]
fn intel5300_heart_rate_recordings() {
    let root = kit().join("labelled/intel5300_heart_rate");
    println!("| file | label | frames | span s | rate Hz | default config (60 s window, 20 s minimum) | short window (15 s window, 8 s minimum): breathing / heart per min |");
    println!("|---|---|---|---|---|---|---|");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    let mut labelled = Vec::new();
    for p in &names {
        let fr = frames(p);
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        let label: Option<f64> = name.strip_suffix("bpm.dat").and_then(|s| s.parse().ok());
        let span = (fr.last().unwrap().timestamp_ns - fr[0].timestamp_ns) as f64 * 1e-9;
        let run = |cfg: VitalsConfig| {
            let mut a = SensingAnalyser::new(
                SensingConfig {
                    vitals: Some(cfg),
                    ..SensingConfig::default()
                },
                None,
            )
            .unwrap();
            let mut out = Vec::new();
            for f in &fr {
                a.push(f, &mut out).unwrap();
            }
            out.into_iter().rev().find_map(|s| match s {
                Sensed::VitalSigns { value, .. } => Some(value),
                _ => None,
            })
        };
        let default = run(VitalsConfig::default());
        let short = run(VitalsConfig {
            window_s: 15.0,
            min_window_s: 8.0,
            hop_s: 1.0,
            ..VitalsConfig::default()
        });
        let show = |v: &Option<wifi_sensing_signal::vitals::VitalSigns>| match v {
            None => "no record".to_string(),
            Some(v) => {
                let r =
                    |x: &wifi_sensing_signal::vitals::VitalRate| match (x.rate_per_min, x.reason) {
                        (Some(r), _) => format!("{r:.1}"),
                        (None, Some(why)) => format!("none ({why:?})"),
                        _ => "none".into(),
                    };
                format!("{} / {}", r(&v.breathing), r(&v.heart))
            }
        };
        println!(
            "| {name} | {} | {} | {span:.1} | {:.1} | {} | {} |",
            label.map_or("-".into(), |l| format!("{l} bpm")),
            fr.len(),
            (fr.len() as f64 - 1.0) / span,
            show(&default),
            show(&short)
        );
        // the default configuration never guesses on a recording shorter than its minimum window
        if span < VitalsConfig::default().min_window_s {
            assert!(
                default.as_ref().is_none_or(
                    |v| v.breathing.rate_per_min.is_none() && v.heart.rate_per_min.is_none()
                ),
                "{name}: estimate from a {span} s recording"
            );
        }
        if let Some(l) = label {
            labelled.push((name, l, short.and_then(|v| v.heart.rate_per_min)));
        }
    }
    println!("\nheart rate vs file-name label (short window): {labelled:?}");
    assert_eq!(labelled.len(), 2);
}

#[test]
#[ignore = "needs the capture kit (WIFI_SENSING_KIT)"]
fn ruview_esp32_recording_events_per_node() {
    let path = kit().join("ruview_esp32/pretrain-1775182186.csi.jsonl");
    let fr = frames(&path);
    let mut a = SensingAnalyser::new(SensingConfig::default(), None).unwrap();
    let mut out = Vec::new();
    let mut per_node: std::collections::BTreeMap<(Option<u32>, String), u32> = Default::default();
    let mut vitals = 0;
    let mut frames_per_node: std::collections::BTreeMap<u32, (u32, u32, u32)> = Default::default();
    for f in &fr {
        out.clear();
        a.push(f, &mut out).unwrap();
        let e = frames_per_node.entry(f.node_id).or_default();
        e.0 += 1;
        e.1 += u32::from(a.moving(f.node_id) == Some(true));
        e.2 += u32::from(a.present(f.node_id) == Some(true));
        for s in &out {
            match s {
                Sensed::Event(e) => {
                    *per_node
                        .entry((e.node_id, format!("{:?}", e.event)))
                        .or_default() += 1
                }
                Sensed::VitalSigns { value, .. } => {
                    vitals += u32::from(value.breathing.rate_per_min.is_some())
                }
            }
        }
    }
    println!("RuView ESP32-S3, 120 s, 2 nodes, labelled `mixed-activity` for the whole file (no frame truth)");
    println!("frames per node (frames, moving, present): {frames_per_node:?}");
    println!("events per (node, kind): {per_node:?}");
    println!(
        "breathing estimates: {vitals}; analyser counters: {:?}",
        a.stats()
    );
    assert!(a.stats().frames > 0);
    // Its amplitude changes are white in time on both nodes (MEASUREMENTS.md, "Real ESP32
    // noise"): the previous release's motion in 54 % and 99 % of the frames was noise.
    for (node, (frames, moving, _)) in &frames_per_node {
        assert!(
            f64::from(*moving) < 0.02 * f64::from(*frames),
            "node {node}: moving in {moving} of {frames} frames"
        );
    }
}
