//! The one error type of `wifi-sensing-signal`.

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Errors of the signal crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An invalid configuration value; the message names the field and the accepted range.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A calibration (baseline) file is unreadable or corrupt; `field` names the offending
    /// field (a JSON path such as `nodes[0].reference[3]`).
    #[error("baseline {source_name}: field `{field}`: {reason}")]
    BaselineCorrupt {
        /// File name (or `<memory>`).
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
    /// Reading or writing a file failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done (with the file name).
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Too many distinct nodes in one stream (bad input cannot grow memory without bound).
    #[error("more than {limit} distinct nodes in one stream (node {node})")]
    TooManyNodes {
        /// The limit.
        limit: usize,
        /// The node id that exceeded it.
        node: u32,
    },
}

impl From<Error> for wifi_sensing_core::Error {
    fn from(e: Error) -> Self {
        wifi_sensing_core::Error::Component {
            component: "sensing".to_string(),
            reason: e.to_string(),
        }
    }
}
