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
use wifi_sensing_core::sim::{DeviceProfile, Scenario, Simulator};
use wifi_sensing_core::{CsiFrame, JsonLinesSink, Output, Record, Sink};

use crate::{output, Log};

/// Options of the `simulate` command.
///
/// The output format follows the file name: `.pcap` (ADR-018 datagrams over UDP, as if
/// captured on the node's port) and `.csv` (ESP32-CSI-Tool) for `--device esp32`; `.csirec`,
/// `.jsonl`, or `-` for JSON Lines on stdout, for every device. The same arguments and seed
/// give byte-identical files.
#[derive(clap::Args, Debug)]
pub(crate) struct SimulateArgs {
    /// Preset: empty, still, breathe, walk, gesture:wave|push|pull, mixed (default mixed).
    #[arg(long)]
    pub scenario: Option<String>,
    /// A JSON scenario file describing your own room, person and timeline.
    #[arg(long)]
    pub scenario_file: Option<PathBuf>,
    /// Duration (default 60s for presets; a scenario file's own duration otherwise).
    #[arg(long, value_parser = crate::parse_duration)]
    pub duration: Option<Duration>,
    /// Frame rate in Hz (default 50, or the scenario file's).
    #[arg(long)]
    pub rate: Option<f64>,
    /// Device profile: esp32, intel5300, nexmon80.
    #[arg(long, default_value = "esp32")]
    pub device: String,
    /// Random seed.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Output file (.pcap and .csv: esp32 only; .csirec, .jsonl) or `-` for stdout.
    #[arg(short, long)]
    pub output: String,
    /// Ground truth as JSON Lines (one line per frame after a header line); `-` for stdout.
    #[arg(long)]
    pub truth: Option<PathBuf>,
    /// ADR-018 node id in .pcap output.
    #[arg(long, default_value_t = 1)]
    pub node_id: u8,
    /// UDP port of the ADR-018 datagrams in .pcap output (1-65535).
    #[arg(long, default_value_t = 5005, value_parser = clap::value_parser!(u16).range(1..))]
    pub port: u16,
    /// Unix time (s) of the scenario start, for .pcap packet times (default 2026-01-01T00:00:00Z).
    #[arg(long, default_value_t = 1_767_225_600)]
    pub start_unix_s: i64,
}

enum Out {
    Pcap(PcapWriter<BufWriter<std::fs::File>>),
    Csv(Esp32CsvWriter<BufWriter<std::fs::File>>),
    Rec(RecordingWriter<BufWriter<std::fs::File>>),
    Jsonl(JsonLinesSink<Box<dyn Write>>),
}

pub(crate) fn simulate(a: SimulateArgs, log: &Log) -> Result<()> {
    let duration_s = a.duration.map(|d| d.as_secs_f64());
    let mut scenario = match (&a.scenario, &a.scenario_file) {
        (Some(_), Some(_)) => bail!("give either --scenario or --scenario-file, not both"),
        (None, Some(p)) => {
            let mut s = Scenario::from_path(p)?;
            if let Some(d) = duration_s {
                s.duration_s = Some(d);
            }
            s
        }
        (name, None) => Scenario::preset(
            name.as_deref().unwrap_or("mixed"),
            duration_s.unwrap_or(60.0),
        )?,
    };
    if let Some(r) = a.rate {
        scenario.rate_hz = r;
    }
    let profile = DeviceProfile::by_name(&a.device)?;
    let sim = Simulator::new(scenario, profile, a.seed)?;
    let header = sim.truth_header();
    let start_ns = a
        .start_unix_s
        .checked_mul(1_000_000_000)
        .context("--start-unix-s is out of range")?;

    let out_path = Path::new(&a.output);
    let ext = out_path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    if a.output != "-" && matches!(ext.as_str(), "pcap" | "csv") && a.device != "esp32" {
        bail!(
            ".{ext} output carries ESP32 frames; --device {} needs .csirec or .jsonl",
            a.device
        );
    }
    if let Some(t) = &a.truth {
        if t.as_os_str() == "-" {
            if a.output == "-" {
                bail!("-o - and --truth - would mix frames and ground truth on stdout: write one of them to a file");
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
    let mut out = if a.output == "-" {
        let w: Box<dyn Write> = Box::new(output::stdout());
        Out::Jsonl(JsonLinesSink::new(w))
    } else {
        match ext.as_str() {
            "pcap" => {
                let mut w = PcapWriter::new(output::create_file(out_path)?, TsResolution::Nano)?;
                w.set_macs([0x02, 0x45, 0x53, 0x50, 0x00, a.node_id], [0x02, 0x48, 0x4F, 0x53, 0x54, 0x01]);
                Out::Pcap(w)
            }
            "csv" => Out::Csv(Esp32CsvWriter::new(output::create_file(out_path)?, true)?),
            "csirec" => {
                let config = serde_json::json!({
                    "scenario": sim.scenario(),
                    "device": a.device,
                    "seed": a.seed,
                });
                let mut h = RecordingHeader::new(format!("simulator: {}", sim.scenario().name), config.to_string());
                // the scenario start, not the wall clock: same arguments, byte-identical file
                h.created_unix_ns = start_ns;
                Out::Rec(RecordingWriter::new(output::create_file(out_path)?, &h)?)
            }
            "jsonl" | "json" => {
                let w: Box<dyn Write> = Box::new(output::create_file(out_path)?);
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
                output::create_file(p).map(|f| Box::new(f) as Box<dyn Write>)
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

    let src = Ipv4Addr::new(192, 168, 1, 100u8.saturating_add(a.node_id % 100));
    let dst = Ipv4Addr::new(192, 168, 1, 10);
    let mut n = 0u64;
    let mut sim = sim;
    for (frame, gt) in &mut sim {
        if let Some(t) = &mut truth {
            t.write(&gt)?;
        }
        write_frame(&mut out, &frame, start_ns, src, dst, &a)?;
        n += 1;
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
        "simulated {:.1} s of {:?} on {} (seed {}): {} frames written, {} dropped by the impairment model",
        sim.duration_s(),
        sim.scenario().name,
        a.device,
        a.seed,
        n,
        sim.dropped()
    ));
    Ok(())
}

fn write_frame(
    out: &mut Out,
    frame: &CsiFrame,
    start_ns: i64,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    a: &SimulateArgs,
) -> Result<()> {
    match out {
        Out::Pcap(w) => {
            let d = adr018::encode_csi(&export::to_adr018(frame, a.node_id)?)?;
            w.write_udp(start_ns + frame.timestamp_ns, src, dst, a.port, a.port, &d)?;
        }
        Out::Csv(w) => w.write(frame)?,
        Out::Rec(w) => w.write(&Record::Frame(frame.clone()))?,
        Out::Jsonl(s) => {
            s.item(&Output::Frame(frame.clone()))?;
        }
    }
    Ok(())
}
