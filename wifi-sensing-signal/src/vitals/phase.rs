//! Phase features of the vital-sign estimator (see step 1 of the [module docs](super)).
//!
//! The amplitude `|H|` of a subcarrier is blind to a moving path whose phase change is in
//! quadrature with the static channel; the phase then carries it. A frame's raw phase is
//! useless on its own (a random common phase per frame, a random timing offset that adds a
//! phase linear in the subcarrier index), so the features keep only what those offsets leave
//! alone: the *CSI ratio* of neighbouring receive chains (Intel 5300 3×2), as the conjugate
//! product `H[r−1]·conj(H[r])` summed over a group of subcarriers and divided by
//! `Σ |H[r−1]|·|H[r]|`. The chains share the oscillator and the sampling clock, so the common
//! phase, the timing offset and any gain common to the chains (AGC) cancel; what is left is the
//! chains' constant phase difference plus the change of the channel. Both the real and the
//! imaginary part are features (whichever way the constant difference turns the change, one of
//! them carries it), without any phase unwrapping. Every feature is a ratio of sums of the
//! CSI, so scaling the CSI does not change it.
//!
//! A single-chain receiver (ESP32) has no such features. Its sanitised phase (the frame turned
//! back by its own phase slope and mean phase, unwrap-free) was tried as features and lowered
//! ESP32 breathing coverage on the development sessions (13 → 9 of 20 windows): the extra,
//! mostly noise features dilute the band's principal component. A second form was tried later
//! (the residual phase slope across neighbouring subcarriers, 12 groups, projected on the
//! smooth basis without its constant function): no window gained. The simulator's oracle says
//! why: amplitude plus sanitised phase holds about as much of the breath as the amplitude alone
//! (within 1 dB in the median window); what the complex CSI holds beyond the amplitude is in the
//! common phase and the linear phase slope, which a single chain's random common phase and
//! timing offset destroy (the crate's MEASUREMENTS.md).

use num_complex::{Complex32, Complex64};
use wifi_sensing_core::CsiFrame;

use crate::features::Columns;

/// Subcarrier groups per chain pair (ratio features; two features each).
const RATIO_GROUPS: usize = 3;
/// Fewest subcarriers per group.
const MIN_GROUP: usize = 3;

/// One group of subcarrier columns of a pair of receive chains.
#[derive(Clone, Debug)]
struct Group {
    /// Flat index of the first chain's value of each column.
    a: Vec<usize>,
    /// Flat index of the second chain's value of each column.
    b: Vec<usize>,
}

/// Phase features of one node's frames (fixed layout).
#[derive(Clone, Debug)]
pub(crate) struct PhaseFeatures {
    ratio: Vec<Group>,
}

fn split(n: usize, groups: usize) -> Vec<usize> {
    let g = groups.min(n / MIN_GROUP).max(1);
    (0..=g).map(|i| i * n / g).collect()
}

impl PhaseFeatures {
    /// Features for frames of `shape` (`(rx, tx, sc)`) over the selected columns `cols`.
    /// `None` for a single receive chain or too few columns.
    pub fn new(shape: (usize, usize, usize), cols: &Columns) -> Option<PhaseFeatures> {
        let (n_rx, n_tx, n_sc) = shape;
        let mut mask = vec![false; n_rx * n_tx * n_sc];
        for &i in &cols.index {
            if let Some(m) = mask.get_mut(i) {
                *m = true;
            }
        }
        let selected = |r: usize, t: usize, k: usize| mask[(r * n_tx + t) * n_sc + k];
        let mut f = PhaseFeatures { ratio: Vec::new() };
        if n_rx >= 2 {
            for t in 0..n_tx {
                for r in 1..n_rx {
                    let ks: Vec<usize> = (0..n_sc)
                        .filter(|&k| selected(r - 1, t, k) && selected(r, t, k))
                        .collect();
                    if ks.len() < MIN_GROUP {
                        continue;
                    }
                    let b = split(ks.len(), RATIO_GROUPS);
                    for w in b.windows(2) {
                        let part = &ks[w[0]..w[1]];
                        f.ratio.push(Group {
                            a: part
                                .iter()
                                .map(|k| ((r - 1) * n_tx + t) * n_sc + k)
                                .collect(),
                            b: part.iter().map(|k| (r * n_tx + t) * n_sc + k).collect(),
                        });
                    }
                }
            }
        }
        (f.len() > 0).then_some(f)
    }

    /// Number of features per frame.
    pub fn len(&self) -> usize {
        2 * self.ratio.len()
    }

    /// Appends the features of `frame` (same layout as at construction) to `out`.
    pub fn push(&mut self, frame: &CsiFrame, out: &mut Vec<f32>) {
        let Some(h) = frame.csi.as_slice() else {
            out.extend(std::iter::repeat_n(0.0, self.len()));
            return;
        };
        let c64 = |z: Complex32| Complex64::new(f64::from(z.re), f64::from(z.im));
        for g in &self.ratio {
            let mut z = Complex64::new(0.0, 0.0);
            let mut a = 0.0;
            for (&i, &j) in g.a.iter().zip(&g.b) {
                let (x, y) = (c64(h[i]), c64(h[j]));
                z += x * y.conj();
                a += x.norm() * y.norm();
            }
            let (re, im) = if a > 0.0 && z.re.is_finite() && z.im.is_finite() {
                (z.re / a, z.im / a)
            } else {
                (0.0, 0.0)
            };
            out.push(re as f32);
            out.push(im as f32);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array3;
    use wifi_sensing_core::{CaptureFormat, Device};

    fn frame(
        shape: (usize, usize, usize),
        f: impl Fn(usize, usize, usize) -> Complex32,
    ) -> CsiFrame {
        let csi = Array3::from_shape_fn(shape, |(r, t, k)| f(r, t, k));
        CsiFrame::new(CaptureFormat::Simulated, Device::Simulator, csi)
    }

    fn all(shape: (usize, usize, usize)) -> Columns {
        Columns::new((0..shape.0 * shape.1 * shape.2).collect(), shape.2)
    }

    fn channel(r: usize, t: usize, k: usize) -> Complex32 {
        let k = k as f32;
        Complex32::from_polar(
            1.0 + 0.3 * (0.4 * k + r as f32).sin(),
            0.2 * k + 0.9 * r as f32 + 0.5 * t as f32 + 0.3 * (0.25 * k).cos(),
        )
    }

    #[test]
    fn offsets_and_scale_cancel() {
        for shape in [(3, 2, 30), (2, 1, 56)] {
            let mut p = PhaseFeatures::new(shape, &all(shape)).unwrap();
            let mut a = Vec::new();
            p.push(&frame(shape, channel), &mut a);
            assert_eq!(a.len(), p.len());
            // a common phase, a timing offset (phase linear in k) and a gain
            let mut b = Vec::new();
            p.push(
                &frame(shape, |r, t, k| {
                    channel(r, t, k) * Complex32::from_polar(37.0, 2.1 - 0.13 * k as f32)
                }),
                &mut b,
            );
            for (x, y) in a.iter().zip(&b) {
                assert!((x - y).abs() < 1e-4, "{shape:?}: {a:?} vs {b:?}");
            }
        }
    }

    #[test]
    fn a_path_change_moves_the_features() {
        for shape in [(3, 2, 30), (2, 1, 56)] {
            let mut p = PhaseFeatures::new(shape, &all(shape)).unwrap();
            let moved = |d: f32| {
                move |r: usize, t: usize, k: usize| {
                    // a weak second path whose phase (and delay) moves
                    channel(r, t, k)
                        + Complex32::from_polar(0.2, d + 0.7 * k as f32 + 1.3 * r as f32)
                }
            };
            let (mut a, mut b) = (Vec::new(), Vec::new());
            p.push(&frame(shape, moved(0.0)), &mut a);
            p.push(&frame(shape, moved(0.3)), &mut b);
            let change: f32 = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).sum();
            assert!(change > 0.01, "{shape:?}: {change}");
        }
    }

    #[test]
    fn a_single_chain_has_no_features() {
        let shape = (1, 2, 56);
        assert!(PhaseFeatures::new(shape, &all(shape)).is_none());
    }

    #[test]
    fn zero_csi_gives_zeros_not_nan() {
        let shape = (3, 2, 30);
        let mut p = PhaseFeatures::new(shape, &all(shape)).unwrap();
        let mut a = Vec::new();
        p.push(&frame(shape, |_, _, _| Complex32::new(0.0, 0.0)), &mut a);
        assert!(a.iter().all(|v| *v == 0.0));
    }
}
