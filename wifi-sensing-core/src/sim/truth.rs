//! Ground truth of a simulated run and its JSON Lines form.
//!
//! A truth file (conventionally `<output>.truth.jsonl`) holds one [`TruthHeader`] line, then one
//! [`GroundTruth`] line per *frame instant* (frame slot `n`, nominal time `n / rate`) at which at
//! least one receiver produced a frame, in time order (dropped frames have neither a frame nor a
//! truth line). Times are nanoseconds of simulation time, the same clock as the frames'
//! `timestamp_ns` (`Clock::Simulated`).
//!
//! # Several receivers
//!
//! With one receiver (scenario `rx` is an object) each line belongs to exactly one frame, with
//! the same `sequence` and `timestamp_ns`. With a list of receivers every node produces its own
//! frame of slot `n`, all with `sequence = n` (per-node sequence numbers, gaps where that node
//! dropped the frame) and each with its own jittered timestamp. The slot still has one truth
//! line: the body state at the instant of its earliest frame (`timestamp_ns` and `impairments`
//! are that frame's), and `nodes` lists the frames of the instant, `{node_id, timestamp_ns,
//! impairments}` in time order: exactly the node ids that produced a frame of slot `n`. Join
//! frames to truth on `(sequence)` (or `frame_index`, which does not wrap). The other nodes'
//! frames are measured up to 45 % of a frame period (9 ms at 50 Hz) later or earlier than the
//! line's pose; the simulator evaluates each node's channel at its own instant. The header's
//! `nodes` describes every receiver (id, antennas, chain phases, scale, reference power).
//!
//! # Keypoint coordinates
//!
//! `keypoints` lists the 17 COCO joints ([`COCO_KEYPOINTS`](super::body::COCO_KEYPOINTS) order) as
//! `[x / size_x, y / size_y, z / size_z]`: room coordinates divided by the room size (see
//! [`scenario`](super::scenario) for the room frame: origin at a floor corner, `z` up). A point
//! inside the room lies in `[0, 1]³`; a hand stretched past a wall may lie slightly outside.
//! Multiply by `room_size_m` of the header to get metres.

use std::io::{BufRead, Write};

use serde::{Deserialize, Serialize};

use super::body::{Activity, MotionState};
use super::device::DeviceProfile;
use super::impairments::FrameImpairments;
use super::scenario::{Antennas, Scenario};
use crate::error::{Error, Result};
use crate::frame::CaptureFormat;

/// Value of [`TruthHeader::format`].
pub const TRUTH_FORMAT: &str = "wifi-sensing-sim-truth";
/// Version of the truth file layout.
pub const TRUTH_VERSION: u32 = 1;

/// First line of a truth file: everything needed to reproduce and interpret the run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TruthHeader {
    /// Always [`TRUTH_FORMAT`].
    pub format: String,
    /// Always [`TRUTH_VERSION`].
    pub version: u32,
    /// [`MODEL_VERSION`](super::MODEL_VERSION) of the simulator that produced the run.
    pub model_version: u32,
    /// The seed.
    pub seed: u64,
    /// The device profile.
    pub device: DeviceProfile,
    /// The scenario, as simulated.
    pub scenario: Scenario,
    /// Simulated duration, s.
    pub duration_s: f64,
    /// Nominal frame rate, Hz.
    pub rate_hz: f64,
    /// Number of frame slots (produced + dropped frames).
    pub frame_slots: u64,
    /// Room size, m (the keypoint normalisation).
    pub room_size_m: [f64; 3],
    /// Names of the 17 keypoints, in order.
    pub keypoint_names: Vec<String>,
    /// Description of the keypoint coordinate frame.
    pub keypoint_frame: String,
    /// Subcarrier index of each CSI column.
    pub subcarriers: Vec<i16>,
    /// Constant phase of each receive chain, radians (see the impairment model).
    pub chain_phase_rad: Vec<f64>,
    /// Scale from channel units to output units at AGC gain 0 dB.
    pub base_scale: f64,
    /// Mean power of the empty-room channel over the active subcarriers (channel units), the
    /// SNR reference.
    pub reference_power: f64,
    /// Every receiver node, in receiver order (the three fields above are the first one's).
    #[serde(default)]
    pub nodes: Vec<NodeHeader>,
}

/// One receiver node of a run, in the [`TruthHeader`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeHeader {
    /// The node id its frames carry.
    pub node_id: u32,
    /// Its antenna array.
    pub rx: Antennas,
    /// Constant phase of each of its receive chains, radians.
    pub chain_phase_rad: Vec<f64>,
    /// Scale from channel units to output units at AGC gain 0 dB.
    pub base_scale: f64,
    /// Mean power of its empty-room channel over the active subcarriers (channel units).
    pub reference_power: f64,
}

/// One frame of a frame instant, in [`GroundTruth::nodes`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeFrame {
    /// The node id of the frame.
    pub node_id: u32,
    /// The frame's timestamp, ns of simulation time (each node has its own jitter).
    pub timestamp_ns: i64,
    /// The impairments applied to that frame.
    pub impairments: FrameImpairments,
}

/// Ground truth of one produced frame.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroundTruth {
    /// Frame slot index `n` (nominal time `n / rate`), counting dropped frames.
    pub frame_index: u64,
    /// The frame's sequence number (`frame_index` modulo 2³²).
    pub sequence: u32,
    /// The frame's timestamp, ns of simulation time (jitter included).
    pub timestamp_ns: i64,
    /// A person is in the room.
    pub presence: bool,
    /// Coarse motion state.
    pub motion: MotionState,
    /// Start of the current run of this motion state (consecutive segments with the same
    /// state are merged), ns.
    pub motion_start_ns: i64,
    /// End of that run, ns (clipped to the duration).
    pub motion_end_ns: i64,
    /// Activity label.
    pub activity: Activity,
    /// Start of the current activity segment, ns.
    pub activity_start_ns: i64,
    /// End of the current activity segment, ns (clipped to the duration).
    pub activity_end_ns: i64,
    /// Breathing rate, breaths per minute, when a breathing person is present.
    pub breathing_bpm: Option<f64>,
    /// Instantaneous heart rate (60 / current RR interval), beats per minute, when present.
    pub heart_bpm: Option<f64>,
    /// Chest displacement from breathing plus heartbeat along the facing direction, mm, when
    /// present.
    pub chest_displacement_mm: Option<f64>,
    /// Floor position `[x, y]` under the pelvis, m, when present.
    pub position_m: Option<[f64; 2]>,
    /// Facing direction, a horizontal unit vector `[x, y]`, when present.
    pub facing: Option<[f64; 2]>,
    /// The 17 COCO keypoints, normalised by the room size (see the [module docs](self)), when
    /// present.
    pub keypoints: Option<[[f32; 3]; 17]>,
    /// The impairments applied to this frame (with several receivers: to the first frame of
    /// the instant, the one `timestamp_ns` belongs to).
    pub impairments: FrameImpairments,
    /// Scenarios whose `rx` is a list: the frames of this instant, one per node that did not
    /// drop it, in time order (the first is the one `timestamp_ns` and `impairments` describe).
    /// Empty, and left out of the JSON, for a single receiver object.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<NodeFrame>,
}

fn json_err(e: serde_json::Error) -> Error {
    if e.is_io() {
        // the writer's own error, kind included (a closed stdout stays a broken pipe)
        Error::io("cannot write ground truth", std::io::Error::from(e))
    } else {
        Error::Encode(e.to_string())
    }
}

/// Writes a truth file: the header on construction, then one line per [`GroundTruth`].
///
/// ```
/// use wifi_sensing_core::sim::{Simulator, Scenario, DeviceProfile, TruthWriter};
/// let sim = Simulator::new(Scenario::preset("walk", 1.0)?, DeviceProfile::esp32(), 7)?;
/// let mut w = TruthWriter::new(Vec::new(), &sim.truth_header())?;
/// for (_frame, truth) in sim {
///     w.write(&truth)?;
/// }
/// let text = String::from_utf8(w.into_inner()).unwrap();
/// assert!(text.lines().next().unwrap().contains("wifi-sensing-sim-truth"));
/// # Ok::<(), wifi_sensing_core::Error>(())
/// ```
#[derive(Debug)]
pub struct TruthWriter<W: Write> {
    out: W,
    written: u64,
}

impl<W: Write> TruthWriter<W> {
    /// Writes the header line.
    pub fn new(mut out: W, header: &TruthHeader) -> Result<Self> {
        serde_json::to_writer(&mut out, header).map_err(json_err)?;
        out.write_all(b"\n")
            .map_err(|e| Error::io("cannot write ground truth", e))?;
        Ok(TruthWriter { out, written: 0 })
    }

    /// Appends one line.
    pub fn write(&mut self, t: &GroundTruth) -> Result<()> {
        serde_json::to_writer(&mut self.out, t).map_err(json_err)?;
        self.out
            .write_all(b"\n")
            .map_err(|e| Error::io("cannot write ground truth", e))?;
        self.written += 1;
        Ok(())
    }

    /// Lines written after the header.
    pub fn lines_written(&self) -> u64 {
        self.written
    }

    /// Flushes the underlying writer.
    pub fn flush(&mut self) -> Result<()> {
        self.out
            .flush()
            .map_err(|e| Error::io("cannot flush ground truth", e))
    }

    /// Returns the underlying writer.
    pub fn into_inner(self) -> W {
        self.out
    }
}

/// Reads a truth file: [`TruthReader::header`], then the lines as an iterator.
///
/// A line that does not parse is a recoverable [`Error::Malformed`] (with its byte offset and
/// line number); I/O errors end the iteration.
#[derive(Debug)]
pub struct TruthReader<R: BufRead> {
    input: R,
    header: TruthHeader,
    offset: u64,
    line: u64,
    buf: String,
    done: bool,
}

fn malformed(offset: u64, line: u64, reason: String) -> Error {
    Error::Malformed {
        format: CaptureFormat::Simulated,
        offset,
        line: Some(line),
        reason,
    }
}

impl<R: BufRead> TruthReader<R> {
    /// Reads and checks the header line.
    pub fn new(mut input: R) -> Result<Self> {
        let mut buf = String::new();
        let n = input
            .read_line(&mut buf)
            .map_err(|e| Error::io("cannot read ground truth", e))?;
        let header: TruthHeader =
            serde_json::from_str(buf.trim_end()).map_err(|e| Error::InvalidHeader {
                format: CaptureFormat::Simulated,
                offset: 0,
                reason: format!("not a simulator truth header: {e}"),
            })?;
        if header.format != TRUTH_FORMAT || header.version != TRUTH_VERSION {
            return Err(Error::Unsupported {
                format: CaptureFormat::Simulated,
                reason: format!("truth file {} version {}", header.format, header.version),
            });
        }
        Ok(TruthReader {
            input,
            header,
            offset: n as u64,
            line: 1,
            buf,
            done: false,
        })
    }

    /// The header.
    pub fn header(&self) -> &TruthHeader {
        &self.header
    }
}

impl<R: BufRead> Iterator for TruthReader<R> {
    type Item = Result<GroundTruth>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            self.buf.clear();
            let start = self.offset;
            let n = match self.input.read_line(&mut self.buf) {
                Ok(n) => n,
                Err(e) => {
                    self.done = true;
                    return Some(Err(Error::io("cannot read ground truth", e)));
                }
            };
            if n == 0 {
                self.done = true;
                return None;
            }
            self.offset += n as u64;
            self.line += 1;
            let text = self.buf.trim_end();
            if text.is_empty() {
                continue;
            }
            return Some(
                serde_json::from_str(text)
                    .map_err(|e| malformed(start, self.line, format!("bad truth line: {e}"))),
            );
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::Simulator;

    /// A writer whose reader went away, as stdout closed by `| head`.
    #[derive(Debug)]
    struct Closed;

    impl Write for Closed {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_closed_output_is_reported_as_a_broken_pipe() {
        let sim = Simulator::new(
            Scenario::preset("walk", 1.0).unwrap(),
            DeviceProfile::esp32(),
            7,
        )
        .unwrap();
        let e = TruthWriter::new(Closed, &sim.truth_header()).unwrap_err();
        assert!(e.is_broken_pipe(), "{e:?}");
    }
}
