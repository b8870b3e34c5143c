//! The alert state machine, pure: each evaluation of a rule at an instant moves
//! its alerts between pending, firing and resolved, and says which moved. Time is
//! passed in, never read, so tests run schedules without sleeping.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::rules::{Rule, Severity};

/// The labels of one alert: `alertname`, `severity` and the rule's `per` values.
pub type Labels = BTreeMap<String, String>;

/// One measured series of a rule: its labels (the `per` values) and value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub labels: Labels,
    pub value: f64,
    /// More to say in the summary (`{<name>}`), not part of the alert's
    /// identity: an anomaly's observed value, band and when.
    pub notes: Labels,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pending,
    Firing,
    Resolved,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Stable across evaluations and restarts: rule name and labels, hashed.
    pub fingerprint: String,
    pub rule: String,
    pub severity: Severity,
    pub labels: Labels,
    pub summary: String,
    pub value: f64,
    pub status: Status,
    /// When the condition started to hold.
    #[serde(with = "time::serde::rfc3339")]
    pub active_since: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub firing_since: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub resolved_at: Option<OffsetDateTime>,
}

/// An alert that changed status: the event published on ALERTS.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    pub from: Option<Status>,
    pub alert: Alert,
}

impl Transition {
    /// `alerts.<status>.<rule>`.
    pub fn subject(&self) -> String {
        let status = match self.alert.status {
            Status::Pending => "pending",
            Status::Firing => "firing",
            Status::Resolved => "resolved",
        };
        format!("alerts.{status}.{}", self.alert.rule)
    }

    /// The same change of the same alert always has the same id, so publishing it
    /// twice (a retried evaluation) stores it once.
    pub fn message_id(&self) -> String {
        let since = self.alert.active_since.unix_timestamp();
        format!("{}.{:?}.{since}", self.alert.fingerprint, self.alert.status)
    }
}

const FINGERPRINTS: Uuid = Uuid::from_u128(0x2d9b_51c4_8f0e_4a7d_b613_77e0_c4a1_9e25);

/// The fingerprint of a rule's alert with these labels.
pub fn fingerprint(rule: &str, labels: &Labels) -> String {
    let mut name = rule.to_owned();
    for (k, v) in labels {
        name.push('\u{1f}');
        name.push_str(k);
        name.push('=');
        name.push_str(v);
    }
    Uuid::new_v5(&FINGERPRINTS, name.as_bytes())
        .simple()
        .to_string()[..16]
        .to_owned()
}

/// Every known alert, by fingerprint.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AlertBook {
    pub alerts: BTreeMap<String, Alert>,
}

impl AlertBook {
    /// Applies one evaluation of `rule` at `now`: the samples measured, of which
    /// the alarming ones hold. Returns the alerts that changed status.
    pub fn evaluate(
        &mut self,
        rule: &Rule,
        samples: &[Sample],
        now: OffsetDateTime,
    ) -> Vec<Transition> {
        let mut changed = Vec::new();
        let mut holding = std::collections::BTreeSet::new();
        for sample in samples.iter().filter(|s| rule.when.alarming(s.value)) {
            let mut labels = sample.labels.clone();
            labels.insert("alertname".into(), rule.name.clone());
            labels.insert("severity".into(), format!("{:?}", rule.severity));
            let fp = fingerprint(&rule.name, &labels);
            holding.insert(fp.clone());
            let mut said = labels.clone();
            said.extend(sample.notes.iter().map(|(k, v)| (k.clone(), v.clone())));
            let summary = fill_summary(&rule.summary, &said, sample.value);
            let before = self.alerts.get(&fp).map(|a| a.status);
            let alert = self.alerts.entry(fp.clone()).or_insert_with(|| Alert {
                fingerprint: fp,
                rule: rule.name.clone(),
                severity: rule.severity,
                labels,
                summary: summary.clone(),
                value: sample.value,
                status: Status::Resolved,
                active_since: now,
                firing_since: None,
                resolved_at: None,
            });
            alert.value = sample.value;
            alert.summary = summary;
            if alert.status == Status::Resolved {
                // New, or back after resolving: a new episode.
                alert.status = Status::Pending;
                alert.active_since = now;
                alert.firing_since = None;
                alert.resolved_at = None;
            }
            if alert.status == Status::Pending && now - alert.active_since >= rule.for_ {
                alert.status = Status::Firing;
                alert.firing_since = Some(now);
            }
            if before != Some(alert.status) {
                changed.push(Transition {
                    from: before,
                    alert: alert.clone(),
                });
            }
        }
        let quiet: Vec<String> = self
            .alerts
            .values()
            .filter(|a| a.rule == rule.name && !holding.contains(&a.fingerprint))
            .filter(|a| a.status != Status::Resolved)
            .map(|a| a.fingerprint.clone())
            .collect();
        for fp in quiet {
            let from = self.alerts[&fp].status;
            if from == Status::Pending {
                // Never fired: it goes without a word (nobody was told it was coming).
                let mut alert = self.alerts.remove(&fp).expect("listed above");
                alert.status = Status::Resolved;
                alert.resolved_at = Some(now);
                changed.push(Transition {
                    from: Some(from),
                    alert,
                });
                continue;
            }
            let alert = self.alerts.get_mut(&fp).expect("listed above");
            alert.status = Status::Resolved;
            alert.resolved_at = Some(now);
            changed.push(Transition {
                from: Some(from),
                alert: alert.clone(),
            });
        }
        changed
    }

    /// Forgets resolved alerts once notified (the grouper calls this).
    pub fn forget(&mut self, fingerprints: &[String]) {
        for fp in fingerprints {
            if self
                .alerts
                .get(fp)
                .is_some_and(|a| a.status == Status::Resolved)
            {
                self.alerts.remove(fp);
            }
        }
    }

    /// Alerts currently pending or firing.
    pub fn active(&self) -> impl Iterator<Item = &Alert> {
        self.alerts
            .values()
            .filter(|a| a.status != Status::Resolved)
    }
}

/// Fills `{value}` and `{<label>}` in a summary template.
pub fn fill_summary(template: &str, labels: &Labels, value: f64) -> String {
    let shown = if value.fract() == 0.0 {
        format!("{value:.0}")
    } else if value.abs() < 1.0 {
        format!("{:.1}%", value * 100.0)
    } else {
        format!("{value:.1}")
    };
    let mut out = template.replace("{value}", &shown);
    for (k, v) in labels {
        out = out.replace(&format!("{{{k}}}"), v);
    }
    out
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
