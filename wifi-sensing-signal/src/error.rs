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

impl From<SignalError> for wifi_sensing_core::Error {
    fn from(e: SignalError) -> Self {
        wifi_sensing_core::Error::Config(e.to_string())
    }
}
