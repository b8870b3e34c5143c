//! The `sightline` command: parses arguments, loads configuration, runs a command.

mod allocator;
mod cli;
mod commands;

use clap::Parser;
use sightline_runtime::{telemetry, Settings};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    allocator::configure();
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
