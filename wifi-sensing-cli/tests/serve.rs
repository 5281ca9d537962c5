//! `wifi-sensing serve` over loopback: WebSocket clients receive the lines `run` prints for the
//! same input; a stalled client does not delay the others; the token is enforced; `latest` and
//! the introspection snapshot reflect the stream; health tells a silent node; every end of a
//! WebSocket connection sends a Close frame with its code; silent clients are pinged and
//! dropped; SIGINT ends the server with exit 0.

mod common;

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tungstenite::client::IntoClientRequest;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::CloseFrame;
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

const BIN: &str = env!("CARGO_BIN_EXE_wifi-sensing");

fn tmp(name: &str) -> PathBuf {
    // under cargo's target/tmp, replaced by the next run
    let d = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("ws-serve-{name}"));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn ok(args: &[&str]) -> Vec<u8> {
    let out = Command::new(BIN).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A simulated recording in `dir`.
fn simulate(dir: &Path, name: &str, extra: &[&str]) -> String {
    let f = dir.join(name).to_string_lossy().into_owned();
    let mut args = vec!["-q", "simulate", "-o", &f];
    args.extend_from_slice(extra);
    ok(&args);
    f
}

/// A short recording of a still person.
fn still(dir: &Path) -> String {
    simulate(
        dir,
        "still.csirec",
        &["--scenario", "still", "--duration", "2s"],
    )
}

/// A running `serve`, killed when dropped.
struct Server {
    child: Child,
    addr: String,
    stderr: mpsc::Receiver<String>,
}

impl Server {
    fn start(args: &[&str]) -> Server {
        let mut child = Command::new(BIN)
            .arg("serve")
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, rx) = mpsc::channel();
        let err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        // dropped (killed and waited for) if the address never comes
        let mut server = Server {
            child,
            addr: String::new(),
            stderr: rx,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let line = server
                .stderr
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .unwrap_or_else(|_| panic!("serve {args:?} did not print its address"));
            if let Some(a) = line.strip_prefix("wifi-sensing: serving on http://") {
                server.addr = a.to_string();
                return server;
            }
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn get(&self, path: &str) -> Value {
        let body = ureq::get(self.url(path))
            .call()
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap();
        serde_json::from_str(&body).unwrap()
    }

    fn ws(&self, path: &str) -> Ws {
        ws_connect(&format!("ws://{}{path}", self.addr), None).unwrap()
    }

    /// Sends SIGINT and waits for the exit (at most 10 s).
    fn interrupt(mut self) -> std::process::ExitStatus {
        let st = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(st.success());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            assert!(Instant::now() < deadline, "serve did not exit on SIGINT");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// [`Server::interrupt`], then everything it wrote on stderr until its exit (the summary).
    fn interrupt_with_stderr(mut self) -> (std::process::ExitStatus, String) {
        let rx = std::mem::replace(&mut self.stderr, mpsc::channel().1);
        let st = self.interrupt();
        // the reader thread ends with the pipe
        let mut lines = Vec::new();
        while let Ok(l) = rx.recv_timeout(Duration::from_secs(10)) {
            lines.push(l);
        }
        (st, lines.join("\n"))
    }

    fn stderr_text(&self) -> String {
        self.stderr.try_iter().collect::<Vec<_>>().join("\n")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

type Ws = WebSocket<MaybeTlsStream<TcpStream>>;

fn ws_connect(url: &str, bearer: Option<&str>) -> Result<Ws, tungstenite::Error> {
    let mut req = url.into_client_request()?;
    if let Some(t) = bearer {
        req.headers_mut()
            .insert("Authorization", format!("Bearer {t}").parse().unwrap());
    }
    let (ws, _) = tungstenite::connect(req)?;
    if let MaybeTlsStream::Plain(s) = ws.get_ref() {
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    }
    Ok(ws)
}

/// The text messages of a stream until `input_ended` (which is not included), with the time each
/// arrived; `dropped` control messages are counted, not returned.
fn read_until_end(ws: &mut Ws) -> (Vec<(String, Instant)>, u64) {
    let mut got = Vec::new();
    let mut dropped = 0;
    loop {
        match ws.read().unwrap() {
            Message::Text(t) => {
                let now = Instant::now();
                let s = t.as_str();
                if !s.starts_with("{\"schema\":") {
                    // a control message
                    let v: Value = serde_json::from_str(s).unwrap();
                    common::assert_valid("serve_control-v1.json", std::slice::from_ref(&v));
                    match v["type"].as_str() {
                        Some("input_ended") => return (got, dropped),
                        Some("dropped") => dropped += v["count"].as_u64().unwrap(),
                        _ => panic!("unexpected message {s}"),
                    }
                    continue;
                }
                got.push((s.to_string(), now));
            }
            Message::Close(_) => panic!("closed before input_ended"),
            _ => {}
        }
    }
}

fn texts(v: &[(String, Instant)]) -> Vec<&str> {
    v.iter().map(|(s, _)| s.as_str()).collect()
}

fn kind(line: &str) -> String {
    let v: Value = serde_json::from_str(line).unwrap();
    v["type"].as_str().unwrap().to_string()
}

#[test]
fn stream_clients_receive_the_lines_run_prints() {
    let dir = tmp("same");
    let input = simulate(
        &dir,
        "mixed.csirec",
        &["--scenario", "mixed", "--duration", "70s", "--seed", "3"],
    );
    let printed = ok(&["run", "-q", "--events", "--vitals", &input]);
    let printed: Vec<&str> = std::str::from_utf8(&printed).unwrap().lines().collect();
    let of = |keep: &dyn Fn(&str) -> bool| -> Vec<&str> {
        printed.iter().copied().filter(|l| keep(&kind(l))).collect()
    };
    let analyses = of(&|k| k != "frame");
    assert!(
        analyses.iter().any(|l| kind(l) == "event")
            && analyses.iter().any(|l| kind(l) == "vital_signs"),
        "the input should give events and vital signs"
    );

    let server = Server::start(&[
        "--events",
        "--vitals",
        "--wait-clients",
        "3",
        "--client-queue",
        "100000",
        &input,
    ]);
    let mut all = server.ws("/ws/stream?types=frame,frame_summary,event,vital_signs");
    let mut default = server.ws("/ws/stream");
    let mut events = server.ws("/ws/stream?types=event");
    let clients: Vec<_> = [&mut all, &mut default, &mut events]
        .into_iter()
        .map(read_until_end)
        .collect();
    for (_, dropped) in &clients {
        assert_eq!(*dropped, 0, "a client with a large queue lost messages");
    }

    // full frames and analyses, byte for byte, in run's order
    let full: Vec<&str> = texts(&clients[0].0)
        .into_iter()
        .filter(|l| kind(l) != "frame_summary")
        .collect();
    assert_eq!(full, printed, "types=frame,...: not the lines run prints");
    // the default subscription: every analysis line, plus one frame_summary per frame
    let (summaries, rest): (Vec<&str>, Vec<&str>) = texts(&clients[1].0)
        .into_iter()
        .partition(|l| kind(l) == "frame_summary");
    assert_eq!(rest, analyses);
    let frames = of(&|k| k == "frame");
    assert_eq!(summaries.len(), frames.len());
    let summaries: Vec<Value> = summaries
        .iter()
        .map(|s| serde_json::from_str(s).unwrap())
        .collect();
    common::assert_valid("frame_summary-v1.json", &summaries);
    for (s, f) in summaries.iter().zip(&frames) {
        let f: Value = serde_json::from_str(f).unwrap();
        assert_eq!(s["timestamp_ns"], f["timestamp_ns"]);
        assert_eq!(s["data"]["sequence"], f["sequence"]);
        let re = f["csi_re"].as_array().unwrap();
        let im = f["csi_im"].as_array().unwrap();
        let amp = s["data"]["amplitude"].as_array().unwrap();
        assert_eq!(amp.len(), re.len(), "one stream: one amplitude per value");
        for ((a, r), i) in amp.iter().zip(re).zip(im) {
            let want = r.as_f64().unwrap().hypot(i.as_f64().unwrap());
            let a = a.as_f64().unwrap();
            assert!((a - want).abs() <= 1e-3 * want.max(1.0), "{a} vs {want}");
        }
    }
    // types=event: the event lines only
    assert_eq!(texts(&clients[2].0), of(&|k| k == "event"));

    // latest: the last line of each type and node
    let latest = server.get("/api/v1/latest");
    for kind_name in ["event", "vital_signs"] {
        let lines: Vec<Value> = of(&|k| k == kind_name)
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let last = lines.last().unwrap();
        let node = last["node_id"]
            .as_u64()
            .map_or("all".to_string(), |n| n.to_string());
        assert_eq!(latest[kind_name][&node], *last, "{kind_name}");
    }
    assert_eq!(latest["frame_summary"]["1"], *summaries.last().unwrap());
    // the waterfall's history: the last 240 frame summaries
    let recent = server.get("/api/v1/frame_summaries");
    assert_eq!(
        recent["1"].as_array().unwrap()[..],
        summaries[summaries.len() - 240..]
    );
    assert_eq!(latest["status"], "input_ended");
    let events: Vec<Value> = of(&|k| k == "event")
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let recent = latest["recent_events"].as_array().unwrap();
    assert_eq!(recent[..], events[events.len().saturating_sub(16)..]);
    let health = server.get("/api/v1/health");
    common::assert_valid("health-v1.json", std::slice::from_ref(&health));
    assert_eq!(health["status"], "input_ended");
    assert_eq!(health["analysers"], serde_json::json!(["sensing"]));
    // the pipeline's totals, once the input ended
    assert_eq!(health["pipeline"]["frames_in"], frames.len());
    assert_eq!(health["frames"], frames.len());
    assert_eq!(health["nodes"][0]["frames"], frames.len());
    assert_eq!(health["clients"]["dropped"], 0);
    assert_eq!(server.interrupt().code(), Some(0));
}

#[test]
fn the_snapshot_reflects_the_introspection_stream() {
    let dir = tmp("snap");
    let input = simulate(
        &dir,
        "wave.csirec",
        &[
            "--scenario",
            "gesture:wave",
            "--duration",
            "6s",
            "--seed",
            "5",
        ],
    );
    let sigs = common::fixture("signatures");
    let printed = ok(&[
        "run",
        "-q",
        "--no-frames",
        "--introspect",
        &sigs,
        "--introspect-every",
        "10",
        &input,
    ]);
    let printed = common::parse_lines(&printed);
    assert!(printed.len() > 20);
    let server = Server::start(&[
        "--introspect",
        &sigs,
        "--introspect-every",
        "10",
        "--wait-clients",
        "1",
        "--client-queue",
        "100000",
        &input,
    ]);
    let mut ws = server.ws("/ws/introspection");
    let (got, dropped) = read_until_end(&mut ws);
    assert_eq!(dropped, 0);
    let got: Vec<Value> = got
        .iter()
        .map(|(s, _)| serde_json::from_str(s).unwrap())
        .collect();
    assert_eq!(got, printed);
    common::assert_valid("introspection-v1.json", &got);
    let snap = server.get("/api/v1/introspection/snapshot");
    assert_eq!(snap["enabled"], true);
    assert_eq!(snap["introspection"]["1"], *printed.last().unwrap());
    // without --introspect the snapshot says so and is empty
    let plain = Server::start(&[&input]);
    let snap = plain.get("/api/v1/introspection/snapshot");
    assert_eq!(snap["enabled"], false);
    assert_eq!(snap["introspection"], serde_json::json!({}));
    // and its stream is refused before the upgrade (it would stay silent), saying why
    match ws_connect(&format!("ws://{}/ws/introspection", plain.addr), None) {
        Err(tungstenite::Error::Http(r)) => {
            assert_eq!(r.status(), 404);
            let body = String::from_utf8_lossy(r.body().as_deref().unwrap_or_default());
            assert!(body.contains("--introspect"), "{body}");
        }
        other => panic!("/ws/introspection accepted: {:?}", other.map(|_| ())),
    }
    match ureq::get(plain.url("/ws/introspection")).call() {
        Err(ureq::Error::StatusCode(404)) => {}
        other => panic!("plain GET: {:?}", other.map(|r| r.status())),
    }
}

/// Receive-time lag of each message behind the capture pace: arrival minus (first arrival +
/// timestamp offset), in milliseconds, sorted.
fn lags_ms(msgs: &[(String, Instant)]) -> Vec<f64> {
    let (t0, i0) = {
        let (s, i) = &msgs[0];
        let v: Value = serde_json::from_str(s).unwrap();
        (v["timestamp_ns"].as_i64().unwrap(), *i)
    };
    let mut lags: Vec<f64> = msgs
        .iter()
        .map(|(s, i)| {
            let v: Value = serde_json::from_str(s).unwrap();
            let due = (v["timestamp_ns"].as_i64().unwrap() - t0) as f64 / 1e6;
            i.duration_since(i0).as_secs_f64() * 1e3 - due
        })
        .collect();
    lags.sort_by(f64::total_cmp);
    lags
}

/// One `--realtime` replay of `input` to two reading clients and a third one subscribed to the
/// full frames too, which reads (`stall` false) or never reads until the input ended (`stall`
/// true). Returns the readers' p99 lag (ms), the frames served, the drops the third client
/// was told of and the server's log.
fn replay_with_third_client(input: &str, stall: bool) -> (Vec<f64>, usize, u64, String) {
    let server = Server::start(&[
        "--realtime",
        "--wait-clients",
        "3",
        "--client-queue",
        "64",
        input,
    ]);
    let third = server.ws("/ws/stream?types=frame,frame_summary");
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let mut ws = server.ws("/ws/stream?types=frame_summary");
            std::thread::spawn(move || read_until_end(&mut ws))
        })
        .collect();
    let (third_reader, mut third) = if stall {
        (None, Some(third))
    } else {
        let mut ws = third;
        (
            Some(std::thread::spawn(move || read_until_end(&mut ws))),
            None,
        )
    };
    let results: Vec<_> = readers.into_iter().map(|h| h.join().unwrap()).collect();
    let health = server.get("/api/v1/health");
    let frames = health["frames"].as_u64().unwrap() as usize;
    let mut p99s = Vec::new();
    for (msgs, dropped) in &results {
        assert_eq!(*dropped, 0, "a reading client lost messages");
        assert_eq!(msgs.len(), frames);
        let lags = lags_ms(msgs);
        p99s.push(lags[lags.len() * 99 / 100]);
    }
    let third_dropped = match third_reader {
        Some(h) => h.join().unwrap().1,
        None => {
            // the stalled client: the server dropped for it rather than wait
            assert!(
                health["clients"]["dropped"].as_u64().unwrap() > 0,
                "{health}"
            );
            let (got, dropped) = read_until_end(third.as_mut().unwrap());
            eprintln!(
                "stalled client: {} messages delivered, {dropped} dropped",
                got.len()
            );
            assert!(got.len() + (dropped as usize) <= 2 * frames);
            dropped
        }
    };
    eprintln!(
        "third client {}: readers' p99 lag behind capture pace {p99s:.1?} ms",
        if stall { "stalled" } else { "reading" }
    );
    let (st, log) = server.interrupt_with_stderr();
    assert_eq!(st.code(), Some(0), "{log}");
    (p99s, frames, third_dropped, log)
}

#[test]
fn a_stalled_client_does_not_delay_the_others() {
    let dir = tmp("stall");
    // 256 subcarriers: full frame lines of ~9 kB, 14 MB in all: more than the stalled client's
    // socket buffers take
    let input = simulate(
        &dir,
        "walk.csirec",
        &[
            "--scenario",
            "walk",
            "--device",
            "nexmon80",
            "--rate",
            "200",
            "--duration",
            "8s",
        ],
    );
    let (base, frames, _, _) = replay_with_third_client(&input, false);
    assert!(
        frames > 1500,
        "{frames} frames (8 s at 200 Hz, less the simulated drops)"
    );
    let (stalled, frames_stalled, dropped, log) = replay_with_third_client(&input, true);
    assert_eq!(frames_stalled, frames);
    assert!(
        dropped > 0,
        "the stalled client lost nothing: it did not stall the server"
    );
    // the shutdown summary does not claim that the clients read their drop notices
    assert!(
        log.contains("messages were dropped for stream clients that fell behind")
            && log.contains("notice with the count was queued for each")
            && !log.contains("each was told"),
        "{log}"
    );
    // a server that waited for the stalled client would hold every reader until the client
    // reads, which it does only after the input ended: the replay would never end. The margin
    // is for a loaded machine, where the debug build may fall behind the capture pace (by the
    // same amount with and without the stalled client).
    let worst = |v: &[f64]| v.iter().copied().fold(f64::MIN, f64::max);
    assert!(
        worst(&stalled) < 2.0 * worst(&base).max(0.0) + 500.0,
        "readers' p99 lag {stalled:?} ms with a stalled client, {base:?} ms without"
    );
}

#[test]
fn the_token_is_enforced() {
    let dir = tmp("token");
    let input = still(&dir);
    let server = Server::start(&["--token", "s3cret-token", &input]);
    let status = |req: ureq::RequestBuilder<ureq::typestate::WithoutBody>| match req.call() {
        Ok(r) => r.status().as_u16(),
        Err(ureq::Error::StatusCode(c)) => c,
        Err(e) => panic!("{e}"),
    };
    for path in [
        "/",
        "/app.js",
        "/api/v1/health",
        "/api/v1/latest",
        "/api/v1/introspection/snapshot",
        "/ws/stream",
    ] {
        assert_eq!(status(ureq::get(server.url(path))), 401, "{path}");
        assert_eq!(
            status(ureq::get(server.url(path)).header("Authorization", "Bearer s3cret-tokem")),
            401,
            "{path}"
        );
    }
    assert_eq!(
        status(
            ureq::get(server.url("/api/v1/health")).header("Authorization", "Bearer s3cret-token")
        ),
        200
    );
    // the scheme name is case-insensitive; another scheme is not a bearer token
    for (value, want) in [
        ("bearer s3cret-token", 200),
        ("BEARER s3cret-token", 200),
        ("Basic s3cret-token", 401),
        ("Bearers3cret-token", 401),
    ] {
        assert_eq!(
            status(ureq::get(server.url("/api/v1/health")).header("Authorization", value)),
            want,
            "{value}"
        );
    }
    assert_eq!(status(ureq::get(server.url("/?token=s3cret-token"))), 200);
    // the page opened with the token in its URL loads its script and stylesheet with it too
    // (a browser sends no Authorization header for them)
    let page = ureq::get(server.url("/?token=s3cret-token"))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    for asset in ["app.js", "style.css"] {
        let url = format!("{asset}?token=s3cret-token");
        assert!(
            page.contains(&format!("\"{url}\"")),
            "{asset} without token: {page}"
        );
        assert_eq!(status(ureq::get(server.url(&format!("/{url}")))), 200);
    }
    let ws_url = format!("ws://{}/ws/stream", server.addr);
    match ws_connect(&ws_url, None) {
        Err(tungstenite::Error::Http(r)) => assert_eq!(r.status(), 401),
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("a WebSocket without the token was accepted"),
    }
    assert!(ws_connect(&ws_url, Some("s3cret-token")).is_ok());
    assert!(ws_connect(&format!("{ws_url}?token=s3cret-token"), None).is_ok());

    // beyond loopback, a token (or the explicit opt-out) is required: a usage error otherwise
    let out = Command::new(BIN)
        .args(["serve", "--listen", "0.0.0.0:0", &input])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--token"));

    // --no-frames would leave the dashboard and the health endpoint without frames: refused
    let out = Command::new(BIN)
        .args(["serve", "--no-frames", &input])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--no-frames applies to `run`"));
}

#[test]
fn bad_requests_are_refused() {
    let dir = tmp("bad");
    let input = still(&dir);
    let server = Server::start(&["--max-clients", "1", &input]);
    match ws_connect(&format!("ws://{}/ws/stream?types=Bad!", server.addr), None) {
        Err(tungstenite::Error::Http(r)) => assert_eq!(r.status(), 400),
        other => panic!("bad types accepted: {:?}", other.map(|_| ())),
    }
    // a well-formed name that is no record type (a misspelling) is refused too
    match ws_connect(
        &format!("ws://{}/ws/stream?types=event,vital_sign", server.addr),
        None,
    ) {
        Err(tungstenite::Error::Http(r)) => {
            assert_eq!(r.status(), 400);
            let body = String::from_utf8_lossy(r.body().as_deref().unwrap_or_default());
            assert!(
                body.contains("unknown record type \"vital_sign\""),
                "{body}"
            );
        }
        other => panic!("unknown type accepted: {:?}", other.map(|_| ())),
    }
    let _one = server.ws("/ws/stream");
    match ws_connect(&format!("ws://{}/ws/stream", server.addr), None) {
        Err(tungstenite::Error::Http(r)) => assert_eq!(r.status(), 503),
        other => panic!("client limit not enforced: {:?}", other.map(|_| ())),
    }
    match ureq::get(server.url("/../../etc/passwd")).call() {
        Err(ureq::Error::StatusCode(404)) => {}
        other => panic!("traversal: {:?}", other.map(|r| r.status())),
    }
    // an unknown path: 404 with a body that lists the endpoints
    let mut r = ureq::get(server.url("/api/v1/nope"))
        .config()
        .http_status_as_error(false)
        .build()
        .call()
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    let body = r.body_mut().read_to_string().unwrap();
    assert!(
        body.contains("no such endpoint: /api/v1/nope") && body.contains("/api/v1/health"),
        "{body}"
    );
    // the page and its assets are served from the binary
    let page = ureq::get(server.url("/"))
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    assert!(page.contains("<canvas") || page.contains("app.js"));
}

#[test]
fn sigint_ends_a_live_server_cleanly() {
    let server = Server::start(&["udp://127.0.0.1:0"]);
    let ws = server.ws("/ws/stream");
    // The input starts on its own thread once the first client is in: the status turns from
    // `waiting_for_clients` to `running` shortly after the connection, not at once.
    let waited = Instant::now();
    let mut health = server.get("/api/v1/health");
    while health["status"] == "waiting_for_clients" && waited.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
        health = server.get("/api/v1/health");
    }
    assert_eq!(health["status"], "running");
    // the client reads on (and so answers the server's Close) while the server stops
    let reader = std::thread::spawn(move || read_until_close(ws));
    let t = Instant::now();
    let status = {
        let s = server;
        let err = s.stderr_text();
        let st = s.interrupt();
        assert!(st.success(), "{err}");
        st
    };
    assert_eq!(status.code(), Some(0));
    assert!(t.elapsed() < Duration::from_secs(5));
    // the client was told: a Close frame with 1001 (going away) and a reason, which browsers
    // show (a connection dropped without one is 1006 there)
    let close = reader.join().unwrap().expect("no Close frame on shutdown");
    assert_eq!(close.code, CloseCode::Away, "{close:?}");
    assert!(close.reason.contains("shutting down"), "{close:?}");
}

/// Reads until the server's Close frame (returned) or the end of the connection (`None`).
fn read_until_close(mut ws: Ws) -> Option<CloseFrame> {
    loop {
        match ws.read() {
            Ok(Message::Close(f)) => return f,
            Ok(_) => {}
            Err(_) => return None,
        }
    }
}

/// Waits (at most 10 s) for a live server's input to run; returns its UDP port.
fn udp_port(server: &Server) -> u16 {
    let waited = Instant::now();
    let mut health = server.get("/api/v1/health");
    while health["status"] != "running" && waited.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
        health = server.get("/api/v1/health");
    }
    assert_eq!(health["status"], "running", "{health}");
    let input = health["input"].as_str().unwrap();
    input.rsplit(':').next().unwrap().parse().unwrap()
}

/// Sends one ADR-018 CSI datagram of `node` with `sequence` to the live input on `port`.
fn send_csi(s: &std::net::UdpSocket, port: u16, node: u8, sequence: u32) {
    let d = wifi_sensing_core::formats::adr018::encode_csi(
        &wifi_sensing_core::formats::adr018::CsiDatagram {
            node_id: node,
            sequence,
            channel: 6,
            rssi: -40,
            noise_floor: -95,
            n_antennas: 1,
            iq: vec![[3, -4]; 64],
        },
    )
    .unwrap();
    s.send_to(&d, ("127.0.0.1", port)).unwrap();
}

/// Polls `/api/v1/health` (at most 10 s) until `done` holds; returns the last answer.
fn health_when(server: &Server, done: impl Fn(&Value) -> bool) -> Value {
    let waited = Instant::now();
    let mut health = server.get("/api/v1/health");
    while !done(&health) && waited.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
        health = server.get("/api/v1/health");
    }
    health
}

/// The health endpoint tells a node that went silent: its `last_frame_age_s` grows while the
/// status stays `running` (a live input has no end) and its average rate stays as it was.
#[test]
fn health_tells_how_long_each_node_has_been_silent() {
    let server = Server::start(&["udp://127.0.0.1:0"]);
    let port = udp_port(&server);
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    send_csi(&s, port, 2, 0);
    send_csi(&s, port, 3, 0);
    let health = health_when(&server, |h| h["frames"] == 2);
    assert_eq!(health["frames"], 2, "{health}");
    common::assert_valid("health-v1.json", std::slice::from_ref(&health));
    // the pipeline's totals come when the input ends: not yet
    assert_eq!(health["pipeline"], Value::Null, "{health}");
    let age = |h: &Value, node: u64| -> f64 {
        let n = h["nodes"].as_array().unwrap();
        let n = n.iter().find(|n| n["node_id"] == node).unwrap();
        n["last_frame_age_s"].as_f64().unwrap()
    };
    let first = age(&health, 2);
    assert!((0.0..5.0).contains(&first), "{health}");
    let later = health_when(&server, |h| age(h, 2) >= first + 0.5);
    assert!(age(&later, 2) >= first + 0.5, "{later}");
    assert_eq!(later["status"], "running");
    // node 3 speaks again: its age falls back, node 2's does not
    send_csi(&s, port, 3, 1);
    let last = health_when(&server, |h| h["frames"] == 3);
    assert_eq!(last["frames"], 3, "{last}");
    assert!(age(&last, 3) < age(&last, 2), "{last}");
    assert!(age(&last, 2) >= age(&later, 2), "{last}");
}

/// A client's Close is answered with a Close (its code echoed), and a message over the 4 KiB
/// limit is refused with a Close of code 1009: not a dropped connection (1006 in a browser).
#[test]
fn websocket_closes_are_answered_with_their_codes() {
    let server = Server::start(&["udp://127.0.0.1:0"]);
    udp_port(&server);
    let mut ws = server.ws("/ws/stream");
    ws.close(Some(CloseFrame {
        code: CloseCode::Normal,
        reason: "bye".into(),
    }))
    .unwrap();
    let reply = loop {
        match ws.read() {
            Ok(Message::Close(f)) => break f,
            Ok(_) => {}
            Err(e) => panic!("no Close reply: {e}"),
        }
    };
    assert_eq!(reply.map(|f| f.code), Some(CloseCode::Normal));
    // the handshake is complete: the connection ends cleanly
    assert!(matches!(
        ws.read(),
        Err(tungstenite::Error::ConnectionClosed)
    ));

    let mut ws = server.ws("/ws/stream");
    ws.send(Message::Text("x".repeat(5000).into())).unwrap();
    let close = read_until_close(ws).expect("no Close frame for an oversized message");
    assert_eq!(close.code, CloseCode::Size, "{close:?}");
    assert!(close.reason.contains("4 KiB"), "{close:?}");
    // both connections left: their slots are free
    let health = health_when(&server, |h| h["clients"]["connected"] == 0);
    assert_eq!(health["clients"]["connected"], 0, "{health}");
}

/// The server pings its stream clients: one that answers (any frame) stays, one that does not
/// (a half-open connection) is closed with 1001 after three intervals, freeing its slot.
#[test]
fn silent_clients_are_pinged_and_dropped() {
    let server = Server::start(&["--ping-interval", "500ms", "udp://127.0.0.1:0"]);
    udp_port(&server);
    // never reads, so never answers a ping
    let silent = server.ws("/ws/stream");
    let answering = server.ws("/ws/stream");
    // reads (tungstenite answers each ping as it reads) until 10 pings came: 5 s, over three
    // times the 1.5 s after which a silent client is dropped
    let reader = std::thread::spawn(move || {
        let mut ws = answering;
        let mut pings = 0;
        while pings < 10 {
            match ws.read() {
                Ok(Message::Ping(_)) => pings += 1,
                Ok(Message::Close(f)) => panic!("an answering client was closed: {f:?}"),
                Ok(_) => {}
                Err(e) => panic!("an answering client lost its connection: {e}"),
            }
        }
        ws
    });
    let health = health_when(&server, |h| h["clients"]["connected"] == 1);
    assert_eq!(health["clients"]["connected"], 1, "{health}");
    let _answering = reader.join().unwrap();
    // the silent client's socket holds the pings it did not answer, then the Close (read as
    // raw frames: tungstenite would answer the pings as it read them)
    let frames = raw_frames(silent);
    let pings = frames.iter().filter(|(op, _)| *op == 0x9).count();
    assert!(pings >= 2, "{frames:?}");
    let close = frames.iter().find(|(op, _)| *op == 0x8);
    let (_, payload) = close.unwrap_or_else(|| panic!("no Close frame: {frames:?}"));
    assert_eq!(u16::from_be_bytes([payload[0], payload[1]]), 1001);
    let reason = String::from_utf8_lossy(&payload[2..]);
    assert!(reason.contains("no answer to pings"), "{reason}");
}

/// The server's frames (opcode, payload) read from a client's socket until the server closes
/// it, without writing anything (no pong, no Close reply). Server frames are unmasked.
fn raw_frames(ws: Ws) -> Vec<(u8, Vec<u8>)> {
    use std::io::Read;
    let MaybeTlsStream::Plain(mut tcp) = ws.into_inner() else {
        panic!("not a plain stream")
    };
    tcp.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut bytes = Vec::new();
    tcp.read_to_end(&mut bytes).unwrap();
    let mut frames = Vec::new();
    let mut b = &bytes[..];
    while b.len() >= 2 {
        let (op, len) = (b[0] & 0x0f, usize::from(b[1] & 0x7f));
        assert!(len < 126, "a long frame: {bytes:?}");
        frames.push((op, b[2..2 + len].to_vec()));
        b = &b[2 + len..];
    }
    frames
}

/// Ctrl-C while `--wait-clients` holds a file says that the file was not read (not that it
/// was empty).
#[test]
fn ctrl_c_while_waiting_for_clients_says_the_input_was_not_read() {
    let dir = tmp("waiting");
    let input = still(&dir);
    let server = Server::start(&["--wait-clients", "1", &input]);
    let (st, err) = server.interrupt_with_stderr();
    assert_eq!(st.code(), Some(0), "{err}");
    assert!(err.contains("stopped before the input was read"), "{err}");
    assert!(!err.contains("no record came from the input"), "{err}");
}

/// An HTTP port in use ends `serve` before the live input is opened (no `listening on udp://`
/// line before the error).
#[test]
fn a_port_in_use_fails_before_the_input_is_announced() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = Command::new(BIN)
        .args(["serve", "--listen", &addr, "udp://127.0.0.1:0"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains(&format!("cannot listen on {addr}")), "{err}");
    assert!(!err.contains("listening on udp://"), "{err}");
}

/// A live server's summary on Ctrl-C says how many frames each node's sequence numbers show
/// missing (a warning: lost on the way, or by a receiver that could not keep up).
#[test]
fn a_live_servers_summary_reports_frames_lost() {
    let server = Server::start(&["udp://127.0.0.1:0"]);
    let _ws = server.ws("/ws/stream");
    let waited = Instant::now();
    let mut health = server.get("/api/v1/health");
    while health["status"] != "running" && waited.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
        health = server.get("/api/v1/health");
    }
    // the input is named by the port bound
    let input = health["input"].as_str().unwrap().to_string();
    let port: u16 = input.rsplit(':').next().unwrap().parse().unwrap();
    assert_ne!(port, 0, "{input}");
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for seq in [0u32, 1, 4, 5] {
        send_csi(&s, port, 2, seq);
    }
    while health["frames"] != 4 && waited.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
        health = server.get("/api/v1/health");
    }
    assert_eq!(health["frames"], 4, "{health}");
    // one sender: no node id shared
    assert_eq!(
        health["udp"]["shared_node_ids"],
        serde_json::json!({}),
        "{health}"
    );
    let (st, err) = server.interrupt_with_stderr();
    assert!(st.success(), "{err}");
    assert!(
        err.contains(&format!(
            "warning: {input}: frames missing by their sequence numbers: node 2: 2 of 6"
        )),
        "{err}"
    );
}

/// A pipeline that fails (here: signatures of another dimension than the stream) leaves the
/// server up with what came before, says so, and makes the exit status 1 when it is stopped.
#[test]
fn a_failed_pipeline_is_said_and_ends_with_status_1() {
    let intel = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/intel5300/example.dat")
        .to_string_lossy()
        .into_owned();
    let sigs = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/signatures")
        .to_string_lossy()
        .into_owned();
    let server = Server::start(&[&intel, "--introspect", &sigs]);
    let waited = Instant::now();
    let mut health = server.get("/api/v1/health");
    while health["status"] != "input_failed" && waited.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
        health = server.get("/api/v1/health");
    }
    assert_eq!(health["status"], "input_failed", "{health}");
    // the log says it while the server stays up
    let waited = Instant::now();
    let mut err = server.stderr_text();
    while !err.contains("the pipeline stopped:") && waited.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(50));
        err.push_str(&server.stderr_text());
    }
    assert!(
        err.contains("the pipeline stopped:") && err.contains("exit status will be 1"),
        "{err}"
    );
    let status = server.interrupt();
    assert_eq!(status.code(), Some(1), "{err}");
}
