use std::fmt;

/// What went wrong with a whole request, for callers that pick a status from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IngestErrorKind {
    /// The body is not what its content type says (bad protobuf, bad JSON, bad gzip).
    Malformed,
    /// A content type or encoding this door does not read.
    Unsupported,
    /// The body, once decompressed, is larger than allowed.
    TooLarge,
}

/// Why a request was refused as a whole. Messages name the place and never echo
/// the body.
#[derive(Debug, Clone, thiserror::Error)]
pub struct IngestError {
    kind: IngestErrorKind,
    message: String,
}

impl IngestError {
    pub fn new(kind: IngestErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    pub fn malformed(message: impl Into<String>) -> Self {
        Self::new(IngestErrorKind::Malformed, message)
    }

    pub fn kind(&self) -> IngestErrorKind {
        self.kind
    }
}

impl fmt::Display for IngestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}
