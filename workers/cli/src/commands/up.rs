//! `sightline up`: the whole system in one process on the embedded defaults, until
//! Ctrl-C (see `sightline_node::up`).

use std::net::SocketAddr;
use std::process::ExitCode;

use sightline_node::up::{Ports, Up};
use sightline_runtime::shutdown::signalled;
use sightline_runtime::Settings;

pub async fn run(
    listen: Option<SocketAddr>,
    nats_port: u16,
    redis_port: u16,
    settings: Settings,
) -> anyhow::Result<ExitCode> {
    let ports = Ports {
        listen,
        nats: nats_port,
        redis: redis_port,
    };
    let up = Up::start(settings, ports).await?;
    // On stdout for people and scripts (`just demo`, the tests).
    println!("dashboard: {}", up.dashboard);
    println!("nats: {}", up.nats);
    if let Some(redis) = &up.started_redis {
        println!("redis: {redis}");
    }
    println!("data: {}", up.data_dir.display());
    println!("Sightline is up; Ctrl-C stops it.");
    up.run_until(signalled()).await?;
    Ok(ExitCode::SUCCESS)
}
