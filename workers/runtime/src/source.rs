//! The streams projections read. Their consumers are built in
//! [`crate::consumer`] (`Source::spec`); the versions of a projection record a
//! floor per source ([`crate::versions`]).

/// The streams projections read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Every log event on LOGS.
    Logs,
    /// The fraud detections on FRAUD.
    Fraud,
}

impl Source {
    /// `logs` or `fraud`.
    pub fn name(self) -> &'static str {
        match self {
            Source::Logs => "logs",
            Source::Fraud => "fraud",
        }
    }
}
