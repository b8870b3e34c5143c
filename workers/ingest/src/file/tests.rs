use sightline_schemas::{Body, LogRecord, Severity, Validate};
use time::macros::{datetime, offset};

use super::*;

fn options(format: Format) -> Options {
    Options {
        format,
        service: "billing".into(),
        zone: offset!(+1),
        received: datetime!(2026-12-07 12:00 UTC),
    }
}

fn log(e: &Event) -> &LogRecord {
    match &e.payload {
        Body::Log(l) => l,
        other => panic!("{other:?}"),
    }
}

const PYTHON: &str = "2026-12-07 10:00:00,123 - app.ledger - INFO - invoice run started
2026-12-07 10:00:05,001 - app.ledger - ERROR - invoice 42 failed
Traceback (most recent call last):
  File \"/app/ledger.py\", line 88, in write
    raise Locked()
ledger.Locked: row 42
2026-12-07 10:00:09,500 - app.ledger - WARNING - retrying";

#[test]
fn a_python_log_keeps_its_traceback_with_its_line() {
    let found = records(PYTHON);
    assert_eq!(found.iter().map(|r| r.0).collect::<Vec<_>>(), [1, 2, 7]);
    let e = event(&found[1].1, &options(Format::Auto)).unwrap();
    e.validate().unwrap();
    assert_eq!(e.service, "billing");
    assert_eq!(
        e.occurred_at,
        datetime!(2026-12-07 09:00:05.001 UTC),
        "no zone: +01:00"
    );
    let l = log(&e);
    assert_eq!(l.severity, Severity::Error);
    assert_eq!(l.logger.as_deref(), Some("app.ledger"));
    assert!(
        l.message.starts_with("invoice 42 failed\nTraceback"),
        "{}",
        l.message
    );
    assert!(
        l.message.ends_with("ledger.Locked: row 42"),
        "the bare exception line continues it"
    );
    let warn = event(&found[2].1, &options(Format::Text)).unwrap();
    assert_eq!(log(&warn).severity, Severity::Warn);
}

#[test]
fn a_java_stack_trace_stays_with_its_line() {
    let text = "2026-12-07T10:00:00.5Z [main] ERROR com.shop.Checkout - payment failed
java.lang.IllegalStateException: card declined
\tat com.shop.Checkout.pay(Checkout.java:42)
Caused by: java.io.IOException: reset
\t... 3 more
2026-12-07T10:00:01Z [main] INFO com.shop.Checkout - next";
    let found = records(text);
    assert_eq!(found.len(), 2, "{found:?}");
    let e = event(&found[0].1, &options(Format::Auto)).unwrap();
    let l = log(&e);
    assert_eq!(l.severity, Severity::Error);
    assert_eq!(e.occurred_at, datetime!(2026-12-07 10:00:00.5 UTC));
    assert!(
        l.message
            .starts_with("com.shop.Checkout - payment failed\njava.lang"),
        "{}",
        l.message
    );
    assert!(l.message.contains("Caused by: java.io.IOException"));
}

#[test]
fn json_and_logfmt_lines_are_read_as_their_fields() {
    let json = event(
        r#"{"ts":"2026-12-07T10:00:00Z","level":"warn","msg":"slow query","duration_ms":812,"service.name":"db"}"#,
        &options(Format::Auto),
    )
    .unwrap();
    assert_eq!(json.service, "db");
    assert_eq!(log(&json).severity, Severity::Warn);
    assert_eq!(log(&json).message, "slow query");
    assert_eq!(log(&json).attributes["duration_ms"], AttrValue::Int(812));
    let logfmt = event(
        "ts=2026-12-07T10:00:00Z level=error msg=\"upstream \\\"x\\\" reset\" retry=true took=0.25",
        &options(Format::Auto),
    )
    .unwrap();
    assert_eq!(logfmt.service, "billing");
    let l = log(&logfmt);
    assert_eq!(
        (l.severity, l.message.as_str()),
        (Severity::Error, "upstream \"x\" reset")
    );
    assert_eq!(l.attributes["retry"], AttrValue::Bool(true));
    assert_eq!(l.attributes["took"], AttrValue::Float(0.25));
    assert!(event("not json", &options(Format::Json)).is_err());
    assert!(event("plain words", &options(Format::Logfmt)).is_err());
}

use sightline_schemas::AttrValue;

#[test]
fn an_access_log_line_is_a_request() {
    let line = r#"203.0.113.9 - frank [07/Dec/2026:10:55:36 +0100] "GET /cart?id=4 HTTP/1.1" 503 2326 "https://shop.example/" "Mozilla/5.0""#;
    assert_eq!(records(&format!("{line}\n{line}")).len(), 2);
    let e = event(line, &options(Format::Auto)).unwrap();
    e.validate().unwrap();
    assert_eq!(e.occurred_at, datetime!(2026-12-07 09:55:36 UTC));
    let l = log(&e);
    assert_eq!(l.severity, Severity::Error);
    assert_eq!(l.message, line);
    assert_eq!(
        l.attributes["http.response.status_code"],
        AttrValue::Int(503)
    );
    assert_eq!(
        l.attributes["url.path"],
        AttrValue::Text("/cart?id=4".into())
    );
    assert_eq!(
        l.attributes["user_agent.original"],
        AttrValue::Text("Mozilla/5.0".into())
    );
}

#[test]
fn syslog_times_levels_alone_and_bare_lines() {
    let e = event("Dec  7 10:00:00 disk almost full", &options(Format::Text)).unwrap();
    assert_eq!(e.occurred_at, datetime!(2026-12-07 09:00:00 UTC));
    let e = event("[WARN] cache miss storm", &options(Format::Text)).unwrap();
    assert_eq!(
        (log(&e).severity, log(&e).message.as_str()),
        (Severity::Warn, "cache miss storm")
    );
    assert_eq!(
        e.occurred_at,
        datetime!(2026-12-07 12:00 UTC),
        "no time: when it was read"
    );
    let bare = records("first line\nsecond line\n  indented goes with it\n");
    assert_eq!(bare.len(), 2, "{bare:?}");
    let e = event("a line about 4111 1111 1111 1111", &options(Format::Auto)).unwrap();
    assert_eq!(log(&e).severity, Severity::Info);
}
