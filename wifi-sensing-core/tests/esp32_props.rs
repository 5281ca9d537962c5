//! Robustness of the ESP32 text readers (ESP32-CSI-Tool CSV, esp-csi CSV, RuView JSONL):
//! a bad-input corpus and property tests (arbitrary bytes never panic or loop; encoded lines
//! round-trip field by field).

mod common;

use std::io::Cursor;

use num_complex::Complex32;
use proptest::prelude::*;
use wifi_sensing_core::formats::esp32::{format_mac, Esp32Meta};
use wifi_sensing_core::formats::esp32_csv::Esp32CsvReader;
use wifi_sensing_core::formats::espcsi::EspCsiReader;
use wifi_sensing_core::formats::ruview::RuviewReader;
use wifi_sensing_core::{
    CaptureFormat, CaptureReader, Clock, CsiFrame, Device, Error, FormatMeta, ReaderOptions,
    Record, Registry,
};

const MINE: [CaptureFormat; 3] = [
    CaptureFormat::Esp32Csv,
    CaptureFormat::EspCsiCsv,
    CaptureFormat::RuviewJsonl,
];

fn reader(format: CaptureFormat, bytes: Vec<u8>, opts: &ReaderOptions) -> Box<dyn CaptureReader> {
    let input = Box::new(Cursor::new(bytes));
    match format {
        CaptureFormat::Esp32Csv => Box::new(Esp32CsvReader::new(input, opts)),
        CaptureFormat::EspCsiCsv => Box::new(EspCsiReader::new(input, opts)),
        CaptureFormat::RuviewJsonl => Box::new(RuviewReader::new(input, opts)),
        other => panic!("not an ESP32 text format: {other}"),
    }
}

/// Drains a reader, checking the stream contract: bounded number of items, errors carry offsets
/// inside the input, nothing after a fatal error.
fn drain(mut r: Box<dyn CaptureReader>, len: usize) -> Vec<Result<Record, Error>> {
    let mut out = Vec::new();
    while let Some(item) = r.next_record() {
        if let Err(e) = &item {
            if let Some(o) = e.offset() {
                assert!(o <= len as u64, "offset {o} past the end ({len})");
            }
            if !e.is_recoverable() {
                out.push(item);
                assert!(r.next_record().is_none(), "record after a fatal error");
                return out;
            }
        }
        out.push(item);
        // every item consumes at least one line, and a line at least one byte
        assert!(out.len() <= len + 1, "more items than input bytes");
    }
    assert!(r.next_record().is_none(), "record after the end");
    assert!(r.position() <= len as u64);
    out
}

fn read_str(format: CaptureFormat, text: &str) -> Vec<Result<Record, Error>> {
    drain(
        reader(format, text.as_bytes().to_vec(), &ReaderOptions::default()),
        text.len(),
    )
}

fn only_frame(items: &[Result<Record, Error>]) -> &CsiFrame {
    assert_eq!(items.len(), 1, "{items:?}");
    match &items[0] {
        Ok(Record::Frame(f)) => f,
        other => panic!("expected a frame, got {other:?}"),
    }
}

fn malformed_reason(item: &Result<Record, Error>) -> &str {
    match item {
        Err(Error::Malformed { reason, .. }) => reason,
        other => panic!("expected Malformed, got {other:?}"),
    }
}

/// Asserts that reading `text` as `format` gives first a `Malformed` error whose reason contains
/// `want`.
fn assert_malformed(format: CaptureFormat, text: &str, want: &str) {
    let items = read_str(format, text);
    let reason = malformed_reason(&items[0]);
    assert!(reason.contains(want), "{format}: {reason:?} lacks {want:?}");
}

fn meta(f: &CsiFrame) -> &Esp32Meta {
    match &f.meta {
        FormatMeta::Esp32(m) => m,
        other => panic!("{other:?}"),
    }
}

// ------------------------------------------------------------------ encoders used by the properties

#[derive(Clone, Debug)]
struct ToolLine {
    role: &'static str,
    mac: [u8; 6],
    rssi: i8,
    small: [u8; 17], // rate .. rx_state etc. (non-negative small ints)
    noise_floor: i8,
    channel: u8,
    secondary: u8,
    bandwidth: u8,
    local_timestamp: u32,
    real_time_set: u8,
    real_secs: u32,
    real_micros: u32,
    len: u16,
    values: Vec<i8>,
}

impl ToolLine {
    fn encode(&self) -> String {
        let s = &self.small;
        let mut out = format!(
            "CSI_DATA,{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}.{:06},{},[",
            self.role,
            format_mac(&self.mac),
            self.rssi,
            s[0],
            s[1],
            s[2],
            self.bandwidth,
            s[3],
            s[4],
            s[5],
            s[6],
            s[7],
            s[8],
            self.noise_floor,
            s[9],
            self.channel,
            self.secondary,
            self.local_timestamp,
            s[10],
            s[11],
            s[12],
            self.real_time_set,
            self.real_secs,
            self.real_micros,
            self.len
        );
        for v in &self.values {
            out.push_str(&v.to_string());
            out.push(' ');
        }
        out.push(']');
        out
    }
}

fn tool_line() -> impl Strategy<Value = ToolLine> {
    (
        (
            prop::sample::select(vec!["AP", "STA", "PASSIVE"]),
            any::<[u8; 6]>(),
            any::<i8>(),
            any::<[u8; 17]>(),
            any::<i8>(),
        ),
        1u8..=14,
        0u8..=2,
        0u8..=1,
        any::<u32>(),
        0u8..=1,
        (0u32..100_000, 0u32..1_000_000),
        any::<u16>(),
        even_values(200),
    )
        .prop_map(
            |(
                (role, mac, rssi, small, noise_floor),
                channel,
                secondary,
                bandwidth,
                ts,
                rts,
                (secs, micros),
                len,
                values,
            )| {
                ToolLine {
                    role,
                    mac,
                    rssi,
                    small,
                    noise_floor,
                    channel,
                    secondary,
                    bandwidth,
                    local_timestamp: ts,
                    real_time_set: rts,
                    real_secs: secs,
                    real_micros: micros,
                    len,
                    values,
                }
            },
        )
}

/// 2..max int8 values, an even count.
fn even_values(max: usize) -> impl Strategy<Value = Vec<i8>> {
    (1..max / 2).prop_flat_map(|pairs| prop::collection::vec(any::<i8>(), 2 * pairs))
}

fn check_pairs(f: &CsiFrame, values: &[i8]) {
    assert_eq!(f.shape(), (1, 1, values.len() / 2));
    for (k, p) in values.chunks_exact(2).enumerate() {
        assert_eq!(
            f.csi[[0, 0, k]],
            Complex32::new(f32::from(p[1]), f32::from(p[0]))
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    /// Arbitrary bytes, through the registry (detected and forced) and through each reader.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let reg = Registry::builtin();
        if let Ok(mut cap) = reg.open_read(Box::new(Cursor::new(bytes.clone())), None, Some("csv"), None) {
            let n = cap.records().take(bytes.len() + 2).count();
            prop_assert!(n <= bytes.len() + 1);
        }
        for f in MINE {
            let mut cap = reg.open_read(Box::new(Cursor::new(bytes.clone())), None, None, Some(f)).unwrap();
            let n = cap.records().take(bytes.len() + 2).count();
            prop_assert!(n <= bytes.len() + 1);
            drain(reader(f, bytes.clone(), &ReaderOptions::default()), bytes.len());
        }
    }

    /// Text that starts like a record and goes on with characters these formats use.
    #[test]
    fn record_like_text_never_panics(
        head in prop::sample::select(vec!["CSI_DATA,", "CSI_DATA,AP,", "type,role,", "{\"type\": \"raw_csi\", ", "{"]),
        body in "[0-9a-fA-F:,\\[\\] \\-\\.\"{}\n]{0,300}",
    ) {
        let text = format!("{head}{body}");
        for f in MINE {
            let items = read_str(f, &text);
            for it in &items {
                if let Err(e) = it {
                    prop_assert!(e.is_recoverable(), "{e}");
                }
            }
        }
    }

    /// ESP32-CSI-Tool lines round-trip every column and every value.
    #[test]
    fn tool_csv_round_trip(lines in prop::collection::vec(tool_line(), 1..5), header in any::<bool>(), crlf in any::<bool>()) {
        let nl = if crlf { "\r\n" } else { "\n" };
        let mut text = String::new();
        if header {
            text.push_str("type,role,mac,rssi,rate,sig_mode,mcs,bandwidth,smoothing,not_sounding,aggregation,stbc,fec_coding,sgi,noise_floor,ampdu_cnt,channel,secondary_channel,local_timestamp,ant,sig_len,rx_state,real_time_set,real_timestamp,len,CSI_DATA");
            text.push_str(nl);
        }
        for l in &lines {
            text.push_str(&l.encode());
            text.push_str(nl);
        }
        let items = read_str(CaptureFormat::Esp32Csv, &text);
        prop_assert_eq!(items.len(), lines.len());
        for (i, (item, l)) in items.iter().zip(&lines).enumerate() {
            let Ok(Record::Frame(f)) = item else { panic!("{item:?}") };
            check_pairs(f, &l.values);
            let m = meta(f);
            prop_assert_eq!(f.mac, Some(l.mac));
            prop_assert_eq!(f.rssi_dbm, Some(f32::from(l.rssi)));
            prop_assert_eq!(f.noise_floor_dbm, Some(f32::from(l.noise_floor)));
            prop_assert_eq!(f.channel, Some(u16::from(l.channel)));
            prop_assert_eq!(f.bandwidth_mhz, Some(if l.bandwidth == 0 { 20 } else { 40 }));
            prop_assert_eq!(f.timestamp_ns, i64::from(l.local_timestamp) * 1000);
            prop_assert_eq!(f.clock, Clock::Device);
            prop_assert_eq!(f.subcarriers.is_some(), l.values.len() == 128 && l.secondary == 0);
            prop_assert_eq!(m.role.as_deref(), Some(l.role));
            let s = &l.small;
            let got = [m.rate, m.sig_mode, m.mcs, m.smoothing, m.not_sounding, m.aggregation, m.stbc, m.fec_coding, m.sgi, m.ampdu_cnt, m.ant, m.sig_len, m.rx_state];
            let want: Vec<Option<i32>> = (0..13).map(|k| Some(i32::from(s[k]))).collect();
            prop_assert_eq!(got.to_vec(), want);
            prop_assert_eq!(m.secondary_channel, Some(i32::from(l.secondary)));
            prop_assert_eq!(m.local_timestamp, Some(i64::from(l.local_timestamp)));
            prop_assert_eq!(m.real_time_set, Some(i32::from(l.real_time_set)));
            let rt: f64 = format!("{}.{:06}", l.real_secs, l.real_micros).parse().unwrap();
            prop_assert_eq!(m.real_timestamp, Some(rt));
            prop_assert_eq!(m.len, Some(i32::from(l.len)));
            prop_assert_eq!(m.line, Some((i + 1 + usize::from(header)) as u64));
        }
    }

    /// Random single-byte corruption of a valid line gives a frame or a recoverable error at
    /// offset 0 / line 1, never a panic or a fatal error.
    #[test]
    fn corrupted_lines_are_recoverable(l in tool_line(), edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4)) {
        let mut bytes = l.encode().into_bytes();
        for (idx, b) in edits {
            let i = idx.index(bytes.len());
            bytes[i] = b;
        }
        let len = bytes.len();
        for f in MINE {
            let items = drain(reader(f, bytes.clone(), &ReaderOptions::default()), len);
            for it in &items {
                if let Err(e) = it {
                    prop_assert!(e.is_recoverable(), "{e}");
                    if let Error::Malformed { offset, line, .. } = e {
                        // the offset is the start of the numbered line
                        let n = line.expect("text formats give line numbers") as usize;
                        let starts: Vec<u64> = std::iter::once(0)
                            .chain(bytes.iter().enumerate().filter(|(_, b)| **b == b'\n').map(|(i, _)| i as u64 + 1))
                            .collect();
                        prop_assert_eq!(Some(offset), starts.get(n - 1));
                    }
                }
            }
        }
    }

    /// esp-csi lines of both column sets round-trip.
    #[test]
    fn espcsi_round_trip(c5 in any::<bool>(), id in any::<u32>(), mac in any::<[u8; 6]>(), rssi in any::<i8>(), nf in any::<i8>(),
                         ch in 1u8..=14, ts in any::<u32>(), values in even_values(100)) {
        let data = values.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(",");
        let macs = format_mac(&mac).to_lowercase();
        let make = |len: usize| if c5 {
            format!("CSI_DATA,{id},{macs},{rssi},11,{nf},32,4,{ch},{ts},47,0,{len},0,\"[{data}]\"\n")
        } else {
            format!("CSI_DATA,{id},{macs},{rssi},11,1,6,1,0,1,0,1,0,0,{nf},0,{ch},0,{ts},0,67,0,{len},1,\"[{data}]\"\n")
        };
        let line = make(values.len());
        let items = read_str(CaptureFormat::EspCsiCsv, &line);
        let f = only_frame(&items);
        check_pairs(f, &values);
        prop_assert_eq!(f.device, if c5 { Device::Esp32C5C6 } else { Device::Esp32 });
        prop_assert_eq!(f.sequence, Some(id));
        prop_assert_eq!(f.mac, Some(mac));
        prop_assert_eq!(f.rssi_dbm, Some(f32::from(rssi)));
        prop_assert_eq!(f.noise_floor_dbm, Some(f32::from(nf)));
        prop_assert_eq!(f.channel, Some(u16::from(ch)));
        prop_assert_eq!(f.timestamp_ns, i64::from(ts) * 1000);
        prop_assert_eq!(meta(f).len, Some(values.len() as i32));
        // a wrong len is always rejected
        for wrong in [values.len() - 1, values.len() + 2] {
            let items = read_str(CaptureFormat::EspCsiCsv, &make(wrong));
            prop_assert_eq!(items.len(), 1);
            prop_assert!(malformed_reason(&items[0]).contains("`len` says"));
        }
    }

    /// RuView raw_csi records round-trip, with the timestamp exact to the nanosecond.
    #[test]
    fn ruview_round_trip(node in any::<u8>(), t in 1.0e9f64..2.0e9, pairs in prop::collection::vec(any::<[i8; 2]>(), 1..200)) {
        let hex: String = pairs.iter().map(|p| format!("{:02x}{:02x}", p[0] as u8, p[1] as u8)).collect();
        let line = serde_json::json!({
            "timestamp": t, "node_id": node, "magic": "0xC5110001", "size": 20 + 2 * pairs.len(),
            "rssi": 1, "type": "raw_csi", "iq_hex": hex, "subcarriers": pairs.len()
        }).to_string();
        let items = read_str(CaptureFormat::RuviewJsonl, &line);
        let f = only_frame(&items);
        let flat: Vec<i8> = pairs.iter().flatten().copied().collect();
        check_pairs(f, &flat);
        prop_assert_eq!(f.node_id, u32::from(node));
        prop_assert_eq!(f.clock, Clock::Host);
        // exact: t = m·2^e, ns = round(m·2^e·1e9) in integer arithmetic
        let bits = t.to_bits();
        let e = ((bits >> 52) & 0x7ff) as i32 - 1075;
        let m = i128::from((bits & ((1u64 << 52) - 1)) | (1u64 << 52)) * 1_000_000_000;
        let want = ((m + (1i128 << (-e - 1))) >> -e) as i64;
        prop_assert_eq!(f.timestamp_ns, want);
        prop_assert_eq!(f.rssi_dbm, None);
    }
}

// ------------------------------------------------------------------ bad-input corpus

#[test]
fn corpus_empty_inputs() {
    for f in MINE {
        assert!(read_str(f, "").is_empty(), "{f}");
        assert!(read_str(f, "\n\r\n  \n").is_empty(), "{f}");
    }
    // an empty `.csv` is an ESP32-CSI-Tool file without lines; with no extension, unrecognised
    let mut cap = Registry::builtin()
        .open_read(Box::new(Cursor::new(Vec::new())), None, Some("csv"), None)
        .unwrap();
    assert_eq!(cap.format(), CaptureFormat::Esp32Csv);
    assert!(cap.next_record().is_none());
    let e = Registry::builtin()
        .open_read(Box::new(Cursor::new(Vec::new())), None, None, None)
        .unwrap_err();
    assert!(e.to_string().contains("empty"), "{e}");
}

/// Files cut inside their last line: every complete line is delivered, the cut one is a
/// recoverable error at its own offset.
#[test]
fn corpus_truncated_files() {
    let cases = [
        ("esp32/example_csi.csv", CaptureFormat::Esp32Csv, 13usize),
        (
            "esp32/get-started_README_lines.csv",
            CaptureFormat::EspCsiCsv,
            2,
        ),
        (
            "ruview_esp32/pretrain-1775182186_first300.csi.jsonl",
            CaptureFormat::RuviewJsonl,
            300,
        ),
    ];
    for (file, f, records) in cases {
        let bytes = std::fs::read(common::fixtures().join(file)).unwrap();
        let body = &bytes[..bytes.len() - 1]; // without the final newline
        let last_start = body.iter().rposition(|b| *b == b'\n').map_or(0, |p| p + 1);
        for cut in [
            last_start + 1,
            last_start + 30,
            last_start + (body.len() - last_start) / 2,
            body.len() - 1,
        ] {
            let items = drain(
                reader(f, bytes[..cut].to_vec(), &ReaderOptions::default()),
                cut,
            );
            assert_eq!(items.len(), records, "{file} cut at {cut}");
            assert!(
                items[..records - 1].iter().all(Result::is_ok),
                "{file} cut at {cut}"
            );
            match &items[records - 1] {
                Err(Error::Malformed {
                    offset,
                    line: Some(_),
                    ..
                }) => assert_eq!(*offset, last_start as u64),
                other => panic!("{file} cut at {cut}: {other:?}"),
            }
        }
        // no final newline at all is fine
        let items = drain(
            reader(f, body.to_vec(), &ReaderOptions::default()),
            body.len(),
        );
        assert_eq!(items.len(), records);
        assert!(items.iter().all(Result::is_ok), "{file}");
    }
}

const TOOL: &str = "CSI_DATA,STA,3C:71:BF:6D:2A:78,-73,11,1,0,0,1,1,0,0,0,0,-93,0,6,0,80272146,0,101,0,0,80.363225,384,[1 2 3 4 ]";
const ESPCSI: &str =
    "CSI_DATA,7,1a:00:00:00:00:00,-23,11,-96,32,4,11,372852,47,0,4,0,\"[1,2,3,4]\"";
const RAW: &str = r#"{"timestamp": 1775182186.5, "node_id": 2, "magic": "0xC5110001", "size": 24, "rssi": 1, "type": "raw_csi", "iq_hex": "01020304", "subcarriers": 2}"#;

#[test]
fn corpus_zero_lengths() {
    assert_malformed(
        CaptureFormat::Esp32Csv,
        &TOOL.replace("[1 2 3 4 ]", "[]"),
        "empty",
    );
    assert_malformed(
        CaptureFormat::Esp32Csv,
        &TOOL.replace("[1 2 3 4 ]", "[ ]"),
        "empty",
    );
    assert_malformed(
        CaptureFormat::EspCsiCsv,
        &ESPCSI
            .replace("[1,2,3,4]", "[]")
            .replace(",4,0,\"", ",0,0,\""),
        "empty",
    );
    assert_malformed(
        CaptureFormat::RuviewJsonl,
        &RAW.replace(
            "\"01020304\", \"subcarriers\": 2",
            "\"\", \"subcarriers\": 0",
        ),
        "= 0",
    );
}

#[test]
fn corpus_lengths_past_the_end() {
    // esp-csi: len announces more values than the array holds
    assert_malformed(
        CaptureFormat::EspCsiCsv,
        &ESPCSI.replace(",4,0,\"", ",256,0,\""),
        "`len` says 256",
    );
    // RuView: subcarriers announces more pairs than iq_hex holds
    assert_malformed(
        CaptureFormat::RuviewJsonl,
        &RAW.replace("\"subcarriers\": 2", "\"subcarriers\": 128"),
        "512",
    );
    // ESP32-CSI-Tool: len is not trusted, so a large len with few values is a valid frame
    let r = read_str(CaptureFormat::Esp32Csv, &TOOL.replace(",384,[", ",65535,["));
    assert_eq!(only_frame(&r).n_subcarriers(), 2);
}

#[test]
fn corpus_wrong_magic_and_foreign_lines() {
    assert_malformed(
        CaptureFormat::RuviewJsonl,
        &RAW.replace("0xC5110001", "0xDEADBEEF"),
        "needs magic",
    );
    assert_malformed(
        CaptureFormat::RuviewJsonl,
        r#"{"timestamp": 1.0, "node_id": 1, "magic": "0x12345678", "size": 8}"#,
        "not an ADR-018 magic",
    );
    // each reader given the other formats' lines: recoverable errors, never frames
    for (f, foreign) in [
        (CaptureFormat::Esp32Csv, ESPCSI),
        (CaptureFormat::Esp32Csv, RAW),
        (CaptureFormat::EspCsiCsv, TOOL),
        (CaptureFormat::EspCsiCsv, RAW),
        (CaptureFormat::RuviewJsonl, TOOL),
        (CaptureFormat::RuviewJsonl, ESPCSI),
    ] {
        let r = read_str(f, foreign);
        assert_eq!(r.len(), 1, "{f}");
        malformed_reason(&r[0]);
    }
}

#[test]
fn corpus_absurd_counts() {
    assert_malformed(
        CaptureFormat::RuviewJsonl,
        &RAW.replace("\"subcarriers\": 2", "\"subcarriers\": 4000000000"),
        "limit",
    );
    let r = read_str(
        CaptureFormat::RuviewJsonl,
        &RAW.replace("\"subcarriers\": 2", "\"subcarriers\": 1e30"),
    );
    malformed_reason(&r[0]);
    let mut opts = ReaderOptions::default();
    opts.limits.max_csi_values = 16;
    let many = TOOL.replace("[1 2 3 4 ]", &format!("[{}]", "1 ".repeat(100)));
    let r = drain(
        reader(CaptureFormat::Esp32Csv, many.clone().into_bytes(), &opts),
        many.len(),
    );
    assert!(malformed_reason(&r[0]).contains("max_csi_values"));
    // an endless line is cut at max_record_bytes and ends the stream
    opts.limits.max_record_bytes = 1000;
    for f in MINE {
        let long = vec![b'7'; 100_000];
        let r = drain(reader(f, long, &opts), 100_000);
        assert!(
            matches!(
                r.as_slice(),
                [Err(Error::LimitExceeded {
                    offset: 0,
                    limit: 1000,
                    ..
                })]
            ),
            "{f}: {r:?}"
        );
    }
}

#[test]
fn corpus_binary_garbage() {
    let garbage: Vec<u8> = (0..20_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    for f in MINE {
        let r = drain(
            reader(f, garbage.clone(), &ReaderOptions::default()),
            garbage.len(),
        );
        assert!(!r.is_empty());
        assert!(
            r.iter()
                .all(|x| matches!(x, Err(Error::Malformed { line: Some(_), .. }))),
            "{f}"
        );
    }
    for f in MINE {
        assert_eq!(
            (Registry::builtin().get(f).unwrap().probe)(&garbage[..8192]),
            0,
            "{f}"
        );
    }
}

#[test]
fn corpus_crlf_file_reads_the_same() {
    let bytes =
        std::fs::read(common::fixtures().join("esp32/example_100hz_pitraffic.csv")).unwrap();
    let crlf: Vec<u8> = bytes
        .iter()
        .flat_map(|&b| {
            if b == b'\n' {
                vec![b'\r', b'\n']
            } else {
                vec![b]
            }
        })
        .collect();
    let a = drain(
        reader(
            CaptureFormat::Esp32Csv,
            bytes.clone(),
            &ReaderOptions::default(),
        ),
        bytes.len(),
    );
    let b = drain(
        reader(
            CaptureFormat::Esp32Csv,
            crlf.clone(),
            &ReaderOptions::default(),
        ),
        crlf.len(),
    );
    assert_eq!(a.len(), b.len());
    let fa: Vec<_> = a.iter().filter_map(|x| x.as_ref().ok()).collect();
    let fb: Vec<_> = b.iter().filter_map(|x| x.as_ref().ok()).collect();
    assert_eq!(fa.len(), 833);
    assert_eq!(fa, fb);
}
