//! The `sightline` command: parses arguments, loads configuration, runs a command.

mod cli;
mod commands;

use clap::Parser;
use sightline_runtime::{telemetry, Settings};

// Workers allocate and free small objects (messages, events, documents) on several
// threads at a high rate; glibc's allocator spent a third of the scorer's time in
// malloc/free and consolidation. mimalloc's thread-local heaps avoid that.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    telemetry::init(&settings.telemetry);
    match commands::run(cli.command, settings).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
