//! Native recording: lossless round trip (proptest), cut files, corrupt entries, bad headers.

use std::io::Cursor;

use ndarray::Array3;
use num_complex::Complex32;
use proptest::prelude::*;
use wifi_sensing_core::formats::adr018::EdgeVitals;
use wifi_sensing_core::formats::esp32::Esp32Meta;
use wifi_sensing_core::recording::{RecordingHeader, RecordingReader, RecordingWriter};
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
    let mut buf = Vec::new();
    let mut w = RecordingWriter::new(&mut buf, &RecordingHeader::new("test", "{\"k\":1}")).unwrap();
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

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

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
    let mut v = b"WSCSIREC".to_vec();
    v.extend_from_slice(&1u16.to_le_bytes());
    v.extend_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(bad(v), Error::LimitExceeded { .. }));
}

#[test]
fn huge_entry_length_is_refused_without_allocation() {
    let mut full = write_all(&[]);
    full.extend_from_slice(&u32::MAX.to_le_bytes());
    full.extend_from_slice(&0u32.to_le_bytes());
    let (back, err) = read_all(full);
    assert!(back.is_empty());
    assert!(matches!(err, Some(Error::LimitExceeded { .. })));
}

#[test]
fn header_is_kept() {
    let bytes = write_all(&[]);
    let r = RecordingReader::new(Box::new(Cursor::new(bytes)), &Default::default()).unwrap();
    assert_eq!(r.header().source, "test");
    assert_eq!(r.header().config, "{\"k\":1}");
    assert_eq!(r.header().format_version, 1);
}

/// Found by the `csirec` fuzz target: an entry whose bincode body claims a 2.4 GB vector. It must
/// be refused by the decode limit before anything of that size is allocated.
#[test]
fn fuzz_regression_hostile_length_prefix_is_bounded() {
    let data: &[u8] = include_bytes!("data/csirec_oom_regression.bin");
    let msg = match RecordingReader::new(Box::new(Cursor::new(data.to_vec())), &Default::default())
    {
        Err(e) => e.to_string(),
        Ok(_) => panic!("the header of the fuzz input must be refused"),
    };
    assert!(
        msg.contains("Limit"),
        "the length must be refused by the decode limit: {msg}"
    );
}
