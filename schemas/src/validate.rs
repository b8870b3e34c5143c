//! Validation rules. Every check names the field it failed on and never echoes the
//! offending value.

use rust_decimal::Decimal;
use time::{Duration, OffsetDateTime};

use crate::currency::is_iso4217;
use crate::envelope::{Body, Event};
use crate::error::{EventError, EventErrorKind, FieldError};
use crate::log::{
    is_normalized_attribute_name, AttrValue, LogRecord, MAX_ATTRIBUTES, MAX_ATTRIBUTE_VALUE,
    MAX_LOG_MESSAGE,
};
use crate::payload::{ErrorEvent, Performance, Security, Transaction, UserBehavior};

/// Identifiers: user, session, transaction, order ids and similar.
const MAX_ID: usize = 128;
/// Short labels: error types, pages, endpoints, user agents.
const MAX_LABEL: usize = 512;
const MAX_MESSAGE: usize = 4096;
const MAX_STACK: usize = 32 * 1024;
const MAX_TAGS: usize = 32;
const MAX_TAG_KEY: usize = 64;
const MAX_TAG_VALUE: usize = 256;
/// Tokens used in subjects and as low-cardinality dimensions.
const MAX_TOKEN: usize = 64;
/// Largest accepted amount in major units: above any real payment, below overflow.
const MAX_AMOUNT: i64 = 1_000_000_000_000;
/// No request takes a day: larger durations are unit mistakes.
const MAX_DURATION_MS: f64 = 86_400_000.0;
/// Clock skew tolerated for events stamped in the future.
const FUTURE_SKEW: Duration = Duration::minutes(5);
/// Nothing Sightline ingests predates 2000-01-01.
const EARLIEST_UNIX: i64 = 946_684_800;

/// Types that check themselves. Errors are collected, not stopped at the first.
pub trait Validate {
    fn validate(&self) -> Result<(), EventError> {
        let mut c = Checker::default();
        self.check(&mut c);
        c.finish()
    }

    fn check(&self, c: &mut Checker);
}

/// Collects field errors under a path prefix.
#[derive(Default)]
pub struct Checker {
    prefix: &'static str,
    errors: Vec<FieldError>,
}

impl Checker {
    fn fail(&mut self, field: &str, reason: impl Into<String>) {
        self.errors.push(FieldError {
            field: format!("{}{field}", self.prefix),
            reason: reason.into(),
        });
    }

    fn finish(self) -> Result<(), EventError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(EventError::new(EventErrorKind::Invalid, self.errors))
        }
    }

    fn text(&mut self, field: &str, value: &str, max: usize) {
        if value.trim().is_empty() {
            self.fail(field, "must not be empty");
        } else if value.len() > max {
            self.fail(field, format!("must be at most {max} bytes"));
        } else if has_control(value) {
            self.fail(field, "must not contain control characters");
        }
    }

    fn opt_text(&mut self, field: &str, value: &Option<String>, max: usize) {
        if let Some(v) = value {
            self.text(field, v, max);
        }
    }

    /// A lower-case token such as `apple_pay` or `login_failure`.
    fn token(&mut self, field: &str, value: &str) {
        let ok = !value.is_empty()
            && value.len() <= MAX_TOKEN
            && value
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !ok {
            self.fail(
                field,
                format!("must be 1-{MAX_TOKEN} characters of a-z, 0-9 and _"),
            );
        }
    }

    fn country(&mut self, field: &str, value: &Option<String>) {
        if let Some(v) = value {
            if v.len() != 2 || !v.bytes().all(|b| b.is_ascii_uppercase()) {
                self.fail(field, "must be an ISO 3166-1 alpha-2 code such as DE");
            }
        }
    }

    fn http_status(&mut self, field: &str, code: u16) {
        if !(100..=599).contains(&code) {
            self.fail(field, "must be an HTTP status code between 100 and 599");
        }
    }

    fn duration_ms(&mut self, field: &str, value: f64) {
        if !value.is_finite() || value < 0.0 {
            self.fail(field, "must be a non-negative number of milliseconds");
        } else if value > MAX_DURATION_MS {
            self.fail(field, "must be under one day (is the unit right?)");
        }
    }
}

/// True when `s` is 12-19 digits (spaces and dashes aside) that pass the Luhn check:
/// a primary account number that must never be stored.
pub fn looks_like_card_number(s: &str) -> bool {
    // Luhn from the last digit, without collecting: every card fingerprint is
    // checked on publish and by each consumer.
    let (mut digits, mut sum) = (0u32, 0u32);
    for c in s.chars().rev().filter(|c| *c != ' ' && *c != '-') {
        let Some(d) = c.to_digit(10) else {
            return false;
        };
        sum += match (digits % 2 == 1, d * 2) {
            (true, doubled) if doubled > 9 => doubled - 9,
            (true, doubled) => doubled,
            (false, _) => d,
        };
        digits += 1;
        if digits > 19 {
            return false;
        }
    }
    (12..=19).contains(&digits) && sum.is_multiple_of(10)
}

impl Validate for Event {
    fn check(&self, c: &mut Checker) {
        let service_ok = !self.service.is_empty()
            && self.service.len() <= MAX_TOKEN
            && self
                .service
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if !service_ok {
            c.fail("service", format!("must be 1-{MAX_TOKEN} characters of a-z, 0-9, _ and - (it becomes a subject token)"));
        }
        if self.kind != self.payload.kind() {
            c.fail("kind", "does not match the payload");
        }
        let now = OffsetDateTime::now_utc();
        if self.occurred_at.unix_timestamp() < EARLIEST_UNIX {
            c.fail("occurred_at", "must not be before 2000-01-01");
        } else if self.occurred_at > now + FUTURE_SKEW {
            c.fail(
                "occurred_at",
                "must not be more than 5 minutes in the future",
            );
        }
        if self.id.get_version_num() != 7 {
            c.fail("id", "must be a UUIDv7");
        }
        c.opt_text("tenant", &self.tenant, MAX_TOKEN);
        c.opt_text("env", &self.env, MAX_TOKEN);
        c.opt_text("host", &self.host, MAX_LABEL);
        c.opt_text("trace_id", &self.trace_id, MAX_ID);
        if self.tags.len() > MAX_TAGS {
            c.fail("tags", format!("must have at most {MAX_TAGS} entries"));
        }
        for (k, v) in &self.tags {
            if k.is_empty() || k.len() > MAX_TAG_KEY || v.len() > MAX_TAG_VALUE {
                c.fail(
                    "tags",
                    format!(
                        "keys must be 1-{MAX_TAG_KEY} bytes and values at most {MAX_TAG_VALUE}"
                    ),
                );
                break;
            }
        }
        c.prefix = "payload.";
        match &self.payload {
            Body::Transaction(p) => p.check(c),
            Body::Error(p) => p.check(c),
            Body::UserBehavior(p) => p.check(c),
            Body::Performance(p) => p.check(c),
            Body::Security(p) => p.check(c),
            Body::Log(p) => p.check(c),
        }
        c.prefix = "";
    }
}

impl Validate for Transaction {
    fn check(&self, c: &mut Checker) {
        c.text("transaction_id", &self.transaction_id, MAX_ID);
        c.text("user_id", &self.user_id, MAX_ID);
        if self.amount.is_sign_negative() && !self.amount.is_zero() {
            c.fail("amount", "must be >= 0");
        } else if self.amount > Decimal::from(MAX_AMOUNT) {
            c.fail("amount", format!("must be at most {MAX_AMOUNT}"));
        } else if self.amount.scale() > 4 {
            c.fail("amount", "must have at most 4 decimal places");
        }
        if !is_iso4217(&self.currency) {
            c.fail("currency", "must be an ISO 4217 code such as EUR");
        }
        c.token("payment_method", &self.payment_method);
        c.opt_text("order_id", &self.order_id, MAX_ID);
        c.country("country", &self.country);
        c.country("billing_country", &self.billing_country);
        match (self.lat, self.lon) {
            (Some(lat), Some(lon)) => {
                if !(-90.0..=90.0).contains(&lat) {
                    c.fail("lat", "must be between -90 and 90");
                }
                if !(-180.0..=180.0).contains(&lon) {
                    c.fail("lon", "must be between -180 and 180");
                }
            }
            (None, None) => {}
            (Some(_), None) => c.fail("lon", "must be given with lat"),
            (None, Some(_)) => c.fail("lat", "must be given with lon"),
        }
        if let Some(fp) = &self.card_fingerprint {
            if looks_like_card_number(fp) {
                c.fail(
                    "card_fingerprint",
                    "looks like a card number; send the PSP's card fingerprint, never the number",
                );
            } else {
                c.text("card_fingerprint", fp, MAX_ID);
            }
        }
        if let Some(reason) = &self.failure_reason {
            c.token("failure_reason", reason);
        }
    }
}

impl Validate for ErrorEvent {
    fn check(&self, c: &mut Checker) {
        c.http_status("error_code", self.error_code);
        c.text("error_type", &self.error_type, MAX_LABEL);
        c.text("error_message", &self.error_message, MAX_MESSAGE);
        c.text("endpoint", &self.endpoint, MAX_LABEL);
        c.opt_text("stack", &self.stack, MAX_STACK);
        c.opt_text("user_id", &self.user_id, MAX_ID);
    }
}

impl Validate for UserBehavior {
    fn check(&self, c: &mut Checker) {
        c.text("user_id", &self.user_id, MAX_ID);
        c.text("session_id", &self.session_id, MAX_ID);
        c.token("action", &self.action);
        c.text("page", &self.page, MAX_LABEL);
        c.opt_text("user_agent", &self.user_agent, MAX_LABEL);
        c.opt_text("product_id", &self.product_id, MAX_ID);
    }
}

impl Validate for Performance {
    fn check(&self, c: &mut Checker) {
        c.text("endpoint", &self.endpoint, MAX_LABEL);
        let method_ok = !self.method.is_empty()
            && self.method.len() <= 16
            && self.method.bytes().all(|b| b.is_ascii_uppercase());
        if !method_ok {
            c.fail("method", "must be an upper-case HTTP method such as GET");
        }
        c.duration_ms("response_time_ms", self.response_time_ms);
        if let Some(db) = self.db_query_time_ms {
            c.duration_ms("db_query_time_ms", db);
        }
        c.http_status("status_code", self.status_code);
    }
}

impl Validate for Security {
    fn check(&self, c: &mut Checker) {
        c.token("action", &self.action);
        c.opt_text("user_id", &self.user_id, MAX_ID);
        c.country("country", &self.country);
        c.opt_text("reason", &self.reason, MAX_LABEL);
        c.opt_text("session_id", &self.session_id, MAX_ID);
        c.opt_text("user_agent", &self.user_agent, MAX_LABEL);
    }
}

impl Validate for LogRecord {
    fn check(&self, c: &mut Checker) {
        if let Some(n) = self.severity_number {
            if crate::log::Severity::from_otel(n.into()) != Some(self.severity) {
                c.fail(
                    "severity_number",
                    "must be an OpenTelemetry SeverityNumber (1-24) within the severity's range",
                );
            }
        }
        c.opt_text("severity_text", &self.severity_text, MAX_TOKEN);
        if self.message.len() > MAX_LOG_MESSAGE {
            c.fail(
                "message",
                format!("must be at most {MAX_LOG_MESSAGE} bytes"),
            );
        } else if has_control(&self.message) {
            c.fail("message", "must not contain control characters");
        }
        c.opt_text("logger", &self.logger, MAX_LABEL);
        if let Some(span) = &self.span_id {
            if span.len() != 16 || !span.bytes().all(|b| b.is_ascii_hexdigit()) {
                c.fail("span_id", "must be 16 hex digits");
            }
        }
        if self.attributes.len() > MAX_ATTRIBUTES {
            c.fail(
                "attributes",
                format!("must have at most {MAX_ATTRIBUTES} entries"),
            );
        }
        if !self
            .attributes
            .keys()
            .all(|name| is_normalized_attribute_name(name))
        {
            c.fail(
                "attributes",
                "names must be lower case a-z, 0-9, _, - and . between non-empty parts, at most 128 bytes",
            );
        }
        for (name, value) in &self.attributes {
            let bad_value = match value {
                AttrValue::Text(s) => s.len() > MAX_ATTRIBUTE_VALUE || has_control(s),
                AttrValue::Float(x) => !x.is_finite(),
                AttrValue::Bool(_) | AttrValue::Int(_) => false,
            };
            if bad_value {
                c.fail(
                    &format!("attributes.{name}"),
                    format!("must be a finite number, a flag or text of at most {MAX_ATTRIBUTE_VALUE} bytes without control characters"),
                );
            }
        }
    }
}

/// Whether `value` holds a control character other than newline and tab. Most
/// text is ASCII, checked byte by byte; only other text is decoded to chars.
fn has_control(value: &str) -> bool {
    if value.is_ascii() {
        return value
            .bytes()
            .any(|b| (b < 0x20 && b != b'\n' && b != b'\t') || b == 0x7f);
    }
    value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
}

#[cfg(test)]
mod tests {
    use super::has_control;

    #[test]
    fn control_characters_are_found_in_ascii_and_other_text() {
        for bad in [
            "a\u{0}b",
            "bell\u{7}",
            "esc\u{1b}[0m",
            "del\u{7f}",
            "é\u{85}",
            "日本\u{9f}",
        ] {
            assert!(has_control(bad), "{bad:?}");
        }
    }

    #[test]
    fn newlines_tabs_and_printable_text_pass() {
        for good in [
            "at handler\n\tat router",
            "plain text",
            "café",
            "日本語",
            "",
        ] {
            assert!(!has_control(good), "{good:?}");
        }
    }
}
