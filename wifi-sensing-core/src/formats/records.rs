//! Streams of records framed by a 2-byte length, shared by the Intel 5300 and Atheros `.dat`
//! readers.
//!
//! Both files are a plain sequence of `u16 field_len | field_len bytes` records; they differ
//! only in the byte order of `field_len` (big-endian for Intel 5300, the recording host's order
//! for Atheros, FORMATS.md D11) and in what a record body means. [`LengthPrefixed`] does the
//! framing, the position, the limit check and the end-of-input handling; a [`RecordHandler`]
//! (the format's decoding state) reads `field_len` and turns each complete body into a record.
//!
//! Records that lie whole in the input's buffer are handed over in place; others are copied into
//! one reused buffer, so memory use does not grow with the file. Errors:
//!
//! * `2 + field_len` above [`Limits::max_record_bytes`](crate::reader::Limits) →
//!   [`Error::LimitExceeded`] at the record's first byte (nothing is allocated for it);
//! * input ending inside a record → [`Error::Truncated`] at the record's first byte, `needed` and
//!   `available` counting the length field too (one byte left gives `needed = 2`);
//! * an I/O error → [`Error::Io`] naming the byte position reached.
//!
//! Each of these ends the stream (later calls return `None`), as does the end of the input.

use crate::error::{Error, Result};
use crate::frame::CaptureFormat;
use crate::reader::Input;
use crate::record::Record;
use crate::util::read_full;

/// The format-specific half of a [`LengthPrefixed`] stream.
pub(crate) trait RecordHandler {
    /// Format named in the errors.
    const FORMAT: CaptureFormat;
    /// Format name in I/O error messages (`reading <NAME> record at byte N`).
    const NAME: &'static str;

    /// `field_len` from the two bytes that start a record.
    fn field_len(&self, len: [u8; 2]) -> usize;

    /// Handles the `field_len` bytes of one complete record that starts at byte `start`;
    /// `None` means the record yields nothing and reading goes on with the next one.
    fn handle(&mut self, body: &[u8], start: u64) -> Option<Result<Record>>;

    /// Called once when the input ends inside a record, `available` bytes after its start.
    fn truncated(&mut self, available: u64);
}

/// A stream of `u16 field_len | field_len bytes` records over a buffered input.
pub(crate) struct LengthPrefixed {
    input: Input,
    buf: Vec<u8>,
    pos: u64,
    max_record_bytes: usize,
    done: bool,
}

impl LengthPrefixed {
    /// A stream over `input`, whose first byte is byte `pos` of the file. `capacity` is the
    /// initial size of the buffer for records that span buffer refills.
    pub(crate) fn new(input: Input, pos: u64, capacity: usize, max_record_bytes: usize) -> Self {
        LengthPrefixed {
            input,
            buf: Vec::with_capacity(capacity),
            pos,
            max_record_bytes,
            done: false,
        }
    }

    /// Byte offset of the next record.
    pub(crate) fn position(&self) -> u64 {
        self.pos
    }

    /// The next record `h` yields, skipping records for which it yields nothing; `None` at the
    /// end of the input and after an error that ends the stream.
    pub(crate) fn next<H: RecordHandler>(&mut self, h: &mut H) -> Option<Result<Record>> {
        if self.done {
            return None;
        }
        let r = self.read_record(h);
        crate::reader::fuse(&mut self.done, r)
    }

    fn read_record<H: RecordHandler>(&mut self, h: &mut H) -> Option<Result<Record>> {
        loop {
            let start = self.pos;
            // Fast path: the whole record is in the input's buffer.
            let avail = match self.input.fill_buf() {
                Ok(b) => b,
                Err(e) => return Some(Err(io_err::<H>(self.pos, e))),
            };
            if avail.len() >= 2 {
                let field_len = h.field_len([avail[0], avail[1]]);
                if avail.len() >= 2 + field_len {
                    if let Err(e) = check_limit::<H>(self.max_record_bytes, field_len, start) {
                        return Some(Err(e));
                    }
                    let r = h.handle(&avail[2..2 + field_len], start);
                    self.input.consume(2 + field_len);
                    self.pos += 2 + field_len as u64;
                    if r.is_some() {
                        return r;
                    }
                    continue;
                }
            }
            // Slow path: the record spans buffer refills (or the input ends inside it).
            let mut lenb = [0u8; 2];
            let got = match read_full(&mut self.input, &mut lenb) {
                Ok(n) => n,
                Err(e) => return Some(Err(io_err::<H>(self.pos, e))),
            };
            self.pos += got as u64;
            if got == 0 {
                return None;
            }
            if got < 2 {
                return Some(Err(truncated(h, start, 2, got as u64)));
            }
            let field_len = h.field_len(lenb);
            if let Err(e) = check_limit::<H>(self.max_record_bytes, field_len, start) {
                return Some(Err(e));
            }
            if self.buf.len() < field_len {
                self.buf.resize(field_len, 0);
            }
            let got = match read_full(&mut self.input, &mut self.buf[..field_len]) {
                Ok(n) => n,
                Err(e) => return Some(Err(io_err::<H>(self.pos, e))),
            };
            self.pos += got as u64;
            if got < field_len {
                return Some(Err(truncated(
                    h,
                    start,
                    2 + field_len as u64,
                    2 + got as u64,
                )));
            }
            if let Some(x) = h.handle(&self.buf[..field_len], start) {
                return Some(x);
            }
        }
    }
}

fn check_limit<H: RecordHandler>(
    max_record_bytes: usize,
    field_len: usize,
    start: u64,
) -> Result<()> {
    if 2 + field_len > max_record_bytes {
        return Err(Error::LimitExceeded {
            format: H::FORMAT,
            offset: start,
            what: "record length",
            value: 2 + field_len as u64,
            limit: max_record_bytes as u64,
        });
    }
    Ok(())
}

fn truncated<H: RecordHandler>(h: &mut H, offset: u64, needed: u64, available: u64) -> Error {
    h.truncated(available);
    Error::Truncated {
        format: H::FORMAT,
        offset,
        needed,
        available,
    }
}

fn io_err<H: RecordHandler>(pos: u64, e: std::io::Error) -> Error {
    Error::io(format!("reading {} record at byte {pos}", H::NAME), e)
}
