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
//! features.) Each member crate's paths map to a module here: `wifi_sensing_signal::X` is
//! `wifi_sensing::signal::X`, `wifi_sensing_introspect::X` is `wifi_sensing::introspect::X`,
//! `wifi_sensing_pose::X` is `wifi_sensing::pose::X`, and everything of `wifi_sensing_core` is at
//! the top level (and under `wifi_sensing::core`).
//!
//! ## Reading a capture
//!
//! ```
//! use wifi_sensing::{open, JsonLinesSink, Pipeline};
//!
//! let mut capture = open("fixtures/esp32/example_csi.csv")?; // format detected from the bytes
//! println!("container format: {}", capture.format());
//! let mut pipeline = Pipeline::builder().build()?;
//! let mut sink = JsonLinesSink::new(std::io::sink()); // or std::io::stdout().lock()
//! let summary = pipeline.run(capture.records(), &mut sink)?;
//! assert!(summary.frames_in > 0);
//! # Ok::<(), wifi_sensing::Error>(())
//! ```
//!
//! No capture at hand? `wifi_sensing::sim` (or `wifi-sensing simulate`) makes one with ground
//! truth, in any device profile.
//!
//! ## Stages, an analyser and typed results
//!
//! Analysers' results travel through the pipeline as their own Rust types; a JSON sink turns them
//! into text, and Rust code takes them back with [`Analysis::downcast_ref`]:
//!
//! ```
//! # #[cfg(feature = "signal")] {
//! use wifi_sensing::signal::events::Event;
//! use wifi_sensing::signal::stages::{build_stages, Notices};
//! use wifi_sensing::signal::vitals::VitalSigns;
//! use wifi_sensing::signal::{SensingAnalyser, SensingConfig};
//! use wifi_sensing::{open, Output, Pipeline};
//!
//! // stages from a spec string (the CLI's `--stages`); `notices` collects what a stage could
//! // not do (a filter corner above half the measured rate, a layout it cannot use, ...)
//! let notices = Notices::default();
//! let mut builder = Pipeline::builder();
//! for stage in build_stages("sanitize,hampel:window=7", &notices)? {
//!     builder = builder.boxed_stage(stage);
//! }
//! let sensing = SensingAnalyser::new(SensingConfig::default(), None)?;
//! let mut pipeline = builder.analyser(sensing).build()?;
//! let mut capture = open("fixtures/esp32/example_csi.csv")?;
//! for out in pipeline.process(capture.records()) {
//!     if let Output::Analysis(a) = out? {
//!         if let Some(e) = a.downcast_ref::<Event>() {
//!             println!("{:?} at {} ns, confidence {:.2}", e.event, e.timestamp_ns, e.confidence);
//!         } else if let Some(v) = a.downcast_ref::<VitalSigns>() {
//!             println!("{v:?}");
//!         }
//!     }
//! }
//! for n in notices.take() {
//!     eprintln!("{n}");
//! }
//! # }
//! # Ok::<(), wifi_sensing::Error>(())
//! ```
//!
//! The record kinds ([`Analysis::kind`], the JSON `type`) and the Rust types they carry:
//!
//! | kind | Rust type | schema |
//! |---|---|---|
//! | `event` | `signal::events::Event` | `docs/schema/event-v1.json` |
//! | `vital_signs` | `signal::vitals::VitalSigns` | `docs/schema/vital_signs-v1.json` |
//! | `spectrogram` | `signal::spectral::SpectrogramColumn` | `docs/schema/spectrogram-v1.json` |
//! | `doppler` | `signal::spectral::DopplerProfile` | `docs/schema/doppler-v1.json` |
//! | `introspection` | `introspect::snapshot::IntrospectionSnapshot` | `docs/schema/introspection-v3.json` |
//! | `pose` | `pose::Pose` | `docs/schema/pose-v1.json` |
//!
//! A pipeline's stages and analysers keep their state from one run to the next (one long
//! stream); [`Pipeline::reset`] starts them afresh for an independent source, and
//! [`Pipeline::find_stage`] / [`Pipeline::find_analyser`] hand one back with its own type (for
//! example `pipeline.find_stage::<signal::stages::HampelStage>()` for the samples it replaced). A custom analyser's
//! value only needs `serde::Serialize + Debug + Send + Sync` ([`AnalysisValue`]); `serde` is
//! re-exported as [`serde`].
#![forbid(unsafe_code)]
// every example in these docs and the README compiles without a warning
#![doc(test(attr(deny(warnings))))]

pub use wifi_sensing_core as core;
pub use wifi_sensing_core::*;

/// `serde`, for the `Serialize` derive a custom analyser's value needs.
pub use serde;

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
