//! The subject layout: `logs.<kind>.<service>` for events, one prefix per stream.

use crate::envelope::Event;

pub const LOGS_PREFIX: &str = "logs";
pub const FRAUD_PREFIX: &str = "fraud";
pub const ALERTS_PREFIX: &str = "alerts";
pub const DLQ_PREFIX: &str = "dlq";

/// The subject an event is published on. The service was validated as a subject token.
pub fn for_event(event: &Event) -> String {
    format!("{LOGS_PREFIX}.{}.{}", event.kind().as_str(), event.service)
}

/// The dead-letter subject for a message that failed in `consumer`.
pub fn dead_letter(consumer: &str, original_subject: &str) -> String {
    format!("{DLQ_PREFIX}.{consumer}.{original_subject}")
}

/// The wildcard that matches everything under a prefix (`logs.>`).
pub fn all_under(prefix: &str) -> String {
    format!("{prefix}.>")
}
