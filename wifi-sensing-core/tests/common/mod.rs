//! Helpers shared by the integration tests: locating fixtures and the capture kit, reading golden
//! JSONL files, comparing frames with golden values.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use serde_json::Value;
use wifi_sensing_core::CsiFrame;

/// The workspace's `fixtures/` folder.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

/// The external capture kit: `$WIFI_SENSING_KIT`, else `../shared/captures` beside the
/// workspace. Panics with a clear message when it is missing: tests that need it are
/// `#[ignore]`d and only run on request (`cargo test -- --include-ignored`).
pub fn kit() -> PathBuf {
    let p = std::env::var_os("WIFI_SENSING_KIT")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/captures"));
    assert!(
        p.join("golden").is_dir(),
        "capture kit not found at {} (set WIFI_SENSING_KIT to the folder holding golden/)",
        p.display()
    );
    p
}

/// A golden JSONL file: its header (first line) and its frame lines.
pub struct Golden {
    pub header: Value,
    pub frames: Vec<Value>,
}

/// Reads a golden JSONL file.
pub fn load_golden(path: &Path) -> Golden {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Value =
        serde_json::from_str(lines.next().expect("empty golden file")).expect("bad golden header");
    let frames = lines
        .map(|l| serde_json::from_str(l).expect("bad golden line"))
        .collect();
    Golden { header, frames }
}

/// Compares a frame's CSI with a golden line's `csi` object (`shape`, `re`, `im`, flattened
/// row-major over `[rx][tx][subcarrier]`). `rel_tol` = 0 means exact.
pub fn assert_csi_matches(frame: &CsiFrame, golden: &Value, rel_tol: f64, what: &str) {
    let csi = &golden["csi"];
    let shape: Vec<usize> = csi["shape"]
        .as_array()
        .expect("golden csi.shape")
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    let (r, t, s) = frame.shape();
    assert_eq!(vec![r, t, s], shape, "{what}: shape");
    let re = csi["re"].as_array().expect("golden csi.re");
    let im = csi["im"].as_array().expect("golden csi.im");
    assert_eq!(re.len(), frame.csi.len(), "{what}: value count");
    for (k, (c, (gr, gi))) in frame.csi.iter().zip(re.iter().zip(im)).enumerate() {
        let (gr, gi) = (gr.as_f64().unwrap(), gi.as_f64().unwrap());
        for (got, want, part) in [(f64::from(c.re), gr, "re"), (f64::from(c.im), gi, "im")] {
            let ok = if rel_tol == 0.0 {
                got == want
            } else {
                (got - want).abs() <= rel_tol * want.abs().max(1e-30) || (got - want).abs() < 1e-30
            };
            assert!(ok, "{what}: value {k} {part}: got {got}, golden {want}");
        }
    }
}
