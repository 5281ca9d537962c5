//! Helpers shared by the integration tests: locating fixtures and the capture kit, reading golden
//! JSONL files, comparing frames with golden values, and checks that several readers' tests make
//! the same way (clean end of a capture, detection from the bytes, the recording round trip).
#![allow(dead_code)]

use std::io::Cursor;
use std::path::{Path, PathBuf};

use serde_json::Value;
use wifi_sensing_core::recording::{RecordingHeader, RecordingReader, RecordingWriter};
use wifi_sensing_core::{
    CaptureFormat, CaptureReader, CsiFrame, ReadStats, ReaderOptions, Record, Registry,
};

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

/// The kit's golden files `golden/<dir>/*.jsonl`, each paired with its capture `<dir>/<name>`
/// (the golden file's name without `.jsonl`), sorted: `(capture, golden)`.
pub fn kit_golden_pairs(dir: &str) -> Vec<(PathBuf, PathBuf)> {
    let kit = kit();
    let mut v: Vec<(PathBuf, PathBuf)> = std::fs::read_dir(kit.join("golden").join(dir))
        .unwrap_or_else(|e| panic!("golden/{dir}: {e}"))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .map(|g| {
            let name = g.file_stem().unwrap().to_string_lossy().into_owned();
            (kit.join(dir).join(name), g)
        })
        .collect();
    v.sort();
    v
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

/// A golden value as an unsigned integer (panics showing the value when it is not one).
pub fn uint(v: &Value) -> u64 {
    v.as_u64()
        .unwrap_or_else(|| panic!("not an unsigned integer: {v}"))
}

/// A golden value as a signed integer (panics showing the value when it is not one).
pub fn int(v: &Value) -> i64 {
    v.as_i64().unwrap_or_else(|| panic!("not an integer: {v}"))
}

/// A golden array of unsigned integers.
pub fn uints(v: &Value) -> Vec<u64> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(uint)
        .collect()
}

/// A golden array of bytes (a MAC address, for instance); panics when a value is not a byte.
pub fn bytes(v: &Value) -> Vec<u8> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|x| u8::try_from(uint(x)).unwrap_or_else(|_| panic!("not a byte: {x}")))
        .collect()
}

/// The unsigned integer `g[key]` of a golden object (panics naming the key when it is missing).
pub fn field_u(g: &Value, key: &str) -> u64 {
    g[key]
        .as_u64()
        .unwrap_or_else(|| panic!("golden field {key} missing or not unsigned in {g}"))
}

/// The signed integer `g[key]` of a golden object (panics naming the key when it is missing).
pub fn field_i(g: &Value, key: &str) -> i64 {
    g[key]
        .as_i64()
        .unwrap_or_else(|| panic!("golden field {key} missing or not an integer in {g}"))
}

/// Asserts that an unsigned field read by us equals the golden object's `g[key]` exactly; a
/// failure names `what` and the key.
pub fn assert_uint(got: impl Into<u64>, g: &Value, key: &str, what: &str) {
    assert_eq!(got.into(), field_u(g, key), "{what}: {key}");
}

/// Asserts that a signed field read by us equals the golden object's `g[key]` exactly; a failure
/// names `what` and the key.
pub fn assert_int(got: impl Into<i64>, g: &Value, key: &str, what: &str) {
    assert_eq!(got.into(), field_i(g, key), "{what}: {key}");
}

/// Asserts that a capture ended cleanly: no malformed record, no truncation, no fatal error.
pub fn assert_clean_end(stats: &ReadStats, what: &str) {
    assert_eq!(
        (
            stats.malformed,
            stats.truncated.is_none(),
            stats.fatal.is_none()
        ),
        (0, true, true),
        "{what}: {stats:?}"
    );
}

/// Asserts that the registry detects the file at `path` as `format` from its bytes alone (a
/// plain stream with no name or extension) and through [`Registry::open_path`].
pub fn assert_detected(path: &Path, format: CaptureFormat) {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let cap = Registry::builtin()
        .open_read(Box::new(file), None, None, None)
        .unwrap();
    assert_eq!(cap.format(), format, "{}: from the bytes", path.display());
    let cap = Registry::builtin().open_path(path).unwrap();
    assert_eq!(cap.format(), format, "{}: open_path", path.display());
}

/// Reads `capture` as `format` through the registry and walks its records with the golden
/// lines, in order. Every record must be a frame starting at its golden line's `_offset`;
/// `check(frame, line, offset, what)` compares the rest. Then the frame count must equal the
/// golden lines and the header's `frames`, the file (of the header's `bytes`) must be read to its
/// end and the capture must end cleanly. Returns the number of frames.
pub fn check_frames_at_offsets(
    capture: &Path,
    golden: &Golden,
    format: CaptureFormat,
    mut check: impl FnMut(&CsiFrame, &Value, u64, &str),
) -> usize {
    let size = std::fs::metadata(capture).unwrap().len();
    assert_eq!(golden.header["bytes"].as_u64(), Some(size));
    let mut cap = Registry::builtin()
        .open_path_as(capture, Some(format))
        .unwrap();
    let name = capture.file_name().unwrap().to_string_lossy().into_owned();
    let mut n = 0;
    loop {
        let offset = cap.bytes_read();
        let Some(rec) = cap.next_record() else { break };
        let f = match rec {
            Ok(Record::Frame(f)) => f,
            other => panic!("{name}: record {n} at byte {offset}: {other:?}"),
        };
        let g = golden
            .frames
            .get(n)
            .unwrap_or_else(|| panic!("{name}: more records than the golden file"));
        let what = format!("{name} record {n}");
        assert_eq!(offset, field_u(g, "_offset"), "{what}: offset");
        check(&f, g, offset, &what);
        n += 1;
    }
    assert_eq!(n, golden.frames.len(), "{name}: record count");
    assert_eq!(Some(n as u64), golden.header["frames"].as_u64());
    assert_clean_end(cap.stats(), &name);
    assert_eq!(cap.bytes_read(), size);
    n
}

/// Every item of a reader, bounded: fails when it yields more than `max` items (a reader that
/// never ends) or yields anything after its end.
pub fn drain(r: &mut dyn CaptureReader, max: usize) -> Vec<wifi_sensing_core::Result<Record>> {
    let mut out = Vec::new();
    while let Some(x) = r.next_record() {
        out.push(x);
        assert!(out.len() <= max, "reader does not end");
    }
    assert!(r.next_record().is_none(), "reader must stay ended");
    out
}

/// Writes `frames` into a native recording in memory and asserts that reading it back gives
/// the same records, in order, and then the end.
pub fn assert_recording_round_trip(frames: &[CsiFrame]) {
    let mut buf = Vec::new();
    let mut w = RecordingWriter::new(&mut buf, &RecordingHeader::new("test", "")).unwrap();
    for f in frames {
        w.write(&Record::Frame(f.clone())).unwrap();
    }
    drop(w);
    let mut rr =
        RecordingReader::new(Box::new(Cursor::new(buf)), &ReaderOptions::default()).unwrap();
    for f in frames {
        assert_eq!(rr.next_record().unwrap().unwrap(), Record::Frame(f.clone()));
    }
    assert!(rr.next_record().is_none());
}

/// Asserts that two frames (or any two structs) agree on each named field, naming `what` and the
/// field on failure: `assert_same_fields!(got, want, "frame 3"; csi, sequence, rssi_dbm)`.
#[allow(unused_macros)] // each test file uses only some of these helpers
macro_rules! assert_same_fields {
    ($got:expr, $want:expr, $what:expr; $($field:ident),+ $(,)?) => {
        $(assert_eq!($got.$field, $want.$field, "{}: {}", $what, stringify!($field));)+
    };
}
#[allow(unused_imports)]
pub(crate) use assert_same_fields;
