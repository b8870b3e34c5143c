//! JSON Schema documents for non-Rust producers, one per kind, generated from the
//! Rust types. `schemas/json/` holds the committed copies; a test fails when stale.

use schemars::{JsonSchema, Schema};
use serde_json::Value;

use crate::envelope::{Kind, Tags};
use crate::log::LogRecord;
use crate::payload::{ErrorEvent, Performance, Security, Transaction, UserBehavior};

/// A Sightline log event: the envelope and its typed payload.
#[derive(JsonSchema)]
#[allow(dead_code)]
struct Envelope<P> {
    /// UUIDv7, unique per event; used for de-duplication.
    id: uuid::Uuid,
    kind: String,
    /// RFC 3339 timestamp, not more than 5 minutes in the future.
    #[schemars(with = "String", extend("format" = "date-time"))]
    occurred_at: (),
    /// Subject token: 1-64 characters of a-z, 0-9, _ and -.
    #[schemars(extend("pattern" = r"^[a-z0-9_-]{1,64}$"))]
    service: String,
    tenant: Option<String>,
    env: Option<String>,
    host: Option<String>,
    trace_id: Option<String>,
    #[schemars(extend("default" = 1))]
    schema_version: Option<u16>,
    tags: Option<Tags>,
    payload: P,
}

/// The schema document for one kind.
pub fn for_kind(kind: Kind) -> Schema {
    let mut schema = match kind {
        Kind::Transaction => schemars::schema_for!(Envelope<Transaction>),
        Kind::Error => schemars::schema_for!(Envelope<ErrorEvent>),
        Kind::UserBehavior => schemars::schema_for!(Envelope<UserBehavior>),
        Kind::Performance => schemars::schema_for!(Envelope<Performance>),
        Kind::Security => schemars::schema_for!(Envelope<Security>),
        Kind::Log => schemars::schema_for!(Envelope<LogRecord>),
    };
    schema.insert(
        "title".into(),
        Value::String(format!("Sightline {kind} event")),
    );
    if let Some(Value::Object(props)) = schema.get_mut("properties") {
        props.insert("kind".into(), serde_json::json!({ "const": kind.as_str() }));
    }
    schema
}

/// `(file name, pretty JSON)` for every kind and for detections (the FRAUD stream's
/// events, for consumers outside Rust), as committed under `schemas/json/`.
pub fn files() -> Vec<(String, String)> {
    let pretty = |schema: &Schema| {
        let value = canonical(schema.clone().to_value());
        serde_json::to_string_pretty(&value).unwrap_or_default() + "\n"
    };
    let mut files: Vec<(String, String)> = Kind::ALL
        .into_iter()
        .map(|k| (format!("{}.json", k.as_str()), pretty(&for_kind(k))))
        .collect();
    let detection = schemars::schema_for!(crate::detection::Detection);
    files.push(("detection.json".into(), pretty(&detection)));
    files
}

/// Objects with their keys sorted: the committed files must not depend on whether
/// some other crate in the build turned on serde_json's `preserve_order`.
fn canonical(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, canonical(v)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.into_iter().map(canonical).collect()),
        other => other,
    }
}
