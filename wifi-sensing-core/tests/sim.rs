//! Tests of the CSI simulator: physics, impairments, determinism, device shapes, exporters and
//! the round trips through this crate's readers.

mod common;

use std::f64::consts::PI;

use num_complex::{Complex32, Complex64};
use proptest::prelude::*;
use wifi_sensing_core::formats::adr018;
use wifi_sensing_core::recording::{RecordingHeader, RecordingReader, RecordingWriter};
use wifi_sensing_core::sim::geometry::{
    add_scatterer, PointScatterer, Spectrum, Vec3, SPEED_OF_LIGHT,
};
use wifi_sensing_core::sim::{
    export, Activity, DeviceKind, DeviceProfile, GroundTruth, Impairments, MotionState, Scenario,
    Simulator, TruthReader, TruthWriter,
};
use wifi_sensing_core::{
    CaptureFormat, CaptureReader, Clock, CsiFrame, Device, Error, Pipeline, Record,
};

fn run(s: &Scenario, p: &DeviceProfile, seed: u64) -> Vec<(CsiFrame, GroundTruth)> {
    Simulator::new(s.clone(), p.clone(), seed)
        .unwrap()
        .collect()
}

fn clean(name: &str, duration: f64) -> Scenario {
    let mut s = Scenario::preset(name, duration).unwrap();
    s.impairments = Impairments::none();
    s
}

/// Power of the DFT of `x` (mean removed) at frequency `f` for sampling rate `fs`.
fn dft_power(x: &[f64], fs: f64, f: f64) -> f64 {
    let mean = x.iter().sum::<f64>() / x.len() as f64;
    let (mut re, mut im) = (0.0, 0.0);
    for (n, v) in x.iter().enumerate() {
        let ph = -2.0 * PI * f * n as f64 / fs;
        re += (v - mean) * ph.cos();
        im += (v - mean) * ph.sin();
    }
    re * re + im * im
}

/// Frequency of the strongest DFT bin of `x` between `lo` and `hi` Hz.
fn dominant_frequency(x: &[f64], fs: f64, lo: f64, hi: f64) -> f64 {
    let n = x.len();
    let mut best = (0.0, -1.0);
    for k in 1..n / 2 {
        let f = k as f64 * fs / n as f64;
        if f < lo || f > hi {
            continue;
        }
        let p = dft_power(x, fs, f);
        if p > best.1 {
            best = (f, p);
        }
    }
    best.0
}

fn variance(x: &[f64]) -> f64 {
    let m = x.iter().sum::<f64>() / x.len() as f64;
    x.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / x.len() as f64
}

/// Per-column series of a quantity over frames, for column `c` of rx 0 / tx 0.
fn series(frames: &[(CsiFrame, GroundTruth)], c: usize, f: impl Fn(Complex32) -> f64) -> Vec<f64> {
    frames.iter().map(|(fr, _)| f(fr.csi[[0, 0, c]])).collect()
}

fn unwrap(x: &[f64]) -> Vec<f64> {
    let mut out = Vec::with_capacity(x.len());
    let mut off = 0.0;
    for (i, v) in x.iter().enumerate() {
        if i > 0 {
            let d = v - x[i - 1];
            if d > PI {
                off -= 2.0 * PI;
            } else if d < -PI {
                off += 2.0 * PI;
            }
        }
        out.push(v + off);
    }
    out
}

#[test]
fn static_scene_gives_constant_csi_without_impairments() {
    for name in ["empty", "still"] {
        for p in [
            DeviceProfile::esp32(),
            DeviceProfile::intel5300(),
            DeviceProfile::nexmon80(),
        ] {
            let frames = run(&clean(name, 4.0), &p, 3);
            assert_eq!(frames.len(), 200);
            for (f, _) in &frames[1..] {
                assert_eq!(f.csi, frames[0].0.csi, "{name} {}", p.name());
            }
        }
    }
    // Quantised too.
    let mut s = clean("still", 2.0);
    s.impairments.quantise = true;
    let frames = run(&s, &DeviceProfile::esp32(), 3);
    assert!(frames.iter().all(|(f, _)| f.csi == frames[0].0.csi));
    // A present person changes the static channel.
    let empty = run(&clean("empty", 1.0), &DeviceProfile::esp32(), 3);
    assert_ne!(empty[0].0.csi, frames[0].0.csi);
}

#[test]
fn static_scene_is_constant_once_the_reported_impairments_are_undone() {
    let mut s = Scenario::preset("empty", 20.0).unwrap();
    s.impairments.snr_db = None;
    s.impairments.quantise = false;
    s.impairments.cfo_hz = 3.7;
    s.impairments.agc_random_step_prob = 0.05;
    s.impairments.drop_prob = 0.1;
    for p in [DeviceProfile::esp32(), DeviceProfile::intel5300()] {
        let sim = Simulator::new(s.clone(), p.clone(), 11).unwrap();
        let header = sim.truth_header();
        let frames: Vec<_> = sim.collect();
        let df = 312_500.0;
        let mut reference: Option<Vec<Complex64>> = None;
        let mut gains = std::collections::BTreeSet::new();
        let mut phases = std::collections::BTreeSet::new();
        for (f, t) in &frames {
            let imp = &t.impairments;
            gains.insert((imp.agc_gain_db * 10.0) as i64);
            phases.insert((imp.common_phase_rad * 1000.0) as i64);
            let (nr, nt, nc) = f.shape();
            let mut undone = Vec::with_capacity(nr * nt * nc);
            for r in 0..nr {
                for tx in 0..nt {
                    for (c, k) in header.subcarriers.iter().enumerate() {
                        let ph = imp.common_phase_rad + header.chain_phase_rad[r]
                            - 2.0 * PI * f64::from(*k) * df * imp.timing_offset_ns * 1e-9;
                        let y = f.csi[[r, tx, c]];
                        let v = Complex64::new(f64::from(y.re), f64::from(y.im)) / imp.scale
                            * Complex64::new(ph.cos(), -ph.sin());
                        undone.push(v);
                    }
                }
            }
            match &reference {
                None => reference = Some(undone),
                Some(r) => {
                    for (a, b) in undone.iter().zip(r) {
                        assert!(
                            (a - b).norm() <= 1e-5 * b.norm().max(1e-12) + 1e-12,
                            "{}: {a} vs {b}",
                            p.name()
                        );
                    }
                }
            }
        }
        assert!(gains.len() > 2, "AGC stepped ({gains:?})");
        assert!(phases.len() > 100, "common phase varies");
        assert!(frames.len() < 1000 && frames.len() > 800, "frames dropped");
    }
}

#[test]
fn half_wavelength_displacement_rotates_phase_by_one_turn() {
    let spec = Spectrum {
        center_hz: 5.32e9,
        spacing_hz: 312_500.0,
        k_min: -28,
        n_bins: 57,
    };
    let ant = Vec3::new(1.0, 1.0, 1.0);
    let h = |d: f64| {
        let mut out = vec![Complex64::new(0.0, 0.0); spec.n_bins];
        let s = PointScatterer {
            position: Vec3::new(3.0 + d, 1.0, 1.0),
            rcs_m2: 0.3,
            phase_turns: 0.0,
        };
        add_scatterer(&mut out, &spec, ant, ant, &s);
        out
    };
    let h0 = h(0.0);
    for (b, base) in h0.iter().enumerate() {
        let lambda = SPEED_OF_LIGHT / spec.freq(b);
        let rot = |d: f64| {
            let v = h(d)[b] / base;
            v.im.atan2(v.re)
        };
        // λ/2 → 2π (back to 0 after wrapping), λ/4 → π, λ/8 → −π/2 (longer path, later phase)
        assert!(rot(lambda / 2.0).abs() < 1e-9);
        assert!((rot(lambda / 4.0).abs() - PI).abs() < 1e-9);
        assert!((rot(lambda / 8.0) + PI / 2.0).abs() < 1e-9);
    }
}

#[test]
fn breathing_rate_is_the_dominant_fluctuation() {
    for (bpm, dev) in [
        (15.0, DeviceProfile::esp32()),
        (12.0, DeviceProfile::intel5300()),
    ] {
        let mut s = clean("breathe", 64.0);
        s.person.breathing.as_mut().unwrap().rate_bpm = bpm;
        s.person.heartbeat = None;
        let frames = run(&s, &dev, 5);
        let fs = 50.0;
        let f_b = bpm / 60.0;
        let n_cols = frames[0].0.n_subcarriers();
        // The column whose amplitude fluctuates most.
        let col = (0..n_cols)
            .max_by(|&a, &b| {
                let va = variance(&series(&frames, a, |c| f64::from(c.norm())));
                let vb = variance(&series(&frames, b, |c| f64::from(c.norm())));
                va.total_cmp(&vb)
            })
            .unwrap();
        let amp = series(&frames, col, |c| f64::from(c.norm()));
        let f = dominant_frequency(&amp, fs, 0.05, 5.0);
        assert!(
            (f - f_b).abs() <= fs / amp.len() as f64 + 1e-9,
            "{}: amplitude peak {f} Hz, breathing {f_b} Hz",
            dev.name()
        );
        let phase = unwrap(&series(&frames, col, |c| f64::from(c.arg())));
        let f = dominant_frequency(&phase, fs, 0.05, 5.0);
        assert!(
            (f - f_b).abs() <= fs / phase.len() as f64 + 1e-9,
            "{}: phase peak {f} Hz",
            dev.name()
        );
        // Every present frame reports the rate.
        assert!(frames.iter().all(|(_, t)| t.breathing_bpm == Some(bpm)));
    }
}

#[test]
fn breathing_survives_realistic_impairments() {
    let mut s = Scenario::preset("breathe", 64.0).unwrap();
    s.impairments.agc_random_step_prob = 0.0;
    s.impairments.drop_prob = 0.0;
    s.impairments.jitter_std_ms = 0.0;
    let frames = run(&s, &DeviceProfile::esp32(), 5);
    // Mean amplitude spectrum over every active column.
    let fs = 50.0;
    let active: Vec<usize> = (0..64)
        .filter(|&c| frames[0].0.csi[[0, 0, c]].norm() > 0.0)
        .collect();
    let n = frames.len();
    let mut total = vec![0.0; n / 2];
    for &c in &active {
        let amp = series(&frames, c, |v| f64::from(v.norm()));
        for (k, t) in total.iter_mut().enumerate().skip(1) {
            let f = k as f64 * fs / n as f64;
            if (0.05..=5.0).contains(&f) {
                *t += dft_power(&amp, fs, f);
            }
        }
    }
    let k = (1..n / 2)
        .max_by(|&a, &b| total[a].total_cmp(&total[b]))
        .unwrap();
    let f = k as f64 * fs / n as f64;
    assert!((f - 0.25).abs() <= fs / n as f64 + 1e-9, "peak at {f} Hz");
}

#[test]
fn heartbeat_alone_shows_at_the_heart_rate() {
    let mut s = clean("breathe", 64.0);
    s.person.breathing = None;
    s.person.heartbeat = Some(wifi_sensing_core::sim::scenario::Heartbeat {
        rate_bpm: 75.0,
        amplitude_mm: 0.5,
        variability_ms: 0.0,
    });
    let frames = run(&s, &DeviceProfile::esp32(), 8);
    let phase = unwrap(&series(&frames, 5, |c| f64::from(c.arg())));
    let f = dominant_frequency(&phase, 50.0, 0.5, 5.0);
    assert!(
        (f - 1.25).abs() <= 50.0 / phase.len() as f64 + 1e-9,
        "peak {f} Hz"
    );
    assert!(frames
        .iter()
        .all(|(_, t)| t.heart_bpm == Some(75.0) && t.breathing_bpm.is_none()));
}

#[test]
fn motion_produces_larger_changes_than_stillness() {
    let spread = |name: &str| {
        let frames = run(&clean(name, 10.0), &DeviceProfile::esp32(), 2);
        (0..64)
            .map(|c| variance(&series(&frames, c, |v| f64::from(v.norm()))))
            .sum::<f64>()
    };
    let walk = spread("walk");
    let wave = spread("gesture:wave");
    let breathe = spread("breathe");
    assert!(walk > 10.0 * breathe, "walk {walk} vs breathe {breathe}");
    assert!(wave > breathe, "wave {wave} vs breathe {breathe}");
}

#[test]
fn same_seed_same_output_different_seed_different_output() {
    let s = Scenario::preset("mixed", 12.0).unwrap();
    for p in [
        DeviceProfile::esp32(),
        DeviceProfile::intel5300(),
        DeviceProfile::nexmon80(),
    ] {
        let a = run(&s, &p, 7);
        let b = run(&s, &p, 7);
        assert!(a == b, "{}: same seed, different output", p.name());
        let ja = serde_json::to_string(&a.iter().map(|x| &x.1).collect::<Vec<_>>()).unwrap();
        let jb = serde_json::to_string(&b.iter().map(|x| &x.1).collect::<Vec<_>>()).unwrap();
        assert!(ja == jb);
        let c = run(&s, &p, 8);
        assert_ne!(
            a.iter().map(|x| &x.0.csi).collect::<Vec<_>>(),
            c.iter().map(|x| &x.0.csi).collect::<Vec<_>>()
        );
    }
}

fn fnv1a(h: &mut u64, bytes: &[u8]) {
    for b in bytes {
        *h ^= u64::from(*b);
        *h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
}

/// The output for a fixed seed must never change silently (across platforms and versions):
/// a deliberate model change bumps `MODEL_VERSION` and this checksum.
#[test]
fn output_checksum_is_stable() {
    let s = Scenario::preset("mixed", 10.0).unwrap();
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for (f, t) in Simulator::new(s, DeviceProfile::esp32(), 7).unwrap() {
        fnv1a(&mut h, export::esp32_csv_line_of(&f).unwrap().as_bytes());
        fnv1a(&mut h, serde_json::to_string(&t).unwrap().as_bytes());
    }
    let s = Scenario::preset("walk", 2.0).unwrap();
    for (f, _) in Simulator::new(s, DeviceProfile::intel5300(), 7).unwrap() {
        for c in f.csi.iter() {
            fnv1a(&mut h, &c.re.to_le_bytes());
            fnv1a(&mut h, &c.im.to_le_bytes());
        }
    }
    assert_eq!(wifi_sensing_core::sim::MODEL_VERSION, 1);
    assert_eq!(h, EXPECTED_CHECKSUM, "got {h:#018x}");
}

const EXPECTED_CHECKSUM: u64 = 0x9a2c_49bf_0346_718a;

#[test]
fn dropped_frames_leave_sequence_gaps() {
    let mut s = clean("walk", 100.0);
    s.impairments.drop_prob = 0.2;
    s.impairments.jitter_std_ms = 3.0;
    let mut sim = Simulator::new(s, DeviceProfile::esp32(), 4).unwrap();
    let frames: Vec<_> = sim.by_ref().collect();
    let n = 5000u64;
    assert_eq!(sim.frame_slots(), n);
    assert_eq!(frames.len() as u64 + sim.dropped(), n);
    // Binomial(5000, 0.8): mean 4000, sd 28.3; allow 5 sd.
    assert!(
        (3858..=4142).contains(&frames.len()),
        "{} frames",
        frames.len()
    );
    let mut gaps = 0;
    for w in frames.windows(2) {
        let (a, b) = (w[0].0.sequence.unwrap(), w[1].0.sequence.unwrap());
        assert!(b > a);
        gaps += u64::from(b - a - 1);
        assert!(
            w[1].0.timestamp_ns > w[0].0.timestamp_ns,
            "timestamps increase"
        );
    }
    gaps += u64::from(frames[0].0.sequence.unwrap())
        + (n - 1 - u64::from(frames.last().unwrap().0.sequence.unwrap()));
    assert_eq!(gaps, sim.dropped());
    for (f, t) in &frames {
        assert_eq!(f.sequence, Some(t.sequence));
        assert_eq!(f.timestamp_ns, t.timestamp_ns);
        let nominal = i64::from(t.sequence) * 20_000_000;
        assert!(
            (f.timestamp_ns - nominal).abs() <= 9_000_000,
            "jitter within 45 % of the period"
        );
    }
    let none = run(&clean("walk", 10.0), &DeviceProfile::esp32(), 4);
    assert!(none
        .iter()
        .enumerate()
        .all(|(i, (f, _))| f.sequence == Some(i as u32)));
    assert!(none
        .iter()
        .enumerate()
        .all(|(i, (f, _))| f.timestamp_ns == i as i64 * 20_000_000));
}

/// Measured SNR of a static scene: the mean over frames is the signal, the spread the noise.
fn measured_snr_db(frames: &[(CsiFrame, GroundTruth)]) -> f64 {
    let first = &frames[0].0;
    let n = frames.len() as f64;
    let (mut ps, mut pn, mut count) = (0.0, 0.0, 0usize);
    for idx in 0..first.csi.len() {
        let vals: Vec<Complex64> = frames
            .iter()
            .map(|(f, _)| {
                let c = f.csi.as_slice().unwrap()[idx];
                Complex64::new(f64::from(c.re), f64::from(c.im))
            })
            .collect();
        let mean = vals.iter().sum::<Complex64>() / n;
        if mean.norm() == 0.0 && vals.iter().all(|v| v.norm() == 0.0) {
            continue; // DC / guard column
        }
        let var = vals.iter().map(|v| (v - mean).norm_sqr()).sum::<f64>() / (n - 1.0);
        ps += mean.norm_sqr() - var / n;
        pn += var;
        count += 1;
    }
    assert!(count > 0);
    10.0 * (ps / pn).log10()
}

#[test]
fn measured_snr_matches_requested() {
    for (snr, quantise, dev) in [
        (0.0, false, DeviceProfile::esp32()),
        (10.0, false, DeviceProfile::esp32()),
        (20.0, false, DeviceProfile::intel5300()),
        (30.0, false, DeviceProfile::nexmon80()),
        (10.0, true, DeviceProfile::esp32()),
        (20.0, true, DeviceProfile::esp32()),
        (20.0, true, DeviceProfile::nexmon80()),
    ] {
        let mut s = clean("empty", 40.0);
        s.impairments.snr_db = Some(snr);
        s.impairments.quantise = quantise;
        let frames = run(&s, &dev, 21);
        let m = measured_snr_db(&frames);
        assert!(
            (m - snr).abs() < 1.0,
            "{} quantised={quantise}: requested {snr} dB, measured {m:.2} dB",
            dev.name()
        );
        // The reported per-component noise level agrees.
        let t = &frames[0].1.impairments;
        assert!(t.noise_std > 0.0);
    }
}

#[test]
fn device_profiles_shape_the_frames() {
    let s = Scenario::preset("mixed", 6.0).unwrap();
    let cases = [
        (
            DeviceProfile::esp32(),
            (1, 1, 64),
            Device::Esp32,
            6,
            2437,
            20,
            127.0,
        ),
        (
            DeviceProfile::intel5300(),
            (3, 2, 30),
            Device::Iwl5300,
            64,
            5320,
            20,
            127.0,
        ),
        (
            DeviceProfile::nexmon80(),
            (1, 1, 256),
            Device::Bcm43455c0,
            42,
            5210,
            80,
            8191.0,
        ),
    ];
    for (p, shape, dev, ch, freq, bw, max) in cases {
        let indices = p.subcarrier_indices();
        for (f, _) in Simulator::new(s.clone(), p.clone(), 1).unwrap() {
            assert_eq!(f.shape(), shape);
            assert_eq!(f.format, CaptureFormat::Simulated);
            assert_eq!(f.clock, Clock::Simulated);
            assert_eq!(f.device, dev);
            assert_eq!(f.channel, Some(ch));
            assert_eq!(f.center_freq_mhz, Some(freq));
            assert_eq!(f.bandwidth_mhz, Some(bw));
            assert_eq!(f.subcarriers.as_deref(), Some(&indices[..]));
            assert!(f.rssi_dbm.unwrap() < -20.0 && f.rssi_dbm.unwrap() > -90.0);
            for (i, c) in f.csi.indexed_iter() {
                assert_eq!(c.re.fract(), 0.0);
                assert_eq!(c.im.fract(), 0.0);
                assert!(c.re.abs() <= max + 1.0 && c.im.abs() <= max + 1.0);
                if !p.is_active(indices[i.2]) {
                    assert_eq!(*c, Complex32::new(0.0, 0.0), "{} column {}", p.name(), i.2);
                }
            }
            if p.kind == DeviceKind::Intel5300 {
                assert_eq!(f.chain_rssi.len(), 3);
            }
        }
    }
    // ESP32 magnitudes are in the range of real captures.
    let frames = run(
        &Scenario::preset("empty", 2.0).unwrap(),
        &DeviceProfile::esp32(),
        1,
    );
    let rms = (frames[0].0.csi.iter().map(|c| c.norm_sqr()).sum::<f32>() / 52.0).sqrt();
    assert!((15.0..35.0).contains(&rms), "rms {rms}");
    let mut p = DeviceProfile::esp32();
    p.esp32_junk_first_word = true;
    let (f, _) = Simulator::new(Scenario::preset("empty", 1.0).unwrap(), p, 1)
        .unwrap()
        .next()
        .unwrap();
    let line = export::esp32_csv_line_of(&f).unwrap();
    assert!(line.contains(",128,[18 38 97 0 "), "{line}");
}

#[test]
fn ground_truth_follows_the_mixed_timeline() {
    let s = clean("mixed", 40.0);
    let frames = run(&s, &DeviceProfile::esp32(), 9);
    assert_eq!(frames.len(), 2000);
    let mut labels: Vec<Activity> = Vec::new();
    for (f, t) in &frames {
        if labels.last() != Some(&t.activity) {
            labels.push(t.activity);
        }
        let ts = f.timestamp_ns;
        assert!(t.activity_start_ns <= ts && ts < t.activity_end_ns.max(t.activity_start_ns + 1));
        assert!(t.motion_start_ns <= t.activity_start_ns && t.activity_end_ns <= t.motion_end_ns);
        assert_eq!(t.presence, t.activity != Activity::Absent);
        assert_eq!(t.presence, t.keypoints.is_some());
        assert_eq!(t.presence, t.heart_bpm.is_some());
        match t.activity {
            Activity::Absent => assert_eq!(t.motion, MotionState::Empty),
            Activity::Stand => assert_eq!(t.motion, MotionState::Still),
            _ => assert_eq!(t.motion, MotionState::Moving),
        }
        if let Some(k) = &t.keypoints {
            for p in k {
                assert!(p.iter().all(|v| (-0.1..=1.1).contains(v)), "{p:?}");
            }
            // Head above the ankles.
            assert!(k[0][2] > k[15][2] + 0.3);
        }
    }
    assert_eq!(
        labels,
        [
            Activity::Absent,
            Activity::Walk,
            Activity::Stand,
            Activity::Wave,
            Activity::Walk,
            Activity::Absent
        ]
    );
    let t = &frames[500].1; // 10 s: walking in (6 s..12 s)
    assert_eq!(
        (t.activity_start_ns, t.activity_end_ns),
        (6_000_000_000, 12_000_000_000)
    );
    // Waving and walking out form one moving run: 24 s..38 s.
    let t = &frames[1300].1;
    assert_eq!(t.activity, Activity::Wave);
    assert_eq!(
        (t.motion_start_ns, t.motion_end_ns),
        (24_000_000_000, 38_000_000_000)
    );
}

#[test]
fn esp32_output_round_trips_through_adr018() {
    let s = Scenario::preset("mixed", 20.0).unwrap();
    let mut n = 0;
    for (f, _) in Simulator::new(s, DeviceProfile::esp32(), 7).unwrap() {
        let d = export::to_adr018(&f, 5).unwrap();
        let bytes = adr018::encode_csi(&d).unwrap();
        let Record::Frame(g) =
            adr018::decode_datagram(&bytes, 0, f.timestamp_ns, Clock::Host).unwrap()
        else {
            panic!("not a frame")
        };
        // bit-exact CSI and the radio fields the datagram carries
        common::assert_same_fields!(g, f, "datagram";
            csi, sequence, rssi_dbm, noise_floor_dbm, channel, center_freq_mhz);
        assert_eq!(g.node_id, 5);
        n += 1;
    }
    assert!(n > 900);
}

/// A minimal independent parse of an ESP32-CSI-Tool line (FORMATS.md 1.2) for this test.
fn parse_csv_line(line: &str) -> (Vec<String>, Vec<i8>) {
    let (head, rest) = line.split_once(",[").unwrap();
    let fields: Vec<String> = head.split(',').map(str::to_string).collect();
    assert!(rest.ends_with(" ]"), "trailing space before ]");
    let vals = rest[..rest.len() - 1]
        .split_whitespace()
        .map(|v| v.parse().unwrap())
        .collect();
    (fields, vals)
}

#[test]
fn esp32_csv_lines_hold_the_frame() {
    let s = Scenario::preset("breathe", 4.0).unwrap();
    let mut w = export::Esp32CsvWriter::new(Vec::new(), true).unwrap();
    let frames = run(&s, &DeviceProfile::esp32(), 3);
    for (f, _) in &frames {
        w.write(f).unwrap();
    }
    let text = String::from_utf8(w.into_inner()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], export::ESP32_CSV_HEADER);
    assert_eq!(lines.len(), frames.len() + 1);
    for (line, (f, _)) in lines[1..].iter().zip(&frames) {
        let (fields, vals) = parse_csv_line(line);
        assert_eq!(fields.len(), 25);
        assert_eq!(fields[0], "CSI_DATA");
        assert_eq!(fields[2], "02:53:49:4D:00:01");
        assert_eq!(fields[3].parse::<f32>().unwrap(), f.rssi_dbm.unwrap());
        assert_eq!(fields[14], "-96");
        assert_eq!(fields[16], "6");
        assert_eq!(fields[24], "128");
        let secs: f64 = fields[23].parse().unwrap();
        assert!((secs - f.timestamp_ns as f64 / 1e9).abs() < 1e-6);
        assert_eq!(vals.len(), 128);
        for (k, c) in f.csi.iter().enumerate() {
            assert_eq!(
                Complex32::new(f32::from(vals[2 * k + 1]), f32::from(vals[2 * k])),
                *c
            );
        }
    }
}

#[test]
fn native_recording_round_trip_is_identical() {
    for p in [
        DeviceProfile::esp32(),
        DeviceProfile::intel5300(),
        DeviceProfile::nexmon80(),
    ] {
        let s = Scenario::preset("mixed", 8.0).unwrap();
        let sim = Simulator::new(s, p.clone(), 12).unwrap();
        let config = serde_json::to_string(&sim.truth_header().scenario).unwrap();
        let frames: Vec<CsiFrame> = sim.map(|(f, _)| f).collect();
        let mut buf = Vec::new();
        let mut w =
            RecordingWriter::new(&mut buf, &RecordingHeader::new("simulator", config)).unwrap();
        for f in &frames {
            w.write(&Record::Frame(f.clone())).unwrap();
        }
        w.flush().unwrap();
        drop(w);
        let mut r =
            RecordingReader::new(Box::new(std::io::Cursor::new(buf)), &Default::default()).unwrap();
        let mut back = Vec::new();
        while let Some(rec) = r.next_record() {
            back.push(rec.unwrap().into_frame().unwrap());
        }
        assert!(back == frames, "{}: recording changed the frames", p.name());
    }
}

#[test]
fn frames_plug_into_the_pipeline_and_truth_is_written() {
    let s = Scenario::preset("gesture:push", 5.0).unwrap();
    let sim = Simulator::new(s.clone(), DeviceProfile::intel5300(), 2).unwrap();
    let expected: Vec<(CsiFrame, GroundTruth)> = sim.clone().collect();
    let writer = TruthWriter::new(Vec::new(), &sim.truth_header()).unwrap();
    let mut it = sim.with_truth(writer);
    let mut pipeline = Pipeline::builder().build().unwrap();
    let outs: Vec<_> = pipeline.process(&mut it).collect::<Result<_, _>>().unwrap();
    assert_eq!(outs.len(), expected.len());
    assert_eq!(pipeline.summary().frames_in, expected.len() as u64);
    let text = it.into_writer().into_inner();
    let reader = TruthReader::new(std::io::Cursor::new(text)).unwrap();
    assert_eq!(reader.header().seed, 2);
    assert_eq!(reader.header().keypoint_names.len(), 17);
    let truth: Vec<GroundTruth> = reader.collect::<Result<_, _>>().unwrap();
    assert_eq!(truth.len(), expected.len());
    for (a, (_, b)) in truth.iter().zip(&expected) {
        json_close(
            &serde_json::to_value(a).unwrap(),
            &serde_json::to_value(b).unwrap(),
            "truth",
        );
    }
    // frames() gives the same frames.
    let frames: Vec<CsiFrame> = Simulator::new(s, DeviceProfile::intel5300(), 2)
        .unwrap()
        .frames()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(frames == expected.into_iter().map(|x| x.0).collect::<Vec<_>>());
}

/// Equal JSON values, numbers within 1e-15 relative (serde_json's float parser is not
/// guaranteed to round-trip the last bit without its `float_roundtrip` feature).
fn json_close(a: &serde_json::Value, b: &serde_json::Value, path: &str) {
    use serde_json::Value;
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            assert!((x - y).abs() <= 1e-15 * y.abs(), "{path}: {x} vs {y}");
        }
        (Value::Array(x), Value::Array(y)) => {
            assert_eq!(x.len(), y.len(), "{path}");
            for (i, (u, v)) in x.iter().zip(y).enumerate() {
                json_close(u, v, &format!("{path}[{i}]"));
            }
        }
        (Value::Object(x), Value::Object(y)) => {
            assert_eq!(x.len(), y.len(), "{path}");
            for (k, u) in x {
                json_close(u, &y[k], &format!("{path}.{k}"));
            }
        }
        _ => assert_eq!(a, b, "{path}"),
    }
}

#[test]
fn truth_reader_reports_bad_lines() {
    let sim = Simulator::new(
        Scenario::preset("empty", 1.0).unwrap(),
        DeviceProfile::esp32(),
        1,
    )
    .unwrap();
    let mut w = TruthWriter::new(Vec::new(), &sim.truth_header()).unwrap();
    for (_, t) in sim.take(2) {
        w.write(&t).unwrap();
    }
    let mut text = w.into_inner();
    text.extend_from_slice(b"{\"frame_index\": \"x\"}\n");
    let items: Vec<_> = TruthReader::new(std::io::Cursor::new(text))
        .unwrap()
        .collect();
    assert_eq!(items.len(), 3);
    let e = items[2].as_ref().unwrap_err();
    assert!(
        e.is_recoverable() && e.to_string().contains("line 4"),
        "{e}"
    );
    assert!(TruthReader::new(std::io::Cursor::new(b"{}\n".to_vec())).is_err());
    assert!(TruthReader::new(std::io::Cursor::new(Vec::new())).is_err());
}

#[test]
fn config_errors_are_clear() {
    let mut s = Scenario::preset("walk", 10.0).unwrap();
    s.rate_hz = f64::NAN;
    let e = Simulator::new(s, DeviceProfile::esp32(), 1).unwrap_err();
    assert!(matches!(e, Error::Config(_)));
    assert!(e.to_string().contains("rate_hz"), "{e}");
    let mut s = Scenario::preset("walk", 10.0).unwrap();
    s.rate_hz = 0.05;
    s.duration_s = Some(1.0);
    assert!(Simulator::new(s, DeviceProfile::esp32(), 1)
        .unwrap_err()
        .to_string()
        .contains("no frame"));
    let mut p = DeviceProfile::esp32();
    p.channel = 0;
    assert!(Simulator::new(Scenario::preset("walk", 1.0).unwrap(), p, 1).is_err());
}

fn any_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(0.0),
        Just(-0.0),
        -1e12..1e12f64,
        0.0..10.0f64,
        any::<f64>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn arbitrary_numbers_never_panic(
        v in proptest::collection::vec(any_f64(), 40),
        preset in 0usize..8,
        dev in 0usize..3,
        seed in any::<u64>(),
        n_ant in 0usize..5,
    ) {
        let mut s = Scenario::preset(wifi_sensing_core::sim::PRESETS[preset], 6.0).unwrap();
        s.rate_hz = v[0];
        s.duration_s = Some(v[1]);
        s.room.size_m = [v[2], v[3], v[4]];
        s.room.wall_reflectivity = v[5];
        s.room.reflectors[0].rcs_m2 = v[6];
        s.room.reflectors[1].position_m = [v[7], v[8], v[9]];
        s.tx.position_m = [v[10], v[11], v[12]];
        s.rx.arrays_mut()[0].spacing_m = Some(v[13]);
        s.rx.arrays_mut()[0].axis = [v[14], v[15], v[16]];
        s.person.height_m = v[17];
        s.person.rcs_scale = v[18];
        if let Some(b) = s.person.breathing.as_mut() { b.rate_bpm = v[19]; b.amplitude_mm = v[20]; }
        if let Some(h) = s.person.heartbeat.as_mut() { h.rate_bpm = v[21]; h.variability_ms = v[22]; }
        s.impairments.snr_db = Some(v[23]);
        s.impairments.timing_offset_std_ns = v[24];
        s.impairments.cfo_hz = v[25];
        s.impairments.agc_step_db = v[26];
        s.impairments.agc_random_step_prob = v[27];
        s.impairments.jitter_std_ms = v[28];
        s.impairments.drop_prob = v[29];
        s.timeline.push(wifi_sensing_core::sim::Segment::Walk {
            path_m: vec![[v[30], v[31]], [v[32], v[33]]],
            speed_m_s: Some(v[34]),
            duration_s: None,
            repeat: 2,
        });
        s.timeline.push(wifi_sensing_core::sim::Segment::Gesture {
            gesture: wifi_sensing_core::sim::Gesture::Pull,
            duration_s: v[35],
            position_m: Some([v[36], v[37]]),
            heading_deg: Some(v[38]),
            period_s: Some(v[39]),
        });
        let mut p = [DeviceProfile::esp32(), DeviceProfile::intel5300(), DeviceProfile::nexmon80()][dev].clone();
        p.n_rx = n_ant;
        match Simulator::new(s, p.clone(), seed) {
            Ok(sim) => {
                let (lo, hi) = p.value_range();
                for (f, t) in sim.take(3) {
                    prop_assert!(f.csi.iter().all(|c| c.re.is_finite() && c.im.is_finite()));
                    prop_assert!(f.csi.iter().all(|c| f64::from(c.re) >= lo && f64::from(c.re) <= hi));
                    prop_assert!(serde_json::to_string(&t).is_ok());
                }
            }
            Err(e) => prop_assert!(matches!(e, Error::Config(_)), "{e}"),
        }
    }

    #[test]
    fn arbitrary_json_never_panics(text in "\\PC{0,200}") {
        if let Err(e) = Scenario::from_json_str(&text) {
            prop_assert!(matches!(e, Error::Config(_)));
        }
    }

    #[test]
    fn arbitrary_json_shapes_never_panic(
        rate in any_f64(), dur in any_f64(), x in any_f64(), y in any_f64(), h in any_f64(), act in 0usize..5
    ) {
        let acts = ["absent", "stand", "sit", "walk", "gesture"];
        let seg = match acts[act] {
            "walk" => format!(r#"{{"activity":"walk","path_m":[[{x},{y}],[1,1]],"duration_s":{dur}}}"#),
            "gesture" => format!(r#"{{"activity":"gesture","gesture":"wave","duration_s":{dur},"heading_deg":{h}}}"#),
            a => format!(r#"{{"activity":"{a}","duration_s":{dur},"position_m":[{x},{y}]}}"#),
        };
        let doc = format!(r#"{{"rate_hz":{rate},"timeline":[{seg}]}}"#);
        match Scenario::from_json_str(&doc) {
            Ok(s) => {
                if let Ok(sim) = Simulator::new(s, DeviceProfile::esp32(), 1) {
                    for (f, _) in sim.take(2) {
                        prop_assert_eq!(f.shape(), (1, 1, 64));
                    }
                }
            }
            Err(e) => prop_assert!(matches!(e, Error::Config(_))),
        }
    }
}
