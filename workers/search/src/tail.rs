//! Live tail: the events of LOGS that match a query, as they are published, at a
//! bounded rate. It reads the bus directly (a plain subscription, so it costs the
//! server no consumer state and sees each event once, as published) and tests
//! each event with the query language's in-memory [`Matcher`], so a tail shows
//! what a search would find. Past the rate, events are skipped and counted, and
//! the count is reported once a second: a reader always knows what it missed.

use std::time::{Duration, Instant};

use futures::{Stream, StreamExt};
use sightline_schemas::Event;

use crate::document::{PiiHasher, SearchDoc};
use crate::lang::matcher::Matcher;
use crate::query::{Filters, Hit, SearchRequest};
use crate::SearchError;

/// The most events a tail may ask to see per second.
pub const MAX_RATE: u32 = 1000;

/// What a tail yields.
#[derive(Debug, Clone, PartialEq)]
pub enum TailItem {
    /// A matching event, as a search hit shows it (whole, with references).
    Hit(Box<Hit>),
    /// Matching events not shown in the last second, over the rate.
    Skipped(u64),
}

/// Which events a tail shows: the query and the filters of a search request.
pub struct TailFilter {
    matcher: Matcher,
    filters: Filters,
}

impl TailFilter {
    pub fn new(request: &SearchRequest) -> Result<Self, SearchError> {
        let query = crate::lang::of_request(request)?.unwrap_or(crate::lang::Query::All);
        let matcher = Matcher::new(&query).map_err(SearchError::Invalid)?;
        Ok(Self {
            matcher,
            filters: request.filters.clone(),
        })
    }

    /// The hit `event` makes, when it matches.
    pub fn admit(&self, event: &Event, pii: &PiiHasher) -> Option<Hit> {
        // The cheap tests first: most of a busy bus is not what a tail follows,
        // and a document costs its whole event as JSON.
        let f = &self.filters;
        let kind = crate::query::DocKind::from(event.kind());
        if (!f.kinds.is_empty() && !f.kinds.contains(&kind))
            || (!f.services.is_empty() && !f.services.contains(&event.service))
        {
            return None;
        }
        let doc = SearchDoc::from_event(event, pii);
        (self.passes_filters(&doc) && self.matcher.matches(&doc)).then(|| doc.to_hit())?
    }

    fn passes_filters(&self, doc: &SearchDoc) -> bool {
        let f = &self.filters;
        let keyword = |name: &str| {
            crate::document::KEYWORD_FIELDS
                .iter()
                .position(|n| *n == name)
                .and_then(|i| doc.keyword_values()[i])
        };
        // Kinds and services were tested on the event, in `admit`.
        f.keyword_terms()
            .iter()
            .all(|(name, want)| want.is_none_or(|w| keyword(name).is_some_and(|v| v == w)))
            && f.error_code
                .is_none_or(|c| doc.numbers.error_code == Some(c.into()))
            && f.min_response_time_ms
                .is_none_or(|ms| doc.numbers.response_time_ms.is_some_and(|t| t >= ms))
    }
}

/// At most `per_second` events a second; the rest counted.
#[derive(Debug)]
pub struct RateGate {
    per_second: u32,
    window: Instant,
    sent: u32,
    skipped: u64,
}

impl RateGate {
    pub fn new(per_second: u32) -> Self {
        Self {
            per_second: per_second.clamp(1, MAX_RATE),
            window: Instant::now(),
            sent: 0,
            skipped: 0,
        }
    }

    /// Whether one more event may be shown at `now`.
    pub fn admit(&mut self, now: Instant) -> bool {
        if now.duration_since(self.window) >= Duration::from_secs(1) {
            self.window = now;
            self.sent = 0;
        }
        if self.sent < self.per_second {
            self.sent += 1;
            true
        } else {
            self.skipped += 1;
            false
        }
    }

    /// The events skipped since the last call.
    pub fn take_skipped(&mut self) -> u64 {
        std::mem::take(&mut self.skipped)
    }
}

/// The key a tail makes references with: the index's, so a reference shown can
/// be searched for; without one (nothing indexed yet) a key of this tail's own,
/// which still shows no card or address.
pub fn hasher(
    settings: &sightline_runtime::config::SearchSettings,
    data_dir: &std::path::Path,
) -> Result<PiiHasher, SearchError> {
    Ok(crate::settings::existing_pii_hasher(settings, data_dir)?
        .unwrap_or_else(|| PiiHasher::new(rand::random())))
}

/// Follows LOGS on `client` until the returned stream is dropped.
pub async fn follow(
    client: &async_nats::Client,
    filter: TailFilter,
    pii: PiiHasher,
    per_second: u32,
) -> Result<impl Stream<Item = TailItem> + Send + 'static, SearchError> {
    let subscription = client
        .subscribe("logs.>")
        .await
        .map_err(|e| SearchError::Unavailable(format!("subscribing to LOGS: {e}")))?;
    // Once the server has the subscription, every event published after this
    // returns is seen.
    client
        .flush()
        .await
        .map_err(|e| SearchError::Unavailable(format!("subscribing to LOGS: {e}")))?;
    let mut ticks = tokio::time::interval(Duration::from_secs(1));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let state = (subscription, filter, pii, RateGate::new(per_second), ticks);
    Ok(futures::stream::unfold(
        state,
        |(mut sub, filter, pii, mut gate, mut ticks)| async move {
            loop {
                tokio::select! {
                    message = sub.next() => {
                        let message = message?;
                        let Some(event) = decode(&message) else { continue };
                        let Some(hit) = filter.admit(&event, &pii) else { continue };
                        if gate.admit(Instant::now()) {
                            let item = TailItem::Hit(Box::new(hit));
                            return Some((item, (sub, filter, pii, gate, ticks)));
                        }
                    }
                    _ = ticks.tick() => {
                        let skipped = gate.take_skipped();
                        if skipped > 0 {
                            return Some((TailItem::Skipped(skipped), (sub, filter, pii, gate, ticks)));
                        }
                    }
                }
            }
        },
    ))
}

/// An event of the bus; what does not decode is the consumers' business (they
/// dead-letter it), not a tail's.
fn decode(message: &async_nats::Message) -> Option<Event> {
    let encoding = sightline_runtime::consumer::encoding(message.headers.as_ref()).ok()?;
    sightline_schemas::decode(&message.payload, encoding).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sightline_schemas::{Body, LogRecord, Severity};

    #[test]
    fn the_gate_shows_the_rate_and_counts_the_rest() {
        let mut gate = RateGate::new(2);
        let t0 = Instant::now();
        assert!(gate.admit(t0) && gate.admit(t0));
        assert!(!gate.admit(t0) && !gate.admit(t0 + Duration::from_millis(500)));
        assert_eq!(gate.take_skipped(), 2);
        assert_eq!(gate.take_skipped(), 0);
        assert!(gate.admit(t0 + Duration::from_secs(1)), "a new second");
    }

    #[test]
    fn a_tail_shows_what_the_query_and_filters_find() {
        let pii = PiiHasher::new([3; 32]);
        let request = SearchRequest {
            text: Some("timeout AND attributes.db:orders".into()),
            filters: Filters {
                services: vec!["api".into()],
                severity: Some("error".into()),
                ..Filters::default()
            },
            ..SearchRequest::default()
        };
        let filter = TailFilter::new(&request).unwrap();
        let event = |service: &str, severity, db: &str| {
            let mut r = LogRecord::new(severity, "query timeout after 5 s");
            r.attributes
                .insert("db".into(), sightline_schemas::AttrValue::Text(db.into()));
            Event::new(service, Body::Log(r))
        };
        let shown = filter.admit(&event("api", Severity::Error, "orders"), &pii);
        assert_eq!(
            shown.unwrap().event["payload"]["attributes"]["db"],
            "orders"
        );
        assert!(filter
            .admit(&event("web", Severity::Error, "orders"), &pii)
            .is_none());
        assert!(filter
            .admit(&event("api", Severity::Warn, "orders"), &pii)
            .is_none());
        assert!(filter
            .admit(&event("api", Severity::Error, "users"), &pii)
            .is_none());
        let bad = SearchRequest {
            text: Some("colour:red".into()),
            ..SearchRequest::default()
        };
        assert!(matches!(
            TailFilter::new(&bad),
            Err(SearchError::Invalid(_))
        ));
    }
}
