//! `wifi-sensing convert`: a capture to a native recording (`.csirec`) or JSON Lines.

use std::io::Write;
use std::path::Path;

use anyhow::Result;
use wifi_sensing_core::{CaptureFormat, JsonLinesSink, Pipeline, RecordingSink};

use crate::input::{on_malformed, open_input, InputSpec, OpenedInput, ReaderFlags};
use crate::output::{self, Limit};
use crate::values::extension;
use crate::{progress, report, Log};

// Options of the `convert` command.
#[derive(clap::Args, Debug)]
pub(crate) struct ConvertArgs {
    /// A file (format auto-detected), `udp://HOST:PORT` or `-`.
    #[arg(value_parser = crate::values::input)]
    pub input: InputSpec,
    /// Output file: `.csirec` or `.jsonl`; `-` writes JSON Lines to stdout.
    #[arg(short, long, value_parser = crate::values::convert_output)]
    pub output: String,
    /// Read the input as this format instead of detecting it.
    #[arg(long, value_parser = crate::values::format)]
    pub format: Option<CaptureFormat>,
    /// End with an error at the first malformed record instead of skipping it.
    #[arg(long)]
    pub strict: bool,
    // reader options: last, under their own help heading
    #[command(flatten)]
    pub reader: ReaderFlags,
}

/// `wifi-sensing convert`.
pub(crate) fn main(args: ConvertArgs, log: &Log) -> Result<()> {
    if args.output != "-" {
        let out = Path::new(&args.output);
        match &args.input {
            InputSpec::File(p) => output::ensure_distinct(out, p, "input")?,
            // `convert - -o x < x`: the redirected file is the input
            InputSpec::Stdin => {
                output::ensure_distinct(out, Path::new(output::STDIN), "input (stdin)")?
            }
            InputSpec::Udp(_) => {}
        }
    }
    let opened = open_input(&args.input, &args.reader, args.format, None, log)?;
    convert(
        opened,
        &args.output,
        args.strict,
        args.format.is_some(),
        log,
    )
}

fn convert(
    mut opened: OpenedInput,
    output: &str,
    strict: bool,
    forced_format: bool,
    log: &Log,
) -> Result<()> {
    let mut p = Pipeline::builder()
        .on_malformed(on_malformed(strict))
        .emit_frames(true)
        .build()?;
    let to_stdout = output == "-";
    // the name was checked when the arguments were parsed (`values::convert_output`)
    let jsonl = to_stdout || extension(output) != "csirec";
    let bar = progress::Progress::new(opened.total_bytes);
    let result = if jsonl {
        let w: Box<dyn Write> = if to_stdout {
            Box::new(output::stdout())
        } else {
            Box::new(output::create_file(Path::new(output), log)?)
        };
        let mut sink = Limit::new(JsonLinesSink::new(w), None);
        let src = progress::Tracked::new(&mut opened.capture, &bar);
        p.run(src, &mut sink).map(|s| (s, sink.written()))
    } else {
        let writer = output::create_recording(Path::new(output), &opened.description, log)?;
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
    report::summary(&summary, opened.capture.stats(), written, log);
    if !to_stdout {
        log.info(format_args!("wrote {written} records to {output}"));
    }
    report::ensure_decoded(
        opened.capture.stats(),
        &opened.description,
        opened.capture.format(),
        forced_format,
    )
}
