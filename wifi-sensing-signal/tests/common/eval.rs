//! Scoring of the sensing analyser against the simulator's ground truth, shared by the tests
//! (`tests/sensing_accuracy.rs`) and the `sensing_eval` example (the README tables).
//!
//! Protocol (documented in the crate's MEASUREMENTS.md):
//! * a session is a simulator preset (default room, one link, default impairments unless the
//!   spec says otherwise) at a frame rate, device profile and seed;
//! * frames are scored from `score_from_s` on (the automatic calibration's warm-up is not
//!   scored), every produced frame once;
//! * presence: the analyser's node presence (`Some(true)`) against `truth.presence`; motion:
//!   the node's motion state against `truth.motion == Moving`;
//! * onset delay: for every truth run of `Moving` that starts after the warm-up, the time from
//!   its start to the first `MotionStarted` at or after it (within the run).
#![allow(dead_code)]

use wifi_sensing_core::sim::{DeviceProfile, GroundTruth, MotionState, Scenario, Simulator};
use wifi_sensing_core::CsiFrame;
use wifi_sensing_signal::calibration::{Baseline, Calibrator};
use wifi_sensing_signal::events::{EventConfig, EventKind};
use wifi_sensing_signal::{Sensed, SensingAnalyser, SensingConfig};

/// Confusion counts of a binary frame-level decision.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Counts {
    pub tp: u64,
    pub fp: u64,
    pub fn_: u64,
    pub tn: u64,
}

impl Counts {
    pub fn add(&mut self, pred: bool, truth: bool) {
        match (pred, truth) {
            (true, true) => self.tp += 1,
            (true, false) => self.fp += 1,
            (false, true) => self.fn_ += 1,
            (false, false) => self.tn += 1,
        }
    }

    pub fn merge(&mut self, o: &Counts) {
        self.tp += o.tp;
        self.fp += o.fp;
        self.fn_ += o.fn_;
        self.tn += o.tn;
    }

    /// F1; `None` when the truth has no positive and nothing was predicted positive.
    pub fn f1(&self) -> Option<f64> {
        let d = 2 * self.tp + self.fp + self.fn_;
        (d > 0).then(|| 2.0 * self.tp as f64 / d as f64)
    }

    /// False-positive rate over the truth-negative frames.
    pub fn fpr(&self) -> Option<f64> {
        let n = self.fp + self.tn;
        (n > 0).then(|| self.fp as f64 / n as f64)
    }

    /// Recall over the truth-positive frames.
    pub fn recall(&self) -> Option<f64> {
        let p = self.tp + self.fn_;
        (p > 0).then(|| self.tp as f64 / p as f64)
    }

    pub fn positives(&self) -> u64 {
        self.tp + self.fn_
    }

    pub fn negatives(&self) -> u64 {
        self.fp + self.tn
    }

    /// F1 of the trivial "always positive" detector on the same frames.
    pub fn f1_always(&self) -> Option<f64> {
        let p = self.positives();
        let n = self.negatives();
        (p + n > 0 && p > 0).then(|| 2.0 * p as f64 / (2 * p + n) as f64)
    }
}

/// One simulated session.
#[derive(Clone, Debug)]
pub struct Spec {
    pub preset: &'static str,
    pub secs: f64,
    pub rate: f64,
    pub intel: bool,
    pub seed: u64,
    /// Explicit empty-room baseline from another seed's empty capture (same room).
    pub baseline: bool,
    /// Override of the SNR, dB.
    pub snr_db: Option<f64>,
}

impl Spec {
    pub fn new(preset: &'static str, secs: f64, seed: u64) -> Spec {
        Spec {
            preset,
            secs,
            rate: 50.0,
            intel: false,
            seed,
            baseline: false,
            snr_db: None,
        }
    }

    pub fn profile(&self) -> DeviceProfile {
        if self.intel {
            DeviceProfile::intel5300()
        } else {
            DeviceProfile::esp32()
        }
    }

    pub fn scenario(&self, preset: &str, secs: f64) -> Scenario {
        let mut sc = Scenario::preset(preset, secs).expect("preset");
        sc.rate_hz = self.rate;
        if let Some(s) = self.snr_db {
            sc.impairments.snr_db = Some(s);
        }
        sc
    }
}

/// What one session gave.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    pub presence: Counts,
    pub motion: Counts,
    /// Onset delays of `MotionStarted`, s (one per truth motion run after the warm-up).
    pub onsets_s: Vec<f64>,
    /// Truth motion runs after the warm-up that got no `MotionStarted` at all.
    pub missed_onsets: usize,
    /// Node events (not fused).
    pub events: Vec<(EventKind, i64)>,
    pub frames: u64,
    pub interval_s: f64,
    /// Where the motion errors fall: missed frames in the first 0.5 s of a truth motion run
    /// (onset), missed frames later in the run (mid-run), false frames within 1 s after a
    /// run ends (offset tail), other false frames.
    pub miss_onset: u64,
    pub miss_mid: u64,
    pub fp_tail: u64,
    pub fp_other: u64,
    /// Motion statistic over the quiet level's threshold unit (`R`) on the mid-run misses.
    pub mid_miss_ratio: Vec<f64>,
    /// Motion against the physical definition ([`PhysicalMotion`]) instead of the activity
    /// segments.
    pub motion_phys: Counts,
    /// Speed of the fastest keypoint, m/s, on the mid-run missed frames (truth `Moving`, not
    /// said, more than 0.5 s into the run).
    pub speed_missed: Vec<f64>,
    /// Speed of the fastest keypoint, m/s, on the truth-`Moving` frames said moving.
    pub speed_detected: Vec<f64>,
    /// Frame indices of the mid-run missed frames and of the truth-`Moving` frames said moving.
    pub missed_idx: Vec<u64>,
    pub detected_idx: Vec<u64>,
}

/// A physical definition of motion from the simulator's keypoints, next to the activity
/// segments' `truth.motion`: a frame is moving when the fastest of the 17 keypoints moves faster
/// than [`PHYS_ON_M_S`] (speed from the keypoint positions of consecutive frames, in metres
/// over the frames' time difference); it stays moving until the fastest keypoint has stayed
/// below [`PHYS_OFF_M_S`] for [`PHYS_HOLD_S`]. No person, no motion.
#[derive(Clone, Debug, Default)]
pub struct PhysicalMotion {
    prev: Option<(i64, [[f32; 3]; 17])>,
    moving: bool,
    slow_since: Option<i64>,
    /// Speed of the fastest keypoint at the last frame, m/s.
    pub speed: f64,
}

/// Keypoint speed above which a frame is physically moving, m/s.
pub const PHYS_ON_M_S: f64 = 0.2;
/// Keypoint speed below which physical motion may end, m/s.
pub const PHYS_OFF_M_S: f64 = 0.1;
/// Time below [`PHYS_OFF_M_S`] after which physical motion ends, s.
pub const PHYS_HOLD_S: f64 = 0.25;

impl PhysicalMotion {
    /// One truth frame (`room_m`: the room size, to turn keypoints into metres); returns the
    /// physical motion state.
    pub fn push(&mut self, t: &GroundTruth, room_m: [f64; 3]) -> bool {
        let Some(kp) = t.keypoints else {
            self.prev = None;
            self.moving = false;
            self.slow_since = None;
            self.speed = 0.0;
            return false;
        };
        self.speed = match self.prev {
            Some((t0, p)) if t.timestamp_ns > t0 => {
                let dt = (t.timestamp_ns - t0) as f64 * 1e-9;
                kp.iter()
                    .zip(&p)
                    .map(|(a, b)| {
                        (0..3)
                            .map(|i| (f64::from(a[i] - b[i]) * room_m[i]).powi(2))
                            .sum::<f64>()
                            .sqrt()
                            / dt
                    })
                    .fold(0.0, f64::max)
            }
            _ => 0.0,
        };
        self.prev = Some((t.timestamp_ns, kp));
        if self.speed > PHYS_ON_M_S {
            self.moving = true;
            self.slow_since = None;
        } else if self.moving && self.speed < PHYS_OFF_M_S {
            let s = *self.slow_since.get_or_insert(t.timestamp_ns);
            if (t.timestamp_ns - s) as f64 * 1e-9 >= PHYS_HOLD_S {
                self.moving = false;
                self.slow_since = None;
            }
        } else {
            self.slow_since = None;
        }
        self.moving
    }
}

/// An empty-room baseline of the spec's room and device from another seed.
pub fn baseline_for(spec: &Spec) -> Baseline {
    let sc = spec.scenario("empty", 20.0);
    let sim = Simulator::new(sc, spec.profile(), spec.seed.wrapping_add(10_000)).expect("sim");
    let mut cal = Calibrator::new(&EventConfig::default()).expect("calibrator");
    for (f, _) in sim {
        cal.push(&f).expect("calibrate");
    }
    cal.finish().expect("baseline")
}

/// One session of the ESP32 anchor's protocol: 10 s quiet (`quiet`: `empty` room, a person
/// who `stand`s still without breathing, or one who `sit`s and breathes), then 10 s of `moving`
/// (`walk`: a random path at 0.5–1.4 m/s from the quiet spot; `gesture`: wave, push or pull in
/// place), at a random spot and heading, one link at `rate` Hz. The seed draws the spot, path,
/// speed, heading and gesture; it is also the simulator's seed.
pub fn anchor_session(
    seed: u64,
    intel: bool,
    quiet: &str,
    moving: &str,
    rate: f64,
) -> (Scenario, DeviceProfile) {
    use wifi_sensing_core::sim::{Gesture, Segment};
    let spec = Spec {
        intel,
        rate,
        ..Spec::new("empty", 20.0, seed)
    };
    let mut sc = spec.scenario("empty", 20.0);
    let [w, d, _] = sc.room.size_m;
    let pt = |k: u64| [draw(seed, k, 0.5, w - 0.5), draw(seed, k + 1, 0.5, d - 0.5)];
    let p0 = pt(1);
    let heading = Some(draw(seed, 3, 0.0, 360.0));
    let q = match quiet {
        "empty" => Segment::Absent { duration_s: 10.0 },
        "stand" => Segment::Stand {
            duration_s: 10.0,
            position_m: Some(p0),
            heading_deg: heading,
        },
        _ => Segment::Sit {
            duration_s: 10.0,
            position_m: Some(p0),
            heading_deg: heading,
        },
    };
    if quiet == "stand" {
        sc.person.breathing = None;
        sc.person.heartbeat = None;
    }
    let m = if moving == "walk" {
        Segment::Walk {
            path_m: vec![p0, pt(5), pt(7), pt(9)],
            speed_m_s: Some(draw(seed, 11, 0.5, 1.4)),
            duration_s: None,
            repeat: 10,
        }
    } else {
        let names = ["wave", "push", "pull"];
        let g = names[(draw(seed, 12, 0.0, 3.0) as usize).min(2)];
        Segment::Gesture {
            gesture: Gesture::from_name(g).expect("gesture"),
            duration_s: 10.0,
            position_m: Some(p0),
            heading_deg: heading,
            period_s: None,
        }
    };
    sc.timeline = vec![q, m];
    sc.duration_s = Some(20.0);
    (sc, spec.profile())
}

/// Runs the analyser (events only) over any frame/truth sequence and scores it.
/// `room_m`: the room size, m (for the keypoints' speed).
pub fn score<I>(
    frames: I,
    baseline: Option<Baseline>,
    score_from_s: f64,
    room_m: [f64; 3],
) -> Outcome
where
    I: IntoIterator<Item = (CsiFrame, GroundTruth)>,
{
    score_with(frames, baseline, score_from_s, room_m, false)
}

/// [`score`], printing every node event with the truth at its time when `verbose`.
pub fn score_with<I>(
    frames: I,
    baseline: Option<Baseline>,
    score_from_s: f64,
    room_m: [f64; 3],
    verbose: bool,
) -> Outcome
where
    I: IntoIterator<Item = (CsiFrame, GroundTruth)>,
{
    let mut cfg = SensingConfig {
        vitals: None,
        ..SensingConfig::default()
    };
    events_from_env(&mut cfg);
    let mut a = SensingAnalyser::new(cfg, baseline).expect("analyser");
    let mut out = Vec::new();
    let mut o = Outcome::default();
    let from_ns = (score_from_s * 1e9) as i64;
    // truth motion runs: (start, end, onset seen)
    let mut run: Option<(i64, i64, bool)> = None;
    let mut first_t = None;
    let mut last_t = 0;
    let mut phys = PhysicalMotion::default();
    for (f, t) in frames {
        let moving_phys = phys.push(&t, room_m);
        out.clear();
        a.push(&f, &mut out).expect("push");
        first_t.get_or_insert(t.timestamp_ns);
        last_t = t.timestamp_ns;
        let moving_truth = t.motion == MotionState::Moving;
        if moving_truth && run.is_none_or(|r| r.0 != t.motion_start_ns) {
            if let Some((s, _, false)) = run {
                if s >= from_ns {
                    o.missed_onsets += 1;
                }
            }
            run = Some((t.motion_start_ns, t.motion_end_ns, false));
        }
        for s in &out {
            if let Sensed::Event(e) = s {
                if e.node_id.is_none() {
                    continue;
                }
                o.events.push((e.event, e.timestamp_ns));
                if verbose {
                    println!(
                        "{:8.2} s {:?} {:?}={:.3} thr {:.3} conf {:.2} | truth {:?} {:?}",
                        e.timestamp_ns as f64 * 1e-9,
                        e.event,
                        e.statistic,
                        e.value,
                        e.threshold,
                        e.confidence,
                        t.activity,
                        t.motion
                    );
                }
                if e.event == EventKind::MotionStarted {
                    if let Some(r) = &mut run {
                        if !r.2 && e.timestamp_ns >= r.0 && e.timestamp_ns <= r.1 {
                            r.2 = true;
                            if r.0 >= from_ns {
                                o.onsets_s.push((e.timestamp_ns - r.0) as f64 * 1e-9);
                            }
                        }
                    }
                }
            }
        }
        if t.timestamp_ns < from_ns {
            continue;
        }
        o.frames += 1;
        o.presence
            .add(a.present(f.node_id) == Some(true), t.presence);
        let said = a.moving(f.node_id) == Some(true);
        o.motion.add(said, moving_truth);
        o.motion_phys.add(said, moving_phys);
        if moving_truth && said {
            o.speed_detected.push(phys.speed);
            o.detected_idx.push(t.frame_index);
        }
        if moving_truth && !said {
            if t.timestamp_ns - t.motion_start_ns < 500_000_000 {
                o.miss_onset += 1;
            } else {
                o.miss_mid += 1;
                o.speed_missed.push(phys.speed);
                o.missed_idx.push(t.frame_index);
                if let Some(r) = a.motion_statistic(f.node_id) {
                    o.mid_miss_ratio.push(r);
                }
            }
        }
        if said && !moving_truth {
            if run.is_some_and(|r| t.timestamp_ns > r.1 && t.timestamp_ns - r.1 < 1_000_000_000) {
                o.fp_tail += 1;
            } else {
                o.fp_other += 1;
            }
        }
    }
    if let Some((s, _, false)) = run {
        if s >= from_ns {
            o.missed_onsets += 1;
        }
    }
    if let Some(f) = first_t {
        o.interval_s = (last_t - f) as f64 * 1e-9 / o.frames.max(1) as f64;
    }
    o
}

/// Simulates and scores one session (warm-up of the default config not scored).
pub fn run(spec: &Spec) -> Outcome {
    let sc = spec.scenario(spec.preset, spec.secs);
    let room = sc.room.size_m;
    let sim = Simulator::new(sc, spec.profile(), spec.seed).expect("sim");
    let baseline = spec.baseline.then(|| baseline_for(spec));
    score(sim, baseline, EventConfig::default().warmup_s, room)
}

/// [`run`], printing the events.
pub fn run_verbose(spec: &Spec) -> Outcome {
    let sc = spec.scenario(spec.preset, spec.secs);
    let room = sc.room.size_m;
    let sim = Simulator::new(sc, spec.profile(), spec.seed).expect("sim");
    let baseline = spec.baseline.then(|| baseline_for(spec));
    score_with(sim, baseline, EventConfig::default().warmup_s, room, true)
}

/// Median of a list (`None` when empty).
pub fn median(v: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    })
}

/// Formats an optional figure.
pub fn fmt(x: Option<f64>) -> String {
    x.map_or("n/a".to_string(), |v| format!("{v:.3}"))
}

/// One vital-sign window scored against the simulator's configured rates.
#[derive(Clone, Debug)]
pub struct VitalsWindow {
    pub breath_truth: f64,
    pub heart_truth: f64,
    pub breath: Option<f64>,
    pub heart: Option<f64>,
    pub breath_reason: String,
    pub heart_reason: String,
}

/// A sitting, breathing person (the `breathe` preset) with the given rates; the estimate of the
/// first full `window_s` window (the analyser's own vital-sign configuration otherwise).
pub fn vitals_window(
    rate: f64,
    snr_db: f64,
    intel: bool,
    breath_bpm: f64,
    heart_bpm: f64,
    window_s: f64,
    seed: u64,
) -> VitalsWindow {
    let spec = Spec {
        rate,
        intel,
        snr_db: Some(snr_db),
        ..Spec::new("breathe", window_s + 2.0, seed)
    };
    let mut sc = spec.scenario("breathe", window_s + 2.0);
    if let Some(b) = &mut sc.person.breathing {
        b.rate_bpm = breath_bpm;
    }
    if let Some(h) = &mut sc.person.heartbeat {
        h.rate_bpm = heart_bpm;
    }
    let sim = Simulator::new(sc, spec.profile(), seed).expect("sim");
    let mut a = vitals_analyser(window_s, vitals_config());
    let mut out = Vec::new();
    let mut last = None;
    let mut longest = 0.0f64;
    for (f, _) in sim {
        out.clear();
        a.push(&f, &mut out).expect("push");
        for s in &out {
            if let Sensed::VitalSigns { value, .. } = s {
                longest = longest.max(value.window_s);
                if value.window_s >= window_s - 0.5 && last.is_none() {
                    last = Some(value.clone());
                }
            }
        }
    }
    let reason = |r: &wifi_sensing_signal::vitals::VitalRate| {
        r.reason
            .map_or("estimate".to_string(), |x| format!("{x:?}"))
    };
    match last {
        Some(v) => VitalsWindow {
            breath_truth: breath_bpm,
            heart_truth: heart_bpm,
            breath: v.breathing.rate_per_min,
            heart: v.heart.rate_per_min,
            breath_reason: reason(&v.breathing),
            heart_reason: reason(&v.heart),
        },
        None => VitalsWindow {
            breath_truth: breath_bpm,
            heart_truth: heart_bpm,
            breath: None,
            heart: None,
            breath_reason: format!("no full window (longest {longest:.1} s)"),
            heart_reason: format!("no full window (longest {longest:.1} s)"),
        },
    }
}

/// A deterministic uniform draw in `[lo, hi)` for seed `s` and stream `k`.
pub fn draw(s: u64, k: u64, lo: f64, hi: f64) -> f64 {
    let mut x = s
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(k.wrapping_mul(0xBF58_476D_1CE4_E5B9));
    x ^= x >> 31;
    x = x.wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^= x >> 29;
    lo + (hi - lo) * ((x >> 11) as f64 / (1u64 << 53) as f64)
}

/// One random-session vital-sign window (see [`vitals_random`]).
#[derive(Clone, Debug)]
pub struct RandomVitals {
    /// Breathing rate of the session, /min.
    pub breath_truth: f64,
    /// Mean of the simulator's instantaneous heart rate over the estimate's window, bpm.
    pub heart_truth: f64,
    pub breath: Option<f64>,
    pub heart: Option<f64>,
    pub breath_conf: f64,
    pub heart_conf: f64,
    pub breath_reason: String,
    pub heart_reason: String,
    pub presence_ratio: Option<f64>,
    pub breath_distinct: Option<f64>,
}

/// Diagnostics of the event settings (the crate's MEASUREMENTS.md, "Posture changes" and
/// "Walking out"): `SENSING_BREATHING_MIN_S=S` sets `EventConfig::breathing_min_s` of `cfg`,
/// `SENSING_QUICK_S=S` its `absence_quick_s`, `SENSING_QUICK_MATCH=X` its
/// `absence_quick_match` and `SENSING_QUICK_SEEN=X` its `absence_quick_seen`.
pub fn events_from_env(cfg: &mut SensingConfig) {
    let var = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<f64>().ok());
    if let Some(e) = cfg.events.as_mut() {
        if let Some(v) = var("SENSING_BREATHING_MIN_S") {
            e.breathing_min_s = v;
        }
        if let Some(v) = var("SENSING_QUICK_S") {
            e.absence_quick_s = v;
        }
        if let Some(v) = var("SENSING_QUICK_MATCH") {
            e.absence_quick_match = v;
        }
        if let Some(v) = var("SENSING_QUICK_SEEN") {
            e.absence_quick_seen = v;
        }
    }
}

/// The scenario of [`vitals_random`].
pub fn vitals_scenario(
    seed: u64,
    rate: f64,
    snr_db: f64,
    random_room: bool,
    window_s: f64,
) -> Scenario {
    use wifi_sensing_core::sim::{ActivityMix, RandomSession};
    let mut rs = RandomSession::new(seed, window_s + 2.0);
    rs.rate_hz = rate;
    rs.random_room = random_room;
    rs.activities = ActivityMix {
        sit: 1.0,
        stand: 1.0,
        ..ActivityMix::NONE
    };
    rs.segment_s = [window_s + 10.0; 2];
    rs.breathing_bpm = [8.0, 30.0];
    rs.heart_bpm = [50.0, 120.0];
    rs.impairments.snr_db = Some(snr_db);
    // diagnostics (the crate's MEASUREMENTS.md): `SENSING_NO_AGC=1` without AGC gain steps,
    // `SENSING_NO_QUANTISE=1` without the device's quantisation
    if std::env::var("SENSING_NO_AGC").is_ok_and(|v| v == "1") {
        rs.impairments.agc_step_db = 0.0;
        rs.impairments.agc_random_step_prob = 0.0;
    }
    if std::env::var("SENSING_NO_QUANTISE").is_ok_and(|v| v == "1") {
        rs.impairments.quantise = false;
    }
    rs.scenario().expect("random session")
}

/// What an oracle could see of one vital sign in one [`vitals_random`] session: the
/// per-bin SNR, dB, of the sign's spectral peak (within 3 /min of the truth) after the best
/// possible combination of every CSI value (maximum-ratio combining with the signal known),
/// over a Hann-windowed `window_s` window of the noise-free channel against the session's
/// receiver noise. `amplitude`: of `|H|` changes only; `complex`: of the complex CSI (what
/// phase features could reach at best; the random common phase and timing offset are ignored).
#[derive(Clone, Debug)]
pub struct Oracle {
    pub truth: f64,
    pub amplitude_db: f64,
    pub complex_db: f64,
    /// Of the amplitude plus the *sanitised* phase (each frame's phase per receive stream with
    /// its own mean and linear slope across the subcarriers removed: what a receiver can use of
    /// the phase when its common phase and timing offset are random).
    pub sanitised_db: f64,
}

/// Oracle SNRs of breathing and heartbeat in the session of [`vitals_random`]: the sign's
/// contribution is the difference between the noise-free channel with and without it (same
/// seed, everything else identical; breathing: breathing-only minus neither; heart: both minus
/// breathing-only), the noise is the session's (`p_ref / 10^(snr/10)` per complex value),
/// quantisation is left out (so this is a ceiling).
/// `sc` is the session's scenario ([`vitals_scenario`]), `window_s` its window.
pub fn vitals_oracle(seed: u64, intel: bool, mut sc: Scenario, window_s: f64) -> (Oracle, Oracle) {
    use num_complex::Complex64;
    use wifi_sensing_core::sim::Impairments;
    let rate = sc.rate_hz;
    let snr_db = sc.impairments.snr_db.unwrap_or(f64::INFINITY);
    sc.impairments = Impairments::none();
    let breath_truth = sc.person.breathing.as_ref().map_or(0.0, |b| b.rate_bpm);
    let profile = if intel {
        DeviceProfile::intel5300()
    } else {
        DeviceProfile::esp32()
    };
    let mut n_sc = 1;
    let mut frames = |sc: &Scenario| -> (Vec<Vec<Complex64>>, Vec<f64>) {
        let mut hs = Vec::new();
        let mut heart = Vec::new();
        for (f, t) in Simulator::new(sc.clone(), profile.clone(), seed).expect("sim") {
            let ts = t.timestamp_ns as f64 * 1e-9;
            if ts < 1.0 || ts >= 1.0 + window_s {
                continue;
            }
            n_sc = f.csi.shape()[2].max(1);
            hs.push(
                f.csi
                    .iter()
                    .map(|z| Complex64::new(f64::from(z.re), f64::from(z.im)))
                    .collect(),
            );
            if let Some(h) = t.heart_bpm {
                heart.push(h);
            }
        }
        (hs, heart)
    };
    let (full, hearts) = frames(&sc);
    let mut no_heart = sc.clone();
    if let Some(h) = no_heart.person.heartbeat.as_mut() {
        h.amplitude_mm = 0.0;
    }
    let (breath_only, _) = frames(&no_heart);
    let mut still = no_heart.clone();
    if let Some(b) = still.person.breathing.as_mut() {
        b.amplitude_mm = 0.0;
    }
    let (none, _) = frames(&still);
    let heart_truth = hearts.iter().sum::<f64>() / hearts.len().max(1) as f64;
    let n = full.len().min(breath_only.len()).min(none.len());
    let values = none.first().map_or(0, Vec::len);
    let p_ref = none[..n]
        .iter()
        .flat_map(|h| h.iter().map(|z| z.norm_sqr()))
        .sum::<f64>()
        / (n * values).max(1) as f64;
    let noise = p_ref / 10f64.powf(snr_db / 10.0);
    let w: Vec<f64> = (0..n)
        .map(|i| 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / (n as f64 - 1.0)).cos())
        .collect();
    let w2: f64 = w.iter().map(|x| x * x).sum();
    // phase change per value with each frame's mean and slope per stream (n_sc values) removed,
    // weighted by the magnitude (so its noise is the amplitude's)
    let sanitised = |with: &[Vec<Complex64>], without: &[Vec<Complex64>]| -> Vec<Vec<f64>> {
        with.iter()
            .zip(without)
            .map(|(a, b)| {
                // values without a channel (unused subcarriers) take no part in the fit
                let ok: Vec<bool> = b.iter().map(|y| y.norm() > 0.0).collect();
                let d: Vec<f64> = a
                    .iter()
                    .zip(b)
                    .zip(&ok)
                    .map(|((x, y), &o)| if o { (x / y).arg() } else { 0.0 })
                    .collect();
                let mut out = vec![0.0; d.len()];
                for (s, chunk) in d.chunks(n_sc).enumerate() {
                    let used: Vec<usize> = (0..chunk.len()).filter(|&k| ok[s * n_sc + k]).collect();
                    if used.len() < 3 {
                        continue;
                    }
                    let idx: Vec<f64> = used.iter().map(|&k| k as f64).collect();
                    let vals: Vec<f64> = used.iter().map(|&k| chunk[k]).collect();
                    let fit = wifi_sensing_signal::phase::LinearFit::new(&idx).expect("indices");
                    let (slope, intercept) = fit.fit(&vals);
                    for &k in &used {
                        let i = s * n_sc + k;
                        out[i] = (chunk[k] - slope * k as f64 - intercept) * b[i].norm();
                    }
                }
                out
            })
            .collect()
    };
    let oracle = |with: &[Vec<Complex64>], without: &[Vec<Complex64>], truth: f64| {
        let ph = sanitised(with, without);
        // DFT at 0.25 /min steps within 3 /min of the truth
        let mut best = (0.0f64, 0.0f64, 0.0f64);
        let mut f = truth - 3.0;
        while f <= truth + 3.0 {
            let (mut amp, mut cpx, mut san) = (0.0, 0.0, 0.0);
            let e: Vec<Complex64> = (0..n)
                .map(|i| {
                    Complex64::from_polar(
                        w[i],
                        -2.0 * std::f64::consts::PI * f / 60.0 * i as f64 / rate,
                    )
                })
                .collect();
            for v in 0..values {
                let (mut xa, mut xc) = (Complex64::new(0.0, 0.0), Complex64::new(0.0, 0.0));
                let mut mean_a = 0.0;
                let mut mean_c = Complex64::new(0.0, 0.0);
                for i in 0..n {
                    mean_a += with[i][v].norm() - without[i][v].norm();
                    mean_c += with[i][v] - without[i][v];
                }
                mean_a /= n as f64;
                mean_c /= n as f64;
                for i in 0..n {
                    xa += e[i] * (with[i][v].norm() - without[i][v].norm() - mean_a);
                    xc += e[i] * (with[i][v] - without[i][v] - mean_c);
                }
                amp += xa.norm_sqr() / (noise / 2.0 * w2);
                cpx += xc.norm_sqr() / (noise * w2);
                let mean_p = (0..n).map(|i| ph[i][v]).sum::<f64>() / n as f64;
                let xp: Complex64 = (0..n).map(|i| e[i] * (ph[i][v] - mean_p)).sum();
                san += (xa.norm_sqr() + xp.norm_sqr()) / (noise / 2.0 * w2);
            }
            best = (best.0.max(amp), best.1.max(cpx), best.2.max(san));
            f += 0.25;
        }
        let db = |x: f64| 10.0 * x.max(1e-30).log10();
        (db(best.0), db(best.1), db(best.2))
    };
    let (ba, bc, bs) = oracle(&breath_only[..n], &none[..n], breath_truth);
    let (ha, hc, hs) = oracle(&full[..n], &breath_only[..n], heart_truth);
    (
        Oracle {
            truth: breath_truth,
            amplitude_db: ba,
            complex_db: bc,
            sanitised_db: bs,
        },
        Oracle {
            truth: heart_truth,
            amplitude_db: ha,
            complex_db: hc,
            sanitised_db: hs,
        },
    )
}

/// The vital-sign protocol on seeded random sessions: one person who sits or stands still for
/// the whole session at a random position, heading and height (default room, or a random room
/// with random radio positions when `random_room`), breathing drawn in 8–30 /min with 2–6 mm
/// chest motion, heart rate in 50–120 bpm (40 ms SDNN), SNR `snr_db`; the estimate of the first
/// full `window_s` window with events on (as `run --events --vitals`). The heart truth is the
/// mean of the simulator's instantaneous rate over that window. `cfg`: the vital-sign
/// configuration (its window and hop are set here; [`vitals_config`] for the figures).
pub fn vitals_random(
    seed: u64,
    intel: bool,
    rate: f64,
    snr_db: f64,
    random_room: bool,
    window_s: f64,
    cfg: wifi_sensing_signal::vitals::VitalsConfig,
) -> RandomVitals {
    let sc = vitals_scenario(seed, rate, snr_db, random_room, window_s);
    let breath_truth = sc.person.breathing.as_ref().map_or(0.0, |b| b.rate_bpm);
    let profile = if intel {
        DeviceProfile::intel5300()
    } else {
        DeviceProfile::esp32()
    };
    let sim = Simulator::new(sc, profile, seed).expect("sim");
    let mut a = vitals_analyser(window_s, cfg);
    let mut out = Vec::new();
    let mut hearts: Vec<(i64, f64)> = Vec::new();
    let mut first = None;
    for (f, t) in sim {
        if let Some(h) = t.heart_bpm {
            hearts.push((t.timestamp_ns, h));
        }
        out.clear();
        a.push(&f, &mut out).expect("push");
        for s in &out {
            if let Sensed::VitalSigns { value, .. } = s {
                if value.window_s >= window_s - 0.5 && first.is_none() {
                    first = Some(value.clone());
                }
            }
        }
    }
    let reason = |r: &wifi_sensing_signal::vitals::VitalRate| {
        r.reason
            .map_or("estimate".to_string(), |x| format!("{x:?}"))
    };
    let (ws, we) = first
        .as_ref()
        .map_or((0, i64::MAX), |v| (v.window_start_ns, v.window_end_ns));
    let in_win: Vec<f64> = hearts
        .iter()
        .filter(|(t, _)| *t >= ws && *t <= we)
        .map(|x| x.1)
        .collect();
    let heart_truth = in_win.iter().sum::<f64>() / in_win.len().max(1) as f64;
    match first {
        Some(v) => RandomVitals {
            breath_truth,
            heart_truth,
            breath: v.breathing.rate_per_min,
            heart: v.heart.rate_per_min,
            breath_conf: v.breathing.confidence,
            heart_conf: v.heart.confidence,
            breath_reason: reason(&v.breathing),
            heart_reason: reason(&v.heart),
            presence_ratio: v.presence_ratio,
            breath_distinct: v.breathing.distinctness,
        },
        None => RandomVitals {
            breath_truth,
            heart_truth,
            breath: None,
            heart: None,
            breath_conf: 0.0,
            heart_conf: 0.0,
            breath_reason: "no full window".into(),
            heart_reason: "no full window".into(),
            presence_ratio: None,
            breath_distinct: None,
        },
    }
}

/// Scores of a set of vital-sign windows for one rate (breathing or heart).
#[derive(Clone, Debug, Default)]
pub struct RateScore {
    pub windows: usize,
    pub given: usize,
    pub within: usize,
    /// Constant prediction (the median truth of the set) within the tolerance.
    pub constant_within: usize,
    /// A uniform random guess over the band within the tolerance (expected count).
    pub chance_within: f64,
    pub errors: Vec<f64>,
}

impl RateScore {
    /// Scores `(truth, estimate)` pairs with tolerance `tol` over the search band `band`.
    pub fn of(pairs: &[(f64, Option<f64>)], tol: f64, band: [f64; 2]) -> RateScore {
        let truths: Vec<f64> = pairs.iter().map(|p| p.0).collect();
        let med = median(&truths).unwrap_or(0.0);
        let mut s = RateScore {
            windows: pairs.len(),
            ..RateScore::default()
        };
        for &(t, e) in pairs {
            if let Some(e) = e {
                s.given += 1;
                s.errors.push((e - t).abs());
                s.within += usize::from((e - t).abs() <= tol);
            }
            s.constant_within += usize::from((med - t).abs() <= tol);
            // probability that a uniform guess over the band lands within tol of t
            let lo = (t - tol).max(band[0]);
            let hi = (t + tol).min(band[1]);
            s.chance_within += ((hi - lo) / (band[1] - band[0])).max(0.0);
        }
        s
    }

    /// Fraction of given estimates within the tolerance.
    pub fn accuracy(&self) -> Option<f64> {
        (self.given > 0).then(|| self.within as f64 / self.given as f64)
    }

    /// Fraction of windows with an estimate.
    pub fn coverage(&self) -> f64 {
        self.given as f64 / self.windows.max(1) as f64
    }

    /// Fraction of all windows with an estimate within the tolerance.
    pub fn within_all(&self) -> f64 {
        self.within as f64 / self.windows.max(1) as f64
    }
}

/// Events and vital signs, one estimate per second over `window_s` windows: the vital-sign
/// windows follow the event detector's motion state, as with `run --events --vitals`.
/// The default vital-sign configuration; `SENSING_PHASE=1` switches the (opt-in) phase
/// features on (the README's phase-feature columns), `SENSING_SMOOTH=R` sets the smooth basis
/// (`SENSING_SMOOTH=0`: the previous release's features), `SENSING_MIN=D` the breathing
/// distinctness threshold (`SENSING_MIN=1` reports nearly every peak with its distinctness: the
/// README's threshold curves).
pub fn vitals_config() -> wifi_sensing_signal::vitals::VitalsConfig {
    let d = wifi_sensing_signal::vitals::VitalsConfig::default();
    wifi_sensing_signal::vitals::VitalsConfig {
        phase_features: std::env::var("SENSING_PHASE").map_or(d.phase_features, |v| v == "1"),
        smooth_basis: std::env::var("SENSING_SMOOTH")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d.smooth_basis),
        min_distinctness: std::env::var("SENSING_MIN")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d.min_distinctness),
        ..d
    }
}

fn vitals_analyser(
    window_s: f64,
    vitals: wifi_sensing_signal::vitals::VitalsConfig,
) -> SensingAnalyser {
    let cfg = SensingConfig {
        vitals: Some(wifi_sensing_signal::vitals::VitalsConfig {
            window_s,
            hop_s: 1.0,
            ..vitals
        }),
        ..SensingConfig::default()
    };
    SensingAnalyser::new(cfg, None).expect("analyser")
}

/// One window of the breathing-gap diagnosis (`sensing_eval -- gap`): the estimator's
/// breathing peak with every peak reported (its distinctness whatever the threshold) and what
/// an oracle ([`vitals_oracle`]) sees of the breath in the same session.
#[derive(Clone, Debug)]
pub struct GapWindow {
    pub truth: f64,
    /// The estimator's highest breathing peak, /min (`None`: no full window or no peak).
    pub peak: Option<f64>,
    /// Its distinctness (peak power over the band's median).
    pub distinct: Option<f64>,
    /// The oracle's per-bin breathing SNR, dB (amplitude).
    pub oracle_db: f64,
}

/// Where the breathing windows of a set go at a threshold: given and right, given and wrong,
/// refused although the highest peak was at the truth, refused with the peak elsewhere (or no
/// peak); each also counted among the windows the oracle puts at `reach_db` or more.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GapSummary {
    pub windows: usize,
    /// Windows with the oracle at `reach_db` or more.
    pub reachable: usize,
    pub given_right: usize,
    pub given_wrong: usize,
    pub refused_right_peak: usize,
    pub refused_other: usize,
    /// Reachable windows refused although the highest peak was at the truth.
    pub reachable_refused_right_peak: usize,
    /// Reachable windows refused with the peak elsewhere or none.
    pub reachable_refused_other: usize,
}

impl GapSummary {
    /// Scores `w` at distinctness `threshold`; a peak within 1 /min of the truth is right.
    pub fn of(w: &[GapWindow], threshold: f64, reach_db: f64) -> GapSummary {
        let mut s = GapSummary {
            windows: w.len(),
            ..GapSummary::default()
        };
        for x in w {
            let reach = x.oracle_db >= reach_db;
            s.reachable += usize::from(reach);
            let right = x.peak.is_some_and(|p| (p - x.truth).abs() <= 1.0);
            let given = x.peak.is_some() && x.distinct.is_some_and(|d| d >= threshold);
            match (given, right) {
                (true, true) => s.given_right += 1,
                (true, false) => s.given_wrong += 1,
                (false, true) => {
                    s.refused_right_peak += 1;
                    s.reachable_refused_right_peak += usize::from(reach);
                }
                (false, false) => {
                    s.refused_other += 1;
                    s.reachable_refused_other += usize::from(reach);
                }
            }
        }
        s
    }
}
