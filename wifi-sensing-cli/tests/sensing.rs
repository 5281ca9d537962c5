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
        "10s",
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

/// A vital-sign window cut short by motion still starts before it ends (an earlier estimator
/// put the start one motion guard after the record's time on this real ESP32 capture).
#[test]
fn vital_sign_windows_start_before_they_end_on_a_real_capture() {
    let capture = common::fixture("esp32/example_100hz_pitraffic.csv");
    let lines = common::parse_lines(&common::stdout_ok(&[
        "run",
        "-q",
        "--events",
        "--vitals",
        capture.as_str(),
    ]));
    let vitals: Vec<_> = lines
        .iter()
        .filter(|l| l["type"] == "vital_signs")
        .collect();
    assert!(!vitals.is_empty(), "{lines:?}");
    for v in vitals {
        let d = &v["data"];
        let (start, end) = (d["window_start_ns"].as_i64(), d["window_end_ns"].as_i64());
        assert!(start.is_some() && start <= end, "{v}");
        assert!(d["window_s"].as_f64().is_some_and(|s| s >= 0.0), "{v}");
    }
}
