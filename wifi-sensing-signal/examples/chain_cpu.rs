//! Per-frame cost of the default stage chain, for timing under `perf stat` (CPU time, not wall
//! time, so other processes on the machine do not inflate it):
//!
//! ```text
//! perf stat -e task-clock,cycles,instructions target/release/examples/chain_cpu esp32 200000
//! perf stat -e task-clock target/release/examples/chain_cpu esp32-clone 200000   # the frame copy alone
//! ```
//! Kinds: `esp32` (1x1x64), `intel` (3x2x30), each with `-clone` for the input copy alone;
//! `spectral-mean` / `spectral-pca1`: the streaming spectrogram analyser alone on the ESP32
//! frames at 100 Hz (1 s window, 0.25 s hop).
//! Frames are the criterion bench's (`benches/chain.rs`): 64 distinct frames, 10 ms apart.

#[path = "../benches/common/mod.rs"]
mod common;

use common::{frames, INTEL_SUBCARRIERS};
use wifi_sensing_core::{Analyser, Stage};
use wifi_sensing_signal::spectral::SpectralAnalyser;
use wifi_sensing_signal::stages::{parse_stages, Notices};

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let kind = a.get(1).map(String::as_str).unwrap_or("esp32");
    let n: usize = a.get(2).and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let input = if kind.starts_with("intel") {
        frames((3, 2, 30), INTEL_SUBCARRIERS.to_vec())
    } else {
        frames((1, 1, 64), (-32..32).collect())
    };
    if let Some(comp) = kind.strip_prefix("spectral-") {
        let spec = format!("window=1s:hop=0.25s:component={comp}");
        let mut a = SpectralAnalyser::spectrogram(spec.parse().expect("spec")).expect("analyser");
        let mut f = input[0].clone();
        let mut out = Vec::with_capacity(4);
        let mut records = 0usize;
        let t0 = std::time::Instant::now();
        for i in 0..n {
            f.csi.assign(&input[i % input.len()].csi);
            f.timestamp_ns = i as i64 * 10_000_000;
            out.clear();
            a.analyse(&f, &mut out).expect("analyse");
            records += out.len();
        }
        let wall = t0.elapsed().as_secs_f64();
        println!(
            "{kind}: {n} frames, {records} records, wall {:.3} us/frame",
            wall * 1e6 / n as f64
        );
        return;
    }
    let clone_only = kind.ends_with("-clone");
    let notices = Notices::default();
    let mut stages: Vec<Box<dyn Stage>> = parse_stages("sanitize,hampel:window=15:k=3,normalize")
        .expect("chain")
        .iter()
        .map(|s| s.build(&notices).expect("stage"))
        .collect();
    let (mut out, mut next) = (Vec::with_capacity(4), Vec::with_capacity(4));
    let mut emitted = 0usize;
    let t0 = std::time::Instant::now();
    for i in 0..n {
        let mut f = input[i % input.len()].clone();
        f.timestamp_ns = i as i64 * 10_000_000;
        if clone_only {
            emitted += std::hint::black_box(f).n_subcarriers();
            continue;
        }
        out.clear();
        out.push(f);
        for s in stages.iter_mut() {
            next.clear();
            for f in out.drain(..) {
                s.process_into(f, &mut next).expect("stage");
            }
            std::mem::swap(&mut out, &mut next);
        }
        emitted += out.len();
    }
    let wall = t0.elapsed().as_secs_f64();
    println!(
        "{kind}: {n} frames, {emitted} out, wall {:.3} us/frame",
        wall * 1e6 / n as f64
    );
}
