//! Run a capture through a pipeline with a custom stage and print JSON Lines to stdout.
//!
//! ```text
//! cargo run --example pipeline_jsonl -- fixtures/esp32/example_csi.csv | head -n 2
//! ```

use std::io::{BufWriter, Write};

use wifi_sensing::{open, CsiFrame, Error, JsonLinesSink, OnMalformed, Pipeline, Stage};

/// A stage that keeps only frames whose mean amplitude is above a threshold.
struct MinAmplitude(f32);

impl Stage for MinAmplitude {
    fn name(&self) -> &str {
        "min-amplitude"
    }
    fn process(&mut self, frame: CsiFrame) -> wifi_sensing::Result<Option<CsiFrame>> {
        let n = frame.csi.len().max(1) as f32;
        let mean = frame.csi.iter().map(|c| c.norm()).sum::<f32>() / n;
        Ok((mean >= self.0).then_some(frame))
    }
}

fn main() -> Result<(), Error> {
    let path = std::env::args().nth(1).unwrap_or_else(|| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/esp32/example_csi.csv"
        )
        .to_string()
    });
    let mut capture = open(&path)?;
    let mut pipeline = Pipeline::builder()
        .stage(MinAmplitude(1.0))
        .on_malformed(OnMalformed::Skip)
        .build()?;
    let stdout = std::io::stdout();
    let mut sink = JsonLinesSink::new(BufWriter::new(stdout.lock()));
    match pipeline.run(capture.records(), &mut sink) {
        Ok(summary) => {
            eprintln!(
                "{} frames in, {} out, {} malformed skipped",
                summary.frames_in, summary.frames_out, summary.malformed
            );
            Ok(())
        }
        // `| head` closes stdout early: not an error for a command-line filter.
        Err(e) if e.is_broken_pipe() => Ok(()),
        Err(e) => {
            let _ = std::io::stderr().flush();
            Err(e)
        }
    }
}
