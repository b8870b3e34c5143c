//! What receivers get, pure: a generic JSON webhook, a Slack-compatible webhook
//! message, Alertmanager's v2 `POST /api/v2/alerts` body, a PagerDuty Events
//! API v2 event, a Microsoft Teams workflow message, and an email's subject and
//! text (sent over SMTP by [`crate::email`]).

use serde_json::{json, Value};
use sightline_runtime::config::{ReceiverFormat, ReceiverSettings};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::group::Notification;
use crate::rules::Severity;
use crate::state::{Alert, Status};

pub fn body(receiver: &ReceiverSettings, n: &Notification, generator_url: &str) -> Value {
    match receiver.format {
        ReceiverFormat::Webhook => webhook(n),
        ReceiverFormat::Slack => slack(n),
        ReceiverFormat::Alertmanager => alertmanager(n, generator_url),
        ReceiverFormat::Pagerduty => {
            let key = receiver.routing_key.as_ref().map_or("", |k| k.0.as_str());
            pagerduty(n, key, generator_url)
        }
        ReceiverFormat::Teams => teams(n, generator_url),
        ReceiverFormat::Email => {
            let (subject, text) = email(n, generator_url);
            json!({ "subject": subject, "text": text })
        }
    }
}

/// An email's subject (the headline and the group's labels) and plain text:
/// each alert's severity, rule, status, since when, summary, labels and value.
fn email(n: &Notification, generator_url: &str) -> (String, String) {
    let group: Vec<String> = n
        .group_labels
        .iter()
        .filter(|(k, _)| k.as_str() != "alertname")
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let mut subject = headline(n);
    if !group.is_empty() {
        subject = format!("{subject} ({})", group.join(", "));
    }
    let mut text = format!("{}\n", headline(n));
    for a in &n.alerts {
        let since = match a.resolved_at {
            Some(end) => format!("resolved at {}", rfc3339(end)),
            None => format!(
                "firing since {}",
                rfc3339(a.firing_since.unwrap_or(a.active_since))
            ),
        };
        let labels: Vec<String> = a
            .labels
            .iter()
            .filter(|(k, _)| k.as_str() != "alertname")
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        text.push_str(&format!(
            "\n{:?} {}: {since}\n  {}\n  {}\n  value: {}\n",
            a.severity,
            a.rule,
            a.summary,
            labels.join(", "),
            a.value
        ));
    }
    text.push_str(&format!("\nOpen Sightline: {generator_url}\n"));
    (subject, text)
}

/// `[FIRING:n] <rule>` or `[RESOLVED] <rule>`.
fn headline(n: &Notification) -> String {
    let firing = n
        .alerts
        .iter()
        .filter(|a| a.status == Status::Firing)
        .count();
    let rule = n
        .group_labels
        .get("alertname")
        .or_else(|| n.alerts.first().map(|a| &a.rule))
        .map_or("alert", String::as_str);
    match n.status {
        Status::Firing => format!("[FIRING:{firing}] {rule}"),
        _ => format!("[RESOLVED] {rule}"),
    }
}

/// PagerDuty Events API v2: one event per group, its `dedup_key` derived from
/// the group so that the resolve closes what the trigger opened.
fn pagerduty(n: &Notification, routing_key: &str, generator_url: &str) -> Value {
    let worst = n.alerts.iter().map(|a| a.severity).min();
    let severity = match worst {
        Some(Severity::P1) => "critical",
        Some(Severity::P2) => "error",
        Some(Severity::P3) => "warning",
        _ => "info",
    };
    let first = n.alerts.first();
    let mut summary = headline(n);
    if let Some(a) = first {
        summary = format!("{summary}: {}", a.summary);
    }
    let summary: String = summary.chars().take(1024).collect();
    let source = first
        .and_then(|a| a.labels.get("service"))
        .map_or("sightline", String::as_str);
    let started = n
        .alerts
        .iter()
        .map(|a| a.firing_since.unwrap_or(a.active_since))
        .min();
    let details: Vec<Value> = n
        .alerts
        .iter()
        .map(|a| json!({"status": status(a.status), "summary": a.summary, "value": a.value, "labels": a.labels}))
        .collect();
    let dedup = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, n.group_key.as_bytes());
    json!({
        "routing_key": routing_key,
        "event_action": if n.status == Status::Firing { "trigger" } else { "resolve" },
        "dedup_key": format!("sightline-{dedup}"),
        "payload": {
            "summary": summary,
            "source": source,
            "severity": severity,
            "timestamp": started.map(rfc3339),
            "class": n.group_labels.get("alertname"),
            "custom_details": { "group": n.group_labels, "alerts": details },
        },
        "client": "Sightline",
        "client_url": generator_url,
    })
}

/// A Teams workflow webhook's message: one Adaptive Card, the headline, then
/// each alert's summary and labels.
fn teams(n: &Notification, generator_url: &str) -> Value {
    let mut body = vec![json!({
        "type": "TextBlock",
        "text": headline(n),
        "weight": "Bolder",
        "size": "Medium",
        "color": if n.status == Status::Firing { "Attention" } else { "Good" },
        "wrap": true,
    })];
    for a in &n.alerts {
        body.push(json!({
            "type": "TextBlock",
            "text": format!("{:?} {} ({}): {}", a.severity, a.rule, status(a.status), a.summary),
            "wrap": true,
        }));
        let facts: Vec<Value> = a
            .labels
            .iter()
            .filter(|(k, _)| k.as_str() != "alertname")
            .map(|(k, v)| json!({"title": k, "value": v}))
            .collect();
        body.push(json!({"type": "FactSet", "facts": facts}));
    }
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": body,
                "actions": [{"type": "Action.OpenUrl", "title": "Open Sightline", "url": generator_url}],
            },
        }],
    })
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

pub(crate) fn status(s: Status) -> &'static str {
    match s {
        Status::Pending => "pending",
        Status::Firing => "firing",
        Status::Resolved => "resolved",
    }
}

/// One alert as the webhook and the templates show it.
pub(crate) fn alert_json(a: &Alert) -> Value {
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
}

/// The generic webhook: the whole notification, one object.
fn webhook(n: &Notification) -> Value {
    let alerts: Vec<Value> = n.alerts.iter().map(alert_json).collect();
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
    let text = headline(n);
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
            digest: 0,
            repeat_interval: std::time::Duration::from_secs(3600),
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

    fn to(format: ReceiverFormat) -> ReceiverSettings {
        ReceiverSettings {
            name: "r".into(),
            url: sightline_runtime::config::Secret("http://127.0.0.1:9/".into()),
            format,
            timeout: std::time::Duration::from_secs(1),
            retries: 0,
            retry_backoff: std::time::Duration::from_secs(1),
            max_per_minute: 60,
            routing_key: Some(sightline_runtime::config::Secret("R0UTING".into())),
            from: None,
            to: Vec::new(),
            ca_file: None,
            template: None,
        }
    }

    #[test]
    fn an_email_says_the_group_in_its_subject_and_each_alert_in_its_text() {
        let v = body(
            &to(ReceiverFormat::Email),
            &notification(false),
            "http://ui/",
        );
        assert_eq!(v["subject"], "[FIRING:1] HighErrorRate");
        let text = v["text"].as_str().unwrap();
        assert!(text.starts_with("[FIRING:1] HighErrorRate\n"), "{text}");
        assert!(
            text.contains("P2 HighErrorRate: firing since 2026-11-21T10:02:00Z"),
            "{text}"
        );
        assert!(text.contains("service=checkout, severity=P2"), "{text}");
        assert!(text.ends_with("Open Sightline: http://ui/\n"), "{text}");
        let mut n = notification(true);
        n.group_labels.insert("service".into(), "checkout".into());
        let v = body(&to(ReceiverFormat::Email), &n, "");
        assert_eq!(v["subject"], "[RESOLVED] HighErrorRate (service=checkout)");
        assert!(v["text"]
            .as_str()
            .unwrap()
            .contains("resolved at 2026-11-21T10:09:00Z"));
    }

    #[test]
    fn the_webhook_carries_the_whole_notification() {
        let v = body(&to(ReceiverFormat::Webhook), &notification(false), "");
        assert_eq!(v["status"], "firing");
        assert_eq!(v["alerts"][0]["labels"]["service"], "checkout");
        assert_eq!(v["alerts"][0]["starts_at"], "2026-11-21T10:02:00Z");
        assert!(v["alerts"][0]["ends_at"].is_null());
    }

    #[test]
    fn slack_gets_a_headline_and_a_coloured_attachment() {
        let v = body(&to(ReceiverFormat::Slack), &notification(false), "");
        assert_eq!(v["text"], "[FIRING:1] HighErrorRate");
        assert_eq!(v["attachments"][0]["color"], "danger");
        let v = body(&to(ReceiverFormat::Slack), &notification(true), "");
        assert_eq!(v["text"], "[RESOLVED] HighErrorRate");
        assert_eq!(v["attachments"][0]["color"], "good");
    }

    #[test]
    fn alertmanager_gets_v2_alerts_with_ends_at_once_resolved() {
        let v = body(
            &to(ReceiverFormat::Alertmanager),
            &notification(false),
            "http://sightline/",
        );
        assert_eq!(v[0]["labels"]["alertname"], "HighErrorRate");
        assert_eq!(v[0]["startsAt"], "2026-11-21T10:02:00Z");
        assert_eq!(v[0]["generatorURL"], "http://sightline/");
        assert!(v[0].get("endsAt").is_none());
        let v = body(&to(ReceiverFormat::Alertmanager), &notification(true), "");
        assert_eq!(v[0]["endsAt"], "2026-11-21T10:09:00Z");
    }

    #[test]
    fn pagerduty_gets_one_event_per_group_resolved_under_the_same_key() {
        let pd = to(ReceiverFormat::Pagerduty);
        let v = body(&pd, &notification(false), "http://sightline/");
        assert_eq!(v["routing_key"], "R0UTING");
        assert_eq!(v["event_action"], "trigger");
        assert_eq!(v["payload"]["severity"], "error", "P2");
        assert_eq!(v["payload"]["source"], "checkout");
        assert_eq!(v["payload"]["timestamp"], "2026-11-21T10:02:00Z");
        let summary = v["payload"]["summary"].as_str().unwrap();
        assert!(
            summary.starts_with("[FIRING:1] HighErrorRate: "),
            "{summary}"
        );
        assert_eq!(v["client_url"], "http://sightline/");
        let resolved = body(&pd, &notification(true), "");
        assert_eq!(resolved["event_action"], "resolve");
        assert_eq!(resolved["dedup_key"], v["dedup_key"]);
        assert!(v["dedup_key"].as_str().unwrap().len() <= 255);
    }

    #[test]
    fn teams_gets_an_adaptive_card() {
        let v = body(
            &to(ReceiverFormat::Teams),
            &notification(false),
            "http://sightline/",
        );
        assert_eq!(v["type"], "message");
        let card = &v["attachments"][0];
        assert_eq!(
            card["contentType"],
            "application/vnd.microsoft.card.adaptive"
        );
        let content = &card["content"];
        assert_eq!(content["type"], "AdaptiveCard");
        assert_eq!(content["body"][0]["text"], "[FIRING:1] HighErrorRate");
        assert_eq!(content["body"][0]["color"], "Attention");
        let facts = content["body"][2]["facts"].as_array().unwrap();
        assert!(facts
            .iter()
            .any(|f| f["title"] == "service" && f["value"] == "checkout"));
        assert_eq!(content["actions"][0]["url"], "http://sightline/");
        let resolved = body(&to(ReceiverFormat::Teams), &notification(true), "");
        assert_eq!(
            resolved["attachments"][0]["content"]["body"][0]["color"],
            "Good"
        );
    }
}
