//! Exit statuses: every bad user-supplied value is a usage error (2) found before any work, with
//! the accepted values (or the nearest valid name) in the message.

use std::process::Command;

fn run(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_wifi-sensing"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const CSV: &str = "../fixtures/esp32/example_csi.csv";

#[test]
fn bad_values_exit_2_with_the_reason() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["simulate", "--rate", "0", "-o", "x.jsonl"],
            "0.01 to 10000 Hz",
        ),
        (&["simulate", "--rate", "NaN", "-o", "x.jsonl"], "Hz"),
        (
            &["simulate", "--duration", "0s", "-o", "x.jsonl"],
            "positive",
        ),
        (&["simulate", "--port", "0", "-o", "x.pcap"], "1..=65535"),
        // negative values reach the value's own check, not clap's "unexpected argument"
        (
            &["simulate", "--duration", "-5s", "-o", "x.jsonl"],
            "duration \"-5s\" is negative",
        ),
        (
            &["simulate", "--rate", "-1", "-o", "x.jsonl"],
            "rate -1 Hz is out of range",
        ),
        (&["run", CSV, "--duration", "-2s"], "is negative"),
        // replay: a destination port and a pace that can work
        (
            &["replay", "x.pcap", "--to", "127.0.0.1:0"],
            "port 0 is not a destination",
        ),
        (
            &[
                "replay",
                "x.pcap",
                "--to",
                "127.0.0.1:5000",
                "--speed",
                "1e-9",
            ],
            "a pace from 0.001 to 1000",
        ),
        // a preset stretched too far says why and what to use instead
        (
            &["simulate", "--duration", "30m", "-o", "x.jsonl"],
            "for a long capture use `--scenario walk`",
        ),
        (
            &["simulate", "--scenario", "breath", "-o", "x.jsonl"],
            "did you mean \"breathe\"",
        ),
        (
            &["simulate", "--device", "esp", "-o", "x.jsonl"],
            "did you mean \"esp32\"",
        ),
        (&["simulate", "-o", "x.txt"], ".pcap"),
        (
            &["simulate", "--device", "nexmon80", "-o", "x.csv"],
            "ESP32 frames",
        ),
        (&["simulate", "-o", "-", "--truth", "-"], "mix"),
        (
            &[
                "simulate",
                "--scenario",
                "walk",
                "--scenario-file",
                "a.json",
                "-o",
                "x.jsonl",
            ],
            "cannot be used with",
        ),
        (&["run", "--format", "nexmon", CSV], "pcap"),
        (
            &["run", "--format", "intel5301", CSV],
            "did you mean \"intel5300\"",
        ),
        (
            &["inspect", "--format", "esp32csv", CSV],
            "did you mean \"esp32_csv\"",
        ),
        (
            &["convert", "--format", "bogus", CSV, "-o", "-"],
            "formats that can be read",
        ),
        (&["run", "--limit", "0", CSV], "--limit"),
        (&["run", "--duration", "5s", CSV], "udp://"),
        (
            &["run", "--nexmon-chip", "4366", CSV],
            "did you mean \"4366c0\"",
        ),
        (&["run", "--nexmon-port", "0", CSV], "1..=65535"),
        (&["run", "udp://127.0.0.1:99999"], "out of range"),
        (&["run", "udp://nohost"], "HOST:PORT"),
        (
            &["run", "--format", "intel5300", "udp://127.0.0.1:0"],
            "does not apply",
        ),
        (
            &["record", "udp://127.0.0.1:99999", "-o", "x.csirec"],
            "out of range",
        ),
        (
            &[
                "record",
                "udp://127.0.0.1:0",
                "--frames",
                "0",
                "-o",
                "x.csirec",
            ],
            "--frames",
        ),
        (&["record", CSV, "-o", "x.csirec"], "convert"),
        (&["record", "udp://127.0.0.1:0", "-o", "x.jsonl"], ".csirec"),
        (&["record", "udp://127.0.0.1:0", "-o", "-"], "stdout"),
        (
            &["convert", CSV, "-o", "x.txt"],
            ".csirec, .jsonl or .parquet",
        ),
        (&["inspect", "--duration", "0", CSV], "positive"),
        (
            &["simulate", "--duration", "1s", "-o", "x.jsonl"],
            "at least 5 s",
        ),
        (&["run"], "INPUT"),
        (
            &["serve", "--listen", "127.0.0.1:99999", CSV],
            "port 99999 is out of range",
        ),
        (
            &["convert", CSV, "-o", "x.csirec", "--jobs", "4"],
            "--jobs applies to a dataset",
        ),
        (
            &[
                "model",
                "score",
                "--truth",
                "t",
                "--poses",
                "p",
                "--presence-threshold",
                "2",
            ],
            "not in 0..=1",
        ),
        (
            &[
                "model",
                "score",
                "--truth",
                "t",
                "--poses",
                "p",
                "--presence-threshold",
                "NaN",
            ],
            "not in 0..=1",
        ),
        (&["spectrogram", CSV, "-o", "x.jpg"], ".png (image) or .csv"),
        (
            &["run", "--stages", "hampel:windw=5", CSV],
            "unknown parameter `windw` (did you mean `window`?)",
        ),
    ];
    for (args, want) in cases {
        let (code, err) = run(args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {want:?} not in {err}");
    }
    // nothing was created by the refused commands
    for f in ["x.jsonl", "x.pcap", "x.csv", "x.txt", "x.csirec", "x.jpg"] {
        assert!(
            !std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join(f)
                .exists(),
            "{f}"
        );
    }
}

#[test]
fn runtime_errors_exit_1() {
    let (code, err) = run(&["run", "no/such/file.csv"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("no/such/file.csv"), "{err}");
}

/// Formats that can be forced with `--format`.
const FORMATS: [&str; 11] = [
    "csirec",
    "jsonl",
    "esp32_csv",
    "espcsi_csv",
    "ruview_jsonl",
    "intel5300",
    "atheros",
    "pcap",
    "picoscenes",
    "feitcsi",
    "esp32_adr018",
];

#[test]
fn nothing_decodable_is_an_error_in_every_format() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("wifi-sensing-usage");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // bytes of no format: a text line and binary noise (a fixed LCG, so the test is repeatable)
    let mut garbage = b"hello, this is not CSI\n".to_vec();
    let mut x = 12345u32;
    for _ in 0..3000 {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        garbage.push((x >> 16) as u8);
    }
    let path = dir.join("garbage.bin");
    std::fs::write(&path, &garbage).unwrap();
    let p = path.to_str().unwrap();
    let listed = run(&["formats"]);
    assert_eq!(listed.0, 0);
    for f in FORMATS {
        for cmd in [&["run", p][..], &["inspect", p], &["convert", p, "-o", "-"]] {
            let mut args = cmd.to_vec();
            args.extend(["--format", f]);
            let (code, err) = run(&args);
            if code == 2 {
                // a format that cannot be forced says so as a usage error
                assert!(err.contains("unknown format"), "{args:?}: {err}");
                continue;
            }
            assert_eq!(code, 1, "{args:?}: {err}");
            assert!(err.contains("error:"), "{args:?}: {err}");
        }
    }
    // the reason is named, and the forced format questioned
    let (_, err) = run(&["run", p, "--format", "intel5300"]);
    assert!(
        err.contains("nothing could be decoded") && err.contains("--format intel5300"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn run_reports_an_analysis_usage_error_before_opening_the_input() {
    // the input does not exist: the usage error comes first, with exit 2, and no input line
    let (code, err) = run(&["run", "no-such-capture.csv", "--baseline", "b.json"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--baseline needs --events"), "{err}");
    assert!(!err.contains("no-such-capture"), "{err}");
    let (code, err) = run(&["run", CSV, "--baseline", "b.json"]);
    assert_eq!(code, 2, "{err}");
    assert!(!err.contains("esp32"), "no input info line first: {err}");
}

#[test]
fn run_dash_o_dash_is_stdout_as_for_convert() {
    let out = |extra: &[&str]| {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_wifi-sensing"))
            .args(["-q", "run", CSV, "--limit", "3"])
            .args(extra)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    };
    let plain = out(&[]);
    assert_eq!(plain.lines().count(), 3, "{plain}");
    assert_eq!(out(&["-o", "-"]), plain);
}

#[test]
fn run_output_names_are_checked_before_the_input_is_opened() {
    for (out, said) in [
        ("r.csirec", "wifi-sensing convert INPUT -o r.csirec"),
        ("r.txt", "use a .parquet or .jsonl name"),
    ] {
        // the input does not exist: the usage error must come first
        let (code, err) = run(&["run", "no-such-capture.csv", "-o", out]);
        assert_eq!(code, 2, "{out}: {err}");
        assert!(err.contains(said), "{out}: {err}");
    }
}
