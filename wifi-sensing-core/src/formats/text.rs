//! Line-oriented input shared by the text readers: the ESP32 CSV formats
//! ([`esp32_csv`](super::esp32_csv), [`espcsi`](super::espcsi)), RuView JSONL
//! ([`ruview`](super::ruview)) and this crate's own JSON Lines records ([`jsonl`](crate::jsonl)).
//!
//! [`LineReader`] reads one line at a time into a reused buffer, bounded by
//! [`Limits::max_record_bytes`](crate::Limits) (a longer line ends the stream with
//! [`Error::LimitExceeded`]), and runs the record loop every text reader shares:
//! lines that are blank after trimming are skipped, every other line goes to the format's
//! parser together with its 1-based number, and a parser's rejection becomes a recoverable
//! [`Error::Malformed`] carrying the line's byte offset and number. The probe helpers look at
//! the lines of an input's prefix.

use std::io::{BufRead, Read};

use crate::error::{Error, Result};
use crate::frame::CaptureFormat;
use crate::reader::Input;
use crate::record::Record;

/// Trims ASCII spaces, tabs and carriage returns on both sides.
#[inline]
pub(crate) fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t' | b'\r', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t' | b'\r'] = s {
        s = rest;
    }
    s
}

/// Iterates over the lines of a prefix (for probes), trimmed, without the line terminators.
pub(crate) fn prefix_lines(prefix: &[u8]) -> impl Iterator<Item = &[u8]> {
    prefix.split(|&b| b == b'\n').map(trim)
}

/// The first line of a prefix that is not blank, trimmed (for probes).
pub(crate) fn first_line(prefix: &[u8]) -> Option<&[u8]> {
    prefix_lines(prefix).find(|l| !l.is_empty())
}

/// `true` when the prefix looks like text (no NUL and few control bytes), for the probes.
pub(crate) fn looks_like_text(prefix: &[u8]) -> bool {
    // stops at the first binary byte, so binary captures are rejected after a few bytes
    !prefix
        .iter()
        .any(|&b| b == 0 || (b < 0x20 && !matches!(b, b'\n' | b'\r' | b'\t')))
}

/// What [`LineReader::next_line`] found.
enum LineStatus {
    /// A line (without `\n` / `\r\n`) is in [`LineReader::buf`].
    Line,
    /// End of input.
    Eof,
}

/// A line reader over an [`Input`] that keeps one reused buffer, tracks the byte offset and the
/// 1-based number of the current line, refuses lines longer than a limit, and turns lines into
/// records with [`LineReader::next_record`].
pub(crate) struct LineReader {
    input: Input,
    /// The current line, without its terminator.
    buf: Vec<u8>,
    /// Byte offset of the current line's first byte.
    offset: u64,
    /// 1-based number of the current line.
    line: u64,
    next_offset: u64,
    format: CaptureFormat,
    max_line: usize,
    /// Set once the stream has ended (end of input or a fatal error).
    done: bool,
}

impl LineReader {
    /// A reader of `input` that accepts lines of up to `max_line` bytes; `format` is named in
    /// the errors.
    pub(crate) fn new(input: Input, format: CaptureFormat, max_line: usize) -> Self {
        LineReader {
            input,
            buf: Vec::with_capacity(1024),
            offset: 0,
            line: 0,
            next_offset: 0,
            format,
            max_line: max_line.max(1),
            done: false,
        }
    }

    /// Bytes consumed so far.
    pub(crate) fn position(&self) -> u64 {
        self.next_offset
    }

    /// The record of the next line that `parse` does not skip.
    ///
    /// Lines that are blank after [`trim`] are skipped here. Every other line goes, trimmed, to
    /// `parse` with its 1-based number; `parse` returns `None` to skip it (a header line),
    /// `Some(Ok(record))`, or `Some(Err(reason))`, which is returned as a recoverable
    /// [`Error::Malformed`] with the line's byte offset and number (the next call goes on with
    /// the next line). [`Error::Io`] and [`Error::LimitExceeded`] end the stream: they are
    /// returned once, and every later call returns `None`, as at the end of the input.
    #[inline]
    pub(crate) fn next_record<F>(&mut self, mut parse: F) -> Option<Result<Record>>
    where
        F: FnMut(&[u8], u64) -> Option<std::result::Result<Record, String>>,
    {
        loop {
            if self.done {
                return None;
            }
            match self.next_line() {
                Ok(LineStatus::Line) => {}
                Ok(LineStatus::Eof) => {
                    self.done = true;
                    return None;
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
            let line = trim(&self.buf);
            if line.is_empty() {
                continue;
            }
            match parse(line, self.line) {
                None => continue,
                Some(Ok(record)) => return Some(Ok(record)),
                Some(Err(reason)) => {
                    return Some(Err(Error::Malformed {
                        format: self.format,
                        offset: self.offset,
                        line: Some(self.line),
                        reason,
                    }))
                }
            }
        }
    }

    /// Reads the next line into `buf`.
    ///
    /// Errors (both end the stream): [`Error::Io`], and [`Error::LimitExceeded`] for a line
    /// longer than the limit (nothing beyond the limit is buffered).
    fn next_line(&mut self) -> Result<LineStatus> {
        self.buf.clear();
        self.offset = self.next_offset;
        let cap = self.max_line as u64 + 1;
        let n = (&mut self.input)
            .take(cap)
            .read_until(b'\n', &mut self.buf)
            .map_err(|e| {
                Error::io(
                    format!("{}: read error at byte {}", self.format, self.offset),
                    e,
                )
            })?;
        if n == 0 {
            return Ok(LineStatus::Eof);
        }
        self.next_offset += n as u64;
        self.line += 1;
        if self.buf.last() == Some(&b'\n') {
            self.buf.pop();
            if self.buf.last() == Some(&b'\r') {
                self.buf.pop();
            }
        } else if self.buf.len() > self.max_line {
            return Err(Error::LimitExceeded {
                format: self.format,
                offset: self.offset,
                what: "line length (bytes)",
                value: self.buf.len() as u64,
                limit: self.max_line as u64,
            });
        }
        Ok(LineStatus::Line)
    }
}

/// Helpers for the unit tests of the text readers.
#[cfg(test)]
pub(crate) mod test_support {
    use crate::error::{Error, Result};
    use crate::reader::{CaptureReader, Input, ReaderOptions};
    use crate::record::Record;

    /// Every item a reader made by `new` (with default options) gives for `text`, errors included.
    pub(crate) fn read_text<R: CaptureReader>(
        new: fn(Input, &ReaderOptions) -> R,
        text: &str,
    ) -> Vec<Result<Record>> {
        let mut r = new(
            Box::new(std::io::Cursor::new(text.as_bytes().to_vec())),
            &ReaderOptions::default(),
        );
        std::iter::from_fn(|| r.next_record()).collect()
    }

    /// Asserts that `item` is a recoverable [`Error::Malformed`] at byte `offset` and 1-based
    /// line `line` whose reason contains `want`; `case` is shown when it is not.
    pub(crate) fn assert_malformed(
        item: &Result<Record>,
        offset: u64,
        line: u64,
        want: &str,
        case: &str,
    ) {
        match item {
            Err(
                e @ Error::Malformed {
                    offset: got_offset,
                    line: Some(got_line),
                    reason,
                    ..
                },
            ) => {
                assert_eq!((*got_offset, *got_line), (offset, line), "{case}: {reason}");
                assert!(reason.contains(want), "{case}: {reason}");
                assert!(e.is_recoverable());
            }
            other => panic!("{case}: {other:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{CsiFrame, Device};
    use std::io::Cursor;

    #[test]
    fn line_reader_offsets_and_limit() {
        let data = b"ab\r\ncde\n\nlast".to_vec();
        let mut r = LineReader::new(Box::new(Cursor::new(data)), CaptureFormat::Esp32Csv, 8);
        let mut got = Vec::new();
        while let LineStatus::Line = r.next_line().unwrap() {
            got.push((r.line, r.offset, r.buf.clone()));
        }
        assert_eq!(
            got,
            vec![
                (1, 0, b"ab".to_vec()),
                (2, 4, b"cde".to_vec()),
                (3, 8, Vec::new()),
                (4, 9, b"last".to_vec())
            ]
        );
        assert_eq!(r.position(), 13);

        let mut r = LineReader::new(
            Box::new(Cursor::new(b"0123456789\n".to_vec())),
            CaptureFormat::Esp32Csv,
            4,
        );
        match r.next_line() {
            Err(Error::LimitExceeded {
                offset: 0,
                value: 5,
                limit: 4,
                ..
            }) => {}
            Err(e) => panic!("wrong error {e}"),
            Ok(_) => panic!("long line accepted"),
        }
        // exactly at the limit is fine
        let mut r = LineReader::new(
            Box::new(Cursor::new(b"0123\n".to_vec())),
            CaptureFormat::Esp32Csv,
            4,
        );
        assert!(matches!(r.next_line(), Ok(LineStatus::Line)));
        assert_eq!(r.buf, b"0123");
    }

    /// A parser for the record loop: `#` lines are skipped, `ok` lines become frames whose
    /// `node_id` is the line number, anything else is rejected with the line's text.
    fn toy(line: &[u8], line_no: u64) -> Option<std::result::Result<Record, String>> {
        match line {
            [b'#', ..] => None,
            b"ok" => {
                let mut f = CsiFrame::new(
                    CaptureFormat::JsonLines,
                    Device::Unknown,
                    ndarray::Array3::zeros((1, 1, 1)),
                );
                f.node_id = line_no as u32;
                Some(Ok(Record::Frame(f)))
            }
            _ => Some(Err(String::from_utf8_lossy(line).into_owned())),
        }
    }

    #[test]
    fn record_loop_skips_parses_and_reports() {
        let text = b"# head\n\n  \t\r\n ok \nbad\r\nok".to_vec();
        let mut r = LineReader::new(Box::new(Cursor::new(text)), CaptureFormat::JsonLines, 64);
        match r.next_record(toy) {
            Some(Ok(Record::Frame(f))) => assert_eq!(f.node_id, 4),
            other => panic!("{other:?}"),
        }
        match r.next_record(toy) {
            Some(Err(Error::Malformed {
                format: CaptureFormat::JsonLines,
                offset: 18,
                line: Some(5),
                reason,
            })) => assert_eq!(reason, "bad"),
            other => panic!("{other:?}"),
        }
        match r.next_record(toy) {
            Some(Ok(Record::Frame(f))) => assert_eq!(f.node_id, 6),
            other => panic!("{other:?}"),
        }
        assert!(r.next_record(toy).is_none());
        assert!(r.next_record(toy).is_none());
        assert_eq!(r.position(), 25);
    }

    #[test]
    fn record_loop_ends_after_a_fatal_error() {
        let text = b"ok\n0123456789\nok\n".to_vec();
        let mut r = LineReader::new(Box::new(Cursor::new(text)), CaptureFormat::JsonLines, 4);
        assert!(matches!(r.next_record(toy), Some(Ok(_))));
        assert!(matches!(
            r.next_record(toy),
            Some(Err(Error::LimitExceeded { offset: 3, .. }))
        ));
        assert!(r.next_record(toy).is_none());
        assert!(r.next_record(toy).is_none());
    }

    #[test]
    fn probe_helpers() {
        assert_eq!(
            first_line(b"\r\n  \n\t{\"a\": 1} \nx"),
            Some(&b"{\"a\": 1}"[..])
        );
        assert_eq!(first_line(b" \n\r\n"), None);
        assert_eq!(
            prefix_lines(b"a\r\n b\n").collect::<Vec<_>>(),
            vec![&b"a"[..], b"b", b""]
        );
        assert!(looks_like_text(b"CSI_DATA,1\r\n\t2"));
        assert!(!looks_like_text(b"CSI_DATA\x00"));
        assert!(!looks_like_text(b"\x1b[0m"));
    }
}
