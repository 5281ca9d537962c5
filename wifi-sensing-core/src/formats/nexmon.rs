//! Nexmon CSI (Broadcom) UDP payloads: header generations v0/v1/v2, int16 and packed-float CSI
//! words, chanspec decoding, optional grouping of the packets of one transmission.
//!
//! Nexmon firmware sends one UDP packet (port 5500, Ethernet source `NEXMON`) per received frame
//! **per receive core per spatial stream**. The pcap container is read by
//! [`formats::pcap`](crate::formats::pcap), which hands each payload to a [`NexmonDecoder`].
//!
//! # Payload header (18 bytes, little-endian, FORMATS.md §2.2)
//!
//! | gen | 0..3 | 4..9 | 10..11 | 12..13 | 14..15 | 16..17 |
//! |---|---|---|---|---|---|---|
//! | v0 | u32 magic `0x11111111` | src MAC | seq | core/nss | chanspec | `0xdead` padding |
//! | v1 | u32 magic `0x11111111` | src MAC | seq | core/nss | chanspec | chip id |
//! | v2 | u16 magic `0x1111`, i8 rssi, u8 fc | src MAC | seq | core/nss | chanspec | chip id |
//!
//! A payload whose first four bytes are all `0x11` is read as v0/v1 (a v2 header with rssi
//! +17 dBm and frame-control byte `0x11`, protocol version 1, does not occur); v0 and v1 differ by
//! the `0xdead` padding. `seq` is the raw 802.11 Sequence Control field: [`CsiFrame::sequence`]
//! is `seq >> 4` and [`NexmonMeta::seq`] keeps the raw field. core/nss: bits 0–2 are the receive
//! core, bits 3–5 the spatial stream. The chanspec gives channel (bits 0–7), control sideband
//! (8–10), bandwidth (11–13) and band (14–15), see [`Chanspec`]. [`CsiFrame::channel`] and
//! [`CsiFrame::center_freq_mhz`] are the chanspec's channel, i.e. the **centre** channel of the whole
//! bandwidth (42 for an 80 MHz channel over 36–48); the 20 MHz control channel is in
//! [`NexmonMeta::control_channel`].
//!
//! # CSI words (FORMATS.md §2.3)
//!
//! `nfft` = (payload length − 18) / 4 words of 4 bytes; 64, 128, 256 (and 512) are accepted.
//! - **bcm4339, bcm43455c0**: two int16 LE, first = real, second = imag, as every peer reads
//!   them. Pre-fix firmware (u32-magic files) probably stores (Q, I); the values are kept as
//!   read (D15).
//! - **bcm4358** (mantissa 9 bits, exponent 5) and **bcm4366c0** (12, 6): packed floating point,
//!   unpacked with **autoscale = 1** (D7): the largest `e + ⌊log2(r | q)⌋` over the words sets a
//!   common shift so the largest part has 11 significant bits; the results are integers.
//!
//! **Which chip.** [`NexmonOptions::chip`] forces a chip. Otherwise the v1/v2 chip id decides
//! (`0x0001` → bcm4339, `0x0065` → bcm43455c0, `0x006a` → bcm4366c0). When the header does not
//! say (v0 files carry `0xdead`; or an unknown chip id) the word layout is **inferred** from the
//! data ([`infer_word_format`]): int16 chips sign-extend 14-bit values, so in an int16 packet
//! nearly every int16 half has its top three bits equal; packed-float words break that rule for most
//! words. Packed-float words of the bcm4358 layout never use bits 23–31, and those of the
//! bcm4366c0 layout never use bits 30–31. So: at most 1/16 of the non-zero words break the
//! sign-extension rule → int16 (model unknown: [`NexmonMeta::chip`] is `None`); else no word uses
//! bits 23+ → bcm4358; else no word uses bits 30+ → bcm4366c0; else the packet is malformed. The
//! first packet with at least `nfft / 4` non-zero words fixes the inferred layout for the rest of
//! the stream. The kit's v0 `example.pcap` is read as bcm4358 this way, matching its golden file.
//!
//! # PHY-status words (FORMATS.md §2.4)
//!
//! v2 firmware copies six u16 of PHY receive status over three CSI words: words 28–30 for 20 MHz
//! chanspecs, words 0–2 otherwise. They are kept as data by default (as the peers and golden files
//! do); [`NexmonOptions::mask_phy_status`] sets them to zero.
//!
//! # Subcarrier order
//!
//! Words are in FFT order: column `k < nfft/2` is subcarrier `k`, column `k ≥ nfft/2` is
//! subcarrier `k − nfft` (DC first, the negative half last). [`CsiFrame::subcarriers`] states this
//! (`0, 1, …, nfft/2−1, −nfft/2, …, −1`); the columns are not reordered. The guard bands of
//! the kit's 80 MHz bcm4358 capture (columns 123–133 near zero, ±2…±122 occupied) confirm it.
//!
//! # Frames
//!
//! By default one frame per UDP packet, shape `[1, 1, nfft]`, with `core` and `spatial` in the
//! meta (D8, the golden convention). With [`NexmonOptions::group_by_sequence`] consecutive packets
//! with the same `seq`, transmitter, chanspec and size become one frame of shape
//! `[n_core, n_ss, nfft]` (rx = core, tx = spatial stream; the size is the largest index + 1 seen,
//! missing slots are zero, [`NexmonMeta::group`] lists the slots present). A repeated
//! (core, spatial) pair starts a new group, so files whose `seq` is always 0 (v2 firmware) are not
//! merged into one frame. The header fields of a grouped frame are those of its first packet.
//!
//! The timestamp is the pcap packet time (host clock). [`CsiFrame::node_id`] numbers the
//! transmitter MAC addresses (`src_addr`) in order of first appearance (the first 256; later ones
//! share id 256), by the rule of [`MacNodeTable`](crate::nodes::MacNodeTable).
//!
//! ```
//! use wifi_sensing_core::formats::nexmon::{Chanspec, NexmonHeader};
//! let c = Chanspec::decode(0xe29b);
//! assert_eq!((c.channel, c.bandwidth_mhz(), c.center_freq_mhz()), (155, Some(80), Some(5775)));
//! assert_eq!(c.control_channel(), Some(157));
//! let p = vec![0x11, 0x11, 0xc6, 0x94, 1, 2, 3, 4, 5, 6, 0x30, 0x01, 0x09, 0, 0x2a, 0xe0, 0x65, 0];
//! let h = NexmonHeader::parse(&p).unwrap();
//! assert_eq!((h.version, h.rssi, h.fc, h.core, h.spatial, h.seq >> 4), (2, Some(-58), Some(0x94), 1, 1, 0x13));
//! ```

use ndarray::Array3;
use num_complex::Complex32;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::frame::{CaptureFormat, Clock, CsiFrame, Device, FormatMeta};
use crate::reader::SpareBuffers;

/// UDP port the Nexmon firmware sends from and to.
pub const DEFAULT_PORT: u16 = 5500;
/// Ethernet source address of Nexmon packets (ASCII `NEXMON`).
pub const ETH_SOURCE: [u8; 6] = *b"NEXMON";
/// Header length of every generation.
pub const HEADER_LEN: usize = 18;
/// Padding in the last header field of v0 payloads.
pub const V0_PADDING: u16 = 0xdead;

/// `true` when `payload` starts with a Nexmon magic (`11 11`, every generation) and holds a
/// whole header.
pub fn has_magic(payload: &[u8]) -> bool {
    payload.len() >= HEADER_LEN && payload[0] == 0x11 && payload[1] == 0x11
}

/// A Broadcom chip supported by nexmon_csi.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NexmonChip {
    /// bcm4339 (Nexus 5): int16 pairs.
    Bcm4339,
    /// bcm43455c0 (Raspberry Pi 3B+/4): int16 pairs.
    Bcm43455c0,
    /// bcm4358 (Nexus 6P): packed float, 9-bit mantissa, 5-bit exponent.
    Bcm4358,
    /// bcm4366c0 (Asus RT-AC86U): packed float, 12-bit mantissa, 6-bit exponent.
    Bcm4366c0,
}

impl NexmonChip {
    /// The chip named by a v1/v2 header chip id, for the ids seen in real captures.
    pub fn from_chip_version(id: u16) -> Option<Self> {
        match id {
            0x0001 => Some(NexmonChip::Bcm4339),
            0x0065 => Some(NexmonChip::Bcm43455c0),
            0x006a => Some(NexmonChip::Bcm4366c0),
            _ => None,
        }
    }

    /// Layout of the chip's CSI words.
    pub fn word_format(self) -> WordFormat {
        match self {
            NexmonChip::Bcm4339 | NexmonChip::Bcm43455c0 => WordFormat::Int16,
            NexmonChip::Bcm4358 => WordFormat::PackedFloat {
                mantissa_bits: 9,
                exponent_bits: 5,
            },
            NexmonChip::Bcm4366c0 => WordFormat::PackedFloat {
                mantissa_bits: 12,
                exponent_bits: 6,
            },
        }
    }

    /// The matching [`Device`].
    pub fn device(self) -> Device {
        match self {
            NexmonChip::Bcm4339 => Device::Bcm4339,
            NexmonChip::Bcm43455c0 => Device::Bcm43455c0,
            NexmonChip::Bcm4358 => Device::Bcm4358,
            NexmonChip::Bcm4366c0 => Device::Bcm4366c0,
        }
    }

    /// Short name as csiread spells it (`"4339"`, `"43455c0"`, `"4358"`, `"4366c0"`).
    pub fn name(self) -> &'static str {
        match self {
            NexmonChip::Bcm4339 => "4339",
            NexmonChip::Bcm43455c0 => "43455c0",
            NexmonChip::Bcm4358 => "4358",
            NexmonChip::Bcm4366c0 => "4366c0",
        }
    }
}

/// Layout of one 4-byte CSI word.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WordFormat {
    /// Two int16 LE: real, imag.
    Int16,
    /// Packed float: exponent in the low bits, then imag magnitude and sign, then real magnitude
    /// and sign.
    PackedFloat {
        /// Mantissa width M (magnitude M−1 bits plus a sign bit).
        mantissa_bits: u32,
        /// Exponent width E (two's complement).
        exponent_bits: u32,
    },
}

/// Options of the Nexmon decoder.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NexmonOptions {
    /// Force the chip (word layout) instead of taking it from the header or inferring it.
    /// Default `None`.
    pub chip: Option<NexmonChip>,
    /// UDP port of Nexmon traffic (matched as source or destination). Default 5500. A packet is
    /// also taken as Nexmon when its Ethernet source is `NEXMON`; in both cases the payload
    /// must start with the Nexmon magic.
    pub port: u16,
    /// Zero the three v2 PHY-status words that overwrite CSI (words 0–2, or 28–30 at 20 MHz).
    /// Default `false` (keep them, as the peers and golden files do).
    pub mask_phy_status: bool,
    /// Merge the consecutive packets of one transmission (same `seq`) into one
    /// `[n_core, n_ss, nfft]` frame. Default `false`: one `[1, 1, nfft]` frame per packet (D8).
    pub group_by_sequence: bool,
    /// Read int16 words as (Q, I) instead of (I, Q): the order that bcm4339/bcm43455c0 firmware
    /// wrote before the June 2020 fix (FORMATS.md D15; files with the 4-byte `0x11111111` magic
    /// almost certainly come from such firmware). Default `false`: first int16 = real, as every
    /// peer and the golden files read it. Has no effect on packed-float chips.
    pub swap_int16_iq: bool,
}

impl Default for NexmonOptions {
    fn default() -> Self {
        NexmonOptions {
            chip: None,
            port: DEFAULT_PORT,
            mask_phy_status: false,
            group_by_sequence: false,
            swap_int16_iq: false,
        }
    }
}

/// Nexmon header fields of a frame, under the names csiread and the golden files use, plus the
/// decoding decisions.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NexmonMeta {
    /// Header generation: 0, 1 or 2.
    pub header_version: u8,
    /// The magic: `0x11111111` (v0/v1) or `0x1111` (v2).
    pub magic: u32,
    /// v2: RSSI in dBm (also in [`CsiFrame::rssi_dbm`]).
    pub rssi: Option<i8>,
    /// v2: first byte of the 802.11 Frame Control field.
    pub fc: Option<u8>,
    /// Transmitter MAC address.
    pub src_addr: [u8; 6],
    /// Raw 802.11 Sequence Control field (fragment number in bits 0–3).
    pub seq: u16,
    /// Receive core (antenna chain).
    pub core: u8,
    /// Spatial stream.
    pub spatial: u8,
    /// Broadcom chanspec.
    pub chan_spec: u16,
    /// Last header field: chip id (v1/v2) or `0xdead` (v0).
    pub chip_version: u16,
    /// Chip whose word layout was used; `None` when int16 was inferred without a known model.
    pub chip: Option<NexmonChip>,
    /// `true` when the word layout was inferred from the data (see the module docs).
    pub chip_inferred: bool,
    /// `true` for packed-float words, `false` for int16.
    pub packed_float: bool,
    /// Number of CSI words.
    pub nfft: u16,
    /// Control sideband from the chanspec.
    pub sideband: u8,
    /// 20 MHz control channel derived from the chanspec, where defined.
    pub control_channel: Option<u16>,
    /// Byte offset of the packet record in the capture file (first packet of a group).
    pub offset: u64,
    /// Captured bytes of the packet.
    pub caplen: u32,
    /// Length of the packet on the wire.
    pub wirelen: u32,
    /// UDP payload length.
    pub udp_payload_len: u32,
    /// Captured bytes after the IP datagram (Ethernet trailer), 0 when none.
    pub eth_trailer_len: u32,
    /// `true` when the PHY-status words were zeroed.
    pub phy_status_masked: bool,
    /// `true` when int16 pairs were read as (Q, I) ([`NexmonOptions::swap_int16_iq`]).
    pub iq_swapped: bool,
    /// Grouped frames: the `[core, spatial]` slot of each packet, in arrival order. Empty for
    /// one-packet frames.
    pub group: Vec<[u8; 2]>,
}

/// Decoded Broadcom chanspec.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Chanspec {
    /// The raw value.
    pub raw: u16,
    /// Channel number (centre channel of the whole bandwidth).
    pub channel: u8,
    /// Control sideband (index of the 20 MHz control channel from the bottom).
    pub sideband: u8,
    /// Bandwidth code (bits 11–13).
    pub bandwidth_code: u8,
    /// Band code (bits 14–15): 0 = 2.4 GHz, 3 = 5 GHz, 2 = 6 GHz (newer firmware).
    pub band_code: u8,
}

impl Chanspec {
    /// Splits a chanspec into its fields.
    pub fn decode(raw: u16) -> Self {
        Chanspec {
            raw,
            channel: (raw & 0xFF) as u8,
            sideband: ((raw >> 8) & 7) as u8,
            bandwidth_code: ((raw >> 11) & 7) as u8,
            band_code: (raw >> 14) as u8,
        }
    }

    /// Bandwidth in MHz (80+80 is reported as 160).
    pub fn bandwidth_mhz(&self) -> Option<u16> {
        match self.bandwidth_code {
            0 => Some(5),
            1 => Some(10),
            2 => Some(20),
            3 => Some(40),
            4 => Some(80),
            5 | 6 => Some(160),
            _ => None,
        }
    }

    /// Band in GHz (2.4, 5 or 6).
    pub fn band_ghz(&self) -> Option<f32> {
        match self.band_code {
            0 => Some(2.4),
            3 => Some(5.0),
            2 => Some(6.0),
            _ => None,
        }
    }

    /// Centre frequency of the channel in MHz.
    pub fn center_freq_mhz(&self) -> Option<u32> {
        let ch = u32::from(self.channel);
        match self.band_code {
            0 => match ch {
                1..=13 => Some(2407 + 5 * ch),
                14 => Some(2484),
                _ => None,
            },
            3 if ch > 0 => Some(5000 + 5 * ch),
            2 if ch > 0 => Some(5950 + 5 * ch),
            _ => None,
        }
    }

    /// The 20 MHz control channel: lowest 20 MHz channel of the band plus 4 × sideband.
    pub fn control_channel(&self) -> Option<u16> {
        let half_span: u16 = match self.bandwidth_code {
            2 => return Some(u16::from(self.channel)),
            3 => 2,
            4 => 6,
            5 => 14,
            _ => return None,
        };
        let n_sub = (half_span + 2) / 2;
        if u16::from(self.sideband) >= n_sub {
            return None;
        }
        u16::from(self.channel)
            .checked_sub(half_span)
            .map(|low| low + 4 * u16::from(self.sideband))
    }
}

/// The 18-byte header of a Nexmon payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NexmonHeader {
    /// Generation 0, 1 or 2.
    pub version: u8,
    /// `0x11111111` (v0/v1) or `0x1111` (v2).
    pub magic: u32,
    /// v2 RSSI (dBm).
    pub rssi: Option<i8>,
    /// v2 frame-control byte.
    pub fc: Option<u8>,
    /// Transmitter MAC.
    pub src_addr: [u8; 6],
    /// Raw Sequence Control field.
    pub seq: u16,
    /// Receive core.
    pub core: u8,
    /// Spatial stream.
    pub spatial: u8,
    /// Chanspec.
    pub chan_spec: u16,
    /// Chip id (v1/v2) or `0xdead` (v0).
    pub chip_version: u16,
}

impl NexmonHeader {
    /// Parses the header; `None` when the payload is shorter than 18 bytes or has no Nexmon magic.
    pub fn parse(p: &[u8]) -> Option<Self> {
        if !has_magic(p) {
            return None;
        }
        let u16_at = |o: usize| u16::from_le_bytes([p[o], p[o + 1]]);
        let chip_version = u16_at(16);
        let long_magic = p[2] == 0x11 && p[3] == 0x11;
        let (version, magic, rssi, fc) = if long_magic {
            let v = if chip_version == V0_PADDING { 0 } else { 1 };
            (v, 0x1111_1111, None, None)
        } else {
            (2, 0x1111, Some(p[2] as i8), Some(p[3]))
        };
        let core_nss = u16_at(12);
        Some(NexmonHeader {
            version,
            magic,
            rssi,
            fc,
            src_addr: [p[4], p[5], p[6], p[7], p[8], p[9]],
            seq: u16_at(10),
            core: (core_nss & 7) as u8,
            spatial: ((core_nss >> 3) & 7) as u8,
            chan_spec: u16_at(14),
            chip_version,
        })
    }

    /// The decoded chanspec.
    pub fn chanspec(&self) -> Chanspec {
        Chanspec::decode(self.chan_spec)
    }
}

/// Words overwritten by PHY status in v2 payloads: `28..31` at 20 MHz, else `0..3`.
pub fn phy_status_words(chanspec: Chanspec) -> std::ops::Range<usize> {
    if chanspec.bandwidth_code == 2 {
        28..31
    } else {
        0..3
    }
}

/// Subcarrier index of each column for `nfft` words in FFT order:
/// `0, 1, …, nfft/2 − 1, −nfft/2, …, −1`.
///
/// ```
/// assert_eq!(wifi_sensing_core::formats::nexmon::subcarrier_indices(4), vec![0, 1, -2, -1]);
/// ```
pub fn subcarrier_indices(nfft: usize) -> Vec<i16> {
    let h = (nfft / 2) as i16;
    (0..h).chain(-h..0).collect()
}

#[inline]
fn word(c: &[u8]) -> u32 {
    u32::from_le_bytes([c[0], c[1], c[2], c[3]])
}

/// Appends the int16 pairs (real, imag) of `words` to `out`.
pub fn unpack_int16(words: &[u8], out: &mut Vec<Complex32>) {
    // Sized first, then filled through a zip: no capacity or bounds checks in the loop.
    let start = out.len();
    out.resize(start + words.len() / 4, Complex32::new(0.0, 0.0));
    for (o, c) in out[start..].iter_mut().zip(words.chunks_exact(4)) {
        let w = word(c);
        *o = Complex32::new(
            f32::from(w as u16 as i16),
            f32::from((w >> 16) as u16 as i16),
        );
    }
}

/// Appends the packed-float words of `words` to `out`, unpacked with autoscale = 1 (D7).
///
/// `mantissa_bits` M and `exponent_bits` E are 9/5 (bcm4358) or 12/6 (bcm4366c0); other layouts
/// with E in 1..=8 and E + 2M <= 32 work the same way (larger values are clamped to that).
pub fn unpack_float(
    words: &[u8],
    mantissa_bits: u32,
    exponent_bits: u32,
    out: &mut Vec<Complex32>,
) {
    // The two real layouts get their own instantiation so every shift is a constant and the
    // loops vectorise.
    match (mantissa_bits, exponent_bits) {
        // With E <= 6 and M <= 12, e + shift stays within [-63, 73]: no clamp needed.
        (9, 5) => unpack_float_with(words, 9, 5, false, out),
        (12, 6) => unpack_float_with(words, 12, 6, false, out),
        (m, e) => {
            let e = e.clamp(1, 8);
            unpack_float_with(words, m.clamp(2, (32 - e) / 2), e, true, out)
        }
    }
}

/// Body of [`unpack_float`] for `e` in 1..=8 and `m` in 2.. with `e + 2m <= 32`.
///
/// A part `v` (at most M − 1 bits) scaled by `2^s` is computed as `trunc(v · 2^s)` in f32: the
/// product is exact (a power-of-two scaling of an integer below 2^15 that stays a normal float),
/// so truncating it equals `v << s` for `s ≥ 0` and `v >> −s` for `s < 0`, and it is 0 for
/// `s < −M` as the rule requires. All of it stays in f32 lanes, so the loop vectorises. For a non-zero word `s ≤ 10` because maxbit ≥ e + ⌊log2(r | q)⌋,
/// so results stay below 2^11; a zero word gives 0 for any `s`.
#[inline(always)]
fn unpack_float_with(words: &[u8], m: u32, e: u32, clamp: bool, out: &mut Vec<Complex32>) {
    let e_mask = (1u32 << e) - 1;
    let mag_mask = (1u32 << (m - 1)) - 1;
    let sign_shift = 32 - e;
    let (q_sign, r_sign) = (e + m - 1, e + 2 * m - 1);
    let mut maxbit: i32 = -(1 << (e - 1));
    for c in words.chunks_exact(4) {
        let w = word(c);
        let ex = ((w & e_mask) << sign_shift) as i32 >> sign_shift;
        let v = ((w >> e) | (w >> (e + m))) & mag_mask;
        // floor(log2(v)) from the exponent of the (exact) float value of v.
        let lg = (((v as i32) as f32).to_bits() >> 23) as i32 - 127;
        maxbit = maxbit.max(if v != 0 { ex + lg } else { i32::MIN });
    }
    let shift = 10 - maxbit;
    let start = out.len();
    out.resize(start + words.len() / 4, Complex32::new(0.0, 0.0));
    for (o, c) in out[start..].iter_mut().zip(words.chunks_exact(4)) {
        let w = word(c);
        let ex = ((w & e_mask) << sign_shift) as i32 >> sign_shift;
        // Keep 2^s a normal float (only needed for wide exponents; see the callers).
        let s = if clamp {
            (ex + shift).clamp(-126, 127)
        } else {
            ex + shift
        };
        let scale = f32::from_bits(((s + 127) as u32) << 23);
        let q = ((w >> e) & mag_mask) as i32 as f32;
        let r = ((w >> (e + m)) & mag_mask) as i32 as f32;
        let re = trunc_small(r * scale);
        let im = trunc_small(q * scale);
        // `0.0 - x` rather than `-x`, so a zero stays +0.0.
        let re = if (w >> r_sign) & 1 != 0 { 0.0 - re } else { re };
        let im = if (w >> q_sign) & 1 != 0 { 0.0 - im } else { im };
        *o = Complex32::new(re, im);
    }
}

/// `trunc(y)` for `0 <= y < 2^22`, with operations that vectorise on every x86-64 (adding and
/// subtracting 2^23 rounds to an integer; a result above `y` was rounded up).
#[inline(always)]
fn trunc_small(y: f32) -> f32 {
    const BIG: f32 = 8_388_608.0;
    let t = (y + BIG) - BIG;
    if t > y {
        t - 1.0
    } else {
        t
    }
}

/// Result of [`infer_word_format`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Inference {
    /// The inferred layout and chip (`None` chip for int16: the model is not known), or `None`
    /// when no supported layout fits.
    pub format: Option<(WordFormat, Option<NexmonChip>)>,
    /// Non-zero words looked at.
    pub nonzero: usize,
    /// Words looked at.
    pub words: usize,
}

impl Inference {
    /// `true` when the evidence is strong enough to keep the result for the whole stream
    /// (at least a quarter of the words non-zero).
    pub fn is_strong(&self) -> bool {
        self.format.is_some() && self.nonzero * 4 >= self.words && self.nonzero > 0
    }
}

/// Infers the word layout of CSI `words` (see the module docs), ignoring the word indices in
/// `skip` (the v2 PHY-status words).
pub fn infer_word_format(words: &[u8], skip: std::ops::Range<usize>) -> Inference {
    let sign_ok = |h: u32| {
        let top = h >> 13;
        top == 0 || top == 7
    };
    let (mut nonzero, mut n, mut implausible) = (0usize, 0usize, 0usize);
    let (mut over23, mut over30) = (false, false);
    for (i, c) in words.chunks_exact(4).enumerate() {
        if skip.contains(&i) {
            continue;
        }
        n += 1;
        let w = word(c);
        if w == 0 {
            continue;
        }
        nonzero += 1;
        if !(sign_ok(w & 0xFFFF) && sign_ok(w >> 16)) {
            implausible += 1;
        }
        over23 |= w >> 23 != 0;
        over30 |= w >> 30 != 0;
    }
    let format = if implausible * 16 <= nonzero {
        Some((WordFormat::Int16, None))
    } else if !over23 {
        Some((NexmonChip::Bcm4358.word_format(), Some(NexmonChip::Bcm4358)))
    } else if !over30 {
        Some((
            NexmonChip::Bcm4366c0.word_format(),
            Some(NexmonChip::Bcm4366c0),
        ))
    } else {
        None
    };
    Inference {
        format,
        nonzero,
        words: n,
    }
}

/// Where a payload came from: filled in by the container reader.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PacketInfo {
    /// Packet time in ns since the Unix epoch (`None`: the container has none).
    pub timestamp_ns: Option<i64>,
    /// Byte offset of the packet record in the file.
    pub offset: u64,
    /// Captured bytes of the packet.
    pub caplen: u32,
    /// Length on the wire.
    pub wirelen: u32,
    /// Captured bytes after the IP datagram.
    pub eth_trailer_len: u32,
}

fn malformed(offset: u64, reason: impl Into<String>) -> Error {
    Error::Malformed {
        format: CaptureFormat::Nexmon,
        offset,
        line: None,
        reason: reason.into(),
    }
}

/// One decoded packet waiting to become (part of) a frame.
#[derive(Debug)]
struct Decoded {
    header: NexmonHeader,
    info: PacketInfo,
    chip: Option<NexmonChip>,
    inferred: bool,
    packed: bool,
    masked: bool,
    swapped: bool,
    nfft: usize,
    udp_len: usize,
    csi: Vec<Complex32>,
}

/// Stateful Nexmon decoder: chip inference cache, transmitter numbering and optional grouping.
///
/// Feed payloads with [`NexmonDecoder::push`]; call [`NexmonDecoder::flush`] at the end of the
/// stream to get a pending grouped frame.
#[derive(Debug)]
pub struct NexmonDecoder {
    options: NexmonOptions,
    inferred: Option<(WordFormat, Option<NexmonChip>)>,
    nodes: crate::nodes::MacNodeTable,
    group: Vec<Decoded>,
    subcarriers: Vec<Vec<i16>>,
    spare: SpareBuffers,
}

impl NexmonDecoder {
    /// A decoder with these options.
    pub fn new(options: NexmonOptions) -> Self {
        NexmonDecoder {
            options,
            inferred: None,
            nodes: crate::nodes::MacNodeTable::default(),
            group: Vec::new(),
            subcarriers: Vec::new(),
            spare: SpareBuffers::default(),
        }
    }

    /// The options.
    pub fn options(&self) -> &NexmonOptions {
        &self.options
    }

    /// Decodes one payload. Completed frames are appended to `out` (none while a group is
    /// still open). Errors are recoverable [`Error::Malformed`] with `info.offset`.
    pub fn push(
        &mut self,
        payload: &[u8],
        info: &PacketInfo,
        out: &mut Vec<CsiFrame>,
    ) -> Result<()> {
        let d = self.decode(payload, info)?;
        if !self.options.group_by_sequence {
            let mut d = d;
            let f = self.build(std::slice::from_mut(&mut d));
            out.push(f);
            return Ok(());
        }
        if let Some(first) = self.group.first() {
            let joins = first.header.seq == d.header.seq
                && first.header.src_addr == d.header.src_addr
                && first.header.chan_spec == d.header.chan_spec
                && first.nfft == d.nfft
                && first.packed == d.packed
                && !self.group.iter().any(|g| {
                    g.header.core == d.header.core && g.header.spatial == d.header.spatial
                });
            if !joins {
                if let Some(f) = self.flush() {
                    out.push(f);
                }
            }
        }
        self.group.push(d);
        Ok(())
    }

    /// Takes back a frame this decoder built (or any frame) whose CSI and subcarrier buffers
    /// the next frames refill instead of allocating (see [`CaptureReader::recycle`]).
    ///
    /// [`CaptureReader::recycle`]: crate::reader::CaptureReader::recycle
    pub fn recycle(&mut self, frame: CsiFrame) {
        self.spare.keep(frame);
    }

    /// The pending grouped frame, if any.
    pub fn flush(&mut self) -> Option<CsiFrame> {
        if self.group.is_empty() {
            return None;
        }
        // the group's allocation is kept for the next one
        let mut g = std::mem::take(&mut self.group);
        let f = self.build(&mut g);
        g.clear();
        self.group = g;
        Some(f)
    }

    fn decode(&mut self, p: &[u8], info: &PacketInfo) -> Result<Decoded> {
        let Some(header) = NexmonHeader::parse(p) else {
            return Err(malformed(
                info.offset,
                format!("UDP payload of {} bytes is not a Nexmon CSI packet (magic 0x1111 and 18-byte header)", p.len()),
            ));
        };
        let body = &p[HEADER_LEN..];
        if !body.len().is_multiple_of(4) {
            return Err(malformed(
                info.offset,
                format!(
                    "Nexmon payload of {} bytes: CSI part of {} bytes is not whole 4-byte words",
                    p.len(),
                    body.len()
                ),
            ));
        }
        let nfft = body.len() / 4;
        if !matches!(nfft, 64 | 128 | 256 | 512) {
            return Err(malformed(
                info.offset,
                format!("Nexmon payload of {} bytes holds {nfft} CSI words; expected 64, 128, 256 or 512", p.len()),
            ));
        }
        let chanspec = header.chanspec();
        let phy = if header.version == 2 {
            phy_status_words(chanspec)
        } else {
            0..0
        };
        let known = if header.version >= 1 {
            NexmonChip::from_chip_version(header.chip_version)
        } else {
            None
        };
        let (format, chip, inferred) = if let Some(c) = self.options.chip {
            (c.word_format(), Some(c), false)
        } else if let Some(c) = known {
            (c.word_format(), Some(c), false)
        } else if let Some((f, c)) = self.inferred {
            (f, c, true)
        } else {
            let inf = infer_word_format(body, phy.clone());
            let Some((f, c)) = inf.format else {
                return Err(malformed(
                    info.offset,
                    format!(
                        "cannot tell the CSI word layout of this Nexmon v{} packet (chip id 0x{:04x}): set NexmonOptions::chip",
                        header.version, header.chip_version
                    ),
                ));
            };
            if inf.is_strong() {
                self.inferred = Some((f, c));
            }
            (f, c, true)
        };
        let mut csi = self.spare.values();
        let packed = match format {
            WordFormat::Int16 => {
                unpack_int16(body, &mut csi);
                false
            }
            WordFormat::PackedFloat {
                mantissa_bits,
                exponent_bits,
            } => {
                unpack_float(body, mantissa_bits, exponent_bits, &mut csi);
                true
            }
        };
        let swapped = self.options.swap_int16_iq && !packed;
        if swapped {
            for c in &mut csi {
                *c = Complex32::new(c.im, c.re);
            }
        }
        let masked = self.options.mask_phy_status && header.version == 2;
        if masked {
            for k in phy.filter(|&k| k < nfft) {
                csi[k] = Complex32::new(0.0, 0.0);
            }
        }
        Ok(Decoded {
            header,
            info: *info,
            chip,
            inferred,
            packed,
            masked,
            swapped,
            nfft,
            udp_len: p.len(),
            csi,
        })
    }

    fn node_id(&mut self, mac: [u8; 6]) -> u32 {
        self.nodes.id(Some(mac))
    }

    fn subcarriers(&mut self, nfft: usize) -> Vec<i16> {
        if let Some(s) = self.subcarriers.iter().find(|s| s.len() == nfft) {
            return self.spare.subcarriers(s);
        }
        let s = subcarrier_indices(nfft);
        self.subcarriers.push(s.clone());
        s
    }

    /// Builds a frame from one packet or a group (non-empty, same nfft).
    fn build(&mut self, packets: &mut [Decoded]) -> CsiFrame {
        let nfft = packets[0].nfft;
        let (csi, group) = if packets.len() == 1 && !self.options.group_by_sequence {
            let data = std::mem::take(&mut packets[0].csi);
            let a = Array3::from_shape_vec((1, 1, nfft), data)
                .unwrap_or_else(|_| Array3::zeros((1, 1, nfft)));
            (a, Vec::new())
        } else {
            let n_core = packets
                .iter()
                .map(|d| usize::from(d.header.core))
                .max()
                .unwrap_or(0)
                + 1;
            let n_ss = packets
                .iter()
                .map(|d| usize::from(d.header.spatial))
                .max()
                .unwrap_or(0)
                + 1;
            let mut data = vec![Complex32::new(0.0, 0.0); n_core * n_ss * nfft];
            let mut slots = Vec::with_capacity(packets.len());
            for d in packets.iter() {
                let (c, s) = (usize::from(d.header.core), usize::from(d.header.spatial));
                let at = (c * n_ss + s) * nfft;
                data[at..at + nfft].copy_from_slice(&d.csi[..nfft]);
                slots.push([d.header.core, d.header.spatial]);
            }
            let a = Array3::from_shape_vec((n_core, n_ss, nfft), data)
                .unwrap_or_else(|_| Array3::zeros((n_core, n_ss, nfft)));
            (a, slots)
        };
        let d = &packets[0];
        let h = d.header;
        let cs = h.chanspec();
        let (timestamp_ns, clock) = match d.info.timestamp_ns {
            Some(t) => (t, Clock::Host),
            None => (0, Clock::None),
        };
        let meta = NexmonMeta {
            header_version: h.version,
            magic: h.magic,
            rssi: h.rssi,
            fc: h.fc,
            src_addr: h.src_addr,
            seq: h.seq,
            core: h.core,
            spatial: h.spatial,
            chan_spec: h.chan_spec,
            chip_version: h.chip_version,
            chip: d.chip,
            chip_inferred: d.inferred,
            packed_float: d.packed,
            nfft: nfft as u16,
            sideband: cs.sideband,
            control_channel: cs.control_channel(),
            offset: d.info.offset,
            caplen: d.info.caplen,
            wirelen: d.info.wirelen,
            udp_payload_len: d.udp_len as u32,
            eth_trailer_len: d.info.eth_trailer_len,
            phy_status_masked: d.masked,
            iq_swapped: d.swapped,
            group,
        };
        let device = d
            .chip
            .map(NexmonChip::device)
            .unwrap_or(Device::BroadcomUnknown);
        let mut f = CsiFrame::new(CaptureFormat::Nexmon, device, csi);
        f.timestamp_ns = timestamp_ns;
        f.clock = clock;
        f.node_id = self.node_id(h.src_addr);
        f.mac = Some(h.src_addr);
        f.sequence = Some(u32::from(h.seq >> 4));
        f.rssi_dbm = h.rssi.map(f32::from);
        f.channel = (cs.channel != 0).then_some(u16::from(cs.channel));
        f.center_freq_mhz = cs.center_freq_mhz();
        f.bandwidth_mhz = cs.bandwidth_mhz();
        f.subcarriers = Some(self.subcarriers(nfft));
        f.meta = FormatMeta::Nexmon(meta);
        f
    }
}

/// Decodes one Nexmon payload into a `[1, 1, nfft]` frame, without state (the chip is inferred
/// from this packet alone when the header does not name it; `node_id` is 0).
pub fn decode_payload(
    payload: &[u8],
    info: &PacketInfo,
    options: &NexmonOptions,
) -> Result<CsiFrame> {
    let mut opts = options.clone();
    opts.group_by_sequence = false;
    let mut d = NexmonDecoder::new(opts);
    let mut out = Vec::with_capacity(1);
    d.push(payload, info, &mut out)?;
    out.pop()
        .ok_or_else(|| malformed(info.offset, "no frame decoded"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(version: u8, chip_version: u16, core_nss: u16, seq: u16, words: &[u32]) -> Vec<u8> {
        let mut p = if version == 2 {
            vec![0x11, 0x11, 0xc6, 0x80]
        } else {
            vec![0x11; 4]
        };
        p.extend_from_slice(&[1, 2, 3, 4, 5, 6]);
        p.extend_from_slice(&seq.to_le_bytes());
        p.extend_from_slice(&core_nss.to_le_bytes());
        p.extend_from_slice(&0xe02au16.to_le_bytes());
        p.extend_from_slice(&chip_version.to_le_bytes());
        for w in words {
            p.extend_from_slice(&w.to_le_bytes());
        }
        p
    }

    fn int16_word(re: i16, im: i16) -> u32 {
        u32::from(re as u16) | (u32::from(im as u16) << 16)
    }

    #[test]
    fn header_generations() {
        let v0 = payload(0, 0xdead, 0, 0, &[0; 64]);
        let v1 = payload(1, 1, 0, 0, &[0; 64]);
        let v2 = payload(2, 0x65, 0x19, 0x1230, &[0; 64]);
        assert_eq!(NexmonHeader::parse(&v0).unwrap().version, 0);
        assert_eq!(NexmonHeader::parse(&v1).unwrap().version, 1);
        let h = NexmonHeader::parse(&v2).unwrap();
        assert_eq!(
            (h.version, h.magic, h.rssi, h.fc),
            (2, 0x1111, Some(-58), Some(0x80))
        );
        assert_eq!((h.core, h.spatial), (1, 3));
        assert!(NexmonHeader::parse(&v2[..17]).is_none());
        assert!(NexmonHeader::parse(&[0x12; 30]).is_none());
    }

    #[test]
    fn chanspecs_of_the_kit() {
        let c = Chanspec::decode(0xe02a);
        assert_eq!(
            (
                c.channel,
                c.bandwidth_mhz(),
                c.band_code,
                c.center_freq_mhz()
            ),
            (42, Some(80), 3, Some(5210))
        );
        assert_eq!(c.control_channel(), Some(36));
        let c = Chanspec::decode(0xd826);
        assert_eq!(
            (
                c.channel,
                c.bandwidth_mhz(),
                c.center_freq_mhz(),
                c.control_channel()
            ),
            (38, Some(40), Some(5190), Some(36))
        );
        let c = Chanspec::decode(0xe06a);
        assert_eq!((c.channel, c.control_channel()), (106, Some(100)));
        let c = Chanspec::decode(0x1006); // 2.4 GHz, 20 MHz, channel 6
        assert_eq!(
            (c.bandwidth_mhz(), c.center_freq_mhz(), c.control_channel()),
            (Some(20), Some(2437), Some(6))
        );
        assert_eq!(Chanspec::decode(0xe700 | 42).control_channel(), None);
    }

    #[test]
    fn float_unpacking_by_hand() {
        // bcm4358 layout: e (5 bits) | q (8) | q sign | r (8) | r sign.
        let w = |e: i32, q: u32, qs: u32, r: u32, rs: u32| -> u32 {
            ((e as u32) & 0x1F) | (q << 5) | (qs << 13) | (r << 14) | (rs << 22)
        };
        // Word 0: r = 0b1000_0000 (128), e = 0 -> e + log2(128) = 7 = maxbit, shift = 3.
        // Word 1: q = 3, r = 1, e = -1 (s = 2): re = -(1 << 2), im = 3 << 2.
        // Word 2: q = 255, e = -16: s = -13 < -9 -> 0.
        let words: Vec<u8> = [w(0, 0, 0, 128, 0), w(-1, 3, 0, 1, 1), w(-16, 255, 1, 0, 0)]
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect();
        let mut out = Vec::new();
        unpack_float(&words, 9, 5, &mut out);
        assert_eq!(out[0], Complex32::new(1024.0, 0.0));
        assert_eq!(out[1], Complex32::new(-4.0, 12.0));
        assert_eq!(out[2], Complex32::new(0.0, 0.0));
        // Negative s inside [-M, 0): word with e = -9 next to maxbit 7 -> s = -6: 100 >> 6 = 1.
        let words: Vec<u8> = [w(0, 0, 0, 128, 0), w(-9, 100, 1, 0, 0)]
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect();
        out.clear();
        unpack_float(&words, 9, 5, &mut out);
        assert_eq!(out[1], Complex32::new(0.0, -1.0));
    }

    /// Straightforward reading of FORMATS.md 2.3, step by step.
    fn reference_unpack(words: &[u32], m: u32, e: u32) -> Vec<(i64, i64)> {
        let part = |w: u32, at: u32| i64::from((w >> at) & ((1 << (m - 1)) - 1));
        let exp = |w: u32| {
            let x = i64::from(w & ((1 << e) - 1));
            if x >= 1 << (e - 1) {
                x - (1 << e)
            } else {
                x
            }
        };
        let mut maxbit = -(1i64 << (e - 1));
        for &w in words {
            let v = part(w, e) | part(w, e + m);
            if v != 0 {
                maxbit = maxbit.max(exp(w) + (63 - v.leading_zeros() as i64));
            }
        }
        let shift = 10 - maxbit;
        words
            .iter()
            .map(|&w| {
                let s = exp(w) + shift;
                let f = |v: i64, sign_at: u32| {
                    let x = if v == 0 || s < -(m as i64) {
                        0
                    } else if s < 0 {
                        v >> -s
                    } else {
                        v << s
                    };
                    if (w >> sign_at) & 1 == 1 {
                        -x
                    } else {
                        x
                    }
                };
                (f(part(w, e + m), e + 2 * m - 1), f(part(w, e), e + m - 1))
            })
            .collect()
    }

    #[test]
    fn float_unpacking_equals_reference() {
        let mut x = 0x9E37_79B9u32;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x
        };
        for (m, e) in [(9, 5), (12, 6), (7, 3), (12, 8)] {
            for round in 0..200 {
                let words: Vec<u32> = (0..64)
                    .map(|i| {
                        let w = next();
                        match round % 4 {
                            0 => w,
                            1 if i % 3 == 0 => 0,
                            2 => w & 0x00FF_FFFF,
                            _ => w & !((1 << e) - 1) | (round as u32 & ((1 << e) - 1)),
                        }
                    })
                    .collect();
                let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
                let mut out = Vec::new();
                unpack_float(&bytes, m, e, &mut out);
                let want = reference_unpack(&words, m, e);
                for (k, (c, (re, im))) in out.iter().zip(&want).enumerate() {
                    assert_eq!(
                        (c.re as i64, c.im as i64),
                        (*re, *im),
                        "M {m} E {e} round {round} word {k}"
                    );
                }
            }
        }
    }

    #[test]
    fn inference_rules() {
        let int16: Vec<u8> = (0..64)
            .flat_map(|i| int16_word(i * 100 - 3000, -i * 7).to_le_bytes())
            .collect();
        assert_eq!(
            infer_word_format(&int16, 0..0).format,
            Some((WordFormat::Int16, None))
        );
        let f4358: Vec<u8> = (0..64u32)
            .flat_map(|i| (0x0040_2000 | (i << 14) | 0x1F5).to_le_bytes())
            .collect();
        assert_eq!(
            infer_word_format(&f4358, 0..0).format.unwrap().1,
            Some(NexmonChip::Bcm4358)
        );
        let f4366: Vec<u8> = (0..64u32)
            .flat_map(|i| (0x2000_2000 | (i << 18) | 0x35).to_le_bytes())
            .collect();
        assert_eq!(
            infer_word_format(&f4366, 0..0).format.unwrap().1,
            Some(NexmonChip::Bcm4366c0)
        );
        let junk: Vec<u8> = (0..64u32)
            .flat_map(|i| (0xC000_2000 | i).to_le_bytes())
            .collect();
        assert_eq!(infer_word_format(&junk, 0..0).format, None);
        assert!(!infer_word_format(&[0; 256], 0..0).is_strong());
    }

    #[test]
    fn phy_status_masking() {
        let mut words = vec![0x0000_3825u32, 0x8080_c600, 0x0000_0080];
        words.extend((0..61).map(|i| int16_word(i, -i)));
        let p = payload(2, 0x65, 0, 0, &words);
        let info = PacketInfo::default();
        let kept = decode_payload(&p, &info, &NexmonOptions::default()).unwrap();
        assert_eq!(kept.csi[[0, 0, 0]], Complex32::new(14373.0, 0.0));
        assert_eq!(kept.csi[[0, 0, 1]], Complex32::new(-14848.0, -32640.0));
        let opts = NexmonOptions {
            mask_phy_status: true,
            ..Default::default()
        };
        let masked = decode_payload(&p, &info, &opts).unwrap();
        for k in 0..3 {
            assert_eq!(masked.csi[[0, 0, k]], Complex32::new(0.0, 0.0));
        }
        assert_eq!(masked.csi[[0, 0, 5]], Complex32::new(2.0, -2.0));
        let FormatMeta::Nexmon(m) = &masked.meta else {
            panic!()
        };
        assert!(m.phy_status_masked);
        assert!(!m.iq_swapped);
    }

    #[test]
    fn int16_iq_swap_option() {
        let words: Vec<u32> = (0..64).map(|i| int16_word(i, -2 * i)).collect();
        let p = payload(1, 0x01, 0, 0, &words);
        let info = PacketInfo::default();
        let plain = decode_payload(&p, &info, &NexmonOptions::default()).unwrap();
        let opts = NexmonOptions {
            swap_int16_iq: true,
            ..Default::default()
        };
        let swapped = decode_payload(&p, &info, &opts).unwrap();
        assert_eq!(plain.csi[[0, 0, 7]], Complex32::new(7.0, -14.0));
        assert_eq!(swapped.csi[[0, 0, 7]], Complex32::new(-14.0, 7.0));
        let FormatMeta::Nexmon(m) = &swapped.meta else {
            panic!()
        };
        assert!(m.iq_swapped);
        // packed-float chips are not affected
        let pf: Vec<u32> = (0..64).map(|i| 0x10_0000 | i).collect();
        let opts_pf = NexmonOptions {
            swap_int16_iq: true,
            chip: Some(NexmonChip::Bcm4366c0),
            ..Default::default()
        };
        let a = decode_payload(&payload(1, 0x6a, 0, 0, &pf), &info, &opts_pf).unwrap();
        let b = decode_payload(
            &payload(1, 0x6a, 0, 0, &pf),
            &info,
            &NexmonOptions {
                chip: Some(NexmonChip::Bcm4366c0),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(a.csi, b.csi);
    }

    #[test]
    fn grouping_by_sequence() {
        let words: Vec<u32> = (0..64).map(|i| int16_word(i, 1)).collect();
        let mut d = NexmonDecoder::new(NexmonOptions {
            group_by_sequence: true,
            ..Default::default()
        });
        let info = PacketInfo::default();
        let mut out = Vec::new();
        for (seq, core_nss) in [(16u16, 0u16), (16, 1), (16, 8), (16, 9), (32, 0), (32, 0)] {
            d.push(&payload(1, 1, core_nss, seq, &words), &info, &mut out)
                .unwrap();
        }
        assert_eq!(out.len(), 2);
        out.extend(d.flush());
        assert!(d.flush().is_none());
        assert_eq!(out[0].shape(), (2, 2, 64));
        assert_eq!(out[0].sequence, Some(1));
        assert_eq!(out[1].shape(), (1, 1, 64));
        assert_eq!(
            out[2].shape(),
            (1, 1, 64),
            "a repeated slot starts a new group"
        );
        let FormatMeta::Nexmon(m) = &out[0].meta else {
            panic!()
        };
        assert_eq!(m.group, vec![[0, 0], [1, 0], [0, 1], [1, 1]]);
    }

    #[test]
    fn bad_sizes_are_malformed() {
        let info = PacketInfo {
            offset: 77,
            ..Default::default()
        };
        let o = NexmonOptions::default();
        let mut p = payload(1, 1, 0, 0, &[0; 64]);
        p.push(0);
        let e = decode_payload(&p, &info, &o).unwrap_err();
        assert!(e.is_recoverable() && e.offset() == Some(77));
        let p = payload(1, 1, 0, 0, &[0; 63]);
        assert!(decode_payload(&p, &info, &o)
            .unwrap_err()
            .to_string()
            .contains("63 CSI words"));
        assert!(decode_payload(&[0x11, 0x11, 0], &info, &o).is_err());
    }

    #[test]
    fn subcarriers_fft_order() {
        let s = subcarrier_indices(256);
        assert_eq!(s.len(), 256);
        assert_eq!((s[0], s[127], s[128], s[255]), (0, 127, -128, -1));
    }
}
