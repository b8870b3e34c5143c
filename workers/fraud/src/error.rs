use sightline_runtime::ErrorKind;

/// A fraud worker or detections store failure, with what a caller can do about it.
#[derive(Debug, thiserror::Error)]
pub enum FraudError {
    /// The rules file or store settings are wrong: fix them and restart.
    #[error("fraud configuration: {0}")]
    Config(String),
    /// A query is malformed (bad filter): fix the request.
    #[error("invalid detections query: {0}")]
    Invalid(String),
    /// The store is unreachable or busy: retry.
    #[error("detections store unavailable: {0}")]
    Unavailable(String),
    /// The store answered something unexpected, or its files are unusable.
    #[error("detections store: {0}")]
    Backend(String),
}

impl FraudError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            FraudError::Invalid(_) => ErrorKind::Poison,
            FraudError::Unavailable(_) => ErrorKind::Transient,
            FraudError::Config(_) | FraudError::Backend(_) => ErrorKind::Config,
        }
    }
}

impl From<FraudError> for sightline_runtime::Error {
    fn from(e: FraudError) -> Self {
        sightline_runtime::Error::store(e.kind(), e)
    }
}
