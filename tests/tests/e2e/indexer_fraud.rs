//! The real `sightline worker indexer` indexes the fraud detections the real scorer
//! publishes to FRAUD: one document per detection, holding its latest revision,
//! and a lost consumer resumes from the index's FRAUD watermark without duplicates.

use std::collections::HashMap;
use std::time::Duration;

use sightline_schemas::Uuid;
use sightline_search::query::{DocKind, Filters, SearchRequest};
use sightline_search::store::tantivy::TantivyStore;
use sightline_search::store::{SearchStore, Source};
use sightline_tests::{eventually, fraud_traffic, straight_scoring, Stack};

/// Whether the index has applied all of `stream` from `source` (the indexer acks
/// nothing: its watermark is its position).
async fn indexed_through_head(stack: &Stack, stream: &str, source: Source) -> bool {
    let Ok(store) = TantivyStore::open_read_only(&stack.path("data/search/tantivy")) else {
        return false;
    };
    let head = stack.stream_head(stream).await;
    store
        .watermark(source)
        .await
        .is_ok_and(|w| w.is_some_and(|w| w >= head))
}

/// Detection documents in the index: id -> score (read from the message).
async fn indexed_detections(stack: &Stack) -> HashMap<Uuid, u8> {
    let Ok(store) = TantivyStore::open_read_only(&stack.path("data/search/tantivy")) else {
        return HashMap::new();
    };
    let request = SearchRequest {
        filters: Filters {
            kinds: vec![DocKind::FraudDetection],
            ..Filters::default()
        },
        size: 1000,
        ..SearchRequest::default()
    };
    let Ok(found) = store.search(&request).await else {
        return HashMap::new();
    };
    found
        .hits
        .iter()
        .map(|h| {
            let score = h
                .message
                .strip_prefix("fraud score ")
                .and_then(|rest| rest.split(' ').next())
                .and_then(|n| n.parse().ok())
                .unwrap_or(u8::MAX);
            (h.id, score)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn detections_from_fraud_are_indexed_once_at_their_latest_revision() {
    let stack = Stack::start().await;
    let (events, scored) = fraud_traffic(43, 15_000);
    stack.publish(&events).await;
    let expected: HashMap<Uuid, u8> = straight_scoring(&scored)
        .into_iter()
        .map(|(id, (_, score))| (id, score))
        .collect();
    assert!(
        expected.len() > 50 && expected.len() <= 1000,
        "{}",
        expected.len()
    );

    let scorer = stack.worker("fraud", &[("SIGHTLINE_FRAUD__BATCH_SIZE", "500")]);
    let indexer = stack.worker("indexer", &[("SIGHTLINE_SEARCH__BATCH_SIZE", "500")]);
    let done = eventually(Duration::from_secs(120), || async {
        stack.consumer_caught_up("LOGS", "fraud").await
            && indexed_through_head(&stack, "LOGS", Source::Logs).await
            && indexed_through_head(&stack, "FRAUD", Source::Fraud).await
            && indexed_detections(&stack).await.len() == expected.len()
    })
    .await;
    assert!(
        done,
        "indexed {} of {}",
        indexed_detections(&stack).await.len(),
        expected.len()
    );
    scorer.stop();
    indexer.stop();
    assert_eq!(indexed_detections(&stack).await, expected);

    // The FRAUD consumer lost: the indexer resumes after the index's FRAUD
    // watermark and adds nothing twice.
    let fraud = stack.bus.js.get_stream("FRAUD").await.unwrap();
    fraud.delete_consumer("indexer-fraud").await.unwrap();
    let store = TantivyStore::open_read_only(&stack.path("data/search/tantivy")).unwrap();
    let on_fraud = stack.stream_messages("FRAUD").await;
    assert_eq!(
        store.watermark(Source::Fraud).await.unwrap(),
        Some(on_fraud)
    );
    let before = store.count().await.unwrap();
    let indexer = stack.worker("indexer", &[]);
    assert!(
        eventually(Duration::from_secs(30), || async {
            stack.consumer_caught_up("FRAUD", "indexer-fraud").await
        })
        .await
    );
    indexer.stop();
    let store = TantivyStore::open_read_only(&stack.path("data/search/tantivy")).unwrap();
    assert_eq!(store.count().await.unwrap(), before);
    assert_eq!(indexed_detections(&stack).await, expected);
}
