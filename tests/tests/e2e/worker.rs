//! The consumer runtime against a real nats-server: poison messages go to the DLQ,
//! and a worker killed mid-batch loses nothing and counts nothing twice.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::consumer::AckPolicy;
use serde::{Deserialize, Serialize};
use sightline_generator::Generator;
use sightline_runtime::consumer::{self, Outcome, Position, Projection, Record, Worker};
use sightline_runtime::{Error, Shutdown};
use sightline_schemas::Event;
use sightline_tests::{eventually, header, logs_worker, Stack};

/// Counts events in memory; idempotent by nothing (untracked), like an upsert store.
#[derive(Clone, Default)]
struct Tally(Arc<Mutex<Vec<String>>>);

impl Projection for Tally {
    type Item = Event;
    async fn position(&mut self) -> Result<Position, Error> {
        Ok(Position::Untracked)
    }
    async fn apply(&mut self, batch: &[Record<Event>]) -> Result<Outcome, Error> {
        self.0
            .lock()
            .unwrap()
            .extend(batch.iter().map(|r| r.item.id.to_string()));
        Ok(Outcome::default())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_messages_land_in_the_dlq_and_their_neighbours_are_applied() {
    let stack = Stack::start().await;
    stack.publish_generated(1, 50).await;
    // Undecodable bytes, then a well-formed JSON event that breaks a rule.
    stack.publish_undecodable("logs.transaction.checkout").await;
    let mut bad = Generator::new(
        2,
        sightline_schemas::OffsetDateTime::now_utc() - Duration::from_secs(3600),
        50,
    )
    .find(|e| e.kind() == sightline_schemas::Kind::Transaction)
    .unwrap();
    if let sightline_schemas::Body::Transaction(tx) = &mut bad.payload {
        tx.amount = -tx.amount - sightline_schemas::Decimal::ONE;
    }
    stack
        .publish_unchecked("logs.transaction.payments", &bad)
        .await;
    // A valid error event on a payment's subject, and a payment carrying a card
    // number where its fingerprint belongs.
    let mut misfiled = Generator::new(
        4,
        sightline_schemas::OffsetDateTime::now_utc() - Duration::from_secs(3600),
        50,
    )
    .find(|e| e.kind() == sightline_schemas::Kind::Error)
    .unwrap();
    misfiled.service = "checkout".into();
    stack
        .publish_unchecked("logs.transaction.checkout", &misfiled)
        .await;
    let mut carded = bad.clone();
    if let sightline_schemas::Body::Transaction(tx) = &mut carded.payload {
        tx.amount = sightline_schemas::Decimal::ONE;
        tx.card_fingerprint = Some(CARD.into());
    }
    stack
        .publish_unchecked("logs.transaction.payments", &carded)
        .await;
    stack.publish_generated(3, 50).await;

    let tally = Tally::default();
    let (trigger, shutdown) = Shutdown::new();
    let worker = Worker::new(
        &stack.bus,
        logs_worker("tally"),
        stack.settings.consumer.clone(),
        tally.clone(),
    );
    let task = tokio::spawn(worker.run(shutdown));
    let applied = eventually(Duration::from_secs(20), || {
        let tally = tally.clone();
        async move { tally.0.lock().unwrap().len() >= 100 }
    })
    .await;
    assert!(applied, "applied {}", tally.0.lock().unwrap().len());
    assert!(
        eventually(Duration::from_secs(10), || async {
            stack.stream_messages("DLQ").await == 4
        })
        .await
    );
    trigger.trip();
    task.await.unwrap().unwrap();
    assert_eq!(tally.0.lock().unwrap().len(), 100);

    let first = stack.dead_letter(1).await;
    let second = stack.dead_letter(2).await;
    assert_eq!(
        first.subject.as_str(),
        "dlq.tally.51.logs.transaction.checkout"
    );
    assert_eq!(
        header(&first, consumer::ORIGINAL_SUBJECT),
        "logs.transaction.checkout"
    );
    assert_eq!(header(&first, consumer::ORIGINAL_SEQUENCE), "51");
    assert_eq!(header(&first, consumer::ORIGINAL_STREAM), "LOGS");
    assert!(
        header(&first, consumer::ERROR).starts_with("undecodable event"),
        "{}",
        header(&first, consumer::ERROR)
    );
    assert_eq!(first.payload.as_ref(), Stack::UNDECODABLE.as_bytes());
    assert_eq!(header(&second, consumer::ORIGINAL_SEQUENCE), "52");
    assert!(
        header(&second, consumer::ERROR).contains("payload.amount: must be >= 0"),
        "{}",
        header(&second, consumer::ERROR)
    );
    assert_eq!(header(&second, "Content-Type"), "application/json");

    let third = stack.dead_letter(3).await;
    assert!(
        header(&third, consumer::ERROR)
            .contains("kind: is error but the event was published on logs.transaction.checkout"),
        "{}",
        header(&third, consumer::ERROR)
    );
    // The refused card number is masked in the letter, and the letter says so.
    let fourth = stack.dead_letter(4).await;
    assert!(
        header(&fourth, consumer::ERROR).contains("card_fingerprint"),
        "{}",
        header(&fourth, consumer::ERROR)
    );
    let payload = String::from_utf8_lossy(&fourth.payload);
    assert!(!payload.contains(CARD), "{payload}");
    assert!(payload.contains("****************"), "{payload}");
    assert_eq!(header(&fourth, consumer::MASKED), "1");
}

/// A test card number (passes the Luhn check).
const CARD: &str = "4111111111111111";

/// A watermark projection kept in a file: the counts and the last applied sequence
/// are written together, atomically (write to a temp file, fsync, rename).
struct FileCounter {
    path: PathBuf,
    state: Counted,
    /// Crash (hang before the ack, until killed) after this many batches.
    crash_after: Option<(usize, tokio::sync::mpsc::Sender<()>)>,
}

#[derive(Default, Serialize, Deserialize)]
struct Counted {
    watermark: u64,
    counts: BTreeMap<String, u32>,
}

impl FileCounter {
    fn open(path: PathBuf) -> Self {
        let state = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        Self {
            path,
            state,
            crash_after: None,
        }
    }
}

impl Projection for FileCounter {
    type Item = Event;
    async fn position(&mut self) -> Result<Position, Error> {
        *self = Self {
            crash_after: self.crash_after.take(),
            ..Self::open(self.path.clone())
        };
        Ok(match self.state.watermark {
            0 => Position::Start,
            w => Position::After(w),
        })
    }

    async fn apply(&mut self, batch: &[Record<Event>]) -> Result<Outcome, Error> {
        for r in batch {
            if r.stream_seq <= self.state.watermark {
                continue;
            }
            *self.state.counts.entry(r.item.id.to_string()).or_default() += 1;
            self.state.watermark = r.stream_seq;
        }
        let tmp = self.path.with_extension("tmp");
        let file = std::fs::File::create(&tmp).unwrap();
        serde_json::to_writer(&file, &self.state).unwrap();
        file.sync_all().unwrap();
        std::fs::rename(&tmp, &self.path).unwrap();
        if let Some((left, crashed)) = &mut self.crash_after {
            *left -= 1;
            if *left == 0 {
                crashed.send(()).await.unwrap();
                std::future::pending::<()>().await;
            }
        }
        Ok(Outcome::default())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_before_its_ack_loses_nothing_and_counts_each_event_once() {
    let stack = Stack::start().await;
    let events = stack.publish_generated(21, 10_000).await;
    let path = stack.path("counter.json");
    let mut settings = stack.settings.clone();
    settings.consumer.batch_size = 500;
    // A consumer left by an older version, acking every message: a watermark
    // projection replaces it with one acked once per batch.
    let logs = stack.bus.js.get_stream("LOGS").await.unwrap();
    logs.create_consumer(async_nats::jetstream::consumer::pull::Config {
        durable_name: Some("counter".into()),
        ack_policy: AckPolicy::Explicit,
        ..Default::default()
    })
    .await
    .unwrap();

    let (crashed_tx, mut crashed) = tokio::sync::mpsc::channel(1);
    let mut doomed = FileCounter::open(path.clone());
    doomed.crash_after = Some((3, crashed_tx));
    let (_keep, shutdown) = Shutdown::new();
    let first = tokio::spawn(
        Worker::new(
            &stack.bus,
            logs_worker("counter"),
            settings.consumer.clone(),
            doomed,
        )
        .run(shutdown),
    );
    tokio::time::timeout(Duration::from_secs(30), crashed.recv())
        .await
        .expect("third batch applied");
    first.abort();
    let _ = first.await;
    let written: Counted = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert!(
        written.watermark > 0 && (written.watermark as usize) < events.len(),
        "killed mid-stream at {}",
        written.watermark
    );

    let (trigger, shutdown) = Shutdown::new();
    let second = tokio::spawn(
        Worker::new(
            &stack.bus,
            logs_worker("counter"),
            settings.consumer.clone(),
            FileCounter::open(path.clone()),
        )
        .run(shutdown),
    );
    let total = events.len() as u64;
    let caught_up = eventually(Duration::from_secs(60), || {
        let path = path.clone();
        async move {
            let state: Counted = serde_json::from_slice(&std::fs::read(&path).unwrap_or_default())
                .unwrap_or_default();
            state.watermark == total
        }
    })
    .await;
    trigger.trip();
    second.await.unwrap().unwrap();
    assert!(
        caught_up,
        "the restarted worker did not reach the end of the stream"
    );

    let state: Counted = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(state.counts.len(), events.len(), "every event counted");
    assert!(
        state.counts.values().all(|&c| c == 1),
        "no event counted twice"
    );
    for e in &events {
        assert_eq!(state.counts.get(&e.id.to_string()), Some(&1));
    }
    assert_eq!(stack.stream_messages("DLQ").await, 0);
    let info = logs.consumer_info("counter").await.unwrap();
    assert_eq!(info.config.ack_policy, AckPolicy::All);
    assert_eq!(
        info.num_ack_pending, 0,
        "the last batch's ack covers it all"
    );
}
