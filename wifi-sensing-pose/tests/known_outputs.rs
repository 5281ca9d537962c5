//! End-to-end checks with the hand-built models of `fixtures/models/`, whose outputs are known
//! in closed form (see `make_test_models.py`): frames in, poses out, compared with the formulas.

mod common;

use common::{amp, frame, model, resid};
use wifi_sensing_pose::{
    BackendKind, LoadOptions, Pose, PoseEstimator, PoseModel, WindowConfig, COCO_KEYPOINTS,
};

fn estimator(name: &str, batch: usize, hop: &str) -> PoseEstimator {
    let opts = LoadOptions {
        backend: BackendKind::Tract,
        batch,
        manifest: None,
    };
    let model = PoseModel::load(model(name), &opts).unwrap();
    PoseEstimator::new(model, format!("hop={hop}").parse().unwrap()).unwrap()
}

fn run(est: &mut PoseEstimator, frames: usize, sc: usize, rate: f64) -> Vec<Pose> {
    let mut out = Vec::new();
    for k in 0..frames {
        est.push(&frame(k, sc, rate, 0), &mut out).unwrap();
    }
    est.finish(&mut out).unwrap();
    out
}

/// The linear model's weights, as make_test_models.py defines them.
fn linear_expected(x: &[f64]) -> Vec<f64> {
    (0..68)
        .map(|j| {
            let (joint, col) = (j / 4, j % 4);
            if col == 3 {
                return 0.5 + joint as f64 / 50.0;
            }
            let b = joint as f64 / 10.0 + col as f64 / 100.0;
            b + x
                .iter()
                .enumerate()
                .map(|(i, xi)| (((7 * i + 3 * j) % 11) as f64 - 5.0) / 100.0 * xi)
                .sum::<f64>()
        })
        .collect()
}

#[test]
fn linear_keypoints_match_the_closed_form() {
    // 10 Hz stream, 10 Hz model, window 4 frames, hop 0.1 s: windows end at frames 3, 4, ..., 9.
    let mut est = estimator("linear_keypoints.onnx", 1, "0.1s");
    let poses = run(&mut est, 10, 8, 10.0);
    assert_eq!(poses.len(), 7, "{:?}", est.stats());
    for (n, p) in poses.iter().enumerate() {
        let last = n + 3;
        assert_eq!(p.window.end_ns, last as i64 * 100_000_000);
        assert_eq!(p.window.start_ns, (last as i64 - 3) * 100_000_000);
        assert_eq!(p.window.missing_frames, 0);
        assert_eq!(p.source, "model");
        assert_eq!(p.model.id, "test-linear-keypoints");
        assert_eq!(p.coordinate_frame, "room_m");
        // Input in [frames][subcarriers][channels] order, normalised: amplitude (a - 1) / 2,
        // phase p / 0.5.
        let mut x = Vec::new();
        for t in 0..4 {
            let k = last - 3 + t;
            for s in 0..8 {
                x.push((f64::from(amp(k, s)) - 1.0) / 2.0);
                x.push(f64::from(resid(k, s)) / 0.5);
            }
        }
        let want = linear_expected(&x);
        for (j, kp) in p.keypoints.iter().enumerate() {
            assert_eq!(kp.name, COCO_KEYPOINTS[j]);
            let got = [kp.x, kp.y, kp.z.unwrap(), kp.confidence];
            for c in 0..4 {
                assert!(
                    (got[c] - want[4 * j + c]).abs() < 1e-5,
                    "window {n} joint {j} col {c}: {} vs {}",
                    got[c],
                    want[4 * j + c]
                );
            }
            assert_eq!(p.joint_confidence[j], kp.confidence);
        }
        let mean = p.joint_confidence.iter().sum::<f64>() / 17.0;
        assert!((p.confidence - mean).abs() < 1e-12);
    }
    let s = est.stats();
    assert_eq!((s.poses, s.runs, s.window.skipped_missing), (7, 7, 0));
}

#[test]
fn batching_gives_the_same_poses_as_single_windows() {
    let single = run(
        &mut estimator("linear_keypoints.onnx", 1, "0.1s"),
        23,
        8,
        10.0,
    );
    let mut est = estimator("linear_keypoints.onnx", 4, "0.1s");
    let batched = run(&mut est, 23, 8, 10.0);
    assert_eq!(single.len(), 20);
    assert_eq!(est.stats().runs, 5); // 4 + 4 + 4 + 4 + 4 (the last one padded from 0)
    for (a, b) in single.iter().zip(&batched) {
        assert_eq!(a.window, b.window);
        for (ka, kb) in a.keypoints.iter().zip(&b.keypoints) {
            assert!((ka.x - kb.x).abs() < 1e-6 && (ka.y - kb.y).abs() < 1e-6);
        }
    }
}

#[test]
fn a_faster_stream_is_resampled_to_the_model_rate() {
    // 40 Hz stream into the 10 Hz model: the grid points fall on every 4th frame, exactly.
    let mut est = estimator("linear_keypoints.onnx", 1, "0.5s");
    let poses = run(&mut est, 40, 8, 40.0);
    assert!(!poses.is_empty());
    for p in &poses {
        let last = (p.window.end_ns / 25_000_000) as usize; // frame index at 40 Hz
        let mut x = Vec::new();
        for t in 0..4 {
            let k = last - 12 + 4 * t;
            for s in 0..8 {
                x.push((f64::from(amp(k, s)) - 1.0) / 2.0);
                x.push(f64::from(resid(k, s)) / 0.5);
            }
        }
        let want = linear_expected(&x);
        assert!((p.keypoints[5].y - want[21]).abs() < 1e-5);
    }
}

#[test]
fn heatmap_peaks_are_found_to_sub_pixel_precision() {
    let mut est = estimator("heatmap_peak.onnx", 1, "0.1s");
    let poses = run(&mut est, 5, 8, 10.0);
    assert_eq!(poses.len(), 2);
    for (n, p) in poses.iter().enumerate() {
        // s = mean normalised amplitude of the window (mean 2, std 10).
        let mut s = 0.0;
        for k in n..n + 4 {
            for sc in 0..8 {
                s += (f64::from(amp(k, sc)) - 2.0) / 10.0;
            }
        }
        s /= 32.0;
        for (j, kp) in p.keypoints.iter().enumerate() {
            let cx = 2.0 + 0.7 * j as f64 + 0.3;
            let cy = 3.0 + 0.5 * j as f64 + 0.2;
            let x = (cx + 0.5) * 5.0 / 16.0;
            let y = (cy + 0.5) * 4.0 / 16.0;
            assert!((kp.x - x).abs() < 1e-4, "joint {j}: x {} vs {x}", kp.x);
            assert!((kp.y - y).abs() < 1e-4, "joint {j}: y {} vs {y}", kp.y);
            assert_eq!(kp.z, None);
            let (c0, r0) = (cx.round(), cy.round());
            let peak = 1.0 - 0.05 * ((c0 - cx).powi(2) + (r0 - cy).powi(2)) + s;
            assert!(
                (kp.confidence - peak).abs() < 1e-5,
                "joint {j}: {} vs {peak}",
                kp.confidence
            );
        }
    }
}

#[test]
fn densepose_parts_and_uv_summaries() {
    let mut est = estimator("densepose_toy.onnx", 1, "0.1s");
    let poses = run(&mut est, 4, 8, 10.0);
    assert_eq!(poses.len(), 1);
    let d = poses[0].densepose.as_ref().expect("densepose");
    assert_eq!((d.height, d.width), (8, 8));
    assert_eq!(d.parts.len(), 2);
    let (a, b) = (&d.parts[0], &d.parts[1]);
    assert_eq!((a.part, a.pixels, a.bbox), (1, 8, [2, 2, 5, 3]));
    assert_eq!((b.part, b.pixels, b.bbox), (14, 6, [6, 5, 7, 7]));
    assert!((a.fraction - 8.0 / 64.0).abs() < 1e-12);
    assert!((a.mean_u - 0.125).abs() < 1e-6 && (a.mean_v - 0.055).abs() < 1e-6);
    assert!((b.mean_u - 1.46).abs() < 1e-6 && (b.mean_v - 0.345).abs() < 1e-6);
    assert_eq!(d.mask(14).filter(|&m| m).count(), 6);
    assert_eq!(d.labels[6 * 8 + 5], 14);
}

/// Loads test model `name` (`.onnx`) with a copy of its manifest changed by `edit`.
fn with_manifest(name: &str, edit: impl FnOnce(&mut serde_json::Value)) -> PoseModel {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(model(&format!("{name}.json"))).unwrap();
    let mut m: serde_json::Value = serde_json::from_str(&text).unwrap();
    edit(&mut m);
    let mpath = dir.path().join("m.json");
    std::fs::write(&mpath, m.to_string()).unwrap();
    let opts = LoadOptions {
        manifest: Some(mpath),
        ..LoadOptions::default()
    };
    PoseModel::load(model(&format!("{name}.onnx")), &opts).unwrap()
}

#[test]
fn confidences_outside_0_1_give_no_pose_and_are_counted() {
    // The same heatmap model with mean 0, std 1: the peaks (the confidences) exceed 1.
    let pm = with_manifest("heatmap_peak", |m| {
        m["input"]["normalisation"] = serde_json::json!({"mean": [0.0], "std": [1.0]});
    });
    let mut est = PoseEstimator::new(pm, WindowConfig::default()).unwrap();
    let poses = run(&mut est, 6, 8, 10.0);
    assert!(poses.is_empty());
    assert_eq!(est.stats().invalid_output, 3);
    assert!(est.last_rejection().unwrap().contains("outside [0, 1]"));
}

#[test]
fn poses_say_whether_the_heading_came_from_the_track() {
    // The linear model with a heading-from-track step that turns every window it can fit a
    // line to (no speed threshold): 3 points over at least half the 0.3 s span.
    let body: Vec<[f64; 3]> = (0..17).map(|j| [0.1, 0.01 * j as f64, 0.5]).collect();
    let pm = with_manifest("linear_keypoints", |m| {
        m["post_processing"] = serde_json::json!({"track_heading": {
            "span_s": 0.3, "min_speed_m_s": 0.0, "full_speed_m_s": 0.0, "body_pose_m": body}});
    });
    let mut est = PoseEstimator::new(pm, "hop=0.1s".parse().unwrap()).unwrap();
    let turned = run(&mut est, 10, 8, 10.0);
    let plain = run(
        &mut estimator("linear_keypoints.onnx", 1, "0.1s"),
        10,
        8,
        10.0,
    );
    assert_eq!(turned.len(), 7);
    for (n, (t, p)) in turned.iter().zip(&plain).enumerate() {
        assert!(!p.heading_from_track, "no step, no heading (window {n})");
        // The first two windows are too few for a line; from the third on the pose is turned.
        assert_eq!(t.heading_from_track, n >= 2, "window {n}");
        assert_eq!(t.keypoints == p.keypoints, n < 2, "window {n}");
        // The frames of the synthetic stream are 100 ms apart from t = 0, and the windows end
        // on them.
        assert_eq!(t.window.last_frame_ns, vec![t.window.end_ns]);
    }
    let json = serde_json::to_value(&turned[2]).unwrap();
    assert_eq!(json["heading_from_track"], true);
    assert_eq!(json["window"]["last_frame_ns"][0], turned[2].window.end_ns);
}
