//! Columnar output: frames, non-CSI records and analyses as Apache Arrow record batches, written
//! to Parquet files (`-o OUT.parquet`) or an Arrow IPC stream (`--output-format arrow`).
//!
//! The tables and their columns are documented in `docs/parquet.md` (schema version
//! [`SCHEMA`]). Rows are gathered into batches of at most [`BATCH_ROWS`] rows or
//! [`BATCH_BYTES`] bytes of CSI, and a Parquet writer closes its row group when it holds
//! [`ROW_GROUP_BYTES`] (encoded and buffered) or [`ROW_GROUP_ROWS`] rows, so memory stays
//! bounded whatever the input's length.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use arrow_array::builder::{
    ArrayBuilder, Float32Builder, Int16Builder, Int64Builder, ListBuilder, StringBuilder,
    TimestampNanosecondBuilder, UInt16Builder, UInt32Builder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use parquet::arrow::ArrowWriter;

use crate::parquet_encode::Encoder;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;
use serde::Serialize;
use wifi_sensing_core::{AuxRecord, Clock, CsiFrame, Output, Sink, Summary};

use crate::input::InputSpec;

/// Version of the columnar schema (`wifi_sensing.schema` in the file metadata is
/// `wifi-sensing/<table>/<SCHEMA>`).
pub(crate) const SCHEMA: u32 = 1;
/// Rows per record batch (fewer when the CSI of the batch reaches [`BATCH_BYTES`]).
pub(crate) const BATCH_ROWS: usize = 1024;
/// Bytes of CSI (re + im, 4 bytes each) after which a batch is closed early.
pub(crate) const BATCH_BYTES: usize = 4 << 20;
/// A Parquet row group is closed when its buffered, encoded data reaches this size.
pub(crate) const ROW_GROUP_BYTES: usize = 32 << 20;
/// ... or when it holds this many rows.
pub(crate) const ROW_GROUP_ROWS: usize = 128 * 1024;
/// Default zstd level of every column (docs/parquet.md gives the size and time of each codec).
pub(crate) const ZSTD_LEVEL: i32 = 3;

/// The compression of every column of a Parquet file (`convert --compression`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Codec {
    /// zstd at a level in 1..=22 (default 3).
    Zstd(i32),
    /// LZ4 (the Parquet `LZ4_RAW` codec).
    Lz4,
    /// Snappy.
    Snappy,
    /// No compression.
    None,
}

impl Default for Codec {
    fn default() -> Self {
        Codec::Zstd(ZSTD_LEVEL)
    }
}

impl std::str::FromStr for Codec {
    type Err = String;
    /// `zstd`, `zstd:LEVEL` (1..=22), `lz4`, `snappy` or `none`.
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let (name, level) = match s.split_once(':') {
            Some((n, l)) => (n, Some(l)),
            None => (s, None),
        };
        match (name, level) {
            ("zstd", None) => Ok(Codec::default()),
            ("zstd", Some(l)) => match l.parse::<i32>() {
                Ok(v) if (1..=22).contains(&v) => Ok(Codec::Zstd(v)),
                _ => Err(format!(
                    "zstd level {l:?}: expected a whole number in 1..=22"
                )),
            },
            ("lz4", None) => Ok(Codec::Lz4),
            ("snappy", None) => Ok(Codec::Snappy),
            ("none", None) => Ok(Codec::None),
            ("lz4" | "snappy" | "none", Some(_)) => {
                Err(format!("{name} takes no level (only zstd:LEVEL does)"))
            }
            _ => Err(format!(
                "unknown compression {s:?}: expected zstd, zstd:LEVEL (1-22), lz4, snappy or none"
            )),
        }
    }
}

impl Codec {
    fn parquet(self) -> Result<Compression> {
        Ok(match self {
            Codec::Zstd(l) => Compression::ZSTD(ZstdLevel::try_new(l)?),
            Codec::Lz4 => Compression::LZ4_RAW,
            Codec::Snappy => Compression::SNAPPY,
            Codec::None => Compression::UNCOMPRESSED,
        })
    }
}

fn enc_err(e: impl std::fmt::Display) -> wifi_sensing_core::Error {
    wifi_sensing_core::Error::Encode(e.to_string())
}

/// Serde name of a unit enum variant (`Clock::Host` -> `host`), written into `buf`.
fn serde_name<'b, T: Serialize>(v: &T, buf: &'b mut Vec<u8>) -> &'b str {
    buf.clear();
    if serde_json::to_writer(&mut *buf, v).is_err() {
        return "";
    }
    std::str::from_utf8(buf).unwrap_or("").trim_matches('"')
}

/// The serde names of the few distinct values of a unit enum (clocks, devices), each made once.
struct Names<T>(Vec<(T, String)>);

impl<T> Default for Names<T> {
    fn default() -> Self {
        Names(Vec::new())
    }
}

impl<T: Serialize + PartialEq> Names<T> {
    fn name(&mut self, v: T, buf: &mut Vec<u8>) -> &str {
        let i = match self.0.iter().position(|(k, _)| *k == v) {
            Some(i) => i,
            None => {
                let n = serde_name(&v, buf).to_string();
                self.0.push((v, n));
                self.0.len() - 1
            }
        };
        &self.0[i].1
    }
}

/// `value` serialised as JSON into `buf`, as a `&str` (`null` if it does not serialise).
fn json_text<'b, T: Serialize + ?Sized>(v: &T, buf: &'b mut Vec<u8>) -> &'b str {
    buf.clear();
    if serde_json::to_writer(&mut *buf, v).is_err() {
        buf.clear();
        buf.extend_from_slice(b"null");
    }
    std::str::from_utf8(buf).unwrap_or("null")
}

fn list_of(name: &str, item: DataType, nullable: bool) -> Field {
    Field::new(
        name,
        DataType::List(Arc::new(Field::new("item", item, false))),
        nullable,
    )
}

fn utf8(name: &str, nullable: bool) -> Field {
    Field::new(name, DataType::Utf8, nullable)
}

/// The columns that follow `timestamp_ns` in every table: `time_utc` (the timestamp as an
/// instant when its clock is the host's, Unix-epoch time; else null) and `clock`.
struct TimeColumns {
    clocks: Names<Clock>,
    time: TimestampNanosecondBuilder,
    clock: StringBuilder,
}

impl TimeColumns {
    fn new() -> Self {
        TimeColumns {
            clocks: Names::default(),
            time: TimestampNanosecondBuilder::new().with_timezone("UTC"),
            clock: StringBuilder::new(),
        }
    }

    fn fields() -> [Field; 2] {
        [
            Field::new(
                "time_utc",
                DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
                true,
            ),
            utf8("clock", false),
        ]
    }

    /// Appends the columns of a row whose timestamp is `timestamp_ns` on `clock`.
    fn push(&mut self, clock: Clock, timestamp_ns: i64, buf: &mut Vec<u8>) {
        self.time
            .append_option((clock == Clock::Host).then_some(timestamp_ns));
        self.clock.append_value(self.clocks.name(clock, buf));
    }

    fn finish(&mut self) -> [ArrayRef; 2] {
        [Arc::new(self.time.finish()), Arc::new(self.clock.finish())]
    }
}

/// A table being built: rows appended, then taken out as one [`RecordBatch`].
pub(crate) trait Rows {
    /// The table's schema (no metadata).
    fn schema(&self) -> SchemaRef;
    /// Name of the table (`frames`, `aux`, `analyses`).
    fn table(&self) -> &'static str;
    /// Rows held.
    fn len(&self) -> usize;
    /// `true` when the batch should be written now.
    fn full(&self) -> bool;
    /// The rows held as a batch; the builder is empty afterwards.
    fn take(&mut self) -> Result<RecordBatch, arrow_schema::ArrowError>;
    /// Columns (dotted leaf paths) written without a dictionary or statistics.
    fn plain_columns(&self) -> &'static [&'static str] {
        &[]
    }
}

/// Builds the `frames` table.
pub(crate) struct FrameRows {
    schema: SchemaRef,
    /// `false` in a Hive-partitioned dataset, where `node_id` is a partition column.
    with_node_id: bool,
    source_file: String,
    csi_bytes: usize,
    buf: Vec<u8>,
    re: Vec<f32>,
    im: Vec<f32>,
    devices: Names<wifi_sensing_core::Device>,
    c_source: StringBuilder,
    c_ts: Int64Builder,
    c_time: TimeColumns,
    c_node: UInt32Builder,
    c_mac: StringBuilder,
    c_seq: UInt32Builder,
    c_rssi: Float32Builder,
    c_chain: ListBuilder<Float32Builder>,
    c_noise: Float32Builder,
    c_channel: UInt16Builder,
    c_freq: UInt32Builder,
    c_bw: UInt16Builder,
    c_format: StringBuilder,
    c_device: StringBuilder,
    c_rx: UInt32Builder,
    c_tx: UInt32Builder,
    c_sc: UInt32Builder,
    c_subc: ListBuilder<Int16Builder>,
    c_re: ListBuilder<Float32Builder>,
    c_im: ListBuilder<Float32Builder>,
    c_meta: StringBuilder,
}

fn list_f32() -> ListBuilder<Float32Builder> {
    ListBuilder::new(Float32Builder::new()).with_field(Field::new("item", DataType::Float32, false))
}

impl FrameRows {
    /// The `frames` schema; without the `node_id` column when `with_node_id` is false.
    pub(crate) fn schema_of(with_node_id: bool) -> SchemaRef {
        let mut f = vec![
            utf8("source_file", false),
            Field::new("timestamp_ns", DataType::Int64, false),
        ];
        f.extend(TimeColumns::fields());
        if with_node_id {
            f.push(Field::new("node_id", DataType::UInt32, false));
        }
        f.extend([
            utf8("mac", true),
            Field::new("sequence", DataType::UInt32, true),
            Field::new("rssi_dbm", DataType::Float32, true),
            list_of("chain_rssi", DataType::Float32, false),
            Field::new("noise_floor_dbm", DataType::Float32, true),
            Field::new("channel", DataType::UInt16, true),
            Field::new("center_freq_mhz", DataType::UInt32, true),
            Field::new("bandwidth_mhz", DataType::UInt16, true),
            utf8("format", false),
            utf8("device", false),
            Field::new("n_rx", DataType::UInt32, false),
            Field::new("n_tx", DataType::UInt32, false),
            Field::new("n_subcarriers", DataType::UInt32, false),
            list_of("subcarriers", DataType::Int16, true),
            list_of("csi_re", DataType::Float32, false),
            list_of("csi_im", DataType::Float32, false),
            utf8("meta", false),
        ]);
        Arc::new(Schema::new(f))
    }

    /// An empty builder whose rows name `source_file`.
    pub(crate) fn new(source_file: &str, with_node_id: bool) -> Self {
        FrameRows {
            schema: Self::schema_of(with_node_id),
            with_node_id,
            source_file: source_file.to_string(),
            csi_bytes: 0,
            buf: Vec::with_capacity(256),
            re: Vec::new(),
            im: Vec::new(),
            devices: Names::default(),
            c_source: StringBuilder::new(),
            c_ts: Int64Builder::new(),
            c_time: TimeColumns::new(),
            c_node: UInt32Builder::new(),
            c_mac: StringBuilder::new(),
            c_seq: UInt32Builder::new(),
            c_rssi: Float32Builder::new(),
            c_chain: list_f32(),
            c_noise: Float32Builder::new(),
            c_channel: UInt16Builder::new(),
            c_freq: UInt32Builder::new(),
            c_bw: UInt16Builder::new(),
            c_format: StringBuilder::new(),
            c_device: StringBuilder::new(),
            c_rx: UInt32Builder::new(),
            c_tx: UInt32Builder::new(),
            c_sc: UInt32Builder::new(),
            c_subc: ListBuilder::new(Int16Builder::new()).with_field(Field::new(
                "item",
                DataType::Int16,
                false,
            )),
            c_re: list_f32(),
            c_im: list_f32(),
            c_meta: StringBuilder::new(),
        }
    }

    /// Appends one frame.
    pub(crate) fn push(&mut self, f: &CsiFrame) {
        self.c_source.append_value(&self.source_file);
        self.c_ts.append_value(f.timestamp_ns);
        self.c_time.push(f.clock, f.timestamp_ns, &mut self.buf);
        if self.with_node_id {
            self.c_node.append_value(f.node_id);
        }
        match f.mac {
            Some(m) => {
                // `aa:bb:cc:dd:ee:ff` without a String per frame
                const HEX: &[u8; 16] = b"0123456789abcdef";
                let mut s = [b':'; 17];
                for (i, b) in m.iter().enumerate() {
                    s[3 * i] = HEX[usize::from(b >> 4)];
                    s[3 * i + 1] = HEX[usize::from(b & 15)];
                }
                self.c_mac
                    .append_value(std::str::from_utf8(&s).unwrap_or_default());
            }
            None => self.c_mac.append_null(),
        }
        self.c_seq.append_option(f.sequence);
        self.c_rssi.append_option(f.rssi_dbm);
        self.c_chain.values().append_slice(&f.chain_rssi);
        self.c_chain.append(true);
        self.c_noise.append_option(f.noise_floor_dbm);
        self.c_channel.append_option(f.channel);
        self.c_freq.append_option(f.center_freq_mhz);
        self.c_bw.append_option(f.bandwidth_mhz);
        self.c_format.append_value(f.format.name());
        self.c_device
            .append_value(self.devices.name(f.device, &mut self.buf));
        let (rx, tx, sc) = f.shape();
        // shapes come from readers that bound them far below u32::MAX
        self.c_rx
            .append_value(u32::try_from(rx).unwrap_or(u32::MAX));
        self.c_tx
            .append_value(u32::try_from(tx).unwrap_or(u32::MAX));
        self.c_sc
            .append_value(u32::try_from(sc).unwrap_or(u32::MAX));
        match &f.subcarriers {
            Some(s) => {
                self.c_subc.values().append_slice(s);
                self.c_subc.append(true);
            }
            None => self.c_subc.append_null(),
        }
        // row-major over [rx][tx][subcarrier], as the JSON Lines `csi_re` / `csi_im`: split
        // into two scratch rows, each appended as one slice
        self.re.clear();
        self.im.clear();
        for c in f.csi.iter() {
            self.re.push(c.re);
            self.im.push(c.im);
        }
        self.c_re.values().append_slice(&self.re);
        self.c_im.values().append_slice(&self.im);
        self.c_re.append(true);
        self.c_im.append(true);
        self.csi_bytes += f.csi.len() * 8;
        self.c_meta.append_value(json_text(&f.meta, &mut self.buf));
    }
}

impl Rows for FrameRows {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
    fn table(&self) -> &'static str {
        "frames"
    }
    fn len(&self) -> usize {
        self.c_ts.len()
    }
    fn full(&self) -> bool {
        self.len() >= BATCH_ROWS || self.csi_bytes >= BATCH_BYTES
    }
    fn plain_columns(&self) -> &'static [&'static str] {
        &[
            "csi_re.list.item",
            "csi_im.list.item",
            "subcarriers.list.item",
            "meta",
        ]
    }
    fn take(&mut self) -> Result<RecordBatch, arrow_schema::ArrowError> {
        self.csi_bytes = 0;
        let mut cols: Vec<ArrayRef> = vec![
            Arc::new(self.c_source.finish()),
            Arc::new(self.c_ts.finish()),
        ];
        cols.extend(self.c_time.finish());
        if self.with_node_id {
            cols.push(Arc::new(self.c_node.finish()));
        }
        cols.extend([
            Arc::new(self.c_mac.finish()) as ArrayRef,
            Arc::new(self.c_seq.finish()),
            Arc::new(self.c_rssi.finish()),
            Arc::new(self.c_chain.finish()),
            Arc::new(self.c_noise.finish()),
            Arc::new(self.c_channel.finish()),
            Arc::new(self.c_freq.finish()),
            Arc::new(self.c_bw.finish()),
            Arc::new(self.c_format.finish()),
            Arc::new(self.c_device.finish()),
            Arc::new(self.c_rx.finish()),
            Arc::new(self.c_tx.finish()),
            Arc::new(self.c_sc.finish()),
            Arc::new(self.c_subc.finish()),
            Arc::new(self.c_re.finish()),
            Arc::new(self.c_im.finish()),
            Arc::new(self.c_meta.finish()),
        ]);
        RecordBatch::try_new(self.schema.clone(), cols)
    }
}

/// A non-CSI record as a row of the `aux` or `analyses` table: the envelope columns the two
/// tables share (`source_file`, `type`, `timestamp_ns`, `time_utc`, `clock`, `node_id`, `data`)
/// plus a few text columns of their own.
pub(crate) trait EnvelopeRow {
    /// Name of the table.
    const TABLE: &'static str;
    /// The table's own text columns before `timestamp_ns` (after `type`).
    const BEFORE_TS: &'static [&'static str];
    /// The table's own text columns after `timestamp_ns`, `time_utc` and `clock` (before
    /// `node_id`).
    const AFTER_TS: &'static [&'static str];
    /// Record type.
    fn kind(&self) -> &str;
    /// Timestamp, ns.
    fn timestamp_ns(&self) -> i64;
    /// The clock of the timestamp.
    fn clock(&self) -> Clock;
    /// Node, where the record has one.
    fn node_id(&self) -> Option<u32>;
    /// Own text column `i` (in `BEFORE_TS` then `AFTER_TS` order), using `buf` as scratch.
    fn text<'a>(&'a self, i: usize, buf: &'a mut Vec<u8>) -> &'a str;
    /// The `data` column: the record's JSON Lines `data`, serialised into `buf`.
    fn data<'a>(&self, buf: &'a mut Vec<u8>) -> &'a str;
}

impl EnvelopeRow for AuxRecord {
    const TABLE: &'static str = "aux";
    const BEFORE_TS: &'static [&'static str] = &[];
    const AFTER_TS: &'static [&'static str] = &["format"];
    fn kind(&self) -> &str {
        self.body.kind()
    }
    fn timestamp_ns(&self) -> i64 {
        self.timestamp_ns
    }
    fn clock(&self) -> Clock {
        self.clock
    }
    fn node_id(&self) -> Option<u32> {
        self.node_id
    }
    fn text<'a>(&'a self, _i: usize, _buf: &'a mut Vec<u8>) -> &'a str {
        self.format.name()
    }
    fn data<'a>(&self, buf: &'a mut Vec<u8>) -> &'a str {
        // serialised as the JSON Lines writer does
        json_text(self.body.data(), buf)
    }
}

impl EnvelopeRow for wifi_sensing_core::Analysis {
    const TABLE: &'static str = "analyses";
    const BEFORE_TS: &'static [&'static str] = &["analyser"];
    const AFTER_TS: &'static [&'static str] = &[];
    fn kind(&self) -> &str {
        &self.kind
    }
    fn timestamp_ns(&self) -> i64 {
        self.timestamp_ns
    }
    fn clock(&self) -> Clock {
        self.clock
    }
    fn node_id(&self) -> Option<u32> {
        self.node_id
    }
    fn text<'a>(&'a self, _i: usize, _buf: &'a mut Vec<u8>) -> &'a str {
        &self.analyser
    }
    fn data<'a>(&self, buf: &'a mut Vec<u8>) -> &'a str {
        json_text(&*self.value, buf)
    }
}

/// Builds a table of [`EnvelopeRow`]s: the `aux` table (non-CSI records: ADR-018 vitals,
/// features, ...) or the `analyses` table (one row per analysis record, every kind; `data` as
/// JSON text).
pub(crate) struct EnvelopeRows<T: EnvelopeRow> {
    schema: SchemaRef,
    source_file: String,
    buf: Vec<u8>,
    c_source: StringBuilder,
    c_type: StringBuilder,
    c_ts: Int64Builder,
    c_time: TimeColumns,
    c_texts: Vec<StringBuilder>,
    c_node: UInt32Builder,
    c_data: StringBuilder,
    _rows: std::marker::PhantomData<fn(&T)>,
}

/// Builds the `aux` table.
pub(crate) type AuxRows = EnvelopeRows<AuxRecord>;
/// Builds the `analyses` table.
pub(crate) type AnalysisRows = EnvelopeRows<wifi_sensing_core::Analysis>;

impl<T: EnvelopeRow> EnvelopeRows<T> {
    pub(crate) fn new(source_file: &str) -> Self {
        let mut fields = vec![utf8("source_file", false), utf8("type", false)];
        fields.extend(T::BEFORE_TS.iter().map(|n| utf8(n, false)));
        fields.push(Field::new("timestamp_ns", DataType::Int64, false));
        fields.extend(TimeColumns::fields());
        fields.extend(T::AFTER_TS.iter().map(|n| utf8(n, false)));
        fields.push(Field::new("node_id", DataType::UInt32, true));
        fields.push(utf8("data", false));
        EnvelopeRows {
            schema: Arc::new(Schema::new(fields)),
            source_file: source_file.to_string(),
            buf: Vec::with_capacity(256),
            c_source: StringBuilder::new(),
            c_type: StringBuilder::new(),
            c_ts: Int64Builder::new(),
            c_time: TimeColumns::new(),
            c_texts: (0..T::BEFORE_TS.len() + T::AFTER_TS.len())
                .map(|_| StringBuilder::new())
                .collect(),
            c_node: UInt32Builder::new(),
            c_data: StringBuilder::new(),
            _rows: std::marker::PhantomData,
        }
    }

    pub(crate) fn push(&mut self, r: &T) {
        self.c_source.append_value(&self.source_file);
        self.c_type.append_value(r.kind());
        self.c_ts.append_value(r.timestamp_ns());
        self.c_time.push(r.clock(), r.timestamp_ns(), &mut self.buf);
        for (i, c) in self.c_texts.iter_mut().enumerate() {
            c.append_value(r.text(i, &mut self.buf));
        }
        self.c_node.append_option(r.node_id());
        self.c_data.append_value(r.data(&mut self.buf));
    }
}

impl<T: EnvelopeRow> Rows for EnvelopeRows<T> {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
    fn table(&self) -> &'static str {
        T::TABLE
    }
    fn len(&self) -> usize {
        self.c_ts.len()
    }
    fn full(&self) -> bool {
        self.len() >= BATCH_ROWS
    }
    fn take(&mut self) -> Result<RecordBatch, arrow_schema::ArrowError> {
        let before = T::BEFORE_TS.len();
        let mut cols: Vec<ArrayRef> = vec![
            Arc::new(self.c_source.finish()),
            Arc::new(self.c_type.finish()),
        ];
        let mut texts = self
            .c_texts
            .iter_mut()
            .map(|c| Arc::new(c.finish()) as ArrayRef);
        cols.extend(texts.by_ref().take(before));
        cols.push(Arc::new(self.c_ts.finish()));
        cols.extend(self.c_time.finish());
        cols.extend(texts);
        cols.push(Arc::new(self.c_node.finish()));
        cols.push(Arc::new(self.c_data.finish()));
        RecordBatch::try_new(self.schema.clone(), cols)
    }
}

/// What a file's metadata says about where its rows come from.
#[derive(Clone, Debug)]
pub(crate) struct FileInfo {
    /// The input (path as given, `stdin`, `udp://...`).
    pub source: String,
    /// The configuration of the run (JSON text): the command line and reader options.
    pub config: String,
    /// The compression of every column.
    pub codec: Codec,
    /// XXH3-128 of the input file's bytes (32 hex digits); `None` for live inputs (`udp://`,
    /// stdin), which have no file to hash.
    pub source_xxh3_128: Option<String>,
}

impl FileInfo {
    /// The info of this process: `source` and the command line as the configuration.
    pub(crate) fn of_process(source: &str) -> Self {
        let args: Vec<String> = std::env::args().skip(1).collect();
        FileInfo {
            source: source.to_string(),
            config: serde_json::json!({ "command_line": args }).to_string(),
            codec: Codec::default(),
            source_xxh3_128: None,
        }
    }

    /// [`FileInfo::of_process`] of `input` (described as `source`), with the content hash of
    /// a file input ([`crate::dataset::content_hash`]: one more pass over the file before it is
    /// read, under 1 % of the CPU time of a Parquet conversion; docs/parquet.md).
    pub(crate) fn of_input(input: &InputSpec, source: &str) -> Result<Self> {
        let mut info = Self::of_process(source);
        if let InputSpec::File(p) = input {
            info.source_xxh3_128 = Some(crate::dataset::content_hash(p)?.0);
        }
        Ok(info)
    }

    fn key_values(&self, table: &str) -> Vec<(String, String)> {
        vec![
            (
                "wifi_sensing.schema".into(),
                format!("wifi-sensing/{table}/{SCHEMA}"),
            ),
            (
                "wifi_sensing.writer".into(),
                format!("wifi-sensing {}", env!("CARGO_PKG_VERSION")),
            ),
            ("wifi_sensing.source".into(), self.source.clone()),
            ("wifi_sensing.config".into(), self.config.clone()),
        ]
        .into_iter()
        .chain(
            self.source_xxh3_128
                .iter()
                .map(|h| ("wifi_sensing.source_xxh3_128".into(), h.clone())),
        )
        .collect()
    }

    /// `schema` with this info as its metadata.
    fn schema_with(&self, schema: &Schema, table: &str) -> SchemaRef {
        Arc::new(
            schema
                .clone()
                .with_metadata(self.key_values(table).into_iter().collect()),
        )
    }
}

/// Rows written into one Parquet file as they come: bounded memory.
pub(crate) struct ParquetTable<R: Rows, W: Write + Send> {
    rows: R,
    schema: SchemaRef,
    writer: Encoder<W>,
    /// Rows written (flushed into the writer or still in `rows`).
    pub rows_total: u64,
}

impl<R: Rows, W: Write + Send> ParquetTable<R, W> {
    /// A table writing into `out`, its file metadata from `info`; row groups close at
    /// `row_group_bytes`.
    pub(crate) fn new(rows: R, out: W, info: &FileInfo, row_group_bytes: usize) -> Result<Self> {
        Self::with_encoding(rows, out, info, row_group_bytes, false)
    }

    /// [`ParquetTable::new`] whose columns are encoded on two threads when `parallel` (the
    /// file is the same: [`Encoder`]).
    pub(crate) fn with_encoding(
        rows: R,
        out: W,
        info: &FileInfo,
        row_group_bytes: usize,
        parallel: bool,
    ) -> Result<Self> {
        let schema = info.schema_with(&rows.schema(), rows.table());
        let kv = info
            .key_values(rows.table())
            .into_iter()
            .map(|(k, v)| KeyValue::new(k, v))
            .collect();
        let mut props = WriterProperties::builder()
            .set_compression(info.codec.parquet()?)
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
            .set_max_row_group_bytes(Some(row_group_bytes))
            .set_key_value_metadata(Some(kv));
        // The CSI values, subcarrier indices and `meta` JSON: a dictionary does not pay for
        // float samples or for text that differs in every row, and the subcarrier lists, which
        // repeat row after row, compress as well without one; hashing every value cost more
        // CPU than the rest of the frame. Nor do they get min / max statistics: no query prunes
        // pages by one CSI value or by a JSON text, and comparing every value cost about a
        // tenth of the conversion (docs/speed.md). They are written plain, then compressed.
        for c in rows.plain_columns() {
            let path = ColumnPath::new(c.split('.').map(String::from).collect());
            props = props
                .set_column_dictionary_enabled(path.clone(), false)
                .set_column_statistics_enabled(path, EnabledStatistics::None);
        }
        let props = props.build();
        let writer = ArrowWriter::try_new(out, schema.clone(), Some(props))?;
        let writer = Encoder::new(writer, schema.clone(), parallel)?;
        Ok(ParquetTable {
            rows,
            schema,
            writer,
            rows_total: 0,
        })
    }

    /// The row builder; call [`ParquetTable::pushed`] after appending to it.
    pub(crate) fn rows(&mut self) -> &mut R {
        &mut self.rows
    }

    /// Counts the row just appended and writes the batch when it is full.
    pub(crate) fn pushed(&mut self) -> wifi_sensing_core::Result<()> {
        self.rows_total += 1;
        if self.rows.full() {
            self.write_batch()?;
        }
        Ok(())
    }

    fn write_batch(&mut self) -> wifi_sensing_core::Result<()> {
        if self.rows.len() == 0 {
            return Ok(());
        }
        let batch = self
            .rows
            .take()
            .and_then(|b| b.with_schema(self.schema.clone()))
            .map_err(enc_err)?;
        self.writer.write(&batch).map_err(enc_err)
    }

    /// Writes what is left and the footer; returns the output.
    pub(crate) fn finish(mut self) -> wifi_sensing_core::Result<W> {
        self.write_batch()?;
        // writes the last row group and the footer
        self.writer.into_inner().map_err(enc_err)
    }
}

type FileTable<R> = ParquetTable<R, BufWriter<File>>;

/// `OUT.parquet` -> `OUT.<table>.parquet`.
pub(crate) fn sibling(path: &Path, table: &str) -> PathBuf {
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned());
    path.with_file_name(format!("{}.{table}.parquet", stem.unwrap_or_default()))
}

/// The Parquet sink of `convert -o OUT.parquet` and `run -o OUT.parquet`: frames into `OUT.parquet`,
/// non-CSI records into `OUT.aux.parquet` and analyses into `OUT.analyses.parquet` (each made only
/// when the run has such records; a stale one from an earlier run is removed at the start).
pub(crate) struct ParquetSink {
    path: PathBuf,
    info: FileInfo,
    frames: Option<FileTable<FrameRows>>,
    aux: Option<FileTable<AuxRows>>,
    analyses: Option<FileTable<AnalysisRows>>,
    written: Vec<(PathBuf, u64)>,
    log: Option<crate::Log>,
    /// Columns encoded on two threads ([`Encoder`]).
    parallel: bool,
}

impl ParquetSink {
    /// Creates `path` (the frames table) and removes stale sibling tables; `parallel`: the
    /// columns of every table are encoded on two threads (the files are the same, [`Encoder`]).
    pub(crate) fn create(
        path: &Path,
        info: FileInfo,
        log: crate::Log,
        parallel: bool,
    ) -> Result<Self> {
        for t in ["aux", "analyses"] {
            let s = sibling(path, t);
            if s.exists() {
                std::fs::remove_file(&s)
                    .with_context(|| format!("cannot remove the stale {}", s.display()))?;
                log.info(format_args!(
                    "removed {}, left by an earlier run into {} (this run writes its own {} table when it has such records)",
                    s.display(),
                    path.display(),
                    t
                ));
            }
        }
        let frames = ParquetTable::with_encoding(
            FrameRows::new(&info.source, true),
            crate::output::create_file(path, &log)?,
            &info,
            ROW_GROUP_BYTES,
            parallel,
        )?;
        Ok(ParquetSink {
            path: path.to_path_buf(),
            info,
            frames: Some(frames),
            aux: None,
            analyses: None,
            written: Vec::new(),
            log: None,
            parallel,
        })
    }

    /// Logs the files written at the end.
    pub(crate) fn logging(mut self, log: crate::Log) -> Self {
        self.log = Some(log);
        self
    }

    /// Appends `row` to the sibling table `table` picks, opening its file on the first row.
    fn push_envelope<T: EnvelopeRow>(
        &mut self,
        table: impl Fn(&mut Self) -> &mut Option<FileTable<EnvelopeRows<T>>>,
        row: &T,
    ) -> wifi_sensing_core::Result<()> {
        if table(self).is_none() {
            let p = sibling(&self.path, T::TABLE);
            let quiet = crate::Log { quiet: true };
            let out = crate::output::create_file(&p, self.log.as_ref().unwrap_or(&quiet))
                .map_err(enc_err)?;
            let rows = EnvelopeRows::<T>::new(&self.info.source);
            let t =
                ParquetTable::with_encoding(rows, out, &self.info, ROW_GROUP_BYTES, self.parallel);
            *table(self) = Some(t.map_err(enc_err)?);
        }
        if let Some(t) = table(self) {
            t.rows().push(row);
            t.pushed()?;
        }
        Ok(())
    }

    /// The files written, with their row counts (after `finish`).
    pub(crate) fn files(&self) -> &[(PathBuf, u64)] {
        &self.written
    }

    fn open_files(&self) -> Vec<(PathBuf, u64)> {
        let mut v = Vec::new();
        if let Some(t) = &self.frames {
            v.push((self.path.clone(), t.rows_total));
        }
        if let Some(t) = &self.aux {
            v.push((sibling(&self.path, "aux"), t.rows_total));
        }
        if let Some(t) = &self.analyses {
            v.push((sibling(&self.path, "analyses"), t.rows_total));
        }
        v
    }
}

fn finish_file<R: Rows>(t: &mut Option<FileTable<R>>) -> wifi_sensing_core::Result<()> {
    if let Some(t) = t.take() {
        let mut w = t.finish()?;
        w.flush()
            .map_err(|e| wifi_sensing_core::Error::io("cannot write Parquet", e))?;
    }
    Ok(())
}

impl Sink<Output> for ParquetSink {
    fn item(&mut self, item: &Output) -> wifi_sensing_core::Result<bool> {
        match item {
            Output::Frame(f) => {
                if let Some(t) = &mut self.frames {
                    t.rows().push(f);
                    t.pushed()?;
                }
            }
            Output::Aux(a) => self.push_envelope(|s| &mut s.aux, a)?,
            Output::Analysis(a) => self.push_envelope(|s| &mut s.analyses, a)?,
        }
        Ok(true)
    }

    fn finish(&mut self, _s: &Summary) -> wifi_sensing_core::Result<()> {
        // keep the counts for `files` after the writers are closed
        let counts = self.open_files();
        finish_file(&mut self.frames)?;
        finish_file(&mut self.aux)?;
        finish_file(&mut self.analyses)?;
        if let Some(log) = &self.log {
            for (p, n) in &counts {
                log.info(format_args!(
                    "wrote {n} {} to {}",
                    if *n == 1 { "row" } else { "rows" },
                    p.display()
                ));
            }
        }
        self.written = counts;
        Ok(())
    }
}

/// The table an Arrow IPC stream carries (one schema per stream).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StreamTable {
    Frames,
    Analyses,
}

/// One table written as an Arrow IPC stream: its rows, gathered into batches.
struct IpcTable<R: Rows, W: Write> {
    rows: R,
    schema: SchemaRef,
    writer: Option<arrow_ipc::writer::StreamWriter<W>>,
    /// Write every row as soon as it comes (live inputs).
    eager: bool,
    /// Rows written so far.
    rows_total: u64,
}

impl<R: Rows, W: Write> IpcTable<R, W> {
    /// Starts the stream (its schema, with `info` as metadata) in `out`.
    fn new(rows: R, out: W, info: &FileInfo, eager: bool) -> Result<Self> {
        let schema = info.schema_with(&rows.schema(), rows.table());
        let writer = arrow_ipc::writer::StreamWriter::try_new(out, &schema)?;
        Ok(IpcTable {
            rows,
            schema,
            writer: Some(writer),
            eager,
            rows_total: 0,
        })
    }

    /// Writes the rows held as a batch when it is full, when every row is written at once
    /// (`eager`), or when `force`d.
    fn write(&mut self, force: bool) -> wifi_sensing_core::Result<()> {
        if self.rows.len() == 0 || !(force || self.eager || self.rows.full()) {
            return Ok(());
        }
        let batch = self
            .rows
            .take()
            .and_then(|b| b.with_schema(self.schema.clone()))
            .map_err(enc_err)?;
        let w = self
            .writer
            .as_mut()
            .ok_or_else(|| enc_err("the Arrow stream is finished"))?;
        w.write(&batch).map_err(ipc_err)?;
        self.rows_total += batch.num_rows() as u64;
        if self.eager {
            w.flush().map_err(ipc_err)?;
        }
        Ok(())
    }

    /// Writes what is left and the end-of-stream marker.
    fn finish(&mut self) -> wifi_sensing_core::Result<()> {
        self.write(true)?;
        if let Some(mut w) = self.writer.take() {
            w.finish().map_err(ipc_err)?;
            w.flush().map_err(ipc_err)?;
        }
        Ok(())
    }
}

/// The table on the main stream.
enum MainTable<W: Write> {
    // (boxed: the builders of the two tables differ much in size)
    Frames(Box<IpcTable<FrameRows, W>>),
    Analyses(Box<IpcTable<AnalysisRows, W>>),
}

/// A table written as an Arrow IPC stream of its own into a file (`--arrow-aux FILE`,
/// `--arrow-analyses FILE`).
struct SideStream<R: Rows> {
    table: IpcTable<R, BufWriter<File>>,
    path: PathBuf,
}

impl<R: Rows> SideStream<R> {
    /// The stream of `rows` into the file `path` (created now, so a run without such records
    /// leaves a stream with no rows).
    fn create(
        rows: R,
        path: &Path,
        info: &FileInfo,
        eager: bool,
        log: &crate::Log,
    ) -> Result<Self> {
        let out = crate::output::create_file(path, log)?;
        Ok(SideStream {
            table: IpcTable::new(rows, out, info, eager)?,
            path: path.to_path_buf(),
        })
    }

    /// Finishes the stream and says where its rows went.
    fn finish(&mut self, log: &crate::Log) -> wifi_sensing_core::Result<()> {
        self.table.finish()?;
        log.info(format_args!(
            "wrote {} rows of the {} table to {} (Arrow IPC stream)",
            self.table.rows_total,
            self.table.rows.table(),
            self.path.display()
        ));
        Ok(())
    }
}

/// Writes one table as an Arrow IPC stream (`run --output-format arrow`), and the non-CSI
/// records and the analyses of a stream of frames as streams of their own into files when they
/// are given (`--arrow-aux FILE`, `--arrow-analyses FILE`); records of no stream are counted in
/// [`ArrowStreamSink::left_out`] and reported at the end.
pub(crate) struct ArrowStreamSink<W: Write> {
    main: MainTable<W>,
    aux: Option<SideStream<AuxRows>>,
    analyses: Option<SideStream<AnalysisRows>>,
    /// Records of no stream (not written).
    pub left_out: u64,
    /// Of those, non-CSI records.
    left_out_aux: u64,
    log: crate::Log,
}

impl<W: Write> ArrowStreamSink<W> {
    /// A stream of `table` into `out`; `eager` writes a batch per record.
    pub(crate) fn new(
        out: W,
        table: StreamTable,
        info: &FileInfo,
        eager: bool,
        log: crate::Log,
    ) -> Result<Self> {
        let main = match table {
            StreamTable::Frames => MainTable::Frames(Box::new(IpcTable::new(
                FrameRows::new(&info.source, true),
                out,
                info,
                eager,
            )?)),
            StreamTable::Analyses => MainTable::Analyses(Box::new(IpcTable::new(
                AnalysisRows::new(&info.source),
                out,
                info,
                eager,
            )?)),
        };
        Ok(ArrowStreamSink {
            main,
            aux: None,
            analyses: None,
            left_out: 0,
            left_out_aux: 0,
            log,
        })
    }

    /// Writes the non-CSI records as an Arrow IPC stream of the `aux` table into the file
    /// `path` (created now, so a run without such records leaves a stream with no rows).
    pub(crate) fn with_aux_file(
        mut self,
        path: &Path,
        info: &FileInfo,
        eager: bool,
    ) -> Result<Self> {
        let rows = AuxRows::new(&info.source);
        self.aux = Some(SideStream::create(rows, path, info, eager, &self.log)?);
        Ok(self)
    }

    /// Writes the analysis records of a stream of frames as an Arrow IPC stream of the
    /// `analyses` table into the file `path` (created now, as [`Self::with_aux_file`]).
    pub(crate) fn with_analyses_file(
        mut self,
        path: &Path,
        info: &FileInfo,
        eager: bool,
    ) -> Result<Self> {
        let rows = AnalysisRows::new(&info.source);
        self.analyses = Some(SideStream::create(rows, path, info, eager, &self.log)?);
        Ok(self)
    }

    fn table(&self) -> StreamTable {
        match self.main {
            MainTable::Frames(_) => StreamTable::Frames,
            MainTable::Analyses(_) => StreamTable::Analyses,
        }
    }
}

/// Arrow errors, keeping an I/O error (a closed pipe) as one.
fn ipc_err(e: arrow_schema::ArrowError) -> wifi_sensing_core::Error {
    match e {
        arrow_schema::ArrowError::IoError(msg, io) => {
            wifi_sensing_core::Error::io(format!("cannot write the Arrow stream: {msg}"), io)
        }
        e => enc_err(e),
    }
}

impl<W: Write> Sink<Output> for ArrowStreamSink<W> {
    fn item(&mut self, item: &Output) -> wifi_sensing_core::Result<bool> {
        match (&mut self.main, &mut self.aux, &mut self.analyses, item) {
            (MainTable::Frames(t), _, _, Output::Frame(f)) => {
                t.rows.push(f);
                t.write(false)?;
            }
            (MainTable::Analyses(t), _, _, Output::Analysis(a)) => {
                t.rows.push(a);
                t.write(false)?;
            }
            (_, Some(s), _, Output::Aux(a)) => {
                s.table.rows.push(a);
                s.table.write(false)?;
            }
            (_, _, Some(s), Output::Analysis(a)) => {
                s.table.rows.push(a);
                s.table.write(false)?;
            }
            (_, _, _, other) => {
                self.left_out += 1;
                self.left_out_aux += u64::from(matches!(other, Output::Aux(_)));
            }
        }
        Ok(true)
    }

    fn finish(&mut self, _s: &Summary) -> wifi_sensing_core::Result<()> {
        match &mut self.main {
            MainTable::Frames(t) => t.finish()?,
            MainTable::Analyses(t) => t.finish()?,
        }
        if let Some(s) = &mut self.aux {
            s.finish(&self.log)?;
        }
        if let Some(s) = &mut self.analyses {
            s.finish(&self.log)?;
        }
        if self.left_out > 0 {
            let (aux, other) = (self.left_out_aux, self.left_out - self.left_out_aux);
            let (what, other_name, other_hint) = match self.table() {
                StreamTable::Frames => (
                    "frames",
                    "analyses",
                    "--arrow-analyses FILE writes them as a second Arrow stream; --no-frames streams them",
                ),
                StreamTable::Analyses => ("analyses", "frames", "leave out --no-frames"),
            };
            let mut parts = Vec::new();
            if other > 0 {
                parts.push(format!("{other} {other_name} ({other_hint})"));
            }
            if aux > 0 {
                parts.push(format!(
                    "{aux} non-CSI records (--arrow-aux FILE writes them as a second Arrow stream; -o X.parquet to X.aux.parquet)"
                ));
            }
            self.log.warn(format_args!(
                "left out of the Arrow stream, which carries the {what} table only: {}",
                parts.join(", ")
            ));
        }
        Ok(())
    }
}

/// Output options of `run`: where records go and in which format.
#[derive(clap::Args, Debug, Clone, Default)]
pub(crate) struct OutputArgs {
    /// Write to this file instead of stdout: `.parquet` (frames; non-CSI records and analyses
    /// go to `NAME.aux.parquet` / `NAME.analyses.parquet`, see docs/parquet.md) or `.jsonl`
    /// (`-` is stdout).
    #[arg(short, long)]
    pub output: Option<String>,
    /// Format of stdout: `jsonl` (default) or `arrow` (an Arrow IPC stream of the frames table,
    /// or of the analyses table with `--no-frames`).
    #[arg(long, value_parser = ["jsonl", "arrow"])]
    pub output_format: Option<String>,
    /// With `--output-format arrow`: write the non-CSI records of the input (ADR-018 vitals,
    /// feature vectors, ...) to this file as a second Arrow IPC stream, of the `aux` table (the
    /// stream on stdout carries one table).
    #[arg(long, value_name = "FILE")]
    pub arrow_aux: Option<String>,
    /// With `--output-format arrow` and frames on stdout: write the analysis records (events,
    /// vital signs, introspection, pose, spectral records) to this file as a second Arrow IPC
    /// stream, of the `analyses` table (`--no-frames` puts them on stdout instead).
    #[arg(long, value_name = "FILE")]
    pub arrow_analyses: Option<String>,
}

/// Refuses output options of `run` that cannot work, as usage errors before any work is done;
/// `frames` says whether frames are emitted.
pub(crate) fn check_run_output(args: &OutputArgs, frames: bool) -> Result<()> {
    if let Some(a) = &args.arrow_analyses {
        if args.output_format.as_deref() != Some("arrow") {
            crate::usage!(
                "--arrow-analyses goes with --output-format arrow (-o X.parquet writes the analyses to X.analyses.parquet)"
            );
        }
        if a == "-" {
            crate::usage!("--arrow-analyses names a file: stdout carries the main Arrow stream");
        }
        if !frames {
            crate::usage!(
                "--arrow-analyses with --no-frames: the analyses are the Arrow stream on stdout; leave out one of them"
            );
        }
        if args.arrow_aux.as_deref() == Some(a.as_str()) {
            crate::usage!(
                "--arrow-analyses and --arrow-aux name one file: each stream needs its own"
            );
        }
    }
    if let Some(a) = &args.arrow_aux {
        if args.output_format.as_deref() != Some("arrow") {
            crate::usage!(
                "--arrow-aux goes with --output-format arrow (-o X.parquet writes the non-CSI records to X.aux.parquet)"
            );
        }
        if a == "-" {
            crate::usage!("--arrow-aux names a file: stdout carries the main Arrow stream");
        }
    }
    if args.output.is_none()
        && args.output_format.as_deref() == Some("arrow")
        && std::io::IsTerminal::is_terminal(&std::io::stdout())
    {
        crate::usage!(
            "--output-format arrow writes a binary Arrow IPC stream, and stdout is a terminal: pipe \
             it into a program or redirect it to a file (`> out.arrows`)"
        );
    }
    match (&args.output, args.output_format.as_deref()) {
        (Some(_), Some(_)) => {
            crate::usage!("--output-format applies to stdout; -o names its format by extension")
        }
        (Some(o), None) => match crate::values::extension(o).as_str() {
            "parquet" | "jsonl" | "json" => Ok(()),
            "csirec" => crate::usage!(
                "run writes .parquet or .jsonl, not {o:?}: a native recording of a capture is made by `wifi-sensing convert INPUT -o {o}`"
            ),
            _ => crate::usage!("cannot tell the output format of {o:?}: use a .parquet or .jsonl name"),
        },
        _ => Ok(()),
    }
}

/// The sink `run` writes to, from its output options; `frames` says whether frames are emitted.
pub(crate) struct RunSink {
    /// Where the records go.
    pub(crate) sink: Box<dyn Sink<Output>>,
    /// Which records the sink writes (and `--limit` and the "records written" count): all but
    /// for an Arrow stream, which carries one table.
    pub(crate) counts: fn(&Output) -> bool,
}

impl<S: Sink<Output> + 'static> From<S> for RunSink {
    fn from(s: S) -> Self {
        RunSink {
            sink: Box::new(s),
            counts: |_| true,
        }
    }
}

/// The sink `run` writes to, from its output options; `frames` says whether frames are emitted.
/// `input` (described as `source`) is hashed for the metadata of a columnar output when it is a
/// file.
pub(crate) fn run_sink(
    args: &OutputArgs,
    input: &InputSpec,
    source: &str,
    frames: bool,
    live: bool,
    log: &crate::Log,
) -> Result<RunSink> {
    let info = || FileInfo::of_input(input, source);
    match (&args.output, args.output_format.as_deref()) {
        (Some(_), Some(_)) => {
            bail!("--output-format applies to stdout; -o names its format by extension")
        }
        (Some(o), None) => {
            let p = Path::new(o);
            crate::output::ensure_distinct(p, Path::new(source), "input")?;
            let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
            match ext.to_ascii_lowercase().as_str() {
                "parquet" => Ok(ParquetSink::create(p, info()?, *log, false)?
                    .logging(*log)
                    .into()),
                "jsonl" | "json" => Ok(wifi_sensing_core::JsonLinesSink::new(
                    crate::output::create_file(p, log)?,
                )
                .into()),
                _ => bail!("cannot tell the output format of {o:?}: use a .parquet or .jsonl name"),
            }
        }
        (None, Some("arrow")) => {
            let table = if frames {
                StreamTable::Frames
            } else {
                StreamTable::Analyses
            };
            // the side files are checked before the main stream writes its schema to stdout
            let sides = [&args.arrow_aux, &args.arrow_analyses];
            for a in sides.into_iter().flatten() {
                let a = Path::new(a);
                crate::output::ensure_not_input(a, input)?;
                crate::output::ensure_distinct(
                    a,
                    Path::new(crate::output::STDOUT),
                    "output (stdout)",
                )?;
            }
            if let (Some(a), Some(x)) = (&args.arrow_analyses, &args.arrow_aux) {
                crate::output::ensure_distinct(Path::new(a), Path::new(x), "--arrow-aux file")?;
            }
            let info = info()?;
            let mut sink = ArrowStreamSink::new(crate::output::stdout(), table, &info, live, *log)?;
            if let Some(a) = &args.arrow_aux {
                sink = sink.with_aux_file(Path::new(a), &info, live)?;
            }
            if let Some(a) = &args.arrow_analyses {
                sink = sink.with_analyses_file(Path::new(a), &info, live)?;
            }
            let counts: fn(&Output) -> bool = match table {
                StreamTable::Frames => |o| matches!(o, Output::Frame(_)),
                StreamTable::Analyses => |o| matches!(o, Output::Analysis(_)),
            };
            Ok(RunSink {
                sink: Box::new(sink),
                counts,
            })
        }
        (None, _) => Ok(
            wifi_sensing_core::JsonLinesSink::new(crate::output::stdout())
                .flush_each_line(live)
                .into(),
        ),
    }
}
