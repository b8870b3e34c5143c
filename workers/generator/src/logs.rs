//! Application log records beside the commerce events, as services write them:
//! most describe the request an event came from (its service, host and trace),
//! the rest are a service's own housekeeping. Drawn from a random stream of their
//! own, so asking for logs leaves the commerce events exactly as they were.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use sightline_schemas::{AttrValue, Body, Event, LogRecord, Severity, TxStatus};

/// A log record about `last` (the request's own lines), or now and then one of
/// its service's background lines.
pub fn record(rng: &mut ChaCha8Rng, last: &Event) -> Event {
    let housekeeping = rng.random_bool(0.2);
    let mut log = if housekeeping {
        background(rng)
    } else {
        about(rng, last)
    };
    if rng.random_bool(0.1) {
        log.severity = Severity::Debug;
        log.message = format!("debug: {}", log.message);
    }
    let mut event = Event::at(last.occurred_at, last.service.clone(), Body::Log(log));
    let millis = (last.occurred_at.unix_timestamp_nanos() / 1_000_000).max(0) as u64;
    event.id = uuid::Builder::from_unix_timestamp_millis(millis, &rng.random()).into_uuid();
    event.env = last.env.clone();
    event.host = last.host.clone();
    // Housekeeping belongs to no request.
    event.trace_id = last.trace_id.clone().filter(|_| !housekeeping);
    event
}

fn line(severity: Severity, logger: &str, message: String) -> LogRecord {
    let mut log = LogRecord::new(severity, &message);
    log.logger = Some(logger.into());
    log
}

fn attr(log: &mut LogRecord, name: &str, value: AttrValue) {
    log.attributes.insert(name.into(), value);
}

fn text(value: &str) -> AttrValue {
    AttrValue::Text(value.into())
}

/// What a service logs while handling the request `last` records.
fn about(rng: &mut ChaCha8Rng, last: &Event) -> LogRecord {
    match &last.payload {
        Body::Performance(p) => {
            let severity = match p.status_code {
                500.. => Severity::Error,
                400.. => Severity::Warn,
                _ => Severity::Info,
            };
            let mut log = line(
                severity,
                "http.access",
                format!(
                    "{} {} {} {:.1} ms",
                    p.method, p.endpoint, p.status_code, p.response_time_ms
                ),
            );
            attr(&mut log, "http.method", text(&p.method));
            attr(&mut log, "http.route", text(&p.endpoint));
            attr(
                &mut log,
                "http.status_code",
                AttrValue::Int(p.status_code.into()),
            );
            attr(
                &mut log,
                "duration_ms",
                AttrValue::Float(p.response_time_ms),
            );
            log
        }
        Body::Error(e) => {
            let mut log = line(
                Severity::Error,
                "app.errors",
                format!(
                    "unhandled {}: {} on {}",
                    e.error_type, e.error_message, e.endpoint
                ),
            );
            attr(&mut log, "error.type", text(&e.error_type));
            if let Some(stack) = &e.stack {
                log.message = format!("{}\n{stack}", log.message);
            }
            log
        }
        Body::Transaction(t) => {
            let (severity, message) = match t.status {
                TxStatus::Failed => (
                    Severity::Warn,
                    format!(
                        "payment declined for order {}: {}",
                        t.order_id.as_deref().unwrap_or("-"),
                        t.failure_reason.as_deref().unwrap_or("unknown")
                    ),
                ),
                _ => (
                    Severity::Info,
                    format!(
                        "payment {} captured for order {}",
                        t.transaction_id,
                        t.order_id.as_deref().unwrap_or("-")
                    ),
                ),
            };
            let mut log = line(severity, "app.payments", message);
            attr(&mut log, "payment.method", text(&t.payment_method));
            attr(&mut log, "currency", text(&t.currency));
            log
        }
        Body::Security(s) => {
            let failed = s.action == "login_failure";
            let mut log = line(
                if failed {
                    Severity::Warn
                } else {
                    Severity::Info
                },
                "app.auth",
                format!(
                    "{} for {}",
                    s.action.replace('_', " "),
                    s.user_id.as_deref().unwrap_or("unknown user")
                ),
            );
            attr(
                &mut log,
                "auth.result",
                text(if failed { "failure" } else { "success" }),
            );
            log
        }
        Body::UserBehavior(b) => {
            let mut log = line(
                Severity::Info,
                "app.sessions",
                format!(
                    "session {} {} {}",
                    b.session_id,
                    b.action.replace('_', " "),
                    b.page
                ),
            );
            attr(&mut log, "session.action", text(&b.action));
            log
        }
        Body::Log(_) => background(rng),
    }
}

/// A service's housekeeping: pools, caches, retries, collector pauses, and now
/// and then a dependency that times out.
fn background(rng: &mut ChaCha8Rng) -> LogRecord {
    match rng.random_range(0..100) {
        0..=29 => {
            let used = rng.random_range(1..=50);
            let mut log = line(
                Severity::Info,
                "db.pool",
                format!("connection pool {used}/50 in use"),
            );
            attr(&mut log, "pool.used", AttrValue::Int(used));
            log
        }
        30..=54 => {
            let ratio = rng.random_range(70.0..99.9f64);
            line(
                Severity::Info,
                "cache",
                format!("cache hit ratio {ratio:.1}% over the last minute"),
            )
        }
        55..=74 => {
            let pause = rng.random_range(1..40);
            let mut log = line(
                Severity::Debug,
                "runtime.gc",
                format!("gc pause {pause} ms"),
            );
            attr(&mut log, "gc.pause_ms", AttrValue::Int(pause));
            log
        }
        75..=94 => {
            let dependency = ["inventory", "pricing", "recommendations"][rng.random_range(0..3)];
            let attempt = rng.random_range(1..=3);
            let mut log = line(
                Severity::Warn,
                "http.client",
                format!("retrying call to {dependency} after 503 (attempt {attempt} of 3)"),
            );
            attr(&mut log, "peer.service", text(dependency));
            log
        }
        _ => {
            let host = rng.random_range(1..=3);
            let waited = rng.random_range(1_000..30_000);
            let mut log = line(
                Severity::Error,
                "db.client",
                format!("connection to db-{host}.internal:5432 timed out after {waited} ms"),
            );
            attr(&mut log, "db.system", text("postgresql"));
            log
        }
    }
}
