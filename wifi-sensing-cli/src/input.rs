//! The input spec accepted everywhere: a file path, `udp://HOST:PORT`, or `-` for stdin.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use wifi_sensing_core::udp::{UdpSource, UdpStats};
use wifi_sensing_core::{Capture, CaptureFormat, OnMalformed, Registry};

use crate::Log;

/// Reader options shared by the commands that read captures.
#[derive(clap::Args, Debug, Clone, Default)]
pub(crate) struct ReaderFlags {
    /// Nexmon: merge the packets of one transmission (same sequence number) into one
    /// `[core, spatial stream, subcarrier]` frame instead of one frame per packet.
    #[arg(long)]
    nexmon_group: bool,
    /// Nexmon: the chip (4339, 43455c0, 4358, 4366c0) when the header does not say it.
    #[arg(long)]
    nexmon_chip: Option<String>,
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
    #[arg(long)]
    nexmon_port: Option<u16>,
    /// Intel 5300: scale the CSI to absolute units (MATLAB get_scaled_csi).
    #[arg(long)]
    intel_scaled: bool,
}

impl ReaderFlags {
    pub(crate) fn options(&self) -> Result<wifi_sensing_core::ReaderOptions> {
        use wifi_sensing_core::formats::nexmon::NexmonChip;
        let mut o = wifi_sensing_core::ReaderOptions::default();
        o.nexmon.group_by_sequence = self.nexmon_group;
        o.nexmon.mask_phy_status = self.nexmon_mask_phy_status;
        o.nexmon.swap_int16_iq = self.nexmon_swap_iq;
        if let Some(p) = self.nexmon_port {
            o.nexmon.port = p;
        }
        if let Some(c) = &self.nexmon_chip {
            let c = c.trim_start_matches("bcm");
            o.nexmon.chip = Some(
                [
                    NexmonChip::Bcm4339,
                    NexmonChip::Bcm43455c0,
                    NexmonChip::Bcm4358,
                    NexmonChip::Bcm4366c0,
                ]
                .into_iter()
                .find(|k| k.name() == c)
                .with_context(|| {
                    format!("unknown Nexmon chip {c:?} (use 4339, 43455c0, 4358 or 4366c0)")
                })?,
            );
        }
        o.intel5300.scaled = self.intel_scaled;
        Ok(o)
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

/// Opens the input of a reading command: `input` is an input spec (file, `udp://`, `-`), read
/// with the reader flags as `format` when one is named (detected otherwise); a live input stops
/// after `duration` when one is given.
pub(crate) fn open_input(
    input: &str,
    reader: &ReaderFlags,
    format: Option<&str>,
    duration: Option<Duration>,
    log: &Log,
) -> Result<OpenedInput> {
    let spec = InputSpec::parse(input)?;
    if duration.is_some() && !matches!(spec, InputSpec::Udp(_)) {
        bail!("--duration applies to live udp:// inputs only (use --limit to shorten a file run)");
    }
    spec.open(reader, parse_format(format)?, duration, None, log)
}

fn parse_format(name: Option<&str>) -> Result<Option<CaptureFormat>> {
    match name {
        None => Ok(None),
        Some(n) => match CaptureFormat::from_name(n) {
            // only the formats a reader is registered for: the others (e.g. Nexmon, which is read
            // from pcap files) cannot be forced
            Some(f) if Registry::builtin().get(f).is_some() => Ok(Some(f)),
            _ => bail!(
                "unknown format {n:?}; formats that can be read: {}",
                Registry::builtin()
                    .formats()
                    .iter()
                    .map(|d| d.format.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        },
    }
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
}

impl InputSpec {
    pub(crate) fn parse(s: &str) -> Result<Self> {
        if s == "-" {
            Ok(InputSpec::Stdin)
        } else if let Some(addr) = s.strip_prefix("udp://") {
            if addr.is_empty() || !addr.contains(':') {
                bail!("{s:?}: expected udp://HOST:PORT, e.g. udp://0.0.0.0:5005");
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
        let reg = Registry::builtin().with_options(flags.options()?);
        match self {
            InputSpec::File(p) => {
                let total = std::fs::metadata(p).ok().map(|m| m.len());
                let cap = reg.open_path_as(p, format)?;
                log.info(format_args!("{}: {}", p.display(), cap.format()));
                Ok(OpenedInput {
                    capture: cap,
                    description: p.display().to_string(),
                    total_bytes: total,
                    live: false,
                    udp_stats: None,
                })
            }
            InputSpec::Stdin => {
                let cap = reg.open_read(Box::new(std::io::stdin()), Some("stdin"), None, format)?;
                log.info(format_args!("stdin: {}", cap.format()));
                Ok(OpenedInput {
                    capture: cap,
                    description: "stdin".into(),
                    total_bytes: None,
                    // stdin may be a live stream (a serial port, another tool): flush each line
                    live: true,
                    udp_stats: None,
                })
            }
            InputSpec::Udp(addr) => {
                if let Some(f) = format {
                    if f != CaptureFormat::Esp32Adr018 {
                        bail!(
                            "live UDP input carries ADR-018 datagrams; --format {f} does not apply"
                        );
                    }
                }
                let mut src = UdpSource::bind(addr.as_str())
                    .with_context(|| format!("listening on udp://{addr}"))?;
                if let Some(d) = duration {
                    src = src.stop_after(d);
                }
                // Ctrl-C ends a live input cleanly: what was received is processed and reported.
                let stop = match stop {
                    Some(s) => s,
                    None => {
                        let s = Arc::new(AtomicBool::new(false));
                        let flag = Arc::clone(&s);
                        ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst))
                            .context("cannot install the Ctrl-C handler")?;
                        s
                    }
                };
                src = src.with_stop_flag(stop);
                let stats = src.stats_handle();
                log.info(format_args!("listening on udp://{}", src.local_addr()?));
                let desc = format!("udp://{addr}");
                Ok(OpenedInput {
                    capture: Capture::new(Box::new(src)).with_name(desc.clone()),
                    description: desc,
                    total_bytes: None,
                    live: true,
                    udp_stats: Some(stats),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_specs() {
        assert_eq!(InputSpec::parse("-").unwrap(), InputSpec::Stdin);
        assert_eq!(
            InputSpec::parse("udp://0.0.0.0:5005").unwrap(),
            InputSpec::Udp("0.0.0.0:5005".into())
        );
        assert!(InputSpec::parse("udp://nohost").is_err());
        assert_eq!(
            InputSpec::parse("a/b.pcap").unwrap(),
            InputSpec::File(PathBuf::from("a/b.pcap"))
        );
    }
}
