//! Dynamics of a scalar stream: delay embedding, the largest Lyapunov exponent (Rosenstein),
//! the correlation dimension (Grassberger-Procaccia) and a streaming regime tracker.
//!
//! (Module documentation is completed below with the tracker.)

mod corrdim;
mod kdtree;
mod numeric;
mod regime;
mod rosenstein;
mod tracker;

pub use corrdim::{logarithmic_r, CorrDim, MAX_RADII};
pub use regime::{
    Classification, Regime, RegimeClassifier, RegimeThresholds, WindowFeatures, BLOCKS,
};
pub use rosenstein::{
    delay_embed, lyap_r, LyapunovEstimate, Rosenstein, RosensteinParams, MAX_EMB_DIM,
};
pub use tracker::{DynamicsConfig, DynamicsState, DynamicsTracker, MAX_WINDOW};

/// Errors of the dynamics module.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum DynamicsError {
    /// A configuration value is out of range.
    #[error("invalid dynamics setting `{field}`: {reason}")]
    InvalidConfig {
        /// The field at fault.
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The input holds a NaN or an infinity.
    #[error("non-finite input value at index {index}")]
    NonFinite {
        /// Position of the first non-finite value.
        index: usize,
    },
    /// The series is too short for the requested estimate.
    #[error("{what} needs at least {needed} samples, got {got}")]
    TooShort {
        /// The estimate asked for.
        what: &'static str,
        /// Samples needed.
        needed: usize,
        /// Samples given.
        got: usize,
    },
    /// The input has no spread, so the estimate is undefined.
    #[error("{what} is undefined")]
    Degenerate {
        /// The estimate asked for.
        what: &'static str,
    },
}

impl DynamicsError {
    pub(crate) fn invalid(field: &'static str, reason: &'static str) -> Self {
        Self::InvalidConfig { field, reason }
    }
}
