use std::fmt;

/// One problem with one field, addressed by its path in the event (`payload.amount`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub reason: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

/// What kind of failure an [`EventError`] is, for callers that branch on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventErrorKind {
    /// The bytes are not a well-formed event in the declared encoding.
    Decode,
    /// The event decoded but breaks a validation rule.
    Invalid,
    /// The message declared a content type Sightline does not read.
    UnsupportedEncoding,
    /// The event could not be serialized (should not happen for valid events).
    Encode,
}

/// Why an event was refused. Messages name fields but never echo field values,
/// so card numbers or secrets sent by mistake do not leak into logs or the DLQ.
#[derive(Debug, Clone, thiserror::Error)]
pub struct EventError {
    kind: EventErrorKind,
    errors: Vec<FieldError>,
}

impl EventError {
    pub(crate) fn new(kind: EventErrorKind, errors: Vec<FieldError>) -> Self {
        Self { kind, errors }
    }

    pub(crate) fn single(kind: EventErrorKind, field: &str, reason: impl Into<String>) -> Self {
        Self::new(
            kind,
            vec![FieldError {
                field: field.to_owned(),
                reason: reason.into(),
            }],
        )
    }

    pub fn kind(&self) -> EventErrorKind {
        self.kind
    }

    /// Every field that failed, in the order they were checked.
    pub fn field_errors(&self) -> &[FieldError] {
        &self.errors
    }
}

impl fmt::Display for EventError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            EventErrorKind::Decode => "undecodable event",
            EventErrorKind::Invalid => "invalid event",
            EventErrorKind::UnsupportedEncoding => "unsupported encoding",
            EventErrorKind::Encode => "cannot encode event",
        };
        write!(f, "{what}: ")?;
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}
