//! Small helpers shared by the readers (byte-level) and by the family's messages.

/// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320) of `data`.
///
/// ```
/// assert_eq!(wifi_sensing_core::util::crc32(b"123456789"), 0xCBF4_3926);
/// ```
pub fn crc32(data: &[u8]) -> u32 {
    crc32fast::hash(data)
}

/// The candidate nearest to a mistyped name `got` (case-insensitive), if one is near enough to
/// suggest ("did you mean ...?"): a candidate that starts with `got` or that `got` starts with
/// is nearest (`nexmon` for `nexmon_pcap`), otherwise the Jaro-Winkler similarity decides (at
/// least 0.7).
///
/// ```
/// use wifi_sensing_core::util::nearest_name;
/// assert_eq!(nearest_name("windw", ["window", "k", "on"]), Some("window"));
/// assert_eq!(nearest_name("nexmon", ["nexmon_pcap", "intel5300"]), Some("nexmon_pcap"));
/// assert_eq!(nearest_name("zzz", ["window", "k"]), None);
/// ```
pub fn nearest_name<'a>(
    got: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let got = got.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| {
            let d = if c.starts_with(&got) || got.starts_with(c) {
                0.99
            } else {
                strsim::jaro_winkler(&got, c)
            };
            (d, c)
        })
        .filter(|(d, _)| *d >= 0.7)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// Reads a little-endian u16 at `off`; `None` past the end.
#[inline]
pub fn le_u16(b: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(off..off + 2)?.try_into().ok()?))
}

/// Reads a little-endian u32 at `off`; `None` past the end.
#[inline]
pub fn le_u32(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(off..off + 4)?.try_into().ok()?))
}

/// Reads a little-endian u64 at `off`; `None` past the end.
#[inline]
pub fn le_u64(b: &[u8], off: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(off..off + 8)?.try_into().ok()?))
}

/// Reads a little-endian f32 at `off`; `None` past the end.
#[inline]
pub fn le_f32(b: &[u8], off: usize) -> Option<f32> {
    le_u32(b, off).map(f32::from_bits)
}

/// Reads a big-endian u16 at `off`; `None` past the end.
#[inline]
pub fn be_u16(b: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(off..off + 2)?.try_into().ok()?))
}

/// Reads a big-endian u32 at `off`; `None` past the end.
#[inline]
pub fn be_u32(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(off..off + 4)?.try_into().ok()?))
}

/// Reads up to `buf.len()` bytes, retrying on `Interrupted`; returns how many were read
/// (fewer only at end of input).
pub fn read_full<R: std::io::Read + ?Sized>(r: &mut R, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_known_vectors() {
        assert_eq!(crc32(b""), 0);
        assert_eq!(crc32(b"a"), 0xE8B7_BE43);
        assert_eq!(
            crc32(b"The quick brown fox jumps over the lazy dog"),
            0x414F_A339
        );
    }

    #[test]
    fn byte_readers_bounds() {
        let b = [1u8, 2, 3, 4, 5];
        assert_eq!(le_u16(&b, 0), Some(0x0201));
        assert_eq!(be_u16(&b, 0), Some(0x0102));
        assert_eq!(le_u32(&b, 1), Some(0x0504_0302));
        assert_eq!(le_u32(&b, 2), None);
        assert_eq!(le_u64(&b, 0), None);
    }
}
