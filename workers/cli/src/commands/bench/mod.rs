//! `sightline bench ...`: throughput figures as one JSON object, each compared with
//! the raw ceiling measured in the same run (these machines are noisy).

mod fraud;
mod indexer;
mod publish;

use std::process::ExitCode;

use anyhow::Context;
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
