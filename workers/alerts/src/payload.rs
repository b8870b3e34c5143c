//! What receivers get, pure: a generic JSON webhook, a Slack-compatible webhook
//! message, and Alertmanager's v2 `POST /api/v2/alerts` body.

use serde_json::{json, Value};
use sightline_runtime::config::ReceiverFormat;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::group::Notification;
use crate::state::{Alert, Status};

pub fn body(format: ReceiverFormat, n: &Notification, generator_url: &str) -> Value {
    match format {
        ReceiverFormat::Webhook => webhook(n),
        ReceiverFormat::Slack => slack(n),
        ReceiverFormat::Alertmanager => alertmanager(n, generator_url),
    }
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

fn status(s: Status) -> &'static str {
    match s {
        Status::Pending => "pending",
        Status::Firing => "firing",
        Status::Resolved => "resolved",
    }
}

/// The generic webhook: the whole notification, one object.
fn webhook(n: &Notification) -> Value {
    let alerts: Vec<Value> = n
        .alerts
        .iter()
        .map(|a| {
            json!({
                "fingerprint": a.fingerprint,
                "rule": a.rule,
                "severity": a.severity,
                "status": status(a.status),
                "labels": a.labels,
                "summary": a.summary,
                "value": a.value,
                "starts_at": rfc3339(a.firing_since.unwrap_or(a.active_since)),
                "ends_at": a.resolved_at.map(rfc3339),
            })
        })
        .collect();
    json!({
        "version": "1",
        "id": n.id,
        "group_key": n.group_key,
        "group_labels": n.group_labels,
        "status": status(n.status),
        "alerts": alerts,
    })
}

/// Slack's incoming-webhook message: a headline and one attachment per alert,
/// red while firing, green once resolved.
fn slack(n: &Notification) -> Value {
    let firing = n
        .alerts
        .iter()
        .filter(|a| a.status == Status::Firing)
        .count();
    let rule = n
        .group_labels
        .get("alertname")
        .map_or("alert", String::as_str);
    let text = match n.status {
        Status::Firing => format!("[FIRING:{firing}] {rule}"),
        _ => format!("[RESOLVED] {rule}"),
    };
    let attachments: Vec<Value> = n
        .alerts
        .iter()
        .map(|a: &Alert| {
            json!({
                "color": if a.status == Status::Firing { "danger" } else { "good" },
                "title": format!("{:?} {}", a.severity, a.rule),
                "text": a.summary,
                "fields": a.labels.iter()
                    .filter(|(k, _)| k.as_str() != "alertname")
                    .map(|(k, v)| json!({"title": k, "value": v, "short": true}))
                    .collect::<Vec<_>>(),
                "ts": a.firing_since.unwrap_or(a.active_since).unix_timestamp(),
            })
        })
        .collect();
    json!({ "text": text, "attachments": attachments })
}

/// Alertmanager v2: an array of alerts; `endsAt` set once resolved.
fn alertmanager(n: &Notification, generator_url: &str) -> Value {
    let alerts: Vec<Value> = n
        .alerts
        .iter()
        .map(|a| {
            let mut v = json!({
                "labels": a.labels,
                "annotations": { "summary": a.summary, "value": a.value.to_string() },
                "startsAt": rfc3339(a.firing_since.unwrap_or(a.active_since)),
                "generatorURL": generator_url,
            });
            if let Some(end) = a.resolved_at {
                v["endsAt"] = json!(rfc3339(end));
            }
            v
        })
        .collect();
    Value::Array(alerts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Severity;
    use crate::state::Labels;
    use time::macros::datetime;

    fn notification(resolved: bool) -> Notification {
        let t0 = datetime!(2026-11-21 10:00 UTC);
        let labels = Labels::from([
            ("alertname".into(), "HighErrorRate".into()),
            ("severity".into(), "P2".into()),
            ("service".into(), "checkout".into()),
        ]);
        Notification {
            id: uuid::Uuid::nil(),
            group_key: "alertname=HighErrorRate".into(),
            group_labels: Labels::from([("alertname".into(), "HighErrorRate".into())]),
            receiver: None,
            status: if resolved {
                Status::Resolved
            } else {
                Status::Firing
            },
            alerts: vec![Alert {
                fingerprint: "abc".into(),
                rule: "HighErrorRate".into(),
                severity: Severity::P2,
                labels,
                summary: "errors are 7.0% of requests on checkout".into(),
                value: 0.07,
                status: if resolved {
                    Status::Resolved
                } else {
                    Status::Firing
                },
                active_since: t0,
                firing_since: Some(t0 + time::Duration::minutes(2)),
                resolved_at: resolved.then_some(t0 + time::Duration::minutes(9)),
            }],
        }
    }

    #[test]
    fn the_webhook_carries_the_whole_notification() {
        let v = body(ReceiverFormat::Webhook, &notification(false), "");
        assert_eq!(v["status"], "firing");
        assert_eq!(v["alerts"][0]["labels"]["service"], "checkout");
        assert_eq!(v["alerts"][0]["starts_at"], "2026-11-21T10:02:00Z");
        assert!(v["alerts"][0]["ends_at"].is_null());
    }

    #[test]
    fn slack_gets_a_headline_and_a_coloured_attachment() {
        let v = body(ReceiverFormat::Slack, &notification(false), "");
        assert_eq!(v["text"], "[FIRING:1] HighErrorRate");
        assert_eq!(v["attachments"][0]["color"], "danger");
        let v = body(ReceiverFormat::Slack, &notification(true), "");
        assert_eq!(v["text"], "[RESOLVED] HighErrorRate");
        assert_eq!(v["attachments"][0]["color"], "good");
    }

    #[test]
    fn alertmanager_gets_v2_alerts_with_ends_at_once_resolved() {
        let v = body(
            ReceiverFormat::Alertmanager,
            &notification(false),
            "http://sightline/",
        );
        assert_eq!(v[0]["labels"]["alertname"], "HighErrorRate");
        assert_eq!(v[0]["startsAt"], "2026-11-21T10:02:00Z");
        assert_eq!(v[0]["generatorURL"], "http://sightline/");
        assert!(v[0].get("endsAt").is_none());
        let v = body(ReceiverFormat::Alertmanager, &notification(true), "");
        assert_eq!(v[0]["endsAt"], "2026-11-21T10:09:00Z");
    }
}
