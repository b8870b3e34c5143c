//! Settings of the query API and the dashboard page.

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Secret;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiSettings {
    /// Where the API, the dashboard page, /metrics and the health checks listen.
    pub listen: SocketAddr,
    /// API keys. None configured: every route is open (fine on loopback, logged
    /// as a warning); otherwise every /api route needs a key of the right role.
    pub keys: Vec<ApiKey>,
    /// Largest ingest or upload body.
    pub max_ingest_bytes: usize,
    /// Largest body of any other request.
    pub max_body_bytes: usize,
    /// How long dashboard answers stay in the shared Redis cache. Entries are
    /// keyed by the projections' watermarks, so new events invalidate them sooner.
    #[serde(with = "humantime_serde")]
    pub cache_ttl: Duration,
    /// The longest a request with `Sightline-Wait-For` waits for its projection.
    #[serde(with = "humantime_serde")]
    pub wait_timeout: Duration,
    /// How often projection watermarks are read (and live dashboards pushed).
    #[serde(with = "humantime_serde")]
    pub refresh_interval: Duration,
}

impl Default for ApiSettings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            keys: Vec::new(),
            max_ingest_bytes: 16 * 1024 * 1024,
            max_body_bytes: 64 * 1024,
            cache_ttl: Duration::from_secs(5),
            wait_timeout: Duration::from_secs(5),
            refresh_interval: Duration::from_millis(250),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads every projection.
    Reader,
    /// Also ingests events and manages silences.
    Operator,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKey {
    /// Who holds the key (logged on use, never the key itself).
    pub name: String,
    pub key: Secret,
    pub role: Role,
}
