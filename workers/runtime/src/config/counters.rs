//! Settings of the Redis connection and the real-time counters projection.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Secret;

/// The Redis server shared by the counters, the alert evaluator and the API cache.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedisSettings {
    /// `redis://[:password@]host:port/db` (kept out of logs). Unset: commands
    /// that can start their own redis-server do.
    pub url: Option<Secret>,
}

/// One bucket width of the time series and how long its buckets live.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resolution {
    #[serde(with = "humantime_serde")]
    pub step: Duration,
    #[serde(with = "humantime_serde")]
    pub keep: Duration,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CountersSettings {
    /// Every key starts with `<prefix>:` (a replay builds under a new prefix).
    pub prefix: String,
    /// Key groups, each with its own hash tag and watermark. In Redis Cluster each
    /// group lives in one slot, so one batch is one atomic script per group.
    pub shards: u16,
    /// Finest first. Counts, revenue and latency keep every resolution; unique
    /// users are counted per hour.
    pub resolutions: Vec<Resolution>,
    /// How long hourly unique-user sketches live.
    #[serde(with = "humantime_serde")]
    pub users_keep: Duration,
    /// Events per batch (one script per shard each).
    pub batch_size: usize,
}

impl Default for CountersSettings {
    fn default() -> Self {
        const HOUR: u64 = 3600;
        let resolution = |step, keep| Resolution {
            step: Duration::from_secs(step),
            keep: Duration::from_secs(keep),
        };
        Self {
            prefix: "sightline".into(),
            shards: 4,
            resolutions: vec![
                resolution(1, HOUR),
                resolution(60, 48 * HOUR),
                resolution(HOUR, 90 * 24 * HOUR),
            ],
            users_keep: Duration::from_secs(90 * 24 * HOUR),
            batch_size: 10_000,
        }
    }
}
