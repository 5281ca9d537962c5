//! Seeded synthetic signal families for the dynamics tests: constant + noise (idle), sines and
//! harmonics and periodic map orbits (periodic), logistic / Henon / Lorenz (chaotic), steps and
//! bursts on a noisy background (transient). Each generator draws its own parameters (period,
//! amplitude, offset, noise level, onset) from the seed, and every signal gets a random offset and
//! scale spanning several decades, so no family has a fixed amplitude.
#![allow(dead_code)]

use wifi_sensing_introspect::dynamics::Regime;

/// SplitMix64: small, seedable, good enough for test signals.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    pub fn f(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn range(&mut self, a: f64, b: f64) -> f64 {
        a + (b - a) * self.f()
    }
    /// Log-uniform in [a, b].
    pub fn log_range(&mut self, a: f64, b: f64) -> f64 {
        (a.ln() + (b.ln() - a.ln()) * self.f()).exp()
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.f() * n as f64) as usize % n.max(1)
    }
    /// Standard normal (Box-Muller).
    pub fn gauss(&mut self) -> f64 {
        let u1 = self.f().max(1e-300);
        let u2 = self.f();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

/// Classes the families belong to, in confusion-matrix order.
pub const CLASSES: [Regime; 4] = [
    Regime::Idle,
    Regime::Periodic,
    Regime::Transient,
    Regime::Chaotic,
];

fn affine(rng: &mut Rng, x: &mut [f64]) {
    let scale = rng.log_range(1e-3, 1e3);
    let offset = rng.range(-10.0, 10.0) * scale;
    for v in x.iter_mut() {
        *v = *v * scale + offset;
    }
}

/// Constant plus Gaussian or uniform noise (noise level 1e-6 to 1 relative to the constant).
pub fn idle(rng: &mut Rng, n: usize) -> Vec<f64> {
    let c = rng.range(-5.0, 5.0);
    let s = rng.log_range(1e-6, 1.0);
    let uniform = rng.f() < 0.3;
    let mut x: Vec<f64> = (0..n)
        .map(|_| {
            c + s * if uniform {
                (rng.f() - 0.5) * 12f64.sqrt()
            } else {
                rng.gauss()
            }
        })
        .collect();
    affine(rng, &mut x);
    x
}

/// Sine, sum of harmonics, or a periodic logistic-map orbit, with up to 5 % noise.
pub fn periodic(rng: &mut Rng, n: usize) -> Vec<f64> {
    let kind = rng.below(3);
    let mut x: Vec<f64> = match kind {
        0 | 1 => {
            // At least three periods in the window.
            let period = rng.range(4.0, n as f64 / 3.0);
            let harmonics = if kind == 0 { 1 } else { 2 + rng.below(3) };
            let amps: Vec<f64> = (0..harmonics)
                .map(|h| if h == 0 { 1.0 } else { rng.range(0.2, 1.0) })
                .collect();
            let phases: Vec<f64> = (0..harmonics)
                .map(|_| rng.range(0.0, std::f64::consts::TAU))
                .collect();
            (0..n)
                .map(|t| {
                    (0..harmonics)
                        .map(|h| {
                            amps[h]
                                * ((h + 1) as f64 * std::f64::consts::TAU * t as f64 / period
                                    + phases[h])
                                    .sin()
                        })
                        .sum()
                })
                .collect()
        }
        _ => {
            let r = [3.2, 3.5, 3.83][rng.below(3)];
            let mut v = rng.range(0.2, 0.8);
            for _ in 0..1000 {
                v = r * v * (1.0 - v);
            }
            (0..n)
                .map(|_| {
                    v = r * v * (1.0 - v);
                    v
                })
                .collect()
        }
    };
    let sd = std_of(&x);
    let noise = rng.range(0.0, 0.05) * sd;
    for v in x.iter_mut() {
        *v += noise * rng.gauss();
    }
    affine(rng, &mut x);
    x
}

/// Logistic map (r = 4), Henon x, or Lorenz x / y sampled every 0.04 to 0.06 time units, with up
/// to 1 % observation noise.
pub fn chaotic(rng: &mut Rng, n: usize) -> Vec<f64> {
    let mut x: Vec<f64> = match rng.below(3) {
        0 => {
            let mut v = rng.range(0.05, 0.95);
            for _ in 0..500 {
                v = 4.0 * v * (1.0 - v);
            }
            (0..n)
                .map(|_| {
                    v = 4.0 * v * (1.0 - v);
                    v
                })
                .collect()
        }
        1 => {
            let (mut a, mut b) = (rng.range(-0.1, 0.1), rng.range(-0.1, 0.1));
            let mut out = Vec::with_capacity(n);
            for i in 0..(n + 500) {
                let na = 1.0 - 1.4 * a * a + b;
                b = 0.3 * a;
                a = na;
                if i >= 500 {
                    out.push(a);
                }
            }
            out
        }
        _ => {
            let dt = rng.range(0.04, 0.06);
            let y = rng.f() < 0.5;
            lorenz(rng, n, dt, y)
        }
    };
    let sd = std_of(&x);
    let noise = rng.range(0.0, 0.01) * sd;
    for v in x.iter_mut() {
        *v += noise * rng.gauss();
    }
    affine(rng, &mut x);
    x
}

/// Lorenz (10, 28, 8/3) by RK4 with step 0.005, sampled every `dt`, x or y component.
pub fn lorenz(rng: &mut Rng, n: usize, dt: f64, y_comp: bool) -> Vec<f64> {
    let mut s = [
        rng.range(-10.0, 10.0),
        rng.range(-10.0, 10.0),
        rng.range(10.0, 30.0),
    ];
    let h = 0.005;
    let f = |s: [f64; 3]| {
        [
            10.0 * (s[1] - s[0]),
            s[0] * (28.0 - s[2]) - s[1],
            s[0] * s[1] - 8.0 / 3.0 * s[2],
        ]
    };
    let step = |s: [f64; 3]| {
        let k1 = f(s);
        let k2 = f([
            s[0] + h / 2.0 * k1[0],
            s[1] + h / 2.0 * k1[1],
            s[2] + h / 2.0 * k1[2],
        ]);
        let k3 = f([
            s[0] + h / 2.0 * k2[0],
            s[1] + h / 2.0 * k2[1],
            s[2] + h / 2.0 * k2[2],
        ]);
        let k4 = f([s[0] + h * k3[0], s[1] + h * k3[1], s[2] + h * k3[2]]);
        [
            s[0] + h / 6.0 * (k1[0] + 2.0 * k2[0] + 2.0 * k3[0] + k4[0]),
            s[1] + h / 6.0 * (k1[1] + 2.0 * k2[1] + 2.0 * k3[1] + k4[1]),
            s[2] + h / 6.0 * (k1[2] + 2.0 * k2[2] + 2.0 * k3[2] + k4[2]),
        ]
    };
    for _ in 0..(30.0 / h) as usize {
        s = step(s);
    }
    let sub = (dt / h).round().max(1.0) as usize;
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        for _ in 0..sub {
            s = step(s);
        }
        out.push(if y_comp { s[1] } else { s[0] });
    }
    out
}

/// A level step (8 to 100 noise sigmas) or a burst (a windowed oscillation or noise, 10 to 100
/// noise sigmas, 1/16 to 1/4 of the window long) on a constant-plus-noise background; the event
/// lies between 1/8 and 7/8 of the window.
pub fn transient(rng: &mut Rng, n: usize) -> Vec<f64> {
    let c = rng.range(-5.0, 5.0);
    let s = rng.log_range(1e-4, 1.0);
    let mut x: Vec<f64> = (0..n).map(|_| c + s * rng.gauss()).collect();
    if rng.f() < 0.5 {
        let at = rng.range(n as f64 / 8.0, 7.0 * n as f64 / 8.0) as usize;
        let d = rng.range(8.0, 100.0) * s * if rng.f() < 0.5 { -1.0 } else { 1.0 };
        for v in &mut x[at..] {
            *v += d;
        }
    } else {
        let len = rng.range(n as f64 / 16.0, n as f64 / 4.0) as usize;
        let at = rng.range(n as f64 / 8.0, 7.0 * n as f64 / 8.0 - len as f64) as usize;
        let a = rng.range(10.0, 100.0) * s;
        let period = rng.range(3.0, 12.0);
        let osc = rng.f() < 0.5;
        for k in 0..len {
            let w = (std::f64::consts::PI * (k as f64 + 0.5) / len as f64).sin();
            let e = if osc {
                (std::f64::consts::TAU * k as f64 / period).sin()
            } else {
                rng.gauss()
            };
            x[at + k] += a * w * e;
        }
    }
    affine(rng, &mut x);
    x
}

/// One window of the family of `class`.
pub fn family(class: Regime, rng: &mut Rng, n: usize) -> Vec<f64> {
    match class {
        Regime::Idle => idle(rng, n),
        Regime::Periodic => periodic(rng, n),
        Regime::Chaotic => chaotic(rng, n),
        _ => transient(rng, n),
    }
}

pub fn std_of(x: &[f64]) -> f64 {
    let m = x.iter().sum::<f64>() / x.len() as f64;
    (x.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / x.len() as f64).sqrt()
}

/// A switch in a synthetic stream: frames `at..` belong to the new regime; flags up to
/// `allowed_until` (inclusive) are attributed to it.
#[derive(Clone, Copy, Debug)]
pub struct Switch {
    pub at: usize,
    pub allowed_until: usize,
}

fn normalised(x: Vec<f64>) -> Vec<f64> {
    let m = x.iter().sum::<f64>() / x.len() as f64;
    let s = std_of(&x).max(1e-300);
    x.into_iter().map(|v| (v - m) / s).collect()
}

/// A stream of `segments` stationary segments (idle, periodic, chaotic; consecutive ones differ),
/// each 300 to 600 frames, on one baseline; idle segments may hold a step or a burst. Returns the
/// samples, the true regime per frame (`Transient` on burst frames) and the switches.
pub fn stream(
    rng: &mut Rng,
    segments: usize,
    events: bool,
) -> (Vec<f64>, Vec<Regime>, Vec<Switch>) {
    let scale = rng.log_range(1e-3, 1e3);
    let base = rng.range(-10.0, 10.0) * scale;
    let mut x = Vec::new();
    let mut truth = Vec::new();
    let mut switches = Vec::new();
    let mut prev = Regime::Unknown;
    let mut level = 0.0;
    for k in 0..segments {
        let class = loop {
            let c = [Regime::Idle, Regime::Periodic, Regime::Chaotic][rng.below(3)];
            if c != prev {
                break c;
            }
        };
        let len = 300 + rng.below(301);
        let start = x.len();
        if k > 0 {
            switches.push(Switch {
                at: start,
                allowed_until: start + 32,
            });
        }
        let amp = if class == Regime::Idle {
            rng.range(0.05, 0.3)
        } else {
            rng.range(0.5, 2.0)
        };
        let seg = normalised(match class {
            Regime::Idle => {
                let mut r2 = Rng::new(rng.next_u64());
                (0..len).map(|_| r2.gauss()).collect()
            }
            c => family(c, rng, len),
        });
        let mut labels = vec![class; len];
        let mut seg: Vec<f64> = seg.into_iter().map(|v| level + amp * v).collect();
        if events && class == Regime::Idle && rng.f() < 0.6 && len >= 400 {
            // One event at least 200 frames after the segment start and 150 before its end.
            let at = 200 + rng.below(len - 350);
            if rng.f() < 0.5 {
                let d = rng.range(8.0, 30.0) * amp * if rng.f() < 0.5 { -1.0 } else { 1.0 };
                for v in &mut seg[at..] {
                    *v += d;
                }
                level += d;
                switches.push(Switch {
                    at: start + at,
                    allowed_until: start + at + 32,
                });
            } else {
                let blen = 16 + rng.below(49);
                let a = rng.range(10.0, 30.0) * amp;
                let period = rng.range(3.0, 12.0);
                for j in 0..blen {
                    let w = (std::f64::consts::PI * (j as f64 + 0.5) / blen as f64).sin();
                    seg[at + j] += a * w * (std::f64::consts::TAU * j as f64 / period).sin();
                    labels[at + j] = Regime::Transient;
                }
                switches.push(Switch {
                    at: start + at,
                    allowed_until: start + at + blen + 32,
                });
            }
        }
        x.extend(seg);
        truth.extend(labels);
        prev = class;
    }
    let x = x.into_iter().map(|v| base + scale * v).collect();
    (x, truth, switches)
}

/// Detection figures of one or more streams.
#[derive(Clone, Debug, Default)]
pub struct FlipStats {
    pub switches: usize,
    pub detected: usize,
    pub latencies: Vec<usize>,
    pub flags: usize,
    pub false_flags: usize,
    pub frames: usize,
}

/// Scores the frames where `regime_changed` fired against the switches.
pub fn score_flags(flags: &[usize], switches: &[Switch], frames: usize, s: &mut FlipStats) {
    s.frames += frames;
    s.switches += switches.len();
    s.flags += flags.len();
    for sw in switches {
        if let Some(f) = flags.iter().find(|&&f| f >= sw.at && f <= sw.at + 32) {
            s.detected += 1;
            s.latencies.push(f - sw.at);
        }
    }
    for &f in flags {
        if !switches
            .iter()
            .any(|sw| f >= sw.at && f <= sw.allowed_until)
        {
            s.false_flags += 1;
        }
    }
}
