//! `sightline issues`: error issues read from the index next to a running
//! indexer, and operators' decisions written to the bus.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use sightline_issues::{Status, StatusChange, StatusStore};
use sightline_node::stores::live_version;
use sightline_runtime::versions::Target;
use sightline_runtime::Settings;
use sightline_search::issues::{self, Issue, IssueQuery, IssueSort};
use sightline_search::store::configured::{Access, ConfiguredIndex};
use time::OffsetDateTime;

use crate::cli::IssuesAction;

/// The window's length; a window of nothing holds nothing to list.
fn window(length: humantime::Duration) -> anyhow::Result<Duration> {
    let length: Duration = length.into();
    if length.is_zero() {
        bail!("--window must be longer than 0s");
    }
    Ok(length)
}

async fn index(settings: &Settings) -> anyhow::Result<ConfiguredIndex> {
    let version = live_version(settings, Target::Search).await?;
    let (search, dir) = (&settings.search, &settings.data_dir);
    Ok(ConfiguredIndex::open(search, dir, version, Access::ReadOnly).await?)
}

async fn statuses(settings: &Settings) -> anyhow::Result<StatusStore> {
    let bus = sightline_node::connect(settings).await?;
    Ok(StatusStore::open(&bus).await?)
}

pub async fn run(action: IssuesAction, settings: &Settings) -> anyhow::Result<ExitCode> {
    match action {
        IssuesAction::List {
            status,
            service,
            window: w,
            sort,
            limit,
            json,
        } => {
            let length = window(w)?;
            let query = IssueQuery {
                since: Some(OffsetDateTime::now_utc() - length),
                services: service,
                status: match status.as_str() {
                    "all" => None,
                    s => Some(s.parse::<Status>().map_err(anyhow::Error::msg)?),
                },
                sort: sort.parse::<IssueSort>().map_err(anyhow::Error::msg)?,
                limit: limit.clamp(1, 100),
                bar_secs: (length.as_secs() / 24).max(1),
            };
            let found =
                issues::list(&index(settings).await?, &statuses(settings).await?, &query).await?;
            if json {
                println!("{}", serde_json::to_string(&found)?);
            } else {
                for issue in &found {
                    println!("{}", line(issue));
                }
                println!("{} issues", found.len());
            }
        }
        IssuesAction::Show {
            id,
            window: w,
            json,
        } => {
            let since = OffsetDateTime::now_utc() - window(w)?;
            let (store, status) = (index(settings).await?, statuses(settings).await?);
            let Some(issue) = issues::one(&store, &status, &id, Some(since), 3600).await? else {
                eprintln!("no issue {id} in the index");
                return Ok(ExitCode::from(1));
            };
            let samples = issues::samples(&store, &id, 5).await?;
            let history = status.history(&id).await?;
            if json {
                let mut body = serde_json::to_value(&issue)?;
                body["samples"] = serde_json::to_value(&samples)?;
                body["history"] = serde_json::to_value(&history)?;
                println!("{body}");
            } else {
                println!("{}", line(&issue));
                println!(
                    "  {} events in the window, {} in the index, {} users; first {}, last {}",
                    issue.count,
                    issue.total,
                    issue.users,
                    text_time(issue.first_seen),
                    text_time(issue.last_seen)
                );
                if let Some(culprit) = &issue.culprit {
                    println!("  at {culprit}");
                }
                for change in &history {
                    println!(
                        "  {} {} by {}",
                        text_time(Some(change.at)),
                        change.status.as_str(),
                        change.by.as_deref().unwrap_or("?")
                    );
                }
                for hit in &samples {
                    println!(
                        "  {} {} {}",
                        text_time(Some(hit.occurred_at)),
                        hit.service,
                        hit.message.lines().next().unwrap_or("")
                    );
                }
            }
        }
        IssuesAction::Resolve { id, by, note } => {
            return decide(settings, &id, Status::Resolved, by, note).await
        }
        IssuesAction::Ignore { id, by, note } => {
            return decide(settings, &id, Status::Ignored, by, note).await
        }
        IssuesAction::Reopen { id, by, note } => {
            return decide(settings, &id, Status::Unresolved, by, note).await
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn decide(
    settings: &Settings,
    id: &str,
    status: Status,
    by: Option<String>,
    note: Option<String>,
) -> anyhow::Result<ExitCode> {
    let store = index(settings).await?;
    if issues::samples(&store, id, 1).await?.is_empty() {
        eprintln!("no issue {id} in the index");
        return Ok(ExitCode::from(1));
    }
    let by = by
        .or_else(|| std::env::var("USER").ok())
        .context("--by: who decides")?;
    let change = StatusChange::decided(status, &by, note.as_deref(), OffsetDateTime::now_utc())
        .map_err(anyhow::Error::msg)?;
    statuses(settings).await?.set(id, &change).await?;
    println!("{}", serde_json::to_string(&change)?);
    Ok(ExitCode::SUCCESS)
}

fn text_time(t: Option<OffsetDateTime>) -> String {
    t.and_then(|t| {
        t.format(&time::format_description::well_known::Rfc3339)
            .ok()
    })
    .unwrap_or_else(|| "-".into())
}

fn line(issue: &Issue) -> String {
    let status = if issue.regressed {
        "regressed".to_owned()
    } else {
        issue.status.as_str().to_owned()
    };
    format!(
        "{}  {:<10}  {:>6}  {}: {}",
        issue.id, status, issue.count, issue.error_type, issue.title
    )
}
