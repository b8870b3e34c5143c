//! The dashboard's overview, charts, metrics and live stream.

use std::time::Duration;

use serde_json::Value;
use sightline_tests::api::{ApiStack, READER_KEY};
use sightline_tests::eventually;

use super::{u, EVENTS};

/// Checks the dashboard routes once the counters hold all `detections`.
pub async fn check(api: &ApiStack, detections: u64, last: u64) {
    assert!(
        eventually(Duration::from_secs(30), || async {
            let o = api.get("/api/dashboard/overview?window=1h").await;
            u(&o.json["fraud_detections"]) == detections
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
}
