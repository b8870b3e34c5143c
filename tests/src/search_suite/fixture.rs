//! The fixture: twelve events in two minutes with hand-checked expectations, then
//! 200 timings of 1..=200 ms on /api/bench for the percentile cases.

use sightline_schemas::{
    Body, Decimal, ErrorEvent, Event, Performance, Security, Transaction, TxStatus, UserBehavior,
    Uuid,
};
use sightline_search::document::{PiiHasher, SearchDoc};
use sightline_search::store::Sequenced;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

pub const T0: OffsetDateTime = datetime!(2026-01-01 10:00 UTC);
pub const CARD: &str = "fp_secret_card_token_77";

fn at(secs: i64, n: u32, service: &str, body: Body) -> Event {
    let mut e = Event::at(T0 + Duration::seconds(secs), service, body);
    // Fixed ids: id n sorts after id n-1, like UUIDv7s minted in order.
    e.id = Uuid::parse_str(&format!("01900000-0000-7000-8000-{n:012}")).expect("valid uuid");
    e
}

fn tx(user: &str, amount: i64, currency: &str, method: &str, status: TxStatus) -> Body {
    Body::Transaction(Transaction {
        transaction_id: format!("tx-{user}-{amount}"),
        user_id: user.into(),
        amount: Decimal::new(amount * 100, 2),
        currency: currency.into(),
        payment_method: method.into(),
        status,
        order_id: None,
        ip: Some("203.0.113.9".parse().expect("ip")),
        country: Some("DE".into()),
        billing_country: Some("DE".into()),
        lat: None,
        lon: None,
        card_fingerprint: Some(CARD.into()),
        failure_reason: (status == TxStatus::Failed).then(|| "insufficient_funds".into()),
    })
}

fn err(code: u16, kind: &str, message: &str, endpoint: &str, user: Option<&str>) -> Body {
    Body::Error(ErrorEvent {
        error_code: code,
        error_type: kind.into(),
        error_message: message.into(),
        endpoint: endpoint.into(),
        stack: None,
        user_id: user.map(Into::into),
    })
}

fn perf(method: &str, endpoint: &str, status: u16, ms: f64) -> Body {
    Body::Performance(Performance {
        endpoint: endpoint.into(),
        method: method.into(),
        response_time_ms: ms,
        db_query_time_ms: None,
        status_code: status,
    })
}

/// Twelve events in two minutes, then 200 timings of 1..=200 ms on /api/bench.
pub fn fixture() -> Vec<Event> {
    let mut events = vec![
        at(
            0,
            1,
            "payments",
            tx("u1", 100, "EUR", "card", TxStatus::Completed),
        ),
        at(
            1,
            2,
            "payments",
            tx("u1", 50, "EUR", "card", TxStatus::Failed),
        ),
        at(
            2,
            3,
            "payments",
            tx("u2", 250, "USD", "paypal", TxStatus::Completed),
        ),
        at(
            3,
            4,
            "checkout",
            err(
                503,
                "ServiceUnavailable",
                "database connection pool exhausted",
                "/api/checkout",
                Some("u1"),
            ),
        ),
        at(
            4,
            5,
            "cart",
            err(
                500,
                "InternalServerError",
                "unexpected null pointer in cart service",
                "/api/cart",
                None,
            ),
        ),
        at(
            61,
            6,
            "checkout",
            err(
                503,
                "ServiceUnavailable",
                "database timeout while reserving inventory",
                "/api/checkout",
                None,
            ),
        ),
        at(5, 7, "catalog", perf("GET", "/api/products", 200, 120.0)),
        at(6, 8, "checkout", perf("POST", "/api/checkout", 200, 480.0)),
        at(62, 9, "catalog", perf("GET", "/api/products", 200, 80.0)),
        at(63, 10, "search", perf("GET", "/api/search", 500, 2000.0)),
        at(
            7,
            11,
            "catalog",
            Body::UserBehavior(UserBehavior {
                user_id: "u1".into(),
                session_id: "s1".into(),
                action: "add_to_cart".into(),
                page: "/products/42".into(),
                ip: None,
                user_agent: None,
                product_id: Some("p42".into()),
            }),
        ),
        at(
            8,
            12,
            "auth",
            Body::Security(Security {
                action: "login_failure".into(),
                user_id: Some("u3".into()),
                ip: None,
                country: Some("NG".into()),
                reason: Some("wrong_password".into()),
                session_id: None,
                user_agent: None,
            }),
        ),
    ];
    // The catalog's timings come from one host.
    for e in events.iter_mut() {
        if e.service == "catalog" && matches!(e.payload, Body::Performance(_)) {
            e.host = Some("catalog-1".into());
        }
    }
    for i in 1..=200u32 {
        events.push(at(
            3600 + i64::from(i),
            1000 + i,
            "bench",
            perf("GET", "/api/bench", 200, f64::from(i)),
        ));
    }
    events
}

pub fn pii() -> PiiHasher {
    PiiHasher::new([7; 32])
}

pub fn documents() -> Vec<SearchDoc> {
    fixture()
        .iter()
        .map(|e| SearchDoc::from_event(e, &pii()))
        .collect()
}

/// The fixture as stream entries, sequence 1 first.
pub fn sequenced() -> Vec<Sequenced> {
    documents()
        .into_iter()
        .zip(1..)
        .map(|(doc, seq)| Sequenced { seq, doc })
        .collect()
}

/// Fraud detections as FRAUD stream entries: `a` scored 40, then `b` 90, then a
/// revision of `a` to 85 once a burst showed up.
pub fn detections() -> Vec<Sequenced> {
    let detection = |n: u32, revision: u32, score: u8, indicator: &str| {
        let d = sightline_schemas::Detection {
            id: Uuid::parse_str(&format!("0190d000-0000-5000-8000-{n:012}")).expect("uuid"),
            revision,
            rules_version: "test".into(),
            event_id: Uuid::nil(),
            transaction_id: format!("tx-{n}"),
            user_id: format!("u-fraud-{n}"),
            service: "checkout".into(),
            amount: Decimal::new(25_000, 2),
            currency: "EUR".into(),
            status: TxStatus::Completed,
            payment_method: "card".into(),
            country: Some("FR".into()),
            ip: None,
            ip_ref: None,
            score,
            indicators: vec![sightline_schemas::Indicator {
                name: indicator.into(),
                weight: score,
                reason: format!("{indicator} seen"),
            }],
            typologies: Vec::new(),
            verdict: None,
            occurred_at: T0 + Duration::seconds(100 + i64::from(n)),
            detected_at: T0 + Duration::seconds(100 + i64::from(n)),
        };
        SearchDoc::from_detection(&d, &pii())
    };
    vec![
        detection(1, 0, 40, "high_amount"),
        detection(2, 0, 90, "impossible_travel"),
        detection(1, 1, 85, "velocity"),
    ]
    .into_iter()
    .zip(1..)
    .map(|(doc, seq)| Sequenced { seq, doc })
    .collect()
}

/// An instant as the documents' nanoseconds.
pub fn nanos(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos()).expect("in range")
}
