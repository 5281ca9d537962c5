//! `wifi-sensing serve`: `run`'s pipeline on its own thread, its records streamed over
//! WebSocket, a few JSON endpoints and the embedded dashboard.
//!
//! The pipeline is built by [`crate::run::build_pipeline`] from the same flags as `run`, and
//! every record is serialised by the same JSON Lines writer, so a stream client receives the
//! lines `run` prints. The HTTP side is axum on a current-thread tokio runtime, the only async
//! code of the project; the library crates stay synchronous. See [`hub`] for the fan-out.

mod hub;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use axum::body::Body;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{close_code, CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{DefaultBodyLimit, Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use wifi_sensing_core::{Capture, Record};
use wifi_sensing_signal::stages::Notices;

use crate::input::OpenedInput;
use crate::output::Limit;
use crate::run::RunArgs;
use crate::Log;
use hub::{Client, Hub, Types};

/// Largest message a client may send (the server reads only pings and close frames).
const MAX_CLIENT_MESSAGE: usize = 4096;
/// Largest request body (no endpoint takes one).
const MAX_BODY: usize = 4096;
/// The longest pause of a `--realtime` replay (a gap in a recording is shortened to this).
const MAX_GAP: Duration = Duration::from_secs(5);
/// How long shutdown waits for the pipeline thread to end.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);
/// How long a closing stream connection waits for the client's Close reply (and for sending its
/// own Close frame).
const CLOSE_WAIT: Duration = Duration::from_secs(1);
/// A stream client from which nothing came for this many ping intervals is disconnected.
const IDLE_PINGS: u32 = 3;

/// Options of the `serve` command: `run`'s input and analysis flags, plus the server's own.
#[derive(clap::Args, Debug)]
pub(crate) struct ServeArgs {
    /// Address to listen on (port 0 picks a free port; the bound address is logged on stderr as
    /// `serving on http://ADDR`). Anything but loopback needs --token or --insecure-no-auth.
    #[arg(long, default_value = "127.0.0.1:8080", value_parser = parse_listen)]
    pub listen: SocketAddr,
    /// Require this bearer token on every request: `Authorization: Bearer TOKEN`, or
    /// `?token=TOKEN` in the URL (browsers cannot set headers on WebSockets). At least 8
    /// printable ASCII characters, no spaces. Also read from the WIFI_SENSING_TOKEN
    /// environment variable, which keeps it out of the process list.
    #[arg(long, value_parser = parse_token)]
    pub token: Option<String>,
    /// Allow a non-loopback --listen address without a token (anyone who can reach the port
    /// sees the data).
    #[arg(long)]
    pub insecure_no_auth: bool,
    /// Replay a file at capture pace (frame timestamps), so a recording demos like a live feed.
    #[arg(long)]
    pub realtime: bool,
    /// File and stdin inputs: start reading once this many stream clients are connected (so
    /// they see the whole file).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub wait_clients: usize,
    /// Messages queued per stream client; when full, the oldest is dropped and the drop is
    /// reported to that client (`{"type":"dropped","count":N}`).
    #[arg(long, value_name = "N", default_value_t = 1024,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub client_queue: u32,
    /// At most this many stream clients at once (more are refused with 503).
    #[arg(long, value_name = "N", default_value_t = 64,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub max_clients: u32,
    /// Ping each stream client this often (e.g. 20s, 500ms). A client from which nothing came
    /// for three intervals (60 s by default: no answer to a ping, no message), or that took no
    /// data for as long, is disconnected with close code 1001, which frees its --max-clients
    /// slot (a half-open connection: a laptop gone to sleep, a dropped network).
    #[arg(long, value_name = "DURATION", default_value = "20s", value_parser = crate::parse_duration)]
    pub ping_interval: Duration,
    #[command(flatten)]
    pub run: RunArgs,
}

/// `--listen`: `IP:PORT`, or `HOST:PORT` of a name that resolves (`localhost:8080`; its first
/// IPv4 address, else its first address).
fn parse_listen(s: &str) -> std::result::Result<SocketAddr, String> {
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Ok(a);
    }
    let bad = || format!("expected IP:PORT or HOST:PORT (e.g. 127.0.0.1:8080), got {s:?}");
    let (host, port) = s.rsplit_once(':').ok_or_else(bad)?;
    if !host.is_empty() && port.parse::<u64>().is_ok_and(|p| p > u64::from(u16::MAX)) {
        return Err(format!("{s:?}: port {port} is out of range (0-65535)"));
    }
    if host.is_empty() || port.parse::<u16>().is_err() {
        return Err(bad());
    }
    let addrs: Vec<SocketAddr> = std::net::ToSocketAddrs::to_socket_addrs(s)
        .map_err(|e| format!("{s:?}: cannot resolve {host:?}: {e}"))?
        .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.first())
        .copied()
        .ok_or_else(|| format!("{s:?}: {host:?} resolves to no address"))
}

fn parse_token(s: &str) -> std::result::Result<String, String> {
    if s.len() < 8 {
        return Err("a token needs at least 8 characters".into());
    }
    if !s.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("a token is printable ASCII without spaces".into());
    }
    Ok(s.to_string())
}

/// Shared by the handlers.
#[derive(Clone)]
struct App {
    hub: Arc<Hub>,
    token: Option<Arc<str>>,
    shutdown: tokio::sync::watch::Receiver<bool>,
    /// `--ping-interval`.
    ping_every: Duration,
}

/// `wifi-sensing serve`.
pub(crate) fn main(mut args: ServeArgs, log: &Log) -> Result<()> {
    if args.token.is_none() {
        if let Ok(t) = std::env::var("WIFI_SENSING_TOKEN") {
            args.token = Some(parse_token(&t).map_err(|e| {
                anyhow::Error::new(crate::Usage(format!("WIFI_SENSING_TOKEN: {e}")))
            })?);
        }
    }
    let r = &args.run;
    let o = &r.out;
    if o.output.is_some()
        || o.output_format.is_some()
        || o.arrow_aux.is_some()
        || o.arrow_analyses.is_some()
    {
        crate::usage!(
            "serve streams its records; -o / --output-format / --arrow-aux / --arrow-analyses apply to `run`"
        );
    }
    if !args.listen.ip().is_loopback() && args.token.is_none() && !args.insecure_no_auth {
        crate::usage!(
            "--listen {} is not a loopback address: give --token (or WIFI_SENSING_TOKEN), or \
             --insecure-no-auth to serve without authentication",
            args.listen
        );
    }
    if r.no_frames {
        crate::usage!(
            "serve never streams full frames: it sends frame summaries, which the dashboard and \
             /api/v1/health are made from; --no-frames applies to `run`"
        );
    }
    let live_udp = matches!(r.input, crate::input::InputSpec::Udp(_));
    let stdin = matches!(r.input, crate::input::InputSpec::Stdin);
    if args.realtime && live_udp {
        log.warn("--realtime applies to files: a live input is served as it arrives");
    } else if args.realtime && stdin {
        log.warn("--realtime applies to files: stdin is served as fast as it is read");
    }
    if args.wait_clients > 0 && live_udp {
        log.warn("--wait-clients applies to files: a live input is served as it arrives");
    }
    let stop = Arc::new(AtomicBool::new(false));
    if r.duration.is_some() && !live_udp {
        crate::usage!(
            "--duration applies to live udp:// inputs only (use --limit to shorten a file run)"
        );
    }
    // The HTTP listener first: a port in use ends the command before the input is opened (and
    // before a live input announces that it listens).
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .context("cannot start the async runtime")?;
    let listener = rt
        .block_on(tokio::net::TcpListener::bind(args.listen))
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let mut reader = r.reader.clone();
    reader.strict = r.strict;
    let opened = r
        .input
        .open(&reader, r.format, r.duration, Some(Arc::clone(&stop)), log)?;
    let notices = Notices::default();
    let pipeline = crate::run::build_pipeline(r, &notices)?;
    #[cfg(feature = "pose")]
    r.pose.warn_before_input(log);
    let analysers: Vec<String> = pipeline
        .analyser_names()
        .iter()
        .map(|s| s.to_string())
        .collect();
    let hub = Arc::new(Hub::new(
        opened.description.clone(),
        args.client_queue as usize,
        args.max_clients as usize,
        opened.udp_stats.clone(),
        Arc::clone(&stop),
        analysers,
    ));

    let signals = rt.block_on(async { Signals::new() })?;
    let addr = listener.local_addr()?;
    // always printed (tests and scripts read it), even with --quiet
    eprintln!("wifi-sensing: serving on http://{addr}");

    let source = Source {
        wait_clients: if live_udp { 0 } else { args.wait_clients },
        realtime: args.realtime && !opened.live,
        limit: r.limit,
        forced_format: r.format.is_some(),
    };
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let thread_hub = Arc::clone(&hub);
    let thread_log = *log;
    std::thread::Builder::new()
        .name("pipeline".into())
        .spawn(move || {
            source.run(opened, pipeline, &thread_hub, &thread_log);
            for n in notices.take() {
                thread_log.warn(n);
            }
            let _ = done_tx.send(());
        })
        .context("cannot start the pipeline thread")?;

    let (shutdown_tx, shutdown_rx) = tokio::sync::watch::channel(false);
    let app = App {
        hub: Arc::clone(&hub),
        token: args.token.as_deref().map(Arc::from),
        shutdown: shutdown_rx,
        ping_every: args.ping_interval,
    };
    let router = router(app);
    let served = rt.block_on(async move {
        // Records are small messages written one by one: without TCP_NODELAY, Nagle's algorithm
        // and the client's delayed ACK hold them back by about 40 ms.
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            let _ = tcp.set_nodelay(true);
        });
        axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                signals.recv().await;
                let _ = shutdown_tx.send(true);
            })
            .await
    });
    // The stream connections run on after the server stopped accepting: let them send their
    // Close frame (1001) and take the client's reply, for a bounded time (a stalled client's
    // connection is dropped without one).
    rt.block_on(async {
        let deadline = tokio::time::Instant::now() + CLOSE_WAIT + Duration::from_millis(500);
        while hub.client_count() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    log.info("shutting down");
    let dropped = hub.client_messages_dropped();
    if dropped > 0 {
        log.info(format_args!(
            "{dropped} messages were dropped for stream clients that fell behind (a \
             {{\"type\":\"dropped\"}} notice with the count was queued for each; a client \
             that stopped reading may not have received it)"
        ));
    }
    stop.store(true, Ordering::SeqCst);
    hub.wake();
    // the live input notices the stop flag within its poll interval; a blocked stdin read
    // does not end, and the process exits without it
    if done_rx.recv_timeout(SHUTDOWN_GRACE).is_err() {
        log.warn("the input did not stop in time; exiting without it");
    }
    rt.shutdown_timeout(Duration::from_millis(500));
    #[cfg(feature = "pose")]
    let pose = args.run.pose.report(log, served.is_err());
    served.context("server error")?;
    #[cfg(feature = "pose")]
    pose?;
    if let Some(e) = hub.failure() {
        anyhow::bail!("the pipeline stopped early: {e}");
    }
    Ok(())
}

/// Ctrl-C (SIGINT) and SIGTERM, registered when made (before the address is announced, so a
/// signal sent as soon as the server is up is not lost).
struct Signals {
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
}

impl Signals {
    /// Registers the handlers (inside the runtime).
    fn new() -> Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(Signals {
                int: signal(SignalKind::interrupt()).context("cannot handle SIGINT")?,
                term: signal(SignalKind::terminate()).context("cannot handle SIGTERM")?,
            })
        }
        #[cfg(not(unix))]
        Ok(Signals {})
    }

    /// Resolves on the first signal.
    async fn recv(mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = self.int.recv() => {},
            _ = self.term.recv() => {},
        }
        #[cfg(not(unix))]
        {
            let _ = &mut self;
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}

fn router(app: App) -> Router {
    Router::new()
        .route("/", get(page_index))
        .route("/app.js", get(page_js))
        .route("/style.css", get(page_css))
        .route("/api/v1/health", get(health))
        .route("/api/v1/latest", get(latest))
        .route("/api/v1/frame_summaries", get(frame_summaries))
        .route("/api/v1/introspection/snapshot", get(snapshot))
        .route("/ws/stream", get(ws_stream))
        .route("/ws/introspection", get(ws_introspection))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(app.clone(), authorise))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(app)
}

/// Any other path: 404 with a text body that lists the endpoints (as the other errors are
/// text), not an empty answer.
async fn not_found(uri: axum::http::Uri) -> Response {
    (
        StatusCode::NOT_FOUND,
        format!(
            "no such endpoint: {}; the endpoints are /, /api/v1/health, /api/v1/latest, \
             /api/v1/frame_summaries, /api/v1/introspection/snapshot, /ws/stream and \
             /ws/introspection\n",
            uri.path()
        ),
    )
        .into_response()
}

/// The token check of every route: `Authorization: Bearer T` or `token=T` in the query,
/// compared in constant time (for a given length).
async fn authorise(State(app): State<App>, req: Request, next: Next) -> Response {
    let Some(want) = &app.token else {
        return next.run(req).await;
    };
    let from_header = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        // the scheme name is case-insensitive (RFC 7235): `Bearer`, `bearer`, `BEARER`
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim_start().to_string());
    let from_query = req.uri().query().and_then(|q| {
        q.split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == "token")
            .map(|(_, v)| percent_decode(v))
    });
    let ok = [from_header, from_query]
        .into_iter()
        .flatten()
        .any(|given| token_matches(given.as_bytes(), want.as_bytes()));
    if ok {
        next.run(req).await
    } else {
        let mut r = (StatusCode::UNAUTHORIZED, "missing or wrong token\n").into_response();
        r.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        r
    }
}

/// Constant-time comparison (the time depends only on the lengths).
fn token_matches(given: &[u8], want: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    given.len() == want.len() && bool::from(given.ct_eq(want))
}

/// Decodes `%XX` escapes and `+` of a query value (a token is printable ASCII).
fn percent_decode(v: &str) -> String {
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

fn asset(content_type: &'static str, body: impl Into<Body>) -> Response {
    let mut r = Response::new(body.into());
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:",
        ),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

/// The dashboard page. Opened as `/?token=T`, its stylesheet and script URLs carry the token
/// too: a browser sends no `Authorization` header for them, and without it they would be
/// refused (the page would load without its script).
async fn page_index(req: Request) -> Response {
    let html = include_str!("assets/index.html");
    let token = req.uri().query().and_then(|q| {
        q.split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == "token")
            .map(|(_, v)| percent_decode(v))
    });
    let Some(token) = token else {
        return asset("text/html; charset=utf-8", html);
    };
    let q = format!("?token={}", percent_encode(&token));
    let html = html
        .replace("href=\"style.css\"", &format!("href=\"style.css{q}\""))
        .replace("src=\"app.js\"", &format!("src=\"app.js{q}\""));
    asset("text/html; charset=utf-8", html)
}

/// Percent-encodes every byte but the unreserved ones (`A-Z a-z 0-9 - . _ ~`).
fn percent_encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn page_js() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("assets/app.js"),
    )
}

async fn page_css() -> Response {
    asset("text/css; charset=utf-8", include_str!("assets/style.css"))
}

fn json_response(body: String) -> Response {
    let mut r = Response::new(Body::from(body));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

async fn health(State(app): State<App>) -> Response {
    json_response(app.hub.health().to_string())
}

async fn latest(State(app): State<App>) -> Response {
    json_response(app.hub.latest(None))
}

async fn frame_summaries(State(app): State<App>) -> Response {
    json_response(app.hub.frame_summaries())
}

async fn snapshot(State(app): State<App>) -> Response {
    // `{"enabled": bool, "introspection": {"NODE": record, ...}, "status": ...}`
    let body = app.hub.latest(Some("introspection"));
    let inner = body.strip_prefix('{').unwrap_or(&body);
    json_response(format!(
        "{{\"enabled\":{},{}",
        app.hub.introspecting(),
        if inner.starts_with("\"introspection\"") {
            inner.to_string()
        } else {
            format!("\"introspection\":{{}},{inner}")
        }
    ))
}

#[derive(serde::Deserialize)]
struct StreamQuery {
    types: Option<String>,
}

async fn ws_stream(
    State(app): State<App>,
    Query(q): Query<StreamQuery>,
    ws: WebSocketUpgrade,
) -> Response {
    match Types::parse(q.types.as_deref()) {
        Ok(t) => upgrade(app, ws, t),
        Err(e) => (StatusCode::BAD_REQUEST, format!("types: {e}\n")).into_response(),
    }
}

/// `/ws/introspection`: the `introspection` records; refused with 404 (before the upgrade) when
/// the server runs without `--introspect`, as the stream would stay silent.
async fn ws_introspection(
    State(app): State<App>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    if !app.hub.introspecting() {
        return (
            StatusCode::NOT_FOUND,
            "no introspection stream: this server runs without --introspect (start `serve` with \
             --introspect DIR to get one)\n",
        )
            .into_response();
    }
    match ws {
        Ok(ws) => upgrade(app, ws, Types::only("introspection")),
        Err(e) => e.into_response(),
    }
}

fn upgrade(app: App, ws: WebSocketUpgrade, types: Types) -> Response {
    let Some(client) = app.hub.subscribe(types) else {
        return (StatusCode::SERVICE_UNAVAILABLE, "too many stream clients\n").into_response();
    };
    let hub = Arc::clone(&app.hub);
    let guard = Unsubscribe(hub, Arc::clone(&client));
    ws.max_message_size(MAX_CLIENT_MESSAGE)
        .max_frame_size(MAX_CLIENT_MESSAGE)
        .on_failed_upgrade(|_| {})
        .on_upgrade(move |socket| async move {
            let _guard = guard;
            stream(socket, client, app.shutdown, app.ping_every).await;
        })
}

/// Unsubscribes its client when dropped (connection closed, task cancelled, upgrade failed).
struct Unsubscribe(Arc<Hub>, Arc<Client>);

impl Drop for Unsubscribe {
    fn drop(&mut self) {
        self.0.unsubscribe(&self.1);
    }
}

/// Sends the client's queued messages until it leaves or the server stops, and pings it every
/// `ping_every`. Every end of the connection but a lost one sends a Close frame: the reply to the
/// client's own Close, 1001 on shutdown or when the client has been silent for [`IDLE_PINGS`]
/// intervals, 1009 for a message over [`MAX_CLIENT_MESSAGE`], 1002 / 1007 for a protocol error.
async fn stream(
    mut socket: WebSocket,
    client: Arc<Client>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
    ping_every: Duration,
) {
    use tokio::time::{interval_at, sleep_until, timeout, Instant};
    let idle = ping_every.saturating_mul(IDLE_PINGS);
    let idle_reason = format!(
        "no answer to pings for {} s",
        (idle.as_secs_f64() * 10.0).round() / 10.0
    );
    let mut last_heard = Instant::now();
    let mut ping = interval_at(Instant::now() + ping_every, ping_every);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut batch = Vec::new();
    loop {
        // A send blocks only while the client takes no data: one that took none for `idle` is
        // gone (its connection is dropped: a Close frame could not get through either).
        let dropped = client.take(&mut batch);
        if dropped > 0 {
            let m = Message::Text(hub::dropped_message(dropped));
            if !matches!(timeout(idle, socket.send(m)).await, Ok(Ok(()))) {
                return;
            }
        }
        for m in batch.drain(..) {
            if !matches!(
                timeout(idle, socket.send(Message::Text(m))).await,
                Ok(Ok(()))
            ) {
                return;
            }
        }
        // biased: the client's messages (pongs) are read before its silence is judged
        tokio::select! {
            biased;
            r = shutdown.changed() => {
                if r.is_err() || *shutdown.borrow() {
                    close(&mut socket, close_code::AWAY, "server shutting down").await;
                    return;
                }
            }
            m = socket.recv() => {
                last_heard = Instant::now();
                match m {
                    None => return,
                    Some(Ok(Message::Close(_))) => {
                        // the library queued the reply (the client's code echoed); reading on
                        // sends it, then ends
                        let _ = timeout(CLOSE_WAIT, socket.recv()).await;
                        return;
                    }
                    // pings are answered by the library; anything else is ignored
                    Some(Ok(_)) => {}
                    Some(Err(e)) => {
                        if let Some((code, reason)) = close_for(e) {
                            close(&mut socket, code, reason).await;
                        }
                        return;
                    }
                }
            }
            _ = ping.tick() => {
                if !matches!(
                    timeout(idle, socket.send(Message::Ping(Default::default()))).await,
                    Ok(Ok(()))
                ) {
                    return;
                }
            }
            _ = sleep_until(last_heard + idle) => {
                close(&mut socket, close_code::AWAY, &idle_reason).await;
                return;
            }
            _ = client.notify.notified() => {}
        }
    }
}

/// Sends a Close frame and waits for the client's reply (at most [`CLOSE_WAIT`] in all).
async fn close(socket: &mut WebSocket, code: u16, reason: &str) {
    let frame = Message::Close(Some(CloseFrame {
        code,
        reason: Utf8Bytes::from(reason),
    }));
    let _ = tokio::time::timeout(CLOSE_WAIT, async {
        if socket.send(frame).await.is_ok() {
            // the reply, then the end of the stream (messages sent meanwhile are ignored)
            while let Some(Ok(_)) = socket.recv().await {}
        }
    })
    .await;
}

/// The Close code and reason for an error reading a client's message; `None` for a lost
/// connection (nothing can be sent).
fn close_for(e: axum::Error) -> Option<(u16, &'static str)> {
    use tungstenite::error::{CapacityError, Error as WsError};
    let inner = e.into_inner();
    match inner.downcast_ref::<WsError>()? {
        WsError::Capacity(CapacityError::MessageTooLong { .. }) => {
            Some((close_code::SIZE, "message too big (the limit is 4 KiB)"))
        }
        WsError::Capacity(_) => Some((close_code::SIZE, "message too big")),
        WsError::Utf8(_) => Some((
            close_code::INVALID,
            "not UTF-8 (a text message or a close reason)",
        )),
        WsError::Protocol(_) => Some((close_code::PROTOCOL, "protocol error")),
        _ => None,
    }
}

/// How the pipeline thread reads the input.
struct Source {
    wait_clients: usize,
    realtime: bool,
    limit: Option<u64>,
    forced_format: bool,
}

impl Source {
    /// Runs the pipeline over the input into the hub (on the pipeline thread).
    fn run(
        self,
        mut opened: OpenedInput,
        mut pipeline: wifi_sensing_core::Pipeline,
        hub: &Arc<Hub>,
        log: &Log,
    ) {
        if self.wait_clients > 0 {
            log.info(format_args!(
                "waiting for {} stream client(s)",
                self.wait_clients
            ));
            hub.wait_for_clients(self.wait_clients);
            if hub.stop.load(Ordering::SeqCst) {
                // stopped while waiting: the input was opened but not read
                log.info(format_args!(
                    "{}: stopped before the input was read (while waiting for {} stream \
                     client(s))",
                    opened.description, self.wait_clients
                ));
                return;
            }
        }
        hub.set_running();
        let mut sink = Limit::new(hub::HubSink::new(Arc::clone(hub)), self.limit);
        let result = {
            let records = Paced {
                cap: &mut opened.capture,
                stop: &hub.stop,
                realtime: self.realtime,
                origin: None,
            };
            pipeline.run(records, &mut sink)
        };
        let read = opened.capture.stats();
        match result {
            Ok(summary) => {
                crate::report::summary(
                    &summary,
                    read,
                    sink.written(),
                    &opened.description,
                    opened.udp_stats.is_some(),
                    log,
                );
                crate::report::shared_senders(
                    opened.udp_stats.as_deref(),
                    opened.keep.as_deref(),
                    &opened.description,
                    log,
                );
                if let Some(stats) = &opened.udp_stats {
                    if let Ok(s) = stats.lock() {
                        crate::report::frames_lost(&s.nodes, &opened.description, true, log);
                    }
                }
                let err = crate::report::ensure_decoded(
                    read,
                    &opened.description,
                    opened.capture.format(),
                    self.forced_format,
                )
                .err()
                .map(|e| e.to_string());
                if let Some(e) = &err {
                    log.warn(e);
                }
                hub.set_ended(Some(summary), err);
            }
            Err(e) => {
                // an input or an analyser that failed: the pipeline stops, the server keeps
                // what came before on show, and the exit status says it failed
                log.warn(format_args!(
                    "the pipeline stopped: {e}; still serving what came before (Ctrl-C stops; \
                     the exit status will be 1)"
                ));
                hub.set_ended(Some(pipeline.summary().clone()), Some(e.to_string()));
                return;
            }
        }
        if !hub.stop.load(Ordering::SeqCst) {
            log.info("input ended; still serving (Ctrl-C stops)");
        }
    }
}

/// The records of a capture, at capture pace when `realtime`, ending when `stop` is set.
struct Paced<'a> {
    cap: &'a mut Capture,
    stop: &'a AtomicBool,
    realtime: bool,
    /// The first record's timestamp and when it was released.
    origin: Option<(i64, Instant)>,
}

impl Iterator for Paced<'_> {
    type Item = wifi_sensing_core::Result<Record>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.stop.load(Ordering::SeqCst) {
            return None;
        }
        let rec = self.cap.next_record()?;
        if self.realtime {
            if let Ok(r) = &rec {
                let ts = match r {
                    Record::Frame(f) => f.timestamp_ns,
                    Record::Aux(a) => a.timestamp_ns,
                };
                let (t0, start) = *self.origin.get_or_insert((ts, Instant::now()));
                // a clock jump backwards plays at once; a gap forwards pauses at most MAX_GAP
                let ahead = u64::try_from(ts.saturating_sub(t0)).unwrap_or(0);
                let mut due = start + Duration::from_nanos(ahead);
                let latest = Instant::now() + MAX_GAP;
                if due > latest {
                    self.origin = Some((t0, start.checked_sub(due - latest).unwrap_or(start)));
                    due = latest;
                }
                loop {
                    if self.stop.load(Ordering::SeqCst) {
                        return None;
                    }
                    let now = Instant::now();
                    if now >= due {
                        break;
                    }
                    std::thread::sleep((due - now).min(Duration::from_millis(100)));
                }
            }
        }
        Some(rec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_whole() {
        assert!(token_matches(b"secret-token", b"secret-token"));
        assert!(!token_matches(b"secret-toke", b"secret-token"));
        assert!(!token_matches(b"secret-tokem", b"secret-token"));
        assert!(!token_matches(b"", b"secret-token"));
        assert!(parse_token("short").is_err());
        assert!(parse_token("has space 123").is_err());
    }

    #[test]
    fn listen_takes_an_address_or_a_host_name() {
        assert_eq!(
            parse_listen("127.0.0.1:8080").unwrap(),
            "127.0.0.1:8080".parse::<SocketAddr>().unwrap()
        );
        let local = parse_listen("localhost:0").unwrap();
        assert!(local.ip().is_loopback(), "{local}");
        assert_eq!(local.port(), 0);
        for bad in ["8080", "localhost", ":8080"] {
            let e = parse_listen(bad).unwrap_err();
            assert!(e.contains("IP:PORT"), "{bad}: {e}");
        }
        let e = parse_listen("localhost:99999").unwrap_err();
        assert!(e.contains("port 99999 is out of range"), "{e}");
    }

    #[test]
    fn query_values_round_trip() {
        for t in ["s3cret-token", "a+b&c=d%e/f?g#h", "~._-AZaz09"] {
            assert_eq!(percent_decode(&percent_encode(t)), t);
        }
        assert_eq!(percent_encode("a b&"), "a%20b%26");
    }

    #[test]
    fn query_values_decode() {
        assert_eq!(percent_decode("a%2Bb+c"), "a+b c");
        assert_eq!(percent_decode("abc%"), "abc%");
        assert_eq!(percent_decode("abc%4"), "abc%4");
        assert_eq!(percent_decode("%zz"), "%zz");
    }
}
