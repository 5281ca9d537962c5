//! The README's sensing figures against the simulator's ground truth (protocol in the crate
//! README and `tests/common/eval.rs`):
//!
//! * `cargo run --release -p wifi-sensing-signal --example sensing_eval -- events [SEEDS] [SECONDS]`:
//!   presence and motion F1 per preset over seeds `101 ..= 100 + SEEDS` (default 10 seeds, 120 s),
//!   ESP32 and Intel 5300 profiles, with the trivial baselines and the onset delay;
//! * `... -- vitals [WINDOWS]`: breathing and heart-rate error over 60 s windows at 20, 50 and
//!   100 Hz, SNR 20 dB, rates drawn uniformly (breathing 8–30 /min, heart 50–120 /min);
//! * `... -- posture [FIRST] [COUNT] [SECONDS]`: breathing estimates of a person who sits down,
//!   stands up or turns in place every few seconds, against the session's breathing rate;
//! * `... -- presence-random [FIRST] [COUNT] [SECONDS]`: presence and motion F1 and the
//!   `PresenceEnded` events on random sessions of a person who walks, sits, gestures and
//!   leaves (`SENSING_BASELINE=1`: with an empty-room baseline);
//! * `... -- drift [HOURS]`: an empty room for HOURS (default 2) with slow gain and shape drift
//!   and AGC steps: false events;
//! * `... -- vitals-random FIRST COUNT [SNR] [RATES]` and `... -- oracle FIRST COUNT [SNR]
//!   [RATES]`: the estimator on random vital-sign sessions, and what a combiner that knows the
//!   signal sees of breathing and heartbeat in the same sessions (`SENSING_PHASE=1` switches
//!   the phase features on);
//! * `... -- gap FIRST COUNT [SNR] [RATES]`: where the breathing windows the oracle puts at 13 dB
//!   or more are lost (the estimator with every peak reported against the oracle, window by
//!   window with `VERBOSE=1`);
//! * `... -- misses PRESET [SEEDS] [FIRST]`: where the motion errors of a preset fall;
//! * `... -- motion-truth PRESET [SEEDS] [FIRST]`: motion F1 against the activity segments and
//!   against the keypoints' physical motion, keypoint speed and the body's channel change on
//!   missed and detected frames;
//! * `... -- speed [RUNS]`: events and vital signs per ESP32 frame (the criterion bench's
//!   session);
//! * `... -- anchor [SEEDS] [FIRST] [RATE]`: the ESP32 anchor's protocol (10 s quiet, 10 s
//!   moving, every frame scored) per device, kind of quiet and kind of movement;
//! * `... -- trace FILE`: per frame of a capture, the motion statistic, motion and presence;
//! * `... -- noise FILE`: per node of a capture, the mean squared change of the amplitude
//!   shape and level at lags of 1–100 frames (noise or movement?).
#[path = "../tests/common/drift.rs"]
mod drift;
#[path = "../tests/common/eval.rs"]
mod eval;
#[path = "../benches/common/sensing.rs"]
mod session;

use eval::{fmt, median, run, vitals_window, Counts, Spec};

fn events(seeds: u64, secs: f64) {
    println!("| device | preset | calibration | frames | presence F1 | presence FPR | always-present F1 | motion F1 | motion FPR | always-moving F1 | motion F1 (keypoints) |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    let mut onsets = Vec::new();
    let mut missed = 0;
    let mut all_p = Counts::default();
    let mut all_m = Counts::default();
    let mut all_mp = Counts::default();
    for intel in devices() {
        for (preset, baseline) in [
            ("empty", false),
            ("empty", true),
            ("breathe", false),
            ("still", true),
            ("walk", false),
            ("gesture:wave", false),
            ("mixed", false),
            ("still", false),
        ] {
            let mut p = Counts::default();
            let mut m = Counts::default();
            let mut mp = Counts::default();
            let mut frames = 0;
            let mut worst = (1.0f64, 0u64);
            let first: u64 = std::env::var("FIRST_SEED")
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(101);
            for seed in first..first + seeds {
                let spec = Spec {
                    intel,
                    baseline,
                    ..Spec::new(preset, secs, seed)
                };
                let o = run(&spec);
                p.merge(&o.presence);
                m.merge(&o.motion);
                mp.merge(&o.motion_phys);
                frames += o.frames;
                if let Some(f) = o.presence.f1() {
                    if f < worst.0 {
                        worst = (f, seed);
                    }
                }
                if preset == "mixed" {
                    onsets.extend(o.onsets_s.iter().copied());
                    missed += o.missed_onsets;
                }
                // pooled as before the empty room with a baseline was added (reported apart)
                if (preset != "still" || baseline) && !(preset == "empty" && baseline) {
                    all_p.merge(&o.presence);
                    all_m.merge(&o.motion);
                    all_mp.merge(&o.motion_phys);
                }
            }
            println!(
                "| {} | {preset} | {} | {frames} | {} | {} | {} | {} | {} | {} | {} |",
                if intel { "intel5300" } else { "esp32" },
                if baseline {
                    "empty-room baseline"
                } else {
                    "automatic"
                },
                fmt(p.f1()),
                fmt(p.fpr()),
                fmt(p.f1_always()),
                fmt(m.f1()),
                fmt(m.fpr()),
                fmt(m.f1_always()),
                fmt(mp.f1()),
            );
            eprintln!(
                "  {preset} worst presence F1 {:.3} on seed {}",
                worst.0, worst.1
            );
        }
    }
    println!(
        "\npooled (all rows but `still` with automatic calibration): presence F1 {} (FPR {}, recall {}), motion F1 {} (FPR {}, recall {}); always-present F1 {}, always-moving F1 {}",
        fmt(all_p.f1()),
        fmt(all_p.fpr()),
        fmt(all_p.recall()),
        fmt(all_m.f1()),
        fmt(all_m.fpr()),
        fmt(all_m.recall()),
        fmt(all_p.f1_always()),
        fmt(all_m.f1_always()),
    );
    println!(
        "pooled motion against the keypoint definition (eval::PhysicalMotion): F1 {} (FPR {}, recall {})",
        fmt(all_mp.f1()),
        fmt(all_mp.fpr()),
        fmt(all_mp.recall()),
    );
    println!(
        "MotionStarted onset delay over the motion runs of `mixed` (walk-in, wave, walk-out; both devices): median {} s over {} onsets, {} runs missed",
        fmt(median(&onsets)),
        onsets.len(),
        missed
    );
}

fn vitals(windows: u64) {
    println!("| device | rate Hz | windows | breathing within 1/min | breathing estimates given | breathing median abs err | heart within 3 bpm | heart estimates given | heart median abs err | constant-rate baseline (breathing 19, heart 85) |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for intel in devices() {
        for rate in [20.0, 50.0, 100.0] {
            let mut b_ok = 0;
            let mut h_ok = 0;
            let mut b_given = 0;
            let mut h_given = 0;
            let mut b_err = Vec::new();
            let mut h_err = Vec::new();
            let mut base_b = 0;
            let mut base_h = 0;
            let mut reasons = std::collections::BTreeMap::<String, u32>::new();
            for s in 0..windows {
                let seed = 500 + s;
                let br = eval::draw(seed, 1, 8.0, 30.0);
                let hr = eval::draw(seed, 2, 50.0, 120.0);
                let w = vitals_window(rate, 20.0, intel, br, hr, 60.0, seed);
                if let Some(b) = w.breath {
                    b_given += 1;
                    b_err.push((b - br).abs());
                    if (b - br).abs() <= 1.0 {
                        b_ok += 1;
                    }
                }
                if let Some(h) = w.heart {
                    h_given += 1;
                    h_err.push((h - hr).abs());
                    if (h - hr).abs() <= 3.0 {
                        h_ok += 1;
                    }
                }
                *reasons
                    .entry(format!("breathing {}", w.breath_reason))
                    .or_default() += 1;
                *reasons
                    .entry(format!("heart {}", w.heart_reason))
                    .or_default() += 1;
                base_b += u32::from((br - 19.0).abs() <= 1.0);
                base_h += u32::from((hr - 85.0).abs() <= 3.0);
            }
            let pct = |x: u32| format!("{:.1}%", 100.0 * f64::from(x) / windows as f64);
            println!(
                "| {} | {rate} | {windows} | {} | {} | {} | {} | {} | {} | {} / {} |",
                if intel { "intel5300" } else { "esp32" },
                pct(b_ok),
                pct(b_given),
                fmt(median(&b_err)),
                pct(h_ok),
                pct(h_given),
                fmt(median(&h_err)),
                pct(base_b),
                pct(base_h),
            );
            eprintln!("  {reasons:?}");
        }
    }
}

/// `vitals-random FIRST COUNT [SNR]`: the random-session vital-sign protocol
/// (`eval::vitals_random`) over seeds `FIRST .. FIRST + COUNT` (even seeds in the default room,
/// odd seeds in a random room), both devices, 20/50/100 Hz.
fn vitals_random(first: u64, count: u64, snr: f64, rates: &[f64]) {
    use eval::RateScore;
    println!("| device | rate Hz | windows | breathing: coverage | within 1/min of given | within 1/min of all | median abs err | constant (median) | chance | heart: coverage | within 5 bpm of given | within 5 of all | within 3 of given | median abs err | constant (median) | chance |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    let pct = |x: f64| format!("{:.1}%", 100.0 * x);
    let opt = |x: Option<f64>| x.map_or("n/a".to_string(), |v| format!("{:.1}%", 100.0 * v));
    for intel in devices() {
        for &rate in rates {
            let mut b = Vec::new();
            let mut h = Vec::new();
            let mut reasons = std::collections::BTreeMap::<String, u32>::new();
            let mut conf = Vec::new();
            for seed in first..first + count {
                let w = eval::vitals_random(
                    seed,
                    intel,
                    rate,
                    snr,
                    seed % 2 == 1,
                    60.0,
                    eval::vitals_config(),
                );
                b.push((w.breath_truth, w.breath));
                h.push((w.heart_truth, w.heart));
                *reasons.entry(format!("b:{}", w.breath_reason)).or_default() += 1;
                *reasons.entry(format!("h:{}", w.heart_reason)).or_default() += 1;
                if std::env::var("VERBOSE").is_ok() {
                    eprintln!(
                        "  seed {seed} intel={intel} {rate} Hz: breath {:.2} -> {:?} ({:.2} {}) heart {:.1} -> {:?} ({:.2} {}) presence {:?} distinct {:?}",
                        w.breath_truth, w.breath.map(|x| (x * 100.0).round() / 100.0), w.breath_conf, w.breath_reason,
                        w.heart_truth, w.heart.map(|x| (x * 10.0).round() / 10.0), w.heart_conf, w.heart_reason,
                        w.presence_ratio.map(|x| (x * 10.0).round() / 10.0), w.breath_distinct.map(|x| (x * 100.0).round() / 100.0)
                    );
                }
                if let Some(e) = w.heart {
                    conf.push((w.heart_conf, (e - w.heart_truth).abs() <= 5.0));
                }
            }
            let sb = RateScore::of(&b, 1.0, [6.0, 40.0]);
            let sh = RateScore::of(&h, 5.0, [45.0, 150.0]);
            let sh3 = RateScore::of(&h, 3.0, [45.0, 150.0]);
            let n = sb.windows as f64;
            println!(
                "| {} | {rate} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                if intel { "intel5300" } else { "esp32" },
                sb.windows,
                pct(sb.coverage()),
                opt(sb.accuracy()),
                pct(sb.within_all()),
                fmt(median(&sb.errors)),
                pct(sb.constant_within as f64 / n),
                pct(sb.chance_within / n),
                pct(sh.coverage()),
                opt(sh.accuracy()),
                pct(sh.within_all()),
                opt(sh3.accuracy()),
                fmt(median(&sh.errors)),
                pct(sh.constant_within as f64 / n),
                pct(sh.chance_within / n),
            );
            eprintln!("  {reasons:?}; heart (confidence, right): {conf:.2?}");
        }
    }
}

/// `oracle FIRST COUNT [SNR] [RATES]`: per-bin SNR that an oracle (maximum-ratio combining of
/// every CSI value with the signal known) sees of breathing and heartbeat in the
/// `vitals-random` sessions; see `eval::vitals_oracle`.
fn oracle(first: u64, count: u64, snr: f64, rates: &[f64]) {
    println!("| device | rate Hz | windows | breathing oracle SNR dB (amplitude) median / p10 | (complex) median / p10 | (amplitude + sanitised phase) median / p10 | breathing windows >= 10 dB amplitude / >= 13 dB amplitude / >= 13 dB amplitude + sanitised phase | heart oracle SNR dB (amplitude) median / p10 / max | (complex) median / p10 / max | heart windows >= 10 dB amplitude | complex |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    let q = |v: &mut Vec<f64>, p: f64| {
        v.sort_by(f64::total_cmp);
        v[((v.len() - 1) as f64 * p).round() as usize]
    };
    for intel in devices() {
        for &rate in rates {
            let (mut ba, mut bc, mut bs, mut ha, mut hc) = (vec![], vec![], vec![], vec![], vec![]);
            for seed in first..first + count {
                let sc = eval::vitals_scenario(seed, rate, snr, seed % 2 == 1, 60.0);
                let (b, h) = eval::vitals_oracle(seed, intel, sc, 60.0);
                if std::env::var("VERBOSE").is_ok() {
                    eprintln!("  seed {seed} intel={intel} {rate} Hz: breathing {:.1}/min amp {:.1} dB cpx {:.1} dB sanitised {:.1} dB; heart {:.1} bpm amp {:.1} dB cpx {:.1} dB",
                        b.truth, b.amplitude_db, b.complex_db, b.sanitised_db, h.truth, h.amplitude_db, h.complex_db);
                }
                ba.push(b.amplitude_db);
                bc.push(b.complex_db);
                bs.push(b.sanitised_db);
                ha.push(h.amplitude_db);
                hc.push(h.complex_db);
            }
            let n = ha.len() as f64;
            let over = |v: &[f64], db: f64| v.iter().filter(|x| **x >= db).count() as f64 / n;
            let (oa, oc) = (over(&ha, 10.0), over(&hc, 10.0));
            println!(
                "| {} | {rate} | {count} | {:.1} / {:.1} | {:.1} / {:.1} | {:.1} / {:.1} | {:.1}% / {:.1}% / {:.1}% | {:.1} / {:.1} / {:.1} | {:.1} / {:.1} / {:.1} | {:.0}% | {:.0}% |",
                if intel { "intel5300" } else { "esp32" },
                q(&mut ba, 0.5), q(&mut ba, 0.1),
                q(&mut bc, 0.5), q(&mut bc, 0.1),
                q(&mut bs, 0.5), q(&mut bs, 0.1),
                100.0 * over(&ba, 10.0), 100.0 * over(&ba, 13.0), 100.0 * over(&bs, 13.0),
                q(&mut ha, 0.5), q(&mut ha, 0.1), q(&mut ha, 1.0),
                q(&mut hc, 0.5), q(&mut hc, 0.1), q(&mut hc, 1.0),
                100.0 * oa, 100.0 * oc,
            );
        }
    }
}

/// `gap FIRST COUNT [SNR] [RATES]`: the breathing windows of `vitals-random` sorted by what
/// the estimator does at its threshold (every peak reported: `min_distinctness` 1) and by
/// whether the oracle (`eval::vitals_oracle`) puts the breath at 13 dB or more, the per-bin
/// SNR a combiner that knew the signal would need for the default threshold.
fn gap(first: u64, count: u64, snr: f64, rates: &[f64]) {
    use eval::{GapSummary, GapWindow};
    let threshold = wifi_sensing_signal::vitals::VitalsConfig::default().min_distinctness;
    println!("| device | rate Hz | windows | oracle >= 13 dB | given right | given wrong | refused, highest peak right (of them >= 13 dB) | refused, peak elsewhere or none (>= 13 dB) | distinctness of the refused right peaks >= 13 dB: median / max |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for intel in devices() {
        for &rate in rates {
            let mut w = Vec::new();
            for seed in first..first + count {
                let cfg = wifi_sensing_signal::vitals::VitalsConfig {
                    min_distinctness: 1.0,
                    ..eval::vitals_config()
                };
                let v = eval::vitals_random(seed, intel, rate, snr, seed % 2 == 1, 60.0, cfg);
                let sc = eval::vitals_scenario(seed, rate, snr, seed % 2 == 1, 60.0);
                let (o, _) = eval::vitals_oracle(seed, intel, sc, 60.0);
                let x = GapWindow {
                    truth: v.breath_truth,
                    peak: v.breath,
                    distinct: v.breath_distinct,
                    oracle_db: o.amplitude_db,
                };
                if std::env::var("VERBOSE").is_ok() {
                    eprintln!(
                        "  seed {seed} intel={intel} {rate} Hz: truth {:.2} peak {:?} distinctness {:?} oracle {:.1} dB ({})",
                        x.truth, x.peak.map(|p| (p * 100.0).round() / 100.0),
                        x.distinct.map(|d| (d * 10.0).round() / 10.0), x.oracle_db, v.breath_reason
                    );
                }
                w.push(x);
            }
            let s = GapSummary::of(&w, threshold, 13.0);
            let refused: Vec<f64> = w
                .iter()
                .filter(|x| {
                    x.oracle_db >= 13.0
                        && x.peak.is_some_and(|p| (p - x.truth).abs() <= 1.0)
                        && x.distinct.is_some_and(|d| d < threshold)
                })
                .filter_map(|x| x.distinct)
                .collect();
            println!(
                "| {} | {rate} | {} | {} | {} | {} | {} ({}) | {} ({}) | {} / {} |",
                if intel { "intel5300" } else { "esp32" },
                s.windows,
                s.reachable,
                s.given_right,
                s.given_wrong,
                s.refused_right_peak,
                s.reachable_refused_right_peak,
                s.refused_other,
                s.reachable_refused_other,
                fmt(median(&refused)),
                fmt(refused.iter().copied().reduce(f64::max)),
            );
        }
    }
}

/// `posture FIRST COUNT [SECONDS]`: a person who sits down, stands up or turns in place every
/// few seconds (`RandomSession` with `sit=1,stand=1`, its default segment lengths, 50 Hz,
/// default impairments), events and vital signs on with the default configuration (5 s hop);
/// every breathing estimate against the session's breathing rate, by window length, with the
/// confidences of the wrong ones (the CHANGELOG's known limitation on posture changes).
fn posture(first: u64, count: u64, secs: f64) {
    use wifi_sensing_core::sim::{ActivityMix, DeviceProfile, RandomSession, Simulator};
    use wifi_sensing_signal::{Sensed, SensingAnalyser, SensingConfig};
    println!("| device | seeds | records | breathing estimates | within 1 /min | full 60 s windows: estimates / within | wrong: confidence median / max | records per reason | false PresenceEnded |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for intel in devices() {
        let (mut records, mut given, mut within, mut full, mut full_within) = (0, 0, 0, 0, 0);
        let mut wrong_conf: Vec<f64> = Vec::new();
        // the person is there the whole session: every PresenceEnded is false
        let mut ended = 0u64;
        let mut reasons: std::collections::BTreeMap<String, u64> = Default::default();
        for seed in first..first + count {
            let mut rs = RandomSession::new(seed, secs);
            rs.activities = ActivityMix {
                sit: 1.0,
                stand: 1.0,
                ..ActivityMix::NONE
            };
            let sc = rs.scenario().unwrap();
            let truth = sc.person.breathing.as_ref().map_or(0.0, |b| b.rate_bpm);
            if std::env::var("VERBOSE").is_ok_and(|v| v == "2") {
                let mut t0 = 0.0;
                // sit and stand segments only: each has its duration
                for seg in &sc.timeline {
                    let v = serde_json::to_value(seg).unwrap_or_default();
                    eprintln!("  seed {seed}: segment from {t0:.2} s: {v}");
                    t0 += v["duration_s"].as_f64().unwrap_or(0.0);
                }
            }
            let profile = if intel {
                DeviceProfile::intel5300()
            } else {
                DeviceProfile::esp32()
            };
            let sim = Simulator::new(sc, profile, seed).unwrap();
            let mut cfg = SensingConfig {
                vitals: Some(wifi_sensing_signal::vitals::VitalsConfig::default()),
                ..SensingConfig::default()
            };
            eval::events_from_env(&mut cfg);
            let mut a = SensingAnalyser::new(cfg, None).unwrap();
            let mut out = Vec::new();
            for (f, _) in sim {
                out.clear();
                a.push(&f, &mut out).unwrap();
                for s in &out {
                    if let Sensed::Event(e) = s {
                        if e.node_id.is_some()
                            && e.event == wifi_sensing_signal::events::EventKind::PresenceEnded
                        {
                            ended += 1;
                        }
                        if e.node_id.is_some() && std::env::var("VERBOSE").is_ok_and(|v| v == "2") {
                            eprintln!(
                                "  seed {seed} intel={intel}: {:?} at {:.2} s",
                                e.event,
                                e.timestamp_ns as f64 * 1e-9
                            );
                        }
                    }
                    let Sensed::VitalSigns { value, .. } = s else {
                        continue;
                    };
                    records += 1;
                    let b = &value.breathing;
                    *reasons
                        .entry(b.reason.map_or("estimate".into(), |r| format!("{r:?}")))
                        .or_default() += 1;
                    let Some(r) = b.rate_per_min else { continue };
                    let ok = (r - truth).abs() <= 1.0;
                    given += 1;
                    within += usize::from(ok);
                    if value.window_s >= 59.5 {
                        full += 1;
                        full_within += usize::from(ok);
                    }
                    if !ok {
                        wrong_conf.push(b.confidence);
                        if std::env::var("VERBOSE").is_ok_and(|v| v == "1") {
                            eprintln!(
                                "  seed {seed} intel={intel}: {r:.2} /min for {truth:.2}, confidence {:.2}, window {:.1} s",
                                b.confidence, value.window_s
                            );
                        }
                    }
                }
            }
        }
        wrong_conf.sort_by(f64::total_cmp);
        println!(
            "| {} | {first}-{} | {records} | {given} | {within} | {full} / {full_within} | {} / {} | {reasons:?} | {ended} |",
            if intel { "intel5300" } else { "esp32" },
            first + count - 1,
            fmt(median(&wrong_conf)),
            fmt(wrong_conf.last().copied()),
        );
    }
}

/// `presence-random FIRST COUNT [SECONDS]`: random sessions with the default activity mix (a
/// person who walks, sits, stands, gestures and leaves the room), events only with the default
/// configuration, presence and motion scored frame by frame after the first 10 s, and the
/// `PresenceEnded` events counted (`SENSING_BASELINE=1`: with an empty-room baseline of the
/// room from another seed, so the static path and the quick absence work from the start;
/// `SENSING_ABSENT=W`: the weight of absent segments in the mix instead of 0.5).
fn presence_random(first: u64, count: u64, secs: f64) {
    use wifi_sensing_core::sim::{RandomSession, Simulator};
    use wifi_sensing_signal::events::EventKind;
    let with_baseline = std::env::var("SENSING_BASELINE").is_ok_and(|v| v == "1");
    let absent_weight: Option<f64> = std::env::var("SENSING_ABSENT")
        .ok()
        .and_then(|v| v.parse().ok());
    println!("| device | seeds | calibration | frames | presence F1 | presence FPR | presence recall | always-present F1 | motion F1 | PresenceEnded | of them while present |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for intel in devices() {
        let (mut p, mut m) = (Counts::default(), Counts::default());
        let (mut frames, mut ended, mut ended_present) = (0u64, 0u64, 0u64);
        for seed in first..first + count {
            let mut rs = RandomSession::new(seed, secs);
            if let Some(w) = absent_weight {
                rs.activities.absent = w;
            }
            let sc = rs.scenario().unwrap();
            let room = sc.room.size_m;
            let spec = Spec {
                intel,
                ..Spec::new("empty", secs, seed)
            };
            let baseline = with_baseline.then(|| eval::baseline_for(&spec));
            let sim = Simulator::new(sc, spec.profile(), seed).unwrap();
            // the truth at each frame, to tell a PresenceEnded while the person is there
            let mut present_at: Vec<(i64, bool)> = Vec::new();
            let pairs = sim.inspect(|(_, t)| present_at.push((t.timestamp_ns, t.presence)));
            let o = eval::score(pairs, baseline, 10.0, room);
            p.merge(&o.presence);
            m.merge(&o.motion);
            frames += o.frames;
            for &(kind, t) in &o.events {
                if kind == EventKind::PresenceEnded {
                    ended += 1;
                    let i = present_at.partition_point(|x| x.0 <= t);
                    if i > 0 && present_at[i - 1].1 {
                        ended_present += 1;
                    }
                }
            }
        }
        println!(
            "| {} | {first}-{} | {} | {frames} | {} | {} | {} | {} | {} | {ended} | {ended_present} |",
            if intel { "intel5300" } else { "esp32" },
            first + count - 1,
            if with_baseline { "empty-room baseline" } else { "automatic" },
            fmt(p.f1()),
            fmt(p.fpr()),
            fmt(p.recall()),
            fmt(p.f1_always()),
            fmt(m.f1()),
        );
    }
}

/// `vitals-empty FIRST COUNT [SNR] [SECONDS]`: empty random rooms (nobody, random room and
/// radio positions on odd seeds), events and vital signs on with the default configuration;
/// counts vital-sign records that carry a breathing or heart estimate (each should be none).
fn vitals_empty(first: u64, count: u64, snr: f64, secs: f64) {
    use wifi_sensing_core::sim::{ActivityMix, DeviceProfile, RandomSession, Simulator};
    use wifi_sensing_signal::events::EventKind;
    use wifi_sensing_signal::{Sensed, SensingAnalyser, SensingConfig};
    for intel in devices() {
        let (mut records, mut breath, mut heart) = (0u64, 0u64, 0u64);
        let mut distinct: Vec<f64> = Vec::new();
        // full 60 s windows apart: the random-session protocol scores only those
        let mut distinct_full: Vec<f64> = Vec::new();
        let mut distinct_short: Vec<f64> = Vec::new();
        let (mut motion, mut presence, mut frames, mut moving) = (0u64, 0u64, 0u64, 0u64);
        for seed in first..first + count {
            let mut rs = RandomSession::new(seed, secs);
            rs.random_room = seed % 2 == 1;
            rs.activities = ActivityMix {
                absent: 1.0,
                ..ActivityMix::NONE
            };
            rs.impairments.snr_db = Some(snr);
            // diagnostics, as in `eval::vitals_scenario`
            if std::env::var("SENSING_NO_AGC").is_ok_and(|v| v == "1") {
                rs.impairments.agc_step_db = 0.0;
                rs.impairments.agc_random_step_prob = 0.0;
            }
            let profile = if intel {
                DeviceProfile::intel5300()
            } else {
                DeviceProfile::esp32()
            };
            let sim = Simulator::new(rs.scenario().unwrap(), profile, seed).unwrap();
            let cfg = SensingConfig {
                vitals: Some(eval::vitals_config()),
                ..SensingConfig::default()
            };
            let mut a = SensingAnalyser::new(cfg, None).unwrap();
            let mut out = Vec::new();
            for (f, _) in sim {
                out.clear();
                a.push(&f, &mut out).unwrap();
                frames += 1;
                moving += u64::from(a.moving(f.node_id) == Some(true));
                for s in &out {
                    if let Sensed::Event(e) = s {
                        if e.node_id.is_some() {
                            motion += u64::from(e.event == EventKind::MotionStarted);
                            presence += u64::from(e.event == EventKind::PresenceStarted);
                        }
                    }
                    if let Sensed::VitalSigns { value, .. } = s {
                        records += 1;
                        breath += u64::from(value.breathing.rate_per_min.is_some());
                        distinct.extend(value.breathing.distinctness);
                        if value.window_s >= 59.5 {
                            distinct_full.extend(value.breathing.distinctness);
                        } else {
                            distinct_short.extend(value.breathing.distinctness);
                        }
                        heart += u64::from(value.heart.rate_per_min.is_some());
                        if value.breathing.rate_per_min.is_some() {
                            eprintln!("  seed {seed} intel={intel}: {value:?}");
                        }
                    }
                }
            }
        }
        distinct.sort_by(f64::total_cmp);
        let q = |p: f64| {
            distinct
                .get(((distinct.len().max(1) - 1) as f64 * p).round() as usize)
                .copied()
        };
        eprintln!(
            "  breathing distinctness over {} records: median {:?}, p99 {:?}, max {:?}",
            distinct.len(),
            q(0.5),
            q(0.99),
            q(1.0)
        );
        distinct_full.sort_by(f64::total_cmp);
        eprintln!(
            "  of them {} full 60 s windows: median {:?}, max {:?}; shorter windows: max {:?}",
            distinct_full.len(),
            median(&distinct_full),
            distinct_full.last(),
            distinct_short.iter().copied().reduce(f64::max)
        );
        println!(
            "{}: {count} empty sessions of {secs} s at SNR {snr} dB: {records} vital-sign records, {breath} with a breathing estimate, {heart} with a heart estimate; {motion} MotionStarted, {presence} PresenceStarted (node events), {moving} of {frames} frames moving",
            if intel { "intel5300" } else { "esp32" }
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = args.get(1).map(String::as_str).unwrap_or("events");
    let n: Option<u64> = args.get(2).and_then(|s| s.parse().ok());
    match mode {
        "events" => events(
            n.unwrap_or(10),
            args.get(3).and_then(|s| s.parse().ok()).unwrap_or(120.0),
        ),
        "vitals" => vitals(n.unwrap_or(40)),
        "posture" => posture(
            n.unwrap_or(101),
            args.get(3).and_then(|s| s.parse().ok()).unwrap_or(10),
            args.get(4).and_then(|s| s.parse().ok()).unwrap_or(100.0),
        ),
        "presence-random" => presence_random(
            n.unwrap_or(5000),
            args.get(3).and_then(|s| s.parse().ok()).unwrap_or(10),
            args.get(4).and_then(|s| s.parse().ok()).unwrap_or(120.0),
        ),
        "vitals-empty" => vitals_empty(
            n.unwrap_or(3000),
            args.get(3).and_then(|s| s.parse().ok()).unwrap_or(10),
            args.get(4).and_then(|s| s.parse().ok()).unwrap_or(20.0),
            args.get(5).and_then(|s| s.parse().ok()).unwrap_or(120.0),
        ),
        "vitals-random" | "oracle" | "gap" => {
            let count = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(20);
            let snr = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(20.0);
            let rates: Vec<f64> = args
                .get(5)
                .map(|s| s.split(',').filter_map(|x| x.parse().ok()).collect())
                .unwrap_or_else(|| vec![20.0, 50.0, 100.0]);
            if mode == "oracle" {
                oracle(n.unwrap_or(1000), count, snr, &rates);
            } else if mode == "gap" {
                gap(n.unwrap_or(1000), count, snr, &rates);
            } else {
                vitals_random(n.unwrap_or(1000), count, snr, &rates);
            }
        }
        "misses" => {
            // where the motion errors of a preset fall (onset, mid-run, offset tail, other)
            let preset: &'static str = Box::leak(args[2].clone().into_boxed_str());
            let seeds: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(10);
            let first: u64 = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(101);
            println!("| device | preset | motion F1 | missed: onset (first 0.5 s) | mid-run | mid-run statistic median / p90 | false: within 1 s after a run | other |");
            println!("|---|---|---|---|---|---|---|---|");
            for intel in devices() {
                let mut m = Counts::default();
                let (mut a, mut b, mut c, mut d) = (0, 0, 0, 0);
                let mut r = Vec::new();
                for seed in first..first + seeds {
                    let o = run(&Spec {
                        intel,
                        ..Spec::new(preset, 120.0, seed)
                    });
                    m.merge(&o.motion);
                    a += o.miss_onset;
                    b += o.miss_mid;
                    c += o.fp_tail;
                    d += o.fp_other;
                    r.extend(o.mid_miss_ratio);
                }
                r.sort_by(f64::total_cmp);
                let p90 = r.get(r.len() * 9 / 10).copied();
                println!(
                    "| {} | {preset} | {} | {a} | {b} | {} / {} | {c} | {d} |",
                    if intel { "intel5300" } else { "esp32" },
                    fmt(m.f1()),
                    fmt(median(&r)),
                    fmt(p90)
                );
            }
        }
        "motion-truth" => motion_truth(
            Box::leak(args[2].clone().into_boxed_str()),
            args.get(3).and_then(|s| s.parse().ok()).unwrap_or(10),
            args.get(4).and_then(|s| s.parse().ok()).unwrap_or(101),
        ),
        "speed" => {
            // events and vital signs together per ESP32 frame (the criterion bench's session;
            // `SENSING_SMOOTH=0` for the previous release's vital-sign features)
            let frames = session::frames();
            let mut best = f64::INFINITY;
            let mut best_cpu = f64::INFINITY;
            let mut cpus = Vec::new();
            for _ in 0..n.unwrap_or(10) {
                let c0 = thread_cpu_s();
                let t0 = std::time::Instant::now();
                // the default configuration, with `SENSING_SMOOTH` / `SENSING_PHASE` applied
                let cfg = wifi_sensing_signal::SensingConfig {
                    vitals: Some(eval::vitals_config()),
                    ..wifi_sensing_signal::SensingConfig::default()
                };
                std::hint::black_box(session::run(&frames, cfg));
                best = best.min(t0.elapsed().as_secs_f64());
                if let (Some(a), Some(b)) = (c0, thread_cpu_s()) {
                    best_cpu = best_cpu.min(b - a);
                    cpus.push(b - a);
                }
            }
            let per = |x: f64| x * 1e6 / frames.len() as f64;
            println!(
                "{} frames: best of runs {:.1} ms, {:.2} us per frame (wall); thread CPU time best {:.2} / median {} us per frame",
                frames.len(),
                best * 1e3,
                per(best),
                per(best_cpu),
                median(&cpus).map_or("n/a".into(), |m| format!("{:.2}", per(m)))
            );
        }
        "anchor" => anchor(
            n.unwrap_or(20),
            args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1),
            args.get(4).and_then(|s| s.parse().ok()).unwrap_or(100.0),
        ),
        "trace" => trace(&args[2]),
        "noise" => noise(&args[2]),
        "drift" => {
            let hours: f64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(2.0);
            let r = drift::empty_room_with_drift(hours, 50.0, 7);
            println!("{r}");
        }
        "session" => {
            // one session's events with the statistic that fired them (diagnostics)
            let preset: &'static str = Box::leak(args[2].clone().into_boxed_str());
            let spec = Spec {
                intel: args.get(4).is_some_and(|d| d == "intel"),
                baseline: args.get(6).is_some_and(|b| b == "baseline"),
                ..Spec::new(
                    preset,
                    args[3].parse().unwrap_or(120.0),
                    args.get(5).and_then(|s| s.parse().ok()).unwrap_or(101),
                )
            };
            let o = eval::run_verbose(&spec);
            println!(
                "presence {:?} F1 {}; motion {:?} F1 {}",
                o.presence,
                fmt(o.presence.f1()),
                o.motion,
                fmt(o.motion.f1())
            );
        }
        other => eprintln!("unknown mode {other} (events, vitals, drift)"),
    }
}

/// `motion-truth PRESET [SEEDS] [FIRST]`: are the missed motion frames physical motion? Per
/// device: motion F1 against the activity segments and against the keypoint definition
/// (`eval::PhysicalMotion`), the fastest keypoint's speed on mid-run missed and on detected
/// frames, and the channel change the body makes on those frames: the same session re-run
/// without impairments, `Σ (|H(t)| − |H(t − 0.1 s)|)²` over every CSI value divided by what
/// receiver noise at the session's SNR gives (1 = as large as the noise's own change).
fn motion_truth(preset: &'static str, seeds: u64, first: u64) {
    use wifi_sensing_core::sim::Impairments;
    use wifi_sensing_core::sim::Simulator;
    println!("| device | preset | motion F1 (activity segments) | motion F1 (keypoints) | frames moving: segments / keypoints | keypoint speed m/s on missed mid-run frames: median / p10 / p90 | on detected: median / p10 | amplitude change / noise's on missed: median / p90 | on detected: median / p10 |");
    println!("|---|---|---|---|---|---|---|---|---|");
    let q = |v: &mut Vec<f64>, p: f64| -> String {
        if v.is_empty() {
            return "n/a".into();
        }
        v.sort_by(f64::total_cmp);
        format!("{:.2}", v[((v.len() - 1) as f64 * p).round() as usize])
    };
    for intel in devices() {
        let mut m = Counts::default();
        let mut mp = Counts::default();
        let (mut sm, mut sd, mut cm, mut cd) = (vec![], vec![], vec![], vec![]);
        for seed in first..first + seeds {
            let spec = Spec {
                intel,
                ..Spec::new(preset, 120.0, seed)
            };
            let o = run(&spec);
            m.merge(&o.motion);
            mp.merge(&o.motion_phys);
            sm.extend(&o.speed_missed);
            sd.extend(&o.speed_detected);
            // the body's channel change without noise, on the same frame slots
            let mut sc = spec.scenario(preset, 120.0);
            let snr = sc.impairments.snr_db.unwrap_or(30.0);
            sc.impairments = Impairments::none();
            let rate = sc.rate_hz;
            let lag = (0.1 * rate).round().max(1.0) as usize;
            let amps: Vec<Vec<f64>> = Simulator::new(sc, spec.profile(), seed)
                .expect("sim")
                .map(|(f, _)| f.csi.iter().map(|z| f64::from(z.norm())).collect())
                .collect();
            let values = amps.first().map_or(1, Vec::len) as f64;
            let p_ref = amps.iter().flatten().map(|a| a * a).sum::<f64>()
                / (amps.len() as f64 * values).max(1.0);
            let noise = p_ref / 10f64.powf(snr / 10.0);
            let change = |i: u64| -> Option<f64> {
                let i = i as usize;
                let (a, b) = (amps.get(i)?, amps.get(i.checked_sub(lag)?)?);
                Some(a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum::<f64>() / (values * noise))
            };
            cm.extend(o.missed_idx.iter().filter_map(|&i| change(i)));
            cd.extend(o.detected_idx.iter().filter_map(|&i| change(i)));
        }
        println!(
            "| {} | {preset} | {} | {} | {} / {} | {} / {} / {} | {} / {} | {} / {} | {} / {} |",
            if intel { "intel5300" } else { "esp32" },
            fmt(m.f1()),
            fmt(mp.f1()),
            m.positives(),
            mp.positives(),
            q(&mut sm, 0.5),
            q(&mut sm, 0.1),
            q(&mut sm, 0.9),
            q(&mut sd, 0.5),
            q(&mut sd, 0.1),
            q(&mut cm, 0.5),
            q(&mut cm, 0.9),
            q(&mut cd, 0.5),
            q(&mut cd, 0.1),
        );
    }
}

/// The device profiles to run: both, or the one named by `SENSING_DEVICE` (`esp32` or
/// `intel5300`).
fn devices() -> Vec<bool> {
    match std::env::var("SENSING_DEVICE").as_deref() {
        Ok("esp32") => vec![false],
        Ok("intel5300") => vec![true],
        _ => vec![false, true],
    }
}

/// CPU time of this thread, s (Linux: `/proc/thread-self/schedstat`); `None` elsewhere.
fn thread_cpu_s() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: f64 = s.split_whitespace().next()?.parse().ok()?;
    Some(ns * 1e-9)
}

/// `anchor [SEEDS] [FIRST] [RATE]`: the ESP32 anchor's protocol on the simulator. Each session is
/// 10 s quiet then 10 s of a person moving (three kinds of quiet: an empty room, a person
/// standing still, a person sitting and breathing; two kinds of moving: walking a random path,
/// a random gesture), one link at RATE Hz (default 100), automatic calibration, every frame
/// scored from the first (packet-level, as the anchor counts), per device: F1, false-positive
/// rate and the delay from the motion's start to `MotionStarted`.
fn anchor(seeds: u64, first: u64, rate: f64) {
    use wifi_sensing_core::sim::Simulator;
    println!("| device | quiet | moving | sessions | frames | motion F1 | FPR | recall | median onset delay s | worst onset s | sessions F1 < 0.99 |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for intel in devices() {
        for quiet in ["empty", "stand", "sit"] {
            for moving in ["walk", "gesture"] {
                let mut c = eval::Counts::default();
                let mut onsets = Vec::new();
                let mut below = 0;
                let mut frames = 0;
                for seed in first..first + seeds {
                    let (sc, profile) = eval::anchor_session(seed, intel, quiet, moving, rate);
                    let room = sc.room.size_m;
                    let sim = match Simulator::new(sc, profile, seed) {
                        Ok(s) => s,
                        Err(e) => {
                            eprintln!("seed {seed}: {e}");
                            continue;
                        }
                    };
                    let o = eval::score(sim, None, 0.0, room);
                    if o.motion.f1().is_none_or(|f| f < 0.99) {
                        below += 1;
                    }
                    c.merge(&o.motion);
                    frames += o.frames;
                    onsets.extend(o.onsets_s.iter().copied());
                }
                let worst = onsets.iter().copied().fold(f64::NAN, f64::max);
                println!(
                    "| {} | {quiet} | {moving} | {seeds} | {frames} | {} | {} | {} | {} | {:.2} | {below} |",
                    if intel { "intel5300" } else { "esp32" },
                    fmt(c.f1()),
                    fmt(c.fpr()),
                    fmt(c.recall()),
                    fmt(median(&onsets)),
                    worst,
                );
            }
        }
    }
}

/// `trace FILE`: per frame of a capture, the motion statistic over its quiet level and the
/// node's motion and presence (diagnostics of real recordings; TSV on stdout).
fn trace(path: &str) {
    use wifi_sensing_signal::{SensingAnalyser, SensingConfig};
    let mut cfg = SensingConfig {
        vitals: None,
        ..SensingConfig::default()
    };
    eval::events_from_env(&mut cfg);
    let mut a = SensingAnalyser::new(cfg, None).expect("analyser");
    let mut out = Vec::new();
    let mut t0 = None;
    println!("t_s\tnode\tratio\tmoving\tpresent");
    for item in wifi_sensing_core::reader::open(path).expect("open") {
        let Ok(f) = item else { continue };
        let f = &f;
        out.clear();
        if a.push(f, &mut out).is_err() {
            continue;
        }
        let t0 = *t0.get_or_insert(f.timestamp_ns);
        println!(
            "{:.3}\t{}\t{}\t{}\t{}",
            (f.timestamp_ns - t0) as f64 * 1e-9,
            f.node_id,
            a.motion_statistic(f.node_id)
                .map_or("".into(), |r| format!("{r:.3}")),
            a.moving(f.node_id)
                .map_or("", |m| if m { "1" } else { "0" }),
            a.present(f.node_id)
                .map_or("", |m| if m { "1" } else { "0" }),
        );
    }
}

/// `noise FILE`: is a capture's frame-to-frame change noise or movement? Per node (frames of its
/// most common shape), the mean squared change of the amplitude shape `|H_k| / mean |H|` (over
/// the subcarriers whose mean amplitude is above 2 % of the largest) and of the level
/// `ln mean |H|` between frames 1, 2, 5, 10, 20, 50 and 100 frames apart, next to the
/// cross-subcarrier noise estimate of the motion ratio (`Σ e_k² / 6` of the 1-frame change, see
/// the `features` module) and, at lag 1, how many times that estimate the shape changes and
/// the level changes (what independent noise would give the level: the estimate over the number
/// of values). Noise independent from frame to frame gives the same change at
/// every lag; a movement changes more over longer lags. The "Real ESP32 noise" tables of
/// MEASUREMENTS.md are this mode's output.
fn noise(path: &str) {
    use std::collections::BTreeMap;
    /// A frame's amplitude shape (`[rx, tx, subcarrier]`) and values.
    type Amplitudes = (Vec<usize>, Vec<f32>);
    let mut nodes: BTreeMap<u32, Vec<Amplitudes>> = BTreeMap::new();
    let mut rate: BTreeMap<u32, (i64, i64, usize)> = BTreeMap::new();
    for f in wifi_sensing_core::reader::open(path)
        .expect("open")
        .flatten()
    {
        let a = f.amplitude();
        let shape = a.shape().to_vec();
        let v: Vec<f32> = a.iter().copied().collect();
        nodes.entry(f.node_id).or_default().push((shape, v));
        let r = rate
            .entry(f.node_id)
            .or_insert((f.timestamp_ns, f.timestamp_ns, 0));
        r.1 = f.timestamp_ns;
        r.2 += 1;
    }
    println!("| node | frames | rate Hz | lag (frames) | shape change | cross-subcarrier noise | shape change / that noise | level change | level change / what that noise gives the level |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for (node, frames) in nodes {
        // the most common shape
        let mut counts: BTreeMap<Vec<usize>, usize> = BTreeMap::new();
        for (s, _) in &frames {
            *counts.entry(s.clone()).or_default() += 1;
        }
        let Some((shape, _)) = counts.into_iter().max_by_key(|(_, c)| *c) else {
            continue;
        };
        let rows: Vec<&Vec<f32>> = frames
            .iter()
            .filter(|(s, _)| *s == shape)
            .map(|(_, v)| v)
            .collect();
        let n = rows[0].len();
        let mean: Vec<f64> = (0..n)
            .map(|k| rows.iter().map(|r| f64::from(r[k])).sum::<f64>() / rows.len() as f64)
            .collect();
        let top = mean.iter().copied().fold(0.0, f64::max);
        let keep: Vec<usize> = (0..n).filter(|&k| mean[k] > 0.02 * top).collect();
        let (x, lev): (Vec<Vec<f64>>, Vec<f64>) = rows
            .iter()
            .map(|r| {
                let m = keep.iter().map(|&k| f64::from(r[k])).sum::<f64>() / keep.len() as f64;
                (keep.iter().map(|&k| f64::from(r[k]) / m).collect(), m.ln())
            })
            .unzip();
        let (t0, t1, nf) = rate[&node];
        let hz = (nf.saturating_sub(1)) as f64 / ((t1 - t0) as f64 * 1e-9);
        for lag in [1usize, 2, 5, 10, 20, 50, 100] {
            if lag >= x.len() {
                break;
            }
            let (mut d2, mut e2, mut l2) = (0.0, 0.0, 0.0);
            let m = x.len() - lag;
            for i in lag..x.len() {
                let d: Vec<f64> = x[i].iter().zip(&x[i - lag]).map(|(a, b)| a - b).collect();
                d2 += d.iter().map(|v| v * v).sum::<f64>() / d.len() as f64;
                if lag == 1 {
                    e2 += d
                        .windows(3)
                        .map(|w| (w[0] - 2.0 * w[1] + w[2]).powi(2))
                        .sum::<f64>()
                        / 6.0
                        / (d.len() - 2) as f64;
                }
                l2 += (lev[i] - lev[i - lag]).powi(2);
            }
            // at lag 1: the changes over the cross-subcarrier estimate, for the shape, and for
            // the level (independent noise of relative variance v per value gives the mean of
            // `keep` values v / keep)
            let (d2, e2, l2) = (d2 / m as f64, e2 / m as f64, l2 / m as f64);
            let at_lag1 = |v: f64| {
                if lag == 1 {
                    format!("{v:.5}")
                } else {
                    String::new()
                }
            };
            let ratio = |v: f64| {
                if lag == 1 {
                    format!("{v:.1}")
                } else {
                    String::new()
                }
            };
            println!(
                "| {node} | {} | {hz:.1} | {lag} | {d2:.5} | {} | {} | {l2:.5} | {} |",
                x.len(),
                at_lag1(e2),
                ratio(d2 / e2),
                ratio(l2 / (e2 / keep.len() as f64)),
            );
        }
    }
}
