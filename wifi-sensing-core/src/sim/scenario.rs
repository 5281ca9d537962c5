//! Scenario description: the room, the radios' positions, the person and the activity timeline,
//! and the impairments; presets; JSON loading and validation.
//!
//! # Coordinates and units
//!
//! The room is a box `[0, size_x] × [0, size_y] × [0, size_z]` metres with the origin at a floor
//! corner, `z` up. Every field name carries its unit (`_m`, `_s`, `_hz`, `_bpm`, `_mm`, `_ms`,
//! `_db`, `_deg`, `_m2`). Headings are in degrees counter-clockwise from the `+x` axis (0 faces
//! `+x`, 90 faces `+y`). Positions of a person (`position_m`, walk `path_m`) are floor points
//! `[x, y]` under the pelvis.
//!
//! # JSON form
//!
//! Every field is optional; missing fields take the defaults of [`Scenario::default`] (the preset
//! room with an empty timeline). A minimal file:
//!
//! ```json
//! {
//!   "name": "my living room",
//!   "duration_s": 30,
//!   "rate_hz": 100,
//!   "room": {"size_m": [6, 4.5, 2.6],
//!            "reflectors": [{"name": "fridge", "position_m": [5.5, 4.0, 0.9], "rcs_m2": 3}]},
//!   "tx": {"position_m": [0.3, 2.0, 1.2]},
//!   "rx": {"position_m": [5.7, 2.5, 1.2]},
//!   "person": {"height_m": 1.68, "breathing": {"rate_bpm": 12, "amplitude_mm": 5}},
//!   "timeline": [
//!     {"activity": "absent", "duration_s": 5},
//!     {"activity": "walk", "path_m": [[0.5, 0.5], [3, 2]], "speed_m_s": 1.0},
//!     {"activity": "sit", "duration_s": 10, "heading_deg": 90},
//!     {"activity": "gesture", "gesture": "wave", "duration_s": 5}
//!   ],
//!   "impairments": {"snr_db": 25, "drop_prob": 0.02}
//! }
//! ```
//!
//! Segment kinds (`activity`): `absent {duration_s}`, `stand` / `sit {duration_s, position_m?,
//! heading_deg?}`, `walk {path_m, speed_m_s? | duration_s?, repeat?}` (default speed 1 m/s;
//! giving `duration_s` sets the speed to distance / duration; `repeat` walks the path that many
//! times, alternately forward and backward), `gesture {gesture: wave|push|pull,
//! duration_s, position_m?, heading_deg?, period_s?}`. A missing position continues from where
//! the previous segment ended (the room centre at first); a missing heading faces the midpoint
//! of the radio link (of the first receiver when there are several). Poses blend over the first
//! 0.5 s of a segment (at most half of it). When the timeline is shorter than `duration_s` the person holds still at the end (a walk or
//! gesture ends standing; an absent person stays absent); when it is longer it is cut.
//!
//! `person.breathing` or `person.heartbeat` set to `null` switch that vital sign off.
//!
//! # Several receivers
//!
//! `"rx"` may be a list of antenna arrays instead of one object: each is a receiver node, with
//! node id = its index in the list unless it sets `"node_id"` (ids must be distinct; at most
//! [`limits::MAX_RECEIVERS`]). One capture then interleaves every node's frames in time order
//! (see [`Simulator`](super::Simulator) and [`truth`](super::truth)):
//!
//! ```json
//! {"duration_s": 60,
//!  "rx": [{"position_m": [4.5, 2.0, 1.0]},
//!         {"position_m": [2.5, 3.8, 1.2]},
//!         {"position_m": [2.5, 0.2, 1.2], "node_id": 7}]}
//! ```
//!
//! [`Receivers::reference3`] is the reference layout (nodes 0, 1, 2 at [`REFERENCE3_RX_M`]);
//! [`Scenario::reference_layout`] puts it into a preset. Random sessions are in
//! [`random`](super::random).

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::body::{self, Activity, Gesture, Joints, MotionState, PoseKind};
use super::geometry::Vec3;
use super::impairments::Impairments;
use super::math::{deg, sin_cos};
use crate::error::{Error, Result};

/// Limits checked by [`Scenario::validate`].
pub mod limits {
    /// Longest scenario, s (about 116 days).
    pub const MAX_DURATION_S: f64 = 1e7;
    /// Highest frame rate, Hz.
    pub const MAX_RATE_HZ: f64 = 10_000.0;
    /// Lowest frame rate, Hz.
    pub const MIN_RATE_HZ: f64 = 0.01;
    /// Most timeline segments.
    pub const MAX_SEGMENTS: usize = 10_000;
    /// Most walk path points per segment.
    pub const MAX_PATH_POINTS: usize = 10_000;
    /// Most static reflectors.
    pub const MAX_REFLECTORS: usize = 1_000;
    /// Most receiver nodes.
    pub const MAX_RECEIVERS: usize = 64;
}

/// A complete scenario. See the [module docs](self) for units, defaults and the JSON form.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Scenario {
    /// Free-text name (reported in the ground-truth header).
    pub name: String,
    /// Simulated duration, s; `None` = the length of the timeline.
    pub duration_s: Option<f64>,
    /// Nominal frame rate, Hz. Default 50.
    pub rate_hz: f64,
    /// The room and its static reflectors.
    pub room: Room,
    /// Transmitter antenna array.
    pub tx: Antennas,
    /// Receiver antenna array(s): one object (one receiver node) or a list (one node each).
    pub rx: Receivers,
    /// The person (used by every non-absent segment).
    pub person: Person,
    /// Activity segments, in order.
    pub timeline: Vec<Segment>,
    /// Radio impairments.
    pub impairments: Impairments,
}

impl Default for Scenario {
    fn default() -> Self {
        Scenario {
            name: "custom".to_string(),
            duration_s: None,
            rate_hz: 50.0,
            room: Room::default(),
            tx: Antennas {
                position_m: [0.5, 2.0, 1.0],
                ..Antennas::default()
            },
            rx: Receivers::One(Antennas {
                position_m: [4.5, 2.0, 1.0],
                ..Antennas::default()
            }),
            person: Person::default(),
            timeline: Vec::new(),
            impairments: Impairments::default(),
        }
    }
}

/// The room: a box with reflecting walls, floor and ceiling, plus point reflectors (furniture).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Room {
    /// `[x, y, z]` size, m, each in `[1, 100]`. Default `[5, 4, 2.8]`.
    pub size_m: [f64; 3],
    /// Amplitude reflectivity of the four walls, `[0, 1]`. Default 0.4.
    pub wall_reflectivity: f64,
    /// Amplitude reflectivity of the floor, `[0, 1]`. Default 0.5.
    pub floor_reflectivity: f64,
    /// Amplitude reflectivity of the ceiling, `[0, 1]`. Default 0.3.
    pub ceiling_reflectivity: f64,
    /// Static point reflectors. Default: a table, a metal cabinet and a sofa.
    pub reflectors: Vec<Reflector>,
}

impl Default for Room {
    fn default() -> Self {
        let r = |name: &str, p: [f64; 3], rcs: f64| Reflector {
            name: name.to_string(),
            position_m: p,
            rcs_m2: rcs,
            phase_deg: 180.0,
        };
        Room {
            size_m: [5.0, 4.0, 2.8],
            wall_reflectivity: 0.4,
            floor_reflectivity: 0.5,
            ceiling_reflectivity: 0.3,
            reflectors: vec![
                r("table", [3.2, 3.0, 0.75], 0.5),
                r("metal cabinet", [0.4, 3.6, 1.0], 2.0),
                r("sofa", [1.5, 0.4, 0.4], 0.8),
            ],
        }
    }
}

/// A static point reflector.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Reflector {
    /// Label (free text).
    pub name: String,
    /// Position, m, inside the room.
    pub position_m: [f64; 3],
    /// Radar cross-section, m², in `[0, 1000]`. Default 1.
    pub rcs_m2: f64,
    /// Phase of the reflection, degrees. Default 180.
    pub phase_deg: f64,
}

impl Default for Reflector {
    fn default() -> Self {
        Reflector {
            name: String::new(),
            position_m: [0.0, 0.0, 0.0],
            rcs_m2: 1.0,
            phase_deg: 180.0,
        }
    }
}

/// An antenna array: a uniform linear array centred on `position_m`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Antennas {
    /// Array centre, m, inside the room.
    pub position_m: [f64; 3],
    /// Direction of the array (normalised internally). Default `[0, 1, 0]`.
    pub axis: [f64; 3],
    /// Element spacing, m, in `(0, 1]`; `None` = half the carrier wavelength.
    pub spacing_m: Option<f64>,
    /// Receivers only: the node id of this receiver's frames. `None` = its index in the `rx`
    /// list, or the device profile's node id when `rx` is a single object. Not allowed on `tx`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_id: Option<u32>,
}

impl Default for Antennas {
    fn default() -> Self {
        Antennas {
            position_m: [0.0, 0.0, 1.0],
            axis: [0.0, 1.0, 0.0],
            spacing_m: None,
            node_id: None,
        }
    }
}

impl Antennas {
    /// An array centred on `position_m` with the default axis (`+y`) and spacing.
    pub fn at(position_m: [f64; 3]) -> Self {
        Antennas {
            position_m,
            ..Antennas::default()
        }
    }
}

/// Receiver positions of the reference layout, m: one node on the far side of the link (the
/// default receiver) and one by each long wall, for the default 5 × 4 × 2.8 m room and its
/// transmitter at (0.5, 2, 1).
pub const REFERENCE3_RX_M: [[f64; 3]; 3] = [[4.5, 2.0, 1.0], [2.5, 3.8, 1.2], [2.5, 0.2, 1.2]];

/// Names accepted by [`Receivers::by_name`].
pub const LAYOUTS: [&str; 2] = ["one", "reference3"];

/// The receivers of a scenario: JSON `"rx"` is either one antenna-array object (one receiver
/// node, the frames carry the device profile's node id unless the object sets `node_id`) or a
/// list of them (receiver `i` is node `i` unless it sets `node_id`; ids must be distinct).
///
/// ```
/// use wifi_sensing_core::sim::scenario::{Receivers, Scenario};
/// let s = Scenario::from_json_str(r#"{"duration_s": 1,
///     "rx": [{"position_m": [4.5, 2, 1]}, {"position_m": [2.5, 3.8, 1.2], "node_id": 7}]}"#)?;
/// assert_eq!(s.rx.node_ids(1), vec![0, 7]);
/// assert!(matches!(s.rx, Receivers::Many(_)));
/// let one = Scenario::from_json_str(r#"{"duration_s": 1, "rx": {"position_m": [4.5, 2, 1]}}"#)?;
/// assert_eq!(one.rx.node_ids(1), vec![1]);
/// # Ok::<(), wifi_sensing_core::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum Receivers {
    /// One receiver (JSON: an object), as in single-link scenarios.
    One(Antennas),
    /// Several receiver nodes (JSON: a list), at most [`limits::MAX_RECEIVERS`].
    Many(Vec<Antennas>),
}

impl Default for Receivers {
    fn default() -> Self {
        Receivers::One(Antennas::default())
    }
}

impl From<Antennas> for Receivers {
    fn from(a: Antennas) -> Self {
        Receivers::One(a)
    }
}

impl From<Vec<Antennas>> for Receivers {
    fn from(v: Vec<Antennas>) -> Self {
        Receivers::Many(v)
    }
}

impl Receivers {
    /// The receivers' antenna arrays, in node order.
    pub fn arrays(&self) -> &[Antennas] {
        match self {
            Receivers::One(a) => std::slice::from_ref(a),
            Receivers::Many(v) => v,
        }
    }

    /// The receivers' antenna arrays, mutable.
    pub fn arrays_mut(&mut self) -> &mut [Antennas] {
        match self {
            Receivers::One(a) => std::slice::from_mut(a),
            Receivers::Many(v) => v,
        }
    }

    /// The reference layout of issue 12 ([`REFERENCE3_RX_M`]): three receiver nodes, ids 0, 1
    /// and 2, around the default room with its default transmitter. Each array lies along the
    /// wall it is mounted by (node 0 along `y`, nodes 1 and 2 along `x`), so that multi-antenna
    /// devices face the room broadside.
    pub fn reference3() -> Self {
        let axes = [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [1.0, 0.0, 0.0]];
        Receivers::Many(
            REFERENCE3_RX_M
                .iter()
                .zip(axes)
                .map(|(p, axis)| Antennas {
                    axis,
                    ..Antennas::at(*p)
                })
                .collect(),
        )
    }

    /// A receiver layout by name: `one` (the default scenario's single receiver) or
    /// `reference3` ([`Receivers::reference3`]).
    pub fn by_name(name: &str) -> Result<Self> {
        match name {
            "one" | "single" => Ok(Scenario::default().rx),
            "reference3" => Ok(Receivers::reference3()),
            _ => Err(cfg_err(format!(
                "unknown receiver layout '{name}' (expected one of {})",
                LAYOUTS.join(", ")
            ))),
        }
    }

    /// Whether `rx` was given as a list (the ground truth then lists each slot's nodes).
    pub fn is_list(&self) -> bool {
        matches!(self, Receivers::Many(_))
    }

    /// The node id of each receiver; `default_id` is the id of a single receiver object
    /// without its own `node_id` (the device profile's).
    pub fn node_ids(&self, default_id: u32) -> Vec<u32> {
        match self {
            Receivers::One(a) => vec![a.node_id.unwrap_or(default_id)],
            Receivers::Many(v) => v
                .iter()
                .enumerate()
                .map(|(i, a)| a.node_id.unwrap_or(i as u32))
                .collect(),
        }
    }
}

impl Serialize for Receivers {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            Receivers::One(a) => a.serialize(s),
            Receivers::Many(v) => v.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Receivers {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Receivers;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an antenna-array object or a list of them")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> std::result::Result<Receivers, A::Error> {
                Antennas::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(Receivers::One)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                seq: A,
            ) -> std::result::Result<Receivers, A::Error> {
                Vec::<Antennas>::deserialize(serde::de::value::SeqAccessDeserializer::new(seq))
                    .map(Receivers::Many)
            }
        }
        d.deserialize_any(V)
    }
}

/// The person's body and vital signs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Person {
    /// Height, m, in `[1, 2.3]`. Default 1.75.
    pub height_m: f64,
    /// Factor on every body radar cross-section, `[0, 100]`. Default 1.
    pub rcs_scale: f64,
    /// Breathing; `None` (JSON `null`) for none. Default 15 /min, 4 mm.
    pub breathing: Option<Breathing>,
    /// Heartbeat; `None` (JSON `null`) for none. Default 72 /min, 0.3 mm, 40 ms SDNN.
    pub heartbeat: Option<Heartbeat>,
}

impl Default for Person {
    fn default() -> Self {
        Person {
            height_m: 1.75,
            rcs_scale: 1.0,
            breathing: Some(Breathing::default()),
            heartbeat: Some(Heartbeat::default()),
        }
    }
}

/// Breathing: sinusoidal chest displacement along the facing direction.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Breathing {
    /// Breaths per minute, in `[1, 120]`. Default 15.
    pub rate_bpm: f64,
    /// Peak chest displacement, mm, in `[0, 50]`. Default 4.
    pub amplitude_mm: f64,
}

impl Default for Breathing {
    fn default() -> Self {
        Breathing {
            rate_bpm: 15.0,
            amplitude_mm: 4.0,
        }
    }
}

/// Heartbeat: chest displacement of one sine cycle per beat, with beat-to-beat variability.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Heartbeat {
    /// Mean beats per minute, in `[20, 250]`. Default 72.
    pub rate_bpm: f64,
    /// Peak chest displacement, mm, in `[0, 5]`. Default 0.3.
    pub amplitude_mm: f64,
    /// Standard deviation of the RR interval (SDNN), ms, in `[0, 300]`. Default 40.
    pub variability_ms: f64,
}

impl Default for Heartbeat {
    fn default() -> Self {
        Heartbeat {
            rate_bpm: 72.0,
            amplitude_mm: 0.3,
            variability_ms: 40.0,
        }
    }
}

/// One segment of the activity timeline (JSON: an object with an `activity` tag).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "activity", rename_all = "snake_case", deny_unknown_fields)]
pub enum Segment {
    /// Nobody in the room.
    Absent {
        /// Length, s.
        duration_s: f64,
    },
    /// Standing still (breathing).
    Stand {
        /// Length, s.
        duration_s: f64,
        /// Floor position `[x, y]`, m; default: where the previous segment ended.
        #[serde(default)]
        position_m: Option<[f64; 2]>,
        /// Heading, degrees; default: facing the middle of the link.
        #[serde(default)]
        heading_deg: Option<f64>,
    },
    /// Sitting still (breathing).
    Sit {
        /// Length, s.
        duration_s: f64,
        /// Floor position `[x, y]` under the pelvis, m; default: where the previous segment ended.
        #[serde(default)]
        position_m: Option<[f64; 2]>,
        /// Heading, degrees; default: facing the middle of the link.
        #[serde(default)]
        heading_deg: Option<f64>,
    },
    /// Walking along a polyline.
    Walk {
        /// Waypoints `[x, y]`, m (at least two).
        path_m: Vec<[f64; 2]>,
        /// Speed, m/s, in `[0.05, 10]`; default 1 (exclusive with `duration_s`).
        #[serde(default)]
        speed_m_s: Option<f64>,
        /// Time to walk the whole path (all repetitions), s; sets the speed.
        #[serde(default)]
        duration_s: Option<f64>,
        /// How many times the path is walked, alternately forward and backward (so an open
        /// path is walked back and forth and a closed loop alternates direction), in
        /// `[1, 1000000]`. Default 1.
        #[serde(default = "one")]
        repeat: u32,
    },
    /// Standing and repeating a gesture.
    Gesture {
        /// Which gesture.
        gesture: Gesture,
        /// Length, s.
        duration_s: f64,
        /// Floor position `[x, y]`, m; default: where the previous segment ended.
        #[serde(default)]
        position_m: Option<[f64; 2]>,
        /// Heading, degrees; default: facing the middle of the link.
        #[serde(default)]
        heading_deg: Option<f64>,
        /// One gesture cycle, s, in `[0.1, 60]`; default 0.67 (wave) or 2 (push, pull).
        #[serde(default)]
        period_s: Option<f64>,
    },
}

/// Names accepted by [`Scenario::preset`].
pub const PRESETS: [&str; 8] = [
    "empty",
    "still",
    "breathe",
    "walk",
    "gesture:wave",
    "gesture:push",
    "gesture:pull",
    "mixed",
];

fn one() -> u32 {
    1
}

fn cfg_err(msg: String) -> Error {
    Error::Config(msg)
}

/// Checks that each coordinate of `p` lies inside the room (`size`, in m, from the origin).
fn check_inside(what: &str, p: &[f64], size: [f64; 3]) -> Result<()> {
    for (i, (&v, hi)) in p.iter().zip(size).enumerate() {
        check_range(&format!("{what}[{i}]"), v, 0.0, hi, "m (inside the room)")?;
    }
    Ok(())
}

/// Checks a list length against its limit.
fn check_count(what: &str, items: &str, n: usize, max: usize) -> Result<()> {
    if n > max {
        return Err(cfg_err(format!(
            "{what}: {n} {items} exceed the limit {max}"
        )));
    }
    Ok(())
}

pub(crate) fn check_range(what: &str, v: f64, lo: f64, hi: f64, unit: &str) -> Result<()> {
    if v.is_finite() && v >= lo && v <= hi {
        Ok(())
    } else {
        Err(cfg_err(format!(
            "{what} must be a finite number in [{lo}, {hi}] {unit} (got {v})"
        )))
    }
}

fn check_positive(what: &str, v: f64, hi: f64, unit: &str) -> Result<()> {
    if v.is_finite() && v > 0.0 && v <= hi {
        Ok(())
    } else {
        Err(cfg_err(format!(
            "{what} must be a finite number in (0, {hi}] {unit} (got {v})"
        )))
    }
}

impl Scenario {
    /// A preset by name (see [`PRESETS`]) lasting `duration_s` seconds; the timeline is laid out
    /// to fill that duration. All presets use the default room (5 × 4 × 2.8 m, tx at
    /// (0.5, 2, 1), rx at (4.5, 2, 1), three furniture reflectors), a 1.75 m person and the
    /// default impairments.
    ///
    /// * `empty`: nobody, the whole time.
    /// * `still`: a person standing motionless at (2.5, 1.4) facing the link, with breathing and
    ///   heartbeat switched off (static presence only).
    /// * `breathe`: a person sitting at (2.5, 1.5) facing the link, breathing 15 /min with 5 mm
    ///   chest motion and a 72 /min, 0.3 mm heartbeat (40 ms SDNN).
    /// * `walk`: walking at 1 m/s around the loop (1, 0.8) → (4, 3.2) → (4, 0.8) → (1, 3.2) →
    ///   (1, 0.8), alternately in each direction, crossing the link repeatedly.
    /// * `gesture:<wave|push|pull>`: standing at (2.5, 1.3) facing the link; still for 20 % of
    ///   the time, gesturing for 60 %, still for the last 20 %.
    /// * `mixed`: empty (15 %) → walk in from (0.3, 0.3) via (1.5, 3.2) to (2.5, 1.3) (15 %) →
    ///   stand still, breathing (30 %) → wave (20 %) → walk out to (0.3, 0.3) (15 %) → empty
    ///   (5 %). Needs at least 5 s so the walking speed stays below 10 m/s.
    ///
    /// ```
    /// use wifi_sensing_core::sim::Scenario;
    /// let s = Scenario::preset("gesture:wave", 30.0)?;
    /// assert_eq!(s.timeline.len(), 3);
    /// assert!(Scenario::preset("dance", 30.0).is_err());
    /// # Ok::<(), wifi_sensing_core::Error>(())
    /// ```
    pub fn preset(name: &str, duration_s: f64) -> Result<Scenario> {
        check_positive("preset duration", duration_s, limits::MAX_DURATION_S, "s")?;
        let d = duration_s;
        let mut s = Scenario {
            name: name.to_string(),
            duration_s: Some(d),
            ..Scenario::default()
        };
        let toward_link = Some(90.0);
        match name {
            "empty" => s.timeline = vec![Segment::Absent { duration_s: d }],
            "still" => {
                s.person.breathing = None;
                s.person.heartbeat = None;
                s.timeline = vec![Segment::Stand {
                    duration_s: d,
                    position_m: Some([2.5, 1.4]),
                    heading_deg: toward_link,
                }];
            }
            "breathe" => {
                s.person.breathing = Some(Breathing {
                    rate_bpm: 15.0,
                    amplitude_mm: 5.0,
                });
                s.timeline = vec![Segment::Sit {
                    duration_s: d,
                    position_m: Some([2.5, 1.5]),
                    heading_deg: toward_link,
                }];
            }
            "walk" => {
                let path = vec![[1.0, 0.8], [4.0, 3.2], [4.0, 0.8], [1.0, 3.2], [1.0, 0.8]];
                let lap_len = path_length(&path);
                // Enough laps to outlast the duration (the timeline is cut there).
                let laps = ((d / lap_len).ceil() + 1.0).min(1e6) as u32;
                s.timeline = vec![Segment::Walk {
                    path_m: path,
                    speed_m_s: Some(1.0),
                    duration_s: None,
                    repeat: laps,
                }];
            }
            "mixed" => {
                if d < 5.0 {
                    return Err(cfg_err(format!(
                        "preset mixed needs a duration of at least 5 s (got {d} s)"
                    )));
                }
                s.timeline = vec![
                    Segment::Absent {
                        duration_s: 0.15 * d,
                    },
                    Segment::Walk {
                        path_m: vec![[0.3, 0.3], [1.5, 3.2], [2.5, 1.3]],
                        speed_m_s: None,
                        duration_s: Some(0.15 * d),
                        repeat: 1,
                    },
                    Segment::Stand {
                        duration_s: 0.3 * d,
                        position_m: Some([2.5, 1.3]),
                        heading_deg: toward_link,
                    },
                    Segment::Gesture {
                        gesture: Gesture::Wave,
                        duration_s: 0.2 * d,
                        position_m: None,
                        heading_deg: toward_link,
                        period_s: None,
                    },
                    Segment::Walk {
                        path_m: vec![[2.5, 1.3], [0.3, 0.3]],
                        speed_m_s: None,
                        duration_s: Some(0.15 * d),
                        repeat: 1,
                    },
                    Segment::Absent {
                        duration_s: 0.05 * d,
                    },
                ];
            }
            other => {
                let g = other
                    .strip_prefix("gesture:")
                    .and_then(Gesture::from_name)
                    .ok_or_else(|| {
                        cfg_err(format!(
                            "unknown scenario preset '{other}' (expected one of {})",
                            PRESETS.join(", ")
                        ))
                    })?;
                let stand = |dur| Segment::Stand {
                    duration_s: dur,
                    position_m: Some([2.5, 1.3]),
                    heading_deg: toward_link,
                };
                s.timeline = vec![
                    stand(0.2 * d),
                    Segment::Gesture {
                        gesture: g,
                        duration_s: 0.6 * d,
                        position_m: None,
                        heading_deg: toward_link,
                        period_s: None,
                    },
                    stand(0.2 * d),
                ];
            }
        }
        s.validate()?;
        Ok(s)
    }

    /// A preset (see [`Scenario::preset`]) with the receivers of the reference layout
    /// ([`Receivers::reference3`]): three nodes, ids 0, 1 and 2, 50 Hz. Node 0 is the preset's
    /// own receiver, so with the same seed its frames equal the preset's (apart from the node
    /// id).
    ///
    /// ```
    /// use wifi_sensing_core::sim::Scenario;
    /// let s = Scenario::reference_layout("mixed", 20.0)?;
    /// assert_eq!(s.rx.arrays().len(), 3);
    /// assert_eq!(s.rate_hz, 50.0);
    /// # Ok::<(), wifi_sensing_core::Error>(())
    /// ```
    pub fn reference_layout(preset: &str, duration_s: f64) -> Result<Scenario> {
        let mut s = Scenario::preset(preset, duration_s)?;
        s.rx = Receivers::reference3();
        s.validate()?;
        Ok(s)
    }

    /// Parses and validates a JSON scenario (see the [module docs](self)).
    pub fn from_json_str(text: &str) -> Result<Scenario> {
        let s: Scenario =
            serde_json::from_str(text).map_err(|e| cfg_err(format!("scenario JSON: {e}")))?;
        s.validate()?;
        Ok(s)
    }

    /// Reads, parses and validates a JSON scenario file.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Scenario> {
        let p = path.as_ref();
        let text = std::fs::read_to_string(p)
            .map_err(|e| Error::io(format!("cannot read scenario {}", p.display()), e))?;
        Scenario::from_json_str(&text)
    }

    /// The duration that will be simulated, s.
    pub fn effective_duration_s(&self) -> f64 {
        self.duration_s
            .unwrap_or_else(|| self.timeline.iter().map(segment_length).sum())
    }

    /// Checks every value; errors name the field and the accepted range.
    pub fn validate(&self) -> Result<()> {
        check_range(
            "scenario.rate_hz",
            self.rate_hz,
            limits::MIN_RATE_HZ,
            limits::MAX_RATE_HZ,
            "Hz",
        )?;
        if let Some(d) = self.duration_s {
            check_positive("scenario.duration_s", d, limits::MAX_DURATION_S, "s")?;
        } else if self.timeline.is_empty() {
            return Err(cfg_err(
                "scenario: set duration_s or give a timeline".to_string(),
            ));
        }
        let size = self.room.size_m;
        for (i, v) in size.iter().enumerate() {
            check_range(&format!("room.size_m[{i}]"), *v, 1.0, 100.0, "m")?;
        }
        check_range(
            "room.wall_reflectivity",
            self.room.wall_reflectivity,
            0.0,
            1.0,
            "",
        )?;
        check_range(
            "room.floor_reflectivity",
            self.room.floor_reflectivity,
            0.0,
            1.0,
            "",
        )?;
        check_range(
            "room.ceiling_reflectivity",
            self.room.ceiling_reflectivity,
            0.0,
            1.0,
            "",
        )?;
        check_count(
            "room.reflectors",
            "reflectors",
            self.room.reflectors.len(),
            limits::MAX_REFLECTORS,
        )?;
        let inside3 = |what: &str, p: [f64; 3]| check_inside(what, &p, size);
        for (i, r) in self.room.reflectors.iter().enumerate() {
            inside3(&format!("room.reflectors[{i}].position_m"), r.position_m)?;
            check_range(
                &format!("room.reflectors[{i}].rcs_m2"),
                r.rcs_m2,
                0.0,
                1000.0,
                "m²",
            )?;
            check_range(
                &format!("room.reflectors[{i}].phase_deg"),
                r.phase_deg,
                -3600.0,
                3600.0,
                "degrees",
            )?;
        }
        let rx = self.rx.arrays();
        if rx.is_empty() {
            return Err(cfg_err(
                "rx: the list needs at least one receiver".to_string(),
            ));
        }
        check_count("rx", "receivers", rx.len(), limits::MAX_RECEIVERS)?;
        if self.tx.node_id.is_some() {
            return Err(cfg_err(
                "tx.node_id: node ids belong to receivers (rx)".to_string(),
            ));
        }
        let names: Vec<String> = match &self.rx {
            Receivers::One(_) => vec!["rx".to_string()],
            Receivers::Many(v) => (0..v.len()).map(|i| format!("rx[{i}]")).collect(),
        };
        let arrays =
            std::iter::once(("tx".to_string(), &self.tx)).chain(names.iter().cloned().zip(rx));
        for (name, a) in arrays {
            inside3(&format!("{name}.position_m"), a.position_m)?;
            for (i, v) in a.axis.iter().enumerate() {
                check_range(&format!("{name}.axis[{i}]"), *v, -1e6, 1e6, "")?;
            }
            if Vec3::from_array(a.axis).normalized().is_none() {
                return Err(cfg_err(format!("{name}.axis must be a non-zero vector")));
            }
            if let Some(s) = a.spacing_m {
                check_positive(&format!("{name}.spacing_m"), s, 1.0, "m")?;
            }
        }
        for (name, a) in names.iter().zip(rx) {
            if Vec3::from_array(self.tx.position_m).dist(Vec3::from_array(a.position_m)) < 0.1 {
                return Err(cfg_err(format!(
                    "tx and {name} must be at least 0.1 m apart"
                )));
            }
        }
        // The default id of a single receiver does not matter here: one id cannot collide.
        let mut ids = self.rx.node_ids(0);
        ids.sort_unstable();
        if let Some(w) = ids.windows(2).find(|w| w[0] == w[1]) {
            return Err(cfg_err(format!(
                "rx: node id {} is used by two receivers (ids must be distinct)",
                w[0]
            )));
        }
        let p = &self.person;
        check_range("person.height_m", p.height_m, 1.0, 2.3, "m")?;
        check_range("person.rcs_scale", p.rcs_scale, 0.0, 100.0, "")?;
        if let Some(b) = &p.breathing {
            check_range("person.breathing.rate_bpm", b.rate_bpm, 1.0, 120.0, "/min")?;
            check_range(
                "person.breathing.amplitude_mm",
                b.amplitude_mm,
                0.0,
                50.0,
                "mm",
            )?;
        }
        if let Some(h) = &p.heartbeat {
            check_range("person.heartbeat.rate_bpm", h.rate_bpm, 20.0, 250.0, "/min")?;
            check_range(
                "person.heartbeat.amplitude_mm",
                h.amplitude_mm,
                0.0,
                5.0,
                "mm",
            )?;
            check_range(
                "person.heartbeat.variability_ms",
                h.variability_ms,
                0.0,
                300.0,
                "ms",
            )?;
        }
        let imp = &self.impairments;
        if let Some(snr) = imp.snr_db {
            check_range("impairments.snr_db", snr, -30.0, 100.0, "dB")?;
        }
        check_range(
            "impairments.timing_offset_std_ns",
            imp.timing_offset_std_ns,
            0.0,
            10_000.0,
            "ns",
        )?;
        check_range("impairments.cfo_hz", imp.cfo_hz, -1e6, 1e6, "Hz")?;
        check_range("impairments.agc_step_db", imp.agc_step_db, 0.0, 20.0, "dB")?;
        check_range(
            "impairments.agc_hysteresis_db",
            imp.agc_hysteresis_db,
            0.0,
            40.0,
            "dB",
        )?;
        check_range(
            "impairments.agc_random_step_prob",
            imp.agc_random_step_prob,
            0.0,
            1.0,
            "",
        )?;
        check_range(
            "impairments.jitter_std_ms",
            imp.jitter_std_ms,
            0.0,
            10_000.0,
            "ms",
        )?;
        if !(imp.drop_prob.is_finite() && (0.0..1.0).contains(&imp.drop_prob)) {
            return Err(cfg_err(format!(
                "impairments.drop_prob must be a finite number in [0, 1) (got {})",
                imp.drop_prob
            )));
        }
        check_count(
            "timeline",
            "segments",
            self.timeline.len(),
            limits::MAX_SEGMENTS,
        )?;
        let inside2 = |what: &str, p: [f64; 2]| check_inside(what, &p, size);
        let mut total = 0.0;
        for (i, seg) in self.timeline.iter().enumerate() {
            let w = format!("timeline[{i}]");
            let still = |dur: f64, pos: &Option<[f64; 2]>, head: &Option<f64>| -> Result<()> {
                check_positive(&format!("{w}.duration_s"), dur, limits::MAX_DURATION_S, "s")?;
                if let Some(p) = pos {
                    inside2(&format!("{w}.position_m"), *p)?;
                }
                if let Some(h) = head {
                    check_range(&format!("{w}.heading_deg"), *h, -3600.0, 3600.0, "degrees")?;
                }
                Ok(())
            };
            match seg {
                Segment::Absent { duration_s } => check_positive(
                    &format!("{w}.duration_s"),
                    *duration_s,
                    limits::MAX_DURATION_S,
                    "s",
                )?,
                Segment::Stand {
                    duration_s,
                    position_m,
                    heading_deg,
                }
                | Segment::Sit {
                    duration_s,
                    position_m,
                    heading_deg,
                } => still(*duration_s, position_m, heading_deg)?,
                Segment::Gesture {
                    duration_s,
                    position_m,
                    heading_deg,
                    period_s,
                    ..
                } => {
                    still(*duration_s, position_m, heading_deg)?;
                    if let Some(p) = period_s {
                        check_range(&format!("{w}.period_s"), *p, 0.1, 60.0, "s")?;
                    }
                }
                Segment::Walk {
                    path_m,
                    speed_m_s,
                    duration_s,
                    repeat,
                } => {
                    if !(1..=1_000_000).contains(repeat) {
                        return Err(cfg_err(format!(
                            "{w}.repeat must be in [1, 1000000] (got {repeat})"
                        )));
                    }
                    if path_m.len() < 2 || path_m.len() > limits::MAX_PATH_POINTS {
                        return Err(cfg_err(format!(
                            "{w}.path_m needs 2 to {} points (got {})",
                            limits::MAX_PATH_POINTS,
                            path_m.len()
                        )));
                    }
                    for (k, p) in path_m.iter().enumerate() {
                        inside2(&format!("{w}.path_m[{k}]"), *p)?;
                    }
                    let lap = path_length(path_m);
                    let len = lap * f64::from(*repeat);
                    if lap < 0.01 {
                        return Err(cfg_err(format!(
                            "{w}.path_m is shorter than 1 cm ({lap} m)"
                        )));
                    }
                    match (speed_m_s, duration_s) {
                        (Some(_), Some(_)) => {
                            return Err(cfg_err(format!(
                                "{w}: give speed_m_s or duration_s, not both"
                            )))
                        }
                        (Some(v), None) => {
                            check_range(&format!("{w}.speed_m_s"), *v, 0.05, 10.0, "m/s")?
                        }
                        (None, Some(d)) => {
                            check_positive(
                                &format!("{w}.duration_s"),
                                *d,
                                limits::MAX_DURATION_S,
                                "s",
                            )?;
                            check_range(
                                &format!(
                                    "{w} walking speed (distance {len:.3} m / duration_s {d} s)"
                                ),
                                len / d,
                                0.05,
                                10.0,
                                "m/s",
                            )?;
                        }
                        (None, None) => {}
                    }
                }
            }
            total += segment_length(seg);
        }
        if !(total.is_finite() && total <= 10.0 * limits::MAX_DURATION_S) {
            return Err(cfg_err(format!(
                "timeline: total length {total} s is too long"
            )));
        }
        Ok(())
    }
}

fn path_length(p: &[[f64; 2]]) -> f64 {
    p.windows(2)
        .map(|w| {
            let (dx, dy) = (w[1][0] - w[0][0], w[1][1] - w[0][1]);
            (dx * dx + dy * dy).sqrt()
        })
        .sum()
}

/// Length of a segment in seconds (a walk: path length / speed).
pub(crate) fn segment_length(s: &Segment) -> f64 {
    match s {
        Segment::Absent { duration_s }
        | Segment::Stand { duration_s, .. }
        | Segment::Sit { duration_s, .. }
        | Segment::Gesture { duration_s, .. } => *duration_s,
        Segment::Walk {
            path_m,
            speed_m_s,
            duration_s,
            repeat,
        } => duration_s
            .unwrap_or_else(|| path_length(path_m) * f64::from(*repeat) / speed_m_s.unwrap_or(1.0)),
    }
}

/// Where the body is and what it does at one instant.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct BodyState {
    pub activity: Activity,
    pub activity_span: (f64, f64),
    pub motion: MotionState,
    pub motion_span: (f64, f64),
    /// `(joints in the room, root, facing)` when present.
    pub body: Option<(Joints, Vec3, Vec3)>,
}

#[derive(Clone, Debug)]
struct Walk {
    points: Vec<Vec3>,
    cum: Vec<f64>,
    speed: f64,
    repeat: u32,
}

impl Walk {
    /// Root and facing after walking `dist` metres (over all repetitions).
    fn at(&self, dist: f64) -> (Vec3, Vec3) {
        let lap_len = self.cum[self.cum.len() - 1];
        let laps = f64::from(self.repeat.max(1));
        let d = dist.clamp(0.0, lap_len * laps);
        let lap = (d / lap_len).floor().clamp(0.0, laps - 1.0);
        let w = d - lap * lap_len;
        if lap % 2.0 == 0.0 {
            self.forward(w)
        } else {
            let (p, f) = self.forward(lap_len - w);
            (p, f.scale(-1.0))
        }
    }

    /// Root and facing `dist` metres along one forward pass of the path.
    fn forward(&self, dist: f64) -> (Vec3, Vec3) {
        let n = self.points.len();
        let total = self.cum[n - 1];
        let d = dist.clamp(0.0, total);
        // Segments are few per second of walking; a binary search keeps long paths cheap.
        let i = match self.cum.binary_search_by(|c| c.total_cmp(&d)) {
            Ok(i) => i.min(n - 2),
            Err(i) => i.saturating_sub(1).min(n - 2),
        };
        let (a, b) = (self.points[i], self.points[i + 1]);
        let seg = self.cum[i + 1] - self.cum[i];
        let t = if seg > 0.0 {
            (d - self.cum[i]) / seg
        } else {
            0.0
        };
        let facing = self.facing_from(i);
        (a.lerp(b, t), facing)
    }

    /// Facing along the first leg of non-zero length from leg `i` on (or back).
    fn facing_from(&self, i: usize) -> Vec3 {
        let n = self.points.len();
        (i..n - 1)
            .chain((0..i).rev())
            .find_map(|k| self.points[k + 1].minus(self.points[k]).normalized())
            .unwrap_or(Vec3::new(1.0, 0.0, 0.0))
    }
}

#[derive(Clone, Debug)]
struct Compiled {
    start: f64,
    end: f64,
    activity: Activity,
    /// Pose generator; `None` when absent.
    kind: Option<PoseKind>,
    root: Vec3,
    facing: Vec3,
    walk: Option<Walk>,
    /// Joints at the end of the previous segment, for blending (when both are present).
    entry: Option<Joints>,
    motion_run: usize,
}

/// The timeline compiled for fast evaluation.
#[derive(Clone, Debug)]
pub(crate) struct Timeline {
    segs: Vec<Compiled>,
    runs: Vec<(f64, f64, MotionState)>,
    height: f64,
    duration: f64,
    cursor: usize,
}

/// How long a pose blends into the next one, s (at most half the segment).
const BLEND_S: f64 = 0.5;

fn heading_vec(deg_ccw: f64) -> Vec3 {
    let (s, c) = sin_cos(deg(deg_ccw));
    Vec3::new(c, s, 0.0)
}

impl Timeline {
    /// Compiles a validated scenario's timeline for `duration` seconds.
    pub fn compile(s: &Scenario, duration: f64) -> Timeline {
        let size = s.room.size_m;
        // The link of the first receiver (validated scenarios have one).
        let rx0 =
            s.rx.arrays()
                .first()
                .map_or(s.tx.position_m, |a| a.position_m);
        let link_mid = Vec3::new(
            0.5 * (s.tx.position_m[0] + rx0[0]),
            0.5 * (s.tx.position_m[1] + rx0[1]),
            0.0,
        );
        let face_link = |root: Vec3| {
            link_mid
                .minus(root)
                .normalized()
                .unwrap_or(Vec3::new(1.0, 0.0, 0.0))
        };
        let h = s.person.height_m;
        let mut segs: Vec<Compiled> = Vec::with_capacity(s.timeline.len() + 1);
        let mut t = 0.0;
        let mut pos = Vec3::new(0.5 * size[0], 0.5 * size[1], 0.0);
        let mut last_facing: Option<Vec3> = None;
        for seg in &s.timeline {
            let len = segment_length(seg);
            let p2 = |p: &Option<[f64; 2]>, cur: Vec3| {
                p.map(|a| Vec3::new(a[0], a[1], 0.0)).unwrap_or(cur)
            };
            let (activity, kind, root, facing, walk) = match seg {
                Segment::Absent { .. } => {
                    (Activity::Absent, None, pos, Vec3::new(1.0, 0.0, 0.0), None)
                }
                Segment::Stand {
                    position_m,
                    heading_deg,
                    ..
                }
                | Segment::Sit {
                    position_m,
                    heading_deg,
                    ..
                } => {
                    let root = p2(position_m, pos);
                    let facing = heading_deg
                        .map(heading_vec)
                        .unwrap_or_else(|| face_link(root));
                    let (a, k) = if matches!(seg, Segment::Sit { .. }) {
                        (Activity::Sit, PoseKind::Sit)
                    } else {
                        (Activity::Stand, PoseKind::Stand)
                    };
                    (a, Some(k), root, facing, None)
                }
                Segment::Gesture {
                    gesture,
                    position_m,
                    heading_deg,
                    period_s,
                    ..
                } => {
                    let root = p2(position_m, pos);
                    let facing = heading_deg
                        .map(heading_vec)
                        .unwrap_or_else(|| face_link(root));
                    let kind = PoseKind::Gesture {
                        gesture: *gesture,
                        period_s: period_s.unwrap_or(gesture.default_period_s()),
                    };
                    (
                        Activity::from_gesture(*gesture),
                        Some(kind),
                        root,
                        facing,
                        None,
                    )
                }
                Segment::Walk { path_m, repeat, .. } => {
                    let points: Vec<Vec3> =
                        path_m.iter().map(|p| Vec3::new(p[0], p[1], 0.0)).collect();
                    let mut cum = Vec::with_capacity(points.len());
                    let mut acc = 0.0;
                    cum.push(0.0);
                    for w in points.windows(2) {
                        acc += w[0].dist(w[1]);
                        cum.push(acc);
                    }
                    let speed = if len > 0.0 {
                        acc * f64::from(*repeat) / len
                    } else {
                        1.0
                    };
                    let walk = Walk {
                        points,
                        cum,
                        speed,
                        repeat: *repeat,
                    };
                    let (root, facing) = walk.at(0.0);
                    (
                        Activity::Walk,
                        Some(PoseKind::Walk { speed_m_s: speed }),
                        root,
                        facing,
                        Some(walk),
                    )
                }
            };
            let c = Compiled {
                start: t,
                end: t + len,
                activity,
                kind,
                root,
                facing,
                walk,
                entry: None,
                motion_run: 0,
            };
            // Where this segment leaves the person.
            match (&c.walk, c.kind) {
                (Some(w), _) => {
                    let (r, f) = w.at(f64::INFINITY);
                    pos = r;
                    last_facing = Some(f);
                }
                (None, Some(_)) => {
                    pos = c.root;
                    last_facing = Some(c.facing);
                }
                (None, None) => last_facing = None,
            }
            t += len;
            segs.push(c);
        }
        if t < duration || segs.is_empty() {
            // Hold the final state until the end.
            let (activity, kind, facing) = match (segs.last(), last_facing) {
                (Some(l), Some(f)) => {
                    let a = if l.activity == Activity::Sit {
                        Activity::Sit
                    } else {
                        Activity::Stand
                    };
                    let k = if a == Activity::Sit {
                        PoseKind::Sit
                    } else {
                        PoseKind::Stand
                    };
                    (a, Some(k), f)
                }
                _ => (Activity::Absent, None, Vec3::new(1.0, 0.0, 0.0)),
            };
            segs.push(Compiled {
                start: t,
                end: duration.max(t),
                activity,
                kind,
                root: pos,
                facing,
                walk: None,
                entry: None,
                motion_run: 0,
            });
        }
        let mut tl = Timeline {
            segs,
            runs: Vec::new(),
            height: h,
            duration,
            cursor: 0,
        };
        // Entry poses for blending, and motion runs.
        for i in 0..tl.segs.len() {
            if i > 0 && tl.segs[i].kind.is_some() && tl.segs[i - 1].kind.is_some() {
                let prev = &tl.segs[i - 1];
                let end = prev.end;
                let (j, _, _) = tl.pose_of(i - 1, end);
                tl.segs[i].entry = Some(j);
            }
            let m = tl.segs[i].activity.motion();
            let (start, end) = (tl.segs[i].start, tl.segs[i].end);
            match tl.runs.last_mut() {
                Some(r) if r.2 == m => r.1 = end,
                _ => tl.runs.push((start, end, m)),
            }
            tl.segs[i].motion_run = tl.runs.len() - 1;
        }
        tl
    }

    /// Joints, root and facing of segment `i` at time `t` (no blending).
    fn pose_of(&self, i: usize, t: f64) -> (Joints, Vec3, Vec3) {
        let s = &self.segs[i];
        let tau = (t - s.start).max(0.0);
        let kind = s.kind.unwrap_or(PoseKind::Stand);
        let (root, facing) = match &s.walk {
            Some(w) => w.at(tau * w.speed),
            None => (s.root, s.facing),
        };
        let local = body::local_pose(kind, self.height, tau);
        (body::to_world(&local, root, facing), root, facing)
    }

    /// The state at time `t` (calls with increasing `t` are fastest).
    pub fn at(&mut self, t: f64) -> BodyState {
        let n = self.segs.len();
        if self.cursor >= n || self.segs[self.cursor].start > t {
            self.cursor = 0;
        }
        while self.cursor + 1 < n && t >= self.segs[self.cursor].end {
            self.cursor += 1;
        }
        let i = self.cursor;
        let s = &self.segs[i];
        let run = self.runs[s.motion_run];
        // Spans are reported clipped to the simulated duration.
        let d = self.duration;
        let mut state = BodyState {
            activity: s.activity,
            activity_span: (s.start.min(d), s.end.min(d)),
            motion: run.2,
            motion_span: (run.0.min(d), run.1.min(d)),
            body: None,
        };
        if s.kind.is_some() {
            let (mut joints, root, facing) = self.pose_of(i, t);
            if let Some(entry) = &s.entry {
                let blend = BLEND_S.min(0.5 * (s.end - s.start));
                let tau = t - s.start;
                if blend > 0.0 && tau < blend {
                    let x = (tau / blend).clamp(0.0, 1.0);
                    let w = x * x * (3.0 - 2.0 * x);
                    for (j, e) in joints.iter_mut().zip(entry) {
                        *j = e.lerp(*j, w);
                    }
                }
            }
            state.body = Some((joints, root, facing));
        }
        state
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_validate() {
        for p in PRESETS {
            let s = Scenario::preset(p, 60.0).unwrap();
            assert!((s.effective_duration_s() - 60.0).abs() < 1e-9);
            s.validate().unwrap();
        }
        assert!(Scenario::preset("mixed", 3.0)
            .unwrap_err()
            .to_string()
            .contains("at least 5 s"));
        assert!(Scenario::preset("gesture:dance", 10.0).is_err());
        assert!(Scenario::preset("empty", f64::NAN).is_err());
    }

    #[test]
    fn json_round_trip_and_errors() {
        let s = Scenario::preset("mixed", 60.0).unwrap();
        let text = serde_json::to_string_pretty(&s).unwrap();
        assert_eq!(Scenario::from_json_str(&text).unwrap(), s);
        let doc = r#"{
          "name": "my living room", "duration_s": 30, "rate_hz": 100,
          "room": {"size_m": [6, 4.5, 2.6],
                   "reflectors": [{"name": "fridge", "position_m": [5.5, 4.0, 0.9], "rcs_m2": 3}]},
          "tx": {"position_m": [0.3, 2.0, 1.2]},
          "rx": {"position_m": [5.7, 2.5, 1.2]},
          "person": {"height_m": 1.68, "breathing": {"rate_bpm": 12, "amplitude_mm": 5}},
          "timeline": [
            {"activity": "absent", "duration_s": 5},
            {"activity": "walk", "path_m": [[0.5, 0.5], [3, 2]], "speed_m_s": 1.0},
            {"activity": "sit", "duration_s": 10, "heading_deg": 90},
            {"activity": "gesture", "gesture": "wave", "duration_s": 5}
          ],
          "impairments": {"snr_db": 25, "drop_prob": 0.02}
        }"#;
        let s = Scenario::from_json_str(doc).unwrap();
        assert_eq!(s.timeline.len(), 4);
        assert_eq!(s.person.heartbeat, Some(Heartbeat::default()));
        assert_eq!(s.room.reflectors[0].phase_deg, 180.0);
        let bad = [
            (r#"{"rate_hz": -1, "duration_s": 1}"#, "rate_hz"),
            (
                r#"{"duration_s": 1, "room": {"size_m": [0, 4, 3]}}"#,
                "room.size_m[0]",
            ),
            (
                r#"{"duration_s": 1, "tx": {"position_m": [9, 1, 1]}}"#,
                "tx.position_m[0]",
            ),
            (
                r#"{"timeline": [{"activity": "walk", "path_m": [[1, 1]]}]}"#,
                "path_m needs",
            ),
            (
                r#"{"timeline": [{"activity": "fly", "duration_s": 1}]}"#,
                "unknown variant",
            ),
            (
                r#"{"timeline": [{"activity": "stand", "duration_s": 1, "colour": 2}]}"#,
                "unknown field",
            ),
            (
                r#"{"duration_s": 1, "impairments": {"drop_prob": 1.0}}"#,
                "drop_prob",
            ),
            (r#"{"durration_s": 1}"#, "unknown field"),
            (r#"{}"#, "set duration_s"),
            (
                r#"{"timeline": [{"activity": "walk", "path_m": [[1, 1], [2, 1]], "speed_m_s": 1, "duration_s": 1}]}"#,
                "not both",
            ),
        ];
        let walk_out =
            r#"{"timeline": [{"activity": "walk", "path_m": [[1, 1], [99, 1]], "speed_m_s": 1}]}"#;
        let one = r#"{"position_m": [1, 1, 1], "rcs_m2": 1}"#;
        let many = vec![one; limits::MAX_REFLECTORS + 1].join(",");
        let crowded = format!(r#"{{"duration_s": 1, "room": {{"reflectors": [{many}]}}}}"#);
        let bad = bad.into_iter().chain([
            (
                walk_out,
                "timeline[0].path_m[1][0] must be a finite number in [0,",
            ),
            (crowded.as_str(), "reflectors exceed the limit"),
        ]);
        for (doc, want) in bad {
            let e = Scenario::from_json_str(doc).unwrap_err();
            assert!(matches!(e, Error::Config(_)));
            assert!(e.to_string().contains(want), "{doc}: {e}");
        }
    }

    #[test]
    fn timeline_positions_and_runs() {
        let s = Scenario::preset("mixed", 100.0).unwrap();
        let mut tl = Timeline::compile(&s, 100.0);
        let a = tl.at(5.0);
        assert_eq!(a.activity, Activity::Absent);
        assert!(a.body.is_none());
        assert_eq!(a.motion_span, (0.0, 15.0));
        let w = tl.at(20.0);
        assert_eq!(w.activity, Activity::Walk);
        assert_eq!(w.activity_span, (15.0, 30.0));
        // the walk-in is its own moving run: standing follows it
        assert_eq!(w.motion, MotionState::Moving);
        assert_eq!(w.motion_span, (15.0, 30.0));
        let st = tl.at(45.0);
        assert_eq!(st.activity, Activity::Stand);
        let (_, root, facing) = st.body.unwrap();
        assert!((root.x - 2.5).abs() < 1e-9 && (root.y - 1.3).abs() < 1e-9);
        assert!((facing.y - 1.0).abs() < 1e-12);
        let g = tl.at(70.0);
        assert_eq!(g.activity, Activity::Wave);
        // wave and walk-out merge into one moving run
        assert_eq!(g.motion_span, (60.0, 95.0));
        let end = tl.at(99.0);
        assert_eq!(end.activity, Activity::Absent);
        // walk-in ends where the stand begins: positions are continuous
        let before = tl.at(29.999).body.unwrap().1;
        assert!(before.dist(Vec3::new(2.5, 1.3, 0.0)) < 0.01);
    }

    #[test]
    fn timeline_holds_final_state() {
        let s = Scenario::from_json_str(
            r#"{"duration_s": 20, "timeline": [{"activity": "walk", "path_m": [[1, 1], [3, 1]], "speed_m_s": 1}]}"#,
        )
        .unwrap();
        let mut tl = Timeline::compile(&s, 20.0);
        let st = tl.at(10.0);
        assert_eq!(st.activity, Activity::Stand);
        assert_eq!(st.activity_span, (2.0, 20.0));
        let (_, root, facing) = st.body.unwrap();
        assert!((root.x - 3.0).abs() < 1e-12 && (facing.x - 1.0).abs() < 1e-12);
        // Rewinding works too.
        assert_eq!(tl.at(1.0).activity, Activity::Walk);
    }
}

#[cfg(test)]
mod walk_tests {
    use super::*;

    #[test]
    fn repeated_walk_goes_back_and_forth() {
        let s = Scenario::from_json_str(
            r#"{"timeline": [{"activity": "walk", "path_m": [[1, 1], [3, 1]], "speed_m_s": 0.5, "repeat": 3}]}"#,
        )
        .unwrap();
        assert_eq!(s.effective_duration_s(), 12.0);
        let mut tl = Timeline::compile(&s, 12.0);
        let pos = |tl: &mut Timeline, t: f64| {
            let (_, r, f) = tl.at(t).body.unwrap();
            (r.x, f.x)
        };
        assert_eq!(pos(&mut tl, 2.0), (2.0, 1.0));
        assert_eq!(pos(&mut tl, 5.0), (2.5, -1.0));
        assert_eq!(pos(&mut tl, 9.0), (1.5, 1.0));
        assert_eq!(pos(&mut tl, 11.9).1, 1.0);
        let bad =
            r#"{"timeline": [{"activity": "walk", "path_m": [[1, 1], [3, 1]], "repeat": 0}]}"#;
        assert!(Scenario::from_json_str(bad)
            .unwrap_err()
            .to_string()
            .contains("repeat"));
    }

    #[test]
    fn long_walk_preset_stays_small() {
        let s = Scenario::preset("walk", 1e6).unwrap();
        let Segment::Walk { path_m, repeat, .. } = &s.timeline[0] else {
            panic!("walk preset")
        };
        assert_eq!(path_m.len(), 5);
        assert!(f64::from(*repeat) * path_length(path_m) > 1e6);
    }
}
