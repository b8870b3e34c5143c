//! `sightline publish`: NDJSON (one event per line) or one JSON array, from a file
//! or stdin; with `--format`, a log file whose records become `log` events. Valid records are published; each invalid one is reported with its
//! line (or array item) number, and the exit code says whether any was refused.

use std::process::ExitCode;

use anyhow::Context;
use serde::Serialize;
use sightline_ingest::file::{self, Format, Grouper, Options};
use sightline_runtime::publisher::Publisher;
use sightline_runtime::{ErrorKind, Settings};
use sightline_schemas::log::normalize_service;
use sightline_schemas::{decode, Encoding, OffsetDateTime};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader};

#[derive(Serialize)]
struct Summary {
    published: u64,
    duplicates: u64,
    rejected: u64,
}

pub async fn run(file: &str, settings: &Settings) -> anyhow::Result<ExitCode> {
    let input: Box<dyn AsyncRead + Unpin + Send> = if file == "-" {
        Box::new(tokio::io::stdin())
    } else {
        Box::new(
            tokio::fs::File::open(file)
                .await
                .with_context(|| format!("opening {file}"))?,
        )
    };
    let mut reader = BufReader::with_capacity(1 << 20, input);
    let bus = super::connect(settings).await?;
    let publisher = Publisher::new(&bus, &settings.publisher);
    let mut pipeline = publisher.pipeline();
    let mut rejected = 0u64;
    let mut publish_one = async |place: String, bytes: &[u8]| -> anyhow::Result<()> {
        let result = match decode(bytes, Encoding::Json) {
            Ok(event) => pipeline.send(&event).await,
            Err(e) => Err(e.into()),
        };
        match result {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::Poison => {
                rejected += 1;
                eprintln!("{place}: {e}");
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    };
    if starts_with_array(&mut reader).await? {
        let mut text = Vec::new();
        reader.read_to_end(&mut text).await?;
        let items: Vec<serde_json::Value> =
            serde_json::from_slice(&text).context("reading the JSON array")?;
        for (i, item) in items.iter().enumerate() {
            publish_one(format!("item {}", i + 1), &serde_json::to_vec(item)?).await?;
        }
    } else {
        let mut lines = reader.lines();
        let mut number = 0u64;
        while let Some(line) = lines.next_line().await.context("reading input")? {
            number += 1;
            if !line.trim().is_empty() {
                publish_one(format!("line {number}"), line.as_bytes()).await?;
            }
        }
    }
    report(pipeline.finish().await?, rejected)
}

/// `sightline publish --format`: a log file, grouped into records (stack traces
/// with their line), each published as a `log` event; a record that cannot be
/// read is reported with its first line's number.
pub async fn run_log_file(
    file: &str,
    format: Format,
    service: Option<String>,
    tz: &str,
    settings: &Settings,
) -> anyhow::Result<ExitCode> {
    let zone = sightline_ingest::parse_utc_offset(tz)
        .with_context(|| format!("--tz {tz} is not an offset such as +01:00"))?;
    let service = match service {
        Some(s) => {
            normalize_service(&s).with_context(|| format!("--service {s} holds no a-z or 0-9"))?
        }
        None => file::service_of_file((file != "-").then_some(file)),
    };
    let options = Options {
        format,
        service,
        zone,
        received: OffsetDateTime::now_utc(),
    };
    let input: Box<dyn AsyncRead + Unpin + Send> = if file == "-" {
        Box::new(tokio::io::stdin())
    } else {
        Box::new(
            tokio::fs::File::open(file)
                .await
                .with_context(|| format!("opening {file}"))?,
        )
    };
    let bus = super::connect(settings).await?;
    let publisher = Publisher::new(&bus, &settings.publisher);
    let mut pipeline = publisher.pipeline();
    let mut rejected = 0u64;
    let mut grouper = Grouper::new();
    let mut lines = BufReader::with_capacity(1 << 20, input).lines();
    let mut records = Vec::new();
    loop {
        let line = lines.next_line().await.context("reading input")?;
        let done = line.is_none();
        match line {
            Some(line) => records.extend(grouper.push(&line)),
            None => records.extend(std::mem::take(&mut grouper).finish()),
        }
        for (number, record) in records.drain(..) {
            let sent = match file::numbered_event(number, &record, &options) {
                Ok(event) => pipeline.send(&event).await,
                Err(reason) => {
                    rejected += 1;
                    eprintln!("line {number}: {reason}");
                    continue;
                }
            };
            match sent {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::Poison => {
                    rejected += 1;
                    eprintln!("line {number}: {e}");
                }
                Err(e) => return Err(e.into()),
            }
        }
        if done {
            break;
        }
    }
    report(pipeline.finish().await?, rejected)
}

/// Prints what was published, duplicated and refused; fails when any was refused.
fn report(
    summary: sightline_runtime::publisher::PublishSummary,
    rejected: u64,
) -> anyhow::Result<ExitCode> {
    let out = Summary {
        published: summary.published,
        duplicates: summary.duplicates,
        rejected,
    };
    println!("{}", serde_json::to_string(&out)?);
    Ok(if rejected > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Peeks past leading white space: `[` means one JSON array, anything else NDJSON.
async fn starts_with_array<R: AsyncRead + Unpin>(
    reader: &mut BufReader<R>,
) -> anyhow::Result<bool> {
    loop {
        let buf = reader.fill_buf().await?;
        let Some(pos) = buf.iter().position(|b| !b.is_ascii_whitespace()) else {
            if buf.is_empty() {
                return Ok(false);
            }
            let len = buf.len();
            reader.consume(len);
            continue;
        };
        return Ok(buf[pos] == b'[');
    }
}
