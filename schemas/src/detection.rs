//! Fraud detections: what the scorer concluded about one transaction. They travel on
//! the FRAUD stream as events of their own and are projected into the detections store.

use std::net::IpAddr;

use rust_decimal::Decimal;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::codec::{deserialize, Encoding};
use crate::error::{EventError, EventErrorKind};
use crate::payload::TxStatus;
use crate::subject::FRAUD_PREFIX;

/// The namespace of detection ids (UUIDv5 of transaction id and rules version).
const DETECTION_NAMESPACE: Uuid = Uuid::from_u128(0x6f1c_2a4e_9b3d_4e57_8a10_5c7e_d2b9_0f44);

/// One piece of evidence that was found, with its weight and a reason fit for an
/// analyst (it never repeats card fingerprints or secrets). docs/fraud.md lists them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Indicator {
    /// `velocity`, `declines`, `login_failures`, `bot`, `high_amount`, `card_travel`,
    /// `user_travel`, `new_place`, `new_device`, `new_card`, `shared_card`,
    /// `country_mismatch` or `ip_change`.
    pub name: String,
    /// Its weight (0-100) from the rules file.
    pub weight: u8,
    pub reason: String,
}

/// A fraud typology the evidence matched (account takeover, card testing, ...):
/// the pattern an analyst would name, with the evidence that makes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Typology {
    pub name: String,
    /// The evidence it combines, weighed together (0-100).
    pub score: u8,
    /// What the typology is, and the indicators behind it.
    pub reason: String,
}

/// The scorer's verdict on one transaction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Detection {
    /// UUIDv5 of the transaction id and the rules version: one detection per
    /// transaction and rule set, however often the stream is replayed.
    pub id: Uuid,
    /// 0 when the transaction is scored; later evidence (a burst it turned out
    /// to belong to) publishes a higher revision that replaces it.
    pub revision: u32,
    pub rules_version: String,
    /// The LOGS event that carried the transaction.
    pub event_id: Uuid,
    pub transaction_id: String,
    pub user_id: String,
    pub service: String,
    #[schemars(with = "String")]
    pub amount: Decimal,
    pub currency: String,
    pub status: TxStatus,
    pub payment_method: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// The payer's IP in clear: only when `fraud.keep_raw_ip` is set; otherwise
    /// the scorer replaces it with `ip_ref` before publishing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<IpAddr>,
    /// The keyed reference of the payer's IP (the one the search index uses), so a
    /// detection can be tied to every event from that address without holding it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_ref: Option<String>,
    /// 0 (nothing unusual) to 100 (certain): the score of the strongest typology
    /// matched (evidence that matches none scores nothing).
    pub score: u8,
    pub indicators: Vec<Indicator>,
    /// The typologies matched, strongest first. Absent from detections written
    /// before typologies existed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub typologies: Vec<Typology>,
    /// An analyst's verdict on the transaction, attached by the detections store
    /// when it answers (the scorer never sets it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<crate::Verdict>,
    /// When the transaction happened.
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String")]
    pub occurred_at: OffsetDateTime,
    /// The event time of the evidence behind this revision (not the wall clock, so
    /// a replay reproduces the same detection).
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "String")]
    pub detected_at: OffsetDateTime,
}

impl Detection {
    /// The deterministic id of the detection of `transaction_id` under `rules_version`.
    pub fn id_for(transaction_id: &str, rules_version: &str) -> Uuid {
        let name = format!("{transaction_id}\u{1f}{rules_version}");
        Uuid::new_v5(&DETECTION_NAMESPACE, name.as_bytes())
    }

    /// `fraud.detection.<service>`.
    pub fn subject(&self) -> String {
        format!("{FRAUD_PREFIX}.detection.{}", self.service)
    }

    /// The `Nats-Msg-Id`: one per revision, so a revision is never mistaken for a
    /// duplicate and a republished revision always is.
    pub fn message_id(&self) -> String {
        format!("{}.{}", self.id, self.revision)
    }

    /// Whether an indicator of this name fired.
    pub fn has(&self, indicator: &str) -> bool {
        self.indicators.iter().any(|i| i.name == indicator)
    }

    pub fn encode(&self, encoding: Encoding) -> Result<Vec<u8>, EventError> {
        let written = match encoding {
            Encoding::MsgPack => rmp_serde::to_vec_named(self).map_err(|e| e.to_string()),
            Encoding::Json => serde_json::to_vec(self).map_err(|e| e.to_string()),
        };
        written.map_err(|e| EventError::single(EventErrorKind::Encode, "detection", e))
    }

    pub fn decode(bytes: &[u8], encoding: Encoding) -> Result<Self, EventError> {
        deserialize(bytes, encoding)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Detection {
        let at = OffsetDateTime::from_unix_timestamp(1_790_000_000).unwrap();
        Detection {
            id: Detection::id_for("tx-1", "v1"),
            revision: 0,
            rules_version: "v1".into(),
            event_id: Uuid::nil(),
            transaction_id: "tx-1".into(),
            user_id: "u1".into(),
            service: "payments".into(),
            amount: Decimal::new(12999, 2),
            currency: "EUR".into(),
            status: TxStatus::Completed,
            payment_method: "card".into(),
            country: Some("DE".into()),
            ip: None,
            ip_ref: None,
            score: 72,
            indicators: vec![Indicator {
                name: "velocity".into(),
                weight: 70,
                reason: "5 payments in 2m".into(),
            }],
            typologies: vec![Typology {
                name: "payment_burst".into(),
                score: 70,
                reason: "many payments at once (velocity)".into(),
            }],
            verdict: None,
            occurred_at: at,
            detected_at: at,
        }
    }

    #[test]
    fn ids_depend_on_transaction_and_rules_version_only() {
        assert_eq!(
            Detection::id_for("tx-1", "v1"),
            Detection::id_for("tx-1", "v1")
        );
        assert_ne!(
            Detection::id_for("tx-1", "v1"),
            Detection::id_for("tx-1", "v2")
        );
        assert_ne!(
            Detection::id_for("tx-1", "v1"),
            Detection::id_for("tx-2", "v1")
        );
    }

    #[test]
    fn round_trips_in_both_encodings() {
        let d = sample();
        for enc in [Encoding::MsgPack, Encoding::Json] {
            let bytes = d.encode(enc).unwrap();
            assert_eq!(Detection::decode(&bytes, enc).unwrap(), d);
        }
        assert_eq!(d.message_id(), format!("{}.0", d.id));
        assert_eq!(d.subject(), "fraud.detection.payments");
    }

    #[test]
    fn a_broken_detection_names_the_field() {
        let mut json = serde_json::to_value(sample()).unwrap();
        json["score"] = serde_json::json!("high");
        let err = Detection::decode(json.to_string().as_bytes(), Encoding::Json).unwrap_err();
        assert_eq!(err.field_errors()[0].field, "score", "{err}");
    }
}
