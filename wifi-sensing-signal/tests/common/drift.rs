//! A long empty-room session with slow drift and AGC steps (the "2 empty hours" check),
//! shared by `tests/sensing_accuracy.rs` and the `sensing_eval` example.
//!
//! The simulator's empty room (default impairments: SNR 30 dB, AGC with 1 dB steps, a random
//! gain step every 10 s on average at 50 Hz, 1 % drops, jitter, int8 quantisation) is run for
//! the whole duration; on top, every frame's CSI gets
//! * a slow common gain drift of ±4 dB (period 37 min) — a receiver warming up, a door
//!   slowly changing the path loss;
//! * a slow shape drift: a tilt of ±3 % across the band (period 23 min) and a ripple of ±1.5 %
//!   (period 61 min), the frequency response of a front end drifting with temperature.
//!
//! The truth is "nobody there" throughout; every event the analyser emits is a false event.
#![allow(dead_code)]

use std::fmt;

use wifi_sensing_core::sim::{DeviceProfile, Scenario, Simulator};
use wifi_sensing_signal::events::{EventConfig, EventKind};
use wifi_sensing_signal::{Sensed, SensingAnalyser, SensingConfig};

/// Figures of one long run.
#[derive(Clone, Debug, Default)]
pub struct DriftReport {
    pub hours: f64,
    pub frames: u64,
    pub agc_steps: u64,
    pub presence_started: u64,
    pub motion_started: u64,
    pub false_presence_frames: u64,
    pub false_motion_frames: u64,
    pub vital_estimates: u64,
}

impl fmt::Display for DriftReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "empty room {:.2} h, {} frames, {} AGC gain changes, slow gain and shape drift: {} PresenceStarted, {} MotionStarted, {} false-presence frames, {} false-motion frames, {} breathing estimates",
            self.hours,
            self.frames,
            self.agc_steps,
            self.presence_started,
            self.motion_started,
            self.false_presence_frames,
            self.false_motion_frames,
            self.vital_estimates
        )
    }
}

/// Runs the empty room for `hours` at `rate` Hz (events and vital signs on).
pub fn empty_room_with_drift(hours: f64, rate: f64, seed: u64) -> DriftReport {
    let secs = hours * 3600.0;
    let mut sc = Scenario::preset("empty", secs).expect("preset");
    sc.rate_hz = rate;
    let sim = Simulator::new(sc, DeviceProfile::esp32(), seed).expect("sim");
    // the default configuration (`SENSING_SMOOTH` / `SENSING_PHASE` applied, see
    // `eval::vitals_config`)
    let cfg = SensingConfig {
        vitals: Some(super::eval::vitals_config()),
        ..SensingConfig::default()
    };
    let mut a = SensingAnalyser::new(cfg, None).expect("analyser");
    let warmup_ns = (EventConfig::default().warmup_s * 1e9) as i64;
    let mut out = Vec::new();
    let mut r = DriftReport {
        hours,
        ..DriftReport::default()
    };
    let mut last_gain = None;
    for (mut f, t) in sim {
        let ts = t.timestamp_ns as f64 * 1e-9;
        let tau = std::f64::consts::TAU;
        let gain_db = 4.0 * (tau * ts / (37.0 * 60.0)).sin();
        let tilt = 0.03 * (tau * ts / (23.0 * 60.0)).sin();
        let ripple = 0.015 * (tau * ts / (61.0 * 60.0)).sin();
        let g = 10f64.powf(gain_db / 20.0);
        let n = f.csi.shape()[2].max(1);
        for ((_, _, k), c) in f.csi.indexed_iter_mut() {
            let u = k as f64 / n as f64 - 0.5;
            let s = g * (1.0 + tilt * 2.0 * u + ripple * (tau * 3.0 * u).sin());
            *c *= s as f32;
        }
        if last_gain.is_some_and(|l| l != t.impairments.agc_gain_db) {
            r.agc_steps += 1;
        }
        last_gain = Some(t.impairments.agc_gain_db);
        out.clear();
        a.push(&f, &mut out).expect("push");
        for s in &out {
            match s {
                Sensed::Event(e) if e.node_id.is_some() => match e.event {
                    EventKind::PresenceStarted => r.presence_started += 1,
                    EventKind::MotionStarted => r.motion_started += 1,
                    _ => {}
                },
                Sensed::VitalSigns { value, .. } => {
                    r.vital_estimates += u64::from(value.breathing.rate_per_min.is_some());
                    if value.breathing.rate_per_min.is_some() && std::env::var("VERBOSE").is_ok() {
                        eprintln!("  breathing estimate in the empty room: {value:?}");
                    }
                }
                _ => {}
            }
        }
        r.frames += 1;
        if t.timestamp_ns >= warmup_ns {
            r.false_presence_frames += u64::from(a.present(f.node_id) == Some(true));
            r.false_motion_frames += u64::from(a.moving(f.node_id) == Some(true));
        }
    }
    r
}
