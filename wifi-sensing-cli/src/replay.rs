//! `wifi-sensing replay`: sends the UDP datagrams of a pcap capture to an address, paced as
//! they were captured, so that `serve udp://`, `record udp://` and `run udp://` can be tried
//! and tested without nodes (on a `simulate --device esp32 -o x.pcap` capture, or a real one).

use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use wifi_sensing_core::formats::pcap::{udp_payload, PcapPackets};
use wifi_sensing_core::Limits;

use crate::Log;

#[derive(clap::Args, Debug)]
pub(crate) struct ReplayArgs {
    /// A pcap or pcapng capture (`simulate --device esp32 -o x.pcap` writes one).
    pub input: PathBuf,
    /// Where to send the datagrams: HOST:PORT (e.g. 127.0.0.1:5005, what `serve udp://0.0.0.0:5005`
    /// listens on).
    #[arg(long, value_name = "HOST:PORT", value_parser = parse_target)]
    pub to: SocketAddr,
    /// Pace: 1 sends at the capture's own timing, 2 twice as fast; 0 sends as fast as possible
    /// (a receiver may then lose datagrams, as a real network would). A live receiver stamps
    /// the frames with its own clock, so at any pace but 1 it measures rates (frame rate,
    /// breathing, Doppler) scaled by the pace; use 1 when the analysis matters.
    #[arg(long, default_value_t = 1.0, value_parser = parse_speed)]
    pub speed: f64,
    /// Only the datagrams sent to this UDP port in the capture (default: every UDP datagram).
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,
}

fn parse_target(s: &str) -> std::result::Result<SocketAddr, String> {
    use std::net::ToSocketAddrs;
    let s = s.strip_prefix("udp://").unwrap_or(s);
    let a = s
        .to_socket_addrs()
        .map_err(|e| format!("`{s}`: expected HOST:PORT ({e})"))?
        .next()
        .ok_or_else(|| format!("`{s}`: no address"))?;
    if a.port() == 0 {
        return Err(format!(
            "`{s}`: port 0 is not a destination (give the receiver's port)"
        ));
    }
    Ok(a)
}

/// The pace: 0 (as fast as possible) or a factor from 0.001 to 1000.
fn parse_speed(s: &str) -> std::result::Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v == 0.0 || (0.001..=1000.0).contains(&v) => Ok(v),
        _ => Err(format!(
            "{s:?}: give 0 (as fast as possible) or a pace from 0.001 to 1000"
        )),
    }
}

/// `wifi-sensing replay`.
pub(crate) fn main(args: ReplayArgs, log: &Log) -> Result<()> {
    let file = std::fs::File::open(&args.input)
        .with_context(|| format!("cannot open {}", args.input.display()))?;
    let mut packets = PcapPackets::new(std::io::BufReader::new(file), &Limits::default())
        .with_context(|| format!("{}: not a pcap or pcapng capture", args.input.display()))?;
    let bind = if args.to.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    };
    let socket = UdpSocket::bind(bind).context("cannot open a UDP socket")?;
    log.info(format_args!(
        "replaying {} to udp://{} at {}",
        args.input.display(),
        args.to,
        if args.speed == 0.0 {
            "full speed".to_string()
        } else {
            format!("{}x the capture's pace", args.speed)
        }
    ));
    // Ctrl-C, SIGTERM and SIGHUP stop the replay between datagrams, with the summary
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    {
        let flag = std::sync::Arc::clone(&stop);
        ctrlc::set_handler(move || flag.store(true, std::sync::atomic::Ordering::SeqCst))
            .context("cannot install the Ctrl-C / SIGTERM handler")?;
    }
    let stopped = || stop.load(std::sync::atomic::Ordering::SeqCst);
    let started = Instant::now();
    let mut first_ts: Option<i64> = None;
    let (mut sent, mut bytes, mut other, mut bad) = (0u64, 0u64, 0u64, 0u64);
    let mut interrupted = false;
    while let Some(p) = packets.next_packet() {
        if stopped() {
            interrupted = true;
            break;
        }
        let p = match p {
            Ok(p) => p,
            Err(e) if e.is_recoverable() => {
                bad += 1;
                continue;
            }
            Err(e) if e.is_truncated() => {
                log.warn(format_args!("{}: {e}", args.input.display()));
                break;
            }
            Err(e) => return Err(e).context(format!("reading {}", args.input.display())),
        };
        let Some(d) = udp_payload(p.linktype, p.data) else {
            other += 1;
            continue;
        };
        if args.port.is_some_and(|port| port != d.dst_port) {
            other += 1;
            continue;
        }
        if let (Some(ts), true) = (p.timestamp_ns, args.speed > 0.0) {
            let t0 = *first_ts.get_or_insert(ts);
            let due = Duration::from_secs_f64(((ts - t0).max(0) as f64 * 1e-9) / args.speed);
            // waited in short steps, so that a stop is not held up by a long pause
            while let Some(wait) = due.checked_sub(started.elapsed()) {
                if stopped() {
                    break;
                }
                std::thread::sleep(wait.min(Duration::from_millis(50)));
            }
            if stopped() {
                interrupted = true;
                break;
            }
        }
        let payload = &p.data[d.payload];
        socket
            .send_to(payload, args.to)
            .with_context(|| format!("cannot send to udp://{}", args.to))?;
        sent += 1;
        bytes += payload.len() as u64;
    }
    if interrupted {
        log.info("stopped (Ctrl-C or a termination signal)");
    }
    if sent == 0 && !interrupted {
        log.warn(format_args!(
            "{}: no UDP datagram{} to send",
            args.input.display(),
            args.port
                .map_or_else(String::new, |p| format!(" to port {p}"))
        ));
    }
    log.info(format_args!(
        "sent {sent} datagrams ({bytes} bytes) in {:.2} s to udp://{}; {other} other packets \
         passed over{}",
        started.elapsed().as_secs_f64(),
        args.to,
        if bad > 0 {
            format!(", {bad} malformed")
        } else {
            String::new()
        }
    ));
    Ok(())
}
