//! `sightline status`: each projection's live version (and the rebuild of its next
//! one, while a replay runs), its watermark and how far behind its stream it is, every consumer's backlog, read the way the API reads
//! them, and which instance consumes each cursor consumer (its lease holder).

use std::collections::BTreeMap;
use std::process::ExitCode;

use sightline_api::routes::ops::{behind, lag, progress};
use sightline_api::AppState;
use sightline_runtime::consumer::WorkerSpec;
use sightline_runtime::versions::{Target, Versions};
use sightline_runtime::{consumer, topology, Settings};

pub async fn run(json: bool, settings: Settings) -> anyhow::Result<ExitCode> {
    let streams = settings.streams.clone();
    let state = AppState::connect(settings)
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.message))?;
    state.refresh_marks().await;
    let marks = state.marks.current();
    let consumers = topology::status(&state.bus, &streams).await?;
    let leases = consumer::holders(&state.bus).await?;
    let store = Versions::open(&state.bus).await?;
    let (mut versions, mut rebuilding) = (BTreeMap::new(), BTreeMap::new());
    for target in Target::ALL {
        versions.insert(target.name(), store.current(target).await?.0);
        if let Some(by) = store.rebuilding(target).await? {
            rebuilding.insert(target.name(), by);
        }
    }
    let version_of = |projection: &str| {
        let target = match projection {
            "search" => Target::Search,
            "detections" | "scorer" => Target::Fraud,
            _ => Target::Counters,
        };
        versions.get(target.name()).map_or(0, |c| c.version)
    };
    if json {
        let report = serde_json::json!({
            "versions": versions,
            "rebuilding": rebuilding,
            "watermarks": marks,
            "lag": lag(&marks),
            "streams": consumers,
            "leases": leases,
        });
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(ExitCode::SUCCESS);
    }
    let show = |w: Option<u64>| w.map_or("-".to_owned(), |w| w.to_string());
    println!(
        "{:<16} {:>8} {:>12} {:>12} {:>10}",
        "projection", "version", "watermark", "stream head", "lag"
    );
    for p @ (name, watermark, head) in progress(&marks) {
        println!(
            "{name:<16} {:>8} {:>12} {head:>12} {:>10}",
            version_of(name),
            show(watermark),
            show(behind(p))
        );
    }
    for (target, by) in &rebuilding {
        let live = versions.get(target).map_or(0, |c| c.version);
        println!("{target}: version {live} serving, the next being rebuilt by {by}");
    }
    println!();
    for s in consumers {
        for c in s.consumers {
            // A shared consumer's roles are all held by the one process reading it.
            let held = WorkerSpec::roles_of(&c.name)
                .find_map(|role| leases.get(&format!("{}.{role}", s.stream)))
                .map(|h| format!(" active={h}"))
                .unwrap_or_default();
            println!(
                "{:<8} {:<20} pending={:<10} ack_pending={}{held}",
                s.stream, c.name, c.pending, c.ack_pending
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
