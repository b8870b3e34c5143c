//! The query language's cases: the same `q` gives the same hits on every
//! backend, attributes are fields, and hits carry the whole event.

use sightline_schemas::{AttrValue, Body, Event, LogRecord, Severity, Uuid};
use sightline_search::lang::matcher::Matcher;
use sightline_search::query::{DocKind, Filters, SearchRequest};
use sightline_search::store::{SearchStore, Sequenced, Source};
use sightline_search::SearchError;
use time::Duration;

use super::{ids, not_bench, pii, request, sequenced, CARD, T0};

async fn hits<S: SearchStore>(s: &S, q: &str) -> Vec<u32> {
    let r = s
        .search(&request(Some(q), not_bench()))
        .await
        .unwrap_or_else(|e| panic!("{q}: {e}"));
    assert_eq!(r.total as usize, r.hits.len(), "{q}: one page holds all");
    ids(&r)
}

pub async fn query_language_fields_booleans_and_ranges<S: SearchStore>(s: &S) {
    for (q, expected) in [
        ("kind:error AND service:checkout", &[6, 4][..]),
        ("kind:error AND NOT service:checkout", &[5]),
        ("kind:error -service:checkout", &[5]),
        ("service:catalog OR service:auth", &[9, 12, 11, 7]),
        (
            "(service:catalog OR service:auth) AND kind:performance",
            &[9, 7],
        ),
        ("response_time_ms:>400", &[10, 8]),
        ("status_code:[500 TO 599]", &[10]),
        ("error_code:503 AND \"connection pool\"", &[4]),
        ("\"pool exhausted\"", &[4]),
        ("\"exhausted pool\"", &[]),
        ("endpoint:/api/c*", &[6, 8, 5, 4]),
        ("endpoint:/api/?art", &[5]),
        ("_exists_:user_id AND kind:error", &[4]),
        (
            "occurred_at:[2026-01-01T10:00:02Z TO 2026-01-01T10:00:04Z]",
            &[5, 4, 3],
        ),
        ("amount:[60 TO *]", &[3, 1]),
        ("message:datab*", &[6, 4]),
        ("host:catalog-1", &[9, 7]),
        ("_exists_:host", &[9, 7]),
        ("currency:USD", &[3]),
        ("currency:usd", &[]),
        ("database inventory", &[6]),
    ] {
        assert_eq!(hits(s, q).await, expected, "{q}");
        assert_eq!(in_memory(q), expected, "{q}: live tail's matcher");
    }
}

/// What live tail's in-memory matcher finds among the fixture's first twelve
/// events, newest first: it must agree with the backends.
fn in_memory(q: &str) -> Vec<u32> {
    let matcher = Matcher::new(&sightline_search::lang::parse(q).unwrap()).unwrap();
    let mut found: Vec<_> = super::documents()
        .into_iter()
        .filter(|d| d.occurred_at_ns < super::fixture::nanos(T0 + Duration::seconds(3600)))
        .filter(|d| matcher.matches(d))
        .collect();
    found.sort_by_key(|d| std::cmp::Reverse((d.occurred_at_ns, d.tiebreak)));
    found
        .iter()
        .map(|d| {
            let n = Uuid::parse_str(&d.id).unwrap().as_u128() & 0xffff_ffff_ffff;
            format!("{n:x}").parse().unwrap()
        })
        .collect()
}

pub async fn query_syntax_and_field_errors_are_invalid<S: SearchStore>(s: &S) {
    for (q, says) in [
        ("kind:(error", "at 5"),
        ("service:", "needs a value"),
        ("colour:red", "unknown field `colour`"),
        ("status_code:abc", "whole numbers"),
        ("\"never closed", "at 0"),
        ("trace_id:4bf9*", "`trace_id` cannot be matched by a prefix"),
    ] {
        match s.search(&request(Some(q), Filters::default())).await {
            Err(SearchError::Invalid(m)) => assert!(m.contains(says), "{q}: {m}"),
            other => panic!("{q}: {other:?}"),
        }
    }
}

fn log_event(n: u32, attributes: &[(&str, AttrValue)]) -> Event {
    let mut r = LogRecord::new(Severity::Info, &format!("request {n} served"));
    for (name, value) in attributes {
        r.attributes.insert((*name).into(), value.clone());
    }
    let at = T0 + Duration::hours(3) + Duration::seconds(n.into());
    let mut e = Event::at(at, "edge", Body::Log(r));
    e.id = Uuid::parse_str(&format!("01900000-0000-7000-8000-{:012}", 6000 + n)).unwrap();
    e
}

pub async fn attributes_are_fields_and_hits_carry_the_whole_event<S: SearchStore>(s: &S) {
    let text = |t: &str| AttrValue::Text(t.into());
    let events = [
        log_event(
            1,
            &[
                ("http.status", AttrValue::Int(500)),
                ("user", text("alice")),
                ("client.address", text("198.51.100.7")),
                ("retry", AttrValue::Bool(true)),
            ],
        ),
        log_event(
            2,
            &[
                ("http.status", AttrValue::Float(200.0)),
                ("user", text("bob")),
                ("http", text("1.1")),
            ],
        ),
        // The same name holding text where others hold numbers.
        log_event(3, &[("http.status", text("n/a"))]),
        // A fraction among whole numbers.
        log_event(4, &[("http.status", AttrValue::Float(199.5))]),
    ];
    let mut events = events;
    events[0].trace_id = Some("4bf92f3577b34da6a3ce929d0e0e4736".into());
    let top = sequenced().iter().map(|d| d.seq).max().unwrap();
    let docs = events
        .iter()
        .zip(top + 1..)
        .map(|(e, seq)| Sequenced {
            seq,
            doc: sightline_search::document::SearchDoc::from_event(e, &pii()),
        })
        .collect();
    s.index(Source::Logs, docs).await.unwrap();
    let logs = || Filters {
        kinds: vec![DocKind::Log],
        ..Filters::default()
    };
    let find = |q: &'static str| {
        let r = request(Some(q), logs());
        async move { ids(&s.search(&r).await.unwrap_or_else(|e| panic!("{q}: {e}"))) }
    };
    assert_eq!(find("attributes.http.status:500").await, [6001]);
    assert_eq!(find("attributes.http.status:>=200").await, [6002, 6001]);
    assert_eq!(find("attributes.http.status:<200.5").await, [6004, 6002]);
    assert_eq!(find("attributes.http.status:199.5").await, [6004]);
    assert_eq!(find("attributes.http.status:\"n/a\"").await, [6003]);
    assert_eq!(find("attributes.user:al*").await, [6001]);
    assert_eq!(find("attributes.user:?ob").await, [6002]);
    assert_eq!(find("_exists_:attributes.user").await, [6002, 6001]);
    assert_eq!(find("attributes.retry:true").await, [6001]);
    assert_eq!(find("attributes.http:1.1").await, [6002]);
    assert_eq!(find("NOT attributes.user:alice").await, [6004, 6003, 6002]);
    assert_eq!(
        find("trace_id:4bf92f3577b34da6a3ce929d0e0e4736").await,
        [6001]
    );
    assert_eq!(find("_exists_:trace_id").await, [6001]);
    assert!(find("trace_id:4bf92f3577b34da6a3ce929d0e0e4737")
        .await
        .is_empty());

    // Attributes' text values are aggregatable.
    let aggs = sightline_search::query::AggRequest {
        query: SearchRequest {
            filters: logs(),
            ..SearchRequest::default()
        },
        aggs: std::collections::BTreeMap::from([(
            "users".to_owned(),
            sightline_search::query::Agg::AttributeTerms {
                attribute: "user".into(),
                size: 10,
            },
        )]),
    };
    match &s.aggregate(&aggs).await.unwrap()["users"] {
        sightline_search::query::AggResult::Buckets(b) => {
            let got: Vec<(&str, u64)> = b.iter().map(|b| (b.key.as_str(), b.count)).collect();
            assert_eq!(got, [("alice", 1), ("bob", 1)]);
        }
        other => panic!("{other:?}"),
    }

    // An address in an attribute is kept as the reference `ip=` looks up.
    let by_ip = SearchRequest {
        filters: Filters {
            ip_ref: Some(pii().reference("ip", "198.51.100.7")),
            ..logs()
        },
        size: 10,
        ..SearchRequest::default()
    };
    let r = s.search(&by_ip).await.unwrap();
    assert_eq!(ids(&r), [6001]);
    let event = &r.hits[0].event;
    assert_eq!(event["id"], r.hits[0].id.to_string());
    assert_eq!(event["payload"]["attributes"]["user"], "alice");
    assert_eq!(event["payload"]["attributes"]["http.status"], 500);
    assert_eq!(
        event["payload"]["attributes"]["client.address"],
        pii().reference("ip", "198.51.100.7")
    );
    assert!(!event.to_string().contains("198.51.100.7"), "{event}");

    // A payment shows every field, its card and IP only as references.
    let r = s
        .search(&request(
            Some("kind:transaction AND amount:250"),
            not_bench(),
        ))
        .await
        .unwrap();
    assert_eq!(ids(&r), [3]);
    let payment = &r.hits[0].event;
    assert_eq!(payment["payload"]["transaction_id"], "tx-u2-250");
    assert_eq!(
        payment["payload"]["card_ref"],
        pii().reference("card", CARD)
    );
    assert_eq!(
        payment["payload"]["ip_ref"],
        pii().reference("ip", "203.0.113.9")
    );
    let shown = payment.to_string();
    assert!(
        !shown.contains(CARD) && !shown.contains("203.0.113.9"),
        "{shown}"
    );
}
