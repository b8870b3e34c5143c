//! `sightline dlq list|show|purge`: the dead letters every worker leaves on DLQ,
//! with where each came from and why.

use std::process::ExitCode;

use anyhow::Context;
use async_nats::jetstream::message::StreamMessage;
use sightline_runtime::consumer::letters::{self, Letter};
use sightline_runtime::consumer::{replay, Decode};
use sightline_runtime::topology::DLQ;
use sightline_runtime::Settings;
use sightline_schemas::{decode, Encoding, Event};

use crate::cli::DlqAction;

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
            let letters = letters::newest(&bus, consumer.as_deref(), limit).await?;
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
            let l = Letter::read(
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
            let from = Letter::read(
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
                    for subject in letters::selection(&bus, Some(&c)).await?.0 {
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
