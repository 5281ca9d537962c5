//! Small numeric helpers whose rounding follows numpy, so the Rosenstein and Grassberger-Procaccia
//! results can be compared with nolds to the last few bits.

/// Sum in the order numpy's `add.reduce` uses for a contiguous `f64` array (pairwise summation:
/// eight interleaved accumulators over blocks of at most 128 values, halves split on multiples of
/// eight). Bit-identical to `numpy.sum` on the same values.
pub(crate) fn pairwise_sum(a: &[f64]) -> f64 {
    let n = a.len();
    if n < 8 {
        let mut res = -0.0;
        for &v in a {
            res += v;
        }
        res
    } else if n <= 128 {
        let mut r = [0.0f64; 8];
        r.copy_from_slice(&a[..8]);
        let mut i = 8;
        while i < n - (n % 8) {
            for (j, rj) in r.iter_mut().enumerate() {
                *rj += a[i + j];
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        while i < n {
            res += a[i];
            i += 1;
        }
        res
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        pairwise_sum(&a[..n2]) + pairwise_sum(&a[n2..])
    }
}

/// Euclidean distance between two equal-length vectors, summed left to right as numpy does for
/// a short contiguous row (`sqrt(sum((a - b)**2))`). `(a-b)^2 == (b-a)^2` exactly, so the
/// result is symmetric.
#[inline]
pub(crate) fn euclid(a: &[f64], b: &[f64]) -> f64 {
    let mut s = 0.0;
    for (x, y) in a.iter().zip(b) {
        let d = y - x;
        s += d * d;
    }
    s.sqrt()
}

/// Slope of the least-squares line through `(x[i], y[i])` (what `numpy.polyfit(x, y, 1)[0]`
/// returns, up to its SVD rounding). `None` for fewer than two points or when all `x` coincide.
pub(crate) fn ls_slope(x: &[f64], y: &[f64]) -> Option<f64> {
    let n = x.len().min(y.len());
    if n < 2 {
        return None;
    }
    let nf = n as f64;
    let mx = x[..n].iter().sum::<f64>() / nf;
    let my = y[..n].iter().sum::<f64>() / nf;
    let (mut sxx, mut sxy) = (0.0, 0.0);
    for i in 0..n {
        let dx = x[i] - mx;
        sxx += dx * dx;
        sxy += dx * (y[i] - my);
    }
    if sxx > 0.0 {
        Some(sxy / sxx)
    } else {
        None
    }
}

/// Mean and population standard deviation (two-pass).
pub(crate) fn mean_std(x: &[f64]) -> (f64, f64) {
    if x.is_empty() {
        return (0.0, 0.0);
    }
    let n = x.len() as f64;
    let m = x.iter().sum::<f64>() / n;
    let v = x.iter().map(|&v| (v - m) * (v - m)).sum::<f64>() / n;
    (m, v.sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairwise_matches_plain_sum_closely() {
        let v: Vec<f64> = (0..1000).map(|i| (i as f64 * 0.37).sin()).collect();
        let plain: f64 = v.iter().sum();
        assert!((pairwise_sum(&v) - plain).abs() < 1e-12);
        assert_eq!(pairwise_sum(&[]), 0.0);
        assert_eq!(pairwise_sum(&[1.0, 2.0, 3.0]), 6.0);
    }

    #[test]
    fn slope_of_a_line() {
        let x = [0.0, 1.0, 2.0, 3.0];
        let y = [1.0, 3.0, 5.0, 7.0];
        assert!((ls_slope(&x, &y).unwrap() - 2.0).abs() < 1e-15);
        assert!(ls_slope(&[1.0], &[1.0]).is_none());
        assert!(ls_slope(&[1.0, 1.0], &[1.0, 2.0]).is_none());
    }
}
