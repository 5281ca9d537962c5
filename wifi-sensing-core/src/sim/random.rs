//! Seeded random sessions: varied [`Scenario`]s for training and held-out evaluation.
//!
//! The presets of [`Scenario::preset`] are fixed choreographies: their poses do not depend on
//! the simulator seed. A [`RandomSession`] draws everything that makes one session differ from
//! another from its own `seed`: the person (height, breathing and heart rate, breathing
//! depth), a timeline of activities picked from a weighted [`ActivityMix`] (stand, sit, walk,
//! the wave / push / pull gestures, absent) with random lengths, positions, headings, walking
//! paths, walking speeds and gesture periods, and optionally the room itself
//! ([`RandomRoom`]: size, wall reflectivity, furniture reflectors, the transmitter's and the
//! receivers' positions). The same configuration always gives the same scenario, on every
//! platform (the generator is the simulator's [`Rng`]); changing the seed changes the poses.
//!
//! ```
//! use wifi_sensing_core::sim::{DeviceProfile, RandomSession, Receivers, Simulator};
//! let mut cfg = RandomSession { seed: 11, duration_s: 30.0, ..RandomSession::default() };
//! cfg.rx = Receivers::reference3();
//! let scenario = cfg.scenario()?;
//! assert_eq!(scenario, cfg.scenario()?); // deterministic
//! assert_ne!(scenario.timeline, RandomSession { seed: 12, ..cfg.clone() }.scenario()?.timeline);
//! let sim = Simulator::new(scenario, DeviceProfile::esp32(), cfg.seed)?;
//! assert_eq!(sim.node_ids(), vec![0, 1, 2]);
//! # Ok::<(), wifi_sensing_core::Error>(())
//! ```
//!
//! # Units and defaults
//!
//! Ranges are `[low, high]` pairs (uniform draws; `low == high` fixes the value). Positions keep
//! `wall_clearance_m` from the walls and `radio_clearance_m` (horizontally) from every radio.
//! A walk goes through one to three random waypoints at least 0.5 m apart. Segments that are
//! not walks last `segment_s`; a walk lasts as long as its path takes at its speed. The last
//! segment is cut at `duration_s`. After an absent segment the person comes back at a new
//! position.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::body::Gesture;
use super::impairments::Impairments;
use super::rng::Rng;
use super::scenario::{
    check_range, limits, segment_length, Antennas, Breathing, Heartbeat, Person, Receivers,
    Reflector, Room, Scenario, Segment,
};
use crate::error::{Error, Result};

/// Random stream of the session generator (the simulator's own streams are below 100).
const STREAM_SESSION: u64 = 100;
/// Random stream of the room generator.
const STREAM_ROOM: u64 = 101;
/// Rejection-sampling attempts for a position before falling back to the best one seen.
const MAX_TRIES: usize = 200;

/// Relative weights of the activities of a random session (each in `[0, 1000]`, not all 0).
///
/// `FromStr` reads the compact CLI form `walk=2,sit=1,stand=1`: listed activities get their
/// weight, the others 0.
///
/// ```
/// use wifi_sensing_core::sim::random::ActivityMix;
/// let m: ActivityMix = "walk=2,wave=1".parse()?;
/// assert_eq!((m.walk, m.wave, m.sit), (2.0, 1.0, 0.0));
/// assert!("dance=1".parse::<ActivityMix>().is_err());
/// # Ok::<(), wifi_sensing_core::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ActivityMix {
    /// Standing still. Default 2.
    pub stand: f64,
    /// Sitting still. Default 2.
    pub sit: f64,
    /// Walking. Default 3.
    pub walk: f64,
    /// Waving. Default 1.
    pub wave: f64,
    /// Pushing. Default 1.
    pub push: f64,
    /// Pulling. Default 1.
    pub pull: f64,
    /// Nobody in the room. Default 0.5.
    pub absent: f64,
}

impl Default for ActivityMix {
    fn default() -> Self {
        ActivityMix {
            stand: 2.0,
            sit: 2.0,
            walk: 3.0,
            wave: 1.0,
            push: 1.0,
            pull: 1.0,
            absent: 0.5,
        }
    }
}

/// Activity names of an [`ActivityMix`], in field order.
pub const MIX_ACTIVITIES: [&str; 7] = ["stand", "sit", "walk", "wave", "push", "pull", "absent"];

impl ActivityMix {
    /// Every weight 0 (not valid alone: set at least one).
    pub const NONE: ActivityMix = ActivityMix {
        stand: 0.0,
        sit: 0.0,
        walk: 0.0,
        wave: 0.0,
        push: 0.0,
        pull: 0.0,
        absent: 0.0,
    };

    fn weights(&self) -> [f64; 7] {
        [
            self.stand,
            self.sit,
            self.walk,
            self.wave,
            self.push,
            self.pull,
            self.absent,
        ]
    }

    fn weight_mut(&mut self, name: &str) -> Option<&mut f64> {
        Some(match name {
            "stand" => &mut self.stand,
            "sit" => &mut self.sit,
            "walk" => &mut self.walk,
            "wave" => &mut self.wave,
            "push" => &mut self.push,
            "pull" => &mut self.pull,
            "absent" => &mut self.absent,
            _ => return None,
        })
    }

    /// Checks every weight and that one is positive.
    pub fn validate(&self) -> Result<()> {
        for (name, w) in MIX_ACTIVITIES.iter().zip(self.weights()) {
            check(&format!("activities.{name}"), w, 0.0, 1000.0, "")?;
        }
        if self.weights().iter().sum::<f64>() <= 0.0 {
            return Err(cfg(
                "activities: at least one weight must be positive".into()
            ));
        }
        Ok(())
    }

    /// Index into [`MIX_ACTIVITIES`] of a weighted draw from `u` in `[0, 1)`.
    fn pick(&self, u: f64) -> usize {
        let w = self.weights();
        let total: f64 = w.iter().sum();
        let mut acc = 0.0;
        for (i, x) in w.iter().enumerate() {
            acc += x / total;
            if u < acc && *x > 0.0 {
                return i;
            }
        }
        // rounding at the top end: the last activity with a weight
        w.iter().rposition(|x| *x > 0.0).unwrap_or(0)
    }
}

impl FromStr for ActivityMix {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let mut m = ActivityMix::NONE;
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, value) = part.split_once('=').unwrap_or((part, "1"));
            let w: f64 = value.trim().parse().map_err(|_| {
                cfg(format!(
                    "activity mix: weight '{value}' of {name} is not a number"
                ))
            })?;
            let slot = m.weight_mut(name.trim()).ok_or_else(|| {
                cfg(format!(
                    "activity mix: unknown activity '{name}' (expected {})",
                    MIX_ACTIVITIES.join(", ")
                ))
            })?;
            *slot = w;
        }
        m.validate()?;
        Ok(m)
    }
}

/// Ranges of a random room (used when [`RandomSession::random_room`] is set).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RandomRoom {
    /// Room length along x, m, within `[2, 100]`. Default `[3.5, 8]`.
    pub size_x_m: [f64; 2],
    /// Room width along y, m, within `[2, 100]`. Default `[3, 6]`.
    pub size_y_m: [f64; 2],
    /// Room height, m, within `[2, 100]`. Default `[2.4, 3.2]`.
    pub size_z_m: [f64; 2],
    /// Amplitude reflectivity of the walls, within `[0, 1]`. Default `[0.2, 0.6]`.
    pub wall_reflectivity: [f64; 2],
    /// Number of furniture reflectors, within `[0, 1000]`. Default `[0, 6]`.
    pub reflectors: [u32; 2],
    /// Radar cross-section of each reflector, m², within `[0, 1000]`. Default `[0.2, 3]`.
    pub reflector_rcs_m2: [f64; 2],
    /// Height of the radios (transmitter and receivers), m, within `[0.1, 100]` and below the
    /// ceiling. Default `[0.7, 1.8]`.
    pub radio_height_m: [f64; 2],
    /// Distance of each radio from the wall it is mounted by, m, within `[0.05, 1]`. Default
    /// `[0.1, 0.4]`.
    pub radio_wall_offset_m: [f64; 2],
    /// Smallest horizontal distance between two radios, m, within `[0.1, 10]` (a best effort
    /// when the room is too small). Default 1.
    pub min_radio_spacing_m: f64,
}

impl Default for RandomRoom {
    fn default() -> Self {
        RandomRoom {
            size_x_m: [3.5, 8.0],
            size_y_m: [3.0, 6.0],
            size_z_m: [2.4, 3.2],
            wall_reflectivity: [0.2, 0.6],
            reflectors: [0, 6],
            reflector_rcs_m2: [0.2, 3.0],
            radio_height_m: [0.7, 1.8],
            radio_wall_offset_m: [0.1, 0.4],
            min_radio_spacing_m: 1.0,
        }
    }
}

/// A seeded random session: everything a [`Scenario`] needs, drawn from ranges. See the
/// [module docs](self).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RandomSession {
    /// Seed of every random choice (independent of the simulator's seed, though the CLI uses
    /// the same number for both).
    pub seed: u64,
    /// Session length, s, in `(0, 1e7]`. Default 60.
    pub duration_s: f64,
    /// Frame rate, Hz. Default 50.
    pub rate_hz: f64,
    /// Relative weights of the activities.
    pub activities: ActivityMix,
    /// Length of a segment that is not a walk, s, within `[0.5, 1e7]`. Default `[3, 12]`.
    pub segment_s: [f64; 2],
    /// Person height, m, within `[1, 2.3]`. Default `[1.5, 1.95]`.
    pub height_m: [f64; 2],
    /// Breathing rate, breaths per minute, within `[1, 120]`. Default `[8, 24]`.
    pub breathing_bpm: [f64; 2],
    /// Peak chest displacement of breathing, mm, within `[0, 50]`. Default `[2, 6]`.
    pub breathing_mm: [f64; 2],
    /// Mean heart rate, beats per minute, within `[20, 250]`. Default `[55, 100]`.
    pub heart_bpm: [f64; 2],
    /// Walking speed, m/s, within `[0.05, 10]`. Default `[0.4, 1.4]`.
    pub walk_speed_m_s: [f64; 2],
    /// Period of one gesture cycle as a factor of the gesture's default period, within
    /// `[0.1, 10]`. Default `[0.8, 1.25]`.
    pub gesture_period_factor: [f64; 2],
    /// Distance the person keeps from the walls, m, in `[0, 5]`. Default 0.4.
    pub wall_clearance_m: f64,
    /// Horizontal distance the person keeps from every radio, m, in `[0, 5]` (a best effort
    /// when the room is crowded). Default 0.4.
    pub radio_clearance_m: f64,
    /// Draw the room, reflectors and radio positions from [`RandomSession::room_ranges`]
    /// instead of using `room`, `tx` and `rx`. Default `false`.
    pub random_room: bool,
    /// Ranges of the random room.
    pub room_ranges: RandomRoom,
    /// The room when `random_room` is off. Default: the simulator's default room.
    pub room: Room,
    /// The transmitter when `random_room` is off. Default: the default scenario's.
    pub tx: Antennas,
    /// The receivers (positions used when `random_room` is off; with it, their number, node
    /// ids and spacing are kept and new positions drawn). Default: the default scenario's one
    /// receiver.
    pub rx: Receivers,
    /// Radio impairments. Default: [`Impairments::default`].
    pub impairments: Impairments,
}

impl Default for RandomSession {
    fn default() -> Self {
        let base = Scenario::default();
        RandomSession {
            seed: 0,
            duration_s: 60.0,
            rate_hz: base.rate_hz,
            activities: ActivityMix::default(),
            segment_s: [3.0, 12.0],
            height_m: [1.5, 1.95],
            breathing_bpm: [8.0, 24.0],
            breathing_mm: [2.0, 6.0],
            heart_bpm: [55.0, 100.0],
            walk_speed_m_s: [0.4, 1.4],
            gesture_period_factor: [0.8, 1.25],
            wall_clearance_m: 0.4,
            radio_clearance_m: 0.4,
            random_room: false,
            room_ranges: RandomRoom::default(),
            room: base.room,
            tx: base.tx,
            rx: base.rx,
            impairments: base.impairments,
        }
    }
}

fn cfg(msg: String) -> Error {
    Error::Config(msg)
}

fn check(what: &str, v: f64, lo: f64, hi: f64, unit: &str) -> Result<()> {
    check_range(&format!("random session: {what}"), v, lo, hi, unit)
}

fn check_pair(what: &str, r: [f64; 2], lo: f64, hi: f64, unit: &str) -> Result<()> {
    check(&format!("{what}[0]"), r[0], lo, hi, unit)?;
    check(&format!("{what}[1]"), r[1], lo, hi, unit)?;
    if r[0] > r[1] {
        return Err(cfg(format!(
            "random session: {what} is [low, high] with low <= high (got [{}, {}])",
            r[0], r[1]
        )));
    }
    Ok(())
}

/// Uniform draw in `[r[0], r[1]]`.
fn draw(rng: &mut Rng, r: [f64; 2]) -> f64 {
    r[0] + (r[1] - r[0]) * rng.uniform()
}

impl RandomSession {
    /// A session of `duration_s` seconds with seed `seed` and defaults otherwise.
    pub fn new(seed: u64, duration_s: f64) -> Self {
        RandomSession {
            seed,
            duration_s,
            ..RandomSession::default()
        }
    }

    /// Checks every field; errors name the field and the accepted range.
    pub fn validate(&self) -> Result<()> {
        if !(self.duration_s.is_finite()
            && self.duration_s > 0.0
            && self.duration_s <= limits::MAX_DURATION_S)
        {
            return Err(cfg(format!(
                "random session: duration_s must be in (0, {}] s (got {})",
                limits::MAX_DURATION_S,
                self.duration_s
            )));
        }
        check(
            "rate_hz",
            self.rate_hz,
            limits::MIN_RATE_HZ,
            limits::MAX_RATE_HZ,
            "Hz",
        )?;
        self.activities.validate()?;
        check_pair(
            "segment_s",
            self.segment_s,
            0.5,
            limits::MAX_DURATION_S,
            "s",
        )?;
        check_pair("height_m", self.height_m, 1.0, 2.3, "m")?;
        check_pair("breathing_bpm", self.breathing_bpm, 1.0, 120.0, "/min")?;
        check_pair("breathing_mm", self.breathing_mm, 0.0, 50.0, "mm")?;
        check_pair("heart_bpm", self.heart_bpm, 20.0, 250.0, "/min")?;
        check_pair("walk_speed_m_s", self.walk_speed_m_s, 0.05, 10.0, "m/s")?;
        check_pair(
            "gesture_period_factor",
            self.gesture_period_factor,
            0.1,
            10.0,
            "",
        )?;
        check("wall_clearance_m", self.wall_clearance_m, 0.0, 5.0, "m")?;
        check("radio_clearance_m", self.radio_clearance_m, 0.0, 5.0, "m")?;
        let r = &self.room_ranges;
        check_pair("room_ranges.size_x_m", r.size_x_m, 2.0, 100.0, "m")?;
        check_pair("room_ranges.size_y_m", r.size_y_m, 2.0, 100.0, "m")?;
        check_pair("room_ranges.size_z_m", r.size_z_m, 2.0, 100.0, "m")?;
        check_pair(
            "room_ranges.wall_reflectivity",
            r.wall_reflectivity,
            0.0,
            1.0,
            "",
        )?;
        check_pair(
            "room_ranges.reflectors",
            [f64::from(r.reflectors[0]), f64::from(r.reflectors[1])],
            0.0,
            limits::MAX_REFLECTORS as f64,
            "",
        )?;
        check_pair(
            "room_ranges.reflector_rcs_m2",
            r.reflector_rcs_m2,
            0.0,
            1000.0,
            "m²",
        )?;
        check_pair(
            "room_ranges.radio_height_m",
            r.radio_height_m,
            0.1,
            100.0,
            "m",
        )?;
        if r.radio_height_m[1] >= r.size_z_m[0] {
            return Err(cfg(format!(
                "random session: room_ranges.radio_height_m (up to {} m) must stay below the lowest ceiling ({} m)",
                r.radio_height_m[1], r.size_z_m[0]
            )));
        }
        check_pair(
            "room_ranges.radio_wall_offset_m",
            r.radio_wall_offset_m,
            0.05,
            1.0,
            "m",
        )?;
        check(
            "room_ranges.min_radio_spacing_m",
            r.min_radio_spacing_m,
            0.1,
            10.0,
            "m",
        )?;
        let min_side = if self.random_room {
            r.size_x_m[0].min(r.size_y_m[0])
        } else {
            self.room.size_m[0].min(self.room.size_m[1])
        };
        if 2.0 * self.wall_clearance_m + 0.5 > min_side {
            return Err(cfg(format!(
                "random session: wall_clearance_m {} m leaves less than 0.5 m to move in a {min_side} m wide room",
                self.wall_clearance_m
            )));
        }
        // The fixed layout is checked as part of a scenario.
        let fixed = Scenario {
            duration_s: Some(self.duration_s),
            rate_hz: self.rate_hz,
            room: self.room.clone(),
            tx: self.tx.clone(),
            rx: self.rx.clone(),
            impairments: self.impairments.clone(),
            ..Scenario::default()
        };
        fixed.validate()
    }

    /// The scenario of this session (validated).
    pub fn scenario(&self) -> Result<Scenario> {
        self.validate()?;
        let (room, tx, rx) = if self.random_room {
            self.draw_room()
        } else {
            (self.room.clone(), self.tx.clone(), self.rx.clone())
        };
        let mut rng = Rng::for_stream(self.seed, STREAM_SESSION, 0);
        let person = Person {
            height_m: draw(&mut rng, self.height_m),
            rcs_scale: 1.0,
            breathing: Some(Breathing {
                rate_bpm: draw(&mut rng, self.breathing_bpm),
                amplitude_mm: draw(&mut rng, self.breathing_mm),
            }),
            heartbeat: Some(Heartbeat {
                rate_bpm: draw(&mut rng, self.heart_bpm),
                ..Heartbeat::default()
            }),
        };
        let radios: Vec<[f64; 2]> = std::iter::once(&tx)
            .chain(rx.arrays())
            .map(|a| [a.position_m[0], a.position_m[1]])
            .collect();
        let area = Area {
            lo: [self.wall_clearance_m; 2],
            hi: [
                room.size_m[0] - self.wall_clearance_m,
                room.size_m[1] - self.wall_clearance_m,
            ],
            radios,
            clearance: self.radio_clearance_m,
        };
        let timeline = self.draw_timeline(&mut rng, &area);
        let s = Scenario {
            name: format!(
                "random:{}{}",
                self.seed,
                if self.random_room { "+room" } else { "" }
            ),
            duration_s: Some(self.duration_s),
            rate_hz: self.rate_hz,
            room,
            tx,
            rx,
            person,
            timeline,
            impairments: self.impairments.clone(),
        };
        s.validate()?;
        Ok(s)
    }

    fn draw_timeline(&self, rng: &mut Rng, area: &Area) -> Vec<Segment> {
        let mut out = Vec::new();
        let mut t = 0.0;
        let mut pos = area.point(rng);
        // Bounded by the segment limit whatever the ranges (at least 0.5 s each otherwise).
        while t < self.duration_s && out.len() < limits::MAX_SEGMENTS - 1 {
            let heading = 360.0 * rng.uniform();
            let len = draw(rng, self.segment_s);
            let seg = match MIX_ACTIVITIES[self.activities.pick(rng.uniform())] {
                "stand" => Segment::Stand {
                    duration_s: len,
                    position_m: Some(pos),
                    heading_deg: Some(heading),
                },
                "sit" => Segment::Sit {
                    duration_s: len,
                    position_m: Some(pos),
                    heading_deg: Some(heading),
                },
                "absent" => {
                    // back somewhere else
                    pos = area.point(rng);
                    Segment::Absent { duration_s: len }
                }
                "walk" => {
                    let n = 1 + (rng.uniform() * 3.0) as usize;
                    let mut path = vec![pos];
                    for _ in 0..n.min(3) {
                        let last = *path.last().unwrap_or(&pos);
                        path.push(area.point_away(rng, last, 0.5));
                    }
                    pos = *path.last().unwrap_or(&pos);
                    Segment::Walk {
                        path_m: path,
                        speed_m_s: Some(draw(rng, self.walk_speed_m_s)),
                        duration_s: None,
                        repeat: 1,
                    }
                }
                g => {
                    let gesture = Gesture::from_name(g).unwrap_or(Gesture::Wave);
                    let period = (gesture.default_period_s()
                        * draw(rng, self.gesture_period_factor))
                    .clamp(0.1, 60.0);
                    Segment::Gesture {
                        gesture,
                        duration_s: len,
                        position_m: Some(pos),
                        heading_deg: Some(heading),
                        period_s: Some(period),
                    }
                }
            };
            t += segment_length(&seg);
            out.push(seg);
        }
        out
    }

    /// A random room, transmitter and receivers from [`RandomSession::room_ranges`].
    fn draw_room(&self) -> (Room, Antennas, Receivers) {
        let r = &self.room_ranges;
        let mut rng = Rng::for_stream(self.seed, STREAM_ROOM, 0);
        let size = [
            draw(&mut rng, r.size_x_m),
            draw(&mut rng, r.size_y_m),
            draw(&mut rng, r.size_z_m),
        ];
        let wall = draw(&mut rng, r.wall_reflectivity);
        let base = Room::default();
        let n_refl = r.reflectors[0]
            + ((rng.uniform() * f64::from(r.reflectors[1] - r.reflectors[0] + 1)) as u32)
                .min(r.reflectors[1] - r.reflectors[0]);
        let reflectors = (0..n_refl)
            .map(|i| Reflector {
                name: format!("reflector {i}"),
                position_m: [
                    rng.uniform() * size[0],
                    rng.uniform() * size[1],
                    rng.uniform() * size[2].min(2.0),
                ],
                rcs_m2: draw(&mut rng, r.reflector_rcs_m2),
                phase_deg: 180.0,
            })
            .collect();
        let room = Room {
            size_m: size,
            wall_reflectivity: wall,
            reflectors,
            ..base
        };
        // Radios by the walls, spread apart: the transmitter first, then each receiver.
        let mut placed: Vec<[f64; 3]> = Vec::new();
        let mut place = |rng: &mut Rng, template: &Antennas| -> Antennas {
            let mut best: Option<(f64, [f64; 3], [f64; 3])> = None;
            for _ in 0..MAX_TRIES {
                let (p, axis) = wall_point(rng, size, r);
                let gap = placed
                    .iter()
                    .map(|q| ((p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2)).sqrt())
                    .fold(f64::INFINITY, f64::min);
                if best.as_ref().is_none_or(|b| gap > b.0) {
                    best = Some((gap, p, axis));
                }
                if gap >= r.min_radio_spacing_m {
                    break;
                }
            }
            let (_, p, axis) =
                best.unwrap_or((0.0, [0.5 * size[0], 0.5 * size[1], 1.0], [0.0, 1.0, 0.0]));
            placed.push(p);
            Antennas {
                position_m: p,
                axis,
                ..template.clone()
            }
        };
        let tx = place(&mut rng, &self.tx);
        let rx = match &self.rx {
            Receivers::One(a) => Receivers::One(place(&mut rng, a)),
            Receivers::Many(v) => Receivers::Many(v.iter().map(|a| place(&mut rng, a)).collect()),
        };
        (room, tx, rx)
    }
}

/// A point by a random wall and the axis along that wall.
fn wall_point(rng: &mut Rng, size: [f64; 3], r: &RandomRoom) -> ([f64; 3], [f64; 3]) {
    let wall = (rng.uniform() * 4.0) as usize;
    let off = draw(rng, r.radio_wall_offset_m);
    let z = draw(rng, r.radio_height_m);
    let along = rng.uniform();
    let margin: f64 = 0.3;
    let lerp = |len: f64| margin.min(0.5 * len) + along * (len - 2.0 * margin.min(0.5 * len));
    match wall {
        0 => ([off, lerp(size[1]), z], [0.0, 1.0, 0.0]),
        1 => ([size[0] - off, lerp(size[1]), z], [0.0, 1.0, 0.0]),
        2 => ([lerp(size[0]), off, z], [1.0, 0.0, 0.0]),
        _ => ([lerp(size[0]), size[1] - off, z], [1.0, 0.0, 0.0]),
    }
}

/// Where the person may be: a rectangle of the floor, away from the radios.
struct Area {
    lo: [f64; 2],
    hi: [f64; 2],
    radios: Vec<[f64; 2]>,
    clearance: f64,
}

impl Area {
    fn uniform(&self, rng: &mut Rng) -> [f64; 2] {
        [
            draw(rng, [self.lo[0], self.hi[0]]),
            draw(rng, [self.lo[1], self.hi[1]]),
        ]
    }

    /// Distance to the nearest radio.
    fn radio_gap(&self, p: [f64; 2]) -> f64 {
        self.radios
            .iter()
            .map(|q| ((p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2)).sqrt())
            .fold(f64::INFINITY, f64::min)
    }

    /// A random point away from the radios (the farthest of the attempts if none is clear).
    fn point(&self, rng: &mut Rng) -> [f64; 2] {
        self.point_where(rng, |_| true)
    }

    /// A random point at least `min_step` from `from` when possible.
    fn point_away(&self, rng: &mut Rng, from: [f64; 2], min_step: f64) -> [f64; 2] {
        self.point_where(rng, |p| {
            ((p[0] - from[0]).powi(2) + (p[1] - from[1]).powi(2)).sqrt() >= min_step
        })
    }

    fn point_where(&self, rng: &mut Rng, ok: impl Fn([f64; 2]) -> bool) -> [f64; 2] {
        let mut best: Option<(f64, [f64; 2])> = None;
        for _ in 0..MAX_TRIES {
            let p = self.uniform(rng);
            if !ok(p) {
                continue;
            }
            let gap = self.radio_gap(p);
            if gap >= self.clearance {
                return p;
            }
            if best.is_none_or(|b| gap > b.0) {
                best = Some((gap, p));
            }
        }
        best.map_or_else(
            || {
                [
                    0.5 * (self.lo[0] + self.hi[0]),
                    0.5 * (self.lo[1] + self.hi[1]),
                ]
            },
            |b| b.1,
        )
    }
}
