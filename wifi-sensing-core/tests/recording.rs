//! Native recording: lossless round trip (proptest), cut files, corrupt entries, bad headers.

use std::io::Cursor;

use ndarray::Array3;
use num_complex::Complex32;
use proptest::prelude::*;
use wifi_sensing_core::formats::adr018::EdgeVitals;
use wifi_sensing_core::formats::esp32::Esp32Meta;
use wifi_sensing_core::recording::{self, RecordingHeader, RecordingReader, RecordingWriter};
use wifi_sensing_core::{
    AuxBody, AuxRecord, CaptureFormat, CaptureReader, Clock, CsiFrame, Device, Error, FormatMeta,
    Record, Registry,
};

fn arb_frame() -> impl Strategy<Value = CsiFrame> {
    (
        (1usize..4, 1usize..4, 1usize..70),
        any::<i64>(),
        any::<u32>(),
        proptest::option::of(any::<u32>()),
        proptest::option::of(-120f32..10.0),
        proptest::option::of(any::<[u8; 6]>()),
        proptest::option::of(1u16..200),
        any::<bool>(),
        any::<u64>(),
    )
        .prop_map(|((r, t, s), ts, node, seq, rssi, mac, ch, esp, seed)| {
            let mut x = seed | 1;
            let data: Vec<Complex32> = (0..r * t * s)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    Complex32::new(
                        f32::from_bits((x as u32) & 0x7F7F_FFFF),
                        -f32::from_bits(((x >> 32) as u32) & 0x7F7F_FFFF),
                    )
                })
                .collect();
            let mut f = CsiFrame::new(
                CaptureFormat::Esp32Csv,
                Device::Esp32,
                Array3::from_shape_vec((r, t, s), data).unwrap(),
            );
            f.timestamp_ns = ts;
            f.clock = Clock::Device;
            f.node_id = node;
            f.sequence = seq;
            f.rssi_dbm = rssi;
            f.mac = mac;
            f.channel = ch;
            f.chain_rssi = vec![1.5; r];
            f.subcarriers = if s % 2 == 0 {
                Some((0..s as i16).collect())
            } else {
                None
            };
            if esp {
                f.meta = FormatMeta::Esp32(Box::new(Esp32Meta {
                    role: Some("AP".into()),
                    local_timestamp: Some(ts / 1000),
                    real_timestamp: Some(1.25),
                    ..Esp32Meta::default()
                }));
            }
            f
        })
}

fn write_all(records: &[Record]) -> Vec<u8> {
    write_version(records, recording::FORMAT_VERSION)
}

fn write_version(records: &[Record], version: u16) -> Vec<u8> {
    let mut buf = Vec::new();
    let header = RecordingHeader::new("test", "{\"k\":1}");
    let mut w = RecordingWriter::with_version(&mut buf, &header, version).unwrap();
    for r in records {
        w.write(r).unwrap();
    }
    w.flush().unwrap();
    drop(w);
    buf
}

fn read_all(bytes: Vec<u8>) -> (Vec<Record>, Option<Error>) {
    let mut r = RecordingReader::new(Box::new(Cursor::new(bytes)), &Default::default()).unwrap();
    let mut out = Vec::new();
    let mut err = None;
    while let Some(x) = r.next_record() {
        match x {
            Ok(v) => out.push(v),
            Err(e) => {
                let fatal = !e.is_recoverable();
                err = Some(e);
                if fatal {
                    break;
                }
            }
        }
    }
    assert!(
        r.next_record().is_none(),
        "reader must be fused after its end"
    );
    (out, err)
}

/// A simulated frame of `n` zero subcarriers.
fn zero_frame(n: usize) -> CsiFrame {
    CsiFrame::new(
        CaptureFormat::Simulated,
        Device::Simulator,
        Array3::zeros((1, 1, n)),
    )
}

fn vitals() -> Record {
    Record::Aux(AuxRecord {
        timestamp_ns: 17,
        clock: Clock::Host,
        format: CaptureFormat::RuviewJsonl,
        node_id: Some(2),
        body: AuxBody::Vitals(EdgeVitals {
            flags: 5,
            presence: true,
            fall: false,
            motion: true,
            breathing_bpm: 14.5,
            heartrate_bpm: 70.25,
            rssi: None,
            n_persons: 1,
            motion_energy: 0.5,
            presence_score: 0.75,
            timestamp_ms: None,
        }),
    })
}

/// A frame of [`arb_frame`] whose CSI values are replaced by `kind`: 0 = i8-range integers,
/// 1 = i16-range integers, 2 = i16 integers with one -0.0 (which must stay f32), 3 = as is.
fn arb_int_frame() -> impl Strategy<Value = (CsiFrame, u8)> {
    (arb_frame(), 0u8..4, any::<u64>()).prop_map(|(mut f, kind, seed)| {
        let mut x = seed | 1;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        match kind {
            0 => f.csi.mapv_inplace(|_| {
                let r = next();
                Complex32::new(f32::from(r as i8), f32::from((r >> 8) as i8))
            }),
            1 | 2 => f.csi.mapv_inplace(|_| {
                let r = next();
                Complex32::new(f32::from(r as i16), f32::from((r >> 16) as i16))
            }),
            _ => {}
        }
        if kind == 2 {
            if let Some(c) = f.csi.iter_mut().next() {
                c.im = -0.0;
            }
        }
        (f, kind)
    })
}

/// Recomputes the stored CRC-32 of every complete entry after `header_len` (lengths as stored).
fn fix_crcs(bytes: &mut [u8], header_len: usize) {
    let mut at = header_len;
    while let Some(len) = bytes.get(at..at + 4) {
        let body = at + 8;
        let end = body + u32::from_le_bytes(len.try_into().unwrap()) as usize;
        if end > bytes.len() {
            break;
        }
        let crc = wifi_sensing_core::util::crc32(&bytes[body..end]);
        bytes[at + 4..body].copy_from_slice(&crc.to_le_bytes());
        at = end;
    }
}

/// The bits of every CSI value (PartialEq on floats takes -0.0 for 0.0).
fn csi_bits(r: &[Record]) -> Vec<u32> {
    r.iter()
        .filter_map(|r| match r {
            Record::Frame(f) => Some(f),
            Record::Aux(_) => None,
        })
        .flat_map(|f| {
            f.csi
                .iter()
                .flat_map(|c| [c.re.to_bits(), c.im.to_bits()])
                .collect::<Vec<_>>()
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn both_versions_round_trip_integer_and_float_csi_bit_for_bit(
        frames in proptest::collection::vec(arb_int_frame(), 0..10),
    ) {
        let mut recs: Vec<Record> = frames.iter().map(|(f, _)| Record::Frame(f.clone())).collect();
        recs.insert(recs.len() / 2, vitals());
        let v1 = write_version(&recs, 1);
        let v2 = write_version(&recs, 2);
        let v3 = write_version(&recs, 3);
        for bytes in [v1.clone(), v2.clone(), v3.clone()] {
            let (back, err) = read_all(bytes);
            prop_assert!(err.is_none(), "{:?}", err);
            prop_assert_eq!(csi_bits(&back), csi_bits(&recs));
            prop_assert_eq!(&back, &recs);
        }
        // integer CSI takes 2 (i8) or 4 (i16) bytes per value instead of 8
        let values: usize = frames.iter().map(|(f, _)| f.csi.len()).sum();
        let int8: usize = frames.iter().filter(|(_, k)| *k == 0).map(|(f, _)| f.csi.len()).sum();
        if values > 0 && int8 == values {
            prop_assert!(v2.len() + 6 * values <= v1.len() + 64 * (frames.len() + 1));
        }
        // version 3 never takes more room than version 2 (a list stated again is as long)
        prop_assert!(v3.len() <= v2.len());
    }

    #[test]
    fn versions_2_and_3_cut_or_corrupt_entries_never_panic(
        frames in proptest::collection::vec(arb_int_frame(), 1..4),
        at in any::<prop::sample::Index>(),
        flip in any::<u8>(),
        version in 2u16..4,
    ) {
        let recs: Vec<Record> = frames.into_iter().map(|(f, _)| Record::Frame(f)).collect();
        let mut bytes = write_version(&recs, version);
        let header_len = write_version(&[], version).len();
        let i = header_len + at.index(bytes.len() - header_len);
        bytes[i] ^= flip | 1;
        // a flipped byte is caught by the CRC, by the length, or (in a length field) as a cut
        let (back, _) = read_all(bytes);
        prop_assert!(back.len() <= recs.len());
    }

    #[test]
    fn versions_2_and_3_damaged_entries_under_a_valid_crc_never_panic(
        frames in proptest::collection::vec(arb_int_frame(), 1..4),
        at in any::<prop::sample::Index>(),
        word in any::<u32>(),
        write_word in any::<bool>(),
        version in 2u16..4,
    ) {
        // the CRC is recomputed after the damage, so the damaged bytes reach the version 2 / 3
        // frame decoder (field values, subcarrier count, CSI shape and encoding, lengths)
        let recs: Vec<Record> = frames.into_iter().map(|(f, _)| Record::Frame(f)).collect();
        let mut bytes = write_version(&recs, version);
        let header_len = write_version(&[], version).len();
        let i = header_len + at.index(bytes.len() - header_len);
        if write_word {
            let end = (i + 4).min(bytes.len());
            bytes[i..end].copy_from_slice(&word.to_le_bytes()[..end - i]);
        } else {
            bytes[i] ^= (word as u8) | 1;
        }
        fix_crcs(&mut bytes, header_len);
        let (back, _) = read_all(bytes);
        prop_assert!(back.len() <= recs.len());
    }

    #[test]
    fn version_3_subcarrier_runs_round_trip_and_are_stored_once(
        picks in proptest::collection::vec((0usize..4, 0u8..3), 1..700),
        lists in proptest::collection::vec(proptest::collection::vec(any::<i16>(), 0..6), 3),
    ) {
        // frames whose subcarrier list is one of three lists or None (pick 3), in any order and
        // in runs long enough to cross the restatement interval
        let recs: Vec<Record> = picks
            .iter()
            .enumerate()
            .map(|(i, &(pick, seed))| {
                let n = lists.get(pick).map_or(2, Vec::len);
                let mut f = CsiFrame::new(
                    CaptureFormat::Simulated,
                    Device::Simulator,
                    Array3::from_shape_fn((1, 1, n), |(_, _, k)| {
                        Complex32::new(f32::from(seed) * k as f32, -((i % 100) as f32))
                    }),
                );
                f.timestamp_ns = i as i64;
                f.subcarriers = lists.get(pick).cloned();
                Record::Frame(f)
            })
            .collect();
        let v2 = write_version(&recs, 2);
        let v3 = write_version(&recs, 3);
        let (back, err) = read_all(v3.clone());
        prop_assert!(err.is_none(), "{:?}", err);
        prop_assert_eq!(&back, &recs);
        // every frame that repeats the list of the previous listed frame (within the
        // restatement interval) saves the u32 count and 2 bytes per subcarrier
        let (mut saved, mut prev, mut since) = (0usize, None::<&Vec<i16>>, 0u32);
        for &(pick, _) in &picks {
            let Some(list) = lists.get(pick) else { continue };
            if prev == Some(list) && since < recording::RESTATE_SUBCARRIERS_EVERY {
                saved += 4 + 2 * list.len();
                since += 1;
            } else {
                prev = Some(list);
                since = 1;
            }
        }
        prop_assert_eq!(v2.len() - v3.len(), saved);
    }

    #[test]
    fn version_3_a_lost_entry_never_gives_a_frame_a_wrong_subcarrier_list(
        picks in proptest::collection::vec(0usize..2, 1..40),
        at in any::<prop::sample::Index>(),
        flip in 1u8..=255,
    ) {
        let lists = [vec![-2i16, -1, 1, 2], vec![-28i16, -14, 0, 14]];
        let recs: Vec<Record> = picks
            .iter()
            .enumerate()
            .map(|(i, &pick)| {
                let mut f = zero_frame(4);
                f.sequence = Some(i as u32);
                f.subcarriers = Some(lists[pick].clone());
                Record::Frame(f)
            })
            .collect();
        let mut bytes = write_version(&recs, 3);
        // damage one byte of one entry's body (not its length): the CRC catches it
        let header_len = write_version(&[], 3).len();
        let mut bodies = Vec::new();
        let mut p = header_len;
        while p < bytes.len() {
            let len = u32::from_le_bytes(bytes[p..p + 4].try_into().unwrap()) as usize;
            bodies.push(p + 8..p + 8 + len);
            p += 8 + len;
        }
        let all: Vec<usize> = bodies.iter().flat_map(|r| r.clone()).collect();
        let i = all[at.index(all.len())];
        bytes[i] ^= flip;
        let (back, _) = read_all(bytes);
        // what reads back is a subsequence of what was written, each frame with its own list
        let mut next = 0;
        for r in &back {
            let pos = recs[next..].iter().position(|w| w == r);
            prop_assert!(pos.is_some(), "a frame read back differs from every frame written: {:?}", r);
            next += pos.unwrap() + 1;
        }
        prop_assert!(back.len() < recs.len());
    }

    #[test]
    fn round_trip_is_lossless(frames in proptest::collection::vec(arb_frame(), 0..12)) {
        let mut recs: Vec<Record> = frames.into_iter().map(Record::Frame).collect();
        recs.push(vitals());
        let (back, err) = read_all(write_all(&recs));
        prop_assert!(err.is_none());
        prop_assert_eq!(back, recs);
    }

    #[test]
    fn by_reference_writers_write_the_same_bytes(frames in proptest::collection::vec(arb_frame(), 0..6)) {
        let mut recs: Vec<Record> = frames.into_iter().map(Record::Frame).collect();
        recs.push(vitals());
        let header = RecordingHeader {
            created_unix_ns: 0,
            ..RecordingHeader::new("t", "")
        };
        let (mut owned, mut by_ref) = (Vec::new(), Vec::new());
        let mut w = RecordingWriter::new(&mut owned, &header).unwrap();
        for r in &recs {
            w.write(r).unwrap();
        }
        drop(w);
        let mut w = RecordingWriter::new(&mut by_ref, &header).unwrap();
        for r in &recs {
            match r {
                Record::Frame(f) => w.write_frame(f).unwrap(),
                Record::Aux(a) => w.write_aux(a).unwrap(),
            }
        }
        drop(w);
        prop_assert_eq!(owned, by_ref);
    }

    #[test]
    fn any_cut_replays_complete_frames(frames in proptest::collection::vec(arb_frame(), 1..6), cut in any::<prop::sample::Index>()) {
        let recs: Vec<Record> = frames.into_iter().map(Record::Frame).collect();
        let full = write_all(&recs);
        let header_len = write_all(&[]).len();
        let at = header_len + cut.index(full.len() - header_len + 1);
        let (back, err) = read_all(full[..at].to_vec());
        prop_assert!(back.len() <= recs.len());
        prop_assert_eq!(&back[..], &recs[..back.len()]);
        if at == full.len() {
            prop_assert!(err.is_none());
            prop_assert_eq!(back.len(), recs.len());
        } else if back.len() < recs.len() {
            let cut_at_boundary = err.is_none();
            if !cut_at_boundary {
                prop_assert!(matches!(err, Some(Error::Truncated { .. })), "expected Truncated, got {:?}", err);
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let mut data = b"WSCSIREC".to_vec();
        data.extend_from_slice(&bytes);
        if let Ok(mut r) = RecordingReader::new(Box::new(Cursor::new(data)), &Default::default()) {
            let mut n = 0;
            while r.next_record().is_some() {
                n += 1;
                prop_assert!(n < 10_000);
            }
        }
    }
}

/// The values at the edges of the integer encodings read back bit for bit, and the entry takes
/// the width of the narrowest encoding that holds all of them.
#[test]
fn encoding_edges_read_back_bit_for_bit() {
    let one_frame = |vals: &[f32]| {
        let csi = Array3::from_shape_fn((1, 1, vals.len()), |(_, _, k)| {
            Complex32::new(vals[k], vals[vals.len() - 1 - k])
        });
        let f = CsiFrame::new(CaptureFormat::Simulated, Device::Simulator, csi);
        let bytes = write_all(&[Record::Frame(f.clone())]);
        let (back, err) = read_all(bytes.clone());
        assert!(err.is_none(), "{vals:?}: {err:?}");
        let rec = [Record::Frame(f)];
        assert_eq!(csi_bits(&back), csi_bits(&rec), "{vals:?}");
        bytes.len()
    };
    let width = |vals: &[f32]| one_frame(vals) - one_frame(&[]);
    let n = 6;
    // i8 pairs: 2 bytes per value
    let i8s = [-128.0, 127.0, 0.0, 1.0, -1.0, 100.0];
    // i16 pairs: 4 bytes per value (one value outside i8)
    let i16s = [-32768.0, 32767.0, 128.0, -129.0, 0.0, 5.0];
    // i10 pairs (version 3): 2.5 bytes per value, an odd last value 3 bytes
    let i10s = [-512.0, 511.0, 128.0, -129.0, 0.0, -1.0];
    let base = width(&[0.0; 6]);
    assert_eq!(width(&i16s) - base, 2 * n);
    assert_eq!(width(&i8s), base);
    assert_eq!(width(&i10s) - base, n / 2);
    assert_eq!(width(&i10s[..5]) - width(&[0.0; 5]), 3);
    for outside in [512.0, -513.0] {
        let mut v = i10s;
        v[1] = outside;
        assert_eq!(width(&v) - base, 2 * n, "{outside}");
    }
    // f32 pairs: 8 bytes per value
    for odd in [
        -0.0,
        0.5,
        -32769.0,
        32768.0,
        32767.5,
        -32768.5,
        f32::NAN,
        -f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        4_194_304.0,
        12_582_912.0,
        f32::MAX,
        f32::MIN_POSITIVE,
        1e-40,
    ] {
        let mut v = i8s;
        v[2] = odd;
        assert_eq!(width(&v) - base, 6 * n, "{odd}");
    }
}

/// Version 1 recordings written by the build before version 2 (fixtures: an Intel 5300 capture
/// and RuView JSONL lines with vitals and feature records) still read, record for record equal
/// to reading the source capture, and version 2 and 3 rewrites read back the same records.
#[test]
fn version_1_fixtures_still_read() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures");
    for (rec, source, smaller) in [
        ("csirec/v1_intel5300.csirec", "intel5300/example.dat", true),
        (
            "csirec/v1_ruview.csirec",
            "ruview_esp32/pretrain-1775182186_first300.csi.jsonl",
            false,
        ),
    ] {
        let bytes = std::fs::read(format!("{dir}/{rec}")).unwrap();
        let r = RecordingReader::new(Box::new(Cursor::new(bytes.clone())), &Default::default())
            .unwrap();
        assert_eq!(r.version(), 1, "{rec}");
        let (v1, err) = read_all(bytes.clone());
        assert!(err.is_none(), "{rec}: {err:?}");
        assert!(v1.len() >= 20, "{rec}: {} records", v1.len());
        let mut cap = wifi_sensing_core::open(format!("{dir}/{source}")).unwrap();
        let direct: Vec<Record> = cap
            .records()
            .take(v1.len())
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(v1, direct, "{rec}");
        let v2 = write_version(&v1, 2);
        if smaller {
            // int8 CSI: 2 bytes per value instead of 8
            assert!(
                v2.len() * 2 < bytes.len(),
                "{rec}: {} vs {}",
                v2.len(),
                bytes.len()
            );
        }
        let v3 = write_version(&v1, 3);
        assert!(v3.len() <= v2.len(), "{rec}: {} vs {}", v3.len(), v2.len());
        for bytes in [v2, v3] {
            let (back, err) = read_all(bytes);
            assert!(err.is_none(), "{rec}: {err:?}");
            assert_eq!(csi_bits(&back), csi_bits(&v1));
            assert_eq!(back, v1, "{rec}");
        }
        // the version 1 writer still writes the fixture's entries byte for byte
        let again = write_version(&v1, 1);
        let header_len = |b: &[u8]| 14 + u32::from_le_bytes([b[10], b[11], b[12], b[13]]) as usize;
        assert!(
            again[header_len(&again)..] == bytes[header_len(&bytes)..],
            "{rec}"
        );
    }
}

#[test]
fn unknown_versions_are_refused_on_write() {
    let h = RecordingHeader::new("t", "");
    assert!(matches!(
        RecordingWriter::with_version(Vec::new(), &h, 0),
        Err(Error::Unsupported { .. })
    ));
    assert!(matches!(
        RecordingWriter::with_version(Vec::new(), &h, 4),
        Err(Error::Unsupported { .. })
    ));
    assert_eq!(recording::FORMAT_VERSION, 3);
    let w = RecordingWriter::new(Vec::new(), &h).unwrap();
    assert_eq!(w.version(), 3);
}

#[test]
fn cut_mid_frame_reports_offset() {
    let f = zero_frame(64);
    let recs = vec![Record::Frame(f.clone()), Record::Frame(f)];
    let full = write_all(&recs);
    let (back, err) = read_all(full[..full.len() - 10].to_vec());
    assert_eq!(back.len(), 1);
    match err {
        Some(Error::Truncated {
            offset,
            needed,
            available,
            ..
        }) => {
            assert!(offset > 14);
            assert_eq!(needed - available, 10);
        }
        other => panic!("expected Truncated, got {other:?}"),
    }
}

#[test]
fn corrupt_entry_is_skipped_and_counted() {
    let f = zero_frame(8);
    let recs = vec![
        Record::Frame(f.clone()),
        Record::Frame(f.clone()),
        Record::Frame(f),
    ];
    let mut full = write_all(&recs);
    let n = full.len();
    // flip a byte inside the second entry's body
    let entry = (n - write_all(&[]).len()) / 3;
    let pos = write_all(&[]).len() + entry + 12;
    full[pos] ^= 0xFF;
    let mut cap = Registry::builtin()
        .open_read(Box::new(Cursor::new(full)), Some("mem"), None, None)
        .unwrap()
        .skip_malformed(true);
    let frames: Vec<_> = (&mut cap).collect::<Result<_, _>>().unwrap();
    assert_eq!(frames.len(), 2);
    assert_eq!(cap.stats().malformed, 1);
    assert!(cap.stats().issues[0].message.contains("CRC"));
}

#[test]
fn bad_headers_are_clear_errors() {
    let bad = |b: Vec<u8>| {
        RecordingReader::new(Box::new(Cursor::new(b)), &Default::default()).unwrap_err()
    };
    assert!(bad(vec![]).to_string().contains("header needs 14"));
    assert!(bad(b"NOTAREC_aaaaaaaaaa".to_vec())
        .to_string()
        .contains("magic"));
    let mut v = b"WSCSIREC".to_vec();
    v.extend_from_slice(&9u16.to_le_bytes());
    v.extend_from_slice(&0u32.to_le_bytes());
    assert!(matches!(bad(v), Error::Unsupported { .. }));
}

/// A damaged file header costs the header, not the entries: they are read after it, and the
/// damage is the first (recoverable) error.
#[test]
fn a_damaged_file_header_keeps_the_entries() {
    let recs: Vec<Record> = (0..5).map(|i| Record::Frame(zero_frame(8 + i))).collect();
    let good = write_version(&recs, 3);
    let hlen = u32::from_le_bytes(good[10..14].try_into().unwrap()) as usize;
    let first_error = |bytes: Vec<u8>| {
        let mut r = RecordingReader::new(Box::new(Cursor::new(bytes)), &Default::default())
            .expect("a damaged header still opens");
        let e = match r.next_record() {
            Some(Err(e)) => e,
            other => panic!("the damage must come first: {other:?}"),
        };
        assert!(e.is_recoverable(), "{e}");
        let mut back = Vec::new();
        let mut later = Vec::new();
        for x in std::iter::from_fn(|| r.next_record()) {
            match x {
                Ok(v) => back.push(v),
                Err(e) => later.push(e.to_string()),
            }
        }
        (e.to_string(), back, r.header().source.clone(), later)
    };
    // a text field of the header made invalid UTF-8 (the `source` string's first byte)
    let mut b = good.clone();
    let at = good.windows(4).position(|w| w == b"test").unwrap();
    b[at] = 0xFF;
    let (msg, back, source, later) = first_error(b);
    assert!(
        msg.contains("header is damaged") && msg.contains("UTF-8"),
        "{msg}"
    );
    assert_eq!(back, recs);
    assert!(later.is_empty(), "{later:?}");
    assert!(source.contains("damaged"), "{source}");
    // a header length over the limit: the entries are found by their CRC
    let mut b = good.clone();
    b[10..14].copy_from_slice(&u32::MAX.to_le_bytes());
    let (msg, back, _, later) = first_error(b);
    assert!(msg.contains("over the limit"), "{msg}");
    assert_eq!(back, recs);
    // the header's bytes, read as an entry, are the one damaged stretch skipped
    assert_eq!(later.len(), 1, "{later:?}");
    assert!(later[0].contains("next entry that checks"), "{later:?}");
    // a header length 5 bytes too long: the header still decodes, the bytes after it are the
    // first entry's
    let mut b = good.clone();
    b[10..14].copy_from_slice(&((hlen + 5) as u32).to_le_bytes());
    let (msg, back, source, later) = first_error(b);
    assert!(msg.contains(&format!("says {} bytes", hlen + 5)), "{msg}");
    assert_eq!(back, recs);
    assert!(later.is_empty(), "{later:?}");
    assert_eq!(source, "test");
    // a header length longer than the whole file (under the header limit)
    let mut b = good.clone();
    b[10..14].copy_from_slice(&((good.len() + 1000) as u32).to_le_bytes());
    let (msg, back, source, later) = first_error(b);
    assert!(msg.contains("says"), "{msg}");
    assert_eq!(back, recs);
    assert!(later.is_empty(), "{later:?}");
    assert_eq!(source, "test");
    // a header cut short stays an error at opening: there is nothing after it to read
    let cut = good[..14 + hlen / 2].to_vec();
    let e = RecordingReader::new(Box::new(Cursor::new(cut)), &Default::default()).unwrap_err();
    assert!(e.to_string().contains("header cut"), "{e}");
}

#[test]
fn huge_entry_length_is_refused_without_allocation() {
    let mut full = write_all(&[]);
    full.extend_from_slice(&u32::MAX.to_le_bytes());
    full.extend_from_slice(&0u32.to_le_bytes());
    let (back, err) = read_all(full);
    assert!(back.is_empty());
    let msg = err.unwrap().to_string();
    assert!(
        msg.contains("over the limit") && msg.contains("reading stops"),
        "{msg}"
    );
}

/// Junk after the last entry ends the stream with one malformed-entry error, whatever its
/// first bytes (an impossible length, a zero length, a believable one): every entry before it
/// is read, and the error is recoverable (a conversion keeps its exit status 0).
#[test]
fn junk_after_the_last_entry_is_one_recoverable_error() {
    let recs: Vec<Record> = (0..3).map(|i| Record::Frame(zero_frame(8 + i))).collect();
    for junk in [
        vec![0xFF; 8],
        vec![0; 100],
        vec![0x10, 0, 0, 0, 1, 2, 3, 4, 9, 9],
    ] {
        let mut bytes = write_version(&recs, 3);
        bytes.extend_from_slice(&junk);
        let (back, err) = read_all(bytes);
        assert_eq!(back, recs, "{junk:?}");
        let e = err.unwrap();
        assert!(
            e.is_recoverable() || matches!(e, Error::Truncated { .. }),
            "{junk:?}: {e}"
        );
    }
}

#[test]
fn header_is_kept() {
    let bytes = write_all(&[]);
    let r = RecordingReader::new(Box::new(Cursor::new(bytes)), &Default::default()).unwrap();
    assert_eq!(r.header().source, "test");
    assert_eq!(r.header().config, "{\"k\":1}");
    assert_eq!(r.header().format_version, 3);
    assert_eq!(r.version(), 3);
}

/// Found by the `csirec` fuzz target: an entry whose bincode body claims a 2.4 GB vector. It must
/// be refused by the decode limit before anything of that size is allocated.
#[test]
fn fuzz_regression_hostile_length_prefix_is_bounded() {
    let data: &[u8] = include_bytes!("data/csirec_oom_regression.bin");
    // the header is refused as damaged (the entries after it would still be read)
    let msg = match RecordingReader::new(Box::new(Cursor::new(data.to_vec())), &Default::default())
    {
        Err(e) => e.to_string(),
        Ok(mut r) => match r.next_record() {
            Some(Err(e)) => e.to_string(),
            other => panic!("the header of the fuzz input must be refused: {other:?}"),
        },
    };
    assert!(
        msg.contains("decode limit") || msg.contains("Limit"),
        "the length must be refused by the decode limit: {msg}"
    );
}

/// Found while reviewing what the `csirec` fuzz corpus reaches (no crash): a version 2 frame with
/// no CSI values (one axis 0) whose other axis claims 4 billion subcarriers. The product check
/// alone let it through as an empty array with a huge axis for later stages to size buffers by;
/// every axis is now held to the CSI value limit (in version 1 entries too).
#[test]
fn fuzz_regression_empty_csi_with_a_huge_axis_is_refused() {
    let f = CsiFrame::new(
        CaptureFormat::Simulated,
        Device::Simulator,
        Array3::zeros((0, 1, 4)),
    );
    let mut bytes = write_version(&[Record::Frame(f)], 2);
    let header_len = write_version(&[], 2).len();
    // the entry ends with u32 rx, u32 tx, u32 subcarriers, u8 encoding (and no values)
    let n = bytes.len();
    bytes[n - 5..n - 1].copy_from_slice(&u32::MAX.to_le_bytes());
    fix_crcs(&mut bytes, header_len);
    let (back, err) = read_all(bytes);
    assert!(back.is_empty(), "{back:?}");
    let msg = err.expect("the shape must be refused").to_string();
    assert!(msg.contains("over the limit"), "{msg}");
}

/// Entries reach the output in batches of at least `WRITE_BATCH` bytes; `flush`, `into_inner`
/// and dropping the writer write what is pending, and a failing output is reported.
#[test]
fn entries_are_written_in_batches_and_flushed() {
    let header = RecordingHeader::new("t", "");
    // no subcarrier list: every entry has the same size
    let frame = Record::Frame(CsiFrame {
        subcarriers: None,
        ..zero_frame(64)
    });
    let head_len = RecordingWriter::new(Vec::new(), &header)
        .unwrap()
        .into_inner()
        .unwrap()
        .len();
    let mut buf = Vec::new();
    let mut w = RecordingWriter::new(&mut buf, &header).unwrap();
    w.write(&frame).unwrap();
    w.flush().unwrap();
    drop(w);
    let entry = buf.len() - head_len;
    let per_batch = recording::WRITE_BATCH.div_ceil(entry);

    let mut buf = Vec::new();
    let mut w = RecordingWriter::new(&mut buf, &header).unwrap();
    for _ in 0..per_batch - 1 {
        w.write(&frame).unwrap();
    }
    // into_inner writes what is pending
    let out = w.into_inner().unwrap();
    assert_eq!(out.len(), head_len + (per_batch - 1) * entry);

    // a full batch goes out without a flush
    let sink = SharedBuf::default();
    let mut w = RecordingWriter::new(sink.clone(), &header).unwrap();
    for _ in 0..per_batch - 1 {
        w.write(&frame).unwrap();
    }
    assert_eq!(sink.len(), head_len);
    w.write(&frame).unwrap();
    assert_eq!(sink.len(), head_len + per_batch * entry);
    w.write(&frame).unwrap();
    assert_eq!(sink.len(), head_len + per_batch * entry);
    // dropping writes the rest
    drop(w);
    assert_eq!(sink.len(), head_len + (per_batch + 1) * entry);
    let (back, err) = read_all(sink.0.borrow().clone());
    assert!(err.is_none());
    assert_eq!(back.len(), per_batch + 1);
    assert!(back.iter().all(|r| *r == frame));
    sink.0.borrow_mut().clear();

    // an output that fails: the error comes from flush
    let mut w = RecordingWriter::new(Failing(0), &header).unwrap();
    w.write(&frame).unwrap();
    assert!(
        matches!(w.flush(), Err(Error::Io { .. })),
        "flush reports it"
    );
}

#[derive(Clone, Default)]
struct SharedBuf(std::rc::Rc<std::cell::RefCell<Vec<u8>>>);

impl SharedBuf {
    fn len(&self) -> usize {
        self.0.borrow().len()
    }
}

impl std::io::Write for SharedBuf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Accepts the header (its first write), then fails.
struct Failing(usize);

impl std::io::Write for Failing {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0 += 1;
        if self.0 == 1 {
            Ok(b.len())
        } else {
            Err(std::io::Error::other("disk full"))
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The offsets at which the entries of a file written by [`write_version`] start, and the end.
fn entry_starts(bytes: &[u8]) -> Vec<usize> {
    let mut at = write_version(&[], 2).len();
    let mut v = vec![at];
    while at + 8 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        at += 8 + len;
        v.push(at);
    }
    v
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// A damaged length field loses its own entry and no other: the reader finds the next
    /// entry whose CRC checks and goes on from there, reporting one recoverable error.
    #[test]
    fn a_damaged_length_loses_only_its_entry(
        frames in proptest::collection::vec(arb_frame(), 2..8),
        which in any::<prop::sample::Index>(),
        flip in 1u32..,
    ) {
        let recs: Vec<Record> = frames.into_iter().map(Record::Frame).collect();
        let mut bytes = write_version(&recs, 2);
        let starts = entry_starts(&bytes);
        let k = which.index(recs.len());
        let at = starts[k];
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
        let bad = len ^ flip;
        // a length that happens to end on a later entry's start reads as one longer entry,
        // which only the CRC can refuse (covered by the CRC tests)
        prop_assume!(!starts.contains(&(at + 8 + bad as usize)));
        bytes[at..at + 4].copy_from_slice(&bad.to_le_bytes());
        let (back, err) = read_all(bytes);
        let mut want = recs.clone();
        want.remove(k);
        prop_assert_eq!(back, want);
        let e = err.expect("the damage is reported");
        prop_assert!(e.is_recoverable() || k + 1 == recs.len(), "{e}");
    }

    /// The same for any damaged run of bytes inside one entry (format version 3 included): what
    /// reads back is the entries in order with the damaged one left out, each bit for bit.
    #[test]
    fn a_damaged_run_inside_one_entry_loses_only_that_entry(
        frames in proptest::collection::vec(arb_frame(), 2..8),
        which in any::<prop::sample::Index>(),
        from in any::<prop::sample::Index>(),
        run in 1usize..64,
        fill in any::<u8>(),
        version in 2u16..=3,
    ) {
        let recs: Vec<Record> = frames.into_iter().map(Record::Frame).collect();
        let mut bytes = write_version(&recs, version);
        let starts = entry_starts(&bytes);
        let k = which.index(recs.len());
        let (a, b) = (starts[k], starts[k + 1]);
        let s = a + from.index(b - a);
        let e = (s + run).min(b);
        let before = bytes[s..e].to_vec();
        bytes[s..e].iter_mut().for_each(|x| *x = fill);
        prop_assume!(bytes[s..e] != before[..]);
        let (back, _) = read_all(bytes);
        // version 3 frames after the damaged one may refer to a subcarrier list it stated:
        // those are refused (reported), never read with another list
        let mut it = back.iter();
        let mut next = it.next();
        for (i, r) in recs.iter().enumerate() {
            if Some(r) == next {
                next = it.next();
            } else {
                prop_assert!(
                    i == k || version == 3,
                    "entry {} of {} missing (damaged {})", i, recs.len(), k
                );
            }
        }
        prop_assert!(next.is_none(), "an entry read back that was not written");
        if version == 2 {
            prop_assert_eq!(back.len(), recs.len() - 1);
        }
    }
}

#[test]
fn a_zeroed_block_across_two_entries_loses_those_two() {
    let recs: Vec<Record> = (0..6).map(|i| Record::Frame(zero_frame(8 + i))).collect();
    let mut bytes = write_version(&recs, 2);
    let starts = entry_starts(&bytes);
    // from the middle of entry 2 to the middle of entry 3, as a zeroed disk block would
    let (s, e) = ((starts[2] + starts[3]) / 2, (starts[3] + starts[4]) / 2);
    bytes[s..e].iter_mut().for_each(|x| *x = 0);
    let mut cap = Registry::builtin()
        .open_read(Box::new(Cursor::new(bytes)), Some("mem"), None, None)
        .unwrap()
        .skip_malformed(true);
    let back: Vec<_> = (&mut cap).collect::<Result<_, _>>().unwrap();
    let want: Vec<_> = [0, 1, 4, 5]
        .iter()
        .map(|&i| match &recs[i] {
            Record::Frame(f) => f.clone(),
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(back, want);
    let st = cap.stats();
    assert_eq!(st.malformed, 1, "{:?}", st.issues);
    let msg = &st.issues[0].message;
    assert!(
        msg.contains("skipped") && msg.contains("next entry that checks"),
        "{msg}"
    );
    // the two lost entries, estimated from the average length of the two read before them
    let skipped = starts[4] - starts[2];
    assert!(
        msg.contains(&format!("skipped {skipped} bytes (about 2 entries")),
        "{msg}"
    );
}

#[test]
fn garbage_after_a_damaged_entry_stops_reading_with_a_clear_error() {
    let recs: Vec<Record> = (0..2).map(|i| Record::Frame(zero_frame(8 + i))).collect();
    let mut bytes = write_version(&recs, 2);
    let starts = entry_starts(&bytes);
    // the second entry's CRC is wrong and nothing after it reads as an entry
    bytes[starts[1] + 4] ^= 0xFF;
    bytes.extend_from_slice(&[0xAB; 300]);
    let (back, err) = read_all(bytes);
    assert_eq!(back, recs[..1].to_vec());
    let msg = err.unwrap().to_string();
    assert!(msg.contains("no entry that checks follows"), "{msg}");
}
