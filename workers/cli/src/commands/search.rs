//! `sightline search`: reads the index next to a running indexer.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::Context;
use sightline_node::stores::live_version;
use sightline_runtime::versions::Target;
use sightline_runtime::Settings;
use sightline_search::document::{lookup_reference, PiiHasher};
use sightline_search::query::{Filters, SearchRequest, Sort};
use sightline_search::settings::existing_pii_hasher;
use sightline_search::store::configured::{Access, ConfiguredIndex};
use sightline_search::store::SearchStore;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::cli::{SearchArgs, SortArg};

pub(crate) fn instant(
    flag: &str,
    value: &Option<String>,
) -> anyhow::Result<Option<OffsetDateTime>> {
    value
        .as_deref()
        .map(|v| {
            OffsetDateTime::parse(v, &Rfc3339)
                .with_context(|| format!("{flag} {v} is not RFC 3339"))
        })
        .transpose()
}

pub async fn run(args: SearchArgs, settings: &Settings) -> anyhow::Result<ExitCode> {
    let version = live_version(settings, Target::Search).await?;
    let pii = if args.card.is_some() || args.ip.is_some() {
        existing_pii_hasher(&settings.search, &settings.data_dir)?
    } else {
        None
    };
    let (search_settings, dir) = (&settings.search, &settings.data_dir);
    let store = ConfiguredIndex::open(search_settings, dir, version, Access::ReadOnly).await?;
    search(&store, args, pii).await
}

async fn search(
    store: &ConfiguredIndex,
    args: SearchArgs,
    pii: Option<PiiHasher>,
) -> anyhow::Result<ExitCode> {
    let reference = |kind: &str, value: &str| lookup_reference(pii.as_ref(), kind, value);
    let request = SearchRequest {
        text: args.query.text(),
        fuzzy: args.fuzzy,
        filters: Filters {
            kinds: args.query.kinds,
            services: args.query.services,
            status: args.status,
            user_id: args.user,
            endpoint: args.endpoint,
            session_id: args.session,
            host: args.host,
            severity: args.query.severity.map(|s| s.as_str().to_owned()),
            card_ref: args.card.map(|c| reference("card", c.trim())),
            ip_ref: args.ip.map(|ip| reference("ip", &ip.to_string())),
            error_code: args.error_code,
            min_response_time_ms: args.slower_than,
            since: instant("--since", &args.since)?,
            until: instant("--until", &args.until)?,
            ..Filters::default()
        },
        sort: match args.sort {
            SortArg::Newest => Sort::Newest,
            SortArg::Oldest => Sort::Oldest,
            SortArg::Relevance => Sort::Relevance,
        },
        from: args.from,
        size: if args.count { 1 } else { args.size },
        search_after: None,
        highlight: !args.count,
    };
    let response = store.search(&request).await?;
    if args.count {
        println!("{}", response.total);
    } else if args.json {
        println!("{}", serde_json::to_string_pretty(&response)?);
    } else {
        let bold = std::io::stdout().is_terminal();
        for hit in &response.hits {
            let shown = hit
                .highlights
                .first()
                .map_or(hit.message.clone(), |h| emphasis(h, bold));
            let at = hit.occurred_at.format(&Rfc3339).unwrap_or_default();
            println!(
                "{at}  {:<13} {:<10} {shown}",
                hit.kind.as_str(),
                hit.service
            );
        }
        println!(
            "{} of {} matching events",
            response.hits.len(),
            response.total
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Highlights arrive as HTML fragments; a terminal gets bold, a pipe plain brackets.
fn emphasis(html: &str, bold: bool) -> String {
    let (on, off) = if bold {
        ("\x1b[1m", "\x1b[0m")
    } else {
        ("[", "]")
    };
    html.replace("<em>", on)
        .replace("</em>", off)
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}
