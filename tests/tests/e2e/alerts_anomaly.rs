//! `anomaly` rules on counters written by the real counters projection in real
//! Redis: steady traffic raises nothing, a burst on a series with history fires
//! with the band it left, a series still warming up is not judged, and the
//! verdicts depend on the counters alone (a second evaluator says the same).

use sightline_alerts::anomaly_rules;
use sightline_alerts::measure::Sources;
use sightline_alerts::{Rules, Status};
use sightline_counters::{Layout, Reader, RedisStore};
use sightline_fraud::store::sqlite::SqliteStore;
use sightline_runtime::config::{AlertsSettings, CountersSettings};
use sightline_schemas::{Body, Event, OffsetDateTime, Performance};
use sightline_tests::{Redis, Stack};

use crate::alerts::{count, evaluator_of};

const RULES: &str = RULES_WITH_TIMING;
const RULES_WITH_TIMING: &str = r#"
version = "anomaly-test"
[timing]
group_wait = "30s"
group_interval = "5m"
repeat_interval = "4h"
[[rule]]
name = "TrafficUnusual"
severity = "P3"
summary = "{observed} requests a minute on {service}, expected {low}-{high} for {when}"
window = "1m"
for = "0s"
[rule.when]
type = "anomaly"
per = "service"
series = "service={service},kind=performance"
lookback = "8h"
"#;

/// `n` requests of `service` in the minute starting at `minute`.
fn requests(service: &str, minute: OffsetDateTime, n: u64) -> impl Iterator<Item = Event> + '_ {
    (0..n).map(move |i| {
        Event::at(
            minute + time::Duration::milliseconds((i * 59_000 / n.max(1)) as i64 + 100),
            service,
            Body::Performance(Performance {
                endpoint: "/api/cart".into(),
                method: "GET".into(),
                response_time_ms: 30.0,
                db_query_time_ms: None,
                status_code: 200,
            }),
        )
    })
}

/// About ten a minute, give or take three, the same on every run.
fn usual(i: u64) -> u64 {
    let x = i
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    7 + (x >> 33) % 7
}

fn sources(counters: &RedisStore) -> Sources<SqliteStore> {
    Sources {
        counters: Reader::new(counters),
        detections: None,
        search: None,
        statuses: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_on_a_series_with_history_fires_with_its_band_and_a_new_series_is_not_judged() {
    let stack = Stack::start().await;
    let redis = Redis::start(false);
    let layout = Layout::new(&CountersSettings::default()).unwrap();
    let counters = RedisStore::connect(&redis.url(), layout).await.unwrap();
    let now = OffsetDateTime::now_utc();
    let this_minute = now
        .replace_second(0)
        .unwrap()
        .replace_nanosecond(0)
        .unwrap();
    let minute = |back: u64| this_minute - time::Duration::minutes(back as i64);
    // api: five hours of usual traffic; web: 100 minutes only.
    let mut events: Vec<Event> = Vec::new();
    for back in (4..=300).rev() {
        events.extend(requests("api", minute(back), usual(back)));
        if back <= 100 {
            events.extend(requests("web", minute(back), usual(back)));
        }
    }
    count(&counters, events, 1).await;
    let rules = Rules::parse(RULES, "test").unwrap();
    let settings = AlertsSettings::default();
    let mut eval = evaluator_of(&stack, &redis, rules.clone(), sources(&counters), &settings).await;
    // The minute of `now` is still filling and is not judged: the last complete
    // one is judged, so `now` is in the minute after the last one counted.
    let at = minute(3) + time::Duration::seconds(30);
    let tick = eval.tick(at).await.unwrap();
    assert!(
        tick.transitions.is_empty(),
        "steady: {:?}",
        tick.transitions
    );
    let verdicts = anomaly_rules::verdicts(&Reader::new(&counters), &rules.rules[0], at)
        .await
        .unwrap();
    let api = verdicts
        .iter()
        .find(|v| v.labels["service"] == "api")
        .unwrap();
    let web = verdicts
        .iter()
        .find(|v| v.labels["service"] == "web")
        .unwrap();
    assert!(api.warm && api.score < 0.9, "{api:?}");
    assert!(
        !web.warm && web.score == 0.0,
        "100 points: warming up: {web:?}"
    );
    assert!(
        api.low <= api.observed && api.observed <= api.high,
        "{api:?}"
    );

    // Both burst: eight times the usual for three minutes.
    let mut burst: Vec<Event> = Vec::new();
    for back in 1..=3 {
        burst.extend(requests("api", minute(back), 80));
        burst.extend(requests("web", minute(back), 80));
    }
    count(&counters, burst, 100_000).await;
    let at = this_minute + time::Duration::seconds(30);
    let tick = eval.tick(at).await.unwrap();
    let fired: Vec<_> = tick
        .transitions
        .iter()
        .map(|t| (t.alert.labels["service"].as_str(), t.alert.status))
        .collect();
    assert_eq!(fired, [("api", Status::Firing)], "web is still warming up");
    let summary = &tick.transitions[0].alert.summary;
    assert!(
        summary.starts_with("80 requests a minute on api, expected "),
        "{summary}"
    );
    let band: Vec<f64> = summary["80 requests a minute on api, expected ".len()..]
        .split(" for ")
        .next()
        .unwrap()
        .split('-')
        .map(|x| x.parse().unwrap())
        .collect();
    assert!(
        band[0] <= 10.0 && band[1] < 30.0,
        "the usual band: {summary}"
    );
    assert!(summary.ends_with(" UTC"), "{summary}");

    // Read again from the counters alone, by another evaluator: the same verdict.
    let again = anomaly_rules::verdicts(&Reader::new(&counters), &rules.rules[0], at)
        .await
        .unwrap();
    let mut other =
        evaluator_of(&stack, &redis, rules.clone(), sources(&counters), &settings).await;
    let first = anomaly_rules::verdicts(&Reader::new(&counters), &rules.rules[0], at)
        .await
        .unwrap();
    assert_eq!(again, first);
    assert!(
        other.tick(at).await.unwrap().transitions.is_empty(),
        "nothing new"
    );
}

/// `GET /api/anomalies` over traffic ingested through the API: each series of
/// the anomaly rules with its verdict, the warm one scored, the new one said to
/// be warming up; an unknown rule is refused by name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_lists_each_series_verdict_and_which_are_warming_up() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.toml");
    std::fs::write(&rules, RULES_WITH_TIMING).unwrap();
    let api = sightline_tests::api::ApiStack::start(&format!(
        "[alerts]\nrules_file = \"{}\"\n",
        rules.display()
    ))
    .await;
    let this_minute = OffsetDateTime::now_utc()
        .replace_second(0)
        .unwrap()
        .replace_nanosecond(0)
        .unwrap();
    let minute = |back: u64| this_minute - time::Duration::minutes(back as i64);
    let mut body = Vec::new();
    for back in (1..=240).rev() {
        let mut events: Vec<Event> = requests("api", minute(back), usual(back)).collect();
        if back <= 60 {
            events.extend(requests("web", minute(back), usual(back)));
        }
        for e in events {
            body.extend(serde_json::to_vec(&e).unwrap());
            body.push(b'\n');
        }
    }
    let sent = api
        .post(
            "/api/logs/ingest",
            "application/x-ndjson",
            body,
            Some(sightline_tests::api::OPERATOR_KEY),
        )
        .await;
    assert_eq!(sent.status, 200, "{}", sent.text);
    let listed = || async {
        let r = api.get("/api/anomalies").await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.json["series"].as_array().unwrap().clone()
    };
    assert!(
        sightline_tests::eventually(std::time::Duration::from_secs(30), || async {
            listed()
                .await
                .iter()
                .any(|s| s["labels"]["service"] == "api" && s["points"].as_u64() >= Some(230))
        })
        .await,
        "{:?}",
        listed().await
    );
    let series = listed().await;
    let of = |service: &str| {
        series
            .iter()
            .find(|s| s["labels"]["service"] == service)
            .unwrap_or_else(|| panic!("{service}: {series:?}"))
            .clone()
    };
    let (api_series, web) = (of("api"), of("web"));
    assert_eq!(api_series["rule"], "TrafficUnusual");
    assert_eq!(api_series["warm"], true);
    assert_eq!(api_series["anomalous"], false, "{api_series}");
    assert!(api_series["low"].as_f64() <= api_series["observed"].as_f64());
    assert!(api_series["sentence"]
        .as_str()
        .unwrap()
        .contains(" requests a minute on api, expected "));
    assert_eq!(web["warm"], false, "60 points: warming up");
    let r = api.get("/api/anomalies?rule=Nope").await;
    assert_eq!(r.status, 404);
    assert!(r.error_message().contains("\"Nope\""), "{}", r.text);
}
