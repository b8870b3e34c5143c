//! The query API against a live stack: real nats-server and redis-server, every
//! worker as a process, the embedded backends, and `sightline api`. Events go in
//! through HTTP ingest; every route's answer is checked against what the events
//! say it should be. One stack serves every group of routes (starting it is the
//! slow part), each group in its own file.

pub(crate) mod alerts;
mod analytics;
mod dashboard;
mod fraud;
mod ingest;
mod issues;
mod ops;
mod patterns;
mod search;

use std::time::Duration;

use serde_json::Value;
use sightline_generator::Generator;
use sightline_schemas::{Event, OffsetDateTime};
use sightline_tests::api::ApiStack;

const EVENTS: usize = 4000;

/// Traffic of the last minute or so (200 events/s), with fraud episodes.
fn traffic() -> Vec<Event> {
    let start = OffsetDateTime::now_utc() - Duration::from_secs(60);
    Generator::new(11, start, sightline_generator::DEFAULT_POPULATION)
        .with_fraud_rate(0.01)
        .take(EVENTS)
        .collect()
}

fn ndjson(events: &[Event]) -> Vec<u8> {
    let mut body = Vec::new();
    for e in events {
        body.extend(serde_json::to_vec(e).unwrap());
        body.push(b'\n');
    }
    body
}

fn count_where(events: &[Event], f: impl Fn(&Event) -> bool) -> u64 {
    events.iter().filter(|e| f(e)).count() as u64
}

/// An RFC 3339 time of an answer.
fn time(v: &Value) -> OffsetDateTime {
    let text = v.as_str().unwrap_or_else(|| panic!("not a time: {v}"));
    OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).unwrap()
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_route_answers_from_the_projections_with_auth_and_clear_errors() {
    let api = ApiStack::start("").await;
    let events = traffic();
    let last = ingest::check(&api, &events).await;
    search::check(&api, &events, last).await;
    patterns::check(&api, &events, last).await;
    analytics::check(&api, &events, last).await;
    let detections = fraud::check(&api, &events).await;
    dashboard::check(&api, detections, last).await;
    let alerts_last = alerts::check(&api).await;
    ops::check(&api, alerts_last).await;
    // Last: it ingests one more error.
    issues::check(&api, &events, last).await;
}
