//! Scale-free per-frame features shared by the event and vital-sign analysers.
//!
//! * `ColumnSelector`: which CSI values of a node carry signal. During the first
//!   [`PROBE_FRAMES`] frames a node's columns are probed; a column is dropped when it is
//!   (almost) zero (guard and DC tones) or never changes (constant junk words some ESP32
//!   firmware puts at the start of the buffer).
//! * `shape`: the amplitude *shape* `x_k = |H_k| / mean_j |H_j|` of the selected values. A common
//!   gain (AGC step, int8 vs scaled vs float devices, multiplying the CSI by any constant) divides
//!   out, so every statistic built on it is scale-free.
//! * `MotionRatio`: the *excess change ratio*. With `d_k = x_k(t) − x_k(t − lag)` (lag about
//!   20 ms, at least one frame) the numerator is `Σ_k d_k²` and the denominator
//!   `Σ_k e_k² / 6` with `e_k = d_{k−1} − 2 d_k + d_{k+1}`, both summed over the last
//!   `window_s` seconds of frames. Receiver noise is independent from subcarrier to subcarrier, so
//!   its second difference has 6 times its variance and the ratio is 1 in a still scene, whatever
//!   the SNR, device or gain. A moving body changes the channel smoothly across subcarriers (its
//!   path delay is a few tens of ns, a fraction of a turn across 20 MHz), so its `e_k` is small
//!   while `d_k` grows: the ratio rises far above 1. No calibration is needed where the noise
//!   is independent across subcarriers (the simulator, Intel 5300). Real ESP32 chips break that
//!   assumption (their common gain jitters from packet to packet and some smooth the channel
//!   estimate across subcarriers, so a still room read as strong motion); ESP32-family nodes
//!   therefore learn during their first 2 s whether their noise is of that kind, from a second,
//!   *temporal* noise estimate (the second difference over consecutive frames), and if so hold
//!   the ratio against the larger of the two estimates (`NoiseKind`). The ratio is reported
//!   once its window spans half its time.
//! * `LevelTracker`: the common level `c = ln(mean_k |H_k|)` carries most of what a moving
//!   body does to a 20 MHz channel (its path delay is close to the line of sight's, so its
//!   interference is nearly flat across subcarriers), but also every AGC gain step. The motion
//!   ratio therefore also averages `g = min(Δc² / var_noise(Δc), 9)` over its window: 1 for
//!   noise; an AGC step is one clipped sample among many; a moving body raises every sample.
//!   Steps in one frame, out of a stretch of quiet frames, and of at least 0.06 (0.5 dB), are
//!   removed from `c` (the AGC-compensated level `c̃`, which every statistic uses): a jump of
//!   more than 10 noise standard deviations whatever the shape does, and one of more than 4
//!   when the shape did not change beyond noise in the same frame (a *common* step: a gain
//!   change scales every subcarrier alike, a body changes them differently). At SNR 20 dB
//!   the simulator's 1 dB AGC steps are about 8 standard deviations: the 10-sigma test alone
//!   missed them and the motion ratio read each one as a short motion. While a lagged
//!   difference may span a removed step the level sits out of the motion ratio; to *start*
//!   motion it votes again only once it has at least half the window's frames (the mean over
//!   the few frames left next to a step is too noisy: it fired false motion in empty rooms),
//!   to *hold* motion a few frames do (see `MotionRatio::hold_ratio`).
//! * `BlockStats`: frames are averaged in blocks of `block_s` (0.25 s). Each block gives the
//!   mean shape and the noise variance of that mean (from first differences inside the block).
//!   Over a ring of blocks it computes the *breathing-band ratio* and the *static shape change*
//!   against a reference shape (RMS of `x̄_k − r_k`). The breathing-band ratio is built to be
//!   blind to AGC steps and slow drift: for block pairs about 1 s and 2 s apart it takes the
//!   **median** over pairs of the squared difference of the block means (summed over the shape
//!   values, or the level alone), divided by what receiver noise gives for that median. A chest
//!   moving at 6–40 /min changes most pairs at one of the two lags, so the median rises far
//!   above 1; a gain step changes only the pairs that straddle it, and for the level those
//!   pairs are skipped altogether (the `LevelTracker` counts gain *epochs*; only pairs inside
//!   one epoch count); a slow drift is a constant difference over the window, and the mean
//!   difference of each value over the pairs is removed before the median.

use std::collections::VecDeque;

use wifi_sensing_core::CsiFrame;

use crate::rate::RateEstimator;
use crate::vitals::MAX_BRIDGED_GAP_S;

/// Frames a node's columns are probed over before its features start.
pub const PROBE_FRAMES: usize = 20;

/// Other layout shapes a node's notice names at most.
pub const MAX_OTHER_SHAPES: usize = 4;

/// Notes `shape` among a node's other layout shapes (the first [`MAX_OTHER_SHAPES`], each once),
/// for [`describe_layouts`].
///
/// ```
/// use wifi_sensing_signal::features::note_other_shape;
/// let mut seen = Vec::new();
/// for s in [(1, 1, 128), (1, 1, 128), (1, 1, 192)] {
///     note_other_shape(&mut seen, s);
/// }
/// assert_eq!(seen, [(1, 1, 128), (1, 1, 192)]);
/// ```
pub fn note_other_shape(shapes: &mut Vec<(usize, usize, usize)>, shape: (usize, usize, usize)) {
    if shapes.len() < MAX_OTHER_SHAPES && !shapes.contains(&shape) {
        shapes.push(shape);
    }
}

/// The layouts of a node's skipped frames and the one it is analysed in (`kept`), as the
/// notices of the analysers that keep a layout ([`LayoutKeeper`]) say it: after a lasting
/// change the skipped frames may be of the layout kept now, sent before the change, so `kept`
/// is left out of `others`; frames that differ in their subcarrier indices only have no other
/// shape.
///
/// ```
/// use wifi_sensing_signal::features::describe_layouts;
/// let s = describe_layouts((1, 1, 64), &[(1, 1, 128), (1, 1, 64), (1, 1, 192)]);
/// assert_eq!(s, "also 1x1x128, 1x1x192; analysed in 1x1x64");
/// assert_eq!(
///     describe_layouts((1, 1, 64), &[]),
///     "other subcarrier indices; analysed in 1x1x64"
/// );
/// ```
pub fn describe_layouts(kept: (usize, usize, usize), others: &[(usize, usize, usize)]) -> String {
    let shape = |(r, t, k): (usize, usize, usize)| format!("{r}x{t}x{k}");
    let others: Vec<String> = others
        .iter()
        .filter(|s| **s != kept)
        .map(|s| shape(*s))
        .collect();
    if others.is_empty() {
        format!("other subcarrier indices; analysed in {}", shape(kept))
    } else {
        format!("also {}; analysed in {}", others.join(", "), shape(kept))
    }
}

/// The CSI layout of a node: shape and subcarrier indices.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Layout {
    pub shape: (usize, usize, usize),
    pub subcarriers: Option<Vec<i16>>,
}

impl Layout {
    pub fn of(frame: &CsiFrame) -> Layout {
        Layout {
            shape: frame.shape(),
            subcarriers: frame.subcarriers.clone(),
        }
    }

    pub fn matches(&self, frame: &CsiFrame) -> bool {
        self.shape == frame.shape() && self.subcarriers.as_deref() == frame.subcarriers.as_deref()
    }
}

/// A frame's layout as a small comparable key (shape `(rx, tx, subcarriers)` and a hash of the
/// subcarrier indices), for telling other layouts apart without allocating. The key a
/// [`LayoutKeeper`] of the sensing analyser is given; the introspection analyser of
/// `wifi-sensing-introspect` keys its nodes' layouts with it too.
///
/// ```
/// use wifi_sensing_core::sim::{DeviceProfile, Scenario, Simulator};
/// use wifi_sensing_signal::features::layout_key;
/// let mut sim = Simulator::new(Scenario::preset("empty", 1.0)?, DeviceProfile::esp32(), 1)?;
/// let (a, _) = sim.next().unwrap();
/// let (b, _) = sim.next().unwrap();
/// assert_eq!(layout_key(&a), layout_key(&b));
/// assert_eq!(layout_key(&a).2, a.n_subcarriers());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn layout_key(frame: &CsiFrame) -> (usize, usize, usize, u64) {
    use std::hash::{Hash, Hasher};
    let (r, t, k) = frame.shape();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    frame.subcarriers.as_deref().hash(&mut h);
    (r, t, k, h.finish())
}

/// Which layout a node that mixes layouts frame by frame keeps (RuView ESP32 nodes: 64, 128 and
/// 192 subcarrier pairs): during its warm-up the more common one, afterwards the current one
/// unless another lasts `warmup` frames in a row (a reconfiguration), which starts the node
/// over. Frames of the other layouts are skipped and counted.
///
/// The caller holds the node's kept layout `K` (a [`layout_key`], a subcarrier count, ...) and
/// tells the keeper about every frame: [`kept`](Self::kept) for one of the kept layout,
/// [`other`](Self::other) for one of another, which says whether the node starts over in that
/// layout. On a start-over the caller makes the node anew in the new layout and moves the
/// keeper (and its counts) over to it. The sensing, spectrogram and Doppler analysers of this
/// crate and the introspection analyser of `wifi-sensing-introspect` share it.
///
/// ```
/// use wifi_sensing_signal::features::LayoutKeeper;
/// let mut keeper = LayoutKeeper::<usize>::default();
/// // a node whose first frame is of a rare layout (128) before its common one (64), in its
/// // warm-up of 20 frames: after one kept frame, the second of the other layout switches
/// let kept = 1;
/// assert!(!keeper.other(64, kept, true, 20));
/// assert!(keeper.other(64, kept, true, 20));
/// // the kept frame and the first 64 count as skipped
/// assert_eq!(keeper.skipped(), 2);
/// // after the warm-up a frame of another layout is skipped, unless 20 come in a row
/// keeper.kept();
/// assert!(!keeper.other(128, 30, false, 20));
/// assert_eq!(keeper.skipped(), 3);
/// ```
#[derive(Clone, Debug, Default)]
pub struct LayoutKeeper<K> {
    /// The last other layout seen: its key, frames since the node's (re)start, frames in a row.
    other: Option<(K, u64, u64)>,
    /// Frames skipped for their layout (another than the kept one, or the old one's when the
    /// node started over during its warm-up).
    skipped: u64,
}

impl<K: Copy + PartialEq> LayoutKeeper<K> {
    /// A frame of the kept layout.
    pub fn kept(&mut self) {
        if let Some(o) = &mut self.other {
            o.2 = 0;
        }
    }

    /// A frame of another layout `key`; `kept` frames of the kept layout were analysed since
    /// the node's (re)start, `warming_up` tells whether its warm-up is still running. `true`:
    /// the node starts over in the new layout (its `kept` frames count as skipped when the
    /// switch comes in the warm-up, where they were not analysed yet); `false`: the frame is
    /// skipped.
    pub fn other(&mut self, key: K, kept: u64, warming_up: bool, warmup: u64) -> bool {
        let (seen, in_a_row) = match &mut self.other {
            Some(o) if o.0 == key => {
                o.1 += 1;
                o.2 += 1;
                (o.1, o.2)
            }
            o => {
                *o = Some((key, 1, 1));
                (1, 1)
            }
        };
        let switch = if warming_up {
            seen > kept
        } else {
            in_a_row >= warmup
        };
        if switch {
            // a switch in the warm-up drops the kept layout's frames unanalysed; after it
            // (a reconfiguration) they were analysed, so they are not skipped
            if warming_up {
                self.skipped += kept;
            }
            self.other = None;
        } else {
            self.skipped += 1;
        }
        switch
    }

    /// Frames skipped for their layout so far.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }
}

/// Writes `|H|` of every CSI value of `frame` (flat `[rx][tx][sc]` order) into `out`.
pub(crate) fn amplitudes(frame: &CsiFrame, out: &mut Vec<f32>) {
    out.clear();
    out.extend(frame.csi.iter().map(|c| c.norm()));
}

/// Probes a node's columns over its first frames.
#[derive(Clone, Debug)]
pub(crate) struct ColumnSelector {
    first: Vec<f32>,
    changed: Vec<bool>,
    sum: Vec<f64>,
    frames: usize,
}

/// The selected columns of a node and where their contiguous runs break.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Columns {
    /// Flat indices of the selected values.
    pub index: Vec<usize>,
    /// `true` where the selected value continues the run of the previous one (same antenna
    /// pair, adjacent column), so a second difference across it is meaningful.
    pub continues: Vec<bool>,
}

impl Columns {
    /// Builds the run flags for flat indices in a `(rx, tx, sc)` layout.
    pub fn new(index: Vec<usize>, n_sc: usize) -> Columns {
        let continues = index
            .iter()
            .enumerate()
            .map(|(i, &j)| i > 0 && n_sc > 0 && index[i - 1] + 1 == j && j % n_sc != 0)
            .collect();
        Columns { index, continues }
    }
}

impl ColumnSelector {
    pub fn new() -> Self {
        ColumnSelector {
            first: Vec::new(),
            changed: Vec::new(),
            sum: Vec::new(),
            frames: 0,
        }
    }

    /// Adds one frame's amplitudes; returns the selection once enough frames were seen.
    pub fn push(&mut self, amps: &[f32], n_sc: usize) -> Option<Columns> {
        if self.frames == 0 {
            self.first = amps.to_vec();
            self.changed = vec![false; amps.len()];
            self.sum = vec![0.0; amps.len()];
        }
        if amps.len() != self.first.len() {
            return None;
        }
        for ((c, (&a, &f)), s) in self
            .changed
            .iter_mut()
            .zip(amps.iter().zip(&self.first))
            .zip(self.sum.iter_mut())
        {
            if a != f {
                *c = true;
            }
            if a.is_finite() {
                *s += f64::from(a);
            }
        }
        self.frames += 1;
        if self.frames < PROBE_FRAMES {
            return None;
        }
        Some(self.select(n_sc))
    }

    fn select(&self, n_sc: usize) -> Columns {
        let any_changed = self.changed.iter().any(|c| *c);
        let mut powers: Vec<f64> = self
            .sum
            .iter()
            .zip(&self.changed)
            .filter(|(_, c)| **c || !any_changed)
            .map(|(s, _)| *s)
            .filter(|s| *s > 0.0)
            .collect();
        powers.sort_by(f64::total_cmp);
        let median = powers.get(powers.len() / 2).copied().unwrap_or(0.0);
        let index = (0..self.sum.len())
            .filter(|&j| {
                (self.changed[j] || !any_changed) && self.sum[j] > 1e-3 * median && median > 0.0
            })
            .collect();
        Columns::new(index, n_sc)
    }
}

/// Writes the amplitude shape of the selected columns into `x`; returns the mean amplitude, or
/// `None` when the frame has no usable power (all selected values zero or not finite).
pub(crate) fn shape(amps: &[f32], cols: &Columns, x: &mut Vec<f32>) -> Option<f64> {
    x.clear();
    let mut sum = 0.0f64;
    for &j in &cols.index {
        let a = amps.get(j).copied().unwrap_or(f32::NAN);
        x.push(a);
        sum += f64::from(a);
    }
    if x.is_empty() || !(sum.is_finite() && sum > 0.0) {
        return None;
    }
    let inv = (x.len() as f64 / sum) as f32;
    for v in x.iter_mut() {
        *v *= inv;
    }
    Some(sum / x.len() as f64)
}

/// A sum over the entries of the last `window_ns` nanoseconds.
#[derive(Clone, Debug)]
pub(crate) struct TimeWindow<const N: usize> {
    window_ns: i64,
    items: VecDeque<(i64, [f64; N])>,
    sum: [f64; N],
    cap: usize,
    pushes: u64,
}

impl<const N: usize> TimeWindow<N> {
    pub fn new(window_s: f64, cap: usize) -> Self {
        TimeWindow {
            window_ns: (window_s * 1e9) as i64,
            items: VecDeque::with_capacity(cap.min(4096)),
            sum: [0.0; N],
            cap: cap.max(1),
            pushes: 0,
        }
    }

    pub fn push(&mut self, t: i64, v: [f64; N]) {
        self.items.push_back((t, v));
        for (s, x) in self.sum.iter_mut().zip(v) {
            *s += x;
        }
        while let Some(&(t0, old)) = self.items.front() {
            if t - t0 >= self.window_ns || self.items.len() > self.cap {
                self.items.pop_front();
                for (s, x) in self.sum.iter_mut().zip(old) {
                    *s -= x;
                }
            } else {
                break;
            }
        }
        self.pushes += 1;
        if self.pushes.is_multiple_of(4096) {
            // Re-sum now and then so rounding cannot accumulate over hours.
            self.sum = [0.0; N];
            for (_, v) in &self.items {
                for (s, x) in self.sum.iter_mut().zip(v) {
                    *s += x;
                }
            }
        }
    }

    pub fn sum(&self) -> [f64; N] {
        self.sum
    }

    /// Forgets every entry.
    pub fn clear(&mut self) {
        self.items.clear();
        self.sum = [0.0; N];
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Time of the oldest entry.
    pub fn start_ns(&self) -> Option<i64> {
        self.items.front().map(|x| x.0)
    }
}

/// Most past shape vectors kept for the lag of [`MotionRatio`].
const MAX_LAG: usize = 16;
/// Clip of one frame's level statistic (an AGC step is one clipped sample).
const LEVEL_CLIP: f64 = 25.0;
/// Frames the level statistic needs in its window before it counts, and the fraction of the
/// window's frames it needs: while a compensated gain step keeps the level out of most of the
/// window, the mean over the few frames left is too noisy to vote (the mean of four
/// overlapping lagged differences reached 4 times its noise level in an empty room).
const MIN_LEVEL_FRAMES: f64 = 4.0;
const MIN_LEVEL_FRACTION: f64 = 0.5;
/// Floor added to both sums of the motion ratio: a constant (noise-free) stream has ratio 1.
const RATIO_FLOOR: f64 = 1e-9;

/// The excess change ratio (see the [module docs](self)).
#[derive(Clone, Debug)]
pub(crate) struct MotionRatio {
    lag_s: f64,
    k: usize,
    hist: Vec<f32>,
    hist_len: usize,
    head: usize,
    window: TimeWindow<7>,
    d: Vec<f32>,
    level_hist: [f64; MAX_LAG],
    noise_ema: f64,
    hold: f64,
    /// Window length, s, and the time of the first frame with a ratio.
    window_s: f64,
    first_ns: Option<i64>,
    /// Time of the last frame pushed.
    last_ns: Option<i64>,
    /// Learn the kind of noise (ESP32 family; `None`: the cross-subcarrier estimate only).
    kind: Option<NoiseKind>,
}

/// Can a device's CSI carry noise that is smooth across subcarriers, so that its motion ratio
/// must learn which noise it has (see [`NoiseKind`])? The ESP32 family: every real ESP32
/// source at hand has it (see the crate's MEASUREMENTS.md, "Real ESP32 noise").
pub(crate) fn temporal_noise_for(device: wifi_sensing_core::Device) -> bool {
    use wifi_sensing_core::Device;
    matches!(device, Device::Esp32 | Device::Esp32C5C6)
}

/// Frames and time over which a node's [`NoiseKind`] is first learnt (plain means).
const NOISE_KIND_FRAMES: u32 = 32;
const NOISE_KIND_LEARN_S: f64 = 2.0;
/// Time constant of the [`NoiseKind`] means once learnt, s.
const NOISE_KIND_TAU_S: f64 = 10.0;
/// Temporal over cross-subcarrier noise above which the noise is taken as smooth across
/// subcarriers, and below which it is taken as independent again.
const SMOOTH_NOISE_ENTER: f64 = 3.0;
const SMOOTH_NOISE_EXIT: f64 = 1.4;
/// Lagged difference over the temporal estimate below which the changes are taken as white
/// in time (noise, not movement).
const WHITE_ENTER: f64 = 2.5;
/// Time the conditions must hold, after the learning, before a node's noise is taken as
/// smooth, s.
const SMOOTH_ENTER_S: f64 = 2.0;

/// Is a node's noise independent from subcarrier to subcarrier (what the cross-subcarrier
/// estimate of the motion ratio assumes), or smooth across them?
///
/// Two estimates of what noise gives a lagged difference: across subcarriers (the second
/// difference `e_k` of the lagged difference, see the module docs) and in time: the second
/// difference over consecutive frames, `f_k = x_k(t) − 2 x_k(t−1) + x_k(t−2)`, has 6 times the
/// variance of noise that is independent from frame to frame, while a movement that is slow
/// against the frame rate hardly shows in it, so `Σ_k f_k² / 3` is the temporal estimate (for
/// the level, `f² / 3` of the level). Where the noise is independent across subcarriers both
/// agree. Real ESP32 chips jitter their common gain from packet to packet and some smooth their
/// channel estimate across subcarriers: on the real ESP32 captures at hand the frame-to-frame
/// change of the level is 45 to 410 times, and of the shape 2.5 to 17 times, what the
/// cross-subcarrier estimate predicts (`sensing_eval -- noise`, MEASUREMENTS.md, "Real ESP32
/// noise"); that estimate then sees a fraction of the noise and a still room reads as motion.
///
/// The node learns both estimates (plain means over its first 32 frames and 2 s, then means
/// with a 10 s time constant) and the lagged differences. Its shape (and, apart, its level) is
/// *smooth* when the temporal estimate exceeds the other 3 times over while the lagged
/// differences stay within 2.5 times the temporal estimate (white in time: no movement in
/// them), at the end of the learning or for 2 s in a row after it; it stays smooth until the
/// two estimates come within 1.4 times of each other. A smooth node holds the motion ratio
/// against the larger of the two estimates over the same window; so does every node of the
/// ESP32 family during its learning (a still room never reads as motion then; a slow movement
/// still does). Only the ESP32 family learns it ([`temporal_noise_for`]); other devices keep
/// the cross-subcarrier estimate.
#[derive(Clone, Copy, Debug, Default)]
struct NoiseKind {
    /// Means of `[cross-subcarrier estimate, temporal estimate, lagged difference]` for the
    /// shape and for the level.
    shape: [f64; 3],
    level: [f64; 3],
    n: u32,
    /// Time the means have been learnt over, s.
    age_s: f64,
    smooth_shape: bool,
    smooth_level: bool,
    /// Time the conditions for `smooth_*` have held, s.
    held: [f64; 2],
}

impl NoiseKind {
    /// One frame's `[cross-subcarrier estimate, temporal estimate, lagged difference]` for the
    /// shape and the level.
    fn update(&mut self, shape: [f64; 3], level: [f64; 3], interval_s: f64) {
        if !shape.iter().chain(&level).all(|v| v.is_finite()) {
            return;
        }
        let dt = if interval_s.is_finite() && interval_s > 0.0 {
            interval_s.min(1.0)
        } else {
            0.01
        };
        let learning = !self.learnt();
        let a = if learning {
            self.n = self.n.saturating_add(1);
            self.age_s += dt;
            1.0 / f64::from(self.n)
        } else {
            (dt / NOISE_KIND_TAU_S).min(1.0)
        };
        for (m, v) in self.shape.iter_mut().zip(shape) {
            *m += a * (v - *m);
        }
        for (m, v) in self.level.iter_mut().zip(level) {
            *m += a * (v - *m);
        }
        if !self.learnt() {
            return;
        }
        let decide_now = learning;
        let flip = |on: &mut bool, held: &mut f64, [s, t, l]: [f64; 3]| {
            let rho = t / s.max(1e-300);
            let white = l / t.max(1e-300);
            if rho > SMOOTH_NOISE_ENTER && white < WHITE_ENTER {
                *held += dt;
                if decide_now || *held >= SMOOTH_ENTER_S {
                    *on = true;
                }
            } else {
                *held = 0.0;
                if rho < SMOOTH_NOISE_EXIT {
                    *on = false;
                }
            }
        };
        flip(&mut self.smooth_shape, &mut self.held[0], self.shape);
        flip(&mut self.smooth_level, &mut self.held[1], self.level);
    }

    fn learnt(&self) -> bool {
        self.n >= NOISE_KIND_FRAMES && self.age_s >= NOISE_KIND_LEARN_S
    }
}

impl MotionRatio {
    /// `learn_kind`: learn whether the noise is smooth across subcarriers (see [`NoiseKind`]
    /// and [`temporal_noise_for`]).
    pub fn new(k: usize, window_s: f64, lag_s: f64, learn_kind: bool) -> Self {
        MotionRatio {
            lag_s,
            k,
            hist: vec![0.0; k * MAX_LAG],
            hist_len: 0,
            head: 0,
            window: TimeWindow::new(window_s, 4096),
            d: vec![0.0; k],
            level_hist: [0.0; MAX_LAG],
            noise_ema: 0.0,
            hold: 1.0,
            window_s,
            first_ns: None,
            last_ns: None,
            kind: learn_kind.then(NoiseKind::default),
        }
    }

    /// Adds one frame's shape and level; `interval_s` is the measured frame interval. Returns
    /// the ratio over the window (the larger of the shape and level ratios), or `None` until a
    /// lagged frame exists.
    pub fn push(
        &mut self,
        t: i64,
        x: &[f32],
        level: f64,
        level_blind: bool,
        cols: &Columns,
        interval_s: f64,
    ) -> Option<f64> {
        if x.len() != self.k {
            return None;
        }
        // A gap in the frames longer than `MAX_BRIDGED_GAP_S`: no difference spans it (the
        // channel's change over the gap is not the change of one lag), and the ratio waits
        // for its window to fill again, as at a stream's start.
        if self
            .last_ns
            .is_some_and(|l| (t - l) as f64 * 1e-9 > MAX_BRIDGED_GAP_S)
        {
            self.hist_len = 0;
            self.window.clear();
            self.first_ns = None;
        }
        self.last_ns = Some(t);
        let lag = if interval_s > 0.0 && interval_s.is_finite() {
            ((self.lag_s / interval_s).round() as usize).clamp(1, MAX_LAG - 1)
        } else {
            1
        };
        let out = if self.hist_len >= lag.max(2) {
            let slot = (self.head + MAX_LAG - lag) % MAX_LAG;
            let past = &self.hist[slot * self.k..][..self.k];
            let mut num = 0.0f64;
            for ((d, a), b) in self.d.iter_mut().zip(x).zip(past) {
                *d = a - b;
                num += f64::from(*d) * f64::from(*d);
            }
            let mut den = 0.0f64;
            let mut n_e = 0usize;
            for i in 1..self.k.saturating_sub(1) {
                if cols.continues[i] && cols.continues[i + 1] {
                    let e = self.d[i - 1] - 2.0 * self.d[i] + self.d[i + 1];
                    den += f64::from(e) * f64::from(e);
                    n_e += 1;
                }
            }
            // Scale the second-difference sum to the number of terms of the numerator.
            let den = if n_e > 0 {
                den / 6.0 * (self.k as f64 / n_e as f64)
            } else {
                num
            };
            // Level: noise variance of a lagged level difference is about den / k².
            let k2 = (self.k * self.k) as f64;
            if den.is_finite() {
                let a = if self.noise_ema == 0.0 { 1.0 } else { 0.02 };
                self.noise_ema += a * (den / k2 - self.noise_ema);
            }
            let dl = level - self.level_hist[slot];
            // The temporal estimate, from this frame and the two before it (see `NoiseKind`).
            let (den_t, lev_t) = if self.kind.is_some() {
                let s1 = (self.head + MAX_LAG - 1) % MAX_LAG;
                let s2 = (self.head + MAX_LAG - 2) % MAX_LAG;
                let p1 = &self.hist[s1 * self.k..][..self.k];
                let p2 = &self.hist[s2 * self.k..][..self.k];
                let mut f2 = 0.0f64;
                for ((a, b), c) in x.iter().zip(p1).zip(p2) {
                    let f = f64::from(*a) - 2.0 * f64::from(*b) + f64::from(*c);
                    f2 += f * f;
                }
                let fl = level - 2.0 * self.level_hist[s1] + self.level_hist[s2];
                let (den_t, lev_t) = (f2 / 3.0, fl * fl / 3.0);
                if let Some(kind) = &mut self.kind {
                    kind.update([den, den_t, num], [den / k2, lev_t, dl * dl], interval_s);
                }
                (den_t, lev_t)
            } else {
                (0.0, 0.0)
            };
            let level_noise = self.level_noise_var();
            let g = if level_noise > 0.0 {
                (dl * dl / level_noise).min(LEVEL_CLIP)
            } else if dl == 0.0 {
                1.0
            } else {
                LEVEL_CLIP
            };
            // while a lagged difference may span a compensated AGC step, the level sits out
            let (g, c, dl2, lev_t) = if level_blind {
                (0.0, 0.0, 0.0, 0.0)
            } else {
                (g, 1.0, dl * dl, lev_t)
            };
            if [num, den, g, den_t, dl2, lev_t]
                .iter()
                .all(|v| v.is_finite())
            {
                self.window.push(t, [num, den, g, c, den_t, dl2, lev_t]);
            }
            let [n, d, gs, c, dt, dl2s, lts] = self.window.sum();
            let d = if self.temporal_shape() { d.max(dt) } else { d };
            let smooth = self.temporal_level();
            let shape_ratio = (n + RATIO_FLOOR) / (d + RATIO_FLOOR);
            let enough = MIN_LEVEL_FRAMES.max(MIN_LEVEL_FRACTION * self.window.len() as f64);
            // on a smooth-noise node the level is also held against its temporal noise
            let level_of = |gs: f64, c: f64| {
                let r = gs / c;
                if smooth && lts > 0.0 {
                    r.min(dl2s / lts)
                } else {
                    r
                }
            };
            let level_ratio = if c >= enough { level_of(gs, c) } else { 1.0 };
            // to hold motion, fewer level frames do (a walk is not split where it crosses
            // a jump the step test took for a gain step)
            let level_hold = if c >= MIN_LEVEL_FRAMES {
                level_of(gs, c)
            } else {
                1.0
            };
            self.hold = shape_ratio.max(level_hold);

            // not before the window spans half its time (a ratio over a few frames is noisy:
            // one frame's level change at the start of a stream read as motion)
            let t0 = *self.first_ns.get_or_insert(t);
            ((t - t0) as f64 * 1e-9 >= 0.5 * self.window_s).then_some(shape_ratio.max(level_ratio))
        } else {
            None
        };
        self.hist[self.head * self.k..][..self.k].copy_from_slice(x);
        self.level_hist[self.head] = level;
        self.head = (self.head + 1) % MAX_LAG;
        self.hist_len = (self.hist_len + 1).min(MAX_LAG);
        out
    }

    /// How much the shape changed since the previous frame, over what receiver noise gives:
    /// `Σ_k (x_k(t) − x_k(t−1))²` divided by its noise expectation (the cross-subcarrier
    /// estimate behind [`level_noise_var`](Self::level_noise_var), times `k²`). About 1 (a
    /// chi-square over `k` degrees of freedom, divided by `k`) when only noise changed, as
    /// across a gain step, which scales every subcarrier alike; a body changes the subcarriers
    /// differently. `None` before a previous frame and the noise are known. Call it before
    /// [`push`](Self::push) with the same frame.
    pub fn shape_jump(&self, x: &[f32]) -> Option<f64> {
        if x.len() != self.k || self.hist_len == 0 || self.noise_ema <= 0.0 {
            return None;
        }
        let slot = (self.head + MAX_LAG - 1) % MAX_LAG;
        let prev = &self.hist[slot * self.k..][..self.k];
        let s: f64 = x
            .iter()
            .zip(prev)
            .map(|(a, b)| f64::from(a - b).powi(2))
            .sum();
        let expected = self.shape_noise();
        (s.is_finite() && expected.is_finite()).then(|| s / expected)
    }

    /// The ratio that keeps motion going, of the last [`push`](Self::push) that returned one:
    /// as the returned ratio, but the level votes with as few as [`MIN_LEVEL_FRAMES`] frames
    /// (starting motion needs [`MIN_LEVEL_FRACTION`] of the window).
    pub fn hold_ratio(&self) -> f64 {
        self.hold
    }

    /// Noise variance of a difference of two frames' levels (from the cross-subcarrier
    /// estimate, so motion does not inflate it); 0 until known.
    pub fn level_noise_var(&self) -> f64 {
        let n = self.window.len();
        if self.temporal_level() && n > 0 {
            let lts = self.window.sum()[6];
            self.noise_ema.max(lts / n as f64)
        } else {
            self.noise_ema
        }
    }

    /// `true` once the node's noise was learnt as smooth across subcarriers, for its shape or
    /// its level (see [`NoiseKind`]).
    pub fn smooth_noise(&self) -> bool {
        self.kind
            .is_some_and(|k| k.learnt() && (k.smooth_shape || k.smooth_level))
    }

    /// Whether the shape's ratio is held against the temporal estimate too: a smooth-noise
    /// node, or an ESP32-family node still learning (see [`NoiseKind`]).
    fn temporal_shape(&self) -> bool {
        self.kind.is_some_and(|k| k.smooth_shape || !k.learnt())
    }

    /// The same for the level.
    fn temporal_level(&self) -> bool {
        self.kind.is_some_and(|k| k.smooth_level || !k.learnt())
    }

    /// What noise gives `Σ_k (x_k(t) − x_k(t − 1))²`: the cross-subcarrier estimate, or on a
    /// node whose noise is smooth across subcarriers the larger of it and the temporal one.
    fn shape_noise(&self) -> f64 {
        let k2 = (self.k * self.k) as f64;
        let n = self.window.len();
        if self.temporal_shape() && n > 0 {
            (self.noise_ema * k2).max(self.window.sum()[4] / n as f64)
        } else {
            self.noise_ema * k2
        }
    }

    pub fn window_start_ns(&self) -> Option<i64> {
        self.window.start_ns()
    }

    pub fn window_frames(&self) -> usize {
        self.window.len()
    }
}

/// Fewest block pairs inside one gain epoch for the level's breathing statistic.
const MIN_LEVEL_PAIRS: usize = 12;

/// One closed block.
#[derive(Clone, Debug)]
pub(crate) struct Block {
    pub start_ns: i64,
    pub frames: usize,
    /// Level epoch (see [`LevelTracker::epoch`]) of the block's first and last frame.
    pub epochs: (u32, u32),
}

/// Block averages and the statistics built on them.
#[derive(Clone, Debug)]
pub(crate) struct BlockStats {
    k: usize,
    block_ns: i64,
    n_blocks: usize,
    // the open block
    start_ns: Option<i64>,
    last_ns: i64,
    sum: Vec<f64>,
    diff2: Vec<f64>,
    prev: Vec<f32>,
    n: usize,
    epochs: (u32, u32),
    // ring of closed blocks
    means: Vec<f32>,
    noise: Vec<f32>,
    noise_scratch: Vec<f32>,
    pair_scratch: Vec<f64>,
    mean_scratch: Vec<f64>,
    lags: [usize; 2],
    blocks: VecDeque<Block>,
    head: usize,
}

impl BlockStats {
    pub fn new(k: usize, block_s: f64, window_s: f64) -> Self {
        let n_blocks = ((window_s / block_s).round() as usize).max(3);
        BlockStats {
            k,
            block_ns: (block_s * 1e9) as i64,
            n_blocks,
            start_ns: None,
            last_ns: 0,
            sum: vec![0.0; k],
            diff2: vec![0.0; k],
            prev: vec![0.0; k],
            n: 0,
            epochs: (0, 0),
            means: vec![0.0; k * n_blocks],
            noise: vec![0.0; k * n_blocks],
            noise_scratch: Vec::with_capacity(n_blocks),
            pair_scratch: Vec::with_capacity(n_blocks),
            mean_scratch: Vec::with_capacity(k),
            lags: [
                ((1.0 / block_s).round() as usize).max(1),
                ((2.0 / block_s).round() as usize).max(1),
            ],
            blocks: VecDeque::with_capacity(n_blocks),
            head: 0,
        }
    }

    /// Adds a frame with its level epoch; returns `true` when it closed a block (the frame
    /// starts the next one).
    pub fn push(&mut self, t: i64, x: &[f32], epoch: u32) -> bool {
        if x.len() != self.k {
            return false;
        }
        let mut closed = false;
        if let Some(s) = self.start_ns {
            if t - s >= self.block_ns {
                self.close();
                closed = true;
            }
        }
        if self.start_ns.is_none() {
            self.start_ns = Some(t);
            self.epochs.0 = epoch;
        }
        self.epochs.1 = epoch;
        if self.n > 0 {
            for ((p, v), s) in self.prev.iter().zip(x).zip(self.diff2.iter_mut()) {
                let d = f64::from(v - p);
                *s += d * d;
            }
        }
        for ((s, p), v) in self.sum.iter_mut().zip(self.prev.iter_mut()).zip(x) {
            *s += f64::from(*v);
            *p = *v;
        }
        self.n += 1;
        self.last_ns = t;
        closed
    }

    fn close(&mut self) {
        let n = self.n.max(1);
        let slot = &mut self.means[self.head * self.k..][..self.k];
        for (m, s) in slot.iter_mut().zip(&self.sum) {
            *m = (*s / n as f64) as f32;
        }
        // Per-frame noise variance of each column from first differences (2σ² each), then the
        // variance of the block mean.
        let noise = &mut self.noise[self.head * self.k..][..self.k];
        for (v, d) in noise.iter_mut().zip(self.diff2.iter_mut()) {
            *v = if self.n > 1 {
                (*d / (2.0 * (self.n - 1) as f64) / n as f64) as f32
            } else {
                f32::NAN
            };
            *d = 0.0;
        }
        let block = Block {
            start_ns: self.start_ns.unwrap_or(self.last_ns),
            frames: self.n,
            epochs: self.epochs,
        };
        if self.blocks.len() == self.n_blocks {
            self.blocks.pop_front();
        }
        self.blocks.push_back(block);
        self.head = (self.head + 1) % self.n_blocks;
        self.sum.iter_mut().for_each(|s| *s = 0.0);
        self.n = 0;
        self.start_ns = None;
    }

    /// Closed blocks in the ring (oldest first).
    pub fn blocks(&self) -> &VecDeque<Block> {
        &self.blocks
    }

    /// `true` when the ring holds `n_blocks` blocks.
    pub fn full(&self) -> bool {
        self.blocks.len() == self.n_blocks
    }

    /// Mean of the block means of slot `i` blocks back (0 = the newest closed block).
    fn slot(&self, back: usize) -> &[f32] {
        let s = (self.head + self.n_blocks - 1 - back) % self.n_blocks;
        &self.means[s * self.k..][..self.k]
    }

    /// Noise variance of column `c`'s block mean: the median over the newest `n` blocks (robust
    /// to a block with a jump).
    fn noise_var(&mut self, c: usize, n: usize) -> f64 {
        self.noise_scratch.clear();
        for b in 0..n.min(self.blocks.len()) {
            let s = (self.head + self.n_blocks - 1 - b) % self.n_blocks;
            let v = self.noise[s * self.k + c];
            if v.is_finite() {
                self.noise_scratch.push(v);
            }
        }
        if self.noise_scratch.is_empty() {
            return 0.0;
        }
        let mid = self.noise_scratch.len() / 2;
        f64::from(
            *self
                .noise_scratch
                .select_nth_unstable_by(mid, f32::total_cmp)
                .1,
        )
    }

    /// Breathing-band ratio over the newest `newest` blocks of the ring, for frames holding `k`
    /// shape values followed by the level: the largest of the [lagged ratios](Self::lagged_ratio)
    /// of the shape (columns `0..k`) and of the level (column `k`) at lags of about 1 s and 2 s
    /// (between them, every rate from 6 to 40 per minute changes by at least half its swing).
    /// The level's ratio is multiplied by `level_scale` (its single column has a heavier noise
    /// tail than the many of the shape, so it gets a higher threshold).
    pub fn breathing_ratio(&mut self, k: usize, newest: usize, level_scale: f64) -> Option<f64> {
        let nb = self.blocks.len().min(newest);
        if k + 1 > self.k || nb < 4 {
            return None;
        }
        // noise of each column once (median over the same blocks), for both lags
        let (mut shape, mut shape2) = (0.0, 0.0);
        for c in 0..k {
            let v = self.noise_var(c, nb);
            shape += v;
            shape2 += v * v;
        }
        let level = self.noise_var(k, nb);
        let mut best: Option<f64> = None;
        for lag in self.lags {
            for (cols, noise) in [(0..k, (shape, shape2)), (k..k + 1, (level, level * level))] {
                // the level: only pairs inside one gain epoch (no AGC step between them)
                let one_epoch = cols.start == k;
                let r0 = self.lagged_ratio(cols, nb, lag, noise, one_epoch).map(|r| {
                    if one_epoch {
                        r * level_scale
                    } else {
                        r
                    }
                });
                if let Some(r) = r0 {
                    best = Some(best.map_or(r, |b| b.max(r)));
                }
            }
        }
        best
    }

    /// Robust change ratio of columns `cols` over the newest `nb` blocks at a lag of `lag`
    /// blocks: the *median* over the block pairs `(i, i + lag)` of `Σ_c (m_{i+lag,c} − m_{i,c})²`,
    /// divided by what noise alone gives for that median (`2 Σ_c σ²_c` times the median of a
    /// chi-square over its degrees of freedom; `noise` is `(Σ_c σ²_c, Σ_c σ⁴_c)` of the block
    /// means). 1 in an empty room; a breathing chest raises every pair, so the median rises. A
    /// residual AGC step or any single jump only changes the `lag` pairs that straddle it (a
    /// minority), and slow drift cancels in a difference, so neither moves the median. Needs at
    /// least 3 pairs.
    fn lagged_ratio(
        &mut self,
        cols: std::ops::Range<usize>,
        nb: usize,
        lag: usize,
        (noise, noise2): (f64, f64),
        one_epoch: bool,
    ) -> Option<f64> {
        let lag = lag.max(1);
        if nb < lag + 3 || nb > self.blocks.len() || cols.end > self.k || cols.is_empty() {
            return None;
        }
        let mut pairs = std::mem::take(&mut self.pair_scratch);
        pairs.clear();
        let len = self.blocks.len();
        let valid = |i: usize| {
            !one_epoch
                || self.blocks[len - nb + i].epochs.0 == self.blocks[len - nb + i + lag].epochs.1
        };
        // the mean difference of each column over the pairs (a slow drift's slope) is removed
        let mut mean = std::mem::take(&mut self.mean_scratch);
        mean.clear();
        mean.resize(cols.len(), 0.0);
        let mut n_valid = 0usize;
        for i in (0..nb - lag).filter(|&i| valid(i)) {
            let a = &self.slot(nb - 1 - i)[cols.clone()];
            let b = &self.slot(nb - 1 - i - lag)[cols.clone()];
            for ((m, x), y) in mean.iter_mut().zip(a).zip(b) {
                *m += f64::from(y - x);
            }
            n_valid += 1;
        }
        mean.iter_mut().for_each(|m| *m /= n_valid.max(1) as f64);
        for i in (0..nb - lag).filter(|&i| valid(i)) {
            let a = &self.slot(nb - 1 - i)[cols.clone()];
            let b = &self.slot(nb - 1 - i - lag)[cols.clone()];
            let s: f64 = a
                .iter()
                .zip(b)
                .zip(&mean)
                .map(|((x, y), m)| (f64::from(y - x) - m).powi(2))
                .sum();
            pairs.push(s);
        }
        self.mean_scratch = mean;
        // the level (one column) needs more pairs for a stable median
        let min_pairs = if one_epoch { MIN_LEVEL_PAIRS } else { 3 };
        if pairs.len() < min_pairs {
            self.pair_scratch = pairs;
            return None;
        }
        let mid = pairs.len() / 2;
        let med = *pairs.select_nth_unstable_by(mid, f64::total_cmp).1;
        self.pair_scratch = pairs;
        // median of chi-square(nu) / nu (Wilson–Hilferty), nu the effective degrees of freedom
        let nu = if noise2 > 0.0 {
            (noise * noise / noise2).max(1.0)
        } else {
            1.0
        };
        let chi_med = (1.0 - 2.0 / (9.0 * nu)).powi(3);
        let expected = 2.0 * noise * chi_med;
        Some((med + RATIO_FLOOR) / (expected + RATIO_FLOOR))
    }

    /// Mean over the newest `n` blocks of columns `cols`, written into `out`; returns the RMS
    /// noise standard deviation of one column of that mean.
    pub fn recent_mean(
        &mut self,
        n: usize,
        cols: std::ops::Range<usize>,
        out: &mut Vec<f32>,
    ) -> Option<f64> {
        let n = n.min(self.blocks.len());
        if n == 0 || cols.end > self.k || cols.is_empty() {
            return None;
        }
        out.clear();
        out.resize(cols.len(), 0.0);
        for b in 0..n {
            for (o, v) in out.iter_mut().zip(&self.slot(b)[cols.clone()]) {
                *o += v / n as f32;
            }
        }
        let mut var = 0.0;
        for c in cols.clone() {
            var += self.noise_var(c, self.blocks.len());
        }
        Some((var / cols.len() as f64 / n as f64).sqrt())
    }
}

/// RMS difference between two shapes.
pub(crate) fn rms_diff(a: &[f32], b: &[f32]) -> f64 {
    if a.is_empty() || a.len() != b.len() {
        return f64::NAN;
    }
    let s: f64 = a.iter().zip(b).map(|(x, y)| f64::from(x - y).powi(2)).sum();
    (s / a.len() as f64).sqrt()
}

/// Measured frame interval from the timestamps: the crate's [`RateEstimator`] (median of the
/// recent intervals), refreshed every 32 frames so the per-frame cost stays small.
#[derive(Clone, Debug)]
pub(crate) struct IntervalMeter {
    est: RateEstimator,
    frames: u64,
    interval_s: f64,
    rate_hz: Option<f64>,
}

impl Default for IntervalMeter {
    fn default() -> Self {
        IntervalMeter {
            est: RateEstimator::new(64, 4),
            frames: 0,
            interval_s: 0.0,
            rate_hz: None,
        }
    }
}

impl IntervalMeter {
    pub fn push(&mut self, t: i64) {
        self.est.push(t);
        self.frames += 1;
        if self.frames % 32 == 5 || self.rate_hz.is_none() {
            if let Some(r) = self.est.estimate() {
                if r.rate_hz.is_finite() && r.rate_hz > 0.0 {
                    self.rate_hz = Some(r.rate_hz);
                    self.interval_s = 1.0 / r.rate_hz;
                }
            }
        }
    }

    /// Median interval, s (0 before it is known).
    pub fn interval_s(&self) -> f64 {
        self.interval_s
    }

    /// Measured rate, Hz.
    pub fn rate_hz(&self) -> Option<f64> {
        self.rate_hz
    }
}

/// Smallest level jump in one frame taken for an AGC step (0.5 dB in natural-log units).
const STEP_MIN: f64 = 0.06;
/// A level jump larger than this many noise standard deviations is a step whatever the shape
/// does.
const STEP_SIGMAS: f64 = 10.0;
/// A level jump larger than this many noise standard deviations is a step when the shape did
/// not change beyond noise in the same frame (a *common* step: a gain change scales every
/// subcarrier alike, a body changes them differently). Pure noise exceeds 4 σ about once in
/// 16 000 quiet frames; such a false step is undone by the refinement and costs nothing but
/// a few frames of the level's motion evidence.
const COMMON_STEP_SIGMAS: f64 = 4.0;
/// The shape counts as unchanged while its jump (see [`MotionRatio::shape_jump`]) stays below
/// `1 + SHAPE_QUIET_SDS × √(2 / k)`: this many standard deviations of its noise-only
/// distribution (a chi-square over `k` degrees of freedom, divided by `k`).
const SHAPE_QUIET_SDS: f64 = 5.0;

/// Largest shape jump of a frame with a common (gain) step, for `k` shape values.
fn shape_quiet_limit(k: usize) -> f64 {
    1.0 + SHAPE_QUIET_SDS * (2.0 / k.max(1) as f64).sqrt()
}
/// Quiet frames needed before a jump counts as an AGC step.
const QUIET_BEFORE_STEP: usize = 3;

/// Frames averaged on each side of an AGC step to refine its size.
const STEP_REFINE: usize = 8;

/// The AGC-compensated common level `c̃` (see the [module docs](self)). A step is first removed
/// with its one-frame size, then refined with the means of [`STEP_REFINE`] frames before and
/// after it, so the remaining error is well below the noise of a block mean.
#[derive(Clone, Debug, Default)]
pub(crate) struct LevelTracker {
    prev: Option<f64>,
    offset: f64,
    noise_var: f64,
    recent: [f64; STEP_REFINE],
    n_recent: usize,
    head: usize,
    /// `(mean before the step, sum after it, frames after it)`.
    pending: Option<(f64, f64, usize)>,
    /// Frames left during which lagged level differences may span a step.
    blind: usize,
    /// Consecutive frames whose level changed by less than 4 noise standard deviations.
    quiet_run: usize,
    epoch: u32,
}

impl LevelTracker {
    /// The compensated level of a frame with mean amplitude `mean_amp`; `noise_var` is the
    /// noise variance of a level difference from the cross-subcarrier estimate of
    /// [`MotionRatio::level_noise_var`] (0 when not known yet), which motion does not inflate.
    ///
    /// `shape_quiet` tells whether the shape stayed within noise in this frame (see
    /// [`shape_quiet_limit`]): a smaller jump (from [`COMMON_STEP_SIGMAS`] noise standard
    /// deviations up) then also counts as a step, since only a common gain change moves the
    /// level without moving the shape.
    pub fn push(&mut self, mean_amp: f64, noise_var: f64, shape_quiet: bool) -> f64 {
        let c = mean_amp.max(1e-30).ln();
        if noise_var > 0.0 && noise_var.is_finite() {
            self.noise_var = noise_var;
        }
        if let Some(p) = self.prev {
            let d = c - p;
            let sd = self.noise_var.sqrt();
            let sigmas = if shape_quiet && sd > 0.0 {
                COMMON_STEP_SIGMAS
            } else {
                STEP_SIGMAS
            };
            // a step is a jump out of a quiet stretch; inside motion, jumps are the motion
            if d.abs() > (sigmas * sd).max(STEP_MIN) && self.quiet_run >= QUIET_BEFORE_STEP {
                self.finish_step();
                self.offset += d;
                self.blind = MAX_LAG + 1;
                self.epoch = self.epoch.wrapping_add(1);
                let n = self.n_recent.max(1);
                let before = self.recent[..self.n_recent.min(STEP_REFINE)]
                    .iter()
                    .sum::<f64>()
                    / n as f64;
                self.pending = (self.n_recent > 0).then_some((before, 0.0, 0));
            }
        }
        if let Some(p) = self.prev {
            let d = c - p;
            if d.abs() < 4.0 * self.noise_var.sqrt() || self.noise_var == 0.0 {
                self.quiet_run += 1;
            } else {
                self.quiet_run = 0;
            }
        }
        self.prev = Some(c);
        let out = c - self.offset;
        if let Some((_, sum, n)) = &mut self.pending {
            *sum += out;
            *n += 1;
            if *n >= STEP_REFINE {
                self.finish_step();
            }
        }
        let out = c - self.offset;
        self.blind = self.blind.saturating_sub(1);
        self.recent[self.head] = out;
        self.head = (self.head + 1) % STEP_REFINE;
        self.n_recent = (self.n_recent + 1).min(STEP_REFINE);
        out
    }

    /// [`push`](Self::push) for a frame with shape `x`, with the noise and the shape's jump
    /// taken from the node's motion ratio (before the frame is pushed there).
    pub fn push_frame(&mut self, mean_amp: f64, x: &[f32], motion: Option<&MotionRatio>) -> f64 {
        let noise = motion.map_or(0.0, MotionRatio::level_noise_var);
        let quiet = motion
            .and_then(|m| m.shape_jump(x))
            .is_some_and(|j| j < shape_quiet_limit(x.len()));
        self.push(mean_amp, noise, quiet)
    }

    /// `true` while a lagged level difference may span a compensated step (the motion ratio
    /// then leaves the level out).
    pub fn blind(&self) -> bool {
        self.blind > 0
    }

    /// Counts the changes of the level's compensation (a detected AGC step and its
    /// refinement): the compensated level has no step inside one epoch.
    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    fn finish_step(&mut self) {
        if let Some((before, sum, n)) = self.pending.take() {
            if n > 0 {
                let after = sum / n as f64;
                self.offset += after - before;
                self.epoch = self.epoch.wrapping_add(1);
                self.blind = MAX_LAG + 1;
                // the frames kept for the next step were compensated with the old offset
                for r in &mut self.recent {
                    *r -= after - before;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_skip_zero_and_constant() {
        let mut sel = ColumnSelector::new();
        let mut out = None;
        for i in 0..PROBE_FRAMES {
            let amps = [5.0, 0.0, 3.0 + i as f32 * 0.1, 4.0 - i as f32 * 0.1, 7.0];
            out = sel.push(&amps, 5);
        }
        let c = out.unwrap();
        assert_eq!(c.index, vec![2, 3]);
        assert_eq!(c.continues, vec![false, true]);
    }

    #[test]
    fn common_step_below_ten_sigma_is_removed_only_when_the_shape_is_quiet() {
        // level-difference noise sd 0.014 (ESP32 at SNR 20 dB); a 1 dB step is about 8 sd
        let noise_var = 0.014f64.powi(2);
        let step = 10f64.powf(1.0 / 20.0);
        for (quiet, removed) in [(true, true), (false, false)] {
            let mut l = LevelTracker::default();
            let mut out = Vec::new();
            for f in 0..40 {
                let wobble = if f % 2 == 0 { 1.0 } else { 1.002 };
                let amp = if f < 20 { 20.0 } else { 20.0 * step } * wobble;
                out.push(l.push(amp, noise_var, quiet));
            }
            let jump = (out[30] - out[10]).abs();
            assert_eq!(jump < 0.02, removed, "quiet {quiet}: jump {jump}");
            assert_eq!(l.epoch() > 0, removed);
        }
    }

    /// Deterministic pseudo-noise, uniform in `[-0.5, 0.5)`.
    fn pseudo_noise(seed: u64) -> impl FnMut() -> f64 {
        let mut s = seed;
        move || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 33) as f64 / (1u64 << 31) as f64) - 0.5
        }
    }

    #[test]
    fn white_noise_ratio_near_one() {
        let mut rnd = pseudo_noise(12345);
        let k = 50;
        let cols = Columns::new((0..k).collect(), k);
        // both noise estimates agree on noise independent across subcarriers and frames
        for temporal in [false, true] {
            let mut m = MotionRatio::new(k, 1.0, 0.02, temporal);
            let mut r = None;
            for f in 0..400 {
                let x: Vec<f32> = (0..k).map(|_| 1.0 + 0.05 * rnd() as f32).collect();
                r = m.push(f * 10_000_000, &x, 0.0, false, &cols, 0.01);
            }
            let r = r.unwrap();
            assert!((0.8..1.25).contains(&r), "temporal {temporal}: {r}");
        }
    }

    /// A real ESP32-like still room at 100 Hz: every frame a new shape error that is smooth
    /// across subcarriers (a random tilt and bow) and a new common gain (`level` jitter of
    /// 0.2), both independent from frame to frame; from frame `move_from` on, a slow (0.7 Hz)
    /// smooth change of the shape as a moving body makes. Returns the ratio of every frame.
    fn smooth_noise_run(move_from: usize, frames: usize, temporal: bool) -> Vec<Option<f64>> {
        let mut rnd = pseudo_noise(777);
        let k = 52;
        let cols = Columns::new((0..k).collect(), k);
        let mut m = MotionRatio::new(k, 0.5, 0.1, temporal);
        let mut out = Vec::new();
        for f in 0..frames {
            let (tilt, bow, gain) = (0.1 * rnd(), 0.1 * rnd(), 0.2 * rnd());
            let body = if f >= move_from {
                0.25 * (2.0 * std::f64::consts::PI * 0.7 * f as f64 * 0.01).sin()
            } else {
                0.0
            };
            let x: Vec<f32> = (0..k)
                .map(|i| {
                    let u = i as f64 / k as f64 - 0.5;
                    let small = 0.002 * rnd();
                    (1.0 + tilt * u + bow * (u * u - 1.0 / 12.0) + body * (3.0 * u).cos() + small)
                        as f32
                })
                .collect();
            let r = m.push(f as i64 * 10_000_000, &x, gain, false, &cols, 0.01);
            out.push(r);
        }
        out
    }

    #[test]
    fn noise_smooth_across_subcarriers_is_not_motion() {
        // the cross-subcarrier estimate sees almost none of this noise: alone, it reads a
        // still room as strong motion ...
        let r = smooth_noise_run(usize::MAX, 3000, false);
        let mean = r[400..].iter().map(|r| r.unwrap()).sum::<f64>() / 2600.0;
        assert!(
            mean > 10.0,
            "cross-subcarrier estimate alone: mean ratio {mean}"
        );
        // ... the temporal estimate sees it
        let r = smooth_noise_run(usize::MAX, 3000, true);
        let late: Vec<f64> = r[400..].iter().map(|r| r.unwrap()).collect();
        let max = late.iter().copied().fold(0.0, f64::max);
        let mean = late.iter().sum::<f64>() / late.len() as f64;
        assert!((0.8..1.3).contains(&mean), "mean ratio {mean}");
        // never as high as the default threshold that starts motion (3.5)
        assert!(max < 3.0, "max ratio {max}");
    }

    #[test]
    fn slow_motion_over_smooth_noise_is_seen() {
        let r = smooth_noise_run(1500, 3000, true);
        let before = r[1000..1500].iter().map(|r| r.unwrap()).fold(0.0, f64::max);
        let during: Vec<f64> = r[1600..].iter().map(|r| r.unwrap()).collect();
        let above = during.iter().filter(|&&v| v > 3.5).count() as f64 / during.len() as f64;
        assert!(before < 3.0, "still: {before}");
        assert!(above > 0.7, "moving: {above} of frames above 3.5");
    }
}
