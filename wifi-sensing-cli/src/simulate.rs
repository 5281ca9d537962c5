//! `wifi-sensing simulate`: synthetic CSI with ground truth, written through the normal writers.

use std::io::{BufWriter, Write};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use wifi_sensing_core::formats::adr018;
use wifi_sensing_core::formats::pcap::{PcapWriter, TsResolution};
use wifi_sensing_core::recording::{RecordingHeader, RecordingWriter};
use wifi_sensing_core::sim::export::{self, Esp32CsvWriter};
use wifi_sensing_core::sim::truth::TruthWriter;
use wifi_sensing_core::sim::{
    ActivityMix, DeviceProfile, RandomSession, Receivers, Scenario, Simulator,
};
use wifi_sensing_core::{CsiFrame, JsonLinesSink, Output, Record, Sink};

use crate::{output, Log};

/// Options of the `simulate` command.
///
/// The output format follows the file name: `.pcap` (ADR-018 datagrams over UDP, as if
/// captured on the node's port) and `.csv` (ESP32-CSI-Tool) for `--device esp32`; `.csirec`,
/// `.jsonl`, or `-` for JSON Lines on stdout, for every device. The same arguments and seed
/// give byte-identical files.
///
/// Several receiver nodes (`--nodes reference3`, or a scenario file whose `rx` is a list) share
/// one capture: `.pcap` gives each node its ADR-018 node id and source address, `.csirec` and
/// `.jsonl` keep the frames' node ids; `.csv` carries no node id and takes one receiver only.
#[derive(clap::Args, Debug)]
pub(crate) struct SimulateArgs {
    /// Preset (default mixed): `empty` (nobody); `still` (a person standing motionless who
    /// does not breathe: the static-presence case); `breathe` (a person sitting, breathing 15
    /// /min); `walk` (laps of the room); `gesture:wave|push|pull` (standing, the gesture
    /// repeated through the middle 60 %); `mixed` (absent, walk in, stand, wave, walk out, absent). Presets lay their
    /// timeline over `--duration`: a `mixed` of 60 s walks at a normal pace, one of 7 s races.
    #[arg(long, value_parser = crate::values::scenario, conflicts_with_all = ["scenario_file", "random"])]
    pub scenario: Option<String>,
    /// A JSON scenario file describing your own room, person and timeline.
    #[arg(long, conflicts_with = "random")]
    pub scenario_file: Option<PathBuf>,
    /// A seeded random session instead of a preset: random person, activities, positions,
    /// headings, paths and timeline (the same SEED gives the same session; it is also the
    /// simulator seed unless --seed is given).
    #[arg(long, value_name = "SEED")]
    pub random: Option<u64>,
    /// With --random: draw the room too (size, wall reflectivity, furniture, radio positions).
    #[arg(long, requires = "random")]
    pub random_room: bool,
    /// With --random: activity weights, e.g. `walk=3,sit=2,stand=2,wave=1,push=1,pull=1,absent=0.5`
    /// (the default; unlisted activities get 0).
    #[arg(long, requires = "random", value_parser = activity_mix)]
    pub activities: Option<ActivityMix>,
    /// Receiver layout replacing the scenario's receivers: `one` (one node, id 1, at
    /// (4.5, 2, 1): where `reference3` has node 0) or `reference3` (nodes 0, 1, 2 at
    /// (4.5, 2, 1), (2.5, 3.8, 1.2), (2.5, 0.2, 1.2) m). With --random-room the receivers are
    /// drawn with the room: this then sets only their number and node ids (the positions are
    /// random, in the truth header's scenario).
    #[arg(long, value_parser = layout)]
    pub nodes: Option<String>,
    /// Duration (default 60s for presets and --random; a scenario file's own duration otherwise).
    #[arg(long, value_parser = crate::parse_duration, allow_hyphen_values = true)]
    pub duration: Option<Duration>,
    /// Frame rate in Hz (default 50, or the scenario file's).
    #[arg(long, value_parser = crate::values::rate_hz, allow_hyphen_values = true)]
    pub rate: Option<f64>,
    /// Device profile: esp32, intel5300 (also iwl5300, as pose manifests name it), nexmon80.
    #[arg(long, default_value = "esp32", value_parser = crate::values::device)]
    pub device: String,
    /// Random seed of the simulator (noise, drops, jitter, ...); default 7, or the --random SEED.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Output file (.pcap and .csv: esp32 only; .csirec, .jsonl) or `-` for stdout.
    #[arg(short, long, value_parser = crate::values::simulate_output)]
    pub output: String,
    /// Ground truth as JSON Lines (one line per frame after a header line); `-` for stdout.
    #[arg(long)]
    pub truth: Option<PathBuf>,
    /// ADR-018 node id in .pcap output of one receiver (default 1); with several receivers
    /// each node's own id is used.
    #[arg(long)]
    pub node_id: Option<u8>,
    /// UDP port of the ADR-018 datagrams in .pcap output (1-65535; default 5005).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    pub port: Option<u16>,
    /// Unix time (s) of the scenario start, for .pcap packet times (default 2026-01-01T00:00:00Z).
    #[arg(long, default_value_t = 1_767_225_600,
          value_parser = clap::value_parser!(i64).range(-9_223_372_036..=9_223_372_036))]
    pub start_unix_s: i64,
}

enum Out {
    Pcap(PcapWriter<BufWriter<std::fs::File>>),
    Csv(Esp32CsvWriter<BufWriter<std::fs::File>>),
    Rec(RecordingWriter<BufWriter<std::fs::File>>),
    Jsonl(JsonLinesSink<Box<dyn Write>>),
}

/// `--activities`: an activity mix.
fn activity_mix(s: &str) -> std::result::Result<ActivityMix, String> {
    s.parse()
        .map_err(|e: wifi_sensing_core::Error| e.to_string())
}

/// `--nodes`: a receiver layout name.
fn layout(s: &str) -> std::result::Result<String, String> {
    Receivers::by_name(s)
        .map(|_| s.to_string())
        .map_err(|e| e.to_string())
}

/// The scenario the arguments describe.
fn build_scenario(a: &SimulateArgs, duration_s: Option<f64>) -> Result<Scenario> {
    let nodes = a.nodes.as_deref().map(Receivers::by_name).transpose()?;
    if let Some(seed) = a.random {
        let mut cfg = RandomSession::new(seed, duration_s.unwrap_or(60.0));
        cfg.random_room = a.random_room;
        if let Some(r) = a.rate {
            cfg.rate_hz = r;
        }
        if let Some(m) = &a.activities {
            cfg.activities = m.clone();
        }
        if let Some(rx) = nodes {
            cfg.rx = rx;
        }
        // every value was checked at parse time: what is left is a combination (a duration
        // too short for the ranges), a usage error
        return cfg
            .scenario()
            .map_err(|e| crate::Usage(e.to_string()).into());
    }
    let mut scenario = match (&a.scenario, &a.scenario_file) {
        // clap refuses both together
        (_, Some(p)) => {
            let mut s = Scenario::from_path(p)?;
            if let Some(d) = duration_s {
                s.duration_s = Some(d);
            }
            s
        }
        // the name was checked at parse time: what is left is a duration the preset cannot
        // fit, a usage error
        (name, None) => {
            let preset = name.as_deref().unwrap_or("mixed");
            Scenario::preset(preset, duration_s.unwrap_or(60.0)).map_err(|e| {
                crate::Usage(format!(
                    "{e}; the preset `{preset}` lays its timeline over --duration, so its \
                     walks slow down as the duration grows: for a long capture use `--scenario \
                     walk`, `breathe` or `empty`, `--random SEED`, or a scenario file"
                ))
            })?
        }
    };
    if let Some(r) = a.rate {
        scenario.rate_hz = r;
    }
    if let Some(rx) = nodes {
        scenario.rx = rx;
        scenario.validate()?;
    }
    Ok(scenario)
}

pub(crate) fn simulate(a: SimulateArgs, log: &Log) -> Result<()> {
    let duration_s = a.duration.map(|d| d.as_secs_f64());
    let out_path = Path::new(&a.output);
    let ext = crate::values::extension(&a.output);
    if a.output != "-" && matches!(ext.as_str(), "pcap" | "csv") && a.device != "esp32" {
        crate::usage!(
            ".{ext} output carries ESP32 frames; --device {} needs .csirec or .jsonl",
            a.device
        );
    }
    if let Some(t) = &a.truth {
        if t.as_os_str() == "-" {
            if a.output == "-" {
                crate::usage!("-o - and --truth - would mix frames and ground truth on stdout: write one of them to a file");
            }
        } else if a.output != "-" {
            output::ensure_distinct(t, out_path, "simulated capture (-o)")?;
        } else {
            output::ensure_distinct(
                t,
                Path::new(output::STDOUT),
                "simulated capture (-o -, stdout)",
            )?;
        }
    }
    // options of another mode are refused, not ignored
    if a.random.is_none() {
        for (given, name) in [
            (a.random_room, "--random-room"),
            (a.activities.is_some(), "--activities"),
        ] {
            if given {
                crate::usage!("{name} shapes a random session: it needs --random SEED");
            }
        }
    }
    if ext != "pcap" || a.output == "-" {
        for (given, name) in [
            (a.node_id.is_some(), "--node-id"),
            (a.port.is_some(), "--port"),
        ] {
            if given {
                crate::usage!(
                    "{name} sets the ADR-018 datagrams of .pcap output; {} output does not have them",
                    if a.output == "-" { "stdout (JSON Lines)".to_string() } else { format!(".{ext}") }
                );
            }
        }
    }
    let scenario = build_scenario(&a, duration_s)?;
    let several = scenario.rx.arrays().len() > 1;
    if several && a.output != "-" {
        if ext == "csv" {
            crate::usage!(
                ".csv (ESP32-CSI-Tool) output carries no node id: {} receivers need .pcap, .csirec or .jsonl",
                scenario.rx.arrays().len()
            );
        }
        if ext == "pcap" && a.node_id.is_some() {
            crate::usage!("--node-id sets the id of a single receiver; with several, each node's own id goes into the .pcap");
        }
    }
    let seed = a.seed.or(a.random).unwrap_or(7);
    let profile = DeviceProfile::by_name(&a.device)?;
    let sim = Simulator::new(scenario, profile, seed)?;
    if several && ext == "pcap" && a.output != "-" {
        if let Some(id) = sim.node_ids().into_iter().find(|id| *id > 255) {
            crate::usage!(
                "node id {id} does not fit an ADR-018 datagram (0-255): use .csirec or .jsonl"
            );
        }
    }
    let header = sim.truth_header();
    let start_ns = a
        .start_unix_s
        .checked_mul(1_000_000_000)
        .context("--start-unix-s is out of range")?;

    let mut out = if a.output == "-" {
        let w: Box<dyn Write> = Box::new(output::stdout());
        Out::Jsonl(JsonLinesSink::new(w))
    } else {
        match ext.as_str() {
            "pcap" => {
                let mut w = PcapWriter::new(output::create_file(out_path, log)?, TsResolution::Nano)?;
                let id = a.node_id.unwrap_or(1);
                w.set_macs([0x02, 0x45, 0x53, 0x50, 0x00, id], [0x02, 0x48, 0x4F, 0x53, 0x54, 0x01]);
                Out::Pcap(w)
            }
            "csv" => Out::Csv(Esp32CsvWriter::new(output::create_file(out_path, log)?, true)?),
            "csirec" => {
                let config = serde_json::json!({
                    "scenario": sim.scenario(),
                    "device": a.device,
                    "seed": seed,
                });
                let mut h = RecordingHeader::new(format!("simulator: {}", sim.scenario().name), config.to_string());
                // the scenario start, not the wall clock: same arguments, byte-identical file
                h.created_unix_ns = start_ns;
                Out::Rec(RecordingWriter::new(output::create_file(out_path, log)?, &h)?)
            }
            "jsonl" | "json" => {
                let w: Box<dyn Write> = Box::new(output::create_file(out_path, log)?);
                Out::Jsonl(JsonLinesSink::new(w))
            }
            _ => bail!(
                "cannot tell the output format of {:?}: use .pcap (ADR-018 over UDP), .csv (ESP32-CSI-Tool), .csirec, .jsonl or -",
                a.output
            ),
        }
    };

    let truth = match &a.truth {
        Some(p) => {
            let w: Result<Box<dyn Write>> = if p.as_os_str() == "-" {
                Ok(Box::new(output::stdout()))
            } else {
                output::create_file(p, log).map(|f| Box::new(f) as Box<dyn Write>)
            };
            let t = w.and_then(|w| Ok(TruthWriter::new(w, &header)?));
            if t.is_err() && a.output != "-" {
                // nothing half-made is left behind: the capture file was created just above
                let _ = std::fs::remove_file(out_path);
            }
            Some(t?)
        }
        None => None,
    };
    let mut truth = truth;

    // One receiver: --node-id (default 1); several: each frame's own node id (checked above).
    let single_id = (!several).then(|| a.node_id.unwrap_or(1));
    let mut n = 0u64;
    let mut sim = sim;
    while let Some((gt, frames)) = sim.next_instant() {
        if let Some(t) = &mut truth {
            t.write(&gt)?;
        }
        for frame in &frames {
            let id = single_id.unwrap_or(frame.node_id as u8);
            write_frame(&mut out, frame, start_ns, id, a.port.unwrap_or(5005))?;
            n += 1;
        }
    }
    match out {
        Out::Pcap(mut w) => w.flush()?,
        Out::Csv(mut w) => w.flush()?,
        Out::Rec(mut w) => w.flush()?,
        Out::Jsonl(mut s) => s.finish(&Default::default())?,
    }
    if let Some(mut t) = truth {
        t.flush()?;
    }
    log.info(format_args!(
        "simulated {:.1} s of {:?} on {} (seed {}, node ids {:?}): {} frames written, {} dropped by the impairment model",
        sim.duration_s(),
        sim.scenario().name,
        a.device,
        seed,
        sim.node_ids(),
        n,
        sim.dropped()
    ));
    Ok(())
}

/// Writes one frame; `node_id` is its ADR-018 node id (and source address) in a pcap.
fn write_frame(
    out: &mut Out,
    frame: &CsiFrame,
    start_ns: i64,
    node_id: u8,
    port: u16,
) -> Result<()> {
    match out {
        Out::Pcap(w) => {
            let d = adr018::encode_csi(&export::to_adr018(frame, node_id)?)?;
            let src = Ipv4Addr::new(192, 168, 1, 100u8.saturating_add(node_id % 100));
            let dst = Ipv4Addr::new(192, 168, 1, 10);
            w.write_udp(start_ns + frame.timestamp_ns, src, dst, port, port, &d)?;
        }
        Out::Csv(w) => w.write(frame)?,
        Out::Rec(w) => w.write(&Record::Frame(frame.clone()))?,
        Out::Jsonl(s) => {
            s.item(&Output::Frame(frame.clone()))?;
        }
    }
    Ok(())
}
