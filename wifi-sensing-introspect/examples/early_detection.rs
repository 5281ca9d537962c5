//! Early detection measured on simulated sessions with known onsets, side by side with the
//! windowed event path (`MotionStarted` of `wifi-sensing-signal`) on the same frames.
//!
//! ```text
//! cargo run --release -p wifi-sensing-introspect --example early_detection -- \
//!     [--sessions N] [--idle-sessions N] [--seed S] [--sig-sessions N] [--sig-frames L] \
//!     [--weights spread|none] [--ms-or 0,1] [--gate Z1,..] [--persist P1,..] \
//!     [--margins M1,..] [--min-frames K1,..] [--decide-at D1,..] [--close-after C1,..] \
//!     [--restart-after R1,..] [--late-margins L1,..] [--label-factors F1,..] \
//!     [--sig-mode mean|several] [--templates K] [--template-split kmeans|side] \
//!     [--template-min N] [--template-prior P] \
//!     [--stage2 aligned|spring] [--dump] \
//!     [--why] [--write-signatures DIR] [--kind motion_lags_v1|motion_doppler_v1] \
//!     [--other none|return] [--other-after walk,wave,push,sit] [--other-subdir NAME]
//! ```
//!
//! `--write-signatures DIR` writes the label signatures as signature files (`walk.json`, ...;
//! what `wifi-sensing run --introspect-early DIR` reads); with `--sessions 0 --idle-sessions 0`
//! it only does that (`fixtures/signatures/early/` was made so).
//!
//! Protocol (ESP32 profile, 50 Hz, the simulator's default room, noise and impairments):
//!
//! 1. **Signatures** (development seeds only): for each activity (walk, wave, push, sit-down),
//!    `--sig-sessions` sessions (default 24, seeds `1 + 10 a + s`), each with a person of random
//!    height (1.55..1.90 m) at a random spot (as the test sessions below), 12 s standing still,
//!    then the activity; a signature is the first `--sig-frames` frames (default 128, 2.56 s)
//!    of features from the true onset. `--sig-mode mean` (default) averages them frame by frame
//!    (a barycentre at the known onset: one signature per label) and, with `--weights spread`
//!    (default), keeps the standard deviation of each value over the sessions as the
//!    signature's `spread` (stage 2 then weighs differences by it, see `early`); `several`
//!    keeps every session's signature (the label's cost is then the lowest of its
//!    signatures'). `--templates K` (or `K_walk/K_wave/K_push/K_sit`, default `1/1/2/1`: two
//!    templates for push, as `fixtures/signatures/early/` ships; `1` is the single barycentre
//!    per label of the rounds before 2026-12-07), mean mode:
//!    several templates per label instead of one barycentre; the label's sessions are split
//!    into at most `K` groups of at least `--template-min` sessions (default 4) by k-means on
//!    their sequences (squared differences weighed as the label's one barycentre would weigh
//!    them; k-means++ seeding, 16 restarts, fixed seeds), or with `--template-split side` by
//!    the side of the link the person stood on, and each group is averaged into a signature
//!    (`walk-0`, `walk-1`, ...) with its own spread, the variance shrunk towards the label's
//!    over all its sessions with `--template-prior P` pseudo-sessions (default 4). The label's
//!    cost is the lowest of its templates', so the confidence still compares labels (the
//!    crate's MEASUREMENTS.md, round of 2026-12-07, templates: measured, then kept for push
//!    after a confirmation set). `--dump` prints
//!    the signatures' mean feature values over frames 0..4, 4..16 and 16..64 after the onset.
//! 2. **Evaluation sessions** (seeds `S + 7 s`): a person of random height at a random spot on
//!    either side of the link (x in 1.8..3.2 m, y in 0.9..1.5 or 2.5..3.1 m), 12 s standing
//!    still (the event path's warm-up), then activities of 3..6 s separated by 2..5 s of
//!    standing: every onset starts from stillness at a known frame. `--seed 100` is the
//!    development set every setting was chosen on: in a first pass the signature mode, gate,
//!    persistence, stage 2, margin and shortest prefix (`--sig-mode` both with
//!    `--sig-sessions` 8 and 24, `--stage2` both, `--gate 2,3,4 --persist 1,2
//!    --margins 0.2,0.3,0.5,1 --min-frames 8,16,32`), in a second the signature length, the
//!    weights, `MotionStarted` in stage 1, the closing time, the forced decision and the
//!    restart (`--sig-frames 64,128 --weights none,spread` (and per-value weights pooled over
//!    labels), `--sig-sessions 24,48`, both kinds, `--ms-or 0,1 --margins 0,0.3,0.6,1
//!    --min-frames 32,48,64,96,128 --decide-at 0,64,96 --close-after 50,60,75,90,100,150
//!    --restart-after 0,10,15,25,40,50,60`); `--seed 1000` is the test set, run with the
//!    chosen settings (the defaults: 128 averaged frames with spread, aligned stage 2, gate 3 on
//!    2 frames or `MotionStarted`, closing after 75, margin 0.6 from 32 frames, forced from 64
//!    with a lead of at least 0.2;
//!    without the forced decision and with `restart_after` 40 for comparison) and the
//!    alternatives the crate's MEASUREMENTS.md lists.
//! 3. **Idle sessions** (seeds `S + 5000 + s`): 60 s of an empty room or of a person standing
//!    still at a random spot.
//! 4. **Two-stage decision**, per frame:
//!    - stage 1, "something is moving": `x₁` (the lag-1 value of `motion_lags_v1`, a level step
//!      in noise deviations) above `--gate` on `--persist` consecutive frames opens a motion
//!      episode, and with `--ms-or 1` so does `MotionStarted` of the same frames
//!      (`EarlyDecider::push_with_onset`); its onset estimate is the first of the gate's frames.
//!      The episode closes after `--close-after` frames with `x₁`, `x₂`, `x₄` all below the
//!      gate; `--restart-after R` lets `MotionStarted` start a new one once the open one has
//!      been still for `R` frames.
//!    - stage 2, "which activity": in an open episode, `n` frames after its onset estimate
//!      (`n ≤ L`, the signature length), each signature's cost. `--stage2 aligned` (default):
//!      the squared distance of the episode's `n` frames to the signature's frames `δ..δ + n`
//!      (each difference weighed by the signature's spread, see `early`), divided by `n`, the
//!      lowest over offsets `δ` in 0..=16 with `δ + n ≤ L` (the gate opens some frames after
//!      the true onset); `spring`: the signature's SPRING cost of its first
//!      `k = min(n + 2, L)` frames against the stream ending now, divided by `k`. A label's
//!      cost is the lowest of its signatures'. The confidence is
//!      `second-best cost / best cost − 1`. The label fires (its `above_threshold` turns true)
//!      on the first frame with `n ≥ min-frames` and confidence at least `margin`, or from
//!      `n = decide-at` (0: never) on the first frame with confidence at least `late-margin`
//!      (default 0.2; 0: at `decide-at` whatever the confidence); one label per episode (the
//!      decision is committed). Each combination of the listed values is scored. The late
//!      margin was chosen in a third pass on the development set (`--decide-at 48,64,80,96
//!      --margins 0.6,0.8,1 --late-margins 0,0.1,0.2,0.3,0.45`, with and without the model of
//!      other motion after a wave, `--margins 0.45,0.6 --min-frames 32,48` with it).
//!      `--label-factors` (entries `walk/wave/push/sit`, default `1/1/1/1`) multiplies both
//!      margins for committing each label (the decision is then taken from the decider's best
//!      label and confidence by the same rule; all 1 is the decider's own, and with factors of
//!      1 + 1e-7 the scores are the same): measured, not kept (the crate's MEASUREMENTS.md).
//! 5. **Scores**, for every onset of one of the four activities: frames from the true onset
//!    to the episode's opening (unlabelled latency; only an episode opened within the
//!    activity counts) and to the right label's firing (labelled latency), which label fired
//!    first within the activity, and the frames to the event path's first `MotionStarted`
//!    (`SensingConfig::default()`, same frames), with per onset whether the opening was
//!    earlier, on the same frame or later (`--why` prints each later one and whether an episode
//!    was already open at the onset). A firing of a label outside that label's activity (from
//!    its onset to 64 frames after its end) is a false firing, per hour of that label's
//!    non-matching data, counted by the true activity at the firing (and, in standing
//!    stretches, by the activity before and the label fired); episode openings in quiet
//!    stretches (standing or absent, from 64 frames after any motion ended) are false
//!    unlabelled firings.
//! 6. **Label accuracy against frames after the true onset** (no detector, the onset given):
//!    the label whose signatures' `k`-frame SPRING prefix cost, `k` frames after the onset, is
//!    lowest; and an aligned nearest-signature bound (squared distance of the first `k`
//!    frames after the onset to each signature's first `k`, no warping, lowest per label).
//!
//! 7. **Body displacement**: for the signature sessions, the largest distance any of the 17
//!    ground-truth keypoints moved from the last standing frame, 1..32 frames after the onset
//!    (mean over sessions): how much of the body has moved when a decision is asked for.
//!
//! 8. **Models of other motion** (`--other return`): for each activity of `--other-after`,
//!    `--sig-sessions` sessions of their own development seeds (`300000 + 100 a + s`, spots
//!    from their own generator): 12 s standing, the activity for 3..6 s, then standing; the
//!    first `--sig-frames` frames from the return to standing (standing up after sitting, the
//!    arm coming down after a wave or a push, stopping after a walk) are averaged into a
//!    signature of label `other` with its spread, as the labels' are. Stage 2 then compares
//!    them with the labels ([`EarlyDecider::with_other`]): an episode nearest one of them when
//!    the decision is due commits no label (a rejection, neither right nor a false firing).
//!    `--write-signatures DIR` writes them to `DIR/other/` (`--other-subdir NAME`: `DIR/NAME/`).
//!
//! `--kind` chooses the features (`motion_lags_v1`, default; `motion_doppler_v1` adds the
//! short-time Doppler bins; stage 1 reads the same lag values either way).
//!
//! Baselines: chance for a label is 1/4; the unlabelled "any motion" detector of the previous
//! pass (`x₁ > 3` on one frame, no persistence) and `MotionStarted`.
//!
//! Prints the figures; the crate README records a run.

#[path = "../tests/early_protocol/mod.rs"]
mod early_protocol;

use early_protocol::*;
use wifi_sensing_core::sim::body::Activity;
use wifi_sensing_introspect::features::FeatureKind;

/// Frames after the true onset at which label accuracy is tabulated.
const KS: [usize; 15] = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 80, 96, 128];

fn arg<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> T {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| v.parse().ok().expect(name))
        .unwrap_or(default)
}

fn list<T: std::str::FromStr>(args: &[String], name: &str, default: &str) -> Vec<T> {
    let s: String = arg(args, name, default.to_string());
    s.split(',').map(|v| v.parse().ok().expect(name)).collect()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let sessions: u64 = arg(&args, "--sessions", 40);
    let idle_sessions: u64 = arg(&args, "--idle-sessions", 40);
    let seed0: u64 = arg(&args, "--seed", 100);
    let sig_sessions: u64 = arg(&args, "--sig-sessions", 24);
    let sig_mode: String = arg(&args, "--sig-mode", "mean".to_string());
    // `--templates K` (every label) or `K_walk/K_wave/K_push/K_sit`.
    let n_templates: String = arg(&args, "--templates", "1/1/2/1".to_string());
    let n_templates: Vec<usize> = n_templates
        .split('/')
        .map(|x| x.parse().expect("--templates"))
        .collect();
    let n_templates: [usize; 4] = match n_templates[..] {
        [k] => [k; 4],
        [a, b, c, d] => [a, b, c, d],
        _ => panic!("--templates: one count or four"),
    };
    let template_split: String = arg(&args, "--template-split", "kmeans".to_string());
    if template_split != "kmeans" && template_split != "side" {
        panic!("--template-split {template_split}");
    }
    let template_min: usize = arg(&args, "--template-min", 4);
    let template_prior: f64 = arg(&args, "--template-prior", 4.0);
    let sig_len: usize = arg(&args, "--sig-frames", SIG_LEN);
    let ms_or: Vec<u8> = list(&args, "--ms-or", "0,1");
    let gates: Vec<f32> = list(&args, "--gate", "3");
    let persists: Vec<usize> = list(&args, "--persist", "2");
    let margins: Vec<f64> = list(&args, "--margins", "0.6");
    let min_frames: Vec<usize> = list(&args, "--min-frames", "32");
    let decide_at: Vec<usize> = list(&args, "--decide-at", "0,64");
    let close_after: Vec<usize> = list(&args, "--close-after", &CLOSE_AFTER.to_string());
    let restart_after: Vec<usize> = list(&args, "--restart-after", "0,40");
    let late_margins: Vec<f64> = list(&args, "--late-margins", "0.2");
    let label_factors: Vec<String> = list(&args, "--label-factors", "1/1/1/1");
    let label_factors: Vec<[f64; 4]> = label_factors
        .iter()
        .map(|q| {
            let v: Vec<f64> = q
                .split('/')
                .map(|x| x.parse().expect("--label-factors"))
                .collect();
            v.try_into()
                .expect("--label-factors: four factors per entry")
        })
        .collect();
    let other_mode: String = arg(&args, "--other", "none".to_string());
    let other_after: Vec<String> = list(&args, "--other-after", "walk,wave,push,sit");
    let other_subdir: String = arg(&args, "--other-subdir", "other".to_string());
    let aligned = arg(&args, "--stage2", "aligned".to_string()) == "aligned";
    let why = args.iter().any(|a| a == "--why");
    let kind: FeatureKind = arg(&args, "--kind", "motion_lags_v1".to_string())
        .parse()
        .expect("--kind");
    println!(
        "features {kind}, {sessions} evaluation sessions (seed {seed0}), {idle_sessions} idle, {sig_sessions} signature sessions per label ({sig_mode}), {} frames, weights {}",
        arg(&args, "--sig-frames", SIG_LEN),
        arg(&args, "--weights", "spread".to_string())
    );

    // 1. Signatures, development seeds.
    let weighting: String = arg(&args, "--weights", "spread".to_string());
    if weighting != "none" && weighting != "spread" {
        panic!("--weights {weighting}");
    }
    let other_after = match other_mode.as_str() {
        "return" => other_after,
        "none" => Vec::new(),
        m => panic!("--other {m}"),
    };
    let (lib, kin, dump) = build_library(&SignatureOptions {
        sessions: sig_sessions,
        len: sig_len,
        mean: sig_mode == "mean",
        spread: weighting == "spread",
        kind,
        other_after,
        dump: args.iter().any(|a| a == "--dump"),
        templates: n_templates,
        split_side: template_split == "side",
        template_min,
        template_prior,
    });
    if n_templates.iter().any(|&k| k > 1) {
        println!(
            "templates per label ({template_split}, at most {n_templates:?}, groups of at least {template_min}, prior {template_prior}): sessions per template {:?}",
            lib.sizes
        );
    }
    println!(
        "largest keypoint displacement from the last standing frame, mean of the signature sessions, mm, frames after onset {KIN_FRAMES:?}:"
    );
    for (a, row) in kin.iter().enumerate() {
        let v: Vec<String> = row.iter().map(|d| format!("{:.1}", d * 1e3)).collect();
        println!("  {}: {}", LABELS[a], v.join(" "));
    }
    for line in dump {
        println!("{line}");
    }
    let dim = lib.dim;
    let write: String = arg(&args, "--write-signatures", String::new());
    if !write.is_empty() {
        std::fs::create_dir_all(&write).expect("signature directory");
        for s in lib.signatures() {
            let path = std::path::Path::new(&write).join(format!("{}.json", s.id));
            std::fs::write(&path, s.to_json_pretty() + "\n").expect("write signature");
            println!("wrote {}", path.display());
        }
        for s in lib.other_signatures() {
            let dir = std::path::Path::new(&write).join(&other_subdir);
            std::fs::create_dir_all(&dir).expect("signature directory");
            let path = dir.join(format!("{}.json", s.id));
            std::fs::write(&path, s.to_json_pretty() + "\n").expect("write signature");
            println!("wrote {}", path.display());
        }
        if sessions == 0 && idle_sessions == 0 {
            return;
        }
    }

    // 2. Evaluation and idle sessions.
    let (evals, idles) = evaluation_sessions(seed0, sessions, idle_sessions, kind);
    let total: u64 = evals
        .iter()
        .chain(&idles)
        .map(|s| s.features.len() as u64)
        .sum();
    let n_onsets: usize = evals.iter().map(|s| onsets(s).len()).sum();
    println!(
        "frames {total} ({:.2} h), onsets {n_onsets}, idle {:.2} h",
        hours(total),
        hours(idles.iter().map(|s| s.features.len() as u64).sum())
    );

    // 3. Baselines: MotionStarted and the one-frame any-motion detector.
    let mut ms_lat: Vec<Vec<usize>> = vec![Vec::new(); 4];
    let mut any_lat: Vec<Vec<usize>> = vec![Vec::new(); 4];
    let mut per_label_n = [0usize; 4];
    let (mut quiet_frames, mut quiet_any, mut quiet_ms) = (0u64, 0usize, 0usize);
    for s in &evals {
        for &(o, l) in &onsets(s) {
            per_label_n[l] += 1;
            let end = activity_end(s, o);
            if let Some(f) = (o..end).find(|&t| s.motion_started[t]) {
                ms_lat[l].push(f - o);
            }
            if let Some(f) = (o..end).find(|&t| s.motion[t][0] > 3.0 && s.motion[t - 1][0] <= 3.0) {
                any_lat[l].push(f - o);
            }
        }
        let mut quiet_from = (LEAD_IN_S * RATE) as usize;
        for t in 1..s.activity.len() {
            if s.activity[t] != s.activity[t - 1] && label_of(s.activity[t - 1]).is_some() {
                quiet_from = quiet_from.max(t + SIG_FRAMES);
            }
            if matches!(s.activity[t], Activity::Stand | Activity::Absent) && t >= quiet_from {
                quiet_frames += 1;
                quiet_any += usize::from(s.motion[t][0] > 3.0 && s.motion[t - 1][0] <= 3.0);
                quiet_ms += usize::from(s.motion_started[t]);
            }
        }
    }
    let idle_ms: usize = idles
        .iter()
        .map(|s| {
            s.motion_started[(LEAD_IN_S * RATE) as usize..]
                .iter()
                .filter(|&&b| b)
                .count()
        })
        .sum();
    for (l, name) in LABELS.iter().enumerate() {
        println!(
            "{name:>5}: onsets {}, MotionStarted {}/{} median {:?} p90 {:?} | any-motion (x1>3, 1 frame) {}/{} median {:?}",
            per_label_n[l],
            ms_lat[l].len(),
            per_label_n[l],
            median(&mut ms_lat[l]),
            pct90(&mut ms_lat[l]),
            any_lat[l].len(),
            per_label_n[l],
            median(&mut any_lat[l])
        );
    }
    println!(
        "quiet stretches {:.2} h: any-motion rising edges {quiet_any} ({:.1}/h), MotionStarted {quiet_ms}; idle sessions: MotionStarted {idle_ms}",
        hours(quiet_frames),
        quiet_any as f64 / hours(quiet_frames)
    );

    // 4. Label accuracy against frames after the true onset.
    let sig_label: Vec<usize> = lib
        .sigs
        .iter()
        .enumerate()
        .flat_map(|(l, v)| std::iter::repeat_n(l, v.len()))
        .collect();
    let mut ms = lib.matchers();
    let mut spring_right = [0usize; KS.len()];
    let mut nn_right = [0usize; KS.len()];
    let mut nnw_right = [0usize; KS.len()];
    let mut costs = [0.0f64; 4];
    for s in &evals {
        let ons = onsets(s);
        for (_, m) in ms.iter_mut() {
            m.reset();
        }
        for t in 0..s.features.len() {
            for (_, m) in ms.iter_mut() {
                m.push(&s.features[t]).expect("push");
            }
            for &(o, l) in &ons {
                if t >= o && t - o < lib.len {
                    let k = t - o + 1;
                    if let Some(ki) = KS.iter().position(|&q| q == k) {
                        label_costs(&ms, k, &mut costs);
                        spring_right[ki] += usize::from(best_two(&costs).0 == l);
                        // Aligned nearest signature.
                        let mut best = (f64::INFINITY, 0usize);
                        for (sl, v) in lib.sigs.iter().enumerate() {
                            for sig in v {
                                let d: f64 = (0..k)
                                    .map(|i| {
                                        s.features[o + i]
                                            .iter()
                                            .zip(&sig[i * dim..(i + 1) * dim])
                                            .map(|(a, b)| f64::from(a - b).powi(2))
                                            .sum::<f64>()
                                    })
                                    .sum();
                                if d < best.0 {
                                    best = (d, sl);
                                }
                            }
                        }
                        nn_right[ki] += usize::from(best.1 == l);
                        // The same with the stage-2 weights (each signature's own).
                        if let Some(ws) = &lib.weights {
                            let mut best = (f64::INFINITY, 0usize);
                            for (sl, (w, sig)) in ws
                                .iter()
                                .zip(&lib.sigs)
                                .flat_map(|(w, v)| w.iter().zip(v))
                                .enumerate()
                                .map(|(i, ws)| (sig_label[i], ws))
                            {
                                let d: f64 = (0..k)
                                    .map(|i| {
                                        let r = i * dim..(i + 1) * dim;
                                        s.features[o + i]
                                            .iter()
                                            .zip(&sig[r.clone()])
                                            .zip(&w[r])
                                            .map(|((a, b), w)| f64::from(w * (a - b) * (a - b)))
                                            .sum::<f64>()
                                    })
                                    .sum();
                                if d < best.0 {
                                    best = (d, sl);
                                }
                            }
                            nnw_right[ki] += usize::from(best.1 == l);
                        }
                    }
                }
            }
        }
    }
    println!("label accuracy with the onset given (chance 25%), {n_onsets} onsets:");
    let nk = KS.iter().filter(|&&k| k <= lib.len).count();
    println!("  frames after onset: {:?}", &KS[..nk]);
    let fmt = |v: &[usize]| {
        v[..nk]
            .iter()
            .map(|&r| format!("{:.0}%", 100.0 * r as f64 / n_onsets.max(1) as f64))
            .collect::<Vec<_>>()
            .join(" ")
    };
    println!("  SPRING prefix cost:      {}", fmt(&spring_right));
    println!("  aligned nearest signature: {}", fmt(&nn_right));
    if lib.weights.is_some() {
        println!("  aligned, weighted:        {}", fmt(&nnw_right));
    }

    // 5. The two-stage decision, every rule.
    let mut rules = Vec::new();
    for &ms_or in &ms_or {
        for &gate in &gates {
            for &persist in &persists {
                for &margin in &margins {
                    for &min_frames in &min_frames {
                        for &decide_at in &decide_at {
                            for &close_after in &close_after {
                                for (&restart_after, &late_margin) in restart_after
                                    .iter()
                                    .flat_map(|r| late_margins.iter().map(move |m| (r, m)))
                                {
                                    if decide_at != 0 && decide_at < min_frames {
                                        continue;
                                    }
                                    for &label_factor in &label_factors {
                                        rules.push(Rule {
                                            label_factor,
                                            late_margin,
                                            ms_or: ms_or != 0,
                                            gate,
                                            persist,
                                            margin,
                                            min_frames,
                                            decide_at,
                                            close_after,
                                            restart_after,
                                        });
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    let scores = score_rules(&evals, &idles, &lib, &rules, aligned, why);
    println!("two-stage decision (gate, persist, margin, min frames): unlabelled median/p90/detected | labelled median/p90/detected | right label first | false label firings/h (activity sessions, idle) | false openings/h (quiet, idle)");
    for (rule, sc) in rules.iter().zip(&scores) {
        let mut un: Vec<usize> = sc.onsets.iter().filter_map(|o| o.1).collect();
        let mut lab: Vec<usize> = sc.onsets.iter().filter_map(|o| o.2).collect();
        let (right, n) = sc.right_first();
        let unnamed = sc.onsets.iter().filter(|o| o.3.is_none()).count();
        let later = |f: fn(&OnsetScore) -> Option<usize>| {
            sc.onsets
                .iter()
                .filter(|o| o.4.is_some_and(|m| f(o).is_none_or(|v| v > m)))
                .count()
        };
        let (un_late, lab_late) = (later(|o| o.1), later(|o| o.2));
        // Per onset, the unlabelled opening against MotionStarted: earlier, same frame, later
        // (or not opened), and how many frames earlier (median over those with both).
        let both: Vec<(usize, usize)> = sc
            .onsets
            .iter()
            .filter_map(|o| Some((o.1?, o.4?)))
            .collect();
        let un_early = both.iter().filter(|(u, m)| u < m).count();
        let un_same = both.iter().filter(|(u, m)| u == m).count();
        let no_ms = sc.onsets.iter().filter(|o| o.4.is_none()).count();
        let mut gain: Vec<usize> = both.iter().map(|(u, m)| m.saturating_sub(*u)).collect();
        let mut ms_all: Vec<usize> = sc.onsets.iter().filter_map(|o| o.4).collect();
        let per_label: Vec<String> = (0..4)
            .map(|l| {
                let mut v: Vec<usize> = sc
                    .onsets
                    .iter()
                    .filter(|o| o.0 == l)
                    .filter_map(|o| o.2)
                    .collect();
                let mut u: Vec<usize> = sc
                    .onsets
                    .iter()
                    .filter(|o| o.0 == l)
                    .filter_map(|o| o.1)
                    .collect();
                let n = sc.onsets.iter().filter(|o| o.0 == l).count();
                let r = sc
                    .onsets
                    .iter()
                    .filter(|o| o.0 == l && o.3 == Some(l))
                    .count();
                format!(
                    "{}: unlabelled {}/{}, labelled {}/{}/{n}, right {r}",
                    LABELS[l],
                    median(&mut u).map_or("-".into(), |m| m.to_string()),
                    u.len(),
                    median(&mut v).map_or("-".into(), |m| m.to_string()),
                    v.len()
                )
            })
            .collect();
        println!(
            "ms{} g{} p{} m{} k{} d{} close{} restart{} late{} f{:?}: un {:?}/{:?}/{} max {:?} (vs MS median {:?}: earlier {un_early}, same {un_same}, later or none {un_late}, MS none {no_ms}, frames earlier median {:?}) | lab {:?}/{:?}/{} (later than MS {lab_late}) | right {}/{} ({:.0}%), none {unnamed} | false {:.1}/h ({} firings, by activity {:?}, standing after [previous][label] {:?}), idle {:.1}/h ({} labels) | open quiet {:.1}/h idle {:.1}/h | {}",
            u8::from(rule.ms_or),
            rule.gate,
            rule.persist,
            rule.margin,
            rule.min_frames,
            rule.decide_at,
            rule.close_after,
            rule.restart_after,
            rule.late_margin,
            rule.label_factor,
            median(&mut un),
            pct90(&mut un),
            un.len(),
            un.iter().max(),
            median(&mut ms_all),
            median(&mut gain),
            median(&mut lab),
            pct90(&mut lab),
            lab.len(),
            right,
            n,
            100.0 * right as f64 / n.max(1) as f64,
            sc.false_per_hour(),
            sc.false_label.iter().sum::<usize>(),
            sc.false_by_act,
            sc.false_stand,
            sc.idle_label as f64 / hours(sc.idle_frames).max(1e-9),
            sc.idle_label,
            sc.quiet_open as f64 / hours(sc.quiet_frames).max(1e-9),
            sc.idle_open as f64 / hours(sc.idle_frames).max(1e-9),
            per_label.join(", ")
        );
    }
}
