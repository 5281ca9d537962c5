//! The input spec accepted everywhere: a file path, `udp://HOST:PORT`, or `-` for stdin.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use wifi_sensing_core::udp::{UdpSource, UdpStats};
use wifi_sensing_core::{Capture, CaptureFormat, Registry};

use crate::Log;

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
        flags: &crate::ReaderFlags,
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
