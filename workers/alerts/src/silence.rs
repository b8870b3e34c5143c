//! Silences: label matchers over a time range. A silenced alert still changes
//! state (and is recorded on ALERTS) but is not notified.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::AlertError;
use crate::state::Alert;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Silence {
    pub id: Uuid,
    /// Every label here must equal the alert's (`alertname` is the rule).
    pub matchers: BTreeMap<String, String>,
    #[serde(with = "time::serde::rfc3339")]
    pub starts_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub ends_at: OffsetDateTime,
    pub created_by: String,
    pub comment: String,
}

impl Silence {
    /// A silence from `label=value` matchers, active from `now` for `length`.
    pub fn new(
        matchers: &[String],
        now: OffsetDateTime,
        length: std::time::Duration,
        created_by: &str,
        comment: &str,
    ) -> Result<Self, AlertError> {
        let parsed = parse_labels(matchers)?;
        if parsed.is_empty() {
            return Err(AlertError::Invalid(
                "a silence needs at least one matcher".into(),
            ));
        }
        if length.is_zero() {
            return Err(AlertError::Invalid(
                "a silence must last at least 1s".into(),
            ));
        }
        Ok(Self {
            id: Uuid::new_v4(),
            matchers: parsed,
            starts_at: now,
            ends_at: now + length,
            created_by: created_by.into(),
            comment: comment.into(),
        })
    }

    pub fn is_active(&self, now: OffsetDateTime) -> bool {
        self.starts_at <= now && now < self.ends_at
    }

    pub fn silences(&self, alert: &Alert, now: OffsetDateTime) -> bool {
        self.is_active(now)
            && self
                .matchers
                .iter()
                .all(|(k, v)| alert.labels.get(k) == Some(v))
    }
}

/// `label=value` pairs (neither side empty) as labels.
pub fn parse_labels(pairs: &[String]) -> Result<BTreeMap<String, String>, AlertError> {
    let mut parsed = BTreeMap::new();
    for m in pairs {
        let Some((label, value)) = m
            .split_once('=')
            .filter(|(l, v)| !l.is_empty() && !v.is_empty())
        else {
            return Err(AlertError::Invalid(format!(
                "matcher {m:?}: expected label=value (e.g. alertname=HighErrorRate)"
            )));
        };
        parsed.insert(label.trim().to_owned(), value.trim().to_owned());
    }
    Ok(parsed)
}

/// Whether any of `silences` silences `alert` at `now`.
pub fn silenced(silences: &[Silence], alert: &Alert, now: OffsetDateTime) -> bool {
    silences.iter().any(|s| s.silences(alert, now))
}
