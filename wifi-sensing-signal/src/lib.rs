#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod biquad;
pub mod error;
pub mod fresnel;
pub mod hampel;
pub mod pca;
pub mod phase;
pub mod rate;
pub mod resample;
pub mod spectrogram;
pub mod stages;
pub mod stft;

pub use error::{Result, SignalError};

/// Version of this crate, for run metadata.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
