//! `sightline bench fraud`: fills LOGS with labeled generator traffic, runs the fraud
//! scorer over it, then grades the detections it published against the labels.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use futures::StreamExt;
use sightline_fraud::project::{scorer_spec, ScorerProjection};
use sightline_fraud::score::evidence;
use sightline_generator::{label, Generator, Pattern, DEFAULT_POPULATION};
use sightline_runtime::consumer::{caught_up, Worker};
use sightline_runtime::publisher::Publisher;
use sightline_runtime::{topology, Bus, Settings, Shutdown};
use sightline_schemas::{Body, Detection, Encoding, Kind};
use time::OffsetDateTime;

use super::{bench_bus, raw_consume, RawAck, Report};

/// Each generated payment's label (its fraud pattern, if any), by transaction id.
type Truth = HashMap<String, Option<Pattern>>;

pub async fn run(mut settings: Settings, events: usize, fraud_rate: f64) -> Report {
    let bench = bench_bus(&mut settings).await?;
    let bus = &bench.bus;
    let (truth, scored_events) = fill(bus, &settings, events, fraud_rate).await?;
    let subjects = scorer_spec("bench-fraud").filter_subjects;
    let raw_consume_per_s = raw_consume(bus, &subjects, scored_events, RawAck::EachMessage).await?;
    let raw_batch_ack_per_s = raw_consume(bus, &subjects, scored_events, RawAck::PerBatch).await?;
    let rules = sightline_fraud::settings::rules(&settings.fraud)?;
    let suspicious = rules.suspicious_score;
    let typologies: Vec<String> = rules.typologies.iter().map(|t| t.name.clone()).collect();
    let typologies: Vec<&str> = typologies.iter().map(String::as_str).collect();

    let dir = tempfile::tempdir()?;
    let projection = ScorerProjection::new(
        rules.clone(),
        Publisher::new(bus, &settings.publisher),
        dir.path().join("scorer.state"),
        settings.fraud.snapshot_every,
        sightline_fraud::project::PayerIp::Referenced(sightline_runtime::pii::PiiHasher::new(
            [3; 32],
        )),
    );
    let (trigger, shutdown) = Shutdown::new();
    let started = Instant::now();
    let worker = tokio::spawn(
        Worker::new(
            bus,
            scorer_spec("bench-fraud"),
            settings.consumer.with_batch_size(settings.fraud.batch_size),
            projection,
        )
        .run(shutdown),
    );
    loop {
        if worker.is_finished() {
            worker.await??;
            anyhow::bail!("the scorer stopped before the end of the stream");
        }
        // The worker creates its consumer as it starts; until then there is nothing to read.
        let done = caught_up(bus, topology::LOGS, "bench-fraud")
            .await
            .unwrap_or(false);
        if done {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    trigger.trip();
    let projection = worker.await??;
    let verdicts = read_detections(bus).await?;
    // The saved state's size, scaled to a million remembered customers.
    let state = projection.state();
    let state_bytes = state.snapshot().map_err(anyhow::Error::msg)?.len();
    let state_per_million = (state_bytes as f64 * 1e6 / state.users.len().max(1) as f64).round();

    let grade = Grade::new(&truth, &verdicts, suspicious);
    let report = serde_json::json!({
        "bench": "fraud",
        "events": events,
        "scored_events": scored_events,
        "payments": truth.len(),
        "labeled_payments": truth.values().filter(|t| t.is_some()).count(),
        "nats": if bench.embedded { "embedded" } else { "external" },
        "raw_consume_per_s": raw_consume_per_s.round(),
        "raw_consume_batch_ack_per_s": raw_batch_ack_per_s.round(),
        "scored_per_s": (scored_events as f64 / elapsed).round(),
        "scored_vs_raw_consume": ((scored_events as f64 / elapsed) / raw_consume_per_s * 100.0).round() / 100.0,
        "payments_scored_per_s": (truth.len() as f64 / elapsed).round(),
        "detections_published": projection.published(),
        "suspicious_score": suspicious,
        "precision": round(grade.precision()),
        "recall": round(grade.recall()),
        "false_positive_rate": (grade.false_positive_rate() * 1e5).round() / 1e5,
        "confusion": { "tp": grade.tp, "fp": grade.fp, "fn": grade.fn_, "tn": grade.tn },
        "per_pattern": per_pattern(&truth, &verdicts, suspicious),
        "per_evidence": per_name(&truth, &verdicts, &evidence::ALL, |d, n| d.has(n)),
        "per_typology": per_name(&truth, &verdicts, &typologies, |d, n| {
            d.typologies.iter().any(|t| t.name == n && t.score >= suspicious)
        }),
        "scorer_state_bytes_per_million_users": state_per_million,
        "suite": crate::fraud_suite::grade(&rules, &[2, 3], sightline_scenarios::Mix::default().customers)?,
    });
    Ok(report)
}

fn round(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// Publishes generated traffic; returns the truth per transaction id and how many
/// events the scorer consumes (payments, logins, page actions).
async fn fill(
    bus: &Bus,
    settings: &Settings,
    events: usize,
    fraud_rate: f64,
) -> anyhow::Result<(Truth, usize)> {
    let start = OffsetDateTime::now_utc() - time::Duration::seconds((events / 200) as i64 + 600);
    let publisher = Publisher::new(bus, &settings.publisher);
    let mut pipeline = publisher.pipeline();
    let mut truth = HashMap::new();
    let mut scored = 0;
    let generator = Generator::new(23, start, DEFAULT_POPULATION).with_fraud_rate(fraud_rate);
    for event in generator.take(events) {
        if matches!(
            event.kind(),
            Kind::Transaction | Kind::Security | Kind::UserBehavior
        ) {
            scored += 1;
        }
        if let Body::Transaction(tx) = &event.payload {
            truth.insert(tx.transaction_id.clone(), label(&event));
        }
        pipeline.send(&event).await?;
    }
    pipeline.finish().await?;
    Ok((truth, scored))
}

/// Every detection on FRAUD, the latest revision per transaction.
async fn read_detections(bus: &Bus) -> anyhow::Result<HashMap<String, Detection>> {
    let stream = bus.js.get_stream(topology::FRAUD).await?;
    let total = stream.get_info().await?.state.messages;
    let consumer = stream
        .create_consumer(async_nats::jetstream::consumer::pull::OrderedConfig::default())
        .await?;
    let mut messages = consumer.messages().await?;
    let mut latest: HashMap<String, Detection> = HashMap::new();
    for _ in 0..total {
        let msg = messages
            .next()
            .await
            .ok_or_else(|| anyhow::anyhow!("FRAUD ended early"))??;
        let d = Detection::decode(&msg.payload, Encoding::MsgPack)?;
        match latest.get(&d.transaction_id) {
            Some(kept) if kept.revision >= d.revision => {}
            _ => {
                latest.insert(d.transaction_id.clone(), d);
            }
        }
    }
    Ok(latest)
}

#[derive(Default)]
struct Grade {
    tp: u64,
    fp: u64,
    fn_: u64,
    tn: u64,
}

impl Grade {
    fn new(truth: &Truth, verdicts: &HashMap<String, Detection>, at: u8) -> Self {
        let mut g = Grade::default();
        for (tx, t) in truth {
            let flagged = verdicts.get(tx).is_some_and(|d| d.score >= at);
            match (t.is_some(), flagged) {
                (true, true) => g.tp += 1,
                (false, true) => g.fp += 1,
                (true, false) => g.fn_ += 1,
                (false, false) => g.tn += 1,
            }
        }
        g
    }

    fn precision(&self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }

    fn recall(&self) -> f64 {
        ratio(self.tp, self.tp + self.fn_)
    }

    fn false_positive_rate(&self) -> f64 {
        ratio(self.fp, self.fp + self.tn)
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// Per generator pattern: its payments and the share caught as suspicious.
fn per_pattern(
    truth: &Truth,
    verdicts: &HashMap<String, Detection>,
    at: u8,
) -> BTreeMap<&'static str, serde_json::Value> {
    let mut out = BTreeMap::new();
    for pattern in Pattern::ALL {
        let (mut payments, mut caught) = (0u64, 0u64);
        for tx in truth
            .iter()
            .filter(|(_, t)| **t == Some(pattern))
            .map(|(tx, _)| tx)
        {
            payments += 1;
            caught += u64::from(verdicts.get(tx).is_some_and(|d| d.score >= at));
        }
        let recall = round(ratio(caught, payments));
        out.insert(
            pattern.as_str(),
            serde_json::json!({ "payments": payments, "caught": caught, "recall": recall }),
        );
    }
    out
}

/// Per evidence and per typology: how often it was found, and the share of those
/// payments labeled fraud (its precision on the generator's labels).
fn per_name(
    truth: &Truth,
    verdicts: &HashMap<String, Detection>,
    names: &[&str],
    found: impl Fn(&Detection, &str) -> bool,
) -> BTreeMap<String, serde_json::Value> {
    let mut out = BTreeMap::new();
    for name in names {
        let (mut fired, mut fraud) = (0u64, 0u64);
        for (tx, t) in truth {
            let has = verdicts.get(tx).is_some_and(|d| found(d, name));
            fired += u64::from(has);
            fraud += u64::from(has && t.is_some());
        }
        let figures =
            serde_json::json!({ "found": fired, "precision": round(ratio(fraud, fired)) });
        out.insert((*name).to_owned(), figures);
    }
    out
}
