//! The person: a COCO-17 skeleton driven by simple kinematics, the point scatterers attached to
//! it, and the chest motion of breathing and heartbeat.
//!
//! # Skeleton
//!
//! Joints follow the COCO-17 keypoint order ([`COCO_KEYPOINTS`]). A pose is built in the *body
//! frame*: origin on the floor under the pelvis centre, `x` forward (the facing direction), `y`
//! to the person's left, `z` up, metres. Segment lengths are fixed fractions of the height `H`
//! (classic anthropometric ratios): hip height 0.530 H, shoulder height 0.818 H, thigh 0.245 H,
//! shank 0.246 H, upper arm 0.186 H, forearm to wrist 0.146 H, shoulder half-width 0.13 H, hip
//! half-width 0.051 H. The pose is then rotated to the facing direction and moved to the body's
//! position in the room.
//!
//! Activities (see [`PoseKind`]):
//! * **stand**: upright, arms hanging;
//! * **sit**: pelvis at 0.285 H, thighs horizontal, shanks vertical, forearms resting forward;
//! * **walk**: sagittal gait: hip flexion ±22°, knee flexion up to 50° in swing, counter-swinging
//!   arms ±18°, vertical bob of ±1 % H at twice the stride frequency; stride frequency
//!   `0.5·(1 + 0.6·v)` Hz for a speed `v` m/s (0.8 Hz, i.e. 1.6 steps/s, at 1 m/s);
//! * **wave**: right upper arm raised sideways (80°), forearm up, swinging ±25° side to side,
//!   one cycle per `period`;
//! * **push**: both hands start at the chest, extend forward quickly (first 25 % of the
//!   period), hold (20 %), and return slowly (55 %);
//! * **pull**: the mirror image in time: hands start extended, are pulled to the chest quickly,
//!   hold, and extend again slowly.
//!
//! # Scatterers
//!
//! The body reflects through [`N_SCATTERERS`] point scatterers: the 17 joints, the midpoints of
//! the nine segments (upper arms, forearms, thighs, shanks, head), and two torso surfaces, the
//! chest and the abdomen, placed 0.06 H and 0.055 H in front of the trunk axis. Radar cross
//! sections (at H = 1.75 m, scaled with H² and the person's `rcs_scale`) add up to about 1 m²,
//! dominated by the chest (0.30 m²) and abdomen (0.15 m²), in line with measured human RCS at
//! 2.4–5 GHz. Each scatterer has a fixed surface phase drawn once from the seed.
//!
//! # Vital signs
//!
//! Breathing moves the chest surface along the facing direction by `A_b · sin(2π f_b t + φ₀)`
//! (and the abdomen by 0.6 times that). The heartbeat adds `A_h · sin(2π u)` to the chest, where
//! `u` runs from 0 to 1 over each beat; beat-to-beat (RR) intervals are drawn from a normal
//! distribution with the configured standard deviation (heart-rate variability, SDNN), clamped
//! to ±40 % of the mean. The reported heart rate is `60 / RR` of the current beat.

use serde::{Deserialize, Serialize};

use super::geometry::{PointScatterer, Vec3};
use super::math::{deg, sin_cos, sin_cos_turns};
use super::rng::Rng;

/// COCO-17 keypoint names, in order.
pub const COCO_KEYPOINTS: [&str; 17] = [
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
];

/// The 17 joints of a pose, in [`COCO_KEYPOINTS`] order.
pub type Joints = [Vec3; 17];

/// Number of point scatterers of a body.
pub const N_SCATTERERS: usize = 28;

const NOSE: usize = 0;
const L_EYE: usize = 1;
const L_EAR: usize = 3;
const L_SHOULDER: usize = 5;
const L_ELBOW: usize = 7;
const L_WRIST: usize = 9;
const L_HIP: usize = 11;
const L_KNEE: usize = 13;
const L_ANKLE: usize = 15;

/// Radar cross-sections (m², at H = 1.75 m) of the 17 joint scatterers.
const JOINT_RCS: [f64; 17] = [
    0.004, 0.002, 0.002, 0.003, 0.003, 0.02, 0.02, 0.01, 0.01, 0.015, 0.015, 0.03, 0.03, 0.015,
    0.015, 0.01, 0.01,
];
/// Segment scatterers: (joint a, joint b, RCS m²), at the segment midpoint.
const SEGMENTS: [(usize, usize, f64); 8] = [
    (5, 7, 0.03),   // left upper arm
    (6, 8, 0.03),   // right upper arm
    (7, 9, 0.02),   // left forearm
    (8, 10, 0.02),  // right forearm
    (11, 13, 0.06), // left thigh
    (12, 14, 0.06), // right thigh
    (13, 15, 0.04), // left shank
    (14, 16, 0.04), // right shank
];
const HEAD_RCS: f64 = 0.04;
const CHEST_RCS: f64 = 0.30;
const ABDOMEN_RCS: f64 = 0.15;
/// Abdomen breathing displacement relative to the chest's.
pub const ABDOMEN_BREATHING_RATIO: f64 = 0.6;

/// A hand gesture.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Gesture {
    /// Right hand raised, waving side to side.
    Wave,
    /// Both hands pushed forward from the chest.
    Push,
    /// Both hands pulled back to the chest.
    Pull,
}

impl Gesture {
    /// Name as used in scenario names (`gesture:wave`).
    pub fn name(self) -> &'static str {
        match self {
            Gesture::Wave => "wave",
            Gesture::Push => "push",
            Gesture::Pull => "pull",
        }
    }

    /// Parses [`Gesture::name`].
    pub fn from_name(s: &str) -> Option<Self> {
        [Gesture::Wave, Gesture::Push, Gesture::Pull]
            .into_iter()
            .find(|g| g.name() == s)
    }

    /// Default duration of one gesture cycle, s (wave 0.67 s = 1.5 Hz; push and pull 2 s).
    pub fn default_period_s(self) -> f64 {
        match self {
            Gesture::Wave => 2.0 / 3.0,
            Gesture::Push | Gesture::Pull => 2.0,
        }
    }
}

/// Activity label of the ground truth.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activity {
    /// Nobody in the room.
    Absent,
    /// Standing still.
    Stand,
    /// Sitting still.
    Sit,
    /// Walking.
    Walk,
    /// Waving (gesture).
    Wave,
    /// Pushing (gesture).
    Push,
    /// Pulling (gesture).
    Pull,
}

impl Activity {
    /// The motion state of this activity.
    pub fn motion(self) -> MotionState {
        match self {
            Activity::Absent => MotionState::Empty,
            Activity::Stand | Activity::Sit => MotionState::Still,
            Activity::Walk | Activity::Wave | Activity::Push | Activity::Pull => {
                MotionState::Moving
            }
        }
    }

    /// The gesture label, for gestures.
    pub fn from_gesture(g: Gesture) -> Self {
        match g {
            Gesture::Wave => Activity::Wave,
            Gesture::Push => Activity::Push,
            Gesture::Pull => Activity::Pull,
        }
    }
}

/// Coarse motion state of the ground truth.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MotionState {
    /// No person present.
    Empty,
    /// A person is present without gross body motion (breathing and heartbeat only).
    Still,
    /// A person is present and moving (walking or gesturing).
    Moving,
}

/// Which pose generator drives the skeleton, with its parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PoseKind {
    /// Standing upright.
    Stand,
    /// Sitting on a chair.
    Sit,
    /// Walking at `speed_m_s`.
    Walk {
        /// Walking speed, m/s.
        speed_m_s: f64,
    },
    /// A gesture repeated with a cycle of `period_s` seconds.
    Gesture {
        /// Which gesture.
        gesture: Gesture,
        /// Cycle duration, s.
        period_s: f64,
    },
}

/// Stride frequency (one left + one right step) for a walking speed, Hz.
pub fn stride_frequency_hz(speed_m_s: f64) -> f64 {
    (0.5 * (1.0 + 0.6 * speed_m_s)).clamp(0.3, 1.5)
}

#[derive(Clone, Copy)]
struct Angles {
    hip_z: f64,
    hip_flex: [f64; 2],
    knee_flex: [f64; 2],
    upper_arm: [(f64, f64); 2],
    forearm: [(f64, f64); 2],
}

impl Angles {
    fn standing() -> Self {
        Angles {
            hip_z: 0.530,
            hip_flex: [0.0; 2],
            knee_flex: [0.0; 2],
            upper_arm: [(0.0, deg(6.0)); 2],
            forearm: [(deg(8.0), deg(6.0)); 2],
        }
    }
}

/// Unit direction of an arm segment in the body frame: `flex` rotates forward from hanging,
/// `abd` raises it sideways; `side` is +1 for the left arm, −1 for the right.
fn arm_dir(flex: f64, abd: f64, side: f64) -> Vec3 {
    let (sf, cf) = sin_cos(flex);
    let (sa, ca) = sin_cos(abd);
    Vec3::new(sf * ca, side * sa, -cf * ca)
}

fn sagittal(angle: f64) -> Vec3 {
    let (s, c) = sin_cos(angle);
    Vec3::new(s, 0.0, -c)
}

fn build(h: f64, a: &Angles) -> Joints {
    let mut j = [Vec3::default(); 17];
    let hip_mid = Vec3::new(0.0, 0.0, a.hip_z * h);
    let sh_mid = hip_mid.plus(Vec3::new(0.0, 0.0, 0.288 * h));
    for (i, side) in [1.0, -1.0].into_iter().enumerate() {
        let hip = hip_mid.plus(Vec3::new(0.0, side * 0.051 * h, 0.0));
        let knee = hip.plus(sagittal(a.hip_flex[i]).scale(0.245 * h));
        let ankle = knee.plus(sagittal(a.hip_flex[i] - a.knee_flex[i]).scale(0.246 * h));
        let sho = sh_mid.plus(Vec3::new(0.0, side * 0.13 * h, 0.0));
        let elb = sho.plus(arm_dir(a.upper_arm[i].0, a.upper_arm[i].1, side).scale(0.186 * h));
        let wri = elb.plus(arm_dir(a.forearm[i].0, a.forearm[i].1, side).scale(0.146 * h));
        j[L_EYE + i] = sh_mid.plus(Vec3::new(0.045 * h, side * 0.018 * h, 0.118 * h));
        j[L_EAR + i] = sh_mid.plus(Vec3::new(-0.005 * h, side * 0.042 * h, 0.108 * h));
        j[L_SHOULDER + i] = sho;
        j[L_ELBOW + i] = elb;
        j[L_WRIST + i] = wri;
        j[L_HIP + i] = hip;
        j[L_KNEE + i] = knee;
        j[L_ANKLE + i] = ankle;
    }
    j[NOSE] = sh_mid.plus(Vec3::new(0.055 * h, 0.0, 0.105 * h));
    j
}

fn smoothstep(x: f64) -> f64 {
    let x = x.clamp(0.0, 1.0);
    x * x * (3.0 - 2.0 * x)
}

/// Hand extension of a push cycle at phase `u` in `[0, 1)`: fast out, hold, slow back.
fn push_extension(u: f64) -> f64 {
    if u < 0.25 {
        smoothstep(u / 0.25)
    } else if u < 0.45 {
        1.0
    } else {
        1.0 - smoothstep((u - 0.45) / 0.55)
    }
}

/// The joints of `kind` at `tau` seconds into the activity, in the body frame, for a person of
/// height `height_m`.
pub fn local_pose(kind: PoseKind, height_m: f64, tau: f64) -> Joints {
    let mut a = Angles::standing();
    match kind {
        PoseKind::Stand => {}
        PoseKind::Sit => {
            a.hip_z = 0.285;
            a.hip_flex = [deg(90.0); 2];
            a.knee_flex = [deg(90.0); 2];
            a.upper_arm = [(deg(15.0), deg(8.0)); 2];
            a.forearm = [(deg(70.0), deg(4.0)); 2];
        }
        PoseKind::Walk { speed_m_s } => {
            let (s, c) = sin_cos_turns(stride_frequency_hz(speed_m_s) * tau);
            let (_, c2) = sin_cos_turns(2.0 * stride_frequency_hz(speed_m_s) * tau);
            a.hip_z = 0.515 + 0.01 * c2;
            a.hip_flex = [deg(22.0) * s, -deg(22.0) * s];
            let swing = |x: f64| {
                let p = x.max(0.0);
                deg(5.0) + deg(45.0) * p * p
            };
            a.knee_flex = [swing(c), swing(-c)];
            let arm = deg(18.0) * s;
            a.upper_arm = [(-arm, deg(6.0)), (arm, deg(6.0))];
            a.forearm = [(-arm + deg(15.0), deg(6.0)), (arm + deg(15.0), deg(6.0))];
        }
        PoseKind::Gesture { gesture, period_s } => {
            let u = {
                let t = tau / period_s.max(1e-3);
                t - t.floor()
            };
            match gesture {
                Gesture::Wave => {
                    let (s, _) = sin_cos_turns(u);
                    a.upper_arm[1] = (deg(10.0), deg(80.0));
                    a.forearm[1] = (deg(10.0), deg(175.0) + deg(25.0) * s);
                }
                Gesture::Push | Gesture::Pull => {
                    let e = if gesture == Gesture::Push {
                        push_extension(u)
                    } else {
                        1.0 - push_extension(u)
                    };
                    // Hands from the chest (elbows low, forearms raised) to straight arms at
                    // shoulder height.
                    let ua = (deg(15.0) + deg(70.0) * e, deg(10.0));
                    let fa = (deg(120.0) - deg(30.0) * e, deg(5.0));
                    a.upper_arm = [ua; 2];
                    a.forearm = [fa; 2];
                }
            }
        }
    }
    build(height_m, &a)
}

/// Moves body-frame joints into the room: rotates `x` onto `facing` (a horizontal unit vector)
/// and translates the origin to `root` (a floor point).
pub fn to_world(local: &Joints, root: Vec3, facing: Vec3) -> Joints {
    let (fx, fy) = (facing.x, facing.y);
    let mut out = [Vec3::default(); 17];
    for (o, p) in out.iter_mut().zip(local) {
        *o = Vec3::new(
            root.x + fx * p.x - fy * p.y,
            root.y + fy * p.x + fx * p.y,
            root.z + p.z,
        );
    }
    out
}

/// Surface phases (turns) of the scatterers of one body, drawn from `rng`.
pub fn draw_scatter_phases(rng: &mut Rng) -> [f64; N_SCATTERERS] {
    let mut p = [0.0; N_SCATTERERS];
    for v in &mut p {
        *v = rng.uniform();
    }
    p
}

/// Chest and abdomen surface points (before any vital-sign displacement).
pub fn torso_points(joints: &Joints, facing: Vec3, height_m: f64) -> (Vec3, Vec3) {
    let sh_mid = joints[L_SHOULDER].lerp(joints[L_SHOULDER + 1], 0.5);
    let hip_mid = joints[L_HIP].lerp(joints[L_HIP + 1], 0.5);
    let chest = sh_mid
        .lerp(hip_mid, 0.3)
        .plus(facing.scale(0.06 * height_m));
    let abdomen = sh_mid
        .lerp(hip_mid, 0.75)
        .plus(facing.scale(0.055 * height_m));
    (chest, abdomen)
}

/// The scatterers of a body in world coordinates.
///
/// `chest_disp_m` and `abdomen_disp_m` move the chest and abdomen along `facing`; `rcs_scale`
/// multiplies every cross-section on top of the H² scaling.
pub fn scatterers(
    joints: &Joints,
    facing: Vec3,
    height_m: f64,
    rcs_scale: f64,
    chest_disp_m: f64,
    abdomen_disp_m: f64,
    phases: &[f64; N_SCATTERERS],
) -> [PointScatterer; N_SCATTERERS] {
    let k = rcs_scale * (height_m / 1.75) * (height_m / 1.75);
    let mut out = [PointScatterer {
        position: Vec3::default(),
        rcs_m2: 0.0,
        phase_turns: 0.0,
    }; N_SCATTERERS];
    for i in 0..17 {
        out[i] = PointScatterer {
            position: joints[i],
            rcs_m2: JOINT_RCS[i] * k,
            phase_turns: phases[i],
        };
    }
    for (n, (a, b, rcs)) in SEGMENTS.iter().enumerate() {
        out[17 + n] = PointScatterer {
            position: joints[*a].lerp(joints[*b], 0.5),
            rcs_m2: rcs * k,
            phase_turns: phases[17 + n],
        };
    }
    let head = joints[L_EAR].lerp(joints[L_EAR + 1], 0.5);
    out[25] = PointScatterer {
        position: head,
        rcs_m2: HEAD_RCS * k,
        phase_turns: phases[25],
    };
    let (chest, abdomen) = torso_points(joints, facing, height_m);
    out[26] = PointScatterer {
        position: chest.plus(facing.scale(chest_disp_m)),
        rcs_m2: CHEST_RCS * k,
        phase_turns: phases[26],
    };
    out[27] = PointScatterer {
        position: abdomen.plus(facing.scale(abdomen_disp_m)),
        rcs_m2: ABDOMEN_RCS * k,
        phase_turns: phases[27],
    };
    out
}

/// Total radar cross-section of a body of height `height_m` with `rcs_scale`, m².
pub fn total_rcs_m2(height_m: f64, rcs_scale: f64) -> f64 {
    let k = rcs_scale * (height_m / 1.75) * (height_m / 1.75);
    (JOINT_RCS.iter().sum::<f64>()
        + SEGMENTS.iter().map(|s| s.2).sum::<f64>()
        + HEAD_RCS
        + CHEST_RCS
        + ABDOMEN_RCS)
        * k
}

/// Breathing and heartbeat generator of one person (time must not go backwards between calls).
#[derive(Clone, Debug)]
pub struct Vitals {
    breathing: Option<(f64, f64, f64)>,
    heart: Option<Heart>,
}

/// Largest number of beats [`Vitals::at`] steps through one by one.
const MAX_BEAT_STEPS: f64 = 100_000.0;

#[derive(Clone, Debug)]
struct Heart {
    mean_rr_s: f64,
    sd_rr_s: f64,
    amplitude_m: f64,
    seed: u64,
    stream: u64,
    beat: u64,
    beat_start_s: f64,
    rr_s: f64,
}

impl Heart {
    fn draw_rr(&self, beat: u64) -> f64 {
        let z = Rng::for_stream(self.seed, self.stream, beat).normal();
        // At least 1 ms, so the beat loop in `Vitals::at` always advances.
        (self.mean_rr_s + self.sd_rr_s * z)
            .clamp(0.6 * self.mean_rr_s, 1.4 * self.mean_rr_s)
            .max(1e-3)
    }
}

/// Chest state at one instant.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct VitalState {
    /// Breathing displacement of the chest, m.
    pub breathing_m: f64,
    /// Heartbeat displacement of the chest, m.
    pub heartbeat_m: f64,
    /// Breathing rate, breaths per minute, if breathing.
    pub breathing_bpm: Option<f64>,
    /// Instantaneous heart rate (60 / current RR interval), beats per minute, if beating.
    pub heart_bpm: Option<f64>,
}

impl Vitals {
    /// A generator. `breathing` is `(rate_hz, amplitude_m, initial phase in turns)`; `heart` is
    /// `(mean rate Hz, RR standard deviation s, amplitude m)`; RR intervals come from
    /// `(seed, heart_stream, beat index)`.
    pub fn new(
        breathing: Option<(f64, f64, f64)>,
        heart: Option<(f64, f64, f64)>,
        seed: u64,
        heart_stream: u64,
    ) -> Self {
        // A non-positive or non-finite rate means no heartbeat (validated scenarios never
        // pass one).
        let heart = heart
            .filter(|h| h.0.is_finite() && h.0 > 0.0 && h.1.is_finite())
            .map(|(rate_hz, sd, amp)| {
                let mut h = Heart {
                    mean_rr_s: 1.0 / rate_hz,
                    sd_rr_s: sd,
                    amplitude_m: amp,
                    seed,
                    stream: heart_stream,
                    beat: 0,
                    beat_start_s: 0.0,
                    rr_s: 0.0,
                };
                h.rr_s = h.draw_rr(0);
                h
            });
        Vitals { breathing, heart }
    }

    /// The chest state at time `t_s` (seconds since the scenario start; a non-finite time
    /// gives the rest state).
    pub fn at(&mut self, t_s: f64) -> VitalState {
        let mut v = VitalState::default();
        if !t_s.is_finite() {
            return v;
        }
        if let Some((f, a, p0)) = self.breathing {
            v.breathing_m = a * sin_cos_turns(f * t_s + p0).0;
            v.breathing_bpm = Some(60.0 * f);
        }
        if let Some(h) = &mut self.heart {
            // A jump of more than MAX_BEAT_STEPS beats (never in a validated scenario, whose
            // frames are at most 100 s apart) skips whole mean intervals instead of drawing
            // every beat, so one call stays cheap.
            let gap = t_s - (h.beat_start_s + h.rr_s);
            if gap > MAX_BEAT_STEPS * h.mean_rr_s.max(1e-3) {
                let k = (gap / h.mean_rr_s.max(1e-3)).floor();
                h.beat_start_s += h.rr_s + k * h.mean_rr_s.max(1e-3);
                h.beat = h.beat.wrapping_add(k as u64 + 1);
                h.rr_s = h.draw_rr(h.beat);
            }
            // Each step advances by at least 1 ms; the cap guards against float absorption at
            // absurd times.
            let mut steps = 0.0;
            while t_s >= h.beat_start_s + h.rr_s && steps < MAX_BEAT_STEPS + 2.0 {
                h.beat_start_s += h.rr_s;
                h.beat = h.beat.wrapping_add(1);
                h.rr_s = h.draw_rr(h.beat);
                steps += 1.0;
            }
            let u = ((t_s - h.beat_start_s) / h.rr_s).max(0.0);
            v.heartbeat_m = h.amplitude_m * sin_cos_turns(u).0;
            v.heart_bpm = Some(60.0 / h.rr_s);
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bone(j: &Joints, a: usize, b: usize) -> f64 {
        j[a].dist(j[b])
    }

    #[test]
    fn segment_lengths_are_preserved_in_every_pose() {
        let h = 1.8;
        let kinds = [
            PoseKind::Stand,
            PoseKind::Sit,
            PoseKind::Walk { speed_m_s: 1.2 },
            PoseKind::Gesture {
                gesture: Gesture::Wave,
                period_s: 0.7,
            },
            PoseKind::Gesture {
                gesture: Gesture::Push,
                period_s: 2.0,
            },
        ];
        for k in kinds {
            for i in 0..40 {
                let j = local_pose(k, h, i as f64 * 0.037);
                for (a, b, len) in [
                    (5, 7, 0.186),
                    (6, 8, 0.186),
                    (7, 9, 0.146),
                    (8, 10, 0.146),
                    (11, 13, 0.245),
                    (12, 14, 0.245),
                    (13, 15, 0.246),
                    (14, 16, 0.246),
                ] {
                    assert!(
                        (bone(&j, a, b) - len * h).abs() < 1e-9,
                        "{k:?} bone {a}-{b}"
                    );
                }
            }
        }
    }

    #[test]
    fn standing_feet_on_floor_and_nose_forward() {
        let j = local_pose(PoseKind::Stand, 1.75, 0.0);
        assert!((j[15].z - 0.039 * 1.75).abs() < 1e-9);
        assert!(j[NOSE].x > 0.05 && j[NOSE].z > 1.55);
        assert!(j[L_SHOULDER].y > 0.0 && j[L_SHOULDER + 1].y < 0.0);
        let s = local_pose(PoseKind::Sit, 1.75, 0.0);
        assert!(
            (s[15].z - 0.039 * 1.75).abs() < 1e-9,
            "sitting feet on the floor"
        );
        assert!(s[11].z < 0.55);
    }

    #[test]
    fn world_transform_rotates_forward_onto_facing() {
        let local = local_pose(PoseKind::Stand, 1.75, 0.0);
        let facing = Vec3::new(0.0, 1.0, 0.0);
        let w = to_world(&local, Vec3::new(2.0, 1.0, 0.0), facing);
        // nose is forward (+y now), left shoulder is on the person's left (−x when facing +y)
        assert!(w[NOSE].y > 1.05);
        assert!(w[L_SHOULDER].x < 2.0 && w[L_SHOULDER + 1].x > 2.0);
    }

    #[test]
    fn wave_moves_right_wrist_only() {
        let k = PoseKind::Gesture {
            gesture: Gesture::Wave,
            period_s: 1.0,
        };
        let a = local_pose(k, 1.75, 0.0);
        let b = local_pose(k, 1.75, 0.25);
        assert!(a[10].dist(b[10]) > 0.1, "right wrist swings");
        assert!(a[9].dist(b[9]) < 1e-12, "left wrist still");
        assert!(a[10].z > 1.5, "hand raised");
    }

    #[test]
    fn push_and_pull_are_time_mirrored() {
        let push = |t| {
            local_pose(
                PoseKind::Gesture {
                    gesture: Gesture::Push,
                    period_s: 2.0,
                },
                1.75,
                t,
            )
        };
        let pull = |t| {
            local_pose(
                PoseKind::Gesture {
                    gesture: Gesture::Pull,
                    period_s: 2.0,
                },
                1.75,
                t,
            )
        };
        // push starts with hands close, extended at 0.6 s; pull the other way round
        assert!(push(0.7)[9].x > push(0.0)[9].x + 0.2);
        assert!(pull(0.0)[9].x > pull(0.7)[9].x + 0.2);
    }

    #[test]
    fn total_rcs_about_one_square_metre() {
        let t = total_rcs_m2(1.75, 1.0);
        assert!((0.9..1.1).contains(&t), "{t}");
    }

    #[test]
    fn degenerate_heart_rates_never_hang() {
        for rate in [f64::INFINITY, f64::NAN, 0.0, -1.0, 1e300, f64::MIN_POSITIVE] {
            let mut v = Vitals::new(None, Some((rate, 1e9, 1e-3)), 1, 2);
            let s = v.at(1e6);
            assert!(
                s.heartbeat_m.is_finite() || s.heart_bpm.is_none(),
                "rate {rate}"
            );
        }
    }

    #[test]
    fn heartbeat_rate_varies_around_mean() {
        let mut v = Vitals::new(Some((0.25, 0.004, 0.0)), Some((1.2, 0.05, 0.0003)), 9, 3);
        let mut rates = Vec::new();
        let mut t = 0.0;
        while t < 120.0 {
            let s = v.at(t);
            assert!(s.breathing_m.abs() <= 0.004 + 1e-15);
            assert!(s.heartbeat_m.abs() <= 0.0003 + 1e-15);
            rates.push(s.heart_bpm.unwrap());
            t += 0.02;
        }
        let mean = rates.iter().sum::<f64>() / rates.len() as f64;
        assert!((mean - 72.0).abs() < 3.0, "mean {mean}");
        let distinct = rates.windows(2).filter(|w| w[0] != w[1]).count();
        assert!(distinct > 100, "RR intervals vary ({distinct} changes)");
    }
}
