//! `sightline worker <name>`: one worker in its own process, with /metrics and
//! /healthz, stopping gracefully on SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use sightline_runtime::config::SearchBackend;
use sightline_runtime::consumer::Worker;
use sightline_runtime::metrics::{self, Health};
use sightline_runtime::{Settings, Shutdown};
use sightline_search::project::{worker_spec, Indexer};
use sightline_search::settings::{pii_hasher, tantivy_dir};
use sightline_search::store::elasticsearch::ElasticsearchStore;
use sightline_search::store::tantivy::TantivyStore;
use sightline_search::store::SearchStore;
use time::OffsetDateTime;

use crate::cli::WorkerKind;

pub async fn run(kind: WorkerKind, settings: Settings) -> anyhow::Result<ExitCode> {
    match kind {
        WorkerKind::Indexer => indexer(settings).await,
    }
}

async fn serve_metrics(settings: &Settings) -> anyhow::Result<Health> {
    let health = Health::default();
    let addr = settings
        .consumer
        .metrics_addr
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
    metrics::serve(addr, health.clone()).await?;
    Ok(health)
}

async fn indexer(settings: Settings) -> anyhow::Result<ExitCode> {
    match settings.search.backend {
        SearchBackend::Tantivy => {
            run_indexer(TantivyStore::open(&tantivy_dir(&settings))?, settings).await
        }
        SearchBackend::Elasticsearch => {
            let store = ElasticsearchStore::connect(&settings.search.elasticsearch).await?;
            run_indexer(store, settings).await
        }
    }
}

async fn run_indexer<S: SearchStore + Clone>(
    store: S,
    settings: Settings,
) -> anyhow::Result<ExitCode> {
    let bus = super::connect(&settings).await?;
    let pii = pii_hasher(&settings)?;
    let health = serve_metrics(&settings).await?;
    let shutdown = Shutdown::on_signals();
    if settings.search.retention_days > 0 {
        tokio::spawn(retention(
            store.clone(),
            settings.search.retention_days,
            shutdown.clone(),
        ));
    }
    let mut consumer = settings.consumer.clone();
    consumer.batch_size = settings.search.batch_size;
    let spec = worker_spec("indexer");
    Worker::new(&bus, spec, consumer, Indexer::new(store, pii))
        .with_health(health)
        .run(shutdown)
        .await?;
    Ok(ExitCode::SUCCESS)
}

/// Deletes documents past retention once a minute after start, then hourly.
async fn retention<S: SearchStore>(store: S, days: u32, mut shutdown: Shutdown) {
    let mut wait = Duration::from_secs(60);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.tripped() => return,
        }
        wait = Duration::from_secs(3600);
        let cutoff = OffsetDateTime::now_utc() - time::Duration::days(days.into());
        match store.delete_before(cutoff).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(deleted = n, days, "retention removed old documents"),
            Err(e) => tracing::warn!(error = %e, "retention failed; will retry"),
        }
    }
}
