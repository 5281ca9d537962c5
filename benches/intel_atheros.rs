//! Throughput of the Intel 5300 and Atheros readers (frames/s and MB/s).
//!
//! Inputs: the capture kit (`$WIFI_SENSING_KIT`, else `../shared/captures` beside the workspace)
//! when present, otherwise the small files in `fixtures/`. Files are read into memory first, so
//! the figures are decode speed, not disk speed.

use std::hint::black_box;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use wifi_sensing::formats::atheros::AtherosReader;
use wifi_sensing::formats::intel5300::Intel5300Reader;
use wifi_sensing::{CaptureReader, ReaderOptions, Record};

fn kit() -> PathBuf {
    std::env::var_os("WIFI_SENSING_KIT")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/captures"))
}

/// The first of `candidates` that exists, read into memory.
fn load(candidates: &[PathBuf]) -> Option<(String, Arc<[u8]>)> {
    for p in candidates {
        if let Ok(b) = std::fs::read(p) {
            return Some((p.file_name()?.to_string_lossy().into_owned(), b.into()));
        }
        eprintln!("bench input {} not found, trying the next one", p.display());
    }
    None
}

fn count_frames(r: &mut dyn CaptureReader) -> u64 {
    let mut n = 0;
    while let Some(x) = r.next_record() {
        if let Ok(Record::Frame(f)) = x {
            black_box(&f);
            n += 1;
        }
    }
    n
}

fn intel(c: &mut Criterion) {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/intel5300");
    // 3x1 frames interleaved with 0xC1 records, then 3x2 frames; the fixture if the kit is absent.
    let mut inputs: Vec<(String, Arc<[u8]>)> = [
        kit().join("intel5300/sample_0x5_64_3000.dat"),
        kit().join("intel5300/sample_0x1_ap.dat"),
    ]
    .iter()
    .filter_map(|p| load(std::slice::from_ref(p)))
    .collect();
    if inputs.is_empty() {
        inputs.extend(load(&[fixtures.join("66bpm.dat")]));
    }
    if inputs.is_empty() {
        eprintln!("no Intel 5300 input found; skipping");
        return;
    }
    let mut g = c.benchmark_group("intel5300");
    g.sample_size(30);
    for (name, bytes) in inputs {
        let run = |opts: &ReaderOptions| {
            let mut r = Intel5300Reader::new(Box::new(Cursor::new(bytes.clone())), opts);
            count_frames(&mut r)
        };
        let opts = ReaderOptions::default();
        let mut scaled = ReaderOptions::default();
        scaled.intel5300.scaled = true;
        g.throughput(Throughput::Elements(run(&opts)));
        g.bench_function(format!("frames/{name}"), |b| b.iter(|| run(&opts)));
        g.bench_function(format!("frames_scaled/{name}"), |b| b.iter(|| run(&scaled)));
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.bench_function(format!("bytes/{name}"), |b| b.iter(|| run(&opts)));
    }
    g.finish();
}

fn atheros(c: &mut Criterion) {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/atheros");
    let Some((name, bytes)) = load(&[
        kit().join("atheros/ath_csi_1.dat"),
        fixtures.join("ath_csi_1.first5.dat"),
    ]) else {
        eprintln!("no Atheros input found; skipping");
        return;
    };
    let opts = ReaderOptions::default();
    let run = || {
        let mut r =
            AtherosReader::new(Box::new(Cursor::new(bytes.clone())), &opts).expect("Atheros input");
        count_frames(&mut r)
    };
    let frames = run();
    let mut g = c.benchmark_group("atheros");
    g.sample_size(30);
    g.throughput(Throughput::Elements(frames));
    g.bench_function(format!("frames/{name}"), |b| b.iter(run));
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.bench_function(format!("bytes/{name}"), |b| b.iter(run));
    g.finish();
}

criterion_group!(benches, intel, atheros);
criterion_main!(benches);
