//! Windowing: multi-node alignment in time, resampling, missing frames, bounded work on bad
//! timestamps.

mod common;

use std::path::Path;

use common::model;
use proptest::prelude::*;
use serde_json::json;
use wifi_sensing_core::ndarray::Array3;
use wifi_sensing_core::num_complex::Complex32;
use wifi_sensing_core::sim::device::DeviceProfile;
use wifi_sensing_core::sim::random::RandomSession;
use wifi_sensing_core::sim::scenario::Receivers;
use wifi_sensing_core::sim::Simulator;
use wifi_sensing_core::{CaptureFormat, Clock, CsiFrame, Device};
use wifi_sensing_pose::window::Window;
use wifi_sensing_pose::{Manifest, WindowConfig, Windower};

/// The linear model's manifest with amplitude only, 2 subcarriers, and `nodes` nodes.
fn manifest(node_ids: &[u32]) -> Manifest {
    let text = std::fs::read_to_string(model("linear_keypoints.json")).unwrap();
    let mut m: serde_json::Value = serde_json::from_str(&text).unwrap();
    m["input"]["channels"] = json!(["amplitude"]);
    m["input"]["subcarriers"] = json!(2);
    m["input"]["normalisation"] = json!({"mean": [0.0], "std": [1.0]});
    m["input"]["nodes"] = json!(node_ids.len());
    if node_ids.len() > 1 {
        m["input"]["node_ids"] = json!(node_ids);
        // the layout's receivers are the nodes the model reads
        let rx: Vec<_> = node_ids
            .iter()
            .map(|n| json!({"node_id": n, "position_m": [1.0, 1.0, 1.0]}))
            .collect();
        m["sensing_layout"]["receivers"] = json!(rx);
    }
    Manifest::from_json(&m.to_string(), Path::new("test.json")).unwrap()
}

/// A frame whose amplitude is a linear function of time: `node + t_s` and `10 + node + t_s`.
fn frame(node: u32, t_ns: i64) -> CsiFrame {
    let t = t_ns as f32 * 1e-9;
    let mut csi = Array3::<Complex32>::zeros((1, 1, 2));
    csi[[0, 0, 0]] = Complex32::new(node as f32 + t + 1.0, 0.0);
    csi[[0, 0, 1]] = Complex32::new(10.0 + node as f32 + t, 0.0);
    let mut f = CsiFrame::new(CaptureFormat::Simulated, Device::Simulator, csi);
    f.clock = Clock::Simulated;
    f.timestamp_ns = t_ns;
    f.node_id = node;
    f
}

fn push_all(w: &mut Windower, frames: &[CsiFrame]) -> Vec<Window> {
    let mut out = Vec::new();
    for f in frames {
        w.push(f, &mut out).unwrap();
    }
    w.finish(&mut out);
    out
}

#[test]
fn two_nodes_are_aligned_on_one_time_grid() {
    // Node 3 at 10 Hz from t = 0; node 7 at 12.5 Hz from t = 30 ms, interleaved by time.
    let mut frames: Vec<CsiFrame> = (0..30).map(|k| frame(3, k * 100_000_000)).collect();
    frames.extend((0..36).map(|k| frame(7, 30_000_000 + k * 80_000_000)));
    frames.sort_by_key(|f| f.timestamp_ns);
    let mut w = Windower::new(&manifest(&[3, 7]), "hop=0.2s".parse().unwrap()).unwrap();
    let windows = push_all(&mut w, &frames);
    assert!(
        windows.len() >= 12,
        "{} windows, {:?}",
        windows.len(),
        w.stats()
    );
    for win in &windows {
        assert_eq!(win.nodes, vec![3, 7]);
        assert_eq!(win.end_ns - win.start_ns, 300_000_000);
        assert_eq!(win.data.len(), 4 * 2 * 2);
        // Grid point k at start + k * 100 ms; the amplitude is linear in time, so linear
        // interpolation is exact.
        for k in 0..4 {
            let t = (win.start_ns + k as i64 * 100_000_000) as f64 * 1e-9;
            for (ni, node) in [3u32, 7].iter().enumerate() {
                let base = (k * 2 + ni) * 2;
                let want0 = f64::from(*node) + t + 1.0;
                assert!((f64::from(win.data[base]) - want0).abs() < 1e-4, "{win:?}");
                assert!((f64::from(win.data[base + 1]) - (want0 + 9.0)).abs() < 1e-4);
            }
        }
    }
    // Windows start once both nodes have started: the first ends 300 ms after node 7's start.
    assert_eq!(windows[0].end_ns, 330_000_000);
    // Each node's newest frame at or before the window's end, in the window's node order.
    for win in &windows {
        let end = win.end_ns;
        let node7 = 30_000_000 + (end - 30_000_000) / 80_000_000 * 80_000_000;
        assert_eq!(
            win.last_frame_ns,
            vec![end / 100_000_000 * 100_000_000, node7]
        );
    }
    assert_eq!(w.stats().skipped_missing, 0);
}

#[test]
fn rate_check_counts_frames_the_buffer_already_forgot() {
    // Random session 24 of the reference layout (Intel 5300, three nodes): the group's first
    // window is built, and the oldest frames dropped, before one node has run a whole window
    // span; its rate check must count every frame it took. It counted only the frames left in
    // its buffer, measured about 16 frames/s at 50 Hz and refused the stream.
    let mut cfg = RandomSession::new(24, 3.0);
    cfg.rx = Receivers::reference3();
    let sim = Simulator::new(cfg.scenario().unwrap(), DeviceProfile::intel5300(), 24).unwrap();
    let m = Manifest::load(model("wifi-pose-ref.json")).unwrap();
    let mut w = Windower::new(&m, "hop=0.4s".parse().unwrap()).unwrap();
    let mut out = Vec::new();
    for f in sim.frames() {
        w.push(&f.unwrap(), &mut out).unwrap();
    }
    assert!(out.len() >= 5, "{} windows, {:?}", out.len(), w.stats());
}

#[test]
fn frames_of_other_nodes_are_ignored_and_counted() {
    let frames: Vec<CsiFrame> = (0..10)
        .flat_map(|k| {
            [
                frame(3, k * 100_000_000),
                frame(7, k * 100_000_000),
                frame(9, k * 100_000_000),
            ]
        })
        .collect();
    let mut w = Windower::new(&manifest(&[3, 7]), WindowConfig::default()).unwrap();
    push_all(&mut w, &frames);
    assert_eq!(w.stats().frames_ignored, 10);
}

#[test]
fn single_node_models_window_each_node_separately() {
    let frames: Vec<CsiFrame> = (0..10)
        .flat_map(|k| {
            [
                frame(1, k * 100_000_000),
                frame(2, 5_000_000 + k * 100_000_000),
            ]
        })
        .collect();
    let mut w = Windower::new(&manifest(&[0]), "hop=0.1s".parse().unwrap()).unwrap();
    let windows = push_all(&mut w, &frames);
    let n1 = windows.iter().filter(|w| w.nodes == [1]).count();
    let n2 = windows.iter().filter(|w| w.nodes == [2]).count();
    assert_eq!((n1, n2), (7, 7));
}

#[test]
fn too_many_missing_frames_yield_no_window_and_are_counted() {
    // 10 Hz, but frames 10..=14 lost: windows overlapping the hole lack > 10 % of their points.
    let frames: Vec<CsiFrame> = (0..30)
        .filter(|k| !(10..=14).contains(k))
        .map(|k| frame(0, k * 100_000_000))
        .collect();
    let mut w = Windower::new(&manifest(&[0]), "hop=0.1s".parse().unwrap()).unwrap();
    let windows = push_all(&mut w, &frames);
    let s = w.stats();
    // Windows end at frames 3..=29 (27); those whose 4 points include a lost frame with no
    // neighbour within 2.5 periods are skipped: ends 10..=17 (8 windows).
    assert_eq!(s.skipped_missing, 8, "{s:?}");
    assert_eq!(windows.len(), 19);
    assert!(windows.iter().all(|w| w.missing == 0));
    // With a lenient rule (half the points may be missing), windows touching the hole with at
    // least two points present are kept and report their missing points.
    let mut w =
        Windower::new(&manifest(&[0]), "hop=0.1s:max_missing=0.5".parse().unwrap()).unwrap();
    let windows = push_all(&mut w, &frames);
    assert!(windows.iter().any(|w| w.missing == 2));
    assert!(w.stats().skipped_missing < 8);
}

#[test]
fn one_lost_frame_is_interpolated_across() {
    let frames: Vec<CsiFrame> = (0..10)
        .filter(|&k| k != 5)
        .map(|k| frame(0, k * 100_000_000))
        .collect();
    let mut w = Windower::new(&manifest(&[0]), "hop=0.1s".parse().unwrap()).unwrap();
    let windows = push_all(&mut w, &frames);
    assert_eq!(windows.len(), 7);
    assert_eq!(w.stats().skipped_missing, 0);
    // Window ending at 0.5 s: its last point is interpolated between 0.4 and 0.6 s, exactly.
    let win = windows.iter().find(|w| w.end_ns == 500_000_000).unwrap();
    assert!((win.data[3 * 2] - 1.5).abs() < 1e-5, "{:?}", win.data);
}

#[test]
fn out_of_order_frames_are_dropped_and_counted() {
    let mut frames: Vec<CsiFrame> = (0..10).map(|k| frame(0, k * 100_000_000)).collect();
    frames.swap(4, 5);
    let mut w = Windower::new(&manifest(&[0]), WindowConfig::default()).unwrap();
    push_all(&mut w, &frames);
    assert_eq!(w.stats().frames_out_of_order, 1);
}

#[test]
fn a_clock_jump_does_not_loop_for_ever() {
    let mut frames: Vec<CsiFrame> = (0..10).map(|k| frame(0, k * 100_000_000)).collect();
    // Jump by ~107 days, then a normal run.
    frames.extend((0..10).map(|k| frame(0, i64::MAX / 1000 + k * 100_000_000)));
    let mut w = Windower::new(&manifest(&[0]), "hop=0.1s".parse().unwrap()).unwrap();
    let t = std::time::Instant::now();
    let windows = push_all(&mut w, &frames);
    assert!(t.elapsed().as_secs() < 5);
    assert_eq!(
        windows.len(),
        14,
        "{:?} {:?}",
        w.stats(),
        windows.iter().map(|w| w.end_ns).collect::<Vec<_>>()
    );
    assert!(w.stats().skipped_missing > 1_000_000);
}

#[test]
fn too_many_nodes_is_an_error_not_growth() {
    let mut w = Windower::new(&manifest(&[0]), "max_nodes=3".parse().unwrap()).unwrap();
    let mut out = Vec::new();
    for n in 0..3 {
        w.push(&frame(n, 0), &mut out).unwrap();
    }
    assert!(w.push(&frame(3, 0), &mut out).is_err());
}

proptest! {
    /// Whatever the jitter and drops of a stream, each window names, per node, a frame time
    /// that the stream really had: the newest at or before the window's end.
    #[test]
    fn windows_name_the_newest_real_frame_before_their_end(
        jitter in proptest::collection::vec(-4_000_000i64..4_000_000, 80),
        dropped in proptest::collection::vec(any::<bool>(), 80),
    ) {
        // Two nodes at 10 Hz, each frame jittered by up to 4 ms; after its first window (the
        // rate check) node 0 drops up to one frame in three (never two in a row, so windows
        // are built).
        let mut frames = Vec::new();
        for (k, (j, d)) in jitter.iter().zip(&dropped).enumerate() {
            let k = k as i64;
            if *d && k % 6 == 0 && k > 12 {
                continue;
            }
            frames.push(frame((k % 2) as u32, (k / 2) * 100_000_000 + 10_000_000 + j));
        }
        frames.sort_by_key(|f| f.timestamp_ns);
        let mut w = Windower::new(&manifest(&[0, 1]), "hop=0.1s".parse().unwrap()).unwrap();
        let windows = push_all(&mut w, &frames);
        prop_assert!(!windows.is_empty());
        for win in &windows {
            prop_assert_eq!(win.last_frame_ns.len(), 2);
            for (node, last) in win.nodes.iter().zip(&win.last_frame_ns) {
                let newest = frames
                    .iter()
                    .filter(|f| f.node_id == *node && f.timestamp_ns <= win.end_ns)
                    .map(|f| f.timestamp_ns)
                    .max();
                prop_assert_eq!(Some(*last), newest);
            }
        }
    }

    #[test]
    fn any_timestamps_give_bounded_windows_and_no_panic(
        ts in proptest::collection::vec(-1_000_000_000_000i64..1_000_000_000_000, 0..60),
        nodes in proptest::collection::vec(0u32..3, 60),
    ) {
        let mut w = Windower::new(&manifest(&[0]), "hop=0.05s".parse().unwrap()).unwrap();
        let mut out = Vec::new();
        for (t, n) in ts.iter().zip(&nodes) {
            // Random timestamps may well be refused (too slow a stream): an error, never a panic.
            if let Err(e) = w.push(&frame(*n, *t), &mut out) {
                prop_assert!(e.to_string().contains("frame_rate_hz"), "{}", e);
            }
        }
        w.finish(&mut out);
        for win in &out {
            prop_assert_eq!(win.data.len(), 8);
            prop_assert!(win.data.iter().all(|v| v.is_finite()));
            // 10 % of 4 points rounds down to 0 missing points allowed.
            prop_assert_eq!(win.missing, 0);
        }
        let s = w.stats();
        prop_assert_eq!(s.frames, ts.len() as u64);
    }
}
