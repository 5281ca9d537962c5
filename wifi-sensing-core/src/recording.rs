//! The native `.csirec` recording: lossless record and replay of [`Record`]s.
//!
//! Layout (all integers little-endian):
//!
//! ```text
//! "WSCSIREC"                    8 bytes magic
//! u16 format version            currently 1
//! u32 header length H
//! H bytes                       bincode 2 (standard config) of RecordingHeader
//! then, repeated until the end (append-only):
//!   u32 body length N           at most Limits::max_record_bytes
//!   u32 CRC-32 (IEEE) of body
//!   N bytes                     bincode 2 (standard config) of Record
//! ```
//!
//! A file cut inside an entry replays every complete entry and then reports
//! [`Error::Truncated`] with the offset of the cut entry. An entry whose CRC does not match is a
//! recoverable [`Error::Malformed`] and is skipped by its length.

use std::io::Write;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::frame::{CaptureFormat, CsiFrame};
use crate::reader::{CaptureReader, Confidence, FormatDescriptor, Input, ReaderOptions};
use crate::record::{AuxRecord, Record};
use crate::util::crc32;

/// File magic.
pub const MAGIC: &[u8; 8] = b"WSCSIREC";
/// Format version written by this crate.
pub const FORMAT_VERSION: u16 = 1;
const MAX_HEADER: usize = 1 << 20;

/// Header of a recording.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecordingHeader {
    /// Format version (see [`FORMAT_VERSION`]).
    pub format_version: u16,
    /// Creation time, nanoseconds since the Unix epoch.
    pub created_unix_ns: i64,
    /// Description of the source (file name, `udp://...`, simulator scenario).
    pub source: String,
    /// Configuration used to produce the recording, as JSON text (may be empty).
    pub config: String,
    /// Version of the library that wrote it.
    pub writer: String,
}

impl RecordingHeader {
    /// A header stamped with the current time and this library's version.
    pub fn new(source: impl Into<String>, config: impl Into<String>) -> Self {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as i64)
            .unwrap_or(0);
        RecordingHeader {
            format_version: FORMAT_VERSION,
            created_unix_ns: now,
            source: source.into(),
            config: config.into(),
            writer: format!("wifi-sensing-core {}", env!("CARGO_PKG_VERSION")),
        }
    }
}

fn cfg() -> bincode::config::Configuration {
    bincode::config::standard()
}

/// Upper bound on the memory one decoded entry may claim. bincode checks every length prefix
/// against it before allocating, so a corrupt or hostile length cannot allocate more than this
/// (entries are at most `Limits::max_record_bytes` = 16 MiB on disk by default, and decode to
/// at most about twice that).
const DECODE_LIMIT: usize = 64 << 20;

fn decode_cfg() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<DECODE_LIMIT>()
}

fn enc_err(e: impl std::fmt::Display) -> Error {
    Error::Encode(e.to_string())
}

/// [`Record`] by reference: serialises exactly as `Record` does (same variant names and order).
#[derive(Serialize)]
#[serde(rename = "Record", rename_all = "snake_case")]
enum RecordRef<'a> {
    Frame(&'a CsiFrame),
    Aux(&'a AuxRecord),
}

/// Appends records to a recording.
///
/// ```
/// use wifi_sensing_core::recording::{RecordingWriter, RecordingHeader, RecordingReader};
/// use wifi_sensing_core::{CsiFrame, CaptureFormat, Device, Record, CaptureReader};
/// let mut buf = Vec::new();
/// let mut w = RecordingWriter::new(&mut buf, &RecordingHeader::new("doc", ""))?;
/// let f = CsiFrame::new(CaptureFormat::Simulated, Device::Simulator, ndarray::Array3::zeros((1, 1, 4)));
/// w.write(&Record::Frame(f.clone()))?;
/// w.flush()?;
/// drop(w);
/// let mut r = RecordingReader::new(Box::new(std::io::Cursor::new(buf)), &Default::default())?;
/// assert_eq!(r.next_record().unwrap()?, Record::Frame(f));
/// assert!(r.next_record().is_none());
/// # Ok::<(), wifi_sensing_core::Error>(())
/// ```
#[derive(Debug)]
pub struct RecordingWriter<W: Write> {
    out: W,
    written: u64,
    scratch: Vec<u8>,
}

impl<W: Write> RecordingWriter<W> {
    /// Writes the file header and returns the writer.
    pub fn new(mut out: W, header: &RecordingHeader) -> Result<Self> {
        let h = bincode::serde::encode_to_vec(header, cfg()).map_err(enc_err)?;
        let mut head = Vec::with_capacity(14 + h.len());
        head.extend_from_slice(MAGIC);
        head.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        head.extend_from_slice(&(h.len() as u32).to_le_bytes());
        head.extend_from_slice(&h);
        out.write_all(&head)
            .map_err(|e| Error::io("cannot write recording header", e))?;
        Ok(RecordingWriter {
            out,
            written: 0,
            scratch: Vec::new(),
        })
    }

    /// Appends one record.
    pub fn write(&mut self, record: &Record) -> Result<()> {
        self.write_entry(record)
    }

    /// Appends one frame: the same bytes as `write(&Record::Frame(frame.clone()))`, without
    /// the clone.
    pub fn write_frame(&mut self, frame: &CsiFrame) -> Result<()> {
        self.write_entry(&RecordRef::Frame(frame))
    }

    /// Appends one non-CSI record: the same bytes as `write(&Record::Aux(aux.clone()))`,
    /// without the clone.
    pub fn write_aux(&mut self, aux: &AuxRecord) -> Result<()> {
        self.write_entry(&RecordRef::Aux(aux))
    }

    fn write_entry<T: Serialize>(&mut self, record: &T) -> Result<()> {
        self.scratch.clear();
        self.scratch.extend_from_slice(&[0u8; 8]);
        bincode::serde::encode_into_std_write(record, &mut self.scratch, cfg()).map_err(enc_err)?;
        let body_len = self.scratch.len() - 8;
        let crc = crc32(&self.scratch[8..]);
        self.scratch[..4].copy_from_slice(&(body_len as u32).to_le_bytes());
        self.scratch[4..8].copy_from_slice(&crc.to_le_bytes());
        self.out
            .write_all(&self.scratch)
            .map_err(|e| Error::io("cannot write recording", e))?;
        self.written += 1;
        Ok(())
    }

    /// Records written so far.
    pub fn records_written(&self) -> u64 {
        self.written
    }

    /// Flushes the underlying writer.
    pub fn flush(&mut self) -> Result<()> {
        self.out
            .flush()
            .map_err(|e| Error::io("cannot flush recording", e))
    }

    /// Returns the underlying writer.
    pub fn into_inner(self) -> W {
        self.out
    }
}

/// Reads a recording.
pub struct RecordingReader {
    input: Input,
    header: RecordingHeader,
    pos: u64,
    max_record: usize,
    done: bool,
    buf: Vec<u8>,
}

impl std::fmt::Debug for RecordingReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordingReader")
            .field("header", &self.header)
            .field("pos", &self.pos)
            .finish()
    }
}

fn invalid(offset: u64, reason: impl Into<String>) -> Error {
    Error::InvalidHeader {
        format: CaptureFormat::Recording,
        offset,
        reason: reason.into(),
    }
}

impl RecordingReader {
    /// Reads the header and returns a reader positioned on the first record.
    pub fn new(mut input: Input, options: &ReaderOptions) -> Result<Self> {
        let mut head = [0u8; 14];
        let n = crate::util::read_full(&mut input, &mut head)
            .map_err(|e| Error::io("cannot read recording header", e))?;
        if n < 14 {
            return Err(invalid(
                0,
                format!("file has {n} bytes, the header needs 14"),
            ));
        }
        if &head[..8] != MAGIC {
            return Err(invalid(0, "missing WSCSIREC magic"));
        }
        let version = u16::from_le_bytes([head[8], head[9]]);
        if version != FORMAT_VERSION {
            return Err(Error::Unsupported {
                format: CaptureFormat::Recording,
                reason: format!(
                    "recording format version {version} (this library reads {FORMAT_VERSION})"
                ),
            });
        }
        let hlen = u32::from_le_bytes([head[10], head[11], head[12], head[13]]) as usize;
        if hlen > MAX_HEADER {
            return Err(Error::LimitExceeded {
                format: CaptureFormat::Recording,
                offset: 10,
                what: "header length",
                value: hlen as u64,
                limit: MAX_HEADER as u64,
            });
        }
        let mut hbuf = vec![0u8; hlen];
        let n = crate::util::read_full(&mut input, &mut hbuf)
            .map_err(|e| Error::io("cannot read recording header", e))?;
        if n < hlen {
            return Err(invalid(14, format!("header cut: {n} of {hlen} bytes")));
        }
        let (header, _): (RecordingHeader, usize) =
            bincode::serde::decode_from_slice(&hbuf, decode_cfg())
                .map_err(|e| invalid(14, e.to_string()))?;
        Ok(RecordingReader {
            input,
            header,
            pos: 14 + hlen as u64,
            max_record: options.limits.max_record_bytes,
            done: false,
            buf: Vec::new(),
        })
    }

    /// The file header.
    pub fn header(&self) -> &RecordingHeader {
        &self.header
    }

    fn read_entry(&mut self) -> Option<Result<Record>> {
        let start = self.pos;
        let mut len_crc = [0u8; 8];
        let n = match crate::util::read_full(&mut self.input, &mut len_crc) {
            Ok(n) => n,
            Err(e) => return Some(Err(Error::io("cannot read recording", e))),
        };
        if n == 0 {
            return None;
        }
        if n < 8 {
            return Some(Err(Error::Truncated {
                format: CaptureFormat::Recording,
                offset: start,
                needed: 8,
                available: n as u64,
            }));
        }
        let len = u32::from_le_bytes([len_crc[0], len_crc[1], len_crc[2], len_crc[3]]) as usize;
        let crc = u32::from_le_bytes([len_crc[4], len_crc[5], len_crc[6], len_crc[7]]);
        if len > self.max_record {
            return Some(Err(Error::LimitExceeded {
                format: CaptureFormat::Recording,
                offset: start,
                what: "entry length",
                value: len as u64,
                limit: self.max_record as u64,
            }));
        }
        // Grow the buffer by reading, never by trusting `len` for a large allocation up front.
        self.buf.clear();
        let got = match (&mut self.input)
            .take(len as u64)
            .read_to_end(&mut self.buf)
        {
            Ok(g) => g,
            Err(e) => return Some(Err(Error::io("cannot read recording", e))),
        };
        if got < len {
            return Some(Err(Error::Truncated {
                format: CaptureFormat::Recording,
                offset: start,
                needed: 8 + len as u64,
                available: 8 + got as u64,
            }));
        }
        self.pos += 8 + len as u64;
        let computed = crc32(&self.buf);
        if computed != crc {
            return Some(Err(Error::Malformed {
                format: CaptureFormat::Recording,
                offset: start,
                line: None,
                reason: format!(
                    "entry CRC-32 mismatch (stored 0x{crc:08X}, computed 0x{computed:08X})"
                ),
            }));
        }
        match bincode::serde::decode_from_slice::<Record, _>(&self.buf, decode_cfg()) {
            Ok((r, used)) if used == len => Some(Ok(r)),
            Ok((_, used)) => Some(Err(Error::Malformed {
                format: CaptureFormat::Recording,
                offset: start,
                line: None,
                reason: format!("entry decodes to {used} of its {len} bytes"),
            })),
            Err(e) => Some(Err(Error::Malformed {
                format: CaptureFormat::Recording,
                offset: start,
                line: None,
                reason: format!("entry does not decode: {e}"),
            })),
        }
    }
}

use std::io::Read as _;

impl CaptureReader for RecordingReader {
    fn format(&self) -> CaptureFormat {
        CaptureFormat::Recording
    }

    fn next_record(&mut self) -> Option<Result<Record>> {
        if self.done {
            return None;
        }
        let r = self.read_entry();
        crate::reader::fuse(&mut self.done, r)
    }

    fn position(&self) -> u64 {
        self.pos
    }
}

fn probe(prefix: &[u8]) -> Confidence {
    if prefix.starts_with(MAGIC) {
        100
    } else {
        0
    }
}

fn open(input: Input, options: &ReaderOptions) -> Result<Box<dyn CaptureReader>> {
    Ok(Box::new(RecordingReader::new(input, options)?))
}

/// Registry entry of the recording format.
pub fn descriptor() -> FormatDescriptor {
    FormatDescriptor {
        format: CaptureFormat::Recording,
        description: "wifi-sensing native recording (.csirec)",
        extensions: &["csirec"],
        probe,
        open,
    }
}
