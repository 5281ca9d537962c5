//! Pipeline stages (`wifi_sensing_core::Stage`) built from compact specifications.
//!
//! Every stage keeps its state per node and runs from each node's own timestamps, subcarrier
//! indices and antenna layout. A list such as
//! `resample:100hz,sanitize,hampel:window=15:k=3,normalize` parses with [`parse_stages`]; each
//! [`StageSpec`] [`build`](StageSpec::build)s a boxed stage reporting to a shared [`Notices`]
//! (a stage that cannot apply to some frames says so there, once). [`STAGES_HELP`] documents
//! every stage and parameter.
//!
//! ```
//! use wifi_sensing_signal::stages::{parse_stages, Notices};
//! let specs = parse_stages("sanitize,hampel:window=15:k=3,normalize")?;
//! let notices = Notices::default();
//! let stages: Vec<_> = specs.iter().map(|s| s.build(&notices)).collect::<Result<_, _>>()?;
//! assert_eq!(stages.len(), 3);
//! let err = parse_stages("hampel:window=4").unwrap_err().to_string();
//! assert!(err.contains("hampel") && err.contains("window") && err.contains("odd"), "{err}");
//! # Ok::<(), wifi_sensing_signal::SignalError>(())
//! ```

mod basic;
mod filter;
mod hampel;
mod nodes;
mod notices;
mod resample;
pub mod select;
pub(crate) mod spec;

use std::str::FromStr;

use serde::{Deserialize, Serialize};
use wifi_sensing_core::Stage;

pub use basic::{
    DcConfig, DcStage, NormalizeConfig, NormalizeMode, NormalizeStage, RatioConfig, RatioMode,
    RatioStage, SanitizeConfig, SanitizeStage,
};
pub use filter::{FilterConfig, FilterKind, FilterStage, ZeroPhase, MAX_ZERO_PHASE_FRAMES};
pub use hampel::{HampelOn, HampelStage, HampelStageConfig};
pub use nodes::{PerNode, DEFAULT_MAX_NODES};
pub use notices::{Notices, MAX_NOTICES};
pub use resample::ResampleStage;
pub use select::{SelectConfig, SelectMode, SelectStage};

use crate::error::{Result, SignalError};
use crate::resample::ResampleConfig;

/// Most stages in one list.
pub const MAX_STAGES: usize = 64;

/// One configured stage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "stage", rename_all = "snake_case")]
pub enum StageSpec {
    /// `resample`.
    Resample(ResampleConfig),
    /// `sanitize`.
    Sanitize(SanitizeConfig),
    /// `ratio`.
    Ratio(RatioConfig),
    /// `hampel`.
    Hampel(HampelStageConfig),
    /// `normalize`.
    Normalize(NormalizeConfig),
    /// `dc`.
    Dc(DcConfig),
    /// `lowpass`, `highpass`, `bandpass`.
    Filter(FilterConfig),
    /// `select`.
    Select(SelectConfig),
}

/// Names of the stages, as accepted by [`StageSpec::from_str`].
pub const STAGE_NAMES: [&str; 10] = [
    "resample",
    "sanitize",
    "ratio",
    "hampel",
    "normalize",
    "dc",
    "lowpass",
    "highpass",
    "bandpass",
    "select",
];

/// One paragraph per stage: name, parameters with units, defaults and accepted ranges.
pub const STAGES_HELP: &str = "\
Stages (comma-separated, applied in order, per node; parameters as name:param=value:...):
  resample:RATE[:max_gap=0.5s]   uniform grid at RATE Hz (0.01..=100000, e.g. 100hz) by linear
                                 interpolation; gaps longer than max_gap are reported, not bridged
  sanitize                       phase: unwrap over subcarriers, remove least-squares slope and
                                 offset per rx/tx chain (the frame's own subcarrier indices)
  ratio[:ref=0][:mode=ratio|conj]  CSI ratio (or conjugate product) of every rx chain with the
                                 reference chain (0..=7); output has rx-1 chains
  hampel[:window=15][:k=3][:on=amplitude|iq]  Hampel outliers in time per subcarrier; window odd
                                 3..=1001 frames, k >= 0 scaled MADs; output delayed window/2 frames
  normalize[:mode=rms|agc][:step=3db]  rms: each chain to unit RMS amplitude per frame;
                                 agc: undo frame-to-frame gain jumps larger than step (0.1..=60 dB)
  dc[:tau=2s]                    remove each subcarrier's moving mean (time constant in s or frames)
  lowpass:FC[:order=4] | highpass:FC[:order=4] | bandpass:low=F1:high=F2[:order=2]
                                 Butterworth (order 1..=8 per edge) designed from the node's
                                 measured rate after [:warmup=32] frames (4..=1024); FC below rate/2;
                                 [:zero_phase=all|10s|500] filters forward and backward (no phase
                                 shift, offline): the node's whole stream or blocks of that length
  select[:top=10|:threshold=R][:baseline=5s][:window=2s][:reselect=false]
                                 keep the subcarriers whose amplitude variance over the first
                                 window, relative to the first `baseline` (quiet calibration), is
                                 largest (top 1..=4096) or at least R; the frames of the baseline
                                 and that window are held and released with the selection, so a
                                 node keeps one layout; reselect=true redoes the choice every
                                 window (the layout changes with it: --events/--vitals start a
                                 node over when a new layout lasts 20 frames, or keep a
                                 baseline's layout, and say how many frames they skipped)
Lengths: seconds (2s, 500ms) or frames (50). Frequencies in Hz (2hz or 2).
The spellings `sanitise` and `normalise` are accepted too.";

impl FromStr for StageSpec {
    type Err = SignalError;
    fn from_str(s: &str) -> Result<Self> {
        let name = s.split(':').next().unwrap_or("").trim();
        Ok(match name {
            "resample" => StageSpec::Resample(s.parse()?),
            "sanitize" | "sanitise" => {
                StageSpec::Sanitize(s.replacen("sanitise", "sanitize", 1).parse()?)
            }
            "ratio" => StageSpec::Ratio(s.parse()?),
            "hampel" => StageSpec::Hampel(s.parse()?),
            "normalize" | "normalise" => {
                StageSpec::Normalize(s.replacen("normalise", "normalize", 1).parse()?)
            }
            "dc" => StageSpec::Dc(s.parse()?),
            "lowpass" | "highpass" | "bandpass" => StageSpec::Filter(s.parse()?),
            "select" => StageSpec::Select(s.parse()?),
            _ => {
                let hint = wifi_sensing_core::util::nearest_name(
                    &name.replace(['_', '-'], ""),
                    STAGE_NAMES.iter().copied().chain(["sanitise", "normalise"]),
                )
                .map(|n| format!(" (did you mean `{n}`?)"))
                .unwrap_or_default();
                return Err(SignalError::Spec {
                    spec: s.to_string(),
                    reason: format!(
                        "unknown stage `{name}`{hint}; known: {}",
                        STAGE_NAMES.join(", ")
                    ),
                });
            }
        })
    }
}

impl StageSpec {
    /// The stage's name.
    pub fn name(&self) -> &'static str {
        match self {
            StageSpec::Resample(_) => "resample",
            StageSpec::Sanitize(_) => "sanitize",
            StageSpec::Ratio(_) => "ratio",
            StageSpec::Hampel(_) => "hampel",
            StageSpec::Normalize(_) => "normalize",
            StageSpec::Dc(_) => "dc",
            StageSpec::Filter(f) => match f.kind {
                FilterKind::Lowpass { .. } => "lowpass",
                FilterKind::Highpass { .. } => "highpass",
                FilterKind::Bandpass { .. } => "bandpass",
            },
            StageSpec::Select(_) => "select",
        }
    }

    /// Builds the stage, reporting to `notices`.
    pub fn build(&self, notices: &Notices) -> Result<Box<dyn Stage>> {
        let n = notices.clone();
        Ok(match self {
            StageSpec::Resample(c) => Box::new(ResampleStage::new(*c, n)?),
            StageSpec::Sanitize(c) => Box::new(SanitizeStage::new(*c, n)),
            StageSpec::Ratio(c) => Box::new(RatioStage::new(*c, n)),
            StageSpec::Hampel(c) => Box::new(HampelStage::new(*c, n)?),
            StageSpec::Normalize(c) => Box::new(NormalizeStage::new(*c, n)),
            StageSpec::Dc(c) => Box::new(DcStage::new(*c, n)),
            StageSpec::Filter(c) => Box::new(FilterStage::new(*c, n)?),
            StageSpec::Select(c) => Box::new(SelectStage::new(*c, n)),
        })
    }
}

/// Parses a comma-separated stage list and builds its stages, reporting to `notices`: what
/// [`parse_stages`] then [`StageSpec::build`] do, in one call.
///
/// ```
/// use wifi_sensing_core::Pipeline;
/// use wifi_sensing_signal::stages::{build_stages, Notices};
/// let notices = Notices::default();
/// let mut b = Pipeline::builder();
/// for stage in build_stages("sanitize,hampel:window=7,lowpass:2hz", &notices)? {
///     b = b.boxed_stage(stage);
/// }
/// assert_eq!(b.build()?.stage_names(), ["sanitize", "hampel", "lowpass"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn build_stages(list: &str, notices: &Notices) -> Result<Vec<Box<dyn Stage>>> {
    parse_stages(list)?
        .iter()
        .map(|spec| spec.build(notices))
        .collect()
}

/// Parses a comma-separated stage list (empty items are refused).
pub fn parse_stages(list: &str) -> Result<Vec<StageSpec>> {
    let items: Vec<&str> = list.split(',').map(str::trim).collect();
    if items.len() > MAX_STAGES {
        return Err(SignalError::Spec {
            spec: list.to_string(),
            reason: format!("{} stages; at most {MAX_STAGES}", items.len()),
        });
    }
    items
        .iter()
        .map(|s| {
            if s.is_empty() {
                Err(SignalError::Spec {
                    spec: list.to_string(),
                    reason: "empty stage in the list".into(),
                })
            } else {
                s.parse()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
