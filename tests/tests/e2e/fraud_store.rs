//! The detections store suite on SQLite (the embedded default) and on MongoDB
//! (SecantusDB), plus what only SQLite does: read-only handles beside the writer.

use sightline_fraud::store::mongo::MongoStore;
use sightline_fraud::store::sqlite::SqliteStore;
use sightline_fraud::store::DetectionStore;
use sightline_runtime::config::{MongoSettings, Secret};
use sightline_tests::suite::Fresh;
use sightline_tests::{detections_suite, MongoPeer};

/// The detections suite on SQLite, one test per case, each on a file of its own,
/// opened as every caller opens it: through the factory of the configured backend.
mod on_sqlite {
    use sightline_fraud::store::configured::{Access, ConfiguredDetections};
    use sightline_runtime::config::{FraudBackend, FraudSettings};

    use super::*;

    async fn open() -> Fresh<ConfiguredDetections> {
        let settings = FraudSettings::default();
        assert_eq!(settings.backend, FraudBackend::Sqlite, "the default");
        let open = async |dir: std::path::PathBuf| {
            let store = ConfiguredDetections::open(&settings, &dir, 0, Access::Write);
            store.await.expect("the store opens")
        };
        Fresh::in_temp_dir(open).await
    }

    sightline_tests::detections_suite!(open);
}

/// The detections suite on MongoDB (SecantusDB), one test per case, each on a
/// server of its own.
mod on_mongodb {
    use super::*;

    async fn open() -> Fresh<MongoStore> {
        let peer = MongoPeer::start();
        let settings = MongoSettings {
            uri: Secret(peer.uri()),
            database: "suite".into(),
            ..MongoSettings::default()
        };
        let store = MongoStore::connect(&settings).await.expect("connects");
        Fresh::new(store).keeping(peer)
    }

    sightline_tests::detections_suite!(open);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_readers_see_committed_detections_and_cannot_write() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("detections.sqlite");
    assert!(SqliteStore::open_read_only(&path).is_err(), "no store yet");
    let writer = SqliteStore::open(&path).unwrap();
    let reader = SqliteStore::open_read_only(&path).unwrap();
    let batch = detections_suite::fixture();
    writer.upsert(&batch[..10]).await.unwrap();
    assert_eq!(reader.count().await.unwrap(), 10);
    assert!(reader.upsert(&batch[10..]).await.is_err(), "read-only");
    // A reopened writer keeps what was stored.
    drop(writer);
    let writer = SqliteStore::open(&path).unwrap();
    assert_eq!(writer.count().await.unwrap(), 10);
}
