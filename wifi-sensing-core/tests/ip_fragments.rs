//! IP fragment reassembly in the pcap reader.
//!
//! 1. Real captures (the Nexmon fixtures and kit files, the ADR-018 fixture pcap built from the
//!    RuView recording, simulated ADR-018 traffic with ESP32-sized and large frames) are rewritten
//!    with every UDP datagram fragmented at a given MTU, in order, out of order, and interleaved
//!    with fragments of other datagrams; the reader must deliver exactly the records of the
//!    unfragmented capture.
//! 2. A corpus of bad fragments: each gives a clear recoverable error with the right byte offset.
//! 3. Properties: arbitrary fragment sequences never panic and never hold more datagrams than
//!    the limit; fragmenting then reassembling gives the datagram back.

mod common;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

use common::{fixtures, kit};
use proptest::prelude::*;
use wifi_sensing_core::formats::adr018::{self, CsiDatagram};
use wifi_sensing_core::formats::ipfrag::{
    FragmentKey, Reassembler, DEFAULT_MAX_IN_FLIGHT, DEFAULT_TIMEOUT_PACKETS, MAX_DATAGRAM_BYTES,
};
use wifi_sensing_core::formats::nexmon::{NexmonMeta, ETH_SOURCE};
use wifi_sensing_core::formats::pcap::{
    build_ipv4_udp, build_ipv4_udp_fragments, parse_ip_udp, parse_udp, IpFragment, IpUdp,
    PcapCounters, PcapPackets, PcapReader, PcapWriter, TsResolution, LINKTYPE_ETHERNET,
    LINKTYPE_RAW,
};
use wifi_sensing_core::sim::{export, DeviceProfile, Scenario, Simulator};
use wifi_sensing_core::{
    CaptureFormat, CaptureReader, Error, FormatMeta, Limits, ReaderOptions, Record, Registry,
};

// ---------------------------------------------------------------------------------------------
// Reading

/// Everything a [`PcapReader`] yields, its final counters, and the most datagrams it held.
struct Read {
    records: Vec<Record>,
    errors: Vec<Error>,
    /// Position of each error among all items (records and errors), in stream order.
    error_at: Vec<usize>,
    counters: PcapCounters,
    peak_in_flight: usize,
}

fn read_with(bytes: &[u8], options: &ReaderOptions) -> Read {
    let mut r = PcapReader::new(bytes, options).expect("pcap header");
    let mut out = Read {
        records: Vec::new(),
        errors: Vec::new(),
        error_at: Vec::new(),
        counters: PcapCounters::default(),
        peak_in_flight: 0,
    };
    let mut n = 0;
    while let Some(x) = r.next_record() {
        out.peak_in_flight = out.peak_in_flight.max(r.datagrams_in_flight());
        match x {
            Ok(rec) => out.records.push(rec),
            Err(e) => {
                out.errors.push(e);
                out.error_at.push(n);
            }
        }
        n += 1;
        assert!(n < 5_000_000, "reader does not end");
    }
    assert!(r.next_record().is_none(), "reader must stay ended");
    assert_eq!(
        r.datagrams_in_flight(),
        0,
        "a datagram is still held at the end"
    );
    out.counters = r.counters().clone();
    out
}

fn read(bytes: &[u8]) -> Read {
    read_with(bytes, &ReaderOptions::default())
}

fn options_with(in_flight: usize, timeout: u64) -> ReaderOptions {
    ReaderOptions {
        limits: Limits {
            max_ip_datagrams_in_flight: in_flight,
            ip_fragment_timeout_packets: timeout,
            ..Limits::default()
        },
        ..ReaderOptions::default()
    }
}

fn nexmon_meta_mut(r: &mut Record) -> Option<&mut NexmonMeta> {
    match r {
        Record::Frame(f) => match &mut f.meta {
            FormatMeta::Nexmon(m) => Some(m),
            _ => None,
        },
        Record::Aux(_) => None,
    }
}

/// `(reason, offset)` of a malformed-record error; panics on any other error.
fn malformed(e: &Error) -> (&str, u64) {
    match e {
        Error::Malformed {
            format: CaptureFormat::Pcap,
            offset,
            reason,
            line: None,
        } => (reason.as_str(), *offset),
        other => panic!("not a pcap Malformed error: {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Rewriting a capture with fragmented datagrams

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Order {
    /// Fragments of each datagram in order, datagrams in order.
    Sequential,
    /// Fragments of each datagram last first.
    Reversed,
    /// Fragments of each datagram in a pseudo-random order.
    Shuffled,
    /// Two consecutive datagrams' fragments alternate (the first still completes first), and
    /// fragments of non-CSI datagrams are woven between them.
    Interleaved,
}

const ORDERS: [Order; 4] = [
    Order::Sequential,
    Order::Reversed,
    Order::Shuffled,
    Order::Interleaved,
];

/// A small xorshift generator: deterministic orders and filler bytes.
struct XorShift(u64);
impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// One packet of the original capture as the packets that replace it.
struct Unit {
    ts: i64,
    frames: Vec<Vec<u8>>,
    /// Record offset of the original packet when it is a UDP datagram.
    orig_offset: Option<u64>,
}

struct Rewritten {
    bytes: Vec<u8>,
    /// Original packet offset -> offset of the packet that completes its datagram.
    completing: HashMap<u64, u64>,
    /// Packets that are fragments (of datagrams split in two or more).
    fragment_packets: u64,
    /// Datagrams split in two or more fragments (CSI and noise).
    split: u64,
    /// UDP datagrams of the original capture split in two or more fragments.
    split_original: u64,
    /// Most split datagrams begun and not yet complete at one point of the packet sequence.
    max_open: usize,
}

/// Rewrites a classic Ethernet pcap: every UDP/IPv4 datagram is re-sent fragmented for `mtu`
/// (same MAC and IP addresses, ports and payload, a fresh identification, no trailer), every
/// other packet is copied unchanged; timestamps are kept (nanosecond pcap).
fn rewrite(orig: &[u8], mtu: usize, order: Order) -> Rewritten {
    let mut packets = PcapPackets::new(orig, &Limits::default()).unwrap();
    let linktype = packets.info().linktype.expect("classic pcap");
    assert_eq!(linktype, LINKTYPE_ETHERNET);
    let mut w = PcapWriter::with_linktype(Vec::new(), TsResolution::Nano, linktype).unwrap();
    let mut units = Vec::new();
    while let Some(p) = packets.next_packet() {
        let p = p.unwrap();
        let ts = p.timestamp_ns.unwrap();
        match parse_udp(p.linktype, p.data).unwrap() {
            Some(u) => {
                let (IpAddr::V4(src), IpAddr::V4(dst)) = (u.src, u.dst) else {
                    panic!("IPv6 datagram in an IPv4 capture")
                };
                w.set_macs(u.link_src.unwrap(), p.data[..6].try_into().unwrap());
                let frames = w
                    .udp_fragment_frames(
                        src,
                        dst,
                        u.src_port,
                        u.dst_port,
                        &p.data[u.payload.clone()],
                        mtu,
                    )
                    .unwrap();
                units.push(Unit {
                    ts,
                    frames,
                    orig_offset: Some(p.offset),
                });
            }
            None => units.push(Unit {
                ts,
                frames: vec![p.data.to_vec()],
                orig_offset: None,
            }),
        }
    }
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15 ^ mtu as u64);
    let mut out = Rewritten {
        bytes: Vec::new(),
        completing: HashMap::new(),
        fragment_packets: 0,
        split: 0,
        split_original: 0,
        max_open: 0,
    };
    for u in &mut units {
        if u.frames.len() > 1 {
            out.split += 1;
            out.fragment_packets += u.frames.len() as u64;
            if u.orig_offset.is_some() {
                out.split_original += 1;
            }
        }
        match order {
            Order::Reversed => u.frames.reverse(),
            Order::Shuffled => {
                for i in (1..u.frames.len()).rev() {
                    let j = rng.below(i + 1);
                    u.frames.swap(i, j);
                }
            }
            Order::Sequential | Order::Interleaved => {}
        }
    }
    // The packet sequence: (unit index, or usize::MAX - noise datagram number; frame).
    let mut seq: Vec<(usize, Vec<u8>)> = Vec::new();
    // Noise: fragmented UDP datagrams of another host, without CSI, woven in.
    let mut noise_w = PcapWriter::new(Vec::new(), TsResolution::Nano).unwrap();
    // First in, first out, one noise datagram at a time: each completes within a few packets.
    let mut noise: std::collections::VecDeque<(usize, Vec<u8>)> = Default::default();
    let mut noise_id = 0;
    if order == Order::Interleaved {
        let mut k = 0;
        while k < units.len() {
            if k % 6 == 0 && noise.is_empty() {
                let len = 500 + rng.below(2500);
                let payload: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
                let mut frames = noise_w
                    .udp_fragment_frames(
                        Ipv4Addr::new(10, 99, 0, 1),
                        Ipv4Addr::new(10, 99, 0, 2),
                        9,
                        9,
                        &payload,
                        mtu,
                    )
                    .unwrap();
                if frames.len() > 1 {
                    out.split += 1;
                    out.fragment_packets += frames.len() as u64;
                }
                frames.reverse();
                noise.extend(frames.into_iter().map(|f| (usize::MAX - noise_id, f)));
                noise_id += 1;
            }
            let a = k;
            let b = (k + 1 < units.len()).then_some(k + 1);
            let fa = units[a].frames.clone();
            let fb = b.map(|b| units[b].frames.clone()).unwrap_or_default();
            // A0 B0 A1 B1 ..., holding B's last fragment until A is complete.
            let (b_last, b_rest) = match fb.split_last() {
                Some((l, r)) => (Some(l.clone()), r.to_vec()),
                None => (None, Vec::new()),
            };
            let mut ia = fa.into_iter();
            let mut ib = b_rest.into_iter();
            loop {
                let x = ia.next();
                let y = ib.next();
                if x.is_none() && y.is_none() {
                    break;
                }
                if let Some(x) = x {
                    seq.push((a, x));
                }
                if let Some(n) = noise.pop_front() {
                    seq.push(n);
                }
                if let (Some(y), Some(b)) = (y, b) {
                    seq.push((b, y));
                }
            }
            if let (Some(l), Some(b)) = (b_last, b) {
                seq.push((b, l));
            }
            k += 2;
        }
        while let Some(n) = noise.pop_front() {
            seq.push(n);
        }
    } else {
        for (i, u) in units.iter().enumerate() {
            for f in &u.frames {
                seq.push((i, f.clone()));
            }
        }
    }
    let mut remaining: HashMap<usize, usize> = HashMap::new();
    for (i, _) in &seq {
        *remaining.entry(*i).or_default() += 1;
    }
    let mut open = std::collections::HashSet::new();
    for (i, _) in &seq {
        let r = remaining.get_mut(i).unwrap();
        *r -= 1;
        if *r > 0 {
            open.insert(*i);
        } else {
            open.remove(i);
        }
        out.max_open = out.max_open.max(open.len());
    }
    let mut pos = 24u64;
    let last_ts = units.last().map(|u| u.ts).unwrap_or(0);
    for (i, f) in &seq {
        let ts = units.get(*i).map(|u| u.ts).unwrap_or(last_ts);
        w.write_packet(ts, f).unwrap();
        if let Some(o) = units.get(*i).and_then(|u| u.orig_offset) {
            out.completing.insert(o, pos);
        }
        pos += 16 + f.len() as u64;
    }
    out.bytes = w.into_inner().unwrap();
    assert_eq!(out.bytes.len() as u64, pos);
    out
}

/// Reads `orig` and its rewrite, and checks that the rewrite gives exactly the same records:
/// every value and header field equal, except the Nexmon packet-position fields, which must be
/// those of the reassembled datagram (offset of the completing packet, lengths of the
/// equivalent unfragmented packet without trailer). Returns (records, CSI datagrams split).
fn check_rewrite(orig: &[u8], mtu: usize, order: Order, what: &str) -> (usize, u64) {
    let what = format!("{what}, MTU {mtu}, {order:?}");
    let want = read(orig);
    assert!(
        want.errors.is_empty(),
        "{what}: original: {:?}",
        want.errors
    );
    assert!(!want.records.is_empty(), "{what}: original has no records");
    let rw = rewrite(orig, mtu, order);
    let got = read(&rw.bytes);
    assert!(
        got.errors.is_empty(),
        "{what}: {} errors, first: {}",
        got.errors.len(),
        got.errors[0]
    );
    assert_eq!(
        got.records.len(),
        want.records.len(),
        "{what}: record count"
    );
    for (i, (g, w)) in got.records.iter().zip(&want.records).enumerate() {
        let mut g = g.clone();
        let mut w = w.clone();
        if let (Some(gm), Some(wm)) = (nexmon_meta_mut(&mut g), nexmon_meta_mut(&mut w)) {
            let whole = wm.caplen - wm.eth_trailer_len;
            assert_eq!(
                (gm.caplen, gm.wirelen, gm.eth_trailer_len),
                (whole, whole, 0),
                "{what}: record {i}: lengths"
            );
            assert_eq!(
                Some(&gm.offset),
                rw.completing.get(&wm.offset),
                "{what}: record {i}: offset"
            );
            (gm.offset, gm.caplen, gm.wirelen, gm.eth_trailer_len) =
                (wm.offset, wm.caplen, wm.wirelen, wm.eth_trailer_len);
        }
        assert!(g == w, "{what}: record {i} differs:\n{g:?}\nvs\n{w:?}");
    }
    let c = &got.counters;
    assert_eq!(
        (c.fragments, c.reassembled, c.malformed),
        (rw.fragment_packets, rw.split, 0),
        "{what}: counters {c:?}"
    );
    assert_eq!(
        (c.adr018, c.nexmon),
        (want.counters.adr018, want.counters.nexmon),
        "{what}"
    );
    assert!(got.peak_in_flight <= DEFAULT_MAX_IN_FLIGHT, "{what}");
    if order == Order::Interleaved && rw.split_original > 0 && rw.split > rw.split_original {
        assert!(rw.max_open >= 2, "{what}: nothing was interleaved");
    }
    (got.records.len(), rw.split_original)
}

/// Every order at every MTU; returns the CSI datagrams split per MTU.
fn check_all_orders(orig: &[u8], mtus: &[usize], what: &str) -> Vec<u64> {
    mtus.iter()
        .map(|&mtu| {
            let mut split = 0;
            for order in ORDERS {
                split = check_rewrite(orig, mtu, order, what).1;
            }
            split
        })
        .collect()
}

fn read_file(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

// ---------------------------------------------------------------------------------------------
// 1. Real and simulated captures, fragmented

#[test]
fn nexmon_fixtures_fragmented_give_the_same_frames() {
    // example.pcap: 80 MHz packed float, 256 words (1042-byte payloads); 40mhz: 128 words.
    let ex = read_file(&fixtures().join("nexmon/example.pcap"));
    assert_eq!(
        check_all_orders(&ex, &[68, 576, 1500], "example.pcap"),
        [4, 4, 0]
    );
    let forty = read_file(&fixtures().join("nexmon/40mhz_1600085286.pcap"));
    let split = check_all_orders(&forty, &[68, 296, 576, 1500], "40mhz_1600085286.pcap");
    assert_eq!((split[0], split[1], split[3]), (81, 81, 0));
}

#[test]
fn adr018_fixture_fragmented_gives_the_same_records() {
    // 50 raw-CSI frames of the RuView recording (148- and 276-byte datagrams), vitals, feature
    // and feature-state packets, and non-CSI traffic.
    let sample = read_file(&fixtures().join("pcap/adr018_sample.pcap"));
    let split = check_all_orders(&sample, &[68, 128, 576, 1500], "adr018_sample.pcap");
    // MTU 68 (48 data bytes per fragment) splits all but the 40-byte vitals datagrams and the
    // DNS query (54 of 57); MTU 128 (104 bytes) splits the 50 CSI datagrams; none needs 576.
    assert_eq!(split, [54, 50, 0, 0]);
}

fn node_ip(node: u8) -> Ipv4Addr {
    Ipv4Addr::new(192, 168, 1, 100 + node)
}
const SINK: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 10);

/// A pcap of simulated ADR-018 traffic: ESP32-sized frames (1 antenna × 64 pairs) from node 1,
/// large frames (2 antennas × 384 pairs, as an HE-SU node sends: 1556 bytes) from node 2 whose
/// pairs are 12 consecutive simulated frames, alternating.
fn simulated_adr018_pcap() -> Vec<u8> {
    let sim = Simulator::new(
        Scenario::preset("empty", 8.0).unwrap(),
        DeviceProfile::esp32(),
        11,
    )
    .unwrap();
    let frames: Vec<_> = sim.map(|(f, _)| f).collect();
    assert!(frames.len() >= 390);
    let mut w = PcapWriter::new(Vec::new(), TsResolution::Nano).unwrap();
    for (k, chunk) in frames.chunks(13).take(30).enumerate() {
        let small = adr018::encode_csi(&export::to_adr018(&chunk[0], 1).unwrap()).unwrap();
        w.write_udp(chunk[0].timestamp_ns, node_ip(1), SINK, 40001, 5005, &small)
            .unwrap();
        let mut big = export::to_adr018(&chunk[1], 2).unwrap();
        for f in &chunk[2..13] {
            big.iq.extend(export::to_adr018(f, 2).unwrap().iq);
        }
        big.n_antennas = 2;
        big.sequence = k as u32;
        assert_eq!(big.iq.len(), 2 * 384);
        let big = adr018::encode_csi(&big).unwrap();
        assert_eq!(big.len(), 1556);
        w.write_udp(chunk[1].timestamp_ns, node_ip(2), SINK, 40002, 5005, &big)
            .unwrap();
    }
    w.into_inner().unwrap()
}

#[test]
fn simulated_adr018_large_and_small_frames_fragmented() {
    let whole = simulated_adr018_pcap();
    let r = read(&whole);
    assert_eq!(r.records.len(), 60);
    let shapes: Vec<_> = r
        .records
        .iter()
        .map(|x| match x {
            Record::Frame(f) => f.shape(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(shapes[..2], [(1, 1, 64), (2, 1, 384)]);
    // At 576 and 1500 only the large frames split; at 68 and 128 all of them.
    let split = check_all_orders(&whole, &[68, 128, 576, 1500], "simulated ADR-018");
    assert_eq!(split, [60, 60, 30, 30]);
    // Through the registry too, from the bytes alone.
    let rw = rewrite(&whole, 576, Order::Shuffled);
    let cap = Registry::builtin()
        .open_read(Box::new(std::io::Cursor::new(rw.bytes)), None, None, None)
        .unwrap();
    assert_eq!(cap.format(), CaptureFormat::Pcap);
    let mut cap = cap;
    let n = cap
        .by_ref()
        .inspect(|f| assert!(f.is_ok(), "{f:?}"))
        .count();
    assert_eq!(n, 60);
    common::assert_clean_end(cap.stats(), "registry");
    assert_eq!(cap.stats().passed_over, 0);
}

#[test]
#[ignore = "needs the capture kit (WIFI_SENSING_KIT)"]
fn kit_nexmon_captures_fragmented_give_the_same_frames() {
    let dir = kit().join("nexmon");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap"))
        .collect();
    names.sort();
    assert_eq!(names.len(), 5, "the kit's Nexmon captures");
    let mut total = 0;
    for p in names {
        let bytes = read_file(&p);
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        for mtu in [576, 1500] {
            for order in ORDERS {
                let (n, _) = check_rewrite(&bytes, mtu, order, &name);
                total += n;
            }
        }
    }
    assert!(total > 8 * 3000, "{total} records checked");
}

#[test]
#[ignore = "needs the capture kit (WIFI_SENSING_KIT)"]
fn kit_ruview_recording_as_fragmented_adr018_pcap() {
    // Every raw-CSI record of the kit's RuView recording as an ADR-018 datagram (from the
    // RuView reader's frames), then fragmented.
    let path = kit().join("ruview_esp32/pretrain-1775182186.csi.jsonl");
    let cap = Registry::builtin().open_path(&path).unwrap();
    let mut w = PcapWriter::new(Vec::new(), TsResolution::Nano).unwrap();
    let mut n = 0;
    for f in cap {
        let f = f.unwrap();
        let node = f.node_id as u8;
        let d = adr018::encode_csi(&export::to_adr018(&f, node).unwrap()).unwrap();
        w.write_udp(
            f.timestamp_ns,
            node_ip(node),
            SINK,
            40000 + u16::from(node),
            5005,
            &d,
        )
        .unwrap();
        n += 1;
    }
    assert!(n > 1000, "{n} frames");
    let whole = w.into_inner().unwrap();
    let split = check_all_orders(&whole, &[68, 576, 1500], "RuView recording");
    assert_eq!(split[0], n);
}

// ---------------------------------------------------------------------------------------------
// Hand-made packets

const A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 3);
const B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const SRC_MAC: [u8; 6] = [2, 0, 0, 0, 0, 7];

/// A large ADR-018 frame: 2 antennas × 384 pairs, 1556 bytes.
fn big_frame(seq: u32) -> Vec<u8> {
    adr018::encode_csi(&CsiDatagram {
        node_id: 4,
        sequence: seq,
        channel: 36,
        rssi: -51,
        noise_floor: -93,
        n_antennas: 2,
        iq: (0..768)
            .map(|i| [(i % 97) as i8 - 48, (i * 7 % 101) as i8 - 50])
            .collect(),
    })
    .unwrap()
}

/// UDP header (checksum 0: none) and payload.
fn udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut u = sport.to_be_bytes().to_vec();
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(payload);
    u
}

/// An IPv4 packet with a 20-byte header (checksum left 0: the reader does not check it).
fn ipv4(id: u16, proto: u8, offset: usize, more: bool, data: &[u8]) -> Vec<u8> {
    let total = 20 + data.len();
    let flags = if more { 0x2000u16 } else { 0 } | (offset / 8) as u16;
    let mut p = vec![0x45, 0];
    p.extend_from_slice(&(total as u16).to_be_bytes());
    p.extend_from_slice(&id.to_be_bytes());
    p.extend_from_slice(&flags.to_be_bytes());
    p.extend_from_slice(&[64, proto, 0, 0]);
    p.extend_from_slice(&A.octets());
    p.extend_from_slice(&B.octets());
    p.extend_from_slice(data);
    p
}

fn eth_with(src: [u8; 6], ethertype: u16, ip: &[u8]) -> Vec<u8> {
    let mut f = vec![0xFF; 6];
    f.extend_from_slice(&src);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(ip);
    f
}

fn eth(ip: &[u8]) -> Vec<u8> {
    eth_with(SRC_MAC, 0x0800, ip)
}

fn eth6(ip: &[u8]) -> Vec<u8> {
    eth_with(SRC_MAC, 0x86DD, ip)
}

/// An IPv4 UDP fragment of `dg` (UDP header and payload) covering `range`.
fn frag4(id: u16, dg: &[u8], range: std::ops::Range<usize>, more: bool) -> Vec<u8> {
    eth(&ipv4(id, 17, range.start, more, &dg[range]))
}

const V6A: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 3);
const V6B: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 2);

/// How to build an IPv6 fragment.
#[derive(Clone, Copy, Default)]
struct V6 {
    /// Put a hop-by-hop options header before the Fragment header.
    hop_by_hop: bool,
    /// Set the reserved byte and the two reserved bits of the Fragment header.
    reserved: bool,
    /// Next header announced by the Fragment header (0 means UDP, 17).
    next: u8,
}

/// An IPv6 packet: fixed header, optional hop-by-hop header, Fragment header, `data`.
fn ipv6_frag(id: u32, offset: usize, more: bool, data: &[u8], v: V6) -> Vec<u8> {
    let ext = if v.hop_by_hop { 8 } else { 0 };
    let mut p = vec![0x60, 0, 0, 0];
    p.extend_from_slice(&((ext + 8 + data.len()) as u16).to_be_bytes());
    p.push(if v.hop_by_hop { 0 } else { 44 });
    p.push(64);
    p.extend_from_slice(&V6A.octets());
    p.extend_from_slice(&V6B.octets());
    if v.hop_by_hop {
        p.extend_from_slice(&[44, 0, 1, 4, 0, 0, 0, 0]); // PadN
    }
    let next = if v.next == 0 { 17 } else { v.next };
    let mut fo = (offset as u16 & 0xFFF8) | u16::from(more);
    let mut res = 0;
    if v.reserved {
        fo |= 0b110;
        res = 0xAB;
    }
    p.extend_from_slice(&[next, res]);
    p.extend_from_slice(&fo.to_be_bytes());
    p.extend_from_slice(&id.to_be_bytes());
    p.extend_from_slice(data);
    p
}

/// A whole IPv6 UDP packet (no extension header).
fn ipv6_whole(dg: &[u8]) -> Vec<u8> {
    let mut p = vec![0x60, 0, 0, 0];
    p.extend_from_slice(&(dg.len() as u16).to_be_bytes());
    p.extend_from_slice(&[17, 64]);
    p.extend_from_slice(&V6A.octets());
    p.extend_from_slice(&V6B.octets());
    p.extend_from_slice(dg);
    p
}

/// A pcap (µs, Ethernet) of `packets`, one per 1 ms from t = 1 s.
fn pcap(packets: &[Vec<u8>]) -> Vec<u8> {
    let mut w = PcapWriter::new(Vec::new(), TsResolution::Micro).unwrap();
    for (i, p) in packets.iter().enumerate() {
        w.write_packet(1_000_000_000 + i as i64 * 1_000_000, p)
            .unwrap();
    }
    w.into_inner().unwrap()
}

/// Record offsets of `packets` in [`pcap`]'s output.
fn offsets(packets: &[Vec<u8>]) -> Vec<u64> {
    let mut pos = 24;
    packets
        .iter()
        .map(|p| {
            let o = pos;
            pos += 16 + p.len() as u64;
            o
        })
        .collect()
}

/// A whole non-CSI UDP packet (a DNS-like query).
fn junk(i: u16) -> Vec<u8> {
    eth(&ipv4(
        0x7000 + i,
        17,
        0,
        false,
        &udp(33000, 53, &i.to_be_bytes()),
    ))
}

/// The datagram (UDP header + large ADR-018 frame) and its two fragments at a 1500-byte MTU.
fn big_dg(seq: u32) -> Vec<u8> {
    udp(40004, 5005, &big_frame(seq))
}

/// `records` with every frame's time set to `ts`.
fn dated(records: &[Record], ts: i64) -> Vec<Record> {
    records
        .iter()
        .cloned()
        .map(|mut r| {
            if let Record::Frame(f) = &mut r {
                f.timestamp_ns = ts;
            }
            r
        })
        .collect()
}

fn csi_frame(r: &Record) -> &wifi_sensing_core::CsiFrame {
    match r {
        Record::Frame(f) => f,
        other => panic!("not a frame: {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Bad fragments and edge cases

#[test]
fn reassembled_frame_equals_the_whole_one() {
    let dg = big_dg(1);
    assert_eq!(dg.len(), 1564);
    let whole = read(&pcap(&[eth(&ipv4(1, 17, 0, false, &dg))]));
    let frags = [
        frag4(0x1234, &dg, 0..1480, true),
        frag4(0x1234, &dg, 1480..1564, false),
    ];
    // Dated by the packet that completes it: the second, at 1.001 s.
    let want = dated(&whole.records, 1_001_000_000);
    for order in [[0, 1], [1, 0]] {
        let pk: Vec<_> = order.iter().map(|&i| frags[i].clone()).collect();
        let got = read(&pcap(&pk));
        assert!(got.errors.is_empty(), "{:?}", got.errors);
        assert_eq!(got.records, want, "order {order:?}");
        assert_eq!(csi_frame(&got.records[0]).shape(), (2, 1, 384));
        let c = &got.counters;
        assert_eq!(
            (c.packets, c.udp, c.fragments, c.reassembled, c.adr018),
            (2, 0, 2, 1, 1)
        );
        assert_eq!(c.non_csi_skipped, 0);
    }
}

#[test]
fn completing_packet_gives_time_offset_and_nexmon_source() {
    // A real Nexmon payload (the fixture's first packet, 1042 bytes), sent on a port other than
    // 5500 from the Ethernet source address NEXMON: recognised through the completing packet's
    // source address.
    let bytes = read_file(&fixtures().join("nexmon/example.pcap"));
    let mut pk = PcapPackets::new(&bytes[..], &Limits::default()).unwrap();
    let p = pk.next_packet().unwrap().unwrap();
    let u = parse_udp(p.linktype, p.data).unwrap().unwrap();
    let payload = p.data[u.payload.clone()].to_vec();
    let whole_meta = {
        let r = read(&bytes);
        match &csi_frame(&r.records[0]).meta {
            FormatMeta::Nexmon(m) => m.clone(),
            other => panic!("{other:?}"),
        }
    };
    let dg = udp(7777, 7777, &payload);
    let packets = vec![
        eth_with(ETH_SOURCE, 0x0800, &ipv4(9, 17, 1000, false, &dg[1000..])),
        junk(1),
        eth_with(ETH_SOURCE, 0x0800, &ipv4(9, 17, 0, true, &dg[..1000])),
    ];
    let offs = offsets(&packets);
    let got = read(&pcap(&packets));
    assert!(got.errors.is_empty(), "{:?}", got.errors);
    assert_eq!(got.records.len(), 1);
    let f = csi_frame(&got.records[0]);
    assert_eq!(f.format, CaptureFormat::Nexmon);
    assert_eq!(f.timestamp_ns, 1_002_000_000);
    let FormatMeta::Nexmon(m) = &f.meta else {
        panic!()
    };
    assert_eq!(m.offset, offs[2]);
    assert_eq!((m.caplen, m.wirelen, m.eth_trailer_len), (1084, 1084, 0));
    assert_eq!(m.caplen, 14 + 20 + 8 + 1042);
    assert_eq!(m.udp_payload_len, 1042);
    assert_eq!(
        (m.seq, m.core, m.chan_spec),
        (whole_meta.seq, whole_meta.core, whole_meta.chan_spec)
    );
    // Without the NEXMON address and off port 5500 the same datagram is not Nexmon traffic:
    // passed over, one count per fragment.
    let plain = vec![
        eth(&ipv4(9, 17, 1000, false, &dg[1000..])),
        eth(&ipv4(9, 17, 0, true, &dg[..1000])),
    ];
    let got = read(&pcap(&plain));
    assert!(got.records.is_empty() && got.errors.is_empty());
    assert_eq!(
        (got.counters.reassembled, got.counters.non_csi_skipped),
        (1, 2)
    );
}

#[test]
fn missing_fragment_is_reported_at_the_end() {
    let dg = big_dg(2);
    // First fragment only, then a whole frame.
    let packets = vec![
        frag4(0x1234, &dg, 0..1480, true),
        eth(&ipv4(5, 17, 0, false, &big_dg(3))),
    ];
    let got = read(&pcap(&packets));
    assert_eq!(got.records.len(), 1);
    assert_eq!(got.errors.len(), 1);
    let (reason, offset) = malformed(&got.errors[0]);
    assert_eq!(offset, 24);
    assert_eq!(
        reason,
        "IPv4 datagram id 0x1234 from 10.0.0.3 to 10.0.0.2: incomplete, 1480 bytes in 1 fragment \
         and no last fragment, at the end of the capture"
    );
    assert_eq!(got.error_at, [1], "reported after the frame, at the end");
    // Last fragment only: the total is known.
    let packets = vec![junk(0), frag4(0x77, &dg, 1480..1564, false)];
    let got = read(&pcap(&packets));
    let (reason, offset) = malformed(&got.errors[0]);
    assert_eq!(offset, offsets(&packets)[1]);
    assert!(
        reason.ends_with("id 0x0077 from 10.0.0.3 to 10.0.0.2: incomplete, 84 of 1564 bytes in 1 fragment, at the end of the capture"),
        "{reason}"
    );
    assert_eq!(got.counters.malformed, 1);
    // Through the registry: counted and kept as an issue.
    let mut cap = Registry::builtin()
        .open_read(
            Box::new(std::io::Cursor::new(pcap(&packets))),
            None,
            None,
            None,
        )
        .unwrap();
    let items: Vec<_> = cap.by_ref().collect();
    assert_eq!(items.len(), 1);
    assert_eq!(cap.stats().malformed, 1);
    assert!(cap.stats().issues[0]
        .message
        .contains("incomplete, 84 of 1564 bytes"));
}

#[test]
fn missing_fragment_is_reported_by_eviction() {
    let dg = big_dg(4);
    let mut packets = vec![frag4(0x1234, &dg, 0..1480, true)];
    packets.extend((0..DEFAULT_TIMEOUT_PACKETS as u16).map(junk));
    packets.push(eth(&ipv4(5, 17, 0, false, &big_dg(5))));
    let got = read(&pcap(&packets));
    assert_eq!(got.records.len(), 1);
    assert_eq!(got.errors.len(), 1, "reported once, not again at the end");
    let (reason, offset) = malformed(&got.errors[0]);
    assert_eq!(offset, 24);
    assert!(
        reason.ends_with(
            "incomplete, 1480 bytes in 1 fragment and no last fragment, after 1000 more packets"
        ),
        "{reason}"
    );
    assert_eq!(got.error_at, [0], "reported before the later frame");
    // With a timeout of 5 packets: a last fragment 5 packets after the first still completes
    // the datagram, 6 packets after is too late.
    for (gap, frames, errors) in [(4usize, 1usize, 0usize), (5, 0, 2)] {
        let mut packets = vec![frag4(0x42, &dg, 0..1480, true)];
        packets.extend((0..gap as u16).map(junk));
        packets.push(frag4(0x42, &dg, 1480..1564, false));
        let got = read_with(&pcap(&packets), &options_with(64, 5));
        assert_eq!(
            (got.records.len(), got.errors.len()),
            (frames, errors),
            "gap {gap}"
        );
        if errors == 2 {
            assert!(malformed(&got.errors[0])
                .0
                .ends_with("after 5 more packets"));
            assert!(malformed(&got.errors[1]).0.contains("84 of 1564 bytes"));
            assert_eq!(malformed(&got.errors[1]).1, offsets(&packets)[gap + 1]);
        }
    }
}

#[test]
fn overlap_with_different_bytes_is_reported_once() {
    let dg = big_dg(6);
    let mut changed = dg.clone();
    changed[1475] ^= 0xFF;
    let packets = vec![
        frag4(0x99, &dg, 0..1480, true),
        frag4(0x99, &changed, 1472..1564, false),
        frag4(0x99, &dg, 1480..1564, false), // absorbed: the datagram is already dropped
        frag4(0x9A, &dg, 0..1480, true),
        frag4(0x9A, &dg, 1480..1564, false),
    ];
    let got = read(&pcap(&packets));
    assert_eq!(got.records.len(), 1, "the next datagram is fine");
    assert_eq!(got.errors.len(), 1);
    let (reason, offset) = malformed(&got.errors[0]);
    assert_eq!(offset, 24);
    assert_eq!(
        reason,
        "IPv4 datagram id 0x0099 from 10.0.0.3 to 10.0.0.2: fragment at bytes 1472..1564 overlaps \
         bytes 1472..1480 received earlier with different contents"
    );
    assert_eq!(got.counters.fragments, 5);
}

#[test]
fn duplicate_and_overlapping_identical_fragments_are_accepted() {
    let dg = big_dg(7);
    let whole = read(&pcap(&[eth(&ipv4(1, 17, 0, false, &dg))]));
    let packets = vec![
        frag4(0x5, &dg, 0..1480, true),
        frag4(0x5, &dg, 0..1480, true),
        frag4(0x5, &dg, 1472..1564, false),
        frag4(0x6, &dg, 1480..1564, false),
        frag4(0x6, &dg, 1480..1564, false),
        frag4(0x6, &dg, 0..800, true),
        frag4(0x6, &dg, 400..1480, true),
    ];
    let got = read(&pcap(&packets));
    assert!(got.errors.is_empty(), "{:?}", got.errors);
    assert_eq!(got.records.len(), 2);
    assert_eq!(got.records[0], dated(&whole.records, 1_002_000_000)[0]);
    assert_eq!(got.records[1], dated(&whole.records, 1_006_000_000)[0]);
    assert_eq!((got.counters.fragments, got.counters.reassembled), (7, 2));
}

/// One bad case: packets, the expected reason (a substring), and the index of the packet whose
/// offset the error must carry.
fn expect_one_error(packets: &[Vec<u8>], want: &str, at: usize, what: &str) {
    let got = read(&pcap(packets));
    assert!(got.records.is_empty(), "{what}: {:?}", got.records);
    assert_eq!(got.errors.len(), 1, "{what}: {:?}", got.errors);
    let (reason, offset) = malformed(&got.errors[0]);
    assert!(reason.contains(want), "{what}: {reason}");
    assert_eq!(offset, offsets(packets)[at], "{what}: offset");
}

#[test]
fn absurd_offsets_and_lengths_are_reported() {
    let dg = big_dg(8);
    expect_one_error(
        &[eth(&ipv4(1, 17, 65528, false, &[0; 16]))],
        "IPv4 datagram id 0x0001 from 10.0.0.3 to 10.0.0.2: fragment at bytes 65528..65544 ends past the largest datagram (65535 bytes)",
        0,
        "past 65535",
    );
    expect_one_error(
        &[
            frag4(2, &dg, 0..1480, true),
            eth(&ipv4(2, 17, 65520, true, &[0; 16])),
        ],
        "fragment at bytes 65520..65536 ends past",
        0,
        "past 65535 after a good fragment",
    );
    expect_one_error(
        &[eth(&ipv4(3, 17, 0, true, &dg[..13]))],
        "fragment at bytes 0..13 announces more fragments but its length 13 is not a multiple of 8",
        0,
        "odd length",
    );
    expect_one_error(
        &[
            frag4(4, &dg, 1480..1564, false),
            eth(&ipv4(4, 17, 1480, false, &dg[1480..1500])),
        ],
        "last fragment ends at byte 1500, an earlier last fragment at byte 1564",
        0,
        "two last fragments",
    );
    expect_one_error(
        &[
            frag4(5, &dg, 0..1480, true),
            eth(&ipv4(5, 17, 1000, false, &dg[1000..1200])),
        ],
        "last fragment ends at byte 1200, but bytes up to 1480 were received",
        0,
        "last fragment inside received data",
    );
    expect_one_error(
        &[
            frag4(6, &dg, 1480..1564, false),
            eth(&ipv4(6, 17, 1480, true, &dg[1480..1560])),
            eth(&ipv4(6, 17, 1560, true, &[0; 8])),
        ],
        "fragment at bytes 1560..1568 runs past the end (byte 1564) set by the last fragment",
        0,
        "past the end",
    );
    // The reassembled UDP header disagrees with the datagram.
    for (id, ulen, want) in [
        (7u16, 4000u16, "IPv4 datagram id 0x0007 from 10.0.0.3 to 10.0.0.2: UDP length 4000 exceeds the reassembled datagram of 1564 bytes"),
        (8, 3, "IPv4 datagram id 0x0008 from 10.0.0.3 to 10.0.0.2: reassembled datagram has UDP length 3 (< 8)"),
    ] {
        let mut bad = dg.clone();
        bad[4..6].copy_from_slice(&ulen.to_be_bytes());
        expect_one_error(
            &[
                frag4(id, &bad, 0..1480, true),
                frag4(id, &bad, 1480..1564, false),
            ],
            want,
            0,
            "UDP length",
        );
    }
    // Packet-level problems of a fragment: a malformed packet, reported at that packet.
    let mut cut = ipv4(9, 17, 0, true, &dg[..1480]);
    cut[2..4].copy_from_slice(&3000u16.to_be_bytes());
    expect_one_error(
        &[junk(0), eth(&cut)],
        "IPv4 fragment total length 3000 points past the captured bytes (1500 from the IP header on)",
        1,
        "total length past the capture",
    );
    let mut zero = ipv4(10, 17, 8, true, &dg[8..16]);
    zero[2..4].copy_from_slice(&[0, 0]);
    expect_one_error(
        &[eth(&zero)],
        "IPv4 fragment with total length 0",
        0,
        "total 0",
    );
    // parse_udp keeps saying "not a whole datagram" for every fragment, consistent or not.
    for p in [eth(&cut), eth(&zero), frag4(1, &dg, 0..1480, true)] {
        assert_eq!(parse_udp(LINKTYPE_ETHERNET, &p), Ok(None));
    }
    assert!(parse_ip_udp(LINKTYPE_ETHERNET, &eth(&cut)).is_err());
    let Ok(Some(IpUdp::Fragment(f))) =
        parse_ip_udp(LINKTYPE_ETHERNET, &frag4(1, &dg, 8..1480, true))
    else {
        panic!()
    };
    assert_eq!(
        (
            f.key,
            f.offset,
            f.more,
            f.data.clone(),
            f.header_len,
            f.link_src
        ),
        (
            FragmentKey::V4 {
                src: A,
                dst: B,
                id: 1
            },
            8,
            true,
            34..34 + 1472,
            34,
            Some(SRC_MAC)
        )
    );
}

#[test]
fn more_datagrams_than_the_limit_evict_the_oldest() {
    let dg = big_dg(9);
    let n = DEFAULT_MAX_IN_FLIGHT as u16 + 1;
    let mut packets: Vec<Vec<u8>> = (0..n).map(|id| frag4(id, &dg, 0..1480, true)).collect();
    packets.extend((1..n).map(|id| frag4(id, &dg, 1480..1564, false)));
    let got = read(&pcap(&packets));
    assert_eq!(got.records.len(), DEFAULT_MAX_IN_FLIGHT);
    assert_eq!(got.errors.len(), 1);
    let (reason, offset) = malformed(&got.errors[0]);
    assert_eq!(offset, 24);
    assert!(
        reason.starts_with("IPv4 datagram id 0x0000 ")
            && reason.ends_with(
                "incomplete, 1480 bytes in 1 fragment and no last fragment, evicted by a newer datagram (64 datagrams in flight at most)"
            ),
        "{reason}"
    );
    assert_eq!(got.peak_in_flight, DEFAULT_MAX_IN_FLIGHT);
    // A configured limit of 3.
    let packets: Vec<_> = (0..10u16)
        .map(|id| frag4(id, &dg, 0..1480, true))
        .chain([frag4(9, &dg, 1480..1564, false)])
        .collect();
    let got = read_with(&pcap(&packets), &options_with(3, 1000));
    assert_eq!(got.records.len(), 1);
    assert_eq!(got.errors.len(), 7 + 2, "7 evicted, 2 at the end");
    assert!(got.peak_in_flight <= 3);
    // 0 turns reassembly off: fragments, even inconsistent ones, are passed over like other
    // non-CSI packets.
    let mut zero = ipv4(10, 17, 8, true, &dg[8..16]);
    zero[2..4].copy_from_slice(&[0, 0]);
    let packets = [
        frag4(1, &dg, 0..1480, true),
        frag4(1, &dg, 1480..1564, false),
        eth(&zero),
    ];
    let got = read_with(&pcap(&packets), &options_with(0, 1000));
    assert!(got.records.is_empty() && got.errors.is_empty());
    assert_eq!(
        (got.counters.non_csi_skipped, got.counters.fragments),
        (3, 0)
    );
}

#[test]
fn ipv6_fragment_header_variants() {
    let dg = big_dg(10);
    let whole = read(&pcap(&[eth6(&ipv6_whole(&dg))]));
    assert_eq!(whole.records.len(), 1);
    for v in [
        V6::default(),
        V6 {
            hop_by_hop: true,
            ..V6::default()
        },
        V6 {
            reserved: true,
            ..V6::default()
        },
    ] {
        let a = eth6(&ipv6_frag(0xDEAD_BEEF, 0, true, &dg[..1232], v));
        let b = eth6(&ipv6_frag(0xDEAD_BEEF, 1232, false, &dg[1232..], v));
        for pk in [vec![a.clone(), b.clone()], vec![b, a]] {
            let got = read(&pcap(&pk));
            assert!(got.errors.is_empty(), "{:?}", got.errors);
            assert_eq!(got.records, dated(&whole.records, 1_001_000_000));
            assert_eq!(got.counters.reassembled, 1);
        }
    }
    // Atomic fragment (offset 0, no more fragments): a whole datagram (RFC 6946).
    let got = read(&pcap(&[eth6(&ipv6_frag(1, 0, false, &dg, V6::default()))]));
    assert!(got.errors.is_empty());
    assert_eq!(got.records, whole.records);
    // Another protocol in the fragmentable part: passed over, no error.
    let tcp = V6 {
        next: 6,
        ..V6::default()
    };
    let got = read(&pcap(&[
        eth6(&ipv6_frag(2, 0, true, &dg[..16], tcp)),
        eth6(&ipv6_frag(2, 16, false, &dg[16..40], tcp)),
    ]));
    assert!(got.records.is_empty() && got.errors.is_empty());
    assert_eq!(
        (got.counters.non_csi_skipped, got.counters.fragments),
        (2, 0)
    );
    // The identification is 32 bits: ids differing in the high half are different datagrams.
    let got = read(&pcap(&[
        eth6(&ipv6_frag(0x0001_0005, 0, true, &dg[..1232], V6::default())),
        eth6(&ipv6_frag(
            0x0002_0005,
            1232,
            false,
            &dg[1232..],
            V6::default(),
        )),
    ]));
    assert_eq!(got.errors.len(), 2);
    let (reason, _) = malformed(&got.errors[0]);
    assert!(
        reason.starts_with("IPv6 datagram id 0x00010005 from fe80::3 to fe80::2: incomplete"),
        "{reason}"
    );
    // A more-fragments fragment whose length is not a multiple of 8.
    expect_one_error(
        &[eth6(&ipv6_frag(3, 0, true, &dg[..12], V6::default()))],
        "announces more fragments but its length 12 is not a multiple of 8",
        0,
        "IPv6 odd length",
    );
    // An atomic fragment too short for a UDP header.
    expect_one_error(
        &[eth6(&ipv6_frag(4, 0, false, &dg[..4], V6::default()))],
        "IPv6 datagram id 0x00000004 from fe80::3 to fe80::2: reassembled datagram of 4 bytes is too short for a UDP header",
        0,
        "IPv6 short",
    );
    // Fragment header cut by the capture, and a payload length past the captured bytes.
    let mut cut = ipv6_frag(5, 0, true, &[], V6::default());
    cut.truncate(44);
    cut[4..6].copy_from_slice(&4u16.to_be_bytes());
    expect_one_error(&[eth6(&cut)], "IPv6 Fragment header cut", 0, "cut header");
    let mut long = ipv6_frag(6, 0, true, &dg[..64], V6::default());
    long[4..6].copy_from_slice(&500u16.to_be_bytes());
    expect_one_error(
        &[eth6(&long)],
        "IPv6 payload length 500 points past the captured bytes (72 after the IPv6 header)",
        0,
        "payload length past the capture",
    );
    assert_eq!(parse_udp(LINKTYPE_ETHERNET, &eth6(&long)), Ok(None));
}

#[test]
fn non_udp_ipv4_fragments_are_passed_over() {
    let data = [0x5Au8; 64];
    let packets = [
        eth(&ipv4(1, 6, 0, true, &data[..32])),
        eth(&ipv4(1, 6, 32, false, &data[32..])),
        eth(&ipv4(2, 1, 8, false, &data[..8])),
    ];
    let got = read(&pcap(&packets));
    assert!(got.records.is_empty() && got.errors.is_empty());
    let c = &got.counters;
    assert_eq!((c.non_csi_skipped, c.fragments, c.reassembled), (3, 0, 0));
    for p in &packets {
        assert_eq!(parse_ip_udp(LINKTYPE_ETHERNET, p), Ok(None));
    }
}

#[test]
fn incomplete_datagrams_are_reported_before_a_fatal_error() {
    let dg = big_dg(11);
    let mut bytes = pcap(&[frag4(1, &dg, 0..1480, true), junk(0)]);
    bytes.truncate(bytes.len() - 5);
    let got = read(&bytes);
    assert_eq!(got.errors.len(), 2);
    let (reason, offset) = malformed(&got.errors[0]);
    assert_eq!(offset, 24);
    assert!(reason.ends_with("at the end of the capture"), "{reason}");
    assert!(
        matches!(got.errors[1], Error::Truncated { .. }),
        "{:?}",
        got.errors[1]
    );
}

#[test]
fn raw_ip_and_pcapng_fragments() {
    // Raw-IP link type, fragments from the library builder at MTU 576, reversed.
    let frame = big_frame(12);
    let mut pk = build_ipv4_udp_fragments(A, B, 40004, 5005, &frame, 77, 576).unwrap();
    assert_eq!(pk.len(), 3);
    pk.reverse();
    let mut w = PcapWriter::with_linktype(Vec::new(), TsResolution::Nano, LINKTYPE_RAW).unwrap();
    for p in &pk {
        w.write_packet(5, p).unwrap();
    }
    let got = read(&w.into_inner().unwrap());
    assert!(got.errors.is_empty());
    assert_eq!(got.records.len(), 1);
    let mut whole = Vec::new();
    assert!(build_ipv4_udp(&mut whole, A, B, 40004, 5005, &frame, 1));
    let mut w = PcapWriter::with_linktype(Vec::new(), TsResolution::Nano, LINKTYPE_RAW).unwrap();
    w.write_packet(5, &whole).unwrap();
    assert_eq!(read(&w.into_inner().unwrap()).records, got.records);
    // pcapng: one SHB, one Ethernet IDB, two EPBs holding the fragments.
    let dg = big_dg(12);
    let frags = [
        frag4(3, &dg, 1480..1564, false),
        frag4(3, &dg, 0..1480, true),
    ];
    let mut ng = Vec::new();
    let block = |ng: &mut Vec<u8>, t: u32, body: &[u8]| {
        let len = 12 + body.len().div_ceil(4) * 4;
        ng.extend_from_slice(&t.to_le_bytes());
        ng.extend_from_slice(&(len as u32).to_le_bytes());
        ng.extend_from_slice(body);
        ng.resize(ng.len() + (len - 12 - body.len()), 0);
        ng.extend_from_slice(&(len as u32).to_le_bytes());
    };
    let mut shb = 0x1A2B_3C4Du32.to_le_bytes().to_vec();
    shb.extend_from_slice(&[1, 0, 0, 0]);
    shb.extend_from_slice(&(-1i64).to_le_bytes());
    block(&mut ng, 0x0A0D_0D0A, &shb);
    block(&mut ng, 1, &[1, 0, 0, 0, 0, 0, 4, 0]);
    for (i, f) in frags.iter().enumerate() {
        let mut epb = 0u32.to_le_bytes().to_vec();
        epb.extend_from_slice(&0u32.to_le_bytes());
        epb.extend_from_slice(&(1_000 + i as u32).to_le_bytes());
        epb.extend_from_slice(&(f.len() as u32).to_le_bytes());
        epb.extend_from_slice(&(f.len() as u32).to_le_bytes());
        epb.extend_from_slice(f);
        block(&mut ng, 6, &epb);
    }
    let got = read(&ng);
    assert!(got.errors.is_empty(), "{:?}", got.errors);
    assert_eq!(got.records.len(), 1);
    assert_eq!(csi_frame(&got.records[0]).timestamp_ns, 1_001_000);
}

#[test]
fn writer_fragments_are_valid_ipv4() {
    let payload: Vec<u8> = (0..4000u32).map(|i| (i * 31) as u8).collect();
    let p = build_ipv4_udp_fragments(A, B, 1, 2, &payload, 0xBEEF, 1500).unwrap();
    assert_eq!(
        p.iter().map(Vec::len).collect::<Vec<_>>(),
        [1500, 1500, 20 + 4008 - 2 * 1480]
    );
    let mut data = Vec::new();
    for (i, f) in p.iter().enumerate() {
        // Header checksum verifies, identification shared, flags and offsets as documented.
        assert_eq!(
            wifi_sensing_core::formats::pcap::ipv4_header_checksum(&f[..20]),
            0
        );
        assert_eq!(&f[4..6], &0xBEEFu16.to_be_bytes());
        let fo = u16::from_be_bytes([f[6], f[7]]);
        assert_eq!(usize::from(fo & 0x1FFF) * 8, i * 1480);
        assert_eq!(fo & 0x2000 != 0, i < 2);
        assert_eq!(usize::from(u16::from_be_bytes([f[2], f[3]])), f.len());
        data.extend_from_slice(&f[20..]);
    }
    let mut whole = Vec::new();
    assert!(build_ipv4_udp(&mut whole, A, B, 1, 2, &payload, 0xBEEF));
    assert_eq!(data, whole[20..]);
    // A datagram that fits is one ordinary packet; bad MTUs and sizes are refused.
    let one = build_ipv4_udp_fragments(A, B, 1, 2, &payload[..100], 3, 1500).unwrap();
    let mut plain = Vec::new();
    build_ipv4_udp(&mut plain, A, B, 1, 2, &payload[..100], 3);
    assert_eq!(one, [plain]);
    assert!(matches!(
        build_ipv4_udp_fragments(A, B, 1, 2, &payload, 3, 27),
        Err(Error::Config(_))
    ));
    assert!(matches!(
        build_ipv4_udp_fragments(A, B, 1, 2, &vec![0; 70_000], 3, 1500),
        Err(Error::Config(_))
    ));
    // The writer: in order, one record per fragment, identification advancing.
    let mut w = PcapWriter::new(Vec::new(), TsResolution::Micro).unwrap();
    assert_eq!(
        w.write_udp_fragmented(7_000, A, B, 1, 2, &payload, 576)
            .unwrap(),
        8
    );
    let f2 = w.udp_fragment_frames(A, B, 1, 2, &payload, 576).unwrap();
    assert_eq!(f2.len(), 8);
    assert_eq!(w.packets_written(), 8);
    let bytes = w.into_inner().unwrap();
    let mut ids = Vec::new();
    let mut pk = PcapPackets::new(&bytes[..], &Limits::default()).unwrap();
    while let Some(p) = pk.next_packet() {
        let p = p.unwrap();
        let Ok(Some(IpUdp::Fragment(f))) = parse_ip_udp(p.linktype, p.data) else {
            panic!()
        };
        ids.push(f.key);
    }
    assert_eq!(ids.len(), 8);
    assert!(ids.iter().all(|k| *k == ids[0]));
    let Ok(Some(IpUdp::Fragment(g))) = parse_ip_udp(LINKTYPE_ETHERNET, &f2[0]) else {
        panic!()
    };
    assert_ne!(g.key, ids[0], "a new identification per datagram");
}

// ---------------------------------------------------------------------------------------------
// 3. Properties

/// One arbitrary packet for the reassembler: an IPv4 or IPv6 UDP fragment of one of a few
/// datagrams, with arbitrary offset, length, flag and contents, or a whole packet.
#[derive(Clone, Debug)]
struct Op {
    key: u8,
    v6: bool,
    offset_blocks: u16,
    len: usize,
    more: bool,
    fill: u8,
    whole: bool,
}

fn op() -> impl Strategy<Value = Op> {
    (
        0u8..6,
        any::<bool>(),
        prop_oneof![0u16..16, 0u16..8192],
        0usize..300,
        any::<bool>(),
        0u8..3,
        prop::bool::weighted(0.1),
    )
        .prop_map(|(key, v6, offset_blocks, len, more, fill, whole)| Op {
            key,
            v6,
            offset_blocks,
            len,
            more,
            fill,
            whole,
        })
}

fn op_packet(o: &Op) -> Vec<u8> {
    if o.whole {
        return eth(&ipv4(
            7,
            17,
            0,
            false,
            &udp(1, 5005, &big_frame(1)[..o.len.min(1556)]),
        ));
    }
    let offset = usize::from(o.offset_blocks) * 8;
    // A UDP header at offset 0 keeps lengths sometimes consistent.
    let mut data: Vec<u8> = (0..o.len).map(|i| (i as u8).wrapping_mul(o.fill)).collect();
    if offset == 0 && data.len() >= 8 {
        data[4..6].copy_from_slice(&(o.len as u16).to_be_bytes());
    }
    if o.v6 {
        eth6(&ipv6_frag(
            u32::from(o.key),
            offset,
            o.more,
            &data,
            V6::default(),
        ))
    } else {
        eth(&ipv4(u16::from(o.key), 17, offset, o.more, &data))
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn arbitrary_fragment_sequences_never_panic_and_stay_bounded(
        ops in prop::collection::vec(op(), 0..120),
        in_flight in 1usize..5,
        timeout in 1u64..40,
    ) {
        let packets: Vec<Vec<u8>> = ops.iter().map(op_packet).collect();
        let bytes = pcap(&packets);
        let got = read_with(&bytes, &options_with(in_flight, timeout));
        prop_assert!(got.peak_in_flight <= in_flight);
        prop_assert_eq!(got.counters.packets, packets.len() as u64);
        prop_assert_eq!(got.counters.malformed, got.errors.len() as u64);
        for e in &got.errors {
            prop_assert!(e.is_recoverable());
        }
        // Through the registry as well.
        let mut cap = Registry::builtin()
            .with_options(options_with(in_flight, timeout))
            .open_read(Box::new(std::io::Cursor::new(bytes)), None, None, None)
            .unwrap();
        let n = cap.by_ref().count();
        prop_assert!(n <= packets.len() * 2 + 1);
    }

    #[test]
    fn reassembler_takes_any_fragment_values(
        frags in prop::collection::vec(
            (0u8..4, 0usize..70_000, 0usize..400, 0usize..400, any::<bool>(), any::<usize>()),
            0..80,
        ),
        packet_len in 0usize..300,
        limit in 0usize..4,
    ) {
        let packet: Vec<u8> = (0..packet_len).map(|i| i as u8).collect();
        let mut r = Reassembler::new(limit, 10);
        let mut report = Vec::new();
        for (n, (key, offset, a, b, more, header_len)) in frags.into_iter().enumerate() {
            let f = IpFragment {
                key: FragmentKey::V4 { src: A, dst: B, id: u16::from(key) },
                offset,
                more,
                data: a..b,
                header_len,
                link_src: None,
                vlan: None,
                trailer_len: 0,
            };
            r.expire(n as u64, &mut report);
            if let Some(d) = r.push(n as u64, n as u64, &f, &packet, &mut report) {
                prop_assert_eq!(r.datagram().len(), d.len);
                prop_assert!(d.len <= MAX_DATAGRAM_BYTES);
            }
            prop_assert!(r.in_flight() <= limit);
        }
        r.finish(&mut report);
        prop_assert_eq!(r.in_flight(), 0);
        for e in &report {
            prop_assert!(e.is_recoverable());
        }
    }

    #[test]
    fn fragmenting_then_reassembling_gives_the_datagram_back(
        len in 0usize..5000,
        mtu in 28usize..1600,
        seed in any::<u64>(),
    ) {
        let payload: Vec<u8> = (0..len).map(|i| (i as u64 ^ seed) as u8).collect();
        let mut pk = build_ipv4_udp_fragments(A, B, 4000, 5005, &payload, seed as u16, mtu).unwrap();
        prop_assert!(pk.iter().all(|p| p.len() <= mtu));
        let mut rng = XorShift(seed | 1);
        for i in (1..pk.len()).rev() {
            let j = rng.below(i + 1);
            pk.swap(i, j);
        }
        let mut whole = Vec::new();
        build_ipv4_udp(&mut whole, A, B, 4000, 5005, &payload, seed as u16);
        if pk.len() == 1 {
            prop_assert_eq!(&pk[0], &whole);
            return Ok(());
        }
        let mut r = Reassembler::new(DEFAULT_MAX_IN_FLIGHT, DEFAULT_TIMEOUT_PACKETS);
        let mut report = Vec::new();
        let mut done = None;
        for (n, p) in pk.iter().enumerate() {
            let Ok(Some(IpUdp::Fragment(f))) = parse_ip_udp(LINKTYPE_RAW, p) else {
                return Err(TestCaseError::fail("not a fragment"));
            };
            prop_assert!(done.is_none(), "completed before its last fragment");
            if let Some(d) = r.push(n as u64, 0, &f, p, &mut report) {
                prop_assert_eq!(d.header_len, 20);
                done = Some(r.datagram().to_vec());
            }
        }
        prop_assert!(report.is_empty());
        prop_assert_eq!(done.as_deref(), Some(&whole[20..]));
    }
}
