//! `sightline bench api`: HTTP ingest against the Publisher in the same run, then a
//! stack loaded with `events` (indexer and counters as worker processes, the API in
//! this process) measured from a load generator on loopback: the cached overview
//! under concurrent requests, and search latency over HTTP.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use sightline_api::AppState;
use sightline_generator::Generator;
use sightline_runtime::publisher::Publisher;
use sightline_runtime::Settings;
use sightline_schemas::Event;

use super::indexer::{latencies, WORDS};
use super::{bench_bus, bench_redis, spawn_workers, Report};

/// Events per ingest request (posted as `bench ingest` posts its doors').
const INGEST_BATCH: usize = 1000;
/// Concurrent clients of the overview.
const OVERVIEW_CLIENTS: usize = 32;

pub async fn run(mut settings: Settings, events: usize, ingest: usize, seconds: u64) -> Report {
    anyhow::ensure!(
        events >= 2 * ingest,
        "--events must be at least twice --ingest"
    );
    let bench = bench_bus(&mut settings).await?;
    let bus = &bench.bus;
    let data = tempfile::tempdir()?;
    settings.data_dir = data.path().to_owned();
    let redis = bench_redis(&mut settings, data.path())?;
    let start = super::traffic_start(events);
    let mut traffic = Generator::new(17, start, 20_000);

    // The Publisher's rate: the ceiling HTTP ingest is compared with.
    let direct: Vec<Event> = traffic.by_ref().take(ingest).collect();
    let publisher = Publisher::new(bus, &settings.publisher);
    let publisher_per_s = super::publisher_rate(&publisher, &direct).await?;
    drop(direct);

    let state = AppState::connect(settings.clone())
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.message))?;
    let bound = sightline_api::bind(&state, "127.0.0.1:0".parse()?).await?;
    let base = format!("http://{}", bound.local_addr()?);
    let server = tokio::spawn(sightline_api::serve(
        state.clone(),
        bound,
        std::future::pending(),
    ));
    let http = reqwest::Client::new();

    // HTTP ingest of as many events, NDJSON bodies encoded beforehand.
    let bodies: Vec<Bytes> = traffic
        .by_ref()
        .take(ingest)
        .collect::<Vec<Event>>()
        .chunks(INGEST_BATCH)
        .map(|chunk| {
            let mut body = Vec::new();
            for e in chunk {
                serde_json::to_writer(&mut body, e).expect("events encode");
                body.push(b'\n');
            }
            Bytes::from(body)
        })
        .collect();
    let url = format!("{base}/api/logs/ingest");
    let took = super::ingest::post_all(&http, &url, "application/x-ndjson", bodies).await?;
    let ingest_events_per_s = ingest as f64 / took.as_secs_f64();

    // The rest of the stream, then the projections the API reads.
    let mut pipeline = publisher.pipeline();
    for e in traffic.take(events - 2 * ingest) {
        pipeline.send(&e).await?;
    }
    pipeline.finish().await?;
    let _workers = spawn_workers(&settings, &["indexer", "counters"])?;
    let last = events as u64;
    let started = Instant::now();
    loop {
        let m = state.marks.current();
        if m.search >= Some(last) && m.counters >= Some(last) {
            break;
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(1800),
            "the projections did not catch up: {m:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let caught_up_s = started.elapsed().as_secs_f64();

    let overview_req_per_s = overview_load(&http, &base, Duration::from_secs(seconds)).await?;
    let search = latencies(400, |i| {
        let http = http.clone();
        let url = format!(
            "{base}/api/search?q={}&size=20&fuzzy={}",
            WORDS[i % WORDS.len()].replace(' ', "+"),
            i % 5 == 0
        );
        async move {
            let r = http.get(url).send().await?;
            anyhow::ensure!(r.status().is_success(), "search answered {}", r.status());
            r.bytes().await?;
            Ok::<_, anyhow::Error>(())
        }
    })
    .await?;
    server.abort();
    let report = serde_json::json!({
        "bench": "api",
        "events": events,
        "nats": if bench.embedded { "embedded" } else { "external" },
        "redis": if redis.is_some() { "embedded (appendonly, fsync every second)" } else { "external" },
        "publisher_per_s": publisher_per_s.round(),
        "ingest_events_per_s": ingest_events_per_s.round(),
        "ingest_ratio": (ingest_events_per_s / publisher_per_s * 100.0).round() / 100.0,
        "projections_caught_up_s": (caught_up_s * 10.0).round() / 10.0,
        "overview_clients": OVERVIEW_CLIENTS,
        "overview_req_per_s": overview_req_per_s.round(),
        "search_p50_ms": search.0,
        "search_p99_ms": search.1,
    });
    Ok(report)
}

/// Requests per second of the cached overview from concurrent keep-alive clients.
async fn overview_load(
    http: &reqwest::Client,
    base: &str,
    length: Duration,
) -> anyhow::Result<f64> {
    let url = format!("{base}/api/dashboard/overview?window=1h");
    // Warm the cache once, so every measured request is a hit.
    http.get(&url).send().await?.error_for_status()?;
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + length;
    let started = Instant::now();
    let clients: Vec<_> = (0..OVERVIEW_CLIENTS)
        .map(|_| {
            let (http, url, done) = (http.clone(), url.clone(), done.clone());
            tokio::spawn(async move {
                while Instant::now() < deadline {
                    let r = http.get(&url).send().await?;
                    anyhow::ensure!(r.status().is_success(), "overview answered {}", r.status());
                    r.bytes().await?;
                    done.fetch_add(1, Ordering::Relaxed);
                }
                Ok(())
            })
        })
        .collect();
    for c in clients {
        c.await??;
    }
    Ok(done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64())
}
