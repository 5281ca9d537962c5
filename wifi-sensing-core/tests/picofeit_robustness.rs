//! PicoScenes and FeitCSI readers on hostile input: arbitrary bytes, mutated and cut real files.
//! Nothing may panic, every stream must end, and errors must carry an offset.

mod common;

use std::io::Cursor;

use proptest::prelude::*;
use wifi_sensing_core::formats::feitcsi::FeitCsiReader;
use wifi_sensing_core::formats::picoscenes::PicoScenesReader;
use wifi_sensing_core::{CaptureFormat, CaptureReader, Error, ReaderOptions, Record, Registry};

/// What a reader gave: (records, errors).
type Drained = (Vec<Record>, Vec<Error>);

/// Drains a reader; returns (frames, errors). Fails if it yields more records than could exist.
fn drain(r: &mut impl CaptureReader, input_len: usize) -> Drained {
    let (mut frames, mut errors) = (Vec::new(), Vec::new());
    let bound = input_len / 4 + 2;
    let mut n = 0;
    while let Some(rec) = r.next_record() {
        n += 1;
        assert!(
            n <= bound,
            "more than {bound} records from {input_len} bytes"
        );
        match rec {
            Ok(f) => frames.push(f),
            Err(e) => {
                assert!(e.offset().is_some(), "error without offset: {e}");
                let fatal = !e.is_recoverable();
                errors.push(e);
                if fatal {
                    assert!(r.next_record().is_none(), "records after a fatal error");
                    break;
                }
            }
        }
    }
    assert!(r.position() <= input_len as u64);
    (frames, errors)
}

fn pico(bytes: &[u8]) -> Drained {
    drain(
        &mut PicoScenesReader::new(Cursor::new(bytes.to_vec()), &ReaderOptions::default()),
        bytes.len(),
    )
}

fn feit(bytes: &[u8]) -> Drained {
    drain(
        &mut FeitCsiReader::new(Cursor::new(bytes.to_vec()), &ReaderOptions::default()),
        bytes.len(),
    )
}

fn via_registry(bytes: &[u8], format: Option<CaptureFormat>) {
    if let Ok(mut cap) = Registry::builtin().open_read(
        Box::new(Cursor::new(bytes.to_vec())),
        None,
        Some("csi"),
        format,
    ) {
        let mut n = 0;
        while let Some(_r) = cap.next_record() {
            n += 1;
            assert!(n <= bytes.len() / 4 + 2);
        }
    }
}

fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(common::fixtures().join(path)).unwrap()
}

/// The first `keep` bytes of the fixture at `path` with `flips` written over them, read whole and
/// cut at `cut` by `read`, and the cut copy through the registry (none may panic or run away).
fn read_mutated(
    path: &str,
    keep: usize,
    flips: &[(prop::sample::Index, u8)],
    cut: prop::sample::Index,
    read: fn(&[u8]) -> Drained,
) {
    let mut b = fixture(path);
    b.truncate(keep);
    for (i, v) in flips {
        let k = i.index(b.len());
        b[k] = *v;
    }
    read(&b);
    let c = cut.index(b.len());
    read(&b[..c]);
    via_registry(&b[..c], None);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        pico(&bytes);
        feit(&bytes);
        via_registry(&bytes, None);
        via_registry(&bytes, Some(CaptureFormat::PicoScenes));
        via_registry(&bytes, Some(CaptureFormat::FeitCsi));
    }

    /// Bytes that start like a PicoScenes frame (magic, version, segment count) so the segment
    /// walk and CSI decoders are exercised rather than the magic check.
    #[test]
    fn picoscenes_shaped_bytes_never_panic(
        nseg in 0u8..6,
        body in proptest::collection::vec(any::<u8>(), 0..1500),
    ) {
        let mut f = Vec::new();
        f.extend_from_slice(&0x2015_0315u32.to_le_bytes());
        f.extend_from_slice(&1u16.to_le_bytes());
        f.push(nseg);
        f.extend_from_slice(&body);
        let mut input = (f.len() as u32).to_le_bytes().to_vec();
        input.extend(f);
        // one frame: delivered, reported as an error, or passed over (no CSI segment)
        let mut r = PicoScenesReader::new(Cursor::new(input.clone()), &ReaderOptions::default());
        let (frames, errors) = drain(&mut r, input.len());
        prop_assert_eq!(frames.len() + errors.len() + r.passed_over() as usize, 1);
    }

    #[test]
    fn mutated_picoscenes_fixture_never_panics(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..12),
        cut in any::<prop::sample::Index>(),
    ) {
        read_mutated("picoscenes/picoscenes_iwl5300_example.csi", 20_000, &flips, cut, pico);
    }

    #[test]
    fn mutated_feitcsi_fixture_never_panics(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..12),
        cut in any::<prop::sample::Index>(),
    ) {
        read_mutated("feitcsi/HT20_2452.csi", 8_000, &flips, cut, feit);
    }

    /// Cutting a valid file anywhere yields exactly the complete records before the cut, then
    /// one Truncated error (none when the cut falls on a record boundary).
    #[test]
    fn cut_file_gives_complete_records_then_truncated(cut in any::<prop::sample::Index>()) {
        for (path, is_pico) in [("picoscenes/picoscenes_iwl5300_example.csi", true), ("feitcsi/HT20_2452.csi", false)] {
            let b = fixture(path);
            let (all, errs) = if is_pico { pico(&b) } else { feit(&b) };
            prop_assert!(errs.is_empty());
            // record boundaries
            let mut ends = Vec::new();
            let mut p = 0usize;
            while p < b.len() {
                let len = u32::from_le_bytes(b[p..p + 4].try_into().unwrap()) as usize;
                p += if is_pico { 4 + len } else { 272 + len };
                ends.push(p);
            }
            let c = cut.index(b.len());
            let (frames, errors) = if is_pico { pico(&b[..c]) } else { feit(&b[..c]) };
            let complete = ends.iter().filter(|&&e| e <= c).count();
            prop_assert_eq!(frames.len(), complete);
            prop_assert_eq!(&frames[..], &all[..complete]);
            if ends.contains(&c) || c == 0 {
                prop_assert!(errors.is_empty());
            } else {
                prop_assert_eq!(errors.len(), 1);
                let start = if complete == 0 { 0 } else { ends[complete - 1] } as u64;
                prop_assert!(matches!(errors[0], Error::Truncated { offset, .. } if offset == start), "{:?}", errors[0]);
            }
        }
    }
}

#[test]
fn empty_input_gives_nothing() {
    assert_eq!(pico(&[]).0.len() + pico(&[]).1.len(), 0);
    assert_eq!(feit(&[]).0.len() + feit(&[]).1.len(), 0);
}

#[test]
fn foreign_bytes_are_not_taken_for_either_format() {
    let reg = Registry::builtin();
    for bytes in [
        b"CSI_DATA,STA,1,2,3\n".to_vec(),
        vec![0u8; 4096],
        vec![0xFF; 4096],
    ] {
        let r = reg.probe(&bytes, Some("csi"));
        assert!(
            r.is_none_or(
                |d| d.format != CaptureFormat::PicoScenes && d.format != CaptureFormat::FeitCsi
            ),
            "{r:?}"
        );
    }
}
