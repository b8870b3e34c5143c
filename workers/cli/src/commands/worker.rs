//! `sightline worker <role>...`: roles in their own process, with /metrics and
//! /healthz, stopping gracefully on SIGINT or SIGTERM.

use std::process::ExitCode;

use sightline_node::{roles, Role};
use sightline_runtime::{Settings, Shutdown};

pub async fn run(kinds: &[Role], settings: Settings) -> anyhow::Result<ExitCode> {
    let health = roles::serve_metrics(&settings, roles::metrics_port(kinds)).await?;
    roles::run(kinds, settings, health, Shutdown::on_signals()).await?;
    Ok(ExitCode::SUCCESS)
}
