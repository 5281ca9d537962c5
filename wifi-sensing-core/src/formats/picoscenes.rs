//! PicoScenes `.csi` files (QCA9300, Intel 5300, Intel AX200/AX210 and USRP receivers).
//!
//! # Container (FORMATS.md §5.1, all little-endian)
//!
//! A file is a concatenation of frames:
//!
//! | off | size | field |
//! |---|---|---|
//! | 0 | 4 | `frameLength`: bytes that follow this field |
//! | 4 | 4 | magic `0x20150315` |
//! | 8 | 2 | frame version (1) |
//! | 10 | 1 | `numRxSegments` |
//! | 11 | … | the Rx segments, then the MPDU up to the end of the frame |
//!
//! A segment is `u32 segmentLength` (bytes that follow), `u8 nameLength` (with the NUL), the
//! name, `u16 version`, then the body; the next segment starts `4 + segmentLength` bytes later.
//! Every length is checked against the frame's end before it is used; segments this reader does
//! not decode (`LegacyCSI`, `BasebandSignal`, `PreEQSymbols`, `PilotCSI`, …) are skipped by
//! their length. The MPDU starts with the 802.11 header ([`MacHeader`]; 24 bytes for data and
//! management frames, shorter for control frames: the kit's AX200 files hold 16-byte RTS and
//! 10-byte CTS/ACK MPDUs, whose missing fields are `None` — csiread reads them from the bytes after
//! the frame), optionally followed by a PicoScenes Tx header ([`TxHeader`]) when the next u32 is
//! the magic. [`CsiFrame::mac`] is Address 2 (the transmitter), [`CsiFrame::sequence`] the
//! 12-bit sequence number of data and management frames (`None` for control frames, which have
//! no Sequence Control field; [`MacHeader::sequence`] still holds bytes 22..24 as csiread reads
//! them, e.g. a BlockAckReq's starting sequence).
//!
//! **Node ids.** A file can hold frames of several transmitters (the kit's `ax200_demo.csi` has
//! four MAC addresses), each with its own sequence counter, so [`CsiFrame::node_id`] numbers the
//! transmitters: 0, 1, 2, … in order of first appearance of Address 2 (the first 256; later ones
//! share id 256). Frames whose MPDU names no transmitter (CTS and ACK control frames, or an MPDU
//! too short for a MAC header) share one node id of their own, numbered the same way when the
//! first such frame appears. A single-transmitter file is node 0 throughout. The rule is
//! [`MacNodeTable`](crate::nodes::MacNodeTable)'s; frames passed over (no CSI) take no id.
//!
//! Known segments with a version this reader does not know (`RxSBasic` v7+, `ExtraInfo` or
//! `MVMExtra` v2+) are skipped like unknown segments (their meta field stays `None`); a `CSI`
//! segment of an unknown version, or of an unknown device type, makes the frame malformed. When a
//! segment name repeats, the first one is used.
//!
//! # Segments decoded
//!
//! - `RxSBasic` v1–v6 ([`RxSBasic`]; v1–v3 as in FORMATS §5.2, v4–v6 as PicoScenes'
//!   RXS-Parsing-Core defines them: v4 adds the host `systemTime`, v5 eight chain RSSIs, v6 float
//!   RSSIs).
//! - `ExtraInfo` v1 ([`ExtraInfo`], §5.3), every field the feature bitmap announces.
//! - `MVMExtra` v1 ([`MvmExtra`], §5.5): FTM clock, µs clock, `rate_n_flags` and the other fields
//!   of Intel's CSI header.
//! - `CSI` v1–v4 ([`CsiInfo`], §5.4) and its buffer, by device type:
//!   - `0x9300` QCA9300: 10-bit two's-complement bit stream (§4.3), `[imag, real]` per value,
//!     rx fastest, then stream, then tone; no offset is added (D2/D4);
//!   - `0x5300` IWL5300: the Intel bfee bit stream (§3.2), 30 groups, tx fastest; **no antenna
//!     permutation** (D6; `antSel` is kept in [`CsiInfo::ant_sel`]);
//!   - `0x2000`/`0x2100` AX200/AX210 (Intel MVM): int16 `(real, imag)` pairs, every one of the
//!     `numTones` values per chain including pilots, chains rx-major (D12, CSIKit's order). The
//!     buffer must be exactly `4 · numTones · numRx · numTx` bytes. (The current official
//!     RXS-Parsing-Core reads these pairs as `(imag, real)`; CSIKit, csiread and the kit's golden
//!     files read `(real, imag)`, and so does this reader.)
//!   - `0x1234` USRP: `numTones` i16 subcarrier indices, then a *SignalMatrix* (`BBv1`/`BBv2`,
//!     dimensions, `C`omplex `D`ouble 64-bit elements, storage order `C` column-major or `R`
//!     row-major). The dimensions are `[numTones, streams, numRx]` as PicoScenes writes CSI
//!     matrices; both storage orders are honoured. Values are converted from f64 to f32.
//!
//! # Conventions
//!
//! - **Shape.** QCA9300, IWL5300 and USRP frames are `[numRx, streams, numTones]` where, for the
//!   two NICs, `streams = numTx + numESS` is derived from the buffer length (§5.4:
//!   `len / 140 (20 MHz) or 285 / numRx` and `(len − 12) / 60 / numRx`). MVM frames are
//!   `[numRx, numTx, numTones]`. Shapes may change from frame to frame.
//! - **Subcarrier indices** ([`CsiFrame::subcarriers`]): QCA9300 and MVM use the standard tone
//!   list of the CSI segment's packet format and bandwidth ([`super::tones`]) when its size
//!   equals `numTones` (else `None`); IWL5300 the 30 group indices; USRP the indices stored in the
//!   buffer. The CSI segment's `subcarrierOffset` is added to the standard lists. (csiread leaves
//!   two of the 30 IWL5300 entries without the offset; every kit file has offset 0.)
//! - **RSSI.** For RxSBasic v1/v2 the stored RSSIs are relative to the noise floor:
//!   `rssi = noiseFloor + stored` (as the official parser and csiread report them); v3+ store dBm.
//!   [`CsiFrame::rssi_dbm`] is that frame RSSI, [`CsiFrame::chain_rssi`] the first `numRx` chain
//!   values, [`CsiFrame::noise_floor_dbm`] the noise floor. The value −128 means "not measured"
//!   (AX200 noise floor) and gives `None`; a USRP frame whose stored noise floor and RSSI are all
//!   zero (the SDR does not measure them) has no RSSI or noise floor either.
//! - **Timestamp.** RxSBasic v4+ `systemTime` (host, ns since the epoch) when present and non-zero
//!   ([`Clock::Host`]); else, for USRP frames, `tstamp`, which the SDR front end fills with the
//!   host time in ns (the kit's USRP file: 2021-04-02) ([`Clock::Host`]); else, when an
//!   `MVMExtra` segment is present, its µs clock `muClock` (AX200 files store `tstamp` = 0)
//!   ([`Clock::Device`]); else the NIC's `tstamp` in µs ([`Clock::Device`]). The raw values stay in
//!   the meta.
//! - **Frames without a CSI segment** are consistent frames, not errors: they are passed over and
//!   counted ([`CaptureReader::passed_over`], [`ReadStats::passed_over`](crate::ReadStats)); with
//!   [`PicoScenesOptions::keep_frames_without_csi`] they are delivered with an empty `[0, 0, 0]`
//!   CSI array and every header field. (Every frame of the kit's files has CSI.)
//! - **Errors.** A frame whose content is inconsistent (bad magic, a segment running past the
//!   frame, a CSI buffer too short for its counts, an unknown device type or CSI version) is one
//!   [`Error::Malformed`] record and reading goes on with the next frame. A `frameLength` above
//!   [`Limits::max_record_bytes`] ends the stream with [`Error::LimitExceeded`], and so does a CSI
//!   segment announcing more values than `Limits::max_csi_values`; an input cut inside a frame ends
//!   it with [`Error::Truncated`] after every complete frame.
//!
//! ```no_run
//! let cap = wifi_sensing_core::open("rx_by_qca9300.csi")?;
//! for frame in cap {
//!     let f = frame?;
//!     println!("{} {:?}", f, f.subcarriers.as_ref().map(Vec::len));
//! }
//! # Ok::<(), wifi_sensing_core::Error>(())
//! ```
//!
//! [`Limits::max_record_bytes`]: crate::Limits

use std::io::{BufRead, Read};

use ndarray::Array3;
use num_complex::Complex32;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::formats::adr018::freq_to_channel;
use crate::formats::tones::{self, PhyFormat};
use crate::frame::{CaptureFormat, Clock, CsiFrame, Device, FormatMeta};
use crate::reader::{
    CaptureReader, Confidence, FormatDescriptor, Input, ReaderOptions, SpareBuffers,
};
use crate::record::Record;
use crate::util::read_full;

/// Magic word of a frame (and of the Tx header).
pub const MAGIC: u32 = 0x2015_0315;

/// PicoScenes device type codes.
pub mod device_type {
    /// Qualcomm Atheros QCA9300.
    pub const QCA9300: u16 = 0x9300;
    /// Intel Wireless Link 5300.
    pub const IWL5300: u16 = 0x5300;
    /// Intel AX200 (MVM driver).
    pub const AX200: u16 = 0x2000;
    /// Intel AX210 (MVM driver).
    pub const AX210: u16 = 0x2100;
    /// Ettus USRP.
    pub const USRP: u16 = 0x1234;
}

/// The [`Device`] of a PicoScenes device type code.
pub fn device_of(code: u16) -> Device {
    match code {
        device_type::QCA9300 => Device::Qca9300,
        device_type::IWL5300 => Device::Iwl5300,
        device_type::AX200 => Device::Ax200,
        device_type::AX210 => Device::Ax210,
        device_type::USRP => Device::Usrp,
        _ => Device::Unknown,
    }
}

/// The 802.11 MAC header at the start of the MPDU, as far as the MPDU holds it: control frames
/// are shorter than 24 bytes (an RTS has 16, a CTS or ACK 10), so the later fields are optional.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MacHeader {
    /// Frame Control (LE u16: version bits 0–1, type 2–3, subtype 4–7, ToDS 8, FromDS 9,
    /// MoreFrags 10, Retry 11, PowerManagement 12, MoreData 13, Protected 14, Order 15).
    pub frame_control: u16,
    /// Duration.
    pub duration: u16,
    /// Address 1 (receiver).
    pub addr1: [u8; 6],
    /// Address 2 (transmitter), when the MPDU has 16 bytes or more.
    pub addr2: Option<[u8; 6]>,
    /// Address 3, when the MPDU has 22 bytes or more.
    pub addr3: Option<[u8; 6]>,
    /// Fragment number (Sequence Control bits 0–3), when the MPDU has 24 bytes or more.
    pub fragment: Option<u8>,
    /// Sequence number (Sequence Control bits 4–15), when the MPDU has 24 bytes or more.
    pub sequence: Option<u16>,
}

impl MacHeader {
    /// Whether this is a control frame (type 1: RTS, CTS, ACK, BlockAckReq, BlockAck, …), which
    /// has no Sequence Control field.
    pub fn is_control(&self) -> bool {
        (self.frame_control >> 2) & 3 == 1
    }
}

/// The PicoScenes Tx header that may follow the MAC header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxHeader {
    /// Magic (`0x20150315`).
    pub magic_value: u32,
    /// Version.
    pub version: u32,
    /// Device type of the transmitter.
    pub device_type: u16,
    /// Number of Tx segments that follow (not decoded).
    pub num_segments: u8,
    /// Frame type.
    pub frame_type: u8,
    /// Task id.
    pub task_id: u16,
    /// Tx id.
    pub tx_id: u16,
}

/// The `RxSBasic` segment: receive parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RxSBasic {
    /// Segment version (1–6).
    pub version: u16,
    /// Device type code.
    pub device_type: u16,
    /// `tstamp`: the receiver's timestamp (µs for the NICs, ns since the epoch for USRP).
    pub timestamp: u64,
    /// `systemTime`: host time in ns since the epoch (v4+).
    pub system_time: Option<u64>,
    /// Centre frequency in MHz.
    pub center_freq: i16,
    /// Second centre frequency in MHz (v5+).
    pub center_freq2: Option<i16>,
    /// Control channel frequency in MHz (v3+; the centre frequency before).
    pub control_freq: i16,
    /// Channel bandwidth in MHz.
    pub cbw: u16,
    /// Packet format (0 non-HT, 1 HT, 2 VHT, 3 HE-SU, 4 HE-MU, 5 EHT).
    pub packet_format: u8,
    /// Packet bandwidth in MHz (v3+; `cbw` before).
    pub packet_cbw: u16,
    /// Guard interval in ns.
    pub guard_interval: u16,
    /// MCS.
    pub mcs: u8,
    /// Space-time streams.
    pub num_sts: u8,
    /// Extension spatial streams.
    pub num_ess: u8,
    /// Receive chains.
    pub num_rx: u8,
    /// Users (v2+; 1 before).
    pub num_user: u8,
    /// User index (v2+; 0 before).
    pub user_index: u8,
    /// Noise floor in dBm.
    pub noise_floor: f32,
    /// Frame RSSI in dBm (v1/v2: noise floor + stored value).
    pub rssi: f32,
    /// Per-chain RSSI in dBm (v1/v2: noise floor + stored value); `num_rssi_ctl` are valid.
    pub rssi_ctl: [f32; 8],
    /// Number of valid entries of `rssi_ctl` (3 for v1–v4, 8 from v5).
    pub num_rssi_ctl: u8,
}

/// The `ExtraInfo` segment (receive-side extra information). Each field is present when its
/// feature bit is set.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ExtraInfo {
    /// The feature bitmap.
    pub feature_code: u32,
    /// Bit 1.
    pub length: Option<u16>,
    /// Bit 0.
    pub version: Option<u64>,
    /// Bit 2: current MAC address.
    pub macaddr_cur: Option<[u8; 6]>,
    /// Bit 3: MAC address in ROM.
    pub macaddr_rom: Option<[u8; 6]>,
    /// Bit 4.
    pub chansel: Option<u32>,
    /// Bit 5.
    pub bmode: Option<u8>,
    /// Bit 6: EVM per stream.
    pub evm: Option<[i8; 20]>,
    /// Bit 7.
    pub tx_chainmask: Option<u8>,
    /// Bit 8.
    pub rx_chainmask: Option<u8>,
    /// Bit 9.
    pub txpower: Option<u8>,
    /// Bit 10: carrier frequency in Hz.
    pub cf: Option<u64>,
    /// Bit 11.
    pub txtsf: Option<u32>,
    /// Bit 12.
    pub last_txtsf: Option<u32>,
    /// Bit 13.
    pub channel_flags: Option<u16>,
    /// Bit 14.
    pub tx_ness: Option<u8>,
    /// Bit 15.
    pub tuning_policy: Option<u8>,
    /// Bit 16.
    pub pll_rate: Option<u16>,
    /// Bit 17 (read before bit 18's byte, as the official parser does; csiread reads the two
    /// bytes the other way round and so reports this value as `PLLClockSelect`).
    pub pll_refdiv: Option<u8>,
    /// Bit 18.
    pub pll_clock_select: Option<u8>,
    /// Bit 19.
    pub agc: Option<u8>,
    /// Bit 20: antenna selection byte as stored (bits 0/2/4 per chain).
    pub ant_sel: Option<u8>,
    /// Bit 21: sampling rate.
    pub sampling_rate: Option<u64>,
    /// Bit 22: carrier frequency offset.
    pub cfo: Option<i32>,
    /// Bit 23: sampling frequency offset.
    pub sfo: Option<i32>,
    /// Bit 24.
    pub temperature: Option<i8>,
}

/// The `MVMExtra` segment: Intel's CSI header (AX200/AX210).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MvmExtra {
    /// Length of Intel's header.
    pub header_length: u16,
    /// IQ data size.
    pub iq_data_size: u32,
    /// FTM clock (3.125 ns ticks).
    pub ftm_clock: u32,
    /// Tones reported by the firmware.
    pub num_tones: u32,
    /// Chain A RSSI as stored (positive; signal = −value dBm).
    pub rssi1: u32,
    /// Chain B RSSI as stored.
    pub rssi2: u32,
    /// Source MAC address.
    pub source_address: [u8; 6],
    /// CSI sequence counter.
    pub csi_sequence: u8,
    /// µs clock.
    pub mu_clock: u32,
    /// Raw `rate_n_flags` (decode with
    /// [`RateInfo::from_rate_n_flags`](super::feitcsi::RateInfo::from_rate_n_flags)).
    pub rate_n_flags: u32,
}

/// Header of the SignalMatrix of a USRP CSI buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignalMatrixInfo {
    /// Matrix version (1 or 2).
    pub version: u8,
    /// Number of dimensions (1–4).
    pub ndim: u8,
    /// Dimensions (unused ones are 1).
    pub dims: [u64; 4],
    /// `true` for row-major (`R`), `false` for column-major (`C`) storage.
    pub row_major: bool,
}

/// The `CSI` segment header.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CsiInfo {
    /// Segment version (1–4).
    pub version: u16,
    /// Device type code.
    pub device_type: u16,
    /// Firmware version (v4 only).
    pub firmware_version: Option<u8>,
    /// Packet format (0 non-HT, 1 HT, 2 VHT, 3 HE-SU, 4 HE-MU).
    pub packet_format: i8,
    /// Channel bandwidth in MHz.
    pub cbw: u16,
    /// Carrier frequency in Hz.
    pub carrier_freq: u64,
    /// Sampling rate in Hz.
    pub sampling_rate: u64,
    /// Subcarrier spacing in Hz.
    pub subcarrier_bandwidth: u32,
    /// Tones per chain.
    pub num_tones: u16,
    /// Transmit streams as stated.
    pub num_tx: u8,
    /// Receive chains.
    pub num_rx: u8,
    /// Extension spatial streams as stated.
    pub num_ess: u8,
    /// Number of CSI matrices (v3+).
    pub num_csi: Option<u16>,
    /// Antenna selection byte.
    pub ant_sel: u8,
    /// Subcarrier index offset (v2+).
    pub subcarrier_offset: Option<i16>,
    /// Bytes of CSI buffer.
    pub csi_buffer_length: u32,
    /// Streams per receive chain in the decoded array (second dimension of the CSI).
    pub streams_per_chain: u16,
    /// USRP only: the SignalMatrix header (boxed to keep [`CsiFrame`] small).
    pub signal_matrix: Option<Box<SignalMatrixInfo>>,
}

/// PicoScenes header fields of one frame.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PicoScenesMeta {
    /// Frame version (1).
    pub frame_version: u16,
    /// `RxSBasic`, if present.
    pub rx_basic: Option<RxSBasic>,
    /// `ExtraInfo`, if present (boxed to keep [`CsiFrame`] small).
    pub extra_info: Option<Box<ExtraInfo>>,
    /// `MVMExtra`, if present.
    pub mvm_extra: Option<MvmExtra>,
    /// `CSI` segment header, if present.
    pub csi: Option<CsiInfo>,
    /// Bytes of MPDU after the Rx segments (802.11 header, Tx header, payload).
    pub mpdu_length: u32,
    /// The MPDU's 802.11 header, if the MPDU has 10 bytes or more.
    pub mac_header: Option<MacHeader>,
    /// The PicoScenes Tx header, if present.
    pub tx_header: Option<TxHeader>,
}

/// Options of the PicoScenes reader.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PicoScenesOptions {
    /// Deliver frames that have no CSI segment (with an empty `[0, 0, 0]` CSI array) instead of
    /// passing over them (they are counted in [`CaptureReader::passed_over`]). Default `false`.
    pub keep_frames_without_csi: bool,
}

// ---------------------------------------------------------------------------------------------
// Byte cursor

/// A bounds-checked little-endian cursor over a segment body.
struct Cur<'a> {
    b: &'a [u8],
    p: usize,
}

impl<'a> Cur<'a> {
    fn new(b: &'a [u8]) -> Self {
        Cur { b, p: 0 }
    }
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let s = self.b.get(self.p..self.p.checked_add(N)?)?;
        self.p += N;
        s.try_into().ok()
    }
    fn u8(&mut self) -> Option<u8> {
        self.take::<1>().map(|a| a[0])
    }
    fn i8(&mut self) -> Option<i8> {
        self.u8().map(|v| v as i8)
    }
    fn u16(&mut self) -> Option<u16> {
        self.take().map(u16::from_le_bytes)
    }
    fn i16(&mut self) -> Option<i16> {
        self.take().map(i16::from_le_bytes)
    }
    fn u32(&mut self) -> Option<u32> {
        self.take().map(u32::from_le_bytes)
    }
    fn i32(&mut self) -> Option<i32> {
        self.take().map(i32::from_le_bytes)
    }
    fn u64(&mut self) -> Option<u64> {
        self.take().map(u64::from_le_bytes)
    }
    fn f32(&mut self) -> Option<f32> {
        self.take().map(f32::from_le_bytes)
    }
}

// ---------------------------------------------------------------------------------------------
// Segments

/// One segment of a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment<'a> {
    /// Name without the terminating NUL.
    pub name: &'a [u8],
    /// Version.
    pub version: u16,
    /// Body (after the version field).
    pub body: &'a [u8],
    /// Position of the segment's length field inside the frame (counted from the frame's
    /// `frameLength` field).
    pub position: usize,
}

impl Segment<'_> {
    /// The name as text (lossy).
    pub fn name_str(&self) -> String {
        String::from_utf8_lossy(self.name).into_owned()
    }
}

/// Reads the segment starting at `cur` of `b` (a frame without its length field); returns it and
/// the start of the next one.
fn read_segment(b: &[u8], cur: usize) -> std::result::Result<(Segment<'_>, usize), String> {
    let pos = cur + 4; // position counted from the frameLength field
    let seg_len = b
        .get(cur..cur + 4)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]) as usize)
        .ok_or_else(|| format!("segment at frame byte {pos} has no room for its length field"))?;
    let end = (cur + 4)
        .checked_add(seg_len)
        .filter(|&e| e <= b.len())
        .ok_or_else(|| {
            format!(
                "segment at frame byte {pos} is {seg_len} bytes long but only {} bytes of the frame remain",
                b.len() - (cur + 4)
            )
        })?;
    let name_len = usize::from(b.get(cur + 4).copied().unwrap_or(0));
    if name_len == 0 || 1 + name_len + 2 > seg_len {
        return Err(format!(
            "segment at frame byte {pos}: length {seg_len} cannot hold a {name_len}-byte name and a version"
        ));
    }
    let raw_name = &b[cur + 5..cur + 5 + name_len];
    let name = raw_name.split(|&c| c == 0).next().unwrap_or(raw_name);
    let v = cur + 5 + name_len;
    let version = u16::from_le_bytes([b[v], b[v + 1]]);
    Ok((
        Segment {
            name,
            version,
            body: &b[v + 2..end],
            position: pos,
        },
        end,
    ))
}

/// The Rx segments of one frame, `frame` holding the whole frame (from its `frameLength`
/// field). Useful to inspect files; the reader uses the same walk.
///
/// ```
/// use wifi_sensing_core::formats::picoscenes::{frame_segments, MAGIC};
/// let mut f = Vec::new();
/// f.extend_from_slice(&MAGIC.to_le_bytes());
/// f.extend_from_slice(&1u16.to_le_bytes());
/// f.push(1); // one segment
/// f.extend_from_slice(&(1u32 + 4 + 2 + 3).to_le_bytes());
/// f.push(4);
/// f.extend_from_slice(b"Foo\0");
/// f.extend_from_slice(&7u16.to_le_bytes());
/// f.extend_from_slice(&[1, 2, 3]);
/// let mut frame = (f.len() as u32).to_le_bytes().to_vec();
/// frame.extend(f);
/// let segs = frame_segments(&frame).unwrap();
/// assert_eq!((segs[0].name, segs[0].version, segs[0].body), (&b"Foo"[..], 7, &[1u8, 2, 3][..]));
/// ```
pub fn frame_segments(frame: &[u8]) -> Result<Vec<Segment<'_>>> {
    let malformed = |reason: String| Error::Malformed {
        format: CaptureFormat::PicoScenes,
        offset: 0,
        line: None,
        reason,
    };
    let len = frame
        .get(..4)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]) as usize)
        .ok_or_else(|| malformed("frame shorter than its length field".into()))?;
    let b = frame.get(4..4 + len).ok_or_else(|| {
        malformed(format!(
            "frame announces {len} bytes, {} present",
            frame.len() - 4
        ))
    })?;
    check_frame_header(b).map_err(malformed)?;
    let mut out = Vec::new();
    let mut cur = 7;
    for _ in 0..b[6] {
        let (s, next) = read_segment(b, cur).map_err(malformed)?;
        out.push(s);
        cur = next;
    }
    Ok(out)
}

fn check_frame_header(b: &[u8]) -> std::result::Result<(), String> {
    if b.len() < 7 {
        return Err(format!(
            "frame of {} bytes is shorter than its 7-byte header",
            b.len()
        ));
    }
    let magic = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    if magic != MAGIC {
        return Err(format!("magic 0x{magic:08X} is not 0x{MAGIC:08X}"));
    }
    let version = u16::from_le_bytes([b[4], b[5]]);
    if version != 1 {
        return Err(format!("frame version {version} is not supported (only 1)"));
    }
    Ok(())
}

fn parse_rx_basic(version: u16, b: &[u8]) -> Option<RxSBasic> {
    let mut c = Cur::new(b);
    let device_type = c.u16()?;
    let timestamp = c.u64()?;
    let system_time = if version >= 4 { Some(c.u64()?) } else { None };
    let center_freq = c.i16()?;
    let center_freq2 = if version >= 5 { Some(c.i16()?) } else { None };
    let (control_freq, cbw, packet_format, packet_cbw);
    if version >= 3 {
        control_freq = c.i16()?;
        cbw = c.u16()?;
        packet_format = c.u8()?;
        packet_cbw = c.u16()?;
    } else {
        control_freq = center_freq;
        packet_format = c.u8()?;
        cbw = c.u16()?;
        packet_cbw = cbw;
    }
    let guard_interval = c.u16()?;
    let mcs = c.u8()?;
    let num_sts = c.u8()?;
    let num_ess = c.u8()?;
    let num_rx = c.u8()?;
    let (num_user, user_index) = if version >= 2 {
        (c.u8()?, c.u8()?)
    } else {
        (1, 0)
    };
    let n_ctl = if version >= 5 { 8 } else { 3 };
    let mut rssi_ctl = [0f32; 8];
    let (noise_floor, rssi);
    if version >= 6 {
        noise_floor = c.f32()?;
        rssi = c.f32()?;
        for r in rssi_ctl.iter_mut().take(n_ctl) {
            *r = c.f32()?;
        }
    } else {
        let nf = c.i8()?;
        let base = if version <= 2 { f32::from(nf) } else { 0.0 };
        noise_floor = f32::from(nf);
        rssi = base + f32::from(c.i8()?);
        for r in rssi_ctl.iter_mut().take(n_ctl) {
            *r = base + f32::from(c.i8()?);
        }
    }
    Some(RxSBasic {
        version,
        device_type,
        timestamp,
        system_time,
        center_freq,
        center_freq2,
        control_freq,
        cbw,
        packet_format,
        packet_cbw,
        guard_interval,
        mcs,
        num_sts,
        num_ess,
        num_rx,
        num_user,
        user_index,
        noise_floor,
        rssi,
        rssi_ctl,
        num_rssi_ctl: n_ctl as u8,
    })
}

fn parse_extra_info(b: &[u8]) -> Option<ExtraInfo> {
    let mut c = Cur::new(b);
    let fc = c.u32()?;
    let has = |bit: u32| fc >> bit & 1 != 0;
    let mut e = ExtraInfo {
        feature_code: fc,
        ..ExtraInfo::default()
    };
    macro_rules! field {
        ($bit:expr, $f:ident, $read:expr) => {
            if has($bit) {
                e.$f = Some($read);
            }
        };
    }
    field!(1, length, c.u16()?);
    field!(0, version, c.u64()?);
    field!(2, macaddr_cur, c.take()?);
    field!(3, macaddr_rom, c.take()?);
    field!(4, chansel, c.u32()?);
    field!(5, bmode, c.u8()?);
    field!(6, evm, c.take::<20>()?.map(|v| v as i8));
    field!(7, tx_chainmask, c.u8()?);
    field!(8, rx_chainmask, c.u8()?);
    field!(9, txpower, c.u8()?);
    field!(10, cf, c.u64()?);
    field!(11, txtsf, c.u32()?);
    field!(12, last_txtsf, c.u32()?);
    field!(13, channel_flags, c.u16()?);
    field!(14, tx_ness, c.u8()?);
    field!(15, tuning_policy, c.u8()?);
    field!(16, pll_rate, c.u16()?);
    field!(17, pll_refdiv, c.u8()?);
    field!(18, pll_clock_select, c.u8()?);
    field!(19, agc, c.u8()?);
    field!(20, ant_sel, c.u8()?);
    field!(21, sampling_rate, c.u64()?);
    field!(22, cfo, c.i32()?);
    field!(23, sfo, c.i32()?);
    field!(24, temperature, c.i8()?);
    Some(e)
}

fn parse_mvm_extra(b: &[u8]) -> Option<MvmExtra> {
    let h = b.get(2..2 + 96)?;
    let u32_at = |o: usize| u32::from_le_bytes([h[o], h[o + 1], h[o + 2], h[o + 3]]);
    let mut source_address = [0u8; 6];
    source_address.copy_from_slice(&h[68..74]);
    Some(MvmExtra {
        header_length: u16::from_le_bytes([b[0], b[1]]),
        iq_data_size: u32_at(0),
        ftm_clock: u32_at(8),
        num_tones: u32_at(52),
        rssi1: u32_at(60),
        rssi2: u32_at(64),
        source_address,
        csi_sequence: h[76],
        mu_clock: u32_at(88),
        rate_n_flags: u32_at(92),
    })
}

fn parse_mac_header(b: &[u8]) -> Option<MacHeader> {
    let mut c = Cur::new(b);
    let frame_control = c.u16()?;
    let duration = c.u16()?;
    let addr1 = c.take()?;
    let addr2 = c.take();
    let addr3 = addr2.and(c.take());
    let sc = addr3.and(c.u16());
    Some(MacHeader {
        frame_control,
        duration,
        addr1,
        addr2,
        addr3,
        fragment: sc.map(|v| (v & 0xF) as u8),
        sequence: sc.map(|v| v >> 4),
    })
}

fn parse_tx_header(b: &[u8]) -> Option<TxHeader> {
    let mut c = Cur::new(b);
    let magic_value = c.u32()?;
    if magic_value != MAGIC {
        return None;
    }
    Some(TxHeader {
        magic_value,
        version: c.u32()?,
        device_type: c.u16()?,
        num_segments: c.u8()?,
        frame_type: c.u8()?,
        task_id: c.u16()?,
        tx_id: c.u16()?,
    })
}

// ---------------------------------------------------------------------------------------------
// CSI

/// Decoded CSI of one segment.
struct DecodedCsi {
    info: CsiInfo,
    shape: (usize, usize, usize),
    values: Vec<Complex32>,
    subcarriers: Option<Vec<i16>>,
}

/// Failure while decoding a CSI segment: a malformed record, or a count above the limits.
enum CsiError {
    Malformed(String),
    Limit {
        what: &'static str,
        value: u64,
        limit: u64,
    },
}

impl From<String> for CsiError {
    fn from(s: String) -> Self {
        CsiError::Malformed(s)
    }
}

impl From<&str> for CsiError {
    fn from(s: &str) -> Self {
        CsiError::Malformed(s.to_string())
    }
}

fn phy_format(packet_format: i8) -> Option<PhyFormat> {
    match packet_format {
        0 => Some(PhyFormat::NonHt),
        1 => Some(PhyFormat::Ht),
        2 => Some(PhyFormat::Vht),
        3 | 4 => Some(PhyFormat::He),
        _ => None,
    }
}

fn standard_tones(format: Option<PhyFormat>, cbw: u16, n: usize, offset: i16) -> Option<Vec<i16>> {
    let f = format?;
    (tones::tone_count(f, cbw)? == n)
        .then(|| tones::tone_indices_offset(f, cbw, offset))
        .flatten()
}

/// `values` and `subcarriers`: buffers of a recycled frame, cleared and refilled (any content).
fn decode_csi(
    version: u16,
    b: &[u8],
    max_values: usize,
    values: Vec<Complex32>,
    subcarriers: Vec<i16>,
) -> std::result::Result<DecodedCsi, CsiError> {
    let short = || {
        CsiError::Malformed(format!(
            "CSI v{version} segment body of {} bytes is shorter than its header",
            b.len()
        ))
    };
    if !(1..=4).contains(&version) {
        return Err(format!("CSI segment version {version} is not supported (1-4)").into());
    }
    let mut c = Cur::new(b);
    let device = c.u16().ok_or_else(short)?;
    let firmware_version = if version >= 4 {
        Some(c.u8().ok_or_else(short)?)
    } else {
        None
    };
    let mut hdr = || -> Option<_> {
        let packet_format = c.i8()?;
        let cbw = c.u16()?;
        let carrier_freq = c.u64()?;
        let sampling_rate = c.u64()?;
        let subcarrier_bandwidth = c.u32()?;
        let num_tones = c.u16()?;
        let num_tx = c.u8()?;
        let num_rx = c.u8()?;
        let num_ess = c.u8()?;
        let num_csi = if version >= 3 { Some(c.u16()?) } else { None };
        let ant_sel = c.u8()?;
        let subcarrier_offset = if version >= 2 { Some(c.i16()?) } else { None };
        let csi_buffer_length = c.u32()?;
        Some((
            CsiInfo {
                version,
                device_type: device,
                firmware_version,
                packet_format,
                cbw,
                carrier_freq,
                sampling_rate,
                subcarrier_bandwidth,
                num_tones,
                num_tx,
                num_rx,
                num_ess,
                num_csi,
                ant_sel,
                subcarrier_offset,
                csi_buffer_length,
                streams_per_chain: 0,
                signal_matrix: None,
            },
            c.p,
        ))
    };
    let (mut info, at) = hdr().ok_or_else(short)?;
    let buf_len = info.csi_buffer_length as usize;
    let buf = b.get(at..at.saturating_add(buf_len)).ok_or_else(|| {
        CsiError::Malformed(format!(
            "csiBufferLength = {buf_len} but the CSI segment has {} bytes after its header",
            b.len() - at
        ))
    })?;
    let nt = usize::from(info.num_tones);
    let nr = usize::from(info.num_rx);
    let offset = info.subcarrier_offset.unwrap_or(0);
    if nt == 0 || nr == 0 {
        return Err(format!("CSI header has numTones = {nt}, numRx = {nr}").into());
    }
    let check_limit = |n: usize| -> std::result::Result<(), CsiError> {
        if n > max_values {
            Err(CsiError::Limit {
                what: "CSI values in a frame",
                value: n as u64,
                limit: max_values as u64,
            })
        } else {
            Ok(())
        }
    };
    let (shape, values, subcarriers) = match device {
        device_type::QCA9300 => {
            let per = if info.cbw == 20 { 140 } else { 285 };
            let ns = buf_len / per / nr;
            if ns == 0 {
                return Err(format!(
                    "QCA9300 CSI buffer of {buf_len} bytes holds no stream for {nr} rx chains"
                )
                .into());
            }
            let n = nt * ns * nr;
            if n * 20 > buf_len * 8 {
                return Err(format!(
                    "QCA9300 CSI needs {} bits for {nt} tones x {ns} streams x {nr} rx, buffer has {buf_len} bytes",
                    n * 20
                )
                .into());
            }
            check_limit(n)?;
            let v = decode_qca9300(buf, nt, ns, nr, values);
            let sc = standard_tones(Some(PhyFormat::Ht), info.cbw, nt, offset);
            ((nr, ns, nt), v, sc)
        }
        device_type::IWL5300 => {
            if nt != 30 {
                return Err(format!(
                    "IWL5300 CSI with numTones = {nt} (the bfee stream has 30 groups)"
                )
                .into());
            }
            if buf_len < 12 {
                return Err(
                    format!("IWL5300 CSI buffer of {buf_len} bytes is shorter than 12").into(),
                );
            }
            let ns = (buf_len - 12) / 60 / nr;
            if ns == 0 {
                return Err(format!(
                    "IWL5300 CSI buffer of {buf_len} bytes holds no stream for {nr} rx chains"
                )
                .into());
            }
            let n = nt * ns * nr;
            if 30 * (3 + 16 * ns * nr) > buf_len * 8 {
                return Err(format!(
                    "IWL5300 CSI buffer of {buf_len} bytes is too short for {nr} rx x {ns} streams"
                )
                .into());
            }
            check_limit(n)?;
            let v = decode_iwl5300(buf, ns, nr, values);
            let sc = tones::fill_iwl5300_groups(info.cbw, offset, subcarriers);
            ((nr, ns, 30), v, sc)
        }
        device_type::AX200 | device_type::AX210 => {
            let ntx = usize::from(info.num_tx);
            let n = nt * nr * ntx;
            if ntx == 0 || 4 * n != buf_len {
                return Err(format!(
                    "Intel MVM CSI buffer of {buf_len} bytes is not 4 x numTones {nt} x numRx {nr} x numTx {ntx}"
                )
                .into());
            }
            check_limit(n)?;
            let mut v = values;
            v.clear();
            v.extend(buf.chunks_exact(4).map(|p| {
                Complex32::new(
                    f32::from(i16::from_le_bytes([p[0], p[1]])),
                    f32::from(i16::from_le_bytes([p[2], p[3]])),
                )
            }));
            let sc = standard_tones(phy_format(info.packet_format), info.cbw, nt, offset);
            ((nr, ntx, nt), v, sc)
        }
        device_type::USRP => {
            let (shape, v, sc, m) = decode_usrp(buf, nt, max_values)?;
            info.signal_matrix = Some(Box::new(m));
            (shape, v, Some(sc))
        }
        other => return Err(format!("CSI device type 0x{other:04X} is not supported").into()),
    };
    info.streams_per_chain = shape.1 as u16;
    Ok(DecodedCsi {
        info,
        shape,
        values,
        subcarriers,
    })
}

#[inline]
fn sext10(x: u32) -> f32 {
    (((x << 22) as i32) >> 22) as f32
}

/// QCA9300 10-bit stream: value `c` (rx fastest, then stream, then tone) starts at bit `20 c`,
/// imag in its low 10 bits, real in the next 10; two values fill 5 bytes. The caller has checked
/// `20 · n ≤ 8 · len`.
/// `out`: a buffer to refill (any content).
fn decode_qca9300(
    buf: &[u8],
    nt: usize,
    ns: usize,
    nr: usize,
    mut out: Vec<Complex32>,
) -> Vec<Complex32> {
    let n = nt * ns * nr;
    out.clear();
    out.resize(n, Complex32::new(0.0, 0.0));
    // Destination of stream value c = (t, s, r) is (r·ns + s)·nt + t; walk it incrementally.
    let (mut t, mut s, mut r, mut dst) = (0usize, 0usize, 0usize, 0usize);
    let row = ns * nt;
    macro_rules! put {
        ($re:expr, $im:expr) => {
            if let Some(o) = out.get_mut(dst) {
                *o = Complex32::new(sext10($re), sext10($im));
            }
            r += 1;
            dst += row;
            if r == nr {
                r = 0;
                s += 1;
                if s == ns {
                    s = 0;
                    t += 1;
                }
                dst = s * nt + t;
            }
        };
    }
    let pairs = n / 2;
    // One 8-byte load per pair while 8 bytes remain, then 5-byte loads for the last pairs.
    let wide = pairs.min(buf.len().saturating_sub(3) / 5);
    for k in 0..wide {
        let Some(b8) = buf.get(5 * k..5 * k + 8) else {
            break;
        };
        let w = u64::from_le_bytes(b8.try_into().unwrap_or([0; 8]));
        put!((w >> 10) as u32, w as u32);
        put!((w >> 30) as u32, (w >> 20) as u32);
    }
    for ch in buf[5 * wide..].chunks_exact(5).take(pairs - wide) {
        let w =
            u64::from(u32::from_le_bytes([ch[0], ch[1], ch[2], ch[3]])) | u64::from(ch[4]) << 32;
        put!((w >> 10) as u32, w as u32);
        put!((w >> 30) as u32, (w >> 20) as u32);
    }
    if n % 2 == 1 {
        // an odd count ends with 20 bits in the next 3 bytes
        let b = &buf[5 * pairs..];
        let w = u32::from(b[0]) | u32::from(b[1]) << 8 | u32::from(b[2]) << 16;
        if let Some(o) = out.get_mut(dst) {
            *o = Complex32::new(sext10(w >> 10), sext10(w));
        }
    }
    out
}

/// Intel bfee stream: per group skip 3 bits, then for each rx (outer) and stream (inner) an int8
/// real and an int8 imag. The caller has checked that `30 (3 + 16 ns nr)` bits fit. `out`: a
/// buffer to refill (any content).
fn decode_iwl5300(buf: &[u8], ns: usize, nr: usize, mut out: Vec<Complex32>) -> Vec<Complex32> {
    out.clear();
    if nr <= 3 && ns <= 3 {
        // the layout of the Intel 5300 tool's bfee payload (rx outer, stream inner), which
        // that reader unpacks without a bounds check per value
        crate::formats::intel5300::unpack_payload(buf, nr, ns, [0, 1, 2], &mut out);
        return out;
    }
    out.resize(30 * ns * nr, Complex32::new(0.0, 0.0));
    let mut bit = 0usize;
    for tone in 0..30 {
        bit += 3;
        for r in 0..nr {
            for s in 0..ns {
                let i = bit >> 3;
                let hi = buf.get(i + 2).copied().unwrap_or(0);
                let w = (u32::from(buf[i]) | u32::from(buf[i + 1]) << 8 | u32::from(hi) << 16)
                    >> (bit & 7);
                out[(r * ns + s) * 30 + tone] =
                    Complex32::new(f32::from(w as u8 as i8), f32::from((w >> 8) as u8 as i8));
                bit += 16;
            }
        }
    }
    out
}

type UsrpCsi = (
    (usize, usize, usize),
    Vec<Complex32>,
    Vec<i16>,
    SignalMatrixInfo,
);

fn decode_usrp(buf: &[u8], nt: usize, max_values: usize) -> std::result::Result<UsrpCsi, CsiError> {
    let idx_bytes = 2 * nt;
    let sc: Vec<i16> = buf
        .get(..idx_bytes)
        .ok_or_else(|| {
            format!(
                "USRP CSI buffer of {} bytes cannot hold {nt} subcarrier indices",
                buf.len()
            )
        })?
        .chunks_exact(2)
        .map(|p| i16::from_le_bytes([p[0], p[1]]))
        .collect();
    let m = &buf[idx_bytes..];
    let mut c = Cur::new(m);
    let head = c.take::<4>().ok_or("USRP SignalMatrix header missing")?;
    if &head[..3] != b"BBv" || !(head[3] == b'1' || head[3] == b'2') {
        return Err(format!("USRP SignalMatrix header {head:02X?} is not BBv1/BBv2").into());
    }
    let version = head[3] - b'0';
    let ndim = c.u8().ok_or("USRP SignalMatrix cut in its dimensions")?;
    if !(1..=4).contains(&ndim) {
        return Err(format!("USRP SignalMatrix with {ndim} dimensions (1-4 supported)").into());
    }
    let mut dims = [1u64; 4];
    for d in dims.iter_mut().take(usize::from(ndim)) {
        *d = if version == 1 {
            c.u32().map(u64::from)
        } else {
            c.u64()
        }
        .ok_or("USRP SignalMatrix cut in its dimensions")?;
    }
    let [complexity, elem, bits, order] = c
        .take::<4>()
        .ok_or("USRP SignalMatrix cut in its element description")?;
    if complexity != b'C' || elem != b'D' || bits != 64 {
        return Err(format!(
            "USRP SignalMatrix element '{}{}' of {bits} bits is not supported (complex double only)",
            complexity as char, elem as char
        )
        .into());
    }
    let row_major = match order {
        b'R' => true,
        b'C' => false,
        o => {
            return Err(
                format!("USRP SignalMatrix storage order 0x{o:02X} is neither 'R' nor 'C'").into(),
            )
        }
    };
    if dims[3] != 1 {
        return Err(format!(
            "USRP SignalMatrix with {} CSI matrices (only 1 supported)",
            dims[3]
        )
        .into());
    }
    if dims[0] != nt as u64 {
        return Err(format!(
            "USRP SignalMatrix has {} tones, the CSI header {nt}",
            dims[0]
        )
        .into());
    }
    let (d0, d1, d2) = (dims[0], dims[1], dims[2]);
    let n = d0
        .checked_mul(d1)
        .and_then(|x| x.checked_mul(d2))
        .unwrap_or(u64::MAX);
    if n > max_values as u64 {
        return Err(CsiError::Limit {
            what: "USRP SignalMatrix elements",
            value: n,
            limit: max_values as u64,
        });
    }
    let n = n as usize;
    let data = m.get(c.p..c.p + 16 * n).ok_or_else(|| {
        format!(
            "USRP SignalMatrix of {n} elements needs {} bytes, {} present",
            16 * n,
            m.len() - c.p
        )
    })?;
    let (d0, d1, d2) = (d0 as usize, d1 as usize, d2 as usize);
    let val = |k: usize| {
        let e = &data[16 * k..16 * k + 16];
        let re = f64::from_le_bytes(e[..8].try_into().unwrap_or([0; 8]));
        let im = f64::from_le_bytes(e[8..].try_into().unwrap_or([0; 8]));
        Complex32::new(re as f32, im as f32)
    };
    // Matrix [tone, stream, rx]; output [rx][stream][tone]. Column-major storage is already in
    // the output order.
    let values: Vec<Complex32> = if row_major {
        let mut v = Vec::with_capacity(n);
        for r in 0..d2 {
            for s in 0..d1 {
                for t in 0..d0 {
                    v.push(val((t * d1 + s) * d2 + r));
                }
            }
        }
        v
    } else {
        (0..n).map(val).collect()
    };
    let info = SignalMatrixInfo {
        version,
        ndim,
        dims,
        row_major,
    };
    Ok(((d2, d1, d0), values, sc, info))
}

// ---------------------------------------------------------------------------------------------
// Frame

struct Config {
    max_record: usize,
    max_values: usize,
    keep_no_csi: bool,
}

/// The buffers of a frame handed back by [`CaptureReader::recycle`], refilled by the next frame
/// decoded instead of allocating new ones. Their contents never reach a frame: every buffer is
/// cleared before it is filled.
#[derive(Default)]
struct Spare {
    bufs: SpareBuffers,
    meta: Option<Box<PicoScenesMeta>>,
}

impl Spare {
    fn keep(&mut self, f: CsiFrame) {
        if let FormatMeta::PicoScenes(m) = self.bufs.keep(f) {
            self.meta = Some(m);
        }
    }
}

/// `Ok(None)`: a consistent frame without a CSI segment, passed over (unless `cfg.keep_no_csi`).
/// `spare`: buffers to refill (see [`Spare`]).
fn decode_frame(
    b: &[u8],
    offset: u64,
    cfg: &Config,
    spare: &mut Spare,
) -> Result<Option<CsiFrame>> {
    let malformed = |reason: String| Error::Malformed {
        format: CaptureFormat::PicoScenes,
        offset,
        line: None,
        reason,
    };
    check_frame_header(b).map_err(malformed)?;
    let mut meta = PicoScenesMeta {
        frame_version: 1,
        rx_basic: None,
        extra_info: None,
        mvm_extra: None,
        csi: None,
        mpdu_length: 0,
        mac_header: None,
        tx_header: None,
    };
    let mut spare_meta = spare.meta.take();
    let mut spare_extra = spare_meta.as_mut().and_then(|m| m.extra_info.take());
    let mut csi: Option<DecodedCsi> = None;
    let mut cur = 7;
    for _ in 0..b[6] {
        let (seg, next) = read_segment(b, cur).map_err(malformed)?;
        let bad = |what: &str| {
            malformed(format!(
                "{what} v{} segment at frame byte {} has a {}-byte body, too short for its fields",
                seg.version,
                seg.position,
                seg.body.len()
            ))
        };
        match seg.name {
            b"RxSBasic" if meta.rx_basic.is_none() && (1..=6).contains(&seg.version) => {
                meta.rx_basic =
                    Some(parse_rx_basic(seg.version, seg.body).ok_or_else(|| bad("RxSBasic"))?);
            }
            b"ExtraInfo" if meta.extra_info.is_none() && seg.version == 1 => {
                let e = parse_extra_info(seg.body).ok_or_else(|| bad("ExtraInfo"))?;
                meta.extra_info = Some(match spare_extra.take() {
                    Some(mut boxed) => {
                        *boxed = e;
                        boxed
                    }
                    None => Box::new(e),
                });
            }
            b"MVMExtra" if meta.mvm_extra.is_none() && seg.version == 1 => {
                meta.mvm_extra = Some(parse_mvm_extra(seg.body).ok_or_else(|| bad("MVMExtra"))?);
            }
            b"CSI" if csi.is_none() => {
                let d = decode_csi(
                    seg.version,
                    seg.body,
                    cfg.max_values,
                    spare.bufs.values(),
                    spare.bufs.empty_subcarriers(),
                )
                .map_err(|e| match e {
                    CsiError::Malformed(r) => {
                        malformed(format!("CSI segment at frame byte {}: {r}", seg.position))
                    }
                    CsiError::Limit { what, value, limit } => Error::LimitExceeded {
                        format: CaptureFormat::PicoScenes,
                        offset,
                        what,
                        value,
                        limit,
                    },
                })?;
                csi = Some(d);
            }
            _ => {}
        }
        cur = next;
    }
    let mpdu = &b[cur..];
    meta.mpdu_length = mpdu.len() as u32;
    meta.mac_header = parse_mac_header(mpdu);
    if meta.mac_header.is_some_and(|h| h.sequence.is_some()) {
        meta.tx_header = parse_tx_header(&mpdu[24..]);
    }

    let (device_code, array, subcarriers) = match csi {
        Some(d) => {
            let arr = Array3::from_shape_vec(d.shape, d.values)
                .map_err(|e| malformed(format!("CSI shape: {e}")))?;
            let code = d.info.device_type;
            meta.csi = Some(d.info);
            (code, arr, d.subcarriers)
        }
        None if cfg.keep_no_csi => (
            meta.rx_basic.as_ref().map_or(0, |r| r.device_type),
            Array3::zeros((0, 0, 0)),
            None,
        ),
        None => return Ok(None),
    };
    let mut f = CsiFrame::new(CaptureFormat::PicoScenes, device_of(device_code), array);
    f.subcarriers = subcarriers;
    if let Some(h) = &meta.mac_header {
        f.mac = h.addr2;
        // control frames have no Sequence Control field: bytes 22..24 of a BlockAckReq or
        // BlockAck are its BAR control / starting sequence, not the transmitter's counter
        if !h.is_control() {
            f.sequence = h.sequence.map(u32::from);
        }
    }
    let sdr = device_code == device_type::USRP;
    if let Some(rx) = &meta.rx_basic {
        let unmeasured_sdr = sdr && rx.noise_floor == 0.0 && rx.rssi == 0.0;
        if !unmeasured_sdr {
            if rx.noise_floor != -128.0 {
                f.noise_floor_dbm = Some(rx.noise_floor);
            }
            // v1/v2 store the RSSI relative to the noise floor; "not measured" is a stored -128
            let stored_rssi = if rx.version <= 2 {
                rx.rssi - rx.noise_floor
            } else {
                rx.rssi
            };
            if stored_rssi != -128.0 {
                f.rssi_dbm = Some(rx.rssi);
            }
            let n = usize::from(rx.num_rx).min(usize::from(rx.num_rssi_ctl));
            f.chain_rssi = spare.bufs.chain_rssi(&rx.rssi_ctl[..n]);
        }
        if rx.center_freq > 0 {
            f.center_freq_mhz = Some(rx.center_freq as u32);
        }
        if rx.cbw > 0 {
            f.bandwidth_mhz = Some(rx.cbw);
        }
        (f.timestamp_ns, f.clock) = match (rx.system_time, &meta.mvm_extra) {
            (Some(t), _) if t != 0 => (i64::try_from(t).unwrap_or(i64::MAX), Clock::Host),
            _ if sdr => (i64::try_from(rx.timestamp).unwrap_or(i64::MAX), Clock::Host),
            (_, Some(m)) => (i64::from(m.mu_clock) * 1000, Clock::Device),
            _ => (
                i64::try_from(rx.timestamp.saturating_mul(1000)).unwrap_or(i64::MAX),
                Clock::Device,
            ),
        };
    } else if let Some(m) = &meta.mvm_extra {
        (f.timestamp_ns, f.clock) = (i64::from(m.mu_clock) * 1000, Clock::Device);
    }
    if let Some(c) = &meta.csi {
        if f.center_freq_mhz.is_none() && c.carrier_freq > 0 {
            f.center_freq_mhz = u32::try_from(c.carrier_freq / 1_000_000).ok();
        }
        if f.bandwidth_mhz.is_none() && c.cbw > 0 {
            f.bandwidth_mhz = Some(c.cbw);
        }
    }
    f.channel = f.center_freq_mhz.and_then(freq_to_channel);
    f.meta = FormatMeta::PicoScenes(match spare_meta {
        Some(mut boxed) => {
            *boxed = meta;
            boxed
        }
        None => Box::new(meta),
    });
    Ok(Some(f))
}

/// Streaming reader of PicoScenes files.
pub struct PicoScenesReader<R> {
    input: R,
    pos: u64,
    done: bool,
    cfg: Config,
    buf: Vec<u8>,
    without_csi: u64,
    nodes: crate::nodes::MacNodeTable,
    spare: Spare,
}

impl<R: BufRead + Send> PicoScenesReader<R> {
    /// A reader over `input` (which must start at a frame).
    pub fn new(input: R, options: &ReaderOptions) -> Self {
        PicoScenesReader {
            input,
            pos: 0,
            done: false,
            cfg: Config {
                max_record: options.limits.max_record_bytes,
                max_values: options.limits.max_csi_values,
                keep_no_csi: options.picoscenes.keep_frames_without_csi,
            },
            buf: Vec::new(),
            without_csi: 0,
            nodes: crate::nodes::MacNodeTable::default(),
            spare: Spare::default(),
        }
    }

    /// The next frame; `Some(Ok(None))` for a frame without CSI that is passed over.
    fn read_frame(&mut self) -> Option<Result<Option<CsiFrame>>> {
        let start = self.pos;
        let io_err = |e| Error::io("cannot read PicoScenes input", e);
        let mut lenb = [0u8; 4];
        let n = match read_full(&mut self.input, &mut lenb) {
            Ok(n) => n,
            Err(e) => return Some(Err(io_err(e))),
        };
        if n == 0 {
            return None;
        }
        self.pos += n as u64;
        if n < 4 {
            return Some(Err(Error::Truncated {
                format: CaptureFormat::PicoScenes,
                offset: start,
                needed: 4,
                available: n as u64,
            }));
        }
        let len = u32::from_le_bytes(lenb) as usize;
        if len > self.cfg.max_record {
            return Some(Err(Error::LimitExceeded {
                format: CaptureFormat::PicoScenes,
                offset: start,
                what: "frameLength",
                value: len as u64,
                limit: self.cfg.max_record as u64,
            }));
        }
        // Fast path: the whole frame is in the input's buffer; decode it in place.
        match self.input.fill_buf() {
            Ok(avail) if avail.len() >= len => {
                let r = decode_frame(&avail[..len], start, &self.cfg, &mut self.spare);
                self.input.consume(len);
                self.pos += len as u64;
                return Some(r);
            }
            Ok(_) => {}
            Err(e) => return Some(Err(io_err(e))),
        }
        // Grow the buffer by reading, never by trusting `len` for a large allocation up front.
        self.buf.clear();
        let got = match (&mut self.input)
            .take(len as u64)
            .read_to_end(&mut self.buf)
        {
            Ok(g) => g,
            Err(e) => return Some(Err(io_err(e))),
        };
        self.pos += got as u64;
        if got < len {
            return Some(Err(Error::Truncated {
                format: CaptureFormat::PicoScenes,
                offset: start,
                needed: 4 + len as u64,
                available: 4 + got as u64,
            }));
        }
        Some(decode_frame(&self.buf, start, &self.cfg, &mut self.spare))
    }
}

impl<R: BufRead + Send> CaptureReader for PicoScenesReader<R> {
    fn format(&self) -> CaptureFormat {
        CaptureFormat::PicoScenes
    }

    fn next_record(&mut self) -> Option<Result<Record>> {
        if self.done {
            return None;
        }
        loop {
            let r = match self.read_frame() {
                Some(Ok(None)) => {
                    self.without_csi += 1;
                    continue;
                }
                Some(Ok(Some(mut f))) => {
                    f.node_id = self.nodes.id(f.mac);
                    Some(Ok(Record::Frame(f)))
                }
                Some(Err(e)) => Some(Err(e)),
                None => None,
            };
            return crate::reader::fuse(&mut self.done, r);
        }
    }

    fn position(&self) -> u64 {
        self.pos
    }

    /// Frames without a CSI segment (unless
    /// [`PicoScenesOptions::keep_frames_without_csi`] delivers them).
    fn passed_over(&self) -> u64 {
        self.without_csi
    }

    /// Keeps the frame's CSI, subcarrier, chain RSSI and metadata buffers for the next frame.
    fn recycle(&mut self, frame: CsiFrame) {
        self.spare.keep(frame);
    }
}

/// Probe: the magic and frame version 1 at bytes 4..10 (90), plus a first segment whose name is
/// printable ASCII ended by its NUL (100).
pub fn probe(prefix: &[u8]) -> Confidence {
    if prefix.len() < 11 || prefix[4..8] != MAGIC.to_le_bytes() || prefix[8..10] != [1, 0] {
        return 0;
    }
    let name_ok = prefix.get(15).is_some_and(|&n| {
        let n = usize::from(n);
        n >= 2
            && prefix
                .get(16..16 + n)
                .is_some_and(|s| s[n - 1] == 0 && s[..n - 1].iter().all(|c| c.is_ascii_graphic()))
    });
    if prefix[10] > 0 && name_ok {
        100
    } else {
        90
    }
}

fn open(input: Input, options: &ReaderOptions) -> Result<Box<dyn CaptureReader>> {
    Ok(Box::new(PicoScenesReader::new(input, options)))
}

/// Registry entry of the PicoScenes format.
pub fn descriptor() -> FormatDescriptor {
    FormatDescriptor {
        format: CaptureFormat::PicoScenes,
        description: "PicoScenes .csi (QCA9300, IWL5300, AX200/AX210, USRP)",
        extensions: &["csi"],
        probe,
        open,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    // ---- a small encoder for synthetic frames ----

    fn seg(name: &str, version: u16, body: &[u8]) -> Vec<u8> {
        let mut s = Vec::new();
        s.extend_from_slice(&((1 + name.len() + 1 + 2 + body.len()) as u32).to_le_bytes());
        s.push((name.len() + 1) as u8);
        s.extend_from_slice(name.as_bytes());
        s.push(0);
        s.extend_from_slice(&version.to_le_bytes());
        s.extend_from_slice(body);
        s
    }

    fn frame(segs: &[Vec<u8>], mpdu: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&MAGIC.to_le_bytes());
        b.extend_from_slice(&1u16.to_le_bytes());
        b.push(segs.len() as u8);
        for s in segs {
            b.extend_from_slice(s);
        }
        b.extend_from_slice(mpdu);
        let mut f = (b.len() as u32).to_le_bytes().to_vec();
        f.extend(b);
        f
    }

    fn mac_header(seq: u16) -> Vec<u8> {
        let mut m = vec![0x08, 0x02, 0, 0];
        m.extend_from_slice(&[1, 1, 1, 1, 1, 1]);
        m.extend_from_slice(&[2, 2, 2, 2, 2, 2]);
        m.extend_from_slice(&[3, 3, 3, 3, 3, 3]);
        m.extend_from_slice(&(seq << 4 | 5).to_le_bytes());
        m
    }

    /// RxSBasic v1 body: tstamp, 2437 MHz, HT, 20 MHz, noise floor -90, stored rssi 30/31/32/33.
    fn rx_v1(device: u16, tstamp: u64, num_rx: u8) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&device.to_le_bytes());
        b.extend_from_slice(&tstamp.to_le_bytes());
        b.extend_from_slice(&2437i16.to_le_bytes());
        b.push(1);
        b.extend_from_slice(&20u16.to_le_bytes());
        b.extend_from_slice(&800u16.to_le_bytes());
        b.extend_from_slice(&[3, 1, 0, num_rx]);
        b.extend_from_slice(&[(-90i8) as u8, 30, 31, 32, 33]);
        b
    }

    /// CSI segment v2 header + buffer.
    fn csi_v2(
        device: u16,
        cbw: u16,
        tones: u16,
        ntx: u8,
        nrx: u8,
        ant_sel: u8,
        buf: &[u8],
    ) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&device.to_le_bytes());
        b.push(1); // HT
        b.extend_from_slice(&cbw.to_le_bytes());
        b.extend_from_slice(&2_437_000_000u64.to_le_bytes());
        b.extend_from_slice(&20_000_000u64.to_le_bytes());
        b.extend_from_slice(&312_500u32.to_le_bytes());
        b.extend_from_slice(&tones.to_le_bytes());
        b.extend_from_slice(&[ntx, nrx, 0, ant_sel]);
        b.extend_from_slice(&0i16.to_le_bytes());
        b.extend_from_slice(&(buf.len() as u32).to_le_bytes());
        b.extend_from_slice(buf);
        seg("CSI", 2, &b)
    }

    /// CSI segment v4 header (Intel MVM) + buffer.
    fn csi_v4(
        device: u16,
        format: i8,
        cbw: u16,
        tones: u16,
        ntx: u8,
        nrx: u8,
        buf: &[u8],
    ) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&device.to_le_bytes());
        b.push(67);
        b.push(format as u8);
        b.extend_from_slice(&cbw.to_le_bytes());
        b.extend_from_slice(&5_180_000_000u64.to_le_bytes());
        b.extend_from_slice(&20_000_000u64.to_le_bytes());
        b.extend_from_slice(&312_500u32.to_le_bytes());
        b.extend_from_slice(&tones.to_le_bytes());
        b.extend_from_slice(&[ntx, nrx, 0]);
        b.extend_from_slice(&1u16.to_le_bytes());
        b.push(0);
        b.extend_from_slice(&0i16.to_le_bytes());
        b.extend_from_slice(&(buf.len() as u32).to_le_bytes());
        b.extend_from_slice(buf);
        seg("CSI", 4, &b)
    }

    /// Little-endian bit writer.
    #[derive(Default)]
    struct Bits {
        out: Vec<u8>,
        n: usize,
    }
    impl Bits {
        fn put(&mut self, v: u32, width: usize) {
            for k in 0..width {
                if self.n / 8 >= self.out.len() {
                    self.out.push(0);
                }
                if v >> k & 1 != 0 {
                    self.out[self.n / 8] |= 1 << (self.n % 8);
                }
                self.n += 1;
            }
        }
    }

    fn read_all(bytes: Vec<u8>, opts: &ReaderOptions) -> Vec<Result<Record>> {
        let mut r = PicoScenesReader::new(Cursor::new(bytes), opts);
        std::iter::from_fn(|| r.next_record()).collect()
    }

    fn frame_of(r: &Result<Record>) -> &CsiFrame {
        match r {
            Ok(Record::Frame(f)) => f,
            other => panic!("expected a frame, got {other:?}"),
        }
    }

    fn meta(f: &CsiFrame) -> &PicoScenesMeta {
        match &f.meta {
            FormatMeta::PicoScenes(m) => m,
            _ => panic!(),
        }
    }

    fn val(re: i32, im: i32) -> Complex32 {
        Complex32::new(re as f32, im as f32)
    }

    #[test]
    fn node_ids_number_transmitters_in_order_of_first_appearance() {
        let csi = || csi_v2(0x9300, 20, 56, 1, 1, 0, &[0u8; 140]);
        let from = |addr2: u8, seq: u16| {
            let mut m = mac_header(seq);
            m[10..16].copy_from_slice(&[addr2; 6]);
            frame(&[csi()], &m)
        };
        // a 10-byte ACK: frame control, duration, receiver address; no transmitter
        let ack = frame(&[csi()], &[0xd4, 0, 0, 0, 9, 9, 9, 9, 9, 9]);
        let mut bytes = Vec::new();
        for f in [
            from(7, 10),
            from(8, 500),
            ack.clone(),
            from(7, 11),
            from(8, 501),
            ack,
            from(7, 12),
        ] {
            bytes.extend(f);
        }
        let recs = read_all(bytes, &ReaderOptions::default());
        let ids: Vec<(u32, Option<[u8; 6]>)> = recs
            .iter()
            .map(frame_of)
            .map(|f| (f.node_id, f.mac))
            .collect();
        let (a, b) = (Some([7; 6]), Some([8; 6]));
        assert_eq!(
            ids,
            vec![(0, a), (1, b), (2, None), (0, a), (1, b), (2, None), (0, a)]
        );
        // per-node sequence statistics no longer mix the two counters
        let mut t = crate::NodeTracker::default();
        recs.iter().map(frame_of).for_each(|f| t.observe(f));
        assert_eq!(t.total_dropped(), 0);
        assert_eq!(t.nodes()[&0].frames, 3);
        assert_eq!(t.nodes()[&0].sequence_resets, 0);
    }

    #[test]
    fn control_frames_have_no_sequence_number() {
        let csi = || csi_v2(0x9300, 20, 56, 1, 1, 0, &[0u8; 140]);
        // a 24-byte BlockAckReq (type 1, subtype 8): bytes 22..24 are its starting sequence
        let mut bar = mac_header(0);
        bar[0] = 0x84;
        let mut bytes = frame(&[csi()], &mac_header(300));
        bytes.extend(frame(&[csi()], &bar));
        bytes.extend(frame(&[csi()], &mac_header(301)));
        let recs = read_all(bytes, &ReaderOptions::default());
        let seqs: Vec<Option<u32>> = recs.iter().map(|r| frame_of(r).sequence).collect();
        assert_eq!(seqs, vec![Some(300), None, Some(301)]);
        let f = frame_of(&recs[1]);
        let h = meta(f).mac_header.unwrap();
        assert!(h.is_control());
        assert_eq!((h.sequence, f.mac), (Some(0), Some([2; 6])));
        let mut t = crate::NodeTracker::default();
        recs.iter().map(frame_of).for_each(|f| t.observe(f));
        let n = &t.nodes()[&0];
        assert_eq!((n.dropped, n.sequence_resets), (0, 0));
    }

    // ---- decoding ----

    #[test]
    fn qca9300_ten_bit_stream_rx_fastest_and_streams_from_length() {
        // 56 tones, 2 rx; the header says 1 tx but the buffer holds 2 streams (numESS = 1)
        let (nt, ns, nr) = (56usize, 2usize, 2usize);
        let value = |t: usize, s: usize, r: usize| {
            let re = (t as i32 * 7 + s as i32 * 3 + r as i32) % 1024 - 512;
            let im = 511 - (t as i32 * 5 + s as i32 + r as i32 * 11) % 1024;
            (re, im)
        };
        let mut w = Bits::default();
        for t in 0..nt {
            for s in 0..ns {
                for r in 0..nr {
                    let (re, im) = value(t, s, r);
                    w.put(im as u32 & 0x3FF, 10);
                    w.put(re as u32 & 0x3FF, 10);
                }
            }
        }
        assert_eq!(w.out.len(), 140 * ns * nr);
        let f = frame(
            &[
                seg("RxSBasic", 1, &rx_v1(0x9300, 5_000, 2)),
                csi_v2(0x9300, 20, 56, 1, 2, 0, &w.out),
            ],
            &mac_header(77),
        );
        let recs = read_all(f, &ReaderOptions::default());
        let fr = frame_of(&recs[0]);
        assert_eq!(fr.shape(), (nr, ns, nt));
        for t in 0..nt {
            for s in 0..ns {
                for r in 0..nr {
                    let (re, im) = value(t, s, r);
                    assert_eq!(fr.csi[[r, s, t]], val(re, im), "t{t} s{s} r{r}");
                }
            }
        }
        assert_eq!(fr.device, Device::Qca9300);
        let sc = fr.subcarriers.as_ref().unwrap();
        assert_eq!((sc.len(), sc[0], sc[55]), (56, -28, 28));
        let m = meta(fr);
        assert_eq!(m.csi.as_ref().unwrap().streams_per_chain, 2);
        // v1 RSSI relative to the noise floor; tstamp in µs on the device clock
        assert_eq!(fr.noise_floor_dbm, Some(-90.0));
        assert_eq!(fr.rssi_dbm, Some(-60.0));
        assert_eq!(fr.chain_rssi, vec![-59.0, -58.0]);
        assert_eq!((fr.timestamp_ns, fr.clock), (5_000_000, Clock::Device));
        assert_eq!(
            (fr.channel, fr.center_freq_mhz, fr.bandwidth_mhz),
            (Some(6), Some(2437), Some(20))
        );
        assert_eq!((fr.mac, fr.sequence), (Some([2; 6]), Some(77)));
    }

    #[test]
    fn qca9300_decoder_odd_counts_and_layouts() {
        for (nt, ns, nr) in [
            (3usize, 1usize, 1usize),
            (5, 1, 3),
            (7, 3, 1),
            (1, 1, 1),
            (4, 2, 3),
        ] {
            let value = |t: usize, s: usize, r: usize| {
                (
                    (t * 97 + s * 31 + r * 7) as i32 % 1024 - 512,
                    (t * 13 + s * 5 + r) as i32 - 300,
                )
            };
            let mut w = Bits::default();
            for t in 0..nt {
                for s in 0..ns {
                    for r in 0..nr {
                        let (re, im) = value(t, s, r);
                        w.put(im as u32 & 0x3FF, 10);
                        w.put(re as u32 & 0x3FF, 10);
                    }
                }
            }
            assert_eq!(w.out.len(), (20 * nt * ns * nr).div_ceil(8));
            // a recycled buffer of another size and content is refilled, never read
            let dirty = vec![Complex32::new(9.0, -9.0); (nt * ns * nr) / 2 + 3];
            let out = decode_qca9300(&w.out, nt, ns, nr, dirty);
            assert_eq!(out.len(), nt * ns * nr);
            for t in 0..nt {
                for s in 0..ns {
                    for r in 0..nr {
                        let (re, im) = value(t, s, r);
                        assert_eq!(
                            out[(r * ns + s) * nt + t],
                            val(re, im),
                            "{nt}/{ns}/{nr}: t{t} s{s} r{r}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn iwl5300_bfee_stream_without_permutation() {
        let (ns, nr) = (2usize, 3usize);
        let value = |t: usize, s: usize, r: usize| {
            (
                (t * 3 + s * 50 + r * 17) as i32 % 256 - 128,
                127 - (t + r * 40 + s) as i32,
            )
        };
        let mut w = Bits::default();
        for t in 0..30 {
            w.put(0b101, 3);
            for r in 0..nr {
                for s in 0..ns {
                    let (re, im) = value(t, s, r);
                    w.put(re as u32 & 0xFF, 8);
                    w.put(im as u32 & 0xFF, 8);
                }
            }
        }
        let mut buf = w.out.clone();
        buf.resize(60 * ns * nr + 12, 0);
        // antSel 0b00_01_10 is a real permutation (2, 1, 0); D6: not applied
        let f = frame(
            &[csi_v2(0x5300, 20, 30, 2, 3, 0b00_0110, &buf)],
            &mac_header(1),
        );
        let recs = read_all(f, &ReaderOptions::default());
        let fr = frame_of(&recs[0]);
        assert_eq!(fr.shape(), (nr, ns, 30));
        for t in 0..30 {
            for s in 0..ns {
                for r in 0..nr {
                    let (re, im) = value(t, s, r);
                    assert_eq!(fr.csi[[r, s, t]], val(re, im));
                }
            }
        }
        assert_eq!(fr.subcarriers.as_ref().unwrap()[..3], [-28, -26, -24]);
        assert_eq!(meta(fr).csi.as_ref().unwrap().ant_sel, 0b00_0110);
        // no RxSBasic: no RSSI, no timestamp
        assert_eq!(
            (fr.rssi_dbm, fr.clock, fr.timestamp_ns),
            (None, Clock::None, 0)
        );
    }

    #[test]
    fn mvm_pairs_in_file_order_with_mvm_extra_clock() {
        let (nt, ntx, nr) = (56usize, 1usize, 2usize);
        let mut buf = Vec::new();
        for k in 0..(nt * ntx * nr) as i16 {
            buf.extend_from_slice(&(k - 50).to_le_bytes());
            buf.extend_from_slice(&(1000 - k).to_le_bytes());
        }
        let mut mvm = vec![0u8; 2 + 96];
        mvm[0] = 96;
        mvm[2 + 8..2 + 12].copy_from_slice(&123u32.to_le_bytes());
        mvm[2 + 88..2 + 92].copy_from_slice(&4_000_000u32.to_le_bytes());
        mvm[2 + 92..2 + 96].copy_from_slice(&0x0000_C204u32.to_le_bytes());
        let mut rx3 = Vec::new();
        rx3.extend_from_slice(&0x2100u16.to_le_bytes());
        rx3.extend_from_slice(&0u64.to_le_bytes());
        rx3.extend_from_slice(&5180i16.to_le_bytes());
        rx3.extend_from_slice(&5180i16.to_le_bytes());
        rx3.extend_from_slice(&20u16.to_le_bytes());
        rx3.push(1);
        rx3.extend_from_slice(&20u16.to_le_bytes());
        rx3.extend_from_slice(&800u16.to_le_bytes());
        rx3.extend_from_slice(&[4, 1, 0, 2, 1, 0]);
        rx3.extend_from_slice(&[
            (-128i8) as u8,
            (-40i8) as u8,
            (-41i8) as u8,
            (-42i8) as u8,
            (-128i8) as u8,
        ]);
        let f = frame(
            &[
                seg("RxSBasic", 3, &rx3),
                seg("MVMExtra", 1, &mvm),
                seg("SomethingNew", 9, &[1, 2, 3, 4, 5]),
                csi_v4(0x2100, 1, 20, 56, 1, 2, &buf),
            ],
            &mac_header(3),
        );
        let recs = read_all(f, &ReaderOptions::default());
        let fr = frame_of(&recs[0]);
        assert_eq!(fr.shape(), (nr, ntx, nt));
        assert_eq!(fr.csi[[0, 0, 0]], val(-50, 1000));
        assert_eq!(fr.csi[[1, 0, 0]], val(6, 944));
        assert_eq!(fr.device, Device::Ax210);
        assert_eq!((fr.timestamp_ns, fr.clock), (4_000_000_000, Clock::Device));
        assert_eq!(fr.noise_floor_dbm, None);
        assert_eq!(fr.rssi_dbm, Some(-40.0));
        assert_eq!(fr.chain_rssi, vec![-41.0, -42.0]);
        let m = meta(fr);
        let mv = m.mvm_extra.as_ref().unwrap();
        assert_eq!((mv.ftm_clock, mv.rate_n_flags), (123, 0xC204));
        assert_eq!(m.csi.as_ref().unwrap().firmware_version, Some(67));
        assert_eq!(fr.subcarriers.as_ref().unwrap().len(), 56);
    }

    fn usrp_buf(
        version: u8,
        row_major: bool,
        dims: [u64; 3],
        f: impl Fn(usize, usize, usize) -> (f64, f64),
    ) -> Vec<u8> {
        let mut b = Vec::new();
        for k in 0..dims[0] as i16 {
            b.extend_from_slice(&(k * 2 - 3).to_le_bytes());
        }
        b.extend_from_slice(b"BBv");
        b.push(b'0' + version);
        b.push(3);
        for d in dims {
            if version == 1 {
                b.extend_from_slice(&(d as u32).to_le_bytes());
            } else {
                b.extend_from_slice(&d.to_le_bytes());
            }
        }
        b.extend_from_slice(&[b'C', b'D', 64, if row_major { b'R' } else { b'C' }]);
        let (d0, d1, d2) = (dims[0] as usize, dims[1] as usize, dims[2] as usize);
        let mut put = |t, s, r| {
            let (re, im): (f64, f64) = f(t, s, r);
            b.extend_from_slice(&re.to_le_bytes());
            b.extend_from_slice(&im.to_le_bytes());
        };
        if row_major {
            for t in 0..d0 {
                for s in 0..d1 {
                    for r in 0..d2 {
                        put(t, s, r);
                    }
                }
            }
        } else {
            for r in 0..d2 {
                for s in 0..d1 {
                    for t in 0..d0 {
                        put(t, s, r);
                    }
                }
            }
        }
        b
    }

    #[test]
    fn usrp_signal_matrix_both_orders_and_versions() {
        let value =
            |t: usize, s: usize, r: usize| (t as f64 * 0.25 - 1.0, (s * 10 + r) as f64 * 1e-3);
        for (version, row_major) in [(1, false), (1, true), (2, false), (2, true)] {
            let buf = usrp_buf(version, row_major, [4, 2, 3], value);
            let mut rx2 = rx_v1(0x1234, 1_617_379_763_885_693_382, 3);
            rx2.splice(24..24, [1u8, 0]); // v2: numUser, userIndex before the noise floor
            let f = frame(
                &[
                    seg("RxSBasic", 2, &rx2),
                    csi_v2(0x1234, 20, 4, 2, 3, 0, &buf),
                ],
                &mac_header(9),
            );
            let recs = read_all(f, &ReaderOptions::default());
            let fr = frame_of(&recs[0]);
            assert_eq!(fr.shape(), (3, 2, 4), "v{version} row {row_major}");
            for t in 0..4 {
                for s in 0..2 {
                    for r in 0..3 {
                        let (re, im) = value(t, s, r);
                        assert_eq!(fr.csi[[r, s, t]], Complex32::new(re as f32, im as f32));
                    }
                }
            }
            assert_eq!(fr.subcarriers.as_deref(), Some(&[-3i16, -1, 1, 3][..]));
            assert_eq!(
                (fr.timestamp_ns, fr.clock),
                (1_617_379_763_885_693_382, Clock::Host)
            );
            let sm = *meta(fr)
                .csi
                .as_ref()
                .unwrap()
                .signal_matrix
                .as_deref()
                .unwrap();
            assert_eq!(
                (sm.version, sm.row_major, sm.dims),
                (version, row_major, [4, 2, 3, 1])
            );
        }
    }

    #[test]
    fn rxsbasic_v4_system_time_is_host_clock() {
        let mut b = Vec::new();
        b.extend_from_slice(&0x9300u16.to_le_bytes());
        b.extend_from_slice(&777u64.to_le_bytes());
        b.extend_from_slice(&1_700_000_000_123_456_789u64.to_le_bytes());
        b.extend_from_slice(&5200i16.to_le_bytes());
        b.extend_from_slice(&5200i16.to_le_bytes());
        b.extend_from_slice(&20u16.to_le_bytes());
        b.push(1);
        b.extend_from_slice(&20u16.to_le_bytes());
        b.extend_from_slice(&400u16.to_le_bytes());
        b.extend_from_slice(&[1, 1, 0, 1, 1, 0]);
        b.extend_from_slice(&[(-95i8) as u8, (-30i8) as u8, (-31i8) as u8, 0, 0]);
        let rx = parse_rx_basic(4, &b).unwrap();
        assert_eq!(
            (rx.system_time, rx.timestamp, rx.rssi),
            (Some(1_700_000_000_123_456_789), 777, -30.0)
        );
        let csi = csi_v2(0x9300, 20, 56, 1, 1, 0, &[0u8; 140]);
        let recs = read_all(
            frame(&[seg("RxSBasic", 4, &b), csi], &[]),
            &ReaderOptions::default(),
        );
        let fr = frame_of(&recs[0]);
        assert_eq!(
            (fr.timestamp_ns, fr.clock),
            (1_700_000_000_123_456_789, Clock::Host)
        );
        assert_eq!((fr.mac, fr.sequence), (None, None));
        assert_eq!(meta(fr).mpdu_length, 0);
        // v5 and v6 layouts decode too
        let mut v5 = b.clone();
        v5.splice(20..20, 5190i16.to_le_bytes());
        v5.extend_from_slice(&[1, 2, 3, 4, 5]);
        let rx5 = parse_rx_basic(5, &v5).unwrap();
        assert_eq!(
            (rx5.center_freq2, rx5.num_rssi_ctl, rx5.rssi_ctl[7]),
            (Some(5190), 8, 5.0)
        );
        let mut v6 = v5[..v5.len() - 10].to_vec();
        for x in [-95.5f32, -30.25, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0] {
            v6.extend_from_slice(&x.to_le_bytes());
        }
        let rx6 = parse_rx_basic(6, &v6).unwrap();
        assert_eq!(
            (rx6.noise_floor, rx6.rssi, rx6.rssi_ctl[7]),
            (-95.5, -30.25, 8.0)
        );
        assert_eq!(parse_rx_basic(6, &v6[..v6.len() - 1]), None);
    }

    #[test]
    fn extra_info_fields_in_official_order() {
        let mut b = Vec::new();
        let fc: u32 = (1 << 1)
            | (1 << 0)
            | (1 << 16)
            | (1 << 17)
            | (1 << 18)
            | (1 << 20)
            | (1 << 22)
            | (1 << 24);
        b.extend_from_slice(&fc.to_le_bytes());
        b.extend_from_slice(&27u16.to_le_bytes());
        b.extend_from_slice(&20_210_313u64.to_le_bytes());
        b.extend_from_slice(&44u16.to_le_bytes());
        b.extend_from_slice(&[5, 6, 0b01_0101]);
        b.extend_from_slice(&(-13_724i32).to_le_bytes());
        b.push((-3i8) as u8);
        let e = parse_extra_info(&b).unwrap();
        assert_eq!((e.length, e.version), (Some(27), Some(20_210_313)));
        assert_eq!(
            (e.pll_rate, e.pll_refdiv, e.pll_clock_select),
            (Some(44), Some(5), Some(6))
        );
        assert_eq!(
            (e.ant_sel, e.cfo, e.temperature),
            (Some(0b01_0101), Some(-13_724), Some(-3))
        );
        assert_eq!((e.macaddr_cur, e.sfo), (None, None));
        assert_eq!(parse_extra_info(&b[..b.len() - 1]), None);
    }

    // ---- bad input ----

    fn good_frame(seq: u16) -> Vec<u8> {
        frame(
            &[
                seg("RxSBasic", 1, &rx_v1(0x9300, 1, 1)),
                csi_v2(0x9300, 20, 56, 1, 1, 0, &[0u8; 140]),
            ],
            &mac_header(seq),
        )
    }

    #[test]
    fn recycled_frames_read_the_same_values() {
        // devices, shapes and segments change from frame to frame, so every recycled buffer is
        // refilled with a different size and content than it held
        let (nt, ntx, nr) = (56usize, 2usize, 2usize);
        let mut mvm = Vec::new();
        for k in 0..(nt * ntx * nr) as i16 {
            mvm.extend_from_slice(&(k - 50).to_le_bytes());
            mvm.extend_from_slice(&(1000 - k).to_le_bytes());
        }
        let iwl: Vec<u8> = (0..60 * 3 * 2 + 12).map(|k| (k * 37 % 251) as u8).collect();
        let qca: Vec<u8> = (0..285 * 2).map(|k| (k * 11 % 256) as u8).collect();
        let frames = [
            frame(
                &[
                    seg("RxSBasic", 1, &rx_v1(0x5300, 7, 3)),
                    csi_v2(0x5300, 20, 30, 2, 3, 0, &iwl),
                ],
                &mac_header(1),
            ),
            frame(&[csi_v4(0x2000, 1, 20, 56, 2, 2, &mvm)], &mac_header(2)),
            good_frame(3),
            frame(
                &[
                    seg("RxSBasic", 1, &rx_v1(0x9300, 9, 2)),
                    csi_v2(0x9300, 40, 114, 1, 2, 0, &qca),
                ],
                &[1, 2, 3],
            ),
            frame(
                &[
                    seg("RxSBasic", 1, &rx_v1(0x5300, 8, 3)),
                    csi_v2(0x5300, 40, 30, 2, 3, 0, &iwl),
                ],
                &mac_header(4),
            ),
        ];
        let mut input = Vec::new();
        for _ in 0..2 {
            for f in &frames {
                input.extend_from_slice(f);
            }
        }
        let plain = read_all(input.clone(), &ReaderOptions::default());
        assert_eq!(plain.len(), 10);
        let mut r = PicoScenesReader::new(Cursor::new(input), &ReaderOptions::default());
        // a foreign frame first: its buffers are reused, its values never show
        let mut foreign = CsiFrame::new(
            CaptureFormat::Intel5300,
            Device::Iwl5300,
            ndarray::Array3::from_elem((3, 3, 30), Complex32::new(5.0, 5.0)),
        );
        foreign.chain_rssi = vec![1.0; 9];
        foreign.subcarriers = Some(vec![7; 99]);
        r.recycle(foreign);
        for (k, want) in plain.iter().enumerate() {
            let Some(Ok(Record::Frame(got))) = r.next_record() else {
                panic!("frame {k} missing");
            };
            assert_eq!(&got, frame_of(want), "frame {k}");
            r.recycle(got);
        }
        assert!(r.next_record().is_none());
    }

    fn malformed_reason(r: &Result<Record>) -> String {
        match r {
            Err(e @ Error::Malformed { .. }) => e.to_string(),
            other => panic!("expected Malformed, got {other:?}"),
        }
    }

    #[test]
    fn frame_without_csi_is_passed_over_and_counted_or_kept_on_request() {
        let no_csi = frame(&[seg("RxSBasic", 1, &rx_v1(0x9300, 1, 1))], &mac_header(1));
        let mut input = no_csi.clone();
        input.extend(good_frame(2));
        let mut r = PicoScenesReader::new(Cursor::new(input.clone()), &ReaderOptions::default());
        let recs: Vec<_> = std::iter::from_fn(|| r.next_record()).collect();
        assert_eq!(recs.len(), 1);
        assert_eq!(frame_of(&recs[0]).sequence, Some(2));
        assert_eq!(r.passed_over(), 1);
        let mut opts = ReaderOptions::default();
        opts.picoscenes.keep_frames_without_csi = true;
        let recs = read_all(input, &opts);
        let f = frame_of(&recs[0]);
        assert_eq!(
            (f.shape(), f.device, f.sequence),
            ((0, 0, 0), Device::Qca9300, Some(1))
        );
    }

    #[test]
    fn segment_length_past_end_is_malformed_and_next_frame_read() {
        let mut bad = good_frame(1);
        // first segment length field at byte 11: claim far more than the frame holds
        bad[11..15].copy_from_slice(&10_000u32.to_le_bytes());
        bad.extend(good_frame(2));
        let recs = read_all(bad, &ReaderOptions::default());
        assert_eq!(recs.len(), 2);
        assert!(malformed_reason(&recs[0]).contains("only"), "{:?}", recs[0]);
        assert_eq!(frame_of(&recs[1]).sequence, Some(2));
    }

    #[test]
    fn zero_lengths() {
        // zero-length segment
        let mut z = Vec::new();
        z.extend_from_slice(&MAGIC.to_le_bytes());
        z.extend_from_slice(&1u16.to_le_bytes());
        z.push(1);
        z.extend_from_slice(&0u32.to_le_bytes());
        let mut f = (z.len() as u32).to_le_bytes().to_vec();
        f.extend(z);
        // zero-length frame
        f.extend_from_slice(&0u32.to_le_bytes());
        f.extend(good_frame(5));
        let recs = read_all(f, &ReaderOptions::default());
        assert_eq!(recs.len(), 3);
        assert!(malformed_reason(&recs[0]).contains("cannot hold"));
        assert!(malformed_reason(&recs[1]).contains("shorter than its 7-byte header"));
        assert_eq!(frame_of(&recs[2]).sequence, Some(5));
    }

    #[test]
    fn wrong_magic_and_version_are_skipped() {
        let mut a = good_frame(1);
        a[4] ^= 0xFF;
        let mut b = good_frame(2);
        b[8] = 2;
        let mut input = a;
        input.extend(b);
        input.extend(good_frame(3));
        let recs = read_all(input, &ReaderOptions::default());
        assert!(malformed_reason(&recs[0]).contains("magic"));
        assert!(malformed_reason(&recs[1]).contains("version 2"));
        assert_eq!(frame_of(&recs[2]).sequence, Some(3));
    }

    #[test]
    fn absurd_counts_are_malformed_or_limited() {
        // numTones = 65535 with a 140-byte buffer
        let f = frame(&[csi_v2(0x9300, 20, 65535, 1, 1, 0, &[0u8; 140])], &[]);
        assert!(malformed_reason(&read_all(f, &ReaderOptions::default())[0]).contains("bits"));
        // numRx = 255 (no stream fits)
        let f = frame(&[csi_v2(0x9300, 20, 56, 1, 255, 0, &[0u8; 140])], &[]);
        assert!(malformed_reason(&read_all(f, &ReaderOptions::default())[0]).contains("no stream"));
        // numRx = 0
        let f = frame(&[csi_v2(0x5300, 20, 30, 1, 0, 0, &[0u8; 72])], &[]);
        assert!(malformed_reason(&read_all(f, &ReaderOptions::default())[0]).contains("numRx = 0"));
        // MVM buffer that does not match its counts
        let f = frame(&[csi_v4(0x2000, 1, 20, 56, 1, 2, &[0u8; 100])], &[]);
        assert!(malformed_reason(&read_all(f, &ReaderOptions::default())[0])
            .contains("not 4 x numTones"));
        // csiBufferLength past the segment
        let mut s = csi_v2(0x9300, 20, 56, 1, 1, 0, &[0u8; 140]);
        let at = s.len() - 140 - 4;
        s[at..at + 4].copy_from_slice(&100_000u32.to_le_bytes());
        let f = frame(&[s], &[]);
        assert!(malformed_reason(&read_all(f, &ReaderOptions::default())[0])
            .contains("csiBufferLength"));
        // a consistent frame with more values than allowed
        let mut opts = ReaderOptions::default();
        opts.limits.max_csi_values = 10;
        let recs = read_all(good_frame(1), &opts);
        assert!(matches!(recs[0], Err(Error::LimitExceeded { .. })));
        assert_eq!(recs.len(), 1);
        // unknown device type and CSI version
        let f = frame(&[csi_v2(0x0802, 20, 56, 1, 1, 0, &[0u8; 140])], &[]);
        assert!(malformed_reason(&read_all(f, &ReaderOptions::default())[0]).contains("0x0802"));
        let mut s = csi_v2(0x9300, 20, 56, 1, 1, 0, &[0u8; 140]);
        s[9] = 9; // version field after "CSI\0"
        let f = frame(&[s], &[]);
        assert!(malformed_reason(&read_all(f, &ReaderOptions::default())[0]).contains("version 9"));
    }

    #[test]
    fn frame_length_over_limit_ends_the_stream() {
        let mut f = u32::MAX.to_le_bytes().to_vec();
        f.extend(good_frame(1));
        let recs = read_all(f, &ReaderOptions::default());
        assert_eq!(recs.len(), 1);
        assert!(matches!(
            recs[0],
            Err(Error::LimitExceeded {
                what: "frameLength",
                offset: 0,
                ..
            })
        ));
    }

    #[test]
    fn truncated_final_frame_after_complete_frames() {
        let mut input = good_frame(1);
        input.extend(good_frame(2));
        let second = input.len() as u64;
        let full = good_frame(3);
        input.extend_from_slice(&full[..full.len() - 7]);
        let recs = read_all(input, &ReaderOptions::default());
        assert_eq!(recs.len(), 3);
        assert_eq!(frame_of(&recs[1]).sequence, Some(2));
        match recs[2].as_ref().unwrap_err() {
            Error::Truncated {
                offset,
                needed,
                available,
                ..
            } => {
                assert_eq!(*offset, second);
                assert_eq!(*needed, full.len() as u64);
                assert_eq!(*available, full.len() as u64 - 7);
            }
            e => panic!("{e}"),
        }
        // cut inside the length field
        let recs = read_all(vec![1, 2], &ReaderOptions::default());
        assert!(matches!(
            recs[0],
            Err(Error::Truncated {
                needed: 4,
                available: 2,
                ..
            })
        ));
        assert!(read_all(Vec::new(), &ReaderOptions::default()).is_empty());
    }

    #[test]
    fn slow_path_matches_fast_path() {
        // a reader whose buffer is smaller than a frame takes the copying path
        let mut input = good_frame(1);
        input.extend(good_frame(2));
        let fast = read_all(input.clone(), &ReaderOptions::default());
        let mut r = PicoScenesReader::new(
            std::io::BufReader::with_capacity(16, Cursor::new(input)),
            &ReaderOptions::default(),
        );
        let slow: Vec<_> = std::iter::from_fn(|| r.next_record()).collect();
        assert_eq!(fast.len(), slow.len());
        for (a, b) in fast.iter().zip(&slow) {
            assert_eq!(frame_of(a), frame_of(b));
        }
    }

    #[test]
    fn probe_scores() {
        let f = good_frame(1);
        assert_eq!(probe(&f), 100);
        let mut odd = f.clone();
        odd[16] = 0x01; // unprintable name
        assert_eq!(probe(&odd), 90);
        assert_eq!(probe(&f[..10]), 0);
        let mut wrong = f.clone();
        wrong[5] = 0;
        assert_eq!(probe(&wrong), 0);
        assert_eq!(crate::formats::feitcsi::probe(&f), 0);
    }

    #[test]
    fn frame_segments_lists_names() {
        let f = good_frame(1);
        let s = frame_segments(&f).unwrap();
        let names: Vec<String> = s
            .iter()
            .map(|s| format!("{} v{}", s.name_str(), s.version))
            .collect();
        assert_eq!(names, ["RxSBasic v1", "CSI v2"]);
        assert!(frame_segments(&f[..20]).is_err());
    }
}
