//! Reading speed of the PicoScenes and FeitCSI readers: frames/s and MB/s.
//!
//! Files: the fixtures (always), plus the capture kit's `rx_by_qca9300.csi`, `ax200_demo.csi`
//! and `HESU160_5500.csi` when the kit is found (`$WIFI_SENSING_KIT`, else `../shared/captures`
//! beside the workspace). Each file is read from memory, once through the reader directly and once
//! through `Registry::open_read` (probing + a boxed `BufRead`, as for a file).

use std::hint::black_box;
use std::io::Cursor;
use std::path::{Path, PathBuf};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use wifi_sensing::formats::feitcsi::FeitCsiReader;
use wifi_sensing::formats::picoscenes::PicoScenesReader;
use wifi_sensing::{CaptureFormat, CaptureReader, ReaderOptions, Record, Registry};

fn kit() -> PathBuf {
    std::env::var_os("WIFI_SENSING_KIT")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/captures"))
}

/// A named file's bytes.
type Loaded = Option<(String, Vec<u8>)>;

fn load(path: PathBuf) -> Loaded {
    match std::fs::read(&path) {
        Ok(b) => Some((path.file_name().unwrap().to_string_lossy().into_owned(), b)),
        Err(e) => {
            eprintln!("skipping {}: {e}", path.display());
            None
        }
    }
}

fn count(mut r: impl CaptureReader) -> u64 {
    let mut n = 0;
    while let Some(rec) = r.next_record() {
        if let Ok(Record::Frame(f)) = rec {
            black_box(&f);
            n += 1;
        }
    }
    n
}

fn read_direct(format: CaptureFormat, bytes: &[u8]) -> u64 {
    let opts = ReaderOptions::default();
    match format {
        CaptureFormat::PicoScenes => count(PicoScenesReader::new(Cursor::new(bytes), &opts)),
        _ => count(FeitCsiReader::new(Cursor::new(bytes), &opts)),
    }
}

fn read_registry(bytes: &[u8]) -> u64 {
    let cap = Registry::builtin()
        .open_read(Box::new(Cursor::new(bytes.to_vec())), None, None, None)
        .unwrap();
    cap.filter(|f| f.is_ok()).count() as u64
}

fn bench(c: &mut Criterion) {
    let fx = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let files: Vec<(CaptureFormat, Loaded)> = vec![
        (
            CaptureFormat::PicoScenes,
            load(kit().join("picoscenes/rx_by_qca9300.csi")),
        ),
        (
            CaptureFormat::PicoScenes,
            load(kit().join("picoscenes/ax200_demo.csi")),
        ),
        (
            CaptureFormat::PicoScenes,
            load(fx.join("picoscenes/picoscenes_iwl5300_example.csi")),
        ),
        (
            CaptureFormat::FeitCsi,
            load(fx.join("feitcsi/HT20_2452.csi")),
        ),
        (
            CaptureFormat::FeitCsi,
            load(kit().join("feitcsi/HESU160_5500.csi")),
        ),
    ];
    for (format, file) in files {
        let Some((name, bytes)) = file else { continue };
        let frames = read_direct(format, &bytes);
        assert!(frames > 0, "{name}: no frames");
        for (unit, throughput) in [
            ("frames", Throughput::Elements(frames)),
            ("bytes", Throughput::Bytes(bytes.len() as u64)),
        ] {
            let mut g = c.benchmark_group(format!("{format}/{unit}"));
            g.throughput(throughput);
            g.measurement_time(std::time::Duration::from_secs(3));
            g.bench_function(format!("{name}/reader"), |b| {
                b.iter(|| read_direct(format, black_box(&bytes)))
            });
            g.bench_function(format!("{name}/registry"), |b| {
                b.iter(|| read_registry(black_box(&bytes)))
            });
            g.finish();
        }
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
