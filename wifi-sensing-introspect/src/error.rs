//! The crate's error type.

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in introspection: bad series or configuration, a bad
/// signature file, a stream whose features do not match the loaded signatures.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A series or frame that cannot be processed (empty, ragged, non-finite).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// A configuration value out of range.
    #[error("invalid configuration: {field}: {reason}")]
    Config {
        /// Name of the field.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A signature file that does not validate.
    #[error("signature {file}: {field}: {reason}")]
    Signature {
        /// File (or source name) the signature came from.
        file: String,
        /// JSON field at fault (`vectors[3][7]`, `feature_kind`, ...).
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Reading a file or directory failed.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The dynamics tracker refused its configuration.
    #[error(transparent)]
    Dynamics(#[from] crate::dynamics::DynamicsError),
    /// Stream features and a signature disagree on kind or dimension.
    #[error("signature {signature}: {reason}")]
    Mismatch {
        /// Id of the signature.
        signature: String,
        /// What differs.
        reason: String,
    },
}

impl Error {
    pub(crate) fn config(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Config {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// Kept whole ([`wifi_sensing_core::Error::Family`]): `source` downcasts to the [`Error`].
impl From<Error> for wifi_sensing_core::Error {
    fn from(e: Error) -> Self {
        wifi_sensing_core::Error::Family {
            component: String::new(),
            source: Box::new(e),
        }
    }
}
