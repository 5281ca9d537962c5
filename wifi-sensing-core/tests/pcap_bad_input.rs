//! Bad-input corpus and property tests for the pcap / pcapng reader and the Nexmon decoder:
//! every bad input gives a clear error with a byte offset (or a counted skip), never a panic.

mod common;

use std::net::Ipv4Addr;

use common::fixtures;
use proptest::prelude::*;
use wifi_sensing_core::formats::nexmon::{self, NexmonOptions, PacketInfo};
use wifi_sensing_core::formats::pcap::{
    parse_udp, PcapPackets, PcapReader, PcapWriter, TsResolution, LINKTYPE_ETHERNET, LINKTYPE_IPV4,
    LINKTYPE_IPV6, LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2, LINKTYPE_LOOP, LINKTYPE_NULL,
    LINKTYPE_RAW,
};
use wifi_sensing_core::{
    CaptureFormat, CaptureReader, Error, Limits, ReaderOptions, Record, Registry, Result,
};

fn pcap_header(linktype: u32) -> Vec<u8> {
    let mut h = 0xA1B2_C3D4u32.to_le_bytes().to_vec();
    h.extend_from_slice(&[2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    h.extend_from_slice(&65535u32.to_le_bytes());
    h.extend_from_slice(&linktype.to_le_bytes());
    h
}

fn record(out: &mut Vec<u8>, data: &[u8]) {
    out.extend_from_slice(&[1, 0, 0, 0, 2, 0, 0, 0]);
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(data);
}

fn udp_frame(payload: &[u8], dport: u16) -> Vec<u8> {
    let mut w = PcapWriter::new(Vec::new(), TsResolution::Micro).unwrap();
    w.write_udp(
        0,
        Ipv4Addr::new(10, 0, 0, 1),
        Ipv4Addr::new(10, 0, 0, 2),
        1234,
        dport,
        payload,
    )
    .unwrap();
    w.into_inner().unwrap()[40..].to_vec()
}

/// Reads everything through the registry as pcap; returns (records, errors).
fn read_all(bytes: Vec<u8>, options: ReaderOptions) -> (Vec<Record>, Vec<Error>) {
    let mut recs = Vec::new();
    let mut errs = Vec::new();
    match Registry::builtin().with_options(options).open_read(
        Box::new(std::io::Cursor::new(bytes)),
        None,
        None,
        Some(CaptureFormat::Pcap),
    ) {
        Ok(mut cap) => {
            for r in cap.records() {
                match r {
                    Ok(r) => recs.push(r),
                    Err(e) => errs.push(e),
                }
            }
        }
        Err(e) => errs.push(e),
    }
    (recs, errs)
}

fn one_error(bytes: Vec<u8>) -> Error {
    let (recs, mut errs) = read_all(bytes, ReaderOptions::default());
    assert!(recs.is_empty(), "{recs:?}");
    assert_eq!(errs.len(), 1, "{errs:?}");
    errs.pop().unwrap()
}

#[test]
fn empty_input() {
    let e = one_error(Vec::new());
    assert!(
        matches!(
            e,
            Error::Truncated {
                offset: 0,
                available: 0,
                ..
            }
        ),
        "{e}"
    );
    // An empty `.pcap` opens as pcap (the extension names it), whose reader reports the missing
    // file header; with no extension, probing an empty input finds no format.
    let e = Registry::builtin()
        .open_read(Box::new(std::io::empty()), None, Some("pcap"), None)
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::Truncated {
                format: CaptureFormat::Pcap,
                offset: 0,
                ..
            }
        ),
        "{e}"
    );
    let e = Registry::builtin()
        .open_read(Box::new(std::io::empty()), None, None, None)
        .unwrap_err();
    assert!(matches!(e, Error::UnknownFormat { .. }), "{e}");
}

#[test]
fn truncated_file_header() {
    let h = pcap_header(1);
    let e = one_error(h[..10].to_vec());
    assert!(
        matches!(
            e,
            Error::Truncated {
                offset: 0,
                needed: 24,
                available: 10,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn wrong_magic_and_version() {
    let e = one_error(b"CSI_DATA,STA,00:00".to_vec());
    assert!(matches!(e, Error::InvalidHeader { offset: 0, .. }), "{e}");
    assert!(e.to_string().contains("not a pcap or pcapng"), "{e}");
    let mut h = pcap_header(1);
    h[4] = 3;
    let e = one_error(h);
    assert!(matches!(e, Error::InvalidHeader { offset: 4, .. }), "{e}");
}

#[test]
fn truncated_packet_record_header_and_data() {
    let frame = udp_frame(&[0xAB; 30], 9);
    let mut b = pcap_header(1);
    record(&mut b, &frame);
    let full = b.len();
    b.extend_from_slice(&[1, 0, 0, 0, 2, 0, 0, 0]);
    let (recs, errs) = read_all(b.clone(), ReaderOptions::default());
    assert!(recs.is_empty());
    assert!(
        matches!(errs[..], [Error::Truncated { offset, needed: 16, available: 8, .. }] if offset == full as u64),
        "{errs:?}"
    );
    // Record header complete, data cut.
    b.truncate(full);
    record(&mut b, &frame);
    b.truncate(b.len() - 5);
    let (_, errs) = read_all(b, ReaderOptions::default());
    let needed = 16 + frame.len() as u64;
    assert!(
        matches!(errs[..], [Error::Truncated { offset, needed: n, available, .. }] if offset == full as u64 && n == needed && available == needed - 5),
        "{errs:?}"
    );
}

#[test]
fn huge_caplen_is_limited_not_allocated() {
    let mut b = pcap_header(1);
    b.extend_from_slice(&[0; 8]);
    b.extend_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
    b.extend_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
    b.extend_from_slice(&[0; 64]);
    let e = one_error(b);
    assert!(
        matches!(
            e,
            Error::LimitExceeded {
                offset: 32,
                value: 0xFFFF_FFF0,
                ..
            }
        ),
        "{e}"
    );
    // A small configured limit applies to ordinary packets too, and ends the stream.
    let mut b = pcap_header(1);
    record(&mut b, &udp_frame(&[1; 10], 9));
    record(&mut b, &udp_frame(&[1; 300], 9));
    record(&mut b, &udp_frame(&[1; 10], 9));
    let o = ReaderOptions {
        limits: Limits {
            max_record_bytes: 200,
            ..Limits::default()
        },
        ..ReaderOptions::default()
    };
    let (_, errs) = read_all(b, o);
    assert!(
        matches!(
            errs[..],
            [Error::LimitExceeded {
                value: 342,
                limit: 200,
                ..
            }]
        ),
        "{errs:?}"
    );
}

#[test]
fn bad_ip_and_udp_lengths_are_malformed_and_reading_continues() {
    let good = udp_frame(&adr018_vitals(), 5005);
    let mut cases: Vec<(Vec<u8>, &str)> = Vec::new();
    let mut f = good.clone();
    f[14 + 24..14 + 26].copy_from_slice(&500u16.to_be_bytes());
    cases.push((f, "past the captured"));
    let mut f = good.clone();
    f[14 + 24..14 + 26].copy_from_slice(&4u16.to_be_bytes());
    cases.push((f, "UDP length 4"));
    let mut f = good.clone();
    f[14] = 0x44; // IHL 4 words
    cases.push((f, "header length 16"));
    let mut f = good.clone();
    f[14] = 0x4F; // IHL 60 bytes: options swallow the UDP header
    cases.push((f, "UDP"));
    let mut f = good.clone();
    f[14 + 2..14 + 4].copy_from_slice(&10u16.to_be_bytes());
    cases.push((f, "total length 10"));
    let mut f = good.clone();
    f[14 + 2..14 + 4].copy_from_slice(&30u16.to_be_bytes()); // IP says 30, UDP says more
    cases.push((f, "exceeds the IPv4 total length"));
    let mut f = good.clone();
    f[14] = 0x65; // version 6 behind EtherType IPv4
    cases.push((f, "version 6"));
    cases.push((good[..20].to_vec(), "IPv4 header cut"));
    cases.push((Vec::new(), "Ethernet frame of 0 bytes"));
    cases.push((good[..13].to_vec(), "Ethernet frame of 13 bytes"));
    for (bad, want) in cases {
        let mut b = pcap_header(1);
        record(&mut b, &good);
        let off = b.len() as u64;
        record(&mut b, &bad);
        record(&mut b, &good);
        let (recs, errs) = read_all(b, ReaderOptions::default());
        assert_eq!(recs.len(), 2, "{want}");
        assert_eq!(errs.len(), 1, "{want}: {errs:?}");
        assert!(errs[0].is_recoverable());
        assert_eq!(errs[0].offset(), Some(off), "{want}");
        assert!(errs[0].to_string().contains(want), "{want}: {}", errs[0]);
    }
}

fn adr018_vitals() -> Vec<u8> {
    let mut v = vec![0u8; 32];
    v[..4].copy_from_slice(&0xC511_0002u32.to_le_bytes());
    v[4] = 3;
    v
}

#[test]
fn non_ip_ethertypes_and_unknown_link_types_are_skipped() {
    let mut b = pcap_header(1);
    for et in [[0x08, 0x06], [0x88, 0xCC], [0x00, 0x40], [0x81, 0x00]] {
        let mut f = vec![0xFF; 12];
        f.extend_from_slice(&et);
        f.extend_from_slice(&[0x00, 0x05, 0x08, 0x06]); // (for 0x8100: tag then ARP)
        f.extend_from_slice(&[0; 28]);
        record(&mut b, &f);
    }
    let mut r = PcapReader::new(&b[..], &ReaderOptions::default()).unwrap();
    assert!(r.next_record().is_none());
    assert_eq!(
        (
            r.counters().packets,
            r.counters().non_csi_skipped,
            r.counters().malformed
        ),
        (4, 4, 0)
    );
    // Radiotap (127): every packet skipped, no error.
    let mut b = pcap_header(127);
    record(&mut b, &udp_frame(&adr018_vitals(), 5005));
    let mut r = PcapReader::new(&b[..], &ReaderOptions::default()).unwrap();
    assert!(r.next_record().is_none());
    assert_eq!(r.counters().non_csi_skipped, 1);
}

#[test]
fn stream_ends_after_fatal_error() {
    let mut b = pcap_header(1);
    record(&mut b, &udp_frame(&adr018_vitals(), 5005));
    b.extend_from_slice(&[0; 5]);
    let mut r = PcapReader::new(&b[..], &ReaderOptions::default()).unwrap();
    assert!(matches!(r.next_record(), Some(Ok(Record::Aux(_)))));
    assert!(matches!(
        r.next_record(),
        Some(Err(Error::Truncated { .. }))
    ));
    assert!(r.next_record().is_none());
    assert!(r.next_record().is_none());
}

// ---------------------------------------------------------------- pcapng

fn ng_block(btype: u32, body: &[u8]) -> Vec<u8> {
    let len = (12 + body.len()) as u32;
    let mut b = btype.to_le_bytes().to_vec();
    b.extend_from_slice(&len.to_le_bytes());
    b.extend_from_slice(body);
    b.extend_from_slice(&len.to_le_bytes());
    b
}

fn ng_start() -> Vec<u8> {
    let mut shb = 0x1A2B_3C4Du32.to_le_bytes().to_vec();
    shb.extend_from_slice(&[1, 0, 0, 0]);
    shb.extend_from_slice(&[0xFF; 8]);
    let mut b = ng_block(0x0A0D_0D0A, &shb);
    b.extend(ng_block(1, &[1, 0, 0, 0, 0, 0, 0, 0]));
    b
}

fn epb(iface: u32, data: &[u8], caplen: u32) -> Vec<u8> {
    let mut body = iface.to_le_bytes().to_vec();
    body.extend_from_slice(&[0; 8]);
    body.extend_from_slice(&caplen.to_le_bytes());
    body.extend_from_slice(&(data.len() as u32).to_le_bytes());
    body.extend_from_slice(data);
    while !body.len().is_multiple_of(4) {
        body.push(0);
    }
    ng_block(6, &body)
}

#[test]
fn pcapng_block_length_errors() {
    let frame = udp_frame(&adr018_vitals(), 5005);
    // Not a multiple of 4.
    let mut b = ng_start();
    let off = b.len() as u64;
    let mut blk = epb(0, &frame, frame.len() as u32);
    blk[4] = blk[4].wrapping_add(2);
    b.extend(blk);
    let e = one_error(b);
    assert!(
        matches!(e, Error::InvalidHeader { offset, .. } if offset == off + 4),
        "{e}"
    );
    assert!(e.to_string().contains("multiple of 4"), "{e}");
    // Smaller than 12.
    let mut b = ng_start();
    b.extend_from_slice(&6u32.to_le_bytes());
    b.extend_from_slice(&8u32.to_le_bytes());
    assert!(matches!(one_error(b), Error::InvalidHeader { .. }));
    // Trailer differs from the header length.
    let mut b = ng_start();
    let mut blk = epb(0, &frame, frame.len() as u32);
    let n = blk.len();
    blk[n - 4] ^= 0x40;
    b.extend(blk);
    let e = one_error(b);
    assert!(e.to_string().contains("trailer length"), "{e}");
    // Block cut at the end of the input.
    let mut b = ng_start();
    let off = b.len() as u64;
    let blk = epb(0, &frame, frame.len() as u32);
    b.extend_from_slice(&blk[..blk.len() - 9]);
    assert!(matches!(one_error(b), Error::Truncated { offset, .. } if offset == off));
    // Section header with a bad byte-order magic / cut section header.
    let mut b = ng_start();
    b[8] = 0x55;
    assert!(matches!(
        one_error(b),
        Error::InvalidHeader { offset: 8, .. }
    ));
    assert!(matches!(
        one_error(ng_start()[..10].to_vec()),
        Error::Truncated { offset: 0, .. }
    ));
}

#[test]
fn pcapng_inconsistent_packet_blocks_are_recoverable() {
    let frame = udp_frame(&adr018_vitals(), 5005);
    let mut b = ng_start();
    b.extend(epb(0, &frame, frame.len() as u32));
    let off1 = b.len() as u64;
    b.extend(epb(0, &frame, frame.len() as u32 + 100)); // caplen beyond the block
    let off2 = b.len() as u64;
    b.extend(epb(7, &frame, frame.len() as u32)); // no interface 7
    let off3 = b.len() as u64;
    b.extend(ng_block(6, &[0; 8])); // EPB too short for its fixed fields
    b.extend(ng_block(3, &[0; 4])); // SPB of a zero-length packet
    b.extend(epb(0, &frame, frame.len() as u32));
    let (recs, errs) = read_all(b, ReaderOptions::default());
    assert_eq!(recs.len(), 2);
    let offs: Vec<Option<u64>> = errs.iter().map(Error::offset).collect();
    assert_eq!(errs.len(), 4, "{errs:?}");
    assert!(errs.iter().all(Error::is_recoverable));
    assert_eq!(offs[..3], [Some(off1), Some(off2), Some(off3)]);
    assert!(errs[1].to_string().contains("interface 7"), "{}", errs[1]);
    assert!(
        errs[3].to_string().contains("Ethernet frame of 0 bytes"),
        "{}",
        errs[3]
    );
}

#[test]
fn pcapng_huge_caplen_is_limited() {
    let mut b = ng_start();
    let mut body = vec![0u8; 12];
    body.extend_from_slice(&0x7FFF_FFF0u32.to_le_bytes());
    body.extend_from_slice(&[0; 4]);
    b.extend(ng_block(6, &body));
    assert!(matches!(
        one_error(b),
        Error::LimitExceeded {
            value: 0x7FFF_FFF0,
            ..
        }
    ));
}

// ---------------------------------------------------------------- Nexmon payloads

fn nexmon_payload(words: usize, chip_version: u16) -> Vec<u8> {
    let mut p = vec![0x11; 4];
    p.extend_from_slice(&[1, 2, 3, 4, 5, 6, 0, 0, 0, 0, 0x2a, 0xe0]);
    p.extend_from_slice(&chip_version.to_le_bytes());
    p.extend(std::iter::repeat_n(0u8, 4 * words));
    p
}

fn nexmon_frame(payload: &[u8]) -> Vec<u8> {
    let mut w = PcapWriter::new(Vec::new(), TsResolution::Micro).unwrap();
    w.set_macs(*b"NEXMON", [0xFF; 6]);
    w.write_udp(
        0,
        Ipv4Addr::new(10, 10, 10, 10),
        Ipv4Addr::BROADCAST,
        5500,
        5500,
        payload,
    )
    .unwrap();
    w.into_inner().unwrap()[40..].to_vec()
}

#[test]
fn nexmon_bad_payloads() {
    let mut junk = nexmon_payload(64, 0x7777);
    for (i, c) in junk[18..].chunks_exact_mut(4).enumerate() {
        c.copy_from_slice(&(0xC000_2000u32 | i as u32).to_le_bytes());
    }
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (nexmon_payload(63, 1), "63 CSI words"),
        (nexmon_payload(1000, 1), "1000 CSI words"),
        (nexmon_payload(0, 1), "0 CSI words"),
        (
            {
                let mut p = nexmon_payload(64, 1);
                p.push(9);
                p
            },
            "whole 4-byte words",
        ),
        (junk, "cannot tell the CSI word layout"),
    ];
    for (payload, want) in cases {
        let mut b = pcap_header(1);
        let off = b.len() as u64;
        record(&mut b, &nexmon_frame(&payload));
        record(&mut b, &nexmon_frame(&nexmon_payload(64, 1)));
        let (recs, errs) = read_all(b, ReaderOptions::default());
        assert_eq!((recs.len(), errs.len()), (1, 1), "{want}");
        assert!(
            errs[0].is_recoverable() && errs[0].offset() == Some(off),
            "{want}: {}",
            errs[0]
        );
        assert!(errs[0].to_string().contains(want), "{want}: {}", errs[0]);
        assert!(errs[0].to_string().starts_with("nexmon"), "{}", errs[0]);
    }
    // A Nexmon-magic payload that is too short for the header is not Nexmon: skipped.
    let mut b = pcap_header(1);
    record(&mut b, &nexmon_frame(&[0x11; 10]));
    let mut r = PcapReader::new(&b[..], &ReaderOptions::default()).unwrap();
    assert!(r.next_record().is_none());
    assert_eq!(r.counters().non_csi_skipped, 1);
}

// ---------------------------------------------------------------- properties

fn drain(bytes: &[u8]) -> usize {
    let mut n = 0;
    if let Ok(mut cap) = Registry::builtin().open_read(
        Box::new(std::io::Cursor::new(bytes.to_vec())),
        None,
        None,
        None,
    ) {
        for r in cap.records() {
            let _ = r;
            n += 1;
            assert!(n < 1_000_000);
        }
    }
    if let Ok(mut r) = PcapReader::new(bytes, &ReaderOptions::default()) {
        while let Some(x) = r.next_record() {
            let _: Result<Record> = x;
        }
    }
    let mut o = ReaderOptions::default();
    o.nexmon.group_by_sequence = true;
    o.nexmon.mask_phy_status = true;
    if let Ok(mut r) = PcapReader::new(bytes, &o) {
        while r.next_record().is_some() {}
    }
    if let Ok(mut p) = PcapPackets::new(bytes, &Limits::default()) {
        while let Some(x) = p.next_packet() {
            if let Ok(p) = x {
                for lt in [p.linktype, LINKTYPE_RAW, LINKTYPE_LINUX_SLL2] {
                    if let Ok(Some(u)) = parse_udp(lt, p.data) {
                        assert!(u.payload.end <= p.data.len() && u.payload.start <= u.payload.end);
                    }
                }
            }
        }
    }
    n
}

fn corpus() -> Vec<Vec<u8>> {
    let mut v = vec![
        std::fs::read(fixtures().join("nexmon/example.pcap")).unwrap(),
        std::fs::read(fixtures().join("pcap/adr018_sample.pcap")).unwrap()[..3000].to_vec(),
    ];
    let frame = udp_frame(&adr018_vitals(), 5005);
    let mut ng = ng_start();
    ng.extend(epb(0, &frame, frame.len() as u32));
    ng.extend(epb(0, &nexmon_frame(&nexmon_payload(64, 1)), 0));
    v.push(ng);
    v
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        drain(&bytes);
    }

    #[test]
    fn arbitrary_records_after_valid_headers_never_panic(
        which in 0usize..3,
        body in proptest::collection::vec(any::<u8>(), 0..800),
    ) {
        let mut b = match which {
            0 => pcap_header(1),
            1 => pcap_header(113),
            _ => ng_start(),
        };
        b.extend_from_slice(&body);
        drain(&b);
    }

    #[test]
    fn mutated_real_files_never_panic(
        which in 0usize..3,
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..12),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut b = corpus().swap_remove(which);
        for (i, v) in flips {
            let k = i.index(b.len());
            b[k] = v;
        }
        let keep = cut.index(b.len() + 1);
        b.truncate(keep.max(b.len() / 2));
        drain(&b);
    }

    #[test]
    fn parse_udp_never_panics(lt in prop::sample::select(vec![
        LINKTYPE_ETHERNET, LINKTYPE_RAW, LINKTYPE_IPV4, LINKTYPE_IPV6, LINKTYPE_LINUX_SLL,
        LINKTYPE_LINUX_SLL2, LINKTYPE_NULL, LINKTYPE_LOOP, 12, 14, 127]),
        bytes in proptest::collection::vec(any::<u8>(), 0..120)) {
        if let Ok(Some(u)) = parse_udp(lt, &bytes) {
            prop_assert!(u.payload.start <= u.payload.end && u.payload.end <= bytes.len());
        }
    }

    #[test]
    fn nexmon_payloads_never_panic(
        version in 0u8..3,
        chip in any::<u16>(),
        words in prop::sample::select(vec![64usize, 128, 256, 3, 0]),
        data in proptest::collection::vec(any::<u32>(), 0..256),
        group in any::<bool>(),
    ) {
        let mut p = nexmon_payload(0, if version == 0 { 0xdead } else { chip });
        if version == 2 {
            p[2] = 0xc0;
            p[3] = 0x08;
        }
        for k in 0..words {
            p.extend_from_slice(&data.get(k).copied().unwrap_or(0).to_le_bytes());
        }
        let o = NexmonOptions { group_by_sequence: group, mask_phy_status: true, ..Default::default() };
        let mut d = nexmon::NexmonDecoder::new(o);
        let mut out = Vec::new();
        let r = d.push(&p, &PacketInfo::default(), &mut out);
        out.extend(d.flush());
        if r.is_ok() {
            prop_assert_eq!(out.len(), 1);
            prop_assert_eq!(out[0].n_subcarriers(), words);
            // autoscale = 1 keeps every packed-float value within 11 bits.
            if let wifi_sensing_core::FormatMeta::Nexmon(m) = &out[0].meta {
                if m.packed_float {
                    prop_assert!(out[0].csi.iter().all(|c| c.re.abs() < 2048.0 && c.im.abs() < 2048.0));
                }
            }
        }
    }

    #[test]
    fn writer_reader_round_trip(
        packets in proptest::collection::vec((
            0i64..4_000_000_000_000_000_000,
            any::<[u8; 4]>(),
            any::<[u8; 4]>(),
            any::<u16>(),
            any::<u16>(),
            proptest::collection::vec(any::<u8>(), 0..1500),
        ), 0..8),
        nano in any::<bool>(),
        lt in prop::sample::select(vec![LINKTYPE_ETHERNET, LINKTYPE_RAW, LINKTYPE_IPV4, LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2, LINKTYPE_NULL]),
    ) {
        let res = if nano { TsResolution::Nano } else { TsResolution::Micro };
        let mut w = PcapWriter::with_linktype(Vec::new(), res, lt).unwrap();
        for (ts, s, d, sp, dp, pl) in &packets {
            w.write_udp(*ts, Ipv4Addr::from(*s), Ipv4Addr::from(*d), *sp, *dp, pl).unwrap();
        }
        let bytes = w.into_inner().unwrap();
        let mut r = PcapPackets::new(&bytes[..], &Limits::default()).unwrap();
        for (ts, s, d, sp, dp, pl) in &packets {
            let p = r.next_packet().unwrap().unwrap();
            let want_ts = if nano { *ts } else { ts - ts % 1000 };
            prop_assert_eq!(p.timestamp_ns, Some(want_ts));
            prop_assert_eq!(p.linktype, lt);
            let u = parse_udp(p.linktype, p.data).unwrap().unwrap();
            prop_assert_eq!(&p.data[u.payload.clone()], &pl[..]);
            prop_assert_eq!((u.src_port, u.dst_port), (*sp, *dp));
            prop_assert_eq!(u.src, std::net::IpAddr::from(*s));
            prop_assert_eq!(u.dst, std::net::IpAddr::from(*d));
            prop_assert_eq!(u.trailer_len, 0);
        }
        prop_assert!(r.next_packet().is_none());
    }
}
