//! `sightline up`: the whole system in one process on the embedded defaults. The
//! servers it starts run in their own process group, so a Ctrl-C stops the workers
//! and the API first (each finishing its batch) and the servers last.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use sightline_api::AppState;
use sightline_runtime::servers::{self, ChildServer};
use sightline_runtime::shutdown::signalled;
use sightline_runtime::{topology, Settings, Shutdown};
use tokio::task::JoinSet;

use super::worker::{run_with, serve_metrics};
use crate::cli::{WorkerKind, UP_METRICS_PORT};

const WORKERS: [WorkerKind; 5] = [
    WorkerKind::Indexer,
    WorkerKind::Fraud,
    WorkerKind::FraudStore,
    WorkerKind::Counters,
    WorkerKind::Alerts,
];

/// How long a child server gets to stop cleanly before it is killed.
const SERVER_GRACE: Duration = Duration::from_secs(10);

pub async fn run(
    listen: Option<SocketAddr>,
    nats_port: u16,
    redis_port: u16,
    mut settings: Settings,
) -> anyhow::Result<ExitCode> {
    if let Some(addr) = listen {
        settings.api.listen = addr;
    }
    std::fs::create_dir_all(&settings.data_dir)
        .with_context(|| format!("creating {}", settings.data_dir.display()))?;
    let configured_redis = settings.redis.url.is_some();
    let mut children = start_servers(&mut settings, nats_port, redis_port)?;
    // Printed only when started here: a configured URL may carry a password.
    let started_redis = (!configured_redis)
        .then(|| settings.redis.url.as_ref().map(|u| u.0.clone()))
        .flatten();
    let result = run_everything(settings, started_redis).await;
    // Workers and the API have stopped: now the servers, in reverse order.
    while let Some(mut server) = children.pop() {
        server.stop(SERVER_GRACE);
    }
    result
}

/// Starts nats-server and redis-server for what has no URL configured.
fn start_servers(
    settings: &mut Settings,
    nats_port: u16,
    redis_port: u16,
) -> anyhow::Result<Vec<ChildServer>> {
    let mut children = Vec::new();
    let hint = "install it with ops/install.sh, or configure a server URL";
    if settings.nats.url.is_none() {
        let bin = servers::find_binary("nats-server", settings.servers.nats_server.as_deref())
            .context(hint)?;
        let nats = servers::start_nats(&bin, &settings.data_dir, nats_port)
            .with_context(|| format!("starting nats-server on port {nats_port}"))?;
        settings.nats.url = Some(format!("nats://{}", nats.addr()));
        children.push(nats);
    }
    if settings.redis.url.is_none() {
        let bin = servers::find_binary("redis-server", settings.servers.redis_server.as_deref())
            .context(hint)?;
        let redis = servers::start_redis(&bin, &settings.data_dir, redis_port, true)
            .with_context(|| format!("starting redis-server on port {redis_port}"))?;
        settings.redis.url = Some(sightline_runtime::config::Secret(format!(
            "redis://{}",
            redis.addr()
        )));
        children.push(redis);
    }
    Ok(children)
}

async fn run_everything(
    settings: Settings,
    started_redis: Option<String>,
) -> anyhow::Result<ExitCode> {
    let bus = super::connect(&settings).await?;
    topology::apply(&bus, &settings.streams, false)
        .await
        .context("applying the streams")?;
    let health = serve_metrics(&settings, UP_METRICS_PORT).await?;
    let (trigger, shutdown) = Shutdown::new();
    let failed = std::sync::Arc::new(tokio::sync::Notify::new());
    let stop = {
        let failed = failed.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = signalled() => tracing::info!("stopping: workers finish their batch, then the servers stop"),
                _ = failed.notified() => {}
            }
            trigger.trip();
        })
    };
    let mut tasks: JoinSet<anyhow::Result<&'static str>> = JoinSet::new();
    {
        let (settings, health, shutdown) = (settings.clone(), health.clone(), shutdown.clone());
        tasks.spawn(async move {
            run_with(&WORKERS, settings, health, shutdown)
                .await
                .context("the workers")?;
            Ok("workers")
        });
    }
    let state = AppState::connect(settings.clone())
        .await
        .map_err(|e| anyhow::anyhow!("the API: {}", e.message))?;
    let listener = sightline_api::bind(settings.api.listen)
        .await
        .with_context(|| format!("listening on {}", settings.api.listen))?;
    let dashboard = format!("http://{}/", listener.local_addr()?);
    let mut api_shutdown = shutdown.clone();
    tasks.spawn(async move {
        sightline_api::serve(state, listener, async move { api_shutdown.tripped().await })
            .await
            .context("the API")?;
        Ok("api")
    });
    // On stdout for people and scripts (`just demo`, the tests).
    println!("dashboard: {dashboard}");
    println!("nats: {}", settings.nats.url.as_deref().unwrap_or_default());
    if let Some(redis) = &started_redis {
        println!("redis: {redis}");
    }
    println!("data: {}", settings.data_dir.display());
    println!("Sightline is up; Ctrl-C stops it.");

    let mut first_error = None;
    while let Some(joined) = tasks.join_next().await {
        let outcome = joined.map_err(anyhow::Error::from).and_then(|r| r);
        if let Err(e) = outcome {
            if !shutdown.is_tripped() {
                tracing::error!(
                    error = format!("{e:#}"),
                    "a part stopped; stopping the rest"
                );
                failed.notify_one();
            }
            first_error.get_or_insert(e);
        } else if !shutdown.is_tripped() {
            tracing::error!("a part stopped on its own; stopping the rest");
            failed.notify_one();
        }
    }
    stop.abort();
    match first_error {
        Some(e) => Err(e),
        None => Ok(ExitCode::SUCCESS),
    }
}
