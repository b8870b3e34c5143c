//! OTLP/HTTP logs (`POST /v1/logs`): an `ExportLogsServiceRequest` in protobuf or
//! JSON becomes `log` events. The OpenTelemetry resource names the source
//! (`service.name` is the service, `host.name` the host, `deployment.environment`
//! the env); the instrumentation scope is the logger; the rest of the resource's
//! attributes join the record's, which win on a clash.

use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{any_value::Value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::logs::v1::LogRecord as OtlpRecord;
use prost::Message;
use sightline_schemas::log::{clean_text, normalize_service};
use sightline_schemas::{AttrValue, Body, Event, LogRecord, OffsetDateTime, Severity};

use crate::error::{IngestError, IngestErrorKind};
use crate::{assign_content_ids, Placed, UNKNOWN_SERVICE};

/// Nested attribute values deeper than this are kept as JSON text.
const MAX_DEPTH: usize = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Protobuf,
    Json,
}

impl Format {
    /// The format a `Content-Type` names (`application/x-protobuf`, `application/json`).
    pub fn from_content_type(value: Option<&str>) -> Result<Self, IngestError> {
        let mime = value
            .and_then(|v| v.split(';').next())
            .map(|v| v.trim().to_ascii_lowercase());
        match mime.as_deref() {
            Some("application/x-protobuf") | Some("application/protobuf") => Ok(Format::Protobuf),
            Some("application/json") => Ok(Format::Json),
            _ => Err(IngestError::new(
                IngestErrorKind::Unsupported,
                "Content-Type must be application/x-protobuf or application/json",
            )),
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Protobuf => "application/x-protobuf",
            Format::Json => "application/json",
        }
    }
}

/// Reads a request body (already decompressed).
pub fn decode(body: &[u8], format: Format) -> Result<ExportLogsServiceRequest, IngestError> {
    match format {
        Format::Protobuf => ExportLogsServiceRequest::decode(body).map_err(|e| {
            IngestError::malformed(format!(
                "the body is not an OTLP ExportLogsServiceRequest in protobuf: {e}"
            ))
        }),
        // serde reads a struct from an array too; OTLP/JSON is an object.
        Format::Json if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') => {
            Err(IngestError::malformed(
                "the body is not an OTLP ExportLogsServiceRequest in JSON: it must be an object",
            ))
        }
        Format::Json => serde_json::from_slice(body).map_err(|e| {
            IngestError::malformed(format!(
                "the body is not an OTLP ExportLogsServiceRequest in JSON: line {} column {}: {}",
                e.line(),
                e.column(),
                json_reason(&e)
            ))
        }),
    }
}

/// What a JSON error says without quoting the body.
fn json_reason(e: &serde_json::Error) -> &'static str {
    use serde_json::error::Category;
    match e.classify() {
        Category::Io => "unreadable",
        Category::Syntax => "not JSON",
        Category::Data => "a field has the wrong type",
        Category::Eof => "the body ends too soon",
    }
}

/// The events of a request, each with its place, with content ids. `now` stamps
/// records that carry neither a time nor an observed time.
pub fn events(request: &ExportLogsServiceRequest, now: OffsetDateTime) -> Vec<Placed> {
    let mut out = Vec::new();
    for (r, resource_logs) in request.resource_logs.iter().enumerate() {
        let resource = resource_logs
            .resource
            .as_ref()
            .map(|res| res.attributes.as_slice())
            .unwrap_or_default();
        let source = Source::of(resource);
        for (s, scope_logs) in resource_logs.scope_logs.iter().enumerate() {
            let scope = scope_logs
                .scope
                .as_ref()
                .map(|scope| scope.name.as_str())
                .filter(|name| !name.is_empty());
            for (l, record) in scope_logs.log_records.iter().enumerate() {
                out.push(Placed {
                    place: format!("resourceLogs[{r}].scopeLogs[{s}].logRecords[{l}]"),
                    event: event(record, scope, &source, resource, now),
                });
            }
        }
    }
    assign_content_ids(out.iter_mut().map(|p| &mut p.event));
    out
}

/// What a resource says about where its records come from.
struct Source {
    service: String,
    host: Option<String>,
    env: Option<String>,
}

impl Source {
    fn of(resource: &[KeyValue]) -> Self {
        let text = |key: &str| {
            resource
                .iter()
                .find(|kv| kv.key == key)
                .and_then(|kv| kv.value.as_ref())
                .and_then(|v| match &v.value {
                    Some(Value::StringValue(s)) if !s.trim().is_empty() => Some(s.as_str()),
                    _ => None,
                })
        };
        Self {
            service: text("service.name")
                .and_then(normalize_service)
                .unwrap_or_else(|| UNKNOWN_SERVICE.into()),
            host: text("host.name").map(|h| clean_text(h, 512)),
            env: text("deployment.environment.name")
                .or_else(|| text("deployment.environment"))
                .map(|e| clean_text(e, 64)),
        }
    }

    /// Resource attributes the envelope already holds.
    fn holds(key: &str) -> bool {
        matches!(
            key,
            "service.name" | "host.name" | "deployment.environment" | "deployment.environment.name"
        )
    }
}

fn event(
    record: &OtlpRecord,
    scope: Option<&str>,
    source: &Source,
    resource: &[KeyValue],
    now: OffsetDateTime,
) -> Event {
    let severity = Severity::from_otel(record.severity_number)
        .or_else(|| Severity::from_text(&record.severity_text))
        .unwrap_or(Severity::Info);
    let mut log = LogRecord::new(severity, "");
    log.severity_number =
        Severity::from_otel(record.severity_number).and(u8::try_from(record.severity_number).ok());
    let text = record.severity_text.trim();
    if !text.is_empty() && !text.eq_ignore_ascii_case(severity.as_str()) {
        log.severity_text = Some(clean_text(text, 64));
    }
    log.logger = scope.map(|s| clean_text(s, 512));
    log.span_id = hex_id(&record.span_id, 8);
    let mut message = String::new();
    match record.body.as_ref().and_then(|b| b.value.as_ref()) {
        Some(Value::StringValue(s)) => message.push_str(s),
        Some(Value::KvlistValue(kv)) => {
            // A structured body: its `message` (or `msg`) is the line, the rest attributes.
            for pair in &kv.values {
                match (
                    pair.key.as_str(),
                    pair.value.as_ref().and_then(|v| v.value.as_ref()),
                ) {
                    ("message" | "msg", Some(Value::StringValue(s))) if message.is_empty() => {
                        message.push_str(s)
                    }
                    (key, _) => add(&mut log, key, pair.value.as_ref(), 0),
                }
            }
        }
        Some(other) => message.push_str(&render(other)),
        None => {}
    }
    for kv in &record.attributes {
        // A stack trace belongs with the line it explains, uncut by attribute bounds.
        if kv.key == "exception.stacktrace" {
            if let Some(Value::StringValue(stack)) =
                kv.value.as_ref().and_then(|v| v.value.as_ref())
            {
                if !message.is_empty() {
                    message.push('\n');
                }
                message.push_str(stack);
                continue;
            }
        }
        add(&mut log, &kv.key, kv.value.as_ref(), 0);
    }
    if !record.event_name.is_empty() {
        log.add_attribute("event.name", AttrValue::Text(record.event_name.clone()));
    }
    for kv in resource.iter().filter(|kv| !Source::holds(&kv.key)) {
        add(&mut log, &kv.key, kv.value.as_ref(), 0);
    }
    log.dropped_attributes += record.dropped_attributes_count;
    log.message = clean_text(&message, sightline_schemas::log::MAX_LOG_MESSAGE);
    let nanos = [record.time_unix_nano, record.observed_time_unix_nano]
        .into_iter()
        .find(|n| *n > 0);
    let at = nanos
        .and_then(|n| OffsetDateTime::from_unix_timestamp_nanos(i128::from(n)).ok())
        .unwrap_or(now);
    let mut event = Event::at(at, source.service.clone(), Body::Log(log));
    event.host = source.host.clone();
    event.env = source.env.clone();
    event.trace_id = hex_id(&record.trace_id, 16);
    event
}

/// Adds an attribute, nested lists flattened into dotted names.
fn add(log: &mut LogRecord, name: &str, value: Option<&AnyValue>, depth: usize) {
    let Some(value) = value.and_then(|v| v.value.as_ref()) else {
        return;
    };
    let attr = match value {
        Value::StringValue(s) => AttrValue::Text(s.clone()),
        Value::BoolValue(b) => AttrValue::Bool(*b),
        Value::IntValue(i) => AttrValue::Int(*i),
        Value::DoubleValue(x) => AttrValue::Float(*x),
        Value::KvlistValue(kv) if depth < MAX_DEPTH => {
            for pair in &kv.values {
                add(
                    log,
                    &format!("{name}.{}", pair.key),
                    pair.value.as_ref(),
                    depth + 1,
                );
            }
            return;
        }
        other => AttrValue::Text(render(other)),
    };
    log.add_attribute(name, attr);
}

/// A value as text: strings as they are, the rest as JSON (cut to bounds by
/// whoever keeps it).
fn render(value: &Value) -> String {
    match value {
        Value::StringValue(s) => s.clone(),
        other => json(other).to_string(),
    }
}

fn json(value: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    let of = |v: &AnyValue| v.value.as_ref().map(json).unwrap_or(J::Null);
    match value {
        Value::StringValue(s) => J::String(s.clone()),
        Value::BoolValue(b) => J::Bool(*b),
        Value::IntValue(i) => J::from(*i),
        Value::DoubleValue(x) => serde_json::Number::from_f64(*x).map_or(J::Null, J::Number),
        Value::ArrayValue(a) => J::Array(a.values.iter().map(of).collect()),
        Value::KvlistValue(kv) => J::Object(
            kv.values
                .iter()
                .map(|p| (p.key.clone(), p.value.as_ref().map(of).unwrap_or(J::Null)))
                .collect(),
        ),
        Value::BytesValue(b) => J::String(hex(b)),
        // An index into a profiles dictionary: meaningless in a log record.
        Value::StringValueStrindex(_) => J::Null,
    }
}

/// A trace or span id as lower-case hex; `None` when absent, all zeros (invalid
/// per the spec) or of the wrong length.
fn hex_id(bytes: &[u8], len: usize) -> Option<String> {
    (bytes.len() == len && bytes.iter().any(|b| *b != 0)).then(|| hex(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The success answer: empty, or a partial success naming how many records were
/// refused and why (the first reasons).
pub fn response(rejected: u64, message: String, format: Format) -> Vec<u8> {
    let answer = ExportLogsServiceResponse {
        partial_success: (rejected > 0).then(|| ExportLogsPartialSuccess {
            rejected_log_records: i64::try_from(rejected).unwrap_or(i64::MAX),
            error_message: message,
        }),
    };
    match format {
        Format::Protobuf => answer.encode_to_vec(),
        Format::Json => serde_json::to_vec(&answer).unwrap_or_else(|_| b"{}".to_vec()),
    }
}

/// `google.rpc.Status`, the body OTLP/HTTP answers a failure with in protobuf
/// (the details field is left out). Not among the OTLP definitions, so declared
/// here from its two fields.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Status {
    #[prost(int32, tag = "1")]
    pub code: i32,
    #[prost(string, tag = "2")]
    pub message: String,
}

/// A failure's body in protobuf: gRPC code 3 (invalid argument) for what the
/// client must fix, 14 (unavailable) for what it should retry.
pub fn status(retryable: bool, message: &str) -> Vec<u8> {
    Status {
        code: if retryable { 14 } else { 3 },
        message: message.to_owned(),
    }
    .encode_to_vec()
}

#[cfg(test)]
mod tests;
