//! Live UDP input: ADR-018 datagrams from ESP32 nodes (RuView firmware sends to port 5005) and
//! Nexmon CSI datagrams from Broadcom chips (nexmon_csi sends to port 5500).
//!
//! [`UdpSource`] binds a `std::net::UdpSocket` to the address the user gives, decodes every
//! datagram — with [`adr018::decode_datagram`] when it starts with an ADR-018 magic (frames and
//! the sibling vitals / feature packets), with a [`NexmonDecoder`] when it carries the Nexmon
//! magic (one frame per datagram, transmitters numbered by MAC as in pcap files) — stamps it with
//! the host receive time, and keeps per-node statistics: frames, sequence gaps (drops) and the
//! measured frame rate ([`NodeTracker`]).
//!
//! A datagram that cannot be decoded is a recoverable [`Error::MalformedDatagram`] naming the
//! datagram's number (from 1, in order of arrival) and its sender, with the decoder's reason
//! (counted, then reading goes on): a flood of garbage never ends the stream, and memory stays
//! bounded (one 64 KiB receive buffer).
//!
//! The source is blocking, with a short read timeout so that it can notice a stop request
//! ([`UdpSource::stop_flag`], e.g. set from a Ctrl-C handler), a deadline
//! ([`UdpSource::stop_after`]) or a datagram budget ([`UdpSource::max_datagrams`]); it then ends
//! the stream with `None`.
//!
//! ```no_run
//! use wifi_sensing_core::udp::UdpSource;
//! use wifi_sensing_core::Capture;
//! let src = UdpSource::bind("0.0.0.0:5005")?.stop_after(std::time::Duration::from_secs(10));
//! let mut cap = Capture::new(Box::new(src)).with_name("udp://0.0.0.0:5005");
//! for frame in &mut cap {
//!     println!("{}", frame?);
//! }
//! # Ok::<(), wifi_sensing_core::Error>(())
//! ```

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr, ToSocketAddrs, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::formats::adr018;
use crate::formats::nexmon::{self, NexmonDecoder, NexmonOptions, PacketInfo};
use crate::frame::{CaptureFormat, Clock};
use crate::nodes::NodeTracker;
use crate::reader::CaptureReader;
use crate::record::Record;

/// Counters of a [`UdpSource`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct UdpStats {
    /// Datagrams received.
    pub datagrams: u64,
    /// Payload bytes received.
    pub bytes: u64,
    /// CSI frames decoded.
    pub frames: u64,
    /// Non-CSI records decoded.
    pub aux_records: u64,
    /// Datagrams that were neither valid ADR-018 nor valid Nexmon packets.
    pub malformed: u64,
    /// Nexmon frames among `frames`.
    pub nexmon_frames: u64,
    /// Per-node statistics (frames, drops, rate).
    pub nodes: NodeTracker,
    /// Node ids whose frames came from more than one sender address (IP, any port): two nodes
    /// configured with the same id, whose frames then share one stream and one sequence
    /// counter. Node id to the addresses, in order of first arrival (at most
    /// [`MAX_SENDERS_PER_NODE`] each; the senders of at most [`MAX_TRACKED_NODES`] node ids
    /// are followed).
    #[serde(default)]
    pub shared_node_ids: BTreeMap<u32, Vec<String>>,
}

/// At most this many sender addresses are kept per node id in
/// [`UdpStats::shared_node_ids`].
pub const MAX_SENDERS_PER_NODE: usize = 8;

/// The senders of at most this many node ids are followed (a bound on memory when a sender
/// sprays node ids).
pub const MAX_TRACKED_NODES: usize = 4096;

/// A live UDP source of ADR-018 frames. See the [module docs](self).
#[derive(Debug)]
pub struct UdpSource {
    socket: UdpSocket,
    buf: Vec<u8>,
    stats: Arc<Mutex<UdpStats>>,
    stop: Arc<AtomicBool>,
    deadline: Option<Instant>,
    max_datagrams: Option<u64>,
    poll: Duration,
    done: bool,
    nexmon: NexmonDecoder,
    nexmon_out: Vec<crate::frame::CsiFrame>,
    /// the sender addresses of each node id, the first one first
    senders: HashMap<u32, Vec<IpAddr>>,
}

impl UdpSource {
    /// Binds a socket to `addr` (e.g. `"0.0.0.0:5005"`).
    pub fn bind(addr: impl ToSocketAddrs + std::fmt::Debug) -> Result<Self> {
        let desc = format!("{addr:?}");
        let socket =
            UdpSocket::bind(addr).map_err(|e| Error::io(format!("cannot bind UDP {desc}"), e))?;
        Self::from_socket(socket)
    }

    /// Uses an already bound socket.
    pub fn from_socket(socket: UdpSocket) -> Result<Self> {
        let poll = Duration::from_millis(100);
        socket
            .set_read_timeout(Some(poll))
            .map_err(|e| Error::io("cannot set UDP read timeout", e))?;
        Ok(UdpSource {
            socket,
            buf: vec![0u8; 65_536],
            stats: Arc::new(Mutex::new(UdpStats::default())),
            stop: Arc::new(AtomicBool::new(false)),
            deadline: None,
            max_datagrams: None,
            poll,
            done: false,
            nexmon: NexmonDecoder::new(NexmonOptions {
                group_by_sequence: false,
                ..NexmonOptions::default()
            }),
            nexmon_out: Vec::with_capacity(1),
            senders: HashMap::new(),
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> Result<SocketAddr> {
        self.socket
            .local_addr()
            .map_err(|e| Error::io("cannot read UDP local address", e))
    }

    /// Options of the Nexmon decoder (chip override, PHY-status mask). Grouping of packets is
    /// not available on a live stream: every datagram becomes one frame.
    pub fn with_nexmon_options(mut self, options: NexmonOptions) -> Self {
        self.nexmon = NexmonDecoder::new(NexmonOptions {
            group_by_sequence: false,
            ..options
        });
        self
    }

    /// Ends the stream after `d` from now.
    pub fn stop_after(mut self, d: Duration) -> Self {
        self.deadline = Some(Instant::now() + d);
        self
    }

    /// Ends the stream after `n` datagrams.
    pub fn max_datagrams(mut self, n: u64) -> Self {
        self.max_datagrams = Some(n);
        self
    }

    /// Uses an external stop flag (set it to `true` to end the stream within one poll interval).
    pub fn with_stop_flag(mut self, flag: Arc<AtomicBool>) -> Self {
        self.stop = flag;
        self
    }

    /// The stop flag: set it to `true` to end the stream.
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.stop)
    }

    /// A shared handle on the counters (readable while the source is being iterated elsewhere).
    pub fn stats_handle(&self) -> Arc<Mutex<UdpStats>> {
        Arc::clone(&self.stats)
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> UdpStats {
        self.stats.lock().map(|s| s.clone()).unwrap_or_default()
    }

    fn should_stop(&self) -> bool {
        if self.stop.load(Ordering::Relaxed) {
            return true;
        }
        if let Some(d) = self.deadline {
            if Instant::now() >= d {
                return true;
            }
        }
        false
    }
}

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

impl CaptureReader for UdpSource {
    fn format(&self) -> CaptureFormat {
        CaptureFormat::Esp32Adr018
    }

    fn next_record(&mut self) -> Option<Result<Record>> {
        loop {
            if self.done || self.should_stop() {
                self.done = true;
                return None;
            }
            if let Some(max) = self.max_datagrams {
                if self.stats.lock().map(|s| s.datagrams).unwrap_or(0) >= max {
                    self.done = true;
                    return None;
                }
            }
            let (n, from) = match self.socket.recv_from(&mut self.buf) {
                Ok(x) => x,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock
                            | std::io::ErrorKind::TimedOut
                            | std::io::ErrorKind::Interrupted
                    ) =>
                {
                    continue
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(Error::io("UDP receive failed", e)));
                }
            };
            let t = now_ns();
            let mut st = match self.stats.lock() {
                Ok(s) => s,
                Err(p) => p.into_inner(),
            };
            let offset = st.bytes;
            st.datagrams += 1;
            st.bytes += n as u64;
            let payload = &self.buf[..n];
            let rec = if !adr018::is_family_magic(payload) && nexmon::has_magic(payload) {
                let info = PacketInfo {
                    timestamp_ns: Some(t),
                    offset,
                    caplen: n as u32,
                    wirelen: n as u32,
                    eth_trailer_len: 0,
                };
                self.nexmon_out.clear();
                match self.nexmon.push(payload, &info, &mut self.nexmon_out) {
                    Ok(()) => match self.nexmon_out.pop() {
                        Some(f) => {
                            st.nexmon_frames += 1;
                            Ok(Record::Frame(f))
                        }
                        None => Err(Error::Malformed {
                            format: CaptureFormat::Nexmon,
                            offset,
                            line: None,
                            reason: "Nexmon datagram decoded to no frame".into(),
                        }),
                    },
                    Err(e) => Err(e),
                }
            } else {
                adr018::decode_datagram(payload, offset, t, Clock::Host)
            };
            // a datagram is the unit of a live input: whatever went wrong, it names that datagram
            let rec = rec.map_err(|e| {
                let (format, reason) = match e {
                    Error::Malformed { format, reason, .. } => (format, reason),
                    other => (CaptureFormat::Esp32Adr018, other.to_string()),
                };
                Error::MalformedDatagram {
                    format,
                    datagram: st.datagrams,
                    from: from.to_string(),
                    reason,
                }
            });
            match &rec {
                Ok(Record::Frame(f)) => {
                    st.frames += 1;
                    st.nodes.observe(f);
                    note_sender(&mut self.senders, &mut st, f.node_id, from.ip());
                }
                Ok(Record::Aux(_)) => st.aux_records += 1,
                Err(_) => st.malformed += 1,
            }
            return Some(rec);
        }
    }

    fn position(&self) -> u64 {
        self.stats.lock().map(|s| s.bytes).unwrap_or(0)
    }
}

/// Notes that a frame of `node` came from `ip`; a node id seen from a second address (and
/// each further one) is listed in [`UdpStats::shared_node_ids`]. No allocation once a node's
/// senders are known.
fn note_sender(senders: &mut HashMap<u32, Vec<IpAddr>>, st: &mut UdpStats, node: u32, ip: IpAddr) {
    let tracked = senders.len();
    match senders.get_mut(&node) {
        Some(known) if known.contains(&ip) => {}
        Some(known) if known.len() < MAX_SENDERS_PER_NODE => {
            known.push(ip);
            st.shared_node_ids
                .insert(node, known.iter().map(|a| a.to_string()).collect());
        }
        Some(_) => {}
        None if tracked < MAX_TRACKED_NODES => {
            senders.insert(node, vec![ip]);
        }
        None => {}
    }
}

impl UdpSource {
    /// The poll interval used to notice stop requests.
    pub fn poll_interval(&self) -> Duration {
        self.poll
    }
}
