//! FeitCSI `.csi` files (Intel AX200/AX210 CSI recorded by the FeitCSI tool).
//!
//! # Layout
//!
//! A file is a concatenation of records, each a **272-byte header** followed by `csi_length`
//! bytes of CSI (FORMATS.md §6). Header fields (little-endian) that this reader interprets:
//!
//! | off | size | field | where it goes |
//! |---|---|---|---|
//! | 0 | 4 | `csi_length` | [`FeitCsiMeta::csi_length`] |
//! | 8 | 4 | `ftm_clock`, 3.125 ns ticks, wraps every ≈13.4 s | meta, timestamp |
//! | 46 | 1 | `num_rx` | CSI shape |
//! | 47 | 1 | `num_tx` | CSI shape |
//! | 52 | 4 | `num_subcarriers` | CSI shape |
//! | 60 | 4 | `rssi_1` (u32, magnitude of a negative dBm value) | meta, [`CsiFrame::chain_rssi`] |
//! | 64 | 4 | `rssi_2` | meta, `chain_rssi` |
//! | 68 | 6 | source MAC | [`CsiFrame::mac`] |
//! | 88 | 4 | `mu_clock` (µs) | meta, timestamp |
//! | 92 | 4 | `rate_n_flags` | meta (raw and decoded, [`RateInfo`]), `bandwidth_mhz` |
//!
//! The CSI is int16 LE `(real, imag)` pairs ordered rx outer, then tx, then subcarrier, which is
//! exactly the `[rx][tx][subcarrier]` layout of [`CsiFrame::csi`]; `csi_length` must equal
//! `4 · num_rx · num_tx · num_subcarriers`.
//!
//! # Conventions
//!
//! - **Pilots kept raw (D14).** The AX2xx reports the pilot tones as exact zeros. CSIKit
//!   interpolates them by default; this reader keeps the raw values, like the kit's golden files.
//!   Code computing phase or dB must tolerate those zeros.
//! - **Subcarrier indices** come from the standard tone plan selected by the modulation type and
//!   channel width of `rate_n_flags` ([`super::tones`]); they are `None` when the plan's
//!   size differs from `num_subcarriers` or the format has no plan here (EHT, CCK at 40 MHz, …).
//! - **RSSI.** `rssi_1`/`rssi_2` are stored as positive numbers (39–47 in the kit's files); as in
//!   iwlwifi, the signal in dBm is their negation. [`CsiFrame::chain_rssi`] holds `-rssi_k` dBm
//!   for the first `num_rx` chains (at most two), and [`CsiFrame::rssi_dbm`] the strongest
//!   of them (iwlwifi's rule); a stored 0 means "no measurement" and is left out of `rssi_dbm`.
//!   The raw values stay in the meta.
//! - **Timestamp.** The header has no host time. [`CsiFrame::timestamp_ns`] ([`Clock::Device`]) is
//!   CSIKit's derivation, reproduced exactly: 0 for the first record of the stream; afterwards the
//!   previous timestamp plus the `ftm_clock` delta (3.125 ns ticks), or plus the `mu_clock` delta
//!   (µs) when `mu_clock` advanced by 13.42 s or more (the `ftm_clock` wrap period). A counter that
//!   did not increase is taken as wrapped, and the wrap adds `2^32 − 1` (CSIKit's `MAX_TICK`,
//!   one tick short of the counter's period; kept for agreement with the golden values).
//!   [`FeitCsiMeta::timestamp`] holds the same value in seconds, computed with CSIKit's floating
//!   point operations so that it equals the golden `timestamp` bit for bit; `timestamp_ns` is
//!   computed exactly in integer picoseconds and truncated to ns.
//! - **Node ids.** [`CsiFrame::node_id`] numbers the source MACs in order of first appearance
//!   (0, 1, …; the first 256, later ones share id 256), the rule of
//!   [`MacNodeTable`](crate::nodes::MacNodeTable), so a file that holds several transmitters
//!   gives one node per transmitter. Every kit file has a single source MAC (node 0). The
//!   header has no sequence number, so [`CsiFrame::sequence`] is `None`.
//! - **Device.** The header does not say which card wrote it; [`FeitCsiOptions::device`] (default
//!   [`Device::Ax210`], the card of the kit's files and FeitCSI's main target) is reported.
//! - **Errors.** A record whose counts do not match `csi_length` (or are zero) is skipped as
//!   [`Error::Malformed`]; a `csi_length` above [`Limits::max_record_bytes`] ends the stream with
//!   [`Error::LimitExceeded`]; a cut record ends it with [`Error::Truncated`] after every complete
//!   record.
//!
//! ```
//! use wifi_sensing_core::formats::feitcsi::{FeitCsiReader, HEADER_LEN};
//! use wifi_sensing_core::{CaptureReader, ReaderOptions, Record};
//! // one record: 1 rx, 1 tx, 2 subcarriers
//! let mut rec = vec![0u8; HEADER_LEN];
//! rec[0] = 8; // csi_length
//! rec[46] = 1;
//! rec[47] = 1;
//! rec[52] = 2;
//! rec[60] = 40; // rssi_1 = -40 dBm
//! for v in [3i16, -4, 5, 6] {
//!     rec.extend_from_slice(&v.to_le_bytes());
//! }
//! let mut r = FeitCsiReader::new(std::io::Cursor::new(rec), &ReaderOptions::default());
//! let Some(Ok(Record::Frame(f))) = r.next_record() else { panic!() };
//! assert_eq!(f.shape(), (1, 1, 2));
//! assert_eq!(f.csi[[0, 0, 1]], num_complex::Complex32::new(5.0, 6.0));
//! assert_eq!(f.chain_rssi, vec![-40.0]);
//! assert!(r.next_record().is_none());
//! ```
//!
//! [`Limits::max_record_bytes`]: crate::Limits

use std::io::{BufRead, Read};

use ndarray::Array3;
use num_complex::Complex32;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::formats::tones::{self, PhyFormat};
use crate::frame::{CaptureFormat, Clock, CsiFrame, Device, FormatMeta};
use crate::reader::{CaptureReader, Confidence, FormatDescriptor, Input, ReaderOptions};
use crate::record::Record;
use crate::util::read_full;

/// Size of the record header.
pub const HEADER_LEN: usize = 272;

/// CSIKit's `MAX_TICK`: the value added when a counter wraps (one less than `2^32`).
const MAX_TICK: u64 = 4_294_967_295;

/// Modulation type of `rate_n_flags` bits 8–10.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RateFormat {
    /// 0: CCK (802.11b).
    Cck,
    /// 1: legacy OFDM (802.11a/g).
    LegacyOfdm,
    /// 2: HT (802.11n).
    Ht,
    /// 3: VHT (802.11ac).
    Vht,
    /// 4: HE (802.11ax).
    He,
    /// 5: EHT (802.11be).
    Eht,
    /// 6 or 7: not defined.
    Unknown,
}

impl RateFormat {
    /// The name CSIKit prints (`"CCK"`, `"LEGACY_OFDM"`, `"HT"`, `"VHT"`, `"HE"`, `"EHT"`,
    /// `"unknown"`).
    pub fn name(self) -> &'static str {
        match self {
            RateFormat::Cck => "CCK",
            RateFormat::LegacyOfdm => "LEGACY_OFDM",
            RateFormat::Ht => "HT",
            RateFormat::Vht => "VHT",
            RateFormat::He => "HE",
            RateFormat::Eht => "EHT",
            RateFormat::Unknown => "unknown",
        }
    }

    /// The tone plan family of this modulation, where one is defined.
    pub fn phy_format(self) -> Option<PhyFormat> {
        match self {
            RateFormat::Cck | RateFormat::LegacyOfdm => Some(PhyFormat::NonHt),
            RateFormat::Ht => Some(PhyFormat::Ht),
            RateFormat::Vht => Some(PhyFormat::Vht),
            RateFormat::He => Some(PhyFormat::He),
            RateFormat::Eht | RateFormat::Unknown => None,
        }
    }
}

/// Intel `rate_n_flags` (firmware rate format version 2, as FeitCSI and PicoScenes' MVMExtra
/// store it), decoded.
///
/// ```
/// use wifi_sensing_core::formats::feitcsi::{RateFormat, RateInfo};
/// let r = RateInfo::from_rate_n_flags(0x0010_C207);
/// assert_eq!(r.format, RateFormat::Ht);
/// assert_eq!(r.channel_width_mhz, Some(20));
/// assert_eq!((r.mcs, r.nss, r.antenna_a, r.antenna_b, r.ldpc), (7, 1, true, true, false));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateInfo {
    /// Modulation type (bits 8–10).
    pub format: RateFormat,
    /// Channel width (bits 11–13: 0 = 20, 1 = 40, 2 = 80, 3 = 160, 4 = 320 MHz); `None` for 5–7.
    pub channel_width_mhz: Option<u16>,
    /// MCS: bits 0–2 for HT, bits 0–3 for VHT/HE/EHT; for CCK/legacy OFDM the legacy rate index
    /// (bits 0–3). CSIKit masks every format with bits 0–2; the two agree for MCS 0–7.
    pub mcs: u8,
    /// Spatial streams: 1 + bit 4 (the "NSS = 2" flag) for HT/VHT/HE/EHT, 1 otherwise.
    pub nss: u8,
    /// Bit 14: antenna A used.
    pub antenna_a: bool,
    /// Bit 15: antenna B used.
    pub antenna_b: bool,
    /// Bit 16: LDPC coding. (CSIKit also reports this bit as `ss = 2` and `beamforming`; those
    /// masks overlap with LDPC in CSIKit and are not separate fields here.)
    pub ldpc: bool,
}

impl RateInfo {
    /// Decodes a `rate_n_flags` word.
    pub fn from_rate_n_flags(v: u32) -> Self {
        let format = match (v >> 8) & 7 {
            0 => RateFormat::Cck,
            1 => RateFormat::LegacyOfdm,
            2 => RateFormat::Ht,
            3 => RateFormat::Vht,
            4 => RateFormat::He,
            5 => RateFormat::Eht,
            _ => RateFormat::Unknown,
        };
        let channel_width_mhz = match (v >> 11) & 7 {
            0 => Some(20),
            1 => Some(40),
            2 => Some(80),
            3 => Some(160),
            4 => Some(320),
            _ => None,
        };
        let (mcs, nss) = match format {
            RateFormat::Ht => ((v & 7) as u8, 1 + ((v >> 4) & 1) as u8),
            RateFormat::Vht | RateFormat::He | RateFormat::Eht => {
                ((v & 0xF) as u8, 1 + ((v >> 4) & 1) as u8)
            }
            _ => ((v & 0xF) as u8, 1),
        };
        RateInfo {
            format,
            channel_width_mhz,
            mcs,
            nss,
            antenna_a: v & (1 << 14) != 0,
            antenna_b: v & (1 << 15) != 0,
            ldpc: v & (1 << 16) != 0,
        }
    }

    /// The standard subcarrier indices for this rate's format and width, if their number is `n`.
    pub fn subcarriers(&self, n: usize) -> Option<Vec<i16>> {
        let f = self.format.phy_format()?;
        let bw = self.channel_width_mhz?;
        (tones::tone_count(f, bw)? == n)
            .then(|| tones::tone_indices(f, bw))
            .flatten()
    }
}

/// FeitCSI header fields of one record (CSIKit's names).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FeitCsiMeta {
    /// Bytes of CSI after the header.
    pub csi_length: u32,
    /// FTM clock (3.125 ns ticks).
    pub ftm_clock: u32,
    /// µs clock.
    pub mu_clock: u32,
    /// Receive chains.
    pub num_rx: u8,
    /// Transmit streams.
    pub num_tx: u8,
    /// Subcarriers per chain.
    pub num_subcarriers: u32,
    /// Chain A RSSI as stored (a positive number; the signal is `-rssi_1` dBm).
    pub rssi_1: u32,
    /// Chain B RSSI as stored.
    pub rssi_2: u32,
    /// Source MAC address.
    pub source_mac: [u8; 6],
    /// Raw `rate_n_flags`.
    pub rate_flags: u32,
    /// `rate_flags` decoded.
    pub rate: RateInfo,
    /// CSIKit's derived timestamp in seconds since the first record of the stream (see the
    /// module docs).
    pub timestamp: f64,
}

/// Options of the FeitCSI reader.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FeitCsiOptions {
    /// Device reported in [`CsiFrame::device`] (the file does not say). Default
    /// [`Device::Ax210`].
    pub device: Device,
}

impl Default for FeitCsiOptions {
    fn default() -> Self {
        FeitCsiOptions {
            device: Device::Ax210,
        }
    }
}

/// The fields of a 272-byte header this reader uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Bytes of CSI that follow.
    pub csi_length: u32,
    /// FTM clock.
    pub ftm_clock: u32,
    /// Receive chains.
    pub num_rx: u8,
    /// Transmit streams.
    pub num_tx: u8,
    /// Subcarriers.
    pub num_subcarriers: u32,
    /// Chain A RSSI (stored value).
    pub rssi_1: u32,
    /// Chain B RSSI (stored value).
    pub rssi_2: u32,
    /// Source MAC.
    pub source_mac: [u8; 6],
    /// µs clock.
    pub mu_clock: u32,
    /// `rate_n_flags`.
    pub rate_flags: u32,
}

impl Header {
    /// Parses the fields of a header (`h` must hold at least [`HEADER_LEN`] bytes, else `None`).
    pub fn parse(h: &[u8]) -> Option<Header> {
        let h: &[u8; HEADER_LEN] = h.get(..HEADER_LEN)?.try_into().ok()?;
        Some(Header::from_bytes(h))
    }

    /// Parses the fields of a complete header.
    pub fn from_bytes(h: &[u8; HEADER_LEN]) -> Header {
        let u32_at = |o: usize| u32::from_le_bytes([h[o], h[o + 1], h[o + 2], h[o + 3]]);
        let mut source_mac = [0u8; 6];
        source_mac.copy_from_slice(&h[68..74]);
        Header {
            csi_length: u32_at(0),
            ftm_clock: u32_at(8),
            num_rx: h[46],
            num_tx: h[47],
            num_subcarriers: u32_at(52),
            rssi_1: u32_at(60),
            rssi_2: u32_at(64),
            source_mac,
            mu_clock: u32_at(88),
            rate_flags: u32_at(92),
        }
    }

    /// `4 · num_rx · num_tx · num_subcarriers`, the CSI size the counts imply.
    pub fn implied_csi_length(&self) -> u64 {
        4 * u64::from(self.num_rx) * u64::from(self.num_tx) * u64::from(self.num_subcarriers)
    }
}

/// CSIKit's timestamp accumulator (see the module docs).
#[derive(Clone, Debug, Default)]
struct Clocks {
    prev: Option<(u32, u32)>,
    seconds: f64,
    picos: u128,
}

impl Clocks {
    fn advance(&mut self, ftm: u32, mu: u32) {
        let Some((pftm, pmu)) = self.prev else {
            self.prev = Some((ftm, mu));
            return;
        };
        // CSIKit compares the signed µs difference (in seconds) with the FTM wrap period.
        let mu_delta_s = (i64::from(mu) - i64::from(pmu)) as f64 / 1e6;
        let ftm_period_s = (MAX_TICK as f64 * 3.125) / 1e9;
        if mu_delta_s < ftm_period_s {
            let diff = if ftm > pftm {
                u64::from(ftm - pftm)
            } else {
                u64::from(ftm) + (MAX_TICK - u64::from(pftm))
            };
            self.seconds += (diff as f64 * 3.125) / 1e9;
            self.picos += u128::from(diff) * 3125;
        } else {
            let diff = if mu > pmu {
                u64::from(mu - pmu)
            } else {
                u64::from(mu) + (MAX_TICK - u64::from(pmu))
            };
            self.seconds += diff as f64 / 1e6;
            self.picos += u128::from(diff) * 1_000_000;
        }
        self.prev = Some((ftm, mu));
    }

    fn nanos(&self) -> i64 {
        i64::try_from(self.picos / 1000).unwrap_or(i64::MAX)
    }
}

/// Streaming reader of FeitCSI files.
pub struct FeitCsiReader<R> {
    input: R,
    pos: u64,
    done: bool,
    max_record: usize,
    max_values: usize,
    device: Device,
    header: [u8; HEADER_LEN],
    buf: Vec<u8>,
    clocks: Clocks,
    nodes: crate::nodes::MacNodeTable,
}

impl<R: BufRead + Send> FeitCsiReader<R> {
    /// A reader over `input` (which must start at a record header).
    pub fn new(input: R, options: &ReaderOptions) -> Self {
        FeitCsiReader {
            input,
            pos: 0,
            done: false,
            max_record: options.limits.max_record_bytes,
            max_values: options.limits.max_csi_values,
            device: options.feitcsi.device,
            header: [0; HEADER_LEN],
            buf: Vec::new(),
            clocks: Clocks::default(),
            nodes: crate::nodes::MacNodeTable::default(),
        }
    }

    fn read_record(&mut self) -> Option<Result<Record>> {
        let start = self.pos;
        let n = match read_full(&mut self.input, &mut self.header) {
            Ok(n) => n,
            Err(e) => return Some(Err(Error::io("cannot read FeitCSI input", e))),
        };
        if n == 0 {
            return None;
        }
        self.pos += n as u64;
        if n < HEADER_LEN {
            return Some(Err(Error::Truncated {
                format: CaptureFormat::FeitCsi,
                offset: start,
                needed: HEADER_LEN as u64,
                available: n as u64,
            }));
        }
        let h = Header::from_bytes(&self.header);
        let len = h.csi_length as usize;
        if len > self.max_record {
            return Some(Err(Error::LimitExceeded {
                format: CaptureFormat::FeitCsi,
                offset: start,
                what: "csi_length",
                value: u64::from(h.csi_length),
                limit: self.max_record as u64,
            }));
        }
        // Grow by reading, so a large (within-limit) length on a short input allocates little.
        self.buf.clear();
        let got = match (&mut self.input)
            .take(len as u64)
            .read_to_end(&mut self.buf)
        {
            Ok(g) => g,
            Err(e) => return Some(Err(Error::io("cannot read FeitCSI input", e))),
        };
        self.pos += got as u64;
        if got < len {
            return Some(Err(Error::Truncated {
                format: CaptureFormat::FeitCsi,
                offset: start,
                needed: (HEADER_LEN + len) as u64,
                available: (HEADER_LEN + got) as u64,
            }));
        }
        Some(self.decode(&h, start))
    }

    fn decode(&mut self, h: &Header, start: u64) -> Result<Record> {
        let malformed = |reason: String| Error::Malformed {
            format: CaptureFormat::FeitCsi,
            offset: start,
            line: None,
            reason,
        };
        if h.num_rx == 0 || h.num_tx == 0 || h.num_subcarriers == 0 {
            return Err(malformed(format!(
                "header counts num_rx = {}, num_tx = {}, num_subcarriers = {} include a zero",
                h.num_rx, h.num_tx, h.num_subcarriers
            )));
        }
        if h.implied_csi_length() != u64::from(h.csi_length) {
            return Err(malformed(format!(
                "csi_length = {} but 4 x num_rx {} x num_tx {} x num_subcarriers {} = {}",
                h.csi_length,
                h.num_rx,
                h.num_tx,
                h.num_subcarriers,
                h.implied_csi_length()
            )));
        }
        let (nrx, ntx, nsc) = (
            usize::from(h.num_rx),
            usize::from(h.num_tx),
            h.num_subcarriers as usize,
        );
        let n = nrx * ntx * nsc;
        if n > self.max_values {
            return Err(Error::LimitExceeded {
                format: CaptureFormat::FeitCsi,
                offset: start + 46,
                what: "num_rx * num_tx * num_subcarriers",
                value: n as u64,
                limit: self.max_values as u64,
            });
        }
        let data: Vec<Complex32> = self
            .buf
            .chunks_exact(4)
            .map(|c| {
                Complex32::new(
                    f32::from(i16::from_le_bytes([c[0], c[1]])),
                    f32::from(i16::from_le_bytes([c[2], c[3]])),
                )
            })
            .collect();
        let csi = Array3::from_shape_vec((nrx, ntx, nsc), data)
            .map_err(|e| malformed(format!("CSI shape: {e}")))?;

        self.clocks.advance(h.ftm_clock, h.mu_clock);
        let rate = RateInfo::from_rate_n_flags(h.rate_flags);
        let mut f = CsiFrame::new(CaptureFormat::FeitCsi, self.device, csi);
        f.timestamp_ns = self.clocks.nanos();
        f.clock = Clock::Device;
        f.mac = Some(h.source_mac);
        f.node_id = self.nodes.id(f.mac);
        let chains = [h.rssi_1, h.rssi_2];
        f.chain_rssi = chains
            .iter()
            .take(nrx.min(2))
            .map(|&r| -(r as f32))
            .collect();
        f.rssi_dbm = chains
            .iter()
            .take(nrx.min(2))
            .filter(|&&r| r != 0)
            .map(|&r| -(r as f32))
            .reduce(f32::max);
        f.bandwidth_mhz = rate.channel_width_mhz;
        f.subcarriers = rate.subcarriers(nsc);
        f.meta = FormatMeta::FeitCsi(FeitCsiMeta {
            csi_length: h.csi_length,
            ftm_clock: h.ftm_clock,
            mu_clock: h.mu_clock,
            num_rx: h.num_rx,
            num_tx: h.num_tx,
            num_subcarriers: h.num_subcarriers,
            rssi_1: h.rssi_1,
            rssi_2: h.rssi_2,
            source_mac: h.source_mac,
            rate_flags: h.rate_flags,
            rate,
            timestamp: self.clocks.seconds,
        });
        Ok(Record::Frame(f))
    }
}

impl<R: BufRead + Send> CaptureReader for FeitCsiReader<R> {
    fn format(&self) -> CaptureFormat {
        CaptureFormat::FeitCsi
    }

    fn next_record(&mut self) -> Option<Result<Record>> {
        if self.done {
            return None;
        }
        let r = self.read_record();
        crate::reader::fuse(&mut self.done, r)
    }

    fn position(&self) -> u64 {
        self.pos
    }
}

/// `true` when `h` is a plausible FeitCSI header: 1–8 chains and streams, 1–4096 subcarriers,
/// and `csi_length` equal to what the counts imply.
fn plausible(h: &Header) -> bool {
    (1..=8).contains(&h.num_rx)
        && (1..=8).contains(&h.num_tx)
        && (1..=4096).contains(&h.num_subcarriers)
        && h.implied_csi_length() == u64::from(h.csi_length)
}

/// Probe: a plausible first header (60), a standard subcarrier count (+10), and the next header
/// plausible too (90) or the input ending exactly after the first record (80). A prefix long
/// enough to show the second header that does not hold one scores 0.
pub fn probe(prefix: &[u8]) -> Confidence {
    let Some(h) = Header::parse(prefix) else {
        return 0;
    };
    if !plausible(&h) {
        return 0;
    }
    let mut score = 60;
    if [52u32, 56, 114, 242, 484, 996, 1992].contains(&h.num_subcarriers) {
        score += 10;
    }
    let next = HEADER_LEN + h.csi_length as usize;
    if prefix.len() == next {
        return score + 10;
    }
    if prefix.len() >= next + HEADER_LEN {
        return match Header::parse(&prefix[next..]) {
            Some(h2) if plausible(&h2) => score + 20,
            _ => 0,
        };
    }
    score
}

fn open(input: Input, options: &ReaderOptions) -> Result<Box<dyn CaptureReader>> {
    Ok(Box::new(FeitCsiReader::new(input, options)))
}

/// Registry entry of the FeitCSI format.
pub fn descriptor() -> FormatDescriptor {
    FormatDescriptor {
        format: CaptureFormat::FeitCsi,
        description: "FeitCSI .csi (Intel AX200/AX210)",
        extensions: &["csi"],
        probe,
        open,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn record(nrx: u8, ntx: u8, nsc: u32, ftm: u32, mu: u32, rate: u32) -> Vec<u8> {
        let mut r = vec![0u8; HEADER_LEN];
        let len = 4 * u32::from(nrx) * u32::from(ntx) * nsc;
        r[0..4].copy_from_slice(&len.to_le_bytes());
        r[8..12].copy_from_slice(&ftm.to_le_bytes());
        r[46] = nrx;
        r[47] = ntx;
        r[52..56].copy_from_slice(&nsc.to_le_bytes());
        r[60..64].copy_from_slice(&41u32.to_le_bytes());
        r[64..68].copy_from_slice(&45u32.to_le_bytes());
        r[68..74].copy_from_slice(&[1, 2, 3, 4, 5, 6]);
        r[88..92].copy_from_slice(&mu.to_le_bytes());
        r[92..96].copy_from_slice(&rate.to_le_bytes());
        for k in 0..(len / 4) as i16 {
            r.extend_from_slice(&k.to_le_bytes());
            r.extend_from_slice(&(-k).to_le_bytes());
        }
        r
    }

    fn read_all(bytes: Vec<u8>) -> Vec<Result<Record>> {
        let mut r = FeitCsiReader::new(Cursor::new(bytes), &ReaderOptions::default());
        std::iter::from_fn(|| r.next_record()).collect()
    }

    fn frame(r: &Result<Record>) -> &CsiFrame {
        match r {
            Ok(Record::Frame(f)) => f,
            other => panic!("expected a frame, got {other:?}"),
        }
    }

    #[test]
    fn decodes_layout_and_header() {
        let recs = read_all(record(2, 1, 56, 100, 5, 0x0010_C207));
        assert_eq!(recs.len(), 1);
        let f = frame(&recs[0]);
        assert_eq!(f.shape(), (2, 1, 56));
        // value k of the buffer is (k, -k); chain 1 starts at k = 56
        assert_eq!(f.csi[[0, 0, 3]], Complex32::new(3.0, -3.0));
        assert_eq!(f.csi[[1, 0, 0]], Complex32::new(56.0, -56.0));
        assert_eq!(f.mac, Some([1, 2, 3, 4, 5, 6]));
        assert_eq!(f.chain_rssi, vec![-41.0, -45.0]);
        assert_eq!(f.rssi_dbm, Some(-41.0));
        assert_eq!(f.bandwidth_mhz, Some(20));
        assert_eq!(f.subcarriers.as_ref().map(Vec::len), Some(56));
        assert_eq!((f.timestamp_ns, f.clock), (0, Clock::Device));
        let FormatMeta::FeitCsi(m) = &f.meta else {
            panic!()
        };
        assert_eq!((m.rate.mcs, m.rate.format), (7, RateFormat::Ht));
    }

    #[test]
    fn node_ids_number_source_macs_in_order_of_first_appearance() {
        let from = |mac: u8| {
            let mut r = record(1, 1, 4, 0, 0, 0);
            r[68..74].copy_from_slice(&[mac; 6]);
            r
        };
        let b: Vec<u8> = [5, 9, 5, 5, 3, 9].into_iter().flat_map(from).collect();
        let ids: Vec<u32> = read_all(b).iter().map(|r| frame(r).node_id).collect();
        assert_eq!(ids, vec![0, 1, 0, 0, 2, 1]);
    }

    #[test]
    fn timestamps_follow_ftm_then_mu_and_wraps() {
        let mut b = record(1, 1, 4, 1000, 10, 0);
        b.extend(record(1, 1, 4, 1320, 11, 0)); // +320 ticks = 1000 ns
        b.extend(record(1, 1, 4, 20, 12, 0)); // ftm wrapped: + (20 + MAX_TICK - 1320) ticks
        b.extend(record(1, 1, 4, 5, 20_000_012, 0)); // mu advanced 20 s: use mu
        let recs = read_all(b);
        let ts: Vec<i64> = recs.iter().map(|r| frame(r).timestamp_ns).collect();
        assert_eq!(ts[0], 0);
        assert_eq!(ts[1], 1000);
        let wrap_ps = (20u128 + u128::from(MAX_TICK) - 1320) * 3125;
        assert_eq!(ts[2], (1_000_000 + wrap_ps) as i64 / 1000);
        assert_eq!(ts[3], ts[2] + 20_000_000_000);
        let FormatMeta::FeitCsi(m) = &frame(&recs[1]).meta else {
            panic!()
        };
        assert_eq!(m.timestamp, 1e-6);
    }

    #[test]
    fn count_mismatch_is_malformed_and_skipped() {
        let mut bad = record(2, 1, 56, 0, 0, 0);
        bad[52] = 57; // counts now imply 456 bytes, csi_length says 448
        bad.extend(record(1, 1, 52, 0, 0, 0));
        let recs = read_all(bad);
        assert_eq!(recs.len(), 2);
        let e = recs[0].as_ref().unwrap_err();
        assert!(e.is_recoverable(), "{e}");
        assert_eq!(e.offset(), Some(0));
        assert!(e.to_string().contains("csi_length = 448"), "{e}");
        assert_eq!(frame(&recs[1]).shape(), (1, 1, 52));
    }

    #[test]
    fn zero_counts_are_malformed() {
        let mut b = vec![0u8; HEADER_LEN];
        b.extend(record(1, 1, 2, 0, 0, 0));
        let recs = read_all(b);
        assert!(recs[0].as_ref().unwrap_err().to_string().contains("zero"));
        assert_eq!(frame(&recs[1]).shape(), (1, 1, 2));
    }

    #[test]
    fn truncated_tail_after_complete_records() {
        let mut b = record(1, 1, 8, 0, 0, 0);
        let first = b.len() as u64;
        b.extend(record(1, 1, 8, 0, 0, 0));
        b.truncate(b.len() - 5);
        let recs = read_all(b);
        assert_eq!(recs.len(), 2);
        frame(&recs[0]);
        match recs[1].as_ref().unwrap_err() {
            Error::Truncated {
                offset,
                needed,
                available,
                ..
            } => {
                assert_eq!(*offset, first);
                assert_eq!(*needed, 272 + 32);
                assert_eq!(*available, 272 + 27);
            }
            e => panic!("{e}"),
        }
        // a cut header
        let recs = read_all(vec![0u8; 100]);
        assert!(matches!(
            recs[0],
            Err(Error::Truncated {
                needed: 272,
                available: 100,
                ..
            })
        ));
    }

    #[test]
    fn absurd_length_is_limited_without_allocation() {
        let mut b = vec![0u8; HEADER_LEN];
        b[0..4].copy_from_slice(&u32::MAX.to_le_bytes());
        let recs = read_all(b);
        assert_eq!(recs.len(), 1);
        assert!(matches!(
            recs[0],
            Err(Error::LimitExceeded {
                what: "csi_length",
                ..
            })
        ));
        // within the byte limit but claiming more values than allowed
        let mut opts = ReaderOptions::default();
        opts.limits.max_csi_values = 10;
        let mut r = FeitCsiReader::new(Cursor::new(record(2, 2, 8, 0, 0, 0)), &opts);
        assert!(matches!(
            r.next_record(),
            Some(Err(Error::LimitExceeded { .. }))
        ));
        assert!(r.next_record().is_none());
    }

    #[test]
    fn empty_input_has_no_records() {
        assert!(read_all(Vec::new()).is_empty());
    }

    #[test]
    fn rate_decoding() {
        let r = RateInfo::from_rate_n_flags(0x0011_DC00);
        assert_eq!(r.format, RateFormat::He);
        assert_eq!(r.channel_width_mhz, Some(160));
        assert!(r.ldpc && r.antenna_a && r.antenna_b);
        assert_eq!(r.subcarriers(1992).map(|v| v.len()), Some(1992));
        assert_eq!(r.subcarriers(2020), None);
        let v = RateInfo::from_rate_n_flags(0x0000_0319 | (2 << 11));
        assert_eq!(
            (v.format, v.mcs, v.nss, v.channel_width_mhz),
            (RateFormat::Vht, 9, 2, Some(80))
        );
        assert_eq!(
            RateInfo::from_rate_n_flags(7 << 8).format,
            RateFormat::Unknown
        );
        assert_eq!(RateInfo::from_rate_n_flags(7 << 11).channel_width_mhz, None);
    }

    #[test]
    fn probe_scores() {
        let one = record(2, 1, 56, 0, 0, 0);
        assert_eq!(probe(&one), 80);
        let mut two = one.clone();
        two.extend(record(2, 1, 56, 0, 0, 0));
        assert_eq!(probe(&two), 90);
        let mut bad_next = one.clone();
        bad_next.extend(vec![0xFFu8; 300]);
        assert_eq!(probe(&bad_next), 0);
        assert_eq!(probe(&one[..200]), 0);
        assert_eq!(probe(&[0u8; 600]), 0);
    }
}
