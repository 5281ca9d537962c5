//! Notebooks (feature `notebook`): values that display themselves in an
//! [evcxr](https://github.com/evcxr/evcxr) Jupyter notebook, and a few helpers to load a capture
//! and draw it.
//!
//! In a notebook cell:
//!
//! ```text
//! :dep wifi-sensing = { version = "0.1", features = ["notebook"] }
//! use wifi_sensing::notebook::*;
//! let frames = read_frames("capture.dat", 100_000)?;
//! frames                                        // a table: one row per node, then the first frames
//! amplitude_heatmap(&frames, None)?             // an inline PNG
//! ```
//!
//! evcxr shows a cell's last value by calling its `evcxr_display` method when it has one; the
//! [`EvcxrDisplay`] trait gives it to frames ([`CsiFrame`] and slices of them), a [`Capture`],
//! [`SpectrogramMatrix`] (a PNG), [`Png`], [`Sensed`] events and vital signs (a table) and, with
//! the `pose` feature, `wifi_sensing::pose::Pose` records; `use wifi_sensing::notebook::*` brings
//! it into scope.
//!
//! **Printing.** The family's libraries never print, with this one exception:
//! [`EvcxrDisplay::evcxr_display`] writes the value's [`Content`] to stdout between evcxr's
//! `EVCXR_BEGIN_CONTENT <mime>` and `EVCXR_END_CONTENT` lines, because that is evcxr's display
//! protocol. It runs only when a notebook displays a value (or when code calls it);
//! [`EvcxrDisplay::content`] gives the same content without printing.
//!
//! The `notebook` feature is off by default: it brings `plotters`, a PNG encoder and an embedded
//! font (about 0.7 MB) that applications do not need.
//!
//! ```
//! use wifi_sensing::notebook::{EvcxrDisplay, read_frames};
//! let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/intel5300/example.dat");
//! let frames = read_frames(dir, 10_000)?;
//! let c = frames.content();
//! assert_eq!(c.mime, "text/html");
//! assert!(c.data.contains("<table"));
//! # Ok::<(), wifi_sensing::notebook::Error>(())
//! ```

use std::fmt::Write as _;
use std::path::Path;

use base64::Engine as _;
use wifi_sensing_core::{Capture, CsiFrame, ReadStats};
use wifi_sensing_signal::events::Event;
use wifi_sensing_signal::plot::{amplitude_heatmap_png, AmplitudeHeatmap};
use wifi_sensing_signal::spectrogram::{spectrogram, SpectrogramConfig, SpectrogramMatrix};
use wifi_sensing_signal::vitals::VitalRate;
use wifi_sensing_signal::{Sensed, SensingAnalyser, SensingConfig, SignalError};

/// Errors of the notebook helpers.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading the capture failed.
    #[error(transparent)]
    Core(#[from] wifi_sensing_core::Error),
    /// An analysis or a drawing failed.
    #[error(transparent)]
    Signal(#[from] SignalError),
    /// The capture has more frames than the limit given.
    #[error(
        "{path}: more than {limit} frames; raise the limit, or read a part of the capture (`wifi_sensing::open(path)?.take(n)`, or `wifi-sensing run CAPTURE --limit N -o part.jsonl`)"
    )]
    TooManyFrames {
        /// The capture.
        path: String,
        /// The limit.
        limit: usize,
    },
    /// No frame to work on.
    #[error("no CSI frames{0}")]
    NoFrames(String),
}

/// Result of the notebook helpers.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What a value shows in a notebook: a MIME type and the data (HTML text, or base64 for
/// images).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Content {
    /// `text/html` or `image/png`.
    pub mime: &'static str,
    /// HTML text, or the base64 of the image bytes.
    pub data: String,
}

impl Content {
    fn html(data: String) -> Self {
        Content {
            mime: "text/html",
            data,
        }
    }
}

/// evcxr's display protocol: a notebook cell whose value has an `evcxr_display` method shows
/// the [`Content`] that method prints.
pub trait EvcxrDisplay {
    /// What the value shows.
    fn content(&self) -> Content;

    /// Prints [`EvcxrDisplay::content`] framed by evcxr's `EVCXR_BEGIN_CONTENT` /
    /// `EVCXR_END_CONTENT` lines: the protocol, and the only printing of this library (see the
    /// [module docs](self)).
    fn evcxr_display(&self) {
        let c = self.content();
        println!(
            "EVCXR_BEGIN_CONTENT {}\n{}\nEVCXR_END_CONTENT",
            c.mime, c.data
        );
    }
}

/// A PNG image (shown inline).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Png(pub Vec<u8>);

impl Png {
    /// Writes the image to a file.
    pub fn save(&self, path: impl AsRef<Path>) -> std::io::Result<()> {
        std::fs::write(path, &self.0)
    }
}

impl EvcxrDisplay for Png {
    fn content(&self) -> Content {
        Content {
            mime: "image/png",
            data: base64::engine::general_purpose::STANDARD.encode(&self.0),
        }
    }
}

/// Every CSI frame of the capture at `path` (format detected), at most `max_frames` (an error
/// beyond: a notebook holds the frames in memory). Non-CSI records are passed over, and so are
/// malformed records, as `wifi-sensing run` does. A capture cut inside its last record (a
/// recording stopped mid-write) gives every complete frame before the cut, as `run` does (it
/// also warns); [`read_frames_with_stats`] says how many records were skipped and where the
/// input was cut.
///
/// ```
/// # let path = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/intel5300/example.dat");
/// let frames = wifi_sensing::notebook::read_frames(path, 100_000)?;
/// assert!(!frames.is_empty());
/// # Ok::<(), wifi_sensing::notebook::Error>(())
/// ```
pub fn read_frames(path: impl AsRef<Path>, max_frames: usize) -> Result<Vec<CsiFrame>> {
    Ok(read_frames_with_stats(path, max_frames)?.0)
}

/// [`read_frames`], with the reader's statistics: frames read, malformed records skipped
/// (`malformed`, the first few in `issues`), and `truncated` when the input ended inside a
/// record.
///
/// ```
/// # let path = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/intel5300/example.dat");
/// let (frames, stats) = wifi_sensing::notebook::read_frames_with_stats(path, 100_000)?;
/// assert_eq!(stats.frames, frames.len() as u64);
/// assert!(stats.truncated.is_none());
/// # Ok::<(), wifi_sensing::notebook::Error>(())
/// ```
pub fn read_frames_with_stats(
    path: impl AsRef<Path>,
    max_frames: usize,
) -> Result<(Vec<CsiFrame>, ReadStats)> {
    let path = path.as_ref();
    let mut frames = Vec::new();
    // a capture iterates its CSI frames (non-CSI records are passed over)
    let mut capture = wifi_sensing_core::open(path)?.skip_malformed(true);
    for f in capture.by_ref() {
        let f = match f {
            Ok(f) => f,
            // the frames before the cut are complete; the cut is in the statistics
            Err(e) if e.is_truncated() => break,
            Err(e) => return Err(e.into()),
        };
        if frames.len() >= max_frames {
            return Err(Error::TooManyFrames {
                path: path.display().to_string(),
                limit: max_frames,
            });
        }
        frames.push(f);
    }
    Ok((frames, capture.stats().clone()))
}

/// The frames of node `node` (the first frame's node when `None`).
pub fn node_frames(frames: &[CsiFrame], node: Option<u32>) -> Result<Vec<&CsiFrame>> {
    let node = node
        .or_else(|| frames.first().map(|f| f.node_id))
        .ok_or_else(|| Error::NoFrames(String::new()))?;
    let v: Vec<&CsiFrame> = frames.iter().filter(|f| f.node_id == node).collect();
    if v.is_empty() {
        return Err(Error::NoFrames(format!(" of node {node}")));
    }
    Ok(v)
}

/// A heatmap of the amplitude of stream (rx 0, tx 0) of one node's frames (the first frame's
/// node when `node` is `None`): time across, subcarrier up.
pub fn amplitude_heatmap(frames: &[CsiFrame], node: Option<u32>) -> Result<Png> {
    let refs = node_frames(frames, node)?;
    Ok(Png(amplitude_heatmap_png(
        &refs,
        &AmplitudeHeatmap::default(),
    )?))
}

/// The spectrogram of one node's frames (the first frame's node when `node` is `None`).
pub fn spectrogram_of(
    frames: &[CsiFrame],
    node: Option<u32>,
    config: &SpectrogramConfig,
) -> Result<SpectrogramMatrix> {
    let refs = node_frames(frames, node)?;
    Ok(spectrogram(&refs, config, None)?)
}

/// Motion/presence events and vital-sign estimates of every node of `frames`, from a
/// [`SensingAnalyser`] with `config` (automatic calibration).
pub fn sense(frames: &[CsiFrame], config: SensingConfig) -> Result<Vec<Sensed>> {
    let mut a = SensingAnalyser::new(config, None)?;
    let mut out = Vec::new();
    for f in frames {
        a.push(f, &mut out)?;
    }
    Ok(out)
}

/// `s` with HTML's special characters escaped.
fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '&' => o.push_str("&amp;"),
            '"' => o.push_str("&quot;"),
            c => o.push(c),
        }
    }
    o
}

/// An HTML table with a caption, a header row and rows of (already escaped) cells.
fn table(caption: &str, header: &[&str], rows: &[Vec<String>]) -> String {
    let mut h = format!(
        "<table style=\"font-family:monospace\"><caption style=\"text-align:left\">{}</caption><tr>",
        esc(caption)
    );
    for c in header {
        let _ = write!(h, "<th>{}</th>", esc(c));
    }
    h.push_str("</tr>");
    for r in rows {
        h.push_str("<tr>");
        for c in r {
            let _ = write!(h, "<td>{c}</td>");
        }
        h.push_str("</tr>");
    }
    h.push_str("</table>");
    h
}

fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map(|v| esc(&v.to_string())).unwrap_or_default()
}

/// The serde name of a unit variant (`motion_started`), or its Debug form.
fn name<T: serde::Serialize + std::fmt::Debug>(v: &T) -> String {
    match wifi_sensing_core::serde_json::to_value(v) {
        Ok(wifi_sensing_core::serde_json::Value::String(s)) => s,
        _ => format!("{v:?}"),
    }
}

fn secs(ns: i64) -> String {
    format!("{:.3}", ns as f64 * 1e-9)
}

fn mean_amplitude(f: &CsiFrame) -> f64 {
    let n = f.csi.len().max(1) as f64;
    f.csi.iter().map(|c| f64::from(c.norm())).sum::<f64>() / n
}

impl EvcxrDisplay for CsiFrame {
    fn content(&self) -> Content {
        let (rx, tx, sc) = self.shape();
        let subc = match &self.subcarriers {
            Some(s) if !s.is_empty() => format!("{} .. {}", s[0], s[s.len() - 1]),
            _ => "columns".to_string(),
        };
        let mac = self.mac.map(|m| {
            m.iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(":")
        });
        let rows: Vec<Vec<String>> = [
            ("format", self.format.name().to_string()),
            ("device", self.device.to_string()),
            ("node_id", self.node_id.to_string()),
            (
                "timestamp_ns",
                format!("{} ({})", self.timestamp_ns, name(&self.clock)),
            ),
            ("sequence", opt(self.sequence)),
            ("mac", opt(mac)),
            ("rssi_dbm", opt(self.rssi_dbm)),
            ("noise_floor_dbm", opt(self.noise_floor_dbm)),
            ("channel", opt(self.channel)),
            ("center_freq_mhz", opt(self.center_freq_mhz)),
            ("bandwidth_mhz", opt(self.bandwidth_mhz)),
            ("shape [rx, tx, sc]", format!("[{rx}, {tx}, {sc}]")),
            ("subcarriers", subc),
            ("mean |H|", format!("{:.3}", mean_amplitude(self))),
        ]
        .into_iter()
        .map(|(k, v)| vec![esc(k), esc(&v)])
        .collect();
        Content::html(table("CsiFrame", &["field", "value"], &rows))
    }
}

/// Rows shown of the first frames under the per-node table.
const FIRST_ROWS: usize = 5;
/// Nodes listed at most.
const MAX_NODES: usize = 64;

/// One node's line in the table of a frame slice.
struct NodeRow {
    node: u32,
    frames: u64,
    first_ns: i64,
    last_ns: i64,
    shape: (usize, usize, usize),
    kind: String,
}

impl EvcxrDisplay for [CsiFrame] {
    fn content(&self) -> Content {
        // per node: frames, first and last time, shape, format
        let mut nodes: Vec<NodeRow> = Vec::new();
        for f in self {
            if let Some(i) = nodes.iter().position(|n| n.node == f.node_id) {
                let n = &mut nodes[i];
                n.frames += 1;
                n.first_ns = n.first_ns.min(f.timestamp_ns);
                n.last_ns = n.last_ns.max(f.timestamp_ns);
            } else if nodes.len() < MAX_NODES {
                nodes.push(NodeRow {
                    node: f.node_id,
                    frames: 1,
                    first_ns: f.timestamp_ns,
                    last_ns: f.timestamp_ns,
                    shape: f.shape(),
                    kind: format!("{} / {}", f.format.name(), f.device),
                });
            }
        }
        let node_rows: Vec<Vec<String>> = nodes
            .iter()
            .map(|n| {
                let span = (n.last_ns - n.first_ns) as f64 * 1e-9;
                let rate = if span > 1e-3 && n.frames > 1 {
                    format!("{:.2}", (n.frames - 1) as f64 / span)
                } else {
                    "n/a".to_string()
                };
                let (rx, tx, sc) = n.shape;
                vec![
                    n.node.to_string(),
                    n.frames.to_string(),
                    esc(&n.kind),
                    format!("[{rx}, {tx}, {sc}]"),
                    format!("{span:.3}"),
                    rate,
                ]
            })
            .collect();
        let mut html = table(
            &format!(
                "{} CSI frames, {} node(s){}",
                self.len(),
                nodes.len(),
                if nodes.len() == MAX_NODES {
                    " (first 64 listed)"
                } else {
                    ""
                }
            ),
            &[
                "node",
                "frames",
                "format / device",
                "shape",
                "span (s)",
                "mean rate (Hz)",
            ],
            &node_rows,
        );
        let first: Vec<Vec<String>> = self
            .iter()
            .take(FIRST_ROWS)
            .map(|f| {
                vec![
                    f.timestamp_ns.to_string(),
                    f.node_id.to_string(),
                    opt(f.sequence),
                    opt(f.rssi_dbm),
                    format!("{:.3}", mean_amplitude(f)),
                ]
            })
            .collect();
        if !first.is_empty() {
            html.push_str(&table(
                &format!("first {} frames", first.len()),
                &["timestamp_ns", "node", "sequence", "rssi_dbm", "mean |H|"],
                &first,
            ));
        }
        Content::html(html)
    }
}

impl EvcxrDisplay for Vec<CsiFrame> {
    fn content(&self) -> Content {
        self.as_slice().content()
    }
}

impl EvcxrDisplay for Capture {
    fn content(&self) -> Content {
        let s = self.stats();
        let issue = |i: &Option<wifi_sensing_core::reader::Issue>| {
            i.as_ref()
                .map(|i| esc(&i.message))
                .unwrap_or_else(|| "no".to_string())
        };
        let rows = vec![
            vec!["name".into(), esc(self.name().unwrap_or("(unnamed)"))],
            vec!["format".into(), esc(self.format().name())],
            vec!["bytes read".into(), self.bytes_read().to_string()],
            vec!["frames read".into(), s.frames.to_string()],
            vec!["non-CSI records".into(), s.aux_records.to_string()],
            vec!["malformed (skipped)".into(), s.malformed.to_string()],
            vec!["passed over".into(), s.passed_over.to_string()],
            vec!["truncated".into(), issue(&s.truncated)],
            vec!["fatal".into(), issue(&s.fatal)],
        ];
        Content::html(table(
            "Capture (counts so far: it reads as it is iterated)",
            &["", ""],
            &rows,
        ))
    }
}

impl EvcxrDisplay for SpectrogramMatrix {
    fn content(&self) -> Content {
        let title = format!(
            "{} columns, {:.1} Hz measured, {:.2} s window, {} gaps",
            self.times_s.len(),
            self.rate_hz,
            self.nperseg as f64 / self.rate_hz,
            self.gaps
        );
        match wifi_sensing_signal::plot::spectrogram_png(self, &title, false, (900, 450)) {
            Ok(png) => Png(png).content(),
            Err(e) => Content::html(format!(
                "<p>spectrogram not drawn: {}</p>",
                esc(&e.to_string())
            )),
        }
    }
}

fn rate(r: &VitalRate) -> String {
    match (r.rate_per_min, &r.reason) {
        (Some(v), _) => format!("{v:.1}/min (confidence {:.2})", r.confidence),
        (None, Some(why)) => format!("none: {}", esc(&name(why))),
        (None, None) => "none".to_string(),
    }
}

fn sensed_row(s: &Sensed) -> Vec<String> {
    match s {
        Sensed::Event(Event {
            event,
            timestamp_ns,
            node_id,
            confidence,
            statistic,
            value,
            threshold,
            ..
        }) => vec![
            secs(*timestamp_ns),
            node_id.map_or("fused".to_string(), |n| n.to_string()),
            esc(&name(event)),
            format!(
                "{} = {value:.4} vs {threshold:.4}, confidence {confidence:.2}",
                esc(&name(statistic))
            ),
        ],
        Sensed::VitalSigns { node_id, value: v } => vec![
            secs(v.window_end_ns),
            node_id.to_string(),
            "vital_signs".to_string(),
            format!(
                "breathing {}, heart {}, window {:.0} s",
                rate(&v.breathing),
                rate(&v.heart),
                v.window_s
            ),
        ],
    }
}

impl EvcxrDisplay for [Sensed] {
    fn content(&self) -> Content {
        let rows: Vec<Vec<String>> = self.iter().map(sensed_row).collect();
        Content::html(table(
            &format!("{} events and vital-sign estimates", self.len()),
            &["time (s)", "node", "type", "details"],
            &rows,
        ))
    }
}

impl EvcxrDisplay for Vec<Sensed> {
    fn content(&self) -> Content {
        self.as_slice().content()
    }
}

impl EvcxrDisplay for Sensed {
    fn content(&self) -> Content {
        std::slice::from_ref(self).content()
    }
}

#[cfg(feature = "pose")]
impl EvcxrDisplay for crate::pose::Pose {
    fn content(&self) -> Content {
        let rows: Vec<Vec<String>> = self
            .keypoints
            .iter()
            .map(|k| {
                vec![
                    esc(&k.name),
                    format!("{:.3}", k.x),
                    format!("{:.3}", k.y),
                    k.z.map(|z| format!("{z:.3}")).unwrap_or_default(),
                    format!("{:.2}", k.confidence),
                ]
            })
            .collect();
        Content::html(table(
            &format!(
                "pose from {} {} ({}), window {}..{} s, {} nodes, confidence {:.2}, frame {}, {}",
                self.model.id,
                self.model.version,
                self.model.backend,
                secs(self.window.start_ns),
                secs(self.window.end_ns),
                self.window.nodes.len(),
                self.confidence,
                self.coordinate_frame,
                if self.heading_from_track {
                    "heading from the track"
                } else {
                    "no heading from the track"
                }
            ),
            &["keypoint", "x", "y", "z", "confidence"],
            &rows,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wifi_sensing_core::sim::{DeviceProfile, Scenario, Simulator};

    fn sim(secs: f64) -> Vec<CsiFrame> {
        let s = Simulator::new(
            Scenario::preset("walk", secs).unwrap(),
            DeviceProfile::esp32(),
            1,
        )
        .unwrap();
        s.map(|(f, _)| f).collect()
    }

    #[test]
    fn frames_show_a_node_table_and_escape_text() {
        let frames = sim(2.0);
        let c = frames.content();
        assert_eq!(c.mime, "text/html");
        assert!(c
            .data
            .contains(&format!("{} CSI frames, 1 node(s)", frames.len())));
        assert!(c.data.contains("first 5 frames"));
        let f = frames[0].content();
        assert!(f.data.contains("<td>node_id</td>"));
        assert_eq!(esc("<a&\"b>"), "&lt;a&amp;&quot;b&gt;");
    }

    #[cfg(feature = "pose")]
    #[test]
    fn a_pose_says_whether_it_has_a_heading() {
        use crate::pose::{Keypoint, ModelRef, Pose, WindowSpan};
        let mut pose = Pose {
            source: "model".into(),
            model: ModelRef {
                id: "m".into(),
                version: "1".into(),
                sha256: "0".repeat(64),
                backend: "tract".into(),
            },
            window: WindowSpan {
                start_ns: 0,
                end_ns: 300_000_000,
                frames: 4,
                frame_rate_hz: 10.0,
                missing_frames: 0,
                nodes: vec![1],
                last_frame_ns: vec![299_000_000],
            },
            coordinate_frame: "room_m".into(),
            keypoints: vec![Keypoint {
                name: "nose".into(),
                x: 1.0,
                y: 2.0,
                z: Some(1.5),
                confidence: 0.9,
            }],
            joint_confidence: vec![0.9],
            confidence: 0.9,
            heading_from_track: false,
            densepose: None,
        };
        assert!(pose.content().data.contains("no heading from the track"));
        pose.heading_from_track = true;
        let c = pose.content();
        assert!(c.data.contains(", heading from the track"), "{}", c.data);
    }

    #[test]
    fn a_capture_cut_inside_its_last_record_gives_the_frames_before_the_cut() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/intel5300/example.dat"
        );
        let (whole, stats) = read_frames_with_stats(path, 100_000).unwrap();
        assert!(stats.truncated.is_none());
        let bytes = std::fs::read(path).unwrap();
        let cut = std::env::temp_dir().join(format!(
            "wifi-sensing-notebook-cut-{}.dat",
            std::process::id()
        ));
        std::fs::write(&cut, &bytes[..bytes.len() - 40]).unwrap();
        let (frames, stats) = read_frames_with_stats(&cut, 100_000).unwrap();
        let plain = read_frames(&cut, 100_000).unwrap();
        std::fs::remove_file(&cut).unwrap();
        assert_eq!(frames.len(), whole.len() - 1);
        assert_eq!(plain.len(), frames.len());
        assert_eq!(frames[..], whole[..whole.len() - 1]);
        assert!(stats.truncated.is_some(), "{stats:?}");
        assert_eq!(stats.frames, frames.len() as u64);
    }

    #[test]
    fn images_are_base64_png() {
        let frames = sim(6.0);
        let png = amplitude_heatmap(&frames, None).unwrap();
        let c = png.content();
        assert_eq!(c.mime, "image/png");
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&c.data)
            .unwrap();
        assert_eq!(bytes, png.0);
        assert_eq!(&bytes[1..4], b"PNG");
        let s = spectrogram_of(&frames, None, &SpectrogramConfig::default()).unwrap();
        assert_eq!(s.content().mime, "image/png");
    }

    #[test]
    fn events_show_as_a_table_and_helpers_refuse_what_they_cannot_do() {
        let frames = sim(20.0);
        let sensed = sense(&frames, SensingConfig::default()).unwrap();
        let c = sensed.content();
        assert!(c.data.contains("motion_started"), "{}", c.data);
        assert!(matches!(
            amplitude_heatmap(&[], None),
            Err(Error::NoFrames(_))
        ));
        assert!(matches!(
            node_frames(&frames, Some(999)),
            Err(Error::NoFrames(_))
        ));
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/intel5300/example.dat"
        );
        assert!(matches!(
            read_frames(path, 3),
            Err(Error::TooManyFrames { limit: 3, .. })
        ));
    }
}
