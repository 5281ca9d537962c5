//! `wifi-sensing signature capture`: cut a labelled signature out of a recording, with
//! thresholds derived from the data (see `wifi_sensing_introspect::capture`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Result;
use wifi_sensing_introspect::capture::{capture, CaptureSpec};
use wifi_sensing_introspect::features::{FeatureConfig, FeatureKind};
use wifi_sensing_introspect::signature::ThresholdRule;

use wifi_sensing_core::CaptureFormat;

use crate::input::{open_input, InputSpec, ReaderFlags};
use crate::Log;

/// Signature library tools.
#[derive(clap::Args, Debug)]
pub(crate) struct SignatureArgs {
    #[command(subcommand)]
    command: SignatureCommand,
}

#[derive(clap::Subcommand, Debug)]
enum SignatureCommand {
    /// Cut a signature out of a recording and write it as JSON (thresholds derived from the
    /// input away from the cut and from `--background` inputs).
    Capture(CaptureArgs),
}

#[derive(clap::Args, Debug)]
struct CaptureArgs {
    /// The recording (a file, or `-` for stdin).
    #[arg(value_parser = crate::values::input)]
    input: InputSpec,
    /// Read the input as this format instead of detecting it.
    #[arg(long, value_parser = crate::values::format)]
    format: Option<CaptureFormat>,
    /// Label reported on a match (`walk`, `wave`, ...).
    #[arg(long, value_parser = crate::values::not_empty)]
    label: String,
    /// Signature id (default: the label).
    #[arg(long, value_parser = crate::values::not_empty)]
    id: Option<String>,
    /// Start of the cut after the input's first frame (`12.5s`, `500ms`; `0s` for the start).
    #[arg(long, value_parser = parse_offset, allow_hyphen_values = true)]
    start: Duration,
    /// Length of the cut.
    #[arg(long, value_parser = crate::parse_duration, allow_hyphen_values = true)]
    duration: Duration,
    /// Output file (the signature as JSON); `-` for stdout.
    #[arg(short, long)]
    output: String,
    /// Node to take frames from (default: the node of the first frame).
    #[arg(long)]
    node: Option<u32>,
    /// Extra non-matching recordings to derive the thresholds from (repeatable).
    #[arg(long, value_parser = crate::values::input)]
    background: Vec<InputSpec>,
    /// Do not use the input's own frames away from the cut as background (needs
    /// `--background`).
    #[arg(long)]
    no_input_background: bool,
    /// Threshold cost as a fraction of the lowest background cost, in (0, 1]. The promotion
    /// threshold is the score 1/(1 + margin x R), R the lowest background cost of the whole
    /// signature over its cost against an all-zero feature stream: with amp_baseline_v1 a still
    /// scene is such a stream, so R <= 1 and the threshold is 1/(1 + margin) unless the
    /// background holds something closer to the signature than stillness.
    #[arg(long, default_value_t = 0.5, value_parser = parse_margin)]
    margin: f64,
    /// Shortest signature prefix, in frames, that may fire.
    #[arg(long, default_value_t = 2, value_parser = crate::values::at_least_one)]
    min_prefix: u64,
    /// Feature kind (amp_baseline_v1, amp_norm_v1, amp_dev_sorted_v1, motion_lags_v1,
    /// motion_doppler_v1).
    #[arg(long, default_value = "amp_baseline_v1", value_parser = parse_kind)]
    feature_kind: FeatureKind,
    /// Sakoe-Chiba radius in frames recorded for batch comparisons.
    #[arg(long)]
    window: Option<usize>,
    /// Capture time to write (RFC 3339, e.g. `2026-12-05T15:00:00Z`; default: now), for
    /// reproducible files.
    #[arg(long, value_parser = crate::values::rfc3339)]
    captured_at: Option<String>,
    // reader options: last, under their own help heading
    #[command(flatten)]
    reader: ReaderFlags,
}

/// A time offset: a duration that may be zero.
fn parse_offset(s: &str) -> std::result::Result<Duration, String> {
    match crate::parse_duration(s) {
        Err(e) if e.contains("is zero") => Ok(Duration::ZERO),
        r => r,
    }
}

fn parse_margin(s: &str) -> std::result::Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v > 0.0 && v <= 1.0 => Ok(v),
        _ => Err(format!("margin must be a number in (0, 1] (got {s:?})")),
    }
}

fn parse_kind(s: &str) -> std::result::Result<FeatureKind, String> {
    s.parse()
        .map_err(|e: wifi_sensing_introspect::Error| e.to_string())
}

/// `wifi-sensing signature ...`.
pub(crate) fn main(args: SignatureArgs, log: &Log) -> Result<()> {
    match args.command {
        SignatureCommand::Capture(a) => capture_main(a, log),
    }
}

fn capture_main(a: CaptureArgs, log: &Log) -> Result<()> {
    if a.no_input_background && a.background.is_empty() {
        // checked before the input is read
        crate::usage!(
            "--no-input-background leaves no frames to derive the thresholds from: give \
             recordings of other activity with --background FILE (repeatable), or drop \
             --no-input-background"
        );
    }
    let stdin_uses = std::iter::once(&a.input)
        .chain(&a.background)
        .filter(|i| matches!(i, InputSpec::Stdin))
        .count();
    if stdin_uses > 1 {
        crate::usage!(
            "stdin (`-`) can be read only once: give the input or one --background as `-`, the \
             others as files"
        );
    }
    let out = std::path::Path::new(&a.output);
    crate::output::ensure_not_input(out, &a.input)?;
    for b in &a.background {
        crate::output::ensure_not_input(out, b)?;
    }
    let mut opened = open_input(&a.input, &a.reader, a.format, None, log)?;
    let input_name = file_name(&opened.description);
    let mut backgrounds = Vec::new();
    for b in &a.background {
        backgrounds.push(open_input(b, &a.reader, None, None, log)?.capture);
    }
    let spec = CaptureSpec {
        id: a.id.clone().unwrap_or_else(|| a.label.clone()),
        label: a.label.clone(),
        captured_at: a.captured_at.clone().unwrap_or_else(now_rfc3339),
        start_s: a.start.as_secs_f64(),
        duration_s: a.duration.as_secs_f64(),
        node_id: a.node,
        features: FeatureConfig {
            kind: a.feature_kind,
            ..FeatureConfig::default()
        },
        window: a.window,
        rule: ThresholdRule {
            margin: a.margin,
            min_prefix: a.min_prefix as usize,
        },
        input_name: Some(input_name),
        input_background: !a.no_input_background,
    };
    // the input's frames of the cut's node, seen on the way: whether they ran out before the
    // cut's end (the library cuts what there is)
    let mut seen = Seen {
        node: a.node,
        ..Seen::default()
    };
    let frames = opened.capture.by_ref().inspect(|f| {
        if let Ok(f) = f {
            seen.frame(f.node_id, f.timestamp_ns, spec.start_s);
        }
    });
    let sig = capture(frames, backgrounds.iter_mut().collect(), &spec)?;
    // malformed records skipped and a capture cut inside its last record, as `run` says them
    crate::report::stats_problems(
        opened.capture.stats(),
        &opened.description,
        opened.udp_stats.is_some(),
        log,
    );
    for (b, cap) in a.background.iter().zip(&backgrounds) {
        let name = match b {
            InputSpec::File(p) => p.display().to_string(),
            InputSpec::Udp(u) => u.clone(),
            InputSpec::Stdin => "stdin".to_string(),
        };
        crate::report::stats_problems(cap.stats(), &name, matches!(b, InputSpec::Udp(_)), log);
    }
    if let Some(end) = seen.ran_out(spec.start_s + spec.duration_s) {
        log.warn(format_args!(
            "{}: the requested cut {:.3}..{:.3} s (--start, --duration) runs past the end of the \
             input (node {}'s last frame is at {end:.3} s): the signature covers {:.3}..{end:.3} s \
             ({:.3} s, {} frames)",
            opened.description,
            spec.start_s,
            spec.start_s + spec.duration_s,
            seen.node.unwrap_or_default(),
            seen.first_in_cut.unwrap_or(spec.start_s),
            end - seen.first_in_cut.unwrap_or(spec.start_s),
            sig.length,
        ));
    }
    // the same output policy as every command (`output::create_file`), `-` for stdout
    crate::output::write_document(out, &sig.to_json_pretty(), log)?;
    let bg = sig
        .provenance
        .as_ref()
        .and_then(|p| p.background_frames)
        .unwrap_or(0);
    log.info(format_args!(
        "signature {:?} ({}): {} frames x {} values, promotion threshold {:.4}, thresholds from {bg} background frames -> {}",
        sig.id,
        sig.label,
        sig.length,
        sig.dim(),
        sig.promotion_threshold,
        crate::output::display_name(out)
    ));
    log.info(threshold_origin(
        sig.promotion_threshold,
        a.margin,
        a.feature_kind,
        bg,
    ));
    Ok(())
}

/// Where the promotion threshold `p` comes from, in words: the score `1/(1 + margin x R)`, `R`
/// the lowest background cost of the whole signature in units of the score's scale (its cost
/// against an all-zero feature stream, see `wifi_sensing_introspect::signature`).
fn threshold_origin(p: f64, margin: f64, kind: FeatureKind, bg: u64) -> String {
    let r = (1.0 / p - 1.0) / margin;
    let mut s = format!(
        "promotion threshold {p:.4} = 1/(1 + margin {margin} x R {r:.3}): R is the lowest cost \
         of the whole signature over the {bg} background frames, in units of its cost against an \
         all-zero feature stream (which scores 0.5)"
    );
    // A still scene gives baseline features of (about) zero, and every input's first frame
    // exactly zero: R cannot pass 1 and is 1 when nothing came closer.
    let zero_is_still = matches!(
        kind,
        FeatureKind::AmpBaselineV1 | FeatureKind::AmpDevSortedV1
    );
    if zero_is_still && r > 0.999 {
        s.push_str(&format!(
            "; with {kind} a still scene is such a stream, so R = 1 means nothing in the \
             background came closer to the signature than stillness and the threshold is \
             1/(1 + margin) whatever the data; only background closer to the signature than \
             stillness raises it"
        ));
    }
    s
}

/// What the cut's node's frames looked like, in seconds since the input's first frame (as the
/// library counts them).
#[derive(Default)]
struct Seen {
    /// The node the cut takes (`--node`, or the first frame's).
    node: Option<u32>,
    t0: Option<i64>,
    /// The node's frames, its first and last time, and its first time at or after the start.
    frames: u64,
    first: f64,
    last: f64,
    first_in_cut: Option<f64>,
}

impl Seen {
    fn frame(&mut self, node: u32, ts_ns: i64, start_s: f64) {
        let t0 = *self.t0.get_or_insert(ts_ns);
        if *self.node.get_or_insert(node) != node {
            return;
        }
        let t = (ts_ns - t0) as f64 * 1e-9;
        if self.frames == 0 {
            self.first = t;
        }
        self.frames += 1;
        self.last = self.last.max(t);
        if t >= start_s && self.first_in_cut.is_none() {
            self.first_in_cut = Some(t);
        }
    }

    /// The node's last frame time when its frames end more than one mean frame interval
    /// before `end_s` (the cut was shortened), `None` otherwise.
    fn ran_out(&self, end_s: f64) -> Option<f64> {
        if self.frames < 2 {
            return None;
        }
        let interval = (self.last - self.first) / (self.frames - 1) as f64;
        (end_s - self.last > interval).then_some(self.last)
    }
}

/// The last path component (provenance must not carry this machine's directories).
fn file_name(p: &str) -> String {
    std::path::Path::new(p)
        .file_name()
        .map_or_else(|| p.to_string(), |f| f.to_string_lossy().into_owned())
}

/// The current UTC time as RFC 3339 (`2026-12-05T15:00:00Z`).
fn now_rfc3339() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339_is_well_formed() {
        let s = super::now_rfc3339();
        assert_eq!(s.len(), 20, "{s}");
        assert!(s.starts_with("20") && s.ends_with('Z'), "{s}");
    }
}
