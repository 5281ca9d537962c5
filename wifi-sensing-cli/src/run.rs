//! `wifi-sensing run`: the pipeline over an input, JSON Lines records on stdout.
//!
//! The pipeline is built from the arguments in one place, [`build_pipeline`]: a flag that adds
//! stages or analysers goes into [`RunArgs`] and is turned into builder calls there.

use std::time::Duration;

use anyhow::Result;
use wifi_sensing_core::{JsonLinesSink, Pipeline};
use wifi_sensing_signal::stages::{Notices, StageSpec, STAGES_HELP};

use crate::input::{on_malformed, open_input, OpenedInput, ReaderFlags};
use crate::output::{self, Limit};
use crate::{progress, report, Log};

// Options of the `run` command.
#[derive(clap::Args, Debug)]
#[command(after_long_help = STAGES_HELP)]
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
    #[cfg(feature = "pose")]
    #[command(flatten)]
    pub pose: crate::pose::PoseArgs,
    /// DSP stages applied per node before output, comma-separated, e.g.
    /// `resample:100hz,sanitize,hampel:window=15:k=3,normalize` (list in `run --help`).
    #[arg(long, value_name = "LIST", value_parser = parse_stage_list)]
    pub stages: Option<StageList>,
}

/// A parsed `--stages` list.
#[derive(Clone, Debug)]
pub(crate) struct StageList(pub Vec<StageSpec>);

pub(crate) fn parse_stage_list(s: &str) -> std::result::Result<StageList, String> {
    wifi_sensing_signal::stages::parse_stages(s)
        .map(StageList)
        .map_err(|e| e.to_string())
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
    let notices = Notices::default();
    let pipeline = build_pipeline(&args, &notices)?;
    let result = run(opened, pipeline, args.limit, log);
    for n in notices.take() {
        log.warn(n);
    }
    #[cfg(feature = "pose")]
    args.pose.report(log);
    result
}

/// The pipeline `run` drives, from its arguments: the malformed-record policy, whether frames
/// are emitted, and (as flags are added) the stages and analysers.
pub(crate) fn build_pipeline(args: &RunArgs, notices: &Notices) -> Result<Pipeline> {
    let mut builder = Pipeline::builder()
        .on_malformed(on_malformed(args.strict))
        .emit_frames(!args.no_frames);
    for spec in args.stages.iter().flat_map(|l| &l.0) {
        builder = builder.boxed_stage(spec.build(notices)?);
    }
    #[cfg(feature = "pose")]
    if let Some(est) = args.pose.estimator()? {
        builder = builder.analyser(est);
    }
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
