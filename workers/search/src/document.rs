//! The flat document both backends index for an event. `message` is the one text
//! field searched and highlighted; the rest are exact-match keywords and numbers.
//! Card fingerprints and IP addresses are indexed only as keyed hashes, so an index
//! can answer "everything from this card" without holding the card's token.

use serde::{Deserialize, Serialize};
use sightline_schemas::{AttrValue, Body, Detection, Event};

use crate::query::DocKind;

pub use sightline_runtime::pii::{lookup_reference, PiiHasher};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchDoc {
    pub id: String,
    pub kind: String,
    pub service: String,
    /// RFC 3339 with nanoseconds.
    pub occurred_at: String,
    pub occurred_at_ns: i64,
    /// Orders hits of the same instant: the low 64 bits of the id (random in a UUIDv7).
    pub tiebreak: u64,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stack: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    #[serde(flatten)]
    pub keywords: Keywords,
    #[serde(flatten)]
    pub numbers: Numbers,
    /// A log record's attributes, typed (IP addresses as references): each
    /// backend indexes them as fields of their own (`attributes.<name>`).
    #[serde(skip)]
    pub attributes: Vec<(String, AttrValue)>,
    /// The whole event (or detection) a hit shows, with cards and IPs only as
    /// references ([`crate::redact`]). Stored, never searched.
    #[serde(default)]
    pub event: serde_json::Value,
    /// Set on fraud detections: a higher revision of the same id replaces the
    /// document (an event's document never changes).
    #[serde(skip)]
    pub revision: Option<u32>,
}

/// Exact-match fields, present only for the kinds that have them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Keywords {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_method: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logger: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub span_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub card_ref: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_ref: Option<String>,
    /// The id of the message's pattern ([`crate::patterns`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// The fingerprint of the error's issue (`sightline_issues`): error events
    /// and log records at error severity or worse.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issue: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Numbers {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_time_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub db_query_time_ms: Option<f64>,
    /// A fraud detection's score (0-100).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<u64>,
}

/// Exact-match fields of a search document, in [`SearchDoc::keyword_values`] order.
/// Both backends' schemas are built from these lists.
pub const KEYWORD_FIELDS: &[&str] = &[
    "kind",
    "service",
    "env",
    "host",
    "tenant",
    "trace_id",
    "status",
    "user_id",
    "session_id",
    "endpoint",
    "error_type",
    "currency",
    "payment_method",
    "country",
    "action",
    "method",
    "severity",
    "logger",
    "span_id",
    "card_ref",
    "ip_ref",
    "pattern",
    "issue",
];
/// Whole-number fields, in [`SearchDoc::integer_values`] order.
pub const INTEGER_FIELDS: &[&str] = &["error_code", "status_code", "score"];
/// Measures, in [`SearchDoc::decimal_values`] order.
pub const DECIMAL_FIELDS: &[&str] = &["amount", "response_time_ms", "db_query_time_ms"];

impl SearchDoc {
    pub fn keyword_values(&self) -> [Option<&String>; 23] {
        let k = &self.keywords;
        [
            Some(&self.kind),
            Some(&self.service),
            self.env.as_ref(),
            self.host.as_ref(),
            self.tenant.as_ref(),
            self.trace_id.as_ref(),
            k.status.as_ref(),
            k.user_id.as_ref(),
            k.session_id.as_ref(),
            k.endpoint.as_ref(),
            k.error_type.as_ref(),
            k.currency.as_ref(),
            k.payment_method.as_ref(),
            k.country.as_ref(),
            k.action.as_ref(),
            k.method.as_ref(),
            k.severity.as_ref(),
            k.logger.as_ref(),
            k.span_id.as_ref(),
            k.card_ref.as_ref(),
            k.ip_ref.as_ref(),
            k.pattern.as_ref(),
            k.issue.as_ref(),
        ]
    }

    pub fn integer_values(&self) -> [Option<u64>; 3] {
        [
            self.numbers.error_code,
            self.numbers.status_code,
            self.numbers.score,
        ]
    }

    pub fn decimal_values(&self) -> [Option<f64>; 3] {
        let n = &self.numbers;
        [n.amount, n.response_time_ms, n.db_query_time_ms]
    }

    pub fn from_event(event: &Event, pii: &PiiHasher) -> Self {
        let mut k = Keywords::default();
        let mut n = Numbers::default();
        let ip_ref =
            |ip: &Option<std::net::IpAddr>| ip.map(|ip| pii.reference("ip", &ip.to_string()));
        let stack = match &event.payload {
            Body::Transaction(t) => {
                k.status = Some(t.status.as_str().into());
                k.user_id = Some(t.user_id.clone());
                k.currency = Some(t.currency.clone());
                k.payment_method = Some(t.payment_method.clone());
                k.country = t.country.clone();
                k.card_ref = t
                    .card_fingerprint
                    .as_ref()
                    .map(|c| pii.reference("card", c));
                k.ip_ref = ip_ref(&t.ip);
                n.amount = t.amount.to_string().parse().ok();
                None
            }
            Body::Error(e) => {
                k.endpoint = Some(e.endpoint.clone());
                k.error_type = Some(e.error_type.clone());
                k.user_id = e.user_id.clone();
                n.error_code = Some(e.error_code.into());
                e.stack.clone()
            }
            Body::UserBehavior(b) => {
                k.user_id = Some(b.user_id.clone());
                k.session_id = Some(b.session_id.clone());
                k.action = Some(b.action.clone());
                k.ip_ref = ip_ref(&b.ip);
                None
            }
            Body::Performance(p) => {
                k.endpoint = Some(p.endpoint.clone());
                k.method = Some(p.method.clone());
                n.status_code = Some(p.status_code.into());
                n.response_time_ms = Some(p.response_time_ms);
                n.db_query_time_ms = p.db_query_time_ms;
                None
            }
            Body::Security(s) => {
                k.action = Some(s.action.clone());
                k.user_id = s.user_id.clone();
                k.session_id = s.session_id.clone();
                k.country = s.country.clone();
                k.ip_ref = ip_ref(&s.ip);
                None
            }
            Body::Log(l) => {
                k.severity = Some(l.severity.as_str().into());
                k.logger = l.logger.clone();
                k.span_id = l.span_id.clone();
                // An address in an attribute is still the address `ip=` looks up.
                k.ip_ref = l.attributes.values().find_map(|v| match v {
                    AttrValue::Text(t) => crate::redact::ip_reference(t, pii),
                    _ => None,
                });
                None
            }
        };
        let message = event.message().into_owned();
        if let Some(o) = sightline_issues::occurrence(event) {
            k.issue = Some(o.fingerprint);
            // A log record's error type and user, as its issue reads them.
            if k.error_type.is_none() && !o.error_type.is_empty() {
                k.error_type = Some(o.error_type);
            }
            if k.user_id.is_none() {
                k.user_id = o.user_id;
            }
        }
        let attributes = match &event.payload {
            Body::Log(l) => crate::redact::attributes(&l.attributes, pii),
            _ => Vec::new(),
        };
        Self {
            stack,
            env: event.env.clone(),
            host: event.host.clone(),
            tenant: event.tenant.clone(),
            trace_id: event.trace_id.clone(),
            keywords: k,
            numbers: n,
            attributes,
            event: crate::redact::redact(serde_json::to_value(event).unwrap_or_default(), pii),
            ..Self::bare(
                &event.id,
                event.kind().into(),
                &event.service,
                event.occurred_at,
                message,
            )
        }
    }

    /// The hit a search would answer for this document (no highlights).
    pub fn to_hit(&self) -> Option<crate::query::Hit> {
        Some(crate::query::Hit {
            id: self.id.parse().ok()?,
            kind: self.kind.parse().ok()?,
            service: self.service.clone(),
            occurred_at: time::OffsetDateTime::from_unix_timestamp_nanos(
                self.occurred_at_ns.into(),
            )
            .ok()?,
            message: self.message.clone(),
            pattern: self.keywords.pattern.clone(),
            issue: self.keywords.issue.clone(),
            highlights: Vec::new(),
            event: self.event.clone(),
        })
    }

    /// A document with its identity, time and message, and nothing else.
    fn bare(
        id: &uuid::Uuid,
        kind: DocKind,
        service: &str,
        at: sightline_schemas::OffsetDateTime,
        message: String,
    ) -> Self {
        Self {
            id: id.to_string(),
            kind: kind.as_str().into(),
            service: service.to_owned(),
            occurred_at: at
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            occurred_at_ns: i64::try_from(at.unix_timestamp_nanos()).unwrap_or(i64::MAX),
            tiebreak: tiebreak(id),
            message,
            stack: None,
            env: None,
            host: None,
            tenant: None,
            trace_id: None,
            keywords: Keywords::default(),
            numbers: Numbers::default(),
            attributes: Vec::new(),
            event: serde_json::Value::Null,
            revision: None,
        }
    }

    /// A fraud detection, searchable beside the events: its message names the
    /// score and every indicator's reason; the card is never in it.
    pub fn from_detection(d: &Detection, pii: &PiiHasher) -> Self {
        let reasons: Vec<String> = d
            .indicators
            .iter()
            .map(|i| format!("{} ({})", i.name.replace('_', " "), i.reason))
            .collect();
        let message = format!(
            "fraud score {} on payment {} {} {} by {} for user {}: {}",
            d.score,
            d.status.as_str(),
            d.amount,
            d.currency,
            d.payment_method.replace('_', " "),
            d.user_id,
            if reasons.is_empty() {
                "no indicator".to_owned()
            } else {
                reasons.join("; ")
            }
        );
        let keywords = Keywords {
            status: Some(d.status.as_str().into()),
            user_id: Some(d.user_id.clone()),
            currency: Some(d.currency.clone()),
            payment_method: Some(d.payment_method.clone()),
            country: d.country.clone(),
            ip_ref: d
                .ip_ref
                .clone()
                .or_else(|| d.ip.map(|ip| pii.reference("ip", &ip.to_string()))),
            ..Keywords::default()
        };
        let numbers = Numbers {
            amount: d.amount.to_string().parse().ok(),
            score: Some(d.score.into()),
            ..Numbers::default()
        };
        Self {
            keywords,
            numbers,
            event: crate::redact::redact(serde_json::to_value(d).unwrap_or_default(), pii),
            revision: Some(d.revision),
            ..Self::bare(
                &d.id,
                DocKind::FraudDetection,
                &d.service,
                d.occurred_at,
                message,
            )
        }
    }
}

/// The id's low 64 bits: the sort tie-break for hits of the same instant.
pub fn tiebreak(id: &uuid::Uuid) -> u64 {
    id.as_u64_pair().1
}
