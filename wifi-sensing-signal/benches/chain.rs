//! Default per-frame chain (sanitise + Hampel + normalise) on one ESP32 1x1x64 frame and one
//! Intel 5300 3x2x30 frame, streaming (state warm, per-frame cost).

use criterion::{criterion_group, criterion_main, Criterion};
mod common;

use common::{frames, INTEL_SUBCARRIERS};
use wifi_sensing_core::{Analyser, Stage};
use wifi_sensing_signal::spectral::SpectralAnalyser;
use wifi_sensing_signal::stages::{parse_stages, Notices};

fn bench(c: &mut Criterion) {
    let esp: Vec<i16> = (-32..32).collect();
    let intel: Vec<i16> = INTEL_SUBCARRIERS.to_vec();
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

/// Streaming spectrogram analyser per frame (ESP32 1x1x64 at 100 Hz, 1 s window, 0.25 s hop:
/// one 100-point FFT every 25 frames), component `mean` and `pca1`; timestamps keep increasing.
fn spectral(c: &mut Criterion) {
    let esp: Vec<i16> = (-32..32).collect();
    let input = frames((1, 1, 64), esp);
    for comp in ["mean", "pca1"] {
        let mut a = SpectralAnalyser::spectrogram(
            format!("window=1s:hop=0.25s:component={comp}")
                .parse()
                .unwrap(),
        )
        .unwrap();
        let mut out = Vec::with_capacity(4);
        let mut i = 0i64;
        let mut f = input[0].clone();
        c.bench_function(&format!("spectrogram_analyser_esp32_1x1x64_{comp}"), |b| {
            b.iter(|| {
                f.csi.assign(&input[(i % 64) as usize].csi);
                f.timestamp_ns = i * 10_000_000;
                i += 1;
                out.clear();
                a.analyse(&f, &mut out).unwrap();
                out.len()
            })
        });
    }
}

criterion_group!(benches, bench, spectral);
criterion_main!(benches);
