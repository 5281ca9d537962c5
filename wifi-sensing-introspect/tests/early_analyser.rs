//! Early labelling inside the `introspection` analyser, on simulated sessions with a known
//! onset: the `early` object opens after the onset and not before, within a bound measured on
//! the `early_detection` example's sessions, counts frames from its onset estimate, and closes
//! once the person stands still again.

use wifi_sensing_core::sim::body::Activity;
use wifi_sensing_core::sim::{DeviceProfile, Scenario, Simulator};
use wifi_sensing_introspect::features::FeatureKind;
use wifi_sensing_introspect::signature::SignatureLibrary;
use wifi_sensing_introspect::snapshot::{
    EarlySnapshot, IntrospectionAnalyser, IntrospectionConfig,
};
use wifi_sensing_signal::events::{EventConfig, EventKind};
use wifi_sensing_signal::{Sensed, SensingAnalyser, SensingConfig};

/// Latest opening accepted, frames after the true onset. In the `early_detection` example
/// (stage 1 with the default gate 3 on 2 frames, 273 onsets per set) walks and sit-downs opened
/// a median 7 and 6 frames after the onset on the test set; over all activities the 90th
/// percentile was 15 frames on both sets, the latest 21 on the development set (105 on the test
/// set, a wave).
const MAX_OPENING: usize = 25;

fn early_library() -> SignatureLibrary {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/signatures/early");
    SignatureLibrary::load_dir(dir).unwrap()
}

/// Stand 6 s, `act` for 4 s, stand 5 s; the early snapshots and the true activity per frame.
fn session(act: &str, seed: u64) -> Vec<(EarlySnapshot, Activity)> {
    session_every(act, seed, 1)
}

/// As [`session`], a snapshot every `every` frames.
fn session_every(act: &str, seed: u64, every: u64) -> Vec<(EarlySnapshot, Activity)> {
    let cfg = IntrospectionConfig {
        every,
        ..IntrospectionConfig::default()
    };
    session_cfg(act, seed, cfg)
}

/// As [`session`], with the analyser's settings `cfg`.
fn session_cfg(act: &str, seed: u64, cfg: IntrospectionConfig) -> Vec<(EarlySnapshot, Activity)> {
    session_full(act, seed, cfg, false)
        .into_iter()
        .map(|(e, a, _)| (e, a))
        .collect()
}

/// As [`session_cfg`]; with `event_onset` the analyser's stage 1 also opens on the event path's
/// `MotionStarted`. The third value: whether a separate event path (`SensingAnalyser`, default
/// settings, the same frames) emitted `MotionStarted` at that frame.
fn session_full(
    act: &str,
    seed: u64,
    cfg: IntrospectionConfig,
    event_onset: bool,
) -> Vec<(EarlySnapshot, Activity, bool)> {
    let (x, y) = (2.2 + 0.1 * (seed % 5) as f64, 1.2);
    let seg = match act {
        "walk" => format!(
            r#"{{"activity": "walk", "path_m": [[{x}, {y}], [{}, 0.6], [{x}, {y}]], "duration_s": 4}}"#,
            x + 1.2
        ),
        "sit" => format!(
            r#"{{"activity": "sit", "duration_s": 4, "position_m": [{x}, {y}], "heading_deg": 90}}"#
        ),
        g => format!(
            r#"{{"activity": "gesture", "gesture": "{g}", "duration_s": 4, "position_m": [{x}, {y}], "heading_deg": 90}}"#
        ),
    };
    let stand = |d: u32| {
        format!(
            r#"{{"activity": "stand", "duration_s": {d}, "position_m": [{x}, {y}], "heading_deg": 90}}"#
        )
    };
    let doc = format!(
        r#"{{"name": "early", "duration_s": 15, "rate_hz": 50, "timeline": [{}, {seg}, {}]}}"#,
        stand(6),
        stand(5)
    );
    let sim = Simulator::new(
        Scenario::from_json_str(&doc).unwrap(),
        DeviceProfile::esp32(),
        seed,
    )
    .unwrap();
    let mut a = IntrospectionAnalyser::new(cfg, Default::default())
        .unwrap()
        .with_early(early_library())
        .unwrap();
    if event_onset {
        a = a.with_event_onset(EventConfig::default(), None).unwrap();
    }
    let mut events = SensingAnalyser::new(SensingConfig::default(), None).unwrap();
    let mut sensed = Vec::new();
    let mut out = Vec::new();
    for (frame, truth) in sim {
        sensed.clear();
        events.push(&frame, &mut sensed).unwrap();
        let started = sensed
            .iter()
            .any(|e| matches!(e, Sensed::Event(e) if e.event == EventKind::MotionStarted));
        if let Some(s) = a.push(&frame).unwrap() {
            out.push((
                s.early.expect("early labelling runs"),
                truth.activity,
                started,
            ));
        }
    }
    out
}

#[test]
fn opens_after_the_onset_within_the_bound_and_closes_when_still() {
    let mut latencies = Vec::new();
    let mut committed = Vec::new();
    // Walks and sit-downs always opened in the example's sessions; arm gestures move little of
    // the body and opened in 34 of 56 (wave) and 58 of 68 (push) test onsets: for them only
    // "not before the onset, and not late if at all" is asserted.
    for (act, want, must_open) in [
        ("walk", Activity::Walk, true),
        ("sit", Activity::Sit, true),
        ("push", Activity::Push, false),
    ] {
        for seed in 700..703 {
            let s = session(act, seed);
            let onset = s.iter().position(|(_, a)| *a == want).unwrap();
            // Nothing before the onset (the warm-up included).
            for (i, (e, _)) in s[..onset].iter().enumerate() {
                assert!(
                    !e.moving && !e.onset,
                    "{act} {seed}: open at frame {i} < {onset}"
                );
                assert_eq!((e.frames_since_onset, &e.label), (0, &None));
            }
            let Some(opened) = s[onset..].iter().position(|(e, _)| e.onset) else {
                assert!(!must_open, "{act} {seed}: never opened");
                committed.push((act, None));
                continue;
            };
            assert!(
                opened <= MAX_OPENING,
                "{act} {seed}: opened {opened} frames late"
            );
            latencies.push(opened);
            // The episode counts frames from its onset estimate (the gate's 2 frames).
            let mut prev = s[onset + opened].0.frames_since_onset;
            assert_eq!(prev, 2);
            let mut first_label = None;
            for (e, _) in &s[onset + opened + 1..] {
                if !e.moving {
                    break;
                }
                assert_eq!(e.frames_since_onset, prev + 1);
                prev = e.frames_since_onset;
                assert!(e.label.is_some() && e.confidence >= 0.0);
                if e.committed_now {
                    assert!(first_label.is_none() && e.frames_since_onset >= 32);
                    first_label = e.committed_label.clone();
                }
                assert_eq!(e.committed_label, first_label);
            }
            committed.push((act, first_label));
            // 5 s of standing after the activity: the episode has closed by the end.
            let (last, _) = s.last().unwrap();
            assert!(
                !last.moving && last.committed_label.is_none(),
                "{act} {seed}"
            );
        }
    }
    // Every walk was named a walk (the example: 62 of 63 test walks).
    for (act, l) in &committed {
        if *act == "walk" {
            assert_eq!(l.as_deref(), Some("walk"), "{committed:?}");
        }
    }
    eprintln!("openings (frames after onset): {latencies:?}; committed: {committed:?}");
}

#[test]
fn an_idle_room_never_opens() {
    let sim = Simulator::new(
        Scenario::preset("empty", 60.0).unwrap(),
        DeviceProfile::esp32(),
        710,
    )
    .unwrap();
    let mut a = IntrospectionAnalyser::new(IntrospectionConfig::default(), Default::default())
        .unwrap()
        .with_early(early_library())
        .unwrap();
    let mut n = 0;
    for (frame, _) in sim {
        let s = a.push(&frame).unwrap().unwrap();
        assert!(!s.early.unwrap().moving, "frame {}", s.frame_count);
        n += 1;
    }
    assert!(n > 2900);
}

#[test]
fn early_signatures_of_the_wrong_kind_or_one_label_are_refused() {
    let a = || IntrospectionAnalyser::new(IntrospectionConfig::default(), Default::default());
    let shape = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/signatures");
    let e = a()
        .unwrap()
        .with_early(SignatureLibrary::load_dir(shape).unwrap())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("amp_baseline_v1") && e.contains("early labelling reads motion_lags_v1"),
        "{e}"
    );
    let one = early_library().signatures()[..1].to_vec();
    let e = a()
        .unwrap()
        .with_early(SignatureLibrary::from_signatures(one, Vec::new()).unwrap())
        .unwrap_err()
        .to_string();
    assert!(e.contains("two distinct labels"), "{e}");
}

#[test]
fn thinned_snapshots_keep_the_edges() {
    let every = |n| {
        let s = session_every("walk", 720, n);
        let onsets = s.iter().filter(|(e, _)| e.onset).count();
        let commits: Vec<_> = s
            .iter()
            .filter(|(e, _)| e.committed_now)
            .map(|(e, _)| e.committed_label.clone())
            .collect();
        (onsets, commits)
    };
    let (one, seven) = (every(1), every(7));
    assert_eq!(one.0, 1);
    assert_eq!(one, seven);
    // One snapshot after the episode opened, committed and closed (the walk ends at 10 s, the
    // snapshot comes at 14 s): `committed_label` is the open episode's (none), and `commits`
    // keeps the label with the time it was committed, as every frame gives it.
    let commits = |s: &[(EarlySnapshot, Activity)]| {
        s.iter()
            .flat_map(|(e, _)| e.commits.clone())
            .collect::<Vec<_>>()
    };
    let all = session_every("walk", 720, 1);
    let each = commits(&all);
    assert_eq!(each.len(), 1);
    assert_eq!(&*each[0].label, "walk");
    for (e, _) in &all {
        assert_eq!(e.committed_now, !e.commits.is_empty());
    }
    let thin = session_every("walk", 720, 700);
    assert_eq!(thin.len(), 1);
    let e = &thin[0].0;
    assert!(e.committed_now && !e.moving && e.committed_label.is_none());
    assert_eq!(commits(&thin), each);
}

#[test]
fn a_stream_of_the_early_kind_gives_the_same_early_snapshots() {
    // The stream's own `motion_lags_v1` features feed the decider (no second extractor): the
    // early objects equal those of a stream computing another kind.
    let mut cfg = IntrospectionConfig::default();
    assert_ne!(cfg.features.kind, FeatureKind::MotionLagsV1);
    let other = session_cfg("walk", 11, cfg.clone());
    cfg.features.kind = FeatureKind::MotionLagsV1;
    let same = session_cfg("walk", 11, cfg);
    assert_eq!(other.len(), same.len());
    assert!(
        other.iter().any(|(e, _)| e.moving),
        "the walk opens an episode"
    );
    for (i, ((a, _), (b, _))) in other.iter().zip(&same).enumerate() {
        assert_eq!(a, b, "frame {i}");
    }
}

#[test]
fn with_the_event_onset_an_episode_never_opens_later_than_motion_started() {
    // Waves and pushes: the gate alone opened later than `MotionStarted` on most of them in the
    // example (and missed 22 of 56 waves); walks and sit-downs for the gate-first case.
    let mut earlier = 0;
    let mut by_event = 0;
    for act in ["wave", "push", "walk", "sit"] {
        for seed in 730..733 {
            let s = session_full(act, seed, IntrospectionConfig::default(), true);
            let onset = s
                .iter()
                .position(|(_, a, _)| *a != Activity::Stand)
                .unwrap();
            assert!(
                s[..onset].iter().all(|(e, _, _)| !e.moving),
                "{act} {seed}: open before the onset"
            );
            let ms = s[onset..].iter().position(|(_, _, m)| *m);
            let opened = s[onset..].iter().position(|(e, _, _)| e.onset);
            let Some(ms) = ms else {
                // Without `MotionStarted` only the gate can open the episode.
                continue;
            };
            let opened = opened.unwrap_or_else(|| panic!("{act} {seed}: never opened"));
            assert!(
                opened <= ms,
                "{act} {seed}: opened {opened} frames after the onset, MotionStarted {ms}"
            );
            earlier += usize::from(opened < ms);
            by_event += usize::from(opened == ms);
        }
    }
    // Both sources open episodes on these sessions.
    assert!(
        earlier > 0 && by_event > 0,
        "earlier {earlier}, same frame {by_event}"
    );
}

#[test]
fn the_event_onset_needs_early_labelling_and_keeps_an_idle_room_closed() {
    let e = IntrospectionAnalyser::new(IntrospectionConfig::default(), Default::default())
        .unwrap()
        .with_event_onset(EventConfig::default(), None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("with_early"), "{e}");
    let sim = Simulator::new(
        Scenario::preset("empty", 60.0).unwrap(),
        DeviceProfile::esp32(),
        711,
    )
    .unwrap();
    let mut a = IntrospectionAnalyser::new(IntrospectionConfig::default(), Default::default())
        .unwrap()
        .with_early(early_library())
        .unwrap()
        .with_event_onset(EventConfig::default(), None)
        .unwrap();
    assert!(a.has_event_onset());
    for (frame, _) in sim {
        let s = a.push(&frame).unwrap().unwrap();
        assert!(!s.early.unwrap().moving, "frame {}", s.frame_count);
    }
}

/// A wave after 6 s of standing (the event onset matters most for gestures).
fn wave_session(seed: u64) -> Simulator {
    let doc = r#"{"name": "wave", "duration_s": 12, "rate_hz": 50, "timeline": [
        {"activity": "stand", "duration_s": 6, "position_m": [2.4, 1.2], "heading_deg": 90},
        {"activity": "gesture", "gesture": "wave", "duration_s": 4, "position_m": [2.4, 1.2], "heading_deg": 90},
        {"activity": "stand", "duration_s": 2, "position_m": [2.4, 1.2], "heading_deg": 90}]}"#;
    Simulator::new(
        Scenario::from_json_str(doc).unwrap(),
        DeviceProfile::esp32(),
        seed,
    )
    .unwrap()
}

#[test]
fn a_callers_event_path_gives_the_snapshots_of_the_analysers_own() {
    use wifi_sensing_introspect::snapshot::motion_started;
    let early = || {
        IntrospectionAnalyser::new(IntrospectionConfig::default(), Default::default())
            .unwrap()
            .with_early(early_library())
            .unwrap()
    };
    let mut differs_from_gate_only = false;
    for seed in 740..743 {
        let mut own = early()
            .with_event_onset(EventConfig::default(), None)
            .unwrap();
        let mut shared = early();
        let mut gate_only = early();
        // The caller's event path as a run with `--events --vitals` has it: vital signs and
        // fused events on too, which leave the nodes' `MotionStarted` as they are.
        let mut events = SensingAnalyser::new(SensingConfig::default(), None).unwrap();
        let mut sensed = Vec::new();
        let mut moving_frames = 0;
        for (frame, _) in wave_session(seed) {
            sensed.clear();
            events.push(&frame, &mut sensed).unwrap();
            let a = own.push(&frame).unwrap();
            let b = shared
                .push_with_event_onset(&frame, motion_started(&sensed, frame.node_id))
                .unwrap();
            let c = gate_only.push(&frame).unwrap();
            assert_eq!(a, b, "seed {seed}");
            differs_from_gate_only |= a != c;
            moving_frames += usize::from(a.and_then(|s| s.early).is_some_and(|e| e.moving));
        }
        assert!(moving_frames > 50, "seed {seed}: {moving_frames}");
    }
    assert!(
        differs_from_gate_only,
        "MotionStarted changed no snapshot: the comparison would not see a lost onset"
    );
    // It refuses an analyser with its own event path, and one without early labelling.
    let frame = wave_session(1).next().unwrap().0;
    let mut own = early()
        .with_event_onset(EventConfig::default(), None)
        .unwrap();
    let e = own.push_with_event_onset(&frame, false).unwrap_err();
    assert!(e.to_string().contains("own event path"), "{e}");
    let mut plain =
        IntrospectionAnalyser::new(IntrospectionConfig::default(), Default::default()).unwrap();
    let e = plain.push_with_event_onset(&frame, false).unwrap_err();
    assert!(e.to_string().contains("with_early"), "{e}");
}
