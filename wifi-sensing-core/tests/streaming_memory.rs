//! Reading stays streaming: memory does not grow with the length of the input.
//!
//! Each case feeds a reader several hundred MB generated on the fly (a real capture's records
//! repeated), never held in memory as a whole, and checks that the process's peak resident set
//! grows by far less than the input size. Linux only (reads `/proc/self/status`).
#![cfg(target_os = "linux")]

use std::io::Read;
use std::path::Path;

use wifi_sensing_core::{CaptureFormat, Registry};

/// Peak resident set size of this process, in bytes.
fn vm_hwm() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = s.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}

/// `head` once, then `body` repeated until `total` bytes have been produced.
struct Repeat {
    head: Vec<u8>,
    body: Vec<u8>,
    pos: u64,
    total: u64,
}

impl Read for Repeat {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pos >= self.total {
            return Ok(0);
        }
        let h = self.head.len() as u64;
        let (src, off) = if self.pos < h {
            (&self.head, self.pos as usize)
        } else {
            let k = (self.pos - h) % self.body.len() as u64;
            (&self.body, k as usize)
        };
        let n = buf
            .len()
            .min(src.len() - off)
            .min((self.total - self.pos) as usize);
        buf[..n].copy_from_slice(&src[off..off + n]);
        self.pos += n as u64;
        Ok(n)
    }
}

fn fixture(rel: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../fixtures")
            .join(rel),
    )
    .unwrap()
}

const TOTAL: u64 = 300 << 20;

fn check(name: &str, head: Vec<u8>, body: Vec<u8>, format: CaptureFormat) {
    let before = vm_hwm();
    // whole repetitions only, so the input ends on a record boundary
    let total = head.len() as u64 + TOTAL / body.len() as u64 * body.len() as u64;
    let src = Repeat {
        head,
        body,
        pos: 0,
        total,
    };
    let mut cap = Registry::builtin()
        .open_read(Box::new(src), Some(name), None, Some(format))
        .unwrap()
        .skip_malformed(true);
    let mut n = 0u64;
    for f in &mut cap {
        std::hint::black_box(f.unwrap());
        n += 1;
    }
    let grew = vm_hwm().saturating_sub(before);
    assert!(n > 10_000, "{name}: only {n} frames");
    assert!(
        grew < 64 << 20,
        "{name}: peak memory grew by {} MB while streaming {} MB",
        grew >> 20,
        total >> 20
    );
    assert!(cap.stats().truncated.is_none() && cap.stats().fatal.is_none());
}

#[test]
fn intel5300_streams_in_constant_memory() {
    // a .dat file is a plain sequence of records: the whole file is the repeating unit
    let body = fixture("intel5300/example.dat");
    check("intel5300", Vec::new(), body, CaptureFormat::Intel5300);
}

#[test]
fn pcap_streams_in_constant_memory() {
    let f = fixture("nexmon/40mhz_1600085286.pcap");
    let (head, body) = f.split_at(24); // global header, then packet records
    check("pcap", head.to_vec(), body.to_vec(), CaptureFormat::Pcap);
}

#[test]
fn esp32_csv_streams_in_constant_memory() {
    let f = fixture("esp32/example_csi.csv");
    check("esp32_csv", Vec::new(), f, CaptureFormat::Esp32Csv);
}

#[test]
fn picoscenes_streams_in_constant_memory() {
    let body = fixture("picoscenes/picoscenes_iwl5300_example.csi");
    check("picoscenes", Vec::new(), body, CaptureFormat::PicoScenes);
}
