use sightline_schemas::Validate;
use time::macros::{datetime, offset};

use super::*;

fn received() -> OffsetDateTime {
    datetime!(2026-12-07 11:00:30 UTC)
}

fn log(event: &Event) -> &LogRecord {
    match &event.payload {
        Body::Log(l) => l,
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_rfc5424_message_keeps_every_field() {
    // The example of RFC 5424 §6.5, with structured data and a BOM.
    let line = "<165>1 2026-12-07T10:14:15.003Z mymachine.example.com evntslog 1234 ID47 [exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"][examplePriority@32473 class=\"high \\\"x\\\"\"] \u{feff}An application event log entry...";
    let e = event(line.as_bytes(), received(), UtcOffset::UTC);
    e.validate().unwrap();
    assert_eq!(e.service, "evntslog");
    assert_eq!(e.host.as_deref(), Some("mymachine.example.com"));
    assert_eq!(e.occurred_at, datetime!(2026-12-07 10:14:15.003 UTC));
    let l = log(&e);
    assert_eq!((l.severity, l.severity_number), (Severity::Info, Some(10)));
    assert_eq!(l.severity_text.as_deref(), Some("notice"));
    assert_eq!(l.message, "An application event log entry...");
    let attr = |k: &str| l.attributes.get(k).cloned();
    assert_eq!(
        attr("syslog.facility"),
        Some(AttrValue::Text("local4".into()))
    );
    assert_eq!(attr("syslog.procid"), Some(AttrValue::Text("1234".into())));
    assert_eq!(attr("syslog.msgid"), Some(AttrValue::Text("ID47".into())));
    assert_eq!(
        attr("examplesdid_32473.eventid"),
        Some(AttrValue::Text("1011".into()))
    );
    assert_eq!(attr("exampleprioritysdid_32473.class"), None);
    assert_eq!(
        attr("examplepriority_32473.class"),
        Some(AttrValue::Text("high \"x\"".into()))
    );
}

#[test]
fn nil_fields_and_no_structured_data_are_nothing() {
    let e = event(b"<11>1 - - - - - - disk failed", received(), UtcOffset::UTC);
    assert_eq!(e.service, DEFAULT_SERVICE);
    assert_eq!(e.host, None);
    assert_eq!(e.occurred_at, received());
    let l = log(&e);
    assert_eq!(
        (l.severity, l.message.as_str()),
        (Severity::Error, "disk failed")
    );
    assert_eq!(
        l.attributes.len(),
        1,
        "the facility only: {:?}",
        l.attributes
    );
}

#[test]
fn an_rfc3164_message_gets_a_year_and_a_zone() {
    let e = event(
        b"<34>Dec  7 12:01:02 web-1 sshd[4242]: Failed password for root from 10.0.0.9",
        received(),
        offset!(+1),
    );
    e.validate().unwrap();
    assert_eq!(e.service, "sshd");
    assert_eq!(e.host.as_deref(), Some("web-1"));
    assert_eq!(e.occurred_at, datetime!(2026-12-07 11:01:02 UTC));
    let l = log(&e);
    assert_eq!(l.severity, Severity::Fatal, "crit");
    assert_eq!(l.message, "Failed password for root from 10.0.0.9");
    assert_eq!(
        l.attributes["syslog.facility"],
        AttrValue::Text("auth".into())
    );
    assert_eq!(
        l.attributes["syslog.procid"],
        AttrValue::Text("4242".into())
    );
    // A December message read in January is last year's.
    let january = datetime!(2027-01-01 00:00:10 UTC);
    let late = event(b"<13>Dec 31 23:59:59 h app: bye", january, UtcOffset::UTC);
    assert_eq!(late.occurred_at, datetime!(2026-12-31 23:59:59 UTC));
}

#[test]
fn what_follows_no_rfc_is_kept_whole() {
    for (line, message) in [
        (&b"just some text"[..], "just some text"),
        (b"<999>1 not a priority", "<999>1 not a priority"),
        (b"<14>Dec 7 bad time host x: y", "Dec 7 bad time host x: y"),
        (
            b"<14>1 2026-12-07T10:00:00Z h a p m [broken sd",
            "1 2026-12-07T10:00:00Z h a p m [broken sd",
        ),
        (
            b"\xff\xfe garbage \x00 bytes",
            "\u{fffd}\u{fffd} garbage   bytes",
        ),
    ] {
        let e = event(line, received(), UtcOffset::UTC);
        e.validate().unwrap();
        assert_eq!(e.service, DEFAULT_SERVICE, "{message}");
        assert_eq!(log(&e).message, message.trim_end());
        assert_eq!(e.occurred_at, received());
    }
}

#[test]
fn tcp_frames_split_by_octet_counting_and_by_newlines() {
    let mut f = Framer::new();
    assert!(
        f.push(b"11 <13>1 - - ").is_empty(),
        "an incomplete frame waits"
    );
    let got = f.push(b"x\n<13>hello\n<14>wor");
    assert_eq!(got, [b"<13>1 - - x".to_vec(), b"<13>hello".to_vec()]);
    assert_eq!(f.push(b"ld\r\n"), [b"<14>world\r".to_vec()]);
    assert!(f.push(b"<15>tail").is_empty());
    assert_eq!(f.finish(), Some(b"<15>tail".to_vec()));
    let mut endless = Framer::new();
    let frames = endless.push(&vec![b'a'; frame::MAX_FRAME + 10]);
    assert_eq!(frames.len(), 1, "a frame is cut at the bound");
    assert_eq!(frames[0].len(), frame::MAX_FRAME);
}
