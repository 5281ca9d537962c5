//! The per-node vital-sign estimator (see the [module docs](super)).

use std::sync::Arc;

use realfft::num_complex::Complex32;
use realfft::{RealFftPlanner, RealToComplex};

use super::{NoEstimate, VitalRate, VitalSigns, VitalsConfig};

/// Power iterations of the principal component.
const POWER_ITERATIONS: usize = 40;
/// A window restarts this long after a long motion run, s.
const MOTION_GUARD_S: f64 = 0.5;
/// A motion run longer than this (s, guard included: runs over 1 s) ends the window: the
/// estimate uses only what follows it. A person who sits down, stands up or turns makes a run
/// of 0.5-1.3 s and leaves the body in another place in the channel, whose breath the window
/// must not mix with the one before (with 3 s here and no shape test, most breathing estimates
/// of simulated sessions with such changes every 4-14 s were wrong, up to confidence 1).
/// Shorter runs end the window too when the amplitude shape moved across them
/// ([`VitalsEstimator::shape_moved`]); the others (a gain step the level tracker missed and the
/// event detector reads as motion, a twitch) stay in the window, and the steps they leave are
/// removed.
const MAX_BRIDGED_MOTION_S: f64 = 2.0;
/// A stretch without frames longer than this (s) is not bridged: the window starts after it.
/// Empty bins are filled by linear interpolation, which is harmless over a dropped frame or
/// two but invents a signal across a long gap (periodic gaps of a few seconds, as in some
/// Intel 5300 logs, read as a breathing rate at the gaps' own period). 1 s is under the
/// period of the fastest breathing the estimator looks for (40 /min, 1.5 s).
pub(crate) const MAX_BRIDGED_GAP_S: f64 = 1.0;
/// Each side of the shape-shift test across a short motion run, s ([`VitalsEstimator::shape_moved`]).
const POSTURE_SIDE_S: f64 = 1.0;
/// Across a short motion run, a shift of the shape features' means larger than this many times
/// the median shift of two such means elsewhere in the window (averaged over the features) is
/// a change of posture: the window starts after the run.
const POSTURE_SHIFT: f64 = 8.0;
/// Fewest reference pairs of means for the shape-shift test.
const MIN_SHIFT_REFERENCES: usize = 5;
/// A bin-to-bin change larger than this many times the median absolute change of its feature
/// is a step (dropped), not signal.
const STEP_MADS: f32 = 8.0;

/// Breathing and heart rate of one node.
pub(crate) struct VitalsEstimator {
    cfg: VitalsConfig,
    grid_ns: i64,
    n_grid: usize,
    /// Feature `f` averages shape values `groups[f].0 .. groups[f].1`.
    groups: Vec<(usize, usize)>,
    k: usize,
    // the open bin
    bin: Option<i64>,
    bin_sum: Vec<f64>,
    bin_n: u32,
    // ring of closed bins, slot = bin id mod n_grid
    ring: Vec<f32>,
    ring_id: Vec<i64>,
    ring_frames: Vec<u32>,
    ring_moving: Vec<bool>,
    bin_moving: bool,
    diffs: Vec<f32>,
    /// Prefix sums of the shape-shift test ([`Self::prepare_shape_sums`]).
    prefix: Vec<f64>,
    /// The shape-shift test's reference positions (a buffer kept between estimates).
    refs: Vec<i64>,
    breath_vec: Vec<f64>,
    last_closed: Option<i64>,
    first_bin: Option<i64>,
    next_estimate_ns: Option<i64>,
    // spectral work
    planner: RealFftPlanner<f32>,
    fft: Option<Arc<dyn RealToComplex<f32>>>,
    fft_in: Vec<f32>,
    fft_scratch: Vec<Complex32>,
    spectra: Vec<Complex32>,
    n_freq: usize,
    matrix: Vec<f32>,
    cov: Vec<f64>,
    vec_a: Vec<f64>,
    vec_b: Vec<f64>,
    power: Vec<f64>,
    allowed: Vec<bool>,
    /// Smooth basis over the group features, row-major (`n_basis × n_groups`); empty when
    /// off.
    basis: Vec<f32>,
    n_basis: usize,
    n_groups: usize,
    /// Rows of `spectra` the components use: `k`, or `n_basis` plus the level and the phase
    /// features.
    k_eff: usize,
    basis_out: Vec<Complex32>,
}

impl std::fmt::Debug for VitalsEstimator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VitalsEstimator")
            .field("features", &self.k)
            .field("n_grid", &self.n_grid)
            .finish()
    }
}

/// An orthonormal cosine basis (DCT-II) over the group features, per receive link: the first
/// `r` functions over each link's groups (in order), row-major `rows × groups`. Empty when no
/// link has more than `r` groups (the basis would only rotate the features) or `r == 0`.
fn smooth_basis(group_link: &[usize], r: usize) -> (Vec<f32>, usize) {
    let ng = group_link.len();
    let mut links: Vec<usize> = group_link.to_vec();
    links.dedup();
    let members = |l: usize| -> Vec<usize> { (0..ng).filter(|&g| group_link[g] == l).collect() };
    if r == 0 || !links.iter().any(|&l| members(l).len() > r) {
        return (Vec::new(), 0);
    }
    let mut basis = Vec::new();
    let mut rows = 0;
    for &l in &links {
        let m = members(l);
        let n = m.len();
        for j in 0..r.min(n) {
            let norm = if j == 0 {
                (1.0 / n as f64).sqrt()
            } else {
                (2.0 / n as f64).sqrt()
            };
            let mut row = vec![0.0f32; ng];
            for (i, &g) in m.iter().enumerate() {
                let x = std::f64::consts::PI * j as f64 * (i as f64 + 0.5) / n as f64;
                row[g] = (norm * x.cos()) as f32;
            }
            basis.extend(row);
            rows += 1;
        }
    }
    (basis, rows)
}

/// Groups `n` shape values into at most `max - 1` features of adjacent values, plus the level
/// (value `n`) as a feature of its own.
/// The `extra` phase features (values `n + 1 ..`) follow, one feature each.
fn groups(n: usize, max: usize, extra: usize) -> Vec<(usize, usize)> {
    let k = n.min(max.saturating_sub(1).max(1));
    let mut g: Vec<(usize, usize)> = (0..k).map(|g| (g * n / k, (g + 1) * n / k)).collect();
    g.push((n, n + 1));
    g.extend((n + 1..n + 1 + extra).map(|i| (i, i + 1)));
    g
}

impl VitalsEstimator {
    /// `n_values` shape values per frame (`link[i]`: the receive link of value `i`); frames
    /// pass them with the level and then `extra` phase features appended.
    pub fn new(cfg: &VitalsConfig, link: &[usize], extra: usize) -> Self {
        let n_values = link.len();
        let groups = groups(n_values, cfg.max_features, extra);
        let k = groups.len();
        let n_groups = k - 1 - extra;
        let group_link: Vec<usize> = groups[..n_groups].iter().map(|g| link[g.0]).collect();
        let (basis, n_basis) = smooth_basis(&group_link, cfg.smooth_basis);
        let n_grid = (cfg.window_s * cfg.grid_hz).round().max(8.0) as usize;
        VitalsEstimator {
            cfg: cfg.clone(),
            grid_ns: (1e9 / cfg.grid_hz).round() as i64,
            n_grid,
            groups,
            k,
            bin: None,
            bin_sum: vec![0.0; k],
            bin_n: 0,
            ring: vec![0.0; n_grid * k],
            ring_id: vec![i64::MIN; n_grid],
            ring_frames: vec![0; n_grid],
            ring_moving: vec![false; n_grid],
            bin_moving: false,
            diffs: Vec::new(),
            prefix: Vec::new(),
            refs: Vec::new(),
            breath_vec: vec![0.0; k],
            last_closed: None,
            first_bin: None,
            next_estimate_ns: None,
            planner: RealFftPlanner::new(),
            fft: None,
            fft_in: Vec::new(),
            fft_scratch: Vec::new(),
            spectra: Vec::new(),
            n_freq: 0,
            matrix: Vec::new(),
            cov: vec![0.0; k * k],
            vec_a: vec![0.0; k],
            vec_b: vec![0.0; k],
            power: Vec::new(),
            allowed: Vec::new(),
            basis,
            n_basis,
            n_groups,
            k_eff: if n_basis > 0 {
                k - n_groups + n_basis
            } else {
                k
            },
            basis_out: Vec::new(),
        }
    }

    /// One frame's shape; appends an estimate every `hop_s`.
    pub fn push(&mut self, t: i64, x: &[f32], moving: bool, out: &mut Vec<VitalSigns>) {
        let b = t.div_euclid(self.grid_ns);
        match self.bin {
            Some(cur) if b != cur => {
                if b < cur {
                    // time went back: drop this frame
                    return;
                }
                self.close_bin(cur);
                if b - cur > self.n_grid as i64 {
                    // a gap longer than the window: start over
                    self.ring_id.iter_mut().for_each(|i| *i = i64::MIN);
                    self.first_bin = None;
                }
                self.bin = Some(b);
            }
            None => self.bin = Some(b),
            _ => {}
        }
        self.first_bin.get_or_insert(b);
        for (s, (a, e)) in self.bin_sum.iter_mut().zip(&self.groups) {
            let v: f32 = x[*a..*e].iter().sum();
            *s += f64::from(v) / (*e - *a).max(1) as f64;
        }
        self.bin_n += 1;
        if moving {
            self.bin_moving = true;
        }
        let next = *self
            .next_estimate_ns
            .get_or_insert(t + (self.cfg.hop_s * 1e9) as i64);
        if t >= next {
            self.next_estimate_ns = Some(next + (self.cfg.hop_s * 1e9) as i64);
            if t - next > (self.cfg.hop_s * 1e9) as i64 {
                self.next_estimate_ns = Some(t + (self.cfg.hop_s * 1e9) as i64);
            }
            if let Some(v) = self.estimate() {
                out.push(v);
            }
        }
    }

    fn close_bin(&mut self, id: i64) {
        let slot = id.rem_euclid(self.n_grid as i64) as usize;
        let n = f64::from(self.bin_n.max(1));
        for (r, s) in self.ring[slot * self.k..][..self.k]
            .iter_mut()
            .zip(self.bin_sum.iter_mut())
        {
            *r = (*s / n) as f32;
            *s = 0.0;
        }
        self.ring_id[slot] = id;
        self.ring_frames[slot] = self.bin_n;
        self.ring_moving[slot] = self.bin_moving;
        self.bin_n = 0;
        self.bin_moving = false;
        self.last_closed = Some(id);
    }

    fn estimate(&mut self) -> Option<VitalSigns> {
        let end = self.last_closed?;
        let first = self.first_bin?;
        let mut uncut = (end - self.n_grid as i64 + 1).max(first);
        // the signal after the last gap too long to bridge is what there is (a window
        // restarted by a gap is `window_too_short` until it is long enough again)
        self.gap_cut(&mut uncut, end);
        let mut start = uncut;
        let cut = self.motion_cut(&mut start, end);
        let mut frames = self.frames_in(start, end);
        let filled = frames == 0;
        if filled {
            // A motion run covers everything since its cut: no motion-free signal is left, and
            // the record says so over the window the motion fills (the whole window examined)
            // rather than over nothing (it gave 0 frames over 0 s at 0 Hz).
            start = uncut;
            frames = self.frames_in(start, end);
            if frames == 0 {
                return None;
            }
        }
        let n = (end - start + 1).max(0) as usize;
        let span_s = n as f64 / self.cfg.grid_hz;
        let rate = if span_s > 0.0 {
            frames as f64 / span_s
        } else {
            0.0
        };
        let mut v = VitalSigns {
            breathing: VitalRate::none(NoEstimate::WindowTooShort),
            heart: VitalRate::none(NoEstimate::WindowTooShort),
            window_start_ns: start.saturating_mul(self.grid_ns),
            // the end of the last closed bin: after a gap, the frame that triggers the estimate
            // comes later than the window it closes
            window_end_ns: end
                .saturating_add(1)
                .saturating_mul(self.grid_ns)
                .max(start.saturating_mul(self.grid_ns)),
            window_s: span_s,
            frame_rate_hz: rate,
            frames,
            features: self.k,
            presence_ratio: None,
        };
        if filled || !self.long_enough(span_s, frames) {
            // `motion` only when motion is what withholds the estimate: the window it cut
            // would have been long enough without the cut. A window that is short because the
            // stream (or the signal after a gap) has just started is `window_too_short`, with
            // or without motion in it (see `NoEstimate`).
            let uncut_s = (end - uncut + 1).max(0) as f64 / self.cfg.grid_hz;
            let r = if cut && self.long_enough(uncut_s, self.frames_in(uncut, end)) {
                NoEstimate::Motion
            } else {
                NoEstimate::WindowTooShort
            };
            v.breathing = VitalRate::none(r);
            v.heart = VitalRate::none(r);
            return Some(v);
        }
        self.spectra_of(start, n, rate);
        let m = (self.n_freq - 1) * 2;
        let hz_per_bin = self.cfg.grid_hz / m as f64;
        let bin_of = |bpm: f64| (bpm / 60.0 / hz_per_bin).round() as usize;
        // noise power per bin above the heart band
        let nyq_bin = self.n_freq - 1;
        let lo = (bin_of(self.cfg.heart_bpm[1]) + bin_of(self.cfg.heart_bpm[1]) / 5).min(nyq_bin);
        let hi = (nyq_bin * 19 / 20).max(lo + 1).min(nyq_bin);
        let boxcar = rate > 1.5 * self.cfg.grid_hz;
        let (b0, b1) = (
            bin_of(self.cfg.breathing_bpm[0]).max(1),
            bin_of(self.cfg.breathing_bpm[1]).min(nyq_bin),
        );
        // Whiten: each feature's spectrum is divided by its own noise level (measured above the
        // heart band), so a quiet feature (the level) and a noisy one (one subcarrier group)
        // weigh alike and noise has unit power in every feature.
        for c in 0..self.k {
            let mut p = 0.0;
            let mut nn = 0usize;
            for f in lo..hi {
                let x = std::f64::consts::PI * f as f64 * hz_per_bin / self.cfg.grid_hz;
                let h2 = if boxcar && x > 0.0 {
                    (x.sin() / x).powi(2).max(0.05)
                } else {
                    1.0
                };
                p += f64::from(self.spectra[c * self.n_freq + f].norm_sqr()) / h2;
                nn += 1;
            }
            let p = if nn > 0 { p / nn as f64 } else { 0.0 };
            let mut w = if p > 0.0 && p.is_finite() {
                (1.0 / p.sqrt()) as f32
            } else {
                1.0
            };
            // A feature whose breathing band holds more broadband power than its white noise
            // (slow drift, residual gain changes, red noise) weighs less, by the ratio of its
            // band's median power to white noise's (ln 2): a narrow breathing peak does not
            // move the median, a drifting feature does.
            self.diffs.clear();
            for f in (b0..=b1).step_by(2) {
                self.diffs
                    .push(self.spectra[c * self.n_freq + f].norm_sqr() * w * w);
            }
            if !self.diffs.is_empty() {
                let mid = self.diffs.len() / 2;
                let med = f64::from(*self.diffs.select_nth_unstable_by(mid, f32::total_cmp).1);
                let red = med / std::f64::consts::LN_2;
                if red > 1.0 && red.is_finite() {
                    w /= red.sqrt() as f32;
                }
            }
            for z in &mut self.spectra[c * self.n_freq..][..self.n_freq] {
                *z *= w;
            }
        }
        let noise = 1.0;
        let eff = n as f64 / m as f64;
        self.reduce();
        self.allowed.clear();
        self.allowed.resize(self.n_freq, false);
        self.allowed[b0..=b1].iter_mut().for_each(|a| *a = true);
        let lambda = self.principal(b0, b1);
        self.breath_vec.copy_from_slice(&self.vec_a);
        let nb = (b1 - b0 + 1) as f64;
        let edge = nb * noise * (1.0 + (self.k_eff as f64 / (nb * eff).max(1.0)).sqrt()).powi(2);
        let presence = (lambda + 1e-30) / (edge + 1e-30);
        v.presence_ratio = Some(presence);
        let guard_bins = (2.0 / eff).ceil() as usize;
        v.breathing = if rate < 2.0 * self.cfg.breathing_bpm[1] / 60.0 {
            VitalRate::none(NoEstimate::FrameRateTooLow)
        } else {
            self.peak(b0, b1, hz_per_bin, guard_bins, self.cfg.min_distinctness)
        };
        if v.breathing.reason == Some(NoEstimate::FrameRateTooLow) {
            // The band is not sampled: neither "nobody there" nor "not distinct" can be told,
            // and the heart band needs a higher rate still.
            v.heart = VitalRate::none(NoEstimate::FrameRateTooLow);
            return Some(v);
        }
        // Nobody there: neither a distinct breathing peak nor more breathing-band power than
        // noise. (A distinct peak is a person even when the band's total power is low: a
        // breath occupies a few bins of the band.)
        if v.breathing.rate_per_min.is_none() && presence < self.cfg.presence_ratio {
            v.breathing = VitalRate {
                distinctness: v.breathing.distinctness,
                ..VitalRate::none(NoEstimate::NoPerson)
            };
            v.heart = VitalRate::none(NoEstimate::NoPerson);
            return Some(v);
        }
        if v.breathing.rate_per_min.is_none() {
            // no breathing component to carry the heartbeat
            v.heart = VitalRate::none(NoEstimate::NotDistinct);
            return Some(v);
        }
        // heart, without the breathing harmonics
        let (h0, h1) = (
            bin_of(self.cfg.heart_bpm[0]).max(1),
            bin_of(self.cfg.heart_bpm[1]).min(nyq_bin),
        );
        if rate < 2.0 * self.cfg.heart_bpm[1] / 60.0 {
            v.heart = VitalRate::none(NoEstimate::FrameRateTooLow);
            return Some(v);
        }
        self.allowed.iter_mut().for_each(|a| *a = false);
        self.allowed[h0..=h1].iter_mut().for_each(|a| *a = true);
        if let Some(fb) = v.breathing.rate_per_min {
            let tol = self.cfg.harmonic_tolerance_bpm;
            let mut h = 2.0;
            while h * fb - tol <= self.cfg.heart_bpm[1] {
                let a = bin_of((h * fb - tol).max(0.0));
                let b = bin_of(h * fb + tol).min(nyq_bin);
                for f in a..=b {
                    self.allowed[f] = false;
                }
                h += 1.0;
            }
        }
        // The heartbeat moves the same chest surface as breathing, so the combination of
        // features that carries the breathing fundamental also carries the heartbeat (to first
        // order): project on it rather than fitting a component to the (noise-dominated) heart
        // band.
        self.vec_a.copy_from_slice(&self.breath_vec);
        self.project(h0, h1);
        v.heart = self.peak(
            h0,
            h1,
            hz_per_bin,
            guard_bins,
            self.cfg.heart_min_distinctness,
        );
        Some(v)
    }

    /// Frames in the closed grid bins `start..=end`.
    fn frames_in(&self, start: i64, end: i64) -> u64 {
        (start..=end)
            .map(|b| {
                let s = b.rem_euclid(self.n_grid as i64) as usize;
                if self.ring_id[s] == b {
                    u64::from(self.ring_frames[s])
                } else {
                    0
                }
            })
            .sum()
    }

    /// Whether a window of `span_s` seconds holding `frames` frames can give an estimate.
    fn long_enough(&self, span_s: f64, frames: u64) -> bool {
        span_s >= self.cfg.min_window_s && frames >= 4
    }

    /// Motion in the grid bins `[start, end]`: a run longer than [`MAX_BRIDGED_MOTION_S`]
    /// (guard included), or a shorter one across which the amplitude shape moved to another
    /// level ([`Self::shape_moved`]: a person who sat down, stood up or turned), moves `start`
    /// past it; other runs stay in the window (their steps are removed with the others, see
    /// `spectra_of`). Returns whether a run cut the window (a run left in it does not count).
    fn motion_cut(&mut self, start: &mut i64, end: i64) -> bool {
        let guard = (MOTION_GUARD_S * self.cfg.grid_hz).ceil() as i64;
        let max_run = (MAX_BRIDGED_MOTION_S * self.cfg.grid_hz).ceil() as i64;
        let mut cut: Option<i64> = None;
        let mut run: Option<i64> = None;
        let mut prepared = false;
        for b in *start..=end + 1 {
            if b <= end && self.moving(b) {
                run.get_or_insert(b);
                continue;
            }
            let Some(r0) = run.take() else { continue };
            let r1 = b - 1;
            let long = r1 - r0 + 1 + 2 * guard > max_run;
            let moved = !long && {
                if !prepared {
                    self.prepare_shape_sums(*start, end);
                    prepared = true;
                }
                self.shape_moved(*start, end, r0, r1, guard)
            };
            if long || moved {
                cut = Some(r1 + guard + 1);
            }
        }
        if let Some(c) = cut {
            *start = c.min(end + 1);
        }
        cut.is_some()
    }

    /// Whether grid bin `b` holds a frame the event detector called moving.
    fn moving(&self, b: i64) -> bool {
        let s = b.rem_euclid(self.n_grid as i64) as usize;
        self.ring_id[s] == b && self.ring_moving[s]
    }

    /// Prefix sums over the bins `[start, end]` for [`Self::shape_moved`]: per bin, the count of
    /// bins with frames and without motion, the count of bins with motion, then per shape
    /// feature the sum of the values of the first kind.
    fn prepare_shape_sums(&mut self, start: i64, end: i64) {
        let (k, g) = (self.k, self.n_groups);
        let width = 2 + g;
        let n = (end - start + 1).max(0) as usize;
        self.prefix.clear();
        self.prefix.resize((n + 1) * width, 0.0);
        for i in 0..n {
            let b = start + i as i64;
            let s = b.rem_euclid(self.n_grid as i64) as usize;
            let (done, rest) = self.prefix.split_at_mut((i + 1) * width);
            let row = &mut rest[..width];
            row.copy_from_slice(&done[i * width..]);
            if self.ring_id[s] == b && self.ring_moving[s] {
                row[1] += 1.0;
            } else if self.ring_id[s] == b && self.ring_frames[s] > 0 {
                row[0] += 1.0;
                for (r, &x) in row[2..].iter_mut().zip(&self.ring[s * k..][..g]) {
                    *r += f64::from(x);
                }
            }
        }
    }

    /// Whether the amplitude shape moved to another level across the motion run `[r0, r1]`
    /// (see [`POSTURE_SHIFT`]): the mean of each shape feature over [`POSTURE_SIDE_S`] before
    /// the run and after it (past the guard), their squared difference against the median
    /// squared difference of two such means the same distance apart elsewhere in the motion-free
    /// part of the window (what breathing and noise alone give there), averaged over the
    /// features. `false` when either side or that reference is not there yet (the run is
    /// bridged, and judged again at the next estimate). Needs [`Self::prepare_shape_sums`].
    fn shape_moved(&mut self, start: i64, end: i64, r0: i64, r1: i64, guard: i64) -> bool {
        let side = (POSTURE_SIDE_S * self.cfg.grid_hz).round().max(2.0) as i64;
        let g = self.n_groups;
        let width = 2 + g;
        let (before, after) = (r0 - guard - side, r1 + guard + 1);
        if g == 0 || before < start || after + side > end + 1 {
            return false;
        }
        let lag = after - before;
        let prefix = &self.prefix;
        let row = |from: i64| (from - start) as usize * width;
        // bins with frames and without motion in `[from, from + side)`; a mean needs half
        let count = |from: i64| prefix[row(from + side)] - prefix[row(from)];
        let usable = |from: i64| count(from) >= side as f64 / 2.0;
        let mean = |from: i64, c: usize| {
            (prefix[row(from + side) + 2 + c] - prefix[row(from) + 2 + c]) / count(from)
        };
        // motion in `[from, to)`
        let moved = |from: i64, to: i64| prefix[row(to) + 1] > prefix[row(from) + 1];
        if !usable(before) || !usable(after) {
            return false;
        }
        // reference pairs: motion-free from the first mean's start to the second's end, so
        // no other change of posture lies between them
        let step = (side / 2).max(1) as usize;
        let mut refs = std::mem::take(&mut self.refs);
        refs.clear();
        refs.extend(
            (start..=end + 1 - lag - side)
                .step_by(step)
                .filter(|&p| !moved(p, p + lag + side) && usable(p) && usable(p + lag)),
        );
        let enough = refs.len() >= MIN_SHIFT_REFERENCES;
        let mut ratio = 0.0;
        if enough {
            for c in 0..g {
                self.diffs.clear();
                self.diffs.extend(
                    refs.iter()
                        .map(|&p| (mean(p + lag, c) - mean(p, c)).powi(2) as f32),
                );
                let mid = self.diffs.len() / 2;
                let typical = f64::from(*self.diffs.select_nth_unstable_by(mid, f32::total_cmp).1);
                ratio += (mean(after, c) - mean(before, c)).powi(2) / typical.max(1e-30);
            }
        }
        self.refs = refs;
        enough && ratio / g as f64 > POSTURE_SHIFT
    }

    /// A stretch of grid bins without frames longer than [`MAX_BRIDGED_GAP_S`] in `[start,
    /// end]` moves `start` past the last such stretch.
    fn gap_cut(&self, start: &mut i64, end: i64) {
        let max_gap = (MAX_BRIDGED_GAP_S * self.cfg.grid_hz).ceil() as i64;
        let empty = |b: i64| {
            let s = b.rem_euclid(self.n_grid as i64) as usize;
            self.ring_id[s] != b || self.ring_frames[s] == 0
        };
        let mut run: Option<i64> = None;
        let mut cut: Option<i64> = None;
        for b in *start..=end {
            if empty(b) {
                let r0 = *run.get_or_insert(b);
                if b - r0 + 1 > max_gap {
                    cut = Some(b + 1);
                }
            } else {
                run = None;
            }
        }
        if let Some(c) = cut {
            *start = c.min(end + 1);
        }
    }

    /// Fills `spectra` (features × frequencies) from grid bins `start ..` (`n` bins).
    fn spectra_of(&mut self, start: i64, n: usize, _rate: f64) {
        let k = self.k;
        self.matrix.clear();
        self.matrix.resize(n * k, f32::NAN);
        for i in 0..n {
            let b = start + i as i64;
            let s = b.rem_euclid(self.n_grid as i64) as usize;
            if self.ring_id[s] == b && self.ring_frames[s] > 0 {
                self.matrix[i * k..][..k].copy_from_slice(&self.ring[s * k..][..k]);
            }
        }
        // fill empty bins by linear interpolation (hold at the ends)
        let valid: Vec<bool> = (0..n).map(|i| !self.matrix[i * k].is_nan()).collect();
        let mut last: Option<usize> = None;
        for (i, &ok) in valid.iter().enumerate() {
            if ok {
                if let Some(l) = last {
                    for j in l + 1..i {
                        let w = (j - l) as f32 / (i - l) as f32;
                        for c in 0..k {
                            let a = self.matrix[l * k + c];
                            let bv = self.matrix[i * k + c];
                            self.matrix[j * k + c] = a + w * (bv - a);
                        }
                    }
                } else {
                    for j in 0..i {
                        for c in 0..k {
                            self.matrix[j * k + c] = self.matrix[i * k + c];
                        }
                    }
                }
                last = Some(i);
            }
        }
        if let Some(l) = last {
            for j in l + 1..n {
                for c in 0..k {
                    self.matrix[j * k + c] = self.matrix[l * k + c];
                }
            }
        }
        // Steps out: a bin-to-bin change far outside the feature's usual changes (an AGC gain
        // step the level tracker did not catch, a posture shift across a bridged motion) is
        // dropped and the two sides joined without a step, so no edge leaks a 1/f² spectrum
        // into the bands. Breathing and heartbeat are smooth: their bin-to-bin changes stay
        // within a few MADs of the feature's changes.
        for c in 0..k {
            self.diffs.clear();
            for i in 1..n {
                let d = self.matrix[i * k + c] - self.matrix[(i - 1) * k + c];
                self.diffs.push(d.abs());
            }
            let limit = if self.diffs.len() >= 8 {
                let mid = self.diffs.len() / 2;
                let mad = *self.diffs.select_nth_unstable_by(mid, f32::total_cmp).1;
                STEP_MADS * mad
            } else {
                f32::INFINITY
            };
            // differences in place (a step inside a bin splits over two differences: those
            // two go together)
            for i in (1..n).rev() {
                self.matrix[i * k + c] -= self.matrix[(i - 1) * k + c];
            }
            let mut i = 1;
            while i < n {
                let d = self.matrix[i * k + c];
                let next = if i + 1 < n {
                    self.matrix[(i + 1) * k + c]
                } else {
                    0.0
                };
                if d.abs() > limit {
                    self.matrix[i * k + c] = 0.0;
                } else if (d + next).abs() > limit && d * next > 0.0 {
                    self.matrix[i * k + c] = 0.0;
                    self.matrix[(i + 1) * k + c] = 0.0;
                    i += 1;
                }
                i += 1;
            }
            for i in 1..n {
                self.matrix[i * k + c] += self.matrix[(i - 1) * k + c];
            }
        }
        let m = (2 * n).next_power_of_two().max(16);
        if self.fft.as_ref().is_none_or(|f| f.len() != m) {
            let f = self.planner.plan_fft_forward(m);
            self.fft_scratch = f.make_scratch_vec();
            self.fft = Some(f);
        }
        let Some(fft) = self.fft.clone() else {
            return;
        };
        self.n_freq = m / 2 + 1;
        self.fft_in.resize(m, 0.0);
        self.spectra
            .resize(k * self.n_freq, Complex32::new(0.0, 0.0));
        let tm = (n as f64 - 1.0) / 2.0;
        let var_t: f64 = (0..n)
            .map(|i| (i as f64 - tm).powi(2))
            .sum::<f64>()
            .max(1e-30);
        for c in 0..k {
            let mut mean = 0.0;
            let mut ct = 0.0;
            for i in 0..n {
                let v = f64::from(self.matrix[i * k + c]);
                mean += v;
                ct += v * (i as f64 - tm);
            }
            mean /= n as f64;
            let slope = ct / var_t;
            for i in 0..m {
                self.fft_in[i] = if i < n {
                    let w = 0.5
                        - 0.5
                            * (2.0 * std::f64::consts::PI * i as f64 / (n as f64 - 1.0).max(1.0))
                                .cos();
                    let v = f64::from(self.matrix[i * k + c]) - mean - slope * (i as f64 - tm);
                    (v * w) as f32
                } else {
                    0.0
                };
            }
            let out = &mut self.spectra[c * self.n_freq..][..self.n_freq];
            if fft
                .process_with_scratch(&mut self.fft_in, out, &mut self.fft_scratch)
                .is_err()
            {
                out.iter_mut().for_each(|z| *z = Complex32::new(0.0, 0.0));
            }
        }
    }

    /// First principal component over the allowed bins of `[b0, b1]` (every other bin: the
    /// spectrum is zero-padded twice). Leaves the component in `vec_a`, its power spectrum over
    /// `[b0, b1]` in `power`; returns the eigenvalue.
    fn principal(&mut self, b0: usize, b1: usize) -> f64 {
        let k = self.k_eff;
        self.cov.iter_mut().for_each(|c| *c = 0.0);
        for f in (b0..=b1).step_by(2) {
            if !self.allowed[f] {
                continue;
            }
            for i in 0..k {
                let a = self.spectra[i * self.n_freq + f];
                for j in i..k {
                    let b = self.spectra[j * self.n_freq + f];
                    self.cov[i * k + j] += f64::from(a.re * b.re + a.im * b.im);
                }
            }
        }
        for i in 0..k {
            for j in 0..i {
                self.cov[i * k + j] = self.cov[j * k + i];
            }
        }
        let lambda = self.iterate();
        self.project(b0, b1);
        lambda
    }

    /// Power iteration on `cov` (`k_eff × k_eff`) from the feature with the most band power:
    /// the first eigenvector into `vec_a`; returns twice the eigenvalue (both padded bins count).
    fn iterate(&mut self) -> f64 {
        let k = self.k_eff;
        // start from the feature with the most band power
        let best = (0..k)
            .max_by(|a, b| self.cov[a * k + a].total_cmp(&self.cov[b * k + b]))
            .unwrap_or(0);
        self.vec_a.iter_mut().for_each(|v| *v = 0.0);
        if k > 0 {
            self.vec_a[best] = 1.0;
        }
        let mut lambda = 0.0;
        for _ in 0..POWER_ITERATIONS {
            for i in 0..k {
                self.vec_b[i] = (0..k).map(|j| self.cov[i * k + j] * self.vec_a[j]).sum();
            }
            let norm = self.vec_b.iter().map(|v| v * v).sum::<f64>().sqrt();
            if !(norm.is_finite() && norm > 0.0) {
                break;
            }
            lambda = norm;
            for (a, b) in self.vec_a.iter_mut().zip(&self.vec_b) {
                *a = b / norm;
            }
        }
        // both padded bins count: the eigenvalue over every other bin is about half the band's
        2.0 * lambda
    }

    /// Replaces the (whitened) group features' spectra by their coefficients on the smooth
    /// basis (rows `0 .. n_basis`), the level and the phase features following; nothing when
    /// the basis is off. The basis is orthonormal, so white noise stays white with unit power.
    fn reduce(&mut self) {
        if self.n_basis == 0 {
            return;
        }
        let (ng, nf) = (self.n_groups, self.n_freq);
        self.basis_out.clear();
        self.basis_out
            .resize(self.n_basis * nf, Complex32::new(0.0, 0.0));
        for (j, row) in self.basis.chunks_exact(ng).enumerate() {
            let out = &mut self.basis_out[j * nf..][..nf];
            for (c, &b) in row.iter().enumerate() {
                if b != 0.0 {
                    for (o, z) in out.iter_mut().zip(&self.spectra[c * nf..][..nf]) {
                        *o += *z * b;
                    }
                }
            }
        }
        for i in 0..self.k - ng {
            let src = (ng + i) * nf;
            self.spectra
                .copy_within(src..src + nf, (self.n_basis + i) * nf);
        }
        self.spectra[..self.n_basis * nf].copy_from_slice(&self.basis_out);
    }

    /// Power spectrum over `[b0, b1]` of the combination `vec_a` of the features, into `power`.
    fn project(&mut self, b0: usize, b1: usize) {
        self.power.clear();
        for f in b0..=b1 {
            let p = self.bin_power(f);
            self.power.push(p);
        }
    }

    /// Power of the combination `vec_a` of the features in bin `f`.
    fn bin_power(&self, f: usize) -> f64 {
        let mut re = 0.0f64;
        let mut im = 0.0f64;
        for c in 0..self.k_eff {
            let z = self.spectra[c * self.n_freq + f];
            re += self.vec_a[c] * f64::from(z.re);
            im += self.vec_a[c] * f64::from(z.im);
        }
        re * re + im * im
    }

    /// Spectral peak of `power` over the allowed bins of `[b0, b1]`.
    fn peak(&self, b0: usize, b1: usize, hz_per_bin: f64, guard: usize, min: f64) -> VitalRate {
        // the highest local maximum inside the band (a rise towards the band edge is leakage of
        // slower or faster content, not a rate)
        let mut best: Option<usize> = None;
        for f in b0 + 1..b1 {
            let v = self.power[f - b0];
            let local = v >= self.power[f - 1 - b0] && v >= self.power[f + 1 - b0];
            if self.allowed[f] && local && best.is_none_or(|b| v > self.power[b - b0]) {
                best = Some(f);
            }
        }
        let Some(p) = best else {
            return VitalRate::none(NoEstimate::NotDistinct);
        };
        let pk = self.power[p - b0];
        // parabolic interpolation of the log power
        let mut delta = 0.0;
        if p > b0 && p < b1 {
            let l = self.power[p - 1 - b0].max(1e-300).ln();
            let c = pk.max(1e-300).ln();
            let r = self.power[p + 1 - b0].max(1e-300).ln();
            let den = l - 2.0 * c + r;
            if den < 0.0 {
                delta = (0.5 * (l - r) / den).clamp(-0.5, 0.5);
            }
        }
        let mut rest: Vec<f64> = (b0..=b1)
            .filter(|&f| self.allowed[f] && f.abs_diff(p) > guard)
            .map(|f| self.power[f - b0])
            .collect();
        let floor = if rest.is_empty() {
            0.0
        } else {
            let mid = rest.len() / 2;
            *rest.select_nth_unstable_by(mid, f64::total_cmp).1
        };
        let distinct = (pk + 1e-30) / (floor + 1e-30 * (1.0 + pk));
        let rate = 60.0 * (p as f64 + delta) * hz_per_bin;
        if distinct < min {
            return VitalRate {
                rate_per_min: None,
                confidence: 0.0,
                distinctness: Some(distinct),
                reason: Some(NoEstimate::NotDistinct),
            };
        }
        let conf =
            ((distinct / min).ln() / (self.cfg.full_distinctness / min).ln()).clamp(0.0, 1.0);
        VitalRate {
            rate_per_min: Some(rate),
            confidence: conf,
            distinctness: Some(distinct),
            reason: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{smooth_basis, VitalsEstimator};
    use crate::vitals::{NoEstimate, VitalSigns, VitalsConfig};

    /// Runs an estimator over 50 Hz frames of 8 shape values and the level (a 15 /min breath
    /// and a small pseudo-random noise) at the times `times` (s), with motion where `moving`
    /// says; returns each estimate's time (s) and breathing reason.
    fn reasons(
        times: impl Iterator<Item = f64>,
        moving: impl Fn(f64) -> bool,
    ) -> Vec<(f64, Option<NoEstimate>)> {
        estimates(times, moving)
            .iter()
            .map(|v| (v.window_end_ns as f64 * 1e-9, v.breathing.reason))
            .collect()
    }

    fn estimates(
        times: impl Iterator<Item = f64>,
        moving: impl Fn(f64) -> bool,
    ) -> Vec<VitalSigns> {
        estimates_shifted(times, moving, f64::INFINITY)
    }

    /// [`estimates`] of frames whose amplitude shape tilts by ±15 % across the band from
    /// `shift_at` s on (a change of posture).
    fn estimates_shifted(
        times: impl Iterator<Item = f64>,
        moving: impl Fn(f64) -> bool,
        shift_at: f64,
    ) -> Vec<VitalSigns> {
        let cfg = VitalsConfig {
            smooth_basis: 0,
            ..VitalsConfig::default()
        };
        let mut e = VitalsEstimator::new(&cfg, &[0; 8], 0);
        let mut out: Vec<VitalSigns> = Vec::new();
        let mut x = [0f32; 9];
        let mut seed = 1u32;
        for t in times {
            for (i, v) in x.iter_mut().enumerate() {
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let noise = (seed >> 8) as f32 / (1 << 24) as f32 - 0.5;
                let breath = (std::f64::consts::TAU * 0.25 * t).sin() as f32;
                let tilt = if t >= shift_at {
                    0.3 * (i as f32 / 8.0 - 0.5)
                } else {
                    0.0
                };
                *v = 1.0 + 0.01 * breath * (i as f32 + 1.0) + 0.002 * noise + tilt;
            }
            e.push((t * 1e9) as i64, &x, moving(t), &mut out);
        }
        out
    }

    #[test]
    fn a_frame_rate_below_the_band_says_so_for_both_rates() {
        // 1 frame per second cannot sample a breathing band reaching 40 /min: neither
        // "nobody there" nor "not distinct" can be told.
        let v = estimates((0..60).map(f64::from), |_| false);
        let late: Vec<_> = v.iter().filter(|v| v.window_s >= 20.0).collect();
        assert!(!late.is_empty(), "{v:?}");
        for v in late {
            assert_eq!(
                v.breathing.reason,
                Some(NoEstimate::FrameRateTooLow),
                "{v:?}"
            );
            assert_eq!(v.heart.reason, Some(NoEstimate::FrameRateTooLow), "{v:?}");
        }
    }

    fn frames(from_s: f64, to_s: f64) -> impl Iterator<Item = f64> {
        (0..((to_s - from_s) * 50.0) as usize).map(move |i| from_s + i as f64 / 50.0)
    }

    #[test]
    fn a_young_window_is_too_short_not_motion() {
        // A 1 s fidget at 2 s (bridged: it stays in the window) and a 4 s motion run at 6 s
        // (it cuts the window): before 20 s of signal the window is short whatever moved.
        let r = reasons(frames(0.0, 50.0), |t| {
            (2.0..3.0).contains(&t) || (6.0..10.0).contains(&t) || (35.0..45.0).contains(&t)
        });
        all_say(&r, |t| t < 20.0, 3, NoEstimate::WindowTooShort);
        // After the run at 35-45 s, the window without it would be long: motion is the cause.
        all_say(&r, |t| t > 40.0, 1, NoEstimate::Motion);
    }

    #[test]
    fn a_motion_run_over_1_s_restarts_the_window() {
        // A 1.5 s run at 25 s (a person sitting down or turning) cuts the window: at 40-44 s
        // only 13-17 s follow it. A 0.5 s run (a twitch, a missed gain step) stays in it, and
        // the breath of the synthetic frames (15 /min) is estimated over the whole window.
        let cut = estimates(frames(0.0, 45.0), |t| (25.0..26.5).contains(&t));
        let late = |v: &&VitalSigns| v.window_end_ns > 39_900_000_000;
        assert!(cut.iter().filter(late).count() >= 1, "{cut:?}");
        for v in cut.iter().filter(late) {
            assert_eq!(v.breathing.reason, Some(NoEstimate::Motion), "{v:?}");
            assert!(v.window_start_ns >= 26_500_000_000, "{v:?}");
        }
        let kept = estimates(frames(0.0, 45.0), |t| (25.0..25.5).contains(&t));
        for v in kept.iter().filter(late) {
            let r = v
                .breathing
                .rate_per_min
                .expect("an estimate over the whole window");
            assert!((r - 15.0).abs() < 0.5, "{v:?}");
            assert!(v.window_s > 39.0, "{v:?}");
        }
    }

    #[test]
    fn a_short_motion_run_across_which_the_shape_moved_restarts_the_window() {
        // A 0.6 s run at 25 s: bridged when the shape is the same on both sides (a twitch, a
        // missed gain step), a cut when it moved to another level (a person who sat down).
        let run = |t: f64| (25.0..25.6).contains(&t);
        let late = |v: &&VitalSigns| v.window_end_ns > 39_900_000_000;
        let same = estimates_shifted(frames(0.0, 45.0), run, f64::INFINITY);
        assert!(same.iter().filter(late).count() >= 1);
        for v in same.iter().filter(late) {
            assert!(
                v.breathing.rate_per_min.is_some() && v.window_s > 39.0,
                "{v:?}"
            );
        }
        let moved = estimates_shifted(frames(0.0, 45.0), run, 25.3);
        assert!(moved.iter().filter(late).count() >= 1);
        for v in moved.iter().filter(late) {
            assert_eq!(v.breathing.reason, Some(NoEstimate::Motion), "{v:?}");
            assert!(v.window_start_ns >= 25_600_000_000, "{v:?}");
        }
    }

    /// At least `least` of the estimates at times `when` and all of them say `why`.
    fn all_say(
        r: &[(f64, Option<NoEstimate>)],
        when: impl Fn(f64) -> bool,
        least: usize,
        why: NoEstimate,
    ) {
        let picked: Vec<_> = r.iter().filter(|(t, _)| when(*t)).collect();
        assert!(picked.len() >= least, "{r:?}");
        assert!(picked.iter().all(|(_, w)| *w == Some(why)), "{r:?}");
    }

    /// While a long motion run covers everything since its cut, no motion-free signal is
    /// left: the record says motion over the window the run fills (there were records of 0
    /// frames over 0 s at 0 Hz, the last ones at the end of a stream that ended moving).
    #[test]
    fn a_window_motion_fills_is_reported_whole() {
        let v = estimates(frames(0.0, 60.0), |t| t >= 30.0);
        let at = |r: &VitalSigns| (r.window_end_ns as f64 * 1e-9).round() as i64;
        let times: Vec<i64> = v.iter().map(at).collect();
        assert_eq!(times, [5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55], "{v:?}");
        for r in &v {
            assert!(
                r.frames > 0 && r.window_s > 0.0 && r.frame_rate_hz > 0.0,
                "a record of an empty window: {r:?}"
            );
            assert!(r.window_start_ns < r.window_end_ns, "{r:?}");
            let rate = r.frames as f64 / r.window_s;
            assert!((rate - 50.0).abs() < 2.0, "{r:?}");
        }
        for r in v.iter().filter(|r| at(r) >= 35) {
            // the run started 5 s or more before: the window examined is the whole one
            assert_eq!(r.breathing.reason, Some(NoEstimate::Motion), "{r:?}");
            assert_eq!(r.breathing.rate_per_min, None, "{r:?}");
            assert_eq!(r.window_start_ns, 0, "{r:?}");
        }
    }

    #[test]
    fn a_window_after_a_long_gap_is_too_short_not_motion() {
        // Motion right before a gap longer than the window: the estimator starts over after
        // it, and the short window is the cause, not the motion before the gap.
        let times = frames(0.0, 30.0).chain(frames(100.0, 115.0));
        let r = reasons(times, |t| (20.0..30.0).contains(&t));
        all_say(&r, |t| t > 100.0, 2, NoEstimate::WindowTooShort);
    }

    fn dot(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    #[test]
    fn smooth_basis_is_orthonormal_per_link() {
        // two links of 10 groups each, 3 functions per link
        let link: Vec<usize> = (0..20).map(|g| g / 10).collect();
        let (b, rows) = smooth_basis(&link, 3);
        assert_eq!(rows, 6);
        let r: Vec<&[f32]> = b.chunks_exact(20).collect();
        for i in 0..rows {
            for j in 0..rows {
                let want = if i == j { 1.0 } else { 0.0 };
                assert!((dot(r[i], r[j]) - want).abs() < 1e-5, "rows {i} {j}");
            }
            // each function lives on one link
            let on_first = r[i][..10].iter().any(|v| *v != 0.0);
            let on_second = r[i][10..].iter().any(|v| *v != 0.0);
            assert!(on_first != on_second, "row {i}");
        }
        // the first function of a link is its mean, the second a half cosine
        assert!(r[0][..10].iter().all(|v| (v - r[0][0]).abs() < 1e-6));
        assert!(r[1][0] > 0.0 && r[1][9] < 0.0);
    }

    #[test]
    fn smooth_basis_is_off_when_it_would_only_rotate() {
        // six links of 4 groups (the Intel 5300's 23 groups) with 4 functions: nothing gained
        let link: Vec<usize> = (0..24).map(|g| g / 4).collect();
        assert_eq!(smooth_basis(&link, 4), (Vec::new(), 0));
        assert_eq!(smooth_basis(&[0; 23], 0), (Vec::new(), 0));
        assert_eq!(smooth_basis(&[0; 23], 4).1, 4);
    }
}
