//! Several receiver nodes in one simulated capture, and seeded random sessions.

mod common;

use std::collections::BTreeMap;
use std::io::Cursor;
use std::net::Ipv4Addr;

use proptest::prelude::*;
use wifi_sensing_core::formats::adr018;
use wifi_sensing_core::formats::pcap::{PcapWriter, TsResolution};
use wifi_sensing_core::recording::{RecordingHeader, RecordingWriter};
use wifi_sensing_core::sim::export;
use wifi_sensing_core::sim::impairments::Impairments;
use wifi_sensing_core::sim::{
    Activity, ActivityMix, DeviceProfile, GroundTruth, RandomSession, Receivers, Scenario,
    Simulator, TruthReader, TruthWriter,
};
use wifi_sensing_core::{CsiFrame, JsonLinesSink, Output, Record, Registry, Sink};

fn run(s: &Scenario, p: &DeviceProfile, seed: u64) -> Vec<(CsiFrame, GroundTruth)> {
    Simulator::new(s.clone(), p.clone(), seed)
        .unwrap()
        .collect()
}

/// Per-instant view: (truth, frames).
fn instants(s: &Scenario, p: &DeviceProfile, seed: u64) -> Vec<(GroundTruth, Vec<CsiFrame>)> {
    let mut sim = Simulator::new(s.clone(), p.clone(), seed).unwrap();
    std::iter::from_fn(|| sim.next_instant()).collect()
}

#[test]
fn rx_list_json_and_errors() {
    let s = Scenario::from_json_str(
        r#"{"duration_s": 2, "rx": [{"position_m": [4.5, 2, 1]}, {"position_m": [2.5, 3.8, 1.2], "node_id": 9}]}"#,
    )
    .unwrap();
    assert_eq!(s.rx.node_ids(1), vec![0, 9]);
    // JSON round trip keeps the list form; a single object stays an object
    let text = serde_json::to_string(&s).unwrap();
    assert!(text.contains(r#""rx":[{"#), "{text}");
    assert_eq!(Scenario::from_json_str(&text).unwrap(), s);
    let one = Scenario::preset("walk", 2.0).unwrap();
    let text = serde_json::to_string(&one).unwrap();
    assert!(text.contains(r#""rx":{"#), "{text}");
    assert!(!text.contains("node_id"));
    let bad = [
        (r#"{"duration_s": 1, "rx": []}"#, "at least one receiver"),
        (
            r#"{"duration_s": 1, "rx": [{"position_m": [4, 2, 1], "node_id": 1}, {"position_m": [3, 2, 1]}]}"#,
            "node id 1 is used by two",
        ),
        (
            r#"{"duration_s": 1, "rx": [{"position_m": [4, 2, 1]}, {"position_m": [9, 2, 1]}]}"#,
            "rx[1].position_m[0]",
        ),
        (
            r#"{"duration_s": 1, "rx": [{"position_m": [4, 2, 1]}, {"position_m": [0.5, 2, 1]}]}"#,
            "tx and rx[1] must be at least",
        ),
        (
            r#"{"duration_s": 1, "tx": {"position_m": [0.5, 2, 1], "node_id": 3}}"#,
            "tx.node_id",
        ),
        (
            r#"{"duration_s": 1, "rx": [{"position_m": [4, 2, 1], "colour": 1}]}"#,
            "unknown field",
        ),
        (
            r#"{"duration_s": 1, "rx": 5}"#,
            "antenna-array object or a list",
        ),
    ];
    for (doc, want) in bad {
        let e = Scenario::from_json_str(doc).unwrap_err();
        assert!(e.to_string().contains(want), "{doc}: {e}");
    }
    let many = vec![r#"{"position_m": [4, 2, 1]}"#; 65].join(",");
    let e =
        Scenario::from_json_str(&format!(r#"{{"duration_s": 1, "rx": [{many}]}}"#)).unwrap_err();
    assert!(e.to_string().contains("exceed the limit 64"), "{e}");
}

#[test]
fn node_zero_equals_the_single_receiver_run() {
    for p in [DeviceProfile::esp32(), DeviceProfile::intel5300()] {
        let single = Scenario::preset("mixed", 8.0).unwrap();
        let multi = Scenario::reference_layout("mixed", 8.0).unwrap();
        let a = run(&single, &p, 5);
        let b: Vec<_> = run(&multi, &p, 5)
            .into_iter()
            .filter(|(f, _)| f.node_id == 0)
            .collect();
        assert_eq!(a.len(), b.len(), "{}", p.name());
        for ((fa, ta), (fb, tb)) in a.iter().zip(&b) {
            let mut fb = fb.clone();
            assert_eq!(fa.node_id, 1, "a single receiver keeps the profile's id");
            fb.node_id = fa.node_id;
            assert!(*fa == fb, "{}: frame {:?}", p.name(), fa.sequence);
            // the truth line of the instant is node 0's whenever node 0 is first in time
            if tb.nodes[0].node_id == 0 {
                assert_eq!(ta.keypoints, tb.keypoints);
                assert_eq!(ta.timestamp_ns, tb.timestamp_ns);
                assert_eq!(ta.impairments, tb.impairments);
            }
        }
    }
}

#[test]
fn nodes_see_different_csi_of_the_same_body() {
    let mut s = Scenario::reference_layout("walk", 4.0).unwrap();
    s.impairments = Impairments::none();
    let inst = instants(&s, &DeviceProfile::esp32(), 1);
    assert_eq!(inst.len(), 200);
    let mut differ = 0;
    for (t, frames) in &inst {
        assert_eq!(frames.len(), 3);
        assert_eq!(
            frames.iter().map(|f| f.node_id).collect::<Vec<_>>(),
            vec![0, 1, 2]
        );
        assert!(frames.iter().all(|f| f.timestamp_ns == t.timestamp_ns));
        assert!(t.presence);
        let amp = |f: &CsiFrame| f.csi.iter().map(|c| c.norm()).collect::<Vec<f32>>();
        let (a0, a1, a2) = (amp(&frames[0]), amp(&frames[1]), amp(&frames[2]));
        let diff = |x: &[f32], y: &[f32]| {
            x.iter().zip(y).map(|(p, q)| (p - q).abs()).sum::<f32>() / x.len() as f32
        };
        if diff(&a0, &a1) > 0.05 && diff(&a0, &a2) > 0.05 && diff(&a1, &a2) > 0.05 {
            differ += 1;
        }
    }
    assert_eq!(differ, inst.len(), "every instant differs between nodes");
    // and each node's CSI moves with the body over time
    for k in 0..3 {
        let first = &inst[0].1[k].csi;
        assert!(inst.iter().filter(|(_, f)| f[k].csi != *first).count() > 150);
    }
}

#[test]
fn per_node_sequences_are_contiguous_apart_from_drops() {
    let mut s = Scenario::reference_layout("walk", 60.0).unwrap();
    s.impairments.drop_prob = 0.1;
    s.impairments.jitter_std_ms = 4.0;
    let p = DeviceProfile::esp32();
    let mut sim = Simulator::new(s.clone(), p.clone(), 21).unwrap();
    let mut buf = Vec::new();
    let truth = TruthWriter::new(&mut buf, &sim.truth_header()).unwrap();
    let frames: Vec<CsiFrame> = sim
        .clone()
        .with_truth(truth)
        .collect::<Result<_, _>>()
        .unwrap();
    let slots = 3000u64;
    let _ = sim.by_ref().count();
    assert_eq!(sim.frame_slots(), slots);
    assert_eq!(frames.len() as u64 + sim.dropped(), 3 * slots);
    let per_node = sim.dropped_per_node();
    assert_eq!(per_node.len(), 3);
    for d in &per_node {
        // Binomial(3000, 0.1): mean 300, sd 16.4; 5 sd
        assert!((218..=382).contains(d), "{per_node:?}");
    }
    // independent streams: the nodes drop different frames
    let seqs = |k: u32| -> Vec<u32> {
        frames
            .iter()
            .filter(|f| f.node_id == k)
            .map(|f| f.sequence.unwrap())
            .collect()
    };
    let s0 = seqs(0);
    assert_ne!(s0, seqs(1));
    assert_ne!(seqs(1), seqs(2));
    for k in 0..3u32 {
        let sq = seqs(k);
        let gaps: u64 = sq
            .windows(2)
            .map(|w| u64::from(w[1] - w[0] - 1))
            .sum::<u64>()
            + u64::from(sq[0])
            + (slots - 1 - u64::from(*sq.last().unwrap()));
        assert_eq!(gaps, per_node[k as usize], "node {k}");
        assert!(sq.windows(2).all(|w| w[1] > w[0]));
    }
    // one capture in time order
    assert!(frames
        .windows(2)
        .all(|w| w[1].timestamp_ns >= w[0].timestamp_ns));
    // the nodes' clocks jitter independently
    let mut same_time = 0;
    let mut by_seq: BTreeMap<u32, Vec<i64>> = BTreeMap::new();
    for f in &frames {
        by_seq
            .entry(f.sequence.unwrap())
            .or_default()
            .push(f.timestamp_ns);
    }
    for ts in by_seq.values() {
        if ts.windows(2).any(|w| w[0] == w[1]) {
            same_time += 1;
        }
    }
    assert!(same_time < 30, "{same_time}");
    // the truth: one line per instant with a frame, listing that instant's frames
    let mut r = TruthReader::new(Cursor::new(buf)).unwrap();
    assert_eq!(r.header().nodes.len(), 3);
    assert_eq!(
        r.header()
            .nodes
            .iter()
            .map(|n| n.node_id)
            .collect::<Vec<_>>(),
        vec![0, 1, 2]
    );
    let lines: Vec<GroundTruth> = r.by_ref().collect::<Result<_, _>>().unwrap();
    assert_eq!(lines.len(), by_seq.len());
    let listed: usize = lines.iter().map(|t| t.nodes.len()).sum();
    assert_eq!(listed, frames.len());
    for t in &lines {
        let ts = &by_seq[&t.sequence];
        assert_eq!(t.nodes.len(), ts.len());
        assert_eq!(t.timestamp_ns, t.nodes[0].timestamp_ns);
        assert_eq!(t.timestamp_ns, *ts.iter().min().unwrap());
        let nominal = i64::from(t.sequence) * 20_000_000;
        for n in &t.nodes {
            assert!((n.timestamp_ns - nominal).abs() <= 9_000_000);
        }
    }
}

fn read_back(bytes: Vec<u8>, ext: &str) -> Vec<CsiFrame> {
    let mut cap = Registry::builtin()
        .open_read(Box::new(Cursor::new(bytes)), Some("sim"), Some(ext), None)
        .unwrap();
    let frames: Vec<CsiFrame> = (&mut cap).collect::<Result<_, _>>().unwrap();
    common::assert_clean_end(cap.stats(), ext);
    frames
}

#[test]
fn node_ids_survive_pcap_recording_and_json_lines() {
    let s = Scenario::reference_layout("mixed", 6.0).unwrap();
    let frames: Vec<CsiFrame> = run(&s, &DeviceProfile::esp32(), 2)
        .into_iter()
        .map(|(f, _)| f)
        .collect();
    let ids = |fr: &[CsiFrame]| fr.iter().map(|f| f.node_id).collect::<Vec<_>>();
    assert!(ids(&frames).contains(&2));
    // ADR-018 datagrams in a pcap: the datagram's node id
    let mut w = PcapWriter::new(Vec::new(), TsResolution::Nano).unwrap();
    for f in &frames {
        let id = u8::try_from(f.node_id).unwrap();
        let d = adr018::encode_csi(&export::to_adr018(f, id).unwrap()).unwrap();
        let src = Ipv4Addr::new(192, 168, 1, 100 + id);
        w.write_udp(
            f.timestamp_ns,
            src,
            Ipv4Addr::new(192, 168, 1, 10),
            5005,
            5005,
            &d,
        )
        .unwrap();
    }
    let back = read_back(w.into_inner().unwrap(), "pcap");
    assert_eq!(ids(&back), ids(&frames));
    for (b, f) in back.iter().zip(&frames) {
        common::assert_same_fields!(b, f, "pcap"; csi, sequence, node_id);
    }
    // the native recording: everything
    let mut buf = Vec::new();
    let mut w = RecordingWriter::new(&mut buf, &RecordingHeader::new("sim", "")).unwrap();
    for f in &frames {
        w.write(&Record::Frame(f.clone())).unwrap();
    }
    drop(w);
    assert_eq!(read_back(buf, "csirec"), frames);
    // JSON Lines
    let mut buf = Vec::new();
    let mut sink = JsonLinesSink::new(&mut buf);
    for f in &frames {
        sink.item(&Output::Frame(f.clone())).unwrap();
    }
    sink.finish(&Default::default()).unwrap();
    drop(sink);
    let back = read_back(buf, "jsonl");
    assert_eq!(ids(&back), ids(&frames));
    for (b, f) in back.iter().zip(&frames) {
        common::assert_same_fields!(b, f, "jsonl"; csi, sequence, node_id, timestamp_ns);
    }
}

fn session(seed: u64) -> RandomSession {
    RandomSession {
        seed,
        duration_s: 30.0,
        rx: Receivers::reference3(),
        ..RandomSession::default()
    }
}

fn poses(s: &Scenario, seed: u64) -> Vec<GroundTruth> {
    let mut sim = Simulator::new(s.clone(), DeviceProfile::esp32(), seed).unwrap();
    std::iter::from_fn(|| sim.next_instant().map(|x| x.0)).collect()
}

#[test]
fn random_sessions_repeat_per_seed_and_differ_between_seeds() {
    let a = session(1).scenario().unwrap();
    assert_eq!(a, session(1).scenario().unwrap());
    assert_eq!(a.name, "random:1");
    let ta = poses(&a, 1);
    assert_eq!(ta, poses(&session(1).scenario().unwrap(), 1));
    let mut positions = Vec::new();
    for seed in 2..6 {
        let b = session(seed).scenario().unwrap();
        assert_ne!(a.timeline, b.timeline);
        assert_ne!(a.person, b.person);
        let tb = poses(&b, seed);
        let differ = ta
            .iter()
            .zip(&tb)
            .filter(|(x, y)| x.keypoints != y.keypoints)
            .count();
        assert!(
            differ > ta.len() / 2,
            "seed {seed}: {differ} of {}",
            ta.len()
        );
        positions.push(tb.iter().find_map(|t| t.position_m));
    }
    positions.dedup();
    assert_eq!(positions.len(), 4, "different starting points");
}

#[test]
fn random_sessions_stay_in_the_room_and_cover_the_mix() {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for seed in 0..40 {
        let s = session(seed).scenario().unwrap();
        for seg in &s.timeline {
            let name = serde_json::to_value(seg).unwrap();
            let key = match name["gesture"].as_str() {
                Some(g) => g.to_string(),
                None => name["activity"].as_str().unwrap().to_string(),
            };
            *seen.entry(key).or_default() += 1;
        }
    }
    for a in ["stand", "sit", "walk", "wave", "push", "pull", "absent"] {
        assert!(seen.get(a).copied().unwrap_or(0) > 0, "{a}: {seen:?}");
    }
    // walk is the heaviest weight (3 of 10.5)
    assert!(
        seen["walk"] > seen["sit"] && seen["walk"] > seen["absent"],
        "{seen:?}"
    );
    for seed in 0..3 {
        let cfg = RandomSession {
            duration_s: 60.0,
            ..session(seed)
        };
        let s = cfg.scenario().unwrap();
        let size = s.room.size_m;
        let mut sim = Simulator::new(s, DeviceProfile::esp32(), seed).unwrap();
        while let Some((t, _)) = sim.next_instant() {
            if let Some(p) = t.position_m {
                for i in 0..2 {
                    assert!(
                        p[i] >= cfg.wall_clearance_m - 1e-9
                            && p[i] <= size[i] - cfg.wall_clearance_m + 1e-9,
                        "seed {seed}: {p:?}"
                    );
                }
            }
            if let Some(k) = t.keypoints {
                assert!(k.iter().all(|j| j[2] >= -0.01 && j[2] <= 1.0));
            }
        }
    }
    let walk_only = RandomSession {
        activities: "walk".parse().unwrap(),
        ..session(3)
    };
    let s = walk_only.scenario().unwrap();
    let mut sim = Simulator::new(s, DeviceProfile::esp32(), 3).unwrap();
    while let Some((t, _)) = sim.next_instant() {
        assert_eq!(t.activity, Activity::Walk);
    }
}

#[test]
fn random_rooms_vary_and_validate() {
    let mut sizes = Vec::new();
    for seed in 0..20 {
        let cfg = RandomSession {
            random_room: true,
            ..session(seed)
        };
        let s = cfg.scenario().unwrap();
        assert_eq!(s, cfg.scenario().unwrap());
        assert_eq!(s.name, format!("random:{seed}+room"));
        assert_eq!(s.rx.node_ids(1), vec![0, 1, 2]);
        let r = &cfg.room_ranges;
        for (i, range) in [r.size_x_m, r.size_y_m, r.size_z_m].iter().enumerate() {
            assert!(s.room.size_m[i] >= range[0] && s.room.size_m[i] <= range[1]);
        }
        assert!(s.room.reflectors.len() <= 6);
        let radios: Vec<[f64; 3]> = std::iter::once(s.tx.position_m)
            .chain(s.rx.arrays().iter().map(|a| a.position_m))
            .collect();
        for (i, p) in radios.iter().enumerate() {
            assert!(p[2] >= 0.7 && p[2] <= 1.8);
            for q in &radios[i + 1..] {
                assert!(((p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2)).sqrt() > 0.1);
            }
        }
        sizes.push(s.room.size_m);
        // it simulates
        assert!(Simulator::new(s, DeviceProfile::intel5300(), seed)
            .unwrap()
            .next()
            .is_some());
    }
    sizes.sort_by(|a, b| a[0].total_cmp(&b[0]));
    sizes.dedup();
    assert_eq!(sizes.len(), 20);
}

#[test]
fn random_session_config_errors_are_clear() {
    let bad: Vec<(RandomSession, &str)> = vec![
        (
            RandomSession {
                duration_s: 0.0,
                ..session(1)
            },
            "duration_s",
        ),
        (
            RandomSession {
                height_m: [1.9, 1.6],
                ..session(1)
            },
            "height_m is [low, high]",
        ),
        (
            RandomSession {
                breathing_bpm: [0.0, 10.0],
                ..session(1)
            },
            "breathing_bpm[0]",
        ),
        (
            RandomSession {
                heart_bpm: [60.0, f64::NAN],
                ..session(1)
            },
            "heart_bpm[1]",
        ),
        (
            RandomSession {
                wall_clearance_m: 1.9,
                ..session(1)
            },
            "wall_clearance_m",
        ),
        (
            RandomSession {
                activities: ActivityMix::NONE,
                ..session(1)
            },
            "at least one weight",
        ),
    ];
    for (cfg, want) in bad {
        let e = cfg.scenario().unwrap_err();
        assert!(e.to_string().contains(want), "{want}: {e}");
    }
    let e = serde_json::from_str::<RandomSession>(r#"{"seed": 1, "colour": 2}"#).unwrap_err();
    assert!(e.to_string().contains("unknown field"));
    let cfg: RandomSession =
        serde_json::from_str(r#"{"seed": 4, "duration_s": 20, "random_room": true}"#).unwrap();
    assert!(cfg.scenario().is_ok());
    assert!("walk=x".parse::<ActivityMix>().is_err());
    assert!("walk=-1".parse::<ActivityMix>().is_err());
}

fn any_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(0.0),
        -10.0..10.0f64,
        0.0..200.0f64,
        any::<f64>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, .. ProptestConfig::default() })]

    /// Any numbers in a random-session config give a clear error or a valid scenario that
    /// simulates.
    #[test]
    fn arbitrary_random_sessions_never_panic(
        seed in any::<u64>(),
        v in proptest::collection::vec(any_f64(), 24),
        counts in proptest::collection::vec(0u32..2000, 2),
        random_room in any::<bool>(),
        three in any::<bool>(),
    ) {
        let mut cfg = RandomSession {
            seed,
            duration_s: v[0],
            random_room,
            ..RandomSession::default()
        };
        if three {
            cfg.rx = Receivers::reference3();
        }
        let pair = |i: usize| [v[i], v[i + 1]];
        // half the cases keep the defaults of some ranges, so that valid configs occur
        if v[23].is_finite() && v[23] > 0.0 {
            cfg.segment_s = pair(1);
            cfg.height_m = pair(3);
            cfg.breathing_bpm = pair(5);
            cfg.heart_bpm = pair(7);
            cfg.walk_speed_m_s = pair(9);
            cfg.wall_clearance_m = v[11];
            cfg.radio_clearance_m = v[12];
            cfg.activities.walk = v[13];
        }
        if v[22].is_finite() && v[22] > 0.0 {
            cfg.room_ranges.size_x_m = pair(14);
            cfg.room_ranges.size_y_m = pair(16);
            cfg.room_ranges.radio_height_m = pair(18);
            cfg.room_ranges.min_radio_spacing_m = v[20];
            cfg.room_ranges.reflectors = [counts[0], counts[1]];
        }
        match cfg.scenario() {
            Ok(s) => {
                prop_assert!(s.validate().is_ok());
                // (a duration shorter than one frame period is the simulator's error)
                match Simulator::new(s, DeviceProfile::esp32(), seed) {
                    Ok(mut sim) => {
                        for _ in 0..3 {
                            sim.next_instant();
                        }
                    }
                    Err(e) => prop_assert!(e.to_string().contains("gives no frame"), "{e}"),
                }
            }
            Err(e) => prop_assert!(matches!(e, wifi_sensing_core::Error::Config(_)), "{e}"),
        }
    }
}
