//! Keys and roles, and ingest: every good record published, the bad one named.

use sightline_schemas::Event;
use sightline_tests::api::{ApiStack, OPERATOR_KEY, READER_KEY};

use super::{ndjson, u, EVENTS};

/// Checks auth on every kind of route, then ingests `events` and returns the
/// last sequence they were published at.
pub async fn check(api: &ApiStack, events: &[Event]) -> u64 {
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
    let mut body = ndjson(events);
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
    // Nothing to publish is not an error (shippers send empty batches).
    assert_eq!(empty.status, 200, "{}", empty.text);
    assert_eq!(empty.json["published"], 0);
    assert_eq!(empty.json["rejected"], 0);
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
    // A request target or headers over the API's limits: JSON errors too, not
    // the HTTP parser's empty answers.
    let long = api
        .get(&format!("/api/search?q={}", "a".repeat(20_000)))
        .await;
    assert_eq!(
        (long.status, long.error_code()),
        (414, "uri_too_long"),
        "{}",
        long.text
    );
    let mut request = api.http.get(api.url("/api/alerts/active"));
    for i in 0..150 {
        request = request.header(format!("x-extra-{i}"), "1");
    }
    let crowded = request.bearer_auth(READER_KEY).send().await.unwrap();
    assert_eq!(crowded.status(), 431);
    let body: serde_json::Value = crowded.json().await.expect("a JSON body");
    assert_eq!(body["error"]["code"], "headers_too_large");
    last
}
