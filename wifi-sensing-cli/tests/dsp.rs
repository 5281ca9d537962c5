//! `run --stages` and `spectrogram`: usage errors exit 2 naming the stage, the parameter and
//! the accepted range; stages that cannot apply say so once; output stays valid records.

mod common;

use common::{fixture, run};

#[test]
fn bad_stage_specs_are_usage_errors() {
    let f = fixture("intel5300/example.dat");
    for (spec, words) in [
        (
            "hampel:window=4",
            &["hampel", "window", "odd", "3..=1001"][..],
        ),
        ("resample:0hz", &["resample", "rate", "0.01..=100000"]),
        ("sanitize,wobble", &["unknown stage", "wobble"]),
        ("lowpass:fc=2hz:order=99", &["lowpass", "order", "1..=8"]),
    ] {
        let out = run(&["run", &f, "--stages", spec]);
        assert_eq!(out.status.code(), Some(2), "{spec}");
        let err = String::from_utf8_lossy(&out.stderr);
        for w in words {
            assert!(err.contains(w), "{spec}: {err} lacks {w}");
        }
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn stages_run_and_records_stay_valid() {
    let out = run(&[
        "run",
        &fixture("intel5300/66bpm.dat"),
        "--stages",
        "resample:100hz,sanitize,ratio,hampel:window=15:k=3,normalize",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = common::parse_lines(&out.stdout);
    common::assert_valid("record-v1.json", &lines);
    let frames: Vec<_> = lines.iter().filter(|l| l["type"] == "frame").collect();
    assert!(frames.len() > 500, "{}", frames.len()); // 165 frames over ~13 s, on a 100 Hz grid
                                                     // ratio leaves rx - 1 chains (this capture has 2)
    let shape = &frames[0]["shape"];
    assert_eq!(shape[0], 1, "{shape}");
    // the grid is uniform at 10 ms
    let t: Vec<i64> = frames
        .iter()
        .map(|f| f["timestamp_ns"].as_i64().unwrap())
        .collect();
    assert!(t.windows(2).filter(|w| w[1] - w[0] <= 10_000_001).count() > t.len() * 9 / 10);
}

#[test]
fn stage_that_cannot_apply_says_so_once() {
    let out = run(&[
        "run",
        &fixture("esp32/example_csi.csv"),
        "--stages",
        "ratio,hampel:window=31",
    ]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.matches("ratio: frames of node").count(), 1, "{err}");
    assert_eq!(
        err.matches("fewer than the window of 31").count(),
        1,
        "{err}"
    );
}

/// `run --spectrogram` / `--doppler`: streaming records per node that validate against their
/// schemas (so do the schemas' own examples), with the node's measured rate.
#[test]
fn spectrogram_and_doppler_records_validate() {
    let out = run(&[
        "run",
        &fixture("esp32/example_100hz_pitraffic.csv"),
        "--no-frames",
        "--spectrogram=window=64:hop=16",
        "--doppler=window=64:hop=32:carrier=2437:min_speed=0.1",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = common::parse_lines(&out.stdout);
    for (kind, schema) in [
        ("spectrogram", "spectrogram-v1.json"),
        ("doppler", "doppler-v1.json"),
    ] {
        let recs: Vec<_> = lines
            .iter()
            .filter(|l| l["type"] == kind)
            .cloned()
            .collect();
        assert!(recs.len() >= 2, "{kind}: {} records", recs.len());
        common::assert_valid(schema, &recs);
        for r in &recs {
            let d = &r["data"];
            assert_eq!(d["nperseg"], 64);
            assert_eq!(d["power_db"].as_array().unwrap().len(), 33);
            assert!(d["rate_hz"].as_f64().unwrap() > 1.0);
            assert_eq!(r["timestamp_ns"], d["end_ns"]);
        }
        let text = std::fs::read_to_string(common::schema_path(schema)).unwrap();
        let s: serde_json::Value = serde_json::from_str(&text).unwrap();
        common::assert_valid(schema, s["examples"].as_array().unwrap());
    }
}

#[test]
fn bad_spectral_specs_are_usage_errors() {
    let f = fixture("intel5300/example.dat");
    for (flag, words) in [
        ("--spectrogram=window=1", &["window", "1"][..]),
        ("--doppler=min_speed=-1", &["min_speed"]),
        (
            "--spectrogram=component=pca99",
            &["component", "pca1..pca16"],
        ),
        ("--spectrogram=wobble=3", &["wobble=3"]),
        // named as written (the error said `window_fn`, under `stft`)
        (
            "--doppler=fn=kaiser",
            &["spectral: parameter `fn` = kaiser"],
        ),
        // Doppler-only: was accepted and did nothing
        (
            "--spectrogram=min_speed=0.5",
            &["min_speed is a --doppler parameter"],
        ),
        (
            "--spectrogram=carrier=5000",
            &["carrier is a --doppler parameter"],
        ),
    ] {
        let out = run(&["run", &f, flag]);
        assert_eq!(out.status.code(), Some(2), "{flag}");
        let err = String::from_utf8_lossy(&out.stderr);
        for w in words {
            assert!(err.contains(w), "{flag}: {err} lacks {w}");
        }
    }
}

/// Frames lost on the way (the simulator drops 1 in 100 at random) do not lower the rate of
/// the spectrogram's grid: a 50 Hz capture is analysed at 50 Hz (its frequency axis reaches
/// 25 Hz), in `run --spectrogram`, `run --doppler` and the `spectrogram` command alike (the
/// received 49.5 frames a second, or fewer in an unlucky warm-up, put the Nyquist frequency
/// lower and folded what lies above it).
#[test]
fn dropped_frames_do_not_lower_the_spectrogram_rate() {
    let d = common::tmp("drops");
    let cap = d.join("walk.csirec");
    let cap = cap.to_str().unwrap();
    common::run_ok(&[
        "simulate",
        "--scenario",
        "walk",
        "--duration",
        "20s",
        "--rate",
        "50",
        "--nodes",
        "reference3",
        "-o",
        cap,
        "-q",
    ]);
    let out = common::run_ok(&["run", cap, "--no-frames", "--spectrogram", "--doppler"]);
    let lines = common::parse_lines(&out.stdout);
    let mut nodes = std::collections::BTreeSet::new();
    for r in &lines {
        let rate = r["data"]["rate_hz"].as_f64().unwrap();
        assert!((rate - 50.0).abs() < 0.3, "{r}");
        nodes.insert(r["node_id"].as_u64().unwrap());
    }
    assert_eq!(nodes.len(), 3, "{nodes:?}");
    let csv = d.join("spec.csv");
    let out = common::run_ok(&[
        "spectrogram",
        cap,
        "--node",
        "2",
        "-o",
        csv.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("sampling rate 50.0"), "{err}");
    let text = std::fs::read_to_string(&csv).unwrap();
    let top = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap().parse::<f64>().unwrap())
        .fold(0.0, f64::max);
    assert!(top > 24.5, "{top}");
}

/// `run --spectrogram` / `--doppler` on a stream too short for one record says so per node
/// (was silent: no record and no word).
#[test]
fn spectral_records_missing_for_a_short_stream_are_explained() {
    let out = common::run_ok(&[
        "run",
        &fixture("intel5300/example.dat"),
        "--no-frames",
        "--spectrogram",
        "--doppler",
    ]);
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    for kind in ["spectrogram", "doppler"] {
        let line = format!("{kind}: node 0 ended after 26 frames, before the 32 warm-up frames");
        assert_eq!(err.matches(&line).count(), 1, "{err}");
        assert!(err.contains(&format!("no {kind} record")), "{err}");
    }
}

/// A hop longer than the window (in the same unit) is a usage error in `spectrogram` and in
/// `run --spectrogram`, as it was for frames in `run --spectrogram` only; the `spectrogram`
/// command silently used a hop of one window instead.
#[test]
fn hop_longer_than_the_window_is_a_usage_error() {
    let f = fixture("esp32/example_100hz_pitraffic.csv");
    let d = common::tmp("hop");
    let png = d.join("s.png");
    for (window, hop, words) in [
        (
            "50",
            "150",
            &["hop", "150", "at most the window (50 frames)"][..],
        ),
        ("1s", "3s", &["hop", "3s", "at most the window (1 s)"]),
    ] {
        let out = run(&[
            "spectrogram",
            &f,
            "-o",
            png.to_str().unwrap(),
            "--window",
            window,
            "--hop",
            hop,
        ]);
        assert_eq!(out.status.code(), Some(2), "{window} {hop}");
        let err = String::from_utf8_lossy(&out.stderr);
        for w in words {
            assert!(err.contains(w), "{err} lacks {w}");
        }
        assert!(!png.exists());
        let out = run(&[
            "run",
            &f,
            "--no-frames",
            &format!("--spectrogram=window={window}:hop={hop}"),
        ]);
        assert_eq!(out.status.code(), Some(2), "{window} {hop}");
        let err = String::from_utf8_lossy(&out.stderr);
        for w in words {
            assert!(err.contains(w), "{err} lacks {w}");
        }
    }
}

/// RuView ESP32 nodes mix subcarrier layouts frame by frame (64, 128 and 192 pairs). The
/// `spectrogram` command analysed only the first frame's layout without a word (node 1 starts
/// with a 128-pair frame: 23 of its 137 frames, at a rate of a few Hz), and `run --spectrogram`
/// restarted at every change and gave no record at all; both now keep the most common layout
/// and say how many frames they skipped.
#[test]
fn nodes_that_mix_layouts_are_analysed_in_the_common_one() {
    let f = fixture("ruview_esp32/pretrain-1775182186_first300.csi.jsonl");
    let d = common::tmp("layouts");
    let csv = d.join("s.csv");
    let out = common::run_ok(&[
        "spectrogram",
        &f,
        "--node",
        "1",
        "--window",
        "32",
        "--hop",
        "8",
        "-o",
        csv.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("node 1: frames of several subcarrier layouts")
            && err.contains("the 113 frames of 64 subcarriers are analysed, 24 skipped"),
        "{err}"
    );
    assert!(err.contains("node 1: 113 frames"), "{err}");
    let out = common::run_ok(&["run", &f, "--no-frames", "--spectrogram=window=32:hop=8"]);
    let lines = common::parse_lines(&out.stdout);
    let specs: Vec<_> = lines
        .iter()
        .filter(|l| l["type"] == "spectrogram")
        .collect();
    for node in [1, 2] {
        assert!(
            specs.iter().filter(|l| l["node_id"] == node).count() >= 5,
            "node {node}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("spectrogram: node 1: ")
            && err.contains("frames skipped for their subcarrier layout"),
        "{err}"
    );
}

/// `spectrogram --node N` for a node the capture does not have names the nodes it has (it
/// said only "node 9: 0 frame(s); a spectrogram needs at least 2").
#[test]
fn a_node_the_capture_lacks_is_named_with_the_ones_it_has() {
    let d = common::tmp("node");
    let out = run(&[
        "spectrogram",
        &fixture("ruview_esp32/pretrain-1775182186_first300.csi.jsonl"),
        "--node",
        "9",
        "-o",
        d.join("s.png").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("node 9: no frames; the capture's nodes: 1, 2"),
        "{err}"
    );
}

/// Nexmon packets of several (core, spatial stream) pairs of the same transmissions, read one
/// frame per packet, would be taken as successive samples: `spectrogram` says so and names
/// `--nexmon-group` (the kit's `example_4339.pcap` has three streams per transmission).
#[test]
fn interleaved_nexmon_streams_are_pointed_out() {
    let out = run(&["-q", "convert", &fixture("nexmon/example.pcap"), "-o", "-"]);
    assert!(out.status.success());
    let first: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().next().unwrap()).unwrap();
    let t0 = first["timestamp_ns"].as_i64().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, streams: u64| {
        let mut text = String::new();
        for i in 0..400u64 {
            let mut f = first.clone();
            // one transmission every 10 ms, its packets 100 us apart
            let (tx, slot) = (i / streams, i % streams);
            f["timestamp_ns"] = (t0 + (tx * 10_000_000 + slot * 100_000) as i64).into();
            f["sequence"] = tx.into();
            f["meta"]["nexmon"]["spatial"] = slot.into();
            text.push_str(&f.to_string());
            text.push('\n');
        }
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_string_lossy().into_owned()
    };
    let png = dir.path().join("s.png");
    let png = png.to_str().unwrap();
    for (name, streams, warned) in [("two.jsonl", 2, true), ("one.jsonl", 1, false)] {
        let input = write(name, streams);
        let out = run(&["spectrogram", &input, "-o", png, "--window", "0.5s"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{err}");
        assert_eq!(
            err.contains("2 (receive core, spatial stream) pairs")
                && err.contains("--nexmon-group"),
            warned,
            "{name}: {err}"
        );
        // the streaming analysers say it too
        let out = run(&["run", &input, "--no-frames", "--spectrogram=window=0.5s"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{err}");
        assert_eq!(
            err.contains("spectrogram: node 0: its Nexmon packets come from several")
                && err.contains("--nexmon-group"),
            warned,
            "{name}: {err}"
        );
    }
}

/// `spectrogram --carrier-mhz` without `--velocity` or `--csv` would change nothing: a usage
/// error (it was silently ignored).
#[test]
fn carrier_without_a_speed_axis_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("s.png");
    let f = fixture("intel5300/66bpm.dat");
    let out = run(&[
        "spectrogram",
        &f,
        "-o",
        png.to_str().unwrap(),
        "--carrier-mhz",
        "5000",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--carrier-mhz sets the speed axis"), "{err}");
    assert!(!png.exists());
    let out = run(&[
        "spectrogram",
        &f,
        "-o",
        png.to_str().unwrap(),
        "--carrier-mhz",
        "5000",
        "--velocity",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A window longer than the node's stream: the error says how long the stream is and that a
/// shorter `--window` fits.
#[test]
fn a_window_longer_than_the_stream_names_the_remedy() {
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("s.png");
    let out = run(&[
        "spectrogram",
        &fixture("intel5300/example.dat"),
        "-o",
        png.to_str().unwrap(),
        "--window",
        "10s",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("26 frames over") && err.contains("a shorter --window fits"),
        "{err}"
    );
}

/// `spectrogram` window and carrier options say what they do (an outside review): a window
/// of 1 frame is a usage error; one under 2 frames in seconds is warned of; the default hop
/// follows a window shorter than it (`--window 10ms` failed, blaming a `--hop` never given);
/// `--carrier-mhz` overriding the frames' own carrier is warned of.
#[test]
fn spectrogram_window_and_carrier_options_say_what_they_do() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("w.csv");
    let png = dir.path().join("w.png");
    let out = run(&[
        "-q",
        "simulate",
        "--scenario",
        "walk",
        "--duration",
        "5s",
        "-o",
        csv.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let (c, p) = (csv.to_str().unwrap(), png.to_str().unwrap());
    let out = run(&["spectrogram", c, "-o", p, "--window", "1"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("at least 2 frames"), "{err}");
    let out = run(&["spectrogram", c, "-o", p, "--window", "10ms"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("under 2 frames at 50.00 Hz"), "{err}");
    let out = run(&["spectrogram", c, "-o", p, "--window", "60ms"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("window 3 frames, hop 3,"), "{err}");
    // a hop in the other unit, longer than the window once in frames, is warned of
    let out = run(&["spectrogram", c, "-o", p, "--window", "1s", "--hop", "60"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("--hop is 60 frames at 50.00 Hz, longer than the window (50 frames)"),
        "{err}"
    );
    // a .csv output has the velocity column the carrier sets
    let m = dir.path().join("m.csv");
    let out = run(&[
        "spectrogram",
        c,
        "-o",
        m.to_str().unwrap(),
        "--carrier-mhz",
        "5000",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&[
        "spectrogram",
        c,
        "-o",
        p,
        "--velocity",
        "--carrier-mhz",
        "5000",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("--carrier-mhz 5000 overrides the 2437 MHz the frames of node 0 state"),
        "{err}"
    );
}

/// `spectrogram --stages` stages the chosen node's frames only: a three-node capture's
/// `normalize:mode=agc` counts the gain steps of node 0 alone, as `run --keep-nodes 0` does
/// (it counted every node's).
#[test]
fn spectrogram_stages_only_the_chosen_node() {
    let dir = common::tmp("spectrogram_stages_node");
    let cap = dir.join("r3.csirec");
    let cap = cap.to_str().unwrap();
    common::run_ok(&[
        "simulate",
        "--random",
        "5",
        "--nodes",
        "reference3",
        "--device",
        "intel5300",
        "--duration",
        "30s",
        "-o",
        cap,
    ]);
    let steps = |args: &[&str]| -> String {
        let out = common::run_ok(args);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        err.lines()
            .find(|l| l.contains("AGC steps"))
            .unwrap_or_else(|| panic!("no step count: {err}"))
            .to_string()
    };
    let png = dir.join("s.png");
    let alone = steps(&[
        "run",
        cap,
        "--keep-nodes",
        "0",
        "--stages",
        "normalize:mode=agc",
        "-o",
        dir.join("n0.jsonl").to_str().unwrap(),
    ]);
    let all = steps(&[
        "run",
        cap,
        "--stages",
        "normalize:mode=agc",
        "-o",
        dir.join("all.jsonl").to_str().unwrap(),
    ]);
    assert_ne!(alone, all, "the capture's nodes have different steps");
    let spec = steps(&[
        "spectrogram",
        cap,
        "--node",
        "0",
        "--stages",
        "normalize:mode=agc",
        "-o",
        png.to_str().unwrap(),
    ]);
    assert_eq!(spec, alone);
}
