//! # wifi-sensing
//!
//! Facade of the wifi-sensing family: one dependency that re-exports the family behind features,
//! so a notebook needs a single `:dep`.
//!
//! | feature | default | re-exports |
//! |---|---|---|
//! | — | always | [`core`] (`wifi-sensing-core`): frames, readers, recording, pipeline, sinks |
//! | `signal` | yes | `signal` (`wifi-sensing-signal`) |
//! | `introspect` | yes | `introspect` (`wifi-sensing-introspect`) |
//! | `pose` | no | `pose` (`wifi-sensing-pose`) |
//! | `notebook` | no | `notebook`: evcxr display of frames, captures, spectrograms, events, poses |
//!
//! (The feature-gated modules are named without links, so that these docs build with any set of
//! features.)
#![forbid(unsafe_code)]
// every example in these docs and the README compiles without a warning
#![doc(test(attr(deny(warnings))))]

pub use wifi_sensing_core as core;
pub use wifi_sensing_core::*;

#[cfg(feature = "introspect")]
pub use wifi_sensing_introspect as introspect;
#[cfg(feature = "notebook")]
pub mod notebook;
#[cfg(feature = "pose")]
pub use wifi_sensing_pose as pose;
#[cfg(feature = "signal")]
pub use wifi_sensing_signal as signal;

/// The README's examples, compiled and run as doctests (`cargo test --doc`).
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
