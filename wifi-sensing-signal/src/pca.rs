//! Principal component analysis of a window of subcarrier time series.
//!
//! Input: a `(time, features)` matrix (for example the amplitudes of every subcarrier over the
//! last seconds). Output: the principal axes, their explained variance (and ratio), the mean,
//! and projections of samples onto the axes. Computed from the covariance matrix with
//! nalgebra's symmetric eigen-decomposition. Sign convention: each component's largest-magnitude
//! loading is positive, so results are deterministic.
//!
//! ```
//! use ndarray::Array2;
//! use wifi_sensing_signal::pca::Pca;
//! // two features moving together, plus a tiny independent one
//! let x = Array2::from_shape_fn((100, 3), |(t, j)| {
//!     let s = (t as f64 * 0.3).sin();
//!     match j { 0 => s, 1 => 2.0 * s, _ => 0.01 * ((t * 7 % 5) as f64) }
//! });
//! let p = Pca::fit(x.view(), 2)?;
//! assert!(p.explained_variance_ratio[0] > 0.99);
//! # Ok::<(), wifi_sensing_signal::SignalError>(())
//! ```

use ndarray::{Array1, Array2, ArrayView1, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::error::{Result, SignalError};

/// Largest feature count accepted (the covariance matrix is `features²`).
pub const MAX_FEATURES: usize = 4096;

/// A fitted PCA.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pca {
    /// Mean of each feature over the window.
    pub mean: Array1<f64>,
    /// Principal axes, one per row (`components × features`), by decreasing variance.
    pub components: Array2<f64>,
    /// Variance along each axis (sample variance, divisor `n - 1`).
    pub explained_variance: Vec<f64>,
    /// `explained_variance` divided by the total variance of all features.
    pub explained_variance_ratio: Vec<f64>,
}

impl Pca {
    /// Fits `n_components` (1..=features) axes to a `(time, features)` window of at least 2
    /// rows. Non-finite values are refused.
    pub fn fit(x: ArrayView2<f64>, n_components: usize) -> Result<Self> {
        let (n, m) = x.dim();
        if n < 2 {
            return Err(SignalError::TooShort {
                component: "pca",
                len: n,
                needed: 2,
            });
        }
        if m == 0 || m > MAX_FEATURES {
            return Err(SignalError::param(
                "pca",
                "features",
                m,
                format!("1..={MAX_FEATURES}"),
            ));
        }
        if n_components == 0 || n_components > m {
            return Err(SignalError::param(
                "pca",
                "components",
                n_components,
                format!("1..={m}"),
            ));
        }
        if x.iter().any(|v| !v.is_finite()) {
            return Err(SignalError::Numerical {
                component: "pca",
                reason: "non-finite value in the window".into(),
            });
        }
        let mean = x.mean_axis(ndarray::Axis(0)).expect("n >= 2");
        let centred = &x - &mean;
        let cov = centred.t().dot(&centred) / (n as f64 - 1.0);
        let total: f64 = (0..m).map(|i| cov[[i, i]]).sum();
        // Features with no variance (null or guard subcarriers, a constant column) carry no
        // component: leave them out of the eigen-decomposition. Zero rows and columns are what
        // makes nalgebra's symmetric QR iteration stall (nalgebra issue #1025): an 80 MHz Nexmon
        // capture with its null subcarriers took minutes in a debug build.
        let active: Vec<usize> = (0..m).filter(|&i| cov[[i, i]] > 0.0).collect();
        let mut components = Array2::zeros((n_components, m));
        let mut ev = Vec::with_capacity(n_components);
        if !active.is_empty() {
            let ma = active.len();
            // scale to unit trace so the convergence tolerance is relative
            let scale = if total > 0.0 { 1.0 / total } else { 1.0 };
            let mat =
                nalgebra::DMatrix::from_fn(ma, ma, |i, j| cov[[active[i], active[j]]] * scale);
            let eig = nalgebra::SymmetricEigen::try_new(mat, f64::EPSILON, 100 * ma.max(10))
                .ok_or_else(|| SignalError::Numerical {
                    component: "pca",
                    reason: format!(
                        "eigen-decomposition of the {ma}x{ma} covariance did not converge"
                    ),
                })?;
            let mut order: Vec<usize> = (0..ma).collect();
            order.sort_by(|&a, &b| eig.eigenvalues[b].total_cmp(&eig.eigenvalues[a]));
            for (r, &k) in order.iter().take(n_components).enumerate() {
                let col = eig.eigenvectors.column(k);
                let big =
                    col.iter()
                        .copied()
                        .fold(0.0f64, |acc, v| if v.abs() > acc.abs() { v } else { acc });
                let sign = if big < 0.0 { -1.0 } else { 1.0 };
                for (j, &f) in active.iter().enumerate() {
                    components[[r, f]] = sign * col[j];
                }
                ev.push((eig.eigenvalues[k] / scale).max(0.0));
            }
        }
        // fewer varying features than components: the rest have zero variance (unit axes on
        // the constant features, so the rows stay orthonormal)
        let mut spare = (0..m).filter(|f| !active.contains(f));
        while ev.len() < n_components {
            let r = ev.len();
            if let Some(f) = spare.next() {
                components[[r, f]] = 1.0;
            }
            ev.push(0.0);
        }
        let ratio = ev
            .iter()
            .map(|v| if total > 0.0 { v / total } else { 0.0 })
            .collect();
        Ok(Pca {
            mean,
            components,
            explained_variance: ev,
            explained_variance_ratio: ratio,
        })
    }

    /// Projects one sample (length `features`) onto the axes: `components · (x − mean)`.
    pub fn project(&self, x: ArrayView1<f64>) -> Result<Array1<f64>> {
        if x.len() != self.mean.len() {
            return Err(SignalError::Shape {
                component: "pca",
                detail: format!("{} values for {} features", x.len(), self.mean.len()),
            });
        }
        Ok(self.components.dot(&(&x - &self.mean)))
    }

    /// Projects every row of a `(time, features)` matrix: `(time, components)`.
    pub fn transform(&self, x: ArrayView2<f64>) -> Result<Array2<f64>> {
        if x.ncols() != self.mean.len() {
            return Err(SignalError::Shape {
                component: "pca",
                detail: format!("{} columns for {} features", x.ncols(), self.mean.len()),
            });
        }
        Ok((&x - &self.mean).dot(&self.components.t()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The layout of an 80 MHz Nexmon capture (bcm43455c0): 256 columns, most of them null
    /// subcarriers (constant zero), two huge PHY-status words and a few varying subcarriers.
    /// This used to stall in the eigen-decomposition (minutes in a debug build).
    #[test]
    fn many_constant_columns_finish_and_are_ignored() {
        let x = Array2::from_shape_fn((566, 256), |(t, j)| {
            let s = (t as f64 * 0.37).sin();
            match j {
                0 => 14373.0 + 300.0 * s,
                1 => 14848.0 - 150.0 * (t as f64 * 0.11).cos(),
                j if j % 4 == 0 => 10.0 + s * (j as f64 / 256.0) + 0.01 * ((t * j) % 7) as f64,
                _ => 0.0,
            }
        });
        let t0 = std::time::Instant::now();
        let p = Pca::fit(x.view(), 3).unwrap();
        assert!(t0.elapsed().as_secs_f64() < 30.0, "{:?}", t0.elapsed());
        assert_eq!(p.components.dim(), (3, 256));
        // constant columns get no loading
        for j in (2..256).filter(|j| j % 4 != 0) {
            assert_eq!(p.components[[0, j]], 0.0);
        }
        assert!(p.explained_variance_ratio[0] > 0.5);
        // all-constant input: zero variance, no error
        let c = Array2::from_elem((10, 5), 3.0);
        let p = Pca::fit(c.view(), 2).unwrap();
        assert_eq!(p.explained_variance, vec![0.0, 0.0]);
    }

    #[test]
    fn recovers_known_axis() {
        // points along (3, 4)/5 with small orthogonal noise
        let x = Array2::from_shape_fn((200, 2), |(t, j)| {
            let s = (t as f64 * 0.1).sin() * 10.0;
            let e = ((t * 13 % 7) as f64 - 3.0) * 0.01;
            if j == 0 {
                0.6 * s - 0.8 * e
            } else {
                0.8 * s + 0.6 * e
            }
        });
        let p = Pca::fit(x.view(), 2).unwrap();
        assert!((p.components[[0, 0]] - 0.6).abs() < 1e-3);
        assert!((p.components[[0, 1]] - 0.8).abs() < 1e-3);
        let s: f64 = p.explained_variance_ratio.iter().sum();
        assert!((s - 1.0).abs() < 1e-9);
        let t = p.transform(x.view()).unwrap();
        assert_eq!(t.dim(), (200, 2));
    }

    #[test]
    fn refuses_bad_input() {
        assert!(Pca::fit(Array2::<f64>::zeros((1, 3)).view(), 1).is_err());
        assert!(Pca::fit(Array2::<f64>::zeros((5, 3)).view(), 4).is_err());
        let mut x = Array2::<f64>::zeros((5, 3));
        x[[2, 1]] = f64::NAN;
        assert!(Pca::fit(x.view(), 1).is_err());
        // constant input: zero variance, no NaN
        let p = Pca::fit(Array2::<f64>::ones((5, 3)).view(), 2).unwrap();
        assert!(p.explained_variance_ratio.iter().all(|v| *v == 0.0));
    }
}
