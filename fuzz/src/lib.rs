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

/// Reads `data` as a `.csirec` recording twice: as it is, then with the CRC-32 of every entry
/// recomputed. A random mutation almost never keeps an entry's CRC valid, so without the second
/// pass the fuzzer would rarely get past the CRC check into the entry decoders (version 1
/// bincode, version 2 frame layout).
pub fn csirec(data: &[u8]) {
    read_all(data, Some("csirec"));
    let fixed = fix_csirec_crcs(data);
    if fixed != data {
        read_all(&fixed, Some("csirec"));
    }
}

/// `data` with the stored CRC-32 of every complete entry replaced by the CRC of its body (the
/// header length and the entry lengths are taken as they are).
pub fn fix_csirec_crcs(data: &[u8]) -> Vec<u8> {
    let mut out = data.to_vec();
    let u32_at = |b: &[u8], i: usize| -> Option<usize> {
        b.get(i..i + 4).map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]) as usize)
    };
    let Some(hlen) = u32_at(data, 10) else { return out };
    let mut at = 14usize.saturating_add(hlen);
    while let Some(len) = u32_at(data, at) {
        let body = at + 8;
        let Some(end) = body.checked_add(len).filter(|&e| e <= data.len()) else { break };
        let crc = wifi_sensing_core::util::crc32(&data[body..end]);
        out[at + 4..body].copy_from_slice(&crc.to_le_bytes());
        at = end;
    }
    out
}

/// Decodes `data` as one ADR-018 datagram.
pub fn adr018_datagram(data: &[u8]) {
    let _ = wifi_sensing_core::formats::adr018::decode_datagram(data, 0, 0, wifi_sensing_core::Clock::Host);
}
