//! `run --events --vitals` and `calibrate` on simulated captures; records validate against
//! `docs/schema/event-v1.json` and `docs/schema/vital_signs-v1.json`.

mod common;

use common::bin;

use std::process::Command;

fn ok(mut c: Command) -> Vec<u8> {
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn events_and_vital_signs_validate_and_baseline_round_trips() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("ws-sensing");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mixed = dir.join("mixed.csirec");
    let empty = dir.join("empty.csirec");
    let base = dir.join("baseline.json");
    let mut c = bin();
    c.args([
        "simulate",
        "-q",
        "--scenario",
        "mixed",
        "--duration",
        "70s",
        "--seed",
        "5",
        "-o",
    ])
    .arg(&mixed);
    ok(c);
    let mut c = bin();
    c.args([
        "simulate",
        "-q",
        "--scenario",
        "empty",
        "--duration",
        "12s",
        "--seed",
        "6",
        "-o",
    ])
    .arg(&empty);
    ok(c);
    let mut c = bin();
    c.args(["calibrate", "-q"]).arg(&empty).arg("-o").arg(&base);
    ok(c);
    let mut c = bin();
    c.args([
        "run",
        "-q",
        "--events",
        "--vitals",
        "--no-frames",
        "--baseline",
    ])
    .arg(&base)
    .arg(&mixed);
    let lines = common::parse_lines(&ok(c));
    let events: Vec<_> = lines
        .iter()
        .filter(|l| l["type"] == "event")
        .cloned()
        .collect();
    let vitals: Vec<_> = lines
        .iter()
        .filter(|l| l["type"] == "vital_signs")
        .cloned()
        .collect();
    assert!(!events.is_empty() && !vitals.is_empty(), "{lines:?}");
    assert!(events
        .iter()
        .any(|e| e["data"]["event"] == "motion_started"));
    common::assert_valid("event-v1.json", &events);
    common::assert_valid("vital_signs-v1.json", &vitals);
    // a broken line is refused (the test can fail)
    let mut bad = events[0].clone();
    bad["data"]["event"] = "jumped".into();
    assert!(!common::errors(&common::validator("event-v1.json"), &bad).is_empty());
    // a corrupt baseline names the field; --baseline alone is a usage error
    std::fs::write(
        &base,
        "{\"format\": \"wifi-sensing-baseline\", \"version\": 2}",
    )
    .unwrap();
    let mut c = bin();
    c.args(["run", "-q", "--events", "--baseline"])
        .arg(&base)
        .arg(&mixed);
    let out = c.output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("version"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A vital-sign record always has the window it examined, and a real ESP32 capture of a still
/// scene is not read as motion. This capture's frame-to-frame changes are white in time (as
/// large between frames 10 ms apart as 1 s apart: noise, see the signal crate's
/// MEASUREMENTS.md, "Real ESP32 noise"); before the ESP32 noise was learnt it read as motion
/// throughout, and its records were of 0 frames over 0 s at 0 Hz. Now it has no motion, and
/// its 13 s are too short for a breathing window.
#[test]
fn vital_sign_records_have_a_window_on_a_real_capture() {
    let capture = common::fixture("esp32/example_100hz_pitraffic.csv");
    let lines = common::parse_lines(&common::stdout_ok(&[
        "run",
        "-q",
        "--no-frames",
        "--events",
        "--vitals",
        capture.as_str(),
    ]));
    let motion: Vec<_> = lines
        .iter()
        .filter(|l| l["type"] == "event" && l["data"]["event"] == "motion_started")
        .collect();
    assert!(motion.is_empty(), "{motion:?}");
    // Its breathing-band ratio falls to 3.95 at 8.9 s, just under the entry threshold of 4.
    // Without the exit threshold presence ended there and started again 35 ms later.
    let presence: Vec<_> = lines
        .iter()
        .filter(|l| l["type"] == "event")
        .map(|l| l["data"]["event"].as_str().unwrap_or("").to_string())
        .filter(|e| e.starts_with("presence"))
        .collect();
    assert_eq!(presence, ["presence_started"], "{lines:?}");
    let vitals = windowed_vital_signs(&lines, 2);
    for v in &vitals {
        assert_eq!(v["data"]["breathing"]["reason"], "window_too_short", "{v}");
    }
}

/// The `vital_signs` records of `lines`, at least `least` of them, each with a window that
/// holds frames (length, frame rate, start before end), valid against the schema.
fn windowed_vital_signs(lines: &[serde_json::Value], least: usize) -> Vec<serde_json::Value> {
    let vitals: Vec<_> = lines
        .iter()
        .filter(|l| l["type"] == "vital_signs")
        .cloned()
        .collect();
    assert!(vitals.len() >= least, "{lines:?}");
    for v in &vitals {
        let d = &v["data"];
        assert!(d["frames"].as_u64().is_some_and(|n| n > 0), "{v}");
        assert!(d["window_s"].as_f64().is_some_and(|s| s > 0.0), "{v}");
        assert!(d["frame_rate_hz"].as_f64().is_some_and(|r| r > 0.0), "{v}");
        assert!(
            d["window_start_ns"].as_i64() < d["window_end_ns"].as_i64(),
            "{v}"
        );
    }
    common::assert_valid("vital_signs-v1.json", &vitals);
    vitals
}

/// The simulated `mixed` session ends while the person walks: the last vital-sign records
/// were of 0 frames over 0 s at 0 Hz. Every record now has the window it examined, and the
/// last ones say motion.
#[test]
fn vital_sign_records_have_their_window_when_a_stream_ends_moving() {
    let d = common::tmp("vitals-end");
    let capture = d.join("mixed.csirec");
    common::run_ok(&[
        "simulate",
        "-q",
        "--scenario",
        "mixed",
        "-o",
        capture.to_str().unwrap(),
    ]);
    let lines = common::parse_lines(&common::stdout_ok(&[
        "run",
        "-q",
        "--vitals",
        "--no-frames",
        capture.to_str().unwrap(),
    ]));
    let vitals = windowed_vital_signs(&lines, 5);
    let last = &vitals[vitals.len() - 1]["data"];
    assert_eq!(last["breathing"]["reason"], "motion", "{last}");
    assert!(
        last["window_s"].as_f64().is_some_and(|s| s >= 20.0),
        "{last}"
    );
}

/// `calibrate` refuses, without writing, a capture too short to show the room empty (naming
/// the minimum) and a capture whose own statistics show a walking or breathing person (naming
/// the statistic, its threshold and when); `--force` writes the latter with warnings. The
/// minimum is in `calibrate --help`.
#[test]
fn calibrate_refuses_short_and_occupied_captures() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("ws-calibrate-refuses");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let sim = |scenario: &str, secs: &str| {
        let f = dir.join(format!("{scenario}-{secs}.csirec"));
        let mut c = bin();
        c.args(["simulate", "-q", "--scenario", scenario, "--duration", secs])
            .arg("-o")
            .arg(&f);
        ok(c);
        f
    };
    let calibrate = |input: &std::path::Path, extra: &[&str]| {
        let out = dir.join("baseline.json");
        let _ = std::fs::remove_file(&out);
        let o = bin()
            .args(["calibrate", "-q"])
            .args(extra)
            .arg(input)
            .arg("-o")
            .arg(&out)
            .output()
            .unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
            out.exists(),
        )
    };
    // too short: refused even with --force
    let short = sim("empty", "1s");
    for extra in [&[][..], &["--force"][..]] {
        let (code, err, written) = calibrate(&short, extra);
        assert_eq!(code, Some(1), "{err}");
        assert!(!written);
        assert!(
            err.contains("too short") && err.contains("at least 10.8 s") && err.contains("1.0 s"),
            "{err}"
        );
    }
    // an empty room of 12 s is enough
    let (code, err, written) = calibrate(&sim("empty", "12s"), &[]);
    assert_eq!(code, Some(0), "{err}");
    assert!(written);
    // a person walking, or sitting still and breathing
    let walk = sim("walk", "20s");
    let (code, err, written) = calibrate(&walk, &[]);
    assert_eq!(code, Some(1), "{err}");
    assert!(!written);
    assert!(
        err.contains("not of an empty, still room")
            && err.contains("motion_ratio above its threshold 3.5 from")
            && err.contains("s into the capture")
            && err.contains("--force"),
        "{err}"
    );
    let (code, err, written) = calibrate(&sim("breathe", "20s"), &[]);
    assert_eq!(code, Some(1), "{err}");
    assert!(!written);
    assert!(
        err.contains("breathing_band_ratio above its threshold 4 from"),
        "{err}"
    );
    assert!(!err.contains("motion_ratio"), "{err}");
    // --force writes it, with the findings as warnings
    let (code, err, written) = calibrate(&walk, &["--force"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(written);
    assert!(
        err.contains("motion_ratio") && err.contains("written anyway"),
        "{err}"
    );
    // the minimum is documented in the help
    let help = ok({
        let mut c = bin();
        c.args(["calibrate", "--help"]);
        c
    });
    let help = String::from_utf8_lossy(&help);
    assert!(
        help.contains("10.8 s at 50 Hz") && help.contains("--force"),
        "{help}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--keep-nodes` keeps the frames of the nodes named: a capture with a few frames of another MAC (an
/// ESP32 in passive mode hears every transmitter) cannot be calibrated as a whole (the stray
/// node is far too short) nor run against a baseline of the main node (another node set); with
/// `--keep-nodes` both work, and the frames left out are counted.
#[test]
fn node_filter_leaves_out_a_stray_transmitter() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("ws-node-filter");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // five frames from another MAC in the middle of the kit's 13 s ESP32 capture
    let input = common::stray_esp32_capture(&dir, "aa:bb:cc:dd:ee:ff");
    let base = dir.join("b.json");
    let run = |args: &[&str]| {
        let o = bin().args(args).output().unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let (i, b) = (input.to_str().unwrap(), base.to_str().unwrap());
    // the stray node makes the capture too short to calibrate, and the error says what to do
    let (code, err) = run(&["calibrate", "-q", "--force", i, "-o", b]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("node 1 has 5 frames over"), "{err}");
    assert!(err.contains("--keep-nodes ID"), "{err}");
    // --keep-nodes 0: a baseline of node 0 (--force: this capture shows a breathing-band ratio above
    // its threshold), and the stray frames counted
    let (code, err) = run(&["calibrate", "--force", "--keep-nodes", "0", i, "-o", b]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains("5 records of other nodes (1) left out (--keep-nodes)"),
        "{err}"
    );
    let baseline: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&base).unwrap()).unwrap();
    let nodes: Vec<_> = baseline["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["node_id"].clone())
        .collect();
    assert_eq!(nodes, vec![serde_json::json!(0)]);
    // a run against that baseline: refused for the stray node, accepted with --keep-nodes 0
    let (code, err) = run(&["run", "-q", "--no-frames", "--events", "--baseline", b, i]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("node set"), "{err}");
    let (code, err) = run(&[
        "run",
        "--no-frames",
        "--events",
        "--baseline",
        b,
        "--keep-nodes",
        "0",
        i,
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains("5 records of other nodes (1) left out (--keep-nodes)"),
        "{err}"
    );
    // inspect reports them too, and only the kept node
    let out = bin()
        .args(["inspect", "--json", "--keep-nodes", "0", i])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["other_nodes"], 5, "{v}");
    assert_eq!(v["other_node_ids"], serde_json::json!([1]), "{v}");
    assert_eq!(v["nodes"].as_object().map(|n| n.len()), Some(1), "{v}");
    // a node the capture lacks: a warning naming the nodes it has, not a silent empty output
    let out_file = dir.join("none.jsonl");
    let (code, err) = run(&[
        "convert",
        i,
        "--keep-nodes",
        "7",
        "-o",
        out_file.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains(
            "no frame of the nodes --keep-nodes keeps is in the input; its other nodes: 0, 1"
        ),
        "{err}"
    );
    assert!(!err.contains("an empty capture"), "{err}");
}

/// `calibrate` on a capture cut inside its last record (a recording copied while it was being
/// written) uses every complete frame and says where the input was cut, as `run` does (it
/// refused the capture, even with `--force`); malformed records are reported too.
#[test]
fn calibrate_uses_a_cut_capture_and_says_so() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("ws-calibrate-cut");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let empty = dir.join("empty.csirec");
    let mut c = bin();
    c.args(["simulate", "-q", "--scenario", "empty", "--duration", "12s"])
        .arg("-o")
        .arg(&empty);
    ok(c);
    let len = std::fs::metadata(&empty).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&empty)
        .unwrap()
        .set_len(len - 9)
        .unwrap();
    let base = dir.join("base.json");
    let out = bin()
        .args(["calibrate"])
        .arg(&empty)
        .arg("-o")
        .arg(&base)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("warning:") && err.contains("input ends inside a record"),
        "{err}"
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&base).unwrap()).unwrap();
    assert_eq!(v["nodes"].as_array().unwrap().len(), 1);

    // a malformed line is reported, not dropped without a word
    let csv = common::fixture("esp32/example_100hz_pitraffic.csv");
    let out = bin()
        .args(["calibrate", "--force"])
        .arg(&csv)
        .arg("-o")
        .arg(dir.join("csv.json"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("skipped:") && err.contains("line 19"), "{err}");
    // and by `spectrogram`
    let out = bin()
        .args(["spectrogram"])
        .arg(&csv)
        .arg("-o")
        .arg(dir.join("s.png"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("skipped:") && err.contains("line 19"), "{err}");
}

/// Nexmon packets of several (core, stream) pairs read as one series: said once, with the
/// option that groups them; grouped, nothing to say.
#[test]
fn interleaved_nexmon_packets_are_named_for_events_and_vitals() {
    let pcap = common::fixture("nexmon/example.pcap");
    let run = |extra: &[&str]| {
        let o = bin()
            .args(["run", &pcap, "--events", "--vitals", "--no-frames"])
            .args(extra)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stderr).into_owned()
    };
    let err = run(&[]);
    assert_eq!(
        err.matches("its Nexmon packets come from several").count(),
        1,
        "{err}"
    );
    assert!(err.contains("--nexmon-group"), "{err}");
    let err = run(&["--nexmon-group"]);
    assert!(
        !err.contains("its Nexmon packets come from several"),
        "{err}"
    );
}

/// A capture too short for any vital-sign record says so rather than printing nothing.
#[test]
fn a_capture_too_short_for_vital_signs_is_named() {
    let o = bin()
        .args([
            "run",
            &common::fixture("intel5300/example.dat"),
            "--vitals",
            "--no-frames",
        ])
        .output()
        .unwrap();
    assert!(o.status.success());
    assert!(o.stdout.is_empty());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("node 0: no vital_signs record: its frames span less than the 5 s"),
        "{err}"
    );
}

/// `run` says how many frames the nodes' sequence numbers show missing (simulated ESP32 drops).
#[test]
fn run_names_frames_missing_by_sequence_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let cap = dir.path().join("walk.csirec");
    let cap = cap.to_str().unwrap();
    let made = bin()
        .args([
            "-q",
            "simulate",
            "--scenario",
            "walk",
            "--duration",
            "20s",
            "-o",
            cap,
        ])
        .status()
        .unwrap();
    assert!(made.success());
    let o = bin().args(["run", cap, "--no-frames"]).output().unwrap();
    assert!(o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    let line = err
        .lines()
        .find(|l| l.contains("frames missing by their sequence numbers"))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(line.contains("node 1: ") && line.ends_with(" %)"), "{line}");
}

/// A motionless person on ESP32 with an empty-room baseline: the static shape change sits at
/// its threshold (0.0101 against 0.0100 here), and presence used to end at 4.7 s (breathing
/// evidence over 4.5 s of stream) and again at 11.2 s. With the static path's hysteresis and
/// `breathing_min_s` at the start of a stream, it starts once and holds (an outside review's
/// case).
#[test]
fn a_motionless_person_with_a_baseline_stays_present() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("ws-still-baseline");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (still, empty, base) = (
        dir.join("still.csirec"),
        dir.join("empty.csirec"),
        dir.join("base.json"),
    );
    for (scenario, out) in [("still", &still), ("empty", &empty)] {
        let mut c = bin();
        c.args([
            "-q",
            "simulate",
            "--scenario",
            scenario,
            "--duration",
            "20s",
        ])
        .args(["--seed", "3", "-o"])
        .arg(out);
        ok(c);
    }
    let mut c = bin();
    c.args(["calibrate", "-q"]).arg(&empty).arg("-o").arg(&base);
    ok(c);
    let mut c = bin();
    c.args(["-q", "run", "--events", "--no-frames", "--baseline"])
        .arg(&base)
        .arg(&still);
    let lines = common::parse_lines(&ok(c));
    let events: Vec<&str> = lines
        .iter()
        .filter(|l| l["node_id"].is_number())
        .map(|l| l["data"]["event"].as_str().unwrap())
        .collect();
    assert_eq!(events, ["presence_started"], "{lines:?}");
}
