//! `sightline alerts list|silence|unsilence|ack`: the evaluator's state, the
//! silences and acknowledgements, in Redis beside the counters; `sightline alerts test-route`: where
//! the configured routes send an alert.

use std::process::ExitCode;

use sightline_alerts::route::{GroupBy, Routing};
use sightline_alerts::silence::parse_labels;
use sightline_alerts::store::AlertStore;
use sightline_alerts::{Rules, Silence, Status};
use sightline_runtime::Settings;
use time::OffsetDateTime;

use super::redis_url;
use crate::cli::AlertsAction;

pub async fn run(action: AlertsAction, settings: &Settings) -> anyhow::Result<ExitCode> {
    if let AlertsAction::TestRoute { labels, json } = action {
        return test_route(&labels, json, settings);
    }
    let store = AlertStore::connect(redis_url(settings)?, &settings.counters.prefix).await?;
    let now = OffsetDateTime::now_utc();
    match action {
        AlertsAction::List { json } => {
            let saved = store.load().await?;
            let active: Vec<_> = saved.book.active().collect();
            let acks = sightline_alerts::ack::holding(store.acks().await?, &saved.book);
            let silences: Vec<Silence> = store
                .silences()
                .await?
                .into_iter()
                .filter(|s| s.ends_at > now)
                .collect();
            if json {
                let report = serde_json::json!({ "alerts": active, "silences": silences, "acknowledged": acks });
                println!("{report}");
                return Ok(ExitCode::SUCCESS);
            }
            for a in &active {
                let since = match a.status {
                    Status::Firing => a.firing_since.unwrap_or(a.active_since),
                    _ => a.active_since,
                };
                let acked = acks
                    .iter()
                    .find(|ack| ack.fingerprint == a.fingerprint)
                    .map(|ack| format!("  acknowledged by {}", ack.by))
                    .unwrap_or_default();
                println!(
                    "{:<8} {:?}  {}  {}  {}  (since {since}){acked}",
                    format!("{:?}", a.status).to_lowercase(),
                    a.severity,
                    a.fingerprint,
                    a.rule,
                    a.summary
                );
            }
            if active.is_empty() {
                println!("no active alerts");
            }
            for s in &silences {
                let matchers: Vec<String> =
                    s.matchers.iter().map(|(k, v)| format!("{k}={v}")).collect();
                println!(
                    "silence {}  {}  until {}  by {}  {}",
                    s.id,
                    matchers.join(","),
                    s.ends_at,
                    s.created_by,
                    s.comment
                );
            }
        }
        AlertsAction::Silence {
            matchers,
            duration,
            comment,
            by,
        } => {
            let silence = Silence::new(&matchers, now, *duration, &by, &comment)?;
            store.add_silence(&silence).await?;
            println!("{}", silence.id);
        }
        AlertsAction::TestRoute { .. } => unreachable!("answered without Redis above"),
        AlertsAction::Ack {
            fingerprint,
            comment,
            by,
        } => {
            let Some((alert, ack)) = store.acknowledge(&fingerprint, &by, &comment, now).await?
            else {
                eprintln!("error: no active alert {fingerprint} (see `sightline alerts list`)");
                return Ok(ExitCode::FAILURE);
            };
            println!(
                "{} {} acknowledged by {}",
                alert.fingerprint, alert.rule, ack.by
            );
        }
        AlertsAction::Unsilence { id } => {
            if !store.remove_silence(id).await? {
                eprintln!("error: no silence {id}");
                return Ok(ExitCode::FAILURE);
            }
            println!("silence {id} ended");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn test_route(labels: &[String], json: bool, settings: &Settings) -> anyhow::Result<ExitCode> {
    let parsed = parse_labels(labels)?;
    let rules = Rules::load_or_default(settings.alerts.rules_file.as_deref())?;
    let routing = Routing::configured(&settings.alerts, rules.timing)?;
    let now = OffsetDateTime::now_utc();
    let routes: Vec<serde_json::Value> = routing
        .routes_for(&parsed)
        .into_iter()
        .map(|r| {
            let group_by = match &r.group_by {
                GroupBy::Rule => serde_json::json!("alertname and the rule's group_by"),
                GroupBy::Labels(l) => serde_json::json!(l),
                GroupBy::All => serde_json::json!(["..."]),
            };
            serde_json::json!({
                "route": if r.id.is_empty() { "root" } else { r.id.as_str() },
                "receiver": r.receiver,
                "group_by": group_by,
                "group_wait": humantime::format_duration(r.timing.group_wait).to_string(),
                "group_interval": humantime::format_duration(r.timing.group_interval).to_string(),
                "repeat_interval": humantime::format_duration(r.timing.repeat_interval).to_string(),
                "muted_now": routing.muted(r, now),
            })
        })
        .collect();
    if json {
        println!(
            "{}",
            serde_json::json!({ "labels": parsed, "routes": routes })
        );
        return Ok(ExitCode::SUCCESS);
    }
    for r in &routes {
        let receiver = r["receiver"].as_str().unwrap_or("every receiver");
        let muted = if r["muted_now"] == true {
            " (muted now)"
        } else {
            ""
        };
        println!(
            "route {} -> {receiver}{muted}; group by {}; wait {}, interval {}, repeat {}",
            r["route"].as_str().unwrap_or_default(),
            r["group_by"],
            r["group_wait"].as_str().unwrap_or_default(),
            r["group_interval"].as_str().unwrap_or_default(),
            r["repeat_interval"].as_str().unwrap_or_default(),
        );
    }
    Ok(ExitCode::SUCCESS)
}
