//! Cutting a signature out of a recording, with thresholds derived from the data
//! (what `wifi-sensing signature capture` runs).
//!
//! The input's frames of one node go through a [`FeatureExtractor`] (the whole input, so the
//! running baseline is warm at the cut); the frames whose time since the input's first frame
//! lies in `[start, start + duration)` become the signature's vectors. The thresholds come from
//! [`derive_thresholds`] over the background: every extra background input (each with its own
//! extractor), plus, unless switched off, the input's own frames before `start − duration` and
//! from `start + 2·duration` on (the neighbourhood of the cut is left out, since it holds the
//! same activity's run-up and tail).

use wifi_sensing_core::CsiFrame;

use crate::error::{Error, Result};
use crate::features::{FeatureConfig, FeatureExtractor};
use crate::signature::{
    derive_thresholds, DtwSettings, Provenance, Signature, ThresholdRule, MAX_LENGTH,
};

/// Most feature frames held from one input (one hour at 100 Hz plus margin); a longer input is
/// refused rather than filling memory.
pub const MAX_CAPTURE_FRAMES: usize = 400_000;

/// What to cut and how.
#[derive(Clone, Debug, PartialEq)]
pub struct CaptureSpec {
    /// Signature id.
    pub id: String,
    /// Label.
    pub label: String,
    /// Capture time written into the file (RFC 3339).
    pub captured_at: String,
    /// Start of the cut, seconds after the input's first frame.
    pub start_s: f64,
    /// Length of the cut, seconds.
    pub duration_s: f64,
    /// Node to take frames from (`None`: the node of the first frame).
    pub node_id: Option<u32>,
    /// Feature extraction.
    pub features: FeatureConfig,
    /// Sakoe–Chiba radius recorded for batch comparisons.
    pub window: Option<usize>,
    /// Threshold rule.
    pub rule: ThresholdRule,
    /// Name of the input, for provenance.
    pub input_name: Option<String>,
    /// Use the input's frames away from the cut as background too.
    pub input_background: bool,
}

/// Feature frames of one node with their times (seconds since the input's first frame).
struct Features {
    times: Vec<f64>,
    vectors: Vec<Vec<f32>>,
    node: Option<u32>,
    /// Distinct nodes seen in the input (the first few, for messages).
    nodes_seen: Vec<u32>,
    /// Frames of the chosen node.
    node_frames: u64,
    /// Why the last frame of the node gave no features.
    last_refusal: Option<String>,
}

/// Distinct node ids kept for messages.
const NODES_NAMED: usize = 16;

impl Features {
    /// Why no frame gave features: no frames, none of the chosen node, or every one refused.
    fn why_empty(&self, what: &str) -> String {
        let nodes = || {
            let mut n: Vec<String> = self.nodes_seen.iter().map(u32::to_string).collect();
            if n.len() == NODES_NAMED {
                n.push("...".into());
            }
            n.join(", ")
        };
        match (self.node, self.node_frames, &self.last_refusal) {
            (_, _, _) if self.nodes_seen.is_empty() => format!("{what}: no frames"),
            (Some(node), 0, _) => {
                format!(
                    "{what}: node {node} has no frames (the input's nodes: {})",
                    nodes()
                )
            }
            (_, n, Some(why)) => {
                format!("{what}: none of the node's {n} frames gave features: {why}")
            }
            (_, n, None) => format!("{what}: none of the node's {n} frames gave features"),
        }
    }
}

fn features_of<I>(input: I, node: Option<u32>, cfg: &FeatureConfig, what: &str) -> Result<Features>
where
    I: IntoIterator<Item = wifi_sensing_core::Result<CsiFrame>>,
{
    let mut fx = FeatureExtractor::new(cfg.clone())?;
    let mut out = Features {
        times: Vec::new(),
        vectors: Vec::new(),
        node,
        nodes_seen: Vec::new(),
        node_frames: 0,
        last_refusal: None,
    };
    let mut t0 = None;
    for f in input {
        let frame = match f {
            Ok(f) => f,
            Err(e) if e.is_recoverable() => continue,
            // a capture cut inside its last record: every frame before the cut is complete
            Err(e) if e.is_truncated() => break,
            Err(e) => return Err(Error::InvalidInput(format!("{what}: {e}"))),
        };
        let t0 = *t0.get_or_insert(frame.timestamp_ns);
        if out.nodes_seen.len() < NODES_NAMED && !out.nodes_seen.contains(&frame.node_id) {
            out.nodes_seen.push(frame.node_id);
        }
        if *out.node.get_or_insert(frame.node_id) != frame.node_id {
            continue;
        }
        out.node_frames += 1;
        let x = match fx.extract(&frame) {
            Ok(x) => x,
            Err(e) => {
                out.last_refusal = Some(e.to_string());
                continue;
            }
        };
        if out.vectors.len() >= MAX_CAPTURE_FRAMES {
            return Err(Error::InvalidInput(format!(
                "{what}: more than {MAX_CAPTURE_FRAMES} frames; cut the input shorter"
            )));
        }
        out.times.push((frame.timestamp_ns - t0) as f64 * 1e-9);
        out.vectors.push(x.to_vec());
    }
    Ok(out)
}

/// Cuts a signature out of `input` (see the module docs) and derives its thresholds from the
/// background.
pub fn capture<I, B>(input: I, backgrounds: Vec<B>, spec: &CaptureSpec) -> Result<Signature>
where
    I: IntoIterator<Item = wifi_sensing_core::Result<CsiFrame>>,
    B: IntoIterator<Item = wifi_sensing_core::Result<CsiFrame>>,
{
    if !(spec.start_s.is_finite() && spec.start_s >= 0.0) {
        return Err(Error::config(
            "start",
            format!("must be >= 0 s (got {})", spec.start_s),
        ));
    }
    if !(spec.duration_s.is_finite() && spec.duration_s > 0.0) {
        return Err(Error::config(
            "duration",
            format!("must be > 0 s (got {})", spec.duration_s),
        ));
    }
    let name = spec.input_name.as_deref().unwrap_or("input");
    let main = features_of(input, spec.node_id, &spec.features, name)?;
    let (a, b) = (spec.start_s, spec.start_s + spec.duration_s);
    let cut: Vec<usize> = (0..main.times.len())
        .filter(|&i| main.times[i] >= a && main.times[i] < b)
        .collect();
    if main.vectors.is_empty() {
        return Err(Error::InvalidInput(main.why_empty(name)));
    }
    if cut.len() < 2 {
        let last = main.times.last().copied().unwrap_or(0.0);
        return Err(Error::InvalidInput(format!(
            "{name}: the cut [{a} s, {b} s) holds {} usable frames (the input's frames span 0..{last:.3} s)",
            cut.len()
        )));
    }
    if cut.len() > MAX_LENGTH {
        return Err(Error::InvalidInput(format!(
            "{name}: the cut holds {} frames (at most {MAX_LENGTH})",
            cut.len()
        )));
    }
    let mut segments: Vec<Vec<Vec<f32>>> = Vec::new();
    if spec.input_background {
        let before: Vec<Vec<f32>> = (0..main.times.len())
            .filter(|&i| main.times[i] < a - spec.duration_s)
            .map(|i| main.vectors[i].clone())
            .collect();
        let after: Vec<Vec<f32>> = (0..main.times.len())
            .filter(|&i| main.times[i] >= a + 2.0 * spec.duration_s)
            .map(|i| main.vectors[i].clone())
            .collect();
        segments.extend([before, after].into_iter().filter(|s| !s.is_empty()));
    }
    let dim = main.vectors[cut[0]].len();
    for (k, bg) in backgrounds.into_iter().enumerate() {
        let f = features_of(bg, None, &spec.features, &format!("background {}", k + 1))?;
        if let Some(v) = f.vectors.first() {
            if v.len() != dim {
                return Err(Error::InvalidInput(format!(
                    "background {}: features of {} dimensions, the input's have {dim}",
                    k + 1,
                    v.len()
                )));
            }
        }
        segments.push(f.vectors);
    }
    let mut sig = Signature {
        id: spec.id.clone(),
        label: spec.label.clone(),
        captured_at: spec.captured_at.clone(),
        feature_kind: spec.features.kind,
        length: cut.len(),
        dtw: DtwSettings {
            window: spec.window,
            ..DtwSettings::default()
        },
        vectors: cut
            .iter()
            .map(|&i| main.vectors[i].iter().map(|&v| v as f64).collect())
            .collect(),
        promotion_threshold: 1.0,
        prefix_thresholds: None,
        min_prefix: None,
        provenance: None,
        spread: None,
    };
    let t = derive_thresholds(&sig, &segments, spec.rule)?;
    if t.prefix.iter().all(Option::is_none) {
        return Err(Error::InvalidInput(format!(
            "{name}: the background matches the cut as closely as the cut matches itself; \
             no threshold separates them (give a background of other activity)"
        )));
    }
    sig.promotion_threshold = t.promotion;
    sig.prefix_thresholds = Some(t.prefix);
    sig.min_prefix = Some(t.min_prefix);
    sig.provenance = Some(Provenance {
        input: spec.input_name.clone(),
        start_s: Some(spec.start_s),
        duration_s: Some({
            // what the input covered: up to one frame interval past the last frame of the cut
            let (first, last) = (main.times[cut[0]], main.times[cut[cut.len() - 1]]);
            let dt = (last - first) / (cut.len() - 1) as f64;
            (last - a + dt).min(spec.duration_s)
        }),
        node_id: main.node,
        background_frames: Some(t.background_frames),
        margin: Some(spec.rule.margin),
        rule: Some(spec.rule.describe()),
    });
    // What is written must load back.
    Signature::from_json_str(&sig.to_json_pretty(), name)
}
