//! The alert evaluator: at every tick, measure each rule, move alerts between
//! states, record every change on ALERTS, and deliver the notifications that are
//! due (unless a replay is running). Time comes from a [`Clock`].

use async_nats::HeaderMap;
use sightline_runtime::Bus;
use time::OffsetDateTime;

use crate::error::AlertError;
use crate::group::Notification;
use crate::measure::Measure;
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
        Ok(Self {
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
    /// state is saved: a crash in between repeats a notification rather than
    /// losing it (receivers can dedupe on `Idempotency-Key`).
    pub async fn tick(&mut self, now: OffsetDateTime) -> Result<Tick, AlertError> {
        let before = self.saved.clone();
        let mut tick = match self.evaluate(now).await {
            Ok(tick) => tick,
            Err(e) => {
                self.saved = before;
                return Err(e);
            }
        };
        for n in &tick.notifications {
            tick.deliveries.extend(self.notifier.deliver(n).await);
        }
        // Kept in memory when Redis refuses: the next tick saves it.
        self.store.save(&self.saved).await?;
        Ok(tick)
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
            tick.notifications = self.saved.grouper.due(
                &mut self.saved.book,
                &self.rules,
                &self.routing,
                &silences,
                now,
            );
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
