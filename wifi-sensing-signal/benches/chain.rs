//! Default per-frame chain (sanitise + Hampel + normalise) on one ESP32 1x1x64 frame and one
//! Intel 5300 3x2x30 frame, streaming (state warm, per-frame cost); the streaming spectrogram
//! analyser; and the offline 1-D filters and STFT on `dsp.py`'s array sizes.

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

/// Filters and STFTs on arrays shaped like those `benches/compare/dsp.py` uses: 100 000
/// samples, a 2-section Butterworth band-pass (`sosfilt`, `sosfiltfilt`), and a Hann STFT with
/// 256-sample segments and a 64-sample hop; and the same filter and STFT over every column of a
/// row-major 6000 x 64 (frames x subcarriers) matrix; both STFTs again in `f32`.
fn offline(c: &mut Criterion) {
    use wifi_sensing_signal::biquad::{sosfilt, sosfiltfilt, Sos};
    use wifi_sensing_signal::stft::{StftConfig, StftPlan};
    let x: Vec<f64> = (0..100_000)
        .map(|i| (i as f64 * 0.05).sin() + 0.1 * ((i * 7919 % 1000) as f64 / 500.0 - 1.0))
        .collect();
    let sos = Sos::butter_bandpass(2, 1.0, 5.0, 100.0).unwrap();
    assert_eq!(sos.len(), 2);
    c.bench_function("sosfilt_1d_100k_2sections", |b| {
        b.iter(|| sosfilt(&sos, &x))
    });
    c.bench_function("sosfiltfilt_1d_100k_2sections", |b| {
        b.iter(|| sosfiltfilt(&sos, &x, None).unwrap())
    });
    let mut plan = StftPlan::new(StftConfig {
        nperseg: 256,
        hop: 64,
        ..Default::default()
    })
    .unwrap();
    c.bench_function("stft_1d_100k_nperseg256_hop64", |b| {
        b.iter(|| plan.stft(&x, 1.0).unwrap())
    });
    let m = ndarray::Array2::from_shape_fn((6000, 64), |(t, ch)| {
        (t as f64 * 0.05 + ch as f64).sin() + 0.1 * ((t * 7919 + ch * 31) % 1000) as f64 / 500.0
    });
    c.bench_function("sosfilt_channels_6000x64_2sections", |b| {
        b.iter(|| wifi_sensing_signal::biquad::sosfilt_channels(&sos, m.view()))
    });
    c.bench_function("stft_channels_6000x64_nperseg256_hop64", |b| {
        b.iter(|| plan.stft_channels(m.view(), 1.0).unwrap())
    });
    // the same two STFTs in f32 (the precision of CSI): the input rounded to f32
    let mut plan32 = StftPlan::new_f32(*plan.config()).unwrap();
    let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
    let m32 = m.mapv(|v| v as f32);
    c.bench_function("stft_f32_1d_100k_nperseg256_hop64", |b| {
        b.iter(|| plan32.stft(&x32, 1.0).unwrap())
    });
    c.bench_function("stft_f32_channels_6000x64_nperseg256_hop64", |b| {
        b.iter(|| plan32.stft_channels(m32.view(), 1.0).unwrap())
    });
}

criterion_group!(benches, bench, spectral, offline);
criterion_main!(benches);
