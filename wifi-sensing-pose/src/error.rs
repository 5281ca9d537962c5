//! [`PoseError`], the one error type of this crate.

use std::path::PathBuf;

/// Everything that can go wrong while loading a model or estimating poses.
///
/// Every variant names what it concerns (the file and field, the tensor, the node), so a message
/// alone says what to fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PoseError {
    /// Reading a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The manifest is not valid JSON, or a field is missing or out of range.
    #[error("{}: field `{field}`: {reason}", path.display())]
    Manifest {
        /// The manifest file.
        path: PathBuf,
        /// Dotted path of the field (`input.frame_rate_hz`), or `(file)` for the whole file.
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// The ONNX graph and the manifest disagree (shapes, tensor names, element types), or the
    /// graph uses operators the backend does not implement.
    #[error("{}: {reason}", model.display())]
    Graph {
        /// The `.onnx` file.
        model: PathBuf,
        /// What disagrees.
        reason: String,
    },
    /// The inference backend failed (loading the runtime, creating the session, running it).
    #[error("{backend} backend: {reason}")]
    Backend {
        /// `tract` or `ort`.
        backend: &'static str,
        /// The backend's message.
        reason: String,
    },
    /// The CSI stream does not match what the model was trained on (device, subcarriers,
    /// antennas, frame rate, timestamps).
    #[error("node {node_id}: stream does not match the model manifest ({field}): {reason}")]
    Stream {
        /// Node whose frames disagree.
        node_id: u32,
        /// Manifest field the stream disagrees with.
        field: &'static str,
        /// What disagrees.
        reason: String,
    },
    /// The model produced an output that does not fit the manifest's output description.
    #[error("model output `{tensor}`: {reason}")]
    Output {
        /// Output tensor name.
        tensor: String,
        /// What is wrong.
        reason: String,
    },
    /// An invalid configuration value.
    #[error("invalid pose configuration: {0}")]
    Config(String),
}

/// Kept whole ([`wifi_sensing_core::Error::Family`], component `pose`): `source` downcasts
/// to the [`PoseError`].
impl From<PoseError> for wifi_sensing_core::Error {
    fn from(e: PoseError) -> Self {
        wifi_sensing_core::Error::Family {
            component: "pose".into(),
            source: Box::new(e),
        }
    }
}

/// Result with a [`PoseError`].
pub type Result<T, E = PoseError> = std::result::Result<T, E>;
