//! Decoding model outputs: direct keypoint regression, heatmap argmax with sub-pixel
//! refinement, DensePose-style part masks with UV summaries.
//!
//! Each decoder takes the values of one window (one batch item) and either returns the decoded
//! result or [`Rejected`] with the reason (a non-finite value, a confidence outside `[0, 1]`):
//! the estimator then counts the window as an invalid output instead of reporting a pose made
//! of garbage.

use ndarray::ArrayView3;
use serde::{Deserialize, Serialize};

use crate::manifest::{Activation, Extent, COCO_KEYPOINTS, DENSEPOSE_CHANNELS};

/// Why a window's output was not turned into a pose.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejected(pub String);

/// One body keypoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Keypoint {
    /// COCO name (`nose`, `left_eye`, ...).
    pub name: String,
    /// x in the coordinate frame.
    pub x: f64,
    /// y in the coordinate frame.
    pub y: f64,
    /// z in the coordinate frame, for 3-D frames.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub z: Option<f64>,
    /// Confidence in `[0, 1]`.
    pub confidence: f64,
}

fn activate(v: f32, a: Activation) -> f64 {
    let v = f64::from(v);
    match a {
        Activation::None => v,
        Activation::Sigmoid => 1.0 / (1.0 + (-v).exp()),
    }
}

fn confidence(v: f32, a: Activation, joint: usize) -> Result<f64, Rejected> {
    let c = activate(v, a);
    if c.is_finite() && (0.0..=1.0).contains(&c) {
        Ok(c)
    } else {
        Err(Rejected(format!(
            "confidence of {} is {c}, outside [0, 1]",
            COCO_KEYPOINTS[joint]
        )))
    }
}

/// Decodes 17 × (`dims` + 1) regressed values (x, y[, z], confidence per joint, COCO order).
///
/// ```
/// use wifi_sensing_pose::decode::decode_keypoints;
/// use wifi_sensing_pose::manifest::Activation;
/// let mut v = vec![0.0f32; 17 * 3];
/// v[0] = 1.5; v[1] = 2.0; v[2] = 0.9; // nose at (1.5, 2.0), confidence 0.9
/// let k = decode_keypoints(&v, 2, Activation::None).unwrap();
/// assert_eq!((k[0].x, k[0].y, k[0].z), (1.5, 2.0, None));
/// ```
pub fn decode_keypoints(
    values: &[f32],
    dims: usize,
    activation: Activation,
) -> Result<Vec<Keypoint>, Rejected> {
    let stride = dims + 1;
    if values.len() != 17 * stride {
        return Err(Rejected(format!(
            "{} values, expected 17 x {stride}",
            values.len()
        )));
    }
    values
        .chunks_exact(stride)
        .enumerate()
        .map(|(j, c)| {
            if let Some(k) = c[..dims].iter().position(|v| !v.is_finite()) {
                return Err(Rejected(format!(
                    "coordinate {k} of {} is not finite",
                    COCO_KEYPOINTS[j]
                )));
            }
            Ok(Keypoint {
                name: COCO_KEYPOINTS[j].to_string(),
                x: f64::from(c[0]),
                y: f64::from(c[1]),
                z: (dims == 3).then(|| f64::from(c[2])),
                confidence: confidence(c[dims], activation, j)?,
            })
        })
        .collect()
}

/// Offset of a parabola's vertex through `(−1, l)`, `(0, m)`, `(1, r)`, in `[−0.5, 0.5]`
/// (0 when the three points are not a peak).
fn parabolic_offset(l: f32, m: f32, r: f32) -> f64 {
    let (l, m, r) = (f64::from(l), f64::from(m), f64::from(r));
    let denom = l - 2.0 * m + r;
    if denom < 0.0 {
        (0.5 * (l - r) / denom).clamp(-0.5, 0.5)
    } else {
        0.0
    }
}

/// Decodes `[17, height, width]` heatmaps: argmax per joint, refined to sub-pixel precision by
/// a 3-point parabola along each axis (exact for a locally quadratic peak), then mapped into
/// `extent` (pixel `(row, col)` covers `[col, col + 1) × [row, row + 1)` scaled to the extent,
/// so its centre is at `col + 0.5`). The confidence is the activated value of the peak pixel.
///
/// ```
/// use ndarray::Array3;
/// use wifi_sensing_pose::decode::decode_heatmaps;
/// use wifi_sensing_pose::manifest::{Activation, Extent};
/// let mut h = Array3::<f32>::zeros((17, 4, 4));
/// h[[0, 1, 2]] = 0.8;
/// let e = Extent { x_min: 0.0, x_max: 4.0, y_min: 0.0, y_max: 4.0 };
/// let k = decode_heatmaps(h.view(), &e, Activation::None).unwrap();
/// assert_eq!((k[0].x, k[0].y, k[0].confidence), (2.5, 1.5, 0.800000011920929));
/// ```
pub fn decode_heatmaps(
    maps: ArrayView3<'_, f32>,
    extent: &Extent,
    activation: Activation,
) -> Result<Vec<Keypoint>, Rejected> {
    let (joints, h, w) = maps.dim();
    if joints != 17 || h == 0 || w == 0 {
        return Err(Rejected(format!(
            "heatmaps are {joints} x {h} x {w}, expected 17 x height x width"
        )));
    }
    let mut out = Vec::with_capacity(17);
    for (j, name) in COCO_KEYPOINTS.iter().enumerate() {
        let m = maps.index_axis(ndarray::Axis(0), j);
        let mut best = (0usize, 0usize, f32::NEG_INFINITY);
        for ((r, c), &v) in m.indexed_iter() {
            if !v.is_finite() {
                return Err(Rejected(format!(
                    "heatmap of {} has a non-finite value at ({r}, {c})",
                    name
                )));
            }
            if v > best.2 {
                best = (r, c, v);
            }
        }
        let (r, c, v) = best;
        let dx = if c > 0 && c + 1 < w {
            parabolic_offset(m[[r, c - 1]], v, m[[r, c + 1]])
        } else {
            0.0
        };
        let dy = if r > 0 && r + 1 < h {
            parabolic_offset(m[[r - 1, c]], v, m[[r + 1, c]])
        } else {
            0.0
        };
        let px = c as f64 + dx + 0.5;
        let py = r as f64 + dy + 0.5;
        out.push(Keypoint {
            name: name.to_string(),
            x: extent.x_min + px / w as f64 * (extent.x_max - extent.x_min),
            y: extent.y_min + py / h as f64 * (extent.y_max - extent.y_min),
            z: None,
            confidence: confidence(v, activation, j)?,
        });
    }
    Ok(out)
}

/// One body part of a DensePose-style output.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PartSummary {
    /// Part number, 1..=24 (DensePose numbering; 0 is background).
    pub part: u8,
    /// Pixels labelled with this part.
    pub pixels: usize,
    /// Share of all pixels of the map.
    pub fraction: f64,
    /// Mean U coordinate over the part's pixels.
    pub mean_u: f64,
    /// Mean V coordinate over the part's pixels.
    pub mean_v: f64,
    /// Bounding box `[row_min, col_min, row_max, col_max]` (inclusive), in map pixels.
    pub bbox: [usize; 4],
}

/// A decoded DensePose-style output.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DensePose {
    /// Map height (rows).
    pub height: usize,
    /// Map width (columns).
    pub width: usize,
    /// Part label of every pixel (row-major, 0 = background): the per-part masks. Not written
    /// to JSON records (too large per window); available to Rust users.
    #[serde(skip)]
    pub labels: Vec<u8>,
    /// Parts present (at least one pixel), in part order.
    pub parts: Vec<PartSummary>,
}

impl DensePose {
    /// The mask of one part (`true` where the pixel belongs to it), row-major.
    pub fn mask(&self, part: u8) -> impl Iterator<Item = bool> + '_ {
        self.labels.iter().map(move |&l| l == part)
    }
}

/// Decodes `[25, height, width]` part logits and U, V maps: each pixel takes the part of its
/// largest logit; each present part gets its pixel count, share, mean U and V and bounding box.
///
/// ```
/// use ndarray::Array3;
/// use wifi_sensing_pose::decode::decode_densepose;
/// let mut parts = Array3::<f32>::zeros((25, 2, 2));
/// parts[[3, 0, 1]] = 1.0; // pixel (0, 1) is part 3
/// let u = Array3::<f32>::from_elem((25, 2, 2), 0.25);
/// let v = Array3::<f32>::from_elem((25, 2, 2), 0.75);
/// let d = decode_densepose(parts.view(), u.view(), v.view()).unwrap();
/// assert_eq!(d.parts.len(), 1);
/// assert_eq!((d.parts[0].part, d.parts[0].pixels, d.parts[0].mean_u), (3, 1, 0.25));
/// ```
pub fn decode_densepose(
    parts: ArrayView3<'_, f32>,
    u: ArrayView3<'_, f32>,
    v: ArrayView3<'_, f32>,
) -> Result<DensePose, Rejected> {
    let (c, h, w) = parts.dim();
    if c != DENSEPOSE_CHANNELS || u.dim() != (c, h, w) || v.dim() != (c, h, w) {
        return Err(Rejected(format!(
            "DensePose outputs are {:?}, {:?}, {:?}; expected three [25, height, width]",
            parts.dim(),
            u.dim(),
            v.dim()
        )));
    }
    if parts
        .iter()
        .chain(u.iter())
        .chain(v.iter())
        .any(|x| !x.is_finite())
    {
        return Err(Rejected("a DensePose output has a non-finite value".into()));
    }
    let mut labels = vec![0u8; h * w];
    // Per part: pixels, sum u, sum v, bbox.
    let mut acc = vec![(0usize, 0.0f64, 0.0f64, [usize::MAX, usize::MAX, 0, 0]); c];
    for r in 0..h {
        for col in 0..w {
            let mut best = 0usize;
            for p in 1..c {
                if parts[[p, r, col]] > parts[[best, r, col]] {
                    best = p;
                }
            }
            labels[r * w + col] = best as u8;
            let a = &mut acc[best];
            a.0 += 1;
            a.1 += f64::from(u[[best, r, col]]);
            a.2 += f64::from(v[[best, r, col]]);
            a.3 = [
                a.3[0].min(r),
                a.3[1].min(col),
                a.3[2].max(r),
                a.3[3].max(col),
            ];
        }
    }
    let total = (h * w).max(1) as f64;
    let parts = acc
        .iter()
        .enumerate()
        .skip(1)
        .filter(|(_, a)| a.0 > 0)
        .map(|(p, a)| PartSummary {
            part: p as u8,
            pixels: a.0,
            fraction: a.0 as f64 / total,
            mean_u: a.1 / a.0 as f64,
            mean_v: a.2 / a.0 as f64,
            bbox: a.3,
        })
        .collect();
    Ok(DensePose {
        height: h,
        width: w,
        labels,
        parts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array3;

    #[test]
    fn parabola_vertex_is_exact() {
        for x0 in [-0.4, -0.1, 0.0, 0.3, 0.49] {
            let f = |x: f64| (2.0 - 0.7 * (x - x0) * (x - x0)) as f32;
            let off = parabolic_offset(f(-1.0), f(0.0), f(1.0));
            assert!((off - x0).abs() < 1e-6, "{off} vs {x0}");
        }
        assert_eq!(parabolic_offset(1.0, 1.0, 1.0), 0.0);
    }

    #[test]
    fn bad_values_are_rejected_not_decoded() {
        let mut v = vec![0.5f32; 17 * 4];
        v[5] = f32::NAN;
        assert!(decode_keypoints(&v, 3, Activation::None).is_err());
        let mut v = vec![0.5f32; 17 * 4];
        v[3] = 1.5; // confidence of the nose
        assert!(decode_keypoints(&v, 3, Activation::None).is_err());
        // ... but as a logit it is fine.
        let k = decode_keypoints(&v, 3, Activation::Sigmoid).unwrap();
        assert!((k[0].confidence - 1.0 / (1.0 + (-1.5f64).exp())).abs() < 1e-12);
        assert!(decode_keypoints(&v[..10], 3, Activation::None).is_err());
        let mut h = Array3::<f32>::zeros((17, 3, 3));
        h[[4, 1, 1]] = f32::INFINITY;
        let e = Extent {
            x_min: 0.0,
            x_max: 1.0,
            y_min: 0.0,
            y_max: 1.0,
        };
        assert!(decode_heatmaps(h.view(), &e, Activation::None).is_err());
        assert!(decode_heatmaps(Array3::zeros((16, 3, 3)).view(), &e, Activation::None).is_err());
    }
}
