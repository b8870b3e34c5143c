//! Analysts' verdicts on detections: an event of their own on FRAUD
//! (`fraud.verdict.<service>`), so a rebuild of the detections store from the
//! stream keeps every verdict. A verdict belongs to the transaction, and so
//! carries over to its later revisions and to its detection under new rules.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::codec::{deserialize, Encoding};
use crate::error::{EventError, EventErrorKind};
use crate::subject::FRAUD_PREFIX;

/// What the analyst concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum VerdictKind {
    /// It was fraud.
    Confirmed,
    /// It was the customer.
    FalsePositive,
}

impl VerdictKind {
    pub fn as_str(self) -> &'static str {
        match self {
            VerdictKind::Confirmed => "confirmed",
            VerdictKind::FalsePositive => "false_positive",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Verdict {
    pub transaction_id: String,
    /// The detection the analyst looked at (one revision of it, under one rules version).
    pub detection_id: Uuid,
    /// The service of the payment (the subject's last token).
    pub service: String,
    pub verdict: VerdictKind,
    /// Who decided (a name or an API key's name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analyst: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// When it was decided: a later verdict on the same transaction replaces it.
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String")]
    pub decided_at: OffsetDateTime,
}

/// The most an analyst's note may hold, in characters.
pub const MAX_NOTE: usize = 2000;

impl Verdict {
    /// `fraud.verdict.<service>`.
    pub fn subject(&self) -> String {
        format!("{FRAUD_PREFIX}.verdict.{}", self.service)
    }

    /// One per decision: the same decision sent twice is stored once.
    pub fn message_id(&self) -> String {
        format!(
            "verdict.{}.{}",
            self.transaction_id,
            self.decided_at.unix_timestamp_nanos()
        )
    }

    /// Whether this verdict replaces `other` (on the same transaction): the later
    /// decision wins, and equal times are settled by content so every store agrees.
    pub fn supersedes(&self, other: &Verdict) -> bool {
        (self.decided_at, self.verdict.as_str()) > (other.decided_at, other.verdict.as_str())
    }

    pub fn encode(&self, encoding: Encoding) -> Result<Vec<u8>, EventError> {
        let written = match encoding {
            Encoding::MsgPack => rmp_serde::to_vec_named(self).map_err(|e| e.to_string()),
            Encoding::Json => serde_json::to_vec(self).map_err(|e| e.to_string()),
        };
        written.map_err(|e| EventError::single(EventErrorKind::Encode, "verdict", e))
    }

    pub fn decode(bytes: &[u8], encoding: Encoding) -> Result<Self, EventError> {
        deserialize(bytes, encoding)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_round_trip_and_the_later_one_wins() {
        let at = OffsetDateTime::from_unix_timestamp(1_790_000_000).unwrap();
        let first = Verdict {
            transaction_id: "tx-1".into(),
            detection_id: Uuid::nil(),
            service: "payments".into(),
            verdict: VerdictKind::FalsePositive,
            analyst: Some("ana".into()),
            note: None,
            decided_at: at,
        };
        for encoding in [Encoding::MsgPack, Encoding::Json] {
            let bytes = first.encode(encoding).unwrap();
            assert_eq!(Verdict::decode(&bytes, encoding).unwrap(), first);
        }
        let later = Verdict {
            verdict: VerdictKind::Confirmed,
            decided_at: at + time::Duration::minutes(5),
            ..first.clone()
        };
        assert!(later.supersedes(&first) && !first.supersedes(&later));
        assert!(
            !first.supersedes(&first),
            "the same decision again changes nothing"
        );
        assert_eq!(first.subject(), "fraud.verdict.payments");
    }
}
