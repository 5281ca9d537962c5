//! The native `.csirec` recording: lossless record and replay of [`Record`]s.
//!
//! Layout (all integers little-endian):
//!
//! ```text
//! "WSCSIREC"                    8 bytes magic
//! u16 format version            3 (written by this version; 1 and 2 still read)
//! u32 header length H
//! H bytes                       bincode 2 (standard config) of RecordingHeader
//! then, repeated until the end (append-only):
//!   u32 body length N           at most Limits::max_record_bytes
//!   u32 CRC-32 (IEEE) of body
//!   N bytes                     the entry (below)
//! ```
//!
//! **Version 1** entries are bincode 2 (standard config) of [`Record`]: every CSI value a
//! float32 pair serialised value by value.
//!
//! **Version 2** keeps the header and framing and changes only the frame entries, so that the
//! CSI is stored in the narrowest integer type that holds every value of the frame exactly:
//!
//! ```text
//! u8 0                          a frame (1: a non-CSI record, then bincode of AuxRecord,
//!                               byte for byte as in version 1)
//! bincode of the frame's fields other than `subcarriers` and `csi` (same order and types)
//! u8 subcarriers                0 = None, 1 = Some: then u32 count n, n x i16
//! u32 rx, u32 tx, u32 subcarriers      the CSI shape
//! u8 CSI encoding               0 = f32 pairs, 1 = i16 pairs, 2 = i8 pairs
//! rx * tx * subcarriers (re, im) pairs, row-major over [rx][tx][subcarrier]
//! ```
//!
//! The writer picks the encoding per frame: i8 when every value of the frame is an integer in
//! -128..=127 (Intel 5300, ESP32), else i16 when every value is an integer in i16 range (Nexmon
//! int16, Atheros), else f32. "Is an integer" compares the bits of the float, so -0.0, NaN and
//! fractions keep f32 and every frame reads back bit for bit. Integer CSI takes 2 or 4 bytes per
//! value instead of 8, and the values are written in one block rather than one by one.
//!
//! **Version 3** keeps version 2's entries and adds two codes:
//!
//! * subcarrier flag **2**: the frame's list is the same as that of the last entry that stated
//!   one inline (flag 1). A capture's subcarrier list rarely changes, so most frames store one
//!   byte instead of 2 bytes per subcarrier (256 int16 per Nexmon 80 MHz frame, more than a
//!   third of a version 2 entry). The writer states the list inline again after
//!   [`RESTATE_SUBCARRIERS_EVERY`] frames even when it did not change, and the reader forgets
//!   the list at an entry it cannot read (CRC mismatch, damaged fields): a lost entry then costs
//!   the frames up to the next inline list at most (each reported as malformed), never a
//!   wrong list.
//! * CSI encoding **3**: 10-bit two's complement pairs (re in the low 10 bits, im in the next
//!   10) packed little-endian, two pairs in 5 bytes and an odd last pair in 3, for frames whose
//!   values are all integers in -512..=511 but not all in i8 range (Atheros CSI is 10-bit):
//!   2.5 bytes per complex value instead of 4.
//!
//! [`RecordingWriter::with_version`] still writes versions 1 and 2 for older readers.
//!
//! A file cut inside an entry replays every complete entry and then reports
//! [`Error::Truncated`] with the offset of the cut entry. An entry whose CRC does not match is a
//! recoverable [`Error::Malformed`] and is skipped by its length when an entry that checks
//! follows it, as is a frame whose CSI has more values, or an axis longer, than
//! `Limits::max_csi_values`. When none follows, or the length itself is impossible (0, over
//! `Limits::max_record_bytes`, or past the end of the input), the length is taken as damaged:
//! the reader looks, byte by byte, for the next position where a believable length (at most
//! twice the longest entry read so far, or 64 KiB) is followed by a body whose CRC-32 checks,
//! at most `Limits::max_record_bytes` ahead, and goes on from there with one recoverable
//! [`Error::Malformed`] that names the bytes skipped. A damaged length therefore costs its own
//! entry, not the rest of the file. If no such position comes, the error is what it was before
//! the search ([`Error::LimitExceeded`], [`Error::Truncated`]) or, after a CRC mismatch, an
//! [`Error::Malformed`] after which reading stops.

use std::io::Write;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use num_complex::Complex32;

use crate::frame::{CaptureFormat, Clock, CsiArray, CsiFrame, Device, FormatMeta};
use crate::reader::{
    CaptureReader, Confidence, FormatDescriptor, Input, ReaderOptions, SpareBuffers,
};
use crate::record::{AuxRecord, Record};
use crate::util::crc32;

/// File magic.
pub const MAGIC: &[u8; 8] = b"WSCSIREC";
/// Format version written by this crate (see the module docs; version 1 still reads).
pub const FORMAT_VERSION: u16 = 3;
/// The format versions this crate reads (and can write with [`RecordingWriter::with_version`]).
pub const READABLE_VERSIONS: [u16; 3] = [1, 2, 3];
const MAX_HEADER: usize = 1 << 20;

/// Header of a recording.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecordingHeader {
    /// Format version (see [`FORMAT_VERSION`]).
    pub format_version: u16,
    /// Creation time, nanoseconds since the Unix epoch.
    pub created_unix_ns: i64,
    /// Description of the source (file name, `udp://...`, simulator scenario).
    pub source: String,
    /// Configuration used to produce the recording, as JSON text (may be empty).
    pub config: String,
    /// Version of the library that wrote it.
    pub writer: String,
}

impl RecordingHeader {
    /// A header stamped with the current time and this library's version.
    pub fn new(source: impl Into<String>, config: impl Into<String>) -> Self {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as i64)
            .unwrap_or(0);
        RecordingHeader {
            format_version: FORMAT_VERSION,
            created_unix_ns: now,
            source: source.into(),
            config: config.into(),
            writer: format!("wifi-sensing-core {}", env!("CARGO_PKG_VERSION")),
        }
    }
}

fn cfg() -> bincode::config::Configuration {
    bincode::config::standard()
}

/// Upper bound on the memory one decoded entry may claim. bincode checks every length prefix
/// against it before allocating, so a corrupt or hostile length cannot allocate more than this
/// (entries are at most `Limits::max_record_bytes` = 16 MiB on disk by default, and decode to
/// at most about twice that).
const DECODE_LIMIT: usize = 64 << 20;

fn decode_cfg() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<DECODE_LIMIT>()
}

fn enc_err(e: impl std::fmt::Display) -> Error {
    Error::Encode(e.to_string())
}

/// [`Record`] by reference: serialises exactly as `Record` does (same variant names and order).
#[derive(Serialize)]
#[serde(rename = "Record", rename_all = "snake_case")]
enum RecordRef<'a> {
    Frame(&'a CsiFrame),
    Aux(&'a AuxRecord),
}

/// The fields of a [`CsiFrame`] that a version 2 entry stores with bincode (all but
/// `subcarriers` and `csi`), by reference, in the frame's field order.
#[derive(Serialize)]
struct FrameHeadRef<'a> {
    timestamp_ns: i64,
    clock: Clock,
    node_id: u32,
    mac: Option<[u8; 6]>,
    sequence: Option<u32>,
    rssi_dbm: Option<f32>,
    chain_rssi: &'a [f32],
    noise_floor_dbm: Option<f32>,
    channel: Option<u16>,
    center_freq_mhz: Option<u32>,
    bandwidth_mhz: Option<u16>,
    format: CaptureFormat,
    device: Device,
    meta: &'a FormatMeta,
}

/// [`FrameHeadRef`] read back.
#[derive(Deserialize)]
struct FrameHead {
    timestamp_ns: i64,
    clock: Clock,
    node_id: u32,
    mac: Option<[u8; 6]>,
    sequence: Option<u32>,
    rssi_dbm: Option<f32>,
    chain_rssi: Vec<f32>,
    noise_floor_dbm: Option<f32>,
    channel: Option<u16>,
    center_freq_mhz: Option<u32>,
    bandwidth_mhz: Option<u16>,
    format: CaptureFormat,
    device: Device,
    meta: FormatMeta,
}

/// CSI encodings (the byte after the shape). Version 2 has 0 to 2, version 3 adds 3.
const CSI_F32: u8 = 0;
const CSI_I16: u8 = 1;
const CSI_I8: u8 = 2;
const CSI_I10: u8 = 3;

/// 1.5 · 2^23: `x + ROUND` rounds `x` (|x| < 2^22) to an integer, whose value is then the low
/// bits of the sum's representation (`ROUND.to_bits() + x`).
const ROUND: f32 = 12_582_912.0;

fn shape_u32(n: usize) -> Result<u32> {
    u32::try_from(n).map_err(|_| Error::Encode(format!("CSI dimension {n} is over u32")))
}

/// How a frame entry states its subcarrier list (the flag byte before the CSI shape).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ScFlag {
    /// `subcarriers` is `None` (flag 0).
    None = 0,
    /// The list follows: u32 count n, n x i16 (flag 1).
    Inline = 1,
    /// Version 3 only: the same list as the last entry that stated one inline (flag 2).
    Same = 2,
}

/// Version 3 writers state an unchanged subcarrier list inline again after this many frame
/// entries that referred to it (subcarrier flag 2, see `docs/csirec.md`), so that an entry lost
/// to damage costs at most this many following frames (whose list the reader then cannot know).
pub const RESTATE_SUBCARRIERS_EVERY: u32 = 256;

/// The version 3 writer's memory of the subcarrier list it last stated inline.
#[derive(Debug, Default)]
struct ScRun {
    list: Vec<i16>,
    /// `list` was stated by an entry that was written.
    valid: bool,
    /// Frame entries written since (including) the one that stated it.
    since: u32,
}

/// Appends a version 2 or 3 frame entry of `frame` to `out`: its subcarrier list as `sc`
/// says ([`ScFlag::Same`] only in version 3), and its CSI in the narrowest encoding that
/// `allow_i10` (version 3) permits, which it returns. `guess`: the encoding to try first.
/// `int8`: the caller knows the values are integers in i8 range (see
/// [`RecordingWriter::assume_integer_csi`]), so they are packed as int8 pairs, the narrowest
/// encoding, without the scan.
fn encode_frame(
    frame: &CsiFrame,
    sc: ScFlag,
    allow_i10: bool,
    guess: u8,
    int8: bool,
    out: &mut Vec<u8>,
) -> Result<u8> {
    // destructured without `..`: a new frame field does not compile until it is stored here
    let CsiFrame {
        timestamp_ns,
        clock,
        node_id,
        mac,
        sequence,
        rssi_dbm,
        chain_rssi,
        noise_floor_dbm,
        channel,
        center_freq_mhz,
        bandwidth_mhz,
        format,
        device,
        subcarriers,
        csi,
        meta,
    } = frame;
    let head = FrameHeadRef {
        timestamp_ns: *timestamp_ns,
        clock: *clock,
        node_id: *node_id,
        mac: *mac,
        sequence: *sequence,
        rssi_dbm: *rssi_dbm,
        chain_rssi,
        noise_floor_dbm: *noise_floor_dbm,
        channel: *channel,
        center_freq_mhz: *center_freq_mhz,
        bandwidth_mhz: *bandwidth_mhz,
        format: *format,
        device: *device,
        meta,
    };
    out.push(0);
    encode_head(&head, out)?;
    out.push(sc as u8);
    if let (ScFlag::Inline, Some(s)) = (sc, subcarriers) {
        out.extend_from_slice(&shape_u32(s.len())?.to_le_bytes());
        let at = out.len();
        out.resize(at + 2 * s.len(), 0);
        for (d, k) in out[at..].chunks_exact_mut(2).zip(s) {
            d.copy_from_slice(&k.to_le_bytes());
        }
    }
    let (rx, tx, sc) = csi.dim();
    for d in [rx, tx, sc] {
        out.extend_from_slice(&shape_u32(d)?.to_le_bytes());
    }
    let owned;
    let values: &[Complex32] = match csi.as_slice() {
        Some(v) => v,
        None => {
            owned = csi.iter().copied().collect::<Vec<_>>();
            &owned
        }
    };
    // the values are packed in the encoding of the writer's previous frame (`guess`, the same
    // as this one's in a capture of one kind of frame) while finding the narrowest encoding,
    // and packed again only when that is another one
    let enc_at = out.len();
    if int8 {
        out.push(CSI_I8);
        let at = out.len();
        out.resize(at + csi_bytes(CSI_I8, values.len()), 0);
        if pack_known_i8(values, &mut out[at..]) {
            return Ok(CSI_I8);
        }
        // the promise did not hold for this frame: the full scan below decides its encoding
        out.truncate(enc_at);
    }
    out.push(guess);
    let at = out.len();
    out.resize(at + csi_bytes(guess, values.len()), 0);
    let enc = narrowest(pack(guess, values, &mut out[at..]), allow_i10);
    if enc != guess {
        out.truncate(at);
        out.resize(at + csi_bytes(enc, values.len()), 0);
        pack(enc, values, &mut out[at..]);
        out[enc_at] = enc;
    }
    Ok(enc)
}

/// bincode 2's standard-config varint of an unsigned integer: one byte below 251, else a
/// marker byte (251, 252, 253) and the value as u16, u32 or u64, little-endian.
#[inline(always)]
fn put_varint(v: u64, out: &mut Vec<u8>) {
    if v < 251 {
        out.push(v as u8);
    } else if v <= u64::from(u16::MAX) {
        out.push(251);
        out.extend_from_slice(&(v as u16).to_le_bytes());
    } else if v <= u64::from(u32::MAX) {
        out.push(252);
        out.extend_from_slice(&(v as u32).to_le_bytes());
    } else {
        out.push(253);
        out.extend_from_slice(&v.to_le_bytes());
    }
}

/// bincode's `Option` tag (0 = `None`, 1 = `Some`), then the value when there is one.
#[inline(always)]
fn put_opt<T: Copy>(v: Option<T>, out: &mut Vec<u8>, put: impl FnOnce(T, &mut Vec<u8>)) {
    match v {
        None => out.push(0),
        Some(x) => {
            out.push(1);
            put(x, out);
        }
    }
}

/// Appends `head` as `bincode::serde` with the standard configuration encodes it (the bytes
/// are the same, which a test checks), writing the fixed fields directly: bincode's serde path
/// goes through a call per field and per byte of the MAC, a noticeable part of a conversion.
/// The format's `meta` is written by [`encode_meta`].
fn encode_head(head: &FrameHeadRef<'_>, out: &mut Vec<u8>) -> Result<()> {
    let f32_le = |x: f32, out: &mut Vec<u8>| out.extend_from_slice(&x.to_le_bytes());
    // signed integers: zigzag, then the unsigned varint
    put_signed(head.timestamp_ns, out);
    // unit enums: the variant index (declaration order) as a u32 varint
    put_varint(head.clock as u64, out);
    put_varint(u64::from(head.node_id), out);
    put_opt(head.mac, out, |m, out| out.extend_from_slice(&m));
    put_opt(head.sequence, out, |x, out| put_varint(u64::from(x), out));
    put_opt(head.rssi_dbm, out, f32_le);
    put_varint(head.chain_rssi.len() as u64, out);
    for &x in head.chain_rssi {
        f32_le(x, out);
    }
    put_opt(head.noise_floor_dbm, out, f32_le);
    put_opt(head.channel, out, |x, out| put_varint(u64::from(x), out));
    put_opt(head.center_freq_mhz, out, |x, out| {
        put_varint(u64::from(x), out)
    });
    put_opt(head.bandwidth_mhz, out, |x, out| {
        put_varint(u64::from(x), out)
    });
    put_varint(head.format as u64, out);
    put_varint(head.device as u64, out);
    encode_meta(head.meta, out)
}

/// bincode's zigzag varint of a signed integer.
#[inline(always)]
fn put_signed(v: i64, out: &mut Vec<u8>) {
    put_varint(((v << 1) ^ (v >> 63)) as u64, out);
}

/// Appends `meta` as `bincode::serde` (standard configuration) encodes it, writing the
/// metadata of the Intel 5300, Nexmon, Atheros and PicoScenes readers directly (a test compares
/// the bytes with bincode's); the other formats' (ESP32, FeitCSI) go through bincode. Each
/// struct is destructured without `..`, so a new field does not compile until it is written
/// here.
fn encode_meta(meta: &FormatMeta, out: &mut Vec<u8>) -> Result<()> {
    use crate::formats::{atheros::AtherosMeta, intel5300::Intel5300Meta, nexmon::NexmonMeta};
    let bool8 = |b: bool, out: &mut Vec<u8>| out.push(u8::from(b));
    match meta {
        FormatMeta::None => put_varint(META_NONE, out),
        FormatMeta::Intel5300(m) => {
            let Intel5300Meta {
                timestamp_low,
                bfee_count,
                nrx,
                ntx,
                rssi_a,
                rssi_b,
                rssi_c,
                noise,
                agc,
                antenna_sel,
                perm,
                permuted,
                rate,
                total_rss,
                csi_power,
                scaled,
                c1,
            } = m;
            put_varint(META_INTEL5300, out);
            put_varint(u64::from(*timestamp_low), out);
            put_varint(u64::from(*bfee_count), out);
            out.extend_from_slice(&[*nrx, *ntx, *rssi_a, *rssi_b, *rssi_c, *noise as u8, *agc]);
            out.push(*antenna_sel);
            out.extend_from_slice(perm);
            bool8(*permuted, out);
            put_varint(u64::from(*rate), out);
            out.extend_from_slice(&total_rss.to_le_bytes());
            put_varint(u64::from(*csi_power), out);
            bool8(*scaled, out);
            put_opt(*c1, out, |h, out| {
                let crate::formats::intel5300::MacHeader {
                    fc,
                    dur,
                    addr_des,
                    addr_src,
                    addr_bssid,
                    seq,
                } = h;
                put_varint(u64::from(fc), out);
                put_varint(u64::from(dur), out);
                out.extend_from_slice(&addr_des);
                out.extend_from_slice(&addr_src);
                out.extend_from_slice(&addr_bssid);
                put_varint(u64::from(seq), out);
            });
        }
        FormatMeta::Nexmon(m) => {
            let NexmonMeta {
                header_version,
                magic,
                rssi,
                fc,
                src_addr,
                seq,
                core,
                spatial,
                chan_spec,
                chip_version,
                chip,
                chip_inferred,
                packed_float,
                nfft,
                sideband,
                control_channel,
                offset,
                caplen,
                wirelen,
                udp_payload_len,
                eth_trailer_len,
                phy_status_masked,
                iq_swapped,
                group,
            } = m;
            put_varint(META_NEXMON, out);
            out.push(*header_version);
            put_varint(u64::from(*magic), out);
            put_opt(*rssi, out, |x, out| out.push(x as u8));
            put_opt(*fc, out, |x, out| out.push(x));
            out.extend_from_slice(src_addr);
            put_varint(u64::from(*seq), out);
            out.extend_from_slice(&[*core, *spatial]);
            put_varint(u64::from(*chan_spec), out);
            put_varint(u64::from(*chip_version), out);
            put_opt(*chip, out, |c, out| put_varint(c as u64, out));
            bool8(*chip_inferred, out);
            bool8(*packed_float, out);
            put_varint(u64::from(*nfft), out);
            out.push(*sideband);
            put_opt(*control_channel, out, |x, out| {
                put_varint(u64::from(x), out)
            });
            put_varint(*offset, out);
            for x in [caplen, wirelen, udp_payload_len, eth_trailer_len] {
                put_varint(u64::from(*x), out);
            }
            bool8(*phy_status_masked, out);
            bool8(*iq_swapped, out);
            put_varint(group.len() as u64, out);
            for g in group {
                out.extend_from_slice(g);
            }
        }
        FormatMeta::Atheros(m) => {
            let AtherosMeta {
                timestamp,
                csi_len,
                tx_channel,
                err_info,
                noise_floor,
                rate,
                bandwidth,
                num_tones,
                nr,
                nc,
                rssi,
                rssi_1,
                rssi_2,
                rssi_3,
                payload_len,
                endianness,
            } = m;
            put_varint(META_ATHEROS, out);
            put_varint(*timestamp, out);
            put_varint(u64::from(*csi_len), out);
            put_varint(u64::from(*tx_channel), out);
            out.extend_from_slice(&[
                *err_info,
                *noise_floor,
                *rate,
                *bandwidth,
                *num_tones,
                *nr,
                *nc,
                *rssi,
                *rssi_1,
                *rssi_2,
                *rssi_3,
            ]);
            put_varint(u64::from(*payload_len), out);
            put_varint(*endianness as u64, out);
        }
        FormatMeta::PicoScenes(m) => {
            put_varint(META_PICOSCENES, out);
            encode_picoscenes(m, out);
        }
        other => {
            bincode::serde::encode_into_std_write(other, &mut *out, cfg()).map_err(enc_err)?;
        }
    }
    Ok(())
}

/// [`encode_meta`] for PicoScenes metadata: its nested structs as `bincode::serde` (standard
/// configuration) encodes them (a test compares the bytes). bincode's serde path made about a
/// hundred calls per frame for them.
fn encode_picoscenes(m: &crate::formats::picoscenes::PicoScenesMeta, out: &mut Vec<u8>) {
    use crate::formats::picoscenes::{
        CsiInfo, ExtraInfo, MacHeader, MvmExtra, PicoScenesMeta, RxSBasic, SignalMatrixInfo,
        TxHeader,
    };
    let u = |v: u64, out: &mut Vec<u8>| put_varint(v, out);
    let i = |v: i64, out: &mut Vec<u8>| put_signed(v, out);
    let byte = |v: u8, out: &mut Vec<u8>| out.push(v);
    let f32_le = |x: f32, out: &mut Vec<u8>| out.extend_from_slice(&x.to_le_bytes());
    let mac = |a: [u8; 6], out: &mut Vec<u8>| out.extend_from_slice(&a);
    let PicoScenesMeta {
        frame_version,
        rx_basic,
        extra_info,
        mvm_extra,
        csi,
        mpdu_length,
        mac_header,
        tx_header,
    } = m;
    u(u64::from(*frame_version), out);
    match rx_basic {
        None => out.push(0),
        Some(r) => {
            let RxSBasic {
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
                num_rssi_ctl,
            } = r;
            out.push(1);
            u(u64::from(*version), out);
            u(u64::from(*device_type), out);
            u(*timestamp, out);
            put_opt(*system_time, out, u);
            i(i64::from(*center_freq), out);
            put_opt(*center_freq2, out, |x, out| i(i64::from(x), out));
            i(i64::from(*control_freq), out);
            u(u64::from(*cbw), out);
            out.push(*packet_format);
            u(u64::from(*packet_cbw), out);
            u(u64::from(*guard_interval), out);
            out.extend_from_slice(&[*mcs, *num_sts, *num_ess, *num_rx, *num_user, *user_index]);
            f32_le(*noise_floor, out);
            f32_le(*rssi, out);
            for x in rssi_ctl {
                f32_le(*x, out);
            }
            out.push(*num_rssi_ctl);
        }
    }
    match extra_info.as_deref() {
        None => out.push(0),
        Some(x) => {
            let ExtraInfo {
                feature_code,
                length,
                version,
                macaddr_cur,
                macaddr_rom,
                chansel,
                bmode,
                evm,
                tx_chainmask,
                rx_chainmask,
                txpower,
                cf,
                txtsf,
                last_txtsf,
                channel_flags,
                tx_ness,
                tuning_policy,
                pll_rate,
                pll_refdiv,
                pll_clock_select,
                agc,
                ant_sel,
                sampling_rate,
                cfo,
                sfo,
                temperature,
            } = x;
            out.push(1);
            u(u64::from(*feature_code), out);
            put_opt(*length, out, |v, out| u(u64::from(v), out));
            put_opt(*version, out, u);
            put_opt(*macaddr_cur, out, mac);
            put_opt(*macaddr_rom, out, mac);
            put_opt(*chansel, out, |v, out| u(u64::from(v), out));
            put_opt(*bmode, out, byte);
            put_opt(*evm, out, |e, out| out.extend(e.iter().map(|&v| v as u8)));
            for v in [tx_chainmask, rx_chainmask, txpower] {
                put_opt(*v, out, byte);
            }
            put_opt(*cf, out, u);
            for v in [txtsf, last_txtsf] {
                put_opt(*v, out, |v, out| u(u64::from(v), out));
            }
            put_opt(*channel_flags, out, |v, out| u(u64::from(v), out));
            for v in [tx_ness, tuning_policy] {
                put_opt(*v, out, byte);
            }
            put_opt(*pll_rate, out, |v, out| u(u64::from(v), out));
            for v in [pll_refdiv, pll_clock_select, agc, ant_sel] {
                put_opt(*v, out, byte);
            }
            put_opt(*sampling_rate, out, u);
            for v in [cfo, sfo] {
                put_opt(*v, out, |v, out| i(i64::from(v), out));
            }
            put_opt(*temperature, out, |v, out| out.push(v as u8));
        }
    }
    match mvm_extra {
        None => out.push(0),
        Some(x) => {
            let MvmExtra {
                header_length,
                iq_data_size,
                ftm_clock,
                num_tones,
                rssi1,
                rssi2,
                source_address,
                csi_sequence,
                mu_clock,
                rate_n_flags,
            } = x;
            out.push(1);
            u(u64::from(*header_length), out);
            for v in [iq_data_size, ftm_clock, num_tones, rssi1, rssi2] {
                u(u64::from(*v), out);
            }
            mac(*source_address, out);
            out.push(*csi_sequence);
            u(u64::from(*mu_clock), out);
            u(u64::from(*rate_n_flags), out);
        }
    }
    match csi {
        None => out.push(0),
        Some(c) => {
            let CsiInfo {
                version,
                device_type,
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
                streams_per_chain,
                signal_matrix,
            } = c;
            out.push(1);
            u(u64::from(*version), out);
            u(u64::from(*device_type), out);
            put_opt(*firmware_version, out, byte);
            out.push(*packet_format as u8);
            u(u64::from(*cbw), out);
            u(*carrier_freq, out);
            u(*sampling_rate, out);
            u(u64::from(*subcarrier_bandwidth), out);
            u(u64::from(*num_tones), out);
            out.extend_from_slice(&[*num_tx, *num_rx, *num_ess]);
            put_opt(*num_csi, out, |v, out| u(u64::from(v), out));
            out.push(*ant_sel);
            put_opt(*subcarrier_offset, out, |v, out| i(i64::from(v), out));
            u(u64::from(*csi_buffer_length), out);
            u(u64::from(*streams_per_chain), out);
            match signal_matrix.as_deref() {
                None => out.push(0),
                Some(s) => {
                    let SignalMatrixInfo {
                        version,
                        ndim,
                        dims,
                        row_major,
                    } = s;
                    out.extend_from_slice(&[1, *version, *ndim]);
                    for d in dims {
                        u(*d, out);
                    }
                    out.push(u8::from(*row_major));
                }
            }
        }
    }
    u(u64::from(*mpdu_length), out);
    put_opt(*mac_header, out, |h, out| {
        let MacHeader {
            frame_control,
            duration,
            addr1,
            addr2,
            addr3,
            fragment,
            sequence,
        } = h;
        u(u64::from(frame_control), out);
        u(u64::from(duration), out);
        mac(addr1, out);
        put_opt(addr2, out, mac);
        put_opt(addr3, out, mac);
        put_opt(fragment, out, byte);
        put_opt(sequence, out, |v, out| u(u64::from(v), out));
    });
    put_opt(*tx_header, out, |h, out| {
        let TxHeader {
            magic_value,
            version,
            device_type,
            num_segments,
            frame_type,
            task_id,
            tx_id,
        } = h;
        u(u64::from(magic_value), out);
        u(u64::from(version), out);
        u(u64::from(device_type), out);
        out.extend_from_slice(&[num_segments, frame_type]);
        u(u64::from(task_id), out);
        u(u64::from(tx_id), out);
    });
}

/// Variant indices of [`FormatMeta`] (declaration order, as serde numbers them).
const META_NONE: u64 = 0;
const META_NEXMON: u64 = 2;
const META_INTEL5300: u64 = 3;
const META_ATHEROS: u64 = 4;
const META_PICOSCENES: u64 = 5;

/// Which encodings the values scanned so far rule out (see [`narrowest`]).
#[derive(Clone, Copy, Default)]
struct Fits {
    not_int: bool,
    not_i8: bool,
    not_i10: bool,
}

/// The narrowest encoding of values that [`Fits`] describes (10-bit pairs only when
/// `allow_i10`).
fn narrowest(f: Fits, allow_i10: bool) -> u8 {
    if f.not_int {
        CSI_F32
    } else if !f.not_i8 {
        CSI_I8
    } else if allow_i10 && !f.not_i10 {
        CSI_I10
    } else {
        CSI_I16
    }
}

/// Pairs [`pack`] turns into 10-bit codes at a time (even, so that only the last block of a
/// frame can end with an odd pair).
const I10_BLOCK: usize = 64;

/// Packs `v` into `dst` (`csi_bytes(enc, v.len())` bytes) in encoding `enc`, and scans every
/// value on the way for the encodings it fits (what is packed is meaningful only for values
/// that fit `enc`). Float additions and integer operations only, without branches, compares or
/// saturating casts, one store per value or pair of values.
///
/// Each value `x` is rounded by adding [`ROUND`] (1.5 · 2^23): `i`, the difference of the
/// sum's bits and `ROUND`'s, is `x` rounded to an integer when |x| < 2^22, and |i| ≥ 2^22 for
/// any other `x` (a larger sum has another exponent; a negative sum, NaN or an infinity has
/// bits far from `ROUND`'s). `x` is an integer when subtracting `ROUND` again gives back its
/// bits (exact while |i| < 2^22), so -0.0, NaN and fractions need f32. The range of the
/// integers is the highest bit of the OR of every `|i|`-like magnitude (`i ^ (i >> 31)`,
/// which is `i` for `i ≥ 0` and `-i - 1` below): below 2^7 every value is in i8 range, below
/// 2^9 in the 10-bit range, below 2^15 in i16 range.
fn pack(enc: u8, v: &[Complex32], dst: &mut [u8]) -> Fits {
    let (mut inexact, mut mag) = (0u32, 0u32);
    let mut scan = |x: f32| -> i32 {
        let y = x + ROUND;
        let i = (y.to_bits() as i32).wrapping_sub(ROUND.to_bits() as i32);
        inexact |= (y - ROUND).to_bits() ^ x.to_bits();
        mag |= (i ^ (i >> 31)) as u32;
        i
    };
    // re in the low half, im in the high half: little-endian pairs
    match enc {
        CSI_I8 => {
            for (d, c) in dst.chunks_exact_mut(2).zip(v) {
                let (re, im) = (scan(c.re), scan(c.im));
                let w = (re as u16 & 0xFF) | (im as u16) << 8;
                d.copy_from_slice(&w.to_le_bytes());
            }
        }
        CSI_I10 => {
            // in blocks of I10_BLOCK pairs (even): the scan and each pair's 20 bits into `codes`
            // (one loop that vectorises), then two pairs (40 bits) in 5 bytes from there, an odd
            // last pair in 3
            let mut codes = [0u32; I10_BLOCK];
            let mut at = 0;
            for block in v.chunks(I10_BLOCK) {
                let codes = &mut codes[..block.len()];
                for (k, c) in codes.iter_mut().zip(block) {
                    let (re, im) = (scan(c.re), scan(c.im));
                    *k = (re as u32 & 0x3FF) | (im as u32 & 0x3FF) << 10;
                }
                let mut pairs = codes.chunks_exact(2);
                for p in &mut pairs {
                    let w = u64::from(p[0]) | u64::from(p[1]) << 20;
                    dst[at..at + 5].copy_from_slice(&w.to_le_bytes()[..5]);
                    at += 5;
                }
                if let Some(&k) = pairs.remainder().first() {
                    dst[at..at + 3].copy_from_slice(&k.to_le_bytes()[..3]);
                    at += 3;
                }
            }
        }
        CSI_I16 => {
            for (d, c) in dst.chunks_exact_mut(4).zip(v) {
                let (re, im) = (scan(c.re), scan(c.im));
                let w = (re as u32 & 0xFFFF) | (im as u32) << 16;
                d.copy_from_slice(&w.to_le_bytes());
            }
        }
        _ => {
            for (d, c) in dst.chunks_exact_mut(8).zip(v) {
                scan(c.re);
                scan(c.im);
                let w = u64::from(c.re.to_bits()) | u64::from(c.im.to_bits()) << 32;
                d.copy_from_slice(&w.to_le_bytes());
            }
        }
    }
    Fits {
        not_int: inexact != 0 || mag >= 1 << 15,
        not_i8: mag >= 1 << 7,
        not_i10: mag >= 1 << 9,
    }
}

/// Packs `v`, expected to hold integers in i8 range, as int8 pairs into `dst` (`2 * v.len()`
/// bytes) and returns whether every value was one: then `dst` holds the same bytes as [`pack`]
/// with [`CSI_I8`]; otherwise the caller must encode the frame again. Cheaper than `pack`'s
/// scan: rounding by adding [`ROUND`] leaves the integer's two's complement in the low byte of
/// the sum's bits (`ROUND`'s own low byte is 0), and a value is verified by converting that
/// byte back to a float and comparing bits, which rejects fractions, values out of i8 range,
/// -0.0, NaN and infinities. Branch-free; it vectorises.
fn pack_known_i8(v: &[Complex32], dst: &mut [u8]) -> bool {
    let mut differ = 0u32;
    for (d, c) in dst.chunks_exact_mut(2).zip(v) {
        for (b, x) in d.iter_mut().zip([c.re, c.im]) {
            let byte = (x + ROUND).to_bits() as u8;
            differ |= f32::from(byte as i8).to_bits() ^ x.to_bits();
            *b = byte;
        }
    }
    differ == 0
}

/// Appends to `v` the `n` complex values that `raw` holds in encoding `enc`
/// (`csi_bytes(enc, n)` bytes).
fn decode_csi(enc: u8, raw: &[u8], n: usize, v: &mut Vec<Complex32>) {
    v.reserve(n);
    match enc {
        CSI_I8 => v.extend(
            raw.chunks_exact(2)
                .map(|p| Complex32::new(f32::from(p[0] as i8), f32::from(p[1] as i8))),
        ),
        CSI_I10 => {
            // 10-bit two's complement, sign-extended by shifting it to the top of an i32
            let val = |w: u64, shift: u32| f32::from((((w >> shift) as i32) << 22 >> 22) as i16);
            let mut chunks = raw.chunks_exact(5);
            for p in &mut chunks {
                let w = u64::from_le_bytes([p[0], p[1], p[2], p[3], p[4], 0, 0, 0]);
                v.push(Complex32::new(val(w, 0), val(w, 10)));
                v.push(Complex32::new(val(w, 20), val(w, 30)));
            }
            if let [a, b, c] = *chunks.remainder() {
                let w = u64::from_le_bytes([a, b, c, 0, 0, 0, 0, 0]);
                v.push(Complex32::new(val(w, 0), val(w, 10)));
            }
        }
        CSI_I16 => v.extend(raw.chunks_exact(4).map(|p| {
            Complex32::new(
                f32::from(i16::from_le_bytes([p[0], p[1]])),
                f32::from(i16::from_le_bytes([p[2], p[3]])),
            )
        })),
        _ => v.extend(raw.chunks_exact(8).map(|p| {
            Complex32::new(
                f32::from_le_bytes([p[0], p[1], p[2], p[3]]),
                f32::from_le_bytes([p[4], p[5], p[6], p[7]]),
            )
        })),
    }
}

/// Bytes taken by `n` complex values in encoding `enc`.
fn csi_bytes(enc: u8, n: usize) -> usize {
    match enc {
        CSI_I8 => 2 * n,
        CSI_I10 => n / 2 * 5 + 3 * (n % 2),
        CSI_I16 => 4 * n,
        _ => 8 * n,
    }
}

/// Reads `N` bytes at `*at`, advancing it.
fn take<'a>(b: &'a [u8], at: &mut usize, n: usize) -> std::result::Result<&'a [u8], String> {
    let s = at
        .checked_add(n)
        .and_then(|end| b.get(*at..end))
        .ok_or_else(|| {
            format!(
                "entry ends inside its CSI block (byte {} of {})",
                *at,
                b.len()
            )
        })?;
    *at += n;
    Ok(s)
}

fn take_u32(b: &[u8], at: &mut usize) -> std::result::Result<usize, String> {
    let s = take(b, at, 4)?;
    Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]]) as usize)
}

/// Decodes the version 2 or 3 frame entry `b` (after its leading 0 byte). Every count is
/// checked against the bytes left before anything is allocated for it. `last_sc` is the
/// subcarrier list of the last version 3 entry that stated one (`None`: no such entry, or an
/// entry since was lost), which a [`ScFlag::Same`] entry refers to; a frame that states a list
/// replaces it. The frame's CSI and subcarrier list are built in `spare`'s buffers (frames
/// handed back through [`CaptureReader::recycle`]).
fn decode_frame(
    b: &[u8],
    max_values: usize,
    version: u16,
    last_sc: &mut Option<Vec<i16>>,
    spare: &mut SpareBuffers,
) -> std::result::Result<CsiFrame, String> {
    let (head, mut at): (FrameHead, usize) = bincode::serde::decode_from_slice(b, decode_cfg())
        .map_err(|e| format!("frame fields do not decode: {e}"))?;
    let mut stated = false;
    let subcarriers = match take(b, &mut at, 1)?[0] {
        0 => None,
        1 => {
            let n = take_u32(b, &mut at)?;
            let raw = take(b, &mut at, n.saturating_mul(2))?;
            stated = true;
            let mut v = spare.empty_subcarriers();
            v.extend(
                raw.chunks_exact(2)
                    .map(|p| i16::from_le_bytes([p[0], p[1]])),
            );
            Some(v)
        }
        2 if version >= 3 => match last_sc {
            Some(l) => Some(spare.subcarriers(l)),
            None => {
                return Err("frame refers to the subcarrier list of an earlier entry, \
                            which was not read (damaged or missing)"
                    .into())
            }
        },
        x => {
            return Err(format!(
                "subcarrier flag {x} (expected 0 or 1{})",
                if version >= 3 { " or 2" } else { "" }
            ))
        }
    };
    let (rx, tx, sc) = (
        take_u32(b, &mut at)?,
        take_u32(b, &mut at)?,
        take_u32(b, &mut at)?,
    );
    // each axis too: an empty array (one axis 0) of 0 x 1 x 4e9 would pass a product check and
    // hand later stages an axis length to size their buffers by
    let n = rx
        .checked_mul(tx)
        .and_then(|x| x.checked_mul(sc))
        .filter(|&n| n <= max_values && rx.max(tx).max(sc) <= max_values)
        .ok_or_else(|| {
            format!("CSI shape {rx}x{tx}x{sc} is over the limit of {max_values} values")
        })?;
    let enc = take(b, &mut at, 1)?[0];
    match enc {
        CSI_I8 | CSI_I16 | CSI_F32 => {}
        CSI_I10 if version >= 3 => {}
        x => {
            return Err(format!(
                "CSI encoding {x} (expected 0, 1, 2{})",
                if version >= 3 { " or 3" } else { "" }
            ))
        }
    }
    let raw = take(b, &mut at, csi_bytes(enc, n))?;
    if at != b.len() {
        return Err(format!("entry has {} bytes after its CSI", b.len() - at));
    }
    let mut values = spare.values();
    decode_csi(enc, raw, n, &mut values);
    let csi =
        CsiArray::from_shape_vec((rx, tx, sc), values).map_err(|e| format!("CSI shape: {e}"))?;
    if let Some(s) = subcarriers.as_ref().filter(|_| stated && version >= 3) {
        // `clone_from` keeps the list's allocation
        last_sc.get_or_insert_with(Vec::new).clone_from(s);
    }
    let FrameHead {
        timestamp_ns,
        clock,
        node_id,
        mac,
        sequence,
        rssi_dbm,
        chain_rssi,
        noise_floor_dbm,
        channel,
        center_freq_mhz,
        bandwidth_mhz,
        format,
        device,
        meta,
    } = head;
    Ok(CsiFrame {
        timestamp_ns,
        clock,
        node_id,
        mac,
        sequence,
        rssi_dbm,
        chain_rssi,
        noise_floor_dbm,
        channel,
        center_freq_mhz,
        bandwidth_mhz,
        format,
        device,
        subcarriers,
        csi,
        meta,
    })
}

/// Appends records to a recording.
///
/// ```
/// use wifi_sensing_core::recording::{RecordingWriter, RecordingHeader, RecordingReader};
/// use wifi_sensing_core::{CsiFrame, CaptureFormat, Device, Record, CaptureReader};
/// let mut buf = Vec::new();
/// let mut w = RecordingWriter::new(&mut buf, &RecordingHeader::new("doc", ""))?;
/// let f = CsiFrame::new(CaptureFormat::Simulated, Device::Simulator, ndarray::Array3::zeros((1, 1, 4)));
/// w.write(&Record::Frame(f.clone()))?;
/// w.flush()?;
/// drop(w);
/// let mut r = RecordingReader::new(Box::new(std::io::Cursor::new(buf)), &Default::default())?;
/// assert_eq!(r.next_record().unwrap()?, Record::Frame(f));
/// assert!(r.next_record().is_none());
/// # Ok::<(), wifi_sensing_core::Error>(())
/// ```
///
/// Entries are encoded into one buffer and written to `W` in batches of at least
/// [`WRITE_BATCH`] bytes (a `BufWriter` of that capacity or less passes them straight
/// through, without copying them again); [`flush`](Self::flush) writes what is pending, as does
/// dropping the writer (errors ignored, as `BufWriter` does: call `flush` to see them).
#[derive(Debug)]
pub struct RecordingWriter<W: Write> {
    /// `Some` until [`into_inner`](Self::into_inner) takes it.
    out: Option<W>,
    version: u16,
    written: u64,
    /// Complete entries not yet written, then the entry being encoded.
    scratch: Vec<u8>,
    run: ScRun,
    /// The CSI encoding of the last frame (tried first for the next).
    last_enc: u8,
    /// [`assume_integer_csi`](Self::assume_integer_csi)`(Some(8))` is in force.
    known_i8: bool,
}

/// Size from which a [`RecordingWriter`] writes its pending entries to its output.
pub const WRITE_BATCH: usize = 1 << 16;

impl<W: Write> RecordingWriter<W> {
    /// Writes the file header and returns a writer of the current [`FORMAT_VERSION`].
    pub fn new(out: W, header: &RecordingHeader) -> Result<Self> {
        Self::with_version(out, header, FORMAT_VERSION)
    }

    /// Writes the file header and returns a writer of format `version` (one of
    /// [`READABLE_VERSIONS`]; version 1 is what builds before version 2 read, at about twice the
    /// size for integer CSI, and version 2 what builds before version 3 read). The header's
    /// `format_version` is written as `version`.
    ///
    /// ```
    /// use wifi_sensing_core::recording::{RecordingHeader, RecordingReader, RecordingWriter};
    /// let mut buf = Vec::new();
    /// RecordingWriter::with_version(&mut buf, &RecordingHeader::new("doc", ""), 1)?;
    /// let r = RecordingReader::new(Box::new(std::io::Cursor::new(buf)), &Default::default())?;
    /// assert_eq!(r.header().format_version, 1);
    /// assert!(RecordingWriter::with_version(Vec::new(), &RecordingHeader::new("", ""), 4).is_err());
    /// # Ok::<(), wifi_sensing_core::Error>(())
    /// ```
    pub fn with_version(mut out: W, header: &RecordingHeader, version: u16) -> Result<Self> {
        if !READABLE_VERSIONS.contains(&version) {
            return Err(Error::Unsupported {
                format: CaptureFormat::Recording,
                reason: format!(
                    "recording format version {version} (this library writes {READABLE_VERSIONS:?})"
                ),
            });
        }
        let header = RecordingHeader {
            format_version: version,
            ..header.clone()
        };
        let h = bincode::serde::encode_to_vec(&header, cfg()).map_err(enc_err)?;
        let mut head = Vec::with_capacity(14 + h.len());
        head.extend_from_slice(MAGIC);
        head.extend_from_slice(&version.to_le_bytes());
        head.extend_from_slice(&(h.len() as u32).to_le_bytes());
        head.extend_from_slice(&h);
        out.write_all(&head)
            .map_err(|e| Error::io("cannot write recording header", e))?;
        Ok(RecordingWriter {
            out: Some(out),
            version,
            written: 0,
            scratch: Vec::with_capacity(2 * WRITE_BATCH),
            run: ScRun::default(),
            last_enc: CSI_I8,
            known_i8: false,
        })
    }

    /// The format version being written.
    pub fn version(&self) -> u16 {
        self.version
    }

    /// Appends one record.
    pub fn write(&mut self, record: &Record) -> Result<()> {
        match record {
            Record::Frame(f) => self.write_frame(f),
            Record::Aux(a) => self.write_aux(a),
        }
    }

    /// Appends one frame: the same bytes as `write(&Record::Frame(frame.clone()))`, without
    /// the clone.
    pub fn write_frame(&mut self, frame: &CsiFrame) -> Result<()> {
        if self.version == 1 {
            return self.write_entry(&RecordRef::Frame(frame));
        }
        let v3 = self.version >= 3;
        let sc = match &frame.subcarriers {
            None => ScFlag::None,
            Some(s)
                if v3
                    && self.run.valid
                    && self.run.since < RESTATE_SUBCARRIERS_EVERY
                    && self.run.list == *s =>
            {
                ScFlag::Same
            }
            Some(_) => ScFlag::Inline,
        };
        let start = self.scratch.len();
        self.scratch.extend_from_slice(&[0u8; 8]);
        match encode_frame(
            frame,
            sc,
            v3,
            self.last_enc,
            self.known_i8,
            &mut self.scratch,
        ) {
            Ok(enc) => self.last_enc = enc,
            Err(e) => {
                self.scratch.truncate(start);
                return Err(e);
            }
        }
        if v3 && sc == ScFlag::Inline {
            // forgotten until the entry stating the new list is written
            self.run.valid = false;
        }
        self.finish_entry(start)?;
        if v3 {
            match (sc, &frame.subcarriers) {
                (ScFlag::Inline, Some(s)) => {
                    self.run.list.clear();
                    self.run.list.extend_from_slice(s);
                    self.run.valid = true;
                    self.run.since = 1;
                }
                (ScFlag::Same, _) => self.run.since += 1,
                _ => {}
            }
        }
        Ok(())
    }

    /// Declares what the caller knows of the CSI values of the frames it writes from now on:
    /// `Some(8)`, that every value is an integer in -128..=127, which is what a reader promises
    /// through [`Capture::csi_integer_bits`](crate::Capture::csi_integer_bits) for the frames
    /// it returns (Intel 5300 raw CSI). The writer then packs each frame's CSI as int8 pairs
    /// without scanning the values for the narrowest encoding (a cheaper check confirms each
    /// value as it is packed), and **writes the same bytes** as without the declaration. A
    /// frame that breaks it (a stage changed its values, say) is detected by that check and
    /// encoded as if nothing had been declared, so a wrong declaration costs time, never data.
    /// `None` (the default) scans every frame. Other widths are
    /// accepted and ignored (the scan runs), as is the declaration in format version 1, which
    /// stores every value as float32.
    ///
    /// ```
    /// use wifi_sensing_core::recording::{RecordingHeader, RecordingWriter};
    /// use wifi_sensing_core::{open, Record};
    /// let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/intel5300/example.dat");
    /// let (mut scanned, mut trusted) = (Vec::new(), Vec::new());
    /// let header = RecordingHeader { created_unix_ns: 0, ..RecordingHeader::new("doc", "") };
    /// let mut a = RecordingWriter::new(&mut scanned, &header)?;
    /// let mut b = RecordingWriter::new(&mut trusted, &header)?;
    /// let mut cap = open(path)?;
    /// b.assume_integer_csi(cap.csi_integer_bits());
    /// while let Some(rec) = cap.next_record() {
    ///     if let Ok(Record::Frame(f)) = rec {
    ///         a.write_frame(&f)?;
    ///         b.write_frame(&f)?;
    ///     }
    /// }
    /// a.flush()?;
    /// b.flush()?;
    /// drop((a, b));
    /// assert_eq!(scanned, trusted);
    /// # Ok::<(), wifi_sensing_core::Error>(())
    /// ```
    pub fn assume_integer_csi(&mut self, bits: Option<u8>) {
        self.known_i8 = bits == Some(8);
    }

    /// Appends one non-CSI record: the same bytes as `write(&Record::Aux(aux.clone()))`,
    /// without the clone.
    pub fn write_aux(&mut self, aux: &AuxRecord) -> Result<()> {
        // the same bytes in both versions
        self.write_entry(&RecordRef::Aux(aux))
    }

    fn write_entry<T: Serialize>(&mut self, record: &T) -> Result<()> {
        let start = self.scratch.len();
        self.scratch.extend_from_slice(&[0u8; 8]);
        if let Err(e) = bincode::serde::encode_into_std_write(record, &mut self.scratch, cfg()) {
            self.scratch.truncate(start);
            return Err(enc_err(e));
        }
        self.finish_entry(start)
    }

    /// Fills in the length and CRC of the entry in `scratch[start + 8..]`, and writes the
    /// pending entries once they reach [`WRITE_BATCH`] bytes.
    fn finish_entry(&mut self, start: usize) -> Result<()> {
        let body_len = self.scratch.len() - start - 8;
        let Ok(len) = u32::try_from(body_len) else {
            self.scratch.truncate(start);
            return Err(Error::Encode(format!(
                "recording entry of {body_len} bytes is over 4 GiB"
            )));
        };
        let crc = crc32(&self.scratch[start + 8..]);
        self.scratch[start..start + 4].copy_from_slice(&len.to_le_bytes());
        self.scratch[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
        self.written += 1;
        if self.scratch.len() >= WRITE_BATCH {
            self.write_pending()?;
        }
        Ok(())
    }

    /// Writes the pending entries.
    fn write_pending(&mut self) -> Result<()> {
        if let Some(out) = self.out.as_mut() {
            if !self.scratch.is_empty() {
                let r = out.write_all(&self.scratch);
                self.scratch.clear();
                r.map_err(|e| Error::io("cannot write recording", e))?;
            }
        }
        Ok(())
    }

    /// Records written so far (some may still be pending: see [`flush`](Self::flush)).
    pub fn records_written(&self) -> u64 {
        self.written
    }

    /// Writes the pending entries and flushes the underlying writer.
    pub fn flush(&mut self) -> Result<()> {
        self.write_pending()?;
        match self.out.as_mut() {
            Some(out) => out
                .flush()
                .map_err(|e| Error::io("cannot flush recording", e)),
            None => Ok(()),
        }
    }

    /// Writes the pending entries and returns the underlying writer (not flushed).
    pub fn into_inner(mut self) -> Result<W> {
        self.write_pending()?;
        Ok(self
            .out
            .take()
            .expect("the output is taken only by into_inner, which consumes the writer"))
    }
}

impl<W: Write> Drop for RecordingWriter<W> {
    fn drop(&mut self) {
        // as `BufWriter`: what is pending is written, an error is ignored (`flush` reports it)
        let _ = self.write_pending();
    }
}

/// Reads a recording.
pub struct RecordingReader {
    input: Input,
    version: u16,
    max_values: usize,
    header: RecordingHeader,
    pos: u64,
    max_record: usize,
    done: bool,
    buf: Vec<u8>,
    /// Version 3: the subcarrier list of the last entry that stated one.
    last_sc: Option<Vec<i16>>,
    /// Buffers of recycled frames, refilled for the next frame.
    spare: SpareBuffers,
    /// Bytes read ahead while looking for the entry after a damaged one, read again before
    /// `input`.
    ahead: std::io::Cursor<Vec<u8>>,
    /// The longest entry read so far (bounds the lengths the search after damage believes).
    longest: usize,
    /// Entries read whole and their bytes (length fields included), for the estimate of how
    /// many entries a damaged stretch held.
    entries_read: u64,
    entry_bytes_read: u64,
    /// An error found while opening (a damaged file header), given before the first record.
    first_error: Option<Error>,
}

/// Shortest stretch of entry lengths the search after a damaged entry believes, bytes (the
/// longest entry read so far, doubled, when that is longer; see [`RecordingReader`]).
const RESYNC_MIN_BOUND: usize = 64 * 1024;

/// Most body bytes the search after a damaged entry checksums before it gives up (adversarial
/// data can put a believable length at every position).
const RESYNC_CRC_BUDGET: usize = 256 << 20;

/// How the search after a damaged entry ended.
enum Resync {
    /// An entry that checks starts this many bytes after the damaged one.
    Found(usize),
    /// None within this many bytes (the end of the input, the search limit, or the checksum
    /// budget came first).
    NotFound(usize),
}

impl std::fmt::Debug for RecordingReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordingReader")
            .field("header", &self.header)
            .field("pos", &self.pos)
            .finish()
    }
}

fn invalid(offset: u64, reason: impl Into<String>) -> Error {
    Error::InvalidHeader {
        format: CaptureFormat::Recording,
        offset,
        reason: reason.into(),
    }
}

/// What a bincode decoding error says, in words.
fn describe_decode_error(e: &bincode::error::DecodeError) -> String {
    use bincode::error::DecodeError as D;
    match e {
        D::UnexpectedEnd { .. } => "it ends before its last field".into(),
        D::Utf8 { .. } => "a text field is not valid UTF-8".into(),
        D::LimitExceeded => "a field claims more bytes than the decode limit allows".into(),
        D::InvalidIntegerType { .. } | D::OutsideUsizeRange(_) => {
            "a number field is out of range".into()
        }
        other => format!("it does not decode: {other}"),
    }
}

impl RecordingReader {
    /// Reads the header and returns a reader positioned on the first record.
    pub fn new(mut input: Input, options: &ReaderOptions) -> Result<Self> {
        let mut head = [0u8; 14];
        let n = crate::util::read_full(&mut input, &mut head)
            .map_err(|e| Error::io("cannot read recording header", e))?;
        if n < 14 {
            return Err(invalid(
                0,
                format!("file has {n} bytes, the header needs 14"),
            ));
        }
        if &head[..8] != MAGIC {
            return Err(invalid(0, "missing WSCSIREC magic"));
        }
        let version = u16::from_le_bytes([head[8], head[9]]);
        if !READABLE_VERSIONS.contains(&version) {
            return Err(Error::Unsupported {
                format: CaptureFormat::Recording,
                reason: format!(
                    "recording format version {version} (this library reads {READABLE_VERSIONS:?})"
                ),
            });
        }
        let hlen = u32::from_le_bytes([head[10], head[11], head[12], head[13]]) as usize;
        let mut r = RecordingReader {
            input,
            version,
            max_values: options.limits.max_csi_values,
            header: RecordingHeader {
                format_version: version,
                created_unix_ns: 0,
                source: "unknown: the file header is damaged".into(),
                config: String::new(),
                writer: "an unknown writer".into(),
            },
            pos: 14,
            max_record: options.limits.max_record_bytes,
            done: false,
            buf: Vec::new(),
            last_sc: None,
            spare: SpareBuffers::default(),
            ahead: std::io::Cursor::new(Vec::new()),
            longest: 0,
            entries_read: 0,
            entry_bytes_read: 0,
            first_error: None,
        };
        // A damaged file header costs the header, not the entries: they are read after it (or,
        // when its length is impossible, searched for from its start) and the damage is the
        // first error the reader gives.
        let damaged = |reason: String| {
            Error::Malformed {
            format: CaptureFormat::Recording,
            offset: 10,
            line: None,
            reason: format!(
                "the file header is damaged ({reason}): its source, creation time and configuration are unknown; reading the entries"
            ),
        }
        };
        if hlen > MAX_HEADER {
            r.first_error = Some(damaged(format!(
                "its length {hlen} is over the limit of {MAX_HEADER}"
            )));
            return Ok(r);
        }
        let mut hbuf = vec![0u8; hlen];
        let n = crate::util::read_full(&mut r.input, &mut hbuf)
            .map_err(|e| Error::io("cannot read recording header", e))?;
        // a file shorter than its header length: a cut header, or a damaged length (the
        // header then decodes in fewer bytes, and the rest are entries)
        hbuf.truncate(n);
        match bincode::serde::decode_from_slice::<RecordingHeader, _>(&hbuf, decode_cfg()) {
            Ok((header, used)) if used == hlen => {
                r.header = header;
                r.pos = 14 + hlen as u64;
            }
            Ok((header, used)) => {
                // a length longer than the header: what follows it is the first entries
                r.header = header;
                r.unread(&hbuf[used..]);
                r.pos = 14 + used as u64;
                r.first_error = Some(damaged(format!(
                    "its length says {hlen} bytes, but it is {used}; entries from offset {}",
                    r.pos
                )));
            }
            Err(_) if n < hlen => {
                return Err(invalid(14, format!("header cut: {n} of {hlen} bytes")));
            }
            Err(e) => {
                r.pos = 14 + hlen as u64;
                r.first_error = Some(damaged(describe_decode_error(&e)));
            }
        }
        Ok(r)
    }

    /// The file header.
    pub fn header(&self) -> &RecordingHeader {
        &self.header
    }

    /// The format version of the file (from its fixed header, one of [`READABLE_VERSIONS`]).
    pub fn version(&self) -> u16 {
        self.version
    }

    /// The bytes read ahead and not read again yet.
    fn ahead_left(&self) -> &[u8] {
        let at = (self.ahead.position() as usize).min(self.ahead.get_ref().len());
        &self.ahead.get_ref()[at..]
    }

    /// Reads up to `out.len()` bytes: first what was read ahead, then the input.
    fn read_some(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let mut n = 0;
        if !self.ahead_left().is_empty() {
            n = self.ahead.read(out)?;
        }
        if n < out.len() {
            n += crate::util::read_full(&mut self.input, &mut out[n..])?;
        }
        Ok(n)
    }

    /// Appends up to `len` bytes to `out` (what was read ahead first); returns how many.
    fn read_body(&mut self, len: usize, out: &mut Vec<u8>) -> std::io::Result<usize> {
        let mut got = 0;
        if !self.ahead_left().is_empty() {
            got = (&mut self.ahead).take(len as u64).read_to_end(out)?;
        }
        if got < len {
            // grow by reading, never by trusting `len` for a large allocation up front
            got += (&mut self.input)
                .take((len - got) as u64)
                .read_to_end(out)?;
        }
        Ok(got)
    }

    /// Puts `bytes` back in front of what is still to be read.
    fn unread(&mut self, bytes: &[u8]) {
        let v = [bytes, self.ahead_left()].concat();
        self.ahead = std::io::Cursor::new(v);
    }

    /// Reads into `win` until it holds `n` bytes; false at the end of the input first.
    fn fill(&mut self, win: &mut Vec<u8>, n: usize) -> std::io::Result<bool> {
        if win.len() < n {
            let want = n - win.len();
            // in steps of at most 64 KiB, so a believed length allocates no more than arrives
            let mut left = want;
            while left > 0 {
                let step = left.min(64 * 1024);
                let got = self.read_body(step, win)?;
                left -= got;
                if got < step {
                    break;
                }
            }
        }
        Ok(win.len() >= n)
    }

    /// Whether `body` can start an entry of this file's version: versions 2 and 3 begin every
    /// entry with 0 (a frame) or 1 (another record); version 1 entries are bincode of a
    /// `Record`, whose variant index is 0 or 1 as well.
    fn plausible_start(body: &[u8]) -> bool {
        matches!(body.first(), Some(0 | 1))
    }

    /// The length bound the search after damage believes.
    fn believed_len(&self) -> usize {
        self.longest
            .saturating_mul(2)
            .max(RESYNC_MIN_BOUND)
            .min(self.max_record)
    }

    /// After the entry at `start` turned out damaged (`win`: the bytes read from `start` on),
    /// looks for the next entry whose length is believable and whose CRC-32 checks, at most
    /// `Limits::max_record_bytes` past `start`. Found: the bytes from it on are put back, the
    /// position moves there, and the number of bytes skipped is returned.
    fn resync(&mut self, start: u64, mut win: Vec<u8>) -> std::io::Result<Resync> {
        let bound = self.believed_len();
        let limit = self.max_record.max(8);
        let mut budget = RESYNC_CRC_BUDGET;
        let mut i = 1;
        while i <= limit {
            if !self.fill(&mut win, i + 8)? {
                break;
            }
            let len = u32::from_le_bytes([win[i], win[i + 1], win[i + 2], win[i + 3]]) as usize;
            if (1..=bound).contains(&len) && self.fill(&mut win, i + 8 + len)? {
                let crc = u32::from_le_bytes([win[i + 4], win[i + 5], win[i + 6], win[i + 7]]);
                let body = &win[i + 8..i + 8 + len];
                if Self::plausible_start(body) {
                    if budget < len {
                        break;
                    }
                    budget -= len;
                    if crc32(body) == crc {
                        self.unread(&win[i..]);
                        self.pos = start + i as u64;
                        return Ok(Resync::Found(i));
                    }
                }
            }
            i += 1;
        }
        Ok(Resync::NotFound(i))
    }

    /// The error for the damaged entry at `start` (`win`: the bytes read from `start` on): a
    /// recoverable one naming the bytes skipped when an entry that checks follows (found by
    /// [`RecordingReader::resync`]), else `otherwise`, or (`None`) a malformed-entry error
    /// after which reading stops.
    fn damaged(
        &mut self,
        start: u64,
        win: Vec<u8>,
        what: &str,
        otherwise: Option<Error>,
    ) -> Option<Result<Record>> {
        // a lost entry may have stated a new subcarrier list: frames that refer to the last one
        // are refused until an entry states a list again
        self.last_sc = None;
        let malformed = |reason: String| Error::Malformed {
            format: CaptureFormat::Recording,
            offset: start,
            line: None,
            reason,
        };
        let (read, read_bytes) = (self.entries_read, self.entry_bytes_read);
        let entries = move |bytes: usize| match (read, read_bytes) {
            (n, b) if n > 0 && b > 0 => match (bytes as f64 * n as f64 / b as f64).round() {
                k if k < 1.0 => " (less than one entry of this file's average length)".into(),
                k if k < 1.5 => " (about one entry of this file's average length)".into(),
                k => format!(" (about {k} entries of this file's average length)"),
            },
            _ => String::new(),
        };
        Some(Err(match self.resync(start, win) {
            Ok(Resync::Found(skipped)) => malformed(format!(
                "damaged entry ({what}); skipped {skipped} bytes{} to the next entry that checks, at offset {}",
                entries(skipped),
                start + skipped as u64
            )),
            Ok(Resync::NotFound(searched)) => otherwise.unwrap_or_else(|| {
                self.done = true;
                malformed(format!(
                    "damaged entry ({what}), and no entry that checks follows in the {searched} bytes searched; reading stops"
                ))
            }),
            Err(e) => Error::io("cannot read recording", e),
        }))
    }

    /// Whether an entry that checks follows at once (what was read is put back either way).
    fn next_entry_checks(&mut self) -> std::io::Result<Option<bool>> {
        let mut head = [0u8; 8];
        let n = self.read_some(&mut head)?;
        if n == 0 {
            return Ok(None);
        }
        let mut ahead = head[..n].to_vec();
        let mut ok = false;
        if n == 8 {
            let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
            let crc = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
            if (1..=self.max_record).contains(&len) && self.fill(&mut ahead, 8 + len)? {
                let body = &ahead[8..8 + len];
                ok = Self::plausible_start(body) && crc32(body) == crc;
            }
        }
        self.unread(&ahead);
        Ok(Some(ok))
    }

    fn read_entry(&mut self) -> Option<Result<Record>> {
        let start = self.pos;
        let mut len_crc = [0u8; 8];
        let n = match self.read_some(&mut len_crc) {
            Ok(n) => n,
            Err(e) => return Some(Err(Error::io("cannot read recording", e))),
        };
        if n == 0 {
            return None;
        }
        if n < 8 {
            return Some(Err(Error::Truncated {
                format: CaptureFormat::Recording,
                offset: start,
                needed: 8,
                available: n as u64,
            }));
        }
        let len = u32::from_le_bytes([len_crc[0], len_crc[1], len_crc[2], len_crc[3]]) as usize;
        let crc = u32::from_le_bytes([len_crc[4], len_crc[5], len_crc[6], len_crc[7]]);
        if len == 0 {
            // no writer makes an empty entry (each starts with its kind): a damaged length
            return self.damaged(start, len_crc.to_vec(), "length 0", None);
        }
        if len > self.max_record {
            // never a length this reader would read: damage, or junk after the last entry
            let what = format!("length {len} over the limit of {}", self.max_record);
            return self.damaged(start, len_crc.to_vec(), &what, None);
        }
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        let got = match self.read_body(len, &mut buf) {
            Ok(g) => g,
            Err(e) => {
                self.buf = buf;
                return Some(Err(Error::io("cannot read recording", e)));
            }
        };
        if got < len {
            // a file cut inside its last entry, or a damaged length reaching past the end
            let fatal = Error::Truncated {
                format: CaptureFormat::Recording,
                offset: start,
                needed: 8 + len as u64,
                available: 8 + got as u64,
            };
            let mut win = len_crc.to_vec();
            win.extend_from_slice(&buf);
            self.buf = buf;
            let what = format!("length {len} runs past the end of the input");
            return self.damaged(start, win, &what, Some(fatal));
        }
        self.buf = buf;
        self.pos += 8 + len as u64;
        let computed = crc32(&self.buf);
        if computed != crc {
            let what = format!("CRC-32 mismatch: stored 0x{crc:08X}, computed 0x{computed:08X}");
            // Only the body is damaged when an entry that checks follows: skip by the length.
            // Otherwise the length itself may be damaged: look for the next entry that checks.
            match self.next_entry_checks() {
                Ok(None | Some(true)) => {
                    self.last_sc = None;
                    return Some(Err(Error::Malformed {
                        format: CaptureFormat::Recording,
                        offset: start,
                        line: None,
                        reason: format!("entry {what}"),
                    }));
                }
                Ok(Some(false)) => {
                    let mut win = len_crc.to_vec();
                    win.extend_from_slice(&self.buf);
                    return self.damaged(start, win, &what, None);
                }
                Err(e) => return Some(Err(Error::io("cannot read recording", e))),
            }
        }
        self.longest = self.longest.max(len);
        self.entries_read += 1;
        self.entry_bytes_read += 8 + len as u64;
        let malformed = |reason: String| {
            Some(Err(Error::Malformed {
                format: CaptureFormat::Recording,
                offset: start,
                line: None,
                reason,
            }))
        };
        if self.version >= 2 && self.buf.first() == Some(&0) {
            return match decode_frame(
                &self.buf[1..],
                self.max_values,
                self.version,
                &mut self.last_sc,
                &mut self.spare,
            ) {
                Ok(f) => Some(Ok(Record::Frame(f))),
                Err(reason) => {
                    // it may have stated a new subcarrier list (see the CRC case above)
                    self.last_sc = None;
                    malformed(reason)
                }
            };
        }
        // version 1 entries, and the non-CSI entries of version 2 (the same bytes)
        match bincode::serde::decode_from_slice::<Record, _>(&self.buf, decode_cfg()) {
            Ok((Record::Frame(f), _))
                if {
                    let (rx, tx, sc) = f.csi.dim();
                    rx.max(tx).max(sc) > self.max_values
                } =>
            {
                malformed(format!(
                    "CSI shape {:?} has an axis over the limit of {} values",
                    f.csi.dim(),
                    self.max_values
                ))
            }
            Ok((r, used)) if used == len => Some(Ok(r)),
            Ok((_, used)) => malformed(format!("entry decodes to {used} of its {len} bytes")),
            Err(e) => malformed(format!("entry does not decode: {e}")),
        }
    }
}

use std::io::Read as _;

impl CaptureReader for RecordingReader {
    fn format(&self) -> CaptureFormat {
        CaptureFormat::Recording
    }

    fn next_record(&mut self) -> Option<Result<Record>> {
        if let Some(e) = self.first_error.take() {
            return Some(Err(e));
        }
        if self.done {
            return None;
        }
        let r = self.read_entry();
        crate::reader::fuse(&mut self.done, r)
    }

    fn position(&self) -> u64 {
        self.pos
    }

    /// Keeps the frame's CSI and subcarrier buffers for the next frame.
    fn recycle(&mut self, frame: CsiFrame) {
        self.spare.keep(frame);
    }

    fn recording_header(&self) -> Option<RecordingHeader> {
        Some(RecordingHeader {
            format_version: self.version,
            ..self.header.clone()
        })
    }
}

fn probe(prefix: &[u8]) -> Confidence {
    if prefix.starts_with(MAGIC) {
        100
    } else {
        0
    }
}

fn open(input: Input, options: &ReaderOptions) -> Result<Box<dyn CaptureReader>> {
    Ok(Box::new(RecordingReader::new(input, options)?))
}

/// Registry entry of the recording format.
pub fn descriptor() -> FormatDescriptor {
    FormatDescriptor {
        format: CaptureFormat::Recording,
        description: "wifi-sensing native recording (.csirec)",
        extensions: &["csirec"],
        probe,
        open,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The frame fields as `encode_head` takes them, from proptest's choices.
    type HeadParts = (
        (i64, u8, u32, Option<[u8; 6]>, Option<u32>, Option<f32>),
        (Vec<f32>, Option<f32>, Option<u16>, Option<u32>, Option<u16>),
        (u8, u8, bool),
    );

    /// Integers near every varint boundary (250/251, u16, u32) and their negatives.
    fn edgy_i64() -> impl Strategy<Value = i64> {
        prop_oneof![
            any::<i64>(),
            (-300i64..300),
            (65_000i64..66_000),
            prop::sample::select(vec![
                i64::MIN,
                i64::MAX,
                u32::MAX as i64,
                u32::MAX as i64 + 1,
                -(u32::MAX as i64) - 1,
                1 << 31,
                -(1 << 31)
            ]),
        ]
    }

    fn edgy_u32() -> impl Strategy<Value = u32> {
        prop_oneof![any::<u32>(), 240u32..270, 65_530u32..65_540, Just(u32::MAX)]
    }

    fn edgy_u16() -> impl Strategy<Value = u16> {
        prop_oneof![any::<u16>(), 240u16..270, Just(u16::MAX)]
    }

    fn any_f32() -> impl Strategy<Value = f32> {
        any::<u32>().prop_map(f32::from_bits)
    }

    const CLOCKS: [Clock; 4] = [Clock::Host, Clock::Device, Clock::Simulated, Clock::None];
    const DEVICES: [Device; 14] = [
        Device::Esp32,
        Device::Esp32C5C6,
        Device::Bcm4339,
        Device::Bcm43455c0,
        Device::Bcm4358,
        Device::Bcm4366c0,
        Device::BroadcomUnknown,
        Device::Iwl5300,
        Device::Qca9300,
        Device::Ax200,
        Device::Ax210,
        Device::Usrp,
        Device::Simulator,
        Device::Unknown,
    ];

    fn head_parts() -> impl Strategy<Value = HeadParts> {
        (
            (
                edgy_i64(),
                0u8..4,
                edgy_u32(),
                proptest::option::of(any::<[u8; 6]>()),
                proptest::option::of(edgy_u32()),
                proptest::option::of(any_f32()),
            ),
            (
                proptest::collection::vec(any_f32(), 0..300),
                proptest::option::of(any_f32()),
                proptest::option::of(edgy_u16()),
                proptest::option::of(edgy_u32()),
                proptest::option::of(edgy_u16()),
            ),
            (0u8..13, 0u8..14, any::<bool>()),
        )
    }

    /// Values from `seed` that often sit on a varint boundary (250/251, u16, u32, u64 edges).
    struct Edgy(u64);

    impl Edgy {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            const EDGES: [u64; 10] = [
                0,
                250,
                251,
                255,
                65_535,
                65_536,
                u32::MAX as u64,
                1 << 32,
                u64::MAX,
                127,
            ];
            match self.0 % 3 {
                0 => EDGES[(self.0 >> 8) as usize % EDGES.len()],
                1 => (self.0 >> 8) % 300,
                _ => self.0 >> (self.0 % 64),
            }
        }
        fn n<T: TryFrom<u64>>(&mut self) -> T {
            let v = self.next();
            // wrap into T's range: keep the low bytes
            let bits = std::mem::size_of::<T>() * 8;
            let v = if bits >= 64 { v } else { v & ((1 << bits) - 1) };
            T::try_from(v).ok().expect("masked to the type's width")
        }
        fn b(&mut self) -> bool {
            self.next() & 1 == 1
        }
        fn opt<T>(&mut self, f: impl FnOnce(&mut Self) -> T) -> Option<T> {
            if self.b() {
                Some(f(self))
            } else {
                None
            }
        }
        fn bytes<const N: usize>(&mut self) -> [u8; N] {
            std::array::from_fn(|_| self.n::<u8>())
        }
    }

    /// Every metadata type that `encode_meta` writes itself (and ESP32's, which it hands to
    /// bincode), with fields from `seed`.
    fn flat_metas(seed: u64) -> Vec<FormatMeta> {
        use crate::formats::{atheros, intel5300, nexmon};
        let mut e = Edgy(seed | 1);
        let chips = [
            nexmon::NexmonChip::Bcm4339,
            nexmon::NexmonChip::Bcm43455c0,
            nexmon::NexmonChip::Bcm4358,
            nexmon::NexmonChip::Bcm4366c0,
        ];
        let i = intel5300::Intel5300Meta {
            timestamp_low: e.n(),
            bfee_count: e.n(),
            nrx: e.n(),
            ntx: e.n(),
            rssi_a: e.n(),
            rssi_b: e.n(),
            rssi_c: e.n(),
            noise: e.n::<u8>() as i8,
            agc: e.n(),
            antenna_sel: e.n(),
            perm: e.bytes(),
            permuted: e.b(),
            rate: e.n(),
            total_rss: f64::from_bits(e.next()),
            csi_power: e.n(),
            scaled: e.b(),
            c1: e.opt(|e| intel5300::MacHeader {
                fc: e.n(),
                dur: e.n(),
                addr_des: e.bytes(),
                addr_src: e.bytes(),
                addr_bssid: e.bytes(),
                seq: e.n(),
            }),
        };
        let n = nexmon::NexmonMeta {
            header_version: e.n(),
            magic: e.n(),
            rssi: e.opt(|e| e.n::<u8>() as i8),
            fc: e.opt(|e| e.n()),
            src_addr: e.bytes(),
            seq: e.n(),
            core: e.n(),
            spatial: e.n(),
            chan_spec: e.n(),
            chip_version: e.n(),
            chip: e.opt(|e| chips[e.next() as usize % 4]),
            chip_inferred: e.b(),
            packed_float: e.b(),
            nfft: e.n(),
            sideband: e.n(),
            control_channel: e.opt(|e| e.n()),
            offset: e.n(),
            caplen: e.n(),
            wirelen: e.n(),
            udp_payload_len: e.n(),
            eth_trailer_len: e.n(),
            phy_status_masked: e.b(),
            iq_swapped: e.b(),
            group: (0..e.next() % 5).map(|_| e.bytes()).collect(),
        };
        let a = atheros::AtherosMeta {
            timestamp: e.n(),
            csi_len: e.n(),
            tx_channel: e.n(),
            err_info: e.n(),
            noise_floor: e.n(),
            rate: e.n(),
            bandwidth: e.n(),
            num_tones: e.n(),
            nr: e.n(),
            nc: e.n(),
            rssi: e.n(),
            rssi_1: e.n(),
            rssi_2: e.n(),
            rssi_3: e.n(),
            payload_len: e.n(),
            endianness: if e.b() {
                atheros::Endianness::Big
            } else {
                atheros::Endianness::Little
            },
        };
        vec![
            FormatMeta::None,
            FormatMeta::Intel5300(i),
            FormatMeta::Nexmon(n),
            FormatMeta::Atheros(a),
            FormatMeta::Esp32(Default::default()),
            FormatMeta::PicoScenes(Box::new(picoscenes_meta(&mut e))),
        ]
    }

    /// PicoScenes metadata with fields from `e`, each optional part present or not.
    fn picoscenes_meta(e: &mut Edgy) -> crate::formats::picoscenes::PicoScenesMeta {
        use crate::formats::picoscenes::*;
        let i8_of = |e: &mut Edgy| e.n::<u8>() as i8;
        let i16_of = |e: &mut Edgy| e.n::<u16>() as i16;
        let i32_of = |e: &mut Edgy| e.n::<u32>() as i32;
        let f32_of = |e: &mut Edgy| f32::from_bits(e.n::<u32>());
        let rx_basic = e.opt(|e| RxSBasic {
            version: e.n(),
            device_type: e.n(),
            timestamp: e.n(),
            system_time: e.opt(Edgy::n),
            center_freq: i16_of(e),
            center_freq2: e.opt(i16_of),
            control_freq: i16_of(e),
            cbw: e.n(),
            packet_format: e.n(),
            packet_cbw: e.n(),
            guard_interval: e.n(),
            mcs: e.n(),
            num_sts: e.n(),
            num_ess: e.n(),
            num_rx: e.n(),
            num_user: e.n(),
            user_index: e.n(),
            noise_floor: f32_of(e),
            rssi: f32_of(e),
            rssi_ctl: std::array::from_fn(|_| f32_of(e)),
            num_rssi_ctl: e.n(),
        });
        let extra_info = e.opt(|e| {
            Box::new(ExtraInfo {
                feature_code: e.n(),
                length: e.opt(Edgy::n),
                version: e.opt(Edgy::n),
                macaddr_cur: e.opt(Edgy::bytes),
                macaddr_rom: e.opt(Edgy::bytes),
                chansel: e.opt(Edgy::n),
                bmode: e.opt(Edgy::n),
                evm: e.opt(|e| std::array::from_fn(|_| i8_of(e))),
                tx_chainmask: e.opt(Edgy::n),
                rx_chainmask: e.opt(Edgy::n),
                txpower: e.opt(Edgy::n),
                cf: e.opt(Edgy::n),
                txtsf: e.opt(Edgy::n),
                last_txtsf: e.opt(Edgy::n),
                channel_flags: e.opt(Edgy::n),
                tx_ness: e.opt(Edgy::n),
                tuning_policy: e.opt(Edgy::n),
                pll_rate: e.opt(Edgy::n),
                pll_refdiv: e.opt(Edgy::n),
                pll_clock_select: e.opt(Edgy::n),
                agc: e.opt(Edgy::n),
                ant_sel: e.opt(Edgy::n),
                sampling_rate: e.opt(Edgy::n),
                cfo: e.opt(i32_of),
                sfo: e.opt(i32_of),
                temperature: e.opt(i8_of),
            })
        });
        let mvm_extra = e.opt(|e| MvmExtra {
            header_length: e.n(),
            iq_data_size: e.n(),
            ftm_clock: e.n(),
            num_tones: e.n(),
            rssi1: e.n(),
            rssi2: e.n(),
            source_address: e.bytes(),
            csi_sequence: e.n(),
            mu_clock: e.n(),
            rate_n_flags: e.n(),
        });
        let csi = e.opt(|e| CsiInfo {
            version: e.n(),
            device_type: e.n(),
            firmware_version: e.opt(Edgy::n),
            packet_format: i8_of(e),
            cbw: e.n(),
            carrier_freq: e.n(),
            sampling_rate: e.n(),
            subcarrier_bandwidth: e.n(),
            num_tones: e.n(),
            num_tx: e.n(),
            num_rx: e.n(),
            num_ess: e.n(),
            num_csi: e.opt(Edgy::n),
            ant_sel: e.n(),
            subcarrier_offset: e.opt(i16_of),
            csi_buffer_length: e.n(),
            streams_per_chain: e.n(),
            signal_matrix: e.opt(|e| {
                Box::new(SignalMatrixInfo {
                    version: e.n(),
                    ndim: e.n(),
                    dims: std::array::from_fn(|_| e.n()),
                    row_major: e.b(),
                })
            }),
        });
        let mac_header = e.opt(|e| MacHeader {
            frame_control: e.n(),
            duration: e.n(),
            addr1: e.bytes(),
            addr2: e.opt(Edgy::bytes),
            addr3: e.opt(Edgy::bytes),
            fragment: e.opt(Edgy::n),
            sequence: e.opt(Edgy::n),
        });
        let tx_header = e.opt(|e| TxHeader {
            magic_value: e.n(),
            version: e.n(),
            device_type: e.n(),
            num_segments: e.n(),
            frame_type: e.n(),
            task_id: e.n(),
            tx_id: e.n(),
        });
        PicoScenesMeta {
            frame_version: e.n(),
            rx_basic,
            extra_info,
            mvm_extra,
            csi,
            mpdu_length: e.n(),
            mac_header,
            tx_header,
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// `encode_meta` writes the bytes `bincode::serde` writes for every metadata type it
        /// writes itself (and for one it hands to bincode).
        #[test]
        fn encode_meta_writes_bincode_serde_bytes(seed in any::<u64>()) {
            for meta in flat_metas(seed) {
                let want = bincode::serde::encode_to_vec(&meta, cfg()).unwrap();
                let mut got = Vec::new();
                encode_meta(&meta, &mut got).unwrap();
                prop_assert_eq!(&got, &want, "{:?}", meta);
            }
        }


        /// The hand-written frame head is byte for byte what `bincode::serde` writes (what
        /// every version 2 and 3 reader decodes it with).
        #[test]
        fn encode_head_writes_bincode_serde_bytes(parts in head_parts()) {
            let ((ts, clock, node, mac, seq, rssi), (chain, noise, ch, freq, bw), (fmt, dev, esp)) =
                parts;
            let meta = if esp {
                FormatMeta::Intel5300(Default::default())
            } else {
                FormatMeta::None
            };
            let head = FrameHeadRef {
                timestamp_ns: ts,
                clock: CLOCKS[usize::from(clock)],
                node_id: node,
                mac,
                sequence: seq,
                rssi_dbm: rssi,
                chain_rssi: &chain,
                noise_floor_dbm: noise,
                channel: ch,
                center_freq_mhz: freq,
                bandwidth_mhz: bw,
                format: CaptureFormat::ALL[usize::from(fmt)],
                device: DEVICES[usize::from(dev)],
                meta: &meta,
            };
            let want = bincode::serde::encode_to_vec(&head, cfg()).unwrap();
            let mut got = vec![7u8];
            encode_head(&head, &mut got).unwrap();
            prop_assert_eq!(&got[1..], &want[..]);
        }

        /// `pack`'s scan finds the same encodings as a value-by-value test of each float
        /// (integer when `trunc` keeps it and it is not -0.0 or NaN), for every encoding it
        /// packs in, with the edges mixed into arbitrary bit patterns.
        #[test]
        fn pack_scan_agrees_with_a_value_by_value_test(
            vals in proptest::collection::vec(prop_oneof![
                any_f32(),
                (-600i32..600).prop_map(|i| i as f32),
                (-33_000i32..33_000).prop_map(|i| i as f32),
                prop::sample::select(vec![
                    -0.0f32, 0.5, -0.5, 127.5, f32::NAN, -f32::NAN, f32::INFINITY,
                    f32::NEG_INFINITY, 4_194_304.0, -4_194_304.0, 4_194_303.0, 8_388_608.0,
                    12_582_912.0, -12_582_912.0, 16_777_216.0, -32_768.0, 32_767.0, 32_768.0,
                    -32_769.0, 1e-40, -1e-40, f32::MIN, f32::MAX,
                ]),
            ], 2..40),
            enc in prop::sample::select(vec![CSI_F32, CSI_I16, CSI_I8, CSI_I10]),
        ) {
            let v: Vec<Complex32> =
                vals.chunks_exact(2).map(|c| Complex32::new(c[0], c[1])).collect();
            let is_int = |x: f32| x.trunc() == x && x.to_bits() != (-0.0f32).to_bits();
            let all = |lo: f32, hi: f32| vals[..2 * v.len()]
                .iter()
                .all(|&x| is_int(x) && (lo..=hi).contains(&x));
            let mut dst = vec![0u8; csi_bytes(enc, v.len())];
            let f = pack(enc, &v, &mut dst);
            let want = if !all(-32768.0, 32767.0) {
                CSI_F32
            } else if all(-128.0, 127.0) {
                CSI_I8
            } else if all(-512.0, 511.0) {
                CSI_I10
            } else {
                CSI_I16
            };
            prop_assert_eq!(narrowest(f, true), want);
            if want == enc && enc != CSI_F32 {
                // what was packed in the encoding that fits reads back as the values
                let mut back = vec![Complex32::new(7.0, 7.0)];
                decode_csi(enc, &dst, v.len(), &mut back);
                prop_assert_eq!(&back[1..], &v[..]);
            }
        }

        /// The 10-bit packing, done in blocks of `I10_BLOCK` pairs, writes the bytes of a
        /// pair-by-pair packing (two pairs in 5 bytes, an odd last pair in 3) for frames of
        /// any length across block boundaries, and reads back as the values.
        #[test]
        fn i10_packing_is_the_pairwise_packing(
            vals in proptest::collection::vec(-512i32..=511, 0..2 * (3 * I10_BLOCK + 3)),
        ) {
            let v: Vec<Complex32> = vals
                .chunks_exact(2)
                .map(|c| Complex32::new(c[0] as f32, c[1] as f32))
                .collect();
            let mut dst = vec![0u8; csi_bytes(CSI_I10, v.len())];
            let f = pack(CSI_I10, &v, &mut dst);
            prop_assert!(!f.not_int && !f.not_i10);
            // the reference: the 20 bits of each pair, two pairs to 40 bits
            let pair = |c: &Complex32| {
                (c.re as i32 as u64 & 0x3FF) | (c.im as i32 as u64 & 0x3FF) << 10
            };
            let mut want = Vec::new();
            for c in v.chunks(2) {
                match c {
                    [a, b] => want.extend_from_slice(
                        &(pair(a) | pair(b) << 20).to_le_bytes()[..5],
                    ),
                    [a] => want.extend_from_slice(&pair(a).to_le_bytes()[..3]),
                    _ => unreachable!("chunks of 1 or 2"),
                }
            }
            prop_assert_eq!(&dst, &want);
            let mut back = Vec::new();
            decode_csi(CSI_I10, &dst, v.len(), &mut back);
            prop_assert_eq!(&back, &v);
        }

        /// `pack_known_i8` accepts exactly the values that are integers in i8 range (not
        /// -0.0), whatever the floats: edges, fractions, NaN, infinities, huge values.
        #[test]
        fn known_i8_check_accepts_exactly_i8_integers(
            bits in proptest::collection::vec(
                prop_oneof![
                    any::<u32>().prop_map(f32::from_bits),
                    (-130i32..=130).prop_map(|i| i as f32),
                    (-1300i32..=1300).prop_map(|i| i as f32 / 10.0),
                    Just(-0.0f32),
                    Just(f32::NAN),
                    Just(f32::INFINITY),
                ],
                2..40,
            ),
        ) {
            let v: Vec<Complex32> = bits.chunks_exact(2).map(|c| Complex32::new(c[0], c[1])).collect();
            let is_i8 = |x: f32| {
                x.fract() == 0.0 && (-128.0..=127.0).contains(&x) && x.to_bits() != (-0.0f32).to_bits()
            };
            let expect = v.iter().all(|c| is_i8(c.re) && is_i8(c.im));
            let mut dst = vec![0u8; 2 * v.len()];
            prop_assert_eq!(pack_known_i8(&v, &mut dst), expect);
        }

        /// For integers in i8 range, `pack_known_i8` writes the bytes that the scanning `pack`
        /// writes in int8 (which the scan chooses for them), and a frame entry encoded with
        /// the int8 promise is the entry encoded without it, whatever encoding was guessed.
        #[test]
        fn known_i8_packing_is_the_scanned_packing(
            vals in proptest::collection::vec(-128i32..=127, 0..400),
            guess in prop::sample::select(vec![CSI_F32, CSI_I16, CSI_I8, CSI_I10]),
            v3 in any::<bool>(),
        ) {
            let v: Vec<Complex32> = vals
                .chunks_exact(2)
                .map(|c| Complex32::new(c[0] as f32, c[1] as f32))
                .collect();
            let mut scanned = vec![0u8; csi_bytes(CSI_I8, v.len())];
            let f = pack(CSI_I8, &v, &mut scanned);
            prop_assert_eq!(narrowest(f, v3), CSI_I8);
            let mut known = vec![0xA5u8; scanned.len()];
            prop_assert!(pack_known_i8(&v, &mut known));
            prop_assert_eq!(&known, &scanned);

            let n = v.len();
            let mut frame = CsiFrame::new(
                CaptureFormat::Intel5300,
                Device::Iwl5300,
                ndarray::Array3::from_shape_vec((1, 1, n), v).unwrap(),
            );
            frame.subcarriers = Some((0..n as i16).collect());
            let (mut a, mut b) = (Vec::new(), Vec::new());
            let ea = encode_frame(&frame, ScFlag::Inline, v3, guess, false, &mut a).unwrap();
            let eb = encode_frame(&frame, ScFlag::Inline, v3, guess, true, &mut b).unwrap();
            prop_assert_eq!(ea, CSI_I8);
            prop_assert_eq!(eb, CSI_I8);
            prop_assert_eq!(a, b);
        }
    }

    /// Every Intel 5300 fixture (whose reader promises int8 CSI) converts to the same
    /// recording bytes with and without `assume_integer_csi`, in every format version.
    #[test]
    fn assumed_int8_recordings_are_the_scanned_ones() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/intel5300");
        let mut files = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().and_then(|e| e.to_str()) != Some("dat") {
                continue;
            }
            for version in READABLE_VERSIONS {
                let header = RecordingHeader {
                    created_unix_ns: 0,
                    ..RecordingHeader::new("test", "")
                };
                let mut cap = crate::open(&path).unwrap();
                assert_eq!(cap.csi_integer_bits(), Some(8), "{}", path.display());
                let mut scanned =
                    RecordingWriter::with_version(Vec::new(), &header, version).unwrap();
                let mut known =
                    RecordingWriter::with_version(Vec::new(), &header, version).unwrap();
                known.assume_integer_csi(cap.csi_integer_bits());
                let mut frames = 0;
                while let Some(rec) = cap.next_record() {
                    if let Ok(rec) = rec {
                        frames += u64::from(matches!(rec, Record::Frame(_)));
                        scanned.write(&rec).unwrap();
                        known.write(&rec).unwrap();
                    }
                }
                assert!(frames > 0, "{}", path.display());
                let (a, b) = (scanned.into_inner().unwrap(), known.into_inner().unwrap());
                assert_eq!(a, b, "{} version {version}", path.display());
            }
            files += 1;
        }
        assert!(files >= 3, "only {files} Intel 5300 fixtures");
    }

    /// A broken int8 promise costs no data: frames whose values are not all i8 integers
    /// (out of range, fractions, -0.0, NaN, infinities) are written exactly as without it.
    #[test]
    fn broken_int8_promise_writes_the_scanned_bytes() {
        let cases = [
            Complex32::new(1.0, 200.0),
            Complex32::new(-129.0, 3.0),
            Complex32::new(0.5, 3.0),
            Complex32::new(-0.0, 3.0),
            Complex32::new(f32::NAN, 3.0),
            Complex32::new(3.0, f32::INFINITY),
            Complex32::new(40000.0, -7.0),
            Complex32::new(256.0, 0.0),
        ];
        for (k, c) in cases.into_iter().enumerate() {
            let mut values = vec![Complex32::new(5.0, -6.0); 5];
            values[k % 5] = c;
            let frame = CsiFrame::new(
                CaptureFormat::Intel5300,
                Device::Iwl5300,
                ndarray::Array3::from_shape_vec((1, 1, 5), values).unwrap(),
            );
            let header = RecordingHeader {
                created_unix_ns: 0,
                ..RecordingHeader::new("t", "")
            };
            let (mut a, mut b) = (Vec::new(), Vec::new());
            let mut plain = RecordingWriter::new(&mut a, &header).unwrap();
            let mut promised = RecordingWriter::new(&mut b, &header).unwrap();
            promised.assume_integer_csi(Some(8));
            for _ in 0..2 {
                plain.write_frame(&frame).unwrap();
                promised.write_frame(&frame).unwrap();
            }
            plain.flush().unwrap();
            promised.flush().unwrap();
            drop((plain, promised));
            assert_eq!(a, b, "case {k}: {c}");
            let mut back =
                RecordingReader::new(Box::new(std::io::Cursor::new(b)), &Default::default())
                    .unwrap();
            let mut frames = Vec::new();
            while let Some(rec) = back.next_record() {
                if let Record::Frame(f) = rec.unwrap() {
                    frames.push(f);
                }
            }
            assert_eq!(frames.len(), 2);
            for f in &frames {
                assert_eq!(
                    f.csi[[0, 0, k % 5]].re.to_bits(),
                    c.re.to_bits(),
                    "case {k}"
                );
                assert_eq!(
                    f.csi[[0, 0, k % 5]].im.to_bits(),
                    c.im.to_bits(),
                    "case {k}"
                );
            }
        }
    }

    /// Scaled Intel 5300 CSI is not integer: the reader promises nothing then.
    #[test]
    fn scaled_intel5300_promises_no_integers() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../fixtures/intel5300/example.dat");
        let mut options = crate::ReaderOptions::default();
        options.intel5300.scaled = true;
        let cap = crate::Registry::builtin()
            .with_options(options)
            .open_path(&path)
            .unwrap();
        assert_eq!(cap.csi_integer_bits(), None);
        assert_eq!(crate::open(&path).unwrap().csi_integer_bits(), Some(8));
    }
}
