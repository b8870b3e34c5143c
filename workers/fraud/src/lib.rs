//! Fraud detection: a pure scoring core over remembered state, the scorer worker
//! that publishes detections to FRAUD, and the detections store they project into.

pub mod error;
pub mod project;
pub mod rates;
pub mod rescore;
pub mod rules;
pub mod score;
pub mod settings;
pub mod state;
pub mod store;
pub mod verdict;

pub use error::FraudError;
pub use rates::Rates;
pub use rules::Rules;
pub use score::Scorer;
