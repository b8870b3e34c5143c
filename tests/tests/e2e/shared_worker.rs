//! `sightline worker indexer counters fraud`: the readers of LOGS in one process,
//! on one consumer, against real nats-server and redis-server. Killed mid-stream
//! and restarted, it leaves the index, the counters and the detections exactly as
//! one straight pass gives; a lone counters worker started beside it stands by.

use std::time::Duration;

use async_nats::jetstream::consumer::AckPolicy;
use futures::StreamExt;
use sightline_counters::layout::Layout;
use sightline_counters::{Reader, RedisStore, Window};
use sightline_fraud::store::sqlite::SqliteStore;
use sightline_fraud::store::DetectionStore;
use sightline_runtime::config::CountersSettings;
use sightline_runtime::consumer::LEASES;
use sightline_schemas::Kind;
use sightline_search::store::tantivy::TantivyStore;
use sightline_search::store::SearchStore;
use sightline_tests::{eventually, fraud_traffic, straight_scoring, Redis, Stack, WorkerProcess};

const EVENTS: usize = 20_000;
/// In any order: the shared consumer's name does not depend on it.
const SHARED: &str = "fraud indexer counters";

fn env(redis: &Redis) -> Vec<(&'static str, String)> {
    vec![
        ("SIGHTLINE_REDIS__URL", redis.url()),
        // Small batches, so the kill lands mid-stream: together, the roles take
        // the largest any of them asks for.
        ("SIGHTLINE_COUNTERS__BATCH_SIZE", "200".into()),
        ("SIGHTLINE_SEARCH__BATCH_SIZE", "200".into()),
        ("SIGHTLINE_FRAUD__BATCH_SIZE", "200".into()),
        ("SIGHTLINE_FRAUD__SNAPSHOT_EVERY", "100ms".into()),
    ]
}

fn start(stack: &Stack, redis: &Redis, kinds: &str) -> WorkerProcess {
    let env = env(redis);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    stack.worker(kinds, &env)
}

async fn counted(reader: &Reader, series: &str) -> u64 {
    let window = Window::ending_now(Duration::from_secs(3 * 3600)).unwrap();
    reader.count(series, window).await.map_or(0, |c| c.value)
}

async fn indexed(stack: &Stack) -> u64 {
    match TantivyStore::open_read_only(&stack.path("data/search/tantivy")) {
        Ok(store) => store.count().await.unwrap_or(0),
        Err(_) => 0,
    }
}

async fn stored(stack: &Stack) -> u64 {
    match SqliteStore::open_read_only(&stack.path("data/fraud/detections.sqlite")) {
        Ok(store) => store.count().await.unwrap_or(0),
        Err(_) => 0,
    }
}

/// Who holds the lease of `role` on LOGS.
async fn holder(stack: &Stack, role: &str) -> String {
    let leases = stack.bus.js.get_key_value(LEASES).await.unwrap();
    let value = leases.get(format!("LOGS.{role}")).await.unwrap();
    String::from_utf8(value.unwrap_or_default().to_vec()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_read_of_logs_keeps_every_projection_exact_across_a_kill() {
    let stack = Stack::start().await;
    let redis = Redis::start(false);
    let (events, scored) = fraud_traffic(51, EVENTS);
    stack.publish(&events).await;
    let detections = straight_scoring(&scored);
    assert!(detections.len() > 100, "the traffic has fraud");
    let layout = Layout::new(&CountersSettings::default()).unwrap();
    let counters = RedisStore::connect(&redis.url(), layout).await.unwrap();
    let reader = Reader::new(&counters);

    let store_worker = start(&stack, &redis, "fraud-store");
    let mut shared = start(&stack, &redis, SHARED);
    assert!(
        eventually(Duration::from_secs(90), || async {
            counted(&reader, "total").await >= 1_000
        })
        .await,
        "the shared worker counts"
    );
    shared.kill();
    let at_kill = counted(&reader, "total").await;
    assert!(at_kill < EVENTS as u64, "killed mid-stream ({at_kill})");

    // Restarted, and once it works again, a lone counters worker beside it.
    let shared = start(&stack, &redis, SHARED);
    assert!(
        eventually(Duration::from_secs(60), || async {
            counted(&reader, "total").await > at_kill
        })
        .await,
        "the restarted worker counts"
    );
    let mut alone = start(&stack, &redis, "counters");
    let done = eventually(Duration::from_secs(180), || async {
        indexed(&stack).await >= (EVENTS + detections.len()) as u64
            && stored(&stack).await >= detections.len() as u64
            && counted(&reader, "total").await >= EVENTS as u64
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        done,
        "indexed {}, stored {}, counted {}",
        indexed(&stack).await,
        stored(&stack).await,
        counted(&reader, "total").await
    );

    // Exact: each event indexed and counted once, each detection once, although
    // the killed process had received more than it committed.
    assert_eq!(indexed(&stack).await, (EVENTS + detections.len()) as u64);
    assert_eq!(counted(&reader, "total").await, EVENTS as u64);
    for kind in Kind::ALL {
        let n = events.iter().filter(|e| e.kind == kind).count() as u64;
        assert_eq!(counted(&reader, &format!("kind={kind}")).await, n, "{kind}");
    }
    let sqlite = stack.path("data/fraud/detections.sqlite");
    sightline_tests::detections_are(&sqlite, &detections).await;

    // One consumer on LOGS, a cursor; the lone worker never made its own.
    let logs = stack.bus.js.get_stream("LOGS").await.unwrap();
    let names: Vec<String> = logs.consumer_names().map(|n| n.unwrap()).collect().await;
    assert_eq!(names, vec!["indexer+counters+fraud".to_string()]);
    let info = logs.consumer_info(&names[0]).await.unwrap();
    assert_eq!(info.config.ack_policy, AckPolicy::None);
    let pid = format!("/{}/", shared.0.id());
    for role in ["indexer", "counters", "fraud"] {
        let held = holder(&stack, role).await;
        assert!(held.contains(&pid), "{role} held by {held}");
    }
    assert!(
        alone.0.try_wait().unwrap().is_none(),
        "the lone worker stands by"
    );
    // `sightline status` names the process reading the shared consumer.
    let status = stack
        .command(&["status"])
        .env("SIGHTLINE_REDIS__URL", redis.url())
        .output()
        .unwrap();
    let status = String::from_utf8_lossy(&status.stdout);
    let line = status
        .lines()
        .find(|l| l.starts_with("LOGS"))
        .unwrap_or_else(|| panic!("{status}"));
    assert!(line.contains(" active=") && line.contains(&pid), "{line}");
    // Each role's progress is where readers of its own consumer look for it.
    assert!(stack.consumer_caught_up("LOGS", "fraud").await);
    assert!(stack.consumer_caught_up("LOGS", "counters").await);

    shared.stop();
    alone.stop();
    store_worker.stop();
}
