//! Alerting. The pure core: rules from a versioned file, the pending / firing /
//! resolved state machine with stable fingerprints, Alertmanager-style grouping
//! and silences, and the receivers' payloads; time is always passed in, so every
//! schedule is tested without sleeping. Around it: measuring rules on the
//! counters and fraud detections, state and silences in Redis, changes recorded
//! on ALERTS, and HTTP delivery with retries and a rate limit.

pub mod ack;
pub mod anomaly_rules;
pub mod email;
pub mod error;
pub mod escalate;
pub mod evaluate;
pub mod group;
pub mod index_rules;
pub mod measure;
pub mod metrics;
pub mod nflog;
pub mod notify;
pub mod payload;
pub mod route;
pub mod rules;
pub mod silence;
pub mod state;
pub mod store;
pub mod template;

pub use error::AlertError;
pub use group::{Grouper, Notification};
pub use rules::{Condition, Rule, Rules, Severity, Timing};
pub use silence::Silence;
pub use state::{Alert, AlertBook, Labels, Sample, Status, Transition};
