//! Throughput of the ESP32 text readers: ESP32-CSI-Tool CSV lines/s, esp-csi CSV lines/s and
//! RuView JSONL records/s (frames/s and MB/s), reading from memory.
//!
//! Inputs: the capture kit (`../shared/captures`, or `$WIFI_SENSING_KIT`) when present, else the
//! fixtures of this repository. Run with `cargo bench --bench esp32`.

use std::hint::black_box;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use wifi_sensing::formats::esp32_csv::Esp32CsvReader;
use wifi_sensing::formats::espcsi::EspCsiReader;
use wifi_sensing::formats::ruview::RuviewReader;
use wifi_sensing::{CaptureReader, Input, ReaderOptions, Record};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn kit() -> PathBuf {
    std::env::var_os("WIFI_SENSING_KIT")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("../shared/captures"))
}

/// The kit file if present, else the fixture (with a note on stderr).
fn pick(kit_rel: &str, fixture_rel: &str) -> (String, Arc<[u8]>) {
    let k = kit().join(kit_rel);
    let path = if k.is_file() {
        k
    } else {
        eprintln!(
            "esp32 bench: {} not found, using fixture {fixture_rel}",
            k.display()
        );
        root().join("fixtures").join(fixture_rel)
    };
    let bytes =
        std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    (name_of(&path), bytes.into())
}

fn name_of(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

type MakeReader = fn(Input, &ReaderOptions) -> Box<dyn CaptureReader>;

/// Reads everything; returns (frames, other records and errors).
fn run(make: MakeReader, data: &Arc<[u8]>) -> (u64, u64) {
    let mut r = make(
        Box::new(Cursor::new(Arc::clone(data))),
        &ReaderOptions::default(),
    );
    let (mut frames, mut other) = (0u64, 0u64);
    while let Some(item) = r.next_record() {
        match black_box(item) {
            Ok(Record::Frame(_)) => frames += 1,
            _ => other += 1,
        }
    }
    (frames, other)
}

fn bench_one(c: &mut Criterion, group: &str, label: &str, make: MakeReader, data: Arc<[u8]>) {
    let (frames, other) = run(make, &data);
    eprintln!(
        "{group}: {label}: {frames} frames + {other} other records/errors, {} bytes",
        data.len()
    );
    let mut g = c.benchmark_group(format!("{group}/frames"));
    g.throughput(Throughput::Elements(frames));
    g.bench_function(label, |b| b.iter(|| run(make, &data)));
    g.finish();
    let mut g = c.benchmark_group(format!("{group}/bytes"));
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.bench_function(label, |b| b.iter(|| run(make, &data)));
    g.finish();
}

fn esp32_csv(c: &mut Criterion) {
    let (label, data) = pick(
        "esp32/example_fast2_100hz_pitraffic.csv",
        "esp32/example_100hz_pitraffic.csv",
    );
    bench_one(
        c,
        "esp32_csv",
        &label,
        |i, o| Box::new(Esp32CsvReader::new(i, o)),
        data,
    );
}

fn espcsi_csv(c: &mut Criterion) {
    let one = std::fs::read(root().join("fixtures/esp32/get-started_README_lines.csv"))
        .expect("esp-csi fixture");
    // The two README lines (one classic, one C5/C6) repeated 1000 times.
    let data: Arc<[u8]> = one.repeat(1000).into();
    bench_one(
        c,
        "espcsi_csv",
        "get-started_README_lines.csv x1000",
        |i, o| Box::new(EspCsiReader::new(i, o)),
        data,
    );
}

fn ruview_jsonl(c: &mut Criterion) {
    let (label, data) = pick(
        "ruview_esp32/pretrain-1775182186.csi.jsonl",
        "ruview_esp32/pretrain-1775182186_first300.csi.jsonl",
    );
    bench_one(
        c,
        "ruview_jsonl",
        &label,
        |i, o| Box::new(RuviewReader::new(i, o)),
        data,
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = esp32_csv, espcsi_csv, ruview_jsonl
}
criterion_main!(benches);
