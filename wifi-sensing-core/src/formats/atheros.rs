//! Atheros CSI tool `.dat` files (QCA9300 family, `recv_csi` of Atheros-CSI-Tool-UserSpace-APP).
//!
//! # Record
//!
//! The file is a sequence of records (FORMATS.md §4.2). `field_len` and every multi-byte status
//! field are in the **byte order of the recording host**:
//!
//! | off | size | field |
//! |---|---|---|
//! | 0 | 2 | `field_len` = bytes that follow = 25 + `csi_len` + `payload_len` |
//! | 2 | 8 | `timestamp` (u64, hardware TSF, µs) |
//! | 10 | 2 | `csi_len` (0 = no CSI) |
//! | 12 | 2 | `tx_channel` (MHz) |
//! | 14 | 1 | `err_info` (PHY error code) |
//! | 15 | 1 | `noise_floor` |
//! | 16 | 1 | `Rate` |
//! | 17 | 1 | `bandWidth` (0 = 20 MHz, 1 = 40 MHz) |
//! | 18 | 1 | `num_tones` (56 or 114) |
//! | 19 | 1 | `nr` (receive antennas) |
//! | 20 | 1 | `nc` (transmit streams) |
//! | 21 | 1 | `rssi` (combined) |
//! | 22..25 | 3 | `rssi_1`, `rssi_2`, `rssi_3` (per chain) |
//! | 25 | 2 | `payload_len` |
//! | 27 | `csi_len` | CSI |
//! | 27 + `csi_len` | `payload_len` | the received 802.11 frame |
//!
//! The CSI is always a **little-endian bit stream of 10-bit two's-complement values**, LSB first,
//! whatever the header byte order: for each tone, for each tx stream, for each rx antenna
//! (**rx fastest**, D3: the reference `read_csi.c` order), imag then real. No offset is added to
//! the values (D2: unlike CSIKit). `csi_len` must hold at least `⌈num_tones·nr·nc·20/8⌉` bytes.
//!
//! # Byte order (D11)
//!
//! The format does not state its byte order. The rule used here:
//!
//! 1. [`AtherosOptions::endianness`], when set, fixes the order;
//! 2. otherwise the order is detected from the first bytes: each candidate — little-endian from
//!    byte 0, big-endian from byte 0, and, when the first byte is `0xFF` (csiread's big-endian
//!    marker), big- then little-endian from byte 1 — is scored by how many consecutive records
//!    in the first 8 KiB have a consistent status header (`field_len` = 25 + `csi_len` +
//!    `payload_len`, `bandWidth` ≤ 1, and for records with CSI `nr`, `nc` in 1..=3 and `csi_len`
//!    = ⌈`num_tones`·`nr`·`nc`·2.5⌉). The best score wins; ties go to the earlier candidate;
//! 3. a `0xFF` first byte is taken as a marker (and skipped) only when the records from byte 1
//!    are consistent and those from byte 0 are not — also when the order is forced.
//!
//! A non-empty input in which no candidate gives a consistent first record fails to open with
//! [`Error::InvalidHeader`].
//!
//! # Conventions
//!
//! * Records with `csi_len = 0` carry no CSI. By default they are skipped and counted
//!   ([`AtherosCounts::without_csi`]); with [`AtherosOptions::keep_records_without_csi`] they are
//!   delivered as frames with an empty CSI array of shape `[nr, nc, 0]`.
//! * CSI shape `[nr, nc, num_tones]`; subcarriers −28..−1, 1..28 for 56 tones and −58..−2,
//!   2..58 for 114 tones (other tone counts: `subcarriers = None`); `bandwidth_mhz` from
//!   `bandWidth`.
//! * `timestamp_ns` = `timestamp` × 1000 with [`Clock::Device`] (64-bit, no wrap).
//! * `center_freq_mhz` = `tx_channel` and `channel` derived from it. `tx_channel` is the channel
//!   frequency ath9k reports, that of the primary 20 MHz channel; the status does not say on
//!   which side a 40 MHz frame's secondary channel lies, so its true centre is not known and
//!   `tx_channel` is reported as it is.
//! * `chain_rssi` = `[rssi_1, rssi_2, rssi_3]` as stored (dB above the noise floor, unsigned
//!   bytes). `rssi_dbm` and `noise_floor_dbm` are `None`: the file gives no dBm calibration.
//!   Every raw status field is in [`AtherosMeta`] under the golden files' names.
//! * When the payload holds at least an 802.11 header (24 bytes), `mac` is its address 2
//!   (transmitter) and `sequence` its sequence number (`seq >> 4`). `node_id` numbers the
//!   transmitter MACs in order of first appearance (the rule of [`CsiFrame::node_id`]; records
//!   without a MAC share one id of their own).
//! * A record cut by the end of the input ends the stream with [`Error::Truncated`] after every
//!   complete record (csiread keeps every complete record; MATLAB drops the last two).
//!
//! # Example
//!
//! ```
//! use wifi_sensing_core::formats::atheros::{AtherosReader, Endianness};
//! use wifi_sensing_core::{CaptureReader, ReaderOptions};
//! let mut opts = ReaderOptions::default();
//! opts.atheros.endianness = Some(Endianness::Big);
//! let mut r = AtherosReader::new(Box::new(std::io::Cursor::new(Vec::new())), &opts).unwrap();
//! assert!(r.next_record().is_none());
//! ```

use std::io::{Cursor, Read};

use ndarray::{Array1, Array3};
use num_complex::Complex32;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::formats::adr018::freq_to_channel;
use crate::formats::records::{LengthPrefixed, RecordHandler};
use crate::frame::{CaptureFormat, Clock, CsiFrame, Device, FormatMeta};
use crate::reader::{
    CaptureReader, Confidence, FormatDescriptor, Input, Limits, ReaderOptions, SpareBuffers,
};
use crate::record::Record;
use crate::util::read_full;

/// Size of the status header that follows `field_len`.
pub const STATUS_LEN: usize = 25;
/// csiread's big-endian marker byte at the start of a file.
pub const BIG_ENDIAN_MARKER: u8 = 0xFF;
/// Bytes read at open time to detect the byte order.
pub const DETECT_LEN: usize = 8192;

/// Byte order of the status fields.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Endianness {
    /// Recorded on a little-endian host (x86 laptops).
    #[default]
    Little,
    /// Recorded on a big-endian host (e.g. MIPS routers running OpenWrt).
    Big,
}

impl Endianness {
    #[inline]
    fn u16(self, b: [u8; 2]) -> u16 {
        match self {
            Endianness::Little => u16::from_le_bytes(b),
            Endianness::Big => u16::from_be_bytes(b),
        }
    }

    #[inline]
    fn u64(self, b: [u8; 8]) -> u64 {
        match self {
            Endianness::Little => u64::from_le_bytes(b),
            Endianness::Big => u64::from_be_bytes(b),
        }
    }
}

/// Options of the Atheros reader.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AtherosOptions {
    /// Byte order of the status fields; `None` (default) detects it (see the module docs).
    pub endianness: Option<Endianness>,
    /// Deliver records with `csi_len = 0` as frames with an empty CSI array. Default `false`:
    /// they are skipped and counted.
    pub keep_records_without_csi: bool,
}

/// Status fields of one record, with the golden files' (csiread's) names and raw values.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AtherosMeta {
    /// Hardware timestamp (TSF, µs).
    pub timestamp: u64,
    /// Bytes of CSI.
    pub csi_len: u16,
    /// Channel frequency in MHz.
    pub tx_channel: u16,
    /// PHY error code (0 = OK).
    pub err_info: u8,
    /// Noise floor byte as stored.
    pub noise_floor: u8,
    /// Rate code (e.g. `0x8f`).
    #[serde(rename = "Rate")]
    pub rate: u8,
    /// Bandwidth code (0 = 20 MHz, 1 = 40 MHz).
    #[serde(rename = "bandWidth")]
    pub bandwidth: u8,
    /// Number of tones.
    pub num_tones: u8,
    /// Receive antennas.
    pub nr: u8,
    /// Transmit streams.
    pub nc: u8,
    /// Combined RSSI.
    pub rssi: u8,
    /// RSSI of chain 0.
    pub rssi_1: u8,
    /// RSSI of chain 1.
    pub rssi_2: u8,
    /// RSSI of chain 2.
    pub rssi_3: u8,
    /// Bytes of the received frame that follow the CSI.
    pub payload_len: u16,
    /// Byte order the record was read with.
    pub endianness: Endianness,
}

const fn tone_list<const N: usize>(half: i16, gap: i16) -> [i16; N] {
    let mut out = [0i16; N];
    let mut i = 0;
    let mut k = -half;
    while i < N {
        out[i] = k;
        i += 1;
        k += 1;
        if k == -gap + 1 {
            k = gap;
        }
    }
    out
}

/// Subcarrier indices of the 56 HT20 tones: −28..−1, 1..28.
pub const SUBCARRIERS_HT20: [i16; 56] = tone_list::<56>(28, 1);
/// Subcarrier indices of the 114 HT40 tones: −58..−2, 2..58.
pub const SUBCARRIERS_HT40: [i16; 114] = tone_list::<114>(58, 2);

/// [`SUBCARRIERS_HT20`] as a vector.
pub fn subcarriers_ht20() -> Vec<i16> {
    SUBCARRIERS_HT20.to_vec()
}

/// [`SUBCARRIERS_HT40`] as a vector.
pub fn subcarriers_ht40() -> Vec<i16> {
    SUBCARRIERS_HT40.to_vec()
}

/// CSI bytes needed for `tones · nr · nc` values of 20 bits.
pub const fn csi_bytes(tones: usize, nr: usize, nc: usize) -> usize {
    (tones * nr * nc * 20).div_ceil(8)
}

/// Parses the 25-byte status header (the bytes after `field_len`).
pub fn parse_status(s: &[u8], order: Endianness) -> Option<AtherosMeta> {
    let s = s.get(..STATUS_LEN)?;
    Some(AtherosMeta {
        timestamp: order.u64([s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]]),
        csi_len: order.u16([s[8], s[9]]),
        tx_channel: order.u16([s[10], s[11]]),
        err_info: s[12],
        noise_floor: s[13],
        rate: s[14],
        bandwidth: s[15],
        num_tones: s[16],
        nr: s[17],
        nc: s[18],
        rssi: s[19],
        rssi_1: s[20],
        rssi_2: s[21],
        rssi_3: s[22],
        payload_len: order.u16([s[23], s[24]]),
        endianness: order,
    })
}

/// Checks the record starting at `b[off]` (its `field_len`) in `order`; returns the record size
/// (2 + `field_len`) when its status header is consistent, `None` otherwise or when the header is
/// not fully inside `b`.
fn plausible_record(b: &[u8], off: usize, order: Endianness) -> Option<usize> {
    let fl = usize::from(order.u16([*b.get(off)?, *b.get(off + 1)?]));
    let m = parse_status(b.get(off + 2..)?, order)?;
    let (csi_len, pl) = (usize::from(m.csi_len), usize::from(m.payload_len));
    if fl != STATUS_LEN + csi_len + pl || m.bandwidth > 1 {
        return None;
    }
    if csi_len > 0 {
        let ok = (1..=3).contains(&m.nr)
            && (1..=3).contains(&m.nc)
            && m.num_tones > 0
            && csi_len == csi_bytes(m.num_tones.into(), m.nr.into(), m.nc.into());
        if !ok {
            return None;
        }
    }
    Some(2 + fl)
}

/// Number of consecutive consistent records from `start` (at most 8).
fn chain_len(b: &[u8], start: usize, order: Endianness) -> usize {
    let mut off = start;
    let mut n = 0;
    while n < 8 {
        match plausible_record(b, off, order) {
            Some(size) => {
                n += 1;
                off += size;
            }
            None => break,
        }
    }
    n
}

/// The byte order and start offset (0, or 1 after a `0xFF` marker) of a file, from its first
/// bytes, and the number of consistent records found. `forced` fixes the byte order (the marker
/// is still recognised). `None` when no candidate gives a consistent first record.
pub fn detect_layout(
    prefix: &[u8],
    forced: Option<Endianness>,
) -> Option<(Endianness, usize, usize)> {
    let marker = prefix.first() == Some(&BIG_ENDIAN_MARKER);
    let mut candidates: Vec<(Endianness, usize)> =
        vec![(Endianness::Little, 0), (Endianness::Big, 0)];
    if marker {
        candidates.push((Endianness::Big, 1));
        candidates.push((Endianness::Little, 1));
    }
    if let Some(o) = forced {
        candidates.retain(|&(e, _)| e == o);
    }
    let mut best: Option<(Endianness, usize, usize)> = None;
    for (e, start) in candidates {
        let n = chain_len(prefix, start, e);
        if n > 0 && best.is_none_or(|(_, _, bn)| n > bn) {
            best = Some((e, start, n));
        }
    }
    best
}

/// Unpacks the 10-bit CSI stream into `[nr][nc][tones]` (rx fastest in the stream, D3).
///
/// `csi` must hold at least [`csi_bytes`]`(tones, nr, nc)` bytes; missing bytes read as 0.
pub fn unpack_csi(csi: &[u8], tones: usize, nr: usize, nc: usize) -> Array3<Complex32> {
    let mut data = Vec::new();
    unpack_into(csi, tones, nr, nc, &mut Vec::new(), &mut data);
    Array1::from_vec(data)
        .into_shape_with_order((nr, nc, tones))
        .unwrap_or_else(|_| Array3::zeros((nr, nc, tones)))
}

/// Raw 20-bit values (imag in bits 0–9, real in bits 10–19) of one stream, by tone.
type RawRow = [u32; 256];

/// Appends the `tones · nr · nc` values of the stream to `data` in `[nr][nc][tones]` order.
/// `scratch` is a reusable work buffer.
fn unpack_into(
    csi: &[u8],
    tones: usize,
    nr: usize,
    nc: usize,
    scratch: &mut Vec<RawRow>,
    data: &mut Vec<Complex32>,
) {
    if tones <= 256 {
        match nr * nc {
            1 => return unpack_n::<1>(csi, tones, nr, nc, scratch, data),
            2 => return unpack_n::<2>(csi, tones, nr, nc, scratch, data),
            3 => return unpack_n::<3>(csi, tones, nr, nc, scratch, data),
            4 => return unpack_n::<4>(csi, tones, nr, nc, scratch, data),
            6 => return unpack_n::<6>(csi, tones, nr, nc, scratch, data),
            9 => return unpack_n::<9>(csi, tones, nr, nc, scratch, data),
            _ => {}
        }
    }
    unpack_generic(csi, tones, nr, nc, data);
}

/// Raw 20-bit value number `v` of the stream, bits past the end of `csi` read as 0.
#[inline]
fn raw_value(csi: &[u8], v: usize) -> u32 {
    let bit = 20 * v;
    let q = bit >> 3;
    let g = |i: usize| u32::from(csi.get(q + i).copied().unwrap_or(0));
    ((g(0) | (g(1) << 8) | (g(2) << 16)) >> (bit & 7)) & 0xF_FFFF
}

/// The complex value of a raw 20-bit field (two 10-bit two's-complement numbers).
#[inline(always)]
fn raw_to_complex(x: u32) -> Complex32 {
    let re = ((x << 12) as i32) >> 22;
    let im = ((x << 22) as i32) >> 22;
    Complex32::new(re as f32, im as f32)
}

/// Any stream count or tone count, one value at a time.
fn unpack_generic(csi: &[u8], tones: usize, nr: usize, nc: usize, data: &mut Vec<Complex32>) {
    let n = nr * nc;
    data.reserve_exact(n * tones);
    for r in 0..nr {
        for c in 0..nc {
            // stream value m = c · nr + r of each tone
            let m = c * nr + r;
            data.extend((0..tones).map(|k| raw_to_complex(raw_value(csi, k * n + m))));
        }
    }
}

/// `N = nr · nc` streams, `tones ≤ 256`. Two passes: the stream is split into one row of raw
/// 20-bit values per stream (two tones at a time: `2·N` values fill exactly `5·N` bytes, so
/// every position is a constant), then each row is sign-extended and converted in the output
/// order, a straight loop the compiler vectorises.
#[inline(always)]
fn unpack_n<const N: usize>(
    csi: &[u8],
    tones: usize,
    nr: usize,
    nc: usize,
    scratch: &mut Vec<RawRow>,
    data: &mut Vec<Complex32>,
) {
    if scratch.len() < N {
        scratch.resize(N, [0; 256]);
    }
    let rows = &mut scratch[..N];
    let pairs = (tones / 2).min(csi.len() / (5 * N));
    for (p, chunk) in csi.chunks_exact(5 * N).take(pairs).enumerate() {
        for j in 0..N {
            let b = &chunk[5 * j..5 * j + 5];
            let w = u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], 0, 0, 0]);
            // values 2j and 2j + 1 of the tone pair
            let (i0, i1) = (2 * j, 2 * j + 1);
            rows[i0 % N][(2 * p + i0 / N) & 255] = (w & 0xF_FFFF) as u32;
            rows[i1 % N][(2 * p + i1 / N) & 255] = ((w >> 20) & 0xF_FFFF) as u32;
        }
    }
    // an odd last tone, or tones past the end of a short `csi`
    for k in 2 * pairs..tones {
        for (m, row) in rows.iter_mut().enumerate() {
            row[k & 255] = raw_value(csi, k * N + m);
        }
    }
    data.reserve_exact(N * tones);
    for r in 0..nr {
        for c in 0..nc {
            if let Some(row) = rows.get(c * nr + r) {
                data.extend(row[..tones].iter().map(|&x| raw_to_complex(x)));
            }
        }
    }
}

fn malformed(offset: u64, reason: impl Into<String>) -> Error {
    Error::Malformed {
        format: CaptureFormat::Atheros,
        offset,
        line: None,
        reason: reason.into(),
    }
}

/// Decodes one record body (the `field_len` bytes after the length field).
///
/// Returns `Ok(None)` for a record without CSI (`csi_len = 0`) unless `keep_empty`.
/// `offset` is the record's byte offset (for errors); `max_values` bounds `tones·nr·nc`.
pub fn decode_record(
    body: &[u8],
    order: Endianness,
    offset: u64,
    keep_empty: bool,
    max_values: usize,
) -> Result<Option<CsiFrame>> {
    decode_record_with(
        body,
        order,
        offset,
        keep_empty,
        max_values,
        &mut Vec::new(),
        &mut SpareBuffers::default(),
    )
}

/// [`decode_record`] with a reusable unpacking buffer, the frame's buffers taken from `spare`.
#[inline(always)]
fn decode_record_with(
    body: &[u8],
    order: Endianness,
    offset: u64,
    keep_empty: bool,
    max_values: usize,
    scratch: &mut Vec<RawRow>,
    spare: &mut SpareBuffers,
) -> Result<Option<CsiFrame>> {
    let Some(m) = parse_status(body, order) else {
        return Err(malformed(
            offset,
            format!(
                "record of {} bytes is shorter than the {STATUS_LEN}-byte status",
                body.len()
            ),
        ));
    };
    let (csi_len, pl) = (usize::from(m.csi_len), usize::from(m.payload_len));
    if STATUS_LEN + csi_len + pl != body.len() {
        return Err(malformed(
            offset,
            format!(
                "field_len = {} but 25 + csi_len {csi_len} + payload_len {pl} = {}",
                body.len(),
                STATUS_LEN + csi_len + pl
            ),
        ));
    }
    let (tones, nr, nc) = (
        usize::from(m.num_tones),
        usize::from(m.nr),
        usize::from(m.nc),
    );
    let csi = if csi_len == 0 {
        if !keep_empty {
            return Ok(None);
        }
        Array3::zeros((nr, nc, 0))
    } else {
        if !(1..=3).contains(&nr) || !(1..=3).contains(&nc) || tones == 0 {
            return Err(malformed(
                offset,
                format!("record has nr = {nr}, nc = {nc}, num_tones = {tones} (nr, nc must be 1..=3, tones > 0)"),
            ));
        }
        if tones * nr * nc > max_values {
            return Err(Error::LimitExceeded {
                format: CaptureFormat::Atheros,
                offset,
                what: "num_tones * nr * nc",
                value: (tones * nr * nc) as u64,
                limit: max_values as u64,
            });
        }
        let need = csi_bytes(tones, nr, nc);
        if csi_len < need {
            return Err(malformed(
                offset,
                format!("csi_len = {csi_len} but {tones} tones x {nr} x {nc} need {need} bytes"),
            ));
        }
        let mut data = spare.values();
        unpack_into(
            &body[STATUS_LEN..STATUS_LEN + csi_len],
            tones,
            nr,
            nc,
            scratch,
            &mut data,
        );
        Array1::from_vec(data)
            .into_shape_with_order((nr, nc, tones))
            .unwrap_or_else(|_| Array3::zeros((nr, nc, tones)))
    };
    let (mac, sequence) = match body.get(STATUS_LEN + csi_len..) {
        Some(p) if pl >= 24 && p.len() >= 24 => (
            Some([p[10], p[11], p[12], p[13], p[14], p[15]]),
            Some(u32::from(u16::from_le_bytes([p[22], p[23]]) >> 4)),
        ),
        _ => (None, None),
    };
    // one struct literal, so that the frame is written in place
    Ok(Some(CsiFrame {
        timestamp_ns: i64::try_from(m.timestamp.saturating_mul(1000)).unwrap_or(i64::MAX),
        clock: Clock::Device,
        node_id: 0,
        mac,
        sequence,
        rssi_dbm: None,
        chain_rssi: spare.chain_rssi(&[
            f32::from(m.rssi_1),
            f32::from(m.rssi_2),
            f32::from(m.rssi_3),
        ]),
        noise_floor_dbm: None,
        channel: if m.tx_channel != 0 {
            freq_to_channel(u32::from(m.tx_channel))
        } else {
            None
        },
        center_freq_mhz: (m.tx_channel != 0).then_some(u32::from(m.tx_channel)),
        bandwidth_mhz: match m.bandwidth {
            0 => Some(20),
            1 => Some(40),
            _ => None,
        },
        format: CaptureFormat::Atheros,
        device: Device::Qca9300,
        subcarriers: match (csi_len, tones) {
            (0, _) => None,
            (_, 56) => Some(spare.subcarriers(&SUBCARRIERS_HT20)),
            (_, 114) => Some(spare.subcarriers(&SUBCARRIERS_HT40)),
            _ => None,
        },
        csi,
        meta: FormatMeta::Atheros(m),
    }))
}

/// Counts of the records an [`AtherosReader`] has gone through.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AtherosCounts {
    /// Complete records (with or without CSI, including malformed ones).
    pub records: u64,
    /// Records with `csi_len = 0`.
    pub without_csi: u64,
    /// Records reported as [`Error::Malformed`].
    pub malformed: u64,
    /// Bytes of a partial record at the end of the input (0 when none).
    pub trailing_partial_bytes: u64,
}

/// Decoding state of a reader (everything but the record framing).
#[derive(Debug)]
struct State {
    order: Endianness,
    keep_empty: bool,
    limits: Limits,
    counts: AtherosCounts,
    /// Reused unpacking buffer (one row per CSI stream).
    scratch: Vec<RawRow>,
    /// Buffers of recycled frames.
    spare: SpareBuffers,
    /// Node ids of the transmitter MACs.
    nodes: crate::nodes::MacNodeTable,
}

impl RecordHandler for State {
    const FORMAT: CaptureFormat = CaptureFormat::Atheros;
    const NAME: &'static str = "Atheros";

    #[inline]
    fn field_len(&self, len: [u8; 2]) -> usize {
        usize::from(self.order.u16(len))
    }

    fn truncated(&mut self, available: u64) {
        self.counts.trailing_partial_bytes = available;
    }

    /// Handles one complete record body; `None` = a skipped record without CSI.
    fn handle(&mut self, body: &[u8], start: u64) -> Option<Result<Record>> {
        self.counts.records += 1;
        match decode_record_with(
            body,
            self.order,
            start,
            self.keep_empty,
            self.limits.max_csi_values,
            &mut self.scratch,
            &mut self.spare,
        ) {
            Ok(Some(mut f)) => {
                if f.csi.is_empty() {
                    self.counts.without_csi += 1;
                }
                f.node_id = self.nodes.id(f.mac);
                Some(Ok(Record::Frame(f)))
            }
            Ok(None) => {
                self.counts.without_csi += 1;
                None
            }
            Err(e) => {
                if e.is_recoverable() {
                    self.counts.malformed += 1;
                }
                Some(Err(e))
            }
        }
    }
}

/// Streaming reader of Atheros CSI tool `.dat` files.
///
/// Records that lie whole in the input's buffer are decoded in place; others are copied into
/// one reused buffer. Memory use does not grow with the file.
pub struct AtherosReader {
    records: LengthPrefixed,
    st: State,
}

impl std::fmt::Debug for AtherosReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AtherosReader")
            .field("pos", &self.records.position())
            .field("order", &self.st.order)
            .field("counts", &self.st.counts)
            .finish()
    }
}

impl AtherosReader {
    /// A reader over `input`. Reads up to [`DETECT_LEN`] bytes to settle the byte order (see
    /// the module docs); fails with [`Error::InvalidHeader`] when a non-empty input has no
    /// consistent first record.
    pub fn new(mut input: Input, options: &ReaderOptions) -> Result<Self> {
        let mut head = vec![0u8; DETECT_LEN];
        let n = read_full(&mut input, &mut head)
            .map_err(|e| Error::io("reading the Atheros file start", e))?;
        head.truncate(n);
        let forced = options.atheros.endianness;
        let (order, start) = match detect_layout(&head, forced) {
            Some((e, s, _)) => (e, s),
            None if n < 2 + STATUS_LEN => (forced.unwrap_or(Endianness::Little), 0),
            None => {
                return Err(Error::InvalidHeader {
                    format: CaptureFormat::Atheros,
                    offset: 0,
                    reason: format!(
                        "no consistent Atheros status header at the start in {} byte order",
                        match forced {
                            Some(Endianness::Little) => "little-endian",
                            Some(Endianness::Big) => "big-endian",
                            None => "either",
                        }
                    ),
                })
            }
        };
        let tail = head.split_off(start);
        let input: Input = Box::new(Cursor::new(tail).chain(input));
        Ok(AtherosReader {
            records: LengthPrefixed::new(
                input,
                start as u64,
                2048,
                options.limits.max_record_bytes,
            ),
            st: State {
                order,
                keep_empty: options.atheros.keep_records_without_csi,
                limits: options.limits.clone(),
                counts: AtherosCounts::default(),
                scratch: Vec::new(),
                spare: SpareBuffers::default(),
                nodes: crate::nodes::MacNodeTable::default(),
            },
        })
    }

    /// The byte order in use.
    pub fn endianness(&self) -> Endianness {
        self.st.order
    }

    /// Record counts so far.
    pub fn counts(&self) -> &AtherosCounts {
        &self.st.counts
    }
}

impl CaptureReader for AtherosReader {
    fn format(&self) -> CaptureFormat {
        CaptureFormat::Atheros
    }

    fn next_record(&mut self) -> Option<Result<Record>> {
        self.records.next(&mut self.st)
    }

    fn position(&self) -> u64 {
        self.records.position()
    }

    /// Records with `csi_len = 0`, unless they are delivered as empty frames
    /// ([`AtherosOptions::keep_records_without_csi`]).
    fn passed_over(&self) -> u64 {
        if self.st.keep_empty {
            0
        } else {
            self.st.counts.without_csi
        }
    }

    /// Keeps the frame's CSI, subcarrier and chain RSSI buffers for the next frame.
    fn recycle(&mut self, frame: CsiFrame) {
        self.st.spare.keep(frame);
    }
}

/// Byte probe: a consistent status header at the start, in either byte order, with or without
/// the `0xFF` marker; more consecutive consistent records give a higher score.
fn probe(b: &[u8]) -> Confidence {
    match detect_layout(b, None) {
        None => 0,
        Some((_, _, 1)) => 50,
        Some((_, _, 2)) => 75,
        Some(_) => 90,
    }
}

fn open(input: Input, options: &ReaderOptions) -> Result<Box<dyn CaptureReader>> {
    Ok(Box::new(AtherosReader::new(input, options)?))
}

/// Registry entry of the Atheros format.
pub fn descriptor() -> FormatDescriptor {
    FormatDescriptor {
        format: CaptureFormat::Atheros,
        description: "Atheros CSI tool .dat (QCA9300, either byte order)",
        extensions: &["dat"],
        probe,
        open,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Independent encoder: packs values bit by bit.
    fn pack(vals: &[(i16, i16)], tones: usize, nr: usize, nc: usize) -> Vec<u8> {
        let mut out = vec![0u8; csi_bytes(tones, nr, nc)];
        let mut bit = 0;
        let mut put = |v: i16, bit: &mut usize| {
            for i in 0..10 {
                if (v >> i) & 1 == 1 {
                    out[*bit / 8] |= 1 << (*bit % 8);
                }
                *bit += 1;
            }
        };
        for k in 0..tones {
            for c in 0..nc {
                for r in 0..nr {
                    let (re, im) = vals[(r * nc + c) * tones + k];
                    put(im, &mut bit);
                    put(re, &mut bit);
                }
            }
        }
        out
    }

    fn record(order: Endianness, tones: u8, nr: u8, nc: u8, csi: &[u8], payload: &[u8]) -> Vec<u8> {
        let w16 = |v: u16| match order {
            Endianness::Little => v.to_le_bytes(),
            Endianness::Big => v.to_be_bytes(),
        };
        let ts: u64 = 123_456_789;
        let mut b = Vec::new();
        b.extend_from_slice(&w16((25 + csi.len() + payload.len()) as u16));
        b.extend_from_slice(&match order {
            Endianness::Little => ts.to_le_bytes(),
            Endianness::Big => ts.to_be_bytes(),
        });
        b.extend_from_slice(&w16(csi.len() as u16));
        b.extend_from_slice(&w16(2437));
        b.extend_from_slice(&[
            0,
            0,
            0x8f,
            u8::from(tones == 114),
            tones,
            nr,
            nc,
            50,
            40,
            41,
            42,
        ]);
        b.extend_from_slice(&w16(payload.len() as u16));
        b.extend_from_slice(csi);
        b.extend_from_slice(payload);
        b
    }

    fn vals(n: usize) -> Vec<(i16, i16)> {
        (0..n)
            .map(|i| ((i as i16 * 37) % 1024 - 512, 511 - (i as i16 * 13) % 1024))
            .collect()
    }

    fn read_all(bytes: Vec<u8>, opts: &ReaderOptions) -> (Vec<CsiFrame>, Option<Error>) {
        let mut r = AtherosReader::new(Box::new(Cursor::new(bytes)), opts).unwrap();
        let mut frames = Vec::new();
        while let Some(x) = r.next_record() {
            match x {
                Ok(Record::Frame(f)) => frames.push(f),
                Ok(_) => {}
                Err(e) => return (frames, Some(e)),
            }
        }
        (frames, None)
    }

    #[test]
    fn round_trip_both_orders_and_marker() {
        let v = vals(56 * 3 * 2);
        let csi = pack(&v, 56, 3, 2);
        let mut payload = vec![0u8; 40];
        payload[10..16].copy_from_slice(&[1, 2, 3, 4, 5, 6]);
        payload[22..24].copy_from_slice(&0x09f0u16.to_le_bytes());
        for order in [Endianness::Little, Endianness::Big] {
            for marker in [false, true] {
                let mut bytes = Vec::new();
                if marker {
                    bytes.push(0xFF);
                }
                for _ in 0..3 {
                    bytes.extend(record(order, 56, 3, 2, &csi, &payload));
                }
                let (frames, err) = read_all(bytes, &ReaderOptions::default());
                assert!(err.is_none(), "{err:?}");
                assert_eq!(frames.len(), 3);
                let f = &frames[0];
                assert_eq!(f.shape(), (3, 2, 56));
                for (i, c) in f.csi.iter().enumerate() {
                    assert_eq!(
                        *c,
                        Complex32::new(v[i].0.into(), v[i].1.into()),
                        "{order:?} {marker} {i}"
                    );
                }
                let FormatMeta::Atheros(m) = &f.meta else {
                    panic!()
                };
                assert_eq!(
                    (m.timestamp, m.tx_channel, m.endianness),
                    (123_456_789, 2437, order)
                );
                assert_eq!(f.channel, Some(6));
                assert_eq!(f.mac, Some([1, 2, 3, 4, 5, 6]));
                assert_eq!(f.sequence, Some(0x9f));
                assert_eq!(f.subcarriers.as_ref().unwrap().len(), 56);
            }
        }
    }

    #[test]
    fn forced_order_is_used() {
        let csi = pack(&vals(56), 56, 1, 1);
        let bytes = record(Endianness::Big, 56, 1, 1, &csi, &[]);
        let mut o = ReaderOptions::default();
        o.atheros.endianness = Some(Endianness::Little);
        let e = AtherosReader::new(Box::new(Cursor::new(bytes.clone())), &o).unwrap_err();
        assert!(matches!(e, Error::InvalidHeader { offset: 0, .. }));
        o.atheros.endianness = Some(Endianness::Big);
        assert_eq!(read_all(bytes, &o).0.len(), 1);
    }

    #[test]
    fn records_without_csi() {
        let csi = pack(&vals(114 * 2), 114, 2, 1);
        let mut bytes = record(Endianness::Little, 114, 2, 1, &csi, &[9; 30]);
        bytes.extend(record(Endianness::Little, 56, 2, 1, &[], &[9; 30]));
        bytes.extend(record(Endianness::Little, 114, 2, 1, &csi, &[9; 30]));
        let mut r = AtherosReader::new(
            Box::new(Cursor::new(bytes.clone())),
            &ReaderOptions::default(),
        )
        .unwrap();
        let mut n = 0;
        while let Some(x) = r.next_record() {
            let f = x.unwrap().into_frame().unwrap();
            assert_eq!(f.shape(), (2, 1, 114));
            assert_eq!(f.bandwidth_mhz, Some(40));
            assert_eq!(f.subcarriers, Some(subcarriers_ht40()));
            n += 1;
        }
        assert_eq!(n, 2);
        assert_eq!(r.counts().without_csi, 1);
        assert_eq!(r.passed_over(), 1);
        let mut o = ReaderOptions::default();
        o.atheros.keep_records_without_csi = true;
        let (frames, _) = read_all(bytes.clone(), &o);
        assert_eq!(frames.len(), 3);
        assert_eq!(frames[1].shape(), (2, 1, 0));
        let mut r = AtherosReader::new(Box::new(Cursor::new(bytes)), &o).unwrap();
        while r.next_record().is_some() {}
        assert_eq!((r.counts().without_csi, r.passed_over()), (1, 0));
    }

    #[test]
    fn malformed_and_truncated() {
        let csi = pack(&vals(56), 56, 1, 1);
        let good = record(Endianness::Little, 56, 1, 1, &csi, &[]);
        let mut bad = record(Endianness::Little, 56, 1, 1, &csi, &[]);
        bad[2 + 17] = 5; // nr = 5
        let mut bytes = good.clone();
        bytes.extend(&bad);
        bytes.extend(&good);
        bytes.extend(&good[..30]);
        let mut r =
            AtherosReader::new(Box::new(Cursor::new(bytes)), &ReaderOptions::default()).unwrap();
        assert!(matches!(r.next_record(), Some(Ok(_))));
        let e = r.next_record().unwrap().unwrap_err();
        assert!(
            e.is_recoverable() && e.offset() == Some(good.len() as u64),
            "{e}"
        );
        assert!(matches!(r.next_record(), Some(Ok(_))));
        match r.next_record() {
            Some(Err(Error::Truncated {
                offset, available, ..
            })) => {
                assert_eq!(offset, 3 * good.len() as u64);
                assert_eq!(available, 30);
            }
            x => panic!("{x:?}"),
        }
        assert!(r.next_record().is_none());
    }

    #[test]
    fn unpack_handles_more_than_nine_streams() {
        let v = vals(5 * 4 * 3);
        let csi = unpack_csi(&pack(&v, 5, 4, 3), 5, 4, 3);
        for (i, c) in csi.iter().enumerate() {
            assert_eq!(*c, Complex32::new(v[i].0.into(), v[i].1.into()), "{i}");
        }
    }

    #[test]
    fn tone_tables() {
        assert_eq!(subcarriers_ht20().len(), 56);
        assert_eq!(subcarriers_ht40().len(), 114);
        assert_eq!(subcarriers_ht40()[56..58], [-2, 2]);
    }

    #[test]
    fn probe_scores() {
        let csi = pack(&vals(56), 56, 1, 1);
        let one = record(Endianness::Little, 56, 1, 1, &csi, &[1, 2, 3]);
        let mut three = one.clone();
        three.extend(&one);
        three.extend(&one);
        assert_eq!(probe(&one), 50);
        assert_eq!(probe(&three), 90);
        assert_eq!(probe(&one[..20]), 0);
        assert_eq!(probe(b""), 0);
        assert_eq!(
            probe(b"#!/usr/bin/env python3\nimport numpy as np\nprint(1)\n"),
            0
        );
    }

    /// Pseudo-random 10-bit pairs covering the whole range.
    fn noise(n: usize, seed: u32) -> Vec<(i16, i16)> {
        let mut x = seed;
        let mut next = || {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            ((x >> 16) as i16 & 0x3FF) - 512
        };
        (0..n).map(|_| (next(), next())).collect()
    }

    #[test]
    fn unpacking_matches_the_encoder_for_every_shape() {
        for nr in 1..=3 {
            for nc in 1..=3 {
                for tones in [1, 2, 3, 7, 55, 56, 114, 255] {
                    let v = noise(tones * nr * nc, (tones * 10 + nr * 3 + nc) as u32);
                    let csi = unpack_csi(&pack(&v, tones, nr, nc), tones, nr, nc);
                    assert_eq!(csi.dim(), (nr, nc, tones));
                    for (i, c) in csi.iter().enumerate() {
                        let want = Complex32::new(v[i].0.into(), v[i].1.into());
                        assert_eq!(*c, want, "{nr}x{nc}x{tones} value {i}");
                    }
                }
            }
        }
    }

    #[test]
    fn short_csi_reads_as_zero_and_scratch_is_reusable() {
        let mut scratch = Vec::new();
        for (nr, nc, tones) in [(3, 3, 56), (2, 1, 114), (3, 2, 57), (1, 1, 9)] {
            let v = noise(tones * nr * nc, 7);
            let full = pack(&v, tones, nr, nc);
            for cut in [0, 1, 4, 5, full.len() / 2, full.len() - 1, full.len()] {
                let (mut fast, mut slow) = (Vec::new(), Vec::new());
                unpack_into(&full[..cut], tones, nr, nc, &mut scratch, &mut fast);
                unpack_generic(&full[..cut], tones, nr, nc, &mut slow);
                assert_eq!(fast, slow, "{nr}x{nc}x{tones} cut at {cut}");
            }
        }
    }
}
