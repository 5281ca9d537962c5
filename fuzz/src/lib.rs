//! Shared driver of the fuzz targets: feed arbitrary bytes to one reader (or to format
//! detection) and read every record. Any panic, hang or unbounded allocation is a bug.

use std::io::Cursor;

use wifi_sensing_core::{CaptureFormat, Registry};

/// Reads `data` as `format` (or detects the format when `None`), consuming every record.
pub fn read_all(data: &[u8], format: Option<&str>) {
    let format = format.map(|n| CaptureFormat::from_name(n).expect("fuzz target names a known format"));
    let reg = Registry::builtin();
    if let Ok(mut cap) = reg.open_read(Box::new(Cursor::new(data.to_vec())), Some("fuzz"), None, format) {
        let mut n = 0u64;
        while cap.next_record().is_some() {
            n += 1;
            // every record consumes input, so the count is bounded by the input length
            assert!(n <= data.len() as u64 + 1, "reader produced more records than input bytes");
        }
    }
}

/// Reads `data` as a `.csirec` recording twice: as it is, then with the CRC-32 of every entry
/// recomputed. A random mutation almost never keeps an entry's CRC valid, so without the second
/// pass the fuzzer would rarely get past the CRC check into the entry decoders (version 1
/// bincode, version 2 frame layout).
pub fn csirec(data: &[u8]) {
    read_all(data, Some("csirec"));
    let fixed = fix_csirec_crcs(data);
    if fixed != data {
        read_all(&fixed, Some("csirec"));
    }
}

/// `data` with the stored CRC-32 of every complete entry replaced by the CRC of its body (the
/// header length and the entry lengths are taken as they are).
pub fn fix_csirec_crcs(data: &[u8]) -> Vec<u8> {
    let mut out = data.to_vec();
    let u32_at = |b: &[u8], i: usize| -> Option<usize> {
        b.get(i..i + 4).map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]) as usize)
    };
    let Some(hlen) = u32_at(data, 10) else { return out };
    let mut at = 14usize.saturating_add(hlen);
    while let Some(len) = u32_at(data, at) {
        let body = at + 8;
        let Some(end) = body.checked_add(len).filter(|&e| e <= data.len()) else { break };
        let crc = wifi_sensing_core::util::crc32(&data[body..end]);
        out[at + 4..body].copy_from_slice(&crc.to_le_bytes());
        at = end;
    }
    out
}

/// Decodes `data` as one ADR-018 datagram.
pub fn adr018_datagram(data: &[u8]) {
    let _ = wifi_sensing_core::formats::adr018::decode_datagram(data, 0, 0, wifi_sensing_core::Clock::Host);
}

/// Up to `n` frames of a simulated ESP32 walk, the input the configuration targets below drive
/// their analysers with once a fuzzed file has loaded.
fn walk_frames(n: usize) -> Vec<wifi_sensing_core::CsiFrame> {
    use wifi_sensing_core::sim::{DeviceProfile, Scenario, Simulator};
    let sim = Simulator::new(
        Scenario::preset("walk", 4.0).expect("preset"),
        DeviceProfile::esp32(),
        1,
    )
    .expect("simulator");
    sim.take(n).map(|(f, _)| f).collect()
}

/// Frames of `shape`, subcarrier indices `subcarriers`, node `node` and device `device`, whose
/// amplitudes wander: what a loaded baseline is applied to.
fn frames_like(
    shape: [usize; 3],
    subcarriers: Option<&[i16]>,
    node: u32,
    device: wifi_sensing_core::Device,
    n: usize,
) -> Vec<wifi_sensing_core::CsiFrame> {
    use wifi_sensing_core::{CaptureFormat, Clock, CsiFrame};
    (0..n)
        .map(|i| {
            let csi = ndarray::Array3::from_shape_fn((shape[0], shape[1], shape[2]), |(r, t, k)| {
                let a = 1.0 + 0.1 * ((i * 7 + k * 3 + r + t) % 11) as f32;
                num_complex::Complex32::new(a, 0.5 * a)
            });
            let mut f = CsiFrame::new(CaptureFormat::Simulated, device, csi);
            f.node_id = node;
            f.subcarriers = subcarriers.map(<[i16]>::to_vec);
            f.timestamp_ns = i as i64 * 20_000_000;
            f.clock = Clock::Simulated;
            f
        })
        .collect()
}

/// A baseline file (`wifi-sensing calibrate`'s JSON): loaded, then applied by the event and
/// vital-sign analyser to frames of its own nodes and layouts (and to a simulated walk).
pub fn baseline_json(data: &[u8]) {
    use wifi_sensing_signal::calibration::Baseline;
    use wifi_sensing_signal::{SensingAnalyser, SensingConfig};
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(b) = Baseline::from_json_str(text, "fuzz.json") else { return };
    let device: wifi_sensing_core::Device =
        serde_json::from_value(serde_json::Value::String(b.device.clone()))
            .unwrap_or(wifi_sensing_core::Device::Simulator);
    let mut frames = Vec::new();
    for n in b.nodes.iter().take(4) {
        frames.extend(frames_like(n.shape, n.subcarriers.as_deref(), n.node_id, device, 60));
    }
    frames.extend(walk_frames(40));
    let Ok(mut a) = SensingAnalyser::new(SensingConfig::default(), Some(b)) else { return };
    let mut out = Vec::new();
    for f in &frames {
        if a.push(f, &mut out).is_err() {
            break;
        }
        out.clear();
    }
}

/// A signature file: loaded, its streaming matcher fed vectors of its dimension, its batch DTW
/// run against a series, and an introspection analyser built on it and fed a simulated walk.
pub fn signature_json(data: &[u8]) {
    use wifi_sensing_core::Analyser;
    use wifi_sensing_introspect::dtw::Series;
    use wifi_sensing_introspect::signature::{Signature, SignatureLibrary};
    use wifi_sensing_introspect::snapshot::{IntrospectionAnalyser, IntrospectionConfig};
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(sig) = Signature::from_json_str(text, "fuzz.json") else { return };
    let dim = sig.dim();
    if dim == 0 || dim > 4096 {
        return;
    }
    if let Ok(mut m) = sig.matcher() {
        let v: Vec<f32> = (0..dim).map(|i| (i % 5) as f32 * 0.1).collect();
        for _ in 0..8 {
            if m.push(&v).is_err() {
                break;
            }
        }
    }
    let series: Vec<f64> = (0..dim * 6).map(|i| (i % 7) as f64 * 0.2).collect();
    if let Ok(s) = Series::new(&series, dim) {
        let _ = sig.distance_to(s);
    }
    let Ok(lib) = SignatureLibrary::from_signatures(vec![sig], vec!["fuzz.json".into()]) else {
        return;
    };
    let Ok(mut a) = IntrospectionAnalyser::new(IntrospectionConfig::default(), lib) else {
        return;
    };
    let mut out = Vec::new();
    for f in walk_frames(60) {
        if a.analyse(&f, &mut out).is_err() {
            break;
        }
        out.clear();
    }
    let _ = a.finish(&mut out);
}

/// A pose model manifest: loaded, its windower fed a simulated walk, and its heading-from-track
/// step (when it asks for one) fed a track.
pub fn pose_manifest(data: &[u8]) {
    use wifi_sensing_pose::{Keypoint, Manifest, TrackHeading, WindowConfig, Windower};
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(m) = Manifest::from_json(text, std::path::Path::new("fuzz.json")) else { return };
    if let Ok(mut w) = Windower::new(&m, WindowConfig::default()) {
        let mut out = Vec::new();
        for f in walk_frames(120) {
            if w.push(&f, &mut out).is_err() {
                break;
            }
            out.clear();
        }
    }
    if let Some(spec) = m.track_heading() {
        if let Ok(mut t) = TrackHeading::new(spec.clone()) {
            let mut kp: Vec<Keypoint> = (0..17)
                .map(|i| Keypoint {
                    name: format!("k{i}"),
                    x: 1.0,
                    y: 1.0,
                    z: Some(1.0),
                    confidence: 0.9,
                })
                .collect();
            for i in 0..40i64 {
                for k in kp.iter_mut() {
                    k.x += 0.02;
                }
                let _ = t.apply(i * 100_000_000, &mut kp);
            }
        }
    }
}

/// A simulator scenario file (`simulate --scenario-file`): loaded, then simulated for a few
/// frames on each device profile.
pub fn scenario_json(data: &[u8]) {
    use wifi_sensing_core::sim::{DeviceProfile, Scenario, Simulator};
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(s) = Scenario::from_json_str(text) else { return };
    for profile in [DeviceProfile::esp32(), DeviceProfile::intel5300()] {
        if let Ok(sim) = Simulator::new(s.clone(), profile, 1) {
            for _ in sim.take(5) {}
        }
    }
}

/// A `--stages` list (`run --stages`): parsed, built, and run over a simulated walk (every
/// stage in turn, then flushed).
pub fn stage_spec(data: &[u8]) {
    use wifi_sensing_signal::stages::{build_stages, Notices};
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(mut stages) = build_stages(text, &Notices::default()) else { return };
    let mut frames = walk_frames(100);
    for st in stages.iter_mut() {
        let mut next = Vec::new();
        for f in frames.drain(..) {
            if st.process_into(f, &mut next).is_err() {
                return;
            }
            // a resampler raising the rate is bounded by its own limits; keep the run short
            if next.len() > 4000 {
                return;
            }
        }
        match st.flush() {
            Ok(rest) => next.extend(rest),
            Err(_) => return,
        }
        frames = next;
    }
}

/// A `--spectrogram=` / `--doppler=` configuration: parsed, then both analysers run over a
/// simulated walk.
pub fn spectral_spec(data: &[u8]) {
    use wifi_sensing_core::Analyser;
    use wifi_sensing_signal::spectral::{SpectralAnalyser, SpectralConfig};
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(cfg) = text.parse::<SpectralConfig>() else { return };
    let frames = walk_frames(200);
    for a in [
        SpectralAnalyser::spectrogram(cfg.clone()),
        SpectralAnalyser::doppler(cfg),
    ] {
        let Ok(mut a) = a else { continue };
        let mut out = Vec::new();
        for f in &frames {
            if a.analyse(f, &mut out).is_err() {
                break;
            }
            out.clear();
        }
        let _ = a.finish(&mut out);
    }
}
