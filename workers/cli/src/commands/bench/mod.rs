//! `sightline bench ...`: throughput figures as one JSON object, each compared with
//! the raw ceiling measured in the same run (these machines are noisy).

mod fraud;
mod indexer;
mod publish;

use std::process::ExitCode;

use std::time::Instant;

use anyhow::Context;
use async_nats::jetstream::consumer::{pull, AckPolicy};
use futures::StreamExt;
use sightline_runtime::servers::{self, ChildServer};
use sightline_runtime::{topology, Bus, Settings};

use crate::cli::BenchTarget;

pub async fn run(target: BenchTarget, settings: &Settings) -> anyhow::Result<ExitCode> {
    match target {
        BenchTarget::Publish { events, rounds } => {
            publish::run(settings.clone(), events, rounds.max(1)).await
        }
        BenchTarget::Indexer {
            backend,
            events,
            queries,
        } => indexer::run(settings.clone(), backend, events, queries).await,
        BenchTarget::Fraud { events, fraud_rate } => {
            fraud::run(settings.clone(), events, fraud_rate).await
        }
    }
}

/// A NATS server for the benchmark: the configured one, or a child in a temp dir.
pub struct BenchBus {
    pub bus: Bus,
    pub embedded: bool,
    _server: Option<(ChildServer, tempfile::TempDir)>,
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
    let bus = super::connect(settings).await?;
    topology::apply(&bus, &settings.streams, false)
        .await
        .context("applying streams")?;
    Ok(BenchBus {
        bus,
        embedded: server.is_some(),
        _server: server,
    })
}

/// Bare async-nats: a durable pull consumer over LOGS (all of it, or `subjects`),
/// every message acked: the ceiling a worker is compared with.
pub async fn raw_consume(bus: &Bus, subjects: &[String], events: usize) -> anyhow::Result<f64> {
    let stream = bus.js.get_stream(topology::LOGS).await?;
    let consumer = stream
        .create_consumer(pull::Config {
            durable_name: Some("bench-raw".into()),
            filter_subjects: subjects.to_vec(),
            ack_policy: AckPolicy::Explicit,
            max_ack_pending: 20_000,
            ..Default::default()
        })
        .await?;
    let mut messages = consumer
        .stream()
        .max_messages_per_batch(1000)
        .messages()
        .await?;
    let started = Instant::now();
    for _ in 0..events {
        let msg = messages
            .next()
            .await
            .ok_or_else(|| anyhow::anyhow!("raw consumer ended"))??;
        msg.ack().await.map_err(|e| anyhow::anyhow!("ack: {e}"))?;
    }
    bus.client.flush().await?;
    Ok(events as f64 / started.elapsed().as_secs_f64())
}
