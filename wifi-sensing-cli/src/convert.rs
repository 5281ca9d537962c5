//! `wifi-sensing convert`: a capture to a native recording (`.csirec`) or JSON Lines.

use std::io::Write;
use std::path::Path;

use anyhow::{bail, Result};
use wifi_sensing_core::{JsonLinesSink, Pipeline, RecordingSink};

use crate::input::{on_malformed, open_input, InputSpec, OpenedInput, ReaderFlags};
use crate::output::{self, Limit};
use crate::{progress, report, Log};

// Options of the `convert` command.
#[derive(clap::Args, Debug)]
pub(crate) struct ConvertArgs {
    #[command(flatten)]
    pub reader: ReaderFlags,
    /// A file (format auto-detected), `udp://HOST:PORT` or `-`.
    pub input: String,
    /// Output file: `.csirec` or `.jsonl`; `-` writes JSON Lines to stdout.
    #[arg(short, long)]
    pub output: String,
    /// Read the input as this format instead of detecting it.
    #[arg(long)]
    pub format: Option<String>,
    /// End with an error at the first malformed record instead of skipping it.
    #[arg(long)]
    pub strict: bool,
}

/// `wifi-sensing convert`.
pub(crate) fn main(args: ConvertArgs, log: &Log) -> Result<()> {
    if args.output != "-" {
        let out = Path::new(&args.output);
        match InputSpec::parse(&args.input)? {
            InputSpec::File(p) => output::ensure_distinct(out, &p, "input")?,
            // `convert - -o x < x`: the redirected file is the input
            InputSpec::Stdin => {
                output::ensure_distinct(out, Path::new(output::STDIN), "input (stdin)")?
            }
            InputSpec::Udp(_) => {}
        }
    }
    let opened = open_input(&args.input, &args.reader, args.format.as_deref(), None, log)?;
    convert(opened, &args.output, args.strict, log)
}

fn convert(mut opened: OpenedInput, output: &str, strict: bool, log: &Log) -> Result<()> {
    let mut p = Pipeline::builder()
        .on_malformed(on_malformed(strict))
        .emit_frames(true)
        .build()?;
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
        let mut sink = Limit::new(JsonLinesSink::new(w), None);
        let src = progress::Tracked::new(&mut opened.capture, &bar);
        p.run(src, &mut sink).map(|s| (s, sink.written()))
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
    report::summary(&summary, opened.capture.stats(), written, log);
    if !to_stdout {
        log.info(format_args!("wrote {written} records to {output}"));
    }
    Ok(())
}
