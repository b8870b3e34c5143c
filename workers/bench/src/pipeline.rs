//! `sightline bench pipeline`: the whole system on the embedded backends (the
//! worker processes as `sightline up` runs them, Tantivy, SQLite, Redis), against
//! bare publishing measured in the same run:
//!
//! - end to end: `events` published as fast as the Publisher goes, until every
//!   projection (and the fraud scorer, and what it detected) has applied the last;
//! - freshness: publish to queryable (searchable and counted) at a steady rate;
//! - replay: each projection rebuilt from its streams, against its live rate.
//!
//! Half the events are log records unless `--log-share` says otherwise: logs are
//! most of what a log monitoring system takes.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressDrawTarget};
use sightline_api::watermark::Marks;
use sightline_api::AppState;
use sightline_generator::Generator;
use sightline_runtime::consumer::rebuild::{From, Until};
use sightline_runtime::consumer::Source;
use sightline_runtime::publisher::Publisher;
use sightline_runtime::topology::{FRAUD, LOGS};
use sightline_runtime::versions::{Target, Versions};
use sightline_runtime::{Bus, Settings, Shutdown};
use sightline_schemas::Event;

use super::cpu::CpuMeter;
use super::publish::{raw_stream, RawBatch};
use super::{bench_bus, bench_redis, spawn_workers, Report};
use sightline_node::replay::{Range, Replay};
use sightline_runtime::consumer::names;

/// The worker processes, as they would be deployed on one machine: the readers of
/// LOGS in one process, on one consumer.
pub(super) const WORKERS: [&str; 3] = ["indexer counters fraud", "fraud-store", "alerts"];
/// What a consumer has applied, read from the projection's watermarks.
type Applied = fn(&Marks) -> Option<u64>;
/// Each projection's durable consumers, by stream, and the watermark that says what
/// it has applied (a consumer without acks is no guide: it delivered, not applied).
const CONSUMERS: [(Target, &str, &str, Applied); 5] = [
    (Target::Search, LOGS, names::INDEXER, |m| m.search),
    (Target::Search, FRAUD, names::INDEXER_FRAUD, |m| {
        m.search_fraud
    }),
    (Target::Counters, LOGS, names::COUNTERS, |m| m.counters),
    (Target::Counters, FRAUD, names::COUNTERS_FRAUD, |m| {
        m.counters_fraud
    }),
    (Target::Fraud, FRAUD, names::FRAUD_STORE, |m| m.detections),
];
/// The steady rate freshness is measured at.
const STEADY_PER_S: u64 = 5_000;

pub async fn run(mut settings: Settings, events: usize, steady_s: u64, log_share: f64) -> Report {
    let bench = bench_bus(&mut settings).await?;
    let bus = &bench.bus;
    let data = tempfile::tempdir()?;
    settings.data_dir = data.path().to_owned();
    let redis = bench_redis(&mut settings, data.path())?;
    let mut cpu = CpuMeter::new("bench");
    for (name, pid) in [
        ("nats-server", bench.pid()),
        ("redis-server", redis.as_ref().map(|r| r.pid())),
    ] {
        if let Some(pid) = pid {
            cpu.watch(name, pid);
        }
    }
    let start = super::traffic_start(events);
    let mut traffic = Generator::new(29, start, 20_000).with_log_share(log_share);
    let batch: Vec<Event> = traffic.by_ref().take(events).collect();

    // The ceiling: bare async-nats into a stream like LOGS, with message ids.
    raw_stream(bus, &settings).await?;
    let raw = RawBatch::new(&batch, &settings)?;
    let raw_from = cpu.mark();
    let raw_publish_per_s = raw
        .publish(bus, true, settings.publisher.max_in_flight)
        .await?;
    let raw_cpu = cpu.per_event(&raw_from, &cpu.mark(), events as u64);
    bus.js.delete_stream("BENCH_RAW").await?;

    let workers = spawn_workers(&settings, &WORKERS)?;
    for (kind, pid) in workers.pids() {
        cpu.watch(kind, pid);
    }
    let state = AppState::connect(settings.clone())
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.message))?;
    wait_for_consumers(bus).await?;
    tracing::info!(raw_publish_per_s, "workers ready; publishing");

    // End to end: the Publisher's pace, until everything is applied.
    let publisher = Publisher::new(bus, &settings.publisher);
    let started = Instant::now();
    let e2e_from = cpu.mark();
    let mut pipeline = publisher.pipeline();
    for e in &batch {
        pipeline.send(e).await?;
    }
    pipeline.finish().await?;
    let published_s = started.elapsed().as_secs_f64();
    let live = wait_until_applied(bus, &state, events as u64, started).await?;
    let end_to_end_s = started.elapsed().as_secs_f64();
    let e2e_cpu = cpu.per_event(&e2e_from, &cpu.mark(), events as u64);
    tracing::info!(end_to_end_s, "all applied; steady traffic for freshness");
    drop(batch);

    let freshness = freshness(bus, &state, &settings, &mut traffic, steady_s).await?;

    tracing::info!(p99_ms = freshness.p99_ms, "replaying each projection");
    // Replays, one projection at a time, of everything the streams now hold.
    let versions = Versions::open(bus).await?;
    let range = Range {
        from: From::All,
        until: Until::Head,
        subjects: Vec::new(),
        rate: None,
        rescore: false,
    };
    let replay = Replay {
        bus,
        versions: &versions,
        settings: &settings,
        range: &range,
        shutdown: Shutdown::new().1,
        bars: MultiProgress::with_draw_target(ProgressDrawTarget::hidden()),
    };
    let mut replays = serde_json::Map::new();
    for target in Target::ALL {
        let report = replay.run(target, true).await?;
        let live_per_s = live.get(&target).copied().unwrap_or_default();
        replays.insert(
            target.name().into(),
            serde_json::json!({
                "replay_per_s": report.per_s.round(),
                "live_per_s": live_per_s.round(),
                "replay_vs_live": (report.per_s / live_per_s.max(1e-9) * 100.0).round() / 100.0,
                "messages": report.sources.values().map(|r| r.applied + r.skipped).sum::<u64>(),
            }),
        );
    }
    let end_to_end_per_s = events as f64 / end_to_end_s;
    let report = serde_json::json!({
        "bench": "pipeline",
        "events": events,
        "log_share": log_share,
        "nats": if bench.embedded { "embedded" } else { "external" },
        "raw_publish_per_s": raw_publish_per_s.round(),
        "publisher_per_s": (events as f64 / published_s).round(),
        "end_to_end_per_s": end_to_end_per_s.round(),
        "end_to_end_vs_raw": (end_to_end_per_s / raw_publish_per_s * 100.0).round() / 100.0,
        "cpu_us_per_event": { "raw_publish": raw_cpu, "end_to_end": e2e_cpu },
        "freshness_rate_per_s": STEADY_PER_S,
        "freshness_events": freshness.events,
        "freshness_p50_ms": freshness.p50_ms,
        "freshness_p99_ms": freshness.p99_ms,
        "replay": replays,
    });
    Ok(report)
}

/// Waits until every worker has created its consumers.
pub(super) async fn wait_for_consumers(bus: &Bus) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    // The readers of LOGS share one consumer, named after all of them.
    let logs_roles: Vec<&str> = WORKERS[0].split(' ').collect();
    let logs = (LOGS, sightline_node::roles::logs_consumer(&logs_roles));
    let fraud = CONSUMERS
        .iter()
        .filter(|(_, s, _, _)| *s == FRAUD)
        .map(|(_, s, n, _)| (*s, n.to_string()));
    for (stream, name) in fraud.chain([logs]) {
        let stream = bus.js.get_stream(stream).await?;
        while stream.consumer_info(&name).await.is_err() {
            anyhow::ensure!(
                Instant::now() < deadline,
                "worker consumer {name} never appeared"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    Ok(())
}

/// Waits, once all `last` events are published, until the scorer and every
/// projection have applied all of LOGS and all the scorer published; each
/// projection's live rate in messages per second.
pub(super) async fn wait_until_applied(
    bus: &Bus,
    state: &AppState,
    last: u64,
    started: Instant,
) -> anyhow::Result<BTreeMap<Target, f64>> {
    let deadline = started + Duration::from_secs(1800);
    let mut done: BTreeMap<&str, f64> = BTreeMap::new();
    let mut fraud_head = None;
    while done.len() < CONSUMERS.len() {
        anyhow::ensure!(
            Instant::now() < deadline,
            "the pipeline did not catch up: {done:?}"
        );
        state.refresh_marks().await;
        let marks = state.marks.current();
        // The scorer publishes a batch's detections before it records the batch
        // applied, so FRAUD is whole once it stands at the last event.
        if fraud_head.is_none() && marks.scorer.is_some_and(|s| s >= last) {
            let mut fraud = bus.js.get_stream(FRAUD).await?;
            fraud_head = Some(fraud.info().await?.state.last_sequence);
        }
        for (_, stream, name, applied) in CONSUMERS {
            let head = match stream {
                LOGS => Some(last),
                _ => fraud_head,
            };
            let complete = head.is_some_and(|head| applied(&marks).is_some_and(|w| w >= head));
            if !done.contains_key(name) && complete {
                done.insert(name, started.elapsed().as_secs_f64());
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let fraud = fraud_head.unwrap_or(0) as f64;
    let mut rates = BTreeMap::new();
    for target in Target::ALL {
        let (mut messages, mut seconds) = (0.0, 0f64);
        for (_, stream, name, _) in CONSUMERS.iter().filter(|c| c.0 == target) {
            messages += if *stream == LOGS { last as f64 } else { fraud };
            seconds = seconds.max(done[name]);
        }
        rates.insert(target, messages / seconds.max(1e-9));
    }
    Ok(rates)
}

struct Freshness {
    events: u64,
    p50_ms: f64,
    p99_ms: f64,
}

/// Publishes at [`STEADY_PER_S`] for `seconds` and times each event from its send
/// to the moment it is both searchable and counted, as the API reads them.
async fn freshness(
    bus: &Bus,
    state: &AppState,
    settings: &Settings,
    traffic: &mut Generator,
    seconds: u64,
) -> anyhow::Result<Freshness> {
    let mut logs = bus.js.get_stream(LOGS).await?;
    let base = logs.info().await?.state.last_sequence;
    let total = STEADY_PER_S * seconds;
    // Send instants by LOGS sequence (base + 1 + i), in microseconds since `t0`.
    let sent: Arc<Mutex<Vec<u64>>> = Arc::new(Mutex::new(Vec::with_capacity(total as usize)));
    let t0 = Instant::now();
    let visible = Arc::new(AtomicU64::new(base));
    let latencies = Arc::new(Mutex::new(Vec::with_capacity(total as usize)));
    let watcher = {
        let (state, sent, visible, latencies) = (
            state.clone(),
            sent.clone(),
            visible.clone(),
            latencies.clone(),
        );
        tokio::spawn(async move {
            loop {
                let search = state
                    .search()
                    .watermark(Source::Logs)
                    .await
                    .ok()
                    .flatten()
                    .unwrap_or(0);
                let counted = state
                    .counters()
                    .watermark(Source::Logs)
                    .await
                    .ok()
                    .flatten()
                    .unwrap_or(0);
                let now = t0.elapsed().as_micros() as u64;
                let upto = search.min(counted);
                let before =
                    visible.swap(upto.max(visible.load(Ordering::Relaxed)), Ordering::Relaxed);
                if upto > before {
                    let sent = sent.lock().unwrap_or_else(|e| e.into_inner());
                    let mut lat = latencies.lock().unwrap_or_else(|e| e.into_inner());
                    for seq in before + 1..=upto {
                        if let Some(at) = sent.get((seq - base - 1) as usize) {
                            lat.push(now.saturating_sub(*at));
                        }
                    }
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    // Ticks of 10 ms, each sending its share of the rate.
    let publisher = Publisher::new(bus, &settings.publisher);
    let per_tick = (STEADY_PER_S / 100).max(1);
    let mut pipeline = publisher.pipeline();
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    for _ in 0..total / per_tick {
        tick.tick().await;
        for e in traffic.by_ref().take(per_tick as usize) {
            sent.lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(t0.elapsed().as_micros() as u64);
            pipeline.send(&e).await?;
        }
    }
    pipeline.finish().await?;
    let last = base + (total / per_tick) * per_tick;
    let deadline = Instant::now() + Duration::from_secs(120);
    while visible.load(Ordering::Relaxed) < last {
        anyhow::ensure!(
            Instant::now() < deadline,
            "steady traffic was never all visible"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    watcher.abort();
    let mut lat = std::mem::take(&mut *latencies.lock().unwrap_or_else(|e| e.into_inner()));
    lat.sort_unstable();
    let pick = |q: f64| {
        let i = ((lat.len() as f64 * q).ceil() as usize).clamp(1, lat.len().max(1)) - 1;
        lat.get(i)
            .map_or(0.0, |us| (*us as f64 / 100.0).round() / 10.0)
    };
    Ok(Freshness {
        events: lat.len() as u64,
        p50_ms: pick(0.50),
        p99_ms: pick(0.99),
    })
}
