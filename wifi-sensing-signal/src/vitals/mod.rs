//! Breathing and heart rate from the CSI amplitude shape.
//!
//! # Method
//!
//! 1. **Time grid from the measured timestamps.** Each frame's amplitude shape (see
//!    [`crate::features`]) is reduced to at most [`VitalsConfig::max_features`] features (means
//!    of adjacent selected values) and averaged into bins of `1 / grid_hz` seconds *by
//!    timestamp*. Nothing assumes a nominal rate: a 20 Hz, 50 Hz or 100 Hz stream, or one with
//!    drops and jitter, lands on the same grid; empty bins are filled by linear interpolation.
//!    The record reports the measured frame rate.
//!
//!    With [`VitalsConfig::phase_features`] (off by default) a receiver with several receive
//!    chains also contributes the CSI ratio of neighbouring chains (real and imaginary part
//!    per group of subcarriers), which the random common phase, the timing offset and a gain
//!    common to the chains leave alone; see the `phase` module.
//! 2. **Steps out.** Each feature's bin-to-bin changes over the window are screened: a change
//!    (or a pair of changes, when a step falls inside a bin) larger than 8 times the median
//!    absolute change is a step (an AGC gain change, which the level carries at full size, or
//!    a posture shift) and is dropped, joining both sides without an edge. Breathing and
//!    heartbeat are smooth and never reach that size. The level feature is the
//!    AGC-compensated level of [`crate::features`] (gain steps common to all subcarriers are
//!    removed frame by frame); this screening catches what is left.
//! 3. **Band-limited components combined across subcarriers.** Every [`VitalsConfig::hop_s`] the
//!    last [`VitalsConfig::window_s`] of the grid is detrended, Hann-windowed and transformed
//!    (real FFT, zero-padded twice). Each feature is whitened by its noise level measured above
//!    the heart band, and weighed down further when the median power of its breathing band is
//!    above white noise's (slow drift, red noise: a narrow breathing peak does not move the
//!    median). The subcarrier-group features of each receive link are then replaced by their
//!    first [`VitalsConfig::smooth_basis`] coefficients on an orthonormal cosine basis over the
//!    link's groups: a chest's motion changes the amplitudes smoothly across the band (a few
//!    path-delay differences), so the breath lives in these few smooth combinations while
//!    white noise, which the orthonormal basis keeps white, loses most of its dimensions (on
//!    ESP32, 24 features become 5: fewer directions for the component below to fit noise in).
//!    For the breathing band (6–40 /min) the cross-spectral matrix of the features
//!    over the band's bins is the covariance of the band-passed feature matrix (Parseval); its
//!    first principal component (power iteration) is the combination of subcarriers that
//!    carries the most band power.
//! 4. **Spectral peak.** The component's power spectrum over the band; the highest local
//!    maximum, refined by parabolic interpolation of the log power.
//! 5. **Heart rate on the breathing component.** The heartbeat moves the same chest surface as
//!    breathing, so (to first order) it changes the features along the same combination. The
//!    heart band (45–150 /min) is searched in the power spectrum of the breathing component,
//!    not in a component fitted to the heart band (a fit over a hundred noise-dominated bins
//!    follows the noise). No breathing estimate, no heart estimate.
//! 6. **Harmonic rejection.** In the heart band, bins within
//!    [`VitalsConfig::harmonic_tolerance_bpm`] of a multiple (2×…) of the breathing rate are
//!    excluded from the peak search, so a breathing harmonic is never reported as a heartbeat
//!    (a heart rate within that distance of a harmonic is not found).
//! 7. **Confidence and refusal.** The *distinctness* of a peak is its power over the median
//!    power of the band (away from the peak). Below [`VitalsConfig::min_distinctness`]
//!    (breathing) or [`VitalsConfig::heart_min_distinctness`] (heart) there is no estimate;
//!    above, the confidence grows with the log of the distinctness up to 1 at
//!    [`VitalsConfig::full_distinctness`]. There is no estimate at all when the window is
//!    shorter than [`VitalsConfig::min_window_s`] after the last motion run longer than 1 s,
//!    or the last shorter one across which the amplitude shape moved to another level (a person
//!    who sits down, stands up or turns: the breath after it is not the same combination of
//!    subcarriers as before; the shift of each shape feature's 1 s means across the run, against
//!    the median shift of such means elsewhere in the window, averaged over the features, above
//!    8) (other runs, such as a twitch or a gain step the event detector reads as motion, stay
//!    in the window; the reason is `motion` only when the window would have been long enough
//!    without that run, `window_too_short` when the stream or the signal after a gap is
//!    younger than `min_window_s`, see [`NoEstimate`]), when the frame rate is below twice
//!    the band's top frequency, or when there is no distinct breathing peak (`no_person` when, in addition, the breathing band
//!    holds no more power than noise: the first principal eigenvalue against the
//!    Marchenko–Pastur edge of noise, [`VitalsConfig::presence_ratio`]; `not_distinct`
//!    otherwise). When a motion run longer than 1 s covers everything since its start, no
//!    motion-free signal is left and the record's window is the whole window examined. A
//!    stretch without frames longer than 1 s is not bridged (linear interpolation across it
//!    would invent a signal): the window starts after it.

mod estimator;
mod phase;

pub(crate) use estimator::{VitalsEstimator, MAX_BRIDGED_GAP_S};
pub(crate) use phase::PhaseFeatures;

use serde::{Deserialize, Serialize};

use crate::error::Result;

/// Configuration of the vital-sign estimator. Units are in the field names.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VitalsConfig {
    /// Analysis window, s. Default 60.
    pub window_s: f64,
    /// Shortest motion-free window that gives an estimate, s. Default 20.
    pub min_window_s: f64,
    /// Time between estimates, s. Default 5.
    pub hop_s: f64,
    /// Rate of the internal time grid, Hz. Default 10.
    pub grid_hz: f64,
    /// Most features (combined subcarrier groups) per node. Default 24.
    pub max_features: usize,
    /// Breathing band, per minute. Default `[6, 40]`.
    pub breathing_bpm: [f64; 2],
    /// Heart band, per minute. Default `[45, 150]`.
    pub heart_bpm: [f64; 2],
    /// Width of the exclusion around each breathing harmonic in the heart band, per minute.
    /// Default 1.5.
    pub harmonic_tolerance_bpm: f64,
    /// Breathing-peak distinctness below which no breathing estimate is given. Default 30:
    /// the breathing component is fitted to the band it is searched in, which inflates noise
    /// peaks (in simulated empty rooms its largest peak reaches about 27 times the band's
    /// median).
    pub min_distinctness: f64,
    /// Heart-peak distinctness below which no heart estimate is given. Default 16 (the heart
    /// band is searched in a fixed combination, where the largest of about a hundred noise
    /// bins exceeds 16 times their median in about 0.2 % of windows).
    pub heart_min_distinctness: f64,
    /// Peak distinctness at which the confidence reaches 1. Default 100.
    pub full_distinctness: f64,
    /// First breathing-band eigenvalue over the noise edge below which a window without a
    /// distinct breathing peak is reported as `no_person` (rather than `not_distinct`). A
    /// distinct breathing peak is an estimate whatever this ratio (a breath fills a few bins
    /// of the band, so the band's total power can stay near noise). Default 4.
    pub presence_ratio: f64,
    /// Phase features next to the amplitude shape on receivers with several receive chains:
    /// the CSI ratio of neighbouring chains (see step 1 of the [module docs](self)). Default
    /// `false`: on held-out simulated sessions they gave one more breathing estimate in 60
    /// Intel 5300 windows and four fewer heart estimates (the crate's MEASUREMENTS.md).
    pub phase_features: bool,
    /// Coefficients per receive link of the smooth (cosine) basis onto which the subcarrier-group
    /// features are projected before the principal component (step 3 of the
    /// [module docs](self)); 0 keeps the groups as they are. Default 4. A link with at most
    /// this many groups keeps them all (the projection would only rotate them).
    pub smooth_basis: usize,
    /// Motion ratio (see [`crate::events`]) above which a frame counts as motion when the event detector is off (with it on, its motion state is used). Default 4.
    pub motion_ratio: f64,
}

impl Default for VitalsConfig {
    fn default() -> Self {
        VitalsConfig {
            window_s: 60.0,
            min_window_s: 20.0,
            hop_s: 5.0,
            grid_hz: 10.0,
            max_features: 24,
            breathing_bpm: [6.0, 40.0],
            heart_bpm: [45.0, 150.0],
            harmonic_tolerance_bpm: 1.5,
            min_distinctness: 30.0,
            heart_min_distinctness: 16.0,
            full_distinctness: 100.0,
            presence_ratio: 4.0,
            phase_features: false,
            smooth_basis: 4,
            motion_ratio: 4.0,
        }
    }
}

use crate::error::check_range as check;

impl VitalsConfig {
    /// Checks every field; errors name the field and the accepted range.
    ///
    /// ```
    /// use wifi_sensing_signal::vitals::VitalsConfig;
    /// assert!(VitalsConfig::default().validate().is_ok());
    /// let bad = VitalsConfig { heart_bpm: [45.0, 400.0], ..VitalsConfig::default() };
    /// assert!(bad.validate().unwrap_err().to_string().contains("heart_bpm"));
    /// ```
    pub fn validate(&self) -> Result<()> {
        check("window_s", self.window_s, 5.0, 600.0, "s")?;
        check(
            "min_window_s",
            self.min_window_s,
            2.0,
            self.window_s,
            "s (at most window_s)",
        )?;
        check("hop_s", self.hop_s, 0.1, 600.0, "s")?;
        check("grid_hz", self.grid_hz, 2.0, 100.0, "Hz")?;
        check("max_features", self.max_features as f64, 1.0, 256.0, "")?;
        check("smooth_basis", self.smooth_basis as f64, 0.0, 256.0, "")?;
        let nyq = 60.0 * self.grid_hz / 2.0;
        for (name, b) in [
            ("breathing_bpm", self.breathing_bpm),
            ("heart_bpm", self.heart_bpm),
        ] {
            check(&format!("{name}[0]"), b[0], 1.0, nyq, "/min")?;
            check(
                &format!("{name}[1]"),
                b[1],
                b[0] + 1.0,
                nyq,
                "/min (below half the grid rate)",
            )?;
        }
        check(
            "harmonic_tolerance_bpm",
            self.harmonic_tolerance_bpm,
            0.0,
            30.0,
            "/min",
        )?;
        check("min_distinctness", self.min_distinctness, 1.0, 1e6, "")?;
        check(
            "heart_min_distinctness",
            self.heart_min_distinctness,
            1.0,
            self.full_distinctness / 1.01,
            "(below full_distinctness)",
        )?;
        check(
            "full_distinctness",
            self.full_distinctness,
            self.min_distinctness * 1.01,
            1e9,
            "(above min_distinctness)",
        )?;
        check("presence_ratio", self.presence_ratio, 1.0, 1e6, "")?;
        check("motion_ratio", self.motion_ratio, 1.01, 1e6, "")?;
        Ok(())
    }
}

/// Why a rate has no estimate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoEstimate {
    /// The window is shorter than `min_window_s` because the signal has not lasted that long:
    /// the stream started, or restarted after a gap longer than `window_s`, less than
    /// `min_window_s` ago. Said even when a motion run cut the window too, since the estimate
    /// would be withheld without it (this takes precedence over `motion`); a short motion run
    /// left in the window is not a cause at all.
    WindowTooShort,
    /// A motion run (longer than 1 s, or one across which the amplitude shape moved: a person
    /// who sat down, stood up or turned) cut the window and left less than `min_window_s` of
    /// motion-free signal after it, where the window without the cut would have been long
    /// enough: without the motion there would be an estimate.
    Motion,
    /// The breathing band holds no more power than noise: nobody there.
    NoPerson,
    /// The peak is not distinct enough (below `min_distinctness`); for the heart rate also
    /// when there is no breathing estimate to search it on.
    NotDistinct,
    /// The measured frame rate is below twice the band's top frequency (the heart rate says
    /// so too when the breathing band is not sampled; takes precedence over `no_person`).
    FrameRateTooLow,
}

/// One rate estimate.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct VitalRate {
    /// Rate per minute (`None` with a reason when there is no estimate).
    pub rate_per_min: Option<f64>,
    /// Confidence in `[0, 1]` from the peak's distinctness (0 without an estimate).
    pub confidence: f64,
    /// Peak power over the median power of the band (`None` when not computed).
    pub distinctness: Option<f64>,
    /// Why there is no estimate.
    pub reason: Option<NoEstimate>,
}

impl VitalRate {
    pub(crate) fn none(reason: NoEstimate) -> Self {
        VitalRate {
            rate_per_min: None,
            confidence: 0.0,
            distinctness: None,
            reason: Some(reason),
        }
    }
}

/// Breathing and heart rate of one node over one window (JSON record type `vital_signs`,
/// schema `docs/schema/vital_signs-v1.json`; not the ESP32 nodes' own `vitals` records).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VitalSigns {
    /// Breathing rate, breaths per minute.
    pub breathing: VitalRate,
    /// Heart rate, beats per minute.
    pub heart: VitalRate,
    /// Start of the window, ns (frames' clock): of the motion-free stretch used; when motion
    /// left none, of the whole window examined (there is no estimate then). A stretch without
    /// frames longer than 1 s is not bridged: the window starts after the last one.
    pub window_start_ns: i64,
    /// End of the window, ns: the end of its last grid bin (`1 / grid_hz`); the record's time.
    /// After a gap, the frame that triggers the record comes later than this.
    pub window_end_ns: i64,
    /// Length of the window, s (`window_end_ns − window_start_ns`).
    pub window_s: f64,
    /// Received rate over the window, Hz: its frames over `window_s` (frames lost lower it).
    pub frame_rate_hz: f64,
    /// Frames in the window.
    pub frames: u64,
    /// Features the estimate combines: groups of adjacent selected subcarrier values, plus the
    /// common level (and the phase features when on). Before the breathing fit each receive
    /// link's groups are projected onto [`VitalsConfig::smooth_basis`] cosine terms, so fewer
    /// dimensions enter it than this counts (on a one-antenna ESP32: 5 of 24).
    pub features: usize,
    /// The presence test: the first eigenvalue of the features in the breathing band over the
    /// Marchenko–Pastur edge of noise (about 1 with nobody there; below
    /// [`VitalsConfig::presence_ratio`], 4 by default, a window without a distinct breathing
    /// peak is `no_person`). `None` when the window was not analysed (too short, or motion).
    pub presence_ratio: Option<f64>,
}
