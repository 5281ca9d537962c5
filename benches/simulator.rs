//! Frames generated per second by the CSI simulator, per device profile.
//!
//! Each iteration builds a simulator for the `walk` preset (a person moving all the time, the
//! most expensive case: every body scatterer changes every frame) with the default
//! impairments, and generates every frame with its ground truth.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use wifi_sensing::sim::{DeviceProfile, Scenario, Simulator};

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("simulator");
    for (name, profile, seconds) in [
        ("esp32", DeviceProfile::esp32(), 100.0),
        ("intel5300", DeviceProfile::intel5300(), 20.0),
        ("nexmon80", DeviceProfile::nexmon80(), 20.0),
    ] {
        let mut scenario = match Scenario::preset("walk", seconds) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("simulator bench: {e}");
                return;
            }
        };
        scenario.impairments.drop_prob = 0.0;
        let frames = (seconds * scenario.rate_hz) as u64;
        g.throughput(Throughput::Elements(frames));
        g.bench_function(format!("{name}_walk_frames"), |b| {
            b.iter(|| {
                let sim = match Simulator::new(scenario.clone(), profile.clone(), 7) {
                    Ok(s) => s,
                    Err(e) => panic!("simulator bench setup: {e}"),
                };
                let mut n = 0u64;
                for (f, t) in sim {
                    black_box((&f, &t));
                    n += 1;
                }
                assert_eq!(n, frames);
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
