//! An issue's status: what operators decided, kept as changes on the bus (a
//! key-value bucket is a stream: each change is a message, the last per issue
//! is its status, and the bucket keeps the last ones as its history), and the
//! status it has now, which also depends on its events: an event after a
//! resolution reopens the issue as a regression.
//!
//! The status now is a function of the last change and the issue's events
//! alone, whatever order they were read in, so replaying the index rebuilds
//! it, and the changes outlive any replay.

use std::collections::HashMap;
use std::time::Duration;

use async_nats::jetstream::kv;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use sightline_runtime::{Bus, ErrorKind};
use time::OffsetDateTime;

/// The bucket of status changes, keyed by issue fingerprint.
pub const BUCKET: &str = "sightline_issue_status";
/// Changes kept per issue.
const HISTORY: i64 = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Unresolved,
    Resolved,
    Ignored,
}

impl Status {
    pub const ALL: [Status; 3] = [Status::Unresolved, Status::Resolved, Status::Ignored];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Unresolved => "unresolved",
            Status::Resolved => "resolved",
            Status::Ignored => "ignored",
        }
    }
}

impl std::str::FromStr for Status {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Status::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| format!("status `{s}`: expected unresolved, resolved or ignored"))
    }
}

/// One decision of an operator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusChange {
    pub status: Status,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Who decided (the API key's name, or the CLI's user).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl StatusChange {
    /// `by`'s decision, checked: who decides is 1-200 characters, a note at most
    /// 2,000; a card number pasted into the note is masked, as in every store.
    pub fn decided(
        status: Status,
        by: &str,
        note: Option<&str>,
        at: OffsetDateTime,
    ) -> Result<Self, String> {
        let by = by.trim();
        if by.is_empty() || by.chars().count() > 200 {
            return Err("by: who decides, 1-200 characters".into());
        }
        if note.is_some_and(|n| n.chars().count() > 2000) {
            return Err("note: at most 2,000 characters".into());
        }
        Ok(Self {
            status,
            at,
            by: Some(by.to_owned()),
            note: note.map(|n| sightline_schemas::mask::masked(n).0),
        })
    }
}

/// An issue's status now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Effective {
    pub status: Status,
    /// Resolved, then seen again after the resolution.
    pub regressed: bool,
}

/// The status of an issue whose last change is `change` and whose latest event
/// happened at `last_seen`.
pub fn effective(change: Option<&StatusChange>, last_seen: Option<OffsetDateTime>) -> Effective {
    match change {
        Some(c) if c.status == Status::Resolved && last_seen.is_some_and(|t| t > c.at) => {
            Effective {
                status: Status::Unresolved,
                regressed: true,
            }
        }
        Some(c) => Effective {
            status: c.status,
            regressed: false,
        },
        None => Effective {
            status: Status::Unresolved,
            regressed: false,
        },
    }
}

/// A status store failure, with what a caller can do about it.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    #[error("issue status: {0}")]
    Unavailable(String),
    #[error("issue status: {0}")]
    Corrupt(String),
}

impl StatusError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            StatusError::Unavailable(_) => ErrorKind::Transient,
            StatusError::Corrupt(_) => ErrorKind::Config,
        }
    }
}

fn unavailable(what: &str, e: impl std::fmt::Display) -> StatusError {
    StatusError::Unavailable(format!("{what}: {e}"))
}

/// The changes, on the bus.
#[derive(Clone)]
pub struct StatusStore {
    kv: kv::Store,
}

impl StatusStore {
    pub async fn open(bus: &Bus) -> Result<Self, sightline_runtime::Error> {
        let description = "Sightline: operators' status changes of error issues";
        let kv = sightline_runtime::nats::bucket(bus, BUCKET, description, Duration::ZERO, HISTORY)
            .await?;
        Ok(Self { kv })
    }

    /// Records `change` of issue `fingerprint`.
    pub async fn set(&self, fingerprint: &str, change: &StatusChange) -> Result<(), StatusError> {
        let bytes = serde_json::to_vec(change).map_err(|e| unavailable("encode", e))?;
        self.kv
            .put(fingerprint, bytes.into())
            .await
            .map_err(|e| unavailable("write", e))?;
        Ok(())
    }

    /// The last change of issue `fingerprint`.
    pub async fn get(&self, fingerprint: &str) -> Result<Option<StatusChange>, StatusError> {
        let Some(bytes) = self
            .kv
            .get(fingerprint)
            .await
            .map_err(|e| unavailable("read", e))?
        else {
            return Ok(None);
        };
        decode(fingerprint, &bytes).map(Some)
    }

    /// Every change of issue `fingerprint` the bucket keeps, oldest first.
    pub async fn history(&self, fingerprint: &str) -> Result<Vec<StatusChange>, StatusError> {
        let mut entries = self
            .kv
            .history(fingerprint)
            .await
            .map_err(|e| unavailable("history", e))?;
        let mut out = Vec::new();
        while let Some(entry) = entries.next().await {
            let entry = entry.map_err(|e| unavailable("history", e))?;
            if entry.operation == kv::Operation::Put {
                out.push(decode(fingerprint, &entry.value)?);
            }
        }
        Ok(out)
    }

    /// The last change of every issue that has one.
    pub async fn all(&self) -> Result<HashMap<String, StatusChange>, StatusError> {
        let mut keys = match self.kv.keys().await {
            Ok(keys) => keys,
            Err(e) => return Err(unavailable("list", e)),
        };
        let mut out = HashMap::new();
        while let Some(key) = keys.next().await {
            let key = key.map_err(|e| unavailable("list", e))?;
            if let Some(change) = self.get(&key).await? {
                out.insert(key, change);
            }
        }
        Ok(out)
    }
}

fn decode(fingerprint: &str, bytes: &[u8]) -> Result<StatusChange, StatusError> {
    serde_json::from_slice(bytes)
        .map_err(|e| StatusError::Corrupt(format!("the status of {fingerprint}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn an_event_after_a_resolution_reopens_the_issue_as_a_regression() {
        let resolved = StatusChange {
            status: Status::Resolved,
            at: datetime!(2026-12-07 12:00 UTC),
            by: Some("ops".into()),
            note: None,
        };
        let before = Some(datetime!(2026-12-07 11:59 UTC));
        let after = Some(datetime!(2026-12-07 12:01 UTC));
        assert_eq!(effective(None, after).status, Status::Unresolved);
        assert_eq!(
            effective(Some(&resolved), before),
            Effective {
                status: Status::Resolved,
                regressed: false
            }
        );
        assert_eq!(
            effective(Some(&resolved), after),
            Effective {
                status: Status::Unresolved,
                regressed: true
            }
        );
        let ignored = StatusChange {
            status: Status::Ignored,
            ..resolved
        };
        assert_eq!(effective(Some(&ignored), after).status, Status::Ignored);
        assert_eq!("resolved".parse::<Status>(), Ok(Status::Resolved));
        let at = datetime!(2026-12-07 12:00 UTC);
        let noted = StatusChange::decided(
            Status::Ignored,
            " ops ",
            Some("card 4111 1111 1111 1111"),
            at,
        );
        let noted = noted.unwrap();
        assert_eq!(noted.by.as_deref(), Some("ops"));
        assert!(!noted.note.unwrap().contains("4111"));
        assert!(StatusChange::decided(Status::Ignored, "  ", None, at)
            .unwrap_err()
            .starts_with("by:"));
        let long = "x".repeat(2001);
        assert!(
            StatusChange::decided(Status::Ignored, "ops", Some(&long), at)
                .unwrap_err()
                .starts_with("note:")
        );
        assert!("fixed".parse::<Status>().unwrap_err().contains("expected"));
    }
}
