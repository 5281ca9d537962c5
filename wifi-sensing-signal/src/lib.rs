#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod calibration;
pub mod error;
pub mod events;
pub mod features;
pub mod sensing;
pub mod vitals;

pub use error::{Error, Result};
pub use sensing::{FusedEvents, Sensed, SensingAnalyser, SensingConfig, SensingStats};

/// Version of this crate, for run metadata.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
