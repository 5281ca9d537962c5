//! `wifi-sensing run`: the pipeline over an input, JSON Lines records on stdout.
//!
//! The pipeline is built from the arguments in one place, [`build_pipeline`]: a flag that adds
//! stages or analysers goes into [`RunArgs`] and is turned into builder calls there.

use std::time::Duration;

use anyhow::Result;
use wifi_sensing_core::{Analyser, CaptureFormat, Pipeline};
use wifi_sensing_signal::spectral::{SpectralAnalyser, SpectralConfig, SpectralKind};
use wifi_sensing_signal::stages::{Notices, StageSpec, STAGES_HELP};

use wifi_sensing_introspect::early::EarlyConfig;

use crate::input::{on_malformed, open_input, InputSpec, OpenedInput, ReaderFlags};
use crate::output::Limit;
use crate::{progress, report, Log};

// Options of the `run` command.
#[derive(clap::Args, Debug)]
#[command(after_long_help = STAGES_HELP)]
pub(crate) struct RunArgs {
    /// A file (format auto-detected), `udp://HOST:PORT` (live) or `-` (stdin).
    #[arg(value_parser = crate::values::input)]
    pub input: InputSpec,
    /// Read the input as this format instead of detecting it.
    #[arg(long, value_parser = crate::values::format)]
    pub format: Option<CaptureFormat>,
    /// End with an error at the first malformed record instead of skipping it, and with exit
    /// status 1 when the input ends inside a record (its complete records are still written).
    #[arg(long)]
    pub strict: bool,
    /// Do not print frame records (only non-CSI and analysis records).
    #[arg(long)]
    pub no_frames: bool,
    /// Stop after this many output records (at least 1).
    #[arg(long, value_parser = crate::values::at_least_one)]
    pub limit: Option<u64>,
    /// For `udp://` inputs only: stop after this long.
    #[arg(long, value_parser = crate::parse_duration, allow_hyphen_values = true)]
    pub duration: Option<Duration>,
    /// Motion and presence events (records of type `event`), per node, and fused over the
    /// nodes when the stream has two or more.
    #[arg(long)]
    pub events: bool,
    /// Breathing and heart rate (records of type `vital_signs`): a record every 5 s of a node's
    /// frames over its last 60 s; an estimate needs a window of about 20 s without motion
    /// (before that the records say `window_too_short`; a node with under 5 s of frames gets
    /// no record, and the run says so).
    #[arg(long)]
    pub vitals: bool,
    /// Empty-room baseline from `wifi-sensing calibrate` (needs --events, --vitals or
    /// --introspect-early, whose motion onset uses it too).
    #[arg(long)]
    pub baseline: Option<std::path::PathBuf>,
    /// Emit an `introspection` snapshot per frame, matching the signatures of this directory.
    #[arg(long, value_name = "SIGNATURE_DIR")]
    pub introspect: Option<std::path::PathBuf>,
    /// With --introspect: one snapshot every N frames per node. Matching still runs on every
    /// frame, and regime changes and early-labelling commits since the previous snapshot are
    /// carried into the next one (when the input ends with some pending, one more snapshot, of
    /// the node's last frame, carries them); a signature's `score` and `above_threshold` are its
    /// state at the snapshot's frame, so a match that rose and fell between two snapshots is not
    /// shown.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = crate::values::at_least_one, requires = "introspect")]
    pub introspect_every: u64,
    /// With --introspect: early labelling against the `motion_lags_v1` signatures of this
    /// directory (an `early` object in every snapshot; fixtures/signatures/early holds walk,
    /// wave, push and sit).
    #[arg(long, value_name = "EARLY_DIR", requires = "introspect")]
    pub introspect_early: Option<std::path::PathBuf>,
    /// With --introspect-early: models of other motion (signatures of motions that are none of
    /// the labels, same kind; fixtures/signatures/early/other holds the return to standing after
    /// a wave, fixtures/signatures/early/other-all the returns after each of the four
    /// activities). An episode nearest one of them commits no label (`rejected` in
    /// the `early` object): far fewer false labels, and fewer right ones (crate README).
    #[arg(long, value_name = "OTHER_DIR", requires = "introspect_early")]
    pub introspect_early_other: Option<std::path::PathBuf>,
    /// With --introspect-early: confidence (second-best cost / best cost - 1) needed to commit
    /// a label.
    #[arg(long, value_name = "M", default_value_t = EarlyConfig::default().margin, value_parser = crate::values::non_negative, requires = "introspect_early")]
    pub early_margin: f64,
    /// With --introspect-early: frames of a motion episode before a label may be committed.
    #[arg(long, value_name = "K", default_value_t = EarlyConfig::default().min_frames as u64, value_parser = clap::value_parser!(u64).range(1..=1024), requires = "introspect_early")]
    pub early_min_frames: u64,
    /// With --introspect-early: frames of a motion episode from which the best label is committed
    /// with the lower confidence --early-late-margin, if none was (0: never; else at least
    /// --early-min-frames). Default 64, or --early-min-frames when that is larger.
    #[arg(long, value_name = "K", value_parser = clap::value_parser!(u64).range(0..=1024), requires = "introspect_early")]
    pub early_decide_at: Option<u64>,
    /// With --introspect-early: confidence needed from --early-decide-at frames on (0: the best
    /// label is committed there whatever its confidence).
    #[arg(long, value_name = "M", default_value_t = EarlyConfig::default().late_margin, value_parser = crate::values::non_negative, requires = "introspect_early")]
    pub early_late_margin: f64,
    #[command(flatten)]
    pub out: crate::columnar::OutputArgs,
    #[cfg(feature = "pose")]
    #[command(flatten)]
    pub pose: crate::pose::PoseArgs,
    /// DSP stages applied per node before output, comma-separated, e.g.
    /// `resample:100hz,sanitize,hampel:window=15:k=3,normalize` (list in `run --help`).
    #[arg(long, value_name = "LIST", value_parser = parse_stage_list)]
    pub stages: Option<StageList>,
    /// Streaming spectrogram columns per node (records of type `spectrogram`); optional spec
    /// `--spectrogram=window=1s:hop=0.25s:component=mean|subcarrier:K|pca1:fn=hann:max_gap=0.5s`.
    #[arg(long, value_name = "SPEC", num_args = 0..=1, require_equals = true, default_missing_value = "", value_parser = parse_spectrogram)]
    pub spectrogram: Option<SpectralSpec>,
    /// Streaming Doppler (speed) profiles per node (records of type `doppler`); the same spec
    /// plus `min_speed=0.2` (m/s) and `carrier=MHZ` for frames that do not state their carrier.
    #[arg(long, value_name = "SPEC", num_args = 0..=1, require_equals = true, default_missing_value = "", value_parser = parse_spectral)]
    pub doppler: Option<SpectralSpec>,
    // (new flags above this line: the reader options come last, under their own help heading)
    #[command(flatten)]
    pub reader: ReaderFlags,
}

/// A parsed `--stages` list, and the list as given (for messages).
#[derive(Clone, Debug)]
pub(crate) struct StageList(pub Vec<StageSpec>, pub String);

pub(crate) fn parse_stage_list(s: &str) -> std::result::Result<StageList, String> {
    wifi_sensing_signal::stages::parse_stages(s)
        .map(|v| StageList(v, s.to_string()))
        .map_err(|e| e.to_string())
}

/// A parsed `--spectrogram`/`--doppler` spec (boxed: keeps `RunArgs`, a variant of the command
/// enum, small).
#[derive(Clone, Debug)]
pub(crate) struct SpectralSpec(Box<SpectralConfig>);

/// `--spectrogram`: the spec of `--doppler` without its Doppler-only `min_speed` and `carrier`
/// (which would be accepted and do nothing).
fn parse_spectrogram(s: &str) -> std::result::Result<SpectralSpec, String> {
    if s.split(':').any(|p| p.trim().starts_with("min_speed=")) {
        return Err(format!(
            "`{s}`: min_speed is a --doppler parameter (a spectrogram has no speed summary)"
        ));
    }
    if s.split(':').any(|p| p.trim().starts_with("carrier=")) {
        return Err(format!(
            "`{s}`: carrier is a --doppler parameter (a spectrogram's axis is in Hz, not m/s)"
        ));
    }
    parse_spectral(s)
}

fn parse_spectral(s: &str) -> std::result::Result<SpectralSpec, String> {
    s.parse()
        .map(|c| SpectralSpec(Box::new(c)))
        .map_err(|e: wifi_sensing_signal::SignalError| e.to_string())
}

/// `wifi-sensing run`.
pub(crate) fn main(mut args: RunArgs, log: &Log) -> Result<()> {
    // `-o -` is stdout, as for `convert`
    if args.out.output.as_deref() == Some("-") {
        args.out.output = None;
    }
    // the pipeline first: its usage errors (and bad models, signatures or baselines) are
    // reported before the input is opened
    crate::columnar::check_run_output(&args.out, !args.no_frames)?;
    let notices = Notices::default();
    let pipeline = build_pipeline(&args, &notices)?;
    #[cfg(feature = "pose")]
    args.pose.warn_before_input(log);
    args.reader.strict = args.strict;
    let opened = open_input(&args.input, &args.reader, args.format, args.duration, log)?;
    if args.no_frames && pipeline.analyser_names().is_empty() {
        log.warn(
            "--no-frames with no analyser selected: only non-CSI records of the input (if any) \
             will be printed",
        );
    }
    let sink = crate::columnar::run_sink(
        &args.out,
        &args.input,
        &opened.description,
        !args.no_frames,
        opened.live,
        log,
    )?;
    let result = run(
        opened,
        pipeline,
        sink,
        args.limit,
        (args.format.is_some(), args.strict),
        log,
    );
    for n in notices.take() {
        log.warn(n);
    }
    #[cfg(feature = "pose")]
    args.pose.report(log, result.is_err())?;
    result
}

/// The pipeline `run` drives, from its arguments: the malformed-record policy, whether frames
/// are emitted, and (as flags are added) the stages and analysers.
pub(crate) fn build_pipeline(args: &RunArgs, notices: &Notices) -> Result<Pipeline> {
    build_pipeline_with(args, notices, true)
}

/// [`build_pipeline`]; with `share_events` (always, but in the test that checks it changes no
/// output) a run with `--events` and `--introspect-early` runs the motion and presence detector
/// once per frame for both ([`crate::introspect::share_events`]) instead of once in each.
fn build_pipeline_with(args: &RunArgs, notices: &Notices, share_events: bool) -> Result<Pipeline> {
    let mut builder = Pipeline::builder()
        .on_malformed(on_malformed(args.strict))
        .emit_frames(!args.no_frames);
    for spec in args.stages.iter().flat_map(|l| &l.0) {
        builder = builder.boxed_stage(spec.build(notices)?);
    }
    let share = share_events && args.events && args.introspect_early.is_some();
    let introspect = args
        .introspect
        .as_ref()
        .map(|dir| crate::introspect::analyser(dir, args, !share, notices))
        .transpose()?;
    let mut spectral = Vec::new();
    for (cfg, kind) in [
        (&args.spectrogram, SpectralKind::Spectrogram),
        (&args.doppler, SpectralKind::Doppler),
    ] {
        if let Some(c) = cfg {
            spectral.push(SpectralAnalyser::new(
                kind,
                (*c.0).clone(),
                notices.clone(),
            )?);
        }
    }
    let sensing = sensing(args, notices)?;
    // The analysers in the order of their records: introspection, spectral, sensing.
    type Boxed = Option<Box<dyn Analyser>>;
    let (introspect, sensing): (Boxed, Boxed) = match (introspect, sensing) {
        (Some(i), Some(s)) if share => {
            let (i, s) = crate::introspect::share_events(i, s);
            (Some(Box::new(i)), Some(Box::new(s)))
        }
        (i, s) => (
            i.map(|a| Box::new(a) as Box<dyn Analyser>),
            s.map(|a| Box::new(a) as Box<dyn Analyser>),
        ),
    };
    if let Some(a) = introspect {
        builder = builder.boxed_analyser(a);
    }
    for a in spectral {
        builder = builder.analyser(a);
    }
    if let Some(a) = sensing {
        builder = builder.boxed_analyser(a);
    }
    #[cfg(feature = "pose")]
    if let Some(est) = args.pose.estimator()? {
        if let Some(StageList(_, list)) = &args.stages {
            notices.push(format!(
                "--pose: the model is given the frames after --stages `{list}`; a model trained \
                 on frames without these stages (as the reference model wifi-pose-ref was) gets \
                 other inputs than it learnt from, and its poses may be far off"
            ));
        }
        builder = builder.analyser(est);
    }
    Ok(builder.build()?)
}

/// The events and vital-sign analyser of `--events` / `--vitals` / `--baseline`.
fn sensing(
    args: &RunArgs,
    notices: &Notices,
) -> Result<Option<wifi_sensing_signal::SensingAnalyser>> {
    use wifi_sensing_signal::{calibration::Baseline, SensingAnalyser, SensingConfig};
    if !(args.events || args.vitals) {
        if args.baseline.is_some() && args.introspect_early.is_none() {
            crate::usage!("--baseline needs --events, --vitals or --introspect-early");
        }
        return Ok(None);
    }
    let d = SensingConfig::default();
    let cfg = SensingConfig {
        events: if args.events { d.events.clone() } else { None },
        vitals: if args.vitals { d.vitals.clone() } else { None },
        ..d
    };
    let baseline = args.baseline.as_ref().map(Baseline::load).transpose()?;
    Ok(Some(
        SensingAnalyser::new(cfg, baseline)?.with_notices(notices.clone()),
    ))
}

fn run(
    mut opened: OpenedInput,
    mut p: Pipeline,
    sink: crate::columnar::RunSink,
    limit: Option<u64>,
    (forced_format, strict): (bool, bool),
    log: &Log,
) -> Result<()> {
    let mut sink = Limit::new(sink.sink, limit).counting(sink.counts);
    let bar = progress::Progress::new(opened.total_bytes);
    let mut nodes = wifi_sensing_core::NodeTracker::default();
    let summary = {
        let cap = &mut opened.capture;
        let src = progress::Tracked::new(cap, &bar).with_nodes(&mut nodes);
        p.run(src, &mut sink)
    };
    bar.finish();
    let summary = summary?;
    report::summary(
        &summary,
        opened.capture.stats(),
        sink.written(),
        &opened.description,
        opened.udp_stats.is_some(),
        log,
    );
    report::shared_senders(
        opened.udp_stats.as_deref(),
        opened.keep.as_deref(),
        &opened.description,
        log,
    );
    report::frames_lost(&nodes, &opened.description, opened.live, log);
    if let Some(l) = limit.filter(|&l| sink.written() >= l) {
        log.info(format_args!("stopped at --limit {l}"));
    }
    report::strict_cut(&summary, strict, report::WRITTEN_BEFORE_CUT)?;
    report::ensure_decoded(
        opened.capture.stats(),
        &opened.description,
        opened.capture.format(),
        forced_format,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use wifi_sensing_core::sim::{DeviceProfile, Scenario, Simulator};
    use wifi_sensing_core::{CsiFrame, JsonLinesSink};

    #[derive(Parser)]
    struct Args {
        #[command(flatten)]
        run: RunArgs,
    }

    /// The JSON Lines `run` prints for `frames` (without frame records), the event path shared
    /// or not.
    fn output(args: &RunArgs, share: bool, frames: &[CsiFrame]) -> String {
        output_and_notices(args, share, frames).0
    }

    /// [`output`] and the notices the run leaves for stderr.
    fn output_and_notices(
        args: &RunArgs,
        share: bool,
        frames: &[CsiFrame],
    ) -> (String, Vec<String>) {
        let notices = Notices::default();
        let mut p = build_pipeline_with(args, &notices, share).unwrap();
        let mut sink = JsonLinesSink::new(Vec::new());
        p.run(frames.iter().cloned().map(Ok), &mut sink).unwrap();
        (
            String::from_utf8(sink.into_inner()).unwrap(),
            notices.take(),
        )
    }

    /// Standing 12 s (the event path's warm-up), then a wave, a walk, a push and a sit-down,
    /// each followed by standing.
    fn session() -> Vec<CsiFrame> {
        let at = r#""position_m": [2.4, 1.2], "heading_deg": 90"#;
        let stand = |d: u32| format!(r#"{{"activity": "stand", "duration_s": {d}, {at}}}"#);
        let doc = format!(
            r#"{{"name": "shared-events", "duration_s": 40, "rate_hz": 50, "timeline": [{},
            {{"activity": "gesture", "gesture": "wave", "duration_s": 4, {at}}}, {},
            {{"activity": "walk", "path_m": [[2.4, 1.2], [3.6, 0.6], [2.4, 1.2]], "duration_s": 4}}, {},
            {{"activity": "gesture", "gesture": "push", "duration_s": 4, {at}}}, {},
            {{"activity": "sit", "duration_s": 4, {at}}}]}}"#,
            stand(12),
            stand(4),
            stand(4),
            stand(4)
        );
        let sc = Scenario::from_json_str(&doc).unwrap();
        Simulator::new(sc, DeviceProfile::esp32(), 17)
            .unwrap()
            .map(|(f, _)| f)
            .collect()
    }

    #[test]
    fn events_and_early_labelling_share_one_event_path_and_print_the_same_records() {
        let sigs = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/signatures");
        let early = format!("{sigs}/early");
        let frames = session();
        for extra in [&["--events"][..], &["--events", "--vitals"]] {
            let argv = [
                &["run", "-", "--no-frames", "--introspect", sigs][..],
                &["--introspect-early", &early],
                extra,
            ]
            .concat();
            let args = Args::try_parse_from(argv).unwrap().run;
            let shared = output(&args, true, &frames);
            let apart = output(&args, false, &frames);
            let (a, b): (Vec<&str>, Vec<&str>) =
                (shared.lines().collect(), apart.lines().collect());
            if let Some(i) = (0..a.len().min(b.len())).find(|&i| a[i] != b[i]) {
                panic!("{extra:?}: line {i} differs:\n{}\n{}", a[i], b[i]);
            }
            assert_eq!(a.len(), b.len(), "{extra:?}");
            assert!(shared == apart, "{extra:?}: the bytes differ");
            // What the comparison covers: snapshots, the event path's MotionStarted, episodes
            // opened and labels committed (and vital signs with --vitals).
            let count = |s: &str| a.iter().filter(|l| l.contains(s)).count();
            assert_eq!(
                count(r#""type":"introspection""#),
                frames.len(),
                "{extra:?}"
            );
            assert!(count(r#""event":"motion_started""#) >= 3, "{extra:?}");
            assert!(count(r#""onset":true"#) >= 3, "{extra:?}");
            assert!(count(r#""committed_now":true"#) >= 2, "{extra:?}");
            if extra.contains(&"--vitals") {
                assert!(count(r#""type":"vital_signs""#) > 0);
            }
        }
    }

    #[test]
    fn the_shared_event_path_ends_its_stream_as_the_events_analyser_does() {
        let sigs = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/signatures");
        let early = format!("{sigs}/early");
        // the last frames of the session in another layout (every other subcarrier): the
        // event path skips them and says so at the end of the stream
        let mut frames = session();
        let n = frames.len();
        for f in &mut frames[n - 40..] {
            let every_other: Vec<usize> = (0..f.csi.dim().2).step_by(2).collect();
            f.csi = f.csi.select(ndarray::Axis(2), &every_other);
            f.subcarriers = f
                .subcarriers
                .take()
                .map(|s| s.into_iter().step_by(2).collect());
        }
        let argv = [
            "run",
            "-",
            "--no-frames",
            "--introspect",
            sigs,
            "--introspect-early",
            &early,
            "--events",
        ];
        let args = Args::try_parse_from(argv).unwrap().run;
        let (shared, said_shared) = output_and_notices(&args, true, &frames);
        let (apart, said_apart) = output_and_notices(&args, false, &frames);
        assert!(shared == apart);
        // the change lasts longer than the column probe (20 frames): the node starts over in
        // the new layout after 20 of its frames in a row, the 19 before that one skipped (the
        // frames analysed in the old layout are not)
        assert!(
            said_apart
                .iter()
                .any(|m| m.contains("19 of") && m.contains("analysed in 1x1x32")),
            "{said_apart:?}"
        );
        assert_eq!(said_shared, said_apart);
    }
}
