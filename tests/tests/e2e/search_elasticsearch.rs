//! The search suite on the Elasticsearch backend, against both emulators, and the
//! bulk failure paths: a 400 item goes to the DLQ, a 429 is retried losing nothing.

use sightline_runtime::config::ElasticsearchSettings;
use sightline_search::store::elasticsearch::ElasticsearchStore;
use sightline_tests::suite::Fresh;
use sightline_tests::{SearchEmulator, SearchPeer};

pub fn settings(url: String) -> ElasticsearchSettings {
    ElasticsearchSettings {
        url,
        replicas: 0,
        refresh_on_write: true,
        ..ElasticsearchSettings::default()
    }
}

/// A fresh emulator of `kind` for one case, and the store on it.
async fn open_on(kind: SearchEmulator) -> Fresh<ElasticsearchStore> {
    let peer = SearchPeer::start(kind);
    let store = ElasticsearchStore::connect(&settings(peer.url()))
        .await
        .unwrap();
    Fresh::new(store).keeping(peer)
}

/// The search suite on osmem-server (OpenSearch 3's API), one test per case.
mod on_osmem {
    async fn open() -> sightline_tests::suite::Fresh<super::ElasticsearchStore> {
        super::open_on(super::SearchEmulator::Osmem).await
    }

    sightline_tests::search_suite!(open);
}

/// The search suite on noida-db (Elasticsearch 8's API), one test per case.
mod on_noida {
    async fn open() -> sightline_tests::suite::Fresh<super::ElasticsearchStore> {
        super::open_on(super::SearchEmulator::Noida).await
    }

    macro_rules! skip {
        (percentiles, $test:item) => {
            #[ignore = "noida-db has no percentiles aggregation (../shared/peers.md)"]
            $test
        };
        ($case:ident, $test:item) => {
            $test
        };
    }

    sightline_tests::search_suite!(open, skip);
}

mod bulk_failures {
    use std::sync::atomic::Ordering;
    use std::time::Duration;

    use sightline_runtime::consumer::{Worker, ERROR, ORIGINAL_SUBJECT};
    use sightline_runtime::publisher::Publisher;
    use sightline_runtime::Shutdown;
    use sightline_schemas::Event;
    use sightline_search::project::Indexer;
    use sightline_search::store::elasticsearch::ElasticsearchStore;
    use sightline_search::store::SearchStore;
    use sightline_tests::fault_proxy::{BulkFaults, FaultProxy};
    use sightline_tests::{
        eventually, header, logs_worker, search_suite, SearchEmulator, SearchPeer, Stack,
    };
    use time::macros::datetime;

    /// Events of one day (2026-01-05), published to LOGS.
    async fn publish_day(stack: &Stack, n: usize) -> Vec<Event> {
        let events: Vec<Event> =
            sightline_generator::Generator::new(5, datetime!(2026-01-05 10:00 UTC), 300)
                .take(n)
                .collect();
        let publisher = Publisher::new(&stack.bus, &stack.settings.publisher);
        let mut pipeline = publisher.pipeline();
        for e in &events {
            pipeline.send(e).await.unwrap();
        }
        pipeline.finish().await.unwrap();
        events
    }

    async fn run_indexer(
        stack: &Stack,
        store: ElasticsearchStore,
        done: impl Fn() -> futures::future::BoxFuture<'static, bool>,
    ) {
        let (trigger, shutdown) = Shutdown::new();
        let worker = Worker::new(
            &stack.bus,
            logs_worker("es-indexer"),
            stack.settings.consumer.clone(),
            Indexer::<_, sightline_schemas::Event>::new(store, search_suite::pii()),
        );
        let task = tokio::spawn(worker.run(shutdown));
        let finished = eventually(Duration::from_secs(60), done).await;
        trigger.trip();
        task.await.unwrap().unwrap();
        assert!(finished, "the indexer did not finish in time");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_bulk_item_refused_with_400_lands_in_the_dlq() {
        let stack = Stack::start().await;
        let peer = SearchPeer::start(SearchEmulator::Osmem);
        let store = ElasticsearchStore::connect(&super::settings(peer.url()))
            .await
            .unwrap();
        // Someone changed the mapping of that day's index: error codes no longer fit.
        let conflict = serde_json::json!({ "mappings": { "properties": { "error_code": { "type": "boolean" } } } });
        let created = reqwest::Client::new()
            .put(format!("{}/sightline-logs-2026.01.05", peer.url()))
            .json(&conflict)
            .send()
            .await
            .unwrap();
        assert!(
            created.status().is_success(),
            "{}",
            created.text().await.unwrap()
        );
        let events = publish_day(&stack, 400).await;
        let errors = events
            .iter()
            .filter(|e| e.kind() == sightline_schemas::Kind::Error)
            .count();
        assert!(errors > 0);

        let probe = store.clone();
        let stack_bus = stack.bus.clone();
        let expected = (events.len() - errors) as u64;
        run_indexer(&stack, store, move || {
            let probe = probe.clone();
            let js = stack_bus.js.clone();
            Box::pin(async move {
                let dlq = js
                    .get_stream("DLQ")
                    .await
                    .unwrap()
                    .info()
                    .await
                    .unwrap()
                    .state
                    .messages;
                probe.count().await.unwrap_or(0) == expected && dlq == errors as u64
            })
        })
        .await;
        let letter = stack.dead_letter(1).await;
        let reason = header(&letter, ERROR);
        assert!(
            reason.starts_with("400 ") && reason.contains("error_code"),
            "{reason}"
        );
        assert!(letter
            .headers
            .get(ORIGINAL_SUBJECT)
            .unwrap()
            .as_str()
            .starts_with("logs.error."));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn throttled_bulk_items_are_retried_and_nothing_is_lost() {
        let stack = Stack::start().await;
        let peer = SearchPeer::start(SearchEmulator::Osmem);
        let faults = BulkFaults {
            first_request_unavailable: true,
            throttled_requests: 3,
            every: 7,
        };
        let proxy = FaultProxy::start(peer.url(), faults).await;
        let mut settings = super::settings(proxy.url());
        settings.retry_backoff = Duration::from_millis(20);
        settings.bulk_max_bytes = 64 * 1024;
        let store = ElasticsearchStore::connect(&settings).await.unwrap();
        let events = publish_day(&stack, 1500).await;
        let probe = store.clone();
        let total = events.len() as u64;
        run_indexer(&stack, store, move || {
            let probe = probe.clone();
            Box::pin(async move { probe.count().await.unwrap_or(0) >= total })
        })
        .await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let direct = ElasticsearchStore::connect(&super::settings(peer.url()))
            .await
            .unwrap();
        assert_eq!(
            direct.count().await.unwrap(),
            total,
            "exactly one document per event"
        );
        assert!(
            proxy.throttled_items.load(Ordering::SeqCst) > 0,
            "no 429 was injected"
        );
        assert_eq!(
            stack.stream_messages("DLQ").await,
            0,
            "throttling is not poison"
        );
        let stats =
            serde_json::json!({ "bulk_requests": proxy.bulk_requests.load(Ordering::SeqCst) });
        assert!(stats["bulk_requests"].as_u64().unwrap() > 3, "{stats}");
    }
}
