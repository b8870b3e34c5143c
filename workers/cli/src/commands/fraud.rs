//! `sightline fraud list|stats`: reads the detections store beside a running
//! fraud-store worker.

use std::process::ExitCode;

use sightline_fraud::settings::rules;
use sightline_fraud::store::configured::{Access::ReadOnly, ConfiguredDetections};
use sightline_fraud::store::{DetectionQuery, DetectionStore, StatsQuery};
use sightline_node::stores::live_version;
use sightline_runtime::versions::Target;
use sightline_runtime::Settings;

use super::search::instant;
use crate::cli::FraudAction;

pub async fn run(action: FraudAction, settings: &Settings) -> anyhow::Result<ExitCode> {
    let version = live_version(settings, Target::Fraud).await?;
    let opening =
        ConfiguredDetections::open(&settings.fraud, &settings.data_dir, version, ReadOnly);
    let store = opening.await?;
    match action {
        FraudAction::List {
            min_score,
            user,
            indicator,
            since,
            until,
            limit,
            json,
        } => {
            let query = DetectionQuery {
                min_score,
                user,
                indicator,
                since: instant("--since", &since)?,
                until: instant("--until", &until)?,
                limit,
            };
            let detections = store.list(&query).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&detections)?);
                return Ok(ExitCode::SUCCESS);
            }
            for d in &detections {
                println!(
                    "{}  score {:>3}  {} {} {}  user {}  tx {}",
                    d.detected_at,
                    d.score,
                    d.amount,
                    d.currency,
                    d.status.as_str(),
                    d.user_id,
                    d.transaction_id
                );
                for i in &d.indicators {
                    println!("    {:<18} +{:<3} {}", i.name, i.weight, i.reason);
                }
            }
            println!("{} detections", detections.len());
        }
        FraudAction::Stats { since, json } => {
            let query = StatsQuery {
                since: instant("--since", &since)?,
                until: None,
                suspicious_score: rules(&settings.fraud)?.suspicious_score,
            };
            let stats = store.stats(&query).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&stats)?);
                return Ok(ExitCode::SUCCESS);
            }
            println!(
                "{} detections, {} suspicious (score >= {})",
                stats.detections, stats.suspicious, query.suspicious_score
            );
            for (name, n) in &stats.by_indicator {
                println!("  {name:<18} {n}");
            }
            for (currency, amount) in &stats.amount_at_risk {
                println!("  at risk: {amount} {currency}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
