//! ESP32-CSI-Tool CSV reader (StevenMHernandez/ESP32-CSI-Tool), format
//! [`CaptureFormat::Esp32Csv`].
//!
//! # Layout (FORMATS.md §1.2)
//!
//! One text line per received packet: 25 comma-separated columns, then the CSI buffer in
//! brackets, values separated by single spaces with a trailing space before `]` (and possibly
//! columns a logging script appended, see below):
//!
//! ```text
//! CSI_DATA,<role>,<mac>,<rssi>,<rate>,<sig_mode>,<mcs>,<bandwidth>,<smoothing>,<not_sounding>,
//! <aggregation>,<stbc>,<fec_coding>,<sgi>,<noise_floor>,<ampdu_cnt>,<channel>,<secondary_channel>,
//! <local_timestamp>,<ant>,<sig_len>,<rx_state>,<real_time_set>,<real_timestamp>,<len>,[v0 v1 ... ]
//! ```
//!
//! (one line; wrapped here). Columns 4..=22 are the ESP-IDF `wifi_pkt_rx_ctrl_t` fields as
//! decimal integers, `real_timestamp` is a decimal number of seconds, `len` is the buffer length in
//! bytes as the driver reported it.
//!
//! # Conventions
//!
//! * **Header line** (`type,role,mac,...`): printed once at start-up by the firmware; some files
//!   keep it, some don't (D9). It is skipped wherever it appears and is not an error. Empty lines
//!   (including the one after the final newline) are skipped too.
//! * **Values are counted, `len` is not trusted**: with the tool's LLTF-only option the firmware
//!   prints 128 values while `len` says 384. The CSI has `printed / 2` pairs; `len` is kept in
//!   [`Esp32Meta::len`].
//! * **Pairs are `[imag, real]`** (D1): `csi[k] = v[2k+1] + j·v[2k]`, shape `[1, 1, printed/2]`.
//!   The junk first word is kept (pairs 0 and 1), as in the golden files.
//! * **Malformed lines** (an odd value count, as on line 19 of `example_100hz_pitraffic.csv` which
//!   prints 127 values; a value outside int8; a bad number or MAC; a wrong column count) give a
//!   recoverable [`Error::Malformed`] with the line's byte offset and `line: Some(n)` (1-based),
//!   and the reader continues with the next line. The reason names what is wrong: an array
//!   with no `]` at all (a cut line), a comma inside an unclosed array, text after `]` without a
//!   comma.
//! * **Timestamp**: the line's only per-packet clock that every file has is `local_timestamp`, the
//!   radio's microsecond timer. `timestamp_ns = local_timestamp × 1000` with
//!   [`Clock::Device`]. It is a 32-bit counter on the device, so it wraps after 2³² µs (about
//!   71.6 minutes) and restarts at boot; it is reported as printed, not unwrapped.
//!   `real_timestamp` (firmware steady clock, seconds) is kept in the meta.
//! * **Columns after the array**: logging scripts often append their own columns after the CSI
//!   array, most often the host's Unix time (`...,128,[-125 48 8 0 ... ],1740694846.6452723`).
//!   They are accepted and kept as printed in [`Esp32Meta::extra_columns`]. When the first of
//!   them is a Unix time in seconds (a plain decimal between 10⁹ and 4·10⁹, at most 9 fraction
//!   digits), it becomes the frame's timestamp with [`Clock::Host`] (exact to the ns printed) and
//!   [`Esp32Meta::host_time_s`]; `local_timestamp` stays in the meta. Without one, the device
//!   clock above is used.
//! * **Frame fields**: `mac` → [`CsiFrame::mac`], `rssi` → `rssi_dbm`, `noise_floor` →
//!   `noise_floor_dbm`, `channel` (the primary channel) → `channel`, the `bandwidth` (cwb) bit →
//!   `bandwidth_mhz` 20 or 40, and `center_freq_mhz` the centre of the frame's channel: the
//!   primary channel's frequency for 20 MHz, ±10 MHz for 40 MHz with the secondary channel above
//!   (1) or below (2) ([`center_freq_mhz`](super::esp32::center_freq_mhz)). Every column is also in
//!   [`Esp32Meta`] under its column name (`type` as `record_type`), plus the 1-based `line`.
//!   `node_id` numbers the transmitter MACs in order of first appearance (the rule of
//!   [`CsiFrame::node_id`]) and `sequence` is `None` (no counter).
//! * **Subcarrier indices**: for exactly 64 pairs with `secondary_channel == 0` the LLTF order
//!   0..31, −32..−1 is known (FORMATS.md §1.1) and given; otherwise `subcarriers` is `None`, see
//!   [`lltf_subcarriers`].
//!
//! # Example
//!
//! ```
//! use wifi_sensing_core::{Registry, CaptureFormat, Clock};
//! let mut line = String::from("CSI_DATA,STA,3C:71:BF:6D:2A:78,-73,11,1,0,0,1,1,0,0,0,0,-93,0,6,0,80272146,0,101,0,0,80.363225,8,[");
//! line.push_str("101 -48 5 0 3 4 -1 2 ]\n");
//! let mut cap = Registry::builtin().open_read(Box::new(std::io::Cursor::new(line)), None, Some("csv"), None)?;
//! assert_eq!(cap.format(), CaptureFormat::Esp32Csv);
//! let f = cap.next().unwrap()?;
//! assert_eq!(f.shape(), (1, 1, 4));
//! assert_eq!(f.csi[[0, 0, 2]], num_complex::Complex32::new(4.0, 3.0));
//! assert_eq!((f.timestamp_ns, f.clock), (80_272_146_000, Clock::Device));
//! assert_eq!(f.channel, Some(6));
//! # Ok::<(), wifi_sensing_core::Error>(())
//! ```

#[cfg(doc)]
use crate::error::Error;
use crate::error::Result;
#[cfg(doc)]
use crate::formats::esp32::lltf_subcarriers;
#[cfg(test)]
use crate::formats::esp32::parse_host_time_ns;
use crate::formats::esp32::{
    apply_extra_columns, check_pair_limit, csi_data_array, csv_frame, expect_csi_data,
    parse_decimal, probe_csv_lines, trailing_columns, Columns, CsiDataArray, CsvLines, CsvRx,
    Esp32Meta,
};
use crate::formats::text::trim;
#[cfg(doc)]
use crate::frame::Clock;
use crate::frame::{CaptureFormat, CsiFrame, Device};
use crate::reader::{CaptureReader, Confidence, FormatDescriptor, Input, ReaderOptions};
use crate::record::Record;

/// Number of comma-separated columns before the bracketed CSI array.
pub const COLUMNS: usize = 25;

/// Column names, in order, as the firmware's header line prints them (the 26th, the array, is
/// headed `CSI_DATA` there).
pub const COLUMN_NAMES: [&str; COLUMNS] = [
    "type",
    "role",
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
    "real_time_set",
    "real_timestamp",
    "len",
];

const FORMAT: CaptureFormat = CaptureFormat::Esp32Csv;

/// Streaming reader of ESP32-CSI-Tool CSV lines. See the [module docs](self).
pub struct Esp32CsvReader {
    inner: CsvLines,
}

impl Esp32CsvReader {
    /// A reader over `input` with the limits of `options`.
    pub fn new(input: Input, options: &ReaderOptions) -> Self {
        Esp32CsvReader {
            inner: CsvLines::new(input, FORMAT, options, parse_line),
        }
    }
}

impl CaptureReader for Esp32CsvReader {
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

/// Splits `rest` (the text after the 25th comma) into the bracketed CSI array and the text after
/// its `]` (the columns a logging script appended, without their leading comma), naming what is
/// wrong when the line has no such array.
fn split_array(rest: &[u8]) -> std::result::Result<(&[u8], Option<&[u8]>), String> {
    if rest.first() != Some(&b'[') {
        let shown = &rest[..rest.len().min(24)];
        return Err(format!(
            "column 26 `{}` is not a bracketed CSI array `[...]`",
            String::from_utf8_lossy(shown)
        ));
    }
    let Some(close) = rest.iter().position(|&b| b == b']') else {
        return Err(match rest.iter().position(|&b| b == b',') {
            Some(_) => "the CSI array has no closing `]` before the next comma (a column was written inside the array?)".to_string(),
            None => "the CSI array has no closing `]` (line cut short?)".to_string(),
        });
    };
    let (arr, after) = rest.split_at(close + 1);
    Ok((arr, trailing_columns(after, "CSI array's `]`")?))
}

/// Parses the bracketed array `[v0 v1 ... ]` into `values` (int8 range checked).
fn parse_array(arr: &[u8], values: &mut Vec<i16>) -> std::result::Result<(), String> {
    values.clear();
    let inner = match arr {
        [b'[', inner @ .., b']'] => inner,
        _ => return Err("column 26 is not a bracketed CSI array `[...]`".to_string()),
    };
    let n = inner.len();
    let mut i = 0;
    while i < n {
        let c = inner[i];
        if c == b' ' || c == b'\t' {
            i += 1;
            continue;
        }
        let start = i;
        let neg = c == b'-';
        if neg {
            i += 1;
        }
        let digits_start = i;
        let mut v: i32 = 0;
        while i < n {
            let d = inner[i].wrapping_sub(b'0');
            if d > 9 {
                break;
            }
            if i - digits_start >= 4 {
                return Err(format!(
                    "CSI value {} is not an int8",
                    String::from_utf8_lossy(&inner[start..(i + 1).min(n)])
                ));
            }
            v = v * 10 + i32::from(d);
            i += 1;
        }
        if i == digits_start || (i < n && inner[i] != b' ' && inner[i] != b'\t') {
            let end = inner[i..]
                .iter()
                .position(|&b| b == b' ')
                .map_or(n, |p| i + p);
            return Err(format!(
                "CSI value {} (number {}) is not an integer",
                String::from_utf8_lossy(&inner[start..end.min(start + 16)]),
                values.len()
            ));
        }
        let v = if neg { -v } else { v };
        if !(-128..=127).contains(&v) {
            return Err(format!(
                "CSI value {v} (number {}) is outside the int8 range",
                values.len()
            ));
        }
        values.push(v as i16);
    }
    Ok(())
}

/// Parses one data line (already trimmed, not a header) into a frame (without `meta.line`).
fn parse_line(
    line: &[u8],
    values: &mut Vec<i16>,
    max_pairs: usize,
) -> std::result::Result<CsiFrame, String> {
    expect_csi_data(line)?;
    let mut cols: [&[u8]; COLUMNS] = [&[]; COLUMNS];
    let mut rest = line;
    for (i, col) in cols.iter_mut().enumerate() {
        match rest.iter().position(|&b| b == b',') {
            Some(p) => {
                *col = trim(&rest[..p]);
                rest = &rest[p + 1..];
            }
            None => {
                return Err(format!(
                    "only {} comma-separated columns before the CSI array, expected {COLUMNS} (line cut short?)",
                    i + if rest.is_empty() { 0 } else { 1 }
                ))
            }
        }
    }
    let c = Columns::new(&cols, &COLUMN_NAMES);

    let role = cols[1];
    if role.is_empty() || !role.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_') {
        return Err(format!(
            "column 2 `role` = `{}` is not a role name",
            String::from_utf8_lossy(role)
        ));
    }
    let mac = c.mac(2)?;
    let rssi = c.int32(3)?;
    let noise_floor = c.int32(14)?;
    let channel = c.int(16)?;
    let channel = u16::try_from(channel)
        .map_err(|_| format!("column 17 `channel` = {channel} is out of range"))?;
    let bandwidth = c.int32(7)?;
    let secondary_channel = c.int32(17)?;
    let local_timestamp = c.int(18)?;
    let real_timestamp = parse_decimal(cols[23]).ok_or_else(|| {
        format!(
            "column 24 `real_timestamp` = `{}` is not a number",
            String::from_utf8_lossy(&cols[23][..cols[23].len().min(24)])
        )
    })?;

    let (array, extra) = split_array(trim(rest))?;
    parse_array(array, values)?;
    if values.is_empty() {
        return Err("the CSI array is empty".to_string());
    }
    if !values.len().is_multiple_of(2) {
        return Err(format!(
            "{} values printed: an odd count cannot form [imag, real] pairs (malformed line; `len` says {})",
            values.len(),
            String::from_utf8_lossy(cols[24])
        ));
    }
    check_pair_limit(values.len() / 2, max_pairs)?;

    let meta = Esp32Meta {
        record_type: Some("CSI_DATA".to_string()),
        role: Some(String::from_utf8_lossy(role).into_owned()),
        rate: Some(c.int32(4)?),
        sig_mode: Some(c.int32(5)?),
        mcs: Some(c.int32(6)?),
        bandwidth: Some(bandwidth),
        smoothing: Some(c.int32(8)?),
        not_sounding: Some(c.int32(9)?),
        aggregation: Some(c.int32(10)?),
        stbc: Some(c.int32(11)?),
        fec_coding: Some(c.int32(12)?),
        sgi: Some(c.int32(13)?),
        ampdu_cnt: Some(c.int32(15)?),
        secondary_channel: Some(secondary_channel),
        local_timestamp: Some(local_timestamp),
        ant: Some(c.int32(19)?),
        sig_len: Some(c.int32(20)?),
        rx_state: Some(c.int32(21)?),
        real_time_set: Some(c.int32(22)?),
        real_timestamp: Some(real_timestamp),
        len: Some(c.int32(24)?),
        ..Esp32Meta::default()
    };

    let rx = CsvRx {
        mac,
        rssi,
        noise_floor,
        channel,
    };
    let mut f = csv_frame(FORMAT, Device::Esp32, values, rx, meta)?;
    apply_extra_columns(&mut f, extra);
    Ok(f)
}

/// Probe: the first non-empty line is the ESP32-CSI-Tool header (`type,role,mac,`) or a
/// `CSI_DATA,` line with an unquoted `[` array (esp-csi lines quote theirs: `"[`). A matching
/// line further down (after boot messages of a serial log) scores lower.
fn probe(prefix: &[u8]) -> Confidence {
    probe_csv_lines(prefix, line_score)
}

fn line_score(line: &[u8]) -> Confidence {
    if line.starts_with(b"type,role,mac,") {
        return 95;
    }
    match csi_data_array(line) {
        Some(CsiDataArray::Bracketed) => 95,
        // The array was cut off by the end of the prefix: decide on the role column (a word
        // here, a number in esp-csi lines).
        Some(CsiDataArray::CutOff(role))
            if !role.is_empty() && role.iter().all(u8::is_ascii_alphabetic) =>
        {
            70
        }
        _ => 0,
    }
}

fn open(input: Input, options: &ReaderOptions) -> Result<Box<dyn CaptureReader>> {
    Ok(Box::new(Esp32CsvReader::new(input, options)))
}

/// Registry entry of the ESP32-CSI-Tool CSV format.
pub fn descriptor() -> FormatDescriptor {
    FormatDescriptor {
        format: FORMAT,
        description: "ESP32-CSI-Tool CSV (CSI_DATA lines with a bracketed int8 array)",
        extensions: &["csv"],
        probe,
        open,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use crate::formats::text::test_support::{assert_malformed, read_text};
    use crate::frame::{Clock, FormatMeta};
    use num_complex::Complex32;
    use std::io::Cursor;

    const HEAD: &str = "CSI_DATA,PASSIVE,11:22:33:44:55:66,-52,30,0,0,0,0,0,0,0,0,0,-98,0,8,0,7313,0,38,0,0,0.285197,128,";

    fn read_all(text: &str) -> Vec<Result<Record>> {
        read_text(Esp32CsvReader::new, text)
    }

    fn line_with(values: &[i32]) -> String {
        let mut s = String::from(HEAD);
        s.push('[');
        for v in values {
            s.push_str(&v.to_string());
            s.push(' ');
        }
        s.push_str("]\n");
        s
    }

    #[test]
    fn parses_fields_and_pairs() {
        let vals: Vec<i32> = (0..128).map(|i| (i % 50) - 25).collect();
        let out = read_all(&line_with(&vals));
        assert_eq!(out.len(), 1);
        let Ok(Record::Frame(f)) = &out[0] else {
            panic!("{:?}", out[0])
        };
        assert_eq!(f.shape(), (1, 1, 64));
        assert_eq!(
            f.csi[[0, 0, 3]],
            Complex32::new(vals[7] as f32, vals[6] as f32)
        );
        assert_eq!(f.mac, Some([0x11, 0x22, 0x33, 0x44, 0x55, 0x66]));
        assert_eq!(f.rssi_dbm, Some(-52.0));
        assert_eq!(f.noise_floor_dbm, Some(-98.0));
        assert_eq!(f.channel, Some(8));
        assert_eq!(f.center_freq_mhz, Some(2447));
        assert_eq!(f.bandwidth_mhz, Some(20));
        assert_eq!(f.timestamp_ns, 7_313_000);
        assert_eq!(f.clock, Clock::Device);
        assert_eq!(
            f.subcarriers.as_deref().map(|s| (s[0], s[63])),
            Some((0, -1))
        );
        let FormatMeta::Esp32(m) = &f.meta else {
            panic!()
        };
        assert_eq!(m.role.as_deref(), Some("PASSIVE"));
        assert_eq!(m.real_timestamp, Some(0.285197));
        assert_eq!(m.len, Some(128));
        assert_eq!(m.line, Some(1));
    }

    #[test]
    fn header_and_empty_lines_skipped() {
        let text = format!(
            "type,role,mac,rssi,rate,sig_mode,mcs,bandwidth,smoothing,not_sounding,aggregation,stbc,fec_coding,sgi,noise_floor,ampdu_cnt,channel,secondary_channel,local_timestamp,ant,sig_len,rx_state,real_time_set,real_timestamp,len,CSI_DATA\n\n{}\r\n",
            line_with(&[1, 2, 3, 4]).trim_end()
        );
        let out = read_all(&text);
        assert_eq!(out.len(), 1);
        let Ok(Record::Frame(f)) = &out[0] else {
            panic!()
        };
        let FormatMeta::Esp32(m) = &f.meta else {
            panic!()
        };
        assert_eq!(m.line, Some(3));
        // 2 pairs: subcarrier indices unknown
        assert_eq!(f.subcarriers, None);
    }

    #[test]
    fn odd_count_is_recoverable_and_reader_continues() {
        let text = format!("{}{}", line_with(&[1, 2, 3]), line_with(&[5, 6]));
        let out = read_all(&text);
        assert_eq!(out.len(), 2);
        assert_malformed(&out[0], 0, 1, "3 values", "odd count");
        let Ok(Record::Frame(f)) = &out[1] else {
            panic!()
        };
        assert_eq!(f.csi[[0, 0, 0]], Complex32::new(6.0, 5.0));
    }

    #[test]
    fn bad_inputs_are_malformed_with_offsets() {
        let good = line_with(&[1, 2]);
        let cases: Vec<(String, &str)> = vec![
            (line_with(&[1, 200]), "int8"),
            (line_with(&[]), "empty"),
            (good.replace("11:22:33:44:55:66", "11:22:33"), "MAC"),
            (good.replace(",-52,", ",x,"), "rssi"),
            (good.replace(",0.285197,", ",zz,"), "real_timestamp"),
            (good.replace("[1 2 ]", "[1 2"), "closing"),
            (good.replace("[1 2 ]", "1 2"), "bracketed"),
            (good.replace("[1 2 ]", "[1 2x ]"), "not an integer"),
            (good.replace("[1 2 ]", "[1 -- ]"), "not an integer"),
            (good.replace("[1 2 ]", "[1 2 ]x"), "without a comma"),
            (good.replace("[1 2 ]", "[1 2 ,17"), "before the next comma"),
            (good.replace("[1 2 ]", "[1 12345 ]"), "int8"),
            ("CSI_DATA,AP,11:22\n".to_string(), "columns"),
            ("hello world\n".to_string(), "CSI_DATA"),
            (good.replace(",8,0,7313,", ",-8,0,7313,"), "channel"),
        ];
        for (text, want) in cases {
            let input = format!("{good}{text}");
            let out = read_all(&input);
            assert_eq!(out.len(), 2, "{text}");
            assert_malformed(&out[1], good.len() as u64, 2, want, &text);
        }
    }

    #[test]
    fn trailing_columns_after_the_array_are_read() {
        // a logging script's host epoch time after the array: the frame's host timestamp
        let text = line_with(&[1, 2, 3, 4]).replace("]\n", "],1740694846.6452723\n");
        let out = read_all(&text);
        let Ok(Record::Frame(f)) = &out[0] else {
            panic!("{:?}", out[0])
        };
        assert_eq!(f.shape(), (1, 1, 2));
        assert_eq!(
            (f.timestamp_ns, f.clock),
            (1_740_694_846_645_272_300, Clock::Host)
        );
        let FormatMeta::Esp32(m) = &f.meta else {
            panic!()
        };
        assert_eq!(m.local_timestamp, Some(7313));
        assert_eq!(m.extra_columns.as_deref(), Some("1740694846.6452723"));
        assert_eq!(m.host_time_s, Some(1_740_694_846.645_272_3));

        // other trailing columns are kept, and the device clock stays
        for tail in [",foo,bar", ", 42", ",17.5", ","] {
            let text = line_with(&[1, 2]).replace("]\n", &format!("]{tail}\n"));
            let out = read_all(&text);
            let Ok(Record::Frame(f)) = &out[0] else {
                panic!("{tail}: {:?}", out[0])
            };
            assert_eq!(
                (f.timestamp_ns, f.clock),
                (7_313_000, Clock::Device),
                "{tail}"
            );
            let FormatMeta::Esp32(m) = &f.meta else {
                panic!()
            };
            assert_eq!(m.host_time_s, None);
            assert_eq!(m.extra_columns.as_deref(), Some(tail[1..].trim()));
        }
    }

    #[test]
    fn host_times() {
        assert_eq!(
            parse_host_time_ns(b"1740694846"),
            Some(1_740_694_846_000_000_000)
        );
        assert_eq!(
            parse_host_time_ns(b"1740694846.5"),
            Some(1_740_694_846_500_000_000)
        );
        for bad in [
            &b""[..],
            b".5",
            b"1740694846.",
            b"17.5",
            b"99999999999",
            b"-1740694846",
            b"1740694846.1234567891",
            b"1e9",
        ] {
            let want = if bad == b"1740694846." {
                Some(1_740_694_846_000_000_000)
            } else {
                None
            };
            assert_eq!(
                parse_host_time_ns(bad),
                want,
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn empty_input_gives_nothing() {
        assert!(read_all("").is_empty());
        assert!(read_all("\n\n\n").is_empty());
    }

    #[test]
    fn limits_are_enforced() {
        let mut opts = ReaderOptions::default();
        opts.limits.max_record_bytes = 64;
        let line = line_with(&[1; 64]);
        let mut r = Esp32CsvReader::new(Box::new(Cursor::new(line.into_bytes())), &opts);
        assert!(matches!(
            r.next_record(),
            Some(Err(Error::LimitExceeded { offset: 0, .. }))
        ));
        assert!(r.next_record().is_none());

        let mut opts = ReaderOptions::default();
        opts.limits.max_csi_values = 2;
        let mut r = Esp32CsvReader::new(
            Box::new(Cursor::new(line_with(&[1; 8]).into_bytes())),
            &opts,
        );
        match r.next_record() {
            Some(Err(Error::Malformed { reason, .. })) => {
                assert!(reason.contains("max_csi_values"))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn probe_scores() {
        assert_eq!(probe(line_with(&[1, 2]).as_bytes()), 95);
        assert_eq!(probe(b"type,role,mac,rssi\n"), 95);
        assert_eq!(probe(b"CSI_DATA,0,94:d9:b3:80:8c:81,-30,\"[1,2]\"\n"), 0);
        assert_eq!(probe(b"type,id,mac,rssi\n"), 0);
        assert_eq!(probe(b"{\"magic\": \"0xC5110001\"}\n"), 0);
        assert_eq!(probe(b"CSI_DATA,STA,11:22"), 70);
        assert_eq!(
            probe(
                b"I (123) boot: ESP-IDF\n"
                    .iter()
                    .chain(line_with(&[1, 2]).as_bytes())
                    .copied()
                    .collect::<Vec<_>>()
                    .as_slice()
            ),
            60
        );
        assert_eq!(probe(b"\x00\x01CSI_DATA,"), 0);
        assert_eq!(probe(b""), 0);
    }
}
