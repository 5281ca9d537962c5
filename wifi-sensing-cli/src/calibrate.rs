//! `wifi-sensing calibrate EMPTY_CAPTURE -o baseline.json`: an empty-room baseline for the
//! static presence path of `run --events --baseline`.

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
    for frame in opened.capture {
        match frame {
            Ok(f) => cal.push(&f)?,
            Err(e) if e.is_recoverable() => continue,
            Err(e) => return Err(e).context("reading the calibration capture"),
        }
    }
    let baseline = cal.finish()?;
    for n in &baseline.nodes {
        if n.motion_fraction > 0.01 {
            log.warn(format_args!(
                "node {}: {:.1} % of the frames show motion; is the room really empty?",
                n.node_id,
                100.0 * n.motion_fraction
            ));
        }
        if n.max_breathing_ratio
            .is_some_and(|r| r > cfg.breathing_enter)
        {
            log.warn(format_args!(
                "node {}: breathing-band ratio {:.1} above {}: someone may be in the room",
                n.node_id,
                n.max_breathing_ratio.unwrap_or(0.0),
                cfg.breathing_enter
            ));
        }
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
