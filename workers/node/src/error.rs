//! The node's errors: those of the parts it composes, kept whole as sources, and
//! its own (a bad range, a server that will not start), each with a context.

use sightline_runtime::ErrorKind;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Runtime(#[from] sightline_runtime::Error),
    #[error(transparent)]
    Search(#[from] sightline_search::SearchError),
    #[error(transparent)]
    Fraud(#[from] sightline_fraud::FraudError),
    #[error(transparent)]
    Counters(#[from] sightline_counters::CountersError),
    #[error(transparent)]
    Alerts(#[from] sightline_alerts::AlertError),
    #[error(transparent)]
    Patterns(#[from] sightline_patterns::RegistryError),
    /// The API could not start; its message names what.
    #[error("the API: {0}")]
    Api(String),
    /// What the operator asked for cannot be done as asked.
    #[error("{0}")]
    Config(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// `error`, with what was being done when it happened.
    #[error("{context}: {source}")]
    Context {
        context: String,
        #[source]
        source: Box<Error>,
    },
}

impl Error {
    pub fn config(message: impl Into<String>) -> Self {
        Error::Config(message.into())
    }

    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// What a caller can do about it: that of the part that failed.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Runtime(e) => e.kind(),
            Error::Search(e) => e.kind(),
            Error::Fraud(e) => e.kind(),
            Error::Counters(e) => e.kind(),
            Error::Alerts(e) => e.kind(),
            Error::Patterns(e) => e.kind(),
            Error::Api(_) | Error::Config(_) => ErrorKind::Config,
            Error::Io { .. } => ErrorKind::Transient,
            Error::Context { source, .. } => source.kind(),
        }
    }
}

/// `.context(...)` on any result whose error converts into [`Error`].
pub trait ResultExt<T> {
    fn context(self, context: impl Into<String>) -> Result<T, Error>;
    fn with_context<C: Into<String>>(self, context: impl FnOnce() -> C) -> Result<T, Error>;
}

impl<T, E: Into<Error>> ResultExt<T> for Result<T, E> {
    fn context(self, context: impl Into<String>) -> Result<T, Error> {
        self.map_err(|e| Error::Context {
            context: context.into(),
            source: Box::new(e.into()),
        })
    }

    fn with_context<C: Into<String>>(self, context: impl FnOnce() -> C) -> Result<T, Error> {
        self.map_err(|e| Error::Context {
            context: context().into(),
            source: Box::new(e.into()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_context_keeps_the_kind_and_the_source_of_what_failed() {
        let lost: Result<(), _> = Err(sightline_runtime::Error::store(
            ErrorKind::Transient,
            "redis is down",
        ));
        let e = lost.context("opening the counters").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Transient);
        assert_eq!(e.to_string(), "opening the counters: store: redis is down");
        let source = std::error::Error::source(&e).expect("a source");
        assert_eq!(source.to_string(), "store: redis is down");
        assert_eq!(Error::config("--to").kind(), ErrorKind::Config);
    }
}
