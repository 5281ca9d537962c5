//! # wifi-sensing-core
//!
//! The foundation of the wifi-sensing family: the [`CsiFrame`] every reader produces, the
//! capture-format readers behind one [`Registry`] (probe by bytes, extension as a hint), the native
//! [`recording`] format, live [`udp`] input, and the pull-based [`Pipeline`] with its [`Sink`]s.
//!
//! ```no_run
//! use wifi_sensing_core::{open, Pipeline, JsonLinesSink};
//! let mut capture = open("capture.pcap")?.skip_malformed(true);
//! let mut pipeline = Pipeline::builder().build()?;
//! let stdout = std::io::stdout();
//! let mut sink = JsonLinesSink::new(std::io::BufWriter::new(stdout.lock()));
//! let summary = pipeline.run(capture.records(), &mut sink)?;
//! eprintln!("{} frames", summary.frames_in);
//! # Ok::<(), wifi_sensing_core::Error>(())
//! ```
//!
//! Library rules: no printing, no async runtime, no `unsafe`; errors are [`Error`] values that
//! carry the format, byte offset and reason.
#![forbid(unsafe_code)]

pub mod error;
pub mod formats;
pub mod frame;
pub mod jsonl;
pub mod nodes;
pub mod pipeline;
pub mod reader;
pub mod record;
pub mod recording;
pub mod sim;
pub mod sink;
pub mod udp;
pub mod util;

pub use error::{Error, Result};
pub use frame::{CaptureFormat, Clock, CsiArray, CsiFrame, Device, FormatMeta};
pub use nodes::{NodeStats, NodeTracker};
pub use pipeline::{
    Analyser, Analysis, OnMalformed, Output, Pipeline, PipelineBuilder, Stage, Summary,
};
pub use reader::{
    open, Capture, CaptureReader, FormatDescriptor, Input, Limits, ReadStats, ReaderOptions,
    Registry,
};
pub use record::{AuxBody, AuxRecord, Record};
pub use sink::{CollectSink, CountSink, FnSink, JsonLinesSink, RecordingSink, Sink, Tee};

pub use ndarray;
pub use num_complex;
