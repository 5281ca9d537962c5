//! Motion and presence events: configuration, event records and the per-node detector.
//!
//! # What is detected, and how
//!
//! Every statistic is built on the amplitude *shape* of a frame (see [`crate::features`]), so
//! it does not depend on the device's scale, the AGC gain or a constant factor on the CSI.
//!
//! * **Motion** — the *excess change ratio* `R` over the last [`EventConfig::motion_window_s`]:
//!   1 in a still scene (receiver noise only), far above 1 while a body moves. `MotionStarted`
//!   fires when `R > motion_enter × q` on [`EventConfig::motion_confirm_frames`] frames in a
//!   row, `MotionSettled` when `R < motion_exit × q` for [`EventConfig::motion_hold_s`] (the
//!   ratio that holds motion lets the level vote on fewer frames next to a gain step than the
//!   one that starts it, see [`crate::features`]); `q` is
//!   the quiet level of `R` (starts at 1 and follows `R` slowly, time constant
//!   [`EventConfig::quiet_tau_s`], only while nothing moves, so motion cannot drag it).
//!   A gap of more than 1 s between a node's frames (a stretch lost from a recording) is not
//!   bridged: no frame difference spans it, and after it `R` waits for half its window again,
//!   as at the start of a stream, so a motion found right after a gap has the evidence of
//!   frames after it.
//!   On ESP32-family nodes, `R` is held against a temporal noise estimate as well when the
//!   node's first 2 s show noise that the cross-subcarrier estimate misses (see
//!   [`crate::features`]): without it, real ESP32 captures of still rooms read as motion from
//!   the first second. The price: a movement whose changes are as fast as the frame rate (at
//!   11 frames/s, a walk's Doppler folds into white noise) is not seen on such a node.
//! * **Presence** has three paths; a node is present while any says so:
//!   1. motion (a moving body is present; a presence started this way comes right after the
//!      `MotionStarted` of the same frame and has its statistic and evidence window);
//!   2. *breathing-band ratio* `B` over the last [`EventConfig::breathing_window_s`] of 0.25 s
//!      block means: the median, over block pairs 1 s and 2 s apart, of their squared
//!      difference, over what receiver noise gives (see [`crate::features`]). 1 with nobody
//!      there, far above with a breathing person, even a perfectly motionless one; a gain (AGC)
//!      step or slow drift does not move the median. The shape's ratio is compared with
//!      [`EventConfig::breathing_enter`], the common level's with
//!      [`EventConfig::breathing_level_enter`]. It only counts on a window without motion in it;
//!   3. *static shape change* `D`: RMS difference of the last
//!      [`EventConfig::static_window_s`] mean shape from the empty-room reference, above
//!      `max(static_min_change, static_noise_factor × noise)`; once present, it holds until
//!      `D` falls to [`EventConfig::static_exit`] of that threshold. Only with a valid
//!      reference (see calibration below). A presence held by this path alone ends after
//!      [`EventConfig::static_hold_s`] (a person who neither moves nor breathes cannot be told
//!      from a moved piece of furniture; the reference is then re-learnt).
//!
//!   `PresenceEnded` needs a path able to say "absent": the static path (with a reference) or
//!   a motion-free breathing window showing no breathing (the whole window once it has
//!   filled; at the start of a stream and right after motion, at least
//!   [`EventConfig::breathing_min_s`] of it) (`B` at or below
//!   [`EventConfig::breathing_exit`], lower than the entry threshold so that a ratio hovering
//!   at the threshold does not end and restart presence), for
//!   [`EventConfig::presence_hold_s`].
//!
//!   *Quick absence*: with a reference, on a node of at least
//!   [`EventConfig::absence_quick_min_values`] shape values, a person who walks out need not wait
//!   `breathing_min_s`. After motion, [`EventConfig::absence_quick_s`] of motion-free breathing
//!   evidence will do if the static change `D` has fallen to at most
//!   [`EventConfig::absence_quick_match`] noise standard deviations (the room looks as it did
//!   empty) and, on the last motion-free static window before that motion, the person's `D`
//!   stood at least [`EventConfig::absence_quick_seen`] deviations out (the receiver could see
//!   them, so a shape back at the reference means they left, not that they stand where the
//!   receiver hardly sees them).
//!
//! # Calibration
//!
//! *Automatic*: the first [`EventConfig::warmup_s`] seconds of each node are its warm-up. If
//! nothing moved and nobody breathed in them, their mean shape becomes the empty-room reference.
//! Otherwise the node runs without a reference until the first time it is found absent through
//! the breathing path, and the reference is taken then. While the node is absent and still, the
//! reference follows the room slowly (time constant [`EventConfig::reference_tau_s`]); it is
//! frozen while anything moves or anyone is present, so motion cannot drag it.
//!
//! *Explicit*: a [`Baseline`](crate::calibration::Baseline) made from an empty-room capture
//! gives the reference (and the column selection) from the first frame; the static path then
//! also detects a person who was there from the start.
//!
//! No state is declared during the warm-up except presence with motion or breathing; frames
//! of the warm-up should not be scored.

mod detector;

pub(crate) use detector::NodeDetector;

use serde::{Deserialize, Serialize};

use crate::error::Result;

/// Configuration of the motion and presence detector. Units are in the field names.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EventConfig {
    /// Window of the motion ratio, s. Default 0.5.
    pub motion_window_s: f64,
    /// Lag of the differences of the motion ratio, s (at least one frame, at most 15). Default 0.1.
    pub motion_lag_s: f64,
    /// Motion starts when the ratio exceeds this times the quiet level. Default 3.5.
    pub motion_enter: f64,
    /// Motion settles when the ratio stays below this times the quiet level. Default 2.
    pub motion_exit: f64,
    /// Consecutive frames above `motion_enter` needed to start motion. Default 2.
    pub motion_confirm_frames: u32,
    /// Time the ratio must stay below `motion_exit` before motion settles, s. Default 0.3.
    pub motion_hold_s: f64,
    /// Time constant of the quiet level of the motion ratio, s. Default 30.
    pub quiet_tau_s: f64,
    /// Block length of the breathing and static statistics, s. Default 0.25.
    pub block_s: f64,
    /// Window of the breathing-band ratio, s. Default 10.
    pub breathing_window_s: f64,
    /// Shortest motion-free stretch over which the breathing-band ratio is computed right after
    /// motion and at the start of a stream (so absence is decided without waiting a whole
    /// window), s. Default 8: over 3 s (the default before) a slow breath is not seen, and a
    /// person who had just sat down or turned was reported absent a few seconds later.
    pub breathing_min_s: f64,
    /// Breathing-band ratio above which a breathing person is present. Default 4.
    pub breathing_enter: f64,
    /// A presence the breathing path holds ends only once the ratio is at or below this
    /// (at most `breathing_enter`). The gap keeps a ratio that hovers at the threshold from
    /// ending and restarting presence every few frames. Default 3.
    pub breathing_exit: f64,
    /// The same threshold for the ratio of the common level alone (one value per frame, so
    /// its noise has a heavier tail than the shape's many values). Default 8.
    pub breathing_level_enter: f64,
    /// Window of the static shape change, s. Default 2.
    pub static_window_s: f64,
    /// Smallest static shape change (RMS of the relative amplitude shape) that counts. Default 0.006.
    pub static_min_change: f64,
    /// A presence already declared holds on the static path until its change falls to this
    /// fraction of the threshold (0 < x ≤ 1; 1: no hysteresis). The change of a motionless
    /// person sits near the threshold on small receivers (52 ESP32 subcarriers), and without
    /// the gap presence ended and started again every few seconds. Default 0.8.
    pub static_exit: f64,
    /// The static change must also exceed this many noise standard deviations. Default 4.
    pub static_noise_factor: f64,
    /// Longest presence held by the static path alone, s. Default 300.
    pub static_hold_s: f64,
    /// Time every absent-path must agree before presence ends, s. Default 0.5.
    pub presence_hold_s: f64,
    /// With an empty-room reference: the shortest motion-free stretch after motion over which
    /// absence may be decided when the room has gone back to the reference, s (the stretch is
    /// at least `static_window_s`; see [`EventConfig::absence_quick_match`]). Default 2.
    pub absence_quick_s: f64,
    /// The room has gone back to the reference when the static shape change is at most this
    /// many noise standard deviations (of the static window's mean shape; 0 turns the quick
    /// absence off). After a person walks out, absence then needs `absence_quick_s` of
    /// motion-free breathing evidence instead of `breathing_min_s`, if the person's shape
    /// stood out before (see [`EventConfig::absence_quick_seen`]). Default 1.3.
    pub absence_quick_match: f64,
    /// The quick absence needs the person to have been visible to the static path: on the
    /// last motion-free static window before the motion, while present, the shape change
    /// was at least this many noise standard deviations (at least `absence_quick_match`).
    /// A person whose shape the receiver hardly sees (a standing person on 52 ESP32
    /// subcarriers) is otherwise soon taken for an empty room. Default 6.
    pub absence_quick_seen: f64,
    /// The quick absence applies only to nodes whose amplitude shape has at least this many
    /// values (antenna pairs times subcarriers used; Intel 5300 3x2x30: 180, ESP32: 52). On
    /// fewer, a standing person is too often inside an empty room's noise at one spot after
    /// being plainly visible at another: on simulated ESP32 sessions the quick absence ended
    /// present people's presence 1-3 more times per 80 minutes for little gain. Default 100.
    pub absence_quick_min_values: u32,
    /// Warm-up of the automatic calibration, s. Default 10.
    pub warmup_s: f64,
    /// Time constant of the empty-room reference while the room is empty and still, s. Default 30.
    pub reference_tau_s: f64,
}

impl Default for EventConfig {
    fn default() -> Self {
        EventConfig {
            motion_window_s: 0.5,
            motion_lag_s: 0.1,
            motion_enter: 3.5,
            motion_exit: 2.0,
            motion_confirm_frames: 2,
            motion_hold_s: 0.3,
            quiet_tau_s: 30.0,
            block_s: 0.25,
            breathing_window_s: 10.0,
            breathing_min_s: 8.0,
            breathing_enter: 4.0,
            breathing_exit: 3.0,
            breathing_level_enter: 8.0,
            static_window_s: 2.0,
            static_min_change: 0.006,
            static_exit: 0.8,
            static_noise_factor: 4.0,
            static_hold_s: 300.0,
            presence_hold_s: 0.5,
            absence_quick_s: 2.0,
            absence_quick_match: 1.3,
            absence_quick_seen: 6.0,
            absence_quick_min_values: 100,
            warmup_s: 10.0,
            reference_tau_s: 30.0,
        }
    }
}

use crate::error::check_range as check;

impl EventConfig {
    /// Checks every field; errors name the field and the accepted range.
    ///
    /// ```
    /// use wifi_sensing_signal::events::EventConfig;
    /// assert!(EventConfig::default().validate().is_ok());
    /// let bad = EventConfig { motion_exit: 5.0, ..EventConfig::default() };
    /// assert!(bad.validate().unwrap_err().to_string().contains("motion_exit"));
    /// let bad = EventConfig { breathing_exit: 4.5, ..EventConfig::default() };
    /// assert!(bad.validate().unwrap_err().to_string().contains("breathing_exit"));
    /// ```
    pub fn validate(&self) -> Result<()> {
        check("motion_window_s", self.motion_window_s, 0.01, 10.0, "s")?;
        check("motion_lag_s", self.motion_lag_s, 0.0, 1.0, "s")?;
        check("motion_enter", self.motion_enter, 1.01, 1e6, "")?;
        check(
            "motion_exit",
            self.motion_exit,
            1.0,
            self.motion_enter,
            "(at most motion_enter)",
        )?;
        check(
            "motion_confirm_frames",
            f64::from(self.motion_confirm_frames),
            1.0,
            1000.0,
            "frames",
        )?;
        check("motion_hold_s", self.motion_hold_s, 0.0, 60.0, "s")?;
        check("quiet_tau_s", self.quiet_tau_s, 0.1, 1e6, "s")?;
        check("block_s", self.block_s, 0.01, 10.0, "s")?;
        check(
            "breathing_window_s",
            self.breathing_window_s,
            3.0 * self.block_s,
            600.0,
            "s (at least 3 blocks)",
        )?;
        check(
            "breathing_min_s",
            self.breathing_min_s,
            3.0 * self.block_s,
            self.breathing_window_s,
            "s (3 blocks to breathing_window_s)",
        )?;
        check("breathing_enter", self.breathing_enter, 1.01, 1e6, "")?;
        check(
            "breathing_exit",
            self.breathing_exit,
            1.0,
            self.breathing_enter,
            "(at most breathing_enter)",
        )?;
        check(
            "breathing_level_enter",
            self.breathing_level_enter,
            1.01,
            1e6,
            "",
        )?;
        check(
            "static_window_s",
            self.static_window_s,
            self.block_s,
            60.0,
            "s (at least one block)",
        )?;
        check("static_min_change", self.static_min_change, 0.0, 10.0, "")?;
        check(
            "static_exit",
            self.static_exit,
            0.01,
            1.0,
            "(a fraction of the threshold)",
        )?;
        check(
            "static_noise_factor",
            self.static_noise_factor,
            0.0,
            1e3,
            "",
        )?;
        check("static_hold_s", self.static_hold_s, 0.0, 1e7, "s")?;
        check("presence_hold_s", self.presence_hold_s, 0.0, 600.0, "s")?;
        check(
            "absence_quick_s",
            self.absence_quick_s,
            3.0 * self.block_s,
            self.breathing_window_s,
            "s (3 blocks to breathing_window_s)",
        )?;
        check(
            "absence_quick_match",
            self.absence_quick_match,
            0.0,
            100.0,
            "noise standard deviations",
        )?;
        check(
            "absence_quick_min_values",
            f64::from(self.absence_quick_min_values),
            0.0,
            1e6,
            "values",
        )?;
        check(
            "absence_quick_seen",
            self.absence_quick_seen,
            self.absence_quick_match,
            1e3,
            "noise standard deviations (at least absence_quick_match)",
        )?;
        check("warmup_s", self.warmup_s, 0.0, 3600.0, "s")?;
        check("reference_tau_s", self.reference_tau_s, 0.1, 1e7, "s")?;
        Ok(())
    }
}

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// Something started moving.
    MotionStarted,
    /// Motion stopped.
    MotionSettled,
    /// Someone is there.
    PresenceStarted,
    /// Nobody is there any more.
    PresenceEnded,
}

/// Whether an event concerns one node or the fused state of all nodes of the stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// One node (the record's `node_id`).
    Node,
    /// All nodes of the stream (`node_id` is null; `nodes` lists the nodes in the new state).
    Fused,
}

/// The statistic that decided an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Statistic {
    /// The excess change ratio (motion).
    MotionRatio,
    /// The breathing-band ratio: the larger of the shape's ratio and the level's ratio times
    /// `breathing_enter / breathing_level_enter`, against `breathing_enter`.
    BreathingBandRatio,
    /// The static shape change against the empty-room reference.
    StaticShapeChange,
    /// A presence held by the static path alone reached `static_hold_s`.
    StaticHoldExpired,
    /// The node started over in another subcarrier layout: its open motion or presence ends
    /// at its last frame in the old layout (`value`, `threshold` 0, `confidence` 1, no
    /// evidence frames), and the new layout's analysis starts afresh.
    NodeRestarted,
    /// A fused event that no node event fired at that moment (`value`, `threshold` 0,
    /// `confidence` 1, no evidence frames): fused events begin when a second node appears,
    /// and a state already under way then gets its fused start; a node that goes silent
    /// ([`SensingConfig::node_timeout_s`](crate::SensingConfig::node_timeout_s)) leaves the
    /// fused state without an event of its own.
    FusedState,
}

/// The frames an event's statistic was computed over.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// Time of the first frame, ns.
    pub start_ns: i64,
    /// Time of the last frame (the event's time), ns.
    pub end_ns: i64,
    /// Number of frames.
    pub frames: u64,
}

/// A motion or presence event (JSON record type `event`, schema `docs/schema/event-v1.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// What happened.
    pub event: EventKind,
    /// Node or fused.
    pub scope: Scope,
    /// Time of the frame that decided it, ns (the frames' clock).
    pub timestamp_ns: i64,
    /// The node (`None` for fused events).
    pub node_id: Option<u32>,
    /// Confidence in `[0, 1]`: a margin score of the statistic against its threshold on a log
    /// scale, not a calibrated probability. 0.5 at the threshold for every event; a start
    /// reaches 1 at the threshold squared relative to the quiet level, an end (settled, ended)
    /// at the quiet level itself.
    pub confidence: f64,
    /// Which statistic decided it.
    pub statistic: Statistic,
    /// Its value.
    pub value: f64,
    /// The threshold it crossed.
    pub threshold: f64,
    /// The frames it was computed over.
    pub evidence: Evidence,
    /// Fused events: the nodes in the new state (present or moving); for a fused
    /// `PresenceEnded` or `MotionSettled`, every node that was present or moving while the
    /// state it ends lasted (sorted).
    /// Empty for node events.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<u32>,
}

impl EventKind {
    /// The name JSON uses (`motion_started`, ...).
    pub fn name(self) -> &'static str {
        match self {
            EventKind::MotionStarted => "motion_started",
            EventKind::MotionSettled => "motion_settled",
            EventKind::PresenceStarted => "presence_started",
            EventKind::PresenceEnded => "presence_ended",
        }
    }
}

/// The name JSON uses: `motion_started`, `motion_settled`, `presence_started`, `presence_ended`.
///
/// ```
/// assert_eq!(wifi_sensing_signal::events::EventKind::PresenceEnded.to_string(), "presence_ended");
/// ```
impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// `node` or `fused`, as in JSON.
impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Scope::Node => "node",
            Scope::Fused => "fused",
        })
    }
}

/// One line for logs: what, where and when, and the statistic that decided it.
///
/// ```
/// use wifi_sensing_signal::events::{Event, EventKind, Evidence, Scope, Statistic};
/// let e = Event {
///     event: EventKind::MotionStarted, scope: Scope::Node, timestamp_ns: 12_500_000_000,
///     node_id: Some(1), confidence: 0.8, statistic: Statistic::MotionRatio, value: 9.0,
///     threshold: 3.5, evidence: Evidence { start_ns: 12_000_000_000, end_ns: 12_500_000_000, frames: 25 },
///     nodes: vec![],
/// };
/// assert_eq!(
///     e.to_string(),
///     "motion_started node 1 at 12.500 s (motion_ratio 9, threshold 3.5, confidence 0.80)"
/// );
/// ```
impl std::fmt::Display for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let statistic = serde_json::to_value(self.statistic)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        match (self.scope, self.node_id) {
            (Scope::Node, Some(n)) => write!(f, "{} node {n}", self.event)?,
            _ if self.nodes.is_empty() => write!(f, "{} fused", self.event)?,
            _ => write!(f, "{} fused (nodes {:?})", self.event, self.nodes)?,
        }
        write!(
            f,
            " at {:.3} s ({statistic} {}, threshold {}, confidence {:.2})",
            self.timestamp_ns as f64 / 1e9,
            self.value,
            self.threshold,
            self.confidence
        )
    }
}

/// Margin score: 0.5 at `threshold`, 1 at `threshold² / base`, 0 at `base` (log scale).
pub(crate) fn margin(value: f64, threshold: f64, base: f64) -> f64 {
    let (v, t, b) = (value.max(1e-300), threshold.max(1e-300), base.max(1e-300));
    let span = (t / b).ln();
    if !(span.is_finite() && span > 0.0) {
        return if value >= threshold { 1.0 } else { 0.0 };
    }
    ((v / b).ln() / (2.0 * span)).clamp(0.0, 1.0)
}

/// Margin score for a statistic *below* its threshold, on the scale of [`margin`]: 0.5 at
/// `threshold`, 1 at `base` (and below), 0 at `threshold² / base` (log scale).
pub(crate) fn margin_below(value: f64, threshold: f64, base: f64) -> f64 {
    let (v, t, b) = (value.max(1e-300), threshold.max(1e-300), base.max(1e-300));
    let span = (t / b).ln();
    if !(span.is_finite() && span > 0.0) {
        return if value < threshold { 1.0 } else { 0.0 };
    }
    (1.0 - 0.5 * (v / b).ln().max(0.0) / span).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quick_absence_settings_are_checked() {
        let d = EventConfig::default();
        // off is a valid setting
        let off = EventConfig {
            absence_quick_match: 0.0,
            ..d.clone()
        };
        assert!(off.validate().is_ok());
        let err = |c: EventConfig| c.validate().unwrap_err().to_string();
        let e = err(EventConfig {
            absence_quick_seen: 1.0,
            ..d.clone()
        });
        assert!(e.contains("absence_quick_seen"), "{e}");
        let e = err(EventConfig {
            absence_quick_s: d.breathing_window_s + 1.0,
            ..d.clone()
        });
        assert!(e.contains("absence_quick_s"), "{e}");
        let e = err(EventConfig {
            absence_quick_match: f64::NAN,
            ..d
        });
        assert!(e.contains("absence_quick_match"), "{e}");
    }

    #[test]
    fn margins() {
        assert!((margin(2.0, 2.0, 1.0) - 0.5).abs() < 1e-12);
        assert_eq!(margin(4.0, 2.0, 1.0), 1.0);
        assert_eq!(margin(1.0, 2.0, 1.0), 0.0);
        assert_eq!(margin_below(1.0, 2.0, 1.0), 1.0);
        assert!((margin_below(2.0, 2.0, 1.0) - 0.5).abs() < 1e-12);
        assert!((margin_below(2f64.sqrt(), 2.0, 1.0) - 0.75).abs() < 1e-12);
        assert_eq!(margin_below(4.0, 2.0, 1.0), 0.0);
        assert!(margin(f64::NAN, 2.0, 1.0).is_finite());
    }

    #[test]
    fn config_round_trip() {
        let c = EventConfig::default();
        let j = serde_json::to_string(&c).unwrap();
        let back: EventConfig = serde_json::from_str(&j).unwrap();
        assert_eq!(back, c);
        assert!(serde_json::from_str::<EventConfig>(r#"{"motion_enterr": 3}"#).is_err());
    }
}
