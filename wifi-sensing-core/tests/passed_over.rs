//! Input units without CSI are counted in `ReadStats::passed_over`, so a capture that holds no
//! CSI at all is reported as such instead of looking like an empty file.

use std::net::Ipv4Addr;

use wifi_sensing_core::formats::adr018::{encode_csi, CsiDatagram};
use wifi_sensing_core::formats::pcap::{PcapWriter, TsResolution};
use wifi_sensing_core::{CaptureFormat, Registry};

/// A pcap with `n_other` ARP packets, then (when `with_csi`) one ADR-018 datagram on UDP 5005.
fn capture(n_other: usize, with_csi: bool) -> Vec<u8> {
    let mut w = PcapWriter::new(Vec::new(), TsResolution::Micro).unwrap();
    for i in 0..n_other {
        let mut arp = vec![0xFF; 6];
        arp.extend_from_slice(&[0, 1, 2, 3, 4, 5, 0x08, 0x06]);
        arp.extend_from_slice(&[0; 28]);
        w.write_packet(i as i64 * 1000, &arp).unwrap();
    }
    if with_csi {
        let d = CsiDatagram {
            node_id: 3,
            sequence: 1,
            channel: 6,
            rssi: -40,
            noise_floor: -90,
            n_antennas: 1,
            iq: vec![[1, 2]; 64],
        };
        let payload = encode_csi(&d).unwrap();
        let ip = Ipv4Addr::new(10, 0, 0, 3);
        w.write_udp(9_000, ip, ip, 5005, 5005, &payload).unwrap();
    }
    w.into_inner().unwrap()
}

fn open(bytes: Vec<u8>) -> wifi_sensing_core::Capture {
    Registry::builtin()
        .open_read(Box::new(std::io::Cursor::new(bytes)), None, None, None)
        .unwrap()
}

#[test]
fn pcap_without_csi_counts_every_packet_as_passed_over() {
    let mut cap = open(capture(5, false));
    assert_eq!(cap.format(), CaptureFormat::Pcap);
    assert_eq!(cap.by_ref().count(), 0);
    let s = cap.stats();
    assert_eq!((s.frames, s.malformed, s.passed_over), (0, 0, 5));
}

#[test]
fn pcap_with_csi_counts_only_the_other_packets() {
    let mut cap = open(capture(3, true));
    let frames: Vec<_> = cap.by_ref().collect::<Result<_, _>>().unwrap();
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].node_id, 3);
    let s = cap.stats();
    assert_eq!((s.frames, s.passed_over), (1, 3));
}
