mod alerts;
mod anomaly;
mod api;
mod counters;
mod dlq;
mod fraud;
mod generate;
mod issues;
mod patterns;
mod publish;
mod replay;
mod search;
mod status;
mod streams;
mod tail;
mod up;
mod worker;

use std::process::ExitCode;

use sightline_runtime::{Bus, Settings};

use crate::cli::{BenchTarget, Command};

pub async fn run(command: Command, settings: Settings) -> anyhow::Result<ExitCode> {
    match command {
        Command::Streams { action } => streams::run(action, &settings).await,
        Command::Publish {
            file, format: None, ..
        } => publish::run(&file, &settings).await,
        Command::Publish {
            file,
            format: Some(format),
            service,
            tz,
        } => publish::run_log_file(&file, format, service, &tz, &settings).await,
        Command::Generate(args) => generate::run(args, &settings).await,
        Command::Worker { kinds } => worker::run(&kinds, settings).await,
        Command::Search(args) => search::run(*args, &settings).await,
        Command::Tail(args) => tail::run(args, &settings).await,
        Command::Patterns { action } => patterns::run(action),
        Command::Anomaly { action } => anomaly::run(action),
        Command::Issues { action } => issues::run(action, &settings).await,
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
        Command::Bench { target } => bench(target, &settings).await,
    }
}

/// Runs a benchmark and prints its JSON report; a signal stops it, and the servers
/// and workers it started (dropped with it) stop too.
async fn bench(target: BenchTarget, settings: &Settings) -> anyhow::Result<ExitCode> {
    use sightline_bench as b;
    let s = settings.clone();
    let run = async move {
        match target {
            BenchTarget::Publish { events, rounds } => {
                b::publish::run(s, events, rounds.max(1)).await
            }
            BenchTarget::Indexer {
                backend,
                events,
                queries,
            } => b::indexer::run(s, backend.into(), events, queries).await,
            BenchTarget::Fraud { events, fraud_rate } => b::fraud::run(s, events, fraud_rate).await,
            BenchTarget::FraudSuite { seeds, customers } => {
                b::fraud_suite::run(s, &seeds, customers).await
            }
            BenchTarget::Counters { events } => b::counters::run(s, events).await,
            BenchTarget::Ingest { records } => b::ingest::run(s, records).await,
            BenchTarget::Api {
                events,
                ingest,
                seconds,
            } => b::api::run(s, events, ingest, seconds).await,
            BenchTarget::Alerts {
                hours,
                rate,
                incident_every,
                seed,
            } => {
                let traffic = b::alerts::Traffic {
                    hours,
                    rate,
                    incident_every: std::time::Duration::from_secs(incident_every * 60),
                    seed,
                };
                b::alerts::run(s, traffic).await
            }
            BenchTarget::Patterns {
                loghub,
                similarity,
                depth,
            } => {
                let live = sightline_patterns::MinerConfig::default();
                let config = sightline_patterns::MinerConfig {
                    similarity: similarity.unwrap_or(live.similarity),
                    depth: depth.unwrap_or(live.depth),
                    ..live
                };
                patterns::bench(&loghub, config)
            }
            BenchTarget::Anomaly {
                nab,
                out,
                subset,
                score,
            } => anomaly::bench(&nab, out, subset, score),
            BenchTarget::Pipeline {
                events,
                steady_seconds,
                log_share,
            } => b::pipeline::run(s, events, steady_seconds, log_share).await,
        }
    };
    let report = tokio::select! {
        done = run => done?,
        _ = sightline_runtime::shutdown::signalled() => anyhow::bail!("interrupted"),
    };
    println!("{report}");
    Ok(ExitCode::SUCCESS)
}

/// Connects to the configured NATS server.
pub async fn connect(settings: &Settings) -> anyhow::Result<Bus> {
    Ok(sightline_node::connect(settings).await?)
}

/// The configured Redis URL.
pub fn redis_url(settings: &Settings) -> anyhow::Result<&str> {
    Ok(sightline_node::redis_url(settings)?)
}
