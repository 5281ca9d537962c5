//! `wifi-sensing record`: live UDP frames into a native recording.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Result;

use crate::input::{InputSpec, OpenedInput, ReaderFlags};
use crate::{output, Log};

// Options of the `record` command.
#[derive(clap::Args, Debug)]
pub(crate) struct RecordArgs {
    /// `udp://HOST:PORT` to listen on (e.g. `udp://0.0.0.0:5005`).
    #[arg(value_parser = crate::values::input)]
    pub input: InputSpec,
    /// Output file, a native recording (name it `.csirec`).
    #[arg(short, long)]
    pub output: PathBuf,
    /// Stop after this long (e.g. `60s`, `5m`).
    #[arg(long, value_parser = crate::parse_duration, allow_hyphen_values = true)]
    pub duration: Option<Duration>,
    /// Stop after this many CSI frames (at least 1).
    #[arg(long, value_parser = crate::values::at_least_one)]
    pub frames: Option<u64>,
}

/// `wifi-sensing record`.
pub(crate) fn main(args: RecordArgs, log: &Log) -> Result<()> {
    let spec = &args.input;
    if !matches!(spec, InputSpec::Udp(_)) {
        crate::usage!("record takes a live input udp://HOST:PORT (use `convert` for files)");
    }
    check_recording_name(&args.output)?;
    let opened = spec.open(&ReaderFlags::default(), None, args.duration, None, log)?;
    record(opened, &args.output, args.frames, log)
}

/// `record` writes a native recording: refuse `-` and names that promise another format.
fn check_recording_name(output: &Path) -> Result<()> {
    if output.as_os_str() == "-" {
        crate::usage!("record writes a binary .csirec file, not to stdout: give a file name (use `run udp://...` for JSON Lines on stdout)");
    }
    let ext = output
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    if !ext.is_empty() && ext != "csirec" {
        crate::usage!(
            "record writes a native recording; {} would get .csirec content under a .{ext} name: name it .csirec (and `convert` it afterwards)",
            output.display()
        );
    }
    Ok(())
}

fn record(mut opened: OpenedInput, output: &Path, frames: Option<u64>, log: &Log) -> Result<()> {
    let mut writer = output::create_recording(output, &opened.description, log)?;
    log.info(format_args!(
        "recording {} -> {} (Ctrl-C to stop)",
        opened.description,
        output.display()
    ));
    let mut n_frames = 0u64;
    let mut last_flush = std::time::Instant::now();
    let mut malformed = 0u64;
    while let Some(rec) = opened.capture.next_record() {
        match rec {
            Ok(r) => {
                let is_frame = matches!(r, wifi_sensing_core::Record::Frame(_));
                writer.write(&r)?;
                if is_frame {
                    n_frames += 1;
                }
                if last_flush.elapsed() > Duration::from_secs(1) {
                    writer.flush()?;
                    last_flush = std::time::Instant::now();
                }
                if frames.is_some_and(|n| n_frames >= n) {
                    break;
                }
            }
            // the live input warns of malformed datagrams as they come
            Err(e) if e.is_recoverable() => malformed += 1,
            Err(e) => return Err(e.into()),
        }
    }
    writer.flush()?;
    log.info(format_args!(
        "recorded {} records ({} frames), {} malformed datagrams skipped",
        writer.records_written(),
        n_frames,
        malformed
    ));
    // nothing decodable at all (only malformed datagrams) fails as it does for `run` and
    // `inspect`, after the summary
    let decoded = crate::report::ensure_decoded(
        opened.capture.stats(),
        &opened.description,
        opened.capture.format(),
        false,
    );
    if n_frames == 0 && decoded.is_ok() {
        // as `run` says it: nothing to analyse was recorded
        log.warn(format_args!(
            "{}: no frame was recorded ({} malformed datagrams skipped): the file holds only \
             its header",
            opened.description, malformed
        ));
    }
    if malformed > 0 {
        // the count the live input promised, shown under -q too
        log.warn(format_args!(
            "{}: {malformed} malformed datagram{} skipped in all",
            opened.description,
            if malformed == 1 { "" } else { "s" }
        ));
    }
    crate::report::shared_senders(opened.udp_stats.as_deref(), None, &opened.description, log);
    if let Some(stats) = &opened.udp_stats {
        if let Ok(s) = stats.lock() {
            // frames lost on the way are a warning, shown under -q too
            crate::report::frames_lost(&s.nodes, &opened.description, true, log);
            for (node, n) in s.nodes.nodes() {
                log.info(format_args!(
                    "node {node}: {} frames, {} dropped, {}",
                    n.frames,
                    n.dropped,
                    n.rate_hz()
                        .map(|r| format!("{r:.1} Hz"))
                        .unwrap_or_else(|| "rate n/a".into())
                ));
            }
        }
    }
    decoded.map_err(|e| anyhow::anyhow!("{e}; {} holds only its header", output.display()))
}
