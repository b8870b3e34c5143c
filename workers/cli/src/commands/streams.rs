use std::process::ExitCode;

use sightline_runtime::{topology, Settings};

use crate::cli::StreamsAction;

pub async fn run(action: StreamsAction, settings: &Settings) -> anyhow::Result<ExitCode> {
    let bus = super::connect(settings).await?;
    match action {
        StreamsAction::Apply { force } => {
            for report in topology::apply(&bus, &settings.streams, force).await? {
                println!("{}", serde_json::to_string(&report)?);
            }
        }
        StreamsAction::Status { json } => {
            let status = topology::status(&bus, &settings.streams).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&status)?);
            } else {
                for s in status {
                    println!(
                        "{:<8} messages={:<10} bytes={:<12} seq={}..{}",
                        s.stream, s.messages, s.bytes, s.first_seq, s.last_seq
                    );
                    for c in s.consumers {
                        println!(
                            "  {:<20} pending={:<10} ack_pending={:<8} redelivered={}",
                            c.name, c.pending, c.ack_pending, c.redelivered
                        );
                    }
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
