//! The fraud routes against a straight scoring of the events.

use std::time::Duration;

use sightline_schemas::{Event, Kind};
use sightline_tests::api::{ApiStack, READER_KEY};
use sightline_tests::{eventually, straight_scoring};

use super::u;

/// Checks the fraud routes; returns how many detections `events` make.
pub async fn check(api: &ApiStack, events: &[Event]) -> u64 {
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
    expected.len() as u64
}
