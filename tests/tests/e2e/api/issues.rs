//! /api/issues over the ingested traffic: every error in the issue its
//! fingerprint names, counts adding up, and a resolved issue that is seen
//! again reopened as a regression.

use std::collections::BTreeMap;

use sightline_schemas::Event;
use sightline_tests::api::{ApiStack, OPERATOR_KEY};

use super::{time, u};

/// Checks the issues of `events`, ingested up to sequence `last`.
pub async fn check(api: &ApiStack, events: &[Event], last: u64) {
    // What the errors' fingerprints say, worked out here from the events.
    let mut expected: BTreeMap<String, u64> = BTreeMap::new();
    for o in events.iter().filter_map(sightline_issues::occurrence) {
        *expected.entry(o.fingerprint).or_insert(0) += 1;
    }
    assert!(
        (3..100).contains(&expected.len()),
        "{} issues",
        expected.len()
    );

    let r = api
        .get_after(
            "/api/issues?status=all&window=1h&limit=100&sort=count",
            last,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let listed = r.json["issues"].as_array().unwrap();
    let got: BTreeMap<String, u64> = listed
        .iter()
        .map(|i| (i["id"].as_str().unwrap().to_owned(), u(&i["count"])))
        .collect();
    // Every error of the traffic in its issue, exactly; the checks before this
    // one ingested errors of their own (an alert's burst), in issues of theirs.
    for (id, count) in &expected {
        assert_eq!(got.get(id), Some(count), "issue {id}: {got:?}");
    }
    assert!(got.len() <= expected.len() + 2, "{got:?}");
    let counts: Vec<u64> = listed.iter().map(|i| u(&i["count"])).collect();
    assert!(
        counts.windows(2).all(|w| w[0] >= w[1]),
        "sorted by count: {counts:?}"
    );
    for i in listed {
        assert_eq!(i["status"], "unresolved", "{i}");
        assert_eq!(i["count"], i["total"], "the window holds every event: {i}");
        assert!(time(&i["first_seen"]) <= time(&i["last_seen"]), "{i}");
        assert_eq!(i["latest"]["issue"], i["id"]);
        let trend: u64 = i["trend"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| u(&b["count"]))
            .sum();
        assert_eq!(trend, u(&i["count"]), "{i}");
        assert!(
            !i["title"].as_str().unwrap().is_empty()
                && !i["error_type"].as_str().unwrap().is_empty(),
            "{i}"
        );
    }

    // One issue: its events, and the operators' decisions.
    // The most frequent of the traffic's own (an alert check's burst is another).
    let ours: Vec<&serde_json::Value> = listed
        .iter()
        .filter(|i| expected.contains_key(i["id"].as_str().unwrap()))
        .collect();
    let top = ours[0];
    let id = top["id"].as_str().unwrap();
    let one = api.get(&format!("/api/issues/{id}?window=1h")).await;
    assert_eq!(one.status, 200, "{}", one.text);
    assert_eq!(one.json["count"], top["count"]);
    let samples = one.json["samples"].as_array().unwrap();
    assert_eq!(samples.len() as u64, u(&top["count"]).min(10));
    assert!(samples.iter().all(|s| s["issue"] == top["id"]));
    assert_eq!(one.json["history"], serde_json::json!([]));
    let found = api.get(&format!("/api/search?q=issue:{id}&size=1")).await;
    assert_eq!(found.json["total"], top["count"], "{}", found.text);

    let resolve = serde_json::json!({ "status": "resolved", "by": "ops", "note": "fixed in 2.4.1 (card 4111 1111 1111 1111 in the note)" });
    let path = format!("/api/issues/{id}/status");
    let refused = api.post_json(&path, &resolve, None).await;
    assert_eq!(
        refused.status, 401,
        "an operator's decision: {}",
        refused.text
    );
    let done = api.post_json(&path, &resolve, Some(OPERATOR_KEY)).await;
    assert_eq!(done.status, 200, "{}", done.text);
    assert_eq!(done.json["status"], "resolved");
    assert!(!done.text.contains("4111"), "{}", done.text);
    let resolved = api.get("/api/issues?status=resolved&window=1h").await;
    let ids: Vec<&str> = resolved.json["issues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [id]);
    let unresolved = api.get("/api/issues?window=1h&limit=100").await;
    assert_eq!(
        unresolved.json["issues"].as_array().unwrap().len(),
        got.len() - 1
    );

    // The same error again, after the resolution: a regression.
    let again = events
        .iter()
        .find(|e| sightline_issues::occurrence(e).is_some_and(|o| o.fingerprint == id))
        .unwrap();
    let again = Event::new(&again.service, again.payload.clone());
    let ingest = api
        .post(
            "/api/logs/ingest",
            "application/json",
            serde_json::to_vec(&again).unwrap(),
            Some(OPERATOR_KEY),
        )
        .await;
    assert_eq!(ingest.status, 200, "{}", ingest.text);
    let seq = u(&ingest.json["last_sequence"]);
    let reopened = api
        .get_after(&format!("/api/issues/{id}?window=1h"), seq)
        .await;
    assert_eq!(reopened.json["status"], "unresolved", "{}", reopened.text);
    assert_eq!(reopened.json["regressed"], true);
    assert_eq!(u(&reopened.json["count"]), u(&top["count"]) + 1);
    let history = reopened.json["history"].as_array().unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0]["status"], "resolved");
    assert_eq!(history[0]["by"], "ops");

    // The CLI reads the same issues and writes the same decisions.
    let out = api.stack.sightline(
        &[
            "issues", "list", "--status", "all", "--window", "1h", "--limit", "100", "--json",
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cli: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let cli_ids: std::collections::BTreeSet<&str> = cli
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(cli_ids, got.keys().map(String::as_str).collect());
    let other = ours[1]["id"].as_str().unwrap();
    let out = api
        .stack
        .sightline(&["issues", "ignore", other, "--by", "cli-user"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ignored = api.get(&format!("/api/issues/{other}?window=1h")).await;
    assert_eq!(ignored.json["status"], "ignored", "{}", ignored.text);
    assert_eq!(ignored.json["decided"]["by"], "cli-user");
    let out = api
        .stack
        .sightline(&["issues", "show", other, "--window", "1h"], None);
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        shown.contains("ignored by cli-user") && shown.starts_with(other),
        "{shown}"
    );
    let out = api.stack.sightline(
        &["issues", "resolve", "0123456789abcdef", "--by", "x"],
        None,
    );
    assert_eq!(out.status.code(), Some(1), "an unknown issue");

    for (path, status) in [
        ("/api/issues/NOT-A-FINGERPRINT".to_owned(), 400),
        ("/api/issues/0123456789abcdef".to_owned(), 404),
        ("/api/issues?status=fixed".to_owned(), 400),
        ("/api/issues?sort=loudest".to_owned(), 400),
        ("/api/issues?limit=0".to_owned(), 400),
    ] {
        let r = api.get(&path).await;
        assert_eq!(r.status, status, "{path}: {}", r.text);
        assert!(!r.error_message().is_empty(), "{path}");
    }
    let bad = serde_json::json!({ "status": "fixed", "by": "ops" });
    let r = api.post_json(&path, &bad, Some(OPERATOR_KEY)).await;
    assert_eq!(r.status, 400, "{}", r.text);
    let unknown = api
        .post_json(
            "/api/issues/0123456789abcdef/status",
            &resolve,
            Some(OPERATOR_KEY),
        )
        .await;
    assert_eq!(unknown.status, 404, "{}", unknown.text);
}
