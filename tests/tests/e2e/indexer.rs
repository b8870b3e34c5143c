//! The real `sightline worker indexer` process against a real nats-server: killed
//! mid-stream and restarted, it ends with exactly one document per event.

use std::time::Duration;

use async_nats::jetstream::consumer::AckPolicy;
use sightline_schemas::Body;
use sightline_search::store::tantivy::TantivyStore;
use sightline_search::store::SearchStore;
use sightline_tests::{eventually, Stack, WorkerProcess};

const EVENTS: usize = 50_000;

fn indexer(stack: &Stack) -> WorkerProcess {
    stack.worker("indexer", &[("SIGHTLINE_SEARCH__BATCH_SIZE", "2000")])
}

async fn pattern_counts(store: &TantivyStore) -> std::collections::BTreeMap<String, u64> {
    sightline_tests::patterns::index_counts(store).await
}

async fn indexed(stack: &Stack) -> u64 {
    match TantivyStore::open_read_only(&stack.path("data/search/tantivy")) {
        Ok(store) => store.count().await.unwrap_or(0),
        Err(_) => 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_thousand_events_are_indexed_exactly_once_across_a_kill() {
    let stack = Stack::start().await;
    let events = stack.publish_generated(31, EVENTS).await;

    let mut first = indexer(&stack);
    let started = eventually(Duration::from_secs(60), || async {
        indexed(&stack).await >= 4_000
    })
    .await;
    first.kill(); // SIGKILL: no shutdown, no final ack
    let at_kill = indexed(&stack).await;
    assert!(
        started && (at_kill as usize) < EVENTS,
        "killed mid-stream at {at_kill}"
    );

    let second = indexer(&stack);
    let complete = eventually(Duration::from_secs(120), || async {
        indexed(&stack).await >= EVENTS as u64
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(complete, "indexed {} of {EVENTS}", indexed(&stack).await);
    assert_eq!(
        indexed(&stack).await,
        EVENTS as u64,
        "exactly one document per event"
    );

    // The consumer is a cursor without acks: what the killed worker had received but
    // not committed came back only through the rewind to the index's watermark.
    let logs = stack.bus.js.get_stream("LOGS").await.unwrap();
    let info = logs.consumer_info("indexer").await.unwrap();
    assert_eq!(info.config.ack_policy, AckPolicy::None);

    // Patterns outlived the kill: the restarted miner took back the clusters its
    // predecessor saved, so the index holds the patterns of one uninterrupted
    // pass over the stream.
    let store = TantivyStore::open_read_only(&stack.path("data/search/tantivy")).unwrap();
    assert_eq!(
        pattern_counts(&store).await,
        sightline_tests::patterns::mined_counts(&events).await
    );

    second.stop(); // SIGTERM: a clean stop, exit 0

    let count = stack.sightline(&["search", "--count"], None);
    let count_text = String::from_utf8_lossy(&count.stdout);
    assert_eq!(
        count_text.trim(),
        EVENTS.to_string(),
        "{}",
        String::from_utf8_lossy(&count.stderr)
    );
    let search = stack.sightline(
        &[
            "search",
            "connection",
            "pool",
            "--kind",
            "error",
            "--size",
            "3",
        ],
        None,
    );
    let text = String::from_utf8_lossy(&search.stdout);
    assert!(
        search.status.success(),
        "{}",
        String::from_utf8_lossy(&search.stderr)
    );
    assert!(
        text.contains("[connection] [pool]") && text.contains("matching events"),
        "{text}"
    );

    // Every event of one card, though the index holds only a keyed hash of it.
    let card = events
        .iter()
        .find_map(|e| match &e.payload {
            Body::Transaction(t) => t.card_fingerprint.clone(),
            _ => None,
        })
        .unwrap();
    let of_card = events
        .iter()
        .filter(|e| matches!(&e.payload, Body::Transaction(t) if t.card_fingerprint.as_ref() == Some(&card)))
        .count();
    let count = stack.sightline(&["search", "--card", &card, "--count"], None);
    assert_eq!(
        String::from_utf8_lossy(&count.stdout).trim(),
        of_card.to_string()
    );
}
