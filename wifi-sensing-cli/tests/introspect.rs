//! `run --introspect` and `signature capture`: snapshots validate against
//! `docs/schema/introspection-v1.json` and `-v3.json` (v3 with the `early` object of
//! `--introspect-early`, and its `rejected` with `--introspect-early-other`), `--introspect-every` thins them, bad signature directories and flag
//! values fail clearly.

mod common;

use common::{run, stdout_ok, tmp};

use std::path::Path;

fn signatures() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/signatures")
        .to_string_lossy()
        .into_owned()
}

fn early_signatures() -> String {
    format!("{}/early", signatures())
}

/// The `signature capture` arguments of a 1 s `push` cut at 4 s.
const PUSH_CUT: [&str; 6] = ["--label", "push", "--start", "4s", "--duration", "1s"];

/// `signature capture INPUT ARGS... -o OUT`.
fn sig_capture(input: &str, out: &str, args: &[&str]) -> std::process::Output {
    let mut all = vec!["signature", "capture", input];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-o", out]);
    run(&all)
}

fn simulate(dir: &Path, scenario: &str, secs: &str, seed: &str) -> String {
    let f = dir.join(format!("{}.csirec", scenario.replace(':', "_")));
    let f = f.to_string_lossy().into_owned();
    stdout_ok(&[
        "-q",
        "simulate",
        "--scenario",
        scenario,
        "--duration",
        secs,
        "--seed",
        seed,
        "-o",
        &f,
    ]);
    f
}

#[test]
fn snapshots_validate_and_every_thins_them() {
    let dir = tmp("snap");
    let input = simulate(&dir, "gesture:wave", "6s", "5");
    let sigs = signatures();
    let lines = common::parse_lines(&stdout_ok(&[
        "run",
        "-q",
        "--no-frames",
        "--introspect",
        &sigs,
        &input,
    ]));
    assert!(lines.len() > 250, "{} lines", lines.len());
    common::assert_valid("introspection-v1.json", &lines);
    // Data version 2 only adds the optional `early` object.
    common::assert_valid("introspection-v3.json", &lines);
    assert!(lines.iter().all(|l| l["data"].get("early").is_none()));
    // One snapshot per frame, counting up; every fixture signature listed (top 3 of 3).
    for (i, l) in lines.iter().enumerate() {
        assert_eq!(l["data"]["frame_count"], (i + 1) as u64);
        assert_eq!(l["data"]["top_k_similarity"].as_array().unwrap().len(), 3);
    }
    let thin = common::parse_lines(&stdout_ok(&[
        "run",
        "-q",
        "--no-frames",
        "--introspect",
        &sigs,
        "--introspect-every",
        "5",
        &input,
    ]));
    assert_eq!(thin.len(), lines.len() / 5);
    assert_eq!(thin[0]["data"]["frame_count"], 5);
    assert_eq!(thin[0], lines[4]);
    // The validator can fail.
    let v = common::validator("introspection-v1.json");
    let mut bad = lines[0].clone();
    bad["data"]["regime"] = "wobbly".into();
    assert!(!common::errors(&v, &bad).is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_signature_dirs_and_flags_fail_clearly() {
    let dir = tmp("bad");
    let input = simulate(&dir, "walk", "1s", "6");
    let sigs = dir.join("sigs");
    std::fs::create_dir_all(&sigs).unwrap();
    let good = std::fs::read_to_string(Path::new(&signatures()).join("wave.json")).unwrap();
    std::fs::write(
        sigs.join("broken.json"),
        good.replacen("\"length\": 63", "\"length\": 7", 1),
    )
    .unwrap();
    let s = sigs.to_string_lossy().into_owned();
    let out = run(&["run", "-q", "--no-frames", "--introspect", &s, &input]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("broken.json") && err.contains("vectors"),
        "{err}"
    );
    // two files with one id: both named, and the way out (`--id`)
    let dup = dir.join("dup");
    std::fs::create_dir_all(&dup).unwrap();
    std::fs::write(dup.join("a.json"), &good).unwrap();
    std::fs::write(dup.join("b.json"), &good).unwrap();
    let d = dup.to_string_lossy().into_owned();
    let out = run(&["run", "-q", "--no-frames", "--introspect", &d, &input]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("duplicate id")
            && err.contains("a.json")
            && err.contains("b.json")
            && err.contains("--id"),
        "{err}"
    );
    let out = run(&[
        "run",
        "-q",
        "--introspect",
        &signatures(),
        "--introspect-every",
        "0",
        &input,
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("'--introspect-every <N>': must be at least 1"),
        "{err}"
    );
    let out = run(&["run", "-q", "--introspect-every", "3", &input]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "--introspect-every needs --introspect"
    );
    // Stages that change the subcarrier count are named as the cause of a dimension
    // mismatch (it said the signatures came from another device and layout).
    let out = run(&[
        "run",
        "-q",
        "--no-frames",
        "--introspect",
        &signatures(),
        "--stages",
        "select:top=10:baseline=10:window=10",
        &input,
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("52 dimensions of amp_baseline_v1, the stream reads 10 after the stages `select:top=10:baseline=10:window=10`")
            && err.contains("run without these stages"),
        "{err}"
    );
    assert!(
        !err.contains("cut new ones from input like this one"),
        "{err}"
    );
    // A file whose feature_kind does not fit its vectors: the kind is named.
    std::fs::write(
        sigs.join("broken.json"),
        good.replacen("amp_baseline_v1", "motion_lags_v1", 1),
    )
    .unwrap();
    let shape = signatures();
    for flag in ["--introspect", "--introspect-early"] {
        let mut a = vec!["run", "-q", "--no-frames", "--introspect", &shape];
        if flag == "--introspect" {
            a.truncate(3);
        }
        a.extend_from_slice(&[flag, &s, &input]);
        let out = run(&a);
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("broken.json")
                && err.contains("52 values per frame, but feature kind motion_lags_v1 has 6"),
            "{flag}: {err}"
        );
        // (the paths in the message may contain the word too)
        let words = err.replace(&*dir.to_string_lossy(), "DIR");
        assert!(!words.contains("layout"), "{flag}: {err}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn capture_writes_a_signature_that_loads_and_refuses_an_empty_cut() {
    let dir = tmp("cap");
    let input = simulate(&dir, "gesture:push", "8s", "7");
    let bg = simulate(&dir, "walk", "8s", "8");
    let out = dir.join("push.json").to_string_lossy().into_owned();
    stdout_ok(&[
        "-q",
        "signature",
        "capture",
        &input,
        "--label",
        "push",
        "--start",
        "4s",
        "--duration",
        "1s",
        "--no-input-background",
        "--background",
        &bg,
        "-o",
        &out,
    ]);
    let sig = wifi_sensing_introspect::signature::Signature::load(&out).unwrap();
    assert_eq!(sig.label, "push");
    assert!((45..=50).contains(&sig.length), "{}", sig.length);
    assert_eq!(sig.dim(), 52);
    assert!(sig.promotion_threshold > 0.0 && sig.promotion_threshold <= 1.0);
    let p = sig.provenance.unwrap();
    assert!(
        p.rule
            .as_deref()
            .unwrap()
            .contains("threshold score = 1 / (1 + 0.5 x"),
        "{:?}",
        p.rule
    );
    assert_eq!(p.input.as_deref(), Some("gesture_push.csirec"));
    assert!(p.background_frames.unwrap() > 300);
    // The log says where the promotion threshold comes from: 1/(1 + margin) when nothing in
    // the background came closer than stillness (it read as a threshold fitted to the data).
    let o = common::run_ok(&[
        "signature",
        "capture",
        &input,
        "--label",
        "push",
        "--start",
        "4s",
        "--duration",
        "1s",
        "-o",
        &out,
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("promotion threshold 0.6667 = 1/(1 + margin 0.5 x R 1.000)")
            && err.contains("the threshold is 1/(1 + margin) whatever the data"),
        "{err}"
    );
    // `signature capture` of the input with `cut` (label, start, duration, ...) into `out`
    let capture = |cut: &[&str]| sig_capture(&input, &out, cut);
    let o = capture(&["--label", "push", "--start", "30s", "--duration", "1s"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("holds 0 usable frames"));
    // a node the input does not have is named as such, with the nodes it has
    let o = capture(&[
        "--label",
        "push",
        "--start",
        "4s",
        "--duration",
        "1s",
        "--node",
        "5",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("node 5 has no frames (the input's nodes: 1)"),
        "{e}"
    );
    let o = capture(&[
        "--label",
        "x",
        "--start",
        "1s",
        "--duration",
        "1s",
        "--margin",
        "2",
    ]);
    assert_eq!(o.status.code(), Some(2));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn capture_checks_its_flags_before_reading_and_warns_of_a_cut_past_the_end() {
    let dir = tmp("cap-flags");
    // usage errors (exit status 2) naming the option, found before the input is read: the
    // input does not exist
    let missing = dir.join("missing.csirec").to_string_lossy().into_owned();
    let out = dir.join("s.json").to_string_lossy().into_owned();
    let cut = ["--start", "1s", "--duration", "1s", "-o", &out];
    for (flags, want) in [
        (
            vec!["--label", "x", "--captured-at", "yesterday"],
            "'--captured-at <CAPTURED_AT>': not an RFC 3339 date-time",
        ),
        (
            vec!["--label", "x", "--captured-at", "2026-13-45T99:00:00Z"],
            "not an RFC 3339 date-time (input is out of range",
        ),
        (vec!["--label", ""], "'--label <LABEL>': must not be empty"),
        (
            vec!["--label", "x", "--id", " "],
            "'--id <ID>': must not be empty",
        ),
        (
            vec!["--label", "x", "--no-input-background"],
            "--no-input-background leaves no frames to derive the thresholds from",
        ),
    ] {
        let mut args = vec!["signature", "capture", &missing];
        args.extend(&flags);
        args.extend(cut);
        let o = run(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{flags:?}: {err}");
        assert!(err.contains(want), "{flags:?}: {err}");
        assert!(
            err.contains("2026-12-05T15:00:00Z") || !want.contains("RFC"),
            "{err}"
        );
    }
    // a cut past the end of the input is said, with what the signature covers
    let input = simulate(&dir, "gesture:push", "8s", "7");
    let o = sig_capture(
        &input,
        &out,
        &[
            "--label",
            "push",
            "--start",
            "6s",
            "--duration",
            "3s",
            "--captured-at",
            "2026-12-05T16:00:00.5+01:00",
        ],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    let sig = wifi_sensing_introspect::signature::Signature::load(&out).unwrap();
    assert_eq!(sig.captured_at, "2026-12-05T16:00:00.5+01:00");
    // the provenance records what the input covered of the 3 s asked for
    let covered = sig.provenance.as_ref().unwrap().duration_s.unwrap();
    assert!((1.9..2.1).contains(&covered), "{covered}");
    assert!(
        err.contains("the requested cut 6.000..9.000 s (--start, --duration) runs past the end")
            && err.contains("7.979 s")
            && err.contains(&format!("{} frames)", sig.length)),
        "{err}"
    );
    // a cut inside the input says nothing of the kind
    let o = sig_capture(&input, &out, &PUSH_CUT);
    assert!(o.status.success());
    assert!(!String::from_utf8_lossy(&o.stderr).contains("runs past the end"));
    // a cut at the very start (`--start 0s`), from a recording cut inside its last entry:
    // the frames before the cut are used, and the cut is said
    let bytes = std::fs::read(&input).unwrap();
    let cut_file = dir.join("cut.csirec").to_string_lossy().into_owned();
    std::fs::write(&cut_file, &bytes[..bytes.len() - 30]).unwrap();
    let o = sig_capture(
        &cut_file,
        &out,
        &["--label", "push", "--start", "0s", "--duration", "1s"],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(
        err.contains("inside") && err.contains("cut.csirec"),
        "{err}"
    );
    // stdin can be read once: as the input or as one background
    let o = sig_capture(
        "-",
        &out,
        &[
            "--background",
            "-",
            "--label",
            "x",
            "--start",
            "1s",
            "--duration",
            "1s",
        ],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("stdin (`-`) can be read only once"), "{err}");
    // a background shorter than the signature cannot set thresholds: refused (3.5 s of
    // input, a 1 s cut at 1 s: only the frames from 3 s on are background, half a signature)
    let short = simulate(&dir, "walk", "3500ms", "7");
    let o = sig_capture(
        &short,
        &out,
        &["--label", "walk", "--start", "1s", "--duration", "1s"],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("background frames to derive thresholds from, fewer than the signature's"),
        "{err}"
    );
    // a signature that loads, for the loader check below
    let o = sig_capture(&input, &out, &PUSH_CUT);
    assert!(o.status.success());
    // the loader refuses a file whose captured_at is not RFC 3339, naming file and field
    let sigs = dir.join("sigs");
    std::fs::create_dir_all(&sigs).unwrap();
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    v["captured_at"] = "yesterday".into();
    std::fs::write(sigs.join("when.json"), v.to_string()).unwrap();
    let s = sigs.to_string_lossy().into_owned();
    let o = run(&["run", "-q", "--no-frames", "--introspect", &s, &input]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("when.json") && err.contains("captured_at") && err.contains("RFC 3339"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn early_labelling_opens_after_the_onset_and_validates() {
    let dir = tmp("early");
    // Standing 4 s, then walking 6 s (the scenario of the walk fixture), another seed.
    let input = dir.join("walk.csirec").to_string_lossy().into_owned();
    let scenario = format!("{}/scenarios/walk_after_stand.json", signatures());
    stdout_ok(&[
        "-q",
        "simulate",
        "--scenario-file",
        &scenario,
        "--seed",
        "31",
        "-o",
        &input,
    ]);
    let lines = common::parse_lines(&stdout_ok(&[
        "run",
        "-q",
        "--no-frames",
        "--introspect",
        &signatures(),
        "--introspect-early",
        &early_signatures(),
        &input,
    ]));
    assert!(lines.len() > 450, "{} lines", lines.len());
    common::assert_valid("introspection-v3.json", &lines);
    let onset_ns = 4_000_000_000i64;
    let t = |l: &serde_json::Value| l["timestamp_ns"].as_i64().unwrap();
    for l in lines.iter().filter(|l| t(l) < onset_ns) {
        let e = &l["data"]["early"];
        assert_eq!(e["moving"], false, "{l}");
        assert!(e["label"].is_null());
    }
    // Opens after the onset, within 25 frames (0.5 s; see the crate's early_analyser test).
    let opened: Vec<i64> = lines
        .iter()
        .filter(|l| l["data"]["early"]["onset"] == true)
        .map(t)
        .collect();
    assert!(!opened.is_empty());
    assert!(
        opened[0] >= onset_ns && opened[0] <= onset_ns + 25 * 20_000_000,
        "opened at {} ns",
        opened[0]
    );
    // A walk of 6 s is committed as a walk, once.
    let committed: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| l["data"]["early"]["committed_now"] == true)
        .collect();
    assert_eq!(committed.len(), 1);
    assert_eq!(committed[0]["data"]["early"]["committed_label"], "walk");
    // ... and named in `commits` with the time of its frame (absent from the other lines)
    let commits = &committed[0]["data"]["early"]["commits"];
    assert_eq!(
        *commits,
        serde_json::json!([{"label": "walk", "timestamp_ns": t(committed[0])}])
    );
    assert_eq!(
        lines
            .iter()
            .filter(|l| l["data"]["early"].get("commits").is_some())
            .count(),
        1
    );
    // Thinned, the snapshot after the commit names it with the same time.
    let thin = common::parse_lines(&stdout_ok(&[
        "run",
        "-q",
        "--no-frames",
        "--introspect",
        &signatures(),
        "--introspect-early",
        &early_signatures(),
        "--introspect-every",
        "200",
        &input,
    ]));
    common::assert_valid("introspection-v3.json", &thin);
    let thin_commits: Vec<&serde_json::Value> = thin
        .iter()
        .filter_map(|l| l["data"]["early"].get("commits"))
        .collect();
    assert_eq!(thin_commits, [commits]);
    // Thinned beyond the stream's end: no regular snapshot, but the commit and the onset are not
    // lost: one snapshot of the last frame carries them (and no "no snapshot" notice).
    let out = common::run(&[
        "run",
        "--no-frames",
        "--introspect",
        &signatures(),
        "--introspect-early",
        &early_signatures(),
        "--introspect-every",
        "100000",
        &input,
    ]);
    assert!(out.status.success());
    let end = common::parse_lines(&out.stdout);
    common::assert_valid("introspection-v3.json", &end);
    assert_eq!(end.len(), 1, "{end:?}");
    assert_eq!(end[0]["data"]["early"]["commits"], *commits);
    assert_eq!(end[0]["data"]["early"]["onset"], true);
    assert_eq!(end[0]["data"]["frame_count"], lines.len());
    assert_eq!(t(&end[0]), t(lines.last().unwrap()));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("no snapshot"));
    // With --events in the same run: the episode opens no later than the event path's
    // MotionStarted (stage 1 also opens on it), and the snapshots are unchanged.
    let both = common::parse_lines(&stdout_ok(&[
        "run",
        "-q",
        "--no-frames",
        "--events",
        "--introspect",
        &signatures(),
        "--introspect-early",
        &early_signatures(),
        &input,
    ]));
    let started: Vec<i64> = both
        .iter()
        .filter(|l| l["type"] == "event" && l["data"]["event"] == "motion_started")
        .map(t)
        .filter(|&ts| ts >= onset_ns)
        .collect();
    assert!(!started.is_empty());
    assert!(
        opened[0] <= started[0],
        "opened {} ns, MotionStarted {} ns",
        opened[0],
        started[0]
    );
    let snaps: Vec<&serde_json::Value> = both
        .iter()
        .filter(|l| l["type"] == "introspection")
        .collect();
    assert_eq!(snaps.len(), lines.len());
    assert!(snaps.iter().zip(&lines).all(|(a, b)| *a == b));
    // The v3 schema's own examples validate, and it rejects a broken `early`.
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(common::schema_path("introspection-v3.json")).unwrap(),
    )
    .unwrap();
    common::assert_valid(
        "introspection-v3.json",
        schema["examples"].as_array().unwrap(),
    );
    let v = common::validator("introspection-v3.json");
    let mut bad = lines[0].clone();
    bad["data"]["early"]["frames_since_onset"] = (-1).into();
    assert!(!common::errors(&v, &bad).is_empty());
    let mut bad = lines[0].clone();
    bad["data"]["early"]
        .as_object_mut()
        .unwrap()
        .remove("committed_label");
    assert!(!common::errors(&v, &bad).is_empty());
    let mut bad = lines[0].clone();
    bad["data"]["early"]
        .as_object_mut()
        .unwrap()
        .remove("rejected");
    assert!(!common::errors(&v, &bad).is_empty());
    for c in [
        serde_json::json!([]),
        serde_json::json!([{"label": "walk"}]),
        serde_json::json!([{"label": "walk", "timestamp_ns": 1, "at": 2}]),
    ] {
        let mut bad = committed[0].clone();
        bad["data"]["early"]["commits"] = c;
        assert!(!common::errors(&v, &bad).is_empty(), "{bad}");
    }
    assert!(lines
        .iter()
        .all(|l| l["data"]["early"]["rejected"] == false));
    // ... v2 rejects the `rejected` it does not know, and v1 the `early` object.
    assert!(!common::errors(&common::validator("introspection-v2.json"), &lines[0]).is_empty());
    assert!(!common::errors(&common::validator("introspection-v1.json"), &lines[0]).is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A node that mixes subcarrier layouts frame by frame is analysed in its most common one, as
/// `--events` analyses it: node 1 of the RuView recording starts with a 128-pair frame (23 of
/// its 137), and was analysed in that layout, skipping 114 frames. The frames of the other
/// layouts are skipped and counted, and the end of the run says how many, with the figures of
/// `--events` (tests/messages.rs).
#[test]
fn frames_of_another_layout_are_reported() {
    let input = common::fixture("ruview_esp32/pretrain-1775182186_first300.csi.jsonl");
    let out = run(&[
        "run",
        &input,
        "--no-frames",
        "--introspect",
        &early_signatures(),
    ]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    // node 1: its first frame and the first 64-pair one (before that layout led) and the 23
    // frames of the other layouts after it
    for (node, skipped, seen) in [(1, 25, 137), (2, 29, 139)] {
        let want = format!(
            "introspection (--introspect): node {node}: {skipped} of {seen} frames skipped for \
             their subcarrier layout (also 1x1x128, 1x1x192; analysed in 1x1x64); a node that \
             mixes layouts is analysed in its most common one in its first frames"
        );
        assert_eq!(err.matches(&want).count(), 1, "{err}");
    }
    assert_eq!(
        err.matches("frames skipped for their subcarrier layout")
            .count(),
        2,
        "{err}"
    );
    // every frame of the common layout gets a snapshot; node 1's first frame got one too,
    // before the node started over in the common layout
    let lines = common::parse_lines(&out.stdout);
    for (node, snapshots) in [(1, 137 - 25 + 1), (2, 139 - 29)] {
        let n = lines
            .iter()
            .filter(|l| l["type"] == "introspection" && l["node_id"] == node)
            .count();
        assert_eq!(n, snapshots, "node {node}");
    }
}

#[test]
fn early_flags_are_checked() {
    let dir = tmp("early-flags");
    let input = simulate(&dir, "walk", "1s", "9");
    let sigs = signatures();
    let early = early_signatures();
    let cmd = |extra: &[&str]| {
        let mut a = vec!["run", "-q", "--no-frames"];
        a.extend_from_slice(extra);
        a.push(&input);
        run(&a)
    };
    let both = ["--introspect", &sigs, "--introspect-early", &early];
    // --introspect-early needs --introspect; the tuning flags need --introspect-early.
    for extra in [
        vec!["--introspect-early", &early],
        vec!["--introspect", &sigs, "--early-margin", "1"],
        [&both[..], &["--early-margin", "-1"]].concat(),
        [&both[..], &["--early-min-frames", "0"]].concat(),
        vec!["--introspect", &sigs, "--early-decide-at", "64"],
        [&both[..], &["--early-decide-at", "-1"]].concat(),
        vec!["--introspect", &sigs, "--early-late-margin", "0.2"],
        [&both[..], &["--early-late-margin", "-1"]].concat(),
        vec!["--introspect", &sigs, "--introspect-early-other", &early],
    ] {
        assert_eq!(cmd(&extra).status.code(), Some(2), "{extra:?}");
    }
    // --baseline serves early labelling's motion onset too: accepted with --introspect-early
    // alone, a usage error without any user of it.
    let empty = simulate(&dir, "empty", "12s", "6");
    let base = dir.join("baseline.json").to_string_lossy().into_owned();
    stdout_ok(&["-q", "calibrate", &empty, "-o", &base]);
    let out = cmd(&[&both[..], &["--baseline", &base]].concat());
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(cmd(&["--baseline", &base]).status.code(), Some(2));
    // A forced decision before the shortest prefix is a usage error naming both flags.
    let out = cmd(&[
        &both[..],
        &["--early-min-frames", "16", "--early-decide-at", "8"],
    ]
    .concat());
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--early-decide-at 8 is below --early-min-frames 16"),
        "{err}"
    );
    // --early-min-frames above the default forced decision moves that default up with it
    let out = cmd(&[&both[..], &["--early-min-frames", "100"]].concat());
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Shape signatures are not early signatures.
    let out = cmd(&["--introspect", &sigs, "--introspect-early", &sigs]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("motion_lags_v1"), "{err}");
    // Models of other motion: the shape signatures are refused (another kind), the fixtures'
    // returns to standing are read, and every line validates.
    let out = cmd(&[&both[..], &["--introspect-early-other", &sigs]].concat());
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("other motion") && err.contains("motion_lags_v1"),
        "{err}"
    );
    let other = format!("{early}/other");
    let out = cmd(&[&both[..], &["--introspect-early-other", &other]].concat());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = common::parse_lines(&out.stdout);
    assert!(!lines.is_empty());
    common::assert_valid("introspection-v3.json", &lines);
    // Tuned: a margin no label reaches, without a forced decision or with one that asks for
    // the same lead, never commits.
    for forced in [["--early-decide-at", "0"], ["--early-late-margin", "1e9"]] {
        let out = cmd(&[
            &both[..],
            &["--early-margin", "1e9", "--early-min-frames", "2"],
            &forced[..],
        ]
        .concat());
        assert!(out.status.success());
        let lines = common::parse_lines(&out.stdout);
        assert!(!lines.is_empty());
        assert!(lines
            .iter()
            .all(|l| l["data"]["early"]["committed_label"].is_null()));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Signatures whose threshold a still room crosses (the early-labelling ones given to
/// `--introspect`) are pointed out, once each; the shipped `--introspect` fixtures are not.
#[test]
fn thresholds_a_still_room_crosses_are_pointed_out() {
    let dir = tmp("low-threshold");
    let input = simulate(&dir, "still", "2s", "9");
    let out = run(&[
        "run",
        "--no-frames",
        "--introspect",
        &early_signatures(),
        &input,
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    // walk, wave, sit and push's two templates
    assert_eq!(err.matches("is at or below 0.5").count(), 5, "{err}");
    assert!(err.contains("made for --introspect-early"), "{err}");
    // what the warning says: on the still room these signatures are above threshold, most
    // of the time
    let lines = common::parse_lines(&out.stdout);
    let above = lines
        .iter()
        .filter(|l| {
            l["data"]["top_k_similarity"]
                .as_array()
                .is_some_and(|v| v.iter().any(|s| s["above_threshold"] == true))
        })
        .count();
    assert!(
        !lines.is_empty() && above * 2 > lines.len(),
        "{above} of {}",
        lines.len()
    );
    let out = run(&["run", "--no-frames", "--introspect", &signatures(), &input]);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("at or below 0.5"));
}

/// The shipped profile signatures (52 values, cut from simulated frames that state their
/// subcarrier indices) do not fit ADR-018 input, which states none (64 values): the run stops
/// with the dimension error naming both sizes, as the introspection README says.
#[test]
fn shipped_profile_signatures_do_not_fit_adr018_input() {
    let dir = tmp("adr018-dims");
    let pcap = dir.join("walk.pcap").to_string_lossy().into_owned();
    stdout_ok(&[
        "-q",
        "simulate",
        "--device",
        "esp32",
        "--scenario",
        "walk",
        "--duration",
        "2s",
        "-o",
        &pcap,
    ]);
    let o = run(&["run", &pcap, "--introspect", &signatures(), "-q"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("52 dimensions of amp_baseline_v1, the stream reads 64"),
        "{err}"
    );
}
