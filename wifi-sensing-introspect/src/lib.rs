#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod capture;
pub mod dtw;
pub mod early;
pub mod error;
pub mod features;
pub mod signature;
pub mod snapshot;

pub use error::{Error, Result};

/// Version of this crate, for run metadata.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

pub mod dynamics;
