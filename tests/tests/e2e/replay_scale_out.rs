//! `sightline replay` on the scale-out backends: the search index in Elasticsearch
//! (the osmem emulator) and the detections in MongoDB (SecantusDB). Each, corrupted,
//! is rebuilt into a new index or collection equal to the live workers' build; the
//! old one is dropped and the read commands follow the new one.

use std::collections::BTreeMap;
use std::time::Duration;

use sightline_fraud::store::configured::mongodb_at;
use sightline_fraud::store::mongo::MongoStore;
use sightline_runtime::config::{FraudBackend, SearchBackend, Secret};
use sightline_runtime::Settings;
use sightline_schemas::OffsetDateTime;
use sightline_search::store::configured::elasticsearch_at;
use sightline_search::store::elasticsearch::ElasticsearchStore;
use sightline_search::store::SearchStore;
use sightline_tests::{
    eventually, fraud_traffic, last_json_line, MongoPeer, SearchEmulator, SearchPeer, Stack,
};

/// Every detection in `version` of the collection: id -> (revision, score).
async fn detections(settings: &Settings, version: u64) -> BTreeMap<String, (u32, u8)> {
    let store = MongoStore::connect(&mongodb_at(&settings.fraud.mongodb, version))
        .await
        .expect("MongoDB connects");
    sightline_tests::detections_suite::verdicts(&store).await
}

/// `sightline search --count` on the stack: documents in the live index.
fn indexed(stack: &Stack, env: &[(&str, &str)]) -> u64 {
    let out = run(stack, &["search", "--count"], env);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("a count")
}

async fn es_json(url: &str, path: &str) -> serde_json::Value {
    let response = reqwest::get(format!("{url}{path}"))
        .await
        .expect("the emulator answers");
    response.json().await.expect("a JSON answer")
}

fn run(stack: &Stack, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = stack.command(args);
    cmd.envs(env.iter().copied());
    cmd.output().expect("sightline runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_rebuilds_an_elasticsearch_index_and_a_mongodb_collection() {
    let stack = Stack::start().await;
    let search = SearchPeer::start(SearchEmulator::Osmem);
    let mongo = MongoPeer::start();
    let (es_url, mongo_uri) = (search.url(), mongo.uri());
    let env = [
        ("SIGHTLINE_SEARCH__BACKEND", "elasticsearch"),
        ("SIGHTLINE_SEARCH__ELASTICSEARCH__URL", es_url.as_str()),
        ("SIGHTLINE_SEARCH__ELASTICSEARCH__REPLICAS", "0"),
        ("SIGHTLINE_SEARCH__ELASTICSEARCH__REFRESH_ON_WRITE", "true"),
        ("SIGHTLINE_FRAUD__BACKEND", "mongodb"),
        ("SIGHTLINE_FRAUD__MONGODB__URI", mongo_uri.as_str()),
        ("SIGHTLINE_CONSUMER__BATCH_LINGER", "20ms"),
    ];
    let mut settings = stack.settings.clone();
    settings.search.backend = SearchBackend::Elasticsearch;
    settings.search.elasticsearch.url = es_url.clone();
    settings.search.elasticsearch.replicas = 0;
    settings.search.elasticsearch.refresh_on_write = true;
    settings.fraud.backend = FraudBackend::Mongodb;
    settings.fraud.mongodb.uri = Secret(mongo_uri.clone());
    let _workers: Vec<_> = ["indexer", "fraud", "fraud-store"]
        .into_iter()
        .map(|w| stack.worker(w, &env))
        .collect();
    let (events, _) = fraud_traffic(31, 2000);
    stack.publish(&events).await;
    let settled = eventually(Duration::from_secs(60), || async {
        let mut all = true;
        for (stream, name) in [
            ("LOGS", "fraud"),
            ("LOGS", "indexer"),
            ("FRAUD", "indexer-fraud"),
            ("FRAUD", "fraud-store"),
        ] {
            all &= stack.consumer_caught_up(stream, name).await;
        }
        all && stack.stream_messages("FRAUD").await > 0
    })
    .await;
    assert!(settled, "the workers did not catch up");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let fresh_index = indexed(&stack, &env);
    let fresh_detections = detections(&settings, 0).await;
    assert_eq!(fresh_index, 2000 + fresh_detections.len() as u64);
    assert!(!fresh_detections.is_empty());

    // Corrupt both: documents lost, a detection overwritten with a wrong score.
    let live = ElasticsearchStore::connect(&elasticsearch_at(&settings.search.elasticsearch, 0))
        .await
        .unwrap();
    let cutoff = OffsetDateTime::now_utc() - Duration::from_secs(3600) + Duration::from_secs(2);
    assert!(live.delete_before(cutoff).await.unwrap() > 0);
    let mongo_v0 = MongoStore::connect(&mongodb_at(&settings.fraud.mongodb, 0))
        .await
        .unwrap();
    sightline_tests::detections_suite::corrupt_one(&mongo_v0).await;
    assert!(indexed(&stack, &env) < fresh_index);
    assert_ne!(detections(&settings, 0).await, fresh_detections);

    for projection in ["search", "fraud"] {
        let out = run(&stack, &["replay", "--projection", projection], &env);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report = last_json_line(&out);
        assert_eq!(report["projections"][0]["version"], 1, "{report}");
    }
    assert_eq!(detections(&settings, 1).await, fresh_detections);
    assert!(
        detections(&settings, 0).await.is_empty(),
        "the old collection is dropped"
    );
    assert_eq!(indexed(&stack, &env), fresh_index);
    // Outside readers (Kibana) read the configured prefix as an alias: it moved to the
    // rebuilt indices, and daily indices created from now on join it too.
    let public = es_json(&es_url, "/_alias/sightline-logs").await;
    let holders: Vec<&String> = public
        .as_object()
        .map(|o| o.keys().collect())
        .unwrap_or_default();
    assert!(
        !holders.is_empty() && holders.iter().all(|i| i.starts_with("sightline-logs_v1-")),
        "{public}"
    );
    let counted = es_json(&es_url, "/sightline-logs/_count").await;
    assert_eq!(counted["count"].as_u64(), Some(fresh_index), "{counted}");
    let template = es_json(&es_url, "/_index_template/sightline-logs_v1").await;
    let aliases = &template["index_templates"][0]["index_template"]["template"]["aliases"];
    assert!(aliases.get("sightline-logs").is_some(), "{template}");
    let old = reqwest::get(format!("{es_url}/sightline-logs-*"))
        .await
        .unwrap();
    let status = old.status().as_u16();
    let body: serde_json::Value = old.json().await.unwrap_or_default();
    let left = body.as_object().map_or(0, |o| o.len());
    assert!(
        status == 404 || left == 0,
        "old indices remain: {status} {body}"
    );

    // Live workers write the new versions.
    let (more, _) = fraud_traffic(32, 300);
    stack.publish(&more).await;
    assert!(
        eventually(Duration::from_secs(30), || async {
            indexed(&stack, &env) >= fresh_index + 300
        })
        .await,
        "new events reach the rebuilt index: {}",
        indexed(&stack, &env)
    );
}
