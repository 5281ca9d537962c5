//! Biquad IIR filters: design (RBJ cookbook / bilinear transform, Butterworth cascades),
//! second-order-section (SOS) cascades, streaming filtering and offline zero-phase filtering.
//!
//! Sections use the same coefficient layout as scipy's `sos` arrays, `[b0, b1, b2, a0, a1, a2]`
//! with `a0 = 1`, and filter in transposed direct form II like `scipy.signal.sosfilt`, so the
//! same coefficients give the same output (checked by `benches/compare/dsp.py`).
//! [`sosfiltfilt`] pads and initialises like `scipy.signal.sosfiltfilt` (odd extension,
//! steady-state initial conditions).
//!
//! On one long signal (4096 samples or more, a stable cascade of up to 8 sections) [`sosfilt`] and
//! [`sosfiltfilt`] are segment-parallel: the signal is cut into segments filtered at once in
//! SIMD lanes, and each later segment is corrected by the cascade's decaying zero-input response
//! from the previous segment's true final state. The result is the same filter (a property test
//! compares it with the plain recursion), several times faster than one latency-bound recursion.
//!
//! Cut-off frequencies are in Hz and need the sampling rate in Hz; in a pipeline, that is the
//! node's *measured* rate ([`crate::rate`]).
//!
//! ```
//! use wifi_sensing_signal::biquad::{Sos, sosfilt};
//! // 4th-order Butterworth low-pass at 2 Hz for a stream measured at 100 Hz
//! let sos = Sos::butter_lowpass(4, 2.0, 100.0)?;
//! let x: Vec<f64> = (0..500).map(|i| (2.0 * std::f64::consts::PI * 20.0 * i as f64 / 100.0).sin() + 1.0).collect();
//! let y = sosfilt(&sos, &x);
//! assert!((y[499] - 1.0).abs() < 0.01); // 20 Hz removed, DC kept
//! # Ok::<(), wifi_sensing_signal::SignalError>(())
//! ```

use serde::{Deserialize, Serialize};

use crate::error::{Result, SignalError};

/// One second-order section, `[b0, b1, b2, 1, a1, a2]` (scipy's `sos` row layout).
pub type Section = [f64; 6];

/// A cascade of second-order sections.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sos {
    /// The sections, applied in order.
    pub sections: Vec<Section>,
}

fn check_freq(component: &'static str, param: &'static str, f: f64, fs: f64) -> Result<()> {
    if !(fs.is_finite() && fs > 0.0) {
        return Err(SignalError::param(
            component,
            "fs",
            fs,
            "a finite sampling rate > 0 Hz",
        ));
    }
    if !(f.is_finite() && f > 0.0 && f < fs / 2.0) {
        return Err(SignalError::param(
            component,
            param,
            f,
            format!("0 < f < fs/2 = {} Hz", fs / 2.0),
        ));
    }
    Ok(())
}

fn check_q(component: &'static str, q: f64) -> Result<()> {
    if !(q.is_finite() && q > 0.0 && q <= 1000.0) {
        return Err(SignalError::param(component, "q", q, "0 < q <= 1000"));
    }
    Ok(())
}

fn check_order(component: &'static str, order: usize) -> Result<()> {
    if !(1..=16).contains(&order) {
        return Err(SignalError::param(component, "order", order, "1..=16"));
    }
    Ok(())
}

fn normalise(b: [f64; 3], a: [f64; 3]) -> Section {
    [
        b[0] / a[0],
        b[1] / a[0],
        b[2] / a[0],
        1.0,
        a[1] / a[0],
        a[2] / a[0],
    ]
}

/// Checks the parameters and returns `(cos w0, alpha)` of the RBJ cookbook.
fn rbj(component: &'static str, f0: f64, q: f64, fs: f64) -> Result<(f64, f64)> {
    check_freq(component, "f0", f0, fs)?;
    check_q(component, q)?;
    let (s, c) = (2.0 * std::f64::consts::PI * f0 / fs).sin_cos();
    Ok((c, s / (2.0 * q)))
}

/// RBJ-cookbook low-pass biquad at `f0` Hz with quality `q` (0.7071 = Butterworth).
pub fn lowpass(f0: f64, q: f64, fs: f64) -> Result<Section> {
    let (c, alpha) = rbj("lowpass", f0, q, fs)?;
    Ok(normalise(
        [(1.0 - c) / 2.0, 1.0 - c, (1.0 - c) / 2.0],
        [1.0 + alpha, -2.0 * c, 1.0 - alpha],
    ))
}

/// RBJ-cookbook high-pass biquad at `f0` Hz with quality `q`.
pub fn highpass(f0: f64, q: f64, fs: f64) -> Result<Section> {
    let (c, alpha) = rbj("highpass", f0, q, fs)?;
    Ok(normalise(
        [(1.0 + c) / 2.0, -(1.0 + c), (1.0 + c) / 2.0],
        [1.0 + alpha, -2.0 * c, 1.0 - alpha],
    ))
}

/// RBJ-cookbook band-pass biquad centred on `f0` Hz with 0 dB peak gain and quality `q`
/// (bandwidth ≈ `f0 / q`).
pub fn bandpass(f0: f64, q: f64, fs: f64) -> Result<Section> {
    let (c, alpha) = rbj("bandpass", f0, q, fs)?;
    Ok(normalise(
        [alpha, 0.0, -alpha],
        [1.0 + alpha, -2.0 * c, 1.0 - alpha],
    ))
}

/// First-order Butterworth section (bilinear transform, pre-warped at `fc`), as a biquad
/// with `b2 = a2 = 0`.
fn first_order(fc: f64, fs: f64, high: bool) -> Section {
    let k = (std::f64::consts::PI * fc / fs).tan();
    let a0 = k + 1.0;
    let a1 = (k - 1.0) / a0;
    if high {
        [1.0 / a0, -1.0 / a0, 0.0, 1.0, a1, 0.0]
    } else {
        [k / a0, k / a0, 0.0, 1.0, a1, 0.0]
    }
}

fn butter(
    component: &'static str,
    order: usize,
    fc: f64,
    fs: f64,
    high: bool,
) -> Result<Vec<Section>> {
    check_order(component, order)?;
    check_freq(component, "fc", fc, fs)?;
    let mut v = Vec::with_capacity(order.div_ceil(2));
    for k in 0..order / 2 {
        // pole angle from the negative real axis
        let theta = if order.is_multiple_of(2) {
            (2 * k + 1) as f64 * std::f64::consts::PI / (2 * order) as f64
        } else {
            (k + 1) as f64 * std::f64::consts::PI / order as f64
        };
        let q = 1.0 / (2.0 * theta.cos());
        v.push(if high {
            highpass(fc, q, fs)?
        } else {
            lowpass(fc, q, fs)?
        });
    }
    if order % 2 == 1 {
        v.push(first_order(fc, fs, high));
    }
    Ok(v)
}

impl Sos {
    /// A cascade of the given sections (each normalised so `a0 = 1`). Refuses `a0 = 0` and
    /// non-finite coefficients.
    pub fn new(sections: Vec<Section>) -> Result<Self> {
        let mut out = Vec::with_capacity(sections.len());
        for s in sections {
            if s.iter().any(|c| !c.is_finite()) || s[3] == 0.0 {
                return Err(SignalError::param(
                    "sos",
                    "section",
                    format!("{s:?}"),
                    "finite coefficients with a0 != 0",
                ));
            }
            out.push(normalise([s[0], s[1], s[2]], [s[3], s[4], s[5]]));
        }
        Ok(Sos { sections: out })
    }

    /// Butterworth low-pass of `order` (1..=16) at `fc` Hz (−3 dB), sampling rate `fs` Hz.
    /// Same poles as `scipy.signal.butter(order, fc, fs=fs, output="sos")`.
    pub fn butter_lowpass(order: usize, fc: f64, fs: f64) -> Result<Self> {
        Ok(Sos {
            sections: butter("butter_lowpass", order, fc, fs, false)?,
        })
    }

    /// Butterworth high-pass of `order` (1..=16) at `fc` Hz (−3 dB).
    pub fn butter_highpass(order: usize, fc: f64, fs: f64) -> Result<Self> {
        Ok(Sos {
            sections: butter("butter_highpass", order, fc, fs, true)?,
        })
    }

    /// Band-pass from `low` to `high` Hz: a Butterworth high-pass at `low` cascaded with a
    /// Butterworth low-pass at `high`, each of `order`. (This is not scipy's band-pass
    /// transform of `butter(.., btype="band")`; for bands wider than an octave the two agree
    /// closely.)
    pub fn butter_bandpass(order: usize, low: f64, high: f64, fs: f64) -> Result<Self> {
        check_freq("butter_bandpass", "low", low, fs)?;
        check_freq("butter_bandpass", "high", high, fs)?;
        if low >= high {
            return Err(SignalError::param(
                "butter_bandpass",
                "low",
                low,
                format!("low < high = {high} Hz"),
            ));
        }
        let mut s = butter("butter_bandpass", order, low, fs, true)?;
        s.extend(butter("butter_bandpass", order, high, fs, false)?);
        Ok(Sos { sections: s })
    }

    /// Number of sections.
    pub fn len(&self) -> usize {
        self.sections.len()
    }

    /// `true` with no sections (an identity filter).
    pub fn is_empty(&self) -> bool {
        self.sections.is_empty()
    }

    /// `true` when every section's poles lie strictly inside the unit circle.
    pub fn is_stable(&self) -> bool {
        self.sections.iter().all(|s| {
            let (a1, a2) = (s[4], s[5]);
            // Jury conditions for z^2 + a1 z + a2
            a2.abs() < 1.0 && a1.abs() < 1.0 + a2
        })
    }

    /// Complex frequency response magnitude at `f` Hz for sampling rate `fs`.
    pub fn gain_at(&self, f: f64, fs: f64) -> f64 {
        let w = 2.0 * std::f64::consts::PI * f / fs;
        let z1 = num_complex::Complex64::from_polar(1.0, -w);
        let z2 = z1 * z1;
        self.sections
            .iter()
            .map(|s| ((s[0] + s[1] * z1 + s[2] * z2) / (s[3] + s[4] * z1 + s[5] * z2)).norm())
            .product()
    }

    /// Steady-state initial conditions for a unit step, per section (scipy's `sosfilt_zi`).
    pub fn zi(&self) -> Vec<[f64; 2]> {
        let mut scale = 1.0;
        self.sections
            .iter()
            .map(|s| {
                let (b0, b1, b2, a1, a2) = (s[0], s[1], s[2], s[4], s[5]);
                let det = 1.0 + a1 + a2;
                let bb0 = b1 - a1 * b0;
                let bb1 = b2 - a2 * b0;
                let z = if det.abs() < 1e-300 {
                    [0.0, 0.0]
                } else {
                    [(bb0 + bb1) / det, ((1.0 + a1) * bb1 - a2 * bb0) / det]
                };
                let out = [scale * z[0], scale * z[1]];
                let asum = 1.0 + a1 + a2;
                if asum.abs() > 1e-300 {
                    scale *= (b0 + b1 + b2) / asum;
                }
                out
            })
            .collect()
    }
}

/// Streaming SOS filter over `channels` independent channels (e.g. every subcarrier of a
/// node), transposed direct form II. No allocation per sample.
///
/// The state is laid out section by section with the channels contiguous, so one sample of all
/// channels runs as a loop over channels per section (independent work the compiler vectorises)
/// instead of one latency-bound recursion per channel.
///
/// ```
/// use wifi_sensing_signal::biquad::{Sos, SosState};
/// let sos = Sos::butter_highpass(2, 0.5, 50.0)?;
/// let mut st = SosState::new(sos, 2);
/// let mut frame = [1.0, -1.0];
/// st.process(&mut frame);
/// # Ok::<(), wifi_sensing_signal::SignalError>(())
/// ```
#[derive(Clone, Debug)]
pub struct SosState {
    sos: Sos,
    channels: usize,
    // [section][z0 | z1][channel]
    z: Vec<f64>,
    zi: Vec<[f64; 2]>,
    primed: bool,
    steady_start: bool,
}

impl SosState {
    /// Zeroed state for `channels` channels. The first sample primes each channel with the
    /// steady-state response to a constant input (no start-up transient); see
    /// [`SosState::zero_start`] to start from rest instead.
    pub fn new(sos: Sos, channels: usize) -> Self {
        let zi = sos.zi();
        let n = sos.len() * channels * 2;
        SosState {
            sos,
            channels,
            z: vec![0.0; n],
            zi,
            primed: false,
            steady_start: true,
        }
    }

    /// Starts from rest (zero state), like `sosfilt` without `zi`.
    pub fn zero_start(mut self) -> Self {
        self.steady_start = false;
        self
    }

    /// The filter.
    pub fn sos(&self) -> &Sos {
        &self.sos
    }

    /// Number of channels.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Filters one sample of every channel in place. `x.len()` must equal
    /// [`SosState::channels`]; extra values are left as they are.
    pub fn process(&mut self, x: &mut [f64]) {
        let ch = self.channels.min(x.len());
        let x = &mut x[..ch];
        let c = self.channels;
        if !self.primed {
            self.primed = true;
            if self.steady_start {
                for (k, zi) in self.zi.iter().enumerate() {
                    let (z0, z1) = self.z[2 * k * c..2 * (k + 1) * c].split_at_mut(c);
                    for ((a, b), &x0) in z0.iter_mut().zip(z1.iter_mut()).zip(x.iter()) {
                        *a = zi[0] * x0;
                        *b = zi[1] * x0;
                    }
                }
            }
        }
        for (k, sec) in self.sos.sections.iter().enumerate() {
            let (z0, z1) = self.z[2 * k * c..2 * (k + 1) * c].split_at_mut(c);
            let [b0, b1, b2, _, a1, a2] = *sec;
            for ((v, a), b) in x.iter_mut().zip(z0.iter_mut()).zip(z1.iter_mut()) {
                let xv = *v;
                let y = b0 * xv + *a;
                *a = b1 * xv - a1 * y + *b;
                *b = b2 * xv - a2 * y;
                *v = y;
            }
        }
        // A non-finite input would poison the state for ever: reset that channel.
        if !x.iter().all(|v| v.is_finite()) {
            for (ci, v) in x.iter().enumerate() {
                if !v.is_finite() {
                    for k in 0..2 * self.sos.len() {
                        self.z[k * c + ci] = 0.0;
                    }
                }
            }
        }
    }

    /// Forgets the state (the next sample primes it again).
    pub fn reset(&mut self) {
        self.z.iter_mut().for_each(|z| *z = 0.0);
        self.primed = false;
    }
}

#[inline(always)]
fn step(s: &Section, z: &mut [f64; 2], x: f64) -> f64 {
    let y = s[0] * x + z[0];
    z[0] = s[1] * x - s[4] * y + z[1];
    z[1] = s[2] * x - s[5] * y;
    y
}

/// Sample-outer loop with the sections unrolled and their state in registers: the sections
/// of one sample overlap in the pipeline, so the cost per sample is about one section's
/// recursion latency instead of the sum over sections.
fn run_n<const N: usize>(secs: &[Section], x: &mut [f64], z: &mut [[f64; 2]]) {
    let (Ok(secs), Ok(zs)) = (
        <&[Section; N]>::try_from(secs),
        <&mut [[f64; 2]; N]>::try_from(&mut z[..]),
    ) else {
        return run_generic(secs, x, z);
    };
    let mut st = *zs;
    for v in x.iter_mut() {
        let mut s = *v;
        for k in 0..N {
            s = step(&secs[k], &mut st[k], s);
        }
        *v = s;
    }
    *zs = st;
}

fn run_generic(secs: &[Section], x: &mut [f64], z: &mut [[f64; 2]]) {
    for (sec, zz) in secs.iter().zip(z.iter_mut()) {
        for v in x.iter_mut() {
            *v = step(sec, zz, *v);
        }
    }
}

/// Serial cascade over `x` in place, from (and updating) the state `z`: the straightforward
/// transposed direct form II recursion, with the sections unrolled for up to 8 sections.
fn run_serial(secs: &[Section], x: &mut [f64], z: &mut [[f64; 2]]) {
    match secs.len() {
        1 => run_n::<1>(secs, x, z),
        2 => run_n::<2>(secs, x, z),
        3 => run_n::<3>(secs, x, z),
        4 => run_n::<4>(secs, x, z),
        5 => run_n::<5>(secs, x, z),
        6 => run_n::<6>(secs, x, z),
        7 => run_n::<7>(secs, x, z),
        8 => run_n::<8>(secs, x, z),
        _ => run_generic(secs, x, z),
    }
}

// ---------------------------------------------------------------------------------------------
// Segment-parallel 1-D filtering.
//
// A recursive filter over one long signal is latency bound: every output waits for the previous
// one (about 9 cycles per sample per section for transposed direct form II), whatever the
// hardware's width. The signal is therefore cut into `LANES` equal segments filtered at the same
// time, one segment per lane of a `[f64; LANES]` vector (so every operation is a vector operation
// over independent recursions, which the compiler maps to SIMD):
//
// 1. segment 0 starts from the caller's state, the others from rest (zero state);
// 2. by linearity, the true output of segment p is its zero-state output plus the response of the
//    cascade to zero input started from the true state at the segment's start (the "homogeneous"
//    correction), and that true state is the previous segment's true final state;
// 3. for a stable filter the correction decays geometrically, so it is run (again on all lanes at
//    once) only until its state has fallen below 2^-80 of where it started, which bounds what it
//    still owes to later outputs far below rounding error; a correction that reaches the end of
//    its segment without decaying hands its final state on to the next segment (another round),
//    so the result is exact in exact arithmetic whatever the filter;
// 4. the few samples after the last whole segment run serially from the true final state.
//
// `tests::parallel_equals_serial` checks the result against `run_serial` for random filters,
// lengths and initial states.
// ---------------------------------------------------------------------------------------------

/// Segments filtered at once: two pairs of SIMD lanes (`wide::f64x2`, plain SSE2 on x86-64).
const LANES: usize = 4;
/// Rows (samples of every segment) per block; the state is checked for decay between blocks.
const BLOCK: usize = 64;
/// Signals shorter than this run serially.
const PARALLEL_MIN: usize = 4096;
/// A correction is dropped once its largest state is below this fraction of its initial one.
const DECAYED: f64 = 8.271806125530277e-25; // 2^-80

type Lanes = [f64; LANES];

/// Per-section state of all lanes: `[section][z0 | z1][lane]`.
type LaneState<const K: usize> = [[Lanes; 2]; K];

/// The cascade with every numerator divided by its `b0` (monic sections) and the product of the
/// `b0`s applied once to the output. Section `k`'s state is then the original state divided
/// by `scale[k]`, the product of `b0` over sections `0..=k`.
struct Monic<const K: usize> {
    /// Per section `[b1/b0 - a1, b2/b0 - a2, a1, a2]`.
    coef: [[f64; 4]; K],
    gain: f64,
    scale: [f64; K],
}

impl<const K: usize> Monic<K> {
    /// `None` when a `b0` is zero or the running products leave a safe range (the serial path
    /// then runs instead).
    fn new(secs: &[Section; K]) -> Option<Self> {
        let mut p = 1.0f64;
        let mut scale = [0.0; K];
        for (sc, s) in scale.iter_mut().zip(secs) {
            p *= s[0];
            if !(1e-100..=1e100).contains(&p.abs()) {
                return None;
            }
            *sc = p;
        }
        let coef = secs.map(|[b0, b1, b2, _, a1, a2]| [b1 / b0 - a1, b2 / b0 - a2, a1, a2]);
        coef.iter()
            .flatten()
            .all(|c| c.is_finite())
            .then_some(Monic {
                coef,
                gain: p,
                scale,
            })
    }
}

/// Runs the cascade over rows `i0..i0 + len` of every lane (lane `l` is `x[l * seg..][..seg]`),
/// the state kept in `st`. With `ADD`, the input is zero and the output is added to `x` (the
/// zero-input response); otherwise the output replaces the input.
///
/// The sections are the monic ones of [`Monic`], and the state update is written from the old
/// state (`z0' = (b1 - a1) x - a1 z0 + z1`, ...) rather than through the output as in scipy's
/// loop: the same filter, four multiplies per section and sample instead of five, and a
/// loop-carried chain of one multiply and one add.
///
/// With `REV` the signal is `x` read backwards (time runs from the end of `x` to its start):
/// lane `l` is then the `l`-th segment from the end, so a backward pass needs no reversed copy.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn lanes_rows<const K: usize, const ADD: bool, const REV: bool, O: QuadOps>(
    o: O,
    m: &Monic<K>,
    src: Option<&[f64]>,
    x: &mut [f64],
    seg: usize,
    i0: usize,
    len: usize,
    st: &mut LaneState<K>,
) {
    let mut it = x.chunks_exact_mut(seg);
    let (Some(l0), Some(l1), Some(l2), Some(l3)) = (it.next(), it.next(), it.next(), it.next())
    else {
        return; // unreachable: `x` holds LANES segments
    };
    let r = if REV {
        seg - i0 - len..seg - i0
    } else {
        i0..i0 + len
    };
    let (l0, l1, l2, l3) = if REV {
        (l3, l2, l1, l0)
    } else {
        (l0, l1, l2, l3)
    };
    let (l0, l1) = (&mut l0[r.clone()], &mut l1[r.clone()]);
    let (l2, l3) = (&mut l2[r.clone()], &mut l3[r.clone()]);
    // the input lanes, when read from `src` (same layout as `x`) rather than in place
    let inp: Option<[&[f64]; 4]> = src.and_then(|s| {
        let mut it = s.chunks_exact(seg).map(|l| &l[r.clone()]);
        let l = [it.next()?, it.next()?, it.next()?, it.next()?];
        Some(if REV { [l[3], l[2], l[1], l[0]] } else { l })
    });
    // (plain loops rather than `array::map`, which is not always inlined into the dispatched
    // kernel and would then cost a call and a store-forwarding stall per block)
    let zero = o.splat(0.0);
    let mut k = Kernel {
        o,
        coef: [[zero; 4]; K],
        gain: o.splat(m.gain),
    };
    for (kc, mc) in k.coef.iter_mut().zip(&m.coef) {
        for (v, c) in kc.iter_mut().zip(mc) {
            *v = o.splat(*c);
        }
    }
    // [section][z0 | z1], all four lanes in one vector (or pair of vectors)
    let mut s = [[zero; 2]; K];
    for (v, zz) in s.iter_mut().zip(st.iter()) {
        *v = [o.load(zz[0]), o.load(zz[1])];
    }
    // four rows at a time (with `REV` from the end), then the rows left over (with `REV` at
    // the start of the range, last in time)
    let quads = len / 4;
    for q in 0..quads {
        let r = if REV {
            len - 4 * (q + 1)..len - 4 * q
        } else {
            4 * q..4 * q + 4
        };
        let i = inp.map(|l| {
            [
                &l[0][r.clone()],
                &l[1][r.clone()],
                &l[2][r.clone()],
                &l[3][r.clone()],
            ]
        });
        let out = [
            &mut l0[r.clone()],
            &mut l1[r.clone()],
            &mut l2[r.clone()],
            &mut l3[r],
        ];
        k.quad::<ADD, REV>(&mut s, i, out);
    }
    let left = len - 4 * quads;
    for j in 0..left {
        let j = if REV { left - 1 - j } else { 4 * quads + j };
        let xin = match inp {
            Some(l) => [l[0][j], l[1][j], l[2][j], l[3][j]],
            None => [l0[j], l1[j], l2[j], l3[j]],
        };
        k.row::<ADD>(
            &mut s,
            xin,
            [&mut l0[j], &mut l1[j], &mut l2[j], &mut l3[j]],
        );
    }
    for (zz, v) in st.iter_mut().zip(&s) {
        *zz = [o.store(v[0]), o.store(v[1])];
    }
}

/// The monic cascade's coefficients and gain splatted into `O`'s vectors. Its steps are plain
/// functions marked `inline(always)` (not closures), so that they are compiled into the
/// dispatched kernel with its instruction set.
struct Kernel<const K: usize, O: QuadOps> {
    o: O,
    coef: [[O::V; 4]; K],
    gain: O::V,
}

impl<const K: usize, O: QuadOps> Kernel<K, O> {
    /// One row (one sample of every lane) through the cascade.
    #[inline(always)]
    fn step(&self, s: &mut [[O::V; 2]; K], mut v: O::V) -> O::V {
        let o = self.o;
        for (cf, z) in self.coef.iter().zip(s.iter_mut()) {
            let [c1, c2, a1, a2] = *cf;
            let [z0, z1] = z;
            let (xv, old) = (v, *z0);
            v = o.add(xv, old);
            *z0 = o.neg_mul_add(a1, old, o.mul_add(c1, xv, *z1));
            *z1 = o.neg_mul_add(a2, old, o.mul(c2, xv));
        }
        o.mul(v, self.gain)
    }

    /// Four rows at a time: four consecutive samples of each lane (`l[i]`, at least four long)
    /// loaded as one vector and transposed into rows, and the outputs back, instead of
    /// gathering one sample per lane. With `REV` time runs from the fourth sample to the first.
    #[inline(always)]
    fn quad<const ADD: bool, const REV: bool>(
        &self,
        s: &mut [[O::V; 2]; K],
        inp: Option<[&[f64]; 4]>,
        l: [&mut [f64]; 4],
    ) {
        let o = self.o;
        let rows = match (ADD, inp) {
            (true, _) => [o.splat(0.0); 4],
            (false, Some(i)) => {
                o.transpose([o.load4(i[0]), o.load4(i[1]), o.load4(i[2]), o.load4(i[3])])
            }
            (false, None) => {
                o.transpose([o.load4(l[0]), o.load4(l[1]), o.load4(l[2]), o.load4(l[3])])
            }
        };
        let mut y = rows;
        for i in if REV { [3, 2, 1, 0] } else { [0, 1, 2, 3] } {
            y[i] = self.step(s, rows[i]);
        }
        let y = o.transpose(y);
        for (dst, v) in l.into_iter().zip(y) {
            let v = if ADD { o.add(o.load4(dst), v) } else { v };
            o.store4(v, dst);
        }
    }

    /// One row: one sample of each lane, input `x` (ignored with `ADD`).
    #[inline(always)]
    fn row<const ADD: bool>(&self, s: &mut [[O::V; 2]; K], x: Lanes, l: [&mut f64; 4]) {
        let o = self.o;
        let [a, b, c, d] = l;
        let x = if ADD { [0.0; LANES] } else { x };
        let y = o.store(self.step(s, o.load(x)));
        if ADD {
            *a += y[0];
            *b += y[1];
            *c += y[2];
            *d += y[3];
        } else {
            (*a, *b, *c, *d) = (y[0], y[1], y[2], y[3]);
        }
    }
}

/// [`run_parallel`] as an operation for `pulp`'s run-time dispatch (everything inlined into it,
/// so compiled with the dispatched instruction set).
struct Parallel<'a, const K: usize, const REV: bool, O: QuadOps> {
    o: O,
    secs: &'a [Section; K],
    src: Option<&'a [f64]>,
    x: &'a mut [f64],
    z: &'a mut [[f64; 2]; K],
}

impl<const K: usize, const REV: bool, O: QuadOps> pulp::WithSimd for Parallel<'_, K, REV, O> {
    type Output = ();
    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) {
        run_parallel::<K, REV, O>(self.o, self.secs, self.src, self.x, self.z)
    }
}

/// Largest |state| of each lane.
fn lane_norms<const K: usize>(st: &LaneState<K>) -> Lanes {
    let mut m: Lanes = [0.0; LANES];
    for z in st.iter().flatten() {
        for (m, v) in m.iter_mut().zip(z) {
            // NaN-propagating max, so a NaN state never counts as decayed
            *m = if v.is_nan() || m.is_nan() {
                f64::NAN
            } else {
                m.max(v.abs())
            };
        }
    }
    m
}

/// Zero-state (or, for lane 0, caller-state) filtering of every segment: lane `l` covers
/// `x[l * seg..(l + 1) * seg]`. Leaves each lane's final state in `st`.
#[inline(always)]
fn lanes_filter<const K: usize, const REV: bool, O: QuadOps>(
    o: O,
    m: &Monic<K>,
    src: Option<&[f64]>,
    x: &mut [f64],
    seg: usize,
    st: &mut LaneState<K>,
) {
    let mut i0 = 0;
    while i0 < seg {
        let len = BLOCK.min(seg - i0);
        lanes_rows::<K, false, REV, O>(o, m, src, x, seg, i0, len, st);
        i0 += len;
    }
}

/// Adds to every segment the zero-input response of the cascade started from `st` (one state
/// per lane), until every lane's state has decayed below [`DECAYED`] of its start or the
/// segment ends. Returns `true` when the run reached the end of the segments, `st` then holding
/// the corrections' final states (otherwise they are negligible and `st` is left undefined).
#[inline(always)]
fn lanes_correct<const K: usize, const REV: bool, O: QuadOps>(
    o: O,
    m: &Monic<K>,
    x: &mut [f64],
    seg: usize,
    st: &mut LaneState<K>,
) -> bool {
    let limit = lane_norms(st).map(|m| m * DECAYED);
    let mut i0 = 0;
    while i0 < seg {
        let len = BLOCK.min(seg - i0);
        lanes_rows::<K, true, REV, O>(o, m, None, x, seg, i0, len, st);
        i0 += len;
        let now = lane_norms(st);
        if now.iter().zip(&limit).all(|(n, lim)| n <= lim) {
            return false;
        }
    }
    true
}

/// `x` = `src` when given (same length).
fn copy_in(src: Option<&[f64]>, x: &mut [f64]) {
    if let Some(s) = src {
        x.copy_from_slice(s);
    }
}

/// [`run_serial`] over `x` forwards, or with `rev` backwards (from its last sample to its
/// first).
fn run_serial_dir(secs: &[Section], x: &mut [f64], z: &mut [[f64; 2]], rev: bool) {
    if rev {
        x.reverse();
        run_serial(secs, x, z);
        x.reverse();
    } else {
        run_serial(secs, x, z);
    }
}

/// Segment-parallel filtering of `x` (length at least [`LANES`]) from the state `z`, which it
/// updates; equal to [`run_serial`] up to rounding. With `REV`, `x` is filtered backwards, as
/// if reversed, filtered and reversed back.
#[inline(always)]
fn run_parallel<const K: usize, const REV: bool, O: QuadOps>(
    o: O,
    secs: &[Section; K],
    src: Option<&[f64]>,
    x: &mut [f64],
    z: &mut [[f64; 2]; K],
) {
    let seg = x.len() / LANES;
    let m = Monic::new(secs);
    let (Some(m), true) = (m, seg > 0) else {
        copy_in(src, x);
        return run_serial_dir(secs, x, z, REV);
    };
    // the tail (the last few samples in time) is at the start of `x` when going backwards
    let cut = if REV {
        x.len() - seg * LANES
    } else {
        seg * LANES
    };
    let (lo, hi) = x.split_at_mut(cut);
    let (slo, shi) = src.map(|s| s.split_at(cut)).unzip();
    let (body, tail, sbody, stail) = if REV {
        (hi, lo, shi, slo)
    } else {
        (lo, hi, slo, shi)
    };
    // 1. every segment from rest, segment 0 from the caller's state
    let mut st: LaneState<K> = [[[0.0; LANES]; 2]; K];
    for ((s, zz), sc) in st.iter_mut().zip(z.iter()).zip(m.scale) {
        s[0][0] = zz[0] / sc;
        s[1][0] = zz[1] / sc;
    }
    lanes_filter::<K, REV, O>(o, &m, sbody, body, seg, &mut st);
    // final[l]: the true final state of segment l, known for l = 0 so far
    let mut fin: LaneState<K> = st;
    // 2./3. corrections: segment l + 1 owes the response to `owed[l]`, the part of segment l's
    // true final state not yet accounted for in segment l + 1's outputs
    let mut owed: LaneState<K> = [[[0.0; LANES]; 2]; K];
    for (o, f) in owed.iter_mut().zip(fin.iter()) {
        for (oo, ff) in o.iter_mut().zip(f) {
            // lane l + 1 starts from segment l's final state
            oo[1..].copy_from_slice(&ff[..LANES - 1]);
        }
    }
    loop {
        let mut c = owed;
        let reached_end = lanes_correct::<K, REV, O>(o, &m, body, seg, &mut c);
        if !reached_end {
            break;
        }
        // the corrections' final states add to each segment's final state and are owed in
        // turn by the next segment
        let mut more = false;
        for ((o, f), cc) in owed.iter_mut().zip(fin.iter_mut()).zip(c.iter()) {
            for ((oo, ff), ccc) in o.iter_mut().zip(f.iter_mut()).zip(cc) {
                for l in 1..LANES {
                    ff[l] += ccc[l];
                }
                oo[0] = 0.0;
                for l in 1..LANES {
                    oo[l] = ccc[l - 1];
                    more |= oo[l] != 0.0;
                }
                // lane 0 owes nothing: its own state was true from the start
                oo[1] = 0.0;
            }
        }
        if !more {
            break;
        }
    }
    // true final state of the last segment, then the tail
    for ((zz, f), sc) in z.iter_mut().zip(fin.iter()).zip(m.scale) {
        *zz = [f[0][LANES - 1] * sc, f[1][LANES - 1] * sc];
    }
    copy_in(stail, tail);
    run_serial_dir(secs, tail, z, REV);
}

/// Four-lane vector arithmetic of the segment-parallel filter.
trait QuadOps: Copy {
    type V: Copy;
    fn splat(self, v: f64) -> Self::V;
    fn load(self, v: Lanes) -> Self::V;
    fn store(self, v: Self::V) -> Lanes;
    /// The first four values of `s` (at least four long).
    #[inline(always)]
    fn load4(self, s: &[f64]) -> Self::V {
        self.load([s[0], s[1], s[2], s[3]])
    }
    /// `v` into the first four values of `s`.
    #[inline(always)]
    fn store4(self, v: Self::V, s: &mut [f64]) {
        s[..4].copy_from_slice(&self.store(v));
    }
    /// Four vectors as the rows of a 4x4 matrix, transposed.
    #[inline(always)]
    fn transpose(self, m: [Self::V; 4]) -> [Self::V; 4] {
        let m = [
            self.store(m[0]),
            self.store(m[1]),
            self.store(m[2]),
            self.store(m[3]),
        ];
        let col = |i: usize| self.load([m[0][i], m[1][i], m[2][i], m[3][i]]);
        [col(0), col(1), col(2), col(3)]
    }
    fn add(self, a: Self::V, b: Self::V) -> Self::V;
    fn mul(self, a: Self::V, b: Self::V) -> Self::V;
    /// `a·b + c` (fused where the instruction set has it)
    fn mul_add(self, a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    /// `c − a·b` (fused where the instruction set has it)
    fn neg_mul_add(self, a: Self::V, b: Self::V, c: Self::V) -> Self::V;
}

/// Portable: two SSE2 pairs (`wide::f64x2`), separate multiplies and adds.
#[derive(Clone, Copy)]
struct Sse2;

impl QuadOps for Sse2 {
    type V = [wide::f64x2; 2];
    #[inline(always)]
    fn splat(self, v: f64) -> Self::V {
        [wide::f64x2::splat(v); 2]
    }
    #[inline(always)]
    fn load(self, v: Lanes) -> Self::V {
        [
            wide::f64x2::new([v[0], v[1]]),
            wide::f64x2::new([v[2], v[3]]),
        ]
    }
    #[inline(always)]
    fn store(self, v: Self::V) -> Lanes {
        let ([a, b], [c, d]) = (v[0].to_array(), v[1].to_array());
        [a, b, c, d]
    }
    #[inline(always)]
    fn add(self, a: Self::V, b: Self::V) -> Self::V {
        [a[0] + b[0], a[1] + b[1]]
    }
    #[inline(always)]
    fn mul(self, a: Self::V, b: Self::V) -> Self::V {
        [a[0] * b[0], a[1] * b[1]]
    }
    #[inline(always)]
    fn mul_add(self, a: Self::V, b: Self::V, c: Self::V) -> Self::V {
        [a[0] * b[0] + c[0], a[1] * b[1] + c[1]]
    }
    #[inline(always)]
    fn neg_mul_add(self, a: Self::V, b: Self::V, c: Self::V) -> Self::V {
        [c[0] - a[0] * b[0], c[1] - a[1] * b[1]]
    }
}

/// AVX2 + FMA: the four lanes in one 256-bit vector, fused multiply-adds.
#[cfg(target_arch = "x86_64")]
impl QuadOps for pulp::x86::V3 {
    type V = pulp::f64x4;
    #[inline(always)]
    fn splat(self, v: f64) -> Self::V {
        self.splat_f64x4(v)
    }
    #[inline(always)]
    fn load(self, v: Lanes) -> Self::V {
        pulp::f64x4(v[0], v[1], v[2], v[3])
    }
    #[inline(always)]
    fn store(self, v: Self::V) -> Lanes {
        [v.0, v.1, v.2, v.3]
    }
    #[inline(always)]
    fn transpose(self, m: [Self::V; 4]) -> [Self::V; 4] {
        use std::arch::x86_64::__m256d;
        let c = pulp::cast::<Self::V, __m256d>;
        let [a, b, c, d] = [c(m[0]), c(m[1]), c(m[2]), c(m[3])];
        let avx = self.avx;
        // (a0 b0 a2 b2) (a1 b1 a3 b3) (c0 d0 c2 d2) (c1 d1 c3 d3)
        let (t0, t1) = (avx._mm256_unpacklo_pd(a, b), avx._mm256_unpackhi_pd(a, b));
        let (t2, t3) = (avx._mm256_unpacklo_pd(c, d), avx._mm256_unpackhi_pd(c, d));
        let c = pulp::cast::<__m256d, Self::V>;
        [
            c(avx._mm256_permute2f128_pd::<0x20>(t0, t2)),
            c(avx._mm256_permute2f128_pd::<0x20>(t1, t3)),
            c(avx._mm256_permute2f128_pd::<0x31>(t0, t2)),
            c(avx._mm256_permute2f128_pd::<0x31>(t1, t3)),
        ]
    }
    #[inline(always)]
    fn add(self, a: Self::V, b: Self::V) -> Self::V {
        self.add_f64x4(a, b)
    }
    #[inline(always)]
    fn mul(self, a: Self::V, b: Self::V) -> Self::V {
        self.mul_f64x4(a, b)
    }
    #[inline(always)]
    fn mul_add(self, a: Self::V, b: Self::V, c: Self::V) -> Self::V {
        self.mul_add_f64x4(a, b, c)
    }
    #[inline(always)]
    fn neg_mul_add(self, a: Self::V, b: Self::V, c: Self::V) -> Self::V {
        self.negate_mul_add_f64x4(a, b, c)
    }
}

#[cfg(test)]
thread_local! {
    /// Highest kernel level [`parallel_dispatch`] may pick on this thread (2 AVX-512, 1 AVX2 +
    /// FMA, 0 SSE2): tests lower it to run every kernel the CPU has, not only the best one.
    static MAX_LEVEL: std::cell::Cell<u8> = const { std::cell::Cell::new(2) };
}

/// The highest kernel level [`parallel_dispatch`] may pick (always the best outside tests).
#[cfg(target_arch = "x86_64")]
fn max_level() -> u8 {
    #[cfg(test)]
    {
        MAX_LEVEL.with(|c| c.get())
    }
    #[cfg(not(test))]
    {
        2
    }
}

/// [`run_parallel`] with the best four-lane arithmetic the CPU offers, chosen at run time:
/// AVX2 + FMA on x86-64 where present (`pulp`, which compiles the kernel with those features
/// enabled and checks the CPU for them), portable SSE2 otherwise.
fn parallel_dispatch<const K: usize, const REV: bool>(
    secs: &[Section; K],
    src: Option<&[f64]>,
    x: &mut [f64],
    z: &mut [[f64; 2]; K],
) {
    #[cfg(target_arch = "x86_64")]
    {
        let level = max_level();
        // with AVX-512 the same 256-bit kernel, compiled with its 32 vector registers (no
        // spills of the coefficients and states)
        if let Some(v4) = pulp::x86::V4::try_new().filter(|_| level >= 2) {
            let o = *v4;
            return pulp::Simd::vectorize(v4, Parallel::<K, REV, _> { o, secs, src, x, z });
        }
        if let Some(v3) = pulp::x86::V3::try_new().filter(|_| level >= 1) {
            return pulp::Simd::vectorize(
                v3,
                Parallel::<K, REV, _> {
                    o: v3,
                    secs,
                    src,
                    x,
                    z,
                },
            );
        }
    }
    run_parallel::<K, REV, _>(Sse2, secs, src, x, z)
}

/// Filters `x` in place from (and updating) the state `z`: segment-parallel for long signals
/// and stable cascades of up to 8 sections, serial otherwise.
fn run(sos: &Sos, x: &mut [f64], z: &mut [[f64; 2]]) {
    run_with::<false>(sos, None, x, z, PARALLEL_MIN)
}

/// [`run`] backwards: `x` filtered from its last sample to its first, in place (the backward
/// pass of [`sosfiltfilt`] without reversed copies).
fn run_backward(sos: &Sos, x: &mut [f64], z: &mut [[f64; 2]]) {
    run_with::<true>(sos, None, x, z, PARALLEL_MIN)
}

/// [`run`] (or with `REV` [`run_backward`]) with the length from which the segment-parallel
/// path is taken (tests force it).
fn run_with<const REV: bool>(
    sos: &Sos,
    src: Option<&[f64]>,
    x: &mut [f64],
    z: &mut [[f64; 2]],
    parallel_min: usize,
) {
    let s = &sos.sections[..];
    if x.len() < parallel_min || !sos.is_stable() {
        copy_in(src, x);
        return run_serial_dir(s, x, z, REV);
    }
    macro_rules! par {
        ($k:literal) => {
            match (
                <&[Section; $k]>::try_from(s),
                <&mut [[f64; 2]; $k]>::try_from(&mut z[..]),
            ) {
                (Ok(secs), Ok(zs)) => parallel_dispatch::<$k, REV>(secs, src, x, zs),
                _ => {
                    copy_in(src, x);
                    run_serial_dir(s, x, z, REV)
                }
            }
        };
    }
    match s.len() {
        1 => par!(1),
        2 => par!(2),
        3 => par!(3),
        4 => par!(4),
        5 => par!(5),
        6 => par!(6),
        7 => par!(7),
        8 => par!(8),
        _ => {
            copy_in(src, x);
            run_serial_dir(s, x, z, REV)
        }
    }
}

/// Filters every column of a `(time, channels)` matrix from rest, like
/// `scipy.signal.sosfilt(sos, x, axis=0)`, with the same arithmetic per sample (so the same
/// output; a NaN poisons the rest of its channel, as in scipy).
///
/// Any memory layout is accepted, and the result has the input's layout when the input is
/// contiguous (standard layout otherwise):
/// - row-major (one frame's channels contiguous, the usual layout of a stream of CSI frames):
///   the channels are filtered together in SIMD lanes, in tiles of rows that stay in the L1
///   cache, each lane's filter state in registers for the whole tile (see [`sosfilt_rows`]);
/// - column-major (each channel contiguous): each column through [`sosfilt`]'s 1-D path;
/// - any other strides: copied to row-major first.
///
/// ```
/// use ndarray::Array2;
/// use wifi_sensing_signal::biquad::{sosfilt, sosfilt_channels, Sos};
/// let sos = Sos::butter_lowpass(4, 2.0, 50.0)?;
/// let x = Array2::from_shape_fn((200, 3), |(t, c)| ((t * (c + 1)) % 7) as f64);
/// let y = sosfilt_channels(&sos, x.view());
/// let col1: Vec<f64> = x.column(1).to_vec();
/// assert!(y.column(1).iter().zip(sosfilt(&sos, &col1)).all(|(a, b)| (a - b).abs() < 1e-12));
/// # Ok::<(), wifi_sensing_signal::SignalError>(())
/// ```
pub fn sosfilt_channels(sos: &Sos, x: ndarray::ArrayView2<f64>) -> ndarray::Array2<f64> {
    let (t, c) = x.dim();
    if x.as_slice().is_none() && x.t().as_slice().is_some() {
        // column-major: every channel is one contiguous series
        let mut y = x.to_owned();
        for mut col in y.columns_mut() {
            if let Some(s) = col.as_slice_mut() {
                run(sos, s, &mut vec![[0.0; 2]; sos.len()]);
            }
        }
        return y;
    }
    let std = x.as_standard_layout();
    let rows = std.as_slice().map(|s| sosfilt_rows(sos, s, c));
    match rows.map(|v| ndarray::Array2::from_shape_vec((t, c), v)) {
        Some(Ok(y)) => y,
        // unreachable (a standard-layout array is one slice of t * c values); kept panic-free
        _ => {
            let mut y = std.into_owned();
            let mut st = SosState::new(sos.clone(), c).zero_start();
            for mut row in y.rows_mut() {
                let mut v = row.to_vec();
                st.process(&mut v);
                row.assign(&ndarray::ArrayView1::from(&v));
            }
            y
        }
    }
}

/// Filters every channel of a row-major `(time, channels)` series from rest: `x` holds
/// `x.len() / channels` frames of `channels` values (a trailing partial frame is ignored), and
/// the result has the same layout. Equal to [`sosfilt`] on each channel, with scipy's
/// per-sample arithmetic (transposed direct form II); NaN propagates within its channel.
///
/// The channels run in SIMD lanes, four at a time, over tiles of rows small enough to stay in
/// the L1 cache, with the lanes' filter state held in registers across a tile; the output is
/// written once (no zeroing pass).
///
/// ```
/// use wifi_sensing_signal::biquad::{sosfilt, sosfilt_rows, Sos};
/// let sos = Sos::butter_bandpass(2, 0.5, 3.0, 50.0)?;
/// // 100 frames of 5 channels, frame-major
/// let x: Vec<f64> = (0..500).map(|i| ((i * 7919) % 101) as f64 / 50.0 - 1.0).collect();
/// let y = sosfilt_rows(&sos, &x, 5);
/// let ch2: Vec<f64> = x.iter().skip(2).step_by(5).copied().collect();
/// let want = sosfilt(&sos, &ch2);
/// assert!(y.iter().skip(2).step_by(5).zip(&want).all(|(a, b)| (a - b).abs() < 1e-12));
/// # Ok::<(), wifi_sensing_signal::SignalError>(())
/// ```
pub fn sosfilt_rows(sos: &Sos, x: &[f64], channels: usize) -> Vec<f64> {
    if channels == 0 {
        return Vec::new();
    }
    let n = x.len() / channels * channels;
    let x = &x[..n];
    let s = &sos.sections[..];
    macro_rules! tiled {
        ($k:literal) => {
            match <&[Section; $k]>::try_from(s) {
                Ok(secs) => rows_tiled(secs, x, channels),
                Err(_) => rows_plain(s, x, channels),
            }
        };
    }
    match s.len() {
        0 => x.to_vec(),
        1 => tiled!(1),
        2 => tiled!(2),
        3 => tiled!(3),
        4 => tiled!(4),
        5 => tiled!(5),
        6 => tiled!(6),
        7 => tiled!(7),
        8 => tiled!(8),
        _ => rows_plain(s, x, channels),
    }
}

/// The straightforward form of [`sosfilt_rows`]: one channel at a time, section by section
/// (also the path for cascades of more than 8 sections; the tests' reference).
fn rows_plain(secs: &[Section], x: &[f64], channels: usize) -> Vec<f64> {
    let mut y = x.to_vec();
    let mut col = Vec::with_capacity(x.len() / channels.max(1));
    for ch in 0..channels {
        col.clear();
        col.extend(y.iter().skip(ch).step_by(channels));
        run_generic(secs, &mut col, &mut vec![[0.0; 2]; secs.len()]);
        for (d, v) in y.iter_mut().skip(ch).step_by(channels).zip(&col) {
            *d = *v;
        }
    }
    y
}

/// Rows per tile of [`rows_tiled`]: with 64 channels a tile is 16 KiB, inside the L1 cache.
const TILE_BYTES: usize = 16 * 1024;

/// Filter state of `G` pairs of channels over `K` sections: `[section][z0 | z1][pair]`.
type PairState<const K: usize, const G: usize> = [[[wide::f64x2; G]; 2]; K];

/// Runs `G` pairs of channels starting at `ch0` through every row of `tile` (row length
/// `channels`) in place, the state in registers for the whole tile.
#[inline(always)]
fn pairs_tile<const K: usize, const G: usize>(
    coef: &[[wide::f64x2; 5]; K],
    tile: &mut [f64],
    channels: usize,
    ch0: usize,
    st: &mut PairState<K, G>,
) {
    use wide::f64x2;
    let mut s = *st;
    for row in tile.chunks_exact_mut(channels) {
        let Some(v) = row.get_mut(ch0..ch0 + 2 * G) else {
            return; // unreachable: the caller passes groups inside the row
        };
        let mut x: [f64x2; G] = [f64x2::ZERO; G];
        for (xv, p) in x.iter_mut().zip(v.chunks_exact(2)) {
            *xv = f64x2::new([p[0], p[1]]);
        }
        for (c, z) in coef.iter().zip(s.iter_mut()) {
            let [b0, b1, b2, a1, a2] = *c;
            let [z0, z1] = z;
            for g in 0..G {
                // scipy's sosfilt step, in the same order
                let xi = x[g];
                let y = b0 * xi + z0[g];
                z0[g] = b1 * xi - a1 * y + z1[g];
                z1[g] = b2 * xi - a2 * y;
                x[g] = y;
            }
        }
        for (xv, p) in x.iter().zip(v.chunks_exact_mut(2)) {
            p.copy_from_slice(&xv.to_array());
        }
    }
    *st = s;
}

/// Tiled SIMD form of [`sosfilt_rows`] for `K` sections.
fn rows_tiled<const K: usize>(secs: &[Section; K], x: &[f64], channels: usize) -> Vec<f64> {
    use wide::f64x2;
    let coef: [[f64x2; 5]; K] =
        secs.map(|[b0, b1, b2, _, a1, a2]| [b0, b1, b2, a1, a2].map(f64x2::splat));
    let quads = channels / 4;
    let pair = (channels % 4) / 2;
    let single = channels % 2;
    let mut sq: Vec<PairState<K, 2>> = vec![[[[f64x2::ZERO; 2]; 2]; K]; quads];
    let mut sp: PairState<K, 1> = [[[f64x2::ZERO; 1]; 2]; K];
    let mut ss: [[f64; 2]; K] = [[0.0; 2]; K];
    let rows_per_tile = (TILE_BYTES / 8 / channels).max(1);
    let mut y = Vec::with_capacity(x.len());
    for tile_in in x.chunks(rows_per_tile * channels) {
        let start = y.len();
        y.extend_from_slice(tile_in);
        let tile = &mut y[start..];
        for (q, st) in sq.iter_mut().enumerate() {
            pairs_tile::<K, 2>(&coef, tile, channels, 4 * q, st);
        }
        if pair == 1 {
            pairs_tile::<K, 1>(&coef, tile, channels, 4 * quads, &mut sp);
        }
        if single == 1 {
            for row in tile.chunks_exact_mut(channels) {
                if let Some(v) = row.last_mut() {
                    let mut s = *v;
                    for (sec, z) in secs.iter().zip(ss.iter_mut()) {
                        s = step(sec, z, s);
                    }
                    *v = s;
                }
            }
        }
    }
    y
}

/// Filters `x` from rest (zero initial state), like `scipy.signal.sosfilt(sos, x)`.
pub fn sosfilt(sos: &Sos, x: &[f64]) -> Vec<f64> {
    // a zeroed output (no read of the input for a copy); the first pass reads the input
    // straight from `x`
    let mut y = vec![0.0; x.len()];
    let mut z = vec![[0.0; 2]; sos.len()];
    run_with::<false>(sos, Some(x), &mut y, &mut z, PARALLEL_MIN);
    y
}

/// Length of the odd extension [`sosfiltfilt`] uses by default (scipy's `padlen`).
pub fn default_padlen(sos: &Sos) -> usize {
    let n = sos.len();
    let zb = sos.sections.iter().filter(|s| s[2] == 0.0).count();
    let za = sos.sections.iter().filter(|s| s[5] == 0.0).count();
    3 * (2 * n + 1 - zb.min(za))
}

/// Zero-phase filtering: forward then backward over an odd extension of `padlen` samples at
/// each end (default [`default_padlen`]), each pass started from the steady state of its first
/// value, exactly as `scipy.signal.sosfiltfilt(sos, x, padtype="odd")`. Offline only.
///
/// Refuses an input not longer than the padding (scipy refuses it too).
pub fn sosfiltfilt(sos: &Sos, x: &[f64], padlen: Option<usize>) -> Result<Vec<f64>> {
    let edge = padlen.unwrap_or_else(|| default_padlen(sos));
    let n = x.len();
    if n <= edge || n == 0 {
        return Err(SignalError::TooShort {
            component: "sosfiltfilt",
            len: n,
            needed: edge + 1,
        });
    }
    let mut ext = Vec::with_capacity(n + 2 * edge);
    let (first, last) = (x[0], x[n - 1]);
    ext.extend((1..=edge).rev().map(|i| 2.0 * first - x[i]));
    ext.extend_from_slice(x);
    ext.extend((1..=edge).map(|i| 2.0 * last - x[n - 1 - i]));
    let zi = sos.zi();
    let x0 = ext[0];
    let mut z: Vec<[f64; 2]> = zi.iter().map(|z| [z[0] * x0, z[1] * x0]).collect();
    run(sos, &mut ext, &mut z);
    // the backward pass in place, from the last sample (no reversed copies)
    let y0 = ext[ext.len() - 1];
    let mut z: Vec<[f64; 2]> = zi.iter().map(|z| [z[0] * y0, z[1] * y0]).collect();
    run_backward(sos, &mut ext, &mut z);
    ext.copy_within(edge..edge + n, 0);
    ext.truncate(n);
    Ok(ext)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn butterworth_gain_at_cutoff_is_minus_3db() {
        for order in 1..=8 {
            let lp = Sos::butter_lowpass(order, 5.0, 100.0).unwrap();
            let hp = Sos::butter_highpass(order, 5.0, 100.0).unwrap();
            assert!((lp.gain_at(5.0, 100.0) - std::f64::consts::FRAC_1_SQRT_2).abs() < 1e-9);
            assert!((hp.gain_at(5.0, 100.0) - std::f64::consts::FRAC_1_SQRT_2).abs() < 1e-9);
            assert!((lp.gain_at(0.0, 100.0) - 1.0).abs() < 1e-9);
            assert!((hp.gain_at(50.0, 100.0) - 1.0).abs() < 1e-9);
            assert!(lp.is_stable() && hp.is_stable());
        }
    }

    #[test]
    fn bandpass_peak_is_unity() {
        let s = Sos::new(vec![bandpass(1.0, 2.0, 20.0).unwrap()]).unwrap();
        assert!((s.gain_at(1.0, 20.0) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn bad_parameters_refused() {
        assert!(Sos::butter_lowpass(4, 60.0, 100.0).is_err());
        assert!(Sos::butter_lowpass(0, 6.0, 100.0).is_err());
        assert!(Sos::butter_lowpass(4, f64::NAN, 100.0).is_err());
        assert!(Sos::butter_bandpass(2, 5.0, 1.0, 100.0).is_err());
        assert!(sosfiltfilt(&Sos::butter_lowpass(2, 1.0, 10.0).unwrap(), &[1.0; 5], None).is_err());
    }

    #[test]
    fn filtfilt_keeps_constant_and_has_zero_phase() {
        let sos = Sos::butter_lowpass(4, 2.0, 50.0).unwrap();
        let y = sosfiltfilt(&sos, &[3.0; 100], None).unwrap();
        assert!(y.iter().all(|v| (v - 3.0).abs() < 1e-9));
        // a slow sine passes with no delay
        let x: Vec<f64> = (0..1000)
            .map(|i| (2.0 * std::f64::consts::PI * 0.3 * i as f64 / 50.0).sin())
            .collect();
        let y = sosfiltfilt(&sos, &x, None).unwrap();
        let err = x[200..800]
            .iter()
            .zip(&y[200..800])
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(err < 1e-3, "{err}");
    }

    #[test]
    fn streaming_equals_offline() {
        let sos = Sos::butter_bandpass(2, 0.2, 0.6, 10.0).unwrap();
        let x: Vec<f64> = (0..300).map(|i| ((i * 37) % 11) as f64 - 5.0).collect();
        let want = sosfilt(&sos, &x);
        let mut st = SosState::new(sos, 1).zero_start();
        for (i, &v) in x.iter().enumerate() {
            let mut b = [v];
            st.process(&mut b);
            assert!((b[0] - want[i]).abs() < 1e-12);
        }
    }

    /// A random stable section: a complex pole pair of radius < 0.995 or two real poles, any
    /// numerator, sometimes first order.
    fn stable_section() -> impl Strategy<Value = Section> {
        (
            0.0f64..0.995,
            0.0f64..std::f64::consts::PI,
            -0.995f64..0.995,
            any::<u8>(),
            prop::array::uniform3(-2.0f64..2.0),
        )
            .prop_map(|(r, th, p2, kind, b)| match kind % 4 {
                0 => [b[0], b[1], 0.0, 1.0, -r, 0.0], // first order, real pole r
                1 => [b[0], b[1], b[2], 1.0, -(r + p2), r * p2], // two real poles
                _ => [b[0], b[1], b[2], 1.0, -2.0 * r * th.cos(), r * r],
            })
    }

    #[test]
    fn parallel_propagates_nan_like_serial() {
        let sos = Sos::butter_bandpass(2, 1.0, 5.0, 50.0).unwrap();
        let mut x: Vec<f64> = (0..10_000).map(|i| (i as f64 * 0.3).sin()).collect();
        x[6_000] = f64::NAN;
        let (mut a, mut b) = (x.clone(), x);
        run_with::<false>(&sos, None, &mut a, &mut [[0.0; 2]; 4], 0);
        run_generic(&sos.sections, &mut b, &mut [[0.0; 2]; 4]);
        for (i, (p, q)) in a.iter().zip(&b).enumerate() {
            assert_eq!(p.is_nan(), q.is_nan(), "sample {i}");
            assert!(
                p.is_nan() || (p - q).abs() < 1e-12,
                "sample {i}: {p} vs {q}"
            );
        }
        assert!(a[5_999].is_finite() && a[6_000].is_nan() && a[9_999].is_nan());
    }

    #[test]
    fn parallel_handles_zero_and_tiny_b0() {
        // b0 = 0 (a pure delay in the numerator) and gains whose product leaves the monic
        // path's range both take the serial path and still give the same answer
        for secs in [
            vec![
                [0.0, 0.5, 0.25, 1.0, -1.2, 0.5],
                [1.0, 0.0, -1.0, 1.0, 0.3, 0.2],
            ],
            vec![
                [1e-60, 2e-60, 1e-60, 1.0, -1.2, 0.5],
                [1e-60, 0.0, -1e-60, 1.0, 0.3, 0.2],
            ],
        ] {
            let sos = Sos::new(secs).unwrap();
            let x: Vec<f64> = (0..9_000).map(|i| ((i * 13) % 17) as f64 - 8.0).collect();
            let (mut a, mut b) = (x.clone(), x);
            run_with::<false>(&sos, None, &mut a, &mut [[0.0; 2]; 2], 0);
            run_generic(&sos.sections, &mut b, &mut [[0.0; 2]; 2]);
            let scale = b.iter().fold(f64::MIN_POSITIVE, |m, v| m.max(v.abs()));
            assert!(a
                .iter()
                .zip(&b)
                .all(|(p, q)| (p - q).abs() <= 1e-12 * scale));
        }
    }

    /// Pseudo-random values in [-1, 1) from a seed.
    fn noise(seed: u64, n: usize) -> Vec<f64> {
        let mut rng = seed;
        (0..n)
            .map(|_| {
                rng = rng
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (rng >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
            })
            .collect()
    }

    /// Column `c` of a row-major `(t, channels)` series, filtered on its own by the plain
    /// serial recursion.
    fn column_reference(sos: &Sos, x: &[f64], channels: usize, c: usize) -> Vec<f64> {
        let mut col: Vec<f64> = x.iter().skip(c).step_by(channels).copied().collect();
        run_generic(&sos.sections, &mut col, &mut vec![[0.0; 2]; sos.len()]);
        col
    }

    #[test]
    fn channels_every_layout_equals_columnwise() {
        use ndarray::{Array2, ShapeBuilder, Slice};
        let sos = Sos::butter_bandpass(2, 0.5, 3.0, 50.0).unwrap();
        let (t, c) = (5_000, 7);
        let data = noise(3, t * c);
        let c_order = Array2::from_shape_vec((t, c), data.clone()).unwrap();
        let mut f_order = Array2::zeros((t, c).f());
        f_order.assign(&c_order);
        let big = Array2::from_shape_fn((2 * t, 3 * c), |(i, j)| c_order[[i / 2, j / 3]]);
        let strided =
            big.slice_each_axis(|ax| Slice::new(0, None, if ax.axis.index() == 0 { 2 } else { 3 }));
        assert!(strided.as_slice().is_none() && strided.t().as_slice().is_none());
        let want: Vec<Vec<f64>> = (0..c)
            .map(|j| column_reference(&sos, &data, c, j))
            .collect();
        for (name, y) in [
            ("row-major", sosfilt_channels(&sos, c_order.view())),
            ("column-major", sosfilt_channels(&sos, f_order.view())),
            ("strided", sosfilt_channels(&sos, strided)),
        ] {
            assert_eq!(y.dim(), (t, c), "{name}");
            for (j, w) in want.iter().enumerate() {
                let scale = w.iter().fold(1.0f64, |m, v| m.max(v.abs()));
                for (i, (a, b)) in y.column(j).iter().zip(w).enumerate() {
                    assert!(
                        (a - b).abs() <= 1e-9 * scale,
                        "{name} ({i}, {j}): {a} vs {b}"
                    );
                }
            }
        }
        // a column-major input gives a column-major output
        assert!(sosfilt_channels(&sos, f_order.view())
            .t()
            .as_slice()
            .is_some());
    }

    #[test]
    fn channels_nan_stays_in_its_channel() {
        use ndarray::Array2;
        let sos = Sos::butter_lowpass(4, 2.0, 50.0).unwrap();
        let (t, c) = (3_000, 6);
        let clean = Array2::from_shape_vec((t, c), noise(9, t * c)).unwrap();
        let mut dirty = clean.clone();
        dirty[[1_000, 2]] = f64::NAN;
        let (a, b) = (
            sosfilt_channels(&sos, clean.view()),
            sosfilt_channels(&sos, dirty.view()),
        );
        for ((i, j), v) in b.indexed_iter() {
            if j == 2 && i >= 1_000 {
                assert!(v.is_nan(), "({i}, {j})");
            } else {
                assert_eq!(*v, a[[i, j]], "({i}, {j})");
            }
        }
    }

    #[test]
    fn channels_empty_and_single_sample() {
        use ndarray::Array2;
        let sos = Sos::butter_lowpass(2, 2.0, 50.0).unwrap();
        for (t, c) in [(0, 0), (0, 5), (5, 0), (1, 1), (1, 9)] {
            let x = Array2::from_shape_fn((t, c), |(i, j)| (i + j) as f64 + 1.0);
            let y = sosfilt_channels(&sos, x.view());
            assert_eq!(y.dim(), (t, c));
            if t == 1 {
                // from rest, the first output is the product of the b0s times the input
                let g: f64 = sos.sections.iter().map(|s| s[0]).product();
                for (a, b) in y.iter().zip(x.iter()) {
                    assert!((a - g * b).abs() <= 1e-15 * b.abs());
                }
            }
        }
        assert!(sosfilt_rows(&sos, &[1.0, 2.0], 0).is_empty());
        // a trailing partial frame is dropped
        assert_eq!(sosfilt_rows(&sos, &[1.0, 2.0, 3.0], 2).len(), 2);
        // no sections: the identity
        let id = Sos::new(vec![]).unwrap();
        assert_eq!(sosfilt_rows(&id, &[1.0, 2.0, 3.0], 3), vec![1.0, 2.0, 3.0]);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        /// The tiled SIMD row kernel equals the plain per-channel recursion (scipy's
        /// arithmetic, so to the last bit in practice; asserted within 1e-12 relative) for
        /// random stable cascades (including more than 8 sections, the plain path), channel
        /// counts covering the 4-lane groups, a 2-lane group and a single last channel, and
        /// lengths spanning several tiles.
        #[test]
        fn rows_tiled_equals_plain(
            secs in prop::collection::vec(stable_section(), 1..=10),
            channels in 1usize..=13,
            rows in prop_oneof![0usize..4, 4usize..700],
            seed in any::<u64>(),
        ) {
            let sos = Sos::new(secs).unwrap();
            let x = noise(seed, rows * channels);
            let fast = sosfilt_rows(&sos, &x, channels);
            let plain = rows_plain(&sos.sections, &x, channels);
            prop_assert_eq!(fast.len(), x.len());
            for c in 0..channels {
                let want = column_reference(&sos, &x, channels, c);
                let scale = want.iter().fold(1.0f64, |m, v| m.max(v.abs()));
                for (i, w) in want.iter().enumerate() {
                    let (a, b) = (fast[i * channels + c], plain[i * channels + c]);
                    prop_assert!((a - w).abs() <= 1e-12 * scale, "tiled ({}, {}): {} vs {}", i, c, a, w);
                    prop_assert!((b - w).abs() <= 1e-12 * scale, "plain ({}, {}): {} vs {}", i, c, b, w);
                }
            }
        }

        /// The segment-parallel path equals the plain transposed direct form II recursion
        /// (outputs and final state) for random stable cascades, lengths (short ones, ones that
        /// are not a multiple of the lanes or blocks, and segments shorter than the filter's
        /// decay, which need several correction rounds) and initial states.
        #[test]
        fn parallel_equals_serial(
            secs in prop::collection::vec(stable_section(), 1..=9),
            n in prop_oneof![0usize..40, 40usize..3_000, 3_000usize..20_000],
            z0 in prop::collection::vec(prop::array::uniform2(-3.0f64..3.0), 9),
            seed in any::<u64>(),
        ) {
            let sos = Sos::new(secs).unwrap();
            let mut rng = seed;
            let x: Vec<f64> = (0..n)
                .map(|_| {
                    rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    (rng >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
                })
                .collect();
            let k = sos.len();
            // every kernel level this CPU has (AVX-512, AVX2 + FMA, SSE2), not only the best
            for level in [2u8, 1, 0] {
            MAX_LEVEL.with(|c| c.set(level));
            let (mut fast, mut slow) = (x.clone(), x.clone());
            let (mut zf, mut zs) = (z0[..k].to_vec(), z0[..k].to_vec());
            run_with::<false>(&sos, None, &mut fast, &mut zf, 0);
            run_generic(&sos.sections, &mut slow, &mut zs);
            let scale = slow.iter().chain(zs.iter().flatten()).fold(1.0f64, |m, v| m.max(v.abs()));
            for (i, (a, b)) in fast.iter().zip(&slow).enumerate() {
                prop_assert!((a - b).abs() <= 1e-9 * scale, "level {}, sample {} of {}: {} vs {}", level, i, n, a, b);
            }
            for (a, b) in zf.iter().flatten().zip(zs.iter().flatten()) {
                prop_assert!((a - b).abs() <= 1e-9 * scale, "final state {} vs {}", a, b);
            }
            // out of place (the input read from another slice, `sosfilt`'s path): the same
            // outputs and final state as in place, to the bit
            let mut out = vec![0.0; n];
            let mut zo = z0[..k].to_vec();
            run_with::<false>(&sos, Some(&x), &mut out, &mut zo, 0);
            prop_assert_eq!(&out, &fast);
            prop_assert_eq!(&zo, &zf);
            // backwards in place equals reversing, filtering and reversing back
            let (mut back, mut slow) = (x.clone(), x.iter().rev().copied().collect::<Vec<f64>>());
            let (mut zb, mut zs) = (z0[..k].to_vec(), z0[..k].to_vec());
            run_with::<true>(&sos, None, &mut back, &mut zb, 0);
            run_generic(&sos.sections, &mut slow, &mut zs);
            slow.reverse();
            let scale = slow.iter().chain(zs.iter().flatten()).fold(1.0f64, |m, v| m.max(v.abs()));
            for (i, (a, b)) in back.iter().zip(&slow).enumerate() {
                prop_assert!((a - b).abs() <= 1e-9 * scale, "level {}, backward sample {} of {}: {} vs {}", level, i, n, a, b);
            }
            for (a, b) in zb.iter().flatten().zip(zs.iter().flatten()) {
                prop_assert!((a - b).abs() <= 1e-9 * scale, "backward final state {} vs {}", a, b);
            }
            }
            MAX_LEVEL.with(|c| c.set(2));
        }

        #[test]
        fn designed_filters_are_stable(order in 1usize..=10, f in 0.01f64..0.49, fs in 1.0f64..1000.0) {
            let fc = f * fs;
            prop_assert!(Sos::butter_lowpass(order, fc, fs).unwrap().is_stable());
            prop_assert!(Sos::butter_highpass(order, fc, fs).unwrap().is_stable());
            let s = Sos::new(vec![bandpass(fc, 0.7, fs).unwrap()]).unwrap();
            prop_assert!(s.is_stable());
        }
    }
}
