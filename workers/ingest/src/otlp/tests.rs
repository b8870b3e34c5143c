use opentelemetry_proto::tonic::common::v1::{
    any_value::Value, AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord as OtlpRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use sightline_schemas::Validate;

use super::*;

fn kv(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..KeyValue::default()
    }
}

fn text(s: &str) -> Value {
    Value::StringValue(s.into())
}

fn request(records: Vec<OtlpRecord>) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: vec![
                    kv("service.name", text("Checkout Service")),
                    kv("host.name", text("web-1")),
                    kv("deployment.environment.name", text("production")),
                    kv("service.version", text("1.4.2")),
                ],
                ..Resource::default()
            }),
            scope_logs: vec![ScopeLogs {
                scope: Some(InstrumentationScope {
                    name: "app.payments".into(),
                    ..InstrumentationScope::default()
                }),
                log_records: records,
                ..ScopeLogs::default()
            }],
            ..ResourceLogs::default()
        }],
    }
}

fn record(body: &str, severity: i32) -> OtlpRecord {
    OtlpRecord {
        time_unix_nano: 1_772_366_400_123_000_000,
        severity_number: severity,
        severity_text: "ERROR".into(),
        body: Some(AnyValue {
            value: Some(text(body)),
        }),
        trace_id: (1..=16).collect(),
        span_id: vec![0xb7, 0xad, 0x6b, 0x71, 0x69, 0x20, 0x33, 0x31],
        attributes: vec![
            kv("http.response.status_code", Value::IntValue(504)),
            kv("retry", Value::BoolValue(true)),
            kv("exception.type", text("TimeoutError")),
            kv(
                "exception.stacktrace",
                text("Traceback (most recent call last):\n  File \"pay.py\", line 42"),
            ),
            kv(
                "http",
                Value::KvlistValue(KeyValueList {
                    values: vec![kv("route", text("/api/pay"))],
                }),
            ),
            kv(
                "tags",
                Value::ArrayValue(ArrayValue {
                    values: vec![
                        AnyValue {
                            value: Some(text("a")),
                        },
                        AnyValue {
                            value: Some(Value::IntValue(2)),
                        },
                    ],
                }),
            ),
        ],
        ..OtlpRecord::default()
    }
}

fn now() -> OffsetDateTime {
    time::macros::datetime!(2026-03-01 13:00 UTC)
}

#[test]
fn a_record_keeps_everything_in_its_place() {
    let placed = events(&request(vec![record("payment timed out", 17)]), now());
    assert_eq!(placed.len(), 1);
    assert_eq!(
        placed[0].place,
        "resourceLogs[0].scopeLogs[0].logRecords[0]"
    );
    let e = &placed[0].event;
    e.validate().unwrap();
    assert_eq!(e.service, "checkout-service");
    assert_eq!(e.host.as_deref(), Some("web-1"));
    assert_eq!(e.env.as_deref(), Some("production"));
    assert_eq!(
        e.trace_id.as_deref(),
        Some("0102030405060708090a0b0c0d0e0f10")
    );
    assert_eq!(
        e.occurred_at.unix_timestamp_nanos(),
        1_772_366_400_123_000_000
    );
    let Body::Log(log) = &e.payload else {
        panic!("a log event")
    };
    assert_eq!(log.severity, Severity::Error);
    assert_eq!(log.severity_number, Some(17));
    assert_eq!(log.severity_text, None, "ERROR says what severity says");
    assert_eq!(log.logger.as_deref(), Some("app.payments"));
    assert_eq!(log.span_id.as_deref(), Some("b7ad6b7169203331"));
    assert_eq!(
        log.message,
        "payment timed out\nTraceback (most recent call last):\n  File \"pay.py\", line 42"
    );
    let attr = |k: &str| log.attributes.get(k).cloned();
    assert_eq!(attr("http.response.status_code"), Some(AttrValue::Int(504)));
    assert_eq!(attr("retry"), Some(AttrValue::Bool(true)));
    assert_eq!(attr("http.route"), Some(AttrValue::Text("/api/pay".into())));
    assert_eq!(attr("tags"), Some(AttrValue::Text("[\"a\",2]".into())));
    assert_eq!(
        attr("service.version"),
        Some(AttrValue::Text("1.4.2".into()))
    );
    assert_eq!(
        attr("exception.stacktrace"),
        None,
        "the stack went into the message"
    );
    assert_eq!(attr("service.name"), None, "the envelope holds it");
}

#[test]
fn severity_comes_from_the_number_then_the_text_then_info() {
    let mut by_text = record("x", 0);
    by_text.severity_text = "Warning".into();
    let mut nothing = record("y", 0);
    nothing.severity_text = String::new();
    let placed = events(&request(vec![record("z", 21), by_text, nothing]), now());
    let got: Vec<_> = placed
        .iter()
        .map(|p| match &p.event.payload {
            Body::Log(l) => (l.severity, l.severity_number, l.severity_text.clone()),
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(
        got,
        [
            (Severity::Fatal, Some(21), Some("ERROR".into())),
            (Severity::Warn, None, Some("Warning".into())),
            (Severity::Info, None, None),
        ]
    );
}

#[test]
fn a_retried_request_gets_the_same_ids_and_twin_lines_stay_two() {
    let req = request(vec![
        record("same", 9),
        record("same", 9),
        record("other", 9),
    ]);
    let first: Vec<_> = events(&req, now())
        .into_iter()
        .map(|p| p.event.id)
        .collect();
    let again: Vec<_> = events(&req, now())
        .into_iter()
        .map(|p| p.event.id)
        .collect();
    assert_eq!(first, again);
    assert_ne!(first[0], first[1]);
    assert_ne!(first[1], first[2]);
}

#[test]
fn a_record_without_time_is_stamped_when_observed_or_now() {
    let mut observed = record("a", 9);
    observed.time_unix_nano = 0;
    observed.observed_time_unix_nano = 1_772_366_500_000_000_000;
    let mut neither = record("b", 9);
    neither.time_unix_nano = 0;
    let placed = events(&request(vec![observed, neither]), now());
    assert_eq!(placed[0].event.occurred_at.unix_timestamp(), 1_772_366_500);
    assert_eq!(placed[1].event.occurred_at, now());
}

#[test]
fn a_resource_without_a_service_name_is_the_unknown_service() {
    let mut req = request(vec![record("a", 9)]);
    req.resource_logs[0].resource = None;
    req.resource_logs[0].scope_logs[0].scope = None;
    let placed = events(&req, now());
    assert_eq!(placed[0].event.service, crate::UNKNOWN_SERVICE);
    let Body::Log(log) = &placed[0].event.payload else {
        unreachable!()
    };
    assert_eq!(log.logger, None);
}

#[test]
fn protobuf_and_json_bodies_decode_to_the_same_request() {
    let req = request(vec![record("payment timed out", 17)]);
    let pb = decode(&req.encode_to_vec(), Format::Protobuf).unwrap();
    assert_eq!(pb, req);
    // JSON as the spec writes it: camelCase, hex ids, 64-bit integers as strings.
    let json = r#"{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"api"}}]},
        "scopeLogs":[{"scope":{"name":"py"},"logRecords":[{"timeUnixNano":"1772366400123000000","severityNumber":13,
        "severityText":"WARN","body":{"stringValue":"disk 91% full"},"traceId":"5b8efff798038103d269b633813fc60c",
        "spanId":"eee19b7ec3c1b174","attributes":[{"key":"disk.used","value":{"intValue":"91"}}]}]}]}]}"#;
    let placed = events(&decode(json.as_bytes(), Format::Json).unwrap(), now());
    let e = &placed[0].event;
    assert_eq!(e.service, "api");
    assert_eq!(
        e.trace_id.as_deref(),
        Some("5b8efff798038103d269b633813fc60c")
    );
    let Body::Log(log) = &e.payload else {
        unreachable!()
    };
    assert_eq!(
        (log.severity, log.message.as_str()),
        (Severity::Warn, "disk 91% full")
    );
    assert_eq!(log.attributes["disk.used"], AttrValue::Int(91));
}

#[test]
fn bad_bodies_are_named_without_being_echoed() {
    let err = decode(b"\xff\xff\xff secret", Format::Protobuf).unwrap_err();
    assert_eq!(err.kind(), IngestErrorKind::Malformed);
    assert!(!err.to_string().contains("secret"));
    for not_an_object in [&b"[]"[..], b" 7", b""] {
        assert!(decode(not_an_object, Format::Json).is_err());
    }
    let err = decode(b"{\"resourceLogs\": 7}", Format::Json).unwrap_err();
    assert!(err.to_string().contains("line 1"), "{err}");
    assert_eq!(
        Format::from_content_type(Some("text/plain"))
            .unwrap_err()
            .kind(),
        IngestErrorKind::Unsupported
    );
    assert_eq!(
        Format::from_content_type(Some("application/json; charset=utf-8")).unwrap(),
        Format::Json
    );
}

#[test]
fn a_partial_success_says_how_many_and_why() {
    let pb = response(2, "resourceLogs[0]...: bad".into(), Format::Protobuf);
    let back = ExportLogsServiceResponse::decode(pb.as_slice()).unwrap();
    assert_eq!(back.partial_success.unwrap().rejected_log_records, 2);
    assert!(response(0, String::new(), Format::Protobuf).is_empty());
    let json: serde_json::Value =
        serde_json::from_slice(&response(1, "why".into(), Format::Json)).unwrap();
    assert_eq!(json["partialSuccess"]["errorMessage"], "why");
    let status = Status::decode(status(false, "bad").as_slice()).unwrap();
    assert_eq!((status.code, status.message.as_str()), (3, "bad"));
}
