//! Acknowledgements: someone has an alert in hand. An acknowledgement holds for
//! the alert's current episode (until it resolves); it stops the alert's
//! escalation ([`crate::escalate`]) and shows on the page, and is kept in Redis
//! beside the state, written by the API and the CLI, read by the evaluator.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::AlertError;
use crate::state::{Alert, AlertBook, Status};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    pub fingerprint: String,
    /// The episode acknowledged: the alert's `active_since` then.
    #[serde(with = "time::serde::rfc3339")]
    pub episode: OffsetDateTime,
    pub by: String,
    #[serde(default)]
    pub comment: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

impl Ack {
    /// Acknowledges `alert`'s current episode; it must be pending or firing, and
    /// `by` must name someone.
    pub fn of(
        alert: &Alert,
        by: &str,
        comment: &str,
        now: OffsetDateTime,
    ) -> Result<Ack, AlertError> {
        if by.trim().is_empty() {
            return Err(AlertError::Invalid("by must name who acknowledges".into()));
        }
        if alert.status == Status::Resolved {
            return Err(AlertError::Invalid(format!(
                "alert {} is resolved: nothing to acknowledge",
                alert.fingerprint
            )));
        }
        Ok(Ack {
            fingerprint: alert.fingerprint.clone(),
            episode: alert.active_since,
            by: by.trim().to_owned(),
            comment: comment.trim().to_owned(),
            at: now,
        })
    }

    /// Whether it acknowledges `alert` as it is now (the same episode).
    pub fn holds_for(&self, alert: &Alert) -> bool {
        self.fingerprint == alert.fingerprint
            && self.episode == alert.active_since
            && alert.status != Status::Resolved
    }
}

/// Whether `ack` holds for its alert in `book` as it is now.
fn holds_in(ack: &Ack, book: &AlertBook) -> bool {
    book.alerts
        .get(&ack.fingerprint)
        .is_some_and(|alert| ack.holds_for(alert))
}

/// The acknowledgements that still hold.
pub fn holding(acks: Vec<Ack>, book: &AlertBook) -> Vec<Ack> {
    acks.into_iter().filter(|a| holds_in(a, book)).collect()
}

/// The acknowledgements that no longer hold: their alert resolved, is gone, or
/// started a new episode.
pub fn stale<'a>(acks: &'a [Ack], book: &AlertBook) -> Vec<&'a str> {
    acks.iter()
        .filter(|a| !holds_in(a, book))
        .map(|a| a.fingerprint.as_str())
        .collect()
}

/// The pending or firing alert of this fingerprint.
pub fn active<'a>(book: &'a AlertBook, fingerprint: &str) -> Option<&'a Alert> {
    book.alerts
        .get(fingerprint)
        .filter(|a| a.status != Status::Resolved)
}
