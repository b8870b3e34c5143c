//! Alerts fired by the traffic's fraud episodes, and silences.

use std::time::Duration;

use serde_json::json;
use sightline_tests::api::{ApiStack, OPERATOR_KEY, READER_KEY};
use sightline_tests::eventually;

use super::u;

/// Checks that an alert fired, and the silences' lifecycle and roles.
pub async fn check(api: &ApiStack) {
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
    // The evaluator records a change on ALERTS before it saves the state that
    // /api/alerts/active reads, so the two may be one evaluation apart.
    assert!(
        eventually(Duration::from_secs(10), || async {
            let active = api.get("/api/alerts/active").await;
            u(&active.json["firing"]) + u(&active.json["pending"]) >= 1
        })
        .await,
        "{}",
        api.get("/api/alerts/active").await.text
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
}
