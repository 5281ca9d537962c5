//! The input spec accepted everywhere: a file path, `udp://HOST:PORT`, or `-` for stdin.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use wifi_sensing_core::formats::nexmon::NexmonChip;
use wifi_sensing_core::udp::{UdpSource, UdpStats};
use wifi_sensing_core::{
    Capture, CaptureFormat, CaptureReader, CsiFrame, OnMalformed, Record, Registry,
};

use crate::Log;

/// Reader options shared by the commands that read captures.
#[derive(clap::Args, Debug, Clone, Default)]
#[command(next_help_heading = "Reader options (each applies to the format it names)")]
pub(crate) struct ReaderFlags {
    /// Nexmon: merge the packets of one transmission (same sequence number) into one
    /// `[core, spatial stream, subcarrier]` frame instead of one frame per packet.
    #[arg(long)]
    nexmon_group: bool,
    /// Nexmon: the chip (4339, 43455c0, 4358, 4366c0) when the header does not say it.
    #[arg(long, value_parser = crate::values::nexmon_chip)]
    nexmon_chip: Option<NexmonChip>,
    /// Nexmon: zero the PHY-status words that v2 firmware writes over CSI words.
    #[arg(long)]
    nexmon_mask_phy_status: bool,
    /// Nexmon: read int16 pairs as (Q, I), the order of bcm4339/bcm43455c0 firmware before the
    /// June 2020 fix (files with the 4-byte magic). Off by default, as every peer reads them.
    /// No effect on the packed-float chips (bcm4358, bcm4366c0).
    #[arg(long)]
    nexmon_swap_iq: bool,
    /// Nexmon: UDP port of the CSI packets in pcap files (default 5500). Packets from the
    /// firmware's Ethernet source address ("NEXMON") are recognised on any port.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    nexmon_port: Option<u16>,
    /// Intel 5300: scale the CSI to absolute units (MATLAB get_scaled_csi).
    #[arg(long)]
    intel_scaled: bool,
    /// Every format: keep only the records of these nodes (`--keep-nodes 0`, `--keep-nodes
    /// 1,2`); those of other nodes are read, counted and left out (an ESP32 in passive mode
    /// takes every MAC it hears as a node).
    #[arg(long = "keep-nodes", value_name = "ID", value_delimiter = ',')]
    nodes: Vec<u32>,
    /// The command's `--strict` (set by the command, not a flag of its own): a live input then
    /// leaves a malformed datagram to the error that ends the run instead of warning of it.
    #[arg(skip)]
    pub(crate) strict: bool,
}

impl ReaderFlags {
    /// The reader options these flags set.
    pub(crate) fn options(&self) -> wifi_sensing_core::ReaderOptions {
        let mut o = wifi_sensing_core::ReaderOptions::default();
        o.nexmon.group_by_sequence = self.nexmon_group;
        o.nexmon.mask_phy_status = self.nexmon_mask_phy_status;
        o.nexmon.swap_int16_iq = self.nexmon_swap_iq;
        if let Some(p) = self.nexmon_port {
            o.nexmon.port = p;
        }
        o.nexmon.chip = self.nexmon_chip;
        o.intel5300.scaled = self.intel_scaled;
        o.keep_nodes = self.nodes();
        o
    }

    /// The nodes `--keep-nodes` keeps (`None`: every node).
    pub(crate) fn nodes(&self) -> Option<Vec<u32>> {
        (!self.nodes.is_empty()).then(|| self.nodes.clone())
    }
}

impl ReaderFlags {
    /// The flags that are set but do nothing for an input read as `format` (`live_udp`: a live
    /// UDP input, whose Nexmon datagrams take the chip, mask and I/Q flags but are never grouped
    /// and arrive on the port listened on).
    pub(crate) fn not_applying(&self, format: CaptureFormat, live_udp: bool) -> Vec<&'static str> {
        let nexmon = live_udp || matches!(format, CaptureFormat::Pcap | CaptureFormat::Nexmon);
        let set = [
            ("--nexmon-group", self.nexmon_group, nexmon && !live_udp),
            ("--nexmon-chip", self.nexmon_chip.is_some(), nexmon),
            (
                "--nexmon-mask-phy-status",
                self.nexmon_mask_phy_status,
                nexmon,
            ),
            ("--nexmon-swap-iq", self.nexmon_swap_iq, nexmon),
            (
                "--nexmon-port",
                self.nexmon_port.is_some(),
                nexmon && !live_udp,
            ),
            (
                "--intel-scaled",
                self.intel_scaled,
                format == CaptureFormat::Intel5300,
            ),
        ];
        set.into_iter()
            .filter(|&(_, on, applies)| on && !applies)
            .map(|(name, _, _)| name)
            .collect()
    }

    /// Warns about the flags that do nothing for this input.
    fn warn_not_applying(&self, format: CaptureFormat, live_udp: bool, log: &Log) {
        let unused = self.not_applying(format, live_udp);
        if !unused.is_empty() {
            let what = if live_udp {
                "live UDP input".to_string()
            } else {
                format!("{format} input")
            };
            log.warn(format_args!(
                "{} do{} not apply to {what}: ignored",
                unused.join(", "),
                if unused.len() == 1 { "es" } else { "" }
            ));
        }
    }
}

/// The malformed-record policy of `--strict` (stop) or its absence (skip and count).
pub(crate) fn on_malformed(strict: bool) -> OnMalformed {
    if strict {
        OnMalformed::Stop
    } else {
        OnMalformed::Skip
    }
}

/// Opens the input of a reading command, read with the reader flags as `format` when one is
/// named (detected otherwise); a live input stops after `duration` when one is given.
pub(crate) fn open_input(
    spec: &InputSpec,
    reader: &ReaderFlags,
    format: Option<CaptureFormat>,
    duration: Option<Duration>,
    log: &Log,
) -> Result<OpenedInput> {
    if duration.is_some() && !matches!(spec, InputSpec::Udp(_)) {
        crate::usage!(
            "--duration applies to live udp:// inputs only (use --limit to shorten a file run)"
        );
    }
    spec.open(reader, format, duration, None, log)
}

/// Where records come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum InputSpec {
    File(PathBuf),
    Udp(String),
    Stdin,
}

/// An opened input.
pub(crate) struct OpenedInput {
    pub capture: Capture,
    pub description: String,
    pub total_bytes: Option<u64>,
    pub live: bool,
    pub udp_stats: Option<Arc<Mutex<UdpStats>>>,
    /// `--keep-nodes` (`None`: every node)
    pub keep: Option<Vec<u32>>,
}

impl InputSpec {
    pub(crate) fn parse(s: &str) -> Result<Self> {
        if s == "-" {
            Ok(InputSpec::Stdin)
        } else if let Some(addr) = s.strip_prefix("udp://") {
            let port = addr
                .rsplit_once(':')
                .map(|(host, port)| (host.is_empty(), port));
            match port {
                Some((false, p)) if p.parse::<u16>().is_ok() => {}
                Some((false, p)) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
                    bail!("{s:?}: port {p} is out of range (0-65535; 0 picks a free port)")
                }
                _ => bail!("{s:?}: expected udp://HOST:PORT, e.g. udp://0.0.0.0:5005"),
            }
            Ok(InputSpec::Udp(addr.to_string()))
        } else {
            Ok(InputSpec::File(PathBuf::from(s)))
        }
    }

    pub(crate) fn open(
        &self,
        flags: &ReaderFlags,
        format: Option<CaptureFormat>,
        duration: Option<Duration>,
        stop: Option<Arc<AtomicBool>>,
        log: &Log,
    ) -> Result<OpenedInput> {
        let reg = Registry::builtin().with_options(flags.options());
        match self {
            InputSpec::File(p) => {
                let total = std::fs::metadata(p).ok().map(|m| m.len());
                let cap = reg.open_path_as(p, format)?;
                log.info(format_args!("{}: {}", p.display(), cap.format()));
                flags.warn_not_applying(cap.format(), false, log);
                Ok(OpenedInput {
                    capture: cap,
                    description: p.display().to_string(),
                    total_bytes: total,
                    live: false,
                    udp_stats: None,
                    keep: flags.nodes(),
                })
            }
            InputSpec::Stdin => {
                let cap = reg.open_read(Box::new(std::io::stdin()), Some("stdin"), None, format)?;
                log.info(format_args!("stdin: {}", cap.format()));
                flags.warn_not_applying(cap.format(), false, log);
                Ok(OpenedInput {
                    capture: cap,
                    description: "stdin".into(),
                    total_bytes: None,
                    // stdin may be a live stream (a serial port, another tool): flush each line
                    live: true,
                    udp_stats: None,
                    keep: flags.nodes(),
                })
            }
            InputSpec::Udp(addr) => {
                if let Some(f) = format {
                    if f != CaptureFormat::Esp32Adr018 {
                        crate::usage!(
                            "live UDP input carries ADR-018 datagrams; --format {f} does not apply"
                        );
                    }
                }
                let mut src = UdpSource::bind(addr.as_str())
                    .with_context(|| format!("listening on udp://{addr}"))?
                    .with_nexmon_options(flags.options().nexmon);
                flags.warn_not_applying(CaptureFormat::Esp32Adr018, true, log);
                if let Some(d) = duration {
                    src = src.stop_after(d);
                }
                // Ctrl-C (SIGINT), SIGTERM and SIGHUP (the `termination` feature: what systemd,
                // Docker and `timeout` send) end a live input cleanly: what was received is
                // processed, written and reported.
                let stop = match stop {
                    Some(s) => s,
                    None => {
                        let s = Arc::new(AtomicBool::new(false));
                        let flag = Arc::clone(&s);
                        ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst))
                            .context("cannot install the Ctrl-C / SIGTERM handler")?;
                        s
                    }
                };
                src = src.with_stop_flag(stop);
                let stats = src.stats_handle();
                // the address bound (a requested port 0 is the one the system chose)
                let bound = src.local_addr()?;
                log.info(format_args!("listening on udp://{bound}"));
                let desc = format!("udp://{bound}");
                let mut watch = LiveWatch::new(src, Arc::clone(&stats), *log, desc.clone());
                watch.strict = flags.strict;
                watch.keep = flags.nodes();
                let mut cap = Capture::new(Box::new(watch)).with_name(desc.clone());
                cap.keep_nodes(flags.nodes());
                Ok(OpenedInput {
                    capture: cap,
                    description: desc,
                    total_bytes: None,
                    live: true,
                    udp_stats: Some(stats),
                    keep: flags.nodes(),
                })
            }
        }
    }
}

/// Whether `node` passes `--keep-nodes` (`None`: every node does).
pub(crate) fn kept(keep: Option<&[u32]>, node: u32) -> bool {
    keep.is_none_or(|k| k.contains(&node))
}

/// A live UDP source that says at once what the summary at the end would otherwise be the
/// first to say: a malformed datagram (the first one at once, then a count at most every
/// [`LiveWatch::EVERY`]), and a node id whose frames come from a second sender address (as its
/// first such frame arrives, and again when a further address joins; one uncontended lock per
/// frame).
struct LiveWatch {
    inner: UdpSource,
    stats: Arc<Mutex<UdpStats>>,
    log: Log,
    desc: String,
    /// malformed datagrams in all, and since the last warning
    malformed: u64,
    pending: u64,
    last_warned: Instant,
    /// the last malformed datagram's message (its buffer reused)
    last: String,
    /// node ids already warned about, with the number of senders then
    shared_warned: BTreeMap<u32, usize>,
    /// `--strict`: no warning of a malformed datagram (the run ends with its error)
    strict: bool,
    /// `--keep-nodes`: warn of no other node
    keep: Option<Vec<u32>>,
}

impl LiveWatch {
    /// At most one warning about malformed datagrams per this interval (after the first).
    const EVERY: Duration = Duration::from_secs(10);

    fn new(inner: UdpSource, stats: Arc<Mutex<UdpStats>>, log: Log, desc: String) -> Self {
        LiveWatch {
            inner,
            stats,
            log,
            desc,
            malformed: 0,
            pending: 0,
            last_warned: Instant::now(),
            last: String::new(),
            shared_warned: BTreeMap::new(),
            strict: false,
            keep: None,
        }
    }

    /// The warning due for a malformed datagram `e` (or, with `None`, for any other record)
    /// at `now`, if one is: the first malformed datagram at once, then how many came since the
    /// last warning, at the first record at least [`LiveWatch::EVERY`] after it.
    fn malformed_note(
        &mut self,
        e: Option<&wifi_sensing_core::Error>,
        now: Instant,
    ) -> Option<String> {
        if let Some(e) = e {
            self.malformed += 1;
            self.last.clear();
            let _ = write!(self.last, "{e}");
            if self.malformed == 1 {
                self.last_warned = now;
                return Some(format!(
                    "{}: {e} (later ones are counted: a warning at most every {} s, and the \
                     total at the end)",
                    self.desc,
                    Self::EVERY.as_secs()
                ));
            }
            self.pending += 1;
        }
        let since = now.saturating_duration_since(self.last_warned);
        if self.pending == 0 || since < Self::EVERY {
            return None;
        }
        let m = format!(
            "{}: {} more malformed datagram{} in the last {:.0} s ({} in all); the last: {}",
            self.desc,
            self.pending,
            if self.pending == 1 { "" } else { "s" },
            since.as_secs_f64(),
            self.malformed,
            self.last
        );
        self.pending = 0;
        self.last_warned = now;
        Some(m)
    }

    /// Warns about each node id that has come from more than one sender, and again when
    /// another sender joins.
    fn check_senders(&mut self) {
        // a poisoned lock: the counters are still consistent (each update is one step)
        let st = self.stats.lock().unwrap_or_else(|p| p.into_inner());
        let unchanged = st.shared_node_ids.len() == self.shared_warned.len()
            && st
                .shared_node_ids
                .values()
                .zip(self.shared_warned.values())
                .all(|(a, &n)| a.len() == n);
        if unchanged {
            return;
        }
        for (node, addrs) in &st.shared_node_ids {
            let before = self.shared_warned.insert(*node, addrs.len());
            if before == Some(addrs.len()) || !kept(self.keep.as_deref(), *node) {
                continue;
            }
            self.log.warn(format_args!(
                "{}: frames of node {node} {}come from {} senders ({}): two nodes with the same \
                 id? Their frames are mixed into one stream and its sequence numbers; give \
                 each node its own id",
                self.desc,
                if before.is_some() { "now " } else { "" },
                addrs.len(),
                addrs.join(", ")
            ));
        }
    }
}

impl CaptureReader for LiveWatch {
    fn format(&self) -> CaptureFormat {
        self.inner.format()
    }

    fn next_record(&mut self) -> Option<wifi_sensing_core::Result<Record>> {
        let r = self.inner.next_record();
        let bad = match &r {
            Some(Err(e @ wifi_sensing_core::Error::MalformedDatagram { .. })) => Some(e),
            _ => None,
        };
        if !self.strict && (bad.is_some() || self.pending > 0) {
            if let Some(m) = self.malformed_note(bad, Instant::now()) {
                self.log.warn(m);
            }
        }
        if let Some(Ok(Record::Frame(_))) = &r {
            self.check_senders();
        }
        r
    }

    fn position(&self) -> u64 {
        self.inner.position()
    }

    fn passed_over(&self) -> u64 {
        self.inner.passed_over()
    }

    fn recycle(&mut self, frame: CsiFrame) {
        self.inner.recycle(frame)
    }

    fn csi_integer_bits(&self) -> Option<u8> {
        self.inner.csi_integer_bits()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first malformed datagram is reported at once; later ones are counted and reported
    /// at most every 10 s, with how many came since the last report.
    #[test]
    fn malformed_datagrams_are_reported_first_then_counted() {
        let src = UdpSource::bind("127.0.0.1:0").unwrap();
        let stats = src.stats_handle();
        let mut w = LiveWatch::new(src, stats, Log { quiet: true }, "udp://x".into());
        let e = |n: u64| wifi_sensing_core::Error::MalformedDatagram {
            format: CaptureFormat::Esp32Adr018,
            datagram: n,
            from: "10.0.0.9:4000".into(),
            reason: "bad magic".into(),
        };
        let t0 = Instant::now();
        let first = w.malformed_note(Some(&e(1)), t0).unwrap();
        assert!(first.starts_with("udp://x: ") && first.contains("datagram 1 from 10.0.0.9:4000"));
        assert!(first.contains("at most every 10 s"), "{first}");
        assert_eq!(
            w.malformed_note(Some(&e(2)), t0 + Duration::from_secs(1)),
            None
        );
        assert_eq!(
            w.malformed_note(Some(&e(3)), t0 + Duration::from_secs(9)),
            None
        );
        let later = w
            .malformed_note(Some(&e(4)), t0 + Duration::from_secs(11))
            .unwrap();
        assert!(
            later.contains("3 more malformed datagrams in the last 11 s (4 in all)")
                && later.contains("datagram 4 from"),
            "{later}"
        );
        // a burst that stops: its count comes with the next good record after 10 s
        assert_eq!(
            w.malformed_note(Some(&e(5)), t0 + Duration::from_secs(12)),
            None
        );
        assert_eq!(w.malformed_note(None, t0 + Duration::from_secs(15)), None);
        let after = w
            .malformed_note(None, t0 + Duration::from_secs(22))
            .unwrap();
        assert!(
            after.contains("1 more malformed datagram in the last 11 s (5 in all)")
                && after.contains("datagram 5 from"),
            "{after}"
        );
        assert_eq!(w.malformed_note(None, t0 + Duration::from_secs(40)), None);
    }

    #[test]
    fn parses_specs() {
        assert_eq!(InputSpec::parse("-").unwrap(), InputSpec::Stdin);
        assert_eq!(
            InputSpec::parse("udp://0.0.0.0:5005").unwrap(),
            InputSpec::Udp("0.0.0.0:5005".into())
        );
        assert!(InputSpec::parse("udp://nohost").is_err());
        assert!(InputSpec::parse("udp://:5005").is_err());
        assert!(InputSpec::parse("udp://127.0.0.1:99999")
            .unwrap_err()
            .to_string()
            .contains("out of range"));
        assert!(InputSpec::parse("udp://[::1]:5005").is_ok());
        assert_eq!(
            InputSpec::parse("a/b.pcap").unwrap(),
            InputSpec::File(PathBuf::from("a/b.pcap"))
        );
    }
}
