//! The JSON Lines record schema (version [`SCHEMA_VERSION`]), a public contract.
//!
//! Every line is one JSON object with `"schema": 1` and a `"type"`. The full schema is
//! `docs/schema/record-v1.json` in the repository. In short:
//!
//! * `"type": "frame"` — one CSI frame: `timestamp_ns`, `clock` (`host`, `device`, `simulated`,
//!   `none`), `node_id`, `mac` (`"aa:bb:cc:dd:ee:ff"` or null), `sequence`, `rssi_dbm`,
//!   `chain_rssi`, `noise_floor_dbm`, `channel`, `center_freq_mhz`, `bandwidth_mhz`, `format`,
//!   `device`, `shape` `[rx, tx, subcarriers]`, `subcarriers` (indices or null), `csi_re` and
//!   `csi_im`: the real and imaginary parts flattened **row-major over `[rx][tx][subcarrier]`**
//!   (value `(r, t, s)` is at `(r * tx + t) * subcarriers + s`), and `meta`: format-specific fields
//!   as `{"<format>": {...}}` or `"none"`.
//! * a non-CSI record — `type` is its kind (`vitals`, `features`, `fused_vitals`, `wasm_output`,
//!   `compressed_csi`, `feature_state`, `unknown_packet`) with `timestamp_ns`, `clock`, `format`,
//!   `node_id` and `data`.
//! * an analysis — `type` is the analyser's kind, with `analyser`, `timestamp_ns`, `node_id`, `data`.
//!
//! Floats are written in shortest round-trip form, so finite values read back bit-identical.
//! JSON has no NaN or infinity: a non-finite CSI or per-chain RSSI value is written as `null` and
//! read back as NaN; a non-finite `rssi_dbm` / `noise_floor_dbm` is written as `null` and read
//! back as absent. No supported capture format produces non-finite values.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::frame::{CaptureFormat, Clock, CsiFrame, Device, FormatMeta};
use crate::pipeline::Output;

/// Version of the record schema written by this crate.
pub const SCHEMA_VERSION: u32 = 1;

/// The JSON form of a frame (schema version 1).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FrameLine {
    /// Always [`SCHEMA_VERSION`].
    pub schema: u32,
    /// Always `"frame"`.
    #[serde(rename = "type")]
    pub kind: String,
    /// See [`CsiFrame::timestamp_ns`].
    pub timestamp_ns: i64,
    /// See [`CsiFrame::clock`].
    pub clock: Clock,
    /// See [`CsiFrame::node_id`].
    pub node_id: u32,
    /// MAC as `aa:bb:cc:dd:ee:ff`.
    pub mac: Option<String>,
    /// See [`CsiFrame::sequence`].
    pub sequence: Option<u32>,
    /// See [`CsiFrame::rssi_dbm`].
    pub rssi_dbm: Option<f32>,
    /// See [`CsiFrame::chain_rssi`]. Non-finite values are written as `null` and read as NaN.
    #[serde(deserialize_with = "floats_or_nan")]
    pub chain_rssi: Vec<f32>,
    /// See [`CsiFrame::noise_floor_dbm`].
    pub noise_floor_dbm: Option<f32>,
    /// See [`CsiFrame::channel`].
    pub channel: Option<u16>,
    /// See [`CsiFrame::center_freq_mhz`].
    pub center_freq_mhz: Option<u32>,
    /// See [`CsiFrame::bandwidth_mhz`].
    pub bandwidth_mhz: Option<u16>,
    /// See [`CsiFrame::format`].
    pub format: CaptureFormat,
    /// See [`CsiFrame::device`].
    pub device: Device,
    /// `[rx, tx, subcarriers]`.
    pub shape: [usize; 3],
    /// See [`CsiFrame::subcarriers`].
    pub subcarriers: Option<Vec<i16>>,
    /// Real parts, row-major over `[rx][tx][subcarrier]`. Non-finite values are written as
    /// `null` (JSON has no NaN or infinity) and read back as NaN.
    #[serde(deserialize_with = "floats_or_nan")]
    pub csi_re: Vec<f32>,
    /// Imaginary parts, same order and same rule for non-finite values.
    #[serde(deserialize_with = "floats_or_nan")]
    pub csi_im: Vec<f32>,
    /// See [`CsiFrame::meta`].
    pub meta: FormatMeta,
}

/// Reads an array of numbers in which `null` stands for a non-finite value (NaN).
fn floats_or_nan<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Vec<f32>, D::Error> {
    let v: Vec<Option<f32>> = Vec::deserialize(d)?;
    Ok(v.into_iter().map(|x| x.unwrap_or(f32::NAN)).collect())
}

/// Formats a MAC address as lower-case hex with colons.
pub fn mac_to_string(m: &[u8; 6]) -> String {
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        m[0], m[1], m[2], m[3], m[4], m[5]
    )
}

/// Parses `aa:bb:cc:dd:ee:ff` (either case).
pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let mut out = [0u8; 6];
    let mut parts = s.split(':');
    for o in &mut out {
        *o = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(out)
}

impl FrameLine {
    /// The JSON form of a frame.
    pub fn from_frame(f: &CsiFrame) -> Self {
        let (r, t, s) = f.shape();
        let mut re = Vec::with_capacity(f.csi.len());
        let mut im = Vec::with_capacity(f.csi.len());
        for c in f.csi.iter() {
            re.push(c.re);
            im.push(c.im);
        }
        FrameLine {
            schema: SCHEMA_VERSION,
            kind: "frame".into(),
            timestamp_ns: f.timestamp_ns,
            clock: f.clock,
            node_id: f.node_id,
            mac: f.mac.as_ref().map(mac_to_string),
            sequence: f.sequence,
            rssi_dbm: f.rssi_dbm,
            chain_rssi: f.chain_rssi.clone(),
            noise_floor_dbm: f.noise_floor_dbm,
            channel: f.channel,
            center_freq_mhz: f.center_freq_mhz,
            bandwidth_mhz: f.bandwidth_mhz,
            format: f.format,
            device: f.device,
            shape: [r, t, s],
            subcarriers: f.subcarriers.clone(),
            csi_re: re,
            csi_im: im,
            meta: f.meta.clone(),
        }
    }

    /// Back to a frame (exact inverse of [`FrameLine::from_frame`]).
    ///
    /// The fields must agree with each other as every reader's frames do: `csi_re` and `csi_im`
    /// each hold `rx · tx · subcarriers` values of `shape`, and `subcarriers`, when not null, has
    /// one index per CSI column (`shape[2]`). `chain_rssi` has no fixed length (a format may
    /// report every chain of the NIC, e.g. Intel 5300's three, whatever `rx` is), so it is not
    /// checked.
    pub fn into_frame(self) -> Result<CsiFrame> {
        let [r, t, s] = self.shape;
        let n = r.checked_mul(t).and_then(|x| x.checked_mul(s));
        if n != Some(self.csi_re.len()) || self.csi_re.len() != self.csi_im.len() {
            return Err(Error::Encode(format!(
                "frame line: shape {:?} does not match {} / {} values",
                self.shape,
                self.csi_re.len(),
                self.csi_im.len()
            )));
        }
        if let Some(sc) = &self.subcarriers {
            if sc.len() != s {
                return Err(Error::Encode(format!(
                    "frame line: {} subcarrier indices for shape {:?} ({s} CSI columns)",
                    sc.len(),
                    self.shape
                )));
            }
        }
        let data = self
            .csi_re
            .iter()
            .zip(&self.csi_im)
            .map(|(&a, &b)| num_complex::Complex32::new(a, b))
            .collect();
        let csi = ndarray::Array3::from_shape_vec((r, t, s), data)
            .map_err(|e| Error::Encode(e.to_string()))?;
        let mac = match &self.mac {
            Some(m) => Some(parse_mac(m).ok_or_else(|| Error::Encode(format!("bad MAC {m}")))?),
            None => None,
        };
        Ok(CsiFrame {
            timestamp_ns: self.timestamp_ns,
            clock: self.clock,
            node_id: self.node_id,
            mac,
            sequence: self.sequence,
            rssi_dbm: self.rssi_dbm,
            chain_rssi: self.chain_rssi,
            noise_floor_dbm: self.noise_floor_dbm,
            channel: self.channel,
            center_freq_mhz: self.center_freq_mhz,
            bandwidth_mhz: self.bandwidth_mhz,
            format: self.format,
            device: self.device,
            subcarriers: self.subcarriers,
            csi,
            meta: self.meta,
        })
    }
}

fn enc(e: serde_json::Error) -> Error {
    Error::Encode(e.to_string())
}

/// Serialises one output as a JSON object (no trailing newline) into `out`.
pub fn write_output(out: &mut Vec<u8>, item: &Output) -> Result<()> {
    match item {
        Output::Frame(f) => serde_json::to_writer(out, &FrameLine::from_frame(f)).map_err(enc),
        // written straight from the typed body, keys in the envelope's order
        Output::Aux(a) => write_aux(out, a, a.body.data()),
        Output::Analysis(x) => {
            #[derive(Serialize)]
            struct Line<'a> {
                schema: u32,
                #[serde(rename = "type")]
                kind: &'a str,
                analyser: &'a str,
                timestamp_ns: i64,
                node_id: Option<u32>,
                data: &'a dyn crate::pipeline::AnalysisValue,
            }
            let line = Line {
                schema: SCHEMA_VERSION,
                kind: &x.kind,
                analyser: &x.analyser,
                timestamp_ns: x.timestamp_ns,
                node_id: x.node_id,
                data: &*x.value,
            };
            serde_json::to_writer(out, &line).map_err(enc)
        }
    }
}

/// Writes a non-CSI record line: `schema`, `type`, `timestamp_ns`, `clock`, `format`, `node_id`,
/// then `data`.
fn write_aux(
    out: &mut Vec<u8>,
    a: &crate::AuxRecord,
    data: &dyn crate::AnalysisValue,
) -> Result<()> {
    #[derive(Serialize)]
    struct Line<'a> {
        schema: u32,
        #[serde(rename = "type")]
        kind: &'a str,
        timestamp_ns: i64,
        clock: Clock,
        format: CaptureFormat,
        node_id: Option<u32>,
        data: &'a dyn crate::AnalysisValue,
    }
    let line = Line {
        schema: SCHEMA_VERSION,
        kind: a.body.kind(),
        timestamp_ns: a.timestamp_ns,
        clock: a.clock,
        format: a.format,
        node_id: a.node_id,
        data,
    };
    serde_json::to_writer(out, &line).map_err(enc)
}

/// Serialises one output as a `serde_json::Value`.
pub fn to_value(item: &Output) -> Result<Value> {
    let mut b = Vec::new();
    write_output(&mut b, item)?;
    serde_json::from_slice(&b).map_err(enc)
}

/// Reads this family's JSON Lines records back: frame lines become frames, non-CSI record lines
/// become [`AuxRecord`](crate::AuxRecord)s, so `run | jq select(...) | convert - -o x.csirec`
/// works. Analysis lines (records with an `analyser` key, such as `event` or `vital_signs`) are
/// results, not capture data: they are passed over and counted
/// ([`CaptureReader::passed_over`](crate::CaptureReader::passed_over)), so the output of
/// `run --events` reads back as a capture. Lines of another schema version, or that do not
/// parse, are reported as recoverable [`Error::Malformed`] records with their line numbers.
pub struct JsonLinesReader {
    lines: crate::formats::text::LineReader,
    passed_over: u64,
}

impl std::fmt::Debug for JsonLinesReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonLinesReader").finish_non_exhaustive()
    }
}

/// The common keys of a non-CSI record line.
#[derive(Deserialize)]
struct AuxLine {
    timestamp_ns: i64,
    clock: Clock,
    format: CaptureFormat,
    node_id: Option<u32>,
    data: Value,
}

impl JsonLinesReader {
    /// A reader over `input` with the limits of `options`.
    pub fn new(input: crate::Input, options: &crate::ReaderOptions) -> Self {
        JsonLinesReader {
            lines: crate::formats::text::LineReader::new(
                input,
                CaptureFormat::JsonLines,
                options.limits.max_record_bytes,
            ),
            passed_over: 0,
        }
    }

    /// The record of one line; `Ok(None)` for an analysis line (passed over).
    fn parse(line: &[u8]) -> std::result::Result<Option<crate::Record>, String> {
        use crate::formats::adr018;
        use crate::record::{AuxBody, AuxRecord, Record};
        let v: Value = serde_json::from_slice(line).map_err(|e| format!("not JSON: {e}"))?;
        match v.get("schema").and_then(Value::as_u64) {
            Some(n) if n == u64::from(SCHEMA_VERSION) => {}
            Some(n) => {
                return Err(format!(
                    "schema version {n} (this reader reads {SCHEMA_VERSION})"
                ))
            }
            None => return Err("no \"schema\" key: not a wifi-sensing record".into()),
        }
        let kind = v
            .get("type")
            .and_then(Value::as_str)
            .ok_or("no \"type\" key")?
            .to_string();
        let body = |v: Value| -> std::result::Result<(AuxLine, Value), String> {
            let a: AuxLine =
                serde_json::from_value(v).map_err(|e| format!("{kind} record: {e}"))?;
            let data = a.data.clone();
            Ok((a, data))
        };
        fn de<T: serde::de::DeserializeOwned>(
            kind: &str,
            d: Value,
        ) -> std::result::Result<T, String> {
            serde_json::from_value(d).map_err(|e| format!("{kind} data: {e}"))
        }
        let aux = |a: AuxLine, b: AuxBody| {
            Ok(Record::Aux(AuxRecord {
                timestamp_ns: a.timestamp_ns,
                clock: a.clock,
                format: a.format,
                node_id: a.node_id,
                body: b,
            }))
        };
        if v.get("analyser").is_some() {
            return Ok(None);
        }
        let record = match kind.as_str() {
            "frame" => {
                let fl: FrameLine =
                    serde_json::from_value(v).map_err(|e| format!("frame record: {e}"))?;
                fl.into_frame()
                    .map(Record::Frame)
                    .map_err(|e| e.to_string())
            }
            "vitals" => {
                let (a, d) = body(v)?;
                aux(a, AuxBody::Vitals(de::<adr018::EdgeVitals>(&kind, d)?))
            }
            "features" => {
                let (a, d) = body(v)?;
                aux(a, AuxBody::Features(de::<adr018::FeatureVector>(&kind, d)?))
            }
            "fused_vitals" => {
                let (a, d) = body(v)?;
                aux(
                    a,
                    AuxBody::FusedVitals(de::<adr018::FusedVitals>(&kind, d)?),
                )
            }
            "wasm_output" => {
                let (a, d) = body(v)?;
                aux(a, AuxBody::WasmOutput(de::<adr018::WasmOutput>(&kind, d)?))
            }
            "compressed_csi" => {
                let (a, d) = body(v)?;
                aux(
                    a,
                    AuxBody::CompressedCsi(de::<adr018::CompressedCsi>(&kind, d)?),
                )
            }
            "feature_state" => {
                let (a, d) = body(v)?;
                aux(
                    a,
                    AuxBody::FeatureState(de::<adr018::FeatureState>(&kind, d)?),
                )
            }
            "unknown_packet" => {
                let (a, d) = body(v)?;
                aux(a, AuxBody::Unknown(de::<adr018::UnknownPacket>(&kind, d)?))
            }
            other => Err(format!("unknown record type {other:?}")),
        };
        record.map(Some)
    }
}

impl crate::CaptureReader for JsonLinesReader {
    fn format(&self) -> CaptureFormat {
        CaptureFormat::JsonLines
    }

    fn next_record(&mut self) -> Option<Result<crate::Record>> {
        let passed_over = &mut self.passed_over;
        self.lines.next_record(|line, _| match Self::parse(line) {
            Ok(Some(r)) => Some(Ok(r)),
            Ok(None) => {
                *passed_over += 1;
                None
            }
            Err(e) => Some(Err(e)),
        })
    }

    fn passed_over(&self) -> u64 {
        self.passed_over
    }

    fn position(&self) -> u64 {
        self.lines.position()
    }
}

fn probe(prefix: &[u8]) -> crate::reader::Confidence {
    let Some(first) = crate::formats::text::first_line(prefix) else {
        return 0;
    };
    if first.first() != Some(&b'{') {
        return 0;
    }
    // As written by this crate: the schema key first.
    if first.starts_with(b"{\"schema\":") {
        return 100;
    }
    // Reformatted (e.g. `jq -S`): keys in another order, maybe with spaces. A complete first line
    // is parsed; a line longer than the prefix is recognised by keys only this schema has.
    if let Ok(v) = serde_json::from_slice::<Value>(first) {
        return match (v.get("schema").and_then(Value::as_u64), v.get("type")) {
            (Some(_), Some(Value::String(_))) => 95,
            _ => 0,
        };
    }
    let has = |k: &[u8]| first.windows(k.len()).any(|w| w == k);
    if has(b"\"csi_im\"") && has(b"\"csi_re\"") && has(b"\"chain_rssi\"") {
        80
    } else {
        0
    }
}

fn open(
    input: crate::Input,
    options: &crate::ReaderOptions,
) -> Result<Box<dyn crate::CaptureReader>> {
    Ok(Box::new(JsonLinesReader::new(input, options)))
}

/// Registry entry of this family's JSON Lines records.
pub fn descriptor() -> crate::FormatDescriptor {
    crate::FormatDescriptor {
        format: CaptureFormat::JsonLines,
        description:
            "wifi-sensing JSON Lines records (schema 1, as `wifi-sensing run` prints them)",
        extensions: &["jsonl"],
        probe,
        open,
    }
}
