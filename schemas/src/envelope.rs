//! The envelope shared by every event. On the wire it is a flat map:
//! `{"id", "kind", "occurred_at", "service", ..., "payload": {...}}`.
//! `kind` says how to read `payload`; it is written before `payload` so readers
//! decode the payload straight into its type without buffering.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::log::LogRecord;
use crate::payload::{ErrorEvent, Performance, Security, Transaction, UserBehavior};

/// The envelope version this build writes. Readers accept any version and ignore
/// fields they do not know, so adding an optional field never breaks them.
pub const SCHEMA_VERSION: u16 = 1;

/// Free-form labels (`region=eu`, `synthetic_fraud=velocity`): small and bounded.
pub type Tags = BTreeMap<String, String>;

/// The kinds of event: five typed commerce kinds and `log`, any log record. Each is also the second token of its subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Transaction,
    Error,
    UserBehavior,
    Performance,
    Security,
    Log,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::Transaction,
        Kind::Error,
        Kind::UserBehavior,
        Kind::Performance,
        Kind::Security,
        Kind::Log,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Transaction => "transaction",
            Kind::Error => "error",
            Kind::UserBehavior => "user_behavior",
            Kind::Performance => "performance",
            Kind::Security => "security",
            Kind::Log => "log",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Kind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Kind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown kind `{s}` (expected one of transaction, error, user_behavior, performance, security, log)"))
    }
}

/// The typed payload of an event; its variant is the event's [`Kind`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Body {
    Transaction(Transaction),
    Error(ErrorEvent),
    UserBehavior(UserBehavior),
    Performance(Performance),
    Security(Security),
    Log(LogRecord),
}

impl Body {
    pub fn kind(&self) -> Kind {
        match self {
            Body::Transaction(_) => Kind::Transaction,
            Body::Error(_) => Kind::Error,
            Body::UserBehavior(_) => Kind::UserBehavior,
            Body::Performance(_) => Kind::Performance,
            Body::Security(_) => Kind::Security,
            Body::Log(_) => Kind::Log,
        }
    }
}

/// One log event: the envelope and its typed payload.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// UUIDv7: time-ordered, also the `Nats-Msg-Id` and the search document id.
    pub id: Uuid,
    pub kind: Kind,
    #[serde(with = "time::serde::rfc3339")]
    pub occurred_at: OffsetDateTime,
    pub service: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    pub schema_version: u16,
    #[serde(skip_serializing_if = "Tags::is_empty")]
    pub tags: Tags,
    pub payload: Body,
}

impl Event {
    /// A new event with a fresh UUIDv7 id, stamped now.
    pub fn new(service: impl Into<String>, payload: Body) -> Self {
        Self::at(OffsetDateTime::now_utc(), service, payload)
    }

    /// A new event that occurred at `occurred_at`, with a UUIDv7 id of that instant.
    pub fn at(occurred_at: OffsetDateTime, service: impl Into<String>, payload: Body) -> Self {
        let nanos = occurred_at.unix_timestamp_nanos().max(0) as u128;
        let ts = uuid::Timestamp::from_unix(
            uuid::NoContext,
            (nanos / 1_000_000_000) as u64,
            (nanos % 1_000_000_000) as u32,
        );
        Self {
            id: Uuid::new_v7(ts),
            kind: payload.kind(),
            occurred_at,
            service: service.into(),
            tenant: None,
            env: None,
            host: None,
            trace_id: None,
            schema_version: SCHEMA_VERSION,
            tags: Tags::new(),
            payload,
        }
    }

    pub fn kind(&self) -> Kind {
        self.payload.kind()
    }
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum Field {
    Id,
    Kind,
    OccurredAt,
    Service,
    Tenant,
    Env,
    Host,
    TraceId,
    SchemaVersion,
    Tags,
    Payload,
    #[serde(other)]
    Unknown,
}

#[derive(Deserialize)]
struct Rfc3339(#[serde(with = "time::serde::rfc3339")] OffsetDateTime);

struct PayloadSeed(Kind);

impl<'de> DeserializeSeed<'de> for PayloadSeed {
    type Value = Body;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Body, D::Error> {
        Ok(match self.0 {
            Kind::Transaction => Body::Transaction(Transaction::deserialize(d)?),
            Kind::Error => Body::Error(ErrorEvent::deserialize(d)?),
            Kind::UserBehavior => Body::UserBehavior(UserBehavior::deserialize(d)?),
            Kind::Performance => Body::Performance(Performance::deserialize(d)?),
            Kind::Security => Body::Security(Security::deserialize(d)?),
            Kind::Log => Body::Log(LogRecord::deserialize(d)?),
        })
    }
}

struct EventVisitor;

impl<'de> Visitor<'de> for EventVisitor {
    type Value = Event;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an event map with id, kind, occurred_at, service and payload")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Event, A::Error> {
        let mut id = None;
        let mut kind: Option<Kind> = None;
        let mut occurred_at = None;
        let mut service = None;
        let (mut tenant, mut env, mut host, mut trace_id) = (None, None, None, None);
        let mut schema_version = None;
        let mut tags = None;
        let mut payload = None;
        // A payload seen before `kind` is kept as a generic value until the kind is known.
        let mut early_payload: Option<serde_json::Value> = None;
        while let Some(field) = map.next_key::<Field>()? {
            match field {
                Field::Id => id = Some(map.next_value::<Uuid>()?),
                Field::Kind => kind = Some(map.next_value::<Kind>()?),
                Field::OccurredAt => occurred_at = Some(map.next_value::<Rfc3339>()?.0),
                Field::Service => service = Some(map.next_value::<String>()?),
                Field::Tenant => tenant = map.next_value()?,
                Field::Env => env = map.next_value()?,
                Field::Host => host = map.next_value()?,
                Field::TraceId => trace_id = map.next_value()?,
                Field::SchemaVersion => schema_version = Some(map.next_value::<u16>()?),
                Field::Tags => tags = map.next_value::<Option<Tags>>()?,
                Field::Payload => match kind {
                    Some(k) => payload = Some(map.next_value_seed(PayloadSeed(k))?),
                    None => early_payload = Some(map.next_value()?),
                },
                Field::Unknown => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let id = id.ok_or_else(|| de::Error::missing_field("id"))?;
        let kind = kind.ok_or_else(|| de::Error::missing_field("kind"))?;
        let occurred_at = occurred_at.ok_or_else(|| de::Error::missing_field("occurred_at"))?;
        let service = service.ok_or_else(|| de::Error::missing_field("service"))?;
        let payload = match (payload, early_payload) {
            (Some(p), _) => p,
            (None, Some(v)) => {
                let mut track = serde_path_to_error::Track::new();
                PayloadSeed(kind)
                    .deserialize(serde_path_to_error::Deserializer::new(v, &mut track))
                    .map_err(|e| de::Error::custom(format_args!("payload.{}: {e}", track.path())))?
            }
            (None, None) => return Err(de::Error::missing_field("payload")),
        };
        Ok(Event {
            id,
            kind,
            occurred_at,
            service,
            tenant,
            env,
            host,
            trace_id,
            schema_version: schema_version.unwrap_or(SCHEMA_VERSION),
            tags: tags.unwrap_or_default(),
            payload,
        })
    }
}

impl<'de> Deserialize<'de> for Event {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(EventVisitor)
    }
}
