//! Default per-frame chain (sanitise + Hampel + normalise) on one ESP32 1x1x64 frame and one
//! Intel 5300 3x2x30 frame, streaming (state warm, per-frame cost).

use criterion::{criterion_group, criterion_main, Criterion};
use ndarray::Array3;
use num_complex::Complex32;
use wifi_sensing_core::{CaptureFormat, Clock, CsiFrame, Device, Stage};
use wifi_sensing_signal::stages::{parse_stages, Notices};

fn frames(shape: (usize, usize, usize), sub: Vec<i16>) -> Vec<CsiFrame> {
    (0..64)
        .map(|i| {
            let csi = Array3::from_shape_fn(shape, |(r, t, k)| {
                let ph = 0.1 * k as f32 + 0.3 * r as f32 + 0.7 * t as f32 + 0.01 * i as f32;
                Complex32::from_polar(10.0 + ((i * 7 + k * 3) % 5) as f32, ph)
            });
            let mut f = CsiFrame::new(CaptureFormat::Simulated, Device::Simulator, csi);
            f.timestamp_ns = i as i64 * 10_000_000;
            f.clock = Clock::Simulated;
            f.subcarriers = Some(sub.clone());
            f
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let esp: Vec<i16> = (-32..32).collect();
    let intel: Vec<i16> = vec![
        -28, -26, -24, -22, -20, -18, -16, -14, -12, -10, -8, -6, -4, -2, -1, 1, 3, 5, 7, 9, 11,
        13, 15, 17, 19, 21, 23, 25, 27, 28,
    ];
    for (name, shape, sub) in [
        ("chain_esp32_1x1x64", (1, 1, 64), esp),
        ("chain_intel5300_3x2x30", (3, 2, 30), intel),
    ] {
        let input = frames(shape, sub);
        let notices = Notices::default();
        let mut stages: Vec<Box<dyn Stage>> =
            parse_stages("sanitize,hampel:window=15:k=3,normalize")
                .unwrap()
                .iter()
                .map(|s| s.build(&notices).unwrap())
                .collect();
        let mut out = Vec::with_capacity(4);
        let mut next = Vec::with_capacity(4);
        let mut i = 0usize;
        c.bench_function(name, |b| {
            b.iter(|| {
                out.clear();
                out.push(input[i % input.len()].clone());
                i += 1;
                for s in stages.iter_mut() {
                    next.clear();
                    for f in out.drain(..) {
                        s.process_into(f, &mut next).unwrap();
                    }
                    std::mem::swap(&mut out, &mut next);
                }
                out.len()
            })
        });
        // the clone of the input frame is part of the loop: measure it alone for reference
        c.bench_function(&format!("{name}_clone_only"), |b| {
            b.iter(|| input[i % input.len()].clone())
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
