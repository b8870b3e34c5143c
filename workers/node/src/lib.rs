//! The node that runs Sightline's roles: the workers of each projection, wired to
//! the bus and to the configured stores, the API beside them (`up`), and rebuilds
//! of a projection into a new version (`replay`). `sightline up`, `sightline
//! worker`, `sightline replay`, the benchmarks and the tests all call these
//! functions; the command line only parses arguments and prints.

mod error;
pub mod replay;
mod role;
pub mod roles;
pub mod stores;
pub mod up;

pub use error::{Error, ResultExt};
pub use role::{Role, UP_METRICS_PORT};

use sightline_runtime::{Bus, Settings};

/// Connects to the configured NATS server.
pub async fn connect(settings: &Settings) -> Result<Bus, Error> {
    let url = settings.nats.url.as_deref().ok_or_else(|| {
        Error::config(
            "no NATS server configured: set nats.url in sightline.toml or SIGHTLINE_NATS__URL",
        )
    })?;
    Bus::connect(&settings.nats, settings.publisher.max_in_flight)
        .await
        .with_context(|| format!("connecting to {url}"))
}

/// The configured Redis URL.
pub fn redis_url(settings: &Settings) -> Result<&str, Error> {
    settings
        .redis
        .url
        .as_ref()
        .map(|u| u.0.as_str())
        .ok_or_else(|| {
            Error::config(
                "no Redis configured: set redis.url in sightline.toml or SIGHTLINE_REDIS__URL",
            )
        })
}
