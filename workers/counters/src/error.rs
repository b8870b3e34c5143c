use sightline_runtime::ErrorKind;

/// A counters store failure, with what a caller can do about it.
#[derive(Debug, thiserror::Error)]
pub enum CountersError {
    /// Redis is unreachable, loading or timed out: retry.
    #[error("redis unavailable: {0}")]
    Unavailable(#[source] redis::RedisError),
    /// Another writer moved a watermark between our read and our write.
    #[error("counters watermark of shard {shard} keeps moving (at {found}, batch ends at {expected}): is a second counters worker writing under the same prefix?")]
    WatermarkMoved {
        shard: u16,
        expected: u64,
        found: u64,
    },
    /// The request is malformed (unknown metric, bad window): fix the request.
    #[error("invalid counters query: {0}")]
    Invalid(String),
    /// Redis answered something unexpected (a key of the wrong type, a script error).
    #[error("redis: {0}")]
    Backend(#[source] redis::RedisError),
    /// The settings cannot work (`redis.url`, `counters.*`): fix the configuration.
    #[error("configuration: {0}")]
    Config(String),
}

impl CountersError {
    pub fn invalid(msg: impl Into<String>) -> Self {
        CountersError::Invalid(msg.into())
    }

    pub fn kind(&self) -> ErrorKind {
        match self {
            CountersError::Unavailable(_) | CountersError::WatermarkMoved { .. } => {
                ErrorKind::Transient
            }
            CountersError::Invalid(_) => ErrorKind::Poison,
            CountersError::Backend(_) | CountersError::Config(_) => ErrorKind::Config,
        }
    }
}

impl From<redis::RedisError> for CountersError {
    fn from(e: redis::RedisError) -> Self {
        // Connection trouble, timeouts, LOADING and TRYAGAIN pass; a refusal does not.
        if !matches!(e.retry_method(), redis::RetryMethod::NoRetry) || e.is_io_error() {
            CountersError::Unavailable(e)
        } else {
            CountersError::Backend(e)
        }
    }
}

impl From<CountersError> for sightline_runtime::Error {
    fn from(e: CountersError) -> Self {
        sightline_runtime::Error::store(e.kind(), e)
    }
}
