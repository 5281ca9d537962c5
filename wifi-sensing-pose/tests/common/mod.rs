//! Shared helpers of the pose tests: fixture paths and synthetic frames.
#![allow(dead_code)]

use std::path::PathBuf;

use wifi_sensing_core::ndarray::Array3;
use wifi_sensing_core::num_complex::Complex32;
use wifi_sensing_core::{CaptureFormat, Clock, CsiFrame, Device};

/// Path of a file in `fixtures/models/`.
pub fn model(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/models")
        .join(name)
}

/// Residual phase pattern with zero mean and no linear trend over 8 subcarriers.
pub const RESID: [f32; 8] = [0.2, -0.1, -0.05, -0.05, -0.05, -0.05, -0.1, 0.2];

/// Amplitude of subcarrier `s` in frame `k` of the synthetic stream.
pub fn amp(k: usize, s: usize) -> f32 {
    1.0 + 0.1 * s as f32 + 0.05 * k as f32
}

/// Sanitised phase of subcarrier `s` in frame `k` (what sanitising must recover).
pub fn resid(k: usize, s: usize) -> f32 {
    RESID[s] * (1.0 + 0.1 * k as f32)
}

/// Frame `k` of a 1 x 1 x `sc` stream at `rate_hz`: amplitude [`amp`], phase a steep line
/// (timing and phase offsets that wrap) plus [`resid`].
pub fn frame(k: usize, sc: usize, rate_hz: f64, node: u32) -> CsiFrame {
    let mut csi = Array3::<Complex32>::zeros((1, 1, sc));
    for s in 0..sc {
        let phase = 0.9 * s as f32 - 2.0 + 0.3 * k as f32 + resid(k, s % 8);
        csi[[0, 0, s]] = Complex32::from_polar(amp(k, s), phase);
    }
    let mut f = CsiFrame::new(CaptureFormat::Simulated, Device::Simulator, csi);
    f.clock = Clock::Simulated;
    f.timestamp_ns = (k as f64 * 1e9 / rate_hz).round() as i64;
    f.node_id = node;
    f
}
