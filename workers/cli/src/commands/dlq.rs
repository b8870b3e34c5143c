//! `sightline dlq list|show|purge`: the dead letters every worker leaves on DLQ,
//! with where each came from and why.

use std::collections::VecDeque;
use std::process::ExitCode;

use anyhow::Context;
use async_nats::jetstream::consumer::pull::OrderedConfig;
use async_nats::jetstream::consumer::DeliverPolicy;
use async_nats::jetstream::message::StreamMessage;
use async_nats::jetstream::stream::Stream;
use futures::StreamExt;
use serde::Serialize;
use sightline_runtime::consumer::{
    dlq, replay, Decode, CONSUMER, DELIVERY_COUNT, ERROR, ORIGINAL_SEQUENCE, ORIGINAL_STREAM,
    ORIGINAL_SUBJECT,
};
use sightline_runtime::topology::DLQ;
use sightline_runtime::{Bus, Settings};
use sightline_schemas::{decode, subject, Encoding, Event};
use time::format_description::well_known::Rfc3339;

use crate::cli::DlqAction;

/// A dead letter as listed.
#[derive(Debug, Serialize)]
struct Letter {
    seq: u64,
    stored_at: String,
    consumer: String,
    original_stream: String,
    original_subject: String,
    original_seq: String,
    deliveries: String,
    error: String,
    payload_bytes: usize,
}

fn header(headers: Option<&async_nats::HeaderMap>, name: &str) -> String {
    headers
        .and_then(|h| h.get(name))
        .map(|v| v.as_str().to_owned())
        .unwrap_or_default()
}

fn letter(
    seq: u64,
    stored_at: time::OffsetDateTime,
    headers: Option<&async_nats::HeaderMap>,
    payload: usize,
) -> Letter {
    Letter {
        seq,
        stored_at: stored_at.format(&Rfc3339).unwrap_or_default(),
        consumer: header(headers, CONSUMER),
        original_stream: header(headers, ORIGINAL_STREAM),
        original_subject: header(headers, ORIGINAL_SUBJECT),
        original_seq: header(headers, ORIGINAL_SEQUENCE),
        deliveries: header(headers, DELIVERY_COUNT),
        error: header(headers, ERROR),
        payload_bytes: payload,
    }
}

/// The dead letters one consumer gave up on, or all of them, as DLQ holds them now.
struct Selection {
    /// The subjects that select them: one per consumer name that counts as the one
    /// asked for (its own, and any shared consumer it is a role of).
    subjects: Vec<String>,
    count: usize,
}

async fn select(bus: &Bus, consumer: Option<&str>) -> anyhow::Result<Selection> {
    let held = dlq::held(bus, consumer).await?;
    let subjects = match consumer {
        None => vec![subject::all_under(subject::DLQ_PREFIX)],
        Some(_) => held
            .keys()
            .map(|name| subject::dead_letters_of(name))
            .collect(),
    };
    Ok(Selection {
        subjects,
        count: held.values().sum(),
    })
}

pub async fn run(action: DlqAction, settings: &Settings) -> anyhow::Result<ExitCode> {
    let bus = super::connect(settings).await?;
    let stream = bus
        .js
        .get_stream(DLQ)
        .await
        .context("the DLQ stream (run `sightline streams apply`)")?;
    match action {
        DlqAction::List {
            consumer,
            limit,
            json,
        } => {
            let letters = newest(&bus, &stream, consumer.as_deref(), limit).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&letters)?);
            } else if letters.is_empty() {
                println!("no dead letters");
            } else {
                for l in &letters {
                    println!(
                        "{:>8}  {}  {:<14} {}#{}  {}",
                        l.seq, l.stored_at, l.consumer, l.original_stream, l.original_seq, l.error
                    );
                }
            }
        }
        DlqAction::Show { seq } => {
            let message: StreamMessage = stream
                .get_raw_message(seq)
                .await
                .with_context(|| format!("no dead letter at DLQ sequence {seq}"))?;
            let l = letter(
                seq,
                message.time,
                Some(&message.headers),
                message.payload.len(),
            );
            println!("{}", serde_json::to_string_pretty(&l)?);
            // Decoded as the workers decode it (the Content-Type header picks JSON).
            match Event::decode(
                &l.original_subject,
                Some(&message.headers),
                &message.payload,
            ) {
                Ok(event) => println!("{}", serde_json::to_string_pretty(&event)?),
                Err(e) => {
                    let shown = &message.payload[..message.payload.len().min(2048)];
                    println!(
                        "payload: {} bytes that do not decode as an event ({e}):\n{}",
                        message.payload.len(),
                        redact_digit_runs(&String::from_utf8_lossy(shown))
                    );
                }
            }
        }
        DlqAction::Replay { seq, payload } => {
            let message = stream
                .get_raw_message(seq)
                .await
                .with_context(|| format!("no dead letter at DLQ sequence {seq}"))?;
            let from = letter(
                seq,
                message.time,
                Some(&message.headers),
                message.payload.len(),
            );
            anyhow::ensure!(
                from.original_stream == sightline_runtime::topology::LOGS,
                "dead letter {seq} came from {}: only LOGS events can be replayed",
                from.original_stream
            );
            let event = match &payload {
                Some(path) => {
                    let bytes = std::fs::read(path)
                        .with_context(|| format!("reading {}", path.display()))?;
                    decode(&bytes, Encoding::Json)
                        .with_context(|| format!("{} is not a valid event", path.display()))?
                }
                None => Event::decode(
                    &from.original_subject,
                    Some(&message.headers),
                    &message.payload,
                )
                .context(
                    "the dead letter still does not decode: pass the fixed event with --payload",
                )?,
            };
            let ack = replay(&bus, &event, &from.consumer, seq)
                .await
                .context("the event was not replayed")?;
            stream
                .delete_message(seq)
                .await
                .with_context(|| format!("replayed, but deleting DLQ sequence {seq}"))?;
            let report = serde_json::json!({
                "replayed": seq,
                "consumer": from.consumer,
                "logs_sequence": ack.sequence,
                "duplicate": ack.duplicate,
            });
            println!("{report}");
        }
        DlqAction::Purge { seq, consumer, all } => {
            let removed = match (seq, consumer, all) {
                (Some(seq), None, false) => {
                    stream
                        .delete_message(seq)
                        .await
                        .with_context(|| format!("deleting DLQ sequence {seq}"))?;
                    1
                }
                (None, Some(c), false) => {
                    let mut purged = 0;
                    for subject in select(&bus, Some(&c)).await?.subjects {
                        purged += stream.purge().filter(subject).await?.purged;
                    }
                    purged
                }
                (None, None, true) => stream.purge().await?.purged,
                _ => anyhow::bail!("say exactly one of --seq N, --consumer NAME or --all"),
            };
            println!("{removed} dead letters purged");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The newest `limit` dead letters under the filter, newest first, read with an
/// ordered consumer (nothing is acked or changed).
async fn newest(
    bus: &Bus,
    stream: &Stream,
    consumer: Option<&str>,
    limit: usize,
) -> anyhow::Result<Vec<Letter>> {
    let selection = select(bus, consumer).await?;
    if selection.count == 0 || limit == 0 {
        return Ok(Vec::new());
    }
    let reader = stream
        .create_consumer(OrderedConfig {
            filter_subjects: selection.subjects,
            deliver_policy: DeliverPolicy::All,
            ..Default::default()
        })
        .await?;
    let mut messages = reader.messages().await?;
    let mut kept: VecDeque<Letter> = VecDeque::with_capacity(limit);
    while let Some(message) = messages.next().await {
        let message = message?;
        let info = message.info().map_err(|e| anyhow::anyhow!("{e}"))?;
        if kept.len() == limit {
            kept.pop_front();
        }
        kept.push_back(letter(
            info.stream_sequence,
            info.published,
            message.headers.as_ref(),
            message.payload.len(),
        ));
        if info.pending == 0 {
            break;
        }
    }
    Ok(kept.into_iter().rev().collect())
}

/// Hides runs of 12 or more digits (spaces and dashes between them allowed): a
/// payload that failed validation may hold a card number, and this goes to a terminal.
fn redact_digit_runs(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    let mut digits = 0;
    let flush = |run: &mut String, digits: &mut usize, out: &mut String| {
        if *digits >= 12 {
            out.push_str("[redacted digits]");
        } else {
            out.push_str(run);
        }
        run.clear();
        *digits = 0;
    };
    for c in text.chars() {
        if c.is_ascii_digit() || (digits > 0 && (c == ' ' || c == '-')) {
            digits += usize::from(c.is_ascii_digit());
            run.push(c);
        } else {
            flush(&mut run, &mut digits, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut digits, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_like_digit_runs_are_hidden() {
        assert_eq!(
            redact_digit_runs("card 4111 1111-1111 1111 at 12:30"),
            "card [redacted digits]at 12:30"
        );
        assert_eq!(redact_digit_runs("order 12345 ok"), "order 12345 ok");
    }
}
