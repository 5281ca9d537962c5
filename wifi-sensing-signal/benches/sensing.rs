#![allow(missing_docs)]
//! Events and vital signs together, per ESP32 frame (simulated `mixed` session, 50 Hz).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use wifi_sensing_core::sim::{DeviceProfile, Scenario, Simulator};
use wifi_sensing_signal::{SensingAnalyser, SensingConfig};

fn bench(c: &mut Criterion) {
    let frames: Vec<_> = Simulator::new(
        Scenario::preset("mixed", 90.0).unwrap(),
        DeviceProfile::esp32(),
        3,
    )
    .unwrap()
    .map(|(f, _)| f)
    .collect();
    let mut g = c.benchmark_group("sensing");
    g.throughput(Throughput::Elements(frames.len() as u64));
    g.sample_size(10);
    g.bench_function("events+vitals esp32 mixed 90 s", |b| {
        b.iter(|| {
            let mut a = SensingAnalyser::new(SensingConfig::default(), None).unwrap();
            let mut out = Vec::new();
            for f in &frames {
                a.push(f, &mut out).unwrap();
            }
            out.len()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
