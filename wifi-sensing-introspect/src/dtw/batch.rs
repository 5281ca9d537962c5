//! Batch DTW between two whole series, in `O(band width)` memory.

use serde::{Deserialize, Serialize};

use super::{Band, LocalCost, Series, StepPattern};
use crate::error::{Error, Result};

/// Relaxed start and end (dtaidistance's `psi`), counted in cells.
///
/// With `n` frames in the first series and `m` in the second: the path may start at any
/// `(i, 0)` with `i ≤ begin_first` or `(0, j)` with `j ≤ begin_second`, and end at any
/// `(n−1, j)` with `j ≥ m−1−end_second` or `(i, m−1)` with `i ≥ n−1−end_first`. All zero is
/// plain DTW. dtaidistance's integer `psi = p` is `Relax::all(p)`, its
/// `psi = [1b, 1e, 2b, 2e]` is `Relax { begin_first: 1b, end_first: 1e, begin_second: 2b,
/// end_second: 2e }`. (dtaidistance zeroes `psi + 1` cells of its padding row, so a start at
/// exactly `psi` is free too: the oracle values decide this, `i < psi` does not reproduce them.)
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Relax {
    /// Free starts in the first column (`psi` 1b).
    pub begin_first: usize,
    /// Free ends in the last column (`psi` 1e).
    pub end_first: usize,
    /// Free starts in the first row (`psi` 2b).
    pub begin_second: usize,
    /// Free ends in the last row (`psi` 2e).
    pub end_second: usize,
}

impl Relax {
    /// The same relaxation `p` on all four sides.
    pub fn all(p: usize) -> Self {
        Relax {
            begin_first: p,
            end_first: p,
            begin_second: p,
            end_second: p,
        }
    }
}

/// Settings of a batch DTW computation.
///
/// ```
/// use wifi_sensing_introspect::dtw::{Band, Dtw, DtwOptions, LocalCost, Series, StepPattern};
/// // R dtw's hand-checkable example: symmetric2, |x - y| cost: distance 1, normalised 1 / (3 + 2).
/// let opts = DtwOptions { step: StepPattern::Symmetric2, cost: LocalCost::Euclidean, ..DtwOptions::default() };
/// let m = Dtw::new(opts)?.distance(Series::one_d(&[0.0, 1.0, 2.0])?, Series::one_d(&[0.0, 2.0])?)?;
/// assert_eq!(m.distance, 1.0);
/// assert_eq!(m.normalized, Some(0.2));
/// // dtaidistance: squared cost, symmetric1, window = radius + 1, result sqrt(distance).
/// let opts = DtwOptions { band: Band::SakoeChibaWidened { radius: 0 }, ..DtwOptions::default() };
/// let m = Dtw::new(opts)?.distance(Series::one_d(&[0.0, 1.0, 2.0])?, Series::one_d(&[1.0, 1.0, 1.0])?)?;
/// assert_eq!(m.distance.sqrt(), 2f64.sqrt());
/// # Ok::<(), wifi_sensing_introspect::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DtwOptions {
    /// Local cost between two frames.
    pub cost: LocalCost,
    /// Step pattern.
    pub step: StepPattern,
    /// Global constraint.
    pub band: Band,
    /// Relaxed start and end cells.
    pub relax: Relax,
    /// The first series (the query) may start anywhere in the second (R's `open.begin`):
    /// every `(0, j)` is a start. Refused with [`StepPattern::Symmetric2`], whose
    /// normalisation depends on where the match starts (R refuses it too).
    pub open_begin: bool,
    /// The query may end anywhere in the second series (R's `open.end`): the end is the `j`
    /// that minimises the *normalised* cost of the last row (first on ties).
    pub open_end: bool,
}

impl DtwOptions {
    /// Checks the combination.
    pub fn validate(&self) -> Result<()> {
        if self.open_begin && self.step == StepPattern::Symmetric2 {
            return Err(Error::config(
                "open_begin",
                "open-begin needs a step pattern whose normalisation does not depend on the \
                 start (asymmetric or symmetric1), not symmetric2",
            ));
        }
        Ok(())
    }
}

/// The result of a batch DTW.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct DtwMatch {
    /// Accumulated cost of the best path (`inf` when the band allows no path). For the
    /// dtaidistance / tslearn convention take `distance.sqrt()`.
    pub distance: f64,
    /// `distance` normalised as the step pattern defines (symmetric2: by `i_end + j_end + 2`,
    /// which is `n + m` for a full match; asymmetric: by the query frames `i_end + 1`);
    /// `None` for symmetric1 and when there is no path.
    pub normalized: Option<f64>,
    /// First cell `(i, j)` of the path.
    pub start: (usize, usize),
    /// Last cell `(i, j)` of the path.
    pub end: (usize, usize),
}

const NONE: u64 = u64::MAX;

#[inline]
fn pack(i: usize, j: usize) -> u64 {
    ((i as u64) << 32) | (j as u64 & 0xffff_ffff)
}

#[inline]
fn unpack(p: u64) -> (usize, usize) {
    ((p >> 32) as usize, (p & 0xffff_ffff) as usize)
}

/// A reusable batch DTW computer: holds two rows of the band (no allocation after the first
/// call of a given width).
#[derive(Clone, Debug)]
pub struct Dtw {
    opts: DtwOptions,
    prev: Vec<f64>,
    cur: Vec<f64>,
    prev_s: Vec<u64>,
    cur_s: Vec<u64>,
}

/// Largest series length (frames) accepted: path cells are packed into 32-bit indices.
pub const MAX_LEN: usize = u32::MAX as usize;

impl Dtw {
    /// A computer with these options (validated).
    pub fn new(opts: DtwOptions) -> Result<Self> {
        opts.validate()?;
        Ok(Dtw {
            opts,
            prev: Vec::new(),
            cur: Vec::new(),
            prev_s: Vec::new(),
            cur_s: Vec::new(),
        })
    }

    /// The options.
    pub fn options(&self) -> &DtwOptions {
        &self.opts
    }

    /// DTW between `a` (rows `i`, the query) and `b` (columns `j`, the reference).
    pub fn distance(&mut self, a: Series<'_>, b: Series<'_>) -> Result<DtwMatch> {
        if a.dim() != b.dim() {
            return Err(Error::InvalidInput(format!(
                "dimension mismatch: {} against {}",
                a.dim(),
                b.dim()
            )));
        }
        if a.len() > MAX_LEN || b.len() > MAX_LEN {
            return Err(Error::InvalidInput("series longer than 2^32 frames".into()));
        }
        // Tracking where the path starts costs a little; only do it when a start can move.
        let o = &self.opts;
        let track = o.open_begin || o.relax.begin_first > 0 || o.relax.begin_second > 0;
        if track {
            Ok(self.run::<true>(a, b))
        } else if o.step == StepPattern::Symmetric1 && !o.open_end && o.relax == Relax::default() {
            Ok(self.run_plain(a, b))
        } else {
            Ok(self.run::<false>(a, b))
        }
    }

    /// Plain symmetric1 DTW from `(0, 0)` to `(n−1, m−1)` (dtaidistance's and tslearn's case),
    /// with branch-free neighbour reads: each row is stored from its first column minus one, with
    /// `inf` sentinels on both sides (every band's row bounds advance by at most one column per
    /// row, so one sentinel past the end suffices).
    fn run_plain(&mut self, a: Series<'_>, b: Series<'_>) -> DtwMatch {
        let o = self.opts;
        let (n, m) = (a.len(), b.len());
        let inf = f64::INFINITY;
        let width = o.band.max_width(n, m);
        for v in [&mut self.prev, &mut self.cur] {
            v.clear();
            v.resize(width + 3, inf);
        }
        let dim = a.dim();
        let (ad, bd) = (a.as_slice(), b.as_slice());
        let mut plo = 0usize;
        let mut last = inf;
        for i in 0..n {
            let (lo, hi) = o.band.row(i, n, m);
            if lo > hi {
                return DtwMatch {
                    distance: inf,
                    normalized: None,
                    start: (0, 0),
                    end: (n - 1, m - 1),
                };
            }
            let prev = &self.prev;
            let cur = &mut self.cur;
            cur[0] = inf;
            let mut left = if i == 0 { 0.0 } else { inf };
            let ai = &ad[i * dim..(i + 1) * dim];
            // prev[k] holds column plo + k − 1 of the previous row.
            let off = lo + 1 - plo;
            for j in lo..=hi {
                let d = if dim == 1 {
                    let t = ai[0] - bd[j];
                    match o.cost {
                        LocalCost::SqEuclidean => t * t,
                        LocalCost::Euclidean => t.abs(),
                    }
                } else {
                    o.cost.eval(ai, &bd[j * dim..(j + 1) * dim])
                };
                let k = j - lo + off;
                let best = if i == 0 {
                    left
                } else {
                    prev[k - 1].min(prev[k]).min(left)
                };
                let v = d + best;
                cur[j - lo + 1] = v;
                left = v;
            }
            let w = hi - lo + 1;
            cur[w + 1] = inf;
            cur[w + 2] = inf;
            if i == n - 1 && hi == m - 1 {
                last = cur[w];
            }
            plo = lo;
            std::mem::swap(&mut self.prev, &mut self.cur);
        }
        DtwMatch {
            distance: last,
            normalized: None,
            start: (0, 0),
            end: (n - 1, m - 1),
        }
    }

    fn run<const TRACK: bool>(&mut self, a: Series<'_>, b: Series<'_>) -> DtwMatch {
        let o = self.opts;
        let (n, m) = (a.len(), b.len());
        let inf = f64::INFINITY;
        let width = o.band.max_width(n, m);
        for v in [&mut self.prev, &mut self.cur] {
            v.clear();
            v.resize(width.max(1), inf);
        }
        if TRACK {
            for v in [&mut self.prev_s, &mut self.cur_s] {
                v.clear();
                v.resize(width.max(1), NONE);
            }
        }
        let begin_rows = o.relax.begin_first.saturating_add(1);
        let begin_cols = if o.open_begin {
            m
        } else {
            o.relax.begin_second.saturating_add(1)
        };
        let end_row_from = if o.open_end {
            0
        } else {
            (m - 1).saturating_sub(o.relax.end_second)
        };
        let end_col_from = (n - 1).saturating_sub(o.relax.end_first);
        let norm = |i: usize, j: usize| -> f64 {
            match o.step {
                StepPattern::Symmetric1 => 1.0,
                StepPattern::Symmetric2 => (i + j + 2) as f64,
                StepPattern::Asymmetric => (i + 1) as f64,
            }
        };
        // Best end so far: (normalised value, raw value, end, start).
        let mut best = (inf, inf, (n - 1, m - 1), NONE);
        let mut consider = |v: f64, s: u64, i: usize, j: usize| {
            let nv = v / norm(i, j);
            if nv < best.0 {
                best = (nv, v, (i, j), s);
            }
        };
        let (mut prev_lo, mut prev_hi) = (1usize, 0usize);
        for i in 0..n {
            let (lo, hi) = o.band.row(i, n, m);
            if lo > hi {
                prev_lo = 1;
                prev_hi = 0;
                continue;
            }
            let ai = a.frame(i);
            let prev_ok = |j: usize| j >= prev_lo && j <= prev_hi;
            for j in lo..=hi {
                let d = o.cost.eval(ai, b.frame(j));
                let up = if prev_ok(j) {
                    self.prev[j - prev_lo]
                } else {
                    inf
                };
                let diag = if j >= 1 && prev_ok(j - 1) {
                    self.prev[j - 1 - prev_lo]
                } else {
                    inf
                };
                // Candidates in preference order on ties: diagonal, vertical, third.
                let (third, third_s) = match o.step {
                    StepPattern::Asymmetric => {
                        if j >= 2 && prev_ok(j - 2) {
                            (self.prev[j - 2 - prev_lo], 2u8)
                        } else {
                            (inf, 2)
                        }
                    }
                    _ => {
                        if j > lo {
                            (self.cur[j - 1 - lo], 3u8)
                        } else {
                            (inf, 3)
                        }
                    }
                };
                let (mut v, mut which) = match o.step {
                    StepPattern::Symmetric2 => {
                        let mut v = diag + 2.0 * d;
                        let mut w = 0u8;
                        if up + d < v {
                            v = up + d;
                            w = 1;
                        }
                        if third + d < v {
                            v = third + d;
                            w = third_s;
                        }
                        (v, w)
                    }
                    _ => {
                        let mut v = diag;
                        let mut w = 0u8;
                        if up < v {
                            v = up;
                            w = 1;
                        }
                        if third < v {
                            v = third;
                            w = third_s;
                        }
                        (v + d, w)
                    }
                };
                if (i == 0 && j < begin_cols) || (j == 0 && i < begin_rows) {
                    // A start cell: the path may begin here at cost d, never more than any
                    // continued path (costs are non-negative).
                    v = d;
                    which = 4;
                }
                self.cur[j - lo] = v;
                if TRACK {
                    self.cur_s[j - lo] = match which {
                        0 => self.prev_s[j - 1 - prev_lo],
                        1 => self.prev_s[j - prev_lo],
                        2 => self.prev_s[j - 2 - prev_lo],
                        3 => self.cur_s[j - 1 - lo],
                        _ => pack(i, j),
                    };
                    if !v.is_finite() {
                        self.cur_s[j - lo] = NONE;
                    }
                }
            }
            let s_of = |cur_s: &[u64], j: usize| if TRACK { cur_s[j - lo] } else { NONE };
            if i == n - 1 {
                for j in lo.max(end_row_from)..=hi {
                    consider(self.cur[j - lo], s_of(&self.cur_s, j), i, j);
                }
            } else if hi == m - 1 && i >= end_col_from {
                consider(self.cur[hi - lo], s_of(&self.cur_s, hi), i, hi);
            }
            std::mem::swap(&mut self.prev, &mut self.cur);
            if TRACK {
                std::mem::swap(&mut self.prev_s, &mut self.cur_s);
            }
            prev_lo = lo;
            prev_hi = hi;
        }
        let (_, raw, end, s) = best;
        let start = if TRACK && s != NONE {
            unpack(s)
        } else {
            (0, 0)
        };
        let normalized = match o.step {
            StepPattern::Symmetric1 => None,
            _ if !raw.is_finite() => None,
            _ => Some(raw / norm(end.0, end.1)),
        };
        DtwMatch {
            distance: raw,
            normalized,
            start,
            end,
        }
    }
}

/// One-shot DTW distance with `opts` (allocates its two rows; reuse a [`Dtw`] in loops).
pub fn dtw(a: Series<'_>, b: Series<'_>, opts: DtwOptions) -> Result<DtwMatch> {
    Dtw::new(opts)?.distance(a, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brute(a: &[f64], b: &[f64], opts: DtwOptions) -> f64 {
        let (n, m) = (a.len(), b.len());
        let inf = f64::INFINITY;
        let mut g = vec![vec![inf; m]; n];
        for i in 0..n {
            let (lo, hi) = opts.band.row(i, n, m);
            for j in lo..=hi.min(m.saturating_sub(1)) {
                if lo > hi {
                    break;
                }
                let d = opts.cost.eval(&a[i..=i], &b[j..=j]);
                let get = |ii: isize, jj: isize| {
                    if ii < 0 || jj < 0 {
                        inf
                    } else {
                        g[ii as usize][jj as usize]
                    }
                };
                let (ii, jj) = (i as isize, j as isize);
                g[i][j] = if i == 0 && j == 0 {
                    d
                } else {
                    match opts.step {
                        StepPattern::Symmetric1 => {
                            d + get(ii - 1, jj - 1)
                                .min(get(ii - 1, jj))
                                .min(get(ii, jj - 1))
                        }
                        StepPattern::Symmetric2 => (get(ii - 1, jj - 1) + 2.0 * d)
                            .min(get(ii - 1, jj) + d)
                            .min(get(ii, jj - 1) + d),
                        StepPattern::Asymmetric => {
                            d + get(ii - 1, jj)
                                .min(get(ii - 1, jj - 1))
                                .min(get(ii - 1, jj - 2))
                        }
                    }
                };
            }
        }
        g[n - 1][m - 1]
    }

    proptest::proptest! {
        #[test]
        fn banded_rows_equal_full_matrix(
            a in proptest::collection::vec(-5.0f64..5.0, 1..30),
            b in proptest::collection::vec(-5.0f64..5.0, 1..30),
            r in 0usize..8, step in 0u8..3, band in 0u8..3, abs in proptest::bool::ANY,
        ) {
            let opts = DtwOptions {
                cost: if abs { LocalCost::Euclidean } else { LocalCost::SqEuclidean },
                step: [StepPattern::Symmetric1, StepPattern::Symmetric2, StepPattern::Asymmetric][step as usize],
                band: [Band::Full, Band::SakoeChiba { radius: r }, Band::SakoeChibaWidened { radius: r }][band as usize],
                ..DtwOptions::default()
            };
            let got = dtw(Series::one_d(&a).unwrap(), Series::one_d(&b).unwrap(), opts).unwrap().distance;
            let want = brute(&a, &b, opts);
            if want.is_infinite() {
                proptest::prop_assert!(got.is_infinite());
            } else {
                proptest::prop_assert!((got - want).abs() <= 1e-9 * want.abs().max(1.0), "{got} vs {want}");
            }
        }

        #[test]
        fn symmetric_patterns_are_symmetric_and_zero_on_self(
            a in proptest::collection::vec(-5.0f64..5.0, 1..20),
            b in proptest::collection::vec(-5.0f64..5.0, 1..20),
        ) {
            for step in [StepPattern::Symmetric1, StepPattern::Symmetric2] {
                let o = DtwOptions { step, ..DtwOptions::default() };
                let sa = Series::one_d(&a).unwrap();
                let sb = Series::one_d(&b).unwrap();
                let ab = dtw(sa, sb, o).unwrap().distance;
                let ba = dtw(sb, sa, o).unwrap().distance;
                proptest::prop_assert!((ab - ba).abs() <= 1e-9 * ab.max(1.0));
                proptest::prop_assert_eq!(dtw(sa, sa, o).unwrap().distance, 0.0);
            }
        }
    }

    #[test]
    fn no_path_is_infinite_and_mismatch_is_an_error() {
        let a = [0.0; 10];
        let b = [0.0; 4];
        let o = DtwOptions {
            band: Band::SakoeChiba { radius: 3 },
            step: StepPattern::Symmetric2,
            ..DtwOptions::default()
        };
        let r = dtw(Series::one_d(&a).unwrap(), Series::one_d(&b).unwrap(), o).unwrap();
        assert!(r.distance.is_infinite());
        assert_eq!(r.normalized, None);
        // Asymmetric cannot match 2 query frames to 6 reference frames (at most 2 per step).
        let o = DtwOptions {
            step: StepPattern::Asymmetric,
            ..DtwOptions::default()
        };
        let r = dtw(
            Series::one_d(&[0.0, 0.0]).unwrap(),
            Series::one_d(&[0.0; 6]).unwrap(),
            o,
        );
        assert!(r.unwrap().distance.is_infinite());
        let e = dtw(
            Series::new(&[0.0, 0.0], 2).unwrap(),
            Series::one_d(&[0.0]).unwrap(),
            DtwOptions::default(),
        );
        assert!(e.unwrap_err().to_string().contains("dimension mismatch"));
        let bad = DtwOptions {
            open_begin: true,
            step: StepPattern::Symmetric2,
            ..DtwOptions::default()
        };
        assert!(Dtw::new(bad).is_err());
    }
}
