//! `sightline replay` against the whole system: every worker as a process, the API,
//! real nats-server and redis-server.
//!
//! - Each projection, deliberately corrupted, is rebuilt into a new version that
//!   holds exactly what the live workers had built from an empty start, the old
//!   version is deleted, and live traffic then flows into the new version.
//! - Under live traffic, a rebuild loses nothing and counts nothing twice, and a
//!   reader's answers stay whole and never go back in time across the switch.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use sightline_fraud::store::configured::sqlite_path_at;
use sightline_fraud::store::sqlite::SqliteStore;
use sightline_generator::Generator;
use sightline_schemas::{Event, Kind, OffsetDateTime};
use sightline_search::query::Field;
use sightline_search::store::configured::tantivy_dir_at;
use sightline_search::store::tantivy::TantivyStore;
use sightline_search::store::SearchStore;
use sightline_tests::api::{ApiStack, WORKERS};
use sightline_tests::counters::dump;
use sightline_tests::detections_suite::{corrupt_one, verdicts};
use sightline_tests::patterns::{field_counts, index_counts};
use sightline_tests::{eventually, fraud_traffic, straight_scoring};

const KINDS: [&str; 5] = [
    "transaction",
    "error",
    "user_behavior",
    "performance",
    "security",
];

/// `sightline <args>` on the stack's NATS, Redis and data dir, killed if dropped.
fn command(stack: &ApiStack, args: &[&str]) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::from(stack.stack.command(args));
    cmd.env("SIGHTLINE_REDIS__URL", stack.redis.url())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

async fn sightline(stack: &ApiStack, args: &[&str]) -> std::process::Output {
    command(stack, args).output().await.expect("sightline runs")
}

/// `sightline replay <args>`, which must succeed; its JSON summary.
async fn replay(stack: &ApiStack, args: &[&str]) -> Value {
    let mut all = vec!["replay"];
    all.extend_from_slice(args);
    let out = sightline(stack, &all).await;
    assert!(
        out.status.success(),
        "replay failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    sightline_tests::last_json_line(&out)
}

/// Waits until the scorer and every projection have applied all there is.
async fn settled(stack: &ApiStack) {
    let s = &stack.stack;
    // The first consumer with something left, if any.
    let behind = || async {
        for (stream, consumer) in [("LOGS", "fraud"), ("FRAUD", "fraud-store")] {
            if !s.consumer_caught_up(stream, consumer).await {
                return Some(consumer);
            }
        }
        // The indexer, the counters and the scorer ack nothing (their watermarks
        // and recorded progress are their position): what the API reads of them
        // must reach the streams' heads.
        let (logs, fraud) = (s.stream_head("LOGS").await, s.stream_head("FRAUD").await);
        let marks = stack.get("/api/ops/watermarks").await.json;
        for (mark, head) in [
            ("scorer", logs),
            ("search", logs),
            ("counters", logs),
            ("search_fraud", fraud),
            ("counters_fraud", fraud),
        ] {
            if marks[mark].as_u64().unwrap_or(0) < head {
                return Some(mark);
            }
        }
        None
    };
    // Twice in a row: the scorer may publish detections right after acking.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    let (mut in_a_row, mut last) = (0, None);
    while in_a_row < 2 && tokio::time::Instant::now() < deadline {
        last = behind().await;
        in_a_row = if last.is_none() { in_a_row + 1 } else { 0 };
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        in_a_row >= 2,
        "the workers did not catch up: {last:?} is behind"
    );
}

/// Search totals per kind and in all, read through the API.
async fn search_totals(stack: &ApiStack) -> BTreeMap<String, u64> {
    let mut totals = BTreeMap::new();
    for kind in KINDS.iter().map(|k| Some(*k)).chain([None]) {
        let path = match kind {
            Some(k) => format!("/api/search?kind={k}"),
            None => "/api/search".to_owned(),
        };
        let reply = stack.get(&path).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        let total = reply.json["total"].as_u64().expect("a total");
        totals.insert(kind.unwrap_or("all").to_owned(), total);
    }
    totals
}

/// Every detection in version `version` of the SQLite store: id -> (revision, score).
async fn detections(stack: &ApiStack, version: u64) -> BTreeMap<String, (u32, u8)> {
    let path = sqlite_path_at(&stack.stack.settings.data_dir, version);
    let store = SqliteStore::open_read_only(&path).expect("the detections store opens");
    verdicts(&store).await
}

/// The counters under `prefix`, with the prefix taken off the keys.
async fn counters(stack: &ApiStack, prefix: &str) -> Counters {
    dump(&stack.redis.url(), prefix)
        .await
        .into_iter()
        .map(|(k, v)| (k[prefix.len()..].to_owned(), v))
        .collect()
}

async fn redis(stack: &ApiStack) -> redis::aio::MultiplexedConnection {
    redis::Client::open(stack.redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replaying_corrupted_projections_restores_a_fresh_build() {
    let mut stack = ApiStack::start("").await;
    let events = recent_traffic(11, 3000);
    stack.stack.publish(&events).await;
    settled(&stack).await;

    // The live versions were built from an empty start: a fresh build.
    let fresh_search = search_totals(&stack).await;
    let fresh_detections = detections(&stack, 0).await;
    let fresh_counters = counters(&stack, "sightline").await;
    let (fresh_patterns, fresh_issues) = {
        let dir = tantivy_dir_at(&stack.stack.settings.data_dir, 0);
        let index = TantivyStore::open_read_only(&dir).unwrap();
        (
            index_counts(&index).await,
            field_counts(&index, Field::Issue).await,
        )
    };
    assert!(fresh_patterns.len() > 5, "{fresh_patterns:?}");
    assert!(fresh_issues.len() > 3, "{fresh_issues:?}");
    assert_eq!(fresh_search["all"], 3000 + fresh_detections.len() as u64);
    assert!(!fresh_detections.is_empty());
    assert!(fresh_counters.len() > 20, "{}", fresh_counters.len());

    // Corrupt each: the index loses its documents but keeps its watermark, a
    // detection gets a wrong score, counters are inflated and lost.
    stack.workers[0].kill();
    let settings = stack.stack.settings.clone();
    {
        let index = TantivyStore::open(&tantivy_dir_at(&settings.data_dir, 0)).unwrap();
        let cutoff = OffsetDateTime::now_utc() + Duration::from_secs(3600);
        assert!(index.delete_before(cutoff).await.unwrap() > 3000);
    }
    let redis_url = stack.redis.url();
    let env = [
        ("SIGHTLINE_REDIS__URL", redis_url.as_str()),
        ("SIGHTLINE_CONSUMER__BATCH_LINGER", "20ms"),
    ];
    stack.workers[0] = stack.stack.worker(WORKERS[0], &env);
    corrupt_one(&SqliteStore::open(&sqlite_path_at(&settings.data_dir, 0)).unwrap()).await;
    let mut conn = redis(&stack).await;
    let keys: Vec<&String> = fresh_counters.keys().collect();
    let _: i64 = redis::cmd("HINCRBY")
        .arg(format!("sightline{}", keys[0]))
        .arg(fresh_counters[keys[0]].keys().next().unwrap())
        .arg(5)
        .query_async(&mut conn)
        .await
        .unwrap();
    let _: i64 = redis::cmd("DEL")
        .arg(format!("sightline{}", keys[1]))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(
        eventually(Duration::from_secs(20), || async {
            search_totals(&stack).await["all"] == 0
        })
        .await,
        "the corrupted index reads empty"
    );
    assert_ne!(detections(&stack, 0).await, fresh_detections);
    assert!(counters(&stack, "sightline").await != fresh_counters);

    // A second rebuild of a projection being rebuilt is refused.
    let all = command(&stack, &["replay", "--projection", "all"])
        .spawn()
        .expect("replay starts");
    let locks = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            if let Ok(kv) = stack.stack.bus.js.get_key_value("sightline_rebuilds").await {
                if matches!(kv.get("search").await, Ok(Some(_))) {
                    return kv;
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the replay takes the search lock");
    drop(locks);
    let second = sightline(&stack, &["replay", "--projection", "search"]).await;
    assert!(!second.status.success());
    let refused = String::from_utf8_lossy(&second.stderr);
    assert!(refused.contains("already running"), "{refused}");

    let out = all.wait_with_output().await.unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = sightline_tests::last_json_line(&out);
    let projections = report["projections"].as_array().unwrap();
    assert_eq!(projections.len(), 3);
    for p in projections {
        assert_eq!(p["previous_version"], 0, "{p}");
        assert_eq!(p["version"], 1, "{p}");
    }
    assert_eq!(projections[0]["sources"]["logs"]["applied"], 3000);
    assert_eq!(projections[2]["sources"]["logs"]["applied"], 3000);

    // Each new version is exactly the fresh build, and readers moved to it.
    assert_eq!(detections(&stack, 1).await, fresh_detections);
    same_counters(&counters(&stack, "sightline:v1").await, &fresh_counters);
    assert!(
        eventually(Duration::from_secs(20), || async {
            search_totals(&stack).await == fresh_search
        })
        .await,
        "search reads the rebuilt index: {:?} vs {fresh_search:?}",
        search_totals(&stack).await
    );
    // The rebuilt index mined the same patterns, with the same ids, from an
    // empty start; the replaced version's registry is gone with it.
    let rebuilt = TantivyStore::open_read_only(&tantivy_dir_at(&settings.data_dir, 1)).unwrap();
    assert_eq!(index_counts(&rebuilt).await, fresh_patterns);
    assert_eq!(field_counts(&rebuilt, Field::Issue).await, fresh_issues);
    let registry = stack
        .stack
        .bus
        .js
        .get_key_value("sightline_patterns")
        .await
        .unwrap();
    let mut keys = registry.keys().await.unwrap();
    let mut versions = std::collections::BTreeSet::new();
    while let Some(key) = futures::StreamExt::next(&mut keys).await {
        let key = key.unwrap();
        versions.insert(key.rsplit_once('.').unwrap().0.to_owned());
    }
    let kept = ["v1".to_owned(), "counters.v1".to_owned()];
    assert_eq!(
        versions,
        kept.into(),
        "the index's and the counters' registries"
    );
    // The replaced versions are gone.
    assert!(!tantivy_dir_at(&settings.data_dir, 0).exists());
    assert!(!sqlite_path_at(&settings.data_dir, 0).exists());
    assert!(counters(&stack, "sightline").await.is_empty());
    let status = sightline(&stack, &["status", "--json"]).await;
    let status: Value = serde_json::from_slice(&status.stdout).expect("status JSON");
    for target in ["search", "fraud", "counters"] {
        assert_eq!(status["versions"][target]["version"], 1, "{status}");
    }

    // Live workers write the new version from where the rebuild stopped.
    let more = recent_traffic(12, 500);
    stack.stack.publish(&more).await;
    settled(&stack).await;
    let totals = search_totals(&stack).await;
    let transactions = events
        .iter()
        .chain(&more)
        .filter(|e| e.kind() == Kind::Transaction)
        .count() as u64;
    assert_eq!(totals["transaction"], transactions);
    let stats = stack.get("/api/logs/stats?window=3h").await;
    assert_eq!(stats.json["total"], 3500, "{}", stats.text);
}

/// Generated traffic with fraud episodes, stamped minutes ago: well inside every
/// counter resolution's retention, so a build now and one a minute later agree.
fn recent_traffic(seed: u64, n: usize) -> Vec<Event> {
    let start = OffsetDateTime::now_utc() - Duration::from_secs(600);
    Generator::new(seed, start, sightline_generator::DEFAULT_POPULATION)
        .with_fraud_rate(0.01)
        .take(n)
        .collect()
}

type Counters = BTreeMap<String, BTreeMap<String, i64>>;

/// Equal counters, or a failure naming only the keys that differ.
fn same_counters(got: &Counters, want: &Counters) {
    let differ: Vec<&String> = got
        .keys()
        .chain(want.keys())
        .filter(|k| got.get(*k) != want.get(*k))
        .collect();
    assert!(
        differ.is_empty(),
        "{} keys differ: {:?}",
        differ.len(),
        &differ[..differ.len().min(10)]
    );
}

/// Events among the first `n` published that are of `kind` (all kinds: `None`).
fn among_first(events: &[Event], n: u64, kind: Option<Kind>) -> u64 {
    events
        .iter()
        .take(n as usize)
        .filter(|e| kind.is_none_or(|k| e.kind() == k))
        .count() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_under_live_traffic_loses_nothing_and_readers_switch_whole() {
    let stack = ApiStack::start("").await;
    let (events, scored) = fraud_traffic(21, 6000);
    // LOGS holds only these events, so event i has stream sequence i + 1.
    stack.stack.publish(&events[..1500]).await;
    let publishing = async {
        for chunk in events[1500..].chunks(50) {
            stack.stack.publish(chunk).await;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let replaying = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        replay(&stack, &["--projection", "all"]).await
    };
    let (done_tx, done_rx) = tokio::sync::watch::channel(false);
    // A reader polling the counters and the index the whole time.
    let reading = async {
        let mut samples = Vec::new();
        while !*done_rx.borrow() {
            let stats = stack.get("/api/logs/stats?window=3h").await;
            let found = stack.get("/api/search?kind=transaction").await;
            assert_eq!((stats.status, found.status), (200, 200));
            samples.push((
                stats.watermark().unwrap_or(0),
                stats.json["total"].as_u64().unwrap(),
                found.watermark().unwrap_or(0),
                found.json["total"].as_u64().unwrap(),
            ));
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        samples
    };
    let work = async {
        let (_, report) = tokio::join!(publishing, replaying);
        let _ = done_tx.send(true);
        report
    };
    let (report, samples) = tokio::join!(work, reading);
    for p in report["projections"].as_array().unwrap() {
        assert_eq!(p["version"], 1, "{p}");
        // The switch came while events were still being published.
        if let Some(floor) = p["sources"]["logs"]["floor"].as_u64() {
            assert!(floor < 6000, "{p}");
        }
    }

    // Every answer was whole (it holds at least all it claims to have applied), and
    // no reader's watermark went back, across the switch included.
    assert!(samples.len() > 20, "{} samples", samples.len());
    let mut last = (0, 0);
    for &(counted_at, total, searched_at, transactions) in &samples {
        assert!(
            total >= among_first(&events, counted_at, None),
            "{samples:?}"
        );
        assert!(
            total <= events.len() as u64,
            "over-counted: {samples:?} report {report}"
        );
        let indexed = among_first(&events, searched_at, Some(Kind::Transaction));
        assert!(transactions >= indexed, "{samples:?}");
        assert!(
            counted_at >= last.0 && searched_at >= last.1,
            "went back: {samples:?}"
        );
        last = (counted_at, searched_at);
    }

    // Nothing lost, nothing twice.
    settled(&stack).await;
    let stats = stack.get("/api/logs/stats?window=3h").await;
    assert_eq!(stats.json["total"], 6000, "{}", stats.text);
    for kind in KINDS {
        let k: Kind = serde_json::from_value(Value::from(kind)).unwrap();
        assert_eq!(
            stats.json["by_kind"][kind].as_u64().unwrap_or(0),
            among_first(&events, 6000, Some(k)),
            "{kind}"
        );
    }
    let totals = search_totals(&stack).await;
    assert_eq!(
        totals["transaction"],
        among_first(&events, 6000, Some(Kind::Transaction))
    );
    let expected: BTreeMap<String, (u32, u8)> = straight_scoring(&scored)
        .into_iter()
        .map(|(id, v)| (id.to_string(), v))
        .collect();
    assert_eq!(detections(&stack, 1).await, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_replay_holds_what_it_selected_and_live_workers_add_what_follows() {
    let stack = ApiStack::start("").await;
    let events = recent_traffic(41, 1000);
    stack.stack.publish(&events).await;
    settled(&stack).await;

    let out = sightline(&stack, &["replay", "--projection", "search", "--dry-run"]).await;
    let plan = sightline_tests::last_json_line(&out);
    assert_eq!(plan["projections"][0]["messages"]["logs"], 1000, "{plan}");

    // Transactions published 501st to 800th; live workers carry on after the 800th.
    let args = [
        "--projection",
        "search",
        "--from",
        "seq:501",
        "--to",
        "seq:800",
        "--subjects",
        "logs.transaction.>",
        "--rate",
        "2000",
    ];
    let report = replay(&stack, &args).await;
    let search = &report["projections"][0];
    assert_eq!(search["sources"]["logs"]["floor"], 800, "{report}");
    let selected = |from: usize, to: usize, kind: Kind| {
        events[from - 1..to]
            .iter()
            .filter(|e| e.kind() == kind)
            .count() as u64
    };
    assert_eq!(
        search["sources"]["logs"]["applied"],
        selected(501, 800, Kind::Transaction),
        "{report}"
    );
    let expected = |kind: Kind| match kind {
        Kind::Transaction => selected(501, 1000, kind),
        _ => selected(801, 1000, kind),
    };
    let read = || async {
        let mut got = BTreeMap::new();
        for kind in [Kind::Transaction, Kind::Error, Kind::Performance] {
            let name = serde_json::to_value(kind).unwrap();
            let reply = stack
                .get(&format!("/api/search?kind={}", name.as_str().unwrap()))
                .await;
            got.insert(
                format!("{kind:?}"),
                reply.json["total"].as_u64().unwrap_or(0),
            );
        }
        got
    };
    let want: BTreeMap<String, u64> = [Kind::Transaction, Kind::Error, Kind::Performance]
        .into_iter()
        .map(|k| (format!("{k:?}"), expected(k)))
        .collect();
    assert!(
        eventually(Duration::from_secs(20), || async { read().await == want }).await,
        "{:?} vs {want:?}",
        read().await
    );

    // A range whose last match comes before its end: the rebuild finds no match
    // past the end, and still hands over at the end, not at its last match (the
    // live worker would otherwise add the unselected messages in between).
    assert_ne!(
        events[999].kind(),
        Kind::Transaction,
        "the seed ends on another kind"
    );
    let args = [
        "--projection",
        "search",
        "--to",
        "seq:1000",
        "--subjects",
        "logs.transaction.>",
    ];
    let report = replay(&stack, &args).await;
    assert_eq!(
        report["projections"][0]["sources"]["logs"]["floor"], 1000,
        "{report}"
    );
}
