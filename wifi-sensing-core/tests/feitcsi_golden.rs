//! FeitCSI reader against the capture kit's golden files: every record, every CSI value, every
//! golden header field, CSIKit's derived timestamp bit for bit, and the pilot-zero positions
//! against the standard tone lists.

mod common;

use std::path::Path;

use common::{assert_uint, uint as u};
use serde_json::Value;
use wifi_sensing_core::formats::feitcsi::FeitCsiMeta;
use wifi_sensing_core::formats::tones::pilot_indices;
use wifi_sensing_core::{CaptureFormat, Clock, CsiFrame, Device, FormatMeta};

fn meta(f: &CsiFrame) -> &FeitCsiMeta {
    match &f.meta {
        FormatMeta::FeitCsi(m) => m,
        other => panic!("not FeitCSI meta: {other:?}"),
    }
}

fn check_header(f: &CsiFrame, g: &Value, what: &str) {
    let m = meta(f);
    assert_uint(m.csi_length, g, "csi_length", what);
    assert_uint(m.ftm_clock, g, "ftm_clock", what);
    assert_uint(m.mu_clock, g, "mu_clock", what);
    assert_uint(m.num_rx, g, "num_rx", what);
    assert_uint(m.num_tx, g, "num_tx", what);
    assert_uint(m.num_subcarriers, g, "num_subcarriers", what);
    assert_uint(m.rssi_1, g, "rssi_1", what);
    assert_uint(m.rssi_2, g, "rssi_2", what);
    assert_eq!(
        m.source_mac.to_vec(),
        common::bytes(&g["source_mac"]),
        "{what}: source_mac"
    );
    assert_uint(m.rate_flags, g, "rate_flags", what);
    let r = &m.rate;
    assert_eq!(
        r.format.name(),
        g["rate_format"].as_str().unwrap(),
        "{what}: rate_format"
    );
    let width: u16 = g["channel_width"].as_str().unwrap().parse().unwrap();
    assert_eq!(r.channel_width_mhz, Some(width), "{what}: channel_width");
    // CSIKit masks bits 0-2; ours uses bits 0-3 for VHT/HE. Bit 3 is clear in every kit record,
    // so the two must agree exactly here.
    assert_eq!(
        m.rate_flags & 8,
        0,
        "{what}: MCS bit 3 set, CSIKit's value would differ"
    );
    assert_uint(r.mcs, g, "mcs", what);
    assert_eq!(
        r.antenna_a,
        g["antenna_a"].as_bool().unwrap(),
        "{what}: antenna_a"
    );
    assert_eq!(
        r.antenna_b,
        g["antenna_b"].as_bool().unwrap(),
        "{what}: antenna_b"
    );
    assert_eq!(r.ldpc, g["ldpc"].as_bool().unwrap(), "{what}: ldpc");
    // CSIKit's `ss` and `beamforming` test the same bit 16 as LDPC
    assert_eq!(u(&g["ss"]), if r.ldpc { 2 } else { 1 }, "{what}: ss");
    assert_eq!(
        g["beamforming"].as_bool().unwrap(),
        r.ldpc,
        "{what}: beamforming"
    );
    // CSIKit's derived timestamp, bit for bit
    let ts = g["timestamp"].as_f64().unwrap();
    assert_eq!(
        m.timestamp.to_bits(),
        ts.to_bits(),
        "{what}: timestamp {} vs {ts}",
        m.timestamp
    );
    assert_eq!(f.clock, Clock::Device);
    assert!(
        (f.timestamp_ns as f64 - ts * 1e9).abs() <= 1.0,
        "{what}: timestamp_ns {}",
        f.timestamp_ns
    );

    // frame-level fields
    assert_eq!(f.device, Device::Ax210);
    assert_eq!(f.mac, Some(m.source_mac));
    assert_eq!(f.bandwidth_mhz, Some(width));
    let want_rssi: Vec<f32> = [m.rssi_1, m.rssi_2]
        .iter()
        .take(usize::from(m.num_rx))
        .map(|&x| -(x as f32))
        .collect();
    assert_eq!(f.chain_rssi, want_rssi, "{what}: chain_rssi");
    assert_eq!(
        f.rssi_dbm,
        want_rssi.iter().copied().reduce(f32::max),
        "{what}: rssi_dbm"
    );
}

/// The CSI is exactly zero at the pilot tones of the frame's format, and nowhere else.
fn check_pilot_zeros(f: &CsiFrame, what: &str) {
    let m = meta(f);
    let sc = f
        .subcarriers
        .as_ref()
        .unwrap_or_else(|| panic!("{what}: no subcarrier indices"));
    assert_eq!(sc.len(), f.n_subcarriers());
    let pilots = pilot_indices(
        m.rate.format.phy_format().unwrap(),
        m.rate.channel_width_mhz.unwrap(),
    )
    .unwrap();
    let want: Vec<usize> = (0..sc.len()).filter(|&k| pilots.contains(&sc[k])).collect();
    assert_eq!(want.len(), pilots.len());
    let (nrx, ntx, nsc) = f.shape();
    for r in 0..nrx {
        for t in 0..ntx {
            let zeros: Vec<usize> = (0..nsc)
                .filter(|&k| f.csi[[r, t, k]].norm_sqr() == 0.0)
                .collect();
            assert_eq!(zeros, want, "{what}: zero positions of chain {r}/{t}");
        }
    }
}

/// Reads `capture` and compares it with `golden`; returns the number of records compared.
fn check_file(capture: &Path, golden_path: &Path) -> usize {
    let golden = common::load_golden(golden_path);
    common::check_frames_at_offsets(capture, &golden, CaptureFormat::FeitCsi, |f, g, _, what| {
        check_header(f, g, what);
        common::assert_csi_matches(f, g, 0.0, what);
        check_pilot_zeros(f, what);
    })
}

#[test]
fn fixture_ht20_matches_golden() {
    let dir = common::fixtures().join("feitcsi");
    let n = check_file(&dir.join("HT20_2452.csi"), &dir.join("HT20_2452.csi.jsonl"));
    assert_eq!(n, 48);
}

#[test]
fn fixture_is_detected_without_hint() {
    common::assert_detected(
        &common::fixtures().join("feitcsi/HT20_2452.csi"),
        CaptureFormat::FeitCsi,
    );
}

#[test]
#[ignore = "needs the capture kit (WIFI_SENSING_KIT)"]
fn kit_every_feitcsi_file_matches_golden() {
    let files = common::kit_golden_pairs("feitcsi");
    assert_eq!(files.len(), 4, "{files:?}");
    let mut total = 0;
    for (capture, golden) in files {
        total += check_file(&capture, &golden);
    }
    assert_eq!(total, 48 + 40 + 28 + 26);
}

#[test]
#[ignore = "needs the capture kit (WIFI_SENSING_KIT)"]
fn kit_feitcsi_files_are_detected_by_bytes() {
    for (capture, _) in common::kit_golden_pairs("feitcsi") {
        common::assert_detected(&capture, CaptureFormat::FeitCsi);
    }
}
