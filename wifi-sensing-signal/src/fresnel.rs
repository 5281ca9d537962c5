//! Fresnel-zone and Doppler helpers for a transmitter–receiver link.
//!
//! The `n`-th Fresnel zone of a link is the ellipsoid (foci at the two antennas) on which a
//! reflected path is `n · λ / 2` longer than the direct path. A reflector crossing zone
//! boundaries changes the reflected path by `λ / 2` per zone, which turns the reflected
//! component's phase by `π` per zone (`2π · ΔL / λ` in general), the mechanism behind CSI
//! amplitude fluctuations. A reflected path whose length changes at `dL/dt` m/s shows a Doppler
//! shift `f = (dL/dt) / λ` Hz in the CSI (the spectrogram's velocity axis is this path-length
//! rate; for a person moving along the bisector of a link, about twice the speed of the person).
//!
//! ```
//! use wifi_sensing_signal::fresnel::*;
//! let lambda = wavelength_m(5.18e9);
//! assert!((lambda - 0.05787).abs() < 1e-4);
//! // first Fresnel zone radius at the middle of a 4 m link
//! let r = zone_radius_m(1, 2.0, 2.0, lambda);
//! assert!((r - (lambda * 1.0f64).sqrt()).abs() < 1e-12);
//! // walking makes a path change of 1 m/s: about 17.3 Hz at 5.18 GHz
//! assert!((doppler_hz(1.0, lambda) - 17.28).abs() < 0.01);
//! ```

/// Speed of light in vacuum, m/s.
pub const SPEED_OF_LIGHT: f64 = 299_792_458.0;

/// Wavelength in metres of a carrier at `freq_hz`.
pub fn wavelength_m(freq_hz: f64) -> f64 {
    SPEED_OF_LIGHT / freq_hz
}

/// A frame's carrier frequency in MHz: its centre frequency, else its channel number's; `None`
/// when the frame states neither (or states 0).
///
/// ```
/// use wifi_sensing_core::{CaptureFormat, CsiFrame, Device};
/// let mut f = CsiFrame::new(CaptureFormat::Simulated, Device::Simulator, ndarray::Array3::zeros((1, 1, 1)));
/// assert_eq!(wifi_sensing_signal::fresnel::frame_carrier_mhz(&f), None);
/// f.channel = Some(6);
/// assert_eq!(wifi_sensing_signal::fresnel::frame_carrier_mhz(&f), Some(2437));
/// ```
pub fn frame_carrier_mhz(frame: &wifi_sensing_core::CsiFrame) -> Option<u32> {
    frame
        .center_freq_mhz
        .or_else(|| {
            frame
                .channel
                .and_then(wifi_sensing_core::frame::channel_to_freq_mhz)
        })
        .filter(|&mhz| mhz > 0)
}

/// Wavelength of a frame's carrier ([`frame_carrier_mhz`]); `None` when the frame states none.
pub fn frame_wavelength_m(frame: &wifi_sensing_core::CsiFrame) -> Option<f64> {
    frame_carrier_mhz(frame).map(|mhz| wavelength_m(f64::from(mhz) * 1e6))
}

/// Radius in metres of the `n`-th Fresnel zone at distances `d1` (from the transmitter) and
/// `d2` (from the receiver) along the link: `sqrt(n λ d1 d2 / (d1 + d2))`.
pub fn zone_radius_m(n: u32, d1: f64, d2: f64, lambda: f64) -> f64 {
    (f64::from(n) * lambda * d1 * d2 / (d1 + d2)).sqrt()
}

/// Path-length excess over the direct path at the outer boundary of zone `n`: `n λ / 2`.
pub fn zone_boundary_excess_m(n: u32, lambda: f64) -> f64 {
    f64::from(n) * lambda / 2.0
}

/// The Fresnel zone (1-based) a point `p` lies in for a link from `tx` to `rx` (3-D points in
/// metres): `floor(2 · excess / λ) + 1` where `excess = |tx p| + |p rx| − |tx rx|`.
pub fn zone_index(tx: [f64; 3], rx: [f64; 3], p: [f64; 3], lambda: f64) -> u32 {
    let d = |a: [f64; 3], b: [f64; 3]| {
        ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
    };
    let excess = (d(tx, p) + d(p, rx) - d(tx, rx)).max(0.0);
    let z = (2.0 * excess / lambda).floor() + 1.0;
    if z.is_finite() && z < f64::from(u32::MAX) {
        z as u32
    } else {
        u32::MAX
    }
}

/// Phase change in radians of a path whose length changes by `delta_m`: `2π ΔL / λ`.
pub fn phase_change_rad(delta_m: f64, lambda: f64) -> f64 {
    2.0 * std::f64::consts::PI * delta_m / lambda
}

/// Path-length change in metres that turns the phase by `dphi` radians.
pub fn path_change_m(dphi: f64, lambda: f64) -> f64 {
    dphi * lambda / (2.0 * std::f64::consts::PI)
}

/// Doppler frequency in Hz of a path-length rate `v` m/s: `v / λ`.
pub fn doppler_hz(path_rate_mps: f64, lambda: f64) -> f64 {
    path_rate_mps / lambda
}

/// Path-length rate in m/s of a Doppler frequency: `f · λ`.
pub fn path_rate_mps(doppler_hz: f64, lambda: f64) -> f64 {
    doppler_hz * lambda
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_and_phases() {
        let l = wavelength_m(2.437e9);
        // a point on the zone-3 boundary ellipse's minor axis is at radius zone_radius(3)
        let r = zone_radius_m(3, 2.5, 2.5, l);
        let tx = [0.0, 0.0, 0.0];
        let rx = [5.0, 0.0, 0.0];
        assert_eq!(zone_index(tx, rx, [2.5, r * 0.999, 0.0], l), 3);
        assert_eq!(zone_index(tx, rx, [2.5, r * 1.05, 0.0], l), 4);
        assert_eq!(zone_index(tx, rx, [2.5, 0.0, 0.0], l), 1);
        // half a wavelength of path change turns the phase by pi
        assert!((phase_change_rad(l / 2.0, l) - std::f64::consts::PI).abs() < 1e-12);
        assert!((path_change_m(std::f64::consts::PI, l) - l / 2.0).abs() < 1e-15);
        assert!((path_rate_mps(doppler_hz(1.4, l), l) - 1.4).abs() < 1e-12);
    }
}
