//! The search suite on the embedded Tantivy store, plus what only Tantivy does:
//! the watermark in the commit payload, read-only handles, nothing in clear on disk.

use sightline_search::store::tantivy::TantivyStore;
use sightline_search::store::{SearchStore, Source};
use sightline_tests::search_suite;
use sightline_tests::suite::Fresh;

/// The search suite, one test per case, each on an index in a temp dir of its own,
/// opened as every caller opens it: through the factory of the configured backend.
mod suite {
    use sightline_runtime::config::{SearchBackend, SearchSettings};
    use sightline_search::store::configured::{Access, ConfiguredIndex};

    use super::*;

    async fn open() -> Fresh<ConfiguredIndex> {
        let settings = SearchSettings::default();
        assert_eq!(settings.backend, SearchBackend::Tantivy, "the default");
        Fresh::in_temp_dir(async |dir| {
            let opened = ConfiguredIndex::open(&settings, &dir, 0, Access::Live).await;
            opened.expect("the index opens")
        })
        .await
    }

    sightline_tests::search_suite!(open);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watermark_survives_a_reopen_and_readers_follow_commits() {
    let dir = tempfile::tempdir().unwrap();
    let docs = search_suite::sequenced();
    {
        let store = TantivyStore::open(dir.path()).unwrap();
        assert_eq!(store.watermark(Source::Logs).await.unwrap(), None);
        store.index(Source::Logs, docs[..5].to_vec()).await.unwrap();
        store.delete_before(search_suite::T0).await.unwrap();
        assert_eq!(
            store.watermark(Source::Logs).await.unwrap(),
            Some(5),
            "a retention commit keeps the watermark"
        );
    }
    let store = TantivyStore::open(dir.path()).unwrap();
    assert_eq!(store.watermark(Source::Logs).await.unwrap(), Some(5));
    let reader = TantivyStore::open_read_only(dir.path()).unwrap();
    assert!(
        reader.index(Source::Logs, docs.clone()).await.is_err(),
        "read-only handles refuse writes"
    );
    store.index(Source::Logs, docs[5..].to_vec()).await.unwrap();
    let followed = sightline_tests::eventually(std::time::Duration::from_secs(5), || async {
        reader.count().await.unwrap() == 212
    })
    .await;
    assert!(followed, "the read-only handle did not see the new commit");
    assert_eq!(reader.watermark(Source::Logs).await.unwrap(), Some(212));
}

/// The writer lock can outlive its owner for a moment (a process still exiting, a
/// forked child that has not exec'd yet): opening waits for it, a while, not forever.
#[test]
fn a_writer_waits_for_a_lock_released_soon_and_names_one_that_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let held = TantivyStore::open(dir.path()).unwrap();
    let releaser = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(300));
        drop(held);
    });
    let reopened = TantivyStore::open(dir.path());
    releaser.join().unwrap();
    let reopened = reopened.expect("the lock was released 300 ms later");
    let busy = TantivyStore::open(dir.path()).map(|_| ()).unwrap_err();
    assert!(
        busy.to_string().contains("lock"),
        "a writer that stays names the lock: {busy}"
    );
    drop(reopened);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_card_fingerprint_or_ip_reaches_the_index_files() {
    let dir = tempfile::tempdir().unwrap();
    let store = TantivyStore::open(dir.path()).unwrap();
    store
        .index(Source::Logs, search_suite::sequenced())
        .await
        .unwrap();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        for secret in [search_suite::CARD.as_bytes(), b"203.0.113.9"] {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret),
                "found {} on disk",
                String::from_utf8_lossy(secret)
            );
        }
    }
}
