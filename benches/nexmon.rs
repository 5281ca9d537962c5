//! Nexmon decoding speed: packets/s and MB/s through the pcap reader, for an int16 capture
//! (bcm4339, 2850 packets) and a packed-float capture (bcm4366c0, 293 packets) of the capture
//! kit, plus the small packed-float fixture.
//!
//! The kit is found at `$WIFI_SENSING_KIT`, else `../shared/captures` beside the workspace; a
//! missing kit file is skipped with a message on stderr.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use wifi_sensing::formats::pcap::PcapReader;
use wifi_sensing::{CaptureReader, ReaderOptions, Record};

fn kit() -> PathBuf {
    std::env::var_os("WIFI_SENSING_KIT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/captures"))
}

/// Decodes every packet of an in-memory pcap; returns the number of frames.
fn decode_all(bytes: &[u8], options: &ReaderOptions) -> usize {
    let mut r = PcapReader::new(bytes, options).expect("pcap header");
    let mut n = 0;
    while let Some(rec) = r.next_record() {
        if let Ok(Record::Frame(f)) = rec {
            black_box(&f);
            n += 1;
        }
    }
    n
}

fn bench_nexmon(c: &mut Criterion) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let files = [
        ("int16_bcm4339", kit().join("nexmon/example_4339.pcap")),
        (
            "packed_float_bcm4366c0",
            kit().join("nexmon/example_4366c0.pcap"),
        ),
        (
            "packed_float_bcm4358_fixture",
            root.join("fixtures/nexmon/example.pcap"),
        ),
    ];
    let options = ReaderOptions::default();
    let mut group = c.benchmark_group("nexmon");
    for (name, path) in files {
        let Ok(bytes) = std::fs::read(&path) else {
            eprintln!(
                "skipping {name}: {} not found (set WIFI_SENSING_KIT)",
                path.display()
            );
            continue;
        };
        let packets = decode_all(&bytes, &options);
        assert!(packets > 0, "{name}: no frames");
        group.throughput(Throughput::Elements(packets as u64));
        group.bench_function(format!("{name}/packets"), |b| {
            b.iter(|| decode_all(black_box(&bytes), &options))
        });
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function(format!("{name}/bytes"), |b| {
            b.iter(|| decode_all(black_box(&bytes), &options))
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(3));
    targets = bench_nexmon
}
criterion_main!(benches);
