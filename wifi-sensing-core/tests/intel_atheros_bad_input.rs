//! Bad-input corpus for the Intel 5300 and Atheros readers: each input gives a clear error with a
//! byte offset or a counted skip, never a panic or an endless loop.

mod common;

use std::io::Cursor;

use common::drain;

use wifi_sensing_core::formats::atheros::{self, AtherosReader, Endianness};
use wifi_sensing_core::formats::intel5300::{self, bfee_payload_len, Intel5300Reader};
use wifi_sensing_core::{CaptureFormat, Error, ReaderOptions, Record, Registry};

fn intel(bytes: &[u8]) -> (Vec<Result<Record, Error>>, intel5300::RecordCounts) {
    let mut r = Intel5300Reader::new(
        Box::new(Cursor::new(bytes.to_vec())),
        &ReaderOptions::default(),
    );
    let items = drain(&mut r, bytes.len() + 2);
    (items, r.counts().clone())
}

/// A valid bfee record (length field, code, body) with Nrx x Ntx streams.
fn bfee(nrx: u8, ntx: u8) -> Vec<u8> {
    let len = bfee_payload_len(nrx.into(), ntx.into());
    let mut body = vec![0u8; 20 + len];
    body[8] = nrx;
    body[9] = ntx;
    body[10] = 35;
    body[15] = 0b10_01_00;
    body[16..18].copy_from_slice(&(len as u16).to_le_bytes());
    for (k, b) in body[20..].iter_mut().enumerate() {
        *b = (k * 37 % 251) as u8;
    }
    let mut r = ((body.len() + 1) as u16).to_be_bytes().to_vec();
    r.push(0xBB);
    r.extend(body);
    r
}

fn frames(items: &[Result<Record, Error>]) -> usize {
    items
        .iter()
        .filter(|x| matches!(x, Ok(Record::Frame(_))))
        .count()
}

#[test]
fn intel_empty_input_gives_nothing() {
    let (items, counts) = intel(&[]);
    assert!(items.is_empty());
    assert_eq!(counts, intel5300::RecordCounts::default());
    // an empty `.dat` is an Intel 5300 recording without records (FORMATS.md §8)
    let mut cap = Registry::builtin()
        .open_read(Box::new(Cursor::new(Vec::new())), None, Some("dat"), None)
        .unwrap();
    assert_eq!(cap.format(), CaptureFormat::Intel5300);
    assert!(cap.next().is_none());
    assert_eq!(cap.stats().malformed, 0);
    // without an extension the registry does not claim an empty input
    let e = Registry::builtin().open_read(Box::new(Cursor::new(Vec::new())), None, None, None);
    assert!(matches!(e, Err(Error::UnknownFormat { .. })));
    // forced, it opens and gives nothing
    let mut cap = Registry::builtin()
        .open_read(
            Box::new(Cursor::new(Vec::new())),
            None,
            None,
            Some(CaptureFormat::Intel5300),
        )
        .unwrap();
    assert!(cap.next().is_none());
}

#[test]
fn intel_truncated_at_every_byte() {
    let mut file = bfee(3, 2);
    let first = file.len();
    file.extend(bfee(2, 1));
    for cut in 0..file.len() {
        let (items, counts) = intel(&file[..cut]);
        let want_frames = usize::from(cut >= first);
        assert_eq!(frames(&items), want_frames, "cut {cut}");
        let partial = if cut >= first { cut - first } else { cut };
        if partial == 0 {
            assert_eq!(items.len(), want_frames, "cut {cut}");
            continue;
        }
        match items.last() {
            Some(Err(Error::Truncated {
                offset, available, ..
            })) => {
                assert_eq!(*offset as usize, cut - partial, "cut {cut}");
                assert_eq!(*available as usize, partial, "cut {cut}");
                assert_eq!(counts.trailing_partial_bytes as usize, partial);
            }
            other => panic!("cut {cut}: {other:?}"),
        }
    }
}

#[test]
fn intel_zero_length_records_are_malformed_not_passed_over() {
    let mut file = vec![0, 0, 0, 0];
    file.extend(bfee(1, 1));
    let (items, counts) = intel(&file);
    assert_eq!(items.len(), 3);
    for (k, it) in items[..2].iter().enumerate() {
        let e = it.as_ref().unwrap_err();
        assert!(e.is_recoverable());
        assert_eq!(e.offset(), Some(2 * k as u64));
        assert!(e.to_string().contains("field_len = 0"), "{e}");
    }
    assert!(matches!(items[2], Ok(Record::Frame(_))));
    assert_eq!((counts.other, counts.malformed, counts.bfee), (0, 2, 1));
}

/// `head -c 30000 /dev/zero`: 15000 zero-length records, each one malformed record (with its
/// offset) and none passed over, through the registry as a user reads a `.dat`.
#[test]
fn intel_zeros_are_malformed_records_only() {
    let mut cap = Registry::builtin()
        .open_read(
            Box::new(Cursor::new(vec![0u8; 30_000])),
            Some("zeros.dat"),
            None,
            Some(CaptureFormat::Intel5300),
        )
        .unwrap()
        .skip_malformed(true);
    assert!(cap.next().is_none());
    let stats = cap.stats();
    assert_eq!(stats.frames, 0);
    assert_eq!(stats.malformed, 15_000);
    assert_eq!(stats.passed_over, 0);

    let (items, counts) = intel(&[0u8; 30_000]);
    assert_eq!(items.len(), 15_000);
    assert_eq!(
        items.last().unwrap().as_ref().unwrap_err().offset(),
        Some(29_998)
    );
    assert_eq!((counts.other, counts.malformed), (0, 15_000));
}

#[test]
fn intel_length_past_the_end() {
    let mut file = bfee(1, 1);
    file.extend([0xFF, 0xFF, 0xBB, 1, 2, 3]);
    let (items, _) = intel(&file);
    assert_eq!(frames(&items), 1);
    match items.last() {
        Some(Err(Error::Truncated {
            offset,
            needed,
            available,
            ..
        })) => assert_eq!(
            (*offset, *needed, *available),
            (file.len() as u64 - 6, 65537, 6)
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn intel_unknown_codes_are_skipped_by_length() {
    let mut file = vec![0, 3, 0x77, 9, 9];
    file.extend(bfee(2, 2));
    file.extend([0, 1, 0xEE]);
    let (items, counts) = intel(&file);
    assert_eq!(items.len(), 1);
    assert_eq!(frames(&items), 1);
    assert_eq!(counts.other, 2);
}

#[test]
fn intel_absurd_antenna_counts_and_len() {
    for (nrx, ntx) in [(0u8, 1u8), (4, 1), (1, 0), (200, 200)] {
        let mut rec = bfee(1, 1);
        rec[3 + 8] = nrx;
        rec[3 + 9] = ntx;
        let mut file = rec;
        file.extend(bfee(1, 1));
        let (items, counts) = intel(&file);
        let e = items[0].as_ref().unwrap_err();
        assert!(e.is_recoverable() && e.offset() == Some(0), "{e}");
        assert!(e.to_string().contains("Nrx"), "{e}");
        assert!(
            matches!(items[1], Ok(Record::Frame(_))),
            "the next record is still read"
        );
        assert_eq!(counts.malformed, 1);
    }
    // len field that disagrees with Nrx x Ntx
    let mut rec = bfee(2, 2);
    rec[3 + 16] ^= 4;
    let (items, _) = intel(&rec);
    let e = items[0].as_ref().unwrap_err();
    assert!(
        e.is_recoverable() && e.to_string().contains("len field"),
        "{e}"
    );
    // field_len too short for the payload its header announces
    let mut rec = bfee(3, 3);
    rec.truncate(100);
    rec[0..2].copy_from_slice(&98u16.to_be_bytes());
    let (items, _) = intel(&rec);
    assert!(items[0].as_ref().unwrap_err().is_recoverable());
    // short 0xC1 record
    let (items, counts) = intel(&[0, 5, 0xC1, 1, 2, 3, 4]);
    assert!(items[0]
        .as_ref()
        .unwrap_err()
        .to_string()
        .contains("MAC header"));
    assert_eq!(counts.mac_header, 1);
}

#[test]
fn intel_python_script_has_no_bfee() {
    let script =
        b"#!/usr/bin/env python3\nimport numpy as np\n\ndef main():\n    print('csi')\n\nmain()\n";
    assert_eq!((intel5300::descriptor().probe)(script), 0);
    let (items, counts) = intel(script);
    assert_eq!(frames(&items), 0);
    assert_eq!(counts.bfee, 0);
    let e = Registry::builtin().open_read(
        Box::new(Cursor::new(script.to_vec())),
        None,
        Some("dat"),
        None,
    );
    assert!(matches!(e, Err(Error::UnknownFormat { .. })));
}

#[test]
fn intel_record_limit_is_enforced_before_reading() {
    let mut opts = ReaderOptions::default();
    opts.limits.max_record_bytes = 100;
    let mut r = Intel5300Reader::new(Box::new(Cursor::new(bfee(3, 3))), &opts);
    let items = drain(&mut r, 4);
    assert!(matches!(
        items[..],
        [Err(Error::LimitExceeded { offset: 0, .. })]
    ));
}

fn ath_record(order: Endianness, tones: u8, nr: u8, nc: u8, payload: usize) -> Vec<u8> {
    let csi_len = atheros::csi_bytes(tones.into(), nr.into(), nc.into());
    let w = |v: u16| match order {
        Endianness::Little => v.to_le_bytes(),
        Endianness::Big => v.to_be_bytes(),
    };
    let mut b = w((25 + csi_len + payload) as u16).to_vec();
    b.extend([0u8; 8]);
    b.extend(w(csi_len as u16));
    b.extend(w(5180));
    b.extend([0, 0, 0x8f, 0, tones, nr, nc, 40, 30, 31, 32]);
    b.extend(w(payload as u16));
    b.extend((0..csi_len).map(|k| (k * 13 % 256) as u8));
    b.extend(vec![0xAA; payload]);
    b
}

fn ath(
    bytes: &[u8],
    opts: &ReaderOptions,
) -> Result<(Vec<Result<Record, Error>>, atheros::AtherosCounts), Error> {
    let mut r = AtherosReader::new(Box::new(Cursor::new(bytes.to_vec())), opts)?;
    let items = drain(&mut r, bytes.len() + 2);
    Ok((items, r.counts().clone()))
}

#[test]
fn atheros_empty_input_gives_nothing() {
    let (items, _) = ath(&[], &ReaderOptions::default()).unwrap();
    assert!(items.is_empty());
    assert_eq!((atheros::descriptor().probe)(&[]), 0);
}

#[test]
fn atheros_truncated_at_every_byte() {
    let one = ath_record(Endianness::Little, 56, 2, 2, 30);
    let mut file = one.clone();
    file.extend(&one);
    for cut in 1..file.len() {
        let Ok((items, _)) = ath(&file[..cut], &ReaderOptions::default()) else {
            panic!("cut {cut}: open failed");
        };
        let want = usize::from(cut >= one.len());
        assert_eq!(frames(&items), want, "cut {cut}");
        let partial = cut - want * one.len();
        if partial > 0 {
            match items.last() {
                Some(Err(Error::Truncated {
                    offset, available, ..
                })) => {
                    assert_eq!(
                        (*offset as usize, *available as usize),
                        (want * one.len(), partial),
                        "cut {cut}"
                    )
                }
                other => panic!("cut {cut}: {other:?}"),
            }
        }
    }
}

#[test]
fn atheros_garbage_start_is_an_invalid_header() {
    let e = ath(&[0x5Au8; 64], &ReaderOptions::default()).unwrap_err();
    assert!(matches!(e, Error::InvalidHeader { offset: 0, .. }), "{e}");
    let e = Registry::builtin()
        .open_read(
            Box::new(Cursor::new(vec![0x5Au8; 64])),
            None,
            None,
            Some(CaptureFormat::Atheros),
        )
        .unwrap_err();
    assert!(e.to_string().contains("Atheros"), "{e}");
}

#[test]
fn atheros_bad_records_are_malformed_and_skipped() {
    let good = ath_record(Endianness::Little, 56, 1, 1, 0);
    // nr out of range
    let mut bad_nr = ath_record(Endianness::Little, 56, 1, 1, 0);
    bad_nr[2 + 17] = 9;
    // csi_len shorter than the tones need (field_len kept consistent)
    let mut short = ath_record(Endianness::Little, 56, 2, 1, 0);
    short[2 + 17] = 3;
    // field_len below the status size
    let tiny = vec![4u8, 0, 1, 2, 3, 4];
    // field_len inconsistent with csi_len + payload_len
    let mut incons = ath_record(Endianness::Little, 56, 1, 1, 10);
    incons[2 + 23] = 3;
    for (what, bad, needle) in [
        ("nr", bad_nr, "nr = 9"),
        ("short csi", short, "csi_len"),
        ("tiny", tiny, "shorter than"),
        ("inconsistent", incons, "field_len"),
    ] {
        let mut file = good.clone();
        file.extend(&bad);
        file.extend(&good);
        let (items, counts) = ath(&file, &ReaderOptions::default()).unwrap();
        assert_eq!(items.len(), 3, "{what}");
        let e = items[1].as_ref().unwrap_err();
        assert!(e.is_recoverable(), "{what}: {e}");
        assert_eq!(e.offset(), Some(good.len() as u64), "{what}");
        assert!(e.to_string().contains(needle), "{what}: {e}");
        assert_eq!(frames(&items), 2, "{what}");
        assert_eq!(counts.malformed, 1);
    }
}

#[test]
fn atheros_limits() {
    let mut opts = ReaderOptions::default();
    opts.limits.max_csi_values = 50;
    let (items, _) = ath(&ath_record(Endianness::Big, 56, 1, 1, 0), &opts).unwrap();
    assert!(matches!(items[..], [Err(Error::LimitExceeded { .. })]));
    opts.limits = Default::default();
    opts.limits.max_record_bytes = 64;
    let (items, _) = ath(&ath_record(Endianness::Little, 56, 1, 1, 0), &opts).unwrap();
    assert!(matches!(
        items[..],
        [Err(Error::LimitExceeded { offset: 0, .. })]
    ));
}

#[test]
fn registry_picks_each_format_from_bytes() {
    let mut intel_file = bfee(3, 1);
    intel_file.extend(bfee(3, 1));
    let mut ath_file = ath_record(Endianness::Big, 114, 3, 3, 100);
    ath_file.extend(ath_record(Endianness::Big, 114, 3, 3, 100));
    for (bytes, want) in [
        (intel_file, CaptureFormat::Intel5300),
        (ath_file, CaptureFormat::Atheros),
    ] {
        for ext in [None, Some("dat")] {
            let mut cap = Registry::builtin()
                .open_read(Box::new(Cursor::new(bytes.clone())), None, ext, None)
                .unwrap();
            assert_eq!(cap.format(), want);
            assert_eq!(cap.by_ref().filter(|x| x.is_ok()).count(), 2);
        }
    }
}
