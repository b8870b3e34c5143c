use std::collections::HashMap;

use sightline_schemas::Validate;

use super::*;

fn now() -> OffsetDateTime {
    time::macros::datetime!(2026-03-01 13:00 UTC)
}

fn log_of(item: &Item) -> (&Event, &LogRecord) {
    let event = item.event.as_ref().unwrap();
    assert_eq!(item.outcome.as_ref().ok(), Some(&event.id));
    match &event.payload {
        Body::Log(l) => (event, l),
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_ecs_document_becomes_a_log_record() {
    let body = br#"{"index":{"_index":"filebeat-8.17.0"}}
{"@timestamp":"2026-03-01T12:00:00.250Z","message":"GET /cart 502","log":{"level":"WARNING","logger":"nginx.access"},"service":{"name":"Edge Proxy","environment":"prod"},"host":{"name":"edge-3"},"trace":{"id":"5B8EFFF798038103D269B633813FC60C"},"span.id":"eee19b7ec3c1b174","http":{"response":{"status_code":502}},"tags":["a","b"],"error":{"stack_trace":"at upstream()"}}
"#;
    let items = parse(body, None, now()).unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(
        (items[0].action.as_str(), items[0].index.as_str()),
        ("index", "filebeat-8.17.0")
    );
    let (event, log) = log_of(&items[0]);
    event.validate().unwrap();
    assert_eq!(event.service, "edge-proxy");
    assert_eq!(event.host.as_deref(), Some("edge-3"));
    assert_eq!(event.env.as_deref(), Some("prod"));
    assert_eq!(
        event.trace_id.as_deref(),
        Some("5b8efff798038103d269b633813fc60c")
    );
    assert_eq!(
        event.occurred_at,
        time::macros::datetime!(2026-03-01 12:00:00.25 UTC)
    );
    assert_eq!(log.severity, Severity::Warn);
    assert_eq!(log.severity_text.as_deref(), Some("WARNING"));
    assert_eq!(log.logger.as_deref(), Some("nginx.access"));
    assert_eq!(log.span_id.as_deref(), Some("eee19b7ec3c1b174"));
    assert_eq!(log.message, "GET /cart 502\nat upstream()");
    assert_eq!(
        log.attributes["http.response.status_code"],
        AttrValue::Int(502)
    );
    assert_eq!(
        log.attributes["tags"],
        AttrValue::Text("[\"a\",\"b\"]".into())
    );
    assert!(
        !log.attributes.contains_key("service.name"),
        "the envelope holds it"
    );
}

#[test]
fn a_document_with_the_envelope_is_that_event() {
    let body = br#"{"create":{}}
{"id":"019b76da-a80b-7c01-8a10-0f2b6d3e9a11","kind":"error","occurred_at":"2026-01-01T10:00:01Z","service":"checkout","payload":{"error_code":503,"error_type":"ServiceUnavailable","error_message":"pool exhausted","endpoint":"/api/checkout"}}
"#;
    let items = parse(body, Some("sightline"), now()).unwrap();
    let event = items[0].event.as_ref().unwrap();
    assert_eq!(event.kind, Kind::Error);
    assert_eq!(items[0].index, "sightline", "the path's index");
}

#[test]
fn bad_documents_are_named_and_the_rest_taken() {
    let body = b"{\"index\":{}}\n{\"message\":\"one\"}\n{\"index\":{}}\n[1]\n{\"delete\":{\"_id\":\"x\"}}\n{\"update\":{}}\n{\"doc\":{}}\n{\"index\":{}}\n{\"message\":\"two\"}\n";
    let items = parse(body, Some("app-logs-2026.03.01"), now()).unwrap();
    let summary: Vec<(&str, &str, Result<&str, &str>)> = items
        .iter()
        .map(|i| {
            (
                i.place.as_str(),
                i.action.as_str(),
                i.outcome.as_ref().map(|_| "ok").map_err(|e| e.kind),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("line 1", "index", Ok("ok")),
            ("line 3", "index", Err("document_parsing_exception")),
            ("line 5", "delete", Err("illegal_argument_exception")),
            ("line 6", "update", Err("illegal_argument_exception")),
            ("line 8", "index", Ok("ok")),
        ]
    );
    let (event, _) = log_of(&items[0]);
    assert_eq!(
        event.service, "app-logs",
        "named after the index, date aside"
    );
    assert_eq!(
        event.occurred_at,
        now(),
        "no @timestamp: the time of receipt"
    );
    let refused = HashMap::from([("line 8".to_owned(), "invalid event: why".to_owned())]);
    let answer = response(&items, &refused, 3);
    assert_eq!(answer["errors"], true);
    assert_eq!(answer["items"][0]["index"]["status"], 201);
    assert_eq!(answer["items"][0]["index"]["_index"], "app-logs-2026.03.01");
    assert_eq!(answer["items"][2]["delete"]["status"], 400);
    assert_eq!(answer["items"][4]["index"]["status"], 400);
    assert!(answer["items"][4]["index"]["error"]["reason"]
        .as_str()
        .unwrap()
        .starts_with("line 8: invalid event"));
    assert_eq!(
        parse(b"\n \n", None, now()).unwrap().len(),
        0,
        "an empty bulk holds nothing"
    );
}

#[test]
fn a_line_that_is_not_an_action_refuses_the_body() {
    for (body, says) in [
        (
            &b"{\"index\":{}}\n{\"message\":\"a\"}\nnot json\n"[..],
            "line 3: the action line is not JSON",
        ),
        (
            b"{}\n",
            "line 1: the action line must hold exactly one action",
        ),
        (b"{\"upsert\":{}}\n{}\n", "line 1: unknown action `upsert`"),
        (
            b"{\"index\":{}}\n",
            "line 1: the index action has no document",
        ),
    ] {
        let err = parse(body, None, now()).unwrap_err();
        assert!(err.starts_with(says), "{err}");
    }
}

#[test]
fn a_retried_body_gets_the_same_ids() {
    let body = b"{\"index\":{}}\n{\"message\":\"same\",\"@timestamp\":1772366400000}\n{\"index\":{}}\n{\"message\":\"same\",\"@timestamp\":1772366400000}\n";
    let ids =
        |items: Vec<Item>| -> Vec<_> { items.into_iter().map(|i| i.event.unwrap().id).collect() };
    let first = ids(parse(body, None, now()).unwrap());
    assert_eq!(first, ids(parse(body, None, now()).unwrap()));
    assert_ne!(first[0], first[1]);
    let again = parse(body, None, now()).unwrap();
    let (event, _) = log_of(&again[0]);
    assert_eq!(
        event.occurred_at.unix_timestamp(),
        1_772_366_400,
        "epoch millis"
    );
}
