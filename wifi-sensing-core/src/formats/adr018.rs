//! RuView ADR-018 UDP datagrams: raw CSI (`0xC5110001`) and the sibling packets.
//!
//! Layout (all little-endian, packed), as written by the RuView ESP32 firmware:
//!
//! | off | size | field |
//! |---|---|---|
//! | 0 | 4 | magic `0xC5110001` |
//! | 4 | 1 | node_id |
//! | 5 | 1 | n_antennas |
//! | 6 | 2 | n_subcarriers = number of int8 pairs per antenna |
//! | 8 | 4 | freq_mhz |
//! | 12 | 4 | sequence (per node) |
//! | 16 | 1 | rssi (i8, dBm) |
//! | 17 | 1 | noise floor (i8, dBm) |
//! | 18 | 2 | reserved |
//! | 20 | 2·n_subcarriers·n_antennas | int8 pairs, **[imag, real]** |
//!
//! `freq_mhz` is the frequency of the receiver's primary channel (the firmware derives it from
//! `rx_ctrl.channel`); the header states no bandwidth or secondary channel, so a 40 MHz frame's
//! true centre cannot be known. [`CsiFrame::center_freq_mhz`](crate::CsiFrame) is `freq_mhz` as
//! written (`None` when 0), [`CsiFrame::channel`](crate::CsiFrame) its channel number, and
//! `bandwidth_mhz` is `None`.
//!
//! The frame carries no device timestamp: [`decode_datagram`] takes the receive time from the
//! caller (pcap packet time or UDP receive time, both host clock). CSI value `k` is
//! `buf[2k+1] + j·buf[2k]`; the ESP-IDF buffer is copied unchanged, including the often-junk first
//! two pairs, and `n_subcarriers` counts buffer pairs (LLTF + HT-LTF + STBC), not distinct tones, so
//! [`CsiFrame::subcarriers`](crate::CsiFrame) is `None`.
//!
//! Sibling packets are decoded into typed [`AuxRecord`]s:
//! `0xC5110002` edge vitals, `0xC5110003` feature vector, `0xC5110004` fused vitals (48 bytes) or
//! WASM output (when the size equals `8 + 5·event_count`), `0xC5110005` compressed CSI (kept as
//! bytes: this version does not decompress it), `0xC5110006` feature state (CRC-32 checked).
//! Other magics of the `0xC511xxxx` family become [`UnknownPacket`]s; anything else is a
//! malformed datagram.

use ndarray::Array3;
use num_complex::Complex32;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::formats::esp32::Esp32Meta;
use crate::frame::{channel_to_freq_mhz, CaptureFormat, Clock, CsiFrame, Device, FormatMeta};
use crate::record::{AuxBody, AuxRecord, Record};
use crate::util::{crc32, le_f32, le_u16, le_u32, le_u64};

/// Magic of the raw CSI frame.
pub const MAGIC_CSI: u32 = 0xC511_0001;
/// Magic of the edge vitals packet.
pub const MAGIC_VITALS: u32 = 0xC511_0002;
/// Magic of the feature vector packet.
pub const MAGIC_FEATURES: u32 = 0xC511_0003;
/// Magic of the fused vitals / WASM output packets.
pub const MAGIC_FUSED_OR_WASM: u32 = 0xC511_0004;
/// Magic of the compressed CSI packet.
pub const MAGIC_COMPRESSED: u32 = 0xC511_0005;
/// Magic of the feature state packet.
pub const MAGIC_FEATURE_STATE: u32 = 0xC511_0006;
/// Size of the raw CSI header.
pub const HEADER_LEN: usize = 20;
/// Largest number of int8 pairs accepted in one frame (the firmware sends at most 1024).
pub const MAX_PAIRS: usize = 4096;

/// `true` when `b` starts with a magic of the ADR-018 family (`0xC511xxxx`, little-endian).
pub fn is_family_magic(b: &[u8]) -> bool {
    b.len() >= 4 && b[2] == 0x11 && b[3] == 0xC5
}

/// Edge vitals computed on the node (`0xC5110002`, 32 bytes) or a RuView `vitals` record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EdgeVitals {
    /// Flag byte: bit 0 presence, bit 1 fall, bit 2 motion.
    pub flags: u8,
    /// Presence flag (bit 0).
    pub presence: bool,
    /// Fall flag (bit 1).
    pub fall: bool,
    /// Motion flag (bit 2).
    pub motion: bool,
    /// Breathing rate, breaths per minute.
    pub breathing_bpm: f64,
    /// Heart rate, beats per minute.
    pub heartrate_bpm: f64,
    /// RSSI in dBm as sent by the node (`None` in RuView JSONL, whose rssi field is unreliable).
    pub rssi: Option<i8>,
    /// Number of persons the node estimates.
    pub n_persons: u8,
    /// Motion energy (node units).
    pub motion_energy: f32,
    /// Presence score (node units).
    pub presence_score: f32,
    /// Node timestamp in ms (`None` in RuView JSONL).
    pub timestamp_ms: Option<u32>,
}

/// Feature vector packet (`0xC5110003`, 48 bytes) or RuView `feature` record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FeatureVector {
    /// Node sequence number.
    pub seq: u16,
    /// Node timestamp in µs (`None` in RuView JSONL).
    pub timestamp_us: Option<i64>,
    /// The eight features.
    pub features: [f32; 8],
}

/// Fused vitals packet (`0xC5110004`, 48 bytes): edge vitals plus mmWave readings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FusedVitals {
    /// The first 32 bytes, decoded as edge vitals.
    pub vitals: EdgeVitals,
    /// mmWave heart rate (BPM).
    pub mmwave_hr: f32,
    /// mmWave breathing rate (BPM).
    pub mmwave_br: f32,
    /// mmWave distance (m).
    pub mmwave_distance: f32,
    /// mmWave target count.
    pub targets: u8,
    /// Fusion confidence.
    pub confidence: u8,
}

/// WASM module output packet (`0xC5110004`, `8 + 5·n` bytes).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WasmOutput {
    /// Module id.
    pub module_id: u8,
    /// `(event type, value)` pairs.
    pub events: Vec<(u8, f32)>,
}

/// Compressed CSI packet (`0xC5110005`). The delta compression is not decoded by this version.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CompressedCsi {
    /// Channel number.
    pub channel: u8,
    /// Length of the uncompressed I/Q buffer.
    pub orig_iq_len: u16,
    /// The compressed bytes.
    pub data: Vec<u8>,
}

/// Feature state packet (`0xC5110006`, 60 bytes, CRC-32 over bytes 0..56 verified).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FeatureState {
    /// Mode byte.
    pub mode: u8,
    /// Sequence number.
    pub seq: u16,
    /// Node timestamp in µs.
    pub ts_us: u64,
    /// Motion score.
    pub motion: f32,
    /// Presence score.
    pub presence: f32,
    /// Respiration rate (BPM).
    pub resp_bpm: f32,
    /// Respiration confidence.
    pub resp_conf: f32,
    /// Heart rate (BPM).
    pub hb_bpm: f32,
    /// Heart-rate confidence.
    pub hb_conf: f32,
    /// Anomaly score.
    pub anomaly: f32,
    /// Environment shift score.
    pub env_shift: f32,
    /// Node coherence.
    pub node_coherence: f32,
    /// Quality flags.
    pub quality_flags: u16,
}

/// A packet of the family whose body is not decoded (e.g. `0xC5110007`), or a RuView JSONL record
/// without a `type`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UnknownPacket {
    /// The magic.
    pub magic: u32,
    /// Size in bytes of the packet.
    pub size: u32,
}

fn malformed(offset: u64, reason: impl Into<String>) -> Error {
    Error::Malformed {
        format: CaptureFormat::Esp32Adr018,
        offset,
        line: None,
        reason: reason.into(),
    }
}

fn need(b: &[u8], n: usize, offset: u64, what: &str) -> Result<()> {
    if b.len() < n {
        Err(malformed(
            offset,
            format!("{what} packet needs {n} bytes, datagram has {}", b.len()),
        ))
    } else {
        Ok(())
    }
}

/// Decodes one ADR-018 datagram (a UDP payload).
///
/// `offset` is the position of the payload in its input (for error messages); `timestamp_ns`
/// and `clock` are the receive time the caller measured.
///
/// ```
/// use wifi_sensing_core::formats::adr018;
/// use wifi_sensing_core::Record;
/// let mut d = vec![0x01, 0x00, 0x11, 0xC5, 7, 1, 2, 0];
/// d.extend_from_slice(&2437u32.to_le_bytes());
/// d.extend_from_slice(&5u32.to_le_bytes());
/// d.extend_from_slice(&[(-40i8) as u8, (-95i8) as u8, 0, 0]);
/// d.extend_from_slice(&[3, 4, (-1i8) as u8, 2]); // two [imag, real] pairs
/// let rec = adr018::decode_datagram(&d, 0, 0, wifi_sensing_core::Clock::Host).unwrap();
/// let Record::Frame(f) = rec else { panic!() };
/// assert_eq!(f.node_id, 7);
/// assert_eq!(f.channel, Some(6));
/// assert_eq!(f.csi[[0, 0, 0]], num_complex::Complex32::new(4.0, 3.0));
/// assert_eq!(f.csi[[0, 0, 1]], num_complex::Complex32::new(2.0, -1.0));
/// ```
pub fn decode_datagram(b: &[u8], offset: u64, timestamp_ns: i64, clock: Clock) -> Result<Record> {
    need(b, 5, offset, "ADR-018")?;
    let magic = le_u32(b, 0).unwrap_or(0);
    if !is_family_magic(b) {
        return Err(malformed(
            offset,
            format!("magic 0x{magic:08X} is not an ADR-018 magic (0xC511xxxx)"),
        ));
    }
    let node_id = b[4];
    let aux = |body: AuxBody| {
        Ok(Record::Aux(AuxRecord {
            timestamp_ns,
            clock,
            format: CaptureFormat::Esp32Adr018,
            node_id: Some(u32::from(node_id)),
            body,
        }))
    };
    match magic {
        MAGIC_CSI => decode_csi(b, offset, timestamp_ns, clock).map(Record::Frame),
        MAGIC_VITALS => {
            need(b, 32, offset, "vitals")?;
            aux(AuxBody::Vitals(decode_vitals(b)))
        }
        MAGIC_FEATURES => {
            need(b, 48, offset, "feature vector")?;
            let mut features = [0f32; 8];
            for (i, f) in features.iter_mut().enumerate() {
                *f = le_f32(b, 16 + 4 * i).unwrap_or(0.0);
            }
            aux(AuxBody::Features(FeatureVector {
                seq: le_u16(b, 6).unwrap_or(0),
                timestamp_us: le_u64(b, 8).map(|v| v as i64),
                features,
            }))
        }
        MAGIC_FUSED_OR_WASM => {
            need(b, 8, offset, "fused vitals / WASM output")?;
            let n_events = usize::from(le_u16(b, 6).unwrap_or(0));
            if n_events <= 16 && b.len() == 8 + 5 * n_events {
                let events = (0..n_events)
                    .map(|i| {
                        let o = 8 + 5 * i;
                        (b[o], le_f32(b, o + 1).unwrap_or(0.0))
                    })
                    .collect();
                aux(AuxBody::WasmOutput(WasmOutput {
                    module_id: b[5],
                    events,
                }))
            } else if b.len() == 48 {
                aux(AuxBody::FusedVitals(FusedVitals {
                    vitals: decode_vitals(b),
                    mmwave_hr: le_f32(b, 32).unwrap_or(0.0),
                    mmwave_br: le_f32(b, 36).unwrap_or(0.0),
                    mmwave_distance: le_f32(b, 40).unwrap_or(0.0),
                    targets: b[44],
                    confidence: b[45],
                }))
            } else {
                Err(malformed(
                    offset,
                    format!(
                        "0xC5110004 packet of {} bytes is neither fused vitals (48) nor WASM output ({} events -> {} bytes)",
                        b.len(),
                        n_events,
                        8 + 5 * n_events
                    ),
                ))
            }
        }
        MAGIC_COMPRESSED => {
            need(b, 10, offset, "compressed CSI")?;
            let comp_len = usize::from(le_u16(b, 8).unwrap_or(0));
            if b.len() != 10 + comp_len {
                return Err(malformed(
                    offset,
                    format!(
                        "compressed CSI says {comp_len} bytes follow the 10-byte header, datagram has {}",
                        b.len()
                    ),
                ));
            }
            aux(AuxBody::CompressedCsi(CompressedCsi {
                channel: b[5],
                orig_iq_len: le_u16(b, 6).unwrap_or(0),
                data: b[10..].to_vec(),
            }))
        }
        MAGIC_FEATURE_STATE => {
            need(b, 60, offset, "feature state")?;
            let stored = le_u32(b, 56).unwrap_or(0);
            let computed = crc32(&b[..56]);
            if stored != computed {
                return Err(malformed(
                    offset,
                    format!("feature state CRC-32 mismatch: stored 0x{stored:08X}, computed 0x{computed:08X}"),
                ));
            }
            let f = |o| le_f32(b, o).unwrap_or(0.0);
            aux(AuxBody::FeatureState(FeatureState {
                mode: b[5],
                seq: le_u16(b, 6).unwrap_or(0),
                ts_us: le_u64(b, 8).unwrap_or(0),
                motion: f(16),
                presence: f(20),
                resp_bpm: f(24),
                resp_conf: f(28),
                hb_bpm: f(32),
                hb_conf: f(36),
                anomaly: f(40),
                env_shift: f(44),
                node_coherence: f(48),
                quality_flags: le_u16(b, 52).unwrap_or(0),
            }))
        }
        _ => aux(AuxBody::Unknown(UnknownPacket {
            magic,
            size: b.len() as u32,
        })),
    }
}

fn decode_vitals(b: &[u8]) -> EdgeVitals {
    let flags = b[5];
    EdgeVitals {
        flags,
        presence: flags & 1 != 0,
        fall: flags & 2 != 0,
        motion: flags & 4 != 0,
        breathing_bpm: f64::from(le_u16(b, 6).unwrap_or(0)) / 100.0,
        heartrate_bpm: f64::from(le_u32(b, 8).unwrap_or(0)) / 10_000.0,
        rssi: Some(b[12] as i8),
        n_persons: b[13],
        motion_energy: le_f32(b, 16).unwrap_or(0.0),
        presence_score: le_f32(b, 20).unwrap_or(0.0),
        timestamp_ms: le_u32(b, 24),
    }
}

fn decode_csi(b: &[u8], offset: u64, timestamp_ns: i64, clock: Clock) -> Result<CsiFrame> {
    need(b, HEADER_LEN, offset, "raw CSI")?;
    let node_id = b[4];
    let n_ant = usize::from(b[5]);
    let n_sc = usize::from(le_u16(b, 6).unwrap_or(0));
    if n_ant == 0 || n_sc == 0 {
        return Err(malformed(
            offset,
            format!("raw CSI header has n_antennas = {n_ant}, n_subcarriers = {n_sc}"),
        ));
    }
    let pairs = n_ant * n_sc;
    if pairs > MAX_PAIRS {
        // A datagram is bounded by its own length, so an absurd count only spoils this packet.
        return Err(malformed(
            offset + 5,
            format!("n_antennas * n_subcarriers = {pairs} exceeds the limit {MAX_PAIRS}"),
        ));
    }
    let expected = HEADER_LEN + 2 * pairs;
    if b.len() != expected {
        return Err(malformed(
            offset,
            format!(
                "raw CSI header announces {n_ant} x {n_sc} pairs ({expected} bytes), datagram has {} bytes",
                b.len()
            ),
        ));
    }
    let freq = le_u32(b, 8).unwrap_or(0);
    let seq = le_u32(b, 12).unwrap_or(0);
    let rssi = b[16] as i8;
    let noise = b[17] as i8;
    let reserved = le_u16(b, 18).unwrap_or(0);
    let csi = iq_pairs_to_csi(&b[HEADER_LEN..], n_ant, n_sc);
    let mut f = CsiFrame::new(CaptureFormat::Esp32Adr018, Device::Esp32, csi);
    f.timestamp_ns = timestamp_ns;
    f.clock = clock;
    f.node_id = u32::from(node_id);
    f.sequence = Some(seq);
    f.rssi_dbm = Some(f32::from(rssi));
    f.noise_floor_dbm = Some(f32::from(noise));
    if freq != 0 {
        f.center_freq_mhz = Some(freq);
        f.channel = freq_to_channel(freq);
    }
    f.meta = FormatMeta::Esp32(Box::new(Esp32Meta {
        n_antennas: Some(n_ant as u8),
        adr018_reserved: Some(reserved),
        ..Esp32Meta::default()
    }));
    Ok(f)
}

/// Converts an ESP-IDF buffer of `[imag, real]` int8 pairs into `[n_ant][1][n_sc]` CSI.
/// `buf` must hold exactly `2 * n_ant * n_sc` bytes.
pub fn iq_pairs_to_csi(buf: &[u8], n_ant: usize, n_sc: usize) -> Array3<Complex32> {
    let data: Vec<Complex32> = buf
        .chunks_exact(2)
        .take(n_ant * n_sc)
        .map(|p| Complex32::new(f32::from(p[1] as i8), f32::from(p[0] as i8)))
        .collect();
    Array3::from_shape_vec((n_ant, 1, n_sc), data)
        .unwrap_or_else(|_| Array3::zeros((n_ant, 1, n_sc)))
}

/// Inverse of [`channel_to_freq_mhz`] for the channels the firmware encodes.
pub fn freq_to_channel(freq_mhz: u32) -> Option<u16> {
    match freq_mhz {
        2412..=2472 if (freq_mhz - 2412).is_multiple_of(5) => {
            Some(((freq_mhz - 2412) / 5 + 1) as u16)
        }
        2484 => Some(14),
        5160..=5885 if freq_mhz.is_multiple_of(5) => Some(((freq_mhz - 5000) / 5) as u16),
        _ => None,
    }
}

/// Fields of a raw CSI datagram to encode with [`encode_csi`].
#[derive(Clone, Debug, PartialEq)]
pub struct CsiDatagram {
    /// Node id.
    pub node_id: u8,
    /// Sequence number.
    pub sequence: u32,
    /// Channel (the frequency is derived as the firmware does).
    pub channel: u16,
    /// RSSI in dBm.
    pub rssi: i8,
    /// Noise floor in dBm.
    pub noise_floor: i8,
    /// Number of antennas.
    pub n_antennas: u8,
    /// `[imag, real]` int8 pairs, `n_antennas * n_subcarriers` of them.
    pub iq: Vec<[i8; 2]>,
}

/// Encodes a raw CSI datagram exactly as the firmware lays it out.
///
/// Fails when the pair count does not divide into antennas or exceeds the format's u16 field.
pub fn encode_csi(d: &CsiDatagram) -> Result<Vec<u8>> {
    let n_ant = usize::from(d.n_antennas.max(1));
    if !d.iq.len().is_multiple_of(n_ant)
        || d.iq.len() / n_ant > usize::from(u16::MAX)
        || d.iq.len() > MAX_PAIRS
    {
        return Err(Error::Config(format!(
            "cannot encode {} pairs over {} antennas as ADR-018",
            d.iq.len(),
            n_ant
        )));
    }
    let mut out = Vec::with_capacity(HEADER_LEN + 2 * d.iq.len());
    out.extend_from_slice(&MAGIC_CSI.to_le_bytes());
    out.push(d.node_id);
    out.push(n_ant as u8);
    out.extend_from_slice(&((d.iq.len() / n_ant) as u16).to_le_bytes());
    out.extend_from_slice(&channel_to_freq_mhz(d.channel).unwrap_or(0).to_le_bytes());
    out.extend_from_slice(&d.sequence.to_le_bytes());
    out.push(d.rssi as u8);
    out.push(d.noise_floor as u8);
    out.extend_from_slice(&[0, 0]);
    for p in &d.iq {
        out.push(p[0] as u8);
        out.push(p[1] as u8);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame_bytes(pairs: usize) -> Vec<u8> {
        encode_csi(&CsiDatagram {
            node_id: 3,
            sequence: 99,
            channel: 11,
            rssi: -50,
            noise_floor: -92,
            n_antennas: 1,
            iq: (0..pairs).map(|i| [i as i8, -(i as i8)]).collect(),
        })
        .unwrap()
    }

    #[test]
    fn round_trip_header_fields() {
        let b = frame_bytes(64);
        assert_eq!(b.len(), 20 + 128);
        let Record::Frame(f) = decode_datagram(&b, 0, 5, Clock::Host).unwrap() else {
            panic!("not a frame")
        };
        assert_eq!(f.node_id, 3);
        assert_eq!(f.sequence, Some(99));
        assert_eq!(f.center_freq_mhz, Some(2462));
        assert_eq!(f.channel, Some(11));
        assert_eq!(f.rssi_dbm, Some(-50.0));
        assert_eq!(f.noise_floor_dbm, Some(-92.0));
        assert_eq!(f.shape(), (1, 1, 64));
        // [imag, real]: pair i = [i, -i] -> re = -i, im = i
        assert_eq!(f.csi[[0, 0, 5]], Complex32::new(-5.0, 5.0));
    }

    #[test]
    fn length_mismatch_is_malformed() {
        let mut b = frame_bytes(64);
        b.pop();
        let e = decode_datagram(&b, 40, 0, Clock::Host).unwrap_err();
        assert!(e.is_recoverable());
        assert_eq!(e.offset(), Some(40));
    }

    #[test]
    fn absurd_counts_are_limited() {
        let mut b = frame_bytes(4);
        b[5] = 255;
        b[6] = 255;
        b[7] = 255;
        let e = decode_datagram(&b, 0, 0, Clock::Host).unwrap_err();
        assert!(e.is_recoverable());
        assert!(e.to_string().contains("exceeds the limit"));
    }

    #[test]
    fn feature_state_crc_checked() {
        let mut b = vec![0u8; 60];
        b[..4].copy_from_slice(&MAGIC_FEATURE_STATE.to_le_bytes());
        b[4] = 2;
        b[24..28].copy_from_slice(&15.5f32.to_le_bytes());
        let crc = crc32(&b[..56]);
        b[56..60].copy_from_slice(&crc.to_le_bytes());
        let Record::Aux(a) = decode_datagram(&b, 0, 0, Clock::Host).unwrap() else {
            panic!()
        };
        let AuxBody::FeatureState(s) = a.body else {
            panic!()
        };
        assert_eq!(s.resp_bpm, 15.5);
        b[30] ^= 1;
        assert!(decode_datagram(&b, 0, 0, Clock::Host).is_err());
    }

    #[test]
    fn vitals_decoded() {
        let mut b = vec![0u8; 32];
        b[..4].copy_from_slice(&MAGIC_VITALS.to_le_bytes());
        b[4] = 1;
        b[5] = 0b101;
        b[6..8].copy_from_slice(&1550u16.to_le_bytes());
        b[8..12].copy_from_slice(&720_000u32.to_le_bytes());
        let Record::Aux(a) = decode_datagram(&b, 0, 0, Clock::Host).unwrap() else {
            panic!()
        };
        let AuxBody::Vitals(v) = a.body else { panic!() };
        assert!(v.presence && v.motion && !v.fall);
        assert_eq!(v.breathing_bpm, 15.5);
        assert_eq!(v.heartrate_bpm, 72.0);
    }

    #[test]
    fn foreign_magic_rejected() {
        let e = decode_datagram(&[1, 2, 3, 4, 5, 6], 0, 0, Clock::Host).unwrap_err();
        assert!(e.to_string().contains("not an ADR-018 magic"));
    }

    #[test]
    fn channel_freq_inverse() {
        for ch in (1..=14).chain([36, 40, 149, 165]) {
            assert_eq!(freq_to_channel(channel_to_freq_mhz(ch).unwrap()), Some(ch));
        }
    }
}
