//! Reassembly of IP fragments (IPv4 and IPv6) of UDP datagrams found in captures.
//!
//! A UDP datagram larger than the path MTU leaves its sender as several IP fragments, and a
//! capture taken on the receiving host holds the fragments, not the datagram: ADR-018 frames of
//! ESP32-C6 HE-SU nodes (about 1.5 KB of payload) and Nexmon 160 MHz packets (512 words × 4 bytes
//! plus the 18-byte header) do not fit a 1500-byte Ethernet MTU. [`Reassembler`] puts such
//! datagrams back together; [`PcapReader`](crate::formats::pcap::PcapReader) uses it so that a
//! reassembled datagram is decoded exactly like one that arrived whole.
//!
//! # What is reassembled
//!
//! Fragments come from [`parse_ip_udp`](crate::formats::pcap::parse_ip_udp) as
//! [`IpFragment`]s. Only UDP is reassembled: an IPv4 fragment whose protocol is not UDP (17),
//! or an IPv6 fragment whose Fragment header does not announce UDP as the first header of the
//! fragmentable part, is not a fragment for this module (the parser passes it over). A datagram
//! is identified by its [`FragmentKey`]: source, destination and identification (IPv4: 16-bit
//! identification, protocol UDP; IPv6: 32-bit identification of the Fragment extension header).
//! An IPv6 "atomic fragment" (offset 0, no more fragments, RFC 6946) completes at once.
//!
//! # Rules
//!
//! - Fragment offsets are multiples of 8 bytes (as both headers encode them), and a fragment that
//!   announces more fragments must hold a multiple of 8 bytes (RFC 791, RFC 8200).
//! - A datagram (the IP payload: UDP header and UDP payload) holds at most
//!   [`MAX_DATAGRAM_BYTES`] = 65 535 bytes; a fragment ending past that is reported, nothing is
//!   allocated for it.
//! - A fragment that covers bytes already received is accepted when those bytes are identical
//!   (a duplicated or retransmitted fragment, or the same traffic captured twice); different bytes
//!   for the same range make the datagram ambiguous, and it is reported and dropped. A copy that
//!   arrives after its datagram was completed starts a new datagram (nothing remembers completed
//!   ones), which is reported as incomplete in due course.
//! - The last fragment (no "more fragments" flag) sets the datagram's length: a second last
//!   fragment with another end, data received past that end, or a later fragment running past it
//!   are reported and the datagram dropped.
//! - At most `max_in_flight` datagrams are held at once ([`Limits::max_ip_datagrams_in_flight`],
//!   default [`DEFAULT_MAX_IN_FLIGHT`] = 64): the first fragment of one more datagram evicts the
//!   oldest held one, which is reported as incomplete. Memory is therefore bounded by about
//!   `max_in_flight × 66 KiB` whatever the input.
//! - A datagram not complete when more than `timeout_packets` packets have been seen since its
//!   first fragment ([`Limits::ip_fragment_timeout_packets`], default
//!   [`DEFAULT_TIMEOUT_PACKETS`] = 1000) is evicted and reported as incomplete. Packets, not
//!   capture time, measure age: the rule is deterministic and also works for pcapng Simple
//!   Packet Blocks, which carry no time.
//! - [`Reassembler::finish`] reports every datagram still incomplete at the end of the input.
//!
//! A datagram found bad is reported once, as a recoverable [`Error::Malformed`] carrying the
//! byte offset (the `origin` given with its first fragment) and a reason that names the
//! datagram, for example `IPv4 datagram id 0x1234 from 10.0.0.3 to 10.0.0.2: incomplete, 1480 of
//! 1576 bytes in 1 fragment, after 1000 more packets`. Its key then stays held as a *dropped*
//! entry until it ages out or is evicted, so that its remaining fragments are absorbed quietly
//! instead of starting a second, equally broken datagram.
//!
//! ```
//! use std::net::Ipv4Addr;
//! use wifi_sensing_core::formats::ipfrag::Reassembler;
//! use wifi_sensing_core::formats::pcap::{build_ipv4_udp_fragments, parse_ip_udp, IpUdp, LINKTYPE_RAW};
//!
//! let payload: Vec<u8> = (0..3000u32).map(|i| i as u8).collect();
//! let packets = build_ipv4_udp_fragments(
//!     Ipv4Addr::new(10, 0, 0, 3), Ipv4Addr::new(10, 0, 0, 2), 40000, 5005, &payload, 0x1234, 1500)?;
//! assert_eq!(packets.len(), 3);
//! let mut r = Reassembler::new(64, 1000);
//! let mut problems = Vec::new();
//! let mut whole = None;
//! for (n, p) in packets.iter().enumerate().rev() {
//!     let Ok(Some(IpUdp::Fragment(f))) = parse_ip_udp(LINKTYPE_RAW, p) else { panic!("not a fragment") };
//!     if let Some(done) = r.push(n as u64, 0, &f, p, &mut problems) {
//!         assert_eq!((done.len, done.fragments), (8 + 3000, 3));
//!         whole = Some(r.datagram().to_vec());
//!     }
//! }
//! assert!(problems.is_empty());
//! let whole = whole.unwrap();
//! assert_eq!(&whole[8..], &payload[..]); // after the 8-byte UDP header
//! # Ok::<(), wifi_sensing_core::Error>(())
//! ```
//!
//! [`Limits::max_ip_datagrams_in_flight`]: crate::Limits::max_ip_datagrams_in_flight
//! [`Limits::ip_fragment_timeout_packets`]: crate::Limits::ip_fragment_timeout_packets

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::error::Error;
use crate::formats::pcap::IpFragment;
use crate::frame::CaptureFormat;

/// Largest reassembled datagram (IP payload: UDP header plus UDP payload), in bytes.
pub const MAX_DATAGRAM_BYTES: usize = 65_535;
/// Default of [`Limits::max_ip_datagrams_in_flight`](crate::Limits::max_ip_datagrams_in_flight).
pub const DEFAULT_MAX_IN_FLIGHT: usize = 64;
/// Default of [`Limits::ip_fragment_timeout_packets`](crate::Limits::ip_fragment_timeout_packets).
pub const DEFAULT_TIMEOUT_PACKETS: u64 = 1000;

/// 8-byte blocks of the largest datagram, and the 64-bit words of a bitmap over them.
const BLOCKS: usize = MAX_DATAGRAM_BYTES.div_ceil(8);
const WORDS: usize = BLOCKS.div_ceil(64);

/// Identity of an IP datagram being reassembled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FragmentKey {
    /// IPv4: source, destination and 16-bit identification (the protocol is UDP).
    V4 {
        /// Source address.
        src: Ipv4Addr,
        /// Destination address.
        dst: Ipv4Addr,
        /// Identification field.
        id: u16,
    },
    /// IPv6: source, destination and the 32-bit identification of the Fragment header.
    V6 {
        /// Source address.
        src: Ipv6Addr,
        /// Destination address.
        dst: Ipv6Addr,
        /// Identification field of the Fragment extension header.
        id: u32,
    },
}

impl fmt::Display for FragmentKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FragmentKey::V4 { src, dst, id } => {
                write!(f, "IPv4 datagram id 0x{id:04x} from {src} to {dst}")
            }
            FragmentKey::V6 { src, dst, id } => {
                write!(f, "IPv6 datagram id 0x{id:08x} from {src} to {dst}")
            }
        }
    }
}

/// A datagram completed by [`Reassembler::push`]; its bytes are [`Reassembler::datagram`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reassembled {
    /// Which datagram.
    pub key: FragmentKey,
    /// Its length in bytes (UDP header plus UDP payload).
    pub len: usize,
    /// Fragments received for it, duplicates included.
    pub fragments: u32,
    /// [`IpFragment::header_len`] of its fragment at offset 0: the bytes an unfragmented packet
    /// would carry before the UDP header (link and IP headers).
    pub header_len: usize,
    /// The `origin` given with its first fragment (the pcap reader: the byte offset of that
    /// packet's record).
    pub first_origin: u64,
}

/// One datagram being reassembled.
#[derive(Debug)]
struct Slot {
    key: FragmentKey,
    origin: u64,
    started: u64,
    fragments: u32,
    received: usize,
    total: Option<usize>,
    max_end: usize,
    header_len: Option<usize>,
    /// Reported bad: later fragments of the key are absorbed, nothing more is reported.
    dropped: bool,
    buf: Vec<u8>,
    /// One bit per 8-byte block received.
    have: Vec<u64>,
}

impl Slot {
    fn fresh() -> Self {
        Slot {
            key: FragmentKey::V4 {
                src: Ipv4Addr::UNSPECIFIED,
                dst: Ipv4Addr::UNSPECIFIED,
                id: 0,
            },
            origin: 0,
            started: 0,
            fragments: 0,
            received: 0,
            total: None,
            max_end: 0,
            header_len: None,
            dropped: false,
            buf: Vec::new(),
            have: vec![0; WORDS],
        }
    }

    fn reset(&mut self, key: FragmentKey, origin: u64, started: u64) {
        self.key = key;
        self.origin = origin;
        self.started = started;
        self.fragments = 0;
        self.received = 0;
        self.total = None;
        self.max_end = 0;
        self.header_len = None;
        self.dropped = false;
        self.buf.clear();
        self.have.fill(0);
    }

    #[inline]
    fn has(&self, block: usize) -> bool {
        self.have[block / 64] & (1 << (block % 64)) != 0
    }

    /// What was received, for an "incomplete" report.
    fn progress(&self) -> String {
        let frags = if self.fragments == 1 {
            "1 fragment".to_string()
        } else {
            format!("{} fragments", self.fragments)
        };
        match self.total {
            Some(t) => format!("{} of {t} bytes in {frags}", self.received),
            None => format!("{} bytes in {frags} and no last fragment", self.received),
        }
    }
}

/// Bounded reassembler of IP fragments of UDP datagrams (see the [module docs](self)).
///
/// Feed every fragment with [`Reassembler::push`], tell it about the passing of packets with
/// [`Reassembler::expire`], and call [`Reassembler::finish`] at the end of the input. Problems
/// are appended to a caller-supplied `Vec<Error>` as recoverable [`Error::Malformed`] values.
#[derive(Debug)]
pub struct Reassembler {
    /// Held datagrams, oldest first (`started` never decreases along the vector).
    slots: Vec<Slot>,
    /// Finished slots kept for their buffers (at most `max_in_flight` of them).
    spare: Vec<Slot>,
    /// The last completed datagram.
    done: Vec<u8>,
    max_in_flight: usize,
    timeout_packets: u64,
}

impl Reassembler {
    /// A reassembler holding at most `max_in_flight` datagrams (0: every fragment is ignored)
    /// and evicting a datagram once more than `timeout_packets` packets have been seen since
    /// its first fragment. Nothing is allocated until fragments arrive.
    pub fn new(max_in_flight: usize, timeout_packets: u64) -> Self {
        Reassembler {
            slots: Vec::new(),
            spare: Vec::new(),
            done: Vec::new(),
            max_in_flight,
            timeout_packets,
        }
    }

    /// The limit on datagrams held at once.
    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight
    }

    /// Datagrams held now (incomplete ones and dropped ones still absorbing fragments); never
    /// more than [`Reassembler::max_in_flight`].
    pub fn in_flight(&self) -> usize {
        self.slots.len()
    }

    /// Bytes of the datagram most recently returned by [`Reassembler::push`] (UDP header first).
    pub fn datagram(&self) -> &[u8] {
        &self.done
    }

    fn recycle(&mut self, mut s: Slot) {
        if self.spare.len() < self.max_in_flight {
            s.buf.clear();
            self.spare.push(s);
        }
    }

    fn report_incomplete(s: &Slot, why: &str, report: &mut Vec<Error>) {
        if !s.dropped {
            report.push(malformed(
                s.origin,
                format!("{}: incomplete, {}, {why}", s.key, s.progress()),
            ));
        }
    }

    /// Evicts, and reports as incomplete, every datagram whose first fragment came more than
    /// the timeout before packet number `now` (any increasing packet count; the pcap reader
    /// calls this with the number of the packet it is about to handle).
    #[inline]
    pub fn expire(&mut self, now: u64, report: &mut Vec<Error>) {
        while let Some(first) = self.slots.first() {
            let age = now.saturating_sub(first.started);
            if age <= self.timeout_packets {
                break;
            }
            let s = self.slots.remove(0);
            Self::report_incomplete(
                &s,
                &format!("after {} more packets", age.saturating_sub(1)),
                report,
            );
            self.recycle(s);
        }
    }

    /// Reports every datagram still held as incomplete (the end of the input) and forgets them.
    pub fn finish(&mut self, report: &mut Vec<Error>) {
        for s in std::mem::take(&mut self.slots) {
            Self::report_incomplete(&s, "at the end of the capture", report);
            self.recycle(s);
        }
    }

    /// Adds the fragment `frag` of `packet` (the bytes [`IpFragment::data`] indexes), seen as
    /// packet number `now` and located at `origin` (a byte offset, used in reports). Returns the
    /// datagram when this fragment completes it (its bytes: [`Reassembler::datagram`]); problems
    /// (this datagram found bad, an older one evicted to make room) are appended to `report`.
    pub fn push(
        &mut self,
        now: u64,
        origin: u64,
        frag: &IpFragment,
        packet: &[u8],
        report: &mut Vec<Error>,
    ) -> Option<Reassembled> {
        if self.max_in_flight == 0 {
            return None;
        }
        let idx = match self.slots.iter().position(|s| s.key == frag.key) {
            Some(i) => i,
            None => {
                while self.slots.len() >= self.max_in_flight {
                    let s = self.slots.remove(0);
                    Self::report_incomplete(
                        &s,
                        &format!(
                            "evicted by a newer datagram ({} datagrams in flight at most)",
                            self.max_in_flight
                        ),
                        report,
                    );
                    self.recycle(s);
                }
                let mut s = self.spare.pop().unwrap_or_else(Slot::fresh);
                s.reset(frag.key, origin, now);
                self.slots.push(s);
                self.slots.len() - 1
            }
        };
        let s = &mut self.slots[idx];
        s.fragments = s.fragments.saturating_add(1);
        if s.dropped {
            return None;
        }
        let start = frag.offset;
        let Some(data) = packet.get(frag.data.clone()) else {
            return fail(
                s,
                format!(
                    "fragment data at bytes {}..{} of a packet of {} bytes",
                    frag.data.start,
                    frag.data.end,
                    packet.len()
                ),
                report,
            );
        };
        let end = start.saturating_add(data.len());
        if end > MAX_DATAGRAM_BYTES {
            return fail(
                s,
                format!(
                    "fragment at bytes {start}..{end} ends past the largest datagram ({MAX_DATAGRAM_BYTES} bytes)"
                ),
                report,
            );
        }
        if !start.is_multiple_of(8) {
            return fail(
                s,
                format!("fragment offset {start} is not a multiple of 8"),
                report,
            );
        }
        if frag.more && data.len() % 8 != 0 {
            return fail(
                s,
                format!(
                    "fragment at bytes {start}..{end} announces more fragments but its length {} is not a multiple of 8",
                    data.len()
                ),
                report,
            );
        }
        if !frag.more {
            if let Some(t) = s.total.filter(|&t| t != end) {
                return fail(
                    s,
                    format!(
                        "last fragment ends at byte {end}, an earlier last fragment at byte {t}"
                    ),
                    report,
                );
            }
            if s.max_end > end {
                return fail(
                    s,
                    format!(
                        "last fragment ends at byte {end}, but bytes up to {} were received",
                        s.max_end
                    ),
                    report,
                );
            }
        } else if let Some(t) = s.total.filter(|&t| end > t) {
            return fail(
                s,
                format!("fragment at bytes {start}..{end} runs past the end (byte {t}) set by the last fragment"),
                report,
            );
        }
        // Bytes already held must be identical.
        let first_block = start / 8;
        let last_block = end.div_ceil(8);
        let held_limit = s.total.unwrap_or(usize::MAX);
        for b in first_block..last_block {
            if !s.has(b) {
                continue;
            }
            let lo = (b * 8).max(start);
            let hi = (b * 8 + 8).min(end).min(held_limit);
            if lo < hi && s.buf[lo..hi] != data[lo - start..hi - start] {
                return fail(
                    s,
                    format!(
                        "fragment at bytes {start}..{end} overlaps bytes {lo}..{hi} received earlier with different contents"
                    ),
                    report,
                );
            }
        }
        if s.buf.len() < end {
            s.buf.resize(end, 0);
        }
        s.buf[start..end].copy_from_slice(data);
        for b in first_block..last_block {
            if !s.has(b) {
                s.have[b / 64] |= 1 << (b % 64);
                s.received += (b * 8 + 8).min(end) - b * 8;
            }
        }
        s.max_end = s.max_end.max(end);
        if !frag.more {
            s.total = Some(end);
        }
        if start == 0 {
            s.header_len = Some(frag.header_len);
        }
        match s.total {
            Some(t) if s.received == t => {
                let mut s = self.slots.remove(idx);
                s.buf.truncate(t);
                std::mem::swap(&mut self.done, &mut s.buf);
                let out = Reassembled {
                    key: s.key,
                    len: t,
                    fragments: s.fragments,
                    header_len: s.header_len.unwrap_or(0),
                    first_origin: s.origin,
                };
                self.recycle(s);
                Some(out)
            }
            _ => None,
        }
    }
}

fn malformed(offset: u64, reason: String) -> Error {
    Error::Malformed {
        format: CaptureFormat::Pcap,
        offset,
        line: None,
        reason,
    }
}

/// Marks the datagram dropped and reports why.
fn fail(s: &mut Slot, reason: String, report: &mut Vec<Error>) -> Option<Reassembled> {
    s.dropped = true;
    s.buf = Vec::new();
    report.push(malformed(s.origin, format!("{}: {reason}", s.key)));
    None
}
