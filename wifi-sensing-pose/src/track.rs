//! Heading from the track: a post-processing step that turns a model's pose to the person's
//! direction of travel.
//!
//! One window of CSI says little about which way a person faces, but a walking person faces
//! the way they walk. [`TrackHeading`] keeps the mid-hip positions a model estimated over the
//! last [`TrackHeadingSpec::span_s`] seconds, fits a straight line to them (least squares over
//! time) and, when the fitted speed is at least [`TrackHeadingSpec::min_speed_m_s`], replaces
//! the model's root-relative pose by a body-frame pose ([`TrackHeadingSpec::body_pose_m`],
//! facing +x with the left side toward +y, z up) turned to the direction of travel: fully from
//! [`TrackHeadingSpec::full_speed_m_s`] on, blended linearly with the model's pose between the
//! two speeds. With [`TrackHeadingSpec::smooth_root`] the mid-hip itself becomes the fitted
//! line's position at the window's end. Windows without a person (mean joint confidence below
//! 0.5) clear the track.
//!
//! The step needs state across windows, so it cannot be part of a model graph; a manifest asks
//! for it with `post_processing.track_heading` and [`crate::PoseEstimator`] applies it to every
//! decoded window, in time order. It works on 3-D keypoints in a metric frame (`room_m`).
//!
//! ```
//! use wifi_sensing_pose::track::{TrackHeading, TrackHeadingSpec};
//! use wifi_sensing_pose::Keypoint;
//! // A body pose that is a single point 0.2 m in front of the mid-hip (+x, body frame).
//! let mut body = vec![[0.0, 0.0, 0.0]; 17];
//! body[0] = [0.2, 0.0, 0.0];
//! let spec = TrackHeadingSpec {
//!     span_s: 1.0,
//!     min_speed_m_s: 0.2,
//!     full_speed_m_s: 0.2,
//!     body_pose_m: body,
//!     smooth_root: false,
//! };
//! let mut track = TrackHeading::new(spec)?;
//! // A person walking along +y at 1 m/s, one window every 0.1 s.
//! let mut heading = None;
//! for k in 0..11 {
//!     let y = 0.1 * k as f64;
//!     let mut kp: Vec<Keypoint> = (0..17)
//!         .map(|_| Keypoint { name: String::new(), x: 1.0, y, z: Some(1.0), confidence: 0.9 })
//!         .collect();
//!     heading = track.apply(k * 100_000_000, &mut kp);
//!     if k == 10 {
//!         // The nose is now 0.2 m ahead along +y.
//!         assert!((kp[0].y - (y + 0.2)).abs() < 1e-9 && (kp[0].x - 1.0).abs() < 1e-9);
//!     }
//! }
//! assert!((heading.unwrap() - std::f64::consts::FRAC_PI_2).abs() < 1e-9);
//! # Ok::<(), wifi_sensing_pose::PoseError>(())
//! ```

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::decode::Keypoint;
use crate::error::{PoseError, Result};

/// COCO index of the left hip.
const LEFT_HIP: usize = 11;
/// COCO index of the right hip.
const RIGHT_HIP: usize = 12;
/// Mean joint confidence from which a window counts as having a person.
pub const PRESENT_CONFIDENCE: f64 = 0.5;
/// Longest track span accepted, s.
pub const MAX_SPAN_S: f64 = 60.0;
/// Fastest speed accepted for the thresholds, m/s.
pub const MAX_SPEED_M_S: f64 = 10.0;

/// Settings of the step (manifest field `post_processing.track_heading`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackHeadingSpec {
    /// Seconds of past mid-hip estimates the line is fitted to, in `(0, 60]`.
    pub span_s: f64,
    /// Fitted speed (m/s) below which the model's pose is kept.
    pub min_speed_m_s: f64,
    /// Fitted speed (m/s) from which the turned body pose replaces the model's pose entirely
    /// (at least `min_speed_m_s`; between the two the poses are blended linearly).
    pub full_speed_m_s: f64,
    /// The pose used while moving: 17 joints (COCO order) relative to the mid-hip, metres, in
    /// the body frame (facing +x, left side toward +y, z up).
    pub body_pose_m: Vec<[f64; 3]>,
    /// Also replace the mid-hip by the fitted line's position at the window's end.
    #[serde(default)]
    pub smooth_root: bool,
}

impl TrackHeadingSpec {
    /// Checks the ranges; errors name the field (relative to `track_heading`).
    pub fn validate(&self) -> std::result::Result<(), (String, String)> {
        let bad = |f: &str, r: String| Err((f.to_string(), r));
        if !(self.span_s > 0.0 && self.span_s <= MAX_SPAN_S) {
            return bad(
                "span_s",
                format!("{} is outside (0, {MAX_SPAN_S}]", self.span_s),
            );
        }
        let speed_ok = |v: f64| (0.0..=MAX_SPEED_M_S).contains(&v);
        if !speed_ok(self.min_speed_m_s) {
            return bad(
                "min_speed_m_s",
                format!("{} is outside [0, {MAX_SPEED_M_S}]", self.min_speed_m_s),
            );
        }
        if !speed_ok(self.full_speed_m_s) || self.full_speed_m_s < self.min_speed_m_s {
            return bad(
                "full_speed_m_s",
                format!(
                    "{} is outside [min_speed_m_s, {MAX_SPEED_M_S}]",
                    self.full_speed_m_s
                ),
            );
        }
        if self.body_pose_m.len() != 17 {
            return bad(
                "body_pose_m",
                format!("{} joints, expected 17", self.body_pose_m.len()),
            );
        }
        if let Some(k) = self
            .body_pose_m
            .iter()
            .position(|j| !j.iter().all(|v| v.is_finite()))
        {
            return bad("body_pose_m", format!("joint {k} is not finite"));
        }
        Ok(())
    }

    /// Share of the turned body pose at fitted speed `v` (m/s): 0 below `min_speed_m_s`, 1
    /// from `full_speed_m_s` on, linear between.
    pub fn weight(&self, v: f64) -> f64 {
        if v < self.min_speed_m_s {
            0.0
        } else if self.full_speed_m_s > self.min_speed_m_s {
            ((v - self.min_speed_m_s) / (self.full_speed_m_s - self.min_speed_m_s)).min(1.0)
        } else {
            1.0
        }
    }
}

/// The step's state: the recent mid-hip track (see the [module documentation](self)).
#[derive(Clone, Debug)]
pub struct TrackHeading {
    spec: TrackHeadingSpec,
    /// (time ns, x, y) of the recent windows with a person, oldest first.
    track: VecDeque<(i64, f64, f64)>,
}

/// A straight line fitted to a track: position at the mean time and velocity.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Line {
    t_mean_s: f64,
    x: f64,
    y: f64,
    vx: f64,
    vy: f64,
}

impl TrackHeading {
    /// A step with an empty track; the spec is checked.
    pub fn new(spec: TrackHeadingSpec) -> Result<Self> {
        spec.validate().map_err(|(f, r)| {
            PoseError::Config(format!("post_processing.track_heading.{f}: {r}"))
        })?;
        Ok(TrackHeading {
            spec,
            track: VecDeque::with_capacity(64),
        })
    }

    /// The settings.
    pub fn spec(&self) -> &TrackHeadingSpec {
        &self.spec
    }

    /// Forgets the track.
    pub fn reset(&mut self) {
        self.track.clear();
    }

    /// Applies the step to the keypoints of the window ending at `t_ns` (windows in time
    /// order), in place. Returns the heading used (radians, direction of travel from +x toward
    /// +y) when the pose was turned. Keypoints without z (2-D) or not 17 of them are left
    /// alone and clear the track.
    pub fn apply(&mut self, t_ns: i64, keypoints: &mut [Keypoint]) -> Option<f64> {
        let n = keypoints.len().max(1) as f64;
        let present = keypoints.iter().map(|k| k.confidence).sum::<f64>() / n >= PRESENT_CONFIDENCE;
        if !present || keypoints.len() != 17 || keypoints.iter().any(|k| k.z.is_none()) {
            self.track.clear();
            return None;
        }
        let root = mid_hip(keypoints);
        let span_ns = (self.spec.span_s * 1e9) as i64;
        // Out-of-order or far-apart windows start a new track.
        if self.track.back().is_some_and(|b| b.0 >= t_ns) {
            self.track.clear();
        }
        while self.track.front().is_some_and(|f| t_ns - f.0 > span_ns) {
            self.track.pop_front();
        }
        self.track.push_back((t_ns, root[0], root[1]));
        let line = self.fit()?;
        let (vx, vy) = (line.vx, line.vy);
        let w = self.spec.weight(vx.hypot(vy));
        let t_s = (t_ns - self.track[0].0) as f64 * 1e-9;
        let new_root = if self.spec.smooth_root {
            let dt = t_s - line.t_mean_s;
            [line.x + line.vx * dt, line.y + line.vy * dt, root[2]]
        } else {
            root
        };
        if w == 0.0 {
            // Only the mid-hip moves (if smoothed).
            let shift = [new_root[0] - root[0], new_root[1] - root[1]];
            if shift != [0.0, 0.0] {
                for k in keypoints.iter_mut() {
                    k.x += shift[0];
                    k.y += shift[1];
                }
            }
            return None;
        }
        let heading = vy.atan2(vx);
        let (c, s) = (heading.cos(), heading.sin());
        for (k, b) in keypoints.iter_mut().zip(&self.spec.body_pose_m) {
            let z = k.z.unwrap_or(0.0);
            let rel = [k.x - root[0], k.y - root[1], z - root[2]];
            let turned = [c * b[0] - s * b[1], s * b[0] + c * b[1], b[2]];
            k.x = new_root[0] + (1.0 - w) * rel[0] + w * turned[0];
            k.y = new_root[1] + (1.0 - w) * rel[1] + w * turned[1];
            k.z = Some(new_root[2] + (1.0 - w) * rel[2] + w * turned[2]);
        }
        Some(heading)
    }

    /// The least-squares line through the track (time relative to its first point), if the
    /// track holds at least 3 points over at least half the span.
    fn fit(&self) -> Option<Line> {
        let (first, last) = (self.track.front()?.0, self.track.back()?.0);
        if self.track.len() < 3 || ((last - first) as f64) < 0.5e9 * self.spec.span_s {
            return None;
        }
        let n = self.track.len() as f64;
        let ts = |p: &(i64, f64, f64)| (p.0 - first) as f64 * 1e-9;
        let t_mean = self.track.iter().map(ts).sum::<f64>() / n;
        let x = self.track.iter().map(|p| p.1).sum::<f64>() / n;
        let y = self.track.iter().map(|p| p.2).sum::<f64>() / n;
        let (mut stt, mut stx, mut sty) = (0.0, 0.0, 0.0);
        for p in &self.track {
            let dt = ts(p) - t_mean;
            stt += dt * dt;
            stx += dt * (p.1 - x);
            sty += dt * (p.2 - y);
        }
        (stt > 0.0).then(|| Line {
            t_mean_s: t_mean,
            x,
            y,
            vx: stx / stt,
            vy: sty / stt,
        })
    }
}

/// Mid-hip of 17 COCO keypoints with z.
fn mid_hip(k: &[Keypoint]) -> [f64; 3] {
    let (l, r) = (&k[LEFT_HIP], &k[RIGHT_HIP]);
    [
        0.5 * (l.x + r.x),
        0.5 * (l.y + r.y),
        0.5 * (l.z.unwrap_or(0.0) + r.z.unwrap_or(0.0)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A body pose with distinct joints (facing +x), mid-hip at the origin.
    fn body() -> Vec<[f64; 3]> {
        let mut b: Vec<[f64; 3]> = (0..17)
            .map(|k| {
                let k = k as f64;
                [0.01 * k, 0.2 - 0.02 * k, 1.6 - 0.09 * k]
            })
            .collect();
        b[LEFT_HIP] = [0.0, 0.1, 0.0];
        b[RIGHT_HIP] = [0.0, -0.1, 0.0];
        b
    }

    fn spec(min: f64, full: f64, smooth: bool) -> TrackHeadingSpec {
        TrackHeadingSpec {
            span_s: 1.0,
            min_speed_m_s: min,
            full_speed_m_s: full,
            body_pose_m: body(),
            smooth_root: smooth,
        }
    }

    /// 17 keypoints: a model pose (joint k at a fixed offset) placed with its mid-hip at `root`.
    fn pose_at(root: [f64; 3], conf: f64) -> Vec<Keypoint> {
        (0..17)
            .map(|k| {
                let o = if k == LEFT_HIP || k == RIGHT_HIP {
                    [0.0, 0.0, 0.0]
                } else {
                    [0.05, -0.03 * k as f64, 0.4]
                };
                Keypoint {
                    name: String::new(),
                    x: root[0] + o[0],
                    y: root[1] + o[1],
                    z: Some(root[2] + o[2]),
                    confidence: conf,
                }
            })
            .collect()
    }

    fn xyz(k: &[Keypoint]) -> Vec<[f64; 3]> {
        k.iter().map(|k| [k.x, k.y, k.z.unwrap()]).collect()
    }

    /// Walks at `v` m/s along `dir` (radians) for `n` windows 0.1 s apart; returns the last
    /// window's output and heading.
    fn walk(t: &mut TrackHeading, v: f64, dir: f64, n: i64) -> (Vec<Keypoint>, Option<f64>) {
        let mut last = (Vec::new(), None);
        for k in 0..n {
            let d = v * 0.1 * k as f64;
            let mut kp = pose_at([1.0 + d * dir.cos(), 2.0 + d * dir.sin(), 0.9], 0.9);
            let h = t.apply(k * 100_000_000, &mut kp);
            last = (kp, h);
        }
        last
    }

    #[test]
    fn a_walk_turns_the_body_pose_to_the_direction_of_travel() {
        let mut t = TrackHeading::new(spec(0.3, 0.3, false)).unwrap();
        let dir = 2.5;
        let (kp, h) = walk(&mut t, 1.0, dir, 20);
        assert!((h.unwrap() - dir).abs() < 1e-9);
        let root = mid_hip(&kp);
        let (c, s) = (dir.cos(), dir.sin());
        for (k, b) in xyz(&kp).iter().zip(body()) {
            let want = [c * b[0] - s * b[1], s * b[0] + c * b[1], b[2]];
            for i in 0..3 {
                assert!((k[i] - root[i] - want[i]).abs() < 1e-9, "{k:?} {want:?}");
            }
        }
    }

    #[test]
    fn below_the_speed_threshold_the_model_pose_stays() {
        let mut t = TrackHeading::new(spec(0.3, 0.3, false)).unwrap();
        let (kp, h) = walk(&mut t, 0.2, 1.0, 20);
        assert_eq!(h, None);
        let d = 0.2 * 0.1 * 19.0;
        assert_eq!(
            xyz(&kp),
            xyz(&pose_at(
                [1.0 + d * 1f64.cos(), 2.0 + d * 1f64.sin(), 0.9],
                0.9
            ))
        );
    }

    #[test]
    fn between_the_speeds_the_poses_are_blended() {
        let s = spec(0.2, 0.6, false);
        assert_eq!(s.weight(0.1), 0.0);
        assert!((s.weight(0.4) - 0.5).abs() < 1e-12);
        assert_eq!(s.weight(0.9), 1.0);
        let mut t = TrackHeading::new(s).unwrap();
        let (kp, h) = walk(&mut t, 0.4, 0.0, 20);
        assert!(h.unwrap().abs() < 1e-9);
        let root = mid_hip(&kp);
        let model = pose_at(root, 0.9);
        for ((k, m), b) in xyz(&kp).iter().zip(xyz(&model)).zip(body()) {
            for i in 0..3 {
                let want = 0.5 * (m[i] - root[i]) + 0.5 * b[i];
                assert!((k[i] - root[i] - want).abs() < 1e-9);
            }
        }
    }

    #[test]
    fn an_absent_window_clears_the_track() {
        let mut t = TrackHeading::new(spec(0.3, 0.3, false)).unwrap();
        walk(&mut t, 1.0, 0.0, 20);
        let mut gone = pose_at([2.0, 2.0, 0.9], 0.1);
        let before = xyz(&gone);
        assert_eq!(t.apply(2_000_000_000, &mut gone), None);
        assert_eq!(xyz(&gone), before, "an absent window is left alone");
        // Back: fewer than half a span of track, so nothing is turned yet.
        for k in 0..5 {
            let mut kp = pose_at([2.0 + 0.1 * k as f64, 2.0, 0.9], 0.9);
            let want = xyz(&kp);
            assert_eq!(t.apply(2_100_000_000 + k * 100_000_000, &mut kp), None);
            assert_eq!(xyz(&kp), want);
        }
        let mut kp = pose_at([2.5, 2.0, 0.9], 0.9);
        assert!(t.apply(2_600_000_000, &mut kp).is_some());
    }

    #[test]
    fn a_smoothed_root_follows_the_fitted_line() {
        let mut t = TrackHeading::new(spec(5.0, 5.0, true)).unwrap();
        // Along +x at 0.5 m/s with alternating +-0.1 m jitter across the track.
        let mut last = Vec::new();
        for k in 0..11 {
            let jitter = if k % 2 == 0 { 0.1 } else { -0.1 };
            let mut kp = pose_at([1.0 + 0.05 * k as f64, 2.0 + jitter, 0.9], 0.9);
            t.apply(k * 100_000_000, &mut kp);
            last = kp;
        }
        let r = mid_hip(&last);
        // The jitter's own line over the 11 points, evaluated at the end.
        let ks: Vec<f64> = (0..11).map(f64::from).collect();
        let js: Vec<f64> = (0..11)
            .map(|k| if k % 2 == 0 { 0.1 } else { -0.1 })
            .collect();
        let (km, jm) = (5.0, js.iter().sum::<f64>() / 11.0);
        let slope = ks
            .iter()
            .zip(&js)
            .map(|(k, j)| (k - km) * (j - jm))
            .sum::<f64>()
            / ks.iter().map(|k| (k - km) * (k - km)).sum::<f64>();
        assert!((r[0] - 1.5).abs() < 1e-9, "{r:?}");
        assert!((r[1] - (2.0 + jm + slope * 5.0)).abs() < 1e-9, "{r:?}");
        assert!((r[2] - 0.9).abs() < 1e-12);
    }

    #[test]
    fn out_of_order_windows_restart_the_track() {
        let mut t = TrackHeading::new(spec(0.3, 0.3, false)).unwrap();
        walk(&mut t, 1.0, 0.0, 20);
        let mut kp = pose_at([1.0, 2.0, 0.9], 0.9);
        let want = xyz(&kp);
        assert_eq!(t.apply(0, &mut kp), None);
        assert_eq!(xyz(&kp), want);
    }

    #[test]
    fn bad_specs_are_refused_naming_the_field() {
        let cases: Vec<(TrackHeadingSpec, &str)> = vec![
            (
                TrackHeadingSpec {
                    span_s: 0.0,
                    ..spec(0.3, 0.3, false)
                },
                "span_s",
            ),
            (spec(-0.1, 0.3, false), "min_speed_m_s"),
            (spec(0.5, 0.3, false), "full_speed_m_s"),
            (
                TrackHeadingSpec {
                    body_pose_m: vec![[0.0; 3]; 16],
                    ..spec(0.3, 0.3, false)
                },
                "body_pose_m",
            ),
            (
                TrackHeadingSpec {
                    body_pose_m: vec![[f64::NAN, 0.0, 0.0]; 17],
                    ..spec(0.3, 0.3, false)
                },
                "body_pose_m",
            ),
        ];
        for (s, field) in cases {
            assert_eq!(s.validate().unwrap_err().0, field);
            let e = TrackHeading::new(s).unwrap_err().to_string();
            assert!(e.contains(field), "{e}");
        }
    }

    proptest! {
        /// Whatever the track, the output is finite, the confidences are untouched, and with
        /// the body pose fully in (and no smoothing) the pose is the body pose turned rigidly
        /// about the model's mid-hip.
        #[test]
        fn the_step_is_a_turn_about_the_mid_hip(
            pts in proptest::collection::vec((-3.0f64..8.0, -3.0f64..8.0, 0.0f64..2.0, 0.0f64..1.0), 1..40),
            span in 0.2f64..3.0,
            min in 0.0f64..1.0,
        ) {
            let mut t = TrackHeading::new(TrackHeadingSpec { span_s: span, ..spec(min, min, false) }).unwrap();
            for (k, (x, y, z, c)) in pts.into_iter().enumerate() {
                let mut kp = pose_at([x, y, z], c);
                let root = mid_hip(&kp);
                let h = t.apply(k as i64 * 100_000_000, &mut kp);
                prop_assert!(kp.iter().all(|k| k.x.is_finite() && k.y.is_finite() && k.z.unwrap().is_finite()));
                prop_assert!(kp.iter().all(|k| k.confidence == c));
                if let Some(h) = h {
                    prop_assert!(c >= PRESENT_CONFIDENCE);
                    let (cs, sn) = (h.cos(), h.sin());
                    for (p, b) in xyz(&kp).iter().zip(body()) {
                        let want = [cs * b[0] - sn * b[1], sn * b[0] + cs * b[1], b[2]];
                        for i in 0..3 {
                            prop_assert!((p[i] - root[i] - want[i]).abs() < 1e-9);
                        }
                    }
                } else {
                    prop_assert_eq!(xyz(&kp), xyz(&pose_at([x, y, z], c)));
                }
            }
        }
    }
}
