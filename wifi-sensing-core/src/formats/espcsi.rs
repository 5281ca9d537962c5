//! Espressif esp-csi `get-started` CSV reader, format [`CaptureFormat::EspCsiCsv`].
//!
//! # Layout (FORMATS.md §1.3)
//!
//! Printed by esp-csi's `examples/get-started/csi_recv` (and `csi_recv_router`): comma-separated
//! columns whose last one is a **double-quoted JSON array** of comma-separated int8 values. Two
//! column sets exist, told apart by the number of columns before the quoted array:
//!
//! * classic ESP32, S2, S3, C3 — 25 columns:
//!   `type,id,mac,rssi,rate,sig_mode,mcs,bandwidth,smoothing,not_sounding,aggregation,stbc,`
//!   `fec_coding,sgi,noise_floor,ampdu_cnt,channel,secondary_channel,local_timestamp,ant,sig_len,`
//!   `rx_state,len,first_word,data` → [`Device::Esp32`];
//! * ESP32-C5 and C6 — 15 columns:
//!   `type,seq,mac,rssi,rate,noise_floor,fft_gain,agc_gain,channel,local_timestamp,sig_len,`
//!   `rx_state,len,first_word,data` → [`Device::Esp32C5C6`].
//!
//! # Conventions
//!
//! * `len` is the number of values in `data` here (unlike ESP32-CSI-Tool), and Espressif's own
//!   parsing tool rejects lines where it disagrees; so does this reader ([`Error::Malformed`]).
//!   An odd value count is malformed too.
//! * Pairs are `[imag, real]` (D1): `csi[k] = data[2k+1] + j·data[2k]`, shape `[1, 1, len/2]`;
//!   the first word is kept even when `first_word` (= `first_word_invalid`, kept in
//!   [`Esp32Meta::first_word_invalid`]) says it is not CSI, as in the golden file.
//! * Values must fit in an `i16`. Normal lines hold int8 values; the C5 "force LLTF" mode prints
//!   12-bit values instead (FORMATS.md §1.3), which are kept as printed and paired the same way.
//!   That mode is not in the kit, so its pairing is unverified.
//! * `id` / `seq` (the sender's ESP-NOW counter) → [`CsiFrame::sequence`] and [`Esp32Meta::id`];
//!   `mac` → `mac`; `rssi` → `rssi_dbm`; `noise_floor` → `noise_floor_dbm`; `channel` (the
//!   primary channel) → `channel`; the classic `bandwidth` (cwb) bit → `bandwidth_mhz` (C5/C6
//!   lines do not print it: `None`); `center_freq_mhz` is the centre of the frame's channel, 10 MHz
//!   above or below the primary channel's frequency for a 40 MHz frame with the secondary channel
//!   above or below ([`center_freq_mhz`](super::esp32::center_freq_mhz); C5/C6 lines: the primary
//!   channel's frequency). `node_id` numbers the transmitter MACs in order of first
//!   appearance, so each sender's counter is tracked on its own (the rule of
//!   [`CsiFrame::node_id`]).
//! * Timestamp: `local_timestamp` (radio µs timer) × 1000 with [`Clock::Device`], as for
//!   ESP32-CSI-Tool; it wraps with the device's 32-bit counter and is not unwrapped.
//! * Columns after the quoted array (a logging script's host time, say) are accepted as in
//!   ESP32-CSI-Tool files ([`esp32_csv`](super::esp32_csv), "Columns after the array"): kept in
//!   [`Esp32Meta::extra_columns`], a host Unix time in the first one becomes the timestamp with
//!   [`Clock::Host`].
//! * Subcarrier indices: the LLTF order for 64 pairs with `secondary_channel == 0` on classic
//!   lines; `None` otherwise, in particular for C5/C6 lines, whose buffer layout differs and which
//!   print no secondary channel (see [`lltf_subcarriers`]).
//! * Header lines (`type,id,...` / `type,seq,...`) and empty lines are skipped; any other line
//!   that is not a well-formed `CSI_DATA` line gives a recoverable [`Error::Malformed`] with its
//!   byte offset and 1-based line number.
//!
//! # Example
//!
//! ```
//! use wifi_sensing_core::{Registry, CaptureFormat, Device};
//! let text = "CSI_DATA,7,1a:00:00:00:00:00,-23,11,-96,32,4,11,372852,47,0,4,0,\"[1,2,-3,4]\"\n";
//! let mut cap = Registry::builtin().open_read(Box::new(std::io::Cursor::new(text)), None, None, None)?;
//! assert_eq!(cap.format(), CaptureFormat::EspCsiCsv);
//! let f = cap.next().unwrap()?;
//! assert_eq!(f.device, Device::Esp32C5C6);
//! assert_eq!(f.sequence, Some(7));
//! assert_eq!(f.csi[[0, 0, 1]], num_complex::Complex32::new(4.0, -3.0));
//! # Ok::<(), wifi_sensing_core::Error>(())
//! ```

#[cfg(doc)]
use crate::error::Error;
use crate::error::Result;
#[cfg(doc)]
use crate::formats::esp32::lltf_subcarriers;
use crate::formats::esp32::{
    apply_extra_columns, check_pair_limit, csi_data_array, csv_frame, expect_csi_data,
    probe_csv_lines, trailing_columns, Columns, CsiDataArray, CsvLines, CsvRx, Esp32Meta,
};
use crate::formats::text::trim;
#[cfg(doc)]
use crate::frame::Clock;
use crate::frame::{CaptureFormat, CsiFrame, Device};
use crate::reader::{CaptureReader, Confidence, FormatDescriptor, Input, ReaderOptions};
use crate::record::Record;

/// Column names of the classic (ESP32, S2, S3, C3) lines, `data` included.
pub const CLASSIC_COLUMNS: [&str; 25] = [
    "type",
    "id",
    "mac",
    "rssi",
    "rate",
    "sig_mode",
    "mcs",
    "bandwidth",
    "smoothing",
    "not_sounding",
    "aggregation",
    "stbc",
    "fec_coding",
    "sgi",
    "noise_floor",
    "ampdu_cnt",
    "channel",
    "secondary_channel",
    "local_timestamp",
    "ant",
    "sig_len",
    "rx_state",
    "len",
    "first_word",
    "data",
];

/// Column names of the ESP32-C5/C6 lines, `data` included.
pub const C5C6_COLUMNS: [&str; 15] = [
    "type",
    "seq",
    "mac",
    "rssi",
    "rate",
    "noise_floor",
    "fft_gain",
    "agc_gain",
    "channel",
    "local_timestamp",
    "sig_len",
    "rx_state",
    "len",
    "first_word",
    "data",
];

const FORMAT: CaptureFormat = CaptureFormat::EspCsiCsv;

/// Column positions of one column set (`None`: the set has no such column). Checked against
/// the name lists by a unit test.
struct Layout {
    device: Device,
    names: &'static [&'static str],
    id: usize,
    rssi: usize,
    rate: usize,
    noise_floor: usize,
    channel: usize,
    local_timestamp: usize,
    sig_len: usize,
    rx_state: usize,
    len: usize,
    first_word: usize,
    sig_mode: Option<usize>,
    mcs: Option<usize>,
    bandwidth: Option<usize>,
    smoothing: Option<usize>,
    not_sounding: Option<usize>,
    aggregation: Option<usize>,
    stbc: Option<usize>,
    fec_coding: Option<usize>,
    sgi: Option<usize>,
    ampdu_cnt: Option<usize>,
    secondary_channel: Option<usize>,
    ant: Option<usize>,
    fft_gain: Option<usize>,
    agc_gain: Option<usize>,
}

const CLASSIC_LAYOUT: Layout = Layout {
    device: Device::Esp32,
    names: &CLASSIC_COLUMNS,
    id: 1,
    rssi: 3,
    rate: 4,
    noise_floor: 14,
    channel: 16,
    local_timestamp: 18,
    sig_len: 20,
    rx_state: 21,
    len: 22,
    first_word: 23,
    sig_mode: Some(5),
    mcs: Some(6),
    bandwidth: Some(7),
    smoothing: Some(8),
    not_sounding: Some(9),
    aggregation: Some(10),
    stbc: Some(11),
    fec_coding: Some(12),
    sgi: Some(13),
    ampdu_cnt: Some(15),
    secondary_channel: Some(17),
    ant: Some(19),
    fft_gain: None,
    agc_gain: None,
};

const C5C6_LAYOUT: Layout = Layout {
    device: Device::Esp32C5C6,
    names: &C5C6_COLUMNS,
    id: 1,
    rssi: 3,
    rate: 4,
    noise_floor: 5,
    channel: 8,
    local_timestamp: 9,
    sig_len: 10,
    rx_state: 11,
    len: 12,
    first_word: 13,
    sig_mode: None,
    mcs: None,
    bandwidth: None,
    smoothing: None,
    not_sounding: None,
    aggregation: None,
    stbc: None,
    fec_coding: None,
    sgi: None,
    ampdu_cnt: None,
    secondary_channel: None,
    ant: None,
    fft_gain: Some(6),
    agc_gain: Some(7),
};

/// Streaming reader of esp-csi `get-started` CSV lines. See the [module docs](self).
pub struct EspCsiReader {
    inner: CsvLines,
}

impl EspCsiReader {
    /// A reader over `input` with the limits of `options`.
    pub fn new(input: Input, options: &ReaderOptions) -> Self {
        EspCsiReader {
            inner: CsvLines::new(input, FORMAT, options, parse_line),
        }
    }
}

impl CaptureReader for EspCsiReader {
    fn format(&self) -> CaptureFormat {
        FORMAT
    }

    fn next_record(&mut self) -> Option<Result<Record>> {
        self.inner.next_record()
    }

    fn position(&self) -> u64 {
        self.inner.position()
    }
}

/// Parses the quoted JSON array `"[v0,v1,...]"` into `values`.
fn parse_data(data: &[u8], values: &mut Vec<i16>) -> std::result::Result<(), String> {
    values.clear();
    let inner = match data {
        [b'"', b'[', inner @ .., b']', b'"'] => inner,
        _ => {
            return Err(
                "the last column is not a quoted array `\"[...]\"` (line cut short?)".to_string(),
            )
        }
    };
    let n = inner.len();
    let mut i = 0;
    loop {
        while i < n && matches!(inner[i], b' ' | b'\t') {
            i += 1;
        }
        if i == n {
            // `[]` (or only blanks) is an empty array; a trailing comma is an error
            return if values.is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "data value {} is missing after the last comma",
                    values.len()
                ))
            };
        }
        let start = i;
        let neg = inner[i] == b'-';
        if neg {
            i += 1;
        }
        let digits = i;
        let mut v: i32 = 0;
        while i < n && inner[i].is_ascii_digit() && i - digits < 6 {
            v = v * 10 + i32::from(inner[i] - b'0');
            i += 1;
        }
        let end_digits = i;
        while i < n && matches!(inner[i], b' ' | b'\t') {
            i += 1;
        }
        let v = if neg { -v } else { v };
        if end_digits == digits || (i < n && inner[i] != b',') || i16::try_from(v).is_err() {
            let stop = inner[start..]
                .iter()
                .position(|&b| b == b',')
                .map_or(n, |p| start + p);
            return Err(format!(
                "data value {} `{}` is not an integer in the i16 range",
                values.len(),
                String::from_utf8_lossy(&inner[start..stop.min(start + 24)])
            ));
        }
        values.push(v as i16);
        if i == n {
            return Ok(());
        }
        i += 1; // the comma
    }
}

/// Parses one data line (trimmed, not a header) into a frame (without `meta.line`).
fn parse_line(
    line: &[u8],
    values: &mut Vec<i16>,
    max_pairs: usize,
) -> std::result::Result<CsiFrame, String> {
    expect_csi_data(line)?;
    let Some(q) = line.iter().position(|&b| b == b'"') else {
        return Err("no quoted data array `\"[...]\"` in the line".to_string());
    };
    let head = &line[..q];
    let Some(head) = head.strip_suffix(b",") else {
        return Err("the quoted data array does not start a column".to_string());
    };
    let mut cols: [&[u8]; 24] = [&[]; 24];
    let mut n = 0usize;
    for c in head.split(|&b| b == b',') {
        if n == cols.len() {
            n += 1;
            break;
        }
        cols[n] = trim(c);
        n += 1;
    }
    let layout = match n {
        24 => &CLASSIC_LAYOUT,
        14 => &C5C6_LAYOUT,
        _ => {
            return Err(format!(
                "{} columns before the data array; esp-csi lines have 24 (ESP32/S2/S3/C3) or 14 (C5/C6)",
                if n > 24 { "more than 24".to_string() } else { n.to_string() }
            ))
        }
    };
    let device = layout.device;
    let c = Columns::new(&cols, layout.names);

    let id = c.int(layout.id)?;
    let id = u32::try_from(id)
        .map_err(|_| format!("column 2 `{}` = {id} is not a u32", layout.names[layout.id]))?;
    let mac = c.mac(2)?;
    let rssi = c.int32(layout.rssi)?;
    let noise_floor = c.int32(layout.noise_floor)?;
    let channel = c.int(layout.channel)?;
    let channel = u16::try_from(channel)
        .map_err(|_| format!("column `channel` = {channel} is out of range"))?;
    let local_timestamp = c.int(layout.local_timestamp)?;
    let len = c.int32(layout.len)?;
    let bandwidth = c.opt32(layout.bandwidth)?;
    let secondary_channel = c.opt32(layout.secondary_channel)?;

    // the quoted array ends at `]"`; columns a logging script appended may follow
    let data = &line[q..];
    let (data, extra) = match data.windows(2).position(|w| w == b"]\"") {
        Some(end) => {
            let (d, after) = data.split_at(end + 2);
            (d, trailing_columns(after, "quoted data array's `]\"`")?)
        }
        None => (data, None),
    };
    parse_data(trim(data), values)?;
    if i64::from(len) != values.len() as i64 {
        return Err(format!(
            "`len` says {len} values but the data array holds {} (Espressif's tool rejects such lines)",
            values.len()
        ));
    }
    if values.is_empty() {
        return Err("the data array is empty".to_string());
    }
    if !values.len().is_multiple_of(2) {
        return Err(format!(
            "{} values: an odd count cannot form [imag, real] pairs",
            values.len()
        ));
    }
    check_pair_limit(values.len() / 2, max_pairs)?;

    let meta = Esp32Meta {
        record_type: Some("CSI_DATA".to_string()),
        id: Some(id),
        rate: Some(c.int32(layout.rate)?),
        sig_mode: c.opt32(layout.sig_mode)?,
        mcs: c.opt32(layout.mcs)?,
        bandwidth,
        smoothing: c.opt32(layout.smoothing)?,
        not_sounding: c.opt32(layout.not_sounding)?,
        aggregation: c.opt32(layout.aggregation)?,
        stbc: c.opt32(layout.stbc)?,
        fec_coding: c.opt32(layout.fec_coding)?,
        sgi: c.opt32(layout.sgi)?,
        ampdu_cnt: c.opt32(layout.ampdu_cnt)?,
        secondary_channel,
        local_timestamp: Some(local_timestamp),
        ant: c.opt32(layout.ant)?,
        sig_len: Some(c.int32(layout.sig_len)?),
        rx_state: Some(c.int32(layout.rx_state)?),
        len: Some(len),
        first_word_invalid: Some(c.int32(layout.first_word)?),
        fft_gain: c.opt32(layout.fft_gain)?,
        agc_gain: c.opt32(layout.agc_gain)?,
        ..Esp32Meta::default()
    };

    let rx = CsvRx {
        mac,
        rssi,
        noise_floor,
        channel,
    };
    let mut f = csv_frame(FORMAT, device, values, rx, meta)?;
    f.sequence = Some(id);
    apply_extra_columns(&mut f, extra);
    Ok(f)
}

/// Probe: the first non-empty line is an esp-csi header (`type,id,mac,` / `type,seq,mac,`) or a
/// `CSI_DATA,` line whose data is a quoted array (`"[`). A match further down scores lower.
fn probe(prefix: &[u8]) -> Confidence {
    probe_csv_lines(prefix, line_score)
}

fn line_score(line: &[u8]) -> Confidence {
    if line.starts_with(b"type,id,mac,") || line.starts_with(b"type,seq,mac,") {
        return 95;
    }
    match csi_data_array(line) {
        Some(CsiDataArray::Quoted) => 95,
        // The array was cut off by the end of the prefix: esp-csi's second column is a number.
        Some(CsiDataArray::CutOff(second))
            if !second.is_empty() && second.iter().all(u8::is_ascii_digit) =>
        {
            60
        }
        _ => 0,
    }
}

fn open(input: Input, options: &ReaderOptions) -> Result<Box<dyn CaptureReader>> {
    Ok(Box::new(EspCsiReader::new(input, options)))
}

/// Registry entry of the esp-csi `get-started` CSV format.
pub fn descriptor() -> FormatDescriptor {
    FormatDescriptor {
        format: FORMAT,
        description: "Espressif esp-csi get-started CSV (CSI_DATA lines with a quoted JSON array)",
        extensions: &["csv"],
        probe,
        open,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::text::test_support::{assert_malformed, read_text};
    use crate::frame::FormatMeta;
    use num_complex::Complex32;

    const CLASSIC: &str = "CSI_DATA,0,94:d9:b3:80:8c:81,-30,11,1,6,1,0,1,0,1,0,0,-93,0,13,2,2751923,0,67,0,4,1,\"[67,48,4,0]\"";
    const C5: &str =
        "CSI_DATA,7,1a:00:00:00:00:00,-23,11,-96,32,4,11,372852,47,0,4,0,\"[1, 2, -3, 4]\"";

    #[test]
    fn trailing_columns_after_the_quoted_array() {
        let out = read_all(&format!("{CLASSIC},1740694846.25,x\n"));
        let Ok(Record::Frame(f)) = &out[0] else {
            panic!("{:?}", out[0])
        };
        assert_eq!(
            (f.timestamp_ns, f.clock),
            (1_740_694_846_250_000_000, crate::Clock::Host)
        );
        let FormatMeta::Esp32(m) = &f.meta else {
            panic!()
        };
        assert_eq!(m.extra_columns.as_deref(), Some("1740694846.25,x"));
        assert_eq!(m.host_time_s, Some(1_740_694_846.25));
        let out = read_all(&format!("{CLASSIC}x\n"));
        let Err(e) = &out[0] else { panic!() };
        assert!(e.to_string().contains("without a comma"), "{e}");
    }

    fn read_all(text: &str) -> Vec<Result<Record>> {
        read_text(EspCsiReader::new, text)
    }

    #[test]
    fn both_column_sets() {
        let out = read_all(&format!("type,id,mac\n{CLASSIC}\n\n{C5}\n"));
        assert_eq!(out.len(), 2);
        let Ok(Record::Frame(a)) = &out[0] else {
            panic!("{:?}", out[0])
        };
        let Ok(Record::Frame(b)) = &out[1] else {
            panic!("{:?}", out[1])
        };
        assert_eq!(a.device, Device::Esp32);
        assert_eq!(a.bandwidth_mhz, Some(40));
        assert_eq!(a.channel, Some(13));
        // HT40 with the secondary channel below: centre between channels 9 and 13
        assert_eq!(a.center_freq_mhz, Some(2462));
        assert_eq!(a.csi[[0, 0, 0]], Complex32::new(48.0, 67.0));
        assert_eq!(a.timestamp_ns, 2_751_923_000);
        let FormatMeta::Esp32(m) = &a.meta else {
            panic!()
        };
        assert_eq!(
            (
                m.secondary_channel,
                m.first_word_invalid,
                m.line,
                m.fft_gain
            ),
            (Some(2), Some(1), Some(2), None)
        );
        assert_eq!(b.device, Device::Esp32C5C6);
        assert_eq!(b.bandwidth_mhz, None);
        assert_eq!(b.rssi_dbm, Some(-23.0));
        assert_eq!(b.noise_floor_dbm, Some(-96.0));
        assert_eq!(b.csi[[0, 0, 1]], Complex32::new(4.0, -3.0));
        let FormatMeta::Esp32(m) = &b.meta else {
            panic!()
        };
        assert_eq!(
            (m.id, m.fft_gain, m.agc_gain, m.sig_mode, m.line),
            (Some(7), Some(32), Some(4), None, Some(4))
        );
    }

    #[test]
    fn bad_inputs_are_malformed_with_offsets() {
        let cases: Vec<(String, &str)> = vec![
            (C5.replace(",4,0,\"", ",6,0,\""), "len"),
            (
                C5.replace("[1, 2, -3, 4]", "[1, 2, -3]")
                    .replace(",4,0,\"", ",3,0,\""),
                "odd",
            ),
            (
                C5.replace("[1, 2, -3, 4]", "[]")
                    .replace(",4,0,\"", ",0,0,\""),
                "empty",
            ),
            (
                C5.replace("[1, 2, -3, 4]", "[1, 2, x, 4]"),
                "not an integer",
            ),
            (C5.replace("[1, 2, -3, 4]", "[1, 2, 99999, 4]"), "i16"),
            (C5.replace("4]\"", "4"), "quoted"),
            (C5.replace("-23,11,", "-23,"), "columns"),
            (C5.replace("1a:00", "1a00"), "MAC"),
            (C5.replace(",7,", ",-7,"), "u32"),
            ("CSI_DATA,1,2,3".to_string(), "quoted"),
            ("garbage".to_string(), "CSI_DATA"),
        ];
        for (text, want) in cases {
            let out = read_all(&format!("{C5}\n{text}\n"));
            assert_eq!(out.len(), 2, "{text}");
            assert_malformed(&out[1], C5.len() as u64 + 1, 2, want, &text);
        }
    }

    #[test]
    fn layouts_match_the_column_names() {
        for l in [&CLASSIC_LAYOUT, &C5C6_LAYOUT] {
            let at = |i: usize| l.names[i];
            let id_name = if l.device == Device::Esp32 {
                "id"
            } else {
                "seq"
            };
            let fixed = [
                (l.id, id_name),
                (l.rssi, "rssi"),
                (l.rate, "rate"),
                (l.noise_floor, "noise_floor"),
                (l.channel, "channel"),
                (l.local_timestamp, "local_timestamp"),
                (l.sig_len, "sig_len"),
                (l.rx_state, "rx_state"),
                (l.len, "len"),
                (l.first_word, "first_word"),
            ];
            for (i, name) in fixed {
                assert_eq!(at(i), name);
            }
            let optional = [
                (l.sig_mode, "sig_mode"),
                (l.mcs, "mcs"),
                (l.bandwidth, "bandwidth"),
                (l.smoothing, "smoothing"),
                (l.not_sounding, "not_sounding"),
                (l.aggregation, "aggregation"),
                (l.stbc, "stbc"),
                (l.fec_coding, "fec_coding"),
                (l.sgi, "sgi"),
                (l.ampdu_cnt, "ampdu_cnt"),
                (l.secondary_channel, "secondary_channel"),
                (l.ant, "ant"),
                (l.fft_gain, "fft_gain"),
                (l.agc_gain, "agc_gain"),
            ];
            for (i, name) in optional {
                assert_eq!(i.map(at), l.names.contains(&name).then_some(name), "{name}");
            }
            // every column but type, mac and data is read
            assert_eq!(
                fixed.len() + optional.iter().filter(|(i, _)| i.is_some()).count() + 3,
                l.names.len()
            );
        }
    }

    #[test]
    fn data_array_forms() {
        let mut v = Vec::new();
        parse_data(b"\"[ 1 ,-2,3 ]\"", &mut v).unwrap();
        assert_eq!(v, vec![1, -2, 3]);
        parse_data(b"\"[]\"", &mut v).unwrap();
        assert!(v.is_empty());
        parse_data(b"\"[2047,-2048]\"", &mut v).unwrap();
        assert_eq!(v, vec![2047, -2048]);
        for bad in [
            &b"\"[1,]\""[..],
            b"\"[,1]\"",
            b"\"[1 2]\"",
            b"\"[1,-]\"",
            b"\"[40000]\"",
            b"\"[1234567]\"",
            b"[1]",
            b"\"[1]",
        ] {
            assert!(
                parse_data(bad, &mut v).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn probe_scores() {
        assert_eq!(probe(CLASSIC.as_bytes()), 95);
        assert_eq!(probe(b"type,seq,mac,rssi\n"), 95);
        assert_eq!(probe(b"CSI_DATA,PASSIVE,11:22:33:44:55:66,-52,[1 2 ]\n"), 0);
        assert_eq!(probe(b"type,role,mac,\n"), 0);
        assert_eq!(probe(b"CSI_DATA,12,1a:00"), 60);
        assert_eq!(probe(b"{\"magic\": \"0xC5110001\"}"), 0);
    }
}
