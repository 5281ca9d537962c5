//! The shipped reference pose model (`fixtures/models/wifi-pose-ref.*`) run through the CLI on
//! a fresh simulated session (a random-session seed used neither in training nor in the card's
//! evaluation), scored by `model score`, and compared with the figures its card states, so the
//! card cannot drift from the model.
#![cfg(feature = "pose")]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use wifi_sensing_core::sim::{RandomSession, Receivers};

/// Seed of the fresh session (training skips it; validation used 1001-1012, the card 2001-2008
/// and 3001-3004).
const FRESH_SEED: u64 = 4242;
/// Length of the fresh session, s.
const FRESH_S: f64 = 30.0;

fn models() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/models")
}

fn wifi_sensing(args: &[&str]) -> Vec<u8> {
    let out = Command::new(env!("CARGO_BIN_EXE_wifi-sensing"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn num(v: &Value, path: &[&str]) -> f64 {
    let mut v = v;
    for k in path {
        v = &v[*k];
    }
    v.as_f64()
        .unwrap_or_else(|| panic!("{path:?} is not a number"))
}

#[test]
fn shipped_model_matches_its_card_on_a_fresh_session() {
    let results: Value = serde_json::from_str(
        &std::fs::read_to_string(models().join("wifi-pose-ref.results.json")).unwrap(),
    )
    .unwrap();
    let shipped = results["shipped"].as_str().unwrap();
    let card = &results["variants"][shipped];
    let manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(models().join("wifi-pose-ref.json")).unwrap(),
    )
    .unwrap();
    let device = match manifest["input"]["device"].as_str().unwrap() {
        "iwl5300" => "intel5300",
        d => d,
    };
    // The card (markdown) states the same headline figures as the results file.
    let md = std::fs::read_to_string(models().join("wifi-pose-ref.md")).unwrap();
    let test = &card["sets"]["test"];
    let pck = num(test, &["model", "overall", "pck_0_2"]);
    let mpjpe = num(test, &["model", "overall", "mpjpe_mm"]);
    assert!(
        md.contains(&format!(
            "PCK@0.2 {:.1} %, MPJPE {mpjpe:.0} mm",
            100.0 * pck
        )),
        "the card's headline differs from wifi-pose-ref.results.json"
    );
    // The card pins the model file by its SHA-256, as `model inspect` computes it.
    let inspect = Command::new(env!("CARGO_BIN_EXE_wifi-sensing"))
        .args(["model", "inspect"])
        .arg(models().join("wifi-pose-ref.onnx"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&inspect.stdout);
    let sha = text
        .lines()
        .find_map(|l| l.strip_prefix("sha256:"))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no sha256 line: {text}"));
    assert!(
        md.contains(&format!("SHA-256 {sha}")),
        "the card does not pin the model file's SHA-256 {sha}"
    );

    // The post-processing the card states is the one the manifest declares.
    let chosen = &card["track_heading"]["chosen"];
    let declared = &manifest["post_processing"]["track_heading"];
    if chosen.is_object() {
        for k in ["span_s", "min_speed_m_s", "full_speed_m_s", "smooth_root"] {
            assert_eq!(
                chosen[k], declared[k],
                "track_heading.{k}: card vs manifest"
            );
        }
        assert!(md.contains("heading from the track"));
    } else {
        assert!(
            declared.is_null(),
            "the manifest turns poses the card does not mention"
        );
    }

    // A fresh random session of the reference layout.
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = RandomSession::new(FRESH_SEED, FRESH_S);
    // The model is made for the simulator's reference layout (`simulate --nodes reference3`),
    // antenna-array orientations included: check that the manifest states its positions.
    let rx: Vec<[f64; 3]> = manifest["sensing_layout"]["receivers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| serde_json::from_value(r["position_m"].clone()).unwrap())
        .collect();
    if rx.len() > 1 {
        cfg.rx = Receivers::reference3();
        let Receivers::Many(reference) = &cfg.rx else {
            panic!("reference3 is a list of receivers")
        };
        let positions: Vec<[f64; 3]> = reference.iter().map(|a| a.position_m).collect();
        assert_eq!(
            positions, rx,
            "the manifest's receivers are not the reference layout"
        );
    }
    let scenario = dir.path().join("scenario.json");
    std::fs::write(
        &scenario,
        serde_json::to_string(&cfg.scenario().unwrap()).unwrap(),
    )
    .unwrap();
    let cap = dir.path().join("s.csirec");
    let truth = dir.path().join("s.truth.jsonl");
    let poses = dir.path().join("s.poses.jsonl");
    let p = |p: &Path| p.to_str().unwrap().to_string();
    wifi_sensing(&[
        "-q",
        "simulate",
        "--scenario-file",
        &p(&scenario),
        "--seed",
        &FRESH_SEED.to_string(),
        "--device",
        device,
        "-o",
        &p(&cap),
        "--truth",
        &p(&truth),
    ]);
    let model = p(&models().join("wifi-pose-ref.onnx"));
    let out = wifi_sensing(&[
        "-q",
        "run",
        &p(&cap),
        "--no-frames",
        "--pose",
        &model,
        "--pose-batch",
        "64",
    ]);
    let lines = common::parse_lines(&out);
    assert!(lines.len() as f64 >= 8.0 * FRESH_S, "{} poses", lines.len());
    common::assert_valid("pose-v1.json", &lines[..5]);
    std::fs::write(&poses, &out).unwrap();
    if chosen.is_object() {
        check_track_step(&manifest, &p(&cap), &model, &lines, dir.path());
    }
    let score: Value = serde_json::from_slice(&wifi_sensing(&[
        "-q",
        "model",
        "score",
        "--truth",
        &p(&truth),
        "--poses",
        &p(&poses),
        "--mean-pose",
        &p(&models().join("wifi-pose-ref.mean_pose.json")),
    ]))
    .unwrap();
    let got_pck = num(&score, &["model", "overall", "pck_0_2"]);
    let got_mpjpe = num(&score, &["model", "overall", "mpjpe_mm"]);
    let got_root = num(&score, &["model", "overall", "root_error_m"]);
    eprintln!(
        "fresh session {FRESH_SEED}: PCK@0.2 {got_pck:.4}, MPJPE {got_mpjpe:.0} mm, mid-hip {got_root:.2} m"
    );
    // Tolerance: the spread of the card's own test sessions, widened by half of it plus a fixed
    // margin (one 30 s session varies more than the five-session mean).
    let per: Vec<&Value> = test["model_per_session"]
        .as_array()
        .unwrap()
        .iter()
        .collect();
    let range = |k: &str| {
        let v: Vec<f64> = per.iter().map(|s| s[k].as_f64().unwrap()).collect();
        let (lo, hi) = (
            v.iter().cloned().fold(f64::MAX, f64::min),
            v.iter().cloned().fold(f64::MIN, f64::max),
        );
        (lo, hi, hi - lo)
    };
    let (lo, hi, w) = range("pck_0_2");
    assert!(
        got_pck >= lo - 0.5 * w - 0.05 && got_pck <= hi + 0.5 * w + 0.05,
        "PCK@0.2 {got_pck:.3} on a fresh session, the card's sessions {lo:.3}-{hi:.3} (mean {pck:.3})"
    );
    let (lo, hi, w) = range("mpjpe_mm");
    assert!(
        got_mpjpe >= lo - 0.5 * w - 50.0 && got_mpjpe <= hi + 0.5 * w + 50.0,
        "MPJPE {got_mpjpe:.0} mm on a fresh session, the card's sessions {lo:.0}-{hi:.0} mm (mean {mpjpe:.0})"
    );
    let (lo, hi, w) = range("root_error_m");
    assert!(
        got_root >= lo - 0.5 * w - 0.2 && got_root <= hi + 0.5 * w + 0.2,
        "mid-hip error {got_root:.2} m on a fresh session, the card's sessions {lo:.2}-{hi:.2} m"
    );
    // The baselines are scored on the same windows.
    assert!(num(&score, &["room_centre_baseline", "overall", "windows"]) > 0.0);
}

/// The run applied the manifest's heading-from-track step: against the same model run with a
/// copy of the manifest without it, the poses of some windows (the session walks) differ, the
/// others are identical, and the mid-hip is untouched when the step does not smooth it.
fn check_track_step(manifest: &Value, cap: &str, model: &str, with: &[Value], dir: &Path) {
    let mut raw = manifest.clone();
    raw.as_object_mut().unwrap().remove("post_processing");
    let raw_path = dir.join("raw.json");
    std::fs::write(&raw_path, serde_json::to_string(&raw).unwrap()).unwrap();
    let out = wifi_sensing(&[
        "-q",
        "run",
        cap,
        "--no-frames",
        "--pose",
        model,
        "--pose-batch",
        "64",
        "--pose-manifest",
        raw_path.to_str().unwrap(),
    ]);
    let without = common::parse_lines(&out);
    assert_eq!(with.len(), without.len());
    let xyz = |r: &Value| -> Vec<[f64; 3]> {
        r["data"]["keypoints"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| [num(k, &["x"]), num(k, &["y"]), num(k, &["z"])])
            .collect()
    };
    let smooth = manifest["post_processing"]["track_heading"]["smooth_root"] == Value::Bool(true);
    let mut turned = 0;
    for (ra, rb) in with.iter().zip(&without) {
        assert_eq!(ra["timestamp_ns"], rb["timestamp_ns"]);
        let (a, b) = (xyz(ra), xyz(rb));
        if a != b {
            turned += 1;
        }
        // The record says exactly when the step turned its pose.
        assert_eq!(
            ra["data"]["heading_from_track"],
            Value::Bool(a != b),
            "{}",
            ra["timestamp_ns"]
        );
        assert_eq!(rb["data"]["heading_from_track"], Value::Bool(false));
        if !smooth {
            for i in 0..3 {
                let (ra, rb) = (0.5 * (a[11][i] + a[12][i]), 0.5 * (b[11][i] + b[12][i]));
                assert!((ra - rb).abs() < 1e-4, "mid-hip moved: {ra} vs {rb}");
            }
        }
    }
    eprintln!(
        "heading from the track turned {turned} of {} windows",
        with.len()
    );
    assert!(
        turned > 0,
        "the step changed no window of a session with walking"
    );
    assert!(turned < with.len(), "the step changed every window");
}

#[test]
fn a_stream_without_one_of_the_models_nodes_names_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let p = |p: &Path| p.to_str().unwrap().to_string();
    let cap = dir.path().join("three.csirec");
    wifi_sensing(&[
        "-q",
        "simulate",
        "--random",
        "2001",
        "--nodes",
        "reference3",
        "--device",
        "iwl5300",
        "--duration",
        "3s",
        "-o",
        &p(&cap),
    ]);
    // the frames of nodes 0 and 1 only
    let all = wifi_sensing(&["-q", "run", &p(&cap)]);
    let two: Vec<&str> = std::str::from_utf8(&all)
        .unwrap()
        .lines()
        .filter(|l| !l.contains("\"node_id\":2,"))
        .collect();
    assert!(two.len() > 100);
    let input = dir.path().join("two.jsonl");
    std::fs::write(&input, two.join("\n") + "\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_wifi-sensing"))
        .args(["run", &p(&input), "--no-frames", "--pose"])
        .arg(models().join("wifi-pose-ref.onnx"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    // an error (exit 1), not a warning with exit 0 that a script takes for success
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(out.stdout.is_empty());
    assert!(
        err.contains(
            "node 2 of the 3 the model's manifest lists (input.node_ids [0, 1, 2]) sent no frame"
        ),
        "{err}"
    );
}
