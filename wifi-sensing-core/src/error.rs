//! The one error type of `wifi-sensing-core`.
//!
//! Every error that comes from bad input says which format was being read, at which byte offset,
//! and why. [`Error::is_recoverable`] states the rule readers and the [`Pipeline`](crate::Pipeline)
//! follow: a recoverable error concerns one record (a malformed line, a bad packet) and the reader
//! can go on with the next one; any other error ends the stream.

use crate::frame::CaptureFormat;

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Errors of the core crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An I/O error from the underlying file, socket or writer.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// One record is malformed; the reader skipped it and can continue.
    #[error("{format}: malformed record at byte {offset}{}: {reason}", line.map(|l| format!(" (line {l})")).unwrap_or_default())]
    Malformed {
        /// Format being read.
        format: CaptureFormat,
        /// Byte offset of the record in the input.
        offset: u64,
        /// 1-based line number, for text formats.
        line: Option<u64>,
        /// Human-readable reason.
        reason: String,
    },
    /// One datagram of a live UDP input is malformed; it was skipped and reading goes on.
    /// Datagrams are numbered from 1 in order of arrival; `from` is the sender's address.
    #[error("{format}: malformed datagram {datagram} from {from}: {reason}")]
    MalformedDatagram {
        /// Format the datagram was decoded as.
        format: CaptureFormat,
        /// 1-based number of the datagram on this input.
        datagram: u64,
        /// Sender address (`IP:port`).
        from: String,
        /// Human-readable reason.
        reason: String,
    },
    /// The input ends inside a record: every complete record before it was delivered.
    #[error("{format}: input cut inside a record at byte {offset}: {available} of {needed} bytes present")]
    Truncated {
        /// Format being read.
        format: CaptureFormat,
        /// Byte offset where the incomplete record starts.
        offset: u64,
        /// Bytes the record needs.
        needed: u64,
        /// Bytes actually present.
        available: u64,
    },
    /// The input is not of the expected format at all (wrong magic, unreadable header).
    #[error("{format}: not a valid file at byte {offset}: {reason}")]
    InvalidHeader {
        /// Format being read.
        format: CaptureFormat,
        /// Byte offset of the problem.
        offset: u64,
        /// Human-readable reason.
        reason: String,
    },
    /// A length or count in the input exceeds a safety limit, so nothing was allocated for it.
    #[error("{format}: {what} = {value} at byte {offset} exceeds the limit {limit}")]
    LimitExceeded {
        /// Format being read.
        format: CaptureFormat,
        /// Byte offset of the field.
        offset: u64,
        /// Which quantity.
        what: &'static str,
        /// The value found.
        value: u64,
        /// The limit.
        limit: u64,
    },
    /// No reader recognises the input.
    #[error("unrecognised capture format{}: {reason}", name.as_ref().map(|n| format!(" for {n}")).unwrap_or_default())]
    UnknownFormat {
        /// File name, if any.
        name: Option<String>,
        /// Why probing failed.
        reason: String,
    },
    /// A feature or variant of a format that this version does not support.
    #[error("{format}: unsupported: {reason}")]
    Unsupported {
        /// Format being read.
        format: CaptureFormat,
        /// What is not supported.
        reason: String,
    },
    /// An invalid configuration value.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// Encoding or decoding a value failed (JSON, bincode).
    #[error("encoding error: {0}")]
    Encode(String),
    /// More distinct nodes than a per-node state map allows (see [`PerNode`](crate::PerNode)),
    /// so no state was created for the new one.
    #[error("more than {limit} distinct nodes in one stream (node {node} refused)")]
    TooManyNodes {
        /// The configured maximum.
        limit: usize,
        /// The node id that would have exceeded it.
        node: u32,
    },
    /// A pipeline stage, analyser or sink failed.
    #[error("{component}: {reason}")]
    Component {
        /// Name of the stage, analyser or sink.
        component: String,
        /// What happened.
        reason: String,
    },
    /// An error of another crate of the family (`wifi_sensing_signal::SignalError`,
    /// `wifi_sensing_introspect::error::Error`, `wifi_sensing_pose::PoseError`), kept whole:
    /// `source` downcasts to it, so its variant and fields stay matchable. `component` names
    /// the stage or analyser it came from (empty when it came from a direct call); the message
    /// is the component's name and the error's own.
    ///
    /// ```
    /// use wifi_sensing_core::Error;
    /// let io = std::io::Error::other("disk on fire");
    /// let e = Error::Family { component: "pose".into(), source: Box::new(io) };
    /// assert_eq!(e.to_string(), "pose: disk on fire");
    /// let Error::Family { source, .. } = &e else { unreachable!() };
    /// assert!(source.downcast_ref::<std::io::Error>().is_some());
    /// ```
    #[error("{}{source}", if component.is_empty() { String::new() } else { format!("{component}: ") })]
    Family {
        /// Name of the stage or analyser, or empty.
        component: String,
        /// The component's own error.
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
}

impl Error {
    /// `true` when the error concerns one record only and reading can continue after it.
    ///
    /// ```
    /// use wifi_sensing_core::{Error, CaptureFormat};
    /// let e = Error::Malformed { format: CaptureFormat::Esp32Csv, offset: 10, line: Some(2), reason: "bad".into() };
    /// assert!(e.is_recoverable());
    /// ```
    pub fn is_recoverable(&self) -> bool {
        matches!(
            self,
            Error::Malformed { .. } | Error::MalformedDatagram { .. }
        )
    }

    /// Builds an [`Error::Io`] with context.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// Byte offset in the input the error refers to, where it has one.
    pub fn offset(&self) -> Option<u64> {
        match self {
            Error::Malformed { offset, .. }
            | Error::Truncated { offset, .. }
            | Error::InvalidHeader { offset, .. }
            | Error::LimitExceeded { offset, .. } => Some(*offset),
            _ => None,
        }
    }

    /// `true` for [`Error::Truncated`]: the input ended inside a record. Every complete record
    /// before it was delivered; a [`crate::Capture`] iterator yields this error last, and its
    /// statistics keep it in [`crate::ReadStats::truncated`].
    ///
    /// ```
    /// use wifi_sensing_core::{CaptureFormat, Error};
    /// let e = Error::Truncated { format: CaptureFormat::Intel5300, offset: 2765, needed: 395, available: 235 };
    /// assert!(e.is_truncated() && !e.is_recoverable());
    /// ```
    pub fn is_truncated(&self) -> bool {
        matches!(self, Error::Truncated { .. })
    }

    /// `true` for an [`Error::Io`] whose kind is `BrokenPipe` (a closed stdout, for example).
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::BrokenPipe)
    }
}
