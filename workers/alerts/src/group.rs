//! Grouping, pure: which notifications are due at an instant. Alerts of one rule
//! with the same `group_by` values form a group; a new group waits `group_wait`,
//! a changed group `group_interval` since its last notification, an unchanged
//! firing group `repeat_interval`. Silenced alerts are left out.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::rules::{Rules, Timing};
use crate::silence::{silenced, Silence};
use crate::state::{Alert, AlertBook, Labels, Status};

/// One message to the receivers: a group's alerts at one instant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// Derived from the group and the instant: retries of one delivery share it
    /// (receivers may dedupe on the `Idempotency-Key` header).
    pub id: Uuid,
    pub group_key: String,
    pub group_labels: Labels,
    /// Firing when any alert of the group fires.
    pub status: Status,
    pub alerts: Vec<Alert>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct GroupState {
    #[serde(with = "time::serde::rfc3339")]
    first_seen: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    last_sent: Option<OffsetDateTime>,
    /// What the last notification said (fingerprints and statuses).
    last_digest: Option<u64>,
}

const NOTIFICATIONS: Uuid = Uuid::from_u128(0x8c2e_1b7a_33f4_4d60_9a5e_0c1d_7b42_e9f3);

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Grouper {
    groups: BTreeMap<String, GroupState>,
}

impl Grouper {
    /// The notifications due at `now`. Resolved alerts that were notified (or
    /// silenced) are forgotten from `book`.
    pub fn due(
        &mut self,
        book: &mut AlertBook,
        rules: &Rules,
        silences: &[Silence],
        now: OffsetDateTime,
    ) -> Vec<Notification> {
        let mut grouped: BTreeMap<String, (Labels, Vec<Alert>)> = BTreeMap::new();
        let mut quiet_resolved = Vec::new();
        for alert in book.alerts.values() {
            let notifiable = alert.status == Status::Firing
                || (alert.status == Status::Resolved && alert.firing_since.is_some());
            if !notifiable {
                continue;
            }
            if silenced(silences, alert, now) {
                if alert.status == Status::Resolved {
                    quiet_resolved.push(alert.fingerprint.clone());
                }
                continue;
            }
            let group_by = rules
                .rules
                .iter()
                .find(|r| r.name == alert.rule)
                .map(|r| r.group_by.as_slice())
                .unwrap_or_default();
            let mut labels = Labels::from([("alertname".to_owned(), alert.rule.clone())]);
            for l in group_by {
                if let Some(v) = alert.labels.get(l) {
                    labels.insert(l.clone(), v.clone());
                }
            }
            let key = labels
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",");
            grouped
                .entry(key)
                .or_insert_with(|| (labels, Vec::new()))
                .1
                .push(alert.clone());
        }
        book.forget(&quiet_resolved);
        // Groups with nothing left to say start afresh next time.
        self.groups.retain(|key, _| grouped.contains_key(key));

        let mut out = Vec::new();
        for (key, (labels, alerts)) in grouped {
            let state = self.groups.entry(key.clone()).or_insert(GroupState {
                first_seen: now,
                last_sent: None,
                last_digest: None,
            });
            let digest = digest(&alerts);
            if !is_due(state, &rules.timing, digest, &alerts, now) {
                continue;
            }
            state.last_sent = Some(now);
            state.last_digest = Some(digest);
            let resolved: Vec<String> = alerts
                .iter()
                .filter(|a| a.status == Status::Resolved)
                .map(|a| a.fingerprint.clone())
                .collect();
            book.forget(&resolved);
            let firing = alerts.iter().any(|a| a.status == Status::Firing);
            out.push(Notification {
                id: Uuid::new_v5(
                    &NOTIFICATIONS,
                    format!("{key}\u{1f}{}", now.unix_timestamp_nanos()).as_bytes(),
                ),
                group_key: key,
                group_labels: labels,
                status: if firing {
                    Status::Firing
                } else {
                    Status::Resolved
                },
                alerts,
            });
        }
        out
    }
}

fn is_due(
    state: &GroupState,
    timing: &Timing,
    digest: u64,
    alerts: &[Alert],
    now: OffsetDateTime,
) -> bool {
    match state.last_sent {
        None => now - state.first_seen >= timing.group_wait,
        Some(sent) if state.last_digest != Some(digest) => now - sent >= timing.group_interval,
        Some(sent) => {
            alerts.iter().any(|a| a.status == Status::Firing)
                && now - sent >= timing.repeat_interval
        }
    }
}

/// A stable digest of what a notification says (fingerprints and statuses), kept
/// across restarts and upgrades.
fn digest(alerts: &[Alert]) -> u64 {
    let mut said: Vec<String> = alerts
        .iter()
        .map(|a| format!("{}:{}", a.fingerprint, a.status == Status::Firing))
        .collect();
    said.sort();
    Uuid::new_v5(&NOTIFICATIONS, said.join(",").as_bytes())
        .as_u64_pair()
        .0
}
