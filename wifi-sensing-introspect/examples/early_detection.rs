//! Early detection measured on simulated sessions with known onsets.
//!
//! ```text
//! cargo run --release -p wifi-sensing-introspect --example early_detection [-- --sessions N --seed S]
//! ```
//!
//! 1. Signatures: for each activity (walk, wave, push, sit), one session of its own seed where a
//!    person stands still for 4 s and then starts the activity; the signature is the first
//!    64 frames (1.28 s at 50 Hz) from the true onset. Its thresholds come from sessions of the
//!    *other* activities (and a still person), as `signature capture --background` does.
//! 2. Test sessions (other seeds, never used for signatures or thresholds): random sequences of
//!    segments (stand, walk, wave, push, sit; 3 to 6 s each) in the same room, so every onset
//!    happens at a known time inside other activity, with the simulator's noise and
//!    impairments.
//! 3. For every onset of an activity that has a signature: frames from the true onset until
//!    that signature's `above_threshold` first turns true (within the activity), and which
//!    signature fired first after the onset. A firing (rising edge) of a signature outside its
//!    activity (from its onset to 64 frames after its end) is a false firing; the rate is per
//!    hour of non-matching data for that signature.
//!
//! Prints the figures; the crate README records a run.

use wifi_sensing_core::sim::body::Activity;
use wifi_sensing_core::sim::{DeviceProfile, Scenario, Simulator};
use wifi_sensing_introspect::capture::{capture, CaptureSpec};
use wifi_sensing_introspect::features::FeatureConfig;
use wifi_sensing_introspect::signature::{Signature, SignatureLibrary, ThresholdRule};
use wifi_sensing_introspect::snapshot::{IntrospectionAnalyser, IntrospectionConfig};

const RATE: f64 = 50.0;
const SIG_FRAMES: f64 = 64.0;
const SPOT: &str = "[2.5, 1.3]";

fn segment(act: &str, dur: f64) -> String {
    match act {
        "stand" => format!(
            r#"{{"activity": "stand", "duration_s": {dur}, "position_m": {SPOT}, "heading_deg": 90}}"#
        ),
        "sit" => format!(
            r#"{{"activity": "sit", "duration_s": {dur}, "position_m": {SPOT}, "heading_deg": 90}}"#
        ),
        "walk" => format!(
            r#"{{"activity": "walk", "path_m": [{SPOT}, [1.0, 0.8], {SPOT}], "duration_s": {dur}}}"#
        ),
        g => format!(
            r#"{{"activity": "gesture", "gesture": "{g}", "duration_s": {dur}, "position_m": {SPOT}, "heading_deg": 90}}"#
        ),
    }
}

fn scenario(segments: &[(&str, f64)]) -> Scenario {
    let tl: Vec<String> = segments.iter().map(|(a, d)| segment(a, *d)).collect();
    let total: f64 = segments.iter().map(|s| s.1).sum();
    let doc = format!(
        r#"{{"name": "early-detection", "duration_s": {total}, "rate_hz": {RATE}, "timeline": [{}]}}"#,
        tl.join(", ")
    );
    Scenario::from_json_str(&doc).expect("scenario")
}

fn frames(
    s: Scenario,
    seed: u64,
) -> impl Iterator<Item = wifi_sensing_core::Result<wifi_sensing_core::CsiFrame>> {
    Simulator::new(s, DeviceProfile::esp32(), seed)
        .expect("sim")
        .frames()
}

fn activity_of(name: &str) -> Activity {
    match name {
        "walk" => Activity::Walk,
        "wave" => Activity::Wave,
        "push" => Activity::Push,
        "sit" => Activity::Sit,
        _ => Activity::Stand,
    }
}

/// A tiny deterministic generator for the session plans.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str, default: u64| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let sessions = arg("--sessions", 60);
    let kind: wifi_sensing_introspect::features::FeatureKind = args
        .iter()
        .position(|a| a == "--kind")
        .and_then(|i| args.get(i + 1))
        .map_or(Ok(Default::default()), |k| k.parse())
        .expect("--kind");
    let margin: f64 = args
        .iter()
        .position(|a| a == "--margin")
        .and_then(|i| args.get(i + 1))
        .map_or(0.5, |m| m.parse().expect("--margin"));
    let fcfg = FeatureConfig {
        kind,
        ..FeatureConfig::default()
    };
    let seed0 = arg("--seed", 1000);
    let labels = ["walk", "wave", "push", "sit"];
    let duration = SIG_FRAMES / RATE;

    // 1. Signatures.
    let mut sigs: Vec<Signature> = Vec::new();
    for (k, &label) in labels.iter().enumerate() {
        let own = scenario(&[("stand", 4.0), (label, 6.0)]);
        let backgrounds: Vec<_> = labels
            .iter()
            .filter(|&&o| o != label)
            .chain(std::iter::once(&"stand"))
            .enumerate()
            .map(|(j, &o)| {
                frames(
                    scenario(&[("stand", 4.0), (o, 10.0)]),
                    100 + 10 * k as u64 + j as u64,
                )
            })
            .collect();
        let spec = CaptureSpec {
            id: label.to_string(),
            label: label.to_string(),
            captured_at: "2026-12-05T15:00:00Z".into(),
            start_s: 4.0,
            duration_s: duration - 0.5 / RATE,
            node_id: None,
            features: fcfg.clone(),
            window: None,
            rule: ThresholdRule {
                margin,
                ..ThresholdRule::default()
            },
            input_name: Some(format!("{label} session")),
            input_background: false,
        };
        let sig = capture(frames(own, 1 + k as u64), backgrounds, &spec).expect("capture");
        eprintln!(
            "signature {label}: {} frames, promotion threshold {:.4}, min prefix {:?}, first enabled prefix {:?}",
            sig.length,
            sig.promotion_threshold,
            sig.min_prefix,
            sig.prefix_thresholds.as_ref().and_then(|t| t.iter().position(Option::is_some)).map(|i| i + 1)
        );
        sigs.push(sig);
    }
    let lib = SignatureLibrary::from_signatures(sigs, Vec::new()).expect("library");

    // 2.-3. Test sessions.
    let mut rng = Lcg(seed0);
    let acts = ["stand", "walk", "wave", "push", "sit"];
    let mut latency: Vec<Vec<i64>> = vec![Vec::new(); labels.len()];
    let mut missed = vec![0usize; labels.len()];
    let mut right_first = 0usize;
    let mut onsets = 0usize;
    let mut false_firings = vec![0usize; labels.len()];
    let mut nonmatch_frames = vec![0u64; labels.len()];
    let mut total_frames = 0u64;
    for s in 0..sessions {
        let mut plan: Vec<(&str, f64)> = vec![("stand", 3.0)];
        let mut prev = "stand";
        while plan.iter().map(|p| p.1).sum::<f64>() < 60.0 {
            let mut a = acts[(rng.next() % acts.len() as u64) as usize];
            while a == prev {
                a = acts[(rng.next() % acts.len() as u64) as usize];
            }
            let d = 3.0 + (rng.next() % 31) as f64 / 10.0;
            plan.push((a, d));
            prev = a;
        }
        let mut an = IntrospectionAnalyser::new(
            IntrospectionConfig {
                top_k: labels.len(),
                features: fcfg.clone(),
                ..IntrospectionConfig::default()
            },
            lib.clone(),
        )
        .expect("analyser");
        let sim =
            Simulator::new(scenario(&plan), DeviceProfile::esp32(), seed0 + 7 * s).expect("sim");
        let mut was_above = vec![false; labels.len()];
        // Per activity occurrence: (label index, onset frame, end frame, first firing of own sig, first sig fired).
        let mut open: Option<(usize, u64, Option<u64>, Option<usize>)> = None;
        let mut guard_until = vec![0u64; labels.len()];
        let mut frame_no = 0u64;
        let mut last_activity = Activity::Stand;
        let finish = |open: &mut Option<(usize, u64, Option<u64>, Option<usize>)>,
                      latency: &mut Vec<Vec<i64>>,
                      missed: &mut Vec<usize>,
                      right_first: &mut usize,
                      onsets: &mut usize| {
            if let Some((li, onset, fired, first)) = open.take() {
                *onsets += 1;
                match fired {
                    Some(f) => latency[li].push((f - onset) as i64),
                    None => missed[li] += 1,
                }
                if first == Some(li) {
                    *right_first += 1;
                }
            }
        };
        for (frame, truth) in sim {
            let snap = an.push(&frame).expect("push").expect("snapshot");
            if truth.activity != last_activity {
                finish(
                    &mut open,
                    &mut latency,
                    &mut missed,
                    &mut right_first,
                    &mut onsets,
                );
                if let Some(li) = labels.iter().position(|&l| activity_of(l) == last_activity) {
                    guard_until[li] = frame_no + SIG_FRAMES as u64;
                }
                if let Some(li) = labels
                    .iter()
                    .position(|&l| activity_of(l) == truth.activity)
                {
                    open = Some((li, frame_no, None, None));
                }
                last_activity = truth.activity;
            }
            let in_act: Vec<bool> = labels
                .iter()
                .map(|&l| activity_of(l) == truth.activity)
                .collect();
            for e in &snap.top_k_similarity {
                let li = labels.iter().position(|&l| l == &*e.label).expect("label");
                let rising = e.above_threshold && !was_above[li];
                was_above[li] = e.above_threshold;
                if rising {
                    if let Some(o) = open.as_mut() {
                        if o.3.is_none() {
                            o.3 = Some(li);
                        }
                        if o.0 == li && o.2.is_none() {
                            o.2 = Some(frame_no);
                        }
                    }
                    if !in_act[li] && frame_no >= guard_until[li] {
                        false_firings[li] += 1;
                    }
                }
            }
            for li in 0..labels.len() {
                if !in_act[li] && frame_no >= guard_until[li] {
                    nonmatch_frames[li] += 1;
                }
            }
            frame_no += 1;
        }
        finish(
            &mut open,
            &mut latency,
            &mut missed,
            &mut right_first,
            &mut onsets,
        );
        total_frames += frame_no;
    }
    println!(
        "sessions: {sessions}, frames: {total_frames} ({:.2} h at {RATE} Hz), onsets with a signature: {onsets}",
        total_frames as f64 / RATE / 3600.0
    );
    let mut all: Vec<i64> = Vec::new();
    for (li, l) in labels.iter().enumerate() {
        let mut v = latency[li].clone();
        v.sort_unstable();
        all.extend(&v);
        let med = v.get(v.len() / 2).copied();
        let p90 = v.get((v.len() * 9) / 10).copied();
        let hours = nonmatch_frames[li] as f64 / RATE / 3600.0;
        println!(
            "{l:>5}: detected {}/{} onsets, latency frames median {:?} p90 {:?}, false firings {} in {:.2} h of non-matching data ({:.1}/h)",
            v.len(),
            v.len() + missed[li],
            med,
            p90,
            false_firings[li],
            hours,
            false_firings[li] as f64 / hours.max(1e-9)
        );
    }
    all.sort_unstable();
    println!(
        "all: median latency {:?} frames; right label first in {right_first}/{onsets} onsets ({:.1}%)",
        all.get(all.len() / 2),
        100.0 * right_first as f64 / onsets.max(1) as f64
    );
}
