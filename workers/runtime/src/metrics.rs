//! Worker telemetry: typed events that both log and count, exposed on /metrics,
//! and the health every worker reports on /healthz.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};
use serde::Serialize;

use crate::error::Error;

/// Every metric a worker keeps, labeled by consumer.
pub struct WorkerMetrics {
    received: IntCounterVec,
    applied: IntCounterVec,
    failed: IntCounterVec,
    dead_lettered: IntCounterVec,
    batch_seconds: HistogramVec,
    pending: IntGaugeVec,
    event_lag_seconds: HistogramVec,
}

/// The process-wide registry behind /metrics.
pub fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(Registry::new)
}

fn counter(name: &str, help: &str) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), &["consumer"]).expect("valid metric");
    registry()
        .register(Box::new(c.clone()))
        .expect("metric registered once");
    c
}

fn histogram(name: &str, help: &str, buckets: Vec<f64>) -> HistogramVec {
    let h = HistogramVec::new(
        HistogramOpts::new(name, help).buckets(buckets),
        &["consumer"],
    )
    .expect("valid metric");
    registry()
        .register(Box::new(h.clone()))
        .expect("metric registered once");
    h
}

/// Counts card numbers masked in events' free text, by where (`publish`: ingest
/// through the Publisher; `consume`: events a producer put on the bus directly).
pub fn card_numbers_masked(at: &'static str, n: usize) {
    static MASKED: OnceLock<IntCounterVec> = OnceLock::new();
    let counter = MASKED.get_or_init(|| {
        let c = IntCounterVec::new(
            Opts::new(
                "sightline_card_numbers_masked_total",
                "Card numbers masked in events' free text",
            ),
            &["at"],
        )
        .expect("valid metric");
        registry()
            .register(Box::new(c.clone()))
            .expect("metric registered once");
        c
    });
    counter.with_label_values(&[at]).inc_by(n as u64);
}

/// The worker metrics of this process (registered on first use).
pub fn worker() -> &'static WorkerMetrics {
    static METRICS: OnceLock<WorkerMetrics> = OnceLock::new();
    METRICS.get_or_init(|| {
        let pending = IntGaugeVec::new(
            Opts::new(
                "sightline_worker_consumer_pending_messages",
                "Messages not yet delivered or acked",
            ),
            &["consumer"],
        )
        .expect("valid metric");
        registry()
            .register(Box::new(pending.clone()))
            .expect("metric registered once");
        WorkerMetrics {
            received: counter(
                "sightline_worker_messages_received_total",
                "Messages delivered to the worker",
            ),
            applied: counter(
                "sightline_worker_messages_applied_total",
                "Messages applied to the projection and acked",
            ),
            failed: counter(
                "sightline_worker_batches_failed_total",
                "Batch applications that failed and were retried",
            ),
            dead_lettered: counter(
                "sightline_worker_messages_dead_lettered_total",
                "Poison messages sent to the DLQ",
            ),
            batch_seconds: histogram(
                "sightline_worker_batch_duration_seconds",
                "Time to decode, apply and ack one batch",
                prometheus::exponential_buckets(0.001, 2.0, 16).expect("valid buckets"),
            ),
            pending,
            event_lag_seconds: histogram(
                "sightline_worker_event_lag_seconds",
                "From an event's occurred_at to its projection write",
                prometheus::exponential_buckets(0.005, 2.0, 18).expect("valid buckets"),
            ),
        }
    })
}

impl WorkerMetrics {
    pub fn received(&self, consumer: &str, n: usize) {
        self.received
            .with_label_values(&[consumer])
            .inc_by(n as u64);
    }

    pub fn applied(&self, consumer: &str, n: usize, took: Duration) {
        self.applied.with_label_values(&[consumer]).inc_by(n as u64);
        self.batch_seconds
            .with_label_values(&[consumer])
            .observe(took.as_secs_f64());
        tracing::debug!(
            consumer,
            applied = n,
            took_ms = took.as_millis() as u64,
            "batch applied"
        );
    }

    pub fn batch_failed(&self, consumer: &str, attempt: u32, error: &Error) {
        self.failed.with_label_values(&[consumer]).inc();
        tracing::warn!(consumer, attempt, %error, "batch failed; retrying");
    }

    pub fn dead_lettered(&self, consumer: &str, subject: &str, stream_seq: u64, reason: &str) {
        self.dead_lettered.with_label_values(&[consumer]).inc();
        // A store's refusal may quote the value it refused.
        let (reason, _) = sightline_schemas::mask::masked(reason);
        tracing::warn!(
            consumer,
            subject,
            stream_seq,
            reason,
            "message dead-lettered"
        );
    }

    pub fn event_lag(&self, consumer: &str, seconds: f64) {
        self.event_lag_seconds
            .with_label_values(&[consumer])
            .observe(seconds.max(0.0));
    }

    pub fn pending(&self, consumer: &str, pending: u64) {
        self.pending
            .with_label_values(&[consumer])
            .set(pending as i64);
    }
}

/// What each worker of the process last reported, for /healthz.
#[derive(Clone, Default)]
pub struct Health(Arc<Mutex<BTreeMap<String, WorkerState>>>);

#[derive(Clone)]
struct WorkerState {
    last_progress: Instant,
    /// What the server has for the worker: undelivered, and delivered unacked.
    pending: u64,
    /// Messages the worker has received and not settled yet. A consumer without
    /// acks shows no ack backlog: a batch stuck in its worker shows only here.
    holding: u64,
    stall_after: Duration,
}

#[derive(Serialize)]
struct WorkerReport {
    consumer: String,
    pending: u64,
    holding: u64,
    seconds_since_progress: u64,
    stalled: bool,
}

impl Health {
    pub fn register(&self, consumer: &str, stall_after: Duration) {
        let state = WorkerState {
            last_progress: Instant::now(),
            pending: 0,
            holding: 0,
            stall_after,
        };
        self.lock().insert(consumer.to_owned(), state);
    }

    /// The worker has received a batch of `messages` to apply.
    pub fn holding(&self, consumer: &str, messages: usize) {
        if let Some(s) = self.lock().get_mut(consumer) {
            s.holding = messages as u64;
        }
    }

    /// The worker has settled the batch it held.
    pub fn progressed(&self, consumer: &str) {
        if let Some(s) = self.lock().get_mut(consumer) {
            s.last_progress = Instant::now();
            s.holding = 0;
        }
    }

    pub fn pending(&self, consumer: &str, pending: u64) {
        if let Some(s) = self.lock().get_mut(consumer) {
            // Nothing to do counts as progress: an idle worker is not stalled.
            if pending == 0 && s.holding == 0 {
                s.last_progress = Instant::now();
            }
            s.pending = pending;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, WorkerState>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn report(&self) -> Vec<WorkerReport> {
        self.lock()
            .iter()
            .map(|(name, s)| {
                let idle = s.last_progress.elapsed();
                WorkerReport {
                    consumer: name.clone(),
                    pending: s.pending,
                    holding: s.holding,
                    seconds_since_progress: idle.as_secs(),
                    stalled: (s.pending > 0 || s.holding > 0) && idle > s.stall_after,
                }
            })
            .collect()
    }
}

async fn metrics_text() -> impl IntoResponse {
    let mut buf = Vec::new();
    let encoder = TextEncoder::new();
    if let Err(e) = encoder.encode(&registry().gather(), &mut buf) {
        return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response();
    }
    ([("content-type", encoder.format_type().to_owned())], buf).into_response()
}

async fn healthz(State(health): State<Health>) -> impl IntoResponse {
    let workers = health.report();
    let ok = workers.iter().all(|w| !w.stalled);
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(
            serde_json::json!({ "status": if ok { "ok" } else { "stalled" }, "workers": workers }),
        ),
    )
}

/// Serves /metrics and /healthz until the task is dropped. Returns the bound address.
pub async fn serve(
    addr: SocketAddr,
    health: Health,
) -> Result<(SocketAddr, tokio::task::JoinHandle<()>), Error> {
    let app = Router::new()
        .route("/metrics", get(metrics_text))
        .route("/healthz", get(healthz))
        .with_state(health);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| Error::io(format!("binding metrics on {addr}"), e))?;
    let bound = listener
        .local_addr()
        .map_err(|e| Error::io("metrics address", e))?;
    let task = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "metrics server stopped");
        }
    });
    tracing::info!(addr = %bound, "serving /metrics and /healthz");
    Ok((bound, task))
}
