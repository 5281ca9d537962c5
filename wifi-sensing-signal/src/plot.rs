//! PNG images (feature `plot`): spectrograms and CSI amplitude heatmaps, drawn with `plotters`
//! into memory and encoded with the `png` crate.
//!
//! One heatmap renderer ([`heatmap_png`]) serves both the `wifi-sensing spectrogram` command and
//! notebooks (the facade's `notebook` feature shows these images inline). Text uses an embedded
//! DejaVu Sans font (licence in `assets/`), so no system font is needed. Cells are painted as one
//! bitmap (nearest cell per pixel), so the cost depends on the image size, not on the number of
//! frames.
//!
//! ```
//! use wifi_sensing_core::sim::{DeviceProfile, Scenario, Simulator};
//! use wifi_sensing_signal::plot::{amplitude_heatmap_png, AmplitudeHeatmap};
//! let sim = Simulator::new(Scenario::preset("walk", 4.0)?, DeviceProfile::esp32(), 1)?;
//! let frames: Vec<_> = sim.map(|(f, _)| f).collect();
//! let refs: Vec<_> = frames.iter().collect();
//! let png = amplitude_heatmap_png(&refs, &AmplitudeHeatmap::default())?;
//! assert_eq!(&png[1..4], b"PNG");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use ndarray::{Array2, ArrayView2};
use plotters::prelude::*;
use plotters::style::colors::colormaps::ViridisRGB;
use wifi_sensing_core::CsiFrame;

use crate::error::{Result, SignalError};
use crate::spectrogram::SpectrogramMatrix;

/// The font every label is drawn with (DejaVu Sans; licence in `assets/`).
const FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

/// Smallest and largest image side in pixels.
pub const SIZE_RANGE: std::ops::RangeInclusive<u32> = 200..=8000;

/// Colour range of a heatmap.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ColourRange {
    /// From the 2nd percentile of the finite values (but at most `db` below the maximum) to the
    /// maximum: suits power in dB.
    DbBelowMax {
        /// The widest span shown, in the values' unit.
        db: f64,
    },
    /// From the 2nd to the 98th percentile of the finite values: suits linear amplitudes.
    Percentiles,
    /// Explicit `[lo, hi]`.
    Fixed(f64, f64),
}

/// What [`heatmap_png`] draws: `values[[row, column]]`, row `i` centred on `y[i]`, column `k`
/// centred on `x[k]`; a non-finite value is drawn grey (no data).
#[derive(Clone, Debug)]
pub struct Heatmap<'a> {
    /// Title above the chart.
    pub title: &'a str,
    /// Column centres, ascending (e.g. time in seconds).
    pub x: &'a [f64],
    /// Row centres, ascending (e.g. frequency in Hz or subcarrier index).
    pub y: &'a [f64],
    /// The values, `[y.len(), x.len()]`.
    pub values: ArrayView2<'a, f64>,
    /// Label of the horizontal axis.
    pub x_label: &'a str,
    /// Label of the vertical axis.
    pub y_label: &'a str,
    /// Label above the colour bar (the values' unit).
    pub unit: &'a str,
    /// How the colour range is chosen.
    pub range: ColourRange,
    /// Image size in pixels, `(width, height)`, each in [`SIZE_RANGE`].
    pub size: (u32, u32),
}

fn render_err(e: impl std::fmt::Display) -> SignalError {
    SignalError::Render(e.to_string())
}

/// Edges of the cells centred on ascending `c` (half-way between centres; the outer cells as
/// wide as their neighbour, or 1 for a single centre).
fn edges(c: &[f64]) -> (f64, f64) {
    let first = c.first().copied().unwrap_or(0.0);
    let last = c.last().copied().unwrap_or(0.0);
    let (d0, d1) = if c.len() >= 2 {
        (c[1] - c[0], c[c.len() - 1] - c[c.len() - 2])
    } else {
        (1.0, 1.0)
    };
    (first - d0 / 2.0, last + d1 / 2.0)
}

/// Index of the centre nearest to `v` in ascending `c` (non-empty).
fn nearest(c: &[f64], v: f64) -> usize {
    let i = c.partition_point(|&x| x < v);
    if i == 0 {
        0
    } else if i >= c.len() {
        c.len() - 1
    } else if (v - c[i - 1]) <= (c[i] - v) {
        i - 1
    } else {
        i
    }
}

fn colour_range(values: ArrayView2<'_, f64>, range: ColourRange) -> Option<(f64, f64)> {
    let (lo, hi) = match range {
        ColourRange::Fixed(lo, hi) => (lo, hi),
        ColourRange::DbBelowMax { db } => {
            let mut v: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
            v.sort_by(f64::total_cmp);
            let hi = *v.last()?;
            let p2 = v[v.len() / 50];
            (p2.max(hi - db.abs()), hi)
        }
        ColourRange::Percentiles => {
            let mut v: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
            v.sort_by(f64::total_cmp);
            let n = v.len();
            if n == 0 {
                return None;
            }
            (v[n / 50], v[(n - 1) - n / 50])
        }
    };
    if !lo.is_finite() || !hi.is_finite() {
        return None;
    }
    Some(if hi > lo { (lo, hi) } else { (hi - 1.0, hi) })
}

/// Encodes an RGB buffer as PNG.
fn encode_png(rgb: &[u8], (w, h): (u32, u32)) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(rgb.len() / 4);
    let mut enc = png::Encoder::new(&mut out, w, h);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let mut writer = enc.write_header().map_err(render_err)?;
    writer.write_image_data(rgb).map_err(render_err)?;
    writer.finish().map_err(render_err)?;
    Ok(out)
}

/// Draws `h` and returns the PNG file's bytes.
///
/// Errors: a size outside [`SIZE_RANGE`], `values` not `[y.len(), x.len()]`, no finite value,
/// or a drawing failure.
pub fn heatmap_png(h: &Heatmap<'_>) -> Result<Vec<u8>> {
    let (w, ht) = h.size;
    if !SIZE_RANGE.contains(&w) || !SIZE_RANGE.contains(&ht) {
        return Err(SignalError::InvalidParameter {
            component: "plot",
            param: "size",
            value: format!("{w}x{ht}"),
            accepted: format!(
                "{}..={} pixels each side",
                SIZE_RANGE.start(),
                SIZE_RANGE.end()
            ),
        });
    }
    if h.values.dim() != (h.y.len(), h.x.len()) || h.x.is_empty() || h.y.is_empty() {
        return Err(SignalError::Shape {
            component: "plot",
            detail: format!(
                "values are {:?}, axes {} rows x {} columns (both non-empty)",
                h.values.dim(),
                h.y.len(),
                h.x.len()
            ),
        });
    }
    let Some((lo, hi)) = colour_range(h.values, h.range) else {
        return Err(SignalError::Render(
            "no finite value: nothing to draw".to_string(),
        ));
    };
    plotters::style::register_font("sans-serif", FontStyle::Normal, FONT)
        .map_err(|_| render_err("the embedded font cannot be loaded"))?;
    let mut rgb = vec![255u8; w as usize * ht as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (w, ht)).into_drawing_area();
        let (main, bar) = root.split_horizontally(w * 88 / 100);
        let (x0, x1) = edges(h.x);
        let (y0, y1) = edges(h.y);
        let mut chart = ChartBuilder::on(&main)
            .caption(h.title, ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(render_err)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc(h.x_label)
            .y_desc(h.y_label)
            .label_style(("sans-serif", 15))
            .axis_desc_style(("sans-serif", 17))
            .draw()
            .map_err(render_err)?;
        // one bitmap over the plotting area: each pixel takes its nearest cell's colour
        let (pw, ph) = chart.plotting_area().dim_in_pixel();
        if pw > 0 && ph > 0 {
            let mut cells = vec![0u8; pw as usize * ph as usize * 3];
            let cols: Vec<usize> = (0..pw)
                .map(|px| nearest(h.x, x0 + (f64::from(px) + 0.5) / f64::from(pw) * (x1 - x0)))
                .collect();
            for py in 0..ph {
                let v = y1 - (f64::from(py) + 0.5) / f64::from(ph) * (y1 - y0);
                let row = nearest(h.y, v);
                for (px, &col) in cols.iter().enumerate() {
                    let p = h.values[[row, col]];
                    let c = if p.is_finite() {
                        ViridisRGB::get_color_normalized(p.clamp(lo, hi), lo, hi)
                    } else {
                        RGBColor(200, 200, 200)
                    };
                    let o = (py as usize * pw as usize + px) * 3;
                    cells[o..o + 3].copy_from_slice(&[c.0, c.1, c.2]);
                }
            }
            let elem = BitMapElement::with_owned_buffer((x0, y1), (pw, ph), cells)
                .ok_or_else(|| render_err("bitmap size"))?;
            chart.plotting_area().draw(&elem).map_err(render_err)?;
        }
        // colour bar
        let mut cb = ChartBuilder::on(&bar)
            .margin_top(46)
            .margin_bottom(57)
            .margin_right(10)
            .y_label_area_size(55)
            .caption(h.unit, ("sans-serif", 17))
            .build_cartesian_2d(0.0..1.0, lo..hi)
            .map_err(render_err)?;
        cb.configure_mesh()
            .disable_mesh()
            .disable_x_axis()
            .label_style(("sans-serif", 14))
            .draw()
            .map_err(render_err)?;
        let steps = 200;
        let step = (hi - lo) / f64::from(steps);
        cb.draw_series((0..steps).map(|j| {
            let v = lo + f64::from(j) * step;
            Rectangle::new(
                [(0.0, v), (1.0, v + step)],
                ViridisRGB::get_color_normalized(v, lo, hi).filled(),
            )
        }))
        .map_err(render_err)?;
        root.present().map_err(render_err)?;
    }
    encode_png(&rgb, (w, ht))
}

/// A spectrogram as PNG: time (s) across, frequency (Hz) or, with `velocity` and a known
/// carrier, path-length rate (m/s) up; power in dB, at most 60 dB below the maximum.
///
/// Errors as [`heatmap_png`]; also when `velocity` is asked for and the matrix has no velocity
/// axis.
pub fn spectrogram_png(
    s: &SpectrogramMatrix,
    title: &str,
    velocity: bool,
    size: (u32, u32),
) -> Result<Vec<u8>> {
    let (y, y_label) = if velocity {
        let v = s.velocity_mps.as_deref().ok_or_else(|| {
            SignalError::Config("velocity axis asked for, but the carrier is unknown".into())
        })?;
        (v, "Path-length rate (m/s)")
    } else {
        (&s.freqs_hz[..], "Frequency (Hz)")
    };
    heatmap_png(&Heatmap {
        title,
        x: &s.times_s,
        y,
        values: s.power_db.view(),
        x_label: "Time (s)",
        y_label,
        unit: "dB",
        range: ColourRange::DbBelowMax { db: 60.0 },
        size,
    })
}

/// Options of [`amplitude_heatmap_png`].
#[derive(Clone, Debug, PartialEq)]
pub struct AmplitudeHeatmap {
    /// Receive chain drawn.
    pub rx: usize,
    /// Transmit stream drawn.
    pub tx: usize,
    /// Title (empty: a default naming the node, stream and frame count).
    pub title: String,
    /// Image size in pixels.
    pub size: (u32, u32),
}

impl Default for AmplitudeHeatmap {
    fn default() -> Self {
        AmplitudeHeatmap {
            rx: 0,
            tx: 0,
            title: String::new(),
            size: (1000, 500),
        }
    }
}

/// The amplitude `|H|` of stream `(rx, tx)` of `frames` as a `[subcarrier, frame]` matrix, with
/// the frames' times in seconds from the first frame. Frames whose shape differs from the
/// first frame's are left out (their count is returned third).
///
/// Errors: no frame, or `(rx, tx)` outside the first frame's shape.
pub fn amplitude_matrix(
    frames: &[&CsiFrame],
    rx: usize,
    tx: usize,
) -> Result<(Array2<f64>, Vec<f64>, usize)> {
    let m = crate::matrix::amplitude_columns(frames.iter().copied(), rx, tx)?;
    let t0 = m.timestamps_ns.first().copied().unwrap_or(0);
    let times = m
        .timestamps_ns
        .iter()
        .map(|&t| (t - t0) as f64 * 1e-9)
        .collect();
    Ok((m.values.reversed_axes(), times, m.skipped))
}

/// A heatmap of the CSI amplitude of one stream: time (s) across, subcarrier up (the frames'
/// subcarrier indices where they state them, else column numbers). The frames should be of one
/// node; frames of another shape than the first are left out. Times that do not increase
/// (several nodes, clock resets) are drawn by frame number instead.
pub fn amplitude_heatmap_png(frames: &[&CsiFrame], opts: &AmplitudeHeatmap) -> Result<Vec<u8>> {
    let (m, mut times, skipped) = amplitude_matrix(frames, opts.rx, opts.tx)?;
    let mut x_label = "Time (s)";
    if times.windows(2).any(|w| w[1] <= w[0]) {
        times = (0..times.len()).map(|k| k as f64).collect();
        x_label = "Frame";
    }
    let first = frames[0];
    let y: Vec<f64> = match &first.subcarriers {
        Some(s) if s.len() == m.nrows() && s.windows(2).all(|w| w[1] > w[0]) => {
            s.iter().map(|&v| f64::from(v)).collect()
        }
        _ => (0..m.nrows()).map(|i| i as f64).collect(),
    };
    let title = if opts.title.is_empty() {
        format!(
            "node {}, |H| of rx {} tx {}, {} frames{}",
            first.node_id,
            opts.rx,
            opts.tx,
            times.len(),
            if skipped > 0 {
                format!(" ({skipped} of another shape left out)")
            } else {
                String::new()
            }
        )
    } else {
        opts.title.clone()
    };
    heatmap_png(&Heatmap {
        title: &title,
        x: &times,
        y: &y,
        values: m.view(),
        x_label,
        y_label: "Subcarrier",
        unit: "|H|",
        range: ColourRange::Percentiles,
        size: opts.size,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(png_bytes: &[u8]) -> (u32, u32, Vec<u8>) {
        let dec = png::Decoder::new(std::io::Cursor::new(png_bytes));
        let mut r = dec.read_info().unwrap();
        let mut buf = vec![0; r.output_buffer_size()];
        let info = r.next_frame(&mut buf).unwrap();
        buf.truncate(info.buffer_size());
        (info.width, info.height, buf)
    }

    #[test]
    fn heatmap_paints_low_and_high_cells_with_the_colour_map_ends() {
        // two rows: the bottom one low, the top one high
        let values = Array2::from_shape_fn((2, 4), |(i, _)| if i == 0 { 0.0 } else { 10.0 });
        let png = heatmap_png(&Heatmap {
            title: "t",
            x: &[0.0, 1.0, 2.0, 3.0],
            y: &[0.0, 1.0],
            values: values.view(),
            x_label: "x",
            y_label: "y",
            unit: "u",
            range: ColourRange::Fixed(0.0, 10.0),
            size: (400, 300),
        })
        .unwrap();
        let (w, h, rgb) = decode(&png);
        assert_eq!((w, h), (400, 300));
        let lo = ViridisRGB::get_color_normalized(0.0, 0.0, 10.0);
        let hi = ViridisRGB::get_color_normalized(10.0, 0.0, 10.0);
        let count = |c: RGBColor| {
            rgb.chunks(3)
                .filter(|p| p[0] == c.0 && p[1] == c.1 && p[2] == c.2)
                .count()
        };
        // both halves of the plotting area are painted, roughly equally
        let (nl, nh) = (count(lo), count(hi));
        assert!(nl > 10_000 && nh > 10_000, "{nl} {nh}");
        assert!((nl as f64 / nh as f64 - 1.0).abs() < 0.1, "{nl} {nh}");
    }

    #[test]
    fn bad_inputs_are_errors_not_panics() {
        let v = Array2::<f64>::from_elem((2, 2), f64::NAN);
        let mut h = Heatmap {
            title: "",
            x: &[0.0, 1.0],
            y: &[0.0, 1.0],
            values: v.view(),
            x_label: "",
            y_label: "",
            unit: "",
            range: ColourRange::Percentiles,
            size: (300, 300),
        };
        assert!(matches!(heatmap_png(&h), Err(SignalError::Render(_))));
        h.x = &[0.0];
        assert!(matches!(heatmap_png(&h), Err(SignalError::Shape { .. })));
        h.size = (10, 10);
        assert!(matches!(
            heatmap_png(&h),
            Err(SignalError::InvalidParameter { .. })
        ));
        assert!(amplitude_heatmap_png(&[], &AmplitudeHeatmap::default()).is_err());
    }

    #[test]
    fn nearest_picks_the_closest_centre() {
        let c = [0.0, 1.0, 3.0];
        assert_eq!(nearest(&c, -5.0), 0);
        assert_eq!(nearest(&c, 0.4), 0);
        assert_eq!(nearest(&c, 0.6), 1);
        assert_eq!(nearest(&c, 2.1), 2);
        assert_eq!(nearest(&c, 9.0), 2);
    }
}
