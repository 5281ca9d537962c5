//! `wifi-sensing spectrogram`: a PNG (and/or CSV) spectrogram of one node's CSI.
//!
//! The computation is the signal crate's ([`wifi_sensing_signal::spectrogram`]); this module
//! reads the input, keeps one node's frames (after optional `--stages`), and draws the matrix
//! with `plotters` (text in the embedded DejaVu Sans font, no system fonts).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use plotters::prelude::*;
use plotters::style::colors::colormaps::ViridisRGB;
use wifi_sensing_core::{CsiFrame, Output, Pipeline};
use wifi_sensing_signal::spectrogram::{
    spectrogram, Component, SpectrogramConfig, SpectrogramMatrix,
};
use wifi_sensing_signal::stages::Notices;
use wifi_sensing_signal::stft::{Span, WindowFn};

use crate::input::{on_malformed, open_input, InputSpec, ReaderFlags};
use crate::run::StageList;
use crate::{output, Log};

/// The font every label is drawn with (DejaVu Sans; licence in `assets/`).
const FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

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
    /// Also write the matrix as CSV (long format: time_s,freq_hz,velocity_mps,power_db).
    #[arg(long)]
    pub csv: Option<PathBuf>,
    /// Read the input as this format instead of detecting it.
    #[arg(long, value_parser = crate::values::format)]
    pub format: Option<wifi_sensing_core::CaptureFormat>,
    /// Node to analyse (default: the node of the first frame).
    #[arg(long)]
    pub node: Option<u32>,
    /// Series analysed: `pca1`..`pca16`, `subcarrier:K` (column K), `subcarriers:K1+K2+...`
    /// (mean amplitude) or `mean`.
    #[arg(long, default_value = "pca1", value_parser = parse_component)]
    pub component: Component,
    /// Segment length: seconds (`1s`, `500ms`) or frames (`128`).
    #[arg(long, default_value = "1s", value_parser = parse_span)]
    pub window: Span,
    /// Hop between segments: seconds or frames.
    #[arg(long, default_value = "0.1s", value_parser = parse_span)]
    pub hop: Span,
    /// Window function: hann, hamming, blackman or rect.
    #[arg(long, default_value = "hann", value_parser = parse_window_fn)]
    pub window_fn: WindowFn,
    /// Vertical axis in m/s (path-length rate f·λ) instead of Hz; needs the carrier frequency
    /// (from the frames, or `--carrier-mhz`).
    #[arg(long)]
    pub velocity: bool,
    /// Carrier frequency in MHz for `--velocity` when the frames do not state it.
    #[arg(long, value_parser = clap::value_parser!(u32).range(100..=100_000))]
    pub carrier_mhz: Option<u32>,
    /// DSP stages applied before the analysis (as `run --stages`).
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
    let bad = || format!("`{s}`: expected WIDTHxHEIGHT, each 200..=8000 pixels");
    let (w, h) = s.split_once('x').ok_or_else(bad)?;
    let w: u32 = w.parse().map_err(|_| bad())?;
    let h: u32 = h.parse().map_err(|_| bad())?;
    if !(200..=8000).contains(&w) || !(200..=8000).contains(&h) {
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
        bail!(
            "--output {}: use a .png (image) or .csv (matrix) name",
            args.output.display()
        );
    }
    if matches!(args.input, InputSpec::Udp(_)) {
        crate::usage!(
            "spectrogram reads a file or stdin, not a live udp:// input (record it first)"
        );
    }
    let opened = open_input(&args.input, &args.reader, args.format, None, log)?;
    let notices = Notices::default();
    let mut b = Pipeline::builder().on_malformed(on_malformed(false));
    for s in args.stages.iter().flat_map(|l| &l.0) {
        b = b.boxed_stage(s.build(&notices)?);
    }
    let mut p = b.build()?;
    let mut node = args.node;
    let mut frames: Vec<CsiFrame> = Vec::new();
    for out in p.process(opened.capture) {
        if let Output::Frame(f) = out? {
            let n = *node.get_or_insert(f.node_id);
            if f.node_id == n {
                if frames.len() >= MAX_FRAMES {
                    bail!("node {n} has more than {MAX_FRAMES} frames; cut the input (convert --limit) first");
                }
                frames.push(f);
            }
        }
    }
    for n in notices.take() {
        log.warn(n);
    }
    let Some(node) = node else {
        bail!("{}: no CSI frames", opened.description);
    };
    if frames.len() < 2 {
        bail!(
            "node {node}: {} frame(s); a spectrogram needs at least 2",
            frames.len()
        );
    }
    let cfg = SpectrogramConfig {
        component: args.component.clone(),
        window: args.window,
        hop: args.hop,
        window_fn: args.window_fn,
        ..SpectrogramConfig::default()
    };
    let refs: Vec<&CsiFrame> = frames.iter().collect();
    let lambda = args
        .carrier_mhz
        .map(|m| wifi_sensing_signal::fresnel::wavelength_m(f64::from(m) * 1e6));
    let s = spectrogram(&refs, &cfg, lambda).with_context(|| format!("node {node}"))?;
    if args.velocity && s.velocity_mps.is_none() {
        bail!(
            "--velocity: the frames of node {node} state no carrier frequency; give --carrier-mhz"
        );
    }
    log.info(format_args!(
        "node {node}: {} frames, measured rate {:.2} Hz, window {} frames, hop {}, {} columns, {} gaps",
        frames.len(),
        s.rate_hz,
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
        draw_png(&args.output, &s, &title, args.velocity, args.size)?;
    } else {
        write_csv(&args.output, &s, log)?;
    }
    log.info(format_args!("wrote {}", args.output.display()));
    Ok(())
}

fn write_csv(path: &Path, s: &SpectrogramMatrix, log: &Log) -> Result<()> {
    let mut w = output::create_file(path, log)?;
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
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

fn draw_png(
    path: &Path,
    s: &SpectrogramMatrix,
    title: &str,
    velocity: bool,
    size: (u32, u32),
) -> Result<()> {
    plotters::style::register_font("sans-serif", FontStyle::Normal, FONT)
        .map_err(|_| anyhow::anyhow!("the embedded font cannot be loaded"))?;
    let err = |e: String| anyhow::anyhow!("drawing {}: {e}", path.display());
    let root = BitMapBackend::new(path, size).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
    let (main, bar) = root.split_horizontally(size.0 * 88 / 100);
    let ys: &[f64] = if velocity {
        s.velocity_mps.as_deref().unwrap_or(&s.freqs_hz)
    } else {
        &s.freqs_hz
    };
    let finite: Vec<f64> = s
        .power_db
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .collect();
    let hi = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let lo = {
        let mut v = finite.clone();
        v.sort_by(f64::total_cmp);
        let p2 = v.get(v.len() / 50).copied().unwrap_or(hi - 60.0);
        p2.max(hi - 60.0)
    };
    if !hi.is_finite() {
        bail!("no spectrogram column without a gap: nothing to draw (try a shorter --window)");
    }
    let (lo, hi) = if lo.is_finite() && hi > lo {
        (lo, hi)
    } else {
        (hi - 1.0, hi)
    };
    let n_t = s.times_s.len();
    let dt = s.hop as f64 / s.rate_hz;
    let t0 = s.times_s.first().copied().unwrap_or(0.0) - dt / 2.0;
    let t1 = s.times_s.last().copied().unwrap_or(0.0) + dt / 2.0;
    let dy = ys.get(1).copied().unwrap_or(1.0) - ys[0];
    let y1 = ys.last().copied().unwrap_or(1.0) + dy / 2.0;
    let ylabel = if velocity {
        "Path-length rate (m/s)"
    } else {
        "Frequency (Hz)"
    };
    let mut chart = ChartBuilder::on(&main)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(t0..t1, 0.0..y1)
        .map_err(|e| err(e.to_string()))?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc("Time (s)")
        .y_desc(ylabel)
        .label_style(("sans-serif", 15))
        .axis_desc_style(("sans-serif", 17))
        .draw()
        .map_err(|e| err(e.to_string()))?;
    let cells = (0..n_t).flat_map(|k| (0..ys.len()).map(move |i| (k, i)));
    chart
        .draw_series(cells.map(|(k, i)| {
            let p = s.power_db[[i, k]];
            let c = if p.is_finite() {
                ViridisRGB::get_color_normalized(p.clamp(lo, hi), lo, hi)
            } else {
                RGBColor(200, 200, 200)
            };
            let x = s.times_s[k];
            let y = (ys[i] - dy / 2.0).max(0.0);
            Rectangle::new(
                [(x - dt / 2.0, y), (x + dt / 2.0, ys[i] + dy / 2.0)],
                c.filled(),
            )
        }))
        .map_err(|e| err(e.to_string()))?;
    // colour bar
    let mut cb = ChartBuilder::on(&bar)
        .margin_top(46)
        .margin_bottom(57)
        .margin_right(10)
        .y_label_area_size(55)
        .caption("dB", ("sans-serif", 17))
        .build_cartesian_2d(0.0..1.0, lo..hi)
        .map_err(|e| err(e.to_string()))?;
    cb.configure_mesh()
        .disable_mesh()
        .disable_x_axis()
        .label_style(("sans-serif", 14))
        .draw()
        .map_err(|e| err(e.to_string()))?;
    let steps = 200;
    let h = (hi - lo) / steps as f64;
    cb.draw_series((0..steps).map(|j| {
        let v = lo + j as f64 * h;
        Rectangle::new(
            [(0.0, v), (1.0, v + h)],
            ViridisRGB::get_color_normalized(v, lo, hi).filled(),
        )
    }))
    .map_err(|e| err(e.to_string()))?;
    root.present().map_err(|e| err(e.to_string()))?;
    Ok(())
}
