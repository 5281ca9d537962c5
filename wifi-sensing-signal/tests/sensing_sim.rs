//! Sensing against the simulator's ground truth, property tests and baseline checks.

use proptest::prelude::*;
use wifi_sensing_core::sim::{DeviceProfile, MotionState, Scenario, Simulator};
use wifi_sensing_core::{Analyser, CaptureFormat, CsiFrame, Device};
use wifi_sensing_signal::calibration::{Baseline, Calibrator};
use wifi_sensing_signal::events::{EventConfig, EventKind};
use wifi_sensing_signal::vitals::{NoEstimate, VitalsConfig};
use wifi_sensing_signal::{Sensed, SensingAnalyser, SensingConfig, SignalError};

/// Frame-level F1 of presence and motion after the warm-up, and the events.
fn session(preset: &str, secs: f64, rate: f64, seed: u64) -> (f64, f64, Vec<Sensed>) {
    let mut sc = Scenario::preset(preset, secs).unwrap();
    sc.rate_hz = rate;
    let sim = Simulator::new(sc, DeviceProfile::esp32(), seed).unwrap();
    let cfg = SensingConfig {
        vitals: None,
        ..SensingConfig::default()
    };
    let warmup = EventConfig::default().warmup_s;
    let mut a = SensingAnalyser::new(cfg, None).unwrap();
    let mut out = Vec::new();
    let mut c = [[0u32; 3]; 2];
    for (f, t) in sim {
        a.push(&f, &mut out).unwrap();
        if (t.timestamp_ns as f64) < warmup * 1e9 {
            continue;
        }
        let pairs = [
            (a.present(f.node_id) == Some(true), t.presence),
            (
                a.moving(f.node_id) == Some(true),
                t.motion == MotionState::Moving,
            ),
        ];
        for (i, (p, truth)) in pairs.into_iter().enumerate() {
            match (p, truth) {
                (true, true) => c[i][0] += 1,
                (true, false) => c[i][1] += 1,
                (false, true) => c[i][2] += 1,
                _ => {}
            }
        }
    }
    let f1 = |x: [u32; 3]| {
        if x[0] + x[1] + x[2] == 0 {
            1.0
        } else {
            2.0 * f64::from(x[0]) / f64::from(2 * x[0] + x[1] + x[2])
        }
    };
    (f1(c[0]), f1(c[1]), out)
}

fn count(out: &[Sensed], kind: EventKind) -> usize {
    out.iter()
        .filter(|s| matches!(s, Sensed::Event(e) if e.event == kind))
        .count()
}

#[test]
fn walk_is_one_event_pair_and_empty_room_stays_empty() {
    let (fp, fm, out) = session("walk", 30.0, 50.0, 11);
    assert!(
        fp > 0.99 && fm > 0.99,
        "walk presence F1 {fp}, motion F1 {fm}"
    );
    assert_eq!(count(&out, EventKind::MotionStarted), 1);
    assert_eq!(count(&out, EventKind::PresenceStarted), 1);
    let (fp, fm, out) = session("empty", 40.0, 50.0, 12);
    assert_eq!((fp, fm), (1.0, 1.0));
    assert!(
        out.iter().all(|s| !matches!(s, Sensed::Event(_))),
        "{out:?}"
    );
}

#[test]
fn breathing_person_is_present_and_still() {
    let (fp, fm, out) = session("breathe", 30.0, 50.0, 15);
    assert_eq!(fp, 1.0, "breathing presence F1");
    // F1 of an all-negative truth is 1 only without a single false motion frame; the known
    // weakness (an AGC step while breathing can read as a short motion) is reported, not hidden
    assert!(count(&out, EventKind::MotionStarted) <= 1, "{fm}");
}

#[test]
fn mixed_session_events_in_order() {
    let (fp, fm, out) = session("mixed", 60.0, 50.0, 14);
    // measured: presence 0.969, motion 0.877 on this seed (see the README)
    assert!(
        fp > 0.95 && fm > 0.85,
        "mixed presence F1 {fp}, motion F1 {fm}"
    );
    // Known weakness (README): right after motion settles, absence can be decided from the
    // shape alone over 3 s (the level needs more block pairs), so a person standing still
    // may flicker absent for about half a second before breathing brings presence back:
    // measured 2 such flickers on this seed (3 PresenceStarted).
    assert!(count(&out, EventKind::PresenceStarted) <= 3, "{out:?}");
    // each flicker ends once; the empty tail (3 s) is shorter than the motion-free stretch
    // absence needs (3 s + hold), so it may add none
    assert!(count(&out, EventKind::PresenceEnded) <= 3, "{out:?}");
}

fn vitals_session(
    rate: f64,
    breath: f64,
    heart: f64,
    secs: f64,
    seed: u64,
) -> Vec<(f64, Option<f64>, String)> {
    let mut sc = Scenario::preset("breathe", secs).unwrap();
    sc.rate_hz = rate;
    if let Some(b) = &mut sc.person.breathing {
        b.rate_bpm = breath;
    }
    if let Some(h) = &mut sc.person.heartbeat {
        h.rate_bpm = heart;
    }
    let sim = Simulator::new(sc, DeviceProfile::esp32(), seed).unwrap();
    let cfg = SensingConfig {
        events: None,
        vitals: Some(VitalsConfig {
            hop_s: 10.0,
            ..VitalsConfig::default()
        }),
        ..SensingConfig::default()
    };
    let mut a = SensingAnalyser::new(cfg, None).unwrap();
    let mut out = Vec::new();
    let mut res = Vec::new();
    for (f, _) in sim {
        out.clear();
        a.push(&f, &mut out).unwrap();
        for s in &out {
            if let Sensed::VitalSigns { value, .. } = s {
                if value.window_s >= 30.0 {
                    res.push((breath, value.breathing.rate_per_min, format!("{value:?}")));
                }
            }
        }
    }
    res
}

#[test]
fn breathing_estimates_within_one_per_minute_or_none() {
    // SNR 30 dB (the simulator's default); at SNR 20 dB the presence test of the vital-sign
    // estimator refuses these windows (see the README: that target is not met yet)
    for (rate, breath, seed) in [(50.0, 15.0, 22), (100.0, 15.0, 23)] {
        let r = vitals_session(rate, breath, 70.0, 81.0, seed);
        assert!(!r.is_empty(), "{rate} Hz: no full window");
        // no estimate (refused as not distinct) is allowed; a wrong estimate is not
        for (truth, est, dbg) in r {
            if let Some(est) = est {
                assert!(
                    (est - truth).abs() <= 1.0,
                    "{rate} Hz: {est} vs {truth}: {dbg}"
                );
            }
        }
    }
}

fn tone_frames(rate: f64, f_hz: f64, secs: f64, scale: f32) -> Vec<CsiFrame> {
    let n = (rate * secs) as usize;
    (0..n)
        .map(|i| {
            let t = i as f64 / rate;
            let m = 1.0 + 0.05 * (2.0 * std::f64::consts::PI * f_hz * t).sin();
            let csi = ndarray::Array3::from_shape_fn((1, 1, 16), |(_, _, k)| {
                let a = (10.0 + k as f64) * if k % 2 == 0 { m } else { 2.0 - m };
                num_complex::Complex32::new((a as f32) * scale, 0.0)
            });
            let mut f = CsiFrame::new(CaptureFormat::Simulated, Device::Simulator, csi);
            f.timestamp_ns = (t * 1e9) as i64;
            f
        })
        .collect()
}

fn vitals_of(frames: &[CsiFrame]) -> Vec<f64> {
    let cfg = SensingConfig {
        events: None,
        ..SensingConfig::default()
    };
    let mut a = SensingAnalyser::new(cfg, None).unwrap();
    let mut out = Vec::new();
    for f in frames {
        a.push(f, &mut out).unwrap();
    }
    out.iter()
        .filter_map(|s| match s {
            Sensed::VitalSigns { value, .. } => value.breathing.rate_per_min,
            _ => None,
        })
        .collect()
}

fn events_of(frames: &[CsiFrame]) -> Vec<(EventKind, i64)> {
    let cfg = SensingConfig {
        vitals: None,
        ..SensingConfig::default()
    };
    let mut a = SensingAnalyser::new(cfg, None).unwrap();
    let mut out = Vec::new();
    for f in frames {
        a.push(f, &mut out).unwrap();
    }
    out.iter()
        .filter_map(|s| match s {
            Sensed::Event(e) => Some((e.event, e.timestamp_ns)),
            _ => None,
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, .. ProptestConfig::default() })]

    #[test]
    fn pure_tone_rate_at_any_frame_rate(rate in 8.0f64..120.0, bpm in 8.0f64..35.0) {
        let est = vitals_of(&tone_frames(rate, bpm / 60.0, 45.0, 1.0));
        prop_assert!(!est.is_empty());
        for e in est {
            prop_assert!((e - bpm).abs() < 0.3, "{} Hz: {} vs {}", rate, e, bpm);
        }
    }

    #[test]
    fn events_invariant_to_scaling(scale in 0.01f32..100.0, seed in 0u64..1000) {
        let sc = Scenario::preset("mixed", 30.0).unwrap();
        let frames: Vec<CsiFrame> = Simulator::new(sc, DeviceProfile::esp32(), seed)
            .unwrap()
            .map(|(f, _)| f)
            .collect();
        let scaled: Vec<CsiFrame> = frames
            .iter()
            .map(|f| {
                let mut g = f.clone();
                g.csi.mapv_inplace(|c| c * scale);
                g
            })
            .collect();
        prop_assert_eq!(events_of(&frames), events_of(&scaled));
    }
}

/// The events (no vital signs) of a `mixed` preset session of `secs` on `profile` with the
/// frames of `gap` (seconds) left out.
fn events_around_a_gap(
    profile: DeviceProfile,
    secs: f64,
    seed: u64,
    gap: std::ops::Range<f64>,
) -> Vec<wifi_sensing_signal::events::Event> {
    let frames: Vec<CsiFrame> =
        Simulator::new(Scenario::preset("mixed", secs).unwrap(), profile, seed)
            .unwrap()
            .map(|(f, _)| f)
            .filter(|f| !gap.contains(&(f.timestamp_ns as f64 * 1e-9)))
            .collect();
    let cfg = SensingConfig {
        vitals: None,
        ..SensingConfig::default()
    };
    let mut a = SensingAnalyser::new(cfg, None).unwrap();
    let mut out = Vec::new();
    for f in &frames {
        a.push(f, &mut out).unwrap();
    }
    out.into_iter()
        .filter_map(|s| match s {
            Sensed::Event(e) => Some(e),
            _ => None,
        })
        .collect()
}

/// A gap in the frames (a stretch lost from a recording) is not bridged by the motion ratio:
/// no lagged difference spans it, and the ratio waits for its window to fill again, as at a
/// stream's start. Before, a motion starting right after a gap was declared on a few frames
/// whose difference spanned the gap (5 frames of evidence, the ratio at its clip).
#[test]
fn a_gap_in_the_frames_is_not_bridged_by_the_motion_ratio() {
    let gap1 = 74.0;
    let events = events_around_a_gap(DeviceProfile::esp32(), 120.0, 2, 70.0..gap1);
    let half_window = EventConfig::default().motion_window_s / 2.0;
    let after: Vec<_> = events
        .iter()
        .filter(|e| e.event == EventKind::MotionStarted && e.timestamp_ns as f64 * 1e-9 > gap1)
        .collect();
    // the person waves through the gap: motion is found again after it
    assert!(!after.is_empty(), "{events:?}");
    for e in &after {
        let start = e.evidence.start_ns as f64 * 1e-9;
        assert!(start >= gap1, "{e:?}");
        assert!(
            (e.evidence.end_ns - e.evidence.start_ns) as f64 * 1e-9 >= half_window * 0.9,
            "{e:?}"
        );
    }
}

/// After a gap of more than 1 s the breathing and static statistics start over too: no event
/// after the gap has evidence from before it (a breathing-band presence used to be declared on
/// a window spanning the empty room before a 7 s gap and the person after it), and the step
/// across the gap is no motion (it was, on 2 frames, with a settle 0.9 s later).
#[test]
fn no_evidence_spans_a_gap() {
    let gap1 = 10.6;
    let events = events_around_a_gap(DeviceProfile::intel5300(), 30.0, 7, 3.5..gap1);
    assert!(!events.is_empty(), "the person walks after the gap");
    for e in &events {
        assert!(
            e.evidence.start_ns as f64 * 1e-9 >= gap1,
            "evidence from before the gap: {e:?}"
        );
    }
    // the first motion is the walk at about 18 s, not the step across the gap
    let first = events
        .iter()
        .find(|e| e.event == EventKind::MotionStarted)
        .unwrap();
    assert!(first.timestamp_ns as f64 * 1e-9 > gap1 + 2.0, "{first:?}");
}

/// A presence that motion starts has the motion's evidence window, not a single frame.
#[test]
fn presence_started_by_motion_has_the_motions_evidence() {
    let (_, _, out) = session("walk", 30.0, 50.0, 11);
    let first = |kind: EventKind| {
        out.iter()
            .find_map(|s| match s {
                Sensed::Event(e) if e.event == kind => Some(e.clone()),
                _ => None,
            })
            .unwrap()
    };
    let (m, p) = (
        first(EventKind::MotionStarted),
        first(EventKind::PresenceStarted),
    );
    assert_eq!(p.timestamp_ns, m.timestamp_ns, "{p:?}");
    assert_eq!(p.evidence, m.evidence, "{p:?}");
    assert!(p.evidence.frames > 10, "{p:?}");
}

#[test]
fn constant_stream_gives_no_events() {
    let frames = tone_frames(50.0, 0.0, 60.0, 1.0);
    assert!(events_of(&frames).is_empty());
    assert!(vitals_of(&frames).is_empty());
}

#[test]
fn baseline_refuses_mismatch_and_names_corrupt_fields() {
    let sim = Simulator::new(
        Scenario::preset("empty", 12.0).unwrap(),
        DeviceProfile::esp32(),
        1,
    )
    .unwrap();
    let mut cal = Calibrator::new(&EventConfig::default()).unwrap();
    for (f, _) in sim {
        cal.push(&f).unwrap();
    }
    let b = cal.finish().unwrap();
    // another device
    let intel = Simulator::new(
        Scenario::preset("empty", 1.0).unwrap(),
        DeviceProfile::intel5300(),
        1,
    )
    .unwrap();
    let mut a = SensingAnalyser::new(SensingConfig::default(), Some(b.clone())).unwrap();
    let frame = intel.into_iter().next().unwrap().0;
    let e = a.push(&frame, &mut Vec::new()).unwrap_err();
    assert!(matches!(e, SignalError::BaselineMismatch { .. }), "{e}");
    // esp32 frames from both sims say "simulator"; check layout and node set with edited frames
    let sim = Simulator::new(
        Scenario::preset("empty", 1.0).unwrap(),
        DeviceProfile::esp32(),
        1,
    )
    .unwrap();
    let mut f = sim.into_iter().next().unwrap().0;
    f.node_id = 9;
    let mut a = SensingAnalyser::new(SensingConfig::default(), Some(b.clone())).unwrap();
    let e = a.push(&f, &mut Vec::new()).unwrap_err().to_string();
    assert!(e.contains("node set") && e.contains("node 9"), "{e}");
    // another layout: the node keeps the baseline's; stray frames are skipped, and a node
    // with no frame in that layout is an error after the column probe's 20 frames
    f.node_id = 1;
    let good = f.clone();
    f.subcarriers = Some((0..64).collect());
    let mut a = SensingAnalyser::new(SensingConfig::default(), Some(b.clone())).unwrap();
    for _ in 0..19 {
        a.push(&f, &mut Vec::new()).unwrap();
    }
    let e = a.push(&f, &mut Vec::new()).unwrap_err().to_string();
    assert!(e.contains("subcarrier layout of node 1"), "{e}");
    // ... or at the end of a shorter stream
    let mut a = SensingAnalyser::new(SensingConfig::default(), Some(b.clone())).unwrap();
    for _ in 0..3 {
        a.push(&f, &mut Vec::new()).unwrap();
    }
    let e = Analyser::finish(&mut a, &mut Vec::new())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("CSI layout of node 1") && e.contains("none of its 3 frames"),
        "{e}"
    );
    // stray frames first, then the baseline's layout: analysed in it
    let mut a = SensingAnalyser::new(SensingConfig::default(), Some(b.clone())).unwrap();
    for _ in 0..5 {
        a.push(&f, &mut Vec::new()).unwrap();
    }
    let mut g = good.clone();
    for i in 0..30 {
        g.timestamp_ns = good.timestamp_ns + i * 20_000_000;
        a.push(&g, &mut Vec::new()).unwrap();
    }
    Analyser::finish(&mut a, &mut Vec::new()).unwrap();
    assert_eq!(a.stats().layout_changes, 5);
    // corrupt files name the field
    let text = b.to_json();
    for (from, to, field) in [
        ("\"version\": 1", "\"version\": 7", "version"),
        ("\"noise_sd\":", "\"noise_sdx\":", "nodes[0].noise_sd"),
        (
            "\"reference\": [",
            "\"reference\": [\"a\",",
            "nodes[0].reference",
        ),
    ] {
        let bad = text.replacen(from, to, 1);
        let e = Baseline::from_json_str(&bad, "b.json")
            .unwrap_err()
            .to_string();
        assert!(e.contains(field), "{field}: {e}");
    }
    assert!(Baseline::from_json_str("{", "b.json")
        .unwrap_err()
        .to_string()
        .contains("<file>"));
    // values out of their range are named too, not carried into a run
    for (key, value) in [
        ("noise_sd", -1.0),
        ("noise_sd", 1e6),
        ("motion_fraction", 5.0),
        ("frame_rate_hz", 0.0),
        ("duration_s", -3.0),
    ] {
        let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
        v["nodes"][0][key] = serde_json::json!(value);
        let e = Baseline::from_json_str(&v.to_string(), "b.json")
            .unwrap_err()
            .to_string();
        assert!(e.contains(&format!("nodes[0].{key}")), "{key} {value}: {e}");
    }
    // a shape that disagrees with the subcarrier list names both
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["nodes"][0]["shape"] = serde_json::json!([1, 1, 65]);
    let e = Baseline::from_json_str(&v.to_string(), "b.json")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("nodes[0].subcarriers") && e.contains("nodes[0].shape"),
        "{e}"
    );
}

/// Breathing estimates (rate, distinctness) of an Intel 5300 `breathe` session with the phase
/// features on, the CSI scaled by `scale`.
fn intel_vitals_with_phase(frames: &[CsiFrame], scale: f32) -> Vec<(f64, f64)> {
    let cfg = SensingConfig {
        vitals: Some(VitalsConfig {
            window_s: 20.0,
            min_window_s: 15.0,
            phase_features: true,
            ..VitalsConfig::default()
        }),
        ..SensingConfig::default()
    };
    let mut a = SensingAnalyser::new(cfg, None).unwrap();
    let mut out = Vec::new();
    for f in frames {
        let mut g = f.clone();
        g.csi.mapv_inplace(|c| c * scale);
        a.push(&g, &mut out).unwrap();
    }
    out.iter()
        .filter_map(|s| match s {
            Sensed::VitalSigns { value, .. } => Some((
                value.breathing.rate_per_min.unwrap_or(-1.0),
                value.breathing.distinctness.unwrap_or(-1.0),
            )),
            _ => None,
        })
        .collect()
}

#[test]
fn phase_features_are_scale_invariant_and_find_breathing() {
    let mut sc = Scenario::preset("breathe", 30.0).unwrap();
    sc.rate_hz = 20.0;
    let truth = sc.person.breathing.as_ref().unwrap().rate_bpm;
    let frames: Vec<CsiFrame> = Simulator::new(sc, DeviceProfile::intel5300(), 5)
        .unwrap()
        .map(|(f, _)| f)
        .collect();
    let base = intel_vitals_with_phase(&frames, 1.0);
    assert!(!base.is_empty());
    // a breathing estimate, and it is right
    let rates: Vec<f64> = base.iter().map(|r| r.0).filter(|r| *r > 0.0).collect();
    assert!(!rates.is_empty(), "{base:?}");
    for r in rates {
        assert!((r - truth).abs() <= 1.0, "{r} vs {truth}");
    }
    for scale in [0.01f32, 100.0] {
        let other = intel_vitals_with_phase(&frames, scale);
        assert_eq!(base.len(), other.len());
        for (a, b) in base.iter().zip(&other) {
            assert!((a.0 - b.0).abs() < 1e-3, "scale {scale}: {a:?} vs {b:?}");
            assert!(
                (a.1 - b.1).abs() <= 1e-3 * a.1.abs().max(1.0),
                "scale {scale}: {a:?} vs {b:?}"
            );
        }
    }
}

/// Frames in another CSI layout than the (common) one their node keeps are skipped, and said so
/// at the end.
#[test]
fn frames_of_another_layout_are_counted_and_reported() {
    use wifi_sensing_core::Analyser;
    use wifi_sensing_signal::stages::Notices;
    let sim = Simulator::new(
        Scenario::preset("still", 10.0).unwrap(),
        DeviceProfile::esp32(),
        7,
    )
    .unwrap();
    let notices = Notices::default();
    let mut a = SensingAnalyser::new(SensingConfig::default(), None)
        .unwrap()
        .with_notices(notices.clone());
    let mut out = Vec::new();
    let mut seen = 0u64;
    let mut narrow = 0u64;
    for (i, (f, _)) in sim.enumerate() {
        // every third frame of the node carries the first 32 subcarriers only
        let f = if i % 3 == 2 && i > 0 {
            narrow += 1;
            let (rx, tx, _) = f.shape();
            let csi = ndarray::Array3::from_shape_fn((rx, tx, 32), |i| f.csi[i]);
            let mut g = CsiFrame::new(CaptureFormat::Simulated, Device::Simulator, csi);
            g.timestamp_ns = f.timestamp_ns;
            g.node_id = f.node_id;
            g
        } else {
            f
        };
        seen += 1;
        a.analyse(&f, &mut out).unwrap();
    }
    assert_eq!(a.stats().layout_changes, narrow);
    assert!(notices.take().is_empty(), "reported before the end");
    a.finish(&mut out).unwrap();
    let said = notices.take();
    assert_eq!(said.len(), 1, "{said:?}");
    let node = a.stats(); // the counts are in the message too
    let want = format!("{} of {seen} frames skipped", node.layout_changes);
    assert!(said[0].contains(&want), "{said:?} lacks {want}");
    assert!(
        said[0].contains("also 1x1x32; analysed in 1x1x64"),
        "{said:?}"
    );
}

/// Each vital-sign record's time (s) and breathing reason, with the event detector on.
fn vital_reasons(sc: Scenario, seed: u64) -> Vec<(f64, Option<NoEstimate>)> {
    let sim = Simulator::new(sc, DeviceProfile::esp32(), seed).unwrap();
    let mut a = SensingAnalyser::new(SensingConfig::default(), None).unwrap();
    let mut out = Vec::new();
    for (f, _) in sim {
        a.push(&f, &mut out).unwrap();
    }
    out.iter()
        .filter_map(|s| match s {
            Sensed::VitalSigns { value, .. } => {
                Some((value.window_end_ns as f64 * 1e-9, value.breathing.reason))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn vital_signs_say_window_too_short_until_the_window_could_be_long_and_motion_after() {
    let min = VitalsConfig::default().min_window_s;
    // Sitting and breathing, with a short wave at 6 s (motion from about 6.1 to 8.3 s, long
    // enough to cut the window): the early records lack signal because the stream is young,
    // not because of the wave; after `min` s of stream they say motion while the wave's cut
    // leaves the window short.
    let fidget = Scenario::from_json_str(
        r#"{"name": "sit, a short wave at 6 s, sit", "duration_s": 40, "rate_hz": 50,
            "room": {"size_m": [6, 4.5, 2.6], "reflectors": []},
            "tx": {"position_m": [0.3, 2.0, 1.2]}, "rx": {"position_m": [5.7, 2.5, 1.2]},
            "person": {"height_m": 1.7, "breathing": {"rate_bpm": 14, "amplitude_mm": 5}},
            "timeline": [
              {"activity": "sit", "duration_s": 6, "position_m": [3, 2.2], "heading_deg": 90},
              {"activity": "gesture", "gesture": "wave", "duration_s": 1},
              {"activity": "sit", "duration_s": 33, "heading_deg": 90}],
            "impairments": {"snr_db": 25}}"#,
    )
    .unwrap();
    let quiet = Scenario::preset("breathe", 40.0).unwrap();
    for (name, sc) in [("fidget", fidget), ("breathe", quiet)] {
        let r = vital_reasons(sc, 7);
        let early: Vec<_> = r.iter().filter(|(t, _)| *t < min).collect();
        assert!(early.len() >= 3, "{name}: {r:?}");
        assert!(
            early
                .iter()
                .all(|(_, why)| *why == Some(NoEstimate::WindowTooShort)),
            "{name}: {r:?}"
        );
        if name == "fidget" {
            assert!(
                r.iter()
                    .any(|(t, why)| *t > min && *why == Some(NoEstimate::Motion)),
                "{name}: {r:?}"
            );
        }
    }
    // Walking all along: once the stream is `min` s old, every record says motion.
    let r = vital_reasons(Scenario::preset("walk", 40.0).unwrap(), 7);
    let late: Vec<_> = r.iter().filter(|(t, _)| *t > min).collect();
    assert!(late.len() >= 3, "walk: {r:?}");
    assert!(
        late.iter().all(|(_, why)| *why == Some(NoEstimate::Motion)),
        "walk: {r:?}"
    );
}

/// Runs a calibrator over a simulated session.
fn calibrate(preset: &str, secs: f64, rate: f64, profile: DeviceProfile, seed: u64) -> Calibrator {
    let mut sc = Scenario::preset(preset, secs).unwrap();
    sc.rate_hz = rate;
    let mut cal = Calibrator::new(&EventConfig::default()).unwrap();
    for (f, _) in Simulator::new(sc, profile, seed).unwrap() {
        cal.push(&f).unwrap();
    }
    cal
}

#[test]
fn calibration_refuses_short_and_occupied_captures_and_takes_empty_rooms() {
    // Empty rooms of 14 s (the minimum is 13 s at 20 Hz), on every device and at 20-100 Hz:
    // no activity seen.
    for (i, rate) in [20.0, 50.0, 100.0].into_iter().enumerate() {
        for (j, profile) in [
            DeviceProfile::esp32(),
            DeviceProfile::intel5300(),
            DeviceProfile::nexmon80(),
        ]
        .into_iter()
        .enumerate()
        {
            let seed = 40 + 3 * i as u64 + j as u64;
            let cal = calibrate("empty", 14.0, rate, profile, seed);
            let b = cal.finish();
            assert!(b.is_ok(), "{rate} Hz, profile {j}: {b:?}");
        }
    }
    // Too short: the node, its span and the minimum at its rate are named.
    let e = calibrate("empty", 10.0, 50.0, DeviceProfile::esp32(), 1)
        .finish()
        .unwrap_err();
    match &e {
        SignalError::CalibrationTooShort {
            node_id,
            have_s,
            need_s,
            ..
        } => {
            assert_eq!(*node_id, 1);
            assert!(*have_s < 10.1 && (need_s - 10.8).abs() < 0.05, "{e}");
        }
        other => panic!("{other}"),
    }
    // A walking person: motion from about the start; a breathing one: breathing, no motion.
    let cal = calibrate("walk", 20.0, 50.0, DeviceProfile::esp32(), 2);
    let seen = cal.activity();
    let motion = seen.iter().find(|a| a.statistic == "motion_ratio");
    assert!(
        motion.is_some_and(|m| m.first_s < 5.0 && m.peak > m.threshold),
        "{seen:?}"
    );
    let e = cal.finish().unwrap_err().to_string();
    assert!(e.contains("motion_ratio above its threshold 3.5"), "{e}");
    let cal = calibrate("breathe", 20.0, 50.0, DeviceProfile::esp32(), 3);
    let seen = cal.activity();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].statistic, "breathing_band_ratio");
    assert!(seen[0].peak > 4.0, "{seen:?}");
    // accepted on request, with what was seen
    let (b, seen) = cal.finish_accepting_activity().unwrap();
    assert_eq!(b.nodes.len(), 1);
    assert_eq!(seen.len(), 1);
}

/// Vital signs do not bridge a stretch without frames longer than 1 s: the window starts after
/// it, is too short until `min_window_s` of signal has come, and then estimates again; a
/// shorter gap stays inside the window. Every record's `window_s` is its end minus its start.
#[test]
fn vital_signs_restart_after_a_long_gap_and_bridge_a_short_one() {
    let cfg = SensingConfig {
        events: None,
        ..SensingConfig::default()
    };
    let records = |gap: (f64, f64)| {
        let frames: Vec<CsiFrame> = tone_frames(50.0, 15.0 / 60.0, 90.0, 1.0)
            .into_iter()
            .filter(|f| {
                let t = f.timestamp_ns as f64 * 1e-9;
                !(gap.0..gap.1).contains(&t)
            })
            .collect();
        let mut a = SensingAnalyser::new(cfg.clone(), None).unwrap();
        let mut out = Vec::new();
        for f in &frames {
            a.push(f, &mut out).unwrap();
        }
        out.into_iter()
            .filter_map(|s| match s {
                Sensed::VitalSigns { value, .. } => Some(value),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    let s = |ns: i64| ns as f64 * 1e-9;
    let long = records((40.0, 43.0));
    assert!(!long.is_empty());
    for v in &long {
        let span = s(v.window_end_ns) - s(v.window_start_ns);
        assert!((v.window_s - span).abs() < 1e-6, "{v:?}");
        let end = s(v.window_end_ns);
        if end > 43.0 && end < 62.0 {
            assert!(s(v.window_start_ns) >= 42.9, "{v:?}");
            assert_eq!(
                v.breathing.reason,
                Some(NoEstimate::WindowTooShort),
                "{v:?}"
            );
        }
        if end > 64.0 {
            assert!(s(v.window_start_ns) >= 42.9, "{v:?}");
            let r = v
                .breathing
                .rate_per_min
                .expect("an estimate 20 s after the gap");
            assert!((r - 15.0).abs() < 0.5, "{v:?}");
        }
    }
    assert!(long.iter().any(|v| s(v.window_end_ns) > 64.0));
    // half a second without frames: bridged, the window reaches back across it
    let short = records((40.0, 40.5));
    let after = short
        .iter()
        .find(|v| s(v.window_end_ns) > 45.0)
        .expect("a record after the short gap");
    assert!(s(after.window_start_ns) < 40.0, "{after:?}");
    assert!(after.breathing.rate_per_min.is_some(), "{after:?}");
}

/// A node whose first frames are strays of another layout is calibrated in its common layout,
/// as `run --events` analyses it, and the strays are reported.
#[test]
fn calibration_keeps_the_common_layout_and_reports_strays() {
    let frames: Vec<CsiFrame> = Simulator::new(
        Scenario::preset("empty", 14.0).unwrap(),
        DeviceProfile::esp32(),
        3,
    )
    .unwrap()
    .map(|(f, _)| f)
    .collect();
    let narrow = |f: &CsiFrame| {
        let mut g = f.clone();
        g.csi = ndarray::Array3::from_shape_fn((1, 1, 32), |(a, b, c)| f.csi[[a, b, c]]);
        g.subcarriers = f.subcarriers.as_ref().map(|v| v[..32].to_vec());
        g
    };
    let mut cal = Calibrator::new(&EventConfig::default()).unwrap();
    for (i, f) in frames.iter().enumerate() {
        // the first frame and two more are strays of a 32-subcarrier layout
        if i == 0 || i == 100 || i == 300 {
            cal.push(&narrow(f)).unwrap();
        } else {
            cal.push(f).unwrap();
        }
    }
    let skips = cal.layout_skips();
    assert_eq!(skips.len(), 1, "{skips:?}");
    let (node, skipped, seen, how) = &skips[0];
    assert_eq!((*node, *seen), (frames[0].node_id, frames.len() as u64));
    assert_eq!(
        *skipped, 4,
        "the first stray, the frame it had kept, and two more: {how}"
    );
    assert!(
        how.contains("also 1x1x32") && how.contains("analysed in 1x1x64"),
        "{how}"
    );
    let b = cal.finish().unwrap();
    assert_eq!(b.nodes[0].shape, [1, 1, 64]);
}

/// A person who sits down, stands up or turns every 4-14 s (`RandomSession` with sit and
/// stand only, ESP32, 50 Hz, 100 s): presence does not end after each change (the breathing
/// evidence after motion spans `breathing_min_s`, 8 s; over 3 s this session gave 6 false
/// `PresenceEnded`), and the vital-sign window restarts after each change's motion run instead
/// of mixing the breath before and after it (before: 6 breathing estimates, all 2.5-5.2 /min
/// off the true 16.5, at confidence up to 0.86). MEASUREMENTS.md, "Posture changes", has the figures over 20 seeds.
#[test]
fn posture_changes_keep_presence_and_restart_the_vital_sign_window() {
    use wifi_sensing_core::sim::{ActivityMix, RandomSession};
    let mut rs = RandomSession::new(101, 100.0);
    rs.activities = ActivityMix {
        sit: 1.0,
        stand: 1.0,
        ..ActivityMix::NONE
    };
    let sim = Simulator::new(rs.scenario().unwrap(), DeviceProfile::esp32(), 101).unwrap();
    let cfg = SensingConfig {
        vitals: Some(VitalsConfig::default()),
        ..SensingConfig::default()
    };
    let mut a = SensingAnalyser::new(cfg, None).unwrap();
    let (mut out, mut all) = (Vec::new(), Vec::new());
    for (f, _) in sim {
        out.clear();
        a.push(&f, &mut out).unwrap();
        all.append(&mut out);
    }
    assert!(count(&all, EventKind::MotionStarted) >= 10);
    assert_eq!(count(&all, EventKind::PresenceStarted), 1);
    assert_eq!(count(&all, EventKind::PresenceEnded), 0);
    let vitals: Vec<_> = all
        .iter()
        .filter_map(|s| match s {
            Sensed::VitalSigns { value, .. } => Some(value),
            _ => None,
        })
        .collect();
    let motion = vitals
        .iter()
        .filter(|v| v.breathing.reason == Some(NoEstimate::Motion))
        .count();
    let given = vitals
        .iter()
        .filter(|v| v.breathing.rate_per_min.is_some())
        .count();
    assert!(
        motion >= 8,
        "{motion} of {} refused as motion",
        vitals.len()
    );
    assert!(given <= 1, "{given} breathing estimates");
}

/// Seconds from the person's leaving (the first absent truth frame after a present one) to
/// the node's `PresenceEnded`, in a `mixed` session (the person walks out and the room stays
/// empty for the last 5 %), with the room's reference taken in the warm-up; `None` when
/// presence never ended after the person left.
fn walk_out_delay(cfg: EventConfig, profile: DeviceProfile, secs: f64, seed: u64) -> Option<f64> {
    let sc = Scenario::preset("mixed", secs).unwrap();
    let sim = Simulator::new(sc, profile, seed).unwrap();
    let cfg = SensingConfig {
        events: Some(cfg),
        vitals: None,
        ..SensingConfig::default()
    };
    let mut a = SensingAnalyser::new(cfg, None).unwrap();
    let mut out = Vec::new();
    let (mut was_present, mut left_ns) = (false, None);
    for (f, t) in sim {
        out.clear();
        a.push(&f, &mut out).unwrap();
        if was_present && !t.presence && left_ns.is_none() {
            left_ns = Some(t.timestamp_ns);
        }
        was_present = t.presence;
        if let Some(l) = left_ns {
            for s in &out {
                if let Sensed::Event(e) = s {
                    if e.event == EventKind::PresenceEnded && e.node_id.is_some() {
                        return Some((e.timestamp_ns - l) as f64 * 1e-9);
                    }
                }
            }
        }
    }
    None
}

#[test]
fn a_person_who_walks_out_is_absent_within_seconds() {
    // 200 s: the empty tail after the walk-out is 10 s, longer than absence takes either way
    for seed in [31, 32] {
        let off_cfg = EventConfig {
            absence_quick_match: 0.0,
            ..EventConfig::default()
        };
        let intel = DeviceProfile::intel5300;
        let quick = walk_out_delay(EventConfig::default(), intel(), 200.0, seed);
        let off = walk_out_delay(off_cfg.clone(), intel(), 200.0, seed);
        // measured 3.4-3.5 s with the quick absence, 9.7-9.8 s without it
        println!("seed {seed}: PresenceEnded {quick:?} s after leaving, {off:?} s without the quick absence");
        assert!(quick.is_some_and(|d| d < 4.5), "seed {seed}: {quick:?}");
        assert!(
            off.is_some_and(|d| d > quick.unwrap_or(0.0) + 3.0),
            "seed {seed}: {off:?} against {quick:?}"
        );
        // ESP32 (52 shape values, under `absence_quick_min_values`) waits as before
        let esp = DeviceProfile::esp32;
        assert_eq!(
            walk_out_delay(EventConfig::default(), esp(), 200.0, seed),
            walk_out_delay(off_cfg, esp(), 200.0, seed),
            "seed {seed}"
        );
    }
}
