//! Capture readers, the [`Capture`] stream, and the format [`Registry`] with probing.
//!
//! A reader implements [`CaptureReader`]: a pull loop over [`Record`]s. Recoverable errors
//! ([`Error::is_recoverable`]) concern one record and the reader continues after them; any other
//! error ends the stream (the reader returns `None` afterwards). [`Capture`] wraps a reader, keeps
//! [`ReadStats`], and is an `Iterator<Item = Result<CsiFrame>>`.

use std::fs::File;
use std::io::{BufRead, BufReader, Cursor, Read};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::formats;
use crate::frame::{CaptureFormat, CsiFrame};
use crate::record::Record;

/// Byte input handed to a reader.
pub type Input = Box<dyn BufRead + Send>;

/// A pull-based reader of one capture format.
pub trait CaptureReader: Send {
    /// The format this reader decodes.
    fn format(&self) -> CaptureFormat;
    /// The next record; `None` at the end of the stream (and after a non-recoverable error).
    fn next_record(&mut self) -> Option<Result<Record>>;
    /// Bytes of input consumed so far (for progress reporting).
    fn position(&self) -> u64 {
        0
    }
    /// Units of input (packets, records) passed over so far because they carry no CSI by design:
    /// not errors, but counted so that nothing disappears silently. A pcap's non-CSI packets are
    /// the typical case. Readers without such units return 0.
    fn passed_over(&self) -> u64 {
        0
    }
    /// Hands back a frame this reader returned and the caller no longer needs, so that the
    /// reader may refill its buffers (CSI values, subcarrier list, metadata) for a later frame
    /// instead of allocating new ones. Optional for both sides: the default drops the frame,
    /// and a later frame's values never depend on what was recycled.
    fn recycle(&mut self, frame: CsiFrame) {
        drop(frame);
    }
    /// `Some(bits)` when this reader promises that the CSI of **every** frame it returns holds
    /// integers in `-2^(bits-1) .. 2^(bits-1)` (for example 8 for the raw CSI of Intel 5300
    /// `.dat` files, whose values are int8 by construction), so that a consumer which passes the
    /// frames on unchanged may take a cheaper path for them (the `.csirec` writer's
    /// [`assume_integer_csi`](crate::recording::RecordingWriter::assume_integer_csi), which
    /// still confirms every value). The
    /// promise is about the frames as returned: once the caller changes a frame's CSI, it no
    /// longer holds for that frame. The default, `None`, promises nothing.
    fn csi_integer_bits(&self) -> Option<u8> {
        None
    }
    /// The header of a native recording (`.csirec`): when and from what it was written, by
    /// which library version, with `format_version` the file's own. `None` (the default) for
    /// every other format.
    fn recording_header(&self) -> Option<crate::recording::RecordingHeader> {
        None
    }
}

/// The buffers of frames handed back through [`CaptureReader::recycle`], which a reader refills
/// for its next frame instead of allocating new ones. Their contents never reach a frame: every
/// buffer is cleared before it is filled.
#[derive(Debug, Default)]
pub(crate) struct SpareBuffers {
    values: Vec<num_complex::Complex32>,
    subcarriers: Vec<i16>,
    chain_rssi: Vec<f32>,
}

impl SpareBuffers {
    /// Keeps the CSI, subcarrier and chain RSSI buffers of `frame`; returns its metadata, whose
    /// boxes a reader may keep too.
    pub(crate) fn keep(&mut self, frame: CsiFrame) -> crate::frame::FormatMeta {
        let CsiFrame {
            csi,
            subcarriers,
            chain_rssi,
            meta,
            ..
        } = frame;
        self.values = csi.into_raw_vec_and_offset().0;
        if let Some(s) = subcarriers {
            self.subcarriers = s;
        }
        if chain_rssi.capacity() > 0 {
            self.chain_rssi = chain_rssi;
        }
        meta
    }

    /// An empty vector for CSI values (a kept allocation, if any).
    pub(crate) fn values(&mut self) -> Vec<num_complex::Complex32> {
        let mut v = std::mem::take(&mut self.values);
        v.clear();
        v
    }

    /// An empty vector for subcarrier indices (a kept allocation, if any).
    pub(crate) fn empty_subcarriers(&mut self) -> Vec<i16> {
        let mut v = std::mem::take(&mut self.subcarriers);
        v.clear();
        v
    }

    /// A copy of `indices` in a kept allocation, if any.
    pub(crate) fn subcarriers(&mut self, indices: &[i16]) -> Vec<i16> {
        let mut v = self.empty_subcarriers();
        v.extend_from_slice(indices);
        v
    }

    /// A copy of `rssi` in a kept allocation, if any.
    pub(crate) fn chain_rssi(&mut self, rssi: &[f32]) -> Vec<f32> {
        let mut v = std::mem::take(&mut self.chain_rssi);
        v.clear();
        v.extend_from_slice(rssi);
        v
    }
}

/// Sets `done` when `item` ends the stream (end of input, or an error that is not
/// recoverable) and returns `item`: the one rule by which every reader becomes fused.
///
/// ```
/// use wifi_sensing_core::reader::fuse;
/// let mut done = false;
/// assert!(fuse(&mut done, None).is_none());
/// assert!(done);
/// ```
pub fn fuse(done: &mut bool, item: Option<Result<Record>>) -> Option<Result<Record>> {
    match &item {
        None => *done = true,
        Some(Err(e)) if !e.is_recoverable() => *done = true,
        _ => {}
    }
    item
}

impl<R: CaptureReader + ?Sized> CaptureReader for Box<R> {
    fn format(&self) -> CaptureFormat {
        (**self).format()
    }
    fn next_record(&mut self) -> Option<Result<Record>> {
        (**self).next_record()
    }
    fn position(&self) -> u64 {
        (**self).position()
    }
    fn passed_over(&self) -> u64 {
        (**self).passed_over()
    }
    fn recycle(&mut self, frame: CsiFrame) {
        (**self).recycle(frame)
    }
    fn csi_integer_bits(&self) -> Option<u8> {
        (**self).csi_integer_bits()
    }
    fn recording_header(&self) -> Option<crate::recording::RecordingHeader> {
        (**self).recording_header()
    }
}

/// Limits that protect against hostile or corrupt input. Every length read from a file is
/// checked against these before anything is allocated for it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Limits {
    /// Largest record (packet, line, segment) accepted, in bytes. Default 16 MiB.
    pub max_record_bytes: usize,
    /// Largest number of complex values in one frame. Default 1 << 20.
    pub max_csi_values: usize,
    /// Most IP datagrams reassembled from fragments at once (pcap reader; see
    /// [`formats::ipfrag`]): one more evicts the oldest, reported as incomplete. Each held
    /// datagram takes at most about 66 KiB. 0 turns reassembly off (fragments are passed over).
    /// Default 64 ([`formats::ipfrag::DEFAULT_MAX_IN_FLIGHT`]).
    #[serde(default = "default_datagrams_in_flight")]
    pub max_ip_datagrams_in_flight: usize,
    /// Packets read after the first fragment of an IP datagram after which the datagram, still
    /// incomplete, is evicted and reported. Default 1000
    /// ([`formats::ipfrag::DEFAULT_TIMEOUT_PACKETS`]).
    #[serde(default = "default_fragment_timeout")]
    pub ip_fragment_timeout_packets: u64,
}

fn default_datagrams_in_flight() -> usize {
    formats::ipfrag::DEFAULT_MAX_IN_FLIGHT
}

fn default_fragment_timeout() -> u64 {
    formats::ipfrag::DEFAULT_TIMEOUT_PACKETS
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_record_bytes: 16 << 20,
            max_csi_values: 1 << 20,
            max_ip_datagrams_in_flight: default_datagrams_in_flight(),
            ip_fragment_timeout_packets: default_fragment_timeout(),
        }
    }
}

/// Options for every reader: limits plus one options struct per format.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ReaderOptions {
    /// Safety limits.
    pub limits: Limits,
    /// ESP32 readers.
    pub esp32: formats::esp32::Esp32Options,
    /// Nexmon reader.
    pub nexmon: formats::nexmon::NexmonOptions,
    /// Intel 5300 reader.
    pub intel5300: formats::intel5300::Intel5300Options,
    /// Atheros reader.
    pub atheros: formats::atheros::AtherosOptions,
    /// PicoScenes reader.
    pub picoscenes: formats::picoscenes::PicoScenesOptions,
    /// FeitCSI reader.
    pub feitcsi: formats::feitcsi::FeitCsiOptions,
    /// Every format: deliver only the records of these nodes (see [`Capture::keep_nodes`],
    /// which every capture the registry opens is given).
    #[serde(default)]
    pub keep_nodes: Option<Vec<u32>>,
}

/// A problem found while reading: where, and what.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Issue {
    /// Byte offset in the input, where known.
    pub offset: Option<u64>,
    /// The error message.
    pub message: String,
}

/// Counters kept by a [`Capture`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ReadStats {
    /// CSI frames delivered.
    pub frames: u64,
    /// Non-CSI records delivered.
    pub aux_records: u64,
    /// Malformed records skipped (recoverable errors).
    pub malformed: u64,
    /// Input units without CSI passed over by design (see [`CaptureReader::passed_over`]).
    #[serde(default)]
    pub passed_over: u64,
    /// Records (CSI frames, and non-CSI records that name a node) of nodes left out by
    /// [`Capture::keep_nodes`] (read, not delivered).
    #[serde(default)]
    pub other_nodes: u64,
    /// The ids of those nodes, ascending (at most [`ReadStats::MAX_OTHER_NODES`]).
    #[serde(default)]
    pub other_node_ids: Vec<u32>,
    /// The first [`ReadStats::MAX_ISSUES`] malformed-record errors.
    pub issues: Vec<Issue>,
    /// Set when the input ended inside a record.
    pub truncated: Option<Issue>,
    /// Set when the stream ended on a non-recoverable error other than truncation.
    pub fatal: Option<Issue>,
}

impl ReadStats {
    /// How many issues are kept in [`ReadStats::issues`] (all are counted).
    pub const MAX_ISSUES: usize = 100;
    /// How many ids [`ReadStats::other_node_ids`] keeps (all records are counted).
    pub const MAX_OTHER_NODES: usize = 64;

    fn note_other_node(&mut self, node: u32) {
        self.other_nodes += 1;
        if let Err(i) = self.other_node_ids.binary_search(&node) {
            if self.other_node_ids.len() < Self::MAX_OTHER_NODES {
                self.other_node_ids.insert(i, node);
            }
        }
    }

    /// Records an error.
    pub fn note_error(&mut self, e: &Error) {
        let issue = Issue {
            offset: e.offset(),
            message: e.to_string(),
        };
        if e.is_recoverable() {
            self.malformed += 1;
            if self.issues.len() < Self::MAX_ISSUES {
                self.issues.push(issue);
            }
        } else if matches!(e, Error::Truncated { .. }) {
            self.truncated = Some(issue);
        } else {
            self.fatal = Some(issue);
        }
    }
}

/// A capture being read: a boxed [`CaptureReader`] plus statistics.
///
/// As an iterator it yields CSI frames; non-CSI records are counted and passed over (use
/// [`Capture::next_record`] or [`Capture::records`] to receive them). By default malformed records are
/// yielded as `Err` items and reading continues after them; with
/// [`Capture::skip_malformed`] they are only counted. An input that ends inside a record ends
/// the iteration with one `Err` for which [`Error::is_truncated`] holds, after every complete
/// record (the cut is also kept in [`ReadStats::truncated`]).
///
/// ```no_run
/// let mut cap = wifi_sensing_core::open("capture.pcap")?;
/// for frame in &mut cap {
///     let frame = frame?;
///     println!("{frame}");
/// }
/// println!("{} frames, {} malformed", cap.stats().frames, cap.stats().malformed);
/// # Ok::<(), wifi_sensing_core::Error>(())
/// ```
pub struct Capture {
    reader: Box<dyn CaptureReader>,
    stats: ReadStats,
    skip_malformed: bool,
    done: bool,
    name: Option<String>,
    keep_nodes: Option<Vec<u32>>,
}

impl std::fmt::Debug for Capture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Capture")
            .field("format", &self.reader.format())
            .field("name", &self.name)
            .field("stats", &self.stats)
            .finish()
    }
}

impl Capture {
    /// Wraps a reader.
    pub fn new(reader: Box<dyn CaptureReader>) -> Self {
        Capture {
            reader,
            stats: ReadStats::default(),
            skip_malformed: false,
            done: false,
            keep_nodes: None,
            name: None,
        }
    }

    /// Sets a display name (file path or address).
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The display name, if set.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// When `true`, the frame iterator counts malformed records and passes over them instead of
    /// yielding them as errors.
    pub fn skip_malformed(mut self, skip: bool) -> Self {
        self.skip_malformed = skip;
        self
    }

    /// Format of the underlying reader: the container for a pcap or a `.csirec` recording (each
    /// frame's own [`CsiFrame::format`](crate::CsiFrame) names the CSI format inside, such as
    /// `nexmon` or `esp32_adr018`).
    pub fn format(&self) -> CaptureFormat {
        self.reader.format()
    }

    /// Statistics so far.
    pub fn stats(&self) -> &ReadStats {
        &self.stats
    }

    /// Bytes of input consumed so far.
    pub fn bytes_read(&self) -> u64 {
        self.reader.position()
    }

    /// The next record of any kind, counting it in the statistics.
    pub fn next_record(&mut self) -> Option<Result<Record>> {
        if self.done {
            return None;
        }
        let mut item = self.reader.next_record();
        self.stats.passed_over = self.reader.passed_over();
        // records of nodes left out: counted, frames handed back to the reader, not delivered
        while let Some(keep) = &self.keep_nodes {
            let node = match &item {
                Some(Ok(Record::Frame(f))) => Some(f.node_id),
                Some(Ok(Record::Aux(a))) => a.node_id,
                _ => None,
            };
            match node {
                Some(n) if !keep.contains(&n) => self.stats.note_other_node(n),
                _ => break,
            }
            if let Some(Ok(Record::Frame(f))) = item.take() {
                self.reader.recycle(f);
            }
            item = self.reader.next_record();
            self.stats.passed_over = self.reader.passed_over();
        }
        match &item {
            None => self.done = true,
            Some(Ok(Record::Frame(_))) => self.stats.frames += 1,
            Some(Ok(Record::Aux(_))) => self.stats.aux_records += 1,
            Some(Err(e)) => {
                self.stats.note_error(e);
                if !e.is_recoverable() {
                    self.done = true;
                }
            }
        }
        item
    }

    /// Delivers only the records of these nodes (`None`: every node); frames of other nodes,
    /// and non-CSI records that name another node, are read, counted in
    /// [`ReadStats::other_nodes`] (their ids in [`ReadStats::other_node_ids`]) and not
    /// delivered; non-CSI records without a node are delivered. For captures that carry frames
    /// of several transmitters or receivers when only some are wanted (an ESP32 sniffing in
    /// passive mode takes every MAC it hears as a node). [`Registry`] applies
    /// [`ReaderOptions::keep_nodes`] with it.
    ///
    /// ```
    /// let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures");
    /// let mut all = wifi_sensing_core::open(format!("{dir}/intel5300/example.dat"))?;
    /// let n = all.by_ref().count();
    /// let mut none = wifi_sensing_core::open(format!("{dir}/intel5300/example.dat"))?;
    /// none.keep_nodes(Some(vec![9999]));
    /// assert_eq!(none.by_ref().count(), 0);
    /// assert_eq!(none.stats().other_nodes, n as u64);
    /// assert!(!none.stats().other_node_ids.is_empty());
    /// # Ok::<(), wifi_sensing_core::Error>(())
    /// ```
    pub fn keep_nodes(&mut self, nodes: Option<Vec<u32>>) {
        self.keep_nodes = nodes;
    }

    /// Hands a frame read from this capture back to its reader once the caller is done with
    /// it: readers that support it (PicoScenes) refill the frame's buffers for a later frame
    /// instead of allocating, which matters for loops that only look at each frame once
    /// (`inspect`-style tallies). The frames read are the same with or without it.
    ///
    /// ```
    /// use wifi_sensing_core::Record;
    /// let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/picoscenes/picoscenes_iwl5300_example.csi");
    /// let mut cap = wifi_sensing_core::open(path)?;
    /// let mut frames = 0;
    /// while let Some(rec) = cap.next_record() {
    ///     if let Ok(Record::Frame(f)) = rec {
    ///         frames += 1;
    ///         cap.recycle(f);
    ///     }
    /// }
    /// assert!(frames > 0);
    /// # Ok::<(), wifi_sensing_core::Error>(())
    /// ```
    pub fn recycle(&mut self, frame: CsiFrame) {
        self.reader.recycle(frame);
    }

    /// The reader's promise about the CSI values of every frame it returns
    /// ([`CaptureReader::csi_integer_bits`]): `Some(8)` for an Intel 5300 `.dat` file read
    /// without [`scaled`](crate::formats::intel5300::Intel5300Options::scaled) CSI, `None` when
    /// the format does not fix the values' type.
    ///
    /// ```
    /// let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures");
    /// let intel = wifi_sensing_core::open(format!("{dir}/intel5300/example.dat"))?;
    /// assert_eq!(intel.csi_integer_bits(), Some(8));
    /// let esp = wifi_sensing_core::open(format!("{dir}/esp32/example_csi.csv"))?;
    /// assert_eq!(esp.csi_integer_bits(), None);
    /// # Ok::<(), wifi_sensing_core::Error>(())
    /// ```
    pub fn csi_integer_bits(&self) -> Option<u8> {
        self.reader.csi_integer_bits()
    }

    /// The header of a native recording ([`CaptureReader::recording_header`]), whether it was
    /// opened from a file or from a stream (stdin); `None` for other formats.
    ///
    /// ```
    /// use wifi_sensing_core::recording::{RecordingHeader, RecordingWriter};
    /// let w = RecordingWriter::new(Vec::new(), &RecordingHeader::new("udp://0.0.0.0:5005", ""))?;
    /// let bytes = w.into_inner()?;
    /// let capture = wifi_sensing_core::Registry::builtin().open_read(
    ///     Box::new(std::io::Cursor::new(bytes)),
    ///     None,
    ///     None,
    ///     None,
    /// )?;
    /// let h = capture.recording_header().unwrap();
    /// assert_eq!(h.source, "udp://0.0.0.0:5005");
    /// let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures");
    /// assert!(wifi_sensing_core::open(format!("{dir}/intel5300/example.dat"))?.recording_header().is_none());
    /// # Ok::<(), wifi_sensing_core::Error>(())
    /// ```
    pub fn recording_header(&self) -> Option<crate::recording::RecordingHeader> {
        self.reader.recording_header()
    }

    /// Iterator over every record (frames and non-CSI records).
    pub fn records(&mut self) -> Records<'_> {
        Records { capture: self }
    }
}

impl crate::pipeline::Recycle for Capture {
    fn recycle(&mut self, frame: CsiFrame) {
        Capture::recycle(self, frame)
    }
}

/// Iterator returned by [`Capture::records`].
#[derive(Debug)]
pub struct Records<'a> {
    capture: &'a mut Capture,
}

impl crate::pipeline::Recycle for Records<'_> {
    fn recycle(&mut self, frame: CsiFrame) {
        self.capture.recycle(frame)
    }
}

impl Iterator for Records<'_> {
    type Item = Result<Record>;
    fn next(&mut self) -> Option<Self::Item> {
        self.capture.next_record()
    }
}

impl Iterator for Capture {
    type Item = Result<CsiFrame>;
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            match self.next_record()? {
                Ok(Record::Frame(f)) => return Some(Ok(f)),
                Ok(Record::Aux(_)) => continue,
                Err(e) if e.is_recoverable() && self.skip_malformed => continue,
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

impl std::iter::FusedIterator for Capture {}

/// How sure a probe is that a byte prefix is its format (0 = not this format, 100 = certain).
pub type Confidence = u8;

/// Function that opens a reader over an input.
pub type OpenFn = fn(Input, &ReaderOptions) -> Result<Box<dyn CaptureReader>>;

/// Description of one format for the [`Registry`].
#[derive(Clone, Copy)]
pub struct FormatDescriptor {
    /// The format.
    pub format: CaptureFormat,
    /// Human-readable name.
    pub description: &'static str,
    /// File extensions (lower case, without the dot) used as a hint.
    pub extensions: &'static [&'static str],
    /// Scores a byte prefix (up to [`Registry::PROBE_LEN`] bytes, fewer for short inputs).
    pub probe: fn(&[u8]) -> Confidence,
    /// Opens a reader.
    pub open: OpenFn,
}

impl std::fmt::Debug for FormatDescriptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FormatDescriptor")
            .field("format", &self.format)
            .field("description", &self.description)
            .field("extensions", &self.extensions)
            .finish()
    }
}

/// The set of formats that [`open`] can recognise.
#[derive(Clone, Debug)]
pub struct Registry {
    formats: Vec<FormatDescriptor>,
    options: ReaderOptions,
}

impl Default for Registry {
    fn default() -> Self {
        Self::builtin()
    }
}

impl Registry {
    /// Bytes read from the start of an input for probing.
    pub const PROBE_LEN: usize = 8192;

    /// Every format built into this crate.
    pub fn builtin() -> Self {
        let formats = vec![
            crate::recording::descriptor(),
            crate::jsonl::descriptor(),
            crate::formats::esp32_csv::descriptor(),
            crate::formats::espcsi::descriptor(),
            crate::formats::ruview::descriptor(),
            crate::formats::intel5300::descriptor(),
            crate::formats::atheros::descriptor(),
            crate::formats::pcap::descriptor(),
            crate::formats::picoscenes::descriptor(),
            crate::formats::feitcsi::descriptor(),
        ];
        Registry {
            formats,
            options: ReaderOptions::default(),
        }
    }

    /// An empty registry.
    pub fn empty() -> Self {
        Registry {
            formats: Vec::new(),
            options: ReaderOptions::default(),
        }
    }

    /// Adds (or replaces) a format.
    pub fn register(&mut self, d: FormatDescriptor) -> &mut Self {
        self.formats.retain(|x| x.format != d.format);
        self.formats.push(d);
        self
    }

    /// Sets the reader options used by every `open*` call.
    pub fn with_options(mut self, options: ReaderOptions) -> Self {
        self.options = options;
        self
    }

    /// The reader options.
    pub fn options(&self) -> &ReaderOptions {
        &self.options
    }

    /// Mutable reader options.
    pub fn options_mut(&mut self) -> &mut ReaderOptions {
        &mut self.options
    }

    /// The registered formats.
    pub fn formats(&self) -> &[FormatDescriptor] {
        &self.formats
    }

    /// The descriptor of `format`, if registered.
    pub fn get(&self, format: CaptureFormat) -> Option<&FormatDescriptor> {
        self.formats.iter().find(|d| d.format == format)
    }

    /// Picks the format of an input from its first bytes and (as a hint) its extension.
    ///
    /// The byte probe decides; the extension only breaks ties and adds a small bonus. Returns
    /// `None` when no probe recognises the bytes.
    pub fn probe(&self, prefix: &[u8], extension: Option<&str>) -> Option<&FormatDescriptor> {
        let ext = extension.map(|e| e.to_ascii_lowercase());
        self.formats
            .iter()
            .filter_map(|d| {
                let score = (d.probe)(prefix);
                if score == 0 {
                    return None;
                }
                let bonus = match &ext {
                    Some(e) if d.extensions.contains(&e.as_str()) => 10,
                    _ => 0,
                };
                Some((u16::from(score) + bonus, d))
            })
            .max_by_key(|(s, _)| *s)
            .map(|(_, d)| d)
    }

    /// Opens a file, detecting its format.
    pub fn open_path(&self, path: impl AsRef<Path>) -> Result<Capture> {
        self.open_path_as(path, None)
    }

    /// Opens a file as `format` (or detects it when `None`).
    pub fn open_path_as(
        &self,
        path: impl AsRef<Path>,
        format: Option<CaptureFormat>,
    ) -> Result<Capture> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let file = File::open(path).map_err(|e| Error::io(format!("cannot open {name}"), e))?;
        let ext = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.rsplit_once('.').map(|(_, e)| e.to_string()));
        self.open_read(Box::new(file), Some(&name), ext.as_deref(), format)
    }

    /// The first registered format (in registry order) whose extensions include `extension`
    /// (compared without regard to ASCII case).
    pub fn by_extension(&self, extension: Option<&str>) -> Option<&FormatDescriptor> {
        let e = extension?;
        self.formats
            .iter()
            .find(|d| d.extensions.iter().any(|x| x.eq_ignore_ascii_case(e)))
    }

    /// Opens any byte stream (stdin, a socket dump, memory), detecting its format from the first
    /// bytes and an optional extension hint, unless `format` is given.
    ///
    /// An **empty** input has no bytes to probe. Its format is then the one its extension names
    /// ([`Registry::by_extension`]: the first match in registry order, e.g. Intel 5300 for
    /// `.dat`, PicoScenes for `.csi`), whose reader reads it: a record stream such as an empty
    /// Intel 5300 `.dat` (FORMATS.md §8) gives 0 frames and no error, while a container whose
    /// file header is mandatory fails to open with its reader's error, which says more than
    /// "unrecognised": an empty `.pcap` gives [`Error::Truncated`] at offset 0, an empty
    /// `.csirec` [`Error::InvalidHeader`] at offset 0. An empty input without an extension, or
    /// with one no format claims, is [`Error::UnknownFormat`].
    ///
    /// ```
    /// use wifi_sensing_core::{Registry, Error};
    /// let r = Registry::builtin();
    /// let empty = || Box::new(std::io::empty());
    /// let mut cap = r.open_read(empty(), None, Some("dat"), None)?;
    /// assert!(cap.next_record().is_none());
    /// assert!(matches!(r.open_read(empty(), None, None, None), Err(Error::UnknownFormat { .. })));
    /// # Ok::<(), wifi_sensing_core::Error>(())
    /// ```
    pub fn open_read(
        &self,
        mut input: Box<dyn Read + Send>,
        name: Option<&str>,
        extension: Option<&str>,
        format: Option<CaptureFormat>,
    ) -> Result<Capture> {
        let mut prefix = vec![0u8; Self::PROBE_LEN];
        let n = crate::util::read_full(&mut *input, &mut prefix)
            .map_err(|e| Error::io(format!("cannot read {}", name.unwrap_or("input")), e))?;
        prefix.truncate(n);
        let desc = match format {
            Some(f) => self.get(f).ok_or_else(|| Error::UnknownFormat {
                name: name.map(str::to_string),
                reason: format!("format {f} is not registered"),
            })?,
            None if n == 0 => self
                .by_extension(extension)
                .ok_or_else(|| Error::UnknownFormat {
                    name: name.map(str::to_string),
                    reason: match extension {
                        Some(e) => {
                            format!("the input is empty and no format has the extension .{e}")
                        }
                        None => "the input is empty".to_string(),
                    },
                })?,
            None => self
                .probe(&prefix, extension)
                .ok_or_else(|| Error::UnknownFormat {
                    name: name.map(str::to_string),
                    reason: format!(
                        "no reader recognises the first {n} bytes (starting {}){}",
                        hex_preview(&prefix),
                        what_it_looks_like(&prefix)
                    ),
                })?,
        };
        let chained: Input = Box::new(BufReader::with_capacity(
            1 << 16,
            Cursor::new(prefix).chain(input),
        ));
        let reader = (desc.open)(chained, &self.options)?;
        let mut cap = Capture::new(reader);
        cap.keep_nodes(self.options.keep_nodes.clone());
        if let Some(n) = name {
            cap = cap.with_name(n);
        }
        Ok(cap)
    }
}

/// A hint for an input no reader recognised, from its first bytes: what kind of file it seems to
/// be (empty when nothing is recognisable).
fn what_it_looks_like(prefix: &[u8]) -> &'static str {
    let text = prefix.iter().skip_while(|b| b.is_ascii_whitespace());
    match text.clone().next() {
        Some(b'{') | Some(b'[') => {
            "; it looks like JSON, but not JSON Lines frames of this project or RuView ESP32 \
             records"
        }
        _ if prefix.starts_with(b"PAR1") => {
            "; it is a Parquet file: Parquet is an output (docs/parquet.md); read it with a \
             dataframe engine, or keep a `.csirec` recording to run again"
        }
        _ if prefix.starts_with(b"\x89PNG") || prefix.starts_with(b"\xff\xd8\xff") => {
            "; it is an image"
        }
        _ => "",
    }
}

fn hex_preview(b: &[u8]) -> String {
    b.iter()
        .take(8)
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Opens a capture file with the built-in registry, detecting its format.
///
/// ```no_run
/// let cap = wifi_sensing_core::open("fixtures/esp32/example_csi.csv")?;
/// println!("{}", cap.format());
/// # Ok::<(), wifi_sensing_core::Error>(())
/// ```
pub fn open(path: impl AsRef<Path>) -> Result<Capture> {
    Registry::builtin().open_path(path)
}
