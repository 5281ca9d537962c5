//! Intel WiFi Link 5300 `.dat` files written by the linux-80211n-csitool `log_to_file` tool.
//!
//! # Record stream
//!
//! The file is a plain sequence of records (FORMATS.md §3.1):
//!
//! ```text
//! u16 BE field_len | u8 code | field_len - 1 bytes of body
//! ```
//!
//! * code `0xBB` — beamforming feedback ("bfee"), carries the CSI and becomes one [`CsiFrame`];
//! * code `0xC1` — the 802.11 MAC header of the logged frame, written by a modified driver used
//!   for injection experiments. It is decoded into a [`MacHeader`] and attached to the **next**
//!   record when that record is a bfee (as [`Intel5300Meta::c1`], and its transmitter address as
//!   [`CsiFrame::mac`]); it is never delivered on its own. The reader counts it in
//!   [`RecordCounts::mac_header`];
//! * any other code is skipped by its length and counted in [`RecordCounts::other`] (which is
//!   [`CaptureReader::passed_over`]);
//! * a record with `field_len` = 0 has no code byte: it is a recoverable [`Error::Malformed`]
//!   at the record's offset, counted in [`RecordCounts::malformed`] only, and reading goes on
//!   two bytes later (so `n` zero bytes give `n / 2` such errors and nothing passed over).
//!
//! An empty input gives no frame and no error. A record cut by the end of the input (FORMATS.md
//! §8, eleven of the kit's activity recordings) ends the stream with [`Error::Truncated`] after
//! every complete frame was delivered (D10: the partial record is dropped, as MATLAB and csiread
//! do); its `offset` is the record's first byte and `available` the bytes left from there.
//!
//! # bfee body (multi-byte fields little-endian)
//!
//! | off | size | field |
//! |---|---|---|
//! | 0 | 4 | `timestamp_low`, NIC µs clock (u32, wraps after about 71.6 min) |
//! | 4 | 2 | `bfee_count` |
//! | 6 | 2 | reserved |
//! | 8 | 1 | `Nrx` (1–3) |
//! | 9 | 1 | `Ntx` (1–3) |
//! | 10..13 | 3 | `rssi_a`, `rssi_b`, `rssi_c` (u8 dB, 0 = antenna absent) |
//! | 13 | 1 | `noise` (i8 dBm, −127 = not measured) |
//! | 14 | 1 | `agc` |
//! | 15 | 1 | `antenna_sel`: `perm[j] = (antenna_sel >> 2j) & 3` |
//! | 16 | 2 | `len` = CSI payload bytes, must equal `(30·(16·Nrx·Ntx + 3) + 7) / 8` |
//! | 18 | 2 | `fake_rate_n_flags` (`rate`); bit 11 (`0x800`) = HT40 |
//! | 20 | len | bit-packed CSI |
//!
//! The payload is a little-endian bit stream: for each of the 30 subcarrier groups, 3 bits are
//! skipped, then `Nrx·Ntx` pairs of int8 (real, imag) follow, tx fastest within rx. Records with
//! `Nrx` or `Ntx` outside 1..=3, a `len` that disagrees with the computed size, or a body too
//! short for `len` are [`Error::Malformed`] (recoverable: the reader goes on with the next record).
//!
//! # Conventions
//!
//! * **Antenna permutation (D5).** The j-th rx row of the file is stored in rx slot `perm[j]` only
//!   when `Nrx == 3` and `perm` is a true permutation of {0, 1, 2} (MATLAB `read_bf_file`). Frames
//!   with `Nrx < 3` keep the file order. [`Intel5300Meta::perm`] is always reported (0-based) and
//!   [`Intel5300Meta::permuted`] says whether it was applied.
//! * **CSI shape** `[Nrx, Ntx, 30]`; the shape can change from frame to frame.
//! * **Subcarriers:** the 30 grouped tones of 802.11n, [`SUBCARRIERS_HT20`] or
//!   [`SUBCARRIERS_HT40`], chosen by the HT40 bit of `rate`; `bandwidth_mhz` is 20 or 40.
//! * **Timestamp:** `timestamp_ns` = 1000 × the *unwrapped* `timestamp_low` with
//!   [`Clock::Device`]. The reader extends the 32-bit µs counter with a wrap counter: a decrease of
//!   more than 2³¹ µs from one bfee to the next counts as a wrap (+2³² µs); a smaller decrease is
//!   passed through unchanged (a clock reset makes time go backwards rather than jump ~71 min
//!   ahead). Gaps longer than one wrap period cannot be detected. The raw value stays in
//!   [`Intel5300Meta::timestamp_low`].
//! * **RSSI:** `rssi_dbm` is the total RSS of MATLAB `get_total_rss` ([`total_rss_dbm`]):
//!   `10·log10(Σ 10^(x/10) over the non-zero rssi_a/b/c) − 44 − agc`, also kept in full
//!   precision as [`Intel5300Meta::total_rss`]. `chain_rssi` holds the three raw per-antenna
//!   values `[rssi_a, rssi_b, rssi_c]` as the NIC reports them: dB relative to the receiver's
//!   gain setting, 0 for an antenna that is not present; the per-chain dBm is `x − 44 − agc`.
//! * **Noise:** `noise_floor_dbm` is `noise`, or `None` when the NIC reports −127 (not measured).
//! * **Scaled CSI:** [`scaled_csi_factor`] gives the real factor `f` of MATLAB `get_scaled_csi`
//!   (`H = f · csi`, noise −127 taken as −92 dBm; computed once per frame from the raw values,
//!   see D13). With [`Intel5300Options::scaled`] the reader multiplies the CSI by it.
//! * **Sequence:** `sequence` is the driver's `bfee_count`; the 802.11 sequence control field, when
//!   a 0xC1 record precedes the bfee, is in [`MacHeader::seq`].
//! * **Node id:** always 0. `bfee_count` counts the receiver's CSI reports over every transmitter,
//!   so the receiver is the node whose sequence gaps measure drops; numbering transmitters by the
//!   0xC1 MAC (as the PicoScenes and FeitCSI readers do) would turn every frame of one transmitter
//!   into a "gap" of another. The transmitter, when a 0xC1 record names it, is [`CsiFrame::mac`].
//!
//! # Example
//!
//! ```
//! use wifi_sensing_core::formats::intel5300::Intel5300Reader;
//! use wifi_sensing_core::{CaptureReader, ReaderOptions};
//! // An empty file: no frame, no error.
//! let mut r = Intel5300Reader::new(Box::new(std::io::Cursor::new(Vec::new())), &ReaderOptions::default());
//! assert!(r.next_record().is_none());
//! ```

use ndarray::{Array1, Array3};
use num_complex::Complex32;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::formats::records::{LengthPrefixed, RecordHandler};
use crate::frame::{CaptureFormat, Clock, CsiFrame, Device, FormatMeta};
use crate::reader::{
    CaptureReader, Confidence, FormatDescriptor, Input, ReaderOptions, SpareBuffers,
};
use crate::record::Record;

/// Record code of a beamforming feedback (CSI) record.
pub const CODE_BFEE: u8 = 0xBB;
/// Record code of an 802.11 MAC header record (modified driver, csiread only).
pub const CODE_MAC_HEADER: u8 = 0xC1;
/// Size of the fixed bfee header that precedes the CSI payload.
pub const BFEE_HEADER_LEN: usize = 20;
/// Number of subcarrier groups in every bfee record.
pub const N_GROUPS: usize = 30;
/// Bit of `fake_rate_n_flags` that marks a 40 MHz (HT40) frame.
pub const RATE_HT40: u16 = 0x800;
/// `noise` value that means "not measured".
pub const NOISE_NOT_MEASURED: i8 = -127;
/// Noise floor used by the scaling when the NIC did not measure it (MATLAB `get_scaled_csi`).
pub const NOISE_DEFAULT_DBM: f64 = -92.0;
/// Size of the bytes that the MAC header record must hold: fc, dur, 3 addresses, seq.
pub const MAC_HEADER_LEN: usize = 24;

/// Subcarrier indices of the 30 groups at 20 MHz.
pub const SUBCARRIERS_HT20: [i16; 30] = [
    -28, -26, -24, -22, -20, -18, -16, -14, -12, -10, -8, -6, -4, -2, -1, 1, 3, 5, 7, 9, 11, 13,
    15, 17, 19, 21, 23, 25, 27, 28,
];
/// Subcarrier indices of the 30 groups at 40 MHz (−58 to 58 in steps of 4).
pub const SUBCARRIERS_HT40: [i16; 30] = [
    -58, -54, -50, -46, -42, -38, -34, -30, -26, -22, -18, -14, -10, -6, -2, 2, 6, 10, 14, 18, 22,
    26, 30, 34, 38, 42, 46, 50, 54, 58,
];

/// CSI payload bytes of a bfee record with `nrx · ntx` streams: `(30·(16·nrx·ntx + 3) + 7) / 8`.
///
/// ```
/// assert_eq!(wifi_sensing_core::formats::intel5300::bfee_payload_len(3, 2), 372);
/// ```
pub const fn bfee_payload_len(nrx: usize, ntx: usize) -> usize {
    (N_GROUPS * (16 * nrx * ntx + 3)).div_ceil(8)
}

/// The 802.11 MAC header carried by a `0xC1` record (csiread field names).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MacHeader {
    /// Frame Control field.
    pub fc: u16,
    /// Duration field.
    pub dur: u16,
    /// Address 1 (receiver / destination).
    pub addr_des: [u8; 6],
    /// Address 2 (transmitter / source).
    pub addr_src: [u8; 6],
    /// Address 3 (BSSID).
    pub addr_bssid: [u8; 6],
    /// Raw Sequence Control field (fragment number in bits 0–3, sequence number in bits 4–15).
    pub seq: u16,
}

impl MacHeader {
    /// Decodes the first [`MAC_HEADER_LEN`] bytes of a `0xC1` record body (after the code byte).
    pub fn parse(body: &[u8]) -> Option<MacHeader> {
        let b = body.get(..MAC_HEADER_LEN)?;
        let addr =
            |o: usize| -> [u8; 6] { [b[o], b[o + 1], b[o + 2], b[o + 3], b[o + 4], b[o + 5]] };
        Some(MacHeader {
            fc: u16::from_le_bytes([b[0], b[1]]),
            dur: u16::from_le_bytes([b[2], b[3]]),
            addr_des: addr(4),
            addr_src: addr(10),
            addr_bssid: addr(16),
            seq: u16::from_le_bytes([b[22], b[23]]),
        })
    }

    /// The 802.11 sequence number (`seq >> 4`).
    pub fn sequence_number(&self) -> u16 {
        self.seq >> 4
    }
}

/// Header fields of one bfee record, named as csiread / the golden files name them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Intel5300Meta {
    /// NIC µs clock, raw 32-bit value (wraps after about 71.6 min).
    pub timestamp_low: u32,
    /// Driver's bfee counter.
    pub bfee_count: u16,
    /// Number of receive antennas of this record.
    #[serde(rename = "Nrx")]
    pub nrx: u8,
    /// Number of transmit streams of this record.
    #[serde(rename = "Ntx")]
    pub ntx: u8,
    /// RSSI of antenna A (dB, 0 = absent).
    pub rssi_a: u8,
    /// RSSI of antenna B (dB, 0 = absent).
    pub rssi_b: u8,
    /// RSSI of antenna C (dB, 0 = absent).
    pub rssi_c: u8,
    /// Noise in dBm as reported (−127 = not measured).
    pub noise: i8,
    /// Automatic gain control setting.
    pub agc: u8,
    /// Raw antenna selection byte.
    pub antenna_sel: u8,
    /// 0-based antenna permutation decoded from `antenna_sel` (always reported, see D5).
    pub perm: [u8; 3],
    /// Whether the permutation was applied to the CSI rows (only when `Nrx == 3` and `perm` is a
    /// true permutation).
    pub permuted: bool,
    /// `fake_rate_n_flags` (bit 8 HT, bit 11 HT40, bit 13 short GI, low bits MCS).
    pub rate: u16,
    /// Total RSS in dBm (MATLAB `get_total_rss`); −∞ when every rssi is 0.
    pub total_rss: f64,
    /// Σ (re² + im²) over the raw (unscaled) CSI values: the CSI power used by the scaling.
    pub csi_power: u32,
    /// Whether the frame's CSI was multiplied by [`scaled_csi_factor`].
    pub scaled: bool,
    /// The MAC header of the `0xC1` record immediately preceding this bfee, if any.
    pub c1: Option<MacHeader>,
}

impl Intel5300Meta {
    /// `true` when the HT40 bit (`0x800`) of `rate` is set.
    pub fn is_ht40(&self) -> bool {
        self.rate & RATE_HT40 != 0
    }

    /// Channel bandwidth from the rate flags: 40 or 20 MHz.
    pub fn bandwidth_mhz(&self) -> u16 {
        if self.is_ht40() {
            40
        } else {
            20
        }
    }

    /// Subcarrier index of each of the 30 CSI columns for this frame's bandwidth.
    pub fn subcarriers(&self) -> &'static [i16; 30] {
        if self.is_ht40() {
            &SUBCARRIERS_HT40
        } else {
            &SUBCARRIERS_HT20
        }
    }
}

/// Options of the Intel 5300 reader.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Intel5300Options {
    /// Multiply each frame's CSI by [`scaled_csi_factor`] (MATLAB `get_scaled_csi`). Default
    /// `false`: the CSI holds the raw int8 values. A frame whose factor is not finite (all rssi 0
    /// or all-zero CSI) is left raw and its [`Intel5300Meta::scaled`] is `false`.
    pub scaled: bool,
}

/// `10^(x/10)`.
#[inline]
fn dbinv(x: f64) -> f64 {
    10f64.powf(x / 10.0)
}

/// `dbinv` of every u8 RSSI value, computed once (the same `powf` results, looked up).
fn dbinv_u8(x: u8) -> f64 {
    static TABLE: std::sync::OnceLock<[f64; 256]> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| std::array::from_fn(|i| dbinv(i as f64)))[usize::from(x)]
}

/// Total RSS in dBm as MATLAB `get_total_rss`: the non-zero antenna RSSIs are summed in linear
/// power, then `− 44 − agc`. Gives −∞ when all three are 0.
///
/// ```
/// use wifi_sensing_core::formats::intel5300::total_rss_dbm;
/// let r = total_rss_dbm([30, 0, 0], 20);
/// assert!((r - (30.0 - 44.0 - 20.0)).abs() < 1e-12);
/// ```
pub fn total_rss_dbm(rssi: [u8; 3], agc: u8) -> f64 {
    rss_base(rssi) - f64::from(agc)
}

/// `10·log10(Σ 10^(x/10) over the non-zero x) − 44`: [`total_rss_dbm`] before the AGC term.
fn rss_base(rssi: [u8; 3]) -> f64 {
    let mut mag = 0.0f64;
    for x in rssi {
        if x != 0 {
            mag += dbinv_u8(x);
        }
    }
    10.0 * mag.log10() - 44.0
}

/// The real factor `f` such that MATLAB `get_scaled_csi` returns `f · csi` for this frame.
///
/// ```text
/// scale       = 10^(total_rss/10) / (csi_power / 30)
/// total_noise = 10^(noise_dB/10) + scale · Nrx · Ntx      (noise −127 → −92 dBm)
/// f           = sqrt(scale / total_noise) · (√2 if Ntx = 2, √(10^0.45) if Ntx = 3)
/// ```
///
/// It depends only on header fields and [`Intel5300Meta::csi_power`] (the power of the raw
/// values), so it is the same whether or not the frame was read with
/// [`Intel5300Options::scaled`]. Degenerate frames give non-finite values (NaN for all-zero CSI,
/// 0 when every rssi is 0).
pub fn scaled_csi_factor(meta: &Intel5300Meta) -> f64 {
    let rssi_pwr = dbinv(meta.total_rss);
    let scale = rssi_pwr / (f64::from(meta.csi_power) / N_GROUPS as f64);
    let noise_db = if meta.noise == NOISE_NOT_MEASURED {
        NOISE_DEFAULT_DBM
    } else {
        f64::from(meta.noise)
    };
    let thermal = dbinv(noise_db);
    let quant = scale * f64::from(meta.nrx) * f64::from(meta.ntx);
    let mut f = (scale / (thermal + quant)).sqrt();
    match meta.ntx {
        2 => f *= std::f64::consts::SQRT_2,
        3 => f *= dbinv(4.5).sqrt(),
        _ => {}
    }
    f
}

/// [`scaled_csi_factor`] of a frame read by this module; `None` for frames of other formats.
pub fn frame_scaled_csi_factor(frame: &CsiFrame) -> Option<f64> {
    match &frame.meta {
        FormatMeta::Intel5300(m) => Some(scaled_csi_factor(m)),
        _ => None,
    }
}

fn malformed(offset: u64, reason: impl Into<String>) -> Error {
    Error::Malformed {
        format: CaptureFormat::Intel5300,
        offset,
        line: None,
        reason: reason.into(),
    }
}

/// Little-endian u64 starting at byte `q`, bytes past the end read as 0.
#[inline(always)]
fn load_u64(b: &[u8], q: usize) -> u64 {
    match b.get(q..q + 8) {
        Some(s) => u64::from_le_bytes([s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]]),
        None => load_u64_tail(b, q),
    }
}

/// [`load_u64`] near the end of the payload (kept out of line: it runs once or twice per record).
#[cold]
#[inline(never)]
fn load_u64_tail(b: &[u8], q: usize) -> u64 {
    let mut w = [0u8; 8];
    for (i, x) in w.iter_mut().enumerate() {
        *x = b.get(q + i).copied().unwrap_or(0);
    }
    u64::from_le_bytes(w)
}

/// Unpacks the bit-packed payload of `N = nrx · ntx` streams, appending `N · 30` values to
/// `out` in `[rx][tx][group]` order, file row `j` going to rx slot `slot[j]` (`slot` must be a
/// permutation of `0..nrx`). Returns Σ (re² + im²).
///
/// Two passes: the bit stream is first realigned into one byte row of 30 (re, im) pairs per
/// stream (within a group every pair starts at the same bit offset modulo 8, so one 64-bit load
/// after a constant shift yields three pairs), then each row is converted to `Complex32` in the
/// output order, a straight loop the compiler vectorises. `N` is a constant so that the first
/// pass is fully unrolled per group.
#[inline(always)]
fn unpack_n<const N: usize>(
    payload: &[u8],
    nrx: usize,
    ntx: usize,
    slot: [usize; 3],
    out: &mut Vec<Complex32>,
) -> u32 {
    // rows[m][g] = re | im << 8 (two int8) of stream m (file order, tx fastest) in group g
    let mut rows = [[0u16; N_GROUPS]; N];
    let stride = 3 + 16 * N;
    for g in 0..N_GROUPS {
        let bit = g * stride + 3;
        let shift = bit & 7;
        let q = bit >> 3;
        for (c, chunk) in rows.chunks_mut(3).enumerate() {
            let mut w = load_u64(payload, q + 6 * c) >> shift;
            for row in chunk {
                row[g] = w as u16;
                w >>= 16;
            }
        }
    }
    let mut power = 0i32;
    // file row feeding each rx slot
    let mut src = [0usize; 3];
    for (j, &r) in slot.iter().enumerate().take(nrx) {
        if let Some(s) = src.get_mut(r) {
            *s = j;
        }
    }
    out.reserve_exact(N * N_GROUPS);
    for &j in &src[..nrx] {
        for k in 0..ntx {
            if let Some(row) = rows.get(j * ntx + k) {
                out.extend(row.iter().map(|&x| {
                    let re = ((x << 8) as i16) >> 8;
                    let im = (x as i16) >> 8;
                    power += i32::from(re) * i32::from(re) + i32::from(im) * i32::from(im);
                    Complex32::new(f32::from(re), f32::from(im))
                }));
            }
        }
    }
    power as u32
}

/// Unpacks the bit-packed payload, appending `nrx · ntx · 30` values to `out` in
/// `[rx][tx][group]` order, file row `j` going to rx slot `slot[j]`. Returns Σ (re² + im²).
///
/// `payload` must hold [`bfee_payload_len`]`(nrx, ntx)` bytes (missing bytes read as 0), `nrx`
/// and `ntx` must be in 1..=3 and `slot` a permutation of `0..nrx`.
pub(crate) fn unpack_payload(
    payload: &[u8],
    nrx: usize,
    ntx: usize,
    slot: [usize; 3],
    out: &mut Vec<Complex32>,
) -> u32 {
    match nrx * ntx {
        1 => unpack_n::<1>(payload, nrx, ntx, slot, out),
        2 => unpack_n::<2>(payload, nrx, ntx, slot, out),
        3 => unpack_n::<3>(payload, nrx, ntx, slot, out),
        4 => unpack_n::<4>(payload, nrx, ntx, slot, out),
        6 => unpack_n::<6>(payload, nrx, ntx, slot, out),
        _ => unpack_n::<9>(payload, nrx, ntx, slot, out),
    }
}

/// Entries of the [`RssCache`] (a power of two).
const RSS_CACHE_LEN: usize = 256;

/// Direct-mapped cache of `10·log10(Σ 10^(x/10)) − 44` by (`rssi_a`, `rssi_b`, `rssi_c`): a
/// recording uses few distinct RSSI triples and the `log10` is a noticeable part of the
/// per-record work. [`total_rss_dbm`] subtracts `agc` last, so the cached value gives the same
/// bits.
#[derive(Clone, Debug)]
struct RssCache {
    /// `(key, value)`; the key is the three bytes with bit 24 set (0 = empty).
    slots: Box<[(u32, f64)]>,
}

impl Default for RssCache {
    fn default() -> Self {
        RssCache {
            slots: vec![(0, 0.0); RSS_CACHE_LEN].into_boxed_slice(),
        }
    }
}

impl RssCache {
    #[inline]
    fn total_rss(&mut self, rssi: [u8; 3], agc: u8) -> f64 {
        let key = u32::from_le_bytes([rssi[0], rssi[1], rssi[2], 1]);
        let i = (key.wrapping_mul(0x9E37_79B1) >> 24) as usize & (RSS_CACHE_LEN - 1);
        let base = match self.slots.get(i) {
            Some(&(k, v)) if k == key => v,
            _ => {
                let v = rss_base(rssi);
                if let Some(s) = self.slots.get_mut(i) {
                    *s = (key, v);
                }
                v
            }
        };
        base - f64::from(agc)
    }
}

/// Decodes a bfee body into its CSI array and header fields (see [`decode_bfee`]).
#[inline(always)]
fn decode_bfee_parts(
    body: &[u8],
    offset: u64,
    scaled: bool,
    rss: &mut RssCache,
    spare: &mut SpareBuffers,
) -> Result<(Array3<Complex32>, Intel5300Meta)> {
    let Some(h) = body.get(..BFEE_HEADER_LEN) else {
        return Err(malformed(
            offset,
            format!(
                "bfee record body has {} bytes, the header needs {BFEE_HEADER_LEN}",
                body.len()
            ),
        ));
    };
    let timestamp_low = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
    let bfee_count = u16::from_le_bytes([h[4], h[5]]);
    let nrx = h[8];
    let ntx = h[9];
    if !(1..=3).contains(&nrx) || !(1..=3).contains(&ntx) {
        return Err(malformed(
            offset,
            format!("bfee record has Nrx = {nrx}, Ntx = {ntx} (each must be 1..=3)"),
        ));
    }
    let (nrx_u, ntx_u) = (usize::from(nrx), usize::from(ntx));
    let len = usize::from(u16::from_le_bytes([h[16], h[17]]));
    let expected = bfee_payload_len(nrx_u, ntx_u);
    if len != expected {
        return Err(malformed(
            offset,
            format!("bfee len field says {len} payload bytes, Nrx = {nrx} x Ntx = {ntx} needs {expected}"),
        ));
    }
    let Some(payload) = body.get(BFEE_HEADER_LEN..BFEE_HEADER_LEN + len) else {
        return Err(malformed(
            offset,
            format!(
                "bfee record body has {} bytes, header + payload need {}",
                body.len(),
                BFEE_HEADER_LEN + len
            ),
        ));
    };
    let antenna_sel = h[15];
    let perm = [
        antenna_sel & 3,
        (antenna_sel >> 2) & 3,
        (antenna_sel >> 4) & 3,
    ];
    let is_perm = {
        let mut seen = [false; 4];
        for p in perm {
            seen[usize::from(p)] = true;
        }
        seen[0] && seen[1] && seen[2]
    };
    let permuted = nrx == 3 && is_perm;
    let slot = if permuted {
        [
            usize::from(perm[0]),
            usize::from(perm[1]),
            usize::from(perm[2]),
        ]
    } else {
        [0, 1, 2]
    };
    let mut data = spare.values();
    let csi_power = unpack_payload(payload, nrx_u, ntx_u, slot, &mut data);

    let rssi = [h[10], h[11], h[12]];
    let agc = h[14];
    let mut meta = Intel5300Meta {
        timestamp_low,
        bfee_count,
        nrx,
        ntx,
        rssi_a: rssi[0],
        rssi_b: rssi[1],
        rssi_c: rssi[2],
        noise: h[13] as i8,
        agc,
        antenna_sel,
        perm,
        permuted,
        rate: u16::from_le_bytes([h[18], h[19]]),
        total_rss: rss.total_rss(rssi, agc),
        csi_power,
        scaled: false,
        c1: None,
    };
    if scaled {
        let f = scaled_csi_factor(&meta);
        if f.is_finite() {
            let f = f as f32;
            for c in &mut data {
                *c *= f;
            }
            meta.scaled = true;
        }
    }
    let csi = Array1::from_vec(data)
        .into_shape_with_order((nrx_u, ntx_u, N_GROUPS))
        .unwrap_or_else(|_| Array3::zeros((nrx_u, ntx_u, N_GROUPS)));
    Ok((csi, meta))
}

/// Builds the frame of a decoded bfee (one struct literal, so that the frame is written in
/// place rather than moved field by field after construction), its lists in `spare`'s buffers.
#[inline(always)]
fn bfee_frame(
    csi: Array3<Complex32>,
    meta: Intel5300Meta,
    timestamp_ns: i64,
    spare: &mut SpareBuffers,
) -> CsiFrame {
    CsiFrame {
        timestamp_ns,
        clock: Clock::Device,
        node_id: 0,
        mac: meta.c1.map(|h| h.addr_src),
        sequence: Some(u32::from(meta.bfee_count)),
        rssi_dbm: meta.total_rss.is_finite().then_some(meta.total_rss as f32),
        chain_rssi: spare.chain_rssi(&[
            f32::from(meta.rssi_a),
            f32::from(meta.rssi_b),
            f32::from(meta.rssi_c),
        ]),
        noise_floor_dbm: (meta.noise != NOISE_NOT_MEASURED).then_some(f32::from(meta.noise)),
        channel: None,
        center_freq_mhz: None,
        bandwidth_mhz: Some(meta.bandwidth_mhz()),
        format: CaptureFormat::Intel5300,
        device: Device::Iwl5300,
        subcarriers: Some(spare.subcarriers(meta.subcarriers())),
        csi,
        meta: FormatMeta::Intel5300(meta),
    }
}

/// Decodes the body of a `0xBB` record (the bytes after the code byte) into a frame.
///
/// `offset` is the byte offset of the record (for errors). The frame's `timestamp_ns` is
/// `timestamp_low · 1000` (no unwrapping: the [`Intel5300Reader`] unwraps across records), and
/// `mac` is unset (the reader fills it from a preceding `0xC1` record). With `scaled` the CSI is
/// multiplied by [`scaled_csi_factor`].
///
/// ```
/// use wifi_sensing_core::formats::intel5300::{decode_bfee, bfee_payload_len};
/// let mut body = vec![0u8; 20 + bfee_payload_len(1, 1)];
/// body[8] = 1; // Nrx
/// body[9] = 1; // Ntx
/// body[10] = 40; // rssi_a
/// body[16..18].copy_from_slice(&(bfee_payload_len(1, 1) as u16).to_le_bytes());
/// // group 0: 3 skipped bits, then real = 5, imag = -3
/// let pair = ((5u32) | ((-3i8 as u8 as u32) << 8)) << 3;
/// body[20..23].copy_from_slice(&pair.to_le_bytes()[..3]);
/// let f = decode_bfee(&body, 0, false).unwrap();
/// assert_eq!(f.shape(), (1, 1, 30));
/// assert_eq!(f.csi[[0, 0, 0]], num_complex::Complex32::new(5.0, -3.0));
/// ```
pub fn decode_bfee(body: &[u8], offset: u64, scaled: bool) -> Result<CsiFrame> {
    let mut spare = SpareBuffers::default();
    let (csi, meta) =
        decode_bfee_parts(body, offset, scaled, &mut RssCache::default(), &mut spare)?;
    let timestamp_ns = i64::from(meta.timestamp_low) * 1000;
    Ok(bfee_frame(csi, meta, timestamp_ns, &mut spare))
}

/// Counts of the records a reader has gone through (the golden header's `records`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordCounts {
    /// Complete `0xBB` records (including malformed ones).
    pub bfee: u64,
    /// Complete `0xC1` records.
    pub mac_header: u64,
    /// Complete records with any other code (skipped and passed over, not errors). A record
    /// with `field_len` = 0 has no code at all: it is malformed, not "other".
    pub other: u64,
    /// Records reported as [`Error::Malformed`], including records with `field_len` = 0.
    pub malformed: u64,
    /// 1 when the input ended inside a record.
    pub truncated_tail: u64,
    /// Bytes of that partial record (0 when none).
    pub trailing_partial_bytes: u64,
}

/// Extends a wrapping 32-bit µs counter (see the module docs for the rule).
#[derive(Clone, Debug, Default)]
struct Unwrapper {
    last: Option<u32>,
    high: u64,
}

impl Unwrapper {
    fn push(&mut self, t: u32) -> u64 {
        if let Some(p) = self.last {
            if t < p && p - t > (1u32 << 31) {
                self.high += 1u64 << 32;
            }
        }
        self.last = Some(t);
        self.high + u64::from(t)
    }
}

/// Decoding state of a reader (everything but the record framing).
#[derive(Debug)]
struct State {
    scaled: bool,
    pending_c1: Option<MacHeader>,
    clock: Unwrapper,
    rss: RssCache,
    counts: RecordCounts,
    /// Buffers of recycled frames.
    spare: SpareBuffers,
}

impl RecordHandler for State {
    const FORMAT: CaptureFormat = CaptureFormat::Intel5300;
    const NAME: &'static str = "Intel 5300";

    #[inline]
    fn field_len(&self, len: [u8; 2]) -> usize {
        usize::from(u16::from_be_bytes(len))
    }

    fn truncated(&mut self, available: u64) {
        // a MAC header right before a cut record belongs to no frame
        self.pending_c1 = None;
        self.counts.truncated_tail = 1;
        self.counts.trailing_partial_bytes = available;
    }

    /// Handles one complete record (`rec` = code byte + body, `field_len` bytes) that starts at
    /// byte `start`. `None` means the record yields nothing (skipped or kept as MAC header).
    fn handle(&mut self, rec: &[u8], start: u64) -> Option<Result<Record>> {
        // Any record consumes the pending MAC header: it belongs to the bfee right after it only.
        let c1 = self.pending_c1.take();
        let Some((&code, body)) = rec.split_first() else {
            self.counts.malformed += 1;
            return Some(Err(malformed(
                start,
                "record with field_len = 0 (no code byte)",
            )));
        };
        match code {
            CODE_BFEE => {
                self.counts.bfee += 1;
                match decode_bfee_parts(body, start, self.scaled, &mut self.rss, &mut self.spare) {
                    Ok((csi, mut meta)) => {
                        let t_us = self.clock.push(meta.timestamp_low);
                        let timestamp_ns =
                            i64::try_from(t_us.saturating_mul(1000)).unwrap_or(i64::MAX);
                        meta.c1 = c1;
                        Some(Ok(Record::Frame(bfee_frame(
                            csi,
                            meta,
                            timestamp_ns,
                            &mut self.spare,
                        ))))
                    }
                    Err(e) => {
                        self.counts.malformed += 1;
                        Some(Err(e))
                    }
                }
            }
            CODE_MAC_HEADER => {
                self.counts.mac_header += 1;
                match MacHeader::parse(body) {
                    Some(h) => {
                        self.pending_c1 = Some(h);
                        None
                    }
                    None => {
                        self.counts.malformed += 1;
                        Some(Err(malformed(
                            start,
                            format!(
                                "0xC1 record body has {} bytes, the MAC header needs {MAC_HEADER_LEN}",
                                body.len()
                            ),
                        )))
                    }
                }
            }
            _ => {
                self.counts.other += 1;
                None
            }
        }
    }
}

/// Streaming reader of Intel 5300 `.dat` files.
///
/// Records that lie whole in the input's buffer are decoded in place; others are copied into
/// one reused buffer. Memory use does not grow with the file.
pub struct Intel5300Reader {
    records: LengthPrefixed,
    st: State,
}

impl std::fmt::Debug for Intel5300Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Intel5300Reader")
            .field("pos", &self.records.position())
            .field("counts", &self.st.counts)
            .finish()
    }
}

impl Intel5300Reader {
    /// A reader over `input` (the start of a `.dat` file).
    pub fn new(input: Input, options: &ReaderOptions) -> Self {
        Intel5300Reader {
            records: LengthPrefixed::new(input, 0, 1024, options.limits.max_record_bytes),
            st: State {
                scaled: options.intel5300.scaled,
                pending_c1: None,
                clock: Unwrapper::default(),
                rss: RssCache::default(),
                counts: RecordCounts::default(),
                spare: SpareBuffers::default(),
            },
        }
    }

    /// Record counts so far.
    pub fn counts(&self) -> &RecordCounts {
        &self.st.counts
    }
}

impl CaptureReader for Intel5300Reader {
    fn format(&self) -> CaptureFormat {
        CaptureFormat::Intel5300
    }

    fn next_record(&mut self) -> Option<Result<Record>> {
        self.records.next(&mut self.st)
    }

    fn position(&self) -> u64 {
        self.records.position()
    }

    /// Complete records with a code other than `0xBB` / `0xC1` ([`RecordCounts::other`]).
    fn passed_over(&self) -> u64 {
        self.st.counts.other
    }

    /// Keeps the frame's CSI, subcarrier and chain RSSI buffers for the next frame.
    fn recycle(&mut self, frame: CsiFrame) {
        self.st.spare.keep(frame);
    }

    /// `Some(8)`: the bfee payload holds int8 pairs, which every frame keeps unless
    /// [`Intel5300Options::scaled`] multiplies them by a real factor (then `None`).
    fn csi_integer_bits(&self) -> Option<u8> {
        (!self.st.scaled).then_some(8)
    }
}

/// Checks the bfee header at `b[off..]` (the record's length field); `None` when not plausible or
/// not fully present.
fn bfee_header_plausible(b: &[u8], off: usize, field_len: usize) -> Option<bool> {
    let h = b.get(off + 3..off + 3 + BFEE_HEADER_LEN)?;
    let (nrx, ntx) = (usize::from(h[8]), usize::from(h[9]));
    let len = usize::from(u16::from_le_bytes([h[16], h[17]]));
    Some(
        (1..=3).contains(&nrx)
            && (1..=3).contains(&ntx)
            && len == bfee_payload_len(nrx, ntx)
            && field_len > BFEE_HEADER_LEN + len,
    )
}

/// Byte probe: walks the records of the prefix and requires a consistent `0xBB` header (Nrx, Ntx
/// in 1..=3, `len` equal to the computed size, `field_len` large enough); `0xC1` records must be
/// long enough for a MAC header. The score grows with the number of consistent records.
fn probe(b: &[u8]) -> Confidence {
    let mut off = 0usize;
    let mut good = 0u32;
    let mut bfee = 0u32;
    while off + 3 <= b.len() && good < 4 {
        let field_len = usize::from(u16::from_be_bytes([b[off], b[off + 1]]));
        match b[off + 2] {
            CODE_BFEE => match bfee_header_plausible(b, off, field_len) {
                Some(true) => bfee += 1,
                Some(false) => return 0,
                None => break,
            },
            CODE_MAC_HEADER if field_len > MAC_HEADER_LEN => {}
            _ => {
                if good == 0 {
                    return 0;
                }
                break;
            }
        }
        good += 1;
        off += 2 + field_len;
    }
    if bfee == 0 {
        return 0;
    }
    match good {
        0 => 0,
        1 => 60,
        2 => 80,
        _ => 92,
    }
}

fn open(input: Input, options: &ReaderOptions) -> Result<Box<dyn CaptureReader>> {
    Ok(Box::new(Intel5300Reader::new(input, options)))
}

/// Registry entry of the Intel 5300 format.
pub fn descriptor() -> FormatDescriptor {
    FormatDescriptor {
        format: CaptureFormat::Intel5300,
        description: "Intel 5300 .dat (linux-80211n-csitool log_to_file)",
        extensions: &["dat"],
        probe,
        open,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// Independent bit-by-bit encoder of a bfee body (after the code byte).
    fn bfee_body(
        nrx: u8,
        ntx: u8,
        antenna_sel: u8,
        rate: u16,
        ts: u32,
        vals: &[(i8, i8)],
    ) -> Vec<u8> {
        let len = bfee_payload_len(nrx.into(), ntx.into());
        let mut b = vec![0u8; 20 + len];
        b[0..4].copy_from_slice(&ts.to_le_bytes());
        b[4..6].copy_from_slice(&7u16.to_le_bytes());
        b[8] = nrx;
        b[9] = ntx;
        b[10] = 30;
        b[11] = 31;
        b[12] = 0;
        b[13] = (-90i8) as u8;
        b[14] = 15;
        b[15] = antenna_sel;
        b[16..18].copy_from_slice(&(len as u16).to_le_bytes());
        b[18..20].copy_from_slice(&rate.to_le_bytes());
        let mut bit = 0usize;
        let mut put = |v: u8, bit: &mut usize| {
            for i in 0..8 {
                if v >> i & 1 == 1 {
                    b[20 + *bit / 8] |= 1 << (*bit % 8);
                }
                *bit += 1;
            }
        };
        let n = usize::from(nrx) * usize::from(ntx);
        for g in 0..30 {
            bit += 3;
            for m in 0..n {
                let (re, im) = vals[g * n + m];
                put(re as u8, &mut bit);
                put(im as u8, &mut bit);
            }
        }
        b
    }

    fn record(code: u8, body: &[u8]) -> Vec<u8> {
        let mut r = ((body.len() + 1) as u16).to_be_bytes().to_vec();
        r.push(code);
        r.extend_from_slice(body);
        r
    }

    fn reader(bytes: Vec<u8>) -> Intel5300Reader {
        Intel5300Reader::new(Box::new(Cursor::new(bytes)), &ReaderOptions::default())
    }

    fn vals(n: usize) -> Vec<(i8, i8)> {
        (0..30 * n)
            .map(|i| ((i as i32 * 7 - 100) as i8, (i as i32 * -5 + 60) as i8))
            .collect()
    }

    #[test]
    fn decodes_values_in_file_order_when_nrx_below_3() {
        let v = vals(4);
        let body = bfee_body(2, 2, 0b00_01_10, 0x0500, 1, &v);
        let f = decode_bfee(&body, 0, false).unwrap();
        assert_eq!(f.shape(), (2, 2, 30));
        for g in 0..30 {
            for j in 0..2 {
                for k in 0..2 {
                    let (re, im) = v[g * 4 + j * 2 + k];
                    assert_eq!(f.csi[[j, k, g]], Complex32::new(re.into(), im.into()));
                }
            }
        }
        let FormatMeta::Intel5300(m) = &f.meta else {
            panic!()
        };
        assert_eq!(m.perm, [2, 1, 0]);
        assert!(!m.permuted);
    }

    #[test]
    fn permutes_when_nrx_is_3() {
        let v = vals(3);
        // perm = [2, 0, 1]
        let sel = 0b01_00_10;
        let f = decode_bfee(&bfee_body(3, 1, sel, 0, 0, &v), 0, false).unwrap();
        let FormatMeta::Intel5300(m) = &f.meta else {
            panic!()
        };
        assert!(m.permuted);
        for g in 0..30 {
            for (j, slot) in [2usize, 0, 1].into_iter().enumerate() {
                let (re, im) = v[g * 3 + j];
                assert_eq!(f.csi[[slot, 0, g]], Complex32::new(re.into(), im.into()));
            }
        }
        // not a permutation: rows stay in file order
        let f = decode_bfee(&bfee_body(3, 1, 0, 0, 0, &v), 0, false).unwrap();
        assert_eq!(
            f.csi[[1, 0, 0]],
            Complex32::new(v[1].0.into(), v[1].1.into())
        );
    }

    #[test]
    fn ht40_bit_selects_subcarriers() {
        let f = decode_bfee(
            &bfee_body(1, 1, 0, RATE_HT40 | 0x100, 0, &vals(1)),
            0,
            false,
        )
        .unwrap();
        assert_eq!(f.bandwidth_mhz, Some(40));
        assert_eq!(f.subcarriers.as_deref(), Some(&SUBCARRIERS_HT40[..]));
        let f = decode_bfee(&bfee_body(1, 1, 0, 0x100, 0, &vals(1)), 0, false).unwrap();
        assert_eq!(f.bandwidth_mhz, Some(20));
        assert_eq!(f.subcarriers.as_deref().unwrap()[14..16], [-1, 1]);
    }

    #[test]
    fn subcarrier_tables_are_consistent() {
        assert!(SUBCARRIERS_HT40.windows(2).all(|w| w[1] - w[0] == 4));
        assert!(SUBCARRIERS_HT20.windows(2).all(|w| w[1] > w[0]));
        assert!(!SUBCARRIERS_HT20.contains(&0));
    }

    #[test]
    fn bad_counts_and_len_are_malformed() {
        let mut body = bfee_body(1, 1, 0, 0, 0, &vals(1));
        body[8] = 4;
        let e = decode_bfee(&body, 9, false).unwrap_err();
        assert!(e.is_recoverable() && e.offset() == Some(9), "{e}");
        let mut body = bfee_body(1, 1, 0, 0, 0, &vals(1));
        body[16] += 1;
        assert!(decode_bfee(&body, 0, false)
            .unwrap_err()
            .to_string()
            .contains("len field"));
        let body = bfee_body(2, 1, 0, 0, 0, &vals(2));
        assert!(decode_bfee(&body[..body.len() - 1], 0, false).is_err());
        assert!(decode_bfee(&body[..5], 0, false).is_err());
    }

    #[test]
    fn stream_skips_unknown_and_attaches_c1() {
        let mut bytes = record(0x42, &[1, 2, 3]);
        let mut mac = vec![0x08, 0x00, 0x30, 0x00];
        mac.extend_from_slice(&[
            1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 255, 255, 255, 255, 255, 255,
        ]);
        mac.extend_from_slice(&0x1230u16.to_le_bytes());
        mac.extend_from_slice(&[0u8; 10]);
        bytes.extend(record(CODE_MAC_HEADER, &mac));
        bytes.extend(record(CODE_BFEE, &bfee_body(1, 1, 0, 0, 100, &vals(1))));
        bytes.extend(record(CODE_BFEE, &bfee_body(1, 1, 0, 0, 200, &vals(1))));
        let mut r = reader(bytes);
        let Some(Ok(Record::Frame(f1))) = r.next_record() else {
            panic!()
        };
        let Some(Ok(Record::Frame(f2))) = r.next_record() else {
            panic!()
        };
        assert!(r.next_record().is_none());
        assert_eq!(f1.mac, Some([7, 8, 9, 10, 11, 12]));
        let FormatMeta::Intel5300(m) = &f1.meta else {
            panic!()
        };
        let c1 = m.c1.unwrap();
        assert_eq!(
            (c1.fc, c1.dur, c1.seq, c1.sequence_number()),
            (8, 48, 0x1230, 0x123)
        );
        assert_eq!(f2.mac, None);
        assert_eq!(f2.timestamp_ns, 200_000);
        assert_eq!(
            *r.counts(),
            RecordCounts {
                bfee: 2,
                mac_header: 1,
                other: 1,
                ..RecordCounts::default()
            }
        );
        assert_eq!(r.passed_over(), 1);
    }

    #[test]
    fn truncated_tail_reported_after_frames() {
        let rec = record(CODE_BFEE, &bfee_body(1, 1, 0, 0, 5, &vals(1)));
        let mut bytes = rec.clone();
        bytes.extend_from_slice(&rec[..50]);
        let mut r = reader(bytes);
        assert!(matches!(r.next_record(), Some(Ok(Record::Frame(_)))));
        match r.next_record() {
            Some(Err(Error::Truncated {
                offset,
                needed,
                available,
                ..
            })) => {
                assert_eq!(offset, rec.len() as u64);
                assert_eq!(needed, rec.len() as u64);
                assert_eq!(available, 50);
            }
            other => panic!("{other:?}"),
        }
        assert!(r.next_record().is_none());
        assert_eq!(r.counts().trailing_partial_bytes, 50);
        // a single stray byte is a truncated length field
        let mut r = reader(vec![0x01]);
        assert!(matches!(
            r.next_record(),
            Some(Err(Error::Truncated { available: 1, .. }))
        ));
    }

    #[test]
    fn timestamp_unwraps() {
        let mut u = Unwrapper::default();
        assert_eq!(u.push(u32::MAX - 10), u64::from(u32::MAX - 10));
        assert_eq!(u.push(5), (1u64 << 32) + 5);
        // a small step back is passed through, not taken as a wrap
        assert_eq!(u.push(3), (1u64 << 32) + 3);
    }

    #[test]
    fn total_rss_and_factor_match_matlab_formula() {
        let r = total_rss_dbm([37, 38, 39], 23);
        let lin: f64 = [37.0f64, 38.0, 39.0]
            .iter()
            .map(|x| 10f64.powf(x / 10.0))
            .sum();
        assert!((r - (10.0 * lin.log10() - 67.0)).abs() < 1e-12);
        assert_eq!(total_rss_dbm([0, 0, 0], 10), f64::NEG_INFINITY);
        let m = Intel5300Meta {
            nrx: 1,
            ntx: 1,
            rssi_a: 40,
            noise: NOISE_NOT_MEASURED,
            agc: 20,
            total_rss: total_rss_dbm([40, 0, 0], 20),
            csi_power: 3000,
            ..Intel5300Meta::default()
        };
        let scale = 10f64.powf(-24.0 / 10.0) / 100.0;
        let want = (scale / (10f64.powf(-9.2) + scale)).sqrt();
        assert!((scaled_csi_factor(&m) - want).abs() < 1e-15);
    }

    #[test]
    fn scaled_option_multiplies_csi() {
        let body = bfee_body(2, 2, 0, 0, 0, &vals(4));
        let raw = decode_bfee(&body, 0, false).unwrap();
        let sc = decode_bfee(&body, 0, true).unwrap();
        let f = frame_scaled_csi_factor(&raw).unwrap();
        assert_eq!(frame_scaled_csi_factor(&sc), Some(f));
        assert!(f.is_finite() && f > 0.0);
        for (a, b) in raw.csi.iter().zip(sc.csi.iter()) {
            assert_eq!(*a * (f as f32), *b);
        }
    }

    #[test]
    fn probe_scores() {
        let rec = record(CODE_BFEE, &bfee_body(3, 2, 0, 0, 0, &vals(6)));
        let mut two = rec.clone();
        two.extend_from_slice(&rec);
        assert!(probe(&rec) >= 60);
        assert!(probe(&two) > probe(&rec));
        assert_eq!(probe(b""), 0);
        assert_eq!(probe(b"#!/usr/bin/env python3\nimport numpy as np\n"), 0);
        let mut bad = rec.clone();
        bad[3 + 8] = 7;
        assert_eq!(probe(&bad), 0);
    }

    /// Pseudo-random int8 pairs covering the whole range.
    fn noise(n: usize, seed: u32) -> Vec<(i8, i8)> {
        let mut x = seed;
        let mut next = || {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (x >> 24) as u8 as i8
        };
        (0..30 * n).map(|_| (next(), next())).collect()
    }

    #[test]
    fn every_shape_and_permutation_matches_the_encoder() {
        let perms: [[usize; 3]; 7] = [
            [0, 1, 2],
            [0, 2, 1],
            [1, 0, 2],
            [1, 2, 0],
            [2, 0, 1],
            [2, 1, 0],
            [1, 1, 0], // not a permutation
        ];
        for nrx in 1..=3u8 {
            for ntx in 1..=3u8 {
                for p in perms {
                    let sel = (p[0] | p[1] << 2 | p[2] << 4) as u8;
                    let n = usize::from(nrx * ntx);
                    let v = noise(n, u32::from(sel) * 16 + u32::from(nrx * 4 + ntx));
                    let f = decode_bfee(&bfee_body(nrx, ntx, sel, 0, 0, &v), 0, false).unwrap();
                    let FormatMeta::Intel5300(m) = &f.meta else {
                        panic!()
                    };
                    let applied = nrx == 3 && p != [1, 1, 0];
                    assert_eq!(m.permuted, applied);
                    let mut power = 0u32;
                    for g in 0..30 {
                        for j in 0..usize::from(nrx) {
                            let slot = if applied { p[j] } else { j };
                            for k in 0..usize::from(ntx) {
                                let (re, im) = v[g * n + j * usize::from(ntx) + k];
                                power += (i32::from(re).pow(2) + i32::from(im).pow(2)) as u32;
                                assert_eq!(
                                    f.csi[[slot, k, g]],
                                    Complex32::new(re.into(), im.into()),
                                    "{nrx}x{ntx} sel {sel:#x} group {g} row {j} tx {k}"
                                );
                            }
                        }
                    }
                    assert_eq!(m.csi_power, power);
                }
            }
        }
    }

    #[test]
    fn reader_rss_cache_gives_the_formula_bits() {
        // more distinct RSSI triples than cache slots, each seen twice, with varying AGC
        let mut bytes = Vec::new();
        let mut want = Vec::new();
        for pass in 0..2u8 {
            for i in 0..600u32 {
                let mut body = bfee_body(1, 1, 0, 0, i, &vals(1));
                let rssi = [(i % 61) as u8, (i / 61 % 7 * 9) as u8, (i % 5) as u8];
                let agc = (i % 40) as u8 + pass;
                body[10..13].copy_from_slice(&rssi);
                body[14] = agc;
                bytes.extend(record(CODE_BFEE, &body));
                want.push(total_rss_dbm(rssi, agc));
            }
        }
        let mut r = reader(bytes);
        for (i, w) in want.iter().enumerate() {
            let Some(Ok(Record::Frame(f))) = r.next_record() else {
                panic!("record {i}")
            };
            let FormatMeta::Intel5300(m) = &f.meta else {
                panic!()
            };
            assert_eq!(m.total_rss.to_bits(), w.to_bits(), "record {i}");
        }
        assert!(r.next_record().is_none());
    }
}
