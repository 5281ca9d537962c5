//! What the command says on stderr and in `inspect` reports when there is something to explain.

use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wifi-sensing"))
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn no_frames_without_an_analyser_says_why_nothing_is_printed() {
    let out = run(&["run", "--no-frames", "fixtures/esp32/example_csi.csv"]);
    assert!(out.status.success());
    assert!(out.stdout.is_empty());
    let err = text(&out.stderr);
    assert!(
        err.contains("--no-frames with no analyser selected"),
        "{err}"
    );
    // even with -q: it is a warning
    let out = run(&["-q", "run", "--no-frames", "fixtures/esp32/example_csi.csv"]);
    assert!(text(&out.stderr).contains("no analyser"));
    // not said when frames are printed
    let out = run(&["run", "--limit", "1", "fixtures/esp32/example_csi.csv"]);
    assert!(!text(&out.stderr).contains("no analyser"));
}

#[test]
fn rate_over_a_too_short_span_is_not_a_rate() {
    // four packets of one transmission, 0.1 ms apart
    let out = run(&["inspect", "fixtures/nexmon/example.pcap"]);
    let t = text(&out.stdout);
    assert!(t.contains("4 frames, rate n/a (span under 1 ms)"), "{t}");
    assert!(!t.contains(" Hz,"), "{t}");
    let out = run(&["inspect", "--json", "fixtures/nexmon/example.pcap"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["nodes"]["0"]["rate_hz"].is_null(), "{v}");
    // a real span still gives a rate
    let t = text(&run(&["inspect", "fixtures/intel5300/example.dat"]).stdout);
    assert!(t.contains("12.41 Hz"), "{t}");
}

#[test]
fn reader_warnings_name_the_input_even_with_q() {
    let d = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("wifi-sensing-msg-named");
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    let whole = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/intel5300/example.dat"
    ))
    .unwrap();
    let cut = d.join("cut.dat");
    std::fs::write(&cut, &whole[..3000]).unwrap();
    let cut = cut.to_str().unwrap();
    let out_file = d.join("out.jsonl");
    for args in [
        vec!["-q", "run", cut],
        vec!["run", cut],
        vec!["-q", "convert", cut, "-o", out_file.to_str().unwrap()],
    ] {
        let out = run(&args);
        let err = text(&out.stderr);
        assert!(out.status.success(), "{args:?}: {err}");
        assert!(
            err.contains(&format!(
                "warning: {cut}: input ends inside a record: intel5300"
            )),
            "{args:?}: {err}"
        );
    }
    // a malformed record, with -q
    let csv = "fixtures/esp32/example_100hz_pitraffic.csv";
    let err = text(&run(&["-q", "convert", csv, "-o", out_file.to_str().unwrap()]).stderr);
    assert!(err.contains(&format!("warning: {csv}: skipped: ")), "{err}");
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn inspect_counts_read_as_words_and_durations_as_decimals() {
    // one frame: "1 frame", not "1 frames"
    let d = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("wifi-sensing-msg-one");
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    let csv = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/esp32/example_csi.csv"
    ))
    .unwrap();
    let one = d.join("one.csv");
    std::fs::write(&one, format!("{}\n", csv.lines().next().unwrap())).unwrap();
    let t = text(&run(&["inspect", one.to_str().unwrap()]).stdout);
    // (the node's line names its MAC: "node 0 (MAC ...): 1 frame, ")
    assert!(
        t.contains("node 0 (MAC ") && t.contains("): 1 frame, ") && !t.contains("1 frames"),
        "{t}"
    );
    let t = text(&run(&["inspect", "fixtures/esp32/example_csi.csv"]).stdout);
    assert!(t.contains(": 13 frames, "), "{t}");
    // durations from integer nanoseconds print as their decimals (2.014226 s, not
    // 2.0142260000000003)
    let json = text(&run(&["inspect", "--json", "fixtures/intel5300/example.dat"]).stdout);
    assert!(json.contains("\"duration_s\":2.014226,"), "{json}");
    assert!(json.contains("\"span_s\":2.014226,"), "{json}");
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn rssi_line_tells_absent_from_untrusted_and_per_chain() {
    let t = text(
        &run(&[
            "inspect",
            "fixtures/ruview_esp32/pretrain-1775182186_first300.csi.jsonl",
        ])
        .stdout,
    );
    assert!(t.contains("rssi:        present but not trusted"), "{t}");
    let t = text(&run(&["inspect", "fixtures/atheros/ath_csi_1.first5.dat"]).stdout);
    assert!(t.contains("rssi:        per receive chain only"), "{t}");
    let t = text(&run(&["inspect", "fixtures/esp32/example_csi.csv"]).stdout);
    assert!(t.contains("rssi:        -73 .. -69 dBm"), "{t}");
    // no frame at all says nothing about the format (Intel 5300 records do carry RSSI)
    let d = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("wifi-sensing-msg-rssi");
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    let empty = d.join("empty.dat");
    std::fs::write(&empty, b"").unwrap();
    let t = text(&run(&["inspect", empty.to_str().unwrap()]).stdout);
    assert!(t.contains("rssi:        none (no frames)"), "{t}");
    // run and convert say that the input held nothing, and still succeed
    let out = run(&["run", empty.to_str().unwrap()]);
    assert!(out.status.success());
    assert!(text(&out.stderr).contains("no record came from the input"));
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn help_lists_command_options_first_and_reader_options_under_their_heading() {
    let h = text(&run(&["run", "--help"]).stdout);
    let pos = |s: &str| h.find(s).unwrap_or_else(|| panic!("{s} not in {h}"));
    assert!(pos("--format") < pos("-q, --quiet"));
    assert!(pos("-q, --quiet") < pos("Reader options"));
    assert!(pos("Reader options") < pos("--nexmon-group"));
    // the reader flags are together, nothing between them
    let block = &h[pos("--nexmon-group")..pos("--intel-scaled")];
    assert!(
        !block.contains("--quiet") && !block.contains("--format"),
        "{h}"
    );
}

#[test]
fn every_record_starts_with_schema_and_type() {
    let out = run(&[
        "run",
        "fixtures/ruview_esp32/pretrain-1775182186_first300.csi.jsonl",
    ]);
    let t = text(&out.stdout);
    let mut kinds = std::collections::BTreeSet::new();
    for line in t.lines() {
        assert!(line.starts_with("{\"schema\":1,\"type\":\""), "{line}");
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        kinds.insert(v["type"].as_str().unwrap().to_string());
    }
    // frames and non-CSI records both
    assert!(kinds.contains("frame") && kinds.len() >= 3, "{kinds:?}");
}

#[test]
fn reader_flags_that_do_not_apply_are_named() {
    let out = run(&[
        "run",
        "--limit",
        "1",
        "--intel-scaled",
        "--nexmon-chip",
        "4358",
        "fixtures/esp32/example_csi.csv",
    ]);
    assert!(out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("--nexmon-chip, --intel-scaled do not apply to esp32_csv input"),
        "{err}"
    );
    // flags that apply are not named
    let out = run(&[
        "inspect",
        "--intel-scaled",
        "fixtures/intel5300/example.dat",
    ]);
    assert!(!text(&out.stderr).contains("do not apply"));
    let out = run(&["inspect", "--nexmon-group", "fixtures/nexmon/example.pcap"]);
    assert!(!text(&out.stderr).contains("do not apply"));
}

#[test]
fn replacing_an_output_is_said_by_every_command() {
    let d = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("wifi-sensing-msg");
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    let o = d.join("out.jsonl");
    let o = o.to_str().unwrap();
    let csv = "fixtures/esp32/example_csi.csv";
    let first = run(&["convert", csv, "-o", o]);
    assert!(first.status.success());
    assert!(!text(&first.stderr).contains("replacing"));
    let again = run(&["convert", csv, "-o", o]);
    assert!(again.status.success());
    assert!(text(&again.stderr).contains("replacing the existing"));
    let sim = run(&["simulate", "--duration", "5s", "-o", o]);
    assert!(sim.status.success());
    assert!(text(&sim.stderr).contains("replacing the existing"));
    // -q hides it, as every info line
    let quiet = run(&["-q", "convert", csv, "-o", o]);
    assert!(text(&quiet.stderr).is_empty(), "{}", text(&quiet.stderr));
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn calibrate_says_it_replaces_its_output_like_every_command() {
    let d = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("wifi-sensing-msg-cal");
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    let rec = d.join("empty.csirec");
    let rec = rec.to_str().unwrap();
    assert!(run(&[
        "-q",
        "simulate",
        "--scenario",
        "empty",
        "--duration",
        "30s",
        "-o",
        rec
    ])
    .status
    .success());
    let o = d.join("base.json");
    let o = o.to_str().unwrap();
    assert!(run(&["calibrate", rec, "-o", o]).status.success());
    let again = run(&["calibrate", rec, "-o", o]);
    assert!(again.status.success());
    assert!(
        text(&again.stderr).contains("replacing the existing"),
        "{}",
        text(&again.stderr)
    );
    std::fs::remove_dir_all(&d).unwrap();
}

#[cfg(feature = "pose")]
#[test]
fn a_failed_pose_run_gives_the_error_without_a_wrong_reason() {
    // Intel 5300 frames of 2 x 2 chains against a model for 3 x 2: an error, not "too short"
    let out = run(&[
        "run",
        "fixtures/intel5300/66bpm.dat",
        "--no-frames",
        "--pose",
        "fixtures/models/wifi-pose-ref.onnx",
    ]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("does not match the model manifest"), "{err}");
    assert!(!err.contains("shorter than one model window"), "{err}");
    assert!(!err.contains("no pose records:"), "{err}");
}

#[test]
fn events_say_how_many_frames_of_another_layout_they_skipped() {
    // the RuView recording mixes 64-, 128- and 192-pair frames per node
    let out = run(&[
        "run",
        "fixtures/ruview_esp32/pretrain-1775182186_first300.csi.jsonl",
        "--events",
        "--no-frames",
    ]);
    assert!(out.status.success());
    let err = text(&out.stderr);
    // Node 1 starts with a 128-pair frame (23 of its 137 frames): it was analysed in that
    // layout and skipped 114 frames; it keeps the common 64-pair layout and skips the 24
    // others and the one 64-pair frame seen before that layout led. Said once per node.
    for (node, skipped, seen) in [(1, 25, 137), (2, 29, 139)] {
        let want = format!(
            "sensing (--events/--vitals): node {node}: {skipped} of {seen} frames skipped for \
             their subcarrier layout (also 1x1x128, 1x1x192; analysed in 1x1x64)"
        );
        assert_eq!(err.matches(&want).count(), 1, "{err}");
    }
    assert_eq!(
        err.matches("frames skipped for their subcarrier layout")
            .count(),
        2,
        "{err}"
    );
    // and, once per node, that at 18 frames/s fast movement looks like these nodes' noise
    for node in [1, 2] {
        let want = format!(
            "sensing (--events/--vitals): node {node}: its noise is smooth across subcarriers"
        );
        assert_eq!(err.matches(&want).count(), 1, "{err}");
    }
    assert_eq!(
        err.matches("sensing (--events/--vitals)").count(),
        4,
        "{err}"
    );
    // a stream in one layout says nothing of the kind
    let out = run(&[
        "run",
        "fixtures/intel5300/66bpm.dat",
        "--events",
        "--no-frames",
    ]);
    assert!(!text(&out.stderr).contains("frames skipped"));
}

#[test]
fn serve_help_leaves_out_the_output_options_it_refuses() {
    let help = text(&run(&["serve", "--help"]).stdout);
    assert!(help.contains("--listen"), "{help}");
    assert!(help.contains("--events"), "{help}");
    assert!(!help.contains("--output-format"), "{help}");
    assert!(!help.contains("-o, --output"), "{help}");
    assert!(!help.contains("--arrow-aux"), "{help}");
    assert!(!help.contains("--arrow-analyses"), "{help}");
    // `run` keeps them
    let help = text(&run(&["run", "--help"]).stdout);
    assert!(help.contains("--output-format") && help.contains("-o, --output"));
    assert!(help.contains("--arrow-aux <FILE>"), "{help}");
    assert!(help.contains("--arrow-analyses <FILE>"), "{help}");
    // and `serve` refuses them as usage errors
    for extra in [
        ["--output-format", "arrow"],
        ["--arrow-aux", "x.arrows"],
        ["--arrow-analyses", "x.arrows"],
    ] {
        let mut args = vec!["serve", "fixtures/intel5300/66bpm.dat"];
        args.extend(extra);
        let out = run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(text(&out.stderr).contains("apply to `run`"), "{args:?}");
    }
}
