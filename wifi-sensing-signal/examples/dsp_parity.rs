//! Rust side of `benches/compare/dsp.py`: runs one operation on an array read from a file,
//! writes the result, and prints the best time of N repeats as JSON.
//!
//! ```text
//! dsp_parity hampel      IN OUT REPEATS WINDOW K     (f64 in, f64 out)
//! dsp_parity stft        IN OUT REPEATS NPERSEG HOP  (complex out: re,im pairs, (freq, time) order)
//! dsp_parity sosfilt     IN OUT REPEATS SOSFILE      (SOSFILE: 6 f64 per section)
//! dsp_parity sosfilt2d   IN OUT REPEATS SOSFILE CHANNELS  (IN as a row-major (time, CHANNELS)
//!                                                      matrix, every column filtered)
//! dsp_parity sosfiltfilt IN OUT REPEATS SOSFILE
//! ```
//! Arrays are raw little-endian f64. Timing covers the operation only (no file I/O).

use std::time::Instant;

use ndarray::Array2;
use wifi_sensing_signal::biquad::{sosfilt, sosfilt_channels, sosfiltfilt, Sos};
use wifi_sensing_signal::hampel::{hampel, HampelConfig};
use wifi_sensing_signal::stft::{StftConfig, StftPlan};

fn read(path: &str) -> Vec<f64> {
    let b = std::fs::read(path).expect("read input");
    b.chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

fn write(path: &str, v: &[f64]) {
    let b: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    std::fs::write(path, b).expect("write output");
}

fn best<T>(n: usize, mut f: impl FnMut() -> T) -> (T, f64) {
    let mut best = f64::INFINITY;
    let mut out = None;
    for _ in 0..n.max(1) {
        let t = Instant::now();
        let r = f();
        best = best.min(t.elapsed().as_secs_f64());
        out = Some(r);
    }
    (out.expect("ran"), best)
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    if a.len() < 6 {
        eprintln!("usage: dsp_parity OP IN OUT REPEATS ARGS...");
        std::process::exit(2);
    }
    let (op, inp, outp) = (a[1].as_str(), &a[2], &a[3]);
    let reps: usize = a[4].parse().expect("repeats");
    let x = read(inp);
    let (out, secs) = match op {
        "hampel" => {
            let cfg = HampelConfig {
                window: a[5].parse().expect("window"),
                k: a[6].parse().expect("k"),
            };
            best(reps, || {
                let mut y = x.clone();
                hampel(&mut y, &cfg).expect("hampel");
                y
            })
        }
        "stft" => {
            let cfg = StftConfig {
                nperseg: a[5].parse().expect("nperseg"),
                hop: a[6].parse().expect("hop"),
                ..Default::default()
            };
            let mut plan = StftPlan::new(cfg).expect("plan");
            // timed: the spectrogram (like scipy's stft call); the flattening for the file is not
            let (s, t) = best(reps, || plan.stft(&x, 1.0).expect("stft"));
            let flat = s
                .values
                .iter()
                .flat_map(|c| [c.re, c.im])
                .collect::<Vec<f64>>();
            (flat, t)
        }
        "sosfilt" | "sosfilt2d" | "sosfiltfilt" => {
            let s = read(&a[5]);
            let sos =
                Sos::new(s.chunks_exact(6).map(|c| c.try_into().unwrap()).collect()).expect("sos");
            if op == "sosfilt" {
                best(reps, || sosfilt(&sos, &x))
            } else if op == "sosfilt2d" {
                // x as a (time, channels) matrix, row-major, every column filtered
                let ch: usize = a[6].parse().expect("channels");
                let m = Array2::from_shape_vec((x.len() / ch, ch), x[..x.len() / ch * ch].to_vec())
                    .expect("shape");
                let (y, t) = best(reps, || sosfilt_channels(&sos, m.view()));
                (y.iter().copied().collect(), t)
            } else {
                best(reps, || sosfiltfilt(&sos, &x, None).expect("filtfilt"))
            }
        }
        _ => {
            eprintln!("unknown op {op}");
            std::process::exit(2);
        }
    };
    write(outp, &out);
    println!("{{\"best_s\": {secs}}}");
}
