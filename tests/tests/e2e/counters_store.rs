//! The counters projection in process against a real redis-server: a batch applied
//! twice counts once, a batch cut short between shards is completed and not
//! repeated, and what the reader answers matches the events.

use std::collections::BTreeMap;
use std::time::Duration;

use sightline_counters::layout::{Layout, Source};
use sightline_counters::plan::Planner;
use sightline_counters::project::CounterProjection;
use sightline_counters::{latency, Reader, RedisStore, Window};
use sightline_generator::Generator;
use sightline_runtime::config::CountersSettings;
use sightline_runtime::consumer::{Position, Projection, Record};
use sightline_schemas::{
    Body, Decimal, Detection, Event, Indicator, Kind, OffsetDateTime, Performance, TxStatus, Uuid,
};
use sightline_tests::counters::{dump, expected};
use sightline_tests::Redis;

fn layout() -> Layout {
    Layout::new(&CountersSettings::default()).unwrap()
}

/// Generated traffic of the last few minutes, as records with stream sequences.
fn records(n: usize) -> Vec<Record<Event>> {
    let start = OffsetDateTime::now_utc() - Duration::from_secs(300);
    // No fraud episodes: they schedule payments minutes ahead, past "now".
    Generator::new(5, start, 300)
        .with_fraud_rate(0.0)
        .take(n)
        .enumerate()
        .map(|(i, item)| Record {
            stream_seq: i as u64 + 1,
            delivered: 1,
            item,
            replay_for: None,
        })
        .collect()
}

fn events(records: &[Record<Event>]) -> Vec<Event> {
    records.iter().map(|r| r.item.clone()).collect()
}

async fn projection(redis: &Redis) -> (RedisStore, CounterProjection<Event>) {
    let store = RedisStore::connect(&redis.url(), layout()).await.unwrap();
    (store.clone(), CounterProjection::new(store))
}

#[tokio::test]
async fn a_redelivered_batch_counts_once() {
    let redis = Redis::start(false);
    let (_, mut p) = projection(&redis).await;
    assert_eq!(p.position().await.unwrap(), Position::Start);
    let batch = records(2_000);
    let (first, second) = batch.split_at(1_200);
    p.apply(first).await.unwrap();
    p.apply(second).await.unwrap();
    let once = dump(&redis.url(), "sightline").await;
    assert_eq!(once, expected(&layout(), &events(&batch)));
    // Redelivery: the same batches again, also through a fresh projection that
    // reads the watermarks from Redis.
    p.apply(second).await.unwrap();
    let (_, mut fresh) = projection(&redis).await;
    assert_eq!(fresh.position().await.unwrap(), Position::After(2_000));
    fresh.apply(&batch).await.unwrap();
    assert_eq!(dump(&redis.url(), "sightline").await, once);
}

#[tokio::test]
async fn a_batch_cut_short_between_shards_is_completed_not_repeated() {
    let redis = Redis::start(false);
    let (store, mut p) = projection(&redis).await;
    let batch = records(1_000);
    // A crash after shards 0 and 1 of a batch landed, before 2 and 3.
    let mut planner = Planner::new(store.layout(), OffsetDateTime::now_utc().unix_timestamp());
    batch.iter().for_each(|r| planner.add_event(&r.item, None));
    let writes = planner.finish();
    for shard in [0u16, 1] {
        store
            .apply(Source::Logs, shard, 0, 1_000, &writes[usize::from(shard)])
            .await
            .unwrap();
    }
    assert_eq!(
        store.watermarks(Source::Logs).await.unwrap(),
        [1_000, 1_000, 0, 0]
    );
    // The runtime resumes after the lowest watermark: the whole batch comes again.
    assert_eq!(p.position().await.unwrap(), Position::Start);
    p.apply(&batch).await.unwrap();
    assert_eq!(
        dump(&redis.url(), "sightline").await,
        expected(&layout(), &events(&batch))
    );
    assert_eq!(store.watermarks(Source::Logs).await.unwrap(), [1_000; 4]);
}

#[tokio::test]
async fn the_reader_answers_counts_revenue_users_and_percentiles() {
    let redis = Redis::start(false);
    let (store, mut p) = projection(&redis).await;
    let mut batch = records(3_000);
    // Known latencies on one endpoint, one per second of the last 100 seconds.
    let now = OffsetDateTime::now_utc();
    let latencies: Vec<f64> = (0..100).map(|i| 2.0 + f64::from(i * i) * 0.7).collect();
    for (i, ms) in latencies.iter().enumerate() {
        let item = Event::at(
            now - Duration::from_secs(i as u64),
            "bench-api",
            Body::Performance(Performance {
                endpoint: "/api/known".into(),
                method: "GET".into(),
                response_time_ms: *ms,
                db_query_time_ms: None,
                status_code: 200,
            }),
        );
        batch.push(Record {
            stream_seq: 3_001 + i as u64,
            delivered: 1,
            item,
            replay_for: None,
        });
    }
    p.apply(&batch).await.unwrap();
    let reader = Reader::new(&store);
    let window = Window::ending_now(Duration::from_secs(3600)).unwrap();

    let total = reader.count("total", window).await.unwrap();
    assert_eq!(total.value, batch.len() as u64);
    assert_eq!(total.step_s, 60, "an hour is read from minute buckets");
    let errors = batch.iter().filter(|r| r.item.kind == Kind::Error).count();
    assert_eq!(
        reader.count("kind=error", window).await.unwrap().value,
        errors as u64
    );
    let by_kind = reader.breakdown("kind", window).await.unwrap();
    assert_eq!(by_kind.values().sum::<u64>(), batch.len() as u64);

    let mut revenue: BTreeMap<String, Decimal> = BTreeMap::new();
    let mut users = std::collections::HashSet::new();
    for r in &batch {
        match &r.item.payload {
            Body::Transaction(t) => {
                users.insert(t.user_id.clone());
                if t.status == TxStatus::Completed {
                    *revenue.entry(t.currency.clone()).or_default() += t.amount;
                }
            }
            Body::UserBehavior(u) => {
                users.insert(u.user_id.clone());
            }
            Body::Security(s) => users.extend(s.user_id.clone()),
            Body::Error(e) => users.extend(e.user_id.clone()),
            Body::Performance(_) | Body::Log(_) => {}
        }
    }
    let read = reader.revenue(window).await.unwrap();
    for (currency, amount) in &revenue {
        assert_eq!(read[currency]["completed"], *amount, "{currency}");
    }
    let counted = reader.unique_users(window).await.unwrap() as f64;
    let truth = users.len() as f64;
    assert!(
        (counted - truth).abs() / truth < 0.03,
        "{counted} vs {truth}"
    );

    let read = reader
        .latency(
            "/api/known",
            Window::ending_now(Duration::from_secs(120)).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(read.count, 100);
    let mut sorted = latencies.clone();
    sorted.sort_by(f64::total_cmp);
    for (q, got) in [
        (0.5, read.p50),
        (0.9, read.p90),
        (0.95, read.p95),
        (0.99, read.p99),
    ] {
        let truth = sorted[(q * 100.0_f64).ceil() as usize - 1];
        let (got_bucket, truth_bucket) =
            (latency::bucket_of(got.unwrap()), latency::bucket_of(truth));
        assert!(
            got_bucket.abs_diff(truth_bucket) <= 1,
            "p{q}: read {got:?}, truth {truth}"
        );
    }
}

/// A detection at `revision` with `indicators`, of a payment a minute ago.
fn detection(tx: &str, revision: u32, indicators: &[&str]) -> Detection {
    let at = OffsetDateTime::now_utc() - Duration::from_secs(60);
    Detection {
        id: Detection::id_for(tx, "v1"),
        revision,
        rules_version: "v1".into(),
        event_id: Uuid::now_v7(),
        transaction_id: tx.into(),
        user_id: "u1".into(),
        service: "payments".into(),
        amount: Decimal::new(1000, 2),
        currency: "EUR".into(),
        status: TxStatus::Completed,
        payment_method: "card".into(),
        country: None,
        ip: None,
        ip_ref: None,
        score: 80,
        indicators: indicators
            .iter()
            .map(|name| Indicator {
                name: (*name).into(),
                weight: 40,
                reason: String::new(),
            })
            .collect(),
        typologies: Vec::new(),
        verdict: None,
        occurred_at: at,
        detected_at: at,
    }
}

#[tokio::test]
async fn detections_count_once_by_id_whatever_revision_comes_first_or_again() {
    let redis = Redis::start(false);
    let store = RedisStore::connect(&redis.url(), layout()).await.unwrap();
    let mut p = CounterProjection::<Detection>::new(store.clone());
    let as_records = |first_seq: u64, ds: Vec<Detection>| -> Vec<Record<Detection>> {
        (first_seq..)
            .zip(ds)
            .map(|(stream_seq, item)| Record {
                stream_seq,
                delivered: 1,
                item,
                replay_for: None,
            })
            .collect()
    };
    // tx-a is first published at revision 1 (it scored low, then a burst raised
    // it); tx-b at revision 0.
    p.apply(&as_records(
        1,
        vec![
            detection("tx-a", 1, &["velocity"]),
            detection("tx-b", 0, &["bot"]),
        ],
    ))
    .await
    .unwrap();
    // A scorer that restarted after the bus's duplicate window publishes both
    // again at new sequences, then tx-a's next revision adds an indicator.
    p.apply(&as_records(
        3,
        vec![
            detection("tx-b", 0, &["bot"]),
            detection("tx-a", 1, &["velocity"]),
            detection("tx-a", 2, &["velocity", "impossible_travel"]),
        ],
    ))
    .await
    .unwrap();
    let reader = Reader::new(&store);
    let window = Window::ending_now(Duration::from_secs(600)).unwrap();
    for (selector, n) in [
        ("fraud=detection", 2),
        ("fraud=revision", 2), // revisions 1 and 2 of tx-a
        ("fraud_indicator=velocity", 1),
        ("fraud_indicator=bot", 1),
        ("fraud_indicator=impossible_travel", 1),
    ] {
        let read = reader.count(selector, window).await.unwrap().value;
        assert_eq!(read, n, "{selector}");
    }
}
