//! The pure core: a batch of events becomes the increments of every bucket key it
//! touches, grouped by shard. No I/O; the store sends each shard's writes in one
//! script with that shard's watermark.
//!
//! Events are bucketed by event time (`occurred_at`), never by arrival, so a
//! replay writes exactly what the first pass wrote.

use std::collections::BTreeMap;
use std::fmt::Write;

// Keys are our own selectors and user ids, hashed several times per event: a fast
// hash, not one hardened against chosen keys (that is std's default, SipHash).
use foldhash::{HashMap, HashMapExt, HashSet};

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use sightline_schemas::{Body, Detection, Event};

use crate::latency;
use crate::layout::{Family, Layout};

/// Revenue is kept in integers of this fraction of a major unit: exact for every
/// ISO 4217 currency (none has more than 4 decimals).
pub const REVENUE_SCALE: i64 = 10_000;

/// One key's writes: hash increments, or members for a HyperLogLog.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Incr(Vec<(String, i64)>),
    Add(Vec<String>),
    /// Counts that must land once per member whatever is delivered again: each
    /// `(member, field)` adds 1 to the hash's field only if `member` is new to the
    /// set `seen` (same shard, same expiry). A detection republished after the
    /// bus's duplicate window, or first seen at a later revision, counts once.
    Once {
        seen: String,
        fields: Vec<(String, String)>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct KeyWrite {
    pub key: String,
    /// Unix seconds; the key expires then.
    pub expire_at: i64,
    pub op: Op,
}

/// Everything one batch writes into one shard, keys in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ShardWrite {
    pub keys: Vec<KeyWrite>,
}

/// The increments of one finest-resolution bucket, per family.
#[derive(Default)]
struct Bucket {
    counts: HashMap<String, i64>,
    revenue: HashMap<String, i64>,
    latency: HashMap<String, i64>,
}

/// Accumulates a batch, then splits it into per-shard writes.
pub struct Planner<'l> {
    layout: &'l Layout,
    /// Unix seconds: buckets that would already have expired are not written.
    now: i64,
    buckets: HashMap<i64, Bucket>,
    users: HashMap<i64, HashSet<String>>,
    /// Per finest bucket, the `(member, count field)` pairs counted once.
    once: HashMap<i64, Vec<(String, String)>>,
    field: String,
}

impl<'l> Planner<'l> {
    pub fn new(layout: &'l Layout, now: i64) -> Self {
        Self {
            layout,
            now,
            buckets: HashMap::new(),
            users: HashMap::new(),
            once: HashMap::new(),
            field: String::with_capacity(128),
        }
    }

    /// Counts `event`, and its message's `pattern` when it has one.
    pub fn add_event(&mut self, event: &Event, pattern: Option<&str>) {
        let at = event.occurred_at.unix_timestamp();
        let finest = self.layout.steps()[0].bucket(at);
        let b = self.buckets.entry(finest).or_default();
        let f = &mut self.field;
        let kind = event.kind.as_str();
        let service = event.service.as_str();
        count(b, f, &[("total", None)]);
        count(b, f, &[("kind", Some(kind))]);
        count(b, f, &[("service", Some(service))]);
        count(b, f, &[("service", Some(service)), ("kind", Some(kind))]);
        let mut user = None;
        match &event.payload {
            Body::Transaction(t) => {
                let status = t.status.as_str();
                let method = t.payment_method.as_str();
                count(b, f, &[("status", Some(status))]);
                count(
                    b,
                    f,
                    &[("service", Some(service)), ("status", Some(status))],
                );
                count(b, f, &[("payment_method", Some(method))]);
                count(
                    b,
                    f,
                    &[("payment_method", Some(method)), ("status", Some(status))],
                );
                let field = selector(
                    f,
                    &[("status", Some(status)), ("currency", Some(&t.currency))],
                );
                bump(&mut b.revenue, field, scaled(t.amount));
                user = Some(t.user_id.as_str());
            }
            Body::Error(e) => {
                let code = e.error_code.to_string();
                count(b, f, &[("error_code", Some(&code))]);
                count(
                    b,
                    f,
                    &[("service", Some(service)), ("error_code", Some(&code))],
                );
                count(b, f, &[("error_type", Some(&e.error_type))]);
                count(
                    b,
                    f,
                    &[("endpoint", Some(&e.endpoint)), ("kind", Some(kind))],
                );
                user = e.user_id.as_deref();
            }
            Body::Performance(p) => {
                let class = status_class(p.status_code);
                count(b, f, &[("endpoint", Some(&p.endpoint))]);
                count(b, f, &[("status_class", Some(class))]);
                count(
                    b,
                    f,
                    &[("service", Some(service)), ("status_class", Some(class))],
                );
                count(
                    b,
                    f,
                    &[
                        ("endpoint", Some(&p.endpoint)),
                        ("status_class", Some(class)),
                    ],
                );
                let i = latency::bucket_of(p.response_time_ms);
                histogram(b, f, "all", i);
                histogram(b, f, &p.endpoint, i);
                if let Some(db) = p.db_query_time_ms {
                    histogram(b, f, "db", latency::bucket_of(db));
                }
            }
            Body::UserBehavior(u) => {
                count(b, f, &[("action", Some(&u.action))]);
                user = Some(u.user_id.as_str());
            }
            Body::Security(s) => {
                count(b, f, &[("security", Some(&s.action))]);
                user = s.user_id.as_deref();
            }
            Body::Log(l) => {
                let severity = l.severity.as_str();
                count(b, f, &[("severity", Some(severity))]);
                count(
                    b,
                    f,
                    &[("service", Some(service)), ("severity", Some(severity))],
                );
                if let Some(p) = pattern {
                    count(
                        b,
                        f,
                        &[
                            ("service", Some(service)),
                            ("severity", Some(severity)),
                            ("pattern", Some(p)),
                        ],
                    );
                }
            }
        }
        // As many fields as the miner keeps patterns (its cap bounds them): a
        // template nearly always comes from one service at one severity.
        if let Some(p) = pattern {
            count(b, f, &[("pattern", Some(p))]);
            count(b, f, &[("service", Some(service)), ("pattern", Some(p))]);
        }
        if let Some(user) = user {
            let hour = self.layout.users_step().bucket(at);
            let seen = self.users.entry(hour).or_default();
            if !seen.contains(user) {
                seen.insert(user.to_owned());
            }
        }
    }

    /// A fraud detection counts once by its id, whatever revision is seen first
    /// and however often it is delivered: `fraud=detection` per detection,
    /// `fraud_indicator=<name>` per detection and indicator (an indicator a later
    /// revision adds counts then), `fraud=revision` per revision above 0.
    pub fn add_detection(&mut self, d: &Detection) {
        let at = d.occurred_at.unix_timestamp();
        let finest = self.layout.steps()[0].bucket(at);
        let once = self.once.entry(finest).or_default();
        let id = d.id.simple().to_string();
        if d.revision > 0 {
            once.push((format!("{id}#{}", d.revision), "fraud=revision".into()));
        }
        for i in &d.indicators {
            let field = selector(&mut self.field, &[("fraud_indicator", Some(&i.name))]);
            once.push((format!("{id}/{}", field), field.to_owned()));
        }
        once.push((id, "fraud=detection".into()));
    }

    /// The writes of the batch, one entry per shard (empty when it has none).
    pub fn finish(self) -> Vec<ShardWrite> {
        let layout = self.layout;
        let mut keys: BTreeMap<String, (u16, i64, HashMap<String, i64>)> = BTreeMap::new();
        for (finest, bucket) in &self.buckets {
            for step in layout.steps() {
                let start = step.bucket(*finest);
                let expire_at = step.expire_at(start);
                if expire_at <= self.now {
                    continue;
                }
                for (family, fields) in [
                    (Family::Counts, &bucket.counts),
                    (Family::Revenue, &bucket.revenue),
                    (Family::Latency, &bucket.latency),
                ] {
                    if fields.is_empty() {
                        continue;
                    }
                    let key = layout.key(family, step.secs, start);
                    let shard = layout.shard(family, step.secs, start);
                    let entry = keys
                        .entry(key)
                        .or_insert_with(|| (shard, expire_at, HashMap::new()));
                    for (field, n) in fields {
                        *entry.2.entry(field.clone()).or_default() += n;
                    }
                }
            }
        }
        let mut shards = vec![ShardWrite::default(); usize::from(layout.shards())];
        self.once_writes(&mut shards);
        for (key, (shard, expire_at, fields)) in keys {
            let mut fields: Vec<(String, i64)> = fields.into_iter().collect();
            fields.sort();
            shards[usize::from(shard)].keys.push(KeyWrite {
                key,
                expire_at,
                op: Op::Incr(fields),
            });
        }
        let step = layout.users_step();
        let mut hours: Vec<_> = self.users.into_iter().collect();
        hours.sort_by_key(|(hour, _)| *hour);
        for (hour, users) in hours {
            let expire_at = step.expire_at(hour);
            if expire_at <= self.now {
                continue;
            }
            let mut members: Vec<String> = users.into_iter().collect();
            members.sort();
            let shard = layout.shard(Family::Users, step.secs, hour);
            shards[usize::from(shard)].keys.push(KeyWrite {
                key: layout.key(Family::Users, step.secs, hour),
                expire_at,
                op: Op::Add(members),
            });
        }
        shards
    }
}

impl Planner<'_> {
    /// The detection counts, per counts bucket at every resolution, with the set
    /// of members that bucket has counted (see [`Op::Once`]).
    fn once_writes(&self, shards: &mut [ShardWrite]) {
        let layout = self.layout;
        // Counts key -> (shard, expiry, seen set, (member, field) pairs).
        type Bucket = (u16, i64, String, Vec<(String, String)>);
        let mut once: BTreeMap<String, Bucket> = BTreeMap::new();
        for (finest, pairs) in &self.once {
            for step in layout.steps() {
                let start = step.bucket(*finest);
                let expire_at = step.expire_at(start);
                if expire_at <= self.now {
                    continue;
                }
                // The set lives beside the hash it guards: one shard, one script.
                let key = layout.key(Family::Counts, step.secs, start);
                let entry = once.entry(key).or_insert_with(|| {
                    let shard = layout.shard(Family::Counts, step.secs, start);
                    let seen = layout.key(Family::Seen, step.secs, start);
                    (shard, expire_at, seen, Vec::new())
                });
                entry.3.extend(pairs.iter().cloned());
            }
        }
        for (key, (shard, expire_at, seen, fields)) in once {
            shards[usize::from(shard)].keys.push(KeyWrite {
                key,
                expire_at,
                op: Op::Once { seen, fields },
            });
        }
    }
}

/// Writes the selector `name=value,name=value` (or a bare name) into `buf`.
/// Values are cleaned of the separators so a selector always parses back.
fn selector<'b>(buf: &'b mut String, parts: &[(&str, Option<&str>)]) -> &'b str {
    buf.clear();
    for (i, (name, value)) in parts.iter().enumerate() {
        if i > 0 {
            buf.push(',');
        }
        buf.push_str(name);
        if let Some(v) = value {
            buf.push('=');
            push_clean(buf, v);
        }
    }
    buf
}

/// Separators (`,` `=` `#` `:`), whitespace and control characters become `_`;
/// values are cut at 100 characters.
pub fn push_clean(buf: &mut String, value: &str) {
    // Nearly every value is a short plain ASCII word: copied whole.
    if value.len() <= 100 && value.bytes().all(is_plain) {
        buf.push_str(value);
        return;
    }
    for c in value.chars().take(100) {
        if matches!(c, ',' | '=' | '#' | ':') || c.is_whitespace() || c.is_control() {
            buf.push('_');
        } else {
            buf.push(c);
        }
    }
}

/// An ASCII byte [`push_clean`] keeps as it is.
fn is_plain(b: u8) -> bool {
    b.is_ascii_graphic() && !matches!(b, b',' | b'=' | b'#' | b':')
}

fn count(b: &mut Bucket, buf: &mut String, parts: &[(&str, Option<&str>)]) {
    let field = selector(buf, parts);
    bump(&mut b.counts, field, 1);
}

/// One latency in histogram `series` (`all`, `db` or an endpoint).
fn histogram(b: &mut Bucket, buf: &mut String, series: &str, bucket: usize) {
    buf.clear();
    push_clean(buf, series);
    let _ = write!(buf, "#{bucket}");
    bump(&mut b.latency, buf, 1);
}

fn bump(map: &mut HashMap<String, i64>, field: &str, by: i64) {
    match map.get_mut(field) {
        Some(n) => *n += by,
        None => {
            map.insert(field.to_owned(), by);
        }
    }
}

/// An amount in 1/[`REVENUE_SCALE`] units (saturating; amounts are validated
/// to be small and non-negative long before this).
pub fn scaled(amount: Decimal) -> i64 {
    (amount * Decimal::from(REVENUE_SCALE))
        .round()
        .to_i64()
        .unwrap_or(i64::MAX)
}

fn status_class(code: u16) -> &'static str {
    match code {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
