//! Dynamic time warping: batch distances ([`batch`]) and streaming subsequence matching
//! ([`spring`]).
//!
//! Series are multi-dimensional: `n` frames of `dim` values, row-major in one slice
//! ([`Series`]). One warping path serves all dimensions ("dependent" DTW).
//!
//! # Conventions, and how the reference implementations map onto them
//!
//! | reference | local cost | step pattern | band | result |
//! |---|---|---|---|---|
//! | dtaidistance `dtw.distance(window=w, psi=p)` | [`LocalCost::SqEuclidean`] | [`StepPattern::Symmetric1`] | [`Band::SakoeChibaWidened`] with radius `w − 1` | `sqrt(distance)`; `psi` is [`Relax`] |
//! | tslearn `dtw(sakoe_chiba_radius=r)` | [`LocalCost::SqEuclidean`] | [`StepPattern::Symmetric1`] | [`Band::SakoeChibaWidened`] with radius `r` | `sqrt(distance)` |
//! | R `dtw` / dtw-python (`window.type="sakoechiba"`, `window.size=W`) | `dist_method` (`euclidean` = [`LocalCost::Euclidean`]) | as named | [`Band::SakoeChiba`] with radius `W` | `distance`, `normalized` |
//!
//! The parity test (`tests/dtw_oracles.rs`) runs every case of the oracle file against these
//! mappings.

pub mod batch;
pub mod spring;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub use batch::{Dtw, DtwMatch, DtwOptions, Relax};
pub use spring::{SpringMatcher, SpringState};

/// A multi-dimensional series: `len()` frames of `dim` values each, row-major.
///
/// ```
/// use wifi_sensing_introspect::dtw::Series;
/// let s = Series::new(&[0.0, 1.0, 2.0, 3.0], 2)?;
/// assert_eq!((s.len(), s.dim()), (2, 2));
/// assert_eq!(s.frame(1), &[2.0, 3.0]);
/// assert!(Series::new(&[0.0, f64::NAN], 1).is_err());
/// # Ok::<(), wifi_sensing_introspect::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Series<'a> {
    data: &'a [f64],
    dim: usize,
}

impl<'a> Series<'a> {
    /// Wraps `data` as frames of `dim` values. Refuses `dim == 0`, an empty series, a length
    /// that is not a multiple of `dim`, and non-finite values.
    pub fn new(data: &'a [f64], dim: usize) -> Result<Self> {
        if dim == 0 {
            return Err(Error::InvalidInput("series dimension is 0".into()));
        }
        if data.is_empty() {
            return Err(Error::InvalidInput("empty series".into()));
        }
        if !data.len().is_multiple_of(dim) {
            return Err(Error::InvalidInput(format!(
                "series of {} values is not a whole number of {dim}-value frames",
                data.len()
            )));
        }
        if let Some(i) = data.iter().position(|v| !v.is_finite()) {
            return Err(Error::InvalidInput(format!(
                "non-finite value {} at frame {}, dimension {}",
                data[i],
                i / dim,
                i % dim
            )));
        }
        Ok(Series { data, dim })
    }

    /// A one-dimensional series.
    pub fn one_d(data: &'a [f64]) -> Result<Self> {
        Self::new(data, 1)
    }

    /// Number of frames.
    pub fn len(&self) -> usize {
        self.data.len() / self.dim
    }

    /// Always `false` (an empty series is refused by the constructor).
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Values per frame.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Frame `i`.
    pub fn frame(&self, i: usize) -> &'a [f64] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }

    /// The values, row-major.
    pub fn as_slice(&self) -> &'a [f64] {
        self.data
    }
}

/// The local cost between two frames.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LocalCost {
    /// Sum over dimensions of the squared difference (dtaidistance, tslearn, SPRING).
    #[default]
    SqEuclidean,
    /// Euclidean norm of the difference: the absolute difference `|x − y|` for 1-D series
    /// (R `dtw`'s default `"euclidean"`). Also accepted as `"absolute"`.
    #[serde(alias = "absolute")]
    Euclidean,
}

impl LocalCost {
    /// Cost between frames `a` and `b` (same length).
    #[inline]
    pub fn eval(self, a: &[f64], b: &[f64]) -> f64 {
        let s = sq_dist(a, b);
        match self {
            LocalCost::SqEuclidean => s,
            LocalCost::Euclidean => s.sqrt(),
        }
    }

    /// The name used in JSON and specs.
    pub fn name(self) -> &'static str {
        match self {
            LocalCost::SqEuclidean => "sq_euclidean",
            LocalCost::Euclidean => "euclidean",
        }
    }
}

#[inline]
fn sq_dist(a: &[f64], b: &[f64]) -> f64 {
    if a.len() == 1 {
        let d = a[0] - b[0];
        return d * d;
    }
    spring::sq_dist(a, b)
}

/// The step pattern (the allowed moves and their weights), with R `dtw`'s names.
///
/// With `d` the local cost and `g` the accumulated cost:
/// * `Symmetric1`: `g(i,j) = d(i,j) + min(g(i−1,j−1), g(i−1,j), g(i,j−1))`; not normalisable.
/// * `Symmetric2`: `g(i,j) = min(g(i−1,j−1) + 2d, g(i−1,j) + d, g(i,j−1) + d)`; normalised by
///   `n + m`.
/// * `Asymmetric`: `g(i,j) = d(i,j) + min(g(i−1,j), g(i−1,j−1), g(i−1,j−2))`; normalised by `n`
///   (the query length; `i` runs over the query).
///
/// In every pattern the first cell is `g(0,0) = d(0,0)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepPattern {
    /// Unit weights on all three moves.
    #[default]
    Symmetric1,
    /// Diagonal weight 2 (R's default).
    Symmetric2,
    /// Every query index is visited once; the reference may advance by 0, 1 or 2.
    Asymmetric,
}

impl StepPattern {
    /// The name used in JSON and specs.
    pub fn name(self) -> &'static str {
        match self {
            StepPattern::Symmetric1 => "symmetric1",
            StepPattern::Symmetric2 => "symmetric2",
            StepPattern::Asymmetric => "asymmetric",
        }
    }
}

impl std::str::FromStr for StepPattern {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "symmetric1" => Ok(StepPattern::Symmetric1),
            "symmetric2" => Ok(StepPattern::Symmetric2),
            "asymmetric" => Ok(StepPattern::Asymmetric),
            _ => Err(Error::config(
                "step_pattern",
                format!("unknown step pattern {s:?} (symmetric1, symmetric2, asymmetric)"),
            )),
        }
    }
}

/// Global constraint on the warping path (cell `(i, j)`, `i` over the first series of length
/// `n`, `j` over the second of length `m`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum Band {
    /// No constraint.
    #[default]
    Full,
    /// Sakoe–Chiba band `|i − j| ≤ radius` (R `dtw`'s `sakoechiba`; no widening for a length
    /// difference, so a difference larger than `radius` has no path: distance `inf`).
    SakoeChiba {
        /// Half-width in frames.
        radius: usize,
    },
    /// Sakoe–Chiba band widened on one side by the length difference, as dtaidistance
    /// (`window = radius + 1`) and tslearn (`sakoe_chiba_radius = radius`) do:
    /// `i − max(0, n−m) − radius ≤ j ≤ i + max(0, m−n) + radius`. Radius 0 on equal lengths is
    /// the Euclidean distance.
    SakoeChibaWidened {
        /// Half-width in frames.
        radius: usize,
    },
}

impl Band {
    /// The widest row of an `n × m` matrix, in columns.
    pub(crate) fn max_width(self, n: usize, m: usize) -> usize {
        (0..n)
            .map(|i| {
                let (lo, hi) = self.row(i, n, m);
                (hi + 1).saturating_sub(lo)
            })
            .max()
            .unwrap_or(0)
    }

    /// Allowed columns `[lo, hi]` of row `i` (may be empty: `lo > hi`).
    #[inline]
    pub(crate) fn row(self, i: usize, n: usize, m: usize) -> (usize, usize) {
        let last = m as isize - 1;
        let i = i as isize;
        let (lo, hi) = match self {
            Band::Full => (0, last),
            Band::SakoeChiba { radius } => {
                let r = radius.min(isize::MAX as usize / 4) as isize;
                (i - r, i + r)
            }
            Band::SakoeChibaWidened { radius } => {
                let r = radius.min(isize::MAX as usize / 4) as isize;
                let (n, m) = (n as isize, m as isize);
                (i - (n - m).max(0) - r, i + (m - n).max(0) + r)
            }
        };
        let lo = lo.max(0);
        let hi = hi.min(last);
        if lo > hi {
            (1, 0)
        } else {
            (lo as usize, hi as usize)
        }
    }
}
