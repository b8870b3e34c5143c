//! The API's handlers in process: the router over stores a test fills through the
//! factories (no worker, no API process), called with `oneshot`. Each answer is
//! checked against what the stores' fixtures say it must be.

use axum::body::Body;
use axum::http::Method;
use sightline_runtime::topology::LOGS;
use sightline_search::store::Source;
use sightline_tests::api::{OPERATOR_KEY, READER_KEY};
use sightline_tests::app::App;
use sightline_tests::{detections_suite, search_suite};
use time::format_description::well_known::Rfc3339;

/// `?until=` the end of the search fixture's hand-worked hour.
fn until_fixture_hour() -> String {
    (search_suite::T0 + time::Duration::seconds(3600))
        .format(&Rfc3339)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_answers_from_the_index_and_stamps_its_watermark() {
    let app = App::start().await;
    app.index(Source::Logs, search_suite::sequenced()).await;
    app.state.refresh_marks().await;
    let until = until_fixture_hour();
    let r = app
        .get(&format!("/api/search?q=database&until={until}"))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["total"], 2, "{}", r.text);
    let services: Vec<&str> = r.json["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["service"].as_str().unwrap())
        .collect();
    assert_eq!(services[0], "checkout", "newest first: {}", r.text);
    assert_eq!(r.watermark(), Some(212), "what the index applied");
    let all = app
        .get(&format!("/api/search?q=database+timeout&until={until}"))
        .await;
    assert_eq!(all.json["total"], 1, "every word must match: {}", all.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fraud_detections_in_the_index_are_searchable_by_kind() {
    let app = App::start().await;
    app.index(Source::Logs, search_suite::sequenced()).await;
    app.index(Source::Fraud, search_suite::detections()).await;
    let r = app.get("/api/search?kind=fraud_detection").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["total"], 2, "one document per detection: {}", r.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_and_roles_are_enforced_with_json_refusals() {
    let app = App::start().await;
    let none = app
        .call(Method::GET, "/api/search?q=x", None, Body::empty())
        .await;
    assert_eq!(none.status, 401, "{}", none.text);
    assert!(!none.error_code().is_empty(), "{}", none.text);
    assert!(!none.error_message().is_empty(), "{}", none.text);
    let silence =
        r#"{"matchers":{"alertname":"X"},"duration":"1h","comment":"t","created_by":"t"}"#;
    let reader = app
        .call(
            Method::POST,
            "/api/alerts/silences",
            Some(READER_KEY),
            Body::from(silence),
        )
        .await;
    assert_eq!(reader.status, 403, "{}", reader.text);
    assert!(!reader.error_code().is_empty(), "{}", reader.text);
    let open = app.call(Method::GET, "/healthz", None, Body::empty()).await;
    assert_eq!(open.status, 200, "{}", open.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspicious_activities_filter_the_detections_store() {
    let app = App::start().await;
    app.store_detections(&detections_suite::fixture()).await;
    let r = app
        .get("/api/fraud/suspicious-activities?min_score=60&limit=100")
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let got: Vec<&str> = r
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["transaction_id"].as_str().unwrap())
        .collect();
    // i * 7 mod 101 >= 60 for i in 9-14, 23-28, 38-39 (detections_suite), newest first.
    let mut want: Vec<u32> = (9..=14).chain(23..=28).chain(38..=39).collect();
    want.reverse();
    let want: Vec<String> = want.iter().map(|i| format!("tx-{i:03}")).collect();
    assert_eq!(got, want);
    for (query, field) in [("min_score=101", "min_score"), ("limit=0", "limit")] {
        let bad = app
            .get(&format!("/api/fraud/suspicious-activities?{query}"))
            .await;
        assert_eq!(bad.status, 400, "{query}: {}", bad.text);
        assert!(bad.error_message().contains(field), "{query}: {}", bad.text);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fraud_stats_sum_the_detections_store() {
    let app = App::start().await;
    app.store_detections(&detections_suite::fixture()).await;
    let r = app.get("/api/fraud/stats").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["detections"], 40, "{}", r.text);
    assert_eq!(r.json["by_indicator"]["velocity"], 20, "{}", r.text);
    assert_eq!(r.json["by_indicator"]["bot"], 14, "{}", r.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_names_a_bad_record_and_publishes_only_the_good_one() {
    let app = App::start().await;
    let good = sightline_generator::Generator::new(3, search_suite::T0, 10)
        .next()
        .unwrap();
    let mut broken = serde_json::to_value(&good).unwrap();
    broken.as_object_mut().unwrap().remove("occurred_at");
    let body = format!("{}\n{broken}\n", serde_json::to_string(&good).unwrap());
    let r = app
        .send(
            Method::POST,
            "/api/logs/ingest",
            Some(OPERATOR_KEY),
            "application/x-ndjson",
            Body::from(body),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["published"], 1, "{}", r.text);
    assert_eq!(r.json["rejected"], 1, "{}", r.text);
    assert_eq!(r.json["errors"][0]["place"], "line 2", "{}", r.text);
    assert!(
        r.json["errors"][0]["error"]
            .as_str()
            .unwrap()
            .contains("occurred_at"),
        "{}",
        r.text
    );
    let mut logs = app.stack.bus.js.get_stream(LOGS).await.unwrap();
    assert_eq!(logs.info().await.unwrap().state.messages, 1);
}
