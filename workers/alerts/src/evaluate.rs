//! The alert evaluator: at every tick, measure each rule, move alerts between
//! states, record every change on ALERTS, and deliver the notifications that are
//! due (unless a replay is running). Time comes from a [`Clock`].

use async_nats::HeaderMap;
use sightline_runtime::Bus;
use time::OffsetDateTime;

use crate::error::AlertError;
use crate::group::Notification;
use crate::measure::Measure;
use crate::nflog::{Claim, NotificationLog, Said};
use crate::notify::{Delivery, Notifier};
use crate::route::Routing;
use crate::rules::Rules;
use crate::state::Transition;
use crate::store::{AlertStore, Saved};

/// Where the evaluator gets the time: the system clock, or a test's.
pub trait Clock: Send + Sync {
    fn now(&self) -> OffsetDateTime;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// What one tick did.
#[derive(Debug, Default)]
pub struct Tick {
    pub transitions: Vec<Transition>,
    pub notifications: Vec<Notification>,
    pub deliveries: Vec<Delivery>,
    /// Notifications were held: a replay is running.
    pub suppressed: bool,
    /// (group, receiver) pairs not sent because the notification log says they
    /// were already said (or are being said by another evaluator).
    pub already_said: Vec<(String, String)>,
    /// Rules that could not be measured (their alerts keep their state).
    pub unmeasured: Vec<String>,
}

pub struct Evaluator<M> {
    rules: Rules,
    routing: Routing,
    measure: M,
    store: AlertStore,
    bus: Bus,
    notifier: Notifier,
    log: NotificationLog,
    saved: Saved,
}

impl<M: Measure> Evaluator<M> {
    /// Resumes from the state saved in Redis.
    pub async fn new(
        rules: Rules,
        routing: Routing,
        measure: M,
        store: AlertStore,
        bus: Bus,
        notifier: Notifier,
    ) -> Result<Self, AlertError> {
        let saved = store.load().await?;
        let log = store.notification_log();
        Ok(Self {
            log,
            rules,
            routing,
            measure,
            store,
            bus,
            notifier,
            saved,
        })
    }

    pub fn saved(&self) -> &Saved {
        &self.saved
    }

    /// One evaluation at `now`. If measuring or recording fails, nothing of it is
    /// kept: the next tick starts from the same state and records the same
    /// changes under the same ids. Notifications due are delivered before the
    /// state is saved; the notification log, claimed before each send and
    /// written after it, keeps a crash in between (or a standby that read the
    /// state before) from sending them again.
    pub async fn tick(&mut self, now: OffsetDateTime) -> Result<Tick, AlertError> {
        let before = self.saved.clone();
        let mut tick = match self.evaluate(now).await {
            Ok(tick) => tick,
            Err(e) => {
                self.saved = before;
                return Err(e);
            }
        };
        let notifications = std::mem::take(&mut tick.notifications);
        for n in &notifications {
            self.send(n, now, &mut tick).await;
        }
        tick.notifications = notifications;
        // Kept in memory when Redis refuses: the next tick saves it.
        self.store.save(&self.saved).await?;
        Ok(tick)
    }

    /// Sends `n` to each of its receivers the notification log has not seen it
    /// sent to. When the log cannot be read, it sends: a repeat is better than
    /// a loss.
    async fn send(&self, n: &Notification, now: OffsetDateTime, tick: &mut Tick) {
        let firing = n.status == crate::state::Status::Firing;
        let said = |receiver| Said {
            group_key: &n.group_key,
            receiver,
            digest: n.digest,
            firing,
            repeat_interval: n.repeat_interval,
        };
        let mut to = Vec::new();
        for receiver in self.notifier.receivers_for(n) {
            match self.log.claim(&said(receiver), now).await {
                Ok(Claim::Send) => to.push(receiver),
                Ok(Claim::AlreadySaid | Claim::InFlight) => tick
                    .already_said
                    .push((n.group_key.clone(), receiver.to_owned())),
                Err(e) => {
                    tracing::warn!(error = %e, receiver, "cannot read the notification log; sending");
                    to.push(receiver);
                }
            }
        }
        let deliveries = self.notifier.deliver_to(n, &to).await;
        for d in &deliveries {
            let s = said(d.receiver());
            let recorded = match d {
                Delivery::Delivered { .. } => self.log.delivered(&s, now).await,
                Delivery::Failed { .. } => self.log.failed(&s).await,
            };
            if let Err(e) = recorded {
                tracing::warn!(error = %e, receiver = d.receiver(), "cannot write the notification log");
            }
        }
        tick.deliveries.extend(deliveries);
    }

    async fn evaluate(&mut self, now: OffsetDateTime) -> Result<Tick, AlertError> {
        let mut tick = Tick::default();
        for rule in &self.rules.rules {
            match self.measure.measure(rule, now).await {
                Ok(samples) => tick
                    .transitions
                    .extend(self.saved.book.evaluate(rule, &samples, now)),
                // A failed read must not resolve anything.
                Err(e) => {
                    tracing::warn!(rule = %rule.name, error = %e, "cannot measure the rule; its alerts keep their state");
                    crate::metrics::alerts()
                        .rule_errors
                        .with_label_values(&[&rule.name])
                        .inc();
                    tick.unmeasured.push(rule.name.clone());
                }
            }
        }
        for t in &tick.transitions {
            publish(&self.bus, t).await?;
        }
        let silences = self.store.silences().await?;
        tick.suppressed = self.store.replaying().await?;
        if !tick.suppressed {
            let acks = self.store.acks().await?;
            // Before grouping: the grouper forgets resolved alerts it has said.
            tick.notifications =
                self.saved
                    .escalated
                    .due(&self.saved.book, &self.routing, &acks, &silences, now);
            tick.notifications.extend(self.saved.grouper.due(
                &mut self.saved.book,
                &self.rules,
                &self.routing,
                &silences,
                now,
            ));
            let stale = crate::ack::stale(&acks, &self.saved.book);
            self.store.remove_acks(&stale).await?;
        }
        Ok(tick)
    }

    /// Evaluates every `interval` until `shutdown` trips.
    pub async fn run(
        mut self,
        clock: impl Clock,
        interval: std::time::Duration,
        mut shutdown: sightline_runtime::Shutdown,
    ) {
        tracing::info!(rules = self.rules.rules.len(), version = %self.rules.version, "alert evaluator started");
        let evaluations = &crate::metrics::alerts().evaluations;
        while !shutdown.is_tripped() {
            let result = self.tick(clock.now()).await;
            let outcome = if result.is_ok() { "ok" } else { "failed" };
            evaluations.with_label_values(&[outcome]).inc();
            match result {
                Ok(t) if t.suppressed && !t.transitions.is_empty() => {
                    tracing::info!(
                        changes = t.transitions.len(),
                        "a replay is running: notifications held"
                    )
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "alert evaluation failed; retrying next tick"),
            }
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = shutdown.tripped() => {}
            }
        }
    }
}

/// Records a change on ALERTS; its id makes a repeated publish a no-op.
async fn publish(bus: &Bus, t: &Transition) -> Result<(), AlertError> {
    let mut headers = HeaderMap::new();
    headers.insert("Nats-Msg-Id", t.message_id().as_str());
    headers.insert("Content-Type", "application/json");
    let body = serde_json::to_vec(t).map_err(|e| AlertError::Invalid(e.to_string()))?;
    let unavailable = |e: &dyn std::fmt::Display| AlertError::Unavailable(format!("ALERTS: {e}"));
    bus.js
        .publish_with_headers(t.subject(), headers, body.into())
        .await
        .map_err(|e| unavailable(&e))?
        .await
        .map_err(|e| unavailable(&e))?;
    Ok(())
}
