//! Reads a capture file repeatedly (warm page cache) and prints the best frames/s as JSON.
//! Used by `benches/compare/compare.py` for side-by-side runs against peer parsers.
//!
//! ```text
//! cargo run --release --example throughput -- FILE [REPEATS] [FORMAT]
//! ```

use std::time::Instant;

use wifi_sensing::{CaptureFormat, Error, Registry};

fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: throughput FILE [REPEATS] [FORMAT]");
        std::process::exit(2);
    };
    let repeats: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(20);
    let format = args.next().and_then(|s| CaptureFormat::from_name(&s));
    let reg = Registry::builtin();
    let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let mut best = f64::INFINITY;
    let mut frames = 0u64;
    let mut malformed = 0u64;
    for _ in 0..repeats.max(1) {
        let start = Instant::now();
        let mut cap = reg.open_path_as(&path, format)?.skip_malformed(true);
        let mut n = 0u64;
        for f in &mut cap {
            std::hint::black_box(f?);
            n += 1;
        }
        let dt = start.elapsed().as_secs_f64();
        best = best.min(dt);
        frames = n;
        malformed = cap.stats().malformed;
    }
    println!(
        "{{\"file\":{:?},\"frames\":{},\"malformed\":{},\"bytes\":{},\"best_s\":{:.9},\"frames_per_s\":{:.1},\"mb_per_s\":{:.2}}}",
        path,
        frames,
        malformed,
        bytes,
        best,
        frames as f64 / best,
        bytes as f64 / best / 1e6
    );
    Ok(())
}
