//! `sightline alerts list|silence|unsilence`: the evaluator's state and the
//! silences, in Redis beside the counters.

use std::process::ExitCode;

use sightline_alerts::store::AlertStore;
use sightline_alerts::{Silence, Status};
use sightline_runtime::Settings;
use time::OffsetDateTime;

use super::redis_url;
use crate::cli::AlertsAction;

pub async fn run(action: AlertsAction, settings: &Settings) -> anyhow::Result<ExitCode> {
    let store = AlertStore::connect(redis_url(settings)?, &settings.counters.prefix).await?;
    let now = OffsetDateTime::now_utc();
    match action {
        AlertsAction::List { json } => {
            let saved = store.load().await?;
            let active: Vec<_> = saved.book.active().collect();
            let silences: Vec<Silence> = store
                .silences()
                .await?
                .into_iter()
                .filter(|s| s.ends_at > now)
                .collect();
            if json {
                let report = serde_json::json!({ "alerts": active, "silences": silences });
                println!("{report}");
                return Ok(ExitCode::SUCCESS);
            }
            for a in &active {
                let since = match a.status {
                    Status::Firing => a.firing_since.unwrap_or(a.active_since),
                    _ => a.active_since,
                };
                println!(
                    "{:<8} {:?}  {}  {}  (since {since})",
                    format!("{:?}", a.status).to_lowercase(),
                    a.severity,
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
