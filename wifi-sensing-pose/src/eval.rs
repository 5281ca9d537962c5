//! Accuracy of 3-D keypoint estimates against ground truth, the way the reference model's card
//! reports it.
//!
//! For each scored window the estimate (17 COCO keypoints in metres and a presence decision) is
//! compared with the true skeleton at the window's end:
//!
//! * **PCK@α** (3-D): share of joints whose Euclidean error is at most `α × torso`, where
//!   `torso` is the true distance from the left shoulder to the right hip (about 0.5 m for an
//!   adult, so PCK@0.2 allows about 10 cm).
//! * **MPJPE**: mean Euclidean joint error, millimetres.
//! * **Root error**: distance between the estimated and the true mid-hip (the mean of the two
//!   hips), metres: localisation alone.
//! * **Root-relative PCK@0.2**: PCK@0.2 after moving both skeletons' mid-hips to the origin:
//!   the pose alone, wherever it is.
//! * **Presence accuracy**: share of all windows (the person present or not) whose presence
//!   decision equals the truth.
//!
//! Keypoint figures are over the windows where the person is present (whatever the presence
//! decision); presence accuracy is over every window. [`Evaluation`] keeps one [`Tally`] per
//! activity label and one overall; [`Tally::metrics`] turns a tally into [`Metrics`].
//!
//! ```
//! use wifi_sensing_pose::eval::{Evaluation, Skeleton};
//! let truth: Skeleton = std::array::from_fn(|j| [1.0, 2.0, 0.1 * j as f64]);
//! let mut guess = truth;
//! guess[0][0] += 0.5; // the nose half a metre off
//! let mut ev = Evaluation::default();
//! ev.add("stand", Some(&truth), &guess, true);
//! ev.add("absent", None, &guess, false);
//! let m = ev.overall().metrics();
//! assert_eq!(m.presence_accuracy, Some(1.0));
//! assert!((m.pck_0_2.unwrap() - 16.0 / 17.0).abs() < 1e-12);
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// 17 COCO keypoints, `[x, y, z]` metres, COCO order.
pub type Skeleton = [[f64; 3]; 17];

/// Index of the left shoulder in COCO order.
pub const LEFT_SHOULDER: usize = 5;
/// Index of the left hip in COCO order.
pub const LEFT_HIP: usize = 11;
/// Index of the right hip in COCO order.
pub const RIGHT_HIP: usize = 12;

fn dist(a: &[f64; 3], b: &[f64; 3]) -> f64 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
}

/// The mid-hip (mean of the two hips), the root of the skeleton.
pub fn mid_hip(s: &Skeleton) -> [f64; 3] {
    std::array::from_fn(|i| 0.5 * (s[LEFT_HIP][i] + s[RIGHT_HIP][i]))
}

/// Distance from the left shoulder to the right hip, metres (the PCK scale).
pub fn torso_m(s: &Skeleton) -> f64 {
    dist(&s[LEFT_SHOULDER], &s[RIGHT_HIP])
}

/// `s` moved so that its mid-hip is at `root`.
pub fn placed_at(s: &Skeleton, root: [f64; 3]) -> Skeleton {
    let r = mid_hip(s);
    s.map(|p| std::array::from_fn(|i| p[i] - r[i] + root[i]))
}

/// Running sums for one group of windows.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Tally {
    /// Windows seen.
    pub windows: u64,
    /// Windows whose presence decision equals the truth.
    pub presence_correct: u64,
    /// Windows with the person present (their keypoints are scored).
    pub pose_windows: u64,
    /// Joints scored (17 per pose window).
    pub joints: u64,
    /// Joints within 0.1 torso.
    pub within_0_1: u64,
    /// Joints within 0.2 torso.
    pub within_0_2: u64,
    /// Root-relative joints within 0.2 torso.
    pub root_relative_within_0_2: u64,
    /// Sum of joint errors, metres.
    pub joint_error_sum_m: f64,
    /// Sum of mid-hip errors, metres.
    pub root_error_sum_m: f64,
}

/// Figures of one group of windows (`None` where the group has nothing to average).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Windows seen.
    pub windows: u64,
    /// Windows with the person present.
    pub pose_windows: u64,
    /// Share of windows with the right presence decision, `[0, 1]`.
    pub presence_accuracy: Option<f64>,
    /// 3-D PCK at 0.1 torso, `[0, 1]`.
    pub pck_0_1: Option<f64>,
    /// 3-D PCK at 0.2 torso, `[0, 1]`.
    pub pck_0_2: Option<f64>,
    /// Mean per-joint position error, millimetres.
    pub mpjpe_mm: Option<f64>,
    /// Mean mid-hip error, metres.
    pub root_error_m: Option<f64>,
    /// Root-relative PCK at 0.2 torso, `[0, 1]`.
    pub root_relative_pck_0_2: Option<f64>,
}

impl Tally {
    /// Adds one window: `truth` is `None` when nobody is present.
    pub fn add(&mut self, truth: Option<&Skeleton>, guess: &Skeleton, guess_present: bool) {
        self.windows += 1;
        if truth.is_some() == guess_present {
            self.presence_correct += 1;
        }
        let Some(t) = truth else {
            return;
        };
        self.pose_windows += 1;
        let torso = torso_m(t);
        let (rt, rg) = (mid_hip(t), mid_hip(guess));
        self.root_error_sum_m += dist(&rt, &rg);
        for (a, b) in t.iter().zip(guess) {
            let e = dist(a, b);
            self.joints += 1;
            self.joint_error_sum_m += e;
            self.within_0_1 += u64::from(e <= 0.1 * torso);
            self.within_0_2 += u64::from(e <= 0.2 * torso);
            let a_rel: [f64; 3] = std::array::from_fn(|i| a[i] - rt[i]);
            let b_rel: [f64; 3] = std::array::from_fn(|i| b[i] - rg[i]);
            self.root_relative_within_0_2 += u64::from(dist(&a_rel, &b_rel) <= 0.2 * torso);
        }
    }

    /// Adds another tally's counts.
    pub fn merge(&mut self, o: &Tally) {
        self.windows += o.windows;
        self.presence_correct += o.presence_correct;
        self.pose_windows += o.pose_windows;
        self.joints += o.joints;
        self.within_0_1 += o.within_0_1;
        self.within_0_2 += o.within_0_2;
        self.root_relative_within_0_2 += o.root_relative_within_0_2;
        self.joint_error_sum_m += o.joint_error_sum_m;
        self.root_error_sum_m += o.root_error_sum_m;
    }

    /// The figures.
    pub fn metrics(&self) -> Metrics {
        let ratio = |n: f64, d: u64| (d > 0).then(|| n / d as f64);
        Metrics {
            windows: self.windows,
            pose_windows: self.pose_windows,
            presence_accuracy: ratio(self.presence_correct as f64, self.windows),
            pck_0_1: ratio(self.within_0_1 as f64, self.joints),
            pck_0_2: ratio(self.within_0_2 as f64, self.joints),
            mpjpe_mm: ratio(1000.0 * self.joint_error_sum_m, self.joints),
            root_error_m: ratio(self.root_error_sum_m, self.pose_windows),
            root_relative_pck_0_2: ratio(self.root_relative_within_0_2 as f64, self.joints),
        }
    }
}

/// Tallies per activity label and overall.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    overall: Tally,
    by_activity: BTreeMap<String, Tally>,
}

/// An [`Evaluation`]'s figures, overall and per activity.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Every window.
    pub overall: Metrics,
    /// Per activity label.
    pub by_activity: BTreeMap<String, Metrics>,
}

impl Evaluation {
    /// Adds one window with its true activity label (`truth` is `None` when nobody is present).
    pub fn add(
        &mut self,
        activity: &str,
        truth: Option<&Skeleton>,
        guess: &Skeleton,
        guess_present: bool,
    ) {
        self.overall.add(truth, guess, guess_present);
        if !self.by_activity.contains_key(activity) {
            self.by_activity
                .insert(activity.to_string(), Tally::default());
        }
        if let Some(t) = self.by_activity.get_mut(activity) {
            t.add(truth, guess, guess_present);
        }
    }

    /// The overall tally.
    pub fn overall(&self) -> &Tally {
        &self.overall
    }

    /// The tallies per activity label.
    pub fn by_activity(&self) -> &BTreeMap<String, Tally> {
        &self.by_activity
    }

    /// Adds another evaluation's tallies.
    pub fn merge(&mut self, o: &Evaluation) {
        self.overall.merge(&o.overall);
        for (k, t) in &o.by_activity {
            self.by_activity.entry(k.clone()).or_default().merge(t);
        }
    }

    /// The figures.
    pub fn report(&self) -> Report {
        Report {
            overall: self.overall.metrics(),
            by_activity: self
                .by_activity
                .iter()
                .map(|(k, t)| (k.clone(), t.metrics()))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn skeleton(seed: f64) -> Skeleton {
        std::array::from_fn(|j| {
            let j = j as f64;
            [1.0 + 0.1 * (j + seed).sin(), 2.0 + 0.1 * j.cos(), 0.1 * j]
        })
    }

    #[test]
    fn exact_guess_is_perfect_and_shift_moves_only_root_figures() {
        let t = skeleton(0.3);
        let mut ev = Evaluation::default();
        ev.add("walk", Some(&t), &t, true);
        let m = ev.report().overall;
        assert_eq!(m.pck_0_1, Some(1.0));
        assert_eq!(m.mpjpe_mm, Some(0.0));
        let shifted = placed_at(&t, [5.0, 5.0, 1.0]);
        let mut ev = Evaluation::default();
        ev.add("walk", Some(&t), &shifted, false);
        let m = ev.report().overall;
        assert_eq!(m.pck_0_2, Some(0.0));
        assert_eq!(m.root_relative_pck_0_2, Some(1.0));
        assert_eq!(m.presence_accuracy, Some(0.0));
        let d = dist(&mid_hip(&t), &[5.0, 5.0, 1.0]);
        assert!((m.root_error_m.unwrap() - d).abs() < 1e-12);
        assert!((m.mpjpe_mm.unwrap() - 1000.0 * d).abs() < 1e-6);
    }

    #[test]
    fn empty_evaluation_has_no_figures() {
        let m = Evaluation::default().report().overall;
        assert_eq!(m.windows, 0);
        assert_eq!(m.pck_0_2, None);
        assert_eq!(m.presence_accuracy, None);
    }

    proptest! {
        #[test]
        fn figures_stay_in_range_and_merge_adds(
            a in proptest::collection::vec((-3.0f64..3.0, any::<bool>(), any::<bool>()), 1..20)
        ) {
            let mut whole = Evaluation::default();
            let mut halves = [Evaluation::default(), Evaluation::default()];
            for (k, (off, present, says)) in a.iter().enumerate() {
                let t = skeleton(*off);
                let g = placed_at(&skeleton(-off), [*off, 1.0, 0.9]);
                let truth = present.then_some(&t);
                let label = if *present { "stand" } else { "absent" };
                whole.add(label, truth, &g, *says);
                halves[k % 2].add(label, truth, &g, *says);
            }
            let mut merged = halves[0].clone();
            merged.merge(&halves[1]);
            prop_assert_eq!(merged.overall().windows, whole.overall().windows);
            prop_assert_eq!(merged.overall().within_0_2, whole.overall().within_0_2);
            let m = whole.report().overall;
            for v in [m.pck_0_1, m.pck_0_2, m.root_relative_pck_0_2, m.presence_accuracy].into_iter().flatten() {
                prop_assert!((0.0..=1.0).contains(&v));
            }
            if let (Some(p1), Some(p2)) = (m.pck_0_1, m.pck_0_2) {
                prop_assert!(p1 <= p2);
            }
        }
    }
}
