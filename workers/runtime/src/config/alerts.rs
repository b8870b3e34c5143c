//! Settings of the alert evaluator and its receivers.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Secret;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertsSettings {
    /// The rules file; unset means the built-in `config/alert-rules.toml`.
    pub rules_file: Option<PathBuf>,
    /// How often every rule is evaluated.
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    /// Linked from Alertmanager alerts (`generatorURL`): the dashboard.
    pub generator_url: String,
    pub receivers: Vec<ReceiverSettings>,
}

impl Default for AlertsSettings {
    fn default() -> Self {
        Self {
            rules_file: None,
            interval: Duration::from_secs(15),
            generator_url: "http://127.0.0.1:8080/".into(),
            receivers: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceiverFormat {
    /// Sightline's JSON: the notification with all its alerts.
    Webhook,
    /// A Slack incoming webhook (or a compatible one: Mattermost, Rocket.Chat).
    Slack,
    /// An Alertmanager's `/api/v2/alerts`.
    Alertmanager,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiverSettings {
    pub name: String,
    /// Webhook URLs often carry a token: kept out of logs.
    pub url: Secret,
    pub format: ReceiverFormat,
    #[serde(default = "timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// Attempts after the first, for timeouts, 429 and 5xx answers.
    #[serde(default = "retries")]
    pub retries: u32,
    #[serde(default = "backoff", with = "humantime_serde")]
    pub retry_backoff: Duration,
    /// Notifications per minute at most; more wait their turn.
    #[serde(default = "per_minute")]
    pub max_per_minute: u32,
}

fn timeout() -> Duration {
    Duration::from_secs(10)
}
fn retries() -> u32 {
    5
}
fn backoff() -> Duration {
    Duration::from_secs(1)
}
fn per_minute() -> u32 {
    60
}
