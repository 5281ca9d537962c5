//! `wifi-sensing`: the command-line front end of the wifi-sensing crate family.
//!
//! Flags are turned into library builders and sinks here; no parsing or DSP lives in this crate.
//! Data goes to stdout (JSON Lines), logs to stderr. A closed stdout (`| head`) ends with exit 0.
//!
//! This file holds the command line (clap) and the dispatch; each subcommand lives in its own
//! module with its arguments (`run.rs`: [`run::RunArgs`] and `build_pipeline`, ...).

mod calibrate;
mod columnar;
mod convert;
mod dataset;
mod input;
mod inspect;
mod introspect;
#[cfg(feature = "pose")]
mod model;
#[cfg(feature = "pose")]
mod model_data;
mod output;
mod parquet_encode;
#[cfg(feature = "pose")]
mod pose;
mod progress;
mod record;
mod replay;
mod report;
mod run;
mod serve;
mod signature;
mod simulate;
mod spectrogram;
mod values;

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use clap::{Parser, Subcommand};

/// `--version`: the version and the optional parts this binary was built with.
const LONG_VERSION: &str = if cfg!(feature = "ort") {
    concat!(env!("CARGO_PKG_VERSION"), "\npose backends: tract, ort")
} else if cfg!(feature = "pose") {
    concat!(
        env!("CARGO_PKG_VERSION"),
        "\npose backends: tract (ort is not built in: build with --features ort)"
    )
} else {
    concat!(
        env!("CARGO_PKG_VERSION"),
        "\npose backends: none (built without the pose feature)"
    )
};

/// Read, convert, record and analyse WiFi CSI captures.
#[derive(Parser, Debug)]
#[command(name = "wifi-sensing", version, long_version = LONG_VERSION, about, long_about = None)]
struct Cli {
    /// Less logging on stderr: no progress bar or info lines (warnings and errors still show).
    #[arg(short, long, global = true, display_order = 900)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Summarise a capture: format, device, frames, duration, per-node rate, shapes, channels,
    /// RSSI range, drops and malformed records.
    Inspect(inspect::InspectArgs),
    /// Convert a capture to a native recording (`.csirec`), JSON Lines (`.jsonl`, or `-` for
    /// stdout) or Parquet (`.parquet`); several captures to a Parquet dataset (`-o DIR/`).
    Convert(convert::ConvertArgs),
    /// Record live UDP frames into a native recording; Ctrl-C stops and keeps everything received.
    Record(record::RecordArgs),
    /// Send the UDP datagrams of a pcap capture to HOST:PORT, paced as captured: feeds
    /// `serve`, `record` or `run` on `udp://` without nodes (e.g. a `simulate -o x.pcap` capture).
    Replay(replay::ReplayArgs),
    /// Run the pipeline and print JSON Lines records to stdout.
    Run(run::RunArgs),
    /// Serve the pipeline's records over HTTP and WebSocket, with a live dashboard page.
    ///
    /// Takes `run`'s input and analysis flags. Endpoints: `/` (dashboard), `/api/v1/health`,
    /// `/api/v1/latest`, `/api/v1/frame_summaries`, `/api/v1/introspection/snapshot`,
    /// `/ws/stream?types=...` and `/ws/introspection`. Ctrl-C stops.
    // `run`'s output options are refused by `serve` (it streams its records): not in its help
    #[command(
        mut_arg("output", |a| a.hide(true)),
        mut_arg("output_format", |a| a.hide(true)),
        mut_arg("arrow_aux", |a| a.hide(true)),
        mut_arg("arrow_analyses", |a| a.hide(true)),
        mut_arg("no_frames", |a| a.hide(true))
    )]
    Serve(serve::ServeArgs),
    /// ONNX pose models: `model inspect MODEL.onnx`, training windows (`model dataset`) and
    /// scores against ground truth (`model score`).
    #[cfg(feature = "pose")]
    #[command(subcommand)]
    Model(model::ModelCommand),
    /// Generate synthetic CSI with ground truth (see `wifi_sensing_core::sim` for the physics).
    ///
    /// The output format follows the file name: `.pcap` (ADR-018 datagrams over UDP, as if
    /// captured on the node's port) and `.csv` (ESP32-CSI-Tool) for `--device esp32`; `.csirec`,
    /// `.jsonl`, or `-` for JSON Lines on stdout, for every device. The same arguments and seed
    /// give byte-identical files.
    Simulate(simulate::SimulateArgs),
    /// Signature library tools: `signature capture` cuts a labelled signature out of a recording.
    Signature(signature::SignatureArgs),
    /// Make an empty-room baseline (JSON) for `run --events --baseline`.
    ///
    /// The capture must be of the empty room with nothing moving, and long enough to show it:
    /// the 20-frame column probe, then one full 10 s breathing-band window (40 blocks of at
    /// least 0.25 s), i.e. at least 10.8 s at 50 Hz and 13 s at 20 Hz (more with dropped
    /// frames; 15 s or more is safe); a shorter capture is refused, with the minimum at its
    /// frame rate named. A capture whose own statistics show
    /// motion (the motion ratio above 3.5 on 2 frames in a row, the event detector's start
    /// rule) or a breathing person (a full breathing-band window above 4) is refused with
    /// what was seen (node, statistic, value against threshold, when); `--force` writes it
    /// anyway.
    Calibrate(calibrate::CalibrateArgs),
    /// Draw a spectrogram (PNG with time, frequency or velocity axis and dB colour bar) or write
    /// its matrix (CSV) for one node: a subcarrier, a selection or a PCA component.
    Spectrogram(spectrogram::SpectrogramArgs),
    /// List the capture formats this build reads.
    Formats,
}

/// Parses `500ms`, `30s`, `5m`, `1h` or a plain number of seconds.
fn parse_duration(s: &str) -> std::result::Result<Duration, String> {
    let s = s.trim();
    let (num, mul) = if let Some(v) = s.strip_suffix("ms") {
        (v, 1e-3)
    } else if let Some(v) = s.strip_suffix('s') {
        (v, 1.0)
    } else if let Some(v) = s.strip_suffix('m') {
        (v, 60.0)
    } else if let Some(v) = s.strip_suffix('h') {
        (v, 3600.0)
    } else {
        (s, 1.0)
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("invalid duration {s:?} (use e.g. 500ms, 30s, 5m, 1h)"))?;
    if v < 0.0 {
        return Err(format!("duration {s:?} is negative"));
    }
    if !v.is_finite() || v * mul > 1e9 {
        return Err(format!("duration {s:?} is out of range"));
    }
    if v == 0.0 {
        return Err(format!("duration {s:?} is zero: give a positive duration"));
    }
    Ok(Duration::from_secs_f64(v * mul))
}

/// A usage error found after parsing (a combination of arguments that does not go together, a
/// value that needs another argument to be judged): it ends with exit status 2, as clap's own.
#[derive(Debug)]
pub(crate) struct Usage(pub String);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

/// Ends the command with the usage error `msg`.
macro_rules! usage {
    ($($t:tt)*) => {
        return Err(anyhow::Error::new(crate::Usage(format!($($t)*))))
    };
}
pub(crate) use usage;

/// Logging on stderr; `quiet` drops the info lines.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Log {
    quiet: bool,
}

impl Log {
    pub(crate) fn info(&self, msg: impl std::fmt::Display) {
        if !self.quiet {
            to_stderr(format_args!("wifi-sensing: {msg}"));
        }
    }
    pub(crate) fn warn(&self, msg: impl std::fmt::Display) {
        to_stderr(format_args!("wifi-sensing: warning: {msg}"));
    }
}

/// Writes a line on stderr. A closed stderr (`2>&1 | head -1`) is not an error: the line is
/// dropped, where `eprintln!` would panic.
fn to_stderr(line: std::fmt::Arguments) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            || c.downcast_ref::<wifi_sensing_core::Error>()
                .is_some_and(|w| w.is_broken_pipe())
            || c.downcast_ref::<serde_json::Error>()
                .is_some_and(|j| j.io_error_kind() == Some(std::io::ErrorKind::BrokenPipe))
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let log = Log { quiet: cli.quiet };
    match dispatch(cli.command, &log) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) if e.downcast_ref::<Usage>().is_some() => {
            to_stderr(format_args!(
                "wifi-sensing: error: {e}\n\nFor more information, try '--help'."
            ));
            ExitCode::from(2)
        }
        Err(e) => {
            to_stderr(format_args!("wifi-sensing: error: {}", error_chain(&e)));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes joined by ": ", leaving out a cause whose text the message so far
/// already ends with (library errors often print their source as part of their own text).
fn error_chain(e: &anyhow::Error) -> String {
    let mut msg = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if msg.ends_with(&text) {
            continue;
        }
        if !msg.is_empty() {
            msg.push_str(": ");
        }
        msg.push_str(&text);
    }
    msg
}

fn dispatch(cmd: Command, log: &Log) -> Result<()> {
    match cmd {
        Command::Inspect(args) => inspect::main(args, log),
        Command::Convert(args) => convert::main(args, log),
        Command::Record(args) => record::main(args, log),
        Command::Replay(args) => replay::main(args, log),
        Command::Run(args) => run::main(args, log),
        Command::Serve(args) => serve::main(args, log),
        #[cfg(feature = "pose")]
        Command::Model(cmd) => model::main(cmd, log),
        Command::Simulate(args) => simulate::simulate(args, log),
        Command::Signature(args) => signature::main(args, log),
        Command::Calibrate(args) => calibrate::main(args, log),
        Command::Spectrogram(args) => spectrogram::main(args, log),
        Command::Formats => formats(),
    }
}

/// `wifi-sensing formats`: the formats this build reads.
fn formats() -> Result<()> {
    let reg = wifi_sensing_core::Registry::builtin();
    let mut out = std::io::stdout().lock();
    for d in reg.formats() {
        writeln!(
            out,
            "{:<14} {:<20} {}",
            d.format.name(),
            d.extensions.join(","),
            d.description
        )?;
    }
    writeln!(
        out,
        "{:<14} {:<20} live ADR-018 (ESP32) or Nexmon datagrams (input spec udp://HOST:PORT)",
        "esp32_adr018", "udp://"
    )?;
    Ok(())
}
