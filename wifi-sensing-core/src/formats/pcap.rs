//! pcap and pcapng containers: a streaming packet reader, link-layer/IP/UDP extraction, a pcap
//! writer, and the registry entry that reads CSI carried in UDP packets.
//!
//! # Containers
//!
//! **Classic pcap** (libpcap): a 24-byte file header (`magic, version 2.x, thiszone, sigfigs,
//! snaplen, linktype`) then records of a 16-byte header (`ts_sec, ts_frac, caplen, origlen`) and
//! `caplen` bytes. The magic decides byte order and time resolution:
//!
//! | bytes on disk | byte order | `ts_frac` unit |
//! |---|---|---|
//! | `d4 c3 b2 a1` | little | µs |
//! | `a1 b2 c3 d4` | big | µs |
//! | `4d 3c b2 a1` | little | ns |
//! | `a1 b2 3c 4d` | big | ns |
//!
//! Only the low 16 bits of the header's link-type field are the link type (the upper bits may
//! carry FCS information).
//!
//! **pcapng**: a sequence of blocks `type u32, total length u32, body, total length u32`, whose
//! total length must be a multiple of 4 and at least 12. The Section Header Block
//! (`0x0A0D0D0A`, palindromic) carries the byte-order magic `0x1A2B3C4D` and starts a section:
//! every later block of the section uses its byte order, and a new SHB resets the interface list.
//! Interface Description Blocks (type 1) give each interface its link type, snap length and
//! `if_tsresol` (option 9: `10^-n` s, or `2^-n` s when the top bit is set; default µs) and
//! `if_tsoffset` (option 14, seconds added to every timestamp). Packets come from Enhanced Packet
//! Blocks (type 6), Simple Packet Blocks (type 3, no timestamp, interface 0) and the obsolete
//! Packet Block (type 2). Every other block is skipped by its length.
//!
//! [`PcapPackets`] yields each packet with its time in nanoseconds, its link type, its bytes and the
//! byte offset of its record (the 16-byte record header in pcap, the block start in pcapng). It
//! reads one record at a time into one reused buffer, so memory does not grow with the file.
//!
//! # Link layers and UDP
//!
//! [`parse_udp`] / [`udp_payload`] find a UDP datagram in a packet of link type Ethernet (1, with
//! any number of 802.1Q / 802.1ad VLAN tags), raw IP (101, and 12 / 14, the BSD and OpenBSD
//! `DLT_RAW` values found in old files), IPv4 (228), IPv6 (229), Linux cooked capture SLL (113)
//! and SLL2 (276), and BSD NULL (0, address family in either byte order) / LOOP (108). Both IPv4
//! (options allowed, via the IHL) and IPv6 (hop-by-hop, routing, destination-options and AH
//! extension headers walked) are read. [`parse_udp`] returns whole datagrams only;
//! [`parse_ip_udp`] also returns IP fragments of UDP datagrams (IPv4 fragments, IPv6 packets with
//! a Fragment extension header), which [`PcapReader`] reassembles (next section).
//!
//! The UDP payload length comes from the **UDP length field**, not from the captured length:
//! some captures carry bytes after the IP datagram (an Ethernet trailer, FORMATS.md §8: 18 packets
//! of `example_43455c0.pcap` have 4 trailing zero bytes). The length is checked against the IPv4
//! total length / IPv6 payload length and against the captured bytes; a datagram whose length
//! points past what was captured is a malformed packet.
//!
//! # CSI in pcap (the registry entry)
//!
//! [`PcapReader`] decides per UDP packet:
//! - a payload starting with an ADR-018 family magic ([`adr018::is_family_magic`]) is decoded by
//!   [`adr018::decode_datagram`] (CSI frames and the vitals / feature records), with the packet
//!   time as a host-clock timestamp;
//! - a payload with the Nexmon magic, sent from or to the Nexmon port ([`NexmonOptions::port`](crate::formats::nexmon::NexmonOptions::port),
//!   default 5500) or with the Ethernet source address `NEXMON`, is decoded by
//!   [`nexmon::NexmonDecoder`];
//! - a reassembled datagram (see [IP fragments](#ip-fragments)) goes through the same two tests;
//! - every other packet (other protocols, other UDP traffic) is counted in
//!   [`PcapCounters::non_csi_skipped`] and passed over. It is not an error: a capture without CSI
//!   gives zero frames.
//!
//! # IP fragments
//!
//! A UDP datagram larger than the path MTU is captured on the receiving host as IP fragments:
//! ADR-018 frames of ESP32-C6 HE-SU nodes (about 1.5 KB) and Nexmon 160 MHz packets
//! (512 × 4 + 18 bytes) do not fit a 1500-byte Ethernet MTU. [`PcapReader`] reassembles IPv4
//! fragments (key: source, destination, identification, protocol UDP) and IPv6 fragments (key:
//! source, destination, identification of the Fragment header) with a bounded [`Reassembler`]
//! and hands each completed datagram to the same ADR-018 / Nexmon dispatch as a whole one.
//! Fragments of other protocols are passed over.
//!
//! A reassembled datagram is dated and placed by **the packet that completes it** (the fragment
//! that arrives last, whatever its offset): its time and byte offset become the frame's
//! timestamp and offset, as they are the moment and place where the datagram exists whole.
//! Its link-layer source address (matched against `NEXMON`) is that packet's too. For the
//! Nexmon metadata, its captured and wire lengths are those of **the equivalent unfragmented
//! packet**: the link and IP headers of the fragment at offset 0 plus the reassembled
//! datagram, so that a fragmented capture gives the same `caplen` / `wirelen` as an unfragmented
//! one without trailer; its Ethernet trailer length is 0 (the fragments' own trailers belong to
//! no datagram).
//!
//! Limits ([`Limits::max_ip_datagrams_in_flight`], default 64; [`Limits::ip_fragment_timeout_packets`],
//! default 1000; at most 65 535 bytes per datagram) and the rules for duplicates, overlaps and
//! lengths are in [`ipfrag`](crate::formats::ipfrag). A datagram that cannot be reassembled (a
//! fragment missing when it is evicted or at the end of the input, overlapping fragments with
//! different bytes, conflicting lengths, data past 65 535 bytes) is reported as a recoverable
//! [`Error::Malformed`] with the byte offset of its first fragment and a reason naming it; a
//! reassembled datagram whose UDP header is inconsistent is reported the same way. Errors of the
//! payload decoders carry the datagram's offset (the completing packet's), like its frames.
//! Datagrams still incomplete at the end of the input, or when a container error ends the
//! stream, are reported before the stream ends: nothing is dropped silently. Fragments count in
//! [`PcapCounters::fragments`] (not as passed over), completed datagrams in
//! [`PcapCounters::reassembled`]; a reassembled datagram without CSI counts its fragments as
//! passed over. With `max_ip_datagrams_in_flight = 0` nothing is reassembled and fragments are
//! passed over, as whole non-CSI packets are.
//!
//! Errors inside one packet (bad IP/UDP lengths, a bad CSI payload) are recoverable
//! [`Error::Malformed`] with the offset of the packet record; an error of a payload decoder that
//! would otherwise end a stream (an ADR-018 count over its limit) is reported as `Malformed` too,
//! because the packet is already bounded and the next one can be read. Container errors (bad file
//! header, a record cut short, a `caplen` over [`Limits::max_record_bytes`], a pcapng block length
//! that breaks the block framing) end the stream.
//!
//! ```no_run
//! use wifi_sensing_core::formats::pcap::{PcapPackets, udp_payload};
//! let file = std::fs::File::open("capture.pcap").map_err(|e| wifi_sensing_core::Error::io("open", e))?;
//! let file = std::io::BufReader::new(file);
//! let mut packets = PcapPackets::new(file, &Default::default())?;
//! while let Some(p) = packets.next_packet() {
//!     let p = p?;
//!     if let Some(udp) = udp_payload(p.linktype, p.data) {
//!         println!("{} ns: {}:{} -> {}:{}, {} bytes", p.timestamp_ns.unwrap_or(0),
//!             udp.src, udp.src_port, udp.dst, udp.dst_port, udp.payload.len());
//!     }
//! }
//! # Ok::<(), wifi_sensing_core::Error>(())
//! ```

use std::collections::VecDeque;
use std::io::{BufRead, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::ops::Range;

use crate::error::{Error, Result};
use crate::formats::adr018;
use crate::formats::ipfrag::{FragmentKey, Reassembler};
use crate::formats::nexmon::{self, NexmonDecoder, PacketInfo};
use crate::frame::{CaptureFormat, Clock};
use crate::reader::{CaptureReader, Confidence, FormatDescriptor, Input, Limits, ReaderOptions};
use crate::record::Record;
use crate::util::read_full;

/// Link type 0: BSD loopback, 4-byte address family in the capturing host's byte order.
pub const LINKTYPE_NULL: u32 = 0;
/// Link type 1: Ethernet II (and 802.3).
pub const LINKTYPE_ETHERNET: u32 = 1;
/// Link type 12: raw IP as BSD's `DLT_RAW` wrote it into old files.
pub const LINKTYPE_RAW_BSD: u32 = 12;
/// Link type 14: raw IP as OpenBSD's `DLT_RAW` wrote it into old files.
pub const LINKTYPE_RAW_OPENBSD: u32 = 14;
/// Link type 101: raw IP (IPv4 or IPv6 by the version nibble).
pub const LINKTYPE_RAW: u32 = 101;
/// Link type 108: OpenBSD loopback, address family in network byte order.
pub const LINKTYPE_LOOP: u32 = 108;
/// Link type 113: Linux cooked capture v1 (SLL).
pub const LINKTYPE_LINUX_SLL: u32 = 113;
/// Link type 228: raw IPv4.
pub const LINKTYPE_IPV4: u32 = 228;
/// Link type 229: raw IPv6.
pub const LINKTYPE_IPV6: u32 = 229;
/// Link type 276: Linux cooked capture v2 (SLL2).
pub const LINKTYPE_LINUX_SLL2: u32 = 276;

/// pcapng Section Header Block type.
pub const PCAPNG_SHB: u32 = 0x0A0D_0D0A;
/// pcapng byte-order magic.
pub const PCAPNG_BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;
const PCAPNG_IDB: u32 = 1;
const PCAPNG_OPB: u32 = 2;
const PCAPNG_SPB: u32 = 3;
const PCAPNG_EPB: u32 = 6;
/// Most interfaces accepted in one pcapng section.
const MAX_INTERFACES: usize = 4096;
/// Largest non-packet block whose body is read into memory (SHB, IDB).
const MAX_META_BLOCK: usize = 1 << 20;
/// Snap length written by [`PcapWriter`].
pub const WRITER_SNAPLEN: u32 = 262_144;

/// Which container a file is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Container {
    /// Classic libpcap.
    Pcap,
    /// pcapng.
    PcapNg,
}

/// Time resolution of a classic pcap file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum TsResolution {
    /// Microseconds (magic `a1b2c3d4`).
    #[default]
    Micro,
    /// Nanoseconds (magic `a1b23c4d`).
    Nano,
}

/// Facts from a file header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileInfo {
    /// Container kind.
    pub container: Container,
    /// `true` when the (first section of the) file is big-endian.
    pub big_endian: bool,
    /// Version `(major, minor)` of the file or first section.
    pub version: (u16, u16),
    /// Classic pcap: the link type of every packet. pcapng: `None` (per interface).
    pub linktype: Option<u32>,
    /// Classic pcap: the snap length. pcapng: 0.
    pub snaplen: u32,
    /// Classic pcap: the timestamp resolution. pcapng: `None` (per interface).
    pub resolution: Option<TsResolution>,
}

/// A packet borrowed from the reader's buffer (valid until the next call).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PacketRef<'a> {
    /// Capture time in nanoseconds since the Unix epoch; `None` for pcapng Simple Packet Blocks,
    /// which carry no time.
    pub timestamp_ns: Option<i64>,
    /// Link type of the packet's interface.
    pub linktype: u32,
    /// pcapng interface id (0 in classic pcap).
    pub interface: u32,
    /// Length of the packet on the wire (may exceed `data.len()` when the capture was cut).
    pub orig_len: u32,
    /// Captured bytes.
    pub data: &'a [u8],
    /// Byte offset of the packet record (pcap: its 16-byte header; pcapng: its block).
    pub offset: u64,
}

impl PacketRef<'_> {
    /// An owned copy.
    pub fn to_owned_packet(&self) -> Packet {
        Packet {
            timestamp_ns: self.timestamp_ns,
            linktype: self.linktype,
            interface: self.interface,
            orig_len: self.orig_len,
            data: self.data.to_vec(),
            offset: self.offset,
        }
    }
}

/// An owned packet, as yielded by the [`Iterator`] implementation of [`PcapPackets`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packet {
    /// See [`PacketRef::timestamp_ns`].
    pub timestamp_ns: Option<i64>,
    /// See [`PacketRef::linktype`].
    pub linktype: u32,
    /// See [`PacketRef::interface`].
    pub interface: u32,
    /// See [`PacketRef::orig_len`].
    pub orig_len: u32,
    /// Captured bytes.
    pub data: Vec<u8>,
    /// See [`PacketRef::offset`].
    pub offset: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TsUnit {
    /// 10^-n seconds.
    Pow10(u8),
    /// 2^-n seconds.
    Pow2(u8),
}

impl TsUnit {
    fn to_ns(self, v: u64, offset_s: i64) -> i64 {
        let v = i128::from(v);
        let ns: i128 = match self {
            TsUnit::Pow10(n) if n <= 9 => v * 10i128.pow(u32::from(9 - n)),
            TsUnit::Pow10(n) if n - 9 <= 38 => v / 10i128.pow(u32::from(n - 9)),
            TsUnit::Pow10(_) => 0,
            TsUnit::Pow2(n) if n < 64 => (v * 1_000_000_000) >> n,
            TsUnit::Pow2(_) => 0,
        };
        let total = ns + i128::from(offset_s) * 1_000_000_000;
        total.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
    }
}

#[derive(Clone, Copy, Debug)]
struct Interface {
    linktype: u32,
    snaplen: u32,
    unit: TsUnit,
    offset_s: i64,
}

/// Where the packet of the last successful read is, in the reader's buffer.
#[derive(Clone, Copy, Debug)]
struct Found {
    timestamp_ns: Option<i64>,
    linktype: u32,
    interface: u32,
    orig_len: u32,
    start: usize,
    len: usize,
    offset: u64,
}

/// Streaming reader of the packets of a pcap or pcapng file.
///
/// Use [`PcapPackets::next_packet`] for borrowed packets (no allocation per packet), or the
/// [`Iterator`] implementation for owned [`Packet`]s. After a non-recoverable error both return
/// `None`. Recoverable errors ([`Error::Malformed`]: a pcapng packet block that is internally
/// inconsistent but correctly framed) are returned and reading continues with the next block.
#[derive(Debug)]
pub struct PcapPackets<R> {
    input: R,
    pos: u64,
    info: FileInfo,
    big_endian: bool,
    classic_unit: TsUnit,
    interfaces: Vec<Interface>,
    buf: Vec<u8>,
    max_record: usize,
    done: bool,
}

fn io_err(e: std::io::Error) -> Error {
    Error::io("cannot read pcap input", e)
}

fn invalid(offset: u64, reason: impl Into<String>) -> Error {
    Error::InvalidHeader {
        format: CaptureFormat::Pcap,
        offset,
        reason: reason.into(),
    }
}

fn malformed(offset: u64, reason: impl Into<String>) -> Error {
    Error::Malformed {
        format: CaptureFormat::Pcap,
        offset,
        line: None,
        reason: reason.into(),
    }
}

fn truncated(offset: u64, needed: u64, available: u64) -> Error {
    Error::Truncated {
        format: CaptureFormat::Pcap,
        offset,
        needed,
        available,
    }
}

#[inline]
fn u16_at(b: &[u8], off: usize, big: bool) -> u16 {
    let a = [b[off], b[off + 1]];
    if big {
        u16::from_be_bytes(a)
    } else {
        u16::from_le_bytes(a)
    }
}

#[inline]
fn u32_at(b: &[u8], off: usize, big: bool) -> u32 {
    let a = [b[off], b[off + 1], b[off + 2], b[off + 3]];
    if big {
        u32::from_be_bytes(a)
    } else {
        u32::from_le_bytes(a)
    }
}

/// Recognises a classic pcap magic: `(big_endian, nanosecond)`.
fn classic_magic(b: &[u8]) -> Option<(bool, bool)> {
    match b.get(..4)? {
        [0xd4, 0xc3, 0xb2, 0xa1] => Some((false, false)),
        [0xa1, 0xb2, 0xc3, 0xd4] => Some((true, false)),
        [0x4d, 0x3c, 0xb2, 0xa1] => Some((false, true)),
        [0xa1, 0xb2, 0x3c, 0x4d] => Some((true, true)),
        _ => None,
    }
}

impl<R: BufRead> PcapPackets<R> {
    /// Reads the file header (classic) or the first Section Header Block (pcapng).
    ///
    /// Fails with [`Error::InvalidHeader`] when the input is neither, or with
    /// [`Error::Truncated`] when the header is cut.
    pub fn new(mut input: R, limits: &Limits) -> Result<Self> {
        let mut magic = [0u8; 4];
        let n = read_full(&mut input, &mut magic).map_err(io_err)?;
        if n < 4 {
            return Err(truncated(0, 24, n as u64));
        }
        let mut me = PcapPackets {
            input,
            pos: 4,
            info: FileInfo {
                container: Container::Pcap,
                big_endian: false,
                version: (0, 0),
                linktype: None,
                snaplen: 0,
                resolution: None,
            },
            big_endian: false,
            classic_unit: TsUnit::Pow10(6),
            interfaces: Vec::new(),
            buf: Vec::new(),
            max_record: limits.max_record_bytes,
            done: false,
        };
        if let Some((big, nano)) = classic_magic(&magic) {
            let mut h = [0u8; 20];
            let n = read_full(&mut me.input, &mut h).map_err(io_err)?;
            if n < 20 {
                return Err(truncated(0, 24, 4 + n as u64));
            }
            me.pos = 24;
            let major = u16_at(&h, 0, big);
            let minor = u16_at(&h, 2, big);
            if major != 2 {
                return Err(invalid(
                    4,
                    format!("pcap version {major}.{minor}: only 2.x exists"),
                ));
            }
            let snaplen = u32_at(&h, 12, big);
            let linktype = u32_at(&h, 16, big) & 0xFFFF;
            me.big_endian = big;
            me.classic_unit = if nano {
                TsUnit::Pow10(9)
            } else {
                TsUnit::Pow10(6)
            };
            me.info = FileInfo {
                container: Container::Pcap,
                big_endian: big,
                version: (major, minor),
                linktype: Some(linktype),
                snaplen,
                resolution: Some(if nano {
                    TsResolution::Nano
                } else {
                    TsResolution::Micro
                }),
            };
            Ok(me)
        } else if magic == PCAPNG_SHB.to_le_bytes() {
            me.info.container = Container::PcapNg;
            me.read_shb(0)?;
            me.info.big_endian = me.big_endian;
            Ok(me)
        } else {
            Err(invalid(
                0,
                format!(
                    "not a pcap or pcapng file (magic {:02x} {:02x} {:02x} {:02x})",
                    magic[0], magic[1], magic[2], magic[3]
                ),
            ))
        }
    }

    /// Facts from the file header.
    pub fn info(&self) -> &FileInfo {
        &self.info
    }

    /// Bytes consumed so far.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// Reads `n` bytes into `self.buf[at..at + n]`; returns how many arrived.
    fn read_into_buf(&mut self, at: usize, n: usize) -> Result<usize> {
        self.buf.resize(at + n, 0);
        let got = read_full(&mut self.input, &mut self.buf[at..at + n]).map_err(io_err)?;
        self.pos += got as u64;
        Ok(got)
    }

    /// Skips `n` bytes; returns how many were skipped.
    fn skip(&mut self, n: u64) -> Result<u64> {
        let got =
            std::io::copy(&mut (&mut self.input).take(n), &mut std::io::sink()).map_err(io_err)?;
        self.pos += got;
        Ok(got)
    }

    /// Reads the fixed part of an SHB whose type (4 bytes) was consumed at `start`, then its body.
    fn read_shb(&mut self, start: u64) -> Result<()> {
        let mut h = [0u8; 8];
        let n = read_full(&mut self.input, &mut h).map_err(io_err)?;
        self.pos += n as u64;
        if n < 8 {
            return Err(truncated(start, 28, 4 + n as u64));
        }
        let big = match u32::from_le_bytes([h[4], h[5], h[6], h[7]]) {
            PCAPNG_BYTE_ORDER_MAGIC => false,
            0x4D3C_2B1A => true,
            other => {
                return Err(invalid(
                    start + 8,
                    format!("pcapng section header with byte-order magic 0x{other:08x}"),
                ))
            }
        };
        let blen = u32_at(&h, 0, big) as usize;
        if !blen.is_multiple_of(4) || blen < 28 {
            return Err(invalid(
                start + 4,
                format!(
                    "pcapng section header block length {blen} (must be a multiple of 4 and >= 28)"
                ),
            ));
        }
        if blen > MAX_META_BLOCK.max(self.max_record) {
            return Err(Error::LimitExceeded {
                format: CaptureFormat::Pcap,
                offset: start + 4,
                what: "pcapng section header block length",
                value: blen as u64,
                limit: MAX_META_BLOCK.max(self.max_record) as u64,
            });
        }
        let rest = blen - 12;
        let got = self.read_into_buf(0, rest)?;
        if got < rest {
            return Err(truncated(start, blen as u64, 12 + got as u64));
        }
        let major = u16_at(&self.buf, 0, big);
        let minor = u16_at(&self.buf, 2, big);
        let trailer = u32_at(&self.buf, rest - 4, big) as usize;
        if trailer != blen {
            return Err(invalid(
                start + blen as u64 - 4,
                format!(
                    "pcapng block trailer length {trailer} differs from its header length {blen}"
                ),
            ));
        }
        if major != 1 {
            return Err(invalid(
                start + 12,
                format!("pcapng version {major}.{minor}: only 1.x is supported"),
            ));
        }
        self.big_endian = big;
        self.interfaces.clear();
        if start == 0 {
            self.info.version = (major, minor);
        }
        Ok(())
    }

    /// Parses an IDB body held in `self.buf[..body_len]`.
    fn parse_idb(&mut self, start: u64, body_len: usize) -> Result<()> {
        let big = self.big_endian;
        if body_len < 8 {
            return Err(malformed(
                start,
                format!("pcapng interface block body of {body_len} bytes (< 8)"),
            ));
        }
        if self.interfaces.len() >= MAX_INTERFACES {
            return Err(Error::LimitExceeded {
                format: CaptureFormat::Pcap,
                offset: start,
                what: "pcapng interfaces in one section",
                value: self.interfaces.len() as u64 + 1,
                limit: MAX_INTERFACES as u64,
            });
        }
        let b = &self.buf[..body_len];
        let mut iface = Interface {
            linktype: u32::from(u16_at(b, 0, big)),
            snaplen: u32_at(b, 4, big),
            unit: TsUnit::Pow10(6),
            offset_s: 0,
        };
        let mut o = 8;
        while o + 4 <= b.len() {
            let code = u16_at(b, o, big);
            let len = usize::from(u16_at(b, o + 2, big));
            let v = o + 4;
            if code == 0 || v + len > b.len() {
                break;
            }
            match (code, len) {
                (9, 1) => {
                    let r = b[v];
                    iface.unit = if r & 0x80 != 0 {
                        TsUnit::Pow2(r & 0x7F)
                    } else {
                        TsUnit::Pow10(r)
                    };
                }
                (14, 8) => {
                    let hi = u32_at(b, v, big);
                    let lo = u32_at(b, v + 4, big);
                    let raw = if big {
                        (u64::from(hi) << 32) | u64::from(lo)
                    } else {
                        (u64::from(lo) << 32) | u64::from(hi)
                    };
                    iface.offset_s = raw as i64;
                }
                _ => {}
            }
            o = v + len.div_ceil(4) * 4;
        }
        self.interfaces.push(iface);
        Ok(())
    }

    /// Reads the trailing length of a block and compares it with the header's.
    fn check_trailer(&mut self, start: u64, blen: u32) -> Result<()> {
        let mut t = [0u8; 4];
        let n = read_full(&mut self.input, &mut t).map_err(io_err)?;
        self.pos += n as u64;
        if n < 4 {
            return Err(truncated(
                start,
                u64::from(blen),
                u64::from(blen) - 4 + n as u64,
            ));
        }
        let trailer = u32_at(&t, 0, self.big_endian);
        if trailer != blen {
            return Err(invalid(
                self.pos - 4,
                format!(
                    "pcapng block trailer length {trailer} differs from its header length {blen}"
                ),
            ));
        }
        Ok(())
    }

    fn next_classic(&mut self) -> Option<Result<Found>> {
        let start = self.pos;
        let mut h = [0u8; 16];
        let n = match read_full(&mut self.input, &mut h) {
            Ok(n) => n,
            Err(e) => return Some(Err(io_err(e))),
        };
        self.pos += n as u64;
        if n == 0 {
            return None;
        }
        if n < 16 {
            return Some(Err(truncated(start, 16, n as u64)));
        }
        let big = self.big_endian;
        let sec = u32_at(&h, 0, big);
        let frac = u32_at(&h, 4, big);
        let caplen = u32_at(&h, 8, big);
        let orig_len = u32_at(&h, 12, big);
        if caplen as usize > self.max_record {
            return Some(Err(Error::LimitExceeded {
                format: CaptureFormat::Pcap,
                offset: start + 8,
                what: "pcap packet caplen",
                value: u64::from(caplen),
                limit: self.max_record as u64,
            }));
        }
        let got = match self.read_into_buf(0, caplen as usize) {
            Ok(g) => g,
            Err(e) => return Some(Err(e)),
        };
        if got < caplen as usize {
            return Some(Err(truncated(
                start,
                16 + u64::from(caplen),
                16 + got as u64,
            )));
        }
        let ts = i64::from(sec) * 1_000_000_000
            + match self.classic_unit {
                TsUnit::Pow10(9) => i64::from(frac),
                _ => i64::from(frac) * 1000,
            };
        Some(Ok(Found {
            timestamp_ns: Some(ts),
            linktype: self.info.linktype.unwrap_or(LINKTYPE_ETHERNET),
            interface: 0,
            orig_len,
            start: 0,
            len: caplen as usize,
            offset: start,
        }))
    }

    fn next_ng(&mut self) -> Option<Result<Found>> {
        loop {
            let start = self.pos;
            let mut h = [0u8; 8];
            let n = match read_full(&mut self.input, &mut h[..4]) {
                Ok(n) => n,
                Err(e) => return Some(Err(io_err(e))),
            };
            self.pos += n as u64;
            if n == 0 {
                return None;
            }
            if n < 4 {
                return Some(Err(truncated(start, 12, n as u64)));
            }
            if h[..4] == PCAPNG_SHB.to_le_bytes() {
                if let Err(e) = self.read_shb(start) {
                    return Some(Err(e));
                }
                continue;
            }
            let n = match read_full(&mut self.input, &mut h[4..]) {
                Ok(n) => n,
                Err(e) => return Some(Err(io_err(e))),
            };
            self.pos += n as u64;
            if n < 4 {
                return Some(Err(truncated(start, 12, 4 + n as u64)));
            }
            let big = self.big_endian;
            let btype = u32_at(&h, 0, big);
            let blen = u32_at(&h, 4, big);
            if !blen.is_multiple_of(4) || blen < 12 {
                return Some(Err(invalid(
                    start + 4,
                    format!("pcapng block type 0x{btype:08x} has total length {blen} (must be a multiple of 4 and >= 12)"),
                )));
            }
            let body = (blen - 12) as usize;
            match btype {
                PCAPNG_EPB | PCAPNG_OPB | PCAPNG_SPB => match self.packet_block(start, btype, blen)
                {
                    Ok(Some(f)) => return Some(Ok(f)),
                    Ok(None) => {}
                    Err(e) => return Some(Err(e)),
                },
                PCAPNG_IDB => {
                    if body > MAX_META_BLOCK {
                        return Some(Err(Error::LimitExceeded {
                            format: CaptureFormat::Pcap,
                            offset: start + 4,
                            what: "pcapng interface block length",
                            value: u64::from(blen),
                            limit: MAX_META_BLOCK as u64,
                        }));
                    }
                    let got = match self.read_into_buf(0, body) {
                        Ok(g) => g,
                        Err(e) => return Some(Err(e)),
                    };
                    if got < body {
                        return Some(Err(truncated(start, u64::from(blen), 8 + got as u64)));
                    }
                    if let Err(e) = self.check_trailer(start, blen) {
                        return Some(Err(e));
                    }
                    if let Err(e) = self.parse_idb(start, body) {
                        return Some(Err(e));
                    }
                }
                _ => {
                    let got = match self.skip(body as u64) {
                        Ok(g) => g,
                        Err(e) => return Some(Err(e)),
                    };
                    if got < body as u64 {
                        return Some(Err(truncated(start, u64::from(blen), 8 + got)));
                    }
                    if let Err(e) = self.check_trailer(start, blen) {
                        return Some(Err(e));
                    }
                }
            }
        }
    }

    /// Reads an EPB / OPB / SPB whose 8-byte header was consumed. `Ok(None)` never happens for
    /// packet blocks today but keeps the loop simple.
    fn packet_block(&mut self, start: u64, btype: u32, blen: u32) -> Result<Option<Found>> {
        let big = self.big_endian;
        let fixed: u32 = if btype == PCAPNG_SPB { 4 } else { 20 };
        if blen < 12 + fixed {
            // Framing is intact: skip the block and report it.
            let body = u64::from(blen - 12);
            let got = self.skip(body)?;
            if got < body {
                return Err(truncated(start, u64::from(blen), 8 + got));
            }
            self.check_trailer(start, blen)?;
            return Err(malformed(
                start,
                format!("pcapng packet block type {btype} of {blen} bytes is too short for its fixed fields"),
            ));
        }
        let mut f = [0u8; 20];
        let n = read_full(&mut self.input, &mut f[..fixed as usize]).map_err(io_err)?;
        self.pos += n as u64;
        if n < fixed as usize {
            return Err(truncated(start, u64::from(blen), 8 + n as u64));
        }
        let room = blen - 12 - fixed;
        let (iface_id, ts_raw, caplen, orig_len) = match btype {
            PCAPNG_SPB => {
                let orig = u32_at(&f, 0, big);
                let snap = self.interfaces.first().map(|i| i.snaplen).unwrap_or(0);
                let mut cap = orig.min(room);
                if snap > 0 {
                    cap = cap.min(snap);
                }
                (0u32, None, cap, orig)
            }
            PCAPNG_OPB => {
                let iface = u32::from(u16_at(&f, 0, big));
                let ts = (u64::from(u32_at(&f, 4, big)) << 32) | u64::from(u32_at(&f, 8, big));
                (iface, Some(ts), u32_at(&f, 12, big), u32_at(&f, 16, big))
            }
            _ => {
                let iface = u32_at(&f, 0, big);
                let ts = (u64::from(u32_at(&f, 4, big)) << 32) | u64::from(u32_at(&f, 8, big));
                (iface, Some(ts), u32_at(&f, 12, big), u32_at(&f, 16, big))
            }
        };
        if caplen as usize > self.max_record {
            return Err(Error::LimitExceeded {
                format: CaptureFormat::Pcap,
                offset: start + if btype == PCAPNG_SPB { 8 } else { 20 },
                what: "pcapng packet caplen",
                value: u64::from(caplen),
                limit: self.max_record as u64,
            });
        }
        let mut problem = None;
        let take = if caplen > room {
            problem = Some(format!(
                "pcapng packet block of {blen} bytes has room for {room} packet bytes, caplen says {caplen}"
            ));
            0
        } else {
            caplen
        };
        let got = self.read_into_buf(0, take as usize)?;
        if got < take as usize {
            return Err(truncated(
                start,
                u64::from(blen),
                8 + u64::from(fixed) + got as u64,
            ));
        }
        let rest = u64::from(room - take);
        let skipped = self.skip(rest)?;
        if skipped < rest {
            return Err(truncated(
                start,
                u64::from(blen),
                8 + u64::from(fixed) + u64::from(take) + skipped,
            ));
        }
        self.check_trailer(start, blen)?;
        if let Some(p) = problem {
            return Err(malformed(start, p));
        }
        let Some(iface) = self.interfaces.get(iface_id as usize).copied() else {
            return Err(malformed(
                start,
                format!(
                    "pcapng packet of interface {iface_id}, but the section describes {} interface(s)",
                    self.interfaces.len()
                ),
            ));
        };
        Ok(Some(Found {
            timestamp_ns: ts_raw.map(|t| iface.unit.to_ns(t, iface.offset_s)),
            linktype: iface.linktype,
            interface: iface_id,
            orig_len,
            start: 0,
            len: take as usize,
            offset: start,
        }))
    }

    /// The next packet, borrowed from the reader's buffer; `None` at the end of the input and
    /// after a non-recoverable error.
    pub fn next_packet(&mut self) -> Option<Result<PacketRef<'_>>> {
        if self.done {
            return None;
        }
        let r = match self.info.container {
            Container::Pcap => self.next_classic(),
            Container::PcapNg => self.next_ng(),
        };
        match r {
            None => {
                self.done = true;
                None
            }
            Some(Err(e)) => {
                if !e.is_recoverable() {
                    self.done = true;
                }
                Some(Err(e))
            }
            Some(Ok(f)) => Some(Ok(PacketRef {
                timestamp_ns: f.timestamp_ns,
                linktype: f.linktype,
                interface: f.interface,
                orig_len: f.orig_len,
                data: &self.buf[f.start..f.start + f.len],
                offset: f.offset,
            })),
        }
    }
}

impl<R: BufRead> Iterator for PcapPackets<R> {
    type Item = Result<Packet>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_packet().map(|r| r.map(|p| p.to_owned_packet()))
    }
}

/// A UDP datagram found in a packet. `payload` indexes the packet bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UdpDatagram {
    /// IP source address.
    pub src: IpAddr,
    /// IP destination address.
    pub dst: IpAddr,
    /// UDP source port.
    pub src_port: u16,
    /// UDP destination port.
    pub dst_port: u16,
    /// Byte range of the UDP payload in the packet (its length is the UDP length minus 8).
    pub payload: Range<usize>,
    /// Link-layer source address, where the link layer has a 6-byte one (Ethernet, SLL).
    pub link_src: Option<[u8; 6]>,
    /// Innermost VLAN id, if the frame was tagged.
    pub vlan: Option<u16>,
    /// Captured bytes after the end of the IP datagram (an Ethernet trailer or FCS).
    pub trailer_len: usize,
}

/// Why a packet that claims to be IP/UDP cannot be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{reason} (byte {at} of the packet)")]
pub struct BadPacket {
    /// Byte position inside the packet where the problem is.
    pub at: usize,
    /// What is wrong.
    pub reason: String,
}

fn bad(at: usize, reason: impl Into<String>) -> BadPacket {
    BadPacket {
        at,
        reason: reason.into(),
    }
}

#[inline]
fn be16(b: &[u8], o: usize) -> u16 {
    u16::from_be_bytes([b[o], b[o + 1]])
}

#[derive(Clone, Copy)]
enum L3 {
    V4,
    V6,
}

/// Follows VLAN tags from an EtherType at `b[et_off..]`; returns the network layer and its offset.
fn ethertype_chain(
    b: &[u8],
    mut et_off: usize,
) -> Result<Option<(L3, usize, Option<u16>)>, BadPacket> {
    let mut vlan = None;
    loop {
        if b.len() < et_off + 2 {
            return Err(bad(et_off, "link header cut before its EtherType"));
        }
        match be16(b, et_off) {
            0x0800 => return Ok(Some((L3::V4, et_off + 2, vlan))),
            0x86DD => return Ok(Some((L3::V6, et_off + 2, vlan))),
            0x8100 | 0x88A8 | 0x9100 => {
                if b.len() < et_off + 6 {
                    return Err(bad(et_off, "VLAN tag cut"));
                }
                vlan = Some(be16(b, et_off + 2) & 0x0FFF);
                et_off += 4;
            }
            _ => return Ok(None),
        }
    }
}

fn mac_at(b: &[u8], o: usize) -> [u8; 6] {
    [b[o], b[o + 1], b[o + 2], b[o + 3], b[o + 4], b[o + 5]]
}

/// Finds the UDP datagram of a packet.
///
/// `Ok(None)` when the packet is not (complete, unfragmented) UDP over IPv4/IPv6 or the link
/// type is not supported; `Err` when the packet claims to be IP/UDP but its headers or lengths
/// do not fit the captured bytes. An IP fragment is not a whole datagram: `Ok(None)` (even when
/// its fragment fields are inconsistent); [`parse_ip_udp`] returns fragments of UDP datagrams
/// too, for reassembly.
///
/// ```
/// use wifi_sensing_core::formats::pcap::{parse_udp, build_ipv4_udp, LINKTYPE_RAW};
/// use std::net::Ipv4Addr;
/// let mut pkt = Vec::new();
/// build_ipv4_udp(&mut pkt, Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2), 4000, 5005, b"hello", 7);
/// let udp = parse_udp(LINKTYPE_RAW, &pkt).unwrap().unwrap();
/// assert_eq!(&pkt[udp.payload.clone()], b"hello");
/// assert_eq!(udp.dst_port, 5005);
/// ```
pub fn parse_udp(linktype: u32, b: &[u8]) -> Result<Option<UdpDatagram>, BadPacket> {
    match walk(linktype, b)? {
        Some(Walked::Udp(u)) => Ok(Some(u)),
        _ => Ok(None),
    }
}

/// What [`parse_ip_udp`] finds in a packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IpUdp {
    /// A whole UDP datagram, as [`parse_udp`] returns it.
    Datagram(UdpDatagram),
    /// An IP fragment of a UDP datagram, to give to a
    /// [`Reassembler`].
    Fragment(IpFragment),
}

/// An IPv4 fragment (more-fragments flag or a non-zero offset, protocol UDP) or an IPv6 packet
/// with a Fragment extension header announcing UDP. `data` indexes the packet bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IpFragment {
    /// The datagram the fragment belongs to.
    pub key: FragmentKey,
    /// Position of the fragment's data in the datagram (the IP payload: UDP header first), in
    /// bytes; a multiple of 8.
    pub offset: usize,
    /// More fragments follow (the MF flag / M bit).
    pub more: bool,
    /// Byte range of the fragment's data in the packet.
    pub data: Range<usize>,
    /// Bytes of the packet before the fragment's data, less the 8-byte IPv6 Fragment header: for
    /// the fragment at offset 0, the link and IP headers an unfragmented packet would have.
    pub header_len: usize,
    /// Link-layer source address, where the link layer has a 6-byte one (Ethernet, SLL).
    pub link_src: Option<[u8; 6]>,
    /// Innermost VLAN id, if the frame was tagged.
    pub vlan: Option<u16>,
    /// Captured bytes after the end of the IP packet (an Ethernet trailer or FCS).
    pub trailer_len: usize,
}

/// Finds the UDP datagram, or the fragment of a UDP datagram, in a packet.
///
/// Like [`parse_udp`], but an IP fragment of a UDP datagram gives
/// `Ok(Some(IpUdp::Fragment(..)))` (or `Err` when its lengths do not fit the captured bytes).
/// Fragments of other protocols, and IPv6 fragments whose fragmentable part does not start with
/// the UDP header, give `Ok(None)`.
///
/// ```
/// use std::net::Ipv4Addr;
/// use wifi_sensing_core::formats::pcap::{build_ipv4_udp_fragments, parse_ip_udp, parse_udp, IpUdp, LINKTYPE_RAW};
/// let packets = build_ipv4_udp_fragments(
///     Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2), 4000, 5005, &[7; 2000], 9, 1500)?;
/// let Ok(Some(IpUdp::Fragment(f))) = parse_ip_udp(LINKTYPE_RAW, &packets[1]) else { panic!() };
/// assert_eq!((f.offset, f.more, f.data.len()), (1480, false, 8 + 2000 - 1480));
/// assert_eq!(parse_udp(LINKTYPE_RAW, &packets[1]), Ok(None)); // not a whole datagram
/// # Ok::<(), wifi_sensing_core::Error>(())
/// ```
pub fn parse_ip_udp(linktype: u32, b: &[u8]) -> Result<Option<IpUdp>, BadPacket> {
    Ok(match walk(linktype, b)? {
        None => None,
        Some(Walked::Udp(u)) => Some(IpUdp::Datagram(u)),
        Some(Walked::Fragment(f)) => Some(IpUdp::Fragment((*f)?)),
    })
}

/// A packet's UDP content, with a fragment's own problems kept apart (so that [`parse_udp`] can
/// ignore them). The fragment is boxed to keep the whole-datagram fast path's value small.
enum Walked {
    Udp(UdpDatagram),
    Fragment(Box<Result<IpFragment, BadPacket>>),
}

/// The network-layer result: a whole UDP datagram or a fragment (link fields not yet set).
enum L4 {
    Udp(UdpAt),
    Frag(Box<Result<IpFragment, BadPacket>>),
}

#[inline(always)]
fn walk(linktype: u32, b: &[u8]) -> Result<Option<Walked>, BadPacket> {
    let (l3, off, link_src, vlan) = match linktype {
        LINKTYPE_ETHERNET => {
            if b.len() < 14 {
                return Err(bad(
                    0,
                    format!("Ethernet frame of {} bytes (< 14)", b.len()),
                ));
            }
            match ethertype_chain(b, 12)? {
                Some((l3, off, vlan)) => (l3, off, Some(mac_at(b, 6)), vlan),
                None => return Ok(None),
            }
        }
        LINKTYPE_RAW | LINKTYPE_RAW_BSD | LINKTYPE_RAW_OPENBSD => match b.first().map(|v| v >> 4) {
            Some(4) => (L3::V4, 0, None, None),
            Some(6) => (L3::V6, 0, None, None),
            Some(v) => return Err(bad(0, format!("raw IP packet with IP version {v}"))),
            None => return Err(bad(0, "empty raw IP packet")),
        },
        LINKTYPE_IPV4 => (L3::V4, 0, None, None),
        LINKTYPE_IPV6 => (L3::V6, 0, None, None),
        LINKTYPE_NULL | LINKTYPE_LOOP => {
            if b.len() < 4 {
                return Err(bad(0, "loopback header cut"));
            }
            let be = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
            let le = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            let fams: &[u32] = if linktype == LINKTYPE_LOOP {
                &[be]
            } else {
                &[be, le]
            };
            if fams.contains(&2) {
                (L3::V4, 4, None, None)
            } else if fams.iter().any(|f| matches!(f, 10 | 24 | 28 | 30)) {
                (L3::V6, 4, None, None)
            } else {
                return Ok(None);
            }
        }
        LINKTYPE_LINUX_SLL => {
            if b.len() < 16 {
                return Err(bad(
                    0,
                    format!("Linux cooked (SLL) header of {} bytes (< 16)", b.len()),
                ));
            }
            let src = (be16(b, 2) == 1 && be16(b, 4) == 6).then(|| mac_at(b, 6));
            match ethertype_chain(b, 14)? {
                Some((l3, off, vlan)) => (l3, off, src, vlan),
                None => return Ok(None),
            }
        }
        LINKTYPE_LINUX_SLL2 => {
            if b.len() < 20 {
                return Err(bad(
                    0,
                    format!("Linux cooked v2 (SLL2) header of {} bytes (< 20)", b.len()),
                ));
            }
            let src = (be16(b, 8) == 1 && b[11] == 6).then(|| mac_at(b, 12));
            match be16(b, 0) {
                0x0800 => (L3::V4, 20, src, None),
                0x86DD => (L3::V6, 20, src, None),
                0x8100 | 0x88A8 | 0x9100 => {
                    // Tag inline after the SLL2 header: TCI then the EtherType.
                    if b.len() < 24 {
                        return Err(bad(20, "VLAN tag cut"));
                    }
                    let vlan = Some(be16(b, 20) & 0x0FFF);
                    match ethertype_chain(b, 22)? {
                        Some((l3, off, inner)) => (l3, off, src, inner.or(vlan)),
                        None => return Ok(None),
                    }
                }
                _ => return Ok(None),
            }
        }
        _ => return Ok(None),
    };
    let found = match l3 {
        L3::V4 => ipv4_udp(b, off)?,
        L3::V6 => ipv6_udp(b, off)?,
    };
    Ok(match found {
        None => None,
        Some(L4::Udp((src, dst, udp_off, ulen, ip_end))) => Some(Walked::Udp(UdpDatagram {
            src,
            dst,
            src_port: be16(b, udp_off),
            dst_port: be16(b, udp_off + 2),
            payload: udp_off + 8..udp_off + ulen,
            link_src,
            vlan,
            trailer_len: b.len().saturating_sub(ip_end),
        })),
        Some(L4::Frag(mut f)) => {
            if let Ok(f) = f.as_mut() {
                f.link_src = link_src;
                f.vlan = vlan;
            }
            Some(Walked::Fragment(f))
        }
    })
}

/// `(src, dst, udp offset, udp length, end of IP datagram)`.
type UdpAt = (IpAddr, IpAddr, usize, usize, usize);

fn check_udp(b: &[u8], udp_off: usize, ip_end: usize, what: &str) -> Result<usize, BadPacket> {
    if b.len() < udp_off + 8 {
        return Err(bad(
            udp_off,
            format!("UDP header cut: {} captured bytes", b.len()),
        ));
    }
    let ulen = usize::from(be16(b, udp_off + 4));
    if ulen < 8 {
        return Err(bad(udp_off + 4, format!("UDP length {ulen} (< 8)")));
    }
    if udp_off + ulen > b.len() {
        return Err(bad(
            udp_off + 4,
            format!(
                "UDP length {ulen} points past the captured bytes ({} of them after the UDP header start)",
                b.len() - udp_off
            ),
        ));
    }
    if udp_off + ulen > ip_end {
        return Err(bad(
            udp_off + 4,
            format!(
                "UDP length {ulen} exceeds the {what} ({} bytes for UDP)",
                ip_end.saturating_sub(udp_off)
            ),
        ));
    }
    Ok(ulen)
}

#[inline]
fn ipv4_udp(b: &[u8], off: usize) -> Result<Option<L4>, BadPacket> {
    if b.len() < off + 20 {
        return Err(bad(
            off,
            format!("IPv4 header cut: {} bytes", b.len().saturating_sub(off)),
        ));
    }
    let v = b[off] >> 4;
    if v != 4 {
        return Err(bad(off, format!("IPv4 packet with version {v}")));
    }
    let ihl = usize::from(b[off] & 0x0F) * 4;
    if ihl < 20 {
        return Err(bad(off, format!("IPv4 header length {ihl} (< 20)")));
    }
    if b.len() < off + ihl {
        return Err(bad(off, format!("IPv4 header of {ihl} bytes cut")));
    }
    let total = usize::from(be16(b, off + 2));
    let ip_end = if total == 0 {
        // Segmentation offload captures: the length is filled in later by the NIC.
        b.len()
    } else if total < ihl {
        return Err(bad(
            off + 2,
            format!("IPv4 total length {total} is below its header length {ihl}"),
        ));
    } else {
        off + total
    };
    if b[off + 9] != 17 {
        return Ok(None);
    }
    let src = Ipv4Addr::new(b[off + 12], b[off + 13], b[off + 14], b[off + 15]);
    let dst = Ipv4Addr::new(b[off + 16], b[off + 17], b[off + 18], b[off + 19]);
    let frag = be16(b, off + 6);
    if frag & 0x3FFF != 0 {
        // More-fragments flag or a fragment offset: not a whole datagram.
        return Ok(Some(L4::Frag(Box::new(ipv4_fragment(
            b, off, ihl, total, frag, src, dst,
        )))));
    }
    let udp_off = off + ihl;
    let ulen = check_udp(b, udp_off, ip_end, "IPv4 total length")?;
    Ok(Some(L4::Udp((
        IpAddr::V4(src),
        IpAddr::V4(dst),
        udp_off,
        ulen,
        ip_end,
    ))))
}

/// The fragment fields of an IPv4 fragment whose header (`ihl` bytes at `off`) was checked.
#[cold]
fn ipv4_fragment(
    b: &[u8],
    off: usize,
    ihl: usize,
    total: usize,
    frag: u16,
    src: Ipv4Addr,
    dst: Ipv4Addr,
) -> Result<IpFragment, BadPacket> {
    if total == 0 {
        return Err(bad(off + 2, "IPv4 fragment with total length 0"));
    }
    let ip_end = off + total;
    if ip_end > b.len() {
        return Err(bad(
            off + 2,
            format!(
                "IPv4 fragment total length {total} points past the captured bytes ({} from the IP header on)",
                b.len() - off
            ),
        ));
    }
    Ok(IpFragment {
        key: FragmentKey::V4 {
            src,
            dst,
            id: be16(b, off + 4),
        },
        offset: usize::from(frag & 0x1FFF) * 8,
        more: frag & 0x2000 != 0,
        data: off + ihl..ip_end,
        header_len: off + ihl,
        link_src: None,
        vlan: None,
        trailer_len: b.len() - ip_end,
    })
}

#[inline]
fn ipv6_udp(b: &[u8], off: usize) -> Result<Option<L4>, BadPacket> {
    if b.len() < off + 40 {
        return Err(bad(
            off,
            format!("IPv6 header cut: {} bytes", b.len().saturating_sub(off)),
        ));
    }
    let v = b[off] >> 4;
    if v != 6 {
        return Err(bad(off, format!("IPv6 packet with version {v}")));
    }
    let plen = usize::from(be16(b, off + 4));
    if plen == 0 {
        // Jumbogram (hop-by-hop option) or offload: not handled.
        return Ok(None);
    }
    let ip_end = off + 40 + plen;
    let mut next = b[off + 6];
    let mut h = off + 40;
    for _ in 0..8 {
        match next {
            17 => {
                let src: [u8; 16] = b[off + 8..off + 24].try_into().unwrap_or([0; 16]);
                let dst: [u8; 16] = b[off + 24..off + 40].try_into().unwrap_or([0; 16]);
                let ulen = check_udp(b, h, ip_end, "IPv6 payload length")?;
                return Ok(Some(L4::Udp((
                    IpAddr::V6(Ipv6Addr::from(src)),
                    IpAddr::V6(Ipv6Addr::from(dst)),
                    h,
                    ulen,
                    ip_end,
                ))));
            }
            44 => {
                if b.get(h).is_some_and(|&n| n != 17) {
                    // A fragment of another protocol (or of a datagram whose fragmentable part
                    // starts with another extension header): passed over.
                    return Ok(None);
                }
                return Ok(Some(L4::Frag(Box::new(ipv6_fragment(b, off, h, ip_end)))));
            }
            0 | 43 | 60 | 51 => {
                if b.len() < h + 2 {
                    return Err(bad(h, "IPv6 extension header cut"));
                }
                let len = if next == 51 {
                    (usize::from(b[h + 1]) + 2) * 4
                } else {
                    (usize::from(b[h + 1]) + 1) * 8
                };
                next = b[h];
                h += len;
            }
            _ => return Ok(None),
        }
    }
    Ok(None)
}

/// The fragment fields of an IPv6 packet (header at `off`) whose Fragment header is at `h`.
#[cold]
fn ipv6_fragment(b: &[u8], off: usize, h: usize, ip_end: usize) -> Result<IpFragment, BadPacket> {
    if b.len() < h + 8 {
        return Err(bad(h, "IPv6 Fragment header cut"));
    }
    if h + 8 > ip_end {
        return Err(bad(
            h,
            format!(
                "IPv6 Fragment header at byte {h} lies past the payload length ({} bytes for the payload)",
                ip_end - off - 40
            ),
        ));
    }
    if ip_end > b.len() {
        return Err(bad(
            off + 4,
            format!(
                "IPv6 payload length {} points past the captured bytes ({} after the IPv6 header)",
                ip_end - off - 40,
                b.len() - off - 40
            ),
        ));
    }
    let mut src = [0u8; 16];
    src.copy_from_slice(&b[off + 8..off + 24]);
    let mut dst = [0u8; 16];
    dst.copy_from_slice(&b[off + 24..off + 40]);
    let fo = be16(b, h + 2);
    Ok(IpFragment {
        key: FragmentKey::V6 {
            src: Ipv6Addr::from(src),
            dst: Ipv6Addr::from(dst),
            id: u32::from_be_bytes([b[h + 4], b[h + 5], b[h + 6], b[h + 7]]),
        },
        offset: usize::from(fo & 0xFFF8),
        more: fo & 1 != 0,
        data: h + 8..ip_end,
        header_len: h,
        link_src: None,
        vlan: None,
        trailer_len: b.len() - ip_end,
    })
}

/// The UDP datagram of a packet, or `None` when there is none or its headers are inconsistent
/// (see [`parse_udp`] for the strict version).
pub fn udp_payload(linktype: u32, bytes: &[u8]) -> Option<UdpDatagram> {
    parse_udp(linktype, bytes).ok().flatten()
}

/// The Internet checksum (RFC 1071) of `data`, continuing from `sum`.
fn ones_sum(data: &[u8], mut sum: u32) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        sum += u32::from(*last) << 8;
    }
    sum
}

fn fold(mut sum: u32) -> u16 {
    while sum > 0xFFFF {
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    !(sum as u16)
}

/// The IPv4 header checksum of a header whose checksum field holds zero (or, to verify a
/// received header, holds its checksum: then the result is 0).
///
/// ```
/// use wifi_sensing_core::formats::pcap::ipv4_header_checksum;
/// // RFC 1071 style example header
/// let h = [0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00,
///          0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7];
/// assert_eq!(ipv4_header_checksum(&h), 0xb861);
/// ```
pub fn ipv4_header_checksum(header: &[u8]) -> u16 {
    fold(ones_sum(header, 0))
}

/// Appends an IPv4 header (no options, TTL 64, DF clear) and a UDP header with a valid checksum,
/// then `payload`, to `out`. Fails only when the payload does not fit one IPv4 datagram
/// (65 507 bytes).
pub fn build_ipv4_udp(
    out: &mut Vec<u8>,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    src_port: u16,
    dst_port: u16,
    payload: &[u8],
    ident: u16,
) -> bool {
    if payload.len() > 65_507 {
        return false;
    }
    let total = (20 + 8 + payload.len()) as u16;
    let ulen = (8 + payload.len()) as u16;
    let ip0 = out.len();
    out.extend_from_slice(&[0x45, 0x00]);
    out.extend_from_slice(&total.to_be_bytes());
    out.extend_from_slice(&ident.to_be_bytes());
    out.extend_from_slice(&[0x00, 0x00, 64, 17, 0, 0]);
    out.extend_from_slice(&src.octets());
    out.extend_from_slice(&dst.octets());
    let csum = ipv4_header_checksum(&out[ip0..ip0 + 20]);
    out[ip0 + 10..ip0 + 12].copy_from_slice(&csum.to_be_bytes());
    // UDP checksum over the pseudo header, the UDP header and the payload.
    let mut sum = ones_sum(&src.octets(), 0);
    sum = ones_sum(&dst.octets(), sum);
    sum += 17 + u32::from(ulen);
    let udp0 = out.len();
    out.extend_from_slice(&src_port.to_be_bytes());
    out.extend_from_slice(&dst_port.to_be_bytes());
    out.extend_from_slice(&ulen.to_be_bytes());
    out.extend_from_slice(&[0, 0]);
    sum = ones_sum(&out[udp0..udp0 + 8], sum);
    sum = ones_sum(payload, sum);
    let mut c = fold(sum);
    if c == 0 {
        c = 0xFFFF;
    }
    out[udp0 + 6..udp0 + 8].copy_from_slice(&c.to_be_bytes());
    out.extend_from_slice(payload);
    true
}

/// Splits a UDP datagram into IPv4 fragments for a link of `mtu` bytes (the largest IP packet,
/// header included), as a sending host does when the datagram does not fit.
///
/// Returns the IP packets, in order: each has a 20-byte IPv4 header (no options, TTL 64, DF
/// clear, identification `ident`, the more-fragments flag on every packet but the last, a valid
/// header checksum) and the next slice of the UDP datagram (UDP header with a valid checksum
/// over the whole datagram, then `payload`). Every fragment but the last carries the largest
/// multiple of 8 bytes that fits `mtu - 20`. A datagram that fits the MTU gives one ordinary
/// packet, identical to [`build_ipv4_udp`]'s.
///
/// Fails with [`Error::Config`] when `mtu` is below 28 (an IPv4 header and 8 bytes) or the
/// payload does not fit one IPv4 datagram (65 507 bytes).
///
/// ```
/// use std::net::Ipv4Addr;
/// use wifi_sensing_core::formats::pcap::build_ipv4_udp_fragments;
/// let p = build_ipv4_udp_fragments(
///     Ipv4Addr::new(10, 0, 0, 3), Ipv4Addr::new(10, 0, 0, 2), 40000, 5005, &[0; 1568], 0x1234, 1500)?;
/// // 8 + 1568 = 1576 datagram bytes: 1480 in the first fragment, 96 in the second.
/// assert_eq!(p.iter().map(Vec::len).collect::<Vec<_>>(), [1500, 20 + 96]);
/// assert_eq!(&p[1][6..8], &[0x00, 185]); // offset 1480 / 8, no more fragments
/// # Ok::<(), wifi_sensing_core::Error>(())
/// ```
pub fn build_ipv4_udp_fragments(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    src_port: u16,
    dst_port: u16,
    payload: &[u8],
    ident: u16,
    mtu: usize,
) -> Result<Vec<Vec<u8>>> {
    if mtu < 28 {
        return Err(Error::Config(format!(
            "an IPv4 MTU of {mtu} bytes cannot carry fragments (at least 28 needed)"
        )));
    }
    let mut whole = Vec::with_capacity(28 + payload.len());
    if !build_ipv4_udp(&mut whole, src, dst, src_port, dst_port, payload, ident) {
        return Err(Error::Config(format!(
            "UDP payload of {} bytes does not fit one IPv4 datagram",
            payload.len()
        )));
    }
    if whole.len() <= mtu {
        return Ok(vec![whole]);
    }
    let udp = &whole[20..];
    let step = (mtu - 20) / 8 * 8;
    let mut out = Vec::with_capacity(udp.len().div_ceil(step));
    for (i, chunk) in udp.chunks(step).enumerate() {
        let at = i * step;
        let more = at + chunk.len() < udp.len();
        let mut p = Vec::with_capacity(20 + chunk.len());
        p.extend_from_slice(&whole[..20]);
        p[2..4].copy_from_slice(&((20 + chunk.len()) as u16).to_be_bytes());
        let flags = if more { 0x2000u16 } else { 0 } | (at / 8) as u16;
        p[6..8].copy_from_slice(&flags.to_be_bytes());
        p[10..12].copy_from_slice(&[0, 0]);
        let csum = ipv4_header_checksum(&p[..20]);
        p[10..12].copy_from_slice(&csum.to_be_bytes());
        p.extend_from_slice(chunk);
        out.push(p);
    }
    Ok(out)
}

/// Writer of classic pcap files, used to export CSI traffic and by the simulator.
///
/// [`PcapWriter::write_udp`] builds a complete, valid frame for the writer's link type (Ethernet
/// by default: broadcast destination unless changed, IPv4 with a correct header checksum, UDP
/// with a correct checksum).
///
/// ```
/// use wifi_sensing_core::formats::pcap::{PcapWriter, PcapPackets, TsResolution, udp_payload};
/// use std::net::Ipv4Addr;
/// let mut w = PcapWriter::new(Vec::new(), TsResolution::Nano)?;
/// w.write_udp(1_700_000_000_123_456_789, Ipv4Addr::new(192, 168, 1, 20), Ipv4Addr::new(192, 168, 1, 2), 40000, 5005, b"payload")?;
/// let bytes = w.into_inner()?;
/// let mut r = PcapPackets::new(&bytes[..], &Default::default())?;
/// let p = r.next_packet().unwrap()?;
/// assert_eq!(p.timestamp_ns, Some(1_700_000_000_123_456_789));
/// let udp = udp_payload(p.linktype, p.data).unwrap();
/// assert_eq!(&p.data[udp.payload], b"payload");
/// # Ok::<(), wifi_sensing_core::Error>(())
/// ```
#[derive(Debug)]
pub struct PcapWriter<W: Write> {
    out: W,
    resolution: TsResolution,
    linktype: u32,
    src_mac: [u8; 6],
    dst_mac: [u8; 6],
    ident: u16,
    frame: Vec<u8>,
    packets: u64,
}

impl<W: Write> PcapWriter<W> {
    /// Writes a little-endian pcap header for Ethernet packets.
    pub fn new(out: W, resolution: TsResolution) -> Result<Self> {
        Self::with_linktype(out, resolution, LINKTYPE_ETHERNET)
    }

    /// Writes a little-endian pcap header for `linktype`. [`PcapWriter::write_udp`] supports
    /// Ethernet, raw IP (101), IPv4 (228), SLL (113), SLL2 (276) and NULL (0);
    /// [`PcapWriter::write_packet`] accepts any bytes.
    pub fn with_linktype(mut out: W, resolution: TsResolution, linktype: u32) -> Result<Self> {
        let magic: u32 = match resolution {
            TsResolution::Micro => 0xA1B2_C3D4,
            TsResolution::Nano => 0xA1B2_3C4D,
        };
        let mut h = Vec::with_capacity(24);
        h.extend_from_slice(&magic.to_le_bytes());
        h.extend_from_slice(&2u16.to_le_bytes());
        h.extend_from_slice(&4u16.to_le_bytes());
        h.extend_from_slice(&0i32.to_le_bytes());
        h.extend_from_slice(&0u32.to_le_bytes());
        h.extend_from_slice(&WRITER_SNAPLEN.to_le_bytes());
        h.extend_from_slice(&linktype.to_le_bytes());
        out.write_all(&h)
            .map_err(|e| Error::io("cannot write pcap header", e))?;
        Ok(PcapWriter {
            out,
            resolution,
            linktype,
            src_mac: [0x02, 0x00, 0x00, 0x00, 0x00, 0x01],
            dst_mac: [0xFF; 6],
            ident: 0,
            frame: Vec::with_capacity(2048),
            packets: 0,
        })
    }

    /// Sets the link-layer source and destination addresses used by [`PcapWriter::write_udp`]
    /// (defaults: `02:00:00:00:00:01` and broadcast).
    pub fn set_macs(&mut self, src: [u8; 6], dst: [u8; 6]) {
        self.src_mac = src;
        self.dst_mac = dst;
    }

    /// Packets written so far.
    pub fn packets_written(&self) -> u64 {
        self.packets
    }

    /// Writes one packet record holding `data` captured at `timestamp_ns` (Unix epoch).
    pub fn write_packet(&mut self, timestamp_ns: i64, data: &[u8]) -> Result<()> {
        if timestamp_ns < 0 || timestamp_ns / 1_000_000_000 > i64::from(u32::MAX) {
            return Err(Error::Config(format!(
                "pcap timestamp {timestamp_ns} ns is outside 1970..2106"
            )));
        }
        if data.len() > WRITER_SNAPLEN as usize {
            return Err(Error::Config(format!(
                "pcap packet of {} bytes exceeds the snap length {WRITER_SNAPLEN}",
                data.len()
            )));
        }
        let sec = (timestamp_ns / 1_000_000_000) as u32;
        let sub = (timestamp_ns % 1_000_000_000) as u32;
        let frac = match self.resolution {
            TsResolution::Micro => sub / 1000,
            TsResolution::Nano => sub,
        };
        let mut h = [0u8; 16];
        h[0..4].copy_from_slice(&sec.to_le_bytes());
        h[4..8].copy_from_slice(&frac.to_le_bytes());
        h[8..12].copy_from_slice(&(data.len() as u32).to_le_bytes());
        h[12..16].copy_from_slice(&(data.len() as u32).to_le_bytes());
        self.out
            .write_all(&h)
            .and_then(|_| self.out.write_all(data))
            .map_err(|e| Error::io("cannot write pcap packet", e))?;
        self.packets += 1;
        Ok(())
    }

    /// Appends the link-layer header of an IPv4 packet for the writer's link type to `frame`.
    fn link_header(&self, frame: &mut Vec<u8>) -> Result<()> {
        match self.linktype {
            LINKTYPE_ETHERNET => {
                frame.extend_from_slice(&self.dst_mac);
                frame.extend_from_slice(&self.src_mac);
                frame.extend_from_slice(&[0x08, 0x00]);
            }
            LINKTYPE_RAW | LINKTYPE_IPV4 | LINKTYPE_RAW_BSD | LINKTYPE_RAW_OPENBSD => {}
            LINKTYPE_NULL => frame.extend_from_slice(&2u32.to_le_bytes()),
            LINKTYPE_LOOP => frame.extend_from_slice(&2u32.to_be_bytes()),
            LINKTYPE_LINUX_SLL => {
                // Packet type 0 (to us), ARPHRD_ETHER, 6-byte address, protocol IPv4.
                frame.extend_from_slice(&[0, 0, 0, 1, 0, 6]);
                frame.extend_from_slice(&self.src_mac);
                frame.extend_from_slice(&[0, 0, 0x08, 0x00]);
            }
            LINKTYPE_LINUX_SLL2 => {
                frame.extend_from_slice(&[0x08, 0x00, 0, 0, 0, 0, 0, 1, 0, 1, 0, 6]);
                frame.extend_from_slice(&self.src_mac);
                frame.extend_from_slice(&[0, 0]);
            }
            other => {
                return Err(Error::Config(format!(
                    "PcapWriter cannot write UDP packets for link type {other}"
                )));
            }
        }
        Ok(())
    }

    /// Writes a UDP/IPv4 datagram inside a frame of the writer's link type.
    pub fn write_udp(
        &mut self,
        timestamp_ns: i64,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        src_port: u16,
        dst_port: u16,
        payload: &[u8],
    ) -> Result<()> {
        let mut frame = std::mem::take(&mut self.frame);
        frame.clear();
        if let Err(e) = self.link_header(&mut frame) {
            self.frame = frame;
            return Err(e);
        }
        if !build_ipv4_udp(
            &mut frame, src, dst, src_port, dst_port, payload, self.ident,
        ) {
            self.frame = frame;
            return Err(Error::Config(format!(
                "UDP payload of {} bytes does not fit one IPv4 datagram",
                payload.len()
            )));
        }
        self.ident = self.ident.wrapping_add(1);
        let r = self.write_packet(timestamp_ns, &frame);
        self.frame = frame;
        r
    }

    /// The frames (link header of the writer's link type included) of a UDP/IPv4 datagram
    /// fragmented for a link of `mtu` bytes (see [`build_ipv4_udp_fragments`]), without writing
    /// them: write them with [`PcapWriter::write_packet`] in any order, for instance to
    /// reproduce a capture where fragments arrive out of order or interleaved with other
    /// traffic. Uses (and advances) the writer's IPv4 identification counter, like
    /// [`PcapWriter::write_udp`].
    pub fn udp_fragment_frames(
        &mut self,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        src_port: u16,
        dst_port: u16,
        payload: &[u8],
        mtu: usize,
    ) -> Result<Vec<Vec<u8>>> {
        let mut link = Vec::new();
        self.link_header(&mut link)?;
        let packets =
            build_ipv4_udp_fragments(src, dst, src_port, dst_port, payload, self.ident, mtu)?;
        self.ident = self.ident.wrapping_add(1);
        Ok(packets
            .into_iter()
            .map(|p| {
                let mut f = Vec::with_capacity(link.len() + p.len());
                f.extend_from_slice(&link);
                f.extend_from_slice(&p);
                f
            })
            .collect())
    }

    /// Writes a UDP/IPv4 datagram as IPv4 fragments of at most `mtu` bytes each (IP header
    /// included; see [`build_ipv4_udp_fragments`]), in order, one packet record per fragment, all
    /// at `timestamp_ns`. Returns the number of packets written (1 when the datagram fits the
    /// MTU). This is what a capture on the receiving host holds for a datagram larger than the
    /// path MTU; [`PcapReader`] reassembles it.
    ///
    /// ```
    /// use std::net::Ipv4Addr;
    /// use wifi_sensing_core::formats::pcap::{PcapReader, PcapWriter, TsResolution};
    /// use wifi_sensing_core::{CaptureReader, ReaderOptions, Record};
    /// use wifi_sensing_core::formats::adr018::{encode_csi, CsiDatagram};
    /// // A 2-antenna ADR-018 frame of 384 pairs per antenna: 1556 bytes, over a 1500-byte MTU.
    /// let frame = encode_csi(&CsiDatagram { node_id: 1, sequence: 7, channel: 6, rssi: -40,
    ///     noise_floor: -95, n_antennas: 2, iq: vec![[1, 2]; 768] })?;
    /// let mut w = PcapWriter::new(Vec::new(), TsResolution::Micro)?;
    /// let n = w.write_udp_fragmented(1_700_000_000_000_000_000, Ipv4Addr::new(10, 0, 0, 3),
    ///     Ipv4Addr::new(10, 0, 0, 2), 40000, 5005, &frame, 1500)?;
    /// assert_eq!(n, 2);
    /// let bytes = w.into_inner()?;
    /// let mut r = PcapReader::new(&bytes[..], &ReaderOptions::default())?;
    /// let Some(Ok(Record::Frame(f))) = r.next_record() else { panic!("no frame") };
    /// assert_eq!((f.shape(), f.sequence), ((2, 1, 384), Some(7)));
    /// assert_eq!(r.counters().reassembled, 1);
    /// # Ok::<(), wifi_sensing_core::Error>(())
    /// ```
    #[allow(clippy::too_many_arguments)]
    pub fn write_udp_fragmented(
        &mut self,
        timestamp_ns: i64,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        src_port: u16,
        dst_port: u16,
        payload: &[u8],
        mtu: usize,
    ) -> Result<usize> {
        let frames = self.udp_fragment_frames(src, dst, src_port, dst_port, payload, mtu)?;
        for f in &frames {
            self.write_packet(timestamp_ns, f)?;
        }
        Ok(frames.len())
    }

    /// Flushes the underlying writer.
    pub fn flush(&mut self) -> Result<()> {
        self.out
            .flush()
            .map_err(|e| Error::io("cannot flush pcap output", e))
    }

    /// Flushes and returns the underlying writer.
    pub fn into_inner(mut self) -> Result<W> {
        self.flush()?;
        Ok(self.out)
    }
}

/// Packet counters of a [`PcapReader`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PcapCounters {
    /// Packets read from the container.
    pub packets: u64,
    /// Packets holding a whole UDP datagram.
    pub udp: u64,
    /// Packets holding an IP fragment of a UDP datagram, taken for reassembly.
    pub fragments: u64,
    /// UDP datagrams reassembled from fragments.
    pub reassembled: u64,
    /// Packets that carry no CSI (not UDP, or UDP with another payload), passed over. A
    /// reassembled datagram without CSI counts each of its fragments here.
    pub non_csi_skipped: u64,
    /// UDP payloads handed to the ADR-018 decoder.
    pub adr018: u64,
    /// UDP payloads handed to the Nexmon decoder.
    pub nexmon: u64,
    /// Errors reported: malformed packets, datagrams that could not be reassembled, payloads
    /// the decoders rejected.
    pub malformed: u64,
}

/// Reader of CSI carried in a pcap / pcapng capture (ADR-018 datagrams and Nexmon packets),
/// with IP fragment reassembly (see the [module docs](self)).
#[derive(Debug)]
pub struct PcapReader<R = Input> {
    packets: PcapPackets<R>,
    out: Dispatch,
    reassembler: Reassembler,
    /// Reassembly problems waiting to be queued (reused).
    problems: Vec<Error>,
    done: bool,
}

/// The decoders and the output queue of a [`PcapReader`], apart from its packet source so that
/// a packet borrowed from the source can be dispatched.
#[derive(Debug)]
struct Dispatch {
    nexmon: NexmonDecoder,
    nexmon_port: u16,
    counters: PcapCounters,
    queue: VecDeque<Result<Record>>,
    frames: Vec<crate::frame::CsiFrame>,
}

/// Where a UDP payload comes from, for the decoders.
struct Origin {
    timestamp_ns: Option<i64>,
    offset: u64,
    src_port: u16,
    dst_port: u16,
    link_src: Option<[u8; 6]>,
    caplen: u32,
    wirelen: u32,
    eth_trailer_len: u32,
}

impl Dispatch {
    fn flush_group(&mut self) {
        if let Some(f) = self.nexmon.flush() {
            self.queue.push_back(Ok(Record::Frame(f)));
        }
    }

    fn push_error(&mut self, e: Error) {
        if e.is_recoverable() {
            self.counters.malformed += 1;
        }
        self.flush_group();
        self.queue.push_back(Err(e));
    }

    /// Hands a UDP payload to the decoder it belongs to; `false` when it carries no CSI.
    #[inline(always)]
    fn udp(&mut self, payload: &[u8], o: &Origin) -> bool {
        let offset = o.offset;
        if adr018::is_family_magic(payload) {
            self.counters.adr018 += 1;
            let (ts, clock) = match o.timestamp_ns {
                Some(t) => (t, Clock::Host),
                None => (0, Clock::None),
            };
            match adr018::decode_datagram(payload, offset, ts, clock) {
                Ok(rec) => {
                    self.flush_group();
                    self.queue.push_back(Ok(rec));
                }
                Err(e) if e.is_recoverable() => self.push_error(e),
                Err(e) => self.push_error(Error::Malformed {
                    format: CaptureFormat::Esp32Adr018,
                    offset,
                    line: None,
                    reason: e.to_string(),
                }),
            }
            return true;
        }
        let port_match = o.src_port == self.nexmon_port || o.dst_port == self.nexmon_port;
        let source_match = o.link_src == Some(nexmon::ETH_SOURCE);
        if (port_match || source_match) && nexmon::has_magic(payload) {
            self.counters.nexmon += 1;
            let info = PacketInfo {
                timestamp_ns: o.timestamp_ns,
                offset,
                caplen: o.caplen,
                wirelen: o.wirelen,
                eth_trailer_len: o.eth_trailer_len,
            };
            let mut out = std::mem::take(&mut self.frames);
            let r = self.nexmon.push(payload, &info, &mut out);
            self.queue
                .extend(out.drain(..).map(|f| Ok(Record::Frame(f))));
            self.frames = out;
            if let Err(e) = r {
                self.push_error(e);
            }
            return true;
        }
        false
    }
}

impl<R: BufRead> PcapReader<R> {
    /// Reads the container header and prepares the decoders and the fragment reassembler
    /// ([`Limits::max_ip_datagrams_in_flight`], [`Limits::ip_fragment_timeout_packets`]).
    pub fn new(input: R, options: &ReaderOptions) -> Result<Self> {
        Ok(PcapReader {
            packets: PcapPackets::new(input, &options.limits)?,
            out: Dispatch {
                nexmon: NexmonDecoder::new(options.nexmon.clone()),
                nexmon_port: options.nexmon.port,
                counters: PcapCounters::default(),
                queue: VecDeque::new(),
                frames: Vec::new(),
            },
            reassembler: Reassembler::new(
                options.limits.max_ip_datagrams_in_flight,
                options.limits.ip_fragment_timeout_packets,
            ),
            problems: Vec::new(),
            done: false,
        })
    }

    /// Packet counters so far.
    pub fn counters(&self) -> &PcapCounters {
        &self.out.counters
    }

    /// Facts from the container header.
    pub fn info(&self) -> &FileInfo {
        self.packets.info()
    }

    /// Datagrams being reassembled now (at most [`Limits::max_ip_datagrams_in_flight`]).
    pub fn datagrams_in_flight(&self) -> usize {
        self.reassembler.in_flight()
    }

    /// Queues the reassembly problems collected in `self.problems`.
    fn queue_problems(&mut self) {
        for e in self.problems.drain(..) {
            self.out.push_error(e);
        }
    }

    /// End of the input (or of the stream): every datagram still incomplete is reported.
    fn finish_fragments(&mut self) {
        self.reassembler.finish(&mut self.problems);
        self.queue_problems();
    }

    /// Reads packets until something is queued or the input ends.
    fn pump(&mut self) {
        let p = match self.packets.next_packet() {
            None => {
                self.finish_fragments();
                self.out.flush_group();
                self.done = true;
                return;
            }
            Some(Err(e)) => {
                let fatal = !e.is_recoverable();
                if fatal {
                    self.finish_fragments();
                }
                self.out.push_error(e);
                if fatal {
                    self.done = true;
                }
                return;
            }
            Some(Ok(p)) => p,
        };
        let out = &mut self.out;
        out.counters.packets += 1;
        let now = out.counters.packets;
        if self.reassembler.in_flight() != 0 {
            self.reassembler.expire(now, &mut self.problems);
            for e in self.problems.drain(..) {
                out.push_error(e);
            }
        }
        let offset = p.offset;
        let frag = match walk(p.linktype, p.data) {
            Ok(Some(Walked::Udp(udp))) => {
                out.counters.udp += 1;
                let origin = Origin {
                    timestamp_ns: p.timestamp_ns,
                    offset,
                    src_port: udp.src_port,
                    dst_port: udp.dst_port,
                    link_src: udp.link_src,
                    caplen: p.data.len() as u32,
                    wirelen: p.orig_len,
                    eth_trailer_len: udp.trailer_len as u32,
                };
                if !out.udp(&p.data[udp.payload], &origin) {
                    out.counters.non_csi_skipped += 1;
                }
                return;
            }
            Ok(None) => {
                out.counters.non_csi_skipped += 1;
                return;
            }
            Ok(Some(Walked::Fragment(_))) if self.reassembler.max_in_flight() == 0 => {
                // Reassembly turned off: a fragment is not a datagram, as for `parse_udp`.
                out.counters.non_csi_skipped += 1;
                return;
            }
            Ok(Some(Walked::Fragment(f))) => match *f {
                Ok(f) => f,
                Err(b) => {
                    out.push_error(malformed(offset, format!("packet {now}: {b}")));
                    return;
                }
            },
            Err(b) => {
                let e = malformed(offset, format!("packet {now}: {b}"));
                out.push_error(e);
                return;
            }
        };
        out.counters.fragments += 1;
        let done = self
            .reassembler
            .push(now, offset, &frag, p.data, &mut self.problems);
        for e in self.problems.drain(..) {
            out.push_error(e);
        }
        let Some(d) = done else {
            return;
        };
        out.counters.reassembled += 1;
        let dg = self.reassembler.datagram();
        let ulen = if dg.len() >= 8 {
            usize::from(be16(dg, 4))
        } else {
            0
        };
        if dg.len() < 8 || ulen < 8 || ulen > dg.len() {
            let why = if dg.len() < 8 {
                format!(
                    "reassembled datagram of {} bytes is too short for a UDP header",
                    dg.len()
                )
            } else if ulen < 8 {
                format!("reassembled datagram has UDP length {ulen} (< 8)")
            } else {
                format!(
                    "UDP length {ulen} exceeds the reassembled datagram of {} bytes",
                    dg.len()
                )
            };
            out.push_error(malformed(d.first_origin, format!("{}: {why}", d.key)));
            return;
        }
        // The datagram is dated and placed by the packet that completed it; its lengths are
        // those of the equivalent unfragmented packet (see the module docs).
        let whole = u32::try_from(d.header_len.saturating_add(d.len)).unwrap_or(u32::MAX);
        let origin = Origin {
            timestamp_ns: p.timestamp_ns,
            offset,
            src_port: be16(dg, 0),
            dst_port: be16(dg, 2),
            link_src: frag.link_src,
            caplen: whole,
            wirelen: whole,
            eth_trailer_len: 0,
        };
        if !out.udp(&dg[8..ulen], &origin) {
            out.counters.non_csi_skipped += u64::from(d.fragments);
        }
    }
}

impl<R: BufRead + Send> CaptureReader for PcapReader<R> {
    fn format(&self) -> CaptureFormat {
        CaptureFormat::Pcap
    }

    fn next_record(&mut self) -> Option<Result<Record>> {
        loop {
            if let Some(r) = self.out.queue.pop_front() {
                return Some(r);
            }
            if self.done {
                return None;
            }
            self.pump();
        }
    }

    fn position(&self) -> u64 {
        self.packets.position()
    }

    /// Packets without CSI ([`PcapCounters::non_csi_skipped`]): not UDP, or UDP (whole or
    /// reassembled) that is neither ADR-018 nor Nexmon on the configured port.
    fn passed_over(&self) -> u64 {
        self.out.counters.non_csi_skipped
    }

    /// Nexmon frames refill the CSI and subcarrier buffers of recycled frames.
    fn recycle(&mut self, frame: crate::frame::CsiFrame) {
        self.out.nexmon.recycle(frame);
    }
}

fn probe(prefix: &[u8]) -> Confidence {
    if let Some((big, _)) = classic_magic(prefix) {
        return match prefix.get(4..6) {
            Some(v) if u16_at(v, 0, big) == 2 => 100,
            Some(_) => 20,
            None => 60,
        };
    }
    if prefix.len() >= 4 && prefix[..4] == PCAPNG_SHB.to_le_bytes() {
        return match prefix.get(8..12) {
            Some([0x4D, 0x3C, 0x2B, 0x1A]) | Some([0x1A, 0x2B, 0x3C, 0x4D]) => 100,
            Some(_) => 0,
            None => 50,
        };
    }
    0
}

fn open(input: Input, options: &ReaderOptions) -> Result<Box<dyn CaptureReader>> {
    Ok(Box::new(PcapReader::new(input, options)?))
}

/// Registry entry of the pcap / pcapng container.
pub fn descriptor() -> FormatDescriptor {
    FormatDescriptor {
        format: CaptureFormat::Pcap,
        description: "pcap / pcapng capture carrying ADR-018 (ESP32) or Nexmon CSI UDP packets",
        extensions: &["pcap", "pcapng", "cap"],
        probe,
        open,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eth_udp(payload: &[u8], sport: u16, dport: u16) -> Vec<u8> {
        let mut f = vec![0xFF; 6];
        f.extend_from_slice(&[2, 0, 0, 0, 0, 9]);
        f.extend_from_slice(&[0x08, 0x00]);
        assert!(build_ipv4_udp(
            &mut f,
            Ipv4Addr::new(10, 0, 0, 1),
            Ipv4Addr::new(10, 0, 0, 2),
            sport,
            dport,
            payload,
            1
        ));
        f
    }

    #[test]
    fn checksums_verify() {
        let f = eth_udp(b"abcde", 1, 2);
        assert_eq!(ipv4_header_checksum(&f[14..34]), 0);
        // UDP: the sum over pseudo header + datagram must fold to 0.
        let mut sum = ones_sum(&f[26..34], 0);
        sum += 17 + 13;
        sum = ones_sum(&f[34..], sum);
        assert_eq!(fold(sum), 0);
    }

    #[test]
    fn vlan_tags_followed() {
        let plain = eth_udp(b"xyz", 7, 8);
        let mut tagged = plain[..12].to_vec();
        tagged.extend_from_slice(&[0x88, 0xA8, 0x00, 0x05, 0x81, 0x00, 0x20, 0x2A]);
        tagged.extend_from_slice(&plain[12..]);
        let u = parse_udp(LINKTYPE_ETHERNET, &tagged).unwrap().unwrap();
        assert_eq!(u.vlan, Some(0x2A));
        assert_eq!(&tagged[u.payload], b"xyz");
        assert_eq!(u.link_src, Some([2, 0, 0, 0, 0, 9]));
    }

    #[test]
    fn trailer_ignored_and_counted() {
        let mut f = eth_udp(b"12345678", 7, 8);
        f.extend_from_slice(&[0, 0, 0, 0]);
        let u = parse_udp(LINKTYPE_ETHERNET, &f).unwrap().unwrap();
        assert_eq!(&f[u.payload], b"12345678");
        assert_eq!(u.trailer_len, 4);
    }

    #[test]
    fn udp_length_past_capture_is_bad() {
        let f = eth_udp(b"12345678", 7, 8);
        let cut = &f[..f.len() - 3];
        let e = parse_udp(LINKTYPE_ETHERNET, cut).unwrap_err();
        assert!(e.reason.contains("past the captured"), "{e}");
        assert_eq!(e.at, 14 + 20 + 4);
    }

    #[test]
    fn non_ip_and_non_udp_are_none() {
        let mut arp = vec![0xFF; 12];
        arp.extend_from_slice(&[0x08, 0x06]);
        arp.extend_from_slice(&[0; 28]);
        assert_eq!(parse_udp(LINKTYPE_ETHERNET, &arp), Ok(None));
        let mut tcp = eth_udp(b"", 1, 2);
        tcp[14 + 9] = 6;
        assert_eq!(parse_udp(LINKTYPE_ETHERNET, &tcp), Ok(None));
        let mut frag = eth_udp(b"abc", 1, 2);
        frag[14 + 6] = 0x20; // more fragments
        assert_eq!(parse_udp(LINKTYPE_ETHERNET, &frag), Ok(None));
        assert_eq!(parse_udp(147, &frag), Ok(None));
    }

    #[test]
    fn ipv6_with_extension_header() {
        let payload = b"v6 data";
        let mut p = vec![0x60, 0, 0, 0];
        let plen = 8 + 8 + payload.len();
        p.extend_from_slice(&(plen as u16).to_be_bytes());
        p.extend_from_slice(&[0, 64]); // next header hop-by-hop
        p.extend_from_slice(&[0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        p.extend_from_slice(&[0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        p.extend_from_slice(&[17, 0, 1, 4, 0, 0, 0, 0]); // hop-by-hop: next UDP, 8 bytes
        p.extend_from_slice(&5500u16.to_be_bytes());
        p.extend_from_slice(&5501u16.to_be_bytes());
        p.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
        p.extend_from_slice(&[0, 0]);
        p.extend_from_slice(payload);
        let u = parse_udp(LINKTYPE_RAW, &p).unwrap().unwrap();
        assert_eq!(&p[u.payload.clone()], payload);
        assert_eq!(u.src_port, 5500);
        assert!(u.src.is_ipv6());
        let mut null = 24u32.to_le_bytes().to_vec();
        null.extend_from_slice(&p);
        assert_eq!(
            parse_udp(LINKTYPE_NULL, &null).unwrap().unwrap().dst_port,
            5501
        );
    }

    #[test]
    fn pcapng_resolutions() {
        assert_eq!(TsUnit::Pow10(6).to_ns(1_500_000, 0), 1_500_000_000);
        assert_eq!(TsUnit::Pow10(9).to_ns(7, 0), 7);
        assert_eq!(TsUnit::Pow10(12).to_ns(7_000, 0), 7);
        assert_eq!(TsUnit::Pow2(10).to_ns(1024, 0), 1_000_000_000);
        assert_eq!(TsUnit::Pow10(6).to_ns(0, 3), 3_000_000_000);
        assert_eq!(TsUnit::Pow10(200).to_ns(u64::MAX, 0), 0);
        assert_eq!(TsUnit::Pow10(0).to_ns(u64::MAX, i64::MAX), i64::MAX);
    }

    #[test]
    fn writer_reader_round_trip_all_linktypes() {
        for lt in [
            LINKTYPE_ETHERNET,
            LINKTYPE_RAW,
            LINKTYPE_IPV4,
            LINKTYPE_LINUX_SLL,
            LINKTYPE_LINUX_SLL2,
            LINKTYPE_NULL,
            LINKTYPE_LOOP,
        ] {
            let mut w = PcapWriter::with_linktype(Vec::new(), TsResolution::Micro, lt).unwrap();
            w.set_macs(*b"NEXMON", [0xFF; 6]);
            w.write_udp(
                5_000_001_000,
                Ipv4Addr::LOCALHOST,
                Ipv4Addr::BROADCAST,
                1,
                2,
                b"data",
            )
            .unwrap();
            let bytes = w.into_inner().unwrap();
            let mut r = PcapPackets::new(&bytes[..], &Limits::default()).unwrap();
            let p = r.next_packet().unwrap().unwrap();
            assert_eq!(p.linktype, lt);
            assert_eq!(p.timestamp_ns, Some(5_000_001_000));
            let u = parse_udp(p.linktype, p.data).unwrap().unwrap();
            assert_eq!(&p.data[u.payload.clone()], b"data", "link type {lt}");
            if matches!(
                lt,
                LINKTYPE_ETHERNET | LINKTYPE_LINUX_SLL | LINKTYPE_LINUX_SLL2
            ) {
                assert_eq!(u.link_src, Some(*b"NEXMON"), "link type {lt}");
            }
            assert!(r.next_packet().is_none());
        }
    }

    #[test]
    fn big_endian_nanosecond_classic() {
        let mut f = 0xA1B2_3C4Du32.to_be_bytes().to_vec();
        f.extend_from_slice(&[0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0]);
        f.extend_from_slice(&1000u32.to_be_bytes());
        f.extend_from_slice(&LINKTYPE_RAW.to_be_bytes());
        let mut pkt = Vec::new();
        assert!(build_ipv4_udp(
            &mut pkt,
            Ipv4Addr::LOCALHOST,
            Ipv4Addr::LOCALHOST,
            9,
            10,
            b"be",
            0
        ));
        for v in [7u32, 123_456_789, pkt.len() as u32, 999] {
            f.extend_from_slice(&v.to_be_bytes());
        }
        f.extend_from_slice(&pkt);
        let mut r = PcapPackets::new(&f[..], &Limits::default()).unwrap();
        let info = *r.info();
        assert_eq!(
            (info.big_endian, info.resolution, info.snaplen),
            (true, Some(TsResolution::Nano), 1000)
        );
        let p = r.next_packet().unwrap().unwrap();
        assert_eq!(
            (p.timestamp_ns, p.orig_len, p.offset),
            (Some(7_123_456_789), 999, 24)
        );
        assert_eq!(
            &p.data[udp_payload(p.linktype, p.data).unwrap().payload],
            b"be"
        );
        assert!(r.next_packet().is_none());
    }

    #[test]
    fn probe_scores() {
        assert_eq!(probe(&[0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0]), 100);
        assert_eq!(probe(&[0xa1, 0xb2, 0x3c, 0x4d, 0, 2, 0, 4]), 100);
        assert_eq!(
            probe(&[0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a]),
            100
        );
        assert_eq!(probe(b"CSI_DATA,"), 0);
        assert_eq!(probe(&[]), 0);
    }
}
