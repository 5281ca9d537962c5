//! Fields and helpers shared by the ESP32 formats: ESP32-CSI-Tool CSV
//! ([`esp32_csv`](super::esp32_csv)), Espressif esp-csi CSV ([`espcsi`](super::espcsi)), RuView
//! ADR-018 datagrams ([`adr018`](super::adr018)) and RuView JSONL recordings
//! ([`ruview`](super::ruview)).
//!
//! Every ESP32 format carries the ESP-IDF CSI buffer (`wifi_csi_info_t.buf`): a sequence of int8
//! pairs, **imaginary part first** (FORMATS.md §1.1, disagreement D1: CSIKit reads the pairs the
//! other way round; Espressif, ESP32-CSI-Tool, csiread and RuView read `[imag, real]`). So CSI
//! value `k` is `buf[2k+1] + j·buf[2k]`. The often-junk first 4 bytes ("first word invalid") are
//! kept as pairs 0 and 1, as every peer and the golden files do.
//!
//! The text readers read their input line by line into one reused buffer; a line longer than
//! [`Limits::max_record_bytes`](crate::Limits) ends the stream with
//! [`Error::LimitExceeded`](crate::Error::LimitExceeded). The two CSV readers also share their
//! record loop (header lines skipped), the column accessors behind their error messages, the
//! construction of a frame from a line's values and the probe; the small hand-written number
//! parsers below work on bytes without allocating.

use ndarray::Array3;
use num_complex::Complex32;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::formats::text::{looks_like_text, prefix_lines, trim, LineReader};
use crate::frame::{channel_to_freq_mhz, CaptureFormat, Clock, CsiFrame, Device, FormatMeta};
use crate::reader::{Confidence, Input, ReaderOptions};
use crate::record::Record;

/// ESP32 receive-control and format fields. Every field is optional because each ESP32 format
/// carries a different subset; names follow the ESP-IDF `wifi_pkt_rx_ctrl_t` fields and the peer
/// parsers' column names.
///
/// Fields that map onto [`CsiFrame`] fields are stored there, not here: `mac`
/// (`CsiFrame::mac`), `rssi` (`rssi_dbm`), `noise_floor` (`noise_floor_dbm`) and `channel`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Esp32Meta {
    /// CSV `type` column (`CSI_DATA`), or the RuView JSONL `type` key (`raw_csi`).
    pub record_type: Option<String>,
    /// ESP32-CSI-Tool role (`AP`, `STA`, `PASSIVE`).
    pub role: Option<String>,
    /// esp-csi `id` / `seq` column (sender's ESP-NOW counter).
    pub id: Option<u32>,
    /// PHY rate code.
    pub rate: Option<i32>,
    /// Signal mode (0 non-HT, 1 HT, 3 VHT).
    pub sig_mode: Option<i32>,
    /// MCS index.
    pub mcs: Option<i32>,
    /// Channel bandwidth bit `cwb` (0 = 20 MHz, 1 = 40 MHz).
    pub bandwidth: Option<i32>,
    /// Smoothing flag.
    pub smoothing: Option<i32>,
    /// Not-sounding flag.
    pub not_sounding: Option<i32>,
    /// Aggregation flag.
    pub aggregation: Option<i32>,
    /// STBC flag.
    pub stbc: Option<i32>,
    /// FEC coding (LDPC) flag.
    pub fec_coding: Option<i32>,
    /// Short guard interval flag.
    pub sgi: Option<i32>,
    /// A-MPDU count.
    pub ampdu_cnt: Option<i32>,
    /// Secondary channel (0 none, 1 above, 2 below).
    pub secondary_channel: Option<i32>,
    /// Radio µs timer at reception (a 32-bit counter on the device; wraps after about 71.6 min).
    pub local_timestamp: Option<i64>,
    /// Antenna number.
    pub ant: Option<i32>,
    /// Packet length.
    pub sig_len: Option<i32>,
    /// Receive state.
    pub rx_state: Option<i32>,
    /// ESP32-CSI-Tool: 1 if the host set the clock.
    pub real_time_set: Option<i32>,
    /// ESP32-CSI-Tool: firmware steady-clock seconds.
    pub real_timestamp: Option<f64>,
    /// `len` column as printed (buffer bytes for ESP32-CSI-Tool, values for esp-csi).
    pub len: Option<i32>,
    /// ESP32-CSI-Tool and esp-csi CSV: a Unix time in seconds that a logging host appended as the first
    /// column after the CSI array (then also the frame's timestamp, [`Clock::Host`]).
    pub host_time_s: Option<f64>,
    /// ESP32-CSI-Tool and esp-csi CSV: the columns after the CSI array as printed (without the leading
    /// comma), when a line has any.
    pub extra_columns: Option<String>,
    /// esp-csi `first_word` column (1 = the first 4 bytes are not CSI).
    pub first_word_invalid: Option<i32>,
    /// esp-csi C5/C6 FFT gain.
    pub fft_gain: Option<i32>,
    /// esp-csi C5/C6 AGC gain.
    pub agc_gain: Option<i32>,
    /// 1-based line number in a text input.
    pub line: Option<u64>,
    /// ADR-018: antennas in the frame header.
    pub n_antennas: Option<u8>,
    /// ADR-018: the reserved u16 at offset 18 (PPDU type and flags in later firmware).
    pub adr018_reserved: Option<u16>,
    /// RuView JSONL: the record's `magic` key (e.g. `0xC5110001`).
    pub magic: Option<u32>,
    /// RuView JSONL: the record's `size` key (UDP payload bytes of the original datagram).
    pub size: Option<u32>,
    /// RuView JSONL: the record's `rssi` key as written. It is **not** a dBm reading (it is 1 in
    /// every raw-CSI record of the known recordings, FORMATS.md §1.5), so it is kept here only and
    /// never copied to `CsiFrame::rssi_dbm`.
    pub jsonl_rssi: Option<i32>,
}

/// Options of the ESP32 readers (ESP32-CSI-Tool CSV, esp-csi CSV, RuView JSONL).
///
/// There are no switches yet: the readers follow the kit's conventions (header lines skipped,
/// value counts trusted over `len`, `[imag, real]` pairs). Line length is bounded by
/// [`Limits::max_record_bytes`](crate::Limits) and the number of CSI values per line by
/// [`Limits::max_csi_values`](crate::Limits).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Esp32Options {}

/// Subcarrier indices of a 64-pair LLTF buffer captured without a secondary channel
/// (FORMATS.md §1.1): buffer pairs 0..31 are subcarriers 0..31, pairs 32..63 are -32..-1.
pub const LLTF_SUBCARRIERS: [i16; 64] = {
    let mut t = [0i16; 64];
    let mut i = 0;
    while i < 64 {
        t[i] = if i < 32 { i as i16 } else { i as i16 - 64 };
        i += 1;
    }
    t
};

/// Subcarrier index of each buffer pair, where the buffer layout is known from the header:
/// exactly 64 pairs with `secondary_channel == 0` give [`LLTF_SUBCARRIERS`].
///
/// Anything else returns `None`: with a secondary channel (HT40) the pair-to-tone mapping depends
/// on which half is primary, and longer buffers concatenate HT-LTF/STBC fields whose order ESP-IDF
/// states per signal mode in a table that the CSV lines do not carry enough fields to apply
/// safely, so the columns stay raw buffer positions.
///
/// ```
/// use wifi_sensing_core::formats::esp32::lltf_subcarriers;
/// let sc = lltf_subcarriers(64, Some(0)).unwrap();
/// assert_eq!((sc[0], sc[31], sc[32], sc[63]), (0, 31, -32, -1));
/// assert!(lltf_subcarriers(64, Some(1)).is_none());
/// assert!(lltf_subcarriers(128, Some(0)).is_none());
/// ```
pub fn lltf_subcarriers(pairs: usize, secondary_channel: Option<i32>) -> Option<Vec<i16>> {
    (pairs == 64 && secondary_channel == Some(0)).then(|| LLTF_SUBCARRIERS.to_vec())
}

/// Converts `[imag, real]` integer pairs to complex values: `out[k] = v[2k+1] + j·v[2k]`.
/// A trailing odd value is ignored (callers reject odd counts first).
#[inline]
pub(crate) fn pairs_to_complex(values: &[i16]) -> Vec<Complex32> {
    values
        .chunks_exact(2)
        .map(|p| Complex32::new(f32::from(p[1]), f32::from(p[0])))
        .collect()
}

/// Formats a MAC address as upper-case hex with colons (ESP32-CSI-Tool style).
pub fn format_mac(mac: &[u8; 6]) -> String {
    format!(
        "{:02X}:{:02X}:{:02X}:{:02X}:{:02X}:{:02X}",
        mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]
    )
}

/// Value of an ASCII hex digit, or `None`.
#[inline]
pub(crate) fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Parses `aa:bb:cc:dd:ee:ff` (either case; `-` also accepted as separator).
///
/// ```
/// use wifi_sensing_core::formats::esp32::parse_mac;
/// assert_eq!(parse_mac(b"3C:71:bf:6D:2A:78"), Some([0x3C, 0x71, 0xBF, 0x6D, 0x2A, 0x78]));
/// assert_eq!(parse_mac(b"3C:71:bf:6D:2A"), None);
/// ```
pub fn parse_mac(s: &[u8]) -> Option<[u8; 6]> {
    if s.len() != 17 {
        return None;
    }
    let mut mac = [0u8; 6];
    for (i, m) in mac.iter_mut().enumerate() {
        let o = 3 * i;
        if i > 0 && !matches!(s[o - 1], b':' | b'-') {
            return None;
        }
        *m = hex_val(s[o])? << 4 | hex_val(s[o + 1])?;
    }
    Some(mac)
}

/// Parses a decimal integer (optional sign, at most 18 digits) from bytes, without allocating.
///
/// ```
/// use wifi_sensing_core::formats::esp32::parse_int;
/// assert_eq!(parse_int(b"-93"), Some(-93));
/// assert_eq!(parse_int(b"80272146"), Some(80272146));
/// assert_eq!(parse_int(b"1.5"), None);
/// assert_eq!(parse_int(b""), None);
/// ```
#[inline]
pub fn parse_int(s: &[u8]) -> Option<i64> {
    let (neg, digits) = match s.first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || digits.len() > 18 {
        return None;
    }
    let mut v: i64 = 0;
    for &c in digits {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v * 10 + i64::from(d);
    }
    Some(if neg { -v } else { v })
}

/// Parses a decimal number into the nearest `f64` (the same value `str::parse::<f64>` gives).
///
/// Plain decimals with at most 15 significant digits (what the ESP32 firmware prints) take a
/// fast path: the digits as an exact integer divided by an exact power of ten, which IEEE
/// division rounds correctly. Anything else (exponents, long mantissas) goes through the
/// standard library parser.
///
/// ```
/// use wifi_sensing_core::formats::esp32::parse_decimal;
/// assert_eq!(parse_decimal(b"80.363225"), Some(80.363225));
/// assert_eq!(parse_decimal(b"-0.5"), Some(-0.5));
/// assert_eq!(parse_decimal(b"1e3"), Some(1000.0));
/// assert_eq!(parse_decimal(b"abc"), None);
/// ```
pub fn parse_decimal(s: &[u8]) -> Option<f64> {
    const POW10: [f64; 16] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
    ];
    let (neg, body) = match s.first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let mut mant: u64 = 0;
    let mut digits = 0usize;
    let mut frac_digits = 0usize;
    let mut seen_dot = false;
    let mut simple = !body.is_empty();
    for &c in body {
        match c {
            b'0'..=b'9' => {
                mant = mant * 10 + u64::from(c - b'0');
                digits += 1;
                if seen_dot {
                    frac_digits += 1;
                }
                if digits > 15 {
                    simple = false;
                    break;
                }
            }
            b'.' if !seen_dot => seen_dot = true,
            _ => {
                simple = false;
                break;
            }
        }
    }
    if simple && digits > 0 {
        let v = mant as f64 / POW10[frac_digits];
        return Some(if neg { -v } else { v });
    }
    let text = std::str::from_utf8(s).ok()?;
    let v: f64 = text.parse().ok()?;
    // The standard parser accepts "inf" and "nan"; CSV columns never hold them.
    v.is_finite().then_some(v)
}

/// The `bandwidth` (cwb) bit in MHz: 0 → 20, 1 → 40, anything else unknown.
pub(crate) fn cwb_to_mhz(cwb: i32) -> Option<u16> {
    match cwb {
        0 => Some(20),
        1 => Some(40),
        _ => None,
    }
}

/// Checks that a (trimmed, non-header) line of either ESP32 CSV format starts with `CSI_DATA,`.
pub(crate) fn expect_csi_data(line: &[u8]) -> std::result::Result<(), String> {
    if line.starts_with(b"CSI_DATA,") {
        return Ok(());
    }
    // printable ASCII as it is, every other byte as `\xNN` (binary input must not reach the
    // terminal raw)
    let shown: String = line[..line.len().min(24)]
        .iter()
        .map(|&b| match b {
            0x20..=0x7e => char::from(b).to_string(),
            _ => format!("\\x{b:02x}"),
        })
        .collect();
    Err(format!(
        "line does not start with `CSI_DATA,` (starts `{shown}`)"
    ))
}

/// Refuses a line of more than `max_pairs` CSI pairs
/// ([`Limits::max_csi_values`](crate::Limits)).
pub(crate) fn check_pair_limit(pairs: usize, max_pairs: usize) -> std::result::Result<(), String> {
    if pairs > max_pairs {
        return Err(format!(
            "{pairs} CSI pairs exceed the limit max_csi_values = {max_pairs}"
        ));
    }
    Ok(())
}

/// The comma-separated columns of one ESP32 CSV line (split and trimmed) together with the
/// names its format gives them. The accessors' errors name the column (1-based) and show its
/// text, cut to 24 bytes for numbers.
pub(crate) struct Columns<'a> {
    cols: &'a [&'a [u8]],
    names: &'static [&'static str],
}

impl<'a> Columns<'a> {
    /// Columns `cols`, named `names[i]` (at least as many names as columns).
    #[inline]
    pub(crate) fn new(cols: &'a [&'a [u8]], names: &'static [&'static str]) -> Self {
        Columns { cols, names }
    }

    /// Column `i` as a decimal integer ([`parse_int`]).
    #[inline]
    pub(crate) fn int(&self, i: usize) -> std::result::Result<i64, String> {
        match parse_int(self.cols[i]) {
            Some(v) => Ok(v),
            None => Err(self.not_an_integer(i)),
        }
    }

    /// Column `i` as a decimal integer that fits in an `i32`.
    #[inline]
    pub(crate) fn int32(&self, i: usize) -> std::result::Result<i32, String> {
        let v = self.int(i)?;
        match i32::try_from(v) {
            Ok(v) => Ok(v),
            Err(_) => Err(self.out_of_range(i, v)),
        }
    }

    /// [`Columns::int32`] of a column the line may not have (`None`: `Ok(None)`).
    #[inline]
    pub(crate) fn opt32(&self, i: Option<usize>) -> std::result::Result<Option<i32>, String> {
        i.map(|i| self.int32(i)).transpose()
    }

    /// Column `i` as a MAC address ([`parse_mac`]).
    #[inline]
    pub(crate) fn mac(&self, i: usize) -> std::result::Result<[u8; 6], String> {
        match parse_mac(self.cols[i]) {
            Some(mac) => Ok(mac),
            None => Err(self.not_a_mac(i)),
        }
    }

    // The error texts, kept out of line so that the accessors inline into the parsers.

    #[cold]
    #[inline(never)]
    fn not_an_integer(&self, i: usize) -> String {
        let col = self.cols[i];
        format!(
            "column {} `{}` = `{}` is not an integer",
            i + 1,
            self.names[i],
            String::from_utf8_lossy(&col[..col.len().min(24)])
        )
    }

    #[cold]
    #[inline(never)]
    fn out_of_range(&self, i: usize, v: i64) -> String {
        format!("column {} `{}` = {v} is out of range", i + 1, self.names[i])
    }

    #[cold]
    #[inline(never)]
    fn not_a_mac(&self, i: usize) -> String {
        format!(
            "column {} `{}` = `{}` is not a MAC address",
            i + 1,
            self.names[i],
            String::from_utf8_lossy(self.cols[i])
        )
    }
}

/// Centre frequency in MHz of an ESP32 frame received on primary channel `channel`, from the
/// `rx_ctrl` bits `cwb` (`bandwidth`: 0 = 20 MHz, 1 = 40 MHz) and `secondary_channel` (ESP-IDF
/// `wifi_second_chan_t`: 0 none, 1 above, 2 below).
///
/// A 40 MHz frame spans the primary and the secondary 20 MHz channel, so its centre is 10 MHz
/// above the primary channel's frequency when the secondary is above, 10 MHz below when it is
/// below. A 20 MHz frame (also one received in an HT40 BSS) is centred on the primary channel,
/// and so is a line that states no bandwidth (esp-csi C5/C6 lines). A 40 MHz frame whose
/// secondary channel is not stated as above or below has no known centre: `None`. `None` too for
/// a channel number [`channel_to_freq_mhz`] does not know.
///
/// ```
/// use wifi_sensing_core::formats::esp32::center_freq_mhz;
/// assert_eq!(center_freq_mhz(1, Some(1), Some(1)), Some(2422)); // HT40+, channels 1 + 5
/// assert_eq!(center_freq_mhz(13, Some(1), Some(2)), Some(2462)); // HT40-, channels 13 + 9
/// assert_eq!(center_freq_mhz(1, Some(0), Some(1)), Some(2412)); // 20 MHz frame
/// assert_eq!(center_freq_mhz(6, Some(1), Some(0)), None);
/// ```
pub fn center_freq_mhz(
    channel: u16,
    bandwidth: Option<i32>,
    secondary_channel: Option<i32>,
) -> Option<u32> {
    let primary = channel_to_freq_mhz(channel)?;
    match (bandwidth, secondary_channel) {
        (Some(1), Some(1)) => Some(primary + 10),
        (Some(1), Some(2)) => Some(primary - 10),
        (Some(1), _) => None,
        _ => Some(primary),
    }
}

/// The receive fields of an ESP32 CSV line that go to [`CsiFrame`] fields rather than to
/// [`Esp32Meta`].
pub(crate) struct CsvRx {
    /// `mac` column → [`CsiFrame::mac`].
    pub(crate) mac: [u8; 6],
    /// `rssi` column → [`CsiFrame::rssi_dbm`].
    pub(crate) rssi: i32,
    /// `noise_floor` column → [`CsiFrame::noise_floor_dbm`].
    pub(crate) noise_floor: i32,
    /// `channel` column (the primary channel) → [`CsiFrame::channel`], and with the `bandwidth`
    /// and `secondary_channel` columns → [`CsiFrame::center_freq_mhz`] ([`center_freq_mhz`]).
    pub(crate) channel: u16,
}

/// The frame of one ESP32 CSV line, as both CSV formats define it: the `[imag, real]` `values`
/// (an even count, checked by the caller) as CSI of shape `[1, 1, values/2]`, the `rx` fields,
/// and from the meta: `timestamp_ns = local_timestamp × 1000` (radio µs timer) with
/// [`Clock::Device`], `bandwidth_mhz` from the cwb bit, and LLTF subcarrier indices where
/// [`lltf_subcarriers`] knows them from the secondary channel, for [`Device::Esp32`] lines only
/// (C5/C6 buffers are laid out otherwise). `meta.line` and `sequence` are left to the caller.
pub(crate) fn csv_frame(
    format: CaptureFormat,
    device: Device,
    values: &[i16],
    rx: CsvRx,
    meta: Esp32Meta,
) -> std::result::Result<CsiFrame, String> {
    let pairs = values.len() / 2;
    let csi = Array3::from_shape_vec((1, 1, pairs), pairs_to_complex(values))
        .map_err(|e| format!("internal shape error: {e}"))?;
    let mut f = CsiFrame::new(format, device, csi);
    // 18 digits at most (`parse_int`), so the product fits in i64.
    f.timestamp_ns = meta.local_timestamp.map_or(0, |t| t.saturating_mul(1000));
    f.clock = Clock::Device;
    f.mac = Some(rx.mac);
    f.rssi_dbm = Some(rx.rssi as f32);
    f.noise_floor_dbm = Some(rx.noise_floor as f32);
    f.channel = Some(rx.channel);
    f.center_freq_mhz = center_freq_mhz(rx.channel, meta.bandwidth, meta.secondary_channel);
    f.bandwidth_mhz = meta.bandwidth.and_then(cwb_to_mhz);
    f.subcarriers = if device == Device::Esp32 {
        lltf_subcarriers(pairs, meta.secondary_channel)
    } else {
        None
    };
    f.meta = FormatMeta::Esp32(Box::new(meta));
    Ok(f)
}

/// A host Unix time in seconds (`1740694846.6452723`): 10 integer digits at most, a fraction of
/// at most 9 digits, between 2001-09-09 (10⁹ s) and 2096 (4·10⁹ s); in ns, exactly. Anything
/// else is not taken for a host time.
pub(crate) fn parse_host_time_ns(s: &[u8]) -> Option<i64> {
    let (int, frac) = match s.iter().position(|&b| b == b'.') {
        Some(p) => (&s[..p], &s[p + 1..]),
        None => (s, &s[s.len()..]),
    };
    if int.is_empty()
        || int.len() > 10
        || frac.len() > 9
        || !int.iter().chain(frac).all(u8::is_ascii_digit)
    {
        return None;
    }
    let digits = |d: &[u8]| d.iter().fold(0i64, |v, &b| v * 10 + i64::from(b - b'0'));
    let secs = digits(int);
    if !(1_000_000_000..4_000_000_000).contains(&secs) {
        return None;
    }
    let frac_ns = digits(frac) * 10i64.pow(9 - frac.len() as u32);
    Some(secs * 1_000_000_000 + frac_ns)
}

/// The columns a logging script appended after a CSV line's CSI array: `after` is the text
/// after the array's closing `what`. `None` when the line ends there.
pub(crate) fn trailing_columns<'a>(
    after: &'a [u8],
    what: &str,
) -> std::result::Result<Option<&'a [u8]>, String> {
    match trim(after) {
        [] => Ok(None),
        [b',', cols @ ..] => Ok(Some(trim(cols))),
        other => Err(format!(
            "text `{}` follows the {what} without a comma (expected the end of the line or more columns)",
            String::from_utf8_lossy(&other[..other.len().min(24)])
        )),
    }
}

/// Keeps the columns after the CSI array in the frame's meta and, when the first of them is a
/// host Unix time ([`parse_host_time_ns`]), makes it the frame's timestamp ([`Clock::Host`]).
pub(crate) fn apply_extra_columns(f: &mut CsiFrame, extra: Option<&[u8]>) {
    let Some(extra) = extra else { return };
    let host_col = extra
        .split(|&b| b == b',')
        .next()
        .map(trim)
        .unwrap_or_default();
    let host_ns = parse_host_time_ns(host_col);
    if let Some(ns) = host_ns {
        f.timestamp_ns = ns;
        f.clock = Clock::Host;
    }
    if let FormatMeta::Esp32(m) = &mut f.meta {
        m.extra_columns = Some(String::from_utf8_lossy(extra).into_owned());
        m.host_time_s = host_ns.and_then(|_| parse_decimal(host_col));
    }
}

/// How the CSI array of a `CSI_DATA,` line is written: what tells the two ESP32 CSV formats
/// apart in their probes.
pub(crate) enum CsiDataArray<'a> {
    /// `"[` somewhere in the line: esp-csi's quoted JSON array.
    Quoted,
    /// `,[` (and no `"[`): ESP32-CSI-Tool's bracketed array.
    Bracketed,
    /// Neither (the prefix ended before the array): the line's second column, to decide on.
    CutOff(&'a [u8]),
}

/// The array form of a `CSI_DATA,` line; `None` for any other line.
pub(crate) fn csi_data_array(line: &[u8]) -> Option<CsiDataArray<'_>> {
    let rest = line.strip_prefix(b"CSI_DATA,")?;
    Some(if line.windows(2).any(|w| w == b"\"[") {
        CsiDataArray::Quoted
    } else if line.windows(2).any(|w| w == b",[") {
        CsiDataArray::Bracketed
    } else {
        CsiDataArray::CutOff(rest.split(|&b| b == b',').next().unwrap_or_default())
    })
}

/// The probe of both ESP32 CSV formats around the format's `line_score`: the first non-empty
/// line of the prefix scores in full; a matching line further down (after boot messages of a
/// serial log) scores at most 60; a line that starts like a CSI text line of any format
/// (`CSI_DATA,`, `type,`, `{`) but scores 0 decides against the format. Binary prefixes and
/// prefixes whose first 64 non-empty lines decide nothing score 0.
pub(crate) fn probe_csv_lines(prefix: &[u8], line_score: fn(&[u8]) -> Confidence) -> Confidence {
    if !looks_like_text(prefix) {
        return 0;
    }
    for (i, line) in prefix_lines(prefix)
        .filter(|l| !l.is_empty())
        .take(64)
        .enumerate()
    {
        let score = line_score(line);
        if score > 0 {
            return if i == 0 { score } else { score.min(60) };
        }
        if line.starts_with(b"CSI_DATA,") || line.starts_with(b"type,") || line.starts_with(b"{") {
            // another CSI text format decides this input
            return 0;
        }
    }
    0
}

/// Parses one CSV line into a frame, reusing `values`; `Err` is the reason the line is malformed.
pub(crate) type ParseLine =
    fn(&[u8], &mut Vec<i16>, usize) -> std::result::Result<CsiFrame, String>;

/// The record loop shared by the two ESP32 CSV readers: the [`LineReader`] loop with header
/// lines (`type,...`) skipped as well, the others parsed by the format's [`ParseLine`],
/// numbered in `meta.line`, and given the node id of their transmitter MAC
/// ([`MacNodeTable`](crate::nodes::MacNodeTable)).
pub(crate) struct CsvLines {
    lines: LineReader,
    values: Vec<i16>,
    max_pairs: usize,
    parse: ParseLine,
    nodes: crate::nodes::MacNodeTable,
}

impl CsvLines {
    /// A loop over `input` with the limits of `options`.
    pub(crate) fn new(
        input: Input,
        format: CaptureFormat,
        options: &ReaderOptions,
        parse: ParseLine,
    ) -> Self {
        CsvLines {
            lines: LineReader::new(input, format, options.limits.max_record_bytes),
            values: Vec::with_capacity(512),
            max_pairs: options.limits.max_csi_values,
            parse,
            nodes: crate::nodes::MacNodeTable::default(),
        }
    }

    /// See [`CaptureReader::next_record`](crate::CaptureReader::next_record).
    pub(crate) fn next_record(&mut self) -> Option<Result<Record>> {
        let CsvLines {
            lines,
            values,
            max_pairs,
            parse,
            nodes,
        } = self;
        lines.next_record(|line, line_no| {
            if line.starts_with(b"type,") {
                return None;
            }
            Some(parse(line, values, *max_pairs).map(|mut f| {
                f.node_id = nodes.id(f.mac);
                if let FormatMeta::Esp32(m) = &mut f.meta {
                    m.line = Some(line_no);
                }
                Record::Frame(f)
            }))
        })
    }

    /// See [`CaptureReader::position`](crate::CaptureReader::position).
    pub(crate) fn position(&self) -> u64 {
        self.lines.position()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lltf_table() {
        assert_eq!(LLTF_SUBCARRIERS[0], 0);
        assert_eq!(LLTF_SUBCARRIERS[31], 31);
        assert_eq!(LLTF_SUBCARRIERS[32], -32);
        assert_eq!(LLTF_SUBCARRIERS[63], -1);
    }

    #[test]
    fn int_parser_edges() {
        assert_eq!(parse_int(b"0"), Some(0));
        assert_eq!(parse_int(b"-"), None);
        assert_eq!(parse_int(b"+7"), Some(7));
        assert_eq!(parse_int(b"12a"), None);
        assert_eq!(
            parse_int(b"999999999999999999"),
            Some(999_999_999_999_999_999)
        );
        assert_eq!(parse_int(b"9999999999999999999"), None);
    }

    #[test]
    fn decimal_parser_matches_std() {
        for s in [
            "0.285197",
            "80.363225",
            "2.695925",
            "0",
            "12",
            "0.1",
            "123456.654321",
            "1e-3",
            "-7.25",
            "1234567890.1234567",
            "0.000001",
            ".5",
            "5.",
        ] {
            let want: f64 = s.parse().unwrap();
            assert_eq!(parse_decimal(s.as_bytes()), Some(want), "{s}");
        }
        assert_eq!(parse_decimal(b"."), None);
        assert_eq!(parse_decimal(b"nan"), None);
        assert_eq!(parse_decimal(b"1.2.3"), None);
    }

    #[test]
    fn mac_parser() {
        assert_eq!(
            parse_mac(b"94:d9:b3:80:8c:81"),
            Some([0x94, 0xd9, 0xb3, 0x80, 0x8c, 0x81])
        );
        assert_eq!(parse_mac(b"94:d9:b3:80:8c:8g"), None);
        assert_eq!(parse_mac(b"94d9:b3:80:8c:81:"), None);
        assert_eq!(
            format_mac(&[0x3c, 0x71, 0xbf, 0x6d, 0x2a, 0x78]),
            "3C:71:BF:6D:2A:78"
        );
    }

    #[test]
    fn column_errors_name_the_column() {
        let cols: [&[u8]; 4] = [b"CSI_DATA", b"99999999999", b"11:22:33", b"-5"];
        let c = Columns::new(&cols, &["type", "big", "mac", "rssi"]);
        assert_eq!(c.int(3), Ok(-5));
        assert_eq!(c.opt32(Some(3)), Ok(Some(-5)));
        assert_eq!(c.opt32(None), Ok(None));
        assert_eq!(
            c.int(0),
            Err("column 1 `type` = `CSI_DATA` is not an integer".to_string())
        );
        assert_eq!(
            c.int32(1),
            Err("column 2 `big` = 99999999999 is out of range".to_string())
        );
        assert_eq!(
            c.mac(2),
            Err("column 3 `mac` = `11:22:33` is not a MAC address".to_string())
        );
        assert!(expect_csi_data(b"CSI_DATA,1").is_ok());
        assert_eq!(
            expect_csi_data(b"I (123) boot: ESP-IDF v5.1.2 2nd stage"),
            Err(
                "line does not start with `CSI_DATA,` (starts `I (123) boot: ESP-IDF v5`)"
                    .to_string()
            )
        );
        // binary bytes are shown escaped, never raw
        assert_eq!(
            expect_csi_data(&[0x8a, 0x01, b'd', b'p', 0x1b, b'[', b'2', b'J']),
            Err("line does not start with `CSI_DATA,` (starts `\\x8a\\x01dp\\x1b[2J`)".to_string())
        );
    }

    #[test]
    fn csv_frame_fields() {
        let rx = || CsvRx {
            mac: [1, 2, 3, 4, 5, 6],
            rssi: -40,
            noise_floor: -95,
            channel: 1,
        };
        let meta = Esp32Meta {
            local_timestamp: Some(7),
            bandwidth: Some(1),
            secondary_channel: Some(0),
            ..Esp32Meta::default()
        };
        let values: Vec<i16> = (0..128).collect();
        let f = csv_frame(
            CaptureFormat::Esp32Csv,
            Device::Esp32,
            &values,
            rx(),
            meta.clone(),
        )
        .unwrap();
        assert_eq!(f.shape(), (1, 1, 64));
        assert_eq!(f.csi[[0, 0, 1]], Complex32::new(3.0, 2.0));
        assert_eq!((f.timestamp_ns, f.clock), (7000, Clock::Device));
        assert_eq!((f.rssi_dbm, f.noise_floor_dbm), (Some(-40.0), Some(-95.0)));
        // 40 MHz with no secondary channel stated: no known centre
        assert_eq!((f.channel, f.center_freq_mhz), (Some(1), None));
        assert_eq!(f.bandwidth_mhz, Some(40));
        assert_eq!(f.subcarriers.as_deref(), Some(&LLTF_SUBCARRIERS[..]));
        assert_eq!(f.meta, FormatMeta::Esp32(Box::new(meta.clone())));
        // C5/C6 buffers: no indices even for 64 pairs
        let f = csv_frame(
            CaptureFormat::EspCsiCsv,
            Device::Esp32C5C6,
            &values,
            rx(),
            meta,
        )
        .unwrap();
        assert_eq!((f.device, f.subcarriers), (Device::Esp32C5C6, None));
    }

    #[test]
    fn ht40_centre_is_ten_mhz_off_the_primary_channel() {
        let frame = |channel: u16, cwb: i32, secondary: i32| {
            let rx = CsvRx {
                mac: [1; 6],
                rssi: -40,
                noise_floor: -95,
                channel,
            };
            let meta = Esp32Meta {
                bandwidth: Some(cwb),
                secondary_channel: Some(secondary),
                ..Esp32Meta::default()
            };
            let f = csv_frame(CaptureFormat::Esp32Csv, Device::Esp32, &[0; 8], rx, meta).unwrap();
            (f.channel, f.center_freq_mhz, f.bandwidth_mhz)
        };
        assert_eq!(frame(1, 1, 1), (Some(1), Some(2422), Some(40)));
        assert_eq!(frame(13, 1, 2), (Some(13), Some(2462), Some(40)));
        assert_eq!(frame(36, 1, 1), (Some(36), Some(5190), Some(40)));
        assert_eq!(frame(1, 0, 1), (Some(1), Some(2412), Some(20)));
        assert_eq!(frame(6, 0, 0), (Some(6), Some(2437), Some(20)));
    }

    #[test]
    fn pairs_are_imag_first() {
        let c = pairs_to_complex(&[3, 4, -1, 2]);
        assert_eq!(c, vec![Complex32::new(4.0, 3.0), Complex32::new(2.0, -1.0)]);
    }
}
