//! Writing simulated (or any integer-valued ESP32-shaped) frames in the ESP32 wire formats.
//!
//! * [`to_adr018`] builds the RuView ADR-018 raw CSI datagram (FORMATS.md 1.4) that
//!   [`adr018::encode_csi`](crate::formats::adr018::encode_csi) serialises; wrapped in UDP to
//!   port 5005 and written to a pcap, it looks as if captured from the firmware.
//! * [`esp32_csv_line`] prints an ESP32-CSI-Tool line (FORMATS.md 1.2): 25 comma-separated
//!   fields, then `[v0 v1 ... vN ]` with single spaces and a trailing space before `]`.
//!   [`ESP32_CSV_HEADER`] is the tool's start-up header line; [`Esp32CsvWriter`] writes both.
//!
//! Both take the CSI values as `[imag, real]` int8 pairs (D1, the Espressif order): value `k`
//! gives the bytes `Im(H_k), Re(H_k)`. A value that is not an integer in −128..=127 is an
//! error, never silently rounded or clamped, so what a reader gets back is bit-identical.

use std::io::Write;

use crate::error::{Error, Result};
use crate::formats::adr018::CsiDatagram;
use crate::formats::esp32::Esp32Meta;
use crate::frame::{CsiFrame, FormatMeta};

/// The header line ESP32-CSI-Tool prints once at start-up (the last column is named
/// `CSI_DATA`).
pub const ESP32_CSV_HEADER: &str = "type,role,mac,rssi,rate,sig_mode,mcs,bandwidth,smoothing,not_sounding,aggregation,stbc,fec_coding,sgi,noise_floor,ampdu_cnt,channel,secondary_channel,local_timestamp,ant,sig_len,rx_state,real_time_set,real_timestamp,len,CSI_DATA";

fn as_i8(v: f32, what: &str, k: usize) -> Result<i8> {
    if v.is_finite() && v.fract() == 0.0 && (-128.0..=127.0).contains(&v) {
        Ok(v as i8)
    } else {
        Err(Error::Config(format!(
            "cannot export value {k} ({what} = {v}) as int8: not an integer in -128..=127"
        )))
    }
}

/// `[imag, real]` int8 pairs of every CSI value in `[rx][tx][sc]` order.
fn iq_pairs(frame: &CsiFrame) -> Result<Vec<[i8; 2]>> {
    frame
        .csi
        .iter()
        .enumerate()
        .map(|(k, c)| Ok([as_i8(c.im, "imag", k)?, as_i8(c.re, "real", k)?]))
        .collect()
}

fn to_i8_dbm(v: Option<f32>, default: i8) -> i8 {
    match v {
        Some(x) if x.is_finite() => x.round().clamp(-128.0, 127.0) as i8,
        _ => default,
    }
}

/// The ADR-018 raw CSI datagram of a frame.
///
/// The frame must have one transmit antenna (ADR-018 carries `n_antennas` receive chains of
/// one stream each) and int8-valued CSI. Sequence, channel, RSSI and noise floor come from the
/// frame (0 / -95 dBm when missing). Pass the result to
/// [`adr018::encode_csi`](crate::formats::adr018::encode_csi) for the bytes.
///
/// ```
/// use wifi_sensing_core::sim::{export, Simulator, Scenario, DeviceProfile};
/// use wifi_sensing_core::formats::adr018;
/// let (frame, _) = Simulator::new(Scenario::preset("empty", 1.0)?, DeviceProfile::esp32(), 1)?
///     .next()
///     .unwrap();
/// let bytes = adr018::encode_csi(&export::to_adr018(&frame, 3)?)?;
/// assert_eq!(bytes.len(), 20 + 2 * 64);
/// # Ok::<(), wifi_sensing_core::Error>(())
/// ```
pub fn to_adr018(frame: &CsiFrame, node_id: u8) -> Result<CsiDatagram> {
    let (rx, tx, _) = frame.shape();
    if tx != 1 || rx == 0 || rx > usize::from(u8::MAX) {
        return Err(Error::Config(format!(
            "ADR-018 carries 1..=255 receive chains of one stream; the frame is {rx} rx x {tx} tx"
        )));
    }
    Ok(CsiDatagram {
        node_id,
        sequence: frame.sequence.unwrap_or(0),
        channel: frame.channel.unwrap_or(0),
        rssi: to_i8_dbm(frame.rssi_dbm, 0),
        noise_floor: to_i8_dbm(frame.noise_floor_dbm, -95),
        n_antennas: rx as u8,
        iq: iq_pairs(frame)?,
    })
}

fn mac_upper(m: &[u8; 6]) -> String {
    format!(
        "{:02X}:{:02X}:{:02X}:{:02X}:{:02X}:{:02X}",
        m[0], m[1], m[2], m[3], m[4], m[5]
    )
}

/// One ESP32-CSI-Tool CSV line (without the newline) for a `1 × 1 × n` int8-valued frame.
///
/// Fields come from `meta` where set, else from the frame, else fixed defaults:
/// `role` (`PASSIVE`), `mac` (frame MAC, upper-case; `00:00:00:00:00:00`), `rssi` (frame,
/// rounded; 0), `rate`, `sig_mode`, `mcs`, `bandwidth`, `smoothing`, `not_sounding`,
/// `aggregation`, `stbc`, `fec_coding`, `sgi`, `ampdu_cnt`, `secondary_channel`, `ant`,
/// `sig_len`, `rx_state`, `real_time_set` (0), `noise_floor` (frame; -95), `channel` (frame; 0),
/// `local_timestamp` (µs of `timestamp_ns` modulo 2³²), `real_timestamp` (seconds of
/// `timestamp_ns`, 6 decimals), `len` (2 × the number of values).
///
/// ```
/// use wifi_sensing_core::sim::export::esp32_csv_line;
/// use wifi_sensing_core::{CsiFrame, CaptureFormat, Device};
/// use wifi_sensing_core::formats::esp32::Esp32Meta;
/// use num_complex::Complex32;
/// let mut f = CsiFrame::new(CaptureFormat::Simulated, Device::Esp32,
///     ndarray::Array3::from_shape_vec((1, 1, 2), vec![Complex32::new(3.0, -4.0), Complex32::new(0.0, 1.0)]).unwrap());
/// f.rssi_dbm = Some(-50.0);
/// f.channel = Some(6);
/// let line = esp32_csv_line(&f, &Esp32Meta::default())?;
/// assert!(line.starts_with("CSI_DATA,PASSIVE,00:00:00:00:00:00,-50,"));
/// assert!(line.ends_with(",4,[-4 3 1 0 ]"));
/// # Ok::<(), wifi_sensing_core::Error>(())
/// ```
pub fn esp32_csv_line(frame: &CsiFrame, meta: &Esp32Meta) -> Result<String> {
    let (rx, tx, n) = frame.shape();
    if rx != 1 || tx != 1 {
        return Err(Error::Config(format!(
            "an ESP32-CSI-Tool line holds one antenna; the frame is {rx} rx x {tx} tx"
        )));
    }
    let pairs = iq_pairs(frame)?;
    let i = |v: Option<i32>| v.unwrap_or(0);
    let us = frame.timestamp_ns.div_euclid(1000);
    let mac = frame
        .mac
        .map(|m| mac_upper(&m))
        .unwrap_or_else(|| "00:00:00:00:00:00".to_string());
    let mut s = String::with_capacity(160 + 5 * pairs.len() * 2);
    use std::fmt::Write as _;
    // Writing to a String cannot fail.
    let _ = write!(
        s,
        "CSI_DATA,{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{:.6},{},[",
        meta.role.as_deref().unwrap_or("PASSIVE"),
        mac,
        to_i8_dbm(frame.rssi_dbm, 0),
        i(meta.rate),
        i(meta.sig_mode),
        i(meta.mcs),
        i(meta.bandwidth),
        i(meta.smoothing),
        i(meta.not_sounding),
        i(meta.aggregation),
        i(meta.stbc),
        i(meta.fec_coding),
        i(meta.sgi),
        to_i8_dbm(frame.noise_floor_dbm, -95),
        i(meta.ampdu_cnt),
        frame.channel.unwrap_or(0),
        i(meta.secondary_channel),
        meta.local_timestamp.unwrap_or(us.rem_euclid(1 << 32)),
        i(meta.ant),
        i(meta.sig_len),
        i(meta.rx_state),
        i(meta.real_time_set),
        meta.real_timestamp.unwrap_or(us as f64 / 1e6),
        meta.len.map(i64::from).unwrap_or(2 * n as i64),
    );
    for p in &pairs {
        let _ = write!(s, "{} {} ", p[0], p[1]);
    }
    s.push(']');
    Ok(s)
}

/// [`esp32_csv_line`] with the frame's own [`Esp32Meta`] (or defaults when it has none).
pub fn esp32_csv_line_of(frame: &CsiFrame) -> Result<String> {
    match &frame.meta {
        FormatMeta::Esp32(m) => esp32_csv_line(frame, m),
        _ => esp32_csv_line(frame, &Esp32Meta::default()),
    }
}

/// Writes ESP32-CSI-Tool CSV: optionally the header line, then one line per frame, each ended
/// by `\n`.
#[derive(Debug)]
pub struct Esp32CsvWriter<W: Write> {
    out: W,
    written: u64,
}

impl<W: Write> Esp32CsvWriter<W> {
    /// A writer; with `header` the [`ESP32_CSV_HEADER`] line is written first.
    pub fn new(mut out: W, header: bool) -> Result<Self> {
        if header {
            writeln!(out, "{ESP32_CSV_HEADER}")
                .map_err(|e| Error::io("cannot write ESP32 CSV", e))?;
        }
        Ok(Esp32CsvWriter { out, written: 0 })
    }

    /// Writes one frame (see [`esp32_csv_line_of`]).
    pub fn write(&mut self, frame: &CsiFrame) -> Result<()> {
        let line = esp32_csv_line_of(frame)?;
        self.out
            .write_all(line.as_bytes())
            .and_then(|_| self.out.write_all(b"\n"))
            .map_err(|e| Error::io("cannot write ESP32 CSV", e))?;
        self.written += 1;
        Ok(())
    }

    /// Frames written.
    pub fn frames_written(&self) -> u64 {
        self.written
    }

    /// Flushes the underlying writer.
    pub fn flush(&mut self) -> Result<()> {
        self.out
            .flush()
            .map_err(|e| Error::io("cannot flush ESP32 CSV", e))
    }

    /// Returns the underlying writer.
    pub fn into_inner(self) -> W {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::adr018::{decode_datagram, encode_csi};
    use crate::frame::{CaptureFormat, Clock, Device};
    use crate::record::Record;
    use ndarray::Array3;
    use num_complex::Complex32;

    fn frame(values: Vec<Complex32>) -> CsiFrame {
        let n = values.len();
        let mut f = CsiFrame::new(
            CaptureFormat::Simulated,
            Device::Esp32,
            Array3::from_shape_vec((1, 1, n), values).unwrap(),
        );
        f.sequence = Some(77);
        f.channel = Some(11);
        f.rssi_dbm = Some(-61.0);
        f.noise_floor_dbm = Some(-96.0);
        f.mac = Some([0xAB, 0xCD, 0xEF, 0x01, 0x02, 0x03]);
        f.timestamp_ns = 2_695_925_123;
        f
    }

    #[test]
    fn adr018_round_trip_extremes() {
        let vals: Vec<Complex32> = (0..64)
            .map(|k| Complex32::new((k * 4 - 128) as f32, (127 - k * 4) as f32))
            .collect();
        let f = frame(vals);
        let bytes = encode_csi(&to_adr018(&f, 9).unwrap()).unwrap();
        let Record::Frame(g) = decode_datagram(&bytes, 0, 0, Clock::Host).unwrap() else {
            panic!("not a frame")
        };
        assert_eq!(g.csi, f.csi);
        assert_eq!((g.node_id, g.sequence, g.channel), (9, Some(77), Some(11)));
        assert_eq!((g.rssi_dbm, g.noise_floor_dbm), (Some(-61.0), Some(-96.0)));
    }

    #[test]
    fn non_integer_values_are_refused() {
        let f = frame(vec![Complex32::new(1.5, 0.0)]);
        assert!(to_adr018(&f, 0).unwrap_err().to_string().contains("int8"));
        let f = frame(vec![Complex32::new(0.0, 128.0)]);
        assert!(esp32_csv_line(&f, &Esp32Meta::default()).is_err());
        let f = frame(vec![Complex32::new(f32::NAN, 0.0)]);
        assert!(esp32_csv_line(&f, &Esp32Meta::default()).is_err());
        let mut f = CsiFrame::new(
            CaptureFormat::Simulated,
            Device::Iwl5300,
            Array3::zeros((3, 2, 30)),
        );
        f.channel = Some(6);
        assert!(to_adr018(&f, 0).is_err());
        assert!(esp32_csv_line(&f, &Esp32Meta::default()).is_err());
    }

    #[test]
    fn csv_layout() {
        let f = frame(vec![Complex32::new(-20.0, 18.0), Complex32::new(0.0, -1.0)]);
        let meta = Esp32Meta {
            rate: Some(11),
            sig_mode: Some(1),
            mcs: Some(4),
            smoothing: Some(1),
            not_sounding: Some(1),
            aggregation: Some(1),
            stbc: Some(1),
            ampdu_cnt: Some(2),
            local_timestamp: Some(2_504_852),
            sig_len: Some(1554),
            ..Esp32Meta::default()
        };
        let line = esp32_csv_line(&f, &meta).unwrap();
        assert_eq!(
            line,
            "CSI_DATA,PASSIVE,AB:CD:EF:01:02:03,-61,11,1,4,0,1,1,1,1,0,0,-96,2,11,0,2504852,0,1554,0,0,2.695925,4,[18 -20 -1 0 ]"
        );
        let fields: Vec<&str> = line.splitn(26, ',').collect();
        assert_eq!(fields.len(), 26);
        assert_eq!(ESP32_CSV_HEADER.split(',').count(), 26);
        let mut w = Esp32CsvWriter::new(Vec::new(), true).unwrap();
        w.write(&f).unwrap();
        let text = String::from_utf8(w.into_inner()).unwrap();
        let lines: Vec<&str> = text.split('\n').collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0], ESP32_CSV_HEADER);
        assert!(lines[1].ends_with(" ]"));
        assert_eq!(lines[2], "");
    }
}
