//! The printed JSON Lines validate against `docs/schema/record-v1.json` with a real JSON Schema
//! validator, and the validator does reject a broken line (so these tests can fail).

mod common;

use common::{fixture, stdout_ok};

#[test]
fn frames_of_every_fixture_format_validate() {
    for f in [
        "esp32/example_csi.csv",
        "intel5300/example.dat",
        "nexmon/example.pcap",
        "atheros/ath_csi_1.first5.dat",
        "feitcsi/HT20_2452.csi",
        "pcap/adr018_sample.pcap",
    ] {
        let lines = common::parse_lines(&stdout_ok(&["run", "-q", "--limit", "5", &fixture(f)]));
        assert!(!lines.is_empty(), "{f}: no lines");
        common::assert_valid("record-v1.json", &lines);
    }
}

#[test]
fn the_validator_rejects_broken_lines() {
    let lines = common::parse_lines(&stdout_ok(&[
        "run",
        "-q",
        "--limit",
        "1",
        &fixture("esp32/example_csi.csv"),
    ]));
    let v = common::validator("record-v1.json");
    assert!(common::errors(&v, &lines[0]).is_empty());
    let mut bad = lines[0].clone();
    bad["schema"] = 2.into();
    assert!(!common::errors(&v, &bad).is_empty(), "schema 2 accepted");
    let mut bad = lines[0].clone();
    bad.as_object_mut().unwrap().remove("csi_re");
    assert!(
        !common::errors(&v, &bad).is_empty(),
        "missing csi_re accepted"
    );
}

#[test]
fn analysis_lines_validate() {
    // An analysis record as the JSON Lines sink writes it from a typed value.
    use wifi_sensing_core::{jsonl, Analysis, Output};
    #[derive(Debug, serde::Serialize)]
    struct Level {
        db: f64,
    }
    let a = Analysis::new("level", "level", 5, Some(1), Level { db: -3.5 });
    let mut buf = Vec::new();
    jsonl::write_output(&mut buf, &Output::Analysis(a)).unwrap();
    let line: serde_json::Value = serde_json::from_slice(&buf).unwrap();
    assert_eq!(
        line,
        serde_json::json!({"schema": 1, "type": "level", "analyser": "level",
                           "timestamp_ns": 5, "node_id": 1, "data": {"db": -3.5}})
    );
    common::assert_valid("record-v1.json", &[line]);
}

/// `inspect --json` validates against `docs/schema/inspect-v1.json` (which allows no field it
/// does not describe) on every fixture format, a cut capture, a malformed line and
/// `--keep-nodes`; the validator rejects a report without a field it requires.
#[test]
fn inspect_reports_validate() {
    let dir = tempfile::tempdir().unwrap();
    let cut = dir.path().join("cut.dat");
    let bytes = std::fs::read(fixture("intel5300/example.dat")).unwrap();
    std::fs::write(&cut, &bytes[..bytes.len() - 7]).unwrap();
    let cut = cut.to_string_lossy().into_owned();
    // a recording written now, whose header the report shows
    let rec = dir.path().join("e.csirec");
    let rec = rec.to_string_lossy().into_owned();
    let made = common::run(&[
        "-q",
        "convert",
        &fixture("intel5300/example.dat"),
        "-o",
        &rec,
    ]);
    assert!(made.status.success());
    let cases: Vec<Vec<String>> = [
        "esp32/example_csi.csv",
        "esp32/example_100hz_pitraffic.csv",
        "intel5300/example.dat",
        "nexmon/example.pcap",
        "atheros/ath_csi_1.first5.dat",
        "feitcsi/HT20_2452.csi",
        "pcap/adr018_sample.pcap",
        "csirec/v1_intel5300.csirec",
    ]
    .iter()
    .map(|f| vec![fixture(f)])
    .chain([
        vec![cut],
        vec![rec.clone()],
        vec![
            fixture("pcap/adr018_sample.pcap"),
            "--keep-nodes".into(),
            "99".into(),
        ],
    ])
    .collect();
    let v = common::validator("inspect-v1.json");
    for args in cases {
        let mut a = vec!["-q".to_string(), "inspect".into(), "--json".into()];
        a.extend(args.iter().cloned());
        let out = common::run(&a);
        let report: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: not JSON: {e}"));
        let errs = common::errors(&v, &report);
        assert!(errs.is_empty(), "{args:?}: {errs:#?}\n{report}");
        assert_eq!(report["schema"], 1);
        // only a recording has a header to show
        assert_eq!(
            report.get("recording").is_some(),
            args[0].ends_with(".csirec"),
            "{args:?}: {report}"
        );
        if args[0] == rec {
            assert_eq!(report["recording"]["format_version"], 3, "{report}");
            assert!(
                report["recording"]["source"]
                    .as_str()
                    .unwrap()
                    .ends_with("example.dat"),
                "{report}"
            );
        }
        if args[0] == rec {
            // the same header from stdin
            let mut child = common::bin()
                .args(["-q", "inspect", "--json", "-"])
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            let bytes = std::fs::read(&rec).unwrap();
            let mut stdin = child.stdin.take().unwrap();
            std::thread::spawn(move || std::io::Write::write_all(&mut stdin, &bytes));
            let out = child.wait_with_output().unwrap();
            assert!(out.status.success());
            let piped: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(piped["recording"], report["recording"], "{piped}");
        }
        let mut bad = report.clone();
        bad.as_object_mut().unwrap().remove("nodes");
        assert!(
            !common::errors(&v, &bad).is_empty(),
            "a report without nodes passed"
        );
    }
}
