//! Escalation, pure: a firing alert nobody has acknowledged within a step's
//! `after` is notified to that step's receiver (the next person), once per
//! episode, and its resolution to the same receiver. Silenced and inhibited
//! alerts are not escalated. Steps are independent: `15m` to the team lead and
//! `45m` to the head of engineering are two steps.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sightline_runtime::config::EscalationSettings;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::ack::Ack;
use crate::error::AlertError;
use crate::group::Notification;
use crate::route::{parse_all, Matcher, Routing};
use crate::silence::{silenced, Silence};
use crate::state::{AlertBook, Labels, Status};

#[derive(Debug, Clone)]
pub struct Escalation {
    matchers: Vec<Matcher>,
    after: Duration,
    receiver: String,
}

impl Escalation {
    /// The configured steps, checked: matchers parse, receivers exist.
    pub fn configured(
        steps: &[EscalationSettings],
        receivers: &[String],
    ) -> Result<Vec<Escalation>, AlertError> {
        steps
            .iter()
            .enumerate()
            .map(|(i, s)| {
                if !receivers.contains(&s.receiver) {
                    return Err(AlertError::Invalid(format!(
                        "escalation {i}: no receiver is named {:?}",
                        s.receiver
                    )));
                }
                Ok(Escalation {
                    matchers: parse_all(&s.matchers)?,
                    after: s.after,
                    receiver: s.receiver.clone(),
                })
            })
            .collect()
    }
}

/// What was escalated: per step and alert, the episode and whether its
/// resolution was said.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Escalated {
    sent: BTreeMap<String, Sent>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Sent {
    #[serde(with = "time::serde::rfc3339")]
    episode: OffsetDateTime,
    resolved: bool,
}

const ESCALATIONS: Uuid = Uuid::from_u128(0x3b7e_c21d_94a5_4f06_8d1b_e5a2_7c90_41f6);

impl Escalated {
    /// The escalations due at `now`: one notification per step and alert.
    pub fn due(
        &mut self,
        book: &AlertBook,
        routing: &Routing,
        acks: &[Ack],
        silences: &[Silence],
        now: OffsetDateTime,
    ) -> Vec<Notification> {
        let mut out = Vec::new();
        let mut known = BTreeSet::new();
        for (step, e) in routing.escalations.iter().enumerate() {
            for alert in book.alerts.values() {
                if !e.matchers.iter().all(|m| m.matches(&alert.labels)) {
                    continue;
                }
                let key = format!("escalation={step};{}", alert.fingerprint);
                known.insert(key.clone());
                let said = self
                    .sent
                    .get(&key)
                    .filter(|s| s.episode == alert.active_since);
                let send = match (alert.status, said) {
                    (Status::Firing, None) => {
                        let acked = acks.iter().any(|a| a.holds_for(alert));
                        let quiet = silenced(silences, alert, now)
                            || routing.inhibited(alert, book.alerts.values());
                        let since = alert.firing_since.unwrap_or(alert.active_since);
                        !acked && !quiet && now - since >= e.after
                    }
                    (Status::Resolved, Some(s)) => !s.resolved,
                    _ => false,
                };
                if !send {
                    continue;
                }
                let resolved = alert.status == Status::Resolved;
                self.sent.insert(
                    key.clone(),
                    Sent {
                        episode: alert.active_since,
                        resolved,
                    },
                );
                let what = format!("{key}\u{1f}{}\u{1f}{resolved}", alert.active_since);
                let id = Uuid::new_v5(&ESCALATIONS, what.as_bytes());
                let mut labels: Labels = alert.labels.clone();
                labels.insert("escalation".into(), step.to_string());
                out.push(Notification {
                    id,
                    group_key: key,
                    group_labels: labels,
                    status: alert.status,
                    receiver: Some(e.receiver.clone()),
                    alerts: vec![alert.clone()],
                    digest: id.as_u64_pair().0,
                    // Once per episode: the log keeps it a day past a restart.
                    repeat_interval: Duration::from_secs(24 * 3600),
                });
            }
        }
        // Alerts gone (or no longer matching a step) are forgotten.
        self.sent.retain(|k, _| known.contains(k));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{Rule, Rules, Severity};
    use crate::state::Sample;
    use time::macros::datetime;

    fn routing(steps: &[(&str, u64, &str)]) -> Routing {
        let settings: Vec<EscalationSettings> = steps
            .iter()
            .map(|(m, mins, r)| EscalationSettings {
                matchers: vec![m.to_string()],
                after: Duration::from_secs(mins * 60),
                receiver: r.to_string(),
            })
            .collect();
        let mut routing = Routing::every_receiver(Rules::default().timing);
        routing.escalations =
            Escalation::configured(&settings, &["lead".into(), "head".into()]).unwrap();
        routing
    }

    /// HighErrorRate (above 5%) made a P1 firing at once.
    fn p1_rule() -> Rule {
        let mut rule = Rules::default().rules[0].clone();
        rule.severity = Severity::P1;
        rule.for_ = Duration::ZERO;
        rule
    }

    fn firing(book: &mut AlertBook, rule: &Rule, service: &str, alarm: bool, at: OffsetDateTime) {
        let labels = Labels::from([("service".to_owned(), service.to_owned())]);
        let value = if alarm { 0.2 } else { 0.01 };
        book.evaluate(
            rule,
            &[Sample {
                labels,
                value,
                notes: Default::default(),
            }],
            at,
        );
    }

    #[test]
    fn an_unacknowledged_p1_goes_up_each_step_once_and_its_resolution_follows() {
        let t0 = datetime!(2026-12-07 10:00 UTC);
        let min = |m: i64| t0 + time::Duration::minutes(m);
        let rule = p1_rule();
        let routing = routing(&[("severity=P1", 15, "lead"), ("severity=P1", 45, "head")]);
        let mut book = AlertBook::default();
        let mut esc = Escalated::default();
        firing(&mut book, &rule, "checkout", true, t0);
        assert!(esc.due(&book, &routing, &[], &[], min(14)).is_empty());
        let n = esc.due(&book, &routing, &[], &[], min(15));
        assert_eq!(n.len(), 1);
        assert_eq!(n[0].receiver.as_deref(), Some("lead"));
        assert_eq!(n[0].status, Status::Firing);
        assert!(
            esc.due(&book, &routing, &[], &[], min(30)).is_empty(),
            "once"
        );
        let n = esc.due(&book, &routing, &[], &[], min(45));
        assert_eq!(n[0].receiver.as_deref(), Some("head"));
        firing(&mut book, &rule, "checkout", false, min(50));
        let n = esc.due(&book, &routing, &[], &[], min(50));
        let told: Vec<_> = n
            .iter()
            .map(|n| (n.receiver.clone().unwrap(), n.status))
            .collect();
        assert_eq!(
            told,
            [
                ("lead".into(), Status::Resolved),
                ("head".into(), Status::Resolved)
            ]
        );
        assert!(esc.due(&book, &routing, &[], &[], min(51)).is_empty());
    }

    #[test]
    fn an_acknowledged_alert_is_not_escalated_until_a_new_episode() {
        let t0 = datetime!(2026-12-07 10:00 UTC);
        let min = |m: i64| t0 + time::Duration::minutes(m);
        let rule = p1_rule();
        let routing = routing(&[("severity=P1", 15, "lead")]);
        let mut book = AlertBook::default();
        let mut esc = Escalated::default();
        firing(&mut book, &rule, "checkout", true, t0);
        let alert = book.active().next().unwrap().clone();
        let acks = [Ack::of(&alert, "ana", "on it", min(5)).unwrap()];
        assert!(esc.due(&book, &routing, &acks, &[], min(20)).is_empty());
        // Resolved without escalation: nothing to say. Back again: a new episode.
        firing(&mut book, &rule, "checkout", false, min(25));
        assert!(esc.due(&book, &routing, &acks, &[], min(25)).is_empty());
        firing(&mut book, &rule, "checkout", true, min(30));
        let n = esc.due(&book, &routing, &acks, &[], min(45));
        assert_eq!(n.len(), 1, "the old acknowledgement does not hold");
        assert!(
            Ack::of(&alert, " ", "", min(5)).is_err(),
            "by names someone"
        );
    }

    #[test]
    fn a_step_must_name_a_receiver_that_exists() {
        let e = Escalation::configured(
            &[EscalationSettings {
                matchers: vec![],
                after: Duration::from_secs(60),
                receiver: "nobody".into(),
            }],
            &["lead".into()],
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("\"nobody\""), "{e}");
    }
}
