//! The real `sightline worker fraud` and `fraud-store` processes against a real
//! nats-server: detections end up exactly as a straight in-memory scoring of the
//! same events says, across a SIGKILL, a redelivery and a replay of both
//! projections; a burst that spans a restart is still caught.

use std::collections::HashMap;
use std::time::Duration;

use async_nats::jetstream::consumer::AckPolicy;

use sightline_fraud::settings::snapshot_path;
use sightline_fraud::store::sqlite::SqliteStore;
use sightline_fraud::store::DetectionStore;
use sightline_fraud::Rules;
use sightline_schemas::{Body, Decimal, Event, OffsetDateTime, Transaction, TxStatus, Uuid};
use sightline_tests::{eventually, fraud_traffic, straight_scoring, Stack};

const SCORER_ENV: &[(&str, &str)] = &[
    ("SIGHTLINE_FRAUD__BATCH_SIZE", "500"),
    ("SIGHTLINE_FRAUD__SNAPSHOT_EVERY", "100ms"),
];

fn store_path(stack: &Stack) -> std::path::PathBuf {
    stack.path("data/fraud/detections.sqlite")
}

async fn stored(stack: &Stack) -> u64 {
    match SqliteStore::open_read_only(&store_path(stack)) {
        Ok(store) => store.count().await.unwrap_or(0),
        Err(_) => 0,
    }
}

async fn matches_expected(stack: &Stack, expected: &HashMap<Uuid, (u32, u8)>) {
    sightline_tests::detections_are(&store_path(stack), expected).await;
}

async fn wait_for(stack: &Stack, consumer_stream: &str, consumer: &str, detections: usize) {
    let done = eventually(Duration::from_secs(120), || async {
        stack.consumer_caught_up(consumer_stream, consumer).await
            && stored(stack).await == detections as u64
    })
    .await;
    assert!(done, "stored {} of {detections}", stored(stack).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn detections_are_exact_across_a_kill_a_redelivery_and_a_replay() {
    let stack = Stack::start().await;
    let (events, scored) = fraud_traffic(41, 30_000);
    stack.publish(&events).await;
    let expected = straight_scoring(&scored);
    assert!(
        expected.len() > 200,
        "the traffic has fraud: {}",
        expected.len()
    );

    let store_worker = stack.worker("fraud-store", &[]);
    let first = stack.worker("fraud", SCORER_ENV);
    let started = eventually(Duration::from_secs(60), || async {
        stored(&stack).await >= 40
    })
    .await;
    let mut first = first;
    first.kill();
    assert!(
        started && stored(&stack).await < expected.len() as u64,
        "killed mid-stream"
    );

    let second = stack.worker("fraud", SCORER_ENV);
    wait_for(&stack, "LOGS", "fraud", expected.len()).await;
    matches_expected(&stack, &expected).await;
    let on_fraud = stack.stream_messages("FRAUD").await;
    // Exact although the scorer acks nothing: it restarted from its snapshot.
    let logs = stack.bus.js.get_stream("LOGS").await.unwrap();
    let scorer = logs.consumer_info("fraud").await.unwrap();
    assert_eq!(scorer.config.ack_policy, AckPolicy::None);

    // Replay the scorer from scratch: same ids and message ids, so FRAUD takes
    // nothing new and the store is unchanged.
    second.stop();
    std::fs::remove_file(snapshot_path(&stack.settings.data_dir)).unwrap();
    logs.delete_consumer("fraud").await.unwrap();
    let replay = stack.worker("fraud", SCORER_ENV);
    wait_for(&stack, "LOGS", "fraud", expected.len()).await;
    assert_eq!(
        stack.stream_messages("FRAUD").await,
        on_fraud,
        "replayed detections are duplicates"
    );
    replay.stop();

    // Replay the store projection: every detection is upserted again, nothing doubles.
    store_worker.stop();
    let fraud = stack.bus.js.get_stream("FRAUD").await.unwrap();
    fraud.delete_consumer("fraud-store").await.unwrap();
    let store_worker = stack.worker("fraud-store", &[]);
    wait_for(&stack, "FRAUD", "fraud-store", expected.len()).await;
    matches_expected(&stack, &expected).await;
    store_worker.stop();

    // The operator's view of the same store.
    let list = stack.sightline(
        &[
            "fraud",
            "list",
            "--min-score",
            "50",
            "--limit",
            "5",
            "--json",
        ],
        None,
    );
    assert!(
        list.status.success(),
        "{}",
        String::from_utf8_lossy(&list.stderr)
    );
    let listed: Vec<serde_json::Value> = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(listed.len(), 5);
    assert!(listed.iter().all(|d| d["score"].as_u64().unwrap() >= 50));
    let stats = stack.sightline(&["fraud", "stats", "--json"], None);
    let stats: serde_json::Value = serde_json::from_slice(&stats.stdout).unwrap();
    assert_eq!(stats["detections"].as_u64(), Some(expected.len() as u64));
    let suspicious = expected.values().filter(|(_, s)| *s >= 50).count() as u64;
    assert_eq!(stats["suspicious"].as_u64(), Some(suspicious));
}

fn payment(n: u32, at: OffsetDateTime) -> Event {
    let tx = Transaction {
        transaction_id: format!("tx-burst-{n}"),
        user_id: "u-burst".into(),
        amount: Decimal::new(4_000, 2),
        currency: "EUR".into(),
        payment_method: "card".into(),
        status: TxStatus::Completed,
        order_id: None,
        ip: Some([85, 214, 1, 2].into()),
        country: Some("DE".into()),
        billing_country: Some("DE".into()),
        lat: Some(52.52),
        lon: Some(13.40),
        card_fingerprint: Some("fp_burst".into()),
        failure_reason: None,
    };
    Event::at(at, "payments", Body::Transaction(tx))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_that_spans_a_restart_is_still_detected() {
    let stack = Stack::start().await;
    let t0 = OffsetDateTime::now_utc() - Duration::from_secs(60);
    let burst: Vec<Event> = (0..5)
        .map(|i| payment(i, t0 + time::Duration::seconds(i64::from(i) * 8)))
        .collect();
    let store_worker = stack.worker("fraud-store", &[]);
    let mut first = stack.worker("fraud", SCORER_ENV);
    // Three payments: nothing to report yet (the rule wants more than three).
    stack.publish(&burst[..3]).await;
    let seen = eventually(Duration::from_secs(30), || async {
        stack.consumer_caught_up("LOGS", "fraud").await
            && snapshot_path(&stack.settings.data_dir).exists()
    })
    .await;
    assert!(seen, "the first part was scored and saved");
    assert_eq!(stack.stream_messages("FRAUD").await, 0);
    first.kill();

    // Two more after the restart: the window remembers the first three.
    let second = stack.worker("fraud", SCORER_ENV);
    stack.publish(&burst[3..]).await;
    wait_for(&stack, "LOGS", "fraud", 5).await;
    let store = SqliteStore::open_read_only(&store_path(&stack)).unwrap();
    for i in 0..5 {
        let id = sightline_schemas::Detection::id_for(
            &format!("tx-burst-{i}"),
            &Rules::default().version,
        );
        let d = store
            .get(&id)
            .await
            .unwrap()
            .expect("every payment of the burst is flagged");
        assert!(d.has("velocity") && d.score >= 50, "{d:?}");
        assert_eq!(
            d.revision,
            u32::from(i < 3),
            "the first three are revisions"
        );
    }
    second.stop();
    store_worker.stop();
}
