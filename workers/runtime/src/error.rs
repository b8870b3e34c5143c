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
    /// Another writer changed what this one read first (a lost compare-and-set):
    /// nothing was written; read again and decide again.
    Conflict,
}

/// What failed underneath, kept whole so its own kind and chain reach the log.
pub type Source = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("configuration: {0}")]
    Config(String),
    #[error("NATS {context}: {source}")]
    Nats {
        context: &'static str,
        #[source]
        source: Source,
    },
    /// Another writer got there first: see [`ErrorKind::Conflict`].
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("stream {stream}: {message}")]
    Topology { stream: String, message: String },
    #[error(transparent)]
    Event(#[from] EventError),
    #[error("{0}")]
    Server(String),
    /// A projection store failed; the store says whether retrying can help.
    #[error("store: {source}")]
    Store {
        kind: ErrorKind,
        #[source]
        source: Source,
    },
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
            Error::Conflict(_) => ErrorKind::Conflict,
            Error::Event(e) => match e.kind() {
                EventErrorKind::Encode => ErrorKind::Config,
                _ => ErrorKind::Poison,
            },
        }
    }

    pub(crate) fn nats(context: &'static str, err: impl Into<Source>) -> Self {
        Error::Nats {
            context,
            source: err.into(),
        }
    }

    /// A store's error, with the kind that says whether to retry.
    pub fn store(kind: ErrorKind, source: impl Into<Source>) -> Self {
        Error::Store {
            kind,
            source: source.into(),
        }
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}
