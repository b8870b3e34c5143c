//! Operations routes, errors of any route, and multipart upload.

use std::collections::BTreeSet;
use std::time::Duration;

use sightline_generator::Generator;
use sightline_schemas::{Event, OffsetDateTime};
use sightline_tests::api::{ApiStack, OPERATOR_KEY};

use super::{ndjson, u, EVENTS};

/// Checks the ops routes (every worker's consumer, lag, DLQ), then an upload.
pub async fn check(api: &ApiStack, last: u64) {
    // Every projection has what was ingested last, so lags are 0.
    api.get_after("/api/search?size=1", last).await;
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
    // Keys are configured here: the document asks for one, but not on health checks,
    // and lists what the layers answer, in the one error shape.
    assert_eq!(doc.json["security"][0]["api_key"], serde_json::json!([]));
    assert_eq!(
        doc.json["paths"]["/healthz"]["get"]["security"],
        serde_json::json!([])
    );
    let search = &doc.json["paths"]["/api/search"]["get"]["responses"];
    for status in ["400", "401", "503"] {
        assert_eq!(
            search[status]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/Error",
            "{status}"
        );
    }
    let ingest = &doc.json["paths"]["/api/logs/ingest"]["post"]["responses"];
    assert!(
        ingest["403"].is_object() && ingest["413"].is_object(),
        "{ingest}"
    );
    // Blank values are refused as the document says (it gives each a pattern or a
    // format), with the parameter named.
    let blank = api.get("/api/search?ip=").await;
    assert_eq!((blank.status, blank.error_code()), (400, "bad_request"));
    assert!(blank.error_message().contains("ip"), "{}", blank.text);
    let ip = doc.json["paths"]["/api/search"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "ip")
        .map(|p| p["schema"]["anyOf"].clone());
    assert_eq!(
        ip,
        Some(serde_json::json!([
            {"type": "string", "format": "ipv4"},
            {"type": "string", "format": "ipv6"}
        ]))
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
    // Everything before (`last`: the traffic and the alerts check's burst) and these.
    assert_eq!(u(&after.json["total"]), last + 50);
    assert!(last > EVENTS as u64);
    let waited_too_long = api.get_after("/api/search", 1_000_000).await;
    assert_eq!(
        (waited_too_long.status, waited_too_long.error_code()),
        (503, "not_caught_up")
    );
}
