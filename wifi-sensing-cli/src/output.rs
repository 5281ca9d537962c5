//! Where the commands write: buffered files and stdout, and native recordings.

use std::fs::File;
use std::io::{BufWriter, Stdout, Write};
use std::path::Path;

use anyhow::{bail, Context, Result};
use wifi_sensing_core::recording::{RecordingHeader, RecordingWriter};
use wifi_sensing_core::{Output, Sink, Summary};

use crate::input::InputSpec;
use crate::Log;

/// Buffer size of every output.
const BUFFER: usize = 1 << 16;

/// Creates the file at `path` for buffered writing. The policy of every command: an existing
/// file is replaced (as `cp` and shell redirection do), and an info line says so; a file that
/// is also an input is refused before this ([`ensure_distinct`]).
pub(crate) fn create_file(path: &Path, log: &Log) -> Result<BufWriter<File>> {
    if std::fs::metadata(path).is_ok_and(|m| m.is_file()) {
        log.info(format_args!("replacing the existing {}", path.display()));
    }
    let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    Ok(BufWriter::with_capacity(BUFFER, file))
}

/// `true` when `a` and `b` name the same file: the same file on disk when both exist (links
/// included), otherwise the same absolute path.
pub(crate) fn same_file(a: &Path, b: &Path) -> bool {
    if let (Ok(ma), Ok(mb)) = (std::fs::metadata(a), std::fs::metadata(b)) {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            return ma.dev() == mb.dev() && ma.ino() == mb.ino();
        }
        #[cfg(not(unix))]
        {
            let _ = (ma, mb);
            if let (Ok(ca), Ok(cb)) = (a.canonicalize(), b.canonicalize()) {
                return ca == cb;
            }
        }
    }
    match (std::path::absolute(a), std::path::absolute(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

/// The path through which this process's standard input can be compared with a file (on
/// systems without it, the comparison finds nothing).
pub(crate) const STDIN: &str = "/dev/stdin";

/// The same for standard output.
pub(crate) const STDOUT: &str = "/dev/stdout";

/// Refuses to write `output` when it is the same file as `other` (an input, or another output):
/// creating it would truncate the other before it is read or written.
pub(crate) fn ensure_distinct(output: &Path, other: &Path, what: &str) -> Result<()> {
    if same_file(output, other) {
        bail!(
            "{} is also the {what}: writing both through one file would lose data; choose another output file",
            output.display()
        );
    }
    Ok(())
}

/// Refuses to write `output` when it is the file `input` reads (the file itself, or the file
/// stdin is redirected from): the commands that read their whole input before writing would
/// otherwise replace the capture with their result.
pub(crate) fn ensure_not_input(output: &Path, input: &InputSpec) -> Result<()> {
    match input {
        InputSpec::File(p) => ensure_distinct(output, p, "input"),
        InputSpec::Stdin => ensure_distinct(output, Path::new(STDIN), "input (stdin)"),
        InputSpec::Udp(_) => Ok(()),
    }
}

/// Stdout, buffered (each flush of the buffer locks it: the writer may move to another thread,
/// as `convert --threads 2` does with its sink).
pub(crate) fn stdout() -> BufWriter<Stdout> {
    BufWriter::with_capacity(BUFFER, std::io::stdout())
}

/// A JSON document's destination: stdout for `-`, else the file (created by [`create_file`]).
pub(crate) fn create_or_stdout(path: &Path, log: &Log) -> Result<Box<dyn Write>> {
    if path.as_os_str() == "-" {
        Ok(Box::new(stdout()))
    } else {
        Ok(Box::new(create_file(path, log)?))
    }
}

/// How messages name an output path: `stdout` for `-`.
pub(crate) fn display_name(path: &Path) -> String {
    if path.as_os_str() == "-" {
        "stdout".to_string()
    } else {
        path.display().to_string()
    }
}

/// Writes `text` and a final newline to `path` (`-`: stdout) and flushes it.
pub(crate) fn write_document(path: &Path, text: &str, log: &Log) -> Result<()> {
    let mut w = create_or_stdout(path, log)?;
    w.write_all(text.as_bytes())
        .and_then(|()| w.write_all(b"\n"))
        .and_then(|()| w.flush())
        .with_context(|| format!("writing {}", path.display()))
}

/// Creates the file at `path` and starts a native recording in it whose header names `source`
/// (the input's description) and no configuration.
pub(crate) fn create_recording(
    path: &Path,
    source: &str,
    log: &Log,
) -> Result<RecordingWriter<BufWriter<File>>> {
    let header = RecordingHeader::new(source, String::new());
    Ok(RecordingWriter::new(create_file(path, log)?, &header)?)
}

/// A sink that stops after `limit` items (none: no limit) and counts what it passed on.
///
/// Only items for which its `counts` rule holds are counted and limited (all of them unless
/// [`Limit::counting`] says otherwise): an Arrow stream carries one table, and the records it
/// leaves out are neither "written" nor part of `--limit`.
pub(crate) struct Limit<S> {
    inner: S,
    left: Option<u64>,
    written: u64,
    counts: fn(&Output) -> bool,
}

impl<S> Limit<S> {
    /// Wraps `inner`, passing on at most `limit` items.
    pub(crate) fn new(inner: S, limit: Option<u64>) -> Self {
        Limit {
            inner,
            left: limit,
            written: 0,
            counts: |_| true,
        }
    }

    /// Counts (and limits) only the items for which `counts` holds; the others are still passed
    /// on to the inner sink.
    pub(crate) fn counting(mut self, counts: fn(&Output) -> bool) -> Self {
        self.counts = counts;
        self
    }

    /// The items passed on so far.
    pub(crate) fn written(&self) -> u64 {
        self.written
    }
}

impl<S: Sink<Output>> Sink<Output> for Limit<S> {
    fn begin(&mut self) -> wifi_sensing_core::Result<()> {
        self.inner.begin()
    }
    fn item(&mut self, item: &Output) -> wifi_sensing_core::Result<bool> {
        if self.left == Some(0) {
            return Ok(false);
        }
        let go = self.inner.item(item)?;
        if !(self.counts)(item) {
            return Ok(go);
        }
        self.written += 1;
        if let Some(l) = &mut self.left {
            *l -= 1;
            if *l == 0 {
                return Ok(false);
            }
        }
        Ok(go)
    }
    fn finish(&mut self, s: &Summary) -> wifi_sensing_core::Result<()> {
        self.inner.finish(s)
    }
}
