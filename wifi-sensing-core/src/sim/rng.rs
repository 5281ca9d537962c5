//! Seeded pseudo-random numbers, identical on every platform.
//!
//! The generator is xoshiro256** (Blackman and Vigna), seeded through splitmix64. Normal
//! variates use the Box–Muller transform with the [deterministic maths](super::math) of this
//! module tree, so the whole stream is reproducible bit for bit.
//!
//! The simulator does not share one sequential stream between its random processes. Each
//! process owns a *stream id*, and each frame (or heartbeat, or body) derives a fresh generator
//! from `(seed, stream, index)` with [`Rng::for_stream`]. Switching one impairment off, or
//! dropping a frame, therefore never changes the random numbers of any other frame or process.

use super::math::{ln, sin_cos_turns};

/// One step of splitmix64: advances `state` and returns the next output.
pub fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// xoshiro256** generator with a cached second normal variate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rng {
    s: [u64; 4],
    spare: Option<u64>,
}

impl Rng {
    /// A generator whose 256-bit state is filled by splitmix64 from `seed`.
    ///
    /// ```
    /// use wifi_sensing_core::sim::rng::Rng;
    /// let mut a = Rng::new(7);
    /// let mut b = Rng::new(7);
    /// assert_eq!(a.next_u64(), b.next_u64());
    /// ```
    pub fn new(seed: u64) -> Self {
        let mut sm = seed;
        let mut s = [0u64; 4];
        for v in &mut s {
            *v = splitmix64(&mut sm);
        }
        if s == [0; 4] {
            // The all-zero state is the one fixed point of xoshiro; splitmix64 never yields four
            // zeros in a row, but keep the generator valid regardless.
            s[0] = 1;
        }
        Rng { s, spare: None }
    }

    /// A generator from an explicit state (for known-answer tests).
    pub fn from_state(s: [u64; 4]) -> Self {
        Rng { s, spare: None }
    }

    /// The generator of item `index` of random process `stream` under `seed`.
    pub fn for_stream(seed: u64, stream: u64, index: u64) -> Self {
        let mut a = seed;
        let mut b = stream ^ 0x5EED_0F57_AEA0_0001;
        let mut c = index ^ 0x1D3A_C0DE_0000_0002;
        let mixed = splitmix64(&mut a)
            ^ splitmix64(&mut b).rotate_left(21)
            ^ splitmix64(&mut c).rotate_left(42);
        Rng::new(mixed)
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in `[0, 1)`, 53 random bits.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Standard normal variate (mean 0, variance 1), Box–Muller.
    pub fn normal(&mut self) -> f64 {
        if let Some(bits) = self.spare.take() {
            return f64::from_bits(bits);
        }
        let u1 = 1.0 - self.uniform(); // (0, 1]
        let u2 = self.uniform();
        let r = (-2.0 * ln(u1)).sqrt();
        let (s, c) = sin_cos_turns(u2);
        self.spare = Some((r * s).to_bits());
        r * c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_known_answer() {
        let mut s = 0u64;
        assert_eq!(splitmix64(&mut s), 0xE220_A839_7B1D_CDAF);
        assert_eq!(splitmix64(&mut s), 0x6E78_9E6A_A1B9_65F4);
    }

    #[test]
    fn xoshiro_known_answer() {
        // Reference outputs of xoshiro256** from the state {1, 2, 3, 4}.
        let mut r = Rng::from_state([1, 2, 3, 4]);
        assert_eq!(r.next_u64(), 11520);
        assert_eq!(r.next_u64(), 0);
        assert_eq!(r.next_u64(), 1_509_978_240);
        assert_eq!(r.next_u64(), 1_215_971_899_390_074_240);
    }

    #[test]
    fn streams_differ_and_repeat() {
        let a: Vec<u64> = (0..4)
            .map(|i| Rng::for_stream(7, 1, i).next_u64())
            .collect();
        let b: Vec<u64> = (0..4)
            .map(|i| Rng::for_stream(7, 1, i).next_u64())
            .collect();
        assert_eq!(a, b);
        assert_ne!(
            Rng::for_stream(7, 1, 0).next_u64(),
            Rng::for_stream(7, 2, 0).next_u64()
        );
        assert_ne!(
            Rng::for_stream(7, 1, 0).next_u64(),
            Rng::for_stream(8, 1, 0).next_u64()
        );
    }

    #[test]
    fn normal_moments() {
        let mut r = Rng::new(42);
        let n = 200_000;
        let (mut s1, mut s2) = (0.0, 0.0);
        for _ in 0..n {
            let x = r.normal();
            s1 += x;
            s2 += x * x;
        }
        let mean = s1 / n as f64;
        let var = s2 / n as f64 - mean * mean;
        assert!(mean.abs() < 0.01, "mean {mean}");
        assert!((var - 1.0).abs() < 0.01, "var {var}");
        let u: f64 = (0..10_000).map(|_| r.uniform()).fold(0.0, f64::max);
        assert!(u < 1.0 && u > 0.99);
    }
}
