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
    /// Which receivers an alert reaches, grouped how; unset: every receiver,
    /// grouped by rule and the rule's `group_by`.
    pub route: Option<RouteSettings>,
    /// Alerts kept quiet while another fires (a P1 on a service mutes its P3s).
    pub inhibit_rules: Vec<InhibitSettings>,
    /// Named times a route may be muted at (`mute_time_intervals`).
    pub time_intervals: Vec<TimeIntervalSettings>,
    /// Steps an unacknowledged firing alert is escalated by.
    pub escalations: Vec<EscalationSettings>,
}

impl Default for AlertsSettings {
    fn default() -> Self {
        Self {
            rules_file: None,
            interval: Duration::from_secs(15),
            generator_url: "http://127.0.0.1:8080/".into(),
            receivers: Vec::new(),
            route: None,
            inhibit_rules: Vec::new(),
            time_intervals: Vec::new(),
            escalations: Vec::new(),
        }
    }
}

/// An alert meeting `matchers` that has fired for `after` without being
/// acknowledged is notified to `receiver` (once per episode; its resolution too).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscalationSettings {
    #[serde(default)]
    pub matchers: Vec<String>,
    #[serde(with = "humantime_serde")]
    pub after: Duration,
    pub receiver: String,
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
    /// PagerDuty's Events API v2 (`https://events.pagerduty.com/v2/enqueue`):
    /// one event per group, triggered while it fires, resolved after; needs
    /// `routing_key`.
    Pagerduty,
    /// A Microsoft Teams workflow webhook: a message with an Adaptive Card.
    Teams,
    /// Email over SMTP: `url` is `smtp://[user:password@]host[:port]?tls=required`
    /// (STARTTLS), `smtps://...` (implicit TLS) or plain `smtp://host:25`
    /// (a local relay); needs `from` and `to`.
    Email,
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
    /// PagerDuty's integration key (`format = "pagerduty"`): a secret.
    #[serde(default)]
    pub routing_key: Option<Secret>,
    /// The sender (`format = "email"`): `Sightline <alerts@example.com>`.
    #[serde(default)]
    pub from: Option<String>,
    /// The recipients (`format = "email"`).
    #[serde(default)]
    pub to: Vec<String>,
    /// PEM certificates to trust besides the system's (an internal CA of the
    /// mail relay, `format = "email"`).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Jinja templates of what this receiver is told (docs/alerts.md).
    #[serde(default)]
    pub template: Option<TemplateSettings>,
}

/// A receiver's own wording: `title` (an email's subject, a Slack or Teams
/// message's headline, a PagerDuty summary) and `body` (an email's text, the
/// rest of a Slack or Teams message, PagerDuty's details); unset parts keep
/// the built-in wording.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TemplateSettings {
    pub title: Option<String>,
    pub body: Option<String>,
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

/// One node of the route tree, as Alertmanager's: an alert goes down to the
/// deepest routes whose matchers it meets; a node inherits what it leaves unset
/// from its parent (the root, from the rules file's timing).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RouteSettings {
    /// `label=value`, `label!=value`, `label=~regex`, `label!~regex` (regexes
    /// match the whole value); all must hold. The root takes every alert.
    pub matchers: Vec<String>,
    /// A receiver's name; unset at the root: every receiver.
    pub receiver: Option<String>,
    /// Labels one notification's alerts share; `["..."]`: every label. Unset
    /// at the root: `alertname` and the rule's `group_by`.
    pub group_by: Option<Vec<String>>,
    #[serde(with = "humantime_serde")]
    pub group_wait: Option<Duration>,
    #[serde(with = "humantime_serde")]
    pub group_interval: Option<Duration>,
    #[serde(with = "humantime_serde")]
    pub repeat_interval: Option<Duration>,
    /// Go on to the next sibling after this route matched.
    #[serde(rename = "continue")]
    pub continue_matching: bool,
    /// Names of `time_intervals` during which this route notifies nothing.
    pub mute_time_intervals: Vec<String>,
    pub routes: Vec<RouteSettings>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InhibitSettings {
    /// A firing alert meeting these...
    pub source_matchers: Vec<String>,
    /// ...keeps quiet the alerts meeting these...
    pub target_matchers: Vec<String>,
    /// ...that have the same values of these labels.
    pub equal: Vec<String>,
}

/// Times of the week, in UTC: any of `weekdays` (every day when empty), within
/// any of `times` (`"22:00-06:00"` spans midnight; all day when empty).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TimeIntervalSettings {
    pub name: String,
    pub weekdays: Vec<String>,
    pub times: Vec<String>,
}
