//! `sightline tail`: matching events as they are published, one line each.

use std::process::ExitCode;

use futures::StreamExt;
use sightline_runtime::Settings;
use sightline_search::query::{Filters, SearchRequest};
use sightline_search::tail::{self, TailFilter, TailItem, MAX_RATE};
use time::format_description::well_known::Rfc3339;

use crate::cli::TailArgs;

pub async fn run(args: TailArgs, settings: &Settings) -> anyhow::Result<ExitCode> {
    if args.rate == 0 || args.rate > MAX_RATE {
        anyhow::bail!("--rate must be 1-{MAX_RATE}");
    }
    let request = SearchRequest {
        text: args.query.text(),
        filters: Filters {
            kinds: args.query.kinds,
            services: args.query.services,
            severity: args.query.severity.map(|s| s.as_str().to_owned()),
            ..Filters::default()
        },
        ..SearchRequest::default()
    };
    let filter = TailFilter::new(&request)?;
    let bus = super::connect(settings).await?;
    let pii = tail::hasher(&settings.search, &settings.data_dir)?;
    let items = tail::follow(&bus.client, filter, pii, args.rate).await?;
    let mut items = std::pin::pin!(items);
    loop {
        let item = tokio::select! {
            item = items.next() => item,
            _ = tokio::signal::ctrl_c() => None,
        };
        match item {
            None => return Ok(ExitCode::SUCCESS),
            Some(TailItem::Skipped(n)) => {
                eprintln!("... {n} matching events skipped (over --rate)")
            }
            Some(TailItem::Hit(hit)) if args.json => println!("{}", serde_json::to_string(&hit)?),
            Some(TailItem::Hit(hit)) => {
                let at = hit.occurred_at.format(&Rfc3339).unwrap_or_default();
                let severity = hit.event["payload"]["severity"].as_str().unwrap_or("");
                println!(
                    "{at}  {:<13} {:<10} {:<5} {}",
                    hit.kind.as_str(),
                    hit.service,
                    severity,
                    hit.message
                );
            }
        }
    }
}
