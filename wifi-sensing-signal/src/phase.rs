//! Phase sanitising: unwrap across subcarriers, then remove the linear term (sampling time
//! offset, packet detection delay) and the constant term (carrier phase offset) by least
//! squares over the frame's own subcarrier indices, separately for every rx/tx chain.
//!
//! The result is the residual phase, centred on zero with zero slope over the subcarrier
//! indices. Sanitising is idempotent, and adding any linear phase `a·k + b` to the input
//! (`k` the subcarrier index) does not change the result, as long as the unwrapped phase does
//! not jump by more than π between neighbouring columns (property tests).
//!
//! ```
//! use wifi_sensing_signal::phase::{sanitize_phase, LinearFit};
//! let idx: Vec<f64> = (-28..=28).map(f64::from).collect();
//! let fit = LinearFit::new(&idx)?;
//! let mut p: Vec<f64> = idx.iter().map(|k| 0.3 * k + 1.0).collect();
//! sanitize_phase(&mut p, &fit);
//! assert!(p.iter().all(|v| v.abs() < 1e-12));
//! # Ok::<(), wifi_sensing_signal::SignalError>(())
//! ```

use std::f64::consts::PI;

use ndarray::Array3;
use num_complex::{Complex32, Complex64};

use crate::error::{Result, SignalError};

/// Unwraps a phase sequence in place: adds multiples of 2π so no step exceeds π (like
/// `numpy.unwrap`). Non-finite values are left as they are and skipped.
pub fn unwrap(p: &mut [f64]) {
    let mut offset = 0.0;
    let mut prev: Option<f64> = None;
    for v in p.iter_mut() {
        if !v.is_finite() {
            continue;
        }
        let raw = *v;
        if let Some(pr) = prev {
            let d = raw - pr;
            // same rule as numpy: wrap d into [-pi, pi), keep +pi for positive d
            let mut dd = (d + PI).rem_euclid(2.0 * PI) - PI;
            if dd == -PI && d > 0.0 {
                dd = PI;
            }
            if d.abs() >= PI {
                offset += dd - d;
            }
        }
        prev = Some(raw);
        *v = raw + offset;
    }
}

/// `atan2(y, x)` to within 4e-9 rad (a degree-19 odd polynomial for `atan` on `[0, 1]`, fitted
/// for this crate, with octant reduction), several times faster than the libm call and
/// branch-free, so a row of values vectorises. Returns values in `[-π, π]`; `(0, 0)` gives 0 and
/// non-finite input gives a non-finite or arbitrary value (callers check finiteness first).
#[inline]
pub fn fast_atan2(y: f64, x: f64) -> f64 {
    const C: [f64; 10] = [
        0.999_999_959_790_519_3,
        -0.333_330_923_840_205_85,
        0.199_952_237_956_090_18,
        -0.142_393_216_532_668_68,
        0.108_497_289_512_717_62,
        -0.081_541_845_451_888_7,
        0.054_274_599_327_561_63,
        -0.027_932_739_768_726_38,
        0.009_346_876_409_920_005,
        -0.001_474_077_205_053_377_8,
    ];
    let (ax, ay) = (x.abs(), y.abs());
    let (lo, hi) = if ay > ax { (ax, ay) } else { (ay, ax) };
    let z = if hi > 0.0 { lo / hi } else { 0.0 };
    let z2 = z * z;
    let mut p = C[9];
    for c in C[..9].iter().rev() {
        p = p * z2 + c;
    }
    let mut r = z * p;
    if ay > ax {
        r = std::f64::consts::FRAC_PI_2 - r;
    }
    if x < 0.0 {
        r = PI - r;
    }
    if y < 0.0 {
        -r
    } else {
        r
    }
}

/// [`unwrap`] for phases already in `[-π, π]` (an `atan2` output): each step is off by at most
/// one turn, so the correction is a comparison, not a remainder. Same result as [`unwrap`] on
/// such input (up to rounding of the added multiples of 2π).
fn unwrap_principal(p: &mut [f64]) {
    let mut offset = 0.0;
    let mut prev = match p.first() {
        Some(&v) => v,
        None => return,
    };
    for v in p.iter_mut().skip(1) {
        let raw = *v;
        let d = raw - prev;
        offset += if d > PI {
            -2.0 * PI
        } else if d < -PI {
            2.0 * PI
        } else {
            0.0
        };
        prev = raw;
        *v = raw + offset;
    }
}

/// Precomputed least-squares fit of `p ≈ a·k + b` over fixed subcarrier indices `k`.
#[derive(Clone, Debug, PartialEq)]
pub struct LinearFit {
    idx: Vec<f64>,
    mean_k: f64,
    sxx: f64,
}

impl LinearFit {
    /// A fit over these indices; needs at least 2 distinct finite indices.
    pub fn new(idx: &[f64]) -> Result<Self> {
        if idx.len() < 2 || idx.iter().any(|k| !k.is_finite()) {
            return Err(SignalError::TooShort {
                component: "phase sanitise",
                len: idx.len(),
                needed: 2,
            });
        }
        let n = idx.len() as f64;
        let mean_k = idx.iter().sum::<f64>() / n;
        let sxx: f64 = idx.iter().map(|k| (k - mean_k) * (k - mean_k)).sum();
        if sxx <= 0.0 {
            return Err(SignalError::Numerical {
                component: "phase sanitise",
                reason: "all subcarrier indices are equal".into(),
            });
        }
        Ok(LinearFit {
            idx: idx.to_vec(),
            mean_k,
            sxx,
        })
    }

    /// The subcarrier indices.
    pub fn indices(&self) -> &[f64] {
        &self.idx
    }

    /// Fitted `(slope, intercept)` of `p` over the indices (lengths must agree; extra values
    /// are ignored).
    pub fn fit(&self, p: &[f64]) -> (f64, f64) {
        let n = self.idx.len().min(p.len());
        if n == 0 {
            return (0.0, 0.0);
        }
        let mean_p = p[..n].iter().sum::<f64>() / n as f64;
        let sxy: f64 = self.idx[..n]
            .iter()
            .zip(&p[..n])
            .map(|(k, v)| (k - self.mean_k) * (v - mean_p))
            .sum();
        let a = sxy / self.sxx;
        (a, mean_p - a * self.mean_k)
    }
}

/// Sanitises one chain's phase in place: unwrap, then subtract the least-squares line over the
/// fit's indices. A chain with a non-finite phase is left unchanged.
pub fn sanitize_phase(p: &mut [f64], fit: &LinearFit) {
    if p.iter().any(|v| !v.is_finite()) {
        return;
    }
    unwrap(p);
    let (a, b) = fit.fit(p);
    for (v, k) in p.iter_mut().zip(fit.indices()) {
        *v -= a * k + b;
    }
}

/// Reusable buffers for sanitising CSI frames (no allocation per frame once warm).
#[derive(Clone, Debug, Default)]
pub struct PhaseSanitizer {
    fit: Option<LinearFit>,
    key: Vec<i16>,
    keyed_default: usize,
    phase: Vec<f64>,
}

impl PhaseSanitizer {
    /// A sanitiser with empty caches.
    pub fn new() -> Self {
        Self::default()
    }

    fn fit_for(&mut self, subcarriers: Option<&[i16]>, n: usize) -> Result<&LinearFit> {
        let hit = match subcarriers {
            Some(s) => self.fit.is_some() && self.keyed_default == 0 && self.key == s,
            None => self.fit.is_some() && self.keyed_default == n,
        };
        if !hit {
            let idx: Vec<f64> = match subcarriers {
                Some(s) => s.iter().map(|&k| f64::from(k)).collect(),
                None => (0..n).map(|k| k as f64).collect(),
            };
            self.fit = Some(LinearFit::new(&idx)?);
            match subcarriers {
                Some(s) => {
                    self.key.clear();
                    self.key.extend_from_slice(s);
                    self.keyed_default = 0;
                }
                None => {
                    self.key.clear();
                    self.keyed_default = n;
                }
            }
        }
        Ok(self.fit.as_ref().expect("set above"))
    }

    /// Sanitises the phase of every `[rx][tx]` chain of `csi` in place, keeping amplitudes.
    /// `subcarriers` are the column indices (the frame's own; `None` means `0..n`). Errors when
    /// the index count disagrees with the columns or fewer than 2 columns exist.
    pub fn sanitize(
        &mut self,
        csi: &mut Array3<Complex32>,
        subcarriers: Option<&[i16]>,
    ) -> Result<()> {
        let n = csi.dim().2;
        if let Some(s) = subcarriers {
            if s.len() != n {
                return Err(SignalError::Shape {
                    component: "phase sanitise",
                    detail: format!("{} subcarrier indices for {n} columns", s.len()),
                });
            }
        }
        self.fit_for(subcarriers, n)?;
        let fit = self.fit.as_ref().expect("set");
        self.phase.resize(n, 0.0);
        let idx = fit.indices();
        for mut plane in csi.outer_iter_mut() {
            for mut row in plane.outer_iter_mut() {
                if row.iter().any(|c| !(c.re.is_finite() && c.im.is_finite())) {
                    continue;
                }
                for (p, c) in self.phase.iter_mut().zip(row.iter()) {
                    *p = fast_atan2(f64::from(c.im), f64::from(c.re));
                }
                unwrap_principal(&mut self.phase);
                let (a, b) = fit.fit(&self.phase);
                // Rotate by e^{-j(a k + b)}: the same as rebuilding from the residual phase
                // (unwrapping adds multiples of 2π only), without a sin/cos per value.
                let step = Complex64::from_polar(1.0, -a);
                let mut rot = Complex64::from_polar(1.0, -(a * idx[0] + b));
                let mut prev_k = idx[0];
                for (i, c) in row.iter_mut().enumerate() {
                    let k = idx[i];
                    if i > 0 {
                        rot = if k - prev_k == 1.0 {
                            rot * step
                        } else {
                            Complex64::from_polar(1.0, -(a * k + b))
                        };
                        prev_k = k;
                    }
                    let v = Complex64::new(f64::from(c.re), f64::from(c.im)) * rot;
                    *c = Complex32::new(v.re as f32, v.im as f32);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn fast_atan2_is_within_4e9_everywhere() {
        let mut worst = 0.0f64;
        for i in 0..20_000 {
            let a = -PI + 2.0 * PI * i as f64 / 20_000.0;
            for r in [1e-30, 1e-3, 1.0, 7.5e4, 1e30] {
                let (y, x) = (r * a.sin(), r * a.cos());
                worst = worst.max((fast_atan2(y, x) - y.atan2(x)).abs());
            }
        }
        assert!(worst < 4e-9, "{worst}");
        assert_eq!(fast_atan2(0.0, 0.0), 0.0);
        assert!((fast_atan2(0.0, -1.0) - PI).abs() < 4e-9);
        let mut p: Vec<f64> = (0..50)
            .map(|k| ((k as f64 * 2.9) + PI).rem_euclid(2.0 * PI) - PI)
            .collect();
        let mut q = p.clone();
        unwrap(&mut p);
        unwrap_principal(&mut q);
        for (a, b) in p.iter().zip(&q) {
            assert!((a - b).abs() < 1e-9);
        }
    }

    #[test]
    fn unwrap_matches_numpy_rule() {
        let mut p = vec![0.0, 3.0, -3.0, 0.0];
        unwrap(&mut p);
        assert!((p[2] - (-3.0 + 2.0 * PI)).abs() < 1e-12);
        assert!((p[3] - 2.0 * PI).abs() < 1e-12);
    }

    #[test]
    fn mismatched_indices_refused() {
        let mut csi = Array3::from_elem((1, 1, 4), Complex32::new(1.0, 0.0));
        let mut s = PhaseSanitizer::new();
        assert!(s.sanitize(&mut csi, Some(&[1, 2])).is_err());
        let mut one = Array3::from_elem((1, 1, 1), Complex32::new(1.0, 0.0));
        assert!(s.sanitize(&mut one, None).is_err());
    }

    fn smooth_channel(n: usize, seed: f64) -> Vec<Complex32> {
        (0..n)
            .map(|i| {
                let x = i as f64 / n as f64;
                let amp = 1.0 + 0.5 * (seed + 3.0 * x).sin();
                let ph = 0.8 * (seed * 2.0 + 2.0 * x).sin();
                Complex32::from_polar(amp as f32, ph as f32)
            })
            .collect()
    }

    proptest! {
        #[test]
        fn linear_phase_removed_and_idempotent(
            slope in -0.4f64..0.4, offset in -10.0f64..10.0, seed in 0.0f64..6.0,
            rx in 1usize..4, tx in 1usize..3,
        ) {
            let idx: Vec<i16> = (-28i16..=28).filter(|&k| k != 0).collect();
            let n = idx.len();
            let base = smooth_channel(n, seed);
            let mut a = Array3::from_shape_fn((rx, tx, n), |(_, _, k)| base[k]);
            let mut b = Array3::from_shape_fn((rx, tx, n), |(r, t, k)| {
                let extra = slope * f64::from(idx[k]) + offset + (r * 3 + t) as f64;
                base[k] * Complex32::from_polar(1.0, extra as f32)
            });
            let mut s = PhaseSanitizer::new();
            s.sanitize(&mut a, Some(&idx)).unwrap();
            s.sanitize(&mut b, Some(&idx)).unwrap();
            for (x, y) in a.iter().zip(b.iter()) {
                prop_assert!((x - y).norm() < 2e-4, "{} vs {}", x, y);
            }
            let mut again = a.clone();
            s.sanitize(&mut again, Some(&idx)).unwrap();
            for (x, y) in a.iter().zip(again.iter()) {
                prop_assert!((x - y).norm() < 2e-5);
            }
        }
    }
}
