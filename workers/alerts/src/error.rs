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
    /// A projection, Redis or NATS is unreachable: the next evaluation retries.
    #[error("unavailable: {0}")]
    Unavailable(String),
}

impl AlertError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            AlertError::Rules(_) => ErrorKind::Config,
            AlertError::Invalid(_) => ErrorKind::Poison,
            AlertError::Unavailable(_) => ErrorKind::Transient,
        }
    }
}

impl From<CountersError> for AlertError {
    fn from(e: CountersError) -> Self {
        match e.kind() {
            ErrorKind::Transient => AlertError::Unavailable(e.to_string()),
            _ => AlertError::Invalid(e.to_string()),
        }
    }
}

impl From<redis::RedisError> for AlertError {
    fn from(e: redis::RedisError) -> Self {
        AlertError::Unavailable(format!("redis: {e}"))
    }
}
