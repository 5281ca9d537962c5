//! Core throughput: ADR-018 datagram decode, native recording write and read (frames/s, MB/s).

use std::hint::black_box;
use std::io::Cursor;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use wifi_sensing::formats::adr018::{self, CsiDatagram};
use wifi_sensing::recording::{RecordingHeader, RecordingReader, RecordingWriter};
use wifi_sensing::{CaptureReader, Clock, Record};

fn datagrams(n: usize, pairs: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            adr018::encode_csi(&CsiDatagram {
                node_id: (i % 3) as u8,
                sequence: i as u32,
                channel: 6,
                rssi: -50,
                noise_floor: -95,
                n_antennas: 1,
                iq: (0..pairs)
                    .map(|k| [((i + k) % 90) as i8, ((i * 7 + k) % 60) as i8 - 30])
                    .collect(),
            })
            .expect("encode")
        })
        .collect()
}

fn bench_adr018(c: &mut Criterion) {
    let mut g = c.benchmark_group("adr018_decode");
    for pairs in [64usize, 128, 192] {
        let d = datagrams(1000, pairs);
        let bytes: usize = d.iter().map(Vec::len).sum();
        g.throughput(Throughput::Elements(d.len() as u64));
        g.bench_with_input(BenchmarkId::new("frames", pairs), &d, |b, d| {
            b.iter(|| {
                for (i, x) in d.iter().enumerate() {
                    black_box(
                        adr018::decode_datagram(x, i as u64, 0, Clock::Host).expect("decode"),
                    );
                }
            })
        });
        g.throughput(Throughput::Bytes(bytes as u64));
        g.bench_with_input(BenchmarkId::new("bytes", pairs), &d, |b, d| {
            b.iter(|| {
                for x in d {
                    black_box(adr018::decode_datagram(x, 0, 0, Clock::Host).expect("decode"));
                }
            })
        });
    }
    g.finish();
}

fn bench_recording(c: &mut Criterion) {
    let records: Vec<Record> = datagrams(2000, 128)
        .iter()
        .map(|d| adr018::decode_datagram(d, 0, 0, Clock::Host).expect("decode"))
        .collect();
    let mut file = Vec::new();
    {
        let mut w =
            RecordingWriter::new(&mut file, &RecordingHeader::new("bench", "")).expect("writer");
        for r in &records {
            w.write(r).expect("write");
        }
    }
    let mut g = c.benchmark_group("recording");
    g.throughput(Throughput::Elements(records.len() as u64));
    g.bench_function("write_frames", |b| {
        let mut buf = Vec::with_capacity(file.len());
        b.iter(|| {
            buf.clear();
            let mut w =
                RecordingWriter::new(&mut buf, &RecordingHeader::new("bench", "")).expect("writer");
            for r in &records {
                w.write(r).expect("write");
            }
        })
    });
    g.bench_function("read_frames", |b| {
        b.iter(|| {
            let mut r =
                RecordingReader::new(Box::new(Cursor::new(file.clone())), &Default::default())
                    .expect("reader");
            let mut n = 0;
            while let Some(x) = r.next_record() {
                black_box(x.expect("record"));
                n += 1;
            }
            assert_eq!(n, records.len());
        })
    });
    g.finish();
}

criterion_group!(benches, bench_adr018, bench_recording);
criterion_main!(benches);
