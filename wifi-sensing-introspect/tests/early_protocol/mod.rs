//! The protocol of the early-labelling measurement on simulated sessions with known onsets
//! (signatures from development seeds, evaluation and idle sessions, the two-stage decision and
//! its scores), shared by the `early_detection` example (which prints every figure, see its
//! docs for the protocol) and the `early_figures` test (which pins the aggregate figures of
//! the shipped settings on the development set).
#![allow(dead_code)]

pub mod templates;

use wifi_sensing_core::sim::body::Activity;
use wifi_sensing_core::sim::{DeviceProfile, Scenario, Simulator};
use wifi_sensing_introspect::dtw::SpringMatcher;
use wifi_sensing_introspect::early::{EarlyConfig, EarlyDecider};
use wifi_sensing_introspect::features::{FeatureConfig, FeatureExtractor, FeatureKind};
use wifi_sensing_introspect::signature::{Provenance, Signature};
use wifi_sensing_signal::events::EventKind;
use wifi_sensing_signal::{Sensed, SensingAnalyser, SensingConfig};

pub const RATE: f64 = 50.0;
/// Default signature length (frames from the true onset), and the tail after an activity during
/// which its label may still fire.
pub const SIG_FRAMES: usize = 64;
/// Default signature length, frames from the true onset (`--sig-frames`).
pub const SIG_LEN: usize = 128;
pub const LABELS: [&str; 4] = ["walk", "wave", "push", "sit"];
/// Warm-up of the event path (its default `warmup_s` is 10 s).
pub const LEAD_IN_S: f64 = 12.0;
/// Quiet frames that close a motion episode.
pub const CLOSE_AFTER: usize = 75;
/// Offsets (frames) between the episode's onset estimate and the signature's onset tried by the
/// aligned stage 2 (`max_offset` 16).
pub const OFFSETS: usize = 17;
/// Frames after the true onset at which the body's displacement is tabulated.
pub const KIN_FRAMES: [usize; 7] = [1, 2, 3, 4, 8, 16, 32];

#[derive(Clone, Copy)]
pub struct Spot {
    pub x: f64,
    pub y: f64,
    pub height: f64,
}

impl Spot {
    pub fn heading(&self) -> f64 {
        if self.y < 2.0 {
            90.0
        } else {
            270.0
        }
    }
}

pub fn segment(act: &str, dur: f64, s: Spot) -> String {
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

pub fn scenario(segments: &[(&str, f64)], spot: Spot) -> Scenario {
    let tl: Vec<String> = segments.iter().map(|(a, d)| segment(a, *d, spot)).collect();
    let total: f64 = segments.iter().map(|s| s.1).sum();
    let doc = format!(
        r#"{{"name": "early-detection", "duration_s": {total}, "rate_hz": {RATE}, "person": {{"height_m": {}}}, "timeline": [{}]}}"#,
        spot.height,
        tl.join(", ")
    );
    Scenario::from_json_str(&doc).expect("scenario")
}

pub fn activity_of(name: &str) -> Activity {
    match name {
        "walk" => Activity::Walk,
        "wave" => Activity::Wave,
        "push" => Activity::Push,
        "sit" => Activity::Sit,
        "absent" => Activity::Absent,
        _ => Activity::Stand,
    }
}

pub fn label_of(a: Activity) -> Option<usize> {
    LABELS.iter().position(|&l| activity_of(l) == a)
}

/// A tiny deterministic generator for the session plans.
pub struct Lcg(pub u64);
impl Lcg {
    pub fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * (self.next() % 10_000) as f64 / 10_000.0
    }
    pub fn spot(&mut self) -> Spot {
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
pub fn session_plan<'a>(rng: &mut Lcg, acts: &[&'a str]) -> Vec<(&'a str, f64)> {
    let mut plan: Vec<(&str, f64)> = vec![("stand", LEAD_IN_S)];
    while plan.iter().map(|p| p.1).sum::<f64>() < 70.0 {
        let a = acts[(rng.next() % acts.len() as u64) as usize];
        plan.push((a, rng.uniform(3.0, 6.0)));
        plan.push(("stand", rng.uniform(2.0, 5.0)));
    }
    plan
}

/// One simulated session, reduced to what the scoring needs.
pub struct Session {
    /// Stream features, one row per delivered frame.
    pub features: Vec<Vec<f32>>,
    /// Lag-1, lag-2 and lag-4 values of `motion_lags_v1`.
    pub motion: Vec<[f32; 3]>,
    pub activity: Vec<Activity>,
    pub motion_started: Vec<bool>,
    /// The 17 keypoints in metres (room coordinates), when a person is present.
    pub keypoints: Vec<Option<[[f64; 3]; 17]>>,
}

pub fn simulate(sc: Scenario, seed: u64, sensing: bool, kind: FeatureKind) -> Session {
    let room = sc.room.size_m;
    let sim = Simulator::new(sc, DeviceProfile::esp32(), seed).expect("sim");
    let mut fx = FeatureExtractor::new(FeatureConfig {
        kind,
        ..FeatureConfig::default()
    })
    .expect("features");
    let mut ev = SensingAnalyser::new(SensingConfig::default(), None).expect("sensing");
    let mut sensed = Vec::new();
    let mut s = Session {
        features: Vec::new(),
        motion: Vec::new(),
        activity: Vec::new(),
        motion_started: Vec::new(),
        keypoints: Vec::new(),
    };
    for (frame, truth) in sim {
        let x = fx.extract(&frame).expect("features").to_vec();
        s.motion.push([x[0], x[1], x[2]]);
        s.features.push(x);
        s.activity.push(truth.activity);
        s.keypoints.push(
            truth
                .keypoints
                .map(|k| k.map(|p| [0, 1, 2].map(|i| f64::from(p[i]) * room[i]))),
        );
        let mut started = false;
        if sensing {
            sensed.clear();
            ev.push(&frame, &mut sensed).expect("sensing");
            started = sensed
                .iter()
                .any(|e| matches!(e, Sensed::Event(e) if e.event == EventKind::MotionStarted));
        }
        s.motion_started.push(started);
    }
    s
}

/// Activity onsets (frame, label) after the lead-in.
pub fn onsets(s: &Session) -> Vec<(usize, usize)> {
    let lead = (LEAD_IN_S * RATE) as usize;
    let mut out = Vec::new();
    for t in 1..s.activity.len() {
        if s.activity[t] != s.activity[t - 1] && t >= lead {
            if let Some(l) = label_of(s.activity[t]) {
                out.push((t, l));
            }
        }
    }
    out
}

/// End (exclusive) of the activity starting at `t`.
pub fn activity_end(s: &Session, t: usize) -> usize {
    let a = s.activity[t];
    (t..s.activity.len())
        .find(|&u| s.activity[u] != a)
        .unwrap_or(s.activity.len())
}

/// Label signatures: `sigs[label]` holds that label's signatures (flattened, 64 × dim).
pub struct Library {
    pub sigs: Vec<Vec<Vec<f32>>>,
    pub dim: usize,
    /// Sessions per label the signatures come from.
    pub sessions: u64,
    /// Frames per signature.
    pub len: usize,
    /// Per label and signature, the standard deviation of each value over the sessions
    /// averaged into it (`--weights spread`, mean mode), flattened like the signature.
    pub spread: Option<Vec<Vec<Vec<f32>>>>,
    /// Stage 2's weights derived from `spread` as [`EarlyDecider`] derives them (for the
    /// accuracy table with the onset given), per label and signature.
    pub weights: Option<Vec<Vec<Vec<f32>>>>,
    /// Per label and signature, the sessions averaged into it (mean mode; several templates
    /// per label with `--templates`).
    pub sizes: Vec<Vec<usize>>,
    pub kind: FeatureKind,
    /// Models of other motion (`--other return`): per activity, the mean of the first `len`
    /// frames of the return to standing after it, and their spread (with `--weights spread`).
    pub other: Vec<(String, Vec<f32>, Option<Vec<f32>>)>,
}

impl Library {
    /// The signatures as files would hold them (label order as `LABELS`).
    pub fn signatures(&self) -> Vec<Signature> {
        let mut out = Vec::new();
        for (l, v) in self.sigs.iter().enumerate() {
            for (i, s) in v.iter().enumerate() {
                out.push(Signature {
                    id: if v.len() == 1 {
                        LABELS[l].to_string()
                    } else {
                        format!("{}-{i}", LABELS[l])
                    },
                    label: LABELS[l].to_string(),
                    captured_at: "2026-12-05T15:00:00Z".into(),
                    feature_kind: self.kind,
                    length: self.len,
                    dtw: Default::default(),
                    // The shortest text of each f32 (reads back to the same f32).
                    vectors: s
                        .chunks(self.dim)
                        .map(|r| r.iter().map(|v| v.to_string().parse().unwrap()).collect())
                        .collect(),
                    // Not read by early labelling (which compares labels), but required.
                    promotion_threshold: 0.5,
                    prefix_thresholds: None,
                    min_prefix: None,
                    spread: self.spread.as_ref().map(|sp| {
                        sp[l][i]
                            .chunks(self.dim)
                            .map(|r| r.iter().map(|v| v.to_string().parse().unwrap()).collect())
                            .collect()
                    }),
                    provenance: Some(Provenance {
                        rule: Some(format!(
                            "early_detection example: frames 0..{} from the true onset of {} simulated {} sessions (development seeds){}{}",
                            self.len,
                            self.sessions,
                            LABELS[l],
                            match self.sizes.get(l).map(Vec::as_slice) {
                                Some([_]) => ", averaged frame by frame".to_string(),
                                Some(sz) if sz.len() == v.len() => format!(
                                    ", template {} of {}: the {} sessions of its k-means group, averaged frame by frame",
                                    i + 1,
                                    sz.len(),
                                    sz[i]
                                ),
                                _ => String::new(),
                            },
                            if self.spread.is_some() { "; spread: their standard deviation" } else { "" }
                        )),
                        ..Provenance::default()
                    }),
                });
            }
        }
        out
    }

    /// The models of other motion as signature files (label `other`).
    pub fn other_signatures(&self) -> Vec<Signature> {
        let rows = |v: &[f32]| -> Vec<Vec<f64>> {
            v.chunks(self.dim)
                .map(|r| r.iter().map(|v| v.to_string().parse().unwrap()).collect())
                .collect()
        };
        self.other
            .iter()
            .map(|(id, m, sp)| Signature {
                id: id.clone(),
                label: "other".into(),
                captured_at: "2026-12-06T11:00:00Z".into(),
                feature_kind: self.kind,
                length: self.len,
                dtw: Default::default(),
                vectors: rows(m),
                promotion_threshold: 0.5,
                prefix_thresholds: None,
                min_prefix: None,
                spread: sp.as_deref().map(rows),
                provenance: Some(Provenance {
                    rule: Some(format!(
                        "early_detection example: frames 0..{} from the return to standing ({id}) of {} simulated sessions (development seeds), averaged frame by frame{}",
                        self.len,
                        self.sessions,
                        if sp.is_some() { "; spread: their standard deviation" } else { "" }
                    )),
                    ..Provenance::default()
                }),
            })
            .collect()
    }

    pub fn matchers(&self) -> Vec<(usize, SpringMatcher<f32>)> {
        let mut out = Vec::new();
        for (l, v) in self.sigs.iter().enumerate() {
            for s in v {
                let q: Vec<f64> = s.iter().map(|&x| f64::from(x)).collect();
                out.push((l, SpringMatcher::<f32>::new(&q, self.dim).expect("matcher")));
            }
        }
        out
    }
}

/// Per-label costs of prefix `k` from the matchers' current state.
pub fn label_costs(ms: &[(usize, SpringMatcher<f32>)], k: usize, out: &mut [f64]) {
    out.fill(f64::INFINITY);
    for (l, m) in ms {
        let c = f64::from(m.prefix_costs()[k - 1]) / k as f64;
        if c < out[*l] {
            out[*l] = c;
        }
    }
}

pub fn best_two(c: &[f64]) -> (usize, f64) {
    let mut idx: Vec<usize> = (0..c.len()).collect();
    idx.sort_by(|&a, &b| c[a].total_cmp(&c[b]));
    let conf = c[idx[1]] / c[idx[0]].max(1e-12) - 1.0;
    (idx[0], conf)
}

/// Detector settings.
#[derive(Clone, Copy, Debug)]
pub struct Rule {
    /// Stage 1 also opens on `MotionStarted` of the same frames.
    pub ms_or: bool,
    pub gate: f32,
    pub persist: usize,
    pub margin: f64,
    pub min_frames: usize,
    /// Forced decision at this many episode frames (0: none).
    pub decide_at: usize,
    /// Still frames that close an episode.
    pub close_after: usize,
    /// Still frames in an open episode after which `MotionStarted` starts a new one.
    pub restart_after: usize,
    /// `EarlyConfig::late_margin`.
    pub late_margin: f64,
    /// Per label (walk, wave, push, sit), a factor on `margin` and `late_margin` for committing
    /// that label (`--label-factors`; all 1: the decider's own rule). Other than 1, the
    /// decision is taken here from the decider's best label and confidence.
    pub label_factor: [f64; 4],
}

/// What one rule did on one set of sessions.
/// Label, unlabelled latency, labelled latency of the right label, first label fired within
/// the activity, `MotionStarted` latency.
pub type OnsetScore = (
    usize,
    Option<usize>,
    Option<usize>,
    Option<usize>,
    Option<usize>,
);
/// Unlabelled latency, labelled latency, first label (while an onset is scored).
pub type Partial = (Option<usize>, Option<usize>, Option<usize>);

#[derive(Default, Clone)]
pub struct Score {
    /// Per onset: (label, unlabelled latency, labelled latency of the right label, first label
    /// fired within the activity, `MotionStarted` latency).
    pub onsets: Vec<OnsetScore>,
    pub false_label: [usize; 4],
    /// False label firings by the true activity at the firing (the labels', standing,
    /// absent).
    pub false_by_act: [usize; 6],
    /// False label firings while standing, by the activity before the standing stretch and the
    /// label fired (`[previous][label]`).
    pub false_stand: [[usize; 4]; 4],
    pub nonmatch_frames: [u64; 4],
    pub quiet_frames: u64,
    pub quiet_open: usize,
    pub idle_frames: u64,
    pub idle_open: usize,
    pub idle_label: usize,
}

/// Runs the two-stage decision over `s` for every rule: stage 1 (and with `aligned`, stage 2)
/// is the library's [`EarlyDecider`]; with `spring`, stage 2 reads the SPRING prefix costs.
pub fn run_rules(
    s: &Session,
    lib: &Library,
    rules: &[Rule],
    scores: &mut [Score],
    idle: bool,
    aligned: bool,
    why: bool,
) {
    let mut ms = lib.matchers();
    let custom = |r: &Rule| aligned && r.label_factor != [1.0; 4];
    let mut deciders: Vec<EarlyDecider> = rules
        .iter()
        .map(|r| {
            let own = aligned && !custom(r);
            let cfg = EarlyConfig {
                gate: f64::from(r.gate),
                persist: r.persist,
                close_after: r.close_after,
                restart_after: r.restart_after,
                max_offset: OFFSETS - 1,
                // SPRING stage 2 decides here; the decider only opens and closes episodes.
                margin: if own { r.margin } else { 1e300 },
                min_frames: r.min_frames,
                decide_at: if own { r.decide_at } else { 0 },
                late_margin: r.late_margin,
            };
            EarlyDecider::new(cfg, &lib.signatures())
                .and_then(|d| d.with_other(&lib.other_signatures()))
                .expect("decider")
        })
        .collect();
    let n_rules = rules.len();
    let mut spring_fired: Vec<Option<usize>> = vec![None; n_rules];
    let ons = if idle { Vec::new() } else { onsets(s) };
    let mut per_onset: Vec<Vec<Partial>> = vec![vec![(None, None, None); ons.len()]; n_rules];
    let mut open_at_onset = vec![vec![false; ons.len()]; n_rules];
    let mut costs = [0.0f64; 4];
    let lead = (LEAD_IN_S * RATE) as usize;
    // Guard (end of each label's last activity + 64) and quiet start.
    let mut guard = [0usize; 4];
    let mut quiet_from = lead;
    let mut cur_onset: Option<usize> = None;
    let mut prev_label: Option<usize> = None;
    for t in 0..s.features.len() {
        for (_, m) in ms.iter_mut() {
            m.push(&s.features[t]).expect("push");
        }
        let act = s.activity[t];
        if t > 0 && act != s.activity[t - 1] {
            if let Some(l) = label_of(s.activity[t - 1]) {
                guard[l] = t + SIG_FRAMES;
                quiet_from = quiet_from.max(t + SIG_FRAMES);
                prev_label = Some(l);
            }
            cur_onset = ons.iter().position(|&(o, _)| o == t);
        }
        let quiet_frame =
            matches!(act, Activity::Stand | Activity::Absent) && t >= quiet_from && !idle;
        for (r, rule) in rules.iter().enumerate() {
            if let Some(i) = cur_onset.filter(|&i| ons[i].0 == t) {
                open_at_onset[r][i] = deciders[r].state().moving;
            }
            let st = *deciders[r]
                .push_with_onset(&s.features[t], rule.ms_or && s.motion_started[t])
                .expect("decider");
            let sc = &mut scores[r];
            if idle {
                sc.idle_frames += 1;
            } else {
                sc.quiet_frames += u64::from(quiet_frame);
                for (l, g) in guard.iter().enumerate() {
                    if label_of(act) != Some(l) && t >= *g {
                        sc.nonmatch_frames[l] += 1;
                    }
                }
            }
            if st.opened {
                spring_fired[r] = None;
            }
            if t < lead {
                continue;
            }
            if st.opened {
                if idle {
                    sc.idle_open += 1;
                } else if quiet_frame {
                    sc.quiet_open += 1;
                }
                if let Some(i) = cur_onset {
                    let po = &mut per_onset[r][i];
                    if po.0.is_none() && label_of(act) == Some(ons[i].1) {
                        po.0 = Some(t - ons[i].0);
                    }
                }
            }
            let fired = if custom(rule) {
                // The decider's rule with the committed label's factor on both margins.
                let n = st.episode_frames;
                match st.best {
                    Some(b)
                        if st.moving
                            && spring_fired[r].is_none()
                            && n >= rule.min_frames
                            && n <= lib.len =>
                    {
                        let f = rule.label_factor[b];
                        let sure = st.confidence >= rule.margin * f
                            || (rule.decide_at != 0
                                && n >= rule.decide_at
                                && st.confidence >= rule.late_margin * f);
                        sure.then(|| {
                            spring_fired[r] = Some(b);
                            b
                        })
                    }
                    _ => None,
                }
            } else if aligned {
                st.decided.filter(|_| st.decided_now)
            } else {
                let n = st.episode_frames;
                if st.moving && spring_fired[r].is_none() && n >= rule.min_frames && n <= lib.len {
                    label_costs(&ms, (n + 2).min(lib.len), &mut costs);
                    let (b, conf) = best_two(&costs);
                    (conf >= rule.margin).then(|| {
                        spring_fired[r] = Some(b);
                        b
                    })
                } else {
                    None
                }
            };
            if let Some(b) = fired {
                if idle {
                    sc.idle_label += 1;
                } else {
                    if label_of(act) != Some(b) && t >= guard[b] {
                        sc.false_label[b] += 1;
                        let a =
                            label_of(act).unwrap_or(if act == Activity::Absent { 5 } else { 4 });
                        sc.false_by_act[a] += 1;
                        if act == Activity::Stand {
                            if let Some(p) = prev_label {
                                sc.false_stand[p][b] += 1;
                            }
                        }
                    }
                    if let Some(i) = cur_onset {
                        let po = &mut per_onset[r][i];
                        if label_of(act) == Some(ons[i].1) {
                            if po.2.is_none() {
                                po.2 = Some(b);
                            }
                            if b == ons[i].1 && po.1.is_none() {
                                po.1 = Some(t - ons[i].0);
                            }
                        }
                    }
                }
            }
        }
    }
    for r in 0..n_rules {
        for (i, &(_, l)) in ons.iter().enumerate() {
            let (u, lab, first) = per_onset[r][i];
            let o = ons[i].0;
            let ms = (o..activity_end(s, o))
                .find(|&t| s.motion_started[t])
                .map(|t| t - o);
            scores[r].onsets.push((l, u, lab, first, ms));
            if why && rules[r].ms_or && ms.is_some_and(|m| u.is_none_or(|u| u > m)) {
                println!(
                    "why: rule {r}, {} onset at frame {o}: MotionStarted {ms:?}, opened {u:?}, episode already open at the onset: {}",
                    LABELS[l], open_at_onset[r][i]
                );
            }
        }
    }
}

/// Frame-by-frame mean of equally long flattened signatures, and the standard deviation of each
/// value over them (as the label signatures').
pub fn mean_spread(v: &[Vec<f32>]) -> (Vec<f32>, Vec<f32>) {
    let n = v.len() as f32;
    let mut m = vec![0.0f32; v[0].len()];
    for s in v {
        for (a, b) in m.iter_mut().zip(s) {
            *a += b / n;
        }
    }
    let k = v.len() as f64;
    let sd = (0..m.len())
        .map(|i| {
            let mu: f64 = v.iter().map(|s| f64::from(s[i])).sum::<f64>() / k;
            let var = v
                .iter()
                .map(|s| (f64::from(s[i]) - mu).powi(2))
                .sum::<f64>()
                / (k - 1.0);
            var.sqrt() as f32
        })
        .collect();
    (m, sd)
}

pub fn median(v: &mut [usize]) -> Option<usize> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    Some(v[v.len() / 2])
}

pub fn pct90(v: &mut [usize]) -> Option<usize> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    Some(v[((v.len() - 1) as f64 * 0.9).round() as usize])
}

/// How the label signatures and the models of other motion are made (steps 1 and 8 of the
/// example's protocol).
#[derive(Clone, Debug)]
pub struct SignatureOptions {
    /// Sessions per label (`--sig-sessions`, default 24).
    pub sessions: u64,
    /// Frames per signature (`--sig-frames`, default [`SIG_LEN`]).
    pub len: usize,
    /// Average the sessions frame by frame (`--sig-mode mean`, default) or keep each
    /// (`several`).
    pub mean: bool,
    /// Keep the spread of the values over the sessions (`--weights spread`, default) or not
    /// (`none`).
    pub spread: bool,
    pub kind: FeatureKind,
    /// Models of other motion, the returns to standing after these activities (`--other
    /// return --other-after ...`; empty: none).
    pub other_after: Vec<String>,
    /// Also give the signatures' mean values over frames 0..4, 4..16 and 16..64, as lines
    /// (`--dump`).
    pub dump: bool,
    /// Templates per label, in the order of [`LABELS`] (mean mode, `--templates`, default
    /// `[1, 1, 2, 1]`, two for push, as shipped; 1 is one barycentre): the label's sessions
    /// split by k-means on their weighted sequences, each group averaged.
    pub templates: [usize; 4],
    /// Split by the side of the link the person stands on instead of k-means (two templates,
    /// `--template-split side`).
    pub split_side: bool,
    /// Smallest group of sessions per template (`--template-min`).
    pub template_min: usize,
    /// Pseudo-sessions of the label's pooled variance added to each template's
    /// (`--template-prior`, default 4; see [`templates::template`]).
    pub template_prior: f64,
}

impl Default for SignatureOptions {
    fn default() -> Self {
        SignatureOptions {
            sessions: 24,
            len: SIG_LEN,
            mean: true,
            spread: true,
            kind: FeatureKind::MotionLagsV1,
            other_after: Vec::new(),
            dump: false,
            // the shipped signatures: two templates for push (the templates round)
            templates: [1, 1, 2, 1],
            split_side: false,
            template_min: 4,
            template_prior: 4.0,
        }
    }
}

/// Per label, the mean over the signature sessions of the largest keypoint displacement from
/// the last standing frame, metres, at [`KIN_FRAMES`] frames after the onset.
pub type Kinematics = [[f64; KIN_FRAMES.len()]; 4];

/// The label signatures (and models of other motion) from development seeds, the body
/// displacement of their sessions and, with `dump`, the lines of their mean values.
pub fn build_library(o: &SignatureOptions) -> (Library, Kinematics, Vec<String>) {
    let (sig_sessions, sig_len, kind) = (o.sessions, o.len, o.kind);
    let mut sigs: Vec<Vec<Vec<f32>>> = vec![Vec::new(); LABELS.len()];
    let mut dim = 0;
    let mut srng = Lcg(4242);
    let mut kin = [[0.0f64; KIN_FRAMES.len()]; LABELS.len()];
    // Per label and session, the person stands on the far side of the link (y > 2 m).
    let mut far_side: Vec<Vec<bool>> = vec![Vec::new(); LABELS.len()];
    for (a, &label) in LABELS.iter().enumerate() {
        for s in 0..sig_sessions {
            let spot = srng.spot();
            far_side[a].push(spot.y > 2.0);
            let sc = scenario(&[("stand", LEAD_IN_S), (label, 6.0)], spot);
            let sess = simulate(sc, 1 + 10 * a as u64 + s, false, kind);
            let o = (0..sess.activity.len())
                .find(|&t| label_of(sess.activity[t]) == Some(a))
                .expect("onset");
            dim = sess.features[0].len();
            for (i, &k) in KIN_FRAMES.iter().enumerate() {
                if let (Some(p0), Some(p1)) = (&sess.keypoints[o - 1], &sess.keypoints[o - 1 + k]) {
                    let d = p0
                        .iter()
                        .zip(p1)
                        .map(|(p, q)| (0..3).map(|j| (p[j] - q[j]).powi(2)).sum::<f64>().sqrt())
                        .fold(0.0, f64::max);
                    kin[a][i] += d / sig_sessions as f64;
                }
            }
            let flat: Vec<f32> = sess.features[o..o + sig_len]
                .iter()
                .flatten()
                .copied()
                .collect();
            sigs[a].push(flat);
        }
    }
    let mut dump = Vec::new();
    if o.dump {
        for (a, v) in sigs.iter().enumerate() {
            for (lo, hi) in [(0, 4), (4, 16), (16, 64)] {
                let mut m = vec![0.0f64; dim];
                for s in v {
                    for i in lo..hi {
                        for j in 0..dim {
                            m[j] += f64::from(s[i * dim + j]) / ((hi - lo) * v.len()) as f64;
                        }
                    }
                }
                let m: Vec<String> = m.iter().map(|x| format!("{x:.1}")).collect();
                dump.push(format!("{} frames {lo}..{hi}: {}", LABELS[a], m.join(" ")));
            }
        }
    }
    // Mean mode: the sessions of a label averaged frame by frame, into one barycentre or (with
    // `templates`) one per group of similar sessions.
    let mut spread = None;
    let mut weights = None;
    let mut sizes: Vec<Vec<usize>> = sigs.iter().map(|v| vec![v.len()]).collect();
    if o.mean {
        let n = sig_len * dim;
        // Per label, the variance of each value over all its sessions.
        let pooled: Vec<Vec<f64>> = sigs
            .iter()
            .map(|v| {
                let k = v.len() as f64;
                (0..n)
                    .map(|i| {
                        let m: f64 = v.iter().map(|s| f64::from(s[i])).sum::<f64>() / k;
                        v.iter().map(|s| (f64::from(s[i]) - m).powi(2)).sum::<f64>() / (k - 1.0)
                    })
                    .collect()
            })
            .collect();
        let pooled_mean = pooled.iter().flatten().sum::<f64>() / (n * LABELS.len()) as f64;
        // Per label, its sessions' groups (one of all by default) and their templates.
        let mut means: Vec<Vec<Vec<f32>>> = Vec::new();
        let mut vars: Vec<Vec<Vec<f64>>> = Vec::new();
        for (l, v) in sigs.iter().enumerate() {
            let groups = if o.templates[l] <= 1 {
                vec![(0..v.len()).collect::<Vec<usize>>()]
            } else if o.split_side {
                [false, true]
                    .iter()
                    .map(|&f| (0..v.len()).filter(|&i| far_side[l][i] == f).collect())
                    .filter(|g: &Vec<usize>| !g.is_empty())
                    .collect()
            } else {
                // The metric: the label's pooled weights (as its one barycentre would have).
                let w: Vec<f32> = pooled[l]
                    .iter()
                    .map(|&x| (1.0 / (x + 0.1 * pooled_mean)) as f32)
                    .collect();
                templates::kmeans_groups(v, &w, o.templates[l], o.template_min, 17 + l as u64)
            };
            let (m, var): (Vec<Vec<f32>>, Vec<Vec<f64>>) = groups
                .iter()
                .map(|g| templates::template(v, g, &pooled[l], o.template_prior))
                .unzip();
            sizes[l] = groups.iter().map(Vec::len).collect();
            means.push(m);
            vars.push(var);
        }
        // With the spread: each signature carries the standard deviation of its values over
        // its sessions, and stage 2 weighs squared differences by `1 / (σ² + mean σ² / 10)`,
        // the mean over every signature (the decider's rule, see `early`).
        if o.spread {
            let n_sigs: usize = vars.iter().map(Vec::len).sum();
            let mean_var =
                vars.iter().flatten().flatten().sum::<f64>() / (n * n_sigs.max(1)) as f64;
            weights = Some(
                vars.iter()
                    .map(|t| {
                        t.iter()
                            .map(|var| {
                                var.iter()
                                    .map(|&x| (1.0 / (x + 0.1 * mean_var)) as f32)
                                    .collect()
                            })
                            .collect()
                    })
                    .collect(),
            );
            spread = Some(
                vars.iter()
                    .map(|t| {
                        t.iter()
                            .map(|var| var.iter().map(|&x| x.sqrt() as f32).collect())
                            .collect()
                    })
                    .collect(),
            );
        }
        sigs = means;
    }
    // Models of other motion (development seeds of their own): per activity, `sessions`
    // sessions of 12 s standing, the activity for 3..6 s, then standing; the first `len` frames
    // from the return to standing (standing up, lowering the arm, stopping), averaged, with
    // their spread as the labels'.
    let mut other = Vec::new();
    let mut orng = Lcg(4343);
    for (a, &label) in LABELS.iter().enumerate() {
        if !o.other_after.iter().any(|l| l == label) {
            continue;
        }
        let mut cuts: Vec<Vec<f32>> = Vec::new();
        for s in 0..sig_sessions {
            let spot = orng.spot();
            let dur = orng.uniform(3.0, 6.0);
            let sc = scenario(&[("stand", LEAD_IN_S), (label, dur), ("stand", 6.0)], spot);
            let sess = simulate(sc, 300_000 + 100 * a as u64 + s, false, kind);
            let o = (1..sess.activity.len())
                .find(|&t| {
                    label_of(sess.activity[t - 1]) == Some(a) && sess.activity[t] == Activity::Stand
                })
                .expect("return");
            cuts.push(
                sess.features[o..o + sig_len]
                    .iter()
                    .flatten()
                    .copied()
                    .collect(),
            );
        }
        let (m, sd) = mean_spread(&cuts);
        other.push((format!("other-after-{label}"), m, o.spread.then_some(sd)));
    }
    let lib = Library {
        sigs,
        dim,
        sessions: sig_sessions,
        len: sig_len,
        spread,
        weights,
        sizes,
        kind,
        other,
    };
    (lib, kin, dump)
}

/// The evaluation sessions (seeds `seed0 + 7 s`) and the idle sessions (`seed0 + 5000 + s`) of
/// a set (steps 2 and 3 of the example's protocol).
pub fn evaluation_sessions(
    seed0: u64,
    sessions: u64,
    idle_sessions: u64,
    kind: FeatureKind,
) -> (Vec<Session>, Vec<Session>) {
    let mut rng = Lcg(seed0);
    let mut evals = Vec::new();
    for s in 0..sessions {
        let spot = rng.spot();
        let plan = session_plan(&mut rng, &LABELS);
        evals.push(simulate(scenario(&plan, spot), seed0 + 7 * s, true, kind));
    }
    let mut idles = Vec::new();
    for s in 0..idle_sessions {
        let spot = rng.spot();
        let what = if s.is_multiple_of(2) {
            "absent"
        } else {
            "stand"
        };
        idles.push(simulate(
            scenario(&[(what, 60.0)], spot),
            seed0 + 5000 + s,
            true,
            kind,
        ));
    }
    (evals, idles)
}

/// Hours of `frames` at [`RATE`].
pub fn hours(frames: u64) -> f64 {
    frames as f64 / RATE / 3600.0
}

impl Rule {
    /// The shipped settings ([`EarlyConfig::default`], `MotionStarted` in stage 1): what
    /// `wifi-sensing run --introspect-early` runs.
    pub fn shipped() -> Rule {
        let d = EarlyConfig::default();
        Rule {
            ms_or: true,
            gate: d.gate as f32,
            persist: d.persist,
            margin: d.margin,
            min_frames: d.min_frames,
            decide_at: d.decide_at,
            close_after: d.close_after,
            restart_after: d.restart_after,
            late_margin: d.late_margin,
            label_factor: [1.0; 4],
        }
    }
}

impl Score {
    /// Onsets whose first label fired within the activity was the right one, and all onsets.
    pub fn right_first(&self) -> (usize, usize) {
        let right = self.onsets.iter().filter(|o| o.3 == Some(o.0)).count();
        (right, self.onsets.len())
    }

    /// False label firings per hour of each label's non-matching data (activity sessions).
    pub fn false_per_hour(&self) -> f64 {
        let fl: usize = self.false_label.iter().sum();
        let nm: f64 = self.nonmatch_frames.iter().map(|&f| hours(f)).sum();
        fl as f64 / nm.max(1e-9)
    }
}

/// Every rule's scores over the evaluation sessions `evals` and the idle sessions `idles`
/// (step 4 of the example's protocol; `aligned`: stage 2 as the decider runs it, else SPRING).
pub fn score_rules(
    evals: &[Session],
    idles: &[Session],
    lib: &Library,
    rules: &[Rule],
    aligned: bool,
    why: bool,
) -> Vec<Score> {
    let mut scores = vec![Score::default(); rules.len()];
    for s in evals {
        run_rules(s, lib, rules, &mut scores, false, aligned, why);
    }
    for s in idles {
        run_rules(s, lib, rules, &mut scores, true, aligned, why);
    }
    scores
}
