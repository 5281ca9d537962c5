//! PicoScenes reader against the capture kit's golden files: every frame, every CSI value and
//! every golden header field that maps to `CsiFrame` or `PicoScenesMeta`.

mod common;

use std::path::Path;

use common::{assert_int, assert_uint, bytes, int as i, uint as u};
use serde_json::Value;
use wifi_sensing_core::formats::picoscenes::{self, device_type, PicoScenesMeta};
use wifi_sensing_core::{CaptureFormat, Clock, CsiFrame, Device, FormatMeta};

fn b(v: &Value) -> bool {
    v.as_bool().unwrap_or_else(|| panic!("not a bool: {v}"))
}
fn ints(v: &Value) -> Vec<i64> {
    v.as_array().expect("array").iter().map(i).collect()
}

fn meta(f: &CsiFrame) -> &PicoScenesMeta {
    match &f.meta {
        FormatMeta::PicoScenes(m) => m,
        other => panic!("not PicoScenes meta: {other:?}"),
    }
}

fn check_header_fields(f: &CsiFrame, g: &Value, what: &str) {
    let m = meta(f);

    // 802.11 header
    let sh = &g["StandardHeader"];
    let mh = m.mac_header.unwrap_or_else(|| panic!("{what}: MAC header"));
    let fc = mh.frame_control;
    let cf = &sh["ControlField"];
    for (name, bit, width) in [
        ("Version", 0, 2),
        ("Type", 2, 2),
        ("SubType", 4, 4),
        ("ToDS", 8, 1),
        ("FromDS", 9, 1),
        ("MoreFrags", 10, 1),
        ("Retry", 11, 1),
        ("PowerManagement", 12, 1),
        ("More", 13, 1),
        ("Protected", 14, 1),
        ("Order", 15, 1),
    ] {
        assert_eq!(
            u64::from(fc >> bit & ((1 << width) - 1)),
            u(&cf[name]),
            "{what}: ControlField.{name}"
        );
    }
    assert_eq!(mh.addr1.to_vec(), bytes(&sh["Addr1"]), "{what}: Addr1");
    // Control frames (RTS 16 bytes, CTS/ACK 10) end before Addr2/Addr3/Sequence Control; csiread
    // then reads those fields past the end of the frame, so there is nothing to compare.
    let len = m.mpdu_length;
    assert!(len >= 10, "{what}: MPDU of {len} bytes");
    if len >= 16 {
        assert_eq!(
            mh.addr2.map(|a| a.to_vec()),
            Some(bytes(&sh["Addr2"])),
            "{what}: Addr2"
        );
    } else {
        assert_eq!(mh.addr2, None, "{what}");
    }
    if len >= 24 {
        assert_eq!(
            mh.addr3.map(|a| a.to_vec()),
            Some(bytes(&sh["Addr3"])),
            "{what}: Addr3"
        );
        assert_eq!(
            mh.fragment.map(u64::from),
            Some(u(&sh["Fragment"])),
            "{what}: Fragment"
        );
        assert_eq!(
            mh.sequence.map(u64::from),
            Some(u(&sh["Sequence"])),
            "{what}: Sequence"
        );
    } else {
        assert_eq!(
            (mh.addr3, mh.fragment, mh.sequence),
            (None, None, None),
            "{what}"
        );
    }
    assert_eq!(f.mac, mh.addr2, "{what}: frame mac");
    // control frames have no Sequence Control field: no frame sequence
    assert_eq!(
        f.sequence,
        mh.sequence.filter(|_| !mh.is_control()).map(u32::from),
        "{what}: frame sequence"
    );

    // RxSBasic
    let gr = &g["RxSBasic"];
    let rx = m.rx_basic.as_ref().expect("RxSBasic");
    assert_uint(rx.device_type, gr, "DeviceType", what);
    assert_uint(rx.timestamp, gr, "Timestamp", what);
    assert_int(rx.center_freq, gr, "CenterFreq", what);
    assert_int(rx.control_freq, gr, "ControlFreq", what);
    assert_uint(rx.cbw, gr, "CBW", what);
    assert_uint(rx.packet_format, gr, "PacketFormat", what);
    assert_uint(rx.packet_cbw, gr, "PacketCBW", what);
    assert_uint(rx.guard_interval, gr, "GI", what);
    assert_uint(rx.mcs, gr, "MCS", what);
    assert_uint(rx.num_sts, gr, "NumSTS", what);
    assert_uint(rx.num_ess, gr, "NumESS", what);
    assert_uint(rx.num_rx, gr, "NumRx", what);
    assert_eq!(
        rx.noise_floor as i64,
        i(&gr["NoiseFloor"]),
        "{what}: NoiseFloor"
    );
    assert_eq!(rx.rssi as i64, i(&gr["RSSI"]), "{what}: RSSI");
    for k in 0..3 {
        assert_eq!(
            rx.rssi_ctl[k] as i64,
            i(&gr[format!("RSSI{}", k + 1)]),
            "{what}: RSSI{}",
            k + 1
        );
    }
    // frame-level RSSI, noise floor, frequency, bandwidth
    let sdr_unmeasured =
        rx.device_type == device_type::USRP && rx.noise_floor == 0.0 && rx.rssi == 0.0;
    if sdr_unmeasured {
        assert_eq!((f.rssi_dbm, f.noise_floor_dbm), (None, None), "{what}");
        assert!(f.chain_rssi.is_empty());
    } else {
        assert_eq!(f.rssi_dbm, Some(rx.rssi), "{what}: rssi_dbm");
        let nf = i(&gr["NoiseFloor"]);
        assert_eq!(
            f.noise_floor_dbm,
            (nf != -128).then_some(nf as f32),
            "{what}: noise floor"
        );
        let want: Vec<f32> = (0..u(&gr["NumRx"]).min(3))
            .map(|k| i(&gr[format!("RSSI{}", k + 1)]) as f32)
            .collect();
        assert_eq!(f.chain_rssi, want, "{what}: chain_rssi");
    }
    assert_eq!(
        f.center_freq_mhz,
        Some(u(&gr["CenterFreq"]) as u32),
        "{what}: centre frequency"
    );
    assert_eq!(
        f.bandwidth_mhz,
        Some(u(&gr["CBW"]) as u16),
        "{what}: bandwidth"
    );
    // timestamps (module docs): USRP host ns, MVM muClock, NICs tstamp in µs
    let (want_ts, want_clock) = if rx.device_type == device_type::USRP {
        (u(&gr["Timestamp"]) as i64, Clock::Host)
    } else if let Some(mv) = g.get("MVMExtra") {
        (u(&mv["MuClock"]) as i64 * 1000, Clock::Device)
    } else {
        (u(&gr["Timestamp"]) as i64 * 1000, Clock::Device)
    };
    assert_eq!(
        (f.timestamp_ns, f.clock),
        (want_ts, want_clock),
        "{what}: timestamp"
    );

    // ExtraInfo (csiread's names)
    let ge = &g["RxExtraInfo"];
    let e = m.extra_info.as_ref().expect("ExtraInfo");
    let opt_u = |o: Option<u64>, name: &str| {
        assert_eq!(o.unwrap_or(0), u(&ge[name]), "{what}: ExtraInfo.{name}");
    };
    // presence flags
    for (present, key) in [
        (e.length.is_some(), "HasLength"),
        (e.version.is_some(), "HasVersion"),
        (e.macaddr_cur.is_some(), "HasMacAddr_cur"),
        (e.macaddr_rom.is_some(), "HasMacAddr_rom"),
        (e.chansel.is_some(), "HasChansel"),
        (e.bmode.is_some(), "HasBMode"),
        (e.evm.is_some(), "HasEVM"),
        (e.tx_chainmask.is_some(), "HasTxChainMask"),
        (e.rx_chainmask.is_some(), "HasRxChainMask"),
        (e.txpower.is_some(), "HasTxpower"),
        (e.cf.is_some(), "HasCF"),
        (e.txtsf.is_some(), "HasTxTSF"),
        (e.last_txtsf.is_some(), "HasLastHwTxTSF"),
        (e.channel_flags.is_some(), "HasChannelFlags"),
        (e.tx_ness.is_some(), "HasTxNess"),
        (e.tuning_policy.is_some(), "HasTuningPolicy"),
        (e.pll_rate.is_some(), "HasPLLRate"),
        // csiread labels bit 17 "HasPLLClkSel" and bit 18 "HasPLLRefDiv" (FORMATS.md §5.3)
        (e.pll_refdiv.is_some(), "HasPLLClkSel"),
        (e.pll_clock_select.is_some(), "HasPLLRefDiv"),
        (e.agc.is_some(), "HasAGC"),
        (e.ant_sel.is_some(), "HasAntennaSelection"),
        (e.sampling_rate.is_some(), "HasSamplingRate"),
        (e.cfo.is_some(), "HasCFO"),
        (e.sfo.is_some(), "HasSFO"),
        (e.temperature.is_some(), "HasTemperature"),
    ] {
        assert_eq!(present, b(&ge[key]), "{what}: ExtraInfo.{key}");
    }
    opt_u(e.length.map(u64::from), "Length");
    opt_u(e.version, "Version");
    assert_eq!(
        e.macaddr_cur.unwrap_or([0; 6]).to_vec(),
        bytes(&ge["MACAddressCurrent"]),
        "{what}: MAC cur"
    );
    assert_eq!(
        e.macaddr_rom.unwrap_or([0; 6]).to_vec(),
        bytes(&ge["MACAddressROM"]),
        "{what}: MAC rom"
    );
    opt_u(e.chansel.map(u64::from), "CHANSEL");
    opt_u(e.bmode.map(u64::from), "BMode");
    let evm: Vec<i64> = e
        .evm
        .unwrap_or([0; 20])
        .iter()
        .map(|&x| i64::from(x))
        .collect();
    assert_eq!(evm, ints(&ge["EVM"]), "{what}: EVM");
    opt_u(e.tx_chainmask.map(u64::from), "TxChainMask");
    opt_u(e.rx_chainmask.map(u64::from), "RxChainMask");
    opt_u(e.txpower.map(u64::from), "TxPower");
    opt_u(e.cf, "CF");
    opt_u(e.txtsf.map(u64::from), "TxTSF");
    opt_u(e.last_txtsf.map(u64::from), "LastTXTSF");
    opt_u(e.channel_flags.map(u64::from), "ChannelFlags");
    opt_u(e.tx_ness.map(u64::from), "TXNESS");
    opt_u(e.tuning_policy.map(u64::from), "TuningPolicy");
    opt_u(e.pll_rate.map(u64::from), "PLLRate");
    // csiread reads the bit-18 byte before the bit-17 byte; with both present its
    // "PLLClockSelect" is the first byte, which the official order calls pll_refdiv.
    if e.pll_refdiv.is_some() && e.pll_clock_select.is_some() {
        opt_u(e.pll_refdiv.map(u64::from), "PLLClockSelect");
        opt_u(e.pll_clock_select.map(u64::from), "PLLRefDiv");
    } else {
        opt_u(e.pll_clock_select.map(u64::from), "PLLClockSelect");
        opt_u(e.pll_refdiv.map(u64::from), "PLLRefDiv");
    }
    opt_u(e.agc.map(u64::from), "AGC");
    let a = e.ant_sel.unwrap_or(0);
    assert_eq!(
        vec![
            u64::from(a & 1),
            u64::from(a >> 2 & 1),
            u64::from(a >> 4 & 1)
        ],
        common::uints(&ge["ANTSEL"]),
        "{what}: ANTSEL"
    );
    opt_u(e.sampling_rate, "SF");
    assert_eq!(i64::from(e.cfo.unwrap_or(0)), i(&ge["CFO"]), "{what}: CFO");
    assert_eq!(i64::from(e.sfo.unwrap_or(0)), i(&ge["SFO"]), "{what}: SFO");
    assert_eq!(
        i64::from(e.temperature.unwrap_or(0)),
        i(&ge["Temperature"]),
        "{what}: Temperature"
    );

    // MVMExtra
    match (g.get("MVMExtra"), &m.mvm_extra) {
        (Some(gm), Some(mv)) => {
            assert_uint(mv.ftm_clock, gm, "FTMClock", what);
            assert_uint(mv.mu_clock, gm, "MuClock", what);
            assert_uint(mv.rate_n_flags, gm, "RateNFlags", what);
        }
        (None, None) => {}
        (gm, mv) => panic!("{what}: MVMExtra presence differs: golden {gm:?}, ours {mv:?}"),
    }

    // PicoScenes Tx header
    match (g.get("PicoScenesHeader"), &m.tx_header) {
        (Some(gp), Some(t)) => {
            assert_uint(t.magic_value, gp, "MagicValue", what);
            assert_uint(t.version, gp, "Version", what);
            assert_uint(t.device_type, gp, "DeviceType", what);
            assert_uint(t.frame_type, gp, "FrameType", what);
            assert_uint(t.task_id, gp, "TaskId", what);
            assert_uint(t.tx_id, gp, "TxId", what);
        }
        (None, None) => {}
        (gp, t) => panic!("{what}: Tx header presence differs: golden {gp:?}, ours {t:?}"),
    }

    // CSI segment header
    let gi = &g["CSI"]["Info"];
    let c = m.csi.as_ref().expect("CSI info");
    let dt = c.device_type;
    assert_eq!(
        u64::from(dt),
        u(&gi["DeviceType"]),
        "{what}: CSI DeviceType"
    );
    // `device_of` itself is checked against the device list in `device_codes_map_to_devices`
    assert_eq!(f.device, picoscenes::device_of(dt), "{what}: device");
    // csiread states a firmware version for devices whose segment has none (52 IWL5300, 0 else)
    let fw = c
        .firmware_version
        .map_or(if dt == device_type::IWL5300 { 52 } else { 0 }, u64::from);
    assert_eq!(fw, u(&gi["FirmwareVersion"]), "{what}: FirmwareVersion");
    let csi_what = format!("{what}: CSI");
    assert_int(c.packet_format, gi, "PacketFormat", &csi_what);
    assert_uint(c.cbw, gi, "CBW", &csi_what);
    assert_uint(c.carrier_freq, gi, "CarrierFreq", &csi_what);
    assert_uint(c.sampling_rate, gi, "SamplingRate", &csi_what);
    assert_uint(c.subcarrier_bandwidth, gi, "SubcarrierBandwidth", &csi_what);
    assert_uint(c.num_tones, gi, "NumTones", &csi_what);
    assert_uint(c.num_tx, gi, "NumTx", &csi_what);
    assert_uint(c.num_rx, gi, "NumRx", &csi_what);
    assert_eq!(
        u64::from(c.num_csi.unwrap_or(1)),
        u(&gi["NumCSI"]),
        "{what}: NumCSI"
    );
    assert_uint(c.ant_sel, gi, "ANTSEL", &csi_what);
    // csiread's NumESS: streams from the buffer length minus NumTx for the NICs
    let ness = if dt == device_type::QCA9300 || dt == device_type::IWL5300 {
        i64::from(c.streams_per_chain) - i64::from(c.num_tx)
    } else {
        i64::from(c.num_ess)
    };
    assert_eq!(ness, i(&gi["NumESS"]), "{what}: NumESS");
    assert_eq!(usize::from(c.streams_per_chain), f.shape().1);
    assert_eq!(
        c.subcarrier_offset.unwrap_or(0),
        0,
        "{what}: the kit's files have offset 0"
    );

    // subcarrier indices: csiread's for the NICs and USRP, the kit's standard list for MVM
    let want_sc = match g["CSI"].get("SubcarrierIndex") {
        Some(s) => ints(s),
        None => ints(&g["_subcarrier_index"]),
    };
    let got_sc: Vec<i64> = f
        .subcarriers
        .as_ref()
        .expect("subcarriers")
        .iter()
        .map(|&x| i64::from(x))
        .collect();
    assert_eq!(got_sc, want_sc, "{what}: subcarrier indices");
    assert_eq!(got_sc.len(), f.n_subcarriers());
}

/// Reads `capture` and compares it with `golden`; returns the number of frames compared.
fn check_file(capture: &Path, golden_path: &Path) -> usize {
    let golden = common::load_golden(golden_path);
    let file_bytes = std::fs::read(capture).unwrap();
    let mut device_counts = std::collections::BTreeMap::<String, u64>::new();
    let n = common::check_frames_at_offsets(
        capture,
        &golden,
        CaptureFormat::PicoScenes,
        |f, g, offset, what| {
            let segs: Vec<String> = picoscenes::frame_segments(&file_bytes[offset as usize..])
                .unwrap()
                .iter()
                .map(|s| format!("{} v{}", s.name_str(), s.version))
                .collect();
            let want_segs: Vec<String> = g["_segments"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap().to_string())
                .collect();
            assert_eq!(segs, want_segs, "{what}: segments");
            check_header_fields(f, g, what);
            let dt = meta(f).csi.as_ref().unwrap().device_type;
            let tol = if dt == device_type::USRP { 1e-6 } else { 0.0 };
            common::assert_csi_matches(f, g, tol, what);
            *device_counts.entry(format!("0x{dt:04x}")).or_default() += 1;
        },
    );
    let want_dev: std::collections::BTreeMap<String, u64> =
        serde_json::from_value(golden.header["device_types"].clone()).unwrap();
    let name = capture.file_name().unwrap().to_string_lossy();
    assert_eq!(device_counts, want_dev, "{name}: device types");
    n
}

/// The device of each PicoScenes device type code, and `Unknown` for any other code.
#[test]
fn device_codes_map_to_devices() {
    for (code, device) in [
        (device_type::QCA9300, Device::Qca9300),
        (device_type::IWL5300, Device::Iwl5300),
        (device_type::AX200, Device::Ax200),
        (device_type::AX210, Device::Ax210),
        (device_type::USRP, Device::Usrp),
        (0x0000, Device::Unknown),
        (0x9999, Device::Unknown),
    ] {
        assert_eq!(picoscenes::device_of(code), device, "0x{code:04x}");
    }
}

#[test]
fn fixture_iwl5300_example_matches_golden() {
    let dir = common::fixtures().join("picoscenes");
    let n = check_file(
        &dir.join("picoscenes_iwl5300_example.csi"),
        &dir.join("picoscenes_iwl5300_example.csi.jsonl"),
    );
    assert_eq!(n, 112);
}

#[test]
fn fixture_is_detected_without_hint() {
    common::assert_detected(
        &common::fixtures().join("picoscenes/picoscenes_iwl5300_example.csi"),
        CaptureFormat::PicoScenes,
    );
}

#[test]
#[ignore = "needs the capture kit (WIFI_SENSING_KIT)"]
fn kit_every_picoscenes_file_matches_golden() {
    let files = common::kit_golden_pairs("picoscenes");
    assert_eq!(files.len(), 6, "{files:?}");
    let mut total = 0;
    for (capture, golden) in files {
        total += check_file(&capture, &golden);
    }
    assert_eq!(total, 885 + 112 + 433 + 383 + 1000 + 74);
}

#[test]
#[ignore = "needs the capture kit (WIFI_SENSING_KIT)"]
fn kit_picoscenes_files_are_detected_by_bytes() {
    for (capture, _) in common::kit_golden_pairs("picoscenes") {
        common::assert_detected(&capture, CaptureFormat::PicoScenes);
    }
}

/// Every frame of `capture` read with each frame handed back to the reader
/// ([`wifi_sensing_core::Capture::recycle`]) equals the frame read without: same count, same
/// values, same metadata. Returns the number of frames.
fn check_recycled_equal(capture: &Path) -> usize {
    let plain: Vec<CsiFrame> = wifi_sensing_core::open(capture)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut cap = wifi_sensing_core::open(capture).unwrap();
    let mut n = 0;
    while let Some(rec) = cap.next_record() {
        if let wifi_sensing_core::Record::Frame(f) = rec.unwrap() {
            assert_eq!(f, plain[n], "{}: frame {n}", capture.display());
            n += 1;
            cap.recycle(f);
        }
    }
    assert_eq!(n, plain.len(), "{}", capture.display());
    n
}

#[test]
fn fixture_reads_the_same_with_recycled_frames() {
    let n =
        check_recycled_equal(&common::fixtures().join("picoscenes/picoscenes_iwl5300_example.csi"));
    assert_eq!(n, 112);
}

#[test]
#[ignore = "needs the capture kit (WIFI_SENSING_KIT)"]
fn kit_picoscenes_files_read_the_same_with_recycled_frames() {
    let total: usize = common::kit_golden_pairs("picoscenes")
        .iter()
        .map(|(capture, _)| check_recycled_equal(capture))
        .sum();
    assert_eq!(total, 885 + 112 + 433 + 383 + 1000 + 74);
}
