#![allow(missing_docs)]
//! Events and vital signs together, per ESP32 frame (simulated `mixed` session, 50 Hz).

#[path = "common/sensing.rs"]
mod session;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use wifi_sensing_signal::SensingConfig;

fn bench(c: &mut Criterion) {
    let frames = session::frames();
    let mut g = c.benchmark_group("sensing");
    g.throughput(Throughput::Elements(frames.len() as u64));
    g.sample_size(10);
    g.bench_function("events+vitals esp32 mixed 90 s", |b| {
        b.iter(|| session::run(&frames, SensingConfig::default()))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
