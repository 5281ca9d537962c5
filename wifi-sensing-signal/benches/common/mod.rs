//! Input frames shared by the chain bench and the `chain_cpu` example.

use ndarray::Array3;
use num_complex::Complex32;
use wifi_sensing_core::{CaptureFormat, Clock, CsiFrame, Device};

/// 64 distinct frames of `shape`, 10 ms apart, with these subcarrier indices.
pub fn frames(shape: (usize, usize, usize), sub: Vec<i16>) -> Vec<CsiFrame> {
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

/// Intel 5300's 30 subcarrier indices (20 MHz).
pub const INTEL_SUBCARRIERS: [i16; 30] = [
    -28, -26, -24, -22, -20, -18, -16, -14, -12, -10, -8, -6, -4, -2, -1, 1, 3, 5, 7, 9, 11, 13,
    15, 17, 19, 21, 23, 25, 27, 28,
];
