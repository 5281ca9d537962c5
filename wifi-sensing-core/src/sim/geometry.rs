//! Propagation geometry: positions, antenna arrays, and the multipath sum that turns paths into
//! a channel frequency response.
//!
//! Every path `p` from a transmit antenna to a receive antenna has a length `L_p` (metres), a
//! real amplitude `a_p` and a fixed extra phase `φ_p` (for a reflection coefficient or a
//! scatterer's surface). At subcarrier frequency `f_k = f_c + k·Δf` it contributes
//!
//! ```text
//! a_p · exp( j·(φ_p − 2π · f_k · L_p / c) )
//! ```
//!
//! i.e. a delay `τ_p = L_p / c`. Amplitudes use the carrier wavelength `λ = c / f_c` (the relative
//! bandwidth is below 2 %, so the amplitude slope across the band is negligible while the phase
//! slope is not):
//!
//! * line of sight (Friis): `a = λ / (4π L)`;
//! * a specular reflection off a flat surface with reflectivity `Γ` (image method: the path length
//!   is the distance from the mirrored transmitter): `a = Γ · λ / (4π L)`, phase `π`;
//! * a point scatterer with radar cross-section `σ` at distances `d₁` (from tx) and `d₂` (to rx),
//!   from the bistatic radar equation: `a = λ·√σ / ((4π)^{3/2} · d₁ · d₂)`, path length
//!   `L = d₁ + d₂`.
//!
//! Distances are floored at [`MIN_DISTANCE_M`] so a scatterer placed on an antenna cannot produce
//! an infinite amplitude. For a reflector at distance `d` from a co-located transmitter and
//! receiver the path is `2d`, so a radial displacement `Δd` rotates its phase by `4π·Δd/λ`:
//! half a wavelength is one full turn.
//!
//! [`add_path`] evaluates the exponential by recurrence over consecutive subcarriers (one complex
//! multiplication per bin) after computing two sine/cosine pairs per path, which is what makes
//! the simulator fast.

use num_complex::Complex64;

use super::math::{sin_cos_turns, sqrt_4pi_cubed};

/// Speed of light in vacuum, m/s (air differs by 0.03 %, below the geometry's accuracy).
pub const SPEED_OF_LIGHT: f64 = 299_792_458.0;

/// Smallest distance used in an amplitude (m): closer scatterers are treated as this far.
pub const MIN_DISTANCE_M: f64 = 0.1;

/// A point or vector in the room frame, metres. `x` and `y` span the floor, `z` points up, and
/// the origin is a floor corner of the room.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Vec3 {
    /// x coordinate.
    pub x: f64,
    /// y coordinate.
    pub y: f64,
    /// z coordinate (height).
    pub z: f64,
}

impl Vec3 {
    /// A vector from its coordinates.
    pub const fn new(x: f64, y: f64, z: f64) -> Self {
        Vec3 { x, y, z }
    }

    /// From `[x, y, z]`.
    pub const fn from_array(a: [f64; 3]) -> Self {
        Vec3::new(a[0], a[1], a[2])
    }

    /// As `[x, y, z]`.
    pub const fn to_array(self) -> [f64; 3] {
        [self.x, self.y, self.z]
    }

    /// Sum.
    pub fn plus(self, o: Vec3) -> Vec3 {
        Vec3::new(self.x + o.x, self.y + o.y, self.z + o.z)
    }

    /// Difference `self − o`.
    pub fn minus(self, o: Vec3) -> Vec3 {
        Vec3::new(self.x - o.x, self.y - o.y, self.z - o.z)
    }

    /// Scaled by `k`.
    pub fn scale(self, k: f64) -> Vec3 {
        Vec3::new(self.x * k, self.y * k, self.z * k)
    }

    /// Dot product.
    pub fn dot(self, o: Vec3) -> f64 {
        self.x * o.x + self.y * o.y + self.z * o.z
    }

    /// Euclidean length.
    pub fn norm(self) -> f64 {
        self.dot(self).sqrt()
    }

    /// Distance to `o`.
    pub fn dist(self, o: Vec3) -> f64 {
        self.minus(o).norm()
    }

    /// Unit vector in the same direction, or `None` for a (near) zero or non-finite vector.
    pub fn normalized(self) -> Option<Vec3> {
        let n = self.norm();
        if n.is_finite() && n > 1e-12 {
            Some(self.scale(1.0 / n))
        } else {
            None
        }
    }

    /// Linear interpolation `self + (o − self)·t`.
    pub fn lerp(self, o: Vec3, t: f64) -> Vec3 {
        self.plus(o.minus(self).scale(t))
    }

    /// `true` when every coordinate is finite.
    pub fn is_finite(self) -> bool {
        self.x.is_finite() && self.y.is_finite() && self.z.is_finite()
    }
}

/// The subcarrier grid over which a channel response is evaluated: every integer index from
/// `k_min` to `k_min + n_bins − 1` at `f_k = center_hz + k · spacing_hz`.
#[derive(Clone, Debug, PartialEq)]
pub struct Spectrum {
    /// Carrier (channel centre) frequency, Hz.
    pub center_hz: f64,
    /// Subcarrier spacing Δf, Hz (312.5 kHz for 802.11n/ac).
    pub spacing_hz: f64,
    /// Lowest subcarrier index of the grid.
    pub k_min: i32,
    /// Number of consecutive indices in the grid.
    pub n_bins: usize,
}

impl Spectrum {
    /// The smallest grid that covers every index in `indices` (an empty list gives one bin at 0).
    pub fn covering(center_hz: f64, spacing_hz: f64, indices: &[i16]) -> Self {
        let lo = indices.iter().copied().min().unwrap_or(0);
        let hi = indices.iter().copied().max().unwrap_or(0);
        Spectrum {
            center_hz,
            spacing_hz,
            k_min: i32::from(lo),
            n_bins: (i32::from(hi) - i32::from(lo) + 1) as usize,
        }
    }

    /// Position of subcarrier index `k` in the grid, if it lies in it.
    pub fn bin_of(&self, k: i16) -> Option<usize> {
        let b = i64::from(k) - i64::from(self.k_min);
        (b >= 0 && (b as usize) < self.n_bins).then_some(b as usize)
    }

    /// Frequency of grid bin `b`, Hz.
    pub fn freq(&self, b: usize) -> f64 {
        self.center_hz + (f64::from(self.k_min) + b as f64) * self.spacing_hz
    }

    /// Carrier wavelength `c / f_c`, m.
    pub fn wavelength(&self) -> f64 {
        SPEED_OF_LIGHT / self.center_hz
    }
}

/// Adds one path to a channel response over `spec`'s grid:
/// `out[b] += amplitude · exp(j·2π·(phase_turns − f_b · length_m / c))`.
///
/// `out` must have `spec.n_bins` entries (extra entries are left untouched, missing ones are not
/// written). Two sine/cosine evaluations per call; the rest is a complex recurrence.
///
/// ```
/// use wifi_sensing_core::sim::geometry::{add_path, Spectrum};
/// use num_complex::Complex64;
/// let spec = Spectrum { center_hz: 2.437e9, spacing_hz: 312.5e3, k_min: 0, n_bins: 1 };
/// let mut a = [Complex64::new(0.0, 0.0)];
/// let mut b = [Complex64::new(0.0, 0.0)];
/// add_path(&mut a, &spec, 1.0, 0.0, 3.0);
/// add_path(&mut b, &spec, 1.0, 0.0, 3.0 + spec.wavelength()); // one wavelength longer
/// assert!((a[0] - b[0]).norm_sqr() < 1e-18);
/// ```
pub fn add_path(
    out: &mut [Complex64],
    spec: &Spectrum,
    amplitude: f64,
    phase_turns: f64,
    length_m: f64,
) {
    let f_lo = spec.freq(0);
    let cycles0 = f_lo * length_m / SPEED_OF_LIGHT;
    let dcycles = spec.spacing_hz * length_m / SPEED_OF_LIGHT;
    // Reduce before subtracting so the phase keeps full precision for long paths.
    let t0 = (phase_turns - phase_turns.round()) - (cycles0 - cycles0.round());
    let (s0, c0) = sin_cos_turns(t0);
    let (sd, cd) = sin_cos_turns(-(dcycles - dcycles.round()));
    let step = Complex64::new(cd, sd);
    let mut cur = Complex64::new(amplitude * c0, amplitude * s0);
    for o in out.iter_mut().take(spec.n_bins) {
        *o += cur;
        cur *= step;
    }
}

/// Free-space (Friis) amplitude of a direct path of length `length_m`: `λ / (4π L)`.
pub fn line_of_sight_amplitude(wavelength_m: f64, length_m: f64) -> f64 {
    wavelength_m / (4.0 * std::f64::consts::PI * length_m.max(MIN_DISTANCE_M))
}

/// Bistatic radar amplitude of a point scatterer: `λ·√σ / ((4π)^{3/2} · d₁ · d₂)`.
pub fn scatter_amplitude(wavelength_m: f64, rcs_m2: f64, d_tx_m: f64, d_rx_m: f64) -> f64 {
    wavelength_m * rcs_m2.max(0.0).sqrt()
        / (sqrt_4pi_cubed() * d_tx_m.max(MIN_DISTANCE_M) * d_rx_m.max(MIN_DISTANCE_M))
}

/// A point scatterer: position, radar cross-section and the phase its surface adds (in turns).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PointScatterer {
    /// Position in the room frame, m.
    pub position: Vec3,
    /// Radar cross-section, m².
    pub rcs_m2: f64,
    /// Extra phase of the scattered wave, turns (0.5 = sign inversion).
    pub phase_turns: f64,
}

/// Adds the path `tx → scatterer → rx` to `out` (see the [module docs](self)).
pub fn add_scatterer(
    out: &mut [Complex64],
    spec: &Spectrum,
    tx: Vec3,
    rx: Vec3,
    s: &PointScatterer,
) {
    let d1 = tx.dist(s.position);
    let d2 = s.position.dist(rx);
    let a = scatter_amplitude(spec.wavelength(), s.rcs_m2, d1, d2);
    add_path(out, spec, a, s.phase_turns, d1 + d2);
}

/// A flat surface perpendicular to a coordinate axis (`axis` 0 = x, 1 = y, 2 = z) at
/// `coordinate` metres, with amplitude reflectivity in `[0, 1]` and a phase inversion.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Surface {
    /// Axis the surface is perpendicular to.
    pub axis: usize,
    /// Position of the plane along that axis, m.
    pub coordinate: f64,
    /// Amplitude reflection coefficient magnitude `|Γ|`.
    pub reflectivity: f64,
}

impl Surface {
    /// The mirror image of `p` in this surface.
    pub fn mirror(&self, p: Vec3) -> Vec3 {
        let mut a = p.to_array();
        let i = self.axis.min(2);
        a[i] = 2.0 * self.coordinate - a[i];
        Vec3::from_array(a)
    }
}

/// Adds the first-order specular reflection `tx → surface → rx` (image method).
pub fn add_reflection(out: &mut [Complex64], spec: &Spectrum, tx: Vec3, rx: Vec3, s: &Surface) {
    if s.reflectivity <= 0.0 {
        return;
    }
    let l = s.mirror(tx).dist(rx);
    let a = s.reflectivity * line_of_sight_amplitude(spec.wavelength(), l);
    add_path(out, spec, a, 0.5, l);
}

/// Adds the direct path `tx → rx`.
pub fn add_line_of_sight(out: &mut [Complex64], spec: &Spectrum, tx: Vec3, rx: Vec3) {
    let l = tx.dist(rx);
    add_path(
        out,
        spec,
        line_of_sight_amplitude(spec.wavelength(), l),
        0.0,
        l,
    );
}

/// Positions of `n` antennas centred on `centre`, spaced `spacing_m` apart along `axis`
/// (a uniform linear array; `axis` need not be normalised, a zero axis means +y).
pub fn antenna_positions(centre: Vec3, axis: Vec3, spacing_m: f64, n: usize) -> Vec<Vec3> {
    let u = axis.normalized().unwrap_or(Vec3::new(0.0, 1.0, 0.0));
    (0..n)
        .map(|i| centre.plus(u.scale((i as f64 - (n as f64 - 1.0) / 2.0) * spacing_m)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phase(c: Complex64) -> f64 {
        c.im.atan2(c.re)
    }

    fn wrap(x: f64) -> f64 {
        let t = x / (2.0 * std::f64::consts::PI);
        (t - t.round()) * 2.0 * std::f64::consts::PI
    }

    fn spec() -> Spectrum {
        Spectrum {
            center_hz: 2.437e9,
            spacing_hz: 312.5e3,
            k_min: -32,
            n_bins: 64,
        }
    }

    #[test]
    fn recurrence_matches_direct_evaluation() {
        let s = spec();
        let mut out = vec![Complex64::new(0.0, 0.0); s.n_bins];
        add_path(&mut out, &s, 0.7, 0.1, 12.345);
        for (b, v) in out.iter().enumerate() {
            let ph = 2.0 * std::f64::consts::PI * (0.1 - s.freq(b) * 12.345 / SPEED_OF_LIGHT);
            let want = Complex64::new(0.7 * ph.cos(), 0.7 * ph.sin());
            assert!((v - want).norm() < 1e-12, "bin {b}: {v} vs {want}");
        }
    }

    #[test]
    fn monostatic_half_wavelength_is_one_turn() {
        // Co-located tx and rx, a reflector moved radially: the round trip grows by 2·Δd.
        let s = spec();
        let ant = Vec3::new(0.0, 0.0, 1.0);
        let dir = Vec3::new(1.0, 0.0, 0.0);
        let base = Vec3::new(2.0, 0.0, 1.0);
        let response = |d: f64| {
            let mut out = vec![Complex64::new(0.0, 0.0); s.n_bins];
            let sc = PointScatterer {
                position: base.plus(dir.scale(d)),
                rcs_m2: 1.0,
                phase_turns: 0.0,
            };
            add_scatterer(&mut out, &s, ant, ant, &sc);
            out
        };
        let h0 = response(0.0);
        for b in [0usize, 20, 32, 63] {
            let lambda_k = SPEED_OF_LIGHT / s.freq(b);
            // λ/8 → π/2 (phase decreases as the path grows), λ/4 → π, λ/2 → 2π.
            for (d, want) in [
                (lambda_k / 8.0, -0.5),
                (lambda_k / 4.0, -1.0),
                (lambda_k / 2.0, -2.0),
            ] {
                let h = response(d);
                let dphi = phase(h[b]) - phase(h0[b]);
                let expect = want * std::f64::consts::PI;
                assert!(
                    wrap(dphi - expect).abs() < 1e-9,
                    "bin {b}, d {d}: {dphi} vs {expect}"
                );
                // and exactly 4π·d/λ_k
                assert!(wrap(dphi + 4.0 * std::f64::consts::PI * d / lambda_k).abs() < 1e-9);
            }
        }
    }

    #[test]
    fn bistatic_phase_follows_path_length() {
        let s = spec();
        let tx = Vec3::new(0.5, 2.0, 1.0);
        let rx = Vec3::new(4.5, 2.0, 1.0);
        let p0 = Vec3::new(2.5, 1.0, 1.2);
        let p1 = Vec3::new(2.5, 1.1, 1.25);
        let l0 = tx.dist(p0) + p0.dist(rx);
        let l1 = tx.dist(p1) + p1.dist(rx);
        let mut h0 = vec![Complex64::new(0.0, 0.0); s.n_bins];
        let mut h1 = h0.clone();
        let sc = |p| PointScatterer {
            position: p,
            rcs_m2: 0.5,
            phase_turns: 0.25,
        };
        add_scatterer(&mut h0, &s, tx, rx, &sc(p0));
        add_scatterer(&mut h1, &s, tx, rx, &sc(p1));
        for b in 0..s.n_bins {
            let want = -2.0 * std::f64::consts::PI * s.freq(b) * (l1 - l0) / SPEED_OF_LIGHT;
            assert!(wrap(phase(h1[b]) - phase(h0[b]) - want).abs() < 1e-9);
        }
        // amplitude follows 1/(d1 d2)
        let a0 = h0[0].norm();
        let want = s.wavelength() * 0.5f64.sqrt()
            / ((4.0 * std::f64::consts::PI).powf(1.5) * tx.dist(p0) * p0.dist(rx));
        assert!((a0 - want).abs() < 1e-15);
    }

    #[test]
    fn image_method_length() {
        let floor = Surface {
            axis: 2,
            coordinate: 0.0,
            reflectivity: 0.5,
        };
        let tx = Vec3::new(0.0, 0.0, 1.0);
        let rx = Vec3::new(4.0, 0.0, 1.0);
        // Floor bounce: 2 · sqrt(2² + 1²).
        assert!((floor.mirror(tx).dist(rx) - 2.0 * 5f64.sqrt()).abs() < 1e-12);
        let s = spec();
        let mut h = vec![Complex64::new(0.0, 0.0); s.n_bins];
        add_reflection(&mut h, &s, tx, rx, &floor);
        let want = 0.5 * s.wavelength() / (4.0 * std::f64::consts::PI * 2.0 * 5f64.sqrt());
        assert!((h[10].norm() - want).abs() < 1e-15);
    }

    #[test]
    fn array_positions_are_centred() {
        let p = antenna_positions(Vec3::new(1.0, 2.0, 3.0), Vec3::new(0.0, 2.0, 0.0), 0.06, 3);
        assert_eq!(p.len(), 3);
        assert!(
            (p[0].y - 1.94).abs() < 1e-12
                && (p[1].y - 2.0).abs() < 1e-12
                && (p[2].y - 2.06).abs() < 1e-12
        );
    }

    #[test]
    fn spectrum_bins() {
        let s = Spectrum::covering(5.32e9, 312.5e3, &[-28, -1, 1, 28]);
        assert_eq!(s.k_min, -28);
        assert_eq!(s.n_bins, 57);
        assert_eq!(s.bin_of(-28), Some(0));
        assert_eq!(s.bin_of(28), Some(56));
        assert_eq!(s.bin_of(29), None);
    }
}
