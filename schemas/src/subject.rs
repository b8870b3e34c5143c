//! The subject layout: `logs.<kind>.<service>` for events, one prefix per stream.

use crate::envelope::Event;
use crate::error::{EventError, EventErrorKind};

pub const LOGS_PREFIX: &str = "logs";
pub const FRAUD_PREFIX: &str = "fraud";
pub const ALERTS_PREFIX: &str = "alerts";
pub const DLQ_PREFIX: &str = "dlq";

/// The subject an event is published on. The service was validated as a subject token.
pub fn for_event(event: &Event) -> String {
    format!("{LOGS_PREFIX}.{}.{}", event.kind().as_str(), event.service)
}

/// Checks that an event read from `subject` belongs there (`logs.<kind>.<service>`).
/// Readers filter by subject: an error published under `logs.transaction.` would
/// reach the readers of payments and be missed by those of errors.
pub fn check_event_subject(event: &Event, subject: &str) -> Result<(), EventError> {
    let mut tokens = subject.splitn(3, '.');
    let (prefix, kind, service) = (tokens.next(), tokens.next(), tokens.next());
    if prefix != Some(LOGS_PREFIX) {
        return Ok(());
    }
    let fail = |field: &str, reason: String| {
        Err(EventError::single(EventErrorKind::Invalid, field, reason))
    };
    if kind != Some(event.kind().as_str()) {
        return fail(
            "kind",
            format!(
                "is {} but the event was published on {subject}: publish it on {}",
                event.kind().as_str(),
                for_event(event)
            ),
        );
    }
    if service != Some(event.service.as_str()) {
        return fail(
            "service",
            format!(
                "does not match the subject {subject}: publish it on {}",
                for_event(event)
            ),
        );
    }
    Ok(())
}

/// The dead-letter subject for the message at `stream_seq` of `original_subject`'s
/// stream that failed in `consumer`: one subject per letter, so the DLQ can refuse
/// a second letter for the same message (see the runtime's dlq module).
pub fn dead_letter(consumer: &str, stream_seq: u64, original_subject: &str) -> String {
    format!("{DLQ_PREFIX}.{consumer}.{stream_seq}.{original_subject}")
}

/// The consumer that filed the dead letter on `subject` (made by [`dead_letter`]);
/// `None` for a subject outside the DLQ.
pub fn dead_letter_consumer(subject: &str) -> Option<&str> {
    let rest = subject.strip_prefix(DLQ_PREFIX)?.strip_prefix('.')?;
    rest.split('.')
        .next()
        .filter(|consumer| !consumer.is_empty())
}

/// The filter of every dead letter `consumer` filed.
pub fn dead_letters_of(consumer: &str) -> String {
    format!("{DLQ_PREFIX}.{consumer}.>")
}

/// The wildcard that matches everything under a prefix (`logs.>`).
pub fn all_under(prefix: &str) -> String {
    format!("{prefix}.>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dead_letter_subject_names_the_consumer_that_filed_it() {
        let subject = dead_letter("indexer+counters", 42, "logs.transaction.payments");
        assert_eq!(subject, "dlq.indexer+counters.42.logs.transaction.payments");
        assert_eq!(dead_letter_consumer(&subject), Some("indexer+counters"));
        assert_eq!(dead_letter_consumer("logs.error.api"), None);
        assert_eq!(dead_letter_consumer("dlqx.a.1.b"), None);
        assert_eq!(dead_letter_consumer("dlq..1.b"), None);
        assert_eq!(dead_letters_of("fraud-store"), "dlq.fraud-store.>");
    }
}
