//! `wifi-sensing inspect`: one pass over a capture, then a summary (text or JSON).

use std::collections::BTreeMap;
use std::io::Write;

use anyhow::Result;
use serde::Serialize;
use wifi_sensing_core::jsonl::mac_to_string;
use wifi_sensing_core::{
    CaptureFormat, Clock, Device, FormatMeta, NodeStats, NodeTracker, PerNode, ReadStats, Record,
};

use wifi_sensing_signal::rate::estimate_rate;

use crate::input::{InputSpec, OpenedInput, ReaderFlags};
use crate::Log;

// Options of the `inspect` command.
#[derive(clap::Args, Debug)]
pub(crate) struct InspectArgs {
    /// A file (format auto-detected), `udp://HOST:PORT` (live) or `-` (stdin).
    #[arg(value_parser = crate::values::input)]
    pub input: InputSpec,
    /// Read the input as this format instead of detecting it (see `wifi-sensing formats`).
    #[arg(long, value_parser = crate::values::format)]
    pub format: Option<CaptureFormat>,
    /// Print one JSON object instead of text (every field is described in the repository's
    /// `docs/schema/inspect-v1.json`). Per node: `rate_hz` (received over the whole run),
    /// `sampling_rate_hz` (drops counted; null on an irregular stream), `frames_lost` (the drops
    /// it counts) and `regular`; these three over the node's first 1048576 timed frames. At the
    /// top level, `other_nodes` and `other_node_ids`: the records `--keep-nodes` left out and
    /// their nodes. Per node also `mac`: the transmitter MAC its frames carry (null where the
    /// format has none), and `other_macs`: how many other MACs its frames carry (Intel 5300 is
    /// node 0 for every transmitter).
    #[arg(long)]
    pub json: bool,
    /// For `udp://` inputs only: stop after this long (e.g. `30s`).
    #[arg(long, value_parser = crate::parse_duration, allow_hyphen_values = true)]
    pub duration: Option<std::time::Duration>,
    // reader options: last, under their own help heading
    #[command(flatten)]
    pub reader: ReaderFlags,
}

/// `wifi-sensing inspect`.
pub(crate) fn main(args: InspectArgs, log: &Log) -> Result<()> {
    let opened =
        crate::input::open_input(&args.input, &args.reader, args.format, args.duration, log)?;
    // a native recording says where it came from: its header (a file's or stdin's)
    let recording = opened.capture.recording_header().map(|h| RecordingReport {
        format_version: h.format_version,
        created_unix_ns: h.created_unix_ns,
        source: h.source,
        config: h.config,
        writer: h.writer,
    });
    inspect(opened, args.json, args.format.is_some(), recording)
}

/// Where a native recording came from (its header).
#[derive(Debug, Serialize)]
struct RecordingReport {
    format_version: u16,
    created_unix_ns: i64,
    source: String,
    config: String,
    writer: String,
}

/// Version of the `--json` report's layout (`docs/schema/inspect-v1.json`).
const REPORT_SCHEMA: u32 = 1;

/// The `--json` report (`docs/schema/inspect-v1.json`).
#[derive(Debug, Default, Serialize)]
struct Report {
    /// Version of the report's layout ([`REPORT_SCHEMA`]).
    schema: u32,
    input: String,
    format: String,
    devices: BTreeMap<String, u64>,
    frames: u64,
    non_csi_records: BTreeMap<String, u64>,
    clock: Option<String>,
    duration_s: f64,
    first_timestamp_ns: Option<i64>,
    last_timestamp_ns: Option<i64>,
    nodes: BTreeMap<u32, NodeReport>,
    shapes: BTreeMap<String, u64>,
    channels: BTreeMap<String, u64>,
    bandwidths_mhz: BTreeMap<String, u64>,
    rssi_dbm_min: Option<f32>,
    rssi_dbm_max: Option<f32>,
    /// Some frame's format carries an RSSI that is not a dBm reading (RuView JSONL's `rssi`).
    #[serde(skip)]
    untrusted_rssi: bool,
    /// Some frame has per-chain RSSI values.
    #[serde(skip)]
    chain_rssi: bool,
    /// Sum of the nodes' sequence gaps; `None` when no node's frames carry sequence numbers.
    dropped_frames: Option<u64>,
    malformed_records: u64,
    /// Packets or records without CSI that the reader passed over (a pcap's other traffic).
    passed_over: u64,
    /// Records of nodes that `--keep-nodes` left out (not in the figures above them), and
    /// those nodes' ids.
    other_nodes: u64,
    other_node_ids: Vec<u32>,
    issues: Vec<String>,
    truncated: Option<String>,
    error: Option<String>,
    /// A native recording's header: where and when it was made.
    #[serde(skip_serializing_if = "Option::is_none")]
    recording: Option<RecordingReport>,
}

#[derive(Debug, Serialize)]
struct NodeReport {
    /// The transmitter MAC of the node's frames (the first one seen); `None` when none of its
    /// frames carries one (formats without a MAC, or a node id from the format itself).
    mac: Option<String>,
    /// Distinct MACs the node's frames carry besides `mac` (counted up to [`MAX_NODE_MACS`] in
    /// all): 0 for a node numbered by MAC; Intel 5300 is node 0 for every transmitter, and
    /// the transmitters past the [`MacNodeTable`](wifi_sensing_core::nodes::MacNodeTable)'s
    /// bound share one node.
    other_macs: u64,
    frames: u64,
    /// Received rate: `(frames - 1) / span` over the whole run (frames lost lower it).
    rate_hz: Option<f64>,
    /// Sampling rate over the whole run ([`wifi_sensing_signal::rate::RateEstimate::sampling_rate_hz`], the rate the
    /// spectrogram and Doppler grids use: frames lost on the way do not lower it); `None` on an
    /// irregular stream (where it would be the received rate) and when `rate_hz` is `None`.
    sampling_rate_hz: Option<f64>,
    /// Frames lost on the way that the sampling rate implies ([`wifi_sensing_signal::rate::RateEstimate::frames_lost`]);
    /// `None` when `sampling_rate_hz` is.
    frames_lost: Option<u64>,
    /// Whether the node's frame intervals are regular enough for a sampling rate (jitter at
    /// most [`wifi_sensing_signal::rate::REGULAR_JITTER`] of the median interval); `None` when `rate_hz` is.
    regular: Option<bool>,
    span_s: f64,
    /// `None` when the node's frames carry no sequence numbers (drops cannot be measured).
    dropped: Option<u64>,
    sequence_resets: u64,
    sequence_repeats: u64,
    sequence_reordered: u64,
    /// Frames earlier than the node's latest so far ([`NodeStats::time_went_back`]).
    time_went_back: u64,
    /// The largest step back, s (to the microsecond).
    largest_step_back_s: f64,
}

impl NodeReport {
    /// The report of a node from its statistics, the timestamps of its timed frames in
    /// arrival order and the distinct MACs of its frames in order of first appearance.
    fn new(n: &NodeStats, timestamps_ns: &[i64], macs: &[[u8; 6]]) -> Self {
        let rate_hz = n.rate_hz();
        // the same rule as the received rate: no rate over a span under MIN_RATE_SPAN_NS
        let est = rate_hz.and_then(|_| estimate_rate(timestamps_ns));
        let regular = est.map(|e| e.is_regular());
        let sampling = est.filter(|_| regular == Some(true));
        NodeReport {
            mac: macs.first().map(mac_to_string),
            other_macs: macs.len().saturating_sub(1) as u64,
            frames: n.frames,
            rate_hz,
            sampling_rate_hz: sampling.map(|e| e.sampling_rate_hz),
            frames_lost: sampling.map(|e| e.frames_lost),
            regular,
            span_s: n.span_s(),
            dropped: n.last_sequence.map(|_| n.dropped),
            sequence_resets: n.sequence_resets,
            sequence_repeats: n.sequence_repeats,
            sequence_reordered: n.sequence_reordered,
            time_went_back: n.time_went_back,
            // to the microsecond (4.108274, not 4.108274000000001)
            largest_step_back_s: (n.largest_step_back_ns as f64 / 1e3).round() / 1e6,
        }
    }
}

fn label<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|x| x.as_str().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

/// Counts of the distinct values of one frame field. A capture has a handful of distinct
/// devices, shapes or channels, so a short list searched from the last hit beats hashing every
/// frame's value.
struct Tally<K>(Vec<(K, u64)>, usize);

impl<K> Default for Tally<K> {
    fn default() -> Self {
        Tally(Vec::new(), 0)
    }
}

impl<K: PartialEq> Tally<K> {
    #[inline]
    fn add(&mut self, k: K) {
        if let Some(e) = self.0.get_mut(self.1) {
            if e.0 == k {
                e.1 += 1;
                return;
            }
        }
        match self.0.iter().position(|e| e.0 == k) {
            Some(i) => {
                self.0[i].1 += 1;
                self.1 = i;
            }
            None => {
                self.1 = self.0.len();
                self.0.push((k, 1));
            }
        }
    }
}

/// Timed frames per node whose timestamps `inspect` keeps for the sampling rate (8 MiB per
/// node, in a [`PerNode`] map and so for at most [`PerNode::DEFAULT_MAX_NODES`] nodes): a live
/// input that runs for days keeps bounded memory; past it, the sampling rate and the frames lost
/// are those of the node's first `MAX_TIMED_FRAMES` timed frames.
const MAX_TIMED_FRAMES: usize = 1 << 20;

/// Distinct MACs counted per node (a node numbered by MAC has one; the bound keeps a node that
/// gathers every transmitter, such as Intel 5300's node 0, from growing memory).
const MAX_NODE_MACS: usize = 256;

/// Adds `mac` to a node's distinct MACs (in order of first appearance, at most
/// [`MAX_NODE_MACS`]).
#[inline]
fn add_mac(macs: &mut Vec<[u8; 6]>, mac: [u8; 6]) {
    // the frames of a node numbered by MAC all carry its first one
    if macs.first() != Some(&mac) && macs.len() < MAX_NODE_MACS && !macs.contains(&mac) {
        macs.push(mac);
    }
}

fn inspect(
    mut opened: OpenedInput,
    json: bool,
    forced_format: bool,
    recording: Option<RecordingReport>,
) -> Result<()> {
    let mut r = Report {
        schema: REPORT_SCHEMA,
        input: opened.description.clone(),
        format: opened.capture.format().to_string(),
        recording,
        ..Report::default()
    };
    let mut tracker = NodeTracker::default();
    // per-frame tallies keyed by the typed values (no text per frame); named at the end
    let mut devices: Tally<Device> = Tally::default();
    let mut clocks: Tally<Clock> = Tally::default();
    let mut shapes: Tally<(usize, usize, usize)> = Tally::default();
    let mut channels: Tally<Option<u16>> = Tally::default();
    let mut bandwidths: Tally<Option<u16>> = Tally::default();
    // each node's timed frames' timestamps in arrival order, for its sampling rate
    let mut times: PerNode<Vec<i64>> = PerNode::default();
    // each node's distinct transmitter MACs, in order of first appearance
    let mut macs: PerNode<Vec<[u8; 6]>> = PerNode::default();
    while let Some(rec) = opened.capture.next_record() {
        match rec {
            Ok(Record::Frame(f)) => {
                tracker.observe(&f);
                if let Some(m) = f.mac {
                    // beyond the node bound a node gets no MAC (as no sampling rate)
                    if let Ok(v) = macs.get_or_insert_with(f.node_id, Vec::new) {
                        add_mac(v, m);
                    }
                }
                if f.clock != Clock::None {
                    // beyond the node bound a node gets no sampling rate (its rate_hz stays)
                    if let Ok(t) = times.get_or_insert_with(f.node_id, Vec::new) {
                        if t.len() < MAX_TIMED_FRAMES {
                            t.push(f.timestamp_ns);
                        }
                    }
                }
                r.frames += 1;
                devices.add(f.device);
                clocks.add(f.clock);
                if f.clock != Clock::None {
                    r.first_timestamp_ns = Some(
                        r.first_timestamp_ns
                            .map_or(f.timestamp_ns, |x| x.min(f.timestamp_ns)),
                    );
                    r.last_timestamp_ns = Some(
                        r.last_timestamp_ns
                            .map_or(f.timestamp_ns, |x| x.max(f.timestamp_ns)),
                    );
                }
                shapes.add(f.shape());
                channels.add(f.channel);
                bandwidths.add(f.bandwidth_mhz);
                r.chain_rssi |= !f.chain_rssi.is_empty();
                if let FormatMeta::Esp32(m) = &f.meta {
                    r.untrusted_rssi |= m.jsonl_rssi.is_some();
                }
                if let Some(x) = f.rssi_dbm {
                    r.rssi_dbm_min = Some(r.rssi_dbm_min.map_or(x, |m| m.min(x)));
                    r.rssi_dbm_max = Some(r.rssi_dbm_max.map_or(x, |m| m.max(x)));
                }
                // its buffers refill the next frame (readers that support it) instead of being
                // freed here and allocated again
                opened.capture.recycle(f);
            }
            Ok(Record::Aux(a)) => {
                *r.non_csi_records
                    .entry(a.body.kind().to_string())
                    .or_default() += 1
            }
            Err(_) => {} // counted in the capture's statistics
        }
    }
    let named = |m: Tally<Option<u16>>| -> BTreeMap<String, u64> {
        m.0.into_iter()
            .map(|(k, n)| (k.map_or_else(|| "unknown".into(), |v| v.to_string()), n))
            .collect()
    };
    r.devices = devices.0.into_iter().map(|(k, n)| (label(&k), n)).collect();
    let clocks: BTreeMap<String, u64> = clocks.0.into_iter().map(|(k, n)| (label(&k), n)).collect();
    r.shapes = shapes
        .0
        .into_iter()
        .map(|((a, b, c), n)| (format!("{a}x{b}x{c}"), n))
        .collect();
    r.channels = named(channels);
    r.bandwidths_mhz = named(bandwidths);
    let stats: &ReadStats = opened.capture.stats();
    r.malformed_records = stats.malformed;
    r.passed_over = stats.passed_over;
    r.other_nodes = stats.other_nodes;
    r.other_node_ids = stats.other_node_ids.clone();
    r.issues = stats
        .issues
        .iter()
        .take(20)
        .map(|i| i.message.clone())
        .collect();
    r.truncated = stats.truncated.as_ref().map(|i| i.message.clone());
    r.error = stats.fatal.as_ref().map(|i| i.message.clone());
    r.clock = match clocks.len() {
        0 => None,
        1 => clocks.keys().next().cloned(),
        _ => Some(clocks.keys().cloned().collect::<Vec<_>>().join("+")),
    };
    if let (Some(a), Some(b)) = (r.first_timestamp_ns, r.last_timestamp_ns) {
        // divided, not multiplied by 1e-9: the nearest double to the decimal, which JSON then
        // prints as such (3.892101, not 3.8921010000000003)
        r.duration_s = (b - a) as f64 / 1e9;
    }
    r.nodes = tracker
        .nodes()
        .iter()
        .map(|(k, v)| {
            (
                *k,
                NodeReport::new(
                    v,
                    times.get(*k).map_or(&[], Vec::as_slice),
                    macs.get(*k).map_or(&[], Vec::as_slice),
                ),
            )
        })
        .collect();
    r.dropped_frames = r
        .nodes
        .values()
        .any(|n| n.dropped.is_some())
        .then(|| tracker.total_dropped());
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer(&mut out, &r)?;
        writeln!(out)?;
    } else {
        write_text(&mut out, &r)?;
    }
    if let Some(e) = &r.error {
        // the report above covers what was read; the exit status says the input is damaged
        anyhow::bail!("reading stopped early: {e}");
    }
    crate::report::ensure_decoded(
        opened.capture.stats(),
        &opened.description,
        opened.capture.format(),
        forced_format,
    )
}

fn counts(m: &BTreeMap<String, u64>) -> String {
    if m.is_empty() {
        return "none".into();
    }
    m.iter()
        .map(|(k, v)| format!("{k} ({v})"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A level in dB: whole numbers as they are, others to two decimals (Intel's total RSS is
/// computed, so it prints as f32 noise otherwise).
fn db(x: f32) -> String {
    if x.fract() == 0.0 {
        format!("{x}")
    } else {
        format!("{x:.2}")
    }
}

fn write_text(out: &mut impl Write, r: &Report) -> std::io::Result<()> {
    writeln!(out, "input:       {}", r.input)?;
    writeln!(out, "format:      {}", r.format)?;
    if let Some(h) = &r.recording {
        writeln!(
            out,
            "recorded:    {} from {} by {} (.csirec format version {})",
            // 0: a header that does not say (a damaged one, read as such)
            if h.created_unix_ns == 0 {
                "(time unknown)".to_string()
            } else {
                crate::dataset::utc_datetime(h.created_unix_ns)
            },
            if h.source.is_empty() {
                "an unnamed source"
            } else {
                &h.source
            },
            h.writer,
            h.format_version
        )?;
    }
    writeln!(out, "device:      {}", counts(&r.devices))?;
    writeln!(out, "frames:      {}", r.frames)?;
    writeln!(out, "non-CSI:     {}", counts(&r.non_csi_records))?;
    writeln!(
        out,
        "duration:    {:.3} s ({} clock)",
        r.duration_s,
        r.clock.as_deref().unwrap_or("no")
    )?;
    writeln!(out, "shapes:      {}", counts(&r.shapes))?;
    writeln!(out, "channels:    {}", counts(&r.channels))?;
    writeln!(out, "bandwidth:   {}", counts(&r.bandwidths_mhz))?;
    match (r.rssi_dbm_min, r.rssi_dbm_max) {
        (Some(a), Some(b)) => writeln!(out, "rssi:        {} .. {} dBm", db(a), db(b))?,
        _ if r.untrusted_rssi => writeln!(
            out,
            "rssi:        present but not trusted (the recording's `rssi` is no dBm reading; see the ruview format docs)"
        )?,
        _ if r.chain_rssi => writeln!(
            out,
            "rssi:        per receive chain only, not in dBm (see chain_rssi and the format docs)"
        )?,
        _ if r.frames == 0 => writeln!(out, "rssi:        none (no frames)")?,
        _ => writeln!(out, "rssi:        not in this format")?,
    }
    writeln!(out, "nodes:")?;
    for (id, n) in &r.nodes {
        let mac = match (&n.mac, n.other_macs) {
            (Some(m), 0) => format!(" (MAC {m})"),
            (Some(m), k) => format!(" (MAC {m} and {k} other{})", if k == 1 { "" } else { "s" }),
            (None, _) => String::new(),
        };
        writeln!(
            out,
            "  node {id}{mac}: {} frame{}, {}{}, span {:.3} s, {}",
            n.frames,
            if n.frames == 1 { "" } else { "s" },
            match n.rate_hz {
                Some(x) => format!("{x:.2} Hz received"),
                None if n.frames > 1 => format!(
                    "rate n/a (span under {} ms)",
                    wifi_sensing_core::nodes::MIN_RATE_SPAN_NS / 1_000_000
                ),
                None => "rate n/a".into(),
            },
            match (n.sampling_rate_hz, n.frames_lost, n.regular) {
                (Some(x), Some(lost), _) => {
                    let over = if n.frames > MAX_TIMED_FRAMES as u64 {
                        format!(" in its first {MAX_TIMED_FRAMES} frames")
                    } else {
                        String::new()
                    };
                    let s = if lost == 1 { "" } else { "s" };
                    format!(" (sampled at {x:.2} Hz: {lost} frame{s} lost on the way{over})")
                }
                (_, _, Some(false)) => " (irregular intervals: no sampling rate)".into(),
                _ => String::new(),
            },
            n.span_s,
            match n.dropped {
                Some(d) => format!(
                    "{d} dropped (sequence gaps), {} sequence resets{}",
                    n.sequence_resets,
                    if n.sequence_reordered > 0 {
                        format!(", {} late (reordered)", n.sequence_reordered)
                    } else {
                        String::new()
                    }
                ),
                None => "drops not measurable (no sequence numbers)".to_string(),
            }
        )?;
        if n.time_went_back > 0 {
            writeln!(
                out,
                "      time went back: {} frame{} earlier than the latest before {} (by up to {:.3} s): a clock step or a restart; analyses drop such frames or start over",
                n.time_went_back,
                if n.time_went_back == 1 { "" } else { "s" },
                if n.time_went_back == 1 { "it" } else { "them" },
                n.largest_step_back_s
            )?;
        }
    }
    if r.passed_over > 0 {
        writeln!(
            out,
            "passed over: {} packets/records without CSI",
            r.passed_over
        )?;
    }
    if r.other_nodes > 0 {
        writeln!(
            out,
            "other nodes: {} records of nodes {} left out (--keep-nodes)",
            r.other_nodes,
            crate::report::id_list(&r.other_node_ids)
        )?;
    }
    writeln!(out, "malformed:   {}", r.malformed_records)?;
    for i in &r.issues {
        writeln!(out, "  {i}")?;
    }
    if let Some(t) = &r.truncated {
        writeln!(out, "truncated:   {t}")?;
    }
    if let Some(e) = &r.error {
        writeln!(out, "error:       {e}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_keeps_its_distinct_macs_in_order_up_to_the_bound() {
        let mut macs = Vec::new();
        for m in [[1; 6], [1; 6], [2; 6], [1; 6], [3; 6], [2; 6]] {
            add_mac(&mut macs, m);
        }
        assert_eq!(macs, vec![[1; 6], [2; 6], [3; 6]]);
        for i in 0..=u8::MAX {
            add_mac(&mut macs, [i, 9, 9, 9, 9, 9]);
        }
        assert_eq!(macs.len(), MAX_NODE_MACS);
        let r = NodeReport::new(&NodeStats::default(), &[], &macs[..3]);
        assert_eq!(r.mac.as_deref(), Some("01:01:01:01:01:01"));
        assert_eq!(r.other_macs, 2);
        let r = NodeReport::new(&NodeStats::default(), &[], &[]);
        assert_eq!((r.mac, r.other_macs), (None, 0));
    }

    #[test]
    fn the_text_names_a_nodes_mac_and_how_many_others() {
        let mut r = Report::default();
        let one = NodeReport::new(&NodeStats::default(), &[], &[[0xaa; 6]]);
        let three = NodeReport::new(&NodeStats::default(), &[], &[[1; 6], [2; 6], [3; 6]]);
        let none = NodeReport::new(&NodeStats::default(), &[], &[]);
        r.nodes = BTreeMap::from([(0, one), (1, three), (2, none)]);
        let mut out = Vec::new();
        write_text(&mut out, &r).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains("  node 0 (MAC aa:aa:aa:aa:aa:aa): 0 frames")
                && text.contains("  node 1 (MAC 01:01:01:01:01:01 and 2 others): 0 frames")
                && text.contains("  node 2: 0 frames"),
            "{text}"
        );
    }
}
