//! `sightline bench counters`: fills LOGS, measures bare consume+ack of it, then the
//! counters worker over the same stream into Redis, counting Redis round trips.

use std::time::{Duration, Instant};

use sightline_counters::project::CounterProjection;
use sightline_counters::{Layout, RedisStore, Source};
use sightline_runtime::consumer::Worker;
use sightline_runtime::servers;
use sightline_runtime::{Settings, Shutdown};
use sightline_schemas::Event;

use super::{bench_bus, fill, raw_consume, RawAck, Report};

pub async fn run(mut settings: Settings, events: usize) -> Report {
    let bench = bench_bus(&mut settings).await?;
    let bus = &bench.bus;
    // Redis as production runs it: append-only file, fsync every second.
    let mut redis_server = None;
    let redis_dir = tempfile::tempdir()?;
    let url = match &settings.redis.url {
        Some(url) => url.0.clone(),
        None => {
            let bin =
                servers::find_binary("redis-server", settings.servers.redis_server.as_deref())?;
            let child = servers::start_redis(&bin, redis_dir.path(), 0, true)?;
            let url = format!("redis://{}", child.addr());
            redis_server = Some(child);
            url
        }
    };
    fill(bus, &settings, events).await?;
    let raw_consume_per_s = raw_consume(bus, &[], events, RawAck::EachMessage).await?;
    let raw_batch_ack_per_s = raw_consume(bus, &[], events, RawAck::PerBatch).await?;

    let store = RedisStore::connect(&url, Layout::new(&settings.counters)?).await?;
    // Progress is polled on a connection of its own, so the worker's round trips
    // are counted alone.
    let probe = RedisStore::connect(&url, Layout::new(&settings.counters)?).await?;
    let (trigger, shutdown) = Shutdown::new();
    let started = Instant::now();
    let worker = tokio::spawn(
        Worker::new(
            bus,
            Source::Logs.spec("bench-counters"),
            settings
                .consumer
                .with_batch_size(settings.counters.batch_size),
            CounterProjection::<Event>::new(store.clone()),
        )
        .run(shutdown),
    );
    let last = events as u64;
    while probe
        .watermarks(Source::Logs)
        .await?
        .iter()
        .any(|&w| w < last)
    {
        if worker.is_finished() {
            worker.await??;
            anyhow::bail!("the counters worker stopped before the end of the stream");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    trigger.trip();
    worker.await??;
    let counted_per_s = events as f64 / elapsed;
    let report = serde_json::json!({
        "bench": "counters",
        "events": events,
        "nats": if bench.embedded { "embedded" } else { "external" },
        "redis": if redis_server.is_some() { "embedded (appendonly, fsync every second)" } else { "external" },
        "batch_size": settings.counters.batch_size,
        "shards": settings.counters.shards,
        "raw_consume_per_s": raw_consume_per_s.round(),
        "raw_consume_batch_ack_per_s": raw_batch_ack_per_s.round(),
        "counted_per_s": counted_per_s.round(),
        "counted_vs_raw_consume": (counted_per_s / raw_consume_per_s * 100.0).round() / 100.0,
        "counted_vs_raw_consume_batch_ack": (counted_per_s / raw_batch_ack_per_s * 100.0).round() / 100.0,
        "redis_round_trips_per_1k_events": (store.round_trips() as f64 * 1000.0 / events as f64 * 100.0).round() / 100.0,
    });
    Ok(report)
}
