//! What the alerts worker reports on /metrics, registered when the worker starts
//! (not on first use), so a scrape shows an evaluator that has not notified yet,
//! or one standing by.

use std::sync::OnceLock;

use prometheus::{IntCounterVec, IntGauge, Opts};

pub struct AlertMetrics {
    /// Evaluations by outcome (`ok`, `failed`).
    pub evaluations: IntCounterVec,
    /// Rules that could not be measured, by rule.
    pub rule_errors: IntCounterVec,
    /// Notifications per receiver and outcome.
    pub notifications: IntCounterVec,
    /// 1 while this instance holds the evaluator lease, 0 while it stands by.
    pub active: IntGauge,
}

fn register<C: prometheus::core::Collector + Clone + 'static>(c: C) -> C {
    sightline_runtime::metrics::registry()
        .register(Box::new(c.clone()))
        .expect("metric registered once");
    c
}

fn counter(name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    register(IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric"))
}

/// The alerts metrics of this process.
pub fn alerts() -> &'static AlertMetrics {
    static METRICS: OnceLock<AlertMetrics> = OnceLock::new();
    METRICS.get_or_init(|| {
        let m = AlertMetrics {
            evaluations: counter(
                "sightline_alerts_evaluations_total",
                "Evaluations of every rule, by outcome",
                &["outcome"],
            ),
            rule_errors: counter(
                "sightline_alerts_rule_errors_total",
                "Rules that could not be measured in an evaluation (their alerts keep their state)",
                &["rule"],
            ),
            notifications: counter(
                "sightline_alerts_notifications_total",
                "Notifications per receiver, delivered or failed after retries.",
                &["receiver", "outcome"],
            ),
            active: register(
                IntGauge::new(
                    "sightline_alerts_evaluator_active",
                    "1 while this instance evaluates the rules, 0 while it stands by",
                )
                .expect("valid metric"),
            ),
        };
        // Present from the first scrape, at zero.
        for outcome in ["ok", "failed"] {
            m.evaluations.with_label_values(&[outcome]);
        }
        m
    })
}
