//! Consumer runtime behaviour under failure: transient errors, per-item rejections,
//! stalls and shutdown, with the metrics and health endpoints that report them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sightline_runtime::consumer::{Outcome, Position, Projection, Record, Worker, ERROR};
use sightline_runtime::metrics::{self, Health};
use sightline_runtime::{Error, ErrorKind, Shutdown};
use sightline_schemas::Event;
use sightline_tests::{eventually, header, http_get, logs_worker, metric_value, Stack};

/// Counts applications per event id; fails while `failures` is above zero;
/// rejects events whose service is in `reject`.
#[derive(Clone, Default)]
struct Flaky {
    seen: Arc<Mutex<HashMap<String, u32>>>,
    failures: Arc<AtomicUsize>,
    reject_service: Option<&'static str>,
    slow: Option<(Duration, Arc<tokio::sync::Notify>)>,
}

impl Flaky {
    fn applied(&self) -> usize {
        self.seen.lock().unwrap().len()
    }
}

impl Projection for Flaky {
    type Item = Event;
    async fn position(&mut self) -> Result<Position, Error> {
        Ok(Position::Untracked)
    }
    async fn apply(&mut self, batch: &[Record<Event>]) -> Result<Outcome, Error> {
        if self.failures.load(Ordering::SeqCst) > 0 {
            self.failures.fetch_sub(1, Ordering::SeqCst);
            return Err(Error::store(ErrorKind::Transient, "test store unavailable"));
        }
        if let Some((pause, started)) = &self.slow {
            started.notify_one();
            tokio::time::sleep(*pause).await;
        }
        let mut outcome = Outcome::default();
        let mut seen = self.seen.lock().unwrap();
        for (i, r) in batch.iter().enumerate() {
            if Some(r.item.service.as_str()) == self.reject_service {
                outcome
                    .rejected
                    .push((i, format!("store refused document from {}", r.item.service)));
            } else {
                *seen.entry(r.item.id.to_string()).or_default() += 1;
            }
        }
        Ok(outcome)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_failures_are_retried_and_counted_without_loss() {
    let stack = Stack::start().await;
    let events = stack.publish_generated(5, 300).await;
    let flaky = Flaky {
        failures: Arc::new(AtomicUsize::new(3)),
        ..Default::default()
    };
    let health = Health::default();
    let (addr, _server) = metrics::serve("127.0.0.1:0".parse().unwrap(), health.clone())
        .await
        .unwrap();
    let (trigger, shutdown) = Shutdown::new();
    let worker = Worker::new(
        &stack.bus,
        logs_worker("flaky"),
        stack.settings.consumer.clone(),
        flaky.clone(),
    )
    .with_health(health);
    let task = tokio::spawn(worker.run(shutdown));
    assert!(
        eventually(Duration::from_secs(30), || async {
            flaky.applied() == events.len()
        })
        .await
    );
    let (status, body) = http_get(addr, "/metrics").await;
    assert_eq!(status, 200);
    assert!(
        metric_value(
            &body,
            "sightline_worker_batches_failed_total{consumer=\"flaky\"}"
        )
        .unwrap()
            >= 3.0,
        "{body}"
    );
    assert_eq!(
        metric_value(
            &body,
            "sightline_worker_messages_applied_total{consumer=\"flaky\"}"
        ),
        Some(events.len() as f64)
    );
    assert!(body.contains("sightline_worker_event_lag_seconds_bucket{consumer=\"flaky\""));
    let (status, health_body) = http_get(addr, "/healthz").await;
    assert_eq!(status, 200, "{health_body}");
    trigger.trip();
    task.await.unwrap().unwrap();
    assert!(
        flaky.seen.lock().unwrap().values().all(|&n| n == 1),
        "a batch that failed was applied twice"
    );
    assert_eq!(stack.stream_messages("DLQ").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn items_the_projection_rejects_go_to_the_dlq_with_its_reason() {
    let stack = Stack::start().await;
    let events = stack.publish_generated(6, 400).await;
    let rejected = events.iter().filter(|e| e.service == "auth").count();
    assert!(rejected > 0);
    let flaky = Flaky {
        reject_service: Some("auth"),
        ..Default::default()
    };
    let (trigger, shutdown) = Shutdown::new();
    let task = tokio::spawn(
        Worker::new(
            &stack.bus,
            logs_worker("picky"),
            stack.settings.consumer.clone(),
            flaky.clone(),
        )
        .run(shutdown),
    );
    assert!(
        eventually(Duration::from_secs(30), || async {
            flaky.applied() == events.len() - rejected
        })
        .await
    );
    assert!(
        eventually(Duration::from_secs(10), || async {
            stack.stream_messages("DLQ").await == rejected as u64
        })
        .await
    );
    trigger.trip();
    task.await.unwrap().unwrap();
    let letter = stack.dead_letter(1).await;
    assert!(
        letter.subject.as_str().starts_with("dlq.picky.")
            && letter.subject.as_str().contains(".logs."),
        "{}",
        letter.subject
    );
    assert_eq!(header(&letter, ERROR), "store refused document from auth");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_worker_is_reported_unhealthy() {
    let stack = Stack::start().await;
    stack.publish_generated(7, 50).await;
    let broken = Flaky {
        failures: Arc::new(AtomicUsize::new(usize::MAX)),
        ..Default::default()
    };
    let mut settings = stack.settings.consumer.clone();
    settings.stall_after = Duration::from_secs(1);
    settings.retry_attempts = 1_000;
    let health = Health::default();
    let (addr, _server) = metrics::serve("127.0.0.1:0".parse().unwrap(), health.clone())
        .await
        .unwrap();
    let (trigger, shutdown) = Shutdown::new();
    let task = tokio::spawn(
        Worker::new(&stack.bus, logs_worker("stuck"), settings, broken)
            .with_health(health)
            .run(shutdown),
    );
    let stalled = eventually(Duration::from_secs(15), || async {
        http_get(addr, "/healthz").await.0 == 503
    })
    .await;
    let (_, body) = http_get(addr, "/healthz").await;
    assert!(stalled, "{body}");
    let report: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(report["status"], "stalled");
    assert_eq!(report["workers"][0]["consumer"], "stuck");
    assert!(report["workers"][0]["pending"].as_u64().unwrap() > 0);
    trigger.trip();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("stops while retrying")
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_the_batch_in_flight_and_hands_back_the_rest() {
    let stack = Stack::start().await;
    let events = stack.publish_generated(8, 3_000).await;
    let started = Arc::new(tokio::sync::Notify::new());
    let slow = Flaky {
        slow: Some((Duration::from_millis(500), started.clone())),
        ..Default::default()
    };
    let mut settings = stack.settings.consumer.clone();
    settings.batch_size = 200;
    settings.ack_wait = Duration::from_secs(60);
    let (trigger, shutdown) = Shutdown::new();
    let task = tokio::spawn(
        Worker::new(
            &stack.bus,
            logs_worker("graceful"),
            settings.clone(),
            slow.clone(),
        )
        .run(shutdown),
    );
    started.notified().await;
    trigger.trip();
    task.await.unwrap().unwrap();
    let first_run = slow.applied();
    assert!(
        first_run > 0 && first_run < events.len(),
        "the batch in flight was finished: {first_run}"
    );

    // With a 60 s ack_wait, only handed-back (nak'ed) messages can be redelivered this fast.
    let resumed = Flaky {
        seen: slow.seen.clone(),
        ..Default::default()
    };
    let (trigger, shutdown) = Shutdown::new();
    let task = tokio::spawn(
        Worker::new(
            &stack.bus,
            logs_worker("graceful"),
            settings,
            resumed.clone(),
        )
        .run(shutdown),
    );
    let all = eventually(Duration::from_secs(20), || async {
        resumed.applied() == events.len()
    })
    .await;
    trigger.trip();
    task.await.unwrap().unwrap();
    assert!(all, "applied {} of {}", resumed.applied(), events.len());
    assert!(
        resumed.seen.lock().unwrap().values().all(|&n| n == 1),
        "an acked batch was delivered again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_created_with_the_whole_stream_filter_is_taken_over_where_it_stood() {
    use async_nats::jetstream::consumer::{pull, AckPolicy};
    use futures::StreamExt;

    let stack = Stack::start().await;
    let events = stack.publish_generated(9, 300).await;
    // As earlier releases created it: filtered on `logs.>`, 100 messages acked.
    let logs = stack.bus.js.get_stream("LOGS").await.unwrap();
    let old = logs
        .create_consumer(pull::Config {
            durable_name: Some("upgraded".into()),
            filter_subject: "logs.>".into(),
            ack_policy: AckPolicy::Explicit,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut first = old.fetch().max_messages(100).messages().await.unwrap();
    let mut acked = 0;
    while let Some(msg) = first.next().await {
        msg.unwrap().double_ack().await.unwrap();
        acked += 1;
    }
    assert_eq!(acked, 100);

    let flaky = Flaky::default();
    let (trigger, shutdown) = Shutdown::new();
    let task = tokio::spawn(
        Worker::new(
            &stack.bus,
            logs_worker("upgraded"),
            stack.settings.consumer.clone(),
            flaky.clone(),
        )
        .run(shutdown),
    );
    let rest = events.len() - acked;
    let caught_up = eventually(Duration::from_secs(20), || async {
        flaky.applied() == rest
    })
    .await;
    trigger.trip();
    task.await.unwrap().unwrap();
    assert!(
        caught_up,
        "applied {} of the {rest} unacked",
        flaky.applied()
    );
    let reapplied = {
        let seen = flaky.seen.lock().unwrap();
        events[..acked]
            .iter()
            .filter(|e| seen.contains_key(&e.id.to_string()))
            .count()
    };
    assert_eq!(
        reapplied, 0,
        "events acked before the upgrade applied again"
    );
    let info = logs.consumer_info("upgraded").await.unwrap();
    assert!(info.config.filter_subject.is_empty() && info.config.filter_subjects.is_empty());
}

/// A cursor projection (no acks): its watermark is the newest sequence applied.
/// A hanging one never finishes a batch, as a store that stopped answering.
#[derive(Clone, Default)]
struct Cursor {
    watermark: Arc<Mutex<Option<u64>>>,
    hang: bool,
}

impl Projection for Cursor {
    type Item = Event;
    async fn position(&mut self) -> Result<Position, Error> {
        Ok(self
            .watermark
            .lock()
            .unwrap()
            .map_or(Position::Start, Position::After))
    }
    fn durable_watermark(&self) -> bool {
        true
    }
    async fn apply(&mut self, batch: &[Record<Event>]) -> Result<Outcome, Error> {
        if self.hang {
            std::future::pending::<()>().await;
        }
        let newest = batch.iter().map(|r| r.stream_seq).max();
        let mut watermark = self.watermark.lock().unwrap();
        *watermark = (*watermark).max(newest);
        Ok(Outcome::default())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filtered_cursor_consumer_stands_at_the_head_once_nothing_is_left_for_it() {
    use sightline_runtime::consumer::{applied_through, Progress, WorkerSpec};
    use sightline_schemas::Kind;

    let stack = Stack::start().await;
    let events = stack.publish_generated(21, 200).await;
    // The stream ends on a kind the consumer does not take.
    let start = events.last().unwrap().occurred_at;
    let tail: Vec<Event> = sightline_generator::Generator::new(22, start, 100)
        .filter(|e| e.kind() == Kind::Performance)
        .take(3)
        .collect();
    stack.publish(&tail).await;
    let head = stack.stream_head("LOGS").await;
    let payments = events
        .iter()
        .filter(|e| e.kind() == Kind::Transaction)
        .count();
    assert!(payments > 0);

    let spec = WorkerSpec {
        stream: "LOGS".into(),
        consumer: "payments".into(),
        filter_subjects: vec!["logs.transaction.>".into()],
        parts: Vec::new(),
    };
    let cursor = Cursor::default();
    let (trigger, shutdown) = Shutdown::new();
    let task = tokio::spawn(
        Worker::new(
            &stack.bus,
            spec,
            stack.settings.consumer.clone(),
            cursor.clone(),
        )
        .run(shutdown),
    );
    let progress = Progress::open(&stack.bus).await.unwrap();
    let logs = stack.bus.js.get_stream("LOGS").await.unwrap();
    let at_head = eventually(Duration::from_secs(20), || async {
        // An error until the worker has created its consumer.
        let through = applied_through(&progress, &logs, "payments", head).await;
        through.ok().flatten() == Some(head)
    })
    .await;
    trigger.trip();
    task.await.unwrap().unwrap();
    assert!(at_head, "the consumer never stood at the head {head}");
    // What it recorded is its last payment, below the head: the head is only
    // reported because nothing is left for it.
    let recorded = progress.applied("payments").await.unwrap().unwrap();
    assert!(recorded < head - 2, "recorded {recorded}, head {head}");
    assert_eq!(Some(recorded), *cursor.watermark.lock().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_worker_stuck_in_its_batch_is_reported_unhealthy() {
    let stack = Stack::start().await;
    stack.publish_generated(8, 50).await;
    let mut settings = stack.settings.consumer.clone();
    settings.stall_after = Duration::from_secs(1);
    let health = Health::default();
    let (addr, _server) = metrics::serve("127.0.0.1:0".parse().unwrap(), health.clone())
        .await
        .unwrap();
    let stuck = Cursor {
        hang: true,
        ..Default::default()
    };
    let (_trigger, shutdown) = Shutdown::new();
    let task = tokio::spawn(
        Worker::new(&stack.bus, logs_worker("cursor"), settings, stuck)
            .with_health(health)
            .run(shutdown),
    );
    // Once the server has nothing left for it (all delivered, no acks expected),
    // only the batch it holds says it is stuck.
    let report = || async {
        let (status, body) = http_get(addr, "/healthz").await;
        (
            status,
            serde_json::from_str::<serde_json::Value>(&body).unwrap(),
        )
    };
    let stalled = eventually(Duration::from_secs(15), || async {
        let (status, report) = report().await;
        status == 503 && report["workers"][0]["pending"] == 0
    })
    .await;
    let (_, report) = report().await;
    task.abort();
    assert!(stalled, "{report}");
    assert_eq!(report["status"], "stalled");
    assert_eq!(report["workers"][0]["consumer"], "cursor");
    assert_eq!(report["workers"][0]["holding"], 50, "{report}");
}
