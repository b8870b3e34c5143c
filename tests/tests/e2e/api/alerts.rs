//! Alerts fired by the traffic's fraud episodes, and silences.

use std::time::Duration;

use serde_json::json;
use sightline_schemas::{Body, ErrorEvent, Event, OffsetDateTime, Performance};
use sightline_tests::api::{ApiStack, OPERATOR_KEY, READER_KEY};
use sightline_tests::eventually;

use super::u;

/// A failing service: 60 requests in the last minute, half answered 503, each
/// failure reported as an error event.
pub(crate) fn error_burst() -> Vec<u8> {
    let now = OffsetDateTime::now_utc();
    let mut body = Vec::new();
    for i in 0..60u16 {
        let at = now - Duration::from_millis(500 * u64::from(i));
        let status_code = if i % 2 == 0 { 503 } else { 200 };
        let request = Performance {
            endpoint: "/api/quotes".into(),
            method: "GET".into(),
            response_time_ms: 40.0,
            db_query_time_ms: None,
            status_code,
        };
        let mut events = vec![Event::at(at, "quotes", Body::Performance(request))];
        if status_code == 503 {
            let error = ErrorEvent {
                error_code: 503,
                error_type: "ServiceUnavailable".into(),
                error_message: "quote backend unavailable".into(),
                endpoint: "/api/quotes".into(),
                stack: None,
                user_id: None,
            };
            events.push(Event::at(at, "quotes", Body::Error(error)));
        }
        for e in events {
            body.extend(serde_json::to_vec(&e).unwrap());
            body.push(b'\n');
        }
    }
    body
}

/// Checks that a failing service raises an alert, and the silences' lifecycle
/// and roles; returns the last sequence of LOGS after its own events.
pub async fn check(api: &ApiStack) -> u64 {
    let sent = api
        .post(
            "/api/logs/ingest",
            "application/x-ndjson",
            error_burst(),
            Some(OPERATOR_KEY),
        )
        .await;
    assert_eq!(sent.json["published"], 90, "{}", sent.text);
    let last = u(&sent.json["last_sequence"]);
    assert!(
        eventually(Duration::from_secs(30), || async {
            api.get("/api/alerts/history?rule=HighErrorRate&limit=10")
                .await
                .json
                .as_array()
                .unwrap()
                .iter()
                .any(|change| change["alert"]["labels"]["service"] == "quotes")
        })
        .await,
        "errors on half the requests of quotes raise HighErrorRate, recorded on ALERTS"
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
    acknowledge(api).await;
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
    last
}

/// The quotes alert acknowledged: refused to a reader, to a blank author, for a
/// bad or unknown fingerprint; then by an operator over HTTP and from the CLI,
/// and listed as acknowledged by both.
async fn acknowledge(api: &ApiStack) {
    let active = api.get("/api/alerts/active").await;
    let alert = active.json["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["labels"]["service"] == "quotes")
        .unwrap_or_else(|| panic!("{}", active.text))
        .clone();
    let fp = alert["fingerprint"].as_str().unwrap();
    let path = format!("/api/alerts/{fp}/ack");
    let ack = json!({"by": "ana", "comment": "looking at the quote backend"});
    let answer = |status: u16, key, path: String, body: serde_json::Value| async move {
        let r = api.post_json(&path, &body, Some(key)).await;
        assert_eq!(r.status, status, "{path}: {}", r.text);
        r
    };
    answer(403, READER_KEY, path.clone(), ack.clone()).await;
    let r = answer(400, OPERATOR_KEY, path.clone(), json!({"by": " "})).await;
    assert!(r.error_message().contains("by"), "{}", r.text);
    answer(
        400,
        OPERATOR_KEY,
        "/api/alerts/not-hex/ack".into(),
        ack.clone(),
    )
    .await;
    let r = answer(
        404,
        OPERATOR_KEY,
        "/api/alerts/0123456789abcdef/ack".into(),
        ack.clone(),
    )
    .await;
    assert!(r.error_message().contains("0123456789abcdef"), "{}", r.text);
    let r = answer(200, OPERATOR_KEY, path.clone(), ack).await;
    assert_eq!(r.json["by"], "ana");
    assert_eq!(r.json["episode"], alert["active_since"]);
    let active = api.get("/api/alerts/active").await;
    assert_eq!(
        active.json["acknowledged"][fp]["by"], "ana",
        "{}",
        active.text
    );

    let cli = |args: &[&str]| {
        std::process::Command::new(sightline_tests::sightline_bin())
            .args(args)
            .env("SIGHTLINE_REDIS__URL", api.redis.url())
            .output()
            .unwrap()
    };
    let out = cli(&["alerts", "ack", "0123456789abcdef", "--by", "bo"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no active alert"));
    let out = cli(&[
        "alerts",
        "ack",
        fp,
        "--by",
        "bo",
        "--comment",
        "taking over",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = cli(&["alerts", "list", "--json"]);
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let acks = listed["acknowledged"].as_array().unwrap();
    assert_eq!(acks.len(), 1, "{listed}");
    assert_eq!(acks[0]["by"], "bo", "the second replaces the first");
    assert_eq!(acks[0]["comment"], "taking over");
    let out = cli(&["alerts", "list"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("{fp}  HighErrorRate")) && text.contains("acknowledged by bo"),
        "{text}"
    );
}
