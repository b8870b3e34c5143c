//! `sightline fraud list|stats|verdict`: reads the detections store beside a
//! running fraud-store worker, and publishes analysts' verdicts.

use std::process::ExitCode;

use sightline_fraud::settings::rules;
use sightline_fraud::store::configured::{Access::ReadOnly, ConfiguredDetections};
use sightline_fraud::store::{DetectionQuery, DetectionStore, StatsQuery};
use sightline_fraud::verdict::decide;
use sightline_node::stores::live_version;
use sightline_runtime::publisher::Publisher;
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
                println!("    id {}", d.id);
                for t in &d.typologies {
                    println!("    = {:<16} {:>3} {}", t.name, t.score, t.reason);
                }
                for i in &d.indicators {
                    println!("    {:<18} +{:<3} {}", i.name, i.weight, i.reason);
                }
                if let Some(v) = &d.verdict {
                    let by = v.analyst.as_deref().unwrap_or("?");
                    println!(
                        "    verdict: {} by {by} at {}",
                        v.verdict.as_str(),
                        v.decided_at
                    );
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
            let judged = &stats.verdicts;
            println!(
                "verdicts: {} confirmed, {} false positives",
                judged.all.confirmed, judged.all.false_positive
            );
            let groups = [
                ("typology", &judged.by_typology),
                ("indicator", &judged.by_indicator),
            ];
            for (what, group) in groups {
                for (name, j) in group {
                    let precision = j.precision.map_or("-".into(), |p| format!("{p:.2}"));
                    println!(
                        "  {what} {name:<18} precision {precision} ({} of {})",
                        j.confirmed,
                        j.confirmed + j.false_positive
                    );
                }
            }
        }
        FraudAction::Verdict {
            id,
            verdict,
            analyst,
            note,
        } => {
            let kind = sightline_fraud::verdict::kind(&verdict)?;
            let Some(detection) = store.get(&id).await? else {
                anyhow::bail!("no detection {id} in the detections store");
            };
            let now = sightline_schemas::OffsetDateTime::now_utc();
            let verdict = decide(&detection, kind, &analyst, note.as_deref(), now)?;
            let bus = super::connect(settings).await?;
            let publisher = Publisher::new(&bus, &settings.publisher);
            let seq = sightline_fraud::verdict::publish(&publisher, &verdict).await?;
            println!(
                "{} on transaction {} recorded (FRAUD sequence {seq})",
                verdict.verdict.as_str(),
                verdict.transaction_id
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
