//! The output policy every command shares: an output that is also the input is refused, `-`
//! means stdout, a closed stdout ends with status 0, and a dataset goes to a folder.

mod common;

use std::path::Path;

use common::{bin, first_line_then_close, fixture, run, tmp};

/// A simulated capture of `secs` seconds at `path` (`.csirec`, `.csv`, ...).
fn simulate(path: &Path, scenario: &str, secs: u32) {
    let out = run(&[
        "-q",
        "simulate",
        "--scenario",
        scenario,
        "--duration",
        &format!("{secs}s"),
        "-o",
        path.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `signature capture INPUT` of a 2 s walk cut, with `extra` arguments, to `out`.
fn signature_args(input: &str, extra: &[&str], out: &str) -> Vec<String> {
    let cut = ["--label", "walk", "--start", "5s", "--duration", "2s"];
    ["signature", "capture", input]
        .iter()
        .chain(&cut)
        .chain(extra)
        .chain(&["-o", out])
        .map(|s| s.to_string())
        .collect()
}

#[test]
fn commands_that_read_all_first_refuse_to_overwrite_their_input() {
    let d = tmp("same");
    let rec = d.join("room.csirec");
    simulate(&rec, "walk", 20);
    let csv = d.join("room.csv");
    simulate(&csv, "walk", 20);
    // a background recording of `signature capture` is an input too
    let other = d.join("other.csirec");
    simulate(&other, "empty", 20);
    let (r, c, o) = (
        rec.to_str().unwrap(),
        csv.to_str().unwrap(),
        other.to_str().unwrap(),
    );
    let words = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<String>>();
    let cases: Vec<(Vec<String>, &Path)> = vec![
        (words(&["calibrate", r, "-o", r]), &rec),
        (signature_args(r, &[], r), &rec),
        (signature_args(r, &["--background", o], o), &other),
        (words(&["spectrogram", c, "-o", c]), &csv),
        (words(&["spectrogram", r, "-o", "x.png", "--csv", r]), &rec),
    ];
    for (args, input) in &cases {
        let before = std::fs::read(input).unwrap();
        let out = run(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains("is also the input"), "{args:?}: {err}");
        assert_eq!(
            std::fs::read(input).unwrap(),
            before,
            "{args:?} changed its input"
        );
    }
}

/// An Arrow side file (`--arrow-aux`, `--arrow-analyses`) that names the input is refused
/// before the main stream writes anything to stdout.
#[test]
fn arrow_side_files_naming_the_input_are_refused_before_any_output() {
    let d = tmp("arrow-side");
    let rec = d.join("room.csirec");
    simulate(&rec, "walk", 20);
    let r = rec.to_str().unwrap();
    let before = std::fs::read(&rec).unwrap();
    for flag in ["--arrow-aux", "--arrow-analyses"] {
        let out = run(&["run", r, "--events", "--output-format", "arrow", flag, r]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{flag}: {err}");
        assert!(err.contains("is also the input"), "{flag}: {err}");
        assert!(
            out.stdout.is_empty(),
            "{flag}: {} bytes on stdout",
            out.stdout.len()
        );
        assert_eq!(
            std::fs::read(&rec).unwrap(),
            before,
            "{flag} changed its input"
        );
    }
}

#[test]
fn json_documents_go_to_stdout_for_dash() {
    let d = tmp("dash");
    let rec = d.join("room.csirec");
    simulate(&rec, "empty", 30);
    let r = rec.to_str().unwrap();
    let calibrate: Vec<String> = ["calibrate", r, "-o", "-"].map(String::from).to_vec();
    for args in [calibrate, signature_args(r, &[], "-")] {
        let out = bin()
            .arg("-q")
            .args(&args)
            .current_dir(&d)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: stdout is not one JSON document: {e}"));
        assert!(v.is_object());
        assert!(!d.join("-").exists(), "{args:?} wrote a file named -");
    }
    // the matrix of `spectrogram --csv -` too
    let out = bin()
        .args(["-q", "spectrogram", r, "-o", "s.png", "--csv", "-"])
        .current_dir(&d)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(out
        .stdout
        .starts_with(b"time_s,freq_hz,velocity_mps,power_db\n"));
    assert!(!d.join("-").exists());
}

#[test]
fn truth_on_a_closed_stdout_exits_zero() {
    let d = tmp("truthpipe");
    let cap = d.join("w.csirec");
    let (first, status, err) = first_line_then_close(&[
        "simulate",
        "--scenario",
        "walk",
        "--duration",
        "60s",
        "-o",
        cap.to_str().unwrap(),
        "--truth",
        "-",
    ]);
    assert!(first.contains("wifi-sensing-sim-truth"), "{first}");
    assert!(status.success(), "exit {status:?}, stderr: {err}");
    assert!(!err.contains("Broken pipe"), "{err}");
}

#[test]
fn several_inputs_with_a_file_name_for_output_are_refused() {
    let d = tmp("dsfile");
    let a = fixture("intel5300/example.dat");
    let b = fixture("intel5300/66bpm.dat");
    for name in ["one.csirec", "one.jsonl", "one.parquet"] {
        let o = d.join(name);
        let out = run(&["convert", &a, &b, "-o", o.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {err}");
        assert!(err.contains("-o DIR/"), "{name}: {err}");
        assert!(!o.exists(), "{name} was created");
    }
    // a folder input with `-` is a usage error too
    let out = run(&["convert", &fixture("intel5300"), "-o", "-"]);
    assert_eq!(out.status.code(), Some(2));
    // the folder form still builds the dataset
    let ds = format!("{}/", d.join("ds").display());
    let out = run(&["-q", "convert", &a, &b, "-o", &ds]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(d.join("ds").join("_manifest.jsonl").is_file());
}

/// A dataset conversion whose pattern matches nothing leaves no empty folder behind, and one
/// whose every input fails says that none is in the dataset.
#[test]
fn a_dataset_of_nothing_says_so_and_leaves_no_folder() {
    let dir = tempfile::tempdir().unwrap();
    let ds = dir.path().join("ds");
    let pattern = dir.path().join("*.nomatch");
    let out = run(&[
        "convert",
        pattern.to_str().unwrap(),
        "-o",
        &format!("{}/", ds.display()),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("matches no file"));
    assert!(!ds.exists(), "an empty folder was left");
    let (bad, bad2) = (
        dir.path().join("bad.csirec"),
        dir.path().join("bad2.csirec"),
    );
    std::fs::write(&bad, b"not a capture at all").unwrap();
    std::fs::write(&bad2, b"nor this").unwrap();
    let out = run(&[
        "convert",
        bad.to_str().unwrap(),
        bad2.to_str().unwrap(),
        "-o",
        &format!("{}/", ds.display()),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("2 of 2 input files could not be converted"),
        "{err}"
    );
    assert!(err.contains("none is in the dataset"), "{err}");
}
