//! Pose inference speed on the test models and the shipped reference model: model load time,
//! latency per window (batch 1) and windows per second (batch 16), tract against ONNX Runtime
//! (with `--features ort` and `ORT_DYLIB_PATH`), and the whole estimator (windowing + inference +
//! decoding) per frame.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use wifi_sensing_core::ndarray::{Array3, ArrayD, IxDyn};
use wifi_sensing_core::num_complex::Complex32;
use wifi_sensing_core::{CaptureFormat, Clock, CsiFrame, Device};
use wifi_sensing_pose::{BackendKind, LoadOptions, PoseEstimator, PoseModel, WindowConfig};

fn model(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/models")
        .join(name)
}

/// The hand-built test models (keypoint regression, a small conv net, heatmaps, DensePose-style
/// outputs) and the trained reference model (an MLP over 25 frames x 3 nodes x 3 x 2 x 30).
const MODELS: [&str; 5] = [
    "linear_keypoints.onnx",
    "conv_keypoints.onnx",
    "heatmap_peak.onnx",
    "densepose_toy.onnx",
    "wifi-pose-ref.onnx",
];

fn backends() -> Vec<BackendKind> {
    let mut v = vec![BackendKind::Tract];
    if cfg!(feature = "ort") {
        assert!(
            std::env::var_os("ORT_DYLIB_PATH").is_some(),
            "--features ort needs ORT_DYLIB_PATH (bash benches/compare/ort_setup.sh prints it)"
        );
        v.push(BackendKind::Ort);
    }
    v
}

fn load(name: &str, backend: BackendKind, batch: usize) -> PoseModel {
    let opts = LoadOptions {
        backend,
        batch,
        manifest: None,
    };
    PoseModel::load(model(name), &opts).unwrap()
}

fn input(m: &PoseModel) -> ArrayD<f32> {
    let shape = m.manifest().input_shape(m.batch());
    let mut k = 0u32;
    ArrayD::from_shape_fn(IxDyn(&shape), |_| {
        k = k.wrapping_mul(1_103_515_245).wrapping_add(12345);
        (k >> 16) as f32 / 65536.0 - 0.5
    })
}

fn load_time(c: &mut Criterion) {
    let mut g = c.benchmark_group("pose_load");
    g.sample_size(20);
    for b in backends() {
        for name in MODELS {
            g.bench_function(BenchmarkId::new(b.name(), name), |bench| {
                bench.iter(|| black_box(load(name, b, 1)))
            });
        }
    }
    g.finish();
}

fn inference(c: &mut Criterion) {
    let mut g = c.benchmark_group("pose_infer");
    for b in backends() {
        for name in MODELS {
            for batch in [1usize, 16] {
                let mut m = load(name, b, batch);
                let x = input(&m);
                g.throughput(Throughput::Elements(batch as u64));
                g.bench_function(
                    BenchmarkId::new(format!("{}/batch{batch}", b.name()), name),
                    |bench| bench.iter(|| black_box(m.run_raw(x.view()).unwrap())),
                );
            }
        }
    }
    g.finish();
}

/// 20 Hz frames with 30 subcarriers for the conv model (1 x 1 x 30).
fn frames(n: usize) -> Vec<CsiFrame> {
    (0..n)
        .map(|k| {
            let csi = Array3::from_shape_fn((1, 1, 30), |(_, _, s)| {
                Complex32::from_polar(
                    1.0 + 0.01 * (k + s) as f32,
                    0.3 * s as f32 + 0.01 * k as f32,
                )
            });
            let mut f = CsiFrame::new(CaptureFormat::Simulated, Device::Simulator, csi);
            f.clock = Clock::Simulated;
            f.timestamp_ns = k as i64 * 50_000_000;
            f
        })
        .collect()
}

fn estimator(c: &mut Criterion) {
    let mut g = c.benchmark_group("pose_estimator");
    g.sample_size(20);
    let fs = frames(400);
    for b in backends() {
        g.throughput(Throughput::Elements(fs.len() as u64));
        g.bench_function(
            BenchmarkId::new(b.name(), "conv_20hz_hop0.1s_frames"),
            |bench| {
                bench.iter_batched(
                    || {
                        PoseEstimator::new(
                            load("conv_keypoints.onnx", b, 1),
                            WindowConfig::default(),
                        )
                        .unwrap()
                    },
                    |mut est| {
                        let mut out = Vec::new();
                        for f in &fs {
                            est.push(f, &mut out).unwrap();
                        }
                        est.finish(&mut out).unwrap();
                        black_box(out.len())
                    },
                    BatchSize::LargeInput,
                )
            },
        );
    }
    g.finish();
}

criterion_group!(benches, load_time, inference, estimator);
criterion_main!(benches);
