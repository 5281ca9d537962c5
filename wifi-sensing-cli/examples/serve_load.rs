//! Load test of `wifi-sensing serve`: simulated ESP32 nodes send ADR-018 datagrams to the
//! server's `udp://` input on loopback while WebSocket clients read `frame_summary` records.
//!
//! ```text
//! cargo build --release -p wifi-sensing-cli --examples
//! target/release/examples/serve_load [--bin target/release/wifi-sensing] [--nodes 8] [--rate 100]
//!     [--clients 20] [--seconds 30] [--rss-every 0] [-- EXTRA SERVE ARGS, e.g. --events --vitals]
//! ```
//!
//! Measured: datagrams sent, frames the server decoded (its `/api/v1/health` counters), records
//! delivered to and dropped for every client, the latency from each datagram's `send` to the
//! arrival of its `frame_summary` at each client (p50, p99, max over every message), and the
//! server's resident memory (`VmRSS`, and `VmHWM` peak, from `/proc`; Linux only). With
//! `--rss-every S` the RSS is also printed every S seconds (the soak protocol:
//! `benches/compare/serve_soak.sh`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use wifi_sensing_core::formats::adr018::{encode_csi, CsiDatagram};

struct Opts {
    bin: String,
    nodes: u8,
    rate: f64,
    clients: usize,
    seconds: f64,
    rss_every: f64,
    extra: Vec<String>,
}

fn opts() -> Opts {
    let mut o = Opts {
        bin: "target/release/wifi-sensing".into(),
        nodes: 8,
        rate: 100.0,
        clients: 20,
        seconds: 30.0,
        rss_every: 0.0,
        extra: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut val = || it.next().expect("a value after each flag");
        match a.as_str() {
            "--bin" => o.bin = val(),
            "--nodes" => o.nodes = val().parse().expect("--nodes N"),
            "--rate" => o.rate = val().parse().expect("--rate HZ"),
            "--clients" => o.clients = val().parse().expect("--clients N"),
            "--seconds" => o.seconds = val().parse().expect("--seconds S"),
            "--rss-every" => o.rss_every = val().parse().expect("--rss-every S"),
            "--" => {
                o.extra = it.by_ref().collect();
            }
            other => panic!("unknown argument {other}"),
        }
    }
    o
}

/// `(VmRSS, VmHWM)` of a process in kB.
fn rss_kb(pid: u32) -> (u64, u64) {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        s.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn http_get(addr: &str, path: &str) -> serde_json::Value {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).unwrap();
    let json = body.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    serde_json::from_str(json).unwrap_or(serde_json::Value::Null)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let o = opts();
    let mut child = Command::new(&o.bin)
        .args(["serve", "udp://127.0.0.1:0", "--listen", "127.0.0.1:0"])
        .args(["--max-clients", &(o.clients + 4).to_string()])
        .args(&o.extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start the server (build it, or give --bin)");
    let pid = child.id();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let (mut http, mut udp) = (None, None);
    while http.is_none() || udp.is_none() {
        let l = lines.next().expect("server ended").unwrap();
        if let Some(a) = l.strip_prefix("wifi-sensing: serving on http://") {
            http = Some(a.to_string());
        } else if let Some(a) = l.strip_prefix("wifi-sensing: listening on udp://") {
            udp = Some(a.to_string());
        }
    }
    std::thread::spawn(move || for _ in lines {});
    let (http, udp) = (http.unwrap(), udp.unwrap());
    eprintln!("server pid {pid}: http://{http}, udp://{udp}");

    let per_node = (o.seconds * o.rate).round() as usize;
    let n = usize::from(o.nodes);
    // send instants, indexed [node][sequence]
    let sent: Arc<Mutex<Vec<Vec<Option<Instant>>>>> =
        Arc::new(Mutex::new(vec![vec![None; per_node]; n]));
    let done = Arc::new(AtomicBool::new(false));

    let clients: Vec<_> = (0..o.clients)
        .map(|_| {
            let url = format!("ws://{http}/ws/stream?types=frame_summary");
            let (mut ws, _) = tungstenite::connect(url).expect("WebSocket connect");
            if let tungstenite::stream::MaybeTlsStream::Plain(s) = ws.get_ref() {
                s.set_read_timeout(Some(Duration::from_millis(200)))
                    .unwrap();
            }
            let done = Arc::clone(&done);
            std::thread::spawn(move || {
                // (node, sequence, arrival)
                let mut got: Vec<(u32, u32, Instant)> = Vec::with_capacity(n * per_node);
                let mut dropped = 0u64;
                loop {
                    match ws.read() {
                        Ok(tungstenite::Message::Text(t)) => {
                            let now = Instant::now();
                            let v: serde_json::Value = serde_json::from_str(t.as_str()).unwrap();
                            match v["type"].as_str() {
                                Some("frame_summary") => got.push((
                                    v["node_id"].as_u64().unwrap() as u32,
                                    v["data"]["sequence"].as_u64().unwrap() as u32,
                                    now,
                                )),
                                Some("dropped") => dropped += v["count"].as_u64().unwrap(),
                                _ => {}
                            }
                        }
                        Ok(_) => {}
                        Err(tungstenite::Error::Io(e))
                            if matches!(
                                e.kind(),
                                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                            ) =>
                        {
                            if done.load(Ordering::SeqCst) {
                                break;
                            }
                        }
                        Err(e) => panic!("client: {e}"),
                    }
                }
                (got, dropped)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));

    // RSS sampler
    let sampler = (o.rss_every > 0.0).then(|| {
        let done = Arc::clone(&done);
        let every = Duration::from_secs_f64(o.rss_every);
        std::thread::spawn(move || {
            let t0 = Instant::now();
            while !done.load(Ordering::SeqCst) {
                std::thread::sleep(every);
                let (rss, hwm) = rss_kb(pid);
                println!(
                    "t={:.0}s rss_kb={rss} hwm_kb={hwm}",
                    t0.elapsed().as_secs_f64()
                );
            }
        })
    });

    // the nodes: 64 subcarriers of int8 I/Q, a slowly moving pattern
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.connect(&udp).unwrap();
    let period = Duration::from_secs_f64(1.0 / o.rate);
    let start = Instant::now();
    let mut iq = vec![[0i8; 2]; 64];
    let mut bufs: Vec<Vec<u8>> = Vec::new();
    for k in 0..per_node {
        let due = start + period * k as u32;
        if let Some(w) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(w);
        }
        bufs.clear();
        for node in 0..n {
            for (i, p) in iq.iter_mut().enumerate() {
                let ph = (i as f64 * 0.2) + k as f64 * 0.05 + node as f64;
                *p = [(40.0 * ph.sin()) as i8, (40.0 * ph.cos()) as i8];
            }
            bufs.push(
                encode_csi(&CsiDatagram {
                    node_id: node as u8 + 1,
                    sequence: k as u32,
                    channel: 6,
                    rssi: -40,
                    noise_floor: -92,
                    n_antennas: 1,
                    iq: iq.clone(),
                })
                .unwrap(),
            );
        }
        for (node, b) in bufs.iter().enumerate() {
            let t = Instant::now();
            sock.send(b).unwrap();
            sent.lock().unwrap()[node][k] = Some(t);
        }
    }
    let send_s = start.elapsed().as_secs_f64();
    // wait until the server has caught up: its frame count still for half a second (at most 30 s)
    let mut health = http_get(&http, "/api/v1/health");
    let settle = Instant::now();
    loop {
        std::thread::sleep(Duration::from_millis(500));
        let h = http_get(&http, "/api/v1/health");
        let still = h["frames"] == health["frames"];
        health = h;
        if still || settle.elapsed() > Duration::from_secs(30) {
            break;
        }
    }
    std::thread::sleep(Duration::from_millis(300));
    let (rss, hwm) = rss_kb(pid);
    done.store(true, Ordering::SeqCst);
    let results: Vec<_> = clients.into_iter().map(|h| h.join().unwrap()).collect();
    if let Some(s) = sampler {
        let _ = s.join();
    }
    let _ = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status();
    let status = child.wait().unwrap();

    let sent = sent.lock().unwrap();
    let mut lat = Vec::new();
    let mut delivered = Vec::new();
    let mut dropped_total = 0;
    for (got, dropped) in &results {
        delivered.push(got.len());
        dropped_total += dropped;
        for &(node, seq, at) in got {
            if let Some(Some(t)) = sent
                .get(node as usize - 1)
                .and_then(|v| v.get(seq as usize))
            {
                lat.push(at.duration_since(*t).as_secs_f64() * 1e3);
            }
        }
    }
    lat.sort_by(f64::total_cmp);
    let expected = n * per_node;
    println!(
        "load: {n} nodes x {} Hz for {:.1} s ({expected} datagrams, sent in {send_s:.2} s), {} clients, serve args {:?}",
        o.rate, o.seconds, o.clients, o.extra
    );
    println!(
        "server: udp datagrams {}, frames {}, malformed {}, per-node dropped {:?}, client drops {}",
        health["udp"]["datagrams"],
        health["frames"],
        health["udp"]["malformed"],
        health["nodes"]
            .as_array()
            .map(|v| v.iter().map(|n| n["dropped"].clone()).collect::<Vec<_>>()),
        health["clients"]["dropped"]
    );
    println!(
        "clients: delivered min {} max {} of {expected} each, dropped {dropped_total}",
        delivered.iter().min().unwrap_or(&0),
        delivered.iter().max().unwrap_or(&0)
    );
    println!(
        "latency datagram -> WebSocket message (ms, {} messages): p50 {:.3} p99 {:.3} max {:.3}",
        lat.len(),
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        lat.last().copied().unwrap_or(f64::NAN)
    );
    println!(
        "server memory: VmRSS {:.1} MB, VmHWM {:.1} MB; exit on SIGINT: {status}",
        rss as f64 / 1024.0,
        hwm as f64 / 1024.0
    );
}
