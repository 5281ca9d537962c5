//! The per-node state machine of motion and presence (see the [module docs](super)).

use super::{margin, margin_below, Event, EventConfig, EventKind, Evidence, Scope, Statistic};
use crate::features::{rms_diff, BlockStats};
use crate::vitals::MAX_BRIDGED_GAP_S;

/// What the last closed block says (kept for the per-frame decisions).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct BlockUpdate {
    /// Breathing-band ratio over the ring, if the ring holds a full window.
    pub breathing: Option<f64>,
    /// Start of the ring's first block, ns.
    pub breathing_start_ns: i64,
    /// Frames in the ring.
    pub breathing_frames: u64,
    /// Static shape change against the reference, with its threshold.
    pub static_change: Option<(f64, f64, f64)>,
    /// Start of the static window, ns.
    pub static_start_ns: i64,
    /// Frames in the static window.
    pub static_frames: u64,
    /// Breathing-band ratio over a shorter motion-free stretch after motion
    /// (`absence_quick_s`), when `breathing` has none yet and there is a reference: evidence
    /// of absence only, together with a static change near zero.
    pub quick_breathing: Option<f64>,
}

/// Motion and presence of one node.
#[derive(Clone, Debug)]
pub(crate) struct NodeDetector {
    cfg: EventConfig,
    node: u32,
    blocks: BlockStats,
    static_blocks: usize,
    start_ns: Option<i64>,
    moving: bool,
    above: u32,
    below_since: Option<i64>,
    quiet: f64,
    last_t: i64,
    last_motion_ns: Option<i64>,
    /// `None` during the warm-up until something is decided.
    present: Option<bool>,
    absent_since: Option<i64>,
    static_only_since: Option<i64>,
    reference: Option<Vec<f32>>,
    warmup_done: bool,
    motion_in_warmup: bool,
    block: BlockUpdate,
    scratch: Vec<f32>,
    last_ratio: f64,
    /// Start and frame count of the motion ratio's window at the last frame that had one.
    ratio_window: (i64, u64),
    k: usize,
    /// Static change over noise (`D / sd`) of the last motion-free static window while
    /// present.
    still_seen: Option<f64>,
    /// `still_seen` when the last motion started: how far the person's shape stood from the
    /// reference before it (the quick absence).
    seen_before_motion: Option<f64>,
}

impl NodeDetector {
    /// `k` features per frame; `reference` from an explicit baseline.
    pub fn new(cfg: &EventConfig, node: u32, k: usize, reference: Option<Vec<f32>>) -> Self {
        let static_blocks = ((cfg.static_window_s / cfg.block_s).round() as usize).max(1);
        NodeDetector {
            blocks: BlockStats::new(k + 1, cfg.block_s, cfg.breathing_window_s),
            k,
            static_blocks,
            cfg: cfg.clone(),
            node,
            start_ns: None,
            moving: false,
            above: 0,
            below_since: None,
            quiet: 1.0,
            last_t: 0,
            last_motion_ns: None,
            present: None,
            absent_since: None,
            static_only_since: None,
            warmup_done: reference.is_some(),
            reference,
            motion_in_warmup: false,
            block: BlockUpdate::default(),
            scratch: Vec::new(),
            last_ratio: 1.0,
            ratio_window: (0, 0),
            still_seen: None,
            seen_before_motion: None,
        }
    }

    pub fn moving(&self) -> bool {
        self.moving
    }

    pub fn present(&self) -> Option<bool> {
        self.present
    }

    /// Closes the open motion and presence of a node that starts over (in another subcarrier
    /// layout): `MotionSettled` and `PresenceEnded` at `t`, its last frame, with the statistic
    /// [`Statistic::NodeRestarted`], so that every start has its end.
    pub fn close_for_restart(&mut self, t: i64, out: &mut Vec<Event>) {
        if self.moving {
            self.moving = false;
            out.push(self.event(
                EventKind::MotionSettled,
                t,
                Statistic::NodeRestarted,
                0.0,
                0.0,
                1.0,
                (t, 0),
            ));
        }
        if self.present == Some(true) {
            self.present = Some(false);
            out.push(self.event(
                EventKind::PresenceEnded,
                t,
                Statistic::NodeRestarted,
                0.0,
                0.0,
                1.0,
                (t, 0),
            ));
        }
    }

    /// The last motion ratio over the quiet level (1 for receiver noise).
    pub fn motion_ratio(&self) -> f64 {
        self.last_ratio / self.quiet
    }

    pub fn has_reference(&self) -> bool {
        self.reference.is_some()
    }

    #[allow(clippy::too_many_arguments)]
    fn event(
        &self,
        kind: EventKind,
        t: i64,
        stat: Statistic,
        value: f64,
        threshold: f64,
        confidence: f64,
        (start_ns, frames): (i64, u64),
    ) -> Event {
        Event {
            event: kind,
            scope: Scope::Node,
            timestamp_ns: t,
            node_id: Some(self.node),
            confidence,
            statistic: stat,
            value,
            threshold,
            evidence: Evidence {
                start_ns,
                end_ns: t,
                frames,
            },
            nodes: Vec::new(),
        }
    }

    /// One frame: time, shape with the compensated level appended (`k + 1` values), motion
    /// ratio (the ratio that starts motion, the one that holds it, the window start and frame
    /// count), level epoch.
    pub fn push(
        &mut self,
        t: i64,
        x: &[f32],
        ratio: Option<(f64, f64, i64, u64)>,
        epoch: u32,
        out: &mut Vec<Event>,
    ) {
        let dt = if self.start_ns.is_some() {
            ((t - self.last_t) as f64 * 1e-9).clamp(0.0, 1.0)
        } else {
            0.0
        };
        // A gap in the frames longer than `MAX_BRIDGED_GAP_S`: the breathing and static
        // statistics start over after it (their block ring would compare the room before the
        // gap with the room after it, and their evidence would span the gap), as the motion
        // ratio does; the presence already declared holds until they can say otherwise.
        if self.start_ns.is_some() && (t - self.last_t) as f64 * 1e-9 > MAX_BRIDGED_GAP_S {
            self.blocks =
                BlockStats::new(self.k + 1, self.cfg.block_s, self.cfg.breathing_window_s);
            self.block = BlockUpdate::default();
            self.absent_since = None;
        }
        let start = *self.start_ns.get_or_insert(t);
        self.last_t = t;
        // --- motion ---
        if let Some((r_start, r_hold, w0, wn)) = ratio {
            let r = if self.moving { r_hold } else { r_start };
            self.last_ratio = r;
            self.ratio_window = (w0, wn);

            let enter = self.cfg.motion_enter * self.quiet;
            let exit = self.cfg.motion_exit * self.quiet;
            if !self.moving {
                if r > enter {
                    self.above += 1;
                    if self.above >= self.cfg.motion_confirm_frames {
                        self.moving = true;
                        // a motion run that follows another within a static window keeps
                        // the value seen before the first
                        if let Some(x) = self.still_seen.take() {
                            self.seen_before_motion = Some(x);
                        }
                        self.below_since = None;
                        out.push(self.event(
                            EventKind::MotionStarted,
                            t,
                            Statistic::MotionRatio,
                            r,
                            enter,
                            margin(r, enter, self.quiet),
                            (w0, wn),
                        ));
                    }
                } else {
                    self.above = 0;
                    if r < exit {
                        let a = (dt / self.cfg.quiet_tau_s).min(1.0);
                        self.quiet = (self.quiet + a * (r - self.quiet)).clamp(0.5, 20.0);
                    }
                }
            } else if r < exit {
                let since = *self.below_since.get_or_insert(t);
                if (t - since) as f64 * 1e-9 >= self.cfg.motion_hold_s {
                    self.moving = false;
                    self.above = 0;
                    out.push(self.event(
                        EventKind::MotionSettled,
                        t,
                        Statistic::MotionRatio,
                        r,
                        exit,
                        margin_below(r, exit, self.quiet),
                        (w0, wn),
                    ));
                }
            } else {
                self.below_since = None;
            }
        }
        if self.moving {
            self.last_motion_ns = Some(t);
            if start == t || (t - start) as f64 * 1e-9 < self.cfg.warmup_s {
                self.motion_in_warmup = true;
            }
        }
        // --- blocks ---
        if self.blocks.push(t, x, epoch) {
            self.close_block(t);
        }
        self.decide_presence(t, start, out);
    }

    fn close_block(&mut self, t: i64) {
        let k = self.k;
        let mut b = BlockUpdate::default();
        let ring = self.blocks.blocks();
        // Breathing evidence only from blocks after the last motion: the whole ring, or at
        // least `breathing_min_s` of it right after motion settled.
        let quiet_blocks = match self.last_motion_ns {
            Some(m) => ring.iter().rev().take_while(|x| x.start_ns > m).count(),
            None => ring.len(),
        };
        let min_blocks = ((self.cfg.breathing_min_s / self.cfg.block_s).round() as usize).max(3);
        let use_blocks = if self.blocks.full() && quiet_blocks == ring.len() {
            Some(ring.len())
        } else if quiet_blocks >= min_blocks {
            Some(quiet_blocks)
        } else {
            None
        };
        // the quick absence's shorter stretch (only with a reference, see `decide_presence`)
        let quick_blocks = ((self.cfg.absence_quick_s / self.cfg.block_s).round() as usize)
            .max(3)
            .max(self.static_blocks);
        let quick = (use_blocks.is_none()
            && self.last_motion_ns.is_some()
            && self.reference.is_some()
            && self.cfg.absence_quick_match > 0.0
            && self.k >= self.cfg.absence_quick_min_values as usize
            && quiet_blocks >= quick_blocks)
            .then_some(quiet_blocks);
        let n_b = use_blocks.or(quick).unwrap_or(0);
        b.breathing_start_ns = ring
            .len()
            .checked_sub(n_b)
            .and_then(|i| ring.get(i))
            .filter(|_| n_b > 0)
            .map_or(t, |x| x.start_ns);
        b.breathing_frames = ring.iter().rev().take(n_b).map(|x| x.frames as u64).sum();
        let n = self.static_blocks.min(ring.len());
        let ring_len = ring.len();
        b.static_start_ns = ring
            .len()
            .checked_sub(n)
            .and_then(|i| ring.get(i))
            .filter(|_| n > 0)
            .map_or(t, |x| x.start_ns);
        b.static_frames = ring.iter().rev().take(n).map(|x| x.frames as u64).sum();
        b.breathing =
            use_blocks.and_then(|n| self.blocks.breathing_ratio(k, n, self.level_scale()));
        b.quick_breathing =
            quick.and_then(|n| self.blocks.breathing_ratio(k, n, self.level_scale()));
        let noise = self
            .blocks
            .recent_mean(self.static_blocks, 0..k, &mut self.scratch);
        b.static_change = match (&self.reference, noise) {
            (Some(r), Some(sd)) if ring_len >= self.static_blocks => {
                let d = rms_diff(&self.scratch, r);
                let thr = self
                    .cfg
                    .static_min_change
                    .max(self.cfg.static_noise_factor * sd);
                d.is_finite().then_some((d, thr, sd))
            }
            _ => None,
        };
        // how far a present person's shape stands from the reference, on a motion-free window
        if self.present == Some(true) && !self.moving && quiet_blocks >= self.static_blocks {
            if let Some((d, _, sd)) = b.static_change.filter(|x| x.2 > 0.0) {
                self.still_seen = Some(d / sd);
            }
        }
        self.block = b;
        // Warm-up end: take the reference if the room was empty and still.
        let start = self.start_ns.unwrap_or(t);
        if !self.warmup_done && (t - start) as f64 * 1e-9 >= self.cfg.warmup_s {
            self.warmup_done = true;
            if !self.motion_in_warmup
                && b.breathing.is_some_and(|v| v < self.cfg.breathing_enter)
                && !self.moving
            {
                self.take_reference();
            }
        }
        // Follow the room slowly while it is empty and still.
        if self.present == Some(false) && !self.moving {
            if let Some(r) = &mut self.reference {
                let a = (self.cfg.block_s / self.cfg.reference_tau_s).min(1.0) as f32;
                if self
                    .blocks
                    .recent_mean(1, 0..k, &mut self.scratch)
                    .is_some()
                {
                    for (r, m) in r.iter_mut().zip(&self.scratch) {
                        *r += a * (m - *r);
                    }
                }
            }
        }
    }

    /// The mean shape of the whole block ring becomes the reference (the warm-up's end).
    fn take_reference(&mut self) {
        self.take_reference_over(self.blocks.blocks().len());
    }

    /// The mean shape of the last `n` blocks becomes the reference.
    fn take_reference_over(&mut self, n: usize) {
        let mut r = Vec::new();
        if self.blocks.recent_mean(n, 0..self.k, &mut r).is_some() {
            self.reference = Some(r);
            // the last static change was against the old reference
            self.block.static_change = None;
        }
    }

    /// Scale of the level's breathing ratio: `breathing_enter / breathing_level_enter`.
    fn level_scale(&self) -> f64 {
        self.cfg.breathing_enter / self.cfg.breathing_level_enter
    }

    /// Breathing evidence: `Some(ratio)` over motion-free blocks (see `close_block`).
    fn breathing_evidence(&self) -> Option<f64> {
        if self.moving {
            return None;
        }
        self.block.breathing
    }

    fn decide_presence(&mut self, t: i64, start: i64, out: &mut Vec<Event>) {
        let breathing = self.breathing_evidence();
        // hysteresis: a presence already declared holds until the ratio falls to the exit
        let breathing_thr = if self.present == Some(true) {
            self.cfg.breathing_exit
        } else {
            self.cfg.breathing_enter
        };
        let breathing_yes = breathing.is_some_and(|v| v > breathing_thr);
        // hysteresis: a presence already declared holds until the change falls to the exit
        let static_exit = if self.present == Some(true) {
            self.cfg.static_exit
        } else {
            1.0
        };
        let static_yes = self
            .block
            .static_change
            .is_some_and(|(d, thr, _)| d > thr * static_exit);
        let present_raw = self.moving || breathing_yes || static_yes;
        let in_warmup = !self.warmup_done;
        if present_raw {
            self.absent_since = None;
            if self.present != Some(true) {
                self.present = Some(true);
                self.static_only_since = None;
                // a new presence: nothing seen of this person yet
                self.still_seen = None;
                self.seen_before_motion = None;
                let ev = if self.moving {
                    let r = self.last_ratio;
                    let enter = self.cfg.motion_enter * self.quiet;
                    self.event(
                        EventKind::PresenceStarted,
                        t,
                        Statistic::MotionRatio,
                        r,
                        enter,
                        margin(r, enter, self.quiet),
                        // the motion ratio's window, as the `MotionStarted` it follows
                        self.ratio_window,
                    )
                } else if breathing_yes {
                    let v = breathing.unwrap_or(0.0);
                    self.event(
                        EventKind::PresenceStarted,
                        t,
                        Statistic::BreathingBandRatio,
                        v,
                        self.cfg.breathing_enter,
                        margin(v, self.cfg.breathing_enter, 1.0),
                        (self.block.breathing_start_ns, self.block.breathing_frames),
                    )
                } else {
                    let (d, thr, sd) = self.block.static_change.unwrap_or((0.0, 0.0, 0.0));
                    self.event(
                        EventKind::PresenceStarted,
                        t,
                        Statistic::StaticShapeChange,
                        d,
                        thr,
                        margin(d, thr, sd.max(thr * 0.1)),
                        (self.block.static_start_ns, self.block.static_frames),
                    )
                };
                out.push(ev);
            }
            // A presence held by the static path alone expires.
            if !self.moving && !breathing_yes {
                let since = *self.static_only_since.get_or_insert(t);
                if (t - since) as f64 * 1e-9 >= self.cfg.static_hold_s {
                    self.present = Some(false);
                    self.static_only_since = None;
                    let (d, thr, _) = self.block.static_change.unwrap_or((0.0, 0.0, 0.0));
                    out.push(self.event(
                        EventKind::PresenceEnded,
                        t,
                        Statistic::StaticHoldExpired,
                        d,
                        thr,
                        0.0,
                        (since, 0),
                    ));
                    self.take_reference();
                }
            } else {
                self.static_only_since = None;
            }
            return;
        }
        // Nothing says present: absence needs motion-free breathing evidence (and, with a
        // reference, no static change). With a reference, a shorter stretch of it will do once
        // the room's shape is back at the reference (a person who walked out).
        let quick = if self.moving {
            None
        } else {
            self.block.quick_breathing.filter(|&v| {
                v <= self.cfg.breathing_exit
                    && self
                        .block
                        .static_change
                        .is_some_and(|(d, _, sd)| d <= sd * self.cfg.absence_quick_match)
                    && self
                        .seen_before_motion
                        .is_some_and(|x| x >= self.cfg.absence_quick_seen)
            })
        };
        let breathing = breathing.or(quick);
        let breathing_no = breathing.is_some();
        if !breathing_no {
            return;
        }
        if in_warmup && self.present.is_none() {
            // Absence is only declared after the warm-up (or with an explicit baseline).
            if (t - start) as f64 * 1e-9 < self.cfg.warmup_s && !self.has_reference() {
                return;
            }
        }
        match self.present {
            None => {
                self.present = Some(false);
                if self.reference.is_none() && breathing_no {
                    self.take_reference();
                }
            }
            Some(false) => {}
            Some(true) => {
                let since = *self.absent_since.get_or_insert(t);
                if (t - since) as f64 * 1e-9 >= self.cfg.presence_hold_s {
                    self.present = Some(false);
                    self.absent_since = None;
                    self.static_only_since = None;
                    let v = breathing.unwrap_or(1.0);
                    let ev = self.event(
                        EventKind::PresenceEnded,
                        t,
                        Statistic::BreathingBandRatio,
                        v,
                        self.cfg.breathing_exit,
                        margin_below(v, self.cfg.breathing_exit, 1.0),
                        (self.block.breathing_start_ns, self.block.breathing_frames),
                    );
                    out.push(ev);
                    if self.reference.is_none() {
                        // the room as it is now: the last static window, not the whole ring,
                        // whose older blocks still hold the person who was there
                        self.take_reference_over(self.static_blocks);
                    }
                }
            }
        }
    }
}
