//! The fan-out between the pipeline thread and the WebSocket clients.
//!
//! The pipeline thread serialises each record once (the same bytes `run` prints) and pushes it
//! into every interested client's bounded queue. A full queue drops its oldest message and
//! counts the drop; the client's task reports the count to that client before its next
//! messages. Pushing never waits on a client, so a stalled client slows neither the pipeline
//! nor the other clients; memory is bounded by the queue length (the messages themselves are
//! shared between queues, so many clients cost a pointer per queued message each).

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::extract::ws::Utf8Bytes;
use serde_json::{json, Value};
use wifi_sensing_core::udp::UdpStats;
use wifi_sensing_core::{Analysis, CsiFrame, NodeTracker, Output, Sink, Summary};

/// Type name of the compact per-frame record the server adds to the stream.
pub(crate) const FRAME_SUMMARY: &str = "frame_summary";
/// Type name of full frame records (sent only to clients that ask for them).
pub(crate) const FRAME: &str = "frame";
/// Events kept for `/api/v1/latest`'s `recent_events`.
const RECENT_EVENTS: usize = 16;
/// `frame_summary` records kept per node for `/api/v1/frame_summaries` (a page's waterfall).
pub(crate) const RECENT_FRAMES: usize = 240;
/// Frame instants per node used for the recent frame rate of `frame_summary`.
const RATE_WINDOW: usize = 50;

/// Locks a mutex, going on with the data of a poisoned one (a panicking client task must not
/// take the server down; every critical section leaves the data consistent).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Every record type a stream can carry: frames and their summaries, the analysers' records,
/// and the non-CSI records of ADR-018 nodes (`AuxBody::KINDS`). A `?types=` name outside this
/// list is refused, so that a misspelt type is an error, not a silent stream.
pub(crate) fn known_types() -> Vec<&'static str> {
    use wifi_sensing_signal::spectral::SpectralKind;
    let mut k = vec![
        FRAME,
        FRAME_SUMMARY,
        wifi_sensing_signal::sensing::EVENT_KIND,
        wifi_sensing_signal::sensing::VITAL_SIGNS_KIND,
        wifi_sensing_introspect::snapshot::KIND,
        // `wifi_sensing_pose::pose::KIND`; the pose crate is an optional dependency
        "pose",
        SpectralKind::Spectrogram.name(),
        SpectralKind::Doppler.name(),
    ];
    k.extend(wifi_sensing_core::record::AuxBody::KINDS);
    k
}

/// What a client subscribed to: a set of record types (`None`: every type but full frames).
#[derive(Clone, Debug)]
pub(crate) struct Types(Option<Vec<String>>);

impl Types {
    /// At most this many names in `?types=`.
    const MAX: usize = 32;

    /// Parses the `types` query value: comma-separated names of `[a-z0-9_]` (at most 32 of
    /// them, each at most 64 bytes); `None` or empty: every type but `frame`.
    pub(crate) fn parse(s: Option<&str>) -> Result<Self, String> {
        let Some(s) = s.filter(|s| !s.trim().is_empty()) else {
            return Ok(Types(None));
        };
        let names: Vec<String> = s.split(',').map(|n| n.trim().to_string()).collect();
        if names.len() > Self::MAX {
            return Err(format!("at most {} types", Self::MAX));
        }
        let mut known = known_types();
        for n in &names {
            let ok = !n.is_empty()
                && n.len() <= 64
                && n.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !ok {
                return Err(format!(
                    "bad record type {n:?} (expected names like event,vital_signs)"
                ));
            }
            if !known.contains(&n.as_str()) {
                known.sort_unstable();
                return Err(format!(
                    "unknown record type {n:?} (known: {})",
                    known.join(", ")
                ));
            }
        }
        Ok(Types(Some(names)))
    }

    /// Only `kind`.
    pub(crate) fn only(kind: &str) -> Self {
        Types(Some(vec![kind.to_string()]))
    }

    fn wants(&self, kind: &str) -> bool {
        match &self.0 {
            None => kind != FRAME,
            Some(v) => v.iter().any(|n| n == kind),
        }
    }
}

/// The queue of one client.
struct Queue {
    items: VecDeque<Utf8Bytes>,
    /// Messages dropped since the client was last told.
    dropped: u64,
}

/// One connected stream client.
pub(crate) struct Client {
    types: Types,
    cap: usize,
    queue: Mutex<Queue>,
    /// Woken when messages are queued.
    pub(crate) notify: tokio::sync::Notify,
    /// Messages dropped for this client over its connection.
    dropped_total: AtomicU64,
}

impl Client {
    fn push(&self, m: &Utf8Bytes) {
        {
            let mut q = lock(&self.queue);
            if q.items.len() >= self.cap {
                q.items.pop_front();
                q.dropped += 1;
                self.dropped_total.fetch_add(1, Ordering::Relaxed);
            }
            q.items.push_back(m.clone());
        }
        self.notify.notify_one();
    }

    /// Takes the queued messages into `out` (emptied first); returns the drops not yet reported.
    pub(crate) fn take(&self, out: &mut Vec<Utf8Bytes>) -> u64 {
        out.clear();
        let mut q = lock(&self.queue);
        out.extend(q.items.drain(..));
        std::mem::take(&mut q.dropped)
    }
}

/// The control message telling a client how many messages were dropped for it.
pub(crate) fn dropped_message(count: u64) -> Utf8Bytes {
    Utf8Bytes::from(format!("{{\"type\":\"dropped\",\"count\":{count}}}"))
}

/// State of the input, for `/api/v1/health`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum InputState {
    /// Waiting for `--wait-clients` stream clients.
    Waiting,
    /// The pipeline is reading.
    Running,
    /// The input ended (the server stays up).
    Ended,
    /// The pipeline ended with an error.
    Failed(String),
}

/// Counters and latest records, behind one lock.
struct State {
    input: InputState,
    nodes: NodeTracker,
    counts: BTreeMap<String, u64>,
    /// Latest record per (type, node).
    latest: BTreeMap<(String, Option<u32>), Utf8Bytes>,
    recent_events: VecDeque<Utf8Bytes>,
    /// The last [`RECENT_FRAMES`] `frame_summary` records per node.
    recent_frames: BTreeMap<Option<u32>, VecDeque<Utf8Bytes>>,
    /// When the server received each node's last frame (its own clock, not the frame's time).
    last_frame: BTreeMap<u32, Instant>,
    summary: Option<Summary>,
}

/// Shared by the pipeline thread and the HTTP handlers.
pub(crate) struct Hub {
    started: Instant,
    input: String,
    cap: usize,
    max_clients: usize,
    clients: Mutex<Vec<Arc<Client>>>,
    clients_changed: Condvar,
    /// Clients that asked for full frames: frames are serialised only when there are some.
    frame_clients: AtomicUsize,
    dropped_total: AtomicU64,
    state: Mutex<State>,
    udp: Option<Arc<Mutex<UdpStats>>>,
    /// Set on shutdown: the input stops.
    pub(crate) stop: Arc<AtomicBool>,
    /// Analysers of the pipeline (for health and the snapshot).
    analysers: Vec<String>,
}

impl Hub {
    /// A hub for `input`, queues of `cap` messages, at most `max_clients` stream clients.
    pub(crate) fn new(
        input: String,
        cap: usize,
        max_clients: usize,
        udp: Option<Arc<Mutex<UdpStats>>>,
        stop: Arc<AtomicBool>,
        analysers: Vec<String>,
    ) -> Self {
        Hub {
            started: Instant::now(),
            input,
            cap,
            max_clients,
            clients: Mutex::new(Vec::new()),
            clients_changed: Condvar::new(),
            frame_clients: AtomicUsize::new(0),
            dropped_total: AtomicU64::new(0),
            state: Mutex::new(State {
                input: InputState::Waiting,
                nodes: NodeTracker::default(),
                counts: BTreeMap::new(),
                latest: BTreeMap::new(),
                recent_events: VecDeque::with_capacity(RECENT_EVENTS),
                recent_frames: BTreeMap::new(),
                last_frame: BTreeMap::new(),
                summary: None,
            }),
            udp,
            stop,
            analysers,
        }
    }

    /// Registers a stream client; `None` when `max_clients` are connected.
    pub(crate) fn subscribe(&self, types: Types) -> Option<Arc<Client>> {
        let mut clients = lock(&self.clients);
        if clients.len() >= self.max_clients {
            return None;
        }
        let frames = types.wants(FRAME);
        let c = Arc::new(Client {
            types,
            cap: self.cap,
            queue: Mutex::new(Queue {
                items: VecDeque::new(),
                dropped: 0,
            }),
            notify: tokio::sync::Notify::new(),
            dropped_total: AtomicU64::new(0),
        });
        // a client joining after the input ended hears so at once
        if let Some(m) = self.end_message() {
            c.push(&m);
        }
        if frames {
            self.frame_clients.fetch_add(1, Ordering::SeqCst);
        }
        clients.push(Arc::clone(&c));
        self.clients_changed.notify_all();
        Some(c)
    }

    /// Removes a client.
    pub(crate) fn unsubscribe(&self, c: &Arc<Client>) {
        let mut clients = lock(&self.clients);
        if let Some(i) = clients.iter().position(|x| Arc::ptr_eq(x, c)) {
            clients.swap_remove(i);
            if c.types.wants(FRAME) {
                self.frame_clients.fetch_sub(1, Ordering::SeqCst);
            }
            self.dropped_total
                .fetch_add(c.dropped_total.load(Ordering::Relaxed), Ordering::Relaxed);
        }
        self.clients_changed.notify_all();
    }

    /// Stream clients connected.
    pub(crate) fn client_count(&self) -> usize {
        lock(&self.clients).len()
    }

    /// Blocks until `n` stream clients are connected or the server stops.
    pub(crate) fn wait_for_clients(&self, n: usize) {
        let mut clients = lock(&self.clients);
        while clients.len() < n && !self.stop.load(Ordering::SeqCst) {
            clients = self
                .clients_changed
                .wait_timeout(clients, Duration::from_millis(100))
                .map(|(g, _)| g)
                .unwrap_or_else(|p| p.into_inner().0);
        }
    }

    /// Wakes [`Hub::wait_for_clients`] (on shutdown).
    pub(crate) fn wake(&self) {
        self.clients_changed.notify_all();
    }

    fn publish(&self, kind: &str, m: &Utf8Bytes) {
        for c in lock(&self.clients).iter() {
            if c.types.wants(kind) {
                c.push(m);
            }
        }
    }

    /// Marks the input as running.
    pub(crate) fn set_running(&self) {
        lock(&self.state).input = InputState::Running;
    }

    /// Marks the input as ended (with the error that ended it, if any) and tells the clients.
    pub(crate) fn set_ended(&self, summary: Option<Summary>, error: Option<String>) {
        {
            let mut s = lock(&self.state);
            s.summary = summary;
            s.input = match error {
                Some(e) => InputState::Failed(e),
                None => InputState::Ended,
            };
        }
        if let Some(m) = self.end_message() {
            for c in lock(&self.clients).iter() {
                c.push(&m);
            }
        }
    }

    /// Messages dropped for slow stream clients so far, connected or gone.
    pub(crate) fn client_messages_dropped(&self) -> u64 {
        let live: u64 = lock(&self.clients)
            .iter()
            .map(|c| c.dropped_total.load(Ordering::Relaxed))
            .sum();
        live + self.dropped_total.load(Ordering::Relaxed)
    }

    /// The error the pipeline ended with, if it did.
    pub(crate) fn failure(&self) -> Option<String> {
        match &lock(&self.state).input {
            InputState::Failed(e) => Some(e.clone()),
            _ => None,
        }
    }

    /// The `input_ended` control message, once the input ended.
    fn end_message(&self) -> Option<Utf8Bytes> {
        let s = lock(&self.state);
        let error = match &s.input {
            InputState::Ended => None,
            InputState::Failed(e) => Some(e.clone()),
            _ => return None,
        };
        Some(Utf8Bytes::from(format!(
            "{{\"type\":\"input_ended\",\"error\":{}}}",
            json!(error)
        )))
    }

    /// `GET /api/v1/health` (`docs/schema/health-v1.json`). A node's `rate_hz` is its received
    /// rate over the run so far ([`wifi_sensing_core::NodeStats::rate_hz`]: frames lost on the
    /// way lower it), not the sampling rate of the `spectrogram`/`doppler` records; its
    /// `last_frame_age_s` is the time since the server received its last frame, which grows
    /// while the node is silent. `pipeline` is null until the input ends.
    pub(crate) fn health(&self) -> Value {
        let (clients, queued) = {
            let c = lock(&self.clients);
            let queued: usize = c.iter().map(|c| lock(&c.queue).items.len()).sum();
            (c.len(), queued)
        };
        let dropped = self.client_messages_dropped();
        let s = lock(&self.state);
        let now = Instant::now();
        let (status, error) = match &s.input {
            InputState::Waiting => ("waiting_for_clients", None),
            InputState::Running => ("running", None),
            InputState::Ended => ("input_ended", None),
            InputState::Failed(e) => ("input_failed", Some(e.clone())),
        };
        let nodes: Vec<Value> = s
            .nodes
            .nodes()
            .iter()
            .map(|(id, n)| {
                json!({
                    "node_id": id,
                    "frames": n.frames,
                    "rate_hz": n.rate_hz(),
                    "dropped": n.dropped,
                    "sequence_resets": n.sequence_resets,
                    // milliseconds are enough to tell a silent node
                    "last_frame_age_s": s.last_frame.get(id).map(|t| {
                        (now.saturating_duration_since(*t).as_secs_f64() * 1e3).round() / 1e3
                    }),
                })
            })
            .collect();
        let frames: u64 = s.nodes.nodes().values().map(|n| n.frames).sum();
        let udp = self.udp.as_ref().map(|u| {
            let u = lock(u);
            json!({
                "datagrams": u.datagrams,
                "bytes": u.bytes,
                "frames": u.frames,
                "malformed": u.malformed,
                "shared_node_ids": u.shared_node_ids,
            })
        });
        json!({
            "status": status,
            "error": error,
            "uptime_s": self.started.elapsed().as_secs_f64(),
            "input": self.input,
            "analysers": self.analysers,
            "frames": frames,
            "records": s.counts,
            "nodes": nodes,
            "udp": udp,
            "pipeline": s.summary.as_ref().map(|x| json!({
                "frames_in": x.frames_in,
                "frames_out": x.frames_out,
                "analyses": x.analyses,
                "malformed": x.malformed,
            })),
            "clients": {
                "connected": clients,
                "queued": queued,
                "queue_capacity": self.cap,
                "dropped": dropped,
            },
        })
    }

    /// `GET /api/v1/latest`: `{"TYPE": {"NODE": record, ...}, ..., "recent_events": [...]}`,
    /// node `all` for records without a node. The records are the exact lines of the stream.
    pub(crate) fn latest(&self, only: Option<&str>) -> String {
        let s = lock(&self.state);
        let mut out = String::from("{");
        let mut cur: Option<&str> = None;
        for ((kind, node), rec) in &s.latest {
            if only.is_some_and(|o| o != kind) {
                continue;
            }
            if cur != Some(kind.as_str()) {
                if cur.is_some() {
                    out.push_str("},");
                }
                out.push_str(&json!(kind).to_string());
                out.push_str(":{");
                cur = Some(kind);
            } else {
                out.push(',');
            }
            match node {
                Some(n) => out.push_str(&format!("\"{n}\":")),
                None => out.push_str("\"all\":"),
            }
            out.push_str(rec.as_str());
        }
        if cur.is_some() {
            out.push_str("},");
        }
        if only.is_none() {
            out.push_str("\"recent_events\":[");
            for (i, e) in s.recent_events.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(e.as_str());
            }
            out.push_str("],");
        }
        out.push_str(&format!(
            "\"status\":{}}}",
            json!(match s.input {
                InputState::Waiting => "waiting_for_clients",
                InputState::Running => "running",
                InputState::Ended => "input_ended",
                InputState::Failed(_) => "input_failed",
            })
        ));
        out
    }

    /// `GET /api/v1/frame_summaries`: `{"NODE": [the last frame_summary records, oldest
    /// first], ...}`.
    pub(crate) fn frame_summaries(&self) -> String {
        let s = lock(&self.state);
        let mut out = String::from("{");
        for (i, (node, q)) in s.recent_frames.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            match node {
                Some(n) => out.push_str(&format!("\"{n}\":[")),
                None => out.push_str("\"all\":["),
            }
            for (j, m) in q.iter().enumerate() {
                if j > 0 {
                    out.push(',');
                }
                out.push_str(m.as_str());
            }
            out.push(']');
        }
        out.push('}');
        out
    }

    /// Whether an `introspection` analyser runs.
    pub(crate) fn introspecting(&self) -> bool {
        self.analysers.iter().any(|a| a == "introspection")
    }
}

/// The pipeline's sink: serialises each output once and hands it to the hub.
pub(crate) struct HubSink {
    hub: Arc<Hub>,
    buf: Vec<u8>,
    /// Recent frame instants per node, for `frame_summary.rate_hz`.
    instants: BTreeMap<u32, VecDeque<i64>>,
}

impl HubSink {
    pub(crate) fn new(hub: Arc<Hub>) -> Self {
        HubSink {
            hub,
            buf: Vec::with_capacity(4096),
            instants: BTreeMap::new(),
        }
    }

    fn text(&self) -> Utf8Bytes {
        Utf8Bytes::from(String::from_utf8_lossy(&self.buf).into_owned())
    }

    /// The `frame_summary` line of `f` into `self.buf`, written as an analysis record by the
    /// JSON Lines writer (the same envelope as every analysis line).
    fn frame_summary(&mut self, f: &CsiFrame, dropped: u64) -> wifi_sensing_core::Result<()> {
        let (rx, tx, n) = f.shape();
        let mut amplitude = vec![0f32; n];
        let streams = (rx * tx).max(1) as f32;
        for a in f.csi.outer_iter() {
            for b in a.outer_iter() {
                for (acc, c) in amplitude.iter_mut().zip(b.iter()) {
                    *acc += c.norm();
                }
            }
        }
        for v in &mut amplitude {
            *v = round4(*v / streams);
        }
        let times = self.instants.entry(f.node_id).or_default();
        if times.len() == RATE_WINDOW {
            times.pop_front();
        }
        times.push_back(f.timestamp_ns);
        let rate_hz = match (times.front(), times.back()) {
            (Some(a), Some(b)) if b > a => {
                Some(((times.len() - 1) as f64 * 1e9 / (b - a) as f64 * 100.0).round() / 100.0)
            }
            _ => None,
        };
        let data = FrameSummary {
            sequence: f.sequence,
            rssi_dbm: f.rssi_dbm,
            rate_hz,
            dropped,
            streams: rx * tx,
            subcarriers: n,
            amplitude,
        };
        let a = Analysis::new(
            "serve",
            FRAME_SUMMARY,
            f.timestamp_ns,
            Some(f.node_id),
            data,
        );
        self.buf.clear();
        wifi_sensing_core::jsonl::write_output(&mut self.buf, &Output::Analysis(a))
    }

    fn record(&self, kind: &str, node: Option<u32>, m: Utf8Bytes, latest: bool) {
        if latest {
            let mut s = lock(&self.hub.state);
            if kind == "event" {
                if s.recent_events.len() == RECENT_EVENTS {
                    s.recent_events.pop_front();
                }
                s.recent_events.push_back(m.clone());
            } else if kind == FRAME_SUMMARY {
                let q = s.recent_frames.entry(node).or_default();
                if q.len() == RECENT_FRAMES {
                    q.pop_front();
                }
                q.push_back(m.clone());
            }
            *s.counts.entry(kind.to_string()).or_default() += 1;
            s.latest.insert((kind.to_string(), node), m.clone());
        }
        self.hub.publish(kind, &m);
    }
}

/// The `data` of a `frame_summary` record (`docs/schema/frame_summary-v1.json`).
#[derive(Debug, serde::Serialize)]
struct FrameSummary {
    sequence: Option<u32>,
    rssi_dbm: Option<f32>,
    rate_hz: Option<f64>,
    dropped: u64,
    streams: usize,
    subcarriers: usize,
    amplitude: Vec<f32>,
}

/// `x` rounded to 4 significant digits (the page draws colours; this keeps messages short).
fn round4(x: f32) -> f32 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let mag = f64::from(x.abs()).log10().floor();
    let scale = 10f64.powf(3.0 - mag);
    ((f64::from(x) * scale).round() / scale) as f32
}

impl Sink<Output> for HubSink {
    fn item(&mut self, item: &Output) -> wifi_sensing_core::Result<bool> {
        match item {
            Output::Frame(f) => {
                let dropped = {
                    let mut s = lock(&self.hub.state);
                    s.nodes.observe(f);
                    // only for the nodes the (bounded) node counters keep
                    if s.nodes.nodes().contains_key(&f.node_id) {
                        s.last_frame.insert(f.node_id, Instant::now());
                    }
                    *s.counts.entry(FRAME.to_string()).or_default() += 1;
                    s.nodes.nodes().get(&f.node_id).map_or(0, |n| n.dropped)
                };
                if self.hub.frame_clients.load(Ordering::SeqCst) > 0 {
                    self.buf.clear();
                    wifi_sensing_core::jsonl::write_output(&mut self.buf, item)?;
                    let m = self.text();
                    self.hub.publish(FRAME, &m);
                }
                self.frame_summary(f, dropped)?;
                let m = self.text();
                self.record(FRAME_SUMMARY, Some(f.node_id), m, true);
            }
            Output::Aux(a) => {
                self.buf.clear();
                wifi_sensing_core::jsonl::write_output(&mut self.buf, item)?;
                let m = self.text();
                self.record(a.body.kind(), a.node_id, m, true);
            }
            Output::Analysis(x) => {
                self.buf.clear();
                wifi_sensing_core::jsonl::write_output(&mut self.buf, item)?;
                let m = self.text();
                self.record(&x.kind, x.node_id, m, true);
            }
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_parse_and_filter() {
        let all = Types::parse(None).unwrap();
        assert!(all.wants("event") && all.wants(FRAME_SUMMARY) && !all.wants(FRAME));
        let t = Types::parse(Some("frame, event")).unwrap();
        assert!(t.wants(FRAME) && t.wants("event") && !t.wants("pose"));
        assert!(Types::parse(Some("Event")).is_err());
        // a misspelt type is refused, naming the known ones
        let e = Types::parse(Some("event,vital_sign")).unwrap_err();
        assert!(
            e.contains("unknown record type \"vital_sign\"") && e.contains("vital_signs, "),
            "{e}"
        );
        for k in known_types() {
            assert!(Types::parse(Some(k)).is_ok(), "{k}");
        }
        assert!(Types::parse(Some("a,,b")).is_err());
        assert!(Types::parse(Some(&"a,".repeat(40))).is_err());
    }

    #[test]
    fn a_full_queue_drops_its_oldest_and_counts() {
        let hub = Hub::new(
            "x".into(),
            3,
            2,
            None,
            Arc::new(AtomicBool::new(false)),
            vec![],
        );
        let c = hub.subscribe(Types::parse(None).unwrap()).unwrap();
        for i in 0..5 {
            hub.publish("event", &Utf8Bytes::from(i.to_string()));
        }
        hub.publish(FRAME, &Utf8Bytes::from("frame".to_string()));
        let mut out = Vec::new();
        assert_eq!(c.take(&mut out), 2);
        let got: Vec<&str> = out.iter().map(|m| m.as_str()).collect();
        assert_eq!(got, ["2", "3", "4"]);
        assert_eq!(c.take(&mut out), 0);
        assert!(out.is_empty());
        // the client limit
        let _d = hub.subscribe(Types::only("event")).unwrap();
        assert!(hub.subscribe(Types::only("event")).is_none());
        hub.unsubscribe(&c);
        assert_eq!(hub.health()["clients"]["dropped"], 2);
    }

    /// Every record type with a schema in `docs/schema/` (but the inspect report, the frame
    /// record, the control messages and the health report, which are not subscribed to) can be
    /// subscribed to.
    #[test]
    fn every_documented_record_type_is_known() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/schema");
        let mut seen = 0;
        for e in std::fs::read_dir(dir).unwrap() {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            let Some((kind, _)) = name.rsplit_once("-v") else {
                continue;
            };
            if ["inspect", "record", "serve_control", "health"].contains(&kind) {
                continue;
            }
            assert!(known_types().contains(&kind), "{name}");
            seen += 1;
        }
        assert!(seen >= 7, "{seen}");
    }

    #[test]
    fn round4_keeps_four_digits() {
        assert_eq!(round4(12.34567), 12.35);
        assert_eq!(round4(0.0012346), 0.001235);
        assert_eq!(round4(0.0), 0.0);
        assert_eq!(round4(1234567.0), 1235000.0);
    }
}
