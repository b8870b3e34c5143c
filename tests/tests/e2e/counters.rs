//! The real `sightline worker counters` process against real nats-server and
//! redis-server: after a SIGKILL mid-stream and a restart, after the loss of the
//! consumer, and after a replay into an emptied Redis, the counters hold exactly
//! what one straight pass over the stream gives, patterns included (the ids the
//! index's miner gives the same events).

use std::time::Duration;

use async_nats::jetstream::consumer::AckPolicy;
use sightline_counters::layout::{Layout, Source};
use sightline_counters::{Reader, RedisStore, Window};
use sightline_generator::Generator;
use sightline_runtime::config::CountersSettings;
use sightline_schemas::{Event, Kind, OffsetDateTime};
use sightline_tests::counters::{dump, expected_with_patterns, flush, Dump};
use sightline_tests::{eventually, Redis, Stack, WorkerProcess};

const EVENTS: usize = 30_000;

fn start(stack: &Stack, redis: &Redis) -> WorkerProcess {
    stack.worker(
        "counters",
        &[
            ("SIGHTLINE_REDIS__URL", &redis.url()),
            ("SIGHTLINE_COUNTERS__BATCH_SIZE", "500"),
        ],
    )
}

async fn counted(store: &RedisStore) -> u64 {
    let window = Window::ending_now(Duration::from_secs(3 * 3600)).unwrap();
    Reader::new(store)
        .count("total", window)
        .await
        .map(|c| c.value)
        .unwrap_or(0)
}

/// Waits until every shard's watermark reaches the end of LOGS.
async fn caught_up(store: &RedisStore, last: u64) {
    let done = eventually(Duration::from_secs(120), || async {
        store
            .watermarks(Source::Logs)
            .await
            .is_ok_and(|w| w.iter().all(|&s| s == last))
    })
    .await;
    assert!(
        done,
        "watermarks {:?}",
        store.watermarks(Source::Logs).await
    );
}

/// Publishes `EVENTS` generated events; returns them, the counters one straight
/// pass over them gives, and the store to read.
async fn published(stack: &Stack, redis: &Redis, seed: u64) -> (Vec<Event>, Dump, RedisStore) {
    // Stamped over the last few minutes so every resolution keeps them.
    let from = OffsetDateTime::now_utc() - Duration::from_secs(600);
    let events: Vec<Event> = Generator::new(seed, from, 2_000)
        .with_fraud_rate(0.0)
        .take(EVENTS)
        .collect();
    stack.publish(&events).await;
    let layout = Layout::new(&CountersSettings::default()).unwrap();
    let want = expected_with_patterns(&layout, &events);
    let store = RedisStore::connect(&redis.url(), layout).await.unwrap();
    (events, want, store)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_are_exact_after_a_kill_a_lost_consumer_and_a_replay() {
    let stack = Stack::start().await;
    let redis = Redis::start(true);
    let (events, want, store) = published(&stack, &redis, 21).await;

    // SIGKILL mid-stream, then a restart.
    let mut worker = start(&stack, &redis);
    assert!(
        eventually(Duration::from_secs(60), || async {
            counted(&store).await >= 5_000
        })
        .await,
        "the worker counts"
    );
    worker.kill();
    let at_kill = counted(&store).await;
    assert!(at_kill < EVENTS as u64, "killed mid-stream ({at_kill})");
    let worker = start(&stack, &redis);
    caught_up(&store, EVENTS as u64).await;
    let after_restart = dump(&redis.url(), "sightline").await;
    assert_eq!(after_restart.len(), want.len());
    assert_eq!(after_restart, want);
    // Without acks (the watermarks are the position), what the killed worker held
    // came back through the rewind alone.
    let logs = stack.bus.js.get_stream("LOGS").await.unwrap();
    let info = logs.consumer_info("counters").await.unwrap();
    assert_eq!(info.config.ack_policy, AckPolicy::None);
    worker.stop();

    // Independent of the planner: totals per kind straight from the events.
    let window = Window::ending_now(Duration::from_secs(3 * 3600)).unwrap();
    let reader = Reader::new(&store);
    for kind in Kind::ALL {
        let n = events.iter().filter(|e| e.kind == kind).count() as u64;
        let read = reader.count(&format!("kind={kind}"), window).await.unwrap();
        assert_eq!(read.value, n, "{kind}");
    }
    // Per pattern, the counts the index's own mining gives: the same ids.
    let by_pattern = reader.breakdown("pattern", window).await.unwrap();
    let mined = sightline_tests::patterns::mined_counts(&events).await;
    assert!(mined.len() > 10, "{} patterns", mined.len());
    assert_eq!(by_pattern, mined);

    // The consumer lost (deleted), Redis kept: the worker resumes from the
    // watermarks in Redis, not from the start of the stream.
    logs.delete_consumer("counters").await.unwrap();
    let worker = start(&stack, &redis);
    caught_up(&store, EVENTS as u64).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        dump(&redis.url(), "sightline").await,
        want,
        "nothing counted twice"
    );
    worker.stop();

    // Replay: the projection thrown away and rebuilt from the stream.
    flush(&redis.url()).await;
    logs.delete_consumer("counters").await.unwrap();
    let worker = start(&stack, &redis);
    caught_up(&store, EVENTS as u64).await;
    assert_eq!(dump(&redis.url(), "sightline").await, want);
    worker.stop();
}

/// Two instances of the counters worker: one consumes, the other stands by. A
/// lease left by a process on another host is waited out; the active instance,
/// killed, is replaced by the standby; the counts are exact throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_instance_stands_by_and_takes_over_without_loss() {
    use sightline_runtime::consumer::{LEASES, LEASE_TTL};
    let stack = Stack::start().await;
    let redis = Redis::start(false);
    let (_, want, store) = published(&stack, &redis, 22).await;

    // A holder on another host, which no one can tell is gone: its lease must
    // expire before anyone consumes.
    let leases = stack
        .bus
        .js
        .create_key_value(async_nats::jetstream::kv::Config {
            bucket: LEASES.into(),
            max_age: LEASE_TTL,
            history: 1,
            ..Default::default()
        })
        .await
        .unwrap();
    leases
        .create("LOGS.counters", "elsewhere/1/00000000".into())
        .await
        .unwrap();
    let mut first = start(&stack, &redis);
    let mut second = start(&stack, &redis);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(counted(&store).await, 0, "both stand by");
    assert!(
        eventually(LEASE_TTL * 3, || async { counted(&store).await >= 3_000 }).await,
        "one takes over once the lease expires"
    );

    // Exactly one of them holds the lease; kill that one mid-stream.
    let holder =
        String::from_utf8(leases.get("LOGS.counters").await.unwrap().unwrap().to_vec()).unwrap();
    let pid = |w: &WorkerProcess| format!("/{}/", w.0.id());
    let (active, standby) = if holder.contains(&pid(&first)) {
        (&mut first, &mut second)
    } else {
        assert!(holder.contains(&pid(&second)), "held by {holder}");
        (&mut second, &mut first)
    };
    active.kill();
    let at_kill = counted(&store).await;
    assert!(at_kill < EVENTS as u64, "killed mid-stream ({at_kill})");
    caught_up(&store, EVENTS as u64).await;
    assert_eq!(
        dump(&redis.url(), "sightline").await,
        want,
        "exact after the takeover"
    );
    let holder =
        String::from_utf8(leases.get("LOGS.counters").await.unwrap().unwrap().to_vec()).unwrap();
    assert!(holder.contains(&pid(standby)), "held by {holder}");
    let status = stack
        .command(&["status", "--json"])
        .env("SIGHTLINE_REDIS__URL", redis.url())
        .output()
        .unwrap();
    let status: serde_json::Value = serde_json::from_slice(&status.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&status.stderr)));
    assert_eq!(
        status["leases"]["LOGS.counters"],
        holder.as_str(),
        "{status}"
    );
    drop(first);
    drop(second);
}
