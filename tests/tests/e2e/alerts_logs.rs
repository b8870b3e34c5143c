//! The alert rule types for logs, measured from real projections: `severity_rate`
//! from the counters in redis-server, `query` (a saved search) from a Tantivy
//! index, both through the evaluator.

use std::sync::Arc;

use sightline_alerts::measure::{IndexReads, Measure, Sources};
use sightline_alerts::{Rules, Status};
use sightline_counters::{Layout, Reader, RedisStore};
use sightline_fraud::store::sqlite::SqliteStore;
use sightline_runtime::config::{AlertsSettings, CountersSettings};
use sightline_schemas::{Body, Event, LogRecord, OffsetDateTime, Severity};
use sightline_search::document::{PiiHasher, SearchDoc};
use sightline_search::store::tantivy::TantivyStore;
use sightline_search::store::{SearchStore, Sequenced, Source};
use sightline_tests::{Redis, Stack};

const RULES: &str = r#"
version = "test"
[timing]
group_wait = "0s"
group_interval = "1m"
repeat_interval = "1h"

[[rule]]
name = "ErrorLogs"
severity = "P2"
summary = "{value} error logs a minute on {service}"
window = "2m"
for = "0s"
[rule.when]
type = "severity_rate"
severity = "error"
above_per_minute = 10.0

[[rule]]
name = "PoolExhausted"
severity = "P1"
summary = "{value} pool exhaustions"
window = "5m"
for = "0s"
[rule.when]
type = "query"
query = '(severity:error OR severity:fatal) AND "pool exhausted" AND NOT service:batch'
above = 3
"#;

fn logs(
    service: &str,
    severity: Severity,
    message: &str,
    n: usize,
    t0: OffsetDateTime,
) -> Vec<Event> {
    (0..n)
        .map(|i| {
            let at = t0 - time::Duration::seconds(1 + i as i64 % 100);
            Event::at(at, service, Body::Log(LogRecord::new(severity, message)))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn severity_rates_and_saved_queries_alert_from_the_projections() {
    let stack = Stack::start().await;
    let redis = Redis::start(false);
    let t0 = OffsetDateTime::now_utc();
    // api: 30 errors and 6 fatal in the last 2 minutes (18 a minute), 4 of them
    // about the pool; web: 4 errors (2 a minute); batch: pool errors, excluded.
    let mut events = logs("api", Severity::Error, "request failed", 26, t0);
    events.extend(logs(
        "api",
        Severity::Error,
        "db pool exhausted after 30 s",
        4,
        t0,
    ));
    events.extend(logs("api", Severity::Fatal, "worker crashed", 6, t0));
    events.extend(logs("api", Severity::Info, "request served", 200, t0));
    events.extend(logs("web", Severity::Error, "template missing", 4, t0));
    events.extend(logs("batch", Severity::Error, "pool exhausted", 9, t0));

    let layout = Layout::new(&CountersSettings::default()).unwrap();
    let counters = RedisStore::connect(&redis.url(), layout).await.unwrap();
    crate::alerts::count(&counters, events.clone(), 1).await;

    let dir = tempfile::tempdir().unwrap();
    let index = TantivyStore::open(dir.path()).unwrap();
    let pii = PiiHasher::new([9; 32]);
    let docs = events
        .iter()
        .zip(1..)
        .map(|(e, seq)| Sequenced {
            seq,
            doc: SearchDoc::from_event(e, &pii),
        })
        .collect();
    index.index(Source::Logs, docs).await.unwrap();

    let rules = Rules::parse(RULES, "test").unwrap();
    let sources = Sources::<SqliteStore> {
        counters: Reader::new(&counters),
        detections: None,
        search: Some(Arc::new(index.clone()) as Arc<dyn IndexReads>),
        statuses: None,
    };
    let rate = sources.measure(&rules.rules[0], t0).await.unwrap();
    let per_service: Vec<(String, f64)> = rate
        .iter()
        .map(|s| (s.labels["service"].clone(), s.value))
        .collect();
    assert!(
        per_service.contains(&("api".into(), 18.0)),
        "{per_service:?}"
    );
    assert!(
        per_service.contains(&("web".into(), 2.0)),
        "{per_service:?}"
    );
    let hits = sources.measure(&rules.rules[1], t0).await.unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].value, 4.0, "the pool errors of api, not batch's");

    let settings = AlertsSettings::default();
    let mut eval = crate::alerts::evaluator_of(&stack, &redis, rules, sources, &settings).await;
    let tick = eval.tick(t0).await.unwrap();
    assert!(tick.unmeasured.is_empty(), "{:?}", tick.unmeasured);
    let mut fired: Vec<(String, String)> = tick
        .transitions
        .iter()
        .filter(|t| t.alert.status == Status::Firing)
        .map(|t| {
            let who = t.alert.labels.get("service").cloned().unwrap_or_default();
            (t.alert.labels["alertname"].clone(), who)
        })
        .collect();
    fired.sort();
    assert_eq!(
        fired,
        [
            ("ErrorLogs".to_owned(), "api".to_owned()),
            ("PoolExhausted".to_owned(), String::new())
        ]
    );
    // An hour on, nothing is in the windows: both resolve.
    let later = eval.tick(t0 + time::Duration::hours(1)).await.unwrap();
    assert!(later
        .transitions
        .iter()
        .all(|t| t.alert.status == Status::Resolved));
    assert_eq!(later.transitions.len(), 2);
}
