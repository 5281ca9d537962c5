//! The one error type of `wifi-sensing-signal`.

/// Result alias of this crate.
pub type Result<T, E = SignalError> = std::result::Result<T, E>;

/// Errors of the signal-processing crate. Every variant names what was wrong and the accepted
/// range, so a command line can show it as it is.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SignalError {
    /// A configuration parameter is out of its accepted range.
    #[error("{component}: parameter `{param}` = {value} is invalid; accepted: {accepted}")]
    InvalidParameter {
        /// Stage, analyser or function the parameter belongs to.
        component: &'static str,
        /// Parameter name.
        param: &'static str,
        /// The value given, as text.
        value: String,
        /// What would be accepted.
        accepted: String,
    },
    /// A compact specification names a parameter its stage or analyser does not take.
    #[error(
        "{component}: unknown parameter `{param}`{}; accepted: {accepted}",
        .suggestion.as_deref().map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default()
    )]
    UnknownParameter {
        /// Stage or analyser the specification is for.
        component: &'static str,
        /// The parameter name given.
        param: String,
        /// The accepted name nearest to it, if one is near.
        suggestion: Option<String>,
        /// The accepted parameters.
        accepted: String,
    },
    /// A compact specification (`hampel:window=15:k=3`) could not be parsed.
    #[error("stage spec `{spec}`: {reason}")]
    Spec {
        /// The specification text.
        spec: String,
        /// Why it was refused.
        reason: String,
    },
    /// The input is too short (or empty) for the operation.
    #[error("{component}: input of {len} samples is too short; at least {needed} needed")]
    TooShort {
        /// Function that refused it.
        component: &'static str,
        /// Samples given.
        len: usize,
        /// Samples needed.
        needed: usize,
    },
    /// Inputs whose lengths or shapes must agree do not.
    #[error("{component}: shape mismatch: {detail}")]
    Shape {
        /// Function that refused it.
        component: &'static str,
        /// What disagreed.
        detail: String,
    },
    /// More distinct nodes than the configured limit (bad input cannot grow memory without bound).
    #[error("{component}: more than {limit} distinct nodes")]
    TooManyNodes {
        /// Stage or analyser.
        component: &'static str,
        /// The limit.
        limit: usize,
    },
    /// A numerical routine did not produce a usable result (non-finite input, no convergence).
    #[error("{component}: {reason}")]
    Numerical {
        /// Function that failed.
        component: &'static str,
        /// Why.
        reason: String,
    },
    /// An invalid configuration of a composite analyser; the message names the field and the
    /// accepted range.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A calibration (baseline) file is unreadable or corrupt; `field` names the offending
    /// field (a JSON path such as `nodes[0].reference[3]`).
    #[error("baseline {source_name}: field `{field}`: {reason}")]
    BaselineCorrupt {
        /// File name (or another label of the text).
        source_name: String,
        /// JSON path of the offending field (`<file>` for the file as a whole).
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A baseline does not match the stream it is applied to.
    #[error("baseline does not match the stream: {what}: the baseline has {baseline}, the stream has {stream}")]
    BaselineMismatch {
        /// What differs (`device`, `node set`, `CSI shape of node 3`, `subcarrier layout of node 3`).
        what: String,
        /// The baseline's value.
        baseline: String,
        /// The stream's value.
        stream: String,
    },
    /// A calibration capture is too short for a baseline (see
    /// [`Calibrator::finish`](crate::calibration::Calibrator::finish)).
    #[error(
        "calibration capture too short: node {node_id} has {frames} frames over {have_s:.1} s; \
         a baseline needs at least {need_s:.1} s at its frame rate: {need}"
    )]
    CalibrationTooShort {
        /// The node that is too short.
        node_id: u32,
        /// Its span of frames, s.
        have_s: f64,
        /// Its frames.
        frames: u64,
        /// The span it needs, s.
        need_s: f64,
        /// What that span is made of.
        need: String,
    },
    /// A calibration capture's own statistics show motion or a breathing person (see
    /// [`Calibrator::finish`](crate::calibration::Calibrator::finish)).
    #[error(
        "the calibration capture is not of an empty, still room: {}",
        crate::calibration::Activity::list(.seen)
    )]
    CalibrationActivity {
        /// What was seen, per node and statistic.
        seen: Vec<crate::calibration::Activity>,
    },
    /// Reading or writing a file failed.
    #[error("{context}: {reason}")]
    Io {
        /// What was being done (with the file name).
        context: String,
        /// The underlying error, as text.
        reason: String,
    },
    /// An image could not be drawn or encoded (feature `plot`).
    #[error("drawing: {0}")]
    Render(String),
}

impl SignalError {
    /// Builds an [`SignalError::InvalidParameter`].
    pub fn param(
        component: &'static str,
        param: &'static str,
        value: impl std::fmt::Display,
        accepted: impl Into<String>,
    ) -> Self {
        SignalError::InvalidParameter {
            component,
            param,
            value: value.to_string(),
            accepted: accepted.into(),
        }
    }
}

/// Kept whole ([`wifi_sensing_core::Error::Family`]): `source` downcasts to the
/// [`SignalError`].
impl From<SignalError> for wifi_sensing_core::Error {
    fn from(e: SignalError) -> Self {
        wifi_sensing_core::Error::Family {
            component: String::new(),
            source: Box::new(e),
        }
    }
}

/// `Ok` when `v` is finite and in `[lo, hi]`; otherwise a [`SignalError::Config`] naming the
/// field, the accepted range and the value (shared by the analysers' config checks).
pub(crate) fn check_range(name: &str, v: f64, lo: f64, hi: f64, unit: &str) -> Result<()> {
    if v.is_finite() && v >= lo && v <= hi {
        Ok(())
    } else {
        Err(SignalError::Config(format!(
            "{name} must be in [{lo}, {hi}] {unit} (got {v})"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wifi_sensing_core::{Analyser, Analysis, CsiFrame, Pipeline};

    /// An analyser that fails with a [`SignalError`] on its second frame.
    struct Failing(u32);

    impl Analyser for Failing {
        fn name(&self) -> &str {
            "failing"
        }
        fn analyse(
            &mut self,
            _: &CsiFrame,
            _: &mut Vec<Analysis>,
        ) -> wifi_sensing_core::Result<()> {
            self.0 += 1;
            if self.0 == 2 {
                return Err(SignalError::TooShort {
                    component: "spectrogram",
                    len: 3,
                    needed: 8,
                }
                .into());
            }
            Ok(())
        }
    }

    /// A [`SignalError`] turned into the core error stays whole: its variant and fields can
    /// be matched after `?` and after a pipeline names the analyser it came from (it was a
    /// `Config` string).
    #[test]
    fn signal_errors_stay_matchable_through_the_core_error() {
        let e: wifi_sensing_core::Error = SignalError::Config("x must be in [0, 1]".into()).into();
        assert_eq!(e.to_string(), "invalid configuration: x must be in [0, 1]");
        let frames = wifi_sensing_core::sim::Simulator::new(
            wifi_sensing_core::sim::Scenario::preset("walk", 1.0).unwrap(),
            wifi_sensing_core::sim::DeviceProfile::esp32(),
            1,
        )
        .unwrap()
        .frames();
        let mut p = Pipeline::builder().analyser(Failing(0)).build().unwrap();
        let err = p
            .process(frames)
            .find_map(Result::err)
            .expect("the second frame fails");
        let wifi_sensing_core::Error::Family { component, source } = &err else {
            panic!("{err:?}")
        };
        assert_eq!(component, "failing");
        assert!(matches!(
            source.downcast_ref::<SignalError>(),
            Some(SignalError::TooShort {
                len: 3,
                needed: 8,
                ..
            })
        ));
        assert_eq!(
            err.to_string(),
            "failing: spectrogram: input of 3 samples is too short; at least 8 needed"
        );
    }
}
