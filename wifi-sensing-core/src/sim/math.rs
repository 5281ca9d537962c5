//! Deterministic elementary functions.
//!
//! The standard library's `sin`, `cos`, `ln`, `exp` and `powf` call the platform's maths library,
//! whose last-bit rounding differs between operating systems and versions. The simulator promises
//! byte-identical output for a given seed everywhere, so every transcendental function it uses
//! is computed here from IEEE-754 basic operations only (`+ − × ÷`, `sqrt`, `round`, `floor`,
//! bit manipulation), which are exactly specified and never fused by the compiler.
//!
//! Accuracy is a few units in the last place over the ranges the simulator uses (checked against
//! the standard library in the tests).

use std::f64::consts::{LN_10, PI};

/// π/2 split in three parts (33 + 33 + 53 significant bits) for exact range reduction.
const PIO2_1: f64 = f64::from_bits(0x3FF9_21FB_5440_0000);
const PIO2_2: f64 = f64::from_bits(0x3DD0_B461_1A60_0000);
const PIO2_3: f64 = f64::from_bits(0x3BA3_198A_2E03_7073);
/// ln 2 split in a high part with trailing zero bits and the remainder.
const LN2_HI: f64 = f64::from_bits(0x3FE6_2E42_FEE0_0000);
const LN2_LO: f64 = f64::from_bits(0x3DEA_39EF_3579_3C76);

/// `1 / ((2n)(2n+1))` for n = 1..9: the sine series ratios.
const SIN_C: [f64; 9] = [
    1.0 / 6.0,
    1.0 / 20.0,
    1.0 / 42.0,
    1.0 / 72.0,
    1.0 / 110.0,
    1.0 / 156.0,
    1.0 / 210.0,
    1.0 / 272.0,
    1.0 / 342.0,
];
/// `1 / ((2n−1)(2n))` for n = 1..9: the cosine series ratios.
const COS_C: [f64; 9] = [
    1.0 / 2.0,
    1.0 / 12.0,
    1.0 / 30.0,
    1.0 / 56.0,
    1.0 / 90.0,
    1.0 / 132.0,
    1.0 / 182.0,
    1.0 / 240.0,
    1.0 / 306.0,
];
/// `1 / (2n + 1)` for n = 0..10: the atanh series coefficients.
const LN_C: [f64; 11] = [
    1.0,
    1.0 / 3.0,
    1.0 / 5.0,
    1.0 / 7.0,
    1.0 / 9.0,
    1.0 / 11.0,
    1.0 / 13.0,
    1.0 / 15.0,
    1.0 / 17.0,
    1.0 / 19.0,
    1.0 / 21.0,
];
/// `1 / n!` for n = 0..16: the exponential series coefficients.
const EXP_C: [f64; 17] = [
    1.0,
    1.0,
    1.0 / 2.0,
    1.0 / 6.0,
    1.0 / 24.0,
    1.0 / 120.0,
    1.0 / 720.0,
    1.0 / 5040.0,
    1.0 / 40320.0,
    1.0 / 362880.0,
    1.0 / 3628800.0,
    1.0 / 39916800.0,
    1.0 / 479001600.0,
    1.0 / 6227020800.0,
    1.0 / 87178291200.0,
    1.0 / 1307674368000.0,
    1.0 / 20922789888000.0,
];

/// Sine and cosine of `r` for |r| <= π/4: Taylor series to degree 19 and 18 in nested
/// (Horner) form; the first omitted terms are below 1e-19.
fn kernel(r: f64) -> (f64, f64) {
    let z = r * r;
    // sin r = r (1 - z/(2·3) (1 - z/(4·5) (1 - ...)))
    let mut s = 1.0;
    // cos r = 1 - z/(1·2) (1 - z/(3·4) (1 - ...))
    let mut c = 1.0;
    for n in (0..9).rev() {
        s = 1.0 - z * SIN_C[n] * s;
        c = 1.0 - z * COS_C[n] * c;
    }
    (r * s, c)
}

/// `(sin x, cos x)`. Non-finite input gives `(NaN, NaN)`.
///
/// Accurate to about 1e-16 absolute for |x| up to 1e6; larger arguments lose accuracy (the
/// simulator reduces its phases to one turn first, see [`sin_cos_turns`]).
pub fn sin_cos(x: f64) -> (f64, f64) {
    if !x.is_finite() {
        return (f64::NAN, f64::NAN);
    }
    let k = (x * std::f64::consts::FRAC_2_PI).round();
    let r = ((x - k * PIO2_1) - k * PIO2_2) - k * PIO2_3;
    let (s, c) = kernel(r);
    // Quadrant k mod 4, computed without overflow for any finite k.
    let q = (k - 4.0 * (k / 4.0).floor()) as i64;
    match q {
        0 => (s, c),
        1 => (c, -s),
        2 => (-s, -c),
        _ => (-c, s),
    }
}

/// `(sin 2πt, cos 2πt)` for an angle given in turns; only the fractional part of `t` matters,
/// so large `t` (a phase accumulated over hours) keeps full accuracy.
pub fn sin_cos_turns(t: f64) -> (f64, f64) {
    sin_cos(2.0 * PI * (t - t.round()))
}

/// Sine.
pub fn sin(x: f64) -> f64 {
    sin_cos(x).0
}

/// Cosine.
pub fn cos(x: f64) -> f64 {
    sin_cos(x).1
}

/// Natural logarithm. `ln(0) = -inf`, negative or NaN input gives NaN, `ln(inf) = inf`.
pub fn ln(x: f64) -> f64 {
    if x.is_nan() || x < 0.0 {
        return f64::NAN;
    }
    if x == 0.0 {
        return f64::NEG_INFINITY;
    }
    if x.is_infinite() {
        return f64::INFINITY;
    }
    let (mut x, mut e) = (x, 0i64);
    if x < f64::MIN_POSITIVE {
        // Subnormal: scale into the normal range first.
        x *= f64::from_bits(0x4350_0000_0000_0000); // 2^54
        e -= 54;
    }
    let bits = x.to_bits();
    e += ((bits >> 52) & 0x7FF) as i64 - 1023;
    let mut m = f64::from_bits((bits & 0x000F_FFFF_FFFF_FFFF) | 0x3FF0_0000_0000_0000); // [1, 2)
    if m > std::f64::consts::SQRT_2 {
        m *= 0.5;
        e += 1;
    }
    // ln m = 2 atanh z, z = (m - 1)/(m + 1), |z| <= 0.1716.
    let z = (m - 1.0) / (m + 1.0);
    let w = z * z;
    let mut series = 0.0;
    for c in LN_C.iter().rev() {
        series = c + w * series;
    }
    let ef = e as f64;
    ef * LN2_HI + (2.0 * z * series + ef * LN2_LO)
}

/// `e^x`. Overflows to `inf` above about 709.78 and underflows to 0 below about −745.
pub fn exp(x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    if x > 709.782_712_893_384 {
        return f64::INFINITY;
    }
    if x < -745.2 {
        return 0.0;
    }
    let k = (x / std::f64::consts::LN_2).round();
    let r = (x - k * LN2_HI) - k * LN2_LO;
    // Taylor series of e^r, |r| <= 0.35, to degree 16.
    let mut sum = 0.0;
    for c in EXP_C.iter().rev() {
        sum = c + r * sum;
    }
    let k = k as i64;
    // Multiply by 2^k in at most two exact steps so subnormal results stay correct.
    let k1 = k.clamp(-1022, 1023);
    let k2 = (k - k1).clamp(-1022, 1023);
    sum * pow2(k1) * pow2(k2)
}

fn pow2(k: i64) -> f64 {
    f64::from_bits(((k + 1023) as u64) << 52)
}

/// `10^x`.
pub fn pow10(x: f64) -> f64 {
    exp(x * LN_10)
}

/// Base-10 logarithm.
pub fn log10(x: f64) -> f64 {
    ln(x) / LN_10
}

/// Linear amplitude ratio of a level in dB (`10^(db/20)`).
pub fn db_to_amplitude(db: f64) -> f64 {
    pow10(db / 20.0)
}

/// Level in dB of a power ratio (`10 log10 p`).
pub fn power_to_db(p: f64) -> f64 {
    10.0 * log10(p)
}

/// `(4π)^{3/2}`, the constant of the radar equation in amplitude form.
pub fn sqrt_4pi_cubed() -> f64 {
    let f = 4.0 * PI;
    f * f.sqrt()
}

/// Degrees to radians (a plain multiplication, spelled out for clarity).
pub fn deg(x: f64) -> f64 {
    x * (PI / 180.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_tables() {
        for n in 1..=9 {
            let a = 2.0 * n as f64;
            assert_eq!(SIN_C[n - 1], 1.0 / (a * (a + 1.0)));
            assert_eq!(COS_C[n - 1], 1.0 / ((a - 1.0) * a));
        }
        let mut f = 1.0;
        for (n, c) in EXP_C.iter().enumerate() {
            if n > 0 {
                f *= n as f64;
            }
            assert_eq!(*c, 1.0 / f);
        }
        for (n, c) in LN_C.iter().enumerate() {
            assert_eq!(*c, 1.0 / (2 * n + 1) as f64);
        }
    }

    #[test]
    fn pi_split_is_exact_enough() {
        let sum = PIO2_1 + PIO2_2 + PIO2_3;
        assert_eq!(sum, std::f64::consts::FRAC_PI_2);
        assert_eq!(LN2_HI + LN2_LO, std::f64::consts::LN_2);
    }

    #[test]
    fn sin_cos_match_std() {
        let mut worst: f64 = 0.0;
        let mut x: f64 = -2000.0;
        while x < 2000.0 {
            let (s, c) = sin_cos(x);
            worst = worst.max((s - x.sin()).abs()).max((c - x.cos()).abs());
            x += 0.0137;
        }
        assert!(worst < 5e-15, "worst error {worst}");
        for x in [0.0, 1e-300, -1e-10, PI, -PI, 0.5 * PI, 1e5 + 0.3] {
            let (s, c) = sin_cos(x);
            assert!(
                (s - x.sin()).abs() < 1e-13 && (c - x.cos()).abs() < 1e-13,
                "{x}"
            );
        }
        assert!(sin_cos(f64::NAN).0.is_nan());
        assert!(sin_cos(f64::INFINITY).1.is_nan());
    }

    #[test]
    fn turns_use_fraction_only() {
        let (s1, c1) = sin_cos_turns(0.125);
        let (s2, c2) = sin_cos_turns(1e9 + 0.125);
        assert!((s1 - s2).abs() < 1e-6 && (c1 - c2).abs() < 1e-6);
        assert!((s1 - (PI / 4.0).sin()).abs() < 1e-15);
    }

    #[test]
    fn ln_exp_match_std() {
        let mut x: f64 = 1e-300;
        while x < 1e300 {
            let rel = (ln(x) - x.ln()).abs() / x.ln().abs().max(1e-300);
            assert!(
                rel < 4e-16 || (ln(x) - x.ln()).abs() < 4e-16,
                "ln {x}: {} vs {}",
                ln(x),
                x.ln()
            );
            x *= 1.37;
        }
        for x in [
            0.5,
            1.0,
            1.5,
            2.0,
            std::f64::consts::SQRT_2,
            1e-310,
            4.9e-324,
        ] {
            assert!(
                (ln(x) - x.ln()).abs() <= 1e-15 * x.ln().abs().max(1.0),
                "ln {x}"
            );
        }
        assert_eq!(ln(0.0), f64::NEG_INFINITY);
        assert!(ln(-1.0).is_nan());
        let mut x: f64 = -740.0;
        while x < 709.0 {
            let e = x.exp();
            assert!(
                ((exp(x) - e) / e).abs() < 2e-15,
                "exp {x}: {} vs {e}",
                exp(x)
            );
            x += 0.731;
        }
        assert_eq!(exp(1000.0), f64::INFINITY);
        assert_eq!(exp(-1000.0), 0.0);
        assert!((pow10(2.0) - 100.0).abs() < 1e-12);
        assert!((log10(1000.0) - 3.0).abs() < 1e-15);
        assert!((db_to_amplitude(20.0) - 10.0).abs() < 1e-13);
    }
}
