//! Per-node statistics: frame counts, measured frame rate, sequence gaps (drops).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::frame::CsiFrame;

/// Statistics of one node.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NodeStats {
    /// Frames seen.
    pub frames: u64,
    /// First timestamp (ns).
    pub first_ns: Option<i64>,
    /// Last timestamp (ns).
    pub last_ns: Option<i64>,
    /// Highest sequence number so far in counter order (a late, reordered frame does not move
    /// it back).
    pub last_sequence: Option<u32>,
    /// Frames missing according to sequence gaps (a forward jump of `k > 1` counts `k - 1`,
    /// modulo the counter's width, see [`NodeTracker::observe`]).
    pub dropped: u64,
    /// Sequence numbers that jumped backwards by more than [`REORDER_WINDOW`] or far ahead
    /// (a reboot or a counter restart).
    pub sequence_resets: u64,
    /// Late frames: a sequence number at most [`REORDER_WINDOW`] behind the highest one so far
    /// (reordering, or interleaved counters). Not a reset; when such a frame fills a gap, that gap
    /// was already counted in `dropped`.
    #[serde(default)]
    pub sequence_reordered: u64,
    /// Frames that repeated the previous sequence number (several packets of one transmission,
    /// e.g. Nexmon's one packet per core and stream, or duplicates).
    pub sequence_repeats: u64,
    /// Largest sequence number seen (decides the counter width).
    pub max_sequence: Option<u32>,
    /// Frames whose timestamp is earlier than the latest one of the node so far (a clock that
    /// stepped back, a restart, or frames out of order); the analysers drop or start over at
    /// such frames.
    #[serde(default)]
    pub time_went_back: u64,
    /// The largest of those steps back, ns (0 when none).
    #[serde(default)]
    pub largest_step_back_ns: i64,
    /// Distinct CSI shapes seen `(rx, tx, subcarriers)` with counts.
    pub shapes: BTreeMap<String, u64>,
}

impl NodeStats {
    /// Measured mean frame rate in Hz: `(frames - 1) / span`; `None` when the span is shorter
    /// than [`MIN_RATE_SPAN_NS`] (the packets of one transmission, or a few frames, measure no
    /// rate: four Nexmon packets 0.1 ms apart are not a 25 kHz stream).
    pub fn rate_hz(&self) -> Option<f64> {
        let (a, b) = (self.first_ns?, self.last_ns?);
        if b.saturating_sub(a) >= MIN_RATE_SPAN_NS && self.frames > 1 {
            Some((self.frames - 1) as f64 / ((b - a) as f64 * 1e-9))
        } else {
            None
        }
    }

    /// Time between the first and the last frame, in seconds.
    pub fn span_s(&self) -> f64 {
        match (self.first_ns, self.last_ns) {
            // divided by 1e9 (exact), not multiplied by 1e-9 (inexact): the nearest double to
            // the decimal number of seconds
            (Some(a), Some(b)) if b > a => (b - a) as f64 / 1e9,
            _ => 0.0,
        }
    }
}

/// The shortest span between a node's first and last frame over which
/// [`NodeStats::rate_hz`] reports a rate: 1 ms.
pub const MIN_RATE_SPAN_NS: i64 = 1_000_000;

/// Per-node statistics over a stream of frames.
///
/// Sequence gaps are counted modulo the counter's width (12, 16 or 32 bits, the smallest that
/// holds every value seen), so a wrap such as 4095 -> 0 is no reset; a repeated number counts
/// as a repeat, and a jump backwards or by more than half the counter range as a reset.
///
/// ```
/// use wifi_sensing_core::{NodeTracker, CsiFrame, CaptureFormat, Device};
/// let mut t = NodeTracker::default();
/// for (i, seq) in [1u32, 2, 5].into_iter().enumerate() {
///     let mut f = CsiFrame::new(CaptureFormat::Simulated, Device::Simulator, ndarray::Array3::zeros((1, 1, 4)));
///     f.sequence = Some(seq);
///     f.timestamp_ns = i as i64 * 100_000_000;
///     f.clock = wifi_sensing_core::Clock::Host;
///     t.observe(&f);
/// }
/// let n = &t.nodes()[&0];
/// assert_eq!(n.dropped, 2);
/// assert_eq!(n.rate_hz(), Some(10.0));
/// ```
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct NodeTracker {
    nodes: BTreeMap<u32, NodeStats>,
    /// The text key of each shape seen (`"3x1x30"`), made once rather than per frame.
    #[serde(skip)]
    shape_keys: Vec<((usize, usize, usize), String)>,
}

/// Trackers are equal when their statistics are (the shape-key cache is not compared).
impl PartialEq for NodeTracker {
    fn eq(&self, other: &Self) -> bool {
        self.nodes == other.nodes
    }
}

/// Sequence gaps larger than this are treated as a reset, not as drops.
const MAX_GAP: u32 = 1 << 16;

/// A frame at most this many sequence numbers behind the highest one so far is counted as
/// reordered ([`NodeStats::sequence_reordered`]) rather than as a counter reset.
pub const REORDER_WINDOW: u64 = 16;

impl NodeTracker {
    /// Updates the statistics with one frame.
    pub fn observe(&mut self, f: &CsiFrame) {
        let n = self.nodes.entry(f.node_id).or_default();
        n.frames += 1;
        if f.clock != crate::frame::Clock::None {
            if let Some(latest) = n.last_ns.filter(|&l| f.timestamp_ns < l) {
                n.time_went_back += 1;
                n.largest_step_back_ns = n
                    .largest_step_back_ns
                    .max(latest.saturating_sub(f.timestamp_ns));
            }
            n.first_ns = Some(n.first_ns.map_or(f.timestamp_ns, |x| x.min(f.timestamp_ns)));
            n.last_ns = Some(n.last_ns.map_or(f.timestamp_ns, |x| x.max(f.timestamp_ns)));
        }
        if let Some(s) = f.sequence {
            let max = n.max_sequence.map_or(s, |m| m.max(s));
            n.max_sequence = Some(max);
            if let Some(prev) = n.last_sequence {
                // Counters wrap at their width: 12 bits (802.11 sequence numbers), 16 bits
                // (Intel bfee_count) or 32 bits (ADR-018); the width is the smallest one that
                // holds every value seen so far.
                let modulus: u64 = if max < 1 << 12 {
                    1 << 12
                } else if max < 1 << 16 {
                    1 << 16
                } else {
                    1 << 32
                };
                let d = (u64::from(s) + modulus - u64::from(prev)) % modulus;
                if d == 0 {
                    n.sequence_repeats += 1;
                } else if modulus - d <= REORDER_WINDOW {
                    // a late frame: keep the high-water mark
                    n.sequence_reordered += 1;
                    return Self::shape(&mut self.shape_keys, n, f);
                } else if d > u64::from(MAX_GAP).min(modulus / 2) {
                    n.sequence_resets += 1;
                } else if s < prev && d - 1 > modulus / 8 {
                    // The value went back, and only a wrap that lost many frames would explain
                    // it. The width is a guess from the values seen so far: an ADR-018 node
                    // that reboots before its 32-bit counter passes 4095 looks like a 12-bit
                    // wrap (2999 -> 0 would be 1096 lost). A restart is far likelier.
                    n.sequence_resets += 1;
                } else {
                    n.dropped += d - 1;
                }
            }
            n.last_sequence = Some(s);
        }
        Self::shape(&mut self.shape_keys, n, f);
    }

    fn shape(keys: &mut Vec<((usize, usize, usize), String)>, n: &mut NodeStats, f: &CsiFrame) {
        let dim = f.shape();
        let key = match keys.iter().position(|(d, _)| *d == dim) {
            Some(i) => &keys[i].1,
            None => {
                let (r, t, sc) = dim;
                keys.push((dim, format!("{r}x{t}x{sc}")));
                &keys[keys.len() - 1].1
            }
        };
        match n.shapes.get_mut(key.as_str()) {
            Some(c) => *c += 1,
            None => {
                n.shapes.insert(key.clone(), 1);
            }
        }
    }

    /// Statistics by node id.
    pub fn nodes(&self) -> &BTreeMap<u32, NodeStats> {
        &self.nodes
    }

    /// Total dropped frames over all nodes.
    ///
    /// ```
    /// use wifi_sensing_core::{NodeTracker, CsiFrame, CaptureFormat, Device};
    /// let mut t = NodeTracker::default();
    /// for seq in [4094u32, 4095, 0, 0, 2] {
    ///     let mut f = CsiFrame::new(CaptureFormat::Simulated, Device::Simulator, ndarray::Array3::zeros((1, 1, 1)));
    ///     f.sequence = Some(seq);
    ///     t.observe(&f);
    /// }
    /// let n = &t.nodes()[&0];
    /// assert_eq!((n.dropped, n.sequence_repeats, n.sequence_resets), (1, 1, 0));
    /// assert_eq!(t.total_dropped(), 1);
    /// ```
    pub fn total_dropped(&self) -> u64 {
        self.nodes.values().map(|n| n.dropped).sum()
    }
}

/// Transmitters that get a node id of their own in a [`MacNodeTable`]; later ones share the
/// overflow id `MAX_MAC_NODES` (256).
pub const MAX_MAC_NODES: usize = 256;

/// Numbers the transmitters of one capture for [`CsiFrame::node_id`]: the readers of formats
/// that carry a transmitter MAC but no node id use it (the rule and its one exception are in the
/// docs of [`CsiFrame::node_id`]).
///
/// Node ids are given in order of first appearance: the first distinct key seen is 0, the next
/// 1, and so on, up to [`MAX_MAC_NODES`] keys; every later new key gets the overflow id
/// `MAX_MAC_NODES`. A key is a MAC address, or `None` for a frame that names no transmitter
/// (for example an 802.11 CTS or ACK, which has no Address 2): all such frames share one node id
/// of their own, numbered like a MAC when the first of them appears. So a capture from a single
/// transmitter, or one that never names one, is node 0 throughout, and per-node statistics
/// ([`NodeTracker`]) never mix the sequence counters of different transmitters.
///
/// ```
/// use wifi_sensing_core::nodes::MacNodeTable;
/// let mut t = MacNodeTable::default();
/// assert_eq!(t.id(Some([1; 6])), 0);
/// assert_eq!(t.id(None), 1);
/// assert_eq!(t.id(Some([2; 6])), 2);
/// assert_eq!(t.id(Some([1; 6])), 0);
/// assert_eq!(t.id(None), 1);
/// ```
#[derive(Clone, Debug, Default)]
pub struct MacNodeTable {
    keys: Vec<Option<[u8; 6]>>,
    /// The key and id of the previous call (consecutive frames usually share a transmitter).
    last: Option<(Option<[u8; 6]>, u32)>,
}

impl MacNodeTable {
    /// The node id of `mac` (see the type's docs for the rule).
    pub fn id(&mut self, mac: Option<[u8; 6]>) -> u32 {
        if let Some((k, id)) = self.last {
            if k == mac {
                return id;
            }
        }
        let id = match self.keys.iter().position(|k| *k == mac) {
            Some(i) => i as u32,
            None if self.keys.len() < MAX_MAC_NODES => {
                self.keys.push(mac);
                (self.keys.len() - 1) as u32
            }
            None => MAX_MAC_NODES as u32,
        };
        self.last = Some((mac, id));
        id
    }

    /// Keys numbered so far, in id order (at most [`MAX_MAC_NODES`]).
    pub fn keys(&self) -> &[Option<[u8; 6]>] {
        &self.keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_overflows_into_one_shared_id() {
        let mut t = MacNodeTable::default();
        for i in 0..MAX_MAC_NODES {
            let mac = [0, 0, 0, 0, (i >> 8) as u8, i as u8];
            assert_eq!(t.id(Some(mac)), i as u32);
        }
        assert_eq!(t.id(Some([9; 6])), MAX_MAC_NODES as u32);
        assert_eq!(t.id(None), MAX_MAC_NODES as u32);
        assert_eq!(t.id(Some([0, 0, 0, 0, 0, 7])), 7);
        assert_eq!(t.keys().len(), MAX_MAC_NODES);
    }

    fn stats(seqs: &[u32]) -> NodeStats {
        let mut t = NodeTracker::default();
        for &s in seqs {
            let mut f = CsiFrame::new(
                crate::CaptureFormat::Simulated,
                crate::Device::Simulator,
                ndarray::Array3::zeros((1, 1, 2)),
            );
            f.sequence = Some(s);
            t.observe(&f);
        }
        t.nodes()[&0].clone()
    }

    #[test]
    fn rate_needs_a_measurable_span() {
        let mut n = NodeStats {
            frames: 4,
            first_ns: Some(0),
            last_ns: Some(119_000),
            ..NodeStats::default()
        };
        assert_eq!(n.rate_hz(), None);
        n.last_ns = Some(MIN_RATE_SPAN_NS);
        assert_eq!(n.rate_hz(), Some(3000.0));
        n.frames = 1;
        assert_eq!(n.rate_hz(), None);
    }

    #[test]
    fn time_going_back_is_counted() {
        let mut t = NodeTracker::default();
        for ms in [0i64, 10, 20, 5, 30, 29, 40] {
            let mut f = CsiFrame::new(
                crate::CaptureFormat::Simulated,
                crate::Device::Simulator,
                ndarray::Array3::zeros((1, 1, 2)),
            );
            f.clock = crate::frame::Clock::Simulated;
            f.timestamp_ns = ms * 1_000_000;
            t.observe(&f);
        }
        let n = &t.nodes()[&0];
        assert_eq!(n.time_went_back, 2);
        assert_eq!(n.largest_step_back_ns, 15_000_000);
        assert_eq!((n.first_ns, n.last_ns), (Some(0), Some(40_000_000)));
        // a clock-less frame says nothing about time
        assert_eq!(stats(&[1, 2, 3]).time_went_back, 0);
    }

    #[test]
    fn late_frames_are_reordered_not_resets() {
        // 1382 arrives after 1383: one gap counted, then a late frame, no reset
        let n = stats(&[1381, 1383, 1382, 1384]);
        assert_eq!(
            (
                n.dropped,
                n.sequence_reordered,
                n.sequence_resets,
                n.last_sequence
            ),
            (1, 1, 0, Some(1384))
        );
        // a late frame across the 12-bit wrap
        let n = stats(&[4094, 0, 4095, 1]);
        assert_eq!(
            (n.dropped, n.sequence_reordered, n.sequence_resets),
            (1, 1, 0)
        );
        // a counter that restarts below 4096 (an ADR-018 node rebooting early): a reset, not a
        // 12-bit wrap that lost 1096 frames; a wrap that lost a few is still a wrap
        let n = stats(&[2997, 2998, 2999, 0, 1]);
        assert_eq!((n.dropped, n.sequence_resets), (0, 1));
        let n = stats(&[4090, 4095, 3, 4]);
        assert_eq!((n.dropped, n.sequence_resets), (7, 0));
        // further back than the window: a reset, and counting restarts there
        let n = stats(&[1000, 1001, 900, 901]);
        assert_eq!(
            (n.dropped, n.sequence_reordered, n.sequence_resets),
            (0, 0, 1)
        );
        assert_eq!(n.frames, 4);
        assert_eq!(n.shapes["1x1x2"], 4);
    }
}
