//! Analytics and performance, answered from the counters.

use std::collections::{BTreeMap, BTreeSet};

use sightline_schemas::{Body, Decimal, Event, Kind};
use sightline_tests::api::ApiStack;

use super::{count_where, u, EVENTS};

/// Checks every analytics and performance route against what `events` say.
pub async fn check(api: &ApiStack, events: &[Event], last: u64) {
    let stats = api.get_after("/api/logs/stats?window=1h", last).await;
    assert_eq!(stats.status, 200, "{}", stats.text);
    assert_eq!(u(&stats.json["total"]), EVENTS as u64);
    for kind in Kind::ALL {
        assert_eq!(
            stats.json["by_kind"][kind.as_str()].as_u64().unwrap_or(0),
            count_where(events, |e| e.kind == kind),
            "{kind:?}"
        );
    }
    let mut by_status: BTreeMap<&str, u64> = BTreeMap::new();
    let mut revenue: BTreeMap<String, Decimal> = BTreeMap::new();
    let mut actions: BTreeMap<String, u64> = BTreeMap::new();
    let (mut perf, mut db, mut slow) = (0u64, 0u64, 0u64);
    let mut endpoints = BTreeSet::new();
    for e in events {
        match &e.payload {
            Body::Transaction(t) => {
                *by_status.entry(t.status.as_str()).or_default() += 1;
                if t.status.as_str() == "completed" {
                    *revenue.entry(t.currency.clone()).or_default() += t.amount;
                }
            }
            Body::UserBehavior(b) => *actions.entry(b.action.clone()).or_default() += 1,
            Body::Performance(p) => {
                perf += 1;
                db += u64::from(p.db_query_time_ms.is_some());
                slow += u64::from(p.response_time_ms >= 500.0);
                endpoints.insert(p.endpoint.clone());
            }
            _ => {}
        }
    }
    let tx = api
        .get_after("/api/analytics/transactions?window=1h", last)
        .await;
    assert_eq!(u(&tx.json["count"]), by_status.values().sum::<u64>());
    for (status, n) in &by_status {
        assert_eq!(u(&tx.json["by_status"][status]), *n, "{status}");
    }
    for (currency, amount) in &revenue {
        let got: Decimal = tx.json["revenue"][currency]["completed"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(got, *amount, "exact revenue in {currency}");
    }
    let errors = api.get("/api/analytics/errors?window=1h").await;
    assert_eq!(
        u(&errors.json["count"]),
        count_where(events, |e| e.kind == Kind::Error)
    );
    assert_eq!(
        errors.json["over_time"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["v"].as_f64().unwrap())
            .sum::<f64>() as u64,
        u(&errors.json["count"])
    );
    let behavior = api.get("/api/analytics/user-behavior?window=1h").await;
    for step in behavior.json["funnel"].as_array().unwrap() {
        let action = step["action"].as_str().unwrap();
        assert_eq!(
            u(&step["count"]),
            actions.get(action).copied().unwrap_or(0),
            "{action}"
        );
    }
    assert!(
        api.get("/api/analytics/user-behavior?steps=view")
            .await
            .status
            == 400
    );
    let trends = api.get("/api/analytics/trends?window=30m").await;
    assert_eq!(
        trends.json["events.transaction"]["current"]
            .as_f64()
            .unwrap() as u64,
        count_where(events, |e| e.kind == Kind::Transaction)
    );
    assert_eq!(
        api.get("/api/analytics/errors?window=soon").await.status,
        400
    );

    // --- performance ---------------------------------------------------------
    let metrics = api.get("/api/performance/metrics?window=1h").await;
    assert_eq!(u(&metrics.json["requests"]), perf);
    assert!(metrics.json["latency"]["p95"].as_f64().unwrap() > 0.0);
    let per_endpoint = api
        .get("/api/performance/api-response-times?window=1h&limit=500")
        .await;
    let got: BTreeSet<String> = per_endpoint
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["endpoint"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(got, endpoints);
    let database = api.get("/api/performance/database-latency?window=1h").await;
    assert_eq!(u(&database.json["count"]), db);
    let slow_requests = api
        .get_after(
            "/api/performance/slow-requests?window=1h&threshold_ms=500&limit=5",
            last,
        )
        .await;
    assert_eq!(
        u(&slow_requests.json["total"]),
        slow,
        "{}",
        slow_requests.text
    );
}
