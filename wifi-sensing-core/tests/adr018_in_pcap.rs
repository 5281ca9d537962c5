//! ADR-018 datagrams inside pcap and pcapng files of several link types, built from the first
//! 50 raw-CSI records (and the vitals / feature records between them) of the real RuView
//! recording, read back through the registry with every value and count checked.

mod common;

use std::net::Ipv4Addr;
use std::path::PathBuf;

use common::{fixtures, kit};
use serde_json::Value;
use wifi_sensing_core::formats::adr018::{self, CsiDatagram};
use wifi_sensing_core::formats::pcap::{
    PcapCounters, PcapReader, PcapWriter, TsResolution, LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL,
    LINKTYPE_LINUX_SLL2, LINKTYPE_RAW,
};
use wifi_sensing_core::num_complex::Complex32;
use wifi_sensing_core::util::crc32;
use wifi_sensing_core::{
    AuxBody, CaptureFormat, CaptureReader, Clock, Device, Error, FormatMeta, ReaderOptions, Record,
    Registry,
};

/// One record of the RuView JSONL that becomes a packet.
#[derive(Clone, Debug)]
enum Item {
    Csi {
        ts_ns: i64,
        node: u8,
        seq: u32,
        /// The `[imag, real]` int8 pairs exactly as in the JSONL `iq_hex`.
        iq: Vec<u8>,
    },
    Vitals {
        ts_ns: i64,
        node: u8,
        flags: u8,
        breathing_bpm: f64,
        heartrate_bpm: f64,
        n_persons: u8,
        motion_energy: f32,
        presence_score: f32,
    },
    Feature {
        ts_ns: i64,
        node: u8,
        seq: u16,
        features: [f32; 8],
    },
    FeatureState {
        ts_ns: i64,
        node: u8,
        resp_bpm: f32,
    },
}

impl Item {
    fn ts_ns(&self) -> i64 {
        match self {
            Item::Csi { ts_ns, .. }
            | Item::Vitals { ts_ns, .. }
            | Item::Feature { ts_ns, .. }
            | Item::FeatureState { ts_ns, .. } => *ts_ns,
        }
    }
    fn node(&self) -> u8 {
        match self {
            Item::Csi { node, .. }
            | Item::Vitals { node, .. }
            | Item::Feature { node, .. }
            | Item::FeatureState { node, .. } => *node,
        }
    }
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

/// Reads the fixture JSONL into items (receive times rounded to µs, as a µs pcap keeps them),
/// then appends one feature-state packet.
fn load_items() -> Vec<Item> {
    let text = std::fs::read_to_string(fixtures().join("pcap/ruview_first50.csi.jsonl")).unwrap();
    let mut seq = [0u32; 256];
    let mut items = Vec::new();
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        let ts_ns = (v["timestamp"].as_f64().unwrap() * 1e6).round() as i64 * 1000;
        let node = v["node_id"].as_u64().unwrap() as u8;
        match v["type"].as_str().unwrap() {
            "raw_csi" => {
                seq[usize::from(node)] += 1;
                let iq = hex(v["iq_hex"].as_str().unwrap());
                assert_eq!(iq.len(), 2 * v["subcarriers"].as_u64().unwrap() as usize);
                assert_eq!(iq.len() + 20, v["size"].as_u64().unwrap() as usize);
                items.push(Item::Csi {
                    ts_ns,
                    node,
                    seq: seq[usize::from(node)],
                    iq,
                });
            }
            "vitals" => items.push(Item::Vitals {
                ts_ns,
                node,
                flags: v["flags"].as_u64().unwrap() as u8,
                breathing_bpm: v["breathing_bpm"].as_f64().unwrap(),
                heartrate_bpm: v["heartrate_bpm"].as_f64().unwrap(),
                n_persons: v["n_persons"].as_u64().unwrap() as u8,
                motion_energy: v["motion_energy"].as_f64().unwrap() as f32,
                presence_score: v["presence_score"].as_f64().unwrap() as f32,
            }),
            "feature" => {
                let mut features = [0f32; 8];
                for (f, x) in features.iter_mut().zip(v["features"].as_array().unwrap()) {
                    *f = x.as_f64().unwrap() as f32;
                }
                items.push(Item::Feature {
                    ts_ns,
                    node,
                    seq: v["seq"].as_u64().unwrap() as u16,
                    features,
                });
            }
            other => panic!("unexpected record type {other}"),
        }
    }
    let last = items.last().unwrap().ts_ns();
    items.push(Item::FeatureState {
        ts_ns: last + 1_000,
        node: 1,
        resp_bpm: 15.5,
    });
    items
}

/// The ADR-018 datagram of an item.
fn datagram(item: &Item) -> Vec<u8> {
    match item {
        Item::Csi { node, seq, iq, .. } => adr018::encode_csi(&CsiDatagram {
            node_id: *node,
            sequence: *seq,
            channel: 6,
            rssi: -40 - *node as i8,
            noise_floor: -95,
            n_antennas: 1,
            iq: iq
                .chunks_exact(2)
                .map(|p| [p[0] as i8, p[1] as i8])
                .collect(),
        })
        .unwrap(),
        Item::Vitals {
            ts_ns,
            node,
            flags,
            breathing_bpm,
            heartrate_bpm,
            n_persons,
            motion_energy,
            presence_score,
        } => {
            let mut b = adr018::MAGIC_VITALS.to_le_bytes().to_vec();
            b.extend_from_slice(&[*node, *flags]);
            b.extend_from_slice(&((breathing_bpm * 100.0).round() as u16).to_le_bytes());
            b.extend_from_slice(&((heartrate_bpm * 10_000.0).round() as u32).to_le_bytes());
            b.extend_from_slice(&[(-40 - *node as i8) as u8, *n_persons, 0, 0]);
            b.extend_from_slice(&motion_energy.to_le_bytes());
            b.extend_from_slice(&presence_score.to_le_bytes());
            b.extend_from_slice(&((ts_ns / 1_000_000) as u32).to_le_bytes());
            b.extend_from_slice(&[0; 4]);
            assert_eq!(b.len(), 32);
            b
        }
        Item::Feature {
            ts_ns,
            node,
            seq,
            features,
        } => {
            let mut b = adr018::MAGIC_FEATURES.to_le_bytes().to_vec();
            b.extend_from_slice(&[*node, 0]);
            b.extend_from_slice(&seq.to_le_bytes());
            b.extend_from_slice(&(ts_ns / 1000).to_le_bytes());
            for f in features {
                b.extend_from_slice(&f.to_le_bytes());
            }
            assert_eq!(b.len(), 48);
            b
        }
        Item::FeatureState { node, resp_bpm, .. } => {
            let mut b = vec![0u8; 60];
            b[..4].copy_from_slice(&adr018::MAGIC_FEATURE_STATE.to_le_bytes());
            b[4] = *node;
            b[5] = 1;
            b[6..8].copy_from_slice(&7u16.to_le_bytes());
            b[24..28].copy_from_slice(&resp_bpm.to_le_bytes());
            let crc = crc32(&b[..56]);
            b[56..60].copy_from_slice(&crc.to_le_bytes());
            b
        }
    }
}

fn node_ip(node: u8) -> Ipv4Addr {
    Ipv4Addr::new(192, 168, 1, 100 + node)
}
const SINK: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 10);

/// Non-CSI packets as raw Ethernet frames: DNS-like UDP, ARP, TCP, random bytes on port 5005.
fn garbage_frames() -> Vec<Vec<u8>> {
    let eth = |ethertype: [u8; 2]| {
        let mut f = vec![0xFF; 6];
        f.extend_from_slice(&[2, 0, 0, 0, 0, 0x42]);
        f.extend_from_slice(&ethertype);
        f
    };
    let mut out = Vec::new();
    let mut dns = eth([0x08, 0x00]);
    dns.extend(ipv4_udp(
        Ipv4Addr::new(10, 0, 0, 1),
        Ipv4Addr::new(10, 0, 0, 53),
        33000,
        53,
        b"\x12\x34\x01\x00\x00\x01",
    ));
    out.push(dns);
    let mut arp = eth([0x08, 0x06]);
    arp.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
    arp.extend_from_slice(&[0; 20]);
    out.push(arp);
    let mut tcp = eth([0x08, 0x00]);
    let mut ip = ipv4_udp(
        Ipv4Addr::new(10, 0, 0, 1),
        Ipv4Addr::new(10, 0, 0, 2),
        80,
        5005,
        &[0xC5; 12],
    );
    ip[9] = 6; // protocol TCP: the "UDP" bytes are now a TCP-like segment
    set_ip_checksum(&mut ip[..20]);
    tcp.extend(ip);
    out.push(tcp);
    let mut junk = eth([0x08, 0x00]);
    let mut x = 0x1234_5678u32;
    let bytes: Vec<u8> = (0..77)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect();
    junk.extend(ipv4_udp(node_ip(9), SINK, 40009, 5005, &bytes));
    out.push(junk);
    out
}

/// Fills in the checksum of a 20-byte IPv4 header: ones' complement of the ones' complement sum
/// of its 16-bit words (checksum field taken as zero).
fn set_ip_checksum(h: &mut [u8]) {
    h[10] = 0;
    h[11] = 0;
    let mut sum: u32 = h
        .chunks(2)
        .map(|w| (u32::from(w[0]) << 8) | u32::from(w[1]))
        .sum();
    while sum > 0xFFFF {
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    h[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
}

/// A hand-made IPv4 + UDP datagram (valid header checksum, UDP checksum 0 = none), independent
/// of the library's builder.
fn ipv4_udp(src: Ipv4Addr, dst: Ipv4Addr, sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let total = 28 + payload.len();
    let mut p = vec![
        0x45,
        0,
        (total >> 8) as u8,
        total as u8,
        0,
        1,
        0x40,
        0,
        64,
        17,
        0,
        0,
    ];
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    set_ip_checksum(&mut p);
    p.extend_from_slice(&sport.to_be_bytes());
    p.extend_from_slice(&dport.to_be_bytes());
    p.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    p.extend_from_slice(&[0, 0]);
    p.extend_from_slice(payload);
    p
}

/// Writes `item` as the UDP datagram its node sends from `sport` to the sink's port 5005.
fn write_item<W: std::io::Write>(w: &mut PcapWriter<W>, item: &Item, sport: u16) {
    let node = item.node();
    w.write_udp(
        item.ts_ns(),
        node_ip(node),
        SINK,
        sport,
        5005,
        &datagram(item),
    )
    .unwrap();
}

/// The committed sample: µs pcap, Ethernet, written with [`PcapWriter`]; garbage packets are
/// interleaved after every 12th item.
fn sample_pcap(items: &[Item]) -> Vec<u8> {
    let mut w = PcapWriter::new(Vec::new(), TsResolution::Micro).unwrap();
    let garbage = garbage_frames();
    let mut g = 0;
    for (i, it) in items.iter().enumerate() {
        write_item(&mut w, it, 40000 + u16::from(it.node()));
        if i % 12 == 11 && g < garbage.len() {
            w.write_packet(it.ts_ns() + 1_000, &garbage[g]).unwrap();
            g += 1;
        }
    }
    while g < garbage.len() {
        w.write_packet(items.last().unwrap().ts_ns() + 2_000, &garbage[g])
            .unwrap();
        g += 1;
    }
    w.into_inner().unwrap()
}

/// Checks the records read back against the items, in order.
fn check_records(records: &[Record], items: &[Item], what: &str) {
    assert_eq!(records.len(), items.len(), "{what}: record count");
    for (i, (r, it)) in records.iter().zip(items).enumerate() {
        let what = format!("{what} item {i}");
        match (r, it) {
            (
                Record::Frame(f),
                Item::Csi {
                    ts_ns,
                    node,
                    seq,
                    iq,
                },
            ) => {
                assert_eq!(
                    (f.format, f.device, f.clock),
                    (CaptureFormat::Esp32Adr018, Device::Esp32, Clock::Host),
                    "{what}"
                );
                assert_eq!(f.timestamp_ns, *ts_ns, "{what}: time");
                assert_eq!(f.node_id, u32::from(*node), "{what}");
                assert_eq!(f.sequence, Some(*seq), "{what}");
                assert_eq!(
                    (f.channel, f.center_freq_mhz),
                    (Some(6), Some(2437)),
                    "{what}"
                );
                assert_eq!(f.rssi_dbm, Some(f32::from(-40 - *node as i8)), "{what}");
                assert_eq!(f.noise_floor_dbm, Some(-95.0), "{what}");
                let n = iq.len() / 2;
                assert_eq!(f.shape(), (1, 1, n), "{what}");
                for k in 0..n {
                    let want =
                        Complex32::new(f32::from(iq[2 * k + 1] as i8), f32::from(iq[2 * k] as i8));
                    assert_eq!(f.csi[[0, 0, k]], want, "{what}: value {k}");
                }
                assert!(matches!(f.meta, FormatMeta::Esp32(_)), "{what}");
            }
            (Record::Aux(a), it) => {
                assert_eq!(
                    (a.timestamp_ns, a.clock, a.format),
                    (it.ts_ns(), Clock::Host, CaptureFormat::Esp32Adr018),
                    "{what}"
                );
                assert_eq!(a.node_id, Some(u32::from(it.node())), "{what}");
                match (&a.body, it) {
                    (
                        AuxBody::Vitals(v),
                        Item::Vitals {
                            flags,
                            breathing_bpm,
                            heartrate_bpm,
                            n_persons,
                            motion_energy,
                            presence_score,
                            node,
                            ts_ns,
                        },
                    ) => {
                        assert_eq!(v.flags, *flags, "{what}");
                        assert_eq!(
                            (v.presence, v.fall, v.motion),
                            (flags & 1 != 0, flags & 2 != 0, flags & 4 != 0)
                        );
                        assert_eq!(v.breathing_bpm, *breathing_bpm, "{what}");
                        assert_eq!(v.heartrate_bpm, *heartrate_bpm, "{what}");
                        assert_eq!(v.n_persons, *n_persons, "{what}");
                        assert_eq!(
                            (v.motion_energy, v.presence_score),
                            (*motion_energy, *presence_score),
                            "{what}"
                        );
                        assert_eq!(v.rssi, Some(-40 - *node as i8), "{what}");
                        assert_eq!(v.timestamp_ms, Some((ts_ns / 1_000_000) as u32), "{what}");
                    }
                    (
                        AuxBody::Features(fv),
                        Item::Feature {
                            seq,
                            features,
                            ts_ns,
                            ..
                        },
                    ) => {
                        assert_eq!(fv.seq, *seq, "{what}");
                        assert_eq!(fv.features, *features, "{what}");
                        assert_eq!(fv.timestamp_us, Some(ts_ns / 1000), "{what}");
                    }
                    (AuxBody::FeatureState(s), Item::FeatureState { resp_bpm, .. }) => {
                        assert_eq!((s.mode, s.seq, s.resp_bpm), (1, 7, *resp_bpm), "{what}");
                    }
                    (body, it) => panic!("{what}: got {body:?} for {it:?}"),
                }
            }
            (r, it) => panic!("{what}: got {r:?} for {it:?}"),
        }
    }
}

fn temp_file(name: &str, bytes: &[u8]) -> PathBuf {
    // under cargo's target/tmp: the files are rewritten by every run, none is left in /tmp
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("wifi-sensing-pcap-test");
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Reads a file through the registry; returns every record (no errors allowed).
fn read_registry(path: &PathBuf) -> Vec<Record> {
    let mut cap = Registry::builtin().open_path(path).unwrap();
    assert_eq!(cap.format(), CaptureFormat::Pcap);
    let recs: Vec<Record> = cap.records().map(|r| r.unwrap()).collect();
    common::assert_clean_end(cap.stats(), &path.display().to_string());
    recs
}

fn counters(bytes: &[u8]) -> (PcapCounters, usize) {
    let mut r = PcapReader::new(bytes, &ReaderOptions::default()).unwrap();
    let mut n = 0;
    while let Some(x) = r.next_record() {
        x.unwrap();
        n += 1;
    }
    (r.counters().clone(), n)
}

/// Writes `bytes` to the temporary file `name`, reads it through the registry and checks the
/// records against `items`; then reads the bytes with [`PcapReader`] directly, which must give
/// one record per item, and returns its counters.
fn check_pcap(name: &str, bytes: &[u8], items: &[Item], what: &str) -> PcapCounters {
    check_records(&read_registry(&temp_file(name, bytes)), items, what);
    let (c, n) = counters(bytes);
    assert_eq!(n, items.len(), "{what}: records from the pcap reader");
    c
}

fn expected_counts(items: &[Item]) -> (usize, usize, usize) {
    let csi = items
        .iter()
        .filter(|i| matches!(i, Item::Csi { .. }))
        .count();
    (items.len(), csi, items.len() - csi)
}

#[test]
fn fixture_has_50_csi_and_4_aux_records() {
    let items = load_items();
    assert_eq!(expected_counts(&items), (55, 50, 5));
}

#[test]
fn ethernet_pcap_written_by_pcap_writer() {
    let items = load_items();
    let bytes = sample_pcap(&items);
    let c = check_pcap("eth.pcap", &bytes, &items, "ethernet pcap");
    assert_eq!(items.len(), 55);
    assert_eq!(
        (
            c.packets,
            c.udp,
            c.adr018,
            c.nexmon,
            c.non_csi_skipped,
            c.malformed
        ),
        (59, 57, 55, 0, 4, 0),
        "55 ADR-018 + DNS + random UDP are UDP; ARP and TCP are not"
    );
    // Frames through the frame iterator: 50.
    let cap = Registry::builtin()
        .open_path(temp_file("eth2.pcap", &bytes))
        .unwrap();
    assert_eq!(cap.count(), 50);
}

#[test]
fn raw_ip_nanosecond_pcap() {
    let items = load_items();
    let mut w = PcapWriter::with_linktype(Vec::new(), TsResolution::Nano, LINKTYPE_RAW).unwrap();
    for it in &items {
        write_item(&mut w, it, 40000);
    }
    let bytes = w.into_inner().unwrap();
    assert_eq!(&bytes[..4], &[0x4d, 0x3c, 0xb2, 0xa1]);
    check_pcap("raw.pcap", &bytes, &items, "raw-IP ns pcap");
}

/// A classic big-endian pcap with Linux cooked (SLL) frames, written by hand.
#[test]
fn big_endian_sll_pcap_by_hand() {
    let items = load_items();
    let mut out = Vec::new();
    out.extend_from_slice(&0xA1B2_C3D4u32.to_be_bytes());
    out.extend_from_slice(&[0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0]);
    out.extend_from_slice(&65535u32.to_be_bytes());
    out.extend_from_slice(&LINKTYPE_LINUX_SLL.to_be_bytes());
    let mut add = |ts: i64, frame: &[u8]| {
        out.extend_from_slice(&((ts / 1_000_000_000) as u32).to_be_bytes());
        out.extend_from_slice(&(((ts % 1_000_000_000) / 1000) as u32).to_be_bytes());
        out.extend_from_slice(&(frame.len() as u32).to_be_bytes());
        out.extend_from_slice(&(frame.len() as u32).to_be_bytes());
        out.extend_from_slice(frame);
    };
    for it in &items {
        let mut f = vec![0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, it.node(), 0, 0, 0x08, 0x00];
        f.extend(ipv4_udp(
            node_ip(it.node()),
            SINK,
            40000,
            5005,
            &datagram(it),
        ));
        add(it.ts_ns(), &f);
    }
    // An SLL frame carrying ARP: skipped.
    let mut arp = vec![0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 0x08, 0x06];
    arp.extend_from_slice(&[0; 28]);
    add(items[0].ts_ns(), &arp);
    let c = check_pcap("sll_be.pcap", &out, &items, "big-endian SLL pcap");
    assert_eq!((c.packets, c.udp, c.non_csi_skipped), (56, 55, 1));
}

/// Minimal pcapng writer for the test.
struct Ng {
    big: bool,
    out: Vec<u8>,
}

impl Ng {
    fn u16(&self, v: u16) -> [u8; 2] {
        if self.big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }
    fn u32(&self, v: u32) -> [u8; 4] {
        if self.big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }
    fn block(&mut self, btype: u32, body: &[u8]) {
        let mut body = body.to_vec();
        while !body.len().is_multiple_of(4) {
            body.push(0);
        }
        let len = (12 + body.len()) as u32;
        let (t, l) = (self.u32(btype), self.u32(len));
        self.out.extend_from_slice(&t);
        self.out.extend_from_slice(&l);
        self.out.extend_from_slice(&body);
        self.out.extend_from_slice(&l);
    }
    fn shb(&mut self) {
        let mut b = self.u32(0x1A2B_3C4D).to_vec();
        b.extend_from_slice(&self.u16(1));
        b.extend_from_slice(&self.u16(0));
        b.extend_from_slice(&[0xFF; 8]); // section length unknown
        self.block(0x0A0D_0D0A, &b);
    }
    fn idb(&mut self, linktype: u16, tsresol: Option<u8>) {
        let mut b = self.u16(linktype).to_vec();
        b.extend_from_slice(&[0, 0]);
        b.extend_from_slice(&self.u32(0));
        if let Some(r) = tsresol {
            b.extend_from_slice(&self.u16(9));
            b.extend_from_slice(&self.u16(1));
            b.extend_from_slice(&[r, 0, 0, 0]);
        }
        b.extend_from_slice(&self.u16(2)); // if_name
        b.extend_from_slice(&self.u16(4));
        b.extend_from_slice(b"eth0");
        b.extend_from_slice(&[0; 4]); // opt_endofopt
        self.block(1, &b);
    }
    fn epb(&mut self, iface: u32, ts_units: u64, data: &[u8]) {
        let mut b = self.u32(iface).to_vec();
        b.extend_from_slice(&self.u32((ts_units >> 32) as u32));
        b.extend_from_slice(&self.u32(ts_units as u32));
        b.extend_from_slice(&self.u32(data.len() as u32));
        b.extend_from_slice(&self.u32(data.len() as u32));
        b.extend_from_slice(data);
        while !b.len().is_multiple_of(4) {
            b.push(0);
        }
        b.extend_from_slice(&self.u16(1)); // opt_comment
        b.extend_from_slice(&self.u16(3));
        b.extend_from_slice(b"hi\0\0");
        b.extend_from_slice(&[0; 4]);
        self.block(6, &b);
    }
}

/// pcapng with two sections (little- then big-endian), each with an SLL2 interface at ns
/// resolution and an Ethernet interface (VLAN-tagged frames) at the default µs resolution, plus
/// blocks that must be skipped and a Simple Packet Block.
fn pcapng_two_sections(items: &[Item]) -> Vec<u8> {
    let half = items.len() / 2;
    let mut out = Vec::new();
    for (s, chunk) in [&items[..half], &items[half..]].into_iter().enumerate() {
        let mut ng = Ng {
            big: s == 1,
            out: Vec::new(),
        };
        ng.shb();
        ng.block(0x0000_0BAD, b"custom block to skip");
        ng.idb(LINKTYPE_LINUX_SLL2 as u16, Some(9));
        ng.idb(LINKTYPE_ETHERNET as u16, None);
        ng.block(5, &[0; 16]); // interface statistics: skipped
        for it in chunk {
            let ip = ipv4_udp(node_ip(it.node()), SINK, 40000, 5005, &datagram(it));
            if it.node() == 1 {
                let mut f = vec![0x08, 0x00, 0, 0, 0, 0, 0, 3, 0, 1, 0, 6];
                f.extend_from_slice(&[2, 0, 0, 0, 0, 1, 0, 0]);
                f.extend(ip);
                ng.epb(0, it.ts_ns() as u64, &f);
            } else {
                let mut f = vec![0xFF; 6];
                f.extend_from_slice(&[2, 0, 0, 0, 0, 2, 0x81, 0x00, 0x00, 0x07, 0x08, 0x00]);
                f.extend(ip);
                ng.epb(1, (it.ts_ns() / 1000) as u64, &f);
            }
        }
        // SPB (interface 0, SLL2) with a non-CSI datagram.
        let mut f = vec![
            0x08, 0x00, 0, 0, 0, 0, 0, 3, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0,
        ];
        f.extend(ipv4_udp(node_ip(1), SINK, 1, 9, b"not csi"));
        let mut b = ng.u32(f.len() as u32).to_vec();
        b.extend_from_slice(&f);
        ng.block(3, &b);
        out.extend(ng.out);
    }
    out
}

#[test]
fn pcapng_two_sections_two_interfaces() {
    let items = load_items();
    let bytes = pcapng_two_sections(&items);
    let c = check_pcap("two.pcapng", &bytes, &items, "pcapng");
    assert_eq!(items.len(), 55);
    assert_eq!(
        (c.packets, c.udp, c.adr018, c.non_csi_skipped),
        (57, 57, 55, 2)
    );
}

#[test]
fn malformed_datagrams_are_recoverable_with_offsets() {
    let items = load_items();
    let mut w = PcapWriter::new(Vec::new(), TsResolution::Micro).unwrap();
    let mut bad_offset = 0;
    for (i, it) in items.iter().enumerate() {
        if i == 3 {
            // An ADR-018 CSI datagram one byte short: malformed, reading continues.
            let mut d = datagram(&items[0]);
            d.pop();
            bad_offset = 24
                + (0..i)
                    .map(|k| 16 + 42 + datagram(&items[k]).len())
                    .sum::<usize>();
            w.write_udp(it.ts_ns(), node_ip(1), SINK, 40000, 5005, &d)
                .unwrap();
        }
        write_item(&mut w, it, 40000);
    }
    // A UDP datagram whose length field points past the captured bytes.
    let mut bytes = w.into_inner().unwrap();
    let cut_offset = bytes.len();
    let mut frame = vec![0xFF; 6];
    frame.extend_from_slice(&[2, 0, 0, 0, 0, 1, 0x08, 0x00]);
    let mut ip = ipv4_udp(node_ip(1), SINK, 1, 5005, &[0u8; 40]);
    ip[24..26].copy_from_slice(&100u16.to_be_bytes()); // UDP length 100 > 48 bytes present
    ip[2..4].copy_from_slice(&120u16.to_be_bytes()); // IP total length too
    frame.extend(ip);
    bytes.extend_from_slice(&[0; 8]);
    bytes.extend_from_slice(&(frame.len() as u32).to_le_bytes());
    bytes.extend_from_slice(&(frame.len() as u32).to_le_bytes());
    bytes.extend_from_slice(&frame);

    let mut cap = Registry::builtin()
        .open_path(temp_file("bad.pcap", &bytes))
        .unwrap();
    let all: Vec<_> = cap.records().collect();
    let errs: Vec<&Error> = all.iter().filter_map(|r| r.as_ref().err()).collect();
    assert_eq!(errs.len(), 2);
    assert!(errs.iter().all(|e| e.is_recoverable()));
    assert_eq!(errs[0].offset(), Some(bad_offset as u64));
    assert!(errs[0].to_string().contains("esp32_adr018"), "{}", errs[0]);
    assert_eq!(errs[1].offset(), Some(cut_offset as u64));
    assert!(
        errs[1].to_string().contains("past the captured bytes"),
        "{}",
        errs[1]
    );
    let good: Vec<Record> = all.into_iter().filter_map(|r| r.ok()).collect();
    check_records(&good, &items, "with malformed packets");
    assert_eq!(cap.stats().malformed, 2);
}

#[test]
fn pcap_without_csi_gives_nothing() {
    let mut w = PcapWriter::new(Vec::new(), TsResolution::Micro).unwrap();
    for (i, g) in garbage_frames().iter().enumerate() {
        w.write_packet(1_000_000_000 * i as i64, g).unwrap();
    }
    let bytes = w.into_inner().unwrap();
    let mut cap = Registry::builtin()
        .open_path(temp_file("none.pcap", &bytes))
        .unwrap();
    assert_eq!(cap.records().count(), 0);
    assert_eq!(cap.stats().malformed, 0);
    let (c, n) = counters(&bytes);
    assert_eq!((n, c.packets, c.non_csi_skipped), (0, 4, 4));
    // Header only.
    let empty = PcapWriter::new(Vec::new(), TsResolution::Nano)
        .unwrap()
        .into_inner()
        .unwrap();
    assert_eq!(
        Registry::builtin()
            .open_path(temp_file("empty.pcap", &empty))
            .unwrap()
            .count(),
        0
    );
}

#[test]
fn committed_sample_is_reproducible() {
    let bytes = sample_pcap(&load_items());
    let path = fixtures().join("pcap/adr018_sample.pcap");
    if std::env::var_os("WIFI_SENSING_WRITE_FIXTURES").is_some() {
        std::fs::write(&path, &bytes).unwrap();
    }
    assert_eq!(
        std::fs::read(&path).expect("fixtures/pcap/adr018_sample.pcap"),
        bytes
    );
}

#[test]
fn committed_sample_reads_back() {
    let recs = read_registry(&fixtures().join("pcap/adr018_sample.pcap"));
    check_records(&recs, &load_items(), "committed sample");
}

#[test]
#[ignore = "needs the capture kit (WIFI_SENSING_KIT)"]
fn fixture_prefix_matches_kit() {
    let kit_text =
        std::fs::read_to_string(kit().join("ruview_esp32/pretrain-1775182186.csi.jsonl")).unwrap();
    let fixture =
        std::fs::read_to_string(fixtures().join("pcap/ruview_first50.csi.jsonl")).unwrap();
    let n = fixture.lines().count();
    assert_eq!(n, 54);
    let prefix: Vec<&str> = kit_text.lines().take(n).collect();
    assert_eq!(fixture.lines().collect::<Vec<_>>(), prefix);
    assert_eq!(
        prefix.iter().filter(|l| l.contains("\"raw_csi\"")).count(),
        50
    );
}
