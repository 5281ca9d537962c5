//! Frames to arrays: the amplitude or the complex CSI of one stream of a run of frames as a
//! `(time, subcarrier)` matrix, the layout the offline functions of this crate take
//! ([`crate::hampel::hampel_columns`], [`crate::biquad::sosfilt_channels`],
//! [`crate::stft::StftPlan::stft_channels`]).
//!
//! ```
//! use wifi_sensing_core::sim::{DeviceProfile, Scenario, Simulator};
//! use wifi_sensing_signal::matrix::amplitude_columns;
//!
//! let sim = Simulator::new(Scenario::preset("walk", 5.0)?, DeviceProfile::esp32(), 7)?;
//! let frames: Vec<_> = sim.map(|(frame, _truth)| frame).take(100).collect();
//! let m = amplitude_columns(&frames, 0, 0)?; // a slice of frames or of `&CsiFrame`s
//! assert_eq!(m.values.dim(), (100, 64)); // (time, subcarrier)
//! assert_eq!(m.timestamps_ns.len(), 100);
//! assert_eq!(m.skipped, 0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::borrow::Borrow;

use ndarray::{Array2, Axis};
use num_complex::Complex64;
use wifi_sensing_core::CsiFrame;

use crate::error::{Result, SignalError};

/// One stream of a run of frames as a `(time, subcarrier)` matrix.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamMatrix<T> {
    /// Row `k` is frame `k` (of those kept), column `s` its subcarrier column `s`.
    pub values: Array2<T>,
    /// Timestamp of each row, ns (the frames' clock).
    pub timestamps_ns: Vec<i64>,
    /// Subcarrier index of each column, where the first frame states them.
    pub subcarriers: Option<Vec<i16>>,
    /// Frames left out because their shape differs from the first frame's.
    pub skipped: usize,
}

/// The amplitude `|H|` of stream `(rx, tx)` as a `(time, subcarrier)` matrix. Frames whose shape
/// differs from the first frame's are left out and counted in [`StreamMatrix::skipped`]; the
/// frames should be of one node, in time order.
///
/// Errors: no frame, or `(rx, tx)` outside the first frame's shape.
pub fn amplitude_columns<F: Borrow<CsiFrame>>(
    frames: impl IntoIterator<Item = F>,
    rx: usize,
    tx: usize,
) -> Result<StreamMatrix<f64>> {
    columns(frames, rx, tx, "amplitude_columns", |c| f64::from(c.norm()))
}

/// The complex CSI of stream `(rx, tx)` as a `(time, subcarrier)` matrix, as
/// [`amplitude_columns`] does for the amplitude.
pub fn csi_columns<F: Borrow<CsiFrame>>(
    frames: impl IntoIterator<Item = F>,
    rx: usize,
    tx: usize,
) -> Result<StreamMatrix<Complex64>> {
    columns(frames, rx, tx, "csi_columns", |c| {
        Complex64::new(f64::from(c.re), f64::from(c.im))
    })
}

fn columns<F: Borrow<CsiFrame>, T>(
    frames: impl IntoIterator<Item = F>,
    rx: usize,
    tx: usize,
    component: &'static str,
    value: impl Fn(&num_complex::Complex32) -> T,
) -> Result<StreamMatrix<T>> {
    let mut it = frames.into_iter();
    let first = it.next().ok_or(SignalError::TooShort {
        component,
        len: 0,
        needed: 1,
    })?;
    let first = first.borrow();
    let shape = first.shape();
    if rx >= shape.0 || tx >= shape.1 {
        return Err(SignalError::Shape {
            component,
            detail: format!("stream ({rx}, {tx}) outside the frames' shape {shape:?}"),
        });
    }
    let mut flat = Vec::new();
    let mut timestamps_ns = Vec::new();
    let mut skipped = 0;
    let mut push = |f: &CsiFrame| {
        if f.shape() != shape {
            skipped += 1;
            return;
        }
        timestamps_ns.push(f.timestamp_ns);
        let stream = f.csi.index_axis(Axis(0), rx);
        flat.extend(stream.index_axis(Axis(0), tx).iter().map(&value));
    };
    push(first);
    let subcarriers = first.subcarriers.clone();
    for f in it {
        push(f.borrow());
    }
    let rows = timestamps_ns.len();
    let values = Array2::from_shape_vec((rows, shape.2), flat).map_err(|e| SignalError::Shape {
        component,
        detail: e.to_string(),
    })?;
    Ok(StreamMatrix {
        values,
        timestamps_ns,
        subcarriers,
        skipped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array3;
    use num_complex::Complex32;
    use wifi_sensing_core::{CaptureFormat, Device};

    fn frame_with(t_ns: i64, rx: usize, sign: f32) -> CsiFrame {
        let csi = Array3::from_shape_fn((rx, 1, 3), |(r, _, s)| {
            Complex32::new(sign * (r * 10 + s) as f32, 0.0)
        });
        let mut f = CsiFrame::new(CaptureFormat::Simulated, Device::Simulator, csi);
        f.timestamp_ns = t_ns;
        f
    }

    #[test]
    fn layout_skips_and_errors() {
        let a = frame_with(1_000, 2, 1.0);
        let b = frame_with(2_000, 2, -1.0);
        let odd = frame_with(1_500, 1, 1.0);
        let m = amplitude_columns([&a, &odd, &b], 1, 0).unwrap();
        assert_eq!(m.values.dim(), (2, 3));
        assert_eq!(m.values.row(1).to_vec(), vec![10.0, 11.0, 12.0]);
        assert_eq!(m.timestamps_ns, vec![1_000, 2_000]);
        assert_eq!(m.skipped, 1);
        let c = csi_columns(vec![a.clone(), b.clone()], 0, 0).unwrap();
        assert_eq!(c.values[[1, 2]], Complex64::new(-2.0, 0.0));
        assert!(amplitude_columns(Vec::<CsiFrame>::new(), 0, 0).is_err());
        let e = amplitude_columns([&a], 2, 0).unwrap_err().to_string();
        assert!(e.contains("outside"), "{e}");
    }
}
