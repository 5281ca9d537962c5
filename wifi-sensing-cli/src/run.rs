//! `wifi-sensing run`: the pipeline over an input, JSON Lines records on stdout.
//!
//! The pipeline is built from the arguments in one place, [`build_pipeline`]: a flag that adds
//! stages or analysers goes into [`RunArgs`] and is turned into builder calls there.

use std::time::Duration;

use anyhow::Result;
use wifi_sensing_core::{JsonLinesSink, Pipeline};

use crate::input::{on_malformed, open_input, OpenedInput, ReaderFlags};
use crate::output::{self, Limit};
use crate::{progress, report, Log};

// Options of the `run` command.
#[derive(clap::Args, Debug)]
pub(crate) struct RunArgs {
    #[command(flatten)]
    pub reader: ReaderFlags,
    /// A file (format auto-detected), `udp://HOST:PORT` (live) or `-` (stdin).
    pub input: String,
    /// Read the input as this format instead of detecting it.
    #[arg(long)]
    pub format: Option<String>,
    /// End with an error at the first malformed record instead of skipping it.
    #[arg(long)]
    pub strict: bool,
    /// Do not print frame records (only non-CSI and analysis records).
    #[arg(long)]
    pub no_frames: bool,
    /// Stop after this many output records.
    #[arg(long)]
    pub limit: Option<u64>,
    /// For `udp://` inputs only: stop after this long.
    #[arg(long, value_parser = crate::parse_duration)]
    pub duration: Option<Duration>,
}

/// `wifi-sensing run`.
pub(crate) fn main(args: RunArgs, log: &Log) -> Result<()> {
    let opened = open_input(
        &args.input,
        &args.reader,
        args.format.as_deref(),
        args.duration,
        log,
    )?;
    let pipeline = build_pipeline(&args)?;
    run(opened, pipeline, args.limit, log)
}

/// The pipeline `run` drives, from its arguments: the malformed-record policy, whether frames
/// are emitted, and (as flags are added) the stages and analysers.
pub(crate) fn build_pipeline(args: &RunArgs) -> Result<Pipeline> {
    let builder = Pipeline::builder()
        .on_malformed(on_malformed(args.strict))
        .emit_frames(!args.no_frames);
    Ok(builder.build()?)
}

fn run(mut opened: OpenedInput, mut p: Pipeline, limit: Option<u64>, log: &Log) -> Result<()> {
    let live = opened.live;
    let mut sink = Limit::new(
        JsonLinesSink::new(output::stdout()).flush_each_line(live),
        limit,
    );
    let bar = progress::Progress::new(opened.total_bytes);
    let summary = {
        let cap = &mut opened.capture;
        let src = progress::Tracked::new(cap, &bar);
        p.run(src, &mut sink)
    };
    bar.finish();
    let summary = summary?;
    report::summary(&summary, opened.capture.stats(), sink.written(), log);
    if let Some(l) = limit.filter(|&l| sink.written() >= l) {
        log.info(format_args!("stopped at --limit {l}"));
    }
    Ok(())
}
