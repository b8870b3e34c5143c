//! Grouping, pure: which notifications are due at an instant. Alerts of one rule
//! with the same `group_by` values form a group; a new group waits `group_wait`,
//! a changed group `group_interval` since its last notification, an unchanged
//! firing group `repeat_interval`. Silenced and inhibited alerts are left out.
//! With routes ([`crate::route`]) an alert is grouped in each route that
//! handles it, by that route's labels and timers, for that route's receiver.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::route::{GroupBy, Route, Routing};
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
    /// The receiver of the route that grouped it; `None`: every receiver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receiver: Option<String>,
    pub alerts: Vec<Alert>,
    /// What it says (fingerprints and statuses), for the notification log.
    #[serde(skip)]
    pub digest: u64,
    /// Its route's: the notification log recognises a repeat within it.
    #[serde(skip)]
    pub repeat_interval: std::time::Duration,
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
    /// The notifications due at `now`. Each alert not silenced nor inhibited is
    /// grouped in every route that handles it ([`Routing`]). A resolved alert is
    /// forgotten from `book` once every group it is in has said so (or it was
    /// silenced or inhibited).
    pub fn due(
        &mut self,
        book: &mut AlertBook,
        rules: &Rules,
        routing: &Routing,
        silences: &[Silence],
        now: OffsetDateTime,
    ) -> Vec<Notification> {
        let mut grouped: BTreeMap<String, (Labels, &Route, Vec<Alert>)> = BTreeMap::new();
        let mut quiet_resolved = Vec::new();
        for alert in book.alerts.values() {
            let notifiable = alert.status == Status::Firing
                || (alert.status == Status::Resolved && alert.firing_since.is_some());
            if !notifiable {
                continue;
            }
            if silenced(silences, alert, now) || routing.inhibited(alert, book.alerts.values()) {
                if alert.status == Status::Resolved {
                    quiet_resolved.push(alert.fingerprint.clone());
                }
                continue;
            }
            for route in routing.routes_for(&alert.labels) {
                let labels = group_labels(rules, route, alert);
                let key = labels
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(",");
                // The root's keys keep the form they had before routes.
                let key = if route.id.is_empty() {
                    key
                } else {
                    format!("route={};{key}", route.id)
                };
                grouped
                    .entry(key)
                    .or_insert_with(|| (labels, route, Vec::new()))
                    .2
                    .push(alert.clone());
            }
        }
        book.forget(&quiet_resolved);
        // Groups with nothing left to say start afresh next time.
        self.groups.retain(|key, _| grouped.contains_key(key));

        let mut out = Vec::new();
        // Per resolved alert: whether every group it is in has said so.
        let mut said: BTreeMap<String, bool> = BTreeMap::new();
        for (key, (labels, route, alerts)) in grouped {
            let state = self.groups.entry(key.clone()).or_insert(GroupState {
                first_seen: now,
                last_sent: None,
                last_digest: None,
            });
            let digest = digest(&alerts);
            // A muted route keeps its groups and says what is due once unmuted.
            let send =
                !routing.muted(route, now) && is_due(state, &route.timing, digest, &alerts, now);
            if send {
                state.last_sent = Some(now);
                state.last_digest = Some(digest);
            }
            let settled = state.last_digest == Some(digest);
            for a in alerts.iter().filter(|a| a.status == Status::Resolved) {
                *said.entry(a.fingerprint.clone()).or_insert(true) &= settled;
            }
            if !send {
                continue;
            }
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
                receiver: route.receiver.clone(),
                alerts,
                digest,
                repeat_interval: route.timing.repeat_interval,
            });
        }
        let done: Vec<String> = said
            .into_iter()
            .filter_map(|(fingerprint, all)| all.then_some(fingerprint))
            .collect();
        book.forget(&done);
        out
    }
}

/// The labels `route` groups `alert` by.
fn group_labels(rules: &Rules, route: &Route, alert: &Alert) -> Labels {
    let pick = |names: &[String]| -> Labels {
        names
            .iter()
            .filter_map(|l| alert.labels.get(l).map(|v| (l.clone(), v.clone())))
            .collect()
    };
    match &route.group_by {
        GroupBy::Rule => {
            let group_by = rules
                .rules
                .iter()
                .find(|r| r.name == alert.rule)
                .map(|r| r.group_by.as_slice())
                .unwrap_or_default();
            let mut labels = pick(group_by);
            labels.insert("alertname".to_owned(), alert.rule.clone());
            labels
        }
        GroupBy::Labels(names) => pick(names),
        GroupBy::All => alert.labels.clone(),
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
