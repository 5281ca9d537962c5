//! RuView JSONL recording reader (`*.csi.jsonl`), format [`CaptureFormat::RuviewJsonl`].
//!
//! # Layout (FORMATS.md §1.5)
//!
//! One JSON object per line, written by RuView's recorder from the ADR-018 UDP packets it
//! received (see [`adr018`](super::adr018) for the packets themselves):
//!
//! | `type` | keys | becomes |
//! |---|---|---|
//! | `"raw_csi"` | `timestamp, node_id, magic, size, rssi, iq_hex, subcarriers` | [`Record::Frame`] |
//! | `"vitals"` | `timestamp, node_id, magic, size, rssi, flags, breathing_bpm, heartrate_bpm, n_persons, motion_energy, presence_score` | [`AuxBody::Vitals`] |
//! | `"feature"` | `timestamp, node_id, magic, size, rssi, features[8], seq` | [`AuxBody::Features`] |
//! | (none) | `timestamp, node_id, magic, size, rssi` | [`AuxBody::Unknown`] with `magic` and `size` |
//!
//! A record whose `type` is some other string is also passed on as [`AuxBody::Unknown`], provided
//! its magic is of the ADR-018 family (`0xC511xxxx`); a typed record whose `magic` disagrees with
//! its `type` (e.g. `raw_csi` without `0xC5110001`) is malformed.
//!
//! # Conventions
//!
//! * `iq_hex` is the hex of the ADR-018 frame bytes after the 20-byte header: int8 pairs,
//!   **[imag, real]** (D1), so `csi[k] = b[2k+1] + j·b[2k]`, shape `[1, 1, subcarriers]`. The hex
//!   length must be exactly `4 × subcarriers`, else the record is [`Error::Malformed`].
//!   `subcarriers` counts buffer pairs (LLTF + HT-LTF + STBC: 64, 128 or 192 in the kit's file), not
//!   distinct tones, so [`CsiFrame::subcarriers`] is `None`.
//! * **Timestamps** are the recorder's host receive time in Unix seconds (a Python float):
//!   `timestamp_ns` is that value to the nearest nanosecond, [`Clock::Host`]. The JSONL keeps no
//!   device time.
//! * **`rssi` is not trusted**: it is 1 in every raw-CSI record of the kit's recording (the recorder
//!   probably read the `n_antennas` byte), so it never goes to [`CsiFrame::rssi_dbm`] or
//!   [`EdgeVitals::rssi`]; frames keep it as written in [`Esp32Meta::jsonl_rssi`]. Also lost in
//!   the JSONL: the frame header's frequency, sequence number and noise floor (all `None`).
//! * `node_id` → [`CsiFrame::node_id`]; `magic`, `size`, `type` and the 1-based line number are
//!   in [`Esp32Meta`]. Device: [`Device::Esp32`] (RuView nodes are ESP32-S3 boards).
//! * Vitals: `breathing_bpm` and `heartrate_bpm` are kept as written (already divided by the
//!   firmware's ×100 / ×10000 scales); the flag bits are split as in the packet; `rssi` and the
//!   node's `timestamp_ms` are `None`. Features: `seq` and the eight values; `timestamp_us` is
//!   `None`.
//! * Every JSON error, missing key or bad value is a recoverable [`Error::Malformed`] with the
//!   line's byte offset and 1-based line number; the reader continues with the next line. Empty
//!   lines are skipped.
//!
//! Lines are parsed with `serde_json` into a borrowing struct (no `Value` tree); the hex is
//! decoded by hand straight into the complex buffer.
//!
//! # Example
//!
//! ```
//! use wifi_sensing_core::{Registry, CaptureFormat, Clock};
//! let text = concat!(
//!     r#"{"timestamp": 1775182186.5, "node_id": 2, "magic": "0xC5110001", "size": 24, "rssi": 1, "#,
//!     r#""type": "raw_csi", "iq_hex": "0102fe7f", "subcarriers": 2}"#, "\n");
//! let mut cap = Registry::builtin().open_read(Box::new(std::io::Cursor::new(text)), None, None, None)?;
//! assert_eq!(cap.format(), CaptureFormat::RuviewJsonl);
//! let f = cap.next().unwrap()?;
//! assert_eq!((f.node_id, f.clock, f.timestamp_ns), (2, Clock::Host, 1_775_182_186_500_000_000));
//! assert_eq!(f.csi[[0, 0, 1]], num_complex::Complex32::new(127.0, -2.0));
//! assert_eq!(f.rssi_dbm, None);
//! # Ok::<(), wifi_sensing_core::Error>(())
//! ```

use std::borrow::Cow;

use ndarray::Array3;
use num_complex::Complex32;
use serde::Deserialize;

#[cfg(doc)]
use crate::error::Error;
use crate::error::Result;
use crate::formats::adr018::{
    is_family_magic, EdgeVitals, FeatureVector, UnknownPacket, MAGIC_CSI, MAGIC_FEATURES,
    MAGIC_VITALS, MAX_PAIRS,
};
use crate::formats::esp32::{hex_val, Esp32Meta};
use crate::formats::text::{first_line, looks_like_text, LineReader};
use crate::frame::{CaptureFormat, Clock, CsiFrame, Device, FormatMeta};
use crate::reader::{CaptureReader, Confidence, FormatDescriptor, Input, ReaderOptions};
use crate::record::{AuxBody, AuxRecord, Record};

const FORMAT: CaptureFormat = CaptureFormat::RuviewJsonl;

/// One JSONL record, borrowing its strings from the line where possible.
#[derive(Deserialize)]
struct Line<'a> {
    timestamp: Option<f64>,
    node_id: Option<u32>,
    #[serde(borrow)]
    magic: Option<Cow<'a, str>>,
    size: Option<u32>,
    rssi: Option<i32>,
    #[serde(rename = "type", borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    iq_hex: Option<Cow<'a, str>>,
    subcarriers: Option<u64>,
    flags: Option<u8>,
    breathing_bpm: Option<f64>,
    heartrate_bpm: Option<f64>,
    n_persons: Option<u8>,
    motion_energy: Option<f32>,
    presence_score: Option<f32>,
    features: Option<[f32; 8]>,
    seq: Option<u16>,
}

/// Streaming reader of RuView JSONL recordings. See the [module docs](self).
pub struct RuviewReader {
    lines: LineReader,
    max_pairs: usize,
}

impl RuviewReader {
    /// A reader over `input` with the limits of `options`.
    pub fn new(input: Input, options: &ReaderOptions) -> Self {
        RuviewReader {
            lines: LineReader::new(input, FORMAT, options.limits.max_record_bytes),
            max_pairs: options.limits.max_csi_values.min(MAX_PAIRS),
        }
    }
}

impl CaptureReader for RuviewReader {
    fn format(&self) -> CaptureFormat {
        FORMAT
    }

    fn next_record(&mut self) -> Option<Result<Record>> {
        let max_pairs = self.max_pairs;
        self.lines
            .next_record(|line, line_no| Some(parse_record(line, line_no, max_pairs)))
    }

    fn position(&self) -> u64 {
        self.lines.position()
    }
}

/// Unix seconds (a float) to the nearest nanosecond, without losing the sub-microsecond digits
/// to a single large multiplication.
fn seconds_to_ns(t: f64) -> std::result::Result<i64, String> {
    // i64 nanoseconds reach year 2262.
    if !t.is_finite() || t.abs() >= 9.2e9 {
        return Err(format!("timestamp {t} is not a Unix time in seconds"));
    }
    let whole = t.floor();
    let frac = t - whole; // exact: both operands share the exponent range
    let ns = (frac * 1e9).round() as i64;
    Ok(whole as i64 * 1_000_000_000 + ns)
}

fn parse_magic(s: &str) -> Option<u32> {
    let hex = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X"))?;
    u32::from_str_radix(hex, 16).ok()
}

/// Decodes the `iq_hex` string into `[imag, real]` pairs.
// Not inlined: inlined into the record loop, the hex loop compiles to slower code.
#[inline(never)]
fn decode_iq(hex: &[u8], pairs: usize) -> std::result::Result<Vec<Complex32>, String> {
    if hex.len() != 4 * pairs {
        return Err(format!(
            "iq_hex has {} hex digits, {pairs} subcarriers need {} (2 bytes per pair)",
            hex.len(),
            4 * pairs
        ));
    }
    let byte =
        |i: usize| -> Option<i8> { Some((hex_val(hex[i])? << 4 | hex_val(hex[i + 1])?) as i8) };
    let mut out = Vec::with_capacity(pairs);
    for k in 0..pairs {
        let o = 4 * k;
        match (byte(o), byte(o + 2)) {
            (Some(im), Some(re)) => out.push(Complex32::new(f32::from(re), f32::from(im))),
            _ => {
                return Err(format!(
                    "iq_hex is not hex near digit {o} (`{}`)",
                    String::from_utf8_lossy(&hex[o..o + 4])
                ))
            }
        }
    }
    Ok(out)
}

fn parse_record(
    line: &[u8],
    line_no: u64,
    max_pairs: usize,
) -> std::result::Result<Record, String> {
    let rec: Line<'_> =
        serde_json::from_slice(line).map_err(|e| format!("invalid JSON record: {e}"))?;
    let timestamp = rec.timestamp.ok_or("record has no `timestamp`")?;
    let timestamp_ns = seconds_to_ns(timestamp)?;
    let node_id = rec.node_id.ok_or("record has no `node_id`")?;
    let magic =
        match rec.magic.as_deref() {
            Some(m) => Some(parse_magic(m).ok_or_else(|| {
                format!("`magic` = {m:?} is not a hex number like \"0xC5110001\"")
            })?),
            None => None,
        };
    let aux = |body: AuxBody| {
        Record::Aux(AuxRecord {
            timestamp_ns,
            clock: Clock::Host,
            format: FORMAT,
            node_id: Some(node_id),
            body,
        })
    };
    let kind = rec.kind.as_deref();
    let expected_magic = match kind {
        Some("raw_csi") => Some(MAGIC_CSI),
        Some("vitals") => Some(MAGIC_VITALS),
        Some("feature") => Some(MAGIC_FEATURES),
        _ => None,
    };
    if let (Some(want), Some(got)) = (expected_magic, magic) {
        if want != got {
            return Err(format!(
                "`type` {:?} needs magic 0x{want:08X}, the record says 0x{got:08X}",
                kind.unwrap_or_default()
            ));
        }
    }
    match kind {
        Some("raw_csi") => {
            let pairs = rec
                .subcarriers
                .ok_or("raw_csi record has no `subcarriers`")?;
            if pairs == 0 {
                return Err("raw_csi record has `subcarriers` = 0".to_string());
            }
            if pairs > max_pairs as u64 {
                return Err(format!(
                    "`subcarriers` = {pairs} exceeds the limit of {max_pairs} pairs per frame"
                ));
            }
            let pairs = pairs as usize;
            let hex = rec
                .iq_hex
                .as_deref()
                .ok_or("raw_csi record has no `iq_hex`")?;
            let data = decode_iq(hex.as_bytes(), pairs)?;
            let csi = Array3::from_shape_vec((1, 1, pairs), data)
                .map_err(|e| format!("internal shape error: {e}"))?;
            let mut f = CsiFrame::new(FORMAT, Device::Esp32, csi);
            f.timestamp_ns = timestamp_ns;
            f.clock = Clock::Host;
            f.node_id = node_id;
            f.meta = FormatMeta::Esp32(Box::new(Esp32Meta {
                record_type: Some("raw_csi".to_string()),
                line: Some(line_no),
                magic,
                size: rec.size,
                jsonl_rssi: rec.rssi,
                ..Esp32Meta::default()
            }));
            Ok(Record::Frame(f))
        }
        Some("vitals") => {
            let flags = rec.flags.ok_or("vitals record has no `flags`")?;
            Ok(aux(AuxBody::Vitals(EdgeVitals {
                flags,
                presence: flags & 1 != 0,
                fall: flags & 2 != 0,
                motion: flags & 4 != 0,
                breathing_bpm: rec
                    .breathing_bpm
                    .ok_or("vitals record has no `breathing_bpm`")?,
                heartrate_bpm: rec
                    .heartrate_bpm
                    .ok_or("vitals record has no `heartrate_bpm`")?,
                rssi: None,
                n_persons: rec.n_persons.ok_or("vitals record has no `n_persons`")?,
                motion_energy: rec
                    .motion_energy
                    .ok_or("vitals record has no `motion_energy`")?,
                presence_score: rec
                    .presence_score
                    .ok_or("vitals record has no `presence_score`")?,
                timestamp_ms: None,
            })))
        }
        Some("feature") => Ok(aux(AuxBody::Features(FeatureVector {
            seq: rec.seq.ok_or("feature record has no `seq`")?,
            timestamp_us: None,
            features: rec.features.ok_or("feature record has no `features`")?,
        }))),
        _ => {
            let magic = magic.ok_or("record has neither a known `type` nor a `magic`")?;
            if !is_family_magic(&magic.to_le_bytes()) {
                return Err(format!(
                    "magic 0x{magic:08X} is not an ADR-018 magic (0xC511xxxx)"
                ));
            }
            Ok(aux(AuxBody::Unknown(UnknownPacket {
                magic,
                size: rec.size.unwrap_or(0),
            })))
        }
    }
}

/// Probe: the first non-empty line is a JSON object with a `"magic"` key whose value starts
/// `"0xC511` (the ADR-018 family), whitespace around the colon allowed.
fn probe(prefix: &[u8]) -> Confidence {
    if !looks_like_text(prefix) {
        return 0;
    }
    let Some(line) = first_line(prefix) else {
        return 0;
    };
    if line.first() != Some(&b'{') {
        return 0;
    }
    let mut rest = line;
    while let Some(p) = find(rest, b"\"magic\"") {
        let mut after = trim_ws(&rest[p + 7..]);
        if let [b':', tail @ ..] = after {
            after = trim_ws(tail);
            if after.len() >= 7 && after[0] == b'"' && after[1..7].eq_ignore_ascii_case(b"0xc511") {
                return 95;
            }
        }
        rest = &rest[p + 7..];
    }
    0
}

fn trim_ws(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    s
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn open(input: Input, options: &ReaderOptions) -> Result<Box<dyn CaptureReader>> {
    Ok(Box::new(RuviewReader::new(input, options)))
}

/// Registry entry of the RuView JSONL format.
pub fn descriptor() -> FormatDescriptor {
    FormatDescriptor {
        format: FORMAT,
        description: "RuView JSONL recording (*.csi.jsonl: raw_csi, vitals and feature records)",
        extensions: &["jsonl"],
        probe,
        open,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::text::test_support::{assert_malformed, read_text};

    const RAW: &str = r#"{"timestamp": 1775182186.9577758, "node_id": 2, "magic": "0xC5110001", "size": 28, "rssi": 1, "type": "raw_csi", "iq_hex": "00000f030d03ff80", "subcarriers": 4}"#;
    const VITALS: &str = r#"{"timestamp": 1775182187.3520563, "node_id": 2, "magic": "0xC5110002", "size": 32, "rssi": -19, "type": "vitals", "flags": 5, "breathing_bpm": 22.42, "heartrate_bpm": 85.0, "n_persons": 4, "motion_energy": 4.856170177459717, "presence_score": 4.856170177459717}"#;
    const FEATURE: &str = r#"{"timestamp": 1775182187.352136, "node_id": 1, "magic": "0xC5110003", "size": 48, "rssi": -18, "type": "feature", "features": [0.5, 0.25, 0.75, 0.7083333134651184, 1.0, 1.0, 0.0, 0.81], "seq": 5337}"#;
    const UNTYPED: &str = r#"{"timestamp": 1775182197.3583624, "node_id": 1, "magic": "0xC5110005", "size": 104, "rssi": 0}"#;

    fn read_all(text: &str) -> Vec<Result<Record>> {
        read_text(RuviewReader::new, text)
    }

    #[test]
    fn every_record_kind() {
        let out = read_all(&format!("{RAW}\n{VITALS}\n\n{FEATURE}\n{UNTYPED}\n"));
        assert_eq!(out.len(), 4);
        let Ok(Record::Frame(f)) = &out[0] else {
            panic!("{:?}", out[0])
        };
        assert_eq!(f.shape(), (1, 1, 4));
        assert_eq!(f.csi[[0, 0, 1]], Complex32::new(3.0, 15.0));
        assert_eq!(f.csi[[0, 0, 3]], Complex32::new(-128.0, -1.0));
        assert_eq!(f.node_id, 2);
        assert_eq!(f.rssi_dbm, None);
        assert_eq!(f.clock, Clock::Host);
        assert!(
            (f.timestamp_ns - 1_775_182_186_957_775_800).abs() < 200,
            "{}",
            f.timestamp_ns
        );
        let FormatMeta::Esp32(m) = &f.meta else {
            panic!()
        };
        assert_eq!(
            (m.magic, m.size, m.jsonl_rssi, m.line),
            (Some(0xC511_0001), Some(28), Some(1), Some(1))
        );

        let Ok(Record::Aux(a)) = &out[1] else {
            panic!()
        };
        let AuxBody::Vitals(v) = &a.body else {
            panic!()
        };
        assert!(v.presence && !v.fall && v.motion);
        assert_eq!(
            (v.breathing_bpm, v.heartrate_bpm, v.n_persons, v.rssi),
            (22.42, 85.0, 4, None)
        );
        assert_eq!(v.motion_energy, 4.856_170_177_459_717_f64 as f32);
        assert_eq!(a.node_id, Some(2));

        let Ok(Record::Aux(a)) = &out[2] else {
            panic!()
        };
        let AuxBody::Features(fv) = &a.body else {
            panic!()
        };
        assert_eq!(fv.seq, 5337);
        assert_eq!(fv.features[1], 0.25);

        let Ok(Record::Aux(a)) = &out[3] else {
            panic!()
        };
        assert_eq!(
            a.body,
            AuxBody::Unknown(UnknownPacket {
                magic: 0xC511_0005,
                size: 104
            })
        );
    }

    #[test]
    fn bad_records_are_malformed_with_line() {
        const TS: &str = "\"timestamp\": 1775182186.9577758, ";
        const SC: &str = "\"subcarriers\": 4";
        // (record, text replaced in it, replacement, what the reason says)
        let edits = [
            (RAW, "ff80", "ff8", "hex digits"),
            (RAW, "ff80", "ffzz", "not hex"),
            (RAW, SC, "\"subcarriers\": 0", "= 0"),
            (RAW, SC, "\"subcarriers\": 99999999", "limit"),
            (RAW, ", \"subcarriers\": 4", "", "no `subcarriers`"),
            (RAW, TS, "", "no `timestamp`"),
            (RAW, "1775182186.9577758", "1e300", "Unix time"),
            (RAW, "0xC5110001", "C5110001", "magic"),
            (RAW, "\"node_id\": 2", "\"node_id\": -2", "JSON"),
            (VITALS, "\"flags\": 5, ", "", "no `flags`"),
            (FEATURE, ", 0.81]", "]", "JSON"),
            (UNTYPED, "\"magic\": \"0xC5110005\", ", "", "neither"),
            (UNTYPED, "0xC5110005", "0xDEADBEEF", "not an ADR-018 magic"),
            (RAW, "0xC5110001", "0xC5110002", "needs magic 0xC5110001"),
            (VITALS, "0xC5110002", "0xC5110003", "needs magic 0xC5110002"),
        ];
        let cases = edits
            .iter()
            .map(|(rec, from, to, want)| {
                assert!(rec.contains(from), "{from}");
                (rec.replace(from, to), *want)
            })
            .chain([
                (RAW[..40].to_string(), "JSON"),
                ("[1, 2]".to_string(), "JSON"),
            ]);
        for (text, want) in cases {
            let out = read_all(&format!("{RAW}\n{text}\n{RAW}"));
            assert_eq!(out.len(), 3, "{text}");
            assert_malformed(&out[1], RAW.len() as u64 + 1, 2, want, &text);
            assert!(out[2].is_ok());
        }
    }

    #[test]
    fn seconds_to_ns_is_precise() {
        assert_eq!(seconds_to_ns(1.5).unwrap(), 1_500_000_000);
        assert_eq!(seconds_to_ns(-1.25).unwrap(), -1_250_000_000);
        let t = 1_775_182_186.957_775_8_f64;
        let ns = seconds_to_ns(t).unwrap();
        assert!((ns - 1_775_182_186_957_775_800).abs() < 200);
        assert!(seconds_to_ns(f64::NAN).is_err());
    }

    #[test]
    fn probe_scores() {
        assert_eq!(probe(RAW.as_bytes()), 95);
        assert_eq!(probe(br#"{"magic":"0xc5110002"}"#), 95);
        assert_eq!(probe(br#"{"id": 1, "magic": "0x12345678"}"#), 0);
        assert_eq!(probe(b"CSI_DATA,AP,\n"), 0);
        assert_eq!(probe(b"\n\n  "), 0);
        assert_eq!(probe(b"{\"magic\""), 0);
    }
}
