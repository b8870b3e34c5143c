//! `sightline bench indexer`: fills LOGS, measures bare consume+ack of it, then the
//! indexer worker over the same stream, then query latencies on the result.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use sightline_runtime::config::SearchBackend;
use sightline_runtime::consumer::Worker;
use sightline_runtime::{Bus, Settings, Shutdown};
use sightline_schemas::Event;
use sightline_search::document::PiiHasher;
use sightline_search::project::Indexer;
use sightline_search::query::{Agg, AggRequest, Field, Filters, SearchRequest};
use sightline_search::store::configured::{tantivy_dir_at, Access, ConfiguredIndex};
use sightline_search::store::{SearchStore, Source};

use super::{bench_bus, fill, raw_consume, RawAck, Report};

/// Indexes into `backend`: the embedded index in a temp dir, or the configured
/// Elasticsearch (`search.elasticsearch.url`).
pub async fn run(
    mut settings: Settings,
    backend: SearchBackend,
    events: usize,
    queries: usize,
) -> Report {
    let bench = bench_bus(&mut settings).await?;
    let bus = &bench.bus;
    let started = Instant::now();
    fill(bus, &settings, events).await?;
    let publish_per_s = events as f64 / started.elapsed().as_secs_f64();
    let raw_consume_per_s = raw_consume(bus, &[], events, RawAck::EachMessage).await?;
    let raw_batch_ack_per_s = raw_consume(bus, &[], events, RawAck::PerBatch).await?;
    let dir = tempfile::tempdir()?;
    settings.search.backend = backend;
    let store = ConfiguredIndex::open(&settings.search, dir.path(), 0, Access::Unlisted).await?;
    let name = match store {
        ConfiguredIndex::Tantivy(_) => "tantivy",
        ConfiguredIndex::Elasticsearch(_) => "elasticsearch",
    };
    let figures = measure(store, bus, &settings, events, queries).await?;
    let mut report = serde_json::json!({
        "bench": "indexer",
        "backend": name,
        "events": events,
        "nats": if bench.embedded { "embedded" } else { "external" },
        "publish_per_s": publish_per_s.round(),
        "raw_consume_per_s": raw_consume_per_s.round(),
        "raw_consume_batch_ack_per_s": raw_batch_ack_per_s.round(),
        "indexed_vs_raw_consume": (figures.indexed_per_s / raw_consume_per_s * 100.0).round() / 100.0,
        "index_bytes": dir_size(&tantivy_dir_at(dir.path(), 0)),
    });
    report["indexed_per_s"] = serde_json::json!(figures.indexed_per_s.round());
    report["search_p50_ms"] = serde_json::json!(figures.search.0);
    report["search_p99_ms"] = serde_json::json!(figures.search.1);
    report["dashboard_query_p50_ms"] = serde_json::json!(figures.dashboard.0);
    report["dashboard_query_p99_ms"] = serde_json::json!(figures.dashboard.1);
    Ok(report)
}

struct Figures {
    indexed_per_s: f64,
    search: (f64, f64),
    dashboard: (f64, f64),
}

/// Runs the indexer worker over the filled stream into `store`, then times queries.
async fn measure<S: SearchStore + Clone>(
    store: S,
    bus: &Bus,
    settings: &Settings,
    events: usize,
    queries: usize,
) -> anyhow::Result<Figures> {
    let consumer = settings.indexer_consumer();
    let spec = Source::Logs.spec("bench-indexer");
    let (trigger, shutdown) = Shutdown::new();
    let started = Instant::now();
    let worker = tokio::spawn(
        Worker::new(
            bus,
            spec,
            consumer,
            Indexer::<_, Event>::new(store.clone(), PiiHasher::new([9; 32])),
        )
        .run(shutdown),
    );
    while store.count().await? < events as u64 {
        if worker.is_finished() {
            worker.await??;
            anyhow::bail!("the indexer stopped before the end of the stream");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let indexed_per_s = events as f64 / started.elapsed().as_secs_f64();
    trigger.trip();
    worker.await??;
    anyhow::ensure!(
        store.count().await? == events as u64,
        "index holds {} of {events}",
        store.count().await?
    );
    let search = latencies(queries, |i| {
        let store = store.clone();
        async move { store.search(&search_request(i)).await.map(|_| ()) }
    })
    .await?;
    let dashboard = latencies((queries / 4).max(1), |_| {
        let store = store.clone();
        async move { store.aggregate(&dashboard_request()).await.map(|_| ()) }
    })
    .await?;
    Ok(Figures {
        indexed_per_s,
        search,
        dashboard,
    })
}

pub(super) const WORDS: &[&str] = &[
    "database",
    "payment completed",
    "timeout",
    "checkout",
    "connection pool",
    "login failure",
    "add to cart",
    "inventory",
];

fn search_request(i: usize) -> SearchRequest {
    let mut request = SearchRequest::text(WORDS[i % WORDS.len()]);
    request.highlight = true;
    request.size = 20;
    request.fuzzy = i.is_multiple_of(5);
    if i.is_multiple_of(3) {
        request.filters = Filters {
            kinds: vec![sightline_search::query::DocKind::Error],
            ..Filters::default()
        };
    }
    request
}

fn dashboard_request() -> AggRequest {
    AggRequest {
        query: SearchRequest::default(),
        aggs: BTreeMap::from([
            (
                "by_kind".to_string(),
                Agg::Terms {
                    field: Field::Kind,
                    size: 10,
                },
            ),
            (
                "per_hour".to_string(),
                Agg::DateHistogram {
                    interval_secs: 3600,
                },
            ),
            (
                "avg_latency".to_string(),
                Agg::Avg {
                    field: Field::ResponseTimeMs,
                },
            ),
            (
                "latency".to_string(),
                Agg::Percentiles {
                    field: Field::ResponseTimeMs,
                    percents: vec![50.0, 90.0, 95.0, 99.0],
                },
            ),
        ]),
    }
}

/// Runs `n` queries one after another; (p50, p99) in milliseconds.
pub(super) async fn latencies<F, Fut, E>(n: usize, query: F) -> anyhow::Result<(f64, f64)>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = Result<(), E>>,
    E: Into<anyhow::Error>,
{
    let mut samples = Vec::with_capacity(n);
    for i in 0..n {
        let started = Instant::now();
        query(i).await.map_err(Into::into)?;
        samples.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    samples.sort_by(f64::total_cmp);
    let at =
        |q: f64| samples[((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1];
    Ok((
        (at(0.5) * 100.0).round() / 100.0,
        (at(0.99) * 100.0).round() / 100.0,
    ))
}

fn dir_size(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum()
}
