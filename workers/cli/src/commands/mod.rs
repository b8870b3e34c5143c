mod alerts;
mod api;
mod bench;
mod counters;
mod dlq;
mod fraud;
mod generate;
mod publish;
mod replay;
mod search;
mod status;
mod stores;
mod streams;
mod up;
mod worker;

use std::process::ExitCode;

use anyhow::Context;
use sightline_runtime::{Bus, Settings};

use crate::cli::Command;

pub async fn run(command: Command, settings: Settings) -> anyhow::Result<ExitCode> {
    match command {
        Command::Streams { action } => streams::run(action, &settings).await,
        Command::Publish { file } => publish::run(&file, &settings).await,
        Command::Generate(args) => generate::run(args, &settings).await,
        Command::Worker { kinds } => worker::run(&kinds, settings).await,
        Command::Search(args) => search::run(*args, &settings).await,
        Command::Fraud { action } => fraud::run(action, &settings).await,
        Command::Counters(args) => counters::run(args, &settings).await,
        Command::Alerts { action } => alerts::run(action, &settings).await,
        Command::Api { listen } => api::run(listen, settings).await,
        Command::Status { json } => status::run(json, settings).await,
        Command::Dlq { action } => dlq::run(action, &settings).await,
        Command::Replay(args) => replay::run(args, &settings).await,
        Command::Up {
            listen,
            nats_port,
            redis_port,
        } => up::run(listen, nats_port, redis_port, settings).await,
        Command::Bench { target } => bench::run(target, &settings).await,
    }
}

/// Connects to the configured NATS server.
pub async fn connect(settings: &Settings) -> anyhow::Result<Bus> {
    let url = settings.nats.url.as_deref().context(
        "no NATS server configured: set nats.url in sightline.toml or SIGHTLINE_NATS__URL",
    )?;
    Bus::connect(&settings.nats, settings.publisher.max_in_flight)
        .await
        .with_context(|| format!("connecting to {url}"))
}

/// The configured Redis URL.
pub fn redis_url(settings: &Settings) -> anyhow::Result<&str> {
    settings
        .redis
        .url
        .as_ref()
        .map(|u| u.0.as_str())
        .context("no Redis configured: set redis.url in sightline.toml or SIGHTLINE_REDIS__URL")
}
