#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod biquad;
pub mod calibration;
pub mod error;
pub mod events;
pub mod features;
pub mod fresnel;
pub mod hampel;
pub mod matrix;
pub mod pca;
pub mod phase;
#[cfg(feature = "plot")]
pub mod plot;
pub mod rate;
pub mod resample;
pub mod sensing;
pub mod spectral;
pub mod spectrogram;
pub mod stages;
pub mod stft;
pub mod vitals;

#[cfg(test)]
mod test_support;

pub use error::{Result, SignalError};
pub use sensing::{FusedEvents, Sensed, SensingAnalyser, SensingConfig, SensingStats};

/// Version of this crate, for run metadata.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
