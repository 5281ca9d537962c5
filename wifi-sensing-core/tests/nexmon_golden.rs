//! Nexmon pcap files against the kit's golden files: every packet, every CSI value exact, and
//! the header fields the golden lines carry.

mod common;

use std::path::{Path, PathBuf};

use common::{assert_csi_matches, assert_int, field_i as int, fixtures, kit, load_golden, Golden};
use serde_json::Value;
use wifi_sensing_core::formats::nexmon::{NexmonChip, NexmonMeta, NexmonOptions};
use wifi_sensing_core::formats::pcap::{parse_udp, PcapPackets, PcapReader};
use wifi_sensing_core::num_complex::Complex32;
use wifi_sensing_core::{
    CaptureFormat, CaptureReader, Clock, CsiFrame, Device, FormatMeta, ReaderOptions, Record,
    Registry,
};

const KIT_FILES: [&str; 5] = [
    "example.pcap",
    "example_4339.pcap",
    "example_43455c0.pcap",
    "example_4366c0.pcap",
    "40mhz_1600085286.pcap",
];

fn meta(f: &CsiFrame) -> &NexmonMeta {
    match &f.meta {
        FormatMeta::Nexmon(m) => m,
        other => panic!("not a Nexmon frame: {other:?}"),
    }
}

fn read_all(path: &Path, options: ReaderOptions) -> Vec<CsiFrame> {
    let mut cap = Registry::builtin()
        .with_options(options)
        .open_path(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(cap.format(), CaptureFormat::Pcap);
    let frames: Vec<CsiFrame> = cap
        .by_ref()
        .map(|f| f.unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .collect();
    common::assert_clean_end(cap.stats(), &path.display().to_string());
    frames
}

/// Compares every frame of `capture` with `golden`; returns the number of frames checked.
fn check_file(capture: &Path, golden: &Path) -> usize {
    let g: Golden = load_golden(golden);
    let frames = read_all(capture, ReaderOptions::default());
    let name = capture.file_name().unwrap().to_string_lossy().to_string();
    assert_eq!(
        frames.len() as i64,
        int(&g.header, "frames"),
        "{name}: frame count"
    );
    assert_eq!(frames.len(), g.frames.len(), "{name}: golden lines");
    let chip = g.header["chip"].as_str().unwrap();
    let nfft = int(&g.header, "nfft") as usize;
    let cs = &g.header["chanspecs"][0];
    let mut trailers = 0;
    for (i, (f, gl)) in frames.iter().zip(&g.frames).enumerate() {
        let what = format!("{name} packet {i}");
        let m = meta(f);
        // Time: pcap seconds + microseconds, host clock.
        assert_eq!(f.clock, Clock::Host, "{what}");
        assert_eq!(
            f.timestamp_ns,
            int(gl, "sec") * 1_000_000_000 + int(gl, "usec") * 1000,
            "{what}: time"
        );
        // Header fields under the golden names.
        assert_int(m.magic, gl, "magic", &what);
        let src = common::bytes(&gl["src_addr"]);
        assert_eq!(m.src_addr.to_vec(), src, "{what}: src_addr");
        assert_eq!(f.mac, Some(m.src_addr), "{what}");
        assert_int(m.seq, gl, "seq", &what);
        assert_eq!(f.sequence, Some(u32::from(m.seq >> 4)), "{what}: sequence");
        assert_int(m.core, gl, "core", &what);
        assert_int(m.spatial, gl, "spatial", &what);
        assert_int(m.chan_spec, gl, "chan_spec", &what);
        assert_int(m.chip_version, gl, "chip_version", &what);
        assert_int(m.caplen, gl, "caplen", &what);
        assert_int(m.wirelen, gl, "wirelen", &what);
        assert_eq!(m.offset as i64, int(gl, "_offset"), "{what}: _offset");
        assert_int(m.udp_payload_len, gl, "_udp_payload_len", &what);
        let trailer = gl
            .get("_eth_trailer_len")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        assert_eq!(
            i64::from(m.eth_trailer_len),
            trailer,
            "{what}: _eth_trailer_len"
        );
        trailers += usize::from(trailer > 0);
        match gl.get("rssi") {
            Some(r) => {
                assert_eq!(m.header_version, 2, "{what}");
                assert_eq!(m.rssi.map(i64::from), r.as_i64(), "{what}: rssi");
                assert_eq!(
                    f.rssi_dbm,
                    Some(r.as_i64().unwrap() as f32),
                    "{what}: rssi_dbm"
                );
                assert_eq!(m.fc.map(i64::from), gl["fc"].as_i64(), "{what}: fc");
            }
            None => {
                assert!(
                    m.header_version < 2
                        && m.rssi.is_none()
                        && m.fc.is_none()
                        && f.rssi_dbm.is_none(),
                    "{what}"
                );
            }
        }
        // Chip, size and channel.
        assert_eq!(
            m.chip.map(NexmonChip::name).unwrap_or("?"),
            chip,
            "{what}: chip"
        );
        assert_eq!(m.nfft as usize, nfft, "{what}: nfft");
        assert_eq!(f.shape(), (1, 1, nfft), "{what}");
        assert_eq!(
            f.channel.map(i64::from),
            cs["channel"].as_i64(),
            "{what}: channel"
        );
        assert_eq!(
            f.bandwidth_mhz.map(i64::from),
            cs["bandwidth_mhz"].as_i64(),
            "{what}: bandwidth"
        );
        assert_int(m.sideband, cs, "sideband", &what);
        assert_eq!(
            f.center_freq_mhz,
            Some(5000 + 5 * cs["channel"].as_u64().unwrap() as u32),
            "{what}"
        );
        assert_eq!(f.format, CaptureFormat::Nexmon);
        // CSI values: integers for every chip (packed float with autoscale = 1 gives integers).
        assert_csi_matches(f, gl, 0.0, &what);
    }
    assert_eq!(
        trailers as i64,
        int(&g.header, "packets_with_ethernet_trailer"),
        "{name}: trailer packets"
    );
    frames.len()
}

/// The kit's capture `nexmon/<name>` read with the Nexmon options `set` makes, and its golden file.
fn kit_read_with(name: &str, set: impl FnOnce(&mut NexmonOptions)) -> (Vec<CsiFrame>, Golden) {
    let (c, g) = kit_pair(name);
    let mut o = ReaderOptions::default();
    set(&mut o.nexmon);
    (read_all(&c, o), load_golden(&g))
}

fn kit_pair(name: &str) -> (PathBuf, PathBuf) {
    let k = kit();
    (
        k.join("nexmon").join(name),
        k.join("golden/nexmon").join(format!("{name}.jsonl")),
    )
}

#[test]
fn fixture_example_v0_bcm4358_matches_golden() {
    let dir = fixtures().join("nexmon");
    assert_eq!(
        check_file(&dir.join("example.pcap"), &dir.join("example.pcap.jsonl")),
        4
    );
    // v0 carries no chip id: the packed-float bcm4358 layout was inferred from the data.
    let frames = read_all(&dir.join("example.pcap"), ReaderOptions::default());
    for f in &frames {
        let m = meta(f);
        assert_eq!(
            (m.header_version, m.chip_version, m.chip, m.chip_inferred),
            (0, 0xdead, Some(NexmonChip::Bcm4358), true)
        );
        assert!(m.packed_float);
        assert_eq!(f.device, Device::Bcm4358);
        assert_eq!(m.control_channel, Some(157));
    }
}

#[test]
fn fft_order_matches_the_guard_bands_of_a_vht80_capture() {
    // bcm4358 at 80 MHz, a full-band transmission: tones +-2..=+-122 carry energy, DC (0, +-1)
    // and the guards (+-123..=+-128) do not. With the FFT-order indices this must hold.
    let frames = read_all(
        &fixtures().join("nexmon/example.pcap"),
        ReaderOptions::default(),
    );
    let (mut data, mut empty, mut n_data, mut n_empty) = (0f64, 0f64, 0, 0);
    for f in &frames {
        let idx = f.subcarriers.as_ref().unwrap();
        assert_eq!(idx.len(), 256);
        assert_eq!((idx[0], idx[127], idx[128], idx[255]), (0, 127, -128, -1));
        for (k, &sc) in idx.iter().enumerate() {
            let a = f64::from(f.csi[[0, 0, k]].norm());
            if (2..=122).contains(&sc.abs()) {
                data += a;
                n_data += 1;
            } else {
                empty += a;
                n_empty += 1;
            }
        }
    }
    let (data, empty) = (data / f64::from(n_data), empty / f64::from(n_empty));
    assert!(
        empty < 0.05 * data,
        "mean |H| on DC/guards {empty} vs data tones {data}"
    );
}

#[test]
fn fixture_40mhz_v2_bcm43455c0_matches_golden() {
    let dir = fixtures().join("nexmon");
    assert_eq!(
        check_file(
            &dir.join("40mhz_1600085286.pcap"),
            &dir.join("40mhz_1600085286.pcap.jsonl")
        ),
        81
    );
}

#[test]
#[ignore = "needs the capture kit (WIFI_SENSING_KIT)"]
fn kit_every_nexmon_file_matches_golden() {
    let mut total = 0;
    for name in KIT_FILES {
        let (c, g) = kit_pair(name);
        total += check_file(&c, &g);
    }
    assert_eq!(total, 4 + 2850 + 566 + 293 + 81);
}

#[test]
#[ignore = "needs the capture kit (WIFI_SENSING_KIT)"]
fn kit_fixtures_are_the_kit_files() {
    for name in ["example.pcap", "40mhz_1600085286.pcap"] {
        let (c, g) = kit_pair(name);
        let dir = fixtures().join("nexmon");
        assert_eq!(
            std::fs::read(&c).unwrap(),
            std::fs::read(dir.join(name)).unwrap(),
            "{name}"
        );
        assert_eq!(
            std::fs::read(&g).unwrap(),
            std::fs::read(dir.join(format!("{name}.jsonl"))).unwrap(),
            "{name}"
        );
    }
}

/// Rewrites the chip-id field of every Nexmon payload in a classic pcap image.
fn patch_chip_id(bytes: &mut [u8], value: u16) -> usize {
    let mut offsets = Vec::new();
    let mut r = PcapPackets::new(&bytes[..], &Default::default()).unwrap();
    while let Some(p) = r.next_packet() {
        let p = p.unwrap();
        let udp = parse_udp(p.linktype, p.data).unwrap().unwrap();
        offsets.push(p.offset as usize + 16 + udp.payload.start + 16);
    }
    for o in &offsets {
        bytes[*o..*o + 2].copy_from_slice(&value.to_le_bytes());
    }
    offsets.len()
}

fn read_bytes(bytes: Vec<u8>, options: ReaderOptions) -> Vec<CsiFrame> {
    let cap = Registry::builtin()
        .with_options(options)
        .open_read(Box::new(std::io::Cursor::new(bytes)), None, None, None)
        .unwrap();
    cap.map(|f| f.unwrap()).collect()
}

fn assert_same_csi(a: &[CsiFrame], b: &[CsiFrame]) {
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        assert_eq!(x.csi, y.csi);
    }
}

#[test]
#[ignore = "needs the capture kit (WIFI_SENSING_KIT)"]
fn inference_without_chip_id_reproduces_known_chips() {
    // int16 (bcm4339) and packed float (bcm4366c0) files with their chip id replaced by the v0
    // padding: the inferred layout gives the same values as the known chip.
    for (name, expect_chip) in [
        ("example_4339.pcap", None),
        ("example_4366c0.pcap", Some(NexmonChip::Bcm4366c0)),
    ] {
        let (c, _) = kit_pair(name);
        let original = read_all(&c, ReaderOptions::default());
        let mut bytes = std::fs::read(&c).unwrap();
        assert_eq!(patch_chip_id(&mut bytes, 0xdead), original.len());
        let inferred = read_bytes(bytes.clone(), ReaderOptions::default());
        assert_same_csi(&original, &inferred);
        for f in &inferred {
            let m = meta(f);
            assert_eq!(
                (m.header_version, m.chip, m.chip_inferred),
                (0, expect_chip, true),
                "{name}"
            );
        }
        // An unknown chip id in a v1 header takes the same route.
        patch_chip_id(&mut bytes, 0x7777);
        let inferred = read_bytes(bytes, ReaderOptions::default());
        assert_same_csi(&original, &inferred);
        assert!(inferred
            .iter()
            .all(|f| meta(f).header_version == 1 && meta(f).chip_inferred));
    }
}

#[test]
fn forced_chip_overrides_inference() {
    // Forcing int16 on the packed-float v0 file gives different (raw) values and no inference.
    let path = fixtures().join("nexmon/example.pcap");
    let mut o = ReaderOptions::default();
    o.nexmon.chip = Some(NexmonChip::Bcm4339);
    let forced = read_all(&path, o);
    let inferred = read_all(&path, ReaderOptions::default());
    assert_eq!(forced.len(), 4);
    assert!(forced
        .iter()
        .all(|f| !meta(f).chip_inferred && meta(f).chip == Some(NexmonChip::Bcm4339)));
    assert_ne!(forced[0].csi, inferred[0].csi);
    // Word 0 of the first packet is 0x004fd031: as int16 that is (-12239, 79).
    assert_eq!(forced[0].csi[[0, 0, 0]], Complex32::new(-12239.0, 79.0));
}

#[test]
fn grouping_example_v0_into_one_2x2_frame() {
    let path = fixtures().join("nexmon/example.pcap");
    let mut o = ReaderOptions::default();
    o.nexmon.group_by_sequence = true;
    let grouped = read_all(&path, o);
    let single = read_all(&path, ReaderOptions::default());
    assert_eq!(grouped.len(), 1);
    let g = &grouped[0];
    assert_eq!(g.shape(), (2, 2, 256));
    for s in &single {
        let m = meta(s);
        let (c, ss) = (usize::from(m.core), usize::from(m.spatial));
        for k in 0..256 {
            assert_eq!(g.csi[[c, ss, k]], s.csi[[0, 0, k]]);
        }
    }
    assert_eq!(g.timestamp_ns, single[0].timestamp_ns);
    assert_eq!(meta(g).group.len(), 4);
}

#[test]
#[ignore = "needs the capture kit (WIFI_SENSING_KIT)"]
fn grouping_example_4339_gives_950_frames_of_3_streams() {
    let (frames, golden) = kit_read_with("example_4339.pcap", |o| o.group_by_sequence = true);
    assert_eq!(frames.len(), 950);
    let mut k = 0;
    for f in &frames {
        assert_eq!(f.shape(), (1, 3, 256));
        assert_eq!(meta(f).group, vec![[0, 0], [0, 1], [0, 2]]);
        for ss in 0..3 {
            let gl = &golden.frames[k];
            assert_eq!(int(gl, "spatial"), ss as i64);
            assert_eq!(f.sequence, Some((int(gl, "seq") >> 4) as u32));
            let re = gl["csi"]["re"].as_array().unwrap();
            let im = gl["csi"]["im"].as_array().unwrap();
            for sc in 0..256 {
                let v = f.csi[[0, ss, sc]];
                assert_eq!(
                    (v.re as i64, v.im as i64),
                    (re[sc].as_i64().unwrap(), im[sc].as_i64().unwrap())
                );
            }
            k += 1;
        }
    }
    assert_eq!(k, 2850);
}

#[test]
#[ignore = "needs the capture kit (WIFI_SENSING_KIT)"]
fn v2_phy_status_masking_on_43455c0() {
    let (frames, golden) = kit_read_with("example_43455c0.pcap", |o| o.mask_phy_status = true);
    assert_eq!(frames.len(), 566);
    for (f, gl) in frames.iter().zip(&golden.frames) {
        assert!(meta(f).phy_status_masked);
        let re = gl["csi"]["re"].as_array().unwrap();
        let im = gl["csi"]["im"].as_array().unwrap();
        for k in 0..256 {
            let want = if k < 3 {
                Complex32::new(0.0, 0.0)
            } else {
                Complex32::new(
                    re[k].as_f64().unwrap() as f32,
                    im[k].as_f64().unwrap() as f32,
                )
            };
            assert_eq!(f.csi[[0, 0, k]], want);
        }
    }
}

#[test]
fn reader_counters_on_fixture() {
    let path = fixtures().join("nexmon/40mhz_1600085286.pcap");
    let file = std::io::BufReader::new(std::fs::File::open(path).unwrap());
    let mut r = PcapReader::new(file, &ReaderOptions::default()).unwrap();
    let mut n = 0;
    while let Some(rec) = r.next_record() {
        assert!(matches!(rec.unwrap(), Record::Frame(_)));
        n += 1;
    }
    let c = r.counters();
    assert_eq!(
        (
            n,
            c.packets,
            c.udp,
            c.nexmon,
            c.adr018,
            c.non_csi_skipped,
            c.malformed
        ),
        (81, 81, 81, 81, 0, 0, 0)
    );
}

#[test]
fn port_or_source_required() {
    // The same payloads on another port and from another Ethernet source are not Nexmon.
    let path = fixtures().join("nexmon/example.pcap");
    let bytes = std::fs::read(path).unwrap();
    let mut moved = bytes.clone();
    let mut r = PcapPackets::new(&bytes[..], &Default::default()).unwrap();
    let mut spots = Vec::new();
    while let Some(p) = r.next_packet() {
        let p = p.unwrap();
        spots.push(p.offset as usize + 16);
    }
    for s in &spots {
        moved[s + 6..s + 12].copy_from_slice(&[2, 0, 0, 0, 0, 1]); // Ethernet source
        moved[s + 34..s + 38].copy_from_slice(&[0x13, 0x88, 0x13, 0x89]); // ports 5000 -> 5001
    }
    let mut r = PcapReader::new(&moved[..], &ReaderOptions::default()).unwrap();
    assert!(r.next_record().is_none());
    assert_eq!((r.counters().packets, r.counters().non_csi_skipped), (4, 4));
    // With the port configured, they are read again.
    let mut o = ReaderOptions::default();
    o.nexmon.port = 5001;
    assert_eq!(read_bytes(moved, o).len(), 4);
}
