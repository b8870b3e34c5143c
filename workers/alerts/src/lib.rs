//! Alerting, the pure core: rules from a versioned file, the pending / firing /
//! resolved state machine with stable fingerprints, Alertmanager-style grouping
//! and silences, and the receivers' payloads. Time is always passed in, so every
//! schedule is tested without sleeping.

pub mod error;
pub mod group;
pub mod payload;
pub mod rules;
pub mod silence;
pub mod state;

pub use error::AlertError;
pub use group::{Grouper, Notification};
pub use rules::{Condition, Rule, Rules, Severity, Timing};
pub use silence::Silence;
pub use state::{Alert, AlertBook, Labels, Sample, Status, Transition};
