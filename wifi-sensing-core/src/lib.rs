#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
// every example in these docs and the README compiles without a warning
#![doc(test(attr(deny(warnings))))]

pub mod error;
pub mod formats;
pub mod frame;
pub mod jsonl;
pub mod nodes;
pub mod per_node;
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
pub use per_node::PerNode;
pub use pipeline::{
    Analyser, Analysis, AnalysisValue, OnMalformed, Output, Pipeline, PipelineBuilder, Recycle,
    Stage, Summary,
};
pub use reader::{
    open, Capture, CaptureReader, FormatDescriptor, Input, Limits, ReadStats, ReaderOptions,
    Registry,
};
pub use record::{AuxBody, AuxRecord, Record};
pub use sink::{CollectSink, CountSink, FnSink, JsonLinesSink, RecordingSink, Sink, Tee};

pub use ndarray;
pub use num_complex;
/// Re-exported so that code handling JSON records and analysis values needs no extra dependency.
pub use serde_json;
