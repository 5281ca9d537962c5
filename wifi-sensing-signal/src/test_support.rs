//! Test-only helpers shared by the unit tests of several modules.

use ndarray::Array3;
use num_complex::Complex32;
use wifi_sensing_core::{CaptureFormat, CsiFrame, Device};

use crate::fresnel::{doppler_hz, wavelength_m};

/// 2500 frames at a jittered ~250 Hz of 16 subcarriers: a static path plus a reflection whose
/// path length changes at `v_mps` at carrier `f_c_hz` (the amplitude beats at `v / λ` Hz).
pub(crate) fn walking_frames(node: u32, v_mps: f64, f_c_hz: f64) -> Vec<CsiFrame> {
    let fd = doppler_hz(v_mps, wavelength_m(f_c_hz));
    (0..2500)
        .map(|i| {
            let t = (i as f64 + 0.2 * ((i * 7919 % 13) as f64 / 13.0 - 0.5)) / 250.0;
            let csi = Array3::from_shape_fn((1, 1, 16), |(_, _, k)| {
                let stat = Complex32::new(1.0, 0.1 * k as f32);
                let refl = Complex32::from_polar(
                    0.3,
                    (2.0 * std::f64::consts::PI * fd * t) as f32 + 0.2 * k as f32,
                );
                stat + refl
            });
            let mut f = CsiFrame::new(CaptureFormat::Simulated, Device::Simulator, csi);
            f.timestamp_ns = (t * 1e9) as i64;
            f.node_id = node;
            f.center_freq_mhz = Some((f_c_hz / 1e6) as u32);
            f
        })
        .collect()
}
