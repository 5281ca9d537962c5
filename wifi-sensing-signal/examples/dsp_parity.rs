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
//! dsp_parity stft2d      IN OUT REPEATS NPERSEG HOP CHANNELS  (IN as for sosfilt2d; every
//!                                                      column's STFT, (channel, freq, time) order)
//! dsp_parity stft_into   IN OUT REPEATS NPERSEG HOP  (as stft, timing `stft_into` refilling one
//!                                                      output made by an untimed first call)
//! dsp_parity stft2d_into IN OUT REPEATS NPERSEG HOP CHANNELS  (as stft2d, `stft_channels_into`)
//! dsp_parity stft_f32 ...   (and stft2d_f32, stft_into_f32, stft2d_into_f32: the same in f32,
//!                             the input rounded to f32, `StftPlan::<f32>`)
//! ```
//! Arrays are raw little-endian f64. Timing covers the operation only (no file I/O), single
//! thread. Prints `{"best_s": wall, "best_cpu_s": cpu}`: the best wall time of the repeats and
//! the best thread CPU time (`CLOCK_THREAD_CPUTIME_ID`, Linux only; `null` elsewhere), which is
//! what the operation cost when the machine is shared. With `DSP_PARITY_NO_CPU` set the CPU time
//! is not read, so that the example runs under `valgrind --tool=callgrind` (instruction counts:
//! `DSP_PARITY_NO_CPU=1 valgrind --tool=callgrind --toggle-collect='*dsp_parity*best*' ...`).

use std::time::Instant;

use ndarray::Array2;
use wifi_sensing_signal::biquad::{sosfilt, sosfilt_channels, sosfiltfilt, Sos};
use wifi_sensing_signal::hampel::{hampel, HampelConfig};
use wifi_sensing_signal::stft::{Sample, StftConfig, StftPlan};

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

/// `x` as a row-major `(time, channels)` matrix (a trailing partial row dropped).
fn matrix<T: Clone>(x: &[T], ch: usize) -> Array2<T> {
    Array2::from_shape_vec((x.len() / ch, ch), x[..x.len() / ch * ch].to_vec()).expect("shape")
}

/// CPU time of this thread, seconds. `None` with `DSP_PARITY_NO_CPU` set (under valgrind,
/// whose vDSO the clock call does not find).
#[cfg(target_os = "linux")]
fn cpu_now() -> Option<f64> {
    if std::env::var_os("DSP_PARITY_NO_CPU").is_some() {
        return None;
    }
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Some(t.tv_sec as f64 + t.tv_nsec as f64 * 1e-9)
}

#[cfg(not(target_os = "linux"))]
fn cpu_now() -> Option<f64> {
    None
}

/// Best wall time and best thread CPU time of `n` runs.
fn best<T>(n: usize, mut f: impl FnMut() -> T) -> (T, (f64, Option<f64>)) {
    let mut best = f64::INFINITY;
    let mut best_cpu: Option<f64> = None;
    let mut out = None;
    for _ in 0..n.max(1) {
        let c = cpu_now();
        let t = Instant::now();
        let r = f();
        best = best.min(t.elapsed().as_secs_f64());
        if let (Some(c0), Some(c1)) = (c, cpu_now()) {
            best_cpu = Some(best_cpu.map_or(c1 - c0, |b| b.min(c1 - c0)));
        }
        out = Some(r);
    }
    (out.expect("ran"), (best, best_cpu))
}

/// One of the STFT operations in `T`'s precision; the values flattened to `re, im` pairs.
fn stft<T: Sample + Into<f64>>(
    op: &str,
    x: &[T],
    a: &[String],
    reps: usize,
) -> (Vec<f64>, (f64, Option<f64>)) {
    let cfg = StftConfig {
        nperseg: a[5].parse().expect("nperseg"),
        hop: a[6].parse().expect("hop"),
        ..Default::default()
    };
    let mut plan = StftPlan::<T>::with_config(cfg).expect("plan");
    let channels = || a[7].parse().expect("channels");
    // timed: the spectrogram (like scipy's stft call); the flattening for the file is not
    // `_into`: one output reused by every call (made by the first, untimed call)
    let (values, t) = match op {
        "stft" => {
            let (s, t) = best(reps, || plan.stft(x, 1.0).expect("stft"));
            (s.values.into_dyn(), t)
        }
        "stft_into" => {
            let mut s = plan.stft(x, 1.0).expect("stft");
            let (_, t) = best(reps, || plan.stft_into(x, 1.0, &mut s).expect("stft"));
            (s.values.into_dyn(), t)
        }
        "stft2d" => {
            let m = matrix(x, channels());
            let (s, t) = best(reps, || plan.stft_channels(m.view(), 1.0).expect("stft"));
            (s.values.into_dyn(), t)
        }
        _ => {
            let m = matrix(x, channels());
            let mut s = plan.stft_channels(m.view(), 1.0).expect("stft");
            let (_, t) = best(reps, || {
                plan.stft_channels_into(m.view(), 1.0, &mut s)
                    .expect("stft")
            });
            (s.values.into_dyn(), t)
        }
    };
    let flat = values
        .iter()
        .flat_map(|c| [c.re.into(), c.im.into()])
        .collect::<Vec<f64>>();
    (flat, t)
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
        "stft" | "stft2d" | "stft_into" | "stft2d_into" => stft::<f64>(op, &x, &a, reps),
        // the same in f32: the input rounded to f32 (as numpy's `astype(np.float32)`), computed
        // and returned in f32 (written out widened to f64)
        "stft_f32" | "stft2d_f32" | "stft_into_f32" | "stft2d_into_f32" => {
            let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
            stft::<f32>(op.trim_end_matches("_f32"), &x32, &a, reps)
        }
        "sosfilt" | "sosfilt2d" | "sosfiltfilt" => {
            let s = read(&a[5]);
            let sos =
                Sos::new(s.chunks_exact(6).map(|c| c.try_into().unwrap()).collect()).expect("sos");
            if op == "sosfilt" {
                best(reps, || sosfilt(&sos, &x))
            } else if op == "sosfilt2d" {
                // x as a (time, channels) matrix, row-major, every column filtered
                let m = matrix(&x, a[6].parse().expect("channels"));
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
    let (wall, cpu) = secs;
    let cpu = cpu.map_or("null".to_string(), |c| c.to_string());
    println!("{{\"best_s\": {wall}, \"best_cpu_s\": {cpu}}}");
}
