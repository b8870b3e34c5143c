//! `sightline api`: the query API and the dashboard page, until SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::Context;
use sightline_api::AppState;
use sightline_runtime::{Settings, Shutdown};

pub async fn run(listen: Option<SocketAddr>, mut settings: Settings) -> anyhow::Result<ExitCode> {
    if let Some(addr) = listen {
        settings.api.listen = addr;
    }
    super::redis_url(&settings)?;
    super::connect(&settings).await?;
    let addr = settings.api.listen;
    let state = AppState::connect(settings)
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.message))?;
    let bound = sightline_api::bind(&state, addr)
        .await
        .with_context(|| format!("listening on {addr}"))?;
    // The address on stdout, so scripts and tests that asked for port 0 find it
    // (every listener, syslog's too, is bound by then).
    println!("listening on http://{}", bound.local_addr()?);
    let mut shutdown = Shutdown::on_signals();
    sightline_api::serve(state, bound, async move { shutdown.tripped().await }).await?;
    Ok(ExitCode::SUCCESS)
}
