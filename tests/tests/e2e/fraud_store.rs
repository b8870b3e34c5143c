//! The detections store suite on SQLite (the embedded default) and on MongoDB
//! (SecantusDB), plus what only SQLite does: read-only handles beside the writer.

use sightline_fraud::store::mongo::MongoStore;
use sightline_fraud::store::sqlite::SqliteStore;
use sightline_fraud::store::DetectionStore;
use sightline_runtime::config::{MongoSettings, Secret};
use sightline_tests::{detections_suite, MongoPeer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_passes_the_detections_suite() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("detections.sqlite")).unwrap();
    detections_suite::run(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mongodb_passes_the_detections_suite() {
    let peer = MongoPeer::start();
    let settings = MongoSettings {
        uri: Secret(peer.uri()),
        database: "suite".into(),
        ..MongoSettings::default()
    };
    let store = MongoStore::connect(&settings).await.expect("connects");
    detections_suite::run(&store).await;
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
