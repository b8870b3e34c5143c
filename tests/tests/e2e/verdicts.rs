//! Analysts' verdicts end to end: given through the API (operator role) and the
//! CLI, carried by FRAUD to the real fraud-store worker, shown with the detection
//! and in the precision stats, and still there after the store is rebuilt from
//! the stream.

use std::time::Duration;

use axum::body::Body;
use axum::http::Method;
use bytes::Bytes;
use sightline_fraud::store::configured::{Access, ConfiguredDetections};
use sightline_fraud::store::{DetectionQuery, DetectionStore};
use sightline_node::stores::live_version;
use sightline_runtime::publisher::Prepared;
use sightline_runtime::versions::Target;
use sightline_schemas::{Detection, Encoding, VerdictKind};
use sightline_tests::api::{OPERATOR_KEY, READER_KEY};
use sightline_tests::app::App;
use sightline_tests::{detections_suite, eventually};

/// Publishes `batch` to FRAUD, as the scorer does.
async fn publish_detections(app: &App, batch: &[Detection]) {
    let publisher =
        sightline_runtime::publisher::Publisher::new(&app.stack.bus, &app.stack.settings.publisher);
    let mut pipeline = publisher.pipeline();
    for d in batch {
        let prepared = Prepared {
            subject: d.subject(),
            message_id: d.message_id(),
            encoding: Encoding::MsgPack,
            payload: Bytes::from(d.encode(Encoding::MsgPack).unwrap()),
        };
        pipeline.send_prepared(prepared).await.unwrap();
    }
    pipeline.finish().await.unwrap();
}

/// The live detections store, every detection with its verdict.
async fn stored(app: &App) -> Vec<Detection> {
    let s = &app.stack.settings;
    let Ok(version) = live_version(s, Target::Fraud).await else {
        return Vec::new();
    };
    let opened = ConfiguredDetections::open(&s.fraud, &s.data_dir, version, Access::ReadOnly);
    let Ok(store) = opened.await else {
        return Vec::new();
    };
    let all = DetectionQuery {
        limit: 1000,
        ..Default::default()
    };
    store.list(&all).await.unwrap_or_default()
}

fn verdict_of(list: &[Detection], tx: &str) -> Option<VerdictKind> {
    list.iter()
        .find(|d| d.transaction_id == tx)
        .and_then(|d| d.verdict.as_ref().map(|v| v.verdict))
}

async fn post(
    app: &App,
    id: &str,
    key: &str,
    body: serde_json::Value,
) -> sightline_tests::api::Reply {
    let uri = format!("/api/fraud/detections/{id}/verdict");
    app.call(Method::POST, &uri, Some(key), Body::from(body.to_string()))
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verdicts_reach_the_store_count_in_the_stats_and_survive_a_rebuild() {
    let app = App::start().await;
    let fixture = detections_suite::fixture();
    publish_detections(&app, &fixture).await;
    let store_worker = app.stack.worker("fraud-store", &[]);
    let all_stored = eventually(Duration::from_secs(60), || async {
        stored(&app).await.len() == 40
    })
    .await;
    assert!(all_stored, "the fixture reached the store");

    let (four, ten) = (&fixture[4], &fixture[10]);
    let body = serde_json::json!({ "verdict": "confirmed", "analyst": "ana", "note": "chargeback 4111 1111 1111 1111" });
    let r = post(&app, &four.id.to_string(), OPERATOR_KEY, body.clone()).await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(r.json["verdict"]["transaction_id"], "tx-004", "{}", r.text);
    assert!(
        !r.text.contains("4111 1111"),
        "the note is masked: {}",
        r.text
    );
    // Refusals, each in the one error shape.
    let refused = post(&app, &four.id.to_string(), READER_KEY, body.clone()).await;
    assert_eq!(refused.status, 403, "{}", refused.text);
    let unknown = post(
        &app,
        &sightline_schemas::Uuid::nil().to_string(),
        OPERATOR_KEY,
        body,
    )
    .await;
    assert_eq!(unknown.status, 404, "{}", unknown.text);
    let bad = serde_json::json!({ "verdict": "maybe", "analyst": "ana" });
    let bad = post(&app, &four.id.to_string(), OPERATOR_KEY, bad).await;
    assert_eq!(bad.status, 400, "{}", bad.text);
    assert!(
        bad.json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("verdict"),
        "{}",
        bad.text
    );

    // The CLI, on another detection.
    let id = ten.id.to_string();
    let args = ["fraud", "verdict", &id, "false-positive", "--analyst", "bo"];
    let out = app.stack.sightline(&args, None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let both = eventually(Duration::from_secs(30), || async {
        let list = stored(&app).await;
        verdict_of(&list, "tx-004") == Some(VerdictKind::Confirmed)
            && verdict_of(&list, "tx-010") == Some(VerdictKind::FalsePositive)
    })
    .await;
    assert!(both, "the worker stored both verdicts");
    let stats = app.get("/api/fraud/stats").await;
    assert_eq!(stats.status, 200, "{}", stats.text);
    let judged = &stats.json["verdicts"];
    assert_eq!(
        (
            judged["all"]["confirmed"].as_u64(),
            judged["all"]["false_positive"].as_u64()
        ),
        (Some(1), Some(1)),
        "{}",
        stats.text
    );
    assert_eq!(
        judged["by_indicator"]["velocity"]["precision"], 0.5,
        "{}",
        stats.text
    );

    // A rebuild of the store from FRAUD keeps them: they are events on the stream.
    let out = app
        .stack
        .sightline(&["replay", "--projection", "fraud"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        live_version(&app.stack.settings, Target::Fraud)
            .await
            .unwrap()
            > 0,
        "a new version"
    );
    let rebuilt = stored(&app).await;
    assert_eq!(rebuilt.len(), 40);
    assert_eq!(verdict_of(&rebuilt, "tx-004"), Some(VerdictKind::Confirmed));
    assert_eq!(
        verdict_of(&rebuilt, "tx-010"),
        Some(VerdictKind::FalsePositive)
    );
    assert_eq!(rebuilt.iter().filter(|d| d.verdict.is_some()).count(), 2);
    store_worker.stop();
}
