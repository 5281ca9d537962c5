//! Early detection measured on simulated sessions with known onsets, side by side with the
//! windowed event path (`MotionStarted` of `wifi-sensing-signal`) on the same frames.
//!
//! ```text
//! cargo run --release -p wifi-sensing-introspect --example early_detection -- \
//!     [--sessions N] [--idle-sessions N] [--seed S] [--kind KIND] [--margin M] [--min-prefix K] [--bg-sessions N]
//! ```
//!
//! Protocol (ESP32 profile, 50 Hz, the simulator's default room, noise and impairments):
//!
//! 1. **Signatures**: for each activity (walk, wave, push, sit-down), one session of its own
//!    seed (1..=4) with a 1.75 m person at (2.5, 1.3) standing still for 12 s and then starting
//!    the activity; the signature is the first 64 frames (1.28 s) from the true onset. Its
//!    thresholds (rule: `--margin` × the lowest background cost per prefix length, shortest
//!    prefix `--min-prefix`, as `signature capture --background` does) come from
//!    `--bg-sessions` (default 8) sessions like the test sessions below but without this
//!    activity, plus half as many idle sessions (empty room, a person standing), at random
//!    spots, on seeds of their own (200.., 250..): about 0.23 h of non-matching data.
//! 2. **Test sessions** (seeds `S + 7 s`, never used for signatures or thresholds): a person of
//!    random height (1.55..1.90 m) at a random spot on either side of the link (x in 1.8..3.2 m,
//!    y in 0.9..1.5 or 2.5..3.1 m), 12 s standing still (the event path's warm-up), then
//!    activities separated by 2..5 s of standing: every onset starts from stillness at a known
//!    frame, so `MotionStarted` can fire on it.
//! 3. **Idle sessions** (seeds `S + 5000 + s`): 60 s of an empty room or of a person standing
//!    still at a random spot, for false firings on data where nothing should match.
//! 4. For every onset of an activity that has a signature: the frames from the true onset
//!    until that signature's `above_threshold` first turns true within the activity (a rising
//!    edge), which signature turned true first, and the frames until the event path's first
//!    `MotionStarted` (same frames, `SensingConfig::default()`). A rising edge of a signature
//!    outside its activity (from its onset to 64 frames after its end) is a false firing; the
//!    rate is per hour of that signature's non-matching data.
//! 5. Baselines: chance for "right label first" is 1/4; the unlabelled "any motion" detector
//!    (the first frame where lag-1 motion energy of `motion_lags_v1` exceeds 20x its noise
//!    floor, `x_1 > 3`) gives the floor of what any feature of this kind can do.
//!
//! Prints the figures; the crate README records a run.

use wifi_sensing_core::sim::body::Activity;
use wifi_sensing_core::sim::{DeviceProfile, Scenario, Simulator};
use wifi_sensing_introspect::capture::{capture, CaptureSpec};
use wifi_sensing_introspect::features::{FeatureConfig, FeatureExtractor, FeatureKind};
use wifi_sensing_introspect::signature::{Signature, SignatureLibrary, ThresholdRule};
use wifi_sensing_introspect::snapshot::{IntrospectionAnalyser, IntrospectionConfig};
use wifi_sensing_signal::events::EventKind;
use wifi_sensing_signal::{Sensed, SensingAnalyser, SensingConfig};

const RATE: f64 = 50.0;
const SIG_FRAMES: f64 = 64.0;
const LABELS: [&str; 4] = ["walk", "wave", "push", "sit"];
/// Warm-up of the event path (its default `warmup_s` is 10 s).
const LEAD_IN_S: f64 = 12.0;

#[derive(Clone, Copy)]
struct Spot {
    x: f64,
    y: f64,
    height: f64,
}

impl Spot {
    fn heading(&self) -> f64 {
        if self.y < 2.0 {
            90.0
        } else {
            270.0
        }
    }
}

fn segment(act: &str, dur: f64, s: Spot) -> String {
    let (x, y, h) = (s.x, s.y, s.heading());
    match act {
        "absent" => format!(r#"{{"activity": "absent", "duration_s": {dur}}}"#),
        "stand" | "sit" => format!(
            r#"{{"activity": "{act}", "duration_s": {dur}, "position_m": [{x}, {y}], "heading_deg": {h}}}"#
        ),
        "walk" => {
            let far = if y < 2.0 { 0.6 } else { 3.4 };
            let fx = if x > 2.5 { x - 1.4 } else { x + 1.4 };
            format!(
                r#"{{"activity": "walk", "path_m": [[{x}, {y}], [{fx}, {far}], [{x}, {y}]], "duration_s": {dur}}}"#
            )
        }
        g => format!(
            r#"{{"activity": "gesture", "gesture": "{g}", "duration_s": {dur}, "position_m": [{x}, {y}], "heading_deg": {h}}}"#
        ),
    }
}

fn scenario(segments: &[(&str, f64)], spot: Spot) -> Scenario {
    let tl: Vec<String> = segments.iter().map(|(a, d)| segment(a, *d, spot)).collect();
    let total: f64 = segments.iter().map(|s| s.1).sum();
    let doc = format!(
        r#"{{"name": "early-detection", "duration_s": {total}, "rate_hz": {RATE}, "person": {{"height_m": {}}}, "timeline": [{}]}}"#,
        spot.height,
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
        "absent" => Activity::Absent,
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
    fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * (self.next() % 10_000) as f64 / 10_000.0
    }
    fn spot(&mut self) -> Spot {
        let x = self.uniform(1.8, 3.2);
        let y = if self.next().is_multiple_of(2) {
            self.uniform(0.9, 1.5)
        } else {
            self.uniform(2.5, 3.1)
        };
        Spot {
            x,
            y,
            height: self.uniform(1.55, 1.90),
        }
    }
}

/// 12 s standing, then activities of `acts` (3..6 s) separated by 2..5 s of standing, to 70 s.
fn session_plan<'a>(rng: &mut Lcg, acts: &[&'a str]) -> Vec<(&'a str, f64)> {
    let mut plan: Vec<(&str, f64)> = vec![("stand", LEAD_IN_S)];
    while plan.iter().map(|p| p.1).sum::<f64>() < 70.0 {
        let a = acts[(rng.next() % acts.len() as u64) as usize];
        plan.push((a, rng.uniform(3.0, 6.0)));
        plan.push(("stand", rng.uniform(2.0, 5.0)));
    }
    plan
}

fn arg<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> T {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| v.parse().ok().expect(name))
        .unwrap_or(default)
}

/// One onset being scored.
struct Onset {
    label: usize,
    frame: u64,
    shape: Option<u64>,
    first_label: Option<usize>,
    motion_started: Option<u64>,
    any_motion: Option<u64>,
}

#[derive(Default)]
struct Tally {
    onsets: Vec<Onset>,
    false_firings: Vec<usize>,
    nonmatch_frames: Vec<u64>,
    idle_firings: usize,
    idle_frames: u64,
    idle_motion_started: usize,
    total_frames: u64,
    /// Quiet frames (nobody moving: standing or absent, 64 frames after any motion ended, after
    /// the lead-in) and the rising edges there of the any-motion baseline and of MotionStarted.
    quiet_frames: u64,
    quiet_any: usize,
    quiet_ms: usize,
}

fn pct(v: &[i64], q: f64) -> Option<i64> {
    if v.is_empty() {
        return None;
    }
    let mut v = v.to_vec();
    v.sort_unstable();
    Some(v[((v.len() - 1) as f64 * q).round() as usize])
}

/// Runs one session through the introspection analyser and the event path, scoring onsets
/// (`score_onsets`) or only counting firings (idle sessions).
fn run_session(
    sim: Simulator,
    lib: &SignatureLibrary,
    fcfg: &FeatureConfig,
    tally: &mut Tally,
    score_onsets: bool,
) {
    let n = LABELS.len();
    let mut an = IntrospectionAnalyser::new(
        IntrospectionConfig {
            top_k: n,
            features: fcfg.clone(),
            ..IntrospectionConfig::default()
        },
        lib.clone(),
    )
    .expect("analyser");
    let mut sensing = SensingAnalyser::new(SensingConfig::default(), None).expect("sensing");
    let mut motion_fx = FeatureExtractor::new(FeatureConfig {
        kind: FeatureKind::MotionLagsV1,
        ..FeatureConfig::default()
    })
    .expect("features");
    let mut sensed = Vec::new();
    let mut was_above = vec![false; n];
    let mut open: Option<Onset> = None;
    let mut guard_until = vec![0u64; n];
    let mut frame_no = 0u64;
    let mut last_activity = None;
    let mut any_was = false;
    let lead_in = (LEAD_IN_S * RATE) as u64;
    let mut quiet_from = lead_in;
    for (frame, truth) in sim {
        let snap = an.push(&frame).expect("push").expect("snapshot");
        sensed.clear();
        sensing.push(&frame, &mut sensed).expect("sensing");
        let started = sensed
            .iter()
            .any(|s| matches!(s, Sensed::Event(e) if e.event == EventKind::MotionStarted));
        let any_motion = motion_fx
            .extract(&frame)
            .map(|x| x[0] > 3.0)
            .unwrap_or(false);
        let any_rising = any_motion && !any_was;
        any_was = any_motion;
        if last_activity != Some(truth.activity) {
            if let Some(o) = open.take() {
                tally.onsets.push(o);
            }
            if let Some(prev) = last_activity {
                if let Some(li) = LABELS.iter().position(|&l| activity_of(l) == prev) {
                    guard_until[li] = frame_no + SIG_FRAMES as u64;
                    quiet_from = quiet_from.max(frame_no + SIG_FRAMES as u64);
                }
            }
            if score_onsets && frame_no >= lead_in {
                if let Some(li) = LABELS
                    .iter()
                    .position(|&l| activity_of(l) == truth.activity)
                {
                    open = Some(Onset {
                        label: li,
                        frame: frame_no,
                        shape: None,
                        first_label: None,
                        motion_started: None,
                        any_motion: None,
                    });
                }
            }
            last_activity = Some(truth.activity);
        }
        if let Some(o) = open.as_mut() {
            if started && o.motion_started.is_none() {
                o.motion_started = Some(frame_no);
            }
            if any_rising && o.any_motion.is_none() {
                o.any_motion = Some(frame_no);
            }
        }
        if !score_onsets && started && frame_no >= lead_in {
            tally.idle_motion_started += 1;
        }
        if matches!(truth.activity, Activity::Stand | Activity::Absent) && frame_no >= quiet_from {
            tally.quiet_frames += 1;
            tally.quiet_any += usize::from(any_rising);
            tally.quiet_ms += usize::from(started);
        }
        for e in &snap.top_k_similarity {
            let li = LABELS.iter().position(|&l| l == &*e.label).expect("label");
            let rising = e.above_threshold && !was_above[li];
            was_above[li] = e.above_threshold;
            let in_act = activity_of(LABELS[li]) == truth.activity;
            if rising {
                if let Some(o) = open.as_mut() {
                    if o.first_label.is_none() {
                        o.first_label = Some(li);
                    }
                    if o.label == li && o.shape.is_none() {
                        o.shape = Some(frame_no);
                    }
                }
                if score_onsets {
                    if !in_act && frame_no >= guard_until[li] {
                        tally.false_firings[li] += 1;
                    }
                } else {
                    tally.idle_firings += 1;
                }
            }
        }
        if score_onsets {
            for (li, l) in LABELS.iter().enumerate() {
                if activity_of(l) != truth.activity && frame_no >= guard_until[li] {
                    tally.nonmatch_frames[li] += 1;
                }
            }
        } else {
            tally.idle_frames += 1;
        }
        frame_no += 1;
    }
    if let Some(o) = open.take() {
        tally.onsets.push(o);
    }
    tally.total_frames += frame_no;
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let sessions: u64 = arg(&args, "--sessions", 40);
    let idle_sessions: u64 = arg(&args, "--idle-sessions", 20);
    let kind: FeatureKind = arg(&args, "--kind", FeatureKind::MotionLagsV1);
    let margin: f64 = arg(&args, "--margin", 0.5);
    let min_prefix: usize = arg(&args, "--min-prefix", 2);
    let seed0: u64 = arg(&args, "--seed", 1000);
    let fcfg = FeatureConfig {
        kind,
        ..FeatureConfig::default()
    };
    let sig_spot = Spot {
        x: 2.5,
        y: 1.3,
        height: 1.75,
    };
    let duration = SIG_FRAMES / RATE;
    println!(
        "kind {kind}, margin {margin}, min prefix {min_prefix}, {sessions} test sessions, {idle_sessions} idle sessions, seed {seed0}"
    );

    // 1. Signatures.
    let bg_sessions: u64 = arg(&args, "--bg-sessions", 8);
    let mut sigs: Vec<Signature> = Vec::new();
    for (k, &label) in LABELS.iter().enumerate() {
        let own = scenario(&[("stand", LEAD_IN_S), (label, 6.0)], sig_spot);
        // Background: sessions like the test sessions without this activity, and idle ones,
        // on seeds of their own.
        let others: Vec<&str> = LABELS.iter().copied().filter(|&o| o != label).collect();
        let mut brng = Lcg(77 + k as u64);
        let mut backgrounds = Vec::new();
        for b in 0..bg_sessions {
            let spot = brng.spot();
            let plan = session_plan(&mut brng, &others);
            backgrounds.push(frames(scenario(&plan, spot), 200 + 100 * k as u64 + b));
        }
        for b in 0..bg_sessions / 2 {
            let spot = brng.spot();
            let what = if b.is_multiple_of(2) {
                "absent"
            } else {
                "stand"
            };
            backgrounds.push(frames(
                scenario(&[(what, 60.0)], spot),
                250 + 100 * k as u64 + b,
            ));
        }
        let spec = CaptureSpec {
            id: label.to_string(),
            label: label.to_string(),
            captured_at: "2026-12-05T15:00:00Z".into(),
            start_s: LEAD_IN_S,
            duration_s: duration - 0.5 / RATE,
            node_id: None,
            features: fcfg.clone(),
            window: None,
            rule: ThresholdRule { margin, min_prefix },
            input_name: Some(format!("{label} session")),
            input_background: false,
        };
        let sig = capture(frames(own, 1 + k as u64), backgrounds, &spec).expect("capture");
        let thr = sig.prefix_thresholds.clone().unwrap_or_default();
        eprintln!(
            "signature {label}: {} frames x {}, first enabled prefix {:?}, background frames {:?}",
            sig.length,
            sig.dim(),
            thr.iter().position(Option::is_some).map(|i| i + 1),
            sig.provenance.as_ref().map(|p| p.background_frames)
        );
        sigs.push(sig);
    }
    let lib = SignatureLibrary::from_signatures(sigs, Vec::new()).expect("library");

    // 2. Test sessions.
    let mut rng = Lcg(seed0);
    let acts = ["walk", "wave", "push", "sit"];
    let mut tally = Tally {
        false_firings: vec![0; LABELS.len()],
        nonmatch_frames: vec![0; LABELS.len()],
        ..Tally::default()
    };
    for s in 0..sessions {
        let spot = rng.spot();
        let plan = session_plan(&mut rng, &acts);
        let sim = Simulator::new(scenario(&plan, spot), DeviceProfile::esp32(), seed0 + 7 * s)
            .expect("sim");
        run_session(sim, &lib, &fcfg, &mut tally, true);
    }
    // 3. Idle sessions.
    for s in 0..idle_sessions {
        let spot = rng.spot();
        let what = if s.is_multiple_of(2) {
            "absent"
        } else {
            "stand"
        };
        let sim = Simulator::new(
            scenario(&[(what, 60.0)], spot),
            DeviceProfile::esp32(),
            seed0 + 5000 + s,
        )
        .expect("sim");
        run_session(sim, &lib, &fcfg, &mut tally, false);
    }

    // 4. Figures.
    let hours = |f: u64| f as f64 / RATE / 3600.0;
    println!(
        "frames: {} ({:.2} h at {RATE} Hz), onsets scored: {}, idle data {:.2} h",
        tally.total_frames,
        hours(tally.total_frames),
        tally.onsets.len(),
        hours(tally.idle_frames)
    );
    let mut all_shape = Vec::new();
    let mut all_ms = Vec::new();
    let mut paired = (0usize, 0usize, 0usize); // (both, shape <= ms, shape strictly earlier)
    let mut ratios = Vec::new();
    for (li, l) in LABELS.iter().enumerate() {
        let on: Vec<&Onset> = tally.onsets.iter().filter(|o| o.label == li).collect();
        let shape: Vec<i64> = on
            .iter()
            .filter_map(|o| o.shape.map(|f| (f - o.frame) as i64))
            .collect();
        let ms: Vec<i64> = on
            .iter()
            .filter_map(|o| o.motion_started.map(|f| (f - o.frame) as i64))
            .collect();
        let any: Vec<i64> = on
            .iter()
            .filter_map(|o| o.any_motion.map(|f| (f - o.frame) as i64))
            .collect();
        let right = on.iter().filter(|o| o.first_label == Some(li)).count();
        let h = hours(tally.nonmatch_frames[li]);
        println!(
            "{l:>5}: shape detected {}/{} median {:?} p90 {:?} frames | MotionStarted {}/{} median {:?} p90 {:?} | any-motion baseline {}/{} median {:?} | right label first {}/{} | false firings {} in {:.2} h non-matching ({:.1}/h)",
            shape.len(), on.len(), pct(&shape, 0.5), pct(&shape, 0.9),
            ms.len(), on.len(), pct(&ms, 0.5), pct(&ms, 0.9),
            any.len(), on.len(), pct(&any, 0.5),
            right, on.len(),
            tally.false_firings[li], h, tally.false_firings[li] as f64 / h.max(1e-9)
        );
        all_shape.extend(shape);
        all_ms.extend(ms);
        for o in &on {
            if let (Some(s), Some(m)) = (o.shape, o.motion_started) {
                paired.0 += 1;
                if s <= m {
                    paired.1 += 1;
                }
                if s < m {
                    paired.2 += 1;
                }
                ratios.push(((m - o.frame) as f64 + 1.0) / ((s - o.frame) as f64 + 1.0));
            }
        }
    }
    let right: usize = tally
        .onsets
        .iter()
        .filter(|o| o.first_label == Some(o.label))
        .count();
    let total_false: usize = tally.false_firings.iter().sum();
    let nonmatch_h: f64 = tally.nonmatch_frames.iter().map(|&f| hours(f)).sum();
    ratios.sort_by(f64::total_cmp);
    println!(
        "all: shape median {:?} frames ({} onsets), MotionStarted median {:?} frames ({} onsets); both fired on {}: shape at or before MotionStarted on {} ({} strictly earlier), median ratio (MS+1)/(shape+1) {:.2}",
        pct(&all_shape, 0.5),
        all_shape.len(),
        pct(&all_ms, 0.5),
        all_ms.len(),
        paired.0,
        paired.1,
        paired.2,
        ratios.get(ratios.len() / 2).copied().unwrap_or(f64::NAN)
    );
    println!(
        "quiet frames (standing or absent, 64+ frames after motion): {:.2} h; any-motion baseline rising edges {} ({:.1}/h), MotionStarted {} ({:.1}/h)",
        hours(tally.quiet_frames),
        tally.quiet_any,
        tally.quiet_any as f64 / hours(tally.quiet_frames).max(1e-9),
        tally.quiet_ms,
        tally.quiet_ms as f64 / hours(tally.quiet_frames).max(1e-9)
    );
    println!(
        "right label first: {right}/{} ({:.1}%, chance 25%); false firings in activity sessions: {total_false} over {:.2} signature-hours ({:.1}/h); idle sessions: {} firings in {:.2} h ({:.1}/h), MotionStarted {} times",
        tally.onsets.len(),
        100.0 * right as f64 / tally.onsets.len().max(1) as f64,
        nonmatch_h,
        total_false as f64 / nonmatch_h.max(1e-9),
        tally.idle_firings,
        hours(tally.idle_frames),
        tally.idle_firings as f64 / hours(tally.idle_frames).max(1e-9),
        tally.idle_motion_started
    );
}
