//! The benchmarks behind `sightline bench ...`: each runs the real parts (the
//! node's functions in process, or the `sightline` binary's worker processes) and
//! gives its figures as one JSON object, each compared with the raw ceiling
//! measured in the same run (these machines are noisy).
//!
//! These are programs whose errors are only ever printed, so they use `anyhow` as
//! the binaries do; the crates they measure keep typed errors.

pub mod alerts;
pub mod api;
pub mod counters;
mod cpu;
pub mod fraud;
pub mod fraud_suite;
pub mod indexer;
pub mod ingest;
pub mod pipeline;
pub mod publish;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use anyhow::Context;
use async_nats::jetstream::consumer::{pull, AckPolicy};
use futures::StreamExt;
use sightline_generator::Generator;
use sightline_runtime::config::Secret;
use sightline_runtime::publisher::Publisher;
use sightline_runtime::servers::{self, ChildServer};
use sightline_runtime::{topology, Bus, Settings};
use time::OffsetDateTime;

/// What a benchmark gives: its figures, as one JSON object.
pub type Report = anyhow::Result<serde_json::Value>;

/// A NATS server for the benchmark: the configured one, or a child in a temp dir.
pub struct BenchBus {
    pub bus: Bus,
    pub embedded: bool,
    server: Option<(ChildServer, tempfile::TempDir)>,
}

impl BenchBus {
    /// The embedded server's process.
    pub fn pid(&self) -> Option<u32> {
        self.server.as_ref().map(|(s, _)| s.pid())
    }
}

pub async fn bench_bus(settings: &mut Settings) -> anyhow::Result<BenchBus> {
    let mut server = None;
    if settings.nats.url.is_none() {
        let dir = tempfile::tempdir()?;
        let bin = servers::find_binary("nats-server", settings.servers.nats_server.as_deref())?;
        let child = servers::start_nats(&bin, dir.path(), 0)?;
        settings.nats.url = Some(format!("nats://{}", child.addr()));
        server = Some((child, dir));
    }
    let bus = sightline_node::connect(settings).await?;
    topology::apply(&bus, &settings.streams, false)
        .await
        .context("applying streams")?;
    Ok(BenchBus {
        bus,
        embedded: server.is_some(),
        server,
    })
}

/// The Publisher's rate over `events`: the ceiling the HTTP doors are compared with.
pub async fn publisher_rate(
    publisher: &Publisher,
    events: &[sightline_schemas::Event],
) -> anyhow::Result<f64> {
    let started = Instant::now();
    let mut pipeline = publisher.pipeline();
    for e in events {
        pipeline.send(e).await?;
    }
    pipeline.finish().await?;
    Ok(events.len() as f64 / started.elapsed().as_secs_f64())
}

/// A redis-server for the benchmark when none is configured (appendonly, fsync
/// every second), with its files in `dir`.
pub fn bench_redis(settings: &mut Settings, dir: &Path) -> anyhow::Result<Option<ChildServer>> {
    if settings.redis.url.is_some() {
        return Ok(None);
    }
    let bin = servers::find_binary("redis-server", settings.servers.redis_server.as_deref())?;
    let child = servers::start_redis(&bin, dir, 0, true)?;
    settings.redis.url = Some(Secret(format!("redis://{}", child.addr())));
    Ok(Some(child))
}

/// Worker processes of this binary by kind, killed when dropped.
pub struct Workers(Vec<(String, Child)>);

impl Workers {
    pub fn pids(&self) -> impl Iterator<Item = (&str, u32)> {
        self.0.iter().map(|(kind, c)| (kind.as_str(), c.id()))
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        for (_, c) in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A `sightline worker <kinds>` process for each entry of `processes` (kinds
/// separated by spaces), over the bench's servers and data dir.
pub fn spawn_workers(settings: &Settings, processes: &[&str]) -> anyhow::Result<Workers> {
    let exe = std::env::current_exe()?;
    let mut children = Workers(Vec::new());
    for kinds in processes {
        let child = Command::new(&exe)
            .arg("worker")
            .args(kinds.split_whitespace())
            .env(
                "SIGHTLINE_NATS__URL",
                settings.nats.url.as_deref().unwrap_or_default(),
            )
            .env("SIGHTLINE_DATA_DIR", &settings.data_dir)
            .env(
                "SIGHTLINE_REDIS__URL",
                settings
                    .redis
                    .url
                    .as_ref()
                    .map(|u| u.0.as_str())
                    .unwrap_or_default(),
            )
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()?;
        children.0.push((
            kinds.split_whitespace().collect::<Vec<_>>().join("+"),
            child,
        ));
    }
    Ok(children)
}

/// How the raw ceiling acks what it consumes.
#[derive(Debug, Clone, Copy)]
pub enum RawAck {
    /// Every message (AckPolicy::Explicit), as untracked projections do.
    EachMessage,
    /// The last of every 1,000 (AckPolicy::All), as the scorer does.
    PerBatch,
}

/// Bare async-nats: a durable pull consumer over LOGS (all of it, or `subjects`),
/// consuming `events` messages and acking them: the ceiling a worker is compared with.
pub async fn raw_consume(
    bus: &Bus,
    subjects: &[String],
    events: usize,
    ack: RawAck,
) -> anyhow::Result<f64> {
    const BATCH: usize = 1000;
    let stream = bus.js.get_stream(topology::LOGS).await?;
    let (name, ack_policy) = match ack {
        RawAck::EachMessage => ("bench-raw", AckPolicy::Explicit),
        RawAck::PerBatch => ("bench-raw-batch-ack", AckPolicy::All),
    };
    let consumer = stream
        .create_consumer(pull::Config {
            durable_name: Some(name.into()),
            filter_subjects: subjects.to_vec(),
            ack_policy,
            max_ack_pending: 20_000,
            ..Default::default()
        })
        .await?;
    let mut messages = consumer
        .stream()
        .max_messages_per_batch(BATCH)
        .messages()
        .await?;
    let started = Instant::now();
    for i in 1..=events {
        let msg = messages
            .next()
            .await
            .ok_or_else(|| anyhow::anyhow!("raw consumer ended"))??;
        if matches!(ack, RawAck::EachMessage) || i % BATCH == 0 || i == events {
            msg.ack().await.map_err(|e| anyhow::anyhow!("ack: {e}"))?;
        }
    }
    bus.client.flush().await?;
    Ok(events as f64 / started.elapsed().as_secs_f64())
}

/// Where generated traffic of `events` starts: stamped over the hours up to a few
/// minutes ago, so every counter resolution still holds it.
pub fn traffic_start(events: usize) -> OffsetDateTime {
    OffsetDateTime::now_utc() - time::Duration::seconds((events / 150) as i64 + 600)
}

/// Publishes generated traffic, stamped over the hours up to a few minutes ago.
pub async fn fill(bus: &Bus, settings: &Settings, events: usize) -> anyhow::Result<()> {
    let start = traffic_start(events);
    let publisher = Publisher::new(bus, &settings.publisher);
    let mut pipeline = publisher.pipeline();
    for event in Generator::new(17, start, 20_000).take(events) {
        pipeline.send(&event).await?;
    }
    pipeline.finish().await?;
    Ok(())
}
