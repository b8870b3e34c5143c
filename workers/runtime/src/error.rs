use sightline_schemas::{EventError, EventErrorKind};

/// What a caller can do about an [`Error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Try again later: the server or a store is unavailable or slow.
    Transient,
    /// The input itself is bad: retrying cannot help; it goes to the DLQ.
    Poison,
    /// The configuration or the deployment is wrong: fix it and restart.
    Config,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("configuration: {0}")]
    Config(String),
    #[error("NATS {context}: {message}")]
    Nats {
        context: &'static str,
        message: String,
    },
    #[error("stream {stream}: {message}")]
    Topology { stream: String, message: String },
    #[error(transparent)]
    Event(#[from] EventError),
    #[error("{0}")]
    Server(String),
    /// A projection store failed; the store says whether retrying can help.
    #[error("store: {message}")]
    Store { kind: ErrorKind, message: String },
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Config(_) | Error::Topology { .. } | Error::Server(_) => ErrorKind::Config,
            Error::Nats { .. } | Error::Io { .. } => ErrorKind::Transient,
            Error::Store { kind, .. } => *kind,
            Error::Event(e) => match e.kind() {
                EventErrorKind::Encode => ErrorKind::Config,
                _ => ErrorKind::Poison,
            },
        }
    }

    pub(crate) fn nats(context: &'static str, err: impl std::fmt::Display) -> Self {
        Error::Nats {
            context,
            message: err.to_string(),
        }
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}
