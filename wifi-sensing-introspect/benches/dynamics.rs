//! Criterion benches of the dynamics module: `DynamicsTracker::push` (per frame, averaged over
//! the update cycle) and batch Rosenstein / Grassberger-Procaccia on 1000 and 2000 points.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::hint::black_box;
use wifi_sensing_introspect::dynamics::{
    CorrDim, DynamicsConfig, DynamicsTracker, Rosenstein, RosensteinParams,
};

fn logistic(n: usize) -> Vec<f64> {
    let mut v = 0.123;
    (0..n)
        .map(|_| {
            v = 4.0 * v * (1.0 - v);
            v
        })
        .collect()
}

/// Smooth quasi-periodic signal with a little deterministic jitter (stands in for CSI amplitude).
fn smooth(n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| {
            let t = i as f64;
            (t * 0.21).sin()
                + 0.5 * (t * 0.057).sin()
                + 0.05 * ((t * 12.9898).sin() * 43758.5453).fract()
        })
        .collect()
}

fn bench_push(c: &mut Criterion) {
    let mut g = c.benchmark_group("dynamics_push");
    for (name, x) in [("logistic", logistic(1 << 14)), ("smooth", smooth(1 << 14))] {
        let mut t = DynamicsTracker::new(DynamicsConfig::default()).unwrap();
        for &v in &x[..2048] {
            t.push(v);
        }
        let mut i = 0usize;
        g.bench_function(BenchmarkId::new("push", name), |b| {
            b.iter(|| {
                i = (i + 1) & ((1 << 14) - 1);
                black_box(t.push(black_box(x[i])).regime);
            })
        });
    }
    g.finish();
}

fn bench_batch(c: &mut Criterion) {
    let mut g = c.benchmark_group("dynamics_batch");
    g.sample_size(30);
    let x = logistic(2000);
    for n in [1000usize, 2000] {
        let mut r = Rosenstein::new(RosensteinParams::default()).unwrap();
        g.bench_function(BenchmarkId::new("rosenstein_uniform_logistic", n), |b| {
            b.iter(|| black_box(r.estimate(black_box(&x[..n])).unwrap()))
        });
        let mut cd = CorrDim::new(2, 1).unwrap();
        g.bench_function(BenchmarkId::new("corr_dim_emb2_logistic", n), |b| {
            b.iter(|| black_box(cd.estimate(black_box(&x[..n]), None).unwrap()))
        });
    }
    g.finish();
}

criterion_group!(benches, bench_push, bench_batch);
criterion_main!(benches);
