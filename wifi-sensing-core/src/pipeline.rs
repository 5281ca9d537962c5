//! The pull-based [`Pipeline`]: source -> stages -> analysers -> outputs.
//!
//! ```
//! use wifi_sensing_core::{Pipeline, OnMalformed, Output, CsiFrame, CaptureFormat, Device};
//! let frames = (0..3).map(|i| {
//!     let mut f = CsiFrame::new(CaptureFormat::Simulated, Device::Simulator, ndarray::Array3::zeros((1, 1, 8)));
//!     f.sequence = Some(i);
//!     Ok::<_, wifi_sensing_core::Error>(f)
//! });
//! let mut p = Pipeline::builder().on_malformed(OnMalformed::Skip).build()?;
//! let outs: Vec<Output> = p.process(frames).collect::<Result<_, _>>()?;
//! assert_eq!(outs.len(), 3);
//! # Ok::<(), wifi_sensing_core::Error>(())
//! ```

use std::any::Any;
use std::borrow::Cow;
use std::collections::VecDeque;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::frame::{Clock, CsiFrame};
use crate::reader::{Issue, ReadStats};
use crate::record::{AuxRecord, Record};
use crate::sink::Sink;

/// A frame source that takes back the frames its consumer is done with, to refill their buffers
/// ([`Pipeline::run_recycling`]). [`Capture`](crate::Capture) is one.
pub trait Recycle {
    /// Hands `frame` back; the default drops it.
    fn recycle(&mut self, frame: CsiFrame) {
        drop(frame);
    }
}

impl<R: Recycle + ?Sized> Recycle for &mut R {
    fn recycle(&mut self, frame: CsiFrame) {
        (**self).recycle(frame)
    }
}

/// A frame-to-frame transformation (filtering, sanitising, resampling...).
pub trait Stage: Send {
    /// Name used in errors and run metadata.
    fn name(&self) -> &str;
    /// Transforms one frame; `Ok(None)` drops it (or holds it until a later call).
    fn process(&mut self, frame: CsiFrame) -> Result<Option<CsiFrame>>;
    /// Transforms one frame into any number of frames appended to `out` (a resampler that
    /// raises the rate emits several per input). The pipeline calls this; the default calls
    /// [`Stage::process`], so stages that emit at most one frame implement only that.
    ///
    /// ```
    /// use wifi_sensing_core::{CaptureFormat, CsiFrame, Device, Output, Pipeline, Result, Stage};
    /// struct Twice;
    /// impl Stage for Twice {
    ///     fn name(&self) -> &str { "twice" }
    ///     fn process(&mut self, f: CsiFrame) -> Result<Option<CsiFrame>> { Ok(Some(f)) }
    ///     fn process_into(&mut self, f: CsiFrame, out: &mut Vec<CsiFrame>) -> Result<()> {
    ///         out.push(f.clone());
    ///         out.push(f);
    ///         Ok(())
    ///     }
    /// }
    /// let frame = CsiFrame::new(CaptureFormat::Simulated, Device::Simulator, ndarray::Array3::zeros((1, 1, 4)));
    /// let mut p = Pipeline::builder().stage(Twice).stage(Twice).build()?;
    /// let n = p.process([Ok::<_, wifi_sensing_core::Error>(frame)]).filter(|o| matches!(o, Ok(Output::Frame(_)))).count();
    /// assert_eq!(n, 4);
    /// # Ok::<(), wifi_sensing_core::Error>(())
    /// ```
    fn process_into(&mut self, frame: CsiFrame, out: &mut Vec<CsiFrame>) -> Result<()> {
        if let Some(f) = self.process(frame)? {
            out.push(f);
        }
        Ok(())
    }
    /// Emits frames still held at the end of the stream.
    fn flush(&mut self) -> Result<Vec<CsiFrame>> {
        Ok(Vec::new())
    }
    /// Forgets all state.
    fn reset(&mut self) {}
    /// The stage as `Any`, so that [`Pipeline::find_stage`] can hand it back with its own type
    /// (its counters, its state) after the pipeline took it. `None` (the default) keeps it
    /// opaque; a stage opts in with `fn as_any(&self) -> Option<&dyn Any> { Some(self) }`.
    fn as_any(&self) -> Option<&dyn Any> {
        None
    }
}

impl<S: Stage + ?Sized> Stage for Box<S> {
    fn name(&self) -> &str {
        (**self).name()
    }
    fn process(&mut self, frame: CsiFrame) -> Result<Option<CsiFrame>> {
        (**self).process(frame)
    }
    fn process_into(&mut self, frame: CsiFrame, out: &mut Vec<CsiFrame>) -> Result<()> {
        (**self).process_into(frame, out)
    }
    fn flush(&mut self) -> Result<Vec<CsiFrame>> {
        (**self).flush()
    }
    fn reset(&mut self) {
        (**self).reset()
    }
    fn as_any(&self) -> Option<&dyn Any> {
        (**self).as_any()
    }
}

/// An optional stage: `None` passes every frame through unchanged, so a runtime flag can switch a
/// stage on or off without changing the pipeline's types.
///
/// ```
/// use wifi_sensing_core::{CaptureFormat, CsiFrame, Device, Stage};
/// struct Drop;
/// impl Stage for Drop {
///     fn name(&self) -> &str { "drop" }
///     fn process(&mut self, _: CsiFrame) -> wifi_sensing_core::Result<Option<CsiFrame>> { Ok(None) }
/// }
/// let frame = || CsiFrame::new(CaptureFormat::Simulated, Device::Simulator, ndarray::Array3::zeros((1, 1, 4)));
/// let mut off: Option<Drop> = None;
/// assert!(off.process(frame())?.is_some());
/// let mut on = Some(Drop);
/// assert!(on.process(frame())?.is_none());
/// # Ok::<(), wifi_sensing_core::Error>(())
/// ```
impl<S: Stage> Stage for Option<S> {
    fn name(&self) -> &str {
        self.as_ref().map_or("disabled", |s| s.name())
    }
    fn process(&mut self, frame: CsiFrame) -> Result<Option<CsiFrame>> {
        match self {
            Some(s) => s.process(frame),
            None => Ok(Some(frame)),
        }
    }
    fn process_into(&mut self, frame: CsiFrame, out: &mut Vec<CsiFrame>) -> Result<()> {
        match self {
            Some(s) => s.process_into(frame, out),
            None => {
                out.push(frame);
                Ok(())
            }
        }
    }
    fn flush(&mut self) -> Result<Vec<CsiFrame>> {
        self.as_mut().map_or(Ok(Vec::new()), |s| s.flush())
    }
    fn reset(&mut self) {
        if let Some(s) = self {
            s.reset()
        }
    }
    fn as_any(&self) -> Option<&dyn Any> {
        self.as_ref().and_then(|x| x.as_any())
    }
}

/// The typed value an [`Analyser`] produces (an event, a vital-sign estimate, a snapshot...).
///
/// Every `serde::Serialize + Debug + Send + Sync + 'static` type is one (blanket impl), so an
/// analyser hands over its own result type. The value travels through the pipeline as itself:
/// a Rust user gets it back with [`Analysis::downcast_ref`], and only a JSON sink turns it into
/// text (through `erased_serde`, without building an intermediate JSON tree).
pub trait AnalysisValue: erased_serde::Serialize + Any + std::fmt::Debug + Send + Sync {
    /// The value as `Any`, for downcasting.
    fn as_any(&self) -> &dyn Any;
}

impl<T: Serialize + std::fmt::Debug + Send + Sync + 'static> AnalysisValue for T {
    fn as_any(&self) -> &dyn Any {
        self
    }
}

erased_serde::serialize_trait_object!(AnalysisValue);

/// A result produced by an [`Analyser`] (an event, a vital-sign estimate, a pose...).
///
/// The common envelope (who made it, what kind, when, for which node) plus the analyser's typed
/// value. In JSON Lines it is one line
/// `{"schema":1,"type":KIND,"analyser":..,"timestamp_ns":..,"node_id":..,"data":VALUE}`.
///
/// ```
/// use wifi_sensing_core::Analysis;
/// #[derive(Debug, serde::Serialize)]
/// struct Breath { per_minute: f64 }
/// let a = Analysis::new("vitals", "vital_signs", 1_000, Some(2), Breath { per_minute: 14.5 });
/// // typed access, no JSON involved
/// assert_eq!(a.downcast_ref::<Breath>().unwrap().per_minute, 14.5);
/// // the serialised form, when wanted
/// assert_eq!(a.data_json()["per_minute"], 14.5);
/// ```
#[derive(Clone)]
pub struct Analysis {
    /// Name of the analyser that produced it.
    pub analyser: Cow<'static, str>,
    /// Kind of result (JSON `type`), e.g. `"vital_signs"`.
    pub kind: Cow<'static, str>,
    /// Timestamp in nanoseconds, same clock as the frames.
    pub timestamp_ns: i64,
    /// Node the result concerns, if one (`None`: fused over nodes, or not node-specific).
    pub node_id: Option<u32>,
    /// The clock of `timestamp_ns`: that of the frame the analyser was looking at when it
    /// produced the record (set by the [`Pipeline`]; [`Clock::None`] from [`Analysis::new`]
    /// until then, and in records read back from JSON Lines, which do not carry it).
    pub clock: Clock,
    /// The typed result. Shared, so cloning an `Analysis` (a tee, a server fanning out to
    /// clients) does not copy it.
    pub value: Arc<dyn AnalysisValue>,
}

impl Analysis {
    /// An analysis record carrying `value`.
    pub fn new(
        analyser: impl Into<Cow<'static, str>>,
        kind: impl Into<Cow<'static, str>>,
        timestamp_ns: i64,
        node_id: Option<u32>,
        value: impl AnalysisValue,
    ) -> Self {
        Analysis {
            analyser: analyser.into(),
            kind: kind.into(),
            timestamp_ns,
            node_id,
            clock: Clock::None,
            value: Arc::new(value),
        }
    }

    /// The record with its timestamp's clock set.
    ///
    /// ```
    /// use wifi_sensing_core::{Analysis, Clock};
    /// let a = Analysis::new("events", "event", 5, None, 1.0).with_clock(Clock::Host);
    /// assert_eq!(a.clock, Clock::Host);
    /// ```
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The value as `T`, if it is one.
    pub fn downcast_ref<T: 'static>(&self) -> Option<&T> {
        // Deref first: with serde's `rc` feature, `Arc<dyn AnalysisValue>` is itself an
        // `AnalysisValue` (blanket impl), and `self.value.as_any()` would return the `Arc`.
        (*self.value).as_any().downcast_ref::<T>()
    }

    /// The value serialised as JSON (the record's `data`); `null` if it does not serialise.
    pub fn data_json(&self) -> serde_json::Value {
        serde_json::to_value(&*self.value).unwrap_or(serde_json::Value::Null)
    }
}

impl std::fmt::Debug for Analysis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Analysis")
            .field("analyser", &self.analyser)
            .field("kind", &self.kind)
            .field("timestamp_ns", &self.timestamp_ns)
            .field("node_id", &self.node_id)
            .field("clock", &self.clock)
            .field("value", &self.value)
            .finish()
    }
}

/// Two analyses are equal when their envelopes are equal and their values serialise to the same
/// JSON (values of different types that serialise alike compare equal). The clock is not
/// compared: the JSON Lines form does not carry it, so a record read back equals the original.
impl PartialEq for Analysis {
    fn eq(&self, other: &Self) -> bool {
        self.analyser == other.analyser
            && self.kind == other.kind
            && self.timestamp_ns == other.timestamp_ns
            && self.node_id == other.node_id
            && (Arc::ptr_eq(&self.value, &other.value) || self.data_json() == other.data_json())
    }
}

/// Serialises as `{"analyser", "kind", "timestamp_ns", "node_id", "data"}`.
impl Serialize for Analysis {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Analysis", 5)?;
        st.serialize_field("analyser", &self.analyser)?;
        st.serialize_field("kind", &self.kind)?;
        st.serialize_field("timestamp_ns", &self.timestamp_ns)?;
        st.serialize_field("node_id", &self.node_id)?;
        st.serialize_field("data", &*self.value)?;
        st.end()
    }
}

/// Reads back the form [`Serialize`] writes; the value becomes a `serde_json::Value` (the
/// original Rust type is not known to a reader).
impl<'de> Deserialize<'de> for Analysis {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Plain {
            analyser: String,
            kind: String,
            timestamp_ns: i64,
            node_id: Option<u32>,
            data: serde_json::Value,
        }
        let p = Plain::deserialize(d)?;
        Ok(Analysis::new(
            p.analyser,
            p.kind,
            p.timestamp_ns,
            p.node_id,
            p.data,
        ))
    }
}

/// Turns frames into [`Analysis`] records.
pub trait Analyser: Send {
    /// Name used in errors and output.
    fn name(&self) -> &str;
    /// Looks at one frame and appends any results to `out`.
    fn analyse(&mut self, frame: &CsiFrame, out: &mut Vec<Analysis>) -> Result<()>;
    /// Appends results still pending at the end of the stream.
    fn finish(&mut self, _out: &mut Vec<Analysis>) -> Result<()> {
        Ok(())
    }
    /// Forgets all state.
    fn reset(&mut self) {}
    /// The analyser as `Any`, so that [`Pipeline::find_analyser`] can hand it back with its own
    /// type (its counters, its state) after the pipeline took it. `None` (the default) keeps it
    /// opaque; an analyser opts in with `fn as_any(&self) -> Option<&dyn Any> { Some(self) }`.
    fn as_any(&self) -> Option<&dyn Any> {
        None
    }
}

impl<A: Analyser + ?Sized> Analyser for Box<A> {
    fn name(&self) -> &str {
        (**self).name()
    }
    fn analyse(&mut self, frame: &CsiFrame, out: &mut Vec<Analysis>) -> Result<()> {
        (**self).analyse(frame, out)
    }
    fn finish(&mut self, out: &mut Vec<Analysis>) -> Result<()> {
        (**self).finish(out)
    }
    fn reset(&mut self) {
        (**self).reset()
    }
    fn as_any(&self) -> Option<&dyn Any> {
        (**self).as_any()
    }
}

/// An optional analyser: `None` produces nothing (see the `Option` impl of [`Stage`]).
impl<A: Analyser> Analyser for Option<A> {
    fn name(&self) -> &str {
        self.as_ref().map_or("disabled", |a| a.name())
    }
    fn analyse(&mut self, frame: &CsiFrame, out: &mut Vec<Analysis>) -> Result<()> {
        self.as_mut().map_or(Ok(()), |a| a.analyse(frame, out))
    }
    fn finish(&mut self, out: &mut Vec<Analysis>) -> Result<()> {
        self.as_mut().map_or(Ok(()), |a| a.finish(out))
    }
    fn reset(&mut self) {
        if let Some(a) = self {
            a.reset()
        }
    }
    fn as_any(&self) -> Option<&dyn Any> {
        self.as_ref().and_then(|x| x.as_any())
    }
}

/// What the pipeline produces.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(clippy::large_enum_variant)]
pub enum Output {
    /// A frame after every stage.
    Frame(CsiFrame),
    /// A non-CSI record from the source, passed through.
    Aux(AuxRecord),
    /// An analyser's result.
    Analysis(Analysis),
}

/// What to do with a malformed record (a recoverable error from the source).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnMalformed {
    /// Count it, keep its description in the [`Summary`], and continue.
    #[default]
    Skip,
    /// End the run with the error.
    Stop,
}

/// Counters of a pipeline run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Frames read from the source.
    pub frames_in: u64,
    /// Frames that left the last stage.
    pub frames_out: u64,
    /// Non-CSI records passed through.
    pub aux_records: u64,
    /// Analysis records produced.
    pub analyses: u64,
    /// Malformed source records skipped.
    pub malformed: u64,
    /// The first malformed-record errors.
    pub issues: Vec<Issue>,
    /// Set when the source ended inside a record.
    pub truncated: Option<Issue>,
    /// Set when the run ended on an error.
    pub error: Option<String>,
    /// `true` when a sink asked to stop before the source ended.
    pub stopped_early: bool,
}

/// Builder of a [`Pipeline`].
#[derive(Default)]
pub struct PipelineBuilder {
    stages: Vec<Box<dyn Stage>>,
    analysers: Vec<Box<dyn Analyser>>,
    on_malformed: OnMalformed,
    emit_frames: Option<bool>,
    emit_aux: Option<bool>,
}

fn stage_names(v: &[Box<dyn Stage>]) -> Vec<&str> {
    v.iter().map(|s| s.name()).collect()
}

fn analyser_names(v: &[Box<dyn Analyser>]) -> Vec<&str> {
    v.iter().map(|s| s.name()).collect()
}

impl std::fmt::Debug for PipelineBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PipelineBuilder")
            .field("stages", &stage_names(&self.stages))
            .field("analysers", &analyser_names(&self.analysers))
            .field("on_malformed", &self.on_malformed)
            .finish()
    }
}

impl PipelineBuilder {
    /// Appends a stage.
    pub fn stage(mut self, s: impl Stage + 'static) -> Self {
        self.stages.push(Box::new(s));
        self
    }

    /// Appends a boxed stage (for stages chosen at run time).
    pub fn boxed_stage(mut self, s: Box<dyn Stage>) -> Self {
        self.stages.push(s);
        self
    }

    /// Appends an analyser.
    pub fn analyser(mut self, a: impl Analyser + 'static) -> Self {
        self.analysers.push(Box::new(a));
        self
    }

    /// Appends a boxed analyser.
    pub fn boxed_analyser(mut self, a: Box<dyn Analyser>) -> Self {
        self.analysers.push(a);
        self
    }

    /// Malformed-input policy (default [`OnMalformed::Skip`]).
    pub fn on_malformed(mut self, p: OnMalformed) -> Self {
        self.on_malformed = p;
        self
    }

    /// Whether frames are emitted as outputs (default: yes).
    pub fn emit_frames(mut self, yes: bool) -> Self {
        self.emit_frames = Some(yes);
        self
    }

    /// Whether non-CSI source records are emitted (default: yes).
    pub fn emit_aux(mut self, yes: bool) -> Self {
        self.emit_aux = Some(yes);
        self
    }

    /// Builds the pipeline.
    pub fn build(self) -> Result<Pipeline> {
        Ok(Pipeline {
            stages: self.stages,
            analysers: self.analysers,
            on_malformed: self.on_malformed,
            emit_frames: self.emit_frames.unwrap_or(true),
            emit_aux: self.emit_aux.unwrap_or(true),
            summary: Summary::default(),
            last_clock: Clock::None,
            buf_cur: Vec::with_capacity(1),
            buf_next: Vec::with_capacity(1),
        })
    }
}

/// A configured chain of stages and analysers. See the [module docs](self).
pub struct Pipeline {
    stages: Vec<Box<dyn Stage>>,
    analysers: Vec<Box<dyn Analyser>>,
    on_malformed: OnMalformed,
    emit_frames: bool,
    emit_aux: bool,
    summary: Summary,
    /// The clock of the last frame the analysers saw: the clock of the records their `finish`
    /// appends.
    last_clock: Clock,
    buf_cur: Vec<CsiFrame>,
    buf_next: Vec<CsiFrame>,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("stages", &stage_names(&self.stages))
            .field("analysers", &analyser_names(&self.analysers))
            .field("summary", &self.summary)
            .finish()
    }
}

impl Pipeline {
    /// A builder.
    pub fn builder() -> PipelineBuilder {
        PipelineBuilder::default()
    }

    /// Summary of the last (or current) run.
    pub fn summary(&self) -> &Summary {
        &self.summary
    }

    /// The names of the stages, in order.
    ///
    /// ```
    /// let p = wifi_sensing_core::Pipeline::builder().build()?;
    /// assert!(p.stage_names().is_empty() && p.analyser_names().is_empty());
    /// # Ok::<(), wifi_sensing_core::Error>(())
    /// ```
    pub fn stage_names(&self) -> Vec<&str> {
        stage_names(&self.stages)
    }

    /// The first stage of type `T`, among those that show themselves ([`Stage::as_any`]): a
    /// stage's counters and state stay readable after the builder took it.
    ///
    /// ```
    /// use wifi_sensing_core::{CsiFrame, Pipeline, Result, Stage};
    /// use std::any::Any;
    /// #[derive(Default)]
    /// struct Count(u64);
    /// impl Stage for Count {
    ///     fn name(&self) -> &str { "count" }
    ///     fn process(&mut self, f: CsiFrame) -> Result<Option<CsiFrame>> { self.0 += 1; Ok(Some(f)) }
    ///     fn as_any(&self) -> Option<&dyn Any> { Some(self) }
    /// }
    /// let p = Pipeline::builder().stage(Count::default()).build()?;
    /// assert_eq!(p.find_stage::<Count>().map(|c| c.0), Some(0));
    /// # Ok::<(), wifi_sensing_core::Error>(())
    /// ```
    pub fn find_stage<T: 'static>(&self) -> Option<&T> {
        self.stages
            .iter()
            .find_map(|s| s.as_any().and_then(|a| a.downcast_ref::<T>()))
    }

    /// The first analyser of type `T`, among those that show themselves
    /// ([`Analyser::as_any`]), as [`Pipeline::find_stage`] does for stages.
    pub fn find_analyser<T: 'static>(&self) -> Option<&T> {
        self.analysers
            .iter()
            .find_map(|a| a.as_any().and_then(|x| x.downcast_ref::<T>()))
    }

    /// The names of the analysers, in order.
    pub fn analyser_names(&self) -> Vec<&str> {
        analyser_names(&self.analysers)
    }

    /// Resets every stage and analyser and the summary.
    pub fn reset(&mut self) {
        for s in &mut self.stages {
            s.reset();
        }
        for a in &mut self.analysers {
            a.reset();
        }
        self.summary = Summary::default();
        self.last_clock = Clock::None;
    }

    /// Iterates the pipeline over a source of frames or records (pull-based).
    ///
    /// The source can be a [`Capture`](crate::Capture) (frames), `capture.records()` (frames and
    /// non-CSI records), or any iterator of `Result<CsiFrame>` / `Result<Record>`.
    ///
    /// Only the [`Summary`] starts afresh: the stages and analysers keep their state (filter
    /// histories, calibrations, open events) from one source to the next, as for one long
    /// stream. Call [`Pipeline::reset`] between independent sources.
    pub fn process<I, T>(&mut self, source: I) -> Process<'_, I::IntoIter>
    where
        I: IntoIterator<Item = Result<T>>,
        T: Into<Record>,
    {
        self.summary = Summary::default();
        self.last_clock = Clock::None;
        Process {
            pipeline: self,
            source: source.into_iter(),
            pending: VecDeque::new(),
            scratch: Vec::new(),
            state: State::Running,
            deferred: None,
        }
    }

    /// Pushes every output into `sink` (a thin loop over [`Pipeline::process`]).
    ///
    /// Stages and analysers keep their state across runs, as with [`Pipeline::process`]; call
    /// [`Pipeline::reset`] between independent sources.
    ///
    /// Returns the run's [`Summary`]. A source error ends the run with `Err` after the sink's
    /// `finish` was called with the summary so far.
    pub fn run<I, T, S>(&mut self, source: I, sink: &mut S) -> Result<Summary>
    where
        I: IntoIterator<Item = Result<T>>,
        T: Into<Record>,
        S: Sink<Output> + ?Sized,
    {
        self.run_with(source.into_iter(), sink, |_, f| drop(f))
    }

    /// [`Pipeline::run`] that hands every frame back to the source once the sink has seen it
    /// ([`Recycle`]), so that a reader refills the frame's buffers instead of allocating new
    /// ones (see [`Capture::recycle`](crate::Capture::recycle)). The outputs are the same.
    ///
    /// ```
    /// use wifi_sensing_core::{CountSink, Pipeline};
    /// let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/picoscenes/picoscenes_iwl5300_example.csi");
    /// let mut cap = wifi_sensing_core::open(path)?;
    /// let mut sink = CountSink::default();
    /// let summary = Pipeline::builder().build()?.run_recycling(&mut cap, &mut sink)?;
    /// assert_eq!(summary.frames_out, cap.stats().frames);
    /// # Ok::<(), wifi_sensing_core::Error>(())
    /// ```
    pub fn run_recycling<I, T, S>(&mut self, source: I, sink: &mut S) -> Result<Summary>
    where
        I: Iterator<Item = Result<T>> + Recycle,
        T: Into<Record>,
        S: Sink<Output> + ?Sized,
    {
        self.run_with(source, sink, |src, f| src.recycle(f))
    }

    fn run_with<I, T, S>(
        &mut self,
        source: I,
        sink: &mut S,
        mut recycle: impl FnMut(&mut I, CsiFrame),
    ) -> Result<Summary>
    where
        I: Iterator<Item = Result<T>>,
        T: Into<Record>,
        S: Sink<Output> + ?Sized,
    {
        sink.begin()?;
        let mut result = Ok(());
        let mut stopped = false;
        if self.stages.is_empty() && self.analysers.is_empty() {
            // nothing between the source and the sink: each record goes straight to it, without
            // the queue of `process` (fewer moves of each frame); the outputs, the
            // summary and the handling of errors are those of `process`
            self.summary = Summary::default();
            self.last_clock = Clock::None;
            (result, stopped) = self.run_direct(source, sink, recycle);
        } else {
            let mut it = self.process(source);
            while let Some(out) = it.next() {
                match out {
                    Ok(o) => match sink.item(&o) {
                        Ok(true) => {
                            if let Output::Frame(f) = o {
                                recycle(&mut it.source, f);
                            }
                        }
                        Ok(false) => {
                            stopped = true;
                            break;
                        }
                        Err(e) => {
                            result = Err(e);
                            break;
                        }
                    },
                    Err(e) => {
                        result = Err(e);
                        break;
                    }
                }
            }
        }
        self.summary.stopped_early = stopped;
        if let Err(e) = &result {
            if self.summary.error.is_none() {
                self.summary.error = Some(e.to_string());
            }
        }
        let summary = self.summary.clone();
        let fin = sink.finish(&summary);
        result?;
        fin?;
        Ok(summary)
    }

    /// [`Pipeline::run_recycling`] on two threads: the calling thread reads `source`, a second
    /// thread (a scoped `std::thread`, ended before this returns) runs the stages, analysers and
    /// `sink`. Records go over in batches of [`Handoff::batch`] through a channel that holds at
    /// most [`Handoff::in_flight`] batches (bounded memory), and the frames the sink is done with
    /// come back in the same batches and are handed to the source one before each read, as
    /// `run_recycling` does (no allocation per frame once the batches circulate).
    ///
    /// The sink sees the same items in the same order as with `run_recycling`, and the summary
    /// and the result are the same, for every malformed-record policy and source error: the
    /// second thread runs the pipeline's own loop over the records as the source gave them.
    /// What differs is how far the source is read: it runs ahead of the sink by up to
    /// `in_flight + 2` batches, so when the sink stops the run (`Ok(false)` or an error) the
    /// source may have been read beyond the record at which it stopped (its own statistics then
    /// count those records; the summary does not). The reading stops at the end of the source,
    /// at the first error that ends a run (anything but a malformed record skipped under
    /// [`OnMalformed::Skip`]) and as soon as the second thread has finished. A panic on the
    /// second thread is resumed on the caller's.
    ///
    /// Meant for sources and sinks that both do real work (a file reader and an encoder): on a
    /// machine with two cores the run takes about as long as the slower of the two. Live
    /// sources gain nothing and delay records by up to a batch.
    ///
    /// ```
    /// use wifi_sensing_core::{CountSink, Pipeline, pipeline::Handoff};
    /// let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/intel5300/example.dat");
    /// let (mut a, mut b) = (wifi_sensing_core::open(path)?, wifi_sensing_core::open(path)?);
    /// let (mut one, mut two) = (CountSink::default(), CountSink::default());
    /// let s1 = Pipeline::builder().build()?.run_recycling(&mut a, &mut one)?;
    /// let s2 = Pipeline::builder().build()?.run_threaded(&mut b, &mut two, Handoff::default())?;
    /// assert_eq!((s1, one), (s2, two));
    /// # Ok::<(), wifi_sensing_core::Error>(())
    /// ```
    pub fn run_threaded<I, T, S>(
        &mut self,
        mut source: I,
        sink: &mut S,
        handoff: Handoff,
    ) -> Result<Summary>
    where
        I: Iterator<Item = Result<T>> + Recycle,
        T: Into<Record> + Send,
        S: Sink<Output> + Send + ?Sized,
    {
        let batch = handoff.batch.max(1);
        let skip = self.on_malformed == OnMalformed::Skip;
        let (to_sink, from_reader) = std::sync::mpsc::sync_channel::<Batch<T>>(handoff.in_flight);
        let (to_reader, from_sink) = std::sync::mpsc::channel::<Batch<T>>();
        std::thread::scope(|scope| {
            // the stack of a main thread: sinks (encoders, compressors) may need more than a
            // spawned thread's default 2 MiB, above all in unoptimised builds
            let worker = std::thread::Builder::new()
                .name("wifi-sensing-sink".into())
                .stack_size(SINK_STACK_BYTES)
                .spawn_scoped(scope, move || {
                    let received = Received {
                        from_reader,
                        to_reader,
                        current: Batch::default(),
                    };
                    self.run_with(received, sink, |r, f| r.current.frames.push(f))
                })
                .map_err(|e| Error::io("cannot start the sink's thread", e))?;
            // the reading side; the batches, and the frames in them, come back from the sink
            let mut spare_batches: Vec<Batch<T>> = Vec::new();
            let mut spare_frames: Vec<CsiFrame> = Vec::new();
            let mut done = false;
            while !done {
                while let Ok(mut b) = from_sink.try_recv() {
                    spare_frames.append(&mut b.frames);
                    spare_batches.push(b);
                }
                let mut b = spare_batches.pop().unwrap_or_default();
                while b.items.len() < batch {
                    if let Some(f) = spare_frames.pop() {
                        source.recycle(f);
                    }
                    let Some(item) = source.next() else {
                        done = true;
                        break;
                    };
                    // the errors after which `source_error` ends the run end the reading too
                    let ends = matches!(&item, Err(e) if !(skip && e.is_recoverable()));
                    b.items.push_back(item);
                    if ends {
                        done = true;
                        break;
                    }
                }
                if !b.items.is_empty() && to_sink.send(b).is_err() {
                    // the sink's side has finished (stopped, or failed)
                    break;
                }
            }
            drop(to_sink);
            match worker.join() {
                Ok(result) => result,
                Err(panic) => std::panic::resume_unwind(panic),
            }
        })
    }

    /// [`run_with`](Self::run_with) of a pipeline without stages and analysers: what
    /// [`process`](Self::process) would yield, given to `sink` as it is read. Returns the
    /// result and whether the sink stopped the run.
    fn run_direct<I, T, S>(
        &mut self,
        mut source: I,
        sink: &mut S,
        mut recycle: impl FnMut(&mut I, CsiFrame),
    ) -> (Result<()>, bool)
    where
        I: Iterator<Item = Result<T>>,
        T: Into<Record>,
        S: Sink<Output> + ?Sized,
    {
        while let Some(item) = source.next() {
            let out = match item {
                Ok(item) => match item.into() {
                    Record::Frame(f) => {
                        self.summary.frames_in += 1;
                        self.summary.frames_out += 1;
                        if !self.emit_frames {
                            recycle(&mut source, f);
                            continue;
                        }
                        Output::Frame(f)
                    }
                    Record::Aux(a) => {
                        self.summary.aux_records += 1;
                        if !self.emit_aux {
                            continue;
                        }
                        Output::Aux(a)
                    }
                },
                Err(e) => match self.source_error(e) {
                    SourceError::Skipped => continue,
                    SourceError::Truncated => break,
                    SourceError::Fatal(e) => return (Err(e), false),
                },
            };
            match sink.item(&out) {
                Ok(true) => {
                    if let Output::Frame(f) = out {
                        recycle(&mut source, f);
                    }
                }
                Ok(false) => return (Ok(()), true),
                Err(e) => return (Err(e), false),
            }
        }
        (Ok(()), false)
    }

    /// Notes a source error in the summary and says what it does to the run: a recoverable
    /// one skipped under [`OnMalformed::Skip`], a cut at the end of the input (every complete
    /// record was delivered: the run finishes normally), or any other, which ends the run.
    fn source_error(&mut self, e: Error) -> SourceError {
        let mut stats = ReadStats::default();
        stats.note_error(&e);
        if e.is_recoverable() && self.on_malformed == OnMalformed::Skip {
            self.summary.malformed += 1;
            if self.summary.issues.len() < ReadStats::MAX_ISSUES {
                self.summary.issues.extend(stats.issues);
            }
            SourceError::Skipped
        } else if let Some(t) = stats.truncated {
            self.summary.truncated = Some(t);
            SourceError::Truncated
        } else {
            self.summary.error = Some(e.to_string());
            SourceError::Fatal(e)
        }
    }

    fn run_frame(
        &mut self,
        frame: CsiFrame,
        pending: &mut VecDeque<Output>,
        scratch: &mut Vec<Analysis>,
    ) -> Result<()> {
        if self.stages.is_empty() {
            // nothing to pass it through: straight to the outputs (fewer moves of the frame)
            return self.emit_frame(frame, pending, scratch);
        }
        // Two buffers kept across frames: passing a frame through the stages allocates nothing.
        let mut cur = std::mem::take(&mut self.buf_cur);
        let mut next = std::mem::take(&mut self.buf_next);
        cur.clear();
        cur.push(frame);
        let mut result = Ok(());
        for stage in &mut self.stages {
            next.clear();
            for f in cur.drain(..) {
                if let Err(e) = stage.process_into(f, &mut next) {
                    result = Err(ctx(stage.name(), e));
                    break;
                }
            }
            std::mem::swap(&mut cur, &mut next);
            if result.is_err() || cur.is_empty() {
                break;
            }
        }
        if result.is_ok() {
            result = self.emit(&mut cur, pending, scratch);
        }
        cur.clear();
        next.clear();
        self.buf_cur = cur;
        self.buf_next = next;
        result
    }

    fn emit(
        &mut self,
        frames: &mut Vec<CsiFrame>,
        pending: &mut VecDeque<Output>,
        scratch: &mut Vec<Analysis>,
    ) -> Result<()> {
        for f in frames.drain(..) {
            self.emit_frame(f, pending, scratch)?;
        }
        Ok(())
    }

    /// [`emit`](Self::emit) of one frame.
    fn emit_frame(
        &mut self,
        f: CsiFrame,
        pending: &mut VecDeque<Output>,
        scratch: &mut Vec<Analysis>,
    ) -> Result<()> {
        self.summary.frames_out += 1;
        for a in &mut self.analysers {
            a.analyse(&f, scratch).map_err(|e| ctx(a.name(), e))?;
        }
        let clock = f.clock;
        self.last_clock = clock;
        if self.emit_frames {
            pending.push_back(Output::Frame(f));
        }
        if !scratch.is_empty() {
            self.summary.analyses += scratch.len() as u64;
            pending.extend(
                scratch
                    .drain(..)
                    .map(|a| Output::Analysis(a.with_clock(clock))),
            );
        }
        Ok(())
    }

    fn flush_all(
        &mut self,
        pending: &mut VecDeque<Output>,
        scratch: &mut Vec<Analysis>,
    ) -> Result<()> {
        // Flush stage by stage: frames a stage releases still pass through the later stages.
        for i in 0..self.stages.len() {
            let released = self.stages[i]
                .flush()
                .map_err(|e| ctx(self.stages[i].name(), e))?;
            let mut frames = released;
            for stage in &mut self.stages[i + 1..] {
                let mut next = Vec::new();
                for f in frames {
                    stage
                        .process_into(f, &mut next)
                        .map_err(|e| ctx(stage.name(), e))?;
                }
                frames = next;
            }
            self.emit(&mut frames, pending, scratch)?;
        }
        for a in &mut self.analysers {
            a.finish(scratch).map_err(|e| ctx(a.name(), e))?;
        }
        self.summary.analyses += scratch.len() as u64;
        let clock = self.last_clock;
        pending.extend(
            scratch
                .drain(..)
                .map(|a| Output::Analysis(a.with_clock(clock))),
        );
        Ok(())
    }
}

fn ctx(component: &str, e: Error) -> Error {
    match e {
        Error::Component { .. } => e,
        Error::Family {
            component: c,
            source,
        } if c.is_empty() => Error::Family {
            component: component.to_string(),
            source,
        },
        Error::Family { .. } => e,
        other => Error::Component {
            component: component.to_string(),
            reason: other.to_string(),
        },
    }
}

/// What a source error does to a run (see [`Pipeline::source_error`]).
enum SourceError {
    /// A malformed record, skipped.
    Skipped,
    /// The input ends with a cut record: the run finishes normally.
    Truncated,
    /// The run ends with this error.
    Fatal(Error),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Running,
    Flushed,
    Done,
}

/// Iterator returned by [`Pipeline::process`].
pub struct Process<'p, I> {
    pipeline: &'p mut Pipeline,
    source: I,
    pending: VecDeque<Output>,
    scratch: Vec<Analysis>,
    state: State,
    /// A fatal source error, returned after the frames that stages still held were flushed.
    deferred: Option<Error>,
}

impl<I> std::fmt::Debug for Process<'_, I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Process")
            .field("summary", &self.pipeline.summary)
            .finish()
    }
}

impl<I> Process<'_, I> {
    /// Summary of the run so far.
    pub fn summary(&self) -> &Summary {
        &self.pipeline.summary
    }
}

impl<I, T> Iterator for Process<'_, I>
where
    I: Iterator<Item = Result<T>>,
    T: Into<Record>,
{
    type Item = Result<Output>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(o) = self.pending.pop_front() {
                return Some(Ok(o));
            }
            match self.state {
                State::Done => return None,
                State::Flushed => {
                    self.state = State::Done;
                    return self.deferred.take().map(Err);
                }
                State::Running => {}
            }
            match self.source.next() {
                None => {
                    self.state = State::Flushed;
                    if let Err(e) = self
                        .pipeline
                        .flush_all(&mut self.pending, &mut self.scratch)
                    {
                        self.state = State::Done;
                        self.pipeline.summary.error = Some(e.to_string());
                        return Some(Err(e));
                    }
                }
                Some(Ok(item)) => match item.into() {
                    Record::Frame(f) => {
                        self.pipeline.summary.frames_in += 1;
                        if let Err(e) =
                            self.pipeline
                                .run_frame(f, &mut self.pending, &mut self.scratch)
                        {
                            self.state = State::Done;
                            self.pipeline.summary.error = Some(e.to_string());
                            return Some(Err(e));
                        }
                    }
                    Record::Aux(a) => {
                        self.pipeline.summary.aux_records += 1;
                        if self.pipeline.emit_aux {
                            self.pending.push_back(Output::Aux(a));
                        }
                    }
                },
                Some(Err(e)) => {
                    match self.pipeline.source_error(e) {
                        SourceError::Skipped => continue,
                        SourceError::Truncated => {}
                        // Any other error ends the run, but not before the frames the stages
                        // still hold have been delivered; the error follows them.
                        SourceError::Fatal(e) => self.deferred = Some(e),
                    }
                    self.state = State::Flushed;
                    if let Err(e) = self
                        .pipeline
                        .flush_all(&mut self.pending, &mut self.scratch)
                    {
                        self.state = State::Done;
                        self.pipeline.summary.error = Some(e.to_string());
                        return Some(Err(e));
                    }
                    continue;
                }
            }
        }
    }
}

/// Stack of the sink's thread in [`Pipeline::run_threaded`] (8 MiB, a Linux main thread's).
const SINK_STACK_BYTES: usize = 8 << 20;

/// How [`Pipeline::run_threaded`] hands records from the reading thread to the sink's.
///
/// ```
/// let h = wifi_sensing_core::pipeline::Handoff::default();
/// assert!(h.batch > 0 && h.in_flight > 0);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Handoff {
    /// Records per batch (at least 1).
    pub batch: usize,
    /// Batches the channel holds before the reading thread waits for the sink's.
    pub in_flight: usize,
}

impl Default for Handoff {
    /// 512 records per batch, 2 batches in the channel: large batches make the two threads
    /// wait for each other less often (each wait is a sleep and a wake-up in the kernel).
    fn default() -> Self {
        Handoff {
            batch: 512,
            in_flight: 2,
        }
    }
}

/// Records on their way to the sink's thread, or frames on their way back to the source.
struct Batch<T> {
    items: VecDeque<Result<T>>,
    frames: Vec<CsiFrame>,
}

impl<T> Default for Batch<T> {
    fn default() -> Self {
        Batch {
            items: VecDeque::new(),
            frames: Vec::new(),
        }
    }
}

/// The sink's thread's source in [`Pipeline::run_threaded`]: the records of the batches
/// received, in order; the frames recycled go back with the batch they are put in.
struct Received<T> {
    from_reader: std::sync::mpsc::Receiver<Batch<T>>,
    to_reader: std::sync::mpsc::Sender<Batch<T>>,
    current: Batch<T>,
}

impl<T> Iterator for Received<T> {
    type Item = Result<T>;
    fn next(&mut self) -> Option<Result<T>> {
        loop {
            if let Some(item) = self.current.items.pop_front() {
                return Some(item);
            }
            let next = self.from_reader.recv().ok()?;
            let done = std::mem::replace(&mut self.current, next);
            // the reading side may have finished: then the frames are simply dropped
            let _ = self.to_reader.send(done);
        }
    }
}
