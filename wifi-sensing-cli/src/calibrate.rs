//! `wifi-sensing calibrate EMPTY_CAPTURE -o baseline.json`: an empty-room baseline for the
//! static presence path of `run --events --baseline`. Refuses a capture too short to show the
//! room empty and one whose own statistics show motion or breathing (`--force` writes the
//! latter anyway), see `Calibrator::finish` of `wifi-sensing-signal`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use wifi_sensing_signal::calibration::Calibrator;
use wifi_sensing_signal::events::EventConfig;

use crate::input::{open_input, InputSpec, ReaderFlags};
use crate::Log;
use wifi_sensing_core::CaptureFormat;

/// Arguments of `calibrate`.
#[derive(clap::Args, Debug)]
pub(crate) struct CalibrateArgs {
    /// A capture of the empty room (a file, or `-` for stdin).
    #[arg(value_parser = crate::values::input)]
    pub input: InputSpec,
    /// Read the input as this format instead of detecting it.
    #[arg(long, value_parser = crate::values::format)]
    pub format: Option<CaptureFormat>,
    /// Where to write the baseline (JSON); `-` for stdout.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Write the baseline even when the capture's own statistics show motion or a breathing
    /// person (each finding is still reported, as a warning). A capture too short is refused
    /// even so.
    #[arg(long)]
    pub force: bool,
    // reader options: last, under their own help heading
    #[command(flatten)]
    pub reader: ReaderFlags,
}

/// `wifi-sensing calibrate`.
pub(crate) fn main(args: CalibrateArgs, log: &Log) -> Result<()> {
    crate::output::ensure_not_input(&args.output, &args.input)?;
    let opened = open_input(&args.input, &args.reader, args.format, None, log)?;
    let cfg = EventConfig::default();
    let mut cal = Calibrator::new(&cfg)?;
    let mut capture = opened.capture;
    for frame in capture.by_ref() {
        match frame {
            Ok(f) => cal.push(&f)?,
            // counted in the capture's statistics and reported below
            Err(e) if e.is_recoverable() || e.is_truncated() => continue,
            Err(e) => return Err(e).context("reading the calibration capture"),
        }
    }
    crate::report::stats_problems(
        capture.stats(),
        &opened.description,
        opened.udp_stats.is_some(),
        log,
    );
    let kept = capture.stats().frames;
    crate::report::other_nodes(capture.stats(), kept, &opened.description, log);
    for (node, skipped, seen, how) in cal.layout_skips() {
        log.warn(format_args!(
            "{}: node {node}: {skipped} of {seen} frames skipped for their subcarrier layout \
             ({how}); the baseline is of that layout, the one `run --events` analyses the node in",
            opened.description
        ));
    }
    let several = cal.node_ids().len() > 1;
    let (baseline, seen) = cal.finish_accepting_activity().map_err(|e| {
        let short = matches!(
            e,
            wifi_sensing_signal::SignalError::CalibrationTooShort { .. }
        );
        let hint = if short && several {
            " (a node with a handful of frames may be another transmitter heard by chance: \
             `--keep-nodes ID` keeps only the nodes to calibrate)"
        } else {
            ""
        };
        anyhow::Error::new(e).context(format!("the capture cannot make a baseline{hint}"))
    })?;
    if !seen.is_empty() {
        if !args.force {
            let list: Vec<String> = seen.iter().map(|a| format!("\n  {a}")).collect();
            anyhow::bail!(
                "the calibration capture is not of an empty, still room; no baseline written:{}\n\
                 calibrate on a capture of the empty room with nothing moving, or pass --force \
                 to write this baseline anyway",
                list.concat()
            );
        }
        for a in &seen {
            log.warn(format_args!("{a} (written anyway: --force)"));
        }
    }
    for n in &baseline.nodes {
        log.info(format_args!(
            "node {}: {} frames over {:.1} s, {} of {} values used",
            n.node_id,
            n.frames,
            n.duration_s,
            n.columns.len(),
            n.shape.iter().product::<usize>()
        ));
    }
    crate::output::write_document(&args.output, &baseline.to_json(), log)?;
    log.info(format_args!(
        "baseline of {} node(s) written to {}",
        baseline.nodes.len(),
        crate::output::display_name(&args.output)
    ));
    Ok(())
}
