//! Search with read-your-writes, paging, PII filters and autocomplete.

use std::collections::BTreeSet;

use sightline_schemas::{Body, Event, Kind};
use sightline_tests::api::ApiStack;

use super::{count_where, u};

/// Checks search over `events`, ingested up to sequence `last`.
pub async fn check(api: &ApiStack, events: &[Event], last: u64) {
    let search = api
        .get_after("/api/search?q=payment&size=5&sort=newest", last)
        .await;
    assert_eq!(search.status, 200, "{}", search.text);
    assert!(search.watermark().unwrap() >= last);
    let payments = count_where(events, |e| {
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
        count_where(events, |e| e.kind == Kind::Error)
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
        count_where(events, |e| matches!(&e.payload,
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
            events,
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
}
