//! Delivering notifications to receivers over HTTP (or SMTP, [`crate::email`]): a timeout per attempt,
//! retries with jittered backoff for timeouts, 429 and 5xx, and a per-receiver
//! rate limit. Every attempt of one notification carries the same
//! `Idempotency-Key`, so a receiver that saw an attempt time out can drop the
//! retry.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use prometheus::IntCounterVec;
use sightline_runtime::config::{AlertsSettings, ReceiverFormat, ReceiverSettings};
use tokio::sync::Mutex;

use crate::email::Mailer;
use crate::error::AlertError;
use crate::group::Notification;
use crate::payload::body;
use crate::template::{apply, Templates};

/// What became of one notification at one receiver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Delivered {
        receiver: String,
        attempts: u32,
    },
    Failed {
        receiver: String,
        attempts: u32,
        error: String,
    },
}

impl Delivery {
    pub fn receiver(&self) -> &str {
        match self {
            Delivery::Delivered { receiver, .. } | Delivery::Failed { receiver, .. } => receiver,
        }
    }
}

/// At most `max` sends in any minute.
#[derive(Debug)]
pub struct RateLimit {
    max: usize,
    sent: VecDeque<Instant>,
}

impl RateLimit {
    pub fn per_minute(max: u32) -> Self {
        Self {
            max: (max as usize).max(1),
            sent: VecDeque::new(),
        }
    }

    /// How long to wait before a send at `now` (and records it when zero).
    pub fn acquire(&mut self, now: Instant) -> Duration {
        const MINUTE: Duration = Duration::from_secs(60);
        while self
            .sent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= MINUTE)
        {
            self.sent.pop_front();
        }
        if self.sent.len() < self.max {
            self.sent.push_back(now);
            return Duration::ZERO;
        }
        MINUTE - now.duration_since(self.sent[0])
    }
}

/// Why one attempt failed, and whether another may succeed.
#[derive(Debug)]
pub struct Failure {
    pub retry: bool,
    pub error: String,
}

struct Receiver {
    settings: ReceiverSettings,
    limit: Mutex<RateLimit>,
    /// Set for an email receiver.
    mailer: Option<Mailer>,
    /// Set when the receiver has its own wording.
    templates: Option<Templates>,
}

#[derive(Clone)]
pub struct Notifier {
    client: reqwest::Client,
    receivers: Arc<Vec<Receiver>>,
    generator_url: String,
}

impl Notifier {
    pub fn new(settings: &AlertsSettings) -> Result<Self, AlertError> {
        let client = reqwest::Client::builder()
            .user_agent(concat!("sightline/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| AlertError::Rules(format!("http client: {e}")))?;
        for r in &settings.receivers {
            if r.format == ReceiverFormat::Pagerduty && r.routing_key.is_none() {
                return Err(AlertError::Rules(format!(
                    "receiver {:?}: format pagerduty needs routing_key (the integration key)",
                    r.name
                )));
            }
        }
        let receivers = settings
            .receivers
            .iter()
            .map(|r| {
                let mailer = match r.format {
                    ReceiverFormat::Email => Some(Mailer::new(r)?),
                    _ => None,
                };
                Ok(Receiver {
                    limit: Mutex::new(RateLimit::per_minute(r.max_per_minute)),
                    settings: r.clone(),
                    mailer,
                    templates: Templates::new(r)?,
                })
            })
            .collect::<Result<_, AlertError>>()?;
        Ok(Self {
            client,
            receivers: Arc::new(receivers),
            generator_url: settings.generator_url.clone(),
        })
    }

    /// The receivers `n` is for: its route's, or every one when its route names
    /// none.
    pub fn receivers_for<'a>(&'a self, n: &'a Notification) -> impl Iterator<Item = &'a str> {
        self.receivers
            .iter()
            .map(|r| r.settings.name.as_str())
            .filter(|name| n.receiver.as_deref().is_none_or(|to| to == *name))
    }

    /// Sends `n` to its receivers (concurrently) and reports each outcome.
    pub async fn deliver(&self, n: &Notification) -> Vec<Delivery> {
        let all: Vec<&str> = self.receivers_for(n).collect();
        self.deliver_to(n, &all).await
    }

    /// Sends `n` to the receivers named (concurrently) and reports each outcome.
    pub async fn deliver_to(&self, n: &Notification, names: &[&str]) -> Vec<Delivery> {
        let sends = self
            .receivers
            .iter()
            .filter(|r| names.contains(&r.settings.name.as_str()))
            .map(|r| self.send(r, n));
        let outcomes = futures::future::join_all(sends).await;
        for o in &outcomes {
            let (receiver, outcome) = match o {
                Delivery::Delivered { receiver, .. } => (receiver, "delivered"),
                Delivery::Failed {
                    receiver, error, ..
                } => {
                    tracing::warn!(receiver, notification = %n.id, error, "notification not delivered");
                    (receiver, "failed")
                }
            };
            deliveries().with_label_values(&[receiver, outcome]).inc();
        }
        outcomes
    }

    async fn send(&self, r: &Receiver, n: &Notification) -> Delivery {
        loop {
            let wait = r.limit.lock().await.acquire(Instant::now());
            if wait.is_zero() {
                break;
            }
            tokio::time::sleep(wait).await;
        }
        let mut payload = body(&r.settings, n, &self.generator_url);
        if let Some(t) = &r.templates {
            let rendered = t.render(&r.settings.name, n, &self.generator_url);
            apply(&mut payload, r.settings.format, rendered);
        }
        let receiver = r.settings.name.clone();
        let mut attempts = 0;
        loop {
            attempts += 1;
            let Failure { retry, error } = match self.attempt(r, n, &payload).await {
                Ok(()) => return Delivery::Delivered { receiver, attempts },
                Err(failure) => failure,
            };
            if !retry || attempts > r.settings.retries {
                return Delivery::Failed {
                    receiver,
                    attempts,
                    error,
                };
            }
            let base = r
                .settings
                .retry_backoff
                .saturating_mul(1 << (attempts - 1).min(10));
            tokio::time::sleep(base.mul_f64(0.5 + rand::random::<f64>() * 0.5)).await;
        }
    }

    /// One attempt to deliver `payload`: over SMTP to an email receiver, else
    /// POSTed to the receiver's URL.
    async fn attempt(
        &self,
        r: &Receiver,
        n: &Notification,
        payload: &serde_json::Value,
    ) -> Result<(), Failure> {
        if let Some(mailer) = &r.mailer {
            let text = |k: &str| payload[k].as_str().unwrap_or_default().to_owned();
            let message = mailer
                .message(n, &text("subject"), &text("text"))
                .map_err(|error| Failure {
                    retry: false,
                    error,
                })?;
            return mailer.send(message).await;
        }
        let sent = self
            .client
            .post(&r.settings.url.0)
            .header("Idempotency-Key", n.id.to_string())
            .timeout(r.settings.timeout)
            .json(payload)
            .send()
            .await;
        // The URL may hold a token: errors are reported without it.
        let error = match sent {
            Ok(resp) if resp.status().is_success() => return Ok(()),
            Ok(resp) => {
                let status = resp.status();
                let retry = status.as_u16() == 429 || status.is_server_error();
                if !retry {
                    return Err(Failure {
                        retry,
                        error: format!("refused with {status}"),
                    });
                }
                format!("answered {status}")
            }
            Err(e) if e.is_timeout() => "timed out".to_owned(),
            Err(e) if e.is_connect() => "cannot connect".to_owned(),
            Err(_) => "request failed".to_owned(),
        };
        Err(Failure { retry: true, error })
    }
}

fn deliveries() -> &'static IntCounterVec {
    &crate::metrics::alerts().notifications
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_limit_spaces_sends_over_a_sliding_minute() {
        let t0 = Instant::now();
        let mut limit = RateLimit::per_minute(2);
        assert_eq!(limit.acquire(t0), Duration::ZERO);
        assert_eq!(limit.acquire(t0 + Duration::from_secs(10)), Duration::ZERO);
        assert_eq!(
            limit.acquire(t0 + Duration::from_secs(20)),
            Duration::from_secs(40),
            "the third waits until the first is a minute old"
        );
        assert_eq!(limit.acquire(t0 + Duration::from_secs(60)), Duration::ZERO);
        assert_eq!(
            limit.acquire(t0 + Duration::from_secs(61)),
            Duration::from_secs(9)
        );
    }

    #[test]
    fn a_pagerduty_receiver_without_its_routing_key_is_refused_by_name() {
        let toml = r#"
            [[receivers]]
            name = "oncall"
            url = "https://events.pagerduty.com/v2/enqueue"
            format = "pagerduty"
        "#;
        let settings: AlertsSettings = figment::Figment::new()
            .merge(<figment::providers::Toml as figment::providers::Format>::string(toml))
            .extract()
            .unwrap();
        let e = Notifier::new(&settings).err().expect("refused").to_string();
        assert!(e.contains("\"oncall\"") && e.contains("routing_key"), "{e}");
    }

    fn refusal(toml: &str) -> String {
        let settings: AlertsSettings = figment::Figment::new()
            .merge(<figment::providers::Toml as figment::providers::Format>::string(toml))
            .extract()
            .unwrap();
        Notifier::new(&settings).err().expect("refused").to_string()
    }

    #[test]
    fn an_email_receiver_is_refused_without_sender_or_recipients_or_with_a_bad_one() {
        let base = "[[receivers]]\nname = \"mail\"\nformat = \"email\"\n";
        let e = refusal(&format!(
            "{base}url = \"smtp://relay:25\"\nto = [\"a@b.c\"]"
        ));
        assert!(e.contains("\"mail\"") && e.contains("needs from"), "{e}");
        let e = refusal(&format!(
            "{base}url = \"smtp://relay:25\"\nfrom = \"s@b.c\""
        ));
        assert!(e.contains("needs to"), "{e}");
        let e = refusal(&format!(
            "{base}url = \"smtp://relay:25\"\nfrom = \"s@b.c\"\nto = [\"not an address\"]"
        ));
        assert!(e.contains("to \"not an address\""), "{e}");
        let e = refusal(&format!(
            "{base}url = \"https://user:hunter2@relay\"\nfrom = \"s@b.c\"\nto = [\"a@b.c\"]"
        ));
        assert!(e.contains("url") && !e.contains("hunter2"), "{e}");
    }
}
