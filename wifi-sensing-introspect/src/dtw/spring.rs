//! Streaming subsequence DTW: SPRING (Sakurai, Faloutsos and Yamamuro, "Stream monitoring under
//! the time warping distance", ICDE 2007).
//!
//! A [`SpringMatcher`] holds one query (a signature of `len` frames of `dim` values) and, for
//! each query position `i`, the cost of the best warping path that matches `query[0..=i]` to a
//! stretch of the stream *ending at the current frame*, starting anywhere (SPRING's
//! "star-padding": row −1 costs 0 at every time). With `c(i, t)` the squared Euclidean distance
//! between query frame `i` and stream frame `t`:
//!
//! ```text
//! acc(−1, t) = 0
//! acc(i, t)  = c(i, t) + min(acc(i−1, t−1), acc(i−1, t), acc(i, t−1))
//! ```
//!
//! Each frame costs `O(len · dim)` time and no allocation, and memory is `O(len)`: one column of
//! costs and one of start frames. `acc(len−1, t)` is the best whole-query match ending at `t`
//! (tslearn's `subsequence_cost_matrix` last row); `acc(k−1, t)` for `k < len` is the best match
//! of the first `k` query frames ending now, which is what lets a match be reported before the
//! whole signature has been seen.
//!
//! # Scores and thresholds
//!
//! A prefix of `k` frames is scored `1 / (1 + acc(k−1, t) / (k · dim · σ²))`: 1 for a perfect
//! match, falling with the mean squared difference per frame and per dimension relative to a
//! scale `σ²` (for signatures, the mean squared value of the signature's own features, so the
//! score does not depend on the feature units). Each prefix length has
//! its own promotion threshold (short prefixes match noise more easily than long ones), given
//! as a score; a frame is *above threshold* when any prefix of at least `min_prefix` frames
//! scores at or above its threshold. How the thresholds are derived from data, and what
//! false-alarm rate that gives, is in [`crate::signature`].
//!
//! Unlike SPRING's full algorithm this matcher does not hold back a match until it can no
//! longer improve (that would delay the report by up to a signature length, defeating early
//! detection); it reports the best match ending at every frame.

use crate::error::{Error, Result};

/// Floating-point types the matcher runs in (`f32` for speed, `f64` for parity tests).
pub trait Real:
    Copy
    + PartialOrd
    + std::fmt::Debug
    + Send
    + Sync
    + 'static
    + std::ops::Add<Output = Self>
    + std::ops::Sub<Output = Self>
    + std::ops::Mul<Output = Self>
    + std::ops::Div<Output = Self>
{
    /// Positive infinity.
    const INF: Self;
    /// Zero.
    const ZERO: Self;
    /// Conversion from `f64` (rounding).
    fn from_f64(v: f64) -> Self;
    /// Conversion to `f64`.
    fn to_f64(self) -> f64;
    /// `true` when finite.
    fn finite(self) -> bool;
}

impl Real for f32 {
    const INF: Self = f32::INFINITY;
    const ZERO: Self = 0.0;
    fn from_f64(v: f64) -> Self {
        v as f32
    }
    fn to_f64(self) -> f64 {
        self as f64
    }
    fn finite(self) -> bool {
        self.is_finite()
    }
}

impl Real for f64 {
    const INF: Self = f64::INFINITY;
    const ZERO: Self = 0.0;
    fn from_f64(v: f64) -> Self {
        v
    }
    fn to_f64(self) -> f64 {
        self
    }
    fn finite(self) -> bool {
        self.is_finite()
    }
}

/// Squared Euclidean distance with eight independent accumulators (vectorises on stable Rust).
#[inline(always)]
pub(crate) fn sq_dist<T: Real>(a: &[T], b: &[T]) -> T {
    let mut acc = [T::ZERO; 8];
    let ca = a.chunks_exact(8);
    let cb = b.chunks_exact(8);
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        let (x, y): (&[T; 8], &[T; 8]) = match (x.try_into(), y.try_into()) {
            (Ok(x), Ok(y)) => (x, y),
            _ => continue, // unreachable: chunks_exact(8) yields 8 values
        };
        for k in 0..8 {
            let d = x[k] - y[k];
            acc[k] = acc[k] + d * d;
        }
    }
    let mut s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    for (x, y) in ra.iter().zip(rb) {
        let d = *x - *y;
        s = s + d * d;
    }
    s
}

/// Query frames whose costs [`row_costs`] accumulates together (in registers: 4 AVX-512 or 8
/// AVX2 vectors of `f32`, four or eight independent chains of additions per dimension).
const COST_BLOCK: usize = 64;

/// Squared Euclidean distance of `x` to every query frame into `out`, from the query stored
/// dimension-major (`query_t[j * len + i]` is value `j` of frame `i`): for each block of
/// `COST_BLOCK` consecutive query frames the sums stay in a local array (registers) while the
/// loop runs over the dimensions, reading the block's contiguous query values with `x[j]`
/// fixed, which the compiler vectorises without a horizontal reduction; every `out[i]` sums its
/// dimensions in order.
#[inline(always)]
fn row_costs<T: Real>(query_t: &[T], x: &[T], out: &mut [T]) {
    let len = out.len();
    let mut i0 = 0;
    while i0 + COST_BLOCK <= len {
        let mut acc = [T::ZERO; COST_BLOCK];
        for (j, &xv) in x.iter().enumerate() {
            let col = &query_t[j * len + i0..j * len + i0 + COST_BLOCK];
            for (a, &q) in acc.iter_mut().zip(col) {
                let d = q - xv;
                *a = *a + d * d;
            }
        }
        out[i0..i0 + COST_BLOCK].copy_from_slice(&acc);
        i0 += COST_BLOCK;
    }
    if i0 < len {
        let tail = &mut out[i0..];
        tail.fill(T::ZERO);
        for (j, &xv) in x.iter().enumerate() {
            let col = &query_t[j * len + i0..(j + 1) * len];
            for (o, &q) in tail.iter_mut().zip(col) {
                let d = q - xv;
                *o = *o + d * d;
            }
        }
    }
}

/// The prefix length `k > from` with the lowest `acc[k − 1] · inv_norm[k − 1]` (the best score),
/// the longest on ties: the minimum over eight independent lanes (vectorised), then the last
/// prefix reaching it. `from < acc.len()`.
#[inline(always)]
fn best_ratio_prefix<T: Real>(acc: &[T], inv_norm: &[T], from: usize) -> usize {
    let (a, w) = (&acc[from..], &inv_norm[from..]);
    let mut m = [T::INF; 8];
    let (ca, cw) = (a.chunks_exact(8), w.chunks_exact(8));
    let (ra, rw) = (ca.remainder(), cw.remainder());
    for (x, y) in ca.zip(cw) {
        for k in 0..8 {
            let r = x[k] * y[k];
            m[k] = if r < m[k] { r } else { m[k] };
        }
    }
    let mut best = m[0];
    for &v in &m[1..] {
        best = if v < best { v } else { best };
    }
    for (x, y) in ra.iter().zip(rw) {
        let r = *x * *y;
        best = if r < best { r } else { best };
    }
    // Costs are never NaN; with every cost infinite the longest prefix is reported.
    (0..a.len())
        .rev()
        .find(|&i| a[i] * w[i] <= best)
        .map_or(acc.len(), |i| from + i + 1)
}

/// What a [`SpringMatcher`] reports after a frame.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SpringState {
    /// Index of the frame just pushed (0-based, since creation or reset).
    pub frame: u64,
    /// Cost of the best match of the whole query ending at this frame (`inf` before any).
    pub full_cost: f64,
    /// Stream frame where that match starts.
    pub full_start: u64,
    /// Score of the reported prefix (see the module docs), in `[0, 1]`.
    pub score: f64,
    /// Query frames in the reported prefix (`len` for a whole match; 0 before any frame).
    pub matched_frames: usize,
    /// Stream frame where the reported prefix match starts.
    pub start: u64,
    /// `true` when some prefix of at least `min_prefix` frames scores at or above its threshold.
    pub above_threshold: bool,
}

impl SpringState {
    fn empty() -> Self {
        SpringState {
            frame: 0,
            full_cost: f64::INFINITY,
            full_start: 0,
            score: 0.0,
            matched_frames: 0,
            start: 0,
            above_threshold: false,
        }
    }
}

/// Streaming subsequence matcher for one query (see the module docs).
///
/// ```
/// use wifi_sensing_introspect::dtw::SpringMatcher;
/// // A 1-D query [1, 2, 3]; the stream holds it (time-warped) between frames 2 and 5.
/// let mut m = SpringMatcher::<f64>::new(&[1.0, 2.0, 3.0], 1)?;
/// let mut last = None;
/// for x in [0.0, 0.0, 1.0, 2.0, 2.0, 3.0, 0.0] {
///     last = Some(*m.push(&[x])?);
///     if x == 3.0 { break; }
/// }
/// let s = last.unwrap();
/// assert_eq!((s.full_cost, s.full_start, s.frame), (0.0, 2, 5));
/// # Ok::<(), wifi_sensing_introspect::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct SpringMatcher<T: Real = f32> {
    dim: usize,
    len: usize,
    /// The query dimension-major: `query_t[j * len + i]` is value `j` of frame `i`.
    query_t: Vec<T>,
    acc: Vec<T>,
    start: Vec<u64>,
    /// Local costs of the current frame against every query frame (scratch).
    cost: Vec<T>,
    /// Cost threshold per prefix length `k` (index `k − 1`), `inf` to disable.
    thr_cost: Vec<T>,
    /// `k · dim` per prefix, for scores.
    norm: Vec<f64>,
    /// `1 / norm` per prefix, in the matcher's type.
    inv_norm: Vec<T>,
    min_prefix: usize,
    t: u64,
    state: SpringState,
    /// The instruction set the update is compiled for, chosen once at run time (`pulp`).
    arch: pulp::Arch,
}

/// [`SpringMatcher::update`] as an operation for `pulp`'s run-time dispatch: everything is
/// inlined into it, so the cost kernel and the recurrence are compiled with the instruction
/// set the CPU offers (AVX2 + FMA, or AVX-512 where present; SSE2 otherwise).
struct Update<'a, T: Real> {
    m: &'a mut SpringMatcher<T>,
    x: &'a [T],
}

impl<T: Real> pulp::WithSimd for Update<'_, T> {
    type Output = ();
    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) {
        self.m.update_inline(self.x)
    }
}

impl<T: Real> SpringMatcher<T> {
    /// A matcher for `query` (`len · dim` values, row-major), with no thresholds (never above
    /// threshold until [`set_thresholds`](Self::set_thresholds)).
    pub fn new(query: &[f64], dim: usize) -> Result<Self> {
        let s = super::Series::new(query, dim)?;
        let len = s.len();
        Ok(SpringMatcher {
            dim,
            len,
            query_t: (0..len * dim)
                .map(|p| T::from_f64(query[(p % len) * dim + p / len]))
                .collect(),
            acc: vec![T::INF; len],
            start: vec![0; len],
            cost: vec![T::ZERO; len],
            thr_cost: vec![T::INF; len],
            norm: (1..=len).map(|k| (k * dim) as f64).collect(),
            inv_norm: (1..=len)
                .map(|k| T::from_f64(1.0 / (k * dim) as f64))
                .collect(),
            min_prefix: len,
            t: 0,
            state: SpringState::empty(),
            arch: pulp::Arch::new(),
        })
    }

    /// Sets the score scale `σ²` (mean squared feature value per dimension the costs are
    /// compared with: score `= 1 / (1 + cost / (k · dim · σ²))`); default 1. Resets the
    /// thresholds, so call it before [`set_thresholds`](Self::set_thresholds).
    pub fn set_scale(&mut self, scale: f64) -> Result<()> {
        if !(scale.is_finite() && scale > 0.0) {
            return Err(Error::config(
                "scale",
                format!("must be finite and > 0 (got {scale})"),
            ));
        }
        for (k, (n, i)) in self.norm.iter_mut().zip(&mut self.inv_norm).enumerate() {
            *n = ((k + 1) * self.dim) as f64 * scale;
            *i = T::from_f64(1.0 / *n);
        }
        self.thr_cost.fill(T::INF);
        self.min_prefix = self.len;
        Ok(())
    }

    /// Sets the promotion threshold (a score in `(0, 1]`) of every prefix length (index
    /// `k − 1`; `None` or a value above 1 disables that length) and the shortest prefix that may
    /// fire.
    pub fn set_thresholds(&mut self, scores: &[Option<f64>], min_prefix: usize) -> Result<()> {
        if scores.len() != self.len {
            return Err(Error::config(
                "prefix_thresholds",
                format!("{} values for a {}-frame query", scores.len(), self.len),
            ));
        }
        if min_prefix == 0 || min_prefix > self.len {
            return Err(Error::config(
                "min_prefix",
                format!("must be in 1..={} (got {min_prefix})", self.len),
            ));
        }
        for (k, s) in scores.iter().enumerate() {
            self.thr_cost[k] = match *s {
                Some(s) if s > 0.0 && s <= 1.0 => {
                    // score >= s  <=>  cost <= k·dim·(1/s − 1)
                    T::from_f64(self.norm[k] * (1.0 / s - 1.0))
                }
                Some(s) if s.is_nan() || s <= 0.0 => {
                    return Err(Error::config(
                        format!("prefix_thresholds[{k}]"),
                        format!("a score threshold must be in (0, 1] (got {s})"),
                    ))
                }
                _ => T::INF,
            };
        }
        self.min_prefix = min_prefix;
        Ok(())
    }

    /// Query length in frames.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always `false` (an empty query is refused).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Values per frame.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The latest state.
    pub fn state(&self) -> &SpringState {
        &self.state
    }

    /// `acc(i, t)` for every query position `i` at the latest frame.
    pub fn prefix_costs(&self) -> &[T] {
        &self.acc
    }

    /// Forgets the stream.
    pub fn reset(&mut self) {
        self.acc.fill(T::INF);
        self.start.fill(0);
        self.t = 0;
        self.state = SpringState::empty();
    }

    /// Score of a cost for a prefix of `k` frames.
    fn score(&self, cost: T, k: usize) -> f64 {
        1.0 / (1.0 + cost.to_f64() / self.norm[k - 1])
    }

    /// Pushes one stream frame (`dim` values). Refuses a wrong length or a non-finite value
    /// (the state is then unchanged).
    pub fn push(&mut self, x: &[T]) -> Result<&SpringState> {
        self.check(x)?;
        self.update(x);
        Ok(&self.state)
    }

    /// Pushes one stream frame to every matcher of `matchers` (all of the frame's dimension),
    /// as [`push`](Self::push) on each would, and faster: the recurrences of up to four
    /// matchers of the same length run interleaved, so that their chains of dependent
    /// additions overlap. Refuses a wrong length or a non-finite value before updating any
    /// matcher. Read each one's result with [`state`](Self::state).
    ///
    /// ```
    /// use wifi_sensing_introspect::dtw::SpringMatcher;
    /// let mut ms = vec![
    ///     SpringMatcher::<f32>::new(&[1.0, 2.0, 3.0], 1)?,
    ///     SpringMatcher::<f32>::new(&[3.0, 2.0, 1.0], 1)?,
    /// ];
    /// for x in [0.0, 1.0, 2.0, 3.0] {
    ///     SpringMatcher::push_all(&mut ms, &[x])?;
    /// }
    /// assert_eq!(ms[0].state().full_cost, 0.0); // 1, 2, 3 seen
    /// assert!(ms[1].state().full_cost > 0.0);
    /// # Ok::<(), wifi_sensing_introspect::Error>(())
    /// ```
    pub fn push_all(matchers: &mut [SpringMatcher<T>], x: &[T]) -> Result<()> {
        for m in matchers.iter() {
            m.check(x)?;
        }
        let Some(first) = matchers.first() else {
            return Ok(());
        };
        let arch = first.arch;
        arch.dispatch(UpdateAll { ms: matchers, x });
        Ok(())
    }

    /// Checks a frame's length and values.
    fn check(&self, x: &[T]) -> Result<()> {
        if x.len() != self.dim {
            return Err(Error::InvalidInput(format!(
                "frame of {} values for a {}-dimensional query",
                x.len(),
                self.dim
            )));
        }
        if !x.iter().all(|v| v.finite()) {
            return Err(Error::InvalidInput("non-finite feature value".into()));
        }
        Ok(())
    }

    /// The update itself, for callers that validated `x` already.
    #[inline]
    pub(crate) fn update(&mut self, x: &[T]) {
        let arch = self.arch;
        arch.dispatch(Update { m: self, x });
    }

    /// The update, inlined into the dispatched instruction set.
    #[inline(always)]
    fn update_inline(&mut self, x: &[T]) {
        row_costs(&self.query_t, x, &mut self.cost);
        recur([&mut *self]);
        self.report();
    }

    /// After the recurrence: the state of this frame.
    #[inline(always)]
    fn report(&mut self) {
        let t = self.t;
        let len = self.len;
        // The longest prefix at or under its threshold cost (thresholds are mostly off or
        // far: a predictable scan from the end).
        let fired_k = (0..len)
            .rev()
            .find(|&i| self.acc[i] <= self.thr_cost[i])
            .map_or(0, |i| i + 1);
        // Report the longest firing prefix, else the best-scoring prefix of at least
        // min_prefix frames.
        let (k, above) = if fired_k >= self.min_prefix {
            (fired_k, true)
        } else {
            (
                best_ratio_prefix(&self.acc, &self.inv_norm, self.min_prefix - 1),
                false,
            )
        };
        self.state = SpringState {
            frame: t,
            full_cost: self.acc[len - 1].to_f64(),
            full_start: self.start[len - 1],
            score: self.score(self.acc[k - 1], k),
            matched_frames: k,
            start: self.start[k - 1],
            above_threshold: above,
        };
        self.t = t + 1;
    }
}

/// [`SpringMatcher::push_all`]'s update, for `pulp`'s run-time dispatch.
struct UpdateAll<'a, T: Real> {
    ms: &'a mut [SpringMatcher<T>],
    x: &'a [T],
}

impl<T: Real> pulp::WithSimd for UpdateAll<'_, T> {
    type Output = ();
    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) {
        let x = self.x;
        // Runs of equal lengths, four (then two, then one) matchers at a time: their local
        // costs, then their recurrences interleaved, then their states.
        let mut rest = &mut self.ms[..];
        while !rest.is_empty() {
            let len = rest[0].len;
            let run = rest.iter().take(4).take_while(|m| m.len == len).count();
            let (group, tail) = std::mem::take(&mut rest).split_at_mut(run);
            for m in group.iter_mut() {
                row_costs(&m.query_t, x, &mut m.cost);
            }
            match group {
                [a, b, c, d] => recur([a, b, c, d]),
                [a, b, c] => {
                    recur([a, b]);
                    recur([c]);
                }
                [a, b] => recur([a, b]),
                [a] => recur([a]),
                _ => {}
            }
            for m in group.iter_mut() {
                m.report();
            }
            rest = tail;
        }
    }
}

/// SPRING's recurrence for one frame on `N` matchers of the same length, interleaved (each
/// matcher's `cost` holds the frame's local costs): `N` independent chains of dependent
/// minimum-and-addition steps, which the CPU overlaps.
#[inline(always)]
fn recur<T: Real, const N: usize>(ms: [&mut SpringMatcher<T>; N]) {
    let len = ms[0].len;
    let mut parts = ms.map(|m| {
        let t = m.t;
        (&m.cost[..len], &mut m.acc[..len], &mut m.start[..len], t)
    });
    // acc(i−1, t−1) and its start, before being overwritten; row −1 is 0 with start t.
    let mut diag = [T::ZERO; N];
    let mut diag_s = [0u64; N];
    let mut up = [T::ZERO; N];
    let mut up_s = [0u64; N];
    for k in 0..N {
        diag_s[k] = parts[k].3;
        up_s[k] = parts[k].3;
    }
    for i in 0..len {
        for k in 0..N {
            let (cost, acc, start, _) = &mut parts[k];
            let c = cost[i];
            let left = acc[i];
            let left_s = start[i];
            // The value, with `up` (the previous step's) last: one minimum and one addition
            // on the dependency chain.
            let dl = if left < diag[k] { left } else { diag[k] };
            let best = if up[k] < dl { up[k] } else { dl };
            // The start, with the priority diag, up, left on ties (off the chain).
            let ud = up[k] < diag[k];
            let v1 = if ud { up[k] } else { diag[k] };
            let s1 = if ud { up_s[k] } else { diag_s[k] };
            let best_s = if left < v1 { left_s } else { s1 };
            let v = c + best;
            acc[i] = v;
            start[i] = best_s;
            diag[k] = left;
            diag_s[k] = left_s;
            up[k] = v;
            up_s[k] = best_s;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtw::{Dtw, DtwOptions, Series};

    proptest::proptest! {
        /// At every frame, the streaming whole-query cost equals batch subsequence DTW (free
        /// start and end in the stream) over the stream so far, ending at that frame.
        #[test]
        fn streaming_equals_batch_subsequence(
            q in proptest::collection::vec(-3.0f64..3.0, 2..12),
            s in proptest::collection::vec(-3.0f64..3.0, 1..40),
        ) {
            let mut m = SpringMatcher::<f64>::new(&q, 1).unwrap();
            let mut best = f64::INFINITY;
            let opts = DtwOptions { open_begin: true, open_end: true, ..DtwOptions::default() };
            let mut dtw = Dtw::new(opts).unwrap();
            for (t, x) in s.iter().enumerate() {
                let st = *m.push(&[*x]).unwrap();
                best = best.min(st.full_cost);
                let batch = dtw
                    .distance(Series::one_d(&q).unwrap(), Series::one_d(&s[..=t]).unwrap())
                    .unwrap();
                proptest::prop_assert!((batch.distance - best).abs() <= 1e-9 * best.max(1.0));
                proptest::prop_assert!(st.score >= 0.0 && st.score <= 1.0);
            }
        }
    }

    proptest::proptest! {
        /// `push_all` leaves every matcher exactly as `push` on each would (same states, same
        /// prefix costs), whatever the mix of lengths (runs of equal lengths are interleaved).
        #[test]
        fn push_all_equals_push_on_each(
            lens in proptest::collection::vec(1usize..6, 1..9),
            frames in proptest::collection::vec(proptest::collection::vec(-2.0f64..2.0, 3), 1..30),
            seed in 0u64..1000,
        ) {
            let dim = 3;
            let mut k = seed;
            let mut next = || {
                k = k.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((k >> 33) % 1000) as f64 / 250.0 - 2.0
            };
            let mut one: Vec<SpringMatcher<f32>> = lens
                .iter()
                .map(|&l| {
                    let q: Vec<f64> = (0..l * dim).map(|_| next()).collect();
                    let mut m = SpringMatcher::<f32>::new(&q, dim).unwrap();
                    m.set_thresholds(&vec![Some(0.6); l], 1).unwrap();
                    m
                })
                .collect();
            let mut all = one.clone();
            for f in &frames {
                let x: Vec<f32> = f.iter().map(|&v| v as f32).collect();
                for m in one.iter_mut() {
                    m.push(&x).unwrap();
                }
                SpringMatcher::push_all(&mut all, &x).unwrap();
                for (a, b) in one.iter().zip(&all) {
                    proptest::prop_assert_eq!(a.state(), b.state());
                    proptest::prop_assert_eq!(a.prefix_costs(), b.prefix_costs());
                }
            }
            // A bad frame is refused before any matcher is updated.
            let before: Vec<SpringState> = all.iter().map(|m| *m.state()).collect();
            proptest::prop_assert!(SpringMatcher::push_all(&mut all, &[0.0, f32::NAN, 0.0]).is_err());
            proptest::prop_assert!(SpringMatcher::push_all(&mut all, &[0.0]).is_err());
            let after: Vec<SpringState> = all.iter().map(|m| *m.state()).collect();
            proptest::prop_assert_eq!(before, after);
        }
    }

    /// The blocked cost kernel equals a plain per-frame distance, for lengths below, at and
    /// above the block size.
    #[test]
    fn row_costs_match_plain_distances() {
        let dim = 5;
        for len in [1usize, 7, 31, 32, 33, 64, 70, 100] {
            let q: Vec<f64> = (0..len * dim)
                .map(|k| ((k * 37 % 11) as f64) * 0.25 - 1.0)
                .collect();
            let x: Vec<f64> = (0..dim).map(|j| j as f64 * 0.3 - 0.5).collect();
            let qt: Vec<f64> = (0..len * dim)
                .map(|p| q[(p % len) * dim + p / len])
                .collect();
            let mut out = vec![f64::NAN; len];
            row_costs(&qt, &x, &mut out);
            for (i, o) in out.iter().enumerate() {
                let want = sq_dist(&q[i * dim..(i + 1) * dim], &x);
                assert!(
                    (o - want).abs() <= 1e-12 * want.max(1.0),
                    "len {len} frame {i}"
                );
            }
        }
    }

    #[test]
    fn bad_frames_and_thresholds_are_refused() {
        let mut m = SpringMatcher::<f32>::new(&[0.0, 1.0, 2.0, 3.0], 2).unwrap();
        assert!(m.push(&[0.0]).is_err());
        assert!(m.push(&[0.0, f32::NAN]).is_err());
        assert_eq!(m.state().frame, 0);
        assert!(m.set_thresholds(&[Some(0.5)], 1).is_err());
        assert!(m.set_thresholds(&[Some(0.5), Some(f64::NAN)], 1).is_err());
        assert!(m.set_thresholds(&[Some(0.5), Some(0.5)], 3).is_err());
        assert!(m.set_scale(0.0).is_err());
        m.set_thresholds(&[None, Some(0.9)], 2).unwrap();
        assert!(!m.push(&[5.0, 5.0]).unwrap().above_threshold);
        m.push(&[0.0, 1.0]).unwrap();
        assert!(m.push(&[2.0, 3.0]).unwrap().above_threshold);
        assert!(SpringMatcher::<f32>::new(&[], 1).is_err());
    }
}
