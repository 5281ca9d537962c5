//! Where the commands write: buffered files and stdout, and native recordings.

use std::fs::File;
use std::io::{BufWriter, StdoutLock};
use std::path::Path;

use anyhow::{Context, Result};
use wifi_sensing_core::recording::{RecordingHeader, RecordingWriter};

/// Buffer size of every output.
const BUFFER: usize = 1 << 16;

/// Creates (or truncates) the file at `path` for buffered writing.
pub(crate) fn create_file(path: &Path) -> Result<BufWriter<File>> {
    let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    Ok(BufWriter::with_capacity(BUFFER, file))
}

/// Stdout, locked and buffered.
pub(crate) fn stdout() -> BufWriter<StdoutLock<'static>> {
    BufWriter::with_capacity(BUFFER, std::io::stdout().lock())
}

/// Creates the file at `path` and starts a native recording in it whose header names `source`
/// (the input's description) and no configuration.
pub(crate) fn create_recording(
    path: &Path,
    source: &str,
) -> Result<RecordingWriter<BufWriter<File>>> {
    let header = RecordingHeader::new(source, String::new());
    Ok(RecordingWriter::new(create_file(path)?, &header)?)
}
