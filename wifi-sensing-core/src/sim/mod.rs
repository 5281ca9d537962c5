//! A physically grounded, deterministic CSI simulator with ground truth.
//!
//! Real captures rarely come with ground truth. The simulator produces [`CsiFrame`]s that look
//! like a chosen device's (shape, subcarrier indices, quantised values, channel, bandwidth,
//! RSSI and noise floor), together with a [`GroundTruth`] record per frame: presence, motion
//! state and its start and end, activity label, breathing and heart rate, the 17 COCO
//! keypoints, and every impairment applied. The same scenario, device and seed always give
//! byte-identical output, on every platform.
//!
//! ```
//! use wifi_sensing_core::sim::{Simulator, Scenario, DeviceProfile};
//! let scenario = Scenario::preset("breathe", 10.0)?;
//! let mut sim = Simulator::new(scenario, DeviceProfile::esp32(), 7)?;
//! let (frame, truth) = sim.next().unwrap();
//! assert_eq!(frame.shape(), (1, 1, 64));
//! assert!(truth.presence);
//! assert_eq!(truth.breathing_bpm, Some(15.0));
//! # Ok::<(), wifi_sensing_core::Error>(())
//! ```
//!
//! # Physical model
//!
//! **Channel.** For transmit antenna `t`, receive antenna `r` and subcarrier `k` at frequency
//! `f_k = f_c + k·Δf` (`Δf` = 312.5 kHz), the channel is the sum over propagation paths
//!
//! ```text
//! H[r][t][k] = Σ_p a_p · exp( j·(φ_p − 2π · f_k · L_p / c) )
//! ```
//!
//! with path length `L_p`, amplitude `a_p` and surface phase `φ_p` ([`geometry`]). The paths are
//! the line of sight (Friis amplitude `λ/4πL`), the six first-order specular reflections off the
//! walls, floor and ceiling of the box-shaped room (image method, reflectivity `Γ`, phase `π`),
//! static point reflectors for furniture, and the person's point scatterers (bistatic radar
//! equation `λ√σ / ((4π)^{3/2} d₁ d₂)` with path length `L = |tx − p| + |p − rx|`). The static
//! part is computed once; each frame adds the body. A path-length change `ΔL` rotates a path's
//! phase by `2π·ΔL/λ_k` on subcarrier `k`: for a reflector at distance `d` from a co-located
//! transmitter and receiver `ΔL = 2Δd`, i.e. `4π·Δd/λ`, so moving it by `λ/2` is one full
//! turn. Amplitude changes per subcarrier come from the interference of the moving paths with
//! the static ones (Fresnel-zone behaviour), not from a separate amplitude model.
//!
//! **Person** ([`body`]): a COCO-17 skeleton with segment scatterers and chest/abdomen
//! surfaces (about 1 m² of radar cross-section), driven through stand, sit, walk, wave, push,
//! pull or absent; breathing (a few mm at a given rate) and heartbeat (sub-mm, with
//! beat-to-beat variability) move the chest along the facing direction.
//!
//! **Impairments** ([`impairments`]): frame-time jitter, dropped frames, a per-frame timing
//! offset (linear phase across subcarriers), carrier frequency offset (common phase), constant
//! chain phases, AGC gain steps, additive Gaussian noise at a chosen SNR, and quantisation to
//! the device's integer type.
//!
//! **Devices** ([`device`]): ESP32 HT20 (64 int8 pairs, indices 0..31 then −32..−1, DC and
//! guard pairs zero), Intel 5300 (30 groups, up to 3 × 3, int8), Nexmon 80 MHz (256 int16
//! values). Frames have `format = Simulated`, `clock = Simulated` (ns since the scenario
//! start) and `device` = the emulated radio.
//!
//! Not modelled: shadowing of paths by the body, multiple-bounce paths through the body,
//! antenna patterns (antennas are isotropic), and near-field effects (distances are floored
//! at 10 cm).
//!
//! # Several receivers
//!
//! A scenario's `rx` may list several receiver nodes (an ESP32 mesh, or several Intel 5300
//! NICs); [`Receivers::reference3`] is the three-node reference layout. All nodes hear the same
//! transmitter and see the same body, each through its own static channel, antennas,
//! chain phases, gain normalisation and AGC. Each node draws its timing jitter, drops, timing
//! offset, common phase, AGC steps and noise from its own random streams: node 0 from the
//! scenario seed itself (so its frames equal those of the same scenario with that receiver
//! alone, apart from the node id), node `k > 0` from a seed derived from `(seed, k)`. The
//! channel of each node is evaluated at its own (jittered) frame time. Frames of slot `n`
//! carry `sequence = n` on every node and come out in time order; the ground truth has one
//! line per slot listing the nodes that produced a frame ([`truth`]).
//!
//! # Random sessions
//!
//! [`RandomSession`] turns a seed into a varied [`Scenario`] (person, activities, positions,
//! headings, paths, timeline, optionally the room and radio positions); see [`random`].
//!
//! # Determinism
//!
//! All randomness comes from the seeded xoshiro256** generator of [`rng`], with an independent
//! stream per process and per frame, and all transcendental functions from [`math`] (the
//! platform's `sin`/`ln`/`exp` differ in the last bit between systems). Output of a given
//! [`MODEL_VERSION`] is therefore identical for a given scenario, device and seed; any change
//! of the model that alters output bumps that version.
//!
//! # Output
//!
//! [`Simulator`] iterates `(CsiFrame, GroundTruth)` (with several receivers, each frame with its
//! instant's truth; [`Simulator::next_instant`] gives an instant's frames together);
//! [`Simulator::frames`] gives the `Result<CsiFrame>` iterator that
//! [`Pipeline::process`](crate::Pipeline::process) takes, and [`Simulator::with_truth`] does the
//! same while writing the ground truth as JSON Lines ([`truth`]). [`export`] writes ADR-018 datagrams and ESP32-CSI-Tool CSV lines; the native
//! recording takes the frames as they are.

pub mod body;
pub mod device;
pub mod export;
pub mod geometry;
pub mod impairments;
pub mod math;
pub mod random;
pub mod rng;
pub mod scenario;
pub mod truth;

use std::io::Write;

use ndarray::Array3;
use num_complex::{Complex32, Complex64};

pub use body::{Activity, Gesture, MotionState, COCO_KEYPOINTS};
pub use device::{DeviceKind, DeviceProfile};
pub use impairments::{FrameImpairments, Impairments};
pub use random::{ActivityMix, RandomRoom, RandomSession};
pub use scenario::{Antennas, Receivers, Scenario, Segment, PRESETS};
pub use truth::{GroundTruth, NodeFrame, NodeHeader, TruthHeader, TruthReader, TruthWriter};

use crate::error::{Error, Result};
use crate::frame::{CaptureFormat, Clock, CsiFrame};
use geometry::{PointScatterer, Spectrum, Surface, Vec3};
use impairments::Agc;
use math::{db_to_amplitude, power_to_db, sin_cos_turns};
use rng::Rng;
use scenario::Timeline;

/// Version of the simulation model; output for a given seed is stable within a version.
pub const MODEL_VERSION: u32 = 1;

const STREAM_FRAME: u64 = 1;
const STREAM_HEART: u64 = 2;
const STREAM_BODY: u64 = 3;
const STREAM_CHAIN: u64 = 4;
const STREAM_VITALS: u64 = 5;
const STREAM_NODE: u64 = 6;

/// SNR assumed for the RSSI when the scenario has no noise, dB.
const RSSI_SNR_WITHOUT_NOISE_DB: f64 = 40.0;
/// Noise floor assumed for the RSSI of devices that report none, dBm.
const DEFAULT_NOISE_FLOOR_DBM: f64 = -95.0;

/// The simulator: an iterator of `(CsiFrame, GroundTruth)` over the frame slots of a scenario.
///
/// Build it with [`Simulator::new`]; the configuration is validated there, after which
/// iteration cannot fail. With several receivers ([`Receivers::Many`])
/// every frame slot gives up to one frame per node, in time order; [`Simulator::next_instant`]
/// returns them together with the slot's single ground-truth record, while the iterator yields
/// each frame with a copy of it.
#[derive(Clone, Debug)]
pub struct Simulator {
    scenario: Scenario,
    profile: DeviceProfile,
    seed: u64,
    duration: f64,
    n_slots: u64,
    next_slot: u64,
    spec: Spectrum,
    indices: Vec<i16>,
    /// Grid bin of each output column, `None` for a DC or guard column.
    columns: Vec<Option<usize>>,
    n_active: usize,
    tx: Vec<Vec3>,
    nodes: Vec<Node>,
    work: Vec<Complex64>,
    rot: Vec<Complex64>,
    timeline: Timeline,
    vitals: body::Vitals,
    phases: [f64; body::N_SCATTERERS],
    /// Frames of the current slot not yet handed out by the iterator.
    pending: std::collections::VecDeque<CsiFrame>,
    pending_truth: Option<GroundTruth>,
    /// Per-slot scratch: `(time µs, node index, draws)`.
    draws: Vec<(f64, usize, Draws)>,
}

/// One receiver node: its antennas, static channel, impairment state and random streams.
#[derive(Clone, Debug)]
struct Node {
    node_id: u32,
    /// Seed of this node's random streams: the scenario seed for node 0, derived for others.
    seed: u64,
    array: scenario::Antennas,
    rx: Vec<Vec3>,
    static_h: Vec<Complex64>,
    chain_phase: Vec<f64>,
    chain_rot: Vec<Complex64>,
    p_ref: f64,
    noise_sigma: f64,
    base_scale: f64,
    agc: Agc,
    dropped: u64,
}

/// The per-frame random draws of one node, in their fixed order.
#[derive(Clone, Debug)]
struct Draws {
    rng: Rng,
    u_drop: f64,
    z_tau: f64,
    u_phase: f64,
    u_agc: f64,
    t_ns: i64,
}

fn room_surfaces(s: &Scenario) -> [Surface; 6] {
    let r = &s.room;
    let w = r.wall_reflectivity;
    [
        Surface {
            axis: 0,
            coordinate: 0.0,
            reflectivity: w,
        },
        Surface {
            axis: 0,
            coordinate: r.size_m[0],
            reflectivity: w,
        },
        Surface {
            axis: 1,
            coordinate: 0.0,
            reflectivity: w,
        },
        Surface {
            axis: 1,
            coordinate: r.size_m[1],
            reflectivity: w,
        },
        Surface {
            axis: 2,
            coordinate: 0.0,
            reflectivity: r.floor_reflectivity,
        },
        Surface {
            axis: 2,
            coordinate: r.size_m[2],
            reflectivity: r.ceiling_reflectivity,
        },
    ]
}

fn ns(t_s: f64) -> i64 {
    (t_s * 1e9).round() as i64
}

impl Simulator {
    /// Validates the scenario and profile and prepares the static channel.
    ///
    /// Errors are [`Error::Config`] naming the offending field.
    pub fn new(scenario: Scenario, profile: DeviceProfile, seed: u64) -> Result<Simulator> {
        scenario.validate()?;
        profile.validate()?;
        let duration = scenario.effective_duration_s();
        if !(duration.is_finite() && duration > 0.0 && duration <= scenario::limits::MAX_DURATION_S)
        {
            return Err(Error::Config(format!(
                "scenario duration {duration} s must be in (0, {}] s",
                scenario::limits::MAX_DURATION_S
            )));
        }
        let n_slots = (duration * scenario.rate_hz + 1e-9).floor();
        if n_slots < 1.0 {
            return Err(Error::Config(format!(
                "duration {duration} s at {} Hz gives no frame",
                scenario.rate_hz
            )));
        }
        let n_slots = n_slots as u64;
        let indices = profile.subcarrier_indices();
        let spec = Spectrum::covering(
            f64::from(profile.center_freq_mhz()) * 1e6,
            profile.subcarrier_spacing_hz(),
            &indices,
        );
        let columns: Vec<Option<usize>> = indices
            .iter()
            .map(|&k| {
                if profile.is_active(k) {
                    spec.bin_of(k)
                } else {
                    None
                }
            })
            .collect();
        let n_active = columns.iter().filter(|c| c.is_some()).count();
        let half_lambda = spec.wavelength() / 2.0;
        let array = |a: &scenario::Antennas, n: usize| {
            geometry::antenna_positions(
                Vec3::from_array(a.position_m),
                Vec3::from_array(a.axis),
                a.spacing_m.unwrap_or(half_lambda),
                n,
            )
        };
        let tx = array(&scenario.tx, profile.n_tx);
        let nb = spec.n_bins;
        let surfaces = room_surfaces(&scenario);
        let reflectors: Vec<PointScatterer> = scenario
            .room
            .reflectors
            .iter()
            .map(|r| PointScatterer {
                position: Vec3::from_array(r.position_m),
                rcs_m2: r.rcs_m2,
                phase_turns: r.phase_deg / 360.0,
            })
            .collect();
        let imp = &scenario.impairments;
        let ids = scenario.rx.node_ids(profile.node_id);
        let mut nodes = Vec::with_capacity(ids.len());
        for (k, (a, &node_id)) in scenario.rx.arrays().iter().zip(&ids).enumerate() {
            let what = if scenario.rx.is_list() {
                format!("rx[{k}]")
            } else {
                "rx".to_string()
            };
            // Node 0 draws from the scenario seed itself, so its frames are those of the same
            // scenario with that receiver alone; the others from seeds derived from it.
            let node_seed = if k == 0 {
                seed
            } else {
                Rng::for_stream(seed, STREAM_NODE, k as u64).next_u64()
            };
            let rx = array(a, profile.n_rx);
            let mut static_h = vec![Complex64::new(0.0, 0.0); rx.len() * tx.len() * nb];
            for (ri, r) in rx.iter().enumerate() {
                for (ti, t) in tx.iter().enumerate() {
                    let out = &mut static_h[(ri * tx.len() + ti) * nb..][..nb];
                    geometry::add_line_of_sight(out, &spec, *t, *r);
                    for s in &surfaces {
                        geometry::add_reflection(out, &spec, *t, *r, s);
                    }
                    for p in &reflectors {
                        geometry::add_scatterer(out, &spec, *t, *r, p);
                    }
                }
            }
            let mut p_sum = 0.0;
            for pair in static_h.chunks_exact(nb) {
                for b in columns.iter().flatten() {
                    p_sum += pair[*b].norm_sqr();
                }
            }
            let p_ref = p_sum / (rx.len() * tx.len() * n_active.max(1)) as f64;
            if !(p_ref.is_finite() && p_ref > 0.0) {
                return Err(Error::Config(format!(
                    "the static channel of {what} has no power ({p_ref}); check the geometry"
                )));
            }
            let noise_var = imp
                .snr_db
                .map(|snr| p_ref / math::pow10(snr / 10.0))
                .unwrap_or(0.0);
            let base_scale = profile.target_rms() / (p_ref + noise_var).sqrt();
            let chain_phase: Vec<f64> = (0..rx.len())
                .map(|r| {
                    if imp.chain_phase_offsets {
                        2.0 * std::f64::consts::PI
                            * Rng::for_stream(node_seed, STREAM_CHAIN, r as u64).uniform()
                    } else {
                        0.0
                    }
                })
                .collect();
            let chain_rot = chain_phase
                .iter()
                .map(|p| {
                    let (s, c) = math::sin_cos(*p);
                    Complex64::new(c, s)
                })
                .collect();
            nodes.push(Node {
                node_id,
                seed: node_seed,
                array: a.clone(),
                rx,
                static_h,
                chain_phase,
                chain_rot,
                p_ref,
                noise_sigma: noise_var.sqrt(),
                base_scale,
                agc: Agc { gain_db: 0.0 },
                dropped: 0,
            });
        }
        let phases = body::draw_scatter_phases(&mut Rng::for_stream(seed, STREAM_BODY, 0));
        let person = &scenario.person;
        let breathing = person.breathing.as_ref().map(|b| {
            (
                b.rate_bpm / 60.0,
                b.amplitude_mm * 1e-3,
                Rng::for_stream(seed, STREAM_VITALS, 0).uniform(),
            )
        });
        let heart = person.heartbeat.as_ref().map(|h| {
            (
                h.rate_bpm / 60.0,
                h.variability_ms * 1e-3,
                h.amplitude_mm * 1e-3,
            )
        });
        let vitals = body::Vitals::new(breathing, heart, seed, STREAM_HEART);
        let timeline = Timeline::compile(&scenario, duration);
        let n_nodes = nodes.len();
        Ok(Simulator {
            duration,
            n_slots,
            next_slot: 0,
            work: vec![Complex64::new(0.0, 0.0); nodes.first().map_or(0, |n| n.static_h.len())],
            rot: vec![Complex64::new(0.0, 0.0); nb],
            spec,
            indices,
            columns,
            n_active,
            tx,
            nodes,
            timeline,
            vitals,
            phases,
            pending: std::collections::VecDeque::with_capacity(n_nodes),
            pending_truth: None,
            draws: Vec::with_capacity(n_nodes),
            scenario,
            profile,
            seed,
        })
    }

    /// The scenario being simulated.
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// The device profile.
    pub fn profile(&self) -> &DeviceProfile {
        &self.profile
    }

    /// Number of frame slots (frames produced plus frames dropped).
    pub fn frame_slots(&self) -> u64 {
        self.n_slots
    }

    /// Frames dropped so far (over all receiver nodes).
    pub fn dropped(&self) -> u64 {
        self.nodes.iter().map(|n| n.dropped).sum()
    }

    /// The node id of each receiver, in receiver order (see
    /// [`Receivers`]).
    pub fn node_ids(&self) -> Vec<u32> {
        self.nodes.iter().map(|n| n.node_id).collect()
    }

    /// Frames dropped so far by each receiver node, in receiver order.
    pub fn dropped_per_node(&self) -> Vec<u64> {
        self.nodes.iter().map(|n| n.dropped).collect()
    }

    /// The simulated duration, s.
    pub fn duration_s(&self) -> f64 {
        self.duration
    }

    /// The ground-truth header of this run. The top-level `chain_phase_rad`, `base_scale` and
    /// `reference_power` are the first receiver's; `nodes` has them for every receiver.
    pub fn truth_header(&self) -> TruthHeader {
        let nodes: Vec<truth::NodeHeader> = self
            .nodes
            .iter()
            .map(|n| truth::NodeHeader {
                node_id: n.node_id,
                rx: n.array.clone(),
                chain_phase_rad: n.chain_phase.clone(),
                base_scale: n.base_scale,
                reference_power: n.p_ref,
            })
            .collect();
        let first = nodes.first().cloned().unwrap_or(truth::NodeHeader {
            node_id: self.profile.node_id,
            rx: scenario::Antennas::default(),
            chain_phase_rad: Vec::new(),
            base_scale: 0.0,
            reference_power: 0.0,
        });
        TruthHeader {
            format: truth::TRUTH_FORMAT.to_string(),
            version: truth::TRUTH_VERSION,
            model_version: MODEL_VERSION,
            seed: self.seed,
            device: self.profile.clone(),
            scenario: self.scenario.clone(),
            duration_s: self.duration,
            rate_hz: self.scenario.rate_hz,
            frame_slots: self.n_slots,
            room_size_m: self.scenario.room.size_m,
            keypoint_names: COCO_KEYPOINTS.iter().map(|s| s.to_string()).collect(),
            keypoint_frame: "[x/size_x, y/size_y, z/size_z]: room coordinates (origin at a floor corner, z up) divided by room_size_m".to_string(),
            subcarriers: self.indices.clone(),
            chain_phase_rad: first.chain_phase_rad,
            base_scale: first.base_scale,
            reference_power: first.reference_power,
            nodes,
        }
    }

    /// The frames alone, as `Result`s for [`Pipeline::process`](crate::Pipeline::process).
    pub fn frames(self) -> Frames {
        Frames { sim: self }
    }

    /// The frames as `Result`s, writing the ground truth to `writer` on the way (one line per
    /// frame instant, before that instant's frames). A write error is yielded once and ends
    /// the iteration; the writer is flushed at the end.
    pub fn with_truth<W: Write>(self, writer: TruthWriter<W>) -> WithTruth<W> {
        WithTruth {
            sim: self,
            writer,
            frames: std::collections::VecDeque::new(),
            done: false,
        }
    }

    /// The next frame instant: its ground truth and the frames the receivers produced at it
    /// (one per node that did not drop it, in time order). Slots where every node dropped its
    /// frame are skipped. Do not mix with the [`Iterator`] (which buffers one instant).
    ///
    /// ```
    /// use wifi_sensing_core::sim::{DeviceProfile, Scenario, Simulator};
    /// let s = Scenario::reference_layout("walk", 5.0)?;
    /// let mut sim = Simulator::new(s, DeviceProfile::esp32(), 3)?;
    /// let (truth, frames) = sim.next_instant().unwrap();
    /// assert!(frames.len() <= 3);
    /// assert!(frames.iter().all(|f| f.sequence == Some(truth.sequence)));
    /// assert_eq!(truth.nodes.len(), frames.len());
    /// # Ok::<(), wifi_sensing_core::Error>(())
    /// ```
    pub fn next_instant(&mut self) -> Option<(GroundTruth, Vec<CsiFrame>)> {
        let mut frames = Vec::with_capacity(self.nodes.len());
        while self.next_slot < self.n_slots {
            let n = self.next_slot;
            self.next_slot += 1;
            if let Some(t) = self.simulate_slot(n, &mut frames) {
                return Some((t, frames));
            }
        }
        None
    }

    /// Simulates frame slot `n` on every node; pushes the frames in time order and returns the
    /// slot's truth, or `None` when every node dropped its frame.
    fn simulate_slot(&mut self, n: u64, frames: &mut Vec<CsiFrame>) -> Option<GroundTruth> {
        let imp = &self.scenario.impairments;
        let period = 1.0 / self.scenario.rate_hz;
        self.draws.clear();
        for (k, node) in self.nodes.iter().enumerate() {
            let mut rng = Rng::for_stream(node.seed, STREAM_FRAME, n);
            // Fixed draw order, whatever is switched on.
            let z_jitter = rng.normal();
            let u_drop = rng.uniform();
            let z_tau = rng.normal();
            let u_phase = rng.uniform();
            let u_agc = rng.uniform();
            let jitter = (z_jitter * imp.jitter_std_ms * 1e-3).clamp(-0.45 * period, 0.45 * period);
            // Radios time-stamp in microseconds: the frame is measured at a whole µs, so the
            // timestamp survives every wire format (pcap, ESP32 CSV, ADR-018 receive time)
            // exactly.
            let t_us = ((n as f64 * period + jitter).max(0.0) * 1e6).round();
            let t_ns = (t_us as i64).saturating_mul(1000);
            self.draws.push((
                t_us,
                k,
                Draws {
                    rng,
                    u_drop,
                    z_tau,
                    u_phase,
                    u_agc,
                    t_ns,
                },
            ));
        }
        // Time order (the body and vital signs only move forward); ties in node order.
        self.draws
            .sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let list = self.scenario.rx.is_list();
        let mut truth: Option<GroundTruth> = None;
        let draws = std::mem::take(&mut self.draws);
        for (t_us, k, d) in &draws {
            if d.u_drop < self.scenario.impairments.drop_prob {
                self.nodes[*k].dropped += 1;
                continue;
            }
            let t = t_us / 1e6;
            let (frame, state, vit, fi) = self.render(*k, n, t, d.clone());
            if list {
                let node = truth::NodeFrame {
                    node_id: frame.node_id,
                    timestamp_ns: d.t_ns,
                    impairments: fi,
                };
                match &mut truth {
                    Some(gt) => gt.nodes.push(node),
                    None => {
                        let mut gt = self.truth_of(n, d.t_ns, &state, &vit, fi);
                        gt.nodes.push(node);
                        truth = Some(gt);
                    }
                }
            } else if truth.is_none() {
                truth = Some(self.truth_of(n, d.t_ns, &state, &vit, fi));
            }
            frames.push(frame);
        }
        self.draws = draws;
        truth
    }

    /// The ground-truth line of slot `n`, from the body state at `t_ns`.
    fn truth_of(
        &self,
        n: u64,
        t_ns: i64,
        state: &scenario::BodyState,
        vit: &body::VitalState,
        impairments: FrameImpairments,
    ) -> GroundTruth {
        let size = self.scenario.room.size_m;
        let present = state.body.is_some();
        GroundTruth {
            frame_index: n,
            sequence: n as u32,
            timestamp_ns: t_ns,
            presence: present,
            motion: state.motion,
            motion_start_ns: ns(state.motion_span.0),
            motion_end_ns: ns(state.motion_span.1),
            activity: state.activity,
            activity_start_ns: ns(state.activity_span.0),
            activity_end_ns: ns(state.activity_span.1),
            breathing_bpm: if present { vit.breathing_bpm } else { None },
            heart_bpm: if present { vit.heart_bpm } else { None },
            chest_displacement_mm: present.then_some((vit.breathing_m + vit.heartbeat_m) * 1e3),
            position_m: state.body.as_ref().map(|(_, r, _)| [r.x, r.y]),
            facing: state.body.as_ref().map(|(_, _, f)| [f.x, f.y]),
            keypoints: state.body.as_ref().map(|(j, _, _)| {
                let mut k = [[0f32; 3]; 17];
                for (o, p) in k.iter_mut().zip(j) {
                    *o = [
                        (p.x / size[0]) as f32,
                        (p.y / size[1]) as f32,
                        (p.z / size[2]) as f32,
                    ];
                }
                k
            }),
            impairments,
            nodes: Vec::new(),
        }
    }

    /// The frame of node `k` in slot `n`, measured at `t` seconds.
    fn render(
        &mut self,
        k: usize,
        n: u64,
        t: f64,
        d: Draws,
    ) -> (
        CsiFrame,
        scenario::BodyState,
        body::VitalState,
        FrameImpairments,
    ) {
        let Draws {
            mut rng,
            z_tau,
            u_phase,
            u_agc,
            t_ns,
            ..
        } = d;
        let imp = &self.scenario.impairments;
        let state = self.timeline.at(t);
        let vit = self.vitals.at(t);
        let nb = self.spec.n_bins;
        let node = &mut self.nodes[k];
        let (n_rx, n_tx) = (node.rx.len(), self.tx.len());
        self.work.copy_from_slice(&node.static_h);
        let person = &self.scenario.person;
        if let Some((joints, _, facing)) = &state.body {
            let scat = body::scatterers(
                joints,
                *facing,
                person.height_m,
                person.rcs_scale,
                vit.breathing_m + vit.heartbeat_m,
                body::ABDOMEN_BREATHING_RATIO * vit.breathing_m,
                &self.phases,
            );
            for (ri, r) in node.rx.iter().enumerate() {
                for (ti, tx) in self.tx.iter().enumerate() {
                    let out = &mut self.work[(ri * n_tx + ti) * nb..][..nb];
                    for s in &scat {
                        geometry::add_scatterer(out, &self.spec, *tx, *r, s);
                    }
                }
            }
        }
        // Per-bin rotation: common phase and timing offset.
        let tau = z_tau * imp.timing_offset_std_ns * 1e-9;
        let common_turns = if imp.random_common_phase {
            u_phase
        } else {
            0.0
        } + imp.cfo_hz * t;
        let common_turns = common_turns - common_turns.floor();
        let slope_turns = -self.spec.spacing_hz * tau;
        let (s0, c0) = sin_cos_turns(common_turns + f64::from(self.spec.k_min) * slope_turns);
        let (sd, cd) = sin_cos_turns(slope_turns);
        let step = Complex64::new(cd, sd);
        let mut cur = Complex64::new(c0, s0);
        for r in self.rot.iter_mut() {
            *r = cur;
            cur *= step;
        }
        let gain_db = node.agc.gain_db;
        let scale = node.base_scale * db_to_amplitude(gain_db);
        let comp_sigma = node.noise_sigma * std::f64::consts::FRAC_1_SQRT_2;
        let (lo, hi) = self.profile.value_range();
        let quantise = imp.quantise;
        let n_cols = self.columns.len();
        let mut data = Vec::with_capacity(n_rx * n_tx * n_cols);
        let mut p_clean_chain = vec![0.0; n_rx];
        let mut p_out = 0.0;
        for (ri, (chain, p_chain)) in node
            .chain_rot
            .iter()
            .zip(p_clean_chain.iter_mut())
            .enumerate()
        {
            for ti in 0..n_tx {
                let h = &self.work[(ri * n_tx + ti) * nb..][..nb];
                for col in &self.columns {
                    let Some(b) = *col else {
                        data.push(Complex32::new(0.0, 0.0));
                        continue;
                    };
                    *p_chain += h[b].norm_sqr();
                    let mut v = h[b] * self.rot[b] * chain;
                    if comp_sigma > 0.0 {
                        v += Complex64::new(comp_sigma * rng.normal(), comp_sigma * rng.normal());
                    }
                    v *= scale;
                    p_out += v.norm_sqr();
                    if quantise {
                        v = Complex64::new(v.re.round().clamp(lo, hi), v.im.round().clamp(lo, hi));
                    }
                    data.push(Complex32::new(v.re as f32, v.im as f32));
                }
            }
        }
        if self.profile.kind == DeviceKind::Esp32
            && self.profile.esp32_junk_first_word
            && n_cols >= 2
        {
            // [imag, real] = [18, 38], [97, 0]
            data[0] = Complex32::new(38.0, 18.0);
            data[1] = Complex32::new(0.0, 97.0);
        }
        let per_chain = (n_tx * self.n_active).max(1) as f64;
        let p_out = p_out / (n_rx as f64 * per_chain);
        let target = self.profile.target_rms();
        node.agc
            .update(imp, power_to_db(p_out / (target * target)), u_agc);
        // The shape always matches the data pushed above.
        let csi = Array3::from_shape_vec((n_rx, n_tx, n_cols), data)
            .unwrap_or_else(|_| Array3::zeros((n_rx, n_tx, n_cols)));

        // Radio header fields.
        let nf = self.profile.noise_floor_dbm();
        let snr = imp.snr_db.unwrap_or(RSSI_SNR_WITHOUT_NOISE_DB);
        let base = f64::from(nf.unwrap_or(DEFAULT_NOISE_FLOOR_DBM as f32)) + snr;
        let chain_dbm: Vec<f64> = p_clean_chain
            .iter()
            .map(|p| (base + power_to_db(p / per_chain / node.p_ref)).round())
            .collect();
        let total_lin: f64 = chain_dbm.iter().map(|d| math::pow10(d / 10.0)).sum();
        let rssi = if n_rx == 1 {
            chain_dbm[0]
        } else {
            power_to_db(total_lin).round()
        };
        let mut frame = CsiFrame::new(CaptureFormat::Simulated, self.profile.device(), csi);
        frame.timestamp_ns = t_ns;
        frame.clock = Clock::Simulated;
        frame.node_id = node.node_id;
        frame.mac = Some(self.profile.mac);
        frame.sequence = Some(n as u32);
        frame.rssi_dbm = Some(rssi as f32);
        if n_rx > 1 {
            frame.chain_rssi = chain_dbm.iter().map(|d| *d as f32).collect();
        }
        frame.noise_floor_dbm = nf;
        frame.channel = Some(self.profile.channel);
        frame.center_freq_mhz = Some(self.profile.center_freq_mhz());
        frame.bandwidth_mhz = Some(self.profile.bandwidth_mhz());
        frame.subcarriers = Some(self.indices.clone());
        frame.meta = self.profile.frame_meta(t_ns, n_cols);
        let fi = FrameImpairments {
            timing_offset_ns: tau * 1e9,
            common_phase_rad: common_turns * 2.0 * std::f64::consts::PI,
            agc_gain_db: gain_db,
            scale,
            noise_std: comp_sigma * scale,
        };
        (frame, state, vit, fi)
    }
}

impl Iterator for Simulator {
    type Item = (CsiFrame, GroundTruth);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(f) = self.pending.pop_front() {
                let t = if self.pending.is_empty() {
                    self.pending_truth.take()
                } else {
                    self.pending_truth.clone()
                };
                // `pending_truth` is set whenever frames are pending.
                return t.map(|t| (f, t));
            }
            let (t, frames) = self.next_instant()?;
            self.pending.extend(frames);
            self.pending_truth = Some(t);
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = (self.n_slots - self.next_slot)
            .saturating_mul(self.nodes.len() as u64)
            .saturating_add(self.pending.len() as u64);
        (0, Some(usize::try_from(left).unwrap_or(usize::MAX)))
    }
}

/// The frames of a [`Simulator`] as `Result<CsiFrame>` (never an error).
#[derive(Clone, Debug)]
pub struct Frames {
    sim: Simulator,
}

impl Frames {
    /// The simulator (for its counters).
    pub fn simulator(&self) -> &Simulator {
        &self.sim
    }
}

impl Iterator for Frames {
    type Item = Result<CsiFrame>;

    fn next(&mut self) -> Option<Self::Item> {
        self.sim.next().map(|(f, _)| Ok(f))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.sim.size_hint()
    }
}

/// The frames of a [`Simulator`] as `Result<CsiFrame>`, with the ground truth written to a
/// [`TruthWriter`] as a side effect (one line per frame instant).
#[derive(Debug)]
pub struct WithTruth<W: Write> {
    sim: Simulator,
    writer: TruthWriter<W>,
    frames: std::collections::VecDeque<CsiFrame>,
    done: bool,
}

impl<W: Write> WithTruth<W> {
    /// The simulator (for its counters).
    pub fn simulator(&self) -> &Simulator {
        &self.sim
    }

    /// Returns the truth writer (flush it if the iteration was not run to the end).
    pub fn into_writer(self) -> TruthWriter<W> {
        self.writer
    }
}

impl<W: Write> Iterator for WithTruth<W> {
    type Item = Result<CsiFrame>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(f) = self.frames.pop_front() {
                return Some(Ok(f));
            }
            if self.done {
                return None;
            }
            match self.sim.next_instant() {
                Some((t, frames)) => {
                    if let Err(e) = self.writer.write(&t) {
                        self.done = true;
                        return Some(Err(e));
                    }
                    self.frames.extend(frames);
                }
                None => {
                    self.done = true;
                    return self.writer.flush().err().map(Err);
                }
            }
        }
    }
}
