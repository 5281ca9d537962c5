//! `wifi-sensing`: the command-line front end of the wifi-sensing crate family.
//!
//! Flags are turned into library builders and sinks here; no parsing or DSP lives in this crate.
//! Data goes to stdout (JSON Lines), logs to stderr. A closed stdout (`| head`) ends with exit 0.

mod input;
mod inspect;
mod output;
mod progress;
mod simulate;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use wifi_sensing_core::{
    CaptureFormat, JsonLinesSink, OnMalformed, Output, Pipeline, ReadStats, RecordingSink,
    Registry, Sink, Summary,
};

use crate::input::{InputSpec, OpenedInput};

/// Read, convert, record and analyse WiFi CSI captures.
#[derive(Parser, Debug)]
#[command(name = "wifi-sensing", version, about, long_about = None)]
struct Cli {
    /// Less logging on stderr: no progress bar or info lines (warnings and errors still show).
    #[arg(short, long, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Summarise a capture: format, device, frames, duration, per-node rate, shapes, channels,
    /// RSSI range, drops and malformed records.
    Inspect {
        #[command(flatten)]
        reader: ReaderFlags,
        /// A file (format auto-detected), `udp://HOST:PORT` (live) or `-` (stdin).
        input: String,
        /// Read the input as this format instead of detecting it (see `wifi-sensing formats`).
        #[arg(long)]
        format: Option<String>,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
        /// For `udp://` inputs only: stop after this long (e.g. `30s`).
        #[arg(long, value_parser = parse_duration)]
        duration: Option<Duration>,
    },
    /// Convert a capture to a native recording (`.csirec`) or JSON Lines (`.jsonl`, or `-` for stdout).
    Convert {
        #[command(flatten)]
        reader: ReaderFlags,
        /// A file (format auto-detected), `udp://HOST:PORT` or `-`.
        input: String,
        /// Output file: `.csirec` or `.jsonl`; `-` writes JSON Lines to stdout.
        #[arg(short, long)]
        output: String,
        /// Read the input as this format instead of detecting it.
        #[arg(long)]
        format: Option<String>,
        /// End with an error at the first malformed record instead of skipping it.
        #[arg(long)]
        strict: bool,
    },
    /// Record live UDP frames into a native recording; Ctrl-C stops and keeps everything received.
    Record {
        /// `udp://HOST:PORT` to listen on (e.g. `udp://0.0.0.0:5005`).
        input: String,
        /// Output file, a native recording (name it `.csirec`).
        #[arg(short, long)]
        output: PathBuf,
        /// Stop after this long (e.g. `60s`, `5m`).
        #[arg(long, value_parser = parse_duration)]
        duration: Option<Duration>,
        /// Stop after this many CSI frames (at least 1).
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
        frames: Option<u64>,
    },
    /// Run the pipeline and print JSON Lines records to stdout.
    Run {
        #[command(flatten)]
        reader: ReaderFlags,
        /// A file (format auto-detected), `udp://HOST:PORT` (live) or `-` (stdin).
        input: String,
        /// Read the input as this format instead of detecting it.
        #[arg(long)]
        format: Option<String>,
        /// End with an error at the first malformed record instead of skipping it.
        #[arg(long)]
        strict: bool,
        /// Do not print frame records (only non-CSI and analysis records).
        #[arg(long)]
        no_frames: bool,
        /// Stop after this many output records.
        #[arg(long)]
        limit: Option<u64>,
        /// For `udp://` inputs only: stop after this long.
        #[arg(long, value_parser = parse_duration)]
        duration: Option<Duration>,
    },
    /// Generate synthetic CSI with ground truth (see `wifi_sensing_core::sim` for the physics).
    ///
    /// The output format follows the file name: `.pcap` (ADR-018 datagrams over UDP, as if
    /// captured on the node's port) and `.csv` (ESP32-CSI-Tool) for `--device esp32`; `.csirec`,
    /// `.jsonl`, or `-` for JSON Lines on stdout, for every device. The same arguments and seed
    /// give byte-identical files.
    Simulate {
        /// Preset: empty, still, breathe, walk, gesture:wave|push|pull, mixed (default mixed).
        #[arg(long)]
        scenario: Option<String>,
        /// A JSON scenario file describing your own room, person and timeline.
        #[arg(long)]
        scenario_file: Option<PathBuf>,
        /// Duration (default 60s for presets; a scenario file's own duration otherwise).
        #[arg(long, value_parser = parse_duration)]
        duration: Option<Duration>,
        /// Frame rate in Hz (default 50, or the scenario file's).
        #[arg(long)]
        rate: Option<f64>,
        /// Device profile: esp32, intel5300, nexmon80.
        #[arg(long, default_value = "esp32")]
        device: String,
        /// Random seed.
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// Output file (.pcap and .csv: esp32 only; .csirec, .jsonl) or `-` for stdout.
        #[arg(short, long)]
        output: String,
        /// Ground truth as JSON Lines (one line per frame after a header line); `-` for stdout.
        #[arg(long)]
        truth: Option<PathBuf>,
        /// ADR-018 node id in .pcap output.
        #[arg(long, default_value_t = 1)]
        node_id: u8,
        /// UDP port of the ADR-018 datagrams in .pcap output (1-65535).
        #[arg(long, default_value_t = 5005, value_parser = clap::value_parser!(u16).range(1..))]
        port: u16,
        /// Unix time (s) of the scenario start, for .pcap packet times (default 2026-01-01T00:00:00Z).
        #[arg(long, default_value_t = 1_767_225_600)]
        start_unix_s: i64,
    },
    /// List the capture formats this build reads.
    Formats,
}

/// Reader options shared by the commands that read captures.
#[derive(clap::Args, Debug, Clone, Default)]
pub(crate) struct ReaderFlags {
    /// Nexmon: merge the packets of one transmission (same sequence number) into one
    /// `[core, spatial stream, subcarrier]` frame instead of one frame per packet.
    #[arg(long)]
    nexmon_group: bool,
    /// Nexmon: the chip (4339, 43455c0, 4358, 4366c0) when the header does not say it.
    #[arg(long)]
    nexmon_chip: Option<String>,
    /// Nexmon: zero the PHY-status words that v2 firmware writes over CSI words.
    #[arg(long)]
    nexmon_mask_phy_status: bool,
    /// Nexmon: read int16 pairs as (Q, I), the order of bcm4339/bcm43455c0 firmware before the
    /// June 2020 fix (files with the 4-byte magic). Off by default, as every peer reads them.
    /// No effect on the packed-float chips (bcm4358, bcm4366c0).
    #[arg(long)]
    nexmon_swap_iq: bool,
    /// Nexmon: UDP port of the CSI packets in pcap files (default 5500). Packets from the
    /// firmware's Ethernet source address ("NEXMON") are recognised on any port.
    #[arg(long)]
    nexmon_port: Option<u16>,
    /// Intel 5300: scale the CSI to absolute units (MATLAB get_scaled_csi).
    #[arg(long)]
    intel_scaled: bool,
}

impl ReaderFlags {
    pub(crate) fn options(&self) -> Result<wifi_sensing_core::ReaderOptions> {
        use wifi_sensing_core::formats::nexmon::NexmonChip;
        let mut o = wifi_sensing_core::ReaderOptions::default();
        o.nexmon.group_by_sequence = self.nexmon_group;
        o.nexmon.mask_phy_status = self.nexmon_mask_phy_status;
        o.nexmon.swap_int16_iq = self.nexmon_swap_iq;
        if let Some(p) = self.nexmon_port {
            o.nexmon.port = p;
        }
        if let Some(c) = &self.nexmon_chip {
            let c = c.trim_start_matches("bcm");
            o.nexmon.chip = Some(
                [
                    NexmonChip::Bcm4339,
                    NexmonChip::Bcm43455c0,
                    NexmonChip::Bcm4358,
                    NexmonChip::Bcm4366c0,
                ]
                .into_iter()
                .find(|k| k.name() == c)
                .with_context(|| {
                    format!("unknown Nexmon chip {c:?} (use 4339, 43455c0, 4358 or 4366c0)")
                })?,
            );
        }
        o.intel5300.scaled = self.intel_scaled;
        Ok(o)
    }
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
    if !v.is_finite() || v < 0.0 || v * mul > 1e9 {
        return Err(format!("duration {s:?} is out of range"));
    }
    Ok(Duration::from_secs_f64(v * mul))
}

/// Opens the input of a reading command: `input` is an input spec (file, `udp://`, `-`), read
/// with the reader flags as `format` when one is named (detected otherwise); a live input stops
/// after `duration` when one is given.
fn open_input(
    input: &str,
    reader: &ReaderFlags,
    format: Option<&str>,
    duration: Option<Duration>,
    log: &Log,
) -> Result<OpenedInput> {
    let spec = InputSpec::parse(input)?;
    if duration.is_some() && !matches!(spec, InputSpec::Udp(_)) {
        bail!("--duration applies to live udp:// inputs only (use --limit to shorten a file run)");
    }
    spec.open(reader, parse_format(format)?, duration, None, log)
}

fn parse_format(name: Option<&str>) -> Result<Option<CaptureFormat>> {
    match name {
        None => Ok(None),
        Some(n) => match CaptureFormat::from_name(n) {
            // only the formats a reader is registered for: the others (e.g. Nexmon, which is read
            // from pcap files) cannot be forced
            Some(f) if Registry::builtin().get(f).is_some() => Ok(Some(f)),
            _ => bail!(
                "unknown format {n:?}; formats that can be read: {}",
                Registry::builtin()
                    .formats()
                    .iter()
                    .map(|d| d.format.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        },
    }
}

pub(crate) struct Log {
    quiet: bool,
}

impl Log {
    pub(crate) fn info(&self, msg: impl std::fmt::Display) {
        if !self.quiet {
            eprintln!("wifi-sensing: {msg}");
        }
    }
    pub(crate) fn warn(&self, msg: impl std::fmt::Display) {
        eprintln!("wifi-sensing: warning: {msg}");
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            || c.downcast_ref::<wifi_sensing_core::Error>()
                .is_some_and(|w| w.is_broken_pipe())
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let log = Log { quiet: cli.quiet };
    match dispatch(cli.command, &log) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wifi-sensing: error: {}", error_chain(&e));
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
        Command::Simulate {
            scenario,
            scenario_file,
            duration,
            rate,
            device,
            seed,
            output,
            truth,
            node_id,
            port,
            start_unix_s,
        } => simulate::simulate(
            simulate::SimulateArgs {
                scenario,
                scenario_file,
                duration_s: duration.map(|d| d.as_secs_f64()),
                rate_hz: rate,
                device,
                seed,
                output,
                truth,
                node_id,
                port,
                start_unix_s,
            },
            log,
        ),
        Command::Formats => {
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
        Command::Inspect {
            reader,
            input,
            format,
            json,
            duration,
        } => {
            let opened = open_input(&input, &reader, format.as_deref(), duration, log)?;
            inspect::inspect(opened, json)
        }
        Command::Convert {
            reader,
            input,
            output,
            format,
            strict,
        } => {
            if output != "-" {
                let out = Path::new(&output);
                match InputSpec::parse(&input)? {
                    InputSpec::File(p) => output::ensure_distinct(out, &p, "input")?,
                    // `convert - -o x < x`: the redirected file is the input
                    InputSpec::Stdin => {
                        output::ensure_distinct(out, Path::new(output::STDIN), "input (stdin)")?
                    }
                    InputSpec::Udp(_) => {}
                }
            }
            let opened = open_input(&input, &reader, format.as_deref(), None, log)?;
            convert(opened, &output, strict, log)
        }
        Command::Record {
            input,
            output,
            duration,
            frames,
        } => {
            let spec = InputSpec::parse(&input)?;
            if !matches!(spec, InputSpec::Udp(_)) {
                bail!("record takes a live input udp://HOST:PORT (use `convert` for files)");
            }
            check_recording_name(&output)?;
            let opened = spec.open(&ReaderFlags::default(), None, duration, None, log)?;
            record(opened, &output, frames, log)
        }
        Command::Run {
            reader,
            input,
            format,
            strict,
            no_frames,
            limit,
            duration,
        } => {
            let opened = open_input(&input, &reader, format.as_deref(), duration, log)?;
            run(opened, strict, no_frames, limit, log)
        }
    }
}

/// `record` writes a native recording: refuse `-` and names that promise another format.
fn check_recording_name(output: &Path) -> Result<()> {
    if output.as_os_str() == "-" {
        bail!("record writes a binary .csirec file, not to stdout: give a file name (use `run udp://...` for JSON Lines on stdout)");
    }
    let ext = output
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    if !ext.is_empty() && ext != "csirec" {
        bail!(
            "record writes a native recording; {} would get .csirec content under a .{ext} name: name it .csirec (and `convert` it afterwards)",
            output.display()
        );
    }
    Ok(())
}

/// Logs what a run read and wrote: frames read, frames left after the stages, non-CSI records,
/// analyses, malformed records skipped, and the records the output received (`written`).
fn report_summary(s: &Summary, read: &ReadStats, written: u64, log: &Log) {
    // the problems first, the totals last
    for i in s.issues.iter().take(5) {
        log.warn(format_args!("skipped: {}", i.message));
    }
    if s.malformed > 5 {
        log.warn(format_args!(
            "... and {} more malformed records",
            s.malformed - 5
        ));
    }
    if let Some(t) = &s.truncated {
        log.warn(format_args!("input ends inside a record: {}", t.message));
    }
    let n = read.passed_over;
    if n > 0 && s.frames_in == 0 && s.aux_records == 0 && s.malformed == 0 {
        log.warn(format_args!(
            "no CSI found: all {n} packets/records were passed over (Nexmon CSI is looked for \
             on UDP port 5500 unless --nexmon-port says otherwise)"
        ));
    } else if n > 0 {
        log.info(format_args!("{n} packets/records without CSI passed over"));
    }
    log.info(format_args!(
        "{} frames read, {} after stages, {} non-CSI records, {} analyses, {} malformed skipped; {written} records written",
        s.frames_in, s.frames_out, s.aux_records, s.analyses, s.malformed
    ));
}

fn pipeline(strict: bool, emit_frames: bool) -> Result<Pipeline> {
    Ok(Pipeline::builder()
        .on_malformed(if strict {
            OnMalformed::Stop
        } else {
            OnMalformed::Skip
        })
        .emit_frames(emit_frames)
        .build()?)
}

/// Stops after `limit` items; counts what it passed on.
struct Limit<S> {
    inner: S,
    left: Option<u64>,
    written: u64,
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

fn run(
    mut opened: OpenedInput,
    strict: bool,
    no_frames: bool,
    limit: Option<u64>,
    log: &Log,
) -> Result<()> {
    let mut p = pipeline(strict, !no_frames)?;
    let live = opened.live;
    let mut sink = Limit {
        inner: JsonLinesSink::new(output::stdout()).flush_each_line(live),
        left: limit,
        written: 0,
    };
    let bar = progress::Progress::new(opened.total_bytes);
    let summary = {
        let cap = &mut opened.capture;
        let src = progress::Tracked::new(cap, &bar);
        p.run(src, &mut sink)
    };
    bar.finish();
    let summary = summary?;
    report_summary(&summary, opened.capture.stats(), sink.written, log);
    if let Some(l) = limit.filter(|&l| sink.written >= l) {
        log.info(format_args!("stopped at --limit {l}"));
    }
    Ok(())
}

fn convert(mut opened: OpenedInput, output: &str, strict: bool, log: &Log) -> Result<()> {
    let mut p = pipeline(strict, true)?;
    let to_stdout = output == "-";
    let ext = Path::new(output)
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let jsonl = to_stdout || ext == "jsonl" || ext == "json";
    if !jsonl && ext != "csirec" {
        bail!("cannot tell the output format of {output:?}: use a .csirec or .jsonl name, or - for stdout");
    }
    let bar = progress::Progress::new(opened.total_bytes);
    let result = if jsonl {
        let w: Box<dyn Write> = if to_stdout {
            Box::new(output::stdout())
        } else {
            Box::new(output::create_file(Path::new(output))?)
        };
        let mut sink = Limit {
            inner: JsonLinesSink::new(w),
            left: None,
            written: 0,
        };
        let src = progress::Tracked::new(&mut opened.capture, &bar);
        p.run(src, &mut sink).map(|s| (s, sink.written))
    } else {
        let writer = output::create_recording(Path::new(output), &opened.description)?;
        let mut sink = RecordingSink::new(writer);
        let src = progress::Tracked::new(&mut opened.capture, &bar);
        p.run(src, &mut sink).map(|s| (s, sink.records_written()))
    };
    bar.finish();
    let (summary, written) = match result {
        Ok(x) => x,
        Err(e) if !to_stdout => {
            let what = format!("conversion into {output} stopped");
            return Err(anyhow::Error::new(e).context(format!(
                "{what}; the file keeps the records written before the error"
            )));
        }
        Err(e) => return Err(e.into()),
    };
    report_summary(&summary, opened.capture.stats(), written, log);
    if !to_stdout {
        log.info(format_args!("wrote {written} records to {output}"));
    }
    Ok(())
}

fn record(mut opened: OpenedInput, output: &Path, frames: Option<u64>, log: &Log) -> Result<()> {
    let mut writer = output::create_recording(output, &opened.description)?;
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
            Err(e) if e.is_recoverable() => {
                malformed += 1;
                if malformed <= 5 {
                    log.warn(format_args!("skipped datagram: {e}"));
                }
            }
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
    if let Some(stats) = &opened.udp_stats {
        if let Ok(s) = stats.lock() {
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
    Ok(())
}
