//! Several templates per label: the signature sessions of one label split into groups of
//! similar sessions (seeded k-means on the weighted feature sequences), each group averaged
//! into a signature of its own with its own spread (`--templates K` of the `early_detection`
//! example). The decider scores a label by its best template, so the confidence still compares
//! labels.

use super::Lcg;

/// Restarts of the k-means (each from its own k-means++ seeding); the lowest within-group cost
/// is kept.
const RESTARTS: u64 = 16;
/// Iterations per restart at most (it stops when no session changes group).
const ITERATIONS: usize = 100;

/// Weighted squared distance of two equally long flattened sequences.
pub fn weighted_sq(a: &[f32], b: &[f32], w: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .zip(w)
        .map(|((x, y), w)| f64::from(*w) * (f64::from(*x) - f64::from(*y)).powi(2))
        .sum()
}

/// Frame-by-frame mean of the sessions `members` of `v`.
fn centre(v: &[Vec<f32>], members: &[usize]) -> Vec<f64> {
    let mut m = vec![0.0f64; v[0].len()];
    for &i in members {
        for (a, b) in m.iter_mut().zip(&v[i]) {
            *a += f64::from(*b);
        }
    }
    let n = members.len().max(1) as f64;
    m.iter_mut().for_each(|a| *a /= n);
    m
}

fn dist_to(x: &[f32], c: &[f64], w: &[f32]) -> f64 {
    x.iter()
        .zip(c)
        .zip(w)
        .map(|((x, c), w)| f64::from(*w) * (f64::from(*x) - c).powi(2))
        .sum()
}

/// One k-means run from a k-means++ seeding drawn with `rng`: the groups (session indices)
/// and the within-group cost.
fn kmeans_once(v: &[Vec<f32>], w: &[f32], k: usize, rng: &mut Lcg) -> (Vec<usize>, f64) {
    let n = v.len();
    let mut centres: Vec<Vec<f64>> = Vec::with_capacity(k);
    let first = (rng.next() % n as u64) as usize;
    centres.push(centre(v, &[first]));
    while centres.len() < k {
        let d: Vec<f64> = v
            .iter()
            .map(|x| {
                centres
                    .iter()
                    .map(|c| dist_to(x, c, w))
                    .fold(f64::INFINITY, f64::min)
            })
            .collect();
        let total: f64 = d.iter().sum();
        let pick = if total > 0.0 {
            let r = total * (rng.next() % 1_000_000) as f64 / 1_000_000.0;
            let mut acc = 0.0;
            d.iter()
                .position(|&di| {
                    acc += di;
                    acc > r
                })
                .unwrap_or(n - 1)
        } else {
            centres.len()
        };
        centres.push(centre(v, &[pick]));
    }
    let mut assign = vec![usize::MAX; n];
    for _ in 0..ITERATIONS {
        let mut changed = false;
        for (i, x) in v.iter().enumerate() {
            let mut best = (f64::INFINITY, 0);
            for (c, m) in centres.iter().enumerate() {
                let d = dist_to(x, m, w);
                if d < best.0 {
                    best = (d, c);
                }
            }
            if assign[i] != best.1 {
                assign[i] = best.1;
                changed = true;
            }
        }
        // An empty group takes the session farthest from its own centre.
        for c in 0..k {
            if !assign.contains(&c) {
                let far = (0..n)
                    .max_by(|&a, &b| {
                        dist_to(&v[a], &centres[assign[a]], w).total_cmp(&dist_to(
                            &v[b],
                            &centres[assign[b]],
                            w,
                        ))
                    })
                    .unwrap_or(0);
                assign[far] = c;
                changed = true;
            }
        }
        for (c, m) in centres.iter_mut().enumerate() {
            let members: Vec<usize> = (0..n).filter(|&i| assign[i] == c).collect();
            *m = centre(v, &members);
        }
        if !changed {
            break;
        }
    }
    let cost = v
        .iter()
        .zip(&assign)
        .map(|(x, &c)| dist_to(x, &centres[c], w))
        .sum();
    (assign, cost)
}

/// Splits the sessions `v` (equally long flattened sequences) into at most `k` groups of at
/// least `min_size` sessions each, by k-means on the squared differences weighed by `w` (one
/// weight per value), seeded with `seed` (the same input gives the same groups). The best of
/// [`RESTARTS`] runs is kept; when no run gives `k` groups of `min_size`, `k - 1` groups are
/// tried, down to one group of all. The groups are sorted by their first session and each
/// lists its sessions in order.
pub fn kmeans_groups(
    v: &[Vec<f32>],
    w: &[f32],
    k: usize,
    min_size: usize,
    seed: u64,
) -> Vec<Vec<usize>> {
    let n = v.len();
    let all = || vec![(0..n).collect::<Vec<usize>>()];
    if n == 0 {
        return Vec::new();
    }
    let min_size = min_size.max(1);
    let mut k = k.min(n / min_size);
    while k > 1 {
        let mut best: Option<(Vec<usize>, f64)> = None;
        let mut rng = Lcg(seed ^ 0x9e37_79b9_7f4a_7c15 ^ k as u64);
        for _ in 0..RESTARTS {
            let (assign, cost) = kmeans_once(v, w, k, &mut rng);
            let sizes_ok = (0..k).all(|c| assign.iter().filter(|&&a| a == c).count() >= min_size);
            if sizes_ok && best.as_ref().is_none_or(|b| cost < b.1) {
                best = Some((assign, cost));
            }
        }
        if let Some((assign, _)) = best {
            let mut groups: Vec<Vec<usize>> = (0..k)
                .map(|c| (0..n).filter(|&i| assign[i] == c).collect())
                .collect();
            groups.sort_by_key(|g| g[0]);
            return groups;
        }
        k -= 1;
    }
    all()
}

/// Mean and variance of each value of the sessions `members` of `v` (the mean accumulated in
/// `f32` as [`super::mean_spread`] does, so one group of all gives the barycentre bit for bit),
/// the variance shrunk towards `pooled` (the variance over all the label's sessions) with
/// `prior` pseudo-sessions: `((n − 1) s² + prior · pooled) / (n − 1 + prior)`. With `prior` 0
/// and one session the variance is 0.
pub fn template(
    v: &[Vec<f32>],
    members: &[usize],
    pooled: &[f64],
    prior: f64,
) -> (Vec<f32>, Vec<f64>) {
    let n = members.len().max(1) as f32;
    let mut m = vec![0.0f32; v[0].len()];
    for &s in members {
        for (a, b) in m.iter_mut().zip(&v[s]) {
            *a += b / n;
        }
    }
    let k = members.len().max(1) as f64;
    let dof = members.len().saturating_sub(1) as f64;
    let var = (0..m.len())
        .map(|i| {
            let mu: f64 = members.iter().map(|&s| f64::from(v[s][i])).sum::<f64>() / k;
            let ss: f64 = members
                .iter()
                .map(|&s| (f64::from(v[s][i]) - mu).powi(2))
                .sum();
            let den = dof + prior;
            if den > 0.0 {
                (ss + prior * pooled[i]) / den
            } else {
                0.0
            }
        })
        .collect();
    (m, var)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two well-separated families of 4-value sequences, interleaved: 0, 2, 4, .. near 0 and
    /// 1, 3, 5, .. near 10, with small deterministic jitter.
    fn two_families(n: usize) -> Vec<Vec<f32>> {
        (0..n)
            .map(|i| {
                let base = if i % 2 == 0 { 0.0 } else { 10.0 };
                (0..4)
                    .map(|j| base + 0.1 * ((i * 7 + j * 3) % 5) as f32)
                    .collect()
            })
            .collect()
    }

    #[test]
    fn kmeans_finds_two_families_deterministically() {
        let v = two_families(12);
        let w = vec![1.0; 4];
        let g = kmeans_groups(&v, &w, 2, 3, 7);
        assert_eq!(
            g,
            vec![vec![0, 2, 4, 6, 8, 10], vec![1, 3, 5, 7, 9, 11]],
            "{g:?}"
        );
        assert_eq!(g, kmeans_groups(&v, &w, 2, 3, 7));
        // Every session in exactly one group, whatever k.
        for k in 1..=5 {
            let g = kmeans_groups(&v, &w, k, 2, 1);
            let mut all: Vec<usize> = g.iter().flatten().copied().collect();
            all.sort_unstable();
            assert_eq!(all, (0..12).collect::<Vec<_>>(), "k {k}");
            assert!(
                g.len() <= k && g.iter().all(|g| g.len() >= 2),
                "k {k}: {g:?}"
            );
        }
    }

    #[test]
    fn too_few_sessions_for_the_groups_give_fewer_groups() {
        let v = two_families(6);
        let w = vec![1.0; 4];
        // Groups of at least 4 from 6 sessions: one group of all.
        assert_eq!(
            kmeans_groups(&v, &w, 2, 4, 1),
            vec![(0..6).collect::<Vec<_>>()]
        );
        assert_eq!(
            kmeans_groups(&v, &w, 1, 1, 1),
            vec![(0..6).collect::<Vec<_>>()]
        );
        assert!(kmeans_groups(&[], &w, 3, 1, 1).is_empty());
        // Identical sessions: no panic, every session placed.
        let same = vec![vec![1.0f32; 4]; 8];
        let g = kmeans_groups(&same, &w, 3, 2, 1);
        assert_eq!(g.iter().map(Vec::len).sum::<usize>(), 8);
    }

    #[test]
    fn weights_decide_which_values_split_the_sessions() {
        // Value 0 splits the sessions in halves 0..4 / 4..8, value 1 in even / odd; the weights
        // choose which split k-means sees.
        let v: Vec<Vec<f32>> = (0..8)
            .map(|i| {
                vec![
                    if i < 4 { 0.0 } else { 1.0 },
                    if i % 2 == 0 { 0.0 } else { 1.0 },
                ]
            })
            .collect();
        let halves = vec![vec![0, 1, 2, 3], vec![4, 5, 6, 7]];
        let parity = vec![vec![0, 2, 4, 6], vec![1, 3, 5, 7]];
        assert_eq!(kmeans_groups(&v, &[10.0, 1.0], 2, 2, 3), halves);
        assert_eq!(kmeans_groups(&v, &[1.0, 10.0], 2, 2, 3), parity);
    }

    #[test]
    fn template_mean_and_shrunk_spread() {
        let v = vec![vec![1.0f32, 0.0], vec![3.0, 0.0], vec![100.0, 100.0]];
        let (m, var) = template(&v, &[0, 1], &[8.0, 8.0], 0.0);
        assert_eq!(m, vec![2.0, 0.0]);
        // Sample variance (1 + 1) / 1 = 2 and 0.
        assert_eq!(var, vec![2.0, 0.0]);
        // One pseudo-session of the pooled variance 8: (2 + 8) / 2 = 5 and (0 + 8) / 2 = 4.
        let (_, var) = template(&v, &[0, 1], &[8.0, 8.0], 1.0);
        assert_eq!(var, vec![5.0, 4.0]);
        // A single session without a prior: variance 0, finite.
        let (m, var) = template(&v, &[2], &[8.0, 8.0], 0.0);
        assert_eq!((m, var), (vec![100.0, 100.0], vec![0.0, 0.0]));
        // One group of all: the barycentre and spread of `mean_spread`, bit for bit.
        let (m, var) = template(&v, &[0, 1, 2], &[0.0, 0.0], 0.0);
        let (bm, bsd) = super::super::mean_spread(&v);
        assert_eq!(m, bm);
        let sd: Vec<f32> = var.iter().map(|x| x.sqrt() as f32).collect();
        assert_eq!(sd, bsd);
        assert_eq!(weighted_sq(&[1.0, 2.0], &[0.0, 0.0], &[2.0, 0.5]), 4.0);
    }
}
