//! `sightline counters <metric>`: reads the real-time counters beside a running
//! counters worker.

use std::process::ExitCode;

use serde_json::json;
use sightline_counters::{Layout, Reader, RedisStore, Window};
use sightline_runtime::versions::Target;
use sightline_runtime::Settings;

use super::redis_url;
use crate::cli::CountersArgs;

pub async fn run(args: CountersArgs, settings: &Settings) -> anyhow::Result<ExitCode> {
    let version = sightline_node::stores::live_version(settings, Target::Counters).await?;
    let layout = Layout::at_version(&settings.counters, version)?;
    let store = RedisStore::connect(redis_url(settings)?, layout).await?;
    let reader = Reader::new(&store);
    let window = Window::ending_now(*args.window)?;
    let shown = args.window.to_string();
    let metric = args.metric.as_str();
    let (value, text) = if metric == "revenue" {
        let revenue = reader.revenue(window).await?;
        let mut lines = Vec::new();
        for (currency, by_status) in &revenue {
            for (status, amount) in by_status {
                lines.push(format!("{currency} {status}: {amount}"));
            }
        }
        (json!(revenue), lines.join("\n"))
    } else if metric == "users" {
        let users = reader.unique_users(window).await?;
        (
            json!(users),
            format!("unique users (hours overlapping {shown}): {users}"),
        )
    } else if let Some(series) = metric.strip_prefix("latency") {
        let series = series.strip_prefix(':').unwrap_or("all");
        let p = reader.latency(series, window).await?;
        let ms = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.1} ms"));
        let text = format!(
            "{series} over {shown}: {} requests, p50 {}, p90 {}, p95 {}, p99 {}",
            p.count,
            ms(p.p50),
            ms(p.p90),
            ms(p.p95),
            ms(p.p99)
        );
        (json!(p), text)
    } else if let Some(dimension) = metric.strip_prefix("by:") {
        let counts = reader.breakdown(dimension, window).await?;
        let mut sorted: Vec<_> = counts.iter().collect();
        sorted.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let lines: Vec<String> = sorted
            .iter()
            .map(|(value, n)| format!("{n:>10}  {dimension}={value}"))
            .collect();
        (json!(counts), lines.join("\n"))
    } else {
        let count = reader.count(metric, window).await?;
        let text = format!(
            "{metric} over {shown}: {} ({}s buckets)",
            count.value, count.step_s
        );
        (json!(count), text)
    };
    if args.json {
        let report = json!({"metric": metric, "window_s": window.secs, "value": value});
        println!("{report}");
    } else if !text.is_empty() {
        println!("{text}");
    }
    Ok(ExitCode::SUCCESS)
}
