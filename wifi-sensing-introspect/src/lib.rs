#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

/// Version of this crate, for run metadata.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

pub mod dynamics;
