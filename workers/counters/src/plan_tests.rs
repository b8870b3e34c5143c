use std::collections::BTreeMap;

use sightline_runtime::config::CountersSettings;
use sightline_schemas::{Body, ErrorEvent, Performance, Transaction, TxStatus, UserBehavior};
use time::macros::datetime;
use time::OffsetDateTime;

use super::*;

const T0: OffsetDateTime = datetime!(2026-11-21 10:00:00 UTC);

fn layout(shards: u16) -> Layout {
    Layout::new(&CountersSettings {
        shards,
        ..CountersSettings::default()
    })
    .unwrap()
}

fn payment(at: OffsetDateTime, amount: &str, currency: &str, status: TxStatus) -> Event {
    Event::at(
        at,
        "checkout",
        Body::Transaction(Transaction {
            transaction_id: "tx".into(),
            user_id: "u1".into(),
            amount: amount.parse().unwrap(),
            currency: currency.into(),
            payment_method: "card".into(),
            status,
            order_id: None,
            ip: None,
            country: None,
            billing_country: None,
            lat: None,
            lon: None,
            card_fingerprint: None,
            failure_reason: None,
        }),
    )
}

fn request(at: OffsetDateTime, endpoint: &str, ms: f64, status_code: u16) -> Event {
    Event::at(
        at,
        "api",
        Body::Performance(Performance {
            endpoint: endpoint.into(),
            method: "GET".into(),
            response_time_ms: ms,
            db_query_time_ms: Some(ms / 2.0),
            status_code,
        }),
    )
}

/// Every key's hash increments, merged across shards: key -> field -> n.
fn increments(shards: &[ShardWrite]) -> BTreeMap<String, BTreeMap<String, i64>> {
    let mut out = BTreeMap::new();
    for w in shards.iter().flat_map(|s| &s.keys) {
        if let Op::Incr(fields) = &w.op {
            out.insert(w.key.clone(), fields.iter().cloned().collect());
        }
    }
    out
}

fn plan(layout: &Layout, now: OffsetDateTime, events: &[Event]) -> Vec<ShardWrite> {
    let mut p = Planner::new(layout, now.unix_timestamp());
    for e in events {
        p.add_event(e, None);
    }
    p.finish()
}

#[test]
fn events_count_in_their_second_minute_and_hour() {
    let l = layout(1);
    let events = [
        payment(T0, "10.50", "EUR", TxStatus::Completed),
        payment(
            T0 + time::Duration::seconds(1),
            "2.25",
            "EUR",
            TxStatus::Failed,
        ),
        request(T0 + time::Duration::seconds(1), "/api/cart", 120.0, 503),
    ];
    let keys = increments(&plan(&l, T0, &events));
    let t = T0.unix_timestamp();
    let second = &keys[&l.key(Family::Counts, 1, t + 1)];
    assert_eq!(second["total"], 2);
    assert_eq!(second["kind=transaction"], 1);
    assert_eq!(second["kind=performance"], 1);
    assert_eq!(second["status=failed"], 1);
    assert_eq!(second["service=api,status_class=5xx"], 1);
    assert_eq!(second["endpoint=/api/cart,status_class=5xx"], 1);
    let minute = &keys[&l.key(Family::Counts, 60, t)];
    assert_eq!(minute["total"], 3);
    assert_eq!(minute["payment_method=card"], 2);
    assert_eq!(minute["payment_method=card,status=completed"], 1);
    assert_eq!(minute["service=checkout,kind=transaction"], 2);
    assert_eq!(keys[&l.key(Family::Counts, 3600, t)]["total"], 3);
    let revenue = &keys[&l.key(Family::Revenue, 60, t)];
    assert_eq!(revenue["status=completed,currency=EUR"], 105_000);
    assert_eq!(revenue["status=failed,currency=EUR"], 22_500);
    let latency = &keys[&l.key(Family::Latency, 1, t + 1)];
    let slow = latency::bucket_of(120.0);
    assert_eq!(latency[&format!("/api/cart#{slow}")], 1);
    assert_eq!(latency[&format!("all#{slow}")], 1);
    assert_eq!(latency[&format!("db#{}", latency::bucket_of(60.0))], 1);
}

#[test]
fn buckets_past_their_retention_are_not_written() {
    let l = layout(1);
    let old = T0 - time::Duration::hours(3);
    let keys = increments(&plan(
        &l,
        T0,
        &[payment(old, "1", "EUR", TxStatus::Completed)],
    ));
    let t = old.unix_timestamp();
    assert!(
        !keys.contains_key(&l.key(Family::Counts, 1, t)),
        "1 s buckets live 1 h"
    );
    assert_eq!(keys[&l.key(Family::Counts, 60, t)]["total"], 1);
    assert_eq!(keys[&l.key(Family::Counts, 3600, t)]["total"], 1);
}

#[test]
fn keys_expire_after_their_bucket_plus_retention() {
    let l = layout(2);
    let shards = plan(&l, T0, &[payment(T0, "1", "EUR", TxStatus::Completed)]);
    let t = T0.unix_timestamp();
    let find = |key: String| {
        shards
            .iter()
            .flat_map(|s| &s.keys)
            .find(|w| w.key == key)
            .unwrap()
            .expire_at
    };
    assert_eq!(find(l.key(Family::Counts, 1, t)), t + 1 + 3600);
    assert_eq!(find(l.key(Family::Counts, 60, t)), t + 60 + 48 * 3600);
    assert_eq!(find(l.key(Family::Users, 3600, t)), t + 3600 + 90 * 86_400);
}

#[test]
fn each_key_goes_to_the_shard_its_tag_names() {
    let l = layout(4);
    let events: Vec<Event> = (0..200)
        .map(|i| request(T0 + time::Duration::seconds(i), "/api/x", 5.0, 200))
        .collect();
    let shards = plan(&l, T0, &events);
    assert_eq!(shards.len(), 4);
    for (shard, write) in shards.iter().enumerate() {
        assert!(!write.keys.is_empty(), "shard {shard} has writes");
        for w in &write.keys {
            assert!(
                w.key.contains(&format!(":{{{shard}}}:")),
                "{} in {shard}",
                w.key
            );
        }
    }
    let total: i64 = increments(&shards)
        .iter()
        .filter(|(k, _)| k.contains(":c:1:"))
        .map(|(_, f)| f["total"])
        .sum();
    assert_eq!(total, 200);
}

#[test]
fn users_are_sketched_once_per_hour() {
    let l = layout(1);
    let visit = |user: &str, at| {
        Event::at(
            at,
            "web",
            Body::UserBehavior(UserBehavior {
                user_id: user.into(),
                session_id: "s".into(),
                action: "view".into(),
                page: "/".into(),
                ip: None,
                user_agent: None,
                product_id: None,
            }),
        )
    };
    let shards = plan(
        &l,
        T0,
        &[
            visit("a", T0),
            visit("b", T0),
            visit("a", T0),
            visit("c", T0 + time::Duration::hours(1)),
        ],
    );
    let sketches: Vec<&KeyWrite> = shards
        .iter()
        .flat_map(|s| &s.keys)
        .filter(|w| matches!(w.op, Op::Add(_)))
        .collect();
    assert_eq!(sketches.len(), 2);
    assert_eq!(sketches[0].op, Op::Add(vec!["a".into(), "b".into()]));
    assert_eq!(sketches[1].op, Op::Add(vec!["c".into()]));
}

#[test]
fn separators_in_values_cannot_forge_a_selector() {
    let l = layout(1);
    let error = Event::at(
        T0,
        "api",
        Body::Error(ErrorEvent {
            error_code: 500,
            error_type: "db,kind=fake error".into(),
            error_message: "boom".into(),
            endpoint: "/a#1".into(),
            stack: None,
            user_id: None,
        }),
    );
    let keys = increments(&plan(&l, T0, &[error]));
    let second = &keys[&l.key(Family::Counts, 1, T0.unix_timestamp())];
    assert_eq!(second["error_type=db_kind_fake_error"], 1);
    assert_eq!(second["endpoint=/a_1,kind=error"], 1);
    assert_eq!(second["error_code=500"], 1);
    assert!(!second.contains_key("kind=fake"));
}

#[test]
fn revenue_is_exact_in_ten_thousandths() {
    assert_eq!(scaled("0.0001".parse().unwrap()), 1);
    assert_eq!(scaled("129.99".parse().unwrap()), 1_299_900);
    assert_eq!(scaled("0.00005".parse().unwrap()), 0, "banker's rounding");
}

#[test]
fn values_are_cleaned_alike_on_the_plain_and_the_general_path() {
    let clean = |v: &str| {
        let mut buf = String::new();
        push_clean(&mut buf, v);
        buf
    };
    // Plain ASCII words are copied whole.
    assert_eq!(clean("card_visa/eu-1"), "card_visa/eu-1");
    // Separators, whitespace and control characters become `_`, ASCII or not.
    assert_eq!(clean("a,b=c#d:e f\tg\u{7}"), "a_b_c_d_e_f_g_");
    assert_eq!(
        clean("Zahlung fehlgeschlagen: Kärtchen"),
        "Zahlung_fehlgeschlagen__Kärtchen"
    );
    // Cut at 100 characters, not bytes.
    assert_eq!(clean(&"x".repeat(150)), "x".repeat(100));
    assert_eq!(clean(&"ä".repeat(150)), "ä".repeat(100));
    assert_eq!(clean(&"y".repeat(100)), "y".repeat(100));
}

fn detection(tx: &str, revision: u32, indicators: &[&str]) -> Detection {
    Detection {
        id: Detection::id_for(tx, "v1"),
        revision,
        rules_version: "v1".into(),
        event_id: sightline_schemas::Uuid::nil(),
        transaction_id: tx.into(),
        user_id: "u1".into(),
        service: "payments".into(),
        amount: "10".parse().unwrap(),
        currency: "EUR".into(),
        status: TxStatus::Completed,
        payment_method: "card".into(),
        country: None,
        ip: None,
        ip_ref: None,
        score: 80,
        indicators: indicators
            .iter()
            .map(|name| sightline_schemas::Indicator {
                name: (*name).into(),
                weight: 40,
                reason: String::new(),
            })
            .collect(),
        typologies: Vec::new(),
        verdict: None,
        occurred_at: T0,
        detected_at: T0,
    }
}

#[test]
fn a_detection_first_seen_at_a_later_revision_is_counted_once_by_its_id() {
    let l = layout(4);
    let mut p = Planner::new(&l, T0.unix_timestamp());
    p.add_detection(&detection("tx-1", 1, &["velocity"]));
    let writes = p.finish();
    assert!(
        increments(&writes).is_empty(),
        "detections never count blindly"
    );
    let id = Detection::id_for("tx-1", "v1").simple().to_string();
    for step in l.steps() {
        let start = step.bucket(T0.unix_timestamp());
        let shard = l.shard(Family::Counts, step.secs, start);
        let w = writes[usize::from(shard)]
            .keys
            .iter()
            .find(|w| w.key == l.key(Family::Counts, step.secs, start))
            .expect("a write to the counts bucket");
        let Op::Once { seen, fields } = &w.op else {
            panic!("{:?}", w.op);
        };
        // The set that guards the hash lives on the hash's shard.
        assert_eq!(seen, &l.key(Family::Seen, step.secs, start));
        assert!(seen.contains(&format!("{{{shard}}}")));
        let fields: Vec<(&str, &str)> = fields
            .iter()
            .map(|(m, f)| (m.as_str(), f.as_str()))
            .collect();
        assert_eq!(
            fields,
            [
                (format!("{id}#1").as_str(), "fraud=revision"),
                (
                    format!("{id}/fraud_indicator=velocity").as_str(),
                    "fraud_indicator=velocity"
                ),
                (id.as_str(), "fraud=detection"),
            ]
        );
    }
}

#[test]
fn events_count_under_their_pattern_by_service_and_log_severity() {
    use sightline_schemas::{LogRecord, Severity};
    let l = layout(1);
    let log = |service: &str, severity| {
        Event::at(
            T0,
            service,
            Body::Log(LogRecord::new(severity, "connection reset")),
        )
    };
    let events = [
        (log("api", Severity::Error), Some("p1")),
        (log("api", Severity::Error), Some("p1")),
        (log("worker", Severity::Warn), Some("p1")),
        (request(T0, "/api/cart", 12.0, 200), Some("p2")),
        (request(T0, "/api/cart", 14.0, 200), None),
    ];
    let mut p = Planner::new(&l, T0.unix_timestamp());
    for (e, pattern) in &events {
        p.add_event(e, *pattern);
    }
    let keys = increments(&p.finish());
    let second = &keys[&l.key(Family::Counts, 1, T0.unix_timestamp())];
    assert_eq!(second["pattern=p1"], 3);
    assert_eq!(second["service=api,pattern=p1"], 2);
    assert_eq!(second["service=worker,pattern=p1"], 1);
    assert_eq!(second["service=api,severity=error,pattern=p1"], 2);
    assert_eq!(second["service=worker,severity=warn,pattern=p1"], 1);
    // Severity is a log record's; a request has none.
    assert_eq!(second["pattern=p2"], 1);
    assert_eq!(second["service=api,pattern=p2"], 1);
    let p2_fields = second.keys().filter(|f| f.contains("pattern=p2")).count();
    assert_eq!(p2_fields, 2);
    assert_eq!(
        second["total"], 5,
        "an event without a pattern still counts"
    );
}
