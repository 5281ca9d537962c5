//! `wifi-sensing spectrogram`: a PNG (and/or CSV) spectrogram of one node's CSI.
//!
//! The computation is the signal crate's ([`wifi_sensing_signal::spectrogram`]); this module
//! reads the input, keeps one node's frames (then applies the optional `--stages` to them), and
//! draws the matrix with the signal crate's renderer ([`wifi_sensing_signal::plot`], shared
//! with notebooks).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use wifi_sensing_core::{CsiFrame, Output, Pipeline};
use wifi_sensing_signal::spectral::nexmon_slot;
use wifi_sensing_signal::spectrogram::{
    common_subcarriers, spectrogram, Component, SpectrogramConfig, SpectrogramMatrix,
};
use wifi_sensing_signal::stages::Notices;
use wifi_sensing_signal::stft::{Span, WindowFn};

use crate::input::{on_malformed, open_input, InputSpec, ReaderFlags};
use crate::run::StageList;
use crate::{output, Log};

/// Frames of the chosen node kept at most (the whole node is analysed at once).
const MAX_FRAMES: usize = 2_000_000;

// Options of the `spectrogram` command.
#[derive(clap::Args, Debug)]
pub(crate) struct SpectrogramArgs {
    /// A capture file (format auto-detected) or `-` (stdin).
    #[arg(value_parser = crate::values::input)]
    pub input: InputSpec,
    /// Output image (`.png`) or matrix (`.csv`).
    #[arg(short, long)]
    pub output: PathBuf,
    /// Also write the matrix as CSV (long format: time_s,freq_hz,velocity_mps,power_db); `-`
    /// for stdout. power_db is `10 log10 |X|²` of the one-sided STFT scaled as scipy's
    /// `stft(scaling="spectrum")` (the one-sided bins are not doubled, unlike
    /// `scipy.signal.spectrogram`'s); it is empty in columns whose segment overlaps a gap, and
    /// velocity_mps is empty when no carrier frequency is known.
    #[arg(long)]
    pub csv: Option<PathBuf>,
    /// Read the input as this format instead of detecting it.
    #[arg(long, value_parser = crate::values::format)]
    pub format: Option<wifi_sensing_core::CaptureFormat>,
    /// Node to analyse (default: the node of the first frame).
    #[arg(long)]
    pub node: Option<u32>,
    /// Series analysed: `pca1`..`pca16`, `subcarrier:K` (column K), `subcarriers:K1+K2+...`
    /// (mean amplitude) or `mean` (of every column, null subcarriers included). A column's
    /// amplitude is the mean over the frame's rx/tx chains.
    #[arg(long, default_value = "pca1", value_parser = parse_component)]
    pub component: Component,
    /// Segment length: seconds (`1s`, `500ms`) or frames (`128`; at least 2).
    #[arg(long, default_value = "1s", value_parser = parse_span)]
    pub window: Span,
    /// Hop between segments: seconds or frames (at most the window). Default 0.1 s, or the
    /// window when that is shorter.
    #[arg(long, value_parser = parse_span)]
    pub hop: Option<Span>,
    /// Window function: hann, hamming, blackman or rect.
    #[arg(long, default_value = "hann", value_parser = parse_window_fn)]
    pub window_fn: WindowFn,
    /// Vertical axis in m/s (path-length rate f·λ) instead of Hz; needs the carrier frequency
    /// (from the frames, or `--carrier-mhz`).
    #[arg(long)]
    pub velocity: bool,
    /// Carrier frequency in MHz for `--velocity` (and the CSV's velocity_mps): needed when the
    /// frames do not state it; when they do, this overrides them, with a warning.
    #[arg(long, value_parser = clap::value_parser!(u32).range(100..=100_000))]
    pub carrier_mhz: Option<u32>,
    /// DSP stages applied to the chosen node's frames before the analysis (as `run --stages`;
    /// the other nodes' frames are not staged).
    #[arg(long, value_name = "LIST", value_parser = crate::run::parse_stage_list)]
    pub stages: Option<StageList>,
    /// Image size in pixels, `WIDTHxHEIGHT`.
    #[arg(long, default_value = "1200x700", value_parser = parse_size)]
    pub size: (u32, u32),
    // reader options: last, under their own help heading
    #[command(flatten)]
    pub reader: ReaderFlags,
}

fn parse_component(s: &str) -> std::result::Result<Component, String> {
    s.parse()
        .map_err(|e: wifi_sensing_signal::SignalError| e.to_string())
}

fn parse_span(s: &str) -> std::result::Result<Span, String> {
    s.parse()
        .map_err(|e: wifi_sensing_signal::SignalError| e.to_string())
}

fn parse_window_fn(s: &str) -> std::result::Result<WindowFn, String> {
    s.parse()
        .map_err(|e: wifi_sensing_signal::SignalError| e.to_string())
}

fn parse_size(s: &str) -> std::result::Result<(u32, u32), String> {
    let range = wifi_sensing_signal::plot::SIZE_RANGE;
    let bad = || {
        format!(
            "`{s}`: expected WIDTHxHEIGHT, each {}..={} pixels",
            range.start(),
            range.end()
        )
    };
    let (w, h) = s.split_once('x').ok_or_else(bad)?;
    let w: u32 = w.parse().map_err(|_| bad())?;
    let h: u32 = h.parse().map_err(|_| bad())?;
    if !range.contains(&w) || !range.contains(&h) {
        return Err(bad());
    }
    Ok((w, h))
}

fn is_csv(p: &Path) -> bool {
    p.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv"))
}

/// `wifi-sensing spectrogram`.
pub(crate) fn main(args: SpectrogramArgs, log: &Log) -> Result<()> {
    let png = !is_csv(&args.output);
    if png
        && !args
            .output
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("png"))
    {
        crate::usage!(
            "--output {}: use a .png (image) or .csv (matrix) name",
            args.output.display()
        );
    }
    if matches!(args.input, InputSpec::Udp(_)) {
        crate::usage!(
            "spectrogram reads a file or stdin, not a live udp:// input (record it first)"
        );
    }
    if let Span::Frames(n @ 0..=1) = args.window {
        crate::usage!("--window {n}: a segment needs at least 2 frames");
    }
    if let Some(hop) = args.hop {
        if let Err(e) = Span::check_hop(args.window, hop, "spectrogram") {
            crate::usage!("{e}");
        }
    }
    if args.carrier_mhz.is_some() && !args.velocity && args.csv.is_none() && png {
        crate::usage!(
            "--carrier-mhz sets the speed axis of --velocity (and the velocity_mps column of \
             --csv); without either it would change nothing"
        );
    }
    output::ensure_not_input(&args.output, &args.input)?;
    if let Some(c) = &args.csv {
        output::ensure_not_input(c, &args.input)?;
        if c.as_os_str() != "-" {
            output::ensure_distinct(c, &args.output, "output (-o)")?;
        }
    }
    let opened = open_input(&args.input, &args.reader, args.format, None, log)?;
    let notices = Notices::default();
    // the stages run on the chosen node's frames only (built here, so that a bad stage is
    // refused before the input is read)
    let stages = args
        .stages
        .iter()
        .flat_map(|l| &l.0)
        .map(|s| s.build(&notices))
        .collect::<Result<Vec<_>, _>>()?;
    let mut p = Pipeline::builder()
        .on_malformed(on_malformed(false))
        .build()?;
    let mut node = args.node;
    let mut frames: Vec<CsiFrame> = Vec::new();
    // the capture's nodes, for the error when the chosen one has no frame (a bounded list)
    let mut seen: Vec<u32> = Vec::new();
    let mut run = p.process(opened.capture);
    for out in run.by_ref() {
        if let Output::Frame(f) = out? {
            if seen.len() < 64 && !seen.contains(&f.node_id) {
                seen.push(f.node_id);
            }
            let n = *node.get_or_insert(f.node_id);
            if f.node_id == n {
                if frames.len() >= MAX_FRAMES {
                    bail!("node {n} has more than {MAX_FRAMES} frames; cut the input first (`run INPUT --limit N -o part.jsonl`)");
                }
                frames.push(f);
            }
        }
    }
    crate::report::summary_problems(
        run.summary(),
        &opened.description,
        opened.udp_stats.is_some(),
        log,
    );
    drop(run);
    let Some(node) = node else {
        bail!("{}: no CSI frames", opened.description);
    };
    if frames.is_empty() {
        seen.sort_unstable();
        let ids: Vec<String> = seen.iter().map(u32::to_string).collect();
        bail!(
            "node {node}: no frames; the capture's nodes: {}",
            ids.join(", ")
        );
    }
    if !stages.is_empty() {
        let mut b = Pipeline::builder();
        for s in stages {
            b = b.boxed_stage(s);
        }
        let mut staged = Vec::with_capacity(frames.len());
        for out in b.build()?.process(frames.into_iter().map(Ok)) {
            if let Output::Frame(f) = out? {
                if staged.len() >= MAX_FRAMES {
                    bail!("node {node} has more than {MAX_FRAMES} frames after the stages; cut the input first (`run INPUT --limit N -o part.jsonl`)");
                }
                staged.push(f);
            }
        }
        frames = staged;
    }
    for n in notices.take() {
        log.warn(n);
    }
    // A node that mixes subcarrier layouts (RuView ESP32 nodes: 64, 128 and 192 pairs frame
    // by frame) is analysed in its most common one; the others are skipped, and said.
    let mut layouts: Vec<(usize, usize)> = Vec::new();
    for f in &frames {
        let n = f.n_subcarriers();
        match layouts.iter_mut().find(|(k, _)| *k == n) {
            Some((_, c)) => *c += 1,
            None => layouts.push((n, 1)),
        }
    }
    if layouts.len() > 1 {
        // the library's rule (the first seen of the most common), as `spectrogram()` applies it
        let keep = common_subcarriers(&frames.iter().collect::<Vec<_>>()).0;
        let kept = layouts.iter().find(|(k, _)| *k == keep).map_or(0, |c| c.1);
        let all = frames.len();
        frames.retain(|f| f.n_subcarriers() == keep);
        let counts: Vec<String> = layouts.iter().map(|(k, c)| format!("{c} of {k}")).collect();
        log.warn(format_args!(
            "node {node}: frames of several subcarrier layouts ({}); the {kept} frames of {keep} subcarriers are analysed, {} skipped",
            counts.join(", "),
            all - kept
        ));
    }
    // Nexmon reads one frame per packet: one transmission's packets of several receive cores
    // or spatial streams (same sequence number, microseconds apart) would be taken as
    // successive samples, inflating the rate and the frequency axis. Said, with the remedy.
    let mut slots: Vec<(u8, u8)> = Vec::new();
    for slot in frames.iter().filter_map(nexmon_slot) {
        if slots.len() < 64 && !slots.contains(&slot) {
            slots.push(slot);
        }
    }
    if slots.len() > 1 {
        log.warn(format_args!(
            "node {node}: its Nexmon packets come from {} (receive core, spatial stream) pairs of the \
             same transmissions, read here as successive samples: the sampling rate and the \
             frequency axis are up to {} times too high; --nexmon-group reads each transmission \
             as one frame",
            slots.len(),
            slots.len()
        ));
    }
    if frames.len() < 2 {
        bail!(
            "node {node}: {} frame(s); a spectrogram needs at least 2",
            frames.len()
        );
    }
    let cfg = SpectrogramConfig {
        component: args.component.clone(),
        window: args.window,
        // the default hop, 0.1 s, clamped to the window (a given hop was checked above)
        hop: args.hop.unwrap_or(match args.window {
            Span::Seconds(w) => Span::Seconds(w.min(0.1)),
            Span::Frames(_) => Span::Seconds(0.1),
        }),
        window_fn: args.window_fn,
        ..SpectrogramConfig::default()
    };
    let refs: Vec<&CsiFrame> = frames.iter().collect();
    if let (Some(given), Some(stated)) = (
        args.carrier_mhz,
        refs.first()
            .and_then(|f| wifi_sensing_signal::fresnel::frame_carrier_mhz(f)),
    ) {
        if given != stated {
            log.warn(format_args!(
                "--carrier-mhz {given} overrides the {stated} MHz the frames of node {node} state"
            ));
        }
    }
    let lambda = args
        .carrier_mhz
        .map(|m| wifi_sensing_signal::fresnel::wavelength_m(f64::from(m) * 1e6));
    let s = spectrogram(&refs, &cfg, lambda).map_err(|e| {
        // a window longer than the node's stream: say how long the stream is, and the remedy
        let hint = match e {
            wifi_sensing_signal::SignalError::TooShort { .. } => {
                let (lo, hi) = refs.iter().fold((i64::MAX, i64::MIN), |(lo, hi), f| {
                    (lo.min(f.timestamp_ns), hi.max(f.timestamp_ns))
                });
                format!(
                    " ({} frames over {:.2} s, shorter than the window; a shorter --window fits)",
                    refs.len(),
                    hi.saturating_sub(lo) as f64 * 1e-9
                )
            }
            _ => String::new(),
        };
        anyhow::Error::new(e).context(format!("node {node}{hint}"))
    })?;
    if args.velocity && s.velocity_mps.is_none() {
        bail!(
            "--velocity: the frames of node {node} state no carrier frequency; give --carrier-mhz"
        );
    }
    // how the grid's rate was measured (the spectrogram's own estimate)
    let (e, rate) = (&s.rate_estimate, s.rate_hz);
    let how = if !e.is_regular() {
        format!(
            "received rate {rate:.2} Hz (irregular intervals: resampled onto a uniform grid at \
             that rate; pauses are gap columns)"
        )
    } else if e.frames_lost > 0 {
        format!(
            "sampling rate {rate:.2} Hz (counting {} frames lost on the way)",
            e.frames_lost
        )
    } else {
        format!("sampling rate {rate:.2} Hz")
    };
    // a hop given in the other unit than the window is clamped to it once both are in frames
    if let Some(hop) = args.hop {
        if hop.frames(rate) > s.nperseg {
            log.warn(format_args!(
                "--hop is {} frames at {rate:.2} Hz, longer than the window ({} frames): the hop is the window",
                hop.frames(rate),
                s.nperseg
            ));
        }
    }
    if let Span::Seconds(w) = args.window {
        if (w * rate).round() < 2.0 {
            log.warn(format_args!(
                "--window {w}s is under 2 frames at {rate:.2} Hz: a segment of 2 frames is used"
            ));
        }
    }
    log.info(format_args!(
        "node {node}: {} frames, {how}, window {} frames, hop {}, {} columns, {} gaps",
        frames.len(),
        s.nperseg,
        s.hop,
        s.times_s.len(),
        s.gaps
    ));
    let name = match &args.input {
        InputSpec::File(p) => p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| p.display().to_string()),
        InputSpec::Stdin => "stdin".to_string(),
        InputSpec::Udp(a) => a.clone(),
    };
    if let Some(c) = &args.csv {
        write_csv(c, &s, log)?;
        if c.as_os_str() != "-" {
            log.info(format_args!("wrote {}", c.display()));
        }
    }
    if png {
        let title = format!(
            "{name}, node {node}, {}{}, {:.1} Hz measured, {:.2} s window",
            args.component,
            s.explained_variance_ratio
                .map(|r| format!(" ({:.0} % of variance)", r * 100.0))
                .unwrap_or_default(),
            s.rate_hz,
            s.nperseg as f64 / s.rate_hz
        );
        draw_png(&args.output, &s, &title, args.velocity, args.size, log)?;
    } else {
        write_csv(&args.output, &s, log)?;
    }
    log.info(format_args!("wrote {}", args.output.display()));
    Ok(())
}

fn write_csv(path: &Path, s: &SpectrogramMatrix, log: &Log) -> Result<()> {
    let mut w = output::create_or_stdout(path, log)?;
    writeln!(w, "time_s,freq_hz,velocity_mps,power_db")?;
    for (k, t) in s.times_s.iter().enumerate() {
        for (i, f) in s.freqs_hz.iter().enumerate() {
            let v = s
                .velocity_mps
                .as_ref()
                .map(|v| format!("{:.6}", v[i]))
                .unwrap_or_default();
            let p = s.power_db[[i, k]];
            let p = if p.is_finite() {
                format!("{p:.3}")
            } else {
                String::new()
            };
            writeln!(w, "{t:.6},{f:.6},{v},{p}")?;
        }
    }
    w.flush()
        .with_context(|| format!("cannot write {}", output::display_name(path)))?;
    Ok(())
}

fn draw_png(
    path: &Path,
    s: &SpectrogramMatrix,
    title: &str,
    velocity: bool,
    size: (u32, u32),
    log: &Log,
) -> Result<()> {
    let png =
        wifi_sensing_signal::plot::spectrogram_png(s, title, velocity, size).map_err(|e| {
            if s.power_db.iter().any(|v| v.is_finite()) {
                anyhow::anyhow!("{}: {e}", path.display())
            } else {
                anyhow::anyhow!(
                    "no spectrogram column without a gap: nothing to draw (try a shorter --window)"
                )
            }
        })?;
    let mut w = output::create_file(path, log)?;
    w.write_all(&png)
        .and_then(|()| w.flush())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
