use sightline_runtime::ErrorKind;

/// A search store failure, with what a caller can do about it.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// The request is malformed (bad field, bad range): fix the request.
    #[error("invalid search: {0}")]
    Invalid(String),
    /// The engine is unreachable, busy or refused for a passing reason: retry.
    #[error("search backend unavailable: {0}")]
    Unavailable(String),
    /// The engine answered something unexpected, or the index is unusable.
    #[error("search backend: {0}")]
    Backend(String),
}

impl SearchError {
    pub fn invalid(msg: impl Into<String>) -> Self {
        SearchError::Invalid(msg.into())
    }

    pub fn backend(msg: impl Into<String>) -> Self {
        SearchError::Backend(msg.into())
    }

    pub fn kind(&self) -> ErrorKind {
        match self {
            SearchError::Invalid(_) => ErrorKind::Poison,
            SearchError::Unavailable(_) => ErrorKind::Transient,
            SearchError::Backend(_) => ErrorKind::Config,
        }
    }
}

impl From<tantivy::TantivyError> for SearchError {
    fn from(e: tantivy::TantivyError) -> Self {
        match e {
            tantivy::TantivyError::IoError(_) | tantivy::TantivyError::LockFailure(..) => {
                SearchError::Unavailable(e.to_string())
            }
            tantivy::TantivyError::InvalidArgument(_) | tantivy::TantivyError::SchemaError(_) => {
                SearchError::Invalid(e.to_string())
            }
            other => SearchError::Backend(other.to_string()),
        }
    }
}

impl From<SearchError> for sightline_runtime::Error {
    fn from(e: SearchError) -> Self {
        sightline_runtime::Error::store(e.kind(), e)
    }
}
