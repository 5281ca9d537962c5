//! The sensing accuracy figures of the README, pinned as thresholds (protocol in
//! `tests/common/eval.rs`; the full tables come from the `sensing_eval` example over more seeds).
//! Seeds here are not the ones the thresholds were chosen on.

mod common;

use common::drift::empty_room_with_drift;
use common::eval::{anchor_session, median, run, score, vitals_window, Counts, Spec};

// Thresholds: the figures measured on these seeds, rounded down (see the README tables for
// the same protocol over more seeds).
const THRESH_EMPTY_FPR: f64 = 0.0; // measured 0 false frames of 23 746
const THRESH_MOVE_PRESENCE_F1: f64 = 0.98; // measured 0.986
const THRESH_MOVE_MOTION_F1: f64 = 0.98; // measured 0.990
const THRESH_BREATHE_RECALL: f64 = 0.80; // measured 0.833
const THRESH_STILL_BASELINE_F1: f64 = 0.99; // measured 1.000
const THRESH_MIXED_PRESENCE_F1: f64 = 0.96; // measured 0.975 (0.974 before the quick absence)
const THRESH_MIXED_MOTION_F1: f64 = 0.89; // measured 0.907
const THRESH_BREATH_WITHIN_INTEL: f64 = 0.83; // measured 6/6
const THRESH_BREATH_WITHIN_ESP32: f64 = 0.33; // measured 3/6 (3 refused, none wrong)

fn pooled(
    preset: &'static str,
    secs: f64,
    seeds: &[u64],
    f: impl Fn(&mut Spec),
) -> (Counts, Counts, Vec<f64>) {
    let mut p = Counts::default();
    let mut m = Counts::default();
    let mut onsets = Vec::new();
    for &seed in seeds {
        let mut spec = Spec::new(preset, secs, seed);
        f(&mut spec);
        let o = run(&spec);
        p.merge(&o.presence);
        m.merge(&o.motion);
        onsets.extend(o.onsets_s);
    }
    (p, m, onsets)
}

const ESP_AND_INTEL: [bool; 2] = [false, true];

/// Presence and motion counts of 60 s empty rooms on both devices (AGC steps, drops, int8
/// quantisation), at the default SNR or `snr_db`.
fn empty_rooms(seeds: &[u64], snr_db: Option<f64>) -> (Counts, Counts) {
    let mut p = Counts::default();
    let mut m = Counts::default();
    for intel in ESP_AND_INTEL {
        let (pp, mm, _) = pooled("empty", 60.0, seeds, |s| {
            s.intel = intel;
            s.snr_db = snr_db.or(s.snr_db);
        });
        p.merge(&pp);
        m.merge(&mm);
    }
    (p, m)
}

#[test]
fn empty_rooms_stay_empty() {
    // 2 devices x 2 seeds x 60 s of an empty room
    let (p, m) = empty_rooms(&[201, 202], None);
    println!("empty: presence {p:?}, motion {m:?}");
    assert_eq!(m.fp, 0, "false motion frames: {m:?}");
    assert!(
        p.fpr().unwrap() <= THRESH_EMPTY_FPR,
        "false presence: {p:?}"
    );
}

#[test]
#[ignore = "slow in a debug build (minutes of simulated sessions); CI runs it with --include-ignored"]
fn walking_and_waving_are_motion() {
    let mut p = Counts::default();
    let mut m = Counts::default();
    for intel in ESP_AND_INTEL {
        for preset in ["walk", "gesture:wave"] {
            let (pp, mm, _) = pooled(preset, 60.0, &[211, 212], |s| s.intel = intel);
            println!(
                "{preset} intel={intel}: presence F1 {:?}, motion F1 {:?}",
                pp.f1(),
                mm.f1()
            );
            p.merge(&pp);
            m.merge(&mm);
        }
    }
    println!(
        "walk + wave: presence {p:?} F1 {:?}; motion {m:?} F1 {:?}",
        p.f1(),
        m.f1()
    );
    assert!(p.f1().unwrap() >= THRESH_MOVE_PRESENCE_F1, "{p:?}");
    assert!(m.f1().unwrap() >= THRESH_MOVE_MOTION_F1, "{m:?}");
}

#[test]
#[ignore = "slow in a debug build (minutes of simulated sessions); CI runs it with --include-ignored"]
fn breathing_person_is_present_and_still() {
    let mut p = Counts::default();
    let mut m = Counts::default();
    for intel in ESP_AND_INTEL {
        let (pp, mm, _) = pooled("breathe", 60.0, &[221, 222, 223], |s| s.intel = intel);
        p.merge(&pp);
        m.merge(&mm);
    }
    println!(
        "breathe: presence {p:?} recall {:?}; motion {m:?}",
        p.recall()
    );
    assert_eq!(m.fp, 0, "a sitting, breathing person is not motion: {m:?}");
    assert!(p.recall().unwrap() >= THRESH_BREATHE_RECALL, "{p:?}");
}

#[test]
#[ignore = "slow in a debug build (minutes of simulated sessions); CI runs it with --include-ignored"]
fn motionless_person_with_an_empty_room_baseline() {
    // neither moving nor breathing: only the static path against an explicit baseline sees it
    let (p, _, _) = pooled("still", 40.0, &[231, 232], |s| {
        s.intel = true;
        s.baseline = true;
    });
    println!(
        "still (Intel 5300, baseline): presence {p:?} F1 {:?}",
        p.f1()
    );
    assert!(p.f1().unwrap() >= THRESH_STILL_BASELINE_F1, "{p:?}");
}

#[test]
#[ignore = "slow in a debug build (minutes of simulated sessions); CI runs it with --include-ignored"]
fn mixed_sessions_and_onset_delay() {
    let mut p = Counts::default();
    let mut m = Counts::default();
    let mut onsets = Vec::new();
    for intel in ESP_AND_INTEL {
        let (pp, mm, o) = pooled("mixed", 120.0, &[241, 242], |s| s.intel = intel);
        p.merge(&pp);
        m.merge(&mm);
        onsets.extend(o);
    }
    let med = median(&onsets).unwrap();
    println!(
        "mixed: presence F1 {:?} (always-present {:?}), motion F1 {:?} (always-moving {:?}); onsets {onsets:.2?} median {med:.3} s",
        p.f1(),
        p.f1_always(),
        m.f1(),
        m.f1_always()
    );
    assert!(p.f1().unwrap() >= THRESH_MIXED_PRESENCE_F1, "{p:?}");
    assert!(m.f1().unwrap() >= THRESH_MIXED_MOTION_F1, "{m:?}");
    assert!(p.f1().unwrap() > p.f1_always().unwrap());
    assert!(med <= 0.5, "median MotionStarted onset delay {med} s");
}

#[test]
#[ignore = "slow in a debug build (2 simulated hours, ~360k frames); CI runs it"]
fn two_empty_hours_with_drift_and_agc_steps() {
    let r = empty_room_with_drift(2.0, 50.0, 7);
    println!("{r}");
    assert!(r.agc_steps > 100, "{r}");
    // The target: 0 false presence events. Measured 0 PresenceStarted, 0
    // MotionStarted, 0 false frames (before the level's half-window rule: 2 + 2 and 418 false
    // presence frames, from the noisy mean of the few level frames left next to a gain step).
    assert_eq!(r.presence_started, 0, "{r}");
    assert_eq!(r.motion_started, 0, "{r}");
    assert_eq!(r.false_presence_frames, 0, "{r}");
    assert_eq!(r.false_motion_frames, 0, "{r}");
}

#[test]
#[ignore = "slow in a debug build (4 simulated minutes); CI runs it with --include-ignored"]
fn empty_rooms_at_snr_20_db_have_no_gain_step_motion() {
    // At SNR 20 dB a 1 dB AGC step is about 8 noise standard deviations of the level: below
    // the 10-sigma step test, it used to be read as a short motion (208 false MotionStarted in
    // 20 ESP32 empty rooms of 120 s, `sensing_eval -- vitals-empty 3000 20`). The common-step
    // test (the shape did not move) removes it.
    let (p, m) = empty_rooms(&[251, 252], Some(20.0));
    println!("empty at SNR 20 dB: presence {p:?}, motion {m:?}");
    assert_eq!(m.fp, 0, "false motion frames: {m:?}");
    assert_eq!(p.fp, 0, "false presence frames: {p:?}");
}

#[test]
#[ignore = "slow in a debug build (minutes of simulated sessions); CI runs it with --include-ignored"]
fn breathing_rate_at_snr_20_db() {
    // 60 s windows, SNR 20 dB, 8-30 /min drawn per window, at 20, 50 and 100 Hz
    for intel in ESP_AND_INTEL {
        let mut within = 0;
        let mut n = 0;
        let mut others = Vec::new();
        for rate in [20.0, 50.0, 100.0] {
            for s in 0..2u64 {
                let seed = 900 + s + rate as u64;
                let br = common::eval::draw(seed, 1, 8.0, 30.0);
                let hr = common::eval::draw(seed, 2, 50.0, 120.0);
                let w = vitals_window(rate, 20.0, intel, br, hr, 60.0, seed);
                n += 1;
                match w.breath {
                    Some(b) if (b - br).abs() <= 1.0 => within += 1,
                    Some(b) => panic!("intel={intel} {rate} Hz: estimate {b} vs truth {br}"),
                    None => others.push((rate, br, w.breath_reason.clone())),
                }
                // heart: an estimate, when given, is right
                if let Some(h) = w.heart {
                    assert!((h - hr).abs() <= 3.0, "heart {h} vs {hr}");
                }
            }
        }
        println!("intel={intel}: breathing within 1/min {within}/{n}; refused {others:?}");
        let need = if intel {
            THRESH_BREATH_WITHIN_INTEL
        } else {
            THRESH_BREATH_WITHIN_ESP32
        };
        assert!(within as f64 / n as f64 >= need, "{within}/{n}: {others:?}");
    }
}

// Random sessions (a person sitting or standing still at a random place, heading and height;
// odd seeds in a random room), 60 s windows at 50 Hz, SNR 20 dB. Pinned from the measurement
// on these seeds, rounded down (README: the same protocol over held-out seeds).
const THRESH_RANDOM_BREATH_ACC: [f64; 2] = [0.99, 0.99]; // ESP32, Intel 5300: measured 3/3, 4/4
const THRESH_RANDOM_BREATH_COVER: [f64; 2] = [0.33, 0.5]; // measured 3/6, 4/6
const THRESH_RANDOM_HEART_ACC: [f64; 2] = [0.99, 0.99]; // no heart estimate on these seeds: any given must be right

#[test]
#[ignore = "slow in a debug build (12 simulated minutes); CI runs it with --include-ignored"]
fn vital_signs_on_random_sessions() {
    use common::eval::{vitals_config, vitals_random, RateScore};
    for (d, intel) in ESP_AND_INTEL.into_iter().enumerate() {
        let mut b = Vec::new();
        let mut h = Vec::new();
        for seed in 950..956u64 {
            let w = vitals_random(
                seed,
                intel,
                50.0,
                20.0,
                seed % 2 == 1,
                60.0,
                vitals_config(),
            );
            println!("intel={intel} seed {seed}: {w:?}");
            b.push((w.breath_truth, w.breath));
            h.push((w.heart_truth, w.heart));
            // a heart estimate only with a breathing estimate (it rides on its component)
            assert!(w.heart.is_none() || w.breath.is_some(), "{w:?}");
        }
        let sb = RateScore::of(&b, 1.0, [6.0, 40.0]);
        let sh = RateScore::of(&h, 5.0, [45.0, 150.0]);
        println!(
            "intel={intel}: breathing coverage {:.2} accuracy {:?}; heart coverage {:.2} accuracy {:?}",
            sb.coverage(),
            sb.accuracy(),
            sh.coverage(),
            sh.accuracy()
        );
        assert!(
            sb.accuracy().unwrap_or(1.0) >= THRESH_RANDOM_BREATH_ACC[d],
            "{sb:?}"
        );
        assert!(sb.coverage() >= THRESH_RANDOM_BREATH_COVER[d], "{sb:?}");
        assert!(
            sh.accuracy().unwrap_or(1.0) >= THRESH_RANDOM_HEART_ACC[d],
            "{sh:?}"
        );
    }
}

/// The breathing-gap summary of `sensing_eval -- gap` sorts windows by what the estimator did
/// at the threshold and by whether the oracle puts the breath within reach.
#[test]
fn gap_summary_sorts_windows() {
    use common::eval::{GapSummary, GapWindow};
    let w = |truth: f64, peak: Option<f64>, distinct: Option<f64>, oracle_db: f64| GapWindow {
        truth,
        peak,
        distinct,
        oracle_db,
    };
    let set = [
        w(12.0, Some(12.3), Some(45.0), 20.0), // given, right, reachable
        w(12.0, Some(7.0), Some(35.0), 5.0),   // given, wrong
        w(20.0, Some(20.4), Some(18.0), 15.0), // refused, right peak, reachable
        w(20.0, Some(20.4), Some(18.0), 9.0),  // refused, right peak, out of reach
        w(25.0, Some(8.0), Some(12.0), 14.0),  // refused, peak elsewhere, reachable
        w(25.0, None, None, 30.0),             // no full window, reachable
    ];
    let s = GapSummary::of(&set, 30.0, 13.0);
    assert_eq!(
        s,
        GapSummary {
            windows: 6,
            reachable: 4,
            given_right: 1,
            given_wrong: 1,
            refused_right_peak: 2,
            refused_other: 2,
            reachable_refused_right_peak: 1,
            reachable_refused_other: 2,
        }
    );
    // a lower threshold gives the refused right peaks
    let low = GapSummary::of(&set, 15.0, 13.0);
    assert_eq!((low.given_right, low.refused_right_peak), (3, 0));
}

// The smooth basis (`VitalsConfig::smooth_basis`) on ESP32 random sessions of the development
// set (seeds 1030-1039, 50 Hz, SNR 20 dB): measured 6/10 windows within 1 /min without it and
// 8/10 with it, no wrong estimate either way (README: held-out seeds).
const THRESH_SMOOTH_GAIN: usize = 2;

#[test]
#[ignore = "slow in a debug build (20 simulated minutes); CI runs it with --include-ignored"]
fn smooth_basis_adds_esp32_breathing_windows() {
    use common::eval::vitals_random;
    use wifi_sensing_signal::vitals::VitalsConfig;
    let within = |smooth_basis: usize| {
        let mut n = 0;
        for seed in 1030..1040u64 {
            let cfg = VitalsConfig {
                smooth_basis,
                ..VitalsConfig::default()
            };
            let w = vitals_random(seed, false, 50.0, 20.0, seed % 2 == 1, 60.0, cfg);
            if let Some(b) = w.breath {
                assert!(
                    (b - w.breath_truth).abs() <= 1.0,
                    "smooth_basis {smooth_basis} seed {seed}: {w:?}"
                );
                n += 1;
            }
        }
        n
    };
    let (without, with) = (within(0), within(4));
    println!("ESP32 breathing within 1/min: {without}/10 without the smooth basis, {with}/10 with");
    assert!(with >= without + THRESH_SMOOTH_GAIN, "{without} -> {with}");
}

/// The keypoint definition of motion (`eval::PhysicalMotion`, the README's "motion F1
/// (keypoints)" column): a wave is motion in nearly every frame of its segment, breathing never
/// is, and a push's holds are not motion although its activity segment is.
#[test]
#[ignore = "slow in a debug build (simulated sessions); CI runs it with --include-ignored"]
fn keypoint_motion_follows_the_body() {
    use common::eval::PhysicalMotion;
    use wifi_sensing_core::sim::{MotionState, Simulator};
    // frames inside the activity's motion segment, and how many of them the keypoints call moving
    let count = |preset: &'static str| {
        let spec = Spec::new(preset, 20.0, 301);
        let sc = spec.scenario(preset, 20.0);
        let room = sc.room.size_m;
        let mut phys = PhysicalMotion::default();
        let (mut seg, mut both, mut outside) = (0u32, 0u32, 0u32);
        for (_, t) in Simulator::new(sc, spec.profile(), spec.seed).expect("sim") {
            let m = phys.push(&t, room);
            if t.motion == MotionState::Moving {
                seg += 1;
                both += u32::from(m);
            } else {
                outside += u32::from(m);
            }
        }
        (seg, both, outside)
    };
    let (seg, both, outside) = count("breathe");
    assert_eq!(
        (seg, both, outside),
        (0, 0, 0),
        "breathing moves no keypoint"
    );
    let (seg, both, _) = count("gesture:wave");
    assert!(
        seg > 0 && f64::from(both) > 0.95 * f64::from(seg),
        "wave: {both} of {seg}"
    );
    let (seg, both, _) = count("gesture:push");
    assert!(
        f64::from(both) < 0.95 * f64::from(seg) && f64::from(both) > 0.6 * f64::from(seg),
        "push holds: {both} of {seg}"
    );
}

/// The ESP32 anchor's protocol (10 s quiet room, then 10 s of a person walking; every frame
/// scored from the first, at 100 Hz, automatic calibration): no false motion frame, F1 at least
/// 0.97 and the motion reported a median 0.5 s or less after it starts, on both devices. Measured
/// (`sensing_eval -- anchor 10`, seeds 1-10): ESP32 F1 0.987, Intel 5300 0.993, no false frame,
/// median onset delay 0.28 and 0.10 s.
#[test]
#[ignore = "slow in a debug build (simulated sessions at 100 Hz); CI runs it with --include-ignored"]
fn anchor_protocol_quiet_then_walking() {
    use wifi_sensing_core::sim::Simulator;
    for intel in [false, true] {
        let mut c = Counts::default();
        let mut onsets = Vec::new();
        let mut missed = 0;
        for seed in 1..=5 {
            let (sc, profile) = anchor_session(seed, intel, "empty", "walk", 100.0);
            let room = sc.room.size_m;
            let o = score(Simulator::new(sc, profile, seed).unwrap(), None, 0.0, room);
            c.merge(&o.motion);
            onsets.extend(o.onsets_s.iter().copied());
            missed += o.missed_onsets;
        }
        let f1 = c.f1().unwrap();
        let delay = median(&onsets).unwrap();
        assert_eq!(c.fp, 0, "intel {intel}: {c:?}");
        assert!(f1 >= 0.97, "intel {intel}: F1 {f1} {c:?}");
        assert_eq!(missed, 0, "intel {intel}");
        assert!(delay <= 0.5, "intel {intel}: median onset delay {delay} s");
    }
}
