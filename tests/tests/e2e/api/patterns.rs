//! /api/patterns over the ingested traffic: every event in one of the listed
//! patterns, each pattern's trend, sample and query adding up.

use std::collections::BTreeSet;

use sightline_schemas::Event;
use sightline_tests::api::ApiStack;

use super::{time, u};

/// Checks the patterns of `events`, ingested up to sequence `last`.
pub async fn check(api: &ApiStack, events: &[Event], last: u64) {
    let r = api
        .get_after("/api/patterns?window=1h&limit=100", last)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(u(&r.json["total"]), events.len() as u64, "{}", r.text);
    let patterns = r.json["patterns"].as_array().unwrap();
    assert!(
        (5..100).contains(&patterns.len()),
        "{} patterns",
        patterns.len()
    );
    let counts: Vec<u64> = patterns.iter().map(|p| u(&p["count"])).collect();
    assert!(counts.windows(2).all(|w| w[0] >= w[1]), "{counts:?}");
    assert_eq!(counts.iter().sum::<u64>(), events.len() as u64);
    let mut ids = BTreeSet::new();
    for p in patterns {
        let id = p["id"].as_str().unwrap();
        assert!(ids.insert(id), "{id} listed twice");
        let trend: u64 = p["trend"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| u(&b["count"]))
            .sum();
        assert_eq!(trend, u(&p["count"]), "{p}");
        let sample = &p["sample"];
        assert_eq!(sample["pattern"], id, "{p}");
        let message = sample["message"].as_str().unwrap();
        let template = p["template"].as_str().unwrap();
        for word in template.split(' ').filter(|w| *w != "<*>") {
            assert!(message.contains(word), "`{message}` is not of `{template}`");
        }
        assert!(time(&p["first_seen"]) <= time(&p["last_seen"]), "{p}");
    }
    assert!(
        patterns
            .iter()
            .any(|p| p["template"].as_str().unwrap().contains("<*>")),
        "values are masked"
    );
    // A pattern's id finds exactly its events.
    let top = &patterns[0];
    let found = api
        .get(&format!(
            "/api/search?q=pattern:{}&size=1",
            top["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(found.json["total"], top["count"], "{}", found.text);
    // Narrowed to one service, every pattern's events are that service's.
    let service = top["sample"]["service"].as_str().unwrap();
    let narrowed = api
        .get(&format!("/api/patterns?window=1h&service={service}"))
        .await;
    let of_service = events.iter().filter(|e| e.service == service).count() as u64;
    assert_eq!(u(&narrowed.json["total"]), of_service, "{}", narrowed.text);
    for bad in [
        "limit=0",
        "limit=101",
        "window=soon",
        "severity=loud",
        "q=pattern:(",
        "bogus=1",
    ] {
        let r = api.get(&format!("/api/patterns?{bad}")).await;
        assert_eq!(r.status, 400, "{bad}: {}", r.text);
        assert!(!r.error_message().is_empty(), "{bad}");
    }
}
