//! Impairments of real radios, applied after the propagation model.
//!
//! Order of application for one frame with clean channel `H[r][t][k]` (in channel units):
//!
//! 1. **Frame timing jitter**: the frame is measured at `t_n = n / rate + j`, `j ~ N(0, σ_j)`
//!    clamped to ±45 % of the frame period and rounded to a whole microsecond, the resolution
//!    of radio timestamps (the channel is evaluated at that time).
//! 2. **Dropped frames**: with probability `drop_prob` the frame is lost (its sequence number is
//!    skipped, no frame and no ground-truth line are produced).
//! 3. **Timing offset** (packet-detection / sampling-time offset): `τ ~ N(0, σ_τ)` per frame,
//!    a linear phase `−2π·k·Δf·τ` across subcarrier index `k`.
//! 4. **Carrier frequency offset**: a common phase `φ = 2π·cfo·t + φ_rand` with `φ_rand` uniform
//!    in `[0, 2π)` per frame when `random_common_phase` is on (the residual CFO and phase
//!    noise after the receiver's correction are effectively random per packet).
//! 5. **Chain phase offsets**: each receive chain has a constant phase drawn once per run (its
//!    PLL lock phase), multi-antenna receivers only.
//! 6. **Additive noise**: complex white Gaussian noise of power `P_ref / 10^(SNR/10)` per value,
//!    where `P_ref` is the mean power `E|H|²` of the empty room over the active subcarriers.
//!    The noise power is fixed (thermal), so the SNR of the empty room is exactly the requested
//!    one, and it changes with the channel as in a real receiver.
//! 7. **Gain and AGC**: the values are scaled so that the empty room plus noise has the device's
//!    target RMS amplitude, times the AGC gain `10^(g/20)`. The AGC measures each frame's level
//!    and, when it is off the target by more than `agc_hysteresis_db`, changes `g` in steps of
//!    `agc_step_db` for the next frame; it also makes a random ±1 step with probability
//!    `agc_random_step_prob` per frame (gain hunting). Guard and DC subcarriers stay exactly 0.
//! 8. **Quantisation**: rounding to the device's integer type (half away from zero) with
//!    saturation ([`DeviceProfile`](super::device::DeviceProfile)).
//!
//! Every per-frame random value is reported in the ground truth ([`FrameImpairments`]), so a test
//! can undo them exactly.

use serde::{Deserialize, Serialize};

/// Impairment settings of a scenario. Units are in the field names; see the [module
/// docs](self) for the model. `Default` is a realistic moderate setting; [`Impairments::none`]
/// switches everything off (floating-point output, no noise).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Impairments {
    /// Signal-to-noise ratio of the empty room, dB; `null` for no noise. Default 30.
    pub snr_db: Option<f64>,
    /// Standard deviation of the per-frame timing offset, ns. Default 25.
    pub timing_offset_std_ns: f64,
    /// Random common phase per frame. Default `true`.
    pub random_common_phase: bool,
    /// Residual carrier frequency offset, Hz (a phase ramp over time). Default 0.
    pub cfo_hz: f64,
    /// Constant random phase per receive chain. Default `true`.
    pub chain_phase_offsets: bool,
    /// AGC gain step, dB; 0 switches the AGC off (constant gain). Default 1.
    pub agc_step_db: f64,
    /// Level error the AGC tolerates before stepping, dB. Default 3.
    pub agc_hysteresis_db: f64,
    /// Probability per frame of a random AGC step. Default 0.002.
    pub agc_random_step_prob: f64,
    /// Standard deviation of the frame time jitter, ms. Default 1.
    pub jitter_std_ms: f64,
    /// Probability that a frame is dropped. Default 0.01.
    pub drop_prob: f64,
    /// Round to the device's integer type. Default `true`.
    pub quantise: bool,
}

impl Default for Impairments {
    fn default() -> Self {
        Impairments {
            snr_db: Some(30.0),
            timing_offset_std_ns: 25.0,
            random_common_phase: true,
            cfo_hz: 0.0,
            chain_phase_offsets: true,
            agc_step_db: 1.0,
            agc_hysteresis_db: 3.0,
            agc_random_step_prob: 0.002,
            jitter_std_ms: 1.0,
            drop_prob: 0.01,
            quantise: true,
        }
    }
}

impl Impairments {
    /// No impairment at all: no noise, no offsets, constant gain, exact timing, no drops and
    /// unquantised (floating-point) values.
    pub fn none() -> Self {
        Impairments {
            snr_db: None,
            timing_offset_std_ns: 0.0,
            random_common_phase: false,
            cfo_hz: 0.0,
            chain_phase_offsets: false,
            agc_step_db: 0.0,
            agc_hysteresis_db: 3.0,
            agc_random_step_prob: 0.0,
            jitter_std_ms: 0.0,
            drop_prob: 0.0,
            quantise: false,
        }
    }
}

/// The impairments actually applied to one frame (part of its ground truth).
///
/// The output value is `y = Q(scale · (H · e^{j(common_phase + chain_phase[r] − 2π·k·Δf·τ)} + n))`
/// with `τ = timing_offset_ns · 1e-9`, chain phases in the truth header, and `Q` the
/// quantiser.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct FrameImpairments {
    /// Timing offset τ, ns.
    pub timing_offset_ns: f64,
    /// Common phase (CFO), radians in `[0, 2π)`.
    pub common_phase_rad: f64,
    /// AGC gain used for this frame, dB.
    pub agc_gain_db: f64,
    /// Total scale from channel units to output units (base scale × AGC gain).
    pub scale: f64,
    /// Standard deviation of the noise per real component, in output units (0 without noise).
    pub noise_std: f64,
}

/// The AGC loop state.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Agc {
    pub gain_db: f64,
}

impl Agc {
    /// Largest gain excursion either way, dB.
    pub const MAX_DB: f64 = 30.0;

    /// Updates the gain for the next frame from this frame's level error (dB) and the random
    /// hunting draw `u` in `[0, 1)`.
    pub fn update(&mut self, imp: &Impairments, level_db: f64, u: f64) {
        if imp.agc_step_db <= 0.0 {
            return;
        }
        let step = imp.agc_step_db;
        if level_db.is_finite() && level_db.abs() > imp.agc_hysteresis_db {
            self.gain_db -= step * (level_db / step).round();
        }
        if u < imp.agc_random_step_prob {
            // Split the unit interval below the probability into a down and an up half.
            if u < imp.agc_random_step_prob / 2.0 {
                self.gain_db -= step;
            } else {
                self.gain_db += step;
            }
        }
        self.gain_db = self.gain_db.clamp(-Self::MAX_DB, Self::MAX_DB);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agc_steps_toward_target() {
        let imp = Impairments::default();
        let mut a = Agc { gain_db: 0.0 };
        a.update(&imp, 2.0, 0.5);
        assert_eq!(a.gain_db, 0.0, "inside the hysteresis");
        a.update(&imp, 6.2, 0.5);
        assert_eq!(a.gain_db, -6.0);
        a.update(&imp, 0.0, 0.0001);
        assert_eq!(a.gain_db, -7.0, "random step down");
        a.update(&imp, 0.0, 0.0015);
        assert_eq!(a.gain_db, -6.0, "random step up");
        let off = Impairments::none();
        a.update(&off, 20.0, 0.0);
        assert_eq!(a.gain_db, -6.0, "AGC off");
    }

    #[test]
    fn json_defaults_and_unknown_fields() {
        let i: Impairments = serde_json::from_str(r#"{"snr_db": null, "drop_prob": 0.1}"#).unwrap();
        assert_eq!(i.snr_db, None);
        assert_eq!(i.drop_prob, 0.1);
        assert_eq!(i.timing_offset_std_ns, 25.0);
        assert!(serde_json::from_str::<Impairments>(r#"{"snr": 3}"#).is_err());
    }
}
