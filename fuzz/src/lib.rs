//! Shared driver of the fuzz targets: feed arbitrary bytes to one reader (or to format
//! detection) and read every record. Any panic, hang or unbounded allocation is a bug.

use std::io::Cursor;

use wifi_sensing_core::{CaptureFormat, Registry};

/// Reads `data` as `format` (or detects the format when `None`), consuming every record.
pub fn read_all(data: &[u8], format: Option<&str>) {
    let format = format.map(|n| CaptureFormat::from_name(n).expect("fuzz target names a known format"));
    let reg = Registry::builtin();
    if let Ok(mut cap) = reg.open_read(Box::new(Cursor::new(data.to_vec())), Some("fuzz"), None, format) {
        let mut n = 0u64;
        while cap.next_record().is_some() {
            n += 1;
            // every record consumes input, so the count is bounded by the input length
            assert!(n <= data.len() as u64 + 1, "reader produced more records than input bytes");
        }
    }
}

/// Decodes `data` as one ADR-018 datagram.
pub fn adr018_datagram(data: &[u8]) {
    let _ = wifi_sensing_core::formats::adr018::decode_datagram(data, 0, 0, wifi_sensing_core::Clock::Host);
}
