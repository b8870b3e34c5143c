//! A receiver's own wording: Jinja templates (minijinja) of a notification's
//! title and body, checked when the evaluator starts and laid over the
//! receiver's built-in message. A template that fails to render at a send
//! leaves the built-in wording in place: a notification is never lost to a
//! template.
//!
//! What a template sees: `status` (`firing` or `resolved`), `receiver`,
//! `group_key`, `group_labels`, `common_labels` (the labels every alert of the
//! notification shares), `firing` and `resolved` (how many), `generator_url`,
//! and `alerts`, each with `fingerprint`, `rule`, `severity`, `status`,
//! `labels`, `summary`, `value`, `starts_at` and `ends_at`.

use minijinja::Environment;
use serde_json::{json, Value};
use sightline_runtime::config::{ReceiverFormat, ReceiverSettings};

use crate::error::AlertError;
use crate::group::Notification;
use crate::state::{Labels, Status};

pub struct Templates {
    env: Environment<'static>,
}

/// What the templates said of one notification.
#[derive(Debug, Default, PartialEq)]
pub struct Rendered {
    pub title: Option<String>,
    pub body: Option<String>,
}

impl Templates {
    /// The receiver's templates, compiled; `None` when it has none.
    pub fn new(r: &ReceiverSettings) -> Result<Option<Self>, AlertError> {
        let Some(t) = &r.template else {
            return Ok(None);
        };
        let bad = |what: String| AlertError::Rules(format!("receiver {:?}: {what}", r.name));
        if r.format == ReceiverFormat::Alertmanager {
            return Err(bad(
                "an alertmanager receiver sends alerts, not messages: template them in Alertmanager".into(),
            ));
        }
        let mut env = Environment::new();
        for (name, source) in [("title", &t.title), ("body", &t.body)] {
            if let Some(source) = source {
                env.add_template_owned(name, source.clone())
                    .map_err(|e| bad(format!("template.{name}: {e}")))?;
            }
        }
        Ok(Some(Self { env }))
    }

    /// Renders each template of `n`; one that fails is left out (and logged).
    pub fn render(&self, receiver: &str, n: &Notification, generator_url: &str) -> Rendered {
        let ctx = context(receiver, n, generator_url);
        let render = |name: &str| {
            let template = self.env.get_template(name).ok()?;
            match template.render(&ctx) {
                Ok(text) => Some(text),
                Err(e) => {
                    tracing::warn!(receiver, template = name, error = %e, "template failed; the built-in wording is sent");
                    None
                }
            }
        };
        Rendered {
            title: render("title"),
            body: render("body"),
        }
    }
}

fn context(receiver: &str, n: &Notification, generator_url: &str) -> minijinja::Value {
    let mut common: Labels = n
        .alerts
        .first()
        .map(|a| a.labels.clone())
        .unwrap_or_default();
    for a in &n.alerts {
        common.retain(|k, v| a.labels.get(k) == Some(v));
    }
    let alerts: Vec<Value> = n.alerts.iter().map(crate::payload::alert_json).collect();
    let firing = n
        .alerts
        .iter()
        .filter(|a| a.status == Status::Firing)
        .count();
    minijinja::Value::from_serialize(json!({
        "status": crate::payload::status(n.status),
        "receiver": receiver,
        "group_key": n.group_key,
        "group_labels": n.group_labels,
        "common_labels": common,
        "firing": firing,
        "resolved": n.alerts.len() - firing,
        "generator_url": generator_url,
        "alerts": alerts,
    }))
}

/// Lays what the templates said over a receiver's built-in `payload`.
pub fn apply(payload: &mut Value, format: ReceiverFormat, rendered: Rendered) {
    let Rendered { title, body } = rendered;
    match format {
        ReceiverFormat::Email => {
            if let Some(t) = title {
                payload["subject"] = json!(t.trim());
            }
            if let Some(b) = body {
                payload["text"] = json!(b);
            }
        }
        ReceiverFormat::Slack => {
            let head =
                title.unwrap_or_else(|| payload["text"].as_str().unwrap_or_default().to_owned());
            if let Some(b) = body {
                payload["text"] = json!(format!("{head}\n{b}"));
                payload["attachments"] = json!([]);
            } else {
                payload["text"] = json!(head);
            }
        }
        ReceiverFormat::Teams => {
            let card = &mut payload["attachments"][0]["content"]["body"];
            if let Some(t) = title {
                card[0]["text"] = json!(t);
            }
            if let Some(b) = body {
                let head = card[0].clone();
                *card = json!([head, {"type": "TextBlock", "text": b, "wrap": true}]);
            }
        }
        ReceiverFormat::Pagerduty => {
            if let Some(t) = title {
                payload["payload"]["summary"] = json!(t.chars().take(1024).collect::<String>());
            }
            if let Some(b) = body {
                payload["payload"]["custom_details"]["text"] = json!(b);
            }
        }
        ReceiverFormat::Webhook => {
            if let Some(t) = title {
                payload["title"] = json!(t);
            }
            if let Some(b) = body {
                payload["text"] = json!(b);
            }
        }
        // Refused at start: Alertmanager templates its own notifications.
        ReceiverFormat::Alertmanager => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Severity;
    use crate::state::Alert;
    use sightline_runtime::config::{Secret, TemplateSettings};
    use time::macros::datetime;

    fn receiver(format: ReceiverFormat, title: &str, body: Option<&str>) -> ReceiverSettings {
        let toml = "name = \"r\"\nurl = \"http://127.0.0.1:9/\"\nformat = \"webhook\"\n";
        let mut r: ReceiverSettings = figment::Figment::new()
            .merge(<figment::providers::Toml as figment::providers::Format>::string(toml))
            .extract()
            .unwrap();
        r.format = format;
        r.routing_key = Some(Secret("k".into()));
        r.template = Some(TemplateSettings {
            title: Some(title.into()),
            body: body.map(str::to_owned),
        });
        r
    }

    fn notification() -> Notification {
        let t0 = datetime!(2026-12-07 10:00 UTC);
        let alert = |service: &str, status| Alert {
            fingerprint: format!("fp-{service}"),
            rule: "HighErrorRate".into(),
            severity: Severity::P2,
            labels: Labels::from([
                ("alertname".into(), "HighErrorRate".into()),
                ("service".into(), service.into()),
                ("region".into(), "eu".into()),
            ]),
            summary: format!("errors on {service}"),
            value: 0.2,
            status,
            active_since: t0,
            firing_since: Some(t0),
            resolved_at: None,
        };
        Notification {
            id: uuid::Uuid::nil(),
            group_key: "alertname=HighErrorRate".into(),
            group_labels: Labels::from([("alertname".into(), "HighErrorRate".into())]),
            status: Status::Firing,
            receiver: None,
            alerts: vec![alert("api", Status::Firing), alert("web", Status::Resolved)],
            digest: 0,
            repeat_interval: std::time::Duration::from_secs(3600),
        }
    }

    fn said(format: ReceiverFormat, title: &str, body: Option<&str>) -> Value {
        let r = receiver(format, title, body);
        let t = Templates::new(&r).unwrap().unwrap();
        let n = notification();
        let mut payload = crate::payload::body(&r, &n, "http://ui/");
        apply(&mut payload, r.format, t.render(&r.name, &n, "http://ui/"));
        payload
    }

    #[test]
    fn a_template_sees_the_group_its_alerts_and_their_common_labels() {
        let body = "{% for a in alerts %}{{ a.severity }} {{ a.labels.service }} {{ a.status }}\n{% endfor %}";
        let v = said(
            ReceiverFormat::Email,
            "{{ firing }} firing, {{ resolved }} resolved in {{ common_labels.region }} ({{ status }})",
            Some(body),
        );
        assert_eq!(v["subject"], "1 firing, 1 resolved in eu (firing)");
        assert_eq!(v["text"], "P2 api firing\nP2 web resolved\n");
    }

    #[test]
    fn each_format_takes_the_title_and_body_where_its_message_has_them() {
        let v = said(
            ReceiverFormat::Slack,
            "{{ group_labels.alertname }}!",
            Some("see {{ generator_url }}"),
        );
        assert_eq!(v["text"], "HighErrorRate!\nsee http://ui/");
        assert_eq!(v["attachments"], json!([]));
        let v = said(ReceiverFormat::Teams, "T", Some("B"));
        let card = &v["attachments"][0]["content"]["body"];
        assert_eq!(
            (card[0]["text"].as_str(), card[1]["text"].as_str()),
            (Some("T"), Some("B"))
        );
        assert_eq!(card.as_array().unwrap().len(), 2);
        let v = said(ReceiverFormat::Pagerduty, "P {{ alerts | length }}", None);
        assert_eq!(v["payload"]["summary"], "P 2");
        assert_eq!(v["event_action"], "trigger", "the rest is built in");
        let v = said(ReceiverFormat::Webhook, "W", None);
        assert_eq!(v["title"], "W");
        assert_eq!(v["alerts"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn a_template_that_does_not_parse_is_refused_at_start_and_one_that_fails_later_keeps_the_built_in_wording(
    ) {
        let e = Templates::new(&receiver(ReceiverFormat::Email, "{% if %}", None))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("\"r\"") && e.contains("template.title"), "{e}");
        let e = Templates::new(&receiver(ReceiverFormat::Alertmanager, "x", None))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("alertmanager"), "{e}");
        let v = said(ReceiverFormat::Email, "{{ \"x\" + 1 }}", None);
        assert_eq!(
            v["subject"], "[FIRING:1] HighErrorRate",
            "the built-in subject"
        );
    }
}
