//! `wifi-sensing convert`: a capture to a native recording (`.csirec`), JSON Lines or Parquet;
//! several captures to a Parquet dataset.

use std::io::Write;
use std::path::Path;

use anyhow::Result;
use wifi_sensing_core::pipeline::Handoff;
use wifi_sensing_core::{
    CaptureFormat, JsonLinesSink, Output, Pipeline, RecordingSink, Sink, Summary,
};

use crate::input::{on_malformed, open_input, InputSpec, OpenedInput, ReaderFlags};
use crate::output::{self, Limit};
use crate::values::extension;
use crate::{progress, report, Log};

// Options of the `convert` command.
#[derive(clap::Args, Debug)]
pub(crate) struct ConvertArgs {
    /// A file (format auto-detected), `udp://HOST:PORT` or `-`. Several files, folders or
    /// glob patterns (`'caps/**/*.dat'`) build a Parquet dataset in the folder `-o` names.
    #[arg(required = true, num_args = 1..)]
    pub inputs: Vec<String>,
    /// Output file: `.csirec`, `.jsonl` or `.parquet`; `-` writes JSON Lines to stdout; a folder
    /// (`DIR/`) receives a Hive-partitioned Parquet dataset (see docs/parquet.md).
    #[arg(short, long, value_parser = crate::values::convert_output)]
    pub output: String,
    #[command(flatten)]
    pub dataset: crate::dataset::DatasetArgs,
    /// Read the input as this format instead of detecting it.
    #[arg(long, value_parser = crate::values::format)]
    pub format: Option<CaptureFormat>,
    /// End with an error at the first malformed record instead of skipping it, and with exit
    /// status 1 when the input ends inside a record (its complete records are still written).
    #[arg(long)]
    pub strict: bool,
    /// Threads of a single-file conversion: `1` reads and writes on one thread, `2` reads on
    /// one while the other encodes and writes (the output is the same). `2` shortens the wall
    /// time only with a free core (measured on an idle 2-core machine: `.csirec` at most 14 % less, one input 4 % more,
    /// Parquet 9-27 % less) and costs 20-66 % more CPU time, so it is not the default. A
    /// dataset converts its captures in parallel instead (`--jobs`).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(1..=2))]
    pub threads: Option<u8>,
    // reader options: last, under their own help heading
    #[command(flatten)]
    pub reader: ReaderFlags,
}

/// `wifi-sensing convert`.
pub(crate) fn main(args: ConvertArgs, log: &Log) -> Result<()> {
    if crate::dataset::wanted(&args.inputs, &args.output) {
        if args.threads.is_some() {
            crate::usage!(
                "--threads applies to a single-file conversion; a dataset converts its captures in parallel (--jobs)"
            );
        }
        return crate::dataset::main(
            &args.inputs,
            &args.output,
            &args.reader,
            args.format,
            args.strict,
            &args.dataset,
            log,
        );
    }
    let input = match crate::values::input(&args.inputs[0]) {
        Ok(i) => i,
        Err(e) => crate::usage!("invalid value {:?} for '<INPUTS>...': {e}", args.inputs[0]),
    };
    if args.output != "-" {
        let out = Path::new(&args.output);
        match &input {
            InputSpec::File(p) => output::ensure_distinct(out, p, "input")?,
            // `convert - -o x < x`: the redirected file is the input
            InputSpec::Stdin => {
                output::ensure_distinct(out, Path::new(output::STDIN), "input (stdin)")?
            }
            InputSpec::Udp(_) => {}
        }
    }
    if args.dataset.jobs.is_some() {
        crate::usage!(
            "--jobs applies to a dataset (several inputs, a folder or a pattern, -o DIR/); a \
             single-file conversion reads on one thread (--threads 2 adds an encoding thread)"
        );
    }
    if args.dataset.compression.is_some() && extension(&args.output) != "parquet" {
        crate::usage!(
            "--compression applies to Parquet outputs (-o X.parquet or a dataset folder)"
        );
    }
    let threaded = args.threads.is_some_and(|n| n > 1);
    let opened = open_input(&input, &args.reader, args.format, None, log)?;
    // only a Parquet output carries metadata, and with it the input's content hash
    let mut info = if extension(&args.output) == "parquet" {
        crate::columnar::FileInfo::of_input(&input, &opened.description)?
    } else {
        crate::columnar::FileInfo::of_process(&opened.description)
    };
    info.codec = args.dataset.compression.unwrap_or_default();
    convert(
        opened,
        &args.output,
        Options {
            strict: args.strict,
            forced_format: args.format.is_some(),
            info,
            threaded,
        },
        log,
    )
}

/// How [`convert`] runs.
struct Options {
    strict: bool,
    forced_format: bool,
    /// The metadata of a Parquet output (the codec, the input's content hash).
    info: crate::columnar::FileInfo,
    /// The sink on a second thread ([`Pipeline::run_threaded`]).
    threaded: bool,
}

/// Runs `p` from `src` into `sink`, on one thread or two: the same items reach the sink in the
/// same order, and the summary is the same.
fn run<S: Sink<Output> + Send>(
    p: &mut Pipeline,
    src: progress::Tracked<'_>,
    sink: &mut S,
    threaded: bool,
) -> wifi_sensing_core::Result<Summary> {
    if threaded {
        p.run_threaded(src, sink, Handoff::default())
    } else {
        p.run_recycling(src, sink)
    }
}

fn convert(mut opened: OpenedInput, output: &str, o: Options, log: &Log) -> Result<()> {
    let mut p = Pipeline::builder()
        .on_malformed(on_malformed(o.strict))
        .emit_frames(true)
        .build()?;
    let to_stdout = output == "-";
    // the name was checked when the arguments were parsed (`values::convert_output`)
    let ext = extension(output);
    let jsonl = to_stdout || (ext != "csirec" && ext != "parquet");
    let bar = progress::Progress::new(opened.total_bytes);
    // every sink below is done with a frame once it has written it: the frames go back to the
    // reader, which refills their buffers (`run_recycling`, `run_threaded`)
    let result = if jsonl {
        let w: Box<dyn Write + Send> = if to_stdout {
            Box::new(output::stdout())
        } else {
            Box::new(output::create_file(Path::new(output), log)?)
        };
        let mut sink = Limit::new(JsonLinesSink::new(w), None);
        let src = progress::Tracked::new(&mut opened.capture, &bar);
        run(&mut p, src, &mut sink, o.threaded).map(|s| (s, sink.written()))
    } else if ext == "parquet" {
        let mut sink =
            crate::columnar::ParquetSink::create(Path::new(output), o.info, *log, o.threaded)?
                .logging(*log);
        let src = progress::Tracked::new(&mut opened.capture, &bar);
        run(&mut p, src, &mut sink, o.threaded).map(|s| (s, sink.files().iter().map(|f| f.1).sum()))
    } else {
        let mut writer = output::create_recording(Path::new(output), &opened.description, log)?;
        // without stages the frames reach the writer as the reader returned them, so the
        // reader's promise about their CSI values (int8 for Intel 5300) holds and the writer
        // need not scan them (the bytes written are the same); a stage could change them
        if p.stage_names().is_empty() {
            writer.assume_integer_csi(opened.capture.csi_integer_bits());
        }
        let mut sink = RecordingSink::new(writer);
        let src = progress::Tracked::new(&mut opened.capture, &bar);
        run(&mut p, src, &mut sink, o.threaded).map(|s| (s, sink.records_written()))
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
    report::summary(
        &summary,
        opened.capture.stats(),
        written,
        &opened.description,
        opened.udp_stats.is_some(),
        log,
    );
    // the Parquet sink has named each file it wrote with its rows
    if !to_stdout && ext != "parquet" {
        log.info(format_args!("wrote {written} records to {output}"));
    }
    report::strict_cut(&summary, o.strict, report::WRITTEN_BEFORE_CUT)?;
    report::ensure_decoded(
        opened.capture.stats(),
        &opened.description,
        opened.capture.format(),
        o.forced_format,
    )
}
