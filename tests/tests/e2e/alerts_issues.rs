//! The alert rule types of the index, measured from a real Tantivy index and
//! the issue status bucket on a real nats-server: a new issue, a regression
//! (which fires once and stays firing, not again), a new error pattern and a
//! pattern's spike; steady and old ones stay quiet.

use std::sync::Arc;

use sightline_alerts::measure::{IndexReads, Measure, Sources};
use sightline_alerts::{Rules, Status};
use sightline_counters::{Layout, Reader, RedisStore};
use sightline_fraud::store::sqlite::SqliteStore;
use sightline_issues::{StatusChange, StatusStore};
use sightline_runtime::config::{AlertsSettings, CountersSettings};
use sightline_schemas::{Body, ErrorEvent, Event, LogRecord, OffsetDateTime, Severity};
use sightline_search::document::{PiiHasher, SearchDoc};
use sightline_search::patterns::{assign, PatternStage};
use sightline_search::store::tantivy::TantivyStore;
use sightline_search::store::{SearchStore, Sequenced, Source};
use sightline_tests::{Redis, Stack};
use time::Duration;

const RULES: &str = r#"
version = "test"
[timing]
group_wait = "0s"
group_interval = "1m"
repeat_interval = "1h"

[[rule]]
name = "NewIssue"
severity = "P3"
summary = "new issue on {service}: {message}"
window = "10m"
for = "0s"
[rule.when]
type = "new_issue"

[[rule]]
name = "Regression"
severity = "P2"
summary = "{issue} came back on {service}"
window = "10m"
for = "0s"
[rule.when]
type = "regression"

[[rule]]
name = "NewErrorPattern"
severity = "P3"
summary = "a new error on {service}: {message}"
window = "10m"
for = "0s"
[rule.when]
type = "new_pattern"
severity = "error"

[[rule]]
name = "PatternSpike"
severity = "P3"
summary = "{message} at {value} times its usual rate"
window = "5m"
for = "0s"
[rule.when]
type = "pattern_spike"
baseline = "1h"
factor = 5.0
min_count = 10
"#;

fn trace(function: &str) -> String {
    format!(
        "Traceback (most recent call last):\n  File \"/app/shop/{function}.py\", line 10, in {function}\n    run()\nValueError: bad input"
    )
}

fn error(service: &str, function: &str, at: OffsetDateTime) -> Event {
    let body = Body::Error(ErrorEvent {
        error_code: 500,
        error_type: "ValueError".into(),
        error_message: format!("{function} failed"),
        endpoint: "/api/x".into(),
        stack: Some(trace(function)),
        user_id: None,
    });
    Event::at(at, service, body)
}

fn log(service: &str, severity: Severity, message: &str, at: OffsetDateTime) -> Event {
    Event::at(at, service, Body::Log(LogRecord::new(severity, message)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_issues_regressions_new_patterns_and_spikes_alert_from_the_index() {
    let stack = Stack::start().await;
    let redis = Redis::start(false);
    let t0 = OffsetDateTime::now_utc();
    let ago = |minutes: i64| t0 - Duration::minutes(minutes);
    let mut events = vec![
        // An old issue, resolved 30 minutes ago, back 2 minutes ago.
        error("pay", "charge", ago(180)),
        error("pay", "charge", ago(170)),
        error("pay", "charge", ago(2)),
        // An old issue, never resolved, still happening: neither new nor back.
        error("cart", "total", ago(120)),
        error("cart", "total", ago(3)),
        // A new issue.
        error("checkout", "place", ago(1)),
        // An old error pattern, and a new one.
        log("ledger", Severity::Error, "ledger lag above 30 s", ago(90)),
        log("ledger", Severity::Error, "ledger lag above 45 s", ago(4)),
        log(
            "ledger",
            Severity::Error,
            "ledger write failed for account 17",
            ago(1),
        ),
    ];
    // A steady pattern (one a window over the last hour), and a burst of 30
    // of another that usually comes once in a while.
    for i in 0..12 {
        events.push(log(
            "web",
            Severity::Info,
            &format!("request served in {i} ms"),
            ago(5 * i + 6),
        ));
        events.push(log(
            "web",
            Severity::Info,
            &format!("cache refreshed {i} keys"),
            ago(5 * i + 6),
        ));
    }
    for i in 0..30 {
        events.push(log(
            "web",
            Severity::Info,
            &format!("cache refreshed {i} keys"),
            t0 - Duration::seconds(5 + i),
        ));
    }
    events.push(log("web", Severity::Info, "request served in 9 ms", ago(1)));

    let pii = PiiHasher::new([9; 32]);
    let mut docs: Vec<SearchDoc> = events
        .iter()
        .map(|e| SearchDoc::from_event(e, &pii))
        .collect();
    assign(&mut PatternStage::in_memory(), &mut docs)
        .await
        .unwrap();
    let issue_of = |service: &str| {
        docs.iter()
            .find(|d| d.service == service && d.keywords.issue.is_some())
            .and_then(|d| d.keywords.issue.clone())
            .unwrap()
    };
    let (charge, place) = (issue_of("pay"), issue_of("checkout"));
    let dir = tempfile::tempdir().unwrap();
    let index = TantivyStore::open(dir.path()).unwrap();
    let batch = docs
        .into_iter()
        .zip(1..)
        .map(|(doc, seq)| Sequenced { seq, doc })
        .collect();
    index.index(Source::Logs, batch).await.unwrap();

    let statuses = StatusStore::open(&stack.bus).await.unwrap();
    let resolved = StatusChange {
        status: sightline_issues::Status::Resolved,
        at: ago(30),
        by: Some("ops".into()),
        note: None,
    };
    statuses.set(&charge, &resolved).await.unwrap();

    let layout = Layout::new(&CountersSettings::default()).unwrap();
    let counters = RedisStore::connect(&redis.url(), layout).await.unwrap();
    let rules = Rules::parse(RULES, "test").unwrap();
    let sources = Sources::<SqliteStore> {
        counters: Reader::new(&counters),
        detections: None,
        search: Some(Arc::new(index.clone()) as Arc<dyn IndexReads>),
        statuses: Some(statuses.clone()),
    };
    let measured = |i: usize| {
        let (sources, rules) = (&sources, &rules);
        async move {
            let mut got: Vec<(String, String, f64)> = sources
                .measure(&rules.rules[i], t0)
                .await
                .unwrap()
                .into_iter()
                .map(|s| {
                    let key = s
                        .labels
                        .get("issue")
                        .or(s.labels.get("pattern"))
                        .cloned()
                        .unwrap();
                    (
                        key,
                        s.labels.get("message").cloned().unwrap_or_default(),
                        s.value,
                    )
                })
                .collect();
            got.sort_by(|a, b| a.1.cmp(&b.1));
            got
        }
    };
    // New issues: the checkout error, and the ledger's new error log (an error
    // record is an issue too); the ledger's lag is an old one.
    let new_issues = measured(0).await;
    let keys: Vec<&str> = new_issues.iter().map(|s| s.0.as_str()).collect();
    assert_eq!(keys.len(), 2, "{new_issues:?}");
    assert!(keys.contains(&place.as_str()), "{new_issues:?}");
    assert!(new_issues
        .iter()
        .any(|s| s.1 == "ledger write failed for account 17"));
    assert!(new_issues.iter().all(|s| s.2 == 1.0));
    let back = measured(1).await;
    assert_eq!(back.len(), 1, "{back:?}");
    assert_eq!((back[0].0.as_str(), back[0].2), (charge.as_str(), 1.0));
    assert!(back[0].1.contains("charge failed"), "{back:?}");
    let new_patterns = measured(2).await;
    assert_eq!(new_patterns.len(), 1, "{new_patterns:?}");
    assert_eq!(new_patterns[0].1, "ledger write failed for account 17");
    let spikes = measured(3).await;
    let alarming: Vec<&(String, String, f64)> = spikes.iter().filter(|s| s.2 > 5.0).collect();
    assert_eq!(alarming.len(), 1, "{spikes:?}");
    assert!(alarming[0].1.starts_with("cache refreshed"), "{spikes:?}");

    let settings = AlertsSettings::default();
    let mut eval = crate::alerts::evaluator_of(&stack, &redis, rules, sources, &settings).await;
    let tick = eval.tick(t0).await.unwrap();
    assert!(tick.unmeasured.is_empty(), "{:?}", tick.unmeasured);
    let mut fired: Vec<String> = tick
        .transitions
        .iter()
        .filter(|t| t.alert.status == Status::Firing)
        .map(|t| t.alert.labels["alertname"].clone())
        .collect();
    fired.sort();
    assert_eq!(
        fired,
        [
            "NewErrorPattern",
            "NewIssue",
            "NewIssue",
            "PatternSpike",
            "Regression"
        ]
    );
    // A minute on, the regression still holds: it stays firing, and fires no
    // second time.
    let next = eval.tick(t0 + Duration::minutes(1)).await.unwrap();
    assert!(
        !next
            .transitions
            .iter()
            .any(|t| t.alert.labels["alertname"] == "Regression"),
        "{:?}",
        next.transitions
    );
    // Resolved again after its last event: the regression resolves.
    let again = StatusChange {
        at: t0 + Duration::seconds(30),
        ..resolved
    };
    statuses.set(&charge, &again).await.unwrap();
    let later = eval.tick(t0 + Duration::minutes(2)).await.unwrap();
    let regression = later
        .transitions
        .iter()
        .find(|t| t.alert.labels["alertname"] == "Regression")
        .expect("the regression resolves");
    assert_eq!(regression.alert.status, Status::Resolved);
}
