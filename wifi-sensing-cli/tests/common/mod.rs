//! Helpers shared by the CLI's integration tests: running the binary, fixture and scratch paths,
//! and validation of printed JSON Lines against the JSON Schema files under `docs/schema/`.
//!
//! Use from a test file with `mod common;`.

#![allow(dead_code)]

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output, Stdio};

use serde_json::Value;

/// The `wifi-sensing` binary, as a command to add arguments to.
pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_wifi-sensing"))
}

/// The binary's output for `args`, whatever its exit status.
pub fn run<S: AsRef<OsStr>>(args: &[S]) -> Output {
    bin().args(args).output().unwrap()
}

/// The binary's output for `args`, which must succeed (the failure shows its stderr).
pub fn run_ok<S: AsRef<OsStr> + std::fmt::Debug>(args: &[S]) -> Output {
    let out = run(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The stdout of `args`, which must succeed.
pub fn stdout_ok<S: AsRef<OsStr> + std::fmt::Debug>(args: &[S]) -> Vec<u8> {
    run_ok(args).stdout
}

/// A fresh, empty folder for one test (`name` unique within the test file), under cargo's
/// `target/tmp` (so that test runs leave nothing in the system's temporary folder, and a later
/// run of the same test replaces it).
pub fn tmp(name: &str) -> PathBuf {
    let exe = std::env::current_exe().ok();
    // the test file's name: the executable's stem without cargo's `-<hash>`
    let file = exe
        .as_deref()
        .and_then(Path::file_stem)
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let file = file.rsplit_once('-').map_or(file.as_str(), |(f, _)| f);
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("ws-{file}-{name}"));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Path of `fixtures/<rel>` in the repository, as a string for command arguments.
pub fn fixture(rel: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures")
        .join(rel)
        .to_string_lossy()
        .into_owned()
}

/// Path of `docs/schema/<name>` in the repository.
pub fn schema_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../docs/schema")
        .join(name)
}

/// A validator for the JSON Schema file `docs/schema/<name>` (e.g. `"record-v1.json"`).
pub fn validator(name: &str) -> jsonschema::Validator {
    let path = schema_path(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let schema: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
    jsonschema::validator_for(&schema)
        .unwrap_or_else(|e| panic!("{} is not a valid JSON Schema: {e}", path.display()))
}

/// Every error of `line` against `v`, as text (empty when valid).
pub fn errors(v: &jsonschema::Validator, line: &Value) -> Vec<String> {
    v.iter_errors(line)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

/// Asserts that every line is valid against `docs/schema/<name>`; the failure names the line
/// and every error.
pub fn assert_valid(name: &str, lines: &[Value]) {
    let v = validator(name);
    for (i, line) in lines.iter().enumerate() {
        let errs = errors(&v, line);
        assert!(
            errs.is_empty(),
            "line {} is not valid against {name}: {errs:#?}\n{line}",
            i + 1
        );
    }
}

/// Parses JSON Lines (each line must be a JSON value).
pub fn parse_lines(bytes: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(bytes)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// Runs `args`, reads the first line of stdout and then closes it, as `| head -n 1` does:
/// `(first line, exit status, stderr)`.
pub fn first_line_then_close<S: AsRef<OsStr>>(args: &[S]) -> (String, ExitStatus, String) {
    let mut child = bin()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    drop(out);
    let status = child.wait().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (first, status, err)
}

/// The kit's 13 s ESP32 capture `example_100hz_pitraffic.csv` with five of its frames (spread
/// over the middle) given the MAC `other` instead, as an ESP32 in passive mode reports a few
/// frames of another transmitter: written to `dir/stray.csv`, whose path is returned.
#[allow(dead_code)]
pub fn stray_esp32_capture(dir: &std::path::Path, other: &str) -> std::path::PathBuf {
    let text = std::fs::read_to_string(fixture("esp32/example_100hz_pitraffic.csv")).unwrap();
    let mac = "11:22:33:44:55:66";
    let mut stray = 0;
    let lines: Vec<String> = text
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i % 100 == 50 && stray < 5 && l.contains(mac) {
                stray += 1;
                l.replacen(mac, other, 1)
            } else {
                l.to_string()
            }
        })
        .collect();
    assert_eq!(stray, 5);
    let path = dir.join("stray.csv");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}
