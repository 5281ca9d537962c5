//! Read a capture file (any supported format, detected from its bytes) and print its frames.
//!
//! ```text
//! cargo run --example read_capture -- fixtures/esp32/example_csi.csv
//! ```

use wifi_sensing::{open, Error};

fn main() -> Result<(), Error> {
    let path = std::env::args().nth(1).unwrap_or_else(|| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/esp32/example_csi.csv"
        )
        .to_string()
    });
    // Malformed records are counted in the statistics instead of being returned as errors.
    let mut capture = open(&path)?.skip_malformed(true);
    println!("{path}: {}", capture.format());
    for frame in &mut capture {
        match frame {
            Ok(frame) => println!("{frame}"),
            // the file ends inside a record: every complete record came before this error,
            // and the statistics below describe the cut
            Err(e) if e.is_truncated() => break,
            Err(e) => return Err(e),
        }
    }
    let stats = capture.stats();
    println!(
        "{} frames, {} non-CSI records, {} malformed records skipped",
        stats.frames, stats.aux_records, stats.malformed
    );
    if let Some(cut) = &stats.truncated {
        println!("the file ends inside a record: {}", cut.message);
    }
    Ok(())
}
