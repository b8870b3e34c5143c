//! The one line of text an event says, whatever its kind: what the search index
//! holds as `message` and what the pattern miners group, so that every
//! projection reads the same words.

use std::borrow::Cow;

use crate::{Body, Event};

impl Event {
    /// The event in words: a log record's own message, a commerce event's
    /// fields written out (`payment failed 12.50 EUR by card for user u1 (declined)`).
    pub fn message(&self) -> Cow<'_, str> {
        match &self.payload {
            Body::Transaction(t) => {
                let reason = t
                    .failure_reason
                    .as_deref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default();
                Cow::Owned(format!(
                    "payment {} {} {} by {} for user {}{reason}",
                    t.status.as_str(),
                    t.amount,
                    t.currency,
                    t.payment_method.replace('_', " "),
                    t.user_id
                ))
            }
            Body::Error(e) => Cow::Owned(format!(
                "{} {} {} on {}",
                e.error_code, e.error_type, e.error_message, e.endpoint
            )),
            Body::UserBehavior(b) => Cow::Owned(format!(
                "user {} {} {}",
                b.user_id,
                b.action.replace('_', " "),
                b.page
            )),
            Body::Performance(p) => Cow::Owned(format!(
                "{} {} answered {} in {} ms",
                p.method, p.endpoint, p.status_code, p.response_time_ms
            )),
            Body::Security(s) => {
                let who = s.user_id.as_deref().unwrap_or("unknown user");
                let reason = s
                    .reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default();
                Cow::Owned(format!("{} for {who}{reason}", s.action.replace('_', " ")))
            }
            Body::Log(l) => Cow::Borrowed(&l.message),
        }
    }
}

/// The line of `message` that says what happened: its first line with text.
/// A stack trace below it is its issue's business, not its wording's.
pub fn headline(message: &str) -> Option<&str> {
    message.lines().find(|l| !l.trim().is_empty())
}
