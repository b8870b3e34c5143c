use sightline_counters::CountersError;
use sightline_runtime::ErrorKind;

/// An alerting failure, with what a caller can do about it.
#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    /// The rules file is unreadable or wrong: fix it.
    #[error("alert rules: {0}")]
    Rules(String),
    /// A silence or a query is malformed.
    #[error("invalid: {0}")]
    Invalid(String),
    /// A projection or NATS is unreachable: the next evaluation retries.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// Redis failed; kept whole, so its own kind reaches the log.
    #[error("redis: {0}")]
    Redis(#[source] redis::RedisError),
    /// Reading the counters failed; their error says what to do.
    #[error(transparent)]
    Counters(#[from] CountersError),
}

impl AlertError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            AlertError::Rules(_) => ErrorKind::Config,
            AlertError::Invalid(_) => ErrorKind::Poison,
            AlertError::Unavailable(_) => ErrorKind::Transient,
            // The connection reconnects on its own: the next evaluation retries.
            AlertError::Redis(_) => ErrorKind::Transient,
            AlertError::Counters(e) => e.kind(),
        }
    }
}

impl From<redis::RedisError> for AlertError {
    fn from(e: redis::RedisError) -> Self {
        AlertError::Redis(e)
    }
}
