//! The Elasticsearch `_bulk` API, as Filebeat, Logstash, Fluent Bit, Vector and
//! the Elasticsearch clients send it: NDJSON pairs of an action line and a
//! document. `index` and `create` documents become events: one that carries
//! Sightline's envelope (`id`, `kind`, `occurred_at`, `service`, `payload`) is that
//! event; any other is read as ECS (`@timestamp`, `message`, `log.level`,
//! `service.name`, `host.name`, `trace.id`...) and becomes a `log` record whose
//! other fields are its attributes. Each item is answered on its own.

use serde_json::{Map, Value};
use sightline_schemas::log::{clean_text, normalize_service, MAX_LOG_MESSAGE};
use sightline_schemas::{
    decode, AttrValue, Body, Encoding, Event, EventError, Kind, LogRecord, OffsetDateTime,
    Severity, Uuid,
};

use crate::{assign_content_ids, UNKNOWN_SERVICE};

/// Nested objects deeper than this are kept as JSON text.
const MAX_DEPTH: usize = 6;

/// One action of a bulk body and what became of its document.
#[derive(Debug)]
pub struct Item {
    /// `index` or `create` (echoed in the answer), or the unsupported action.
    pub action: String,
    /// The index the shipper named (in the action or the path).
    pub index: String,
    /// `line N` of the action, for errors.
    pub place: String,
    /// The event's id, or why there is no event.
    pub outcome: Result<Uuid, ItemError>,
    /// The event, until the caller takes it to publish.
    pub event: Option<Event>,
}

/// Why an item holds no event, as Elasticsearch would type it.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemError {
    /// `illegal_argument_exception`, `mapper_parsing_exception`, `action_request_validation_exception`.
    pub kind: &'static str,
    pub reason: String,
    pub status: u16,
}

impl ItemError {
    fn new(kind: &'static str, status: u16, reason: impl Into<String>) -> Self {
        Self {
            kind,
            reason: reason.into(),
            status,
        }
    }

    /// A document that is not a valid event (the validator's reason).
    pub fn invalid(e: &EventError) -> Self {
        Self::new("document_parsing_exception", 400, e.to_string())
    }
}

/// Reads a bulk body. `default_index` is the `{index}` of `/{index}/_bulk`.
/// Lines are numbered from 1. As in Elasticsearch, a line that should be an
/// action and is not, or an `index` / `create` with no document after it, refuses
/// the whole body (the error names the line); a document that is not an event
/// refuses only its item.
pub fn parse(
    body: &[u8],
    default_index: Option<&str>,
    now: OffsetDateTime,
) -> Result<Vec<Item>, String> {
    let mut items = Vec::new();
    let mut lines = body
        .split(|b| *b == b'\n')
        .enumerate()
        .map(|(i, line)| (i + 1, line))
        .filter(|(_, line)| !line.trim_ascii().is_empty());
    while let Some((n, line)) = lines.next() {
        let place = format!("line {n}");
        let (action, meta) = action_of(line).map_err(|reason| format!("{place}: {reason}"))?;
        let index = meta
            .or_else(|| default_index.map(str::to_owned))
            .unwrap_or_default();
        let event = match action.as_str() {
            "index" | "create" => {
                let (m, doc) = lines.next().ok_or_else(|| {
                    format!("{place}: the {action} action has no document after it")
                })?;
                document(doc, service_of_index(&index), now).map_err(|reason| {
                    ItemError::new(
                        "document_parsing_exception",
                        400,
                        format!("line {m}: {reason}"),
                    )
                })
            }
            "update" => {
                lines.next();
                Err(unsupported(&action))
            }
            "delete" => Err(unsupported(&action)),
            other => {
                return Err(format!(
                    "{place}: unknown action `{other}` (expected index, create, update or delete)"
                ))
            }
        };
        let (outcome, event) = match event {
            Ok(event) => (Ok(Uuid::nil()), Some(event)),
            Err(e) => (Err(e), None),
        };
        items.push(Item {
            action,
            index,
            place,
            outcome,
            event,
        });
    }
    assign_content_ids(items.iter_mut().filter_map(|i| i.event.as_mut()));
    for item in &mut items {
        if let (Ok(id), Some(event)) = (&mut item.outcome, &item.event) {
            *id = event.id;
        }
    }
    Ok(items)
}

fn unsupported(action: &str) -> ItemError {
    ItemError::new(
        "illegal_argument_exception",
        400,
        format!(
            "`{action}` is not supported: the stream keeps what was sent (index or create only)"
        ),
    )
}

/// The action of an action line and the index it names (`{"index": {"_index": ...}}`).
fn action_of(line: &[u8]) -> Result<(String, Option<String>), String> {
    #[derive(serde::Deserialize)]
    struct Meta {
        #[serde(rename = "_index")]
        index: Option<String>,
    }
    let map: std::collections::HashMap<String, Meta> =
        serde_json::from_slice(line).map_err(|e| {
            if e.is_data() {
                "the action line must be an object such as {\"index\": {}}".to_owned()
            } else {
                format!("the action line is not JSON (column {})", e.column())
            }
        })?;
    let mut entries = map.into_iter();
    match (entries.next(), entries.next()) {
        (Some((action, meta)), None) => Ok((action, meta.index)),
        _ => Err("the action line must hold exactly one action, such as {\"index\": {}}".into()),
    }
}

/// The event of one JSON document (a bulk document, a line of a JSON log file):
/// Sightline's envelope, or ECS. `fallback_service` names the service of an ECS
/// document that names none.
pub(crate) fn document(
    line: &[u8],
    fallback_service: Option<String>,
    now: OffsetDateTime,
) -> Result<Event, String> {
    let value: Value = serde_json::from_slice(line)
        .map_err(|e| format!("the document is not JSON (column {})", e.column()))?;
    let Value::Object(doc) = value else {
        return Err("the document must be a JSON object".into());
    };
    if carries_envelope(&doc) {
        // Re-encoded from the parsed value: decode names the bad field itself.
        let bytes = serde_json::to_vec(&doc).map_err(|e| e.to_string())?;
        return decode(&bytes, Encoding::Json).map_err(|e| e.to_string());
    }
    Ok(ecs_event(doc, fallback_service, now))
}

/// Whether a document is one of Sightline's own events (as `sightline publish`
/// writes them), rather than a log line.
fn carries_envelope(doc: &Map<String, Value>) -> bool {
    doc.get("kind")
        .and_then(Value::as_str)
        .is_some_and(|k| k.parse::<Kind>().is_ok())
        && doc.get("payload").is_some_and(Value::is_object)
        && doc.contains_key("occurred_at")
}

/// An ECS document (or any flat JSON log line) as a `log` record.
pub(crate) fn ecs_event(
    doc: Map<String, Value>,
    fallback_service: Option<String>,
    now: OffsetDateTime,
) -> Event {
    let mut fields = Map::new();
    flatten("", Value::Object(doc), &mut fields, 0);
    let mut take_text = |keys: &[&str]| {
        keys.iter().find_map(|k| match fields.remove(*k) {
            Some(Value::String(s)) if !s.trim().is_empty() => Some(s),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        })
    };
    let at = take_text(&["@timestamp", "timestamp", "time", "ts"]).and_then(|t| timestamp(&t));
    let level_text = take_text(&["log.level", "level", "severity", "loglevel"]);
    let mut message = take_text(&["message", "msg", "log", "event.original"]).unwrap_or_default();
    if let Some(stack) = take_text(&["error.stack_trace"]) {
        if !message.is_empty() {
            message.push('\n');
        }
        message.push_str(&stack);
    }
    let service = take_text(&[
        "service.name",
        "kubernetes.container.name",
        "container.name",
        "process.name",
        "app",
    ])
    .and_then(|s| normalize_service(&s))
    .or(fallback_service)
    .unwrap_or_else(|| UNKNOWN_SERVICE.into());
    let host = take_text(&["host.name", "host.hostname", "hostname", "host"]);
    let env = take_text(&[
        "service.environment",
        "deployment.environment",
        "environment",
        "env",
    ]);
    let trace_id = take_text(&["trace.id", "trace_id"]).filter(|t| is_hex(t, 32));
    let span_id = take_text(&["span.id", "span_id"]).filter(|s| is_hex(s, 16));
    let logger = take_text(&["log.logger", "logger", "logger_name"]);

    let severity = level_text
        .as_deref()
        .and_then(Severity::from_text)
        .unwrap_or(Severity::Info);
    let mut log = LogRecord::new(severity, "");
    log.message = clean_text(&message, MAX_LOG_MESSAGE);
    if let Some(text) = level_text.filter(|t| !t.eq_ignore_ascii_case(severity.as_str())) {
        log.severity_text = Some(clean_text(&text, 64));
    }
    log.logger = logger.map(|l| clean_text(&l, 512));
    log.span_id = span_id.map(|s| s.to_ascii_lowercase());
    for (name, value) in fields {
        let attr = match value {
            Value::String(s) => AttrValue::Text(s),
            Value::Bool(b) => AttrValue::Bool(b),
            Value::Number(n) => match n.as_i64() {
                Some(i) => AttrValue::Int(i),
                None => AttrValue::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            Value::Null => continue,
            other => AttrValue::Text(other.to_string()),
        };
        log.add_attribute(&name, attr);
    }
    let mut event = Event::at(at.unwrap_or(now), service, Body::Log(log));
    event.host = host.map(|h| clean_text(&h, 512));
    event.env = env.map(|e| clean_text(&e, 64));
    event.trace_id = trace_id.map(|t| t.to_ascii_lowercase());
    event
}

/// Objects flattened into dotted names (`{"log": {"level": "x"}}` and
/// `{"log.level": "x"}` alike); arrays and deep objects stay whole.
fn flatten(prefix: &str, value: Value, out: &mut Map<String, Value>, depth: usize) {
    match value {
        Value::Object(map) if depth < MAX_DEPTH => {
            for (key, value) in map {
                let name = if prefix.is_empty() {
                    key
                } else {
                    format!("{prefix}.{key}")
                };
                flatten(&name, value, out, depth + 1);
            }
        }
        other => {
            out.insert(prefix.to_owned(), other);
        }
    }
}

/// `@timestamp` as RFC 3339, or epoch milliseconds.
fn timestamp(text: &str) -> Option<OffsetDateTime> {
    use time::format_description::well_known::Rfc3339;
    if let Ok(at) = OffsetDateTime::parse(text, &Rfc3339) {
        return Some(at);
    }
    let millis: i128 = text.parse().ok()?;
    OffsetDateTime::from_unix_timestamp_nanos(millis * 1_000_000).ok()
}

/// A service from an index name written by a shipper (`checkout-logs-2026.12.07`
/// is `checkout-logs`): the name without a trailing date or version.
fn service_of_index(index: &str) -> Option<String> {
    let base: Vec<&str> = index
        .split('-')
        .take_while(|part| !part.starts_with(|c: char| c.is_ascii_digit()))
        .collect();
    normalize_service(&base.join("-"))
}

fn is_hex(text: &str, len: usize) -> bool {
    text.len() == len && text.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests;

/// The answer Elasticsearch gives a bulk request: one entry per action, in order,
/// with its status. `refused` names the items the Publisher refused, by place.
pub fn response(
    items: &[Item],
    refused: &std::collections::HashMap<String, String>,
    took_ms: u64,
) -> Value {
    let mut errors = false;
    let answers: Vec<Value> = items
        .iter()
        .map(|item| {
            let failure = match &item.outcome {
                Err(e) => Some(e.clone()),
                Ok(_) => refused
                    .get(&item.place)
                    .map(|reason| ItemError::new("document_parsing_exception", 400, reason.clone())),
            };
            let mut entry = Map::new();
            entry.insert("_index".into(), Value::String(item.index.clone()));
            if let Ok(id) = &item.outcome {
                entry.insert("_id".into(), Value::String(id.to_string()));
            }
            match failure {
                Some(e) => {
                    errors = true;
                    entry.insert("status".into(), e.status.into());
                    entry.insert(
                        "error".into(),
                        serde_json::json!({ "type": e.kind, "reason": format!("{}: {}", item.place, e.reason) }),
                    );
                }
                None => {
                    entry.insert("status".into(), 201.into());
                    entry.insert("result".into(), "created".into());
                    entry.insert("_version".into(), 1.into());
                }
            }
            serde_json::json!({ item.action.clone(): entry })
        })
        .collect();
    serde_json::json!({ "took": took_ms, "errors": errors, "items": answers })
}
