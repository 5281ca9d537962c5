//! `run --pose` and `model inspect`, with the hand-built test models of `fixtures/models/` on
//! a simulated ESP32 stream; pose lines validate against `docs/schema/pose-v1.json`.
#![cfg(feature = "pose")]

mod common;

use common::run;

use std::path::{Path, PathBuf};

use serde_json::Value;

fn models() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/models")
}

/// A simulated ESP32 walk of `secs` at 20 Hz in `out`, with its ground truth in `truth`.
fn simulate_walk(out: &Path, secs: &str, truth: Option<&Path>) {
    simulate_walk_seed(out, secs, truth, "7");
}

/// [`simulate_walk`] with another simulator seed (the default is 7).
fn simulate_walk_seed(out: &Path, secs: &str, truth: Option<&Path>, seed: &str) {
    let mut args = vec![
        "simulate",
        "-q",
        "--device",
        "esp32",
        "--scenario",
        "walk",
        "--duration",
        secs,
        "--rate",
        "20",
        "--seed",
        seed,
        "-o",
        out.to_str().unwrap(),
    ];
    if let Some(t) = truth {
        args.extend(["--truth", t.to_str().unwrap()]);
    }
    let r = run(&args);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
}

/// A temp dir with a simulated 3 s ESP32 capture at 20 Hz (`sim.jsonl`) and the linear test
/// model (`m.onnx`) whose manifest takes ESP32 frames and subcarriers 1..=8.
fn setup() -> (tempfile::TempDir, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let sim = dir.path().join("sim.jsonl");
    simulate_walk(&sim, "3s", None);
    let model = dir.path().join("m.onnx");
    std::fs::copy(models().join("linear_keypoints.onnx"), &model).unwrap();
    let text = std::fs::read_to_string(models().join("linear_keypoints.json")).unwrap();
    let mut m: Value = serde_json::from_str(&text).unwrap();
    m["input"]["device"] = "esp32".into();
    m["input"]["subcarrier_indices"] = (1..=8).collect::<Vec<i32>>().into();
    std::fs::write(dir.path().join("m.json"), m.to_string()).unwrap();
    let (s, mo) = (
        sim.to_string_lossy().into_owned(),
        model.to_string_lossy().into_owned(),
    );
    (dir, s, mo)
}

#[test]
fn run_pose_prints_valid_pose_records() {
    let (_dir, sim, model) = setup();
    let out = run(&["run", &sim, "--no-frames", "--pose", &model]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = common::parse_lines(&out.stdout);
    // 3 s at 20 Hz from t0: windows of 4 frames at 10 Hz end at t0 + 0.3 s .. t0 + 2.9 s.
    assert_eq!(lines.len(), 27);
    common::assert_valid("pose-v1.json", &lines);
    common::assert_valid("record-v1.json", &lines);
    let d = &lines[0]["data"];
    assert_eq!(d["source"], "model");
    assert_eq!(d["model"]["id"], "test-linear-keypoints");
    assert_eq!(d["model"]["backend"], "tract");
    assert_eq!(d["keypoints"].as_array().unwrap().len(), 17);
    assert_eq!(lines[0]["timestamp_ns"], d["window"]["end_ns"]);
    // The frame each node's window ended on, and no heading step in this model's manifest.
    for l in &lines {
        let w = &l["data"]["window"];
        let last = w["last_frame_ns"].as_array().unwrap();
        assert_eq!(last.len(), w["nodes"].as_array().unwrap().len());
        assert!(last[0].as_i64().unwrap() <= w["end_ns"].as_i64().unwrap());
        assert_eq!(l["data"]["heading_from_track"], false);
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("pose: 27 poses from 27 windows")
            && stderr.contains("its data card's evaluation: not evaluated"),
        "{stderr}"
    );
    // The model hash is the file's.
    let sha = d["model"]["sha256"].as_str().unwrap();
    assert_eq!(sha.len(), 64);

    // Batched inference gives the same records; a longer hop gives fewer.
    let batched = run(&[
        "run",
        &sim,
        "--no-frames",
        "--pose",
        &model,
        "--pose-batch",
        "4",
    ]);
    assert_eq!(batched.stdout, out.stdout);
    let hop = run(&[
        "run",
        &sim,
        "--no-frames",
        "--pose",
        &model,
        "--pose-hop",
        "500ms",
    ]);
    assert_eq!(common::parse_lines(&hop.stdout).len(), 6);
}

#[test]
fn the_schema_rejects_a_pose_that_does_not_come_from_a_model() {
    let (_dir, sim, model) = setup();
    let out = run(&["run", &sim, "--no-frames", "--limit", "1", "--pose", &model]);
    let mut line = common::parse_lines(&out.stdout).remove(0);
    let v = common::validator("pose-v1.json");
    assert!(common::errors(&v, &line).is_empty());
    // The schema's own examples validate.
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/schema/pose-v1.json"),
        )
        .unwrap(),
    )
    .unwrap();
    common::assert_valid("pose-v1.json", schema["examples"].as_array().unwrap());
    line["data"]["source"] = "placeholder".into();
    assert!(!common::errors(&v, &line).is_empty());
    // The heading flag is a boolean and the frame times are integers.
    let mut flag = common::parse_lines(&out.stdout).remove(0);
    flag["data"]["heading_from_track"] = "yes".into();
    assert!(!common::errors(&v, &flag).is_empty());
    let mut times = common::parse_lines(&out.stdout).remove(0);
    times["data"]["window"]["last_frame_ns"] = serde_json::json!([1.5]);
    assert!(!common::errors(&v, &times).is_empty());
    line["data"]["source"] = "model".into();
    line["data"]["keypoints"].as_array_mut().unwrap().pop();
    assert!(!common::errors(&v, &line).is_empty());
}

#[test]
fn a_stream_that_does_not_match_the_model_is_an_error() {
    let (_dir, sim, _) = setup();
    // The fixture manifest expects simulator frames; the capture is ESP32.
    let model = models().join("linear_keypoints.onnx");
    let out = run(&[
        "run",
        &sim,
        "--no-frames",
        "--pose",
        model.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("input.device") && stderr.contains("this stream has esp32"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn a_model_that_cannot_load_gives_no_pose_records_and_says_why() {
    let (dir, sim, _) = setup();
    let missing = dir.path().join("none.onnx");
    let out = run(&[
        "run",
        &sim,
        "--no-frames",
        "--pose",
        missing.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    // the missing model is named (not its equally missing manifest)
    assert!(
        stderr.contains("no pose records")
            && stderr.contains("none.onnx: No such file")
            && !stderr.contains("none.json"),
        "{stderr}"
    );
}

#[test]
fn bad_pose_flags_are_usage_errors() {
    let (_dir, sim, model) = setup();
    for args in [
        vec![
            "run",
            sim.as_str(),
            "--pose",
            model.as_str(),
            "--pose-backend",
            "onnx",
        ],
        vec![
            "run",
            sim.as_str(),
            "--pose",
            model.as_str(),
            "--pose-hop",
            "-1s",
        ],
        vec![
            "run",
            sim.as_str(),
            "--pose",
            model.as_str(),
            "--pose-batch",
            "0",
        ],
        vec!["run", sim.as_str(), "--pose-hop", "1s"],
    ] {
        let out = run(&args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    if !cfg!(feature = "ort") {
        let out = run(&["run", &sim, "--pose", &model, "--pose-backend", "ort"]);
        assert_eq!(out.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&out.stderr).contains("not compiled into this binary"));
    }
}

#[test]
fn model_inspect_shows_the_manifest_and_graph() {
    let m = models().join("heatmap_peak.onnx");
    let out = run(&["model", "inspect", m.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("test-heatmap-peak 1.0.0"), "{text}");
    assert!(
        text.contains("input:     csi float32 [batch, 4, 1, 1, 1, 8, 1]"),
        "{text}"
    );
    assert!(
        text.contains("output:    heatmaps float32 [batch, 17, 16, 16]"),
        "{text}"
    );
    assert!(text.contains("the manifest matches the graph"), "{text}");

    let out = run(&["model", "inspect", "--json", m.to_str().unwrap()]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["graph"]["outputs"][0]["name"], "heatmaps");
    assert_eq!(v["manifest"]["output"]["kind"], "heatmaps");
    assert_eq!(v["problems"].as_array().unwrap().len(), 0);
}

#[test]
fn model_inspect_says_what_disagrees() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(models().join("linear_keypoints.json")).unwrap();
    let mut m: Value = serde_json::from_str(&text).unwrap();
    m["input"]["window_frames"] = 8.into();
    m["output"]["tensor"] = "joints".into();
    let mpath = dir.path().join("other.json");
    std::fs::write(&mpath, m.to_string()).unwrap();
    let model = models().join("linear_keypoints.onnx");
    let out = run(&[
        "model",
        "inspect",
        model.to_str().unwrap(),
        "--manifest",
        mpath.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("axis `frames` is 4 in the graph, 8 in the manifest"),
        "{text}"
    );
    assert!(text.contains("`joints`"), "{text}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("disagree (2 problems, listed above)"),
        "{stderr}"
    );

    let bad = models().join("unsupported_op.onnx");
    let out = run(&["model", "inspect", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("example.custom:Frobnicate"));
    // an operator the backend lacks is not a manifest mismatch
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot run as it is") && !stderr.contains("disagree"),
        "{stderr}"
    );

    // without a manifest there is nothing to disagree with: the error says what is missing
    let lone = dir.path().join("lone.onnx");
    std::fs::copy(models().join("linear_keypoints.onnx"), &lone).unwrap();
    let out = run(&["model", "inspect", lone.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no valid manifest") && stderr.contains("lone.json"),
        "{stderr}"
    );
    assert!(!stderr.contains("disagree"), "{stderr}");
}

/// [`setup`] and the pose records of its capture in `poses.jsonl`.
fn setup_poses() -> (tempfile::TempDir, String, PathBuf) {
    let (dir, sim, model) = setup();
    let out = run(&["-q", "run", &sim, "--no-frames", "--pose", &model]);
    assert!(out.status.success());
    let poses = dir.path().join("poses.jsonl");
    std::fs::write(&poses, &out.stdout).unwrap();
    (dir, sim, poses)
}

/// Runs `model score` on one truth and one pose file.
fn score_pair(truth: &Path, poses: &Path) -> std::process::Output {
    run(&[
        "model",
        "score",
        "--truth",
        truth.to_str().unwrap(),
        "--poses",
        poses.to_str().unwrap(),
    ])
}

/// `model score | head -1`: the report stops at the closed stdout, exit 0 (it was an error).
#[test]
fn score_on_a_closed_stdout_exits_zero() {
    let (dir, _sim, poses) = setup_poses();
    let truth = dir.path().join("truth.jsonl");
    simulate_walk(&dir.path().join("again.jsonl"), "3s", Some(&truth));
    let (first, status, err) = common::first_line_then_close(&[
        "model",
        "score",
        "--truth",
        truth.to_str().unwrap(),
        "--poses",
        poses.to_str().unwrap(),
    ]);
    assert_eq!(first.trim(), "{");
    assert!(status.success(), "exit {status:?}, stderr: {err}");
    assert!(!err.contains("error"), "{err}");
}

#[test]
fn score_says_when_pose_records_have_no_truth() {
    let (dir, _sim, poses) = setup_poses();
    // the truth of the same session (same arguments as `setup`), and of a shorter one
    let truth = |secs: &str| {
        let t = dir.path().join(format!("truth-{secs}.jsonl"));
        simulate_walk(&dir.path().join("again.jsonl"), secs, Some(&t));
        t
    };
    let score = |t: &Path| {
        let out = score_pair(t, &poses);
        assert!(out.status.success());
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        (v, String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (v, err) = score(&truth("3s"));
    assert_eq!(v["records_without_truth"], 0);
    assert!(!err.contains("no truth line"), "{err}");
    let (v, err) = score(&truth("2s"));
    let without = v["records_without_truth"].as_u64().unwrap();
    assert!(without > 0);
    assert!(
        err.contains(&format!("{without} of 27 pose records have no truth line")),
        "{err}"
    );
}

#[test]
fn score_refuses_the_truth_of_another_session() {
    let (dir, sim, poses) = setup_poses();
    // The same scenario and length with another simulator seed: the same 20 Hz time grid, but
    // other frame times (jitter), so the poses cannot be this truth's.
    let other = dir.path().join("seed8.truth.jsonl");
    simulate_walk_seed(&dir.path().join("seed8.jsonl"), "3s", Some(&other), "8");
    let out = score_pair(&other, &poses);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "no figures are printed");
    let err = String::from_utf8_lossy(&out.stderr);
    for want in [
        "refusing to score",
        "poses.jsonl",
        "seed8.truth.jsonl",
        "simulator seed 8",
        "only 0 of its 27 pose windows",
        "ended on frames this truth file records",
    ] {
        assert!(err.contains(want), "{want:?} missing: {err}");
    }

    // `model dataset` refuses to pair the capture with that truth as well.
    let manifest = dir.path().join("m.json");
    let dataset = |truth: &Path| {
        run(&[
            "model",
            "dataset",
            &sim,
            "--truth",
            truth.to_str().unwrap(),
            "--manifest",
            manifest.to_str().unwrap(),
            "-o",
            dir.path().join("ds").to_str().unwrap(),
        ])
    };
    let out = dataset(&other);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("refusing to pair")
            && err.contains("simulator seed 8")
            && err.contains("frames (0.0 %) are frames this truth file records"),
        "{err}"
    );
    assert!(!dir.path().join("ds").exists(), "nothing is written");

    // The truth of the poses' own session (seed 7, the default) is accepted and says so.
    let own = dir.path().join("seed7.truth.jsonl");
    simulate_walk(&dir.path().join("seed7.jsonl"), "3s", Some(&own));
    let out = score_pair(&own, &poses);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["records"], 27);
    assert_eq!(v["model"]["overall"]["windows"], 27);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("27 of 27 pose windows ended on frames"),
        "{err}"
    );
    let out = dataset(&own);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.path().join("ds/x.npy").exists());

    // Records of another clock share no time with the truth: refused, naming both spans.
    let text = std::fs::read_to_string(&poses).unwrap();
    let shifted: Vec<String> = common::parse_lines(text.as_bytes())
        .into_iter()
        .map(|mut l| {
            let t = l["timestamp_ns"].as_i64().unwrap() + 1_000_000_000_000;
            l["timestamp_ns"] = t.into();
            l.to_string()
        })
        .collect();
    let late = dir.path().join("late.jsonl");
    std::fs::write(&late, shifted.join("\n")).unwrap();
    let out = score_pair(&own, &late);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("none of its 27 pose records falls within the truth's time span")
            && err.contains("pose records 1000.3"),
        "{err}"
    );

    // Records without frame times (an older build, another tool) are checked by their time
    // grid only: another seed of the same length passes with a warning that says so, a grid
    // half a frame period (25 ms) off is refused.
    let strip = |shift_ns: i64| -> PathBuf {
        let lines: Vec<String> = common::parse_lines(text.as_bytes())
            .into_iter()
            .map(|mut l| {
                let t = l["timestamp_ns"].as_i64().unwrap() + shift_ns;
                l["timestamp_ns"] = t.into();
                l["data"]["window"]
                    .as_object_mut()
                    .unwrap()
                    .remove("last_frame_ns");
                l.to_string()
            })
            .collect();
        let p = dir.path().join(format!("old{shift_ns}.jsonl"));
        std::fs::write(&p, lines.join("\n")).unwrap();
        p
    };
    let out = score_pair(&other, &strip(0));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("27 pose records of")
            && err.contains("cannot tell two sessions of the same length apart"),
        "{err}"
    );
    let out = score_pair(&own, &strip(25_000_000));
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("have a truth line within a quarter of a frame period (12.5 ms)"),
        "{err}"
    );
}

/// `model dataset --keep-nodes` and `model score --keep-nodes`: a second transmitter heard all
/// along (an ESP32 in passive mode takes every MAC it hears as a node) has frames the truth does
/// not list, so the capture and the poses made from it are refused as another session's; with
/// `--keep-nodes` both work on the session's own node, and the records left out are counted.
#[test]
fn model_dataset_and_score_keep_only_the_nodes_named() {
    let (dir, sim, poses) = setup_poses();
    let truth = dir.path().join("truth.jsonl");
    simulate_walk(&dir.path().join("again.jsonl"), "3s", Some(&truth));
    let truth = truth.to_str().unwrap();
    // every frame of node 1 heard again 1 ms later from a stray node 2
    let text = std::fs::read_to_string(&sim).unwrap();
    let mut lines = Vec::new();
    for l in common::parse_lines(text.as_bytes()) {
        lines.push(l.to_string());
        if l["type"] == "frame" {
            let mut s = l.clone();
            s["node_id"] = 2.into();
            s["mac"] = "aa:bb:cc:dd:ee:ff".into();
            s["timestamp_ns"] = (l["timestamp_ns"].as_i64().unwrap() + 1_000_000).into();
            lines.push(s.to_string());
        }
    }
    assert_eq!(lines.len(), 120);
    let stray = dir.path().join("stray.jsonl");
    std::fs::write(&stray, lines.join("\n") + "\n").unwrap();
    let manifest = dir.path().join("m.json");
    let ds = dir.path().join("ds");
    let dataset = |extra: &[&str]| {
        let mut args = vec![
            "model",
            "dataset",
            stray.to_str().unwrap(),
            "--truth",
            truth,
            "--manifest",
            manifest.to_str().unwrap(),
            "-o",
            ds.to_str().unwrap(),
        ];
        args.extend(extra);
        let out = run(&args);
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = dataset(&[]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("only 60 of its 120 frames (50.0 %) are frames this truth file records"),
        "{err}"
    );
    assert!(!ds.exists(), "nothing is written");
    let (code, err) = dataset(&["--keep-nodes", "1"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains("60 records of other nodes (2) left out (--keep-nodes)"),
        "{err}"
    );
    assert!(ds.join("x.npy").exists());
    // a node the capture lacks: a warning naming the nodes it has
    let (code, err) = dataset(&["--keep-nodes", "7"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains(
            "no frame of the nodes --keep-nodes keeps is in the input; its other nodes: 1, 2 \
             (120 records left out)"
        ),
        "{err}"
    );

    // the pose records, each also made for the stray node (its window ending 1 ms later)
    let text = std::fs::read_to_string(&poses).unwrap();
    let mut lines = Vec::new();
    for l in common::parse_lines(text.as_bytes()) {
        lines.push(l.to_string());
        let mut s = l.clone();
        s["node_id"] = 2.into();
        s["data"]["window"]["nodes"] = serde_json::json!([2]);
        let t = l["data"]["window"]["last_frame_ns"][0].as_i64().unwrap();
        s["data"]["window"]["last_frame_ns"] = serde_json::json!([t + 1_000_000]);
        lines.push(s.to_string());
    }
    let both = dir.path().join("both.jsonl");
    std::fs::write(&both, lines.join("\n") + "\n").unwrap();
    let score = |extra: &[&str]| {
        let mut args = vec![
            "model",
            "score",
            "--truth",
            truth,
            "--poses",
            both.to_str().unwrap(),
        ];
        args.extend(extra);
        run(&args)
    };
    let out = score(&[]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("only 27 of its 54 pose windows"), "{err}");
    let out = score(&["--keep-nodes", "1"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["records"], 27);
    assert!(
        err.contains("27 pose records of other nodes (2) left out (--keep-nodes)")
            && err.contains("27 of 27 pose windows ended on frames"),
        "{err}"
    );
    // nothing of the nodes kept: an error naming the nodes the records have
    let out = score(&["--keep-nodes", "7"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "no pose record of the nodes --keep-nodes keeps is in the --poses files; their other \
             nodes: 1, 2 (54 records left out)"
        ),
        "{err}"
    );
}

/// `model inspect` of the reference model states its limitations and its post-processing.
#[test]
fn model_inspect_states_limitations_and_post_processing() {
    let model = models().join("wifi-pose-ref.onnx");
    let out = run(&["model", "inspect", model.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("limitations: Simulated data only"), "{text}");
    assert!(
        text.contains("post-processing: heading from the track")
            && text.contains("data.heading_from_track"),
        "{text}"
    );
}

/// `--pose` with `--stages`: the model is given staged frames, and the run says so.
#[test]
fn pose_after_stages_is_pointed_out() {
    let (_dir, sim, model) = setup();
    let out = run(&["run", &sim, "--no-frames", "--pose", &model]);
    assert!(out.status.success());
    assert!(!String::from_utf8_lossy(&out.stderr).contains("--stages"));
    let out = run(&[
        "run",
        &sim,
        "--no-frames",
        "--pose",
        &model,
        "--stages",
        "hampel:window=5",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains(
            "warning: --pose: the model is given the frames after --stages `hampel:window=5`"
        ),
        "{err}"
    );
}

/// `model dataset` with the model given as its manifest, or a file as its output folder: errors
/// that say what is wrong (they said "stream did not contain valid UTF-8" and "File exists").
#[test]
fn dataset_names_a_model_given_as_manifest_and_a_file_given_as_folder() {
    let (dir, sim, model) = setup();
    let truth = dir.path().join("truth.jsonl");
    simulate_walk(&dir.path().join("again.jsonl"), "3s", Some(&truth));
    let manifest = dir.path().join("m.json");
    let file = dir.path().join("taken.json");
    std::fs::write(&file, "{}").unwrap();
    for (m, out, want) in [
        (
            model.as_str(),
            dir.path().join("ds"),
            "not a text (JSON) file",
        ),
        (
            manifest.to_str().unwrap(),
            file.clone(),
            "a file, not a folder",
        ),
    ] {
        let r = run(&[
            "model",
            "dataset",
            &sim,
            "--truth",
            truth.to_str().unwrap(),
            "--manifest",
            m,
            "-o",
            out.to_str().unwrap(),
        ]);
        let err = String::from_utf8_lossy(&r.stderr);
        assert_eq!(r.status.code(), Some(1), "{err}");
        assert!(err.contains(want), "{want:?} missing: {err}");
    }
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "{}");
}

/// A simulated Intel 5300 random session (seed 2001, the reference model's first held-out
/// seed) with the receiver layout `nodes`, as JSON Lines in `dir`.
fn random_intel_session(dir: &Path, nodes: &str, secs: &str) -> PathBuf {
    let out = dir.join(format!("{nodes}.jsonl"));
    let r = run(&[
        "simulate",
        "-q",
        "--random",
        "2001",
        "--nodes",
        nodes,
        "--device",
        "intel5300",
        "--duration",
        secs,
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    out
}

/// An input whose nodes are not the ones the model's manifest lists is an error (exit 1) that
/// names the nodes that sent nothing, and a node the model does not use; it used to be a
/// warning with exit status 0, which a script could not tell from success.
#[test]
fn nodes_the_model_lists_and_the_input_lacks_are_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let one = random_intel_session(dir.path(), "one", "2s");
    let model = models().join("wifi-pose-ref.onnx");
    let out = run(&[
        "run",
        one.to_str().unwrap(),
        "--no-frames",
        "--pose",
        model.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(out.stdout.is_empty());
    // `--nodes one` is node 1, which the model lists; 0 and 2 sent nothing
    assert!(
        err.contains("nodes 0, 2 of the 3 the model's manifest lists"),
        "{err}"
    );
    // a manifest that lists other nodes: the input's node is named
    let m = dir.path().join("m.onnx");
    std::fs::copy(&model, &m).unwrap();
    let text = std::fs::read_to_string(models().join("wifi-pose-ref.json")).unwrap();
    let mut man: Value = serde_json::from_str(&text).unwrap();
    man["input"]["node_ids"] = serde_json::json!([4, 5, 6]);
    if let Some(rx) = man["sensing_layout"]["receivers"].as_array_mut() {
        for (r, id) in rx.iter_mut().zip([4, 5, 6]) {
            r["node_id"] = id.into();
        }
    }
    std::fs::write(dir.path().join("m.json"), man.to_string()).unwrap();
    let out = run(&[
        "run",
        one.to_str().unwrap(),
        "--no-frames",
        "--pose",
        m.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(
            "none of the nodes the model's manifest lists (input.node_ids [4, 5, 6]) sent a frame"
        ) && err.contains("the first of node 1"),
        "{err}"
    );
}

/// A `--pose-hop` too long for the reference model's heading-from-track step (3 windows in
/// its 1 s span) is warned of; 0.5 s still keeps the step.
#[test]
fn a_hop_too_long_for_the_heading_step_is_warned_of() {
    let dir = tempfile::tempdir().unwrap();
    let cap = random_intel_session(dir.path(), "reference3", "3s");
    let model = models().join("wifi-pose-ref.onnx");
    for (hop, warned) in [("0.5s", false), ("0.9s", true)] {
        let out = run(&[
            "run",
            cap.to_str().unwrap(),
            "--no-frames",
            "--pose",
            model.to_str().unwrap(),
            "--pose-hop",
            hop,
        ]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{err}");
        let warning = err.find("no pose will get a heading from the track");
        assert_eq!(warning.is_some(), warned, "{hop}: {err}");
        if let Some(w) = warning {
            // said before the input is read, and the summary does not claim the step
            assert!(w < err.find("frames read").unwrap(), "{err}");
            assert!(
                err.contains("heading from the track not applied: --pose-hop too long"),
                "{err}"
            );
        }
    }
}

/// Files that are no ONNX model are named for what they are: an empty file, a JSON file (a
/// manifest given as the model), and a model whose operators the backend lacks (not a
/// disagreement with its manifest).
#[test]
fn model_files_that_cannot_run_say_why() {
    let (dir, sim, _model) = setup();
    let empty = dir.path().join("empty.onnx");
    std::fs::write(&empty, b"").unwrap();
    let json = dir.path().join("manifest.onnx");
    std::fs::copy(dir.path().join("m.json"), &json).unwrap();
    // two bytes that decode as an ONNX model without a graph
    let no_graph = dir.path().join("nograph.onnx");
    std::fs::write(&no_graph, b"\x08\x07").unwrap();
    for (m, want) in [
        (&empty, "the file is empty (0 bytes), not an ONNX model"),
        (&json, "this is a JSON file, not an ONNX model"),
        (&no_graph, "the file holds no ONNX graph"),
    ] {
        std::fs::copy(dir.path().join("m.json"), m.with_extension("json")).unwrap();
        for args in [
            vec![
                "run",
                sim.as_str(),
                "--no-frames",
                "--pose",
                m.to_str().unwrap(),
            ],
            vec!["model", "inspect", m.to_str().unwrap()],
        ] {
            let out = run(&args);
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
            assert!(err.contains(want), "{args:?}: {err}");
        }
    }
    let op = models().join("unsupported_op.onnx");
    let out = run(&["run", &sim, "--no-frames", "--pose", op.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("the graph uses operators this backend does not implement")
            && !err.contains("disagree"),
        "{err}"
    );
}

/// A node that stops sending after a few frames leaves every window short of frames: the
/// warning gives the frames of each of the model's nodes, so the silent one shows.
#[test]
fn windows_short_of_frames_name_each_nodes_frames() {
    let dir = tempfile::tempdir().unwrap();
    let all = random_intel_session(dir.path(), "reference3", "3s");
    let mut kept = 0;
    let text: String = std::fs::read_to_string(&all)
        .unwrap()
        .lines()
        .filter(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            if v["node_id"] == 2 {
                kept += 1;
                kept <= 3
            } else {
                true
            }
        })
        .map(|l| format!("{l}\n"))
        .collect();
    let few = dir.path().join("few.jsonl");
    std::fs::write(&few, text).unwrap();
    let model = models().join("wifi-pose-ref.onnx");
    let out = run(&[
        "run",
        few.to_str().unwrap(),
        "--no-frames",
        "--pose",
        model.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("every window had too many missing frames (frames of the model's nodes:")
            && err.contains("node 2: 3)"),
        "{err}"
    );
}
