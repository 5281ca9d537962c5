//! Live UDP source over loopback: frames arrive identical, garbage is counted and skipped.

mod common;

use std::net::UdpSocket;
use std::time::Duration;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use wifi_sensing_core::formats::adr018::{self, CsiDatagram};
use wifi_sensing_core::udp::{UdpSource, UdpStats};

use wifi_sensing_core::{Capture, CsiFrame, ReadStats, Record};

/// Loopback UDP drops datagrams when the receiver falls behind by more than the socket buffer
/// (e.g. on a loaded machine): the sender stays at most a few frames ahead of the receiver.
fn wait_window(received: &AtomicUsize, sent: usize) {
    let start = std::time::Instant::now();
    while sent > received.load(Ordering::SeqCst) + 8 && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// What a loopback run delivered: the frames in arrival order, the source's counters and the
/// capture's statistics.
struct Delivery {
    frames: Vec<CsiFrame>,
    udp: UdpStats,
    read: ReadStats,
}

/// Sends `payloads` over loopback to a fresh [`UdpSource`], each one preceded by the garbage
/// datagrams `junk(payload)` returns, with the sender paced by [`wait_window`]. Reads frames
/// (malformed datagrams are counted and skipped; any other error fails the test) until one per
/// payload has arrived or the source's 30 s safety stop ends the stream.
fn over_loopback(
    payloads: Vec<Vec<u8>>,
    mut junk: impl FnMut(&[u8]) -> Vec<Vec<u8>> + Send + 'static,
) -> Delivery {
    let src = UdpSource::bind("127.0.0.1:0")
        .unwrap()
        .stop_after(Duration::from_secs(30));
    let addr = src.local_addr().unwrap();
    let stats = src.stats_handle();
    let n = payloads.len();
    let received = Arc::new(AtomicUsize::new(0));
    let progress = Arc::clone(&received);
    let sender = std::thread::spawn(move || {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        for (i, p) in payloads.iter().enumerate() {
            wait_window(&progress, i);
            for j in junk(p) {
                s.send_to(&j, addr).unwrap();
            }
            s.send_to(p, addr).unwrap();
        }
    });
    let mut cap = Capture::new(Box::new(src)).skip_malformed(true);
    let mut frames = Vec::new();
    for f in (&mut cap).take(n) {
        frames.push(f.unwrap());
        received.store(frames.len(), Ordering::SeqCst);
    }
    sender.join().unwrap();
    let udp = stats.lock().unwrap().clone();
    Delivery {
        frames,
        udp,
        read: cap.stats().clone(),
    }
}

const RUVIEW_FIXTURE: &str = "../fixtures/ruview_esp32/pretrain-1775182186_first300.csi.jsonl";

fn datagrams(n: u32, node: u8) -> Vec<(CsiDatagram, Vec<u8>)> {
    (0..n)
        .map(|i| {
            let d = CsiDatagram {
                node_id: node,
                sequence: i * if i > 10 { 2 } else { 1 }, // a gap after 10 -> drops
                channel: 6,
                rssi: -40 - (i % 7) as i8,
                noise_floor: -95,
                n_antennas: 1,
                iq: (0..64)
                    .map(|k| [((i + k) % 128) as i8, -(((i * 3 + k) % 100) as i8)])
                    .collect(),
            };
            let b = adr018::encode_csi(&d).unwrap();
            (d, b)
        })
        .collect()
}

#[test]
fn loopback_frames_identical_and_garbage_counted() {
    let sent = datagrams(40, 4);
    let expected: Vec<CsiFrame> = sent
        .iter()
        .map(|(_, b)| {
            match adr018::decode_datagram(b, 0, 0, wifi_sensing_core::Clock::Host).unwrap() {
                Record::Frame(f) => f,
                other => panic!("not a frame: {other:?}"),
            }
        })
        .collect();
    let payloads: Vec<Vec<u8>> = sent.iter().map(|(_, b)| b.clone()).collect();
    // five garbage datagrams (random bytes, wrong magic, absurd lengths) per real frame
    let mut x = 0x1234_5678u32;
    let got = over_loopback(payloads, move |_| {
        (0..5)
            .map(|g| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                let len = (x % 1500) as usize;
                let mut junk: Vec<u8> = (0..len).map(|k| (x as usize + k * 31) as u8).collect();
                if g == 1 && junk.len() > 8 {
                    junk[..4].copy_from_slice(&0xC511_0001u32.to_le_bytes()); // right magic, wrong size
                    junk[5] = 200;
                }
                junk
            })
            .collect()
    });
    assert_eq!(
        got.frames.len(),
        expected.len(),
        "all real frames must arrive"
    );
    for (g, e) in got.frames.iter().zip(&expected) {
        common::assert_same_fields!(g, e, "ADR-018 frame"; csi, sequence, rssi_dbm);
        assert_eq!(g.node_id, 4);
        assert!(g.timestamp_ns > 0);
    }
    let s = &got.udp;
    assert_eq!(s.frames, 40);
    assert_eq!(s.malformed, 200);
    assert_eq!(s.datagrams, 240);
    let node = &s.nodes.nodes()[&4];
    // sequences 0..=10 then 22, 24, ... 78: one gap of 11 then gaps of 1 each -> 11 + 28 drops
    assert_eq!(node.dropped, 11 + 28);
    // a rate needs a measurable span (loopback may deliver all 40 frames within it)
    let min_span_s = wifi_sensing_core::nodes::MIN_RATE_SPAN_NS as f64 * 1e-9;
    assert_eq!(node.rate_hz().is_some(), node.span_s() >= min_span_s);
    assert!(node.rate_hz().is_none_or(|r| r > 0.0));
    assert_eq!(got.read.malformed, 200);
}

#[test]
fn stop_flag_ends_the_stream() {
    let src = UdpSource::bind("127.0.0.1:0").unwrap();
    let flag = src.stop_flag();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(150));
        flag.store(true, std::sync::atomic::Ordering::SeqCst);
    });
    let mut cap = Capture::new(Box::new(src));
    let start = std::time::Instant::now();
    assert!(cap.next_record().is_none());
    assert!(start.elapsed() < Duration::from_secs(5));
    t.join().unwrap();
}

/// Frames of a real capture (the RuView fixture: two ESP32-S3 nodes, 64/128/192-pair buffers),
/// re-encoded as the firmware's ADR-018 datagrams and sent over loopback with garbage mixed in,
/// arrive with identical CSI, node ids and sequence numbers.
#[test]
fn real_capture_over_loopback_arrives_identical() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(RUVIEW_FIXTURE);
    let frames: Vec<wifi_sensing_core::CsiFrame> = wifi_sensing_core::open(&path)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(frames.len() > 200);
    let mut seq = std::collections::HashMap::new();
    let payloads: Vec<Vec<u8>> = frames
        .iter()
        .map(|f| {
            let s = seq.entry(f.node_id).or_insert(0u32);
            *s += 1;
            adr018::encode_csi(&CsiDatagram {
                node_id: f.node_id as u8,
                sequence: *s,
                channel: 6,
                rssi: -50,
                noise_floor: -95,
                n_antennas: 1,
                iq: f.csi.iter().map(|c| [c.im as i8, c.re as i8]).collect(),
            })
            .unwrap()
        })
        .collect();
    let n = payloads.len();
    // before each frame: a cut datagram, and one that is not ADR-018
    let got = over_loopback(payloads, |p| {
        vec![p[..p.len() / 2].to_vec(), vec![0xFFu8; 300]]
    });
    assert_eq!(got.frames.len(), n);
    for (g, f) in got.frames.iter().zip(&frames) {
        assert_eq!(g.csi, f.csi, "CSI must arrive bit-identical");
        assert_eq!(g.node_id, f.node_id);
    }
    let s = &got.udp;
    assert_eq!(s.malformed, 2 * n as u64);
    for node in s.nodes.nodes().values() {
        assert_eq!(node.dropped, 0);
    }
}

/// Nexmon datagrams (the real bcm43455c0 40 MHz fixture's UDP payloads) sent over loopback are
/// decoded like the same packets inside the pcap file.
#[test]
fn nexmon_datagrams_over_loopback_match_the_pcap_reader() {
    use wifi_sensing_core::formats::pcap::{parse_udp, PcapPackets};
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/nexmon/40mhz_1600085286.pcap");
    let from_file: Vec<wifi_sensing_core::CsiFrame> = wifi_sensing_core::open(&path)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let file = std::io::BufReader::new(std::fs::File::open(&path).unwrap());
    let mut payloads = Vec::new();
    for p in PcapPackets::new(file, &Default::default()).unwrap() {
        let p = p.unwrap();
        if let Ok(Some(u)) = parse_udp(p.linktype, &p.data) {
            payloads.push(p.data[u.payload].to_vec());
        }
    }
    assert_eq!(payloads.len(), from_file.len());
    let n = payloads.len();
    // before each packet: its first 20 bytes (Nexmon magic, but cut inside the CSI)
    let got = over_loopback(payloads, |p| vec![p[..20].to_vec()]);
    assert_eq!(got.frames.len(), n);
    for (g, f) in got.frames.iter().zip(&from_file) {
        assert_eq!(g.format, wifi_sensing_core::CaptureFormat::Nexmon);
        common::assert_same_fields!(g, f, "Nexmon frame"; csi, sequence, channel);
        assert_eq!(g.bandwidth_mhz, Some(40));
        assert_eq!(g.subcarriers, f.subcarriers);
    }
    let s = &got.udp;
    assert_eq!(s.nexmon_frames, n as u64);
    assert_eq!(s.malformed, n as u64);
}

#[test]
fn malformed_datagrams_are_named_by_number_and_sender() {
    let src = UdpSource::bind("127.0.0.1:0")
        .unwrap()
        .stop_after(Duration::from_secs(30))
        .max_datagrams(3);
    let addr = src.local_addr().unwrap();
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    let me = s.local_addr().unwrap().to_string();
    for junk in [&[0u8; 18][..], &[1; 18], &[2; 18]] {
        s.send_to(junk, addr).unwrap();
    }
    let mut cap = Capture::new(Box::new(src));
    let errs: Vec<String> = std::iter::from_fn(|| cap.next_record())
        .map(|r| r.unwrap_err())
        .inspect(|e| assert!(e.is_recoverable() && e.offset().is_none(), "{e}"))
        .map(|e| e.to_string())
        .collect();
    assert_eq!(errs.len(), 3, "{errs:?}");
    for (i, e) in errs.iter().enumerate() {
        assert!(
            e.contains(&format!("malformed datagram {} from {me}", i + 1)),
            "{e}"
        );
        assert!(!e.contains("byte"), "{e}");
    }
}

/// Frames of one node id from two sender addresses (two nodes configured alike) are listed in
/// `shared_node_ids` with both addresses in order of arrival; a node id from one address only
/// (on several ports: a node that rebooted) is not.
#[cfg(target_os = "linux")]
#[test]
fn a_node_id_from_two_senders_is_listed() {
    let src = UdpSource::bind("127.0.0.1:0")
        .unwrap()
        .stop_after(Duration::from_secs(30))
        .max_datagrams(8);
    let addr = src.local_addr().unwrap();
    let stats = src.stats_handle();
    // Linux routes all of 127.0.0.0/8 to loopback
    let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    let a2 = UdpSocket::bind("127.0.0.1:0").unwrap();
    let b = UdpSocket::bind("127.0.0.2:0").unwrap();
    let d3 = datagrams(4, 3);
    let d5 = datagrams(4, 5);
    for i in 0..4 {
        // node 3 from two addresses, node 5 from two ports of one address
        let from3 = if i < 2 { &a } else { &b };
        from3.send_to(&d3[i].1, addr).unwrap();
        let from5 = if i % 2 == 0 { &a } else { &a2 };
        from5.send_to(&d5[i].1, addr).unwrap();
    }
    let mut cap = Capture::new(Box::new(src));
    let mut n = 0;
    while let Some(r) = cap.next_record() {
        r.unwrap();
        n += 1;
    }
    assert_eq!(n, 8);
    let st = stats.lock().unwrap().clone();
    assert_eq!(st.shared_node_ids.len(), 1, "{:?}", st.shared_node_ids);
    assert_eq!(st.shared_node_ids[&3], ["127.0.0.1", "127.0.0.2"]);
}
