/// An alerting failure, with what a caller can do about it.
#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    /// The rules file is unreadable or wrong: fix it.
    #[error("alert rules: {0}")]
    Rules(String),
    /// A silence or a query is malformed.
    #[error("invalid: {0}")]
    Invalid(String),
}
