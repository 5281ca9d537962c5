//! [`Sink`]s receive the pipeline's outputs: JSON Lines, recording, collect, count, closure, tee.
//!
//! Every callback returns `Result`; [`Sink::item`] returns `Ok(false)` to stop the run early.
//! Only `item` is required.

use std::io::Write;

use crate::error::{Error, Result};
use crate::jsonl;
use crate::pipeline::{Output, Summary};
use crate::recording::RecordingWriter;

/// Receives items of type `T` (by default the pipeline's [`Output`]).
pub trait Sink<T = Output> {
    /// Called once before the first item.
    fn begin(&mut self) -> Result<()> {
        Ok(())
    }
    /// Called for every item; return `Ok(false)` to stop early.
    fn item(&mut self, item: &T) -> Result<bool>;
    /// Called once at the end with the run's summary.
    fn finish(&mut self, _summary: &Summary) -> Result<()> {
        Ok(())
    }
}

impl<T, S: Sink<T> + ?Sized> Sink<T> for &mut S {
    fn begin(&mut self) -> Result<()> {
        (**self).begin()
    }
    fn item(&mut self, item: &T) -> Result<bool> {
        (**self).item(item)
    }
    fn finish(&mut self, summary: &Summary) -> Result<()> {
        (**self).finish(summary)
    }
}

impl<T, S: Sink<T> + ?Sized> Sink<T> for Box<S> {
    fn begin(&mut self) -> Result<()> {
        (**self).begin()
    }
    fn item(&mut self, item: &T) -> Result<bool> {
        (**self).item(item)
    }
    fn finish(&mut self, summary: &Summary) -> Result<()> {
        (**self).finish(summary)
    }
}

/// Writes one JSON object per line in the documented schema (see [`jsonl`]).
///
/// ```
/// use wifi_sensing_core::{JsonLinesSink, Sink, Output, CsiFrame, CaptureFormat, Device};
/// let mut out = Vec::new();
/// let mut sink = JsonLinesSink::new(&mut out);
/// let f = CsiFrame::new(CaptureFormat::Simulated, Device::Simulator, ndarray::Array3::zeros((1, 1, 2)));
/// sink.item(&Output::Frame(f))?;
/// drop(sink);
/// let v: serde_json::Value = serde_json::from_slice(&out)?;
/// assert_eq!(v["type"], "frame");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct JsonLinesSink<W: Write> {
    out: W,
    buf: Vec<u8>,
    flush_each: bool,
}

impl<W: Write> JsonLinesSink<W> {
    /// A sink writing to `out` (wrap files and stdout in a `BufWriter`).
    pub fn new(out: W) -> Self {
        JsonLinesSink {
            out,
            buf: Vec::with_capacity(1 << 14),
            flush_each: false,
        }
    }

    /// Flush after every line (for live streams piped into other tools).
    pub fn flush_each_line(mut self, yes: bool) -> Self {
        self.flush_each = yes;
        self
    }

    /// Returns the writer.
    pub fn into_inner(self) -> W {
        self.out
    }
}

impl<W: Write> Sink<Output> for JsonLinesSink<W> {
    fn item(&mut self, item: &Output) -> Result<bool> {
        self.buf.clear();
        jsonl::write_output(&mut self.buf, item)?;
        self.buf.push(b'\n');
        self.out
            .write_all(&self.buf)
            .map_err(|e| Error::io("cannot write JSON Lines", e))?;
        if self.flush_each {
            self.out
                .flush()
                .map_err(|e| Error::io("cannot write JSON Lines", e))?;
        }
        Ok(true)
    }
    fn finish(&mut self, _summary: &Summary) -> Result<()> {
        self.out
            .flush()
            .map_err(|e| Error::io("cannot write JSON Lines", e))
    }
}

/// Writes frames and non-CSI records to a `.csirec` recording (analysis records are not part of
/// a recording and are counted in [`RecordingSink::skipped_analyses`]).
#[derive(Debug)]
pub struct RecordingSink<W: Write> {
    writer: RecordingWriter<W>,
    skipped: u64,
}

impl<W: Write> RecordingSink<W> {
    /// Wraps a recording writer.
    pub fn new(writer: RecordingWriter<W>) -> Self {
        RecordingSink { writer, skipped: 0 }
    }
    /// Analysis records that were not written.
    pub fn skipped_analyses(&self) -> u64 {
        self.skipped
    }
    /// Records written.
    pub fn records_written(&self) -> u64 {
        self.writer.records_written()
    }
    /// Returns the writer.
    pub fn into_inner(self) -> RecordingWriter<W> {
        self.writer
    }
}

impl<W: Write> Sink<Output> for RecordingSink<W> {
    fn item(&mut self, item: &Output) -> Result<bool> {
        match item {
            Output::Frame(f) => self.writer.write_frame(f)?,
            Output::Aux(a) => self.writer.write_aux(a)?,
            Output::Analysis(_) => self.skipped += 1,
        }
        Ok(true)
    }
    fn finish(&mut self, _summary: &Summary) -> Result<()> {
        self.writer.flush()
    }
}

/// Collects clones of every item, optionally up to a limit (then asks to stop).
#[derive(Debug, Clone)]
pub struct CollectSink<T> {
    /// The items received.
    pub items: Vec<T>,
    limit: Option<usize>,
}

impl<T> Default for CollectSink<T> {
    fn default() -> Self {
        CollectSink {
            items: Vec::new(),
            limit: None,
        }
    }
}

impl<T> CollectSink<T> {
    /// An unbounded collector.
    pub fn new() -> Self {
        Self::default()
    }
    /// A collector that stops the run after `n` items.
    pub fn with_limit(n: usize) -> Self {
        CollectSink {
            items: Vec::new(),
            limit: Some(n),
        }
    }
}

impl<T: Clone> Sink<T> for CollectSink<T> {
    fn item(&mut self, item: &T) -> Result<bool> {
        if self.limit.is_some_and(|l| self.items.len() >= l) {
            return Ok(false);
        }
        self.items.push(item.clone());
        Ok(self.limit.is_none_or(|l| self.items.len() < l))
    }
}

/// Counts items (for [`Output`], also by kind).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CountSink {
    /// Every item.
    pub total: u64,
    /// Frames.
    pub frames: u64,
    /// Non-CSI records.
    pub aux: u64,
    /// Analysis records.
    pub analyses: u64,
}

impl Sink<Output> for CountSink {
    fn item(&mut self, item: &Output) -> Result<bool> {
        self.total += 1;
        match item {
            Output::Frame(_) => self.frames += 1,
            Output::Aux(_) => self.aux += 1,
            Output::Analysis(_) => self.analyses += 1,
        }
        Ok(true)
    }
}

/// Calls a closure for every item; the closure returns `Ok(false)` to stop.
pub struct FnSink<F>(pub F);

impl<F> std::fmt::Debug for FnSink<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FnSink")
    }
}

impl<T, F: FnMut(&T) -> Result<bool>> Sink<T> for FnSink<F> {
    fn item(&mut self, item: &T) -> Result<bool> {
        (self.0)(item)
    }
}

/// Sends every item to two sinks; stops when either asks to stop.
#[derive(Debug)]
pub struct Tee<A, B>(pub A, pub B);

impl<T, A: Sink<T>, B: Sink<T>> Sink<T> for Tee<A, B> {
    fn begin(&mut self) -> Result<()> {
        self.0.begin()?;
        self.1.begin()
    }
    fn item(&mut self, item: &T) -> Result<bool> {
        let a = self.0.item(item)?;
        let b = self.1.item(item)?;
        Ok(a && b)
    }
    fn finish(&mut self, summary: &Summary) -> Result<()> {
        let a = self.0.finish(summary);
        let b = self.1.finish(summary);
        a.and(b)
    }
}
