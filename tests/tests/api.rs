//! The query API against a live stack: real nats-server and redis-server, every
//! worker as a process, the embedded backends, and `sightline api`. Events go in
//! through HTTP ingest; every route's answer is checked against what the events
//! say it should be.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::{json, Value};
use sightline_generator::Generator;
use sightline_schemas::Decimal;
use sightline_schemas::{Body, Event, Kind, OffsetDateTime};
use sightline_tests::api::{ApiStack, OPERATOR_KEY, READER_KEY};
use sightline_tests::{eventually, straight_scoring};

const EVENTS: usize = 4000;

/// Traffic of the last minute or so (200 events/s), with fraud episodes.
fn traffic() -> Vec<Event> {
    let start = OffsetDateTime::now_utc() - Duration::from_secs(60);
    Generator::new(11, start, sightline_generator::DEFAULT_POPULATION)
        .with_fraud_rate(0.01)
        .take(EVENTS)
        .collect()
}

fn ndjson(events: &[Event]) -> Vec<u8> {
    let mut body = Vec::new();
    for e in events {
        body.extend(serde_json::to_vec(e).unwrap());
        body.push(b'\n');
    }
    body
}

fn count_where(events: &[Event], f: impl Fn(&Event) -> bool) -> u64 {
    events.iter().filter(|e| f(e)).count() as u64
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_route_answers_from_the_projections_with_auth_and_clear_errors() {
    let api = ApiStack::start("").await;
    let events = traffic();

    // --- auth -------------------------------------------------------------
    let no_key = api.get_as("/api/search?q=payment", None).await;
    assert_eq!(no_key.status, 401, "{}", no_key.text);
    assert_eq!(no_key.error_code(), "unauthorized");
    let bad_key = api
        .get_as("/api/search", Some("not-a-key-at-all-0000"))
        .await;
    assert_eq!(bad_key.status, 401);
    let reader_ingest = api
        .post(
            "/api/logs/ingest",
            "application/x-ndjson",
            ndjson(&events[..1]),
            Some(READER_KEY),
        )
        .await;
    assert_eq!(reader_ingest.status, 403, "{}", reader_ingest.text);
    assert!(reader_ingest.error_message().contains("operator"));
    for open in ["/healthz", "/api/openapi.json", "/metrics", "/"] {
        assert_eq!(api.get_as(open, None).await.status, 200, "{open} is open");
    }

    // --- ingest: every good record published, the bad one named -----------
    let mut body = ndjson(&events);
    let mut broken = serde_json::to_value(&events[0]).unwrap();
    broken.as_object_mut().unwrap().remove("occurred_at");
    body.extend(broken.to_string().into_bytes());
    let ingest = api
        .post(
            "/api/logs/ingest",
            "application/x-ndjson",
            body,
            Some(OPERATOR_KEY),
        )
        .await;
    assert_eq!(ingest.status, 200, "{}", ingest.text);
    assert_eq!(u(&ingest.json["published"]), EVENTS as u64);
    assert_eq!(u(&ingest.json["rejected"]), 1);
    let error = &ingest.json["errors"][0];
    assert_eq!(error["place"], format!("line {}", EVENTS + 1));
    assert!(
        error["error"].as_str().unwrap().contains("occurred_at"),
        "{error}"
    );
    let last = u(&ingest.json["last_sequence"]);
    assert_eq!(last, EVENTS as u64);

    let again = api
        .post(
            "/api/logs/ingest",
            "application/json",
            serde_json::to_vec(&events[..3]).unwrap(),
            Some(OPERATOR_KEY),
        )
        .await;
    assert_eq!(u(&again.json["duplicates"]), 3, "{}", again.text);
    let all_bad = api
        .post(
            "/api/logs/ingest",
            "application/json",
            b"{\"kind\":\"transaction\"}".to_vec(),
            Some(OPERATOR_KEY),
        )
        .await;
    assert_eq!(all_bad.status, 422, "{}", all_bad.text);
    let empty = api
        .post(
            "/api/logs/ingest",
            "application/json",
            Vec::new(),
            Some(OPERATOR_KEY),
        )
        .await;
    assert_eq!((empty.status, empty.error_code()), (400, "bad_request"));
    // Over the 64 KiB limit of every route but ingest (small enough to be sent whole
    // before the answer, so the client reads the 413 rather than a reset).
    let huge = api
        .post(
            "/api/fraud/detect",
            "application/json",
            vec![b' '; 200_000],
            Some(READER_KEY),
        )
        .await;
    assert_eq!(
        (huge.status, huge.error_code()),
        (413, "payload_too_large"),
        "{}",
        huge.text
    );
    assert_eq!(
        huge.headers["connection"], "close",
        "the connection is not reused"
    );

    // --- search (read your writes) ------------------------------------------
    let search = api
        .get_after("/api/search?q=payment&size=5&sort=newest", last)
        .await;
    assert_eq!(search.status, 200, "{}", search.text);
    assert!(search.watermark().unwrap() >= last);
    let payments = count_where(&events, |e| {
        serde_json::to_string(e)
            .unwrap()
            .to_lowercase()
            .contains("payment")
    });
    assert!(u(&search.json["total"]) > 0 && u(&search.json["total"]) <= payments);
    let hits = search.json["hits"].as_array().unwrap();
    assert_eq!(hits.len(), 5);
    assert!(hits
        .iter()
        .all(|h| h["highlights"][0].as_str().unwrap().contains("<em>")));
    let mut page = api.get("/api/search?kind=error&size=100").await;
    let mut seen = BTreeSet::new();
    while let Some(next) = page.json["next"].as_str().map(str::to_owned) {
        for h in page.json["hits"].as_array().unwrap() {
            assert!(
                seen.insert(h["id"].as_str().unwrap().to_owned()),
                "no hit twice"
            );
        }
        page = api
            .get(&format!("/api/search?kind=error&size=100&after={next}"))
            .await;
    }
    for h in page.json["hits"].as_array().unwrap() {
        seen.insert(h["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        seen.len() as u64,
        count_where(&events, |e| e.kind == Kind::Error)
    );
    let bad_kind = api.get("/api/search?kind=txn").await;
    assert_eq!(bad_kind.status, 400);
    assert!(
        bad_kind.error_message().starts_with("kind:"),
        "{}",
        bad_kind.text
    );
    // Every event of one card, and from one IP, though the index holds neither.
    let (card, ip) = events
        .iter()
        .find_map(|e| match &e.payload {
            Body::Transaction(t) => Some((t.card_fingerprint.clone()?, t.ip?)),
            _ => None,
        })
        .unwrap();
    let of_card = api.get(&format!("/api/search?card={card}&size=1000")).await;
    assert_eq!(
        u(&of_card.json["total"]),
        count_where(&events, |e| matches!(&e.payload,
            Body::Transaction(t) if t.card_fingerprint.as_deref() == Some(card.as_str()))),
        "{}",
        of_card.text
    );
    let from_ip = api
        .get(&format!("/api/search?ip={ip}&kind=transaction"))
        .await;
    assert_eq!(
        u(&from_ip.json["total"]),
        count_where(
            &events,
            |e| matches!(&e.payload, Body::Transaction(t) if t.ip == Some(ip))
        )
    );
    let bad_ip = api.get("/api/search?ip=300.1.2.3").await;
    assert_eq!(bad_ip.status, 400);
    assert!(bad_ip.error_message().starts_with("ip "), "{}", bad_ip.text);
    let unknown = api.get("/api/search?colour=red").await;
    assert_eq!(unknown.status, 400);
    assert!(
        unknown.error_message().contains("colour"),
        "{}",
        unknown.text
    );
    let suggestions = api.get("/api/search/autocomplete?prefix=pay").await;
    let words = suggestions.json.as_array().unwrap();
    assert!(!words.is_empty() && words.iter().all(|w| w.as_str().unwrap().starts_with("pay")));
    let recent = api.get("/api/logs/recent?limit=3&kind=transaction").await;
    assert_eq!(recent.json["hits"].as_array().unwrap().len(), 3);
    assert!(recent.json["hits"]
        .as_array()
        .unwrap()
        .iter()
        .all(|h| h["kind"] == "transaction"));

    // --- analytics from the counters ----------------------------------------
    let stats = api.get_after("/api/logs/stats?window=1h", last).await;
    assert_eq!(stats.status, 200, "{}", stats.text);
    assert_eq!(u(&stats.json["total"]), EVENTS as u64);
    for kind in Kind::ALL {
        assert_eq!(
            stats.json["by_kind"][kind.as_str()].as_u64().unwrap_or(0),
            count_where(&events, |e| e.kind == kind),
            "{kind:?}"
        );
    }
    let mut by_status: BTreeMap<&str, u64> = BTreeMap::new();
    let mut revenue: BTreeMap<String, Decimal> = BTreeMap::new();
    let mut actions: BTreeMap<String, u64> = BTreeMap::new();
    let (mut perf, mut db, mut slow) = (0u64, 0u64, 0u64);
    let mut endpoints = BTreeSet::new();
    for e in &events {
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
        count_where(&events, |e| e.kind == Kind::Error)
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
        count_where(&events, |e| e.kind == Kind::Transaction)
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

    // --- fraud ---------------------------------------------------------------
    let scored: Vec<Event> = events
        .iter()
        .filter(|e| {
            matches!(
                e.kind,
                Kind::Transaction | Kind::Security | Kind::UserBehavior
            )
        })
        .cloned()
        .collect();
    let expected = straight_scoring(&scored);
    let suspicious_score = sightline_fraud::Rules::default().suspicious_score;
    let suspicious = expected
        .values()
        .filter(|(_, s)| *s >= suspicious_score)
        .count() as u64;
    assert!(
        eventually(Duration::from_secs(60), || async {
            u(&api.get("/api/fraud/stats").await.json["detections"]) == expected.len() as u64
        })
        .await,
        "the detections store holds every detection"
    );
    let stats = api.get("/api/fraud/stats").await;
    assert_eq!(u(&stats.json["suspicious"]), suspicious);
    let listed = api.get("/api/fraud/suspicious-activities?limit=1000").await;
    assert_eq!(listed.json.as_array().unwrap().len() as u64, suspicious);
    assert!(listed.watermark().is_some());
    let payment = events.iter().find(|e| e.kind == Kind::Transaction).unwrap();
    let verdict = api
        .post_json(
            "/api/fraud/detect",
            &serde_json::to_value(payment).unwrap(),
            Some(READER_KEY),
        )
        .await;
    assert_eq!(verdict.status, 200, "{}", verdict.text);
    assert_eq!(verdict.json["persisted"], false);
    assert!(verdict.json["score"].as_u64().unwrap() <= 100);
    let not_payment = events.iter().find(|e| e.kind == Kind::Error).unwrap();
    let refused = api
        .post_json(
            "/api/fraud/detect",
            &serde_json::to_value(not_payment).unwrap(),
            Some(READER_KEY),
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.text);
    assert!(refused.error_message().contains("kind"));
    assert_eq!(
        api.get("/api/fraud/suspicious-activities?min_score=101")
            .await
            .status,
        400
    );

    // --- dashboard -------------------------------------------------------------
    assert!(
        eventually(Duration::from_secs(30), || async {
            let o = api.get("/api/dashboard/overview?window=1h").await;
            u(&o.json["fraud_detections"]) == expected.len() as u64
        })
        .await,
        "the overview counts every detection once the counters have them"
    );
    let overview = api.get("/api/dashboard/overview?window=1h").await;
    assert_eq!(
        u(&overview.json["events"]),
        EVENTS as u64,
        "{}",
        overview.text
    );
    let cached = api.get("/api/dashboard/overview?window=1h").await;
    assert_eq!(cached.json, overview.json);
    let exposition = api.get_as("/metrics", None).await.text;
    assert!(
        exposition.contains("sightline_api_cache_lookups_total{result=\"local\"}"),
        "a repeat is served from the cache"
    );
    let charts = api.get("/api/dashboard/charts?window=1h").await;
    let charted: f64 = charts.json["events_by_kind"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|s| {
            s.as_array()
                .unwrap()
                .iter()
                .map(|p| p["v"].as_f64().unwrap())
        })
        .sum();
    assert_eq!(charted as usize, EVENTS);
    assert!(
        api.get("/api/dashboard/metrics").await.json["watermarks"]["search"]
            .as_u64()
            .unwrap()
            >= last
    );
    let mut live = api
        .http
        .get(api.url("/api/dashboard/stream?window=1h"))
        .bearer_auth(READER_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(live.headers()["content-type"], "text/event-stream");
    let mut text = String::new();
    while !text.contains("\n\n") {
        let chunk = tokio::time::timeout(Duration::from_secs(10), live.chunk())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(text.starts_with("event: update"), "{text}");
    let data: Value =
        serde_json::from_str(text.lines().find_map(|l| l.strip_prefix("data: ")).unwrap()).unwrap();
    assert_eq!(u(&data["overview"]["events"]), EVENTS as u64);

    // --- alerts and silences ------------------------------------------------------
    assert!(
        eventually(Duration::from_secs(30), || async {
            !api.get("/api/alerts/history?limit=10")
                .await
                .json
                .as_array()
                .unwrap()
                .is_empty()
        })
        .await,
        "fraud scores of 80+ fire an alert, recorded on ALERTS"
    );
    let active = api.get("/api/alerts/active").await;
    assert!(
        u(&active.json["firing"]) + u(&active.json["pending"]) >= 1,
        "{}",
        active.text
    );
    let silence = json!({"matchers": {"alertname": "HighErrorRate"}, "duration": "2h", "comment": "deploy", "created_by": "test"});
    assert_eq!(
        api.post_json("/api/alerts/silences", &silence, Some(READER_KEY))
            .await
            .status,
        403
    );
    let created = api
        .post_json("/api/alerts/silences", &silence, Some(OPERATOR_KEY))
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let id = created.json["id"].as_str().unwrap().to_owned();
    let listed = api.get("/api/alerts/silences").await;
    assert!(listed
        .json
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["id"] == id.as_str()));
    let bad = api
        .post_json(
            "/api/alerts/silences",
            &json!({"matchers": {}, "duration": "later", "comment": "", "created_by": "x"}),
            Some(OPERATOR_KEY),
        )
        .await;
    assert_eq!(bad.status, 400);
    assert!(bad.error_message().contains("duration"), "{}", bad.text);
    assert_eq!(
        api.delete(&format!("/api/alerts/silences/{id}"), Some(OPERATOR_KEY))
            .await
            .status,
        204
    );
    assert_eq!(
        api.delete(&format!("/api/alerts/silences/{id}"), Some(OPERATOR_KEY))
            .await
            .status,
        404
    );

    // --- ops --------------------------------------------------------------------
    let consumers = api.get("/api/ops/consumers").await;
    let names: BTreeSet<&str> = consumers
        .json
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| {
            s["consumers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["name"].as_str().unwrap())
        })
        .collect();
    // The readers of LOGS share one consumer, named after all of them.
    for name in [
        "indexer+counters+fraud",
        "fraud-store",
        "counters-fraud",
        "indexer-fraud",
    ] {
        assert!(names.contains(name), "{name} in {names:?}");
    }
    let marks = api.get("/api/ops/watermarks").await;
    assert_eq!(u(&marks.json["logs"]), last);
    assert_eq!(u(&marks.json["lag"]["search"]), 0);
    assert_eq!(u(&api.get("/api/ops/dlq").await.json["total"]), 0);
    assert_eq!(api.get_as("/readyz", None).await.status, 200);
    let missing = api.get("/api/nothing-here").await;
    assert_eq!((missing.status, missing.error_code()), (404, "not_found"));
    let doc = api.get_as("/api/openapi.json", None).await;
    assert!(
        doc.json["paths"]["/api/search"]["get"]["parameters"]
            .as_array()
            .unwrap()
            .len()
            > 10
    );

    // --- upload -------------------------------------------------------------------
    let more: Vec<Event> =
        Generator::new(12, OffsetDateTime::now_utc() - Duration::from_secs(30), 100)
            .take(50)
            .collect();
    let uploaded = api
        .upload("/api/logs/upload", ndjson(&more), Some(OPERATOR_KEY))
        .await;
    assert_eq!(u(&uploaded.json["published"]), 50, "{}", uploaded.text);
    let after = api
        .get_after(
            "/api/logs/stats?window=1h",
            u(&uploaded.json["last_sequence"]),
        )
        .await;
    assert_eq!(u(&after.json["total"]), EVENTS as u64 + 50);
    let waited_too_long = api.get_after("/api/search", 1_000_000).await;
    assert_eq!(
        (waited_too_long.status, waited_too_long.error_code()),
        (503, "not_caught_up")
    );
}
