//! The scorer killed with SIGKILL at several points (mid-batch, once idle after its
//! last batch, right after a save) and restarted each time after FRAUD's and DLQ's
//! duplicate windows have passed: every reader of FRAUD (the detections store, the
//! counters, the index) ends as a crash-free scoring of the same events says, and the
//! scorer's one poison message is dead-lettered once.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use sightline_counters::layout::Layout;
use sightline_counters::{Reader, RedisStore, Window};
use sightline_fraud::project::read_snapshot;
use sightline_fraud::settings::snapshot_path;
use sightline_fraud::store::sqlite::SqliteStore;
use sightline_fraud::store::DetectionStore;
use sightline_fraud::{Rules, Scorer};
use sightline_runtime::config::CountersSettings;
use sightline_schemas::{Event, Uuid};
use sightline_search::query::{DocKind, Filters, SearchRequest};
use sightline_search::store::tantivy::TantivyStore;
use sightline_search::store::SearchStore;
use sightline_tests::{eventually, fraud_traffic, straight_scoring, Redis, Stack, WorkerProcess};

/// The windows the restarts wait out: only idempotent readers survive them.
const WINDOW: Duration = Duration::from_millis(500);

const SCORER_ENV: &[(&str, &str)] = &[
    ("SIGHTLINE_FRAUD__BATCH_SIZE", "500"),
    // Never due while the test runs: the saves are the first batch's, the idle
    // ones and a clean stop's.
    ("SIGHTLINE_FRAUD__SNAPSHOT_EVERY", "1h"),
];

async fn shorten_duplicate_window(stack: &Stack, stream: &str) {
    let mut s = stack.bus.js.get_stream(stream).await.unwrap();
    let mut config = s.info().await.unwrap().config.clone();
    config.duplicate_window = WINDOW;
    stack.bus.js.update_stream(config).await.unwrap();
}

/// Indicator name -> detections that had it in any revision, from a crash-free
/// in-memory scoring.
fn indicators_of(scored: &[Event]) -> BTreeMap<String, u64> {
    let mut scorer = Scorer::new(Rules::default());
    let mut by_id: HashMap<Uuid, BTreeSet<String>> = HashMap::new();
    for e in scored {
        for d in scorer.observe(e) {
            by_id
                .entry(d.id)
                .or_default()
                .extend(d.indicators.into_iter().map(|i| i.name));
        }
    }
    let mut counts = BTreeMap::new();
    for name in by_id.into_values().flatten() {
        *counts.entry(name).or_default() += 1;
    }
    counts
}

/// The snapshot's LOGS sequence on disk.
fn saved_seq(stack: &Stack) -> u64 {
    let path = snapshot_path(&stack.settings.data_dir);
    read_snapshot(&path, &Rules::default())
        .unwrap()
        .map_or(0, |(seq, _)| seq)
}

async fn stored(stack: &Stack) -> u64 {
    match SqliteStore::open_read_only(&stack.path("data/fraud/detections.sqlite")) {
        Ok(store) => store.count().await.unwrap_or(0),
        Err(_) => 0,
    }
}

async fn indexed_detections(stack: &Stack) -> usize {
    let store = TantivyStore::open_read_only(&stack.path("data/search/tantivy")).unwrap();
    let request = SearchRequest {
        filters: Filters {
            kinds: vec![DocKind::FraudDetection],
            ..Filters::default()
        },
        size: 1000,
        ..SearchRequest::default()
    };
    store.search(&request).await.unwrap().hits.len()
}

async fn readers_caught_up(stack: &Stack) -> bool {
    for consumer in ["fraud-store", "counters-fraud", "indexer-fraud"] {
        if !stack.consumer_caught_up("FRAUD", consumer).await {
            return false;
        }
    }
    true
}

/// Restarts the scorer and waits until it has saved everything LOGS holds.
async fn scorer_through_head(stack: &Stack) -> WorkerProcess {
    let scorer = stack.worker("fraud", SCORER_ENV);
    assert!(
        eventually(Duration::from_secs(120), || async {
            stack.consumer_caught_up("LOGS", "fraud").await
        })
        .await,
        "the scorer catches up"
    );
    // Its reported position is the saved one: caught up means saved, through the
    // last message its filter delivered.
    let logs = stack.bus.js.get_stream("LOGS").await.unwrap();
    let delivered = logs
        .consumer_info("fraud")
        .await
        .unwrap()
        .delivered
        .stream_sequence;
    assert_eq!(saved_seq(stack), delivered, "saved when it went idle");
    scorer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_of_fraud_are_exact_after_scorer_crashes_past_the_duplicate_window() {
    let stack = Stack::start().await;
    let redis = Redis::start(false);
    shorten_duplicate_window(&stack, "FRAUD").await;
    shorten_duplicate_window(&stack, "DLQ").await;
    let (events, scored) = fraud_traffic(43, 24_000);
    let (first, second) = events.split_at(16_000);
    stack.publish(&first[..8_000]).await;
    stack.publish_undecodable("logs.transaction.payments").await;
    stack.publish(&first[8_000..]).await;

    let url = redis.url();
    let redis_env = [("SIGHTLINE_REDIS__URL", url.as_str())];
    let _store = stack.worker("fraud-store", &[]);
    let _counters = stack.worker("counters", &redis_env);
    let _indexer = stack.worker("indexer", &[]);

    // 1. Mid-stream, with detections published beyond the first save.
    let mut scorer = stack.worker("fraud", SCORER_ENV);
    assert!(
        eventually(Duration::from_secs(60), || async {
            stored(&stack).await >= 30
        })
        .await,
        "the scorer publishes"
    );
    scorer.kill();
    tokio::time::sleep(WINDOW * 3).await;

    // 2. Idle after its last batch: the restart then publishes nothing again.
    let mut scorer = scorer_through_head(&stack).await;
    assert!(eventually(Duration::from_secs(60), || readers_caught_up(&stack)).await);
    let fraud_messages = stack.stream_messages("FRAUD").await;
    scorer.kill();
    tokio::time::sleep(WINDOW * 3).await;
    let mut scorer = scorer_through_head(&stack).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        stack.stream_messages("FRAUD").await,
        fraud_messages,
        "a restart after an idle save republishes nothing"
    );

    // 3. Right after a save: more traffic, killed as soon as the snapshot moves.
    let before = stack.stream_head("LOGS").await;
    stack.publish(second).await;
    assert!(
        eventually(Duration::from_secs(60), || async {
            saved_seq(&stack) > before
        })
        .await
    );
    scorer.kill();
    tokio::time::sleep(WINDOW * 3).await;
    let _scorer = scorer_through_head(&stack).await;
    assert!(eventually(Duration::from_secs(60), || readers_caught_up(&stack)).await);

    // Every reader as a crash-free run says.
    let expected = straight_scoring(&scored);
    assert!(
        expected.len() > 100,
        "fraud in the traffic: {}",
        expected.len()
    );
    sightline_tests::detections_are(&stack.path("data/fraud/detections.sqlite"), &expected).await;
    assert_eq!(indexed_detections(&stack).await, expected.len());
    let counters = RedisStore::connect(&url, Layout::new(&CountersSettings::default()).unwrap())
        .await
        .unwrap();
    let reader = Reader::new(&counters);
    let window = Window::ending_now(Duration::from_secs(3 * 3600)).unwrap();
    let count = |selector: String| {
        let reader = &reader;
        async move { reader.count(&selector, window).await.unwrap().value }
    };
    assert_eq!(
        count("fraud=detection".into()).await,
        expected.len() as u64,
        "detections counted once each"
    );
    for (name, n) in indicators_of(&scored) {
        assert_eq!(count(format!("fraud_indicator={name}")).await, n, "{name}");
    }
    // The poison message: one letter from the scorer, however often it was delivered.
    let letters = stack.sightline(&["dlq", "list", "--consumer", "fraud", "--json"], None);
    let letters: serde_json::Value = serde_json::from_slice(&letters.stdout).unwrap();
    assert_eq!(letters.as_array().map(Vec::len), Some(1), "{letters}");
}
