//! The alertmanager-format receiver against a real Alertmanager (Debian's
//! prometheus-alertmanager): what the evaluator sends is what Alertmanager then
//! holds, active while the alert fires and resolved once it has ended.

use std::time::Duration;

use sightline_alerts::notify::Delivery;
use sightline_counters::{Layout, RedisStore};
use sightline_runtime::config::{AlertsSettings, CountersSettings, ReceiverFormat};
use sightline_schemas::OffsetDateTime;
use sightline_tests::alertmanager::AlertmanagerPeer;
use sightline_tests::{eventually, Redis, Stack};

use crate::alerts::{count, evaluator, receiver, traffic};

async fn held(am: &AlertmanagerPeer, query: &str) -> Vec<serde_json::Value> {
    let url = format!("{}/api/v2/alerts{query}", am.url());
    let body: serde_json::Value = reqwest::get(&url).await.unwrap().json().await.unwrap();
    body.as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alertmanager_holds_the_alert_while_it_fires_and_resolves_it_after() {
    let am = AlertmanagerPeer::start();
    let settings = AlertsSettings {
        receivers: vec![receiver(
            "am",
            format!("{}/api/v2/alerts", am.url()),
            ReceiverFormat::Alertmanager,
        )],
        generator_url: "http://sightline.example/".into(),
        ..AlertsSettings::default()
    };
    let stack = Stack::start().await;
    let redis = Redis::start(false);
    let layout = Layout::new(&CountersSettings::default()).unwrap();
    let counters = RedisStore::connect(&redis.url(), layout).await.unwrap();
    // Evaluated ten minutes back, so the resolution is in the past for Alertmanager.
    let t0 = OffsetDateTime::now_utc() - Duration::from_secs(600);
    count(&counters, traffic("api", 100, 20, t0), 1).await;
    let at = |secs: i64| t0 + time::Duration::seconds(secs);
    let mut eval = evaluator(&stack, &redis, &counters, &settings).await;
    eval.tick(t0).await.unwrap();
    eval.tick(at(120)).await.unwrap();
    let tick = eval.tick(at(150)).await.unwrap();
    assert!(
        matches!(tick.deliveries[..], [Delivery::Delivered { .. }]),
        "{:?}",
        tick.deliveries
    );
    let alerts = held(&am, "").await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let a = &alerts[0];
    assert_eq!(a["labels"]["alertname"], "HighErrorRate");
    assert_eq!(a["labels"]["service"], "api");
    assert_eq!(a["labels"]["severity"], "P2");
    assert_eq!(a["status"]["state"], "active");
    assert_eq!(
        a["annotations"]["summary"],
        "errors are 20.0% of requests on api"
    );
    assert_eq!(a["generatorURL"], "http://sightline.example/");
    let fired = &tick.notifications[0].alerts[0];
    let starts = time::OffsetDateTime::parse(
        a["startsAt"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert_eq!(
        starts.unix_timestamp(),
        fired.firing_since.unwrap().unix_timestamp()
    );

    // The errors leave the window: the resolution ends it in Alertmanager.
    let tick = eval.tick(at(460)).await.unwrap();
    assert!(matches!(tick.deliveries[..], [Delivery::Delivered { .. }]));
    assert!(
        eventually(Duration::from_secs(10), || async {
            held(&am, "?active=true").await.is_empty()
        })
        .await,
        "no longer active: {:?}",
        held(&am, "").await
    );
}
