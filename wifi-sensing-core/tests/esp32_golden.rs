//! Golden tests of the ESP32 text readers: ESP32-CSI-Tool CSV, esp-csi CSV and RuView JSONL.
//!
//! Every frame of every golden file is compared value by value (exact: the formats hold
//! integers), with every header field the golden lines carry. Fixture tests run by default; the
//! full-kit tests are `#[ignore]`d and run with `--include-ignored` (they need the capture kit).

mod common;

use std::collections::BTreeMap;
use std::io::Cursor;
use std::path::Path;

use serde_json::Value;
use wifi_sensing_core::formats::esp32::{format_mac, LLTF_SUBCARRIERS};
use wifi_sensing_core::{
    AuxBody, CaptureFormat, Clock, CsiFrame, Device, Error, FormatMeta, Record, Registry,
};

use common::{assert_csi_matches, fixtures, kit, kit_golden_pairs, load_golden, Golden};

/// Everything a reader produced from one file, in order.
struct Run {
    format: CaptureFormat,
    items: Vec<Result<Record, Error>>,
}

impl Run {
    fn frames(&self) -> Vec<&CsiFrame> {
        self.items
            .iter()
            .filter_map(|r| match r {
                Ok(Record::Frame(f)) => Some(f),
                _ => None,
            })
            .collect()
    }
}

/// Opens `path` with format detection (extension hint included) and reads every record.
fn read(path: &Path) -> Run {
    let mut cap = Registry::builtin()
        .open_path(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let format = cap.format();
    let items: Vec<_> = cap.records().collect();
    for r in &items {
        if let Err(e) = r {
            assert!(e.is_recoverable(), "{}: fatal error {e}", path.display());
        }
    }
    Run { format, items }
}

/// Byte offset of the start of each 1-based line of a file.
fn line_offsets(bytes: &[u8]) -> Vec<u64> {
    let mut v = vec![0u64, 0];
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'\n' {
            v.push(i as u64 + 1);
        }
    }
    v
}

/// The f64 `t` seconds as the exactly rounded number of nanoseconds (independent of the
/// reader's method: exact integer arithmetic on the binary value).
fn exact_ns(t: f64) -> i64 {
    assert!(t > 0.0 && t.is_finite());
    let bits = t.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i32 - 1075;
    let mant = i128::from((bits & ((1u64 << 52) - 1)) | (1u64 << 52));
    let scaled = mant * 1_000_000_000;
    let v = if exp >= 0 {
        scaled << exp
    } else {
        let sh = -exp;
        (scaled + (1i128 << (sh - 1))) >> sh
    };
    v as i64
}

fn meta(f: &CsiFrame) -> &wifi_sensing_core::formats::esp32::Esp32Meta {
    match &f.meta {
        FormatMeta::Esp32(m) => m,
        other => panic!("expected Esp32 meta, got {other:?}"),
    }
}

/// Compares every key of a golden frame line with the frame: the keys that map onto
/// `CsiFrame` fields explicitly, every other key with the meta field of the same name.
fn check_fields(f: &CsiFrame, g: &Value, what: &str) {
    let m = meta(f);
    let mj = serde_json::to_value(m).unwrap();
    let obj = g.as_object().expect("golden line is an object");
    for (k, v) in obj {
        let ctx = format!("{what}: field {k}");
        match k.as_str() {
            "csi" => {}
            "_line" => assert_eq!(m.line, v.as_u64(), "{ctx}"),
            "_columns" => {
                let want = match v.as_str().unwrap() {
                    "esp32" => Device::Esp32,
                    "esp32c5c6" => Device::Esp32C5C6,
                    other => panic!("{ctx}: unknown column set {other}"),
                };
                assert_eq!(f.device, want, "{ctx}");
            }
            "type" => assert_eq!(m.record_type.as_deref(), v.as_str(), "{ctx}"),
            "mac" => {
                let mac = f.mac.expect("frame has a MAC");
                assert!(
                    format_mac(&mac).eq_ignore_ascii_case(v.as_str().unwrap()),
                    "{ctx}"
                );
            }
            "rssi" if f.format == CaptureFormat::RuviewJsonl => {
                assert_eq!(m.jsonl_rssi.map(i64::from), v.as_i64(), "{ctx}");
                assert_eq!(
                    f.rssi_dbm, None,
                    "{ctx}: the JSONL rssi must not become rssi_dbm"
                );
            }
            "rssi" => assert_eq!(f.rssi_dbm, Some(v.as_i64().unwrap() as f32), "{ctx}"),
            "noise_floor" => {
                assert_eq!(f.noise_floor_dbm, Some(v.as_i64().unwrap() as f32), "{ctx}")
            }
            "channel" => {
                // the primary channel; the centre of a 40 MHz frame is 10 MHz above or below it
                let ch = v.as_u64().unwrap() as u16;
                assert_eq!(f.channel, Some(ch), "{ctx}");
                let primary = wifi_sensing_core::frame::channel_to_freq_mhz(ch).unwrap();
                let want = match (
                    g.get("bandwidth").and_then(Value::as_i64),
                    g.get("secondary_channel").and_then(Value::as_i64),
                ) {
                    (Some(1), Some(1)) => primary + 10,
                    (Some(1), Some(2)) => primary - 10,
                    (Some(1), other) => panic!("{ctx}: 40 MHz with secondary {other:?}"),
                    _ => primary,
                };
                assert_eq!(f.center_freq_mhz, Some(want), "{ctx}");
            }
            "first_word" => assert_eq!(m.first_word_invalid.map(i64::from), v.as_i64(), "{ctx}"),
            "id" | "seq" => {
                assert_eq!(m.id.map(u64::from), v.as_u64(), "{ctx}");
                assert_eq!(f.sequence.map(u64::from), v.as_u64(), "{ctx}");
            }
            "local_timestamp" => {
                assert_eq!(m.local_timestamp, v.as_i64(), "{ctx}");
                assert_eq!(f.timestamp_ns, v.as_i64().unwrap() * 1000, "{ctx}");
                assert_eq!(f.clock, Clock::Device, "{ctx}");
            }
            "bandwidth" => {
                assert_eq!(m.bandwidth.map(i64::from), v.as_i64(), "{ctx}");
                let want = match v.as_i64().unwrap() {
                    0 => Some(20),
                    1 => Some(40),
                    _ => None,
                };
                assert_eq!(f.bandwidth_mhz, want, "{ctx}");
            }
            "timestamp" => {
                assert_eq!(f.timestamp_ns, exact_ns(v.as_f64().unwrap()), "{ctx}");
                assert_eq!(f.clock, Clock::Host, "{ctx}");
            }
            "node_id" => assert_eq!(u64::from(f.node_id), v.as_u64().unwrap(), "{ctx}"),
            "magic" => {
                let s = v.as_str().unwrap();
                let want = u32::from_str_radix(s.trim_start_matches("0x"), 16).unwrap();
                assert_eq!(m.magic, Some(want), "{ctx}");
            }
            "subcarriers" => assert_eq!(f.n_subcarriers() as u64, v.as_u64().unwrap(), "{ctx}"),
            _ => {
                let got = mj
                    .get(k.as_str())
                    .unwrap_or_else(|| panic!("{ctx}: not in Esp32Meta"));
                assert_eq!(got, v, "{ctx}");
            }
        }
    }
    // Subcarrier indices: known only for 64 LLTF pairs without a secondary channel.
    let lltf = f.device == Device::Esp32
        && f.format != CaptureFormat::RuviewJsonl
        && f.n_subcarriers() == 64
        && m.secondary_channel == Some(0);
    if lltf {
        assert_eq!(
            f.subcarriers.as_deref(),
            Some(&LLTF_SUBCARRIERS[..]),
            "{what}: subcarriers"
        );
    } else {
        assert_eq!(f.subcarriers, None, "{what}: subcarriers");
    }
}

/// Checks an ESP32-CSI-Tool or esp-csi CSV file against its golden file.
fn check_csv(capture: &Path, golden: &Golden, want_format: CaptureFormat) -> usize {
    let name = capture.display().to_string();
    let run = read(capture);
    assert_eq!(run.format, want_format, "{name}: detected format");
    let frames = run.frames();
    assert_eq!(
        golden.frames.len() as u64,
        golden.header["frames"].as_u64().unwrap(),
        "{name}: golden"
    );
    assert_eq!(frames.len(), golden.frames.len(), "{name}: frame count");
    for (i, (f, g)) in frames.iter().zip(&golden.frames).enumerate() {
        let what = format!("{name} frame {i}");
        assert_eq!(f.format, want_format, "{what}");
        assert_csi_matches(f, g, 0.0, &what);
        check_fields(f, g, &what);
    }

    // Malformed lines: exactly the golden `skipped_lines`, each with its line's byte offset.
    let bytes = std::fs::read(capture).unwrap();
    let offsets = line_offsets(&bytes);
    let mut bad = Vec::new();
    for r in &run.items {
        if let Err(Error::Malformed { offset, line, .. }) = r {
            let line = line.expect("malformed CSV line has a line number");
            assert_eq!(
                *offset, offsets[line as usize],
                "{name}: offset of malformed line {line}"
            );
            bad.push(line);
        }
    }
    let want_bad: Vec<u64> = golden.header["skipped_lines"]
        .as_array()
        .map(|a| a.iter().map(|s| s["line"].as_u64().unwrap()).collect())
        .unwrap_or_default();
    assert_eq!(bad, want_bad, "{name}: malformed lines");

    // The header line (D9) is skipped silently: no frame and no error for it.
    if let Some(h) = golden.header["header_line"].as_u64() {
        let o = offsets[h as usize] as usize;
        assert!(bytes[o..].starts_with(b"type,"), "{name}: header line {h}");
        assert!(frames.iter().all(|f| meta(f).line != Some(h)));
        assert!(!bad.contains(&h));
    }
    frames.len()
}

/// Checks a RuView JSONL file against its golden file, zipping every record with the raw
/// line it came from (aux records are compared field by field with the raw JSON).
/// Returns (frames, per-node record counts, aux counts by kind).
fn check_ruview(
    capture: &Path,
    golden: &Golden,
) -> (usize, BTreeMap<u32, u64>, BTreeMap<&'static str, u64>) {
    let name = capture.display().to_string();
    let run = read(capture);
    assert_eq!(
        run.format,
        CaptureFormat::RuviewJsonl,
        "{name}: detected format"
    );
    let text = std::fs::read_to_string(capture).unwrap();
    let raw: Vec<Value> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(run.items.len(), raw.len(), "{name}: one record per line");

    let mut per_node: BTreeMap<u32, u64> = BTreeMap::new();
    let mut aux: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut golden_iter = golden.frames.iter();
    let mut n_frames = 0;
    for (i, (item, r)) in run.items.iter().zip(&raw).enumerate() {
        let what = format!("{name} line {}", i + 1);
        let rec = item.as_ref().unwrap_or_else(|e| panic!("{what}: {e}"));
        match rec {
            Record::Frame(f) => {
                assert_eq!(r["type"], "raw_csi", "{what}");
                let g = golden_iter
                    .next()
                    .unwrap_or_else(|| panic!("{what}: more frames than the golden file"));
                assert_csi_matches(f, g, 0.0, &what);
                check_fields(f, g, &what);
                assert_eq!(meta(f).line, Some(i as u64 + 1), "{what}");
                *per_node.entry(f.node_id).or_default() += 1;
                n_frames += 1;
            }
            Record::Aux(a) => {
                assert_eq!(a.format, CaptureFormat::RuviewJsonl);
                assert_eq!(a.clock, Clock::Host);
                assert_eq!(
                    a.timestamp_ns,
                    exact_ns(r["timestamp"].as_f64().unwrap()),
                    "{what}"
                );
                assert_eq!(a.node_id.map(u64::from), r["node_id"].as_u64(), "{what}");
                *per_node.entry(a.node_id.unwrap()).or_default() += 1;
                match &a.body {
                    AuxBody::Vitals(v) => {
                        assert_eq!(r["type"], "vitals", "{what}");
                        let flags = r["flags"].as_u64().unwrap();
                        assert_eq!(u64::from(v.flags), flags, "{what}");
                        assert_eq!(
                            (v.presence, v.fall, v.motion),
                            (flags & 1 != 0, flags & 2 != 0, flags & 4 != 0)
                        );
                        assert_eq!(
                            v.breathing_bpm,
                            r["breathing_bpm"].as_f64().unwrap(),
                            "{what}"
                        );
                        assert_eq!(
                            v.heartrate_bpm,
                            r["heartrate_bpm"].as_f64().unwrap(),
                            "{what}"
                        );
                        assert_eq!(
                            u64::from(v.n_persons),
                            r["n_persons"].as_u64().unwrap(),
                            "{what}"
                        );
                        assert_eq!(
                            v.motion_energy,
                            r["motion_energy"].as_f64().unwrap() as f32,
                            "{what}"
                        );
                        assert_eq!(
                            v.presence_score,
                            r["presence_score"].as_f64().unwrap() as f32,
                            "{what}"
                        );
                        assert_eq!(v.rssi, None, "{what}: JSONL rssi is not trusted");
                        *aux.entry("vitals").or_default() += 1;
                    }
                    AuxBody::Features(fv) => {
                        assert_eq!(r["type"], "feature", "{what}");
                        assert_eq!(u64::from(fv.seq), r["seq"].as_u64().unwrap(), "{what}");
                        let want: Vec<f32> = r["features"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|x| x.as_f64().unwrap() as f32)
                            .collect();
                        assert_eq!(fv.features.to_vec(), want, "{what}");
                        *aux.entry("feature").or_default() += 1;
                    }
                    AuxBody::Unknown(u) => {
                        assert!(r.get("type").is_none(), "{what}");
                        let magic = u32::from_str_radix(
                            r["magic"].as_str().unwrap().trim_start_matches("0x"),
                            16,
                        )
                        .unwrap();
                        assert_eq!(
                            (u.magic, u64::from(u.size)),
                            (magic, r["size"].as_u64().unwrap()),
                            "{what}"
                        );
                        *aux.entry("unknown").or_default() += 1;
                    }
                    other => panic!("{what}: unexpected aux body {other:?}"),
                }
            }
        }
    }
    assert!(
        golden_iter.next().is_none(),
        "{name}: fewer frames than the golden file"
    );
    (n_frames, per_node, aux)
}

// ---------------------------------------------------------------- fixtures (run by default)

/// Checks the CSV fixture `esp32/<name>` against its golden file; returns the golden file and the
/// number of frames compared.
fn check_csv_fixture(name: &str, want_format: CaptureFormat) -> (Golden, usize) {
    let dir = fixtures().join("esp32");
    let g = load_golden(&dir.join(format!("{name}.jsonl")));
    let n = check_csv(&dir.join(name), &g, want_format);
    (g, n)
}

#[test]
fn fixture_example_csi_headerless() {
    let (_, n) = check_csv_fixture("example_csi.csv", CaptureFormat::Esp32Csv);
    assert_eq!(n, 13);
}

#[test]
fn fixture_example_100hz_with_header_and_malformed_line() {
    let (g, n) = check_csv_fixture("example_100hz_pitraffic.csv", CaptureFormat::Esp32Csv);
    assert_eq!(n, 833);
    assert_eq!(g.header["skipped_lines"][0]["line"], 19);
}

#[test]
fn fixture_espcsi_both_column_sets() {
    let (_, n) = check_csv_fixture("get-started_README_lines.csv", CaptureFormat::EspCsiCsv);
    assert_eq!(n, 2);
    let run = read(&fixtures().join("esp32/get-started_README_lines.csv"));
    let devices: Vec<Device> = run.frames().iter().map(|f| f.device).collect();
    assert_eq!(devices, vec![Device::Esp32, Device::Esp32C5C6]);
}

#[test]
fn fixture_ruview_first_300_lines() {
    let dir = fixtures().join("ruview_esp32");
    let g = load_golden(&dir.join("pretrain-1775182186_first300.csi.jsonl.jsonl"));
    let (frames, per_node, aux) =
        check_ruview(&dir.join("pretrain-1775182186_first300.csi.jsonl"), &g);
    assert_eq!(frames, g.frames.len());
    assert_eq!(frames, 276);
    // counted independently with grep on the fixture
    assert_eq!(aux.get("vitals"), Some(&12));
    assert_eq!(aux.get("feature"), Some(&12));
    assert_eq!(per_node.values().sum::<u64>(), 300);
}

/// Each probe claims only its own files, with and without the extension hint.
#[test]
fn probes_do_not_claim_each_others_files() {
    let reg = Registry::builtin();
    let cases = [
        (
            fixtures().join("esp32/example_csi.csv"),
            CaptureFormat::Esp32Csv,
        ),
        (
            fixtures().join("esp32/example_100hz_pitraffic.csv"),
            CaptureFormat::Esp32Csv,
        ),
        (
            fixtures().join("esp32/get-started_README_lines.csv"),
            CaptureFormat::EspCsiCsv,
        ),
        (
            fixtures().join("ruview_esp32/pretrain-1775182186_first300.csi.jsonl"),
            CaptureFormat::RuviewJsonl,
        ),
    ];
    let mine = [
        CaptureFormat::Esp32Csv,
        CaptureFormat::EspCsiCsv,
        CaptureFormat::RuviewJsonl,
    ];
    for (path, want) in cases {
        let bytes = std::fs::read(&path).unwrap();
        let prefix = &bytes[..bytes.len().min(Registry::PROBE_LEN)];
        for f in mine {
            let score = (reg.get(f).unwrap().probe)(prefix);
            if f == want {
                assert!(score >= 90, "{}: {f} scores {score}", path.display());
            } else {
                assert_eq!(score, 0, "{}: {f} claims it", path.display());
            }
        }
        for ext in [None, Some("csv"), Some("jsonl"), Some("bin")] {
            assert_eq!(
                reg.probe(prefix, ext).map(|d| d.format),
                Some(want),
                "{} ext {ext:?}",
                path.display()
            );
        }
        // detection through a plain stream, no name or extension
        let cap = reg
            .open_read(Box::new(Cursor::new(bytes.clone())), None, None, None)
            .unwrap();
        assert_eq!(cap.format(), want);
    }
    // Golden files are JSONL too, but not RuView records: nothing of ours claims them.
    let g = std::fs::read(fixtures().join("esp32/example_csi.csv.jsonl")).unwrap();
    for f in mine {
        assert_eq!(
            (reg.get(f).unwrap().probe)(&g[..g.len().min(Registry::PROBE_LEN)]),
            0,
            "{f}"
        );
    }
}

// ---------------------------------------------------------------- the full kit (ignored by default)

#[test]
#[ignore = "needs the capture kit (WIFI_SENSING_KIT)"]
fn kit_esp32_csi_tool_all_files() {
    let files = kit_golden_pairs("esp32");
    assert_eq!(files.len(), 4);
    let mut counts = BTreeMap::new();
    for (capture, golden) in &files {
        let g = load_golden(golden);
        let n = check_csv(capture, &g, CaptureFormat::Esp32Csv);
        counts.insert(
            capture.file_name().unwrap().to_str().unwrap().to_string(),
            n,
        );
    }
    let want: BTreeMap<String, usize> = [
        ("example_100hz_pitraffic.csv", 833),
        ("example_csi.csv", 13),
        ("example_data.csv", 60),
        ("example_fast2_100hz_pitraffic.csv", 1599),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(counts, want);
}

#[test]
#[ignore = "needs the capture kit (WIFI_SENSING_KIT)"]
fn kit_espcsi_all_files() {
    let files = kit_golden_pairs("esp32_espcsi");
    assert_eq!(files.len(), 1);
    for (capture, golden) in &files {
        let g = load_golden(golden);
        assert_eq!(check_csv(capture, &g, CaptureFormat::EspCsiCsv), 2);
    }
}

#[test]
#[ignore = "needs the capture kit (WIFI_SENSING_KIT)"]
fn kit_ruview_recording() {
    let files = kit_golden_pairs("ruview_esp32");
    assert_eq!(files.len(), 1);
    let (capture, golden) = &files[0];
    assert!(capture.ends_with("ruview_esp32/pretrain-1775182186.csi.jsonl"));
    let g = load_golden(golden);
    let (frames, per_node, aux) = check_ruview(capture, &g);
    assert_eq!(frames as u64, g.header["frames"].as_u64().unwrap());
    assert_eq!(frames, 5309);

    // Records per node equal the sidecar's `nodes` (which counts every record, CSI or not).
    let sidecar: Value = serde_json::from_str(
        &std::fs::read_to_string(kit().join("ruview_esp32/pretrain-1775182186.csi.meta.json"))
            .unwrap(),
    )
    .unwrap();
    let want_nodes: BTreeMap<u32, u64> = sidecar["nodes"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.parse().unwrap(), v.as_u64().unwrap()))
        .collect();
    assert_eq!(per_node, want_nodes);
    assert_eq!(
        per_node.values().sum::<u64>(),
        sidecar["frame_count"].as_u64().unwrap()
    );

    // Non-CSI records: the golden header's counts.
    let nc = &g.header["non_csi_records"];
    assert_eq!(aux.get("vitals").copied(), nc["vitals"].as_u64());
    assert_eq!(aux.get("feature").copied(), nc["feature"].as_u64());
    assert_eq!(
        aux.get("unknown").copied(),
        nc["untyped magic 0xC5110005"].as_u64()
    );
    assert_eq!(
        (aux["vitals"], aux["feature"], aux["unknown"]),
        (236, 236, 2)
    );

    // Frames per node also agree with the golden lines' node_id.
    let run = read(capture);
    let mut got: BTreeMap<u64, u64> = BTreeMap::new();
    for f in run.frames() {
        *got.entry(u64::from(f.node_id)).or_default() += 1;
    }
    let mut want: BTreeMap<u64, u64> = BTreeMap::new();
    for gl in &g.frames {
        *want.entry(gl["node_id"].as_u64().unwrap()).or_default() += 1;
    }
    assert_eq!(got, want);
    // mixed buffer sizes (FORMATS.md §8): 64/128/192 pairs
    let mut sizes: BTreeMap<usize, u64> = BTreeMap::new();
    for f in run.frames() {
        *sizes.entry(f.n_subcarriers()).or_default() += 1;
    }
    assert_eq!(
        sizes,
        [(64, 4127), (128, 1134), (192, 48)].into_iter().collect()
    );
}

/// Spot check of one vitals record against the raw line, with hand-copied values.
#[test]
fn ruview_vitals_spot_check() {
    let path = fixtures().join("ruview_esp32/pretrain-1775182186_first300.csi.jsonl");
    let run = read(&path);
    // line 18: {"timestamp": 1775182187.3520563, "node_id": 2, ..., "type": "vitals", "flags": 4,
    // "breathing_bpm": 22.42, "heartrate_bpm": 85.0, "n_persons": 4,
    // "motion_energy": 4.856170177459717, "presence_score": 4.856170177459717}
    let Ok(Record::Aux(a)) = &run.items[17] else {
        panic!("line 18: {:?}", run.items[17].as_ref().err())
    };
    let AuxBody::Vitals(v) = &a.body else {
        panic!("line 18 is not vitals")
    };
    assert_eq!(a.node_id, Some(2));
    assert_eq!(a.timestamp_ns, exact_ns(1_775_182_187.352_056_3));
    assert_eq!(
        (v.flags, v.presence, v.fall, v.motion),
        (4, false, false, true)
    );
    assert_eq!(
        (v.breathing_bpm, v.heartrate_bpm, v.n_persons),
        (22.42, 85.0, 4)
    );
    assert_eq!(v.motion_energy, 4.856_170_177_459_717_f64 as f32);
    assert_eq!(v.presence_score, 4.856_170_177_459_717_f64 as f32);
    // line 23: feature of node 1, seq 9504
    let Ok(Record::Aux(a)) = &run.items[22] else {
        panic!("line 23")
    };
    let AuxBody::Features(fv) = &a.body else {
        panic!("line 23 is not a feature record")
    };
    assert_eq!((a.node_id, fv.seq), (Some(1), 9504));
    assert_eq!(fv.features[0], 0.683_301_091_194_152_8_f64 as f32);
    assert_eq!(fv.features[7], 0.790_000_021_457_672_1_f64 as f32);
}
