//! The `sightline` command: parses arguments, loads configuration, runs a command.

mod allocator;
mod cli;
mod commands;

use clap::Parser;
use sightline_runtime::{telemetry, Settings};

fn main() -> std::process::ExitCode {
    allocator::configure();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    runtime.block_on(run())
}

async fn run() -> std::process::ExitCode {
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
