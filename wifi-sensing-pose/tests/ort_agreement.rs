//! tract and ONNX Runtime agree within 1e-4 on every test model (feature `ort`).
//!
//! Runs only with `--features ort`, and then needs ONNX Runtime: `ORT_DYLIB_PATH` must name
//! its shared library (`export ORT_DYLIB_PATH="$(bash benches/compare/ort_setup.sh)"`). With
//! the feature on and no library this test FAILS, it does not skip.
#![cfg(feature = "ort")]

mod common;

use common::{frame, model};
use wifi_sensing_core::ndarray::{ArrayD, IxDyn};
use wifi_sensing_pose::{BackendKind, LoadOptions, PoseError, PoseEstimator, PoseModel};

/// Deterministic pseudo-random inputs in [-2, 2).
fn input(shape: &[usize], seed: u64) -> ArrayD<f32> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    ArrayD::from_shape_fn(IxDyn(shape), |_| {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((s >> 40) as f32 / (1u64 << 24) as f32) * 4.0 - 2.0
    })
}

fn load(name: &str, backend: BackendKind, batch: usize) -> PoseModel {
    let opts = LoadOptions {
        backend,
        batch,
        manifest: None,
    };
    PoseModel::load(model(name), &opts).unwrap_or_else(|e| panic!("{name} ({backend}): {e}"))
}

#[test]
fn tract_and_ort_agree_within_1e_4() {
    let lib = std::env::var_os("ORT_DYLIB_PATH").unwrap_or_default();
    assert!(
        !lib.is_empty() && std::path::Path::new(&lib).is_file(),
        "the `ort` feature is on but ORT_DYLIB_PATH does not name ONNX Runtime's library \
         (got {lib:?}); run: export ORT_DYLIB_PATH=\"$(bash benches/compare/ort_setup.sh)\""
    );
    let mut worst = 0.0f32;
    for name in [
        "linear_keypoints.onnx",
        "heatmap_peak.onnx",
        "densepose_toy.onnx",
        "conv_keypoints.onnx",
    ] {
        for batch in [1, 3] {
            let mut t = load(name, BackendKind::Tract, batch);
            let mut o = load(name, BackendKind::Ort, batch);
            assert_eq!(o.backend_name(), "ort");
            assert_eq!(t.sha256(), o.sha256());
            for seed in 0..5 {
                let x = input(&t.manifest().input_shape(batch), seed);
                let a = t.run_raw(x.view()).unwrap();
                let b = o.run_raw(x.view()).unwrap();
                assert_eq!(a.len(), b.len());
                for (ta, ob) in a.iter().zip(&b) {
                    assert_eq!(ta.shape(), ob.shape(), "{name}");
                    for (p, q) in ta.iter().zip(ob.iter()) {
                        let d = (p - q).abs();
                        worst = worst.max(d);
                        assert!(d <= 1e-4, "{name} batch {batch} seed {seed}: {p} vs {q}");
                    }
                }
            }
        }
    }
    eprintln!("largest tract/ort difference: {worst:e}");

    // The whole estimator gives the same poses on either backend.
    let poses = |backend| {
        let mut est = PoseEstimator::new(
            load("linear_keypoints.onnx", backend, 1),
            "hop=0.1s".parse().unwrap(),
        )
        .unwrap();
        let mut out = Vec::new();
        for k in 0..12 {
            est.push(&frame(k, 8, 10.0, 0), &mut out).unwrap();
        }
        est.finish(&mut out).unwrap();
        out
    };
    let (a, b) = (poses(BackendKind::Tract), poses(BackendKind::Ort));
    assert_eq!(a.len(), 9);
    assert_eq!(a.len(), b.len());
    for (p, q) in a.iter().zip(&b) {
        assert_eq!(q.model.backend, "ort");
        for (kp, kq) in p.keypoints.iter().zip(&q.keypoints) {
            assert!((kp.x - kq.x).abs() < 1e-4 && (kp.confidence - kq.confidence).abs() < 1e-4);
        }
    }

    // ONNX Runtime refuses the custom operator too, naming it.
    let e = PoseModel::load(
        model("unsupported_op.onnx"),
        &LoadOptions {
            backend: BackendKind::Ort,
            ..LoadOptions::default()
        },
    )
    .unwrap_err();
    assert!(matches!(e, PoseError::Graph { .. }), "{e}");
    assert!(e.to_string().contains("Frobnicate"), "{e}");
}
