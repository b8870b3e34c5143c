//! `sightline generate`: seeded traffic as NDJSON on stdout, or published to LOGS.

use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use sightline_generator::{Generator, DEFAULT_POPULATION, SIMULATED_RATE};
use sightline_runtime::publisher::Publisher;
use sightline_runtime::Settings;

use crate::cli::GenerateArgs;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

pub async fn run(opts: GenerateArgs, settings: &Settings) -> anyhow::Result<ExitCode> {
    let live = opts.rate.is_some();
    // Live traffic is stamped with the wall clock; otherwise the simulated clock starts at --start.
    let start = match &opts.start {
        _ if live => OffsetDateTime::now_utc(),
        Some(start) => OffsetDateTime::parse(start, &Rfc3339)
            .with_context(|| format!("--start {start} is not RFC 3339"))?,
        // The simulated clock runs at SIMULATED_RATE events/s: end about now, so
        // the events fall inside the dashboards' windows and search retention.
        // Log records share the instants of the commerce events.
        None => {
            let commerce = opts.count as f64 * (1.0 - opts.log_share.clamp(0.0, 0.95));
            OffsetDateTime::now_utc() - Duration::from_secs_f64(commerce / SIMULATED_RATE)
        }
    };
    let mut generator = Generator::new(opts.seed, start, DEFAULT_POPULATION)
        .with_fraud_rate(opts.fraud_rate)
        .with_log_share(opts.log_share);
    let pacer = opts
        .rate
        .filter(|r| *r > 0.0)
        .map(|r| Duration::from_secs_f64(1.0 / r));
    let began = Instant::now();
    let bus = if opts.publish {
        Some(super::connect(settings).await?)
    } else {
        None
    };
    let publisher = bus.as_ref().map(|b| Publisher::new(b, &settings.publisher));
    let mut pipeline = publisher.as_ref().map(|p| p.pipeline());
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for i in 0..opts.count {
        let mut event = generator.next_event();
        if let Some(step) = pacer {
            let due = began + step.mul_f64(i as f64);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                out.flush()?;
                tokio::time::sleep(wait).await;
            }
            event.occurred_at = OffsetDateTime::now_utc();
            event.id = sightline_schemas::Uuid::now_v7();
        }
        match pipeline.as_mut() {
            Some(p) => p.send(&event).await?,
            None => {
                serde_json::to_writer(&mut out, &event)?;
                out.write_all(b"\n")?;
            }
        }
    }
    out.flush()?;
    drop(out);
    if let Some(p) = pipeline {
        let summary = p.finish().await?;
        println!(
            "{}",
            serde_json::json!({ "published": summary.published, "duplicates": summary.duplicates, "rejected": 0 })
        );
    }
    Ok(ExitCode::SUCCESS)
}
