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
}
