//! Atheros reader against the golden file: every frame, every status field, every CSI value.

mod common;

use std::io::Cursor;

use serde_json::Value;
use wifi_sensing_core::formats::atheros::{AtherosMeta, AtherosReader, Endianness};
use wifi_sensing_core::{
    CaptureFormat, CaptureReader, Clock, CsiFrame, FormatMeta, ReaderOptions, Record, Registry,
};

use common::{assert_csi_matches, assert_uint, field_u as u, load_golden, Golden};

fn meta(frame: &CsiFrame) -> &AtherosMeta {
    match &frame.meta {
        FormatMeta::Atheros(m) => m,
        other => panic!("not an Atheros meta: {other:?}"),
    }
}

/// Reads `bytes` and compares every frame with `golden`; returns the number of frames compared.
fn check(bytes: &[u8], golden: &Golden, name: &str) -> usize {
    let h = &golden.header;
    let mut r = AtherosReader::new(
        Box::new(Cursor::new(bytes.to_vec())),
        &ReaderOptions::default(),
    )
    .unwrap();
    let want_order = match h["endianness"].as_str() {
        Some("little") => Endianness::Little,
        Some("big") => Endianness::Big,
        other => panic!("{name}: endianness {other:?}"),
    };
    assert_eq!(r.endianness(), want_order, "{name}: detected byte order");
    let mut frames = Vec::new();
    while let Some(x) = r.next_record() {
        match x {
            Ok(Record::Frame(f)) => frames.push((f, r.position())),
            other => panic!("{name}: {other:?}"),
        }
    }
    assert_eq!(frames.len(), golden.frames.len(), "{name}: frame count");
    assert_eq!(r.counts().without_csi, 0);
    assert_eq!(r.counts().malformed, 0);
    assert_eq!(r.counts().trailing_partial_bytes, 0);
    for (n, ((f, pos), g)) in frames.iter().zip(&golden.frames).enumerate() {
        let what = format!("{name} frame {n}");
        let m = meta(f);
        assert_uint(m.timestamp, g, "timestamp", &what);
        assert_uint(m.csi_len, g, "csi_len", &what);
        assert_uint(m.tx_channel, g, "tx_channel", &what);
        assert_uint(m.err_info, g, "err_info", &what);
        assert_uint(m.noise_floor, g, "noise_floor", &what);
        assert_uint(m.rate, g, "Rate", &what);
        assert_uint(m.bandwidth, g, "bandWidth", &what);
        assert_uint(m.num_tones, g, "num_tones", &what);
        assert_uint(m.nr, g, "nr", &what);
        assert_uint(m.nc, g, "nc", &what);
        assert_uint(m.rssi, g, "rssi", &what);
        assert_uint(m.rssi_1, g, "rssi_1", &what);
        assert_uint(m.rssi_2, g, "rssi_2", &what);
        assert_uint(m.rssi_3, g, "rssi_3", &what);
        assert_uint(m.payload_len, g, "payload_len", &what);
        let rec_len = 2 + 25 + u64::from(m.csi_len) + u64::from(m.payload_len);
        assert_eq!(pos - rec_len, u(g, "_offset"), "{what}: _offset");
        // common fields derived from the status
        assert_eq!(f.format, CaptureFormat::Atheros);
        assert_eq!(f.clock, Clock::Device);
        assert_eq!(f.timestamp_ns, (m.timestamp * 1000) as i64);
        assert_eq!(f.center_freq_mhz, Some(u(g, "tx_channel") as u32));
        assert_eq!(
            f.bandwidth_mhz,
            Some(if m.bandwidth == 1 { 40 } else { 20 })
        );
        assert_eq!(
            f.chain_rssi,
            vec![m.rssi_1 as f32, m.rssi_2 as f32, m.rssi_3 as f32],
            "{what}: chain_rssi"
        );
        let sc = f.subcarriers.as_ref().unwrap();
        assert_eq!(sc.len(), m.num_tones as usize);
        assert_csi_matches(f, g, 0.0, &what);
    }
    frames.len()
}

#[test]
fn fixture_first_five_records_match_golden() {
    let dir = common::fixtures().join("atheros");
    let bytes = std::fs::read(dir.join("ath_csi_1.first5.dat")).unwrap();
    let golden = load_golden(&dir.join("ath_csi_1.first5.dat.jsonl"));
    assert_eq!(check(&bytes, &golden, "ath_csi_1.first5.dat"), 5);
    // the 802.11 header of the payload gives the transmitter and the sequence number
    let mut r = AtherosReader::new(
        Box::new(Cursor::new(bytes.clone())),
        &ReaderOptions::default(),
    )
    .unwrap();
    let f = r.next_record().unwrap().unwrap().into_frame().unwrap();
    assert_eq!(f.mac, Some([0x04, 0xf0, 0x21, 0x2c, 0x79, 0x37]));
    assert_eq!(f.sequence, Some(0x9f0));
    assert_eq!(f.channel, Some(6));
    let subs = f.subcarriers.unwrap();
    assert_eq!((subs[0], subs[27], subs[28], subs[55]), (-28, -1, 1, 28));
}

#[test]
fn fixture_big_endian_conversion_reads_the_same_values() {
    // Re-encode the little-endian sample's status fields big-endian (the CSI bit stream is
    // little-endian in both): detection must pick big-endian and every value must be the same,
    // with and without csiread's 0xFF marker.
    let dir = common::fixtures().join("atheros");
    let le = std::fs::read(dir.join("ath_csi_1.first5.dat")).unwrap();
    let golden = load_golden(&dir.join("ath_csi_1.first5.dat.jsonl"));
    let mut be = Vec::new();
    let mut off = 0;
    while off < le.len() {
        let fl = u16::from_le_bytes([le[off], le[off + 1]]) as usize;
        let rec = &le[off..off + 2 + fl];
        let mut out = rec.to_vec();
        out[0..2].reverse();
        out[2..10].reverse(); // timestamp
        out[10..12].reverse(); // csi_len
        out[12..14].reverse(); // tx_channel
        out[25..27].reverse(); // payload_len
        be.extend(out);
        off += 2 + fl;
    }
    let mut g = Golden {
        header: golden.header.clone(),
        frames: golden.frames.clone(),
    };
    g.header["endianness"] = Value::from("big");
    assert_eq!(check(&be, &g, "big-endian copy"), 5);
    let mut marked = vec![0xFF];
    marked.extend(&be);
    for line in &mut g.frames {
        line["_offset"] = Value::from(line["_offset"].as_u64().unwrap() + 1);
    }
    assert_eq!(check(&marked, &g, "big-endian copy with marker"), 5);
}

#[test]
#[ignore = "needs the capture kit (WIFI_SENSING_KIT)"]
fn kit_ath_csi_1_matches_golden() {
    let kit = common::kit();
    let capture = kit.join("atheros/ath_csi_1.dat");
    let golden = load_golden(&kit.join("golden/atheros/ath_csi_1.dat.jsonl"));
    let bytes = std::fs::read(&capture).unwrap();
    assert_eq!(u(&golden.header, "bytes"), bytes.len() as u64);
    let n = check(&bytes, &golden, "ath_csi_1.dat");
    assert_eq!(n as u64, u(&golden.header, "frames"));
    assert_eq!(n, 401);
    let mut cap = Registry::builtin().open_path(&capture).unwrap();
    assert_eq!(cap.format(), CaptureFormat::Atheros);
    assert_eq!(cap.by_ref().filter(|x| x.is_ok()).count(), 401);
    assert!(cap.stats().truncated.is_none() && cap.stats().fatal.is_none());
    eprintln!("atheros: 1 golden file, {n} frames, all values equal");
}

/// Neither probe claims a capture of another format in the kit, and each claims its own files.
#[test]
#[ignore = "needs the capture kit (WIFI_SENSING_KIT)"]
fn kit_probes_claim_only_their_own_files() {
    let kit = common::kit();
    let intel = wifi_sensing_core::formats::intel5300::descriptor();
    let ath = wifi_sensing_core::formats::atheros::descriptor();
    let mut checked = 0;
    let mut stack = vec![kit.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(&kit).unwrap().to_string_lossy().to_string();
            if p.is_dir() {
                if rel != "golden" {
                    stack.push(p);
                }
                continue;
            }
            if !rel.contains('/') {
                continue; // README, FORMATS, MANIFEST
            }
            let mut prefix = vec![0u8; Registry::PROBE_LEN];
            let n =
                std::io::Read::read(&mut std::fs::File::open(&p).unwrap(), &mut prefix).unwrap();
            prefix.truncate(n);
            let is_intel = rel.starts_with("intel5300/") || rel.starts_with("labelled/intel5300");
            let is_ath = rel.starts_with("atheros/");
            let (pi, pa) = ((intel.probe)(&prefix), (ath.probe)(&prefix));
            assert_eq!(pi > 0, is_intel, "{rel}: Intel probe {pi}");
            assert_eq!(pa > 0, is_ath, "{rel}: Atheros probe {pa}");
            if is_intel {
                assert!(pi >= 80, "{rel}: Intel probe {pi}");
            }
            checked += 1;
        }
    }
    assert!(checked >= 67, "{checked} capture files probed");
}

#[test]
fn fixture_frames_survive_recording_and_keep_golden_names_in_json() {
    let dir = common::fixtures().join("atheros");
    let bytes = std::fs::read(dir.join("ath_csi_1.first5.dat")).unwrap();
    let golden = load_golden(&dir.join("ath_csi_1.first5.dat.jsonl"));
    let mut r =
        AtherosReader::new(Box::new(Cursor::new(bytes)), &ReaderOptions::default()).unwrap();
    let frames: Vec<CsiFrame> = std::iter::from_fn(|| r.next_record())
        .map(|x| x.unwrap().into_frame().unwrap())
        .collect();
    common::assert_recording_round_trip(&frames);
    let v = serde_json::to_value(meta(&frames[0])).unwrap();
    for (k, want) in golden.frames[0].as_object().unwrap() {
        if k.starts_with('_') || k == "csi" {
            continue;
        }
        assert_eq!(&v[k], want, "JSON field {k}");
    }
}
